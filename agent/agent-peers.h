/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PeerCache: the uid and process id of each bus peer that calls the agent, asked from the bus once per
 * unique name (org.freedesktop.DBus.GetConnectionCredentials, asynchronously) and forgotten when the peer
 * leaves. */

#include <dbus/dbus.h>
#include <sys/types.h>

typedef struct PeerCache PeerCache;

/* Called once per checked message, in the order the messages of one sender arrived. error is 0 and uid set
 * when the bus answered, else a negative errno (the caller must then refuse). */
typedef void (*PeerCallback)(DBusConnection *c, DBusMessage *m, int error, uid_t uid, void *userdata);

int peer_cache_new(DBusConnection *c, PeerCallback cb, void *userdata, PeerCache **ret);
PeerCache *peer_cache_free(PeerCache *pc);

/* Runs the callback for m now (uid cached) or once the bus has answered (m is kept referenced). */
int peer_cache_check(PeerCache *pc, DBusMessage *m);

/* The process id the bus gave for this unique name, once a message of it was checked; 0 when unknown (the
 * bus did not say, or no message of that peer was checked yet). */
pid_t peer_cache_get_pid(PeerCache *pc, const char *name);

size_t peer_cache_size(PeerCache *pc); /* for tests */
