/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PdfPrepare: the PDF part of one document of a signing request, on the worker thread that read it into an
 * unlinked temporary file (DocHashJob): opened (refused when encrypted, damaged or certified against
 * changes), its signatures verified and checked under the policy (for issue, the leader's signature is read
 * from the PDF), and its signature prepared (pades_prepare()). The loop takes the results once the job is
 * done. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "client-read.h"
#include "formats/pades-sign.h"
#include "formats/pdf-document.h"
#include "formats/pdf-verify.h"
#include "policy/policy.h"
#include "policy/signature-check.h"

/* What the preparation needs, copied or referenced by pdf_prepare_new(). */
typedef struct PdfPrepareParams {
        Policy *policy;
        SignParams sign;
        const char *reason, *location, *name; /* /Reason, /Location, /Name; NULL: omitted */
        bool timestamp;                       /* B-T or B-LT: room for the time-stamp token */
        bool check_signatures;                /* issue: each signature is checked under the policy */
        /* The visible signature (pdf_visible_place() below). */
        SignRole role;
        bool visible;              /* approve, personal: the `visible` option, or kysod.conf's default */
        bool page_from_end;        /* page counts back from the last page (signature-place = last,...) */
        unsigned page;             /* its page, 0-based */
        PdfRect rect;              /* its rectangle */
        const char *image;         /* the certificate's signature-image (kysod.conf), or NULL */
        const uint8_t *image_data; /* the request's `image` option (PNG bytes), or NULL: copied */
        size_t image_size;
        double seal_diameter_mm;  /* kysod.conf seal-diameter */
        const char *organization; /* the copy stamp's organisation: the certificate's O (or CN) */
        const char *doc_number;   /* the appendix stamp's document number, or NULL */
        const char *copy_form;    /* the copy stamp's form (copy_form_text()), or NULL: sao y */
        /* issue: doc_number and doc_date written at these places (each set only with its text). */
        const char *doc_date;
        PdfPlace number_place, date_place;
} PdfPrepareParams;

typedef struct PdfPrepare {
        Policy *policy;
        SignParams sign;              /* certificate and chain referenced */
        uint8_t *signing_certificate; /* sign's, copied */
        char *reason, *location, *name;
        bool timestamp, check_signatures;
        SignRole role;
        bool visible, page_from_end;
        unsigned page;
        PdfRect rect;
        char *image, *organization, *doc_number, *copy_form, *doc_date;
        PdfPlace number_place, date_place;
        uint8_t *image_data;
        size_t image_size;
        double seal_diameter_mm;

        /* Results. error < 0: no verdict (refusal says when it is the document's fault). */
        int error;
        PdfRefusal refusal; /* PDF_REFUSAL_NONE unless the document cannot be signed */
        char *detail;       /* English, for the log: why it was refused or could not be prepared */
        PdfDocument *doc;
        PdfVerifyResult *verified;
        /* check_signatures: one per signature of verified but document time-stamps, in their order (zeroed
         * checks for a signature without a signer); existing[i] borrows from checks[i] and reasons[i]. */
        SignatureCheck *checks;
        ExistingSignature *existing;
        char **reasons;
        size_t n_checks;
        SignPending *pending;
        /* The signature is visible: the widget has an appearance (issue: a seal over the leader's visible
         * signature; copy, appendix: a stamp at the top right of page 1; approve, personal: at the `visible`
         * option's place). False: invisible (no image configured, no visible leader's signature, ...), the
         * prompt says so; invisible_why says why (translated, NULL: nothing asked for it). */
        bool shown;
        char *invisible_why;
        /* issue: the seal is not drawn (invisible_why says why) but the number and date are. */
        bool texts_only;
        /* Translated: the image to draw is not a usable PNG, or the texts would end a DocMDP /P 2
         * certification; the document is refused before any prompt (BadDocument). */
        char *bad_image;
        /* Translated: a place the request names is not on the document's pages (InvalidArgs, before any
         * prompt). */
        char *bad_place;
        unsigned revision; /* the revision the new signature covers: 2 for a file never updated (the original
                              is 1) */
} PdfPrepare;

/* Copies the strings and the signing certificate, takes references on the policy, cert and chain. */
int pdf_prepare_new(const PdfPrepareParams *params, PdfPrepare **ret);
/* On a worker thread: fd holds the whole document (a regular file); reader's cancel ends the policy checks
 * early (-ECANCELED). sha256 (may be NULL): the SHA-256 state after the document's bytes, continued for the
 * byte ranges when the signature's digest is SHA-256 instead of reading the document again. */
void pdf_prepare_run(PdfPrepare *p, int fd, ClientReader *reader, const EVP_MD_CTX *sha256);
PdfPrepare *pdf_prepare_free(PdfPrepare *p);

/* Translated: why a signature of a PDF does not count, naming the object a later change touched (the
 * verifier's English words); malloc()ed. */
char *pdf_signature_reason(const PdfSignature *s);

/* The copy stamp's first line for a copy_form option ("sao-y", "sao-luc", "trich-sao": Decree 30/2020
 * Art. 25, the forms of a copy), as Appendix I writes it; NULL or unknown: NULL from copy_form_valid(). */
const char *copy_form_text(const char *form);
bool copy_form_valid(const char *form);
