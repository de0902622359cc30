/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AuditLog's chain check in the background: at start and after each rotation the whole chain is verified
 * (audit_verify(), as 'kysoctl audit verify' does) on a thread, so that a long log delays neither READY nor
 * a request. The thread reads a snapshot: the chain's files opened when the check starts, the active file
 * only up to its size then (every byte of it a complete, durable record: we are its only writer), so the
 * appends and a rotation of the main thread meanwhile are never half seen. A broken chain is recorded once
 * per break: a break is known by its problem, the seq of its first bad record and the seq of the last
 * intact one before it, and a log-chain-broken record with the same three is looked for in the snapshot
 * first. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "audit-log-private.h"
#include "audit-reader.h"
#include "audit-verify.h"
#include "log.h"

struct AuditChainCheck {
        pthread_t thread;
        bool running; /* the thread was started and not joined yet */
        atomic_bool cancel;
        int done_fd; /* the log's eventfd: borrowed */

        char **files;
        int *fds;
        unsigned n;
        uint64_t last_end;

        /* Written by the thread, read after the join. */
        int error;
        AuditVerifyResult res;
        bool broken;
        bool recorded; /* a log-chain-broken record names this break already */
};

static AuditChainCheck *chain_check_free(AuditChainCheck *c) {
        if (!c)
                return NULL;
        if (c->running) {
                atomic_store(&c->cancel, true);
                (void) pthread_join(c->thread, NULL);
        }
        for (unsigned i = 0; i < c->n; i++)
                safe_close(c->fds[i]);
        free(c->fds);
        strv_free(c->files);
        audit_verify_result_done(&c->res);
        free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(AuditChainCheck *, chain_check_free);

/* The three values that name a break, as a log-chain-broken record has them. */
typedef struct BreakKey {
        const char *problem;
        char seq[32], after_seq[32];
} BreakKey;

static void break_key(const AuditVerifyResult *res, BreakKey *ret) {
        /* The chain is intact up to the record before the first bad one (verify may have taken a changed
         * record in before the next one showed it changed), or up to the last it took in. */
        uint64_t intact = res->seq > 0 ? MIN(res->seq - 1, res->last_seq) : res->last_seq;
        ret->problem = audit_problem_to_string(res->problem);
        snprintf(ret->seq, sizeof(ret->seq), "%" PRIu64, res->seq);
        snprintf(ret->after_seq, sizeof(ret->after_seq), "%" PRIu64, intact);
}

static bool field_is(const char *line, size_t len, const char *key, const char *want) {
        const char *v;
        size_t vlen;
        return audit_record_find_string(line, len, key, &v, &vlen) >= 0 && vlen == strlen(want) &&
               memcmp(v, want, vlen) == 0;
}

/* Whether the snapshot has a log-chain-broken record for the break in c->res. */
static int find_record(AuditChainCheck *c) {
        _cleanup_(audit_reader_freep) AuditReader *r = NULL;
        AuditLine line;
        AuditRecordHead h;
        BreakKey key;
        int k;

        break_key(&c->res, &key);
        k = audit_reader_open_fds(c->files, c->fds, c->n, c->last_end, &c->cancel, &r);
        if (k < 0)
                return k;
        while ((k = audit_reader_next_record(r, &line, &h)) > 0) {
                if (!audit_record_event_is(&h, audit_event_type_to_string(AUDIT_EVENT_LOG_CHAIN_BROKEN)))
                        continue;
                if (field_is(line.data, line.len, "problem", key.problem) &&
                    field_is(line.data, line.len, "seq", key.seq) &&
                    field_is(line.data, line.len, "after_seq", key.after_seq))
                        return 1;
        }
        return k;
}

static void *check_thread(void *userdata) {
        AuditChainCheck *c = userdata;
        _cleanup_(audit_reader_freep) AuditReader *r = NULL;
        uint64_t one = 1;

        int k = audit_reader_open_fds(c->files, c->fds, c->n, c->last_end, &c->cancel, &r);
        if (k >= 0)
                k = audit_verify(r, NULL, &c->res);
        /* Records found missing at a start were recorded then (log-records-missing): not a break. */
        if (k == 1 && c->res.problem != AUDIT_PROBLEM_RECORDS_MISSING) {
                c->broken = true;
                k = find_record(c);
                c->recorded = k > 0;
        }
        c->error = MIN(k, 0);
        (void) !write(c->done_fd, &one, sizeof(one));
        return NULL;
}

/* Takes the snapshot (on the caller's thread) and starts the thread. */
static int chain_check_start(AuditLog *log) {
        _cleanup_(chain_check_freep) AuditChainCheck *c = NULL;
        sigset_t all, old;
        int r;

        assert(!log->chain_check);
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->done_fd = log->chain_check_fd;
        r = audit_chain_files(log->path, &c->files, NULL);
        if (r == -ENOENT)
                return 0; /* no log yet: nothing to check */
        if (r < 0)
                return r;
        unsigned n = (unsigned) strv_length(c->files);
        c->fds = calloc(n, sizeof(int));
        if (!c->fds)
                return -ENOMEM;
        for (; c->n < n; c->n++) {
                c->fds[c->n] = open(c->files[c->n], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (c->fds[c->n] < 0)
                        return negative_errno();
        }
        struct stat st;
        if (streq(c->files[n - 1], log->path) && log->fd >= 0)
                c->last_end = log->size;
        else if (fstat(c->fds[n - 1], &st) >= 0)
                c->last_end = (uint64_t) st.st_size;
        else
                return negative_errno();

        /* The thread takes no signal: kysod's are handled by its event loop. */
        sigfillset(&all);
        r = -pthread_sigmask(SIG_BLOCK, &all, &old);
        if (r < 0)
                return r;
        r = -pthread_create(&c->thread, NULL, check_thread, c);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return r;
        c->running = true;
        log->chain_check = TAKE_PTR(c);
        return 0;
}

int audit_log_watch_chain(AuditLog *log, int *ret_fd) {
        int r;

        if (!log || !ret_fd)
                return -EINVAL;
        if (log->chain_check_fd < 0) {
                log->chain_check_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (log->chain_check_fd < 0)
                        return negative_errno();
        }
        log->watch_chain = true;
        if (!log->chain_check) {
                r = chain_check_start(log);
                if (r < 0)
                        return r;
        }
        *ret_fd = log->chain_check_fd;
        return 0;
}

void audit_chain_check_rotated(AuditLog *log) {
        if (!log->watch_chain)
                return;
        if (log->chain_check) {
                log->chain_check_again = true; /* when this one is done */
                return;
        }
        int r = chain_check_start(log);
        if (r < 0)
                /* The next rotation or start tries again; 'kysoctl audit verify' always works. */
                log_debug_errno(r, "Cannot start the check of the audit log's chain after rotation: %m");
}

void audit_chain_check_cancel(AuditLog *log) {
        log->chain_check = chain_check_free(log->chain_check);
        log->chain_check_fd = safe_close(log->chain_check_fd);
}

static int write_chain_broken(AuditLog *log, const AuditVerifyResult *res, char **ret_message) {
        _cleanup_free_ char *msg = NULL;
        char line[32];
        BreakKey key;

        break_key(res, &key);
        snprintf(line, sizeof(line), "%" PRIu64, res->line);
        if (asprintf(
                    &msg,
                    "The audit log's chain is broken at record seq %s (%s, line %s), after the intact record "
                    "seq %s: %s The log goes on; keep all its files for the auditors.",
                    key.seq, strna(res->file ? audit_base_name(res->file) : NULL), line, key.after_seq,
                    strempty(res->message)) < 0)
                return -ENOMEM;
        const char *extra[] = {
                "problem",   key.problem,   "file", res->file ? audit_base_name(res->file) : "",
                "line",      line,          "seq",  key.seq,
                "after_seq", key.after_seq, NULL
        };
        return audit_log_append_finding(
                log, AUDIT_EVENT_LOG_CHAIN_BROKEN, TAKE_PTR(msg), extra, ret_message);
}

int audit_log_chain_check_done(AuditLog *log, char **ret_message) {
        _cleanup_(chain_check_freep) AuditChainCheck *c = NULL;
        uint64_t n;
        int r;

        if (!log)
                return -EINVAL;
        if (log->chain_check_fd >= 0)
                (void) !read(log->chain_check_fd, &n, sizeof(n));
        c = TAKE_PTR(log->chain_check);
        if (!c)
                return 0;
        (void) pthread_join(c->thread, NULL);
        c->running = false;

        if (log->chain_check_again) {
                log->chain_check_again = false;
                r = chain_check_start(log);
                if (r < 0)
                        log_debug_errno(r, "Cannot start the check of the audit log's chain again: %m");
        }
        if (c->error < 0) {
                audit_set_message(
                        ret_message, "Cannot check the chain of the audit log %s: %s.", log->path,
                        strerror(-c->error));
                return c->error;
        }
        if (!c->broken)
                return 0;
        if (c->recorded) {
                audit_set_message(
                        ret_message,
                        "The audit log's chain is broken at record seq %" PRIu64 " (%s, line %" PRIu64
                        "), as a log-chain-broken record already says: %s",
                        c->res.seq, strna(c->res.file ? audit_base_name(c->res.file) : NULL), c->res.line,
                        strempty(c->res.message));
                return 2;
        }
        r = write_chain_broken(log, &c->res, ret_message);
        return r < 0 ? r : 1;
}
