/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A real full disk: a 64 KiB tmpfs in a private mount namespace. Needs root (skipped otherwise); the fault
 * hooks of test-audit-log cover the same paths without it. */
#include "kyso-test.h"

#include <sched.h>
#include <sys/mount.h>

#include "audit-test-util.h"

static void test_tmpfs_full(void **state) {
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
        size_t after_size;
        _cleanup_free_ char *after = file_read(path, &after_size);
        assert_int_equal(after_size, before_size);
        assert_memory_equal(after, before, before_size);
        free(before);
        /* The same record again: still a clean ENOSPC, never a broken log. */
        AuditEvent ev = { .type = AUDIT_EVENT_SIGN_DONE, .document = doc };
        assert_int_equal(audit_log_append(log, &ev, NULL), -ENOSPC);

        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        assert_int_equal(res.records, good);
        audit_verify_result_done(&res);
        print_message("%" PRIu64 " records fit in 64 KiB before ENOSPC\n", good);
        audit_log_free(log);
        assert_int_equal(umount(dir), 0);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tmpfs_full),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
