/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the detached CMS/CAdES verifier: the input is the signature; the content is fixed, and the seed
 * corpus holds signatures over exactly that content, so mutations reach the signer checks, time-stamp tokens
 * and countersignatures instead of stopping at a digest mismatch. */
#include <stdint.h>
#include <string.h>

#include "formats/cms-verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char content[] = "kyso fuzz content\n";

typedef struct Cursor {
        size_t off;
} Cursor;

static ssize_t read_content(void *userdata, void *buf, size_t n) {
        Cursor *c = userdata;
        size_t left = sizeof content - 1 - c->off;

        if (n > left)
                n = left;
        memcpy(buf, content + c->off, n);
        c->off += n;
        return (ssize_t) n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CmsVerifyResult *res = NULL;
        Cursor c = {};

        if (cms_verify_detached(data, size, read_content, &c, &res) >= 0) {
                /* Walk the result the way a caller would, so every field is touched. */
                (void) cms_verify_result_all_ok(res);
                for (size_t i = 0; i < res->n_signers; i++) {
                        const CmsSignerResult *s = &res->signers[i];
                        (void) cms_problem_to_string(s->problem);
                        (void) strlen(s->detail);
                        if (s->timestamp.detail)
                                (void) strlen(s->timestamp.detail);
                        for (size_t j = 0; j < s->n_countersigners; j++)
                                (void) strlen(s->countersigners[j].detail);
                }
                cms_verify_result_free(res);
        }
        return 0;
}
