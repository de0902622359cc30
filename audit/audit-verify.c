/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <systemd/sd-journal.h>

#include "audit-reader.h"
#include "audit-record.h"
#include "audit-verify.h"
#include "i18n.h"
#include "macro.h"
#include "string-table.h"

#define LOOKAHEAD 8

static const char *const audit_problem_table[_AUDIT_PROBLEM_MAX] = {
        [AUDIT_PROBLEM_NONE] = "none",
        [AUDIT_PROBLEM_CHANGED] = "changed",
        [AUDIT_PROBLEM_REMOVED] = "removed",
        [AUDIT_PROBLEM_INSERTED] = "inserted",
        [AUDIT_PROBLEM_REORDERED] = "reordered",
        [AUDIT_PROBLEM_TORN_TAIL] = "torn-tail",
        [AUDIT_PROBLEM_SEQ_GAP] = "seq-gap",
        [AUDIT_PROBLEM_MALFORMED] = "malformed",
        [AUDIT_PROBLEM_LINE_TOO_LONG] = "line-too-long",
        [AUDIT_PROBLEM_VERSION] = "version",
        [AUDIT_PROBLEM_CHAIN_START] = "chain-start",
        [AUDIT_PROBLEM_ROTATION_LINK] = "rotation-link",
        [AUDIT_PROBLEM_TAIL_CUT] = "tail-cut",
        [AUDIT_PROBLEM_JOURNAL_MISMATCH] = "journal-mismatch",
        [AUDIT_PROBLEM_CHAIN_REPLACED] = "chain-replaced",
        [AUDIT_PROBLEM_RECORDS_MISSING] = "records-missing",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(audit_problem, AuditProblem);

void audit_verify_result_done(AuditVerifyResult *res) {
        res->file = mfree(res->file);
        res->message = mfree(res->message);
        res->time_warning = mfree(res->time_warning);
        res->missing_message = mfree(res->missing_message);
}

/* One record as verify remembers it: no line bytes, so memory stays constant. */
typedef struct Rec {
        uint64_t seq;
        char prev[AUDIT_HASH_HEX + 1];
        char hash[AUDIT_HASH_HEX + 1];
        char time[AUDIT_TIME_LEN];
        unsigned file_index;
        uint64_t line;
        AuditEventType event;
} Rec;

/* The events verify looks at: only these names are compared (looking every record's up was a twentieth of
 * verify's time). */
static const AuditEventType seen_events[] = {
        AUDIT_EVENT_LOG_ROTATED,
        AUDIT_EVENT_LOG_TORN_TAIL,
        AUDIT_EVENT_LOG_RECORDS_MISSING,
};

typedef struct Verifier {
        AuditReader *reader;
        AuditHasher *hasher;
        AuditVerifyResult *res;
        Rec last;
        bool have_last;
        Rec ahead[LOOKAHEAD];
        unsigned n_ahead;
        Rec missing; /* the first log-records-missing record */
        const char *seen_names[ELEMENTSOF(seen_events)];
} Verifier;

static const char *file_of(Verifier *v, unsigned index) {
        return strna(audit_reader_get_file(v->reader, index));
}

static int
report(Verifier *v, AuditProblem p, unsigned file_index, uint64_t line, uint64_t seq, const char *fmt, ...)
        _printf_(6, 7);
static int
report(Verifier *v, AuditProblem p, unsigned file_index, uint64_t line, uint64_t seq, const char *fmt, ...) {
        va_list ap;
        AuditVerifyResult *res = v->res;

        res->problem = p;
        free(res->file);
        res->file = audit_reader_get_file(v->reader, file_index)
                            ? strdup(audit_reader_get_file(v->reader, file_index))
                            : NULL;
        res->line = line;
        res->seq = seq;
        free(res->message);
        va_start(ap, fmt);
        if (vasprintf(&res->message, fmt, ap) < 0)
                res->message = NULL;
        va_end(ap);
        return 1;
}

static AuditEventType verify_event(const Verifier *v, const AuditRecordHead *h) {
        for (size_t i = 0; i < ELEMENTSOF(seen_events); i++)
                if (audit_record_event_is(h, v->seen_names[i]))
                        return seen_events[i];
        return _AUDIT_EVENT_INVALID;
}

/* Reads one record into rec. 1: got one; 0: end; 2: a line that is not a good record (not reported). */
static int read_rec(
        Verifier *v, Rec *rec, AuditLine *line, AuditRecordHead *head, int *ret_scan,
        const char **ret_what) {
        int r = audit_reader_next(v->reader, line);
        if (r <= 0)
                return r;
        if (!line->terminated)
                return 2;
        *ret_scan = audit_record_scan_prefix(line->data, line->len, head, ret_what);
        if (*ret_scan < 0)
                return 2;
        rec->seq = head->seq;
        memcpy(rec->prev, head->prev, AUDIT_HASH_HEX);
        rec->prev[AUDIT_HASH_HEX] = '\0';
        memcpy(rec->time, head->time, AUDIT_TIME_LEN);
        rec->file_index = line->file_index;
        rec->line = line->line_number;
        rec->event = verify_event(v, head);
        r = audit_hasher_line(v->hasher, line->data, line->len, rec->hash);
        if (r < 0)
                return r;
        return 1;
}

static void look_ahead(Verifier *v) {
        AuditLine line;
        AuditRecordHead head;
        int scan;
        const char *what;

        v->n_ahead = 0;
        while (v->n_ahead < LOOKAHEAD) {
                int r = read_rec(v, &v->ahead[v->n_ahead], &line, &head, &scan, &what);
                if (r != 1)
                        break;
                v->n_ahead++;
        }
}

/* The chain broke at cur (the last good record is v->last). Decide what happened from a few records
 * further on, and report it. */
static int classify(Verifier *v, const Rec *cur) {
        const Rec *last = &v->last;
        uint64_t expected = last->seq + 1;
        bool link_ok = streq(cur->prev, last->hash);

        look_ahead(v);

        /* cur's own predecessor comes later: records were moved. */
        for (unsigned j = 0; j < v->n_ahead; j++)
                if (streq(v->ahead[j].hash, cur->prev) && cur->seq != expected)
                        return report(
                                v, AUDIT_PROBLEM_REORDERED, cur->file_index, cur->line, cur->seq,
                                _("Records are out of order: seq %" PRIu64 " (%s, line %" PRIu64
                                  ") comes before seq %" PRIu64 " (%s, line %" PRIu64
                                  ") although it was written after it."),
                                cur->seq, file_of(v, cur->file_index), cur->line, v->ahead[j].seq,
                                file_of(v, v->ahead[j].file_index), v->ahead[j].line);

        /* The chain resumes further on: what lies between does not belong. */
        for (unsigned j = 0; j < v->n_ahead; j++)
                if (v->ahead[j].seq == expected && streq(v->ahead[j].prev, last->hash))
                        return report(
                                v, AUDIT_PROBLEM_INSERTED, cur->file_index, cur->line, cur->seq,
                                _("A record was inserted: %s, line %" PRIu64 " (seq %" PRIu64
                                  ") does not belong to the chain, which continues with seq %" PRIu64
                                  " at line %" PRIu64 "."),
                                file_of(v, cur->file_index), cur->line, cur->seq, expected,
                                v->ahead[j].line);

        /* Two records claim the same place in the chain: one was forged in. */
        if (cur->seq == last->seq && streq(cur->prev, last->prev))
                return report(
                        v, AUDIT_PROBLEM_INSERTED, last->file_index, last->line, last->seq,
                        _("A record was inserted: %s, lines %" PRIu64 " and %" PRIu64
                          " both claim seq %" PRIu64
                          " after the same record; one of them does not belong to "
                          "the chain."),
                        file_of(v, cur->file_index), last->line, cur->line, cur->seq);

        if (cur->seq > expected && !link_ok) {
                if (cur->file_index != last->file_index)
                        return report(
                                v, AUDIT_PROBLEM_REMOVED, cur->file_index, cur->line, cur->seq,
                                _("Records seq %" PRIu64 " to %" PRIu64 " were removed: %s ends with seq "
                                  "%" PRIu64 " and %s, line %" PRIu64 " continues with seq %" PRIu64
                                  " (a log file missing?)."),
                                expected, cur->seq - 1, file_of(v, last->file_index), last->seq,
                                file_of(v, cur->file_index), cur->line, cur->seq);
                return report(
                        v, AUDIT_PROBLEM_REMOVED, cur->file_index, cur->line, cur->seq,
                        _("Records seq %" PRIu64 " to %" PRIu64 " were removed before %s, line %" PRIu64
                          " (seq %" PRIu64 "): its \"prev\" does not match the record before it."),
                        expected, cur->seq - 1, file_of(v, cur->file_index), cur->line, cur->seq);
        }
        if (cur->seq != expected && link_ok)
                return report(
                        v, AUDIT_PROBLEM_SEQ_GAP, cur->file_index, cur->line, cur->seq,
                        _("Gap in sequence numbers: seq %" PRIu64 " follows seq %" PRIu64 " at %s, line "
                          "%" PRIu64 ", although the hash chain is intact there: a sequence number was "
                          "changed or skipped."),
                        cur->seq, last->seq, file_of(v, cur->file_index), cur->line);
        if (cur->seq == expected && !link_ok) {
                /* Either the previous record's bytes changed, or cur's "prev" did; in the second case cur's
                 * hash changed too, so the record after it no longer links to it. */
                if (v->n_ahead > 0 && v->ahead[0].seq == cur->seq + 1 && !streq(v->ahead[0].prev, cur->hash))
                        return report(
                                v, AUDIT_PROBLEM_CHANGED, cur->file_index, cur->line, cur->seq,
                                _("Record seq %" PRIu64 " (%s, line %" PRIu64
                                  ") was changed: neither its \"prev\" nor its own hash match its "
                                  "neighbours."),
                                cur->seq, file_of(v, cur->file_index), cur->line);
                return report(
                        v, AUDIT_PROBLEM_CHANGED, last->file_index, last->line, last->seq,
                        _("Record seq %" PRIu64 " (%s, line %" PRIu64
                          ") was changed: its SHA-256 no longer matches the \"prev\" of the next record "
                          "(seq %" PRIu64 ", line %" PRIu64 ")."),
                        last->seq, file_of(v, last->file_index), last->line, cur->seq, cur->line);
        }
        /* seq goes backwards and the chain does not resume within reach. */
        return report(
                v, AUDIT_PROBLEM_INSERTED, cur->file_index, cur->line, cur->seq,
                _("A record was inserted or records were reordered: seq %" PRIu64 " at %s, line %" PRIu64
                  " follows seq %" PRIu64 "."),
                cur->seq, file_of(v, cur->file_index), cur->line, last->seq);
}

static int check_rotation_link(Verifier *v, const Rec *cur, const AuditLine *line) {
        const char *prev_file = file_of(v, v->last.file_index);
        const char *slash = strrchr(prev_file, '/');
        const char *prev_base = slash ? slash + 1 : prev_file;
        const char *named;
        size_t named_len;

        if (cur->event != AUDIT_EVENT_LOG_ROTATED)
                return report(
                        v, AUDIT_PROBLEM_ROTATION_LINK, cur->file_index, cur->line, cur->seq,
                        _("%s does not begin with a log-rotated record linking it to %s: the file was "
                          "replaced or files were renamed."),
                        file_of(v, cur->file_index), prev_file);
        if (audit_record_find_string(line->data, line->len, "previous_file", &named, &named_len) < 0 ||
            named_len != strlen(prev_base) || memcmp(named, prev_base, named_len) != 0)
                return report(
                        v, AUDIT_PROBLEM_ROTATION_LINK, cur->file_index, cur->line, cur->seq,
                        _("The first record of %s names another previous file than %s: files were "
                          "renamed or reordered."),
                        file_of(v, cur->file_index), prev_file);
        return 0;
}

/* Whether the journal's head belongs to this log's chain (unknown on either side: assume it does). */
static bool same_chain(const AuditJournalHead *journal, const AuditVerifyResult *res) {
        return !journal->chain[0] || !res->chain[0] || streq(journal->chain, res->chain);
}

int audit_verify(AuditReader *reader, const AuditJournalHead *journal, AuditVerifyResult *res) {
        _cleanup_(audit_hasher_freep) AuditHasher *hasher = NULL;
        Verifier v = { .reader = reader, .res = res };
        AuditLine line;
        AuditRecordHead head;
        int r;

        *res = (AuditVerifyResult){};
        r = audit_hasher_new(&hasher);
        if (r < 0)
                return r;
        v.hasher = hasher;
        for (size_t i = 0; i < ELEMENTSOF(seen_events); i++)
                v.seen_names[i] = audit_event_type_to_string(seen_events[i]);

        for (;;) {
                Rec cur;
                int scan = 0;
                const char *what = NULL;

                r = read_rec(&v, &cur, &line, &head, &scan, &what);
                if (r == -E2BIG) {
                        r = report(
                                &v, AUDIT_PROBLEM_LINE_TOO_LONG, line.file_index, line.line_number, 0,
                                _("%s, line %" PRIu64 " is longer than %u bytes: not a kyso audit record."),
                                file_of(&v, line.file_index), line.line_number, AUDIT_LINE_MAX);
                        break;
                }
                if (r < 0)
                        break; /* an I/O error is no verdict on the log: the caller reports it */
                if (r == 0)
                        break;
                if (r == 2 && !line.terminated) {
                        r = report(
                                &v, AUDIT_PROBLEM_TORN_TAIL, line.file_index, line.line_number, 0,
                                _("%s ends with an unfinished record at line %" PRIu64
                                  " (%zu bytes, no end of line): a crash while writing. The agent moves it "
                                  "to a quarantine file when it starts; the records before it are intact."),
                                file_of(&v, line.file_index), line.line_number, line.len);
                        break;
                }
                if (r == 2 && scan == -EPROTONOSUPPORT) {
                        r = report(
                                &v, AUDIT_PROBLEM_VERSION, line.file_index, line.line_number, 0,
                                _("%s, line %" PRIu64 " has format version %u; this kysoctl reads version "
                                  "%u. Use a newer kysoctl."),
                                file_of(&v, line.file_index), line.line_number, head.version,
                                AUDIT_FORMAT_VERSION);
                        break;
                }
                if (r == 2) {
                        r =
                                report(&v, AUDIT_PROBLEM_MALFORMED, line.file_index, line.line_number, 0,
                                       _("%s, line %" PRIu64 " is not a kyso audit record: %s."),
                                       file_of(&v, line.file_index), line.line_number, what);
                        break;
                }

                if (!v.have_last) {
                        if (cur.seq != 1 || !streq(cur.prev, AUDIT_GENESIS_PREV)) {
                                r = report(
                                        &v, AUDIT_PROBLEM_CHAIN_START, cur.file_index, cur.line, cur.seq,
                                        _("The chain does not start at its beginning: the first record (%s, "
                                          "line %" PRIu64 ") has seq %" PRIu64
                                          " and a non-empty \"prev\": earlier records or files are missing."),
                                        file_of(&v, cur.file_index), cur.line, cur.seq);
                                break;
                        }
                        res->first_seq = cur.seq;
                } else {
                        if (cur.seq != v.last.seq + 1 ||
                            memcmp(cur.prev, v.last.hash, AUDIT_HASH_HEX) != 0) {
                                r = classify(&v, &cur);
                                break;
                        }
                        if (line.first_in_file && cur.file_index != v.last.file_index) {
                                r = check_rotation_link(&v, &cur, &line);
                                if (r != 0)
                                        break;
                        }
                        if (memcmp(cur.time, v.last.time, AUDIT_TIME_LEN) < 0) {
                                if (res->time_backwards++ == 0 &&
                                    asprintf(
                                            &res->time_warning,
                                            _("The time goes backwards at %s, line %" PRIu64 " (seq %" PRIu64
                                              "): %.24s after %.24s. The clock was probably changed; the chain "
                                              "is not affected."),
                                            file_of(&v, cur.file_index), cur.line, cur.seq, cur.time,
                                            v.last.time) < 0)
                                        res->time_warning = NULL;
                        }
                }
                if (journal && journal->present && same_chain(journal, res) && cur.seq == journal->seq &&
                    !streq(cur.hash, journal->hash)) {
                        r = report(
                                &v, AUDIT_PROBLEM_JOURNAL_MISMATCH, cur.file_index, cur.line, cur.seq,
                                _("Record seq %" PRIu64 " (%s, line %" PRIu64
                                  ") is not the one the journal saw: its hash is %.12s…, the journal has "
                                  "%.12s…. The log was changed or rewritten."),
                                cur.seq, file_of(&v, cur.file_index), cur.line, cur.hash, journal->hash);
                        break;
                }
                if (line.first_in_file && !res->chain[0])
                        (void) audit_record_chain(line.data, line.len, &head, res->chain);
                if (cur.event == AUDIT_EVENT_LOG_RECORDS_MISSING && res->records_missing++ == 0) {
                        const char *m = NULL;
                        size_t ml = 0;
                        (void) audit_record_find_string(line.data, line.len, "message", &m, &ml);
                        v.missing = cur;
                        if (asprintf(
                                    &res->missing_message,
                                    _("%.*s (The agent found this when it started, and recorded it at %.24s in "
                                      "%s, line %" PRIu64 ", seq %" PRIu64 ".)"),
                                    (int) MIN(ml, (size_t) 4096), strempty(m), cur.time,
                                    file_of(&v, cur.file_index), cur.line, cur.seq) < 0)
                                res->missing_message = NULL;
                }
                if (cur.event == AUDIT_EVENT_LOG_TORN_TAIL)
                        res->torn_recoveries++;
                if (cur.event == AUDIT_EVENT_LOG_ROTATED) {
                        const char *why;
                        size_t why_len;
                        res->rotations++;
                        if (audit_record_find_string(line.data, line.len, "reason", &why, &why_len) >= 0 &&
                            why_len == strlen("recovered") && memcmp(why, "recovered", why_len) == 0)
                                res->recovered++;
                }
                res->records++;
                v.last = cur;
                v.have_last = true;
        }

        res->files = audit_reader_n_files(reader);
        res->bytes = audit_reader_bytes(reader);
        if (v.have_last) {
                res->last_seq = v.last.seq;
                memcpy(res->last_hash, v.last.hash, sizeof(res->last_hash));
        }
        if (res->problem != AUDIT_PROBLEM_NONE)
                return 1;
        if (r < 0)
                return r;

        if (journal && journal->present && !same_chain(journal, res))
                return report(
                        &v, AUDIT_PROBLEM_CHAIN_REPLACED, 0, v.have_last ? 1 : 0, 0,
                        _("The journal saw another chain at this log's path (chain %.12s…) up to seq %" PRIu64
                          " (hash %.12s…), which this log (chain %.12s…) does not contain: the log was "
                          "deleted or replaced and started again, and those records are missing."),
                        journal->chain, journal->seq, journal->hash, res->chain);
        if (journal && journal->present && res->last_seq < journal->seq)
                return report(
                        &v, AUDIT_PROBLEM_TAIL_CUT, v.have_last ? v.last.file_index : 0,
                        v.have_last ? v.last.line : 0, res->last_seq + 1,
                        _("The end of the log was cut off: it ends at seq %" PRIu64
                          " but the journal saw records up to seq %" PRIu64 " (hash %.12s…)."),
                        res->last_seq, journal->seq, journal->hash);
        if (res->records_missing > 0)
                return report(
                        &v, AUDIT_PROBLEM_RECORDS_MISSING, v.missing.file_index, v.missing.line,
                        v.missing.seq, "%s", strempty(res->missing_message));
        return 0;
}

/* Takes an entry's fields into best when the pick prefers it: the largest seq, or simply the latest seen
 * (callers go from newest to oldest for NEWEST and stop at the first good one, or read an export file from
 * oldest to newest). */
static int take_entry(
        const char *seq, const char *hash, const char *chain, const char *machine, const char *file,
        AuditJournalPick pick, AuditJournalHead *best) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(seq, &end, 10);
        if (errno != 0 || *end || s == 0 || strlen(hash) != AUDIT_HASH_HEX ||
            !audit_is_hex(hash, AUDIT_HASH_HEX))
                return -EBADMSG;
        if (pick == AUDIT_JOURNAL_HIGHEST && best->present && s <= best->seq)
                return 0;
        *best = (AuditJournalHead){ .present = true, .seq = s };
        memcpy(best->hash, hash, AUDIT_HASH_HEX + 1);
        if (strlen(chain) == AUDIT_CHAIN_HEX && audit_is_hex(chain, AUDIT_CHAIN_HEX))
                memcpy(best->chain, chain, AUDIT_CHAIN_HEX + 1);
        if (strlen(machine) == sizeof(best->machine) - 1 && audit_is_hex(machine, sizeof(best->machine) - 1))
                memcpy(best->machine, machine, sizeof(best->machine));
        if (strlen(file) < sizeof(best->file))
                strcpy(best->file, file);
        return 0;
}

/* Whether an entry with these fields counts for m (the part the journal's own matches do not do). */
static bool
entry_matches(const AuditJournalMatch *m, const char *file, const char *chain, const char *machine) {
        if (!isempty(m->chain) ? !streq(chain, m->chain) : m->log_path && !streq(file, m->log_path))
                return false;
        if (!isempty(m->machine) && !streq(machine, m->machine))
                return false;
        return isempty(m->other_than_chain) || !streq(chain, m->other_than_chain);
}

/* Copies the value of field name ("NAME=value") of the current entry into buf (NUL-terminated, cut). */
static void entry_field(sd_journal *j, const char *name, char *buf, size_t size) {
        const void *d;
        size_t l, nl = strlen(name);
        buf[0] = '\0';
        if (sd_journal_get_data(j, name, &d, &l) < 0 || l <= nl + 1)
                return;
        l = MIN(l - nl - 1, size - 1);
        memcpy(buf, (const char *) d + nl + 1, l);
        buf[l] = '\0';
}

static int add_match(sd_journal *j, const char *field, const char *value) {
        _cleanup_free_ char *match = NULL;
        if (asprintf(&match, "%s=%s", field, value) < 0)
                return -ENOMEM;
        return sd_journal_add_match(j, match, 0);
}

static int journal_find(
        const char *directory, const AuditJournalMatch *m, AuditJournalPick pick, AuditJournalHead *ret) {
        sd_journal *j = NULL;
        AuditJournalHead best = {};
        int r;

        r = directory ? sd_journal_open_directory(&j, directory, 0)
                      : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        r = !isempty(m->chain) ? add_match(j, "KYSO_AUDIT_CHAIN", m->chain)
                               : add_match(j, "KYSO_AUDIT_FILE", m->log_path);
        if (r >= 0 && !isempty(m->machine))
                r = add_match(j, "_MACHINE_ID", m->machine);
        /* Only the small fields are needed, not the record's copy. */
        if (r >= 0)
                r = sd_journal_set_data_threshold(j, 256);
        if (r >= 0)
                r = pick == AUDIT_JOURNAL_NEWEST ? sd_journal_seek_tail(j) : sd_journal_seek_head(j);
        /* HIGHEST reads every entry of the log, one at a time: after a log was deleted and made again, the
         * largest seq can be anywhere. */
        while (r >= 0) {
                char seq[32], hash[AUDIT_HASH_HEX + 1], chain[AUDIT_CHAIN_HEX + 1], machine[33];
                char file[PATH_MAX];

                r = pick == AUDIT_JOURNAL_NEWEST ? sd_journal_previous(j) : sd_journal_next(j);
                if (r <= 0)
                        break;
                entry_field(j, "KYSO_AUDIT_SEQ", seq, sizeof(seq));
                entry_field(j, "KYSO_AUDIT_HASH", hash, sizeof(hash));
                entry_field(j, "KYSO_AUDIT_CHAIN", chain, sizeof(chain));
                entry_field(j, "KYSO_AUDIT_FILE", file, sizeof(file));
                entry_field(j, "_MACHINE_ID", machine, sizeof(machine));
                if (!entry_matches(m, file, chain, machine))
                        continue;
                if (take_entry(seq, hash, chain, machine, file, pick, &best) >= 0 &&
                    pick == AUDIT_JOURNAL_NEWEST)
                        break;
        }
        sd_journal_close(j);
        if (r < 0)
                return r;
        if (!best.present)
                return -ENODATA;
        *ret = best;
        return 0;
}

static int export_find(
        const char *export_file, const AuditJournalMatch *m, AuditJournalPick pick, AuditJournalHead *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *buf = NULL, *file = NULL;
        size_t alloc = 0;
        AuditJournalHead best = {};
        char seq[32] = {}, hash[AUDIT_HASH_HEX + 1] = {}, chain[AUDIT_CHAIN_HEX + 1] = {}, machine[33] = {};
        ssize_t n;

        f = fopen(export_file, "re");
        if (!f)
                return negative_errno();
        for (;;) {
                errno = 0;
                n = getline(&buf, &alloc, f);
                /* A read error (a folder given as the file) is not the end of the entries. */
                if (n < 0 && ferror(f))
                        return errno > 0 ? -errno : -EIO;
                if (n < 0 || n <= 1) {
                        /* End of an entry. The newest is the last in the file. */
                        if (seq[0] && hash[0] && entry_matches(m, strempty(file), chain, machine))
                                (void) take_entry(seq, hash, chain, machine, strempty(file), pick, &best);
                        seq[0] = hash[0] = chain[0] = machine[0] = '\0';
                        file = mfree(file);
                        if (n < 0)
                                break;
                        continue;
                }
                if (buf[n - 1] == '\n')
                        buf[--n] = '\0';
                const char *eq = strchr(buf, '=');
                if (!eq) {
                        /* A binary field: its name, then a little-endian 64-bit size, the data and '\n'. */
                        unsigned char le[8];
                        if (fread(le, 1, 8, f) != 8)
                                return -EBADMSG;
                        uint64_t size = 0;
                        for (int i = 7; i >= 0; i--)
                                size = size << 8 | le[i];
                        if (size > (1ULL << 31) || fseeko(f, (off_t) size + 1, SEEK_CUR) < 0)
                                return -EBADMSG;
                        continue;
                }
                const char *v;
                if ((v = startswith(buf, "KYSO_AUDIT_SEQ=")))
                        snprintf(seq, sizeof(seq), "%s", v);
                else if ((v = startswith(buf, "KYSO_AUDIT_HASH=")))
                        snprintf(hash, sizeof(hash), "%s", v);
                else if ((v = startswith(buf, "KYSO_AUDIT_CHAIN=")))
                        snprintf(chain, sizeof(chain), "%s", v);
                else if ((v = startswith(buf, "_MACHINE_ID=")))
                        snprintf(machine, sizeof(machine), "%s", v);
                else if ((v = startswith(buf, "KYSO_AUDIT_FILE="))) {
                        free(file);
                        file = strdup(v);
                        if (!file)
                                return -ENOMEM;
                }
        }
        if (!best.present)
                return -ENODATA;
        *ret = best;
        return 0;
}

int audit_journal_find(
        const char *directory, const char *export_file, const AuditJournalMatch *m, AuditJournalPick pick,
        AuditJournalHead *ret) {
        if (!m || (isempty(m->chain) && !m->log_path && !export_file) || pick < 0 ||
            pick >= _AUDIT_JOURNAL_PICK_MAX)
                return -EINVAL;
        return export_file ? export_find(export_file, m, pick, ret) : journal_find(directory, m, pick, ret);
}

int audit_journal_head_read(
        const char *directory, const char *log_path, AuditJournalPick pick, AuditJournalHead *ret) {
        if (!log_path)
                return -EINVAL;
        return audit_journal_find(directory, NULL, &(AuditJournalMatch){ .log_path = log_path }, pick, ret);
}

int audit_journal_head_from_export(
        const char *export_file, const char *log_path, AuditJournalPick pick, AuditJournalHead *ret) {
        return audit_journal_find(
                NULL, export_file, &(AuditJournalMatch){ .log_path = log_path }, pick, ret);
}

int audit_log_chain_of(const char *path, char ret[AUDIT_CHAIN_HEX + 1]) {
        _cleanup_(audit_reader_freep) AuditReader *reader = NULL;
        AuditRecordHead h;
        AuditLine line;
        int r;

        r = audit_reader_open(path, &reader);
        if (r < 0)
                return r;
        r = audit_reader_next(reader, &line);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = audit_record_scan(line.data, line.len, &h, NULL);
        if (r < 0)
                return -ENOENT;
        return audit_record_chain(line.data, line.len, &h, ret);
}

int audit_journal_head_for_verify(
        const char *directory, const char *export_file, const char *log_path, AuditJournalHead *ret) {
        char chain[AUDIT_CHAIN_HEX + 1];
        AuditJournalHead own, other;
        int r;

        if (audit_log_chain_of(log_path, chain) < 0 ||
            audit_journal_find(
                    directory, export_file, &(AuditJournalMatch){ .chain = chain }, AUDIT_JOURNAL_HIGHEST,
                    &own) < 0)
                /* A log of an earlier version, or one the journal has no entry of: by its path. */
                return audit_journal_find(
                        directory, export_file, &(AuditJournalMatch){ .log_path = log_path },
                        AUDIT_JOURNAL_HIGHEST, ret);
        /* Another chain at the path where the journal saw this one (a copy may be elsewhere), on the same
         * machine: the log was replaced there. */
        r = audit_journal_find(
                directory, export_file,
                &(AuditJournalMatch){ .log_path = own.file[0] ? own.file : log_path,
                                      .machine = own.machine,
                                      .other_than_chain = chain },
                AUDIT_JOURNAL_HIGHEST, &other);
        if (r < 0 && r != -ENODATA)
                return r;
        *ret = r >= 0 ? other : own;
        return 0;
}
