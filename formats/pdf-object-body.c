/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "macro.h"
#include "pdf-object-body.h"

void pdf_object_body_done(PdfObjectBody *b) {
        if (!b)
                return;
        b->dict = mfree(b->dict);
        b->stream = mfree(b->stream);
        b->stream_size = 0;
}

void pdf_object_bodies_done(PdfObjectBody *b, size_t n) {
        for (size_t i = 0; b && i < n; i++)
                pdf_object_body_done(&b[i]);
}

int pdf_object_body_new(
        PdfObjectBody *ret, uint8_t *stream, size_t stream_size, const char *dict_format, ...) {
        _cleanup_free_ uint8_t *s = stream;
        _cleanup_free_ char *d = NULL;
        char *dict;
        va_list ap;
        size_t l;
        int r;

        va_start(ap, dict_format);
        r = vasprintf(&d, dict_format, ap);
        va_end(ap);
        if (r < 0) {
                d = NULL;
                return -ENOMEM;
        }
        l = strlen(d);
        if (l < 4 || !startswith(d, "<<") || !streq(d + l - 2, ">>"))
                return -EINVAL;
        if (s) {
                /* The closing ">>" becomes " /Length N>>". */
                if (asprintf(&dict, "%.*s /Length %zu>>", (int) (l - 2), d, stream_size) < 0)
                        return -ENOMEM;
        } else
                dict = TAKE_PTR(d);

        *ret = (PdfObjectBody){
                .dict = dict,
                .stream = TAKE_PTR(s),
                .stream_size = stream_size,
        };
        return 0;
}

int pdf_object_body_serialize(const PdfObjectBody *b, unsigned objnum, char **buf, size_t *size) {
        _cleanup_free_ char *head = NULL;
        const char *tail = b->stream ? "\nendstream\nendobj\n" : "\nendobj\n";
        size_t hl, tl = strlen(tail), n;
        int k;
        char *p;

        k = asprintf(&head, "%u 0 obj\n%s%s", objnum, b->dict, b->stream ? "\nstream\n" : "");
        if (k < 0) {
                head = NULL;
                return -ENOMEM;
        }
        hl = (size_t) k;
        n = hl + (b->stream ? b->stream_size : 0) + tl;
        p = realloc(*buf, *size + n);
        if (!p)
                return -ENOMEM;
        memcpy(p + *size, head, hl);
        if (b->stream)
                memcpy(p + *size + hl, b->stream, b->stream_size);
        memcpy(p + *size + n - tl, tail, tl);
        *buf = p;
        *size += n;
        return 0;
}

int pdf_deflate(const void *data, size_t size, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *out = NULL;
        uLongf n;

        if (size > UINT32_MAX)
                return -E2BIG;
        n = compressBound((uLong) size);
        out = malloc(n);
        if (!out)
                return -ENOMEM;
        if (compress2(out, &n, data, (uLong) size, Z_BEST_COMPRESSION) != Z_OK)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

const char *pdf_number(double v, char buf[static PDF_NUMBER_MAX]) {
        long long m;
        char *e;

        /* PDF has no exponent form; a value this large is a bug upstream, clamp rather than emit garbage. */
        if (!(v > -1e9 && v < 1e9))
                v = 0;
        /* Thousandths as integers: printf("%f") writes the locale's decimal point, a ',' in vi_VN. */
        m = (long long) (v * 1000 + (v < 0 ? -0.5 : 0.5));
        snprintf(buf, PDF_NUMBER_MAX, "%s%lld.%03lld", m < 0 ? "-" : "", llabs(m) / 1000, llabs(m) % 1000);
        e = buf + strlen(buf) - 1;
        while (*e == '0')
                *e-- = '\0';
        if (*e == '.')
                *e = '\0';
        if (streq(buf, "-0"))
                strcpy(buf, "0");
        return buf;
}
