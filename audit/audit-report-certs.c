/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "audit-report-certs.h"
#include "audit-report.h"
#include "audit-show.h"
#include "macro.h"
#include "string-util.h"

#define DAY_SEC INT64_C(86400)

struct ReportCert {
        char *fingerprint, *holder, *serial, *kind, *not_after;
        int64_t not_after_sec; /* 0: not known */
        bool is_new, revoked;
};

typedef enum ReportGroup {
        GROUP_NEW,
        GROUP_REVOKED,
        GROUP_EXPIRING,
        _GROUP_MAX,
} ReportGroup;

static const char *const group_vi[_GROUP_MAX] = {
        [GROUP_NEW] = "Chứng thư số mới (lần đầu ghi nhận trong kỳ)",
        [GROUP_REVOKED] = "Chứng thư số bị thu hồi trong kỳ",
        [GROUP_EXPIRING] = "Chứng thư số sắp hết hạn (trong 60 ngày sau kỳ báo cáo)",
};
static const char *const group_id[_GROUP_MAX] = { "new", "revoked", "expiring" };

void report_certs_done(ReportCerts *rc) {
        for (size_t i = 0; i < rc->n; i++) {
                free(rc->items[i].fingerprint);
                free(rc->items[i].holder);
                free(rc->items[i].serial);
                free(rc->items[i].kind);
                free(rc->items[i].not_after);
        }
        free(rc->items);
        *rc = (ReportCerts){};
}

static const char *str_of(json_object *o, const char *a, const char *b) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, a, &v) || (b && !json_object_object_get_ex(v, b, &v)))
                return NULL;
        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Keeps the first value known. */
static int keep(char **dst, const char *v) {
        if (*dst || !v)
                return 0;
        *dst = strdup(v);
        return *dst ? 0 : -ENOMEM;
}

static char *cn_of(const char *dn) {
        for (const char *p = dn; p && *p; p++)
                if ((p == dn || p[-1] == ',') && startswith(p, "CN=")) {
                        const char *e = strchrnul(p + 3, ',');
                        return strndup(p + 3, (size_t) (e - p - 3));
                }
        return dn ? strdup(dn) : NULL;
}

static int64_t parse_utc(const char *s) {
        struct tm tm = {};
        if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return (int64_t) timegm(&tm);
}

int report_certs_note(ReportCerts *rc, AuditEventType type, json_object *record) {
        bool own = type == AUDIT_EVENT_CERT_FIRST_SEEN || type == AUDIT_EVENT_CERT_STATUS_CHANGED;
        bool sign = type == AUDIT_EVENT_SIGN_DONE || type == AUDIT_EVENT_SIGN_ALLOWED ||
                    type == AUDIT_EVENT_SIGN_DENIED || type == AUDIT_EVENT_SIGN_FAILED;
        int r = type == AUDIT_EVENT_TRUST_ADDED || type == AUDIT_EVENT_TRUST_REMOVED || own;
        const char *fp = str_of(record, "cert", "fingerprint");
        ReportCert *c = NULL;

        if (!(own || sign) || !fp)
                return r;
        for (size_t i = 0; i < rc->n && !c; i++)
                if (streq(rc->items[i].fingerprint, fp))
                        c = &rc->items[i];
        if (!c) {
                /* The copy first: the lookup above compares every counted entry's fingerprint. */
                _cleanup_free_ char *f = strdup(fp);
                if (!f)
                        return -ENOMEM;
                c = ARRAY_APPEND(rc->items, rc->n);
                if (!c)
                        return -ENOMEM;
                c->fingerprint = TAKE_PTR(f);
        }
        const char *holder = str_of(record, "data", "holder");
        _cleanup_free_ char *cn = holder ? NULL : cn_of(str_of(record, "cert", "subject"));
        if (keep(&c->holder, holder ?: cn) < 0 || keep(&c->serial, str_of(record, "cert", "serial")) < 0 ||
            keep(&c->kind, str_of(record, "cert", "kind")) < 0 ||
            keep(&c->not_after, str_of(record, "cert", "not_after")) < 0)
                return -ENOMEM;
        if (c->not_after_sec == 0)
                c->not_after_sec = parse_utc(c->not_after);
        if (type == AUDIT_EVENT_CERT_FIRST_SEEN)
                c->is_new = true;
        if (type == AUDIT_EVENT_CERT_STATUS_CHANGED &&
            streq_ptr(str_of(record, "cert", "status"), "revoked"))
                c->revoked = true;
        return r;
}

static bool in_group(const ReportCert *c, ReportGroup g, int64_t end_sec, int64_t *ret_days) {
        switch (g) {
        case GROUP_NEW:
                return c->is_new;
        case GROUP_REVOKED:
                return c->revoked;
        case GROUP_EXPIRING:
                if (c->revoked || c->not_after_sec <= end_sec ||
                    c->not_after_sec > end_sec + AUDIT_EXPIRING_DAYS * DAY_SEC)
                        return false;
                *ret_days = (c->not_after_sec - end_sec) / DAY_SEC;
                return true;
        default:
                return false;
        }
}

static size_t group_count(const ReportCerts *rc, ReportGroup g, int64_t end_sec) {
        size_t n = 0;
        int64_t days;
        for (size_t i = 0; i < rc->n; i++)
                n += in_group(&rc->items[i], g, end_sec, &days);
        return n;
}

/* Control characters of a record's strings become blanks in the text. */
static void put_clean(FILE *f, const char *s) {
        for (s = strempty(s); *s; s++)
                fputc((unsigned char) *s < 0x20 || *s == 0x7f ? ' ' : *s, f);
}

int report_certs_write_text(const ReportCerts *rc, int64_t end_ms, FILE *f) {
        int64_t end = end_ms / 1000, days = 0;
        fprintf(f, "\n4. Chứng thư số trong kỳ (Quy chế Điều 22.3)\n");
        fprintf(f, "   Đang sử dụng: %zu; mới: %zu; bị thu hồi: %zu; sắp hết hạn trong 60 ngày: %zu\n",
                rc->n, group_count(rc, GROUP_NEW, end), group_count(rc, GROUP_REVOKED, end),
                group_count(rc, GROUP_EXPIRING, end));
        for (unsigned g = 0; g < _GROUP_MAX; g++) {
                size_t k = 0;
                fprintf(f, "   %c) %s\n", 'a' + g, group_vi[g]);
                for (size_t i = 0; i < rc->n; i++) {
                        const ReportCert *c = &rc->items[i];
                        if (!in_group(c, g, end, &days))
                                continue;
                        fprintf(f, "      %zu. ", ++k);
                        put_clean(f, strna(c->holder));
                        fprintf(f, "; Số hiệu: ");
                        put_clean(f, strna(c->serial));
                        fprintf(f, "; Hết hạn: ");
                        put_clean(f, strna(c->not_after));
                        if (g == GROUP_EXPIRING)
                                fprintf(f, " (còn %" PRId64 " ngày)", days);
                        fputc('\n', f);
                }
                if (k == 0)
                        fprintf(f, "      Không có.\n");
        }
        return ferror(f) ? -EIO : 0;
}

int report_certs_write_html(const ReportCerts *rc, int64_t end_ms, FILE *f) {
        int64_t end = end_ms / 1000, days = 0;
        fprintf(f,
                "<h3>Chứng thư số trong kỳ (Quy chế Điều 22.3)</h3>\n<p>Đang sử dụng: %zu; mới: %zu; bị thu hồi: "
                "%zu; sắp hết hạn trong 60 ngày: %zu.</p>\n",
                rc->n, group_count(rc, GROUP_NEW, end), group_count(rc, GROUP_REVOKED, end),
                group_count(rc, GROUP_EXPIRING, end));
        for (unsigned g = 0; g < _GROUP_MAX; g++) {
                if (group_count(rc, g, end) == 0)
                        continue;
                fprintf(f,
                        "<p>%s</p>\n<table>\n<tr><th>Người sở hữu</th><th>Số hiệu</th><th>Hết hạn</th></tr>\n",
                        group_vi[g]);
                for (size_t i = 0; i < rc->n; i++) {
                        const ReportCert *c = &rc->items[i];
                        if (!in_group(c, g, end, &days))
                                continue;
                        fputs("<tr><td>", f);
                        fputs_html(f, c->holder);
                        fputs("</td><td>", f);
                        fputs_html(f, c->serial);
                        fputs("</td><td>", f);
                        fputs_html(f, c->not_after);
                        if (g == GROUP_EXPIRING)
                                fprintf(f, " (còn %" PRId64 " ngày)", days);
                        fputs("</td></tr>\n", f);
                }
                fputs("</table>\n", f);
        }
        return ferror(f) ? -EIO : 0;
}

static void csv_line(FILE *f, const char *name, const char *detail, uint64_t value) {
        audit_csv_field(f, "register");
        fputc(',', f);
        audit_csv_field(f, name);
        fputc(',', f);
        audit_csv_field(f, detail);
        fprintf(f, ",%" PRIu64 "\r\n", value);
}

int report_certs_write_csv(const ReportCerts *rc, int64_t end_ms, FILE *f) {
        int64_t end = end_ms / 1000, days = 0;
        csv_line(f, "in-use", "", rc->n);
        for (unsigned g = 0; g < _GROUP_MAX; g++) {
                csv_line(f, group_id[g], "", group_count(rc, g, end));
                for (size_t i = 0; i < rc->n; i++) {
                        const ReportCert *c = &rc->items[i];
                        _cleanup_free_ char *detail = NULL;
                        if (!in_group(c, g, end, &days))
                                continue;
                        if (asprintf(
                                    &detail, "%s|%s|%s", strempty(c->serial), strempty(c->not_after),
                                    c->fingerprint) < 0)
                                return -ENOMEM;
                        csv_line(f, group_id[g], detail, g == GROUP_EXPIRING ? (uint64_t) days : 1);
                }
        }
        return ferror(f) ? -EIO : 0;
}
