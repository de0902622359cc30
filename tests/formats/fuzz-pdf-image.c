/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the PNG decoder of signature and seal images (an fd from any local app). Before decoding, the chunk
 * CRCs of the input are recomputed so that mutations reach the header checks, the inflater and the row
 * filters instead of stopping at a CRC mismatch; every input is decoded as it is too. */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "formats/pdf-image.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get_be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void fix_crcs(uint8_t *p, size_t size) {
        for (size_t off = 8; off + 12 <= size;) {
                uint32_t len = get_be32(p + off), crc;

                if (len > size - off - 12)
                        break;
                crc = (uint32_t) crc32(0, p + off + 4, len + 4);
                p[off + 8 + len] = (uint8_t) (crc >> 24);
                p[off + 9 + len] = (uint8_t) (crc >> 16);
                p[off + 10 + len] = (uint8_t) (crc >> 8);
                p[off + 11 + len] = (uint8_t) crc;
                off += 12 + (size_t) len;
        }
}

static void decode(const uint8_t *data, size_t size) {
        PdfImage *img = NULL;
        PdfImageProblem problem = PDF_IMAGE_OK;
        PdfObjectBody b[2] = {};
        int r;

        r = pdf_image_from_png(data, size, 0, &img, &problem);
        if (r < 0) {
                /* Every refusal says why, in words. */
                if (r != -ENOMEM && !pdf_image_problem_to_string(problem))
                        abort();
                return;
        }
        if (!img || img->width == 0 || img->height == 0 || (img->channels != 1 && img->channels != 3))
                abort();
        if (pdf_image_objects(img, 1, b) >= 0)
                pdf_object_bodies_done(b, pdf_image_n_objects(img));
        pdf_image_free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *copy = NULL;

        decode(data, size);
        if (size > 8 && size <= PDF_IMAGE_MAX_BYTES) {
                copy = memdup(data, size);
                if (!copy)
                        return 0;
                fix_crcs(copy, size);
                decode(copy, size);
        }
        return 0;
}
