/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PAdES signing (B-B, B-T, B-LT) of a PdfDocument in two steps (signer.h): pades_prepare() builds the
 * incremental update with its /ByteRange and /Contents placeholders, hashes the signed ranges once and makes
 * the CAdES signed attributes (CADES_PROFILE_PADES: no signing-time, the time is /M); the token signs them;
 * sign_pending_finish() returns the update with the CMS in /Contents. pades_append_dss() then gives a
 * further update with the /DSS (B-LT).
 *
 * The signed file is the original bytes (pdf_document_data(), pdf_document_write_original()) followed by
 * the update, then by the DSS update when there is one: the original is never copied in memory. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdf-appearance.h"
#include "pdf-document.h"
#include "pdf-write.h"
#include "signer.h"

/* Room for an RFC 3161 token in /Contents when PadesOptions.timestamp is set and no size is given: a token
 * with its TSA's certificate chain is 3-8 KiB in practice. */
#define PADES_TIMESTAMP_RESERVE_DEFAULT 12288U
/* The largest /Contents kyso writes (bytes of CMS, the hex string is twice that). */
#define PADES_CONTENTS_MAX (1024U * 1024U)

/* Where a visible signature goes. */
typedef enum PadesPlacement {
        PADES_PLACEMENT_NONE,  /* invisible: a zero /Rect on page 1, as without PadesVisible */
        PADES_PLACEMENT_RECT,  /* on .page in .rect (a signer's own signature) */
        PADES_PLACEMENT_SEAL,  /* over the leader's signed widget: pdf_seal_rect() of its /Rect */
        PADES_PLACEMENT_STAMP, /* at the top right of page 1: pdf_stamp_rect(), sized by the text */
        PADES_PLACEMENT_TEXT,  /* only .texts, where they are placed (an issue without a seal to draw) */
        _PADES_PLACEMENT_MAX,
        _PADES_PLACEMENT_INVALID = -EINVAL,
} PadesPlacement;

/* A line of text at a place the app named (an issue's document number and date). */
typedef struct PadesPlacedText {
        unsigned page;    /* 0-based */
        PdfRect rect;     /* PDF points in the page's default user space, as PadesVisible.rect */
        const char *text; /* UTF-8 (NFC), one line at PDF_APPEARANCE_FONT_SIZE */
} PadesPlacedText;

typedef struct PadesVisible {
        PadesPlacement placement;
        unsigned page; /* RECT: 0-based page index */
        /* RECT: the box asked for, PDF points in the page's default user space (bottom-left origin). With an
         * image the widget gets pdf_rect_fit() of it, so that a seal can later be placed from /Rect alone.
         */
        PdfRect rect;
        double seal_diameter_mm;  /* SEAL: the seal's real diameter, [PDF_SEAL_MIN_MM, PDF_SEAL_MAX_MM] */
        const char *leader_field; /* SEAL: the signed field to seal over; NULL: the last one with a visible
                                   * widget */
        const PdfImage *image;    /* RECT and SEAL: required for SEAL, drawn fitted in the widget */
        const char *const *lines; /* UTF-8 (NFC) text lines; STAMP: required */
        size_t n_lines;
        const char *font_path; /* NULL: PDF_FONT_DEFAULT_PATH */
        /* SEAL and TEXT: lines at their own places. Those on the seal's page (TEXT: the first text's) are
         * drawn by the widget, whose /Rect then covers the seal and them; those on another page (a
         * decision's number and date on page 1, the signatures on the last) by a Stamp annotation there, one
         * a page, in the same update: the signature covers it, and the difference analysis accepts such a
         * stamp only with a signature of its revision. Not a second widget of the field: poppler 22.12 then
         * calls the field not signed. */
        const PadesPlacedText *texts;
        size_t n_texts;
} PadesVisible;

typedef struct PadesOptions {
        /* UTF-8 text for /Reason, /Location, /Name, /ContactInfo; NULL or "": the key is omitted. Written
         * as PDF text strings (UTF-16BE with a BOM when not plain ASCII). */
        const char *reason;
        const char *location;
        const char *name;
        const char *contact_info;
        /* The new signature field's /T; NULL: "Signature<N>" with the first N not taken. -EEXIST when the
         * name is taken. ASCII letters, digits, '_' and '-' only (no '.'). */
        const char *field_name;
        /* A time-stamp token (B-T) will be given to sign_pending_finish(): reserve room for it. */
        bool timestamp;
        size_t timestamp_reserve; /* 0: PADES_TIMESTAMP_RESERVE_DEFAULT */
        /* Bytes of CMS reserved in /Contents; 0: the certificates' and signature's sizes plus a margin
         * (plus the time-stamp reserve). At most PADES_CONTENTS_MAX. */
        size_t contents_reserve;
        /* The widget's appearance and place; NULL: invisible. */
        const PadesVisible *visible;
        /* A digest context (SignParams.digest_nid) that has hashed exactly the document's bytes, e.g. while
         * the caller read them: the byte-range digest goes on from it instead of reading the document
         * again. NULL, or another algorithm: the document is read here. Not changed. */
        const EVP_MD_CTX *original_digest;
} PadesOptions;

/* Builds the update for doc (which must stay alive only during this call: what is needed later is copied)
 * and returns the pending signature. /M is SignParams.signing_time (0: now), written in UTC. The digest
 * sign_pending_tbs() gives is over the signed attributes whose message-digest is that of the byte ranges:
 * the original bytes, streamed from the mapping, and the update without the /Contents hex string.
 *
 * sign_pending_finish() on it returns the update bytes (malloc()ed) with the CMS (and the time-stamp token,
 * as an unsigned attribute, as CAdES does) hex-encoded into /Contents, zero-padded; -ENOBUFS when the CMS
 * does not fit the reserve (p cannot be finished again: prepare again with a larger contents_reserve).
 *
 * A visible signature adds its appearance (pdf_appearance_objects()) to the same update and the widget gets
 * /Rect and /AP on its page. Errors for it: -ENXIO (no such page), -ENOENT (SEAL: no signed widget to seal
 * over, or none named leader_field), -ERANGE (STAMP: the text does not fit the page), -EOPNOTSUPP (a page
 * kyso cannot place a widget on, or text the font has no glyph for), -EPERM (a text on another page than
 * the widget's in a document certified with DocMDP /P 2: its stamp would end the certification).
 *
 * Errors: -EINVAL (bad params, e.g. a digest that is not SHA-2, a bad field name), -EEXIST (field name
 * taken), -EKEYREJECTED (scheme does not fit the key), -ENOBUFS (contents_reserve too small for the
 * certificates or above PADES_CONTENTS_MAX), -EFBIG (the signed file would pass PDF_DOCUMENT_MAX_SIZE),
 * -ENOMEM. */
int pades_prepare(
        const SignParams *p, const PadesOptions *o, const PdfDocument *doc, SignPending **ret, SignError *e);

/* True when p was made by pades_prepare(). */
bool sign_pending_is_pades(const SignPending *p);

/* What the update signs, for the audit record and the caller's checks. Valid as long as p. */
typedef struct PadesLayout {
        const char *field_name;   /* the new field's /T */
        uint64_t byte_range[4];   /* /ByteRange as written: [0 a b c], offsets in the signed file */
        uint64_t signed_size;     /* the size of the file the signature covers: original + update */
        uint64_t contents_offset; /* the '<' of /Contents in the signed file */
        size_t contents_reserve;  /* bytes of CMS that fit */
        unsigned revision;        /* the revision the signature covers: 1 for a file never updated */
} PadesLayout;
int pades_pending_layout(const SignPending *p, PadesLayout *ret);

/* One DER object (a certificate, an OCSPResponse, a CRL). */
typedef PdfBlob PadesBlob;

/* The validation material kept in the document (B-LT): the chain of the signer and of the TSA, the OCSP
 * responses and CRLs that were checked at signing time. Duplicates (equal bytes) among them are written
 * once; what an existing /DSS holds is kept. */
typedef struct PadesDss {
        const PadesBlob *certs;
        size_t n_certs;
        const PadesBlob *ocsps; /* DER OCSPResponse */
        size_t n_ocsps;
        const PadesBlob *crls; /* DER CertificateList */
        size_t n_crls;
        /* Add a /VRI entry for this signature (key: upper-case hex SHA-1 of the /Contents bytes) listing
         * all of the above. */
        bool vri;
} PadesDss;

/* A second incremental update, to append after the bytes sign_pending_finish() returned: the catalog
 * rewritten with /DSS (/Certs, /OCSPs, /CRLs as arrays of stream objects, /VRI when asked), and a
 * cross-reference section of the same kind as the first update's. *ret is malloc()ed. finished must be a
 * PAdES pending on which sign_pending_finish() succeeded (-EINVAL otherwise); may be called more than once
 * (each result replaces, not follows, the previous one). -EFBIG when the file would pass
 * PDF_DOCUMENT_MAX_SIZE. */
int pades_append_dss(
        SignPending *finished, const PadesDss *dss, uint8_t **ret, size_t *ret_size, SignError *e);
