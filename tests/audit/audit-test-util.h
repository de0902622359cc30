/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Helpers shared by the audit tests: a temporary folder, logs made through AuditLog, logs forged by hand
 * (to build chains the writer would never write), and file surgery. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <sys/stat.h>

#include "audit-log-test.h"
#include "audit/audit-log.h"
#include "audit/audit-reader.h"
#include "audit/audit-record.h"
#include "audit/audit-verify.h"
#include "fileio.h"

static inline char *tmpdir_new(void) {
        char t[] = "/tmp/kyso-audit-test-XXXXXX";
        assert_non_null(mkdtemp(t));
        return strdup(t);
}

static inline void tmpdir_remove(char *dir) {
        char cmd[512];
        if (!dir)
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        free(dir);
}

static inline char *path_in(const char *dir, const char *name) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

/* The fixture of the tests on one log: a temporary folder of its own with the log's path in it,
 * "audit.jsonl", removed after the test whether it passed or failed. */
typedef struct LogDir {
        char *dir;
        char *path;
} LogDir;

static inline void log_dir_init(LogDir *t) {
        t->dir = tmpdir_new();
        t->path = path_in(t->dir, "audit.jsonl");
}

static inline void log_dir_done(LogDir *t) {
        free(t->path);
        tmpdir_remove(t->dir);
}

static inline int log_dir_setup(void **state) {
        LogDir *t = calloc(1, sizeof(LogDir));
        assert_non_null(t);
        log_dir_init(t);
        *state = t;
        return 0;
}

static inline int log_dir_teardown(void **state) {
        log_dir_done(*state);
        free(*state);
        return 0;
}

static inline const char *log_dir(void **state) {
        return ((const LogDir *) *state)->dir;
}

static inline const char *log_path(void **state) {
        return ((const LogDir *) *state)->path;
}

static inline AuditLog *log_open_ok(const char *path, const AuditLogOptions *o) {
        AuditLogOptions def = { .no_journal = true };
        AuditLog *log = NULL;
        char *msg = NULL;
        int r = audit_log_open(path, o ?: &def, &log, &msg);
        if (r < 0)
                print_message("audit_log_open: %s: %s\n", strerror(-r), strna(msg));
        free(msg);
        assert_int_equal(r, 0);
        return log;
}

/* The signing record of doc that the audit tests write: the test leader's certificate, role approve,
 * allowed. A test sets the fields it is about on the copy it gets. */
static inline AuditEvent test_sign_event(const char *doc) {
        return (AuditEvent){
                .type = AUDIT_EVENT_SIGN_DONE,
                .document = doc,
                .sha256_before = "1111111111111111111111111111111111111111111111111111111111111111",
                .sha256_after = "2222222222222222222222222222222222222222222222222222222222222222",
                .cert_subject = "CN=Nguyễn Văn A,O=UBND phường Uông Bí",
                .cert_issuer = "CN=CA phục vụ các cơ quan Nhà nước,O=Ban Cơ yếu Chính phủ,C=VN",
                .cert_serial = "0a1b",
                .cert_fingerprint = "aa11bb22",
                .cert_kind = "personal",
                .role = "approve",
                .decision = "allowed",
        };
}

/* Appends n signing records numbered from first; returns the last seq. */
static inline uint64_t append_signs(AuditLog *log, unsigned first, unsigned n) {
        uint64_t seq = 0;
        for (unsigned i = first; i < first + n; i++) {
                char doc[64];
                snprintf(doc, sizeof(doc), "doc-%u.pdf", i);
                AuditEvent ev = test_sign_event(doc);
                assert_int_equal(audit_log_append(log, &ev, &seq), 0);
        }
        return seq;
}

/* A closed log at path (opened with o, which may be NULL) holding n signing records (doc-1.pdf onwards). */
static inline void make_log(const char *path, const AuditLogOptions *o, unsigned n) {
        AuditLog *log = log_open_ok(path, o);
        append_signs(log, 1, n);
        audit_log_free(log);
}

/* Opens the log at path with o (a start of the agent) and checks that it goes on after seq. */
static inline void open_expect_seq(const char *path, const AuditLogOptions *o, uint64_t seq) {
        AuditLog *log = log_open_ok(path, o);
        assert_int_equal(audit_log_get_seq(log), seq);
        audit_log_free(log);
}

/* Calls check() with each fault that makes a write of the log fail, and the error the writer returns for it:
 * the tests of one append and of a group go through the same faults. */
static inline void for_each_write_fault(void (*check)(AuditFault fault, int expected)) {
        static const struct {
                AuditFault fault;
                int expected;
                const char *name;
        } faults[] = {
                { AUDIT_FAULT_ENOSPC, -ENOSPC, "ENOSPC" },
                { AUDIT_FAULT_SHORT_WRITE, -ENOSPC, "short write" },
                { AUDIT_FAULT_FSYNC_EIO, -EIO, "fsync EIO" },
        };
        for (size_t i = 0; i < ELEMENTSOF(faults); i++) {
                print_message("fault: %s\n", faults[i].name);
                check(faults[i].fault, faults[i].expected);
        }
}

/* The file's bytes and a NUL. Returned in a buffer of its own: once inlined, the pointer that
 * read_full_file() fills through the address of a local looks to GCC 12 as if it could point at that local
 * (-Wdangling-pointer) in the caller. */
static inline char *file_read(const char *path, size_t *ret_size) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        assert_int_equal(read_full_file(path, 64 * 1024 * 1024, &data, &size), 0);
        char *copy = malloc(size + 1);
        assert_non_null(copy);
        memcpy(copy, data, size);
        copy[size] = '\0';
        if (ret_size)
                *ret_size = size;
        return copy;
}

/* The file at path holds exactly the size bytes of data. */
static inline void assert_file_is(const char *path, const char *data, size_t size) {
        size_t now_size;
        _cleanup_free_ char *now = file_read(path, &now_size);
        assert_int_equal(now_size, size);
        assert_memory_equal(now, data, size);
}

/* The log at path holds, after its first from bytes, the log-unwritable record seq that says how many
 * records (lost) a failed write could not record (issue 12). */
static inline void assert_unwritable_record(const char *path, size_t from, uint64_t seq, unsigned lost) {
        _cleanup_free_ char *data = file_read(path, NULL);
        char want_seq[64], want_lost[64];

        snprintf(want_seq, sizeof(want_seq), "\"seq\":%" PRIu64 ",", seq);
        snprintf(want_lost, sizeof(want_lost), "\"records\":\"%u\"", lost);
        assert_non_null(strstr(data + from, want_seq));
        assert_non_null(strstr(data + from, "\"event\":\"log-unwritable\""));
        assert_non_null(strstr(data + from, want_lost));
}

static inline void file_write(const char *path, const char *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, data, size), 0);
        close(fd);
}

static inline void file_append(const char *path, const char *data, size_t size) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, data, size), 0);
        close(fd);
}

/* Offset of the start of line n (1-based), or size when there are fewer lines. */
static inline size_t line_offset(const char *text, size_t size, unsigned n) {
        size_t off = 0;
        for (unsigned i = 1; i < n && off < size; i++) {
                size_t k = off;
                while (k < size && text[k] != '\n')
                        k++;
                if (k >= size)
                        return size;
                off = k + 1;
        }
        return off;
}

static inline int verify_log(const char *path, const AuditJournalHead *j, AuditVerifyResult *res) {
        AuditReader *r = NULL;
        assert_int_equal(audit_reader_open(path, &r), 0);
        int k = audit_verify(r, j, res);
        if (k != 0)
                print_message(
                        "verify: %s: %s\n", audit_problem_to_string(res->problem), strna(res->message));
        audit_reader_free(r);
        return k;
}

/* The log at path verifies intact, with records records. */
static inline void assert_verifies(const char *path, uint64_t records) {
        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.records, records);
        audit_verify_result_done(&res);
}

/* Forges records as the writer would, with chosen seq/time/event, so a test can make chains that are
 * internally consistent yet wrong (a seq gap, a missing rotation record, time going backwards). */
typedef struct Forge {
        AuditHasher *hasher;
        char prev[AUDIT_HASH_HEX + 1];
} Forge;

static inline void forge_init(Forge *f) {
        assert_int_equal(audit_hasher_new(&f->hasher), 0);
        strcpy(f->prev, AUDIT_GENESIS_PREV);
}

static inline void
forge_line(Forge *f, FILE *out, uint64_t seq, const char *time, const char *event, const char *rest) {
        char line[1024], hash[AUDIT_HASH_HEX + 1];
        int n = snprintf(
                line, sizeof(line),
                "{\"v\":1,\"seq\":%" PRIu64 ",\"time\":\"%s\",\"prev\":\"%s\",\"event\":\"%s\"%s}", seq,
                time, f->prev, event, rest ?: "");
        assert_true(n > 0 && (size_t) n < sizeof(line));
        assert_int_equal(audit_hasher_line(f->hasher, line, (size_t) n, hash), 0);
        fprintf(out, "%s\n", line);
        memcpy(f->prev, hash, sizeof(hash));
}

/* What the last log-torn-tail record of a chain says. */
typedef struct TornRecord {
        uint64_t offset, bytes;
        bool recovered; /* written by a later start than the one that moved the bytes aside */
} TornRecord;

static inline bool record_string_is(const char *line, size_t len, const char *key, const char *want) {
        const char *v;
        size_t n;
        return audit_record_find_string(line, len, key, &v, &n) >= 0 && n == strlen(want) &&
               memcmp(v, want, n) == 0;
}

static inline uint64_t record_number(const char *line, size_t len, const char *key) {
        const char *v;
        size_t n;
        char buf[32];
        assert_int_equal(audit_record_find_string(line, len, key, &v, &n), 0);
        assert_true(n > 0 && n < sizeof(buf));
        memcpy(buf, v, n);
        buf[n] = '\0';
        return strtoull(buf, NULL, 10);
}

/* Every quarantine file beside the log at path is named by exactly one log-torn-tail record of the chain,
 * which has its length and SHA-256; every such record names a quarantine file that is there; none is left
 * half done (".pending" or a temporary file). Returns the number of those records; *ret_last (optional)
 * gets what the last one says. */
static inline unsigned check_quarantines(const char *path, TornRecord *ret_last) {
        char names[32][256];
        unsigned n = 0;
        AuditReader *r = NULL;
        AuditLine line;

        assert_int_equal(audit_reader_open(path, &r), 0);
        while (audit_reader_next(r, &line) > 0) {
                AuditRecordHead h;
                const char *q;
                size_t ql;
                if (audit_record_scan(line.data, line.len, &h, NULL) < 0 ||
                    h.event != AUDIT_EVENT_LOG_TORN_TAIL)
                        continue;
                assert_true(n < ELEMENTSOF(names));
                assert_int_equal(audit_record_find_string(line.data, line.len, "quarantine", &q, &ql), 0);
                assert_true(ql < sizeof(names[n]));
                memcpy(names[n], q, ql);
                names[n][ql] = '\0';
                for (unsigned i = 0; i < n; i++)
                        if (streq(names[i], names[n]))
                                fail_msg("two log-torn-tail records name %s", names[n]);

                /* The file is there, with the bytes the record describes. */
                _cleanup_free_ char *dir = strndup(path, (size_t) (strrchr(path, '/') - path));
                _cleanup_free_ char *qpath = path_in(dir, names[n]);
                size_t size;
                char *data = file_read(qpath, &size);
                unsigned char md[SHA256_DIGEST_LENGTH];
                char hex[AUDIT_HASH_HEX + 1];
                SHA256((const unsigned char *) data, size, md);
                free(data);
                audit_hex(md, sizeof(md), hex);
                assert_int_equal(record_number(line.data, line.len, "bytes"), size);
                assert_true(record_string_is(line.data, line.len, "sha256", hex));
                if (ret_last) {
                        ret_last->offset = record_number(line.data, line.len, "offset");
                        ret_last->bytes = size;
                        ret_last->recovered =
                                record_string_is(line.data, line.len, "recovered", "after-restart");
                }
                n++;
        }
        audit_reader_free(r);

        /* No quarantine file beside the log that no record names. */
        _cleanup_free_ char *dir = strndup(path, (size_t) (strrchr(path, '/') - path));
        const char *base = strrchr(path, '/') + 1;
        DIR *d = opendir(dir);
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));) {
                if (strncmp(de->d_name, base, strlen(base)) != 0 || !strstr(de->d_name, ".torn-"))
                        continue;
                bool named = false;
                for (unsigned i = 0; i < n; i++)
                        if (streq(de->d_name, names[i]))
                                named = true;
                if (!named)
                        fail_msg("the quarantine file %s is named by no log-torn-tail record", de->d_name);
        }
        closedir(d);
        return n;
}
