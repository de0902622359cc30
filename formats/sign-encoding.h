/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Encodings between what a token computes and what a CMS SignerInfo holds: the PKCS#1 v1.5 DigestInfo a
 * caller must wrap a digest into before a raw CKM_RSA_PKCS signature, and ECDSA signatures from raw r||s to
 * DER. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/cms.h>

/* DER DigestInfo { AlgorithmIdentifier {digest_nid, NULL}, OCTET STRING digest } (RFC 8017, 9.2), the input
 * of CKM_RSA_PKCS for an RSASSA-PKCS1-v1_5 signature. -EINVAL when the digest size does not fit the
 * algorithm. */
int digest_info_wrap(
        int digest_nid, const uint8_t *digest, size_t digest_size, uint8_t **ret, size_t *ret_size);

/* CKM_ECDSA returns r||s, each half the size of the group order; CMS wants DER ECDSA-Sig-Value. */
int ecdsa_signature_raw_to_der(const uint8_t *raw, size_t raw_size, uint8_t **ret, size_t *ret_size);

/* The DER of a SignerInfo's signed attributes as a SET OF in DER order: what its signature covers (RFC 5652,
 * 5.4). -EINVAL when it has none. */
int cms_signed_attrs_der(CMS_SignerInfo *si, uint8_t **ret, size_t *ret_size);
