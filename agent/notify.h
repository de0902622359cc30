/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Notifier: the desktop notifications of the person at the desk (Quy chế Điều 11, 13-14), sent through
 * org.freedesktop.Notifications on the session bus: a certificate that expires soon, and one that can no
 * longer sign. No notification service is logged once and fails nothing. */

#include <dbus/dbus.h>
#include <stdint.h>

#include "cert-register.h"

typedef struct Notifier Notifier;

int notifier_new(Notifier **ret);
Notifier *notifier_free(Notifier *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(Notifier *, notifier_free);
/* The connection to send on (NULL: none, nothing is sent). Not owned. */
void notifier_set_bus(Notifier *n, DBusConnection *bus);

typedef enum NotifyKind {
        NOTIFY_NONE,
        NOTIFY_EXPIRING, /* days_left within the warning days */
        NOTIFY_UNUSABLE, /* expired or revoked: cannot sign any more */
        _NOTIFY_KIND_MAX,
        _NOTIFY_KIND_INVALID = -EINVAL,
} NotifyKind;

/* Whether e deserves a notification now, and marks it given (in e, so the register keeps it across
 * restarts): an expiring certificate when it enters the last warning_days and again at 30, 7 and 1 days
 * left, never twice on one (UTC) day; an expired or revoked one once. */
NotifyKind notify_decide(
        CertRegisterEntry *e, const char *status, int64_t days_left, int64_t now, unsigned warning_days);

/* notify_decide(), then the notification; the register is marked for saving when e changed. */
void notifier_certificate(
        Notifier *n, CertRegister *reg, CertRegisterEntry *e, const char *status, int64_t days_left,
        int64_t now, unsigned warning_days);
