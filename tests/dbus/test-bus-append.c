/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "dbus/bus-append.h"
#include "dbus/dbus-dict.h"
#include "dbus/dbus-error-names.h"
#include "error-reply-test.h"

/* libdbus aborts the process on a string that is not UTF-8: none of these may reach it as it is. */
static void test_append_string(void **state) {
        DBusMessage *m = dbus_message_new_signal("/org/kyso/Agent1", "org.kyso.Request1", "Progress");
        DBusMessageIter it;
        const char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        assert_non_null(m);
        dbus_message_iter_init_append(m, &it);
        assert_int_equal(bus_append_string(&it, "b\xe1o-c\xe1o.txt"), 0);
        assert_int_equal(bus_append_string(&it, "Báo cáo \\ 1.txt"), 0);
        assert_int_equal(bus_append_string(&it, NULL), 0);
        assert_true(dbus_message_get_args(
                m, NULL, DBUS_TYPE_STRING, &a, DBUS_TYPE_STRING, &b, DBUS_TYPE_STRING, &c,
                DBUS_TYPE_INVALID));
        assert_string_equal(a, "b\\xe1o-c\\xe1o.txt");
        assert_string_equal(b, "Báo cáo \\ 1.txt"); /* valid text goes as it is, backslash and all */
        assert_string_equal(c, "");
        dbus_message_unref(m);

        m = dbus_message_new_signal("/org/kyso/Agent1", "org.kyso.Agent1", "TokenRemoved");
        assert_non_null(m);
        assert_int_equal(bus_message_append_strings(m, "t\xe2-\\", "ok", NULL), 0);
        assert_true(dbus_message_get_args(
                m, NULL, DBUS_TYPE_STRING, &d, DBUS_TYPE_STRING, &a, DBUS_TYPE_INVALID));
        assert_string_equal(d, "t\\xe2-\\\\");
        assert_string_equal(a, "ok");
        dbus_message_unref(m);
}

static void test_error_message(void **state) {
        DBusMessage *call = error_reply_test_call("Sign", 3);

        assert_reply_message(
                kyso_bus_error_reply(call, KYSO_BUS_ERROR_BAD_DOCUMENT, "Cannot read b\xe1o.txt."),
                "Cannot read b\\xe1o.txt.");
        assert_reply_message(
                bus_message_new_error(call, DBUS_ERROR_UNKNOWN_METHOD, "no \xff here"), "no \\xff here");
        dbus_message_unref(call);
}

static DBusMessage *new_dict_message(void) {
        DBusMessage *m = dbus_message_new_signal("/org/kyso/Agent1", "org.kyso.Request1", "Response");
        DBusMessageIter it, dict;

        assert_non_null(m);
        dbus_message_iter_init_append(m, &it);
        assert_int_equal(dbus_dict_open(&it, &dict), 0);
        assert_int_equal(dbus_dict_append_string(&dict, "status", "done"), 0);
        assert_int_equal(dbus_dict_append_bool(&dict, "has-private-key", true), 0);
        assert_int_equal(dbus_dict_append_int32(&dict, "tries", -3), 0);
        assert_int_equal(dbus_dict_append_uint32(&dict, "count", 7), 0);
        assert_int_equal(dbus_dict_append_int64(&dict, "time", INT64_C(1) << 40), 0);
        assert_int_equal(dbus_dict_close(&it, &dict), 0);
        return m;
}

/* dbus_dict_next() walks the entries in order and gives each variant's content. */
static void test_dict_next(void **state) {
        DBusMessage *m = new_dict_message();
        DBusMessageIter it, dict, value;
        const char *key, *s;
        dbus_bool_t b;
        dbus_int32_t i;
        dbus_uint32_t u;
        dbus_int64_t x;

        assert_true(dbus_message_iter_init(m, &it));
        dbus_message_iter_recurse(&it, &dict);
        assert_int_equal(dbus_dict_next(&dict, &key, &value), 1);
        assert_string_equal(key, "status");
        assert_int_equal(dbus_message_iter_get_arg_type(&value), DBUS_TYPE_STRING);
        dbus_message_iter_get_basic(&value, &s);
        assert_string_equal(s, "done");
        assert_int_equal(dbus_dict_next(&dict, &key, &value), 1);
        assert_string_equal(key, "has-private-key");
        dbus_message_iter_get_basic(&value, &b);
        assert_true(b);
        assert_int_equal(dbus_dict_next(&dict, &key, &value), 1);
        assert_string_equal(key, "tries");
        dbus_message_iter_get_basic(&value, &i);
        assert_int_equal(i, -3);
        assert_int_equal(dbus_dict_next(&dict, &key, &value), 1);
        assert_string_equal(key, "count");
        dbus_message_iter_get_basic(&value, &u);
        assert_int_equal(u, 7);
        assert_int_equal(dbus_dict_next(&dict, &key, &value), 1);
        assert_string_equal(key, "time");
        assert_int_equal(dbus_message_iter_get_arg_type(&value), DBUS_TYPE_INT64);
        dbus_message_iter_get_basic(&value, &x);
        assert_true(x == INT64_C(1) << 40);
        assert_int_equal(dbus_dict_next(&dict, &key, &value), 0);
        assert_int_equal(dbus_dict_next(&dict, &key, &value), 0);
        dbus_message_unref(m);
}

/* The same dictionary as JSON, as kysoctl --json shows it. */
static void test_dict_to_json(void **state) {
        DBusMessage *m = new_dict_message();
        DBusMessageIter it;
        json_object *j = NULL;

        assert_true(dbus_message_iter_init(m, &it));
        assert_int_equal(dbus_iter_to_json(&it, &j), 0);
        assert_string_equal(
                json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                "{\"status\":\"done\",\"has-private-key\":true,\"tries\":-3,\"count\":7,\"time\":1099511627776}");
        json_object_put(j);
        dbus_message_unref(m);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_append_string),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_dict_next),
        cmocka_unit_test(test_dict_to_json),
});
