/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Checks of error replies built without a bus: a call to answer, and the message an error reply carries.
 * Header-only, for tests that include kyso-test.h. */

#include <dbus/dbus.h>

/* A call of member on kysod's object, with serial set as if it had been sent. */
static inline DBusMessage *error_reply_test_call(const char *member, dbus_uint32_t serial) {
        DBusMessage *call = dbus_message_new_method_call(
                "org.kyso.Agent1", "/org/kyso/Agent1", "org.kyso.Agent1", member);

        assert_non_null(call);
        dbus_message_set_serial(call, serial);
        return call;
}

/* The reply's one string argument (an error's message) is want; the reply is dropped. */
static inline void assert_reply_message(DBusMessage *reply, const char *want) {
        const char *msg = NULL;

        assert_non_null(reply);
        assert_true(dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &msg, DBUS_TYPE_INVALID));
        assert_string_equal(msg, want);
        dbus_message_unref(reply);
}
