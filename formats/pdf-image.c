/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <png.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "i18n.h"
#include "macro.h"
#include "pdf-image.h"

static const char *const problem_table[_PDF_IMAGE_PROBLEM_MAX] = {
        [PDF_IMAGE_NOT_PNG] = N_("The image is not a PNG file."),
        [PDF_IMAGE_TOO_LARGE] = N_("The image is too large: at most 4 MiB and 4000 pixels on each side."),
        [PDF_IMAGE_DAMAGED] = N_("The PNG image is damaged or incomplete."),
        [PDF_IMAGE_NO_ALPHA] = N_("The image has no transparent background; a signature or seal image must "
                                  "be a PNG with transparency."),
        [PDF_IMAGE_UNREADABLE] = N_("The image file cannot be read."),
};

const char *pdf_image_problem_to_string(PdfImageProblem p) {
        if ((int) p < 0 || p >= _PDF_IMAGE_PROBLEM_MAX || !problem_table[p])
                return NULL;
        return _(problem_table[p]);
}

PdfImage *pdf_image_free(PdfImage *img) {
        if (!img)
                return NULL;
        free(img->samples);
        free(img->alpha);
        return mfree(img);
}

/* Everything the decoder allocates hangs off this heap object, whose address does not change after
 * setjmp(): after a longjmp() the locals of the function that called setjmp() are unreliable unless
 * volatile, but memory reached through an unchanged pointer is not. */
typedef struct Decoder {
        const uint8_t *data;
        size_t size, off;
        png_structp png;
        png_infop info;
        png_bytep *rows;
        uint8_t *pixels;
        PdfImage *img;
        PdfImageProblem problem;
} Decoder;

static void decoder_free(Decoder *d) {
        if (!d)
                return;
        png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
        free(d->rows);
        free(d->pixels);
        pdf_image_free(d->img);
        free(d);
}

static void decoder_read(png_structp png, png_bytep out, size_t n) {
        Decoder *d = png_get_io_ptr(png);

        if (n > d->size - d->off) {
                d->problem = PDF_IMAGE_DAMAGED;
                png_error(png, "truncated");
        }
        memcpy(out, d->data + d->off, n);
        d->off += n;
}

static bool message_says_too_large(const char *msg) {
        return strstr(msg, "user limit") || strstr(msg, "application limits") || strstr(msg, "too large");
}

static _noreturn_ void decoder_error(png_structp png, png_const_charp msg) {
        Decoder *d = png_get_error_ptr(png);

        /* libpng says "Image width exceeds user limit" through here; out of memory stays PDF_IMAGE_OK (the
         * caller returns -ENOMEM); anything else is damage. */
        if (d->problem == PDF_IMAGE_OK && !strcasestr(msg, "out of memory"))
                d->problem = message_says_too_large(msg) ? PDF_IMAGE_TOO_LARGE : PDF_IMAGE_DAMAGED;
        png_longjmp(png, 1);
}

static void decoder_warning(png_structp png, png_const_charp msg) {
        Decoder *d = png_get_error_ptr(png);

        /* A library prints nothing: warnings (a bad ancillary chunk) do not change the pixels we use. But
         * libpng reports a side over the user limit as a warning followed by "Invalid IHDR data". */
        if (d->problem == PDF_IMAGE_OK && message_says_too_large(msg))
                d->problem = PDF_IMAGE_TOO_LARGE;
}

/* Runs under setjmp(); every allocation goes into d. */
static void decode(Decoder *d, PdfImageFlags flags) {
        png_uint_32 w, h;
        int depth, color;
        unsigned channels, color_channels;
        size_t rowbytes;
        bool any_transparent = false;

        png_set_read_fn(d->png, d, decoder_read);
        png_set_user_limits(d->png, PDF_IMAGE_MAX_SIDE, PDF_IMAGE_MAX_SIDE);
        /* Ancillary chunks (text, ICC profiles) are not needed; a compressed one could be a zip bomb. */
        png_set_chunk_malloc_max(d->png, PDF_IMAGE_MAX_BYTES);
        png_set_chunk_cache_max(d->png, 128);
        png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
        png_read_info(d->png, d->info);
        png_get_IHDR(d->png, d->info, &w, &h, &depth, &color, NULL, NULL, NULL);

        /* Reduce every PNG kind to 8-bit gray or RGB, with alpha when it has any (an alpha channel or tRNS).
         */
        png_set_expand(d->png);
        png_set_strip_16(d->png);
        png_set_packing(d->png);
        (void) png_set_interlace_handling(d->png);
        png_read_update_info(d->png, d->info);

        channels = png_get_channels(d->png, d->info);
        rowbytes = png_get_rowbytes(d->png, d->info);
        if (channels < 1 || channels > 4 || rowbytes != (size_t) w * channels) {
                d->problem = PDF_IMAGE_DAMAGED;
                png_error(d->png, "unexpected layout");
        }

        d->pixels = malloc(rowbytes * h);
        d->rows = malloc(sizeof(png_bytep) * h);
        d->img = calloc(1, sizeof(PdfImage));
        if (!d->pixels || !d->rows || !d->img)
                png_error(d->png, "out of memory");
        for (png_uint_32 y = 0; y < h; y++)
                d->rows[y] = d->pixels + (size_t) y * rowbytes;
        png_read_image(d->png, d->rows);
        png_read_end(d->png, NULL);

        color_channels = channels >= 3 ? 3 : 1;
        d->img->width = w;
        d->img->height = h;
        d->img->channels = color_channels;
        if (channels == color_channels) {
                d->img->samples = TAKE_PTR(d->pixels);
        } else {
                size_t n = (size_t) w * h;

                d->img->samples = malloc(n * color_channels);
                d->img->alpha = malloc(n);
                if (!d->img->samples || !d->img->alpha)
                        png_error(d->png, "out of memory");
                for (size_t i = 0; i < n; i++) {
                        const uint8_t *p = d->pixels + i * channels;

                        memcpy(d->img->samples + i * color_channels, p, color_channels);
                        d->img->alpha[i] = p[color_channels];
                        any_transparent = any_transparent || p[color_channels] != 0xff;
                }
                if (!any_transparent)
                        d->img->alpha = mfree(d->img->alpha);
        }
        if ((flags & PDF_IMAGE_REQUIRE_ALPHA) && !d->img->alpha) {
                d->problem = PDF_IMAGE_NO_ALPHA;
                png_error(d->png, "no alpha");
        }
}

int pdf_image_from_png(
        const void *data, size_t size, PdfImageFlags flags, PdfImage **ret, PdfImageProblem *ret_problem) {
        Decoder *d;
        PdfImageProblem problem = PDF_IMAGE_OK;
        int r = 0;

        if (size > PDF_IMAGE_MAX_BYTES)
                problem = PDF_IMAGE_TOO_LARGE;
        else if (size < 8 || png_sig_cmp(data, 0, 8) != 0)
                problem = PDF_IMAGE_NOT_PNG;
        if (problem != PDF_IMAGE_OK) {
                if (ret_problem)
                        *ret_problem = problem;
                return problem == PDF_IMAGE_TOO_LARGE ? -E2BIG : -EBADMSG;
        }

        d = calloc(1, sizeof(Decoder));
        if (!d)
                return -ENOMEM;
        d->data = data;
        d->size = size;
        d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, decoder_error, decoder_warning);
        if (d->png)
                d->info = png_create_info_struct(d->png);
        if (!d->png || !d->info) {
                decoder_free(d);
                return -ENOMEM;
        }

        if (setjmp(png_jmpbuf(d->png)) == 0)
                decode(d, flags);
        else
                r = d->problem == PDF_IMAGE_OK          ? -ENOMEM
                    : d->problem == PDF_IMAGE_TOO_LARGE ? -E2BIG
                                                        : -EBADMSG;
        if (r < 0) {
                if (ret_problem && d->problem != PDF_IMAGE_OK)
                        *ret_problem = d->problem;
                decoder_free(d);
                return r;
        }
        *ret = TAKE_PTR(d->img);
        if (ret_problem)
                *ret_problem = PDF_IMAGE_OK;
        decoder_free(d);
        return 0;
}

int pdf_image_from_png_file(
        const char *path, PdfImageFlags flags, PdfImage **ret, PdfImageProblem *ret_problem) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        /* One byte over the limit tells "too large" apart from "exactly at the limit". */
        r = read_full_file(path, PDF_IMAGE_MAX_BYTES + 1, &buf, &size);
        if (r < 0) {
                if (ret_problem)
                        *ret_problem =
                                r == -E2BIG || r == -EFBIG ? PDF_IMAGE_TOO_LARGE : PDF_IMAGE_UNREADABLE;
                return r;
        }
        return pdf_image_from_png(buf, size, flags, ret, ret_problem);
}

int pdf_image_fd_check(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > PDF_IMAGE_MAX_BYTES)
                return -EFBIG;
        return 0;
}

int pdf_image_read_fd(int fd, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        uint8_t *b;
        int r;

        r = pdf_image_fd_check(fd);
        if (r < 0)
                return r;
        buf = malloc(PDF_IMAGE_MAX_BYTES + 1);
        if (!buf)
                return -ENOMEM;
        while (size <= PDF_IMAGE_MAX_BYTES) {
                ssize_t n = pread(fd, buf + size, PDF_IMAGE_MAX_BYTES + 1 - size, (off_t) size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (size > PDF_IMAGE_MAX_BYTES)
                return -EFBIG;
        if (size == 0)
                return -ENODATA;
        b = realloc(buf, size); /* give back the rest of the 4 MiB */
        if (b)
                buf = b;
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

size_t pdf_image_n_objects(const PdfImage *img) {
        return img->alpha ? 2 : 1;
}

static uint8_t paeth(uint8_t a, uint8_t b, uint8_t c) {
        int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* One image XObject of 8-bit samples. The rows are PNG-filtered (Paeth) before deflating, as PNG itself
 * does: plain deflate of the samples can be several times the size of the PNG they came from. */
static int image_body(
        const uint8_t *samples, uint32_t w, uint32_t h, unsigned channels, const char *extra,
        PdfObjectBody *ret) {
        _cleanup_free_ uint8_t *filtered = NULL;
        size_t row = (size_t) w * channels;
        uint8_t *z;
        size_t zs;
        int r;

        filtered = malloc((row + 1) * h);
        if (!filtered)
                return -ENOMEM;
        for (size_t y = 0; y < h; y++) {
                const uint8_t *cur = samples + y * row, *up = y > 0 ? cur - row : NULL;
                uint8_t *out = filtered + y * (row + 1);

                out[0] = 4; /* Paeth */
                for (size_t i = 0; i < row; i++) {
                        uint8_t a = i >= channels ? cur[i - channels] : 0, b = up ? up[i] : 0,
                                c = up && i >= channels ? up[i - channels] : 0;

                        out[1 + i] = (uint8_t) (cur[i] - paeth(a, b, c));
                }
        }
        r = pdf_deflate(filtered, (row + 1) * h, &z, &zs);
        if (r < 0)
                return r;
        return pdf_object_body_new(
                ret, z, zs,
                "<< /Type /XObject /Subtype /Image /Width %" PRIu32 " /Height %" PRIu32
                " /ColorSpace %s /BitsPerComponent 8%s /Filter /FlateDecode"
                " /DecodeParms << /Predictor 15 /Colors %u /BitsPerComponent 8 /Columns %" PRIu32 " >>>>",
                w, h, channels == 3 ? "/DeviceRGB" : "/DeviceGray", extra, channels, w);
}

int pdf_image_objects(const PdfImage *img, unsigned first_objnum, PdfObjectBody *ret_bodies) {
        PdfObjectBody b[2] = {};
        char smask_ref[32] = "";
        int r = 0;

        if (img->alpha) {
                r = image_body(img->alpha, img->width, img->height, 1, "", &b[1]);
                snprintf(smask_ref, sizeof smask_ref, " /SMask %u 0 R", first_objnum + 1);
        }
        if (r >= 0)
                r = image_body(img->samples, img->width, img->height, img->channels, smask_ref, &b[0]);
        if (r < 0) {
                pdf_object_bodies_done(b, 2);
                return r;
        }
        memcpy(ret_bodies, b, sizeof(PdfObjectBody) * pdf_image_n_objects(img));
        return 0;
}
