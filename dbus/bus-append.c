/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>

#include "bus-append.h"
#include "macro.h"
#include "utf8.h"

int bus_append_string(DBusMessageIter *it, const char *s) {
        _cleanup_free_ char *escaped = NULL;
        const char *v = utf8_valid_or_escaped(s, &escaped);

        if (!v)
                return -ENOMEM;
        return dbus_message_iter_append_basic(it, DBUS_TYPE_STRING, &v) ? 0 : -ENOMEM;
}

int bus_message_append_strings(DBusMessage *m, ...) {
        DBusMessageIter it;
        const char *s;
        va_list ap;
        int r = 0;

        dbus_message_iter_init_append(m, &it);
        va_start(ap, m);
        while (r >= 0 && (s = va_arg(ap, const char *)))
                r = bus_append_string(&it, s);
        va_end(ap);
        return r;
}

DBusMessage *bus_message_new_error(DBusMessage *call, const char *name, const char *message) {
        _cleanup_free_ char *escaped = NULL;
        const char *m = message ? utf8_valid_or_escaped(message, &escaped) : NULL;

        if (message && !m)
                return NULL;
        return dbus_message_new_error(call, name, m);
}
