/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The incremental updates kyso appends to a PDF, written byte for byte: the signature update (signature
 * dictionary with fixed-width /ByteRange and /Contents placeholders, a field + widget (invisible on page 1,
 * or visible with its appearance objects on the page asked for), text stamps on other pages, the AcroForm
 * with /SigFlags 3, the pages' /Annots) and the DSS update (B-LT), each closed by a cross-reference
 * section of the kind the file ends with and `startxref`/`%%EOF`.
 *
 * The original bytes are never touched or copied: an update is a buffer whose first byte goes at the
 * original's end. Objects are re-emitted from the text PdfDocumentInfo took out of qpdf. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pdf-appearance.h"
#include "pdf-document.h"
#include "pdf-object-body.h"

/* Where a file stands after its last revision: what the next update continues from. */
typedef struct PdfTail {
        uint64_t end;          /* the file's size */
        uint64_t startxref;    /* its last cross-reference section */
        PdfXrefKind xref_kind; /* HYBRID never: a hybrid file's updates are TABLE */
        uint32_t next_object;
        PdfRef root, info;
        char *id;            /* may be NULL */
        char *root_entries;  /* the catalog without /AcroForm and /DSS */
        char *root_acroform; /* the catalog's /AcroForm value as PDF text, NULL: none */
        /* The DSS to keep and extend, as in PdfDocumentInfo. */
        bool dss_present;
        PdfRef dss_ref;
        char *dss_entries, *dss_vri_entries;
        char *dss_certs_items, *dss_ocsps_items, *dss_crls_items;
        unsigned revisions; /* revisions in the file, as PdfDocumentInfo counts them */
} PdfTail;
void pdf_tail_done(PdfTail *t);

/* A PDF text string for utf8: "(...)" with \\, \( and \) escaped when it is printable ASCII, else
 * "<FEFF...>" (UTF-16BE with BOM, hex). -EINVAL for invalid UTF-8 or a NUL. */
int pdf_text_string(const char *utf8, char **ret);

/* "D:YYYYMMDDHHmmSSZ" for t in UTC; buf holds at least PDF_DATE_MAX bytes. */
#define PDF_DATE_MAX 24
int pdf_date(time_t t, char buf[static PDF_DATE_MAX]);

/* Text the signature's widget cannot draw because it is on another page (an issue's number and date on page
 * 1, the seal on the last page): a Stamp annotation (ISO 32000-1 12.5.6.12) on that page, printed and
 * locked, without actions, in the same update, so that the signature covers it. One a page. */
typedef struct PdfStampSpec {
        const PdfPage *page;
        PdfRect rect;                    /* default user space */
        const PdfObjectBody *appearance; /* appearance[0] is the /AP /N */
        size_t n_appearance;
        const char *contents; /* UTF-8: the texts drawn, for /Contents (accessibility) */
} PdfStampSpec;

typedef struct PdfSignatureSpec {
        const char *field_name;                              /* required, not yet used in the document */
        const char *reason, *location, *name, *contact_info; /* UTF-8, NULL or "": omitted */
        time_t signing_time;                                 /* /M */
        size_t contents_reserve; /* bytes of CMS /Contents holds (the hex string is twice + 2) */
        /* A visible widget: on page (NULL: invisible, on the first page of info) at rect, drawn by the
         * appearance objects, which are numbered from info->next_object on (appearance[0], the form
         * XObject, is the /AP /N): build them with pdf_appearance_objects(spec, info->next_object, ...). */
        const PdfPage *page;
        PdfRect rect;
        const PdfObjectBody *appearance;
        size_t n_appearance;
        /* Visible only: stamps on pages other than page's, each page once. Their appearance objects are
         * numbered on after the widget's, in this order. */
        const PdfStampSpec *stamps;
        size_t n_stamps;
} PdfSignatureSpec;

typedef struct PdfSignatureUpdate {
        uint8_t *data; /* the update; data[0] goes at offset info->size */
        size_t size;
        uint64_t byte_range[4]; /* as written in the update */
        size_t contents_offset; /* of the '<' in data */
        size_t contents_length; /* from '<' to '>' inclusive */
} PdfSignatureUpdate;
void pdf_signature_update_done(PdfSignatureUpdate *u);

/* Writes the signature update for the document described by info; *ret_next is where the file stands
 * after it. /Contents is all zeros, /ByteRange final. -EFBIG past PDF_DOCUMENT_MAX_SIZE, -EINVAL for a
 * spec the writer cannot write. */
int pdf_write_signature_update(
        const PdfDocumentInfo *info, const PdfSignatureSpec *spec, PdfSignatureUpdate *ret,
        PdfTail *ret_next);

/* Writes der hex-encoded into the /Contents placeholder, the rest of it zeros. -ENOBUFS when it does not
 * fit. */
int pdf_signature_update_fill(PdfSignatureUpdate *u, const uint8_t *der, size_t size);

typedef struct PdfBlob {
        const uint8_t *data;
        size_t size;
} PdfBlob;

typedef struct PdfDssContent {
        const PdfBlob *certs, *ocsps, *crls;
        size_t n_certs, n_ocsps, n_crls;
        const char *vri_key; /* NULL: no /VRI entry; else the 40 upper-case hex digits */
} PdfDssContent;

/* The DSS update after tail: the existing DSS's items kept, new blobs as streams (equal bytes written
 * once), the catalog rewritten with /DSS. */
int pdf_write_dss_update(const PdfTail *tail, const PdfDssContent *dss, uint8_t **ret, size_t *ret_size);
