/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the prompt texts with hostile app-supplied strings (one per input line): the result must be valid
 * UTF-8 and keep each field on its own line. */
#include <stdint.h>

#include "agent/prompt-text.h"
#include "macro.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *copy = NULL, *s = NULL;
        char *fields[7] = {};
        PromptText t = {};
        size_t n = 0;

        if (size > 64 * 1024)
                return 0;
        copy = malloc(size + 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = '\0';
        for (char *p = copy; n < ELEMENTSOF(fields) && p; n++) {
                fields[n] = p;
                p = strchr(p, '\n');
                if (p)
                        *p++ = '\0';
        }

        s = prompt_text_sanitize(fields[0], 40);
        if (!s || !utf8_is_valid(s) || strchr(s, '\n'))
                abort();

        PromptDocument doc = { .name = fields[2],
                               .size = size,
                               .sha256 = "00112233445566778899aabbccddeeff" };
        PromptRequest req = {
                .app_name = fields[0],
                .executable = fields[1],
                .pid = 1,
                .documents = &doc,
                .n_documents = 1,
                .cert_holder = fields[3],
                .cert_organization = fields[4],
                .role = fields[5],
                .cert_kind = fields[5],
        };
        if (prompt_text_confirm(&req, &t) == 0) {
                size_t lines = 0;
                if (!utf8_is_valid(t.description) || !utf8_is_valid(t.title))
                        abort();
                for (const char *c = t.description; *c; c++)
                        lines += *c == '\n';
                /* The layout is fixed: a hostile name cannot add lines. */
                if (lines != 6)
                        abort();
        }
        prompt_text_done(&t);

        PromptPinRequest pr = { .token_label = fields[6],
                                .tries_left = (int) (size % 5) - 1,
                                .previous_wrong = size & 1 };
        if (prompt_text_pin(&pr, &t) == 0 && (!utf8_is_valid(t.description) || strchr(t.description, '\n')))
                abort();
        prompt_text_done(&t);
        return 0;
}
