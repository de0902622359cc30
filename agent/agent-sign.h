/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AgentSign: owns the signing requests of org.kyso.Agent1 (Sign, SignBatch) and their org.kyso.Request1
 * objects, and queues them per token. One request's life is in sign-request.h and the sign-*.c files.
 *
 * One request per token at a time, first come first served, at most SIGN_QUEUE_MAX waiting per token (Busy
 * beyond); other tokens proceed in parallel; prompts are shown one at a time. */

#include <dbus/dbus.h>
#include <systemd/sd-event.h>

#include "agent-config.h"
#include "agent-revocation.h"
#include "agent-worker.h"
#include "audit/audit-log.h"
#include "pin-cache.h"
#include "pkcs11/p11-manager.h"
#include "prompt-registry.h"
#include "session-watch.h"

#define SIGN_REQUEST_PATH_PREFIX "/org/kyso/Agent1/request"
#define SIGN_REQUEST_INTERFACE "org.kyso.Request1"
#define SIGN_QUEUE_MAX 16U   /* requests per token, the running one included */
#define SIGN_BATCH_MAX 1000U /* documents in one SignBatch */

typedef struct AgentSign AgentSign;

/* Registers the request objects on bus. Every request's outcome is recorded in audit (borrowed: it must
 * outlive this object) before the client hears it. Each request checks the policy (policy_tools_path():
 * $KYSO_POLICY or the system policy) for changes and reads it again, with the owner check, when any file it
 * was read from changed (agent/policy-cache.h). */
int agent_sign_new(
        sd_event *event, DBusConnection *bus, P11Manager *manager, const AgentConfig *config,
        AuditLog *audit, AgentSign **ret);
/* Cancels every request. Requests waiting for the token stay alive until the manager calls them back, so
 * free this before the P11Manager. */
AgentSign *agent_sign_free(AgentSign *s);

/* Runs Sign or SignBatch (the caller checked the sender's uid; caller_pid is the sender's process id from
 * the bus, 0 when unknown). Returns the reply (NULL on OOM). */
DBusMessage *agent_sign_method(AgentSign *s, DBusMessage *m, pid_t caller_pid);

/* The apps' own prompters (borrowed; it must outlive this object): a request whose sender registered one is
 * prompted there, every other request through pinentry. */
void agent_sign_set_prompters(AgentSign *s, PrompterRegistry *prompters);
/* The inventory's revocation statuses and policy (borrowed; it must outlive this object), as GetCertificates
 * reports them: Sign refuses at once a certificate they mark unable to sign. NULL: no such check. */
void agent_sign_set_revocation(AgentSign *s, const AgentRevocation *revocation);
/* The policy already in the audit log (its digest): a request whose policy differs records it again. */
void agent_sign_set_policy_recorded(AgentSign *s, const char *digest);

/* The token token_uri was removed: a request for it that has not reached the token yet (its checks, its
 * prompt open or waiting) fails at once with NoToken, and its prompt closes, rather than ask for the PIN of
 * a token that is not there until prompt-timeout. A request at the token hears it from the token itself. */
void agent_sign_token_removed(AgentSign *s, const char *token_uri);

/* The PINs kept per token (kysod.conf pin-cache-personal, pin-cache-organization, cut to the policy's [pin]
 * max-cache). The agent forgets a token's PIN when it is removed, and all of them on lock and sleep. */
PinCache *agent_sign_get_pin_cache(AgentSign *s);
/* The worker threads the requests use, also for Verify. */
AgentWorker *agent_sign_get_worker(AgentSign *s);
/* The watch of lock and sleep (borrowed; NULL before freeing it). Without a ready watch nothing is kept. */
void agent_sign_set_session_watch(AgentSign *s, SessionWatch *w);
