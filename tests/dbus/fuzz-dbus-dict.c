/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl turns whatever the bus hands it into JSON (dbus_iter_to_json): arbitrary bytes are demarshalled as
 * a D-Bus message (libdbus validates them) and every argument is converted; nothing may crash or leak. */
#include <dbus/dbus.h>
#include <stdint.h>

#include "dbus/dbus-dict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DBusMessage *m;
        DBusMessageIter it;

        if (size > 1024 * 1024)
                return 0;
        m = dbus_message_demarshal((const char *) data, (int) size, NULL);
        if (!m)
                return 0;
        if (dbus_message_iter_init(m, &it))
                do {
                        json_object *j = NULL;
                        if (dbus_iter_to_json(&it, &j) == 0)
                                json_object_put(j);
                } while (dbus_message_iter_next(&it));
        dbus_message_unref(m);
        return 0;
}
