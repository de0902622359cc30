/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PNG files made in memory by libpng for the appearance tests: every color type, depth and interlacing a
 * signature or seal image may come in, with a pattern the tests can check after decoding. */

#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct TestPng {
        uint8_t *data;
        size_t size;
} TestPng;

static void test_png_write(png_structp png, png_bytep p, size_t n) {
        TestPng *t = png_get_io_ptr(png);
        t->data = realloc(t->data, t->size + n);
        memcpy(t->data + t->size, p, n);
        t->size += n;
}

static void test_png_flush(png_structp png) {
}

/* The sample for channel c of pixel (x, y) at a depth of 8 or 16: red-ish on the left, fading out. */
static inline unsigned test_png_sample(unsigned x, unsigned y, unsigned c, unsigned w) {
        switch (c) {
        case 0:
                return 200;
        case 1:
                return (x * 7 + y) % 64;
        case 2:
                return 20;
        default: /* alpha: transparent on the right half */
                return x < w / 2 ? 255 : 0;
        }
}

/* A w x h PNG of color_type and depth; palette images get a 4-entry palette with one transparent entry. */
static inline TestPng test_png_make(unsigned w, unsigned h, int color_type, int depth, int interlace) {
        TestPng t = {};
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        png_infop info = png_create_info_struct(png);
        unsigned ch = color_type == PNG_COLOR_TYPE_RGBA         ? 4
                      : color_type == PNG_COLOR_TYPE_RGB        ? 3
                      : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                                : 1;
        size_t rowbytes = (size_t) w * ch * (depth == 16 ? 2 : 1);
        uint8_t *row = calloc(1, rowbytes);

        if (setjmp(png_jmpbuf(png)))
                abort();
        png_set_write_fn(png, &t, test_png_write, test_png_flush);
        png_set_IHDR(
                png, info, w, h, depth, color_type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                PNG_FILTER_TYPE_DEFAULT);
        if (color_type == PNG_COLOR_TYPE_PALETTE) {
                png_color pal[4] = { { 200, 0, 0 }, { 0, 0, 200 }, { 255, 255, 255 }, { 0, 0, 0 } };
                png_byte trans[1] = { 0 };
                png_set_PLTE(png, info, pal, 4);
                png_set_tRNS(png, info, trans, 1, NULL);
        }
        png_write_info(png, info);
        if (depth < 8)
                png_set_packing(png);
        for (int pass = png_set_interlace_handling(png); pass > 0; pass--)
                for (unsigned y = 0; y < h; y++) {
                        for (unsigned x = 0; x < w; x++)
                                for (unsigned c = 0; c < ch; c++) {
                                        unsigned v;
                                        if (color_type == PNG_COLOR_TYPE_PALETTE)
                                                v = x % 4;
                                        else if (color_type & PNG_COLOR_MASK_ALPHA && c == ch - 1)
                                                v = test_png_sample(x, y, 3, w);
                                        else
                                                v = test_png_sample(x, y, c, w);
                                        if (depth == 16) {
                                                row[(x * ch + c) * 2] = (uint8_t) v;
                                                row[(x * ch + c) * 2 + 1] = 0x55;
                                        } else
                                                row[x * ch + c] = (uint8_t) v;
                                }
                        png_write_row(png, row);
                }
        png_write_end(png, info);
        png_destroy_write_struct(&png, &info);
        free(row);
        return t;
}

/* An 8-bit RGBA PNG of w x h pixels (rgba: 4 bytes a pixel, rows top to bottom). */
static inline TestPng test_png_from_rgba(unsigned w, unsigned h, const uint8_t *rgba) {
        TestPng t = {};
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        png_infop info = png_create_info_struct(png);

        if (setjmp(png_jmpbuf(png)))
                abort();
        png_set_write_fn(png, &t, test_png_write, test_png_flush);
        png_set_IHDR(
                png, info, w, h, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (unsigned y = 0; y < h; y++)
                png_write_row(png, rgba + (size_t) y * w * 4);
        png_write_end(png, info);
        png_destroy_write_struct(&png, &info);
        return t;
}
