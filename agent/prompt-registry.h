/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PrompterRegistry: the org.kyso.Prompter1 objects applications registered with RegisterPrompter, at most
 * one per bus connection (keyed by its unique name), each served by a DbusPrompter; dropped on
 * UnregisterPrompter or when the connection leaves the bus. Which requests a registered prompter serves is
 * the pipeline's rule: those of the same connection only (dbus/org.kyso.Prompter1.xml says why). */

#include <dbus/dbus.h>
#include <systemd/sd-event.h>

#include "prompt.h"

#define PROMPTER_REGISTRY_MAX 64U /* connections with a prompter at once */

typedef struct PrompterRegistry PrompterRegistry;

/* Watches bus for connections that leave. Each prompter's calls time out after timeout_usec (0: 60 s). */
int prompter_registry_new(
        sd_event *event, DBusConnection *bus, uint64_t timeout_usec, PrompterRegistry **ret);
/* Frees every prompter (an open call gets Cancel; its handler is not called). */
PrompterRegistry *prompter_registry_free(PrompterRegistry *reg);

/* RegisterPrompter(o) and UnregisterPrompter(o) from the sender of m (the caller checked its uid and the
 * signature). Returns the reply: InvalidArgs for a second registration by the same sender or a path it did
 * not register, Busy beyond PROMPTER_REGISTRY_MAX; NULL on OOM. Unregistering while a call is open ends that
 * prompt with -ENOTCONN (its handler is called first). */
DBusMessage *prompter_registry_register(PrompterRegistry *reg, DBusMessage *m);
DBusMessage *prompter_registry_unregister(PrompterRegistry *reg, DBusMessage *m);

/* The prompter the connection sender registered, or NULL. */
Prompter *prompter_registry_get(PrompterRegistry *reg, const char *sender);
size_t prompter_registry_size(PrompterRegistry *reg);
