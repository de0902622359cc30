/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "cades-sign.h"
#include "openssl-util.h"
#include "sign-encoding.h"
#include "tsa-client.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(ESS_SIGNING_CERT_V2 *, ESS_SIGNING_CERT_V2_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(RSA_PSS_PARAMS *, RSA_PSS_PARAMS_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_ALGOR *, X509_ALGOR_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_TIME *, ASN1_TIME_free);

static void unsigned_char_freep(unsigned char **p) {
        OPENSSL_free(*p);
}

void cades_error_done(CadesError *e) {
        if (!e)
                return;
        e->message = mfree(e->message);
}

_printf_(3, 4) static int fail(CadesError *e, int r, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;

        if (e && !e->message) {
                va_start(ap, fmt);
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                va_end(ap);
                e->message = m;
        }
        ERR_clear_error();
        return r;
}

static bool scheme_fits_key(CmsSignatureScheme scheme, EVP_PKEY *key) {
        int id = EVP_PKEY_get_base_id(key);

        switch (scheme) {
        case CMS_SIGNATURE_RSA_PKCS1:
                return id == EVP_PKEY_RSA;
        case CMS_SIGNATURE_RSA_PSS:
                return id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS;
        case CMS_SIGNATURE_ECDSA:
                return id == EVP_PKEY_EC;
        default:
                return false;
        }
}

static bool digest_allowed(int nid) {
        return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512;
}

static int set_pss_algorithm(CMS_SignerInfo *si, const EVP_MD *md) {
        _cleanup_(RSA_PSS_PARAMS_freep) RSA_PSS_PARAMS *pss = RSA_PSS_PARAMS_new();
        _cleanup_(X509_ALGOR_freep) X509_ALGOR *mgf1_hash = X509_ALGOR_new();
        ASN1_STRING *mstr = NULL, *pstr = NULL;
        X509_ALGOR *sigalg = NULL;

        if (!pss || !mgf1_hash)
                return -ENOMEM;
        pss->hashAlgorithm = X509_ALGOR_new();
        pss->maskGenAlgorithm = X509_ALGOR_new();
        pss->saltLength = ASN1_INTEGER_new();
        if (!pss->hashAlgorithm || !pss->maskGenAlgorithm || !pss->saltLength)
                return -ENOMEM;
        /* RFC 4055 writes the SHA-2 AlgorithmIdentifiers inside PSS parameters with NULL parameters. */
        if (X509_ALGOR_set0(pss->hashAlgorithm, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) != 1 ||
            X509_ALGOR_set0(mgf1_hash, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) != 1 ||
            ASN1_INTEGER_set(pss->saltLength, EVP_MD_get_size(md)) != 1)
                return -ENOMEM;
        mstr = ASN1_item_pack(mgf1_hash, ASN1_ITEM_rptr(X509_ALGOR), NULL);
        if (!mstr)
                return -ENOMEM;
        if (X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mstr) != 1) {
                ASN1_STRING_free(mstr);
                return -ENOMEM;
        }
        pstr = ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL);
        if (!pstr)
                return -ENOMEM;
        CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &sigalg);
        if (!sigalg || X509_ALGOR_set0(sigalg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, pstr) != 1) {
                ASN1_STRING_free(pstr);
                return -ENOMEM;
        }
        return 0;
}

/* A callback that returns garbage, or signs with another key, must not produce a signature file. */
static int check_signature(
        EVP_PKEY *key, CmsSignatureScheme scheme, const EVP_MD *md, const uint8_t *tbs, size_t tbs_size,
        const uint8_t *sig, size_t sig_size) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);

        if (!ctx || EVP_PKEY_verify_init(ctx) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)
                return -ENOMEM;
        if (scheme == CMS_SIGNATURE_RSA_PSS) {
                if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0 ||
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, EVP_MD_get_size(md)) <= 0)
                        return -EINVAL;
        } else if (scheme == CMS_SIGNATURE_RSA_PKCS1) {
                if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
                        return -EINVAL;
        }
        return EVP_PKEY_verify(ctx, sig, sig_size, tbs, tbs_size) == 1 ? 0 : -EKEYREJECTED;
}

static int add_cert_unique(CMS_ContentInfo *cms, X509 *cert) {
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *have = CMS_get1_certs(cms);

        for (int i = 0; i < sk_X509_num(have); i++)
                if (X509_cmp(sk_X509_value(have, i), cert) == 0)
                        return 0;
        return CMS_add1_cert(cms, cert) == 1 ? 0 : -ENOMEM;
}

int cades_signing_certificate(X509 *cert, uint8_t **ret_der, size_t *ret_size) {
        _cleanup_(ESS_SIGNING_CERT_V2_freep) ESS_SIGNING_CERT_V2 *ess = NULL;
        _cleanup_(unsigned_char_freep) unsigned char *der = NULL;
        uint8_t *copy;
        int len;

        if (!cert || !ret_der || !ret_size)
                return -EINVAL;
        /* ESS SigningCertificateV2 { certs { ESSCertIDv2 { hashAlgorithm sha256 (the DEFAULT, so omitted),
         * certHash, issuerSerial } } }: OpenSSL's constructor omits the algorithm for SHA-256. */
        ess = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL, 1);
        if (!ess)
                return -ENOMEM;
        len = i2d_ESS_SIGNING_CERT_V2(ess, &der);
        if (len <= 0)
                return -ENOMEM;
        copy = malloc((size_t) len);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, der, (size_t) len);
        *ret_der = copy;
        *ret_size = (size_t) len;
        return 0;
}

static int
add_signed_attrs(CMS_SignerInfo *si, const CadesSignParams *p, const uint8_t *digest, size_t size) {
        _cleanup_free_ uint8_t *ess_own = NULL;
        const uint8_t *ess = p->signing_certificate;
        size_t ess_size = p->signing_certificate_size;
        int r;

        if (CMS_signed_add1_attr_by_NID(
                    si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) != 1)
                return -ENOMEM;
        if (p->profile == CADES_PROFILE_BASELINE_B) {
                time_t now = p->signing_time != 0 ? p->signing_time : time(NULL);
                /* UTCTime until 2049, GeneralizedTime after, as RFC 5652 11.3 asks. */
                _cleanup_(ASN1_TIME_freep) ASN1_TIME *t = X509_time_adj_ex(NULL, 0, 0, &now);

                if (!t || CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t, -1) != 1)
                        return -ENOMEM;
        }
        if (CMS_signed_add1_attr_by_NID(
                    si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest, (int) size) != 1)
                return -ENOMEM;

        if (!ess) {
                r = cades_signing_certificate(p->signer_cert, &ess_own, &ess_size);
                if (r < 0)
                        return r;
                ess = ess_own;
        }
        if (ess_size > INT_MAX ||
            CMS_signed_add1_attr_by_NID(
                    si, NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE, ess, (int) ess_size) != 1)
                return -ENOMEM;
        return 0;
}

/* Adds one SignerInfo for params over the given content digest to cms, signs it through the callback, and
 * optionally time-stamps it. */
static int add_signer_info(
        CMS_ContentInfo *cms, const CadesSignParams *p, const uint8_t *digest, size_t digest_size,
        CmsTimestamp *ret_timestamp, CadesError *e) {
        const EVP_MD *md = EVP_get_digestbynid(p->digest_nid);
        EVP_PKEY *key = X509_get0_pubkey(p->signer_cert);
        _cleanup_free_ uint8_t *attrs = NULL, *sig = NULL;
        uint8_t tbs[EVP_MAX_MD_SIZE];
        unsigned tbs_size = 0;
        size_t attrs_size = 0, sig_size = 0;
        CMS_SignerInfo *si;
        int r;

        if (!key)
                return fail(e, -EINVAL, "the signer certificate has no usable public key");
        if (!scheme_fits_key(p->scheme, key))
                return fail(
                        e, -EKEYREJECTED, "signature scheme %s does not fit the certificate's key",
                        strna(cms_signature_scheme_to_string(p->scheme)));
        if (!md || (size_t) EVP_MD_get_size(md) != digest_size)
                return fail(e, -EINVAL, "content digest does not fit the digest algorithm");

        /* The public key stands in for the private one: CMS_add1_signer() only compares them, and with
         * CMS_PARTIAL it does not sign. */
        si = CMS_add1_signer(
                cms, p->signer_cert, key, md, CMS_PARTIAL | CMS_NOSMIMECAP | CMS_NOCERTS | CMS_BINARY);
        if (!si)
                return fail(e, -EINVAL, "cannot add a signer for this certificate");
        r = add_signed_attrs(si, p, digest, digest_size);
        if (r < 0)
                return fail(e, r, "cannot build the signed attributes");
        if (p->scheme == CMS_SIGNATURE_RSA_PSS) {
                r = set_pss_algorithm(si, md);
                if (r < 0)
                        return fail(e, r, "cannot set the RSA-PSS parameters");
        }

        r = cms_signed_attrs_der(si, &attrs, &attrs_size);
        if (r < 0)
                return fail(e, r, "cannot encode the signed attributes");
        if (EVP_Digest(attrs, attrs_size, tbs, &tbs_size, md, NULL) != 1)
                return fail(e, -EIO, "cannot hash the signed attributes");

        r = p->sign(p->userdata, tbs, tbs_size, p->digest_nid, &sig, &sig_size);
        if (r < 0)
                return fail(e, r, "the token did not sign");
        if (!sig || sig_size == 0 || sig_size > 16384)
                return fail(e, -EKEYREJECTED, "the token returned no signature");
        r = check_signature(key, p->scheme, md, tbs, tbs_size, sig, sig_size);
        if (r < 0)
                return fail(e, r, "the signature made by the token does not verify with the certificate");
        if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int) sig_size) != 1)
                return fail(e, -ENOMEM, "out of memory");

        r = add_cert_unique(cms, p->signer_cert);
        for (int i = 0; r >= 0 && i < sk_X509_num(p->chain); i++)
                r = add_cert_unique(cms, sk_X509_value(p->chain, i));
        if (r < 0)
                return fail(e, r, "cannot add the certificates");

        if (p->tsa) {
                _cleanup_free_ uint8_t *token = NULL;
                _cleanup_free_ char *msg = NULL;
                size_t token_size = 0;
                ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);

                r = tsa_timestamp(
                        p->tsa, sv->data, (size_t) sv->length, &token, &token_size, ret_timestamp, &msg);
                if (r < 0)
                        return fail(e, r, "%s", strna(msg));
                if (CMS_unsigned_add1_attr_by_NID(
                            si, NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE, token, (int) token_size) !=
                    1) {
                        cms_timestamp_done(ret_timestamp);
                        return fail(e, -ENOMEM, "cannot embed the time-stamp token");
                }
        }
        return 0;
}

static int encode(CMS_ContentInfo *cms, uint8_t **ret, size_t *ret_size, CadesError *e) {
        unsigned char *der = NULL;
        int len = i2d_CMS_ContentInfo(cms, &der);
        uint8_t *copy;

        if (len <= 0)
                return fail(e, -ENOMEM, "cannot encode the signature");
        copy = malloc((size_t) len);
        if (!copy) {
                OPENSSL_free(der);
                return fail(e, -ENOMEM, "out of memory");
        }
        memcpy(copy, der, (size_t) len);
        OPENSSL_free(der);
        *ret = copy;
        *ret_size = (size_t) len;
        return 0;
}

static int check_params(const CadesSignParams *p, CadesError *e) {
        if (!p || !p->signer_cert || !p->sign)
                return fail(e, -EINVAL, "signer certificate and signing callback are required");
        if (!digest_allowed(p->digest_nid))
                return fail(e, -EINVAL, "digest must be SHA-256, SHA-384 or SHA-512");
        if (p->profile < 0 || p->profile >= _CADES_PROFILE_MAX)
                return fail(e, -EINVAL, "unknown profile");
        return 0;
}

int cades_sign_digest(
        const CadesSignParams *p, const uint8_t *digest, size_t digest_size, uint8_t **ret_der,
        size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *e) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        CmsTimestamp ts = {};
        int r;

        r = check_params(p, e);
        if (r < 0)
                return r;
        if (!digest || !ret_der || !ret_size)
                return fail(e, -EINVAL, "missing arguments");
        cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
        if (!cms)
                return fail(e, -ENOMEM, "out of memory");
        r = add_signer_info(cms, p, digest, digest_size, &ts, e);
        if (r >= 0)
                r = encode(cms, ret_der, ret_size, e);
        if (r >= 0 && ret_timestamp)
                *ret_timestamp = ts;
        else
                cms_timestamp_done(&ts);
        return r;
}

int cades_sign_detached(
        const CadesSignParams *p, ContentReadFunc read_func, void *userdata, uint8_t **ret_der,
        size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *e) {
        _cleanup_(content_digests_done) ContentDigests d = {};
        const uint8_t *digest;
        size_t digest_size = 0;
        int r;

        r = check_params(p, e);
        if (r < 0)
                return r;
        r = content_digests_add(&d, p->digest_nid);
        if (r < 0)
                return fail(e, r, "unsupported digest");
        r = content_digests_read(&d, read_func, userdata);
        if (r < 0)
                return fail(e, r, "cannot read the document: %s", strerror(-r));
        digest = content_digests_get(&d, p->digest_nid, &digest_size);
        if (!digest)
                return fail(e, -EIO, "cannot hash the document");
        return cades_sign_digest(p, digest, digest_size, ret_der, ret_size, ret_timestamp, e);
}

int cades_sign_detached_fd(
        const CadesSignParams *p, int content_fd, uint8_t **ret_der, size_t *ret_size,
        CmsTimestamp *ret_timestamp, CadesError *e) {
        if (content_fd < 0)
                return fail(e, -EBADF, "no document");
        return cades_sign_detached(p, content_read_fd, &content_fd, ret_der, ret_size, ret_timestamp, e);
}

static int parse_existing(const void *data, size_t size, CMS_ContentInfo **ret) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        unsigned char *pem = NULL;
        const unsigned char *der = data, *p;
        long len = (long) size;

        if (!data || size == 0 || size > CMS_VERIFY_MAX_SIGNATURE_SIZE)
                return -EBADMSG;
        if (size >= 11 && memcmp(data, "-----BEGIN ", 11) == 0) {
                _cleanup_(BIO_free_allp) BIO *b = BIO_new_mem_buf(data, (int) size);
                char *name = NULL, *header = NULL;

                if (!b || PEM_read_bio(b, &name, &header, &pem, &len) != 1)
                        return -EBADMSG;
                OPENSSL_free(name);
                OPENSSL_free(header);
                der = pem;
        }
        p = der;
        cms = d2i_CMS_ContentInfo(NULL, &p, len);
        bool complete = cms && p == der + len;
        OPENSSL_free(pem);
        if (!complete || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed || CMS_is_detached(cms) != 1 ||
            sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) <= 0 ||
            sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) >= (int) CMS_VERIFY_MAX_SIGNERS)
                return -EBADMSG;
        *ret = TAKE_PTR(cms);
        return 0;
}

/* The digest algorithms of the existing SignerInfos, added to d (so the caller can hash the content once).
 */
static int add_existing_digests(CMS_ContentInfo *cms, ContentDigests *d, CadesError *e) {
        STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);

        for (int i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
                X509_ALGOR *dig = NULL;
                const ASN1_OBJECT *o = NULL;
                int r;

                CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(sis, i), NULL, NULL, &dig, NULL);
                if (dig)
                        X509_ALGOR_get0(&o, NULL, NULL, dig);
                r = content_digests_add(d, OBJ_obj2nid(o));
                if (r < 0)
                        return fail(e, -EBADMSG, "existing signature %d uses an unsupported digest", i + 1);
        }
        return 0;
}

int cades_existing_digests(const void *existing, size_t existing_size, ContentDigests *d) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        int r;

        r = parse_existing(existing, existing_size, &cms);
        if (r < 0)
                return r;
        return add_existing_digests(cms, d, NULL);
}

int cades_add_signer_digests(
        const void *existing, size_t existing_size, const CadesSignParams *p, const ContentDigests *d,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *e) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        STACK_OF(CMS_SignerInfo) * sis;
        const uint8_t *digest;
        size_t digest_size = 0;
        CmsTimestamp ts = {};
        int r;

        r = check_params(p, e);
        if (r < 0)
                return r;
        if (!d || !d->finished || !ret_der || !ret_size)
                return fail(e, -EINVAL, "missing arguments");
        r = parse_existing(existing, existing_size, &cms);
        if (r < 0)
                return fail(e, r, "the existing signature is not a detached CMS SignedData");
        sis = CMS_get0_SignerInfos(cms);

        /* The new signature must not be added to a .p7s that belongs to another document. */
        for (int i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
                CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
                ASN1_OCTET_STRING *md = CMS_signed_get0_data_by_OBJ(
                        si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
                X509_ALGOR *dig = NULL;
                const ASN1_OBJECT *o = NULL;
                const uint8_t *have;
                size_t have_size = 0;

                CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
                X509_ALGOR_get0(&o, NULL, NULL, dig);
                have = content_digests_get(d, OBJ_obj2nid(o), &have_size);
                if (!have)
                        return fail(
                                e, -EINVAL, "the content was not hashed with the digest of signature %d",
                                i + 1);
                if (!md || (size_t) md->length != have_size || CRYPTO_memcmp(md->data, have, have_size) != 0)
                        return fail(
                                e, -EBADMSG, "existing signature %d does not cover this document", i + 1);
        }

        digest = content_digests_get(d, p->digest_nid, &digest_size);
        if (!digest)
                return fail(e, -EINVAL, "the content was not hashed with the signing digest");
        r = add_signer_info(cms, p, digest, digest_size, &ts, e);
        if (r >= 0)
                r = encode(cms, ret_der, ret_size, e);
        if (r >= 0 && ret_timestamp)
                *ret_timestamp = ts;
        else
                cms_timestamp_done(&ts);
        return r;
}

int cades_add_signer(
        const void *existing, size_t existing_size, const CadesSignParams *p, ContentReadFunc read_func,
        void *userdata, uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *e) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_(content_digests_done) ContentDigests d = {};
        int r;

        r = check_params(p, e);
        if (r < 0)
                return r;
        if (!ret_der || !ret_size)
                return fail(e, -EINVAL, "missing arguments");
        r = parse_existing(existing, existing_size, &cms);
        if (r < 0)
                return fail(e, r, "the existing signature is not a detached CMS SignedData");
        r = content_digests_add(&d, p->digest_nid);
        if (r < 0)
                return fail(e, r, "unsupported digest");
        r = add_existing_digests(cms, &d, e);
        if (r < 0)
                return r;
        r = content_digests_read(&d, read_func, userdata);
        if (r < 0)
                return fail(e, r, "cannot read the document: %s", strerror(-r));
        return cades_add_signer_digests(existing, existing_size, p, &d, ret_der, ret_size, ret_timestamp, e);
}

int cades_add_signer_fd(
        const void *existing, size_t existing_size, const CadesSignParams *p, int content_fd,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *e) {
        if (content_fd < 0)
                return fail(e, -EBADF, "no document");
        return cades_add_signer(
                existing, existing_size, p, content_read_fd, &content_fd, ret_der, ret_size, ret_timestamp,
                e);
}

/* --- reference signer over a key in memory */

int pkey_signer_load(const char *key_path, CmsSignatureScheme scheme, PkeySigner *ret) {
        _cleanup_(BIO_free_allp) BIO *b = NULL;
        EVP_PKEY *key;

        if (!key_path || !ret)
                return -EINVAL;
        b = BIO_new_file(key_path, "r");
        if (!b)
                return -ENOENT;
        key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        ERR_clear_error();
        if (!key)
                return -EBADMSG;
        *ret = (PkeySigner){ .key = key, .scheme = scheme };
        return 0;
}

void pkey_signer_done(PkeySigner *s) {
        if (!s)
                return;
        EVP_PKEY_free(s->key);
        s->key = NULL;
}

int pkey_signer_sign(
        void *userdata, const uint8_t *tbs, size_t tbs_size, int digest_nid, uint8_t **ret_sig,
        size_t *ret_size) {
        PkeySigner *s = userdata;
        const EVP_MD *md = EVP_get_digestbynid(digest_nid);
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        _cleanup_free_ uint8_t *info = NULL, *sig = NULL;
        const uint8_t *in = tbs;
        size_t in_size = tbs_size, sig_size = 0;
        int r;

        if (!s || !s->key || !md)
                return -EINVAL;
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL);
        if (!ctx || EVP_PKEY_sign_init(ctx) <= 0)
                return -ENOMEM;
        switch (s->scheme) {
        case CMS_SIGNATURE_RSA_PKCS1:
                /* What a CKM_RSA_PKCS token gets: the DigestInfo, padded and exponentiated, nothing more. */
                r = digest_info_wrap(digest_nid, tbs, tbs_size, &info, &in_size);
                if (r < 0)
                        return r;
                in = info;
                if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
                        return -EINVAL;
                break;
        case CMS_SIGNATURE_RSA_PSS:
                if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                    EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0 ||
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int) tbs_size) <= 0)
                        return -EINVAL;
                break;
        case CMS_SIGNATURE_ECDSA:
                if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }
        if (EVP_PKEY_sign(ctx, NULL, &sig_size, in, in_size) <= 0)
                return -EINVAL;
        sig = malloc(sig_size);
        if (!sig)
                return -ENOMEM;
        if (EVP_PKEY_sign(ctx, sig, &sig_size, in, in_size) <= 0) {
                ERR_clear_error();
                return -EIO;
        }
        *ret_sig = TAKE_PTR(sig);
        *ret_size = sig_size;
        return 0;
}
