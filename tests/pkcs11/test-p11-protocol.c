/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <dirent.h>
#include <p11-kit/pkcs11.h>

#include "fileio.h"

#include "macro.h"
#include "pkcs11/p11-manager.h"
#include "pkcs11/p11-protocol.h"

static void parse(const P11Writer *w, P11Frame *f) {
        assert_int_equal(p11_frame_parse(w->data, w->size, f), 0);
}

static void test_hello_round_trip(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_hello_reply_done) P11HelloReply out = {};
        P11HelloRequest req = { 1, 3 }, req_out;
        P11HelloReply reply = { .version = 1,
                                .manufacturer = (char *) "SoftHSM",
                                .description = (char *) "x",
                                .cryptoki_major = 2,
                                .cryptoki_minor = 40 };
        P11Frame f;

        assert_int_equal(p11_encode_hello_request(&w, 7, &req), 0);
        parse(&w, &f);
        assert_int_equal(f.type, P11_MSG_HELLO);
        assert_int_equal(f.serial, 7);
        assert_int_equal(p11_decode_hello_request(&f, &req_out), 0);
        assert_int_equal(req_out.min_version, 1);
        assert_int_equal(req_out.max_version, 3);

        assert_int_equal(p11_encode_hello_reply(&w, 8, &reply), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_hello_reply(&f, &out), 0);
        assert_string_equal(out.manufacturer, "SoftHSM");
        assert_int_equal(out.cryptoki_minor, 40);

        /* min > max is nonsense. */
        req = (P11HelloRequest){ 3, 1 };
        assert_int_equal(p11_encode_hello_request(&w, 9, &req), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_hello_request(&f, &req_out), -EBADMSG);
}

static void test_slot_list_round_trip(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_slot_list_done) P11SlotList out = {};
        P11SlotEntry slots[2] = {
                { .slot_id = 0x12345678abcdULL,
                  .slot_flags = 7,
                  .slot_description = (char *) "reader",
                  .label = (char *) "leader",
                  .manufacturer = (char *) "m",
                  .model = (char *) "mo",
                  .serial = (char *) "0011",
                  .token_flags = CKF_USER_PIN_FINAL_TRY | CKF_LOGIN_REQUIRED,
                  .min_pin = 4,
                  .max_pin = 255 },
                { .slot_id = 1, .label = (char *) "seal" },
        };
        P11SlotList in = { slots, 2 };
        P11Frame f;

        assert_int_equal(p11_encode_slot_list(&w, 1, &in), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_slot_list(&f, &out), 0);
        assert_int_equal(out.n_slots, 2);
        assert_true(out.slots[0].slot_id == 0x12345678abcdULL);
        assert_string_equal(out.slots[0].label, "leader");
        assert_string_equal(out.slots[0].serial, "0011");
        assert_int_equal(out.slots[0].max_pin, 255);
        assert_int_equal(
                p11_pin_flags_from_token_flags(out.slots[0].token_flags),
                P11_PIN_FINAL_TRY | P11_LOGIN_REQUIRED);
        assert_string_equal(out.slots[1].label, "seal");
        assert_string_equal(out.slots[1].serial, ""); /* NULL travels as "" */
}

static void test_cert_list_round_trip(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_cert_list_done) P11CertList out = {};
        uint8_t id[] = { 1, 2 }, der[300];
        memset(der, 0x30, sizeof(der));
        P11CertEntry certs[] = {
                { .id = id,
                  .id_size = 2,
                  .label = (char *) "leader",
                  .der = der,
                  .der_size = sizeof(der),
                  .has_private_key = true,
                  .key_type = CKK_RSA },
        };
        P11CertList in = { certs, 1 };
        P11Frame f;

        assert_int_equal(p11_encode_cert_list(&w, 1, &in), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_cert_list(&f, &out), 0);
        assert_int_equal(out.n_certs, 1);
        assert_memory_equal(out.certs[0].id, id, 2);
        assert_memory_equal(out.certs[0].der, der, sizeof(der));
        assert_true(out.certs[0].has_private_key);
        assert_false(out.certs[0].always_authenticate);
        assert_int_equal(out.certs[0].key_type, CKK_RSA);

        /* A boolean that is not 0 or 1 is garbage. */
        size_t flag_at = w.size - 4 - 2;
        w.data[flag_at] = 2;
        parse(&w, &f);
        _cleanup_(p11_cert_list_done) P11CertList bad = {};
        assert_int_equal(p11_decode_cert_list(&f, &bad), -EBADMSG);
}

static void test_sign_round_trip(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_sign_request_done) P11SignRequest out = {};
        _cleanup_secret_ Secret *pin = secret_new_string("1111");
        uint8_t id[] = { 7 }, digest[32];
        memset(digest, 0xab, sizeof(digest));
        P11SignRequest in = {
                .slot_id = 3,
                .id = id,
                .id_size = 1,
                .mechanism = { P11_SIGN_RSA_PSS, P11_HASH_SHA256, P11_HASH_SHA256, -1 },
                .flags = P11_FLAG_KEEP_LOGIN | P11_FLAG_USE_LOGIN,
                .digest = digest,
                .digest_size = sizeof(digest),
                .pin = pin,
        };
        P11Frame f;

        assert_int_equal(p11_encode_sign_request(&w, 5, &in), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_sign_request(&f, &out), 0);
        assert_int_equal(out.slot_id, 3);
        assert_int_equal(out.mechanism.algorithm, P11_SIGN_RSA_PSS);
        assert_int_equal(out.mechanism.salt_length, -1);
        assert_int_equal(out.flags, P11_FLAG_KEEP_LOGIN | P11_FLAG_USE_LOGIN);
        assert_memory_equal(out.digest, digest, 32);
        assert_non_null(out.pin);
        assert_string_equal(secret_get(out.pin), "1111");

        /* Wiping the writer leaves no PIN behind. */
        p11_writer_done(&w);
        assert_null(w.data);

        /* Digest size must match the hash. */
        in.digest_size = 20;
        assert_int_equal(p11_encode_sign_request(&w, 5, &in), -EINVAL);
        in.digest_size = 32;
        in.mechanism.algorithm = 99;
        assert_int_equal(p11_encode_sign_request(&w, 5, &in), -EINVAL);

        /* No PIN: decodes with pin NULL. */
        p11_sign_request_done(&out);
        in.mechanism.algorithm = P11_SIGN_ECDSA;
        in.pin = NULL;
        assert_int_equal(p11_encode_sign_request(&w, 5, &in), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_sign_request(&f, &out), 0);
        assert_null(out.pin);

        /* An unknown flag is refused. */
        p11_sign_request_done(&out);
        in.flags = 1 << 3;
        assert_int_equal(p11_encode_sign_request(&w, 5, &in), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_sign_request(&f, &out), -EBADMSG);
}

static void test_sign_reply_round_trip(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        uint8_t sig[] = { 1, 2, 3 };
        P11Frame f;

        /* Whether the key needed its own login travels with the signature. */
        for (int always = 0; always < 2; always++) {
                _cleanup_(p11_sign_reply_done) P11SignReply out = {};
                P11SignReply in = { sig, sizeof(sig), always };
                assert_int_equal(p11_encode_sign_reply(&w, 9, &in), 0);
                parse(&w, &f);
                assert_int_equal(p11_decode_sign_reply(&f, &out), 0);
                assert_memory_equal(out.signature, sig, sizeof(sig));
                assert_int_equal(out.always_authenticate, always);
        }
        /* A boolean other than 0 or 1 is refused. */
        P11SignReply in = { sig, sizeof(sig), true };
        assert_int_equal(p11_encode_sign_reply(&w, 9, &in), 0);
        w.data[w.size - 1] = 2;
        parse(&w, &f);
        _cleanup_(p11_sign_reply_done) P11SignReply bad = {};
        assert_int_equal(p11_decode_sign_reply(&f, &bad), -EBADMSG);
}

static void test_login_and_error_round_trip(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_login_request_done) P11LoginRequest out = {};
        _cleanup_(p11_error_reply_done) P11ErrorReply err = {};
        _cleanup_secret_ Secret *pin = secret_new_string("9999");
        P11LoginRequest in = { .slot_id = 2, .pin = pin };
        P11ErrorReply e = { P11_ERROR_PIN_INCORRECT, CKR_PIN_INCORRECT, P11_PIN_COUNT_LOW,
                            (char *) "login" };
        P11Frame f;

        assert_int_equal(p11_encode_login_request(&w, 1, &in), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_login_request(&f, &out), 0);
        assert_string_equal(secret_get(out.pin), "9999");

        /* An empty PIN without the PIN pad flag is refused. */
        in.pin = NULL;
        assert_int_equal(p11_encode_login_request(&w, 1, &in), 0);
        parse(&w, &f);
        _cleanup_(p11_login_request_done) P11LoginRequest out2 = {};
        assert_int_equal(p11_decode_login_request(&f, &out2), -EBADMSG);
        in.flags = P11_FLAG_PROTECTED_AUTH;
        assert_int_equal(p11_encode_login_request(&w, 1, &in), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_login_request(&f, &out2), 0);

        assert_int_equal(p11_encode_error_reply(&w, 4, &e), 0);
        parse(&w, &f);
        assert_int_equal(p11_decode_error_reply(&f, &err), 0);
        assert_int_equal(err.code, P11_ERROR_PIN_INCORRECT);
        assert_int_equal(err.ck_rv, CKR_PIN_INCORRECT);
        assert_int_equal(err.pin_flags, P11_PIN_COUNT_LOW);
        assert_string_equal(err.message, "login");
}

static void test_truncated_frames(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        uint8_t id[] = { 1 }, der[64] = { 0x30 };
        P11CertEntry certs[] = {
                { .id = id, .id_size = 1, .label = (char *) "x", .der = der, .der_size = 64 }
        };
        P11CertList in = { certs, 1 };

        assert_int_equal(p11_encode_cert_list(&w, 1, &in), 0);
        assert_int_equal(p11_decode_any(w.data, w.size), 0);
        /* Every proper prefix is rejected, both as a frame and, with a fixed-up length, as a body. */
        for (size_t n = 0; n < w.size; n++) {
                assert_true(p11_decode_any(w.data, n) < 0);
                _cleanup_free_ uint8_t *copy = malloc(MAX(n, (size_t) 1));
                memcpy(copy, w.data, n);
                if (n >= 4) {
                        copy[0] = n >> 24;
                        copy[1] = n >> 16;
                        copy[2] = n >> 8;
                        copy[3] = n;
                }
                assert_true(p11_decode_any(copy, n) < 0);
        }
        /* Trailing garbage after a valid body is rejected. */
        _cleanup_free_ uint8_t *longer = calloc(1, w.size + 1);
        memcpy(longer, w.data, w.size);
        longer[3]++;
        assert_int_equal(p11_decode_any(longer, w.size + 1), -EBADMSG);
}

static void test_oversized_and_wrong_version(void **state) {
        uint8_t hdr[P11_FRAME_HEADER_SIZE] = { 0, 0, 0, 0, P11_PROTOCOL_VERSION, P11_MSG_LIST_SLOTS, 0, 0,
                                               0, 0, 0, 1 };
        size_t n;

        /* Length above the maximum. */
        uint32_t big = P11_FRAME_MAX + 1;
        hdr[0] = big >> 24, hdr[1] = big >> 16, hdr[2] = big >> 8, hdr[3] = big;
        assert_int_equal(p11_frame_peek_size(hdr, sizeof(hdr), &n), -EBADMSG);
        /* Length below the header. */
        memset(hdr, 0, 4);
        hdr[3] = 11;
        assert_int_equal(p11_frame_peek_size(hdr, sizeof(hdr), &n), -EBADMSG);
        /* A right-size header of another version. */
        hdr[3] = 12;
        assert_int_equal(p11_frame_peek_size(hdr, sizeof(hdr), &n), 0);
        assert_int_equal(n, 12);
        hdr[4] = 2;
        assert_int_equal(p11_frame_peek_size(hdr, sizeof(hdr), &n), -EPROTONOSUPPORT);
        assert_true(p11_decode_any(hdr, sizeof(hdr)) < 0);
        hdr[4] = P11_PROTOCOL_VERSION;
        /* Reserved bits set. */
        hdr[6] = 1;
        assert_int_equal(p11_frame_peek_size(hdr, sizeof(hdr), &n), -EBADMSG);
        hdr[6] = 0;
        assert_int_equal(p11_decode_any(hdr, sizeof(hdr)), 0); /* LIST_SLOTS, empty body: valid */
        /* Too short for a header. */
        assert_int_equal(p11_frame_peek_size(hdr, 5, &n), -EAGAIN);

        /* A field length larger than its limit, inside an otherwise consistent frame. */
        _cleanup_(p11_writer_done) P11Writer w = {};
        p11_frame_begin(&w, P11_MSG_LIST_CERTS | P11_MSG_REPLY, 1);
        p11_put_u32(&w, 1);
        p11_put_u32(&w, P11_ID_MAX + 1);
        for (unsigned i = 0; i < P11_ID_MAX + 1; i++)
                p11_put_u8(&w, 1);
        assert_int_equal(p11_frame_end(&w), 0);
        assert_int_equal(p11_decode_any(w.data, w.size), -EBADMSG);

        /* A count far above what the frame can hold. */
        p11_frame_begin(&w, P11_MSG_LIST_SLOTS | P11_MSG_REPLY, 1);
        p11_put_u32(&w, UINT32_MAX);
        assert_int_equal(p11_frame_end(&w), 0);
        assert_int_equal(p11_decode_any(w.data, w.size), -EBADMSG);

        /* The writer refuses to grow past the frame limit. */
        p11_frame_begin(&w, P11_MSG_SIGN | P11_MSG_REPLY, 1);
        _cleanup_free_ uint8_t *huge = calloc(1, P11_FRAME_MAX);
        p11_put_bytes(&w, huge, P11_FRAME_MAX);
        assert_int_equal(p11_frame_end(&w), -EMSGSIZE);
}

static void test_garbled(void **state) {
        /* Strings with a NUL inside, unknown types, unknown error codes. */
        _cleanup_(p11_writer_done) P11Writer w = {};
        p11_frame_begin(&w, P11_MSG_ERROR, 1);
        p11_put_u32(&w, P11_ERROR_PIN_INCORRECT);
        p11_put_u64(&w, 0);
        p11_put_u32(&w, 0);
        p11_put_bytes(&w, "a\0b", 3);
        assert_int_equal(p11_frame_end(&w), 0);
        assert_int_equal(p11_decode_any(w.data, w.size), -EBADMSG);

        p11_frame_begin(&w, P11_MSG_ERROR, 1);
        p11_put_u32(&w, 9999);
        p11_put_u64(&w, 0);
        p11_put_u32(&w, 0);
        p11_put_string(&w, "x");
        assert_int_equal(p11_frame_end(&w), 0);
        assert_int_equal(p11_decode_any(w.data, w.size), -EBADMSG);

        p11_frame_begin(&w, 0x42, 1);
        assert_int_equal(p11_frame_end(&w), 0);
        assert_int_equal(p11_decode_any(w.data, w.size), -EBADMSG);

        /* Random bytes never crash the decoder. */
        uint32_t x = 12345;
        uint8_t buf[512];
        for (int round = 0; round < 2000; round++) {
                size_t n = (size_t) (x % sizeof(buf));
                for (size_t i = 0; i < n; i++) {
                        x = x * 1103515245 + 12345;
                        buf[i] = (uint8_t) (x >> 16);
                }
                if (n >= 12) {
                        buf[0] = buf[1] = 0;
                        buf[2] = (uint8_t) (n >> 8);
                        buf[3] = (uint8_t) n;
                        buf[4] = P11_PROTOCOL_VERSION;
                        buf[6] = buf[7] = 0;
                }
                (void) p11_decode_any(buf, n);
        }
}

static void test_ckrv_mapping(void **state) {
        assert_int_equal(p11_error_from_ckrv(CKR_OK), P11_ERROR_NONE);
        assert_int_equal(p11_error_from_ckrv(CKR_PIN_INCORRECT), P11_ERROR_PIN_INCORRECT);
        assert_int_equal(p11_error_from_ckrv(CKR_PIN_LOCKED), P11_ERROR_PIN_LOCKED);
        assert_int_equal(p11_error_from_ckrv(CKR_PIN_LEN_RANGE), P11_ERROR_PIN_LEN_RANGE);
        assert_int_equal(p11_error_from_ckrv(CKR_TOKEN_NOT_PRESENT), P11_ERROR_TOKEN_NOT_PRESENT);
        assert_int_equal(p11_error_from_ckrv(CKR_DEVICE_REMOVED), P11_ERROR_DEVICE_REMOVED);
        assert_int_equal(p11_error_from_ckrv(CKR_KEY_HANDLE_INVALID), P11_ERROR_KEY_NOT_FOUND);
        assert_int_equal(p11_error_from_ckrv(CKR_FUNCTION_FAILED), P11_ERROR_FUNCTION_FAILED);
        assert_int_equal(p11_error_from_ckrv(0x8000abcdUL), P11_ERROR_FUNCTION_FAILED);
        assert_int_equal(p11_error_to_errno(P11_ERROR_PIN_INCORRECT), -EKEYREJECTED);
        assert_int_equal(p11_error_to_errno(P11_ERROR_PIN_LOCKED), -ENOLCK);
        assert_int_equal(p11_error_to_errno(P11_ERROR_PROTOCOL), -EPROTO);
        assert_int_equal(p11_error_to_errno(P11_ERROR_DEVICE_REMOVED), -ENODEV);
        for (int e = 0; e < _P11_ERROR_MAX; e++)
                assert_non_null(p11_error_to_string(e));
        assert_null(p11_error_to_string(_P11_ERROR_MAX));
        assert_string_equal(p11_error_to_string(P11_ERROR_PIN_LOCKED), "pin-locked");
}

/* The fuzzer's seeds are valid frames (so its mutations start from something the decoders accept). */
static void test_fuzz_seeds_valid(void **state) {
        const char *root = test_getenv_or_skip("KYSO_SOURCE_ROOT");
        _cleanup_free_ char *path = NULL;
        size_t n = 0;

        assert_true(asprintf(&path, "%s/tests/pkcs11/fuzz-p11-protocol", root) > 0);
        DIR *d = opendir(path);
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *file = NULL, *buf = NULL;
                size_t size;
                if (de->d_name[0] == '.')
                        continue;
                assert_true(asprintf(&file, "%s/%s", path, de->d_name) > 0);
                assert_int_equal(read_full_file(file, P11_FRAME_MAX, &buf, &size), 0);
                if (p11_decode_any(buf, size) != 0)
                        fail_msg("seed %s does not decode", de->d_name);
                n++;
        }
        closedir(d);
        assert_true(n >= 12);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_hello_round_trip),
        cmocka_unit_test(test_slot_list_round_trip),
        cmocka_unit_test(test_cert_list_round_trip),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_sign_reply_round_trip),
        cmocka_unit_test(test_login_and_error_round_trip),
        cmocka_unit_test(test_truncated_frames),
        cmocka_unit_test(test_oversized_and_wrong_version),
        cmocka_unit_test(test_garbled),
        cmocka_unit_test(test_ckrv_mapping),
        cmocka_unit_test(test_fuzz_seeds_valid),
});
