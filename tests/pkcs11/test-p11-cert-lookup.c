/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "macro.h"
#include "pkcs11/p11-cert-lookup.h"

/* Two tokens: the leader's (a login hides its keys, as on real eTokens) and the seal's. */
static const P11Token leader = {
        .uri = (char *) "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=1;token=leader",
        .label = (char *) "leader",
        .manufacturer = (char *) "SoftHSM project",
        .model = (char *) "SoftHSM v2",
        .serial = (char *) "1",
        .pin_flags = P11_LOGIN_REQUIRED,
};
static const P11Token seal = {
        .uri = (char *) "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=2;token=seal",
        .label = (char *) "seal",
        .manufacturer = (char *) "SoftHSM project",
        .model = (char *) "SoftHSM v2",
        .serial = (char *) "2",
};

static uint8_t id01[] = { 0x01 }, id02[] = { 0x02 }, id03[] = { 0x03 }, id04[] = { 0x04 };

#define LEADER_URI "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=1;token=leader"
#define SEAL_URI "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=2;token=seal"
static const P11Certificate c_leader = { .uri = (char *) LEADER_URI ";id=%01;object=leader;type=cert",
                                         .token_uri = (char *) LEADER_URI,
                                         .label = (char *) "leader",
                                         .id = id01,
                                         .id_size = 1,
                                         .has_private_key = true };
/* Its key shows only after login (the token needs one, and it has a CKA_ID). */
static const P11Certificate c_nopub = { .uri = (char *) LEADER_URI ";id=%02;object=nopub;type=cert",
                                        .token_uri = (char *) LEADER_URI,
                                        .label = (char *) "nopub",
                                        .id = id02,
                                        .id_size = 1 };
static const P11Certificate c_seal = { .uri = (char *) SEAL_URI ";id=%03;object=seal;type=cert",
                                       .token_uri = (char *) SEAL_URI,
                                       .label = (char *) "seal",
                                       .id = id03,
                                       .id_size = 1,
                                       .has_private_key = true };
/* No key, and its token shows every key without a login: it cannot sign. */
static const P11Certificate c_nokey = { .uri = (char *) SEAL_URI ";id=%04;object=nokey;type=cert",
                                        .token_uri = (char *) SEAL_URI,
                                        .label = (char *) "nokey",
                                        .id = id04,
                                        .id_size = 1 };
/* A key, but no CKA_ID to find it by. */
static const P11Certificate c_noid = { .uri = (char *) SEAL_URI ";object=noid;type=cert",
                                       .token_uri = (char *) SEAL_URI,
                                       .label = (char *) "noid",
                                       .has_private_key = true };
/* On a token that is not present. */
static const P11Certificate c_gone = { .uri = (char *) "pkcs11:token=gone;object=gone;type=cert",
                                       .token_uri = (char *) "pkcs11:token=gone",
                                       .label = (char *) "gone",
                                       .id = id01,
                                       .id_size = 1,
                                       .has_private_key = true };

static const P11Token *const tokens[] = { &leader, &seal };
static const P11Certificate *const certs[] = { &c_leader, &c_nopub, &c_seal, &c_nokey, &c_noid, &c_gone };

static int lookup(const char *uri, P11LookupFlags flags, const P11Token **t, const P11Certificate **c) {
        return p11_certificate_lookup(
                uri, tokens, ELEMENTSOF(tokens), certs, ELEMENTSOF(certs), flags, t, c);
}

static void test_unique(void **state) {
        const P11Token *t = NULL;
        const P11Certificate *c = NULL;

        assert_int_equal(
                lookup("pkcs11:token=leader;object=leader;type=cert", P11_LOOKUP_NEED_KEY, &t, &c), 0);
        assert_ptr_equal(c, &c_leader);
        assert_ptr_equal(t, &leader);
        /* The certificate's own URI, as kysoctl certs prints it. */
        assert_int_equal(lookup(c_seal.uri, P11_LOOKUP_NEED_KEY, &t, &c), 0);
        assert_ptr_equal(c, &c_seal);
        assert_ptr_equal(t, &seal);
        assert_int_equal(lookup("pkcs11:object=nopub", 0, NULL, &c), 0);
        assert_ptr_equal(c, &c_nopub);
}

/* Several matches are ambiguous, also when only one of them could sign: the caller names the one it means.
 */
static void test_not_unique(void **state) {
        const P11Certificate *c = NULL;

        assert_int_equal(lookup("pkcs11:token=leader", P11_LOOKUP_NEED_KEY, NULL, &c), -ENOTUNIQ);
        assert_int_equal(lookup("pkcs11:token=seal;type=cert", P11_LOOKUP_NEED_KEY, NULL, &c), -ENOTUNIQ);
        assert_int_equal(lookup("pkcs11:type=cert", 0, NULL, &c), -ENOTUNIQ);
        assert_null(c);
}

static void test_none(void **state) {
        const P11Certificate *c = NULL;

        assert_int_equal(lookup("pkcs11:token=leader;object=nothing;type=cert", 0, NULL, &c), -ENODEV);
        /* A certificate whose token is not present is not there. */
        assert_int_equal(lookup("pkcs11:token=gone;object=gone;type=cert", 0, NULL, &c), -ENODEV);
        assert_int_equal(lookup("not-a-uri", 0, NULL, &c), -EINVAL);
        assert_null(c);
}

/* The key rules: a key, or one that may show after login; and a CKA_ID to find it by. */
static void test_key(void **state) {
        const P11Certificate *c = NULL;

        assert_int_equal(lookup("pkcs11:object=nopub;type=cert", P11_LOOKUP_NEED_KEY, NULL, &c), 0);
        assert_ptr_equal(c, &c_nopub);
        c = NULL;
        assert_int_equal(lookup("pkcs11:object=nokey;type=cert", P11_LOOKUP_NEED_KEY, NULL, &c), -ENOKEY);
        assert_int_equal(lookup("pkcs11:object=noid;type=cert", P11_LOOKUP_NEED_KEY, NULL, &c), -ENOKEY);
        assert_null(c);
        /* Without the key rule they are found (which token a request waits for). */
        assert_int_equal(lookup("pkcs11:object=nokey;type=cert", 0, NULL, &c), 0);
        assert_ptr_equal(c, &c_nokey);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_not_unique),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_key),
});
