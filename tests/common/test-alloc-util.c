/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "kyso-test.h"

#include "alloc-util.h"

typedef struct Pair {
        int a;
        char *b;
} Pair;

static void test_append_zeroed(void **state) {
        Pair *v = NULL;
        size_t n = 0;

        for (int i = 0; i < 100; i++) {
                Pair *p = ARRAY_APPEND(v, n);
                assert_non_null(p);
                assert_int_equal(n, (size_t) i + 1);
                assert_ptr_equal(p, &v[i]);
                /* A new element is zeroed even where realloc() reused memory that held something. */
                assert_int_equal(p->a, 0);
                assert_null(p->b);
                p->a = i;
        }
        for (int i = 0; i < 100; i++)
                assert_int_equal(v[i].a, i);
        free(v);
}

static void test_append_pointers(void **state) {
        const char **v = NULL;
        size_t n = 0;

        *ARRAY_APPEND(v, n) = "a";
        *ARRAY_APPEND(v, n) = "b";
        assert_int_equal(n, 2);
        assert_string_equal(v[0], "a");
        assert_string_equal(v[1], "b");
        free(v);
}

static void test_append_overflow(void **state) {
        uint8_t one = 7;
        void *v = &one;
        size_t n = SIZE_MAX / 16;

        /* (n + 1) * 16 does not fit: refused before any allocation, nothing changed. */
        assert_null(array_append(&v, &n, 16));
        assert_ptr_equal(v, &one);
        assert_int_equal(n, SIZE_MAX / 16);
        n = SIZE_MAX;
        assert_null(array_append(&v, &n, 1));
        assert_int_equal(n, SIZE_MAX);
}

static void test_reserve(void **state) {
        uint32_t *v = NULL;
        size_t allocated = 0, n = 0;

        /* Doubling, from the least asked for, and never less than needed. */
        assert_int_equal(ARRAY_RESERVE(v, allocated, 1, 16), 0);
        assert_int_equal(allocated, 16);
        assert_int_equal(ARRAY_RESERVE(v, allocated, 16, 16), 0);
        assert_int_equal(allocated, 16);
        assert_int_equal(ARRAY_RESERVE(v, allocated, 17, 16), 0);
        assert_int_equal(allocated, 32);
        assert_int_equal(ARRAY_RESERVE(v, allocated, 100, 16), 0);
        assert_int_equal(allocated, 100);
        for (n = 0; n < 1000; n++) {
                assert_int_equal(ARRAY_RESERVE(v, allocated, n + 1, 16), 0);
                v[n] = (uint32_t) n;
        }
        for (size_t i = 0; i < n; i++)
                assert_int_equal(v[i], i);
        assert_true(allocated >= n && allocated < 2 * n);
        free(v);
}

static void test_reserve_overflow(void **state) {
        uint8_t one = 7;
        void *v = &one;
        size_t allocated = 1;

        /* need * 16 does not fit: refused before any allocation, nothing changed. */
        assert_int_equal(array_reserve(&v, &allocated, SIZE_MAX / 8, 16, 1), -ENOMEM);
        assert_ptr_equal(v, &one);
        assert_int_equal(allocated, 1);
        /* Room enough already: nothing is allocated, whatever the size. */
        assert_int_equal(array_reserve(&v, &allocated, 1, SIZE_MAX, 1), 0);
        assert_ptr_equal(v, &one);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_append_zeroed),    cmocka_unit_test(test_append_pointers),
                cmocka_unit_test(test_append_overflow),  cmocka_unit_test(test_reserve),
                cmocka_unit_test(test_reserve_overflow),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
