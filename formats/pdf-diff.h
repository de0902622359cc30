/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Difference analysis: whether every change the revisions after a signed one make is one a later signer may
 * make (new signature fields and their widgets, when they draw nothing or are signed in the revision that
 * adds them, the AcroForm's /Fields, /SigFlags and /DR, a page's /Annots
 * gaining exactly those widgets, /DSS and what it holds, document time-stamps, /Metadata and /Info, and a
 * text stamp without actions added to a page by a revision that a signature added in it covers).
 * Anything else is named: "object 12 (the content of page 1) changed in revision 3". */

#include <stdbool.h>
#include <stddef.h>

#include <qpdf/qpdf-c.h>

#include "pdf-revisions.h"

typedef enum PdfDiffVerdict {
        PDF_DIFF_ALLOWED,
        PDF_DIFF_DISALLOWED,       /* a change outside the whitelist: see `change` */
        PDF_DIFF_DOCMDP_VIOLATION, /* allowed in general but not under the certification's /P */
        PDF_DIFF_UNREADABLE,       /* a later revision cannot be read without repair */
        _PDF_DIFF_VERDICT_MAX,
        _PDF_DIFF_VERDICT_INVALID = -EINVAL,
} PdfDiffVerdict;

/* What a later revision did, kept as facts so that the sentence naming it can be written in the reader's
 * language (pdf_change_message()). The comments give the English sentence. */
typedef enum PdfChangeKind {
        PDF_CHANGE_NONE,
        PDF_CHANGE_CHANGED,         /* object N (what) changed in revision R */
        PDF_CHANGE_DELETED,         /* ... was deleted in revision R */
        PDF_CHANGE_NEW_GENERATION,  /* ... was replaced by a new generation in revision R */
        PDF_CHANGE_UNREADABLE,      /* ... cannot be read in revision R */
        PDF_CHANGE_REDEFINED,       /* ... cannot be read in the signed revision and was redefined */
        PDF_CHANGE_KEY,             /* ... had KEY changed */
        PDF_CHANGE_FORM_KEY,        /* ... (its interactive form) had KEY changed: a form in the catalog */
        PDF_CHANGE_EMPTY_FIELD_KEY, /* ... (an empty signature field) had KEY changed */
        PDF_CHANGE_ANNOTS,          /* ... gained annotations other than signature widgets */
        PDF_CHANGE_FIELDS,          /* ... gained fields other than signatures */
        PDF_CHANGE_FORM_FIELDS,     /* ... (its interactive form) gained fields other than signatures */
        PDF_CHANGE_FIELD_LIST,      /* ... (the form's field list) gained fields other than signatures */
        PDF_CHANGE_DANGLING,        /* ... refers to object M, undefined when signed and defined later */
        PDF_CHANGE_ROOT_REPLACED,   /* the document catalog (/Root) was replaced in revision R */
        PDF_CHANGE_REVISION_UNREADABLE, /* revision R cannot be read without repair */
        PDF_CHANGE_DOCMDP_SIGNATURE,    /* a signature was added to a document certified with P=1 */
        /* revision R does not continue revision R-1: its /Prev leads to changes no revision ends */
        PDF_CHANGE_HIDDEN_UPDATE,
        /* Allowed, and told (PdfDiff.noted): a text stamp was added on page P in revision R, by the
         * signature added in R (an issue's number and date on another page than its seal). */
        PDF_CHANGE_STAMP,
        /* Not allowed: a text stamp was added on page P in revision R, and the signature of R does not
         * verify (pdf-verify finds this once every signature is verified). */
        PDF_CHANGE_STAMP_UNVERIFIED,
        /* Not allowed: revision R adds a signature field that is not signed and draws on page P (its
         * appearance could hide or change what was signed: the Sneaky Signature Attack). */
        PDF_CHANGE_SIG_FIELD_UNSIGNED,
        /* Allowed, not told: revision R adds a signature field that draws on page P, signed by the
         * signature `referred` (0: written in the field) that R adds and that covers R; kept in
         * PdfDiff.stamps, as a text stamp is, for pdf-verify to check that this signature verifies. */
        PDF_CHANGE_SIG_FIELD,
        /* Not allowed: ... that draws on page P, and its signature does not verify (pdf-verify). */
        PDF_CHANGE_SIG_FIELD_UNVERIFIED,
        _PDF_CHANGE_KIND_MAX,
        _PDF_CHANGE_KIND_INVALID = -EINVAL,
} PdfChangeKind;

/* What the reader would call the object, in the signed document. */
typedef enum PdfObjectRole {
        PDF_OBJECT_OTHER, /* "an object" */
        PDF_OBJECT_CATALOG,
        PDF_OBJECT_INTERACTIVE_FORM,
        PDF_OBJECT_FIELD_LIST,
        PDF_OBJECT_PAGE, /* the roles with PAGE name PdfChange.page */
        PDF_OBJECT_PAGE_CONTENT,
        PDF_OBJECT_PAGE_RESOURCES,
        PDF_OBJECT_PAGE_ANNOTS,
        PDF_OBJECT_PAGE_TREE,
        PDF_OBJECT_FONT,
        PDF_OBJECT_IMAGE,
        PDF_OBJECT_FORM_XOBJECT,
        PDF_OBJECT_ANNOTATION,
        PDF_OBJECT_SIGNATURE,
        PDF_OBJECT_OBJECT_STREAM,
        PDF_OBJECT_FORM_FIELD,
        PDF_OBJECT_ACTION,
        _PDF_OBJECT_ROLE_MAX,
        _PDF_OBJECT_ROLE_INVALID = -EINVAL,
} PdfObjectRole;

typedef struct PdfChange {
        PdfChangeKind kind;
        unsigned object; /* the object named, 0 when the change is not about one object */
        PdfObjectRole role;
        unsigned page;     /* 1-based, for the PAGE roles */
        unsigned revision; /* 1-based: the original file is revision 1 */
        unsigned referred; /* DANGLING: the object referred to; SIG_FIELD: the signature */
        char key[128];     /* the *_KEY kinds: the dictionary key, "" when the keys could not be compared */
} PdfChange;

/* The sentence naming c ("object 12 (the content of page 1) changed in revision 3"): in English with
 * translate false (logs, --json, the audit log: stable), else in the calling thread's language. malloc()ed;
 * NULL for PDF_CHANGE_NONE or out of memory. */
char *pdf_change_message(const PdfChange *c, bool translate);

/* Text stamps allowed after one signature, at most: kyso's issue writes one per page holding the document
 * number or date, and more than this is not what any issue wrote. */
#define PDF_DIFF_MAX_STAMPS 16
/* Signature fields that draw, each signed in its revision, allowed after one signature at most. */
#define PDF_DIFF_MAX_SIG_FIELDS 16

typedef struct PdfDiff {
        PdfDiffVerdict verdict;
        char *change;              /* pdf_change_message(&facts, false); NULL when ALLOWED */
        PdfChange facts;           /* kind NONE when ALLOWED */
        unsigned n_new_signatures; /* approval or certification signatures added after the signed revision */
        /* An allowed change the reader should still be told of (the first text stamp added): kind NONE when
         * none; noted_change is pdf_change_message(&noted, false), NULL when none. */
        PdfChange noted;
        char *noted_change;
        /* Every text stamp allowed (kind PDF_CHANGE_STAMP), in the order met: each is allowed only if the
         * signature its revision adds verifies, which the caller checks. So is every signature field that
         * draws (kind PDF_CHANGE_SIG_FIELD): only if its own signature verifies. */
        PdfChange stamps[PDF_DIFF_MAX_STAMPS + PDF_DIFF_MAX_SIG_FIELDS];
        size_t n_stamps;
} PdfDiff;

/* Compares the document as signed (signed_q: qpdf on src's bytes [0, revs[signed].end), recovery off) with
 * what the revisions after it make of it (final_q: qpdf on the whole file). docmdp_p is the /P of a
 * certifying signature in force (1, 2 or 3), 0 for none. Returns 0 with *ret filled, or -EINVAL/-ENOMEM, or
 * -ESTALE when a file shrank while read, or the errno of a private copy that could not be made. */
int pdf_diff_analyse(
        const PdfSource *src, const PdfRevision *revs, size_t n_revs, size_t signed_rev, qpdf_data signed_q,
        qpdf_data final_q, int docmdp_p, PdfDiff *ret);
void pdf_diff_done(PdfDiff *d);

const char *pdf_diff_verdict_to_string(PdfDiffVerdict v);

/* qpdf helpers shared with pdf-verify.c. */
void pdf_qpdf_closep(qpdf_data *q);
/* The same on src's bytes [0, end): memory in place; a file by its /proc/self/fd path (qpdf's buffered reads
 * keep resident memory small), a prefix of it through a private unlinked copy. Returns 0 with *ret (NULL
 * when qpdf cannot read it without repair), or a negative errno when the copy cannot be made (-ESTALE: the
 * file shrank). */
int pdf_source_qpdf_open(const PdfSource *s, uint64_t end, qpdf_data *ret);
/* The object's value as bytes (dictionaries with their indirect references as "N G R", streams with their
 * dictionary and raw data) is the same in both documents. */
bool pdf_object_equal(qpdf_data qa, qpdf_oh a, qpdf_data qb, qpdf_oh b);
/* dict[key], or null when oh is not a dictionary (or a stream: its dictionary's). qpdf's own call warns on
 * stderr about a type mismatch, which untrusted files cause all the time. */
qpdf_oh pdf_oh_key(qpdf_data q, qpdf_oh oh, const char *key);
/* The trailer's /Root (qpdf_get_root() complains on stderr when there is none). */
qpdf_oh pdf_root(qpdf_data q);
