/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fast paths of 'kysoctl audit show' and 'report' (bisection to the window, one pass for verify and the
 * window) against a reading of the whole log: the same output, byte for byte, on logs with rotated files, a
 * torn tail, a line that is not a record, a clock that went backwards, and records on the boundaries. Both
 * commands find their window the same way (bisection, then the lines from there). */
#include "kyso-test.h"

#include "audit-test-util.h"
#include "audit/audit-report.h"
#include "audit/audit-show.h"
#include "audit/audit-window.h"

#define MIN_MS (60LL * 1000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

static uint64_t now_ms;
static uint64_t test_clock(void *userdata) {
        return now_ms;
}

static int64_t ms_of(const char *s) {
        int64_t t;
        assert_int_equal(audit_parse_time(s, &t), 0);
        return t;
}

static void append_at(AuditLog *log, uint64_t t, unsigned i) {
        static const AuditEventType types[] = { AUDIT_EVENT_SIGN_DONE, AUDIT_EVENT_SIGN_DENIED,
                                                AUDIT_EVENT_SIGN_DONE, AUDIT_EVENT_SIGN_FAILED,
                                                AUDIT_EVENT_TOKEN_ADDED };
        static const char *const roles[] = { "approve", "issue", "copy" };
        char doc[64];
        snprintf(doc, sizeof(doc), "Công văn %u.pdf", i);
        AuditEvent ev = test_sign_event(doc);
        ev.type = types[i % ELEMENTSOF(types)];
        ev.sha256_after = NULL;
        ev.token_label = "leader";
        ev.token_serial = "5e1f00aa";
        ev.role = roles[i % ELEMENTSOF(roles)];
        ev.decision = i % 5 == 1 ? "denied" : "allowed";
        ev.reason = i % 5 == 1 ? "Chứng thư số của cá nhân" : NULL;
        now_ms = t;
        assert_int_equal(audit_log_append(log, &ev, NULL), 0);
}

/* A closed log at path of n records from first (ms), step ms apart; monthly rotation and small files, so the
 * log has many files. */
static void make_log_of(const char *path, int64_t first, int64_t step, unsigned n) {
        AuditLogOptions o = {
                .no_journal = true, .no_sync = true, .rotate_monthly = true, .max_size = 96 * 1024
        };
        AuditLog *log = log_open_ok(path, &o);
        audit_log_set_clock(log, test_clock, NULL);
        for (unsigned i = 0; i < n; i++)
                append_at(log, (uint64_t) (first + (int64_t) i * step), i);
        audit_log_free(log);
}

typedef enum Mode {
        MODE_FAST, /* what kysoctl does: bisection to the window */
        MODE_FULL, /* the window found by reading the whole log */
        MODE_OLD,  /* no window: every record filtered by its own time */
} Mode;

static char *show(const char *path, int64_t since, int64_t until, Mode mode) {
        _cleanup_(audit_reader_freep) AuditReader *r = NULL;
        AuditShowFilter f;
        AuditWindow w;
        AuditPos near;
        char *out = NULL, *err = NULL, *all = NULL;
        size_t n_out = 0, n_err = 0;
        uint64_t bad = 0;

        audit_show_filter_init(&f);
        f.since = since;
        f.until = until;
        assert_int_equal(audit_reader_open(path, &r), 0);
        if (mode != MODE_OLD) {
                audit_window_init(&w, since, until);
                AuditWindow open;
                audit_window_init(&open, INT64_MIN, INT64_MAX);
                assert_int_equal(audit_window_start_near(r, mode == MODE_FAST ? &w : &open, &near), 0);
                if (mode == MODE_FULL)
                        assert_int_equal(near.file_index + near.offset, 0);
                assert_int_equal(audit_window_find(r, &near, &w), 0);
                assert_int_equal(audit_window_apply(r, &w), 0);
        }
        FILE *fo = open_memstream(&out, &n_out), *fe = open_memstream(&err, &n_err);
        assert_int_equal(audit_show(r, &f, AUDIT_SHOW_CSV, fo, fe, &bad), 0);
        fclose(fo);
        fclose(fe);
        assert_true(asprintf(&all, "%s-- %" PRIu64 " bad --\n%s", out, bad, err) > 0);
        free(out);
        free(err);
        return all;
}

static unsigned count_lines(const char *s) {
        unsigned n = 0;
        for (; *s && !startswith(s, "-- "); s++)
                n += *s == '\n';
        return n;
}

static void expect_same_show(const char *path, int64_t since, int64_t until, bool old_too) {
        _cleanup_free_ char *fast = show(path, since, until, MODE_FAST);
        _cleanup_free_ char *full = show(path, since, until, MODE_FULL);
        char a[AUDIT_TIME_LEN + 1] = "-", b[AUDIT_TIME_LEN + 1] = "-";
        if (since != INT64_MIN)
                audit_format_time((uint64_t) since, a);
        if (until != INT64_MAX)
                audit_format_time((uint64_t) until, b);
        if (!streq(fast, full))
                fail_msg(
                        "show --since %s --until %s: bisection and a full reading differ:\n%s\n----\n%s", a,
                        b, fast, full);
        if (old_too) {
                _cleanup_free_ char *old = show(path, since, until, MODE_OLD);
                if (!streq(fast, old))
                        fail_msg(
                                "show --since %s --until %s: differs from filtering every record:\n%s\n----\n%s",
                                a, b, fast, old);
        }
}

static char *report(const char *path, int year, unsigned month, Mode mode) {
        _cleanup_(audit_reader_freep) AuditReader *r = NULL;
        _cleanup_(audit_report_freep) AuditReport *rep = NULL;
        AuditReportWindow rw;
        AuditWindow w;
        AuditPos near = { .line_number = 1 };
        char *text = NULL;
        size_t n = 0;

        assert_int_equal(audit_report_window_month(year, month, NULL, &rw), 0);
        audit_window_init(&w, rw.start_ms, rw.end_ms);
        assert_int_equal(audit_reader_open(path, &r), 0);
        if (mode == MODE_FAST)
                assert_int_equal(audit_window_start_near(r, &w, &near), 0);
        if (mode != MODE_OLD) {
                assert_int_equal(audit_window_find(r, &near, &w), 0);
                assert_int_equal(audit_window_apply(r, &w), 0);
        }
        assert_int_equal(audit_report_build(r, &rw, &(AuditReportOptions){ .org = "UBND" }, &rep), 0);
        FILE *f = open_memstream(&text, &n);
        assert_int_equal(audit_report_write_csv(rep, f), 0);
        assert_int_equal(audit_report_write_text(rep, f), 0);
        fclose(f);
        return text;
}

static void expect_same_report(const char *path, int year, unsigned month, bool old_too) {
        _cleanup_free_ char *fast = report(path, year, month, MODE_FAST);
        _cleanup_free_ char *full = report(path, year, month, MODE_FULL);
        if (!streq(fast, full))
                fail_msg("report %04d-%02u: fast and full differ:\n%s\n----\n%s", year, month, fast, full);
        if (old_too) {
                _cleanup_free_ char *old = report(path, year, month, MODE_OLD);
                if (!streq(fast, old))
                        fail_msg(
                                "report %04d-%02u: differs from reading every record:\n%s\n----\n%s", year,
                                month, fast, old);
        }
}

/* Every interesting since: each record's time, a millisecond either side, and day boundaries in UTC and in
 * Vietnam time (17:00Z). */
static void
expect_same_show_around(const char *path, int64_t first, int64_t step, unsigned n, bool old_too) {
        for (unsigned i = 0; i < n; i += 37) {
                int64_t t = first + (int64_t) i * step;
                for (int d = -1; d <= 1; d++)
                        expect_same_show(path, t + d, INT64_MAX, old_too);
                expect_same_show(path, t, t + 3 * DAY_MS, old_too);
                expect_same_show(path, INT64_MIN, t, old_too);
        }
        for (int64_t day = first - first % DAY_MS - DAY_MS; day < first + (int64_t) n * step + DAY_MS;
             day += 7 * DAY_MS) {
                expect_same_show(path, day, INT64_MAX, old_too);
                expect_same_show(path, day - 7 * HOUR_MS, day + DAY_MS - 7 * HOUR_MS, old_too);
        }
        expect_same_show(path, INT64_MIN, INT64_MAX, old_too);
        expect_same_show(path, first + (int64_t) n * step + DAY_MS, INT64_MAX, old_too); /* after the last */
        expect_same_show(path, first - DAY_MS, INT64_MAX, old_too); /* before the first */
}

static void test_rotated(void **state) {
        const char *path = log_path(state);
        /* 2000 records from 1 November 2026 to the middle of February 2027, 80 minutes apart. */
        int64_t first = ms_of("2026-11-01T00:00:00.000Z"), step = 80 * MIN_MS;
        unsigned n = 2000;
        make_log_of(path, first, step, n);

        _cleanup_strv_free_ char **files = NULL;
        assert_int_equal(audit_chain_files(path, &files, NULL), 0);
        assert_true(strv_length(files) >= 6);

        expect_same_show_around(path, first, step, n, true);
        for (unsigned m = 11; m <= 14; m++)
                expect_same_report(path, m > 12 ? 2027 : 2026, m > 12 ? m - 12 : m, true);

        /* The bisection does not read the log: showing the last day reads a small part of it. */
        _cleanup_(audit_reader_freep) AuditReader *r = NULL;
        AuditWindow w;
        AuditPos near;
        int64_t last = first + (int64_t) (n - 1) * step;
        assert_int_equal(audit_reader_open(path, &r), 0);
        audit_window_init(&w, last - DAY_MS, INT64_MAX);
        assert_int_equal(audit_window_start_near(r, &w, &near), 0);
        assert_true(near.file_index + 2 >= strv_length(files));
        assert_int_equal(audit_window_find(r, &near, &w), 0);
        assert_true(audit_reader_bytes(r) < 200 * 1024);
}

static void test_boundaries(void **state) {
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .no_sync = true, .rotate_monthly = true };
        AuditLog *log = log_open_ok(path, &o);
        audit_log_set_clock(log, test_clock, NULL);
        /* The first and last millisecond of months in UTC, and around Vietnam's midnight of the 15th (the
         * report's boundary: 17:00Z on the 14th), several records at the same millisecond. */
        static const char *const times[] = {
                "2026-10-31T23:59:59.999Z", "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z",
                "2026-11-14T16:59:59.999Z", "2026-11-14T17:00:00.000Z", "2026-11-14T17:00:00.000Z",
                "2026-11-30T23:59:59.999Z", "2026-12-01T00:00:00.000Z", "2026-12-14T16:59:59.999Z",
                "2026-12-14T17:00:00.000Z", "2026-12-31T23:59:59.999Z", "2027-01-01T00:00:00.000Z",
        };
        for (unsigned i = 0; i < ELEMENTSOF(times); i++)
                append_at(log, (uint64_t) ms_of(times[i]), i);
        audit_log_free(log);

        for (unsigned i = 0; i < ELEMENTSOF(times); i++)
                for (int d = -1; d <= 1; d++) {
                        expect_same_show(path, ms_of(times[i]) + d, INT64_MAX, true);
                        expect_same_show(path, INT64_MIN, ms_of(times[i]) + d, true);
                }
        for (unsigned m = 10; m <= 13; m++)
                expect_same_report(path, m > 12 ? 2027 : 2026, m > 12 ? 1 : m, true);
        /* November's report: 15 October 00:00 to 15 November 00:00, Vietnam time: records 0 to 3 (a
         * signature, a refusal, a signature, a failure), not the two at 17:00Z on the 14th. */
        _cleanup_free_ char *nov = report(path, 2026, 11, MODE_FAST);
        assert_non_null(strstr(nov, "signatures,total,,2\r\n"));
        assert_non_null(strstr(nov, "denied,total,,1\r\n"));
        assert_non_null(strstr(nov, "failed,total,,1\r\n"));
}

static void test_torn_tail_and_bad_line(void **state) {
        const char *path = log_path(state);
        int64_t first = ms_of("2026-12-01T00:00:00.000Z"), step = 20 * MIN_MS;
        unsigned n = 800;
        make_log_of(path, first, step, n);

        /* A line that is not a record in the middle of the active file, and a torn tail at its end. */
        size_t size;
        _cleanup_free_ char *text = file_read(path, &size);
        size_t at = line_offset(text, size, 100);
        _cleanup_free_ char *edited = NULL;
        assert_true(
                asprintf(&edited, "%.*snot a record\n%s{\"v\":1,\"seq\":99", (int) at, text, text + at) > 0);
        file_write(path, edited, strlen(edited));

        expect_same_show_around(path, first, step, n, false);
        /* Where the window reaches them, the messages (with line numbers, counted when needed) are the same
         * as when every record is filtered. */
        int64_t last = first + (int64_t) (n - 1) * step;
        expect_same_show(path, last - DAY_MS, INT64_MAX, true);
        expect_same_show(path, INT64_MIN, INT64_MAX, true);
        _cleanup_free_ char *out = show(path, last - DAY_MS, INT64_MAX, MODE_FAST);
        assert_non_null(strstr(out, "unfinished record at the end of the file"));
        assert_null(strstr(out, "line 0"));
        expect_same_report(path, 2027, 1, false);
        expect_same_report(path, 2026, 12, false);
}

static void test_clock_backwards(void **state) {
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .no_sync = true };
        AuditLog *log = log_open_ok(path, &o);
        audit_log_set_clock(log, test_clock, NULL);
        /* 300 records an hour apart, then the clock goes back three days and runs on for 300 more, then
         * jumps forward a year (a wrong clock) and back again. */
        int64_t first = ms_of("2026-12-01T00:00:00.000Z");
        unsigned i = 0;
        for (; i < 300; i++)
                append_at(log, (uint64_t) (first + i * HOUR_MS), i);
        for (; i < 600; i++)
                append_at(log, (uint64_t) (first + (i - 72) * HOUR_MS), i);
        append_at(log, (uint64_t) (first + 400 * DAY_MS), i++);
        for (; i < 700; i++)
                append_at(log, (uint64_t) (first + (i - 72) * HOUR_MS), i);
        audit_log_free(log);

        expect_same_show_around(path, first, HOUR_MS, 700, false);
        for (unsigned m = 12; m <= 14; m++)
                expect_same_report(path, m > 12 ? 2027 : 2026, m > 12 ? m - 12 : m, false);

        /* What --since means then: the records after the last one older than it. Since record 250's time
         * (hour 250): the clock was last before it at record 321 (hour 249), so the window starts at record
         * 322; records 250..299, written before the clock went back, are not in it. */
        int64_t since = first + 250 * HOUR_MS;
        _cleanup_free_ char *fast = show(path, since, INT64_MAX, MODE_FAST);
        _cleanup_free_ char *old = show(path, since, INT64_MAX, MODE_OLD);
        assert_int_equal(count_lines(fast), 1 + 700 - 322);
        assert_int_equal(count_lines(old), 1 + 700 - 322 + 50);
        assert_non_null(strstr(fast, "\r\n323,")); /* seq = index + 1 */
        assert_null(strstr(fast, "\r\n322,"));
        assert_null(strstr(fast, "\r\n251,"));
        /* --until: up to the first record at or after it (the wrong clock's year ahead ends the window at
         * record 600 for an until after hour 627). */
        _cleanup_free_ char *until = show(path, since, first + 700 * HOUR_MS, MODE_FAST);
        assert_int_equal(count_lines(until), 1 + 600 - 322);
}

KYSO_TEST_MAIN_FIXTURE(
        log_dir_setup, log_dir_teardown,
        {
                cmocka_unit_test(test_rotated),
                cmocka_unit_test(test_boundaries),
                cmocka_unit_test(test_torn_tail_and_bad_line),
                cmocka_unit_test(test_clock_backwards),
        });
