/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What every cmocka test includes: cmocka with the headers it needs first (include order matters there),
 * and small helpers for temporary folders and the test environment. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "macro.h"

/* $NAME from the test environment (tests/meson.build sets it), or skip the test when it is missing. */
static inline const char *test_getenv_or_skip(const char *name) {
        const char *v = getenv(name);
        if (!v || !*v) {
                print_message("%s is not set: run this test through meson test\n", name);
                skip();
        }
        return v;
}

/* The main() of a test program: runs the given CMUnitTest entries (cmocka_unit_test(...),
 * cmocka_unit_test_setup_teardown(...)) in order, between group_setup and group_teardown (either may be
 * NULL). */
#define KYSO_TEST_MAIN_GROUP(group_setup, group_teardown, ...)                     \
        int main(void) {                                                           \
                const struct CMUnitTest tests[] = { __VA_ARGS__ };                 \
                return cmocka_run_group_tests(tests, group_setup, group_teardown); \
        }
#define KYSO_TEST_MAIN(...) KYSO_TEST_MAIN_GROUP(NULL, NULL, __VA_ARGS__)
