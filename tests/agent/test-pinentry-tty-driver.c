/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drives a real pinentry through the PinentryPrompter, as the agent will: a confirmation, then a PIN.
 * Usage: test-pinentry-tty-driver PROGRAM TTY [pinpad]. With "pinpad", shows the PIN pad message and closes
 * it after $KYSO_TEST_PINPAD_MS, as the agent does when the login returns. Prints one line per answer; the
 * PIN itself is never printed, only whether it equals $KYSO_TEST_EXPECTED_PIN. Used by test-pinentry-tty.sh
 * through tmux. */
#include <locale.h>
#include <stdio.h>

#include "agent/prompt-pinentry.h"
#include "i18n.h"
#include "macro.h"
#include "prompt-test.h"

static int exit_code = 1;

static void on_pin(Prompter *p, PromptReply reply, int error, Secret *pin, void *userdata) {
        sd_event *event = userdata;
        const char *expected = getenv("KYSO_TEST_EXPECTED_PIN");

        printf("pin: %s %d\n", prompt_reply_to_string(reply), error);
        if (reply == PROMPT_REPLY_YES) {
                bool match = expected && streq(secret_get(pin), expected);
                printf("pin %s (%zu bytes)\n", match ? "matches" : "differs", secret_size(pin));
                exit_code = match ? 0 : 1;
        }
        fflush(stdout);
        secret_free(pin);
        sd_event_exit(event, 0);
}

static void on_confirm(Prompter *p, PromptReply reply, int error, void *userdata) {
        sd_event *event = userdata;
        PromptPinRequest req = { .token_label = "Token Lãnh đạo", .state = PROMPT_PIN_OK, .tries_left = -1 };
        int r;

        printf("confirm: %s %d\n", prompt_reply_to_string(reply), error);
        fflush(stdout);
        if (reply != PROMPT_REPLY_YES) {
                exit_code = reply == PROMPT_REPLY_ERROR ? 3 : 4;
                sd_event_exit(event, 0);
                return;
        }
        r = prompter_ask_pin(p, &req, on_pin, event);
        if (r < 0) {
                printf("ask_pin failed: %d\n", r);
                sd_event_exit(event, 0);
        }
}

static void on_pinpad(Prompter *p, PromptReply reply, int error, void *userdata) {
        printf("pinpad: %s %d\n", prompt_reply_to_string(reply), error);
        fflush(stdout);
        exit_code = 5; /* the person was not supposed to close it */
        sd_event_exit(userdata, 0);
}

static int on_login_done(sd_event_source *s, uint64_t usec, void *userdata) {
        Prompter *p = userdata;
        prompter_cancel(p);
        printf("pinpad closed by the agent\n");
        fflush(stdout);
        exit_code = 0;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(prompter_freep) Prompter *p = NULL;
        PromptDocument doc = { .name = "to-trinh-ngan-sach-2026.pdf",
                               .size = 48213,
                               .sha256 =
                                       "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9" };
        PromptRequest req = TEST_PROMPT_REQUEST(&doc);
        PinentryConfig c = {};
        int r;

        _cleanup_(sd_event_source_unrefp) sd_event_source *login = NULL;

        if (argc != 3 && !(argc == 4 && streq(argv[3], "pinpad"))) {
                fprintf(stderr, "usage: %s PROGRAM TTY [pinpad]\n", argv[0]);
                return 2;
        }
        setlocale(LC_ALL, "");
        i18n_setup();
        c.program = argv[1];
        c.ttyname = argv[2];
        c.ttytype = "screen";
        c.timeout_usec = UINT64_C(30) * 1000000;
        if (getenv("KYSO_TEST_TIMEOUT_MS"))
                c.timeout_usec = strtoull(getenv("KYSO_TEST_TIMEOUT_MS"), NULL, 10) * 1000;

        r = sd_event_default(&event);
        if (r < 0)
                return 1;
        r = pinentry_prompter_new(event, &c, &p);
        if (r < 0)
                return 1;
        if (argc == 4) {
                const char *ms = getenv("KYSO_TEST_PINPAD_MS");
                r = prompter_show_pinpad(p, "Token Lãnh đạo", on_pinpad, event);
                if (r < 0) {
                        fprintf(stderr, "show_pinpad failed: %s\n", strerror(-r));
                        return 1;
                }
                r = sd_event_add_time_relative(
                        event, &login, CLOCK_MONOTONIC, (ms ? strtoull(ms, NULL, 10) : 1000) * 1000, 0,
                        on_login_done, p);
                if (r < 0)
                        return 1;
                r = sd_event_loop(event);
                p = prompter_free(p);
                return r < 0 ? 1 : exit_code;
        }
        r = prompter_confirm(p, &req, on_confirm, event);
        if (r < 0) {
                fprintf(stderr, "confirm failed: %s\n", strerror(-r));
                return 1;
        }
        r = sd_event_loop(event);
        if (r < 0)
                return 1;
        /* Freeing the prompter waits for pinentry to exit, so the terminal is back when we are done. */
        p = prompter_free(p);
        return exit_code;
}
