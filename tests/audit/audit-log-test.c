/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit-log-test.h"

void audit_log_inject_fault(AuditLog *log, AuditFault fault, unsigned skip) {
        log->fault = fault;
        log->fault_skip = skip;
}

void audit_log_set_clock(AuditLog *log, uint64_t (*now_ms)(void *userdata), void *userdata) {
        log->now_ms = now_ms ?: audit_now_realtime_ms;
        log->now_userdata = userdata;
}

int audit_log_open_with_fault(
        const char *path, const AuditLogOptions *opts, AuditFault fault, AuditLog **ret,
        char **ret_message) {
        return audit_log_open_internal(path, opts, fault, ret, ret_message);
}
