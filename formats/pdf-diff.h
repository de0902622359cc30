/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Difference analysis: whether every change the revisions after a signed one make is one a later signer may
 * make (new signature fields and their widgets, the AcroForm's /Fields, /SigFlags and /DR, a page's /Annots
 * gaining exactly those widgets, /DSS and what it holds, document time-stamps, /Metadata and /Info).
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

typedef struct PdfDiff {
        PdfDiffVerdict verdict;
        char *change;              /* English; NULL when ALLOWED */
        unsigned object;           /* the object named, 0 when the change is not about one object */
        unsigned revision;         /* the revision making the change (0-based) */
        unsigned n_new_signatures; /* approval or certification signatures added after the signed revision */
} PdfDiff;

/* Compares the document as signed (signed_q: qpdf on data[0..revs[signed].end), recovery off) with what the
 * revisions after it make of it (final_q: qpdf on the whole file). docmdp_p is the /P of a certifying
 * signature in force (1, 2 or 3), 0 for none. Returns 0 with *ret filled, or -EINVAL/-ENOMEM. */
int pdf_diff_analyse(
        const void *data, size_t size, const PdfRevision *revs, size_t n_revs, size_t signed_rev,
        qpdf_data signed_q, qpdf_data final_q, int docmdp_p, PdfDiff *ret);
void pdf_diff_done(PdfDiff *d);

const char *pdf_diff_verdict_to_string(PdfDiffVerdict v);

/* qpdf helpers shared with pdf-verify.c. */
/* Opens qpdf on data[0..size) with recovery off and warnings kept quiet; NULL when it cannot be read. */
qpdf_data pdf_qpdf_open(const void *data, size_t size);
void pdf_qpdf_closep(qpdf_data *q);
/* The object's value as bytes (dictionaries with their indirect references as "N G R", streams with their
 * dictionary and raw data) is the same in both documents. */
bool pdf_object_equal(qpdf_data qa, qpdf_oh a, qpdf_data qb, qpdf_oh b);
/* dict[key], or null when oh is not a dictionary (or a stream: its dictionary's). qpdf's own call warns on
 * stderr about a type mismatch, which untrusted files cause all the time. */
qpdf_oh pdf_oh_key(qpdf_data q, qpdf_oh oh, const char *key);
/* The trailer's /Root (qpdf_get_root() complains on stderr when there is none). */
qpdf_oh pdf_root(qpdf_data q);
