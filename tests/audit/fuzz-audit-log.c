/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Arbitrary bytes as an audit log: the reader, verify's scanner and chain checks, and the full JSON parse
 * of show/report must not crash or hang, and must say what is wrong. */
#include <stdint.h>
#include <stdio.h>

#include "audit/audit-reader.h"
#include "audit/audit-record.h"
#include "audit/audit-report.h"
#include "audit/audit-verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        AuditReader *r = NULL;
        AuditVerifyResult res;
        AuditJournalHead head = { .present = true, .seq = 3 };

        memset(head.hash, 'a', AUDIT_HASH_HEX);
        if (audit_reader_open_memory(data, size, &r) < 0)
                return 0;
        int k = audit_verify(r, size % 2 ? &head : NULL, &res);
        if (k < 0)
                abort();
        /* A problem always comes with a sentence. */
        if (k == 1 && (res.problem == AUDIT_PROBLEM_NONE || !res.message))
                abort();
        audit_verify_result_done(&res);
        audit_reader_free(r);

        /* show's path: scan each line, full JSON parse; report's gathering does the same and more. */
        AuditReportWindow w;
        AuditReport *rep = NULL;
        if (audit_report_window_month(2026, 11, NULL, &w) < 0 ||
            audit_reader_open_memory(data, size, &r) < 0)
                abort();
        if (audit_report_build(r, &w, NULL, &rep) < 0)
                abort();
        FILE *devnull = fopen("/dev/null", "we");
        if (devnull) {
                audit_report_write_text(rep, devnull);
                audit_report_write_html(rep, devnull);
                audit_report_write_csv(rep, devnull);
                fclose(devnull);
        }
        audit_report_free(rep);
        audit_reader_free(r);

        /* The holidays parser reads files people write. */
        char *text = strndup((const char *) data, size);
        AuditHolidays *h = NULL;
        if (text && audit_holidays_parse(text, &h, NULL) >= 0)
                audit_holidays_free(h);
        free(text);
        return 0;
}
