/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <systemd/sd-event.h>
#include <time.h>

#include "agent/agent-peers.h"
#include "dbus/dbus-event.h"
#include "dbus/private-bus.h"

typedef struct Fixture {
        PrivateBus bus;
        sd_event *event;
        DBusConnection *server, *monitor;
        PeerCache *cache;
        unsigned n_checked, n_queries;
        uid_t last_uid;
        int last_error;
        char order[64];
} Fixture;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static bool run_until(sd_event *e, bool (*done)(Fixture *), Fixture *f, uint64_t timeout_usec) {
        uint64_t end = now_usec() + timeout_usec;
        while (!done(f)) {
                if (now_usec() >= end)
                        return false;
                assert_true(sd_event_run(e, 50 * 1000) >= 0);
        }
        return true;
}

static void checked(DBusConnection *c, DBusMessage *m, int error, uid_t uid, void *userdata) {
        Fixture *f = userdata;
        const char *member = dbus_message_get_member(m);
        size_t l = strlen(f->order);

        f->n_checked++;
        f->last_uid = uid;
        f->last_error = error;
        if (member && l + 1 < sizeof f->order) {
                f->order[l] = member[strlen(member) - 1]; /* "Call0" .. "Call9" → '0'..'9' */
                f->order[l + 1] = '\0';
        }
}

static DBusHandlerResult server_handler(DBusConnection *c, DBusMessage *m, void *userdata) {
        Fixture *f = userdata;
        if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_METHOD_CALL)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        assert_int_equal(peer_cache_check(f->cache, m), 0);
        return DBUS_HANDLER_RESULT_HANDLED;
}

static const DBusObjectPathVTable vtable = { .message_function = server_handler };

/* Counts the GetConnectionCredentials calls on the bus, as a monitor sees them. */
static DBusHandlerResult monitor_filter(DBusConnection *c, DBusMessage *m, void *userdata) {
        Fixture *f = userdata;
        if (dbus_message_is_method_call(m, DBUS_INTERFACE_DBUS, "GetConnectionCredentials"))
                f->n_queries++;
        return DBUS_HANDLER_RESULT_HANDLED;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        DBusMessage *m, *reply;
        DBusMessageIter it, arr;
        const char *rule = "type='method_call',member='GetConnectionCredentials'";
        dbus_uint32_t flags = 0;

        assert_non_null(f);
        assert_int_equal(private_bus_start(&f->bus, NULL), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &f->server), 0);
        assert_int_equal(peer_cache_new(f->server, checked, f, &f->cache), 0);
        assert_true(dbus_connection_register_fallback(f->server, "/", &vtable, f));

        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &f->monitor), 0);
        assert_true(dbus_connection_add_filter(f->monitor, monitor_filter, f, NULL));
        m = dbus_message_new_method_call(
                DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, "org.freedesktop.DBus.Monitoring", "BecomeMonitor");
        dbus_message_iter_init_append(m, &it);
        assert_true(dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "s", &arr));
        assert_true(dbus_message_iter_append_basic(&arr, DBUS_TYPE_STRING, &rule));
        assert_true(dbus_message_iter_close_container(&it, &arr));
        assert_true(dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &flags));
        reply = dbus_connection_send_with_reply_and_block(f->monitor, m, 5000, NULL);
        assert_non_null(reply);
        dbus_message_unref(reply);
        dbus_message_unref(m);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        peer_cache_free(f->cache);
        dbus_connection_close_unrefp(&f->monitor);
        dbus_connection_close_unrefp(&f->server);
        sd_event_unref(f->event);
        private_bus_stop(&f->bus);
        free(f);
        return 0;
}

static void send_calls(Fixture *f, DBusConnection *client, unsigned n) {
        const char *server = dbus_bus_get_unique_name(f->server);
        for (unsigned i = 0; i < n; i++) {
                char member[16];
                DBusMessage *m;
                snprintf(member, sizeof member, "Call%u", i);
                m = dbus_message_new_method_call(server, "/x", "org.kyso.Test", member);
                assert_non_null(m);
                dbus_message_set_no_reply(m, TRUE);
                assert_true(dbus_connection_send(client, m, NULL));
                dbus_message_unref(m);
        }
        dbus_connection_flush(client);
}

static bool five_checked(Fixture *f) {
        return f->n_checked >= 5;
}
static bool eight_checked(Fixture *f) {
        return f->n_checked >= 8;
}
static bool one_peer_left(Fixture *f) {
        return peer_cache_size(f->cache) == 1;
}

static void test_uid_asked_once_per_sender_in_order(void **state) {
        Fixture *f = *state;
        _cleanup_(dbus_connection_close_unrefp) DBusConnection *a = NULL, *b = NULL;

        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &a), 0);
        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &b), 0);

        /* Five calls before the bus has answered: one query, all five checked, in order. */
        send_calls(f, a, 5);
        assert_true(run_until(f->event, five_checked, f, 5000000));
        assert_string_equal(f->order, "01234");
        assert_int_equal(f->last_error, 0);
        assert_int_equal(f->last_uid, getuid());
        assert_int_equal(peer_cache_size(f->cache), 1);
        /* The process id comes with the uid (for the prompt and the audit record), without another query;
         * the bus knows nothing of a name that never called. */
        assert_int_equal(peer_cache_get_pid(f->cache, dbus_bus_get_unique_name(a)), getpid());
        assert_int_equal(peer_cache_get_pid(f->cache, dbus_bus_get_unique_name(b)), 0);

        /* Three more from the same sender: answered from the cache; a second sender: one more query. */
        send_calls(f, a, 2);
        send_calls(f, b, 1);
        assert_true(run_until(f->event, eight_checked, f, 5000000));
        assert_int_equal(peer_cache_size(f->cache), 2);
        /* Let the monitor catch up, then count: exactly one query per sender. */
        for (int i = 0; i < 20; i++)
                (void) sd_event_run(f->event, 10 * 1000);
        assert_int_equal(f->n_queries, 2);

        /* A sender that leaves is forgotten. */
        dbus_connection_close_unrefp(&a);
        assert_true(run_until(f->event, one_peer_left, f, 5000000));
}

KYSO_TEST_MAIN_FIXTURE(
        setup, teardown,
        {
                cmocka_unit_test(test_uid_asked_once_per_sender_in_order),
        });
