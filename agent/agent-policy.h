/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AgentPolicy records in the audit log which signing policy the agent uses: its files with their SHA-256,
 * and whether it is the system policy. kysod runs as the user, who can point $KYSO_POLICY elsewhere: that
 * cannot be prevented from inside the user's own process, so it is made visible. */

#include "audit/audit-log.h"
#include "policy/policy.h"

/* Appends a policy-load record for p ("loaded_for" says why: "start", "sign request"); logs a warning when p
 * is not the system policy. Returns 0 once the record is durable, or the audit log's negative errno. */
int agent_policy_record(AuditLog *audit, const Policy *p, const char *loaded_for);
