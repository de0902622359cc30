/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "macro.h"
#include "pdf-diff.h"
#include "pdf-revisions.h"
#include "qpdf-dl.h"
#include "string-table.h"

static const char *const pdf_xref_kind_table[_PDF_XREF_KIND_MAX] = {
        [PDF_XREF_TABLE] = "table",
        [PDF_XREF_STREAM] = "stream",
        [PDF_XREF_HYBRID] = "hybrid",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_xref_kind, PdfXrefKind);

static const char *const pdf_xref_entry_kind_table[_PDF_XREF_ENTRY_KIND_MAX] = {
        [PDF_XREF_ENTRY_FREE] = "free",
        [PDF_XREF_ENTRY_IN_USE] = "in-use",
        [PDF_XREF_ENTRY_COMPRESSED] = "compressed",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_xref_entry_kind, PdfXrefEntryKind);

/* PDF white-space (ISO 32000-1, 7.2.2). */
static bool is_ws(uint8_t c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}

static bool is_digit(uint8_t c) {
        return c >= '0' && c <= '9';
}

/* A cursor over untrusted bytes: every read is checked against `size`. */
typedef struct Cursor {
        const uint8_t *data;
        size_t size;
        size_t pos;
} Cursor;

static void skip_ws(Cursor *c) {
        while (c->pos < c->size && is_ws(c->data[c->pos]))
                c->pos++;
}

/* Skips white-space and %-comments (a comment runs to the end of its line). */
static void skip_ws_comments(Cursor *c) {
        for (;;) {
                skip_ws(c);
                if (c->pos >= c->size || c->data[c->pos] != '%')
                        return;
                while (c->pos < c->size && c->data[c->pos] != '\n' && c->data[c->pos] != '\r')
                        c->pos++;
        }
}

static bool take_keyword(Cursor *c, const char *kw) {
        size_t l = strlen(kw);

        if (c->size - c->pos < l || memcmp(c->data + c->pos, kw, l) != 0)
                return false;
        c->pos += l;
        return true;
}

/* An unsigned decimal of at most 19 digits (no sign: offsets and counts are never negative). */
static int take_uint(Cursor *c, uint64_t *ret) {
        uint64_t v = 0;
        size_t n = 0;

        while (c->pos < c->size && is_digit(c->data[c->pos])) {
                if (++n > 19)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (c->data[c->pos++] - '0');
        }
        if (n == 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int pdf_source_read(const PdfSource *s, uint64_t offset, void *buf, size_t n) {
        if (!s || (n > 0 && !buf) || offset > s->size || n > s->size - offset)
                return -EINVAL;
        if (s->data) {
                memcpy(buf, s->data + offset, n);
                return 0;
        }
        for (size_t done = 0; done < n;) {
                ssize_t k = pread(s->fd, (uint8_t *) buf + done, n - done, (off_t) (offset + done));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ESTALE; /* the file is shorter than it was */
                done += (size_t) k;
        }
        return 0;
}

int pdf_source_view(
        const PdfSource *s, uint64_t offset, size_t n, const uint8_t **ret, size_t *ret_n,
        uint8_t **ret_owned) {
        uint8_t *buf;
        int r;

        if (!s || !ret || !ret_n || !ret_owned)
                return -EINVAL;
        offset = MIN(offset, s->size);
        n = (size_t) MIN((uint64_t) n, s->size - offset);
        if (s->data) {
                *ret = s->data + offset;
                *ret_n = n;
                *ret_owned = NULL;
                return 0;
        }
        buf = malloc(MAX(n, (size_t) 1));
        if (!buf)
                return -ENOMEM;
        r = pdf_source_read(s, offset, buf, n);
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = *ret_owned = buf;
        *ret_n = n;
        return 0;
}

/* A file is scanned this much at a time, and this much before each "%%EOF" is read to find its
 * "startxref N" (memory is looked at in place, all of it). */
#define SCAN_CHUNK ((size_t) 1 << 20)
#define EOF_LOOKBACK ((size_t) 4096)

/* Whether the "%%EOF" at `at` ends a revision: white-space, the offset's digits, white-space and
 * "startxref" before it. w holds the bytes from `base` up to at least at + 5, and the two after when the
 * file has them. */
static bool
revision_at(const uint8_t *w, size_t w_n, uint64_t base, uint64_t at, uint64_t size, PdfRevision *ret) {
        size_t p = (size_t) (at - base), e;
        uint64_t xref = 0, mul = 1;
        bool digits = false;

        while (p > 0 && is_ws(w[p - 1]))
                p--;
        while (p > 0 && is_digit(w[p - 1])) {
                if (mul > UINT64_C(1000000000000000000))
                        break;
                xref += (uint64_t) (w[p - 1] - '0') * mul;
                mul *= 10;
                digits = true;
                p--;
        }
        if (!digits || p == 0 || !is_ws(w[p - 1]))
                return false;
        while (p > 0 && is_ws(w[p - 1]))
                p--;
        if (p < 9 || memcmp(w + p - 9, "startxref", 9) != 0)
                return false;

        *ret = (PdfRevision){ .startxref = xref, .eof_end = at + 5, .end = at + 5 };
        e = (size_t) (ret->end - base);
        if (ret->end < size && e < w_n && w[e] == '\r') {
                ret->end++;
                e++;
        }
        if (ret->end < size && e < w_n && w[e] == '\n')
                ret->end++;
        return true;
}

int pdf_revisions_find_source(const PdfSource *s, size_t max, PdfRevision **ret, size_t *ret_n) {
        _cleanup_free_ PdfRevision *revs = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!s || (!s->data && s->fd < 0) || !ret || !ret_n)
                return -EINVAL;

        for (uint64_t from = 0; from + 5 <= s->size;) {
                _cleanup_free_ uint8_t *chunk_owned = NULL, *window_owned = NULL;
                const uint8_t *chunk, *hit, *w;
                size_t chunk_n, w_n;
                uint64_t at, base;
                PdfRevision rev;

                r = pdf_source_view(
                        s, from, s->data ? (size_t) (s->size - from) : SCAN_CHUNK, &chunk, &chunk_n,
                        &chunk_owned);
                if (r < 0)
                        return r;
                hit = memmem(chunk, chunk_n, "%%EOF", 5);
                if (!hit) {
                        if (from + chunk_n >= s->size)
                                break;
                        from += chunk_n - 4; /* a marker across the boundary is found in the next chunk */
                        continue;
                }
                at = from + (uint64_t) (hit - chunk);
                from = at + 5;

                base = s->data ? 0 : at - MIN(at, (uint64_t) EOF_LOOKBACK);
                r = pdf_source_view(s, base, (size_t) (at - base) + 7, &w, &w_n, &window_owned);
                if (r < 0)
                        return r;
                if (!revision_at(w, w_n, base, at, s->size, &rev))
                        continue;
                if (n >= max)
                        return -E2BIG;
                r = ARRAY_RESERVE(revs, allocated, n + 1, 16);
                if (r < 0)
                        return r;
                revs[n++] = rev;
        }

        *ret = TAKE_PTR(revs);
        *ret_n = n;
        return 0;
}

int pdf_revisions_find(const void *data, size_t size, size_t max, PdfRevision **ret, size_t *ret_n) {
        PdfSource s = pdf_source_memory(data, size);

        if (!data && size > 0)
                return -EINVAL;
        if (!data)
                return *ret = NULL, *ret_n = 0, 0;
        return pdf_revisions_find_source(&s, max, ret, ret_n);
}

/* How far from the end qpdf looks for "startxref". */
#define STARTXREF_TAIL ((size_t) 1054)

int pdf_revisions_find_unended(const PdfSource *s, uint64_t from, PdfRevision *ret) {
        _cleanup_free_ uint8_t *owned = NULL;
        const uint8_t *w, *hit = NULL;
        size_t w_n;
        uint64_t base, xref;
        Cursor c;
        int r;

        if (!s || !ret)
                return -EINVAL;
        if (from >= s->size)
                return 0;
        base = s->size > STARTXREF_TAIL ? s->size - STARTXREF_TAIL : 0;
        base = MAX(base, from);
        r = pdf_source_view(s, base, (size_t) (s->size - base), &w, &w_n, &owned);
        if (r < 0)
                return r;
        for (const uint8_t *p = w; (p = memmem(p, w_n - (size_t) (p - w), "startxref", 9)); p++)
                hit = p;
        if (!hit)
                return 0;
        /* As qpdf's tokenizer reads it: white-space and comments, then the offset. Anything else is refused
         * rather than guessed: qpdf might read it as an offset. */
        c = (Cursor){ .data = w, .size = w_n, .pos = (size_t) (hit - w) + 9 };
        skip_ws_comments(&c);
        if (take_uint(&c, &xref) < 0)
                return -EBADMSG;
        *ret = (PdfRevision){ .startxref = xref, .eof_end = s->size, .end = s->size };
        return 1;
}

int pdf_revisions_ending_at(const PdfRevision *revs, size_t n, uint64_t offset) {
        for (size_t i = 0; i < n; i++)
                if (revs[i].eof_end == offset || revs[i].end == offset)
                        return (int) i;
        return -ENOENT;
}

typedef struct Entries {
        PdfXrefEntry *e;
        size_t n, allocated;
} Entries;

static int
entries_add(Entries *es, uint64_t number, PdfXrefEntryKind kind, uint64_t offset, uint64_t generation) {
        if (number > INT32_MAX || generation > UINT32_MAX)
                return -EBADMSG;
        if (es->n >= PDF_REVISION_MAX_XREF_ENTRIES)
                return -E2BIG;
        if (ARRAY_RESERVE(es->e, es->allocated, es->n + 1, 16) < 0)
                return -ENOMEM;
        es->e[es->n++] = (PdfXrefEntry){
                .number = (uint32_t) number,
                .kind = kind,
                .offset = offset,
                .generation = (uint32_t) generation,
        };
        return 0;
}

static long long oh_int(qpdf_data q, qpdf_oh oh, long long def) {
        long long v;

        if (!qpdf_oh_is_integer(q, oh) || !qpdf_oh_get_value_as_longlong(q, oh, &v))
                return def;
        return v;
}

/* An xref stream "N G obj << /Type /XRef ... >> stream" at `offset`, decoded through qpdf. */
static int read_xref_stream(const uint8_t *d, size_t size, uint64_t offset, qpdf_data q, Entries *es) {
        Cursor c = { .data = d, .size = size, .pos = (size_t) offset };
        uint64_t num, gen, sz;
        qpdf_oh s, w, index;
        int widths[3], row = 0, n_index;
        unsigned char *buf = NULL;
        size_t len = 0, at = 0;
        QPDF_BOOL filtered = QPDF_FALSE;
        int r = 0;

        if (offset >= size || !q)
                return -EBADMSG;
        if (take_uint(&c, &num) < 0 || (skip_ws(&c), take_uint(&c, &gen)) < 0 ||
            (skip_ws(&c), !take_keyword(&c, "obj")) || num == 0 || num > INT32_MAX || gen > INT32_MAX)
                return -EBADMSG;

        s = qpdf_get_object_by_id(q, (int) num, (int) gen);
        if (!qpdf_oh_is_stream(q, s) ||
            !qpdf_oh_is_name_and_equals(q, pdf_oh_key(q, qpdf_oh_get_dict(q, s), "/Type"), "/XRef"))
                return -EBADMSG;
        w = pdf_oh_key(q, s, "/W");
        if (!qpdf_oh_is_array(q, w) || qpdf_oh_get_array_n_items(q, w) != 3)
                return -EBADMSG;
        for (int i = 0; i < 3; i++) {
                long long v = oh_int(q, qpdf_oh_get_array_item(q, w, i), -1);
                if (v < 0 || v > 8)
                        return -EBADMSG;
                widths[i] = (int) v;
                row += widths[i];
        }
        if (row == 0)
                return -EBADMSG;
        sz = (uint64_t) oh_int(q, pdf_oh_key(q, s, "/Size"), -1);
        if ((long long) sz < 0)
                return -EBADMSG;
        index = pdf_oh_key(q, s, "/Index");
        if (qpdf_oh_is_null(q, index))
                n_index = 0;
        else if (!qpdf_oh_is_array(q, index) || (n_index = qpdf_oh_get_array_n_items(q, index)) % 2 != 0)
                return -EBADMSG;

        if (qpdf_oh_get_stream_data(q, s, qpdf_dl_generalized, &filtered, &buf, &len) != QPDF_SUCCESS ||
            !filtered) {
                free(buf);
                return -EBADMSG;
        }

        for (int k = 0; k < MAX(n_index, 1) && r >= 0; k += 2) {
                long long first = 0, count = (long long) sz;

                if (n_index > 0) {
                        first = oh_int(q, qpdf_oh_get_array_item(q, index, k), -1);
                        count = oh_int(q, qpdf_oh_get_array_item(q, index, k + 1), -1);
                }
                if (first < 0 || count < 0 || first > INT32_MAX || count > INT32_MAX) {
                        r = -EBADMSG;
                        break;
                }
                for (long long i = 0; i < count; i++) {
                        uint64_t f[3];

                        if (len - at < (size_t) row) {
                                r = -EBADMSG;
                                break;
                        }
                        for (int j = 0; j < 3; j++) {
                                f[j] = 0;
                                for (int b = 0; b < widths[j]; b++)
                                        f[j] = (f[j] << 8) | buf[at++];
                        }
                        if (widths[0] == 0)
                                f[0] = 1; /* the default type */
                        if (f[0] > 2)
                                continue; /* unknown types are ignored, as readers must (7.5.8.3) */
                        r = entries_add(
                                es, (uint64_t) (first + i),
                                f[0] == 0   ? PDF_XREF_ENTRY_FREE
                                : f[0] == 1 ? PDF_XREF_ENTRY_IN_USE
                                            : PDF_XREF_ENTRY_COMPRESSED,
                                f[1], f[2]);
                        if (r < 0)
                                break;
                }
        }
        free(buf);
        return r;
}

/* A table "xref ... trailer" at `offset`. A hybrid file's trailer names a stream with more entries
 * (/XRefStm): its offset goes to *ret_stm (UINT64_MAX: none), for the caller to read it. */
static int read_xref_table(const uint8_t *d, size_t size, uint64_t offset, Entries *es, uint64_t *ret_stm) {
        Cursor c = { .data = d, .size = size, .pos = (size_t) offset };
        int r;

        *ret_stm = UINT64_MAX;
        if (!take_keyword(&c, "xref"))
                return -EBADMSG;
        for (;;) {
                uint64_t first, count;

                skip_ws_comments(&c);
                if (take_keyword(&c, "trailer"))
                        break;
                if (take_uint(&c, &first) < 0 || (skip_ws(&c), take_uint(&c, &count)) < 0)
                        return -EBADMSG;
                if (first > INT32_MAX || count > PDF_REVISION_MAX_XREF_ENTRIES)
                        return -EBADMSG;
                for (uint64_t i = 0; i < count; i++) {
                        uint64_t off, gen;
                        uint8_t t;

                        skip_ws(&c);
                        if (take_uint(&c, &off) < 0 || (skip_ws(&c), take_uint(&c, &gen)) < 0)
                                return -EBADMSG;
                        skip_ws(&c);
                        if (c.pos >= c.size)
                                return -EBADMSG;
                        t = c.data[c.pos++];
                        if (t != 'n' && t != 'f')
                                return -EBADMSG;
                        r = entries_add(
                                es, first + i, t == 'n' ? PDF_XREF_ENTRY_IN_USE : PDF_XREF_ENTRY_FREE, off,
                                gen);
                        if (r < 0)
                                return r;
                }
        }

        /* A hybrid file's trailer names a stream with more entries (/XRefStm); it belongs to this section.
         * The trailer runs to the "startxref" that ends this revision. */
        size_t end = c.pos;
        const uint8_t *sx = memmem(d + c.pos, size - c.pos, "startxref", 9);
        end = sx ? (size_t) (sx - d) : size;
        const uint8_t *x = memmem(d + c.pos, end - c.pos, "/XRefStm", 8);
        if (x) {
                Cursor xc = { .data = d, .size = end, .pos = (size_t) (x - d) + 8 };
                uint64_t stm;

                skip_ws(&xc);
                if (take_uint(&xc, &stm) < 0)
                        return -EBADMSG;
                *ret_stm = stm;
        }
        return 0;
}

/* A section read from a file is read into memory: an update's is small, and one this large is not read. */
#define XREF_WINDOW_MAX ((size_t) 16 << 20)
/* "N G obj" of an xref stream named by /XRefStm. */
#define XREF_STREAM_HEADER_MAX ((size_t) 256)

int pdf_revision_xref(
        const PdfSource *src, const PdfRevision *rev, qpdf_data q, PdfXrefEntry **ret, size_t *ret_n) {
        _cleanup_free_ uint8_t *owned = NULL, *stm_owned = NULL;
        const uint8_t *w, *sw;
        size_t w_n, sw_n;
        uint64_t stm = UINT64_MAX;
        Entries es = {};
        Cursor c;
        int r;

        if (!src || !rev || !ret || !ret_n)
                return -EINVAL;
        if (rev->startxref >= src->size || rev->end > src->size)
                return -EBADMSG;

        /* From the section to the end of the file, as a reader sees it (memory: in place). */
        r = pdf_source_view(
                src, rev->startxref, src->data ? (size_t) (src->size - rev->startxref) : XREF_WINDOW_MAX, &w,
                &w_n, &owned);
        if (r < 0)
                return r;
        c = (Cursor){ .data = w, .size = w_n };
        skip_ws(&c);
        if (c.size - c.pos >= 4 && memcmp(c.data + c.pos, "xref", 4) == 0) {
                r = read_xref_table(w, w_n, c.pos, &es, &stm);
                if (r >= 0 && stm != UINT64_MAX) {
                        r = pdf_source_view(
                                src, stm,
                                src->data ? (size_t) (src->size - MIN(stm, src->size))
                                          : XREF_STREAM_HEADER_MAX,
                                &sw, &sw_n, &stm_owned);
                        if (r >= 0)
                                r = read_xref_stream(sw, sw_n, 0, q, &es);
                }
        } else
                r = read_xref_stream(w, w_n, c.pos, q, &es);
        if (r < 0) {
                free(es.e);
                return r == -ESTALE || r == -ENOMEM || r == -E2BIG ? r : -EBADMSG;
        }
        *ret = es.e;
        *ret_n = es.n;
        return 0;
}
