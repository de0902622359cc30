/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PdfFont: a TrueType font that text stamps are shaped with (HarfBuzz) and that is embedded as a subset of
 * only the glyphs used, as a Type 0 font with a ToUnicode map; PdfTextRun: one shaped line of that text. */

#include <stddef.h>
#include <stdint.h>

#include "pdf-object-body.h"

/* Metric-compatible with Times New Roman, which Decree 30/2020 asks for. From fonts-liberation2: version 1
 * (fonts-liberation, .../liberation/) has no Vietnamese letters beyond Đ and the French ones. */
#define PDF_FONT_DEFAULT_PATH "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"
#define PDF_FONT_MAX_BYTES (32U * 1024U * 1024U)
#define PDF_TEXT_MAX_BYTES 4096U
/* Type 0 font, CIDFontType2, FontDescriptor, FontFile2, ToUnicode. */
#define PDF_FONT_N_OBJECTS 5U

typedef struct PdfFont PdfFont;

typedef struct PdfGlyph {
        uint32_t gid;               /* = the CID: the subset keeps glyph IDs, CIDToGIDMap is /Identity */
        int32_t width;              /* the font's advance, what /W says, in font units */
        int32_t x_advance;          /* as shaped (kerning included), font units */
        int32_t x_offset, y_offset; /* as shaped (marks), font units */
} PdfGlyph;

typedef struct PdfTextRun {
        PdfGlyph *glyphs;
        size_t n_glyphs;
        int64_t advance; /* sum of x_advance, font units */
        unsigned upem;
} PdfTextRun;

/* Loads a TrueType font: -ENOENT, -EBADMSG when it is not a usable font (no glyphs, no glyf outlines). */
int pdf_font_new(const char *path, PdfFont **ret);
PdfFont *pdf_font_free(PdfFont *f);
static inline void pdf_font_freep(PdfFont **p) {
        pdf_font_free(*p);
}

/* Shapes one line of NFC UTF-8 text, left to right, and records its glyphs (and the text they stand for, for
 * ToUnicode) in f. -EBADMSG for text that is not UTF-8 or has control characters; -E2BIG over
 * PDF_TEXT_MAX_BYTES; -EOPNOTSUPP when the font has no glyph for a character (never a .notdef box). Shape
 * every run before pdf_font_objects(). */
int pdf_font_shape(PdfFont *f, const char *utf8, PdfTextRun **ret);
PdfTextRun *pdf_text_run_free(PdfTextRun *r);
static inline void pdf_text_run_freep(PdfTextRun **p) {
        pdf_text_run_free(*p);
}

/* The run's advance width in points at size_pt. */
double pdf_text_run_width(const PdfTextRun *r, double size_pt);

/* Content-stream operators that draw the run in black with its baseline starting at (x, y):
 * "BT /NAME SIZE Tf 0 g ... TJ ET" (a Tm restarts the run where a glyph leaves the baseline). */
int pdf_text_run_operators(
        const PdfTextRun *r, const char *font_resource, double size_pt, double x, double y, char **ret);

/* The TrueType subset holding exactly the glyphs shaped so far (and .notdef), glyph IDs kept. */
int pdf_font_subset(PdfFont *f, uint8_t **ret, size_t *ret_size);

/* The font's objects, numbered by the caller from first_objnum: bodies[0] is the Type 0 font (the object to
 * name in /Resources /Font), then the CIDFont, FontDescriptor, FontFile2 and ToUnicode. -ENODATA when no
 * text was shaped. On failure nothing is left allocated. */
int pdf_font_objects(PdfFont *f, unsigned first_objnum, PdfObjectBody ret_bodies[static PDF_FONT_N_OBJECTS]);
