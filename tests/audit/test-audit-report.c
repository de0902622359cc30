/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "audit-test-util.h"
#include "audit/audit-report.h"

static void expect_date(AuditDate d, int y, unsigned m, unsigned day) {
        if (d.year != y || d.month != m || d.day != day)
                fail_msg("got %04d-%02u-%02u, expected %04d-%02u-%02u", d.year, d.month, d.day, y, m, day);
}

static void test_weekday(void **state) {
        /* Known weekdays (checked against a calendar). */
        assert_int_equal(audit_weekday((AuditDate){ 2026, 11, 24 }), 2); /* Tuesday */
        assert_int_equal(audit_weekday((AuditDate){ 2026, 12, 20 }), 0); /* Sunday */
        assert_int_equal(audit_weekday((AuditDate){ 2026, 6, 20 }), 6);  /* Saturday */
        assert_int_equal(audit_weekday((AuditDate){ 2000, 2, 29 }), 2);  /* Tuesday */
        assert_int_equal(audit_weekday((AuditDate){ 1970, 1, 1 }), 4);   /* Thursday */
}

static void test_month_windows(void **state) {
        AuditReportWindow w;
        char t[AUDIT_TIME_LEN + 1];

        /* January reaches back into December of the previous year. */
        assert_int_equal(audit_report_window_month(2026, 1, NULL, &w), 0);
        expect_date(w.first, 2025, 12, 15);
        expect_date(w.last, 2026, 1, 14);
        expect_date(w.due, 2026, 1, 20);
        expect_date(w.deadline, 2026, 1, 20); /* a Tuesday */
        audit_format_time((uint64_t) w.start_ms, t);
        assert_string_equal(t, "2025-12-14T17:00:00.000Z"); /* 15 Dec 00:00 in Vietnam */
        audit_format_time((uint64_t) w.end_ms, t);
        assert_string_equal(t, "2026-01-14T17:00:00.000Z"); /* 15 Jan 00:00 in Vietnam, excluded */

        /* March: the window starts in February (a short month). */
        assert_int_equal(audit_report_window_month(2026, 3, NULL, &w), 0);
        expect_date(w.first, 2026, 2, 15);
        expect_date(w.last, 2026, 3, 14);
        assert_int_equal(audit_report_window_month(2026, 0, NULL, &w), -EINVAL);
        assert_int_equal(audit_report_window_month(2026, 13, NULL, &w), -EINVAL);

        /* The 20th on a Sunday and on a Saturday: the Monday after. */
        assert_int_equal(audit_report_window_month(2026, 12, NULL, &w), 0);
        expect_date(w.deadline, 2026, 12, 21);
        assert_int_equal(audit_report_window_month(2026, 6, NULL, &w), 0);
        expect_date(w.deadline, 2026, 6, 22);
        assert_int_equal(audit_report_window_month(2027, 3, NULL, &w), 0);
        expect_date(w.deadline, 2027, 3, 22);
}

static void test_year_windows(void **state) {
        AuditReportWindow w;
        assert_int_equal(audit_report_window_year(2026, NULL, &w), 0);
        assert_true(w.annual);
        expect_date(w.first, 2025, 12, 15);
        expect_date(w.last, 2026, 12, 14);
        expect_date(w.due, 2027, 1, 20);
        expect_date(w.deadline, 2027, 1, 20);
        char t[AUDIT_TIME_LEN + 1];
        audit_format_time((uint64_t) w.start_ms, t);
        assert_string_equal(t, "2025-12-14T17:00:00.000Z"); /* 15 Dec 2025 00:00 in Vietnam */
        audit_format_time((uint64_t) w.end_ms, t);
        assert_string_equal(t, "2026-12-14T17:00:00.000Z"); /* 15 Dec 2026 00:00 in Vietnam, excluded */

        /* Leap years: a report over February 2028 and the annual one ending in 2028. */
        assert_int_equal(audit_report_window_month(2028, 3, NULL, &w), 0);
        expect_date(w.first, 2028, 2, 15);
        assert_int_equal(
                audit_date_to_days(w.last) - audit_date_to_days(w.first), 28); /* 15 Feb .. 14 Mar */
        assert_int_equal(audit_report_window_year(2028, NULL, &w), 0);
        assert_int_equal(audit_date_to_days(w.last) - audit_date_to_days(w.first), 365); /* 366 days */
        expect_date(w.deadline, 2029, 1, 22); /* 20 Jan 2029: Saturday */
}

static void test_holidays(void **state) {
        AuditHolidays *h = NULL;
        AuditReportWindow w;
        unsigned bad = 0;
        const char text[] = "# test holidays\n"
                            "2026-11-20   # a Friday: the next working day is Monday the 23rd\n"
                            "\n"
                            "  2026-10-20\n"
                            "*-01-20 # every year\n"
                            "2027-01-21\n";
        assert_int_equal(audit_holidays_parse(text, &h, &bad), 0);

        /* A holiday on the 20th followed by a weekend. */
        assert_int_equal(audit_report_window_month(2026, 11, h, &w), 0);
        expect_date(w.due, 2026, 11, 20);
        expect_date(w.deadline, 2026, 11, 23);
        /* A holiday on a Tuesday the 20th. */
        assert_int_equal(audit_report_window_month(2026, 10, h, &w), 0);
        expect_date(w.deadline, 2026, 10, 21);
        /* Annual: 20 and 21 January 2027 are holidays. */
        assert_int_equal(audit_report_window_year(2026, h, &w), 0);
        expect_date(w.deadline, 2027, 1, 22);
        /* The yearly rule applies in other years. */
        assert_int_equal(audit_report_window_year(2027, h, &w), 0);
        expect_date(w.deadline, 2028, 1, 21);
        assert_true(audit_is_holiday(h, (AuditDate){ 2030, 1, 20 }));
        assert_false(audit_is_holiday(h, (AuditDate){ 2030, 1, 21 }));
        audit_holidays_free(h);

        assert_int_equal(audit_holidays_parse("2026-01-01\n2026-02-30\n", &h, &bad), -EBADMSG);
        assert_int_equal(bad, 2);
        assert_int_equal(audit_holidays_parse("tomorrow\n", &h, &bad), -EBADMSG);
        assert_int_equal(bad, 1);
        assert_int_equal(audit_holidays_parse("*-13-01\n", &h, &bad), -EBADMSG);

        /* A file saved by an editor that starts UTF-8 with a byte order mark (Windows Notepad): the mark
         * is not part of the first date. */
        assert_int_equal(
                audit_holidays_parse(
                        "\xef\xbb\xbf"
                        "2026-11-20\n",
                        &h, &bad),
                0);
        assert_true(audit_is_holiday(h, (AuditDate){ 2026, 11, 20 }));
        audit_holidays_free(h);

        /* The shipped sample parses. */
        const char *src = test_getenv_or_skip("KYSO_SOURCE_ROOT");
        _cleanup_free_ char *sample = NULL;
        assert_true(asprintf(&sample, "%s/audit/holidays-vn.example", src) > 0);
        assert_int_equal(audit_holidays_load(sample, &h, &bad), 0);
        assert_true(audit_is_holiday(h, (AuditDate){ 2031, 9, 2 }));
        assert_true(audit_is_holiday(h, (AuditDate){ 2031, 4, 30 }));
        audit_holidays_free(h);
}

static uint64_t clock_ms;
static uint64_t test_clock(void *userdata) {
        return clock_ms;
}

static void at(AuditLog *log, const char *time, AuditEvent *ev) {
        int64_t ms;
        assert_int_equal(audit_parse_time(time, &ms), 0);
        clock_ms = (uint64_t) ms;
        assert_int_equal(audit_log_append(log, ev, NULL), 0);
}

/* A new log at path whose records get the times at() gives. */
static AuditLog *report_log_open(const char *path) {
        AuditLog *log = log_open_ok(path, NULL);
        audit_log_set_clock(log, test_clock, NULL);
        return log;
}

/* The report of the log at path over w, with options o (NULL: none). */
static AuditReport *report_build(const char *path, const AuditReportWindow *w, const AuditReportOptions *o) {
        AuditReader *r;
        AuditReport *rep;
        assert_int_equal(audit_reader_open(path, &r), 0);
        assert_int_equal(audit_report_build(r, w, o, &rep), 0);
        audit_reader_free(r);
        return rep;
}

static char *make_report_log(char *dir) {
        char *path = path_in(dir, "audit.jsonl");
        AuditLog *log = report_log_open(path);
        AuditEvent gov = {
                .type = AUDIT_EVENT_SIGN_DONE,
                .document = "QĐ-12.pdf",
                .cert_subject = "CN=Nguyễn Văn A",
                .cert_issuer = "CN=CA phục vụ các cơ quan Nhà nước G2,O=Ban Cơ yếu Chính phủ,C=VN",
                .cert_serial = "01",
                .cert_fingerprint = "aa",
                .cert_kind = "personal",
                .cert_not_after =
                        "2026-12-20T00:00:00Z", /* 35 days and 7 hours after the window: expiring */
                .token_serial = "TK1",
                .token_label = "Token lãnh đạo",
                .role = "approve",
        };
        AuditEvent other = {
                .type = AUDIT_EVENT_SIGN_DONE,
                .document = "CV-3.pdf",
                .cert_subject = "CN=UBND phường Uông Bí",
                .cert_issuer = "CN=Some Public CA,O=Public CA JSC,C=VN",
                .cert_serial = "02",
                .cert_fingerprint = "bb",
                .cert_kind = "organization",
                .cert_not_after = "2030-01-01T00:00:00Z",
                .cert_status = "revoked",
                .token_serial = "TK2",
                .role = "issue",
        };
        AuditEvent denied = {
                .type = AUDIT_EVENT_SIGN_DENIED,
                .cert_subject = "CN=UBND phường Uông Bí",
                .cert_fingerprint = "bb",
                .role = "issue",
                .decision = "denied",
                .reason = "Thiếu chữ ký, \"lãnh đạo\"",
                .article = "Điều 21.4",
        };
        AuditEvent failed = { .type = AUDIT_EVENT_SIGN_FAILED, .reason = "Token removed" };
        AuditEvent pin = { .type = AUDIT_EVENT_PIN_FAILURE, .token_serial = "TK1" };

        at(log, "2026-10-14T16:59:59.999Z", &gov);   /* 14 Oct 23:59 VN: the previous period */
        at(log, "2026-10-14T17:00:00.000Z", &gov);   /* 15 Oct 00:00 VN: first moment */
        at(log, "2026-10-20T03:00:00.000Z", &other); /* in */
        at(log, "2026-10-21T03:00:00.000Z", &denied);
        at(log, "2026-10-22T03:00:00.000Z", &failed);
        at(log, "2026-10-22T04:00:00.000Z", &pin);
        at(log, "2026-11-14T16:59:59.999Z", &gov); /* 14 Nov 23:59:59.999 VN: last moment */
        at(log, "2026-11-14T17:00:00.000Z", &gov); /* 15 Nov VN: the next period */
        audit_log_free(log);
        return path;
}

/* The stream writes into the caller's own variable: a local buffer pointer handed to open_memstream() and
 * returned by value looks, once inlined, like a pointer to that local outliving it (GCC 12,
 * -Wdangling-pointer). */
static void render(AuditReport *rep, int (*writer)(const AuditReport *, FILE *), char **ret) {
        size_t len = 0;
        FILE *m = open_memstream(ret, &len);
        assert_non_null(m);
        assert_int_equal(writer(rep, m), 0);
        assert_int_equal(fclose(m), 0);
}

static void test_report(void **state) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *path = make_report_log(dir);
        AuditReportWindow w;
        AuditReport *rep;

        assert_int_equal(audit_report_window_month(2026, 11, NULL, &w), 0);
        AuditReportOptions o = {
                .org = "UBND <script>alert(1)</script> & Co",
                .integrity = "toàn vẹn",
                .place = "Uông Bí",
                .addressees = (const char *const[]){ "UBND phường Uông Bí", "Phòng Văn hóa - Xã hội", NULL },
        };
        rep = report_build(path, &w, &o);

        assert_int_equal(audit_report_n_signatures(rep), 3);
        assert_int_equal(audit_report_n_signatures_gov(rep), 2);
        assert_int_equal(audit_report_n_denied(rep), 1);
        assert_int_equal(audit_report_n_failed(rep), 1);
        assert_int_equal(audit_report_n_bad_records(rep), 0);

        _cleanup_free_ char *text = NULL;
        render(rep, audit_report_write_text, &text);
        assert_true(audit_utf8_valid(text, strlen(text)));
        static const char *const headings[] = {
                "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                "Độc lập - Tự do - Hạnh phúc",
                "BÁO CÁO\nTình hình quản lý và sử dụng chứng thư số, chữ ký số tháng 11/2026",
                "Kính gửi: - UBND phường Uông Bí;",
                "từ ngày 15/10/2026 đến ngày 14/11/2026 (giờ Việt Nam, UTC+7)",
                "Thời hạn gửi báo cáo: Thứ Sáu 20/11/2026.",
                "I. Đánh giá tình hình và kết quả triển khai quản lý và sử dụng chứng thư số, chữ ký số tại cơ "
                "quan, tổ chức",
                "1. Đặc điểm tình hình",
                "2. Kết quả triển khai",
                "a) Kết quả triển khai quản lý và sử dụng chứng thư số, chữ ký số chuyên dùng Chính phủ\n   - Tổng "
                "số lượt ký số: 2",
                "b) Kết quả triển khai quản lý và sử dụng chứng thư số, chữ ký số do cơ quan, tổ chức khác cung "
                "cấp\n   - Tổng số lượt ký số: 1",
                "(Có số liệu chi tiết tại Phụ biểu kèm theo).",
                "II. Những khó khăn, vướng mắc chủ yếu và nguyên nhân",
                "Số lượt ký số bị từ chối: 1",
                "Thiếu chữ ký, \"lãnh đạo\" (Điều 21.4): 1",
                "Số lần nhập sai mã PIN: 1",
                "CN=Nguyễn Văn A (số hiệu 01): sắp hết hạn (≤ 60 ngày), còn 35 ngày",
                "CN=UBND phường Uông Bí (số hiệu 02): đã bị thu hồi",
                "III. Nhiệm vụ và giải pháp thực hiện trong thời gian tới",
                "IV. Đề xuất, kiến nghị",
                "THỦ TRƯỞNG CƠ QUAN/ĐƠN VỊ",
                "PHỤ BIỂU",
        };
        for (size_t i = 0; i < ELEMENTSOF(headings); i++)
                if (!strstr(text, headings[i]))
                        fail_msg("text report lacks: %s\n----\n%s", headings[i], text);
        /* Monthly: the 3-5 year needs line belongs to the annual report only. */
        assert_null(strstr(text, "giai đoạn 3 – 5 năm"));

        _cleanup_free_ char *html = NULL;
        render(rep, audit_report_write_html, &html);
        assert_true(audit_utf8_valid(html, strlen(html)));
        assert_null(strstr(html, "<script>"));
        assert_non_null(strstr(html, "UBND &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
        assert_non_null(strstr(html, "<svg"));
        assert_non_null(strstr(html, "<title>20/10/2026: 1</title>"));
        assert_null(strstr(html, "src="));
        assert_null(strstr(html, "href="));
        assert_non_null(strstr(html, "&quot;lãnh đạo&quot;"));

        _cleanup_free_ char *csv = NULL;
        render(rep, audit_report_write_csv, &csv);
        assert_true(audit_utf8_valid(csv, strlen(csv)));
        assert_non_null(strstr(csv, "section,name,detail,value\r\n"));
        assert_non_null(strstr(csv, "signatures,total,,3\r\n"));
        assert_non_null(strstr(csv, "signatures-government-ca,role,approve,2\r\n"));
        assert_non_null(strstr(csv, "signatures-other-ca,role,issue,1\r\n"));
        assert_non_null(strstr(csv, "denied,\"Thiếu chữ ký, \"\"lãnh đạo\"\"\",Điều 21.4,1\r\n"));
        assert_non_null(strstr(csv, "signatures-per-day,2026-10-15,,1\r\n"));
        assert_non_null(strstr(csv, "signatures-per-day,2026-11-14,,1\r\n"));
        audit_report_free(rep);

        /* The annual report of 2026 counts all eight records' signatures: 15 Dec 2025 .. 14 Dec 2026. */
        assert_int_equal(audit_report_window_year(2026, NULL, &w), 0);
        rep = report_build(path, &w, NULL);
        assert_int_equal(audit_report_n_signatures(rep), 5);
        _cleanup_free_ char *annual = NULL;
        render(rep, audit_report_write_text, &annual);
        assert_non_null(strstr(annual, "chữ ký số năm 2026"));
        assert_non_null(strstr(annual, "giai đoạn 3 – 5 năm"));
        assert_non_null(strstr(annual, "Thời hạn gửi báo cáo: Thứ Tư 20/01/2027."));
        audit_report_free(rep);
        tmpdir_remove(dir);
}

/* Any ward: the place, the addressees and the signer's title are the options' (from the policy's [report]
 * or kysoctl), nothing of Uông Bí is left when none is given; refusals are counted by their code, not by
 * their text with names in it, and older records without a code by their text. */
static void test_report_any_ward(void **state) {
        const char *path = log_path(state);
        AuditLog *log = report_log_open(path);
        AuditEvent a = {
                .type = AUDIT_EVENT_SIGN_DENIED,
                .role = "approve",
                .reason = "Signing in the role 'approve' needs a personal certificate, but UBND xã A is ...",
                .article = "Art. 2.6",
                .extra = (const char *const[]){ "reason_code", "role-needs-personal", "reason_certificate",
                                                "UBND xã A", NULL },
        };
        AuditEvent b = a;
        b.reason = "Ký với vai trò 'approve' cần chứng thư số cá nhân, nhưng UBND xã B là ...";
        b.extra = (const char *const[]){ "reason_code", "role-needs-personal", "reason_certificate",
                                         "UBND xã B", NULL };
        AuditEvent old = { .type = AUDIT_EVENT_SIGN_DENIED, .reason = "Văn bản cũ", .article = "Art. 2.6" };
        AuditEvent f1 = { .type = AUDIT_EVENT_SIGN_FAILED,
                          .reason = "Sai PIN của Nguyễn Văn A",
                          .error = "org.kyso.Error.PinIncorrect" };
        AuditEvent f2 = { .type = AUDIT_EVENT_SIGN_FAILED,
                          .reason = "Sai PIN của Trần Thị B",
                          .error = "org.kyso.Error.PinIncorrect" };
        at(log, "2026-10-21T03:00:00.000Z", &a);
        at(log, "2026-10-21T04:00:00.000Z", &b);
        at(log, "2026-10-21T05:00:00.000Z", &old);
        at(log, "2026-10-21T06:00:00.000Z", &f1);
        at(log, "2026-10-21T07:00:00.000Z", &f2);
        audit_log_free(log);

        AuditReportWindow w;
        AuditReport *rep;
        assert_int_equal(audit_report_window_month(2026, 11, NULL, &w), 0);
        AuditReportOptions o = {
                .org = "UBND xã Tân Lập",
                .place = "Tân Lập",
                .addressees = (const char *const[]){ "UBND huyện Đan Phượng", NULL },
                .signer_title = "CHỦ TỊCH",
        };
        rep = report_build(path, &w, &o);
        _cleanup_free_ char *text = NULL, *html = NULL, *csv = NULL;
        render(rep, audit_report_write_text, &text);
        render(rep, audit_report_write_html, &html);
        render(rep, audit_report_write_csv, &csv);
        audit_report_free(rep);
        assert_null(strstr(text, "Uông Bí"));
        assert_null(strstr(html, "Uông Bí"));
        assert_non_null(strstr(text, "Tân Lập, ngày …… tháng …… năm 2026"));
        assert_non_null(strstr(text, "Kính gửi: - UBND huyện Đan Phượng.\n"));
        assert_non_null(strstr(text, "CHỦ TỊCH\n"));
        assert_non_null(strstr(html, "Kính gửi: - UBND huyện Đan Phượng.</p>"));
        /* Two refusals with the same code, whatever names their texts hold: one line, counted twice, under
         * the code's label (this test runs in C: English). */
        assert_non_null(strstr(text, "+ the role needs a personal certificate (Art. 2.6): 2\n"));
        assert_null(strstr(text, "UBND xã A"));
        assert_non_null(strstr(text, "+ Văn bản cũ (Art. 2.6): 1\n"));
        assert_null(strstr(text, "Nguyễn Văn A"));
        assert_non_null(strstr(csv, "denied,role-needs-personal,Art. 2.6,2\r\n"));
        assert_non_null(strstr(csv, "failed,org.kyso.Error.PinIncorrect,,2\r\n"));

        /* Without options: the template's dots. */
        rep = report_build(path, &w, NULL);
        _cleanup_free_ char *plain = NULL;
        render(rep, audit_report_write_text, &plain);
        audit_report_free(rep);
        assert_non_null(strstr(plain, "\n……, ngày …… tháng …… năm 2026"));
        assert_non_null(strstr(plain, "Kính gửi: ……\n"));
        assert_non_null(strstr(plain, "THỦ TRƯỞNG CƠ QUAN/ĐƠN VỊ"));
}

/* The monthly report of November 2026 (15 October .. 14 November) of the log at path. */
static AuditReport *report_november(const char *path) {
        AuditReportWindow w;
        assert_int_equal(audit_report_window_month(2026, 11, NULL, &w), 0);
        return report_build(path, &w, NULL);
}

/* Display columns of a UTF-8 string: code points (the report's Vietnamese letters are precomposed). */
static size_t columns(const char *s, size_t n) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
                if (((unsigned char) s[i] & 0xc0) != 0x80)
                        c++;
        return c;
}

/* The appendix's role table: every row's first number starts in the same display column, whatever the
 * Vietnamese role names' byte lengths; a reason with line breaks stays on its own line. */
static void test_report_text_layout(void **state) {
        const char *path = log_path(state);
        AuditLog *log = report_log_open(path);
        AuditEvent denied = {
                .type = AUDIT_EVENT_SIGN_DENIED,
                .role = "issue",
                .reason = "Thiếu chữ ký\nlãnh đạo\r\n\tdòng ba",
                .article = "Điều\n21.4",
        };
        AuditEvent failed = { .type = AUDIT_EVENT_SIGN_FAILED, .reason = "Lỗi\nthiết bị" };
        at(log, "2026-10-21T03:00:00.000Z", &denied);
        at(log, "2026-10-21T04:00:00.000Z", &failed);
        audit_log_free(log);

        AuditReport *rep = report_november(path);
        _cleanup_free_ char *text = NULL;
        render(rep, audit_report_write_text, &text);
        audit_report_free(rep);

        const char *table = strstr(text, "1. Số lượt ký số theo vai trò\n");
        assert_non_null(table);
        const char *p = strchr(table, '\n') + 1;
        size_t first_col = 0;
        for (unsigned row = 0; row < 7; row++) {
                const char *eol = strchr(p, '\n');
                assert_non_null(eol);
                /* The first column of figures (right-aligned): where it ends. It follows the indent and the
                 * name column after at least two blanks. */
                assert_memory_equal(p, "   ", 3);
                const char *gap = strstr(p + 3, "  ");
                while (gap && gap < eol && gap[2] == ' ')
                        gap++;
                assert_true(gap && gap < eol);
                const char *end = gap + 2;
                while (end < eol && *end != ' ')
                        end++;
                if (row == 0) /* the header's first column is "CA Chính phủ" */
                        end = strstr(gap, "phủ") + strlen("phủ");
                size_t col = columns(p, (size_t) (end - p));
                if (row == 0)
                        first_col = col;
                else if (col != first_col)
                        fail_msg(
                                "row %u's figures end at column %zu, the header's at %zu:\n%.*s", row, col,
                                first_col, (int) (strstr(table, "\n2.") - table), table);
                p = eol + 1;
        }
        /* Line breaks and tabs inside log strings are folded into spaces. */
        assert_non_null(strstr(text, "     + Thiếu chữ ký lãnh đạo dòng ba (Điều 21.4): 1\n"));
        assert_non_null(strstr(text, "     + Lỗi thiết bị: 1\n"));
}

#define SOFTHSM_URI(serial, label) \
        "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=" serial ";token=" label

/* One physical token is one entry, whichever records name it and however: token-added with serial, URI and
 * label; sign-done with URI and label only, or with everything; pin-failure (older agents) with the URI
 * under "data". Two tokens with the same label stay two. */
static void test_report_tokens(void **state) {
        const char *path = log_path(state);
        AuditLog *log = report_log_open(path);

        AuditEvent added = {
                .type = AUDIT_EVENT_TOKEN_ADDED,
                .token_uri = SOFTHSM_URI("5e1f00aa", "leader"),
                .token_label = "leader",
                .token_serial = "5e1f00aa",
        };
        AuditEvent added2 = {
                .type = AUDIT_EVENT_TOKEN_ADDED,
                .token_uri = SOFTHSM_URI("77aa", "leader"),
                .token_label = "leader",
                .token_serial = "77aa",
        };
        AuditEvent signed_old = {
                .type = AUDIT_EVENT_SIGN_DONE,
                .cert_fingerprint = "aa",
                .token_uri = SOFTHSM_URI("5e1f00aa", "leader"),
                .token_label = "leader",
                .role = "approve",
        };
        AuditEvent signed_new = signed_old;
        signed_new.token_serial = "5e1f00aa";
        signed_new.token_manufacturer = "SoftHSM project";
        signed_new.token_model = "SoftHSM v2";
        AuditEvent signed2 = signed_old;
        signed2.token_uri = SOFTHSM_URI("77aa", "leader");
        const char *pin_extra[] = { "token", SOFTHSM_URI("5e1f00aa", "leader"), "request", "/r/1", NULL };
        AuditEvent pin_old = { .type = AUDIT_EVENT_PIN_FAILURE, .extra = pin_extra };
        AuditEvent pin_new = {
                .type = AUDIT_EVENT_PIN_FAILURE,
                .token_uri = SOFTHSM_URI("5e1f00aa", "leader"),
                .token_label = "leader",
                .token_serial = "5e1f00aa",
        };
        at(log, "2026-10-20T01:00:00.000Z", &added);
        at(log, "2026-10-20T01:00:01.000Z", &added2);
        at(log, "2026-10-20T02:00:00.000Z", &signed_old);
        at(log, "2026-10-20T03:00:00.000Z", &signed_new);
        at(log, "2026-10-20T03:30:00.000Z", &signed2);
        at(log, "2026-10-20T04:00:00.000Z", &pin_old);
        at(log, "2026-10-20T05:00:00.000Z", &pin_new);
        audit_log_free(log);

        AuditReport *rep = report_november(path);
        _cleanup_free_ char *text = NULL;
        render(rep, audit_report_write_text, &text);
        _cleanup_free_ char *csv = NULL;
        render(rep, audit_report_write_csv, &csv);
        if (audit_report_n_tokens(rep) != 2)
                fail_msg("expected 2 tokens, the report has %zu:\n%s", audit_report_n_tokens(rep), csv);
        audit_report_free(rep);
        assert_non_null(strstr(text, "USB token) đã sử dụng: 2\n"));
        assert_non_null(strstr(csv, "token,leader,5e1f00aa,2\r\n"));
        assert_non_null(strstr(csv, "token,leader,77aa,1\r\n"));
        /* The PIN failures are tied to their token. */
        assert_non_null(strstr(csv, "pin-failures,leader,5e1f00aa,2\r\n"));
        assert_non_null(strstr(
                text, "1. leader (số sê-ri 5e1f00aa, SoftHSM project SoftHSM v2): 2 lượt ký số, 2 lần "
                      "nhập sai mã PIN\n"));
}

KYSO_TEST_MAIN_FIXTURE(
        log_dir_setup, log_dir_teardown,
        {
                cmocka_unit_test(test_weekday),
                cmocka_unit_test(test_month_windows),
                cmocka_unit_test(test_year_windows),
                cmocka_unit_test(test_holidays),
                cmocka_unit_test(test_report),
                cmocka_unit_test(test_report_text_layout),
                cmocka_unit_test(test_report_tokens),
                cmocka_unit_test(test_report_any_ward),
        });
