/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Detached CAdES signatures (B-B, B-T, and the attribute set PAdES embeds) made in two steps (signer.h):
 * cades_prepare() builds the SignedData with a new SignerInfo over a content digest, or adds one to an
 * existing .p7s (the seal rule for files); the token signs the signed attributes; finish gives the .p7s.
 *
 * OpenSSL 3.0 cannot sign a SignerInfo through a callback and always adds signing-time, so the signed
 * attributes are built here, DER-encoded as a SET and hashed; the token's signature is checked with the
 * certificate's public key before it is placed in the SignerInfo. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "cms-verify.h"
#include "content-digest.h"
#include "signer.h"

typedef enum CadesProfile {
        CADES_PROFILE_BASELINE_B, /* content-type, message-digest, signing-time, signing-certificate-v2 */
        CADES_PROFILE_PADES,      /* content-type, message-digest, signing-certificate-v2; no signing-time
                                   * (PAdES puts the time in the signature dictionary's /M) */
        _CADES_PROFILE_MAX,
        _CADES_PROFILE_INVALID = -EINVAL,
} CadesProfile;

typedef struct CadesInput {
        CadesProfile profile;
        /* Finished; holds SignParams.digest_nid and, with existing, every digest of its SignerInfos (which
         * cades_existing_digests() adds before the content is read). For PAdES: the digest of the byte
         * ranges. */
        const ContentDigests *digests;
        /* The detached SignedData (DER or PEM) to add a SignerInfo to, e.g. the leader's for issue; NULL:
         * a new SignedData. Each of its SignerInfos must cover the content (-EBADMSG otherwise). Existing
         * SignerInfos are re-encoded from their parsed form, which gives their original bytes for DER input
         * (a test checks this); the SET OF SignerInfos is DER-sorted, so the order may change. */
        const void *existing;
        size_t existing_size;
} CadesInput;

/* Builds the SignedData with the new SignerInfo (its signed attributes fixed, among them signing-time from
 * p->signing_time for B-B), the signer's certificate and p->chain; sign_pending_finish() returns the DER of
 * the detached SignedData. Errors: -EINVAL (bad params, digest not SHA-2 or not in in->digests),
 * -EKEYREJECTED (the scheme does not fit the key), -EBADMSG (existing is not a detached SignedData, or does
 * not cover the content), -ENOMEM. */
int cades_prepare(const SignParams *p, const CadesInput *in, SignPending **ret, SignError *e);

/* The DER of the ESS SigningCertificateV2 that every signature by cert carries (the SHA-256 of the
 * certificate and its issuer and serial), malloc()ed. */
int cades_signing_certificate(X509 *cert, uint8_t **ret_der, size_t *ret_size);

/* Adds to d the digest algorithms of the SignerInfos of the detached SignedData `existing`, so that the
 * content is read once (-EBADMSG when it is not one). */
int cades_existing_digests(const void *existing, size_t existing_size, ContentDigests *d);
