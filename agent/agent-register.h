/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The agent's side of the certificate register: each pass over the inventory (a token added, revocation
 * checks done, the daily timer) records what it sees in the CertRegister, writes the audit records of first
 * sightings and status changes, and saves the register's file. */

#include "agent-inventory.h"
#include "agent-revocation.h"
#include "audit/audit-log.h"
#include "cert-register.h"

typedef struct Notifier Notifier;

/* The register beside the audit log at audit_path. A file that cannot be read is moved aside
 * ("certificates.json.damaged-<time>") and logged, and an empty register is started: the register must
 * never stop the agent. */
int agent_register_open(const char *audit_path, CertRegister **ret);

/* One pass over the certificates present now (see above). notifier (may be NULL) is told of each, for the
 * expiry warnings. Errors are logged here. */
void agent_register_update(
        CertRegister *reg, AuditLog *audit, Notifier *notifier, const Policy *policy,
        const AgentRevocation *revocation, const P11Token *const *tokens, size_t n_tokens,
        const P11Certificate *const *certs, size_t n_certs, int64_t now);
