/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "dbus/bus-append.h"
#include "dbus/dbus-error-names.h"

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
        DBusMessage *call = dbus_message_new_method_call(
                "org.kyso.Agent1", "/org/kyso/Agent1", "org.kyso.Agent1", "Sign");
        DBusMessage *reply;
        const char *msg = NULL;

        assert_non_null(call);
        dbus_message_set_serial(call, 3);
        reply = kyso_bus_error_reply(call, KYSO_BUS_ERROR_BAD_DOCUMENT, "Cannot read b\xe1o.txt.");
        assert_non_null(reply);
        assert_true(dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &msg, DBUS_TYPE_INVALID));
        assert_string_equal(msg, "Cannot read b\\xe1o.txt.");
        dbus_message_unref(reply);
        reply = bus_message_new_error(call, DBUS_ERROR_UNKNOWN_METHOD, "no \xff here");
        assert_non_null(reply);
        assert_true(dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &msg, DBUS_TYPE_INVALID));
        assert_string_equal(msg, "no \\xff here");
        dbus_message_unref(reply);
        dbus_message_unref(call);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_append_string),
                cmocka_unit_test(test_error_message),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
