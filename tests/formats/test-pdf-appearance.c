/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pdf-appearance: the layout rules (seal over the leader's signature, stamp at the top right of any page
 * box and rotation), and a page assembled here from the appearance, image and font objects that qpdf
 * accepts, pdftotext reads back in Vietnamese and pdftoppm paints where the rules say. */
#include "kyso-test.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "formats/pdf-appearance.h"
#include "formats/pdf-image.h"
#include "formats/pdf-text.h"
#include "pdf-test-png.h"

/* ---- Layout rules ---- */

static void test_mm(void **state) {
        assert_float_equal(pdf_mm_to_pt(25.4), 72.0, 1e-9);
        assert_float_equal(pdf_mm_to_pt(40), 113.386, 1e-3);
}

static void test_seal_rect(void **state) {
        PdfRect leader = { 300, 200, 150, 60 }, s;

        assert_int_equal(pdf_seal_rect(&leader, 40, &s), 0);
        assert_float_equal(s.w, pdf_mm_to_pt(40), 1e-9);
        assert_float_equal(s.h, s.w, 1e-9);
        /* Centred vertically on the signature, right edge at its first third. */
        assert_float_equal(s.y + s.h / 2, leader.y + leader.h / 2, 1e-9);
        assert_float_equal(s.x + s.w, leader.x + leader.w / 3, 1e-9);

        assert_int_equal(pdf_seal_rect(&leader, 5, &s), -EINVAL);
        assert_int_equal(pdf_seal_rect(&leader, 150, &s), -EINVAL);
        assert_int_equal(pdf_seal_rect(&leader, NAN, &s), -EINVAL);
        leader.w = 0;
        assert_int_equal(pdf_seal_rect(&leader, 40, &s), -EINVAL);
}

static void test_rect_fit(void **state) {
        PdfRect r;

        /* A 3:1 signature in a 200 x 100 box: 200 x 66.7, centred vertically. */
        assert_int_equal(pdf_rect_fit(&(PdfRect){ 10, 20, 200, 100 }, 300, 100, &r), 0);
        assert_float_equal(r.x, 10, 1e-9);
        assert_float_equal(r.w, 200, 1e-9);
        assert_float_equal(r.h, 200.0 / 3, 1e-9);
        assert_float_equal(r.y, 20 + (100 - 200.0 / 3) / 2, 1e-9);
        /* A square seal in a wide box: centred horizontally. */
        assert_int_equal(pdf_rect_fit(&(PdfRect){ 0, 0, 300, 100 }, 50, 50, &r), 0);
        assert_memory_equal(&r, (&(PdfRect){ 100, 0, 100, 100 }), sizeof r);
        assert_int_equal(pdf_rect_fit(&(PdfRect){ 0, 0, 300, 100 }, 0, 50, &r), -EINVAL);
}

static void test_visible_box(void **state) {
        double v[4];

        assert_int_equal(pdf_page_visible_box((double[]){ 0, 0, 612, 792 }, NULL, v), 0);
        assert_memory_equal(v, ((double[]){ 0, 0, 612, 792 }), sizeof v);
        /* Corners in any order; the crop box clipped to the media box. */
        assert_int_equal(
                pdf_page_visible_box((double[]){ 612, 792, 0, 0 }, (double[]){ 700, 50, 30, 900 }, v), 0);
        assert_memory_equal(v, ((double[]){ 30, 50, 612, 792 }), sizeof v);
        assert_int_equal(
                pdf_page_visible_box((double[]){ 0, 0, 100, 100 }, (double[]){ 200, 200, 300, 300 }, v),
                -EINVAL);
        assert_int_equal(pdf_page_visible_box((double[]){ 0, 0, NAN, 100 }, NULL, v), -EINVAL);
}

static void test_rotate(void **state) {
        int r;

        assert_int_equal(pdf_rotate_normalize(0, &r), 0);
        assert_int_equal(r, 0);
        assert_int_equal(pdf_rotate_normalize(-90, &r), 0);
        assert_int_equal(r, 270);
        assert_int_equal(pdf_rotate_normalize(450, &r), 0);
        assert_int_equal(r, 90);
        assert_int_equal(pdf_rotate_normalize(45, &r), -EINVAL);
}

static void test_stamp_rect(void **state) {
        const double v[4] = { 10, 20, 610, 820 }, m = PDF_STAMP_MARGIN;
        PdfRect r;

        assert_int_equal(pdf_stamp_rect(v, 0, 200, 40, &r), 0);
        assert_memory_equal(&r, (&(PdfRect){ 610 - m - 200, 820 - m - 40, 200, 40 }), sizeof r);
        /* Turned a quarter clockwise: the user-space left edge is the displayed top. */
        assert_int_equal(pdf_stamp_rect(v, 90, 200, 40, &r), 0);
        assert_memory_equal(&r, (&(PdfRect){ 10 + m, 820 - m - 200, 40, 200 }), sizeof r);
        assert_int_equal(pdf_stamp_rect(v, 180, 200, 40, &r), 0);
        assert_memory_equal(&r, (&(PdfRect){ 10 + m, 20 + m, 200, 40 }), sizeof r);
        assert_int_equal(pdf_stamp_rect(v, 270, 200, 40, &r), 0);
        assert_memory_equal(&r, (&(PdfRect){ 610 - m - 40, 20 + m, 40, 200 }), sizeof r);

        assert_int_equal(pdf_stamp_rect(v, 0, 700, 40, &r), -ERANGE);
        assert_int_equal(pdf_stamp_rect(v, 90, 200, 700, &r), -ERANGE);
        assert_int_equal(pdf_stamp_rect(v, 45, 200, 40, &r), -EINVAL);
}

static void test_appearance_stream(void **state) {
        PdfObjectBody b = {};
        PdfAppearance a = {
                .width = 100,
                .height = 50,
                .rotate = 90,
                .image_objnum = 7,
                .image_width = 400,
                .image_height = 100,
        };

        assert_int_equal(pdf_appearance_stream(&a, &b), 0);
        assert_non_null(strstr(b.dict, "/Subtype /Form /BBox [0 0 100 50] /Matrix [0 1 -1 0 0 0]"));
        assert_non_null(strstr(b.dict, "/XObject << /Im1 7 0 R >>"));
        assert_null(strstr(b.dict, "/Font"));
        /* 4:1 fitted into 100 x 50: 100 x 25, centred vertically. */
        assert_int_equal(b.stream_size, strlen("q 100 0 0 25 0 12.5 cm /Im1 Do Q\n"));
        assert_memory_equal(b.stream, "q 100 0 0 25 0 12.5 cm /Im1 Do Q\n", b.stream_size);
        pdf_object_body_done(&b);

        a.rotate = 45;
        assert_int_equal(pdf_appearance_stream(&a, &b), -EINVAL);
        a.rotate = 0;
        a.image_width = 0;
        assert_int_equal(pdf_appearance_stream(&a, &b), -EINVAL);
}

static void test_stamp_time(void **state) {
        char buf[PDF_STAMP_TIME_MAX];

        /* 2026-12-06T02:41:07Z, whatever TZ says. */
        setenv("TZ", "America/New_York", 1);
        tzset();
        assert_int_equal(pdf_stamp_time(1796524867, buf), 0);
        assert_string_equal(buf, "2026-12-06T09:41:07+07:00");
        unsetenv("TZ");
        tzset();
}

static void test_objects_refused(void **state) {
        static const char *const lines[] = { "Ký số \x01" };
        PdfAppearanceObjects o = {};

        assert_int_equal(
                pdf_appearance_objects(&(PdfAppearanceSpec){ .width = 10, .height = 10 }, 5, &o), -EINVAL);
        if (access(PDF_FONT_DEFAULT_PATH, R_OK) < 0)
                skip();
        assert_int_equal(
                pdf_appearance_objects(&(PdfAppearanceSpec){ .lines = lines, .n_lines = 1 }, 5, &o),
                -EBADMSG);
        assert_null(o.bodies);
}

/* ---- A page made of the objects, checked by qpdf and poppler ---- */

enum {
        OBJ_CATALOG = 1,
        OBJ_PAGES,
        OBJ_PAGE,
        OBJ_ACROFORM,
        OBJ_LEADER_WIDGET,
        OBJ_LEADER_AP,
        OBJ_SEAL_WIDGET,
        OBJ_SEAL_AP,
        OBJ_STAMP_WIDGET,
        OBJ_LEADER_IMAGE = 20, /* + SMask */
        OBJ_SEAL_IMAGE = 22,   /* + SMask */
        OBJ_STAMP_AP = 30,     /* + the font's objects */
        OBJ_MAX = 40,
};

typedef struct TestPdf {
        PdfObjectBody obj[OBJ_MAX];
} TestPdf;

static void test_pdf_done(TestPdf *p) {
        pdf_object_bodies_done(p->obj, OBJ_MAX);
}

/* Writes the objects with a classic cross-reference table (free entries for unused numbers). */
static void test_pdf_write(const TestPdf *p, const char *path) {
        _cleanup_free_ char *buf = NULL, *tail = NULL;
        size_t size = 0, off[OBJ_MAX] = {};
        FILE *f;

        buf = strdup("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
        size = strlen(buf);
        for (unsigned i = 1; i < OBJ_MAX; i++)
                if (p->obj[i].dict) {
                        off[i] = size;
                        assert_int_equal(pdf_object_body_serialize(&p->obj[i], i, &buf, &size), 0);
                }
        f = open_memstream(&tail, &(size_t){ 0 });
        fprintf(f, "xref\n0 %d\n0000000000 65535 f \n", OBJ_MAX);
        for (unsigned i = 1; i < OBJ_MAX; i++)
                if (off[i])
                        fprintf(f, "%010zu 00000 n \n", off[i]);
                else
                        fprintf(f, "0000000000 00001 f \n");
        fprintf(f, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%zu\n%%%%EOF\n", OBJ_MAX, OBJ_CATALOG,
                size);
        fclose(f);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, size, f), size);
        fputs(tail, f);
        assert_int_equal(fclose(f), 0);
}

static void add(TestPdf *p, unsigned n, const char *format, ...) _printf_(3, 4);
static void add(TestPdf *p, unsigned n, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, format);
        assert_true(vasprintf(&s, format, ap) >= 0);
        va_end(ap);
        assert_int_equal(pdf_object_body_new(&p->obj[n], NULL, 0, "%s", s), 0);
}

static void add_image(TestPdf *p, unsigned n, const TestPng *png, PdfImage **ret) {
        PdfImageProblem problem;

        assert_int_equal(
                pdf_image_from_png(png->data, png->size, PDF_IMAGE_REQUIRE_ALPHA, ret, &problem), 0);
        assert_int_equal(pdf_image_objects(*ret, n, &p->obj[n]), 0);
}

static void add_widget(TestPdf *p, unsigned n, const char *name, const PdfRect *r, unsigned ap) {
        add(p, n,
            "<< /Type /Annot /Subtype /Widget /FT /Sig /T (%s) /F 4 /P %d 0 R /Rect [%.3f %.3f %.3f %.3f]"
            " /AP << /N %u 0 R >> >>",
            name, OBJ_PAGE, r->x, r->y, r->x + r->w, r->y + r->h, ap);
}

static int run(const char *command) {
        int status = system(command);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* poppler-utils, qpdf and fonts-liberation2 (contrib/packages.txt); without them the page tests skip. */
static bool have_tools(void) {
        if (access(PDF_FONT_DEFAULT_PATH, R_OK) < 0) {
                print_message("%s missing (fonts-liberation2)\n", PDF_FONT_DEFAULT_PATH);
                return false;
        }
        return run("{ command -v qpdf && command -v pdftotext && command -v pdftoppm; } >/dev/null 2>&1") ==
               0;
}

typedef struct Raster {
        PdfImage *img; /* the rendered page, RGB */
} Raster;

static const uint8_t *pixel(const PdfImage *img, double x, double y) {
        unsigned px = (unsigned) x, py = (unsigned) y;

        assert_true(px < img->width && py < img->height);
        return img->samples + ((size_t) py * img->width + px) * img->channels;
}

static bool is_red(const uint8_t *p) {
        return p[0] > 150 && p[1] < 100 && p[2] < 100;
}

static bool is_blue(const uint8_t *p) {
        return p[2] > 150 && p[0] < 100 && p[1] < 100;
}

/* Renders page 1 at 72 dpi (one pixel a point) and decodes it. */
static PdfImage *render(const char *dir, const char *pdf, bool cropbox) {
        _cleanup_free_ char *cmd = NULL, *png = NULL;
        PdfImage *img = NULL;
        PdfImageProblem problem;

        assert_true(
                asprintf(
                        &cmd, "pdftoppm %s -r 72 -png -singlefile '%s' '%s/page' 2>'%s/pdftoppm.err'",
                        cropbox ? "-cropbox" : "", pdf, dir, dir) >= 0);
        assert_int_equal(run(cmd), 0);
        free(cmd);
        /* poppler reports damage on stderr and still exits 0: an empty stderr is the check. */
        assert_true(asprintf(&cmd, "test ! -s '%s/pdftoppm.err'", dir) >= 0);
        assert_int_equal(run(cmd), 0);
        assert_true(asprintf(&png, "%s/page.png", dir) >= 0);
        assert_int_equal(pdf_image_from_png_file(png, 0, &img, &problem), 0);
        return img;
}

static char *text_of(const char *dir, const char *pdf) {
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        char *text;
        size_t size;

        assert_true(asprintf(&out, "%s/page.txt", dir) >= 0);
        assert_true(asprintf(&cmd, "pdftotext -enc UTF-8 '%s' '%s'", pdf, out) >= 0);
        assert_int_equal(run(cmd), 0);
        assert_int_equal(read_full_file(out, 1 << 20, &text, &size), 0);
        return text;
}

static void qpdf_check(const char *pdf) {
        _cleanup_free_ char *cmd = NULL;

        assert_true(asprintf(&cmd, "qpdf --check '%s' >/dev/null", pdf) >= 0);
        assert_int_equal(run(cmd), 0);
}

/* A blue stroke across the middle third of the height, transparent elsewhere. */
static TestPng leader_png(unsigned w, unsigned h) {
        _cleanup_free_ uint8_t *px = calloc((size_t) w * h, 4);

        for (unsigned y = h / 3; y < 2 * h / 3; y++)
                for (unsigned x = 0; x < w; x++)
                        memcpy(px + ((size_t) y * w + x) * 4, (uint8_t[]){ 20, 40, 210, 255 }, 4);
        return test_png_from_rgba(w, h, px);
}

/* A red disc, transparent outside it. */
static TestPng seal_png(unsigned d) {
        _cleanup_free_ uint8_t *px = calloc((size_t) d * d, 4);

        for (unsigned y = 0; y < d; y++)
                for (unsigned x = 0; x < d; x++) {
                        double dx = x + 0.5 - d / 2.0, dy = y + 0.5 - d / 2.0;
                        if (dx * dx + dy * dy < d * d / 4.0)
                                memcpy(px + ((size_t) y * d + x) * 4, (uint8_t[]){ 220, 20, 30, 255 }, 4);
                }
        return test_png_from_rgba(d, d, px);
}

static const char *const stamp_lines[] = {
        "SAO Y BẢN CHÍNH",
        "UBND phường Uông Bí",
        "2026-12-06T09:41:07+07:00",
        /* The widest line last: the orientation check in test_render_stamp_rotated relies on it. */
        "Sao y bản chính — UBND phường Uông Bí — 2026-12-06T09:41:07+07:00",
};

/* The stamp's objects from pdf_appearance_objects(), placed on the page. */
static void add_stamp(TestPdf *p, const double visible[static 4], int rotate, PdfRect *ret_rect) {
        PdfAppearanceObjects o = {};
        PdfAppearanceSpec spec = {
                .rotate = rotate,
                .lines = stamp_lines,
                .n_lines = ELEMENTSOF(stamp_lines),
                .align_right = true,
        };
        size_t bytes = 0;

        assert_int_equal(pdf_appearance_objects(&spec, OBJ_STAMP_AP, &o), 0);
        assert_int_equal(o.n_bodies, 1 + PDF_FONT_N_OBJECTS);
        assert_true(OBJ_STAMP_AP + o.n_bodies <= OBJ_MAX);
        for (size_t i = 0; i < o.n_bodies; i++) {
                bytes += strlen(o.bodies[i].dict) + o.bodies[i].stream_size;
                p->obj[OBJ_STAMP_AP + i] = o.bodies[i];
        }
        /* The writer owns the bodies now. */
        o.bodies = mfree(o.bodies);
        /* A subset, not the font: a few kilobytes per stamp. */
        print_message("stamp appearance: %zu bytes in %zu objects\n", bytes, o.n_bodies);
        assert_true(bytes < 32 * 1024);
        assert_int_equal(pdf_stamp_rect(visible, rotate, o.width, o.height, ret_rect), 0);
        add_widget(p, OBJ_STAMP_WIDGET, "stamp", ret_rect, OBJ_STAMP_AP);
}

static void add_page(TestPdf *p, const char *boxes, int rotate, const char *annots) {
        add(p, OBJ_CATALOG, "<< /Type /Catalog /Pages %d 0 R /AcroForm %d 0 R >>", OBJ_PAGES, OBJ_ACROFORM);
        add(p, OBJ_PAGES, "<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", OBJ_PAGE);
        add(p, OBJ_PAGE, "<< /Type /Page /Parent %d 0 R %s /Rotate %d /Resources << >> /Annots [%s] >>",
            OBJ_PAGES, boxes, rotate, annots);
}

static void assert_text_has_lines(const char *text) {
        for (size_t i = 0; i < ELEMENTSOF(stamp_lines); i++)
                if (!strstr(text, stamp_lines[i])) {
                        print_message("pdftotext gave:\n%s\nwithout \"%s\"\n", text, stamp_lines[i]);
                        fail();
                }
}

static void test_render_signed_page(void **state) {
        char dir[] = "/tmp/kyso-appear.XXXXXX";
        _cleanup_free_ char *pdf = NULL, *text = NULL, *cmd = NULL;
        TestPdf p = {};
        TestPng lp = leader_png(300, 100), sp = seal_png(200);
        PdfImage *leader = NULL, *seal = NULL, *page = NULL;
        const double visible[4] = { 0, 0, 420, 300 };
        PdfRect lr = { 150, 60, 180, 60 }, sr, st;
        PdfAppearance la = { .width = lr.w, .height = lr.h, .image_objnum = OBJ_LEADER_IMAGE };
        PdfAppearance sa = { .image_objnum = OBJ_SEAL_IMAGE };
        bool red_left = false;

        if (!have_tools())
                skip();
        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&pdf, "%s/page.pdf", dir) >= 0);

        add_image(&p, OBJ_LEADER_IMAGE, &lp, &leader);
        add_image(&p, OBJ_SEAL_IMAGE, &sp, &seal);
        la.image_width = leader->width;
        la.image_height = leader->height;
        assert_int_equal(pdf_appearance_stream(&la, &p.obj[OBJ_LEADER_AP]), 0);
        add_widget(&p, OBJ_LEADER_WIDGET, "leader", &lr, OBJ_LEADER_AP);

        assert_int_equal(pdf_seal_rect(&lr, 30, &sr), 0);
        sa.width = sr.w;
        sa.height = sr.h;
        sa.image_width = seal->width;
        sa.image_height = seal->height;
        assert_int_equal(pdf_appearance_stream(&sa, &p.obj[OBJ_SEAL_AP]), 0);
        add_widget(&p, OBJ_SEAL_WIDGET, "seal", &sr, OBJ_SEAL_AP);

        add_stamp(&p, visible, 0, &st);
        add_page(&p, "/MediaBox [0 0 420 300]", 0, "5 0 R 7 0 R 9 0 R");
        add(&p, OBJ_ACROFORM, "<< /Fields [%d 0 R %d 0 R %d 0 R] >>", OBJ_LEADER_WIDGET, OBJ_SEAL_WIDGET,
            OBJ_STAMP_WIDGET);
        test_pdf_write(&p, pdf);

        qpdf_check(pdf);
        text = text_of(dir, pdf);
        assert_text_has_lines(text);

        page = render(dir, pdf, false);
        assert_int_equal(page->width, 420);
        assert_int_equal(page->height, 300);
        /* Rows grow downwards: user y maps to row height - y. The seal's centre is red, its corner shows
         * the page (white) or the leader's blue through the soft mask, never red. */
        assert_true(is_red(pixel(page, sr.x + sr.w / 2, 300 - (sr.y + sr.h / 2))));
        assert_false(is_red(pixel(page, sr.x + 2, 300 - (sr.y + sr.h - 2))));
        /* The leader's stroke shows blue on its right two-thirds and has no red there; red covers part of
         * its left third. */
        assert_true(is_blue(pixel(page, lr.x + lr.w * 0.8, 300 - (lr.y + lr.h / 2))));
        for (double x = lr.x; x < lr.x + lr.w; x++)
                for (double y = lr.y + 1; y < lr.y + lr.h - 1; y++) {
                        bool red = is_red(pixel(page, x, 300 - y));
                        if (x > lr.x + lr.w / 3 + 1)
                                assert_false(red);
                        else
                                red_left = red_left || red;
                }
        assert_true(red_left);
        /* The stamp's text is inside its rectangle: dark pixels there, none right of it. */
        {
                size_t dark = 0;
                for (double x = st.x; x < st.x + st.w; x++)
                        for (double y = st.y; y < st.y + st.h; y++)
                                dark += pixel(page, x, 300 - y - 1)[0] < 100;
                assert_true(dark > 50);
        }

        pdf_image_free(page);
        pdf_image_free(leader);
        pdf_image_free(seal);
        free(lp.data);
        free(sp.data);
        test_pdf_done(&p);
        if (getenv("KYSO_TEST_KEEP")) {
                print_message("kept %s\n", dir);
                return;
        }
        assert_true(asprintf(&cmd, "rm -rf -- '%s'", dir) >= 0);
        (void) run(cmd);
}

/* The stamp on an A4 and a Letter page with a crop box, at each /Rotate: rendered (crop box, turned as a
 * viewer shows it) its ink lies in the top-right corner and the text reads back. */
static void test_render_stamp_rotated(void **state) {
        static const struct {
                double media[4], crop[4];
        } pages[] = {
                { { 0, 0, 595, 842 }, { 40, 60, 560, 800 } }, /* A4 */
                { { 0, 0, 612, 792 }, { 0, 0, 612, 792 } },   /* Letter */
        };
        char dir[] = "/tmp/kyso-appear.XXXXXX";
        _cleanup_free_ char *pdf = NULL, *cmd = NULL;

        if (!have_tools())
                skip();
        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&pdf, "%s/page.pdf", dir) >= 0);

        for (size_t i = 0; i < ELEMENTSOF(pages); i++)
                for (int rotate = 0; rotate < 360; rotate += 90) {
                        _cleanup_free_ char *boxes = NULL, *text = NULL;
                        TestPdf p = {};
                        PdfImage *page;
                        double v[4];
                        PdfRect st;
                        unsigned minx = UINT_MAX, miny = UINT_MAX, maxx = 0, maxy = 0, minx_row = 0;

                        assert_int_equal(pdf_page_visible_box(pages[i].media, pages[i].crop, v), 0);
                        add_stamp(&p, v, rotate, &st);
                        assert_true(
                                asprintf(
                                        &boxes, "/MediaBox [%g %g %g %g] /CropBox [%g %g %g %g]",
                                        pages[i].media[0], pages[i].media[1], pages[i].media[2],
                                        pages[i].media[3], pages[i].crop[0], pages[i].crop[1],
                                        pages[i].crop[2], pages[i].crop[3]) >= 0);
                        add_page(&p, boxes, rotate, "9 0 R");
                        add(&p, OBJ_ACROFORM, "<< /Fields [%d 0 R] >>", OBJ_STAMP_WIDGET);
                        test_pdf_write(&p, pdf);
                        test_pdf_done(&p);

                        qpdf_check(pdf);
                        text = text_of(dir, pdf);
                        assert_text_has_lines(text);

                        page = render(dir, pdf, true);
                        for (unsigned y = 0; y < page->height; y++)
                                for (unsigned x = 0; x < page->width; x++)
                                        if (page->samples[((size_t) y * page->width + x) * 3] < 128) {
                                                if (x < minx)
                                                        minx_row = y;
                                                minx = MIN(minx, x);
                                                maxx = MAX(maxx, x);
                                                miny = MIN(miny, y);
                                                maxy = MAX(maxy, y);
                                        }
                        print_message(
                                "page %zu rotate %d: %ux%u, ink [%u..%u] x [%u..%u]\n", i, rotate,
                                page->width, page->height, minx, maxx, miny, maxy);
                        /* Ink exists, inside the margin, in the top right as displayed. */
                        assert_true(maxx > minx);
                        assert_true(maxx < page->width - PDF_STAMP_MARGIN + 1);
                        assert_true(miny >= PDF_STAMP_MARGIN - 1);
                        assert_true(maxx > page->width - PDF_STAMP_MARGIN - 12);
                        assert_true(minx > page->width / 3);
                        assert_true(maxy < page->height / 4);
                        /* Upright, not upside down: the lines are right-aligned and the last is the widest,
                         * so the leftmost ink is in the bottom quarter. */
                        assert_true(minx_row > miny + (maxy - miny) * 3 / 4);
                        pdf_image_free(page);
                }
        assert_true(asprintf(&cmd, "rm -rf -- '%s'", dir) >= 0);
        (void) run(cmd);
}

/* Placed texts (an issue's number and date) with the seal: the appearance covers their union, a text longer
 * than its box widens it, and each is drawn where it was placed, relative to the union. */
static void test_objects_placed(void **state) {
        static const char *const date = "Uông Bí, ngày 06 tháng 12 năm 2026";
        const PdfPlacedText texts[] = {
                { { 60, 760, 200, 20 }, "7/QĐ-UBND" },
                { { 330, 760, 40, 20 }, date }, /* narrower than its text */
        };
        const PdfRect seal_box = { 295, 147.5, 85, 85 };
        TestPng sp = seal_png(100);
        PdfImage *seal = NULL;
        PdfImageProblem problem;
        PdfAppearanceObjects o = {};
        PdfAppearanceSpec spec = { .texts = texts, .n_texts = ELEMENTSOF(texts), .image_box = &seal_box };
        _cleanup_free_ char *content = NULL;

        if (access(PDF_FONT_DEFAULT_PATH, R_OK) < 0)
                skip();
        assert_int_equal(pdf_image_from_png(sp.data, sp.size, PDF_IMAGE_REQUIRE_ALPHA, &seal, &problem), 0);
        spec.image = seal;
        assert_int_equal(pdf_appearance_objects(&spec, 5, &o), 0);
        assert_int_equal(o.n_bodies, 1 + pdf_image_n_objects(seal) + PDF_FONT_N_OBJECTS);
        /* From the number's left edge and the seal's bottom to the top of the texts' marks and past the
         * date's box, to the end of its text. */
        assert_true(fabs(o.box.x - 60) < 1e-9);
        assert_true(fabs(o.box.y - 147.5) < 1e-9);
        assert_true(o.box.y + o.box.h >= 780);
        assert_true(o.box.x + o.box.w > 330 + 100);
        assert_true(fabs(o.width - o.box.w) < 1e-9 && fabs(o.height - o.box.h) < 1e-9);
        content = strndup((const char *) o.bodies[0].stream, o.bodies[0].stream_size);
        assert_non_null(content);
        /* The seal, fitted into its own box, moved into the union: 295 - 60, 147.5 - 147.5. */
        assert_non_null(strstr(content, "q 85 0 0 85 235 0 cm /Im1 Do Q"));
        assert_non_null(strstr(content, "/F1 10 Tf"));
        assert_non_null(strstr(o.bodies[0].dict, "/Font << /F1 "));

        /* A placed text with an empty box is refused. */
        pdf_appearance_objects_done(&o);
        spec.texts = (const PdfPlacedText[]){ { { 0, 0, 0, 10 }, "x" } };
        spec.n_texts = 1;
        assert_int_equal(pdf_appearance_objects(&spec, 5, &o), -EINVAL);
        assert_null(o.bodies);
        pdf_image_free(seal);
        free(sp.data);
}

/* The request's image as an fd: read whole from its start, whatever its offset; a pipe (which could block
 * the agent), a file over the limit or an empty one refused. */
static void test_image_fd(void **state) {
        TestPng sp = seal_png(40);
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int fd = memfd_create("kyso-test-image", MFD_CLOEXEC), pipefd[2];

        assert_true(fd >= 0);
        assert_int_equal(pdf_image_read_fd(fd, &data, &size), -ENODATA);
        assert_int_equal(write(fd, sp.data, sp.size), (ssize_t) sp.size);
        assert_int_equal(pdf_image_fd_check(fd), 0);
        assert_int_equal(pdf_image_read_fd(fd, &data, &size), 0);
        assert_int_equal(size, sp.size);
        assert_memory_equal(data, sp.data, size);
        assert_int_equal(ftruncate(fd, PDF_IMAGE_MAX_BYTES + 1), 0);
        assert_int_equal(pdf_image_fd_check(fd), -EFBIG);
        close(fd);

        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        assert_int_equal(pdf_image_fd_check(pipefd[0]), -EBADFD);
        assert_int_equal(pdf_image_read_fd(pipefd[0], &data, &size), -EBADFD);
        close(pipefd[0]);
        close(pipefd[1]);
        free(sp.data);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mm),
                cmocka_unit_test(test_seal_rect),
                cmocka_unit_test(test_rect_fit),
                cmocka_unit_test(test_visible_box),
                cmocka_unit_test(test_rotate),
                cmocka_unit_test(test_stamp_rect),
                cmocka_unit_test(test_appearance_stream),
                cmocka_unit_test(test_stamp_time),
                cmocka_unit_test(test_objects_refused),
                cmocka_unit_test(test_render_signed_page),
                cmocka_unit_test(test_render_stamp_rotated),
                cmocka_unit_test(test_objects_placed),
                cmocka_unit_test(test_image_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
