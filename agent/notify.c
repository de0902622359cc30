/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dbus/bus-append.h"
#include "dbus/dbus-dict.h"
#include "i18n.h"
#include "log.h"
#include "notify.h"
#include "time-util.h"

#define NOTIFY_TIMEOUT_MSEC 25000
#define NOTIFY_PENDING_MAX 16
/* How long a notification stays on screen: until the person closes it (the spec's 0). */
#define NOTIFY_EXPIRE_NEVER 0

struct Notifier {
        DBusConnection *bus;
        DBusPendingCall *pending[NOTIFY_PENDING_MAX];
        bool no_service_logged;
};

int notifier_new(Notifier **ret) {
        Notifier *n = calloc(1, sizeof *n);
        if (!n)
                return -ENOMEM;
        *ret = n;
        return 0;
}

Notifier *notifier_free(Notifier *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < NOTIFY_PENDING_MAX; i++)
                if (n->pending[i]) {
                        dbus_pending_call_cancel(n->pending[i]);
                        dbus_pending_call_unref(n->pending[i]);
                }
        return mfree(n);
}

void notifier_set_bus(Notifier *n, DBusConnection *bus) {
        if (n)
                n->bus = bus;
}

static int64_t utc_day(int64_t t) {
        return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* The threshold a number of days left falls under: the warning days, then 30, 7 and 1. */
static int threshold_of(int64_t days_left, unsigned warning_days) {
        static const int steps[] = { 1, 7, 30 };
        for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                if (days_left <= steps[i] && (unsigned) steps[i] <= warning_days)
                        return steps[i];
        return (int) warning_days;
}

NotifyKind notify_decide(
        CertRegisterEntry *e, const char *status, int64_t days_left, int64_t now, unsigned warning_days) {
        if (!e || !status)
                return NOTIFY_NONE;
        if (streq(status, "expired") || streq(status, "revoked")) {
                if (e->warned_unusable)
                        return NOTIFY_NONE;
                e->warned_unusable = true;
                return NOTIFY_UNUSABLE;
        }
        /* A certificate already renewed needs no renewal warning. */
        if (days_left < 0 || days_left > (int64_t) warning_days || e->renewed_by)
                return NOTIFY_NONE;
        int t = threshold_of(days_left, warning_days);
        int64_t today = utc_day(now);
        if ((e->warned_threshold != 0 && t >= e->warned_threshold) || e->warned_day == today)
                return NOTIFY_NONE;
        e->warned_threshold = t;
        e->warned_day = today;
        return NOTIFY_EXPIRING;
}

static void pending_done(DBusPendingCall *call, void *userdata) {
        Notifier *n = userdata;
        DBusMessage *reply = dbus_pending_call_steal_reply(call);

        if (reply && dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR && !n->no_service_logged) {
                n->no_service_logged = true;
                log_notice(
                        "No desktop notification could be shown (%s): certificate warnings go to the journal "
                        "only.",
                        dbus_message_get_error_name(reply));
        }
        if (reply)
                dbus_message_unref(reply);
        for (size_t i = 0; i < NOTIFY_PENDING_MAX; i++)
                if (n->pending[i] == call) {
                        dbus_pending_call_unref(call);
                        n->pending[i] = NULL;
                }
}

static int notify_send(Notifier *n, const char *summary, const char *body, bool critical) {
        DBusMessage *m;
        DBusMessageIter it, arr, dict;
        dbus_uint32_t replaces = 0;
        dbus_int32_t expire = NOTIFY_EXPIRE_NEVER;
        size_t slot;

        if (!n->bus)
                return 0;
        for (slot = 0; slot < NOTIFY_PENDING_MAX && n->pending[slot]; slot++)
                ;
        if (slot == NOTIFY_PENDING_MAX)
                return -EBUSY; /* a notification service that does not answer: do not pile up calls */
        m = dbus_message_new_method_call(
                "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                "org.freedesktop.Notifications", "Notify");
        if (!m)
                return -ENOMEM;
        dbus_message_iter_init_append(m, &it);
        int r = bus_append_string(&it, "kyso");
        if (r >= 0 && !dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &replaces))
                r = -ENOMEM;
        if (r >= 0)
                r = bus_append_string(&it, "dialog-warning");
        if (r >= 0)
                r = bus_append_string(&it, summary);
        if (r >= 0)
                r = bus_append_string(&it, body);
        if (r >= 0 && (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "s", &arr) ||
                       !dbus_message_iter_close_container(&it, &arr)))
                r = -ENOMEM;
        if (r >= 0)
                r = dbus_dict_open(&it, &dict);
        if (r >= 0) {
                r = dbus_dict_append_byte(&dict, "urgency", critical ? 2 : 1);
                if (r >= 0)
                        r = dbus_dict_close(&it, &dict);
                else
                        dbus_dict_abandon(&it, &dict);
        }
        if (r >= 0 && !dbus_message_iter_append_basic(&it, DBUS_TYPE_INT32, &expire))
                r = -ENOMEM;
        if (r >= 0 && (!dbus_connection_send_with_reply(n->bus, m, &n->pending[slot], NOTIFY_TIMEOUT_MSEC) ||
                       !n->pending[slot]))
                r = -ENOMEM;
        if (r >= 0 && !dbus_pending_call_set_notify(n->pending[slot], pending_done, n, NULL))
                r = -ENOMEM;
        dbus_message_unref(m);
        return r;
}

void notifier_certificate(
        Notifier *n, CertRegister *reg, CertRegisterEntry *e, const char *status, int64_t days_left,
        int64_t now, unsigned warning_days) {
        _cleanup_free_ char *summary = NULL, *body = NULL;
        const char *who = e->holder ?: strna(e->subject);
        char date[11];
        int r;

        NotifyKind k = notify_decide(e, status, days_left, now, warning_days);
        if (k == NOTIFY_NONE)
                return;
        cert_register_mark_dirty(reg);
        (void) utc_strftime(date, sizeof date, "%d/%m/%Y", e->not_after);
        if (k == NOTIFY_EXPIRING) {
                r = asprintf(
                        &summary, _("Certificate of %s expires in %lld days"), who, (long long) days_left);
                if (r >= 0)
                        r = asprintf(
                                &body,
                                _("The digital signature certificate of %s (%s), serial %s, on token '%s', expires "
                                  "on %s. Renew it now (Article 11: renewal is possible while at least 60 days "
                                  "remain): ask your unit's certificate administrator to send the renewal request "
                                  "to the certificate authority, keep the token, and plug it in again once the new "
                                  "certificate is written so kyso registers it."),
                                who, strna(e->organization), strna(e->serial), strna(e->token_label), date);
        } else {
                bool revoked = streq(status, "revoked");
                r = asprintf(
                        &summary,
                        revoked ? _("Certificate of %s is revoked") : _("Certificate of %s has expired"),
                        who);
                if (r >= 0)
                        r = asprintf(
                                &body,
                                revoked ? _("The digital signature certificate of %s (%s), serial %s, on token "
                                            "'%s', is revoked and can no longer sign (Articles 13-14). Documents "
                                            "signed before the revocation keep their signature. Ask your unit's "
                                            "certificate administrator for a new certificate.")
                                        : _("The digital signature certificate of %s (%s), serial %s, on token "
                                            "'%s', has expired and can no longer sign (Articles 13-14). Documents "
                                            "signed before it expired keep their signature. Ask your unit's "
                                            "certificate administrator for a new certificate."),
                                who, strna(e->organization), strna(e->serial), strna(e->token_label));
        }
        if (r < 0) {
                (void) log_oom();
                return;
        }
        log_notice("%s: %s", summary, body);
        r = notify_send(n, summary, body, k == NOTIFY_UNUSABLE);
        if (r < 0)
                log_warning_errno(r, "Cannot send a desktop notification: %m");
}
