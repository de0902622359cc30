/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/prompt-pinentry.h"
#include "agent/prompt-text.h"
#include "fileio.h"
#include "i18n.h"
#include "prompt-test.h"

/* argv[1]: the scripted pinentry (tests/agent/scripted-pinentry). */
static const char *scripted;

typedef struct Fixture {
        char dir[64];
        char script[128];
        char log[128];
        sd_event *event;
        Prompter *prompter;
        /* What the handler saw. */
        int calls;
        PromptReply reply;
        int error;
        Secret *pin;
        int ticks;
} Fixture;

static const PromptDocument doc = {
        .name = "to-trinh-ngan-sach.pdf",
        .size = 123456,
        .sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
};

static const PromptRequest request = TEST_PROMPT_REQUEST(&doc);

static void write_script(Fixture *f, const char *answers) {
        _cleanup_fclose_ FILE *s = fopen(f->script, "we");
        assert_non_null(s);
        assert_true(fputs(answers, s) >= 0);
}

static char *read_log(Fixture *f) {
        _cleanup_fclose_ FILE *l = fopen(f->log, "re");
        char *buf = calloc(1, 65536);
        assert_non_null(buf);
        if (l)
                (void) fread(buf, 1, 65535, l);
        return buf;
}

static int on_safety(sd_event_source *s, uint64_t usec, void *userdata) {
        fail_msg("the test's event loop ran for 20 s without an answer");
        return 0;
}

/* Runs the test's event loop until done(f), for 20 s at most. */
static void run_until(Fixture *f, bool (*done)(Fixture *f)) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *safety = NULL;
        assert_int_equal(
                sd_event_add_time_relative(
                        f->event, &safety, CLOCK_MONOTONIC, 20 * 1000000, 0, on_safety, f),
                0);
        while (!done(f))
                assert_true(sd_event_run(f->event, UINT64_MAX) >= 0);
}

/* A handler was called. */
static bool answered(Fixture *f) {
        return f->calls > 0;
}

/* No pinentry process is left. */
static bool reaped(Fixture *f) {
        return pinentry_prompter_children(f->prompter) == 0;
}

static void run_until_answer(Fixture *f) {
        run_until(f, answered);
}

static void run_until_reaped(Fixture *f) {
        run_until(f, reaped);
}

static void on_confirm(Prompter *p, PromptReply reply, int error, void *userdata) {
        Fixture *f = userdata;
        f->calls++;
        f->reply = reply;
        f->error = error;
}

static void on_pin(Prompter *p, PromptReply reply, int error, Secret *pin, void *userdata) {
        Fixture *f = userdata;
        f->calls++;
        f->reply = reply;
        f->error = error;
        f->pin = pin;
}

static int make_prompter(Fixture *f, const char *program, uint64_t timeout_usec, const char *tty) {
        PinentryConfig c = { .program = program, .timeout_usec = timeout_usec, .ttyname = tty };
        f->prompter = prompter_free(f->prompter);
        return pinentry_prompter_new(f->event, &c, &f->prompter);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        assert_non_null(f);
        strcpy(f->dir, "/tmp/kyso-test-pinentry-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->script, sizeof(f->script), "%s/script", f->dir);
        snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
        setenv("KYSO_TEST_PINENTRY_SCRIPT", f->script, 1);
        setenv("KYSO_TEST_PINENTRY_LOG", f->log, 1);
        unsetenv("GPG_TTY");
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(make_prompter(f, scripted, 0, NULL), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        prompter_free(f->prompter);
        sd_event_unref(f->event);
        secret_free(f->pin);
        (void) unlink(f->script);
        (void) unlink(f->log);
        (void) rmdir(f->dir);
        free(f);
        return 0;
}

static void test_confirm_yes(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;

        write_script(f, "confirm yes\n");
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        assert_true(prompter_busy(f->prompter));
        run_until_answer(f);
        assert_int_equal(f->calls, 1);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        assert_false(prompter_busy(f->prompter));
        run_until_reaped(f);

        log = read_log(f);
        /* The texts reach pinentry, on one line each: newlines are escaped. */
        assert_non_null(strstr(log, "SETTITLE "));
        assert_non_null(strstr(log, "SETDESC "));
        assert_non_null(strstr(log, "%0A"));
        assert_non_null(strstr(log, "Quản lý văn bản"));
        assert_non_null(strstr(log, "/usr/bin/qlvb"));
        assert_non_null(strstr(log, "4242"));
        assert_non_null(strstr(log, "to-trinh-ngan-sach.pdf"));
        assert_non_null(strstr(log, "9f86d081884c7d65"));
        assert_non_null(strstr(log, "Nguyễn Văn An"));
        assert_non_null(strstr(log, "UBND phường Uông Bí"));
        assert_non_null(strstr(log, "SETOK "));
        assert_non_null(strstr(log, "SETCANCEL "));
        assert_non_null(strstr(log, "SETTIMEOUT 60\n"));
        assert_non_null(strstr(log, "\nCONFIRM\n"));
        assert_non_null(strstr(log, "\nBYE\n"));
        assert_null(strstr(log, "GETPIN"));
}

/* One prompt against a scripted answer: what its handler gets. Each row runs in a fixture of its own. */
static void test_scripted_answers(void **state) {
        static const struct {
                const char *script;
                bool ask_pin; /* AskPin (for a PIN of "t"), else Confirm */
                PromptReply reply;
                int error;
                const char *pin; /* AskPin: the PIN the handler gets, NULL for none */
                bool reaped;     /* the pinentry process is gone after the answer */
        } cases[] = {
                { "confirm no\n", false, PROMPT_REPLY_NO, 0, NULL, false },
                { "confirm cancel\n", false, PROMPT_REPLY_CANCELLED, 0, NULL, false },
                { "err 83886081\n", false, PROMPT_REPLY_ERROR, -EIO, NULL, false },
                { "crash\n", false, PROMPT_REPLY_ERROR, -EPIPE, NULL, true },
                { "garbage\n", false, PROMPT_REPLY_ERROR, -EPROTO, NULL, true },
                /* "12%34 a b%" with a literal space, an escaped space and an escaped '%'. */
                { "pin 12%2534 a%20b%25\n", true, PROMPT_REPLY_YES, 0, "12%34 a b%", false },
                { "pin 12%2\n", true, PROMPT_REPLY_ERROR, -EPROTO, NULL, false },
                { "confirm cancel\n", true, PROMPT_REPLY_CANCELLED, 0, NULL, false },
        };
        PromptPinRequest req = { .token_label = "t", .tries_left = -1 };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                void *st;
                Fixture *f;

                print_message("%s %s", cases[i].ask_pin ? "AskPin" : "Confirm", cases[i].script);
                assert_int_equal(setup(&st), 0);
                f = st;
                write_script(f, cases[i].script);
                if (cases[i].ask_pin)
                        assert_int_equal(prompter_ask_pin(f->prompter, &req, on_pin, f), 0);
                else
                        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
                run_until_answer(f);
                assert_int_equal(f->reply, cases[i].reply);
                assert_int_equal(f->error, cases[i].error);
                if (cases[i].pin)
                        assert_string_equal(secret_get(f->pin), cases[i].pin);
                else
                        assert_null(f->pin);
                if (cases[i].reaped)
                        run_until_reaped(f);
                assert_int_equal(teardown(&st), 0);
        }
}

static void test_getpin(void **state) {
        Fixture *f = *state;
        PromptPinRequest req = { .token_label = "Leader token", .state = PROMPT_PIN_OK, .tries_left = -1 };
        _cleanup_free_ char *log = NULL;

        write_script(f, "pin 735190\n");
        assert_int_equal(prompter_ask_pin(f->prompter, &req, on_pin, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        assert_non_null(f->pin);
        assert_string_equal(secret_get(f->pin), "735190");
        assert_int_equal(secret_size(f->pin), 6);

        log = read_log(f);
        assert_non_null(strstr(log, "\nGETPIN\n"));
        assert_non_null(strstr(log, "SETPROMPT "));
        assert_non_null(strstr(log, "Leader token"));
        assert_null(strstr(log, "SETERROR"));
        assert_null(strstr(log, "735190")); /* the PIN never goes back to pinentry */
}

static void test_getpin_retry_shows_error(void **state) {
        Fixture *f = *state;
        PromptPinRequest req = {
                .token_label = "t", .state = PROMPT_PIN_COUNT_LOW, .tries_left = 2, .previous_wrong = true
        };
        _cleanup_free_ char *log = NULL;

        setenv("LC_ALL", "C.UTF-8", 1);
        assert_non_null(setlocale(LC_ALL, ""));
        write_script(f, "pin 1\n");
        assert_int_equal(prompter_ask_pin(f->prompter, &req, on_pin, f), 0);
        run_until_answer(f);
        log = read_log(f);
        assert_non_null(strstr(log, "SETERROR Wrong PIN. 2 tries are left."));
}

static void test_locked_never_asked(void **state) {
        Fixture *f = *state;
        PromptPinRequest req = { .token_label = "t", .state = PROMPT_PIN_LOCKED, .tries_left = 0 };

        assert_int_equal(prompter_ask_pin(f->prompter, &req, on_pin, f), -EPERM);
        assert_false(prompter_busy(f->prompter));
        assert_int_equal(pinentry_prompter_children(f->prompter), 0);
}

static pid_t logged_pid(Fixture *f) {
        _cleanup_free_ char *log = read_log(f);
        const char *s = strstr(log, "START pid=");
        assert_non_null(s);
        return (pid_t) atol(s + strlen("START pid="));
}

/* A confirmation against script, by a prompter with this timeout: how long its answer took. */
static uint64_t confirm_timed(Fixture *f, const char *script, uint64_t timeout_usec) {
        uint64_t t0, t1;

        assert_int_equal(make_prompter(f, scripted, timeout_usec, NULL), 0);
        write_script(f, script);
        assert_true(sd_event_now(f->event, CLOCK_MONOTONIC, &t0) >= 0);
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        run_until_answer(f);
        assert_true(sd_event_now(f->event, CLOCK_MONOTONIC, &t1) >= 0);
        return t1 - t0;
}

static void test_hang_times_out(void **state) {
        Fixture *f = *state;
        uint64_t took = confirm_timed(f, "hang\n", 300 * 1000);
        pid_t pid;

        assert_int_equal(f->reply, PROMPT_REPLY_ERROR);
        assert_int_equal(f->error, -ETIMEDOUT);
        assert_true(took >= 300 * 1000);
        assert_true(took < 5 * 1000000);

        /* The program was killed and reaped: its pid is gone (a zombie would still answer kill(0)). */
        pid = logged_pid(f);
        run_until_reaped(f);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
}

/* A program that ignores SIGINT is killed after the grace period; the answer does not wait for that. */
static void test_stubborn_is_killed(void **state) {
        Fixture *f = *state;
        uint64_t took = confirm_timed(f, "stubborn\n", 200 * 1000);
        pid_t pid;

        assert_int_equal(f->error, -ETIMEDOUT);
        assert_true(took < 1500 * 1000);
        pid = logged_pid(f);
        assert_int_equal(kill(pid, 0), 0); /* still there: it ignored SIGINT */
        assert_int_equal(pinentry_prompter_children(f->prompter), 1);
        run_until_reaped(f);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
}

static void test_cancel(void **state) {
        Fixture *f = *state;
        pid_t pid;

        write_script(f, "hang\n");
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        /* Let the program start and get to CONFIRM. */
        for (int i = 0; i < 200; i++) {
                _cleanup_free_ char *log = read_log(f);
                if (strstr(log, "CONFIRM"))
                        break;
                assert_true(sd_event_run(f->event, 10 * 1000) >= 0);
        }
        pid = logged_pid(f);
        prompter_cancel(f->prompter);
        assert_false(prompter_busy(f->prompter));
        run_until_reaped(f);
        assert_int_equal(f->calls, 0); /* no handler after cancel */
        assert_int_equal(kill(pid, 0), -1);
}

static void test_busy(void **state) {
        Fixture *f = *state;
        PromptPinRequest req = { .token_label = "t", .tries_left = -1 };

        write_script(f, "confirm yes\n");
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), -EBUSY);
        assert_int_equal(prompter_ask_pin(f->prompter, &req, on_pin, f), -EBUSY);
        run_until_answer(f);
        assert_int_equal(f->calls, 1);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
}

static void test_program_missing(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *msg = NULL;

        assert_int_equal(make_prompter(f, "/nonexistent/pinentry-kyso-test", 0, NULL), 0);
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), -ENOENT);
        assert_false(prompter_busy(f->prompter));
        msg = prompt_text_program_missing(pinentry_prompter_get_program(f->prompter), -ENOENT);
        assert_non_null(msg);
        assert_non_null(strstr(msg, "/nonexistent/pinentry-kyso-test"));

        /* A name looked up in $PATH. */
        assert_int_equal(make_prompter(f, "pinentry-kyso-does-not-exist", 0, NULL), 0);
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), -ENOENT);
        assert_int_equal(f->calls, 0);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Fixture *f = userdata;
        f->ticks++;
        return sd_event_source_set_time_relative(s, 10 * 1000);
}

static void test_loop_keeps_serving(void **state) {
        Fixture *f = *state;
        _cleanup_(sd_event_source_unrefp) sd_event_source *tick = NULL;

        write_script(f, "delay 0.5 confirm yes\n");
        assert_int_equal(
                sd_event_add_time_relative(f->event, &tick, CLOCK_MONOTONIC, 10 * 1000, 1, on_tick, f), 0);
        assert_int_equal(sd_event_source_set_enabled(tick, SD_EVENT_ON), 0);
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        /* 0.5 s of 10 ms ticks while the prompt was open; generous for a loaded machine. */
        print_message("ticks: %d\n", f->ticks);
        assert_true(f->ticks >= 15);
}

static void test_tty_options(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;

        assert_int_equal(make_prompter(f, scripted, 0, "/dev/pts/77"), 0);
        setenv("TERM", "xterm-kyso", 1);
        write_script(f, "confirm yes\n");
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        run_until_answer(f);
        log = read_log(f);
        assert_non_null(strstr(log, "OPTION ttyname=/dev/pts/77\n"));
        assert_non_null(strstr(log, "OPTION ttytype=xterm-kyso\n"));
        assert_non_null(strstr(log, "OPTION lc-ctype="));
}

static void test_gpg_tty_env(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;

        setenv("GPG_TTY", "/dev/pts/78", 1);
        write_script(f, "confirm yes\n");
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        run_until_answer(f);
        unsetenv("GPG_TTY");
        log = read_log(f);
        assert_non_null(strstr(log, "OPTION ttyname=/dev/pts/78\n"));
}

/* The pipeline asks for the PIN from the confirmation's handler: the prompter must be free by then. */
static void on_confirm_then_pin(Prompter *p, PromptReply reply, int error, void *userdata) {
        Fixture *f = userdata;
        PromptPinRequest req = { .token_label = "t", .tries_left = -1 };
        assert_int_equal(reply, PROMPT_REPLY_YES);
        assert_false(prompter_busy(p));
        assert_int_equal(prompter_ask_pin(p, &req, on_pin, f), 0);
}

static void test_chained(void **state) {
        Fixture *f = *state;

        write_script(f, "confirm yes\npin 4321\n");
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm_then_pin, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        assert_string_equal(secret_get(f->pin), "4321");
        run_until_reaped(f);
}

/* A wrong PIN and the retry: the first PIN must not reach the second prompt (its texts, its error line). */
static void on_pin_then_retry(Prompter *p, PromptReply reply, int error, Secret *pin, void *userdata) {
        Fixture *f = userdata;
        PromptPinRequest req = {
                .token_label = "t", .state = PROMPT_PIN_COUNT_LOW, .tries_left = 2, .previous_wrong = true
        };
        assert_int_equal(reply, PROMPT_REPLY_YES);
        assert_string_equal(secret_get(pin), "735190");
        secret_free(pin);
        assert_int_equal(prompter_ask_pin(p, &req, on_pin, f), 0);
}

static void test_pin_never_sent(void **state) {
        Fixture *f = *state;
        PromptPinRequest req = { .token_label = "t", .tries_left = -1 };
        _cleanup_free_ char *log = NULL;

        write_script(f, "pin 735190\npin 864213\n");
        assert_int_equal(prompter_ask_pin(f->prompter, &req, on_pin_then_retry, f), 0);
        run_until_answer(f);
        assert_string_equal(secret_get(f->pin), "864213");
        run_until_reaped(f);
        log = read_log(f);
        assert_non_null(strstr(log, "SETERROR "));
        assert_null(strstr(log, "735190"));
        assert_null(strstr(log, "864213"));
}

static void test_long_description_is_cut(void **state) {
        Fixture *f = *state;
        PromptDocument docs[30];
        char names[30][200];
        PromptRequest req = request;
        _cleanup_free_ char *log = NULL;

        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                memset(names[i], 'x', sizeof(names[i]) - 1);
                names[i][sizeof(names[i]) - 1] = '\0';
                docs[i] = (PromptDocument){ .name = names[i], .size = 1, .sha256 = doc.sha256 };
        }
        req.documents = docs;
        req.n_documents = ELEMENTSOF(docs);
        write_script(f, "confirm yes\n");
        assert_int_equal(prompter_confirm(f->prompter, &req, on_confirm, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        log = read_log(f);
        /* The certificate and the role are never what gets cut. */
        assert_non_null(strstr(log, "Certificate: Nguyễn Văn An, UBND phường Uông Bí"));
        assert_non_null(strstr(log, "%0ARole: approve"));
        assert_non_null(strstr(log, "sign 30 documents"));
        for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
                assert_true(strlen(line) <= 1000);
}

/* Every name at its longest, in three-byte characters, on the final try: the short form still fits. */
static void test_hostile_lengths_fit(void **state) {
        Fixture *f = *state;
        char big[400] = {};
        PromptDocument d = doc;
        PromptRequest req = request;
        _cleanup_free_ char *log = NULL;
        const char *setdesc;
        bool vietnamese;

        for (size_t i = 0; i + 3 < sizeof(big); i += 3)
                memcpy(big + i, "ờ", 3);
        d.name = big;
        req.documents = &d;
        req.app_name = big;
        req.executable = big;
        req.cert_holder = big;
        req.cert_organization = big;
        req.flags = PROMPT_FLAG_FINAL_TRY;
        setenv("LC_ALL", "vi_VN.UTF-8", 1);
        assert_non_null(setlocale(LC_ALL, ""));
        write_script(f, "confirm yes\n");
        assert_int_equal(prompter_confirm(f->prompter, &req, on_confirm, f), 0);
        run_until_answer(f);
        vietnamese = i18n_is_vietnamese();
        setenv("LC_ALL", "C.UTF-8", 1);
        assert_non_null(setlocale(LC_ALL, ""));
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        log = read_log(f);
        setdesc = strstr(log, "SETDESC ");
        assert_non_null(setdesc);
        assert_true(strcspn(setdesc, "\n") <= 1000);
        assert_null(strstr(setdesc, "ờờờờờờờờờờờờờờờờờờờờờờờờờ")); /* 25 in a row: the short form */
        if (getenv("KYSO_LOCALEDIR")) {
                assert_true(vietnamese);
                assert_non_null(strstr(setdesc, "Chứng thư số: "));
                assert_non_null(strstr(setdesc, "Hình thức ký: ký phê duyệt"));
                assert_non_null(strstr(setdesc, "Văn bản: "));
                assert_non_null(strstr(setdesc, "lần thử cuối cùng"));
        }
}

static void test_pinpad(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;

        setenv("LC_ALL", "C.UTF-8", 1);
        assert_non_null(setlocale(LC_ALL, ""));
        write_script(f, "confirm yes\n"); /* OK: the person dismissed the message */
        assert_int_equal(prompter_show_pinpad(f->prompter, "Pad reader", on_confirm, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        run_until_reaped(f);
        log = read_log(f);
        assert_non_null(strstr(log, "\nMESSAGE\n"));
        assert_non_null(strstr(log, "Type the PIN on the reader"));
        assert_non_null(strstr(log, "Pad reader"));
        assert_null(strstr(log, "GETPIN"));
}

/* The usual case: the login returns while the message is still shown, and the pipeline closes it. */
static void test_pinpad_closed_by_agent(void **state) {
        Fixture *f = *state;

        write_script(f, "hang\n");
        assert_int_equal(prompter_show_pinpad(f->prompter, "Pad reader", on_confirm, f), 0);
        for (int i = 0; i < 20; i++)
                assert_true(sd_event_run(f->event, 10 * 1000) >= 0);
        prompter_cancel(f->prompter);
        run_until_reaped(f);
        assert_int_equal(f->calls, 0);
}

static void test_escape(void **state) {
        _cleanup_free_ char *e = assuan_escape("a%b\nc\rd");
        char buf[16];

        assert_string_equal(e, "a%25b%0Ac%0Dd");
        assert_int_equal(assuan_unescape(e, strlen(e), buf, sizeof(buf)), 7);
        assert_memory_equal(buf, "a%b\nc\rd", 7);
        assert_int_equal(assuan_unescape("%4a%4B", 6, buf, sizeof(buf)), 2);
        assert_memory_equal(buf, "JK", 2);
        assert_int_equal(assuan_unescape("ab%", 3, buf, sizeof(buf)), -EPROTO);
        assert_int_equal(assuan_unescape("%g0", 3, buf, sizeof(buf)), -EPROTO);
        assert_int_equal(assuan_unescape("%00", 3, buf, sizeof(buf)), -EPROTO);
        assert_int_equal(assuan_unescape("abc", 3, buf, 2), -ENOBUFS);
}

static void test_parse_response(void **state) {
        const char *data = NULL;
        size_t data_len = 0;
        unsigned code = 1;

        assert_int_equal(assuan_parse_response("OK", 2, NULL, NULL, NULL), ASSUAN_RESPONSE_OK);
        assert_int_equal(
                assuan_parse_response("OK Pleased to meet you", 22, NULL, NULL, NULL), ASSUAN_RESPONSE_OK);
        assert_int_equal(assuan_parse_response("OKAY", 4, NULL, NULL, NULL), ASSUAN_RESPONSE_UNKNOWN);
        assert_int_equal(
                assuan_parse_response("ERR 83886179 Operation cancelled", 32, &code, NULL, NULL),
                ASSUAN_RESPONSE_ERR);
        assert_int_equal(code, 99);
        assert_int_equal(assuan_parse_response("ERR 83886194", 12, &code, NULL, NULL), ASSUAN_RESPONSE_ERR);
        assert_int_equal(code, 114);
        assert_int_equal(assuan_parse_response("ERR", 3, &code, NULL, NULL), ASSUAN_RESPONSE_ERR);
        assert_int_equal(code, 0);
        assert_int_equal(
                assuan_parse_response("ERR 99999999999999999999", 24, &code, NULL, NULL),
                ASSUAN_RESPONSE_ERR);
        assert_int_equal(code, 0);
        /* Not NUL-terminated: only len bytes count. */
        assert_int_equal(
                assuan_parse_response("D 12%2534XYZ", 9, NULL, &data, &data_len), ASSUAN_RESPONSE_DATA);
        assert_int_equal(data_len, 7);
        assert_memory_equal(data, "12%2534", 7);
        assert_int_equal(assuan_parse_response("D", 1, NULL, &data, &data_len), ASSUAN_RESPONSE_DATA);
        assert_int_equal(data_len, 0);
        assert_int_equal(assuan_parse_response("S PROGRESS", 10, NULL, NULL, NULL), ASSUAN_RESPONSE_STATUS);
        assert_int_equal(assuan_parse_response("# hello", 7, NULL, NULL, NULL), ASSUAN_RESPONSE_COMMENT);
        assert_int_equal(
                assuan_parse_response("INQUIRE QUALITY", 15, NULL, NULL, NULL), ASSUAN_RESPONSE_INQUIRE);
        assert_int_equal(assuan_parse_response("", 0, NULL, NULL, NULL), ASSUAN_RESPONSE_UNKNOWN);
}

/* PROMPT_FLAG_PIN_NEXT: the handler of the yes asks for the PIN, which the same process shows. */
static void on_confirm_pin_next(Prompter *p, PromptReply reply, int error, void *userdata) {
        Fixture *f = userdata;
        PromptPinRequest req = { .token_label = "Leader token", .state = PROMPT_PIN_OK, .tries_left = -1 };
        assert_int_equal(reply, PROMPT_REPLY_YES);
        assert_false(prompter_busy(p));
        assert_int_equal(prompter_ask_pin(p, &req, on_pin, f), 0);
        assert_true(prompter_busy(p));
}

static unsigned count(const char *hay, const char *needle) {
        unsigned n = 0;
        for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
                n++;
        return n;
}

static void test_confirm_and_pin_one_process(void **state) {
        Fixture *f = *state;
        PromptRequest req = request;
        _cleanup_free_ char *log = NULL;

        req.flags = PROMPT_FLAG_PIN_NEXT;
        write_script(f, "confirm yes\npin 735190\n");
        assert_int_equal(prompter_confirm(f->prompter, &req, on_confirm_pin_next, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        assert_non_null(f->pin);
        assert_string_equal(secret_get(f->pin), "735190");
        assert_false(prompter_busy(f->prompter));
        run_until_reaped(f);

        log = read_log(f);
        assert_int_equal(count(log, "START pid="), 1);
        assert_int_equal(count(log, "\nSETTIMEOUT "), 1);
        assert_non_null(strstr(log, "\nCONFIRM\n"));
        assert_non_null(strstr(log, "\nGETPIN\n"));
        assert_true(strstr(log, "\nCONFIRM\n") < strstr(log, "\nGETPIN\n"));
        assert_non_null(strstr(log, "Leader token"));
        assert_int_equal(count(log, "\nBYE\n"), 1);
        assert_null(strstr(log, "735190"));
}

/* The process kept for a PIN that is never asked ends: by cancel(), by the next confirm(), or by itself. */
static void test_kept_process_closes(void **state) {
        Fixture *f = *state;
        PromptRequest req = request;
        _cleanup_free_ char *log = NULL;

        req.flags = PROMPT_FLAG_PIN_NEXT;
        write_script(f, "confirm yes\nconfirm yes\nconfirm yes\n");
        assert_int_equal(prompter_confirm(f->prompter, &req, on_confirm, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        assert_false(prompter_busy(f->prompter));
        assert_int_equal(pinentry_prompter_children(f->prompter), 1);
        prompter_cancel(f->prompter);
        run_until_reaped(f);

        f->calls = 0;
        assert_int_equal(prompter_confirm(f->prompter, &req, on_confirm, f), 0);
        run_until_answer(f);
        f->calls = 0;
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        run_until_reaped(f);

        /* Left alone, a kept process is closed after a moment. */
        f->calls = 0;
        write_script(f, "confirm yes\n");
        assert_int_equal(prompter_confirm(f->prompter, &req, on_confirm, f), 0);
        run_until_answer(f);
        run_until_reaped(f);

        log = read_log(f);
        assert_int_equal(count(log, "START pid="), 4);
        assert_int_equal(count(log, "\nBYE\n"), 4);
        assert_null(strstr(log, "GETPIN"));
}

/* Runs the loop until the log holds s (the program got that far). */
static void run_until_logged(Fixture *f, const char *s) {
        for (int i = 0; i < 2000; i++) {
                _cleanup_free_ char *log = read_log(f);
                if (strstr(log, s))
                        return;
                assert_true(sd_event_run(f->event, 10 * 1000) >= 0);
        }
        fail_msg("the log never showed %s", s);
}

/* A process prepared ahead takes its options and shows nothing; the next prompt uses it: one process for the
 * preparation, the confirmation and the PIN. */
static void test_prepared_process_serves_prompt(void **state) {
        Fixture *f = *state;
        PromptRequest req = request;
        _cleanup_free_ char *log = NULL;

        req.flags = PROMPT_FLAG_PIN_NEXT;
        write_script(f, "confirm yes\npin 735190\n");
        assert_int_equal(prompter_prepare(f->prompter), 0);
        assert_false(prompter_busy(f->prompter));
        assert_int_equal(prompter_prepare(f->prompter), 0); /* already there */
        run_until_logged(f, "SETTIMEOUT");
        for (int i = 0; i < 20; i++)
                assert_true(sd_event_run(f->event, 10 * 1000) >= 0);
        log = read_log(f);
        assert_null(strstr(log, "SETDESC"));
        assert_null(strstr(log, "CONFIRM"));
        assert_int_equal(pinentry_prompter_children(f->prompter), 1);
        assert_false(prompter_busy(f->prompter));

        assert_int_equal(prompter_confirm(f->prompter, &req, on_confirm_pin_next, f), 0);
        assert_true(prompter_busy(f->prompter));
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_YES);
        assert_non_null(f->pin);
        assert_string_equal(secret_get(f->pin), "735190");
        run_until_reaped(f);
        free(log);
        log = read_log(f);
        assert_int_equal(count(log, "START pid="), 1);
        assert_int_equal(count(log, "\nSETTIMEOUT "), 1);
        assert_true(strstr(log, "SETTIMEOUT") < strstr(log, "\nCONFIRM\n"));
        assert_true(strstr(log, "\nCONFIRM\n") < strstr(log, "\nGETPIN\n"));
}

/* A prompt asked while the prepared process still takes its options follows them in the same process. */
static void test_prompt_while_preparing(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;

        write_script(f, "confirm no\n");
        assert_int_equal(prompter_prepare(f->prompter), 0);
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        assert_int_equal(prompter_prepare(f->prompter), -EBUSY);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_NO);
        run_until_reaped(f);
        log = read_log(f);
        assert_int_equal(count(log, "START pid="), 1);
        assert_int_equal(count(log, "\nCONFIRM\n"), 1);
}

/* A prepared process that no prompt uses ends quietly: no dialog, no handler. */
static void test_prepared_process_cancelled(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;

        write_script(f, "confirm yes\n");
        assert_int_equal(prompter_prepare(f->prompter), 0);
        prompter_cancel(f->prompter); /* still starting */
        run_until_reaped(f);
        assert_int_equal(prompter_prepare(f->prompter), 0);
        run_until_logged(f, "SETTIMEOUT");
        prompter_cancel(f->prompter); /* idle */
        run_until_reaped(f);
        assert_int_equal(f->calls, 0);
        log = read_log(f);
        assert_null(strstr(log, "SETTITLE"));
        assert_null(strstr(log, "CONFIRM"));
        assert_null(strstr(log, "GETPIN"));
        assert_null(strstr(log, "MESSAGE"));
}

/* The settings are pipelined, but a refused one is still reported, and the dialog is then never asked. */
static void test_refused_setting_reported(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *prog = NULL, *log = NULL;
        _cleanup_fclose_ FILE *s = NULL;

        assert_true(asprintf(&prog, "%s/refusing-pinentry", f->dir) > 0);
        s = fopen(prog, "we");
        assert_non_null(s);
        fputs("#!/bin/sh\necho 'OK hello'\nwhile read -r l; do\n  echo \"$l\" >>\"$KYSO_TEST_PINENTRY_LOG\"\n"
              "  case \"$l\" in SETDESC*) echo 'ERR 83886081 General error';; BYE*) echo OK; exit 0;; *) echo OK;; "
              "esac\ndone\n",
              s);
        assert_int_equal(fclose(TAKE_PTR(s)), 0);
        assert_int_equal(chmod(prog, 0700), 0);
        assert_int_equal(make_prompter(f, prog, 0, NULL), 0);
        assert_int_equal(prompter_confirm(f->prompter, &request, on_confirm, f), 0);
        run_until_answer(f);
        assert_int_equal(f->reply, PROMPT_REPLY_ERROR);
        assert_int_equal(f->error, -EIO);
        run_until_reaped(f);
        log = read_log(f);
        assert_non_null(strstr(log, "SETDESC"));
        assert_null(strstr(log, "CONFIRM"));
        (void) unlink(prog);
}

/* pid has exited: it is gone, or a zombie nobody reaped yet (its new parent may be slow to). */
static bool process_gone(pid_t pid) {
        char path[64], buf[512];
        _cleanup_fclose_ FILE *f = NULL;

        if (kill(pid, 0) < 0 && errno == ESRCH)
                return true;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f || !fgets(buf, sizeof(buf), f))
                return true;
        const char *paren = strrchr(buf, ')');
        return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* The agent killed (kill -9, an OOM kill): its pinentry, showing a dialog, goes too, within a second or two,
 * rather than staying on screen for a request that no longer exists. */
static void test_dies_with_agent(void **state) {
        Fixture *f = *state;
        pid_t agent, pid = 0;

        write_script(f, "hang\n");
        agent = fork();
        assert_true(agent >= 0);
        if (agent == 0) {
                /* The "agent": a prompt open, the loop running, until it is killed. An sd_event does not
                 * work across fork(): the child makes its own. */
                sd_event *e = NULL;
                Prompter *p = NULL;
                PinentryConfig c = { .program = scripted };
                if (sd_event_new(&e) < 0 || pinentry_prompter_new(e, &c, &p) < 0 ||
                    prompter_confirm(p, &request, on_confirm, f) < 0)
                        _exit(EXIT_FAILURE);
                for (;;)
                        (void) sd_event_run(e, UINT64_MAX);
        }
        for (int i = 0; i < 2000 && pid == 0; i++) {
                _cleanup_free_ char *log = read_log(f);
                if (strstr(log, "CONFIRM"))
                        pid = logged_pid(f);
                else
                        (void) usleep(10 * 1000);
        }
        assert_true(pid > 0);
        assert_false(process_gone(pid));

        assert_int_equal(kill(agent, SIGKILL), 0);
        assert_int_equal(waitpid(agent, NULL, 0), agent);
        for (int i = 0; i < 200 && !process_gone(pid); i++)
                (void) usleep(10 * 1000);
        bool gone = process_gone(pid);
        if (!gone)
                (void) kill(pid, SIGKILL);
        assert_true(gone);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_parse_response),
                cmocka_unit_test_setup_teardown(test_confirm_yes, setup, teardown),
                cmocka_unit_test(test_scripted_answers),
                cmocka_unit_test_setup_teardown(test_getpin, setup, teardown),
                cmocka_unit_test_setup_teardown(test_getpin_retry_shows_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_locked_never_asked, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hang_times_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stubborn_is_killed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_program_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_loop_keeps_serving, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tty_options, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gpg_tty_env, setup, teardown),
                cmocka_unit_test_setup_teardown(test_chained, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pin_never_sent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_description_is_cut, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_lengths_fit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pinpad, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pinpad_closed_by_agent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_confirm_and_pin_one_process, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kept_process_closes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepared_process_serves_prompt, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prompt_while_preparing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepared_process_cancelled, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_setting_reported, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dies_with_agent, setup, teardown),
        };

        if (argc < 2) {
                fprintf(stderr, "usage: %s SCRIPTED-PINENTRY (run it through meson test)\n", argv[0]);
                return 77;
        }
        scripted = argv[1];
        setlocale(LC_ALL, "");
        i18n_setup();
        /* A pinentry that dies must not kill the test with SIGPIPE (the prompter uses MSG_NOSIGNAL). */
        return cmocka_run_group_tests(tests, NULL, NULL);
}
