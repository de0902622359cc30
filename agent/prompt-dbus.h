/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* DbusPrompter: a Prompter served by an application over D-Bus: the org.kyso.Prompter1 object it registered
 * (dbus/org.kyso.Prompter1.xml), called asynchronously on the agent's bus connection and sd-event loop. */

#include <dbus/dbus.h>
#include <systemd/sd-event.h>

#include "prompt.h"

#define PROMPTER_INTERFACE "org.kyso.Prompter1"
#define DBUS_PROMPTER_DEFAULT_TIMEOUT_USEC (UINT64_C(60) * 1000000)

/* A prompter calling the object path of the bus peer name (a unique name). The prompter keeps references to
 * event and bus. Each prompt is one method call; a prompt still open after timeout_usec (0: the default)
 * fails with -ETIMEDOUT and the application gets Cancel, as it does when the prompt is cancelled or the
 * prompter freed while a call is open.
 *
 * Errors the handlers can see: -ETIMEDOUT (no answer in time), -ENOTCONN (the application left the bus, or
 * dbus_prompter_disconnect()), -EPROTO (an answer of the wrong signature or value, or the method is not
 * there), -EIO (another error reply). An error reply org.kyso.Error.Cancelled is PROMPT_REPLY_CANCELLED.
 * Starting a prompt fails with -EBUSY while another is open, -ENOTCONN once disconnected. */
int dbus_prompter_new(
        sd_event *event, DBusConnection *bus, const char *name, const char *path, uint64_t timeout_usec,
        Prompter **ret);

const char *dbus_prompter_get_name(Prompter *p);
const char *dbus_prompter_get_path(Prompter *p);

/* The application left or withdrew its prompter: the open prompt, if any, ends with -ENOTCONN (its handler
 * is called, before this returns) and no new prompt starts. Nothing is sent to the application. */
void dbus_prompter_disconnect(Prompter *p);
