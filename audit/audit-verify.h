/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Verification of an audit log's chain: hash links, sequence numbers, rotation links, format version, torn
 * tail, and optionally the journal's copy of the head; on failure, the first bad record and what is wrong.
 */

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
        _AUDIT_PROBLEM_MAX,
        _AUDIT_PROBLEM_INVALID = -EINVAL,
} AuditProblem;

const char *audit_problem_to_string(AuditProblem p); /* "changed", "removed", ... (stable, for --json) */

/* The newest record of this log that the journal has seen. */
typedef struct AuditJournalHead {
        bool present;
        uint64_t seq;
        char hash[AUDIT_HASH_HEX + 1];
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
} AuditVerifyResult;

/* Walks everything r gives. Returns 0 when the chain is intact (result->problem NONE), 1 when it found a
 * problem (described in result), negative errno when it could not run. */
int audit_verify(AuditReader *r, const AuditJournalHead *journal, AuditVerifyResult *result);
void audit_verify_result_done(AuditVerifyResult *result);

/* The journal's head for this log: the entry with the largest KYSO_AUDIT_SEQ among those with
 * KYSO_AUDIT_FILE=log_path. -ENODATA when the journal has none. */
int audit_journal_head_read(const char *log_path, AuditJournalHead *ret);
/* The same from a file in journal export format (journalctl -o export ...), e.g. collected centrally; when
 * log_path is not NULL only entries with that KYSO_AUDIT_FILE count. */
int audit_journal_head_from_export(const char *export_file, const char *log_path, AuditJournalHead *ret);
