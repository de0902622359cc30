/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PdfDocument: a PDF as kyso reads it before signing it: the original bytes (mapped read-only from an fd, or
 * borrowed memory), checked by qpdf with recovery off, and the few facts an incremental update needs.
 *
 * qpdf is used only inside pdf_document_open_*() and pdf_document_read_page(): everything the writer needs
 * (the last revision's cross-reference kind and offset, the trailer's /Size, /Root, /Info and /ID, the
 * catalog, the AcroForm and page 1 as text to re-emit, the signed widgets' places) is taken out then and
 * qpdf is closed (a visible signature on another page reads that page again: pdf_document_read_page()), so a
 * PdfDocument holds the mapping and a few small strings and can be handed to another thread. Memory does not
 * grow with the document beyond the mapping (qpdf reads the mapped bytes in place and parses only the
 * objects asked for).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "content-digest.h"
#include "macro.h"
#include "pdf-revisions.h" /* PdfXrefKind: of the last section, which the update repeats */
#include "signer.h"

/* Why a PDF is not signed. Each comes with a negative errno from pdf_document_open_*() (below) and with an
 * advice sentence for the user from pdf_refusal_advice(). The names (pdf_refusal_to_string()) are stable:
 * the agent and the audit log use them. */
typedef enum PdfRefusal {
        PDF_REFUSAL_NONE,                 /* "none": the document can be signed */
        PDF_REFUSAL_NOT_PDF,              /* "not-pdf": no "%PDF-" in the first 1024 bytes (-EMEDIUMTYPE) */
        PDF_REFUSAL_ENCRYPTED,            /* "encrypted": has /Encrypt (-EACCES) */
        PDF_REFUSAL_DAMAGED,              /* "damaged": qpdf cannot read it without repair (-EBADMSG) */
        PDF_REFUSAL_CERTIFIED_NO_CHANGES, /* "certified-no-changes": DocMDP with /P 1 (-EPERM) */
        PDF_REFUSAL_UNSUPPORTED,          /* "unsupported": readable but not signable by kyso, e.g. no
                                           * pages, a page 1 that is not a dictionary, more than
                                           * PDF_DOCUMENT_MAX_SIZE bytes (-EOPNOTSUPP) */
        _PDF_REFUSAL_MAX,
        _PDF_REFUSAL_INVALID = -EINVAL,
} PdfRefusal;

const char *pdf_refusal_to_string(PdfRefusal r);
PdfRefusal pdf_refusal_from_string(const char *s);
/* An English sentence saying what the user can do, e.g. "the PDF is encrypted: remove the password, then
 * sign". NULL for an invalid value. */
const char *pdf_refusal_advice(PdfRefusal r);
/* The errno pdf_document_open_*() returns with r (0 for NONE). */
int pdf_refusal_to_errno(PdfRefusal r);

/* An indirect reference; num == 0: none. References with a generation above 65535 are not kept. */
typedef struct PdfRef {
        uint32_t num;
        uint32_t gen;
} PdfRef;

/* A signed signature field's widget: where an earlier signer's signature is drawn (the seal goes over the
 * leader's). */
typedef struct PdfSignedWidget {
        char *field_name; /* fully qualified */
        unsigned page;    /* 0-based index of the page its /P names */
        double rect[4];   /* /Rect, normalized: [llx lly urx ury] */
} PdfSignedWidget;

/* Files larger than this are refused (UNSUPPORTED): xref offsets are written with 10 digits. */
#define PDF_DOCUMENT_MAX_SIZE UINT64_C(9999999999)

/* What the incremental update writer needs. The *_entries strings are the dictionary's entries as PDF text
 * ("/Key value /Key value", indirect values as "N G R"), without the keys the writer replaces; the *_items
 * strings are the items of an array as PDF text separated by spaces ("" for an empty array). All are
 * NUL-terminated and owned by the document. */
typedef struct PdfDocumentInfo {
        uint64_t size;      /* bytes of the original */
        uint64_t startxref; /* offset of the last cross-reference section (the value after the last
                             * "startxref") */
        PdfXrefKind xref_kind;
        uint32_t next_object; /* the trailer's /Size, raised above any object number qpdf saw */
        PdfRef root, info;    /* the trailer's /Root and /Info (info.num == 0: none) */
        char *id;             /* the trailer's /ID as PDF text ("[<..><..>]"), or NULL */
        char *pdf_version;    /* e.g. "1.7", as qpdf reads it */
        unsigned revisions;   /* "%%EOF" markers: 1 for a file never updated (2 when linearized) */

        /* The catalog (root). */
        char *root_entries; /* without /AcroForm and /DSS (they follow) */

        /* The interactive form. acroform_present false: the catalog has none. acroform_ref.num == 0 with
         * acroform_present: the AcroForm is a direct dictionary inside the catalog. */
        bool acroform_present;
        PdfRef acroform_ref;
        char *acroform_entries; /* without /Fields and /SigFlags; NULL when not present */
        int64_t sig_flags;      /* the AcroForm's /SigFlags, 0 when absent */
        PdfRef fields_ref;      /* /Fields when it is an indirect array; num 0: direct or absent */
        char *fields_items;     /* the items of /Fields; "" when absent */

        /* Page 1, where the (invisible) widget goes. */
        PdfRef page;
        char *page_entries; /* without /Annots */
        PdfRef annots_ref;  /* /Annots when it is an indirect array; num 0: direct or absent */
        char *annots_items; /* "" when absent */

        /* The document security store (B-LT) when the catalog has one (dss_ref.num == 0: a direct
         * dictionary): its entries other than /Certs, /OCSPs and /CRLs, and the items of those three arrays
         * ("" when absent; indirect arrays are given by their items). dss_present false: all NULL. */
        bool dss_present;
        PdfRef dss_ref;
        char *dss_entries;     /* without /Certs, /OCSPs, /CRLs and /VRI */
        char *dss_vri_entries; /* the entries of its /VRI dictionary, NULL when it has none */
        char *dss_certs_items, *dss_ocsps_items, *dss_crls_items;

        /* The fully qualified names (/T joined by ".") of the existing form fields, to pick a new unique
         * one, and how many of them are signature fields with a value (/FT /Sig, /V set). */
        char **field_names; /* strv, may be empty, never NULL */
        size_t n_signatures;
        /* The widgets of the signed signature fields that are on a page with a non-empty /Rect, in the
         * order of the form's field tree (kyso appends each new field at the end). */
        PdfSignedWidget *signed_widgets;
        size_t n_signed_widgets;
        unsigned n_pages;
        /* The catalog's /Perms /DocMDP: its /P (2 or 3: /P 1 is refused), 0 when not certified. */
        int docmdp_p;
} PdfDocumentInfo;

typedef struct PdfDocument PdfDocument;

#define PDF_HEADER_WINDOW 1024
/* True when "%PDF-" occurs in the first 1024 bytes (as readers accept it): detection by content, never by
 * name. Inline, so that kysoctl sign can tell a PDF without linking the PDF reader (and libqpdf's,
 * HarfBuzz's start-up with it). */
static inline bool pdf_looks_like_pdf(const void *data, size_t size) {
        return data && memmem(data, MIN(size, (size_t) PDF_HEADER_WINDOW), "%PDF-", 5);
}

/* An unlinked temporary file for a document's bytes, read and written, that no one else can change (TMPDIR,
 * /var/tmp or /tmp, else a memfd): kysod keeps a client's PDF there, the verifier a revision's prefix. An
 * fd, or a negative errno. */
int pdf_temporary_fd(void);

/* Maps fd (a regular file, read from offset 0) read-only and opens it. The fd may be closed afterwards.
 * Returns 0 and *ret, or a negative errno and, for a refusal, *ret_refusal (may be NULL; set to
 * PDF_REFUSAL_NONE on success and on errors that are not the document's fault, e.g. -ENOMEM, -EIO) and a
 * message in e (may be NULL) naming the detail, e.g. qpdf's error. */
int pdf_document_open_fd(int fd, PdfDocument **ret, PdfRefusal *ret_refusal, SignError *e);
/* The same over memory the caller keeps alive and unchanged until pdf_document_free(); not copied. */
int pdf_document_open_memory(
        const void *data, size_t size, PdfDocument **ret, PdfRefusal *ret_refusal, SignError *e);

PdfDocument *pdf_document_free(PdfDocument *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(PdfDocument *, pdf_document_free);

const PdfDocumentInfo *pdf_document_info(const PdfDocument *d);
/* The original bytes (the mapping or the caller's memory), valid as long as d. */
const uint8_t *pdf_document_data(const PdfDocument *d, size_t *ret_size);
/* Writes the original bytes to fd (the signed file is these followed by the update), retrying on EINTR and
 * short writes. */
int pdf_document_write_original(const PdfDocument *d, int fd);
/* Hashes the original bytes into c (not finished). Both stream the mapping in chunks and release its pages
 * behind them, so resident memory does not grow with the document. */
int pdf_document_digest(const PdfDocument *d, ContentDigests *c);

/* One page as a visible signature's widget needs it: the text to re-emit it with the widget in /Annots and
 * its geometry with inheritance from the page tree resolved. */
typedef struct PdfPage {
        unsigned index; /* 0-based */
        PdfRef ref;
        char *entries;      /* without /Annots */
        PdfRef annots_ref;  /* /Annots when it is an indirect array; num 0: direct or absent */
        char *annots_items; /* "" when absent */
        double media[4];    /* /MediaBox as written (inherited: resolved) */
        bool has_crop;
        double crop[4]; /* /CropBox, when has_crop */
        int rotate;     /* /Rotate normalized to 0, 90, 180, 270 */
} PdfPage;
void pdf_page_done(PdfPage *p);

/* Reads page index (0-based) of d again with qpdf (the document stays as it was opened; one opened from an
 * fd is read from a copy of that fd kept until pdf_document_free(), not through the mapping). -ENXIO for an
 * index past the last page, -EOPNOTSUPP for a page kyso cannot place a widget on (not an indirect
 * dictionary, no valid /MediaBox, a /Rotate that is not a multiple of 90), -EBADMSG when qpdf fails. */
int pdf_document_read_page(const PdfDocument *d, unsigned index, PdfPage *ret, SignError *e);
