/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Arbitrary bytes as an audit log: the readers, verify's scanner and chain checks, show's table, JSON and
 * CSV, and the full JSON parse of report must not crash or hang, and must say what is wrong.
 *
 * The file reader reads the same bytes from a file in small chunks with a small line limit (both taken from
 * the input), so that short inputs reach its refill and over-long-line paths; it must hand out exactly the
 * lines the memory reader does, and verify must come to the same verdict through either. show's JSON must
 * parse as an array of the records it shows, and its table must hold no control character from the log. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include <json-c/json.h>

#include "audit/audit-reader.h"
#include "audit/audit-record.h"
#include "audit/audit-report.h"
#include "audit/audit-show.h"
#include "audit/audit-verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(x)                                                                                \
        do {                                                                                    \
                if (!(x)) {                                                                     \
                        fprintf(stderr, "fuzz-audit-log: %s:%d: %s\n", __FILE__, __LINE__, #x); \
                        abort();                                                                \
                }                                                                               \
        } while (0)

static size_t limit_from(const uint8_t *data, size_t size, size_t i, size_t max) {
        return size > i ? 1 + data[i] % max : max;
}

static AuditReader *
open_limited(const void *data, size_t size, const char *file, size_t chunk, size_t line_max) {
        AuditReader *r = NULL;
        check((file ? audit_reader_open_file(file, &r) : audit_reader_open_memory(data, size, &r)) == 0);
        check(audit_reader_set_limits(r, chunk, line_max) == 0);
        return r;
}

/* Both readers, line by line: the same lines, numbers, ends and errors. */
static void
compare_readers(const uint8_t *data, size_t size, const char *file, size_t chunk, size_t line_max) {
        AuditReader *m = open_limited(data, size, NULL, chunk, line_max);
        AuditReader *f = open_limited(NULL, 0, file, chunk, line_max);
        for (unsigned n = 0;; n++) {
                AuditLine a = {}, b = {};
                int ka = audit_reader_next(m, &a), kb = audit_reader_next(f, &b);
                check(ka == kb);
                check(n <= size + 1); /* every call consumes at least one byte */
                if (ka == 0 || (ka < 0 && ka != -E2BIG))
                        break;
                check(a.line_number == b.line_number && a.first_in_file == b.first_in_file);
                if (ka == -E2BIG)
                        continue;
                check(a.len == b.len && a.terminated == b.terminated && a.len <= line_max);
                check(a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
                check(!memchr(a.data, '\n', a.len));
        }
        check(audit_reader_bytes(m) == size && audit_reader_bytes(f) == size);
        audit_reader_free(m);
        audit_reader_free(f);
}

static void verify_both(const uint8_t *data, size_t size, const char *file, size_t chunk, size_t line_max) {
        AuditJournalHead head = { .present = true, .seq = 3 };
        AuditVerifyResult a, b;

        memset(head.hash, 'a', AUDIT_HASH_HEX);
        AuditReader *m = open_limited(data, size, NULL, chunk, line_max);
        AuditReader *f = open_limited(NULL, 0, file, chunk, line_max);
        int ka = audit_verify(m, size % 2 ? &head : NULL, &a);
        int kb = audit_verify(f, size % 2 ? &head : NULL, &b);
        check(ka >= 0 && ka == kb);
        /* A problem always comes with a sentence, at the same place through either reader. */
        check(ka == 0 || (a.problem != AUDIT_PROBLEM_NONE && a.message));
        check(a.problem == b.problem && a.line == b.line && a.seq == b.seq && a.records == b.records);
        audit_verify_result_done(&a);
        audit_verify_result_done(&b);
        audit_reader_free(m);
        audit_reader_free(f);
}

static char *show(const uint8_t *data, size_t size, AuditShowFormat format, size_t *ret_len) {
        AuditShowFilter filter;
        AuditReader *r = NULL;
        char *out = NULL;
        FILE *f, *err = fopen("/dev/null", "we");

        check(err);
        f = open_memstream(&out, ret_len);
        check(f);
        audit_show_filter_init(&filter);
        if (size % 3 == 1)
                filter.role = "approve";
        check(audit_reader_open_memory(data, size, &r) == 0);
        check(audit_show(r, &filter, format, f, err, NULL) == 0);
        audit_reader_free(r);
        check(fclose(f) == 0);
        fclose(err);
        return out;
}

static void fuzz_show(const uint8_t *data, size_t size) {
        size_t len;

        char *json = show(data, size, AUDIT_SHOW_JSON, &len);
        json_tokener *tok = json_tokener_new();
        check(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        json_object *arr = json_tokener_parse_ex(tok, json, (int) len);
        check(arr && json_object_is_type(arr, json_type_array));
        size_t n_json = json_object_array_length(arr);
        json_object_put(arr);
        json_tokener_free(tok);
        free(json);

        char *table = show(data, size, AUDIT_SHOW_TABLE, &len);
        size_t n_lines = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) table[i];
                check(c >= 0x20 || c == '\n');
                check(c != 0x7f);
                n_lines += c == '\n';
        }
        check(n_lines == n_json + 1); /* the header, then one line per record */
        free(table);

        free(show(data, size, AUDIT_SHOW_CSV, &len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        AuditReader *r = NULL;

        /* The file reader against the memory reader, on the same bytes in a file. */
        int fd = memfd_create("fuzz-audit-log", MFD_CLOEXEC);
        check(fd >= 0);
        check(size == 0 || write(fd, data, size) == (ssize_t) size);
        char file[64];
        snprintf(file, sizeof(file), "/proc/self/fd/%d", fd);
        size_t chunk = limit_from(data, size, 0, 64), line_max = limit_from(data, size, 1, 300);
        compare_readers(data, size, file, chunk, line_max);
        verify_both(data, size, file, chunk, line_max);
        /* The same bytes as a journal export file (verify --journal-export reads what a central server
         * sends): by path, by chain, and what verify compares with. */
        AuditJournalHead jh;
        int kj = audit_journal_find(
                NULL, file, &(AuditJournalMatch){ .log_path = NULL }, AUDIT_JOURNAL_HIGHEST, &jh);
        check(kj == 0 || kj == -ENODATA || kj == -EBADMSG);
        kj = audit_journal_find(
                NULL, file, &(AuditJournalMatch){ .chain = "0123456789abcdef0123456789abcdef" },
                AUDIT_JOURNAL_NEWEST, &jh);
        check(kj == 0 || kj == -ENODATA || kj == -EBADMSG);
        kj = audit_journal_head_for_verify(NULL, file, file, &jh);
        check(kj == 0 || kj == -ENODATA || kj == -EBADMSG);
        close(fd);

        fuzz_show(data, size);

        /* report's gathering: scan each line, full JSON parse, figures; all three forms. */
        AuditReportWindow w;
        AuditReport *rep = NULL;
        check(audit_report_window_month(2026, 11, NULL, &w) == 0);
        check(audit_reader_open_memory(data, size, &r) == 0);
        check(audit_report_build(r, &w, NULL, &rep) == 0);
        FILE *devnull = fopen("/dev/null", "we");
        if (devnull) {
                audit_report_write_text(rep, devnull);
                audit_report_write_html(rep, devnull);
                audit_report_write_csv(rep, devnull);
                fclose(devnull);
        }
        audit_report_free(rep);
        audit_reader_free(r);

        /* The holidays parser reads files people write. */
        char *text = strndup((const char *) data, size);
        AuditHolidays *h = NULL;
        if (text && audit_holidays_parse(text, &h, NULL) >= 0)
                audit_holidays_free(h);
        free(text);
        return 0;
}
