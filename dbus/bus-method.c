/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc-util.h"
#include "bus-append.h"
#include "bus-method.h"
#include "dbus-error-names.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"

const BusMethod *bus_method_find(const BusMethod *table, size_t n, DBusMessage *m) {
        const char *iface = dbus_message_get_interface(m), *member = dbus_message_get_member(m);

        if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_METHOD_CALL || !member)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (streq(member, table[i].member) && (!iface || streq(iface, table[i].interface)))
                        return &table[i];
        return NULL;
}

DBusMessage *bus_method_check_signature(const BusMethod *method, DBusMessage *m, bool *ret_oom) {
        const char *sig = dbus_message_get_signature(m);
        _cleanup_free_ char *text = NULL;
        DBusMessage *reply;

        *ret_oom = false;
        if (streq(sig, method->signature))
                return NULL;
        if (asprintf(
                    &text, _("%s takes arguments of signature '%s', got '%s'."), method->member,
                    method->signature, sig) < 0)
                text = NULL;
        reply = startswith(method->interface, "org.kyso.")
                        ? kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, text)
                        : bus_message_new_error(m, DBUS_ERROR_INVALID_ARGS, text);
        *ret_oom = !reply;
        return reply;
}

void bus_send_reply(DBusConnection *c, DBusMessage *m, DBusMessage *reply) {
        if (!reply) {
                if (!dbus_message_get_no_reply(m))
                        (void) log_oom();
                return;
        }
        if (!dbus_message_get_no_reply(m) && !dbus_connection_send(c, reply, NULL))
                (void) log_oom();
        dbus_message_unref(reply);
}

DBusHandlerResult
bus_method_dispatch(const BusMethod *table, size_t n, DBusConnection *c, DBusMessage *m, void *userdata) {
        const BusMethod *method = bus_method_find(table, n, m);
        DBusMessage *reply;
        bool oom;

        if (!method)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        reply = bus_method_check_signature(method, m, &oom);
        if (reply || oom) {
                bus_send_reply(c, m, reply);
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        reply = method->handler(c, m, userdata);
        if (reply)
                bus_send_reply(c, m, reply);
        return DBUS_HANDLER_RESULT_HANDLED;
}

int bus_read_fd(DBusMessageIter *it, int **fds, size_t *n) {
        int fd, *nv;

        dbus_message_iter_get_basic(it, &fd); /* libdbus gives us a duplicate: ours to close */
        nv = ARRAY_APPEND(*fds, *n);
        if (!nv) {
                safe_close(fd);
                return -ENOMEM;
        }
        *nv = fd;
        return 0;
}

int bus_read_fd_array(DBusMessageIter *it, int **fds, size_t *n) {
        DBusMessageIter arr;

        dbus_message_iter_recurse(it, &arr);
        for (; dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_UNIX_FD; dbus_message_iter_next(&arr)) {
                int k = bus_read_fd(&arr, fds, n);
                if (k < 0)
                        return k;
        }
        return 0;
}

const char *bus_read_peer_left(DBusMessage *m) {
        const char *name = NULL, *old = NULL, *new = NULL;

        if (!dbus_message_is_signal(m, DBUS_INTERFACE_DBUS, "NameOwnerChanged") ||
            !streq_ptr(dbus_message_get_sender(m), DBUS_SERVICE_DBUS) ||
            !dbus_message_get_args(
                    m, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old, DBUS_TYPE_STRING, &new,
                    DBUS_TYPE_INVALID) ||
            name[0] != ':' || !isempty(new))
                return NULL;
        return name;
}

#define PEER_LEFT_MATCH \
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''"

struct BusPeerLeftWatch {
        DBusConnection *bus;
        BusPeerLeftHandler left;
        void *userdata;
};

static DBusHandlerResult peer_left_filter(DBusConnection *c, DBusMessage *m, void *userdata) {
        BusPeerLeftWatch *w = userdata;
        const char *name = bus_read_peer_left(m);

        if (name)
                w->left(name, w->userdata);
        /* Others may watch the same signal. */
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

int bus_peer_left_watch_new(
        DBusConnection *bus, BusPeerLeftHandler left, void *userdata, BusPeerLeftWatch **ret) {
        BusPeerLeftWatch *w;

        if (!bus || !left || !ret)
                return -EINVAL;
        w = malloc(sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (BusPeerLeftWatch){ .bus = dbus_connection_ref(bus), .left = left, .userdata = userdata };
        if (!dbus_connection_add_filter(bus, peer_left_filter, w, NULL)) {
                dbus_connection_unref(w->bus);
                free(w);
                return -ENOMEM;
        }
        dbus_bus_add_match(bus, PEER_LEFT_MATCH, NULL); /* asynchronous: no error reply awaited */
        *ret = w;
        return 0;
}

BusPeerLeftWatch *bus_peer_left_watch_free(BusPeerLeftWatch *w) {
        if (!w)
                return NULL;
        dbus_connection_remove_filter(w->bus, peer_left_filter, w);
        if (dbus_connection_get_is_connected(w->bus))
                dbus_bus_remove_match(w->bus, PEER_LEFT_MATCH, NULL);
        dbus_connection_unref(w->bus);
        free(w);
        return NULL;
}
