/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pdf-object-body: /Length written for the caller, numbers in PDF's real syntax, objects serialized as
 * "N 0 obj ... endobj", and deflate that zlib inflates. */
#include "kyso-test.h"

#include <locale.h>
#include <math.h>
#include <zlib.h>

#include "formats/pdf-object-body.h"

static void test_number(void **state) {
        char b[PDF_NUMBER_MAX];

        assert_string_equal(pdf_number(0, b), "0");
        assert_string_equal(pdf_number(-0.0001, b), "0");
        assert_string_equal(pdf_number(12.5, b), "12.5");
        assert_string_equal(pdf_number(-1.0 / 3, b), "-0.333");
        assert_string_equal(pdf_number(595.2756, b), "595.276");
        assert_string_equal(pdf_number(100, b), "100");
        /* No exponent form exists in PDF: nonsense becomes 0 rather than "1e+300". */
        assert_string_equal(pdf_number(1e300, b), "0");
        assert_string_equal(pdf_number(NAN, b), "0");
}

/* A PDF number has a '.' whatever the locale: in vi_VN printf() writes "320,5", which breaks the content
 * stream and the /Rect it goes into. */
static void test_number_any_locale(void **state) {
        char b[PDF_NUMBER_MAX];

        if (!setlocale(LC_NUMERIC, "vi_VN.UTF-8"))
                skip();
        assert_string_equal(pdf_number(320.5, b), "320.5");
        assert_string_equal(pdf_number(-0.25, b), "-0.25");
        setlocale(LC_NUMERIC, "C");
}

static void test_body(void **state) {
        PdfObjectBody b = {}, d = {};
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;

        assert_int_equal(pdf_object_body_new(&b, (uint8_t *) strdup("q Q"), 3, "<< /Subtype /Form>>"), 0);
        assert_string_equal(b.dict, "<< /Subtype /Form /Length 3>>");
        assert_int_equal(pdf_object_body_new(&d, NULL, 0, "<< /Type /Font /N %d >>", 7), 0);
        assert_string_equal(d.dict, "<< /Type /Font /N 7 >>");
        assert_null(d.stream);

        assert_int_equal(pdf_object_body_serialize(&b, 12, &buf, &size), 0);
        assert_int_equal(pdf_object_body_serialize(&d, 13, &buf, &size), 0);
        assert_int_equal(
                size, strlen("12 0 obj\n<< /Subtype /Form /Length 3>>\nstream\nq Q\nendstream\nendobj\n"
                             "13 0 obj\n<< /Type /Font /N 7 >>\nendobj\n"));
        assert_memory_equal(
                buf,
                "12 0 obj\n<< /Subtype /Form /Length 3>>\nstream\nq Q\nendstream\nendobj\n"
                "13 0 obj\n<< /Type /Font /N 7 >>\nendobj\n",
                size);
        pdf_object_body_done(&b);
        pdf_object_body_done(&d);
        pdf_object_body_done(&d); /* twice is harmless */

        /* Not a dictionary: refused, and the stream given is freed all the same (ASan would say). */
        assert_int_equal(pdf_object_body_new(&b, (uint8_t *) strdup("x"), 1, "[1 2 3]"), -EINVAL);
        assert_int_equal(pdf_object_body_new(&b, NULL, 0, "<<"), -EINVAL);
}

static void test_deflate(void **state) {
        static const char text[] = "ĐỘC LẬP - TỰ DO - HẠNH PHÚC ĐỘC LẬP - TỰ DO - HẠNH PHÚC";
        _cleanup_free_ uint8_t *z = NULL;
        char back[sizeof text];
        uLongf n = sizeof back;
        size_t zs;

        assert_int_equal(pdf_deflate(text, sizeof text, &z, &zs), 0);
        assert_true(zs < sizeof text);
        assert_int_equal(uncompress((Bytef *) back, &n, z, zs), Z_OK);
        assert_int_equal(n, sizeof text);
        assert_memory_equal(back, text, sizeof text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_number),
                cmocka_unit_test(test_number_any_locale),
                cmocka_unit_test(test_body),
                cmocka_unit_test(test_deflate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
