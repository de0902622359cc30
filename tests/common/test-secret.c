/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "macro.h"
#include "secret.h"

static void test_secret_copy(void **state) {
        char pin[] = "123456";
        _cleanup_secret_ Secret *s = secret_new_string(pin);

        assert_non_null(s);
        /* The secret is a copy: wiping the source buffer must not change it. */
        explicit_bzero(pin, sizeof pin);
        assert_string_equal(secret_get(s), "123456");
        assert_int_equal(secret_size(s), 6);
}

static void test_secret_binary(void **state) {
        const char raw[] = { 'a', '\0', 'b' };
        Secret *s = secret_new(raw, sizeof raw);

        assert_non_null(s);
        assert_int_equal(secret_size(s), 3);
        assert_memory_equal(secret_get(s), raw, 3);
        assert_int_equal(secret_get(s)[3], '\0');
        assert_null(secret_free(s));
}

static void test_secret_null(void **state) {
        assert_null(secret_free(NULL));
        assert_null(secret_get(NULL));
        assert_int_equal(secret_size(NULL), 0);
        Secret *e = secret_new("", 0);
        assert_non_null(e);
        assert_string_equal(secret_get(e), "");
        secret_free(e);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_secret_copy),
        cmocka_unit_test(test_secret_binary),
        cmocka_unit_test(test_secret_null),
});
