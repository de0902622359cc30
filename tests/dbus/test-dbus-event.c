/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <dlfcn.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "dbus/dbus-event.h"
#include "private-bus.h"

#define TEST_NAME "org.kyso.Test"
#define TEST_PATH "/org/kyso/Test"
#define TEST_IFACE "org.kyso.Test"

typedef struct Fixture {
        PrivateBus bus;
        sd_event *event;
        DBusConnection *server;
} Fixture;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

typedef struct DelayedReply {
        DBusConnection *c;
        DBusMessage *reply;
} DelayedReply;

static int delayed_reply_cb(sd_event_source *s, uint64_t usec, void *userdata) {
        DelayedReply *d = userdata;
        (void) dbus_connection_send(d->c, d->reply, NULL);
        return 0;
}

/* Replies still pending when a test ends are freed with the loop (floating sources). */
static void delayed_reply_free(void *userdata) {
        DelayedReply *d = userdata;
        dbus_message_unref(d->reply);
        dbus_connection_unref(d->c);
        free(d);
}

static DBusHandlerResult server_handler(DBusConnection *c, DBusMessage *m, void *userdata) {
        Fixture *f = userdata;
        DBusMessage *reply = NULL;

        if (dbus_message_is_method_call(m, TEST_IFACE, "Echo")) {
                const char *s;
                if (!dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID))
                        reply = dbus_message_new_error(m, DBUS_ERROR_INVALID_ARGS, "want s");
                else {
                        reply = dbus_message_new_method_return(m);
                        assert_true(
                                dbus_message_append_args(reply, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID));
                }
        } else if (dbus_message_is_method_call(m, TEST_IFACE, "Sleep")) {
                /* Replies after the given milliseconds, from a timer: the server keeps serving meanwhile. */
                dbus_uint32_t ms = 0;
                DelayedReply *d = calloc(1, sizeof *d);
                assert_non_null(d);
                assert_true(dbus_message_get_args(m, NULL, DBUS_TYPE_UINT32, &ms, DBUS_TYPE_INVALID));
                d->c = dbus_connection_ref(c);
                d->reply = dbus_message_new_method_return(m);
                sd_event_source *timer = NULL;
                assert_int_equal(
                        sd_event_add_time_relative(
                                f->event, &timer, CLOCK_MONOTONIC, (uint64_t) ms * 1000, 0, delayed_reply_cb,
                                d),
                        0);
                assert_int_equal(sd_event_source_set_destroy_callback(timer, delayed_reply_free), 0);
                assert_true(sd_event_source_set_floating(timer, true) >= 0);
                sd_event_source_unref(timer);
                return DBUS_HANDLER_RESULT_HANDLED;
        } else
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;

        assert_non_null(reply);
        assert_true(dbus_connection_send(c, reply, NULL));
        dbus_message_unref(reply);
        return DBUS_HANDLER_RESULT_HANDLED;
}

static const DBusObjectPathVTable server_vtable = { .message_function = server_handler };

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        DBusError error = DBUS_ERROR_INIT;

        assert_non_null(f);
        assert_int_equal(private_bus_start(&f->bus, NULL), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &f->server), 0);
        int r = dbus_bus_request_name(f->server, TEST_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &error);
        if (r < 0)
                print_message("RequestName: %s\n", error.message);
        assert_int_equal(r, DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER);
        assert_true(dbus_connection_register_object_path(f->server, TEST_PATH, &server_vtable, f));
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        dbus_connection_close_unrefp(&f->server);
        sd_event_unref(f->event);
        private_bus_stop(&f->bus);
        free(f);
        return 0;
}

/* Runs the loop until *done or the deadline; fails the test on the deadline. */
static void run_until(sd_event *e, const bool *done, uint64_t timeout_usec) {
        uint64_t end = now_usec() + timeout_usec;
        while (!*done) {
                assert_true(now_usec() < end);
                assert_true(sd_event_run(e, 100 * 1000) >= 0);
        }
}

typedef struct Call {
        unsigned *n_done;
        bool *all_done;
        unsigned n_expected;
        char *expect;      /* expected echo, or NULL */
        const char *error; /* expected error name, or NULL */
        uint64_t finished;
} Call;

static void call_notify(DBusPendingCall *p, void *userdata) {
        Call *c = userdata;
        DBusMessage *reply = dbus_pending_call_steal_reply(p);

        assert_non_null(reply);
        if (c->error) {
                assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_ERROR);
                assert_string_equal(dbus_message_get_error_name(reply), c->error);
        } else {
                const char *s = NULL;
                assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_METHOD_RETURN);
                if (c->expect) {
                        assert_true(
                                dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID));
                        assert_string_equal(s, c->expect);
                }
        }
        c->finished = now_usec();
        dbus_message_unref(reply);
        if (++*c->n_done == c->n_expected)
                *c->all_done = true;
}

static void send_echo(DBusConnection *c, const char *s, int timeout_ms, Call *call) {
        DBusMessage *m = dbus_message_new_method_call(TEST_NAME, TEST_PATH, TEST_IFACE, "Echo");
        DBusPendingCall *p = NULL;

        assert_non_null(m);
        assert_true(dbus_message_append_args(m, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID));
        assert_true(dbus_connection_send_with_reply(c, m, &p, timeout_ms));
        assert_non_null(p);
        assert_true(dbus_pending_call_set_notify(p, call_notify, call, NULL));
        dbus_pending_call_unref(p);
        dbus_message_unref(m);
}

static void send_sleep(DBusConnection *c, dbus_uint32_t ms, int timeout_ms, Call *call) {
        DBusMessage *m = dbus_message_new_method_call(TEST_NAME, TEST_PATH, TEST_IFACE, "Sleep");
        DBusPendingCall *p = NULL;

        assert_non_null(m);
        assert_true(dbus_message_append_args(m, DBUS_TYPE_UINT32, &ms, DBUS_TYPE_INVALID));
        assert_true(dbus_connection_send_with_reply(c, m, &p, timeout_ms));
        assert_true(dbus_pending_call_set_notify(p, call_notify, call, NULL));
        dbus_pending_call_unref(p);
        dbus_message_unref(m);
}

/* Sends one Echo of s and runs the loop until its reply, which must echo s. */
static void echo_once(sd_event *e, DBusConnection *client, const char *s) {
        unsigned n = 0;
        bool done = false;
        Call call = { .n_done = &n, .all_done = &done, .n_expected = 1, .expect = (char *) s };

        send_echo(client, s, 5000, &call);
        run_until(e, &done, 5 * 1000000);
        assert_int_equal(n, 1);
}

static void test_call_and_reply(void **state) {
        Fixture *f = *state;
        _cleanup_(dbus_connection_close_unrefp) DBusConnection *client = NULL;

        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &client), 0);
        /* A second attach of the same connection is refused. */
        assert_int_equal(dbus_event_attach(client, f->event), -EBUSY);
        echo_once(f->event, client, "xin chào");
}

static void test_pending_call_timeouts(void **state) {
        Fixture *f = *state;
        _cleanup_(dbus_connection_close_unrefp) DBusConnection *client = NULL;
        unsigned n = 0;
        bool done = false;
        Call calls[4];
        uint64_t start;

        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &client), 0);
        for (size_t i = 0; i < ELEMENTSOF(calls); i++)
                calls[i] = (Call){
                        .n_done = &n, .all_done = &done, .n_expected = 4, .error = DBUS_ERROR_NO_REPLY
                };
        calls[3].error = NULL; /* answered in time */

        start = now_usec();
        /* The server answers after 3 s; the caller gives up after 100, 200 and 400 ms. */
        send_sleep(client, 3000, 400, &calls[2]);
        send_sleep(client, 3000, 100, &calls[0]);
        send_sleep(client, 3000, 200, &calls[1]);
        send_sleep(client, 50, 2000, &calls[3]);
        run_until(f->event, &done, 2500000);

        /* Each timeout fired at its time (not earlier, not only at the end), in order. */
        assert_true(calls[0].finished - start >= 100000);
        assert_true(calls[0].finished - start < 1000000);
        assert_true(calls[1].finished - start >= 200000);
        assert_true(calls[2].finished - start >= 400000);
        assert_true(calls[2].finished - start < 2000000);
        assert_true(calls[0].finished <= calls[1].finished);
        assert_true(calls[1].finished <= calls[2].finished);

        /* And after they fired and were removed, a new one still works. */
        n = 0;
        done = false;
        calls[0] = (Call){ .n_done = &n, .all_done = &done, .n_expected = 1, .error = DBUS_ERROR_NO_REPLY };
        send_sleep(client, 3000, 150, &calls[0]);
        run_until(f->event, &done, 2000000);
}

#define N_CLIENTS 50
#define N_CALLS 20

static void test_many_callers(void **state) {
        Fixture *f = *state;
        DBusConnection *clients[N_CLIENTS] = {};
        Call *calls = calloc(N_CLIENTS * N_CALLS, sizeof(Call));
        unsigned n = 0;
        bool done = false;

        assert_non_null(calls);
        for (size_t i = 0; i < N_CLIENTS; i++)
                assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &clients[i]), 0);
        for (size_t j = 0; j < N_CALLS; j++)
                for (size_t i = 0; i < N_CLIENTS; i++) {
                        Call *c = &calls[i * N_CALLS + j];
                        *c = (Call){ .n_done = &n, .all_done = &done, .n_expected = N_CLIENTS * N_CALLS };
                        assert_true(asprintf(&c->expect, "client %zu call %zu", i, j) > 0);
                        send_echo(clients[i], c->expect, 20000, c);
                }
        run_until(f->event, &done, 30 * 1000000);
        assert_int_equal(n, N_CLIENTS * N_CALLS);
        for (size_t i = 0; i < N_CLIENTS * N_CALLS; i++)
                free(calls[i].expect);
        for (size_t i = 0; i < N_CLIENTS; i++)
                dbus_connection_close_unrefp(&clients[i]);
        free(calls);
}

/* A message far larger than the socket buffer cannot be written at once: libdbus enables the write watch,
 * the bridge must add EPOLLOUT to the fd's one source and drop it again once written (toggling). */
static void test_large_message_toggles_write_watch(void **state) {
        Fixture *f = *state;
        _cleanup_(dbus_connection_close_unrefp) DBusConnection *client = NULL;
        size_t size = 8 * 1024 * 1024;
        char *big = malloc(size + 1);
        unsigned n = 0;
        bool done = false;
        Call calls[2];

        assert_non_null(big);
        for (size_t i = 0; i < size; i++)
                big[i] = (char) ('a' + i % 26);
        big[size] = '\0';
        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &client), 0);
        calls[0] = (Call){ .n_done = &n, .all_done = &done, .n_expected = 2, .expect = big };
        calls[1] = (Call){ .n_done = &n, .all_done = &done, .n_expected = 2, .expect = (char *) "small" };
        send_echo(client, big, 20000, &calls[0]);
        send_echo(client, "small", 20000, &calls[1]);
        run_until(f->event, &done, 20 * 1000000);
        /* Order is kept on one connection. */
        assert_true(calls[0].finished <= calls[1].finished);
        free(big);
}

static DBusHandlerResult disconnect_filter(DBusConnection *c, DBusMessage *m, void *userdata) {
        if (dbus_message_is_signal(m, DBUS_INTERFACE_LOCAL, "Disconnected"))
                *(bool *) userdata = true;
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

/* The bus going away: hang-up on the fd, libdbus removes both watches from inside the handler; the bridge
 * must survive that and dispatch the local Disconnected signal. */
static void test_bus_goes_away(void **state) {
        Fixture *f = *state;
        _cleanup_(dbus_connection_close_unrefp) DBusConnection *client = NULL;
        bool disconnected = false;

        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &client), 0);
        assert_true(dbus_connection_add_filter(client, disconnect_filter, &disconnected, NULL));
        (void) kill(f->bus.pid, SIGKILL);
        run_until(f->event, &disconnected, 5 * 1000000);
        assert_false(dbus_connection_get_is_connected(client));
        dbus_connection_remove_filter(client, disconnect_filter, &disconnected);
}

/* libdbus's timeouts repeat until they are removed or disabled; sd-event timers fire once, so the bridge
 * re-arms them after each expiry. libdbus's own timeouts (pending calls) are removed as soon as they fire,
 * so no call through a bus can show whether the re-arm works. This test takes the timeout functions the
 * bridge installs on a connection (by wrapping dbus_connection_set_timeout_functions, below) and gives them
 * a timeout of its own, made by libdbus's _dbus_timeout_new: exported, but private to libdbus, hence looked
 * up at run time; the test is skipped without it. */
static struct {
        DBusAddTimeoutFunction add;
        DBusRemoveTimeoutFunction remove;
        DBusTimeoutToggledFunction toggle;
        void *data;
} bridge_timeouts;

typedef dbus_bool_t (*SetTimeoutFunctions)(
        DBusConnection *, DBusAddTimeoutFunction, DBusRemoveTimeoutFunction, DBusTimeoutToggledFunction,
        void *, DBusFreeFunction);

dbus_bool_t dbus_connection_set_timeout_functions(
        DBusConnection *c, DBusAddTimeoutFunction add, DBusRemoveTimeoutFunction remove,
        DBusTimeoutToggledFunction toggle, void *data, DBusFreeFunction free_data) {
        SetTimeoutFunctions real = (SetTimeoutFunctions) dlsym(RTLD_NEXT, __func__);

        assert_non_null(real);
        if (add)
                bridge_timeouts = (typeof(bridge_timeouts)){ add, remove, toggle, data };
        return real(c, add, remove, toggle, data, free_data);
}

typedef struct Fired {
        unsigned n;
        uint64_t at[64];
} Fired;

static dbus_bool_t on_own_timeout(void *userdata) {
        Fired *fired = userdata;
        if (fired->n < ELEMENTSOF(fired->at))
                fired->at[fired->n++] = now_usec();
        return TRUE;
}

static void test_timeout_repeats(void **state) {
        Fixture *f = *state;
        _cleanup_(dbus_connection_close_unrefp) DBusConnection *client = NULL;
        DBusTimeout *(*timeout_new)(int, dbus_bool_t (*)(void *), void *, DBusFreeFunction) =
                (typeof(timeout_new)) dlsym(RTLD_DEFAULT, "_dbus_timeout_new");
        void (*timeout_disable)(DBusTimeout *) =
                (typeof(timeout_disable)) dlsym(RTLD_DEFAULT, "_dbus_timeout_disable");
        void (*timeout_unref)(DBusTimeout *) =
                (typeof(timeout_unref)) dlsym(RTLD_DEFAULT, "_dbus_timeout_unref");
        Fired fired = {};

        if (!timeout_new || !timeout_disable || !timeout_unref) {
                print_message("libdbus does not export _dbus_timeout_new: skipped\n");
                skip();
        }
        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &client), 0);
        assert_non_null(bridge_timeouts.add);
        DBusTimeout *t = timeout_new(50, on_own_timeout, &fired, NULL);
        assert_non_null(t);
        assert_true(bridge_timeouts.add(t, bridge_timeouts.data));

        /* It fires again and again, each time a whole interval after the last. */
        uint64_t start = now_usec();
        while (fired.n < 5) {
                assert_true(now_usec() - start < 5 * 1000000);
                assert_true(sd_event_run(f->event, 100 * 1000) >= 0);
        }
        assert_true(fired.at[0] - start >= 50 * 1000);
        for (unsigned i = 1; i < fired.n; i++)
                assert_true(fired.at[i] - fired.at[i - 1] >= 45 * 1000);

        /* Disabled (and the bridge told so): it stops. */
        timeout_disable(t);
        bridge_timeouts.toggle(t, bridge_timeouts.data);
        unsigned n = fired.n;
        start = now_usec();
        while (now_usec() - start < 300 * 1000)
                assert_true(sd_event_run(f->event, 50 * 1000) >= 0);
        assert_int_equal(fired.n, n);

        bridge_timeouts.remove(t, bridge_timeouts.data);
        timeout_unref(t);
}

/* Detaching takes every source off the loop; attaching again works. */
static void test_detach_reattach(void **state) {
        Fixture *f = *state;
        _cleanup_(dbus_connection_close_unrefp) DBusConnection *client = NULL;

        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &client), 0);
        dbus_event_detach(client);
        dbus_event_detach(client); /* harmless twice */
        assert_int_equal(dbus_event_attach(client, f->event), 0);
        echo_once(f->event, client, "again");
}

KYSO_TEST_MAIN_FIXTURE(
        setup, teardown,
        {
                cmocka_unit_test(test_call_and_reply),
                cmocka_unit_test(test_pending_call_timeouts),
                cmocka_unit_test(test_timeout_repeats),
                cmocka_unit_test(test_many_callers),
                cmocka_unit_test(test_large_message_toggles_write_watch),
                cmocka_unit_test(test_bus_goes_away),
                cmocka_unit_test(test_detach_reattach),
        });
