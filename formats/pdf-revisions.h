/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The revisions of a PDF read from its bytes: where each one ends (`startxref N %%EOF`), and the
 * cross-reference entries of one revision's own section (table or stream), the small part qpdf's C API does
 * not expose. Bounds-checked: the input is untrusted. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qpdf/qpdf-c.h>

/* At most this many entries in one revision's own cross-reference section; more is -E2BIG. */
#define PDF_REVISION_MAX_XREF_ENTRIES (1U << 22)

typedef struct PdfRevision {
        uint64_t startxref; /* the offset its `startxref` names: its cross-reference section */
        uint64_t eof_end;   /* just after its `%%EOF` */
        uint64_t end;       /* eof_end plus the end-of-line after it (CR, LF or CRLF), if any */
} PdfRevision;

/* The kind of a cross-reference section. HYBRID is a table whose trailer has /XRefStm (an incremental
 * update after it gets a table without /XRefStm). */
typedef enum PdfXrefKind {
        PDF_XREF_TABLE,
        PDF_XREF_STREAM,
        PDF_XREF_HYBRID,
        _PDF_XREF_KIND_MAX,
        _PDF_XREF_KIND_INVALID = -EINVAL,
} PdfXrefKind;
const char *pdf_xref_kind_to_string(PdfXrefKind k); /* "table", "stream", "hybrid" */

/* The kind of one entry of a section. */
typedef enum PdfXrefEntryKind {
        PDF_XREF_ENTRY_FREE,
        PDF_XREF_ENTRY_IN_USE,     /* at a byte offset */
        PDF_XREF_ENTRY_COMPRESSED, /* inside an object stream */
        _PDF_XREF_ENTRY_KIND_MAX,
        _PDF_XREF_ENTRY_KIND_INVALID = -EINVAL,
} PdfXrefEntryKind;

typedef struct PdfXrefEntry {
        uint32_t number;
        PdfXrefEntryKind kind;
        uint64_t offset; /* IN_USE: byte offset; COMPRESSED: the object stream's number; FREE: next free */
        uint32_t generation; /* IN_USE, FREE: generation; COMPRESSED: index in the object stream */
} PdfXrefEntry;

/* The bytes of a PDF being read: memory the caller keeps alive and unchanged, or a regular file read with
 * pread(), never mapped, so that resident memory does not grow with the file and a file truncated while it
 * is read gives an error instead of SIGBUS. */
typedef struct PdfSource {
        const uint8_t *data; /* NULL: read from fd */
        int fd;
        uint64_t size; /* as the caller found it (fstat()) */
} PdfSource;

static inline PdfSource pdf_source_memory(const void *data, size_t size) {
        return (PdfSource){ .data = data, .fd = -1, .size = size };
}

/* Exactly n bytes at offset (offset + n <= size). -ESTALE when the file ended before: it shrank while read.
 */
int pdf_source_read(const PdfSource *s, uint64_t offset, void *buf, size_t n);
/* The bytes [offset, offset + n) clipped to the source: a pointer into memory, or for a file a malloc()ed
 * copy, also in *ret_owned (free it; NULL for memory). *ret_n: bytes available. */
int pdf_source_view(
        const PdfSource *s, uint64_t offset, size_t n, const uint8_t **ret, size_t *ret_n,
        uint8_t **ret_owned);

/* Finds every `startxref N %%EOF` in data, in file order (at most max revisions, else -E2BIG). Returns 0
 * with a malloc()ed array (possibly empty: *ret_n == 0, *ret NULL), or -EINVAL/-ENOMEM/-E2BIG. */
int pdf_revisions_find(const void *data, size_t size, size_t max, PdfRevision **ret, size_t *ret_n);
/* The same over a source, read in chunks; -ESTALE when a file shrank while read. */
int pdf_revisions_find_source(const PdfSource *s, size_t max, PdfRevision **ret, size_t *ret_n);

/* qpdf reads the file from the last "startxref N" in its last 1054 bytes, with or without "%%EOF" after it.
 * When one lies after `from` (the end of the last revision found), the bytes after it are an update of their
 * own: returns 1 with it in *ret (ending at the end of the file), 0 when there is none, -EBADMSG when such a
 * "startxref" is not followed by an offset. */
int pdf_revisions_find_unended(const PdfSource *s, uint64_t from, PdfRevision *ret);
/* The index of the revision that ends at `offset` (at its eof_end or its end), or -ENOENT. */
int pdf_revisions_ending_at(const PdfRevision *revs, size_t n, uint64_t offset);

/* The entries of rev's own cross-reference section (a table, with its trailer's /XRefStm for hybrid files,
 * or a stream), in section order. `q` is qpdf opened on the bytes up to rev->end: an xref stream is decoded
 * through it. Returns 0 with a malloc()ed array, -EBADMSG when the section cannot be read, -E2BIG, -ENOMEM.
 */
int pdf_revision_xref(
        const PdfSource *src, const PdfRevision *rev, qpdf_data q, PdfXrefEntry **ret, size_t *ret_n);

const char *pdf_xref_entry_kind_to_string(PdfXrefEntryKind k);
