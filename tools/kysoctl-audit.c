/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl audit show | verify | report: reads the audit log files directly, no agent needed. */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

#include "audit/audit-events.h"
#include "audit/audit-log.h"
#include "audit/audit-reader.h"
#include "audit/audit-record.h"
#include "audit/audit-report.h"
#include "audit/audit-verify.h"
#include "config.h"
#include "i18n.h"
#include "kysoctl.h"
#include "macro.h"

static int log_path(const char *arg, char **ret) {
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
                fprintf(stderr,
                        _("kysoctl audit: cannot tell where the audit log is (HOME is not set). Use --log "
                          "PATH.\n"));
        return r;
}

static int open_reader(const char *path, AuditReader **ret) {
        int r = audit_reader_open(path, ret);
        if (r == -ENOENT)
                fprintf(stderr,
                        _("kysoctl audit: there is no audit log at %s. Use --log PATH or KYSO_AUDIT_LOG to "
                          "name another one.\n"),
                        path);
        else if (r < 0)
                fprintf(stderr, _("kysoctl audit: cannot read the audit log %s: %s\n"), path, strerror(-r));
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

static const char *jget(json_object *o, const char *a, const char *b) {
        json_object *v;
        if (!json_object_object_get_ex(o, a, &v))
                return NULL;
        if (b && (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, b, &v)))
                return NULL;
        if (json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        return NULL;
}

static int64_t jint(json_object *o, const char *a, const char *b) {
        json_object *v;
        if (!json_object_object_get_ex(o, a, &v))
                return -1;
        if (b && (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, b, &v)))
                return -1;
        return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

/* Prints s in a column of width characters (UTF-8 aware; Vietnamese letters are one column wide). */
static void cell(const char *s, unsigned width, bool last) {
        unsigned cols = 0;
        s = strempty(s);
        const char *p = s;
        for (; *p; p++) {
                if (((unsigned char) *p & 0xc0) == 0x80)
                        continue;
                if (!last && cols == width - 1 && strlen(p) > 0) {
                        /* Does the rest fit? Count remaining characters. */
                        unsigned rest = 0;
                        for (const char *q = p; *q; q++)
                                if (((unsigned char) *q & 0xc0) != 0x80)
                                        rest++;
                        if (rest > 1)
                                break;
                }
                if (!last && cols >= width)
                        break;
                cols++;
        }
        bool cut = *p != '\0';
        /* Control characters (newlines, terminal escapes) from the log never reach the terminal raw. */
        for (const char *q = s; q < p; q++)
                fputc((unsigned char) *q < 0x20 || *q == 0x7f ? '?' : *q, stdout);
        if (cut) {
                fputs("…", stdout);
                cols++;
        }
        if (!last)
                for (; cols < width + 1; cols++)
                        fputc(' ', stdout);
}

static void csv_field(const char *s) {
        s = strempty(s);
        bool guard = s[0] && strchr("=+-@\t\r", s[0]);
        if (!guard && !strpbrk(s, ",\"\r\n")) {
                fputs(s, stdout);
                return;
        }
        fputc('"', stdout);
        if (guard)
                fputc('\'', stdout); /* keeps spreadsheets from running it as a formula */
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', stdout);
                fputc(*s, stdout);
        }
        fputc('"', stdout);
}

static const char *const csv_columns[][3] = {
        { "seq", NULL, NULL },
        { "time", NULL, NULL },
        { "event", NULL, NULL },
        { "caller_uid", "caller", "uid" },
        { "caller_pid", "caller", "pid" },
        { "caller_exe", "caller", "exe" },
        { "document", "document", "name" },
        { "sha256_before", "document", "sha256_before" },
        { "sha256_after", "document", "sha256_after" },
        { "cert_subject", "cert", "subject" },
        { "cert_issuer", "cert", "issuer" },
        { "cert_serial", "cert", "serial" },
        { "cert_fingerprint", "cert", "fingerprint" },
        { "cert_kind", "cert", "kind" },
        { "token", "token", "label" },
        { "role", "role", NULL },
        { "decision", "decision", NULL },
        { "reason", "reason", NULL },
        { "article", "article", NULL },
        { "timestamp_time", "timestamp_time", NULL },
        { "error", "error", NULL },
        { "message", "message", NULL },
};

static void normalize_fpr(const char *in, char *out, size_t n) {
        size_t k = 0;
        for (; *in && k + 1 < n; in++)
                if (*in != ':' && *in != ' ')
                        out[k++] = (char) tolower((unsigned char) *in);
        out[k] = '\0';
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
        const char *log_arg = NULL, *role = NULL;
        int64_t since = INT64_MIN, until = INT64_MAX;
        AuditEventType event = _AUDIT_EVENT_INVALID;
        char cert[130] = {};
        bool json = false, csv = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                case 'u':
                        if (parse_user_time(optarg, c == 'u', c == 's' ? &since : &until) < 0) {
                                fprintf(stderr,
                                        _("kysoctl audit show: '%s' is not a date (YYYY-MM-DD) or time "
                                          "(YYYY-MM-DDTHH:MM:SS).\n"),
                                        optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        break;
                case 'e':
                        event = audit_event_type_from_string(optarg);
                        if (event < 0) {
                                fprintf(stderr, _("kysoctl audit show: unknown event '%s'. Known events:"),
                                        optarg);
                                for (int i = 0; i < _AUDIT_EVENT_MAX; i++)
                                        fprintf(stderr, " %s", audit_event_type_to_string(i));
                                fprintf(stderr, "\n");
                                return KYSOCTL_EXIT_USAGE;
                        }
                        break;
                case 'c':
                        normalize_fpr(optarg, cert, sizeof(cert));
                        break;
                case 'r':
                        role = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'C':
                        csv = true;
                        break;
                case 'l':
                        log_arg = optarg;
                        break;
                case 'h':
                        show_help();
                        return KYSOCTL_EXIT_OK;
                default:
                        show_help();
                        return KYSOCTL_EXIT_USAGE;
                }
        if (optind < argc || (json && csv)) {
                show_help();
                return KYSOCTL_EXIT_USAGE;
        }

        if (log_path(log_arg, &path) < 0)
                return KYSOCTL_EXIT_INTERNAL;
        _cleanup_(audit_reader_freep) AuditReader *reader = NULL;
        r = open_reader(path, &reader);
        if (r < 0)
                return r == -ENOENT ? KYSOCTL_EXIT_REFUSED : KYSOCTL_EXIT_INTERNAL;

        json_tokener *tok = json_tokener_new();
        if (!tok)
                return KYSOCTL_EXIT_INTERNAL;
        uint64_t shown = 0, bad = 0;
        AuditLine line;

        if (csv) {
                for (size_t i = 0; i < ELEMENTSOF(csv_columns); i++)
                        printf("%s%s", i ? "," : "", csv_columns[i][0]);
                printf("\r\n");
        } else if (json)
                printf("[");
        else {
                cell(_("SEQ"), 6, false);
                cell(_("TIME (UTC)"), 24, false);
                cell(_("EVENT"), 14, false);
                cell(_("ROLE"), 9, false);
                cell(_("CERTIFICATE"), 24, false);
                cell(_("DOCUMENT"), 24, false);
                cell(_("DETAILS"), 0, true);
                printf("\n");
        }

        for (;;) {
                AuditRecordHead h;
                const char *what = NULL;
                r = audit_reader_next(reader, &line);
                if (r == 0)
                        break;
                if (r == -E2BIG) {
                        fprintf(stderr,
                                _("%s, line %" PRIu64 ": longer than %u bytes, not a record; skipped.\n"),
                                audit_reader_get_file(reader, line.file_index), line.line_number,
                                AUDIT_LINE_MAX);
                        bad++;
                        continue;
                }
                if (r < 0) {
                        fprintf(stderr, _("kysoctl audit: cannot read the audit log: %s\n"), strerror(-r));
                        json_tokener_free(tok);
                        return KYSOCTL_EXIT_INTERNAL;
                }
                if (!line.terminated) {
                        fprintf(stderr,
                                _("%s, line %" PRIu64 ": unfinished record at the end of the file (a crash "
                                  "while writing); skipped.\n"),
                                audit_reader_get_file(reader, line.file_index), line.line_number);
                        bad++;
                        continue;
                }
                if (audit_record_scan(line.data, line.len, &h, &what) < 0) {
                        fprintf(stderr, _("%s, line %" PRIu64 ": not a kyso audit record (%s); skipped.\n"),
                                audit_reader_get_file(reader, line.file_index), line.line_number, what);
                        bad++;
                        continue;
                }
                json_tokener_reset(tok);
                json_object *o = json_tokener_parse_ex(tok, line.data, (int) line.len);
                if (!o || json_tokener_get_error(tok) != json_tokener_success ||
                    !json_object_is_type(o, json_type_object)) {
                        fprintf(stderr, _("%s, line %" PRIu64 ": not valid JSON; skipped.\n"),
                                audit_reader_get_file(reader, line.file_index), line.line_number);
                        json_object_put(o);
                        bad++;
                        continue;
                }

                char tb[AUDIT_TIME_LEN + 1];
                int64_t t = 0;
                memcpy(tb, h.time, AUDIT_TIME_LEN);
                tb[AUDIT_TIME_LEN] = '\0';
                (void) audit_parse_time(tb, &t);
                bool match = t >= since && t < until && (event < 0 || h.event == event) &&
                             (!role || streq_ptr(jget(o, "role", NULL), role));
                if (match && cert[0]) {
                        char f[130];
                        const char *fpr = jget(o, "cert", "fingerprint");
                        normalize_fpr(strempty(fpr), f, sizeof(f));
                        match = fpr && startswith(f, cert);
                }
                if (!match) {
                        json_object_put(o);
                        continue;
                }

                if (json) {
                        /* The record exactly as stored: stable, and what the hash covers. */
                        printf("%s\n", shown ? "," : "");
                        fwrite(line.data, 1, line.len, stdout);
                } else if (csv) {
                        for (size_t i = 0; i < ELEMENTSOF(csv_columns); i++) {
                                char num[32];
                                const char *v;
                                if (i > 0)
                                        fputc(',', stdout);
                                if (i == 0) {
                                        snprintf(num, sizeof(num), "%" PRIu64, h.seq);
                                        v = num;
                                } else if (i == 1)
                                        v = tb;
                                else if (i == 2)
                                        v = audit_event_type_to_string(h.event) ?: "";
                                else if (i == 3 || i == 4) {
                                        int64_t n = jint(o, csv_columns[i][1], csv_columns[i][2]);
                                        snprintf(num, sizeof(num), "%" PRId64, n);
                                        v = n >= 0 ? num : "";
                                } else
                                        v = jget(o, csv_columns[i][1], csv_columns[i][2]);
                                csv_field(v);
                        }
                        printf("\r\n");
                } else {
                        char seq[32], ev[80];
                        snprintf(seq, sizeof(seq), "%" PRIu64, h.seq);
                        snprintf(ev, sizeof(ev), "%.*s", (int) h.event_len, h.event_name);
                        const char *details = jget(o, "reason", NULL) ?: jget(o, "error", NULL)
                                                                               ?: jget(o, "message", NULL);
                        cell(seq, 6, false);
                        cell(tb, 24, false);
                        cell(ev, 14, false);
                        cell(jget(o, "role", NULL), 9, false);
                        cell(jget(o, "cert", "subject"), 24, false);
                        cell(jget(o, "document", "name"), 24, false);
                        cell(details, 0, true);
                        printf("\n");
                }
                shown++;
                json_object_put(o);
        }
        json_tokener_free(tok);
        if (json)
                printf("%s]\n", shown ? "\n" : "");
        if (bad > 0) {
                fprintf(stderr,
                        _("%" PRIu64 " lines could not be read. Run 'kysoctl audit verify' for what is "
                          "wrong.\n"),
                        bad);
                return KYSOCTL_EXIT_REFUSED;
        }
        return KYSOCTL_EXIT_OK;
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
}

static int verb_verify_log(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", no_argument, NULL, 'J' },
                { "journal-directory", required_argument, NULL, 'D' },
                { "journal-export", required_argument, NULL, 'E' },
                { "json", no_argument, NULL, 'j' },
                { "log", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_free_ char *path = NULL;
        const char *log_arg = NULL, *export = NULL, *journal_dir = NULL;
        bool journal = false, json = false;
        AuditJournalHead head = {};
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
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
                case 'l':
                        log_arg = optarg;
                        break;
                case 'h':
                        verify_help();
                        return KYSOCTL_EXIT_OK;
                default:
                        verify_help();
                        return KYSOCTL_EXIT_USAGE;
                }
        if (optind < argc) {
                verify_help();
                return KYSOCTL_EXIT_USAGE;
        }
        if (log_path(log_arg, &path) < 0)
                return KYSOCTL_EXIT_INTERNAL;

        if (journal || export || journal_dir) {
                r = export ? audit_journal_head_from_export(export, path, AUDIT_JOURNAL_HIGHEST, &head)
                           : audit_journal_head_read(journal_dir, path, AUDIT_JOURNAL_HIGHEST, &head);
                if (r < 0) {
                        if (r == -ENODATA)
                                fprintf(stderr,
                                        _("kysoctl audit verify: the journal has no record of the audit log "
                                          "%s, so its end cannot be compared. Is journald running and "
                                          "keeping the journal (Storage=persistent)?\n"),
                                        path);
                        else
                                fprintf(stderr, _("kysoctl audit verify: cannot read the journal: %s\n"),
                                        strerror(-r));
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }

        _cleanup_(audit_reader_freep) AuditReader *reader = NULL;
        r = open_reader(path, &reader);
        if (r == -ENOENT && head.present) {
                fprintf(stderr,
                        _("The audit log %s is gone, but the journal saw records up to seq %" PRIu64 ".\n"),
                        path, head.seq);
                return KYSOCTL_EXIT_REFUSED;
        }
        if (r < 0)
                return r == -ENOENT ? KYSOCTL_EXIT_REFUSED : KYSOCTL_EXIT_INTERNAL;

        AuditVerifyResult res;
        r = audit_verify(reader, head.present ? &head : NULL, &res);
        if (r < 0) {
                fprintf(stderr, _("kysoctl audit verify: %s\n"), strerror(-r));
                audit_verify_result_done(&res);
                return KYSOCTL_EXIT_INTERNAL;
        }
        if (json) {
                json_object *o = json_object_new_object();
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
                printf("%s\n", json_object_to_json_string_ext(
                                       o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (r == 0) {
                printf(_("The audit log is intact: %" PRIu64 " records (seq %" PRIu64 " to %" PRIu64
                         "), file(s): %u.\n"),
                       res.records, res.first_seq, res.last_seq, res.files);
                if (res.records > 0)
                        printf(_("Last record's hash: %s\n"), res.last_hash);
                if (head.present)
                        printf(_("The journal's newest record (seq %" PRIu64 ") matches.\n"), head.seq);
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
        } else {
                printf(_("The audit log is NOT intact.\n%s\n"), strempty(res.message));
                if (res.file)
                        printf(_("First bad record: %s, line %" PRIu64 ", seq %" PRIu64 ".\n"), res.file,
                               res.line, res.seq);
                printf(_("Records before it: %" PRIu64 ", intact. Keep the files as they are for the "
                         "auditors.\n"),
                       res.records);
                if (res.problem != AUDIT_PROBLEM_RECORDS_MISSING && res.missing_message)
                        printf(_("Also: %s\n"), res.missing_message);
        }
        audit_verify_result_done(&res);
        return r == 0 ? KYSOCTL_EXIT_OK : KYSOCTL_EXIT_REFUSED;
}

static void report_help(void) {
        printf(_(
                "Usage: kysoctl audit report --month YYYY-MM | --year YYYY [--format text|html|csv]\n"
                "                            [--org NAME] [--holidays FILE] [--gov-ca PATTERN]... [--log PATH]\n"
                "Builds the periodic report of Article 17 (in Vietnamese): monthly from the 15th of the\n"
                "previous month to the 14th, annual from 15 December to 14 December, Vietnam time.\n"));
}

static int verb_report(int argc, char **argv) {
        static const struct option options[] = {
                { "month", required_argument, NULL, 'm' },
                { "year", required_argument, NULL, 'y' },
                { "format", required_argument, NULL, 'f' },
                { "org", required_argument, NULL, 'o' },
                { "holidays", required_argument, NULL, 'H' },
                { "gov-ca", required_argument, NULL, 'g' },
                { "log", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_free_ char *path = NULL;
        _cleanup_strv_free_ char **gov = NULL;
        const char *log_arg = NULL, *format = "text", *org = NULL, *holidays_file = NULL;
        int year = 0;
        unsigned month = 0;
        bool annual = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
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
                case 'H':
                        holidays_file = optarg;
                        break;
                case 'g':
                        if (strv_extend(&gov, optarg) < 0)
                                return KYSOCTL_EXIT_INTERNAL;
                        break;
                case 'l':
                        log_arg = optarg;
                        break;
                case 'h':
                        report_help();
                        return KYSOCTL_EXIT_OK;
                default:
                        report_help();
                        return KYSOCTL_EXIT_USAGE;
                }
        if (optind < argc || year == 0) {
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
                if (r < 0) {
                        fprintf(stderr, _("kysoctl audit report: cannot read %s: %s\n"), holidays_file,
                                strerror(-r));
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }
        AuditReportWindow w;
        r = annual ? audit_report_window_year(year, holidays, &w)
                   : audit_report_window_month(year, month, holidays, &w);
        if (r < 0)
                return KYSOCTL_EXIT_USAGE;

        if (log_path(log_arg, &path) < 0)
                return KYSOCTL_EXIT_INTERNAL;

        /* The report says whether the log it comes from is intact. */
        _cleanup_(audit_reader_freep) AuditReader *reader = NULL;
        r = open_reader(path, &reader);
        if (r < 0)
                return r == -ENOENT ? KYSOCTL_EXIT_REFUSED : KYSOCTL_EXIT_INTERNAL;
        AuditVerifyResult res;
        int v = audit_verify(reader, NULL, &res);
        _cleanup_free_ char *integrity = NULL;
        if (v == 0)
                r = asprintf(
                        &integrity,
                        "đã kiểm tra chuỗi băm, toàn vẹn (%" PRIu64 " bản ghi, số thứ tự %" PRIu64
                        " đến %" PRIu64 ").",
                        res.records, res.first_seq, res.last_seq);
        else
                r = asprintf(
                        &integrity, "KHÔNG TOÀN VẸN, số liệu có thể không đầy đủ: %s",
                        strempty(res.message));
        if (r < 0)
                integrity = NULL;
        if (v != 0)
                fprintf(stderr,
                        _("Warning: the audit log is not intact (%s). The report says so; run 'kysoctl audit "
                          "verify'.\n"),
                        v > 0 ? strempty(res.message) : strerror(-v));
        audit_verify_result_done(&res);

        reader = audit_reader_free(reader);
        r = open_reader(path, &reader);
        if (r < 0)
                return KYSOCTL_EXIT_INTERNAL;
        AuditReportOptions o = { .org = org,
                                 .gov_ca_patterns = (const char *const *) gov,
                                 .integrity = integrity };
        _cleanup_(audit_report_freep) AuditReport *rep = NULL;
        r = audit_report_build(reader, &w, &o, &rep);
        if (r < 0) {
                fprintf(stderr, _("kysoctl audit report: %s\n"), strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        r = streq(format, "html")  ? audit_report_write_html(rep, stdout)
            : streq(format, "csv") ? audit_report_write_csv(rep, stdout)
                                   : audit_report_write_text(rep, stdout);
        if (r < 0 || fflush(stdout) != 0)
                return KYSOCTL_EXIT_INTERNAL;
        return v == 0 ? KYSOCTL_EXIT_OK : KYSOCTL_EXIT_REFUSED;
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
        i18n_setup();
        if (argc < 2) {
                help();
                return KYSOCTL_EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                help();
                return KYSOCTL_EXIT_OK;
        }
        if (streq(argv[1], "show"))
                return verb_show(argc - 1, argv + 1);
        if (streq(argv[1], "verify"))
                return verb_verify_log(argc - 1, argv + 1);
        if (streq(argv[1], "report"))
                return verb_report(argc - 1, argv + 1);
        fprintf(stderr, _("kysoctl audit: unknown command '%s'. Run 'kysoctl audit --help'.\n"), argv[1]);
        return KYSOCTL_EXIT_USAGE;
}
