/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* BusMethod: one row of an object's method table (interface, name, signature, handler), the dispatch of a
 * call through such a table, and the readers of the arguments kyso's methods take (fds, fd arrays). */

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>

/* Returns the reply to send, or NULL when there is none to send (the handler sent it itself, the call
 * wants no reply, or memory ran out). */
typedef DBusMessage *(*BusMethodHandler)(DBusConnection *c, DBusMessage *m, void *userdata);

typedef struct BusMethod {
        const char *interface;
        const char *member;
        const char *signature;
        BusMethodHandler handler;
} BusMethod;

/* The row for the call m: its member, and its interface (a call without an interface matches by member
 * alone, as the D-Bus specification allows). NULL when the table has none. */
const BusMethod *bus_method_find(const BusMethod *table, size_t n, DBusMessage *m);

/* NULL when m's arguments have the method's signature; else the error reply: org.kyso.Error.InvalidArgs for
 * kyso's own interfaces, org.freedesktop.DBus.Error.InvalidArgs for the standard ones (as libdbus and every
 * other service answer them). *ret_oom is set when the reply could not be made. */
DBusMessage *bus_method_check_signature(const BusMethod *method, DBusMessage *m, bool *ret_oom);

/* Runs the method of the table that m calls, after checking its signature, and sends the reply.
 * NOT_YET_HANDLED when the table has no such method (libdbus then answers UnknownMethod). */
DBusHandlerResult
bus_method_dispatch(const BusMethod *table, size_t n, DBusConnection *c, DBusMessage *m, void *userdata);

/* Sends reply (if any) and drops it; a NULL reply to a call that wants one is logged as out of memory. */
void bus_send_reply(DBusConnection *c, DBusMessage *m, DBusMessage *reply);

/* Appends the fd at it (type h) to *fds (reallocated); the caller owns the fds and closes them. */
int bus_read_fd(DBusMessageIter *it, int **fds, size_t *n);
/* Appends every fd of the array at it (type ah) to *fds, the same way. */
int bus_read_fd_array(DBusMessageIter *it, int **fds, size_t *n);

/* The unique name (":1.42") of a connection that left the bus, when m is the bus's NameOwnerChanged signal
 * saying so; NULL for any other message (also one that only claims to come from the bus). */
const char *bus_read_peer_left(DBusMessage *m);

/* Calls left(name, userdata) for each connection that leaves the bus (bus_read_peer_left()): a filter on
 * the connection and the bus's NameOwnerChanged match, for the objects that keep state per client. */
typedef void (*BusPeerLeftHandler)(const char *name, void *userdata);
typedef struct BusPeerLeftWatch BusPeerLeftWatch;
int bus_peer_left_watch_new(
        DBusConnection *bus, BusPeerLeftHandler left, void *userdata, BusPeerLeftWatch **ret);
BusPeerLeftWatch *bus_peer_left_watch_free(BusPeerLeftWatch *w);
