/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the replies of an application's prompter (org.kyso.Prompter1): what the agent reads from a program
 * it does not control. The reply is parsed in prompt-dbus.c's reply callback, reachable only through a bus
 * connection, so this runs the D-Bus prompter against the fake application of the prompter tests on a
 * private dbus-daemon, and the application answers each call with a message built from the input.
 *
 * Byte 0: bit 0 asks for a PIN (AskPin) instead of a confirmation, bit 1 answers with an error (byte 1
 * picks the name, or the rest is the name when it is a valid one). Otherwise the rest is a list of
 * arguments, each a type byte then its value: a string (length byte, bytes; kept only if UTF-8 without
 * NUL), a boolean, a uint32, an int64, an object path. The prompter's handler runs once per prompt, with a
 * reply its contract allows, and a PIN only with YES and of a length the prompter accepts. */
#include "kyso-test.h"

#include "../fuzz/fuzz-check.h"
#include "fake-prompter-app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECOND (UINT64_C(1000000))

static FakeApp *app;
static Prompter *prompter;

static const PromptDocument doc = { .name = "qd.txt", .size = 10, .sha256 = "00ff" };
static const PromptRequest request = {
        .app_name = "fuzz",
        .documents = &doc,
        .n_documents = 1,
        .role = "approve",
};
static const PromptPinRequest pin_request = { .token_label = "leader", .tries_left = -1 };

static const char *const error_names[] = {
        "org.kyso.Error.Cancelled",    DBUS_ERROR_NO_REPLY,     DBUS_ERROR_SERVICE_UNKNOWN,
        DBUS_ERROR_UNKNOWN_METHOD,     DBUS_ERROR_INVALID_ARGS, DBUS_ERROR_FAILED,
        "org.kyso.Error.PinIncorrect",
};

static void cleanup(void) {
        prompter_free(prompter);
        fake_app_free(app);
}

static void setup(void) {
        app = fake_app_new();
        app->hang = true; /* the call is recorded; the answer is the input's */
        check(dbus_prompter_new(
                      app->event, app->agent, dbus_bus_get_unique_name(app->app), APP_PATH, 5 * SECOND,
                      &prompter) == 0);
        atexit(cleanup);
}

static void append_args(DBusMessage *m, const uint8_t *p, size_t n) {
        DBusMessageIter it;

        dbus_message_iter_init_append(m, &it);
        for (size_t i = 0; i < n;) {
                uint8_t t = p[i++];
                switch (t % 5) {
                case 0: {
                        size_t len = i < n ? MIN((size_t) p[i], n - i - 1) : 0;
                        _cleanup_free_ char *s = i < n ? strndup((const char *) p + i + 1, len) : strdup("");

                        i += i < n ? 1 + len : 0;
                        check(s);
                        if (dbus_validate_utf8(s, NULL))
                                check(dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &s));
                        break;
                }
                case 1: {
                        dbus_bool_t b = i < n ? p[i++] & 1 : 0;
                        check(dbus_message_iter_append_basic(&it, DBUS_TYPE_BOOLEAN, &b));
                        break;
                }
                case 2: {
                        dbus_uint32_t u = i < n ? p[i++] : 0;
                        check(dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &u));
                        break;
                }
                case 3: {
                        dbus_int64_t v = i < n ? -(dbus_int64_t) p[i++] : 0;
                        check(dbus_message_iter_append_basic(&it, DBUS_TYPE_INT64, &v));
                        break;
                }
                default: {
                        const char *path = "/org/kyso/x";
                        check(dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &path));
                        break;
                }
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        bool pin = size > 0 && (data[0] & 1), error = size > 0 && (data[0] & 2);
        unsigned calls, handled;
        DBusMessage *reply;

        if (!app)
                setup();
        calls = app->calls;
        handled = app->handled;
        check((pin ? prompter_ask_pin(prompter, &pin_request, fake_pin_handler, app)
                   : prompter_confirm(prompter, &request, fake_confirm_handler, app)) == 0);
        check(fake_run_until(app, &app->calls, calls, 5 * SECOND));

        if (error) {
                _cleanup_free_ char *name = size > 1 ? strndup((const char *) data + 1, size - 1) : NULL;

                check(size <= 1 || name);
                reply = dbus_message_new_error(
                        app->last_call,
                        name && dbus_validate_error_name(name, NULL)
                                ? name
                                : error_names[size > 1 ? data[1] % ELEMENTSOF(error_names) : 0],
                        "fuzz");
        } else {
                reply = dbus_message_new_method_return(app->last_call);
                check(reply);
                append_args(reply, data + MIN(size, (size_t) 1), size - MIN(size, (size_t) 1));
        }
        check(reply && dbus_connection_send(app->app, reply, NULL));
        dbus_message_unref(reply);

        check(fake_run_until(app, &app->handled, handled, 5 * SECOND));
        check(app->handled == handled + 1);
        check(!prompter_busy(prompter));
        check(app->reply == PROMPT_REPLY_YES || app->reply == PROMPT_REPLY_NO ||
              app->reply == PROMPT_REPLY_CANCELLED || app->reply == PROMPT_REPLY_ERROR);
        check((app->reply == PROMPT_REPLY_ERROR) == (app->error < 0));
        check(!error || app->reply == PROMPT_REPLY_ERROR || app->reply == PROMPT_REPLY_CANCELLED);
        if (pin) {
                check((app->reply == PROMPT_REPLY_YES) == !!app->pin_got);
                check(!app->pin_got || (secret_size(app->pin_got) > 0 && secret_size(app->pin_got) <= 256));
        }
        app->pin_got = secret_free(app->pin_got);
        return 0;
}
