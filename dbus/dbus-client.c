/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <locale.h>

#include "dbus-client.h"
#include "dbus-dict.h"
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

int kyso_append_locale_options(DBusMessage *m) {
        DBusMessageIter it, dict;

        dbus_message_iter_init_append(m, &it);
        if (dbus_dict_open(&it, &dict) < 0)
                return -ENOMEM;
        if (dbus_dict_append_string(&dict, "locale", setlocale(LC_MESSAGES, NULL)) < 0) {
                dbus_dict_abandon(&it, &dict);
                return -ENOMEM;
        }
        return dbus_dict_close(&it, &dict);
}

static int agent_call(const char *method, bool localized, DBusMessage **ret_reply, KysoCallError *error) {
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
        if (!m || (localized && kyso_append_locale_options(m) < 0)) {
                if (m)
                        dbus_message_unref(m);
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

int kyso_agent_call(const char *method, DBusMessage **ret_reply, KysoCallError *error) {
        return agent_call(method, false, ret_reply, error);
}

int kyso_agent_call_localized(const char *method, DBusMessage **ret_reply, KysoCallError *error) {
        return agent_call(method, true, ret_reply, error);
}
