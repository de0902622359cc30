/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "audit-test-util.h"
#include "audit/audit-report-certs.h"
#include "audit/audit-report.h"

#define FP(c)                                                                                               \
        c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
                c c c c c c c c c c c c c c
static const char fp_leader[] = FP("a");
static const char fp_seal[] = FP("b");
static const char fp_soon[] = FP("c");
static const char fp_root[] = FP("d");

static uint64_t clock_ms;
static uint64_t fake_clock(void *userdata) {
        return clock_ms;
}

static void
append(AuditLog *log, AuditEventType type, const char *fp, const char *subject, const char *status,
       const char *not_after, const char *const *extra) {
        AuditEvent ev = {
                .type = type,
                .message = "test",
                .cert_subject = subject,
                .cert_serial = "10",
                .cert_fingerprint = fp,
                .cert_kind = "personal",
                .cert_not_after = not_after,
                .cert_status = status,
                .role = type == AUDIT_EVENT_SIGN_DONE ? "approve" : NULL,
                .token_label = "leader",
                .extra = extra,
        };
        assert_int_equal(audit_log_append(log, &ev, NULL), 0);
}

/* A December 2026 window (15 Nov to 14 Dec, Vietnam time): one signature, three certificates seen for the
 * first time (one revoked later, one expiring 20 days after the window), a root added to the trust store. */
static char *report_text(char *dir, char **ret_html, char **ret_csv) {
        _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
        AuditLog *log = log_open_ok(path, NULL);
        AuditReportWindow w;
        char end[AUDIT_TIME_LEN + 1];

        assert_int_equal(audit_report_window_month(2026, 12, NULL, &w), 0);
        audit_log_set_clock(log, fake_clock, NULL);
        clock_ms = (uint64_t) w.start_ms + 86400000;
        const char *const holder[] = { "holder", "Nguyễn Văn An", NULL };
        append(log, AUDIT_EVENT_CERT_FIRST_SEEN, fp_leader, "CN=Nguyễn Văn An,O=UBND", "valid",
               "2028-12-01T00:00:00Z", holder);
        append(log, AUDIT_EVENT_SIGN_DONE, fp_leader, "CN=Nguyễn Văn An,O=UBND", "valid",
               "2028-12-01T00:00:00Z", NULL);
        append(log, AUDIT_EVENT_CERT_FIRST_SEEN, fp_seal, "CN=Hoàng Văn Thu Hồi,O=UBND", "valid",
               "2028-12-01T00:00:00Z", NULL);
        append(log, AUDIT_EVENT_CERT_STATUS_CHANGED, fp_seal, "CN=Hoàng Văn Thu Hồi,O=UBND", "revoked",
               "2028-12-01T00:00:00Z", NULL);
        audit_format_time((uint64_t) w.end_ms + 20 * 86400000ULL, end);
        append(log, AUDIT_EVENT_CERT_FIRST_SEEN, fp_soon, "CN=Lê Sắp Hết,O=UBND", "expiring", end, NULL);
        append(log, AUDIT_EVENT_TRUST_ADDED, fp_root, "CN=Root", NULL, "2036-01-01T00:00:00Z", NULL);
        audit_log_free(log);

        AuditReader *rd = NULL;
        AuditReport *rep = NULL;
        assert_int_equal(audit_reader_open(path, &rd), 0);
        assert_int_equal(audit_report_build(rd, &w, NULL, &rep), 0);
        audit_reader_free(rd);
        assert_int_equal(audit_report_n_signatures(rep), 1);

        static const char *const names[] = { "report.txt", "report.html", "report.csv" };
        char *out[3];
        for (unsigned i = 0; i < 3; i++) {
                _cleanup_free_ char *p = path_in(dir, names[i]);
                FILE *f = fopen(p, "w");
                assert_non_null(f);
                assert_int_equal(
                        i == 0   ? audit_report_write_text(rep, f)
                        : i == 1 ? audit_report_write_html(rep, f)
                                 : audit_report_write_csv(rep, f),
                        0);
                assert_int_equal(fclose(f), 0);
                out[i] = file_read(p, NULL);
        }
        audit_report_free(rep);
        *ret_html = out[1];
        *ret_csv = out[2];
        return out[0];
}

static void test_section(void **state) {
        char *dir = tmpdir_new(), *html = NULL, *csv = NULL;
        char *text = report_text(dir, &html, &csv);

        /* Certificates only seen on a token, and the trust store's root, were not used to sign: section 2
         * ("used") keeps listing only the leader's. */
        const char *s2 = strstr(text, "2. Chứng thư số đã sử dụng");
        const char *s3 = strstr(text, "3. Thiết bị lưu khóa");
        assert_non_null(s2);
        assert_non_null(s3);
        _cleanup_free_ char *used = strndup(s2, (size_t) (s3 - s2));
        assert_non_null(strstr(used, "Nguyễn Văn An"));
        assert_null(strstr(used, "Thu Hồi"));
        assert_null(strstr(used, "CN=Root"));

        const char *s4 = strstr(text, "4. Chứng thư số trong kỳ (Quy chế Điều 22.3)");
        if (!s4)
                fail_msg("no register section in:\n%s", text);
        assert_non_null(strstr(s4, "Đang sử dụng: 3; mới: 3; bị thu hồi: 1; sắp hết hạn trong 60 ngày: 1"));
        assert_non_null(strstr(s4, "b) Chứng thư số bị thu hồi trong kỳ\n      1. Hoàng Văn Thu Hồi;"));
        assert_non_null(strstr(s4, "Lê Sắp Hết"));
        assert_non_null(strstr(s4, "(còn 20 ngày)"));
        assert_null(strstr(s4, "Root"));

        assert_non_null(strstr(html, "<h3>Chứng thư số trong kỳ (Quy chế Điều 22.3)</h3>"));
        assert_non_null(strstr(html, "<td>Hoàng Văn Thu Hồi</td>"));
        assert_non_null(strstr(csv, "register,revoked,,1\r\n"));
        assert_non_null(strstr(csv, "register,in-use,,3\r\n"));
        free(text);
        free(html);
        free(csv);
        tmpdir_remove(dir);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_section),
});
