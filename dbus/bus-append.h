/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The one way kyso puts a string into a D-Bus message. libdbus aborts the whole process on a string that is
 * not UTF-8, and file names, token labels and certificate fields need not be: such a string is sent as its
 * escaped copy (utf8_escape(): "\xe1" for a byte, "\\" for a backslash), valid text as it is. */

#include <dbus/dbus.h>

/* Appends s (NULL: "") as a string. 0 or -ENOMEM. */
int bus_append_string(DBusMessageIter *it, const char *s);

/* Appends each string of the NULL-terminated list as an argument of m. 0 or -ENOMEM. */
int bus_message_append_strings(DBusMessage *m, ...) __attribute__((sentinel));

/* An error reply to call (NULL on OOM); message NULL: none. */
DBusMessage *bus_message_new_error(DBusMessage *call, const char *name, const char *message);
