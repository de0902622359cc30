/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* DBusEvent: runs a libdbus-1 connection on an sd-event loop. One I/O source per fd carrying the union of
 * the enabled DBusWatch flags, libdbus timeouts as re-armed timers, dispatching from a defer source. */

#include <dbus/dbus.h>
#include <systemd/sd-event.h>

/* Attaches the connection to the loop. The bridge belongs to the connection (a data slot); it is freed by
 * dbus_event_detach() or when the connection is finalised. Detach before the loop is freed. */
int dbus_event_attach(DBusConnection *c, sd_event *e);
void dbus_event_detach(DBusConnection *c);

/* Detaches, closes and unrefs a private connection (kyso only uses private ones: shared connections must not
 * be closed); for _cleanup_. Accepts NULL. */
void dbus_connection_close_unrefp(DBusConnection **c);

/* Opens a private connection to the bus at address (NULL: the session bus), registers it with the bus
 * (Hello) and attaches it to the loop. */
int dbus_event_open_bus(sd_event *e, const char *address, DBusConnection **ret);
