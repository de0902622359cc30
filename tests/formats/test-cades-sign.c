/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CAdES signing through the digest callback: every scheme and digest checked by `openssl cms -verify` and by
 * our verifier, the PAdES attribute set, add-signer, and B-T against a time-stamp server on 127.0.0.1. */
#include "formats-test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <openssl/cms.h>
#include <openssl/ec.h>

#include "formats/cades-sign.h"
#include "formats/sign-encoding.h"
#include "formats/tsa-client.h"
#include "sign-fixture.h"
#include "soft-signer.h"

typedef struct Signer {
        const char *name;
        CmsSignatureScheme scheme;
} Signer;

/* Signs tpath(content) with NAME.pem/NAME.key and writes tpath(out); returns the soft_sign_fd() result. */
static int sign_file(
        const char *name, CmsSignatureScheme scheme, int digest_nid, CadesProfile profile,
        const TsaOptions *tsa, const char *content, const char *out, CmsTimestamp *ret_ts, char **ret_msg) {
        _cleanup_(X509_freep) X509 *cert = NULL, *ca = load_cert("ca.pem");
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *chain = sk_X509_new_null();
        _cleanup_free_ uint8_t *der = NULL;
        char pem[64], key[64];
        PkeySigner ps = {};
        SignError e = {};
        size_t size = 0;
        int fd, r;

        snprintf(pem, sizeof pem, "%s.pem", name);
        snprintf(key, sizeof key, "%s.key", name);
        cert = load_cert(pem);
        assert_non_null(chain);
        assert_true(sk_X509_push(chain, ca) > 0);
        ca = NULL;
        assert_int_equal(pkey_signer_load(ppath(key), scheme, &ps), 0);

        SoftSignParams p = {
                .sign = { .cert = cert, .chain = chain, .digest_nid = digest_nid, .scheme = scheme },
                .profile = profile,
                .key = &ps,
                .tsa = tsa,
        };
        fd = open(tpath(content), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        r = soft_sign_fd(&p, fd, NULL, 0, &der, &size, ret_ts, &e);
        close(fd);
        pkey_signer_done(&ps);
        if (r >= 0)
                write_all(tpath(out), der, size);
        else
                assert_non_null(e.message);
        if (ret_msg)
                *ret_msg = TAKE_PTR(e.message);
        sign_error_done(&e);
        return r;
}

/* Signs doc.bin into out with name's key and no time-stamp; the signing must succeed. */
static void sign_doc_ok(
        const char *name, CmsSignatureScheme scheme, int digest_nid, CadesProfile profile, const char *out) {
        assert_int_equal(sign_file(name, scheme, digest_nid, profile, NULL, "doc.bin", out, NULL, NULL), 0);
}

static void test_baseline_b_matrix(void **state) {
        static const Signer signers[] = {
                { "leader", CMS_SIGNATURE_RSA_PKCS1 },
                { "leader", CMS_SIGNATURE_RSA_PSS },
                { "leader2", CMS_SIGNATURE_ECDSA },
        };
        static const int digests[] = { NID_sha256, NID_sha384, NID_sha512 };

        for (size_t i = 0; i < ELEMENTSOF(signers); i++)
                for (size_t j = 0; j < ELEMENTSOF(digests); j++) {
                        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
                        time_t before = time(NULL);

                        print_message(
                                "%s %s %s\n", signers[i].name,
                                cms_signature_scheme_to_string(signers[i].scheme), OBJ_nid2sn(digests[j]));
                        sign_doc_ok(
                                signers[i].name, signers[i].scheme, digests[j], CADES_PROFILE_BASELINE_B,
                                "bb.p7s");
                        assert_int_equal(openssl_verify("bb.p7s", "doc.bin"), 0);
                        res = verify_files("bb.p7s", "doc.bin");
                        assert_int_equal(res->n_signers, 1);
                        assert_int_equal(sk_X509_num(res->certs), 2);
                        const CmsSignerResult *s = &res->signers[0];
                        assert_int_equal(s->problem, CMS_PROBLEM_OK);
                        assert_int_equal(s->scheme, signers[i].scheme);
                        assert_int_equal(s->digest_nid, digests[j]);
                        assert_int_equal(s->signing_cert, CMS_SIGNING_CERT_V2_OK);
                        assert_int_equal(s->content_type, CMS_CONTENT_TYPE_DATA);
                        assert_true(s->has_signing_time);
                        assert_true(s->signing_time >= before - 1 && s->signing_time <= time(NULL) + 1);
                        if (signers[i].scheme == CMS_SIGNATURE_RSA_PSS) {
                                assert_int_equal(s->pss_mgf1_digest_nid, digests[j]);
                                assert_int_equal(
                                        s->pss_salt_length,
                                        EVP_MD_get_size(EVP_get_digestbynid(digests[j])));
                        }
                }
}

/* Reference signatures by `openssl cms` with the fixture keys (Vietnamese UTF-8 names) verify as expected.
 */
static void test_fixture_references(void **state) {
        static const struct {
                const char *name, *opts, *cn;
                CmsSignatureScheme scheme;
        } refs[] = {
                { "leader", "-md sha256", "Nguyễn Văn An", CMS_SIGNATURE_RSA_PKCS1 },
                { "leader", "-md sha256 -keyopt rsa_padding_mode:pss", "Nguyễn Văn An",
                  CMS_SIGNATURE_RSA_PSS },
                { "leader2", "-md sha384", "Trần Thị Bình", CMS_SIGNATURE_ECDSA },
                { "seal", "-md sha512 -cades", "UBND phường Uông Bí", CMS_SIGNATURE_RSA_PKCS1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
                char pem[64], key[64];

                snprintf(pem, sizeof pem, "%s.pem", refs[i].name);
                snprintf(key, sizeof key, "%s.key", refs[i].name);
                assert_int_equal(
                        run("openssl cms -sign -binary -nosmimecap -signer '%s' -inkey '%s' %s -certfile '%s' "
                            "-in '%s' -outform DER -out '%s'",
                            ppath(pem), ppath(key), refs[i].opts, ppath("ca.pem"), tpath("doc.bin"),
                            tpath("ref.p7s")),
                        0);
                res = verify_files("ref.p7s", "doc.bin");
                assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
                assert_int_equal(res->signers[0].scheme, refs[i].scheme);
                assert_subject_cn(res->signers[0].signer_cert, refs[i].cn);
        }
}

static void test_signing_certificate_v2_encoding(void **state) {
        _cleanup_free_ uint8_t *out = NULL;
        size_t size;

        sign_doc_ok("leader", CMS_SIGNATURE_RSA_PKCS1, NID_sha384, CADES_PROFILE_BASELINE_B, "ess.p7s");
        /* certHash is SHA-256 of the DER certificate (hashAlgorithm omitted as the DEFAULT), then
         * issuerSerial. */
        assert_int_equal(
                run("cd '%s' && openssl asn1parse -inform DER -in ess.p7s >ess.txt && "
                    "openssl x509 -in '%s' -outform DER | sha256sum | cut -c1-64 | tr a-f A-F >hash.txt",
                    test_dir, ppath("leader.pem")),
                0);
        assert_int_equal(
                run("cd '%s' && grep -A5 signingCertificateV2 ess.txt | grep -q \"$(cat hash.txt)\"",
                    test_dir),
                0);
        assert_int_equal(
                run("cd '%s' && grep -A5 signingCertificateV2 ess.txt | grep -q ':sha256'", test_dir), 1);
        read_all(tpath("ess.p7s"), &out, &size);
        assert_true(size > 1000);
}

static void test_pades_attributes(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;

        sign_doc_ok("leader2", CMS_SIGNATURE_ECDSA, NID_sha256, CADES_PROFILE_PADES, "pades.p7s");
        res = verify_files("pades.p7s", "doc.bin");
        assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
        assert_false(res->signers[0].has_signing_time);
        assert_int_equal(res->signers[0].signing_cert, CMS_SIGNING_CERT_V2_OK);
        assert_int_equal(
                run("openssl asn1parse -inform DER -in '%s' | grep -q signingTime", tpath("pades.p7s")), 1);
        assert_int_equal(
                run("openssl asn1parse -inform DER -in '%s' | grep -q messageDigest", tpath("pades.p7s")),
                0);
        assert_int_equal(openssl_verify("pades.p7s", "doc.bin"), 0);
}

/* A token that signs with another key (wrong certificate selected) must not produce a file. */
static void test_wrong_key_refused(void **state) {
        _cleanup_(X509_freep) X509 *cert = load_cert("leader.pem");
        _cleanup_free_ uint8_t *der = NULL;
        PkeySigner ps = {};
        SignError e = {};
        size_t size = 0;
        uint8_t digest[32] = { 1, 2, 3 };

        assert_int_equal(pkey_signer_load(ppath("seal.key"), CMS_SIGNATURE_RSA_PKCS1, &ps), 0);
        SoftSignParams p = {
                .sign = { .cert = cert, .digest_nid = NID_sha256, .scheme = CMS_SIGNATURE_RSA_PKCS1 },
                .key = &ps,
        };
        assert_int_equal(soft_sign_digest(&p, digest, sizeof digest, &der, &size, NULL, &e), -EKEYREJECTED);
        assert_null(der);
        assert_non_null(strstr(e.message, "does not verify"));
        sign_error_done(&e);

        /* Scheme that does not fit the key. */
        p.sign.scheme = CMS_SIGNATURE_ECDSA;
        assert_int_equal(soft_sign_digest(&p, digest, sizeof digest, &der, &size, NULL, &e), -EKEYREJECTED);
        sign_error_done(&e);
        /* Digest not allowed. */
        p.sign.scheme = CMS_SIGNATURE_RSA_PKCS1;
        p.sign.digest_nid = NID_sha1;
        assert_int_equal(soft_sign_digest(&p, digest, 20, &der, &size, NULL, &e), -EINVAL);
        sign_error_done(&e);
        pkey_signer_done(&ps);
}

/* A precomputed signing-certificate-v2 value gives the same signature as one worked out per signature, and
 * is what the signature carries. */
static void test_signing_certificate_precomputed(void **state) {
        _cleanup_(X509_freep) X509 *cert = load_cert("leader.pem"), *other = load_cert("seal.pem");
        _cleanup_free_ uint8_t *ess = NULL, *ess_other = NULL, *plain = NULL, *pre = NULL, *wrong = NULL;
        size_t ess_size = 0, ess_other_size = 0, plain_size = 0, pre_size = 0, wrong_size = 0;
        uint8_t digest[32];
        PkeySigner ps = {};
        SignError e = {};

        assert_int_equal(
                digest_buffer(NID_sha256, "văn bản", strlen("văn bản"), digest, &(unsigned){ 0 }), 0);
        assert_int_equal(cades_signing_certificate(cert, &ess, &ess_size), 0);
        assert_int_equal(cades_signing_certificate(other, &ess_other, &ess_other_size), 0);
        assert_true(ess_size > 32);
        assert_false(ess_size == ess_other_size && memcmp(ess, ess_other, ess_size) == 0);
        assert_int_equal(cades_signing_certificate(NULL, &ess, &ess_size), -EINVAL);

        assert_int_equal(pkey_signer_load(ppath("leader.key"), CMS_SIGNATURE_RSA_PKCS1, &ps), 0);
        SoftSignParams p = {
                .sign = {
                        .cert = cert,
                        .digest_nid = NID_sha256,
                        .scheme = CMS_SIGNATURE_RSA_PKCS1,
                        .signing_time = 1795000000,
                },
                .profile = CADES_PROFILE_BASELINE_B,
                .key = &ps,
        };
        assert_int_equal(soft_sign_digest(&p, digest, sizeof digest, &plain, &plain_size, NULL, &e), 0);
        p.sign.signing_certificate = ess;
        p.sign.signing_certificate_size = ess_size;
        assert_int_equal(soft_sign_digest(&p, digest, sizeof digest, &pre, &pre_size, NULL, &e), 0);
        assert_int_equal(plain_size, pre_size);
        assert_memory_equal(plain, pre, plain_size);

        /* The value is taken as given: another certificate's makes a signature whose binding fails. */
        p.sign.signing_certificate = ess_other;
        p.sign.signing_certificate_size = ess_other_size;
        assert_int_equal(soft_sign_digest(&p, digest, sizeof digest, &wrong, &wrong_size, NULL, &e), 0);
        write_all(tpath("ess-pre.p7s"), pre, pre_size);
        write_all(tpath("ess-wrong.p7s"), wrong, wrong_size);
        write_all(tpath("ess-doc.txt"), "văn bản", strlen("văn bản"));
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *ok = verify_files("ess-pre.p7s", "ess-doc.txt");
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *bad =
                verify_files("ess-wrong.p7s", "ess-doc.txt");
        assert_int_equal(ok->signers[0].signing_cert, CMS_SIGNING_CERT_V2_OK);
        assert_int_equal(bad->signers[0].signing_cert, CMS_SIGNING_CERT_MISMATCH);
        sign_error_done(&e);
        pkey_signer_done(&ps);
}

static void test_digest_info(void **state) {
        /* RFC 8017, 9.2, note 1: the DER prefix of a SHA-256 DigestInfo. */
        static const uint8_t prefix256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                             0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
        static const uint8_t prefix512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                             0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };
        _cleanup_free_ uint8_t *out = NULL, *out2 = NULL;
        uint8_t d[64];
        size_t size = 0;

        for (size_t i = 0; i < sizeof d; i++)
                d[i] = (uint8_t) i;
        assert_int_equal(digest_info_wrap(NID_sha256, d, 32, &out, &size), 0);
        assert_int_equal(size, sizeof prefix256 + 32);
        assert_memory_equal(out, prefix256, sizeof prefix256);
        assert_memory_equal(out + sizeof prefix256, d, 32);
        assert_int_equal(digest_info_wrap(NID_sha512, d, 64, &out2, &size), 0);
        assert_int_equal(size, sizeof prefix512 + 64);
        assert_memory_equal(out2, prefix512, sizeof prefix512);
        assert_int_equal(digest_info_wrap(NID_sha256, d, 31, &out, &size), -EINVAL);
}

static void test_ecdsa_raw_to_der(void **state) {
        _cleanup_free_ uint8_t *der = NULL;
        uint8_t raw[64];
        size_t size = 0;
        const unsigned char *p;
        ECDSA_SIG *sig;
        const BIGNUM *r, *s;
        uint8_t back[64];

        for (size_t i = 0; i < sizeof raw; i++)
                raw[i] = (uint8_t) (0x80 + i);
        assert_int_equal(ecdsa_signature_raw_to_der(raw, sizeof raw, &der, &size), 0);
        p = der;
        sig = d2i_ECDSA_SIG(NULL, &p, (long) size);
        assert_non_null(sig);
        ECDSA_SIG_get0(sig, &r, &s);
        assert_int_equal(BN_bn2binpad(r, back, 32), 32);
        assert_int_equal(BN_bn2binpad(s, back + 32, 32), 32);
        assert_memory_equal(back, raw, 64);
        ECDSA_SIG_free(sig);
        assert_int_equal(ecdsa_signature_raw_to_der(raw, 63, &der, &size), -EINVAL);
}

static void test_add_signer(void **state) {
        _cleanup_(X509_freep) X509 *seal = load_cert("seal.pem");
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_free_ uint8_t *existing = NULL, *out = NULL, *bad_out = NULL;
        const uint8_t *first;
        size_t existing_size, first_size, out_size = 0;
        PkeySigner ps = {};
        SignError e = {};
        int fd;

        /* The leader's signature, made by openssl. */
        leader_signature("sha256", &existing, &existing_size, &first, &first_size);

        assert_int_equal(pkey_signer_load(ppath("seal.key"), CMS_SIGNATURE_RSA_PSS, &ps), 0);
        SoftSignParams p = {
                .sign = { .cert = seal, .digest_nid = NID_sha384, .scheme = CMS_SIGNATURE_RSA_PSS },
                .key = &ps,
        };
        fd = open(tpath("doc.bin"), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(soft_sign_fd(&p, fd, existing, existing_size, &out, &out_size, NULL, &e), 0);
        close(fd);
        write_all(tpath("both.p7s"), out, out_size);

        /* The leader's SignerInfo is byte-identical in the new file. */
        assert_true(find_bytes(out, out_size, first, first_size) > 0);
        res = verify_files("both.p7s", "doc.bin");
        assert_int_equal(res->n_signers, 2);
        assert_true(cms_verify_result_all_ok(res));
        bool seen_leader = false, seen_seal = false;
        for (size_t i = 0; i < 2; i++) {
                char cn[64] = "";
                X509_NAME_get_text_by_NID(
                        X509_get_subject_name(res->signers[i].signer_cert), NID_commonName, cn, sizeof cn);
                seen_leader |= streq(cn, "Nguyễn Văn An");
                seen_seal |= streq(cn, "UBND phường Uông Bí");
        }
        assert_true(seen_leader && seen_seal);
        assert_int_equal(openssl_verify("both.p7s", "doc.bin"), 0);

        /* Another document: refused, nothing produced. */
        assert_int_equal(random_file("other-doc.bin", 1000), 0);
        fd = open(tpath("other-doc.bin"), O_RDONLY | O_CLOEXEC);
        assert_int_equal(
                soft_sign_fd(&p, fd, existing, existing_size, &bad_out, &out_size, NULL, &e), -EBADMSG);
        close(fd);
        assert_null(bad_out);
        assert_non_null(strstr(e.message, "does not cover this document"));
        sign_error_done(&e);
        pkey_signer_done(&ps);
}

/* --- B-T against the fixture time-stamp server on 127.0.0.1 (sign-fixture.h) */

static void test_baseline_t(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        CmsTimestamp ts = {};
        time_t before = time(NULL);

        tsa_start(NULL);
        TsaOptions o = { .url = tsa_url, .timeout_sec = 10 };
        assert_int_equal(
                sign_file(
                        "leader", CMS_SIGNATURE_RSA_PKCS1, NID_sha256, CADES_PROFILE_BASELINE_B, &o,
                        "doc.bin", "bt.p7s", &ts, NULL),
                0);
        tsa_stop();
        assert_int_equal(ts.status, CMS_TIMESTAMP_OK);
        assert_subject_cn(ts.tsa_cert, "Máy chủ cấp dấu thời gian (test)");
        cms_timestamp_done(&ts);

        res = verify_files("bt.p7s", "doc.bin");
        const CmsTimestamp *t = &res->signers[0].timestamp;
        assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
        assert_int_equal(t->status, CMS_TIMESTAMP_OK);
        assert_true(t->signature_valid);
        assert_true(t->imprint_matches);
        assert_true(t->has_gen_time);
        assert_true(t->gen_time >= before - 2 && t->gen_time <= time(NULL) + 2);
        assert_int_equal(t->imprint_digest_nid, NID_sha256);
        assert_subject_cn(t->tsa_cert, "Máy chủ cấp dấu thời gian (test)");
        assert_true(sk_X509_num(t->certs) >= 1);
        assert_string_equal(t->policy_oid, "1.3.6.1.4.1.99999.2.1");
        assert_non_null(t->serial_hex);
        assert_int_equal(openssl_verify("bt.p7s", "doc.bin"), 0);

        /* The token on its own, checked by `openssl ts -verify` (path to the fixture root included) over the
         * signature value it time-stamps. */
        {
                _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
                _cleanup_free_ uint8_t *data = NULL;
                const unsigned char *p;
                size_t size;

                read_all(tpath("bt.p7s"), &data, &size);
                p = data;
                cms = d2i_CMS_ContentInfo(NULL, &p, (long) size);
                assert_non_null(cms);
                CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
                ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);
                X509_ATTRIBUTE *a = CMS_unsigned_get_attr(
                        si, CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1));
                assert_non_null(a);
                ASN1_TYPE *tok = X509_ATTRIBUTE_get0_type(a, 0);
                assert_non_null(tok);
                assert_int_equal(tok->type, V_ASN1_SEQUENCE);
                write_all(
                        tpath("token.der"), tok->value.sequence->data, (size_t) tok->value.sequence->length);
                write_all(tpath("sigvalue.bin"), sv->data, (size_t) sv->length);
                assert_int_equal(
                        run("openssl ts -verify -token_in -in '%s' -data '%s' -CAfile '%s' >>'%s' 2>&1",
                            tpath("token.der"), tpath("sigvalue.bin"), ppath("root+ca.pem"),
                            tpath("openssl.log")),
                        0);
                /* And over something else it fails, so the check above means something. */
                write_all(tpath("other.bin"), "x", 1);
                assert_int_not_equal(
                        run("openssl ts -verify -token_in -in '%s' -data '%s' -CAfile '%s' >>'%s' 2>&1",
                            tpath("token.der"), tpath("other.bin"), ppath("root+ca.pem"),
                            tpath("openssl.log")),
                        0);
        }
}

/* A token moved from one signature to another does not cover the second signature value. */
static void test_transplanted_token(void **state) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *a = NULL, *b = NULL;
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_free_ uint8_t *da = NULL, *db = NULL;
        const unsigned char *p;
        unsigned char *der = NULL;
        size_t sa, sb;
        int len;

        sign_doc_ok("leader", CMS_SIGNATURE_RSA_PSS, NID_sha256, CADES_PROFILE_BASELINE_B, "plain.p7s");
        read_all(tpath("bt.p7s"), &da, &sa);
        read_all(tpath("plain.p7s"), &db, &sb);
        p = da;
        a = d2i_CMS_ContentInfo(NULL, &p, (long) sa);
        p = db;
        b = d2i_CMS_ContentInfo(NULL, &p, (long) sb);
        assert_non_null(a);
        assert_non_null(b);
        CMS_SignerInfo *sia = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(a), 0);
        CMS_SignerInfo *sib = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(b), 0);
        X509_ATTRIBUTE *tok = CMS_unsigned_get_attr(
                sia, CMS_unsigned_get_attr_by_NID(sia, NID_id_smime_aa_timeStampToken, -1));
        assert_non_null(tok);
        assert_int_equal(CMS_unsigned_add1_attr(sib, tok), 1);
        len = i2d_CMS_ContentInfo(b, &der);
        assert_true(len > 0);
        write_all(tpath("transplant.p7s"), der, (size_t) len);
        OPENSSL_free(der);

        res = verify_files("transplant.p7s", "doc.bin");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "bad-timestamp");
        assert_int_equal(res->signers[0].timestamp.status, CMS_TIMESTAMP_IMPRINT_MISMATCH);
        assert_true(res->signers[0].timestamp.signature_valid);
        assert_true(res->signers[0].signature_valid);
}

/* Signs doc.bin into out (B-B, the leader's key, RSA PKCS#1) with the time-stamp authority at tsa_url, which
 * is expected to fail with error: the test server started with tsa_flag for it, or with none at all when
 * tsa_flag is NULL. Returns what sign_file() said about it. */
static char *sign_with_failing_tsa(const char *tsa_flag, int timeout_sec, const char *out, int error) {
        TsaOptions o = { .url = tsa_url, .timeout_sec = timeout_sec };
        char *msg = NULL;

        if (tsa_flag)
                tsa_start(tsa_flag);
        assert_int_equal(
                sign_file(
                        "leader", CMS_SIGNATURE_RSA_PKCS1, NID_sha256, CADES_PROFILE_BASELINE_B, &o,
                        "doc.bin", out, NULL, &msg),
                error);
        if (tsa_flag)
                tsa_stop();
        print_message("%s: %s\n", tsa_flag ?: "no server", msg);
        return msg;
}

static void test_tsa_down(void **state) {
        _cleanup_free_ char *msg = NULL;
        int s, port;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sa;

        /* A port that was free a moment ago: nobody listens there. */
        s = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(s >= 0);
        assert_int_equal(bind(s, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(getsockname(s, (struct sockaddr *) &sa, &sl), 0);
        port = ntohs(sa.sin_port);
        close(s);
        snprintf(tsa_url, sizeof tsa_url, "http://127.0.0.1:%d/tsa", port);

        time_t before = time(NULL);
        msg = sign_with_failing_tsa(NULL, 5, "down.p7s", -EHOSTUNREACH);
        assert_non_null(strstr(msg, tsa_url));
        assert_non_null(strstr(msg, "did not answer"));
        assert_true(time(NULL) - before < 5);
        assert_int_equal(access(tpath("down.p7s"), F_OK), -1);
}

/* A TSA that accepts the connection and never answers, and one that answers HTTP 500. */
static void test_tsa_hangs_or_fails(void **state) {
        static const char *const flags[] = { "--hang", "--fail" };

        for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
                _cleanup_free_ char *msg = NULL;
                time_t before = time(NULL);

                msg = sign_with_failing_tsa(flags[i], 2, "hang.p7s", -EHOSTUNREACH);
                assert_non_null(strstr(msg, tsa_url));
                assert_non_null(
                        strstr(msg, i == 0 ? "did not answer"
                                           : "answered with an HTTP error (received error: "
                                             "code=500"));
                assert_true(time(NULL) - before <= 6);
                assert_int_equal(access(tpath("hang.p7s"), F_OK), -1);
        }
}

static void test_tsa_rejects(void **state) {
        _cleanup_free_ char *msg = sign_with_failing_tsa("--bad-status", 10, "rej.p7s", -EPROTO);

        assert_non_null(strstr(msg, "refused"));
        assert_non_null(strstr(msg, "rejected on purpose"));
        assert_non_null(strstr(msg, "badRequest"));
        assert_non_null(strstr(msg, tsa_url));
}

static void test_tsa_wrong_imprint(void **state) {
        _cleanup_free_ char *msg = sign_with_failing_tsa("--wrong-imprint", 10, "wi.p7s", -EBADMSG);

        assert_non_null(strstr(msg, "does not match the request"));
        assert_non_null(strstr(msg, "imprint"));
}

KYSO_TEST_MAIN_GROUP(
        sign_setup, pki_teardown,
        {
                cmocka_unit_test(test_digest_info),
                cmocka_unit_test(test_ecdsa_raw_to_der),
                cmocka_unit_test(test_fixture_references),
                cmocka_unit_test(test_baseline_b_matrix),
                cmocka_unit_test(test_signing_certificate_v2_encoding),
                cmocka_unit_test(test_signing_certificate_precomputed),
                cmocka_unit_test(test_pades_attributes),
                cmocka_unit_test(test_wrong_key_refused),
                cmocka_unit_test(test_add_signer),
                cmocka_unit_test_teardown(test_baseline_t, tsa_teardown),
                cmocka_unit_test(test_transplanted_token),
                cmocka_unit_test(test_tsa_down),
                cmocka_unit_test_teardown(test_tsa_hangs_or_fails, tsa_teardown),
                cmocka_unit_test_teardown(test_tsa_rejects, tsa_teardown),
                cmocka_unit_test_teardown(test_tsa_wrong_imprint, tsa_teardown),
        });
