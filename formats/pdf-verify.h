/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The verifier of a PDF's signatures (PAdES, adbe.pkcs7.detached, document time-stamps): finds every
 * signature field, checks its coverage against the file's revisions, verifies its CMS over the signed byte
 * ranges with cms-verify, and says whether every change made after it is one a later signature may make
 * (pdf-diff).
 *
 * Certificates, revocation, trust and the competent-person rule are policy/'s: feed each signature's `cms`
 * and `signer` to signature_check() (when `signer` is non-NULL), then build the seal rule's
 * ExistingSignature with signature_check_to_existing(&check, pdf_signature_counts(sig)) and, when
 * pdf_signature_counts() is false, set integrity_ok = false with the translated
 * pdf_signature_problem_message() as integrity_reason. For a PDF, "covers the whole document" means: nothing
 * after it changed what it signed (later signatures, their fields, DSS and time-stamps are allowed), which
 * is what pdf_signature_counts() says.
 *
 * The input is a file (pdf_verify_fd(): read, never mapped, so resident memory does not grow with it) or
 * memory the caller keeps (pdf_verify(): read in place, not copied). qpdf reads it with recovery off: a
 * file that needs repair is reported, never repaired. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cms-verify.h"
#include "macro.h"
#include "pdf-diff.h"

/* At most this many signature fields are examined; more is -E2BIG. */
#define PDF_VERIFY_MAX_SIGNATURES 64U
/* At most this many revisions (incremental updates) are read; more is reported as PDF_DOCUMENT_DAMAGED. */
#define PDF_VERIFY_MAX_REVISIONS 256U

/* What is wrong with the file as a whole, before any signature is looked at. Stable names. */
typedef enum PdfDocumentProblem {
        PDF_DOCUMENT_OK,
        PDF_DOCUMENT_NOT_PDF,   /* no %PDF- header */
        PDF_DOCUMENT_DAMAGED,   /* qpdf cannot read it without repair, the revisions cannot be found, or it
                                 * has more revisions, form fields or signatures than are read */
        PDF_DOCUMENT_ENCRYPTED, /* encrypted: signatures are not verified */
        _PDF_DOCUMENT_PROBLEM_MAX,
        _PDF_DOCUMENT_PROBLEM_INVALID = -EINVAL,
} PdfDocumentProblem;

typedef enum PdfSubFilter {
        PDF_SUBFILTER_CADES_DETACHED, /* ETSI.CAdES.detached (PAdES) */
        PDF_SUBFILTER_PKCS7_DETACHED, /* adbe.pkcs7.detached */
        PDF_SUBFILTER_RFC3161,        /* ETSI.RFC3161: a document time-stamp */
        PDF_SUBFILTER_PKCS7_SHA1,     /* adbe.pkcs7.sha1: refused */
        PDF_SUBFILTER_OTHER,          /* anything else (adbe.x509.rsa_sha1, missing...): refused */
        _PDF_SUBFILTER_MAX,
        _PDF_SUBFILTER_INVALID = -EINVAL,
} PdfSubFilter;

typedef enum PdfSignatureKind {
        PDF_SIGNATURE_APPROVAL,      /* an ordinary signature */
        PDF_SIGNATURE_CERTIFICATION, /* referenced from /Perms /DocMDP: its /P limits later changes */
        PDF_SIGNATURE_TIMESTAMP,     /* /Type /DocTimeStamp, ETSI.RFC3161 */
        _PDF_SIGNATURE_KIND_MAX,
        _PDF_SIGNATURE_KIND_INVALID = -EINVAL,
} PdfSignatureKind;

/* Why a signature does not count. Stable: the names from pdf_signature_problem_to_string() appear in
 * `kysoctl verify --json` and in the audit log. Listed in the order of precedence used to pick `problem`. */
typedef enum PdfSignatureProblem {
        PDF_SIGNATURE_OK,
        PDF_SIGNATURE_UNSUPPORTED_SUBFILTER, /* adbe.pkcs7.sha1 or unknown /SubFilter */
        PDF_SIGNATURE_CONTENTS_MISSING,      /* /Contents absent, null, or not a string */
        PDF_SIGNATURE_BYTE_RANGE_MISSING,    /* /ByteRange absent or null */
        PDF_SIGNATURE_BYTE_RANGE_MALFORMED,  /* not four non-negative integers, first 0, ranges inside the
                                                file */
        /* the gap between the two ranges is not exactly this signature's /Contents hex string */
        PDF_SIGNATURE_BYTE_RANGE_GAP,
        PDF_SIGNATURE_NOT_AT_REVISION_END, /* the signed range does not end where a revision ends */
        /* the revision the signature covers cannot be read without repair, or lacks this signature */
        PDF_SIGNATURE_REVISION_UNREADABLE,
        PDF_SIGNATURE_CMS_MALFORMED,    /* /Contents is not a detached SignedData (or time-stamp token) */
        PDF_SIGNATURE_CMS_INVALID,      /* the CMS does not verify over the signed ranges: see cms_problem */
        PDF_SIGNATURE_DOCMDP_VIOLATION, /* a later change is forbidden by a certifying signature's /P */
        PDF_SIGNATURE_DISALLOWED_CHANGE, /* a later revision changes what a signature may not: see `change`
                                          */
        _PDF_SIGNATURE_PROBLEM_MAX,
        _PDF_SIGNATURE_PROBLEM_INVALID = -EINVAL,
} PdfSignatureProblem;

typedef struct PdfSignature {
        char *field_name; /* fully qualified /T ("Signature1", "parent.child"); never NULL, may be "" */
        /* The signature dictionary's object number (0 when it is direct). Signatures are found through the
         * AcroForm's /Fields and, for writers that forget /Fields (poppler with a direct AcroForm), through
         * the pages' signature widgets; each dictionary is reported once. */
        unsigned object;
        PdfSignatureKind kind;
        PdfSubFilter sub_filter;
        char *sub_filter_name; /* as written, or NULL when absent */
        int docmdp_p;          /* certification only: /P (1, 2 or 3); 0 otherwise */

        /* Text from the signature dictionary, UTF-8, NULL when absent. Claimed by the signer, not proven. */
        char *name;
        char *reason;
        char *location;
        char *contact_info;
        bool has_claimed_time;
        time_t claimed_time; /* /M, UTC */

        /* Coverage. */
        bool byte_range_valid; /* four non-negative integers starting at 0, inside the file */
        uint64_t byte_range[4];
        /* The revision the signed range ends at, counted as people and the audit record count: the original
         * file is revision 1. 0 when covers_revision is false. */
        unsigned revision;
        bool covers_revision;   /* the signed range ends at the end of `revision` */
        bool covers_whole_file; /* ... and that is the last revision: nothing was appended after it */

        /* The CMS (for time-stamps: the token), parsed from /Contents with trailing zero padding removed. */
        uint8_t *contents;
        size_t contents_size;
        CmsVerifyResult *cms;          /* NULL when it did not parse; owned */
        const CmsSignerResult *signer; /* cms->signers[0] (PDF signatures have exactly one), or NULL */
        CmsProblem cms_problem;        /* signer->problem, or CMS_PROBLEM_MALFORMED when no signer */
        /* Document time-stamps: the token verified over the signed ranges (its imprint is their hash), with
         * what policy/ needs to trust it: tsa_cert, certs, gen_time, the digests (cert_validate() with
         * CERT_VALIDATE_TIMESTAMPING at gen_time). status is CMS_TIMESTAMP_OK when it verified over the
         * ranges; all zero (NONE) for other kinds of signature. */
        CmsTimestamp doc_timestamp;
        /* The time-stamp time: a document time-stamp's, or the CAdES-T token's of a signature. */
        bool has_timestamp_time;
        time_t timestamp_time; /* the token's genTime (a document time-stamp's, or the signature's CAdES-T)
                                */

        /* Changes made by the revisions after `revision`. `change` names the first disallowed one, in
         * English for logs and reports ("object 12 (the content of page 1) changed in revision 3"); NULL
         * when none. pdf_signature_change_message() says the same in the reader's language. */
        unsigned n_later_revisions;
        char *change;
        unsigned change_object; /* the object named by `change`, 0 when none or not about one object */
        PdfChange change_facts; /* what `change` says, kind PDF_CHANGE_NONE when none */
        /* An allowed later change the reader is still told of ("a text stamp was added on page 1 in
         * revision 3, with its signature"), in English; NULL when none. pdf_signature_noted_message() says
         * it in the reader's language. */
        char *noted_change;
        PdfChange noted_facts;
        /* The text stamps and the signature fields that draw the later revisions added (pdf-diff allowed
         * them): each counts only if the signature of its revision (a field: its own) verifies, else this
         * signature gets PDF_SIGNATURE_DISALLOWED_CHANGE. */
        PdfChange stamps[PDF_DIFF_MAX_STAMPS + PDF_DIFF_MAX_SIG_FIELDS];
        size_t n_stamps;

        PdfSignatureProblem problem; /* PDF_SIGNATURE_OK when everything this module checks holds */
        char *detail;                /* English, for logs; never NULL */
} PdfSignature;

typedef struct PdfVerifyResult {
        PdfDocumentProblem document_problem;
        char *document_detail; /* English; NULL when OK */
        unsigned n_revisions;
        bool has_dss; /* the catalog has a /DSS (B-LT material) */
        /* In file order of their coverage (the first signed revision first), then by field order. */
        PdfSignature *signatures;
        size_t n_signatures;
} PdfVerifyResult;

/* Verifies every signature of the PDF in data[0..size). Returns 0 with *ret set whenever the bytes were
 * looked at, whatever the verdicts: a file that is not a PDF, is damaged or encrypted gives document_problem
 * != OK and no signatures (one with more than PDF_VERIFY_MAX_SIGNATURES signatures is damaged); a PDF
 * without signatures gives n_signatures == 0. Negative errno: -EINVAL, -ENOMEM. No network, no certificate
 * validation, no policy. */
int pdf_verify(const void *data, size_t size, PdfVerifyResult **ret);

/* Same, on a file (regular files only: -ESPIPE otherwise), read with pread() and by qpdf through its
 * /proc/self/fd path; a revision before the last is given to qpdf as a private unlinked copy (TMPDIR or
 * /var/tmp: disk, not memory). Never mapped (but without /proc), so a file cut while it is read cannot kill
 * the caller: -ESTALE when it shrank or changed while read. */
int pdf_verify_fd(int fd, PdfVerifyResult **ret);

PdfVerifyResult *pdf_verify_result_free(PdfVerifyResult *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(PdfVerifyResult *, pdf_verify_result_free);

/* The signature's bytes, its coverage, its CMS and every later change hold (certificates aside). */
static inline bool pdf_signature_counts(const PdfSignature *s) {
        return s && s->problem == PDF_SIGNATURE_OK;
}
/* It counts and nothing at all was appended after it ("Total document signed" in reports). */
static inline bool pdf_signature_counts_whole(const PdfSignature *s) {
        return pdf_signature_counts(s) && s->covers_whole_file;
}

/* Stable lower-case names ("ok", "byte-range-gap", "disallowed-change", ...); NULL when out of range. */
const char *pdf_signature_problem_to_string(PdfSignatureProblem p);
PdfSignatureProblem pdf_signature_problem_from_string(const char *s);
const char *pdf_document_problem_to_string(PdfDocumentProblem p);
const char *pdf_sub_filter_to_string(PdfSubFilter f);         /* "ETSI.CAdES.detached", ... "other" */
const char *pdf_signature_kind_to_string(PdfSignatureKind k); /* "approval", "certification", "timestamp" */
/* The first disallowed change (`change`) in the calling thread's language; malloc()ed, NULL when there is
 * none (or out of memory). */
char *pdf_signature_change_message(const PdfSignature *s);
/* The same for `noted_change`. */
char *pdf_signature_noted_message(const PdfSignature *s);
/* Translated (gettext domain kyso) explanations for users; never NULL. */
const char *pdf_signature_problem_message(PdfSignatureProblem p);
const char *pdf_document_problem_message(PdfDocumentProblem p);
