/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Audit log benchmark: durable appends (fdatasync per record), durable group commits (fdatasync per 16
 * records, as the agent writes a batch's finished documents), bulk appends in the benchmark-only no-sync
 * mode, verify of the bulk log at a tenth of the records and at all of them (in a child, so its peak RSS is
 * its own: memory must not grow with the log), and verify paired A B A B with `openssl dgst -sha256` of the
 * same file (the floor: verify hashes every byte; not coreutils' sha256sum, which lacks the CPU's SHA
 * instructions), with the median of the paired ratios. The machine's load is printed, and the targets (a
 * million records in under 2 s, flat memory) get a verdict only when the load average is at most the number
 * of CPUs.
 *
 *   bench-audit [DIR] [RECORDS] [DURABLE_RECORDS] [ROUNDS]  (defaults: a new /tmp folder, 1000000, 2000, 5)
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit-log.h"
#include "audit/audit-reader.h"
#include "audit/audit-verify.h"
#include "bench-audit-event.h"
#include "macro.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

#define GROUP 16U

/* Appends n records, group at a time (1: audit_log_append()). */
static int append_many(const char *path, unsigned n, bool sync, unsigned group, double *ret_s) {
        AuditLogOptions o = { .no_journal = true, .no_sync = !sync };
        AuditLog *log = NULL;
        char *msg = NULL;
        int r = audit_log_open(path, &o, &log, &msg);
        if (r < 0) {
                fprintf(stderr, "open %s: %s\n", path, strna(msg));
                free(msg);
                return r;
        }
        double t0 = now_s();
        for (unsigned i = 0; i < n; i += group) {
                char doc[GROUP][64], before[GROUP][65], after[GROUP][65];
                AuditEvent evs[GROUP];
                unsigned k = n - i < group ? n - i : group;
                for (unsigned j = 0; j < k; j++) {
                        snprintf(doc[j], sizeof(doc[j]), "Quyết định số %u/QĐ-UBND.pdf", i + j);
                        snprintf(before[j], sizeof(before[j]), "%064x", i + j);
                        snprintf(after[j], sizeof(after[j]), "%064x", ~(i + j));
                        evs[j] = bench_audit_sign_event(doc[j], before[j], after[j]);
                        evs[j].timestamp_time = "2026-11-24T06:00:00Z";
                }
                r = k == 1 ? audit_log_append(log, evs, NULL) : audit_log_append_group(log, evs, k, NULL);
                if (r < 0) {
                        fprintf(stderr, "append: %s\n", strerror(-r));
                        audit_log_free(log);
                        return r;
                }
        }
        *ret_s = now_s() - t0;
        audit_log_free(log);
        return 0;
}

/* Runs f in a child and returns its wall time, its CPU time (user + sys: what a busy machine disturbs
 * less; NULL when not wanted) and peak RSS (KiB). */
static int
in_child(int (*f)(const char *arg), const char *arg, double *ret_s, double *ret_cpu_s, long *ret_rss_kib) {
        fflush(stdout);
        double t0 = now_s();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                _exit(f(arg));
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) != pid)
                return -errno;
        *ret_s = now_s() - t0;
        if (ret_cpu_s)
                *ret_cpu_s = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
                             (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
        *ret_rss_kib = ru.ru_maxrss;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -EIO;
}

static int do_verify(const char *path) {
        AuditReader *r = NULL;
        AuditVerifyResult res;
        if (audit_reader_open(path, &r) < 0)
                return 10;
        int k = audit_verify(r, NULL, &res);
        printf("  verify result: %s, %" PRIu64 " records, %" PRIu64 " bytes\n",
               k == 0 ? "intact" : strna(res.message), res.records, res.bytes);
        fflush(stdout);
        audit_verify_result_done(&res);
        audit_reader_free(r);
        return k == 0 ? 0 : 11;
}

static int do_openssl_dgst(const char *path) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0)
                dup2(null, STDOUT_FILENO);
        execlp("openssl", "openssl", "dgst", "-sha256", path, (char *) NULL);
        return 127;
}

static int do_verify_quiet(const char *path) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0)
                dup2(null, STDOUT_FILENO);
        return do_verify(path);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n) {
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double load_average(void) {
        double l = -1;
        FILE *f = fopen("/proc/loadavg", "re");
        if (f) {
                if (fscanf(f, "%lf", &l) != 1)
                        l = -1;
                fclose(f);
        }
        return l;
}

/* Verify of the bulk log as it stands, in a child: its wall time and peak RSS. */
static int verify_checkpoint(const char *bulk, unsigned n, double *ret_s, long *ret_rss) {
        struct stat st;
        if (stat(bulk, &st) < 0 || in_child(do_verify, bulk, ret_s, NULL, ret_rss) != 0) {
                fprintf(stderr, "verify failed\n");
                return -1;
        }
        printf("verify: %u records (%.1f MiB) in %.3f s = %.0f records/s; peak RSS %ld KiB\n", n,
               (double) st.st_size / 1048576.0, *ret_s, n / *ret_s, *ret_rss);
        return 0;
}

int main(int argc, char **argv) {
        char tmpl[] = "/tmp/kyso-bench-audit-XXXXXX";
        const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
        unsigned n = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : 1000000;
        unsigned n_durable = argc > 3 ? (unsigned) strtoul(argv[3], NULL, 10) : 2000;
        /* verify at a tenth of the records and at all of them: time and memory against the log's size */
        unsigned rounds = argc > 4 ? (unsigned) strtoul(argv[4], NULL, 10) : 5;
        const unsigned checkpoints[] = { n / 10, n };
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        double load_start = load_average();
        double tv[2], t, t_bulk = 0;
        long rss[2];
        char durable[4096], grouped[4096], bulk[4096];
        struct stat st;

        if (!dir || n < 10 || rounds < 1 || rounds > 99)
                return 1;
        snprintf(durable, sizeof(durable), "%s/durable/audit.jsonl", dir);
        snprintf(grouped, sizeof(grouped), "%s/grouped/audit.jsonl", dir);
        snprintf(bulk, sizeof(bulk), "%s/bulk/audit.jsonl", dir);
        printf("kyso audit benchmark in %s\n", dir);

        if (append_many(durable, n_durable, true, 1, &t) < 0)
                return 1;
        printf("append, durable (write + fdatasync per record): %u records in %.3f s = %.0f records/s\n",
               n_durable, t, n_durable / t);
        if (append_many(grouped, n_durable, true, GROUP, &t) < 0)
                return 1;
        printf("append, durable group commit (write + fdatasync per %u records, as the agent does for a batch): "
               "%u records in %.3f s = %.0f records/s\n",
               GROUP, n_durable, t, n_durable / t);

        for (unsigned i = 0, done = 0; i < ELEMENTSOF(checkpoints); done = checkpoints[i++]) {
                if (append_many(bulk, checkpoints[i] - done, false, 1, &t) < 0)
                        return 1;
                t_bulk += t;
                if (verify_checkpoint(bulk, checkpoints[i], &tv[i], &rss[i]) < 0)
                        return 1;
        }
        if (stat(bulk, &st) < 0)
                return 1;
        printf("append, bulk (BENCHMARK-ONLY no-fsync mode, not durable): %u records in %.3f s = %.0f records/s\n",
               n, t_bulk, n / t_bulk);
        printf("log size: %.1f MiB (%.0f bytes per record)\n", (double) st.st_size / 1048576.0,
               (double) st.st_size / n);

        /* Paired with the floor, A B A B: a slow moment of a shared machine hits both sides of a pair. */
        double a[99], b[99], ratio[99], cpu_a, cpu_b, cpu_ratio[99];
        long rss_peer;
        for (unsigned i = 0; i < rounds; i++) {
                long rss_a;
                if (in_child(do_verify_quiet, bulk, &a[i], &cpu_a, &rss_a) != 0 ||
                    in_child(do_openssl_dgst, bulk, &b[i], &cpu_b, &rss_peer) != 0) {
                        fprintf(stderr, "verify or openssl dgst failed\n");
                        return 1;
                }
                ratio[i] = a[i] / b[i];
                cpu_ratio[i] = cpu_b > 0 ? cpu_a / cpu_b : 0;
                printf("round %u: verify %.3f s, openssl dgst -sha256 of the same file %.3f s: %.2f (CPU time %.3f s "
                       "and %.3f s: %.2f)\n",
                       i + 1, a[i], b[i], ratio[i], cpu_a, cpu_b, cpu_ratio[i]);
        }
        double ma = median(a, rounds), mb = median(b, rounds), mr = median(ratio, rounds);
        double mcr = median(cpu_ratio, rounds);
        printf("peer: openssl dgst -sha256 of the same file: median %.3f s (peak RSS %ld KiB); verify: median "
               "%.3f s\n",
               mb, rss_peer, ma);
        printf("ratio verify / openssl dgst -sha256: median of %u paired rounds %.2f (in CPU time, user + sys: "
               "%.2f)\n",
               rounds, mr, mcr);

        double load_end = load_average();
        printf("machine: %ld CPUs, load average %.2f at the start, %.2f at the end\n", ncpu, load_start,
               load_end);
        bool busy = load_start > (double) ncpu || load_end > (double) ncpu;
        const char *v_time = busy ? "machine too busy, no verdict" : ma < 2.0 ? "met" : "MISSED";
        const char *v_mem = busy                             ? "machine too busy, no verdict"
                            : rss[1] <= rss[0] + rss[0] / 10 ? "met"
                                                             : "MISSED";
        printf("target: verify %u records in under 2 s: %s (median %.3f s)\n", n, v_time, ma);
        printf("target: verify's memory does not grow with the log: %s (peak RSS %ld KiB at %u records, %ld KiB "
               "at %u: x%.2f for x%u the records)\n",
               v_mem, rss[0], checkpoints[0], rss[1], checkpoints[1], (double) rss[1] / (double) rss[0],
               checkpoints[1] / checkpoints[0]);
        if (argc <= 1)
                printf("(the files stay in %s; remove them with rm -r)\n", dir);
        return 0;
}
