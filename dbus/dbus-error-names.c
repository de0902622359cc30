/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "dbus-error-names.h"
#include "bus-append.h"
#include "i18n.h"
#include "macro.h"

static const struct {
        const char *name;
        const char *message;
} bus_errors[_KYSO_BUS_ERROR_MAX] = {
        [KYSO_BUS_ERROR_POLICY_DENIED] = { "org.kyso.Error.PolicyDenied",
                                           N_("Refused by the signing policy. Ask your administrator if you think this is wrong.") },
        [KYSO_BUS_ERROR_CANCELLED] = { "org.kyso.Error.Cancelled", N_("The request was cancelled.") },
        [KYSO_BUS_ERROR_NO_TOKEN] = { "org.kyso.Error.NoToken",
                                      N_("No matching eToken is present. Plug in the eToken and try again.") },
        [KYSO_BUS_ERROR_PIN_INCORRECT] = { "org.kyso.Error.PinIncorrect",
                                           N_("The PIN is incorrect. Check the PIN and try again; the eToken locks after too many wrong tries.") },
        [KYSO_BUS_ERROR_PIN_LOCKED] = { "org.kyso.Error.PinLocked",
                                        N_("The eToken's PIN is locked. Contact the certificate service provider to unlock it.") },
        [KYSO_BUS_ERROR_CERTIFICATE_INVALID] = { "org.kyso.Error.CertificateInvalid",
                                                 N_("The certificate is not valid (expired, not yet valid or not trusted). Use another certificate or renew this one.") },
        [KYSO_BUS_ERROR_CERTIFICATE_REVOKED] = { "org.kyso.Error.CertificateRevoked",
                                                 N_("The certificate has been revoked. Contact the certificate service provider.") },
        [KYSO_BUS_ERROR_REVOCATION_UNKNOWN] = { "org.kyso.Error.RevocationUnknown",
                                                N_("The revocation status of the certificate could not be checked. Check the network connection and try again.") },
        [KYSO_BUS_ERROR_BAD_DOCUMENT] = { "org.kyso.Error.BadDocument",
                                          N_("The document could not be read or is damaged. Check the file and try again.") },
        [KYSO_BUS_ERROR_BUSY] = { "org.kyso.Error.Busy",
                                  N_("The agent is busy with another request. Try again shortly.") },
        [KYSO_BUS_ERROR_INVALID_ARGS] = { "org.kyso.Error.InvalidArgs",
                                          N_("Invalid arguments. Check the call against the org.kyso.Agent1 interface.") },
        [KYSO_BUS_ERROR_INTERNAL] = { "org.kyso.Error.Internal",
                                      N_("Internal error in the agent. See the agent's log (journalctl --user -u kysod).") },
};

const char *kyso_bus_error_to_name(KysoBusError e) {
        if (e < 0 || e >= _KYSO_BUS_ERROR_MAX)
                return NULL;
        return bus_errors[e].name;
}

KysoBusError kyso_bus_error_from_name(const char *name) {
        if (!name)
                return _KYSO_BUS_ERROR_INVALID;
        for (int i = 0; i < _KYSO_BUS_ERROR_MAX; i++)
                if (streq(name, bus_errors[i].name))
                        return (KysoBusError) i;
        return _KYSO_BUS_ERROR_INVALID;
}

/* The one errno → error table (the meanings: dbus-error-names.h). */
static const struct {
        int error;
        KysoBusError bus_error;
} errno_table[] = {
        { EINVAL, KYSO_BUS_ERROR_INVALID_ARGS },
        { E2BIG, KYSO_BUS_ERROR_INVALID_ARGS },
        { EBADR, KYSO_BUS_ERROR_INVALID_ARGS },
        { ENOTUNIQ, KYSO_BUS_ERROR_INVALID_ARGS },
        { EPERM, KYSO_BUS_ERROR_POLICY_DENIED },
        { EACCES, KYSO_BUS_ERROR_POLICY_DENIED },
        { ECANCELED, KYSO_BUS_ERROR_CANCELLED },
        { ENODEV, KYSO_BUS_ERROR_NO_TOKEN },
        { ENXIO, KYSO_BUS_ERROR_NO_TOKEN },
        { ENOMEDIUM, KYSO_BUS_ERROR_NO_TOKEN },
        { ENOENT, KYSO_BUS_ERROR_NO_TOKEN },
        { ENOKEY, KYSO_BUS_ERROR_NO_TOKEN },
        { EKEYREJECTED, KYSO_BUS_ERROR_PIN_INCORRECT },
        { ENOLCK, KYSO_BUS_ERROR_PIN_LOCKED },
        { EKEYEXPIRED, KYSO_BUS_ERROR_CERTIFICATE_INVALID },
        { EKEYREVOKED, KYSO_BUS_ERROR_CERTIFICATE_REVOKED },
        { ENODATA, KYSO_BUS_ERROR_REVOCATION_UNKNOWN },
        { EBADMSG, KYSO_BUS_ERROR_BAD_DOCUMENT },
        { EBUSY, KYSO_BUS_ERROR_BUSY },
        { EAGAIN, KYSO_BUS_ERROR_BUSY },
};

KysoBusError kyso_bus_error_from_errno(int r) {
        for (size_t i = 0; i < ELEMENTSOF(errno_table); i++)
                if (errno_table[i].error == abs(r))
                        return errno_table[i].bus_error;
        return KYSO_BUS_ERROR_INTERNAL;
}

const char *kyso_bus_error_message(KysoBusError e) {
        if (e < 0 || e >= _KYSO_BUS_ERROR_MAX)
                e = KYSO_BUS_ERROR_INTERNAL;
        return _(bus_errors[e].message);
}

DBusMessage *kyso_bus_error_reply(DBusMessage *call, KysoBusError e, const char *message) {
        if (e < 0 || e >= _KYSO_BUS_ERROR_MAX)
                e = KYSO_BUS_ERROR_INTERNAL;
        return bus_message_new_error(call, bus_errors[e].name, message ?: kyso_bus_error_message(e));
}

DBusMessage *kyso_bus_error_reply_errno(DBusMessage *call, int r, const char *message) {
        return kyso_bus_error_reply(call, kyso_bus_error_from_errno(r), message);
}

int kyso_bus_error_reply_to_errno(const char *name) {
        static const struct {
                const char *name;
                int error;
        } replies[] = {
                { "org.kyso.Error.Cancelled", -ECANCELED },
                /* Calls to a prompter have no timeout: NoReply is the bus saying the peer left. */
                { DBUS_ERROR_NO_REPLY, -ENOTCONN },
                { DBUS_ERROR_SERVICE_UNKNOWN, -ENOTCONN },
                { DBUS_ERROR_NAME_HAS_NO_OWNER, -ENOTCONN },
                { DBUS_ERROR_DISCONNECTED, -ENOTCONN },
                { DBUS_ERROR_UNKNOWN_METHOD, -EPROTO },
                { DBUS_ERROR_UNKNOWN_OBJECT, -EPROTO },
                { DBUS_ERROR_UNKNOWN_INTERFACE, -EPROTO },
                { DBUS_ERROR_INVALID_ARGS, -EPROTO },
        };

        for (size_t i = 0; i < ELEMENTSOF(replies); i++)
                if (streq_ptr(name, replies[i].name))
                        return replies[i].error;
        return -EIO;
}
