/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pdf-text: Vietnamese shaped with HarfBuzz, the font cut down to the glyphs used (ids kept), the objects of
 * a Type 0 font with widths and a ToUnicode map, and the operators that draw a run. */
#include "kyso-test.h"

#include <hb.h>
#include <zlib.h>

#include "formats/pdf-text.h"

static const char motto[] = "ĐỘC LẬP - TỰ DO - HẠNH PHÚC";

static PdfFont *load_font(void) {
        PdfFont *f = NULL;

        if (access(PDF_FONT_DEFAULT_PATH, R_OK) < 0) {
                print_message("%s missing (fonts-liberation2)\n", PDF_FONT_DEFAULT_PATH);
                skip();
        }
        assert_int_equal(pdf_font_new(PDF_FONT_DEFAULT_PATH, &f), 0);
        return f;
}

static void test_subset(void **state) {
        _cleanup_(pdf_font_freep) PdfFont *f = load_font();
        _cleanup_(pdf_text_run_freep) PdfTextRun *r = NULL;
        _cleanup_free_ uint8_t *sub = NULL;
        size_t size;
        hb_blob_t *full = hb_blob_create_from_file(PDF_FONT_DEFAULT_PATH), *blob;
        hb_face_t *face;
        hb_font_t *font, *full_font;
        hb_face_t *full_face;
        hb_codepoint_t z;
        hb_glyph_extents_t ze = {};
        size_t n_inked = 0;

        assert_int_equal(pdf_font_shape(f, motto, &r), 0);
        /* Liberation Serif has the precomposed Vietnamese letters: one glyph per character. */
        assert_int_equal(r->n_glyphs, 27);
        assert_int_equal(pdf_font_subset(f, &sub, &size), 0);
        print_message("font %u bytes, subset %zu bytes\n", hb_blob_get_length(full), size);
        assert_true(size * 10 < hb_blob_get_length(full));

        /* Re-parse the subset: every glyph of the run is there under its own id, with the same outline size
         * and advance as in the full font; a glyph that was not used (a 'z') is empty. */
        blob = hb_blob_create((const char *) sub, (unsigned) size, HB_MEMORY_MODE_READONLY, NULL, NULL);
        face = hb_face_create(blob, 0);
        font = hb_font_create(face);
        full_face = hb_face_create(full, 0);
        full_font = hb_font_create(full_face);
        for (size_t i = 0; i < r->n_glyphs; i++) {
                hb_glyph_extents_t e = {}, fe = {};

                assert_int_equal(hb_font_get_glyph_h_advance(font, r->glyphs[i].gid), r->glyphs[i].width);
                assert_true(hb_font_get_glyph_extents(font, r->glyphs[i].gid, &e));
                assert_true(hb_font_get_glyph_extents(full_font, r->glyphs[i].gid, &fe));
                assert_int_equal(e.width, fe.width);
                assert_int_equal(e.height, fe.height);
                n_inked += e.width > 0;
        }
        assert_int_equal(n_inked, 27 - 7); /* all but the seven spaces */
        assert_true(hb_font_get_nominal_glyph(full_font, 'z', &z));
        (void) hb_font_get_glyph_extents(font, z, &ze);
        assert_int_equal(ze.width, 0);
        hb_font_destroy(full_font);
        hb_face_destroy(full_face);
        hb_font_destroy(font);
        hb_face_destroy(face);
        hb_blob_destroy(blob);
        hb_blob_destroy(full);
}

static void test_width(void **state) {
        _cleanup_(pdf_font_freep) PdfFont *f = load_font();
        _cleanup_(pdf_text_run_freep) PdfTextRun *a = NULL, *aa = NULL;
        double w;

        assert_int_equal(pdf_font_shape(f, "Sao y bản chính", &a), 0);
        w = pdf_text_run_width(a, 10);
        /* 15 characters of a Times-like 10 pt face: about 60 points; twice the size, twice the width. */
        assert_true(w > 50 && w < 75);
        assert_float_equal(pdf_text_run_width(a, 20), 2 * w, 1e-9);
        assert_int_equal(pdf_font_shape(f, "Sao y bản chínhSao y bản chính", &aa), 0);
        assert_float_equal(pdf_text_run_width(aa, 10), 2 * w, 0.5);
}

/* How many "<XXXX>" glyph ids the operators hold. */
static size_t strcount_hex(const char *s) {
        size_t n = 0;

        for (const char *p = s; (p = strchr(p, '<')); p++)
                if (strspn(p + 1, "0123456789ABCDEF") == 4 && p[5] == '>')
                        n++;
        return n;
}

static void test_operators(void **state) {
        _cleanup_(pdf_font_freep) PdfFont *f = load_font();
        _cleanup_(pdf_text_run_freep) PdfTextRun *r = NULL;
        _cleanup_free_ char *ops = NULL;

        assert_int_equal(pdf_font_shape(f, "Uông Bí", &r), 0);
        assert_int_equal(pdf_text_run_operators(r, "F1", 10, 12.5, 30, &ops), 0);
        assert_non_null(startswith(ops, "BT /F1 10 Tf 0 g\n1 0 0 1 12.5 30 Tm ["));
        assert_non_null(strstr(ops, "] TJ\nET\n"));
        /* One 4-digit hex glyph id per glyph. */
        assert_int_equal(strcount_hex(ops), r->n_glyphs);
}

/* Marks HarfBuzz places by hand (no precomposed glyph for x with dot below and circumflex) sit over their
 * base, each at its own text matrix; decomposed input with a precomposed glyph becomes that glyph. */
static void test_marks(void **state) {
        _cleanup_(pdf_font_freep) PdfFont *f = load_font();
        _cleanup_(pdf_text_run_freep) PdfTextRun *r = NULL, *o = NULL;
        _cleanup_free_ char *ops = NULL;
        size_t n_tm = 0;

        assert_int_equal(pdf_font_shape(f, "x\xcc\xa3\xcc\x82", &r), 0);
        assert_int_equal(r->n_glyphs, 3);
        for (size_t i = 1; i < 3; i++) {
                assert_int_equal(r->glyphs[i].x_advance, 0);
                assert_int_equal(r->glyphs[i].width, 0);
                /* The mark's origin is within the base glyph's advance. */
                assert_true(r->glyphs[0].x_advance + r->glyphs[i].x_offset >= 0);
                assert_true(r->glyphs[i].x_offset < 0);
        }
        assert_int_equal(pdf_text_run_operators(r, "F1", 10, 0, 0, &ops), 0);
        for (const char *p = ops; (p = strstr(p, " Tm ")); p++)
                n_tm++;
        assert_true(n_tm >= 2);

        assert_int_equal(pdf_font_shape(f, "O\xcc\xa3\xcc\x82", &o), 0);
        assert_int_equal(o->n_glyphs, 1);
}

static void test_refused(void **state) {
        _cleanup_(pdf_font_freep) PdfFont *f = load_font();
        PdfTextRun *r = NULL;
        _cleanup_free_ char *big = malloc(PDF_TEXT_MAX_BYTES + 2);
        PdfFont *g = NULL;

        assert_int_equal(pdf_font_shape(f, "bad \xc3\x28 utf-8", &r), -EBADMSG);
        assert_int_equal(pdf_font_shape(f, "two\nlines", &r), -EBADMSG);
        memset(big, 'a', PDF_TEXT_MAX_BYTES + 1);
        big[PDF_TEXT_MAX_BYTES + 1] = '\0';
        assert_int_equal(pdf_font_shape(f, big, &r), -E2BIG);
        assert_null(r);
        assert_int_equal(pdf_font_new("/nonexistent/font.ttf", &g), -ENOENT);
        assert_int_equal(pdf_font_new("/etc/hostname", &g), -EBADMSG);
        assert_int_equal(pdf_font_new("/", &g), -EBADMSG);
        assert_null(g);
}

/* fonts-liberation 1.07 (Debian 12) has no Vietnamese: a stamp in it is refused, not drawn with boxes. */
static void test_font_without_vietnamese(void **state) {
        const char *old = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf";
        _cleanup_(pdf_font_freep) PdfFont *f = NULL;
        PdfTextRun *r = NULL;

        if (access(old, R_OK) < 0)
                skip();
        assert_int_equal(pdf_font_new(old, &f), 0);
        if (pdf_font_shape(f, "Ư", &r) == 0) {
                print_message("%s has Vietnamese letters: nothing to test\n", old);
                pdf_text_run_free(r);
                skip();
        }
        assert_int_equal(pdf_font_shape(f, "Sao y bản chính", &r), -EOPNOTSUPP);
        assert_null(r);
}

static void test_objects(void **state) {
        _cleanup_(pdf_font_freep) PdfFont *f = load_font();
        _cleanup_(pdf_text_run_freep) PdfTextRun *r = NULL;
        PdfObjectBody b[PDF_FONT_N_OBJECTS] = {};
        char cmap[8192];
        uLongf n = sizeof cmap - 1;

        assert_int_equal(pdf_font_objects(f, 10, b), -ENODATA);
        assert_int_equal(pdf_font_shape(f, "Đ", &r), 0);
        assert_int_equal(pdf_font_objects(f, 10, b), 0);
        assert_non_null(strstr(b[0].dict, "/Subtype /Type0"));
        assert_non_null(
                strstr(b[0].dict, "/Encoding /Identity-H /DescendantFonts [11 0 R] /ToUnicode 14 0 R"));
        assert_non_null(strstr(b[1].dict, "/CIDFontType2"));
        assert_non_null(strstr(b[1].dict, "/FontDescriptor 12 0 R"));
        assert_non_null(strstr(b[1].dict, "/CIDToGIDMap /Identity"));
        assert_non_null(strstr(b[2].dict, "/FontFile2 13 0 R"));
        assert_non_null(strstr(b[2].dict, "+LiberationSerif"));
        assert_non_null(strstr(b[3].dict, "/Length1 "));
        assert_int_equal(uncompress((Bytef *) cmap, &n, b[4].stream, b[4].stream_size), Z_OK);
        cmap[n] = '\0';
        /* Đ is U+0110. */
        assert_non_null(strstr(cmap, "> <0110>\n"));
        pdf_object_bodies_done(b, PDF_FONT_N_OBJECTS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subset),    cmocka_unit_test(test_width),
                cmocka_unit_test(test_operators), cmocka_unit_test(test_refused),
                cmocka_unit_test(test_objects),   cmocka_unit_test(test_font_without_vietnamese),
                cmocka_unit_test(test_marks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
