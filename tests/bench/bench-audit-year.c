/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Makes the log the audit-query benchmark reads: RECORDS records spread evenly over one year (from 1 January
 * of YEAR, UTC), written by the agent's own writer with monthly rotation, as kysod writes them (archives
 * "<path>.1", "<path>.2", ..., the current month in "<path>"); mostly signatures, some refusals, failures
 * and token events. Not durable (the benchmark-only no-sync mode): it only makes data.
 *
 *   bench-audit-year PATH [RECORDS] [YEAR]     (defaults: 1000000, 2026) */
#include <inttypes.h>
#include <stdio.h>

#include "audit-log-test.h"
#include "audit/audit-log.h"
#include "audit/audit-record.h"
#include "bench-audit-event.h"
#include "macro.h"

typedef struct Clock {
        uint64_t start_ms, step_ms, i;
} Clock;

static uint64_t clock_now(void *userdata) {
        Clock *c = userdata;
        return c->start_ms + c->i * c->step_ms;
}

int main(int argc, char **argv) {
        static const char *const roles[] = { "approve", "issue", "copy", "appendix", "personal" };
        AuditLogOptions o = { .no_journal = true, .no_sync = true, .rotate_monthly = true };
        AuditLog *log = NULL;
        char *msg = NULL;
        int64_t start;
        char year_start[16];

        if (argc < 2)
                return 2;
        unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
        int year = argc > 3 ? atoi(argv[3]) : 2026;
        snprintf(year_start, sizeof(year_start), "%04d-01-01", year);
        if (n == 0 || audit_parse_time(year_start, &start) < 0)
                return 2;
        Clock c = { .start_ms = (uint64_t) start, .step_ms = 365ULL * 86400 * 1000 / n };

        int r = audit_log_open(argv[1], &o, &log, &msg);
        if (r < 0) {
                fprintf(stderr, "open %s: %s\n", argv[1], strna(msg));
                return 1;
        }
        audit_log_set_clock(log, clock_now, &c);
        for (c.i = 0; c.i < n; c.i++) {
                char doc[64], before[65], after[65];
                unsigned kind = c.i % 50;
                snprintf(doc, sizeof(doc), "Quyết định số %" PRIu64 "/QĐ-UBND.pdf", c.i);
                snprintf(before, sizeof(before), "%064" PRIx64, c.i);
                snprintf(after, sizeof(after), "%064" PRIx64, ~c.i);
                AuditEvent ev = bench_audit_sign_event(
                        kind == 2 ? NULL : doc, kind == 2 ? NULL : before, kind >= 3 ? after : NULL);
                ev.token_label = "Nguyen Van A";
                if (kind == 0) {
                        ev.type = AUDIT_EVENT_SIGN_DENIED;
                        ev.decision = "denied";
                        ev.reason = "Chứng thư số của cá nhân không được ký thay cơ quan";
                        ev.article = "Quy chế Điều 21.4";
                } else if (kind == 1) {
                        ev.type = AUDIT_EVENT_SIGN_FAILED;
                        ev.decision = "failed";
                        ev.error = "org.kyso.Error.CertificateRevoked";
                } else if (kind == 2) {
                        ev.type = AUDIT_EVENT_TOKEN_ADDED;
                        ev.decision = ev.role = NULL;
                } else
                        ev.role = roles[c.i % ELEMENTSOF(roles)];
                r = audit_log_append(log, &ev, NULL);
                if (r < 0) {
                        fprintf(stderr, "append: %s\n", strerror(-r));
                        audit_log_free(log);
                        return 1;
                }
        }
        audit_log_free(log);
        return 0;
}
