/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The records of an audit log for people and programs: filtered by time, event, certificate and role, as a
 * readable table, a JSON array of the records exactly as stored, or CSV (what 'kysoctl audit show' prints).
 */

#include <stdint.h>
#include <stdio.h>

#include "audit-events.h"
#include "audit-reader.h"

typedef enum AuditShowFormat {
        AUDIT_SHOW_TABLE,
        AUDIT_SHOW_JSON,
        AUDIT_SHOW_CSV,
        _AUDIT_SHOW_FORMAT_MAX,
        _AUDIT_SHOW_FORMAT_INVALID = -EINVAL,
} AuditShowFormat;

#define AUDIT_FINGERPRINT_TEXT_MAX 130

typedef struct AuditShowFilter {
        int64_t since, until;                  /* milliseconds since the epoch: since <= time < until */
        AuditEventType event;                  /* _AUDIT_EVENT_INVALID: any */
        char cert[AUDIT_FINGERPRINT_TEXT_MAX]; /* a certificate fingerprint's beginning, normalized; "": any
                                                */
        const char *role;                      /* NULL: any */
} AuditShowFilter;

/* Everything passes. */
void audit_show_filter_init(AuditShowFilter *f);
/* A fingerprint as people write it (any case, with or without colons or blanks), as the filter wants it. */
void audit_fingerprint_normalize(const char *in, char *out, size_t n);

/* A CSV field (RFC 4180 quoting); a leading =, +, -, @ is kept text for spreadsheets with a quote. */
void audit_csv_field(FILE *out, const char *s);

/* Writes the records of r that pass filter to out. Lines that are not records (torn, too long, not JSON) are
 * skipped, each with a sentence on err; *ret_bad gets their number. Strings from the log never reach the
 * table with control characters. 0, or a negative errno when the log cannot be read (out is then cut off).
 */
int audit_show(
        AuditReader *r, const AuditShowFilter *filter, AuditShowFormat format, FILE *out, FILE *err,
        uint64_t *ret_bad);
