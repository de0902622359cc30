/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The D-Bus error names of org.kyso.Agent1 and the one place where a kyso error (negative errno) becomes a
 * D-Bus error name and a human message that says what to do next. */

#include <dbus/dbus.h>
#include <errno.h>

typedef enum KysoBusError {
        KYSO_BUS_ERROR_POLICY_DENIED,
        KYSO_BUS_ERROR_CANCELLED,
        KYSO_BUS_ERROR_NO_TOKEN,
        KYSO_BUS_ERROR_PIN_INCORRECT,
        KYSO_BUS_ERROR_PIN_LOCKED,
        KYSO_BUS_ERROR_CERTIFICATE_INVALID,
        KYSO_BUS_ERROR_CERTIFICATE_REVOKED,
        KYSO_BUS_ERROR_REVOCATION_UNKNOWN,
        KYSO_BUS_ERROR_BAD_DOCUMENT,
        KYSO_BUS_ERROR_BUSY,
        KYSO_BUS_ERROR_INVALID_ARGS,
        KYSO_BUS_ERROR_INTERNAL,
        _KYSO_BUS_ERROR_MAX,
        _KYSO_BUS_ERROR_INVALID = -EINVAL,
} KysoBusError;

/* "org.kyso.Error.PolicyDenied", ... ; NULL when out of range. */
const char *kyso_bus_error_to_name(KysoBusError e);
KysoBusError kyso_bus_error_from_name(const char *name); /* _KYSO_BUS_ERROR_INVALID when not ours */

/* The errno convention of kyso errors (r < 0):
 *   -EINVAL, -E2BIG, -EBADR        InvalidArgs        -EPERM, -EACCES        PolicyDenied
 *   -ECANCELED                     Cancelled          -ENODEV, -ENXIO, -ENOMEDIUM, -ENOENT  NoToken
 *   -EKEYREJECTED                  PinIncorrect       -ENOLCK                PinLocked
 *   -EKEYEXPIRED, -ENOKEY          CertificateInvalid -EKEYREVOKED           CertificateRevoked
 *   -ENODATA                       RevocationUnknown  -EBADMSG               BadDocument
 *   -EBUSY, -EAGAIN                Busy               anything else          Internal */
KysoBusError kyso_bus_error_from_errno(int r);

/* The default human message of an error (translated, says what to do next). */
const char *kyso_bus_error_message(KysoBusError e);

/* An error reply to call with the name for r and message (NULL: the default message). NULL on OOM. */
DBusMessage *kyso_bus_error_reply(DBusMessage *call, KysoBusError e, const char *message);
DBusMessage *kyso_bus_error_reply_errno(DBusMessage *call, int r, const char *message);
