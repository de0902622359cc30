/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "agent-policy.h"
#include "log.h"

int agent_policy_record(AuditLog *audit, const Policy *p, const char *loaded_for) {
        _cleanup_strv_free_ char **keys = NULL;
        _cleanup_free_ const char **extra = NULL;
        _cleanup_free_ char *warning = NULL;
        size_t n_files = strv_length(p->files), n = 0;
        int r;

        if (!audit || !p || n_files == 0 || strv_length(p->file_sha256) != n_files)
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

        /* file, file_sha256, then dropin_N and dropin_N_sha256 for each drop-in; four more pairs; the end.
         */
        extra = calloc(2 * (2 * n_files + 4) + 1, sizeof *extra);
        if (!extra)
                return -ENOMEM;
        extra[n++] = "file";
        extra[n++] = p->files[0];
        extra[n++] = "file_sha256";
        extra[n++] = p->file_sha256[0];
        for (size_t i = 1; i < n_files; i++) {
                char *k, *ks;
                if (asprintf(&k, "dropin_%zu", i) < 0)
                        return -ENOMEM;
                r = strv_push(&keys, k);
                if (r < 0) {
                        free(k);
                        return r;
                }
                if (asprintf(&ks, "dropin_%zu_sha256", i) < 0)
                        return -ENOMEM;
                r = strv_push(&keys, ks);
                if (r < 0) {
                        free(ks);
                        return r;
                }
                extra[n++] = k;
                extra[n++] = p->files[i];
                extra[n++] = ks;
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
