/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"
#include <locale.h>

#include "i18n.h"

static void test_vietnamese(void **state) {
        test_getenv_or_skip("KYSO_LOCALEDIR");
        setenv("LC_ALL", "vi_VN.UTF-8", 1);
        assert_non_null(setlocale(LC_ALL, ""));
        i18n_setup();
        assert_true(i18n_is_vietnamese());
}

static void test_english(void **state) {
        setenv("LC_ALL", "C.UTF-8", 1);
        assert_non_null(setlocale(LC_ALL, ""));
        i18n_setup();
        assert_false(i18n_is_vietnamese());
        assert_string_equal(_("language-code:en"), "language-code:en");
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_vietnamese),
        cmocka_unit_test(test_english),
});
