/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the audit log's open(), which reads what a crash (or anyone with write access to the folder) left:
 * the log's torn last line, and .pending quarantine files of a start that crashed while recovering one. The
 * input up to the first form feed is the log; after it, if present, its first byte is how far before the
 * log's end the offset is, and the rest is the content of "<log>.torn-20260101T000000Z.at-<offset>.pending".
 * Whenever open() succeeds the log ends with a complete line (the torn tail is gone, never silently kept),
 * and one more record appends. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fuzz/fuzz-check.h"
#include "audit/audit-log.h"
#include "fileio.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char log_path[sizeof dir + 16];

static void empty_dir(void) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char p[512];

        check(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                        (void) unlink(p);
                }
        closedir(d);
}

static void cleanup(void) {
        empty_dir();
        (void) rmdir(dir);
}

static void write_bytes(const char *path, const void *p, size_t n) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        check(fd >= 0);
        check(n == 0 || write(fd, p, n) == (ssize_t) n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const AuditLogOptions opts = { .no_journal = true, .no_sync = true };
        _cleanup_(audit_log_freep) AuditLog *log = NULL;
        _cleanup_free_ char *message = NULL, *after = NULL;
        const uint8_t *ff = memchr(data, '\f', size);
        size_t log_len = ff ? (size_t) (ff - data) : size, after_size = 0;
        int r;

        if (!log_path[0]) {
                /* On tmpfs when there is one: open() syncs what it recovers, a disk costs 15 ms a run. */
                snprintf(
                        dir, sizeof dir, "%s/kyso-fuzz-audit-open-XXXXXX",
                        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
                check(mkdtemp(dir));
                atexit(cleanup);
                snprintf(log_path, sizeof log_path, "%s/audit.jsonl", dir);
        }
        empty_dir();
        write_bytes(log_path, data, log_len);
        if (ff && (size_t) (ff - data) + 1 < size) {
                const uint8_t *p = ff + 1;
                size_t offset = log_len - MIN((size_t) p[0], log_len);
                char pending[256];

                snprintf(
                        pending, sizeof pending, "%s.torn-20260101T000000Z.at-%zu.pending", log_path,
                        offset);
                write_bytes(pending, p + 1, size - (size_t) (p + 1 - data));
        }

        r = audit_log_open(log_path, &opts, &log, &message);
        if (r < 0) {
                check(r != -EBUSY);
                return 0;
        }
        /* The recovered log ends with a complete line, or is empty. */
        check(read_full_file(log_path, 64 * 1024 * 1024, &after, &after_size) >= 0);
        check(after_size == 0 || after[after_size - 1] == '\n');
        check(audit_log_append_simple(log, AUDIT_EVENT_AGENT_START, "fuzz", NULL) >= 0);
        return 0;
}
