/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent-peers.h"
#include "alloc-util.h"
#include "dbus/bus-append.h"
#include "dbus/bus-method.h"
#include "dbus/dbus-dict.h"
#include "macro.h"

/* Unique names are never reused on a bus, so a stale entry is only memory: entries go when the bus says
 * the peer left (NameOwnerChanged with an empty new owner), and the cache is bounded anyway. */
#define PEER_CACHE_MAX 512
#define PEER_QUERY_TIMEOUT_MS 10000

typedef struct Peer Peer;
struct Peer {
        PeerCache *cache;
        char *name;
        bool known;
        uid_t uid;
        pid_t pid; /* 0: the bus did not say */
        DBusPendingCall *pending;
        DBusMessage **queue; /* messages waiting for the answer */
        size_t n_queue;
        Peer *next;
};

struct PeerCache {
        DBusConnection *connection;
        PeerCallback callback;
        void *userdata;
        Peer *peers;
        size_t n_peers;
        BusPeerLeftWatch *left_watch;
};

static void peer_free(Peer *p) {
        if (!p)
                return;
        if (p->pending) {
                dbus_pending_call_cancel(p->pending);
                dbus_pending_call_unref(p->pending);
        }
        for (size_t i = 0; i < p->n_queue; i++)
                dbus_message_unref(p->queue[i]);
        free(p->queue);
        free(p->name);
        free(p);
}

static void peer_unlink(PeerCache *pc, Peer *p) {
        for (Peer **i = &pc->peers; *i; i = &(*i)->next)
                if (*i == p) {
                        *i = p->next;
                        pc->n_peers--;
                        return;
                }
}

static Peer *peer_find(PeerCache *pc, const char *name) {
        for (Peer *p = pc->peers; p; p = p->next)
                if (streq(p->name, name))
                        return p;
        return NULL;
}

static void peer_left(const char *name, void *userdata) {
        PeerCache *pc = userdata;
        Peer *p = peer_find(pc, name);

        /* A peer with a query in flight keeps its entry until the answer (an error, since it left). */
        if (p && !p->pending) {
                peer_unlink(pc, p);
                peer_free(p);
        }
}

int peer_cache_new(DBusConnection *c, PeerCallback cb, void *userdata, PeerCache **ret) {
        PeerCache *pc = calloc(1, sizeof *pc);
        int r;

        if (!pc)
                return -ENOMEM;
        *pc = (PeerCache){ .connection = dbus_connection_ref(c), .callback = cb, .userdata = userdata };
        r = bus_peer_left_watch_new(c, peer_left, pc, &pc->left_watch);
        if (r < 0) {
                peer_cache_free(pc);
                return r;
        }
        *ret = pc;
        return 0;
}

PeerCache *peer_cache_free(PeerCache *pc) {
        if (!pc)
                return NULL;
        while (pc->peers) {
                Peer *p = pc->peers;
                peer_unlink(pc, p);
                peer_free(p);
        }
        bus_peer_left_watch_free(pc->left_watch);
        dbus_connection_unref(pc->connection);
        free(pc);
        return NULL;
}

pid_t peer_cache_get_pid(PeerCache *pc, const char *name) {
        Peer *p = pc && name ? peer_find(pc, name) : NULL;
        return p && p->known ? p->pid : 0;
}

size_t peer_cache_size(PeerCache *pc) {
        return pc->n_peers;
}

static void peer_evict_one(PeerCache *pc) {
        Peer *victim = NULL;
        /* The oldest settled entry: new entries go to the front. */
        for (Peer *p = pc->peers; p; p = p->next)
                if (!p->pending && p->n_queue == 0)
                        victim = p;
        if (victim) {
                peer_unlink(pc, victim);
                peer_free(victim);
        }
}

/* GetConnectionCredentials answers a{sv}; UnixUserID (u) is what the check needs, ProcessID (u) is for the
 * prompt and the audit record. Returns 0 with the uid, or -EBADMSG. */
static int parse_credentials(DBusMessage *reply, uid_t *ret_uid, pid_t *ret_pid) {
        DBusMessageIter it, dict, variant;
        bool have_uid = false;
        const char *key;
        pid_t pid = 0;
        uid_t uid = 0;
        int r;

        if (!dbus_message_iter_init(reply, &it) || !streq(dbus_message_get_signature(reply), "a{sv}"))
                return -EBADMSG;
        dbus_message_iter_recurse(&it, &dict);
        while ((r = dbus_dict_next(&dict, &key, &variant)) > 0) {
                dbus_uint32_t u;

                if (dbus_message_iter_get_arg_type(&variant) != DBUS_TYPE_UINT32)
                        continue;
                dbus_message_iter_get_basic(&variant, &u);
                if (streq(key, "UnixUserID")) {
                        uid = (uid_t) u;
                        have_uid = true;
                } else if (streq(key, "ProcessID"))
                        pid = (pid_t) u;
        }
        if (r < 0 || !have_uid)
                return -EBADMSG;
        *ret_uid = uid;
        *ret_pid = pid > 0 ? pid : 0;
        return 0;
}

static void peer_reply(DBusPendingCall *call, void *userdata) {
        Peer *p = userdata;
        PeerCache *pc = p->cache;
        DBusMessage *reply = dbus_pending_call_steal_reply(call);
        uid_t uid = (uid_t) -1;
        pid_t pid = 0;
        int error = 0;
        DBusMessage **queue;
        size_t n;

        dbus_pending_call_unref(p->pending);
        p->pending = NULL;
        if (!reply || dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_METHOD_RETURN ||
            parse_credentials(reply, &uid, &pid) < 0)
                error = -ESRCH;
        if (reply)
                dbus_message_unref(reply);

        queue = TAKE_PTR(p->queue);
        n = p->n_queue;
        p->n_queue = 0;
        if (error == 0) {
                p->known = true;
                p->uid = uid;
                p->pid = pid;
        } else {
                /* Do not cache failures: the peer is gone or the bus is confused. */
                peer_unlink(pc, p);
                peer_free(p);
        }
        for (size_t i = 0; i < n; i++) {
                pc->callback(pc->connection, queue[i], error, uid, pc->userdata);
                dbus_message_unref(queue[i]);
        }
        free(queue);
}

int peer_cache_check(PeerCache *pc, DBusMessage *m) {
        const char *sender = dbus_message_get_sender(m);
        DBusMessage *q = NULL;
        DBusMessage **nq;
        Peer *p;

        if (!sender) {
                /* Only a peer-to-peer connection has no sender; the agent is always on a bus. */
                pc->callback(pc->connection, m, -ESRCH, (uid_t) -1, pc->userdata);
                return 0;
        }
        p = peer_find(pc, sender);
        if (p && p->known) {
                pc->callback(pc->connection, m, 0, p->uid, pc->userdata);
                return 0;
        }
        if (!p) {
                if (pc->n_peers >= PEER_CACHE_MAX)
                        peer_evict_one(pc);
                p = calloc(1, sizeof *p);
                if (!p)
                        return -ENOMEM;
                p->cache = pc;
                p->name = strdup(sender);
                if (!p->name) {
                        peer_free(p);
                        return -ENOMEM;
                }
                q = dbus_message_new_method_call(
                        DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS, "GetConnectionCredentials");
                if (!q || bus_message_append_strings(q, sender, NULL) < 0 ||
                    !dbus_connection_send_with_reply(
                            pc->connection, q, &p->pending, PEER_QUERY_TIMEOUT_MS) ||
                    !p->pending || !dbus_pending_call_set_notify(p->pending, peer_reply, p, NULL)) {
                        if (q)
                                dbus_message_unref(q);
                        peer_free(p);
                        return -ENOMEM;
                }
                dbus_message_unref(q);
                p->next = pc->peers;
                pc->peers = p;
                pc->n_peers++;
        }
        nq = ARRAY_APPEND(p->queue, p->n_queue);
        if (!nq)
                return -ENOMEM;
        *nq = dbus_message_ref(m);
        return 0;
}
