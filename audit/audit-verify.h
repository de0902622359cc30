/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Verification of an audit log's chain: hash links, sequence numbers, rotation links, format version, torn
 * tail, and optionally the journal's copy of the head; on failure, the first bad record and what is wrong.
 */

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit-reader.h"
#include "audit-record.h"

typedef enum AuditProblem {
        AUDIT_PROBLEM_NONE,
        AUDIT_PROBLEM_CHANGED,       /* a record's bytes changed: the next record's "prev" does not match */
        AUDIT_PROBLEM_REMOVED,       /* records missing: a gap in seq and a broken link */
        AUDIT_PROBLEM_INSERTED,      /* a record that does not belong to the chain */
        AUDIT_PROBLEM_REORDERED,     /* records out of order */
        AUDIT_PROBLEM_TORN_TAIL,     /* the file ends inside a record */
        AUDIT_PROBLEM_SEQ_GAP,       /* seq jumps although the hash link is intact */
        AUDIT_PROBLEM_MALFORMED,     /* a line that is not a kyso audit record */
        AUDIT_PROBLEM_LINE_TOO_LONG, /* longer than AUDIT_LINE_MAX */
        AUDIT_PROBLEM_VERSION,       /* a format version this program does not know */
        AUDIT_PROBLEM_CHAIN_START, /* the first record does not start a chain: earlier records are missing */
        AUDIT_PROBLEM_ROTATION_LINK, /* a file does not begin with a log-rotated record naming the previous
                                        one */
        AUDIT_PROBLEM_TAIL_CUT,      /* the journal has seen records after the log's last one */
        AUDIT_PROBLEM_JOURNAL_MISMATCH, /* the record the journal saw has another hash now */
        AUDIT_PROBLEM_CHAIN_REPLACED,   /* the journal saw another chain at this path: the log was made again
                                         */
        AUDIT_PROBLEM_RECORDS_MISSING,  /* a log-records-missing record: the agent found records gone */
        _AUDIT_PROBLEM_MAX,
        _AUDIT_PROBLEM_INVALID = -EINVAL,
} AuditProblem;

const char *audit_problem_to_string(AuditProblem p); /* "changed", "removed", ... (stable, for --json) */

/* A record of this log that the journal has seen (see AuditJournalPick for which one). */
typedef struct AuditJournalHead {
        bool present;
        uint64_t seq;
        char hash[AUDIT_HASH_HEX + 1];
        char chain[AUDIT_CHAIN_HEX + 1]; /* "" when the entry has none (an earlier version wrote it) */
        char machine[33];                /* its _MACHINE_ID; "" when not known */
        char file[PATH_MAX];             /* its KYSO_AUDIT_FILE; "" when not known */
} AuditJournalHead;

typedef struct AuditVerifyResult {
        AuditProblem problem;
        char *file; /* the first bad record: file, line, seq (0 when not known) */
        uint64_t line;
        uint64_t seq;
        char *message; /* a sentence for people, in the locale's language */

        uint64_t records, bytes;
        unsigned files;
        uint64_t first_seq, last_seq;
        char last_hash[AUDIT_HASH_HEX + 1];
        uint64_t time_backwards;  /* records whose time is earlier than the previous one's: reported, not
                                     fatal */
        char *time_warning;       /* the first of them */
        uint64_t torn_recoveries; /* log-torn-tail records seen (earlier crashes, handled) */
        uint64_t rotations;       /* log-rotated records seen */
        uint64_t recovered;       /* of them, "recovered": the agent found the active file empty or gone and
                                     went on from the newest archive (a crash while rotating, or a deleted
                                     file: only the journal can tell) */
        char chain[AUDIT_CHAIN_HEX + 1]; /* the chain's identity ("" for a log of an earlier version) */
        uint64_t records_missing;        /* log-records-missing records seen */
        char *missing_message; /* the first of them, also when another problem is what verify reports */
} AuditVerifyResult;

/* Walks everything r gives. Returns 0 when the chain is intact (result->problem NONE), 1 when it found a
 * problem (described in result), negative errno when it could not run. A problem in the chain itself is
 * reported first; then, with journal, a cut tail, a changed last record or another chain; then a
 * log-records-missing record (records were gone when the agent started; the rest is still checked). */
int audit_verify(AuditReader *r, const AuditJournalHead *journal, AuditVerifyResult *result);
void audit_verify_result_done(AuditVerifyResult *result);

/* Which journal entry of the log: the one with the largest KYSO_AUDIT_SEQ (what verify compares with: every
 * entry is read, one at a time), or simply the newest (what the agent compares with when it starts: cheap).
 */
typedef enum AuditJournalPick {
        AUDIT_JOURNAL_HIGHEST,
        AUDIT_JOURNAL_NEWEST,
        _AUDIT_JOURNAL_PICK_MAX,
        _AUDIT_JOURNAL_PICK_INVALID = -EINVAL,
} AuditJournalPick;

/* Which entries of a journal count. By default those with KYSO_AUDIT_FILE=log_path. With chain, those of
 * that chain (KYSO_AUDIT_CHAIN) wherever the log was: what a log copied elsewhere, or one of many desks in
 * a ward's central journal (where several may have the same path), is compared with. machine keeps only
 * entries of that _MACHINE_ID; other_than_chain drops those of that chain (the entries of another chain
 * that once was at the log's path: the log was deleted or replaced and started again). */
typedef struct AuditJournalMatch {
        const char *log_path;
        const char *chain;
        const char *machine;
        const char *other_than_chain;
} AuditJournalMatch;

/* From the journal (directory NULL: this machine's; else a folder of journal files, e.g. collected with
 * systemd-journal-remote) or, with export_file, from a file in journal export format (journalctl -o export
 * ...; "newest" is the last in the file). -ENODATA when no entry matches. */
int audit_journal_find(
        const char *directory, const char *export_file, const AuditJournalMatch *match,
        AuditJournalPick pick, AuditJournalHead *ret);

/* The chain of the log at path (from its first record), or -ENOENT for a log without one (written by an
 * earlier version) or no log. */
int audit_log_chain_of(const char *path, char ret[AUDIT_CHAIN_HEX + 1]);

/* What verify --journal compares with: the entry of the largest seq of the log's own chain (when the log has
 * one and the journal knows it) or else of its path; but an entry of another chain at the log's path on the
 * same machine comes first, since then the log was replaced. -ENODATA when the journal knows neither. */
int audit_journal_head_for_verify(
        const char *directory, const char *export_file, const char *log_path, AuditJournalHead *ret);

/* The older forms of audit_journal_find(), by KYSO_AUDIT_FILE=log_path: */
int audit_journal_head_read(
        const char *directory, const char *log_path, AuditJournalPick pick, AuditJournalHead *ret);
/* The same from a file in journal export format (journalctl -o export ...); when log_path is not NULL only
 * entries with that KYSO_AUDIT_FILE count. "Newest" is the last in the file. */
int audit_journal_head_from_export(
        const char *export_file, const char *log_path, AuditJournalPick pick, AuditJournalHead *ret);
