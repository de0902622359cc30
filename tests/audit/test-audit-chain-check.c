/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AuditLog's chain check in the background (issue 12): a chain broken in the middle gets one
 * log-chain-broken record naming the first bad record, at start and after rotation, never twice for one
 * break; an intact chain gets none. */
#include "kyso-test.h"

#include <poll.h>

#include "audit-test-util.h"

/* Starts watching the chain (or takes the fd of a check already running), waits for the check, and
 * returns what audit_log_chain_check_done() says. */
static int check_done(AuditLog *log, int fd, char **ret_message) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 30000), 1);
        return audit_log_chain_check_done(log, ret_message);
}

static int watch_and_wait(AuditLog *log, char **ret_message) {
        int fd = -1;
        assert_int_equal(audit_log_watch_chain(log, &fd), 0);
        assert_true(fd >= 0);
        return check_done(log, fd, ret_message);
}

static unsigned count(const char *path, const char *what) {
        _cleanup_strv_free_ char **files = NULL;
        unsigned n = 0;
        assert_int_equal(audit_chain_files(path, &files, NULL), 0);
        for (size_t i = 0; files[i]; i++) {
                _cleanup_free_ char *d = file_read(files[i], NULL);
                for (const char *p = d; (p = strstr(p, what)); p++)
                        n++;
        }
        return n;
}

/* Changes one byte of record seq's document name ("doc-N.pdf" → "doc-X.pdf"): the next record's "prev" no
 * longer matches. */
static void alter_record(const char *path, unsigned seq) {
        size_t size;
        _cleanup_free_ char *d = file_read(path, &size);
        size_t at = line_offset(d, size, seq);
        char *doc = strstr(d + at, "\"doc-");
        assert_non_null(doc);
        doc[5] = 'X';
        file_write(path, d, size);
}

static void test_chain_intact(void **state) {
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);
        append_signs(log, 1, 10);
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(watch_and_wait(log, &msg), 0);
        assert_null(msg);
        assert_int_equal(audit_log_get_seq(log), 10);
        /* Nothing is running: done again says nothing. */
        assert_int_equal(audit_log_chain_check_done(log, &msg), 0);
        audit_log_free(log);
}

static void test_chain_broken_once(void **state) {
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .max_size = 64 * 1024 };
        make_log(path, &o, 10);
        alter_record(path, 5);

        /* Start: one record, naming record seq 5 (changed) after the intact seq 4. */
        AuditLog *log = log_open_ok(path, &o);
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(watch_and_wait(log, &msg), 1);
        assert_non_null(strstr(msg, "seq 5"));
        assert_int_equal(audit_log_get_seq(log), 11);
        size_t size;
        _cleanup_free_ char *d = file_read(path, &size);
        const char *last = d + line_offset(d, size, 11);
        assert_non_null(strstr(last, "\"event\":\"log-chain-broken\""));
        assert_non_null(strstr(last, "\"problem\":\"changed\""));
        assert_non_null(strstr(last, "\"seq\":\"5\""));
        assert_non_null(strstr(last, "\"after_seq\":\"4\""));
        assert_non_null(strstr(last, "\"file\":\"audit.jsonl\",\"line\":\"5\""));
        audit_log_free(log);

        /* Started again on the same log: the break is known, no second record. */
        log = log_open_ok(path, &o);
        free(msg);
        msg = NULL;
        assert_int_equal(watch_and_wait(log, &msg), 2);
        assert_non_null(strstr(msg, "already"));
        assert_int_equal(audit_log_get_seq(log), 11);

        /* Rotation: checked again, in the background while the log goes on; still one record. */
        int fd = -1;
        assert_int_equal(audit_log_watch_chain(log, &fd), 0);
        while (audit_chain_files(path, NULL, NULL) == 0 && count(path, "\"event\":\"log-rotated\"") == 0)
                append_signs(log, 100, 20);
        free(msg);
        msg = NULL;
        assert_int_equal(check_done(log, fd, &msg), 2);
        append_signs(log, 200, 3);
        audit_log_free(log);
        assert_int_equal(count(path, "\"event\":\"log-chain-broken\""), 1);

        /* verify still reports the break itself, not the record of it. */
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 1);
        assert_int_equal(res.problem, AUDIT_PROBLEM_CHANGED);
        assert_int_equal(res.seq, 5);
        audit_verify_result_done(&res);
}

/* Freeing the log while a check runs cancels it. */
static void test_chain_check_cancelled(void **state) {
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);
        append_signs(log, 1, 200);
        int fd = -1;
        assert_int_equal(audit_log_watch_chain(log, &fd), 0);
        audit_log_free(log);
}

KYSO_TEST_MAIN_FIXTURE(
        log_dir_setup, log_dir_teardown,
        {
                cmocka_unit_test(test_chain_intact),
                cmocka_unit_test(test_chain_broken_once),
                cmocka_unit_test(test_chain_check_cancelled),
        });
