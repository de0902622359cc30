/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The Verify method's bus glue (org.kyso.Agent1.xml): reads the two fds, runs a VerifyJob (agent-verify.h)
 * on the agent's worker, and replies with one a{sv} per signature once it is done. */

#include <dbus/dbus.h>

#include "agent-config.h"
#include "agent-worker.h"

/* Returns the error reply, or NULL: the reply is sent when the job is done. */
DBusMessage *
agent_verify_method(AgentWorker *worker, const AgentConfig *config, DBusConnection *c, DBusMessage *m);
