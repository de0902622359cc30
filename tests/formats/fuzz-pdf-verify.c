/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the PDF signature verifier on memory: revisions, xref sections, signature fields, /ByteRange and
 * /Contents, the CMS over the ranges, and the difference analysis of later revisions. The seed corpus holds
 * signed PDFs (one with a later, disallowed revision) so mutations reach every stage. */
#include <stdint.h>
#include <string.h>

#include "formats/pdf-verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PdfVerifyResult *res = NULL;

        if (pdf_verify(data, size, &res) < 0)
                return 0;
        (void) pdf_document_problem_to_string(res->document_problem);
        for (size_t i = 0; i < res->n_signatures; i++) {
                const PdfSignature *s = &res->signatures[i];
                (void) pdf_signature_problem_to_string(s->problem);
                (void) strlen(s->detail);
                (void) strlen(s->field_name);
                if (s->change)
                        (void) strlen(s->change);
                (void) pdf_signature_counts_whole(s);
        }
        pdf_verify_result_free(res);
        return 0;
}
