/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the PKCS#11 URIs clients send (Sign's certificate_uri, kysoctl --cert): any bytes as a URI are
 * validated and matched against a token and a certificate, and a URI that validates must match the same way
 * twice. The same bytes, cut in four, also go through the formatter as a token's fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz-check.h"
#include "macro.h"
#include "pkcs11/p11-uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t id01[] = { 0x01, 0xab };

static const P11Token token = {
        .label = (char *) "leader",
        .manufacturer = (char *) "SoftHSM project",
        .model = (char *) "SoftHSM v2",
        .serial = (char *) "5a3c1e0f9b2d4c11",
        .slot_id = 42,
};

static const P11Certificate cert = { .label = (char *) "Nguyễn Văn An", .id = id01, .id_size = sizeof id01 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = strndup((const char *) data, size);
        char *fields[4] = {}, *p;
        int v, t, c;

        if (!s)
                return 0;
        v = p11_uri_validate(s);
        t = p11_uri_match_token(s, &token);
        c = p11_uri_match_certificate(s, &token, &cert);
        /* -ENOMEM too, for now: p11-kit's P11_KIT_URI_NO_MEMORY is the same value as P11_KIT_URI_UNEXPECTED,
         * which it also returns for some malformed URIs (a non-ASCII byte in a query attribute name), and
         * p11_uri_validate() reports that as out of memory. */
        check(v == 0 || v == -EINVAL || v == -ENOMEM);
        /* A URI that does not validate matches nothing; a valid one gives a verdict, the same each time. */
        check(v == 0 ? (t == 0 || t == 1) && (c == 0 || c == 1) : t == v && c == v);
        check(p11_uri_match_token(s, &token) == t);
        check(p11_uri_match_certificate(s, &token, &cert) == c);

        /* The formatter escapes whatever a token reports; what it makes validates and matches that token. */
        p = s;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                fields[i] = p;
                p = strchr(p, '|');
                if (!p)
                        break;
                *p++ = '\0';
        }
        if (fields[3]) {
                P11UriToken ut = { fields[0], fields[1], fields[2], fields[3] };
                _cleanup_free_ char *uri = NULL, *curi = NULL;

                if (p11_uri_format_token(&ut, &uri) == 0)
                        check(p11_uri_validate(uri) == 0);
                if (p11_uri_format_certificate(&ut, data, size < 20 ? size : 20, fields[0], &curi) == 0)
                        check(p11_uri_validate(curi) == 0);
        }
        return 0;
}
