/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signing in two steps (signer.h, cades_prepare()): the digest prepare gives is what the final SignerInfo's
 * signature covers, for every scheme; B-B and B-T (the time-stamp fetched between the steps, as the agent
 * does on a worker thread); a signer added to an existing signature; and the refusals (a signature by
 * another key, a time-stamp token for another signature, steps out of order). Outputs are checked by
 * `openssl cms -verify` and by formats/cms-verify. */
#include "formats-test.h"

#include <openssl/cms.h>

#include "formats/cades-sign.h"
#include "formats/sign-encoding.h"
#include "formats/tsa-client.h"
#include "sign-fixture.h"
#include "soft-signer.h"

/* One signer's certificate, chain, key and the document's digests (read once, with the digests of the
 * existing signature's signers too when there is one), for prepare. */
typedef struct Ctx {
        X509 *cert;
        STACK_OF(X509) * chain;
        PkeySigner key;
        ContentDigests digests;
        SignParams params;
} Ctx;

static void ctx_init_existing(
        Ctx *c, const char *name, CmsSignatureScheme scheme, int digest_nid, const char *doc,
        const void *existing, size_t existing_size) {
        char pem[64], key[64];
        int fd;

        snprintf(pem, sizeof pem, "%s.pem", name);
        snprintf(key, sizeof key, "%s.key", name);
        *c = (Ctx){};
        c->cert = load_cert(pem);
        c->chain = sk_X509_new_null();
        assert_non_null(c->chain);
        assert_true(sk_X509_push(c->chain, load_cert("ca.pem")) > 0);
        assert_int_equal(pkey_signer_load(ppath(key), scheme, &c->key), 0);
        assert_int_equal(content_digests_add(&c->digests, digest_nid), 0);
        if (existing)
                assert_int_equal(cades_existing_digests(existing, existing_size, &c->digests), 0);
        fd = open(tpath(doc), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(content_digests_read(&c->digests, content_read_fd, &fd), 0);
        close(fd);
        c->params = (SignParams){
                .cert = c->cert,
                .chain = c->chain,
                .digest_nid = digest_nid,
                .scheme = scheme,
        };
}

static void ctx_init(Ctx *c, const char *name, CmsSignatureScheme scheme, int digest_nid, const char *doc) {
        ctx_init_existing(c, name, scheme, digest_nid, doc, NULL, 0);
}

static void ctx_done(Ctx *c) {
        X509_free(c->cert);
        sk_X509_pop_free(c->chain, X509_free);
        pkey_signer_done(&c->key);
        content_digests_done(&c->digests);
}

/* What the token does between the steps: signs the digest prepare gave. */
static void
token_sign(const PkeySigner *key, SignPending *p, int digest_nid, uint8_t **ret, size_t *ret_size) {
        const uint8_t *tbs;
        size_t tbs_size = 0;

        assert_int_equal(sign_pending_tbs(p, &tbs, &tbs_size), 0);
        assert_int_equal(pkey_signer_sign(key, tbs, tbs_size, digest_nid, ret, ret_size), 0);
}

/* The SignerInfo of the output made by cert (the new one when a signature was added). */
static CMS_SignerInfo *signer_of(CMS_ContentInfo *cms, X509 *cert) {
        STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);

        for (int i = 0; i < sk_CMS_SignerInfo_num(sis); i++)
                if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, i), cert) == 0)
                        return sk_CMS_SignerInfo_value(sis, i);
        fail_msg("no SignerInfo of this certificate");
        return NULL;
}

/* The bytes prepare gave are the ones the output's SignerInfo carries and its signature covers. */
static void assert_signed_what_prepared(
        const uint8_t *der, size_t der_size, X509 *cert, int digest_nid, const uint8_t *tbs_data,
        size_t tbs_data_size, const uint8_t *tbs, size_t tbs_size, const uint8_t *sig, size_t sig_size) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_free_ uint8_t *attrs = NULL;
        const unsigned char *p = der;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_size = 0;
        size_t attrs_size = 0;

        cms = d2i_CMS_ContentInfo(NULL, &p, (long) der_size);
        assert_non_null(cms);
        CMS_SignerInfo *si = signer_of(cms, cert);
        assert_int_equal(cms_signed_attrs_der(si, &attrs, &attrs_size), 0);
        assert_int_equal(attrs_size, tbs_data_size);
        assert_memory_equal(attrs, tbs_data, attrs_size);
        assert_int_equal(digest_buffer(digest_nid, tbs_data, tbs_data_size, md, &md_size), 0);
        assert_int_equal(md_size, tbs_size);
        assert_memory_equal(md, tbs, tbs_size);
        ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);
        assert_int_equal((size_t) sv->length, sig_size);
        assert_memory_equal(sv->data, sig, sig_size);
}

static void test_baseline_b_schemes(void **state) {
        static const struct {
                const char *name;
                CmsSignatureScheme scheme;
                int digest_nid;
        } cases[] = {
                { "leader", CMS_SIGNATURE_RSA_PKCS1, NID_sha256 },
                { "leader", CMS_SIGNATURE_RSA_PSS, NID_sha384 },
                { "leader2", CMS_SIGNATURE_ECDSA, NID_sha256 },
                { "seal", CMS_SIGNATURE_RSA_PKCS1, NID_sha512 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(sign_pending_freep) SignPending *p = NULL;
                _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
                _cleanup_free_ uint8_t *sig = NULL, *der = NULL;
                const uint8_t *tbs, *tbs_data;
                size_t sig_size = 0, der_size = 0, tbs_size = 0, tbs_data_size = 0;
                time_t when = time(NULL) - 3600; /* a time the signing cannot have taken by itself */
                SignError e = {};
                Ctx c;

                print_message(
                        "%s %s %s\n", cases[i].name, cms_signature_scheme_to_string(cases[i].scheme),
                        OBJ_nid2sn(cases[i].digest_nid));
                ctx_init(&c, cases[i].name, cases[i].scheme, cases[i].digest_nid, "doc.bin");
                c.params.signing_time = when;
                CadesInput in = { .profile = CADES_PROFILE_BASELINE_B, .digests = &c.digests };
                assert_int_equal(cades_prepare(&c.params, &in, &p, &e), 0);
                assert_int_equal(sign_pending_tbs(p, &tbs, &tbs_size), 0);
                assert_int_equal(sign_pending_tbs_data(p, &tbs_data, &tbs_data_size), 0);
                assert_int_equal(
                        tbs_size, (size_t) EVP_MD_get_size(EVP_get_digestbynid(cases[i].digest_nid)));
                assert_true(tbs_data_size > 100 && tbs_data[0] == 0x31); /* a SET OF attributes */

                token_sign(&c.key, p, cases[i].digest_nid, &sig, &sig_size);
                assert_int_equal(sign_pending_set_signature(p, sig, sig_size, &e), 0);
                assert_int_equal(sign_pending_finish(p, NULL, 0, &der, &der_size, &e), 0);
                assert_null(e.message);
                assert_signed_what_prepared(
                        der, der_size, c.cert, cases[i].digest_nid, tbs_data, tbs_data_size, tbs, tbs_size,
                        sig, sig_size);

                write_all(tpath("bb.p7s"), der, der_size);
                assert_int_equal(openssl_verify("bb.p7s", "doc.bin"), 0);
                res = verify_files("bb.p7s", "doc.bin");
                assert_int_equal(res->n_signers, 1);
                assert_int_equal(sk_X509_num(res->certs), 2);
                assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
                assert_int_equal(res->signers[0].scheme, cases[i].scheme);
                assert_int_equal(res->signers[0].digest_nid, cases[i].digest_nid);
                assert_int_equal(res->signers[0].signing_cert, CMS_SIGNING_CERT_V2_OK);
                assert_true(res->signers[0].has_signing_time);
                assert_int_equal(res->signers[0].signing_time, when);
                assert_int_equal(res->signers[0].timestamp.status, CMS_TIMESTAMP_NONE);
                ctx_done(&c);
        }
}

/* CKM_ECDSA answers r||s; the helper converts it to DER before the signature reaches set_signature. */
static void test_ecdsa_token_answer(void **state) {
        _cleanup_(sign_pending_freep) SignPending *p = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *raw = NULL, *der_sig = NULL, *der = NULL;
        size_t sig_size = 0, der_sig_size = 0, der_size = 0;
        const unsigned char *q;
        SignError e = {};
        Ctx c;

        ctx_init(&c, "leader2", CMS_SIGNATURE_ECDSA, NID_sha256, "doc.bin");
        CadesInput in = { .profile = CADES_PROFILE_PADES, .digests = &c.digests };
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), 0);
        token_sign(&c.key, p, NID_sha256, &sig, &sig_size);
        q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long) sig_size);
        assert_non_null(es);
        raw = malloc(64);
        assert_non_null(raw);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
        ECDSA_SIG_free(es);

        /* r||s as it is is not a CMS ECDSA signature. */
        assert_int_equal(sign_pending_set_signature(p, raw, 64, &e), -EKEYREJECTED);
        sign_error_done(&e);
        assert_int_equal(ecdsa_signature_raw_to_der(raw, 64, &der_sig, &der_sig_size), 0);
        assert_int_equal(sign_pending_set_signature(p, der_sig, der_sig_size, &e), 0);
        assert_int_equal(sign_pending_finish(p, NULL, 0, &der, &der_size, &e), 0);
        write_all(tpath("ecdsa.p7s"), der, der_size);
        assert_int_equal(openssl_verify("ecdsa.p7s", "doc.bin"), 0);
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = verify_files("ecdsa.p7s", "doc.bin");
        assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
        assert_false(res->signers[0].has_signing_time); /* the PAdES attribute set */
        ctx_done(&c);
}

/* A signature that does not match (another key, garbage, another digest) fails cleanly: nothing is set, and
 * the right signature still finishes the same pending signature. */
static void test_wrong_signature(void **state) {
        _cleanup_(sign_pending_freep) SignPending *p = NULL;
        _cleanup_free_ uint8_t *other = NULL, *sig = NULL, *der = NULL;
        size_t other_size = 0, sig_size = 0, der_size = 0;
        const uint8_t *data;
        size_t data_size;
        PkeySigner seal = {};
        SignError e = {};
        Ctx c;

        ctx_init(&c, "leader", CMS_SIGNATURE_RSA_PKCS1, NID_sha256, "doc.bin");
        CadesInput in = { .profile = CADES_PROFILE_BASELINE_B, .digests = &c.digests };
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), 0);

        /* Steps out of order. */
        assert_int_equal(sign_pending_finish(p, NULL, 0, &der, &der_size, &e), -EINVAL);
        assert_null(der);
        sign_error_done(&e);
        assert_int_equal(sign_pending_timestamp_data(p, &data, &data_size), -EINVAL);

        /* The seal's key (the wrong certificate chosen on the token). */
        assert_int_equal(pkey_signer_load(ppath("seal.key"), CMS_SIGNATURE_RSA_PKCS1, &seal), 0);
        token_sign(&seal, p, NID_sha256, &other, &other_size);
        assert_int_equal(sign_pending_set_signature(p, other, other_size, &e), -EKEYREJECTED);
        assert_non_null(strstr(e.message, "does not verify"));
        sign_error_done(&e);
        /* Garbage of the right size, and nothing. */
        other[0] ^= 0xff;
        assert_int_equal(sign_pending_set_signature(p, other, other_size, &e), -EKEYREJECTED);
        sign_error_done(&e);
        assert_int_equal(sign_pending_set_signature(p, other, 0, &e), -EKEYREJECTED);
        sign_error_done(&e);
        assert_int_equal(sign_pending_finish(p, NULL, 0, &der, &der_size, &e), -EINVAL);
        sign_error_done(&e);

        assert_false(sign_pending_has_signature(p));
        token_sign(&c.key, p, NID_sha256, &sig, &sig_size);
        assert_int_equal(sign_pending_set_signature(p, sig, sig_size, &e), 0);
        assert_true(sign_pending_has_signature(p));
        assert_int_equal(sign_pending_set_signature(p, sig, sig_size, &e), -EALREADY);
        sign_error_done(&e);
        assert_int_equal(sign_pending_finish(p, NULL, 0, &der, &der_size, &e), 0);
        write_all(tpath("retry.p7s"), der, der_size);
        assert_int_equal(openssl_verify("retry.p7s", "doc.bin"), 0);
        free(der);
        der = NULL;
        assert_int_equal(sign_pending_finish(p, NULL, 0, &der, &der_size, &e), -EALREADY);
        assert_null(der);
        sign_error_done(&e);
        pkey_signer_done(&seal);
        ctx_done(&c);
}

static void test_prepare_refusals(void **state) {
        SignPending *p = NULL;
        SignError e = {};
        ContentDigests unfinished = {};
        Ctx c;

        ctx_init(&c, "leader", CMS_SIGNATURE_RSA_PKCS1, NID_sha256, "doc.bin");
        CadesInput in = { .profile = CADES_PROFILE_BASELINE_B, .digests = &c.digests };

        c.params.scheme = CMS_SIGNATURE_ECDSA; /* an RSA key */
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), -EKEYREJECTED);
        sign_error_done(&e);
        c.params.scheme = CMS_SIGNATURE_RSA_PKCS1;
        c.params.digest_nid = NID_sha384; /* the document was hashed with SHA-256 only */
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), -EINVAL);
        sign_error_done(&e);
        c.params.digest_nid = NID_sha1;
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), -EINVAL);
        sign_error_done(&e);
        c.params.digest_nid = NID_sha256;
        in.digests = &unfinished;
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), -EINVAL);
        sign_error_done(&e);
        in.digests = &c.digests;
        in.existing = "not a signature";
        in.existing_size = 15;
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), -EBADMSG);
        assert_non_null(e.message);
        sign_error_done(&e);
        assert_null(p);
        ctx_done(&c);
}

/* B-T: the time-stamp is fetched between set_signature and finish, over the signature value. */
static void test_baseline_t(void **state) {
        _cleanup_(sign_pending_freep) SignPending *p = NULL, *q = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *sig2 = NULL, *token = NULL, *der = NULL;
        _cleanup_free_ char *msg = NULL;
        size_t sig_size = 0, sig2_size = 0, token_size = 0, der_size = 0, data_size = 0;
        const uint8_t *data;
        CmsTimestamp info = {};
        SignError e = {};
        Ctx c;

        tsa_start(NULL);
        ctx_init(&c, "leader", CMS_SIGNATURE_RSA_PSS, NID_sha256, "doc.bin");
        CadesInput in = { .profile = CADES_PROFILE_BASELINE_B, .digests = &c.digests };
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), 0);
        assert_int_equal(cades_prepare(&c.params, &in, &q, &e), 0);
        token_sign(&c.key, p, NID_sha256, &sig, &sig_size);
        token_sign(&c.key, q, NID_sha256, &sig2, &sig2_size);
        assert_int_equal(sign_pending_set_signature(p, sig, sig_size, &e), 0);
        assert_int_equal(sign_pending_set_signature(q, sig2, sig2_size, &e), 0);

        assert_int_equal(sign_pending_timestamp_data(p, &data, &data_size), 0);
        assert_int_equal(data_size, sig_size);
        assert_memory_equal(data, sig, sig_size);
        TsaOptions o = { .url = tsa_url, .timeout_sec = 10 };
        assert_int_equal(tsa_timestamp(&o, data, data_size, &token, &token_size, &info, &msg), 0);
        tsa_stop();
        assert_int_equal(info.status, CMS_TIMESTAMP_OK);
        cms_timestamp_done(&info);

        /* The token of p's signature value does not finish q (PSS: another salt, another value), nor does
         * garbage; q is still finished without one. */
        assert_int_equal(sign_pending_finish(q, token, token_size, &der, &der_size, &e), -EBADMSG);
        assert_null(der);
        print_message("%s\n", e.message);
        sign_error_done(&e);
        assert_true(
                sign_pending_finish(q, (const uint8_t *) "\x30\x03\x02\x01\x01", 5, &der, &der_size, &e) <
                0);
        assert_null(der);
        sign_error_done(&e);
        assert_int_equal(sign_pending_finish(q, NULL, 0, &der, &der_size, &e), 0);
        free(der);
        der = NULL;

        assert_int_equal(sign_pending_finish(p, token, token_size, &der, &der_size, &e), 0);
        write_all(tpath("bt.p7s"), der, der_size);
        assert_int_equal(openssl_verify("bt.p7s", "doc.bin"), 0);
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = verify_files("bt.p7s", "doc.bin");
        const CmsTimestamp *t = &res->signers[0].timestamp;
        assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
        assert_int_equal(t->status, CMS_TIMESTAMP_OK);
        assert_true(t->imprint_matches);
        assert_true(t->signature_valid);
        assert_subject_cn(t->tsa_cert, "Máy chủ cấp dấu thời gian (test)");
        ctx_done(&c);
}

/* issue: the seal is added to the leader's signature; the leader's SignerInfo is kept byte for byte. */
static void test_add_signer(void **state) {
        _cleanup_(sign_pending_freep) SignPending *p = NULL;
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_free_ uint8_t *existing = NULL, *sig = NULL, *der = NULL;
        const uint8_t *first, *tbs, *tbs_data;
        size_t existing_size, first_size, sig_size = 0, der_size = 0, tbs_size = 0, tbs_data_size = 0;
        SignError e = {};
        Ctx c;

        leader_signature("sha384", &existing, &existing_size, &first, &first_size);

        /* The document is read once, with the seal's digest and the leader's. */
        ctx_init_existing(
                &c, "seal", CMS_SIGNATURE_RSA_PKCS1, NID_sha256, "doc.bin", existing, existing_size);
        assert_int_equal(c.digests.n, 2);

        CadesInput in = {
                .profile = CADES_PROFILE_BASELINE_B,
                .digests = &c.digests,
                .existing = existing,
                .existing_size = existing_size,
        };
        assert_int_equal(cades_prepare(&c.params, &in, &p, &e), 0);
        assert_int_equal(sign_pending_tbs(p, &tbs, &tbs_size), 0);
        assert_int_equal(sign_pending_tbs_data(p, &tbs_data, &tbs_data_size), 0);
        token_sign(&c.key, p, NID_sha256, &sig, &sig_size);
        assert_int_equal(sign_pending_set_signature(p, sig, sig_size, &e), 0);
        assert_int_equal(sign_pending_finish(p, NULL, 0, &der, &der_size, &e), 0);
        assert_signed_what_prepared(
                der, der_size, c.cert, NID_sha256, tbs_data, tbs_data_size, tbs, tbs_size, sig, sig_size);
        assert_true(find_bytes(der, der_size, first, first_size) > 0);

        write_all(tpath("both.p7s"), der, der_size);
        assert_int_equal(openssl_verify("both.p7s", "doc.bin"), 0);
        res = verify_files("both.p7s", "doc.bin");
        assert_int_equal(res->n_signers, 2);
        assert_true(cms_verify_result_all_ok(res));
        ctx_done(&c);

        /* Another document: refused at prepare, before the token is asked. */
        _cleanup_(sign_pending_freep) SignPending *bad = NULL;
        assert_int_equal(random_file("other.bin", 1000), 0);
        ctx_init_existing(
                &c, "seal", CMS_SIGNATURE_RSA_PKCS1, NID_sha256, "other.bin", existing, existing_size);
        in.digests = &c.digests;
        assert_int_equal(cades_prepare(&c.params, &in, &bad, &e), -EBADMSG);
        assert_null(bad);
        assert_non_null(strstr(e.message, "does not cover this document"));
        sign_error_done(&e);
        ctx_done(&c);
}

KYSO_TEST_MAIN_GROUP(
        sign_setup, pki_teardown,
        {
                cmocka_unit_test(test_baseline_b_schemes),
                cmocka_unit_test(test_ecdsa_token_answer),
                cmocka_unit_test(test_wrong_signature),
                cmocka_unit_test(test_prepare_refusals),
                cmocka_unit_test_teardown(test_baseline_t, tsa_teardown),
                cmocka_unit_test(test_add_signer),
        });
