/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The certificate a PKCS#11 URI names among the present tokens: one lookup, with one set of rules, for every
 * caller (the agent's Sign and its per-token queue, the token manager's sign). */

#include <stddef.h>

#include "p11-manager.h"

typedef enum P11LookupFlags {
        /* The certificate must be able to sign: a private key with its CKA_ID, or a CKA_ID on a token whose
         * key may show only after login (p11_certificate_key_after_login()). */
        P11_LOOKUP_NEED_KEY = 1 << 0,
} P11LookupFlags;

/* A certificate matches uri when its token is among tokens and its own URI is uri or uri selects it
 * (p11_uri_match_certificate()). Exactly one must match, keyed or not (a URI that also names a certificate
 * without a key is ambiguous, not a choice): -ENODEV when none does, -ENOTUNIQ when several do; with
 * P11_LOOKUP_NEED_KEY, -ENOKEY when the one that matches cannot sign. -EINVAL for a URI kyso cannot use.
 * ret_token and ret_cert (each may be NULL) point into the arrays given. */
int p11_certificate_lookup(
        const char *uri, const P11Token *const *tokens, size_t n_tokens, const P11Certificate *const *certs,
        size_t n_certs, P11LookupFlags flags, const P11Token **ret_token, const P11Certificate **ret_cert);
