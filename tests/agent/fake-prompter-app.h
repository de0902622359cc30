/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* A fake application for the tests of the D-Bus prompter: a private bus, the agent's connection and the
 * application's, both on one sd-event loop; the application's org.kyso.Prompter1 object answers each call as
 * the test says and records what it got. Header-only: tests include it. */

#include <systemd/sd-event.h>
#include <time.h>

#include "agent/prompt-dbus.h"
#include "agent/prompt-registry.h"
#include "dbus/dbus-event.h"
#include "dbus/private-bus.h"

#define APP_PATH "/org/example/Prompter"

typedef struct FakeApp {
        PrivateBus bus;
        sd_event *event;
        DBusConnection *agent, *app;
        /* How the application answers the next call: the reply's signature and strings ("s" with answer,
         * "ss" with answer and pin, "b", ...), an error name, or nothing (hang). */
        const char *reply_signature;
        const char *answer, *pin;
        const char *error_name;
        bool hang;
        /* What it got. */
        unsigned calls, cancels;
        char member[32];
        char signature[64];
        DBusMessage *last_call; /* referenced; for the hanging call, and the arguments */
        /* What the prompter's handler got. */
        unsigned handled;
        PromptReply reply;
        int error;
        Secret *pin_got;
} FakeApp;

static inline uint64_t fake_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Runs the loop until *counter exceeds before, or timeout_usec passes: true when it did. */
static inline bool
fake_run_until(FakeApp *f, const unsigned *counter, unsigned before, uint64_t timeout_usec) {
        uint64_t end = fake_now_usec() + timeout_usec;
        while (*counter <= before) {
                if (fake_now_usec() >= end)
                        return false;
                assert_true(sd_event_run(f->event, 20 * 1000) >= 0);
        }
        return true;
}

static inline void fake_run_for(FakeApp *f, uint64_t usec) {
        uint64_t end = fake_now_usec() + usec;
        while (fake_now_usec() < end)
                assert_true(sd_event_run(f->event, 20 * 1000) >= 0);
}

/* Answers the recorded call as configured. */
static inline void fake_answer(FakeApp *f) {
        DBusMessage *reply;

        assert_non_null(f->last_call);
        if (f->error_name)
                reply = dbus_message_new_error(f->last_call, f->error_name, "the test says so");
        else {
                reply = dbus_message_new_method_return(f->last_call);
                if (streq(f->reply_signature, "s"))
                        assert_true(dbus_message_append_args(
                                reply, DBUS_TYPE_STRING, &f->answer, DBUS_TYPE_INVALID));
                else if (streq(f->reply_signature, "ss"))
                        assert_true(dbus_message_append_args(
                                reply, DBUS_TYPE_STRING, &f->answer, DBUS_TYPE_STRING, &f->pin,
                                DBUS_TYPE_INVALID));
                else if (streq(f->reply_signature, "b")) {
                        dbus_bool_t b = true;
                        assert_true(
                                dbus_message_append_args(reply, DBUS_TYPE_BOOLEAN, &b, DBUS_TYPE_INVALID));
                }
        }
        assert_true(dbus_connection_send(f->app, reply, NULL));
        dbus_message_unref(reply);
}

static inline DBusHandlerResult fake_app_message(DBusConnection *c, DBusMessage *m, void *userdata) {
        FakeApp *f = userdata;

        if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_METHOD_CALL ||
            !dbus_message_has_interface(m, PROMPTER_INTERFACE))
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        if (dbus_message_has_member(m, "Cancel")) {
                assert_true(dbus_message_get_no_reply(m));
                f->cancels++;
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        f->calls++;
        snprintf(f->member, sizeof f->member, "%s", dbus_message_get_member(m));
        snprintf(f->signature, sizeof f->signature, "%s", dbus_message_get_signature(m));
        if (f->last_call)
                dbus_message_unref(f->last_call);
        f->last_call = dbus_message_ref(m);
        if (!f->hang)
                fake_answer(f);
        return DBUS_HANDLER_RESULT_HANDLED;
}

static const DBusObjectPathVTable fake_app_vtable = { .message_function = fake_app_message };

static inline FakeApp *fake_app_new(void) {
        FakeApp *f = calloc(1, sizeof *f);

        assert_non_null(f);
        assert_int_equal(private_bus_start(&f->bus, NULL), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &f->agent), 0);
        assert_int_equal(dbus_event_open_bus(f->event, f->bus.address, &f->app), 0);
        assert_true(dbus_connection_register_object_path(f->app, APP_PATH, &fake_app_vtable, f));
        f->reply_signature = "s";
        f->answer = "yes";
        return f;
}

static inline void fake_app_free(FakeApp *f) {
        if (f->last_call)
                dbus_message_unref(f->last_call);
        secret_free(f->pin_got);
        dbus_connection_close_unrefp(&f->app);
        dbus_connection_close_unrefp(&f->agent);
        sd_event_unref(f->event);
        private_bus_stop(&f->bus);
        free(f);
}

/* A test's state: the fake application and the object under test on the agent's side, freed with it. */
typedef struct FakeFixture {
        FakeApp *f;
        Prompter *p;           /* a DbusPrompter for the application */
        PrompterRegistry *reg; /* the registry the application registers with */
} FakeFixture;

static inline FakeFixture *fake_fixture_new(void) {
        FakeFixture *x = calloc(1, sizeof *x);

        assert_non_null(x);
        x->f = fake_app_new();
        return x;
}

static inline void fake_fixture_free(FakeFixture *x) {
        prompter_free(x->p);
        prompter_registry_free(x->reg);
        fake_app_free(x->f);
        free(x);
}

/* The application leaves the bus (its connection closes). */
static inline void fake_app_leave(FakeApp *f) {
        dbus_connection_close_unrefp(&f->app);
}

/* Prompter handlers that record into the FakeApp. */
static inline void fake_confirm_handler(Prompter *p, PromptReply reply, int error, void *userdata) {
        FakeApp *f = userdata;
        f->handled++;
        f->reply = reply;
        f->error = error;
}

static inline void fake_pin_handler(Prompter *p, PromptReply reply, int error, Secret *pin, void *userdata) {
        FakeApp *f = userdata;
        f->handled++;
        f->reply = reply;
        f->error = error;
        secret_free(f->pin_got);
        f->pin_got = pin;
}
