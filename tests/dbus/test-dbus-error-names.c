/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "dbus/dbus-dict.h"
#include "dbus/dbus-error-names.h"
#include "error-reply-test.h"

static void test_names_roundtrip(void **state) {
        for (int i = 0; i < _KYSO_BUS_ERROR_MAX; i++) {
                const char *n = kyso_bus_error_to_name((KysoBusError) i);
                assert_non_null(n);
                assert_non_null(startswith(n, "org.kyso.Error."));
                assert_true(dbus_validate_error_name(n, NULL));
                assert_int_equal(kyso_bus_error_from_name(n), i);
                assert_true(strlen(kyso_bus_error_message((KysoBusError) i)) > 10);
        }
        assert_null(kyso_bus_error_to_name(_KYSO_BUS_ERROR_MAX));
        assert_int_equal(
                kyso_bus_error_from_name("org.freedesktop.DBus.Error.Failed"), _KYSO_BUS_ERROR_INVALID);
        assert_int_equal(kyso_bus_error_from_name(NULL), _KYSO_BUS_ERROR_INVALID);
}

static void test_errno_mapping(void **state) {
        static const struct {
                int error;
                const char *name;
        } names[] = {
                { EINVAL, "org.kyso.Error.InvalidArgs" },
                { EACCES, "org.kyso.Error.PolicyDenied" },
                { ENODEV, "org.kyso.Error.NoToken" },
                { EKEYREJECTED, "org.kyso.Error.PinIncorrect" },
                { ENOLCK, "org.kyso.Error.PinLocked" },
                { EKEYREVOKED, "org.kyso.Error.CertificateRevoked" },
                { ECANCELED, "org.kyso.Error.Cancelled" },
                { EBUSY, "org.kyso.Error.Busy" },
                { EBADMSG, "org.kyso.Error.BadDocument" },
                { ENOMEM, "org.kyso.Error.Internal" },
                { EIO, "org.kyso.Error.Internal" },
        };
        /* One meaning for each: a key missing on a present token is NoToken on every path, a URI that
         * matches several certificates is the caller's to fix, a malformed helper reply is ours. */
        static const struct {
                int error;
                KysoBusError bus_error;
        } errors[] = {
                { ENOKEY, KYSO_BUS_ERROR_NO_TOKEN },
                { ENOTUNIQ, KYSO_BUS_ERROR_INVALID_ARGS },
                { EPROTO, KYSO_BUS_ERROR_INTERNAL },
                { EKEYEXPIRED, KYSO_BUS_ERROR_CERTIFICATE_INVALID },
                { ENODATA, KYSO_BUS_ERROR_REVOCATION_UNKNOWN },
                { EAGAIN, KYSO_BUS_ERROR_BUSY },
                { 0, KYSO_BUS_ERROR_INTERNAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_string_equal(
                        kyso_bus_error_to_name(kyso_bus_error_from_errno(-names[i].error)), names[i].name);
        for (size_t i = 0; i < ELEMENTSOF(errors); i++)
                assert_int_equal(kyso_bus_error_from_errno(-errors[i].error), errors[i].bus_error);
}

static void test_error_reply(void **state) {
        DBusMessage *call = error_reply_test_call("GetTokens", 7);
        DBusMessage *reply = kyso_bus_error_reply_errno(call, -EINVAL, "bad");

        assert_non_null(reply);
        assert_string_equal(dbus_message_get_error_name(reply), "org.kyso.Error.InvalidArgs");
        assert_int_equal(dbus_message_get_reply_serial(reply), 7);
        assert_reply_message(reply, "bad");
        dbus_message_unref(call);
}

/* Written with the dict helpers, read back as JSON: types and values survive. */
static void test_dict_roundtrip(void **state) {
        DBusMessage *m = dbus_message_new_signal("/a", "a.b", "C");
        DBusMessageIter it, dict;
        json_object *j = NULL, *v;

        assert_non_null(m);
        dbus_message_iter_init_append(m, &it);
        assert_int_equal(dbus_dict_open(&it, &dict), 0);
        assert_int_equal(dbus_dict_append_string(&dict, "label", "Lãnh đạo"), 0);
        assert_int_equal(dbus_dict_append_string(&dict, "bad", "\xff\xfe"), 0); /* invalid UTF-8: escaped */
        assert_int_equal(dbus_dict_append_string(&dict, "null", NULL), 0);
        assert_int_equal(dbus_dict_append_int64(&dict, "not-after", INT64_C(4102444800)), 0);
        assert_int_equal(dbus_dict_append_int32(&dict, "days", -3), 0);
        assert_int_equal(dbus_dict_append_uint32(&dict, "bits", 2048), 0);
        assert_int_equal(dbus_dict_append_bool(&dict, "flag", true), 0);
        assert_int_equal(dbus_dict_close(&it, &dict), 0);

        assert_true(dbus_message_iter_init(m, &it));
        assert_string_equal(dbus_message_get_signature(m), "a{sv}");
        assert_int_equal(dbus_iter_to_json(&it, &j), 0);
        assert_true(json_object_object_get_ex(j, "label", &v));
        assert_string_equal(json_object_get_string(v), "Lãnh đạo");
        assert_true(json_object_object_get_ex(j, "bad", &v));
        assert_string_equal(json_object_get_string(v), "\\xff\\xfe");
        assert_true(json_object_object_get_ex(j, "null", &v));
        assert_string_equal(json_object_get_string(v), "");
        assert_true(json_object_object_get_ex(j, "not-after", &v));
        assert_int_equal(json_object_get_int64(v), INT64_C(4102444800));
        assert_true(json_object_object_get_ex(j, "days", &v));
        assert_int_equal(json_object_get_int64(v), -3);
        assert_true(json_object_object_get_ex(j, "bits", &v));
        assert_int_equal(json_object_get_int64(v), 2048);
        assert_true(json_object_object_get_ex(j, "flag", &v));
        assert_true(json_object_get_boolean(v));
        json_object_put(j);
        dbus_message_unref(m);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_names_roundtrip),
        cmocka_unit_test(test_errno_mapping),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_dict_roundtrip),
});
