/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Helpers shared by the audit tests: a temporary folder, logs made through AuditLog, logs forged by hand
 * (to build chains the writer would never write), and file surgery. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

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

/* Appends n signing records numbered from first; returns the last seq. */
static inline uint64_t append_signs(AuditLog *log, unsigned first, unsigned n) {
        uint64_t seq = 0;
        for (unsigned i = first; i < first + n; i++) {
                char doc[64];
                snprintf(doc, sizeof(doc), "doc-%u.pdf", i);
                AuditEvent ev = {
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
                assert_int_equal(audit_log_append(log, &ev, &seq), 0);
        }
        return seq;
}

static inline char *file_read(const char *path, size_t *ret_size) {
        char *data = NULL;
        size_t size = 0;
        assert_int_equal(read_full_file(path, 64 * 1024 * 1024, &data, &size), 0);
        if (ret_size)
                *ret_size = size;
        return data;
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
