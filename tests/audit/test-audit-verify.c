/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "audit-test-util.h"

typedef struct Fixture {
        LogDir log;
        char *data; /* the intact log */
        size_t size;
        char head[AUDIT_HASH_HEX + 1];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        log_dir_init(&f->log);
        AuditLog *log = log_open_ok(f->log.path, NULL);
        append_signs(log, 1, 10);
        strcpy(f->head, audit_log_get_head_hash(log));
        audit_log_free(log);
        f->data = file_read(f->log.path, &f->size);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        log_dir_done(&f->log);
        free(f->data);
        free(f);
        return 0;
}

/* Writes the intact log with lines [from, to) replaced by repl (which may be empty). */
static void splice_lines(Fixture *f, unsigned from, unsigned to, const char *repl, size_t repl_len) {
        size_t a = line_offset(f->data, f->size, from), b = line_offset(f->data, f->size, to);
        file_write(f->log.path, f->data, a);
        if (repl_len > 0)
                file_append(f->log.path, repl, repl_len);
        file_append(f->log.path, f->data + b, f->size - b);
}

static void
expect(Fixture *f, const AuditJournalHead *j, AuditProblem p, uint64_t line, uint64_t seq,
       const char *words) {
        AuditVerifyResult res;
        assert_int_equal(verify_log(f->log.path, j, &res), p == AUDIT_PROBLEM_NONE ? 0 : 1);
        assert_int_equal(res.problem, p);
        if (p != AUDIT_PROBLEM_NONE) {
                assert_int_equal(res.line, line);
                if (seq != UINT64_MAX) /* the test cannot know it */
                        assert_int_equal(res.seq, seq);
                assert_non_null(res.message);
                if (!strstr(res.message, words))
                        fail_msg("message '%s' lacks '%s'", res.message, words);
        }
        audit_verify_result_done(&res);
}

static void line_hash(Fixture *f, unsigned n, char hex[AUDIT_HASH_HEX + 1]) {
        AuditHasher *h;
        size_t a = line_offset(f->data, f->size, n), b = line_offset(f->data, f->size, n + 1);
        assert_int_equal(audit_hasher_new(&h), 0);
        assert_int_equal(audit_hasher_line(h, f->data + a, b - a - 1, hex), 0);
        audit_hasher_free(h);
}

static void test_intact(void **state) {
        Fixture *f = *state;
        AuditJournalHead j = { .present = true, .seq = 10 };
        strcpy(j.hash, f->head);
        expect(f, NULL, AUDIT_PROBLEM_NONE, 0, 0, NULL);
        expect(f, &j, AUDIT_PROBLEM_NONE, 0, 0, NULL);
}

static void test_changed_byte(void **state) {
        Fixture *f = *state;
        char *p = strstr(f->data, "doc-5.pdf");
        p[2] = 'd';
        file_write(f->log.path, f->data, f->size);
        p[2] = 'c';
        expect(f, NULL, AUDIT_PROBLEM_CHANGED, 5, 5, "Record seq 5");
        expect(f, NULL, AUDIT_PROBLEM_CHANGED, 5, 5, "was changed");
}

static void test_changed_prev(void **state) {
        Fixture *f = *state;
        size_t a = line_offset(f->data, f->size, 6);
        char *p = strstr(f->data + a, "\"prev\":\"") + 8;
        char saved = *p;
        *p = *p == 'a' ? 'b' : 'a';
        file_write(f->log.path, f->data, f->size);
        *p = saved;
        expect(f, NULL, AUDIT_PROBLEM_CHANGED, 6, 6, "neither its \"prev\"");
}

static void test_removed(void **state) {
        Fixture *f = *state;
        splice_lines(f, 5, 6, "", 0);
        expect(f, NULL, AUDIT_PROBLEM_REMOVED, 5, 6, "Records seq 5 to 5 were removed");
        splice_lines(f, 4, 7, "", 0);
        expect(f, NULL, AUDIT_PROBLEM_REMOVED, 4, 7, "Records seq 4 to 6 were removed");
}

static void test_inserted(void **state) {
        Fixture *f = *state;
        /* A copy of record 4 with another document, put after it. */
        size_t a = line_offset(f->data, f->size, 4), b = line_offset(f->data, f->size, 5);
        _cleanup_free_ char *copy = strndup(f->data + a, b - a);
        strstr(copy, "doc-4")[4] = '9';
        splice_lines(f, 5, 5, copy, b - a);
        expect(f, NULL, AUDIT_PROBLEM_INSERTED, 5, 4, "A record was inserted");

        /* A well-formed forgery: right seq, right prev, put before the real record 5. */
        Forge forge;
        forge_init(&forge);
        line_hash(f, 4, forge.prev);
        FILE *m;
        char *buf = NULL;
        size_t len = 0;
        assert_non_null(m = open_memstream(&buf, &len));
        forge_line(
                &forge, m, 5, "2026-11-24T06:00:00.000Z", "sign-done",
                ",\"document\":{\"name\":\"forged.pdf\"}");
        fclose(m);
        splice_lines(f, 5, 5, buf, len);
        free(buf);
        audit_hasher_free(forge.hasher);
        expect(f, NULL, AUDIT_PROBLEM_INSERTED, 5, 5, "both claim seq 5");
}

static void test_reordered(void **state) {
        Fixture *f = *state;
        size_t a = line_offset(f->data, f->size, 5), b = line_offset(f->data, f->size, 6),
               c = line_offset(f->data, f->size, 7);
        _cleanup_free_ char *swapped = malloc(c - a);
        memcpy(swapped, f->data + b, c - b);
        memcpy(swapped + (c - b), f->data + a, b - a);
        splice_lines(f, 5, 7, swapped, c - a);
        expect(f, NULL, AUDIT_PROBLEM_REORDERED, 5, 6, "out of order: seq 6");
}

static void test_truncated(void **state) {
        Fixture *f = *state;
        size_t a = line_offset(f->data, f->size, 10);
        file_write(f->log.path, f->data, a + 40);
        expect(f, NULL, AUDIT_PROBLEM_TORN_TAIL, 10, 0, "unfinished record at line 10");
}

static void test_seq_gap(void **state) {
        Fixture *f = *state;
        /* The seq of record 5 edited to 7: the link to record 4 holds, the number does not. */
        size_t a = line_offset(f->data, f->size, 5);
        char *p = strstr(f->data + a, "\"seq\":5,") + 6;
        *p = '7';
        file_write(f->log.path, f->data, f->size);
        *p = '5';
        expect(f, NULL, AUDIT_PROBLEM_SEQ_GAP, 5, 7, "Gap in sequence numbers: seq 7 follows seq 4");

        /* A chain written with a skipped number but intact links. */
        Forge forge;
        forge_init(&forge);
        FILE *out = fopen(f->log.path, "we");
        for (uint64_t s = 1; s <= 8; s++)
                if (s != 5)
                        forge_line(&forge, out, s, "2026-11-24T06:00:00.000Z", "agent-start", NULL);
        fclose(out);
        audit_hasher_free(forge.hasher);
        expect(f, NULL, AUDIT_PROBLEM_SEQ_GAP, 5, 6, "seq 6 follows seq 4");
}

static void test_journal(void **state) {
        Fixture *f = *state;
        AuditJournalHead j = { .present = true, .seq = 10 };
        strcpy(j.hash, f->head);

        /* The last two records cut off: only the journal can tell. */
        size_t a = line_offset(f->data, f->size, 9);
        file_write(f->log.path, f->data, a);
        expect(f, NULL, AUDIT_PROBLEM_NONE, 0, 0, NULL);
        expect(f, &j, AUDIT_PROBLEM_TAIL_CUT, 8, 9,
               "ends at seq 8 but the journal saw records up to seq 10");

        /* The journal's record has another hash: the log was rewritten. */
        file_write(f->log.path, f->data, f->size);
        j.hash[0] = j.hash[0] == 'a' ? 'b' : 'a';
        expect(f, &j, AUDIT_PROBLEM_JOURNAL_MISMATCH, 10, 10, "not the one the journal saw");

        /* The last record changed: only the journal's hash shows it. */
        strcpy(j.hash, f->head);
        char *p = strstr(f->data + line_offset(f->data, f->size, 10), "doc-10");
        p[0] = 'D';
        file_write(f->log.path, f->data, f->size);
        p[0] = 'd';
        expect(f, NULL, AUDIT_PROBLEM_NONE, 0, 0, NULL);
        expect(f, &j, AUDIT_PROBLEM_JOURNAL_MISMATCH, 10, 10, "not the one the journal saw");
}

static void test_journal_export(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *exp = path_in(f->log.dir, "journal.export");
        FILE *out = fopen(exp, "we");
        fprintf(out,
                "__CURSOR=s=1\nMESSAGE=kyso audit #3\nKYSO_AUDIT_SEQ=3\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_FILE=%s\n\n",
                f->head, f->log.path);
        /* A binary field (name, 64-bit little-endian size, bytes, newline) must be skipped. */
        fprintf(out, "MESSAGE\n");
        const unsigned char le[8] = { 3, 0, 0, 0, 0, 0, 0, 0 };
        fwrite(le, 1, 8, out);
        fprintf(out, "a\nb\nKYSO_AUDIT_SEQ=12\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_FILE=%s\n\n", f->head,
                f->log.path);
        /* Another desk's log: ignored. */
        fprintf(out, "KYSO_AUDIT_SEQ=99\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_FILE=/other/audit.jsonl\n", f->head);
        fclose(out);

        AuditJournalHead j;
        assert_int_equal(audit_journal_head_from_export(exp, f->log.path, AUDIT_JOURNAL_HIGHEST, &j), 0);
        assert_true(j.present);
        assert_int_equal(j.seq, 12);
        assert_string_equal(j.hash, f->head);
        assert_int_equal(audit_journal_head_from_export(exp, NULL, AUDIT_JOURNAL_HIGHEST, &j), 0);
        assert_int_equal(j.seq, 99);
        assert_int_equal(
                audit_journal_head_from_export(exp, "/nothing", AUDIT_JOURNAL_HIGHEST, &j), -ENODATA);
        j.seq = 12;
        expect(f, &j, AUDIT_PROBLEM_TAIL_CUT, 10, 11, "up to seq 12");
}

/* A ward's central journal holds the entries of every desk, and an auditor may verify a copy of a desk's log
 * elsewhere: the entries of the log's own chain count, wherever and on whichever machine; another chain at
 * the path where that chain was, on the same machine, means the log was replaced there. */
static void test_journal_by_chain(void **state) {
        Fixture *f = *state;
        static const char orig[] = "/home/motcua/.local/state/kyso/audit.jsonl";
        static const char m1[] = "0123456789abcdef0123456789abcdef",
                          m2[] = "fedcba9876543210fedcba9876543210";
        static const char other_chain[] = "11111111111111111111111111111111";
        static const char third_chain[] = "22222222222222222222222222222222";
        _cleanup_free_ char *exp = path_in(f->log.dir, "central.export"),
                            *copy = path_in(f->log.dir, "copy.jsonl");
        char chain[AUDIT_CHAIN_HEX + 1];
        AuditJournalHead j;

        assert_int_equal(audit_log_chain_of(f->log.path, chain), 0);
        file_write(copy, f->data, f->size);
        FILE *out = fopen(exp, "we");
        assert_non_null(out);
        /* This desk (m1), then another desk with the same account name and a longer log (m2). */
        fprintf(out,
                "KYSO_AUDIT_SEQ=10\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_CHAIN=%s\nKYSO_AUDIT_FILE=%s\n_MACHINE_ID=%s\n\n",
                f->head, chain, orig, m1);
        fprintf(out,
                "KYSO_AUDIT_SEQ=50\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_CHAIN=%s\nKYSO_AUDIT_FILE=%s\n_MACHINE_ID=%s\n\n",
                f->head, other_chain, orig, m2);
        fclose(out);

        /* By path (the older way), the copy is unknown and the original path mixes both desks. */
        assert_int_equal(audit_journal_head_from_export(exp, copy, AUDIT_JOURNAL_HIGHEST, &j), -ENODATA);
        assert_int_equal(audit_journal_head_from_export(exp, orig, AUDIT_JOURNAL_HIGHEST, &j), 0);
        assert_int_equal(j.seq, 50);

        /* By the log's chain: this desk's entry, and the copy verifies. */
        assert_int_equal(audit_journal_head_for_verify(NULL, exp, copy, &j), 0);
        assert_int_equal(j.seq, 10);
        assert_string_equal(j.chain, chain);
        assert_string_equal(j.machine, m1);
        assert_string_equal(j.file, orig);
        free(f->log.path);
        f->log.path = strdup(copy);
        expect(f, &j, AUDIT_PROBLEM_NONE, 0, 0, NULL);

        /* Another chain once at that path on this desk: the log was replaced there, whatever its seq. */
        out = fopen(exp, "ae");
        assert_non_null(out);
        fprintf(out,
                "KYSO_AUDIT_SEQ=3\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_CHAIN=%s\nKYSO_AUDIT_FILE=%s\n_MACHINE_ID=%s\n\n",
                f->head, third_chain, orig, m1);
        fclose(out);
        assert_int_equal(audit_journal_head_for_verify(NULL, exp, copy, &j), 0);
        assert_int_equal(j.seq, 3);
        assert_string_equal(j.chain, third_chain);
        expect(f, &j, AUDIT_PROBLEM_CHAIN_REPLACED, 1, 0, "another chain");

        /* A log the journal does not know by its chain: by its path, as before. */
        assert_int_equal(audit_journal_head_for_verify(NULL, exp, "/nothing/audit.jsonl", &j), -ENODATA);
}

static void test_rotation(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *path = path_in(f->log.dir, "rot/audit.jsonl");
        AuditLogOptions o = { .no_journal = true, .max_size = 2048 };
        make_log(path, &o, 30);
        free(f->log.path);
        f->log.path = strdup(path);
        expect(f, NULL, AUDIT_PROBLEM_NONE, 0, 0, NULL);

        /* A middle file removed. */
        _cleanup_free_ char *a2 = path_in(f->log.dir, "rot/audit.jsonl.2");
        _cleanup_free_ char *a2x = path_in(f->log.dir, "rot/moved-away");
        assert_int_equal(rename(a2, a2x), 0);
        expect(f, NULL, AUDIT_PROBLEM_REMOVED, 1, UINT64_MAX, "a log file missing?");
        {
                AuditVerifyResult res;
                assert_int_equal(verify_log(path, NULL, &res), 1);
                assert_non_null(strstr(res.file, "audit.jsonl.3"));
                audit_verify_result_done(&res);
        }
        assert_int_equal(rename(a2x, a2), 0);

        /* The oldest file removed. */
        _cleanup_free_ char *a1 = path_in(f->log.dir, "rot/audit.jsonl.1");
        _cleanup_free_ char *a1x = path_in(f->log.dir, "rot/moved-away");
        assert_int_equal(rename(a1, a1x), 0);
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 1);
        assert_int_equal(res.problem, AUDIT_PROBLEM_CHAIN_START);
        assert_non_null(strstr(res.message, "earlier records or files are missing"));
        audit_verify_result_done(&res);
        assert_int_equal(rename(a1x, a1), 0);
        expect(f, NULL, AUDIT_PROBLEM_NONE, 0, 0, NULL);
}

static void forge_two_files(Fixture *f, const char *second_first_event, const char *second_first_rest) {
        _cleanup_free_ char *a1 = path_in(f->log.dir, "forged.jsonl.1");
        free(f->log.path);
        f->log.path = path_in(f->log.dir, "forged.jsonl");
        Forge forge;
        forge_init(&forge);
        FILE *out = fopen(a1, "we");
        for (uint64_t s = 1; s <= 3; s++)
                forge_line(&forge, out, s, "2026-11-24T06:00:00.000Z", "agent-start", NULL);
        fclose(out);
        out = fopen(f->log.path, "we");
        forge_line(&forge, out, 4, "2026-11-24T06:00:01.000Z", second_first_event, second_first_rest);
        forge_line(&forge, out, 5, "2026-11-24T06:00:01.000Z", "agent-stop", NULL);
        fclose(out);
        audit_hasher_free(forge.hasher);
}

static void test_rotation_link(void **state) {
        Fixture *f = *state;
        forge_two_files(f, "log-rotated", ",\"data\":{\"previous_file\":\"forged.jsonl.1\"}");
        expect(f, NULL, AUDIT_PROBLEM_NONE, 0, 0, NULL);
        forge_two_files(f, "agent-start", NULL);
        expect(f, NULL, AUDIT_PROBLEM_ROTATION_LINK, 1, 4, "does not begin with a log-rotated record");
        forge_two_files(f, "log-rotated", ",\"data\":{\"previous_file\":\"forged.jsonl.7\"}");
        expect(f, NULL, AUDIT_PROBLEM_ROTATION_LINK, 1, 4, "names another previous file");
}

static void test_bad_lines(void **state) {
        Fixture *f = *state;
        splice_lines(f, 3, 3, "hello\n", 6);
        expect(f, NULL, AUDIT_PROBLEM_MALFORMED, 3, 0, "not a kyso audit record");

        const char v2[] = "{\"v\":2,\"whatever\":1}\n";
        splice_lines(f, 3, 3, v2, strlen(v2));
        expect(f, NULL, AUDIT_PROBLEM_VERSION, 3, 0, "format version 2");

        size_t n = AUDIT_LINE_MAX + 5000;
        _cleanup_free_ char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\n';
        splice_lines(f, 3, 3, big, n + 1);
        expect(f, NULL, AUDIT_PROBLEM_LINE_TOO_LONG, 3, 0, "longer than");

        file_write(f->log.path, "", 0);
        expect(f, NULL, AUDIT_PROBLEM_NONE, 0, 0, NULL);
}

static void test_time_backwards(void **state) {
        Fixture *f = *state;
        Forge forge;
        forge_init(&forge);
        FILE *out = fopen(f->log.path, "we");
        forge_line(&forge, out, 1, "2026-11-24T06:00:00.000Z", "agent-start", NULL);
        forge_line(&forge, out, 2, "2026-11-24T05:00:00.000Z", "config-load", NULL);
        forge_line(&forge, out, 3, "2026-11-24T05:00:01.000Z", "agent-stop", NULL);
        fclose(out);
        audit_hasher_free(forge.hasher);
        AuditVerifyResult res;
        assert_int_equal(verify_log(f->log.path, NULL, &res), 0);
        assert_int_equal(res.time_backwards, 1);
        assert_non_null(strstr(res.time_warning, "line 2"));
        audit_verify_result_done(&res);
}

KYSO_TEST_MAIN_FIXTURE(
        setup, teardown,
        {
                cmocka_unit_test(test_intact),
                cmocka_unit_test(test_changed_byte),
                cmocka_unit_test(test_changed_prev),
                cmocka_unit_test(test_removed),
                cmocka_unit_test(test_inserted),
                cmocka_unit_test(test_reordered),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_seq_gap),
                cmocka_unit_test(test_journal),
                cmocka_unit_test(test_journal_export),
                cmocka_unit_test(test_journal_by_chain),
                cmocka_unit_test(test_rotation),
                cmocka_unit_test(test_rotation_link),
                cmocka_unit_test(test_bad_lines),
                cmocka_unit_test(test_time_backwards),
        });
