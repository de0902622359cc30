/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pdf-image: PNGs of every kind libpng writes decode to the samples and soft mask a PDF image needs;
 * damaged, oversized and opaque-when-transparency-is-required images are refused with the reason. */
#include "kyso-test.h"

#include <zlib.h>

#include "formats/pdf-image.h"
#include "pdf-test-png.h"

static PdfImage *decode_ok(const TestPng *t, PdfImageFlags flags) {
        PdfImage *img = NULL;
        PdfImageProblem p = _PDF_IMAGE_PROBLEM_INVALID;

        assert_int_equal(pdf_image_from_png(t->data, t->size, flags, &img, &p), 0);
        assert_int_equal(p, PDF_IMAGE_OK);
        assert_non_null(img);
        return img;
}

static void test_rgba(void **state) {
        TestPng t = test_png_make(40, 30, PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_NONE);
        PdfImage *img = decode_ok(&t, PDF_IMAGE_REQUIRE_ALPHA);

        assert_int_equal(img->width, 40);
        assert_int_equal(img->height, 30);
        assert_int_equal(img->channels, 3);
        assert_non_null(img->alpha);
        /* Pixel (5, 3): left half, opaque; (30, 3): right half, transparent. */
        assert_int_equal(img->samples[(3 * 40 + 5) * 3 + 0], 200);
        assert_int_equal(img->samples[(3 * 40 + 5) * 3 + 1], (5 * 7 + 3) % 64);
        assert_int_equal(img->samples[(3 * 40 + 5) * 3 + 2], 20);
        assert_int_equal(img->alpha[3 * 40 + 5], 255);
        assert_int_equal(img->alpha[3 * 40 + 30], 0);
        pdf_image_free(img);
        free(t.data);
}

static void test_gray_alpha_16bit_interlaced(void **state) {
        static const int depths[] = { 8, 16 };

        for (size_t i = 0; i < ELEMENTSOF(depths); i++)
                for (int il = 0; il < 2; il++) {
                        TestPng t = test_png_make(
                                33, 17, PNG_COLOR_TYPE_GRAY_ALPHA, depths[i],
                                il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE);
                        PdfImage *img = decode_ok(&t, PDF_IMAGE_REQUIRE_ALPHA);

                        assert_int_equal(img->channels, 1);
                        assert_int_equal(img->samples[16 * 33 + 2], 200);
                        assert_int_equal(img->alpha[16 * 33 + 2], 255);
                        assert_int_equal(img->alpha[16 * 33 + 32], 0);
                        pdf_image_free(img);
                        free(t.data);
                }
}

static void test_rgba_16bit_interlaced(void **state) {
        TestPng t = test_png_make(21, 9, PNG_COLOR_TYPE_RGBA, 16, PNG_INTERLACE_ADAM7);
        PdfImage *img = decode_ok(&t, 0);

        assert_int_equal(img->channels, 3);
        assert_int_equal(img->samples[(8 * 21 + 4) * 3 + 1], (4 * 7 + 8) % 64);
        assert_int_equal(img->alpha[8 * 21 + 20], 0);
        pdf_image_free(img);
        free(t.data);
}

static void test_palette(void **state) {
        static const int depths[] = { 2, 8 };

        for (size_t i = 0; i < ELEMENTSOF(depths); i++) {
                TestPng t = test_png_make(10, 4, PNG_COLOR_TYPE_PALETTE, depths[i], PNG_INTERLACE_NONE);
                PdfImage *img = decode_ok(&t, PDF_IMAGE_REQUIRE_ALPHA);

                /* x % 4 == 0 is palette entry 0, red and transparent through tRNS; 1 is opaque blue. */
                assert_int_equal(img->channels, 3);
                assert_int_equal(img->samples[0], 200);
                assert_int_equal(img->alpha[0], 0);
                assert_int_equal(img->samples[1 * 3 + 2], 200);
                assert_int_equal(img->alpha[1], 255);
                pdf_image_free(img);
                free(t.data);
        }
}

static void test_opaque(void **state) {
        TestPng t = test_png_make(8, 8, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE);
        PdfImage *img = NULL;
        PdfImageProblem p = PDF_IMAGE_OK;

        img = decode_ok(&t, 0);
        assert_null(img->alpha);
        assert_int_equal(pdf_image_n_objects(img), 1);
        pdf_image_free(img);
        img = NULL;

        assert_int_equal(pdf_image_from_png(t.data, t.size, PDF_IMAGE_REQUIRE_ALPHA, &img, &p), -EBADMSG);
        assert_int_equal(p, PDF_IMAGE_NO_ALPHA);
        assert_null(img);
        assert_non_null(strstr(pdf_image_problem_to_string(p), "transparen"));
        free(t.data);
}

static void expect_refused(const void *data, size_t size, int error, PdfImageProblem problem) {
        PdfImage *img = NULL;
        PdfImageProblem p = PDF_IMAGE_OK;

        assert_int_equal(pdf_image_from_png(data, size, 0, &img, &p), error);
        assert_int_equal(p, problem);
        assert_null(img);
        assert_non_null(pdf_image_problem_to_string(p));
}

static void test_refused(void **state) {
        TestPng t = test_png_make(64, 64, PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_NONE);
        uint8_t *bad = malloc(t.size);
        _cleanup_free_ uint8_t *big = NULL;

        expect_refused("GIF89a", 6, -EBADMSG, PDF_IMAGE_NOT_PNG);
        expect_refused("\x89PNG\r\n\x1a\n", 8, -EBADMSG, PDF_IMAGE_DAMAGED);
        /* Truncated at every length from after the signature to the last byte. */
        for (size_t n = 8; n < t.size; n += 7)
                expect_refused(t.data, n, -EBADMSG, PDF_IMAGE_DAMAGED);
        /* A flipped bit in the image data: the CRC or the deflate stream says so. */
        memcpy(bad, t.data, t.size);
        bad[t.size - 20] ^= 0x40;
        expect_refused(bad, t.size, -EBADMSG, PDF_IMAGE_DAMAGED);

        big = calloc(1, PDF_IMAGE_MAX_BYTES + 1);
        memcpy(big, t.data, t.size);
        expect_refused(big, PDF_IMAGE_MAX_BYTES + 1, -E2BIG, PDF_IMAGE_TOO_LARGE);
        free(bad);
        free(t.data);

        /* 4001 pixels wide: refused from the header, before any pixel memory. */
        t = test_png_make(PDF_IMAGE_MAX_SIDE + 1, 1, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE);
        expect_refused(t.data, t.size, -E2BIG, PDF_IMAGE_TOO_LARGE);
        free(t.data);
}

/* Undoes the PNG row filters of a /Predictor 15 stream (what a PDF reader does). */
static void unfilter(const uint8_t *in, uint8_t *out, size_t row, size_t rows, unsigned bpp) {
        for (size_t y = 0; y < rows; y++) {
                const uint8_t *f = in + y * (row + 1);
                uint8_t *cur = out + y * row, *up = y > 0 ? cur - row : NULL;

                assert_int_equal(f[0], 4);
                for (size_t i = 0; i < row; i++) {
                        int a = i >= bpp ? cur[i - bpp] : 0, b = up ? up[i] : 0,
                            c = up && i >= bpp ? up[i - bpp] : 0, p = a + b - c;
                        int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
                        int pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;

                        cur[i] = (uint8_t) (f[1 + i] + pred);
                }
        }
}

static void test_objects(void **state) {
        TestPng t = test_png_make(16, 12, PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_NONE);
        PdfImage *img = decode_ok(&t, 0);
        PdfObjectBody b[2] = {};
        uint8_t filtered[(16 * 3 + 1) * 12], plain[16 * 12 * 3], mask[16 * 12];
        uLongf n = sizeof filtered;

        assert_int_equal(pdf_image_n_objects(img), 2);
        assert_int_equal(pdf_image_objects(img, 40, b), 0);
        assert_non_null(strstr(b[0].dict, "/SMask 41 0 R"));
        assert_non_null(strstr(b[0].dict, "/ColorSpace /DeviceRGB"));
        assert_non_null(strstr(b[0].dict, "/Width 16 /Height 12"));
        assert_non_null(strstr(
                b[0].dict, "/DecodeParms << /Predictor 15 /Colors 3 /BitsPerComponent 8 /Columns 16 >>"));
        assert_non_null(strstr(b[1].dict, "/ColorSpace /DeviceGray"));
        assert_non_null(strstr(b[1].dict, "/Colors 1 "));
        assert_null(strstr(b[1].dict, "/SMask"));
        /* The streams inflate and unfilter back to the samples and the mask. */
        assert_int_equal(uncompress(filtered, &n, b[0].stream, b[0].stream_size), Z_OK);
        assert_int_equal(n, sizeof filtered);
        unfilter(filtered, plain, 16 * 3, 12, 3);
        assert_memory_equal(plain, img->samples, sizeof plain);
        n = sizeof filtered;
        assert_int_equal(uncompress(filtered, &n, b[1].stream, b[1].stream_size), Z_OK);
        assert_int_equal(n, (16 + 1) * 12);
        unfilter(filtered, mask, 16, 12, 1);
        assert_memory_equal(mask, img->alpha, sizeof mask);
        pdf_object_bodies_done(b, 2);
        pdf_image_free(img);
        free(t.data);
}

static void test_file(void **state) {
        PdfImage *img = NULL;
        PdfImageProblem p = PDF_IMAGE_OK;

        assert_int_equal(pdf_image_from_png_file("/nonexistent/seal.png", 0, &img, &p), -ENOENT);
        assert_int_equal(p, PDF_IMAGE_UNREADABLE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rgba),
                cmocka_unit_test(test_gray_alpha_16bit_interlaced),
                cmocka_unit_test(test_rgba_16bit_interlaced),
                cmocka_unit_test(test_palette),
                cmocka_unit_test(test_opaque),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_objects),
                cmocka_unit_test(test_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
