/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl sign: opens the documents and outputs, hands their fds to the agent (Sign or SignBatch), waits for
 * the request's Response (subscribed to before the call, with handle_token) and reports it. */
#include <dbus/dbus.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "dbus/bus-append.h"
#include "dbus/dbus-client.h"
#include "dbus/dbus-dict.h"
#include "dbus/dbus-error-names.h"
#include "fileio.h"
#include "formats/pdf-document.h"
#include "formats/pdf-image.h"
#include "i18n.h"
#include "kysoctl.h"
#include "macro.h"
#include "parse-util.h"
#include "policy/policy-rules.h"

#define AGENT "org.kyso.Agent1"
#define SIGN_TIMEOUT_MS (10 * 60 * 1000) /* the person may take a while at the prompt */

typedef struct Opts {
        const char *role, *cert, *reason, *location, *doc_number, *doc_date, *classification, *label, *level;
        const char *copy_form;
        const char *existing, *output, *image;
        bool timestamp, batch, verbose;
        /* --visible, --doc-number-at, --doc-date-at: the options visible, doc_number_place, doc_date_place
         */
        struct {
                bool set;
                uint32_t page;
                double rect[4];
        } places[3];
} Opts;

static const char *const place_keys[3] = { "visible", "doc_number_place", "doc_date_place" };

static void help(void) {
        printf(_(
                "Usage: kysoctl sign --role ROLE [--cert URI] [--timestamp] [--reason R] [--location L]\n"
                "                    [--doc-number N] [--doc-date D] [--classification C] [--label NAME]\n"
                "                    [--existing-signature P7S] INPUT -o OUTPUT\n"
                "       kysoctl sign --batch --role ROLE [...] INPUT... [-o DIR]\n\n"
                "Signs INPUT through the kyso agent (detached CAdES, written to OUTPUT). ROLE is approve, issue,\n"
                "copy, appendix or personal; issue needs the leader's signature (--existing-signature; with\n"
                "--batch, INPUT.p7s next to each input, and -o DIR). Without --cert, the certificate of the\n"
                "right kind is used when it is the only usable one; when several are present, kysoctl lists\n"
                "them and you choose one with --cert. With --batch, outputs are INPUT.p7s, or DIR/NAME.p7s\n"
                "with -o DIR. An output is replaced only once it is signed; it may not be an input.\n"));
        printf(_(
                "\n"
                "  --reason R        why the document is signed (e.g. \"Phê duyệt\"), kept in the signature\n"
                "  --doc-number N    the document's number and symbol (e.g. 12/QĐ-UBND)\n"
                "  --doc-date D      the document's date, YYYY-MM-DD\n"
                "  --level L         a PDF's signature level: B-B, B-T or B-LT (default: the policy's)\n"
                "  --visible PAGE,X,Y,W,H  draw a PDF signature (approve, personal) on PAGE (1 is the first)\n"
                "                    in the rectangle X,Y,W,H, in points (1/72 inch) from the bottom left\n"
                "  --image PNG       the image drawn there, or the seal issue draws over the leader's\n"
                "                    signature (default: signature-image in kysod.conf)\n"
                "  --verbose, -v     also print the agent's D-Bus error name when it refuses\n"));
        printf(_(
                "  --copy-form F     the form a PDF copy's stamp names: sao-y (default), sao-luc or trich-sao\n"));
        printf(_(
                "  --doc-number-at PAGE,X,Y,W,H  issue: write --doc-number on PAGE in that rectangle\n"
                "  --doc-date-at PAGE,X,Y,W,H    issue: write --doc-date (as given, e.g. \"Uông Bí, ngày 06\n"
                "                    tháng 12 năm 2026\") there; on the seal's page or any other (a\n"
                "                    decision's page 1)\n"));
}

static const char *base_name(const char *p) {
        const char *s = strrchr(p, '/');
        return s && s[1] ? s + 1 : p;
}

static bool has_pdf_suffix(const char *path) {
        size_t n = strlen(path);
        return n >= 4 && strcasecmp(path + n - 4, ".pdf") == 0;
}

static bool is_pdf(int fd) {
        char b[1024];
        ssize_t n = pread(fd, b, sizeof b, 0);
        return n > 0 && pdf_looks_like_pdf(b, (size_t) n);
}

/* What kysoctl writes: each output goes to an unnamed file in its folder (atomic_output_open()), put in
 * place only once its document is signed, so an existing output is replaced whole or kept as it was. */
typedef struct Output {
        char *path;   /* as the person named it (or built for a batch) */
        char *target; /* the file replaced: what path points to when it exists */
        char *tmp;    /* the named temporary file, where there are no unnamed ones; NULL once done */
        int fd;
        bool pending; /* written to fd, neither put in place nor discarded yet */
        bool failed;  /* signed, but the signature could not be saved */
} Output;

/* The outputs that the signals which end a program in a terminal clean up: SIGINT (Ctrl-C), SIGTERM,
 * SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\). The handler reads them, so they change only with those
 * signals blocked (signals_hold()). */
static Output *interrupt_outputs;
static size_t interrupt_n;
static const int interrupt_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void on_interrupt(int sig) {
        int saved = errno;

        /* Only async-signal-safe calls: unlink each temporary file, then die of the signal as before. */
        for (size_t i = 0; i < interrupt_n; i++)
                if (interrupt_outputs[i].tmp)
                        (void) unlink(interrupt_outputs[i].tmp);
        (void) signal(sig, SIG_DFL);
        (void) raise(sig);
        errno = saved;
}

static void signals_hold(bool hold, sigset_t *saved) {
        sigset_t s;

        if (hold) {
                sigemptyset(&s);
                for (size_t i = 0; i < ELEMENTSOF(interrupt_signals); i++)
                        sigaddset(&s, interrupt_signals[i]);
                (void) sigprocmask(SIG_BLOCK, &s, saved);
        } else
                (void) sigprocmask(SIG_SETMASK, saved, NULL);
}

/* From here on an interrupted kysoctl leaves no temporary file beside the outputs. */
static void interrupt_cleanup_install(Output *outputs, size_t n) {
        struct sigaction sa = { .sa_handler = on_interrupt };

        interrupt_outputs = outputs;
        interrupt_n = n;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(interrupt_signals); i++)
                sigaddset(&sa.sa_mask, interrupt_signals[i]);
        for (size_t i = 0; i < ELEMENTSOF(interrupt_signals); i++) {
                struct sigaction old;

                /* An ignored signal stays ignored: under nohup, SIGHUP must not stop kysoctl. */
                if (sigaction(interrupt_signals[i], NULL, &old) >= 0 && old.sa_handler == SIG_IGN)
                        continue;
                (void) sigaction(interrupt_signals[i], &sa, NULL);
        }
}

static void interrupt_cleanup_remove(void) {
        sigset_t saved;

        signals_hold(true, &saved);
        interrupt_outputs = NULL;
        interrupt_n = 0;
        signals_hold(false, &saved);
}

static void output_discard(Output *out) {
        sigset_t saved;

        signals_hold(true, &saved);
        if (out->tmp)
                (void) unlink(out->tmp);
        out->tmp = mfree(out->tmp);
        out->pending = false;
        signals_hold(false, &saved);
}

static void output_done(Output *out) {
        output_discard(out);
        out->fd = safe_close(out->fd);
        free(out->path);
        free(out->target);
}

/* Creates the temporary file; an existing output keeps its permissions. -EISDIR for a folder: the rename
 * would fail only once the document is signed. -EBADFD for another file that is not a regular one: the
 * rename would replace a device (/dev/null, for root), a FIFO or a socket with the signature. */
static int output_open(Output *out) {
        mode_t um = umask(0);
        struct stat st;
        mode_t mode;

        (void) umask(um);
        mode = 0644 & ~um;
        /* The path itself, not only what realpath() resolves: /dev/stdout on a pipe resolves to nothing. */
        if (stat(out->path, &st) >= 0) {
                if (S_ISDIR(st.st_mode))
                        return -EISDIR;
                if (!S_ISREG(st.st_mode))
                        return -EBADFD;
                mode = st.st_mode & 07777;
        }
        out->target = realpath(out->path, NULL);
        if (!out->target && !(out->target = strdup(out->path)))
                return -ENOMEM;
        out->fd = atomic_output_open(out->target, mode, &out->tmp);
        if (out->fd < 0)
                return out->fd;
        out->pending = true;
        return 0;
}

/* The document was signed: the signature the agent wrote replaces the output. */
static int output_commit(Output *out) {
        sigset_t saved;
        int r;

        if (out->failed)
                return -EIO;
        if (!out->pending)
                return 0;
        /* Not interrupted between the rename and forgetting the name: the handler would remove the
         * signature just saved under another file's name. */
        signals_hold(true, &saved);
        r = atomic_output_commit(out->fd, out->tmp, out->target);
        if (r >= 0) {
                out->tmp = mfree(out->tmp);
                out->pending = false;
        }
        signals_hold(false, &saved);
        if (r < 0) {
                fprintf(stderr,
                        _("kysoctl sign: the signature could not be saved as %s: %s. Check the folder and "
                          "the disk space, then sign again.\n"),
                        out->path, strerror(-r));
                output_discard(out);
                out->failed = true;
                return r;
        }
        return 0;
}

/* Whether the file at path is the one open as fd (also through a symlink or a hard link). */
static bool same_file(const char *path, int fd) {
        struct stat a, b;
        return fd >= 0 && stat(path, &a) >= 0 && fstat(fd, &b) >= 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

/* "PAGE,X,Y,W,H" into o->places[which], read as the configuration files read a place; the agent takes a page
 * number, so "last" (theirs) is refused here. */
static int parse_place(const char *s, Opts *o, size_t which) {
        typeof(o->places[0]) *p = &o->places[which];
        bool from_end;
        unsigned page;
        int r;

        r = parse_page_place(s, &from_end, &page, p->rect);
        if (r < 0)
                return r;
        if (from_end)
                return -EINVAL;
        p->page = page;
        p->set = true;
        return 0;
}

/* visible, doc_number_place, doc_date_place (udddd) and image (h), when given. */
static int append_visible(DBusMessageIter *dict, const Opts *o, int image_fd) {
        DBusMessageIter de, var, st;

        for (size_t i = 0; i < ELEMENTSOF(o->places); i++) {
                const char *k = place_keys[i];

                if (!o->places[i].set)
                        continue;
                if (!dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &de) ||
                    bus_append_string(&de, k) < 0 ||
                    !dbus_message_iter_open_container(&de, DBUS_TYPE_VARIANT, "(udddd)", &var) ||
                    !dbus_message_iter_open_container(&var, DBUS_TYPE_STRUCT, NULL, &st) ||
                    !dbus_message_iter_append_basic(&st, DBUS_TYPE_UINT32, &o->places[i].page))
                        return -ENOMEM;
                for (size_t j = 0; j < 4; j++)
                        if (!dbus_message_iter_append_basic(&st, DBUS_TYPE_DOUBLE, &o->places[i].rect[j]))
                                return -ENOMEM;
                if (!dbus_message_iter_close_container(&var, &st) ||
                    !dbus_message_iter_close_container(&de, &var) ||
                    !dbus_message_iter_close_container(dict, &de))
                        return -ENOMEM;
        }
        /* An fd: the agent reads the PNG itself, bounded, and the message stays small. */
        if (image_fd >= 0 && dbus_dict_append_fd(dict, "image", image_fd) < 0)
                return -ENOMEM;
        return 0;
}

/* The image as an fd for the agent: a regular file no larger than the agent takes, found wrong here rather
 * than after the request is made. */
static int open_image(const char *path) {
        /* O_NONBLOCK: a FIFO given by mistake is refused below instead of waiting for a writer. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        int r;

        if (fd < 0)
                return -errno;
        r = pdf_image_fd_check(fd);
        if (r < 0)
                return r == -EBADFD ? -EINVAL : r; /* "Invalid argument": not a regular file */
        return TAKE_FD(fd);
}

/* An option of the request when it is given. */
static int append_str(DBusMessageIter *dict, const char *key, const char *v) {
        return v ? dbus_dict_append_string(dict, key, v) : 0;
}

static int exit_for_error(const char *name) {
        switch (kyso_bus_error_from_name(name)) {
        case KYSO_BUS_ERROR_POLICY_DENIED:
        case KYSO_BUS_ERROR_CANCELLED:
        case KYSO_BUS_ERROR_PIN_INCORRECT:
        case KYSO_BUS_ERROR_PIN_LOCKED:
        case KYSO_BUS_ERROR_CERTIFICATE_INVALID:
        case KYSO_BUS_ERROR_CERTIFICATE_REVOKED:
        case KYSO_BUS_ERROR_REVOCATION_UNKNOWN:
        case KYSO_BUS_ERROR_BAD_DOCUMENT:
        case KYSO_BUS_ERROR_INVALID_ARGS:
        case KYSO_BUS_ERROR_NO_TOKEN:
                return KYSOCTL_EXIT_REFUSED;
        default:
                return KYSOCTL_EXIT_INTERNAL;
        }
}

/* Reads a string or bool entry of an a{sv} iterator positioned on the dict entry's value. */
static const char *variant_string(DBusMessageIter *var) {
        const char *s = NULL;
        if (dbus_message_iter_get_arg_type(var) == DBUS_TYPE_STRING)
                dbus_message_iter_get_basic(var, &s);
        return s;
}

/* A certificate as GetCertificates describes it. */
typedef struct CertEntry {
        const char *uri, *kind, *status, *subject, *reason; /* in the reply */
        bool key, usable;
} CertEntry;

/* The certificates the agent sees: the strings point into *ret_reply, which the caller unrefs. NULL on
 * error (said unless quiet), with *exit_code set. */
static CertEntry *
list_certificates(DBusConnection *c, bool quiet, size_t *ret_n, DBusMessage **ret_reply, int *exit_code) {
        _cleanup_free_ CertEntry *v = NULL;
        DBusMessage *m, *reply;
        DBusError e = DBUS_ERROR_INIT;
        DBusMessageIter it, arr, dict, var;
        size_t n = 0;

        *exit_code = KYSOCTL_EXIT_INTERNAL; /* out of memory, unless said otherwise below */
        m = dbus_message_new_method_call(AGENT, "/org/kyso/Agent1", AGENT, "GetCertificates");
        if (!m || kyso_append_locale_options(m) < 0) {
                if (m)
                        dbus_message_unref(m);
                return NULL;
        }
        reply = dbus_connection_send_with_reply_and_block(c, m, 30000, &e);
        dbus_message_unref(m);
        if (!reply) {
                /* No agent, or none that answers: said with what to do, and not a refusal (exit 3). */
                int k = quiet ? -1 : kysoctl_agent_error("sign", e.name, e.message);
                if (!quiet && k < 0)
                        fprintf(stderr, _("kysoctl sign: cannot list the certificates: %s\n"), e.message);
                *exit_code = k < 0 ? KYSOCTL_EXIT_REFUSED : k;
                dbus_error_free(&e);
                return NULL;
        }
        dbus_message_iter_init(reply, &it);
        dbus_message_iter_recurse(&it, &arr);
        for (; dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_ARRAY; dbus_message_iter_next(&arr)) {
                /* An agent older than usable-for-signing: every certificate may be tried. */
                CertEntry ce = { .usable = true };
                dbus_bool_t b;

                const char *k;
                dbus_message_iter_recurse(&arr, &dict);
                while (dbus_dict_next(&dict, &k, &var) > 0) {
                        if (streq(k, "uri"))
                                ce.uri = variant_string(&var);
                        else if (streq(k, "kind"))
                                ce.kind = variant_string(&var);
                        else if (streq(k, "status"))
                                ce.status = variant_string(&var);
                        else if (streq(k, "subject"))
                                ce.subject = variant_string(&var);
                        else if (streq(k, "reason"))
                                ce.reason = variant_string(&var);
                        else if (dbus_message_iter_get_arg_type(&var) == DBUS_TYPE_BOOLEAN) {
                                dbus_message_iter_get_basic(&var, &b);
                                /* A key that shows only after login counts: that is how real eTokens keep
                                 * it. If it is not there after all, the agent says so after the login. */
                                if (streq(k, "has-private-key") || streq(k, "key-after-login"))
                                        ce.key = ce.key || b;
                                else if (streq(k, "usable-for-signing"))
                                        ce.usable = b;
                        }
                }
                if (!ce.uri)
                        continue;
                CertEntry *w = ARRAY_APPEND(v, n);
                if (!w) {
                        dbus_message_unref(reply);
                        fprintf(stderr, _("kysoctl sign: out of memory\n"));
                        return NULL;
                }
                *w = ce;
        }
        *ret_n = n;
        *ret_reply = reply;
        return v ? TAKE_PTR(v) : calloc(1, sizeof(CertEntry));
}

/* Whether the agent may sign with it. "unchecked" (revocation not asked yet: just inserted, or the policy
 * changed) is marked unusable for now, but the agent asks before it signs anyway: it may be tried unless
 * something else (a reason) rules it out. */
static bool may_sign(const CertEntry *e) {
        return e->usable || (streq_ptr(e->status, "unchecked") && isempty(e->reason));
}

/* Picks the certificate for the role when --cert is not given, only when exactly one usable certificate of
 * the right kind is present: a signature made with another certificate than the person meant has legal
 * weight, so an ambiguous choice is refused with the candidates listed. A certificate the agent marks as
 * unable to sign (a missing key usage, an untrusted chain...) is never offered. */
static bool offered(const CertEntry *e, const char *want) {
        return e->key && may_sign(e) && streq_ptr(e->kind, want) &&
               /* "unchecked": revocation not asked yet; the agent asks before it signs anyway. */
               (streq_ptr(e->status, "valid") || streq_ptr(e->status, "expiring") ||
                streq_ptr(e->status, "unchecked"));
}

/* NULL when none is picked (said), with *exit_code set. */
static char *pick_certificate(DBusConnection *c, const char *role, int *exit_code) {
        const char *want = streq(role, "approve") || streq(role, "personal") ? "personal" : "organization";
        _cleanup_free_ CertEntry *v = NULL;
        DBusMessage *reply = NULL;
        const CertEntry *found = NULL;
        size_t n = 0, n_found = 0;
        char *uri = NULL;

        v = list_certificates(c, /* quiet= */ false, &n, &reply, exit_code);
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (offered(&v[i], want)) {
                        found = &v[i];
                        n_found++;
                }
        if (n_found == 1) {
                uri = strdup(found->uri);
                if (!uri)
                        fprintf(stderr, _("kysoctl sign: out of memory\n"));
        } else if (n_found == 0)
                fprintf(stderr,
                        _("kysoctl sign: no usable %s certificate on the tokens present. Insert the token, or "
                          "give --cert (see 'kysoctl certs').\n"),
                        want);
        else {
                fprintf(stderr,
                        _("kysoctl sign: several usable %s certificates are present; choose one with --cert "
                          "URI:\n"),
                        want);
                for (size_t i = 0; i < n; i++)
                        if (offered(&v[i], want))
                                fprintf(stderr, "  %s\n      %s\n", v[i].uri, strempty(v[i].subject));
        }
        if (reply)
                dbus_message_unref(reply);
        if (!uri)
                *exit_code = n_found == 1 ? KYSOCTL_EXIT_INTERNAL : KYSOCTL_EXIT_REFUSED;
        return uri;
}

/* The agent's status words of a document, in the reader's language. */
static const char *status_in_words(const char *status) {
        static const struct {
                const char *status, *words;
        } table[] = {
                { "denied", N_("denied") },       { "failed", N_("failed") },
                { "cancelled", N_("cancelled") }, { "pending", N_("not signed") },
                { "done", N_("signed") },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq_ptr(status, table[i].status))
                        return _(table[i].words);
        return strna(status);
}

/* One document's dict of a Response: its line, and its output kept or discarded. i counts from 0. */
static int print_document(
        DBusMessageIter *doc, size_t i, size_t n, Output *outputs, bool shown, char ***said, int *ret_exit) {
        const char *name = NULL, *status = NULL, *msg = NULL, *ts = NULL, *k;
        DBusMessageIter v;
        int r;

        while ((r = dbus_dict_next(doc, &k, &v)) > 0)
                if (streq(k, "name"))
                        name = variant_string(&v);
                else if (streq(k, "status"))
                        status = variant_string(&v);
                else if (streq(k, "message"))
                        msg = variant_string(&v);
                else if (streq(k, "timestamp-time"))
                        ts = variant_string(&v);
        if (r < 0)
                return r;

        bool done = streq_ptr(status, "done");
        if (i < n && done && output_commit(&outputs[i]) < 0) {
                *ret_exit = KYSOCTL_EXIT_INTERNAL;
                return 0;
        }
        if (i < n && !done)
                output_discard(&outputs[i]);
        if (shown)
                ;
        else if (done)
                printf(_("[%zu/%zu] %s: signed → %s%s%s\n"), i + 1, n, strna(name),
                       i < n ? outputs[i].path : "?", ts ? _(", time-stamped ") : "", strempty(ts));
        else
                printf(_("[%zu/%zu] %s: %s: %s\n"), i + 1, n, strna(name), status_in_words(status),
                       strna(msg));
        if (!done && msg && strv_extend(said, msg) < 0)
                return -ENOMEM;
        return 0;
}

static int
print_results(DBusMessageIter *results, size_t n, Output *outputs, bool shown, bool verbose, int *ret_exit) {
        DBusMessageIter dict, var, arr, doc;
        const char *error = NULL, *message = NULL, *k;
        _cleanup_strv_free_ char **said = NULL;
        size_t i = 0;
        int r;

        dbus_message_iter_recurse(results, &dict);
        while ((r = dbus_dict_next(&dict, &k, &var)) > 0) {
                if (streq(k, "error"))
                        error = variant_string(&var);
                else if (streq(k, "message"))
                        message = variant_string(&var);
                else if (streq(k, "documents") && dbus_message_iter_get_arg_type(&var) == DBUS_TYPE_ARRAY) {
                        dbus_message_iter_recurse(&var, &arr);
                        for (; dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_ARRAY;
                             dbus_message_iter_next(&arr), i++) {
                                dbus_message_iter_recurse(&arr, &doc);
                                r = print_document(&doc, i, n, outputs, shown, &said, ret_exit);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        if (r < 0)
                return r;
        if (error) {
                /* Said once, in words: a refusal already shown on its document's line is not repeated. The
                 * D-Bus error name is for whoever debugs: --verbose prints it with the whole message. */
                bool repeated = false;
                STRV_FOREACH (m, said)
                        repeated = repeated || streq_ptr(message, *m);
                if (verbose)
                        fprintf(stderr, "kysoctl sign: %s (%s)\n", strna(message), error);
                else if (!repeated)
                        fprintf(stderr, "kysoctl sign: %s\n", strna(message));
                *ret_exit = exit_for_error(error);
        }
        return 0;
}

static void print_bus_error(const DBusError *e, bool verbose) {
        if (verbose)
                fprintf(stderr, "kysoctl sign: %s (%s)\n", e->message, e->name);
        else
                fprintf(stderr, "kysoctl sign: %s\n", e->message);
}

/* AddMatch without waiting for its reply: the bus handles a connection's messages in order, so the rule is
 * in place before anything sent after it is delivered, and the round trip is saved. The reply (an error, say
 * too many rules) is read with match_added() once the next call has been answered. NULL without memory. */
static DBusPendingCall *add_match_start(DBusConnection *c, const char *rule) {
        DBusMessage *m;
        DBusPendingCall *pending = NULL;

        m = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS, "AddMatch");
        if (!m)
                return NULL;
        if (!dbus_message_append_args(m, DBUS_TYPE_STRING, &rule, DBUS_TYPE_INVALID) ||
            !dbus_connection_send_with_reply(c, m, &pending, DBUS_TIMEOUT_USE_DEFAULT))
                pending = NULL;
        dbus_message_unref(m);
        return pending;
}

/* Waits for the reply to add_match_start()'s call (consumed): 0, or -EIO with e set. */
static int add_match_finish(DBusPendingCall *pending, DBusError *e) {
        DBusMessage *reply;
        int r = 0;

        if (!pending) {
                dbus_set_error_const(e, DBUS_ERROR_NO_MEMORY, "out of memory");
                return -EIO;
        }
        dbus_pending_call_block(pending);
        reply = dbus_pending_call_steal_reply(pending);
        dbus_pending_call_unref(pending);
        if (!reply || dbus_set_error_from_message(e, reply)) {
                if (!dbus_error_is_set(e))
                        dbus_set_error_const(e, DBUS_ERROR_NO_REPLY, "no reply to AddMatch");
                r = -EIO;
        }
        if (reply)
                dbus_message_unref(reply);
        return r;
}

/* Watches the agent that took the request (its unique name: a new agent started meanwhile knows nothing of
 * the request). -ESRCH when it has gone already; the match is in place before the check (sent first on the
 * same connection), so no exit is missed in between. */
static int watch_agent(DBusConnection *c, const char *unique) {
        _cleanup_free_ char *match = NULL;
        DBusError e = DBUS_ERROR_INIT;
        DBusPendingCall *pending;
        dbus_bool_t has;
        int r;

        if (asprintf(
                    &match,
                    "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                    "member='NameOwnerChanged',arg0='%s'",
                    unique) < 0)
                return -ENOMEM;
        pending = add_match_start(c, match);
        has = dbus_bus_name_has_owner(c, unique, &e);
        r = add_match_finish(pending, &e);
        if (r < 0 || dbus_error_is_set(&e)) {
                dbus_error_free(&e);
                return -EIO;
        }
        return has ? 0 : -ESRCH;
}

static bool agent_left(DBusMessage *m, const char *unique) {
        const char *name, *old_owner, *new_owner;

        return dbus_message_is_signal(m, "org.freedesktop.DBus", "NameOwnerChanged") &&
               streq_ptr(dbus_message_get_sender(m), "org.freedesktop.DBus") &&
               dbus_message_get_args(
                       m, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old_owner, DBUS_TYPE_STRING,
                       &new_owner, DBUS_TYPE_INVALID) &&
               streq(name, unique) && isempty(new_owner);
}

int verb_sign(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "role", required_argument, NULL, 'r' },
                { "cert", required_argument, NULL, 'c' },
                { "timestamp", no_argument, NULL, 't' },
                { "reason", required_argument, NULL, 'R' },
                { "location", required_argument, NULL, 'L' },
                { "doc-number", required_argument, NULL, 'N' },
                { "doc-date", required_argument, NULL, 'D' },
                { "classification", required_argument, NULL, 'C' },
                { "label", required_argument, NULL, 'l' },
                { "level", required_argument, NULL, 'V' },
                { "existing-signature", required_argument, NULL, 'e' },
                { "visible", required_argument, NULL, 'P' },
                { "doc-number-at", required_argument, NULL, 'n' },
                { "doc-date-at", required_argument, NULL, 'd' },
                { "image", required_argument, NULL, 'I' },
                { "copy-form", required_argument, NULL, 'F' },
                { "batch", no_argument, NULL, 'b' },
                { "output", required_argument, NULL, 'o' },
                { "verbose", no_argument, NULL, 'v' },
                {},
        };
        Opts o = {};
        DBusError e = DBUS_ERROR_INIT, me = DBUS_ERROR_INIT;
        DBusConnection *c = NULL;
        DBusPendingCall *match_pending = NULL;
        DBusMessage *m = NULL, *reply = NULL;
        DBusMessageIter it, arr, dict;
        _cleanup_free_ char *cert = NULL, *token = NULL, *esc = NULL, *path = NULL, *match = NULL;
        _cleanup_close_ int image_fd = -EBADF;
        _cleanup_free_ int *in = NULL, *out = NULL, *ex = NULL;
        _cleanup_free_ Output *outputs = NULL;
        _cleanup_free_ char **ex_paths = NULL;
        size_t n = 0;
        int opt, ret = KYSOCTL_EXIT_INTERNAL, match_r;
        const char *reply_path = NULL, *agent = NULL;
        size_t progress = 0;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "ho:v", options, NULL)) >= 0)
                switch (opt) {
                case 'r':
                        o.role = optarg;
                        break;
                case 'c':
                        o.cert = optarg;
                        break;
                case 't':
                        o.timestamp = true;
                        break;
                case 'R':
                        o.reason = optarg;
                        break;
                case 'L':
                        o.location = optarg;
                        break;
                case 'N':
                        o.doc_number = optarg;
                        break;
                case 'D':
                        o.doc_date = optarg;
                        break;
                case 'C':
                        o.classification = optarg;
                        break;
                case 'l':
                        o.label = optarg;
                        break;
                case 'V':
                        if (signature_level_from_string(optarg) < 0) {
                                fprintf(stderr, _("kysoctl sign: --level is B-B, B-T or B-LT, not '%s'.\n"),
                                        optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        o.level = optarg;
                        break;
                case 'F':
                        if (!streq(optarg, "sao-y") && !streq(optarg, "sao-luc") &&
                            !streq(optarg, "trich-sao")) {
                                fprintf(stderr,
                                        _("kysoctl sign: --copy-form is sao-y, sao-luc or trich-sao, not '%s'.\n"),
                                        optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        o.copy_form = optarg;
                        break;
                case 'e':
                        o.existing = optarg;
                        break;
                case 'P':
                case 'n':
                case 'd':
                        if (parse_place(optarg, &o, opt == 'P' ? 0 : opt == 'n' ? 1 : 2) < 0) {
                                fprintf(stderr,
                                        _("kysoctl sign: --%s needs PAGE,X,Y,W,H: a page from 1 and a "
                                          "rectangle in points with a positive width and height, not '%s'.\n"),
                                        opt == 'P'   ? "visible"
                                        : opt == 'n' ? "doc-number-at"
                                                     : "doc-date-at",
                                        optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        break;
                case 'I':
                        o.image = optarg;
                        break;
                case 'b':
                        o.batch = true;
                        break;
                case 'o':
                        o.output = optarg;
                        break;
                case 'v':
                        o.verbose = true;
                        kysoctl_set_verbose();
                        break;
                default:
                        /* --verbose is taken above: only --help and wrong options come here. */
                        return kysoctl_shared_option(opt, help);
                }
        n = (size_t) (argc - optind);
        if (!o.role || n == 0 || (!o.batch && (n != 1 || !o.output))) {
                fprintf(stderr,
                        _("kysoctl sign: give --role, one INPUT and -o OUTPUT (or --batch INPUT...). See "
                          "--help.\n"));
                return KYSOCTL_EXIT_USAGE;
        }
        /* Found here, not by the agent: a typing mistake is the command line's, and needs no bus. */
        if (sign_role_from_string(o.role) < 0) {
                fprintf(stderr,
                        _("kysoctl sign: unknown role '%s'. The roles are approve, issue, copy, appendix and "
                          "personal.\n"),
                        o.role);
                return KYSOCTL_EXIT_USAGE;
        }
        if (o.batch && o.existing) {
                fprintf(stderr, _("kysoctl sign: with --batch, each INPUT's leader signature is INPUT.p7s; "
                                  "--existing-signature is for one document.\n"));
                return KYSOCTL_EXIT_USAGE;
        }
        if (o.image) {
                int k = open_image(o.image);
                if (k < 0) {
                        fprintf(stderr, _("kysoctl sign: cannot read the image %s: %s\n"), o.image,
                                strerror(-k));
                        return KYSOCTL_EXIT_USAGE;
                }
                image_fd = k;
        }
        bool issue = streq(o.role, "issue");
        if (o.batch && issue && !o.output) {
                fprintf(stderr,
                        _("kysoctl sign: issuing a batch reads INPUT.p7s: give -o DIR for the outputs.\n"));
                return KYSOCTL_EXIT_USAGE;
        }

        in = calloc(n, sizeof(int));
        out = calloc(n, sizeof(int));
        ex = calloc(n, sizeof(int));
        outputs = calloc(n, sizeof(Output));
        ex_paths = calloc(n, sizeof(char *));
        if (!in || !out || !ex || !outputs || !ex_paths)
                return KYSOCTL_EXIT_INTERNAL;
        for (size_t i = 0; i < n; i++) {
                in[i] = out[i] = ex[i] = -1;
                outputs[i].fd = -EBADF;
        }

        for (size_t i = 0; i < n; i++) {
                const char *input = argv[optind + i];
                struct stat st;

                in[i] = kysoctl_open_input(input);
                if (in[i] < 0) {
                        fprintf(stderr, _("kysoctl sign: cannot open %s: %s\n"), input, strerror(-in[i]));
                        ret = KYSOCTL_EXIT_USAGE;
                        goto finish;
                }
                /* A PDF is signed inside (PAdES): the output is the signed PDF, and for issue the leader's
                 * signature is the one in the PDF. */
                bool pdf = is_pdf(in[i]);
                if (!o.batch)
                        outputs[i].path = strdup(o.output);
                else if (o.output && stat(o.output, &st) >= 0 && S_ISDIR(st.st_mode)) {
                        const char *base = strrchr(input, '/');
                        if (asprintf(
                                    &outputs[i].path, pdf ? "%s/%s" : "%s/%s.p7s", o.output,
                                    base ? base + 1 : input) < 0)
                                outputs[i].path = NULL;
                } else if (o.output) {
                        fprintf(stderr, _("kysoctl sign: with --batch, -o must be an existing folder.\n"));
                        ret = KYSOCTL_EXIT_USAGE;
                        goto finish;
                } else if (asprintf(&outputs[i].path, pdf ? "%s.signed.pdf" : "%s.p7s", input) < 0)
                        outputs[i].path = NULL;
                if (!outputs[i].path)
                        goto finish;
                if (issue && (!pdf || o.existing)) {
                        if (o.existing)
                                ex_paths[i] = strdup(o.existing);
                        else if (asprintf(&ex_paths[i], "%s.p7s", input) < 0)
                                ex_paths[i] = NULL;
                        if (!ex_paths[i])
                                goto finish;
                        ex[i] = kysoctl_open_input(ex_paths[i]);
                        if (ex[i] < 0 && o.existing) {
                                fprintf(stderr, _("kysoctl sign: cannot open %s: %s\n"), ex_paths[i],
                                        strerror(-ex[i]));
                                ret = KYSOCTL_EXIT_USAGE;
                                goto finish;
                        }
                }
                /* Only a PDF signed inside gives a PDF; anything else, also a PDF issued over the leader's
                 * detached signature, gives a detached signature, which a name ending in .pdf would pass
                 * off as the signed document. */
                if (!o.batch && (!pdf || ex_paths[i]) && has_pdf_suffix(outputs[i].path)) {
                        fprintf(stderr,
                                _("kysoctl sign: the output %s would be a detached signature, not a PDF; "
                                  "nothing was signed. Name it .p7s (such as %s.p7s).\n"),
                                outputs[i].path, base_name(input));
                        ret = KYSOCTL_EXIT_USAGE;
                        goto finish;
                }
        }
        /* Never harm an input: an output that is a document, a leader's signature or the image drawn (also
         * through a symlink or a hard link) would be replaced by its own signature. Checked for every pair
         * of the batch before anything is written. */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) {
                        const char *input = same_file(outputs[i].path, in[j])      ? argv[optind + j]
                                            : same_file(outputs[i].path, ex[j])    ? ex_paths[j]
                                            : same_file(outputs[i].path, image_fd) ? o.image
                                                                                   : NULL;
                        if (input) {
                                fprintf(stderr,
                                        _("kysoctl sign: the output %s is the same file as %s, which is read to "
                                          "sign; nothing was signed. Choose another output%s.\n"),
                                        outputs[i].path, input, o.batch ? _(" folder with -o DIR") : "");
                                ret = KYSOCTL_EXIT_USAGE;
                                goto finish;
                        }
                        if (j < i && streq(outputs[i].path, outputs[j].path)) {
                                fprintf(stderr,
                                        _("kysoctl sign: %s and %s would both be signed into %s; nothing was "
                                          "signed. Sign them in separate batches, or rename one.\n"),
                                        argv[optind + j], argv[optind + i], outputs[i].path);
                                ret = KYSOCTL_EXIT_USAGE;
                                goto finish;
                        }
                }
        interrupt_cleanup_install(outputs, n);
        for (size_t i = 0; i < n; i++) {
                sigset_t saved;
                int r;

                signals_hold(true, &saved);
                r = output_open(&outputs[i]);
                signals_hold(false, &saved);
                if (r == -EISDIR)
                        fprintf(stderr,
                                _("kysoctl sign: the output %s is a folder; nothing was signed. Give the "
                                  "signature's file name (such as %s/%s.p7s).\n"),
                                outputs[i].path, outputs[i].path, base_name(argv[optind + i]));
                else if (r == -EBADFD)
                        fprintf(stderr,
                                _("kysoctl sign: the output %s is not a regular file; nothing was signed. Give "
                                  "the signature's file name (a device, a FIFO or a socket is never "
                                  "replaced).\n"),
                                outputs[i].path);
                else if (r == -ENOSPC || r == -EDQUOT)
                        fprintf(stderr,
                                _("kysoctl sign: cannot create %s: %s; nothing was signed. Free some space "
                                  "there, or choose another output.\n"),
                                outputs[i].path, strerror(-r));
                else if (r < 0)
                        fprintf(stderr,
                                _("kysoctl sign: cannot create %s: %s; nothing was signed. Check that its folder "
                                  "exists and that you may write there, or choose another output.\n"),
                                outputs[i].path, strerror(-r));
                if (r < 0) {
                        /* A wrong path is the command line's; a full disk or no memory is not. */
                        ret = r == -ENOMEM || r == -ENOSPC || r == -EDQUOT || r == -EIO
                                      ? KYSOCTL_EXIT_INTERNAL
                                      : KYSOCTL_EXIT_USAGE;
                        goto finish;
                }
                out[i] = outputs[i].fd;
        }

        c = dbus_bus_get_private(DBUS_BUS_SESSION, &e);
        if (!c) {
                fprintf(stderr, _("kysoctl sign: cannot reach the session bus: %s\n"), e.message);
                goto finish;
        }
        dbus_connection_set_exit_on_disconnect(c, FALSE);
        /* A certificate named with --cert that the agent knows cannot sign is refused by Sign itself, at
         * once and with why (no request, no prompt): asking GetCertificates first would cost a round trip
         * and the agent's look at every certificate. */
        if (o.cert)
                cert = strdup(o.cert);
        else
                cert = pick_certificate(c, o.role, &ret);
        if (!cert)
                goto finish;

        /* Subscribe to the Response of the path the request will get before calling (handle_token). */
        if (asprintf(&token, "kysoctl_%d", (int) getpid()) < 0)
                goto finish;
        esc = strdup(dbus_bus_get_unique_name(c) + 1);
        if (!esc)
                goto finish;
        for (char *p = esc; *p; p++)
                if (*p == '.')
                        *p = '_';
        if (asprintf(&path, "/org/kyso/Agent1/request/%s/%s", esc, token) < 0 ||
            asprintf(
                    &match, "type='signal',interface='org.kyso.Request1',member='Response',path='%s'",
                    path) < 0)
                goto finish;
        /* Sent with Sign, its reply read after Sign's (see add_match_start()). */
        match_pending = add_match_start(c, match);

        /* A bus passes at most 16 fds per message by default: big batches come in parts (AddDocuments). */
        size_t chunk = issue ? 5 : 8, first = n < chunk ? n : chunk;
        dbus_bool_t more = first < n;
        m = dbus_message_new_method_call(AGENT, "/org/kyso/Agent1", AGENT, o.batch ? "SignBatch" : "Sign");
        if (!m)
                goto finish;
        dbus_message_iter_init_append(m, &it);
        for (int pass = 0; pass < 2; pass++) {
                int *v = pass == 0 ? in : out;
                if (o.batch) {
                        if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "h", &arr))
                                goto finish;
                        for (size_t i = 0; i < first; i++)
                                if (!dbus_message_iter_append_basic(&arr, DBUS_TYPE_UNIX_FD, &v[i]))
                                        goto finish;
                        if (!dbus_message_iter_close_container(&it, &arr))
                                goto finish;
                } else if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_UNIX_FD, &v[0]))
                        goto finish;
        }
        if (bus_append_string(&it, cert) < 0 || bus_append_string(&it, o.role) < 0 ||
            !dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &dict))
                goto finish;
        dbus_bool_t ts = o.timestamp;
        if (append_str(&dict, "handle_token", token) < 0 || append_str(&dict, "reason", o.reason) < 0 ||
            append_str(&dict, "location", o.location) < 0 ||
            append_str(&dict, "doc_number", o.doc_number) < 0 ||
            append_str(&dict, "copy_form", o.copy_form) < 0 ||
            append_str(&dict, "doc_date", o.doc_date) < 0 ||
            append_str(&dict, "classification", o.classification) < 0 ||
            append_str(&dict, "level", o.level) < 0 ||
            append_str(&dict, "label", o.label ?: (o.batch ? NULL : base_name(argv[optind]))) < 0 ||
            /* The agent answers in the language of the person at the desk (LC_ALL, LC_MESSAGES, LANG). */
            append_str(&dict, "locale", setlocale(LC_MESSAGES, NULL)) < 0 ||
            (ts && dbus_dict_append_bool(&dict, "timestamp", true) < 0) ||
            (more && dbus_dict_append_bool(&dict, "more_documents", true) < 0) ||
            append_visible(&dict, &o, image_fd) < 0)
                goto finish;
        if (issue) {
                bool all = true;
                for (size_t i = 0; i < n; i++)
                        all = all && ex[i] >= 0;
                if (all && !o.batch && dbus_dict_append_fd(&dict, "existing_signature", ex[0]) < 0)
                        goto finish;
                if (all && o.batch) {
                        DBusMessageIter de, var, fa;
                        const char *k = "existing_signatures";
                        if (!dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &de) ||
                            bus_append_string(&de, k) < 0 ||
                            !dbus_message_iter_open_container(&de, DBUS_TYPE_VARIANT, "ah", &var) ||
                            !dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "h", &fa))
                                goto finish;
                        for (size_t i = 0; i < first; i++)
                                if (!dbus_message_iter_append_basic(&fa, DBUS_TYPE_UNIX_FD, &ex[i]))
                                        goto finish;
                        if (!dbus_message_iter_close_container(&var, &fa) ||
                            !dbus_message_iter_close_container(&de, &var) ||
                            !dbus_message_iter_close_container(&dict, &de))
                                goto finish;
                }
        }
        if (!dbus_message_iter_close_container(&it, &dict))
                goto finish;

        if (o.batch)
                fprintf(stderr, _("kysoctl sign: signing %zu documents; approve them at the prompt...\n"),
                        n);
        reply = dbus_connection_send_with_reply_and_block(c, m, 60000, &e);
        match_r = add_match_finish(TAKE_PTR(match_pending), &me);
        if (!reply) {
                /* No agent, or none that answers: said with what to do. */
                ret = kysoctl_agent_error("sign", e.name, e.message);
                if (ret < 0) {
                        print_bus_error(&e, o.verbose);
                        ret = exit_for_error(e.name);
                }
                goto finish;
        }
        if (match_r < 0) {
                /* The agent sees this client leave and cancels the request. */
                fprintf(stderr, _("kysoctl sign: cannot subscribe to the response: %s\n"), me.message);
                goto finish;
        }
        if (!dbus_message_get_args(reply, &e, DBUS_TYPE_OBJECT_PATH, &reply_path, DBUS_TYPE_INVALID))
                goto finish;
        agent = dbus_message_get_sender(reply);
        if (!agent || watch_agent(c, agent) < 0) {
                fprintf(stderr, _("kysoctl sign: the agent stopped before it answered; nothing was signed. "
                                  "Sign again (the agent starts on demand).\n"));
                goto finish;
        }
        for (size_t k = first; k < n; k += chunk) {
                size_t end = k + chunk < n ? k + chunk : n;
                dbus_bool_t last = end == n;
                bool all = issue;
                DBusMessage *a, *ar;
                DBusMessageIter ai, aa;

                for (size_t i = 0; i < n; i++)
                        all = all && ex[i] >= 0;
                a = dbus_message_new_method_call(AGENT, reply_path, "org.kyso.Request1", "AddDocuments");
                if (!a)
                        goto finish;
                dbus_message_iter_init_append(a, &ai);
                for (int pass = 0; pass < 3; pass++) {
                        int *v = pass == 0 ? in : pass == 1 ? out : ex;
                        if (!dbus_message_iter_open_container(&ai, DBUS_TYPE_ARRAY, "h", &aa))
                                goto finish;
                        for (size_t i = k; (pass < 2 || all) && i < end; i++)
                                if (!dbus_message_iter_append_basic(&aa, DBUS_TYPE_UNIX_FD, &v[i]))
                                        goto finish;
                        if (!dbus_message_iter_close_container(&ai, &aa))
                                goto finish;
                }
                if (!dbus_message_iter_append_basic(&ai, DBUS_TYPE_BOOLEAN, &last))
                        goto finish;
                ar = dbus_connection_send_with_reply_and_block(c, a, 60000, &e);
                dbus_message_unref(a);
                if (!ar) {
                        print_bus_error(&e, o.verbose);
                        ret = exit_for_error(e.name);
                        goto finish;
                }
                dbus_message_unref(ar);
        }
        if (!streq(reply_path, path)) {
                /* An older agent without handle_token: subscribe to the path it gave (may race). */
                free(match);
                match = NULL;
                if (asprintf(
                            &match,
                            "type='signal',interface='org.kyso.Request1',member='Response',path='%s'",
                            reply_path) < 0)
                        goto finish;
                dbus_bus_add_match(c, match, NULL);
        }

        /* Messages that came while the calls above waited for their replies are handled first: a fast
         * agent's Response may come before the reply to Sign (why handle_token exists). */
        for (;;) {
                DBusMessage *sig;
                while ((sig = dbus_connection_pop_message(c))) {
                        dbus_uint32_t index, total;
                        const char *name, *status, *msg;
                        if (agent_left(sig, agent)) {
                                dbus_message_unref(sig);
                                if (progress > 0)
                                        fprintf(stderr,
                                                _("kysoctl sign: the agent stopped before it answered; the "
                                                  "documents not shown as signed above were not signed. "
                                                  "Sign them again (the agent starts on demand).\n"));
                                else
                                        fprintf(stderr, _("kysoctl sign: the agent stopped before it "
                                                          "answered; nothing was signed. Sign again (the "
                                                          "agent starts on demand).\n"));
                                goto finish;
                        }
                        if (o.batch && dbus_message_is_signal(sig, "org.kyso.Request1", "Progress") &&
                            streq_ptr(dbus_message_get_path(sig), reply_path) &&
                            dbus_message_get_args(
                                    sig, NULL, DBUS_TYPE_UINT32, &index, DBUS_TYPE_UINT32, &total,
                                    DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &status, DBUS_TYPE_STRING,
                                    &msg, DBUS_TYPE_INVALID) &&
                            index < n) {
                                /* Progress, as each document is finished: its output is final now. */
                                if (streq(status, "done") && output_commit(&outputs[index]) >= 0)
                                        printf(_("[%zu/%zu] %s: signed → %s%s%s\n"), (size_t) index + 1, n,
                                               name, outputs[index].path, "", "");
                                else if (!streq(status, "done")) {
                                        output_discard(&outputs[index]);
                                        printf(_("[%zu/%zu] %s: %s: %s\n"), (size_t) index + 1, n, name,
                                               status_in_words(status), msg);
                                }
                                fflush(stdout);
                                progress++;
                        }
                        if (dbus_message_is_signal(sig, "org.kyso.Request1", "Response") &&
                            streq_ptr(dbus_message_get_path(sig), reply_path)) {
                                DBusMessageIter rit;
                                dbus_uint32_t code = 2;
                                dbus_message_iter_init(sig, &rit);
                                if (dbus_message_iter_get_arg_type(&rit) == DBUS_TYPE_UINT32)
                                        dbus_message_iter_get_basic(&rit, &code);
                                dbus_message_iter_next(&rit);
                                ret = code == 0 ? KYSOCTL_EXIT_OK : KYSOCTL_EXIT_REFUSED;
                                if (code == 0)
                                        ret = KYSOCTL_EXIT_OK;
                                (void) print_results(&rit, n, outputs, progress >= n, o.verbose, &ret);
                                dbus_message_unref(sig);
                                goto finish;
                        }
                        dbus_message_unref(sig);
                }
                if (!dbus_connection_read_write(c, SIGN_TIMEOUT_MS)) {
                        fprintf(stderr, _("kysoctl sign: lost the connection to the agent.\n"));
                        goto finish;
                }
        }

finish:
        dbus_error_free(&e);
        dbus_error_free(&me);
        if (match_pending) {
                dbus_pending_call_cancel(match_pending);
                dbus_pending_call_unref(match_pending);
        }
        if (m)
                dbus_message_unref(m);
        if (reply)
                dbus_message_unref(reply);
        if (c) {
                dbus_connection_close(c);
                dbus_connection_unref(c);
        }
        /* Whatever was not signed leaves no trace: an existing output stays as it was. */
        for (size_t i = 0; i < n; i++) {
                safe_close(in[i]);
                safe_close(ex[i]);
                free(ex_paths[i]);
                output_done(&outputs[i]);
        }
        interrupt_cleanup_remove();
        return ret;
}
