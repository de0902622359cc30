/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit log against the journal's memory of it: the chain identity in the first record of each file,
 * the check at the agent's start (a deleted active file, a deleted log, a replaced log) that writes a
 * log-records-missing record, verify failing on that record, and reading the journal's head from export
 * files and (with systemd-journal-remote, to make journal files without journald) from journal files. */
#include "kyso-test.h"

#include <sys/wait.h>

#include "audit-test-util.h"

/* What the journal would have of the log now: its newest entry. */
static AuditJournalHead journal_of(AuditLog *log) {
        AuditJournalHead j = { .present = true, .seq = audit_log_get_seq(log) };
        strcpy(j.hash, audit_log_get_head_hash(log));
        strcpy(j.chain, audit_log_get_chain(log));
        return j;
}

/* Appends n records to the log at path (made when missing); returns the journal's memory of it. */
static AuditJournalHead log_of(const char *path, unsigned n) {
        AuditLog *log = log_open_ok(path, NULL);
        append_signs(log, 1, n);
        AuditJournalHead j = journal_of(log);
        audit_log_free(log);
        return j;
}

/* A log of n records at path, deleted, and a new one opened in its place (the agent's next start): the new
 * log, and the journal's memory of the deleted one in *ret_head. */
static AuditLog *log_after_deleted(const char *path, unsigned n, AuditJournalHead *ret_head) {
        *ret_head = log_of(path, n);
        assert_int_equal(unlink(path), 0);
        return log_open_ok(path, NULL);
}

static int check(AuditLog *log, const AuditJournalHead *j, char **ret_message) {
        char *msg = NULL;
        int r = audit_log_check_journal(log, j, &msg);
        if (ret_message)
                *ret_message = msg;
        else
                free(msg);
        return r;
}

static void expect_problem(const char *path, const AuditJournalHead *j, AuditProblem p, const char *words) {
        AuditVerifyResult res;
        int r = verify_log(path, j, &res);
        if (r != (p == AUDIT_PROBLEM_NONE ? 0 : 1) || res.problem != p ||
            (words && !strstr(strempty(res.message), words)))
                fail_msg(
                        "verify: %d, problem %s, message '%s'; expected %s with '%s'", r,
                        audit_problem_to_string(res.problem), strna(res.message), audit_problem_to_string(p),
                        strna(words));
        audit_verify_result_done(&res);
}

static void test_chain_id(void **state) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
        AuditLogOptions o = { .no_journal = true, .max_size = 4096 };
        AuditLog *log = log_open_ok(path, &o);
        char chain[AUDIT_CHAIN_HEX + 1];

        /* A new log gets a chain identity at once; the first record of every file names it. */
        strcpy(chain, audit_log_get_chain(log));
        assert_int_equal(strlen(chain), AUDIT_CHAIN_HEX);
        assert_true(audit_is_hex(chain, AUDIT_CHAIN_HEX));
        append_signs(log, 1, 12); /* rotates a few times */
        audit_log_free(log);
        _cleanup_free_ char *first = file_read(path, NULL);
        _cleanup_free_ char *archive1 = path_in(dir, "audit.jsonl.1");
        _cleanup_free_ char *first1 = file_read(archive1, NULL);
        _cleanup_free_ char *want = NULL;
        assert_true(asprintf(&want, "\",\"chain\":\"%s\",", chain) > 0);
        assert_non_null(strstr(first, want));
        assert_true(strstr(first, want) < strchr(first, '\n'));
        assert_non_null(strstr(first1, want));
        assert_true(strstr(first1, want) < strchr(first1, '\n'));
        /* ... and only the first. */
        assert_null(strstr(strchr(first1, '\n'), "\"chain\""));

        /* Reopened, the log keeps its identity; verify reports it. */
        log = log_open_ok(path, &o);
        assert_string_equal(audit_log_get_chain(log), chain);
        audit_log_free(log);
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_string_equal(res.chain, chain);
        audit_verify_result_done(&res);

        /* A log made again from nothing is another chain. */
        tmpdir_remove(dir);
        dir = tmpdir_new();
        free(path);
        path = path_in(dir, "audit.jsonl");
        log = log_open_ok(path, &o);
        assert_string_not_equal(audit_log_get_chain(log), chain);
        audit_log_free(log);
        tmpdir_remove(dir);
}

static void test_start_consistent(void **state) {
        const char *path = log_path(state);
        AuditLog *log = log_open_ok(path, NULL);
        append_signs(log, 1, 5);
        AuditJournalHead older = journal_of(log);
        append_signs(log, 6, 3);
        AuditJournalHead j = journal_of(log);
        audit_log_free(log);

        /* The journal saw the head, or (rate-limited, or journald down a while) an older record. */
        log = log_open_ok(path, NULL);
        assert_int_equal(check(log, &j, NULL), 0);
        assert_int_equal(check(log, &older, NULL), 0);
        AuditJournalHead none = {};
        assert_int_equal(check(log, &none, NULL), 0);
        assert_int_equal(audit_log_get_seq(log), 8); /* nothing written */
        audit_log_free(log);
        expect_problem(path, &j, AUDIT_PROBLEM_NONE, NULL);
}

/* The active file deleted: the log goes on from the newest archive, and says what is missing. */
static void test_start_active_deleted(void **state) {
        const char *path = log_path(state);
        AuditLogOptions o = { .no_journal = true, .max_size = 4096 };
        AuditLog *log = log_open_ok(path, &o);
        append_signs(log, 1, 12);
        uint64_t archived = 0; /* the last seq of the newest archive */
        {
                AuditReader *r;
                AuditLine line;
                AuditRecordHead h;
                _cleanup_free_ char *a = NULL;
                unsigned max = 0;
                assert_int_equal(audit_chain_files(path, NULL, &max), 0);
                assert_true(max >= 2);
                assert_true(asprintf(&a, "%s.%u", path, max) > 0);
                assert_int_equal(audit_reader_open_file(a, &r), 0);
                while (audit_reader_next(r, &line) > 0) {
                        assert_int_equal(audit_record_scan(line.data, line.len, &h, NULL), 0);
                        archived = h.seq;
                }
                audit_reader_free(r);
        }
        AuditJournalHead j = journal_of(log);
        audit_log_free(log);
        assert_true(j.seq > archived);
        assert_int_equal(unlink(path), 0);

        /* Without the journal nothing can tell: the chain is intact, with a "recovered" rotation. */
        log = log_open_ok(path, &o);
        append_signs(log, 100, 1);
        audit_log_free(log);
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.recovered, 1);
        audit_verify_result_done(&res);
        assert_int_equal(unlink(path), 0);

        log = log_open_ok(path, &o);
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(check(log, &j, &msg), 1);
        assert_non_null(msg);
        _cleanup_free_ char *words = NULL;
        assert_true(asprintf(&words, "seq %" PRIu64 " to %" PRIu64, archived + 1, j.seq) > 0);
        if (!strstr(msg, words))
                fail_msg("message '%s' lacks '%s'", msg, words);
        /* Checked again (the next start): the record is there, nothing more to say. */
        AuditJournalHead now = journal_of(log);
        assert_int_equal(check(log, &now, NULL), 0);
        audit_log_free(log);

        _cleanup_free_ char *d = file_read(path, NULL);
        assert_non_null(strstr(d, "\"event\":\"log-rotated\""));
        assert_non_null(strstr(d, "\"event\":\"log-records-missing\""));
        _cleanup_free_ char *field = NULL;
        assert_true(asprintf(&field, "\"journal_seq\":\"%" PRIu64 "\"", j.seq) > 0);
        assert_non_null(strstr(d, field));
        assert_non_null(strstr(d, j.hash));
        expect_problem(path, NULL, AUDIT_PROBLEM_RECORDS_MISSING, words);
}

/* Everything deleted: a new chain starts, and its first record says what the journal remembers. */
static void test_start_all_deleted(void **state) {
        const char *path = log_path(state);
        AuditJournalHead j;
        AuditLog *log = log_after_deleted(path, 7, &j);
        assert_string_not_equal(audit_log_get_chain(log), j.chain);
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(check(log, &j, &msg), 1);
        assert_non_null(strstr(msg, "seq 1 to 7"));
        assert_int_equal(audit_log_get_seq(log), 1);
        append_signs(log, 1, 150); /* more than the journal reader once looked at */
        audit_log_free(log);

        _cleanup_free_ char *d = file_read(path, NULL);
        assert_true(strstr(d, "\"event\":\"log-records-missing\"") < strchr(d, '\n'));
        assert_non_null(strstr(d, j.chain));
        expect_problem(path, NULL, AUDIT_PROBLEM_RECORDS_MISSING, "seq 1 to 7");
}

/* Another log put in its place (an old copy, another desk's): the journal's head is not in it. */
static void test_start_replaced(void **state) {
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        _cleanup_free_ char *other = path_in(dir, "other.jsonl");
        (void) log_of(other, 9);
        AuditJournalHead j = log_of(path, 9);
        assert_int_equal(rename(other, path), 0);

        /* Same seq, other hash and chain. */
        AuditLog *log = log_open_ok(path, NULL);
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(check(log, &j, &msg), 1);
        assert_non_null(strstr(msg, "replaced"));
        audit_log_free(log);
        expect_problem(path, NULL, AUDIT_PROBLEM_RECORDS_MISSING, "replaced");

        /* The journal's head older than the log's, but of another chain: replaced too. */
        AuditJournalHead j2 = log_of(other, 3);
        assert_int_equal(unlink(other), 0);
        _cleanup_free_ char *msg2 = NULL;
        log = log_open_ok(path, NULL);
        assert_int_equal(check(log, &j2, &msg2), 1);
        assert_non_null(strstr(msg2, "another log"));
        audit_log_free(log);
}

/* The record of missing records cannot be written: the check fails, so the agent does not start. */
static void test_start_cannot_record(void **state) {
        const char *path = log_path(state);
        AuditJournalHead j;
        AuditLog *log = log_after_deleted(path, 4, &j);
        audit_log_inject_fault(log, AUDIT_FAULT_ENOSPC, 0);
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(check(log, &j, &msg), -ENOSPC);
        assert_non_null(msg);
        audit_log_free(log);
}

/* One entry as journalctl -o export writes it (systemd-journal-remote wants the timestamps and boot id). */
static void write_export(FILE *out, const char *path, const char *chain, uint64_t seq, const char *hash) {
        static uint64_t n = 0;
        n++;
        fprintf(out,
                "__REALTIME_TIMESTAMP=%" PRIu64 "\n__MONOTONIC_TIMESTAMP=%" PRIu64
                "\n_BOOT_ID=00112233445566778899aabbccddeeff\nMESSAGE=kyso audit #%" PRIu64
                "\nKYSO_AUDIT_SEQ=%" PRIu64
                "\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_FILE=%s\nKYSO_AUDIT_CHAIN=%s\n\n",
                UINT64_C(1790000000000000) + n * 1000, n * 1000, seq, seq, hash, path, chain);
}

#define CHAIN_X "0123456789abcdef0123456789abcdef"
#define CHAIN_Y "fedcba9876543210fedcba9876543210"

/* The journal of a log that was deleted and started again: 500 records of chain X, then 150 of chain Y. */
static char *make_export(const char *dir, const char *path) {
        char *exp = path_in(dir, "journal.export");
        char hash[AUDIT_HASH_HEX + 1];
        FILE *out = fopen(exp, "we");
        assert_non_null(out);
        for (uint64_t s = 1; s <= 500; s++) {
                snprintf(hash, sizeof(hash), "%064" PRIx64, s);
                write_export(out, path, CHAIN_X, s, hash);
        }
        for (uint64_t s = 1; s <= 150; s++) {
                snprintf(hash, sizeof(hash), "%063" PRIx64 "f", s);
                write_export(out, path, CHAIN_Y, s, hash);
        }
        write_export(out, "/other/audit.jsonl", CHAIN_X, 9999, hash);
        fclose(out);
        return exp;
}

static void expect_head(const AuditJournalHead *j, uint64_t seq, const char *chain) {
        assert_true(j->present);
        if (j->seq != seq || !streq(j->chain, chain))
                fail_msg(
                        "journal head seq %" PRIu64 " chain %s, expected %" PRIu64 " %s", j->seq, j->chain,
                        seq, chain);
}

static void test_export(void **state) {
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        _cleanup_free_ char *exp = make_export(dir, path);
        AuditJournalHead j;

        assert_int_equal(audit_journal_head_from_export(exp, path, AUDIT_JOURNAL_HIGHEST, &j), 0);
        expect_head(&j, 500, CHAIN_X);
        assert_int_equal(audit_journal_head_from_export(exp, path, AUDIT_JOURNAL_NEWEST, &j), 0);
        expect_head(&j, 150, CHAIN_Y);
        char want[AUDIT_HASH_HEX + 1];
        snprintf(want, sizeof(want), "%063" PRIx64 "f", (uint64_t) 150);
        assert_string_equal(j.hash, want);
}

/* Verify with the journal's head of another chain: the log was made again; its records up to the head are
 * gone, whatever the new chain's length. */
static void test_verify_other_chain(void **state) {
        const char *path = log_path(state);
        AuditJournalHead j = log_of(path, 20);

        j.chain[0] = j.chain[0] == 'a' ? 'b' : 'a';
        expect_problem(path, &j, AUDIT_PROBLEM_CHAIN_REPLACED, "another chain");
        j.seq = 15; /* lower than the log's head: still not this log's */
        expect_problem(path, &j, AUDIT_PROBLEM_CHAIN_REPLACED, "another chain");
        j.seq = 500;
        expect_problem(path, &j, AUDIT_PROBLEM_CHAIN_REPLACED, "up to seq 500");
}

/* Journal files as journald writes them, made from the export by systemd-journal-remote: the head is the
 * largest seq among all the log's entries, not among the newest hundred. */
static void test_journal_files(void **state) {
        const char *remote = "/usr/lib/systemd/systemd-journal-remote";
        if (access(remote, X_OK) < 0) {
                remote = "/lib/systemd/systemd-journal-remote";
                if (access(remote, X_OK) < 0) {
                        print_message("systemd-journal-remote is not installed: skipping\n");
                        skip();
                }
        }
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        _cleanup_free_ char *exp = make_export(dir, path);
        _cleanup_free_ char *jdir = path_in(dir, "journal");
        _cleanup_free_ char *cmd = NULL;
        assert_int_equal(mkdir(jdir, 0700), 0);
        assert_true(
                asprintf(&cmd, "%s --output='%s/remote.journal' '%s' 2>/dev/null", remote, jdir, exp) > 0);
        int st = system(cmd);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

        AuditJournalHead j;
        assert_int_equal(audit_journal_head_read(jdir, path, AUDIT_JOURNAL_HIGHEST, &j), 0);
        expect_head(&j, 500, CHAIN_X);
        char want[AUDIT_HASH_HEX + 1];
        snprintf(want, sizeof(want), "%064" PRIx64, (uint64_t) 500);
        assert_string_equal(j.hash, want);
        assert_int_equal(audit_journal_head_read(jdir, path, AUDIT_JOURNAL_NEWEST, &j), 0);
        expect_head(&j, 150, CHAIN_Y);
        assert_int_equal(audit_journal_head_read(jdir, "/nothing", AUDIT_JOURNAL_HIGHEST, &j), -ENODATA);
}

KYSO_TEST_MAIN_FIXTURE(
        log_dir_setup, log_dir_teardown,
        {
                cmocka_unit_test(test_chain_id),
                cmocka_unit_test(test_start_consistent),
                cmocka_unit_test(test_start_active_deleted),
                cmocka_unit_test(test_start_all_deleted),
                cmocka_unit_test(test_start_replaced),
                cmocka_unit_test(test_start_cannot_record),
                cmocka_unit_test(test_export),
                cmocka_unit_test(test_verify_other_chain),
                cmocka_unit_test(test_journal_files),
        });
