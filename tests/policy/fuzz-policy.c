/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the policy file parser: any bytes, parsed as one policy file, then the final consistency checks,
 * the classification matcher and the URL rewrites over the result. Roots are not loaded from the input's
 * paths in a way that matters: unreadable paths are errors like any other. */
#include <stdint.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Policy *p = policy_new_defaults();
        char **errors = NULL;
        if (!p)
                return 0;
        if (policy_parse_buffer(
                    p, "fuzz", (const char *) data, size, POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, &errors) >=
            0)
                (void) policy_finish(p, &errors);

        /* Exercise what the parsed policy feeds: word matching and URL rewriting. */
        char *text = strndup((const char *) data, size > 256 ? 256 : size);
        if (text) {
                (void) policy_is_classified(p, text);
                char *u = policy_rewrite_url(p, text);
                free(u);
                char *f = fold_vietnamese(text);
                free(f);
                free(text);
        }
        strv_free(errors);
        policy_free(p);
        return 0;
}
