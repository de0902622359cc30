/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PdfObjectBody: one PDF object without its number, a dictionary and optional stream bytes, made by the
 * appearance builders so that the incremental writer can number it and append it after the original bytes.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct PdfObjectBody {
        char *dict;      /* "<< ... >>", complete: with /Length and /Filter when there is a stream */
        uint8_t *stream; /* NULL: the object is the dictionary alone */
        size_t stream_size;
} PdfObjectBody;

void pdf_object_body_done(PdfObjectBody *b);
void pdf_object_bodies_done(PdfObjectBody *b, size_t n);

/* Takes ownership of stream (may be NULL) and formats the dictionary; "/Length N" is added before the
 * dictionary's closing ">>" when there is a stream, so callers never count bytes themselves. */
int pdf_object_body_new(
        PdfObjectBody *ret, uint8_t *stream, size_t stream_size, const char *dict_format, ...)
        __attribute__((format(printf, 4, 5)));

/* Appends "NUM 0 obj\n...\nendobj\n" to *buf (realloc'd, *size grows); for tests and simple writers. */
int pdf_object_body_serialize(const PdfObjectBody *b, unsigned objnum, char **buf, size_t *size);

/* Deflates data (zlib format, as /FlateDecode wants) into a new malloc'd buffer. */
int pdf_deflate(const void *data, size_t size, uint8_t **ret, size_t *ret_size);

/* v as a PDF real with at most 3 decimals and no trailing zeros ("12.5", "-0.333", "0"). */
#define PDF_NUMBER_MAX 32
const char *pdf_number(double v, char buf[static PDF_NUMBER_MAX]);
