/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "agent-policy.h"
#include "log.h"

int agent_policy_record(AuditLog *audit, const Policy *p, const char *loaded_for) {
        _cleanup_strv_free_ char **keys = NULL;
        _cleanup_free_ const char **extra = NULL;
        _cleanup_free_ char *warning = NULL;
        size_t n_files = p ? strv_length(p->files) : 0, n = 0;

        if (!audit || n_files == 0 || strv_length(p->file_sha256) != n_files)
                return -EINVAL;
        if (!p->system_default) {
                if (asprintf(
                            &warning,
                            "The signing policy %s is not the system policy (%s): it was chosen through "
                            "$KYSO_POLICY, and the administrator's settings may not apply.",
                            p->files[0], POLICY_SYSTEM_PATH) < 0)
                        return -ENOMEM;
                log_warning("%s", warning);
        }

        /* file and file_sha256, dropin_N and dropin_N_sha256 per drop-in, four more pairs, the end. */
        extra = calloc(2 * (2 * n_files + 4) + 1, sizeof *extra);
        if (!extra)
                return -ENOMEM;
        extra[n++] = "file";
        extra[n++] = p->files[0];
        extra[n++] = "file_sha256";
        extra[n++] = p->file_sha256[0];
        for (size_t i = 1; i < n_files; i++) {
                char k[32], ks[40];
                snprintf(k, sizeof k, "dropin_%zu", i);
                snprintf(ks, sizeof ks, "dropin_%zu_sha256", i);
                if (strv_extend(&keys, k) < 0 || strv_extend(&keys, ks) < 0)
                        return -ENOMEM;
                size_t m = strv_length(keys);
                extra[n++] = keys[m - 2];
                extra[n++] = p->files[i];
                extra[n++] = keys[m - 1];
                extra[n++] = p->file_sha256[i];
        }
        extra[n++] = "policy_sha256";
        extra[n++] = p->digest;
        extra[n++] = "system_default";
        extra[n++] = p->system_default ? "yes" : "no";
        extra[n++] = "loaded_for";
        extra[n++] = loaded_for;
        if (warning) {
                extra[n++] = "warning";
                extra[n++] = warning;
        }
        extra[n] = NULL;

        AuditEvent ev = {
                .type = AUDIT_EVENT_POLICY_LOAD,
                .message = p->system_default ? "Signing policy loaded"
                                             : "Signing policy loaded: not the system policy",
                .extra = extra,
        };
        return audit_log_append(audit, &ev, NULL);
}
