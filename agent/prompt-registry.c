/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "dbus/bus-method.h"
#include "dbus/dbus-error-names.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "prompt-dbus.h"
#include "prompt-registry.h"

typedef struct Registration {
        char *sender;
        Prompter *prompter;
        struct Registration *next;
} Registration;

struct PrompterRegistry {
        sd_event *event;
        DBusConnection *bus;
        uint64_t timeout_usec;
        Registration *list;
        size_t n;
        BusPeerLeftWatch *left_watch;
};

static Registration *find(PrompterRegistry *reg, const char *sender) {
        for (Registration *r = reg->list; r; r = r->next)
                if (streq_ptr(r->sender, sender))
                        return r;
        return NULL;
}

/* Takes r out of the list first, so that a handler called by the disconnect no longer finds it. */
static void drop(PrompterRegistry *reg, Registration *r) {
        for (Registration **p = &reg->list; *p; p = &(*p)->next)
                if (*p == r) {
                        *p = r->next;
                        reg->n--;
                        break;
                }
        dbus_prompter_disconnect(r->prompter);
        prompter_free(r->prompter);
        free(r->sender);
        free(r);
}

static void registry_peer_left(const char *name, void *userdata) {
        PrompterRegistry *reg = userdata;
        Registration *r = find(reg, name);

        if (r) {
                log_info(
                        "The prompter of %s at %s is gone with its connection.", name,
                        dbus_prompter_get_path(r->prompter));
                drop(reg, r);
        }
}

int prompter_registry_new(
        sd_event *event, DBusConnection *bus, uint64_t timeout_usec, PrompterRegistry **ret) {
        PrompterRegistry *reg;
        int r;

        if (!event || !bus || !ret)
                return -EINVAL;
        reg = calloc(1, sizeof *reg);
        if (!reg)
                return -ENOMEM;
        reg->event = sd_event_ref(event);
        reg->bus = dbus_connection_ref(bus);
        reg->timeout_usec = timeout_usec;
        r = bus_peer_left_watch_new(bus, registry_peer_left, reg, &reg->left_watch);
        if (r < 0) {
                prompter_registry_free(reg);
                return r;
        }
        *ret = reg;
        return 0;
}

PrompterRegistry *prompter_registry_free(PrompterRegistry *reg) {
        if (!reg)
                return NULL;
        while (reg->list) {
                Registration *r = reg->list;
                reg->list = r->next;
                prompter_free(r->prompter);
                free(r->sender);
                free(r);
        }
        bus_peer_left_watch_free(reg->left_watch);
        dbus_connection_unref(reg->bus);
        sd_event_unref(reg->event);
        free(reg);
        return NULL;
}

static int get_path(DBusMessage *m, const char **ret) {
        return dbus_message_get_args(m, NULL, DBUS_TYPE_OBJECT_PATH, ret, DBUS_TYPE_INVALID) ? 0 : -EINVAL;
}

DBusMessage *prompter_registry_register(PrompterRegistry *reg, DBusMessage *m) {
        const char *sender = dbus_message_get_sender(m), *path = NULL;
        _cleanup_free_ Registration *r = NULL;
        _cleanup_free_ char *text = NULL;
        Registration *old;
        int k;

        if (!sender || get_path(m, &path) < 0)
                return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, NULL);
        old = find(reg, sender);
        if (old) {
                if (asprintf(
                            &text,
                            _("This application already has a prompter registered at %s. Call "
                              "UnregisterPrompter first to register another one."),
                            dbus_prompter_get_path(old->prompter)) < 0)
                        return NULL;
                return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, text);
        }
        if (reg->n >= PROMPTER_REGISTRY_MAX)
                return kyso_bus_error_reply(
                        m, KYSO_BUS_ERROR_BUSY,
                        _("Too many applications have registered a prompter. Close some of them, then try "
                          "again."));
        r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        r->sender = strdup(sender);
        if (!r->sender)
                return NULL;
        k = dbus_prompter_new(reg->event, reg->bus, sender, path, reg->timeout_usec, &r->prompter);
        if (k < 0) {
                free(r->sender);
                return k == -ENOMEM ? NULL : kyso_bus_error_reply_errno(m, k, NULL);
        }
        r->next = reg->list;
        reg->list = TAKE_PTR(r);
        reg->n++;
        log_info(
                "%s registered a prompter at %s: the approval and PIN of its own signing requests are asked "
                "there.",
                sender, path);
        return dbus_message_new_method_return(m);
}

DBusMessage *prompter_registry_unregister(PrompterRegistry *reg, DBusMessage *m) {
        const char *sender = dbus_message_get_sender(m), *path = NULL;
        _cleanup_free_ char *text = NULL;
        Registration *r;

        if (!sender || get_path(m, &path) < 0)
                return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, NULL);
        r = find(reg, sender);
        if (!r || !streq(dbus_prompter_get_path(r->prompter), path)) {
                if (asprintf(
                            &text,
                            _("This application has no prompter registered at %s, so there is nothing to "
                              "unregister."),
                            path) < 0)
                        return NULL;
                return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, text);
        }
        log_info("%s unregistered its prompter at %s.", sender, path);
        drop(reg, r);
        return dbus_message_new_method_return(m);
}

Prompter *prompter_registry_get(PrompterRegistry *reg, const char *sender) {
        Registration *r = reg && sender ? find(reg, sender) : NULL;
        return r ? r->prompter : NULL;
}

size_t prompter_registry_size(PrompterRegistry *reg) {
        return reg ? reg->n : 0;
}
