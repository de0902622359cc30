/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <inttypes.h>

#include <json-c/json.h>

#include "alloc-util.h"
#include "audit-record.h"
#include "audit-report-certs.h"
#include "audit-report.h"
#include "audit-show.h"
#include "dbus/dbus-error-names.h"
#include "fileio.h"
#include "policy/policy-rules.h"
#include "string-util.h"

#define DAY_MS (86400LL * 1000)

/* ---- dates and holidays ---- */

int64_t audit_date_to_days(AuditDate d) {
        return audit_days_from_civil(d.year, d.month, d.day);
}

AuditDate audit_date_from_days(int64_t days) {
        AuditDate d;
        audit_civil_from_days(days, &d.year, &d.month, &d.day);
        return d;
}

unsigned audit_weekday(AuditDate d) {
        int64_t z = audit_date_to_days(d);
        /* 1970-01-01 was a Thursday (4). */
        return (unsigned) (((z % 7) + 7 + 4) % 7);
}

struct AuditHolidays {
        int64_t *days; /* dated holidays, sorted */
        size_t n_days;
        unsigned *yearly; /* month * 100 + day */
        size_t n_yearly;
};

AuditHolidays *audit_holidays_free(AuditHolidays *h) {
        if (!h)
                return NULL;
        free(h->days);
        free(h->yearly);
        free(h);
        return NULL;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

int audit_holidays_parse(const char *text, AuditHolidays **ret, unsigned *ret_bad_line) {
        _cleanup_(audit_holidays_freep) AuditHolidays *h = calloc(1, sizeof(AuditHolidays));
        unsigned line_no = 0;

        if (!h)
                return -ENOMEM;
        /* Editors on Windows start UTF-8 text with a byte order mark. */
        text = startswith(text, "\xef\xbb\xbf") ?: text;
        for (const char *p = text; *p;) {
                const char *eol = strchrnul(p, '\n');
                char line[128];
                size_t n = (size_t) (eol - p);
                line_no++;
                const char *hash = memchr(p, '#', n);
                if (hash)
                        n = (size_t) (hash - p);
                while (n > 0 && isspace((unsigned char) p[n - 1]))
                        n--;
                while (n > 0 && isspace((unsigned char) *p)) {
                        p++;
                        n--;
                }
                if (n > 0) {
                        if (n >= sizeof(line))
                                goto bad;
                        memcpy(line, p, n);
                        line[n] = '\0';
                        if (line[0] == '*') {
                                unsigned m, d;
                                char tail;
                                int64_t ms;
                                char probe[16];
                                if (sscanf(line, "*-%2u-%2u%c", &m, &d, &tail) != 2 || n != 7)
                                        goto bad;
                                /* Validate against a leap year so that *-02-29 is allowed. */
                                snprintf(probe, sizeof(probe), "2024-%02u-%02u", m, d);
                                if (audit_parse_time(probe, &ms) < 0)
                                        goto bad;
                                unsigned *y = ARRAY_APPEND(h->yearly, h->n_yearly);
                                if (!y)
                                        return -ENOMEM;
                                *y = m * 100 + d;
                        } else {
                                int64_t ms;
                                if (n != 10 || audit_parse_time(line, &ms) < 0)
                                        goto bad;
                                int64_t *dd = ARRAY_APPEND(h->days, h->n_days);
                                if (!dd)
                                        return -ENOMEM;
                                *dd = ms / DAY_MS;
                        }
                }
                p = *eol ? eol + 1 : eol;
        }
        if (h->n_days > 0)
                qsort(h->days, h->n_days, sizeof(int64_t), cmp_i64);
        *ret = TAKE_PTR(h);
        return 0;
bad:
        if (ret_bad_line)
                *ret_bad_line = line_no;
        return -EBADMSG;
}

int audit_holidays_load(const char *path, AuditHolidays **ret, unsigned *ret_bad_line) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_file(path, 1024 * 1024, &text, NULL);
        if (r < 0)
                return r;
        return audit_holidays_parse(text, ret, ret_bad_line);
}

bool audit_is_holiday(const AuditHolidays *h, AuditDate d) {
        if (!h)
                return false;
        int64_t z = audit_date_to_days(d);
        if (h->n_days > 0 && bsearch(&z, h->days, h->n_days, sizeof(int64_t), cmp_i64))
                return true;
        for (size_t i = 0; i < h->n_yearly; i++)
                if (h->yearly[i] == d.month * 100 + d.day)
                        return true;
        return false;
}

bool audit_is_working_day(const AuditHolidays *h, AuditDate d) {
        unsigned wd = audit_weekday(d);
        return wd != 0 && wd != 6 && !audit_is_holiday(h, d);
}

AuditDate audit_next_working_day(const AuditHolidays *h, AuditDate d) {
        int64_t z = audit_date_to_days(d);
        /* A year cannot be all holidays; the bound only guards against a silly file. */
        for (unsigned i = 0; i < 366 && !audit_is_working_day(h, d); i++)
                d = audit_date_from_days(++z);
        return d;
}

static void window_finish(AuditReportWindow *w, const AuditHolidays *h) {
        w->start_ms = audit_date_to_days(w->first) * DAY_MS - AUDIT_VN_UTC_OFFSET_MS;
        w->end_ms = (audit_date_to_days(w->last) + 1) * DAY_MS - AUDIT_VN_UTC_OFFSET_MS;
        w->deadline = audit_next_working_day(h, w->due);
}

int audit_report_window_month(int year, unsigned month, const AuditHolidays *h, AuditReportWindow *ret) {
        if (year < 1970 || year > 9998 || month < 1 || month > 12)
                return -EINVAL;
        AuditReportWindow w = {
                .year = year,
                .month = month,
                .first = { month == 1 ? year - 1 : year, month == 1 ? 12 : month - 1, 15 },
                .last = { year, month, 14 },
                .due = { year, month, 20 },
        };
        window_finish(&w, h);
        *ret = w;
        return 0;
}

int audit_report_window_year(int year, const AuditHolidays *h, AuditReportWindow *ret) {
        if (year < 1971 || year > 9998)
                return -EINVAL;
        AuditReportWindow w = {
                .annual = true,
                .year = year,
                .first = { year - 1, 12, 15 },
                .last = { year, 12, 14 },
                .due = { year + 1, 1, 20 },
        };
        window_finish(&w, h);
        *ret = w;
        return 0;
}

/* ---- gathering ---- */

enum { ROLE_APPROVE, ROLE_ISSUE, ROLE_COPY, ROLE_APPENDIX, ROLE_PERSONAL, ROLE_OTHER, _ROLE_MAX };
static const char *const role_ids[_ROLE_MAX] = {
        "approve", "issue", "copy", "appendix", "personal", "other"
};
static const char *const role_vi[_ROLE_MAX] = {
        "Ký phê duyệt (người có thẩm quyền)",
        "Ký phát hành (chữ ký số của cơ quan, tổ chức)",
        "Sao y, sao lục, trích sao",
        "Ký tài liệu kèm theo (phụ lục)",
        "Ký số cá nhân khác",
        "Vai trò khác / không rõ",
};

enum { KIND_PERSONAL, KIND_ORGANIZATION, KIND_DEVICE, KIND_UNKNOWN, _KIND_MAX };
static const char *const kind_ids[_KIND_MAX] = { "personal", "organization", "device", "unknown" };
static const char *const kind_vi[_KIND_MAX] = {
        "Chứng thư số cá nhân",
        "Chứng thư số cơ quan, tổ chức",
        "Chứng thư số thiết bị, dịch vụ, phần mềm",
        "Chưa phân loại",
};

static const char *const default_gov_patterns[] = {
        "Ban Cơ yếu Chính phủ",
        "Ban Co yeu Chinh phu",
        "BAN CƠ YẾU CHÍNH PHỦ",
        "Government Cipher",
        "Chuyên dùng Chính phủ",
        "Chuyen dung Chinh phu",
        "VGCA",
        "ca.gov.vn",
        NULL,
};

typedef struct Counter {
        char *key, *extra;
        bool coded; /* key is a stable code (the policy's reason, or the D-Bus error), shown as its label */
        uint64_t n;
} Counter;

typedef struct CounterList {
        Counter *items;
        size_t n;
} CounterList;

typedef struct CertInfo {
        char *id, *subject, *issuer, *serial, *fingerprint, *kind, *not_after, *status;
        bool gov;
        uint64_t signatures, denied, failed;
} CertInfo;

typedef struct TokenInfo {
        char *label, *serial, *manufacturer, *model, *uri;
        uint64_t signatures, pin_failures, events;
} TokenInfo;

struct AuditReport {
        AuditReportWindow w;
        char *org, *place, *signer_title, *integrity;
        char **addressees;
        const char *const *gov_patterns;

        uint64_t records;
        uint64_t bad_records;
        uint64_t sig_total;
        uint64_t sig_role[2][_ROLE_MAX]; /* [0] Government CA, [1] other CAs */
        uint64_t sig_kind[2][_KIND_MAX];
        uint64_t denied, failed, cancelled, pin_failures, helper_crashes, token_events, torn_tails;
        CounterList deny_reasons, fail_reasons;
        CertInfo *certs;
        size_t n_certs;
        TokenInfo *tokens;
        size_t n_tokens;
        uint64_t *per_day;
        size_t n_days;
        ReportCerts register_certs; /* the certificate register's section (audit-report-certs.c) */
};

static void counter_list_done(CounterList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].key);
                free(l->items[i].extra);
        }
        free(l->items);
}

static int counter_add(CounterList *l, const char *key, bool coded, const char *extra) {
        coded = coded && key;
        key = key ?: "(không rõ)";
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].coded == coded && streq(l->items[i].key, key) &&
                    streq_ptr(l->items[i].extra, extra)) {
                        l->items[i].n++;
                        return 0;
                }
        _cleanup_free_ char *k = strdup(key), *e = extra ? strdup(extra) : NULL;
        if (!k || (extra && !e))
                return -ENOMEM;
        Counter *c = ARRAY_APPEND(l->items, l->n);
        if (!c)
                return -ENOMEM;
        *c = (Counter){ .key = TAKE_PTR(k), .extra = TAKE_PTR(e), .coded = coded, .n = 1 };
        return 0;
}

AuditReport *audit_report_free(AuditReport *rep) {
        if (!rep)
                return NULL;
        free(rep->org);
        free(rep->place);
        free(rep->signer_title);
        strv_free(rep->addressees);
        free(rep->integrity);
        report_certs_done(&rep->register_certs);
        counter_list_done(&rep->deny_reasons);
        counter_list_done(&rep->fail_reasons);
        for (size_t i = 0; i < rep->n_certs; i++) {
                CertInfo *c = &rep->certs[i];
                free(c->id);
                free(c->subject);
                free(c->issuer);
                free(c->serial);
                free(c->fingerprint);
                free(c->kind);
                free(c->not_after);
                free(c->status);
        }
        free(rep->certs);
        for (size_t i = 0; i < rep->n_tokens; i++) {
                free(rep->tokens[i].label);
                free(rep->tokens[i].serial);
                free(rep->tokens[i].manufacturer);
                free(rep->tokens[i].model);
                free(rep->tokens[i].uri);
        }
        free(rep->tokens);
        free(rep->per_day);
        free(rep);
        return NULL;
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *jobj(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

static bool contains_ci(const char *hay, const char *needle) {
        return hay && needle && *needle && strcasestr(hay, needle);
}

static bool is_gov(const AuditReport *rep, json_object *cert) {
        const char *ca = jstr(cert, "ca");
        if (ca)
                return streq(ca, "government");
        const char *issuer = jstr(cert, "issuer");
        for (const char *const *p = rep->gov_patterns; *p; p++)
                if (contains_ci(issuer, *p))
                        return true;
        return false;
}

/* A record without the field keeps what an earlier record said. */
static int set_str(char **dst, const char *v) {
        return v ? free_and_strdup(dst, v) : 0;
}

/* The record's certificate, found or added, with the record's view of it; counts a signature, refusal or
 * failure for it, as note_token() does for the token. *ret (optional): the entry, NULL for a record without
 * a certificate. */
static int note_cert(AuditReport *rep, json_object *cert, AuditEventType t, CertInfo **ret) {
        const char *fpr = jstr(cert, "fingerprint"), *subject = jstr(cert, "subject"),
                   *serial = jstr(cert, "serial");
        _cleanup_free_ char *id = NULL;
        int r;

        if (ret)
                *ret = NULL;
        if (!cert || (!fpr && !subject && !serial))
                return 0;
        if (fpr)
                id = strdup(fpr);
        else if (asprintf(&id, "%s|%s", strempty(subject), strempty(serial)) < 0)
                id = NULL;
        if (!id)
                return -ENOMEM;
        CertInfo *c = NULL;
        for (size_t i = 0; i < rep->n_certs; i++)
                if (streq(rep->certs[i].id, id))
                        c = &rep->certs[i];
        if (!c) {
                c = ARRAY_APPEND(rep->certs, rep->n_certs);
                if (!c)
                        return -ENOMEM;
                c->id = TAKE_PTR(id);
        }
        /* The newest record's view wins (status changes over time). */
        if ((r = set_str(&c->subject, subject)) < 0 || (r = set_str(&c->issuer, jstr(cert, "issuer"))) < 0 ||
            (r = set_str(&c->serial, serial)) < 0 || (r = set_str(&c->fingerprint, fpr)) < 0 ||
            (r = set_str(&c->kind, jstr(cert, "kind"))) < 0 ||
            (r = set_str(&c->not_after, jstr(cert, "not_after"))) < 0 ||
            (r = set_str(&c->status, jstr(cert, "status"))) < 0)
                return r;
        c->gov = is_gov(rep, cert);
        if (t == AUDIT_EVENT_SIGN_DONE)
                c->signatures++;
        if (t == AUDIT_EVENT_SIGN_DENIED)
                c->denied++;
        if (t == AUDIT_EVENT_SIGN_FAILED)
                c->failed++;
        if (ret)
                *ret = c;
        return 0;
}

/* The value of attribute name in the path of a PKCS#11 URI (RFC 7512), percent-decoded; NULL when absent
 * or not decodable. */
static char *uri_attr(const char *uri, const char *name) {
        const char *p = uri ? startswith(uri, "pkcs11:") : NULL;
        size_t nl = strlen(name);

        for (; p && *p && *p != '?'; p += strcspn(p, ";?"), p += *p == ';') {
                size_t n = strcspn(p, ";?");
                if (n <= nl || memcmp(p, name, nl) != 0 || p[nl] != '=')
                        continue;
                char *v = malloc(n - nl), *o = v;
                if (!v)
                        return NULL;
                for (const char *q = p + nl + 1; q < p + n; q++) {
                        unsigned hi, lo;
                        if (*q != '%') {
                                *o++ = *q;
                                continue;
                        }
                        if (q + 2 >= p + n || !isxdigit((unsigned char) q[1]) ||
                            !isxdigit((unsigned char) q[2]) || (q[1] == '0' && q[2] == '0'))
                                return mfree(v);
                        hi = (unsigned) (isdigit((unsigned char) q[1]) ? q[1] - '0' : (q[1] | 0x20) - 'a' + 10);
                        lo = (unsigned) (isdigit((unsigned char) q[2]) ? q[2] - '0' : (q[2] | 0x20) - 'a' + 10);
                        *o++ = (char) (hi << 4 | lo);
                        q += 2;
                }
                *o = '\0';
                return v;
        }
        return NULL;
}

static bool same_or_unknown(const char *a, const char *b) {
        return !a || !b || streq(a, b);
}

/* A token in a record: the "token" object (serial, manufacturer, model, label, uri), completed from the
 * URI's token attributes, and for older agents' pin-failure records the URI under "data". One physical
 * token is one entry: matched by serial (and manufacturer and model where both sides know them); a record
 * without any serial joins the one entry of that label, and an entry known only by its label is taken over
 * by the first record that brings a serial. */
static int note_token(AuditReport *rep, json_object *o, AuditEventType type) {
        json_object *tok = jobj(o, "token");
        const char *uri = jstr(tok, "uri") ?: jstr(jobj(o, "data"), "token");
        _cleanup_free_ char *u_serial = uri_attr(uri, "serial"),
                            *u_manufacturer = uri_attr(uri, "manufacturer"),
                            *u_model = uri_attr(uri, "model"), *u_label = uri_attr(uri, "token");
        const char *serial = jstr(tok, "serial") ?: u_serial,
                   *manufacturer = jstr(tok, "manufacturer") ?: u_manufacturer,
                   *model = jstr(tok, "model") ?: u_model, *label = jstr(tok, "label") ?: u_label;
        TokenInfo *t = NULL;
        size_t n_label = 0;
        int r;

        if (!serial && !label)
                return 0;
        for (size_t i = 0; i < rep->n_tokens && !t; i++) {
                TokenInfo *c = &rep->tokens[i];
                if (serial && c->serial && streq(serial, c->serial) &&
                    same_or_unknown(manufacturer, c->manufacturer) && same_or_unknown(model, c->model))
                        t = c;
        }
        if (!t && label) {
                /* A record without a serial, or the first one with a serial for an entry known by label. */
                TokenInfo *by_label = NULL;
                for (size_t i = 0; i < rep->n_tokens; i++)
                        if (streq_ptr(rep->tokens[i].label, label) && (!serial || !rep->tokens[i].serial)) {
                                by_label = &rep->tokens[i];
                                n_label++;
                        }
                if (n_label == 1)
                        t = by_label;
        }
        if (!t) {
                t = ARRAY_APPEND(rep->tokens, rep->n_tokens);
                if (!t)
                        return -ENOMEM;
        }
        if ((r = set_str(&t->label, label)) < 0 || (r = set_str(&t->serial, serial)) < 0 ||
            (r = set_str(&t->manufacturer, manufacturer)) < 0 || (r = set_str(&t->model, model)) < 0 ||
            (r = set_str(&t->uri, uri)) < 0)
                return r;
        t->events++;
        if (type == AUDIT_EVENT_SIGN_DONE)
                t->signatures++;
        if (type == AUDIT_EVENT_PIN_FAILURE)
                t->pin_failures++;
        return 0;
}

static unsigned role_index(const char *role) {
        for (unsigned i = 0; i < ROLE_OTHER; i++)
                if (streq_ptr(role, role_ids[i]))
                        return i;
        return ROLE_OTHER;
}

static unsigned kind_index(const char *kind) {
        for (unsigned i = 0; i < KIND_UNKNOWN; i++)
                if (streq_ptr(kind, kind_ids[i]))
                        return i;
        return KIND_UNKNOWN;
}

/* A refused or failed request of record o: counted for its certificate, and in l under its reason's code,
 * or its text when it has no code (the texts name certificates and documents: one count each). */
static int note_reason(
        AuditReport *rep, json_object *o, AuditEventType t, CounterList *l, const char *code,
        const char *extra) {
        int r;

        r = note_cert(rep, jobj(o, "cert"), t, NULL);
        if (r < 0)
                return r;
        return counter_add(l, code ?: jstr(o, "reason"), code != NULL, extra);
}

static int gather(AuditReport *rep, const AuditRecordHead *h, json_object *o, int64_t t_ms) {
        json_object *cert = jobj(o, "cert"), *data = jobj(o, "data");
        const char *code;
        CertInfo *c = NULL;
        int r;

        rep->records++;
        r = report_certs_note(&rep->register_certs, h->event, o); /* 1: seen, not used to sign */
        if (r != 0)
                return MIN(r, 0);
        switch (h->event) {
        case AUDIT_EVENT_SIGN_DONE: {
                r = note_cert(rep, cert, h->event, &c);
                if (r < 0)
                        return r;
                bool gov = c ? c->gov : false;
                rep->sig_total++;
                rep->sig_role[gov ? 0 : 1][role_index(jstr(o, "role"))]++;
                rep->sig_kind[gov ? 0 : 1][kind_index(jstr(cert, "kind"))]++;
                int64_t day = (t_ms + AUDIT_VN_UTC_OFFSET_MS) / DAY_MS - audit_date_to_days(rep->w.first);
                if (day >= 0 && (size_t) day < rep->n_days)
                        rep->per_day[day]++;
                return note_token(rep, o, h->event);
        }
        case AUDIT_EVENT_SIGN_DENIED:
                rep->denied++;
                /* Older records have the text only. A certificate that cannot sign counts by its check's
                 * code (expired, revoked...) when the record has it. */
                code = jstr(data, "reason_detail_code") ?: jstr(data, "reason_code");
                return note_reason(rep, o, h->event, &rep->deny_reasons, code, jstr(o, "article"));
        case AUDIT_EVENT_SIGN_FAILED:
                rep->failed++;
                /* A document's code (damaged PDF, too large...) says more than its BadDocument. */
                code = jstr(data, "reason_code") ?: jstr(o, "error");
                return note_reason(rep, o, h->event, &rep->fail_reasons, code, NULL);
        case AUDIT_EVENT_SIGN_CANCELLED:
                rep->cancelled++;
                return 0;
        case AUDIT_EVENT_PIN_FAILURE:
                rep->pin_failures++;
                return note_token(rep, o, h->event);
        case AUDIT_EVENT_HELPER_CRASH:
                rep->helper_crashes++;
                return 0;
        case AUDIT_EVENT_TOKEN_ADDED:
        case AUDIT_EVENT_TOKEN_REMOVED:
                rep->token_events++;
                return note_token(rep, o, h->event);
        case AUDIT_EVENT_LOG_TORN_TAIL:
                rep->torn_tails++;
                return 0;
        default:
                if (cert)
                        return note_cert(rep, cert, h->event, NULL);
                return 0;
        }
}

int audit_report_build(
        AuditReader *reader, const AuditReportWindow *w, const AuditReportOptions *o, AuditReport **ret) {
        _cleanup_(audit_report_freep) AuditReport *rep = calloc(1, sizeof(AuditReport));
        char start[AUDIT_TIME_LEN + 1], end[AUDIT_TIME_LEN + 1];
        json_tokener *tok = NULL;
        AuditLine line;
        int r;

        if (!rep)
                return -ENOMEM;
        rep->w = *w;
        rep->gov_patterns = o && o->gov_ca_patterns ? o->gov_ca_patterns : default_gov_patterns;
        if (o && o->addressees)
                for (const char *const *a = o->addressees; *a; a++)
                        if (strv_extend(&rep->addressees, *a) < 0)
                                return -ENOMEM;
        if ((o && o->org && !(rep->org = strdup(o->org))) ||
            (o && o->place && !(rep->place = strdup(o->place))) ||
            (o && o->signer_title && !(rep->signer_title = strdup(o->signer_title))) ||
            (o && o->integrity && !(rep->integrity = strdup(o->integrity))))
                return -ENOMEM;
        rep->n_days = (size_t) (audit_date_to_days(w->last) - audit_date_to_days(w->first) + 1);
        rep->per_day = calloc(rep->n_days, sizeof(uint64_t));
        if (!rep->per_day)
                return -ENOMEM;
        audit_format_time((uint64_t) w->start_ms, start);
        audit_format_time((uint64_t) w->end_ms, end);

        tok = audit_record_json_tokener_new();
        if (!tok)
                return -ENOMEM;
        for (;;) {
                AuditRecordHead h;
                r = audit_reader_next(reader, &line);
                if (r == -E2BIG) {
                        rep->bad_records++;
                        continue;
                }
                if (r <= 0)
                        break;
                if (!line.terminated || audit_record_scan(line.data, line.len, &h, NULL) < 0) {
                        rep->bad_records++;
                        continue;
                }
                /* Times are fixed-width UTC: compare them as strings before paying for a parse. */
                if (memcmp(h.time, start, AUDIT_TIME_LEN) < 0 || memcmp(h.time, end, AUDIT_TIME_LEN) >= 0)
                        continue;
                json_object *obj = audit_record_parse_json(tok, line.data, line.len);
                if (!obj) {
                        rep->bad_records++;
                        continue;
                }
                r = gather(rep, &h, obj, audit_record_time_ms(&h));
                json_object_put(obj);
                if (r < 0)
                        break;
        }
        json_tokener_free(tok);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(rep);
        return 0;
}

int audit_report_set_integrity(AuditReport *rep, const char *integrity) {
        char *copy = NULL;
        if (integrity && !(copy = strdup(integrity)))
                return -ENOMEM;
        free(rep->integrity);
        rep->integrity = copy;
        return 0;
}

uint64_t audit_report_n_signatures(const AuditReport *rep) {
        return rep->sig_total;
}
uint64_t audit_report_n_signatures_gov(const AuditReport *rep) {
        uint64_t n = 0;
        for (unsigned i = 0; i < _ROLE_MAX; i++)
                n += rep->sig_role[0][i];
        return n;
}
uint64_t audit_report_n_denied(const AuditReport *rep) {
        return rep->denied;
}
uint64_t audit_report_n_failed(const AuditReport *rep) {
        return rep->failed;
}
uint64_t audit_report_n_bad_records(const AuditReport *rep) {
        return rep->bad_records;
}
size_t audit_report_n_tokens(const AuditReport *rep) {
        return rep->n_tokens;
}

/* ---- certificate states at the end of the window ---- */

typedef enum CertState { CERT_OK, CERT_EXPIRING, CERT_EXPIRED, CERT_REVOKED } CertState;

static CertState cert_state(const AuditReport *rep, const CertInfo *c, int64_t *ret_days_left) {
        int64_t na = 0;
        *ret_days_left = INT64_MAX;
        if (streq_ptr(c->status, "revoked"))
                return CERT_REVOKED;
        if (c->not_after && audit_parse_time(c->not_after, &na) >= 0) {
                int64_t ref = rep->w.end_ms;
                if (na < ref)
                        return CERT_EXPIRED;
                *ret_days_left = (na - ref) / DAY_MS;
                if (*ret_days_left <= AUDIT_EXPIRING_DAYS)
                        return CERT_EXPIRING;
        }
        if (streq_ptr(c->status, "expired"))
                return CERT_EXPIRED;
        if (streq_ptr(c->status, "expiring"))
                return CERT_EXPIRING;
        return CERT_OK;
}

static const char *cert_state_vi(CertState s) {
        switch (s) {
        case CERT_EXPIRING:
                return "sắp hết hạn (≤ 60 ngày)";
        case CERT_EXPIRED:
                return "đã hết hạn";
        case CERT_REVOKED:
                return "đã bị thu hồi";
        default:
                return "còn hiệu lực";
        }
}

static void fmt_date(AuditDate d, char buf[16]) {
        snprintf(buf, 16, "%02u/%02u/%04d", d.day, d.month, d.year);
}

static const char *weekday_vi(unsigned wd) {
        static const char *const names[] = { "Chủ nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư",
                                             "Thứ Năm",  "Thứ Sáu", "Thứ Bảy" };
        return names[wd % 7];
}

static void period_title(const AuditReport *rep, char *buf, size_t n) {
        if (rep->w.annual)
                snprintf(buf, n, "năm %d", rep->w.year);
        else
                snprintf(buf, n, "tháng %02u/%d", rep->w.month, rep->w.year);
}

/* ---- text ---- */

/* Strings from the log, folded to one line: a run of control characters (line breaks, tabs, escapes)
 * becomes one space, so a reason cannot break the report's layout or reach a terminal raw. Returns the
 * display width written: UTF-8 code points, as the report's Vietnamese letters are precomposed. */
/* A counted reason as the reader reads it: a code's label in the reader's language, or an older record's
 * text. */
static const char *counter_label(const Counter *c, bool failure) {
        if (!c->coded)
                return c->key;
        if (failure && policy_reason_label(c->key))
                return policy_reason_label(c->key);
        if (failure) {
                KysoBusError e = kyso_bus_error_from_name(c->key);
                return e >= 0 ? kyso_bus_error_message(e) : c->key;
        }
        return policy_reason_label(c->key) ?: c->key;
}

static size_t text_put(FILE *f, const char *s) {
        size_t cols = 0;
        bool blank = false;
        for (s = strempty(s); *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c < 0x20 || c == 0x7f) {
                        blank = true;
                        continue;
                }
                if (blank) {
                        fputc(' ', f);
                        cols++;
                        blank = false;
                }
                fputc(c, f);
                if ((c & 0xc0) != 0x80)
                        cols++;
        }
        return cols;
}

/* Blanks, then text_put(), right-aligned in width display columns. */
static void text_rjust(FILE *f, const char *s, size_t width) {
        size_t cols = 0;
        for (const char *p = s; *p; p++)
                if (((unsigned char) *p & 0xc0) != 0x80)
                        cols++;
        for (; cols < width; cols++)
                fputc(' ', f);
        text_put(f, s);
}

/* text_put(), then blanks up to width display columns (printf's %-48s pads by bytes). */
static void text_pad(FILE *f, const char *s, size_t width) {
        for (size_t cols = text_put(f, s); cols < width; cols++)
                fputc(' ', f);
}

static void text_group(const AuditReport *rep, FILE *f, unsigned g) {
        uint64_t total = 0;
        for (unsigned i = 0; i < _ROLE_MAX; i++)
                total += rep->sig_role[g][i];
        fprintf(f, "   - Tổng số lượt ký số: %" PRIu64 "\n", total);
        fprintf(f, "   - Theo vai trò ký:\n");
        for (unsigned i = 0; i < _ROLE_MAX; i++)
                if (i != ROLE_OTHER || rep->sig_role[g][i] > 0)
                        fprintf(f, "     + %s: %" PRIu64 "\n", role_vi[i], rep->sig_role[g][i]);
        fprintf(f, "   - Theo loại chứng thư số:\n");
        for (unsigned i = 0; i < _KIND_MAX; i++)
                if (i != KIND_UNKNOWN || rep->sig_kind[g][i] > 0)
                        fprintf(f, "     + %s: %" PRIu64 "\n", kind_vi[i], rep->sig_kind[g][i]);
        unsigned n = 0;
        for (size_t i = 0; i < rep->n_certs; i++)
                if (rep->certs[i].gov == (g == 0) && rep->certs[i].signatures > 0)
                        n++;
        fprintf(f, "   - Số chứng thư số đã dùng để ký: %u\n", n);
}

static void text_put_void(FILE *f, const char *s) {
        (void) text_put(f, s);
}

/* "Kính gửi:" and the addressees, one a line (after newline), each written with put; dots when none. */
static void
put_addressees(const AuditReport *rep, FILE *f, const char *newline, void (*put)(FILE *, const char *)) {
        fprintf(f, "Kính gửi:");
        if (strv_length(rep->addressees) == 0)
                fprintf(f, " ……");
        STRV_FOREACH (to, rep->addressees) {
                fprintf(f, "%s- ", to == rep->addressees ? " " : newline);
                put(f, *to);
                fprintf(f, "%s", to[1] ? ";" : ".");
        }
}

int audit_report_write_text(const AuditReport *rep, FILE *f) {
        char a[16], b[16], due[16], dl[16], title[32];
        const AuditReportWindow *w = &rep->w;

        fmt_date(w->first, a);
        fmt_date(w->last, b);
        fmt_date(w->due, due);
        fmt_date(w->deadline, dl);
        period_title(rep, title, sizeof(title));

        fprintf(f, "CƠ QUAN, ĐƠN VỊ CẤP TRÊN\n");
        text_put(f, rep->org ?: "CƠ QUAN, ĐƠN VỊ");
        fprintf(f, "\nSố: …/BC-…\n\n");
        fprintf(f, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n\n");
        text_put(f, rep->place ?: "……");
        fprintf(f, ", ngày …… tháng …… năm %d\n\n", w->annual ? w->year + 1 : w->year);
        fprintf(f, "BÁO CÁO\nTình hình quản lý và sử dụng chứng thư số, chữ ký số %s\n\n", title);
        put_addressees(rep, f, "\n          ", text_put_void);
        fprintf(f, "\n\n");
        fprintf(f, "Thời gian chốt số liệu: từ ngày %s đến ngày %s (giờ Việt Nam, UTC+7).\n", a, b);
        fprintf(f, "Thời hạn gửi báo cáo: %s %s", weekday_vi(audit_weekday(w->deadline)), dl);
        if (audit_date_to_days(w->deadline) != audit_date_to_days(w->due))
                fprintf(f, " (ngày %s là ngày nghỉ, chuyển sang ngày làm việc tiếp theo)", due);
        fprintf(f, ".\n");
        if (rep->integrity) {
                fprintf(f, "Nhật ký ký số: ");
                text_put(f, rep->integrity);
                fprintf(f, "\n");
        }
        if (rep->bad_records > 0)
                fprintf(f, "Lưu ý: %" PRIu64 " dòng nhật ký không đọc được đã bị bỏ qua.\n",
                        rep->bad_records);

        fprintf(f,
                "\nI. Đánh giá tình hình và kết quả triển khai quản lý và sử dụng chứng thư số, chữ ký số tại "
                "cơ quan, tổ chức\n");
        fprintf(f, "1. Đặc điểm tình hình\n");
        fprintf(f, "   - Số thiết bị lưu khóa bí mật (USB token) đã sử dụng: %zu\n", rep->n_tokens);
        fprintf(f, "   - Số chứng thư số đã sử dụng: %zu\n", rep->n_certs);
        fprintf(f, "   - Tổng số lượt ký số thành công: %" PRIu64 "\n", rep->sig_total);
        fprintf(f, "2. Kết quả triển khai\n");
        fprintf(f,
                "a) Kết quả triển khai quản lý và sử dụng chứng thư số, chữ ký số chuyên dùng Chính phủ\n");
        text_group(rep, f, 0);
        fprintf(f,
                "b) Kết quả triển khai quản lý và sử dụng chứng thư số, chữ ký số do cơ quan, tổ chức khác "
                "cung cấp\n");
        text_group(rep, f, 1);
        fprintf(f, "(Có số liệu chi tiết tại Phụ biểu kèm theo).\n");

        fprintf(f, "\nII. Những khó khăn, vướng mắc chủ yếu và nguyên nhân\n");
        fprintf(f, "1. Khó khăn, vướng mắc\n");
        fprintf(f, "   - Số lượt ký số bị từ chối: %" PRIu64 "\n", rep->denied);
        for (size_t i = 0; i < rep->deny_reasons.n; i++) {
                const Counter *c = &rep->deny_reasons.items[i];
                fprintf(f, "     + ");
                text_put(f, counter_label(c, false));
                if (c->extra) {
                        fprintf(f, " (");
                        text_put(f, c->extra);
                        fprintf(f, ")");
                }
                fprintf(f, ": %" PRIu64 "\n", c->n);
        }
        fprintf(f, "   - Số lượt ký số không thành công: %" PRIu64 "\n", rep->failed);
        for (size_t i = 0; i < rep->fail_reasons.n; i++) {
                fprintf(f, "     + ");
                text_put(f, counter_label(&rep->fail_reasons.items[i], true));
                fprintf(f, ": %" PRIu64 "\n", rep->fail_reasons.items[i].n);
        }
        fprintf(f, "   - Số lượt ký số bị hủy: %" PRIu64 "\n", rep->cancelled);
        fprintf(f, "   - Số lần nhập sai mã PIN: %" PRIu64 "\n", rep->pin_failures);
        if (rep->helper_crashes > 0)
                fprintf(f, "   - Số lần trình điều khiển thiết bị ký số gặp lỗi: %" PRIu64 "\n",
                        rep->helper_crashes);
        fprintf(f, "   - Chứng thư số hết hạn, bị thu hồi hoặc sắp hết hạn (trong vòng %d ngày):\n",
                AUDIT_EXPIRING_DAYS);
        unsigned n_bad = 0;
        for (size_t i = 0; i < rep->n_certs; i++) {
                int64_t left;
                CertState s = cert_state(rep, &rep->certs[i], &left);
                if (s == CERT_OK)
                        continue;
                n_bad++;
                fprintf(f, "     + ");
                text_put(f, strna(rep->certs[i].subject));
                fprintf(f, " (số hiệu ");
                text_put(f, strna(rep->certs[i].serial));
                fprintf(f, "): %s", cert_state_vi(s));
                if (s == CERT_EXPIRING)
                        fprintf(f, ", còn %" PRId64 " ngày", left);
                fprintf(f, "\n");
        }
        if (n_bad == 0)
                fprintf(f, "     + Không có.\n");
        fprintf(f, "2. Nguyên nhân\n   (Đơn vị bổ sung.)\n");

        fprintf(f, "\nIII. Nhiệm vụ và giải pháp thực hiện trong thời gian tới\n");
        fprintf(f,
                "1. Các nội dung dự kiến triển khai, thực hiện trong thời gian tới\n   (Đơn vị bổ sung.)\n");
        fprintf(f,
                "2. Phương hướng, giải pháp nhằm tăng cường sử dụng chữ ký số chuyên dùng Chính phủ trong hoạt "
                "động của cơ quan, đơn vị\n   (Đơn vị bổ sung.)\n");
        fprintf(f,
                "3. Các chương trình, dự án công nghệ thông tin nhằm tăng cường sử dụng chữ ký số phục vụ phát "
                "triển Chính phủ điện tử, hướng tới Chính phủ số\n   (Đơn vị bổ sung.)\n");
        fprintf(f,
                "4. Nhu cầu triển khai sử dụng chứng thư số và dịch vụ chứng thực chữ ký số chuyên dùng Chính "
                "phủ\n");
        if (w->annual)
                fprintf(f, "   Nhu cầu hàng năm và giai đoạn 3 – 5 năm: (Đơn vị bổ sung.)\n");
        else
                fprintf(f, "   (Đơn vị bổ sung.)\n");
        fprintf(f, "\nIV. Đề xuất, kiến nghị\n   (Đơn vị bổ sung.)\n\n");
        fprintf(f, "Nơi nhận:                                   ");
        text_put(f, rep->signer_title ?: "THỦ TRƯỞNG CƠ QUAN/ĐƠN VỊ");
        fprintf(f, "\n");
        fprintf(f, "- Như trên;\n- Lưu: VT.\n");

        fprintf(f, "\nPHỤ BIỂU: SỐ LIỆU CHI TIẾT (%s, từ %s đến %s)\n", title, a, b);
        fprintf(f, "\n1. Số lượt ký số theo vai trò\n");
        fprintf(f, "   ");
        text_pad(f, "Vai trò", 48);
        fputc(' ', f);
        text_rjust(f, "CA Chính phủ", 12);
        fputc(' ', f);
        text_rjust(f, "CA khác", 12);
        fputc('\n', f);
        for (unsigned i = 0; i < _ROLE_MAX; i++) {
                fprintf(f, "   ");
                text_pad(f, role_vi[i], 48);
                fprintf(f, " %12" PRIu64 " %12" PRIu64 "\n", rep->sig_role[0][i], rep->sig_role[1][i]);
        }
        fprintf(f, "\n2. Chứng thư số đã sử dụng\n");
        for (size_t i = 0; i < rep->n_certs; i++) {
                const CertInfo *c = &rep->certs[i];
                int64_t left;
                CertState s = cert_state(rep, c, &left);
                fprintf(f, "   %zu. ", i + 1);
                text_put(f, strna(c->subject));
                fprintf(f, "\n      Số hiệu: ");
                text_put(f, strna(c->serial));
                fprintf(f, "; Loại: %s; Nơi cấp: ", kind_vi[kind_index(c->kind)]);
                text_put(f, strna(c->issuer));
                fprintf(f, " (%s)\n      Hết hạn: ", c->gov ? "CA chuyên dùng Chính phủ" : "CA khác");
                text_put(f, strna(c->not_after));
                fprintf(f,
                        "; Tình trạng: %s; Số lượt ký: %" PRIu64 "; Bị từ chối: %" PRIu64
                        "; Không thành công: %" PRIu64 "\n",
                        cert_state_vi(s), c->signatures, c->denied, c->failed);
        }
        if (rep->n_certs == 0)
                fprintf(f, "   Không có.\n");
        fprintf(f, "\n3. Thiết bị lưu khóa bí mật (USB token) đã sử dụng\n");
        for (size_t i = 0; i < rep->n_tokens; i++) {
                const TokenInfo *t = &rep->tokens[i];
                fprintf(f, "   %zu. ", i + 1);
                text_put(f, strna(t->label));
                fprintf(f, " (số sê-ri ");
                text_put(f, strna(t->serial));
                if (t->manufacturer || t->model) {
                        fprintf(f, ", ");
                        text_put(f, t->manufacturer);
                        fprintf(f, t->manufacturer && t->model ? " " : "");
                        text_put(f, t->model);
                }
                fprintf(f, "): %" PRIu64 " lượt ký số", t->signatures);
                if (t->pin_failures > 0)
                        fprintf(f, ", %" PRIu64 " lần nhập sai mã PIN", t->pin_failures);
                fprintf(f, "\n");
        }
        if (rep->n_tokens == 0)
                fprintf(f, "   Không có.\n");
        return report_certs_write_text(&rep->register_certs, rep->w.end_ms, f);
}

/* ---- HTML ---- */

static void html_chart(const AuditReport *rep, FILE *f) {
        uint64_t max = 1;
        const unsigned bar = rep->n_days > 40 ? 3 : 18, h = 160, left = 40, bottom = 30;
        unsigned width = left + (unsigned) rep->n_days * bar + 10;

        for (size_t i = 0; i < rep->n_days; i++)
                max = MAX(max, rep->per_day[i]);
        fprintf(f,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" role=\"img\" "
                "aria-label=\"Số lượt ký số theo ngày\">\n",
                width, h + bottom);
        fprintf(f, "<line x1=\"%u\" y1=\"0\" x2=\"%u\" y2=\"%u\" stroke=\"#444\"/>\n", left, left, h);
        fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#444\"/>\n", left, h, width, h);
        fprintf(f, "<text x=\"2\" y=\"12\" font-size=\"10\">%" PRIu64 "</text>\n", max);
        fprintf(f, "<text x=\"2\" y=\"%u\" font-size=\"10\">0</text>\n", h);
        int64_t first = audit_date_to_days(rep->w.first);
        for (size_t i = 0; i < rep->n_days; i++) {
                AuditDate d = audit_date_from_days(first + (int64_t) i);
                unsigned bh = (unsigned) (rep->per_day[i] * (h - 10) / max);
                unsigned x = left + (unsigned) i * bar + 1;
                if (rep->per_day[i] > 0)
                        fprintf(f,
                                "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"#1f5fa8\"><title>%02u/%02u/%04d: %" PRIu64
                                "</title></rect>\n",
                                x, h - bh, bar > 2 ? bar - 1 : 1, bh, d.day, d.month, d.year,
                                rep->per_day[i]);
                if (d.day == 1 || d.day == 15 || i == 0)
                        fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"10\">%02u/%02u</text>\n", x, h + 14,
                                d.day, d.month);
        }
        fprintf(f, "</svg>\n");
}

int audit_report_write_html(const AuditReport *rep, FILE *f) {
        char title[32], a[16], b[16], dl[16];
        period_title(rep, title, sizeof(title));
        fmt_date(rep->w.first, a);
        fmt_date(rep->w.last, b);
        fmt_date(rep->w.deadline, dl);

        fprintf(f,
                "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
                "'unsafe-inline'\">\n<title>Báo cáo tình hình quản lý và sử dụng chứng thư số, chữ ký số %s"
                "</title>\n<style>body{font-family:'Times New Roman',serif;max-width:60em;margin:2em auto}"
                "table{border-collapse:collapse}td,th{border:1px solid #888;padding:2px 6px}"
                "td.n{text-align:right}h1{font-size:1.3em;text-align:center}</style>\n</head>\n<body>\n",
                title);
        fprintf(f, "<p>CƠ QUAN, ĐƠN VỊ CẤP TRÊN<br><b>");
        fputs_html(f, rep->org ?: "CƠ QUAN, ĐƠN VỊ");
        fprintf(f, "</b><br>Số: …/BC-…</p>\n");
        fprintf(f, "<p style=\"text-align:center\"><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br>"
                   "<b>Độc lập - Tự do - Hạnh phúc</b></p>\n");
        fprintf(f, "<h1>BÁO CÁO<br>Tình hình quản lý và sử dụng chứng thư số, chữ ký số %s</h1>\n", title);
        fprintf(f, "<p>");
        fputs_html(f, rep->place ?: "……");
        fprintf(f, ", ngày …… tháng …… năm %d</p>\n<p>", rep->w.annual ? rep->w.year + 1 : rep->w.year);
        put_addressees(rep, f, "<br>", fputs_html);
        fprintf(f, "</p>\n");
        fprintf(f,
                "<p>Thời gian chốt số liệu: từ ngày %s đến ngày %s (giờ Việt Nam, UTC+7). Thời hạn gửi báo "
                "cáo: %s.</p>\n",
                a, b, dl);
        if (rep->integrity) {
                fprintf(f, "<p>Nhật ký ký số: ");
                fputs_html(f, rep->integrity);
                fprintf(f, "</p>\n");
        }
        if (rep->bad_records > 0)
                fprintf(f, "<p>Lưu ý: %" PRIu64 " dòng nhật ký không đọc được đã bị bỏ qua.</p>\n",
                        rep->bad_records);
        fprintf(f,
                "<h2>I. Đánh giá tình hình và kết quả triển khai quản lý và sử dụng chứng thư số, chữ ký số "
                "tại cơ quan, tổ chức</h2>\n<h3>1. Đặc điểm tình hình</h3>\n");
        fprintf(f,
                "<p>Số thiết bị lưu khóa bí mật đã sử dụng: %zu. Số chứng thư số đã sử dụng: %zu. Tổng số "
                "lượt ký số thành công: %" PRIu64 ".</p>\n",
                rep->n_tokens, rep->n_certs, rep->sig_total);
        fprintf(f, "<h3>2. Kết quả triển khai</h3>\n<p>Số lượt ký số theo ngày:</p>\n");
        html_chart(rep, f);
        fprintf(f,
                "<table>\n<tr><th>Vai trò</th><th>a) Chuyên dùng Chính phủ</th><th>b) Do cơ quan, tổ chức khác "
                "cung cấp</th></tr>\n");
        for (unsigned i = 0; i < _ROLE_MAX; i++)
                fprintf(f,
                        "<tr><td>%s</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
                        "</td></tr>\n",
                        role_vi[i], rep->sig_role[0][i], rep->sig_role[1][i]);
        for (unsigned i = 0; i < _KIND_MAX; i++)
                fprintf(f,
                        "<tr><td>%s</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
                        "</td></tr>\n",
                        kind_vi[i], rep->sig_kind[0][i], rep->sig_kind[1][i]);
        fprintf(f, "</table>\n");
        (void) report_certs_write_html(&rep->register_certs, rep->w.end_ms, f);
        fprintf(f,
                "<h2>II. Những khó khăn, vướng mắc chủ yếu và nguyên nhân</h2>\n<h3>1. Khó khăn, vướng mắc</h3>\n<ul>\n");
        fprintf(f, "<li>Số lượt ký số bị từ chối: %" PRIu64 "<ul>\n", rep->denied);
        for (size_t i = 0; i < rep->deny_reasons.n; i++) {
                fprintf(f, "<li>");
                fputs_html(f, counter_label(&rep->deny_reasons.items[i], false));
                if (rep->deny_reasons.items[i].extra) {
                        fprintf(f, " (");
                        fputs_html(f, rep->deny_reasons.items[i].extra);
                        fprintf(f, ")");
                }
                fprintf(f, ": %" PRIu64 "</li>\n", rep->deny_reasons.items[i].n);
        }
        fprintf(f, "</ul></li>\n<li>Số lượt ký số không thành công: %" PRIu64 "<ul>\n", rep->failed);
        for (size_t i = 0; i < rep->fail_reasons.n; i++) {
                fprintf(f, "<li>");
                fputs_html(f, counter_label(&rep->fail_reasons.items[i], true));
                fprintf(f, ": %" PRIu64 "</li>\n", rep->fail_reasons.items[i].n);
        }
        fprintf(f,
                "</ul></li>\n<li>Số lượt ký số bị hủy: %" PRIu64
                "</li>\n<li>Số lần nhập sai mã PIN: %" PRIu64 "</li>\n</ul>\n",
                rep->cancelled, rep->pin_failures);
        fprintf(f,
                "<h3>Chứng thư số đã sử dụng</h3>\n<table>\n<tr><th>Chủ thể</th><th>Số hiệu</th><th>Loại</th>"
                "<th>Nơi cấp</th><th>Hết hạn</th><th>Tình trạng</th><th>Lượt ký</th></tr>\n");
        for (size_t i = 0; i < rep->n_certs; i++) {
                const CertInfo *c = &rep->certs[i];
                int64_t left;
                fprintf(f, "<tr><td>");
                fputs_html(f, strna(c->subject));
                fprintf(f, "</td><td>");
                fputs_html(f, strna(c->serial));
                fprintf(f, "</td><td>%s</td><td>", kind_vi[kind_index(c->kind)]);
                fputs_html(f, strna(c->issuer));
                fprintf(f, "</td><td>");
                fputs_html(f, strna(c->not_after));
                fprintf(f, "</td><td>%s</td><td class=\"n\">%" PRIu64 "</td></tr>\n",
                        cert_state_vi(cert_state(rep, c, &left)), c->signatures);
        }
        fprintf(f, "</table>\n<h3>2. Nguyên nhân</h3>\n<p>(Đơn vị bổ sung.)</p>\n");
        fprintf(f,
                "<h2>III. Nhiệm vụ và giải pháp thực hiện trong thời gian tới</h2>\n<p>(Đơn vị bổ sung.)</p>\n");
        fprintf(f, "<h2>IV. Đề xuất, kiến nghị</h2>\n<p>(Đơn vị bổ sung.)</p>\n</body>\n</html>\n");
        return ferror(f) ? -EIO : 0;
}

/* ---- CSV ---- */

static void csv_row(FILE *f, const char *section, const char *name, const char *detail, uint64_t value) {
        audit_csv_field(f, section);
        fputc(',', f);
        audit_csv_field(f, name);
        fputc(',', f);
        audit_csv_field(f, detail);
        fprintf(f, ",%" PRIu64 "\r\n", value);
}

int audit_report_write_csv(const AuditReport *rep, FILE *f) {
        char a[16], b[16], dl[16], buf[64];
        fmt_date(rep->w.first, a);
        fmt_date(rep->w.last, b);
        fmt_date(rep->w.deadline, dl);

        fputs("section,name,detail,value\r\n", f);
        snprintf(buf, sizeof(buf), "%s - %s", a, b);
        csv_row(f, "window", rep->w.annual ? "year" : "month", buf,
                rep->w.annual ? (uint64_t) rep->w.year : rep->w.month);
        csv_row(f, "window", "deadline", dl, 0);
        /* What the text and HTML say above the figures: a spreadsheet made from a broken log shows it. */
        if (rep->integrity)
                csv_row(f, "log", "integrity", rep->integrity, 0);
        csv_row(f, "log", "unreadable-lines", "", rep->bad_records);
        csv_row(f, "signatures", "total", "", rep->sig_total);
        for (unsigned g = 0; g < 2; g++) {
                for (unsigned i = 0; i < _ROLE_MAX; i++)
                        csv_row(f, g == 0 ? "signatures-government-ca" : "signatures-other-ca", "role",
                                role_ids[i], rep->sig_role[g][i]);
                for (unsigned i = 0; i < _KIND_MAX; i++)
                        csv_row(f, g == 0 ? "signatures-government-ca" : "signatures-other-ca", "kind",
                                kind_ids[i], rep->sig_kind[g][i]);
        }
        csv_row(f, "denied", "total", "", rep->denied);
        for (size_t i = 0; i < rep->deny_reasons.n; i++)
                csv_row(f, "denied", rep->deny_reasons.items[i].key, rep->deny_reasons.items[i].extra,
                        rep->deny_reasons.items[i].n);
        csv_row(f, "failed", "total", "", rep->failed);
        for (size_t i = 0; i < rep->fail_reasons.n; i++)
                csv_row(f, "failed", rep->fail_reasons.items[i].key, "", rep->fail_reasons.items[i].n);
        csv_row(f, "cancelled", "total", "", rep->cancelled);
        csv_row(f, "pin-failures", "total", "", rep->pin_failures);
        for (size_t i = 0; i < rep->n_certs; i++) {
                int64_t left;
                const CertInfo *c = &rep->certs[i];
                static const char *const states[] = { "valid", "expiring", "expired", "revoked" };
                _cleanup_free_ char *detail = NULL;
                if (asprintf(
                            &detail, "%s|%s|%s|%s|%s|%s", strempty(c->serial), strempty(c->issuer),
                            kind_ids[kind_index(c->kind)], c->gov ? "government" : "other",
                            strempty(c->not_after), states[cert_state(rep, c, &left)]) < 0)
                        return -ENOMEM;
                csv_row(f, "certificate", strempty(c->subject), detail, c->signatures);
        }
        for (size_t i = 0; i < rep->n_tokens; i++)
                csv_row(f, "token", strempty(rep->tokens[i].label), strempty(rep->tokens[i].serial),
                        rep->tokens[i].signatures);
        for (size_t i = 0; i < rep->n_tokens; i++)
                if (rep->tokens[i].pin_failures > 0)
                        csv_row(f, "pin-failures", strempty(rep->tokens[i].label),
                                strempty(rep->tokens[i].serial), rep->tokens[i].pin_failures);
        int64_t first = audit_date_to_days(rep->w.first);
        for (size_t i = 0; i < rep->n_days; i++) {
                AuditDate d = audit_date_from_days(first + (int64_t) i);
                snprintf(buf, sizeof(buf), "%04d-%02u-%02u", d.year, d.month, d.day);
                csv_row(f, "signatures-per-day", buf, "", rep->per_day[i]);
        }
        return report_certs_write_csv(&rep->register_certs, rep->w.end_ms, f);
}
