/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kill -9 during heavy appends, ~200 times: afterwards the log verifies (after the recovery an agent's start
 * does), and every record a writer reported durable (after fdatasync) is there with the hash it had. A
 * random kill almost never lands inside a write(), so every tenth writer dies inside one on purpose (a test
 * hook writes half the line and kills the process): the next start must quarantine that torn line, and
 * in the end every quarantine file must be named by a record. */
#include "kyso-test.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "audit-test-util.h"

#define KILLS 200
#define TORN_EVERY 10
#define MAX_SEQ 2000000

typedef struct Report {
        uint64_t seq;
        char hash[AUDIT_HASH_HEX + 1];
} Report;

/* torn_after >= 0: die inside the write of the record after that many appends. */
static void _noreturn_ child(const char *path, int fd, int torn_after) {
        AuditLogOptions o = { .no_journal = true, .max_size = 1024 * 1024 }; /* rotation under fire too */
        AuditLog *log = NULL;
        char *msg = NULL;
        if (audit_log_open(path, &o, &log, &msg) < 0) {
                fprintf(stderr, "child: open: %s\n", strna(msg));
                _exit(2);
        }
        if (torn_after >= 0)
                audit_log_inject_fault(log, AUDIT_FAULT_TORN_KILL, (unsigned) torn_after);
        /* Every other record is ~40 KiB (many pages): a kill can then land inside its write(), which the
         * kernel ends early on a fatal signal, leaving a torn line for the next start to recover. */
        static char big[1000];
        static const char *extra[81];
        memset(big, 'x', sizeof(big) - 1);
        for (unsigned k = 0; k < 40; k++) {
                static char keys[40][8];
                snprintf(keys[k], sizeof(keys[k]), "k%u", k);
                extra[2 * k] = keys[k];
                extra[2 * k + 1] = big;
        }
        for (unsigned i = 0;; i++) {
                char doc[32];
                Report rep = {};
                snprintf(doc, sizeof(doc), "doc-%u.pdf", i);
                AuditEvent ev = { .type = AUDIT_EVENT_SIGN_DONE,
                                  .document = doc,
                                  .role = "approve",
                                  .extra = i % 2 ? extra : NULL };
                if (audit_log_append(log, &ev, &rep.seq) < 0)
                        _exit(3);
                /* Only now is the record durable: tell the parent. */
                memcpy(rep.hash, audit_log_get_head_hash(log), sizeof(rep.hash));
                if (loop_write(fd, &rep, sizeof(rep)) < 0)
                        _exit(4);
        }
}

static void test_kill_loop(void **state) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *path = path_in(dir, "audit.jsonl");
        _cleanup_free_ Report *reported = calloc(MAX_SEQ, sizeof(Report));
        uint64_t max_reported = 0, n_reported = 0, n_torn = 0;
        unsigned seed = (unsigned) time(NULL);

        print_message("seed %u\n", seed);
        srand(seed);
        for (unsigned k = 0; k < KILLS; k++) {
                bool torn = k % TORN_EVERY == TORN_EVERY - 1;
                int p[2];
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        close(p[0]);
                        child(path, p[1], torn ? rand() % 20 : -1);
                }
                close(p[1]);
                if (!torn) {
                        /* Kill at a random moment: sometimes during open/recovery, mostly during appends. */
                        struct timespec ts = { .tv_nsec = (long) (rand() % 8000) * 1000 };
                        nanosleep(&ts, NULL);
                        assert_int_equal(kill(pid, SIGKILL), 0);
                }

                Report rep;
                ssize_t n;
                while ((n = loop_read(p[0], &rep, sizeof(rep))) == (ssize_t) sizeof(rep)) {
                        assert_true(rep.seq > 0 && rep.seq < MAX_SEQ);
                        reported[rep.seq] = rep;
                        max_reported = MAX(max_reported, rep.seq);
                        n_reported++;
                }
                close(p[0]);
                int status;
                assert_int_equal(waitpid(pid, &status, 0), pid);
                if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
                        fail_msg("writer %u ended by itself (status %d), not by the kill", k, status);
                if (torn) {
                        /* The writer died inside a record: the next start quarantines and records it. */
                        AuditLogOptions o = { .no_journal = true, .max_size = 1024 * 1024 };
                        AuditLog *log = log_open_ok(path, &o);
                        if (!audit_log_get_quarantine_path(log))
                                fail_msg(
                                        "writer %u died inside a record, but no torn tail was recovered", k);
                        audit_log_free(log);
                        n_torn++;
                }
        }

        /* The next agent start recovers whatever the last kill left. */
        AuditLogOptions o = { .no_journal = true, .max_size = 1024 * 1024 };
        AuditLog *log = log_open_ok(path, &o);
        audit_log_free(log);

        AuditVerifyResult res;
        assert_int_equal(verify_log(path, NULL, &res), 0);
        print_message(
                "%u kills, %" PRIu64 " records reported durable, log has %" PRIu64 " records in %u files, "
                "%" PRIu64 " torn tails recovered\n",
                KILLS, n_reported, res.records, res.files, res.torn_recoveries);
        assert_true(res.last_seq >= max_reported);
        assert_int_equal(n_torn, KILLS / TORN_EVERY);
        assert_true(res.torn_recoveries >= n_torn);
        /* Whatever moment a kill hit, every quarantine file is named by exactly one record. */
        assert_int_equal(check_quarantines(path, NULL), res.torn_recoveries);
        audit_verify_result_done(&res);

        /* Each reported record is there, unchanged. */
        AuditReader *r;
        AuditHasher *h;
        AuditLine line;
        uint64_t checked = 0;
        assert_int_equal(audit_reader_open(path, &r), 0);
        assert_int_equal(audit_hasher_new(&h), 0);
        while (audit_reader_next(r, &line) > 0) {
                AuditRecordHead head;
                char hex[AUDIT_HASH_HEX + 1];
                assert_int_equal(audit_record_scan(line.data, line.len, &head, NULL), 0);
                if (head.seq >= MAX_SEQ || reported[head.seq].seq == 0)
                        continue;
                assert_int_equal(audit_hasher_line(h, line.data, line.len, hex), 0);
                assert_string_equal(hex, reported[head.seq].hash);
                checked++;
        }
        assert_int_equal(checked, n_reported);
        audit_hasher_free(h);
        audit_reader_free(r);
        tmpdir_remove(dir);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_kill_loop),
});
