/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A test client of org.kyso.Agent1's Sign/SignBatch: sends many requests at once, cancels or disconnects on
 * demand, and prints one line per reply and per Response, then a summary:
 *   sign-client --cert URI --role ROLE [--count N] [--batch] [--timestamp] [--classification C]
 *               [--existing P7S] [--cancel MS] [--disconnect MS] [--on-signal] [--after-read] [--incomplete]
 *               -o OUTDIR INPUT...
 * Request i signs INPUT[i % n] into OUTDIR/out-i.p7s (with --batch: one SignBatch, OUTDIR/out-i.p7s per
 * input). Exit 0 when every request got its reply and (unless --disconnect) its Response.
 * --on-signal: cancel (or disconnect) when SIGUSR1 arrives instead of after MS; a Response after a Cancel
 * prints "latency I MS", the time from the Cancel to the Response. --after-read: MS counts from the moment
 * the agent has read every byte waiting in the inputs (a FIFO whose writer the test holds open: the agent is
 * then blocked reading it); without a Sign batch only. --incomplete: a batch of more than 8 documents never
 * sends its last part (every AddDocuments says last=false).
 * --check-audit LOG: for each Progress of a signed document, prints "progress INDEX done audited" when LOG
 * already holds its sign-done record at that moment, "progress INDEX done UNAUDITED" when not.
 * --names: prints "progress-name INDEX STATUS NAME" for each Progress and "result-name INDEX NAME" for each
 * document of a Response's results, so a test sees the names exactly as the agent put them on the bus.
 * --output-pipe: each output is the write end of a pipe (its read end stays open, unread), not a file. */
#include <dbus/dbus.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

typedef struct Req {
        dbus_uint32_t serial;
        char *path;
        bool replied, responded, cancelled;
        unsigned code;
        char error[128];
} Req;

static volatile sig_atomic_t got_signal;

static void on_usr1(int sig) {
        (void) sig;
        got_signal = 1;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void dict_basic(DBusMessageIter *d, const char *key, const char *sig, int type, const void *v) {
        DBusMessageIter e, var;
        dbus_message_iter_open_container(d, DBUS_TYPE_DICT_ENTRY, NULL, &e);
        dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &key);
        dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, sig, &var);
        dbus_message_iter_append_basic(&var, type, v);
        dbus_message_iter_close_container(&e, &var);
        dbus_message_iter_close_container(d, &e);
}

static void dict_str(DBusMessageIter *d, const char *key, const char *v) {
        dict_basic(d, key, "s", DBUS_TYPE_STRING, &v);
}

static bool output_pipe;

static int open_out(const char *dir, size_t i) {
        char p[4096];
        int fds[2];

        if (output_pipe) /* the read end is kept (and leaked) so that writes do not fail with EPIPE */
                return pipe2(fds, O_CLOEXEC) < 0 ? -1 : fds[1];
        snprintf(p, sizeof p, "%s/out-%zu.p7s", dir, i);
        return open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* Appends the documents from to end (the inputs taken in turn) as SignBatch and AddDocuments want them: an
 * array of their fds, then one of their outputs' fds. The message holds its own copies: ours are closed. */
static void append_documents(
        DBusMessageIter *it, char **inputs, size_t n_inputs, const char *outdir, size_t from, size_t end) {
        DBusMessageIter arr;

        for (int pass = 0; pass < 2; pass++) {
                dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "h", &arr);
                for (size_t k = from; k < end; k++) {
                        int fd = pass == 0 ? open(inputs[k % n_inputs], O_RDONLY | O_CLOEXEC)
                                           : open_out(outdir, k);
                        dbus_message_iter_append_basic(&arr, DBUS_TYPE_UNIX_FD, &fd);
                        close(fd);
                }
                dbus_message_iter_close_container(it, &arr);
        }
}

/* Whether the audit log holds a sign-done record of a document with this name. */
static bool audited(const char *log, const char *name) {
        char want[512], line[65536];
        bool found = false;
        FILE *f = fopen(log, "re");

        if (!f)
                return false;
        /* The name as the record's JSON writes it: '\\' and '"' escaped. */
        size_t k = (size_t) snprintf(want, sizeof want, "\"document\":{\"name\":\"");
        for (const char *p = name; *p && k + 4 < sizeof want; p++) {
                if (*p == '\\' || *p == '"')
                        want[k++] = '\\';
                want[k++] = *p;
        }
        want[k++] = '"';
        want[k] = 0;
        while (!found && fgets(line, sizeof line, f))
                found = strstr(line, "\"event\":\"sign-done\"") && strstr(line, want);
        fclose(f);
        return found;
}

/* Finds key in the a{sv} at it: its value in *ret_var. */
static bool dict_lookup(DBusMessageIter *it, const char *key, DBusMessageIter *ret_var) {
        DBusMessageIter dict, entry;
        dbus_message_iter_recurse(it, &dict);
        for (; dbus_message_iter_get_arg_type(&dict) == DBUS_TYPE_DICT_ENTRY;
             dbus_message_iter_next(&dict)) {
                const char *k;
                dbus_message_iter_recurse(&dict, &entry);
                dbus_message_iter_get_basic(&entry, &k);
                dbus_message_iter_next(&entry);
                if (strcmp(k, key) == 0) {
                        dbus_message_iter_recurse(&entry, ret_var);
                        return true;
                }
        }
        return false;
}

/* Finds results["error"] of a Response. */
static void response_error(DBusMessageIter *it, char *buf, size_t size) {
        DBusMessageIter var;
        const char *v;
        if (dict_lookup(it, "error", &var) && dbus_message_iter_get_arg_type(&var) == DBUS_TYPE_STRING) {
                dbus_message_iter_get_basic(&var, &v);
                snprintf(buf, size, "%s", v);
        }
}

/* Prints the name of each document in a Response's results["documents"]. */
static void print_result_names(DBusMessageIter *it) {
        DBusMessageIter var, arr, name;
        const char *v;
        if (!dict_lookup(it, "documents", &var) || dbus_message_iter_get_arg_type(&var) != DBUS_TYPE_ARRAY)
                return;
        dbus_message_iter_recurse(&var, &arr);
        for (unsigned i = 0; dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_ARRAY;
             dbus_message_iter_next(&arr), i++)
                if (dict_lookup(&arr, "name", &name) &&
                    dbus_message_iter_get_arg_type(&name) == DBUS_TYPE_STRING) {
                        dbus_message_iter_get_basic(&name, &v);
                        printf("result-name %u %s\n", i, v);
                }
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "cert", required_argument, NULL, 'c' },
                { "role", required_argument, NULL, 'r' },
                { "count", required_argument, NULL, 'n' },
                { "batch", no_argument, NULL, 'b' },
                { "timestamp", no_argument, NULL, 't' },
                { "classification", required_argument, NULL, 'C' },
                { "existing", required_argument, NULL, 'e' },
                { "cancel", required_argument, NULL, 'x' },
                { "disconnect", required_argument, NULL, 'd' },
                { "on-signal", no_argument, NULL, 's' },
                { "incomplete", no_argument, NULL, 'i' },
                { "after-read", no_argument, NULL, 'R' },
                { "check-audit", required_argument, NULL, 'a' },
                { "names", no_argument, NULL, 'N' },
                { "output-pipe", no_argument, NULL, 'P' },
                {},
        };
        const char *cert = NULL, *role = "approve", *outdir = NULL, *classification = NULL, *existing = NULL,
                   *audit_log = NULL;
        long count = 1, cancel_ms = -1, disconnect_ms = -1;
        bool batch = false, on_signal = false, incomplete = false, after_read = false, names = false;
        uint64_t cancel_sent = 0;
        dbus_bool_t timestamp = false;
        DBusError e = DBUS_ERROR_INIT;
        DBusConnection *c;
        Req *reqs;
        size_t n_inputs, n_req;
        int opt;

        while ((opt = getopt_long(argc, argv, "o:", opts, NULL)) >= 0)
                switch (opt) {
                case 'c':
                        cert = optarg;
                        break;
                case 'r':
                        role = optarg;
                        break;
                case 'n':
                        count = atol(optarg);
                        break;
                case 'b':
                        batch = true;
                        break;
                case 't':
                        timestamp = true;
                        break;
                case 'C':
                        classification = optarg;
                        break;
                case 'e':
                        existing = optarg;
                        break;
                case 'x':
                        cancel_ms = atol(optarg);
                        break;
                case 'd':
                        disconnect_ms = atol(optarg);
                        break;
                case 's':
                        on_signal = true;
                        break;
                case 'i':
                        incomplete = true;
                        break;
                case 'R':
                        after_read = true;
                        break;
                case 'o':
                        outdir = optarg;
                        break;
                case 'a':
                        audit_log = optarg;
                        break;
                case 'N':
                        names = true;
                        break;
                case 'P':
                        output_pipe = true;
                        break;
                default:
                        return 2;
                }
        n_inputs = (size_t) (argc - optind);
        if (!cert || !outdir || n_inputs == 0 || count < 1)
                return 2;
        n_req = batch ? 1 : (size_t) count;
        reqs = calloc(n_req, sizeof *reqs);
        /* --after-read: a copy of each input fd, to see what is still unread in its pipe. */
        int *inputs = calloc(n_req, sizeof *inputs);
        if (batch && after_read)
                return 2;
        if (on_signal) {
                struct sigaction sa = { .sa_handler = on_usr1 };
                sigaction(SIGUSR1, &sa, NULL);
        }

        c = dbus_bus_get_private(DBUS_BUS_SESSION, &e);
        if (!c) {
                fprintf(stderr, "sign-client: %s\n", e.message);
                return 3;
        }
        dbus_connection_set_exit_on_disconnect(c, FALSE);
        dbus_bus_add_match(c, "type='signal',interface='org.kyso.Request1',member='Response'", NULL);

        for (size_t i = 0; i < n_req; i++) {
                DBusMessage *m = dbus_message_new_method_call(
                        "org.kyso.Agent1", "/org/kyso/Agent1", "org.kyso.Agent1",
                        batch ? "SignBatch" : "Sign");
                DBusMessageIter it, dict;
                char token[64];
                int ex = -1;

                dbus_message_iter_init_append(m, &it);
                if (batch) {
                        /* The first part; AddDocuments brings the rest (at most 16 fds per message). */
                        size_t nb = (size_t) count, first = nb < 8 ? nb : 8;
                        append_documents(&it, argv + optind, n_inputs, outdir, 0, first);
                } else {
                        int in = open(argv[optind + i % n_inputs], O_RDONLY | O_CLOEXEC),
                            out = open_out(outdir, i);
                        dbus_message_iter_append_basic(&it, DBUS_TYPE_UNIX_FD, &in);
                        dbus_message_iter_append_basic(&it, DBUS_TYPE_UNIX_FD, &out);
                        if (after_read)
                                inputs[i] = in;
                        else
                                close(in);
                        close(out);
                }
                dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &cert);
                dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &role);
                dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &dict);
                snprintf(token, sizeof token, "t%d_%zu", (int) getpid(), i);
                dict_str(&dict, "handle_token", token);
                if (classification)
                        dict_str(&dict, "classification", classification);
                if (timestamp)
                        dict_basic(&dict, "timestamp", "b", DBUS_TYPE_BOOLEAN, &timestamp);
                if (batch && count > 8) {
                        dbus_bool_t more = true;
                        dict_basic(&dict, "more_documents", "b", DBUS_TYPE_BOOLEAN, &more);
                }
                if (existing) {
                        ex = open(existing, O_RDONLY | O_CLOEXEC);
                        dict_basic(&dict, "existing_signature", "h", DBUS_TYPE_UNIX_FD, &ex);
                        close(ex);
                }
                dbus_message_iter_close_container(&it, &dict);
                if (batch && count > 8) {
                        DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, 60000, &e);
                        const char *p = NULL;
                        if (!r ||
                            !dbus_message_get_args(r, &e, DBUS_TYPE_OBJECT_PATH, &p, DBUS_TYPE_INVALID)) {
                                fprintf(stderr, "sign-client: SignBatch: %s\n", e.message);
                                return 3;
                        }
                        reqs[i].path = strdup(p);
                        reqs[i].replied = true;
                        printf("reply %zu ok %s\n", i, p);
                        dbus_message_unref(r);
                        /* The parts are sent one after the other, then their replies are collected, as an
                         * app that does not wait for each would. */
                        size_t n_parts = 0;
                        DBusPendingCall **parts = calloc((size_t) count / 8 + 1, sizeof *parts);
                        for (size_t k = 8; k < (size_t) count; k += 8) {
                                size_t end = k + 8 < (size_t) count ? k + 8 : (size_t) count;
                                dbus_bool_t last = end == (size_t) count && !incomplete;
                                DBusMessage *a = dbus_message_new_method_call(
                                        "org.kyso.Agent1", reqs[i].path, "org.kyso.Request1",
                                        "AddDocuments");
                                DBusMessageIter ai, aa;
                                dbus_message_iter_init_append(a, &ai);
                                append_documents(&ai, argv + optind, n_inputs, outdir, k, end);
                                /* No existing signatures. */
                                dbus_message_iter_open_container(&ai, DBUS_TYPE_ARRAY, "h", &aa);
                                dbus_message_iter_close_container(&ai, &aa);
                                dbus_message_iter_append_basic(&ai, DBUS_TYPE_BOOLEAN, &last);
                                if (!dbus_connection_send_with_reply(c, a, &parts[n_parts], 60000) ||
                                    !parts[n_parts]) {
                                        fprintf(stderr, "sign-client: AddDocuments: cannot send\n");
                                        return 3;
                                }
                                n_parts++;
                                dbus_message_unref(a);
                        }
                        for (size_t k = 0; k < n_parts; k++) {
                                dbus_pending_call_block(parts[k]);
                                r = dbus_pending_call_steal_reply(parts[k]);
                                dbus_pending_call_unref(parts[k]);
                                if (!r || dbus_set_error_from_message(&e, r)) {
                                        fprintf(stderr, "sign-client: AddDocuments: %s\n",
                                                r ? e.message : "no reply");
                                        return 3;
                                }
                                dbus_message_unref(r);
                        }
                        free(parts);
                        dbus_message_unref(m);
                        continue;
                }
                if (!dbus_connection_send(c, m, &reqs[i].serial)) {
                        fprintf(stderr, "sign-client: cannot send\n");
                        return 3;
                }
                dbus_message_unref(m);
        }
        dbus_connection_flush(c);

        uint64_t start = now_ms();
        bool all_read = !after_read;
        size_t replied = 0, responded = 0, expected = n_req;
        for (size_t i = 0; i < n_req; i++)
                replied += reqs[i].replied;
        bool cancelled = false;
        while (replied < n_req || responded < expected) {
                DBusMessage *msg;

                if (!all_read) {
                        int unread = 0;
                        all_read = true;
                        for (size_t i = 0; i < n_req; i++)
                                if (ioctl(inputs[i], FIONREAD, &unread) < 0 || unread > 0)
                                        all_read = false;
                        if (all_read) {
                                start = now_ms();
                                printf("read\n");
                        }
                }
                bool due = on_signal ? got_signal : false;
                if (disconnect_ms >= 0 && replied == n_req && all_read &&
                    (on_signal ? due : now_ms() - start >= (uint64_t) disconnect_ms)) {
                        printf("disconnecting\n");
                        fflush(stdout);
                        dbus_connection_close(c);
                        return 0;
                }
                if (cancel_ms >= 0 && !cancelled && replied == n_req && all_read &&
                    (on_signal ? due : now_ms() - start >= (uint64_t) cancel_ms)) {
                        cancelled = true;
                        cancel_sent = now_ms();
                        for (size_t i = 0; i < n_req; i++)
                                if (reqs[i].path && !reqs[i].responded) {
                                        DBusMessage *m = dbus_message_new_method_call(
                                                "org.kyso.Agent1", reqs[i].path, "org.kyso.Request1",
                                                "Cancel");
                                        dbus_connection_send(c, m, NULL);
                                        dbus_message_unref(m);
                                        printf("cancel %zu\n", i);
                                }
                        dbus_connection_flush(c);
                }
                dbus_connection_read_write(c, 50);
                while ((msg = dbus_connection_pop_message(c))) {
                        int type = dbus_message_get_type(msg);
                        if (type == DBUS_MESSAGE_TYPE_METHOD_RETURN || type == DBUS_MESSAGE_TYPE_ERROR)
                                for (size_t i = 0; i < n_req; i++) {
                                        if (reqs[i].replied ||
                                            reqs[i].serial != dbus_message_get_reply_serial(msg))
                                                continue;
                                        reqs[i].replied = true;
                                        replied++;
                                        if (type == DBUS_MESSAGE_TYPE_ERROR) {
                                                printf("reply %zu error %s\n", i,
                                                       dbus_message_get_error_name(msg));
                                                snprintf(
                                                        reqs[i].error, sizeof reqs[i].error, "%s",
                                                        dbus_message_get_error_name(msg));
                                                expected--;
                                        } else {
                                                const char *p = NULL;
                                                dbus_message_get_args(
                                                        msg, NULL, DBUS_TYPE_OBJECT_PATH, &p,
                                                        DBUS_TYPE_INVALID);
                                                reqs[i].path = strdup(p ? p : "");
                                                printf("reply %zu ok %s\n", i, reqs[i].path);
                                        }
                                }
                        if (names && dbus_message_is_signal(msg, "org.kyso.Request1", "Progress")) {
                                dbus_uint32_t index = 0, total = 0;
                                const char *name = "", *status = "";
                                if (dbus_message_get_args(
                                            msg, NULL, DBUS_TYPE_UINT32, &index, DBUS_TYPE_UINT32, &total,
                                            DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &status,
                                            DBUS_TYPE_INVALID))
                                        printf("progress-name %u %s %s\n", (unsigned) index, status, name);
                        }
                        if (audit_log && dbus_message_is_signal(msg, "org.kyso.Request1", "Progress")) {
                                dbus_uint32_t index = 0, total = 0;
                                const char *name = "", *status = "", *message = "";
                                if (dbus_message_get_args(
                                            msg, NULL, DBUS_TYPE_UINT32, &index, DBUS_TYPE_UINT32, &total,
                                            DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &status,
                                            DBUS_TYPE_STRING, &message, DBUS_TYPE_INVALID) &&
                                    strcmp(status, "done") == 0)
                                        printf("progress %u done %s\n", (unsigned) index,
                                               audited(audit_log, name) ? "audited" : "UNAUDITED");
                        }
                        if (dbus_message_is_signal(msg, "org.kyso.Request1", "Response")) {
                                const char *p = dbus_message_get_path(msg);
                                for (size_t i = 0; i < n_req; i++) {
                                        DBusMessageIter it;
                                        char err[128] = "";
                                        dbus_uint32_t code = 99;
                                        char want[256];
                                        snprintf(want, sizeof want, "/t%d_%zu", (int) getpid(), i);
                                        if (reqs[i].responded || !p || !strstr(p, want) ||
                                            strcmp(strstr(p, want), want) != 0)
                                                continue;
                                        dbus_message_iter_init(msg, &it);
                                        dbus_message_iter_get_basic(&it, &code);
                                        dbus_message_iter_next(&it);
                                        response_error(&it, err, sizeof err);
                                        if (names)
                                                print_result_names(&it);
                                        reqs[i].responded = true;
                                        reqs[i].code = code;
                                        responded++;
                                        printf("response %zu %u %s\n", i, (unsigned) code,
                                               err[0] ? err : "-");
                                        if (cancelled)
                                                printf("latency %zu %llu\n", i,
                                                       (unsigned long long) (now_ms() - cancel_sent));
                                }
                        }
                        dbus_message_unref(msg);
                }
                fflush(stdout);
        }
        size_t done = 0, busy = 0, failed = 0, canc = 0;
        for (size_t i = 0; i < n_req; i++) {
                if (strstr(reqs[i].error, "Busy"))
                        busy++;
                else if (reqs[i].responded && reqs[i].code == 0)
                        done++;
                else if (reqs[i].responded && reqs[i].code == 1)
                        canc++;
                else
                        failed++;
        }
        printf("summary done=%zu busy=%zu cancelled=%zu failed=%zu\n", done, busy, canc, failed);
        fflush(stdout);
        dbus_connection_close(c);
        return 0;
}
