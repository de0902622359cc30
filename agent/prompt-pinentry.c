/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "hex.h"
#include "macro.h"
#include "prompt-pinentry.h"
#include "prompt-text.h"

/* Assuan lines are at most 1000 bytes, the newline not counted. */
#define ASSUAN_LINE_MAX 1000
/* A PIN longer than this is refused (PKCS#11 tokens take far shorter ones). */
#define PIN_MAX 256
/* After BYE, a cancel or a timeout, the program gets this long to exit before SIGKILL. */
#define REAP_GRACE_USEC (UINT64_C(2) * 1000000)
/* How long a pinentry kept after a confirmation waits for its GETPIN before it is closed. */
#define KEEP_IDLE_USEC (UINT64_C(2) * 1000000)

/* libgpg-error codes, as pinentry sends them (source GPG_ERR_SOURCE_PINENTRY = 5 in the top byte, e.g.
 * 83886179 for a cancel); the source does not matter to us, only the code in the low 16 bits. */
#define GPG_ERR_TIMEOUT 62
#define GPG_ERR_CANCELED 99
#define GPG_ERR_NOT_CONFIRMED 114
#define GPG_ERR_FULLY_CANCELED 198

/* How we stop a pinentry early: pinentry-tty catches SIGINT, restores the terminal (echo) and exits;
 * SIGKILL follows after REAP_GRACE_USEC if it does not. */
#define STOP_SIGNAL SIGINT

extern char **environ;

typedef enum PinentryOp {
        OP_NONE,
        OP_PREPARE, /* a process started ahead of its prompt (prepare()): it gets its options, shows nothing
                     */
        OP_CONFIRM,
        OP_GETPIN,
        OP_MESSAGE,
} PinentryOp;

typedef struct PinentryPrompter PinentryPrompter;

/* A pinentry process whose prompt is over, waiting to exit. */
typedef struct Reaper {
        PinentryPrompter *owner;
        pid_t pid;
        int pidfd;
        sd_event_source *io;
        sd_event_source *kill_timer;
        struct Reaper *next;
} Reaper;

struct PinentryPrompter {
        Prompter base;
        sd_event *event;
        char *program;
        uint64_t timeout_usec;
        char *ttyname;
        char *ttytype;

        /* The open prompt. */
        PinentryOp op;
        PromptConfirmHandler confirm_handler;
        PromptPinHandler pin_handler;
        void *userdata;
        pid_t pid;
        int pidfd;
        int fd;
        sd_event_source *io;
        sd_event_source *timer;
        char **commands; /* complete lines, each ending in '\n' */
        size_t n_sent;   /* commands[0..n_sent) are written (or in out) */
        size_t n_done;   /* commands[0..n_done) are answered; commands[n_done] is the next answer's */
        bool greeted;
        char *out; /* bytes not written yet: the commands are pipelined */
        size_t out_len;
        size_t out_off;
        char in[ASSUAN_LINE_MAX + 2];
        size_t in_len;
        char pin[PIN_MAX + 1];
        size_t pin_len;

        /* The confirmation asked PROMPT_FLAG_PIN_NEXT: after its yes the process stays (idle: no prompt
         * open, op OP_NONE) for the GETPIN of the same request, so that one process serves both. */
        bool keep_after_confirm;
        bool idle;
        /* The idle process has shown nothing yet (prepare()): the next prompt of any request may use it. */
        bool fresh;

        Reaper *reapers;
};

static void wipe_buffers(PinentryPrompter *p) {
        explicit_bzero(p->in, sizeof(p->in));
        p->in_len = 0;
        explicit_bzero(p->pin, sizeof(p->pin));
        p->pin_len = 0;
}

static Reaper *reaper_free(Reaper *r) {
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->io);
        sd_event_source_disable_unref(r->kill_timer);
        safe_close(r->pidfd);
        free(r);
        return NULL;
}

static void reaper_unlink(Reaper *r) {
        for (Reaper **i = &r->owner->reapers; *i; i = &(*i)->next)
                if (*i == r) {
                        *i = r->next;
                        break;
                }
}

static int reaper_on_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Reaper *r = userdata;
        siginfo_t si = {};

        /* The pidfd is readable once the process has exited. ECHILD: somebody else reaped it. */
        if (waitid(P_PID, r->pid, &si, WEXITED | WNOHANG) >= 0 && si.si_pid == 0)
                return 0; /* not yet */
        reaper_unlink(r);
        reaper_free(r);
        return 0;
}

static int reaper_on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Reaper *r = userdata;
        /* The pidfd keeps the pid from being reused while we hold it, so this cannot hit a stranger. */
        (void) syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
        return 0;
}

/* Hands the current child to a reaper; sig (0 for none) is sent first. */
static void reap_child(PinentryPrompter *p, int sig) {
        Reaper *r;
        int k;

        if (p->pid <= 0)
                return;
        if (sig > 0)
                (void) syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);

        r = calloc(1, sizeof(*r));
        if (r) {
                *r = (Reaper){ .owner = p, .pid = p->pid, .pidfd = p->pidfd };
                k = sd_event_add_io(p->event, &r->io, r->pidfd, EPOLLIN, reaper_on_exit, r);
                if (k >= 0)
                        k = sd_event_add_time_relative(
                                p->event, &r->kill_timer, CLOCK_MONOTONIC, REAP_GRACE_USEC, 0,
                                reaper_on_kill_timer, r);
                if (k >= 0) {
                        (void) sd_event_source_set_description(r->io, "pinentry-reaper");
                        r->next = p->reapers;
                        p->reapers = r;
                        p->pid = 0;
                        p->pidfd = -EBADF;
                        return;
                }
                r->pidfd = -EBADF;
                reaper_free(r);
        }

        /* No memory for a reaper: kill and wait now. SIGKILL makes the wait short. */
        (void) syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
        (void) waitpid(p->pid, NULL, 0);
        p->pidfd = safe_close(p->pidfd);
        p->pid = 0;
}

/* Forgets the open prompt (its commands, what it read, its handler); the process is another matter. */
static void prompt_clear(PinentryPrompter *p) {
        strv_free(p->commands);
        p->commands = NULL;
        p->n_sent = 0;
        p->n_done = 0;
        p->out = mfree(p->out);
        p->out_len = 0;
        p->out_off = 0;
        p->keep_after_confirm = false;
        wipe_buffers(p);
        p->op = OP_NONE;
        p->confirm_handler = NULL;
        p->pin_handler = NULL;
        p->userdata = NULL;
}

/* Ends the open prompt's process and state; the handler is not touched. */
static void session_close(PinentryPrompter *p, bool polite, int sig) {
        if (polite && p->fd >= 0)
                (void) send(p->fd, "BYE\n", 4, MSG_NOSIGNAL | MSG_DONTWAIT);
        p->io = sd_event_source_disable_unref(p->io);
        p->timer = sd_event_source_disable_unref(p->timer);
        p->fd = safe_close(p->fd);
        reap_child(p, sig);
        prompt_clear(p);
        p->greeted = false;
        p->idle = false;
        p->fresh = false;
}

/* After a confirmation's yes: the prompt is over, the process stays for the GETPIN that follows (see
 * pinentry_ask_pin()); after prepare(), for the next prompt. Anything it says meanwhile, or a wait past
 * usec, closes it. */
static int session_keep(PinentryPrompter *p, uint64_t usec) {
        int r;

        r = sd_event_source_set_time_relative(p->timer, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                return r;
        prompt_clear(p);
        p->idle = true;
        return 0;
}

/* Closes the session, then calls the handler: the handler may start the next prompt at once. */
static void finish(PinentryPrompter *p, PromptReply reply, int error) {
        PinentryOp op = p->op;
        PromptConfirmHandler ch = p->confirm_handler;
        PromptPinHandler ph = p->pin_handler;
        void *userdata = p->userdata;
        Secret *pin = NULL;

        if (op == OP_GETPIN && reply == PROMPT_REPLY_YES) {
                pin = secret_new(p->pin, p->pin_len);
                if (!pin) {
                        reply = PROMPT_REPLY_ERROR;
                        error = -ENOMEM;
                }
        }

        if (op == OP_CONFIRM && reply == PROMPT_REPLY_YES && p->keep_after_confirm &&
            session_keep(p, KEEP_IDLE_USEC) >= 0) {
                ch(&p->base, reply, 0, userdata);
                return;
        }
        session_close(p, reply != PROMPT_REPLY_ERROR, reply == PROMPT_REPLY_ERROR ? STOP_SIGNAL : 0);

        if ((op == OP_CONFIRM || op == OP_MESSAGE) && ch)
                ch(&p->base, reply, reply == PROMPT_REPLY_ERROR ? error : 0, userdata);
        else if (op == OP_GETPIN && ph)
                ph(&p->base, reply, reply == PROMPT_REPLY_ERROR ? error : 0, pin, userdata);
        else
                secret_free(pin);
}

static int send_pending(PinentryPrompter *p) {
        ssize_t n;

        while (p->out_off < p->out_len) {
                n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -EPIPE;
                }
                p->out_off += n;
        }
        if (p->out_off >= p->out_len)
                p->out_off = p->out_len = 0;
        return sd_event_source_set_io_events(p->io, p->out_len > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* The command that shows the dialog and ends the prompt. */
static bool is_final(const char *cmd) {
        return startswith(cmd, "CONFIRM") || startswith(cmd, "GETPIN") || startswith(cmd, "MESSAGE");
}

/* Writes every command not written yet at once, and reads their answers in order (handle_line()): one
 * round trip for the settings instead of one each. The dialog's command waits until every setting before
 * it was answered OK, so that a refused setting never leaves a dialog on the screen with the wrong text. */
static int flush_commands(PinentryPrompter *p) {
        if (!p->greeted || !p->commands)
                return 0;
        while (p->commands[p->n_sent]) {
                const char *cmd = p->commands[p->n_sent];
                size_t len = strlen(cmd);
                char *b;

                if (is_final(cmd) && p->n_done < p->n_sent)
                        break;
                b = realloc(p->out, p->out_len + len);
                if (!b)
                        return -ENOMEM;
                memcpy(b + p->out_len, cmd, len);
                p->out = b;
                p->out_len += len;
                p->n_sent++;
        }
        return send_pending(p);
}

/* The command the next answer belongs to; NULL when nothing waits for an answer. */
static const char *current_command(PinentryPrompter *p) {
        return p->n_done < p->n_sent ? p->commands[p->n_done] : NULL;
}

ssize_t assuan_unescape(const char *s, size_t len, char *dst, size_t dst_size) {
        size_t n = 0;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c == '%') {
                        int hi, lo;
                        if (i + 2 >= len)
                                return -EPROTO;
                        hi = unhexchar(s[i + 1]);
                        lo = unhexchar(s[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -EPROTO;
                        c = (char) (hi << 4 | lo);
                        i += 2;
                }
                if (c == '\0')
                        return -EPROTO;
                if (n >= dst_size)
                        return -ENOBUFS;
                dst[n++] = c;
        }
        return (ssize_t) n;
}

static bool is_word(const char *line, size_t len, const char *word) {
        size_t l = strlen(word);
        return len >= l && memcmp(line, word, l) == 0 && (len == l || line[l] == ' ');
}

AssuanResponse assuan_parse_response(
        const char *line, size_t len, unsigned *ret_code, const char **ret_data, size_t *ret_data_len) {
        if (is_word(line, len, "OK"))
                return ASSUAN_RESPONSE_OK;
        if (is_word(line, len, "ERR")) {
                unsigned long v = 0;
                size_t i = 4;
                /* The code: decimal digits; a missing or absurd one is a general error (0). */
                for (; i < len && line[i] >= '0' && line[i] <= '9' && v <= UINT32_MAX; i++)
                        v = v * 10 + (unsigned) (line[i] - '0');
                if (ret_code)
                        *ret_code = v <= UINT32_MAX ? (unsigned) (v & 0xffff) : 0;
                return ASSUAN_RESPONSE_ERR;
        }
        if (is_word(line, len, "D")) {
                if (ret_data)
                        *ret_data = len > 2 ? line + 2 : line + len;
                if (ret_data_len)
                        *ret_data_len = len > 2 ? len - 2 : 0;
                return ASSUAN_RESPONSE_DATA;
        }
        if (is_word(line, len, "S"))
                return ASSUAN_RESPONSE_STATUS;
        if (len >= 1 && line[0] == '#')
                return ASSUAN_RESPONSE_COMMENT;
        if (is_word(line, len, "INQUIRE"))
                return ASSUAN_RESPONSE_INQUIRE;
        return ASSUAN_RESPONSE_UNKNOWN;
}

/* A setting was answered: a prepared process whose settings are all in goes idle (returns 1: nothing more is
 * read), else the next commands go out. */
static int setting_done(PinentryPrompter *p) {
        int r;

        if (p->op == OP_PREPARE && !p->commands[p->n_done]) {
                r = session_keep(p, p->timeout_usec);
                if (r < 0)
                        return r;
                p->fresh = true;
                return 1;
        }
        return flush_commands(p);
}

/* Handles one line from pinentry (without its newline). Returns 1 when the prompt finished. */
static int handle_line(PinentryPrompter *p, const char *line, size_t len) {
        const char *cmd = current_command(p);
        const char *data = NULL;
        size_t data_len = 0;
        unsigned code = 0;
        ssize_t n;

        switch (assuan_parse_response(line, len, &code, &data, &data_len)) {
        case ASSUAN_RESPONSE_OK:
                if (!p->greeted) {
                        p->greeted = true;
                        return flush_commands(p);
                }
                if (!cmd)
                        return -EPROTO; /* an answer to nothing */
                p->n_done++;
                if (is_final(cmd)) {
                        finish(p, PROMPT_REPLY_YES, 0);
                        return 1;
                }
                return setting_done(p);

        case ASSUAN_RESPONSE_ERR:
                if (!p->greeted || !cmd)
                        return -EPROTO;
                p->n_done++;
                if (startswith(cmd, "OPTION"))
                        return setting_done(p); /* an option this pinentry does not know: fine */
                if (code == GPG_ERR_TIMEOUT) {
                        finish(p, PROMPT_REPLY_ERROR, -ETIMEDOUT);
                        return 1;
                }
                if (is_final(cmd)) {
                        if (code == GPG_ERR_CANCELED || code == GPG_ERR_FULLY_CANCELED)
                                finish(p, PROMPT_REPLY_CANCELLED, 0);
                        else if (code == GPG_ERR_NOT_CONFIRMED)
                                finish(p,
                                       startswith(cmd, "CONFIRM") ? PROMPT_REPLY_NO : PROMPT_REPLY_CANCELLED,
                                       0);
                        else
                                finish(p, PROMPT_REPLY_ERROR, -EIO);
                        return 1;
                }
                return -EIO;

        case ASSUAN_RESPONSE_DATA:
                if (!cmd || !startswith(cmd, "GETPIN"))
                        return -EPROTO;
                /* Straight into the PIN buffer: no other copy of the PIN is made. */
                n = assuan_unescape(data, data_len, p->pin + p->pin_len, PIN_MAX - p->pin_len);
                if (n < 0)
                        return -EPROTO;
                p->pin_len += n;
                return 0;

        case ASSUAN_RESPONSE_STATUS:
        case ASSUAN_RESPONSE_COMMENT:
                return 0;

        default:
                /* INQUIRE and anything else: we never asked for it. */
                return -EPROTO;
        }
}

static int process_input(PinentryPrompter *p) {
        for (;;) {
                char *nl = memchr(p->in, '\n', p->in_len);
                size_t len, consumed;
                int r;

                if (!nl) {
                        if (p->in_len > ASSUAN_LINE_MAX)
                                return -EPROTO;
                        return 0;
                }
                len = nl - p->in;
                consumed = len + 1;
                if (len > 0 && p->in[len - 1] == '\r')
                        len--;

                r = handle_line(p, p->in, len);
                if (r != 0)
                        return r; /* finished (the buffers are already wiped) or failed */

                /* The line may have held PIN bytes: wipe what moved. */
                memmove(p->in, p->in + consumed, p->in_len - consumed);
                explicit_bzero(p->in + p->in_len - consumed, consumed);
                p->in_len -= consumed;
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PinentryPrompter *p = userdata;
        int r = 0;

        if (p->idle) {
                /* It spoke unasked, or exited: not a process to show the PIN prompt with. */
                session_close(p, false, STOP_SIGNAL);
                return 0;
        }
        if (revents & EPOLLOUT) {
                r = send_pending(p);
                if (r < 0)
                        goto fail;
        }

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t n = recv(p->fd, p->in + p->in_len, sizeof(p->in) - 1 - p->in_len, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        r = -EPIPE;
                        goto fail;
                }
                if (n == 0) {
                        r = -EPIPE; /* the program exited (or crashed) before it answered */
                        goto fail;
                }
                p->in_len += n;
                r = process_input(p);
                if (r < 0)
                        goto fail;
        }
        return 0;

fail:
        finish(p, PROMPT_REPLY_ERROR, r);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        PinentryPrompter *p = userdata;
        if (p->idle)
                session_close(p, true, 0); /* nobody asked for the PIN after all */
        else
                finish(p, PROMPT_REPLY_ERROR, -ETIMEDOUT);
        return 0;
}

char *assuan_escape(const char *s) {
        char *buf, *o;

        buf = malloc(strlen(s) * 3 + 1);
        if (!buf)
                return NULL;
        o = buf;
        for (const char *i = s; *i; i++) {
                if (*i == '%' || *i == '\r' || *i == '\n') {
                        o += sprintf(o, "%%%02X", (unsigned char) *i);
                } else
                        *o++ = *i;
        }
        *o = '\0';
        return buf;
}

/* Appends "CMD escaped-arg\n"; arguments that would make the line too long are cut at a character
 * boundary and marked with "…". */
static int add_command(char ***l, const char *cmd, const char *arg) {
        _cleanup_free_ char *esc = NULL;
        char *line;
        size_t max;

        if (!arg) {
                if (asprintf(&line, "%s\n", cmd) < 0)
                        return -ENOMEM;
                return strv_push(l, line) < 0 ? (free(line), -ENOMEM) : 0;
        }

        esc = assuan_escape(arg);
        if (!esc)
                return -ENOMEM;
        max = ASSUAN_LINE_MAX - strlen(cmd) - 1 - strlen("…");
        if (strlen(esc) > max) {
                size_t cut = max;
                /* Not inside a %XX escape, not inside a UTF-8 sequence. */
                if (cut >= 1 && esc[cut - 1] == '%')
                        cut -= 1;
                else if (cut >= 2 && esc[cut - 2] == '%')
                        cut -= 2;
                while (cut > 0 && ((unsigned char) esc[cut] & 0xc0) == 0x80)
                        cut--;
                strcpy(esc + cut, "…");
        }
        if (asprintf(&line, "%s %s\n", cmd, esc) < 0)
                return -ENOMEM;
        if (strv_push(l, line) < 0) {
                free(line);
                return -ENOMEM;
        }
        return 0;
}

static bool fits_line(const char *cmd, const char *arg) {
        _cleanup_free_ char *esc = assuan_escape(arg);
        return esc && strlen(cmd) + 1 + strlen(esc) <= ASSUAN_LINE_MAX;
}

/* OPTION name=value, left out when value is unset or empty. */
static int add_option(char ***l, const char *name, const char *value) {
        _cleanup_free_ char *a = NULL;

        if (isempty(value))
                return 0;
        if (asprintf(&a, "%s=%s", name, value) < 0)
                return -ENOMEM;
        return add_command(l, "OPTION", a);
}

static int add_options(PinentryPrompter *p, char ***l) {
        const char *tty = p->ttyname ?: getenv("GPG_TTY");
        const char *term = p->ttytype ?: getenv("TERM");
        _cleanup_free_ char *a = NULL;
        int r;

        r = add_option(l, "ttyname", tty);
        if (r >= 0 && !isempty(tty))
                r = add_option(l, "ttytype", term);
        if (r >= 0)
                r = add_option(l, "lc-ctype", setlocale(LC_CTYPE, NULL));
        if (r >= 0)
                r = add_option(l, "lc-messages", setlocale(LC_MESSAGES, NULL));
        if (r < 0)
                return r;
        /* pinentry closes its own dialog after this many seconds, which is kinder than our kill. */
        if (asprintf(&a, "%" PRIu64, (p->timeout_usec + 999999) / 1000000) < 0)
                return -ENOMEM;
        return add_command(l, "SETTIMEOUT", a);
}

static int add_texts(char ***l, const PromptText *t) {
        int r;

        r = add_command(l, "SETTITLE", t->title);
        if (r >= 0)
                r = add_command(l, "SETDESC", t->description);
        if (r >= 0 && t->prompt)
                r = add_command(l, "SETPROMPT", t->prompt);
        if (r >= 0)
                r = add_command(l, "SETOK", t->ok);
        if (r >= 0)
                r = add_command(l, "SETCANCEL", t->cancel);
        if (r >= 0 && t->error)
                r = add_command(l, "SETERROR", t->error);
        return r;
}

/* Reports why the child cannot run the program (errno) through err_fd, and exits. */
static _noreturn_ void child_fail(int err_fd) {
        int e = errno;
        (void) write(err_fd, &e, sizeof(e));
        _exit(127);
}

/* Makes fd the child's fd target (stdin, stdout) and keeps it open across exec. */
static int child_dup(int fd, int target) {
        if (fd == target)
                return fcntl(fd, F_SETFD, 0);
        return dup2(fd, target) < 0 ? -1 : 0;
}

static _noreturn_ void child_exec(const char *program, int sock, int err_fd, pid_t parent) {
        char *argv[] = { (char *) program, NULL };
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;

        /* Only async-signal-safe calls from here on (the agent has threads). When the agent dies, even by
         * SIGKILL, its dialog must not stay on screen for a request nobody waits for: SIGTERM, which lets a
         * pinentry restore the terminal. Set here, where the agent's pid is known, to catch an agent that
         * died before prctl(); the agent spawns from its event loop, the main thread, which lives as long
         * as it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
                child_fail(err_fd);
        if (getppid() != parent)
                _exit(127);
        /* stdin and stdout are the socket; stderr stays ours (the journal); nothing else is inherited but
         * err_fd, which closes on exec. */
        if (child_dup(sock, STDIN_FILENO) < 0 || child_dup(sock, STDOUT_FILENO) < 0)
                child_fail(err_fd);
        if (err_fd > STDERR_FILENO + 1 && close_range(STDERR_FILENO + 1, err_fd - 1, 0) < 0)
                child_fail(err_fd);
        if (close_range(err_fd > STDERR_FILENO ? err_fd + 1 : STDERR_FILENO + 1, UINT_MAX, 0) < 0)
                child_fail(err_fd);
        /* Signals: the agent blocks some for sd-event and ignores SIGPIPE; the child starts clean (the
         * handlers first, so that nothing pending reaches one of the agent's). */
        for (int sig = 1; sig < NSIG; sig++)
                (void) sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(program, argv);
        child_fail(err_fd);
}

static int spawn_child(PinentryPrompter *p) {
        _cleanup_close_ int child_end = -EBADF, err_read = -EBADF, err_write = -EBADF;
        int sv[2], ep[2], e = 0, r;
        ssize_t k;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                return negative_errno();
        p->fd = sv[0];
        child_end = sv[1];
        /* The child's end must block: pinentry reads it as its stdin. */
        if (fcntl(child_end, F_SETFL, 0) < 0)
                return negative_errno();
        /* The child says there why it cannot run the program; closed by a successful exec. */
        if (pipe2(ep, O_CLOEXEC) < 0)
                return negative_errno();
        err_read = ep[0];
        err_write = ep[1];

        /* Not posix_spawn(): it cannot set the parent-death signal. */
        pid_t self = getpid();
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                child_exec(p->program, child_end, err_write, self);
        err_write = safe_close(err_write);

        /* A missing program or a failed exec is reported here, synchronously. */
        do
                k = read(err_read, &e, sizeof(e));
        while (k < 0 && errno == EINTR);
        if (k != 0) {
                (void) waitpid(pid, NULL, 0);
                return k == (ssize_t) sizeof(e) && e > 0 ? -e : -EIO;
        }

        p->pid = pid;
        p->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (p->pidfd < 0) {
                r = negative_errno();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                p->pid = 0;
                return r;
        }
        return 0;
}

static int start(PinentryPrompter *p, PinentryOp op, char **commands) {
        int r;

        p->commands = commands;
        p->op = op;
        r = spawn_child(p);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(p->event, &p->io, p->fd, EPOLLIN, on_io, p);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(p->io, "pinentry");
        r = sd_event_add_time_relative(
                p->event, &p->timer, CLOCK_MONOTONIC, p->timeout_usec, 0, on_timeout, p);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(p->timer, "pinentry-timeout");
        return 0;

fail:
        session_close(p, false, SIGKILL);
        return r;
}

/* The texts of a prompt, then the command that shows it (MESSAGE shows only a title, a text and its
 * button). */
static int add_prompt(char ***l, PinentryOp op, const PromptText *t) {
        int r = 0;

        if (op == OP_MESSAGE) {
                r = add_command(l, "SETTITLE", t->title);
                if (r >= 0)
                        r = add_command(l, "SETDESC", t->description);
                if (r >= 0)
                        r = add_command(l, "SETOK", t->ok);
        } else
                r = add_texts(l, t);
        if (r >= 0)
                r = add_command(
                        l,
                        op == OP_CONFIRM  ? "CONFIRM"
                        : op == OP_GETPIN ? "GETPIN"
                                          : "MESSAGE",
                        NULL);
        return r;
}

/* One prompt in a new process: the options, then the prompt. */
static int start_prompt(PinentryPrompter *p, PinentryOp op, const PromptText *t) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = add_options(p, &l);
        if (r >= 0)
                r = add_prompt(&l, op, t);
        if (r < 0)
                return r;
        return start(p, op, TAKE_PTR(l));
}

/* The GETPIN after a confirmation, in the process kept for it, or any prompt in a prepared one: the options
 * hold, the texts are set anew (pinentry forgets SETERROR after each prompt), and the whole timeout starts
 * again. A process still taking its options gets the prompt's commands after them. */
static int continue_prompt(PinentryPrompter *p, PinentryOp op, const PromptText *t) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = add_prompt(&l, op, t);
        if (r >= 0)
                r = sd_event_source_set_time_relative(p->timer, p->timeout_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
        if (r >= 0 && p->op == OP_PREPARE)
                for (char **i = l; *i; i++) {
                        r = strv_push(&p->commands, *i);
                        if (r < 0) {
                                for (; *i; i++)
                                        *i = mfree(*i);
                                break;
                        }
                        *i = NULL; /* taken */
                }
        if (r < 0) {
                if (p->op == OP_PREPARE)
                        session_close(p, false, STOP_SIGNAL);
                return r;
        }
        if (p->op != OP_PREPARE) {
                p->commands = TAKE_PTR(l);
                p->n_sent = p->n_done = 0;
        }
        p->idle = p->fresh = false;
        p->op = op;
        r = flush_commands(p);
        if (r < 0)
                session_close(p, false, STOP_SIGNAL);
        return r;
}

/* A process kept for a GETPIN that another prompt, or a cancel, replaces: it ends as after a finished
 * prompt. */
static void close_idle(PinentryPrompter *p) {
        if (p->idle)
                session_close(p, true, 0);
}

/* A prompt with its own texts: in the prepared process if there is one (still taking its options, or idle
 * and fresh), a GETPIN also in the process its confirmation kept, else in a new one. userdata is kept for
 * the answer once the prompt is under way. */
static int begin_prompt(PinentryPrompter *p, PinentryOp op, const PromptText *t, void *userdata) {
        int r;

        if (p->op == OP_PREPARE || (p->idle && (p->fresh || op == OP_GETPIN)))
                r = continue_prompt(p, op, t);
        else {
                close_idle(p);
                r = start_prompt(p, op, t);
        }
        if (r < 0)
                return r;
        p->userdata = userdata;
        return 0;
}

static PinentryPrompter *to_pinentry(Prompter *base) {
        return (PinentryPrompter *) base;
}

/* A prompt is shown or asked for: a prepared process, or none, leaves room for another. */
static bool busy(const PinentryPrompter *p) {
        return p->op != OP_NONE && p->op != OP_PREPARE;
}

static int
pinentry_confirm(Prompter *base, const PromptRequest *req, PromptConfirmHandler handler, void *userdata) {
        PinentryPrompter *p = to_pinentry(base);
        _cleanup_(prompt_text_done) PromptText t = {};
        int r;

        r = prompt_text_confirm(req, &t);
        if (r >= 0 && !fits_line("SETDESC", t.description)) {
                prompt_text_done(&t);
                r = prompt_text_confirm_short(req, &t);
        }
        if (r < 0)
                return r;
        r = begin_prompt(p, OP_CONFIRM, &t, userdata);
        if (r < 0)
                return r;
        p->keep_after_confirm = req->flags & PROMPT_FLAG_PIN_NEXT;
        p->confirm_handler = handler;
        return 0;
}

static int
pinentry_ask_pin(Prompter *base, const PromptPinRequest *req, PromptPinHandler handler, void *userdata) {
        PinentryPrompter *p = to_pinentry(base);
        _cleanup_(prompt_text_done) PromptText t = {};
        int r;

        r = prompt_text_pin(req, &t);
        if (r < 0)
                return r;
        r = begin_prompt(p, OP_GETPIN, &t, userdata);
        if (r < 0)
                return r;
        p->pin_handler = handler;
        return 0;
}

static int
pinentry_show_pinpad(Prompter *base, const char *token_label, PromptConfirmHandler handler, void *userdata) {
        PinentryPrompter *p = to_pinentry(base);
        _cleanup_(prompt_text_done) PromptText t = {};
        int r;

        r = prompt_text_pinpad(token_label, &t);
        if (r < 0)
                return r;
        r = begin_prompt(p, OP_MESSAGE, &t, userdata);
        if (r < 0)
                return r;
        p->confirm_handler = handler;
        return 0;
}

/* The process for the next prompt, started now so that its start and its options are out of the way when the
 * prompt comes: nothing is drawn before CONFIRM, GETPIN or MESSAGE (pinentry-tty and pinentry-curses open
 * the terminal, the GUI ones their window, only for those). cancel() ends it quietly. */
static int pinentry_prepare(Prompter *base) {
        PinentryPrompter *p = to_pinentry(base);
        _cleanup_strv_free_ char **l = NULL;
        int r;

        if (p->op == OP_PREPARE || (p->idle && p->fresh))
                return 0;
        if (p->op != OP_NONE || p->idle)
                return -EBUSY;
        r = add_options(p, &l);
        if (r < 0)
                return r;
        return start(p, OP_PREPARE, TAKE_PTR(l));
}

static void pinentry_cancel(Prompter *base) {
        PinentryPrompter *p = to_pinentry(base);
        if (p->op != OP_NONE)
                session_close(p, false, STOP_SIGNAL);
        close_idle(p);
}

static bool pinentry_busy(Prompter *base) {
        return busy(to_pinentry(base));
}

static void pinentry_free(Prompter *base) {
        PinentryPrompter *p = to_pinentry(base);

        session_close(p, false, STOP_SIGNAL);
        /* Teardown, without the loop: each program gets a moment to restore its terminal, then SIGKILL. */
        while (p->reapers) {
                Reaper *r = p->reapers;
                struct pollfd pfd = { .fd = r->pidfd, .events = POLLIN };
                p->reapers = r->next;
                if (poll(&pfd, 1, 500) <= 0)
                        (void) syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
                (void) waitpid(r->pid, NULL, 0);
                reaper_free(r);
        }
        sd_event_unref(p->event);
        free(p->program);
        free(p->ttyname);
        free(p->ttytype);
        explicit_bzero(p, sizeof(*p));
        (void) munlock(p, sizeof(*p));
        free(p);
}

static const PrompterVTable pinentry_vtable = {
        .prepare = pinentry_prepare,
        .confirm = pinentry_confirm,
        .ask_pin = pinentry_ask_pin,
        .show_pinpad = pinentry_show_pinpad,
        .cancel = pinentry_cancel,
        .busy = pinentry_busy,
        .free = pinentry_free,
};

int pinentry_prompter_new(sd_event *event, const PinentryConfig *config, Prompter **ret) {
        PinentryPrompter *p;

        if (!event || !ret)
                return -EINVAL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        /* The struct holds the PIN buffer: keep it out of swap (best effort, as for Secret). */
        (void) mlock(p, sizeof(*p));
        p->base.vtable = &pinentry_vtable;
        p->event = sd_event_ref(event);
        p->fd = -EBADF;
        p->pidfd = -EBADF;
        p->program =
                strdup(config && !isempty(config->program) ? config->program : PINENTRY_DEFAULT_PROGRAM);
        p->timeout_usec =
                config && config->timeout_usec > 0 ? config->timeout_usec : PINENTRY_DEFAULT_TIMEOUT_USEC;
        if (config && config->ttyname)
                p->ttyname = strdup(config->ttyname);
        if (config && config->ttytype)
                p->ttytype = strdup(config->ttytype);
        if (!p->program || (config && config->ttyname && !p->ttyname) ||
            (config && config->ttytype && !p->ttytype)) {
                pinentry_free(&p->base);
                return -ENOMEM;
        }
        *ret = &p->base;
        return 0;
}

const char *pinentry_prompter_get_program(Prompter *base) {
        return to_pinentry(base)->program;
}

unsigned pinentry_prompter_children(Prompter *base) {
        PinentryPrompter *p = to_pinentry(base);
        unsigned n = p->pid > 0;
        for (Reaper *r = p->reapers; r; r = r->next)
                n++;
        return n;
}
