/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager on a real sd-event loop, with real helpers, against the fixture SoftHSM tokens and the
 * fault-injecting module (its own SoftHSM with a token "fault"). */
#include "kyso-test.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "fileio.h"
#include "macro.h"
#include "openssl-util.h"
#include "pkcs11/p11-manager.h"
#include "pkcs11/p11-protocol.h"
#include "pkcs11/p11-uri.h"

#define USEC_PER_SEC UINT64_C(1000000)

static char dir[256];
static char softhsm[PATH_MAX]; /* canonical */
static char fault[PATH_MAX];   /* canonical */
static char control[PATH_MAX];
static char fault_log[PATH_MAX]; /* the fault module's C_Login lines */

typedef struct Event {
        P11ManagerEvent event;
        char *module;
        char *label;
        char *reason;
        uint64_t at;
        unsigned failures;
        bool load_failed;
        uint64_t retry_usec;
} Event;

static Event events[512];
static size_t n_events;

static struct {
        bool done;
        int error;
        int code;
        unsigned pin_flags;
        uint8_t sig[P11_SIGNATURE_MAX];
        size_t sig_size;
        bool always_authenticate;
} sign_result;

/* The manager of the running test, freed by the per-test teardown if the test failed half-way, so one
 * failure does not leave helpers behind for the next test to trip over. */
static P11Manager *current;

static uint64_t now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static int run(const char *cmd) {
        int r = system(cmd);
        return r == 0 ? 0 : -1;
}

static void events_clear(void) {
        for (size_t i = 0; i < n_events; i++) {
                free(events[i].module);
                free(events[i].label);
                free(events[i].reason);
        }
        n_events = 0;
}

static void on_event(P11Manager *m, const P11ManagerEventData *ev, void *userdata) {
        assert_true(n_events < ELEMENTSOF(events));
        events[n_events++] = (Event){
                .event = ev->event,
                .module = ev->module_path ? strdup(ev->module_path) : NULL,
                .label = ev->token ? strdup(ev->token->label) : NULL,
                .reason = ev->reason ? strdup(ev->reason) : NULL,
                .at = now(),
                .failures = ev->failures,
                .load_failed = ev->load_failed,
                .retry_usec = ev->retry_usec,
        };
        if (ev->event == P11_EVENT_TOKEN_ADDED || ev->event == P11_EVENT_TOKEN_REMOVED) {
                assert_non_null(ev->token);
                assert_non_null(ev->token->uri);
        }
}

static const Event *find_event(P11ManagerEvent type, const char *label_or_module, size_t from) {
        for (size_t i = from; i < n_events; i++)
                if (events[i].event == type &&
                    (!label_or_module || streq_ptr(events[i].label, label_or_module) ||
                     streq_ptr(events[i].module, label_or_module)))
                        return &events[i];
        return NULL;
}

/* The HELPER_FAILED events of one module from index from on, at most max of them, in order. */
static size_t failures_of(const char *module, size_t from, const Event **ret, size_t max) {
        size_t n = 0;
        for (size_t i = from; i < n_events && n < max; i++)
                if (events[i].event == P11_EVENT_HELPER_FAILED && streq_ptr(events[i].module, module))
                        ret[n++] = &events[i];
        return n;
}

typedef struct WaitFailures {
        const char *module;
        size_t from, n;
} WaitFailures;

static bool have_failures(void *arg) {
        WaitFailures *w = arg;
        const Event *f[64];
        return failures_of(w->module, w->from, f, ELEMENTSOF(f)) >= w->n;
}

static size_t count_events(P11ManagerEvent type) {
        size_t n = 0;
        for (size_t i = 0; i < n_events; i++)
                n += events[i].event == type;
        return n;
}

/* Runs the loop until cond() holds; fails the test after timeout. Returns the time it took. */
static uint64_t run_until(sd_event *e, bool (*cond)(void *), void *arg, uint64_t timeout) {
        uint64_t start = now();
        while (!cond(arg)) {
                if (now() - start > timeout)
                        fail_msg("condition not reached within %.1f s", (double) timeout / USEC_PER_SEC);
                assert_true(sd_event_run(e, 100 * 1000) >= 0);
        }
        return now() - start;
}

static bool have_event(void *arg) {
        const Event *want = arg;
        return find_event(want->event, want->label ?: want->module, want->at) != NULL;
}

static uint64_t
wait_event(sd_event *e, P11ManagerEvent type, const char *label_or_module, size_t from, uint64_t timeout) {
        Event want = { .event = type, .label = (char *) label_or_module, .at = from };
        return run_until(e, have_event, &want, timeout);
}

static bool sign_finished(void *arg) {
        return sign_result.done;
}

static void on_signed(P11Manager *m, const P11SignResult *r, void *userdata) {
        assert_false(sign_result.done); /* exactly once */
        sign_result.done = true;
        sign_result.error = r->error;
        sign_result.code = r->code;
        sign_result.pin_flags = r->pin_flags;
        sign_result.sig_size = 0;
        sign_result.always_authenticate = r->always_authenticate;
        if (r->error == 0) {
                assert_true(r->signature_size <= sizeof(sign_result.sig));
                if (r->signature_size > 0) /* none for a login */
                        memcpy(sign_result.sig, r->signature, r->signature_size);
                sign_result.sig_size = r->signature_size;
        } else
                assert_non_null(r->message);
}

static void control_write(const char *text) {
        assert_int_equal(write_file_atomic(control, text, strlen(text), 0600), 0);
}

static P11Manager *manager_new_full(
        sd_event *e, const char *m1, const char *m2, uint64_t poll, uint64_t call_timeout,
        uint64_t sign_timeout) {
        char *modules[] = { (char *) m1, (char *) m2, NULL };
        P11ManagerConfig config = {
                .module_paths = modules,
                .use_p11kit_registry = false,
                .helper_path = (char *) test_getenv_or_skip("KYSO_P11_HELPER"),
                .poll_usec = poll,
                .call_timeout_usec = call_timeout,
                .sign_timeout_usec = sign_timeout,
        };
        P11Manager *m = NULL;

        events_clear();
        assert_int_equal(p11_manager_new(e, &config, on_event, NULL, &m), 0);
        current = m;
        return m;
}

static P11Manager *
manager_new(sd_event *e, const char *m1, const char *m2, uint64_t call_timeout, uint64_t sign_timeout) {
        return manager_new_full(e, m1, m2, 500 * 1000, call_timeout, sign_timeout);
}

/* Sanitizer reports of the helpers (a separate process: its exit status is not ours) land in files, and
 * fail the test here. */
static void check_no_sanitizer_reports(void) {
        _cleanup_free_ char *cmd = NULL;
        assert_true(
                asprintf(
                        &cmd, "! ls '%s'/sanitizer.* >/dev/null 2>&1 || { cat '%s'/sanitizer.*; false; }",
                        dir, dir) > 0);
        if (run(cmd) != 0)
                fail_msg("a helper reported a sanitizer error (above)");
}

/* Frees the manager and checks that no helper is left: this process has no child at all afterwards. */
static void manager_free_checked(P11Manager *m) {
        p11_manager_free(m);
        current = NULL;
        errno = 0;
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        check_no_sanitizer_reports();
}

static size_t n_tokens(P11Manager *m) {
        const P11Token *const *t;
        size_t n;
        assert_int_equal(p11_manager_get_tokens(m, &t, &n), 0);
        return n;
}

static const P11Token *token_by_label(P11Manager *m, const char *label) {
        const P11Token *const *t;
        size_t n;
        assert_int_equal(p11_manager_get_tokens(m, &t, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (streq(t[i]->label, label))
                        return t[i];
        return NULL;
}

typedef struct WaitTokens {
        P11Manager *m;
        size_t n;
} WaitTokens;

static bool have_tokens(void *arg) {
        WaitTokens *w = arg;
        return n_tokens(w->m) == w->n;
}

static void wait_tokens(sd_event *e, P11Manager *m, size_t n) {
        WaitTokens w = { m, n };
        run_until(e, have_tokens, &w, 15 * USEC_PER_SEC);
}

static void sha256(const char *s, uint8_t out[32]) {
        assert_int_equal(EVP_Digest(s, strlen(s), out, NULL, EVP_sha256(), NULL), 1);
}

static int sign_sync_flags(
        sd_event *e, P11Manager *m, const char *uri, const char *pin, P11SignAlgorithm alg,
        const uint8_t digest[32], unsigned flags) {
        _cleanup_secret_ Secret *s = pin ? secret_new_string(pin) : NULL;
        P11SignMechanism mech = { alg, P11_HASH_SHA256, 0, -1 };
        sign_result.done = false;
        int r = p11_manager_sign(m, uri, s, &mech, digest, 32, flags, on_signed, NULL);
        if (r < 0)
                return r;
        assert_false(sign_result.done); /* never called from inside p11_manager_sign() */
        run_until(e, sign_finished, NULL, 20 * USEC_PER_SEC);
        return 0;
}

static int sign_sync(
        sd_event *e, P11Manager *m, const char *uri, const char *pin, P11SignAlgorithm alg,
        const uint8_t digest[32]) {
        return sign_sync_flags(e, m, uri, pin, alg, digest, 0);
}

/* How many lines of the fault module's login log start with prefix. */
static size_t count_logins(const char *prefix) {
        _cleanup_free_ char *text = NULL;
        size_t size, n = 0;

        if (read_full_file(fault_log, 1 << 20, &text, &size) < 0)
                return 0;
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, prefix, strlen(prefix)) == 0)
                        n++;
        return n;
}

/* Verifies sign_result.sig with the certificate's public key, with OpenSSL alone. */
static void verify_signature(const char *pem_name, P11SignAlgorithm alg, const uint8_t digest[32]) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;

        assert_true(asprintf(&path, "%s/fx/pki/%s.pem", dir, pem_name) > 0);
        assert_int_equal(x509_read_pem_file(path, &x), 0);
        EVP_PKEY *pk = X509_get0_pubkey(x);
        ctx = EVP_PKEY_CTX_new(pk, NULL);
        assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
        if (alg == P11_SIGN_RSA_PKCS1)
                assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        else if (alg == P11_SIGN_RSA_PSS) {
                assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
                assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
                assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()), 1);
        }
        assert_int_equal(EVP_PKEY_verify(ctx, sign_result.sig, sign_result.sig_size, digest, 32), 1);

        /* And a different digest must not verify: the check above can fail. */
        uint8_t other[32];
        memcpy(other, digest, 32);
        other[0] ^= 1;
        assert_int_not_equal(EVP_PKEY_verify(ctx, sign_result.sig, sign_result.sig_size, other, 32), 1);
}

static int setup(void **state) {
        const char *script = getenv("KYSO_FIXTURES_SCRIPT");
        _cleanup_free_ char *cmd = NULL, *env = NULL;
        size_t size;

        if (!script || !getenv("KYSO_FAULT_MODULE") || !getenv("KYSO_P11_HELPER")) {
                print_message("run this test through meson test\n");
                return -1;
        }
        snprintf(dir, sizeof(dir), "/tmp/kyso-test-p11-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        if (asprintf(&cmd, "'%s' '%s/fx' >/dev/null", script, dir) < 0 || run(cmd) < 0)
                return -1;

        /* The module path the fixtures used. */
        _cleanup_free_ char *envpath = NULL;
        if (asprintf(&envpath, "%s/fx/env.sh", dir) < 0 || read_full_file(envpath, 65536, &env, &size) < 0)
                return -1;
        const char *p = strstr(env, "export KYSO_SOFTHSM_MODULE=");
        if (!p)
                return -1;
        p += strlen("export KYSO_SOFTHSM_MODULE=");
        _cleanup_free_ char *module = strndup(p, strcspn(p, "\n"));
        if (!realpath(module, softhsm) || !realpath(getenv("KYSO_FAULT_MODULE"), fault))
                return -1;

        char conf[PATH_MAX + 32];
        snprintf(conf, sizeof(conf), "%s/fx/softhsm2.conf", dir);
        setenv("SOFTHSM2_CONF", conf, 1);

        /* A third token, seen only through the fault module: leader2's ECDSA key as "faultkey". */
        free(cmd);
        if (asprintf(
                    &cmd,
                    "set -e; cd '%1$s'; mkdir fault-tokens;"
                    "printf 'directories.tokendir = %%s/fault-tokens\\nobjectstore.backend = file\\n"
                    "log.level = ERROR\\n' '%1$s' >fault.conf;"
                    "export SOFTHSM2_CONF='%1$s/fault.conf';"
                    "softhsm2-util --init-token --free --label fault --pin 3333 --so-pin 33333333 >/dev/null;"
                    "softhsm2-util --import fx/pki/leader2.key --token fault --pin 3333 --id 01 "
                    "--label faultkey >/dev/null;"
                    "pkcs11-tool --module '%2$s' --token-label fault --login --pin 3333 --write-object "
                    "fx/pki/leader2.der --type cert --id 01 --label faultkey >/dev/null 2>&1;"
                    /* clerk's key with CKA_ALWAYS_AUTHENTICATE, and no public key object. */
                    "pkcs11-tool --module '%2$s' --token-label fault --login --pin 3333 --write-object "
                    "fx/pki/clerk.key --type privkey --id 02 --label aakey --always-auth >/dev/null 2>&1;"
                    "pkcs11-tool --module '%2$s' --token-label fault --login --pin 3333 --write-object "
                    "fx/pki/clerk.der --type cert --id 02 --label aakey >/dev/null 2>&1",
                    dir, softhsm) < 0 ||
            run(cmd) < 0)
                return -1;

        snprintf(control, sizeof(control), "%s/fault-control", dir);
        snprintf(conf, sizeof(conf), "%s/fault.conf", dir);
        setenv("KYSO_FAULT_SOFTHSM2_CONF", conf, 1);
        setenv("KYSO_FAULT_REAL_MODULE", softhsm, 1);
        setenv("KYSO_FAULT_CONTROL", control, 1);
        snprintf(fault_log, sizeof(fault_log), "%s/fault-logins", dir);
        setenv("KYSO_FAULT_LOG", fault_log, 1);
        control_write("");

        /* Helpers built with sanitizers write their reports here (checked after every manager). */
        for (const char *const *v = (const char *const[]){ "ASAN_OPTIONS", "UBSAN_OPTIONS", NULL }; *v;
             v++) {
                _cleanup_free_ char *opt = NULL;
                const char *old = getenv(*v);
                if (asprintf(
                            &opt, "%s%slog_path=%s/sanitizer", strempty(old), isempty(old) ? "" : ":", dir) <
                    0)
                        return -1;
                setenv(*v, opt, 1);
        }
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = NULL;
        events_clear();
        if (dir[0] && asprintf(&cmd, "rm -rf '%s'", dir) > 0)
                (void) run(cmd);
        return 0;
}

static const struct {
        const char *token, *name;
        uint8_t id;
} fixture_certs[] = {
        { "leader", "leader", 1 },  { "leader", "leader2", 2 }, { "leader", "expired", 3 },
        { "leader", "revoked", 4 }, { "leader", "weak", 5 },    { "leader", "unknown", 6 },
        { "leader", "clerk", 7 },   { "seal", "seal", 1 },      { "seal", "device", 2 },
        { "seal", "notyet", 3 },    { "seal", "expiring", 4 },
};

static void test_inventory(void **state) {
        sd_event *e = *state;
        const P11Certificate *const *certs;
        size_t n;

        P11Manager *m = manager_new(e, softhsm, NULL, 0, 0);
        wait_tokens(e, m, 2);
        assert_int_equal(count_events(P11_EVENT_TOKEN_ADDED), 2);
        assert_int_equal(count_events(P11_EVENT_HELPER_FAILED), 0);

        /* Token fields, checked against softhsm2-util's own listing. */
        _cleanup_free_ char *slots = NULL;
        {
                _cleanup_free_ char *cmd = NULL;
                assert_true(asprintf(&cmd, "softhsm2-util --show-slots > '%s/slots.txt'", dir) > 0);
                assert_int_equal(run(cmd), 0);
                _cleanup_free_ char *path = NULL;
                size_t size;
                assert_true(asprintf(&path, "%s/slots.txt", dir) > 0);
                assert_int_equal(read_full_file(path, 1 << 20, &slots, &size), 0);
        }
        for (const char *const *l = (const char *const[]){ "leader", "seal", NULL }; *l; l++) {
                const P11Token *t = token_by_label(m, *l);
                assert_non_null(t);
                assert_string_equal(t->manufacturer, "SoftHSM project");
                assert_string_equal(t->model, "SoftHSM v2");
                assert_int_equal(strlen(t->serial), 16);
                assert_non_null(strstr(slots, t->serial));
                assert_string_equal(t->module_path, softhsm);
                assert_true(t->pin_flags & P11_LOGIN_REQUIRED);
                assert_false(t->pin_flags & (P11_PIN_LOCKED | P11_PIN_FINAL_TRY));
                char uri[64];
                snprintf(uri, sizeof(uri), "pkcs11:token=%s", *l);
                assert_int_equal(p11_uri_match_token(uri, t), 1);
                assert_int_equal(p11_uri_match_token(t->uri, t), 1);
                assert_int_equal(p11_manager_get_pin_flags(m, uri, &(unsigned){ 0 }), 0);
        }
        assert_int_not_equal(
                strcmp(token_by_label(m, "leader")->serial, token_by_label(m, "seal")->serial), 0);

        /* Certificates: the DER is the fixture's file, byte for byte; id and key as in the fixture table. */
        assert_int_equal(p11_manager_get_certificates(m, &certs, &n), 0);
        assert_int_equal(n, ELEMENTSOF(fixture_certs));
        for (size_t i = 0; i < ELEMENTSOF(fixture_certs); i++) {
                const P11Certificate *c = NULL;
                for (size_t j = 0; j < n; j++)
                        if (streq_ptr(certs[j]->label, fixture_certs[i].name))
                                c = certs[j];
                assert_non_null(c);
                const P11Token *t = token_by_label(m, fixture_certs[i].token);
                assert_string_equal(c->token_uri, t->uri);
                assert_int_equal(c->id_size, 1);
                assert_int_equal(c->id[0], fixture_certs[i].id);
                assert_true(c->has_private_key);

                _cleanup_free_ char *path = NULL, *der = NULL;
                size_t der_size;
                assert_true(asprintf(&path, "%s/fx/pki/%s.der", dir, fixture_certs[i].name) > 0);
                assert_int_equal(read_full_file(path, 1 << 20, &der, &der_size), 0);
                assert_int_equal(c->der_size, der_size);
                assert_memory_equal(c->der, der, der_size);

                /* Its URI selects exactly it. */
                size_t matches = 0;
                for (size_t j = 0; j < n; j++) {
                        const P11Token *tj = NULL;
                        const P11Token *const *toks;
                        size_t nt;
                        assert_int_equal(p11_manager_get_tokens(m, &toks, &nt), 0);
                        for (size_t k = 0; k < nt; k++)
                                if (streq(toks[k]->uri, certs[j]->token_uri))
                                        tj = toks[k];
                        matches += p11_uri_match_certificate(c->uri, tj, certs[j]) == 1;
                }
                assert_int_equal(matches, 1);
        }
        manager_free_checked(m);
}

static void test_sign(void **state) {
        sd_event *e = *state;
        uint8_t digest[32];

        P11Manager *m = manager_new(e, softhsm, NULL, 0, 0);
        wait_tokens(e, m, 2);
        sha256("a document kyso never sees", digest);

        const char *leader = "pkcs11:token=leader;object=leader;type=cert";
        assert_int_equal(sign_sync(e, m, leader, "1111", P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, 0);
        assert_int_equal(sign_result.sig_size, 256);
        verify_signature("leader", P11_SIGN_RSA_PKCS1, digest);

        assert_int_equal(sign_sync(e, m, leader, "1111", P11_SIGN_RSA_PSS, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("leader", P11_SIGN_RSA_PSS, digest);

        assert_int_equal(sign_sync(e, m, "pkcs11:token=leader;id=%02", "1111", P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("leader2", P11_SIGN_ECDSA, digest);

        assert_int_equal(
                sign_sync(e, m, "pkcs11:token=seal;object=seal", "2222", P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("seal", P11_SIGN_RSA_PKCS1, digest);

        /* Wrong PIN: refused, with the stable code and the token's PIN flags. */
        assert_int_equal(sign_sync(e, m, leader, "9999", P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, -EKEYREJECTED);
        assert_int_equal(sign_result.code, P11_ERROR_PIN_INCORRECT);
        assert_true(sign_result.pin_flags & P11_LOGIN_REQUIRED);
        unsigned flags = 0;
        assert_int_equal(p11_manager_get_pin_flags(m, leader, &flags), 0);
        assert_int_equal(flags, sign_result.pin_flags);

        /* Logged out after each signature: no PIN, no signature. */
        assert_int_equal(sign_sync(e, m, leader, NULL, P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, -EKEYREJECTED);
        assert_int_equal(sign_result.code, P11_ERROR_NOT_LOGGED_IN);

        /* RSA mechanism on an EC key. */
        assert_int_equal(
                sign_sync(e, m, "pkcs11:token=leader;id=%02", "1111", P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, -EOPNOTSUPP);

        /* Log in once (PIN caching), sign without a PIN, log out. */
        {
                _cleanup_secret_ Secret *wrong = secret_new_string("0000"),
                                        *right = secret_new_string("1111");
                sign_result.done = false;
                assert_int_equal(p11_manager_login(m, "pkcs11:token=leader", wrong, on_signed, NULL), 0);
                run_until(e, sign_finished, NULL, 10 * USEC_PER_SEC);
                assert_int_equal(sign_result.error, -EKEYREJECTED);
                assert_int_equal(sign_result.code, P11_ERROR_PIN_INCORRECT);
                sign_result.done = false;
                assert_int_equal(p11_manager_login(m, "pkcs11:token=leader", right, on_signed, NULL), 0);
                run_until(e, sign_finished, NULL, 10 * USEC_PER_SEC);
                assert_int_equal(sign_result.error, 0);
                assert_int_equal(sign_result.sig_size, 0);
        }
        assert_int_equal(sign_sync(e, m, leader, NULL, P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("leader", P11_SIGN_RSA_PKCS1, digest);
        assert_int_equal(p11_manager_logout(m, "pkcs11:token=leader"), 0);
        assert_int_equal(sign_sync(e, m, leader, NULL, P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.code, P11_ERROR_NOT_LOGGED_IN);
        assert_int_equal(p11_manager_login(m, "pkcs11:token=leader", NULL, on_signed, NULL), -EINVAL);
        assert_int_equal(p11_manager_logout(m, "pkcs11:token=nothere"), -ENODEV);
        assert_int_equal(p11_manager_logout(m, "pkcs11:"), -ENOTUNIQ);

        /* Then the right PIN works again. */
        assert_int_equal(sign_sync(e, m, leader, "1111", P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("leader", P11_SIGN_RSA_PKCS1, digest);

        /* Refused up front. */
        assert_int_equal(
                sign_sync(e, m, "pkcs11:token=nothere", "1111", P11_SIGN_RSA_PKCS1, digest), -ENODEV);
        assert_int_equal(
                sign_sync(e, m, "pkcs11:token=leader", "1111", P11_SIGN_RSA_PKCS1, digest), -ENOTUNIQ);
        assert_int_equal(sign_sync(e, m, "not a uri", "1111", P11_SIGN_RSA_PKCS1, digest), -EINVAL);
        assert_int_equal(
                sign_sync(
                        e, m, "pkcs11:token=leader;id=%01?pin-value=1111", NULL, P11_SIGN_RSA_PKCS1, digest),
                -EINVAL);
        P11SignMechanism bad = { P11_SIGN_RSA_PKCS1, P11_HASH_SHA384, 0, -1 };
        assert_int_equal(p11_manager_sign(m, leader, NULL, &bad, digest, 32, 0, on_signed, NULL), -EINVAL);
        manager_free_checked(m);
}

static void test_insert_remove(void **state) {
        sd_event *e = *state;
        uint8_t digest[32];

        control_write("insert\n");
        /* This one polls at the default interval (1 s): the 2 s promise is about the default. */
        P11Manager *m = manager_new_full(e, fault, NULL, 0, 0, 0);
        wait_tokens(e, m, 1);
        assert_non_null(token_by_label(m, "fault"));

        /* Pulled: noticed within 2 s, with its event; its certificate goes with it. */
        size_t from = n_events;
        control_write("remove\n");
        uint64_t took = wait_event(e, P11_EVENT_TOKEN_REMOVED, "fault", from, 5 * USEC_PER_SEC);
        print_message("removal noticed after %.2f s\n", (double) took / USEC_PER_SEC);
        assert_true(took <= 2 * USEC_PER_SEC);
        assert_int_equal(n_tokens(m), 0);
        const P11Certificate *const *certs;
        size_t n;
        assert_int_equal(p11_manager_get_certificates(m, &certs, &n), 0);
        assert_int_equal(n, 0);

        /* Signing on a token that is not there is refused before anything is sent. */
        sha256("x", digest);
        assert_int_equal(
                sign_sync(e, m, "pkcs11:token=fault;id=%01", "3333", P11_SIGN_ECDSA, digest), -ENODEV);

        /* Plugged back in. */
        from = n_events;
        control_write("insert\n");
        took = wait_event(e, P11_EVENT_TOKEN_ADDED, "fault", from, 5 * USEC_PER_SEC);
        print_message("insertion noticed after %.2f s\n", (double) took / USEC_PER_SEC);
        assert_true(took <= 2 * USEC_PER_SEC);
        assert_int_equal(p11_manager_get_certificates(m, &certs, &n), 0);
        assert_int_equal(n, 2);
        assert_true(streq(certs[0]->label, "faultkey") || streq(certs[1]->label, "faultkey"));

        /* The helper's old session died with the removal; a new one is used. */
        assert_int_equal(sign_sync(e, m, "pkcs11:token=fault;id=%01", "3333", P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("leader2", P11_SIGN_ECDSA, digest);
        assert_int_equal(count_events(P11_EVENT_HELPER_FAILED), 0);
        manager_free_checked(m);
        control_write("");
}

static void expect_other_module_serves(sd_event *e, P11Manager *m) {
        uint8_t digest[32];
        sha256("still here", digest);
        assert_non_null(token_by_label(m, "leader"));
        assert_non_null(token_by_label(m, "seal"));
        assert_int_equal(
                sign_sync(e, m, "pkcs11:token=seal;object=seal", "2222", P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("seal", P11_SIGN_RSA_PKCS1, digest);
}

static void test_crash(void **state) {
        sd_event *e = *state;
        uint8_t digest[32];

        control_write("");
        P11Manager *m = manager_new(e, fault, softhsm, 0, 0);
        wait_tokens(e, m, 3);

        /* The module aborts inside C_Sign: that signature fails, this process lives on. */
        control_write("abort C_Sign\n");
        size_t from = n_events;
        sha256("crash", digest);
        assert_int_equal(sign_sync(e, m, "pkcs11:token=fault;id=%01", "3333", P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, -ECONNRESET);
        assert_int_equal(sign_result.code, P11_ERROR_HELPER_FAILED);
        const Event *f = find_event(P11_EVENT_HELPER_FAILED, fault, from);
        assert_non_null(f);
        print_message("reason: %s\n", f->reason);
        assert_non_null(strstr(f->reason, "signal"));
        assert_non_null(find_event(P11_EVENT_TOKEN_REMOVED, "fault", from));
        assert_null(token_by_label(m, "fault"));

        /* The other module keeps serving. */
        expect_other_module_serves(e, m);
        assert_null(find_event(P11_EVENT_HELPER_FAILED, softhsm, 0));

        /* Fixed: restarted with back-off, the token is back. */
        control_write("");
        wait_event(e, P11_EVENT_HELPER_RESTARTED, fault, from, 10 * USEC_PER_SEC);
        wait_event(e, P11_EVENT_TOKEN_ADDED, "fault", from, 10 * USEC_PER_SEC);
        assert_int_equal(sign_sync(e, m, "pkcs11:token=fault;id=%01", "3333", P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("leader2", P11_SIGN_ECDSA, digest);
        manager_free_checked(m);
}

static void test_hang(void **state) {
        sd_event *e = *state;

        control_write("");
        P11Manager *m = manager_new(e, fault, softhsm, 1 * USEC_PER_SEC, 0);
        wait_tokens(e, m, 3);

        /* The module sleeps forever in the poll: killed after the call timeout, token marked absent. */
        size_t from = n_events;
        control_write("hang C_GetSlotList\n");
        wait_event(e, P11_EVENT_HELPER_FAILED, fault, from, 10 * USEC_PER_SEC);
        const Event *f = find_event(P11_EVENT_HELPER_FAILED, fault, from);
        print_message("reason: %s\n", f->reason);
        assert_non_null(strstr(f->reason, "did not answer"));
        assert_non_null(find_event(P11_EVENT_TOKEN_REMOVED, "fault", from));
        assert_null(token_by_label(m, "fault"));
        expect_other_module_serves(e, m);

        /* While it still hangs, every restart fails again, further and further apart: the restart is
         * scheduled 0.5 s, 1 s, 2 s after each failure, and really not sooner. A hang is not a module that
         * does not load: each one follows a good start, so each is a new failure. */
        WaitFailures w = { fault, from, 3 };
        run_until(e, have_failures, &w, 20 * USEC_PER_SEC);
        const Event *fails[3];
        assert_int_equal(failures_of(fault, from, fails, 3), 3);
        for (size_t i = 0; i < 3; i++) {
                print_message(
                        "failure %zu: next start in %.1f s\n", i,
                        (double) fails[i]->retry_usec / USEC_PER_SEC);
                assert_int_equal(fails[i]->retry_usec, (USEC_PER_SEC / 2) << i);
                assert_int_equal(fails[i]->failures, 1);
                assert_false(fails[i]->load_failed);
                /* The next failure comes after the restart delay plus the 1 s call timeout. */
                if (i > 0)
                        assert_true(
                                fails[i]->at - fails[i - 1]->at >= fails[i - 1]->retry_usec + USEC_PER_SEC);
        }

        control_write("");
        from = n_events;
        wait_event(e, P11_EVENT_HELPER_RESTARTED, fault, from, 15 * USEC_PER_SEC);
        wait_event(e, P11_EVENT_TOKEN_ADDED, "fault", from, 10 * USEC_PER_SEC);
        manager_free_checked(m);
}

static void test_slow(void **state) {
        sd_event *e = *state;
        uint8_t digest[32];

        control_write("");
        P11Manager *m = manager_new(e, fault, NULL, 0, 2 * USEC_PER_SEC);
        wait_tokens(e, m, 1);
        sha256("slow", digest);

        /* Slow but within the timeout: fine. */
        control_write("slow C_Sign 500\n");
        uint64_t start = now();
        assert_int_equal(sign_sync(e, m, "pkcs11:token=fault;id=%01", "3333", P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, 0);
        assert_true(now() - start >= 500 * 1000);
        verify_signature("leader2", P11_SIGN_ECDSA, digest);

        /* Too slow: the call times out, the helper is killed. */
        control_write("slow C_Sign 5000\n");
        size_t from = n_events;
        assert_int_equal(sign_sync(e, m, "pkcs11:token=fault;id=%01", "3333", P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, -ETIME);
        assert_int_equal(sign_result.code, P11_ERROR_TIMEOUT);
        assert_non_null(find_event(P11_EVENT_HELPER_FAILED, fault, from));
        control_write("");
        manager_free_checked(m);
}

static unsigned cancelled_calls;
static void on_cancelled_signed(P11Manager *m, const P11SignResult *r, void *userdata) {
        cancelled_calls++;
}

static bool time_passed(void *arg) {
        return now() >= *(uint64_t *) arg;
}

static void test_cancel(void **state) {
        sd_event *e = *state;
        _cleanup_secret_ Secret *pin = secret_new_string("3333");
        P11SignMechanism mech = { P11_SIGN_ECDSA, P11_HASH_SHA256, 0, -1 };
        const char *uri = "pkcs11:token=fault;id=%01";
        int a, b, c;
        uint8_t digest[32];

        P11Manager *m = manager_new(e, fault, NULL, 0, 0);
        wait_tokens(e, m, 1);
        sha256("cancel", digest);
        control_write("slow C_Sign 300\n");

        /* a goes to the token at once, b and c wait behind it. */
        cancelled_calls = 0;
        assert_int_equal(p11_manager_sign(m, uri, pin, &mech, digest, 32, 0, on_cancelled_signed, &a), 0);
        assert_int_equal(p11_manager_sign(m, uri, pin, &mech, digest, 32, 0, on_cancelled_signed, &b), 0);
        assert_int_equal(p11_manager_sign(m, uri, pin, &mech, digest, 32, 0, on_cancelled_signed, &c), 0);
        assert_int_equal(p11_manager_cancel(m, &a), 1);
        assert_int_equal(p11_manager_cancel(m, &b), 1);
        assert_int_equal(p11_manager_cancel(m, &b), 0);
        uint64_t until = now() + 1500 * 1000;
        run_until(e, time_passed, &until, 5 * USEC_PER_SEC);
        assert_int_equal(cancelled_calls, 1); /* c only */

        /* The queue still works after removals in its middle and at its end. */
        assert_int_equal(p11_manager_sign(m, uri, pin, &mech, digest, 32, 0, on_cancelled_signed, &a), 0);
        assert_int_equal(p11_manager_sign(m, uri, pin, &mech, digest, 32, 0, on_cancelled_signed, &c), 0);
        assert_int_equal(p11_manager_cancel(m, &c), 1);
        assert_int_equal(sign_sync(e, m, uri, "3333", P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("leader2", P11_SIGN_ECDSA, digest);
        assert_int_equal(cancelled_calls, 2); /* and a */

        /* Freed with a signature on the token and one queued: both told -ECANCELED, nothing left running. */
        cancelled_calls = 0;
        sign_result.done = false;
        assert_int_equal(p11_manager_sign(m, uri, pin, &mech, digest, 32, 0, on_cancelled_signed, &a), 0);
        assert_int_equal(p11_manager_sign(m, uri, pin, &mech, digest, 32, 0, on_signed, NULL), 0);
        manager_free_checked(m);
        assert_int_equal(cancelled_calls, 1);
        assert_true(sign_result.done);
        assert_int_equal(sign_result.error, -ECANCELED);
}

static void test_removed_mid_signature(void **state) {
        sd_event *e = *state;
        _cleanup_secret_ Secret *pin = secret_new_string("3333");
        P11SignMechanism mech = { P11_SIGN_ECDSA, P11_HASH_SHA256, 0, -1 };
        uint8_t digest[32];

        P11Manager *m = manager_new(e, fault, NULL, 0, 0);
        wait_tokens(e, m, 1);
        sha256("pulled out", digest);

        control_write("slow C_Sign 800\n");
        sign_result.done = false;
        size_t from = n_events;
        assert_int_equal(
                p11_manager_sign(m, "pkcs11:token=fault;id=%01", pin, &mech, digest, 32, 0, on_signed, NULL),
                0);
        uint64_t until = now() + 300 * 1000;
        run_until(e, time_passed, &until, 5 * USEC_PER_SEC);
        assert_false(sign_result.done);
        control_write("remove\n"); /* while C_Sign sleeps */
        run_until(e, sign_finished, NULL, 10 * USEC_PER_SEC);
        assert_int_equal(sign_result.error, -ENODEV);
        assert_int_equal(sign_result.code, P11_ERROR_DEVICE_REMOVED);
        assert_int_equal(sign_result.sig_size, 0);
        wait_event(e, P11_EVENT_TOKEN_REMOVED, "fault", from, 3 * USEC_PER_SEC);
        assert_null(find_event(P11_EVENT_HELPER_FAILED, fault, from)); /* a removal is not a crash */

        control_write("insert\n");
        wait_event(e, P11_EVENT_TOKEN_ADDED, "fault", from, 3 * USEC_PER_SEC);
        assert_int_equal(sign_sync(e, m, "pkcs11:token=fault;id=%01", "3333", P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("leader2", P11_SIGN_ECDSA, digest);
        manager_free_checked(m);
}

/* A batch's token pulled between two signatures: the next one, which uses the batch's login, fails as a
 * removed token (the agent then says to insert it), not as "not logged in" (which it would report as an
 * internal error). */
static void test_removed_between_batch_signatures(void **state) {
        sd_event *e = *state;
        uint8_t digest[32];

        control_write("");
        P11Manager *m = manager_new_full(e, fault, NULL, 60 * USEC_PER_SEC, 0, 0); /* no polls between */
        wait_tokens(e, m, 1);
        sha256("a batch, then the token pulled", digest);

        const char *uri = "pkcs11:token=fault;id=%01";
        assert_int_equal(sign_sync_flags(e, m, uri, "3333", P11_SIGN_ECDSA, digest, P11_SIGN_KEEP_LOGIN), 0);
        assert_int_equal(sign_result.error, 0);
        control_write("remove\n");
        assert_int_equal(
                sign_sync_flags(
                        e, m, uri, NULL, P11_SIGN_ECDSA, digest, P11_SIGN_KEEP_LOGIN | P11_SIGN_USE_LOGIN),
                0);
        assert_int_equal(sign_result.error, -ENODEV);
        assert_int_not_equal(sign_result.code, P11_ERROR_NOT_LOGGED_IN);
        control_write("");
        manager_free_checked(m);
}

/* Signatures of a batch: the first one's answer is handled slowly (as the agent builds the CMS, writes the
 * output and the audit records), and the others are timed from the end of that handling. */
#define PIPE_N (P11_PIPELINE_MAX + 1)
typedef struct Pipe {
        uint64_t first_handled, at[PIPE_N];
        int error[PIPE_N];
} Pipe;

typedef struct PipeCall {
        Pipe *pipe;
        unsigned i;
} PipeCall;

static void on_pipe_signed(P11Manager *m, const P11SignResult *r, void *userdata) {
        PipeCall *c = userdata;
        c->pipe->error[c->i] = r->error;
        if (c->i == 0) {
                (void) usleep(1500 * 1000);
                c->pipe->first_handled = now();
        }
        c->pipe->at[c->i] = now();
}

typedef struct PipeWait {
        Pipe *pipe;
        unsigned n;
} PipeWait;

static bool pipe_done(void *arg) {
        PipeWait *w = arg;
        return w->pipe->at[w->n - 1] != 0;
}

/* Signs n times, signature i with pins[i] (NULL: none), the first with C_Sign taking 300 ms; with
 * pull_after_ms, the token is pulled that long after the start. */
static Pipe
pipe_run(sd_event *e, P11Manager *m, unsigned n, const char *const *pins, unsigned pull_after_ms) {
        P11SignMechanism mech = { P11_SIGN_ECDSA, P11_HASH_SHA256, 0, -1 };
        Pipe pipe = {};
        PipeCall calls[PIPE_N];
        uint8_t digest[32];

        assert_true(n <= PIPE_N);
        sha256("pipeline", digest);
        control_write("slow C_Sign 300\n");
        for (unsigned i = 0; i < n; i++) {
                _cleanup_secret_ Secret *pin = pins && pins[i] ? secret_new_string(pins[i]) : NULL;
                calls[i] = (PipeCall){ &pipe, i };
                assert_int_equal(
                        p11_manager_sign(
                                m, "pkcs11:token=fault;id=%01", pin, &mech, digest, 32, P11_SIGN_KEEP_LOGIN,
                                on_pipe_signed, &calls[i]),
                        0);
        }
        if (pull_after_ms > 0) {
                uint64_t until = now() + pull_after_ms * 1000;
                run_until(e, time_passed, &until, 5 * USEC_PER_SEC);
                control_write("slow C_Sign 300\nremove\n");
        }
        run_until(e, pipe_done, &(PipeWait){ &pipe, n }, 15 * USEC_PER_SEC);
        return pipe;
}

static void test_pipelined(void **state) {
        sd_event *e = *state;
        _cleanup_secret_ Secret *pin = secret_new_string("3333");

        control_write("");
        P11Manager *m = manager_new_full(e, fault, NULL, 60 * USEC_PER_SEC, 0, 0); /* no polls between */
        wait_tokens(e, m, 1);
        sign_result.done = false;
        assert_int_equal(p11_manager_login(m, "pkcs11:token=fault", pin, on_signed, NULL), 0);
        run_until(e, sign_finished, NULL, 10 * USEC_PER_SEC);
        assert_int_equal(sign_result.error, 0);

        /* Logged in, no PIN: while the first answer is handled (1.5 s), the helper signs the next ones it
         * already has (0.3 s each), up to P11_PIPELINE_MAX in flight; the one after that is sent only once
         * the first answer is handled, and takes its 0.3 s from then. */
        Pipe p = pipe_run(e, m, PIPE_N, NULL, 0);
        for (unsigned i = 0; i < PIPE_N; i++) {
                assert_int_equal(p.error[i], 0);
                print_message(
                        "answer %u: %.3f s after the first one's handling\n", i,
                        ((double) p.at[i] - (double) p.first_handled) / USEC_PER_SEC);
        }
        for (unsigned i = 1; i < P11_PIPELINE_MAX; i++)
                assert_true(p.at[i] - p.first_handled < 300 * 1000);
        assert_true(p.at[P11_PIPELINE_MAX] - p.first_handled >= 300 * 1000);

        /* A signature with a PIN waits for the answers before it. */
        p = pipe_run(e, m, 2, (const char *const[]){ NULL, "3333" }, 0);
        assert_int_equal(p.error[0], 0);
        assert_int_equal(p.error[1], 0);
        assert_true(p.at[1] - p.first_handled >= 300 * 1000);

        /* All with the helper when the token is pulled: all fail, in order. */
        p = pipe_run(e, m, P11_PIPELINE_MAX, NULL, 150);
        for (unsigned i = 0; i < P11_PIPELINE_MAX; i++) {
                assert_int_equal(p.error[i], -ENODEV);
                assert_true(i == 0 || p.at[i - 1] <= p.at[i]);
        }
        control_write("");
        manager_free_checked(m);
}

static void test_registry(void **state) {
        sd_event *e = *state;
        _cleanup_free_ char *confdir = NULL, *file = NULL, *text = NULL;

        /* A p11-kit registry of our own naming SoftHSM, plus the same module configured by path:
         * one helper, two tokens. */
        assert_true(asprintf(&confdir, "%s/p11-kit-modules", dir) > 0);
        (void) mkdir(confdir, 0700);
        assert_true(asprintf(&file, "%s/softhsm2.module", confdir) > 0);
        assert_true(asprintf(&text, "module: %s\n", softhsm) > 0);
        assert_int_equal(write_file_atomic(file, text, strlen(text), 0600), 0);

        char *modules[] = { softhsm, NULL };
        char *dirs[] = { confdir, NULL };
        P11ManagerConfig config = {
                .module_paths = modules,
                .use_p11kit_registry = true,
                .p11kit_config_dirs = dirs,
                .helper_path = (char *) test_getenv_or_skip("KYSO_P11_HELPER"),
        };
        P11Manager *m = NULL;
        events_clear();
        assert_int_equal(p11_manager_new(e, &config, on_event, NULL, &m), 0);
        current = m;
        wait_tokens(e, m, 2);
        uint64_t until = now() + 1500 * 1000; /* would a second helper add the tokens again? */
        run_until(e, time_passed, &until, 5 * USEC_PER_SEC);
        assert_int_equal(count_events(P11_EVENT_TOKEN_ADDED), 2);
        assert_int_equal(n_tokens(m), 2);
        manager_free_checked(m);
}

static void test_always_authenticate(void **state) {
        sd_event *e = *state;
        const P11Certificate *const *certs;
        uint8_t digest[32];
        size_t n;

        P11Manager *m = manager_new(e, fault, NULL, 0, 0);
        wait_tokens(e, m, 1);
        sha256("each signature its own PIN", digest);

        /* Before login the key is invisible and there is no public key: not known to be there. */
        assert_int_equal(p11_manager_get_certificates(m, &certs, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (streq(certs[i]->label, "aakey"))
                        assert_false(certs[i]->has_private_key);

        /* Signing still works: the helper finds the key after login and does the context-specific login. */
        const char *uri = "pkcs11:token=fault;object=aakey;type=cert";
        assert_int_equal(sign_sync(e, m, uri, "3333", P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.error, 0);
        assert_true(sign_result.always_authenticate); /* so the agent keeps a batch's PIN */
        verify_signature("clerk", P11_SIGN_RSA_PKCS1, digest);

        /* A batch: the first signature keeps the login, the later ones use it (one user login) and get
         * their context-specific login with the PIN; the last one ends the login. */
        assert_int_equal(truncate(fault_log, 0), 0);
        assert_int_equal(
                sign_sync_flags(e, m, uri, "3333", P11_SIGN_RSA_PKCS1, digest, P11_SIGN_KEEP_LOGIN), 0);
        assert_int_equal(sign_result.error, 0);
        assert_int_equal(
                sign_sync_flags(e, m, uri, "3333", P11_SIGN_RSA_PKCS1, digest, P11_SIGN_USE_LOGIN), 0);
        assert_int_equal(sign_result.error, 0);
        verify_signature("clerk", P11_SIGN_RSA_PKCS1, digest);
        assert_int_equal(count_logins("C_Login user"), 1);
        assert_int_equal(count_logins("C_Login context"), 2);
        assert_int_equal(sign_sync(e, m, "pkcs11:token=fault;id=%01", NULL, P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.code, P11_ERROR_NOT_LOGGED_IN);
        /* Without a login to use, USE_LOGIN is refused rather than logging in. */
        assert_int_equal(
                sign_sync_flags(e, m, uri, "3333", P11_SIGN_RSA_PKCS1, digest, P11_SIGN_USE_LOGIN), 0);
        assert_int_equal(sign_result.code, P11_ERROR_NOT_LOGGED_IN);

        /* Logged in (PIN cached by the agent), but this key wants the PIN every time. */
        {
                _cleanup_secret_ Secret *pin = secret_new_string("3333");
                sign_result.done = false;
                assert_int_equal(p11_manager_login(m, "pkcs11:token=fault", pin, on_signed, NULL), 0);
                run_until(e, sign_finished, NULL, 10 * USEC_PER_SEC);
                assert_int_equal(sign_result.error, 0);
        }
        assert_int_equal(sign_sync(e, m, uri, NULL, P11_SIGN_RSA_PKCS1, digest), 0);
        assert_int_equal(sign_result.code, P11_ERROR_NOT_LOGGED_IN);
        /* The other key on the same token signs with the cached login. */
        assert_int_equal(sign_sync(e, m, "pkcs11:token=fault;id=%01", NULL, P11_SIGN_ECDSA, digest), 0);
        assert_int_equal(sign_result.error, 0);
        assert_false(sign_result.always_authenticate);
        verify_signature("leader2", P11_SIGN_ECDSA, digest);
        manager_free_checked(m);
}

/* A manager whose modules that do not load are tried again after 50 ms, doubling up to 200 ms. */
static P11Manager *manager_new_quick_retry(sd_event *e, char **modules) {
        P11ManagerConfig config = {
                .module_paths = modules,
                .helper_path = (char *) test_getenv_or_skip("KYSO_P11_HELPER"),
                .load_retry_usec = 50 * 1000,
                .load_retry_max_usec = 200 * 1000,
        };
        P11Manager *m = NULL;

        events_clear();
        assert_int_equal(p11_manager_new(e, &config, on_event, NULL, &m), 0);
        current = m;
        return m;
}

/* A module that does not load: five attempts with failures 1..5, each a load failure, retried after 50 ms
 * doubling up to the 200 ms cap (the test's configuration), and never sooner. */
static void expect_load_retries(sd_event *e, const char *module, size_t from) {
        WaitFailures w = { module, from, 5 };
        const Event *fails[5];

        run_until(e, have_failures, &w, 20 * USEC_PER_SEC);
        assert_int_equal(failures_of(module, from, fails, 5), 5);
        for (size_t i = 0; i < 5; i++) {
                uint64_t want = MIN((uint64_t) 50 * 1000 << i, (uint64_t) 200 * 1000);
                print_message(
                        "attempt %zu: %s, next in %.2f s\n", i + 1, fails[i]->reason,
                        (double) fails[i]->retry_usec / USEC_PER_SEC);
                assert_int_equal(fails[i]->failures, i + 1);
                assert_true(fails[i]->load_failed);
                assert_int_equal(fails[i]->retry_usec, want);
                if (i > 0)
                        assert_true(fails[i]->at - fails[i - 1]->at >= fails[i - 1]->retry_usec);
        }
}

static void test_missing_module(void **state) {
        sd_event *e = *state;
        _cleanup_free_ char *missing = NULL;

        assert_true(asprintf(&missing, "%s/no-such-module.so", dir) > 0);
        /* The same module twice under two names is loaded once. */
        _cleanup_free_ char *alias = NULL, *cmd = NULL;
        assert_true(asprintf(&alias, "%s/softhsm-alias.so", dir) > 0);
        assert_true(asprintf(&cmd, "ln -sf '%s' '%s'", softhsm, alias) > 0);
        assert_int_equal(run(cmd), 0);

        char *modules[] = { missing, softhsm, alias, NULL };
        P11Manager *m = manager_new_quick_retry(e, modules);
        wait_event(e, P11_EVENT_HELPER_FAILED, missing, 0, 10 * USEC_PER_SEC);
        const Event *f = find_event(P11_EVENT_HELPER_FAILED, missing, 0);
        print_message("reason: %s\n", f->reason);
        assert_non_null(strstr(f->reason, "refused to load"));
        wait_tokens(e, m, 2);
        assert_int_equal(count_events(P11_EVENT_TOKEN_ADDED), 2);
        expect_load_retries(e, missing, 0);
        manager_free_checked(m);
}

/* A module whose C_Initialize fails does not load either; once it does, it is back, and a crash after that
 * is a new failure again (failures 1, the quick restart). */
static void test_module_does_not_initialize(void **state) {
        sd_event *e = *state;
        char *modules[] = { fault, softhsm, NULL };

        control_write("fail C_Initialize\n");
        P11Manager *m = manager_new_quick_retry(e, modules);
        wait_tokens(e, m, 2);
        expect_load_retries(e, fault, 0);
        const Event *f = find_event(P11_EVENT_HELPER_FAILED, fault, 0);
        print_message("reason: %s\n", f->reason);
        assert_non_null(strstr(f->reason, "C_Initialize failed"));
        assert_null(find_event(P11_EVENT_HELPER_RESTARTED, fault, 0));

        size_t from = n_events;
        control_write("");
        wait_event(e, P11_EVENT_HELPER_RESTARTED, fault, from, 10 * USEC_PER_SEC);
        wait_tokens(e, m, 3);

        from = n_events;
        control_write("abort C_GetSlotList\n");
        wait_event(e, P11_EVENT_HELPER_FAILED, fault, from, 10 * USEC_PER_SEC);
        f = find_event(P11_EVENT_HELPER_FAILED, fault, from);
        print_message("then: %s\n", f->reason);
        assert_int_equal(f->failures, 1);
        assert_false(f->load_failed);
        assert_int_equal(f->retry_usec, USEC_PER_SEC / 2);
        control_write("");
        manager_free_checked(m);
}

/* Helpers that are not kyso-p11-helper: what they send must never crash the agent or confuse it. */
static void test_misbehaving_helper(void **state) {
        static const struct {
                const char *script, *reason;
        } cases[] = {
                /* Not a frame at all: the length field reads as 1.2 GB. */
                { "printf 'GARBAGE-GARBAGE-' >&3; exec sleep 30", "malformed frame" },
                /* A well-formed frame of protocol version 2. */
                { "printf '\\000\\000\\000\\014\\002\\201\\000\\000\\000\\000\\000\\001' >&3; exec sleep 30",
                  "malformed frame" },
                /* A reply to a request never sent (serial 99). */
                { "printf '\\000\\000\\000\\014\\001\\201\\000\\000\\000\\000\\000\\143' >&3; exec sleep 30",
                  "unexpected message" },
                /* The right serial, a body too short for a hello reply. */
                { "printf '\\000\\000\\000\\014\\001\\201\\000\\000\\000\\000\\000\\001' >&3; exec sleep 30",
                  "another protocol version" },
                /* Half a frame, then silence: the call timeout. */
                { "printf '\\000\\000\\000\\100\\001' >&3; exec sleep 30", "did not answer" },
                /* Gone at once. */
                { "exit 3", "status 3" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(sd_event_unrefp) sd_event *e = NULL;
                _cleanup_free_ char *path = NULL, *text = NULL;
                char *modules[] = { softhsm, NULL };
                P11Manager *m = NULL;

                assert_true(asprintf(&path, "%s/fake-helper-%zu", dir, i) > 0);
                assert_true(asprintf(&text, "#!/bin/sh\n%s\n", cases[i].script) > 0);
                assert_int_equal(write_file_atomic(path, text, strlen(text), 0700), 0);
                P11ManagerConfig config = {
                        .module_paths = modules,
                        .helper_path = path,
                        .call_timeout_usec = 1 * USEC_PER_SEC,
                };
                assert_int_equal(sd_event_new(&e), 0);
                events_clear();
                assert_int_equal(p11_manager_new(e, &config, on_event, NULL, &m), 0);
                current = m;
                wait_event(e, P11_EVENT_HELPER_FAILED, softhsm, 0, 10 * USEC_PER_SEC);
                const Event *f = find_event(P11_EVENT_HELPER_FAILED, softhsm, 0);
                print_message("case %zu: %s\n", i, f->reason);
                assert_non_null(strstr(f->reason, cases[i].reason));
                assert_int_equal(n_tokens(m), 0);
                manager_free_checked(m);
        }
}

/* Each test's event loop, made before and dropped after it (after its manager, which test_teardown() frees
 * when the test failed before freeing it). */
static int test_setup(void **state) {
        sd_event *e = NULL;

        if (sd_event_new(&e) < 0)
                return -1;
        *state = e;
        return 0;
}

static int test_teardown(void **state) {
        current = p11_manager_free(current);
        control_write("");
        *state = sd_event_unref(*state);
        return 0;
}

/* The first scan: the callback comes once, when both tokens and their certificates are listed, even with a
 * module that does not exist beside them (a failed helper counts as scanned). */
typedef struct Scanned {
        unsigned calls;
        size_t tokens, certs;
} Scanned;

static void on_scanned(P11Manager *m, void *userdata) {
        Scanned *s = userdata;
        const P11Certificate *const *c;
        s->calls++;
        s->tokens = n_tokens(m);
        assert_int_equal(p11_manager_get_certificates(m, &c, &s->certs), 0);
}

static bool scanned_once(void *arg) {
        return ((Scanned *) arg)->calls > 0;
}

static void test_first_scan(void **state) {
        sd_event *e = *state;
        _cleanup_free_ char *missing = NULL;
        Scanned s = {};

        assert_true(asprintf(&missing, "%s/no-such-module.so", dir) > 0);
        /* A slow poll: the first scan must not wait for the second poll. */
        P11Manager *m = manager_new_full(e, missing, softhsm, 60 * USEC_PER_SEC, 0, 0);
        assert_false(p11_manager_scanned(m));
        p11_manager_set_scanned_callback(m, on_scanned, &s);
        run_until(e, scanned_once, &s, 15 * USEC_PER_SEC);
        assert_true(p11_manager_scanned(m));
        assert_int_equal(s.tokens, 2);
        assert_int_equal(s.certs, ELEMENTSOF(fixture_certs));
        /* Once only: later polls and events do not call it again. */
        run_until(e, time_passed, &(uint64_t){ now() + 300 * 1000 }, 5 * USEC_PER_SEC);
        assert_int_equal(s.calls, 1);
        current = NULL;
        manager_free_checked(m);
}

KYSO_TEST_MAIN_GROUP(
        setup, teardown,
        {
                cmocka_unit_test_setup_teardown(test_inventory, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_sign, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_insert_remove, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_crash, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_hang, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_slow, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_always_authenticate, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_cancel, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_removed_mid_signature, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_pipelined, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(
                        test_removed_between_batch_signatures, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_registry, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_missing_module, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_module_does_not_initialize, test_setup, test_teardown),
                cmocka_unit_test_teardown(test_misbehaving_helper, test_teardown),
                cmocka_unit_test_setup_teardown(test_first_scan, test_setup, test_teardown),
        });
