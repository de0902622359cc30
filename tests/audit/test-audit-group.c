/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AuditLog's group commit (audit_log_append_group): one write and one fdatasync for several records, all or
 * nothing, never split across files. Rotation by month is the same code as for one record (test-audit-log).
 */
#include "kyso-test.h"

#include "audit-test-util.h"

#define GROUP_DOCS_MAX 64

/* n signing events for documents "g<group>-<i>.txt"; names live in names[]. */
static void group_events(unsigned group, size_t n, char names[][32], AuditEvent *evs) {
        assert_true(n <= GROUP_DOCS_MAX);
        for (size_t i = 0; i < n; i++) {
                snprintf(names[i], 32, "g%u-%zu.txt", group, i);
                evs[i] = (AuditEvent){
                        .type = AUDIT_EVENT_SIGN_DONE,
                        .document = names[i],
                        .sha256_before = "1111111111111111111111111111111111111111111111111111111111111111",
                        .cert_subject = "CN=Nguyễn Văn A,O=UBND phường Uông Bí",
                        .role = "approve",
                        .decision = "allowed",
                };
        }
}

static uint64_t append_group_ok(AuditLog *log, unsigned group, size_t n) {
        char names[GROUP_DOCS_MAX][32];
        AuditEvent evs[GROUP_DOCS_MAX];
        uint64_t first = 0;

        group_events(group, n, names, evs);
        assert_int_equal(audit_log_append_group(log, evs, n, &first), 0);
        return first;
}

static void test_group_chain(void **state) {
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);

        assert_int_equal(append_signs(log, 1, 2), 2);
        assert_int_equal(append_group_ok(log, 1, 5), 3);
        assert_int_equal(audit_log_get_seq(log), 7);
        assert_int_equal(append_signs(log, 3, 1), 8);
        audit_log_free(log);

        /* In order, each linked to the one before (verify checks prev and seq of every line). */
        size_t size;
        _cleanup_free_ char *data = file_read(path, &size);
        for (unsigned i = 0; i < 5; i++) {
                char want[64];
                snprintf(want, sizeof(want), "\"seq\":%u,", 3 + i);
                const char *line = data + line_offset(data, size, 3 + i);
                assert_memory_equal(strstr(line, "\"seq\":"), want, strlen(want));
                snprintf(want, sizeof(want), "g1-%u.txt", i);
                const char *at = strstr(line, want);
                assert_non_null(at);
                assert_true(at < strchr(line, '\n'));
        }
        assert_verifies(path, 8);

        /* Reopened: the head is the group's last record. */
        open_expect_seq(path, NULL, 8);
}

/* Faults count appends: with one fault skipped, a whole group passes and the next whole group fails, which
 * shows that a group is one write and one fdatasync; the failed group leaves the file as it was. */
static void check_group_fault(AuditFault fault, int expected) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
        AuditLog *log = log_open_ok(path, NULL);
        char names[GROUP_DOCS_MAX][32];
        AuditEvent evs[GROUP_DOCS_MAX];
        uint64_t first = 0;

        append_signs(log, 1, 3);
        audit_log_inject_fault(log, fault, 1);
        assert_int_equal(append_group_ok(log, 1, 4), 4);
        size_t s1;
        _cleanup_free_ char *d1 = file_read(path, &s1);
        group_events(2, 6, names, evs);
        assert_int_equal(audit_log_append_group(log, evs, 6, &first), expected);
        assert_int_equal(first, 0);
        assert_int_equal(audit_log_get_seq(log), 7);
        assert_file_is(path, d1, s1);

        /* The log goes on after the failed group, after the log-unwritable record (seq 8) that says what
         * the failed group could not record (issue 12). */
        assert_int_equal(audit_log_append_group(log, evs, 6, &first), 0);
        assert_int_equal(first, 9);
        assert_unwritable_record(path, s1, 8, 6);
        audit_log_free(log);
        assert_verifies(path, 14);
        tmpdir_remove(dir);
}

/* A group that starts a file: only the file's first record names the chain (test-audit-journal). */
static void test_group_first_of_file(void **state) {
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);

        assert_int_equal(append_group_ok(log, 1, 3), 1);
        audit_log_free(log);

        size_t size;
        _cleanup_free_ char *data = file_read(path, &size);
        for (unsigned seq = 1; seq <= 3; seq++) {
                size_t at = line_offset(data, size, seq);
                size_t len = strcspn(data + at, "\n");
                bool named = memmem(data + at, len, "\"chain\":\"", 9) != NULL;
                assert_true(named == (seq == 1));
        }
        assert_verifies(path, 3);
}

static void test_group_faults(void **state) {
        for_each_write_fault(check_group_fault);
}

static void test_group_invalid(void **state) {
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);
        char names[GROUP_DOCS_MAX][32];
        AuditEvent evs[GROUP_DOCS_MAX];

        group_events(1, 3, names, evs);
        assert_int_equal(audit_log_append_group(log, evs, 0, NULL), -EINVAL);
        assert_int_equal(audit_log_append_group(log, NULL, 1, NULL), -EINVAL);
        assert_int_equal(audit_log_append_group(NULL, evs, 1, NULL), -EINVAL);
        assert_int_equal(audit_log_append_group(log, evs, AUDIT_GROUP_MAX + 1, NULL), -EINVAL);
        /* One bad record refuses the group: the good ones before it are not written either. */
        evs[2].type = _AUDIT_EVENT_MAX;
        assert_int_equal(audit_log_append_group(log, evs, 3, NULL), -EINVAL);
        const char *extra[] = { "pin", "1234", NULL };
        evs[2] = evs[1];
        evs[2].extra = extra;
        assert_int_equal(audit_log_append_group(log, evs, 3, NULL), -EINVAL);
        assert_int_equal(audit_log_get_seq(log), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 0);
        audit_log_free(log);
}

/* The number of the file (0: the active one, else N of "audit.jsonl.N") that holds document name. */
static int file_of(char **files, const char *name) {
        int found = -1;
        for (int i = 0; files[i]; i++) {
                _cleanup_free_ char *d = file_read(files[i], NULL);
                if (strstr(d, name)) {
                        assert_int_equal(found, -1);
                        found = i;
                }
        }
        assert_true(found >= 0);
        return found;
}

static void test_group_rotate_size(void **state) {
        /* Groups of 3 records (about 1.2 KiB) into files of at most 4 KiB: rotations happen between groups,
         * never inside one, and no file grows past the limit. */
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .max_size = 4096 };
        AuditLog *log = log_open_ok(path, &o);
        for (unsigned g = 0; g < 12; g++)
                append_group_ok(log, g, 3);
        audit_log_free(log);

        _cleanup_strv_free_ char **files = NULL;
        unsigned max = 0;
        assert_int_equal(audit_chain_files(path, &files, &max), 0);
        assert_true(max >= 3);
        for (size_t i = 0; files[i]; i++) {
                struct stat st;
                assert_int_equal(stat(files[i], &st), 0);
                assert_true(st.st_size <= 4096);
        }
        for (unsigned g = 0; g < 12; g++) {
                char a[32], c[32];
                snprintf(a, sizeof(a), "g%u-0.txt", g);
                snprintf(c, sizeof(c), "g%u-2.txt", g);
                assert_int_equal(file_of(files, a), file_of(files, c));
        }
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.records, 36 + max);
        assert_int_equal(res.rotations, max);
        audit_verify_result_done(&res);
}

/* A clock that moves on by a millisecond every time it is read, as the real one does across an fdatasync. */
static uint64_t ticking_now;
static uint64_t ticking_clock(void *userdata) {
        return ticking_now++;
}

static void test_group_rotation_time(void **state) {
        /* Issue 12: the rotation record was stamped after the group that made it, which was written with
         * the earlier time of the group: verify then saw the time go backwards on an untouched log. The
         * rotation and the group that follows share one time; the log's times never go backwards. */
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .max_size = 4096, .rotate_monthly = true };
        int64_t t;

        assert_int_equal(audit_parse_time("2026-10-31T23:59:59.000Z", &t), 0);
        ticking_now = (uint64_t) t;
        AuditLog *log = log_open_ok(path, &o);
        audit_log_set_clock(log, ticking_clock, NULL);
        for (unsigned g = 0; g < 6; g++) /* by size */
                append_group_ok(log, g, 3);
        ticking_now += 2000; /* 2026-11-01: by month */
        append_group_ok(log, 6, 3);
        audit_log_free(log);

        _cleanup_strv_free_ char **files = NULL;
        unsigned max = 0;
        assert_int_equal(audit_chain_files(path, &files, &max), 0);
        assert_true(max >= 2);
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.records, 21 + max);
        assert_int_equal(res.rotations, max);
        assert_int_equal(res.time_backwards, 0);
        audit_verify_result_done(&res);
}

static void test_group_larger_than_file(void **state) {
        /* A group larger than max_size goes to a file of its own after the rotation record, whole. */
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .max_size = 4096 };
        AuditLog *log = log_open_ok(path, &o);
        append_signs(log, 1, 1);
        append_group_ok(log, 1, 20);
        append_signs(log, 2, 1);
        audit_log_free(log);

        _cleanup_strv_free_ char **files = NULL;
        unsigned max = 0;
        assert_int_equal(audit_chain_files(path, &files, &max), 0);
        assert_int_equal(max, 2);
        assert_int_equal(file_of(files, "g1-0.txt"), 1);
        assert_int_equal(file_of(files, "g1-19.txt"), 1);
        assert_int_equal(file_of(files, "doc-2.pdf"), 2);
        assert_verifies(path, 1 + 20 + 1 + max);
}

KYSO_TEST_MAIN_FIXTURE(
        log_dir_setup, log_dir_teardown,
        {
                cmocka_unit_test(test_group_chain),
                cmocka_unit_test(test_group_first_of_file),
                cmocka_unit_test(test_group_faults),
                cmocka_unit_test(test_group_invalid),
                cmocka_unit_test(test_group_rotate_size),
                cmocka_unit_test(test_group_rotation_time),
                cmocka_unit_test(test_group_larger_than_file),
        });
