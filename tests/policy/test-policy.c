/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy file parser: defaults, every kind of error with file:line, drop-in merge order, owner checks,
 * classification words, URL rewrites. */
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "fileio.h"
#include "kyso-test.h"
#include "openssl-util.h"
#include "policy/policy.h"

static char tmpdir[] = "/tmp/kyso-test-policy-XXXXXX";
static char root_path[PATH_MAX], leaf_path[PATH_MAX], conf_path[PATH_MAX], dropin_dir[PATH_MAX];

/* A self-signed certificate made here, so the parser tests need no fixture script. */
static X509 *make_cert(bool ca, const char *cn, EVP_PKEY **ret_key) {
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509 *x = X509_new();
        assert_non_null(key);
        assert_non_null(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600 * 24 * 365);
        X509_NAME *n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0);
        X509_set_issuer_name(x, n);
        X509_set_pubkey(x, key);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(
                NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        assert_true(X509_sign(x, key, EVP_sha256()) > 0);
        if (ret_key)
                *ret_key = key;
        else
                EVP_PKEY_free(key);
        return x;
}

static void write_pem(const char *path, X509 *x) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(PEM_write_X509(f, x));
        fclose(f);
}

static void write_text(const char *path, const char *text) {
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(tmpdir));
        snprintf(root_path, sizeof root_path, "%s/root.pem", tmpdir);
        snprintf(leaf_path, sizeof leaf_path, "%s/leaf.pem", tmpdir);
        snprintf(conf_path, sizeof conf_path, "%s/policy.conf", tmpdir);
        snprintf(dropin_dir, sizeof dropin_dir, "%s/policy.d", tmpdir);
        X509 *root = make_cert(true, "Test Root", NULL), *leaf = make_cert(false, "Leaf", NULL);
        write_pem(root_path, root);
        write_pem(leaf_path, leaf);
        X509_free(root);
        X509_free(leaf);
        assert_int_equal(mkdir(dropin_dir, 0755), 0);
        return 0;
}

static int teardown(void **state) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static void clear_dropins(void) {
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "rm -f '%s'/*.conf", dropin_dir);
        assert_int_equal(system(cmd), 0);
}

/* Writes the main file (with a trust section prepended) and loads it. */
static int load(const char *body, Policy **ret, char ***errors) {
        _cleanup_free_ char *text = NULL;
        assert_true(asprintf(&text, "[trust]\nroot = %s\n%s", root_path, body) > 0);
        write_text(conf_path, text);
        return policy_load(conf_path, POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, ret, errors);
}

/* load() that must succeed: the policy. */
static Policy *load_ok(const char *body) {
        _cleanup_strv_free_ char **errors = NULL;
        Policy *p = NULL;
        assert_int_equal(load(body, &p, &errors), 0);
        return p;
}

static void expect_error(const char *body, unsigned line, const char *needle) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *prefix = NULL;
        assert_int_equal(load(body, &p, &errors), -EINVAL);
        assert_null(p);
        assert_non_null(errors);
        if (line > 0)
                assert_true(asprintf(&prefix, "%s:%u: ", conf_path, line) > 0);
        else
                assert_true(asprintf(&prefix, "%s", conf_path) > 0);
        bool found = false;
        STRV_FOREACH (e, errors) {
                if (startswith(*e, prefix) && strstr(*e, needle))
                        found = true;
                else
                        print_message("error: %s\n", *e);
        }
        if (!found)
                fail_msg("no error '%s' at %s", needle, prefix);
}

static void test_defaults(void **state) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        clear_dropins();
        assert_int_equal(load("", &p, &errors), 0);
        assert_null(errors);
        assert_int_equal(sk_X509_num(p->trusted_roots), 1);
        assert_int_equal(p->revocation_mode, REVOCATION_OCSP_THEN_CRL);
        assert_true(p->ocsp_require_nonce);
        assert_int_equal(p->min_rsa_bits, 2048);
        assert_int_equal(p->expiry_warning_days, 60);
        assert_int_equal(p->pin_cache_max_sec, 0); /* no PIN caching unless the administrator allows it */
        assert_int_equal(p->rsa_padding, RSA_PADDING_PKCS1);
        assert_int_equal(strv_length(p->hashes), 3);
        assert_int_equal(strv_length(p->ec_curves), 3);
        assert_int_equal(strv_length(p->classification_words), 6);
        assert_null(p->proxy);
}

static void test_full(void **state) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        clear_dropins();
        assert_int_equal(
                load("[revocation]\n"
                     "mode = crl\n"
                     "ocsp-timeout = 5s\n"
                     "crl-timeout = 1min\n"
                     "ocsp-max-age = 2d\n"
                     "cache = /var/cache/kyso-test\n"
                     "proxy = http://proxy.example:3128\n"
                     "rewrite = http://ocsp.ca.ptc http://ocsp.ca.gov.vn\n"
                     "[algorithms]\n"
                     "min-rsa-bits = 3072\n"
                     "ec-curves = P-384, secp521r1\n"
                     "hashes = sha384 sha512\n"
                     "rsa-padding = pss\n"
                     "[timestamp]\n"
                     "url = http://tsa.ca.gov.vn\n"
                     "[expiry]\n"
                     "warning-days = 90\n"
                     "[pin]\n"
                     "max-cache = 10min\n"
                     "[kind personal]\n"
                     "kind = personal\n"
                     "policy-oid = 1.3.6.1.4.1.99999.1.1\n"
                     "eku = emailProtection\n"
                     "[kind \"the seal\"]\n"
                     "kind = organisation\n"
                     "subject = O=UBND *\n"
                     "fingerprint = AB:CDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\n"
                     "[seal ward]\n"
                     "seal-organization = UBND phường Uông Bí\n"
                     "leader-subject = title=Chủ tịch\n",
                     &p, &errors),
                0);
        assert_int_equal(p->revocation_mode, REVOCATION_CRL);
        assert_int_equal(p->ocsp_timeout_sec, 5);
        assert_int_equal(p->crl_timeout_sec, 60);
        assert_int_equal(p->ocsp_max_age_sec, 2 * 86400);
        assert_string_equal(p->cache_dir, "/var/cache/kyso-test");
        assert_string_equal(p->proxy, "http://proxy.example:3128");
        assert_int_equal(p->min_rsa_bits, 3072);
        assert_string_equal(p->ec_curves[0], "P-384");
        assert_string_equal(p->ec_curves[1], "P-521");
        assert_null(p->ec_curves[2]);
        assert_string_equal(p->hashes[0], "sha384");
        assert_int_equal(p->rsa_padding, RSA_PADDING_PSS);
        assert_string_equal(p->tsa_url, "http://tsa.ca.gov.vn");
        assert_int_equal(p->expiry_warning_days, 90);
        assert_int_equal(p->pin_cache_max_sec, 600);
        assert_int_equal(p->n_kind_rules, 2);
        assert_string_equal(p->kind_rules[1].name, "the seal");
        assert_int_equal(p->kind_rules[1].kind, CERT_KIND_ORGANIZATION);
        assert_string_equal(p->kind_rules[0].match.ekus[0], "1.3.6.1.5.5.7.3.4");
        assert_string_equal(
                p->kind_rules[1].match.fingerprints[0],
                "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
        assert_int_equal(p->n_seal_rules, 1);
        assert_int_equal(p->seal_rules[0].leader.subject[0].nid, NID_title);

        _cleanup_free_ char *u1 = policy_rewrite_url(p, "http://ocsp.ca.ptc/ocsp"),
                            *u2 = policy_rewrite_url(p, "http://ocsp.ca.ptc.evil/"),
                            *u3 = policy_rewrite_url(p, "http://ocsp.ca.ptc");
        assert_string_equal(u1, "http://ocsp.ca.gov.vn/ocsp");
        assert_string_equal(u2, "http://ocsp.ca.ptc.evil/");
        assert_string_equal(u3, "http://ocsp.ca.gov.vn");
}

static void test_errors(void **state) {
        clear_dropins();
        /* Line numbers count the two [trust] lines load() puts first. */
        expect_error("[revocation]\nbogus = 1\n", 4, "unknown key 'bogus' in section [revocation]");
        expect_error("[nonsense]\n", 3, "unknown section [nonsense]");
        {
                _cleanup_(policy_freep) Policy *np = policy_new_defaults();
                _cleanup_strv_free_ char **errs = NULL;
                assert_int_equal(policy_parse_buffer(np, "buf", "\nmode = crl\n", 12, 0, &errs), 1);
                assert_string_equal(
                        errs[0], "buf:2: 'mode' outside of a section; put it under a [section] header");
        }
        expect_error(
                "[revocation]\nocsp-require-nonce = maybe\n", 4,
                "bad value 'maybe' for ocsp-require-nonce: expected yes or no");
        expect_error("[revocation]\nmode = sometimes\n", 4, "bad value 'sometimes' for mode");
        expect_error("[revocation]\nocsp-timeout = 0\n", 4, "bad value '0' for ocsp-timeout");
        expect_error("[revocation]\nocsp-timeout = -5\n", 4, "bad value '-5' for ocsp-timeout");
        expect_error(
                "[revocation]\nocsp-max-age = 0\n", 4, "bad value '0' for ocsp-max-age: 0 would refuse");
        expect_error("[revocation]\ncache = relative/path\n", 4, "expected an absolute path");
        expect_error("[revocation]\nrewrite = http://a\n", 4, "expected two URLs");
        expect_error("[algorithms]\nmin-rsa-bits = 1024\n", 4, "at least 2048 bits");
        expect_error("[algorithms]\nhashes = sha256 sha1\n", 4, "allowed hashes are sha256");
        expect_error("[algorithms]\nec-curves = P-192\n", 4, "allowed curves are");
        expect_error("[algorithms]\nrsa-padding = none\n", 4, "expected pkcs1 or pss");
        expect_error("[expiry]\nwarning-days = soon\n", 4, "expected a number of days");
        expect_error("[expiry]\nwarning-days = 30\nwarning-days = 40\n", 5, "is set twice in this file");
        expect_error("[pin]\nmax-cache = forever\n", 4, "bad value 'forever' for max-cache");
        expect_error("[pin]\nmax-cache = 2d\n", 4, "from 0 (never) to 24h");
        expect_error("[pin]\ncache = 5min\n", 4, "unknown key 'cache' in section [pin]");
        expect_error("[pin]\nmax-cache = 1min\nmax-cache = 2min\n", 5, "is set twice in this file");
        expect_error("[kind x]\nkind = robot\n", 4, "expected personal, organization or device");
        expect_error("[kind x]\nkind = personal\nsubject = nonsense\n", 5, "expected ATTRIBUTE=PATTERN");
        expect_error("[kind x]\nkind = personal\nfingerprint = 12ab\n", 5, "64 hex");
        expect_error("[kind x]\nkind = personal\npolicy-oid = not an oid\n", 5, "dotted OID");
        expect_error("[kind\n", 3, "without closing");
        expect_error("[revocation]\njust text\n", 4, "expected KEY = VALUE");
        expect_error("[revocation]\nmode =\n", 4, "has no value");
        expect_error("[timestamp]\nurl = ftp://x\n", 4, "expected an http");

        /* Unreadable roots. */
        expect_error(
                "[trust]\nroot = /nonexistent/kyso-root.pem\n", 4, "cannot read /nonexistent/kyso-root.pem");
        expect_error("[trust]\nroot = relative.pem\n", 4, "is not an absolute path");
        _cleanup_free_ char *empty = NULL, *body = NULL, *notca = NULL;
        assert_true(asprintf(&empty, "%s/empty.pem", tmpdir) > 0);
        write_text(empty, "not a certificate\n");
        assert_true(asprintf(&body, "[trust]\nroot = %s\n", empty) > 0);
        expect_error(body, 4, "holds no certificate");
        assert_true(asprintf(&notca, "[trust]\nroot = %s\n", leaf_path) > 0);
        expect_error(notca, 4, "is not a CA certificate");

        /* Contradictions. */
        expect_error("[revocation]\nmode = off\n", 4, "needs allow-insecure-no-revocation-for-tests = yes");
        expect_error("[revocation]\nallow-insecure-no-revocation-for-tests = yes\n", 4, "contradicts");
        expect_error("[kind x]\nkind = personal\n", 3, "has no criterion");
        /* Negative criteria only narrow: alone they would match nearly every certificate. */
        expect_error("[kind x]\nkind = personal\nnot-subject = title=*\n", 3, "has no criterion");
        expect_error(
                "[kind x]\nkind = personal\nsubject = CN=*\nnot-subject = nonsense\n", 6,
                "bad value 'nonsense' for not-subject: expected ATTRIBUTE=PATTERN");
        expect_error("[kind x]\nkind = personal\nsubject = CN=*\nnot-issuer = =x\n", 6, "for not-issuer");
        expect_error(
                "[seal s]\nseal-not-subject = title=*\nleader-organization = X\n", 3,
                "says nothing about the seal certificate");
        expect_error("[kind x]\nsubject = CN=*\n", 3, "has no 'kind ='");
        expect_error("[seal s]\nseal-organization = X\n", 3, "says nothing about the leaders");
        expect_error("[seal s]\nleader-organization = X\n", 3, "says nothing about the seal certificate");
        expect_error(
                "[kind a]\nkind = personal\nfingerprint = "
                "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n"
                "[kind b]\nkind = device\nfingerprint = "
                "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\n",
                6, "give the same fingerprint");

        /* Off is accepted with the explicit flag. */
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        assert_int_equal(
                load("[revocation]\nmode = off\nallow-insecure-no-revocation-for-tests = yes\n", &p,
                     &errors),
                0);
        assert_int_equal(p->revocation_mode, REVOCATION_OFF);

        /* No trusted root at all. */
        write_text(conf_path, "[expiry]\nwarning-days = 60\n");
        policy_free(p);
        p = NULL;
        assert_int_equal(
                policy_load(conf_path, POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, &p, &errors), -EINVAL);
        assert_non_null(strstr(errors[0], "no trusted root"));
}

/* The values follow parse-util.h, as in kysod.conf: booleans in any case, durations with fractions. */
static void test_shared_grammar(void **state) {
        static const char body[] =
                "[revocation]\nocsp-require-nonce = NO\nocsp-max-age = 1.5h\n"
                "crl-cache-max-age = 90sec\nocsp-timeout = %s\n[pin]\nmax-cache = 0.5min\n";
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *fraction = NULL, *whole = NULL;
        clear_dropins();
        assert_true(asprintf(&fraction, body, "2500ms") > 0);
        assert_int_equal(load(fraction, &p, &errors), -EINVAL);
        assert_int_equal(strv_length(errors), 1); /* the policy counts in whole seconds */
        assert_non_null(strstr(errors[0], "bad value '2500ms' for ocsp-timeout"));
        strv_free(errors);
        errors = NULL;
        assert_true(asprintf(&whole, body, "3000ms") > 0);
        assert_int_equal(load(whole, &p, &errors), 0);
        assert_false(p->ocsp_require_nonce);
        assert_int_equal(p->ocsp_max_age_sec, 5400);
        assert_int_equal(p->crl_cache_max_age_sec, 90);
        assert_int_equal(p->ocsp_timeout_sec, 3);
        assert_int_equal(p->pin_cache_max_sec, 30);
        policy_free(TAKE_PTR(p));
        expect_error("[revocation]\nocsp-max-age = 11000d\n", 4, "bad value '11000d' for ocsp-max-age");
        expect_error("[revocation]\nocsp-max-age = 99999999999999999999999d\n", 4, "for ocsp-max-age");
        expect_error("[expiry]\nwarning-days = 99999999999\n", 4, "expected a number of days");
}

/* [documents] max-size: a size as in kysod.conf's max-document-size, 1M to 1T; unset is 0 (kysod.conf's). */
static void test_max_document_size(void **state) {
        static const struct {
                const char *body;
                uint64_t size;
        } sizes[] = {
                { "", 0 },
                { "[documents]\nmax-size = 64M\n", UINT64_C(64) << 20 },
                { "[documents]\nmax-size = 1GiB\n", UINT64_C(1) << 30 },
        };

        clear_dropins();
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_(policy_freep) Policy *p = load_ok(sizes[i].body);
                assert_int_equal(p->max_document_size, sizes[i].size);
        }
        expect_error("[documents]\nmax-size = 512K\n", 4, "bad value '512K' for max-size");
        expect_error("[documents]\nmax-size = 2T\n", 4, "bad value '2T' for max-size");
        expect_error("[documents]\nmax-size = lots\n", 4, "expected a size from 1M to 1T");
}

/* [signature] place: the organisation's default place of an approval's signature, "last" or a page. */
static void test_signature_place(void **state) {
        _cleanup_(policy_freep) Policy *none = NULL, *last = NULL, *second = NULL;

        clear_dropins();
        none = load_ok("");
        assert_false(none->signature_place.set);
        last = load_ok("[signature]\nplace = last,330.5,120,200,70\n");
        assert_true(last->signature_place.set && last->signature_place.from_end);
        assert_int_equal(last->signature_place.page, 0);
        assert_true(
                last->signature_place.rect[0] == 330.5 && last->signature_place.rect[1] == 120 &&
                last->signature_place.rect[2] == 200 && last->signature_place.rect[3] == 70);
        second = load_ok("[signature]\nplace = 2,10,10,50,50\n");
        assert_true(second->signature_place.set && !second->signature_place.from_end);
        assert_int_equal(second->signature_place.page, 1); /* 0-based */
        expect_error("[signature]\nplace = 0,1,2,3,4\n", 4, "expected PAGE,X,Y,W,H");
        expect_error("[signature]\nplace = 1,1,2,0,4\n", 4, "bad value '1,1,2,0,4' for place");
        expect_error("[signature]\nplace = first,1,2,3,4\n", 4, "expected PAGE,X,Y,W,H");
        expect_error("[signature]\nplace = 1,1,2,3\n", 4, "expected PAGE,X,Y,W,H");
}

/* [report]: who sends the Article 17 report, from where, to whom; addressees in order; text lines only. */
static void test_report_section(void **state) {
        clear_dropins();
        _cleanup_(policy_freep) Policy *p = load_ok("");
        assert_null(p->report_place);
        assert_null(p->report_addressees);
        policy_free(p);
        p = load_ok("[report]\norganization = UBND xã Tân Lập\nplace = Tân Lập\naddressee = UBND huyện A\n"
                    "addressee = Phòng Văn hóa\nsigner-title = CHỦ TỊCH\n");
        assert_string_equal(p->report_organization, "UBND xã Tân Lập");
        assert_string_equal(p->report_place, "Tân Lập");
        assert_string_equal(p->report_signer_title, "CHỦ TỊCH");
        assert_int_equal(strv_length(p->report_addressees), 2);
        assert_string_equal(p->report_addressees[0], "UBND huyện A");
        assert_string_equal(p->report_addressees[1], "Phòng Văn hóa");
        expect_error("[report]\nplace = \xff\xfe\n", 4, "expected one line of text");
}

static void test_dropins(void **state) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *ignored = NULL;
        clear_dropins();
        assert_true(asprintf(&a, "%s/10-a.conf", dropin_dir) > 0);
        assert_true(asprintf(&b, "%s/20-b.conf", dropin_dir) > 0);
        assert_true(asprintf(&ignored, "%s/30-c.conf.disabled", dropin_dir) > 0);
        /* Written in reverse order: the order must come from the names. */
        write_text(
                b, "[expiry]\nwarning-days = 45\n[classification]\nrefuse = Hạn chế\n"
                   "[kind staff]\nsubject = O=Other\n");
        write_text(a, "[expiry]\nwarning-days = 30\n[kind staff]\nkind = personal\nsubject = O=UBND*\n");
        write_text(ignored, "[expiry]\nwarning-days = 1\n");
        assert_int_equal(load("[expiry]\nwarning-days = 60\n", &p, &errors), 0);
        assert_int_equal(p->expiry_warning_days, 45);
        assert_int_equal(strv_length(p->files), 3);
        assert_string_equal(p->files[1], a);
        assert_string_equal(p->files[2], b);
        assert_int_equal(strv_length(p->classification_words), 7);
        assert_true(policy_is_classified(p, "HAN CHE"));
        /* A named section continued in a later file extends its lists. */
        assert_int_equal(p->n_kind_rules, 1);
        assert_int_equal(p->kind_rules[0].match.n_subject, 2);

        /* An error in a drop-in names the drop-in. */
        write_text(b, "[expiry]\nwarning-days = never\n");
        policy_free(p);
        p = NULL;
        assert_int_equal(load("", &p, &errors), -EINVAL);
        _cleanup_free_ char *prefix = NULL;
        assert_true(asprintf(&prefix, "%s:2: ", b) > 0);
        assert_non_null(startswith(errors[0], prefix));
        clear_dropins();
}

static void sha256_file(const char *path, char ret[static 65]) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        unsigned char md[32];
        assert_int_equal(read_full_file(path, 1024 * 1024, &data, &size), 0);
        assert_int_equal(EVP_Digest(data, size, md, NULL, EVP_sha256(), NULL), 1);
        for (size_t i = 0; i < sizeof md; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
}

/* What the agent records about the policy it uses: each file's SHA-256, a digest of them all, and whether
 * it is the system policy. */
static void test_identity(void **state) {
        _cleanup_(policy_freep) Policy *p = NULL, *p2 = NULL, *p3 = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *a = NULL;
        char want[65];

        clear_dropins();
        assert_int_equal(load("[expiry]\nwarning-days = 60\n", &p, &errors), 0);
        assert_int_equal(strv_length(p->file_sha256), 1);
        sha256_file(conf_path, want);
        assert_string_equal(p->file_sha256[0], want);
        assert_int_equal(strlen(p->digest), 64);
        /* Loaded from elsewhere than /etc/kyso/policy.conf, and without the owner check. */
        assert_false(p->system_default);

        /* A drop-in changes the digest and is listed with its hash. */
        assert_true(asprintf(&a, "%s/10-a.conf", dropin_dir) > 0);
        write_text(a, "[expiry]\nwarning-days = 30\n");
        assert_int_equal(load("[expiry]\nwarning-days = 60\n", &p2, &errors), 0);
        assert_int_equal(strv_length(p2->file_sha256), 2);
        assert_string_equal(p2->file_sha256[0], p->file_sha256[0]);
        sha256_file(a, want);
        assert_string_equal(p2->file_sha256[1], want);
        assert_string_not_equal(p2->digest, p->digest);
        /* The same files give the same digest; one changed byte another. */
        clear_dropins();
        assert_int_equal(load("[expiry]\nwarning-days = 60\n", &p3, &errors), 0);
        assert_string_equal(p3->digest, p->digest);
        policy_free(p3);
        p3 = NULL;
        assert_int_equal(load("[expiry]\nwarning-days = 61\n", &p3, &errors), 0);
        assert_string_not_equal(p3->digest, p->digest);
}

static void test_owner_check(void **state) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *text = NULL;

        if (geteuid() != 0) {
                /* As a user, our own files are not root's: the check must refuse them. */
                write_text(conf_path, "");
                assert_int_equal(policy_load(conf_path, 0, &p, &errors), -EINVAL);
                assert_non_null(strstr(errors[0], "not owned by root"));
                return;
        }
        clear_dropins();
        assert_true(asprintf(&text, "[trust]\nroot = %s\n", root_path) > 0);
        write_text(conf_path, text);
        assert_int_equal(chmod(tmpdir, 0755), 0);
        assert_int_equal(chmod(dropin_dir, 0755), 0);
        assert_int_equal(policy_load(conf_path, 0, &p, &errors), 0);
        policy_free(p);
        p = NULL;

        assert_int_equal(chmod(conf_path, 0666), 0);
        assert_int_equal(policy_load(conf_path, 0, &p, &errors), -EINVAL);
        assert_non_null(strstr(errors[0], "writable by users other than root"));
        strv_free(errors);
        errors = NULL;
        assert_int_equal(chmod(conf_path, 0644), 0);

        assert_int_equal(chown(root_path, 65534, 65534), 0);
        assert_int_equal(policy_load(conf_path, 0, &p, &errors), -EINVAL);
        assert_non_null(strstr(errors[0], "not owned by root"));
        strv_free(errors);
        errors = NULL;
        /* The flag for tests skips it. */
        assert_int_equal(policy_load(conf_path, POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, &p, &errors), 0);
        assert_int_equal(chown(root_path, 0, 0), 0);
        policy_free(p);
        p = NULL;

        assert_int_equal(chmod(dropin_dir, 0777), 0);
        assert_int_equal(policy_load(conf_path, 0, &p, &errors), -EINVAL);
        assert_non_null(strstr(errors[0], "policy.d"));
        assert_int_equal(chmod(dropin_dir, 0755), 0);
}

/* A main file that is refused unread (its owner or mode, or not a file) has one problem, said once: the
 * checks of the whole policy ("no trusted root", under the made-up name "policy") would send the
 * administrator after roots that are there. */
static void test_unread_main_file_one_error(void **state) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL, **errors2 = NULL;
        _cleanup_free_ char *text = NULL, *dir = NULL;

        clear_dropins();
        assert_true(asprintf(&text, "[trust]\nroot = %s\n", root_path) > 0);
        write_text(conf_path, text);
        assert_int_equal(chmod(conf_path, 0666), 0);
        assert_int_equal(policy_load(conf_path, 0, &p, &errors), -EINVAL);
        assert_int_equal(chmod(conf_path, 0644), 0);
        if (strv_length(errors) != 1)
                fail_msg("%zu errors, the second: %s", strv_length(errors), errors[1]);

        assert_true(asprintf(&dir, "%s/policy.d", tmpdir) > 0);
        assert_int_equal(policy_load(dir, POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, &p, &errors2), -EINVAL);
        if (strv_length(errors2) != 1)
                fail_msg("%zu errors, the second: %s", strv_length(errors2), errors2[1]);
}

/* Each of yes is a classified marking, none of no is. */
static void expect_classified(
        const Policy *p, const char *const *yes, size_t n_yes, const char *const *no, size_t n_no) {
        for (size_t i = 0; i < n_yes; i++)
                if (!policy_is_classified(p, yes[i]))
                        fail_msg("'%s' should be classified", yes[i]);
        for (size_t i = 0; i < n_no; i++)
                if (policy_is_classified(p, no[i]))
                        fail_msg("'%s' should not be classified", no[i]);
}

static void test_classification(void **state) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        clear_dropins();
        assert_int_equal(load("", &p, &errors), 0);

        const char *yes[] = {
                "Mật",
                "MẬT",
                "mật",
                "Mat",
                "MAT",
                "Tối mật",
                "TỐI MẬT",
                "toi mat",
                "Tuyệt mật",
                "TUYET MAT",
                "Tuyệt  mật",
                "Độ mật: Tối mật",
                "tuyet-mat",
                "(Mật)",
                "Ma\xcc\xa3\xcc\x82t", /* decomposed (NFD): a + dot below + circumflex */
        };
        const char *no[] = {
                "", "Thường", "Khẩn", "Hỏa tốc", "Matxcơva", "Mật123", "Tối", "Tuyệt", "format",
        };
        expect_classified(p, yes, ELEMENTSOF(yes), no, ELEMENTSOF(no));
        assert_false(policy_is_classified(p, NULL));

        _cleanup_free_ char *f = fold_vietnamese("Đường Hồ Chí Minh, ỨNG");
        assert_string_equal(f, "duong ho chi minh, ung");
}

/* Markings copied from a word processor carry its spaces and marks: a non-breaking space (U+00A0) or a
 * zero-width space between the words, a soft hyphen or a word joiner inside one, full-width letters. They
 * must not let a classified document through. */
static void test_classification_unicode(void **state) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        clear_dropins();
        assert_int_equal(load("", &p, &errors), 0);

        const char *yes[] = {
                "Tối\u00a0mật",       /* no-break space */
                "Tuyệt\u202fmật",     /* narrow no-break space */
                "Tối\u2003mật",       /* em space */
                "Tối\u3000mật",       /* ideographic space */
                "Tối\u200bmật",       /* zero-width space */
                "Độ mật:\u00a0Mật",   /* "Độ mật: Mật" as Word writes it */
                "Tối\u2013mật",       /* en dash */
                "M\u00adật",          /* soft hyphen inside the word */
                "Mậ\u2060t",          /* word joiner */
                "\ufeffMật",          /* a byte-order mark in front */
                "\uff2d\uff21\uff34", /* full-width MAT */
                "\uff2dật",           /* full-width M */
        };
        const char *no[] = {
                "Matxc\u01a1va", "Th\u01b0\u1eddng\u00a0Kh\u1ea9n",
                "\uff2d\uff21\uff34\uff38", /* full-width MATX */
        };
        expect_classified(p, yes, ELEMENTSOF(yes), no, ELEMENTSOF(no));
}

/* A policy saved in another encoding (Windows-1258, Latin-1) would match nothing: a classification word
 * never refused, a seal organisation never found. Each such line is an error that says so; a byte-order
 * mark at the start (Notepad) is not one. */
static void test_encoding(void **state) {
        clear_dropins();
        expect_error(
                "[classification]\nrefuse = H\xf2"
                "an ch\xea\n",
                4, "is not UTF-8 text: save the file as UTF-8");
        /* A line with an error of its own says that one, the value escaped for the journal. */
        expect_error("[report]\nplace = U\xf4ng B\xed\n", 4, "bad value 'U\\xf4ng B\\xed' for place");

        _cleanup_(policy_freep) Policy *p = policy_new_defaults();
        _cleanup_strv_free_ char **errs = NULL;
        const char bom[] = "\xef\xbb\xbf# policy\n[expiry]\nwarning-days = 30\n";
        assert_int_equal(policy_parse_buffer(p, "buf", bom, sizeof bom - 1, 0, &errs), 0);
        assert_null(errs);
        assert_int_equal(p->expiry_warning_days, 30);
}

/* The administrator who names a person's certificate as a root reads that person's name, not
 * "Nguy\xE1\xBB\x85n" (X509_NAME_oneline() escapes every byte above 0x7f). */
static void test_not_ca_named_in_utf8(void **state) {
        _cleanup_free_ char *path = NULL, *body = NULL;
        X509 *leaf = make_cert(false, "Nguyễn Văn An", NULL);
        clear_dropins();
        assert_true(asprintf(&path, "%s/vi-leaf.pem", tmpdir) > 0);
        write_pem(path, leaf);
        X509_free(leaf);
        assert_true(asprintf(&body, "[trust]\nroot = %s\n", path) > 0);
        expect_error(body, 4, "certificate Nguyễn Văn An is not a CA certificate");
}

/* Each owner frees once; the policy lives until the last (ASan sees a use after free or a leak otherwise).
 */
static void test_ref(void **state) {
        Policy *p = NULL, *q;
        _cleanup_strv_free_ char **errors = NULL;
        clear_dropins();
        assert_int_equal(load("", &p, &errors), 0);
        q = policy_ref(p);
        assert_ptr_equal(q, p);
        assert_null(policy_ref(NULL));
        assert_null(policy_free(p));
        assert_int_equal(q->min_rsa_bits, 2048);
        assert_int_equal(sk_X509_num(q->trusted_roots), 1);
        assert_null(policy_free(q));
}

KYSO_TEST_MAIN_GROUP(
        setup, teardown,
        {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_full),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_shared_grammar),
                cmocka_unit_test(test_max_document_size),
                cmocka_unit_test(test_report_section),
                cmocka_unit_test(test_dropins),
                cmocka_unit_test(test_owner_check),
                cmocka_unit_test(test_unread_main_file_one_error),
                cmocka_unit_test(test_classification),
                cmocka_unit_test(test_classification_unicode),
                cmocka_unit_test(test_encoding),
                cmocka_unit_test(test_not_ca_named_in_utf8),
                cmocka_unit_test(test_identity),
                cmocka_unit_test(test_ref),
                cmocka_unit_test(test_signature_place),
        });
