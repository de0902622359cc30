/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AuditLog: the one writer of a hash-chained, append-only JSON Lines audit log (see audit-record.h for the
 * line format). It locks the log, recovers a torn last line, rotates, and makes each record durable.
 *
 * Not thread-safe: one AuditLog per process, used from the agent's event loop. Every append blocks for one
 * fdatasync() (about 1-2 ms on a disk), by design: the outcome of an event is reported only after its record
 * is on disk. A caller with several outcomes ready at once appends them as one group: one fdatasync(). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit-events.h"
#include "audit-record.h"
#include "audit-verify.h"
#include "macro.h"

typedef struct AuditLog AuditLog;

typedef struct AuditLogOptions {
        uint64_t max_size;   /* rotate before the active file would grow past this many bytes; 0: never */
        bool rotate_monthly; /* rotate when the UTC month of the first record of the active file has passed
                              */
        bool no_journal;     /* do not send records to the journal (tests, or systems without journald) */
        bool no_sync;        /* BENCHMARK ONLY: skip fdatasync(). Records are then not durable. */
} AuditLogOptions;

/* Opens (creates) the log at path: parents 0700, file 0600, an exclusive lock on "<path>.lock" (-EBUSY when
 * another process holds it; *ret_message names it), recovery of a torn last line (moved to
 * "<path>.torn-<UTC time>" and recorded; until the record is durable the file is
 * "<path>.torn-<UTC time>.at-<offset>.pending", which the next open() finishes after a crash), and the head
 * found by reading the file backwards. On failure *ret_message, if given, gets a sentence for people (free()
 * it). */
int audit_log_open(const char *path, const AuditLogOptions *opts, AuditLog **ret, char **ret_message);
AuditLog *audit_log_free(AuditLog *log); /* closes; does not write a record (the agent writes agent-stop) */
DEFINE_TRIVIAL_CLEANUP_FUNC(AuditLog *, audit_log_free);

/* Appends one record: one write() on an O_APPEND fd, then fdatasync(); returns 0 only when the record is
 * durable, so the caller may then report the event's outcome. On error (-ENOSPC, -EIO, ...) the file is left
 * as it was (a partial write is truncated away) and the caller must fail the operation it records. The log
 * remembers such records (bounded: a count per event, the first and last time, a few certificates) and
 * writes them as one log-unwritable record before the next record it can write; not for -EINVAL or -E2BIG,
 * which are the event's fault. */
int audit_log_append(AuditLog *log, const AuditEvent *ev, uint64_t *ret_seq);
/* Group commit: appends the n records of evs (1 <= n <= AUDIT_GROUP_MAX), in order, with one write() and one
 * fdatasync(). All or nothing: returns 0 only when all n are durable (*ret_first_seq, if given, is the seq
 * of the first; they share one time); on error none of them is in the log, as for audit_log_append(), and
 * the caller must fail every operation they record. A group is never split across files: when it would take
 * the active file past max_size, the file is rotated first (a group larger than max_size fills a file alone,
 * as one oversized record does). */
#define AUDIT_GROUP_MAX 256U
int audit_log_append_group(AuditLog *log, const AuditEvent *evs, size_t n, uint64_t *ret_first_seq);
/* The short form for agent events: a message and "key", "value", ... pairs (NULL-terminated) under "data".
 * Example: audit_log_append_simple(log, AUDIT_EVENT_TOKEN_ADDED, "Token added", "uri", uri, NULL). */
int audit_log_append_simple(AuditLog *log, AuditEventType type, const char *message, ...) _sentinel_;

uint64_t audit_log_get_seq(const AuditLog *log); /* the last record's seq; 0 when the log is empty */
const char *audit_log_get_head_hash(const AuditLog *log); /* its hash (64 hex) */
const char *audit_log_get_path(const AuditLog *log);
/* Set when open() quarantined a torn tail, or finished the quarantine of a start that crashed: the (last)
 * quarantine file's path (else NULL). */
const char *audit_log_get_quarantine_path(const AuditLog *log);
/* The chain's identity (AUDIT_CHAIN_HEX hex digits; "" for a log of an earlier version without one). */
const char *audit_log_get_chain(const AuditLog *log);

/* Compares the log with what the journal remembers of it (at start: audit_journal_head_read(...,
 * AUDIT_JOURNAL_NEWEST, ...)). When the journal saw records the log does not have (its end or active file
 * deleted, the whole log made again, another log put in its place), appends a log-records-missing record
 * with what the journal remembers (seq, hash, chain) and returns 1 with *ret_message saying so (verify
 * reports the log as not intact from then on). 0 when the log agrees (or the journal saw less, which cannot
 * be checked cheaply); negative errno when the record cannot be written (*ret_message says what). */
int audit_log_check_journal(AuditLog *log, const AuditJournalHead *journal, char **ret_message);

/* Checks the chain in the background: now, and after each rotation, the whole chain is verified on a
 * thread (as 'kysoctl audit verify' does, without the journal), on the records written before the check
 * started. *ret_fd becomes readable when a check is done: the caller's event loop then calls
 * audit_log_chain_check_done() (on the thread that appends). The fd belongs to the log. */
int audit_log_watch_chain(AuditLog *log, int *ret_fd);
/* Takes the result of the check that is done. When the chain is broken in the middle, appends one
 * log-chain-broken record naming the first bad record (problem, file, line, seq, and after_seq: the last
 * intact record) and returns 1, *ret_message saying so for the journal; a break that such a record names
 * already is not recorded again (2, *ret_message saying so). 0 when the chain is intact or no check is
 * done; negative errno when the check could not run or the record cannot be written (*ret_message says
 * what). */
int audit_log_chain_check_done(AuditLog *log, char **ret_message);

/* Parses a rotation setting (for a configuration file's "audit-rotate = ..."): "no", "monthly", a size such
 * as "10M" (K, M, G: powers of 1024; at least 64K), or both, comma-separated ("monthly,50M"). Sets max_size
 * and rotate_monthly of o; -EINVAL when the text is not one of those. */
int audit_log_parse_rotation(const char *s, AuditLogOptions *o);

/* Where the log lives: $KYSO_AUDIT_LOG, else $XDG_STATE_HOME/kyso/audit.jsonl, else
 * ~/.local/state/kyso/audit.jsonl. */
int audit_log_default_path(char **ret);

/* How the agent uses it (the integrator wires this into agent/):
 *
 *   AuditLogOptions o = { .rotate_monthly = true };       // or audit_log_parse_rotation(conf_value, &o)
 *   r = audit_log_open(config->audit_log_path, &o, &a->audit, &msg);
 *   if (r < 0) → log msg and refuse to start (-EBUSY: another kysod holds the log).
 *   audit_log_append_simple(a->audit, AUDIT_EVENT_AGENT_START, "kysod started", "version", VERSION, NULL);
 *   audit_log_append_simple(a->audit, AUDIT_EVENT_CONFIG_LOAD, "Configuration loaded", "file", path, NULL);
 *   token added/removed: AuditEvent ev = { .type = AUDIT_EVENT_TOKEN_ADDED, .message = "Token added",
 *           .token_uri = t->uri, .token_label = t->label, .token_serial = t->serial };
 *   helper crash/restart: audit_log_append_simple(a->audit, AUDIT_EVENT_HELPER_CRASH, reason,
 *           "module", module_path, NULL);
 *   signing (issue 5): fill AuditEvent with .caller from the D-Bus peer's credentials, the document, the
 *           certificate, .role, .decision, .reason, .article; append BEFORE replying; on error fail the
 *           request (Internal error, "the audit log cannot be written: ...").
 *   at exit: AUDIT_EVENT_AGENT_STOP, then audit_log_free(). */
