/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AgentRevocation: the revocation status of the inventory's certificates, asked of the OCSP or CRL servers
 * (with the policy's CRL cache) in the background, one certificate at a time on a worker thread, and again
 * every refresh interval. GetCertificates answers at once with what is known.
 *
 * A certificate whose offline checks pass (chain, validity, key) shows "unchecked" until its first check is
 * done, then "revoked", "unknown" (no server could tell) or its offline status (valid, expiring). A revoked
 * certificate stays revoked when a later check cannot reach the servers.
 *
 * The policy (servers, URL rewrites, revocation mode) is read again at each refresh, as signing reads it for
 * each request: when it changed, every certificate is checked again under it and shows "unchecked" until
 * then. A policy that does not load is logged once and changes nothing. */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent-inventory.h"
#include "pkcs11/p11-manager.h"
#include "policy/policy.h"

typedef struct AgentRevocation AgentRevocation;

/* Takes a reference on policy (the agent's, as loaded at start): used until the first refresh. */
int agent_revocation_new(sd_event *event, Policy *policy, uint64_t refresh_usec, AgentRevocation **ret);
/* A check in flight is dropped (its thread ends on its own). */
AgentRevocation *agent_revocation_free(AgentRevocation *r);

/* The certificates present now: new ones are checked soon, those gone are forgotten. */
int agent_revocation_update(AgentRevocation *r, const P11Certificate *const *certs, size_t n_certs);

/* Adjusts info->status (agent_classify_certificate()'s, offline) by what is known of the certificate's
 * revocation; see above. NULL-safe. */
void agent_revocation_apply(const AgentRevocation *r, CertificateInfo *info);

/* Whether every certificate of the last update has had its first check (an empty inventory: true). */
bool agent_revocation_all_checked(const AgentRevocation *r);
/* Called from the event loop each time a check ends and no certificate waits for its first check. */
typedef void (*AgentRevocationCheckedCallback)(AgentRevocation *r, void *userdata);
void agent_revocation_set_checked_callback(
        AgentRevocation *r, AgentRevocationCheckedCallback cb, void *userdata);

/* The policy the checks use now: the last one that loaded (read again at each refresh). NULL for NULL. The
 * inventory classifies with it too, so kinds and statuses follow the same policy file. */
const Policy *agent_revocation_get_policy(const AgentRevocation *r);
