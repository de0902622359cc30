/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One signature's verdict with the fixture PKI and revocation off (no network): the ESS signing-certificate
 * binding and the seal rule, a claimed signing time that the certificate does not outlive, and the policy's
 * hashes applied to MGF1, to the signature's digest and to time-stamp tokens. Signatures are made by
 * `openssl cms`; time-stamp tokens are put into a verified result by hand. */
#include <fcntl.h>

#include "policy-test.h"
#include "policy/signature-check.h"

static Policy *policy;

static Policy *load_policy(const char *name, const char *extra) {
        _cleanup_free_ char *text = NULL;
        assert_true(
                asprintf(
                        &text,
                        "[seal ward]\nseal-subject = CN=UBND phường Uông Bí\n"
                        "leader-organization = UBND phường Uông Bí\nleader-subject = title=Chủ tịch\n"
                        "leader-subject = title=Phó Chủ tịch\n%s",
                        extra) > 0);
        return policy_for_fixtures(name, text);
}

static int setup(void **state) {
        if (fixtures_setup() < 0)
                return -1;
        if (run("printf 'Quyết định số 12/QĐ-UBND\\n' >'%s/doc.txt'", tmpdir) != 0)
                return -1;
        policy = load_policy("policy", "");
        return 0;
}

static int teardown(void **state) {
        policy = policy_free(policy);
        return fixtures_teardown();
}

/* Signs doc.txt with `openssl cms -sign` (FAKETIME_PREFIX may set its clock) and verifies it (formats/). */
static CmsVerifyResult *sign_and_verify(const char *prefix, const char *name, const char *extra) {
        char sig[PATH_MAX + 64], doc[PATH_MAX + 64];
        snprintf(sig, sizeof sig, "%s/%s-%zu.p7s", tmpdir, name, strlen(extra));
        snprintf(doc, sizeof doc, "%s/doc.txt", tmpdir);
        assert_int_equal(
                run("%s openssl cms -sign -binary -md sha256 -in '%s' -signer '%s/%s.pem' -inkey '%s/%s.key' "
                    "-certfile '%s/ca.pem' -outform DER -out '%s' %s 2>>'%s/openssl.log'",
                    prefix, doc, pki, name, pki, name, pki, sig, extra, tmpdir),
                0);
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        _cleanup_close_ int sfd = open(sig, O_RDONLY | O_CLOEXEC), dfd = open(doc, O_RDONLY | O_CLOEXEC);
        assert_true(sfd >= 0 && dfd >= 0);
        assert_int_equal(cms_signature_read_fd(sfd, &data, &size), 0);
        CmsVerifyResult *res = NULL;
        assert_int_equal(cms_verify_detached_fd(data, size, dfd, &res), 0);
        assert_int_equal(res->n_signers, 1);
        return res;
}

static void check(const Policy *p, const CmsVerifyResult *res, SignatureCheck *c) {
        assert_int_equal(signature_check(p, res, &res->signers[0], c), 0);
}

/* The seal rule with this one existing signature, for the seal certificate. */
static void expect_issue(const SignatureCheck *c, bool allow, const char *needle) {
        _cleanup_(X509_freep) X509 *seal = cert("seal");
        CertValidation seal_status;
        RuleDecision d;
        assert_int_equal(
                cert_validate(policy, seal, NULL, 0, CERT_VALIDATE_DOCUMENT_SIGNING, &seal_status), 0);
        ExistingSignature e = signature_check_to_existing(c, true);
        RuleRequest req = {
                .role = SIGN_ROLE_ISSUE,
                .signer = seal,
                .signer_status = &seal_status,
                .existing = &e,
                .n_existing = 1,
        };
        assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
        if (d.allow != allow || !strstr(d.reason, needle))
                fail_msg(
                        "issue: got %s \"%s\", want %s with \"%s\"", d.allow ? "allow" : "deny", d.reason,
                        allow ? "allow" : "deny", needle);
        /* A reason that ends its sentence is put into the refusal's without its full stop. */
        if (strstr(d.reason, "..") || strstr(d.reason, ".;"))
                fail_msg("issue: a sentence's full stop inside the refusal: \"%s\"", d.reason);
        rule_decision_done(&d);
        cert_validation_done(&seal_status);
}

static void test_ess_binding(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *cades = sign_and_verify("", "leader", "-cades"),
                                                           *plain = sign_and_verify("", "leader", "");
        _cleanup_(signature_check_done) SignatureCheck c = {}, pc = {}, v1 = {};

        /* CAdES: signing-certificate-v2 with SHA-256 binds the certificate. */
        check(policy, cades, &c);
        assert_true(c.valid);
        assert_true(c.signing_cert_bound);
        assert_true(c.counts_as_leader);
        expect_issue(&c, true, "Nguyễn Văn An signed as a competent person");

        /* Plain CMS: nothing binds the certificate, so the signature could be shown with another
         * certificate for the same key. It verifies, but it is not the competent person's signature. */
        assert_int_equal(plain->signers[0].signing_cert, CMS_SIGNING_CERT_ABSENT);
        check(policy, plain, &pc);
        assert_true(pc.valid);
        assert_false(pc.signing_cert_bound);
        assert_non_null(strstr(pc.binding_reason, "carries no signing-certificate attribute"));
        assert_false(pc.counts_as_leader);
        assert_non_null(strstr(pc.leader_reason, "does not bind its certificate"));
        assert_non_null(strstr(pc.reason, "does not bind its certificate"));
        expect_issue(&pc, false, "does not bind its certificate");

        /* The old signing-certificate attribute names the certificate by its SHA-1 hash only. */
        cades->signers[0].signing_cert = CMS_SIGNING_CERT_V1_OK;
        cades->signers[0].signing_cert_digest_nid = NID_sha1;
        check(policy, cades, &v1);
        assert_false(v1.signing_cert_bound);
        assert_false(v1.counts_as_leader);
        assert_non_null(strstr(v1.binding_reason, "SHA-1"));
        expect_issue(&v1, false, "does not bind its certificate");
}

static void test_claimed_time(void **state) {
        if (system("ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1") != 0)
                skip();
        /* Signed "100 days ago", inside the validity of expired (from -400 to -30 days), with no
         * time-stamp: the claimed time is not trusted alone. */
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res =
                /* libfaketime itself: the faketime wrapper's per-pid semaphores can collide. */
                sign_and_verify(
                        "env LD_PRELOAD=$(ls /usr/lib/*/faketime/libfaketime.so.1 | head -n 1) FAKETIME=-100d",
                        "expired", "-cades");
        _cleanup_(signature_check_done) SignatureCheck c = {};
        check(policy, res, &c);
        assert_int_equal(c.time_source, SIGNING_TIME_CLAIMED);
        assert_true(c.claimed_time_unproven);
        assert_int_equal(c.now.status, CERT_STATUS_EXPIRED);
        assert_int_equal(c.at_signing.status, CERT_STATUS_EXPIRED);
        assert_false(c.valid);
        assert_false(c.counts_as_leader);
        assert_non_null(
                strstr(c.reason, "no time-stamp proves that the signature was made while it was valid"));
        expect_issue(&c, false, "no time-stamp proves");
}

static void test_mgf1_hash(void **state) {
        _cleanup_(cms_verify_result_freep)
                CmsVerifyResult *sha256 = sign_and_verify(
                                        "", "leader",
                                        "-cades -keyopt rsa_padding_mode:pss -keyopt rsa_mgf1_md:sha256"),
                                *sha1 = sign_and_verify(
                                        "", "leader",
                                        "-cades -keyopt rsa_padding_mode:pss -keyopt rsa_mgf1_md:sha1");
        _cleanup_(signature_check_done) SignatureCheck ok = {}, bad = {};

        check(policy, sha256, &ok);
        assert_true(ok.integrity_ok);
        assert_true(ok.valid);
        assert_int_equal(sha1->signers[0].problem, CMS_PROBLEM_OK);
        assert_int_equal(sha1->signers[0].pss_mgf1_digest_nid, NID_sha1);
        check(policy, sha1, &bad);
        assert_false(bad.integrity_ok);
        assert_false(bad.valid);
        assert_non_null(strstr(bad.integrity_reason, "mask generation (MGF1) with the hash SHA1"));
}

static void test_policy_hashes(void **state) {
        _cleanup_(policy_freep) Policy *p384 =
                load_policy("sha384", "[algorithms]\nhashes = sha384 sha512\n");
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = sign_and_verify("", "leader", "-cades");
        _cleanup_(signature_check_done) SignatureCheck c = {};

        check(p384, res, &c);
        assert_false(c.integrity_ok);
        assert_false(c.valid);
        assert_non_null(strstr(c.integrity_reason, "uses the hash SHA256, which the policy does not allow"));
}

/* A time-stamp token as formats/ would report it, put on a verified signature: by the fixture TSA, one
 * minute ago, imprint and token signature hashed with the given algorithms. */
static void add_timestamp(CmsSignerResult *s, int imprint_nid, int signature_nid) {
        CmsTimestamp *t = &s->timestamp;
        cms_timestamp_done(t);
        t->status = CMS_TIMESTAMP_OK;
        t->signature_valid = t->imprint_matches = t->has_gen_time = true;
        t->gen_time = time(NULL) - 60;
        t->imprint_digest_nid = imprint_nid;
        t->signature_digest_nid = signature_nid;
        t->tsa_cert = cert("tsa");
        t->certs = sk_X509_new_null();
        assert_non_null(t->certs);
        assert_true(sk_X509_push(t->certs, cert("ca")) > 0);
}

static void test_timestamp_hashes(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = sign_and_verify("", "leader", "-cades");
        const struct {
                int imprint, signature;
                const char *why;
        } cases[] = {
                { NID_sha256, NID_sha256, NULL },
                { NID_sha1, NID_sha256, "hashes the signature with SHA1" },
                { NID_sha256, NID_sha1, "is signed with the hash SHA1" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(signature_check_done) SignatureCheck c = {};
                add_timestamp(&res->signers[0], cases[i].imprint, cases[i].signature);
                check(policy, res, &c);
                assert_true(c.has_timestamp);
                if (!cases[i].why) {
                        assert_true(c.timestamp_trusted);
                        assert_int_equal(c.time_source, SIGNING_TIME_TIMESTAMP);
                        assert_true(c.valid);
                        continue;
                }
                assert_false(c.timestamp_trusted);
                assert_false(c.valid);
                if (!strstr(c.reason, cases[i].why))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, c.reason, cases[i].why);
        }
}

/* c does not count, nor does a rule over it, because its time (what: where it comes from) is in the future.
 */
static void expect_in_future(const SignatureCheck *c, const char *what) {
        assert_false(c->valid);
        assert_false(c->counts_as_leader);
        if (!strstr(c->reason, "in the future"))
                fail_msg("%s: \"%s\"", what, c->reason);
        expect_issue(c, false, "in the future");
}

/* A claimed signing time or a time-stamp later than now plus the policy's clock skew (default 5 minutes)
 * makes the signature not count: nobody signs in the future. Within the skew it still counts. */
static void test_future_time(void **state) {
        if (system("ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1") != 0)
                skip();
        _cleanup_(cms_verify_result_freep)
                CmsVerifyResult *future = sign_and_verify(
                                        "env LD_PRELOAD=$(ls /usr/lib/*/faketime/libfaketime.so.1 "
                                        "| head -n 1) FAKETIME=+100d",
                                        "leader", "-cades"),
                                *near = sign_and_verify(
                                        "env LD_PRELOAD=$(ls /usr/lib/*/faketime/libfaketime.so.1 "
                                        "| head -n 1) FAKETIME=+2m",
                                        "leader", "-cades");
        _cleanup_(signature_check_done) SignatureCheck c = {}, n = {}, t = {};

        check(policy, future, &c);
        assert_int_equal(c.time_source, SIGNING_TIME_CLAIMED);
        expect_in_future(&c, "future claimed time");

        check(policy, near, &n);
        assert_true(n.valid);
        assert_true(n.counts_as_leader);

        /* A time-stamp token dated in the future. */
        add_timestamp(&near->signers[0], NID_sha256, NID_sha256);
        near->signers[0].timestamp.gen_time = time(NULL) + 3600;
        check(policy, near, &t);
        expect_in_future(&t, "future time-stamp");
}

/* A PDF's signature claims its time in /M, not in the CMS (PAdES has no signing-time attribute): that time
 * is judged as the attribute would be, so one in the future does not count either. */
static void test_future_claimed_outside(void **state) {
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = sign_and_verify("", "leader", "-cades");
        _cleanup_(signature_check_done) SignatureCheck f = {}, past = {}, none = {};
        time_t future = time(NULL) + 100 * 86400, earlier = time(NULL) - 3600;

        res->signers[0].has_signing_time = false;
        assert_int_equal(signature_check_claimed(policy, res, &res->signers[0], &future, &f), 0);
        assert_int_equal(f.time_source, SIGNING_TIME_CLAIMED);
        expect_in_future(&f, "future /M");

        assert_int_equal(signature_check_claimed(policy, res, &res->signers[0], &earlier, &past), 0);
        assert_int_equal(past.time_source, SIGNING_TIME_CLAIMED);
        assert_int_equal(past.signing_time, earlier);
        assert_true(past.valid);

        assert_int_equal(signature_check_claimed(policy, res, &res->signers[0], NULL, &none), 0);
        assert_int_equal(none.time_source, SIGNING_TIME_NONE);
        assert_true(none.valid);
}

/* The seal rule and the competent-person line give verify's reason, not "broken", for a signature that is
 * intact but does not count (issue 13), and a digestAlgorithms set changed after signing has its own. */
static void test_same_reasons(void **state) {
        _cleanup_(cms_verify_result_freep)
                CmsVerifyResult *sha1 = sign_and_verify("", "leader", "-cades -md sha1"),
                                *da = sign_and_verify("", "leader", "-cades");
        _cleanup_(signature_check_done) SignatureCheck c = {}, d = {};

        check(policy, sha1, &c);
        assert_false(c.valid);
        assert_non_null(strstr(c.reason, "SHA1, which the policy does not allow"));
        assert_false(c.counts_as_leader);
        if (!strstr(c.leader_reason, "SHA1, which the policy does not allow"))
                fail_msg("leader: \"%s\"", c.leader_reason);
        expect_issue(&c, false, "SHA1, which the policy does not allow");

        /* A time-stamp that does not verify: the seal refusal and the competent-person line give verify's
         * reason too. */
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *ts = sign_and_verify("", "leader", "-cades");
        _cleanup_(signature_check_done) SignatureCheck t = {};
        add_timestamp(&ts->signers[0], NID_sha256, NID_sha256);
        ts->signers[0].timestamp.status = CMS_TIMESTAMP_BAD_SIGNATURE;
        check(policy, ts, &t);
        assert_false(t.valid);
        assert_false(t.counts_as_leader);
        if (!strstr(t.reason, "time-stamp cannot be trusted: it does not verify") ||
            !strstr(t.leader_reason, "time-stamp cannot be trusted: it does not verify"))
                fail_msg("bad time-stamp: \"%s\", leader: \"%s\"", t.reason, t.leader_reason);
        expect_issue(&t, false, "time-stamp cannot be trusted: it does not verify");

        da->signers[0].problem = CMS_PROBLEM_DIGEST_ALGORITHMS_MISMATCH;
        check(policy, da, &d);
        assert_false(d.valid);
        if (!strstr(d.reason, "digestAlgorithms"))
                fail_msg("digestAlgorithms: \"%s\"", d.reason);
        expect_issue(&d, false, "digestAlgorithms");
}

KYSO_TEST_MAIN_GROUP(
        setup, teardown,
        {
                cmocka_unit_test(test_ess_binding),
                cmocka_unit_test(test_claimed_time),
                cmocka_unit_test(test_mgf1_hash),
                cmocka_unit_test(test_policy_hashes),
                cmocka_unit_test(test_timestamp_hashes),
                cmocka_unit_test(test_future_time),
                cmocka_unit_test(test_future_claimed_outside),
                cmocka_unit_test(test_same_reasons),
        });
