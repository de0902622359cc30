/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Shared by the policy/ tests that use the project's fixture PKI (tests/fixtures/make-fixtures.sh): a
 * temporary folder holding it, its certificates by name, and policies written there and loaded. */

#include "kyso-test.h"

#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>

#include "fileio.h"
#include "openssl-util.h"
#include "policy/policy.h"

static char tmpdir[] = "/tmp/kyso-test-policy-XXXXXX";
static char pki[PATH_MAX];

_printf_(1, 2) static inline int run(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        assert_true(r > 0);
        return system(cmd);
}

/* Makes the fixtures in tmpdir/fx (a few seconds); pki is then their pki/ folder. */
static inline int fixtures_setup(void) {
        const char *script = getenv("KYSO_FIXTURES_SCRIPT");
        if (!script) {
                print_message("KYSO_FIXTURES_SCRIPT is not set: run through meson test\n");
                return -1;
        }
        if (!mkdtemp(tmpdir))
                return -1;
        if (run("'%s' '%s/fx' >'%s/make.log' 2>&1", script, tmpdir, tmpdir) != 0) {
                print_message("make-fixtures.sh failed, see %s/make.log\n", tmpdir);
                return -1;
        }
        snprintf(pki, sizeof pki, "%s/fx/pki", tmpdir);
        return 0;
}

static inline int fixtures_teardown(void) {
        return run("rm -rf '%s'", tmpdir) == 0 ? 0 : -1;
}

/* The fixture certificate NAME (pki/NAME.pem). */
static inline X509 *cert(const char *name) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.pem", pki, name);
        X509 *x = NULL;
        assert_int_equal(x509_read_pem_file(path, &x), 0);
        return x;
}

/* Writes text to tmpdir/NAME.conf and loads it (without the owner check); fails the test when it is
 * invalid, printing the errors. */
static inline Policy *policy_from_text(const char *name, const char *text) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.conf", tmpdir, name);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
        Policy *p = NULL;
        char **errors = NULL;
        int r = policy_load(path, POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, &p, &errors);
        STRV_FOREACH (e, errors)
                print_message("%s\n", *e);
        strv_free(errors);
        assert_int_equal(r, 0);
        return p;
}

/* A policy for the fixture PKI without revocation checks (no network): its root and CA, personal and
 * organisation kinds by the fixtures' policy OIDs, then extra (more sections). Saved as tmpdir/NAME.conf. */
static inline Policy *policy_for_fixtures(const char *name, const char *extra) {
        _cleanup_free_ char *text = NULL;
        assert_true(
                asprintf(
                        &text,
                        "[trust]\nroot = %s/root.pem\nintermediate = %s/ca.pem\n"
                        "[revocation]\nmode = off\nallow-insecure-no-revocation-for-tests = yes\n"
                        "[kind personal]\nkind = personal\npolicy-oid = 1.3.6.1.4.1.99999.1.1\n"
                        "[kind organisation]\nkind = organization\npolicy-oid = 1.3.6.1.4.1.99999.1.2\n"
                        "%s",
                        pki, pki, extra) > 0);
        return policy_from_text(name, text);
}
