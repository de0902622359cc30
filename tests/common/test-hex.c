/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "hex.h"

static void test_encode(void **state) {
        static const unsigned char bin[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
        char out[2 * sizeof bin + 1];

        hex_encode(bin, sizeof bin, out);
        assert_string_equal(out, "00017f80abff");
        hex_encode(bin, 0, out);
        assert_string_equal(out, "");

        _cleanup_free_ char *s = hexmem(bin, sizeof bin);
        assert_string_equal(s, "00017f80abff");
        _cleanup_free_ char *e = hexmem(NULL, 0);
        assert_string_equal(e, "");
}

/* Every byte value at every place of the four-byte steps and of the tail, against hexchar(). */
static void test_encode_all_bytes(void **state) {
        unsigned char bin[7];
        char out[2 * sizeof bin + 1];

        for (size_t at = 0; at < sizeof bin; at++)
                for (unsigned v = 0; v < 256; v++) {
                        memset(bin, 0x5a, sizeof bin);
                        bin[at] = (unsigned char) v;
                        hex_encode(bin, sizeof bin, out);
                        for (size_t i = 0; i < sizeof bin; i++) {
                                assert_int_equal(out[2 * i], hexchar(bin[i] >> 4));
                                assert_int_equal(out[2 * i + 1], hexchar(bin[i]));
                        }
                        assert_int_equal(out[2 * sizeof bin], '\0');
                }
}

static void test_digits(void **state) {
        for (int i = 0; i < 16; i++) {
                assert_int_equal(unhexchar(hexchar(i)), i);
                assert_int_equal(hexchar(i + 16), hexchar(i)); /* only the low four bits count */
        }
        assert_int_equal(unhexchar('A'), 10);
        assert_int_equal(unhexchar('f'), 15);
        assert_int_equal(unhexchar('F'), 15);
        assert_int_equal(unhexchar('g'), -EINVAL);
        assert_int_equal(unhexchar(':'), -EINVAL);
        assert_int_equal(unhexchar('\0'), -EINVAL);
        assert_int_equal(unhexchar((char) 0xe1), -EINVAL);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_all_bytes),
        cmocka_unit_test(test_digits),
});
