/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <fcntl.h>
#include <unistd.h>

#include "dbus/bus-method.h"
#include "dbus/dbus-error-names.h"
#include "macro.h"

static DBusMessage *handler(DBusConnection *c, DBusMessage *m, void *userdata) {
        (void) c;
        (void) m;
        (void) userdata;
        return NULL;
}

static const BusMethod table[] = {
        { DBUS_INTERFACE_INTROSPECTABLE, "Introspect", "", handler },
        { "org.kyso.Request1", "AddDocuments", "ahahahb", handler },
        { "org.kyso.Request1", "Cancel", "", handler },
};

static DBusMessage *call(const char *iface, const char *member) {
        DBusMessage *m = dbus_message_new_method_call("org.kyso.Agent1", "/org/kyso/Agent1", iface, member);
        assert_non_null(m);
        dbus_message_set_serial(m, 9);
        return m;
}

static void test_find(void **state) {
        DBusMessage *m = call("org.kyso.Request1", "Cancel");
        assert_ptr_equal(bus_method_find(table, ELEMENTSOF(table), m), &table[2]);
        dbus_message_unref(m);
        /* No interface: by member alone. */
        m = call(NULL, "Cancel");
        assert_ptr_equal(bus_method_find(table, ELEMENTSOF(table), m), &table[2]);
        dbus_message_unref(m);
        /* Another interface's method of the same name is not ours. */
        m = call("org.kyso.Agent1", "Cancel");
        assert_null(bus_method_find(table, ELEMENTSOF(table), m));
        dbus_message_unref(m);
        m = dbus_message_new_signal("/org/kyso/Agent1", "org.kyso.Request1", "Cancel");
        assert_null(bus_method_find(table, ELEMENTSOF(table), m));
        dbus_message_unref(m);
}

/* kyso's own interfaces answer org.kyso.Error.InvalidArgs, the standard ones the freedesktop name. */
static void test_check_signature(void **state) {
        const char *wrong = "x";
        DBusMessage *m, *reply;
        bool oom = true;

        m = call("org.kyso.Request1", "Cancel");
        assert_null(bus_method_check_signature(&table[2], m, &oom));
        assert_false(oom);
        assert_true(dbus_message_append_args(m, DBUS_TYPE_STRING, &wrong, DBUS_TYPE_INVALID));
        reply = bus_method_check_signature(&table[2], m, &oom);
        assert_non_null(reply);
        assert_string_equal(dbus_message_get_error_name(reply), "org.kyso.Error.InvalidArgs");
        dbus_message_unref(reply);
        dbus_message_unref(m);

        m = call(DBUS_INTERFACE_INTROSPECTABLE, "Introspect");
        assert_true(dbus_message_append_args(m, DBUS_TYPE_STRING, &wrong, DBUS_TYPE_INVALID));
        reply = bus_method_check_signature(&table[0], m, &oom);
        assert_non_null(reply);
        assert_string_equal(dbus_message_get_error_name(reply), DBUS_ERROR_INVALID_ARGS);
        dbus_message_unref(reply);
        dbus_message_unref(m);
}

static void test_read_fds(void **state) {
        DBusMessage *m = call("org.kyso.Request1", "AddDocuments");
        DBusMessageIter it, arr;
        _cleanup_free_ int *fds = NULL;
        size_t n = 0;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        dbus_message_iter_init_append(m, &it);
        assert_true(dbus_message_iter_append_basic(&it, DBUS_TYPE_UNIX_FD, &fd));
        assert_true(dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "h", &arr));
        for (int i = 0; i < 3; i++)
                assert_true(dbus_message_iter_append_basic(&arr, DBUS_TYPE_UNIX_FD, &fd));
        assert_true(dbus_message_iter_close_container(&it, &arr));
        close(fd);

        assert_true(dbus_message_iter_init(m, &it));
        assert_int_equal(bus_read_fd(&it, &fds, &n), 0);
        assert_true(dbus_message_iter_next(&it));
        assert_int_equal(bus_read_fd_array(&it, &fds, &n), 0);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++) {
                assert_true(fds[i] >= 0);
                assert_int_equal(fcntl(fds[i], F_GETFL) & O_ACCMODE, O_RDONLY);
                close(fds[i]);
        }
        dbus_message_unref(m);
}

static DBusMessage *name_owner_changed(const char *sender, const char *name, const char *new_owner) {
        DBusMessage *m = dbus_message_new_signal(DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS, "NameOwnerChanged");
        const char *old = name;
        assert_non_null(m);
        assert_true(dbus_message_set_sender(m, sender));
        assert_true(dbus_message_append_args(
                m, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old, DBUS_TYPE_STRING, &new_owner,
                DBUS_TYPE_INVALID));
        return m;
}

static void test_peer_left(void **state) {
        DBusMessage *m = name_owner_changed(DBUS_SERVICE_DBUS, ":1.42", "");
        assert_string_equal(bus_read_peer_left(m), ":1.42");
        dbus_message_unref(m);
        /* A peer that claims a departure is not the bus: it must not cancel other clients' requests. */
        m = name_owner_changed(":1.7", ":1.42", "");
        assert_null(bus_read_peer_left(m));
        dbus_message_unref(m);
        m = name_owner_changed(DBUS_SERVICE_DBUS, ":1.42", ":1.43");
        assert_null(bus_read_peer_left(m));
        dbus_message_unref(m);
        m = name_owner_changed(DBUS_SERVICE_DBUS, "org.example.App", "");
        assert_null(bus_read_peer_left(m));
        dbus_message_unref(m);
}

static void test_reply_to_errno(void **state) {
        assert_int_equal(kyso_bus_error_reply_to_errno("org.kyso.Error.Cancelled"), -ECANCELED);
        assert_int_equal(kyso_bus_error_reply_to_errno(DBUS_ERROR_NO_REPLY), -ENOTCONN);
        assert_int_equal(kyso_bus_error_reply_to_errno(DBUS_ERROR_NAME_HAS_NO_OWNER), -ENOTCONN);
        assert_int_equal(kyso_bus_error_reply_to_errno(DBUS_ERROR_UNKNOWN_METHOD), -EPROTO);
        assert_int_equal(kyso_bus_error_reply_to_errno(DBUS_ERROR_INVALID_ARGS), -EPROTO);
        assert_int_equal(kyso_bus_error_reply_to_errno("org.example.Error.Whatever"), -EIO);
        assert_int_equal(kyso_bus_error_reply_to_errno(NULL), -EIO);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_check_signature),
        cmocka_unit_test(test_read_fds),
        cmocka_unit_test(test_peer_left),
        cmocka_unit_test(test_reply_to_errno),
});
