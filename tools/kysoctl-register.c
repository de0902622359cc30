/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl certs --all / --export csv|json|html: the certificate register (Quy chế Điều 22.3). It reads the
 * register's file (certificates.json beside the audit log, which kysod keeps) rather than asking kysod, so
 * the administrator or an auditor needs no agent, as for 'kysoctl audit'. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "agent/cert-register.h"
#include "audit/audit-reader.h"
#include "audit/audit-report-certs.h"
#include "audit/audit-show.h"
#include "i18n.h"
#include "json-util.h"
#include "kysoctl.h"
#include "policy/policy.h"
#include "string-util.h"
#include "time-util.h"

typedef enum ExportFormat {
        EXPORT_NONE,
        EXPORT_CSV,
        EXPORT_JSON,
        EXPORT_HTML,
} ExportFormat;

bool certs_register_wanted(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--"))
                        break;
                if (streq(argv[i], "--all") || startswith(argv[i], "--export") ||
                    startswith(argv[i], "--register") || startswith(argv[i], "--log"))
                        return true;
        }
        return false;
}

static void help(void) {
        printf(_(
                "Usage: kysoctl certs --all [--json] [--register FILE | --log LOG...]\n"
                "       kysoctl certs --export csv|json|html [--organization NAME] [--register FILE | --log "
                "LOG...]\n\n"
                "Lists every certificate the agent has seen on a token (the certificate register, kept\n"
                "beside the audit log), or writes it for the ward's report. With --log (once per log) the\n"
                "register is built from collected audit logs instead. No agent is needed.\n"));
}

/* The register as the records of the logs tell it (each log with its archives, in order). Returns the exit
 * code: a log named on the command line that cannot be opened is the command line's mistake. */
static int register_from_logs(char **logs, CertRegister **ret) {
        _cleanup_(cert_register_freep) CertRegister *reg = cert_register_new(NULL);
        if (!reg)
                return KYSOCTL_EXIT_INTERNAL;
        STRV_FOREACH (l, logs) {
                _cleanup_(audit_reader_freep) AuditReader *rd = NULL;
                AuditLine line;
                size_t n_lines = 0, n_records = 0;
                int r = audit_reader_open(*l, &rd);
                if (r < 0) {
                        kysoctl_error("certs", _("cannot read the audit log %s: %s\n"), *l, strerror(-r));
                        return r == -ENOMEM ? KYSOCTL_EXIT_INTERNAL : KYSOCTL_EXIT_USAGE;
                }
                while ((r = audit_reader_next(rd, &line)) > 0) {
                        n_lines++;
                        /* A record is a JSON object, one a line. */
                        if (line.data && line.len > 0 && line.data[0] == '{')
                                n_records++;
                        if (line.data && cert_register_replay(reg, line.data, line.len) == -ENOMEM)
                                return KYSOCTL_EXIT_INTERNAL;
                }
                if (r < 0 && r != -E2BIG) {
                        kysoctl_error("certs", _("cannot read the audit log %s: %s\n"), *l, strerror(-r));
                        return KYSOCTL_EXIT_INTERNAL;
                }
                /* Another file named by mistake would give an empty register, as if no certificate was seen.
                 */
                if (n_lines > 0 && n_records == 0) {
                        kysoctl_error(
                                "certs", _("cannot read the audit log %s: %s\n"), *l,
                                _("not an audit log (no line is a record): check the file named with --log"));
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }
        *ret = TAKE_PTR(reg);
        return KYSOCTL_EXIT_OK;
}

typedef enum DateStyle {
        DATE_ISO,     /* 2027-01-31T00:00:00Z: CSV */
        DATE_DAY,     /* 2027-01-31: the table */
        DATE_VIETNAM, /* 31/01/2027: the HTML for the ward */
} DateStyle;

static void format_date(int64_t t, DateStyle style, char buf[static 32]) {
        buf[0] = '\0';
        if (t > 0)
                (void) utc_strftime(
                        buf, 32,
                        style == DATE_ISO   ? "%Y-%m-%dT%H:%M:%SZ"
                        : style == DATE_DAY ? "%Y-%m-%d"
                                            : "%d/%m/%Y",
                        t);
}

static const char *status_vi(const char *s) {
        static const struct {
                const char *status, *vi;
        } table[] = {
                { "valid", "Hợp lệ" },
                { "expiring", "Sắp hết hạn" },
                { "expired", "Hết hạn" },
                { "revoked", "Bị thu hồi" },
                { "renewed", "Đã gia hạn" },
                { "untrusted", "Không tin cậy" },
                { "not-yet-valid", "Chưa có hiệu lực" },
                { "unknown", "Chưa rõ" },
        };
        for (size_t i = 0; s && i < ELEMENTSOF(table); i++)
                if (streq(table[i].status, s))
                        return table[i].vi;
        return "Chưa kiểm tra";
}

/* audit_csv_field() keeps a leading =, +, - or @ from running as a spreadsheet formula. */
static void csv_field(FILE *f, const char *s, bool last) {
        audit_csv_field(f, s);
        fputs(last ? "\r\n" : ",", f);
}

static void export_csv(const CertRegister *r) {
        static const char *const header[] = { "holder",       "organization", "kind",       "status",
                                              "serial",       "issuer",       "subject",    "not_before",
                                              "not_after",    "first_seen",   "last_seen",  "token_label",
                                              "token_serial", "status_time",  "renewed_by", "fingerprint" };
        for (size_t i = 0; i < ELEMENTSOF(header); i++)
                csv_field(stdout, header[i], i + 1 == ELEMENTSOF(header));
        for (size_t i = 0; i < cert_register_size(r); i++) {
                const CertRegisterEntry *e = cert_register_get(r, i);
                char nb[32], na[32], fs[32], ls[32], st[32];
                const DateStyle iso = DATE_ISO;
                format_date(e->not_before, iso, nb);
                format_date(e->not_after, iso, na);
                format_date(e->first_seen, iso, fs);
                format_date(e->last_seen, iso, ls);
                format_date(e->status_time, iso, st);
                const char *row[] = { e->holder,
                                      e->organization,
                                      e->kind,
                                      e->status,
                                      e->serial,
                                      e->issuer,
                                      e->subject,
                                      nb,
                                      na,
                                      fs,
                                      ls,
                                      e->token_label,
                                      e->token_serial,
                                      st,
                                      e->renewed_by,
                                      e->fingerprint };
                for (size_t j = 0; j < ELEMENTSOF(row); j++)
                        csv_field(stdout, row[j], j + 1 == ELEMENTSOF(row));
        }
}

static int export_json(const CertRegister *r) {
        _cleanup_(json_object_putp) json_object *list = json_object_new_array();
        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < cert_register_size(r); i++) {
                json_object *o = cert_register_entry_to_json(cert_register_get(r, i));
                if (!o || json_object_array_add(list, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                /* The agent's bookkeeping of its notifications is not part of the register. */
                json_object_object_del(o, "warned_day");
                json_object_object_del(o, "warned_threshold");
                json_object_object_del(o, "warned_unusable");
        }
        puts(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

/* The organisation the register is sent for: --organization, else the first organisation of the policy's
 * [seal] rules (the ward's own seal), else none. */
static char *organization_name(const char *arg) {
        _cleanup_(policy_freep) Policy *p = NULL;
        if (arg)
                return strdup(arg);
        if (policy_load(policy_tools_path(), policy_tools_flags(), &p, NULL) < 0)
                return strdup("");
        for (size_t i = 0; i < p->n_seal_rules; i++)
                if (p->seal_rules[i].seal.organizations)
                        return strdup(p->seal_rules[i].seal.organizations[0]);
        return strdup("");
}

static void export_html(const CertRegister *r, const char *org) {
        static const struct {
                const char *kind, *heading;
        } groups[] = {
                { "personal", "Chứng thư số cá nhân" },
                { "organization", "Chứng thư số của cơ quan, tổ chức" },
                { "device", "Chứng thư số thiết bị" },
                { NULL, "Chứng thư số chưa phân loại" },
        };
        char today[32];
        format_date((int64_t) time(NULL), DATE_VIETNAM, today);
        fputs("<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<title>Danh sách chứng thư số</title>\n<style>\n"
              "body { font-family: \"Times New Roman\", serif; }\n"
              "table { border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }\n"
              "th, td { border: 1px solid #000; padding: 2px 4px; font-size: 11pt; }\n"
              "th { background: #eee; }\n.fp { font-family: monospace; font-size: 8pt; }\n"
              "</style>\n</head>\n<body>\n",
              stdout);
        fputs("<h1>Danh sách chứng thư số</h1>\n<p>Cơ quan, tổ chức: <strong>", stdout);
        fputs_html(stdout, org);
        printf("</strong><br>Ngày lập: %s<br>Căn cứ: Quy chế, Điều 22.3</p>\n", today);
        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                size_t n = 0;
                for (size_t i = 0; i < cert_register_size(r); i++) {
                        const CertRegisterEntry *e = cert_register_get(r, i);
                        bool known = false;
                        for (size_t k = 0; groups[k].kind; k++)
                                if (streq_ptr(e->kind, groups[k].kind))
                                        known = true;
                        if (groups[g].kind ? !streq_ptr(e->kind, groups[g].kind) : known)
                                continue;
                        if (n++ == 0) {
                                printf("<h2>%s</h2>\n<table>\n<tr><th>STT</th><th>Người sở hữu</th>"
                                       "<th>Cơ quan, tổ chức</th><th>Số hiệu</th><th>Tổ chức cấp</th>"
                                       "<th>Hiệu lực từ</th><th>Đến</th><th>Trạng thái</th>"
                                       "<th>Lần đầu thấy</th><th>Lần cuối thấy</th><th>Thiết bị lưu khóa</th>"
                                       "<th>Dấu vân tay SHA-256</th></tr>\n",
                                       groups[g].heading);
                        }
                        char nb[32], na[32], fs[32], ls[32];
                        format_date(e->not_before, DATE_VIETNAM, nb);
                        format_date(e->not_after, DATE_VIETNAM, na);
                        format_date(e->first_seen, DATE_VIETNAM, fs);
                        format_date(e->last_seen, DATE_VIETNAM, ls);
                        const char *cells[] = { e->holder ?: e->subject,
                                                e->organization,
                                                e->serial,
                                                e->issuer,
                                                nb,
                                                na,
                                                status_vi(e->status),
                                                fs,
                                                ls,
                                                e->token_label };
                        printf("<tr><td>%zu</td>", n);
                        for (size_t c = 0; c < ELEMENTSOF(cells); c++) {
                                fputs("<td>", stdout);
                                fputs_html(stdout, cells[c]);
                                fputs("</td>", stdout);
                        }
                        fputs("<td class=\"fp\">", stdout);
                        fputs_html(stdout, e->fingerprint);
                        fputs("</td></tr>\n", stdout);
                }
                if (n > 0)
                        fputs("</table>\n", stdout);
        }
        if (cert_register_size(r) == 0)
                fputs("<p>Chưa có chứng thư số nào.</p>\n", stdout);
        fputs("</body>\n</html>\n", stdout);
}

static void print_all(const CertRegister *r) {
        if (cert_register_size(r) == 0) {
                printf(_("The register is empty: the agent has seen no certificate yet.\n"));
                return;
        }
        for (size_t i = 0; i < cert_register_size(r); i++) {
                const CertRegisterEntry *e = cert_register_get(r, i);
                char na[32], fs[32], ls[32];
                format_date(e->not_after, DATE_DAY, na);
                format_date(e->first_seen, DATE_DAY, fs);
                format_date(e->last_seen, DATE_DAY, ls);
                printf("%s (%s), %s\n", strna(e->holder), strna(e->organization),
                       cert_kind_text(strna(e->kind)));
                printf(_("  Status:     %s\n"), cert_status_text(e->status ?: "unchecked"));
                printf(_("  Expires:    %s\n"), na);
                printf(_("  Seen:       %s to %s, token %s (%s)\n"), fs, ls, strna(e->token_label),
                       strna(e->token_serial));
                printf(_("  Serial:     %s, issuer %s\n"), strna(e->serial), strna(e->issuer));
                printf(_("  SHA-256:    %s\n"), e->fingerprint);
                if (e->renewed_by)
                        printf(_("  Renewed by: %s\n"), e->renewed_by);
        }
}

int verb_certs_register(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "all", no_argument, NULL, 'a' },
                { "json", no_argument, NULL, 'j' },
                { "export", required_argument, NULL, 'e' },
                { "organization", required_argument, NULL, 'o' },
                { "register", required_argument, NULL, 'r' },
                { "log", required_argument, NULL, 'l' },
                {},
        };
        _cleanup_(cert_register_freep) CertRegister *reg = NULL;
        _cleanup_free_ char *path = NULL, *org = NULL;
        _cleanup_strv_free_ char **logs = NULL;
        const char *register_arg = NULL, *org_arg = NULL;
        ExportFormat format = EXPORT_NONE;
        const char *export_arg = NULL;
        bool json = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0)
                switch (c) {
                case 'a':
                        break;
                case 'j':
                        json = true;
                        break;
                case 'e':
                        /* Two outputs cannot both be written to standard output: none is dropped silently.
                         */
                        if (export_arg && !streq(export_arg, optarg)) {
                                kysoctl_error(
                                        "certs", _("--export %s and --export %s exclude each other.\n"),
                                        export_arg, optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        export_arg = optarg;
                        format = streq(optarg, "csv")    ? EXPORT_CSV
                                 : streq(optarg, "json") ? EXPORT_JSON
                                 : streq(optarg, "html") ? EXPORT_HTML
                                                         : EXPORT_NONE;
                        if (format == EXPORT_NONE) {
                                kysoctl_error(
                                        "certs", _("unknown export format '%s': csv, json or html.\n"),
                                        optarg);
                                return KYSOCTL_EXIT_USAGE;
                        }
                        break;
                case 'o':
                        org_arg = optarg;
                        break;
                case 'r':
                        register_arg = optarg;
                        break;
                case 'l':
                        if (strv_extend(&logs, optarg) < 0)
                                return KYSOCTL_EXIT_INTERNAL;
                        break;
                default:
                        r = kysoctl_shared_option(c, help);
                        if (r >= 0)
                                return r;
                }
        if (optind < argc) {
                kysoctl_error(
                        "certs", _("unexpected argument '%s'. Run 'kysoctl certs --help'.\n"), argv[optind]);
                return KYSOCTL_EXIT_USAGE;
        }
        if (json && format != EXPORT_NONE && format != EXPORT_JSON) {
                kysoctl_error("certs", _("--export %s and --json exclude each other.\n"), export_arg);
                return KYSOCTL_EXIT_USAGE;
        }
        if (logs && register_arg) {
                kysoctl_error("certs", _("--log and --register exclude each other.\n"));
                return KYSOCTL_EXIT_USAGE;
        }
        if (logs) {
                r = register_from_logs(logs, &reg);
                if (r != KYSOCTL_EXIT_OK)
                        return r;
        } else {
                r = register_arg ? ((path = strdup(register_arg)) ? 0 : -ENOMEM)
                                 : cert_register_default_path(&path);
                /* A register named on the command line must exist (a usage error when it cannot be read);
                 * the default one is empty until the agent has seen a certificate. */
                if (r >= 0 && register_arg && access(path, R_OK) < 0) {
                        kysoctl_error(
                                "certs", _("cannot read the certificate register %s: %s\n"), path,
                                strerror(errno));
                        return KYSOCTL_EXIT_USAGE;
                }
                if (r >= 0)
                        r = cert_register_load(path, &reg);
        }
        if (r < 0) {
                kysoctl_error(
                        "certs", _("cannot read the certificate register %s: %s\n"), strna(path),
                        r == -EBADMSG ? _("not a certificate register") : strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        if (json && format == EXPORT_NONE)
                format = EXPORT_JSON;
        switch (format) {
        case EXPORT_CSV:
                export_csv(reg);
                break;
        case EXPORT_JSON:
                if (export_json(reg) < 0)
                        return KYSOCTL_EXIT_INTERNAL;
                break;
        case EXPORT_HTML:
                org = organization_name(org_arg);
                if (!org)
                        return KYSOCTL_EXIT_INTERNAL;
                export_html(reg, org);
                break;
        default:
                print_all(reg);
        }
        /* main() flushes the output and says why it could not be written (a full disk). */
        return KYSOCTL_EXIT_OK;
}
