/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* SessionWatch: follows logind on the system bus for the moments cached PINs must go: our session's Lock
 * signal and the manager's PrepareForSleep(true). It holds a "delay" sleep inhibitor so that the handler
 * runs before the machine sleeps, and releases it right after the handler.
 *
 * It uses sd-bus (libsystemd), not libdbus: this is a separate connection to the system bus that attaches
 * to the sd-event loop natively, so it needs no libdbus bridge. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "pin-cache.h"

typedef struct SessionWatch SessionWatch;

typedef enum SessionEvent {
        SESSION_EVENT_LOCK,          /* our session was locked */
        SESSION_EVENT_PREPARE_SLEEP, /* the machine is about to sleep */
        _SESSION_EVENT_MAX,
        _SESSION_EVENT_INVALID = -EINVAL,
} SessionEvent;

typedef void (*SessionWatchHandler)(SessionWatch *w, SessionEvent event, void *userdata);

/* bus: NULL opens the system bus (tests pass their own); the watch attaches it to event if it is not
 * attached yet. session_id: NULL means $XDG_SESSION_ID, and without it the session of our PID is asked of
 * logind. All bus calls are asynchronous. */
int session_watch_new(
        sd_event *event, sd_bus *bus, const char *session_id, SessionWatchHandler handler, void *userdata,
        SessionWatch **ret);
SessionWatch *session_watch_free(SessionWatch *w);
static inline void session_watch_freep(SessionWatch **w) {
        session_watch_free(*w);
}

/* The session's object path once known, else NULL. */
const char *session_watch_get_session_path(SessionWatch *w);
/* True once the signal matches are installed and the session is known (for tests and start-up). */
bool session_watch_is_ready(SessionWatch *w);
/* True while the watch holds a sleep delay inhibitor. */
bool session_watch_has_inhibitor(SessionWatch *w);

/* A handler that forgets every cached PIN: pass the PinCache as userdata. */
void session_watch_forget_pins(SessionWatch *w, SessionEvent event, void *userdata);
