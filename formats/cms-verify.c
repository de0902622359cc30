/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "cms-verify.h"
#include "content-digest.h"
#include "openssl-util.h"
#include "sign-encoding.h"
#include "string-table.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(ESS_SIGNING_CERT *, ESS_SIGNING_CERT_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ESS_SIGNING_CERT_V2 *, ESS_SIGNING_CERT_V2_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(RSA_PSS_PARAMS *, RSA_PSS_PARAMS_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_ALGOR *, X509_ALGOR_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(TS_TST_INFO *, TS_TST_INFO_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);

static void sk_X509_freep_shallow(STACK_OF(X509) * *s) {
        if (*s)
                sk_X509_free(*s);
}

static const char *const cms_problem_table[_CMS_PROBLEM_MAX] = {
        [CMS_PROBLEM_OK] = "ok",
        [CMS_PROBLEM_MALFORMED] = "malformed",
        [CMS_PROBLEM_DIGEST_ALGORITHMS_MISMATCH] = "digest-algorithms-mismatch",
        [CMS_PROBLEM_UNSUPPORTED_ALGORITHM] = "unsupported-algorithm",
        [CMS_PROBLEM_SIGNER_CERT_MISSING] = "signer-cert-missing",
        [CMS_PROBLEM_MISSING_SIGNED_ATTRS] = "missing-signed-attrs",
        [CMS_PROBLEM_MISSING_MESSAGE_DIGEST] = "missing-message-digest",
        [CMS_PROBLEM_CONTENT_MISMATCH] = "content-mismatch",
        [CMS_PROBLEM_BAD_SIGNATURE] = "bad-signature",
        [CMS_PROBLEM_CONTENT_TYPE] = "content-type",
        [CMS_PROBLEM_SIGNING_CERT_ATTR_MISMATCH] = "signing-cert-attr-mismatch",
        [CMS_PROBLEM_BAD_TIMESTAMP] = "bad-timestamp",
        [CMS_PROBLEM_BAD_COUNTERSIGNATURE] = "bad-countersignature",
};

static const char *const cms_signature_scheme_table[_CMS_SIGNATURE_SCHEME_MAX] = {
        [CMS_SIGNATURE_RSA_PKCS1] = "rsa-pkcs1",
        [CMS_SIGNATURE_RSA_PSS] = "rsa-pss",
        [CMS_SIGNATURE_ECDSA] = "ecdsa",
};

static const char *const cms_content_type_table[_CMS_CONTENT_TYPE_MAX] = {
        [CMS_CONTENT_TYPE_ABSENT] = "absent",
        [CMS_CONTENT_TYPE_DATA] = "data",
        [CMS_CONTENT_TYPE_OTHER] = "other",
};

static const char *const cms_signing_cert_table[_CMS_SIGNING_CERT_MAX] = {
        [CMS_SIGNING_CERT_ABSENT] = "absent",       [CMS_SIGNING_CERT_V2_OK] = "v2-ok",
        [CMS_SIGNING_CERT_V1_OK] = "v1-ok",         [CMS_SIGNING_CERT_MISMATCH] = "mismatch",
        [CMS_SIGNING_CERT_MALFORMED] = "malformed",
};

static const char *const cms_timestamp_status_table[_CMS_TIMESTAMP_STATUS_MAX] = {
        [CMS_TIMESTAMP_NONE] = "none",
        [CMS_TIMESTAMP_OK] = "ok",
        [CMS_TIMESTAMP_MALFORMED] = "malformed",
        [CMS_TIMESTAMP_BAD_SIGNATURE] = "bad-signature",
        [CMS_TIMESTAMP_IMPRINT_MISMATCH] = "imprint-mismatch",
        [CMS_TIMESTAMP_UNSUPPORTED_DIGEST] = "unsupported-digest",
};

DEFINE_STRING_TABLE_LOOKUP(cms_problem, CmsProblem);
DEFINE_STRING_TABLE_LOOKUP(cms_signature_scheme, CmsSignatureScheme);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(cms_content_type, CmsContentType);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(cms_signing_cert, CmsSigningCert);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(cms_timestamp_status, CmsTimestampStatus);

static void signer_result_done(CmsSignerResult *s);

void cms_timestamp_done(CmsTimestamp *t) {
        if (!t)
                return;
        X509_free(t->tsa_cert);
        if (t->certs)
                sk_X509_pop_free(t->certs, X509_free);
        free(t->policy_oid);
        free(t->serial_hex);
        free(t->detail);
        *t = (CmsTimestamp){};
}

static void signer_result_done(CmsSignerResult *s) {
        free(s->detail);
        X509_free(s->signer_cert);
        EVP_PKEY_free(s->signer_key);
        cms_timestamp_done(&s->timestamp);
        for (size_t i = 0; i < s->n_countersigners; i++)
                signer_result_done(&s->countersigners[i]);
        free(s->countersigners);
        *s = (CmsSignerResult){};
}

CmsVerifyResult *cms_verify_result_free(CmsVerifyResult *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_signers; i++)
                signer_result_done(&r->signers[i]);
        free(r->signers);
        if (r->certs)
                sk_X509_pop_free(r->certs, X509_free);
        return mfree(r);
}

static bool signer_all_ok(const CmsSignerResult *s) {
        if (s->problem != CMS_PROBLEM_OK)
                return false;
        for (size_t i = 0; i < s->n_countersigners; i++)
                if (!signer_all_ok(&s->countersigners[i]))
                        return false;
        return true;
}

bool cms_verify_result_all_ok(const CmsVerifyResult *r) {
        if (!r || r->n_signers == 0)
                return false;
        for (size_t i = 0; i < r->n_signers; i++)
                if (!signer_all_ok(&r->signers[i]))
                        return false;
        return true;
}

/* --- small helpers */

static char *obj_to_dotted(const ASN1_OBJECT *o) {
        char buf[128];
        int n;

        if (!o)
                return NULL;
        n = OBJ_obj2txt(buf, sizeof buf, o, 1);
        if (n <= 0 || (size_t) n >= sizeof buf)
                return NULL;
        return strdup(buf);
}

static char *asn1_integer_to_hex(const ASN1_INTEGER *i) {
        _cleanup_(BN_freep) BIGNUM *bn = NULL;
        char *h, *ret;

        if (!i)
                return NULL;
        bn = ASN1_INTEGER_to_BN(i, NULL);
        if (!bn)
                return NULL;
        h = BN_bn2hex(bn);
        if (!h)
                return NULL;
        ret = strdup(h);
        OPENSSL_free(h);
        return ret;
}

/* Sets the detail once: the first failing check explains the verdict. */
_printf_(3, 4) static void set_problem(CmsSignerResult *s, CmsProblem p, const char *fmt, ...) {
        va_list ap;
        char *d = NULL;

        if (s->problem != CMS_PROBLEM_OK && s->problem <= p)
                return;
        va_start(ap, fmt);
        if (vasprintf(&d, fmt, ap) < 0)
                d = NULL;
        va_end(ap);
        s->problem = p;
        free(s->detail);
        s->detail = d;
}

/* Count of signed attributes of this type, so that "absent" and "present twice" differ from "present". */
static int signed_attr_count(CMS_SignerInfo *si, int nid) {
        int n = 0, pos = -1;

        while ((pos = CMS_signed_get_attr_by_NID(si, nid, pos)) >= 0)
                n++;
        return n;
}

/* The only value of the only attribute of this type, as an ASN1_TYPE, or NULL. */
static const ASN1_TYPE *signed_attr_single(CMS_SignerInfo *si, int nid) {
        X509_ATTRIBUTE *a;
        int pos;

        if (signed_attr_count(si, nid) != 1)
                return NULL;
        pos = CMS_signed_get_attr_by_NID(si, nid, -1);
        a = CMS_signed_get_attr(si, pos);
        if (!a || X509_ATTRIBUTE_count(a) != 1)
                return NULL;
        return X509_ATTRIBUTE_get0_type(a, 0);
}

static bool digest_nid_supported(int nid) {
        switch (nid) {
        case NID_sha1:
        case NID_sha224:
        case NID_sha256:
        case NID_sha384:
        case NID_sha512:
        case NID_sha3_256:
        case NID_sha3_384:
        case NID_sha3_512:
                return true;
        default:
                return false;
        }
}

static int algor_digest_nid(const X509_ALGOR *a) {
        const ASN1_OBJECT *o = NULL;

        if (!a)
                return NID_undef;
        X509_ALGOR_get0(&o, NULL, NULL, a);
        return OBJ_obj2nid(o);
}

/* RSASSA-PSS-params with their RFC 4055 defaults (SHA-1, MGF1-SHA-1, 20). */
static int parse_pss_params(const X509_ALGOR *sigalg, int *ret_hash, int *ret_mgf1, int *ret_salt) {
        _cleanup_(RSA_PSS_PARAMS_freep) RSA_PSS_PARAMS *pss = NULL;
        _cleanup_(X509_ALGOR_freep) X509_ALGOR *mgf1_hash = NULL;
        const ASN1_STRING *s;
        const unsigned char *p;
        const void *pval = NULL;
        int ptype = V_ASN1_UNDEF, hash = NID_sha1, mgf1 = NID_sha1;
        long salt = 20;

        X509_ALGOR_get0(NULL, &ptype, &pval, sigalg);
        if (ptype != V_ASN1_SEQUENCE || !pval)
                return -EBADMSG;
        s = pval;
        p = s->data;
        pss = d2i_RSA_PSS_PARAMS(NULL, &p, s->length);
        if (!pss || p != s->data + s->length)
                return -EBADMSG;
        if (pss->hashAlgorithm)
                hash = algor_digest_nid(pss->hashAlgorithm);
        if (pss->maskGenAlgorithm) {
                const ASN1_OBJECT *o = NULL;
                const void *mval = NULL;
                int mtype = V_ASN1_UNDEF;

                X509_ALGOR_get0(&o, &mtype, &mval, pss->maskGenAlgorithm);
                if (OBJ_obj2nid(o) != NID_mgf1 || mtype != V_ASN1_SEQUENCE || !mval)
                        return -EOPNOTSUPP;
                s = mval;
                p = s->data;
                mgf1_hash = d2i_X509_ALGOR(NULL, &p, s->length);
                if (!mgf1_hash)
                        return -EBADMSG;
                mgf1 = algor_digest_nid(mgf1_hash);
        }
        if (pss->saltLength) {
                salt = ASN1_INTEGER_get(pss->saltLength);
                if (salt < 0 || salt > 1024)
                        return -EBADMSG;
        }
        if (pss->trailerField && ASN1_INTEGER_get(pss->trailerField) != 1)
                return -EOPNOTSUPP;
        *ret_hash = hash;
        *ret_mgf1 = mgf1;
        *ret_salt = (int) salt;
        return 0;
}

/* Which scheme a SignerInfo's signatureAlgorithm names; checks it fits the digest and the key. */
static int
classify_signature(CmsSignerResult *s, const X509_ALGOR *sigalg, EVP_PKEY *key, int *ret_pss_hash) {
        const ASN1_OBJECT *o = NULL;
        int sig_nid, dig = NID_undef, pk = NID_undef;

        X509_ALGOR_get0(&o, NULL, NULL, sigalg);
        sig_nid = OBJ_obj2nid(o);
        *ret_pss_hash = NID_undef;

        if (sig_nid == NID_rsaEncryption)
                s->scheme = CMS_SIGNATURE_RSA_PKCS1;
        else if (sig_nid == NID_rsassaPss) {
                int hash, mgf1, salt, r;

                r = parse_pss_params(sigalg, &hash, &mgf1, &salt);
                if (r < 0) {
                        s->scheme = _CMS_SIGNATURE_SCHEME_INVALID;
                        return r;
                }
                s->scheme = CMS_SIGNATURE_RSA_PSS;
                s->pss_mgf1_digest_nid = mgf1;
                s->pss_salt_length = salt;
                *ret_pss_hash = hash;
        } else if (sig_nid == NID_X9_62_id_ecPublicKey)
                s->scheme = CMS_SIGNATURE_ECDSA;
        else if (sig_nid != NID_undef && OBJ_find_sigid_algs(sig_nid, &dig, &pk) == 1) {
                if (pk == NID_rsaEncryption)
                        s->scheme = CMS_SIGNATURE_RSA_PKCS1;
                else if (pk == NID_X9_62_id_ecPublicKey)
                        s->scheme = CMS_SIGNATURE_ECDSA;
                else
                        s->scheme = _CMS_SIGNATURE_SCHEME_INVALID;
                /* ecdsa-with-SHA256 under a SHA-384 digestAlgorithm: the signature could not be checked as
                 * declared. */
                if (s->scheme >= 0 && dig != s->digest_nid)
                        return -EBADMSG;
        } else
                s->scheme = _CMS_SIGNATURE_SCHEME_INVALID;

        if (s->scheme < 0)
                return -EOPNOTSUPP;
        if (!key)
                return 0;
        switch (s->scheme) {
        case CMS_SIGNATURE_RSA_PKCS1:
                return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? 0 : -EKEYREJECTED;
        case CMS_SIGNATURE_RSA_PSS:
                return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ||
                                       EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS
                               ? 0
                               : -EKEYREJECTED;
        case CMS_SIGNATURE_ECDSA:
                return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC ? 0 : -EKEYREJECTED;
        default:
                return -EOPNOTSUPP;
        }
}

/* Signature without signed attributes: it covers the content digest directly. */
static bool verify_raw_digest(
        const CmsSignerResult *s, int pss_hash, const uint8_t *dig, size_t dig_size,
        const ASN1_OCTET_STRING *sig) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        const EVP_MD *md = EVP_get_digestbynid(s->digest_nid);

        if (!md || !s->signer_key || !dig || !sig)
                return false;
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->signer_key, NULL);
        if (!ctx || EVP_PKEY_verify_init(ctx) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)
                return false;
        if (s->scheme == CMS_SIGNATURE_RSA_PSS) {
                const EVP_MD *mgf1 = EVP_get_digestbynid(s->pss_mgf1_digest_nid);

                if (pss_hash != s->digest_nid || !mgf1 ||
                    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf1) <= 0 ||
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, s->pss_salt_length) <= 0)
                        return false;
        } else if (s->scheme == CMS_SIGNATURE_RSA_PKCS1) {
                if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
                        return false;
        }
        return EVP_PKEY_verify(ctx, sig->data, (size_t) sig->length, dig, dig_size) == 1;
}

/* The hash algorithm of the first ESSCertIDv2 of a DER SigningCertificateV2 (OpenSSL 3.0 keeps the
 * structure opaque): SEQUENCE { SEQUENCE OF ESSCertIDv2 { hashAlgorithm DEFAULT sha256, certHash, ... } }.
 */
static int ess_v2_first_hash_nid(const ASN1_STRING *seq) {
        const unsigned char *p = seq->data, *end = seq->data + seq->length;
        long len = 0;
        int tag = 0, class = 0;

        for (int level = 0; level < 3; level++) {
                if ((ASN1_get_object(&p, &len, &tag, &class, end - p) & 0x80) || tag != V_ASN1_SEQUENCE ||
                    class != V_ASN1_UNIVERSAL || len > end - p)
                        return NID_undef;
                end = p + len;
        }
        /* p: the ESSCertIDv2's first element. */
        if (p >= end)
                return NID_undef;
        if (*p == V_ASN1_OCTET_STRING)
                return NID_sha256;
        _cleanup_(X509_ALGOR_freep) X509_ALGOR *alg = d2i_X509_ALGOR(NULL, &p, end - p);
        return alg ? algor_digest_nid(alg) : NID_undef;
}

/* The single value of the signed attribute nid, a SEQUENCE, decoded as item to its last byte (the caller
 * frees it); ret_der, if not NULL, the SEQUENCE's DER. NULL for anything else. */
static void *
signed_attr_decode(CMS_SignerInfo *si, int nid, const ASN1_ITEM *item, const ASN1_STRING **ret_der) {
        const ASN1_TYPE *t = signed_attr_single(si, nid);
        const unsigned char *p;
        ASN1_VALUE *v;

        if (!t || t->type != V_ASN1_SEQUENCE)
                return NULL;
        p = t->value.sequence->data;
        v = ASN1_item_d2i(NULL, &p, t->value.sequence->length, item);
        if (v && p != t->value.sequence->data + t->value.sequence->length) {
                ASN1_item_free(v, item);
                return NULL;
        }
        if (v && ret_der)
                *ret_der = t->value.sequence;
        return v;
}

static CmsSigningCert check_signing_cert(CMS_SignerInfo *si, X509 *signer, int *ret_digest_nid) {
        _cleanup_(ESS_SIGNING_CERT_freep) ESS_SIGNING_CERT *v1 = NULL;
        _cleanup_(ESS_SIGNING_CERT_V2_freep) ESS_SIGNING_CERT_V2 *v2 = NULL;
        _cleanup_(sk_X509_freep_shallow) STACK_OF(X509) *chain = NULL;
        int n1 = signed_attr_count(si, NID_id_smime_aa_signingCertificate);
        int n2 = signed_attr_count(si, NID_id_smime_aa_signingCertificateV2);

        if (n1 == 0 && n2 == 0)
                return CMS_SIGNING_CERT_ABSENT;
        if (n1 > 1 || n2 > 1)
                return CMS_SIGNING_CERT_MALFORMED;
        if (n1 == 1) {
                v1 = signed_attr_decode(
                        si, NID_id_smime_aa_signingCertificate, ASN1_ITEM_rptr(ESS_SIGNING_CERT), NULL);
                if (!v1)
                        return CMS_SIGNING_CERT_MALFORMED;
        }
        if (n2 == 1) {
                const ASN1_STRING *der;

                v2 = signed_attr_decode(
                        si, NID_id_smime_aa_signingCertificateV2, ASN1_ITEM_rptr(ESS_SIGNING_CERT_V2), &der);
                if (!v2)
                        return CMS_SIGNING_CERT_MALFORMED;
                *ret_digest_nid = ess_v2_first_hash_nid(der);
        } else
                *ret_digest_nid = NID_sha1;
        if (!signer)
                return CMS_SIGNING_CERT_MISMATCH;

        /* With a one-element chain, OpenSSL checks that the first ESSCertID(v2) is the signer's: hash over
         * the DER certificate, and issuer and serial when issuerSerial is present. */
        chain = sk_X509_new_null();
        if (!chain || !sk_X509_push(chain, signer))
                return CMS_SIGNING_CERT_MALFORMED;
        if (OSSL_ESS_check_signing_certs(v1, v2, chain, 1) <= 0)
                return CMS_SIGNING_CERT_MISMATCH;
        return v2 ? CMS_SIGNING_CERT_V2_OK : CMS_SIGNING_CERT_V1_OK;
}

/* DER length header; with p == NULL only counts. */
static size_t der_header(uint8_t *p, uint8_t tag, size_t len) {
        size_t n = 0, l = len;

        if (len < 0x80) {
                if (p) {
                        p[0] = tag;
                        p[1] = (uint8_t) len;
                }
                return 2;
        }
        while (l > 0) {
                n++;
                l >>= 8;
        }
        if (p) {
                p[0] = tag;
                p[1] = (uint8_t) (0x80 | n);
                for (size_t i = 0; i < n; i++)
                        p[2 + i] = (uint8_t) (len >> (8 * (n - 1 - i)));
        }
        return 2 + n;
}

/* A countersignature is a bare SignerInfo, and OpenSSL 3.0 exports no ASN.1 item for one: wrap it into a
 * minimal detached SignedData so the CMS parser and CMS_SignerInfo_verify() can be used on it unchanged. */
static CMS_ContentInfo *wrap_signer_info(const uint8_t *si_der, size_t si_size) {
        static const uint8_t oid_signed_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                                   0xf7, 0x0d, 0x01, 0x07, 0x02 };
        static const uint8_t sd_prefix[] = {
                0x02, 0x01, 0x01, /* version */
                0x31, 0x00,       /* digestAlgs */
                0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, /* id-data */
        };
        _cleanup_free_ uint8_t *buf = NULL;
        size_t set_len, sd_body, sd_len, expl_len, ci_body, total, off = 0;
        const unsigned char *p;
        CMS_ContentInfo *cms;

        if (si_size > CMS_VERIFY_MAX_SIGNATURE_SIZE)
                return NULL;
        set_len = der_header(NULL, 0x31, si_size) + si_size;
        sd_body = sizeof sd_prefix + set_len;
        sd_len = der_header(NULL, 0x30, sd_body) + sd_body;
        expl_len = der_header(NULL, 0xa0, sd_len) + sd_len;
        ci_body = sizeof oid_signed_data + expl_len;
        total = der_header(NULL, 0x30, ci_body) + ci_body;

        buf = malloc(total);
        if (!buf)
                return NULL;
        off += der_header(buf + off, 0x30, ci_body);
        memcpy(buf + off, oid_signed_data, sizeof oid_signed_data);
        off += sizeof oid_signed_data;
        off += der_header(buf + off, 0xa0, sd_len);
        off += der_header(buf + off, 0x30, sd_body);
        memcpy(buf + off, sd_prefix, sizeof sd_prefix);
        off += sizeof sd_prefix;
        off += der_header(buf + off, 0x31, si_size);
        memcpy(buf + off, si_der, si_size);
        off += si_size;

        p = buf;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long) total);
        if (cms && (p != buf + total || sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1)) {
                CMS_ContentInfo_free(cms);
                return NULL;
        }
        return cms;
}

static void verify_signer(
        CMS_SignerInfo *si, STACK_OF(X509) * certs, const ContentDigests *digests, int expected_content_type,
        unsigned depth, CmsSignerResult *s);

/* Signature checks left for the current top-level call (SignerInfos, countersignatures and time-stamp tokens
 * together), so that a small file cannot ask for thousands of public-key operations. Per thread, set by the
 * public entry points. */
static _Thread_local unsigned verify_budget;

/* The digest a SignerInfo needs, over data in memory. */
static int digests_of_buffer(CMS_SignerInfo *si, const void *data, size_t size, ContentDigests *ret) {
        X509_ALGOR *dig = NULL;
        int r, nid;

        CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
        nid = algor_digest_nid(dig);
        *ret = (ContentDigests){};
        if (digest_nid_supported(nid)) {
                r = content_digests_add(ret, nid);
                if (r < 0 && r != -EOPNOTSUPP)
                        return r;
        }
        r = content_digests_update(ret, data, size);
        if (r < 0)
                return r;
        return content_digests_finish(ret);
}

static void verify_timestamp_der(
        const uint8_t *der, size_t der_size, const uint8_t *stamped, size_t stamped_size, unsigned depth,
        CmsTimestamp *t) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *tok = NULL;
        _cleanup_(TS_TST_INFO_freep) TS_TST_INFO *tst = NULL;
        _cleanup_(content_digests_done) ContentDigests digests = {};
        CmsSignerResult sub = { .problem = CMS_PROBLEM_OK };
        STACK_OF(CMS_SignerInfo) * sis;
        ASN1_OCTET_STRING **content;
        const unsigned char *p;
        TS_MSG_IMPRINT *mi;
        const ASN1_OCTET_STRING *imprint;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_size = 0;

#define TS_FAIL(st, ...)                                   \
        do {                                               \
                t->status = (st);                          \
                free(t->detail);                           \
                if (asprintf(&t->detail, __VA_ARGS__) < 0) \
                        t->detail = NULL;                  \
                goto finish;                               \
        } while (0)

        t->status = CMS_TIMESTAMP_OK;
        t->imprint_digest_nid = t->signature_digest_nid = NID_undef;
        t->certs = sk_X509_new_null();
        if (!t->certs)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "out of memory");
        if (!der || der_size == 0 || der_size > CMS_VERIFY_MAX_SIGNATURE_SIZE)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "time-stamp token is empty or too large");
        p = der;
        tok = d2i_CMS_ContentInfo(NULL, &p, (long) der_size);
        if (!tok || p != der + der_size)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "time-stamp token does not parse");
        if (OBJ_obj2nid(CMS_get0_type(tok)) != NID_pkcs7_signed ||
            OBJ_obj2nid(CMS_get0_eContentType(tok)) != NID_id_smime_ct_TSTInfo)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "time-stamp token is not a signed TSTInfo");
        content = CMS_get0_content(tok);
        if (!content || !*content)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "time-stamp token has no TSTInfo");
        p = (*content)->data;
        tst = d2i_TS_TST_INFO(NULL, &p, (*content)->length);
        if (!tst || p != (*content)->data + (*content)->length || TS_TST_INFO_get_version(tst) != 1)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "TSTInfo does not parse");

        if (asn1_time_to_unix(TS_TST_INFO_get_time(tst), &t->gen_time) >= 0)
                t->has_gen_time = true;
        t->policy_oid = obj_to_dotted(TS_TST_INFO_get_policy_id(tst));
        t->serial_hex = asn1_integer_to_hex(TS_TST_INFO_get_serial(tst));

        STACK_OF(X509) *tc = CMS_get1_certs(tok);
        if (tc) {
                sk_X509_pop_free(t->certs, X509_free);
                t->certs = tc;
        }

        sis = CMS_get0_SignerInfos(tok);
        if (sk_CMS_SignerInfo_num(sis) != 1)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "time-stamp token must have exactly one signer");
        CMS_SignerInfo *tsi = sk_CMS_SignerInfo_value(sis, 0);
        if (digests_of_buffer(tsi, (*content)->data, (size_t) (*content)->length, &digests) < 0)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "cannot hash the TSTInfo");
        verify_signer(tsi, t->certs, &digests, NID_id_smime_ct_TSTInfo, depth + 1, &sub);
        if (sub.signer_cert && X509_up_ref(sub.signer_cert) == 1)
                t->tsa_cert = sub.signer_cert;
        t->signature_digest_nid = sub.digest_nid;

        mi = TS_TST_INFO_get_msg_imprint(tst);
        imprint = mi ? TS_MSG_IMPRINT_get_msg(mi) : NULL;
        t->imprint_digest_nid = mi ? algor_digest_nid(TS_MSG_IMPRINT_get_algo(mi)) : NID_undef;
        if (digest_nid_supported(t->imprint_digest_nid) && imprint &&
            digest_buffer(t->imprint_digest_nid, stamped, stamped_size, md, &md_size) >= 0)
                t->imprint_matches = (size_t) imprint->length == md_size &&
                                     CRYPTO_memcmp(imprint->data, md, md_size) == 0;

        t->signature_valid = sub.problem == CMS_PROBLEM_OK && (sub.signing_cert == CMS_SIGNING_CERT_V1_OK ||
                                                               sub.signing_cert == CMS_SIGNING_CERT_V2_OK);
        if (!t->signature_valid)
                TS_FAIL(CMS_TIMESTAMP_BAD_SIGNATURE, "time-stamp token signature: %s",
                        sub.problem != CMS_PROBLEM_OK
                                ? strna(sub.detail)
                                : "no signing-certificate attribute binds the TSA certificate");
        if (!digest_nid_supported(t->imprint_digest_nid))
                TS_FAIL(CMS_TIMESTAMP_UNSUPPORTED_DIGEST, "time-stamp imprint uses an unsupported hash");
        if (!t->imprint_matches)
                TS_FAIL(CMS_TIMESTAMP_IMPRINT_MISMATCH,
                        "time-stamp token does not cover this signature value (imprint mismatch)");
        if (!t->has_gen_time)
                TS_FAIL(CMS_TIMESTAMP_MALFORMED, "time-stamp genTime does not parse");
finish:
        signer_result_done(&sub);
        ERR_clear_error();
#undef TS_FAIL
}

static void
verify_timestamp(const ASN1_OCTET_STRING *sigval, X509_ATTRIBUTE *attr, unsigned depth, CmsTimestamp *t) {
        const ASN1_TYPE *v = X509_ATTRIBUTE_count(attr) == 1 ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;

        if (!v || v->type != V_ASN1_SEQUENCE || !v->value.sequence) {
                t->status = CMS_TIMESTAMP_MALFORMED;
                t->imprint_digest_nid = t->signature_digest_nid = NID_undef;
                t->certs = sk_X509_new_null();
                t->detail = strdup("signature time-stamp attribute must hold exactly one token");
                return;
        }
        verify_timestamp_der(
                v->value.sequence->data, (size_t) v->value.sequence->length, sigval->data,
                (size_t) sigval->length, depth, t);
}

int cms_verify_timestamp_token(
        const void *token, size_t token_size, const void *stamped, size_t stamped_size, CmsTimestamp *ret) {
        CmsTimestamp t = {};

        if (!token || !ret || (!stamped && stamped_size > 0))
                return -EINVAL;
        verify_budget = CMS_VERIFY_MAX_CHECKS;
        verify_timestamp_der(token, token_size, stamped, stamped_size, 0, &t);
        if (!t.certs) {
                cms_timestamp_done(&t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

static void verify_countersignatures(
        CMS_SignerInfo *si, STACK_OF(X509) * certs, const ASN1_OCTET_STRING *sigval, unsigned depth,
        CmsSignerResult *s) {
        int n_attrs = CMS_unsigned_get_attr_count(si);
        size_t n = 0;

        for (int i = 0; i < n_attrs; i++) {
                X509_ATTRIBUTE *a = CMS_unsigned_get_attr(si, i);
                if (a && OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)) == NID_pkcs9_countersignature)
                        n += (size_t) MAX(X509_ATTRIBUTE_count(a), 0);
        }
        if (n == 0)
                return;
        if (n > CMS_VERIFY_MAX_SIGNERS || depth + 1 > CMS_VERIFY_MAX_NESTING) {
                set_problem(s, CMS_PROBLEM_MALFORMED, "too many or too deeply nested countersignatures");
                return;
        }
        s->countersigners = calloc(n, sizeof(CmsSignerResult));
        if (!s->countersigners) {
                set_problem(s, CMS_PROBLEM_MALFORMED, "out of memory");
                return;
        }

        for (int i = 0; i < n_attrs; i++) {
                X509_ATTRIBUTE *a = CMS_unsigned_get_attr(si, i);

                if (!a || OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)) != NID_pkcs9_countersignature)
                        continue;
                for (int j = 0; j < X509_ATTRIBUTE_count(a) && s->n_countersigners < n; j++) {
                        CmsSignerResult *c = &s->countersigners[s->n_countersigners++];
                        const ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(a, j);
                        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *w = NULL;
                        _cleanup_(content_digests_done) ContentDigests digests = {};
                        CMS_SignerInfo *csi;

                        c->pss_salt_length = -1;
                        if (!v || v->type != V_ASN1_SEQUENCE || !v->value.sequence ||
                            !(w = wrap_signer_info(
                                      v->value.sequence->data, (size_t) v->value.sequence->length))) {
                                set_problem(c, CMS_PROBLEM_MALFORMED, "countersignature does not parse");
                                continue;
                        }
                        csi = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(w), 0);
                        if (digests_of_buffer(csi, sigval->data, (size_t) sigval->length, &digests) < 0) {
                                set_problem(c, CMS_PROBLEM_MALFORMED, "cannot hash the countersigned value");
                                continue;
                        }
                        verify_signer(csi, certs, &digests, NID_undef, depth + 1, c);
                }
        }
        for (size_t i = 0; i < s->n_countersigners; i++)
                if (!signer_all_ok(&s->countersigners[i]))
                        set_problem(
                                s, CMS_PROBLEM_BAD_COUNTERSIGNATURE, "countersignature %zu: %s", i + 1,
                                strna(s->countersigners[i].detail));
}

/* OpenSSL 3.0's CMS_SignerInfo_verify() insists on a content-type attribute, which a countersignature must
 * not have (RFC 5652, 11.1): countersignatures are checked here, over the DER of their signed attributes. */
static bool verify_signed_attrs_signature(CMS_SignerInfo *si, const CmsSignerResult *s, int pss_hash) {
        _cleanup_free_ uint8_t *der = NULL;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_size = 0;
        size_t der_size = 0;

        if (cms_signed_attrs_der(si, &der, &der_size) < 0)
                return false;
        if (digest_buffer(s->digest_nid, der, der_size, md, &md_size) < 0)
                return false;
        return verify_raw_digest(s, pss_hash, md, md_size, CMS_SignerInfo_get0_signature(si));
}

static void verify_signed_attrs(
        CMS_SignerInfo *si, const uint8_t *cd, size_t cd_size, int expected_content_type, int pss_hash,
        CmsSignerResult *s) {
        const ASN1_TYPE *t;
        int n;

        t = signed_attr_single(si, NID_pkcs9_messageDigest);
        if (!t || t->type != V_ASN1_OCTET_STRING || !t->value.octet_string)
                set_problem(
                        s, CMS_PROBLEM_MISSING_MESSAGE_DIGEST, "no single message-digest signed attribute");
        else {
                s->digest_matches = cd && (size_t) t->value.octet_string->length == cd_size &&
                                    CRYPTO_memcmp(t->value.octet_string->data, cd, cd_size) == 0;
                if (!s->digest_matches)
                        set_problem(
                                s, CMS_PROBLEM_CONTENT_MISMATCH,
                                "the content does not match the message-digest of the signature");
        }

        n = signed_attr_count(si, NID_pkcs9_contentType);
        if (n == 0)
                s->content_type = CMS_CONTENT_TYPE_ABSENT;
        else {
                t = signed_attr_single(si, NID_pkcs9_contentType);
                s->content_type = t && t->type == V_ASN1_OBJECT &&
                                                  OBJ_obj2nid(t->value.object) == expected_content_type &&
                                                  expected_content_type != NID_undef
                                          ? CMS_CONTENT_TYPE_DATA
                                          : CMS_CONTENT_TYPE_OTHER;
        }
        if (expected_content_type == NID_undef ? s->content_type != CMS_CONTENT_TYPE_ABSENT
                                               : s->content_type != CMS_CONTENT_TYPE_DATA)
                set_problem(
                        s, CMS_PROBLEM_CONTENT_TYPE,
                        expected_content_type == NID_undef
                                ? "a countersignature must not have a content-type attribute"
                                : "content-type signed attribute missing or not the expected type");

        s->signing_cert_digest_nid = NID_undef;
        s->signing_cert = check_signing_cert(si, s->signer_cert, &s->signing_cert_digest_nid);
        if (s->signing_cert != CMS_SIGNING_CERT_V1_OK && s->signing_cert != CMS_SIGNING_CERT_V2_OK)
                s->signing_cert_digest_nid = NID_undef;
        if (s->signing_cert == CMS_SIGNING_CERT_MALFORMED)
                set_problem(s, CMS_PROBLEM_MALFORMED, "signing-certificate attribute does not parse");
        else if (s->signing_cert == CMS_SIGNING_CERT_MISMATCH)
                set_problem(
                        s, CMS_PROBLEM_SIGNING_CERT_ATTR_MISMATCH,
                        "the signing-certificate attribute designates another certificate than the signer's");

        n = signed_attr_count(si, NID_pkcs9_signingTime);
        if (n > 0) {
                t = signed_attr_single(si, NID_pkcs9_signingTime);
                if (t && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME) &&
                    asn1_time_to_unix(t->value.asn1_string, &s->signing_time) >= 0)
                        s->has_signing_time = true;
                else
                        set_problem(s, CMS_PROBLEM_MALFORMED, "signing-time attribute does not parse");
        }

        /* CMS_SignerInfo_verify() hashes the DER of the signed attributes with the SignerInfo's digest and
         * checks the signature with the key set by CMS_SignerInfo_set1_signer_cert(); no certificate path
         * involved. */
        if (s->signer_key && s->scheme >= 0) {
                /* CMS_SignerInfo_verify() refuses attribute sets it finds wrong (no content-type) before it
                 * looks at the signature; those are reported above, and the signature is judged on its own
                 * here. */
                s->signature_valid = s->content_type == CMS_CONTENT_TYPE_DATA
                                             ? CMS_SignerInfo_verify(si) == 1
                                             : verify_signed_attrs_signature(si, s, pss_hash);
                if (!s->signature_valid)
                        set_problem(
                                s, CMS_PROBLEM_BAD_SIGNATURE,
                                "the signature over the signed attributes does not verify with the signer's key");
        }
}

static void verify_signer(
        CMS_SignerInfo *si, STACK_OF(X509) * certs, const ContentDigests *digests, int expected_content_type,
        unsigned depth, CmsSignerResult *s) {
        X509_ALGOR *dig = NULL, *sigalg = NULL;
        ASN1_OCTET_STRING *sigval;
        X509 *cert = NULL;
        const uint8_t *cd;
        size_t cd_size = 0;
        int pss_hash = NID_undef, r;

        s->problem = CMS_PROBLEM_OK;
        s->pss_mgf1_digest_nid = NID_undef;
        s->pss_salt_length = -1;
        if (verify_budget == 0) {
                set_problem(s, CMS_PROBLEM_MALFORMED, "too many signatures in one file");
                goto finish;
        }
        verify_budget--;
        if (depth > CMS_VERIFY_MAX_NESTING) {
                set_problem(s, CMS_PROBLEM_MALFORMED, "signatures nested too deeply");
                goto finish;
        }

        CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sigalg);
        s->digest_nid = algor_digest_nid(dig);
        sigval = CMS_SignerInfo_get0_signature(si);

        for (int i = 0; i < sk_X509_num(certs); i++)
                if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0) {
                        cert = sk_X509_value(certs, i);
                        break;
                }
        if (cert) {
                CMS_SignerInfo_set1_signer_cert(si, cert);
                if (X509_up_ref(cert) == 1)
                        s->signer_cert = cert;
                s->signer_key = X509_get_pubkey(cert);
                if (s->signer_key)
                        s->key_bits = EVP_PKEY_get_bits(s->signer_key);
        } else
                set_problem(
                        s, CMS_PROBLEM_SIGNER_CERT_MISSING,
                        "no certificate in the signature matches the signer identifier");

        if (!digest_nid_supported(s->digest_nid))
                set_problem(
                        s, CMS_PROBLEM_UNSUPPORTED_ALGORITHM, "unsupported digest algorithm %s",
                        OBJ_nid2sn(s->digest_nid));
        r = sigalg ? classify_signature(s, sigalg, s->signer_key, &pss_hash) : -EBADMSG;
        if (r == -EKEYREJECTED)
                set_problem(
                        s, CMS_PROBLEM_UNSUPPORTED_ALGORITHM,
                        "the signature algorithm does not fit the signer's key type");
        else if (r == -EOPNOTSUPP)
                set_problem(s, CMS_PROBLEM_UNSUPPORTED_ALGORITHM, "unsupported signature algorithm");
        else if (r < 0)
                set_problem(
                        s, CMS_PROBLEM_MALFORMED,
                        "signature algorithm parameters do not parse or do not fit");
        if (cert && !s->signer_key)
                set_problem(s, CMS_PROBLEM_UNSUPPORTED_ALGORITHM, "the signer's public key is not usable");
        if (r < 0)
                s->scheme = _CMS_SIGNATURE_SCHEME_INVALID;

        cd = content_digests_get(digests, s->digest_nid, &cd_size);
        s->has_signed_attrs = CMS_signed_get_attr_count(si) >= 0;
        if (s->has_signed_attrs)
                verify_signed_attrs(si, cd, cd_size, expected_content_type, pss_hash, s);
        else {
                set_problem(s, CMS_PROBLEM_MISSING_SIGNED_ATTRS, "the signature has no signed attributes");
                if (s->scheme >= 0 && cd && sigval) {
                        s->signature_valid = verify_raw_digest(s, pss_hash, cd, cd_size, sigval);
                        /* Without signed attributes the signature is over the content digest itself. */
                        s->digest_matches = s->signature_valid;
                }
        }

        if (sigval) {
                int n = CMS_unsigned_get_attr_count(si);
                bool have_ts = false;

                for (int i = 0; i < n; i++) {
                        X509_ATTRIBUTE *a = CMS_unsigned_get_attr(si, i);

                        if (!a ||
                            OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)) != NID_id_smime_aa_timeStampToken)
                                continue;
                        /* Several signature time-stamps are allowed; the first one is reported. */
                        if (have_ts)
                                continue;
                        have_ts = true;
                        verify_timestamp(sigval, a, depth, &s->timestamp);
                }
                if (s->timestamp.status != CMS_TIMESTAMP_NONE && s->timestamp.status != CMS_TIMESTAMP_OK)
                        set_problem(s, CMS_PROBLEM_BAD_TIMESTAMP, "%s", strna(s->timestamp.detail));
                verify_countersignatures(si, certs, sigval, depth, s);
        }

finish:
        if (!s->detail)
                s->detail = strdup(
                        s->problem == CMS_PROBLEM_OK ? "signature is valid" : "signature is not valid");
        ERR_clear_error();
}

/* Enters the next DER element of [*p, end), which must be constructed with this class and tag: on return *p
 * is at its contents and *ret_end at their end. */
static int der_enter(
        const unsigned char **p, const unsigned char *end, int xclass, int tag,
        const unsigned char **ret_end) {
        long len;
        int t, c, r;

        if (*p >= end)
                return -EBADMSG;
        r = ASN1_get_object(p, &len, &t, &c, end - *p);
        /* 0x80: error or too long; 0x21 would be indefinite length, which DER (from i2d) never has. */
        if ((r & 0x80) || r != V_ASN1_CONSTRUCTED || t != tag || c != xclass)
                return -EBADMSG;
        *ret_end = *p + len;
        return 0;
}

/* Whether SignedData's digestAlgorithms set lists nid. The set is outside every signature, and OpenSSL 3.0
 * has no getter for it: it is read from the DER of the parsed structure (ContentInfo → [0] → SignedData →
 * version, digestAlgorithms). `openssl cms -verify` refuses a signer whose digest the set does not list. */
static int digest_algorithms_list(const unsigned char *der, int der_size, int nid) {
        const unsigned char *p = der, *end = der + der_size, *ci_end, *sd_end, *set_end;
        long len;
        int t, c;

        if (der_enter(&p, end, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, &ci_end) < 0)
                return -EBADMSG;
        /* contentType OID */
        if (ASN1_get_object(&p, &len, &t, &c, ci_end - p) != 0 || t != V_ASN1_OBJECT)
                return -EBADMSG;
        p += len;
        if (der_enter(&p, ci_end, V_ASN1_CONTEXT_SPECIFIC, 0, &sd_end) < 0 ||
            der_enter(&p, sd_end, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, &sd_end) < 0)
                return -EBADMSG;
        if (ASN1_get_object(&p, &len, &t, &c, sd_end - p) != 0 || t != V_ASN1_INTEGER)
                return -EBADMSG;
        p += len;
        if (der_enter(&p, sd_end, V_ASN1_UNIVERSAL, V_ASN1_SET, &set_end) < 0)
                return -EBADMSG;
        while (p < set_end) {
                _cleanup_(X509_ALGOR_freep) X509_ALGOR *a = d2i_X509_ALGOR(NULL, &p, set_end - p);

                if (!a)
                        return -EBADMSG;
                if (algor_digest_nid(a) == nid)
                        return 1;
        }
        return 0;
}

static int parse_signature(const void *sig, size_t sig_size, CMS_ContentInfo **ret) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        unsigned char *pem_data = NULL;
        const unsigned char *p, *der = sig;
        long der_size = (long) sig_size;

        if (!sig || sig_size == 0)
                return -EBADMSG;
        if (sig_size > CMS_VERIFY_MAX_SIGNATURE_SIZE)
                return -EFBIG;

        if (sig_size >= 11 && memcmp(sig, "-----BEGIN ", 11) == 0) {
                _cleanup_(BIO_free_allp) BIO *b = BIO_new_mem_buf(sig, (int) sig_size);
                char *name = NULL, *header = NULL;
                bool ok;

                if (!b || PEM_read_bio(b, &name, &header, &pem_data, &der_size) != 1)
                        return -EBADMSG;
                ok = streq(name, "CMS") || streq(name, "PKCS7") || streq(name, "PKCS #7 SIGNED DATA");
                OPENSSL_free(name);
                OPENSSL_free(header);
                if (!ok) {
                        OPENSSL_free(pem_data);
                        return -EBADMSG;
                }
                der = pem_data;
        }

        p = der;
        cms = d2i_CMS_ContentInfo(NULL, &p, der_size);
        bool complete = cms && p == der + der_size;
        OPENSSL_free(pem_data);
        ERR_clear_error();
        if (!complete)
                return -EBADMSG;
        if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
                return -EBADMSG;
        if (CMS_is_detached(cms) != 1)
                return -EOPNOTSUPP; /* attached: the caller says so, rather than "not a signature" */
        *ret = TAKE_PTR(cms);
        return 0;
}

int cms_verify_detached(
        const void *sig, size_t sig_size, CmsReadFunc read_func, void *userdata, CmsVerifyResult **ret) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_(content_digests_done) ContentDigests digests = {};
        STACK_OF(CMS_SignerInfo) * sis;
        unsigned char *cms_der = NULL;
        const uint8_t *sha256;
        size_t sha256_size = 0;
        int n, r, cms_der_size;

        if (!read_func || !ret)
                return -EINVAL;
        r = parse_signature(sig, sig_size, &cms);
        if (r < 0)
                return r;
        sis = CMS_get0_SignerInfos(cms);
        n = sk_CMS_SignerInfo_num(sis);
        if (n <= 0)
                return -EBADMSG;
        if ((unsigned) n > CMS_VERIFY_MAX_SIGNERS)
                return -E2BIG;

        res = calloc(1, sizeof *res);
        if (!res)
                return -ENOMEM;
        res->signers = calloc((size_t) n, sizeof(CmsSignerResult));
        if (!res->signers)
                return -ENOMEM;
        res->certs = CMS_get1_certs(cms);
        if (!res->certs)
                res->certs = sk_X509_new_null();
        if (!res->certs)
                return -ENOMEM;

        verify_budget = CMS_VERIFY_MAX_CHECKS;

        /* Every digest the signers need, computed in the same single pass over the content. */
        r = content_digests_add(&digests, NID_sha256);
        if (r < 0)
                return r;
        for (int i = 0; i < n; i++) {
                X509_ALGOR *dig = NULL;
                int nid;

                CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(sis, i), NULL, NULL, &dig, NULL);
                nid = algor_digest_nid(dig);
                if (!digest_nid_supported(nid))
                        continue; /* reported on that signer */
                r = content_digests_add(&digests, nid);
                if (r == -ENOMEM || r == -E2BIG)
                        return r;
        }
        r = content_digests_read(&digests, read_func, userdata);
        if (r < 0)
                return r;
        res->content_size = digests.total;
        sha256 = content_digests_get(&digests, NID_sha256, &sha256_size);
        if (!sha256 || sha256_size != sizeof res->content_sha256)
                return -EIO;
        memcpy(res->content_sha256, sha256, sizeof res->content_sha256);

        cms_der_size = i2d_CMS_ContentInfo(cms, &cms_der);
        if (cms_der_size <= 0) {
                OPENSSL_free(cms_der);
                return -ENOMEM;
        }
        for (int i = 0; i < n; i++) {
                verify_signer(
                        sk_CMS_SignerInfo_value(sis, i), res->certs, &digests, NID_pkcs7_data, 0,
                        &res->signers[i]);
                res->n_signers++;
                r = digest_algorithms_list(cms_der, cms_der_size, res->signers[i].digest_nid);
                if (r == 0)
                        set_problem(
                                &res->signers[i], CMS_PROBLEM_DIGEST_ALGORITHMS_MISMATCH,
                                "the SignedData digestAlgorithms set does not list the signer's digest "
                                "algorithm %s (it was changed after signing)",
                                OBJ_nid2sn(res->signers[i].digest_nid));
                else if (r < 0)
                        set_problem(
                                &res->signers[i], CMS_PROBLEM_MALFORMED,
                                "the SignedData digestAlgorithms set does not parse");
        }
        OPENSSL_free(cms_der);
        ERR_clear_error();
        *ret = TAKE_PTR(res);
        return 0;
}

int cms_verify_detached_fd(const void *sig, size_t sig_size, int content_fd, CmsVerifyResult **ret) {
        if (content_fd < 0)
                return -EBADF;
        return cms_verify_detached(sig, sig_size, content_read_fd, &content_fd, ret);
}

int cms_signature_read_fd(int fd, uint8_t **ret_data, size_t *ret_size) {
        if (fd < 0)
                return -EBADF;
        return cms_signature_read(content_read_fd, &fd, ret_data, ret_size);
}

int cms_signature_read(CmsReadFunc read_func, void *userdata, uint8_t **ret_data, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, alloc = 0;

        if (!read_func)
                return -EINVAL;
        for (;;) {
                ssize_t n;

                if (alloc - size < 4096) {
                        size_t na = alloc == 0 ? 16384 : alloc * 2;
                        uint8_t *nb;

                        if (na > CMS_VERIFY_MAX_SIGNATURE_SIZE + 4096)
                                na = CMS_VERIFY_MAX_SIGNATURE_SIZE + 4096;
                        if (na <= alloc)
                                return -EFBIG;
                        nb = realloc(buf, na);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        alloc = na;
                }
                n = read_func(userdata, buf + size, alloc - size);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                if ((size_t) n > alloc - size)
                        return -EIO;
                size += (size_t) n;
                if (size > CMS_VERIFY_MAX_SIGNATURE_SIZE)
                        return -EFBIG;
        }
        *ret_data = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}
