/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal's copy of AuditLog: every durable record is sent to the journal too (its seq, hash and chain
 * are the second witness that catches a cut or replaced log), and at start the log is compared with what the
 * journal remembers. */
#include <inttypes.h>
#include <stdio.h>

#include <systemd/sd-journal.h>

#include "audit-log-private.h"
#include "log.h"

void audit_journal_send(AuditLog *log, const AuditEvent *ev, const char *line, size_t len, int journal) {
        AuditEventType t = ev->type;
        int prio = t == AUDIT_EVENT_SIGN_DENIED || t == AUDIT_EVENT_SIGN_FAILED ||
                                   t == AUDIT_EVENT_HELPER_CRASH || t == AUDIT_EVENT_PIN_FAILURE ||
                                   t == AUDIT_EVENT_LOG_TORN_TAIL || t == AUDIT_EVENT_LOG_UNWRITABLE ||
                                   t == AUDIT_EVENT_LOG_CHAIN_BROKEN
                           ? LOG_WARNING
                           : LOG_INFO;
        /* Without journald's socket the entry would be dropped silently, and the journal's copy is what
         * catches a cut tail: say it is missing. */
        int r = journal;

        if (r >= 0)
                r = sd_journal_send(
                        "MESSAGE=kyso audit #%" PRIu64 " %s: %s", log->seq, audit_event_type_to_string(t),
                        strempty(ev->message), "MESSAGE_ID=%s", audit_event_type_message_id(t),
                        "PRIORITY=%i", prio, "SYSLOG_IDENTIFIER=kyso-audit", "KYSO_AUDIT_SEQ=%" PRIu64,
                        log->seq, "KYSO_AUDIT_HASH=%s", log->head, "KYSO_AUDIT_FILE=%s", log->path,
                        "KYSO_AUDIT_CHAIN=%s", log->chain, "KYSO_AUDIT_EVENT=%s",
                        audit_event_type_to_string(t), "KYSO_AUDIT_RECORD=%.*s", (int) len, line, NULL);
        if (r < 0 && !log->journal_failed) {
                /* The file is the record; the journal copy is a second witness. Say so once. */
                log_warning_errno(
                        r,
                        "Cannot send audit record %" PRIu64 " to the journal (%m); the audit file "
                        "still has it, but without the journal's copy 'kysoctl audit verify --journal' cannot "
                        "tell a cut tail. Is systemd-journald running? Further journal failures are not logged "
                        "until it works again.",
                        log->seq);
                log->journal_failed = true;
        } else if (r >= 0)
                log->journal_failed = false;
}

int audit_log_check_journal(AuditLog *log, const AuditJournalHead *journal, char **ret_message) {
        _cleanup_free_ char *msg = NULL;
        const char *reason;
        int r;

        if (!log || !journal)
                return -EINVAL;
        if (!journal->present)
                return 0;
        bool other_chain = journal->chain[0] && log->chain[0] && !streq(journal->chain, log->chain);
        if (other_chain) {
                reason = "replaced";
                r = asprintf(
                        &msg,
                        "Records seq 1 to %" PRIu64
                        " of the audit log %s are missing: the journal saw another "
                        "log there (chain %.12s…) up to seq %" PRIu64
                        " (hash %.12s…), which this log (chain "
                        "%.12s…, %" PRIu64 " records) does not continue. That log was deleted or replaced.",
                        journal->seq, log->path, journal->chain, journal->seq, journal->hash, log->chain,
                        log->seq);
        } else if (journal->seq > log->seq) {
                reason = "cut";
                r = asprintf(
                        &msg,
                        "Records seq %" PRIu64 " to %" PRIu64
                        " of the audit log %s are missing: the journal "
                        "saw them (the last with hash %.12s…), but the log ends at seq %" PRIu64
                        ". Its end or its active file was deleted or cut off.",
                        log->seq + 1, journal->seq, log->path, journal->hash, log->seq);
        } else if (journal->seq == log->seq && !streq(journal->hash, log->head)) {
                reason = "rewritten";
                r = asprintf(
                        &msg,
                        "Record seq %" PRIu64 " of the audit log %s is not the one the journal saw (hash "
                        "%.12s… there, %.12s… here): the log was rewritten or replaced.",
                        log->seq, log->path, journal->hash, log->head);
        } else
                return 0;
        if (r < 0)
                return -ENOMEM;

        char jseq[32], lseq[32];
        snprintf(jseq, sizeof(jseq), "%" PRIu64, journal->seq);
        snprintf(lseq, sizeof(lseq), "%" PRIu64, log->seq);
        const char *extra[] = { "reason",
                                reason,
                                "journal_seq",
                                jseq,
                                "journal_hash",
                                journal->hash,
                                "log_seq",
                                lseq,
                                journal->chain[0] ? "journal_chain" : NULL,
                                journal->chain,
                                NULL };
        r = audit_log_append_finding(
                log, AUDIT_EVENT_LOG_RECORDS_MISSING, TAKE_PTR(msg), extra, ret_message);
        return r < 0 ? r : 1;
}
