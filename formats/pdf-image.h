/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PdfImage: an untrusted PNG (a handwritten signature, a seal) decoded with libpng into what a PDF image
 * XObject holds: 8-bit RGB or gray samples and, when the PNG has transparency, an 8-bit soft mask. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdf-object-body.h"

/* Limits for an image from configuration or from a request: beyond them it is refused, not decoded. */
#define PDF_IMAGE_MAX_BYTES (4U * 1024U * 1024U)
#define PDF_IMAGE_MAX_SIDE 4000U

typedef enum PdfImageProblem {
        PDF_IMAGE_OK,
        PDF_IMAGE_NOT_PNG,    /* no PNG signature */
        PDF_IMAGE_TOO_LARGE,  /* file over PDF_IMAGE_MAX_BYTES or a side over PDF_IMAGE_MAX_SIDE */
        PDF_IMAGE_DAMAGED,    /* truncated, bad CRC, bad compressed data, ... */
        PDF_IMAGE_NO_ALPHA,   /* transparency required but the image is opaque everywhere */
        PDF_IMAGE_UNREADABLE, /* the file cannot be read */
        _PDF_IMAGE_PROBLEM_MAX,
        _PDF_IMAGE_PROBLEM_INVALID = -EINVAL,
} PdfImageProblem;

typedef enum PdfImageFlags {
        PDF_IMAGE_REQUIRE_ALPHA = 1 << 0, /* a seal or signature must show the page through it */
} PdfImageFlags;

typedef struct PdfImage {
        uint32_t width, height;
        unsigned channels; /* 1 (DeviceGray) or 3 (DeviceRGB) */
        uint8_t *samples;  /* width * height * channels bytes, rows top to bottom */
        uint8_t *alpha;    /* width * height bytes, or NULL when every pixel is opaque */
} PdfImage;

/* The user-facing sentence for a problem (translated), NULL for PDF_IMAGE_OK or an invalid value. */
const char *pdf_image_problem_to_string(PdfImageProblem p);

/* Decodes a PNG. On failure returns a negative errno (-EBADMSG for a bad image, -E2BIG for a too large one,
 * -ENOMEM) and, when ret_problem is not NULL, says why in *ret_problem (set on failure too: it is the
 * reason). Palette, tRNS, 1-16 bit and interlaced images are all reduced to 8-bit gray or RGB (+ alpha). */
int pdf_image_from_png(
        const void *data, size_t size, PdfImageFlags flags, PdfImage **ret, PdfImageProblem *ret_problem);
int pdf_image_from_png_file(
        const char *path, PdfImageFlags flags, PdfImage **ret, PdfImageProblem *ret_problem);
/* An image handed over as an fd (a request's): a regular file or memfd, so that reading it cannot block,
 * no larger than PDF_IMAGE_MAX_BYTES. -EBADFD for another kind of file, -EFBIG when larger. */
int pdf_image_fd_check(int fd);
/* Its bytes, read from its start whatever the fd's offset and never past PDF_IMAGE_MAX_BYTES (a file that
 * grew: -EFBIG); -ENODATA when empty. Not decoded: pdf_image_from_png() does, with the document. */
int pdf_image_read_fd(int fd, uint8_t **ret, size_t *ret_size);
PdfImage *pdf_image_free(PdfImage *img);
static inline void pdf_image_freep(PdfImage **p) {
        pdf_image_free(*p);
}

/* How many PDF objects the image takes: 1, or 2 with a soft mask. */
size_t pdf_image_n_objects(const PdfImage *img);
/* Builds the objects, numbered by the caller: bodies[0] is the image XObject (object first_objnum, the one
 * to name in /Resources /XObject), bodies[1] its /SMask (object first_objnum + 1) when there is one. bodies
 * must have pdf_image_n_objects() entries; on failure none is left allocated. */
int pdf_image_objects(const PdfImage *img, unsigned first_objnum, PdfObjectBody *ret_bodies);
