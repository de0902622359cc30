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

/* The errno vocabulary of kyso: what a negative errno means wherever a kyso function returns it to the
 * agent (pkcs11/ translates CK_RV into it once, in p11_error_to_errno()), and the error it becomes:
 *   -EINVAL, -E2BIG, -EBADR   the caller's arguments are wrong                              InvalidArgs
 *   -ENOTUNIQ                 a certificate URI matches several certificates                InvalidArgs
 *   -EPERM, -EACCES           refused by the signing policy (never a PIN)                   PolicyDenied
 *   -ECANCELED                cancelled (by the caller, the person, or a shutdown)          Cancelled
 *   -ENODEV, -ENXIO,          no token with the certificate is present, or it was removed   NoToken
 *   -ENOMEDIUM, -ENOENT
 *   -ENOKEY                   the certificate has no private key on its token               NoToken
 *   -EKEYREJECTED             the token refused the PIN                                     PinIncorrect
 *   -ENOLCK                   the token's PIN is locked                                     PinLocked
 *   -EKEYEXPIRED              the certificate is expired, not yet valid or not trusted CertificateInvalid
 *   -EKEYREVOKED              the certificate is revoked CertificateRevoked -ENODATA                  the
 * revocation status could not be found out                  RevocationUnknown -EBADMSG                  the
 * document cannot be read or is damaged                     BadDocument -EBUSY, -EAGAIN           too many
 * requests; try again                                  Busy anything else             (-EIO, -EPROTO,
 * -ECONNRESET a helper crashed, -ETIME a token    Internal that did not answer, -EOPNOTSUPP, -ENOMEM, ...)
 * An object's own errors that mean something else (a prompt's -ENOENT: no pinentry program) are turned into
 * one of these by the caller, with its message. */
KysoBusError kyso_bus_error_from_errno(int r);

/* The default human message of an error (translated, says what to do next). */
const char *kyso_bus_error_message(KysoBusError e);

/* An error reply to call with the name for r and message (NULL: the default message). NULL on OOM. */
DBusMessage *kyso_bus_error_reply(DBusMessage *call, KysoBusError e, const char *message);
DBusMessage *kyso_bus_error_reply_errno(DBusMessage *call, int r, const char *message);

/* What an error reply from another program that kyso called (an application's org.kyso.Prompter1) means:
 * -ECANCELED for org.kyso.Error.Cancelled, -ENOTCONN when the bus says the program is gone, -EPROTO when it
 * does not implement the call as the interface says, -EIO for any other error. */
int kyso_bus_error_reply_to_errno(const char *name);
