/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <inttypes.h>
#include <limits.h>

#include "parse-util.h"

static void test_boolean(void **state) {
        static const char *const yes[] = { "yes", "Yes", "YES", "true", "TRUE", "on", "On", "1" };
        static const char *const no[] = { "no", "No", "NO", "false", "False", "off", "OFF", "0" };
        static const char *const bad[] = { "", "2", "y", "n", "yes ", " no", "enable", "00", "-1" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                assert_int_equal(parse_boolean(yes[i]), 1);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_int_equal(parse_boolean(no[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (parse_boolean(bad[i]) != -EINVAL)
                        fail_msg("'%s' accepted as a boolean", bad[i]);
        assert_int_equal(parse_boolean(NULL), -EINVAL);
}

typedef struct Good {
        const char *s;
        uint64_t value;
} Good;

/* Each of good gives its value, each of bad -EINVAL without touching the output. */
static void check_parser(
        int (*parse)(const char *s, uint64_t *ret), const Good *good, size_t n_good, const char *const *bad,
        size_t n_bad) {
        uint64_t u;

        for (size_t i = 0; i < n_good; i++) {
                u = UINT64_MAX;
                if (parse(good[i].s, &u) < 0)
                        fail_msg("'%s' refused", good[i].s);
                if (u != good[i].value)
                        fail_msg("'%s' gave %" PRIu64 ", expected %" PRIu64, good[i].s, u, good[i].value);
        }
        for (size_t i = 0; i < n_bad; i++) {
                u = 42;
                if (parse(bad[i], &u) != -EINVAL)
                        fail_msg("'%s' not refused with -EINVAL", bad[i]);
                assert_int_equal(u, 42);
        }
        assert_int_equal(parse(NULL, &u), -EINVAL);
}

static void test_duration(void **state) {
        static const Good good[] = {
                /* What kysod.conf accepted. */
                { "3", 3 * USEC_PER_SEC },
                { "1.5s", 1500 * USEC_PER_MSEC },
                { "250ms", 250 * USEC_PER_MSEC },
                { "1min", 60 * USEC_PER_SEC },
                { "2m", 120 * USEC_PER_SEC },
                { "10sec", 10 * USEC_PER_SEC },
                { "0", 0 },
                { "1.", USEC_PER_SEC },
                /* What policy.conf accepted. */
                { "30s", 30 * USEC_PER_SEC },
                { "5min", 300 * USEC_PER_SEC },
                { "2h", 2 * USEC_PER_HOUR },
                { "7d", 7 * USEC_PER_DAY },
                /* Both together. */
                { "1.5h", 90 * USEC_PER_MINUTE },
                { "0.5d", 12 * USEC_PER_HOUR },
                { "1.0005s", 1000500 },
                { "1.2345ms", 1234 }, /* below a microsecond is dropped */
                { "0.0000001s", 0 },
                { "007s", 7 * USEC_PER_SEC },
        };
        static const char *const bad[] = {
                "",    "s",    "-1s",   "+1s",  "1 s", " 1s", "1s ", "1x",  "1e3", "0x10",
                ".5s", "1..5", "1.5.5", "1,5s", "1S",  "1hr", "1w",  "inf", "nan", "1s1",
        };
        check_parser(parse_duration, good, ELEMENTSOF(good), bad, ELEMENTSOF(bad));
}

static void test_duration_overflow(void **state) {
        uint64_t u = 42;

        /* UINT64_MAX microseconds is about 584542 years. */
        assert_int_equal(parse_duration("18446744073709551615ms", &u), -ERANGE);
        assert_int_equal(parse_duration("213503982d", &u), 0);
        assert_int_equal(parse_duration("213503983d", &u), -ERANGE);
        assert_int_equal(parse_duration("99999999999999999999999", &u), -ERANGE);
        assert_int_equal(parse_duration("99999999999999999999999.5h", &u), -ERANGE);
        /* Garbage stays garbage even when the number is too large. */
        assert_int_equal(parse_duration("99999999999999999999999x", &u), -EINVAL);
        u = 42;
        assert_int_equal(parse_duration("18446744073709551615s", &u), -ERANGE);
        assert_int_equal(u, 42);
        assert_int_equal(parse_duration("18446744073709.551615s", &u), 0);
        assert_int_equal(u, UINT64_MAX);
        assert_int_equal(parse_duration("18446744073709.551616s", &u), -ERANGE);
}

static void test_size(void **state) {
        static const Good good[] = {
                /* What audit-rotate accepted. */
                { "65536", 65536 },
                { "64K", 64 * 1024 },
                { "10M", 10 * 1024 * 1024 },
                { "1G", UINT64_C(1) << 30 },
                /* And more. */
                { "0", 0 },
                { "100B", 100 },
                { "64KiB", 64 * 1024 },
                { "10MiB", 10 * 1024 * 1024 },
                { "2GiB", UINT64_C(2) << 30 },
                { "3T", UINT64_C(3) << 40 },
                { "3TiB", UINT64_C(3) << 40 },
                { "16777215T", UINT64_C(16777215) << 40 },
        };
        static const char *const bad[] = {
                "",     "K",   "-5M",  "+5M",  "10X", "1k", "1m", "5 M", " 5M", "5M ",
                "1.5G", "1KB", "1Kib", "0x10", "1e3", "1P", "1E", "M10", "1MM", "10M,",
        };
        check_parser(parse_size, good, ELEMENTSOF(good), bad, ELEMENTSOF(bad));
}

static void test_size_overflow(void **state) {
        uint64_t u = 42;

        assert_int_equal(parse_size("18446744073709551615", &u), 0);
        assert_int_equal(u, UINT64_MAX);
        assert_int_equal(parse_size("18446744073709551616", &u), -ERANGE);
        assert_int_equal(parse_size("16777216T", &u), -ERANGE);
        assert_int_equal(parse_size("17179869184G", &u), -ERANGE);
        assert_int_equal(parse_size("99999999999999999999G", &u), -ERANGE);
        assert_int_equal(parse_size("99999999999999999999X", &u), -EINVAL);
        assert_int_equal(u, UINT64_MAX);
}

static void test_unsigned(void **state) {
        static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1.0", "0x10", "1e3", "12a", "1K" };
        unsigned u = 42;

        assert_int_equal(parse_unsigned("0", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(parse_unsigned("2048", &u), 0);
        assert_int_equal(u, 2048);
        assert_int_equal(parse_unsigned("4294967295", &u), 0);
        assert_int_equal(u, UINT_MAX);
        u = 42;
        assert_int_equal(parse_unsigned("4294967296", &u), -ERANGE);
        assert_int_equal(parse_unsigned("99999999999999999999999", &u), -ERANGE);
        assert_int_equal(parse_unsigned("99999999999999999999999x", &u), -EINVAL);
        assert_int_equal(u, 42);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (parse_unsigned(bad[i], &u) != -EINVAL)
                        fail_msg("'%s' not refused with -EINVAL", bad[i]);
        assert_int_equal(parse_unsigned(NULL, &u), -EINVAL);
}

static void test_decimal(void **state) {
        static const struct {
                const char *s;
                int r;
                double v;
                size_t used;
        } cases[] = {
                { "320", 0, 320, 3 },
                { "-12.5", 0, -12.5, 5 },
                { "0.25", 0, 0.25, 4 },
                { "210.25,70", 0, 210.25, 6 },
                { "1.", -EINVAL, 0, 0 },
                { ".5", -EINVAL, 0, 0 },
                { "1e3", 0, 1, 1 },
                { "inf", -EINVAL, 0, 0 },
                { "+1", -EINVAL, 0, 0 },
                { "", -EINVAL, 0, 0 },
                { "-", -EINVAL, 0, 0 },
                { "0x10", 0, 0, 1 },
                { "1234567890.12345", 0, 1234567890.12345, 16 },
                { "1234567890.123456", -ERANGE, 0, 0 },
        };
        double list[4] = { 0 };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *end = NULL;
                double v = -1;
                int r = parse_decimal_prefix(cases[i].s, &end, &v);

                if (r != cases[i].r)
                        fail_msg("'%s': %d, want %d", cases[i].s, r, cases[i].r);
                if (r == 0 && (v != cases[i].v || (size_t) (end - cases[i].s) != cases[i].used))
                        fail_msg("'%s': %.17g after %zu bytes", cases[i].s, v, (size_t) (end - cases[i].s));
        }
        assert_int_equal(parse_decimal_list("320.5,150,-2,80", ',', list, 4), 0);
        assert_true(list[0] == 320.5 && list[1] == 150 && list[2] == -2 && list[3] == 80);
        assert_int_equal(parse_decimal_list("1,2,3", ',', list, 4), -EINVAL);
        assert_int_equal(parse_decimal_list("1,2,3,4,5", ',', list, 4), -EINVAL);
        assert_int_equal(parse_decimal_list("1,2,3,4 ", ',', list, 4), -EINVAL);
        assert_int_equal(parse_decimal_list("1,,3,4", ',', list, 4), -EINVAL);
        assert_true(list[0] == 320.5); /* untouched on failure */
}

static void test_page_place(void **state) {
        double rect[4] = { 0 };
        unsigned page = 99;
        bool last = true;

        assert_int_equal(parse_page_place("2,300,150.5,240,80", &last, &page, rect), 0);
        assert_false(last);
        assert_int_equal(page, 2);
        assert_true(rect[0] == 300 && rect[1] == 150.5 && rect[2] == 240 && rect[3] == 80);
        assert_int_equal(parse_page_place("last,-10,0,1,1", &last, &page, rect), 0);
        assert_true(last);
        assert_int_equal(page, 0);
        assert_int_equal(parse_page_place("0,1,2,3,4", &last, &page, rect), -EINVAL);
        assert_int_equal(parse_page_place("1,1,2,0,4", &last, &page, rect), -EINVAL);
        assert_int_equal(parse_page_place("1,1,2,3,-4", &last, &page, rect), -EINVAL);
        assert_int_equal(parse_page_place("1,1,2,14400,4", &last, &page, rect), -EINVAL);
        assert_int_equal(parse_page_place("first,1,2,3,4", &last, &page, rect), -EINVAL);
        assert_int_equal(parse_page_place("1", &last, &page, rect), -EINVAL);
        assert_int_equal(parse_page_place("1,1,2,3", &last, &page, rect), -EINVAL);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_boolean),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_duration_overflow),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_size_overflow),
        cmocka_unit_test(test_unsigned),
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_page_place),
});
