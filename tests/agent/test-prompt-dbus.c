/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "fake-prompter-app.h"

#define SECOND (UINT64_C(1000000))

typedef FakeFixture Fixture;

static const PromptDocument docs[] = {
        { .name = "to-trinh\nFAKE LINE.pdf", .size = 123456, .sha256 = "9f86d081884c7d65" },
        { .name = "phu-luc.pdf", .size = 7, .sha256 = "00ff" },
};

static const PromptRequest request = {
        .app_name = "qlvb",
        .executable = "/usr/bin/qlvb",
        .pid = 4242,
        .documents = docs,
        .n_documents = 2,
        .cert_holder = "Nguyễn Văn An",
        .cert_organization = NULL, /* unknown: "" */
        .cert_kind = "personal",
        .cert_not_after = 1893456000,
        .role = "approve",
        .flags = PROMPT_FLAG_FINAL_TRY,
};

static const PromptPinRequest pin_request = {
        .token_label = "leader",
        .state = PROMPT_PIN_FINAL_TRY,
        .tries_left = 1,
        .previous_wrong = true,
};

static int setup(void **state) {
        Fixture *x = fake_fixture_new();

        assert_int_equal(
                dbus_prompter_new(
                        x->f->event, x->f->agent, dbus_bus_get_unique_name(x->f->app), APP_PATH, SECOND / 2,
                        &x->p),
                0);
        *state = x;
        return 0;
}

static int teardown(void **state) {
        fake_fixture_free(*state);
        return 0;
}

/* The basic value at it, then on to the next argument. */
static void get_next(DBusMessageIter *it, void *value) {
        dbus_message_iter_get_basic(it, value);
        dbus_message_iter_next(it);
}

/* Starts a confirmation and runs until its handler was called. */
static void confirm_and_wait(Fixture *x) {
        unsigned before = x->f->handled;
        assert_int_equal(prompter_confirm(x->p, &request, fake_confirm_handler, x->f), 0);
        assert_true(prompter_busy(x->p));
        assert_true(fake_run_until(x->f, &x->f->handled, before, 5 * SECOND));
        assert_false(prompter_busy(x->p));
}

static void ask_pin_and_wait(Fixture *x) {
        unsigned before = x->f->handled;
        assert_int_equal(prompter_ask_pin(x->p, &pin_request, fake_pin_handler, x->f), 0);
        assert_true(fake_run_until(x->f, &x->f->handled, before, 5 * SECOND));
}

static void test_confirm_sends_the_facts(void **state) {
        Fixture *x = *state;
        const char *app_name, *exe, *holder, *org, *kind, *role, *name, *sha;
        dbus_uint32_t pid;
        dbus_uint64_t size;
        dbus_int64_t not_after;
        dbus_bool_t final_try;
        DBusMessageIter it, arr, st;

        confirm_and_wait(x);
        assert_int_equal(x->f->reply, PROMPT_REPLY_YES);
        assert_int_equal(x->f->error, 0);
        assert_string_equal(x->f->member, "Confirm");
        assert_string_equal(x->f->signature, "ssua(sts)sssxsb");

        assert_true(dbus_message_iter_init(x->f->last_call, &it));
        get_next(&it, &app_name);
        get_next(&it, &exe);
        get_next(&it, &pid);
        assert_string_equal(app_name, "qlvb");
        assert_string_equal(exe, "/usr/bin/qlvb");
        assert_int_equal(pid, 4242);
        /* Both documents; the line break that could fake a line in the app's dialog is replaced. */
        dbus_message_iter_recurse(&it, &arr);
        dbus_message_iter_recurse(&arr, &st);
        get_next(&st, &name);
        get_next(&st, &size);
        dbus_message_iter_get_basic(&st, &sha);
        assert_null(strchr(name, '\n'));
        assert_non_null(strstr(name, "FAKE LINE.pdf"));
        assert_int_equal(size, 123456);
        assert_string_equal(sha, "9f86d081884c7d65");
        assert_true(dbus_message_iter_next(&arr));
        dbus_message_iter_recurse(&arr, &st);
        dbus_message_iter_get_basic(&st, &name);
        assert_string_equal(name, "phu-luc.pdf");
        assert_false(dbus_message_iter_next(&arr));
        dbus_message_iter_next(&it);
        get_next(&it, &holder);
        get_next(&it, &org);
        get_next(&it, &kind);
        get_next(&it, &not_after);
        get_next(&it, &role);
        dbus_message_iter_get_basic(&it, &final_try);
        assert_string_equal(holder, "Nguyễn Văn An");
        assert_string_equal(org, ""); /* unknown */
        assert_string_equal(kind, "personal");
        assert_int_equal(not_after, 1893456000);
        assert_string_equal(role, "approve");
        assert_true(final_try);
        assert_int_equal(x->f->cancels, 0); /* an answered call gets no Cancel */
}

static void test_confirm_answers(void **state) {
        static const struct {
                const char *signature, *answer, *error_name;
                PromptReply reply;
                int error;
        } cases[] = {
                { "s", "no", NULL, PROMPT_REPLY_NO, 0 },
                { "s", "cancel", NULL, PROMPT_REPLY_CANCELLED, 0 },
                { "s", NULL, "org.kyso.Error.Cancelled", PROMPT_REPLY_CANCELLED, 0 },
                { "s", "maybe", NULL, PROMPT_REPLY_ERROR, -EPROTO },
                { "s", "YES", NULL, PROMPT_REPLY_ERROR, -EPROTO },
                { "b", NULL, NULL, PROMPT_REPLY_ERROR, -EPROTO },
                { "ss", "yes", NULL, PROMPT_REPLY_ERROR, -EPROTO },
                { "s", NULL, "org.example.Error.Broken", PROMPT_REPLY_ERROR, -EIO },
                { "s", NULL, DBUS_ERROR_UNKNOWN_METHOD, PROMPT_REPLY_ERROR, -EPROTO },
                { "s", "yes", NULL, PROMPT_REPLY_YES, 0 },
        };
        Fixture *x = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                x->f->reply_signature = cases[i].signature;
                x->f->answer = cases[i].answer;
                x->f->pin = "";
                x->f->error_name = cases[i].error_name;
                confirm_and_wait(x);
                if (x->f->reply != cases[i].reply || x->f->error != cases[i].error)
                        fail_msg("case %zu: got reply %d error %d", i, x->f->reply, x->f->error);
        }
        assert_int_equal(x->f->cancels, 0);
}

static void test_no_such_object(void **state) {
        Fixture *x = *state;
        _cleanup_(prompter_freep) Prompter *p = NULL;

        /* The application registered a path where it exports nothing: UnknownObject/UnknownMethod. */
        assert_int_equal(
                dbus_prompter_new(
                        x->f->event, x->f->agent, dbus_bus_get_unique_name(x->f->app), "/nothing/here", 0,
                        &p),
                0);
        assert_int_equal(prompter_confirm(p, &request, fake_confirm_handler, x->f), 0);
        assert_true(fake_run_until(x->f, &x->f->handled, 0, 5 * SECOND));
        assert_int_equal(x->f->reply, PROMPT_REPLY_ERROR);
        assert_int_equal(x->f->error, -EPROTO);
}

static void test_ask_pin(void **state) {
        Fixture *x = *state;
        const char *label, *pin_state;
        dbus_int32_t tries;
        dbus_bool_t wrong;

        x->f->reply_signature = "ss";
        x->f->answer = "yes";
        x->f->pin = "12345678";
        ask_pin_and_wait(x);
        assert_int_equal(x->f->reply, PROMPT_REPLY_YES);
        assert_non_null(x->f->pin_got);
        assert_string_equal(secret_get(x->f->pin_got), "12345678");
        assert_string_equal(x->f->member, "AskPin");
        assert_true(dbus_message_get_args(
                x->f->last_call, NULL, DBUS_TYPE_STRING, &label, DBUS_TYPE_STRING, &pin_state,
                DBUS_TYPE_INT32, &tries, DBUS_TYPE_BOOLEAN, &wrong, DBUS_TYPE_INVALID));
        assert_string_equal(label, "leader");
        assert_string_equal(pin_state, "final-try");
        assert_int_equal(tries, 1);
        assert_true(wrong);
}

static void test_ask_pin_bad_answers(void **state) {
        static const struct {
                const char *signature, *answer, *pin;
                PromptReply reply;
                int error;
        } cases[] = {
                { "ss", "yes", "", PROMPT_REPLY_ERROR, -EPROTO },       /* yes without a PIN */
                { "s", "12345678", NULL, PROMPT_REPLY_ERROR, -EPROTO }, /* the PIN alone */
                { "ss", "ok", "1234", PROMPT_REPLY_ERROR, -EPROTO },
                { "ss", "no", "", PROMPT_REPLY_NO, 0 },
                { "ss", "cancel", "1234", PROMPT_REPLY_CANCELLED, 0 }, /* a PIN with cancel is dropped */
        };
        Fixture *x = *state;
        char long_pin[300];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                x->f->reply_signature = cases[i].signature;
                x->f->answer = cases[i].answer;
                x->f->pin = cases[i].pin;
                ask_pin_and_wait(x);
                if (x->f->reply != cases[i].reply || x->f->error != cases[i].error)
                        fail_msg("case %zu: got reply %d error %d", i, x->f->reply, x->f->error);
                assert_null(x->f->pin_got);
        }
        memset(long_pin, '7', sizeof long_pin - 1);
        long_pin[sizeof long_pin - 1] = '\0';
        x->f->reply_signature = "ss";
        x->f->answer = "yes";
        x->f->pin = long_pin;
        ask_pin_and_wait(x);
        assert_int_equal(x->f->error, -EPROTO);
        assert_null(x->f->pin_got);
}

static void test_locked_pin_never_asked(void **state) {
        Fixture *x = *state;
        PromptPinRequest locked = pin_request;

        locked.state = PROMPT_PIN_LOCKED;
        assert_int_equal(prompter_ask_pin(x->p, &locked, fake_pin_handler, x->f), -EPERM);
        fake_run_for(x->f, SECOND / 10);
        assert_int_equal(x->f->calls, 0);
}

static void test_timeout_sends_cancel(void **state) {
        Fixture *x = *state;
        uint64_t t0 = fake_now_usec();

        x->f->hang = true;
        confirm_and_wait(x);
        assert_int_equal(x->f->reply, PROMPT_REPLY_ERROR);
        assert_int_equal(x->f->error, -ETIMEDOUT);
        assert_true(fake_now_usec() - t0 >= SECOND / 2);
        assert_true(fake_run_until(x->f, &x->f->cancels, 0, 5 * SECOND));
        /* A late answer changes nothing. */
        fake_answer(x->f);
        fake_run_for(x->f, SECOND / 5);
        assert_int_equal(x->f->handled, 1);
}

static void test_cancel(void **state) {
        Fixture *x = *state;

        x->f->hang = true;
        assert_int_equal(prompter_confirm(x->p, &request, fake_confirm_handler, x->f), 0);
        assert_true(fake_run_until(x->f, &x->f->calls, 0, 5 * SECOND));
        assert_int_equal(prompter_confirm(x->p, &request, fake_confirm_handler, x->f), -EBUSY);
        prompter_cancel(x->p);
        assert_false(prompter_busy(x->p));
        assert_true(fake_run_until(x->f, &x->f->cancels, 0, 5 * SECOND));
        fake_answer(x->f); /* too late: ignored */
        fake_run_for(x->f, SECOND);
        assert_int_equal(x->f->handled, 0); /* neither the answer nor the timeout reach the handler */
        prompter_cancel(x->p);              /* nothing open: nothing sent */
        fake_run_for(x->f, SECOND / 10);
        assert_int_equal(x->f->cancels, 1);
}

static void test_app_leaves_mid_call(void **state) {
        Fixture *x = *state;
        uint64_t t0;

        x->f->hang = true;
        assert_int_equal(prompter_ask_pin(x->p, &pin_request, fake_pin_handler, x->f), 0);
        assert_true(fake_run_until(x->f, &x->f->calls, 0, 5 * SECOND));
        t0 = fake_now_usec();
        fake_app_leave(x->f);
        assert_true(fake_run_until(x->f, &x->f->handled, 0, 5 * SECOND));
        assert_true(fake_now_usec() - t0 < SECOND / 2); /* the bus says so at once: not the timeout */
        assert_int_equal(x->f->reply, PROMPT_REPLY_ERROR);
        assert_int_equal(x->f->error, -ENOTCONN);
        assert_null(x->f->pin_got);
}

static void test_disconnect(void **state) {
        Fixture *x = *state;

        x->f->hang = true;
        assert_int_equal(prompter_confirm(x->p, &request, fake_confirm_handler, x->f), 0);
        assert_true(fake_run_until(x->f, &x->f->calls, 0, 5 * SECOND));
        dbus_prompter_disconnect(x->p); /* the handler runs before this returns */
        assert_int_equal(x->f->handled, 1);
        assert_int_equal(x->f->error, -ENOTCONN);
        assert_int_equal(prompter_confirm(x->p, &request, fake_confirm_handler, x->f), -ENOTCONN);
        assert_int_equal(prompter_ask_pin(x->p, &pin_request, fake_pin_handler, x->f), -ENOTCONN);
        fake_run_for(x->f, SECOND / 5);
        assert_int_equal(x->f->cancels, 0); /* gone: nothing is sent any more */
}

static void test_free_with_open_call(void **state) {
        Fixture *x = *state;

        x->f->hang = true;
        assert_int_equal(prompter_show_pinpad(x->p, "leader", fake_confirm_handler, x->f), 0);
        assert_true(fake_run_until(x->f, &x->f->calls, 0, 5 * SECOND));
        assert_string_equal(x->f->member, "ShowPinpad");
        assert_string_equal(x->f->signature, "s");
        x->p = prompter_free(x->p);
        assert_true(fake_run_until(x->f, &x->f->cancels, 0, 5 * SECOND));
        assert_int_equal(x->f->handled, 0);
}

static void test_bad_arguments(void **state) {
        Fixture *x = *state;
        Prompter *p = NULL;

        assert_int_equal(dbus_prompter_new(x->f->event, x->f->agent, ":1.1", "not/a/path", 0, &p), -EINVAL);
        assert_int_equal(prompter_confirm(x->p, &request, NULL, NULL), -EINVAL);
        assert_int_equal(prompter_confirm(x->p, NULL, fake_confirm_handler, x->f), -EINVAL);
        assert_string_equal(dbus_prompter_get_path(x->p), APP_PATH);
        assert_string_equal(dbus_prompter_get_name(x->p), dbus_bus_get_unique_name(x->f->app));
}

KYSO_TEST_MAIN_FIXTURE(
        setup, teardown,
        {
                cmocka_unit_test(test_confirm_sends_the_facts),
                cmocka_unit_test(test_confirm_answers),
                cmocka_unit_test(test_no_such_object),
                cmocka_unit_test(test_ask_pin),
                cmocka_unit_test(test_ask_pin_bad_answers),
                cmocka_unit_test(test_locked_pin_never_asked),
                cmocka_unit_test(test_timeout_sends_cancel),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_app_leaves_mid_call),
                cmocka_unit_test(test_disconnect),
                cmocka_unit_test(test_free_with_open_call),
                cmocka_unit_test(test_bad_arguments),
        });
