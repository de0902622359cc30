/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "agent/prompt-registry.h"
#include "fake-prompter-app.h"

#define SECOND (UINT64_C(1000000))

typedef FakeFixture Fixture;

static const PromptRequest request = { .app_name = "qlvb", .role = "approve" };

static int setup(void **state) {
        Fixture *x = fake_fixture_new();

        assert_int_equal(prompter_registry_new(x->f->event, x->f->agent, 0, &x->reg), 0);
        *state = x;
        return 0;
}

static int teardown(void **state) {
        fake_fixture_free(*state);
        return 0;
}

/* RegisterPrompter or UnregisterPrompter (path) from sender, as the agent's dispatch hands it over: returns
 * the error name of the reply, or "ok"; the message in message (when given). */
static const char *
call(Fixture *x, const char *method, const char *sender, const char *path, char **message) {
        static char name[128];
        DBusMessage *m = dbus_message_new_method_call(
                            "org.kyso.Agent1", "/org/kyso/Agent1", "org.kyso.Agent1", method),
                    *reply;

        assert_non_null(m);
        assert_true(dbus_message_set_sender(m, sender));
        dbus_message_set_serial(m, 1);
        assert_true(dbus_message_append_args(m, DBUS_TYPE_OBJECT_PATH, &path, DBUS_TYPE_INVALID));
        reply = streq(method, "RegisterPrompter") ? prompter_registry_register(x->reg, m)
                                                  : prompter_registry_unregister(x->reg, m);
        assert_non_null(reply);
        snprintf(
                name, sizeof name, "%s",
                dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR ? dbus_message_get_error_name(reply)
                                                                        : "ok");
        if (message) {
                const char *text = "";
                (void) dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID);
                *message = strdup(text);
        }
        dbus_message_unref(reply);
        dbus_message_unref(m);
        return name;
}

static void test_register_unregister(void **state) {
        Fixture *x = *state;
        _cleanup_free_ char *again = NULL, *missing = NULL;

        assert_string_equal(call(x, "RegisterPrompter", ":1.50", "/a/Prompter", NULL), "ok");
        assert_int_equal(prompter_registry_size(x->reg), 1);
        assert_non_null(prompter_registry_get(x->reg, ":1.50"));
        assert_null(prompter_registry_get(x->reg, ":1.51")); /* another connection has none */
        assert_null(prompter_registry_get(x->reg, NULL));

        /* One per connection, whatever the path. */
        assert_string_equal(
                call(x, "RegisterPrompter", ":1.50", "/a/Prompter", &again), "org.kyso.Error.InvalidArgs");
        assert_non_null(strstr(again, "/a/Prompter"));
        assert_non_null(strstr(again, "UnregisterPrompter"));
        assert_string_equal(call(x, "RegisterPrompter", ":1.50", "/b", NULL), "org.kyso.Error.InvalidArgs");
        assert_string_equal(dbus_prompter_get_path(prompter_registry_get(x->reg, ":1.50")), "/a/Prompter");

        /* Only the registering connection can unregister, and only its own path. */
        assert_string_equal(
                call(x, "UnregisterPrompter", ":1.51", "/a/Prompter", &missing),
                "org.kyso.Error.InvalidArgs");
        assert_non_null(strstr(missing, "no prompter registered at /a/Prompter"));
        assert_string_equal(
                call(x, "UnregisterPrompter", ":1.50", "/b", NULL), "org.kyso.Error.InvalidArgs");
        assert_int_equal(prompter_registry_size(x->reg), 1);
        assert_string_equal(call(x, "UnregisterPrompter", ":1.50", "/a/Prompter", NULL), "ok");
        assert_int_equal(prompter_registry_size(x->reg), 0);
        assert_string_equal(
                call(x, "UnregisterPrompter", ":1.50", "/a/Prompter", NULL), "org.kyso.Error.InvalidArgs");
        assert_string_equal(call(x, "RegisterPrompter", ":1.50", "/b", NULL), "ok");
}

static void test_bounded(void **state) {
        Fixture *x = *state;

        for (unsigned i = 0; i < PROMPTER_REGISTRY_MAX; i++) {
                char sender[32];
                snprintf(sender, sizeof sender, ":9.%u", i);
                assert_string_equal(call(x, "RegisterPrompter", sender, "/p", NULL), "ok");
        }
        assert_string_equal(call(x, "RegisterPrompter", ":9.999", "/p", NULL), "org.kyso.Error.Busy");
        assert_int_equal(prompter_registry_size(x->reg), PROMPTER_REGISTRY_MAX);
}

static bool size_is_zero(Fixture *x) {
        return prompter_registry_size(x->reg) == 0;
}

static void test_dropped_when_the_connection_leaves(void **state) {
        Fixture *x = *state;
        const char *app = dbus_bus_get_unique_name(x->f->app);
        uint64_t end;

        assert_string_equal(call(x, "RegisterPrompter", app, APP_PATH, NULL), "ok");
        /* Another connection leaving changes nothing. */
        {
                DBusConnection *other = NULL;
                assert_int_equal(dbus_event_open_bus(x->f->event, x->f->bus.address, &other), 0);
                dbus_connection_close_unrefp(&other);
        }
        fake_run_for(x->f, SECOND / 5);
        assert_int_equal(prompter_registry_size(x->reg), 1);

        fake_app_leave(x->f);
        end = fake_now_usec() + 5 * SECOND;
        while (!size_is_zero(x) && fake_now_usec() < end)
                assert_true(sd_event_run(x->f->event, 20 * 1000) >= 0);
        assert_int_equal(prompter_registry_size(x->reg), 0);
        assert_null(prompter_registry_get(x->reg, app));
}

/* A call open when the registration ends fails cleanly, at once, through its handler. */
static void test_open_call_ends_with_the_registration(void **state) {
        Fixture *x = *state;
        const char *app = dbus_bus_get_unique_name(x->f->app);
        Prompter *p;

        x->f->hang = true;
        assert_string_equal(call(x, "RegisterPrompter", app, APP_PATH, NULL), "ok");
        p = prompter_registry_get(x->reg, app);
        assert_int_equal(prompter_confirm(p, &request, fake_confirm_handler, x->f), 0);
        assert_true(fake_run_until(x->f, &x->f->calls, 0, 5 * SECOND));
        assert_string_equal(call(x, "UnregisterPrompter", app, APP_PATH, NULL), "ok");
        assert_int_equal(x->f->handled, 1);
        assert_int_equal(x->f->reply, PROMPT_REPLY_ERROR);
        assert_int_equal(x->f->error, -ENOTCONN);

        /* Registered again, then the connection leaves mid-call. */
        assert_string_equal(call(x, "RegisterPrompter", app, APP_PATH, NULL), "ok");
        p = prompter_registry_get(x->reg, app);
        assert_int_equal(
                prompter_ask_pin(p, &(PromptPinRequest){ .token_label = "leader" }, fake_pin_handler, x->f),
                0);
        assert_true(fake_run_until(x->f, &x->f->calls, 1, 5 * SECOND));
        fake_app_leave(x->f);
        assert_true(fake_run_until(x->f, &x->f->handled, 1, 5 * SECOND));
        assert_int_equal(x->f->error, -ENOTCONN);
        assert_null(x->f->pin_got);
}

KYSO_TEST_MAIN_FIXTURE(
        setup, teardown,
        {
                cmocka_unit_test(test_register_unregister),
                cmocka_unit_test(test_bounded),
                cmocka_unit_test(test_dropped_when_the_connection_leaves),
                cmocka_unit_test(test_open_call_ends_with_the_registration),
        });
