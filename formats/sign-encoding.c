/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "macro.h"
#include "openssl-util.h"
#include "sign-encoding.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(X509_SIG *, X509_SIG_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);

int digest_info_wrap(
        int digest_nid, const uint8_t *digest, size_t digest_size, uint8_t **ret, size_t *ret_size) {
        _cleanup_(X509_SIG_freep) X509_SIG *sig = NULL;
        const EVP_MD *md = EVP_get_digestbynid(digest_nid);
        X509_ALGOR *alg = NULL;
        ASN1_OCTET_STRING *os = NULL;
        unsigned char *der = NULL;
        int len;

        if (!md || !digest || (size_t) EVP_MD_get_size(md) != digest_size)
                return -EINVAL;
        sig = X509_SIG_new();
        if (!sig)
                return -ENOMEM;
        X509_SIG_getm(sig, &alg, &os);
        if (X509_ALGOR_set0(alg, OBJ_nid2obj(digest_nid), V_ASN1_NULL, NULL) != 1 ||
            ASN1_OCTET_STRING_set(os, digest, (int) digest_size) != 1)
                return -ENOMEM;
        len = i2d_X509_SIG(sig, &der);
        return openssl_der_take(der, len, ret, ret_size);
}

int ecdsa_signature_raw_to_der(const uint8_t *raw, size_t raw_size, uint8_t **ret, size_t *ret_size) {
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = NULL;
        _cleanup_(BN_freep) BIGNUM *r = NULL, *s = NULL;
        unsigned char *der = NULL;
        int len;

        if (!raw || raw_size == 0 || raw_size % 2 != 0 || raw_size > 2 * 66)
                return -EINVAL;
        r = BN_bin2bn(raw, (int) (raw_size / 2), NULL);
        s = BN_bin2bn(raw + raw_size / 2, (int) (raw_size / 2), NULL);
        sig = ECDSA_SIG_new();
        if (!r || !s || !sig)
                return -ENOMEM;
        if (ECDSA_SIG_set0(sig, r, s) != 1)
                return -ENOMEM;
        r = s = NULL; /* owned by sig now */
        len = i2d_ECDSA_SIG(sig, &der);
        return openssl_der_take(der, len, ret, ret_size);
}

/* The DER of the signed attributes as a SET OF (DER order: elements sorted by their encoding), which is what
 * the signature covers (RFC 5652, 5.4). */
typedef struct Blob {
        unsigned char *p;
        int len;
} Blob;

static int blob_cmp(const void *a, const void *b) {
        const Blob *x = a, *y = b;
        int c = memcmp(x->p, y->p, (size_t) MIN(x->len, y->len));
        return c != 0 ? c : x->len - y->len;
}

int cms_signed_attrs_der(CMS_SignerInfo *si, uint8_t **ret, size_t *ret_size) {
        int n = CMS_signed_get_attr_count(si), r = 0;
        _cleanup_free_ Blob *blobs = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        size_t total = 0, hdr, off = 0;

        if (n <= 0)
                return -EINVAL;
        blobs = calloc((size_t) n, sizeof(Blob));
        if (!blobs)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                blobs[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &blobs[i].p);
                if (blobs[i].len <= 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                total += (size_t) blobs[i].len;
        }
        qsort(blobs, (size_t) n, sizeof(Blob), blob_cmp);

        hdr = total < 0x80 ? 2 : total < 0x100 ? 3 : total < 0x10000 ? 4 : 5;
        out = malloc(hdr + total);
        if (!out) {
                r = -ENOMEM;
                goto finish;
        }
        out[off++] = 0x31;
        if (total < 0x80)
                out[off++] = (uint8_t) total;
        else {
                size_t nb = hdr - 2;
                out[off++] = (uint8_t) (0x80 | nb);
                for (size_t i = 0; i < nb; i++)
                        out[off++] = (uint8_t) (total >> (8 * (nb - 1 - i)));
        }
        for (int i = 0; i < n; i++) {
                memcpy(out + off, blobs[i].p, (size_t) blobs[i].len);
                off += (size_t) blobs[i].len;
        }
        *ret = TAKE_PTR(out);
        *ret_size = off;
finish:
        for (int i = 0; i < n; i++)
                OPENSSL_free(blobs[i].p);
        return r;
}
