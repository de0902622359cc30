/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes what a pinentry sends back: each input line is classified and its D-line data decoded. */
#include <stdint.h>

#include "agent/prompt-pinentry.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;

        while (p < end) {
                const char *nl = memchr(p, '\n', end - p);
                size_t len = (nl ? nl : end) - p;
                const char *d = NULL;
                size_t dl = 0;
                unsigned code = 0;
                char buf[256];

                if (assuan_parse_response(p, len, &code, &d, &dl) == ASSUAN_RESPONSE_DATA) {
                        if (d < p || d + dl > p + len)
                                abort();
                        ssize_t n = assuan_unescape(d, dl, buf, sizeof(buf));
                        if (n > (ssize_t) sizeof(buf) || (n >= 0 && (size_t) n > dl))
                                abort();
                }
                if (code > 0xffff)
                        abort();
                p += len + 1;
        }
        return 0;
}
