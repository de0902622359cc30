/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Where a visible signature goes and what it draws (Decree 30/2020, Appendix I): the seal over the leader's
 * signature, the copy/appendix stamp at the top right of page 1, and the /AP /N form XObject of a widget. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <time.h>

#include "pdf-image.h"
#include "pdf-object-body.h"
#include "pdf-text.h"

#define PDF_APPEARANCE_FONT_SIZE 10.0 /* points, as the Decree asks of stamps */
#define PDF_STAMP_MARGIN 18.0         /* points between the stamp and the visible page edges */
#define PDF_SEAL_MIN_MM 10.0
#define PDF_SEAL_MAX_MM 100.0

/* A rectangle in PDF points: lower-left corner, width, height (the `visible` option's rect). */
typedef struct PdfRect {
        double x, y, w, h;
} PdfRect;

/* A place the app names on a page (the `visible` option and its kin): set false when not named. */
typedef struct PdfPlace {
        bool set;
        bool from_end; /* page counts back from the last page (0: the last), as kysod.conf may say */
        unsigned page; /* 0-based */
        PdfRect rect;  /* PDF points in the page's default user space */
} PdfPlace;

double pdf_mm_to_pt(double mm);

/* The seal's widget rectangle: a square of the seal's real diameter, centred vertically on the leader's
 * signature rectangle, its right edge at one third of the signature's width, so that it covers the left
 * third of the signature and none of the rest. -EINVAL for a diameter outside [PDF_SEAL_MIN_MM,
 * PDF_SEAL_MAX_MM] or an empty leader rectangle. */
int pdf_seal_rect(const PdfRect *leader, double diameter_mm, PdfRect *ret);

/* The part of box that an image of w x h pixels fills when fitted inside it, aspect ratio kept, centred.
 * The leader's widget should get this rectangle rather than the one asked for: the seal is later placed
 * from the widget's /Rect alone, and must cover the left third of the image, not of empty margins. */
int pdf_rect_fit(const PdfRect *box, uint32_t w, uint32_t h, PdfRect *ret);

/* A box [llx lly urx ury] from two corners given in any order; false when a number is not finite. */
bool pdf_box_normalize(const double in[static 4], double out[static 4]);

/* The visible area of a page, [llx lly urx ury]: the CropBox (NULL: none) clipped to the MediaBox, each box
 * normalized first (a box may list its corners in any order). -EINVAL when the area is empty. */
int pdf_page_visible_box(const double media[static 4], const double *crop, double ret[static 4]);

/* Normalizes a /Rotate value to 0, 90, 180 or 270 (PDF allows any multiple of 90, negative too); -EINVAL
 * otherwise. */
int pdf_rotate_normalize(long rotate, int *ret);

/* The widget rectangle (default user space) for a stamp that the reader sees upright as width x height at
 * the top right of the displayed page, PDF_STAMP_MARGIN inside the visible box, on a page with /Rotate
 * rotate. -ERANGE when it does not fit. */
int pdf_stamp_rect(const double visible[static 4], int rotate, double width, double height, PdfRect *ret);

/* Width and height of a block of text lines at size_pt with padding around them, for sizing a stamp. */
void pdf_text_block_size(
        const PdfTextRun *const *lines, size_t n_lines, double size_pt, double *ret_width,
        double *ret_height);

typedef struct PdfAppearance {
        double width, height; /* upright, as the reader sees it: the form's /BBox is [0 0 width height] */
        int rotate;           /* the page's normalized /Rotate: the form's /Matrix turns it upright */
        /* An image fitted into image_box (w 0: the whole box), aspect ratio kept, centred. image_objnum 0:
         * no image. */
        unsigned image_objnum;
        uint32_t image_width, image_height;
        PdfRect image_box;
        /* One line each at the left of placed_boxes[i] (upright box coordinates), its baseline centred
         * vertically; at font_size, with the font of lines (font_objnum). */
        const PdfTextRun *const *placed;
        const PdfRect *placed_boxes;
        size_t n_placed;
        /* Lines of text from the top, at font_size (0: PDF_APPEARANCE_FONT_SIZE). font_objnum 0: no text. */
        unsigned font_objnum;
        const PdfTextRun *const *lines;
        size_t n_lines;
        double font_size;
        bool align_right;
} PdfAppearance;

/* The form XObject for a widget's /AP << /N ... >>. */
int pdf_appearance_stream(const PdfAppearance *a, PdfObjectBody *ret);

/* A line of text the app placed on the page (an issue's document number and date): box in the page's
 * upright coordinates, as the reader sees the page (the default user space when /Rotate is 0). */
typedef struct PdfPlacedText {
        PdfRect box;
        const char *text; /* UTF-8 (NFC) */
} PdfPlacedText;

/* Everything one signature's appearance adds to the file, for a writer that numbers objects from
 * first_objnum on: the form XObject (first_objnum, the widget's /AP /N), then the image and its soft mask
 * when there is an image, then the PDF_FONT_N_OBJECTS of the font subset when there is text. */
typedef struct PdfAppearanceSpec {
        double width, height; /* upright; both 0: the size of the text block (a stamp) */
        int rotate;           /* the page's normalized /Rotate */
        const PdfImage *image;
        const char *const *lines; /* UTF-8 (NFC), one per line; n_lines 0: no text */
        size_t n_lines;
        const char *font_path; /* NULL: PDF_FONT_DEFAULT_PATH */
        double font_size;      /* 0: PDF_APPEARANCE_FONT_SIZE */
        bool align_right;
        /* Placed: image_box (the image's place; NULL: no place of its own) and the texts' boxes are in the
         * page's upright coordinates, and the appearance covers their union, a text longer than its box
         * widening it (the text is never shrunk: 10 pt as the Decree asks). width and height are then
         * ignored, and PdfAppearanceObjects.box says where the union lies. */
        const PdfRect *image_box;
        const PdfPlacedText *texts;
        size_t n_texts;
} PdfAppearanceSpec;

typedef struct PdfAppearanceObjects {
        PdfObjectBody *bodies; /* bodies[i] is object first_objnum + i */
        size_t n_bodies;
        double width, height; /* the upright size drawn, what pdf_stamp_rect() wants */
        PdfRect box; /* placed: the union, in the page's upright coordinates (w, h = width, height) */
} PdfAppearanceObjects;
void pdf_appearance_objects_done(PdfAppearanceObjects *o);

/* Errors: those of pdf_font_new() and pdf_font_shape() for the text (-EOPNOTSUPP: a character the font
 * lacks), -EINVAL for a spec with neither image nor text or no size, -ENOMEM. */
int pdf_appearance_objects(const PdfAppearanceSpec *s, unsigned first_objnum, PdfAppearanceObjects *ret);

/* The signing time as stamps show it: ISO 8601 in Vietnam time, "2026-12-06T09:41:07+07:00", whatever the
 * process's time zone (Vietnam keeps UTC+7 all year). */
#define PDF_STAMP_TIME_MAX 32
int pdf_stamp_time(time_t t, char buf[static PDF_STAMP_TIME_MAX]);
