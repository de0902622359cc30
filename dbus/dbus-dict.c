/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "dbus-dict.h"
#include "bus-append.h"
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

int dbus_dict_append_bool(DBusMessageIter *dict, const char *key, bool value) {
        dbus_bool_t b = value;
        return append_entry(dict, key, DBUS_TYPE_BOOLEAN, "b", &b);
}

int dbus_dict_append_int32(DBusMessageIter *dict, const char *key, int32_t value) {
        dbus_int32_t v = value;
        return append_entry(dict, key, DBUS_TYPE_INT32, "i", &v);
}

int dbus_dict_append_uint32(DBusMessageIter *dict, const char *key, uint32_t value) {
        dbus_uint32_t v = value;
        return append_entry(dict, key, DBUS_TYPE_UINT32, "u", &v);
}

int dbus_dict_append_int64(DBusMessageIter *dict, const char *key, int64_t value) {
        dbus_int64_t v = value;
        return append_entry(dict, key, DBUS_TYPE_INT64, "x", &v);
}

int dbus_dict_append_fd(DBusMessageIter *dict, const char *key, int fd) {
        return append_entry(dict, key, DBUS_TYPE_UNIX_FD, "h", &fd);
}

static int iter_to_json(DBusMessageIter *iter, unsigned depth, json_object **ret) {
        int type = dbus_message_iter_get_arg_type(iter);
        json_object *j = NULL;
        int r;

        if (depth > 32)
                return -EBADMSG;

        switch (type) {
        case DBUS_TYPE_STRING:
        case DBUS_TYPE_OBJECT_PATH:
        case DBUS_TYPE_SIGNATURE: {
                const char *s;
                dbus_message_iter_get_basic(iter, &s);
                j = json_object_new_string(s);
                break;
        }
        case DBUS_TYPE_BOOLEAN: {
                dbus_bool_t b;
                dbus_message_iter_get_basic(iter, &b);
                j = json_object_new_boolean(b);
                break;
        }
        case DBUS_TYPE_BYTE:
        case DBUS_TYPE_INT16:
        case DBUS_TYPE_UINT16:
        case DBUS_TYPE_INT32:
        case DBUS_TYPE_UINT32:
        case DBUS_TYPE_INT64: {
                DBusBasicValue v;
                int64_t x = 0;
                dbus_message_iter_get_basic(iter, &v);
                switch (type) {
                case DBUS_TYPE_BYTE:
                        x = v.byt;
                        break;
                case DBUS_TYPE_INT16:
                        x = v.i16;
                        break;
                case DBUS_TYPE_UINT16:
                        x = v.u16;
                        break;
                case DBUS_TYPE_INT32:
                        x = v.i32;
                        break;
                case DBUS_TYPE_UINT32:
                        x = v.u32;
                        break;
                default:
                        x = v.i64;
                }
                j = json_object_new_int64(x);
                break;
        }
        case DBUS_TYPE_UINT64: {
                dbus_uint64_t u;
                dbus_message_iter_get_basic(iter, &u);
                j = json_object_new_uint64(u);
                break;
        }
        case DBUS_TYPE_DOUBLE: {
                double d;
                dbus_message_iter_get_basic(iter, &d);
                j = json_object_new_double(d);
                break;
        }
        case DBUS_TYPE_VARIANT: {
                DBusMessageIter sub;
                dbus_message_iter_recurse(iter, &sub);
                return iter_to_json(&sub, depth + 1, ret);
        }
        case DBUS_TYPE_ARRAY: {
                DBusMessageIter sub;
                bool is_dict = dbus_message_iter_get_element_type(iter) == DBUS_TYPE_DICT_ENTRY;

                j = is_dict ? json_object_new_object() : json_object_new_array();
                if (!j)
                        return -ENOMEM;
                dbus_message_iter_recurse(iter, &sub);
                while (dbus_message_iter_get_arg_type(&sub) != DBUS_TYPE_INVALID) {
                        json_object *v = NULL;
                        if (is_dict) {
                                DBusMessageIter entry;
                                const char *key;
                                dbus_message_iter_recurse(&sub, &entry);
                                if (dbus_message_iter_get_arg_type(&entry) != DBUS_TYPE_STRING) {
                                        json_object_put(j);
                                        return -EBADMSG;
                                }
                                dbus_message_iter_get_basic(&entry, &key);
                                dbus_message_iter_next(&entry);
                                r = iter_to_json(&entry, depth + 1, &v);
                                if (r < 0) {
                                        json_object_put(j);
                                        return r;
                                }
                                json_object_object_add(j, key, v);
                        } else {
                                r = iter_to_json(&sub, depth + 1, &v);
                                if (r < 0) {
                                        json_object_put(j);
                                        return r;
                                }
                                json_object_array_add(j, v);
                        }
                        dbus_message_iter_next(&sub);
                }
                *ret = j;
                return 0;
        }
        case DBUS_TYPE_STRUCT: {
                DBusMessageIter sub;
                j = json_object_new_array();
                if (!j)
                        return -ENOMEM;
                dbus_message_iter_recurse(iter, &sub);
                while (dbus_message_iter_get_arg_type(&sub) != DBUS_TYPE_INVALID) {
                        json_object *v = NULL;
                        r = iter_to_json(&sub, depth + 1, &v);
                        if (r < 0) {
                                json_object_put(j);
                                return r;
                        }
                        json_object_array_add(j, v);
                        dbus_message_iter_next(&sub);
                }
                *ret = j;
                return 0;
        }
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
