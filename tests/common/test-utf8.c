/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "macro.h"
#include "utf8.h"

static void test_decode(void **state) {
        uint32_t c = 0;

        assert_int_equal(utf8_decode("a", 1, &c), 1);
        assert_int_equal(c, 'a');
        assert_int_equal(utf8_decode("\xc3\xa1", 2, &c), 2); /* á */
        assert_int_equal(c, 0xe1);
        assert_int_equal(utf8_decode("\xe1\xbb\x87", 3, &c), 3); /* ệ */
        assert_int_equal(c, 0x1ec7);
        assert_int_equal(utf8_decode("\xf0\x9f\x98\x80", 4, &c), 4);
        assert_int_equal(c, 0x1f600);
        assert_int_equal(utf8_decode("\xe1\xbb\x87", 2, &c), -EILSEQ); /* cut short by n */
        assert_int_equal(utf8_decode("\xe1o", 2, &c), -EILSEQ);        /* Windows-1258 'á' */
        assert_int_equal(utf8_decode("\xc0\xaf", 2, &c), -EILSEQ);     /* overlong '/' */
        assert_int_equal(utf8_decode("\xe0\x80\xaf", 3, &c), -EILSEQ); /* overlong '/', 3 bytes */
        assert_int_equal(utf8_decode("\xf0\x80\x80\xaf", 4, &c), -EILSEQ);
        assert_int_equal(utf8_decode("\xed\xa0\x80", 3, &c), -EILSEQ);     /* surrogate */
        assert_int_equal(utf8_decode("\xf4\x90\x80\x80", 4, &c), -EILSEQ); /* above U+10FFFF */
        assert_int_equal(utf8_decode("\xf8\x88\x80\x80\x80", 5, &c), -EILSEQ);
        assert_int_equal(utf8_decode("\x80", 1, &c), -EILSEQ);
        assert_int_equal(utf8_decode("\xc3", 2, &c), -EILSEQ); /* the NUL ends it */
}

static void test_valid(void **state) {
        assert_true(utf8_is_valid(""));
        assert_true(utf8_is_valid("Uông Bí"));
        assert_false(utf8_is_valid(NULL));
        assert_false(utf8_is_valid("b\xe1o-c\xe1o.txt"));
        assert_false(utf8_is_valid("\xe1\xba"));
        assert_true(utf8_is_valid_n("ab", 2));
        assert_false(utf8_is_valid_n("a\0b", 3)); /* a NUL inside */
}

static void test_escape(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        a = utf8_escape("b\xe1o-c\xe1o.txt");
        assert_string_equal(a, "b\\xe1o-c\\xe1o.txt");
        assert_true(utf8_is_valid(a));
        /* Valid text without a backslash is copied as it is. */
        b = utf8_escape("Báo cáo.txt");
        assert_string_equal(b, "Báo cáo.txt");
        /* A backslash is doubled, so "\xe1" typed by someone stays apart from the byte 0xe1. */
        c = utf8_escape("a\\xe1");
        assert_string_equal(c, "a\\\\xe1");
        /* A cut-off sequence: each byte on its own; valid characters around it kept. */
        d = utf8_escape("\xe1\xbb"
                        "ệ\xff");
        assert_string_equal(d, "\\xe1\\xbbệ\\xff");
        e = utf8_escape(NULL);
        assert_string_equal(e, "");
}

static void test_valid_or_escaped(void **state) {
        _cleanup_free_ char *buf = NULL, *owned = NULL;
        const char *valid = "a\\b Báo cáo";

        /* Valid text is the text itself, its backslash kept single; nothing is allocated. */
        assert_ptr_equal(utf8_valid_or_escaped(valid, &buf), valid);
        assert_null(buf);
        assert_string_equal(utf8_valid_or_escaped(NULL, &buf), "");
        assert_null(buf);
        /* Text that is not UTF-8 is its escaped copy, owned by buf. */
        assert_string_equal(utf8_valid_or_escaped("b\xe1o\\", &buf), "b\\xe1o\\\\");
        assert_non_null(buf);

        owned = strdup("a\\b");
        assert_non_null(owned);
        assert_int_equal(utf8_make_valid(&owned), 0);
        assert_string_equal(owned, "a\\b");
        owned = mfree(owned);
        owned = strdup("b\xe1o");
        assert_non_null(owned);
        assert_int_equal(utf8_make_valid(&owned), 0);
        assert_string_equal(owned, "b\\xe1o");
        owned = mfree(owned);
        assert_int_equal(utf8_make_valid(&owned), 0);
        assert_null(owned);
}

static void test_utf16be_hex(void **state) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        utf16be_hex_write(f, 'A');
        utf16be_hex_write(f, 0x1ec7);  /* ệ */
        utf16be_hex_write(f, 0x1f600); /* above U+FFFF: a surrogate pair */
        assert_int_equal(fclose(f), 0);
        assert_string_equal(buf, "00411EC7D83DDE00");
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_valid_or_escaped),
        cmocka_unit_test(test_utf16be_hex),
});
