/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The AuditLog test hooks: faults (a full disk, a failing fdatasync, a crash inside a record or inside
 * open()) and a fake clock. Compiled into the test executables only (audit-log-test.c): the library kysod
 * links has no way to arm them. */

#include "audit/audit-log-private.h"

/* Arms fault (see AuditFault) to fire once, after skip good appends (rotations for ROTATE_CREATE). */
void audit_log_inject_fault(AuditLog *log, AuditFault fault, unsigned skip);
/* The clock of the records' times (NULL: the real one). */
void audit_log_set_clock(AuditLog *log, uint64_t (*now_ms)(void *userdata), void *userdata);
/* audit_log_open() with fault armed from the start, so that open()'s own work meets it too. */
int audit_log_open_with_fault(
        const char *path, const AuditLogOptions *opts, AuditFault fault, AuditLog **ret, char **ret_message);
