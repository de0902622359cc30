/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* SignPending: one signature being made in two steps, whatever the format (CAdES detached, PAdES). A
 * format's prepare (e.g. cades_prepare()) builds everything the signature covers and gives the exact digest
 * the token must sign; the token's signature, then an optional RFC 3161 token over the signature value,
 * finish it.
 *
 * Nothing is built twice, so what the token signed is what the file carries. The network is never touched
 * here: the caller time-stamps sign_pending_timestamp_data() with tsa_timestamp() (on a worker thread, from
 * a copy) and hands the token to sign_pending_finish(). A SignPending is used from one thread at a time. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "cms-verify.h"
#include "macro.h"

/* What every format's prepare needs to know about the signer and the policy's algorithms. */
typedef struct SignParams {
        X509 *cert;                /* the signer's certificate; required */
        STACK_OF(X509) * chain;    /* certificates to include besides cert (the CA chain), or NULL */
        int digest_nid;            /* NID_sha256, NID_sha384 or NID_sha512 */
        CmsSignatureScheme scheme; /* must fit cert's key */
        time_t signing_time;       /* the claimed time, where the format carries one; 0: now */
        /* The ESS signing-certificate-v2 value for cert from cades_signing_certificate(), worked out once by
         * a caller that makes many signatures with one certificate; NULL: worked out here. */
        const uint8_t *signing_certificate;
        size_t signing_certificate_size;
} SignParams;

/* What went wrong, in English for the log (names the TSA's URL or status text when it is involved). */
typedef struct SignError {
        char *message;
} SignError;
void sign_error_done(SignError *e);

typedef struct SignPending SignPending;

/* The digest (SignParams.digest_nid) the token signs, as p11_manager_sign() takes it: for RSA PKCS#1 v1.5
 * the helper wraps it in a DigestInfo (digest_info_wrap()), for PSS and ECDSA it is signed as it is. Valid
 * as long as p. */
int sign_pending_tbs(const SignPending *p, const uint8_t **ret_digest, size_t *ret_size);
/* The bytes that digest is over (for a mechanism that hashes by itself, e.g. CKM_SHA256_RSA_PKCS): for CMS,
 * the DER of the signed attributes as a SET OF. */
int sign_pending_tbs_data(const SignPending *p, const uint8_t **ret_data, size_t *ret_size);

/* The token's signature in the encoding CMS stores: the modulus-sized block for RSA (PKCS#1 v1.5 or PSS with
 * MGF1 and salt length = digest size), DER ECDSA-Sig-Value for ECDSA (ecdsa_signature_raw_to_der() converts
 * a CKM_ECDSA answer). It is checked with the certificate's public key: -EKEYREJECTED when it does not
 * verify (p stays usable: a correct signature may still be set), -EALREADY when one was set. */
int sign_pending_set_signature(SignPending *p, const uint8_t *sig, size_t size, SignError *e);

/* True once sign_pending_set_signature() accepted a signature. */
bool sign_pending_has_signature(const SignPending *p);

/* What a signature time-stamp (B-T) covers: the signature value. -EINVAL before set_signature. Valid as long
 * as p. */
int sign_pending_timestamp_data(const SignPending *p, const uint8_t **ret_data, size_t *ret_size);

/* The final bytes (for CAdES the .p7s; each format says what it returns). token (may be NULL: B-B) is a DER
 * RFC 3161 token over sign_pending_timestamp_data(), e.g. from tsa_timestamp(); its imprint and signature
 * are checked before it is embedded (-EBADMSG). -EINVAL before set_signature, -EALREADY once finished. */
int sign_pending_finish(
        SignPending *p, const uint8_t *token, size_t token_size, uint8_t **ret, size_t *ret_size,
        SignError *e);

SignPending *sign_pending_free(SignPending *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SignPending *, sign_pending_free);

/* ---- for the formats that implement SignPending */

typedef struct SignPendingVTable {
        /* Checks sig; on success sets p->signature to the stored value. */
        int (*set_signature)(SignPending *p, const uint8_t *sig, size_t size, SignError *e);
        /* With p->signature set and p not finished yet. */
        int (*finish)(
                SignPending *p, const uint8_t *token, size_t token_size, uint8_t **ret, size_t *ret_size,
                SignError *e);
        void (*free)(SignPending *p);
} SignPendingVTable;

/* The first member of each format's pending object. The pointers point into that object. */
struct SignPending {
        const SignPendingVTable *vtable;
        const uint8_t *tbs, *tbs_data, *signature;
        size_t tbs_size, tbs_data_size, signature_size;
        bool finished;
};

/* Sets e->message (unless already set) and returns r, for the formats' error paths. */
_printf_(3, 4) int sign_error(SignError *e, int r, const char *fmt, ...);
