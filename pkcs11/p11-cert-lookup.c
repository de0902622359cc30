/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "macro.h"
#include "p11-cert-lookup.h"
#include "p11-uri.h"

static const P11Token *token_of(const P11Certificate *c, const P11Token *const *tokens, size_t n_tokens) {
        for (size_t i = 0; i < n_tokens; i++)
                if (streq_ptr(tokens[i]->uri, c->token_uri))
                        return tokens[i];
        return NULL;
}

int p11_certificate_lookup(
        const char *uri, const P11Token *const *tokens, size_t n_tokens, const P11Certificate *const *certs,
        size_t n_certs, P11LookupFlags flags, const P11Token **ret_token, const P11Certificate **ret_cert) {
        const P11Certificate *found = NULL;
        const P11Token *found_token = NULL;
        int r;

        r = p11_uri_validate(uri);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_certs; i++) {
                const P11Token *t = token_of(certs[i], tokens, n_tokens);

                if (!t ||
                    (!streq_ptr(certs[i]->uri, uri) && p11_uri_match_certificate(uri, t, certs[i]) <= 0))
                        continue;
                if (found)
                        return -ENOTUNIQ;
                found = certs[i];
                found_token = t;
        }
        if (!found)
                return -ENODEV;
        /* The helper finds the key by CKA_ID, also one that shows only after login. */
        if ((flags & P11_LOOKUP_NEED_KEY) &&
            (found->id_size == 0 ||
             !(found->has_private_key || p11_certificate_key_after_login(found, found_token))))
                return -ENOKEY;
        if (ret_token)
                *ret_token = found_token;
        if (ret_cert)
                *ret_cert = found;
        return 0;
}
