/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AuditWindow: where the records of a time window [since, until) lie in an audit log's chain, found from the
 * order of the records (bisection on line starts) instead of by reading every line.
 *
 * What a window is. The log is in the order records were written; when the clock went backwards, a record
 * can be older than one written before it. A window holds the records written after the last record older
 * than since, up to the first record after them that is at or after until: a contiguous part of the log.
 * With a clock that never went backwards across since or until these are exactly the records whose time is
 * in [since, until). When it did, records written before the clock went back are left out, even those whose
 * time falls in the window (they were written before the log's last time before since), and every record
 * of the window still has its time in [since, until). Only lines that are records (audit_record_scan()
 * reads them) count for the bounds; other lines in between are the window's. This meaning needs no index:
 * a bisection finds a record older than since, and the lines after it decide. */

#include <stdbool.h>
#include <stdint.h>

#include "audit-reader.h"
#include "audit-record.h"

typedef struct AuditWindow {
        int64_t since, until; /* milliseconds since the epoch; INT64_MIN and INT64_MAX: open */
        AuditPos start;       /* the window's first line */
        AuditPos end;         /* the first line after it, when has_end */
        bool has_end;
        /* since and until as a record writes its time, when they are between 1970 and 9999: fixed-width
         * text compares as the time does, without parsing each record's time */
        char since_text[AUDIT_TIME_LEN + 1], until_text[AUDIT_TIME_LEN + 1];
} AuditWindow;

/* [since, until), from the chain's start. */
void audit_window_init(AuditWindow *w, int64_t since, int64_t until);
/* Takes one record into the bounds: lines handed to it in the chain's order, from w->start on. h is the
 * record's scan (audit_record_scan()). */
void audit_window_note(AuditWindow *w, const AuditLine *line, const AuditRecordHead *h);

/* A place at or before the window's start that is cheap to find: the start of a record older than w's
 * since (or the chain's start). It reads the first record of some files and bisects one file on its line
 * starts, a few dozen reads in all. r names the files; its position does not change. */
int audit_window_start_near(AuditReader *r, const AuditWindow *w, AuditPos *ret);

/* Sets w->start, w->end and w->has_end by reading r from `from` (the chain's start when NULL, else a place
 * from audit_window_start_near()) to the end of the chain (to the window's end when since is open), parsing
 * only the fixed prefix of each line. Leaves r where it stopped. */
int audit_window_find(AuditReader *r, const AuditPos *from, AuditWindow *w);

/* Positions r at the window: its next line is the window's first, and it ends at the window's end. */
int audit_window_apply(AuditReader *r, const AuditWindow *w);
