/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* DBusIntrospect: the Introspect replies of kysod's objects, built from the interface XML of dbus/ (the
 * contract, compiled in) plus the standard interfaces libdbus implements on every object. */

#include <dbus/dbus.h>

/* The interface files of dbus/, as they are installed (each a whole introspection document). */
extern const char kyso_agent1_interface_xml[];
extern const char kyso_request1_interface_xml[];

/* An introspection document that lists the <interface> elements of each of interface_docs (NULL-terminated;
 * documents as above), org.freedesktop.DBus.Introspectable and .Peer, and a <node name=…/> per entry of
 * children (NULL-terminated, or NULL). NULL on allocation failure, or when a document has no interface. */
char *dbus_introspect_document(const char *const *interface_docs, const char *const *children);

/* The method return of Introspect for call with that document; NULL on allocation failure. */
DBusMessage *
dbus_introspect_reply(DBusMessage *call, const char *const *interface_docs, const char *const *children);
