/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Agent: kysod's object org.kyso.Agent1 at /org/kyso/Agent1 on the session bus. It owns the bus connection
 * and the P11Manager, serves GetTokens/GetCertificates, Sign/SignBatch (AgentSign) and RegisterPrompter/
 * UnregisterPrompter (PrompterRegistry) to callers of the same uid, raises the signals, and records its own
 * events (tokens, helpers, stop) in the audit log.
 */

#include <systemd/sd-event.h>

#include "agent-config.h"
#include "audit/audit-log.h"
#include "policy/policy.h"

#define AGENT_BUS_NAME "org.kyso.Agent1"
#define AGENT_OBJECT_PATH "/org/kyso/Agent1"
#define AGENT_INTERFACE "org.kyso.Agent1"

typedef struct Agent Agent;

/* Starts the token manager on the loop. config must outlive the agent. On success the agent owns policy (for
 * the certificates' kind and status) and audit (its events and every signing request are recorded there;
 * it writes agent-stop when freed). */
int agent_new(sd_event *e, const AgentConfig *config, Policy *policy, AuditLog *audit, Agent **ret);
Agent *agent_free(Agent *a); /* stops and reaps the helpers, leaves the bus */
static inline void agent_freep(Agent **a) {
        agent_free(*a);
}

/* Connects to the bus at address (NULL: the session bus), exports the object and takes the name.
 * -EEXIST when the name is already taken (another agent runs), -ECONNREFUSED when there is no bus.
 * When the bus connection drops later, the loop exits with -ECONNRESET. */
int agent_connect_bus(Agent *a, const char *address);
