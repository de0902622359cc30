/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Building detached CAdES signatures (B-B, B-T, and the PAdES attribute set) around a "sign this digest"
 * callback, since the key lives on a token in another process; and adding a signer to an existing .p7s.
 *
 * OpenSSL 3.0 cannot sign a SignerInfo through a callback and always adds signing-time, so the signed
 * attributes are built here, DER-encoded as a SET, hashed, and handed to the callback; the signature it
 * returns is checked with the certificate's public key before it is placed in the SignerInfo. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "cms-verify.h"
#include "content-digest.h"

typedef struct TsaOptions TsaOptions;

/* Signs a digest. tbs_digest is the hash (digest_nid: NID_sha256/384/512) of the DER of the signed
 * attributes; the scheme is the one the caller put in CadesSignParams (the callback's userdata knows it
 * too). On success returns 0 and a malloc()ed signature in *ret_sig in the encoding CMS stores:
 *   - RSA PKCS#1 v1.5: the modulus-sized block. A token doing CKM_RSA_PKCS needs the DigestInfo around the
 *     digest: wrap it with digest_info_wrap() (formats/sign-encoding.h) before C_Sign.
 *   - RSA-PSS: the modulus-sized block (CKM_RSA_PKCS_PSS, hash = digest_nid, MGF1 with the same hash,
 *     salt length = digest size).
 *   - ECDSA: DER ECDSA-Sig-Value; CKM_ECDSA returns r||s: convert with ecdsa_signature_raw_to_der().
 * Returns a negative errno on failure (passed through to the caller of cades_sign*()). */
typedef int (*CadesSignFunc)(
        void *userdata, const uint8_t *tbs_digest, size_t digest_size, int digest_nid, uint8_t **ret_sig,
        size_t *ret_sig_size);

typedef enum CadesProfile {
        CADES_PROFILE_BASELINE_B, /* content-type, message-digest, signing-time, signing-certificate-v2 */
        CADES_PROFILE_PADES,      /* content-type, message-digest, signing-certificate-v2; no signing-time
                                   * (PAdES puts the time in the signature dictionary's /M) */
        _CADES_PROFILE_MAX,
        _CADES_PROFILE_INVALID = -EINVAL,
} CadesProfile;

typedef struct CadesSignParams {
        X509 *signer_cert;         /* required */
        STACK_OF(X509) * chain;    /* certificates to include besides the signer's (CA chain), or NULL */
        int digest_nid;            /* NID_sha256, NID_sha384 or NID_sha512 */
        CmsSignatureScheme scheme; /* must fit the certificate's key */
        CadesProfile profile;
        time_t signing_time; /* for CADES_PROFILE_BASELINE_B; 0 means now */
        CadesSignFunc sign;
        void *userdata;
        /* Non-NULL: B-T, a checked RFC 3161 token over the signature value is added. */
        const TsaOptions *tsa;
        /* The signing-certificate-v2 attribute's value for signer_cert, from cades_signing_certificate(),
         * for a caller that makes many signatures with one certificate; NULL: worked out for each. */
        const uint8_t *signing_certificate;
        size_t signing_certificate_size;
} CadesSignParams;

/* The DER of the ESS SigningCertificateV2 that every signature by cert carries (the SHA-256 of the
 * certificate and its issuer and serial), malloc()ed. */
int cades_signing_certificate(X509 *cert, uint8_t **ret_der, size_t *ret_size);

/* What went wrong, for the caller to log or show; NULL-safe. */
typedef struct CadesError {
        char *message; /* English, names the URL or the TSA's status text when the TSA is involved */
} CadesError;
void cades_error_done(CadesError *e);

/* Reads the content from read() once (streamed, bounded memory), signs it, and returns the DER of a detached
 * SignedData with one SignerInfo and the signer's certificate plus params->chain. With params->tsa, the
 * time-stamp token is fetched and checked (status, nonce, imprint, its signature) before it is embedded; its
 * TSA certificates are returned in *ret_timestamp when that is non-NULL (free with cms_timestamp_done()).
 * Errors: -EINVAL (bad params), -EKEYREJECTED (scheme does not fit the key, or the callback's signature does
 * not verify with the certificate), the callback's error, the content reader's error, TSA errors
 * (tsa-client.h). */
int cades_sign_detached(
        const CadesSignParams *params, ContentReadFunc read, void *userdata, uint8_t **ret_der,
        size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *ret_error);
int cades_sign_detached_fd(
        const CadesSignParams *params, int content_fd, uint8_t **ret_der, size_t *ret_size,
        CmsTimestamp *ret_timestamp, CadesError *ret_error);

/* Same, with the content digest (params->digest_nid) computed by the caller, e.g. over a PDF's byte ranges.
 */
int cades_sign_digest(
        const CadesSignParams *params, const uint8_t *content_digest, size_t digest_size, uint8_t **ret_der,
        size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *ret_error);

/* The seal rule for files: parses the detached SignedData `existing`, hashes the content (read once) with
 * every algorithm needed, refuses (-EBADMSG) unless every existing SignerInfo's message-digest matches the
 * content, then appends a new SignerInfo built as cades_sign_detached() does, and the new certificates.
 * Existing SignerInfos are re-encoded from their parsed form, which gives their original bytes for DER input
 * (a test checks this); the SET OF SignerInfos is DER-sorted, so the order may change. */
int cades_add_signer(
        const void *existing, size_t existing_size, const CadesSignParams *params, ContentReadFunc read,
        void *userdata, uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp,
        CadesError *ret_error);
int cades_add_signer_fd(
        const void *existing, size_t existing_size, const CadesSignParams *params, int content_fd,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *ret_error);

/* The same with the content already hashed by the caller (read once, e.g. while verifying the existing
 * signature): d must be finished and hold params->digest_nid and every digest of the existing SignerInfos,
 * which cades_existing_digests() adds to it (-EBADMSG when `existing` is not a detached SignedData). */
int cades_existing_digests(const void *existing, size_t existing_size, ContentDigests *d);
int cades_add_signer_digests(
        const void *existing, size_t existing_size, const CadesSignParams *params, const ContentDigests *d,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *ret_error);

/* A CadesSignFunc over a private key in memory, for tests and as the reference implementation: PKCS#1 v1.5
 * goes through digest_info_wrap() and a raw RSA operation, as a CKM_RSA_PKCS token would. */
typedef struct PkeySigner {
        EVP_PKEY *key;
        CmsSignatureScheme scheme;
} PkeySigner;
int pkey_signer_load(const char *key_path, CmsSignatureScheme scheme, PkeySigner *ret);
void pkey_signer_done(PkeySigner *s);
int pkey_signer_sign(
        void *userdata, const uint8_t *tbs_digest, size_t digest_size, int digest_nid, uint8_t **ret_sig,
        size_t *ret_sig_size);
