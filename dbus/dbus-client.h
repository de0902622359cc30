/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The client side of org.kyso.Agent1 for kysoctl: one blocking call on the session bus (activating the
 * agent if needed), with the failure told apart: no bus, no agent, or an error reply from the agent. */

#include <dbus/dbus.h>

#define KYSO_AGENT_CALL_TIMEOUT_MS 30000 /* covers D-Bus activation and a slow first token scan */

typedef struct KysoCallError {
        char *name;    /* D-Bus error name of an error reply, or NULL */
        char *message; /* its message, or a description of the local failure */
} KysoCallError;

void kyso_call_error_done(KysoCallError *e);

/* Calls org.kyso.Agent1.method without arguments. Returns 0 and the reply, or:
 *   -ENOTCONN     no session bus (DBUS_SESSION_BUS_ADDRESS unset or dead)
 *   -ESRCH        the agent is not running and could not be activated
 *   -ETIMEDOUT    no answer in time
 *   -EREMOTEIO    the agent answered with an error (error->name, error->message set) */
int kyso_agent_call(const char *method, DBusMessage **ret_reply, KysoCallError *error);

/* kyso_agent_call() of a method whose only argument is the options of kyso_append_locale_options()
 * (GetCertificates): the agent answers in this process's language. */
int kyso_agent_call_localized(const char *method, DBusMessage **ret_reply, KysoCallError *error);

/* Appends the options (a{sv}) of the methods that answer in the caller's language: locale, this process's
 * LC_MESSAGES (as setlocale(LC_ALL, "") set it from LC_ALL, LC_MESSAGES, LANG). 0 or -ENOMEM. */
int kyso_append_locale_options(DBusMessage *m);
