/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "string-table.h"

typedef enum Fruit {
        FRUIT_APPLE,
        FRUIT_PEAR,
        FRUIT_UNNAMED, /* a hole in the table */
        FRUIT_PLUM,
        _FRUIT_MAX,
        _FRUIT_INVALID = -EINVAL,
} Fruit;

static const char *const fruit_table[_FRUIT_MAX] = {
        [FRUIT_APPLE] = "apple",
        [FRUIT_PEAR] = "pear",
        [FRUIT_PLUM] = "plum",
};

DEFINE_PRIVATE_STRING_TABLE_LOOKUP(fruit, Fruit);

static void test_lookup(void **state) {
        for (Fruit f = 0; f < _FRUIT_MAX; f++) {
                const char *s = fruit_to_string(f);
                if (f == FRUIT_UNNAMED) {
                        assert_null(s);
                        continue;
                }
                assert_non_null(s);
                assert_int_equal(fruit_from_string(s), f);
        }
        assert_string_equal(fruit_to_string(FRUIT_PLUM), "plum");
        assert_null(fruit_to_string(_FRUIT_MAX));
        assert_null(fruit_to_string(_FRUIT_INVALID));
        assert_null(fruit_to_string((Fruit) -1));
        assert_int_equal(fruit_from_string("Apple"), -EINVAL); /* exact names only */
        assert_int_equal(fruit_from_string("apple "), -EINVAL);
        assert_int_equal(fruit_from_string(""), -EINVAL);
        assert_int_equal(fruit_from_string(NULL), -EINVAL);
        assert_int_equal(_FRUIT_INVALID, -EINVAL);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_lookup),
});
