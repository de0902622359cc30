/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kyso-p11-helper itself, spoken to over its socket: the handshake rules, and what it does with frames that
 * are garbled (an ERROR and it goes on), or that break the framing (it exits; it never crashes). */
#include "kyso-test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "fileio.h"
#include "macro.h"
#include "pkcs11/p11-protocol.h"
#include "secret.h"

static char dir[256];
static const char *module;

typedef struct Helper {
        pid_t pid;
        int fd;
} Helper;

static Helper spawn(void) {
        int pair[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (dup2(pair[1], 3) < 0)
                        _exit(127);
                execl(getenv("KYSO_P11_HELPER"), "kyso-p11-helper", "--module", module, NULL);
                _exit(127);
        }
        close(pair[1]);
        struct timeval tv = { 20, 0 }; /* a helper that does not answer fails the test, not hangs it */
        assert_int_equal(setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        return (Helper){ pid, pair[0] };
}

/* Closes our end and returns how the helper ended; fails if it was killed by a signal (a crash). */
static int finish(Helper *h) {
        int status;
        safe_close(h->fd);
        assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
        if (WIFSIGNALED(status))
                fail_msg("helper died of signal %d", WTERMSIG(status));
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* Reads one reply frame into buf; returns its size, or 0 at EOF. */
static size_t read_reply(Helper *h, uint8_t *buf) {
        ssize_t n = loop_read(h->fd, buf, P11_FRAME_HEADER_SIZE);
        assert_true(n >= 0);
        if (n == 0)
                return 0;
        assert_int_equal(n, P11_FRAME_HEADER_SIZE);
        size_t total;
        assert_int_equal(p11_frame_peek_size(buf, n, &total), 0);
        assert_int_equal(loop_read_exact(h->fd, buf + n, total - n), 0);
        return total;
}

static void send_raw(Helper *h, const void *p, size_t n) {
        assert_int_equal(loop_write(h->fd, p, n), 0);
}

static void send_frame(Helper *h, P11Writer *w) {
        send_raw(h, w->data, w->size);
}

static P11Error expect_error(Helper *h, uint32_t serial) {
        _cleanup_free_ uint8_t *buf = malloc(P11_FRAME_MAX);
        _cleanup_(p11_error_reply_done) P11ErrorReply e = {};
        P11Frame f;
        size_t n = read_reply(h, buf);
        assert_true(n > 0);
        assert_int_equal(p11_frame_parse(buf, n, &f), 0);
        assert_int_equal(f.serial, serial);
        assert_int_equal(f.type, P11_MSG_ERROR);
        assert_int_equal(p11_decode_error_reply(&f, &e), 0);
        return e.code;
}

static void hello(Helper *h) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_hello_reply_done) P11HelloReply reply = {};
        _cleanup_free_ uint8_t *buf = malloc(P11_FRAME_MAX);
        P11HelloRequest req = { 1, 1 };
        P11Frame f;

        assert_int_equal(p11_encode_hello_request(&w, 1, &req), 0);
        send_frame(h, &w);
        size_t n = read_reply(h, buf);
        assert_int_equal(p11_frame_parse(buf, n, &f), 0);
        assert_int_equal(p11_decode_hello_reply(&f, &reply), 0);
        assert_int_equal(reply.version, 1);
        assert_string_equal(reply.manufacturer, "SoftHSM");
}

static void list_slots(Helper *h, uint32_t serial, size_t expect) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_slot_list_done) P11SlotList l = {};
        _cleanup_free_ uint8_t *buf = malloc(P11_FRAME_MAX);
        P11Frame f;

        assert_int_equal(p11_encode_empty(&w, P11_MSG_LIST_SLOTS, serial), 0);
        send_frame(h, &w);
        size_t n = read_reply(h, buf);
        assert_int_equal(p11_frame_parse(buf, n, &f), 0);
        assert_int_equal(f.serial, serial);
        assert_int_equal(p11_decode_slot_list(&f, &l), 0);
        assert_int_equal(l.n_slots, expect);
}

static void test_handshake(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        Helper h = spawn();

        /* Nothing before hello. */
        assert_int_equal(p11_encode_empty(&w, P11_MSG_LIST_SLOTS, 5), 0);
        send_frame(&h, &w);
        assert_int_equal(expect_error(&h, 5), P11_ERROR_PROTOCOL);

        /* No common version. */
        P11HelloRequest req = { 2, 9 };
        assert_int_equal(p11_encode_hello_request(&w, 6, &req), 0);
        send_frame(&h, &w);
        assert_int_equal(expect_error(&h, 6), P11_ERROR_VERSION);

        hello(&h);
        list_slots(&h, 7, 1);
        /* A clean EOF: the helper finalizes and exits 0. */
        assert_int_equal(finish(&h), 0);
}

static void test_garbled_bodies(void **state) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        Helper h = spawn();
        hello(&h);

        /* Valid framing, bad bodies: an ERROR each, and the helper keeps serving. */
        p11_frame_begin(&w, P11_MSG_LIST_CERTS, 10);
        p11_put_u32(&w, 1); /* a slot id is a u64: short body */
        assert_int_equal(p11_frame_end(&w), 0);
        send_frame(&h, &w);
        assert_int_equal(expect_error(&h, 10), P11_ERROR_PROTOCOL);

        p11_frame_begin(&w, P11_MSG_SIGN, 11);
        p11_put_u64(&w, 0);
        p11_put_u32(&w, 0xffffffff); /* CKA_ID length far beyond the frame */
        assert_int_equal(p11_frame_end(&w), 0);
        send_frame(&h, &w);
        assert_int_equal(expect_error(&h, 11), P11_ERROR_PROTOCOL);

        p11_frame_begin(&w, P11_MSG_LOGIN, 12);
        p11_put_u64(&w, 0);
        p11_put_u32(&w, 0);
        p11_put_bytes(
                &w,
                "11\0"
                "11",
                5); /* NUL inside a PIN */
        assert_int_equal(p11_frame_end(&w), 0);
        send_frame(&h, &w);
        assert_int_equal(expect_error(&h, 12), P11_ERROR_PROTOCOL);

        p11_frame_begin(&w, 0x77, 13); /* unknown type */
        assert_int_equal(p11_frame_end(&w), 0);
        send_frame(&h, &w);
        assert_int_equal(expect_error(&h, 13), P11_ERROR_PROTOCOL);

        p11_frame_begin(&w, P11_MSG_LIST_SLOTS | P11_MSG_REPLY, 14); /* a reply sent as a request */
        p11_put_u32(&w, 0);
        assert_int_equal(p11_frame_end(&w), 0);
        send_frame(&h, &w);
        assert_int_equal(expect_error(&h, 14), P11_ERROR_PROTOCOL);

        /* Requests on slots that do not exist are errors from the module, not crashes. */
        assert_int_equal(p11_encode_slot_request(&w, P11_MSG_LIST_CERTS, 15, 0xdeadbeef), 0);
        send_frame(&h, &w);
        P11Error e = expect_error(&h, 15);
        assert_true(e == P11_ERROR_SLOT_INVALID || e == P11_ERROR_FUNCTION_FAILED);

        list_slots(&h, 16, 1);
        assert_int_equal(finish(&h), 0);
}

static void test_broken_framing(void **state) {
        uint8_t buf[64];

        /* Oversized length: the helper cannot resync, so it exits (not crashes), without reading it. */
        Helper h = spawn();
        hello(&h);
        uint8_t big[12] = { 0x7f, 0xff, 0xff, 0xff, 1, P11_MSG_LIST_SLOTS, 0, 0, 0, 0, 0, 1 };
        send_raw(&h, big, sizeof(big));
        assert_int_equal(read_reply(&h, buf), 0); /* EOF */
        assert_int_equal(finish(&h), 1);

        /* Another protocol version in the header. */
        h = spawn();
        hello(&h);
        uint8_t v2[12] = { 0, 0, 0, 12, 2, P11_MSG_LIST_SLOTS, 0, 0, 0, 0, 0, 1 };
        send_raw(&h, v2, sizeof(v2));
        assert_int_equal(read_reply(&h, buf), 0);
        assert_int_equal(finish(&h), 1);

        /* A frame cut short by EOF. */
        h = spawn();
        hello(&h);
        uint8_t cut[20] = { 0, 0, 0, 40, 1, P11_MSG_LIST_CERTS, 0, 0, 0, 0, 0, 1 };
        send_raw(&h, cut, sizeof(cut));
        assert_int_equal(shutdown(h.fd, SHUT_WR), 0);
        assert_int_equal(read_reply(&h, buf), 0);
        assert_int_equal(finish(&h), 1);

        /* Half a header, then EOF. */
        h = spawn();
        send_raw(&h, cut, 5);
        assert_int_equal(shutdown(h.fd, SHUT_WR), 0);
        assert_int_equal(read_reply(&h, buf), 0);
        assert_int_equal(finish(&h), 1);
}

static void test_not_a_socket(void **state) {
        /* Started by hand, without the socket: refuses, with a message, exit 2. */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY);
                if (null < 0 || dup2(null, 3) < 0)
                        _exit(127);
                execl(getenv("KYSO_P11_HELPER"), "kyso-p11-helper", "--module", module, NULL);
                _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
}

/* Signs sha256("kyso") with the key of CKA_ID 01 on slot, RSA PKCS#1 v1.5; pin NULL = already logged in.
 * Returns the signature's size (written to sig), or 0 after an ERROR reply. */
static size_t
sign_01_flags(Helper *h, uint32_t serial, uint64_t slot, const char *pin, uint32_t flags, uint8_t *sig) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_sign_reply_done) P11SignReply reply = {};
        _cleanup_free_ uint8_t *buf = malloc(P11_FRAME_MAX);
        /* sha256("kyso") */
        static const uint8_t digest[32] = { 0xcd, 0x28, 0x9a, 0xff, 0xcc, 0x30, 0x02, 0x8a, 0xf9, 0x97, 0x5b,
                                            0xf5, 0xf3, 0x1c, 0x6a, 0x85, 0xbf, 0xc0, 0xe4, 0xf1, 0x49, 0xe3,
                                            0xe3, 0xbd, 0x8e, 0xf5, 0xf6, 0x89, 0xb4, 0xbe, 0xbf, 0x3f };
        uint8_t id = 1;
        P11SignRequest req = {
                .slot_id = slot,
                .id = &id,
                .id_size = 1,
                .mechanism = { .algorithm = P11_SIGN_RSA_PKCS1, .hash = P11_HASH_SHA256, .salt_length = -1 },
                .flags = flags,
                .digest = (uint8_t *) digest,
                .digest_size = sizeof(digest),
                .pin = pin ? secret_new_string(pin) : NULL,
        };
        P11Frame f;

        assert_int_equal(p11_encode_sign_request(&w, serial, &req), 0);
        secret_free(req.pin);
        send_frame(h, &w);
        size_t n = read_reply(h, buf);
        assert_int_equal(p11_frame_parse(buf, n, &f), 0);
        assert_int_equal(f.serial, serial);
        if (f.type == P11_MSG_ERROR)
                return 0;
        assert_int_equal(p11_decode_sign_reply(&f, &reply), 0);
        assert_true(reply.signature_size <= 512);
        memcpy(sig, reply.signature, reply.signature_size);
        return reply.signature_size;
}

static size_t sign_01(Helper *h, uint32_t serial, uint64_t slot, const char *pin, uint8_t *sig) {
        return sign_01_flags(h, serial, slot, pin, P11_FLAG_KEEP_LOGIN, sig);
}

/* What OpenSSL makes of the same digest with key file pem (RSA PKCS#1 v1.5 is deterministic). */
static size_t expected_01(const char *pem, uint8_t *sig) {
        _cleanup_free_ char *cmd = NULL, *out = NULL, *data = NULL;
        size_t n = 0;
        assert_true(asprintf(&out, "%s/sig.bin", dir) > 0);
        assert_true(
                asprintf(
                        &cmd, "printf kyso | openssl dgst -sha256 -sign '%s' -out '%s' 2>/dev/null", pem,
                        out) > 0);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(read_full_file(out, 4096, &data, &n), 0);
        assert_true(n > 0 && n <= 512);
        memcpy(sig, data, n);
        return n;
}

/* The helper keeps the private key's handle between signatures of one login. When the object goes away
 * behind its back (deleted and a new key imported with the same CKA_ID, by another process), the next
 * signature must find the new key, not fail and not use the old one. */
/* Another process replaces the private key of CKA_ID 01 on the "cache" token with the one in key_file. */
static void replace_key(const char *conf, const char *key_file) {
        _cleanup_free_ char *cmd = NULL;
        assert_true(
                asprintf(
                        &cmd,
                        "set -e; export SOFTHSM2_CONF='%1$s'; "
                        "pkcs11-tool --module '%2$s' --token-label cache --login --pin 1111 --delete-object "
                        "--type privkey --id 01 >/dev/null 2>&1; "
                        "softhsm2-util --import '%3$s' --token cache --label k --id 01 --pin 1111 >/dev/null",
                        conf, module, key_file) > 0);
        assert_int_equal(system(cmd), 0);
}

static void test_key_handle_cache(void **state) {
        _cleanup_free_ char *cmd = NULL, *conf = NULL, *k1 = NULL, *k2 = NULL, *old_conf = NULL;
        uint8_t sig[512], want1[512], want2[512];
        size_t n1, n2, n;

        old_conf = strdup(getenv("SOFTHSM2_CONF"));
        assert_non_null(old_conf);
        assert_true(asprintf(&conf, "%s/cache.conf", dir) > 0);
        assert_true(asprintf(&k1, "%s/k1.pem", dir) > 0);
        assert_true(asprintf(&k2, "%s/k2.pem", dir) > 0);
        assert_true(
                asprintf(
                        &cmd,
                        "set -e; mkdir '%1$s/cachetokens'; printf 'directories.tokendir = %1$s/cachetokens\\n"
                        "objectstore.backend = file\\nlog.level = ERROR\\n' >'%2$s'; export SOFTHSM2_CONF='%2$s'; "
                        "softhsm2-util --init-token --free --label cache --pin 1111 --so-pin 2222 >/dev/null; "
                        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%3$s' 2>/dev/null; "
                        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%4$s' 2>/dev/null; "
                        "softhsm2-util --import '%3$s' --token cache --label k --id 01 --pin 1111 >/dev/null",
                        dir, conf, k1, k2) > 0);
        assert_int_equal(system(cmd), 0);
        n1 = expected_01(k1, want1);
        n2 = expected_01(k2, want2);
        assert_true(n1 != n2 || memcmp(want1, want2, n1) != 0);

        setenv("SOFTHSM2_CONF", conf, 1);
        Helper h = spawn();
        setenv("SOFTHSM2_CONF", old_conf, 1);
        hello(&h);
        _cleanup_(p11_slot_list_done) P11SlotList l = {};
        {
                _cleanup_(p11_writer_done) P11Writer w = {};
                _cleanup_free_ uint8_t *buf = malloc(P11_FRAME_MAX);
                P11Frame f;
                assert_int_equal(p11_encode_empty(&w, P11_MSG_LIST_SLOTS, 2), 0);
                send_frame(&h, &w);
                size_t m = read_reply(&h, buf);
                assert_int_equal(p11_frame_parse(buf, m, &f), 0);
                assert_int_equal(p11_decode_slot_list(&f, &l), 0);
        }
        uint64_t slot = UINT64_MAX;
        for (size_t i = 0; i < l.n_slots; i++)
                if (l.slots[i].label && streq(l.slots[i].label, "cache"))
                        slot = l.slots[i].slot_id;
        assert_true(slot != UINT64_MAX);

        /* First signature logs in and looks the key up; the second uses the cached handle. */
        n = sign_01(&h, 3, slot, "1111", sig);
        assert_int_equal(n, n1);
        assert_memory_equal(sig, want1, n1);
        n = sign_01(&h, 4, slot, NULL, sig);
        assert_int_equal(n, n1);
        assert_memory_equal(sig, want1, n1);

        /* Another process replaces the key: same CKA_ID, another key. */
        replace_key(conf, k2);

        n = sign_01(&h, 5, slot, NULL, sig);
        assert_int_equal(n, n2);
        assert_memory_equal(sig, want2, n2);
        n = sign_01(&h, 6, slot, NULL, sig);
        assert_int_equal(n, n2);
        assert_memory_equal(sig, want2, n2);

        /* A PIN for each signature (the helper logs out after each): the handle is kept across the logins,
         * and a key replaced in between is still seen. */
        n = sign_01_flags(&h, 8, slot, "1111", 0, sig);
        assert_int_equal(n, n2);
        assert_memory_equal(sig, want2, n2);
        replace_key(conf, k1);
        n = sign_01_flags(&h, 9, slot, "1111", 0, sig);
        assert_int_equal(n, n1);
        assert_memory_equal(sig, want1, n1);
        n = sign_01_flags(&h, 10, slot, "1111", 0, sig);
        assert_int_equal(n, n1);
        assert_memory_equal(sig, want1, n1);
        /* Logged out after the last one: without a PIN there is no signature. */
        assert_int_equal(sign_01_flags(&h, 11, slot, NULL, 0, sig), 0);
        n = sign_01(&h, 12, slot, "1111", sig); /* logged in again for what follows */
        assert_int_equal(n, n1);

        /* Deleted without a replacement: an error, not a signature with a key that is gone. */
        free(cmd);
        cmd = NULL;
        assert_true(
                asprintf(
                        &cmd,
                        "export SOFTHSM2_CONF='%1$s'; "
                        "pkcs11-tool --module '%2$s' --token-label cache --login --pin 1111 --delete-object "
                        "--type privkey --id 01 >/dev/null 2>&1",
                        conf, module) > 0);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sign_01(&h, 7, slot, NULL, sig), 0);
        assert_int_equal(finish(&h), 0);
}

static int setup(void **state) {
        char conf[512];
        _cleanup_free_ char *cmd = NULL;

        if (!getenv("KYSO_P11_HELPER"))
                return -1;
        module = getenv("KYSO_SOFTHSM_MODULE");
        if (!module)
                module = access("/usr/lib/softhsm/libsofthsm2.so", R_OK) == 0
                                 ? "/usr/lib/softhsm/libsofthsm2.so"
                                 : "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so";
        snprintf(dir, sizeof(dir), "/tmp/kyso-test-helper-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        /* An empty SoftHSM: one slot with an uninitialised token. */
        snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
        if (asprintf(
                    &cmd,
                    "mkdir '%1$s/tokens' && printf 'directories.tokendir = %1$s/tokens\\n"
                    "objectstore.backend = file\\nlog.level = ERROR\\n' >'%2$s'",
                    dir, conf) < 0 ||
            system(cmd) != 0)
                return -1;
        setenv("SOFTHSM2_CONF", conf, 1);
        signal(SIGPIPE, SIG_IGN);
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = NULL;
        if (dir[0] && asprintf(&cmd, "rm -rf '%s'", dir) > 0)
                (void) system(cmd);
        return 0;
}

KYSO_TEST_MAIN_GROUP(
        setup, teardown,
        {
                cmocka_unit_test(test_handshake),
                cmocka_unit_test(test_garbled_bodies),
                cmocka_unit_test(test_broken_framing),
                cmocka_unit_test(test_not_a_socket),
                cmocka_unit_test(test_key_handle_cache),
        });
