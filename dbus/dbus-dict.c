/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "dbus-dict.h"
#include "bus-append.h"
#include "json-util.h"
#include "macro.h"

int dbus_dict_open(DBusMessageIter *parent, DBusMessageIter *ret_dict) {
        return dbus_message_iter_open_container(parent, DBUS_TYPE_ARRAY, "{sv}", ret_dict) ? 0 : -ENOMEM;
}

int dbus_dict_close(DBusMessageIter *parent, DBusMessageIter *dict) {
        return dbus_message_iter_close_container(parent, dict) ? 0 : -ENOMEM;
}

void dbus_dict_abandon(DBusMessageIter *parent, DBusMessageIter *dict) {
        dbus_message_iter_abandon_container_if_open(parent, dict);
}

int dbus_dict_open_entry(
        DBusMessageIter *dict, const char *key, const char *sig, DBusMessageIter *ret_entry,
        DBusMessageIter *ret_variant) {
        if (!dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, ret_entry))
                return -ENOMEM;
        if (bus_append_string(ret_entry, key) < 0 ||
            !dbus_message_iter_open_container(ret_entry, DBUS_TYPE_VARIANT, sig, ret_variant)) {
                dbus_message_iter_abandon_container(dict, ret_entry);
                return -ENOMEM;
        }
        return 0;
}

int dbus_dict_close_entry(DBusMessageIter *dict, DBusMessageIter *entry, DBusMessageIter *variant, bool ok) {
        if (!ok || !dbus_message_iter_close_container(entry, variant)) {
                dbus_message_iter_abandon_container_if_open(entry, variant);
                dbus_message_iter_abandon_container(dict, entry);
                return -ENOMEM;
        }
        return dbus_message_iter_close_container(dict, entry) ? 0 : -ENOMEM;
}

static int
append_entry(DBusMessageIter *dict, const char *key, int type, const char *sig, const void *value) {
        DBusMessageIter entry, variant;

        if (dbus_dict_open_entry(dict, key, sig, &entry, &variant) < 0)
                return -ENOMEM;
        return dbus_dict_close_entry(
                dict, &entry, &variant, dbus_message_iter_append_basic(&variant, type, value));
}

int dbus_dict_append_string(DBusMessageIter *dict, const char *key, const char *value) {
        DBusMessageIter entry, variant;

        /* Token labels come from vendor modules and document names from file names: not always UTF-8. */
        if (dbus_dict_open_entry(dict, key, "s", &entry, &variant) < 0)
                return -ENOMEM;
        return dbus_dict_close_entry(dict, &entry, &variant, bus_append_string(&variant, value) >= 0);
}

/* The typed appenders differ only in the C type, the D-Bus type and its signature. */
#define DEFINE_DICT_APPEND(name, ctype, dbus_ctype, dbus_type, sig)                        \
        int dbus_dict_append_##name(DBusMessageIter *dict, const char *key, ctype value) { \
                dbus_ctype v = value;                                                      \
                return append_entry(dict, key, dbus_type, sig, &v);                        \
        }

DEFINE_DICT_APPEND(byte, uint8_t, unsigned char, DBUS_TYPE_BYTE, "y");
DEFINE_DICT_APPEND(bool, bool, dbus_bool_t, DBUS_TYPE_BOOLEAN, "b");
DEFINE_DICT_APPEND(int32, int32_t, dbus_int32_t, DBUS_TYPE_INT32, "i");
DEFINE_DICT_APPEND(uint32, uint32_t, dbus_uint32_t, DBUS_TYPE_UINT32, "u");
DEFINE_DICT_APPEND(int64, int64_t, dbus_int64_t, DBUS_TYPE_INT64, "x");

int dbus_dict_append_fd(DBusMessageIter *dict, const char *key, int fd) {
        return append_entry(dict, key, DBUS_TYPE_UNIX_FD, "h", &fd);
}

/* The entry at dict: its key, and ret_value at its value (a variant itself for a{sv}). */
static int dict_entry_read(DBusMessageIter *dict, const char **ret_key, DBusMessageIter *ret_value) {
        DBusMessageIter entry;

        dbus_message_iter_recurse(dict, &entry);
        if (dbus_message_iter_get_arg_type(&entry) != DBUS_TYPE_STRING)
                return -EBADMSG;
        dbus_message_iter_get_basic(&entry, ret_key);
        dbus_message_iter_next(&entry);
        *ret_value = entry;
        return 0;
}

int dbus_dict_next(DBusMessageIter *dict, const char **ret_key, DBusMessageIter *ret_value) {
        DBusMessageIter value;
        const char *key;
        int r;

        if (dbus_message_iter_get_arg_type(dict) != DBUS_TYPE_DICT_ENTRY)
                return 0;
        r = dict_entry_read(dict, &key, &value);
        if (r < 0)
                return r;
        if (dbus_message_iter_get_arg_type(&value) == DBUS_TYPE_VARIANT)
                dbus_message_iter_recurse(&value, ret_value);
        else
                *ret_value = value;
        dbus_message_iter_next(dict);
        *ret_key = key;
        return 1;
}

static int iter_to_json(DBusMessageIter *iter, unsigned depth, json_object **ret);

/* An array or a struct: a JSON array, or an object for a dictionary. */
static int container_to_json(DBusMessageIter *iter, unsigned depth, bool is_dict, json_object **ret) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        DBusMessageIter sub;
        int r;

        j = is_dict ? json_object_new_object() : json_object_new_array();
        if (!j)
                return -ENOMEM;
        for (dbus_message_iter_recurse(iter, &sub);
             dbus_message_iter_get_arg_type(&sub) != DBUS_TYPE_INVALID; dbus_message_iter_next(&sub)) {
                DBusMessageIter value = sub;
                const char *key = NULL;
                json_object *v = NULL;

                if (is_dict) {
                        r = dict_entry_read(&sub, &key, &value);
                        if (r < 0)
                                return r;
                }
                r = iter_to_json(&value, depth + 1, &v);
                if (r < 0)
                        return r;
                if (is_dict)
                        json_object_object_add(j, key, v);
                else
                        json_object_array_add(j, v);
        }
        *ret = TAKE_PTR(j);
        return 0;
}

static int iter_to_json(DBusMessageIter *iter, unsigned depth, json_object **ret) {
        int type = dbus_message_iter_get_arg_type(iter);
        DBusBasicValue v = {};
        json_object *j = NULL;

        if (depth > 32)
                return -EBADMSG;

        /* Not a UNIX_FD: reading one would duplicate the descriptor, which JSON has no use for. */
        if (dbus_type_is_basic(type) && type != DBUS_TYPE_UNIX_FD)
                dbus_message_iter_get_basic(iter, &v);

        switch (type) {
        case DBUS_TYPE_STRING:
        case DBUS_TYPE_OBJECT_PATH:
        case DBUS_TYPE_SIGNATURE:
                j = json_object_new_string(v.str);
                break;
        case DBUS_TYPE_BOOLEAN:
                j = json_object_new_boolean(v.bool_val);
                break;
        case DBUS_TYPE_BYTE:
                j = json_object_new_int64(v.byt);
                break;
        case DBUS_TYPE_INT16:
                j = json_object_new_int64(v.i16);
                break;
        case DBUS_TYPE_UINT16:
                j = json_object_new_int64(v.u16);
                break;
        case DBUS_TYPE_INT32:
                j = json_object_new_int64(v.i32);
                break;
        case DBUS_TYPE_UINT32:
                j = json_object_new_int64(v.u32);
                break;
        case DBUS_TYPE_INT64:
                j = json_object_new_int64(v.i64);
                break;
        case DBUS_TYPE_UINT64:
                j = json_object_new_uint64(v.u64);
                break;
        case DBUS_TYPE_DOUBLE:
                j = json_object_new_double(v.dbl);
                break;
        case DBUS_TYPE_VARIANT: {
                DBusMessageIter sub;
                dbus_message_iter_recurse(iter, &sub);
                return iter_to_json(&sub, depth + 1, ret);
        }
        case DBUS_TYPE_ARRAY:
                return container_to_json(
                        iter, depth, dbus_message_iter_get_element_type(iter) == DBUS_TYPE_DICT_ENTRY, ret);
        case DBUS_TYPE_STRUCT:
                return container_to_json(iter, depth, false, ret);
        default:
                *ret = NULL; /* JSON null */
                return 0;
        }
        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}

int dbus_iter_to_json(DBusMessageIter *iter, json_object **ret) {
        return iter_to_json(iter, 0, ret);
}
