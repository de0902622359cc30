/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SessionWatch against a fake logind: a private dbus-daemon in a temporary folder, on which this test owns
 * org.freedesktop.login1, answers GetSessionByPID and Inhibit, and emits Lock and PrepareForSleep. */
#include "kyso-test.h"
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "agent/session-watch.h"

extern char **environ;

typedef struct Fixture {
        char dir[64];
        char address[256];
        pid_t daemon;
        sd_event *event;
        sd_bus *watcher_bus;
        sd_bus *logind_bus;
        sd_bus *spoof_bus;
        sd_bus_slot *vtable_slot;
        /* Fake logind state. */
        unsigned inhibit_calls;
        int inhibit_read_fd; /* our end of the last inhibitor handed out */
        /* What the handler saw. */
        unsigned locks, sleeps;
        PinCache *cache;
} Fixture;

/* A setup that fails half-way leaves its fixture behind (cmocka skips the teardown then): cleaned at exit.
 */
static Fixture *live[16];

static void live_add(Fixture *f) {
        for (size_t i = 0; i < ELEMENTSOF(live); i++)
                if (!live[i]) {
                        live[i] = f;
                        return;
                }
}

static void live_remove(Fixture *f) {
        for (size_t i = 0; i < ELEMENTSOF(live); i++)
                if (live[i] == f)
                        live[i] = NULL;
}

static int method_get_session_by_pid(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint32_t pid;
        int r = sd_bus_message_read(m, "u", &pid);
        if (r < 0)
                return r;
        if (pid != (uint32_t) getpid())
                return sd_bus_error_set(error, "org.freedesktop.login1.NoSessionForPID", "no session");
        return sd_bus_reply_method_return(m, "o", "/org/freedesktop/login1/session/_31");
}

static int method_inhibit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fixture *f = userdata;
        const char *what, *who, *why, *mode;
        int p[2], r;

        r = sd_bus_message_read(m, "ssss", &what, &who, &why, &mode);
        if (r < 0)
                return r;
        assert_string_equal(what, "sleep");
        assert_string_equal(mode, "delay");
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        f->inhibit_calls++;
        safe_close(f->inhibit_read_fd);
        f->inhibit_read_fd = p[0];
        r = sd_bus_reply_method_return(m, "h", p[1]);
        safe_close(p[1]); /* sd-bus duplicated it into the message */
        return r;
}

static const sd_bus_vtable logind_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetSessionByPID", "u", "o", method_get_session_by_pid, 0),
        SD_BUS_METHOD("Inhibit", "ssss", "h", method_inhibit, 0),
        SD_BUS_VTABLE_END,
};

static void connect_bus(Fixture *f, sd_bus **ret) {
        sd_bus *b = NULL;
        assert_true(sd_bus_new(&b) >= 0);
        assert_true(sd_bus_set_address(b, f->address) >= 0);
        assert_true(sd_bus_set_bus_client(b, 1) >= 0);
        assert_true(sd_bus_negotiate_fds(b, 1) >= 0);
        assert_true(sd_bus_start(b) >= 0);
        assert_true(sd_bus_attach_event(b, f->event, 0) >= 0);
        *ret = b;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        char conf[128];
        _cleanup_fclose_ FILE *c = NULL;
        posix_spawn_file_actions_t fa;
        int out[2];
        ssize_t n;
        size_t len = 0;

        assert_non_null(f);
        live_add(f);
        f->inhibit_read_fd = -EBADF;
        strcpy(f->dir, "/tmp/kyso-test-logind-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(conf, sizeof(conf), "%s/bus.conf", f->dir);
        c = fopen(conf, "we");
        assert_non_null(c);
        fprintf(c,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>system</type>\n"
                "  <listen>unix:path=%s/bus</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <allow user=\"*\"/>\n"
                "    <allow own=\"*\"/>\n"
                "    <allow send_type=\"method_call\"/>\n"
                "    <allow send_type=\"signal\"/>\n"
                "    <allow send_requested_reply=\"true\"/>\n"
                "    <allow receive_type=\"signal\"/>\n"
                "    <allow receive_requested_reply=\"true\"/>\n"
                "  </policy>\n"
                "</busconfig>\n",
                f->dir);
        assert_int_equal(fclose(TAKE_PTR(c)), 0);

        /* dbus-daemon prints its address when it is ready to take connections. */
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
        assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO), 0);
        char conf_arg[160];
        snprintf(conf_arg, sizeof(conf_arg), "--config-file=%s", conf);
        char *argv[] = { (char *) "dbus-daemon", conf_arg, (char *) "--nofork", (char *) "--print-address=1",
                         NULL };
        if (posix_spawnp(&f->daemon, "dbus-daemon", &fa, NULL, argv, environ) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                print_message("dbus-daemon is not installed\n");
                return -1;
        }
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        while (len < sizeof(f->address) - 1 && (n = read(out[0], f->address + len, 1)) == 1) {
                if (f->address[len] == '\n')
                        break;
                len++;
        }
        f->address[len] = '\0';
        close(out[0]);
        assert_true(len > 0);

        assert_int_equal(sd_event_new(&f->event), 0);
        connect_bus(f, &f->logind_bus);
        connect_bus(f, &f->watcher_bus);
        connect_bus(f, &f->spoof_bus);
        assert_true(
                sd_bus_add_object_vtable(
                        f->logind_bus, &f->vtable_slot, "/org/freedesktop/login1",
                        "org.freedesktop.login1.Manager", logind_vtable, f) >= 0);
        assert_true(sd_bus_request_name(f->logind_bus, "org.freedesktop.login1", 0) >= 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char path[128];

        sd_bus_slot_unref(f->vtable_slot);
        sd_bus_flush_close_unref(f->logind_bus);
        sd_bus_flush_close_unref(f->watcher_bus);
        sd_bus_flush_close_unref(f->spoof_bus);
        sd_event_unref(f->event);
        safe_close(f->inhibit_read_fd);
        pin_cache_free(f->cache);
        if (f->daemon > 0) {
                (void) kill(f->daemon, SIGTERM);
                (void) waitpid(f->daemon, NULL, 0);
        }
        snprintf(path, sizeof(path), "%s/bus.conf", f->dir);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/bus", f->dir);
        (void) unlink(path);
        (void) rmdir(f->dir);
        live_remove(f);
        free(f);
        return 0;
}

static void on_event(SessionWatch *w, SessionEvent event, void *userdata) {
        Fixture *f = userdata;
        if (event == SESSION_EVENT_LOCK)
                f->locks++;
        else if (event == SESSION_EVENT_PREPARE_SLEEP)
                f->sleeps++;
}

/* Runs the loop until cond() holds, failing after 10 s. */
static void run_until(Fixture *f, bool (*cond)(Fixture *f, SessionWatch *w), SessionWatch *w) {
        for (int i = 0; i < 1000 && !cond(f, w); i++)
                assert_true(sd_event_run(f->event, 10 * 1000) >= 0);
        assert_true(cond(f, w));
}

static bool is_ready(Fixture *f, SessionWatch *w) {
        return session_watch_is_ready(w) && session_watch_has_inhibitor(w);
}

/* Lets every message in flight arrive: a method call round trip on each connection. */
static void settle(Fixture *f) {
        for (int i = 0; i < 30; i++)
                assert_true(sd_event_run(f->event, 10 * 1000) >= 0);
}

static void emit_lock(sd_bus *bus, const char *path) {
        assert_true(sd_bus_emit_signal(bus, path, "org.freedesktop.login1.Session", "Lock", NULL) >= 0);
}

static void emit_sleep(sd_bus *bus, int start) {
        assert_true(
                sd_bus_emit_signal(
                        bus, "/org/freedesktop/login1", "org.freedesktop.login1.Manager", "PrepareForSleep",
                        "b", start) >= 0);
}

static bool got_lock(Fixture *f, SessionWatch *w) {
        return f->locks > 0;
}

static void test_lock_by_session_id(void **state) {
        Fixture *f = *state;
        _cleanup_(session_watch_freep) SessionWatch *w = NULL;

        assert_int_equal(session_watch_new(f->event, f->watcher_bus, "c7", on_event, f, &w), 0);
        assert_string_equal(session_watch_get_session_path(w), "/org/freedesktop/login1/session/c7");
        run_until(f, is_ready, w);

        /* Another session's Lock, and a Lock from somebody who is not logind: ignored. */
        emit_lock(f->logind_bus, "/org/freedesktop/login1/session/c8");
        emit_lock(f->spoof_bus, "/org/freedesktop/login1/session/c7");
        settle(f);
        assert_int_equal(f->locks, 0);

        emit_lock(f->logind_bus, "/org/freedesktop/login1/session/c7");
        run_until(f, got_lock, w);
        assert_int_equal(f->locks, 1);
        assert_int_equal(f->sleeps, 0);
}

static void test_lock_by_pid(void **state) {
        Fixture *f = *state;
        _cleanup_(session_watch_freep) SessionWatch *w = NULL;

        unsetenv("XDG_SESSION_ID");
        assert_int_equal(session_watch_new(f->event, f->watcher_bus, NULL, on_event, f, &w), 0);
        assert_null(session_watch_get_session_path(w));
        run_until(f, is_ready, w);
        assert_string_equal(session_watch_get_session_path(w), "/org/freedesktop/login1/session/_31");

        emit_lock(f->logind_bus, "/org/freedesktop/login1/session/_31");
        run_until(f, got_lock, w);
        assert_int_equal(f->locks, 1);
}

static void test_session_from_env(void **state) {
        Fixture *f = *state;
        _cleanup_(session_watch_freep) SessionWatch *w = NULL;

        setenv("XDG_SESSION_ID", "42", 1);
        assert_int_equal(session_watch_new(f->event, f->watcher_bus, NULL, on_event, f, &w), 0);
        unsetenv("XDG_SESSION_ID");
        /* logind escapes ids that start with a digit. */
        assert_string_equal(session_watch_get_session_path(w), "/org/freedesktop/login1/session/_342");
}

static bool inhibitor_released(Fixture *f, SessionWatch *w) {
        char c;
        return f->sleeps > 0 && !session_watch_has_inhibitor(w) && read(f->inhibit_read_fd, &c, 1) == 0;
}

static bool inhibitor_again(Fixture *f, SessionWatch *w) {
        return f->inhibit_calls == 2 && session_watch_has_inhibitor(w);
}

static void test_sleep(void **state) {
        Fixture *f = *state;
        _cleanup_(session_watch_freep) SessionWatch *w = NULL;

        assert_int_equal(session_watch_new(f->event, f->watcher_bus, "c7", on_event, f, &w), 0);
        run_until(f, is_ready, w);
        assert_int_equal(f->inhibit_calls, 1);

        /* The handler runs, then the delay lock is released (our end of the pipe sees EOF). */
        emit_sleep(f->logind_bus, 1);
        run_until(f, inhibitor_released, w);
        assert_int_equal(f->sleeps, 1);

        /* After resume, the lock is taken again; resuming is not an event. */
        emit_sleep(f->logind_bus, 0);
        run_until(f, inhibitor_again, w);
        assert_int_equal(f->sleeps, 1);
        assert_int_equal(f->locks, 0);
}

static bool cache_empty(Fixture *f, SessionWatch *w) {
        return pin_cache_size(f->cache) == 0;
}

static void test_forget_pins(void **state) {
        Fixture *f = *state;
        _cleanup_(session_watch_freep) SessionWatch *w = NULL;
        _cleanup_secret_ Secret *pin = secret_new_string("1234");
        PinCacheConfig conf = { .personal_usec = 3600ULL * 1000000, .policy_max_usec = 3600ULL * 1000000 };

        assert_int_equal(pin_cache_new(&conf, &f->cache), 0);
        assert_int_equal(
                session_watch_new(f->event, f->watcher_bus, "c7", session_watch_forget_pins, f->cache, &w),
                0);
        run_until(f, is_ready, w);

        assert_int_equal(pin_cache_put(f->cache, "pkcs11:token=A", PIN_CACHE_PERSONAL, pin), 1);
        emit_lock(f->logind_bus, "/org/freedesktop/login1/session/c7");
        run_until(f, cache_empty, w);

        assert_int_equal(pin_cache_put(f->cache, "pkcs11:token=A", PIN_CACHE_PERSONAL, pin), 1);
        assert_int_equal(pin_cache_put(f->cache, "pkcs11:token=B", PIN_CACHE_PERSONAL, pin), 1);
        emit_sleep(f->logind_bus, 1);
        run_until(f, cache_empty, w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_lock_by_session_id, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock_by_pid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_from_env, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sleep, setup, teardown),
                cmocka_unit_test_setup_teardown(test_forget_pins, setup, teardown),
        };
        int r;

        r = cmocka_run_group_tests(tests, NULL, NULL);
        for (size_t i = 0; i < ELEMENTSOF(live); i++)
                if (live[i]) {
                        void *f = live[i];
                        (void) teardown(&f);
                }
        return r;
}
