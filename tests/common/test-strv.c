/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "macro.h"
#include "string-util.h"

static void test_strv(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_int_equal(strv_length(l), 0);
        assert_int_equal(strv_extend(&l, "a"), 0);
        assert_int_equal(strv_extend(&l, "b"), 0);
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[0], "a");
        assert_string_equal(l[1], "b");
        assert_null(l[2]);
}

static void test_startswith(void **state) {
        assert_string_equal(startswith("pkcs11:token=x", "pkcs11:"), "token=x");
        assert_null(startswith("pkcs1", "pkcs11:"));
        assert_true(streq_ptr(NULL, NULL));
        assert_false(streq_ptr("a", NULL));
}

static void test_strv_contains_and_from_array(void **state) {
        static const char *const a[] = { "P-256", "P-384" };
        _cleanup_strv_free_ char **l = strv_from_array(a, ELEMENTSOF(a));

        assert_int_equal(strv_length(l), 2);
        assert_true(strv_contains(l, "P-384"));
        assert_false(strv_contains(l, "P-521"));
        assert_false(strv_contains(NULL, "P-256"));
        assert_null(strv_from_array(a, 0));
}

static void test_strstrip(void **state) {
        char a[] = " \t key = value \t\r", b[] = "", c[] = " \t ", d[] = "x";
        _cleanup_free_ char *f = NULL;

        assert_string_equal(strstrip(a), "key = value");
        assert_string_equal(strstrip(b), "");
        assert_string_equal(strstrip(c), "");
        assert_string_equal(strstrip(d), "x");
        assert_int_equal(free_and_strdup(&f, "one"), 0);
        assert_int_equal(free_and_strdup(&f, "two"), 0);
        assert_string_equal(f, "two");
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_strv),
        cmocka_unit_test(test_startswith),
        cmocka_unit_test(test_strv_contains_and_from_array),
        cmocka_unit_test(test_strstrip),
});
