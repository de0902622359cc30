/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PKCS#11 URIs (RFC 7512) for tokens and certificate objects, built and matched with p11-kit's URI code, so
 * what kyso prints is what p11-kit, GnuTLS and OpenSSL's pkcs11 engine understand. */

#include <stddef.h>
#include <stdint.h>

#include "p11-manager.h"

/* The token fields that identify a token in a URI (CK_TOKEN_INFO, blanks trimmed). */
typedef struct P11UriToken {
        const char *label;
        const char *manufacturer;
        const char *model;
        const char *serial;
} P11UriToken;

int p11_uri_format_token(const P11UriToken *t, char **ret);
/* An object URI: the token's attributes plus id, object (the CKA_LABEL, may be NULL) and type=cert. */
int p11_uri_format_certificate(
        const P11UriToken *t, const uint8_t *id, size_t id_size, const char *object_label, char **ret);

/* Checks that s is a PKCS#11 URI kyso can use to select a token or certificate: -EINVAL when it does not
 * parse, has attributes p11-kit does not know, names an object type other than a certificate, or carries a
 * PIN (pin-value/pin-source: a PIN never travels in a URI). */
int p11_uri_validate(const char *s);

/* 1 when the URI matches, 0 when not, -EINVAL when the URI is not valid (see p11_uri_validate()). A URI
 * with only token attributes matches every certificate on that token. */
int p11_uri_match_token(const char *uri, const P11Token *token);
int p11_uri_match_certificate(const char *uri, const P11Token *token, const P11Certificate *cert);
