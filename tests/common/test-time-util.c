/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <errno.h>

#include "time-util.h"

static void test_utc_strftime(void **state) {
        char buf[32];

        assert_int_equal(utc_strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", INT64_C(1796515200)), 0);
        assert_string_equal(buf, "2026-12-06T00:00:00Z");
        assert_int_equal(utc_strftime(buf, sizeof buf, "%d/%m/%Y", 0), 0);
        assert_string_equal(buf, "01/01/1970");
        /* Too long for the buffer, or a year strftime cannot hold: "" and an error, never a half text. */
        assert_int_equal(utc_strftime(buf, 5, "%Y-%m-%d", 0), -ERANGE);
        assert_string_equal(buf, "");
        assert_int_equal(utc_strftime(buf, sizeof buf, "%Y", INT64_MAX), -ERANGE);
        assert_string_equal(buf, "");
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_utc_strftime),
});
