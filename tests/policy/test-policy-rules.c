/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The signing rules, with the fixture PKI's certificates: every role, every kind, the seal rule and each way
 * an existing signature can fail to count, classification; the reason and the article are checked. */
#include "policy-test.h"
#include "policy/policy-rules.h"

static Policy *policy;

static Policy *load_policy(const char *extra) {
        char name[64];
        snprintf(name, sizeof name, "policy-%zu", strlen(extra));
        return policy_for_fixtures(name, extra);
}

static int setup(void **state) {
        if (fixtures_setup() < 0)
                return -1;
        policy = load_policy("[kind device]\nkind = device\npolicy-oid = 1.3.6.1.4.1.99999.1.3\n"
                             "[seal ward]\n"
                             "seal-organization = UBND phường Uông Bí\n"
                             "seal-subject = CN=UBND phường Uông Bí\n"
                             "seal-policy-oid = 1.3.6.1.4.1.99999.1.2\n"
                             "leader-organization = UBND phường Uông Bí\n"
                             "leader-subject = title=Chủ tịch\n"
                             "leader-subject = title=Phó Chủ tịch\n");
        return 0;
}

static int teardown(void **state) {
        policy = policy_free(policy);
        return fixtures_teardown();
}

/* A signer and its current status (revocation is off in this policy: the network is not needed here). */
typedef struct Signer {
        X509 *cert;
        CertValidation status;
} Signer;

static Signer *signer_new(const char *name) {
        Signer *s = calloc(1, sizeof(Signer));
        assert_non_null(s);
        s->cert = cert(name);
        assert_int_equal(
                cert_validate(policy, s->cert, NULL, 0, CERT_VALIDATE_DOCUMENT_SIGNING, &s->status), 0);
        return s;
}

static void signer_free(Signer *s) {
        if (!s)
                return;
        X509_free(s->cert);
        cert_validation_done(&s->status);
        free(s);
}

static void signer_freep(Signer **s) {
        signer_free(*s);
}

static ExistingSignature good_sig(Signer *s) {
        return (ExistingSignature){
                .signer = s->cert,
                .integrity_ok = true,
                .signing_cert_bound = true,
                .covers_whole_document = true,
                .status_at_signing = &s->status,
                .signing_time = time(NULL) - 60,
        };
}

static void
expect(Signer *who, SignRole role, const ExistingSignature *ex, size_t n, const char *classification,
       bool allow, const char *article, const char *needle) {
        RuleRequest req = {
                .role = role,
                .signer = who->cert,
                .signer_status = &who->status,
                .existing = ex,
                .n_existing = n,
                .classification = classification,
        };
        RuleDecision d;
        assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
        if (d.allow != allow || !streq(d.article, article) || !strstr(d.reason, needle))
                fail_msg(
                        "role %s: got %s [%s] \"%s\", want %s [%s] containing \"%s\"",
                        sign_role_to_string(role), d.allow ? "allow" : "deny", d.article, d.reason,
                        allow ? "allow" : "deny", article, needle);
        rule_decision_done(&d);
}

/* A certificate without a CN is named by its whole subject, in UTF-8: X509_NAME_oneline() escaped every byte
 * of "phường" for the person reading the refusal. */
static void test_name_without_cn(void **state) {
        Signer s = {};
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509_NAME *n;

        s.cert = X509_new();
        assert_non_null(key);
        assert_non_null(s.cert);
        X509_set_version(s.cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(s.cert), 77);
        X509_gmtime_adj(X509_getm_notBefore(s.cert), -3600);
        X509_gmtime_adj(X509_getm_notAfter(s.cert), 3600);
        n = X509_get_subject_name(s.cert);
        X509_NAME_add_entry_by_txt(
                n, "O", MBSTRING_UTF8, (const unsigned char *) "UBND phường Uông Bí", -1, -1, 0);
        X509_set_issuer_name(s.cert, n);
        X509_set_pubkey(s.cert, key);
        assert_true(X509_sign(s.cert, key, EVP_sha256()) > 0);
        EVP_PKEY_free(key);
        expect(&s, SIGN_ROLE_APPROVE, NULL, 0, NULL, false, ARTICLE_KINDS, "UBND phường Uông Bí");
        X509_free(s.cert);
}

static void test_roles_and_kinds(void **state) {
        _cleanup_(signer_freep) Signer *leader = signer_new("leader"), *leader2 = signer_new("leader2"),
                                       *seal = signer_new("seal"), *clerk = signer_new("clerk"),
                                       *device = signer_new("device");

        assert_int_equal(policy_classify_certificate(policy, leader->cert, NULL), CERT_KIND_PERSONAL);
        assert_int_equal(policy_classify_certificate(policy, seal->cert, NULL), CERT_KIND_ORGANIZATION);
        assert_int_equal(policy_classify_certificate(policy, device->cert, NULL), CERT_KIND_DEVICE);

        expect(leader, SIGN_ROLE_APPROVE, NULL, 0, NULL, true, ARTICLE_KINDS,
               "Nguyễn Văn An signs with a valid");
        expect(leader2, SIGN_ROLE_APPROVE, NULL, 0, "Thường", true, ARTICLE_KINDS, "Trần Thị Bình");
        expect(clerk, SIGN_ROLE_PERSONAL, NULL, 0, NULL, true, ARTICLE_KINDS, "Lê Thị Cúc signs");
        expect(seal, SIGN_ROLE_APPROVE, NULL, 0, NULL, false, ARTICLE_KINDS,
               "needs a personal certificate, but UBND phường Uông Bí is an organisation certificate");
        expect(seal, SIGN_ROLE_PERSONAL, NULL, 0, NULL, false, ARTICLE_KINDS,
               "needs a personal certificate");
        for (SignRole r = 0; r < _SIGN_ROLE_MAX; r++)
                expect(device, r, NULL, 0, NULL, false, ARTICLE_KINDS, "device or service certificate");
        expect(leader, SIGN_ROLE_ISSUE, NULL, 0, NULL, false, ARTICLE_ORG_TOKEN,
               "needs the organisation's certificate (held by the clerk), but Nguyễn Văn An is a personal");
        expect(leader, SIGN_ROLE_COPY, NULL, 0, NULL, false, ARTICLE_ORG_TOKEN,
               "organisation's certificate");
        expect(clerk, SIGN_ROLE_APPENDIX, NULL, 0, NULL, false, ARTICLE_ORG_TOKEN,
               "organisation's certificate");

        /* Copies and attachments need no leader's signature. */
        expect(seal, SIGN_ROLE_COPY, NULL, 0, NULL, true, ARTICLE_COPY, "certifies its own copy");
        expect(seal, SIGN_ROLE_APPENDIX, NULL, 0, NULL, true, ARTICLE_COPY, "signs an attachment");
}

static void test_unknown_kind(void **state) {
        Policy *saved = policy;
        _cleanup_(signer_freep) Signer *device = NULL;
        /* Without a [kind] rule for device certificates, the device certificate's kind is unknown. */
        policy = load_policy("");
        device = signer_new("device");
        expect(device, SIGN_ROLE_PERSONAL, NULL, 0, NULL, false, ARTICLE_KINDS, "cannot be determined");
        policy_free(policy);
        policy = saved;
}

/* Each kind of [kind] criterion, with a policy holding only the rules given. */
static void test_kind_criteria(void **state) {
        _cleanup_(X509_freep) X509 *seal = cert("seal");
        _cleanup_free_ char *by_fp = NULL, *both = NULL;
        char fp[65];

        /* By fingerprint, with colons and upper case as a person would paste it. */
        assert_int_equal(cert_fingerprint_sha256(seal, fp), 0);
        assert_true(
                asprintf(
                        &by_fp, "[kind seal]\nkind = organization\nfingerprint = %c%c:%s\n",
                        fp[0] - ('a' <= fp[0] ? 'a' - 'A' : 0), fp[1], fp + 2) > 0);
        /* Two rules of different kinds match the seal: its kind is unknown. */
        assert_true(
                asprintf(
                        &both,
                        "%s[kind org]\nkind = organization\nsubject = O=UBND*\n"
                        "[kind people]\nkind = personal\nissuer = O=Ban Cơ yếu*\n",
                        by_fp) > 0);
        const char
                *by_issuer = "[kind other]\nkind = device\nissuer = CN=CA lạ*\n",
                *by_eku = "[kind mail]\nkind = personal\neku = emailProtection\n",
                /* The same organisation's certificates without a title (the seal), not by the other root. */
                        *by_not =
                                "[kind org]\nkind = organization\nsubject = O=UBND*\nnot-subject = title=*\n"
                                "not-issuer = CN=CA lạ*\n";
        const struct {
                const char *rules, *name;
                CertKind kind;
        } cases[] = {
                { by_issuer, "unknown", CERT_KIND_DEVICE },
                { by_issuer, "leader", CERT_KIND_UNKNOWN },
                /* The clerk's certificate has emailProtection, the leader's no EKU. */
                { by_eku, "clerk", CERT_KIND_PERSONAL },
                { by_eku, "leader", CERT_KIND_UNKNOWN },
                { by_fp, "seal", CERT_KIND_ORGANIZATION },
                { by_fp, "expiring", CERT_KIND_UNKNOWN },
                { by_not, "seal", CERT_KIND_ORGANIZATION },
                { by_not, "leader", CERT_KIND_UNKNOWN },
                { by_not, "unknown", CERT_KIND_UNKNOWN },
                { both, "seal", CERT_KIND_UNKNOWN },
                { both, "leader", CERT_KIND_UNKNOWN },
                { both, "unknown", CERT_KIND_ORGANIZATION },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = NULL;
                assert_true(
                        asprintf(
                                &text,
                                "[trust]\nroot = %s/root.pem\n[revocation]\nmode = off\n"
                                "allow-insecure-no-revocation-for-tests = yes\n%s",
                                pki, cases[i].rules) > 0);
                _cleanup_(policy_freep) Policy *p = policy_from_text("kinds", text);
                _cleanup_(X509_freep) X509 *x = cert(cases[i].name);
                CertKind k = policy_classify_certificate(p, x, NULL);
                if (k != cases[i].kind)
                        fail_msg(
                                "case %zu: %s is %s, want %s", i, cases[i].name, cert_kind_to_string(k),
                                cert_kind_to_string(cases[i].kind));
        }
}

/* The shipped example, with the fixture PKI's root and issuer in place of the Government CA's: every
 * fixture certificate gets the kind it has, none is ambiguous. */
static void test_example_policy(void **state) {
        const char *src = test_getenv_or_skip("KYSO_SOURCE_ROOT");
        _cleanup_free_ char *path = NULL;
        size_t size = 0;

        assert_true(asprintf(&path, "%s/policy/policy.conf.example", src) > 0);
        assert_int_equal(
                run("sed -e 's|^root = /etc/kyso/roots$|root = %s/root.pem|' "
                    "-e 's|^intermediate = /etc/kyso/intermediates$|intermediate = %s/ca.pem|' "
                    "-e 's|O=Ban Cơ yếu Chính phủ$|O=Ban Cơ yếu Chính phủ (test)|' '%s' >'%s/example.conf'",
                    pki, pki, path, tmpdir),
                0);
        _cleanup_free_ char *ex = NULL;
        char expath[PATH_MAX + 32];
        snprintf(expath, sizeof expath, "%s/example.conf", tmpdir);
        assert_int_equal(read_full_file(expath, 1024 * 1024, &ex, &size), 0);
        /* The substitutions took: the example still names the Government CA by its O. */
        assert_non_null(strstr(ex, "O=Ban Cơ yếu Chính phủ (test)"));
        assert_non_null(strstr(ex, pki));

        _cleanup_(policy_freep) Policy *p = policy_from_text("example", ex);
        const struct {
                const char *name;
                CertKind kind;
        } want[] = {
                { "leader", CERT_KIND_PERSONAL },     { "leader2", CERT_KIND_PERSONAL },
                { "clerk", CERT_KIND_PERSONAL },      { "expired", CERT_KIND_PERSONAL },
                { "seal", CERT_KIND_ORGANIZATION },   { "expiring", CERT_KIND_ORGANIZATION },
                { "notyet", CERT_KIND_ORGANIZATION }, { "device", CERT_KIND_DEVICE },
                { "unknown", CERT_KIND_UNKNOWN }, /* another CA: no rule of the example matches */
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                _cleanup_(X509_freep) X509 *x = cert(want[i].name);
                CertKind k = policy_classify_certificate(p, x, NULL);
                if (k != want[i].kind)
                        fail_msg(
                                "example policy: %s is %s, want %s", want[i].name, cert_kind_to_string(k),
                                cert_kind_to_string(want[i].kind));
        }
        /* And the seal rule of the example accepts the leaders for the seal. */
        _cleanup_(X509_freep) X509 *seal = cert("seal"), *leader = cert("leader"), *clerk = cert("clerk");
        assert_true(policy_is_competent_leader(p, seal, leader, NULL));
        assert_false(policy_is_competent_leader(p, seal, clerk, NULL));
}

static void test_validity(void **state) {
        _cleanup_(signer_freep) Signer *expired = signer_new("expired"), *weak = signer_new("weak"),
                                       *unknown = signer_new("unknown"), *notyet = signer_new("notyet"),
                                       *expiring = signer_new("expiring");
        expect(expired, SIGN_ROLE_APPROVE, NULL, 0, NULL, false, ARTICLE_VALIDITY,
               "cannot sign now: The certificate of Phạm Văn Hết Hạn expired on");
        expect(weak, SIGN_ROLE_APPROVE, NULL, 0, NULL, false, ARTICLE_VALIDITY, "too weak (1024 bits");
        expect(unknown, SIGN_ROLE_APPROVE, NULL, 0, NULL, false, ARTICLE_VALIDITY,
               "does not lead to a trusted root");
        expect(notyet, SIGN_ROLE_COPY, NULL, 0, NULL, false, ARTICLE_VALIDITY, "is not valid yet");
        /* Expiring is still usable. */
        assert_int_equal(expiring->status.status, CERT_STATUS_EXPIRING);
        expect(expiring, SIGN_ROLE_COPY, NULL, 0, NULL, true, ARTICLE_COPY, "certifies its own copy");

        /* A revoked status from the validator (as OCSP would give it) is refused with its reason. */
        _cleanup_(signer_freep) Signer *seal = signer_new("seal");
        free(seal->status.reason);
        seal->status.reason = strdup("The certificate of UBND phường Uông Bí was revoked on 2026-01-01");
        seal->status.status = CERT_STATUS_REVOKED;
        expect(seal, SIGN_ROLE_COPY, NULL, 0, NULL, false, ARTICLE_VALIDITY, "was revoked on 2026-01-01");
        seal->status.status = CERT_STATUS_UNKNOWN_REVOCATION;
        expect(seal, SIGN_ROLE_COPY, NULL, 0, NULL, false, ARTICLE_VALIDITY, "cannot sign now");
}

static void test_classified(void **state) {
        _cleanup_(signer_freep) Signer *leader = signer_new("leader"), *seal = signer_new("seal");
        ExistingSignature ok = good_sig(leader);
        const char *marks[] = { "Mật", "Tối mật", "TUYỆT MẬT", "toi mat", "Tuyet mat" };
        for (size_t i = 0; i < ELEMENTSOF(marks); i++) {
                expect(leader, SIGN_ROLE_APPROVE, NULL, 0, marks[i], false, ARTICLE_CLASSIFIED,
                       "classified documents");
                expect(leader, SIGN_ROLE_PERSONAL, NULL, 0, marks[i], false, ARTICLE_CLASSIFIED, marks[i]);
                expect(seal, SIGN_ROLE_ISSUE, &ok, 1, marks[i], false, ARTICLE_CLASSIFIED, "classified");
                expect(seal, SIGN_ROLE_COPY, NULL, 0, marks[i], false, ARTICLE_CLASSIFIED, "classified");
                expect(seal, SIGN_ROLE_APPENDIX, NULL, 0, marks[i], false, ARTICLE_CLASSIFIED, "classified");
        }
        expect(seal, SIGN_ROLE_ISSUE, &ok, 1, "Khẩn", true, ARTICLE_SEAL, "competent person");
}

static void test_seal_rule(void **state) {
        _cleanup_(signer_freep) Signer *leader = signer_new("leader"), *leader2 = signer_new("leader2"),
                                       *seal = signer_new("seal"), *clerk = signer_new("clerk"),
                                       *expired = signer_new("expired"), *expiring = signer_new("expiring");

        expect(seal, SIGN_ROLE_ISSUE, NULL, 0, NULL, false, ARTICLE_SEAL,
               "this document carries no signature");

        ExistingSignature s = good_sig(leader);
        RuleRequest req = { .role = SIGN_ROLE_ISSUE,
                            .signer = seal->cert,
                            .signer_status = &seal->status,
                            .existing = &s,
                            .n_existing = 1 };
        RuleDecision d;
        assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
        assert_true(d.allow);
        assert_int_equal(d.leader_signature, 0);
        assert_non_null(strstr(d.reason, "Nguyễn Văn An signed as a competent person"));
        rule_decision_done(&d);

        /* One signature before the seal's: by whom, and what is wrong with it. */
        const struct {
                Signer *by;
                bool partial; /* does not cover the whole document */
                bool unbound; /* nothing in its signed attributes names the certificate: it could be
                               * re-presented with another certificate for the same key */
                bool broken;
                bool allow;
                const char *reason;
        } one[] = {
                { leader2, false, false, false, true, "Trần Thị Bình signed as a competent" },
                { clerk, false, false, false, false,
                  "Lê Thị Cúc is not a competent person of this organisation" },
                { leader, true, false, false, false,
                  "does not cover the whole document (content was added after it)" },
                { leader, false, true, false, false,
                  "the signature of Nguyễn Văn An does not bind its certificate" },
                { leader, false, false, true, false, "the signature of Nguyễn Văn An is broken" },
        };
        for (size_t i = 0; i < ELEMENTSOF(one); i++) {
                ExistingSignature e = good_sig(one[i].by);
                e.covers_whole_document = !one[i].partial;
                e.signing_cert_bound = !one[i].unbound;
                e.integrity_ok = !one[i].broken;
                expect(seal, SIGN_ROLE_ISSUE, &e, 1, NULL, one[i].allow, ARTICLE_SEAL, one[i].reason);
        }

        /* The expired leader certificate (its title is Chủ tịch) at the time it signed: now, so not valid.
         */
        ExistingSignature late = good_sig(expired);
        expect(seal, SIGN_ROLE_ISSUE, &late, 1, NULL, false, ARTICLE_SEAL,
               "the certificate of Phạm Văn Hết Hạn was not valid when it signed: The certificate of Phạm Văn "
               "Hết Hạn expired on");
        /* ... and 100 days ago it was valid: a signature made then counts. */
        CertValidation then;
        assert_int_equal(
                cert_validate(
                        policy, expired->cert, NULL, time(NULL) - 100 * 86400,
                        CERT_VALIDATE_DOCUMENT_SIGNING, &then),
                0);
        assert_int_equal(then.status, CERT_STATUS_VALID);
        late.status_at_signing = &then;
        expect(seal, SIGN_ROLE_ISSUE, &late, 1, NULL, true, ARTICLE_SEAL,
               "Phạm Văn Hết Hạn signed as a competent");
        cert_validation_done(&then);

        ExistingSignature unchecked = good_sig(leader);
        unchecked.status_at_signing = NULL;
        expect(seal, SIGN_ROLE_ISSUE, &unchecked, 1, NULL, false, ARTICLE_SEAL, "could not be checked");

        ExistingSignature nosigner = { .integrity_ok = true,
                                       .signing_cert_bound = true,
                                       .covers_whole_document = true };
        expect(seal, SIGN_ROLE_ISSUE, &nosigner, 1, NULL, false, ARTICLE_SEAL,
               "signer certificate is missing");

        ExistingSignature byseal = good_sig(seal);
        expect(seal, SIGN_ROLE_ISSUE, &byseal, 1, NULL, false, ARTICLE_SEAL, "not a personal certificate");

        /* Several signatures: the reasons of all are given; one good one is enough. */
        ExistingSignature several[] = { good_sig(clerk), good_sig(leader), s };
        several[1].covers_whole_document = false;
        assert_true(policy_signature_counts_as_leader(policy, seal->cert, &several[2], NULL));
        req.existing = several;
        req.n_existing = 3;
        assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
        assert_true(d.allow);
        assert_int_equal(d.leader_signature, 2);
        rule_decision_done(&d);
        expect(seal, SIGN_ROLE_ISSUE, several, 2, NULL, false, ARTICLE_SEAL,
               "none of its 2 signature(s) counts: Lê Thị Cúc is not a competent person");

        /* The seal rule is per seal: another seal certificate (its CN differs) has no competent persons. */
        assert_true(policy_is_competent_leader(policy, seal->cert, leader->cert, NULL));
        assert_false(policy_is_competent_leader(policy, expiring->cert, leader->cert, NULL));
        assert_false(policy_is_competent_leader(policy, seal->cert, clerk->cert, NULL));
        expect(expiring, SIGN_ROLE_ISSUE, &s, 1, NULL, false, ARTICLE_SEAL, "not a competent person");
}

/* Takes key and its value out of params (as a record read back without them). */
static void strv_remove_pair(char **params, const char *key) {
        size_t n = 0;
        for (size_t i = 0; params && params[i] && params[i + 1]; i += 2) {
                if (streq(params[i], key)) {
                        free(params[i]);
                        free(params[i + 1]);
                        continue;
                }
                params[n++] = params[i];
                params[n++] = params[i + 1];
        }
        if (params)
                params[n] = NULL;
}

static const char *param_of(char **params, const char *key) {
        for (size_t i = 0; params && params[i] && params[i + 1]; i += 2)
                if (streq(params[i], key))
                        return params[i + 1];
        return NULL;
}

/* Each decision carries a stable code and its parameters; its text is the rendering of both, and a record
 * read back without the request's own detail renders without it. */
static void test_reason_codes(void **state) {
        _cleanup_(signer_freep) Signer *seal = signer_new("seal"), *expired = signer_new("expired"),
                                       *leader = signer_new("leader");
        RuleRequest req = { .role = SIGN_ROLE_APPROVE,
                            .signer = seal->cert,
                            .signer_status = &seal->status };
        RuleDecision d;
        char *again = NULL;

        assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
        assert_string_equal(d.code, REASON_ROLE_NEEDS_PERSONAL);
        assert_string_equal(param_of(d.params, "certificate"), "UBND phường Uông Bí");
        assert_string_equal(param_of(d.params, "role"), "approve");
        assert_string_equal(param_of(d.params, "kind"), "organization");
        assert_int_equal(policy_reason_render(d.code, (const char *const *) d.params, &again), 0);
        assert_string_equal(again, d.reason);
        assert_non_null(policy_reason_label(d.code));
        again = mfree(again);
        rule_decision_done(&d);

        req = (RuleRequest){ .role = SIGN_ROLE_APPROVE,
                             .signer = expired->cert,
                             .signer_status = &expired->status };
        assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
        assert_string_equal(d.code, REASON_CERTIFICATE_UNUSABLE);
        assert_string_equal(param_of(d.params, "status"), "expired");
        assert_non_null(param_of(d.params, "not_after"));
        const char *no_detail[] = { "certificate", param_of(d.params, "certificate"), "status", "expired",
                                    "not_after",   param_of(d.params, "not_after"),   NULL };
        assert_int_equal(policy_reason_render(d.code, no_detail, &again), 0);
        assert_non_null(strstr(again, "Phạm Văn Hết Hạn cannot sign now: it expired on 20"));
        again = mfree(again);
        rule_decision_done(&d);

        req = (RuleRequest){ .role = SIGN_ROLE_ISSUE, .signer = seal->cert, .signer_status = &seal->status };
        assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
        assert_string_equal(d.code, REASON_SEAL_NO_SIGNATURE);
        rule_decision_done(&d);
        req = (RuleRequest){ .role = SIGN_ROLE_APPROVE,
                             .signer = leader->cert,
                             .signer_status = &leader->status };
        assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
        assert_true(d.allow);
        assert_string_equal(d.code, REASON_ALLOWED_PERSONAL);
        rule_decision_done(&d);

        assert_int_equal(policy_reason_render("no-such-code", NULL, &again), -EOPNOTSUPP);
        assert_null(policy_reason_label("no-such-code"));
}

/* A certificate check's verdict has a code and parameters that render its text again, and a refusal
 * certificate-unusable carries them (detail_code, detail_KEY), so a record read back without its own text
 * (detail) still names the check. */
static void test_cert_check_codes(void **state) {
        static const struct {
                const char *name, *code, *param, *value;
        } cases[] = {
                { "expired", REASON_CERT_EXPIRED, "certificate", "Phạm Văn Hết Hạn" },
                { "notyet", REASON_CERT_NOT_YET_VALID, "certificate",
                  "UBND phường Uông Bí (chưa hiệu lực)" },
                { "unknown", REASON_CERT_UNTRUSTED, "why", "unable to get local issuer certificate" },
                { "device", REASON_CERT_KEY_USAGE, "missing", "nonRepudiation" },
                { "weak", REASON_CERT_KEY_WEAK, "bits", "1024" },
                { "ed25519", REASON_CERT_KEY_TYPE, "ca", "no" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(signer_freep) Signer *s = signer_new(cases[i].name);
                _cleanup_free_ char *again = NULL, *without = NULL, *want = NULL;
                RuleDecision d;

                print_message("%s\n", cases[i].name);
                assert_string_equal(s->status.reason_code, cases[i].code);
                assert_string_equal(param_of(s->status.reason_params, cases[i].param), cases[i].value);
                assert_int_equal(
                        policy_reason_render(
                                s->status.reason_code, (const char *const *) s->status.reason_params,
                                &again),
                        0);
                assert_string_equal(again, s->status.reason);
                assert_non_null(policy_reason_label(cases[i].code));

                RuleRequest req = { .role = streq(cases[i].name, "device")   ? SIGN_ROLE_ISSUE
                                            : streq(cases[i].name, "notyet") ? SIGN_ROLE_COPY
                                                                             : SIGN_ROLE_APPROVE,
                                    .signer = s->cert,
                                    .signer_status = &s->status };
                assert_int_equal(policy_rules_decide(policy, &req, &d), 0);
                if (streq(cases[i].name, "device")) {
                        /* A device certificate is refused for its kind before its key usage. */
                        rule_decision_done(&d);
                        continue;
                }
                assert_false(d.allow);
                assert_string_equal(d.code, REASON_CERTIFICATE_UNUSABLE);
                assert_string_equal(param_of(d.params, "detail_code"), cases[i].code);
                /* The record as read in another language: without detail. */
                strv_remove_pair(d.params, "detail");
                assert_int_equal(policy_reason_render(d.code, (const char *const *) d.params, &without), 0);
                assert_true(asprintf(&want, "The certificate cannot sign now: %s", s->status.reason) > 0);
                assert_string_equal(without, want);
                assert_string_equal(without, d.reason);
                rule_decision_done(&d);
        }
}

/* Each document code renders, with its parameters, and has a label. */
static void test_document_codes(void **state) {
        const char *codes[] = {
                REASON_DOCUMENT_EMPTY,           REASON_DOCUMENT_TOO_LARGE, REASON_DOCUMENT_STALLED,
                REASON_DOCUMENT_UNREADABLE,      REASON_PDF_ENCRYPTED,      REASON_PDF_DAMAGED,
                REASON_PDF_CERTIFIED_NO_CHANGES, REASON_PDF_UNSUPPORTED
        };
        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                _cleanup_free_ char *text = NULL;
                _cleanup_strv_free_ char **params = NULL;
                assert_true(policy_reason_is_document(codes[i]));
                assert_int_equal(
                        policy_reason_build(
                                &params, &text, codes[i], "limit", "2 GiB", "seconds", "30", NULL),
                        0);
                assert_non_null(policy_reason_label(codes[i]));
                assert_non_null(text);
        }
        _cleanup_free_ char *text = NULL;
        const char *large[] = { "limit", "2 GiB", NULL }, *stalled[] = { "seconds", "30", NULL };
        assert_int_equal(policy_reason_render(REASON_DOCUMENT_TOO_LARGE, large, &text), 0);
        assert_non_null(strstr(text, "larger than 2 GiB"));
        text = mfree(text);
        assert_int_equal(policy_reason_render(REASON_DOCUMENT_STALLED, stalled, &text), 0);
        assert_non_null(strstr(text, "nothing more came for 30 s"));
        assert_false(policy_reason_is_document(REASON_CERTIFICATE_UNUSABLE));
}

/* A certificate that names no revocation server the policy allows: one English sentence, which a reader of a
 * verification (not only a signer) can act on. */
static void test_no_revocation_server_text(void **state) {
        static const struct {
                const char *mode, *text;
        } cases[] = {
                { "ocsp", "names no OCSP server that the policy allows" },
                { "crl", "names no CRL distribution point that the policy allows" },
                { "ocsp-crl", "names no OCSP server or CRL distribution point that the policy allows" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = NULL;
                const char *params[] = { "certificate", "Nguyễn Văn A", "mode", cases[i].mode, NULL };
                assert_int_equal(policy_reason_render(REASON_REVOCATION_NO_SERVER, params, &text), 0);
                if (!strstr(text, cases[i].text) || strstr(text, "Signing is refused"))
                        fail_msg("mode %s: '%s'", cases[i].mode, text);
        }
}

static void test_bad_requests(void **state) {
        _cleanup_(signer_freep) Signer *leader = signer_new("leader");
        RuleDecision d;
        RuleRequest req = { .role = 42, .signer = leader->cert, .signer_status = &leader->status };
        assert_int_equal(policy_rules_decide(policy, &req, &d), -EINVAL);
        req.role = SIGN_ROLE_APPROVE;
        req.signer = NULL;
        assert_int_equal(policy_rules_decide(policy, &req, &d), -EINVAL);
        req.signer = leader->cert;
        req.n_existing = 1;
        assert_int_equal(policy_rules_decide(policy, &req, &d), -EINVAL);
        assert_int_equal(sign_role_from_string("issue"), SIGN_ROLE_ISSUE);
        assert_int_equal(sign_role_from_string("seal"), _SIGN_ROLE_INVALID);
}

KYSO_TEST_MAIN_GROUP(
        setup, teardown,
        {
                cmocka_unit_test(test_roles_and_kinds),
                cmocka_unit_test(test_unknown_kind),
                cmocka_unit_test(test_kind_criteria),
                cmocka_unit_test(test_example_policy),
                cmocka_unit_test(test_validity),
                cmocka_unit_test(test_classified),
                cmocka_unit_test(test_seal_rule),
                cmocka_unit_test(test_bad_requests),
                cmocka_unit_test(test_reason_codes),
                cmocka_unit_test(test_cert_check_codes),
                cmocka_unit_test(test_document_codes),
                cmocka_unit_test(test_no_revocation_server_text),
                cmocka_unit_test(test_name_without_cn),
        });
