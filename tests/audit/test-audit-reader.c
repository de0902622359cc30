/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "audit-test-util.h"

/* Lines of many lengths, so that some straddle the reader's 1 MiB chunks, including the longest allowed. */
static size_t line_len(unsigned i) {
        if (i == 7)
                return AUDIT_LINE_MAX;
        return (i * 7919u) % 40000u;
}

static char line_byte(unsigned i, size_t k) {
        return (char) ('a' + (i + k) % 26);
}

static void check_lines(AuditReader *r, unsigned n, bool with_bad) {
        AuditLine l;
        int k;
        for (unsigned i = 0; i < n; i++) {
                if (with_bad && i == 9) {
                        k = audit_reader_next(r, &l);
                        assert_int_equal(k, -E2BIG);
                        assert_int_equal(l.line_number, i + 1);
                }
                k = audit_reader_next(r, &l);
                assert_int_equal(k, 1);
                assert_true(l.terminated);
                assert_int_equal(l.len, line_len(i));
                assert_int_equal(l.line_number, i + 1 + (with_bad && i >= 9));
                for (size_t j = 0; j < l.len; j++)
                        if (l.data[j] != line_byte(i, j))
                                fail_msg("line %u byte %zu differs", i, j);
        }
        assert_int_equal(audit_reader_next(r, &l), 0);
}

static void test_lines(void **state) {
        const char *path = log_path(state);
        const unsigned n = 300;
        FILE *f = fopen(path, "we");
        char *mem = NULL;
        size_t mem_size = 0;
        FILE *m = open_memstream(&mem, &mem_size);

        for (unsigned i = 0; i < n; i++) {
                if (i == 9) {
                        /* One line longer than allowed: reported, skipped, reading goes on. */
                        for (size_t j = 0; j < AUDIT_LINE_MAX + 1; j++) {
                                fputc('z', f);
                                fputc('z', m);
                        }
                        fputc('\n', f);
                        fputc('\n', m);
                }
                for (size_t j = 0; j < line_len(i); j++) {
                        fputc(line_byte(i, j), f);
                        fputc(line_byte(i, j), m);
                }
                fputc('\n', f);
                fputc('\n', m);
        }
        fclose(f);
        fclose(m);
        assert_true(mem_size > 3 * 1024 * 1024);

        AuditReader *r;
        assert_int_equal(audit_reader_open(path, &r), 0);
        check_lines(r, n, true);
        assert_int_equal(audit_reader_bytes(r), mem_size);
        audit_reader_free(r);

        assert_int_equal(audit_reader_open_memory(mem, mem_size, &r), 0);
        check_lines(r, n, true);
        audit_reader_free(r);
        free(mem);

        /* An unterminated last line is handed out as such. */
        file_write(path, "abc\ndef", 7);
        assert_int_equal(audit_reader_open_file(path, &r), 0);
        AuditLine l;
        assert_int_equal(audit_reader_next(r, &l), 1);
        assert_true(l.terminated);
        assert_int_equal(audit_reader_next(r, &l), 1);
        assert_false(l.terminated);
        assert_int_equal(l.len, 3);
        assert_memory_equal(l.data, "def", 3);
        assert_int_equal(audit_reader_next(r, &l), 0);
        audit_reader_free(r);
}

static void test_chain_files(void **state) {
        const char *dir = log_dir(state);
        const char *path = log_path(state);
        static const char *const names[] = { "audit.jsonl.10", "audit.jsonl.2", "audit.jsonl.1",
                                             "audit.jsonl",
                                             /* not part of the chain: */
                                             "audit.jsonl.lock", "audit.jsonl.torn-20261124T060214Z",
                                             "audit.jsonl.01", "audit.jsonl.3x", "audit.jsonlx.4",
                                             "other.jsonl.5" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *p = path_in(dir, names[i]);
                file_write(p, "", 0);
        }
        char **files = NULL;
        unsigned max = 0;
        assert_int_equal(audit_chain_files(path, &files, &max), 0);
        assert_int_equal(max, 10);
        assert_int_equal(strv_length(files), 4);
        assert_non_null(strstr(files[0], "/audit.jsonl.1"));
        assert_non_null(strstr(files[1], "/audit.jsonl.2"));
        assert_non_null(strstr(files[2], "/audit.jsonl.10"));
        assert_true(strlen(files[3]) == strlen(path) && streq(files[3], path));
        strv_free(files);

        _cleanup_free_ char *none = path_in(dir, "none.jsonl");
        assert_int_equal(audit_chain_files(none, &files, &max), -ENOENT);
}

/* An archive is read in place (mmap) and the active file with read(): the same lines either way, with an
 * over-long line, a torn tail, seeks and an end. */
static void test_archive_in_place(void **state) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *path = path_in(dir, "log"), *archive = path_in(dir, "log.1");
        size_t long_len = AUDIT_LINE_MAX + 100;
        _cleanup_free_ char *text = malloc(long_len + 64);
        assert_non_null(text);
        strcpy(text, "first\n");
        memset(text + 6, 'x', long_len);
        strcpy(text + 6 + long_len, "\nthird\n\nfifth, torn");
        file_write(archive, text, strlen(text));
        file_write(path, text, strlen(text));

        for (unsigned seek = 0; seek < 3; seek++) {
                _cleanup_(audit_reader_freep) AuditReader *mapped = NULL, *plain = NULL;
                AuditLine a, b;
                int ka, kb;
                assert_int_equal(audit_reader_open(path, &mapped), 0);
                assert_int_equal(audit_reader_open_file(path, &plain), 0);
                AuditPos at = { .offset = seek == 0 ? 0 : 6 + long_len + 1,
                                .line_number = seek == 1 ? 3 : 0 };
                if (seek > 0) {
                        assert_int_equal(audit_reader_seek(mapped, &at), 0);
                        assert_int_equal(audit_reader_seek(plain, &at), 0);
                }
                if (seek == 2) {
                        AuditPos end = { .offset = 6 + long_len + 1 + 6 };
                        audit_reader_set_end(mapped, &end);
                        audit_reader_set_end(plain, &end);
                }
                do {
                        ka = audit_reader_next(mapped, &a);
                        kb = audit_reader_next(plain, &b);
                        if (kb == 0) {
                                /* The chain goes on in the active file, unless it ended first. */
                                assert_true(seek == 2 ? ka == 0 : ka == 1 && a.file_index == 1);
                                break;
                        }
                        assert_int_equal(ka, kb);
                        assert_int_equal(a.file_index, 0);
                        assert_int_equal(a.len, b.len);
                        assert_int_equal(a.terminated, b.terminated);
                        assert_int_equal(a.first_in_file, b.first_in_file);
                        assert_int_equal(a.line_number, b.line_number);
                        assert_int_equal(a.offset, b.offset);
                        assert_int_equal(
                                audit_reader_line_number(mapped, &a), audit_reader_line_number(plain, &b));
                        if (ka > 0)
                                assert_memory_equal(a.data, b.data, a.len);
                } while (kb != 0);
        }
        tmpdir_remove(dir);
}

KYSO_TEST_MAIN_FIXTURE(
        log_dir_setup, log_dir_teardown,
        {
                cmocka_unit_test(test_lines),
                cmocka_unit_test(test_chain_files),
                cmocka_unit_test(test_archive_in_place),
        });
