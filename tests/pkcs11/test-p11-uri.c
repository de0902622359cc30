/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "macro.h"
#include "pkcs11/p11-uri.h"

static const P11Token leader = {
        .label = (char *) "leader",
        .manufacturer = (char *) "SoftHSM project",
        .model = (char *) "SoftHSM v2",
        .serial = (char *) "5a3c1e0f9b2d4c11",
        .module_path = (char *) "/usr/lib/softhsm/libsofthsm2.so",
        .slot_id = 42,
};

static const P11Token seal = {
        .label = (char *) "seal",
        .manufacturer = (char *) "SoftHSM project",
        .model = (char *) "SoftHSM v2",
        .serial = (char *) "0000000000000002",
        .slot_id = 43,
};

static uint8_t id01[] = { 0x01 };
static uint8_t id02[] = { 0x02 };

static const P11Certificate cert_leader = { .label = (char *) "leader", .id = id01, .id_size = 1 };
static const P11Certificate cert_leader2 = { .label = (char *) "Trần Thị Bình", .id = id02, .id_size = 1 };

static void test_format_token(void **state) {
        _cleanup_free_ char *s = NULL;
        P11UriToken t = { "leader", "SoftHSM project", "SoftHSM v2", "5a3c1e0f9b2d4c11" };

        assert_int_equal(p11_uri_format_token(&t, &s), 0);
        assert_non_null(strstr(s, "pkcs11:"));
        assert_non_null(strstr(s, "token=leader"));
        assert_non_null(strstr(s, "manufacturer=SoftHSM%20project"));
        assert_non_null(strstr(s, "serial=5a3c1e0f9b2d4c11"));
        assert_null(strstr(s, "type="));
        /* What we print matches the token it was made from, and only that one. */
        assert_int_equal(p11_uri_match_token(s, &leader), 1);
        assert_int_equal(p11_uri_match_token(s, &seal), 0);

        /* Fields longer than CK_TOKEN_INFO can hold are refused. */
        P11UriToken bad = { "a label that is much longer than thirty-two bytes", "m", "m", "s" };
        _cleanup_free_ char *s2 = NULL;
        assert_int_equal(p11_uri_format_token(&bad, &s2), -EINVAL);
}

static void test_format_certificate(void **state) {
        _cleanup_free_ char *s = NULL, *s2 = NULL;
        P11UriToken t = { "leader", "SoftHSM project", "SoftHSM v2", "5a3c1e0f9b2d4c11" };

        assert_int_equal(p11_uri_format_certificate(&t, id01, 1, "leader", &s), 0);
        assert_non_null(strstr(s, "id=%01"));
        assert_non_null(strstr(s, "object=leader"));
        assert_non_null(strstr(s, "type=cert"));
        assert_int_equal(p11_uri_match_certificate(s, &leader, &cert_leader), 1);
        assert_int_equal(p11_uri_match_certificate(s, &leader, &cert_leader2), 0);
        assert_int_equal(p11_uri_match_certificate(s, &seal, &cert_leader), 0);

        /* UTF-8 labels survive percent-encoding. */
        assert_int_equal(p11_uri_format_certificate(&t, id02, 1, "Trần Thị Bình", &s2), 0);
        assert_int_equal(p11_uri_match_certificate(s2, &leader, &cert_leader2), 1);
        assert_int_equal(p11_uri_match_certificate(s2, &leader, &cert_leader), 0);
}

static void test_match_user_uris(void **state) {
        /* A user types short URIs: token only, id only, label only. */
        assert_int_equal(p11_uri_match_token("pkcs11:token=leader", &leader), 1);
        assert_int_equal(p11_uri_match_token("pkcs11:token=seal", &leader), 0);
        assert_int_equal(p11_uri_match_token("pkcs11:", &leader), 1);
        assert_int_equal(p11_uri_match_token("pkcs11:slot-id=42", &leader), 1);
        assert_int_equal(p11_uri_match_token("pkcs11:slot-id=41", &leader), 0);
        assert_int_equal(p11_uri_match_token("pkcs11:model=SoftHSM%20v2;token=leader", &leader), 1);
        assert_int_equal(
                p11_uri_match_token(
                        "pkcs11:token=leader?module-path=/usr/lib/softhsm/libsofthsm2.so", &leader),
                1);
        assert_int_equal(p11_uri_match_token("pkcs11:token=leader?module-path=/other.so", &leader), 0);
        assert_int_equal(p11_uri_match_certificate("pkcs11:token=leader;id=%01", &leader, &cert_leader), 1);
        assert_int_equal(p11_uri_match_certificate("pkcs11:token=leader;id=%02", &leader, &cert_leader), 0);
        assert_int_equal(
                p11_uri_match_certificate("pkcs11:object=leader;type=cert", &leader, &cert_leader), 1);
        assert_int_equal(p11_uri_match_certificate("pkcs11:token=leader", &leader, &cert_leader2), 1);
}

static void test_malformed(void **state) {
        static const char *const bad[] = {
                "",
                "leader",
                "http://example.com",
                "pkcs11:token=%zz",                   /* bad percent-encoding */
                "pkcs11:token=leader;id=%0",          /* truncated escape */
                "pkcs11:token=leader?pin-value=1111", /* never a PIN in a URI */
                "pkcs11:token=leader?pin-source=file:/tmp/pin",
                "pkcs11:type=private;id=%01", /* not a certificate */
                "pkcs11:type=bogus",
                "pkcs11:unknown-attr=1",
                "pkcs11:slot-id=notanumber",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (p11_uri_validate(bad[i]) != -EINVAL)
                        fail_msg("URI accepted: '%s'", bad[i]);
                assert_int_equal(p11_uri_match_token(bad[i], &leader), -EINVAL);
                assert_int_equal(p11_uri_match_certificate(bad[i], &leader, &cert_leader), -EINVAL);
        }
        assert_int_equal(p11_uri_validate(NULL), -EINVAL);
        assert_int_equal(p11_uri_validate("pkcs11:token=leader;type=cert"), 0);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_format_token),
        cmocka_unit_test(test_format_certificate),
        cmocka_unit_test(test_match_user_uris),
        cmocka_unit_test(test_malformed),
});
