/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The options (a{sv}) of org.kyso.Agent1's GetCertificates and Verify: the caller's locale, taken as Sign
 * takes its own, so that every text of their answer is in the language of whoever asked. */

#include <dbus/dbus.h>
#include <locale.h>

/* Reads the options at it (an a{sv}): "locale" (s), the caller's LC_MESSAGES, gives *ret_locale through
 * i18n_locale(), which is (locale_t) 0, the agent's own language, when kyso has no catalogue for it (or no
 * locale option came). Other keys are ignored, as Sign ignores keys it does not know. Returns 0, -ENOMEM, or
 * -EINVAL with *ret_msg (translated, for InvalidArgs) when locale is not a string. */
int agent_read_call_options(DBusMessageIter *it, locale_t *ret_locale, char **ret_msg);
