/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "cades-sign.h"
#include "openssl-util.h"
#include "sign-encoding.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(ESS_SIGNING_CERT_V2 *, ESS_SIGNING_CERT_V2_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(RSA_PSS_PARAMS *, RSA_PSS_PARAMS_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_ALGOR *, X509_ALGOR_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_TIME *, ASN1_TIME_free);

/* A SignedData with one SignerInfo whose signed attributes are final: what the token signs. */
typedef struct CadesPending {
        SignPending base;
        CMS_ContentInfo *cms;
        CMS_SignerInfo *si; /* in cms */
        X509 *cert;
        CmsSignatureScheme scheme;
        const EVP_MD *md;
        uint8_t *attrs; /* DER of the signed attributes */
        size_t attrs_size;
        uint8_t tbs[EVP_MAX_MD_SIZE];
} CadesPending;

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
        unsigned char *der = NULL;
        int len;

        if (!cert || !ret_der || !ret_size)
                return -EINVAL;
        /* ESS SigningCertificateV2 { certs { ESSCertIDv2 { hashAlgorithm sha256 (the DEFAULT, so omitted),
         * certHash, issuerSerial } } }: OpenSSL's constructor omits the algorithm for SHA-256. */
        ess = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL, 1);
        if (!ess)
                return -ENOMEM;
        len = i2d_ESS_SIGNING_CERT_V2(ess, &der);
        return openssl_der_take(der, len, ret_der, ret_size);
}

static int add_signed_attrs(
        CMS_SignerInfo *si, const SignParams *p, CadesProfile profile, const uint8_t *digest, size_t size) {
        _cleanup_free_ uint8_t *ess_own = NULL;
        const uint8_t *ess = p->signing_certificate;
        size_t ess_size = p->signing_certificate_size;
        int r;

        if (CMS_signed_add1_attr_by_NID(
                    si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) != 1)
                return -ENOMEM;
        if (profile == CADES_PROFILE_BASELINE_B) {
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
                r = cades_signing_certificate(p->cert, &ess_own, &ess_size);
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
static int add_existing_digests(CMS_ContentInfo *cms, ContentDigests *d) {
        STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);

        for (int i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
                X509_ALGOR *dig = NULL;
                const ASN1_OBJECT *o = NULL;

                CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(sis, i), NULL, NULL, &dig, NULL);
                if (dig)
                        X509_ALGOR_get0(&o, NULL, NULL, dig);
                if (content_digests_add(d, OBJ_obj2nid(o)) < 0)
                        return -EBADMSG;
        }
        return 0;
}

int cades_existing_digests(const void *existing, size_t existing_size, ContentDigests *d) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        int r;

        if (!d)
                return -EINVAL;
        r = parse_existing(existing, existing_size, &cms);
        if (r < 0)
                return r;
        return add_existing_digests(cms, d);
}

/* The new signature must not be added to a .p7s that belongs to another document. */
static int check_existing_cover(CMS_ContentInfo *cms, const ContentDigests *d, SignError *e) {
        STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);

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
                        return sign_error(
                                e, -EINVAL, "the content was not hashed with the digest of signature %d",
                                i + 1);
                if (!md || (size_t) md->length != have_size || CRYPTO_memcmp(md->data, have, have_size) != 0)
                        return sign_error(
                                e, -EBADMSG, "existing signature %d does not cover this document", i + 1);
        }
        return 0;
}

static int encode(CMS_ContentInfo *cms, uint8_t **ret, size_t *ret_size, SignError *e) {
        unsigned char *der = NULL;
        int len = i2d_CMS_ContentInfo(cms, &der);

        if (openssl_der_take(der, len, ret, ret_size) < 0)
                return sign_error(e, -ENOMEM, len <= 0 ? "cannot encode the signature" : "out of memory");
        return 0;
}

static int cades_set_signature(SignPending *base, const uint8_t *sig, size_t size, SignError *e) {
        CadesPending *c = (CadesPending *) base;
        ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(c->si);
        int r;

        if (size > 16384)
                return sign_error(e, -EKEYREJECTED, "the token returned no usable signature");
        r = check_signature(
                X509_get0_pubkey(c->cert), c->scheme, c->md, c->base.tbs, c->base.tbs_size, sig, size);
        if (r < 0)
                return sign_error(
                        e, r, "the signature made by the token does not verify with the certificate");
        if (ASN1_STRING_set(sv, sig, (int) size) != 1)
                return sign_error(e, -ENOMEM, "out of memory");
        c->base.signature = sv->data;
        c->base.signature_size = (size_t) sv->length;
        return 0;
}

static int cades_finish(
        SignPending *base, const uint8_t *token, size_t token_size, uint8_t **ret, size_t *ret_size,
        SignError *e) {
        CadesPending *c = (CadesPending *) base;
        int r;

        if (token) {
                CmsTimestamp ts = {};
                bool ok;

                if (token_size > INT_MAX)
                        return sign_error(e, -EBADMSG, "the time-stamp token is too large");
                /* A token for another signature value (or none at all) must not be embedded. */
                r = cms_verify_timestamp_token(
                        token, token_size, c->base.signature, c->base.signature_size, &ts);
                if (r < 0)
                        return sign_error(e, r, "cannot check the time-stamp token");
                ok = ts.status == CMS_TIMESTAMP_OK;
                if (!ok)
                        (void) sign_error(
                                e, -EBADMSG, "the time-stamp token was refused: %s", strna(ts.detail));
                cms_timestamp_done(&ts);
                if (!ok)
                        return -EBADMSG;
                if (CMS_unsigned_add1_attr_by_NID(
                            c->si, NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE, token,
                            (int) token_size) != 1)
                        return sign_error(e, -ENOMEM, "cannot embed the time-stamp token");
        }
        return encode(c->cms, ret, ret_size, e);
}

static void cades_free(SignPending *base) {
        CadesPending *c = (CadesPending *) base;

        CMS_ContentInfo_free(c->cms);
        X509_free(c->cert);
        free(c->attrs);
        free(c);
}

static const SignPendingVTable cades_vtable = {
        .set_signature = cades_set_signature,
        .finish = cades_finish,
        .free = cades_free,
};

static int check_params(const SignParams *p, const CadesInput *in, SignError *e) {
        if (!p || !p->cert || !in || !in->digests || !in->digests->finished)
                return sign_error(e, -EINVAL, "signer certificate and content digest are required");
        if (!digest_allowed(p->digest_nid))
                return sign_error(e, -EINVAL, "digest must be SHA-256, SHA-384 or SHA-512");
        if (in->profile < 0 || in->profile >= _CADES_PROFILE_MAX)
                return sign_error(e, -EINVAL, "unknown profile");
        if (!X509_get0_pubkey(p->cert))
                return sign_error(e, -EINVAL, "the signer certificate has no usable public key");
        if (!scheme_fits_key(p->scheme, X509_get0_pubkey(p->cert)))
                return sign_error(
                        e, -EKEYREJECTED, "signature scheme %s does not fit the certificate's key",
                        strna(cms_signature_scheme_to_string(p->scheme)));
        return 0;
}

/* The new SignerInfo with its final signed attributes, and what the token is to sign. */
static int add_signer_info(CadesPending *c, const SignParams *p, const CadesInput *in, SignError *e) {
        EVP_PKEY *key = X509_get0_pubkey(p->cert);
        const uint8_t *digest;
        size_t digest_size = 0;
        unsigned tbs_size = 0;
        int r;

        digest = content_digests_get(in->digests, p->digest_nid, &digest_size);
        if (!digest || (size_t) EVP_MD_get_size(c->md) != digest_size)
                return sign_error(e, -EINVAL, "the content was not hashed with the signing digest");

        /* The public key stands in for the private one: CMS_add1_signer() only compares them, and with
         * CMS_PARTIAL it does not sign. */
        c->si = CMS_add1_signer(
                c->cms, p->cert, key, c->md, CMS_PARTIAL | CMS_NOSMIMECAP | CMS_NOCERTS | CMS_BINARY);
        if (!c->si)
                return sign_error(e, -EINVAL, "cannot add a signer for this certificate");
        r = add_signed_attrs(c->si, p, in->profile, digest, digest_size);
        if (r < 0)
                return sign_error(e, r, "cannot build the signed attributes");
        if (p->scheme == CMS_SIGNATURE_RSA_PSS) {
                r = set_pss_algorithm(c->si, c->md);
                if (r < 0)
                        return sign_error(e, r, "cannot set the RSA-PSS parameters");
        }

        r = cms_signed_attrs_der(c->si, &c->attrs, &c->attrs_size);
        if (r < 0)
                return sign_error(e, r, "cannot encode the signed attributes");
        if (EVP_Digest(c->attrs, c->attrs_size, c->tbs, &tbs_size, c->md, NULL) != 1)
                return sign_error(e, -EIO, "cannot hash the signed attributes");
        c->base.tbs = c->tbs;
        c->base.tbs_size = tbs_size;
        c->base.tbs_data = c->attrs;
        c->base.tbs_data_size = c->attrs_size;

        r = add_cert_unique(c->cms, p->cert);
        for (int i = 0; r >= 0 && i < sk_X509_num(p->chain); i++)
                r = add_cert_unique(c->cms, sk_X509_value(p->chain, i));
        if (r < 0)
                return sign_error(e, r, "cannot add the certificates");
        return 0;
}

int cades_prepare(const SignParams *p, const CadesInput *in, SignPending **ret, SignError *e) {
        _cleanup_(sign_pending_freep) SignPending *pending = NULL;
        CadesPending *c;
        int r;

        r = check_params(p, in, e);
        if (r < 0)
                return r;
        if (!ret)
                return sign_error(e, -EINVAL, "missing arguments");
        c = calloc(1, sizeof *c);
        if (!c)
                return sign_error(e, -ENOMEM, "out of memory");
        c->base.vtable = &cades_vtable;
        pending = &c->base;
        if (X509_up_ref(p->cert) != 1)
                return sign_error(e, -ENOMEM, "out of memory");
        c->cert = p->cert;
        c->scheme = p->scheme;
        c->md = EVP_get_digestbynid(p->digest_nid);
        if (!c->md)
                return sign_error(e, -EINVAL, "unsupported digest");

        if (in->existing) {
                r = parse_existing(in->existing, in->existing_size, &c->cms);
                if (r < 0)
                        return sign_error(e, r, "the existing signature is not a detached CMS SignedData");
                r = check_existing_cover(c->cms, in->digests, e);
                if (r < 0)
                        return r;
        } else {
                c->cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
                if (!c->cms)
                        return sign_error(e, -ENOMEM, "out of memory");
        }
        r = add_signer_info(c, p, in, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pending);
        return 0;
}
