/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verifier against signatures made by `openssl cms` from a throw-away PKI, and tampered copies of them.
 */
#include "formats-test.h"
#include "formats/sign-encoding.h"

#include <openssl/cms.h>
#include <openssl/err.h>

#define CMS_SIGN "cd '%s' && openssl cms -sign -binary -nosmimecap -in '%s' -outform DER -out '%s' "

static void sign_reference(const char *out, const char *extra) {
        assert_int_equal(
                run(CMS_SIGN "%s 2>>'%s'", test_dir, tpath("content.bin"), tpath(out), extra,
                    tpath("openssl.log")),
                0);
}

/* Our verifier's result for the detached signature of content.bin that openssl makes (sign_reference()). */
static CmsVerifyResult *verify_reference(const char *out, const char *extra) {
        sign_reference(out, extra);
        return verify_files(out, "content.bin");
}

static int setup(void **state) {
        if (pki_setup(state) < 0)
                return -1;
        return random_file("content.bin", 300000) == 0 ? 0 : -1;
}

static void content_sha256(uint8_t out[32]) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        unsigned n = 0;
        read_all(tpath("content.bin"), &data, &size);
        assert_int_equal(EVP_Digest(data, size, out, &n, EVP_sha256(), NULL), 1);
        assert_int_equal(n, 32);
}

static void test_reference_rsa_pkcs1(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        uint8_t sha[32];

        sign_reference("rsa.p7s", "-md sha256 -signer leader.pem -inkey leader.key -certfile ca.pem");
        (void) state;
        res = verify_files("rsa.p7s", "content.bin");
        assert_int_equal(res->n_signers, 1);
        assert_int_equal(sk_X509_num(res->certs), 2);
        assert_int_equal(res->content_size, 300000);
        content_sha256(sha);
        assert_memory_equal(res->content_sha256, sha, 32);

        const CmsSignerResult *s = &res->signers[0];
        assert_string_equal(cms_problem_to_string(s->problem), "ok");
        assert_true(cms_verify_result_all_ok(res));
        assert_subject_cn(s->signer_cert, "Leader RSA");
        assert_int_equal(s->digest_nid, NID_sha256);
        assert_int_equal(s->scheme, CMS_SIGNATURE_RSA_PKCS1);
        assert_int_equal(s->key_bits, 2048);
        assert_true(s->has_signed_attrs);
        assert_true(s->digest_matches);
        assert_true(s->signature_valid);
        assert_int_equal(s->content_type, CMS_CONTENT_TYPE_DATA);
        assert_int_equal(s->signing_cert, CMS_SIGNING_CERT_ABSENT);
        assert_int_equal(s->signing_cert_digest_nid, NID_undef);
        assert_true(s->has_signing_time);
        assert_true(labs((long) (s->signing_time - time(NULL))) < 300);
        assert_int_equal(s->timestamp.status, CMS_TIMESTAMP_NONE);
        assert_int_equal(s->n_countersigners, 0);
}

static void test_reference_rsa_pss(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;

        res = verify_reference(
                "pss.p7s", "-md sha256 -signer leader.pem -inkey leader.key -keyopt rsa_padding_mode:pss "
                           "-keyopt rsa_pss_saltlen:32 -certfile ca.pem");
        assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
        assert_int_equal(res->signers[0].scheme, CMS_SIGNATURE_RSA_PSS);
        assert_int_equal(res->signers[0].pss_mgf1_digest_nid, NID_sha256);
        assert_int_equal(res->signers[0].pss_salt_length, 32);
}

static void test_reference_ecdsa_pem_ski(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;

        /* PEM, SubjectKeyIdentifier as signer identifier, SHA-384, and CAdES signing-certificate-v2. */
        assert_int_equal(
                run("openssl cms -sign -binary -nosmimecap -cades -keyid -md sha384 -signer '%s' -inkey '%s' "
                    "-in '%s' -outform PEM -out '%s'",
                    tpath("leader2.pem"), tpath("leader2.key"), tpath("content.bin"), tpath("ec.pem")),
                0);
        res = verify_files("ec.pem", "content.bin");
        assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
        assert_int_equal(res->signers[0].scheme, CMS_SIGNATURE_ECDSA);
        assert_int_equal(res->signers[0].digest_nid, NID_sha384);
        assert_int_equal(res->signers[0].signing_cert, CMS_SIGNING_CERT_V2_OK);
        /* OpenSSL names the hash of the ESSCertIDv2 when it is not the default SHA-256. */
        assert_int_equal(res->signers[0].signing_cert_digest_nid, NID_sha384);
        assert_subject_cn(res->signers[0].signer_cert, "Leader ECDSA");
}

static void test_two_signers(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;

        res = verify_reference(
                "two.p7s", "-cades -md sha512 -signer leader.pem -inkey leader.key -signer leader2.pem "
                           "-inkey leader2.key");
        assert_int_equal(res->n_signers, 2);
        assert_true(cms_verify_result_all_ok(res));
}

static void test_tampered_content(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;

        sign_reference("tc.p7s", "-md sha256 -signer leader.pem -inkey leader.key");
        read_all(tpath("content.bin"), &data, &size);
        data[size / 2] ^= 0x01;
        write_all(tpath("content-tampered.bin"), data, size);
        res = verify_files("tc.p7s", "content-tampered.bin");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "content-mismatch");
        assert_false(res->signers[0].digest_matches);
        assert_true(res->signers[0].signature_valid); /* the attributes themselves are intact */
        assert_false(cms_verify_result_all_ok(res));
}

/* Flips a byte of the SignerInfo's signature value in the DER file. */
static void test_tampered_signature(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        const unsigned char *p;
        ASN1_OCTET_STRING *sv;
        size_t size;
        ssize_t off;

        sign_reference("ts.p7s", "-md sha256 -signer leader.pem -inkey leader.key -certfile ca.pem");
        read_all(tpath("ts.p7s"), &data, &size);
        p = data;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long) size);
        assert_non_null(cms);
        sv = CMS_SignerInfo_get0_signature(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0));
        off = find_bytes(data, size, sv->data, (size_t) sv->length);
        assert_true(off > 0);
        data[off + sv->length / 2] ^= 0x40;
        write_all(tpath("ts-bad.p7s"), data, size);

        res = verify_files("ts-bad.p7s", "content.bin");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "bad-signature");
        assert_true(res->signers[0].digest_matches);
        assert_false(res->signers[0].signature_valid);
}

/* SignedData's digestAlgorithms set is outside the signature. One that no longer lists the signer's digest
 * algorithm (SHA-256 turned into SHA-384, same length) is refused, as `openssl cms -verify` refuses it. */
static void test_digest_algorithms_set_mismatch(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        static const uint8_t sha256_oid[] = { 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                              0x65, 0x03, 0x04, 0x02, 0x01 };
        size_t size;
        ssize_t off;

        sign_reference("da.p7s", "-md sha256 -signer leader.pem -inkey leader.key -certfile ca.pem");
        read_all(tpath("da.p7s"), &data, &size);
        /* The first SHA-256 identifier of a SignedData is the one in digestAlgorithms. */
        off = find_bytes(data, size, sha256_oid, sizeof sha256_oid);
        assert_true(off > 0);
        data[off + sizeof sha256_oid - 1] = 0x02;
        write_all(tpath("da-bad.p7s"), data, size);
        assert_int_not_equal(openssl_verify_unchained("da-bad.p7s", "content.bin"), 0);

        res = verify_files("da-bad.p7s", "content.bin");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "digest-algorithms-mismatch");
        assert_non_null(strstr(res->signers[0].detail, "digestAlgorithms"));
        assert_false(cms_verify_result_all_ok(res));
}

/* Edits the signing-time attribute (same length, so no re-encoding of lengths is needed). */
static void test_tampered_signed_attribute(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL, *orig = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        static const uint8_t signing_time_oid[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                                    0xf7, 0x0d, 0x01, 0x09, 0x05 };
        size_t size;
        ssize_t off;

        orig = verify_reference("ta.p7s", "-md sha256 -signer leader.pem -inkey leader.key");
        assert_int_equal(orig->signers[0].problem, CMS_PROBLEM_OK);

        read_all(tpath("ta.p7s"), &data, &size);
        off = find_bytes(data, size, signing_time_oid, sizeof signing_time_oid);
        assert_true(off > 0);
        /* OID, then SET { UTCTime "YYMMDDhhmmssZ" }: change the year's last digit. */
        off += sizeof signing_time_oid;
        assert_int_equal(data[off], 0x31);
        assert_int_equal(data[off + 2], 0x17);
        assert_int_equal(data[off + 3], 13);
        data[off + 4 + 1] = data[off + 4 + 1] == '9' ? '8' : data[off + 4 + 1] + 1;
        write_all(tpath("ta-bad.p7s"), data, size);

        res = verify_files("ta-bad.p7s", "content.bin");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "bad-signature");
        assert_true(res->signers[0].has_signing_time);
        assert_true(
                labs((long) (res->signers[0].signing_time - orig->signers[0].signing_time)) >=
                365 * 86400 - 86400);
}

static void swap_cert(const char *sig, const char *out, const char *from, const char *to) {
        _cleanup_free_ uint8_t *data = NULL, *a = NULL, *b = NULL;
        char from_der[256], to_der[256];
        size_t size, as, bs;
        ssize_t off;

        snprintf(from_der, sizeof from_der, "%s.der", from);
        snprintf(to_der, sizeof to_der, "%s.der", to);
        assert_int_equal(
                run("openssl x509 -in '%s' -outform DER -out '%s'", tpath(from), tpath(from_der)), 0);
        assert_int_equal(run("openssl x509 -in '%s' -outform DER -out '%s'", tpath(to), tpath(to_der)), 0);
        read_all(tpath(sig), &data, &size);
        read_all(tpath(from_der), &a, &as);
        read_all(tpath(to_der), &b, &bs);
        assert_int_equal(as, bs); /* make-test-pki.sh makes them the same length */
        off = find_bytes(data, size, a, as);
        assert_true(off > 0);
        memcpy(data + off, b, bs);
        write_all(tpath(out), data, size);
}

/* The signer certificate replaced by another one with the same issuer name and serial but another key. */
static void test_swapped_certificate_other_key(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;

        sign_reference("sw.p7s", "-md sha256 -signer leader.pem -inkey leader.key -certfile ca.pem");
        swap_cert("sw.p7s", "sw-bad.p7s", "leader.pem", "impostor-newkey.pem");
        res = verify_files("sw-bad.p7s", "content.bin");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "bad-signature");
        assert_false(res->signers[0].signature_valid);
}

/* Same key, re-certified by a fake CA with the real CA's name: only signing-certificate-v2 notices. */
static void test_swapped_certificate_same_key(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL, *plain = NULL, *good = NULL;

        good = verify_reference(
                "sk.p7s", "-cades -md sha256 -signer leader.pem -inkey leader.key -certfile ca.pem");
        assert_int_equal(good->signers[0].signing_cert, CMS_SIGNING_CERT_V2_OK);
        /* SHA-256 is the ESSCertIDv2 default, left out of the encoding. */
        assert_int_equal(good->signers[0].signing_cert_digest_nid, NID_sha256);
        swap_cert("sk.p7s", "sk-bad.p7s", "leader.pem", "impostor-samekey.pem");
        res = verify_files("sk-bad.p7s", "content.bin");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "signing-cert-attr-mismatch");
        assert_true(res->signers[0].signature_valid);
        assert_int_equal(res->signers[0].signing_cert, CMS_SIGNING_CERT_MISMATCH);

        /* Without the ESS attribute the substitution is invisible here: policy's path validation must catch
         * it. */
        sign_reference("sk2.p7s", "-md sha256 -signer leader.pem -inkey leader.key -certfile ca.pem");
        swap_cert("sk2.p7s", "sk2-bad.p7s", "leader.pem", "impostor-samekey.pem");
        plain = verify_files("sk2-bad.p7s", "content.bin");
        assert_int_equal(plain->signers[0].problem, CMS_PROBLEM_OK);
        assert_int_equal(plain->signers[0].signing_cert, CMS_SIGNING_CERT_ABSENT);
}

static void test_missing_signed_attrs(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL, *bad = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;

        res = verify_reference("na.p7s", "-noattr -md sha256 -signer leader.pem -inkey leader.key");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "missing-signed-attrs");
        assert_false(res->signers[0].has_signed_attrs);
        assert_true(res->signers[0].signature_valid); /* the raw signature over the content digest holds */

        read_all(tpath("content.bin"), &data, &size);
        data[0] ^= 1;
        write_all(tpath("content-na.bin"), data, size);
        bad = verify_files("na.p7s", "content-na.bin");
        assert_false(bad->signers[0].signature_valid);
}

static void test_signer_cert_missing(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;

        res = verify_reference("nc.p7s", "-nocerts -md sha256 -signer leader.pem -inkey leader.key");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "signer-cert-missing");
        assert_null(res->signers[0].signer_cert);
}

/* A detached CMS by CERT with KEY_FILE's key (FLAGS for CMS_add1_signer()) whose one SignerInfo has the
 * messageDigest MD as its only signed attribute, as DER (OPENSSL_free()); returns its size. Signed by hand:
 * CMS_SignerInfo_sign() of OpenSSL 3.0 insists on a content-type attribute, which a countersignature must
 * not have. */
static int sign_digest_only(
        X509 *cert, const char *key_file, unsigned flags, const uint8_t md[32], unsigned char **ret_der) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        _cleanup_free_ uint8_t *attrs = NULL;
        unsigned char sig[512];
        size_t attrs_size = 0, sig_size = sizeof sig;
        CMS_SignerInfo *si;
        BIO *b;
        int len;

        b = BIO_new_file(tpath(key_file), "r");
        key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        assert_non_null(key);
        cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
        assert_non_null(cms);
        si = CMS_add1_signer(cms, cert, key, EVP_sha256(), flags);
        assert_non_null(si);
        assert_int_equal(
                CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, md, 32), 1);
        assert_int_equal(cms_signed_attrs_der(si, &attrs, &attrs_size), 0);
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
        assert_int_equal(EVP_DigestSign(ctx, sig, &sig_size, attrs, attrs_size), 1);
        assert_int_equal(ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int) sig_size), 1);
        len = i2d_CMS_ContentInfo(cms, ret_der);
        assert_true(len > 0);
        return len;
}

/* A countersignature by `other` over the leader's signature value, built with OpenSSL's own signer. */
/* Adds `copies` countersignatures by `other` over si's signature value (or over a wrong value) to si. */
static void countersign(CMS_ContentInfo *cms, CMS_SignerInfo *si, bool wrong_value, unsigned copies) {
        _cleanup_(X509_freep) X509 *other = load_cert("other.pem");
        unsigned char *csder = NULL;
        const uint8_t *si_bytes;
        size_t si_size;
        ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);
        uint8_t md[32];
        unsigned md_size;
        int cslen;

        assert_int_equal(EVP_Digest(sv->data, (size_t) sv->length, md, &md_size, EVP_sha256(), NULL), 1);
        if (wrong_value)
                md[0] ^= 1;
        cslen = sign_digest_only(other, "other.key", CMS_PARTIAL | CMS_NOSMIMECAP | CMS_NOCERTS, md, &csder);
        der_signer_info(csder, (size_t) cslen, 0, &si_bytes, &si_size);
        for (unsigned i = 0; i < copies; i++)
                assert_int_equal(
                        CMS_unsigned_add1_attr_by_NID(
                                si, NID_pkcs9_countersignature, V_ASN1_SEQUENCE, si_bytes, (int) si_size),
                        1);
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *have = CMS_get1_certs(cms);
        bool present = false;
        for (int i = 0; i < sk_X509_num(have); i++)
                present |= X509_cmp(sk_X509_value(have, i), other) == 0;
        if (!present)
                assert_int_equal(CMS_add1_cert(cms, other), 1);
        OPENSSL_free(csder);
}

static void rewrite(const char *in, const char *out, bool wrong_value, unsigned copies) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        unsigned char *der = NULL;
        const unsigned char *p;
        size_t size;
        int len;

        read_all(tpath(in), &data, &size);
        p = data;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long) size);
        assert_non_null(cms);
        for (int i = 0; i < sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)); i++)
                countersign(cms, sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), i), wrong_value, copies);
        len = i2d_CMS_ContentInfo(cms, &der);
        assert_true(len > 0);
        write_all(tpath(out), der, (size_t) len);
        OPENSSL_free(der);
}

static int make_countersigned(const char *out, bool wrong_value) {
        rewrite("cs-base.p7s", out, wrong_value, 1);
        return 0;
}

static void test_countersignature(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL, *bad = NULL;

        sign_reference("cs-base.p7s", "-md sha256 -signer leader.pem -inkey leader.key -certfile ca.pem");
        make_countersigned("cs.p7s", false);
        res = verify_files("cs.p7s", "content.bin");
        assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
        assert_int_equal(res->signers[0].n_countersigners, 1);
        assert_int_equal(res->signers[0].countersigners[0].problem, CMS_PROBLEM_OK);
        assert_int_equal(res->signers[0].countersigners[0].content_type, CMS_CONTENT_TYPE_ABSENT);
        assert_subject_cn(res->signers[0].countersigners[0].signer_cert, "Other RSA");
        assert_true(cms_verify_result_all_ok(res));

        make_countersigned("cs-bad.p7s", true);
        bad = verify_files("cs-bad.p7s", "content.bin");
        assert_string_equal(cms_problem_to_string(bad->signers[0].problem), "bad-countersignature");
        assert_int_equal(bad->signers[0].countersigners[0].problem, CMS_PROBLEM_CONTENT_MISMATCH);
        assert_true(bad->signers[0].signature_valid);
}

/* Signed attributes without content-type (OpenSSL's signer always adds one: sign by hand). */
static void test_content_type_missing(void **state) {
        _cleanup_(X509_freep) X509 *leader = load_cert("leader.pem");
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_free_ uint8_t *content = NULL;
        unsigned char *der = NULL;
        size_t size;
        uint8_t md[32];
        unsigned md_size;
        int len;

        read_all(tpath("content.bin"), &content, &size);
        assert_int_equal(EVP_Digest(content, size, md, &md_size, EVP_sha256(), NULL), 1);
        len = sign_digest_only(leader, "leader.key", CMS_PARTIAL | CMS_NOSMIMECAP, md, &der);
        write_all(tpath("noct.p7s"), der, (size_t) len);
        OPENSSL_free(der);

        res = verify_files("noct.p7s", "content.bin");
        assert_string_equal(cms_problem_to_string(res->signers[0].problem), "content-type");
        assert_int_equal(res->signers[0].content_type, CMS_CONTENT_TYPE_ABSENT);
        assert_true(res->signers[0].signature_valid);
        assert_true(res->signers[0].digest_matches);
}

/* 4 SignerInfos with 64 countersignatures each: 260 signatures, more than CMS_VERIFY_MAX_CHECKS. */
static void test_check_budget(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        size_t ok = 0, refused = 0;

        sign_reference(
                "many.p7s", "-md sha256 -signer leader.pem -inkey leader.key -signer leader2.pem -inkey "
                            "leader2.key -signer other.pem -inkey other.key -signer impostor-newkey.pem "
                            "-inkey impostor-newkey.key");
        rewrite("many.p7s", "many-cs.p7s", false, 64);
        res = verify_files("many-cs.p7s", "content.bin");
        assert_int_equal(res->n_signers, 4);
        for (size_t i = 0; i < res->n_signers; i++) {
                assert_int_equal(res->signers[i].n_countersigners, 64);
                for (size_t j = 0; j < 64; j++) {
                        const CmsSignerResult *c = &res->signers[i].countersigners[j];
                        if (c->problem == CMS_PROBLEM_OK)
                                ok++;
                        else {
                                assert_int_equal(c->problem, CMS_PROBLEM_MALFORMED);
                                assert_string_equal(c->detail, "too many signatures in one file");
                                refused++;
                        }
                }
        }
        assert_int_equal(ok + 4, CMS_VERIFY_MAX_CHECKS);
        assert_int_equal(refused, 4);
        assert_false(cms_verify_result_all_ok(res));
}

static ssize_t read_nothing(void *userdata, void *buf, size_t size) {
        return 0;
}

static ssize_t read_fail(void *userdata, void *buf, size_t size) {
        return -EIO;
}

static void test_garbage(void **state) {
        _cleanup_free_ uint8_t *data = NULL, *big = NULL;
        CmsVerifyResult *res = NULL;
        uint8_t junk[512];
        size_t size;

        assert_int_equal(cms_verify_detached(NULL, 0, read_nothing, NULL, &res), -EBADMSG);
        assert_int_equal(cms_verify_detached("x", 1, read_nothing, NULL, &res), -EBADMSG);
        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (uint8_t) (i * 37 + 11);
        assert_int_equal(cms_verify_detached(junk, sizeof junk, read_nothing, NULL, &res), -EBADMSG);
        assert_int_equal(
                cms_verify_detached(
                        "-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n", 44, read_nothing, NULL, &res),
                -EBADMSG);

        big = calloc(1, CMS_VERIFY_MAX_SIGNATURE_SIZE + 1);
        assert_non_null(big);
        assert_int_equal(
                cms_verify_detached(big, CMS_VERIFY_MAX_SIGNATURE_SIZE + 1, read_nothing, NULL, &res),
                -EFBIG);

        sign_reference("g.p7s", "-md sha256 -signer leader.pem -inkey leader.key");
        read_all(tpath("g.p7s"), &data, &size);
        for (size_t cut = 1; cut < size; cut += 97)
                assert_int_equal(cms_verify_detached(data, cut, read_nothing, NULL, &res), -EBADMSG);
        /* A content read error is the caller's error, not a verdict. */
        assert_int_equal(cms_verify_detached(data, size, read_fail, NULL, &res), -EIO);
        assert_null(res);

        /* Embedded content is not a detached signature: told apart, so the caller can say so (issue 13). */
        assert_int_equal(
                run("openssl cms -sign -binary -nodetach -in '%s' -signer '%s' -inkey '%s' -outform DER -out "
                    "'%s'",
                    tpath("content.bin"), tpath("leader.pem"), tpath("leader.key"), tpath("att.p7s")),
                0);
        free(data);
        data = NULL;
        read_all(tpath("att.p7s"), &data, &size);
        assert_int_equal(cms_verify_detached(data, size, read_nothing, NULL, &res), -EOPNOTSUPP);
}

static void test_names(void **state) {
        for (int i = 0; i < _CMS_PROBLEM_MAX; i++) {
                assert_non_null(cms_problem_to_string(i));
                assert_int_equal(cms_problem_from_string(cms_problem_to_string(i)), i);
        }
        assert_null(cms_problem_to_string(_CMS_PROBLEM_MAX));
        assert_int_equal(cms_problem_from_string("nope"), _CMS_PROBLEM_INVALID);
        assert_int_equal(cms_signature_scheme_from_string("rsa-pss"), CMS_SIGNATURE_RSA_PSS);
        assert_string_equal(cms_signing_cert_to_string(CMS_SIGNING_CERT_V2_OK), "v2-ok");
        assert_string_equal(
                cms_timestamp_status_to_string(CMS_TIMESTAMP_IMPRINT_MISMATCH), "imprint-mismatch");
}

KYSO_TEST_MAIN_GROUP(
        setup, pki_teardown,
        {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_reference_rsa_pkcs1),
                cmocka_unit_test(test_reference_rsa_pss),
                cmocka_unit_test(test_reference_ecdsa_pem_ski),
                cmocka_unit_test(test_two_signers),
                cmocka_unit_test(test_tampered_content),
                cmocka_unit_test(test_tampered_signature),
                cmocka_unit_test(test_tampered_signed_attribute),
                cmocka_unit_test(test_digest_algorithms_set_mismatch),
                cmocka_unit_test(test_swapped_certificate_other_key),
                cmocka_unit_test(test_swapped_certificate_same_key),
                cmocka_unit_test(test_missing_signed_attrs),
                cmocka_unit_test(test_signer_cert_missing),
                cmocka_unit_test(test_countersignature),
                cmocka_unit_test(test_content_type_missing),
                cmocka_unit_test(test_check_budget),
                cmocka_unit_test(test_garbage),
        });
