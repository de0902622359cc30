/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Helpers to write a{sv} dictionaries into D-Bus messages (replies and signals of org.kyso.Agent1), and to
 * read them back as JSON (the kysoctl side). Writers return 0 or -ENOMEM. */

#include <dbus/dbus.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

int dbus_dict_open(DBusMessageIter *parent, DBusMessageIter *ret_dict);
int dbus_dict_close(DBusMessageIter *parent, DBusMessageIter *dict);
/* An entry whose value is a variant of signature sig, written by the caller between the two calls; on
 * failure nothing is left open. close with ok false abandons the entry. */
int dbus_dict_open_entry(
        DBusMessageIter *dict, const char *key, const char *sig, DBusMessageIter *ret_entry,
        DBusMessageIter *ret_variant);
int dbus_dict_close_entry(DBusMessageIter *dict, DBusMessageIter *entry, DBusMessageIter *variant, bool ok);
/* Abandons a half-written dictionary (after a failure). */
void dbus_dict_abandon(DBusMessageIter *parent, DBusMessageIter *dict);

/* value NULL: ""; text that is not UTF-8 is sent escaped (bus_append_string()). */
int dbus_dict_append_string(DBusMessageIter *dict, const char *key, const char *value);
int dbus_dict_append_byte(DBusMessageIter *dict, const char *key, uint8_t value);
int dbus_dict_append_bool(DBusMessageIter *dict, const char *key, bool value);
int dbus_dict_append_int32(DBusMessageIter *dict, const char *key, int32_t value);
int dbus_dict_append_uint32(DBusMessageIter *dict, const char *key, uint32_t value);
int dbus_dict_append_int64(DBusMessageIter *dict, const char *key, int64_t value);
/* The fd is duplicated into the message: the caller keeps its own. */
int dbus_dict_append_fd(DBusMessageIter *dict, const char *key, int fd);

/* Reads the entry at dict (an iterator inside an a{sv} or a{s*}) and moves dict on to the next: *ret_key is
 * its key (valid as long as the message) and ret_value iterates its value, a variant's content for a{sv}. 1
 * for an entry, 0 at the end, -EBADMSG when the key is not a string. For example: while ((r =
 * dbus_dict_next(&dict, &key, &value)) > 0) ... */
int dbus_dict_next(DBusMessageIter *dict, const char **ret_key, DBusMessageIter *ret_value);

/* Reads any D-Bus value at iter into JSON: strings, integers, booleans, doubles, arrays, a{sv}/a{s*} as
 * objects, variants as their content. Unknown types (fds) become null. -EBADMSG on nesting deeper than 32.
 */
int dbus_iter_to_json(DBusMessageIter *iter, json_object **ret);
