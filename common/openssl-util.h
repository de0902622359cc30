/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Scoped cleanup for the OpenSSL types kyso uses, and a way to turn the OpenSSL error queue into text. */

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <time.h>

#include "hex.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_CRL *, X509_CRL_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE *, X509_STORE_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE_CTX *, X509_STORE_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_NAME *, X509_NAME_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free_all);
DEFINE_TRIVIAL_CLEANUP_FUNC(CMS_ContentInfo *, CMS_ContentInfo_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OCSP_REQUEST *, OCSP_REQUEST_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OCSP_RESPONSE *, OCSP_RESPONSE_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OCSP_BASICRESP *, OCSP_BASICRESP_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(TS_REQ *, TS_REQ_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(TS_RESP *, TS_RESP_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_OCTET_STRING *, ASN1_OCTET_STRING_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_INTEGER *, ASN1_INTEGER_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_GENERALIZEDTIME *, ASN1_GENERALIZEDTIME_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_OBJECT *, ASN1_OBJECT_free);

static inline void sk_X509_pop_freep(STACK_OF(X509) * *s) {
        if (*s)
                sk_X509_pop_free(*s, X509_free);
}

/* The SHA-256 of data as 64 hex digits and a NUL. */
int sha256_hex(const void *data, size_t size, char ret[static 65]);

/* The first certificate of the PEM file at path: 0, -errno when it cannot be opened, -EBADMSG when it holds
 * no certificate. */
int x509_read_pem_file(const char *path, X509 **ret);

/* The first entry nid (e.g. NID_commonName) of x's subject as UTF-8, newly allocated; NULL when the subject
 * has none, it cannot be converted, or on OOM. */
char *x509_subject_entry(X509 *x, int nid);

/* The DER an i2d_*() call allocated at der (len: what it returned), moved to a buffer to free(): der is
 * freed in any case. -ENOMEM also when the encoding failed (len <= 0). */
int openssl_der_take(unsigned char *der, int len, uint8_t **ret, size_t *ret_size);

/* t as seconds since the epoch: 0, or -EBADMSG when t is NULL or cannot be read. */
int asn1_time_to_unix(const ASN1_TIME *t, time_t *ret);
/* The same, with (time_t) -1 for a time that cannot be read: for comparisons that a missing time fails. */
time_t asn1_time_seconds(const ASN1_TIME *t);

/* Drains the OpenSSL error queue into a short newly allocated string (the last error's reason), or NULL. */
char *openssl_error_string(void);
