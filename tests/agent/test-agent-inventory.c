/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <time.h>

#include "agent/agent-inventory.h"
#include "dbus/dbus-dict.h"
#include "openssl-util.h"

#define DAY INT64_C(86400)

static EVP_PKEY *rsa_key, *ec_key;

static int setup_keys(void **state) {
        rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
        ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        return rsa_key && ec_key ? 0 : -1;
}

static int free_keys(void **state) {
        EVP_PKEY_free(rsa_key);
        EVP_PKEY_free(ec_key);
        return 0;
}

/* A self-signed certificate with the given validity (unix seconds) and serial, DER-encoded. */
static size_t make_cert(EVP_PKEY *key, int64_t not_before, int64_t not_after, long serial, uint8_t **ret) {
        _cleanup_(X509_freep) X509 *x = X509_new();
        X509_NAME *name;
        int n;

        assert_non_null(x);
        assert_true(X509_set_version(x, 2));
        assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
        assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t) not_before));
        assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t) not_after));
        name = X509_get_subject_name(x);
        assert_true(X509_NAME_add_entry_by_txt(
                name, "C", MBSTRING_UTF8, (const unsigned char *) "VN", -1, -1, 0));
        assert_true(X509_NAME_add_entry_by_txt(
                name, "O", MBSTRING_UTF8, (const unsigned char *) "UBND phường Uông Bí", -1, -1, 0));
        assert_true(X509_NAME_add_entry_by_txt(
                name, "CN", MBSTRING_UTF8, (const unsigned char *) "Nguyễn Văn An", -1, -1, 0));
        assert_true(X509_set_issuer_name(x, name));
        assert_true(X509_set_pubkey(x, key));
        assert_true(X509_sign(x, key, EVP_sha256()) > 0);
        *ret = NULL;
        n = i2d_X509(x, ret);
        assert_true(n > 0);
        return (size_t) n;
}

static void test_fields(void **state) {
        _cleanup_(certificate_info_done) CertificateInfo info = {};
        int64_t now = (int64_t) time(NULL);
        _cleanup_free_ uint8_t *der = NULL;
        size_t size = make_cert(rsa_key, now - DAY, now + 100 * DAY + 3600, 0x1001, &der);
        uint8_t md[32];
        char hex[65];

        assert_int_equal(certificate_info_from_der(NULL, der, size, now, &info), 0);
        assert_string_equal(info.subject, "CN=Nguyễn Văn An,O=UBND phường Uông Bí,C=VN");
        assert_string_equal(info.issuer, info.subject);
        assert_string_equal(info.serial, "1001");
        assert_int_equal(info.not_before, now - DAY);
        assert_int_equal(info.not_after, now + 100 * DAY + 3600);
        assert_string_equal(info.key_type, "rsa");
        assert_int_equal(info.key_bits, 2048);
        assert_int_equal(info.days_left, 100);
        assert_string_equal(info.status, "valid");
        assert_string_equal(info.kind, "unknown");

        /* The fingerprint is SHA-256 over the DER, in lowercase hex. */
        assert_true(EVP_Digest(der, size, md, NULL, EVP_sha256(), NULL));
        for (size_t i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        assert_string_equal(info.sha256, hex);
}

/* The same with a keyUsage extension (value as `openssl x509` writes it). */
static size_t make_cert_ku(const char *ku, int64_t now, uint8_t **ret) {
        _cleanup_free_ uint8_t *der = NULL;
        size_t size = make_cert(rsa_key, now - DAY, now + 100 * DAY, 0x1005, &der);
        const unsigned char *p = der;
        _cleanup_(X509_freep) X509 *x = d2i_X509(NULL, &p, (long) size);
        X509_EXTENSION *e;
        int n;

        assert_non_null(x);
        e = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, ku);
        assert_non_null(e);
        assert_true(X509_add_ext(x, e, -1));
        X509_EXTENSION_free(e);
        assert_true(X509_sign(x, rsa_key, EVP_sha256()) > 0);
        *ret = NULL;
        n = i2d_X509(x, ret);
        assert_true(n > 0);
        return (size_t) n;
}

/* A certificate whose key usage will be refused is marked unusable for signing, naming the missing bit
 * (issue 13: `certs` showed it as valid and `sign` offered it, to refuse it after the PIN). */
static void test_signing_usage(void **state) {
        int64_t now = (int64_t) time(NULL);
        _cleanup_free_ uint8_t *ds = NULL, *both = NULL;
        size_t ds_size = make_cert_ku("critical,digitalSignature", now, &ds),
               both_size = make_cert_ku("critical,digitalSignature,nonRepudiation", now, &both);
        _cleanup_(certificate_info_done) CertificateInfo a = {}, b = {};

        assert_int_equal(certificate_info_from_der(NULL, ds, ds_size, now, &a), 0);
        assert_string_equal(a.status, "valid");
        assert_false(a.signing_usable);
        assert_non_null(a.reason);
        assert_non_null(strstr(a.reason, "lacks nonRepudiation"));

        assert_int_equal(certificate_info_from_der(NULL, both, both_size, now, &b), 0);
        assert_true(b.signing_usable);
        assert_null(b.reason);
}

static void test_ec_key(void **state) {
        _cleanup_(certificate_info_done) CertificateInfo info = {};
        int64_t now = (int64_t) time(NULL);
        _cleanup_free_ uint8_t *der = NULL;
        size_t size = make_cert(ec_key, now - DAY, now + 400 * DAY, 0x7f, &der);

        assert_int_equal(certificate_info_from_der(NULL, der, size, now, &info), 0);
        assert_string_equal(info.key_type, "ec");
        assert_int_equal(info.key_bits, 256);
        assert_string_equal(info.serial, "7f");
}

static const char *status_at(int64_t not_before_offset, int64_t not_after_offset, int64_t *ret_days) {
        static char status[32];
        _cleanup_(certificate_info_done) CertificateInfo info = {};
        int64_t now = 1800000000; /* fixed: the result must not depend on the clock */
        _cleanup_free_ uint8_t *der = NULL;
        size_t size = make_cert(ec_key, now + not_before_offset, now + not_after_offset, 1, &der);

        assert_int_equal(certificate_info_from_der(NULL, der, size, now, &info), 0);
        snprintf(status, sizeof status, "%s", info.status);
        if (ret_days)
                *ret_days = info.days_left;
        return status;
}

static void test_status_from_validity(void **state) {
        int64_t days;

        assert_string_equal(status_at(-DAY, 61 * DAY, &days), "valid");
        assert_int_equal(days, 61);
        assert_string_equal(status_at(-DAY, 60 * DAY, &days), "expiring"); /* Art. 11: 60 days */
        assert_int_equal(days, 60);
        assert_string_equal(status_at(-DAY, 60 * DAY + DAY - 1, &days), "expiring");
        assert_string_equal(status_at(-DAY, 1, &days), "expiring");
        assert_int_equal(days, 0);
        assert_string_equal(status_at(-400 * DAY, -1, &days), "expired");
        assert_int_equal(days, -1); /* rounded down, not towards zero */
        assert_string_equal(status_at(-400 * DAY, -DAY - DAY / 2, &days), "expired");
        assert_int_equal(days, -2);
        assert_string_equal(status_at(30 * DAY, 400 * DAY, &days), "not-yet-valid");
        assert_int_equal(days, 400);
}

static void test_bad_der(void **state) {
        CertificateInfo info = {};
        int64_t now = (int64_t) time(NULL);
        _cleanup_free_ uint8_t *der = NULL;
        size_t size = make_cert(ec_key, now - DAY, now + DAY, 1, &der);
        _cleanup_free_ uint8_t *longer = malloc(size + 1);

        assert_int_equal(certificate_info_from_der(NULL, NULL, 0, now, &info), -EBADMSG);
        assert_int_equal(
                certificate_info_from_der(NULL, (const uint8_t *) "\x30\x03\x02\x01\x01", 5, now, &info),
                -EBADMSG);
        assert_int_equal(
                certificate_info_from_der(NULL, der, size - 1, now, &info), -EBADMSG); /* truncated */
        assert_non_null(longer);
        memcpy(longer, der, size);
        longer[size] = 0;
        assert_int_equal(
                certificate_info_from_der(NULL, longer, size + 1, now, &info), -EBADMSG); /* trailing byte */
        assert_null(info.subject);
}

static void test_pin_state(void **state) {
        assert_string_equal(agent_pin_state(0), "ok");
        assert_string_equal(agent_pin_state(P11_LOGIN_REQUIRED | P11_PROTECTED_AUTH_PATH), "ok");
        assert_string_equal(agent_pin_state(P11_PIN_COUNT_LOW), "count-low");
        assert_string_equal(agent_pin_state(P11_PIN_COUNT_LOW | P11_PIN_FINAL_TRY), "final-try");
        assert_string_equal(agent_pin_state(P11_PIN_FINAL_TRY | P11_PIN_LOCKED), "locked");
}

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("key %s missing", key);
        return v;
}

/* Real eTokens hide the private key until login, often with no public key beside it: such a certificate
 * is still a candidate (kysoctl sign without --cert), but only on a token that needs a login and when the
 * certificate has a CKA_ID to find the key by. */
static void test_key_after_login(void **state) {
        uint8_t id = 1;
        P11Token login = { .pin_flags = P11_LOGIN_REQUIRED }, open = {};
        P11Certificate hidden = { .id = &id, .id_size = 1 },
                       shown = { .id = &id, .id_size = 1, .has_private_key = true }, no_id = {};
        (void) state;

        assert_true(p11_certificate_key_after_login(&hidden, &login));
        assert_false(p11_certificate_key_after_login(&shown, &login)); /* has-private-key says it */
        assert_false(
                p11_certificate_key_after_login(&hidden, &open)); /* nothing is hidden without a login */
        assert_false(p11_certificate_key_after_login(&no_id, &login)); /* no CKA_ID: nothing to find it by */
        assert_false(p11_certificate_key_after_login(&hidden, NULL));  /* token unknown */
}

static void test_dicts(void **state) {
        int64_t now = (int64_t) time(NULL);
        _cleanup_free_ uint8_t *der = NULL;
        size_t size = make_cert(rsa_key, now - DAY, now + 10 * DAY + 60, 0x1003, &der);
        P11Token tok = {
                .uri = (char *) "pkcs11:token=seal",
                .module_path = (char *) "/usr/lib/softhsm/libsofthsm2.so",
                .label = (char *) "seal",
                .manufacturer = (char *) "SoftHSM project",
                .model = (char *) "SoftHSM v2",
                .serial = (char *) "0123",
                .pin_flags = P11_PIN_FINAL_TRY | P11_PROTECTED_AUTH_PATH,
        };
        P11Certificate cert = {
                .uri = (char *) "pkcs11:token=seal;id=%01;object=seal;type=cert",
                .token_uri = tok.uri,
                .label = (char *) "seal",
                .der = der,
                .der_size = size,
                .has_private_key = true,
        };
        P11Certificate garbage = { .uri = (char *) "pkcs11:token=seal;id=%02;type=cert",
                                   .token_uri = tok.uri,
                                   .der = (uint8_t *) "junk",
                                   .der_size = 4 };
        const P11Token *tokens[] = { &tok };
        const P11Certificate *certs[] = { &garbage, &cert };
        DBusMessage *m = dbus_message_new_signal("/a", "a.b", "C");
        DBusMessageIter it;
        json_object *j = NULL, *t, *c;

        assert_non_null(m);
        dbus_message_iter_init_append(m, &it);
        assert_int_equal(agent_append_tokens(&it, tokens, 1), 0);
        assert_int_equal(agent_append_certificates(&it, NULL, NULL, tokens, 1, certs, 2, now), 0);
        assert_string_equal(dbus_message_get_signature(m), "aa{sv}aa{sv}");

        assert_true(dbus_message_iter_init(m, &it));
        assert_int_equal(dbus_iter_to_json(&it, &j), 0);
        assert_int_equal(json_object_array_length(j), 1);
        t = json_object_array_get_idx(j, 0);
        assert_string_equal(json_object_get_string(get(t, "uri")), "pkcs11:token=seal");
        assert_string_equal(json_object_get_string(get(t, "label")), "seal");
        assert_string_equal(json_object_get_string(get(t, "pin-state")), "final-try");
        assert_true(json_object_get_boolean(get(t, "protected-auth-path")));
        assert_false(json_object_get_boolean(get(t, "login-required")));
        json_object_put(j);

        assert_true(dbus_message_iter_next(&it));
        assert_int_equal(dbus_iter_to_json(&it, &j), 0);
        assert_int_equal(json_object_array_length(j), 1); /* the garbage object is left out */
        c = json_object_array_get_idx(j, 0);
        assert_string_equal(json_object_get_string(get(c, "token-label")), "seal");
        assert_false(json_object_get_boolean(get(c, "key-after-login"))); /* the key shows */
        assert_string_equal(json_object_get_string(get(c, "serial")), "1003");
        assert_int_equal(json_object_get_int64(get(c, "days-left")), 10);
        assert_string_equal(json_object_get_string(get(c, "status")), "expiring");
        assert_int_equal(json_object_get_int64(get(c, "key-bits")), 2048);
        assert_int_equal(json_object_get_int64(get(c, "not-after")), now + 10 * DAY + 60);
        assert_true(json_object_get_boolean(get(c, "has-private-key")));
        json_object_put(j);
        dbus_message_unref(m);
}

KYSO_TEST_MAIN_GROUP(
        setup_keys, free_keys,
        {
                cmocka_unit_test(test_fields),
                cmocka_unit_test(test_ec_key),
                cmocka_unit_test(test_status_from_validity),
                cmocka_unit_test(test_signing_usage),
                cmocka_unit_test(test_bad_der),
                cmocka_unit_test(test_pin_state),
                cmocka_unit_test(test_key_after_login),
                cmocka_unit_test(test_dicts),
        });
