/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The periodic report of Article 17 of the ward's regulation: its windows and deadlines (Vietnam time, moved
 * past weekends and holidays), the figures gathered from the audit log, and the report in the appendix
 * template's sections (Vietnamese) as text, self-contained HTML, or CSV. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "audit-reader.h"
#include "macro.h"

#define AUDIT_VN_UTC_OFFSET_MS (7LL * 3600 * 1000) /* Vietnam: UTC+7 all year, no daylight saving */
#define AUDIT_EXPIRING_DAYS 60                     /* Art. 11: renewal possible while 60 days remain */

typedef struct AuditDate {
        int year;
        unsigned month, day;
} AuditDate;

/* Holidays: one ISO date (YYYY-MM-DD) per line, or "*-MM-DD" for a fixed date every year; '#' starts a
 * comment. Lunar holidays (Tết, Giỗ Tổ) and the government's yearly swaps must be listed per year. */
typedef struct AuditHolidays AuditHolidays;
int audit_holidays_parse(const char *text, AuditHolidays **ret, unsigned *ret_bad_line);
int audit_holidays_load(const char *path, AuditHolidays **ret, unsigned *ret_bad_line);
AuditHolidays *audit_holidays_free(AuditHolidays *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(AuditHolidays *, audit_holidays_free);
bool audit_is_holiday(const AuditHolidays *h, AuditDate d); /* h may be NULL */
bool audit_is_working_day(const AuditHolidays *h, AuditDate d);
AuditDate audit_next_working_day(const AuditHolidays *h, AuditDate d); /* d itself when it is one */
unsigned audit_weekday(AuditDate d);                                   /* 0 Sunday ... 6 Saturday */
int64_t audit_date_to_days(AuditDate d);
AuditDate audit_date_from_days(int64_t days);

typedef struct AuditReportWindow {
        bool annual;
        int year;
        unsigned month;           /* 1..12 for a monthly report */
        AuditDate first, last;    /* both included, Vietnam time */
        int64_t start_ms, end_ms; /* the same as UTC milliseconds, [start, end) */
        AuditDate due;            /* the 20th, or 20 January of the next year */
        AuditDate deadline;       /* due, moved to the next working day */
} AuditReportWindow;

/* Monthly: from the 15th of the previous month to the 14th of this month; deadline the 20th of this month.
 * Annual: from 15 December of the previous year to 14 December; deadline 20 January of the next year. */
int audit_report_window_month(int year, unsigned month, const AuditHolidays *h, AuditReportWindow *ret);
int audit_report_window_year(int year, const AuditHolidays *h, AuditReportWindow *ret);

typedef struct AuditReportOptions {
        const char *org;               /* the reporting unit's name; NULL leaves the template's dots */
        const char *place;             /* the place of the date line ("Uông Bí"); NULL: dots */
        const char *const *addressees; /* "Kính gửi", one per line; NULL: dots */
        const char *signer_title; /* above the signature; NULL: the template's "THỦ TRƯỞNG CƠ QUAN/ĐƠN VỊ" */
        const char *const
                *gov_ca_patterns; /* issuer substrings (case-insensitive for ASCII) that mean the
                                     Government CA, when a record does not say "ca"; NULL: defaults */
        const char *integrity;    /* a sentence on the log's verification, put in the report */
} AuditReportOptions;

typedef struct AuditReport AuditReport;
/* Reads the chain and gathers the figures of the window. Records that are not valid JSON are counted in
 * n_bad_records and skipped (verify says what is wrong with them). */
int audit_report_build(
        AuditReader *r, const AuditReportWindow *w, const AuditReportOptions *o, AuditReport **ret);
AuditReport *audit_report_free(AuditReport *rep);
DEFINE_TRIVIAL_CLEANUP_FUNC(AuditReport *, audit_report_free);

uint64_t audit_report_n_signatures(const AuditReport *rep);
uint64_t audit_report_n_signatures_gov(const AuditReport *rep);
uint64_t audit_report_n_denied(const AuditReport *rep);
uint64_t audit_report_n_failed(const AuditReport *rep);
uint64_t audit_report_n_bad_records(const AuditReport *rep);
size_t audit_report_n_tokens(const AuditReport *rep); /* physical tokens named by the window's records */

/* The sentence on the log's verification, when it comes after the figures (verify ran beside the build). */
int audit_report_set_integrity(AuditReport *rep, const char *integrity);

int audit_report_write_text(const AuditReport *rep, FILE *f);
int audit_report_write_html(const AuditReport *rep, FILE *f);
int audit_report_write_csv(const AuditReport *rep, FILE *f);
