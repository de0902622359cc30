/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdio.h>

#include "macro.h"
#include "pdf-appearance.h"

/* Padding around text and the distance between baselines, in font sizes. */
#define TEXT_PADDING 0.4
#define TEXT_LEADING 1.25

double pdf_mm_to_pt(double mm) {
        return mm * 72.0 / 25.4;
}

int pdf_seal_rect(const PdfRect *leader, double diameter_mm, PdfRect *ret) {
        double d;

        if (!(diameter_mm >= PDF_SEAL_MIN_MM && diameter_mm <= PDF_SEAL_MAX_MM))
                return -EINVAL;
        if (!(leader->w > 0 && leader->h > 0) || !isfinite(leader->x) || !isfinite(leader->y))
                return -EINVAL;
        d = pdf_mm_to_pt(diameter_mm);
        *ret = (PdfRect){
                .x = leader->x + leader->w / 3.0 - d,
                .y = leader->y + leader->h / 2.0 - d / 2.0,
                .w = d,
                .h = d,
        };
        return 0;
}

int pdf_rect_fit(const PdfRect *box, uint32_t w, uint32_t h, PdfRect *ret) {
        double s;

        if (w == 0 || h == 0 || !(box->w > 0 && box->h > 0))
                return -EINVAL;
        s = MIN(box->w / w, box->h / h);
        *ret = (PdfRect){
                .x = box->x + (box->w - w * s) / 2,
                .y = box->y + (box->h - h * s) / 2,
                .w = w * s,
                .h = h * s,
        };
        return 0;
}

bool pdf_box_normalize(const double in[static 4], double out[static 4]) {
        for (int i = 0; i < 4; i++)
                if (!isfinite(in[i]))
                        return false;
        out[0] = MIN(in[0], in[2]);
        out[1] = MIN(in[1], in[3]);
        out[2] = MAX(in[0], in[2]);
        out[3] = MAX(in[1], in[3]);
        return true;
}

int pdf_page_visible_box(const double media[static 4], const double *crop, double ret[static 4]) {
        double m[4], c[4], v[4];

        if (!pdf_box_normalize(media, m))
                return -EINVAL;
        if (crop) {
                if (!pdf_box_normalize(crop, c))
                        return -EINVAL;
                v[0] = MAX(m[0], c[0]);
                v[1] = MAX(m[1], c[1]);
                v[2] = MIN(m[2], c[2]);
                v[3] = MIN(m[3], c[3]);
        } else
                memcpy(v, m, sizeof v);
        if (!(v[2] > v[0] && v[3] > v[1]))
                return -EINVAL;
        memcpy(ret, v, sizeof v);
        return 0;
}

int pdf_rotate_normalize(long rotate, int *ret) {
        long r;

        if (rotate % 90 != 0)
                return -EINVAL;
        r = rotate % 360;
        if (r < 0)
                r += 360;
        *ret = (int) r;
        return 0;
}

int pdf_stamp_rect(const double visible[static 4], int rotate, double width, double height, PdfRect *ret) {
        const double m = PDF_STAMP_MARGIN;
        double x0 = visible[0], y0 = visible[1], x1 = visible[2], y1 = visible[3];
        /* The widget's extent in user space: a quarter turn swaps the sides. */
        bool quarter = rotate == 90 || rotate == 270;
        double uw = quarter ? height : width, uh = quarter ? width : height;
        PdfRect r;

        if (!(width > 0 && height > 0))
                return -EINVAL;
        if (uw + 2 * m > x1 - x0 || uh + 2 * m > y1 - y0)
                return -ERANGE;
        /* The displayed top-right corner in user space: the viewer turns the page clockwise by /Rotate, so
         * at 90 the user-space left edge is on top and the top edge on the right, and so on. */
        switch (rotate) {
        case 0:
                r = (PdfRect){ x1 - m - uw, y1 - m - uh, uw, uh };
                break;
        case 90:
                r = (PdfRect){ x0 + m, y1 - m - uh, uw, uh };
                break;
        case 180:
                r = (PdfRect){ x0 + m, y0 + m, uw, uh };
                break;
        case 270:
                r = (PdfRect){ x1 - m - uw, y0 + m, uw, uh };
                break;
        default:
                return -EINVAL;
        }
        *ret = r;
        return 0;
}

void pdf_text_block_size(
        const PdfTextRun *const *lines, size_t n_lines, double size_pt, double *ret_width,
        double *ret_height) {
        double w = 0;

        for (size_t i = 0; i < n_lines; i++)
                w = MAX(w, pdf_text_run_width(lines[i], size_pt));
        *ret_width = w + 2 * TEXT_PADDING * size_pt;
        *ret_height = (double) n_lines * TEXT_LEADING * size_pt + 2 * TEXT_PADDING * size_pt;
}

/* The form matrix that shows the BBox upright on a page the viewer turns clockwise by rotate: the form is
 * turned the other way. The widget's Rect then takes the turned box (PDF 32000-1, 12.5.5). */
static const char *rotation_matrix(int rotate) {
        switch (rotate) {
        case 90:
                return "0 1 -1 0 0 0";
        case 180:
                return "-1 0 0 -1 0 0";
        case 270:
                return "0 -1 1 0 0 0";
        default:
                return "1 0 0 1 0 0";
        }
}

static void draw_image(FILE *f, const PdfAppearance *a) {
        char n[4][PDF_NUMBER_MAX];
        PdfRect r;

        /* pdf_appearance_stream() checked the sizes, so this cannot fail. */
        (void) pdf_rect_fit(
                a->image_box.w > 0 ? &a->image_box : &(PdfRect){ 0, 0, a->width, a->height }, a->image_width,
                a->image_height, &r);
        fprintf(f, "q %s 0 0 %s %s %s cm /Im1 Do Q\n", pdf_number(r.w, n[0]), pdf_number(r.h, n[1]),
                pdf_number(r.x, n[2]), pdf_number(r.y, n[3]));
}

/* A placed line's baseline: the text (ascenders and Vietnamese marks above, descenders below) centred
 * vertically in its box. */
static double placed_baseline(const PdfRect *box, double size) {
        return box->y + box->h / 2 - 0.3 * size;
}

/* What a placed line covers: its box, widened to the text's length and heightened to its marks. */
static PdfRect placed_extent(const PdfRect *box, const PdfTextRun *run, double size) {
        double base = placed_baseline(box, size), top = MAX(box->y + box->h, base + 1.1 * size),
               bottom = MIN(box->y, base - 0.3 * size);

        return (PdfRect){ box->x, bottom, MAX(box->w, pdf_text_run_width(run, size)), top - bottom };
}

static PdfRect rect_union(const PdfRect *a, const PdfRect *b) {
        double x0 = MIN(a->x, b->x), y0 = MIN(a->y, b->y), x1 = MAX(a->x + a->w, b->x + b->w),
               y1 = MAX(a->y + a->h, b->y + b->h);

        return (PdfRect){ x0, y0, x1 - x0, y1 - y0 };
}

static int draw_text(FILE *f, const PdfAppearance *a, double size) {
        double pad = TEXT_PADDING * size;

        for (size_t i = 0; i < a->n_lines; i++) {
                _cleanup_free_ char *ops = NULL;
                /* Baseline: one leading per line from the top, less the part below the baseline. */
                double y = a->height - pad - (double) (i + 1) * TEXT_LEADING * size + 0.3 * size;
                double x = a->align_right ? a->width - pad - pdf_text_run_width(a->lines[i], size) : pad;
                int r = pdf_text_run_operators(a->lines[i], "F1", size, x, y, &ops);

                if (r < 0)
                        return r;
                fputs(ops, f);
        }
        for (size_t i = 0; i < a->n_placed; i++) {
                _cleanup_free_ char *ops = NULL;
                const PdfRect *b = &a->placed_boxes[i];
                int r = pdf_text_run_operators(
                        a->placed[i], "F1", size, b->x, placed_baseline(b, size), &ops);

                if (r < 0)
                        return r;
                fputs(ops, f);
        }
        return 0;
}

int pdf_appearance_stream(const PdfAppearance *a, PdfObjectBody *ret) {
        _cleanup_free_ char *content = NULL, *xobj = NULL, *font = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char n[2][PDF_NUMBER_MAX];
        double size = a->font_size > 0 ? a->font_size : PDF_APPEARANCE_FONT_SIZE;
        size_t content_size;
        int r;

        if (!(a->width > 0 && a->height > 0) || (a->rotate % 90) != 0 || a->rotate < 0 || a->rotate >= 360)
                return -EINVAL;
        if (a->image_objnum > 0 && (a->image_width == 0 || a->image_height == 0))
                return -EINVAL;
        if (a->font_objnum > 0 && a->n_lines > 0 && !a->lines)
                return -EINVAL;
        if (a->font_objnum > 0 && a->n_placed > 0 && (!a->placed || !a->placed_boxes))
                return -EINVAL;

        f = open_memstream(&content, &content_size);
        if (!f)
                return -ENOMEM;
        if (a->image_objnum > 0)
                draw_image(f, a);
        if (a->font_objnum > 0) {
                r = draw_text(f, a, size);
                if (r < 0)
                        return r;
        }
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));

        /* asprintf() leaves the pointer undefined on failure: reset it before the cleanup frees it. */
        if (a->image_objnum > 0 && asprintf(&xobj, " /XObject << /Im1 %u 0 R >>", a->image_objnum) < 0)
                return (xobj = NULL, -ENOMEM);
        if (a->font_objnum > 0 && asprintf(&font, " /Font << /F1 %u 0 R >>", a->font_objnum) < 0)
                return (font = NULL, -ENOMEM);
        return pdf_object_body_new(
                ret, (uint8_t *) TAKE_PTR(content), content_size,
                "<< /Type /XObject /Subtype /Form /BBox [0 0 %s %s] /Matrix [%s]"
                " /Resources <<%s%s >>>>",
                pdf_number(a->width, n[0]), pdf_number(a->height, n[1]), rotation_matrix(a->rotate),
                strempty(xobj), strempty(font));
}

void pdf_appearance_objects_done(PdfAppearanceObjects *o) {
        if (!o)
                return;
        pdf_object_bodies_done(o->bodies, o->n_bodies);
        o->bodies = mfree(o->bodies);
        o->n_bodies = 0;
}

static void text_runs_free(PdfTextRun **runs, size_t n) {
        for (size_t i = 0; runs && i < n; i++)
                pdf_text_run_free(runs[i]);
        free(runs);
}

/* Placed: the union of the image's and the texts' places becomes the box; every place is moved into it. */
static int place_all(
        const PdfAppearanceSpec *s, PdfTextRun **runs, PdfAppearance *a, PdfRect **ret_boxes,
        PdfRect *ret_box) {
        _cleanup_free_ PdfRect *boxes = NULL;
        PdfRect u = {};
        bool any = false;

        if (s->n_texts > 0) {
                boxes = calloc(s->n_texts, sizeof(PdfRect));
                if (!boxes)
                        return -ENOMEM;
        }
        if (s->image_box) {
                if (!(s->image_box->w > 0 && s->image_box->h > 0))
                        return -EINVAL;
                u = *s->image_box;
                any = true;
        }
        for (size_t i = 0; i < s->n_texts; i++) {
                PdfRect e;

                if (!(s->texts[i].box.w > 0 && s->texts[i].box.h > 0))
                        return -EINVAL;
                e = placed_extent(&s->texts[i].box, runs[s->n_lines + i], a->font_size);
                u = any ? rect_union(&u, &e) : e;
                any = true;
        }
        if (!any || !isfinite(u.x) || !isfinite(u.y) || !(u.w > 0 && u.h > 0))
                return -EINVAL;
        if (s->image_box)
                a->image_box = (PdfRect){ s->image_box->x - u.x, s->image_box->y - u.y, s->image_box->w,
                                          s->image_box->h };
        for (size_t i = 0; i < s->n_texts; i++)
                boxes[i] = (PdfRect){ s->texts[i].box.x - u.x, s->texts[i].box.y - u.y, s->texts[i].box.w,
                                      s->texts[i].box.h };
        a->width = u.w;
        a->height = u.h;
        *ret_boxes = TAKE_PTR(boxes);
        *ret_box = u;
        return 0;
}

int pdf_appearance_objects(const PdfAppearanceSpec *s, unsigned first_objnum, PdfAppearanceObjects *ret) {
        _cleanup_(pdf_font_freep) PdfFont *font = NULL;
        _cleanup_free_ PdfRect *boxes = NULL;
        PdfTextRun **runs = NULL;
        PdfObjectBody *b = NULL;
        size_t n_runs = s->n_lines + s->n_texts;
        size_t n_image = s->image ? pdf_image_n_objects(s->image) : 0;
        size_t n_font = n_runs > 0 ? PDF_FONT_N_OBJECTS : 0, n = 1 + n_image + n_font;
        bool placed = s->image_box || s->n_texts > 0;
        PdfRect box = {};
        PdfAppearance a = {
                .width = s->width,
                .height = s->height,
                .rotate = s->rotate,
                .font_size = s->font_size > 0 ? s->font_size : PDF_APPEARANCE_FONT_SIZE,
                .align_right = s->align_right,
        };
        int r = 0;

        if ((!s->image && n_runs == 0) || (s->n_lines > 0 && !s->lines) || (s->n_texts > 0 && !s->texts))
                return -EINVAL;
        if (n_runs > 0) {
                r = pdf_font_new(s->font_path ?: PDF_FONT_DEFAULT_PATH, &font);
                if (r < 0)
                        return r;
                runs = calloc(n_runs, sizeof(PdfTextRun *));
                if (!runs)
                        return -ENOMEM;
                for (size_t i = 0; i < n_runs; i++) {
                        r = pdf_font_shape(
                                font, i < s->n_lines ? s->lines[i] : s->texts[i - s->n_lines].text,
                                &runs[i]);
                        if (r < 0)
                                goto finish;
                }
                a.font_objnum = first_objnum + 1 + (unsigned) n_image;
                a.lines = (const PdfTextRun *const *) runs;
                a.n_lines = s->n_lines;
                a.placed = (const PdfTextRun *const *) runs + s->n_lines;
                a.n_placed = s->n_texts;
                if (!placed && a.width == 0 && a.height == 0)
                        pdf_text_block_size(a.lines, a.n_lines, a.font_size, &a.width, &a.height);
        }
        if (placed) {
                r = place_all(s, runs, &a, &boxes, &box);
                if (r < 0)
                        goto finish;
                a.placed_boxes = boxes;
        }
        if (s->image) {
                a.image_objnum = first_objnum + 1;
                a.image_width = s->image->width;
                a.image_height = s->image->height;
        }

        b = calloc(n, sizeof(PdfObjectBody));
        if (!b) {
                r = -ENOMEM;
                goto finish;
        }
        r = pdf_appearance_stream(&a, &b[0]);
        if (r >= 0 && s->image)
                r = pdf_image_objects(s->image, a.image_objnum, &b[1]);
        if (r >= 0 && font)
                r = pdf_font_objects(font, a.font_objnum, &b[1 + n_image]);
        if (r >= 0) {
                *ret = (PdfAppearanceObjects){
                        .bodies = TAKE_PTR(b),
                        .n_bodies = n,
                        .width = a.width,
                        .height = a.height,
                        .box = placed ? box : (PdfRect){ 0, 0, a.width, a.height },
                };
        }
finish:
        if (b) {
                pdf_object_bodies_done(b, n);
                free(b);
        }
        text_runs_free(runs, n_runs);
        return r < 0 ? r : 0;
}

int pdf_stamp_time(time_t t, char buf[static PDF_STAMP_TIME_MAX]) {
        struct tm tm;
        time_t local = t + 7 * 3600;

        if (!gmtime_r(&local, &tm))
                return -ERANGE;
        if (strftime(buf, PDF_STAMP_TIME_MAX, "%Y-%m-%dT%H:%M:%S+07:00", &tm) == 0)
                return -ERANGE;
        return 0;
}
