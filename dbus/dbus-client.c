/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "dbus-client.h"
#include "macro.h"

#define AGENT_NAME "org.kyso.Agent1"
#define AGENT_PATH "/org/kyso/Agent1"

void kyso_call_error_done(KysoCallError *e) {
        if (!e)
                return;
        e->name = mfree(e->name);
        e->message = mfree(e->message);
}

static void set_error(KysoCallError *e, const char *name, const char *message) {
        if (!e)
                return;
        kyso_call_error_done(e);
        e->name = name ? strdup(name) : NULL;
        e->message = message ? strdup(message) : NULL;
}

int kyso_agent_call(const char *method, DBusMessage **ret_reply, KysoCallError *error) {
        DBusError e = DBUS_ERROR_INIT;
        DBusConnection *c;
        DBusMessage *m, *reply;
        int r = 0;

        c = dbus_bus_get_private(DBUS_BUS_SESSION, &e);
        if (!c) {
                set_error(error, e.name, e.message);
                dbus_error_free(&e);
                return -ENOTCONN;
        }
        dbus_connection_set_exit_on_disconnect(c, FALSE);

        m = dbus_message_new_method_call(AGENT_NAME, AGENT_PATH, AGENT_NAME, method);
        if (!m) {
                r = -ENOMEM;
                goto finish;
        }
        reply = dbus_connection_send_with_reply_and_block(c, m, KYSO_AGENT_CALL_TIMEOUT_MS, &e);
        dbus_message_unref(m);
        if (!reply) {
                set_error(error, e.name, e.message);
                if (dbus_error_has_name(&e, DBUS_ERROR_SERVICE_UNKNOWN) ||
                    dbus_error_has_name(&e, DBUS_ERROR_NAME_HAS_NO_OWNER) ||
                    startswith(strempty(e.name), "org.freedesktop.DBus.Error.Spawn."))
                        r = -ESRCH;
                else if (
                        dbus_error_has_name(&e, DBUS_ERROR_NO_REPLY) ||
                        dbus_error_has_name(&e, DBUS_ERROR_TIMEOUT))
                        r = -ETIMEDOUT;
                else if (
                        dbus_error_has_name(&e, DBUS_ERROR_DISCONNECTED) ||
                        dbus_error_has_name(&e, DBUS_ERROR_NO_SERVER))
                        r = -ENOTCONN;
                else
                        r = -EREMOTEIO;
                dbus_error_free(&e);
                goto finish;
        }
        *ret_reply = reply;
finish:
        dbus_connection_close(c);
        dbus_connection_unref(c);
        return r;
}
