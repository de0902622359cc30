/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl audit show | verify | report: reads the audit log files directly, no agent needed. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit/audit-events.h"
#include "audit/audit-log.h"
#include "audit/audit-reader.h"
#include "audit/audit-record.h"
#include "audit/audit-report.h"
#include "audit/audit-show.h"
#include "audit/audit-verify.h"
#include "audit/audit-window.h"
#include "config.h"
#include "i18n.h"
#include "kysoctl.h"
#include "macro.h"
#include "policy/policy-rules.h"
#include "policy/policy.h"

static int log_path(const char *verb, const char *arg, char **ret) {
        if (arg) {
                if (arg[0] == '/')
                        *ret = strdup(arg);
                else {
                        char cwd[4096];
                        if (!getcwd(cwd, sizeof(cwd)) || asprintf(ret, "%s/%s", cwd, arg) < 0)
                                return -ENOMEM;
                }
                return *ret ? 0 : -ENOMEM;
        }
        int r = audit_log_default_path(ret);
        if (r < 0)
                kysoctl_error(
                        verb, _("cannot tell where the audit log is (HOME is not set). Use --log PATH.\n"));
        return r;
}

/* Quarantine files "<log>.torn-*.pending": bytes a crash left at the log's end, cut off by a start that
 * then crashed before recording it. The agent records them when it next starts; until then the log reads
 * intact, so verify says they are there. Read only: the agent alone finishes them. */
static char **pending_quarantines(const char *path) {
        _cleanup_free_ char *dir = NULL, *prefix = NULL;
        const char *slash = strrchr(path, '/');
        char **names = NULL;
        DIR *d;

        dir = slash ? strndup(path, (size_t) (slash - path)) : strdup(".");
        if (!dir || asprintf(&prefix, "%s.torn-", slash ? slash + 1 : path) < 0)
                return NULL;
        d = opendir(isempty(dir) ? "/" : dir);
        if (!d)
                return NULL;
        for (struct dirent *de; (de = readdir(d));) {
                size_t n = strlen(de->d_name);
                if (startswith(de->d_name, prefix) && n > strlen(".pending") &&
                    streq(de->d_name + n - strlen(".pending"), ".pending") &&
                    strv_extend(&names, de->d_name) < 0)
                        break;
        }
        closedir(d);
        return names;
}

/* Says why the log at path could not be read (r, a negative errno from a reader): names the first of its
 * files that cannot be opened, else the log, and what to do about it. */
static void read_error(const char *verb, const char *path, int r) {
        _cleanup_strv_free_ char **files = NULL;
        const char *file = path;

        if (audit_chain_files(path, &files, NULL) >= 0)
                STRV_FOREACH (f, files) {
                        _cleanup_close_ int fd = open(*f, O_RDONLY | O_CLOEXEC);
                        char c;
                        /* A folder opens, and fails at the first read. */
                        if (fd < 0 || read(fd, &c, 1) < 0) {
                                file = *f;
                                r = negative_errno();
                                break;
                        }
                }
        kysoctl_error(
                verb, _("cannot read %s: %s. %s\n"), file, strerror(-r),
                r == -EACCES || r == -EPERM
                        ? _("The log belongs to the account that runs the agent: run this as that user or "
                            "as root, or ask the administrator for a copy of the log's files.")
                : (r == -EISDIR || r == -ENOTDIR) && streq(file, path)
                        ? _("--log (or KYSO_AUDIT_LOG) names the log file, e.g. "
                            "~/.local/state/kyso/audit.jsonl, not a folder.")
                        : _("Copy the log's files elsewhere (keep the originals as they are) and run this "
                            "on the copy."));
}

static int open_reader(const char *verb, const char *path, AuditReader **ret) {
        int r = audit_reader_open(path, ret);
        if (r == -ENOENT)
                kysoctl_error(
                        verb,
                        _("there is no audit log at %s. Use --log PATH or KYSO_AUDIT_LOG to name another "
                          "one.\n"),
                        path);
        else if (r < 0)
                read_error(verb, path, r);
        return r;
}

/* Says what is wrong when arguments are left after the options (none is taken) and returns true. */
static bool unexpected_argument(const char *verb, int argc, char **argv) {
        if (optind >= argc)
                return false;
        kysoctl_error(verb, _("unexpected argument '%s'.\n"), argv[optind]);
        return true;
}

/* The options the audit verbs share, at c from getopt_long(): --log (into *log_arg), --verbose, --help
 * (help shown) and anything unknown (help shown). -1 when the verb goes on, else its exit code. */
static int shared_option(int c, const char **log_arg, void (*help)(void)) {
        int r;

        if (c == 'l') {
                if (isempty(optarg)) {
                        kysoctl_error(
                                "audit", _("--log needs the path of the log file, e.g. "
                                           "~/.local/state/kyso/audit.jsonl.\n"));
                        return KYSOCTL_EXIT_USAGE;
                }
                *log_arg = optarg;
                return -1;
        }
        r = kysoctl_shared_option(c, help);
        /* After getopt's complaint about a wrong option, the audit verbs show their usage. */
        if (r == KYSOCTL_EXIT_USAGE)
                help();
        return r;
}

/* Opens the log that --log (or the default) names, for show and report; on failure says why and returns
 * the exit code, else KYSOCTL_EXIT_OK. */
static int open_log(const char *verb, const char *log_arg, char **ret_path, AuditReader **ret_reader) {
        int r;

        if (log_path(verb, log_arg, ret_path) < 0)
                return KYSOCTL_EXIT_INTERNAL;
        r = open_reader(verb, *ret_path, ret_reader);
        if (r < 0)
                return r == -ENOENT ? KYSOCTL_EXIT_REFUSED : KYSOCTL_EXIT_INTERNAL;
        return KYSOCTL_EXIT_OK;
}

/* Makes the reader read only the window [since, until]: found by bisection, then the lines from there (see
 * audit-window.h for what the window is when the clock went backwards). */
static int window_select(AuditReader *reader, int64_t since, int64_t until) {
        AuditWindow win;
        AuditPos near;
        int r;

        audit_window_init(&win, since, until);
        r = audit_window_start_near(reader, &win, &near);
        if (r >= 0)
                r = audit_window_find(reader, &near, &win);
        if (r >= 0)
                r = audit_window_apply(reader, &win);
        return r;
}

/* A date or time on the command line: with "Z" or "+07:00" as given; without an offset in local time. An
 * --until date without a time means the end of that day. */
static int parse_user_time(const char *s, bool until, int64_t *ret) {
        int64_t ms;
        int r = audit_parse_time(s, &ms);
        if (r < 0)
                return r;
        size_t n = strlen(s);
        bool has_offset = n > 10 && (s[n - 1] == 'Z' || strchr(s + 10, '+') || strchr(s + 10, '-'));
        if (!has_offset) {
                time_t t = (time_t) (ms / 1000);
                struct tm tm;
                if (!localtime_r(&t, &tm))
                        return -EINVAL;
                ms -= (int64_t) tm.tm_gmtoff * 1000;
        }
        if (until && n == 10)
                ms += 86400LL * 1000;
        *ret = ms;
        return 0;
}

static void show_help(void) {
        printf(_(
                "Usage: kysoctl audit show [--since D] [--until D] [--event E] [--cert FPR] [--role R]\n"
                "                          [--json|--csv] [--log PATH]\n"
                "Shows the audit log's records. D is YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (local time unless it\n"
                "ends with Z or +HH:MM); --until with a date includes that whole day.\n"));
}

static int verb_show(int argc, char **argv) {
        static const struct option options[] = {
                { "since", required_argument, NULL, 's' }, { "until", required_argument, NULL, 'u' },
                { "event", required_argument, NULL, 'e' }, { "cert", required_argument, NULL, 'c' },
                { "role", required_argument, NULL, 'r' },  { "json", no_argument, NULL, 'j' },
                { "csv", no_argument, NULL, 'C' },         { "log", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },        {},
        };
        _cleanup_free_ char *path = NULL;
        const char *log_arg = NULL;
        AuditShowFilter filter;
        const char *since_arg = NULL, *until_arg = NULL;
        bool json = false, csv = false;
        int c, r;

        audit_show_filter_init(&filter);
        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                case 'u':
                        if (parse_user_time(optarg, c == 'u', c == 's' ? &filter.since : &filter.until) <
                            0) {
                                fprintf(stderr,
                                        _("kysoctl audit show: '%s' is not a date (YYYY-MM-DD) or time "
                                          "(YYYY-MM-DDTHH:MM:SS).\n"),
                                        optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        *(c == 's' ? &since_arg : &until_arg) = optarg;
                        break;
                case 'e':
                        filter.event = audit_event_type_from_string(optarg);
                        if (filter.event < 0) {
                                fprintf(stderr, _("kysoctl audit show: unknown event '%s'. Known events:"),
                                        optarg);
                                for (int i = 0; i < _AUDIT_EVENT_MAX; i++)
                                        fprintf(stderr, " %s", audit_event_type_to_string(i));
                                fprintf(stderr, "\n");
                                return KYSOCTL_EXIT_USAGE;
                        }
                        break;
                case 'c':
                        audit_fingerprint_normalize(optarg, filter.cert, sizeof(filter.cert));
                        if (isempty(filter.cert) ||
                            strspn(filter.cert, "0123456789abcdef") != strlen(filter.cert)) {
                                kysoctl_error(
                                        "audit show",
                                        _("'%s' is not the beginning of a SHA-256 fingerprint (hexadecimal "
                                          "digits, colons allowed), e.g. 3A:F2:1C.\n"),
                                        optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        break;
                case 'r':
                        if (sign_role_from_string(optarg) < 0) {
                                kysoctl_error(
                                        "audit show",
                                        _("unknown role '%s'. Roles: approve, issue, copy, appendix, "
                                          "personal.\n"),
                                        optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        filter.role = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'C':
                        csv = true;
                        break;
                default:
                        r = shared_option(c, &log_arg, show_help);
                        if (r >= 0)
                                return r;
                }
        if (filter.since >= filter.until) {
                kysoctl_error(
                        "audit show", _("--since %s is not before --until %s: no time is in between.\n"),
                        since_arg, until_arg);
                return KYSOCTL_EXIT_USAGE;
        }
        if (json && csv)
                kysoctl_error("audit show", _("--json and --csv cannot be given together.\n"));
        if (unexpected_argument("audit show", argc, argv) || (json && csv)) {
                show_help();
                return KYSOCTL_EXIT_USAGE;
        }

        _cleanup_(audit_reader_freep) AuditReader *reader = NULL;
        r = open_log("audit show", log_arg, &path, &reader);
        if (r != KYSOCTL_EXIT_OK)
                return r;

        r = window_select(reader, filter.since, filter.until);
        if (r < 0) {
                read_error("audit show", path, r);
                return KYSOCTL_EXIT_INTERNAL;
        }

        uint64_t bad = 0;
        r = audit_show(
                reader, &filter,
                json  ? AUDIT_SHOW_JSON
                : csv ? AUDIT_SHOW_CSV
                      : AUDIT_SHOW_TABLE,
                stdout, stderr, &bad);
        if (r < 0) {
                read_error("audit show", path, r);
                return KYSOCTL_EXIT_INTERNAL;
        }
        if (bad > 0) {
                kysoctl_error(
                        "audit show",
                        _("%" PRIu64 " lines could not be read. Run 'kysoctl audit verify' for what is "
                          "wrong.\n"),
                        bad);
                return KYSOCTL_EXIT_REFUSED;
        }
        return KYSOCTL_EXIT_OK;
}

/* Says why the journal's copy of the log (export_file, else the journal files in directory, else the local
 * journal) could not be compared with the log at path (r, from audit_journal_head_for_verify()). */
static void journal_error(const char *export_file, const char *directory, const char *path, int r) {
        if (export_file && r == -ENODATA)
                kysoctl_error(
                        "audit verify",
                        _("%s has no entry of the audit log %s, so its end cannot be compared. Make the file "
                          "on the machine that wrote the log, with 'journalctl -o export "
                          "SYSLOG_IDENTIFIER=kyso-audit'.\n"),
                        export_file, path);
        else if (export_file && r == -EBADMSG)
                kysoctl_error(
                        "audit verify",
                        _("%s is not a journal export. Make it with 'journalctl -o export "
                          "SYSLOG_IDENTIFIER=kyso-audit' on the machine that wrote the log.\n"),
                        export_file);
        else if (export_file)
                kysoctl_error(
                        "audit verify", _("cannot read the journal export %s: %s\n"), export_file,
                        strerror(-r));
        else if (directory && r == -ENODATA)
                kysoctl_error(
                        "audit verify",
                        _("the journal files in %s have no entry of the audit log %s, so its end cannot be "
                          "compared. Does the folder hold the journal files (*.journal) of the machine that "
                          "wrote the log?\n"),
                        directory, path);
        else if (directory)
                kysoctl_error(
                        "audit verify", _("cannot read the journal files in %s: %s\n"), directory,
                        strerror(-r));
        else if (r == -ENODATA)
                kysoctl_error(
                        "audit verify",
                        _("the journal has no record of the audit log %s, so its end cannot be compared. Is "
                          "journald running and keeping the journal (Storage=persistent)?\n"),
                        path);
        else
                kysoctl_error("audit verify", _("cannot read the journal: %s\n"), strerror(-r));
}

static void verify_help(void) {
        printf(_(
                "Usage: kysoctl audit verify [--journal] [--journal-directory DIR] [--journal-export FILE]\n"
                "                            [--json] [--log PATH]\n"
                "Checks the audit log's hash chain over all its files. Exit 0 only when it is intact.\n"
                "Without --journal a cut-off end or a changed last record cannot be seen.\n"
                "--journal compares the end of the log with the journal's copy (the entry of the largest\n"
                "sequence number of this log); --journal-directory does the same with journal files in DIR\n"
                "(e.g. collected with systemd-journal-remote), --journal-export with 'journalctl -o export'\n"
                "output.\n"));
        kysoctl_verbose_help();
}

static int verb_verify_log(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", no_argument, NULL, 'J' },
                { "journal-directory", required_argument, NULL, 'D' },
                { "journal-export", required_argument, NULL, 'E' },
                { "json", no_argument, NULL, 'j' },
                { "log", required_argument, NULL, 'l' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_free_ char *path = NULL;
        const char *log_arg = NULL, *export = NULL, *journal_dir = NULL;
        bool journal = false, json = false;
        AuditJournalHead head = {};
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'J':
                        journal = true;
                        break;
                case 'E':
                        export = optarg;
                        break;
                case 'D':
                        journal_dir = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                default:
                        r = shared_option(c, &log_arg, verify_help);
                        if (r >= 0)
                                return r;
                }
        if (unexpected_argument("audit verify", argc, argv)) {
                verify_help();
                return KYSOCTL_EXIT_USAGE;
        }
        if (log_path("audit verify", log_arg, &path) < 0)
                return KYSOCTL_EXIT_INTERNAL;

        if (journal || export || journal_dir) {
                r = audit_journal_head_for_verify(journal_dir, export, path, &head);
                if (r < 0) {
                        journal_error(export, journal_dir, path, r);
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }

        _cleanup_(audit_reader_freep) AuditReader *reader = NULL;
        r = open_reader("audit verify", path, &reader);
        if (r == -ENOENT && head.present) {
                kysoctl_error(
                        "audit verify",
                        _("The audit log %s is gone, but the journal saw records up to seq %" PRIu64 ".\n"),
                        path, head.seq);
                return KYSOCTL_EXIT_REFUSED;
        }
        if (r < 0)
                return r == -ENOENT ? KYSOCTL_EXIT_REFUSED : KYSOCTL_EXIT_INTERNAL;

        AuditVerifyResult res;
        r = audit_verify(reader, head.present ? &head : NULL, &res);
        if (r < 0) {
                read_error("audit verify", path, r);
                audit_verify_result_done(&res);
                return KYSOCTL_EXIT_INTERNAL;
        }
        _cleanup_strv_free_ char **pending = pending_quarantines(path);
        if (json) {
                json_object *o = json_object_new_object();
                json_object *pa = json_object_new_array();
                for (size_t i = 0; pending && pending[i]; i++)
                        json_object_array_add(pa, json_object_new_string(pending[i]));
                json_object_object_add(o, "pending_quarantine", pa);
                json_object_object_add(o, "intact", json_object_new_boolean(r == 0));
                json_object_object_add(
                        o, "problem", json_object_new_string(audit_problem_to_string(res.problem)));
                if (r > 0) {
                        json_object_object_add(
                                o, "file", res.file ? json_object_new_string(res.file) : NULL);
                        json_object_object_add(o, "line", json_object_new_int64((int64_t) res.line));
                        json_object_object_add(o, "seq", json_object_new_int64((int64_t) res.seq));
                        json_object_object_add(o, "message", json_object_new_string(strempty(res.message)));
                }
                json_object_object_add(o, "records", json_object_new_int64((int64_t) res.records));
                json_object_object_add(o, "files", json_object_new_int64(res.files));
                json_object_object_add(o, "last_seq", json_object_new_int64((int64_t) res.last_seq));
                json_object_object_add(o, "last_hash", json_object_new_string(res.last_hash));
                json_object_object_add(
                        o, "time_backwards", json_object_new_int64((int64_t) res.time_backwards));
                json_object_object_add(
                        o, "torn_tail_recoveries", json_object_new_int64((int64_t) res.torn_recoveries));
                json_object_object_add(o, "rotations", json_object_new_int64((int64_t) res.rotations));
                json_object_object_add(o, "recovered", json_object_new_int64((int64_t) res.recovered));
                json_object_object_add(o, "chain", res.chain[0] ? json_object_new_string(res.chain) : NULL);
                json_object_object_add(
                        o, "records_missing", json_object_new_int64((int64_t) res.records_missing));
                json_object_object_add(
                        o, "journal_seq", head.present ? json_object_new_int64((int64_t) head.seq) : NULL);
                json_object_object_add(
                        o, "journal_file",
                        head.present && head.file[0] ? json_object_new_string(head.file) : NULL);
                printf("%s\n", json_object_to_json_string_ext(
                                       o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (r == 0) {
                if (res.records == 0)
                        printf(_("The audit log is intact and empty: no record yet, file(s): %u.\n"),
                               res.files);
                else
                        printf(_("The audit log is intact: %" PRIu64 " records (seq %" PRIu64 " to %" PRIu64
                                 "), file(s): %u.\n"),
                               res.records, res.first_seq, res.last_seq, res.files);
                if (res.records > 0)
                        printf(_("Last record's hash: %s\n"), res.last_hash);
                if (head.present)
                        printf(_("The journal's newest record (seq %" PRIu64 ") matches.\n"), head.seq);
                if (head.present && head.file[0] && !streq(head.file, path))
                        /* Found by the log's chain: a copy, or a log collected from a desk. */
                        printf(_("The journal saw this log at %s.\n"), head.file);
                if (res.torn_recoveries > 0)
                        printf(_("Note: unfinished records left by crashes were moved to quarantine files %" PRIu64
                                 " time(s) (see the log-torn-tail records).\n"),
                               res.torn_recoveries);
                if (res.recovered > 0 && !head.present)
                        printf(_("Note: %" PRIu64
                                 " time(s) the agent found the active file empty or gone and went "
                                 "on from the newest archive (see the log-rotated records with reason "
                                 "\"recovered\"): a crash while rotating, or a deleted file. Run 'kysoctl audit "
                                 "verify --journal' to tell.\n"),
                               res.recovered);
                if (res.time_backwards > 0)
                        printf(_("Note: the clock went backwards %" PRIu64 " time(s). %s\n"),
                               res.time_backwards, strempty(res.time_warning));
                for (size_t i = 0; pending && pending[i]; i++)
                        printf(_("Note: %s holds the unfinished end of the log from a crash; the log does not "
                                 "record it yet. The agent records it when it next starts; keep the file.\n"),
                               pending[i]);
        } else {
                printf(_("The audit log is NOT intact.\n%s\n"), strempty(res.message));
                if (res.file && res.seq == 0) /* a line that is not a record has no seq */
                        printf(_("First bad line: %s, line %" PRIu64 ".\n"), res.file, res.line);
                else if (res.file)
                        printf(_("First bad record: %s, line %" PRIu64 ", seq %" PRIu64 ".\n"), res.file,
                               res.line, res.seq);
                if (res.problem == AUDIT_PROBLEM_RECORDS_MISSING)
                        printf(_("The %" PRIu64
                                 " records the log has are intact; the missing ones are not in "
                                 "it. Keep the files and the journal as they are for the auditors.\n"),
                               res.records);
                else
                        printf(_("Records before it: %" PRIu64
                                 ", intact. Keep the files as they are for the "
                                 "auditors.\n"),
                               res.records);
                if (res.problem != AUDIT_PROBLEM_RECORDS_MISSING && res.missing_message)
                        printf(_("Also: %s\n"), res.missing_message);
        }
        audit_verify_result_done(&res);
        return r == 0 ? KYSOCTL_EXIT_OK : KYSOCTL_EXIT_REFUSED;
}

typedef struct VerifyJob {
        const char *path;
        AuditVerifyResult res;
        int r; /* audit_verify()'s */
} VerifyJob;

static void *verify_job(void *userdata) {
        VerifyJob *job = userdata;
        AuditReader *reader = NULL;

        job->res = (AuditVerifyResult){};
        job->r = audit_reader_open(job->path, &reader);
        if (job->r >= 0)
                job->r = audit_verify(reader, NULL, &job->res);
        audit_reader_free(reader);
        return NULL;
}

/* When the log at path begins: the time of the first record of its first file (*ret_ms), 0 when it cannot be
 * read (verify says why). */
static int log_begins(const char *path, int64_t *ret_ms) {
        _cleanup_strv_free_ char **files = NULL;
        char buf[4096];
        AuditRecordHead h;

        int r = audit_chain_files(path, &files, NULL);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(files[0], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        ssize_t n = pread(fd, buf, sizeof(buf), 0);
        if (n < 0)
                return negative_errno();
        const char *nl = memchr(buf, '\n', (size_t) n);
        if (!nl || audit_record_scan(buf, (size_t) (nl - buf), &h, NULL) < 0)
                return -EBADMSG;
        *ret_ms = audit_record_time_ms(&h);
        return 0;
}

static void report_help(void) {
        printf(_(
                "Usage: kysoctl audit report --month YYYY-MM | --year YYYY [--format text|html|csv]\n"
                "                            [--org NAME] [--place PLACE] [--addressee NAME]... [--signer-title T]\n"
                "                            [--policy FILE] [--holidays FILE] [--gov-ca PATTERN]... [--log PATH]\n"
                "Builds the periodic report of Article 17 (in Vietnamese): monthly from the 15th of the\n"
                "previous month to the 14th, annual from 15 December to 14 December, Vietnam time.\n"
                "The organisation, place, addressees and signer's title come from the policy's [report]\n"
                "section unless given here.\n"));
        kysoctl_verbose_help();
}

static int verb_report(int argc, char **argv) {
        static const struct option options[] = {
                { "month", required_argument, NULL, 'm' },
                { "year", required_argument, NULL, 'y' },
                { "format", required_argument, NULL, 'f' },
                { "org", required_argument, NULL, 'o' },
                { "place", required_argument, NULL, 'P' },
                { "addressee", required_argument, NULL, 'A' },
                { "signer-title", required_argument, NULL, 'S' },
                { "policy", required_argument, NULL, 'p' },
                { "holidays", required_argument, NULL, 'H' },
                { "gov-ca", required_argument, NULL, 'g' },
                { "log", required_argument, NULL, 'l' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_free_ char *path = NULL;
        _cleanup_strv_free_ char **gov = NULL, **addressees = NULL;
        const char *log_arg = NULL, *format = "text", *org = NULL, *holidays_file = NULL, *place = NULL,
                   *signer_title = NULL, *policy_arg = NULL;
        int year = 0;
        unsigned month = 0;
        bool annual = false, month_given = false, year_given = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'm': {
                        char tail;
                        if (sscanf(optarg, "%4d-%2u%c", &year, &month, &tail) != 2 || strlen(optarg) != 7 ||
                            month < 1 || month > 12 || year < 1970) {
                                fprintf(stderr,
                                        _("kysoctl audit report: --month takes YYYY-MM, e.g. 2026-11.\n"));
                                return KYSOCTL_EXIT_USAGE;
                        }
                        annual = false;
                        month_given = true;
                        break;
                }
                case 'y': {
                        char tail;
                        if (sscanf(optarg, "%4d%c", &year, &tail) != 1 || strlen(optarg) != 4 ||
                            year < 1971) {
                                fprintf(stderr, _("kysoctl audit report: --year takes YYYY, e.g. 2026.\n"));
                                return KYSOCTL_EXIT_USAGE;
                        }
                        annual = true;
                        year_given = true;
                        break;
                }
                case 'f':
                        format = optarg;
                        if (!streq(format, "text") && !streq(format, "html") && !streq(format, "csv")) {
                                fprintf(stderr, _("kysoctl audit report: --format is text, html or csv.\n"));
                                return KYSOCTL_EXIT_USAGE;
                        }
                        break;
                case 'o':
                        org = optarg;
                        break;
                case 'P':
                        place = optarg;
                        break;
                case 'A':
                        if (strv_extend(&addressees, optarg) < 0)
                                return KYSOCTL_EXIT_INTERNAL;
                        break;
                case 'S':
                        signer_title = optarg;
                        break;
                case 'p':
                        policy_arg = optarg;
                        break;
                case 'H':
                        holidays_file = optarg;
                        break;
                case 'g':
                        if (strv_extend(&gov, optarg) < 0)
                                return KYSOCTL_EXIT_INTERNAL;
                        break;
                default:
                        r = shared_option(c, &log_arg, report_help);
                        if (r >= 0)
                                return r;
                }
        if (month_given && year_given) {
                kysoctl_error(
                        "audit report",
                        _("--month and --year cannot be given together: a report covers a month or a "
                          "year.\n"));
                return KYSOCTL_EXIT_USAGE;
        }
        if (unexpected_argument("audit report", argc, argv) || year == 0) {
                report_help();
                return KYSOCTL_EXIT_USAGE;
        }

        _cleanup_(audit_holidays_freep) AuditHolidays *holidays = NULL;
        if (!holidays_file && access(SYSCONFDIR "/kyso/holidays", R_OK) == 0)
                holidays_file = SYSCONFDIR "/kyso/holidays";
        if (holidays_file) {
                unsigned bad_line = 0;
                r = audit_holidays_load(holidays_file, &holidays, &bad_line);
                if (r == -EBADMSG) {
                        fprintf(stderr,
                                _("kysoctl audit report: %s, line %u: not a date. Write one YYYY-MM-DD (or "
                                  "*-MM-DD for every year) per line.\n"),
                                holidays_file, bad_line);
                        return KYSOCTL_EXIT_USAGE;
                }
                if (r == -ENOENT) {
                        fprintf(stderr,
                                _("kysoctl audit report: there is no holidays file %s. Check the path, or make "
                                  "one from %s and list this year's holidays in it (see HOLIDAYS FILE in "
                                  "kysoctl-audit(1)).\n"),
                                holidays_file, DATADIR "/kyso/holidays-vn.example");
                        return KYSOCTL_EXIT_INTERNAL;
                }
                if (r < 0) {
                        fprintf(stderr, _("kysoctl audit report: cannot read %s: %s\n"), holidays_file,
                                strerror(-r));
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }
        /* Who reports, from where, to whom: the policy's [report], each part unless given on the command
         * line. The report needs no policy: without one (or an unreadable default) its parts stay dots. */
        _cleanup_(policy_freep) Policy *policy = NULL;
        _cleanup_strv_free_ char **policy_errors = NULL;
        const char *pp = policy_arg ?: policy_tools_path();
        /* policy_load() calls a missing file invalid (the agent needs one); an auditor's machine may
         * have none, and the default policy is optional here. */
        if (!policy_arg && access(pp, F_OK) < 0 && errno == ENOENT)
                r = -ENOENT;
        else
                r = policy_load(pp, policy_tools_flags(), &policy, &policy_errors);
        if (r < 0 && policy_arg) {
                STRV_FOREACH (e, policy_errors)
                        kysoctl_error("audit report", "%s\n", *e);
                kysoctl_error(
                        "audit report",
                        _("Cannot read the policy %s (%s). Check it with 'kysoctl policy check'.\n"), pp,
                        kysoctl_policy_failure(pp, r));
                return KYSOCTL_EXIT_USAGE;
        }
        if (r < 0 && r != -ENOENT)
                kysoctl_error(
                        "audit report",
                        _("Warning: the policy %s cannot be read (%s); its [report] section is not used.\n"),
                        pp, kysoctl_policy_failure(pp, r));
        if (policy) {
                org = org ?: policy->report_organization;
                place = place ?: policy->report_place;
                signer_title = signer_title ?: policy->report_signer_title;
                if (!addressees && policy->report_addressees &&
                    !(addressees = strv_from_array(
                              (const char *const *) policy->report_addressees,
                              strv_length(policy->report_addressees))))
                        return KYSOCTL_EXIT_INTERNAL;
        }

        AuditReportWindow w;
        r = annual ? audit_report_window_year(year, holidays, &w)
                   : audit_report_window_month(year, month, holidays, &w);
        if (r < 0) {
                kysoctl_error("audit report", _("a report covers a period up to the year 9998.\n"));
                return KYSOCTL_EXIT_USAGE;
        }

        /* Made before the period's end (to see how it goes), the report counts what is recorded so far. */
        struct timespec now;
        if (clock_gettime(CLOCK_REALTIME, &now) == 0 &&
            (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000 < w.end_ms)
                kysoctl_error(
                        "audit report",
                        _("Warning: the period runs until %02u/%02u/%04d (Vietnam time) and is not over: the "
                          "figures are those recorded so far. Make the report again after that day.\n"),
                        w.last.day, w.last.month, w.last.year);

        _cleanup_(audit_reader_freep) AuditReader *reader = NULL;
        r = open_log("audit report", log_arg, &path, &reader);
        if (r != KYSOCTL_EXIT_OK)
                return r;
        /* The report says whether the log it comes from is intact: verify reads the whole chain, on
         * another thread, while this one finds the window (bisection) and gathers its figures. */
        VerifyJob job = { .path = path };
        pthread_t thread;
        bool threaded = pthread_create(&thread, NULL, verify_job, &job) == 0;
        if (!threaded)
                verify_job(&job);

        _cleanup_(audit_report_freep) AuditReport *rep = NULL;
        r = window_select(reader, w.start_ms, w.end_ms);
        if (r >= 0)
                r = audit_report_build(
                        reader, &w,
                        &(AuditReportOptions){ .org = org,
                                               .place = place,
                                               .addressees = (const char *const *) addressees,
                                               .signer_title = signer_title,
                                               .gov_ca_patterns = (const char *const *) gov },
                        &rep);
        if (threaded)
                (void) pthread_join(thread, NULL);
        int v = job.r;
        if (r < 0) {
                audit_verify_result_done(&job.res);
                read_error("audit report", path, r);
                return KYSOCTL_EXIT_INTERNAL;
        }

        _cleanup_free_ char *integrity = NULL;
        if (v == 0)
                r = asprintf(
                        &integrity,
                        "đã kiểm tra chuỗi băm, toàn vẹn (%" PRIu64 " bản ghi, số thứ tự %" PRIu64
                        " đến %" PRIu64 ").",
                        job.res.records, job.res.first_seq, job.res.last_seq);
        else
                r = asprintf(
                        &integrity, "KHÔNG TOÀN VẸN, số liệu có thể không đầy đủ: %s",
                        strempty(job.res.message));
        if (r < 0)
                integrity = NULL;
        /* A log that begins within the period (the agent installed then, or the log started again): the
         * time before is not a time without signatures. */
        int64_t begins;
        if (integrity && log_begins(path, &begins) >= 0 && begins > w.start_ms) {
                char when[32];
                time_t t = (time_t) ((begins + AUDIT_VN_UTC_OFFSET_MS) / 1000);
                struct tm tm;
                if (gmtime_r(&t, &tm) && strftime(when, sizeof(when), "%d/%m/%Y %H:%M", &tm) > 0) {
                        char *with = NULL;
                        if (asprintf(
                                    &with,
                                    "%s Nhật ký bắt đầu từ %s (giờ Việt Nam), sau ngày đầu kỳ báo cáo: số liệu "
                                    "không gồm thời gian trước đó.",
                                    integrity, when) >= 0) {
                                free(integrity);
                                integrity = with;
                        }
                        kysoctl_error(
                                "audit report",
                                _("Warning: the log begins on %s (Vietnam time), after the period began: the "
                                  "report does not cover the time before.\n"),
                                when);
                }
        }
        if (v != 0)
                kysoctl_error(
                        "audit report",
                        _("Warning: the audit log is not intact (%s). The report says so; run 'kysoctl audit "
                          "verify'.\n"),
                        v > 0 ? strempty(job.res.message) : strerror(-v));
        audit_verify_result_done(&job.res);
        if (integrity && audit_report_set_integrity(rep, integrity) < 0)
                return KYSOCTL_EXIT_INTERNAL;
        uint64_t bad = audit_report_n_bad_records(rep);
        if (bad > 0)
                kysoctl_error(
                        "audit report",
                        _("Warning: %" PRIu64
                          " line(s) of the log could not be read and are left out of the "
                          "figures. The report says so; run 'kysoctl audit show' for which.\n"),
                        bad);

        r = streq(format, "html")  ? audit_report_write_html(rep, stdout)
            : streq(format, "csv") ? audit_report_write_csv(rep, stdout)
                                   : audit_report_write_text(rep, stdout);
        /* A write error is reported by main(), as for the other verbs. */
        if (r < 0 && !ferror(stdout)) {
                kysoctl_error("audit report", "%s\n", strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        return v == 0 && bad == 0 ? KYSOCTL_EXIT_OK : KYSOCTL_EXIT_REFUSED;
}

static void help(void) {
        printf(_(
                "Usage: kysoctl audit COMMAND [OPTIONS]\n\n"
                "Commands:\n"
                "  show     Show the records [--since D] [--until D] [--event E] [--cert FPR] [--role R] "
                "[--json|--csv]\n"
                "  verify   Check the hash chain [--journal]\n"
                "  report   The Article 17 report --month YYYY-MM | --year YYYY [--format text|html|csv]\n\n"
                "The log is $KYSO_AUDIT_LOG, else $XDG_STATE_HOME/kyso/audit.jsonl; --log PATH names another.\n"
                "See kysoctl-audit(1).\n"));
}

int verb_audit(int argc, char **argv) {
        int exit_code;
        if (kysoctl_help_wanted(argc, argv, help, &exit_code))
                return exit_code;
        static const struct {
                const char *name, *full;
                int (*run)(int argc, char **argv);
        } subs[] = {
                { "show", "kysoctl audit show", verb_show },
                { "verify", "kysoctl audit verify", verb_verify_log },
                { "report", "kysoctl audit report", verb_report },
        };
        for (size_t i = 0; i < ELEMENTSOF(subs); i++)
                if (streq(argv[1], subs[i].name)) {
                        /* getopt's messages name argv[0]. */
                        argv[1] = (char *) subs[i].full;
                        /* main() says when the output could not be written (a full disk). */
                        return subs[i].run(argc - 1, argv + 1);
                }
        fprintf(stderr, _("kysoctl audit: unknown command '%s'. Run 'kysoctl audit --help'.\n"), argv[1]);
        return KYSOCTL_EXIT_USAGE;
}
