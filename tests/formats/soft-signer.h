/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The software-key signer, for tests only (kysod contains no way to sign without a token): a private key in
 * memory that signs what a SignPending asks for as a token would, and CAdES signing in one call with it
 * (prepare, sign, optionally time-stamp, finish), so tests make signatures `openssl cms` cannot. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "formats/cades-sign.h"
#include "formats/tsa-client.h"

/* PKCS#1 v1.5 goes through digest_info_wrap() and a raw RSA operation, as a CKM_RSA_PKCS token does. */
typedef struct PkeySigner {
        EVP_PKEY *key;
        CmsSignatureScheme scheme;
} PkeySigner;
int pkey_signer_load(const char *key_path, CmsSignatureScheme scheme, PkeySigner *ret);
void pkey_signer_done(PkeySigner *s);
/* Signs the digest tbs (digest_nid) and returns the signature as sign_pending_set_signature() takes it. */
int pkey_signer_sign(
        const PkeySigner *s, const uint8_t *tbs, size_t tbs_size, int digest_nid, uint8_t **ret_sig,
        size_t *ret_size);

typedef struct SoftSignParams {
        SignParams sign;
        CadesProfile profile;
        const PkeySigner *key; /* may be another key than sign.cert's, to test the refusal */
        const TsaOptions *tsa; /* non-NULL: B-T */
} SoftSignParams;

/* cades_prepare() with d (and existing, may be NULL), signed by p->key, time-stamped by p->tsa, finished.
 * *ret_timestamp (may be NULL) gets the time-stamp's details (free with cms_timestamp_done()). */
int soft_sign_digests(
        const SoftSignParams *p, const ContentDigests *d, const void *existing, size_t existing_size,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, SignError *e);
/* The same over a content digest (p->sign.digest_nid) computed by the caller. */
int soft_sign_digest(
        const SoftSignParams *p, const uint8_t *digest, size_t digest_size, uint8_t **ret_der,
        size_t *ret_size, CmsTimestamp *ret_timestamp, SignError *e);
/* The same over the content read once from fd, hashed with every digest that p and existing need. */
int soft_sign_fd(
        const SoftSignParams *p, int content_fd, const void *existing, size_t existing_size,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, SignError *e);
