/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AuditLog's insides, shared by the files of the one writer (audit-log.c, audit-quarantine.c,
 * audit-journal.c) and by the tests' fault hooks (tests/audit/audit-log-test.c); not for other callers.
 *
 * The fault hooks live here, not in AuditLogOptions: the library has no function that arms a fault, only the
 * test executables do, so the shipped agent cannot crash or fail its log on purpose. */

#include "audit-log.h"

/* Test hooks. A fault fires once, on the append (for ROTATE_CREATE: the rotation) after `skip` good ones. */
typedef enum AuditFault {
        AUDIT_FAULT_NONE,
        AUDIT_FAULT_ENOSPC,            /* write() fails with ENOSPC, nothing written */
        AUDIT_FAULT_SHORT_WRITE,       /* half the line is written, then ENOSPC */
        AUDIT_FAULT_SHORT_WRITE_STUCK, /* as above, and truncating back fails too (EIO) */
        AUDIT_FAULT_FSYNC_EIO,         /* fdatasync() fails with EIO after a full write */
        AUDIT_FAULT_ROTATE_CREATE,     /* a rotation renamed the file, then cannot create the new one */
        AUDIT_FAULT_TORN_KILL, /* half the line is written by one write(), then the process kills itself
                                  (SIGKILL) before the second: a crash inside a record, for the kill -9 test
                                */
        /* Only armed from open() on (audit_log_open_internal()): the process kills itself (SIGKILL) inside
         * open(), while it recovers a torn tail. */
        AUDIT_FAULT_OPEN_KILL_BEFORE_CUT,   /* the torn bytes are safe elsewhere, still in the log too */
        AUDIT_FAULT_OPEN_KILL_AFTER_CUT,    /* and cut off the log */
        AUDIT_FAULT_OPEN_KILL_AFTER_RECORD, /* and the log-torn-tail record is durable */
        _AUDIT_FAULT_MAX,
        _AUDIT_FAULT_INVALID = -EINVAL,
} AuditFault;

/* What could not be written since the log was last writable (audit-lost.c): bounded, whatever the number. */
#define AUDIT_LOST_CERTS_MAX 8
typedef struct AuditLost {
        uint64_t records; /* records not written; 0: nothing owed */
        uint64_t first_ms, last_ms;
        int error; /* the last failure, negative errno */
        uint64_t per_event[_AUDIT_EVENT_MAX];
        struct {
                char *fingerprint, *subject; /* either may be NULL */
        } certs[AUDIT_LOST_CERTS_MAX];       /* the first distinct certificates named */
        size_t n_certs;
        uint64_t records_other_certs; /* records naming a certificate beyond those */
} AuditLost;

typedef struct AuditChainCheck AuditChainCheck;

struct AuditLog {
        char *path;
        char *lock_path;
        int fd;
        int lock_fd;
        AuditLogOptions opts;

        uint64_t seq;                  /* of the last record; 0: empty chain */
        char head[AUDIT_HASH_HEX + 1]; /* hash of the last record, or the genesis value */
        char head_time[AUDIT_TIME_LEN + 1];
        char chain[AUDIT_CHAIN_HEX + 1]; /* the chain's identity; "" for a log of an earlier version */
        uint64_t size;                   /* of the active file; we are its only writer */
        int active_month;                /* year*12+month-1 of the active file's first record; -1: empty */
        unsigned max_archive;

        bool broken;               /* a failed write could not be undone: reopen to recover */
        bool need_rotation_record; /* the active file is new and its first record must link the chain */
        char *rotated_from;        /* basename of the previous file, for that record */
        const char *rotation_reason;

        char *quarantine_path;

        AuditHasher *hasher;
        uid_t uid;
        pid_t pid;
        char *exe;

        AuditFault fault; /* armed only by the tests' hooks */
        unsigned fault_skip;
        uint64_t (*now_ms)(void *userdata);
        void *now_userdata;
        bool journal_failed; /* log the first journal failure only, until it works again */
        AuditLost lost;

        /* The background chain check (audit-chain-check.c). */
        bool watch_chain;             /* check at start and after each rotation */
        AuditChainCheck *chain_check; /* the one running, if any */
        bool chain_check_again;       /* a rotation happened while it ran */
        int chain_check_fd;           /* an eventfd: readable when a check is done */
};

static inline const char *audit_base_name(const char *p) {
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

uint64_t audit_now_realtime_ms(void *userdata);

/* Replaces *ret_message (if ret_message is given) with a sentence for people. */
void audit_set_message(char **ret_message, const char *fmt, ...) _printf_(2, 3);

/* audit_log_open() with a fault armed before open() does anything (tests only, see AuditFault). */
int audit_log_open_internal(
        const char *path, const AuditLogOptions *opts, AuditFault fault, AuditLog **ret, char **ret_message);

/* True once, when the armed fault is f and its countdown has run out. */
bool audit_log_take_fault(AuditLog *log, AuditFault f);

/* One record now, without rotation or the checks of audit_log_append() (open() and rotation use it). */
int audit_log_write_record(AuditLog *log, const AuditEvent *ev, uint64_t *ret_seq);
/* Records now, with one write and one fdatasync, rotating by size first when needed. */
int audit_log_write_group(AuditLog *log, const AuditEvent *evs, size_t n, uint64_t now);
/* Appends a record of what the log found about itself (message: taken, also when it fails). On success
 * *ret_message (if given) gets the message; on failure a sentence that adds why it cannot be recorded. */
int audit_log_append_finding(
        AuditLog *log, AuditEventType type, char *message, const char *const *extra, char **ret_message);
/* The log-rotated record that links a new file to the previous one, stamped now: a rotation made for a
 * group is stamped with the group's time, never after it. */
int audit_log_write_rotation_record(AuditLog *log, uint64_t now);

/* audit-quarantine.c: a torn last line moved to a quarantine file, and recorded (see there). */
typedef struct AuditPending {
        char *path;  /* "<final>.at-<offset>.pending" */
        char *final; /* what the record names */
        uint64_t offset;
        bool fresh; /* made by this open(); else left by a start that crashed */
} AuditPending;

typedef struct AuditPendingList {
        AuditPending *items;
        size_t n;
} AuditPendingList;

void audit_pending_list_done(AuditPendingList *l);
/* The .pending quarantine files beside the log, oldest first. */
int audit_quarantine_list(AuditLog *log, AuditPendingList *ret, char **ret_message);
/* Moves a torn last line to a new .pending file (added to pending) and cuts it off the log. */
int audit_quarantine_recover_tail(AuditLog *log, AuditPendingList *pending, char **ret_message);
/* Records the quarantine file p (unless that record is there already), then gives it its final name. */
int audit_quarantine_finish(AuditLog *log, const AuditPending *p, char **ret_message);

/* audit-lost.c: remembers the records of a failed append (error: why it failed); writes them as one
 * log-unwritable record stamped now, and forgets them once that record is durable. */
void audit_lost_add(AuditLost *l, const AuditEvent *evs, size_t n, uint64_t now, int error);
int audit_lost_write(AuditLog *log, uint64_t now);
void audit_lost_done(AuditLost *l);

/* audit-chain-check.c: a rotation starts a new check (when the log is watched); freeing cancels. */
void audit_chain_check_rotated(AuditLog *log);
void audit_chain_check_cancel(AuditLog *log);

/* audit-journal.c: the journal's copy of a record just made durable; journal is journal_socket_check()'s
 * answer, asked once per group. */
void audit_journal_send(AuditLog *log, const AuditEvent *ev, const char *line, size_t len, int journal);
