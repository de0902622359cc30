/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/epoll.h>

#include "alloc-util.h"
#include "dbus-event.h"
#include "macro.h"

/* libdbus makes two watches (read and write) on one fd, and sd_event_add_io() refuses a second source on the
 * same fd: one IoEntry per fd carries all watches of that fd. */
typedef struct IoEntry IoEntry;
typedef struct Bridge Bridge;

struct IoEntry {
        unsigned n_ref;
        Bridge *bridge;
        int fd;
        sd_event_source *source;
        DBusWatch **watches;
        size_t n_watches;
        unsigned generation; /* bumped whenever a watch goes away, so a dispatch loop knows to stop */
        IoEntry *next;
};

struct Bridge {
        sd_event *event;
        DBusConnection *connection; /* not a reference: the connection owns the bridge */
        sd_event_source *dispatch;
        IoEntry *entries;
};

static dbus_int32_t bridge_slot = -1;

static IoEntry *io_entry_unref(IoEntry *e) {
        if (!e || --e->n_ref > 0)
                return NULL;
        sd_event_source_disable_unref(e->source);
        free(e->watches);
        free(e);
        return NULL;
}

static void io_entry_unlink(IoEntry *e) {
        Bridge *b = e->bridge;
        for (IoEntry **p = &b->entries; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        /* The fd may be closed by libdbus right after this, so the source must go now, not at the last
         * unref. */
        e->source = sd_event_source_disable_unref(e->source);
        e->bridge = NULL;
}

static IoEntry *bridge_find_entry(Bridge *b, int fd) {
        for (IoEntry *e = b->entries; e; e = e->next)
                if (e->fd == fd)
                        return e;
        return NULL;
}

static uint32_t watch_events(DBusWatch *w) {
        unsigned flags = dbus_watch_get_flags(w);
        uint32_t events = 0;

        if (!dbus_watch_get_enabled(w))
                return 0;
        if (flags & DBUS_WATCH_READABLE)
                events |= EPOLLIN;
        if (flags & DBUS_WATCH_WRITABLE)
                events |= EPOLLOUT;
        return events;
}

static int io_entry_update(IoEntry *e) {
        uint32_t events = 0;
        int r;

        for (size_t i = 0; i < e->n_watches; i++)
                events |= watch_events(e->watches[i]);
        if (events == 0)
                return sd_event_source_set_enabled(e->source, SD_EVENT_OFF);
        r = sd_event_source_set_io_events(e->source, events);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(e->source, SD_EVENT_ON);
}

static int io_handler(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        IoEntry *e = userdata;
        DBusWatch *snapshot[8];
        size_t n;
        unsigned generation;

        e->n_ref++;
        n = MIN(e->n_watches, ELEMENTSOF(snapshot));
        memcpy(snapshot, e->watches, n * sizeof(DBusWatch *));
        generation = e->generation;

        for (size_t i = 0; i < n; i++) {
                unsigned flags = dbus_watch_get_flags(snapshot[i]), f = 0;

                if (!dbus_watch_get_enabled(snapshot[i]))
                        continue;
                if ((revents & EPOLLIN) && (flags & DBUS_WATCH_READABLE))
                        f |= DBUS_WATCH_READABLE;
                if ((revents & EPOLLOUT) && (flags & DBUS_WATCH_WRITABLE))
                        f |= DBUS_WATCH_WRITABLE;
                if (revents & EPOLLERR)
                        f |= DBUS_WATCH_ERROR;
                if (revents & EPOLLHUP)
                        f |= DBUS_WATCH_HANGUP;
                if (f == 0)
                        continue;
                (void) dbus_watch_handle(snapshot[i], f);
                /* Handling a watch may free the other watches of this fd (disconnect). The source is
                 * level-triggered, so whatever is left is reported again on the next iteration. */
                if (e->generation != generation || !e->bridge)
                        break;
        }
        io_entry_unref(e);
        return 0;
}

static dbus_bool_t add_watch(DBusWatch *w, void *data) {
        Bridge *b = data;
        int fd = dbus_watch_get_unix_fd(w);
        IoEntry *e = bridge_find_entry(b, fd);
        DBusWatch **n;
        int r;

        if (!e) {
                e = calloc(1, sizeof *e);
                if (!e)
                        return FALSE;
                *e = (IoEntry){ .n_ref = 1, .bridge = b, .fd = fd };
                r = sd_event_add_io(b->event, &e->source, fd, 0, io_handler, e);
                if (r < 0) {
                        free(e);
                        return FALSE;
                }
                (void) sd_event_source_set_description(e->source, "dbus-io");
                e->next = b->entries;
                b->entries = e;
        }
        n = ARRAY_APPEND(e->watches, e->n_watches);
        if (!n)
                goto fail;
        *n = w;
        if (io_entry_update(e) < 0) {
                e->n_watches--;
                goto fail;
        }
        dbus_watch_set_data(w, e, NULL);
        return TRUE;
fail:
        if (e->n_watches == 0) {
                io_entry_unlink(e);
                io_entry_unref(e);
        }
        return FALSE;
}

static void remove_watch(DBusWatch *w, void *data) {
        IoEntry *e = dbus_watch_get_data(w);

        if (!e)
                return;
        dbus_watch_set_data(w, NULL, NULL);
        for (size_t i = 0; i < e->n_watches; i++)
                if (e->watches[i] == w) {
                        memmove(e->watches + i, e->watches + i + 1,
                                (e->n_watches - i - 1) * sizeof(DBusWatch *));
                        e->n_watches--;
                        break;
                }
        e->generation++;
        if (e->n_watches == 0) {
                io_entry_unlink(e);
                io_entry_unref(e);
        } else
                (void) io_entry_update(e);
}

static void toggle_watch(DBusWatch *w, void *data) {
        IoEntry *e = dbus_watch_get_data(w);
        if (e)
                (void) io_entry_update(e);
}

/* libdbus timeouts repeat until removed or disabled; sd-event timers fire once: re-arm before handling, so
 * that a handler that removes or disables the timeout has the last word. */
static int arm_timeout(DBusTimeout *t, sd_event_source *s) {
        int r;

        if (!dbus_timeout_get_enabled(t))
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        r = sd_event_source_set_time_relative(s, (uint64_t) MAX(dbus_timeout_get_interval(t), 0) * 1000);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int timeout_handler(sd_event_source *s, uint64_t usec, void *userdata) {
        DBusTimeout *t = userdata;

        (void) arm_timeout(t, s);
        (void) dbus_timeout_handle(t);
        return 0;
}

static void timeout_data_free(void *p) {
        sd_event_source_disable_unref(p);
}

static dbus_bool_t add_timeout(DBusTimeout *t, void *data) {
        Bridge *b = data;
        sd_event_source *s = NULL;

        if (sd_event_add_time_relative(b->event, &s, CLOCK_MONOTONIC, 0, 1000, timeout_handler, t) < 0)
                return FALSE;
        (void) sd_event_source_set_description(s, "dbus-timeout");
        if (arm_timeout(t, s) < 0) {
                sd_event_source_disable_unref(s);
                return FALSE;
        }
        dbus_timeout_set_data(t, s, timeout_data_free);
        return TRUE;
}

static void remove_timeout(DBusTimeout *t, void *data) {
        /* Frees the source through timeout_data_free(). */
        dbus_timeout_set_data(t, NULL, NULL);
}

static void toggle_timeout(DBusTimeout *t, void *data) {
        sd_event_source *s = dbus_timeout_get_data(t);
        if (s)
                (void) arm_timeout(t, s);
}

/* Called by libdbus with its lock held: no libdbus calls here, only switch the defer source. */
static void dispatch_status(DBusConnection *c, DBusDispatchStatus status, void *data) {
        Bridge *b = data;
        (void) sd_event_source_set_enabled(
                b->dispatch, status == DBUS_DISPATCH_DATA_REMAINS ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void wakeup_main(void *data) {
        Bridge *b = data;
        (void) sd_event_source_set_enabled(b->dispatch, SD_EVENT_ON);
}

/* One message per loop iteration, so that other sources (and other connections) get their turn. */
static int dispatch_handler(sd_event_source *s, void *userdata) {
        Bridge *b = userdata;
        DBusConnection *c = dbus_connection_ref(b->connection);

        if (dbus_connection_dispatch(c) != DBUS_DISPATCH_DATA_REMAINS)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        dbus_connection_unref(c);
        return 0;
}

static void bridge_free(void *p) {
        Bridge *b = p;

        if (!b)
                return;
        /* Watches and timeouts are gone by now (set to NULL functions, or the connection's finalisation
         * removes them before the data slots). */
        while (b->entries) {
                IoEntry *e = b->entries;
                io_entry_unlink(e);
                io_entry_unref(e);
        }
        sd_event_source_disable_unref(b->dispatch);
        sd_event_unref(b->event);
        free(b);
}

int dbus_event_attach(DBusConnection *c, sd_event *e) {
        Bridge *b;
        int r;

        if (!c || !e)
                return -EINVAL;
        if (!dbus_connection_allocate_data_slot(&bridge_slot))
                return -ENOMEM;
        if (dbus_connection_get_data(c, bridge_slot)) {
                dbus_connection_free_data_slot(&bridge_slot);
                return -EBUSY;
        }

        b = calloc(1, sizeof *b);
        if (!b) {
                dbus_connection_free_data_slot(&bridge_slot);
                return -ENOMEM;
        }
        b->event = sd_event_ref(e);
        b->connection = c;
        r = sd_event_add_defer(e, &b->dispatch, dispatch_handler, b);
        if (r < 0) {
                bridge_free(b);
                dbus_connection_free_data_slot(&bridge_slot);
                return r;
        }
        (void) sd_event_source_set_description(b->dispatch, "dbus-dispatch");
        (void) sd_event_source_set_enabled(b->dispatch, SD_EVENT_OFF);

        /* The slot owns the bridge from here on, also on the failure paths below. */
        if (!dbus_connection_set_data(c, bridge_slot, b, bridge_free)) {
                bridge_free(b);
                dbus_connection_free_data_slot(&bridge_slot);
                return -ENOMEM;
        }
        if (!dbus_connection_set_watch_functions(c, add_watch, remove_watch, toggle_watch, b, NULL) ||
            !dbus_connection_set_timeout_functions(
                    c, add_timeout, remove_timeout, toggle_timeout, b, NULL)) {
                dbus_event_detach(c);
                return -ENOMEM;
        }
        dbus_connection_set_dispatch_status_function(c, dispatch_status, b, NULL);
        dbus_connection_set_wakeup_main_function(c, wakeup_main, b, NULL);

        /* Messages may already be queued (e.g. read by a blocking call before we were attached). */
        if (dbus_connection_get_dispatch_status(c) == DBUS_DISPATCH_DATA_REMAINS)
                (void) sd_event_source_set_enabled(b->dispatch, SD_EVENT_ON);
        return 0;
}

void dbus_event_detach(DBusConnection *c) {
        if (!c || bridge_slot < 0 || !dbus_connection_get_data(c, bridge_slot))
                return;
        dbus_connection_set_dispatch_status_function(c, NULL, NULL, NULL);
        dbus_connection_set_wakeup_main_function(c, NULL, NULL, NULL);
        (void) dbus_connection_set_watch_functions(c, NULL, NULL, NULL, NULL, NULL);
        (void) dbus_connection_set_timeout_functions(c, NULL, NULL, NULL, NULL, NULL);
        (void) dbus_connection_set_data(c, bridge_slot, NULL, NULL); /* frees the bridge */
        dbus_connection_free_data_slot(&bridge_slot);
}

void dbus_connection_close_unrefp(DBusConnection **c) {
        if (!*c)
                return;
        dbus_event_detach(*c);
        dbus_connection_close(*c); /* harmless on an already closed connection */
        dbus_connection_unref(*c);
        *c = NULL;
}

int dbus_event_open_bus(sd_event *e, const char *address, DBusConnection **ret) {
        DBusError error = DBUS_ERROR_INIT;
        DBusConnection *c;
        int r;

        if (address)
                c = dbus_connection_open_private(address, &error);
        else
                c = dbus_bus_get_private(DBUS_BUS_SESSION, &error);
        if (!c) {
                dbus_error_free(&error);
                return -ECONNREFUSED;
        }
        if (address && !dbus_bus_register(c, &error)) {
                dbus_error_free(&error);
                dbus_connection_close(c);
                dbus_connection_unref(c);
                return -ECONNREFUSED;
        }
        dbus_connection_set_exit_on_disconnect(c, FALSE);
        r = dbus_event_attach(c, e);
        if (r < 0) {
                dbus_connection_close(c);
                dbus_connection_unref(c);
                return r;
        }
        *ret = c;
        return 0;
}
