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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_handshake),
                cmocka_unit_test(test_garbled_bodies),
                cmocka_unit_test(test_broken_framing),
                cmocka_unit_test(test_not_a_socket),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
