/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <json-c/json.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/wait.h>

#include "audit-test-util.h"

static void test_append_reopen(void **state) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *path = path_in(dir, "sub/dir/audit.jsonl");
        char head[AUDIT_HASH_HEX + 1];
        struct stat st;

        AuditLog *log = log_open_ok(path, NULL);
        assert_int_equal(audit_log_get_seq(log), 0);
        assert_string_equal(audit_log_get_head_hash(log), AUDIT_GENESIS_PREV);
        assert_int_equal(append_signs(log, 1, 3), 3);
        strcpy(head, audit_log_get_head_hash(log));
        audit_log_free(log);

        /* Modes: folder 0700, file 0600. */
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        _cleanup_free_ char *sub = path_in(dir, "sub");
        assert_int_equal(stat(sub, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);

        /* The head is found again from the file's tail. */
        log = log_open_ok(path, NULL);
        assert_int_equal(audit_log_get_seq(log), 3);
        assert_string_equal(audit_log_get_head_hash(log), head);
        assert_int_equal(
                audit_log_append_simple(log, AUDIT_EVENT_AGENT_STOP, "stopping", "signal", "TERM", NULL), 0);
        assert_int_equal(audit_log_get_seq(log), 4);
        audit_log_free(log);

        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.records, 4);
        assert_int_equal(res.last_seq, 4);
        audit_verify_result_done(&res);

        /* The head is the hash of the last line without its newline, and prev of line 2 is hash of line 1.
         */
        size_t size;
        _cleanup_free_ char *data = file_read(path, &size);
        size_t l2 = line_offset(data, size, 2);
        unsigned char md[32];
        char hex[65];
        SHA256((const unsigned char *) data, l2 - 1, md);
        audit_hex(md, 32, hex);
        assert_non_null(strstr(data + l2, hex));
        assert_memory_equal(data, "{\"v\":1,\"seq\":1,\"time\":\"", 23);
        tmpdir_remove(dir);
}

static void test_lock(void **state) {
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true };
        AuditLog *log = log_open_ok(path, NULL), *second = NULL;
        char *msg = NULL;

        assert_int_equal(audit_log_open(path, &o, &second, &msg), -EBUSY);
        assert_null(second);
        assert_non_null(msg);
        char pid[32];
        snprintf(pid, sizeof(pid), "pid %d", (int) getpid());
        assert_non_null(strstr(msg, pid));
        assert_non_null(strstr(msg, "in use"));
        free(msg);
        audit_log_free(log);
        /* Released on close. */
        log = log_open_ok(path, NULL);
        audit_log_free(log);
}

static void test_torn_tail(void **state) {
        const char *path = log_path(state);
        static const char torn[] = "{\"v\":1,\"seq\":6,\"time\":\"2026-";
        size_t before_size;

        make_log(path, NULL, 5);
        _cleanup_free_ char *before = file_read(path, &before_size);
        file_append(path, torn, strlen(torn));

        /* verify reports it before recovery. */
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 1);
        assert_int_equal(res.problem, AUDIT_PROBLEM_TORN_TAIL);
        assert_int_equal(res.line, 6);
        assert_non_null(strstr(res.message, "unfinished record"));
        assert_int_equal(res.records, 5);
        audit_verify_result_done(&res);

        AuditLog *log = log_open_ok(path, NULL);
        const char *q = audit_log_get_quarantine_path(log);
        assert_non_null(q);
        assert_non_null(strstr(q, "audit.jsonl.torn-"));
        assert_file_is(q, torn, strlen(torn));
        assert_int_equal(audit_log_get_seq(log), 6);
        audit_log_free(log);

        /* Earlier records untouched, then the record of the recovery with the bytes' hash. */
        size_t after_size;
        _cleanup_free_ char *after = file_read(path, &after_size);
        assert_true(after_size > before_size);
        assert_memory_equal(after, before, before_size);
        unsigned char md[32];
        char hex[65];
        SHA256((const unsigned char *) torn, strlen(torn), md);
        audit_hex(md, 32, hex);
        assert_non_null(strstr(after + before_size, "\"event\":\"log-torn-tail\""));
        assert_non_null(strstr(after + before_size, hex));
        char bytes[32];
        snprintf(bytes, sizeof(bytes), "\"bytes\":\"%zu\"", strlen(torn));
        assert_non_null(strstr(after + before_size, bytes));

        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.torn_recoveries, 1);
        assert_int_equal(res.records, 6);
        audit_verify_result_done(&res);
}

static void test_torn_first_line(void **state) {
        const char *path = log_path(state);
        file_write(path, "{\"v\":1,\"se", 10);
        AuditLog *log = log_open_ok(path, NULL);
        assert_int_equal(audit_log_get_seq(log), 1); /* the log-torn-tail record */
        audit_log_free(log);
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        audit_verify_result_done(&res);
}

static void test_refuse_garbage(void **state) {
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true };
        AuditLog *log = log_open_ok(path, NULL);
        char *msg = NULL;
        append_signs(log, 1, 2);
        audit_log_free(log);

        /* A complete last line that is not a record: refuse, touch nothing. */
        file_append(path, "hello\n", 6);
        size_t s1;
        _cleanup_free_ char *d1 = file_read(path, &s1);
        assert_int_equal(audit_log_open(path, &o, &log, &msg), -EBADMSG);
        assert_non_null(strstr(msg, "not a valid kyso audit record"));
        msg = mfree(msg);
        assert_file_is(path, d1, s1);

        /* More than a line's worth of bytes without a newline is not a torn record either. */
        _cleanup_free_ char *big = malloc(AUDIT_LINE_MAX + 100);
        memset(big, 'x', AUDIT_LINE_MAX + 100);
        file_write(path, d1, s1 - 6);
        file_append(path, big, AUDIT_LINE_MAX + 100);
        assert_int_equal(audit_log_open(path, &o, &log, &msg), -EBADMSG);
        assert_non_null(strstr(msg, "not a crash's torn line"));
        free(msg);
}

static void test_refuse_garbage_with_tail(void **state) {
        /* A file that is not a log and does not end with a newline (another program's file in the log's
         * place): its end is not a crash's torn line either. Refuse, touch nothing, leave no quarantine
         * file, as for a file that ends with a newline. */
        static const char garbage[] = "hello world\nthis is not a log";
        AuditLogOptions o = { .no_journal = true };
        const char *path = log_path(state);
        AuditLog *log = NULL;
        char *msg = NULL;

        file_write(path, garbage, strlen(garbage));
        assert_int_equal(audit_log_open(path, &o, &log, &msg), -EBADMSG);
        assert_non_null(strstr(msg, "not a valid kyso audit record"));
        free(msg);
        assert_file_is(path, garbage, strlen(garbage));
        DIR *d = opendir(log_dir(state));
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                if (strstr(de->d_name, ".torn-"))
                        fail_msg("a quarantine file was made of a file that is not a log: %s", de->d_name);
        closedir(d);
}

/* A log that cannot be opened because of what is in its place: the message says what to do, as the agent
 * refuses to start with it. */
static void test_open_advice(void **state) {
        AuditLogOptions o = { .no_journal = true };
        const char *path = log_path(state);
        _cleanup_free_ char *under_file = NULL;
        AuditLog *log = NULL;
        char *msg = NULL;

        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(audit_log_open(path, &o, &log, &msg), -EISDIR);
        assert_non_null(strstr(msg, "A folder is in the log's place"));
        msg = mfree(msg);
        assert_int_equal(rmdir(path), 0);

        file_write(path, "", 0);
        assert_true(asprintf(&under_file, "%s/audit.jsonl", path) > 0);
        assert_int_equal(audit_log_open(under_file, &o, &log, &msg), -ENOTDIR);
        assert_non_null(strstr(msg, "audit-log in kysod.conf"));
        free(msg);
}

static void check_fault(AuditFault fault, int expected) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
        AuditLog *log = log_open_ok(path, NULL);
        uint64_t seq = 0;

        append_signs(log, 1, 3);
        size_t s1;
        _cleanup_free_ char *d1 = file_read(path, &s1);
        audit_log_inject_fault(log, fault, 0);
        AuditEvent ev = { .type = AUDIT_EVENT_SIGN_DONE, .document = "lost.pdf" };
        assert_int_equal(audit_log_append(log, &ev, &seq), expected);
        assert_int_equal(seq, 0);
        assert_int_equal(audit_log_get_seq(log), 3);
        assert_file_is(path, d1, s1);

        /* The next append works and continues the chain, after the log-unwritable record (seq 4) that
         * says what the failed append could not record (issue 12). */
        assert_int_equal(audit_log_append(log, &ev, &seq), 0);
        assert_int_equal(seq, 5);
        assert_unwritable_record(path, s1, 4, 1);
        audit_log_free(log);
        assert_verifies(path, 5);
        tmpdir_remove(dir);
}

static void test_faults(void **state) {
        for_each_write_fault(check_fault);
}

static void test_fault_stuck(void **state) {
        /* The partial line cannot be cut off: the log refuses further appends, and the next open
         * quarantines the partial line. */
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);
        append_signs(log, 1, 3);
        audit_log_inject_fault(log, AUDIT_FAULT_SHORT_WRITE_STUCK, 1);
        append_signs(log, 4, 1); /* skip = 1: this one passes */
        AuditEvent ev = { .type = AUDIT_EVENT_SIGN_DONE };
        assert_int_equal(audit_log_append(log, &ev, NULL), -ENOSPC);
        assert_int_equal(audit_log_append(log, &ev, NULL), -EIO);
        audit_log_free(log);

        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 1);
        assert_int_equal(res.problem, AUDIT_PROBLEM_TORN_TAIL);
        audit_verify_result_done(&res);

        log = log_open_ok(path, NULL);
        assert_non_null(audit_log_get_quarantine_path(log));
        assert_int_equal(audit_log_get_seq(log), 5);
        audit_log_free(log);
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.torn_recoveries, 1);
        audit_verify_result_done(&res);
}

static void test_rotate_size(void **state) {
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .max_size = 4096 };
        make_log(path, &o, 40);

        _cleanup_strv_free_ char **files = NULL;
        unsigned max = 0;
        assert_int_equal(audit_chain_files(path, &files, &max), 0);
        assert_true(max >= 3);
        assert_int_equal(strv_length(files), max + 1);
        for (size_t i = 0; files[i]; i++) {
                struct stat st;
                assert_int_equal(stat(files[i], &st), 0);
                assert_true(st.st_size <= 4096);
                if (i > 0) {
                        /* Every file after the first begins with the link to the one before. */
                        _cleanup_free_ char *d = file_read(files[i], NULL);
                        const char *slash = strrchr(files[i - 1], '/');
                        char want[128];
                        snprintf(want, sizeof(want), "\"previous_file\":\"%s\"", slash + 1);
                        assert_non_null(strstr(d, "\"event\":\"log-rotated\""));
                        assert_true(strstr(d, want) < strchr(d, '\n'));
                }
        }
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.records, 40 + max);
        assert_int_equal(res.rotations, max);
        assert_int_equal(res.files, max + 1);
        audit_verify_result_done(&res);

        /* Reopen continues in the active file. */
        open_expect_seq(path, &o, 40 + max);
}

static void test_rotate_create_fails(void **state) {
        /* The rename happened, the new file cannot be created (a full disk): the append fails, nothing is
         * written to the renamed file, and the next append creates the file and links the chain. */
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        _cleanup_free_ char *a1 = path_in(dir, "audit.jsonl.1");
        AuditLogOptions o = { .no_journal = true, .max_size = 2000 };
        AuditLog *log = log_open_ok(path, &o);
        uint64_t seq = append_signs(log, 1, 1);
        audit_log_inject_fault(log, AUDIT_FAULT_ROTATE_CREATE, 0);
        uint64_t before = audit_log_get_seq(log);
        AuditEvent ev = { .type = AUDIT_EVENT_SIGN_DONE, .document = "after.pdf" };
        int r = -1;
        for (unsigned i = 0; i < 20 && (r = audit_log_append(log, &ev, &seq)) == 0; i++)
                before = seq;
        assert_int_equal(r, -ENOSPC);
        assert_int_equal(audit_log_get_seq(log), before);
        assert_int_equal(access(path, F_OK), -1);
        size_t s1;
        _cleanup_free_ char *d1 = file_read(a1, &s1);
        /* log-rotated, log-unwritable (the failed append, issue 12), then the event */
        assert_int_equal(append_signs(log, 100, 1), before + 3);
        assert_file_is(a1, d1, s1); /* the archive was not written to */
        audit_log_free(log);
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.last_seq, before + 3);
        audit_verify_result_done(&res);
}

static uint64_t fake_now;
static uint64_t fake_clock(void *userdata) {
        return fake_now;
}

static void test_rotate_month(void **state) {
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .rotate_monthly = true };
        int64_t t;

        assert_int_equal(audit_parse_time("2026-10-31T23:59:59.000Z", &t), 0);
        fake_now = (uint64_t) t;
        AuditLog *log = log_open_ok(path, &o);
        audit_log_set_clock(log, fake_clock, NULL);
        append_signs(log, 1, 2);
        fake_now += 2000; /* 2026-11-01 */
        append_signs(log, 3, 1);
        audit_log_free(log);

        /* Reopened later in the month: no rotation; next month: rotation again. */
        log = log_open_ok(path, &o);
        audit_log_set_clock(log, fake_clock, NULL);
        append_signs(log, 4, 1);
        assert_int_equal(audit_parse_time("2026-12-01T00:00:00.000Z", &t), 0);
        fake_now = (uint64_t) t;
        append_signs(log, 5, 1);
        audit_log_free(log);

        _cleanup_free_ char *a1 = path_in(dir, "audit.jsonl.1");
        _cleanup_free_ char *a2 = path_in(dir, "audit.jsonl.2");
        _cleanup_free_ char *d1 = file_read(a1, NULL);
        _cleanup_free_ char *d2 = file_read(a2, NULL);
        _cleanup_free_ char *d3 = file_read(path, NULL);
        assert_non_null(strstr(d1, "doc-2.pdf"));
        assert_null(strstr(d1, "doc-3.pdf"));
        assert_non_null(strstr(d2, "\"reason\":\"month\""));
        assert_non_null(strstr(d2, "doc-4.pdf"));
        assert_non_null(strstr(d3, "\"previous_file\":\"audit.jsonl.2\""));
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.files, 3);
        audit_verify_result_done(&res);
}

/* A log of 3 records whose rotation crashed right after the rename: audit.jsonl.1 and no active file. */
static void make_log_rotated_away(const char *dir, const char *path) {
        _cleanup_free_ char *a1 = path_in(dir, "audit.jsonl.1");
        make_log(path, NULL, 3);
        assert_int_equal(rename(path, a1), 0);
}

/* What a crash while writing the first record of the new file leaves (written with its NUL, 19 bytes). */
static const char torn_first_record[] = "{\"v\":1,\"seq\":4,\"ti";

static void test_rotate_interrupted(void **state) {
        /* A crash right after the rename: no active file. The next append first links the chain. */
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        make_log_rotated_away(dir, path);
        /* An empty newer archive (never written by kyso) does not hide the head. */
        _cleanup_free_ char *a2 = path_in(dir, "audit.jsonl.2");
        file_write(a2, "", 0);

        AuditLog *log = log_open_ok(path, NULL);
        assert_int_equal(audit_log_get_seq(log), 3);
        append_signs(log, 4, 1);
        audit_log_free(log);
        _cleanup_free_ char *d = file_read(path, NULL);
        assert_memory_equal(d, "{\"v\":1,\"seq\":4,", 15);
        assert_non_null(strstr(d, "\"reason\":\"recovered\""));
        assert_non_null(strstr(d, "\"previous_file\":\"audit.jsonl.1\""));
        assert_verifies(path, 5);
}

/* The log at path verifies intact, with records records, torn_recoveries of them log-torn-tail records. */
static void verify_ok(const char *path, uint64_t records, uint64_t torn_recoveries) {
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.records, records);
        assert_int_equal(res.torn_recoveries, torn_recoveries);
        audit_verify_result_done(&res);
}

static void test_rotate_torn_first_record(void **state) {
        /* A crash while writing the first record of a new file: the file holds only a torn line. */
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        make_log_rotated_away(dir, path);
        file_write(path, torn_first_record, sizeof(torn_first_record));

        AuditLog *log = log_open_ok(path, NULL);
        assert_non_null(audit_log_get_quarantine_path(log));
        assert_int_equal(audit_log_get_seq(log), 5); /* log-rotated, then log-torn-tail */
        audit_log_free(log);
        _cleanup_free_ char *d = file_read(path, NULL);
        assert_non_null(strstr(d, "\"event\":\"log-rotated\""));
        assert_true(strstr(d, "\"event\":\"log-rotated\"") < strstr(d, "\"event\":\"log-torn-tail\""));
        verify_ok(path, 5, 1);
}

/* The active file deleted (or moved away: a clean-up, a logrotate) while the log is open: the next record
 * must not go into the unlinked file, where nobody would ever read it. It goes to a new file at the path,
 * after a log-records-missing record that names what went, so that verify fails. */
static void check_active_file_gone(const char *dir, const char *path, bool with_archive, bool moved) {
        _cleanup_free_ char *moved_to = path_in(dir, "audit.jsonl-20261207");
        AuditVerifyResult res;
        size_t size;

        if (with_archive)
                make_log_rotated_away(dir, path); /* audit.jsonl.1: seq 1 to 3 */
        AuditLog *log = log_open_ok(path, NULL);
        uint64_t last = append_signs(log, 11, 3);
        if (moved)
                assert_int_equal(rename(path, moved_to), 0);
        else
                assert_int_equal(unlink(path), 0);

        assert_int_equal(append_signs(log, 14, 1), last + 1 + with_archive + 1);
        audit_log_free(log);

        _cleanup_free_ char *d = file_read(path, &size);
        assert_non_null(d);
        if (with_archive)
                assert_non_null(strstr(d, "\"event\":\"log-rotated\""));
        assert_non_null(strstr(d, "\"event\":\"log-records-missing\""));
        assert_non_null(strstr(d, "doc-14.pdf"));
        assert_int_equal(verify_log(path, NULL, &res), 1);
        audit_verify_result_done(&res);
        /* The next start goes on from the new file. */
        open_expect_seq(path, NULL, last + 1 + with_archive + 1);
}

static void test_active_file_gone(void **state) {
        for (unsigned i = 0; i < 4; i++) {
                char *dir = tmpdir_new();
                _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
                check_active_file_gone(dir, path, i & 1, i & 2);
                tmpdir_remove(dir);
        }
}

/* The log's whole folder deleted while the log is open (a clean-up of ~/.local/state): the next record
 * makes the folder, the file and the lock again, so that a second agent cannot take the log meanwhile. */
static void test_log_folder_gone(void **state) {
        AuditLogOptions o = { .no_journal = true };
        char *dir = tmpdir_new();
        _cleanup_free_ char *sub = path_in(dir, "kyso"), *path = path_in(sub, "audit.jsonl"),
                            *lock = path_in(sub, "audit.jsonl.lock");
        AuditLog *log = log_open_ok(path, NULL), *other = NULL;
        char *msg = NULL;

        append_signs(log, 1, 3);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(lock), 0);
        assert_int_equal(rmdir(sub), 0);

        assert_int_equal(append_signs(log, 4, 1), 5); /* after the log-records-missing record */
        assert_int_equal(access(path, F_OK), 0);
        assert_int_equal(audit_log_open(path, &o, &other, &msg), -EBUSY);
        msg = mfree(msg);

        /* The lock file alone deleted: the next record locks again. */
        assert_int_equal(unlink(lock), 0);
        assert_int_equal(append_signs(log, 5, 1), 6);
        assert_int_equal(audit_log_open(path, &o, &other, &msg), -EBUSY);
        free(msg);
        audit_log_free(log);
        tmpdir_remove(dir);
}

static void test_no_secrets(void **state) {
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);
        assert_int_equal(
                audit_log_append_simple(log, AUDIT_EVENT_PIN_FAILURE, "wrong PIN", "pin", "1234", NULL),
                -EINVAL);
        assert_int_equal(
                audit_log_append_simple(log, AUDIT_EVENT_PIN_FAILURE, "x", "so_pin", "1", NULL), -EINVAL);
        assert_int_equal(
                audit_log_append_simple(log, AUDIT_EVENT_PIN_FAILURE, "x", "Bad Key", "1", NULL), -EINVAL);
        assert_int_equal(audit_log_append_simple(log, AUDIT_EVENT_PIN_FAILURE, "x", "key", NULL), -EINVAL);
        assert_int_equal(audit_log_get_seq(log), 0);
        assert_int_equal(
                audit_log_append_simple(log, AUDIT_EVENT_PIN_FAILURE, "wrong PIN", "tries_left", "2", NULL),
                0);
        AuditEvent bad = { .type = _AUDIT_EVENT_MAX };
        assert_int_equal(audit_log_append(log, &bad, NULL), -EINVAL);
        audit_log_free(log);
        _cleanup_free_ char *d = file_read(path, NULL);
        assert_null(strstr(d, "1234"));
}

static void test_escaping(void **state) {
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);
        const char name[] = "a\"b\\c\nd\x01\x7f\xff\xc3(Quyết định số 12/QĐ-UBND \xe2\x80\xa8.pdf";
        AuditEvent ev = { .type = AUDIT_EVENT_SIGN_DENIED, .document = name, .reason = "x" };
        assert_int_equal(audit_log_append(log, &ev, NULL), 0);
        _cleanup_free_ char *big = malloc(5000);
        memset(big, 'y', 4999);
        big[4999] = '\0';
        ev.document = big;
        assert_int_equal(audit_log_append(log, &ev, NULL), 0);
        audit_log_free(log);

        size_t size;
        _cleanup_free_ char *d = file_read(path, &size);
        assert_true(audit_utf8_valid(d, size));
        size_t l2 = line_offset(d, size, 2);
        json_object *o = json_tokener_parse(d);
        assert_non_null(o);
        json_object *doc, *n;
        assert_true(json_object_object_get_ex(o, "document", &doc));
        assert_true(json_object_object_get_ex(doc, "name", &n));
        assert_string_equal(
                json_object_get_string(n), "a\"b\\c\nd\x01\x7f\xef\xbf\xbd\xef\xbf\xbd(Quyết định số "
                                           "12/QĐ-UBND \xe2\x80\xa8.pdf");
        json_object_put(o);
        o = json_tokener_parse(d + l2);
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "document", &doc));
        assert_true(json_object_object_get_ex(doc, "name", &n));
        assert_int_equal(strlen(json_object_get_string(n)), AUDIT_FIELD_MAX);
        json_object_put(o);
}

static void test_default_path(void **state) {
        char *p = NULL;
        setenv("KYSO_AUDIT_LOG", "/x/y.jsonl", 1);
        assert_int_equal(audit_log_default_path(&p), 0);
        assert_string_equal(p, "/x/y.jsonl");
        p = mfree(p);
        unsetenv("KYSO_AUDIT_LOG");
        setenv("XDG_STATE_HOME", "/state", 1);
        assert_int_equal(audit_log_default_path(&p), 0);
        assert_string_equal(p, "/state/kyso/audit.jsonl");
        p = mfree(p);
        unsetenv("XDG_STATE_HOME");
        setenv("HOME", "/home/u", 1);
        assert_int_equal(audit_log_default_path(&p), 0);
        assert_string_equal(p, "/home/u/.local/state/kyso/audit.jsonl");
        free(p);
}

static void test_parse_rotation(void **state) {
        AuditLogOptions o = { .max_size = 1, .rotate_monthly = true };
        assert_int_equal(audit_log_parse_rotation("no", &o), 0);
        assert_int_equal(o.max_size, 0);
        assert_false(o.rotate_monthly);
        assert_int_equal(audit_log_parse_rotation("monthly", &o), 0);
        assert_true(o.rotate_monthly);
        assert_int_equal(o.max_size, 0);
        assert_int_equal(audit_log_parse_rotation("10M", &o), 0);
        assert_int_equal(o.max_size, 10 * 1024 * 1024);
        assert_false(o.rotate_monthly);
        assert_int_equal(audit_log_parse_rotation("monthly,1G", &o), 0);
        assert_int_equal(o.max_size, 1024ULL * 1024 * 1024);
        assert_true(o.rotate_monthly);
        assert_int_equal(audit_log_parse_rotation("65536", &o), 0);
        assert_int_equal(o.max_size, 65536);
        static const char *const bad[] = {
                "",         "yearly",   "10X",        "1K",      "-5M",
                "monthly,", ",monthly", "no,monthly", "10M,20M", "99999999999999999999G"
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (audit_log_parse_rotation(bad[i], &o) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
}

static void test_time_format(void **state) {
        char t[AUDIT_TIME_LEN + 1];
        int64_t ms;
        audit_format_time(0, t);
        assert_string_equal(t, "1970-01-01T00:00:00.000Z");
        assert_int_equal(audit_parse_time("2028-02-29T23:59:59.999Z", &ms), 0);
        audit_format_time((uint64_t) ms, t);
        assert_string_equal(t, "2028-02-29T23:59:59.999Z");
        assert_int_equal(audit_parse_time("2026-11-24T07:00+07:00", &ms), 0);
        audit_format_time((uint64_t) ms, t);
        assert_string_equal(t, "2026-11-24T00:00:00.000Z");
        assert_int_equal(audit_parse_time("2026-02-29", &ms), -EINVAL);
        assert_int_equal(audit_parse_time("2026-13-01", &ms), -EINVAL);
        assert_int_equal(audit_parse_time("2026-1-01", &ms), -EINVAL);
}

/* Opens the log at path in a child that kills itself (the test hook) at fault, inside open(): a crash. */
static void open_killed(const char *path, AuditFault fault) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                AuditLogOptions o = { .no_journal = true };
                AuditLog *log = NULL;
                (void) audit_log_open_with_fault(path, &o, fault, &log, NULL);
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
                fail_msg("open() with fault %d did not crash (status %d)", (int) fault, status);
}

static uint64_t file_size(const char *path) {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return (uint64_t) st.st_size;
}

static const char torn_line[] = "{\"v\":1,\"seq\":6,\"time\":\"2026-";

/* A log of 5 records and a torn sixth line; returns the size without the torn line. */
static uint64_t make_torn_log(const char *path) {
        make_log(path, NULL, 5);
        uint64_t size = file_size(path);
        file_append(path, torn_line, strlen(torn_line));
        return size;
}

/* Another start changes nothing: no second record, no other file. */
static void reopen_changes_nothing(const char *path, uint64_t seq, unsigned n_torn) {
        uint64_t size = file_size(path);
        AuditLog *log = log_open_ok(path, NULL);
        assert_int_equal(audit_log_get_seq(log), seq);
        assert_null(audit_log_get_quarantine_path(log));
        audit_log_free(log);
        assert_int_equal(file_size(path), size);
        assert_int_equal(check_quarantines(path, NULL), n_torn);
}

/* After the crash and a start: one quarantine file, named by one record, at offset with bytes (SIZE_MAX: not
 * checked), recorded after a restart or not; the log verifies with seq records and a second start adds
 * nothing. */
static void
expect_quarantined_once(const char *path, uint64_t offset, size_t bytes, bool recovered, uint64_t seq) {
        TornRecord t;
        assert_int_equal(check_quarantines(path, &t), 1);
        assert_int_equal(t.offset, offset);
        if (bytes != SIZE_MAX)
                assert_int_equal(t.bytes, bytes);
        assert_true(t.recovered == recovered);
        verify_ok(path, seq, 1);
        reopen_changes_nothing(path, seq, 1);
}

static void test_torn_crash_after_cut(void **state) {
        /* A crash once the torn bytes are in their quarantine file and cut off the log, before the record
         * that says so: the log looks clean, but the next start must still record the quarantine file. */
        const char *path = log_path(state);
        uint64_t cut = make_torn_log(path);

        open_killed(path, AUDIT_FAULT_OPEN_KILL_AFTER_CUT);
        assert_int_equal(file_size(path), cut);

        AuditLog *log = log_open_ok(path, NULL);
        assert_int_equal(audit_log_get_seq(log), 6);
        assert_non_null(audit_log_get_quarantine_path(log));
        audit_log_free(log);
        expect_quarantined_once(path, cut, strlen(torn_line), true, 6);
}

static void test_torn_crash_before_cut(void **state) {
        /* A crash with the bytes in their .pending file and still in the log: the next start finishes that
         * cut and records that file, rather than copy the same bytes a second time. */
        const char *path = log_path(state);
        uint64_t cut = make_torn_log(path);

        open_killed(path, AUDIT_FAULT_OPEN_KILL_BEFORE_CUT);
        assert_int_equal(file_size(path), cut + strlen(torn_line));

        open_expect_seq(path, NULL, 6);
        expect_quarantined_once(path, cut, strlen(torn_line), true, 6);
}

static void test_torn_stale_temporary(void **state) {
        /* A crash while the quarantine file was still a temporary file: the log was not cut yet, so the
         * temporary copy is dropped and the torn tail is quarantined as usual. */
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        _cleanup_free_ char *tmp =
                path_in(dir, "audit.jsonl.torn-20261124T060214Z.at-100.pending.tmp-Ab12Cd");
        _cleanup_free_ char *other = path_in(dir, "audit.jsonl.torn-notes.txt");
        uint64_t cut = make_torn_log(path);
        file_write(tmp, torn_line, 10);
        file_write(other, "x", 1); /* not a name the agent makes: left alone */

        open_expect_seq(path, NULL, 6);
        assert_int_equal(access(tmp, F_OK), -1);
        assert_int_equal(unlink(other), 0);
        expect_quarantined_once(path, cut, SIZE_MAX, false, 6);
}

static void test_torn_crash_after_record(void **state) {
        /* A crash right after the record: the next start finishes the quarantine without a second record. */
        const char *path = log_path(state);
        uint64_t cut = make_torn_log(path);

        open_killed(path, AUDIT_FAULT_OPEN_KILL_AFTER_RECORD);
        uint64_t size = file_size(path);

        open_expect_seq(path, NULL, 6);
        assert_int_equal(file_size(path), size);
        expect_quarantined_once(path, cut, SIZE_MAX, false, 6);
}

static void test_torn_crash_in_record(void **state) {
        /* A crash inside the write of the log-torn-tail record itself: the next start finds a new torn tail
         * (half of that record) and must record both quarantine files, the first one first. */
        const char *path = log_path(state);
        uint64_t cut = make_torn_log(path);

        open_killed(path, AUDIT_FAULT_TORN_KILL);
        assert_true(file_size(path) > cut);

        open_expect_seq(path, NULL, 7);
        TornRecord t;
        assert_int_equal(check_quarantines(path, &t), 2);
        /* Half of the first record was where the first torn line had been. */
        assert_int_equal(t.offset, cut);
        assert_false(t.recovered);

        /* The first record is for the first torn line, with its bytes, written by the later start. */
        AuditReader *r;
        AuditLine line;
        AuditRecordHead h;
        assert_int_equal(audit_reader_open(path, &r), 0);
        do {
                assert_int_equal(audit_reader_next(r, &line), 1);
                assert_int_equal(audit_record_scan(line.data, line.len, &h, NULL), 0);
        } while (h.event != AUDIT_EVENT_LOG_TORN_TAIL);
        assert_int_equal(record_number(line.data, line.len, "bytes"), strlen(torn_line));
        assert_true(record_string_is(line.data, line.len, "recovered", "after-restart"));
        audit_reader_free(r);
        verify_ok(path, 7, 2);
        reopen_changes_nothing(path, 7, 2);
}

static void test_torn_crash_rotated(void **state) {
        /* The torn line was the first record of a new file: after the cut the active file is empty, and the
         * next start links the chain (log-rotated) before it records the quarantine file; a crash after
         * the record leaves nothing to add. */
        static const AuditFault faults[] = { AUDIT_FAULT_OPEN_KILL_AFTER_CUT,
                                             AUDIT_FAULT_OPEN_KILL_AFTER_RECORD };
        for (size_t i = 0; i < ELEMENTSOF(faults); i++) {
                char *dir = tmpdir_new();
                _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
                make_log_rotated_away(dir, path);
                file_write(path, torn_first_record, sizeof(torn_first_record));

                open_killed(path, faults[i]);
                if (faults[i] == AUDIT_FAULT_OPEN_KILL_AFTER_CUT)
                        assert_int_equal(file_size(path), 0);

                AuditLog *log = log_open_ok(path, NULL);
                assert_int_equal(audit_log_get_seq(log), 5); /* log-rotated, then log-torn-tail */
                audit_log_free(log);
                _cleanup_free_ char *d = file_read(path, NULL);
                const char *rot = strstr(d, "\"event\":\"log-rotated\"");
                assert_non_null(rot);
                assert_true(rot < strstr(d, "\"event\":\"log-torn-tail\""));
                expect_quarantined_once(path, 0, 19, faults[i] == AUDIT_FAULT_OPEN_KILL_AFTER_CUT, 5);
                tmpdir_remove(dir);
        }
}

static void test_journal_best_effort(void **state) {
        /* With the journal on: where journald runs the records go there too; where it does not (as in most
         * containers), sending fails, is logged once, and the file still gets every record. */
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = false };
        AuditLog *log = log_open_ok(path, &o);
        assert_int_equal(append_signs(log, 1, 3), 3);
        audit_log_free(log);
        assert_verifies(path, 3);

        /* Reading the journal's head: a log it never saw has none. */
        AuditJournalHead head;
        assert_int_equal(
                audit_journal_head_read(
                        NULL, "/nonexistent/kyso-test/audit.jsonl", AUDIT_JOURNAL_HIGHEST, &head),
                -ENODATA);
}

KYSO_TEST_MAIN_FIXTURE(
        log_dir_setup, log_dir_teardown,
        {
                cmocka_unit_test(test_append_reopen),
                cmocka_unit_test(test_lock),
                cmocka_unit_test(test_torn_tail),
                cmocka_unit_test(test_torn_first_line),
                cmocka_unit_test(test_refuse_garbage),
                cmocka_unit_test(test_refuse_garbage_with_tail),
                cmocka_unit_test(test_open_advice),
                cmocka_unit_test(test_active_file_gone),
                cmocka_unit_test(test_log_folder_gone),
                cmocka_unit_test(test_faults),
                cmocka_unit_test(test_fault_stuck),
                cmocka_unit_test(test_rotate_size),
                cmocka_unit_test(test_rotate_month),
                cmocka_unit_test(test_rotate_interrupted),
                cmocka_unit_test(test_rotate_torn_first_record),
                cmocka_unit_test(test_torn_crash_before_cut),
                cmocka_unit_test(test_torn_crash_after_cut),
                cmocka_unit_test(test_torn_stale_temporary),
                cmocka_unit_test(test_torn_crash_after_record),
                cmocka_unit_test(test_torn_crash_in_record),
                cmocka_unit_test(test_torn_crash_rotated),
                cmocka_unit_test(test_rotate_create_fails),
                cmocka_unit_test(test_no_secrets),
                cmocka_unit_test(test_escaping),
                cmocka_unit_test(test_default_path),
                cmocka_unit_test(test_time_format),
                cmocka_unit_test(test_parse_rotation),
                cmocka_unit_test(test_journal_best_effort),
        });
