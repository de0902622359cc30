/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <unistd.h>

#include "macro.h"
#include "session-watch.h"

#define LOGIND_SERVICE "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define LOGIND_SESSION "org.freedesktop.login1.Session"

struct SessionWatch {
        sd_event *event;
        sd_bus *bus;
        SessionWatchHandler handler;
        void *userdata;
        char *session_path;
        sd_bus_slot *lock_match;
        sd_bus_slot *sleep_match;
        sd_bus_slot *session_call;
        sd_bus_slot *inhibit_call;
        unsigned matches_installed;
        int inhibit_fd;
};

static int on_lock(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SessionWatch *w = userdata;

        /* Until we know our session, a Lock is not ours to act on. */
        if (!w->session_path || !streq_ptr(sd_bus_message_get_path(m), w->session_path))
                return 0;
        w->handler(w, SESSION_EVENT_LOCK, w->userdata);
        return 0;
}

static int take_inhibitor(SessionWatch *w);

static int on_prepare_for_sleep(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SessionWatch *w = userdata;
        int start, r;

        r = sd_bus_message_read(m, "b", &start);
        if (r < 0)
                return 0;
        if (start) {
                w->handler(w, SESSION_EVENT_PREPARE_SLEEP, w->userdata);
                /* Done: let the machine sleep. */
                w->inhibit_fd = safe_close(w->inhibit_fd);
        } else
                (void) take_inhibitor(w);
        return 0;
}

static int on_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SessionWatch *w = userdata;
        if (!sd_bus_message_is_method_error(m, NULL))
                w->matches_installed++;
        return 0;
}

static int on_inhibit_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SessionWatch *w = userdata;
        int fd, r;

        w->inhibit_call = sd_bus_slot_unref(w->inhibit_call);
        /* Without the inhibitor, PINs are still forgotten on PrepareForSleep, only not surely before. */
        if (sd_bus_message_is_method_error(m, NULL))
                return 0;
        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return 0;
        safe_close(w->inhibit_fd);
        w->inhibit_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        return 0;
}

static int take_inhibitor(SessionWatch *w) {
        if (w->inhibit_fd >= 0 || w->inhibit_call)
                return 0;
        return sd_bus_call_method_async(
                w->bus, &w->inhibit_call, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER, "Inhibit",
                on_inhibit_reply, w, "ssss", "sleep", "kyso", "Forget cached PINs before sleep", "delay");
}

static int on_session_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SessionWatch *w = userdata;
        const char *path;

        w->session_call = sd_bus_slot_unref(w->session_call);
        if (sd_bus_message_is_method_error(m, NULL))
                return 0; /* not in a logind session: only sleep is watched */
        if (sd_bus_message_read(m, "o", &path) < 0)
                return 0;
        free(w->session_path);
        w->session_path = strdup(path);
        return 0;
}

int session_watch_new(
        sd_event *event, sd_bus *bus, const char *session_id, SessionWatchHandler handler, void *userdata,
        SessionWatch **ret) {
        _cleanup_(session_watch_freep) SessionWatch *w = NULL;
        int r;

        if (!event || !handler || !ret)
                return -EINVAL;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->inhibit_fd = -EBADF;
        w->event = sd_event_ref(event);
        w->handler = handler;
        w->userdata = userdata;

        if (bus)
                w->bus = sd_bus_ref(bus);
        else {
                r = sd_bus_open_system(&w->bus);
                if (r < 0)
                        return r;
        }
        if (!sd_bus_get_event(w->bus)) {
                r = sd_bus_attach_event(w->bus, event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return r;
        }

        r = sd_bus_match_signal_async(
                w->bus, &w->lock_match, LOGIND_SERVICE, NULL, LOGIND_SESSION, "Lock", on_lock,
                on_match_installed, w);
        if (r < 0)
                return r;
        r = sd_bus_match_signal_async(
                w->bus, &w->sleep_match, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER, "PrepareForSleep",
                on_prepare_for_sleep, on_match_installed, w);
        if (r < 0)
                return r;

        if (!session_id)
                session_id = getenv("XDG_SESSION_ID");
        if (!isempty(session_id)) {
                r = sd_bus_path_encode(LOGIND_PATH "/session", session_id, &w->session_path);
                if (r < 0)
                        return r;
        } else {
                r = sd_bus_call_method_async(
                        w->bus, &w->session_call, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER,
                        "GetSessionByPID", on_session_reply, w, "u", (uint32_t) getpid());
                if (r < 0)
                        return r;
        }

        r = take_inhibitor(w);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(w);
        return 0;
}

SessionWatch *session_watch_free(SessionWatch *w) {
        if (!w)
                return NULL;
        sd_bus_slot_unref(w->lock_match);
        sd_bus_slot_unref(w->sleep_match);
        sd_bus_slot_unref(w->session_call);
        sd_bus_slot_unref(w->inhibit_call);
        safe_close(w->inhibit_fd);
        sd_bus_unref(w->bus);
        sd_event_unref(w->event);
        free(w->session_path);
        free(w);
        return NULL;
}

const char *session_watch_get_session_path(SessionWatch *w) {
        return w ? w->session_path : NULL;
}

bool session_watch_is_ready(SessionWatch *w) {
        return w && w->matches_installed >= 2 && !w->session_call;
}

bool session_watch_has_inhibitor(SessionWatch *w) {
        return w && w->inhibit_fd >= 0;
}

void session_watch_forget_pins(SessionWatch *w, SessionEvent event, void *userdata) {
        (void) pin_cache_forget_all(userdata);
}
