/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What AuditLog could not write: while the log cannot be written (a full disk, an I/O error) the operations
 * whose records fail are refused, and their only trace would be kysod's stderr. The log keeps a bounded
 * summary of them in memory and writes it as one log-unwritable record before the next record that can be
 * written. The summary is lost when kysod stops before the log is writable again. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "audit-log-private.h"

void audit_lost_done(AuditLost *l) {
        for (size_t i = 0; i < l->n_certs; i++) {
                free(l->certs[i].fingerprint);
                free(l->certs[i].subject);
        }
        *l = (AuditLost){};
}

static bool lost_cert_known(const AuditLost *l, const AuditEvent *ev) {
        for (size_t i = 0; i < l->n_certs; i++)
                if (ev->cert_fingerprint
                            ? streq_ptr(l->certs[i].fingerprint, ev->cert_fingerprint)
                            : !l->certs[i].fingerprint && streq_ptr(l->certs[i].subject, ev->cert_subject))
                        return true;
        return false;
}

static void lost_add_cert(AuditLost *l, const AuditEvent *ev) {
        if (!ev->cert_fingerprint && !ev->cert_subject)
                return;
        if (lost_cert_known(l, ev))
                return;
        if (l->n_certs >= AUDIT_LOST_CERTS_MAX) {
                l->records_other_certs++;
                return;
        }
        char *fp = ev->cert_fingerprint ? strndup(ev->cert_fingerprint, AUDIT_FIELD_MAX) : NULL;
        char *subject = ev->cert_subject ? strndup(ev->cert_subject, AUDIT_FIELD_MAX) : NULL;
        if ((ev->cert_fingerprint && !fp) || (ev->cert_subject && !subject)) {
                /* Out of memory: the certificate is still counted, as one not listed. */
                free(fp);
                free(subject);
                l->records_other_certs++;
                return;
        }
        l->certs[l->n_certs].fingerprint = fp;
        l->certs[l->n_certs].subject = subject;
        l->n_certs++;
}

void audit_lost_add(AuditLost *l, const AuditEvent *evs, size_t n, uint64_t now, int error) {
        if (l->records == 0)
                l->first_ms = now;
        l->last_ms = now;
        l->error = error;
        for (size_t i = 0; i < n; i++) {
                l->records++;
                if (evs[i].type >= 0 && evs[i].type < _AUDIT_EVENT_MAX)
                        l->per_event[evs[i].type]++;
                lost_add_cert(l, &evs[i]);
        }
}

/* Room for the fixed keys, two per certificate, the terminator. */
#define LOST_EXTRA_MAX (2 * (6 + 2 * AUDIT_LOST_CERTS_MAX) + 1)

int audit_lost_write(AuditLog *log, uint64_t now) {
        AuditLost *l = &log->lost;
        char records[32], other[32], first[AUDIT_TIME_LEN + 1], last[AUDIT_TIME_LEN + 1];
        char keys[AUDIT_LOST_CERTS_MAX][2][32];
        _cleanup_(audit_buf_done) AuditBuf events = {};
        _cleanup_free_ char *message = NULL;
        const char *extra[LOST_EXTRA_MAX];
        size_t k = 0;
        int r;

        snprintf(records, sizeof(records), "%" PRIu64, l->records);
        snprintf(other, sizeof(other), "%" PRIu64, l->records_other_certs);
        audit_format_time(l->first_ms, first);
        audit_format_time(l->last_ms, last);
        /* "sign-allowed=2,sign-failed=2": how many records of each event were not written. */
        for (int t = 0; t < _AUDIT_EVENT_MAX; t++)
                if (l->per_event[t] > 0)
                        audit_buf_printf(
                                &events, "%s%s=%" PRIu64, events.len > 0 ? "," : "",
                                audit_event_type_to_string((AuditEventType) t), l->per_event[t]);
        audit_buf_put(&events, "", 1);
        if (events.error)
                return events.error;
        if (asprintf(
                    &message,
                    "%" PRIu64
                    " audit record(s) could not be written from %s to %s (%s); the operations they "
                    "record were refused.",
                    l->records, first, last, strerror(-l->error)) < 0)
                return -ENOMEM;

        extra[k++] = "records";
        extra[k++] = records;
        extra[k++] = "first_time";
        extra[k++] = first;
        extra[k++] = "last_time";
        extra[k++] = last;
        extra[k++] = "events";
        extra[k++] = events.data;
        for (size_t i = 0; i < l->n_certs; i++) {
                /* i is below AUDIT_LOST_CERTS_MAX; the modulo lets the compiler see the key fits (ASan). */
                unsigned n = (unsigned) (i + 1) % 100U;
                snprintf(keys[i][0], sizeof(keys[i][0]), "cert_%u_fingerprint", n);
                snprintf(keys[i][1], sizeof(keys[i][1]), "cert_%u_subject", n);
                if (l->certs[i].fingerprint) {
                        extra[k++] = keys[i][0];
                        extra[k++] = l->certs[i].fingerprint;
                }
                if (l->certs[i].subject) {
                        extra[k++] = keys[i][1];
                        extra[k++] = l->certs[i].subject;
                }
        }
        if (l->records_other_certs > 0) {
                extra[k++] = "records_of_certs_not_listed";
                extra[k++] = other;
        }
        extra[k] = NULL;
        assert(k < ELEMENTSOF(extra));

        AuditEvent ev = {
                .type = AUDIT_EVENT_LOG_UNWRITABLE,
                .message = message,
                .reason = strerror(-l->error),
                .error = strerrorname_np(-l->error),
                .extra = extra,
        };
        r = audit_log_write_group(log, &ev, 1, now);
        if (r < 0)
                return r;
        audit_lost_done(l);
        return 0;
}
