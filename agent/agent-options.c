/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent-options.h"
#include "dbus/dbus-dict.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"

int agent_read_call_options(DBusMessageIter *it, locale_t *ret_locale, char **ret_msg) {
        DBusMessageIter dict, value;
        locale_t locale = (locale_t) 0;
        const char *key;
        int r;

        dbus_message_iter_recurse(it, &dict);
        while ((r = dbus_dict_next(&dict, &key, &value)) > 0) {
                const char *name;
                char *sig;

                if (!streq(key, "locale")) {
                        log_debug("Ignoring unknown option '%s'.", key);
                        continue;
                }
                if (dbus_message_iter_get_arg_type(&value) != DBUS_TYPE_STRING) {
                        sig = dbus_message_iter_get_signature(&value);
                        r = asprintf(
                                ret_msg, _("The option '%s' has the wrong type '%s'."), key, strna(sig));
                        dbus_free(sig);
                        return r < 0 ? -ENOMEM : -EINVAL;
                }
                dbus_message_iter_get_basic(&value, &name);
                locale = i18n_locale(name);
        }
        if (r < 0)
                return r;
        *ret_locale = locale;
        return 0;
}
