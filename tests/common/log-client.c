/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log-client: logs two messages through common/log.c as kysod does (LOG_TARGET_AUTO): one with extra
 * journal fields, one with an errno. With "audit PATH", appends one record to the audit log at PATH instead,
 * whose copy goes to the journal. Driven by test-log-journal.sh. */
#include <errno.h>
#include <string.h>

#include "audit/audit-log.h"
#include "log.h"

static int append_audit(const char *path) {
        _cleanup_(audit_log_freep) AuditLog *log = NULL;
        _cleanup_free_ char *message = NULL;
        int r;

        r = audit_log_open(path, NULL, &log, &message);
        if (r < 0)
                return log_error_errno(r, "Cannot open %s: %s", path, strna(message));
        r = audit_log_append_simple(log, AUDIT_EVENT_AGENT_START, "log-client started", NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot append to %s: %m", path);
        return 0;
}

int main(int argc, char **argv) {
        const char *word = argc > 1 ? argv[1] : "none";
        const char *fields[] = { "MESSAGE_ID=5b1c1e2d6c2a4f0e9a3d7b8c9d0e1f20",
                                 "KYSO_TEST_FIELD=field value", NULL };

        log_setup("kyso-log-client", LOG_TARGET_AUTO);
        if (argc > 2 && strcmp(argv[1], "audit") == 0)
                return append_audit(argv[2]) < 0 ? 1 : 0;
        (void) log_fields(LOG_NOTICE, fields, "structured hello %s", word);
        (void) log_error_errno(-ENOENT, "an error for %s: %m", word);
        return 0;
}
