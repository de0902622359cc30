/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <inttypes.h>

#include <json-c/json.h>

#include "audit-record.h"
#include "audit-show.h"
#include "i18n.h"
#include "macro.h"
#include "policy/policy-rules.h"

void audit_show_filter_init(AuditShowFilter *f) {
        *f = (AuditShowFilter){ .since = INT64_MIN, .until = INT64_MAX, .event = _AUDIT_EVENT_INVALID };
}

void audit_fingerprint_normalize(const char *in, char *out, size_t n) {
        size_t k = 0;
        for (; *in && k + 1 < n; in++)
                if (*in != ':' && *in != ' ')
                        out[k++] = (char) tolower((unsigned char) *in);
        out[k] = '\0';
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

static bool is_continuation(char c) {
        return ((unsigned char) c & 0xc0) == 0x80;
}

/* Prints s in a column of width characters (UTF-8 aware; Vietnamese letters are one column wide), cut with
 * "…" when longer; the last column is not cut. */
static void cell(FILE *out, const char *s, unsigned width, bool last) {
        unsigned cols = 0;
        s = strempty(s);
        const char *p = s;
        for (; *p; p++) {
                if (is_continuation(*p))
                        continue;
                if (!last && cols == width - 1) {
                        /* Does the rest fit? Count remaining characters. */
                        unsigned rest = 0;
                        for (const char *q = p; *q; q++)
                                if (!is_continuation(*q))
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
                fputc((unsigned char) *q < 0x20 || *q == 0x7f ? '?' : *q, out);
        if (cut) {
                fputs("…", out);
                cols++;
        }
        if (!last)
                for (; cols < width + 1; cols++)
                        fputc(' ', out);
}

void audit_csv_field(FILE *out, const char *s) {
        s = strempty(s);
        /* A leading =, +, - or @ makes spreadsheets run a formula: keep it text. */
        bool guard = s[0] && strchr("=+-@\t\r", s[0]);
        if (!guard && !strpbrk(s, ",\"\r\n")) {
                fputs(s, out);
                return;
        }
        fputc('"', out);
        if (guard)
                fputc('\'', out);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', out);
                fputc(*s, out);
        }
        fputc('"', out);
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

static void write_header(FILE *out, AuditShowFormat format) {
        if (format == AUDIT_SHOW_CSV) {
                for (size_t i = 0; i < ELEMENTSOF(csv_columns); i++)
                        fprintf(out, "%s%s", i ? "," : "", csv_columns[i][0]);
                fprintf(out, "\r\n");
        } else if (format == AUDIT_SHOW_JSON)
                fprintf(out, "[");
        else {
                cell(out, _("SEQ"), 6, false);
                cell(out, _("TIME (UTC)"), 24, false);
                cell(out, _("EVENT"), 14, false);
                cell(out, _("ROLE"), 9, false);
                cell(out, _("CERTIFICATE"), 24, false);
                cell(out, _("DOCUMENT"), 24, false);
                cell(out, _("DETAILS"), 0, true);
                fprintf(out, "\n");
        }
}

/* A record's reason in the reader's language: its text when the record is in that language (or has no code,
 * as older records), else its code rendered with its parameters, without the text the request added in its
 * own language. NULL: the record has no reason; *ret_free is what the caller frees. */
static const char *reason_for_reader(json_object *o, char **ret_free) {
        const char *text = jget(o, "reason", NULL), *code = jget(o, "data", "reason_code");
        const char *params[2 * 12 + 1];
        json_object *data;
        size_t n = 0;

        *ret_free = NULL;
        if (!code || streq_ptr(jget(o, "data", "language"), i18n_language()) ||
            !json_object_object_get_ex(o, "data", &data) || !json_object_is_type(data, json_type_object))
                return text;
        json_object_object_foreach(data, key, value) {
                if (n + 2 >= ELEMENTSOF(params))
                        break;
                if (!startswith(key, "reason_") || streq(key, "reason_code") ||
                    streq(key, "reason_detail") || !json_object_is_type(value, json_type_string))
                        continue;
                params[n++] = key + strlen("reason_");
                params[n++] = json_object_get_string(value);
        }
        params[n] = NULL;
        if (policy_reason_render(code, params, ret_free) < 0)
                return text;
        return *ret_free;
}

static void write_record(
        FILE *out, AuditShowFormat format, const AuditRecordHead *h, const char *time, const AuditLine *line,
        json_object *o, uint64_t shown) {
        if (format == AUDIT_SHOW_JSON) {
                /* The record exactly as stored: stable, and what the hash covers. */
                fprintf(out, "%s\n", shown ? "," : "");
                fwrite(line->data, 1, line->len, out);
        } else if (format == AUDIT_SHOW_CSV) {
                for (size_t i = 0; i < ELEMENTSOF(csv_columns); i++) {
                        char num[32];
                        const char *v;
                        if (i > 0)
                                fputc(',', out);
                        if (i == 0) {
                                snprintf(num, sizeof(num), "%" PRIu64, h->seq);
                                v = num;
                        } else if (i == 1)
                                v = time;
                        else if (i == 2)
                                v = audit_event_type_to_string(h->event) ?: "";
                        else if (i == 3 || i == 4) {
                                int64_t n = jint(o, csv_columns[i][1], csv_columns[i][2]);
                                snprintf(num, sizeof(num), "%" PRId64, n);
                                v = n >= 0 ? num : "";
                        } else
                                v = jget(o, csv_columns[i][1], csv_columns[i][2]);
                        audit_csv_field(out, v);
                }
                fprintf(out, "\r\n");
        } else {
                char seq[32], ev[80];
                snprintf(seq, sizeof(seq), "%" PRIu64, h->seq);
                snprintf(ev, sizeof(ev), "%.*s", (int) h->event_len, h->event_name);
                _cleanup_free_ char *rendered = NULL;
                const char *details = reason_for_reader(o, &rendered) ?: jget(o, "error", NULL)
                                                                                 ?: jget(o, "message", NULL);
                cell(out, seq, 6, false);
                cell(out, time, 24, false);
                cell(out, ev, 14, false);
                cell(out, jget(o, "role", NULL), 9, false);
                cell(out, jget(o, "cert", "subject"), 24, false);
                cell(out, jget(o, "document", "name"), 24, false);
                cell(out, details, 0, true);
                fprintf(out, "\n");
        }
}

static bool matches(const AuditShowFilter *f, const AuditRecordHead *h, int64_t t, json_object *o) {
        if (t < f->since || t >= f->until || (f->event >= 0 && h->event != f->event) ||
            (f->role && !streq_ptr(jget(o, "role", NULL), f->role)))
                return false;
        if (f->cert[0]) {
                char fpr[AUDIT_FINGERPRINT_TEXT_MAX];
                const char *s = jget(o, "cert", "fingerprint");
                if (!s)
                        return false;
                audit_fingerprint_normalize(s, fpr, sizeof(fpr));
                return startswith(fpr, f->cert);
        }
        return true;
}

int audit_show(
        AuditReader *r, const AuditShowFilter *filter, AuditShowFormat format, FILE *out, FILE *err,
        uint64_t *ret_bad) {
        json_tokener *tok = NULL;
        uint64_t shown = 0, bad = 0;
        AuditLine line;
        int k;

        if (!r || !filter || format < 0 || format >= _AUDIT_SHOW_FORMAT_MAX)
                return -EINVAL;
        tok = audit_record_json_tokener_new();
        if (!tok)
                return -ENOMEM;
        write_header(out, format);

        for (;;) {
                AuditRecordHead h;
                const char *what = NULL, *file;
                k = audit_reader_next(r, &line);
                if (k == 0)
                        break;
                file = strna(audit_reader_get_file(r, line.file_index));
                if (k == -E2BIG) {
                        fprintf(err,
                                _("%s, line %" PRIu64 ": longer than %u bytes, not a record; skipped.\n"),
                                file, audit_reader_line_number(r, &line), AUDIT_LINE_MAX);
                        bad++;
                        continue;
                }
                if (k < 0)
                        break;
                if (!line.terminated) {
                        fprintf(err,
                                _("%s, line %" PRIu64 ": unfinished record at the end of the file (a crash "
                                  "while writing); skipped.\n"),
                                file, audit_reader_line_number(r, &line));
                        bad++;
                        continue;
                }
                if (audit_record_scan(line.data, line.len, &h, &what) < 0) {
                        fprintf(err, _("%s, line %" PRIu64 ": not a kyso audit record (%s); skipped.\n"),
                                file, audit_reader_line_number(r, &line), what);
                        bad++;
                        continue;
                }
                json_object *o = audit_record_parse_json(tok, line.data, line.len);
                if (!o) {
                        fprintf(err, _("%s, line %" PRIu64 ": not valid JSON; skipped.\n"), file,
                                audit_reader_line_number(r, &line));
                        bad++;
                        continue;
                }

                char tb[AUDIT_TIME_LEN + 1];
                memcpy(tb, h.time, AUDIT_TIME_LEN);
                tb[AUDIT_TIME_LEN] = '\0';
                if (matches(filter, &h, audit_record_time_ms(&h), o))
                        write_record(out, format, &h, tb, &line, o, shown++);
                json_object_put(o);
        }
        json_tokener_free(tok);
        if (k < 0)
                return k;
        if (format == AUDIT_SHOW_JSON)
                fprintf(out, "%s]\n", shown ? "\n" : "");
        if (ret_bad)
                *ret_bad = bad;
        return 0;
}
