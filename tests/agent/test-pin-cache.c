/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "agent/pin-cache.h"

#define SEC UINT64_C(1000000)

static const char uri_a[] = "pkcs11:manufacturer=SoftHSM;serial=aaaa;token=Leader";
static const char uri_b[] = "pkcs11:manufacturer=SoftHSM;serial=bbbb;token=Clerk";

static uint64_t fake_now;

static uint64_t fake_clock(void *userdata) {
        return fake_now;
}

static PinCache *new_cache(uint64_t personal, uint64_t organization, uint64_t max) {
        PinCacheConfig c = { .personal_usec = personal,
                             .organization_usec = organization,
                             .policy_max_usec = max };
        PinCache *cache = NULL;
        assert_int_equal(pin_cache_new(&c, &cache), 0);
        pin_cache_set_clock(cache, fake_clock, NULL);
        fake_now = 1000 * SEC;
        return cache;
}

static void assert_cached(PinCache *c, const char *uri, PinCacheKind kind, const char *pin) {
        _cleanup_secret_ Secret *s = NULL;
        assert_int_equal(pin_cache_get(c, uri, kind, &s), 0);
        assert_string_equal(secret_get(s), pin);
}

static void assert_not_cached(PinCache *c, const char *uri, PinCacheKind kind) {
        Secret *s = NULL;
        assert_int_equal(pin_cache_get(c, uri, kind, &s), -ENOENT);
        assert_null(s);
}

static void test_off_by_default(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = NULL;
        _cleanup_secret_ Secret *pin = secret_new_string("1234");

        assert_int_equal(pin_cache_new(NULL, &c), 0);
        assert_int_equal(pin_cache_lifetime(c, PIN_CACHE_PERSONAL), 0);
        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 0);
        assert_int_equal(pin_cache_size(c), 0);
        assert_not_cached(c, uri_a, PIN_CACHE_PERSONAL);
}

static void test_personal_expiry(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(300 * SEC, 0, 3600 * SEC);
        _cleanup_secret_ Secret *pin = secret_new_string("1234");

        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 1);
        assert_int_equal(pin_cache_size(c), 1);
        assert_cached(c, uri_a, PIN_CACHE_PERSONAL, "1234");
        assert_not_cached(c, uri_b, PIN_CACHE_PERSONAL);

        fake_now += 299 * SEC;
        assert_cached(c, uri_a, PIN_CACHE_PERSONAL, "1234");
        assert_int_equal(pin_cache_expire(c), 0);
        fake_now += 1 * SEC;
        assert_int_equal(pin_cache_expire(c), 1);
        assert_int_equal(pin_cache_size(c), 0);
        assert_not_cached(c, uri_a, PIN_CACHE_PERSONAL);
}

static void test_lazy_expiry_on_get(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(10 * SEC, 0, 3600 * SEC);
        _cleanup_secret_ Secret *pin = secret_new_string("99");

        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 1);
        fake_now += 11 * SEC;
        assert_not_cached(c, uri_a, PIN_CACHE_PERSONAL);
        assert_int_equal(pin_cache_size(c), 0); /* dropped, not just hidden */
}

static void test_policy_cap(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(3600 * SEC, 0, 60 * SEC);
        _cleanup_secret_ Secret *pin = secret_new_string("1234");

        assert_int_equal(pin_cache_lifetime(c, PIN_CACHE_PERSONAL), 60 * SEC);
        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 1);
        fake_now += 59 * SEC;
        assert_cached(c, uri_a, PIN_CACHE_PERSONAL, "1234");
        fake_now += 1 * SEC;
        assert_not_cached(c, uri_a, PIN_CACHE_PERSONAL);
}

static void test_policy_forbids(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(3600 * SEC, 3600 * SEC, 0);
        _cleanup_secret_ Secret *pin = secret_new_string("1234");

        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 0);
        assert_int_equal(pin_cache_put(c, uri_b, PIN_CACHE_ORGANIZATION, pin), 0);
        assert_int_equal(pin_cache_size(c), 0);
}

static void test_organization_off(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(300 * SEC, 0, 3600 * SEC);
        _cleanup_secret_ Secret *pin = secret_new_string("5678");

        assert_int_equal(pin_cache_put(c, uri_b, PIN_CACHE_ORGANIZATION, pin), 0);
        assert_int_equal(pin_cache_put(c, uri_b, PIN_CACHE_DEVICE, pin), 0);
        assert_int_equal(pin_cache_size(c), 0);
        assert_not_cached(c, uri_b, PIN_CACHE_ORGANIZATION);

        /* A PIN kept for a personal signature is not reused for the organisation's. */
        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 1);
        assert_not_cached(c, uri_a, PIN_CACHE_ORGANIZATION);
        assert_cached(c, uri_a, PIN_CACHE_PERSONAL, "5678");

        /* A use that must not be cached forgets the older entry of the token. */
        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_ORGANIZATION, pin), 0);
        assert_int_equal(pin_cache_size(c), 0);
}

static void test_organization_configured(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(0, 120 * SEC, 60 * SEC);
        _cleanup_secret_ Secret *pin = secret_new_string("5678");

        assert_int_equal(pin_cache_lifetime(c, PIN_CACHE_ORGANIZATION), 60 * SEC);
        assert_int_equal(pin_cache_put(c, uri_b, PIN_CACHE_ORGANIZATION, pin), 1);
        assert_cached(c, uri_b, PIN_CACHE_ORGANIZATION, "5678");
        assert_not_cached(c, uri_b, PIN_CACHE_PERSONAL); /* personal caching is off */
}

static void test_replace_and_forget(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(300 * SEC, 0, 3600 * SEC);
        _cleanup_secret_ Secret *p1 = secret_new_string("1111"), *p2 = secret_new_string("2222");

        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, p1), 1);
        assert_int_equal(pin_cache_put(c, uri_b, PIN_CACHE_PERSONAL, p1), 1);
        fake_now += 200 * SEC;
        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, p2), 1);
        assert_int_equal(pin_cache_size(c), 2);
        assert_cached(c, uri_a, PIN_CACHE_PERSONAL, "2222");
        fake_now += 200 * SEC; /* uri_a renewed, uri_b expired */
        assert_cached(c, uri_a, PIN_CACHE_PERSONAL, "2222");
        assert_not_cached(c, uri_b, PIN_CACHE_PERSONAL);

        /* Token removed. */
        assert_int_equal(pin_cache_forget(c, uri_a), 1);
        assert_int_equal(pin_cache_forget(c, uri_a), 0);
        assert_not_cached(c, uri_a, PIN_CACHE_PERSONAL);

        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, p1), 1);
        assert_int_equal(pin_cache_put(c, uri_b, PIN_CACHE_PERSONAL, p1), 1);
        assert_int_equal(pin_cache_forget_all(c), 2);
        assert_int_equal(pin_cache_size(c), 0);
}

static void test_copy_not_shared(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(300 * SEC, 0, 3600 * SEC);
        Secret *pin = secret_new_string("4321");

        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 1);
        secret_free(pin); /* the caller's copy is gone; the cache keeps its own */
        assert_cached(c, uri_a, PIN_CACHE_PERSONAL, "4321");
}

static void test_reconfigure(void **state) {
        _cleanup_(pin_cache_freep) PinCache *c = new_cache(300 * SEC, 0, 3600 * SEC);
        _cleanup_secret_ Secret *pin = secret_new_string("1234");
        PinCacheConfig shorter = { .personal_usec = 300 * SEC, .policy_max_usec = 10 * SEC };
        PinCacheConfig off = {};

        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 1);
        fake_now += 5 * SEC;
        pin_cache_set_config(c, &shorter);
        assert_cached(c, uri_a, PIN_CACHE_PERSONAL, "1234");
        fake_now += 5 * SEC;
        assert_not_cached(c, uri_a, PIN_CACHE_PERSONAL);

        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 1);
        pin_cache_set_config(c, &off);
        assert_int_equal(pin_cache_size(c), 0);
}

static int on_quit(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* With the real clock and an event loop, the entry is wiped when it expires, without anyone asking. */
static void test_timer(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(sd_event_source_unrefp) sd_event_source *quit = NULL;
        _cleanup_(pin_cache_freep) PinCache *c = NULL;
        _cleanup_secret_ Secret *pin = secret_new_string("1234");
        PinCacheConfig conf = { .personal_usec = 200 * 1000, .policy_max_usec = SEC };

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(pin_cache_new(&conf, &c), 0);
        assert_int_equal(pin_cache_attach_event(c, e), 0);
        assert_int_equal(pin_cache_put(c, uri_a, PIN_CACHE_PERSONAL, pin), 1);
        assert_int_equal(pin_cache_size(c), 1);
        assert_int_equal(
                sd_event_add_time_relative(e, &quit, CLOCK_MONOTONIC, 600 * 1000, 1, on_quit, NULL), 0);
        assert_int_equal(sd_event_loop(e), 0);
        assert_int_equal(pin_cache_size(c), 0);
}

static void test_kind_names(void **state) {
        assert_int_equal(pin_cache_kind_from_string("personal"), PIN_CACHE_PERSONAL);
        assert_int_equal(pin_cache_kind_from_string("organization"), PIN_CACHE_ORGANIZATION);
        assert_int_equal(pin_cache_kind_from_string("device"), PIN_CACHE_DEVICE);
        assert_int_equal(pin_cache_kind_from_string("x"), -EINVAL);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_off_by_default),
        cmocka_unit_test(test_personal_expiry),
        cmocka_unit_test(test_lazy_expiry_on_get),
        cmocka_unit_test(test_policy_cap),
        cmocka_unit_test(test_policy_forbids),
        cmocka_unit_test(test_organization_off),
        cmocka_unit_test(test_organization_configured),
        cmocka_unit_test(test_replace_and_forget),
        cmocka_unit_test(test_copy_not_shared),
        cmocka_unit_test(test_reconfigure),
        cmocka_unit_test(test_timer),
        cmocka_unit_test(test_kind_names),
});
