/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The register rebuilt from collected audit logs (kysoctl certs --log) against arbitrary lines: it must skip
 * or take each, never crash, and keep every entry keyed by a 64-digit fingerprint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cert-register.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CertRegister *r = cert_register_new(NULL);
        const char *p = (const char *) data, *end = p + size;

        if (!r || size > 256 * 1024) {
                cert_register_free(r);
                return 0;
        }
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                if (cert_register_replay(r, p, len) < 0)
                        break;
                p += len + 1;
        }
        for (size_t i = 0; i < cert_register_size(r); i++)
                if (strlen(cert_register_get(r, i)->fingerprint) != 64)
                        abort();
        cert_register_free(r);
        return 0;
}
