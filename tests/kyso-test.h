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

/* The main() of a test program: runs the CMUnitTest entries given in braces ({ cmocka_unit_test(...),
 * cmocka_unit_test_setup_teardown(...), }) in order, between group_setup and group_teardown (either may be
 * NULL). */
#define KYSO_TEST_MAIN_GROUP(group_setup, group_teardown, ...)                     \
        int main(void) {                                                           \
                const struct CMUnitTest tests[] = __VA_ARGS__;                     \
                return cmocka_run_group_tests(tests, group_setup, group_teardown); \
        }
#define KYSO_TEST_MAIN(...) KYSO_TEST_MAIN_GROUP(NULL, NULL, __VA_ARGS__)

/* The main() of a test program whose every test runs in a fixture of its own, made by setup and removed by
 * teardown: the entries given in braces ({ cmocka_unit_test(...), }) all get those two. */
#define KYSO_TEST_MAIN_FIXTURE(setup, teardown, ...)              \
        int main(void) {                                          \
                struct CMUnitTest tests[] = __VA_ARGS__;          \
                for (size_t i = 0; i < ELEMENTSOF(tests); i++) {  \
                        tests[i].setup_func = (setup);            \
                        tests[i].teardown_func = (teardown);      \
                }                                                 \
                return cmocka_run_group_tests(tests, NULL, NULL); \
        }
