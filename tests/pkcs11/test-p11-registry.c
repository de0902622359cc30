/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "pkcs11/p11-registry.h"

static char tmp[] = "/tmp/kyso-test-registry-XXXXXX";

static void put(const char *dir, const char *name, const char *text) {
        _cleanup_free_ char *d = NULL, *p = NULL;
        assert_true(asprintf(&d, "%s/%s", tmp, dir) > 0);
        (void) mkdir(d, 0700);
        assert_true(asprintf(&p, "%s/%s", d, name) > 0);
        assert_int_equal(write_file_atomic(p, text, strlen(text), 0600), 0);
}

static void test_registry(void **state) {
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_free_ char *pkg = NULL, *sys = NULL, *user = NULL, *missing = NULL;

        assert_non_null(mkdtemp(tmp));
        put("pkg", "softhsm2.module", "# comment\nmodule: /usr/lib/softhsm/libsofthsm2.so\n");
        put("pkg", "opensc.module", "module: opensc-pkcs11.so\n");
        put("pkg", "trust.module", "module: p11-kit-trust.so\ntrust-policy: yes\n");
        put("pkg", "vendor.module", "module: /opt/vendor/libeToken.so\n");
        put("pkg", "other.module", "module: /opt/other.so\nenable-in: firefox, chromium\n");
        put("pkg", "mine.module", "module: /opt/mine.so\nenable-in: firefox kysod\n");
        put("pkg", "not-a-module.txt", "module: /opt/nope.so\n");
        /* The system folder disables the vendor module for kysod; the user one renames softhsm's path. */
        put("sys", "vendor.module", "module: /opt/vendor/libeToken.so\ndisable-in: kysod\n");
        put("user", "softhsm2.module", "module:   /home/u/softhsm.so  \n");
        put("user", "dup.module", "module: /opt/mine.so\n");

        assert_true(asprintf(&pkg, "%s/pkg", tmp) > 0);
        assert_true(asprintf(&sys, "%s/sys", tmp) > 0);
        assert_true(asprintf(&user, "%s/user", tmp) > 0);
        assert_true(asprintf(&missing, "%s/missing", tmp) > 0);
        char *dirs[] = { pkg, sys, missing, user, NULL };

        assert_int_equal(p11_registry_list_modules(dirs, "/usr/lib/pkcs11", &paths), 0);
        /* Sorted by file name: dup, mine, opensc, softhsm2 (dup and mine are the same path: once). */
        assert_int_equal(strv_length(paths), 3);
        assert_string_equal(paths[0], "/opt/mine.so");
        assert_string_equal(paths[1], "/usr/lib/pkcs11/opensc-pkcs11.so");
        assert_string_equal(paths[2], "/home/u/softhsm.so");

        _cleanup_strv_free_ char **none = NULL;
        char *empty[] = { missing, NULL };
        assert_int_equal(p11_registry_list_modules(empty, NULL, &none), 0);
        assert_int_equal(strv_length(none), 0);

        _cleanup_free_ char *cmd = NULL;
        assert_true(asprintf(&cmd, "rm -rf '%s'", tmp) > 0);
        assert_int_equal(system(cmd), 0);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_registry),
});
