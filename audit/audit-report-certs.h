/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* ReportCerts: the Article 17 report's section on the certificate register (Quy chế Điều 22.3): the
 * certificates in use during the window, those seen for the first time, those revoked, and those that
 * expire within 60 days after it, from the window's records. */

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "audit-events.h"

typedef struct ReportCert ReportCert;

typedef struct ReportCerts {
        ReportCert *items;
        size_t n;
} ReportCerts;

/* Notes one record of the window. 1 when the record is the register's or the trust store's own (the
 * caller's other counts must leave it out: such a certificate was seen, not used to sign), 0 for any other
 * record, -ENOMEM. */
int report_certs_note(ReportCerts *rc, AuditEventType type, json_object *record);
void report_certs_done(ReportCerts *rc);

/* The section, for a window that ends at end_ms (UTC milliseconds, excluded). */
int report_certs_write_text(const ReportCerts *rc, int64_t end_ms, FILE *f);
int report_certs_write_html(const ReportCerts *rc, int64_t end_ms, FILE *f);
int report_certs_write_csv(const ReportCerts *rc, int64_t end_ms, FILE *f);
