/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A real full disk: a 64 KiB tmpfs in a private mount namespace. Needs root (skipped otherwise); the fault
 * hooks of test-audit-log cover the same paths without it. */
#include "kyso-test.h"

#include <sched.h>
#include <sys/mount.h>

#include "audit-test-util.h"

/* A new folder on a 64 KiB tmpfs of its own; the test is skipped where that cannot be made. */
static char *small_tmpfs(void) {
        if (geteuid() != 0) {
                print_message("not root: skipping the tmpfs test\n");
                skip();
        }
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                print_message("no private mount namespace (%m): skipping\n");
                skip();
        }
        char *dir = tmpdir_new();
        if (mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700") < 0) {
                print_message("cannot mount tmpfs (%m): skipping\n");
                tmpdir_remove(dir);
                skip();
        }
        return dir;
}

static void test_tmpfs_full(void **state) {
        char *dir = small_tmpfs();
        _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
        AuditLog *log = log_open_ok(path, NULL);
        uint64_t good = 0;
        int r = 0;
        size_t before_size = 0;
        char *before = NULL;

        char doc[64];
        for (unsigned i = 0; i < 100000; i++) {
                free(before);
                before = file_read(path, &before_size);
                snprintf(doc, sizeof(doc), "doc-%u-with-a-longer-name-to-fill-pages.pdf", i);
                AuditEvent ev = { .type = AUDIT_EVENT_SIGN_DONE, .document = doc };
                r = audit_log_append(log, &ev, NULL);
                if (r < 0)
                        break;
                good++;
        }
        assert_int_equal(r, -ENOSPC);
        assert_true(good > 10);
        assert_int_equal(audit_log_get_seq(log), good);
        /* The file is exactly what it was before the failed append. */
        assert_file_is(path, before, before_size);
        free(before);
        /* The same record again: still a clean ENOSPC, never a broken log. */
        AuditEvent ev = { .type = AUDIT_EVENT_SIGN_DONE, .document = doc };
        assert_int_equal(audit_log_append(log, &ev, NULL), -ENOSPC);

        assert_verifies(path, good);
        print_message("%" PRIu64 " records fit in 64 KiB before ENOSPC\n", good);
        audit_log_free(log);
        assert_int_equal(umount(dir), 0);
        tmpdir_remove(dir);
}

/* The line of record seq in the file at path (a copy). */
static char *record_line(const char *path, uint64_t seq) {
        size_t size;
        _cleanup_free_ char *data = file_read(path, &size);
        size_t at = line_offset(data, size, (unsigned) seq);
        assert_true(at < size);
        return strndup(data + at, strcspn(data + at, "\n"));
}

static void assert_has(const char *line, const char *want) {
        if (!strstr(line, want))
                fail_msg("%s not in %s", want, line);
}

/* Issue 12: the records a full disk refused leave one log-unwritable record once the log is writable again:
 * how many, of which events, when, which certificates (a bounded list); and only one. */
static void test_tmpfs_full_then_freed(void **state) {
        char *dir = small_tmpfs();
        _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
        _cleanup_free_ char *filler = path_in(dir, "filler");
        AuditLog *log = log_open_ok(path, NULL);
        append_signs(log, 1, 2);

        /* Fill the disk, then the log's last page with short records: no record fits any more. */
        int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        static const char zeros[4096] = {};
        while (write(fd, zeros, sizeof(zeros)) > 0)
                ;
        close(fd);
        AuditEvent tiny = { .type = AUDIT_EVENT_AGENT_STOP };
        int r;
        while ((r = audit_log_append(log, &tiny, NULL)) == 0)
                ;
        assert_int_equal(r, -ENOSPC);
        uint64_t seq = audit_log_get_seq(log);

        /* Twelve refused requests naming ten certificates, and a refused group of two. */
        for (unsigned i = 0; i < 12; i++) {
                char fp[AUDIT_HASH_HEX + 1], subject[64];
                snprintf(fp, sizeof(fp), "%064u", i % 10);
                snprintf(subject, sizeof(subject), "CN=Người ký %u,O=UBND", i % 10);
                AuditEvent ev = {
                        .type = i % 2 ? AUDIT_EVENT_SIGN_DENIED : AUDIT_EVENT_SIGN_ALLOWED,
                        .document = "qd.pdf",
                        .cert_subject = subject,
                        .cert_fingerprint = fp,
                };
                assert_int_equal(audit_log_append(log, &ev, NULL), -ENOSPC);
        }
        AuditEvent group[2] = {
                { .type = AUDIT_EVENT_SIGN_FAILED, .cert_subject = "CN=Người ký 0,O=UBND" },
                { .type = AUDIT_EVENT_SIGN_FAILED, .cert_fingerprint = "ff" },
        };
        assert_int_equal(audit_log_append_group(log, group, 2, NULL), -ENOSPC);
        assert_int_equal(audit_log_get_seq(log), seq);

        /* Space returns: the next record comes after one that says what was lost. */
        assert_int_equal(unlink(filler), 0);
        assert_int_equal(append_signs(log, 3, 1), seq + 2);
        _cleanup_free_ char *line = record_line(path, seq + 1);
        assert_has(line, "\"event\":\"log-unwritable\"");
        assert_has(line, "\"error\":\"ENOSPC\"");
        assert_has(line, "\"records\":\"15\"");
        assert_has(line, "\"events\":\"agent-stop=1,sign-allowed=6,sign-denied=6,sign-failed=2\"");
        assert_has(line, "\"first_time\":\"");
        assert_has(line, "\"last_time\":\"");
        for (unsigned i = 0; i < 8; i++) {
                char want[128];
                snprintf(want, sizeof(want), "\"cert_%u_fingerprint\":\"%064u\"", i + 1, i);
                assert_has(line, want);
                snprintf(want, sizeof(want), "\"cert_%u_subject\":\"CN=Người ký %u,O=UBND\"", i + 1, i);
                assert_has(line, want);
        }
        assert_null(strstr(line, "cert_9_"));
        /* Certificates 8 and 9, the group's subject without fingerprint, and its fingerprint "ff". */
        assert_has(line, "\"records_of_certs_not_listed\":\"4\"");

        /* Once only. */
        append_signs(log, 4, 1);
        audit_log_free(log);
        _cleanup_free_ char *data = file_read(path, NULL);
        const char *first = strstr(data, "log-unwritable");
        assert_non_null(first);
        assert_null(strstr(first + 1, "log-unwritable"));
        assert_verifies(path, seq + 3);
        assert_int_equal(umount(dir), 0);
        tmpdir_remove(dir);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_tmpfs_full),
        cmocka_unit_test(test_tmpfs_full_then_freed),
});
