/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "alloc-util.h"
#include "config.h"
#include "macro.h"
#include "p11-cert-lookup.h"
#include "p11-manager.h"
#include "p11-protocol.h"
#include "p11-registry.h"
#include "p11-uri.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define DEFAULT_POLL_USEC (1 * USEC_PER_SEC)
#define DEFAULT_CALL_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define DEFAULT_SIGN_TIMEOUT_USEC (120 * USEC_PER_SEC)
#define BACKOFF_MIN_USEC (500 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (30 * USEC_PER_SEC)
/* a helper that ran this long failed "for the first time" */
#define BACKOFF_RESET_USEC (60 * USEC_PER_SEC)
#define DEFAULT_LOAD_RETRY_USEC (30 * USEC_PER_SEC)
#define DEFAULT_LOAD_RETRY_MAX_USEC (3600 * USEC_PER_SEC)
#define SHUTDOWN_GRACE_USEC (500 * USEC_PER_MSEC)

typedef struct Helper Helper;
typedef struct Request Request;

typedef enum HelperState {
        HELPER_STARTING, /* forked, hello in flight */
        HELPER_RUNNING,
        HELPER_WAITING, /* failed; the restart timer is armed */
} HelperState;

typedef struct ModuleToken {
        P11Token token;
        uint64_t token_flags;
        P11Certificate *certs;
        P11Certificate **cert_ptrs;
        size_t n_certs;
        bool visible; /* certificates loaded and TOKEN_ADDED sent */
} ModuleToken;

typedef void (*RequestDone)(Helper *h, Request *req, const P11Frame *reply, int error);

struct Request {
        Request *next;
        uint8_t type;
        uint32_t serial;
        P11Writer frame; /* may hold a PIN: wiped when freed */
        uint64_t timeout_usec;
        RequestDone done;
        uint64_t slot_id;
        ModuleToken *token; /* LIST_CERTS: the pending token */
        P11SignCallback sign_cb;
        void *sign_userdata;
        bool pipelined; /* a SIGN without a PIN: may go to the helper behind another one (helper_dispatch) */
};

struct Helper {
        P11Manager *manager;
        char *module_path;
        HelperState state;
        pid_t pid;
        int fd;
        sd_event_source *io, *child, *call_timer, *poll_timer, *restart_timer;
        uint8_t *in;
        size_t in_size;
        Request *queue, *queue_tail, *current;
        Request *behind,
                *behind_tail; /* sent after current, answered after it, in order (helper_dispatch) */
        unsigned n_behind;
        uint32_t next_serial;
        ModuleToken **tokens;
        size_t n_tokens;
        uint64_t backoff_usec;      /* crashes and hangs */
        uint64_t load_backoff_usec; /* the module does not load */
        unsigned failures;          /* in a row, since the last good start */
        uint64_t running_since;
        bool restarted;
        bool started_once;
        bool poll_pending;
        bool slots_listed; /* the first slot list has been answered (or failed) */
        bool scanned;      /* ... and every token it showed has its certificates, or the helper failed */
        bool ending;       /* the socket closed or the process ended: it is going by itself */
};

struct P11Manager {
        sd_event *event;
        P11ManagerConfig config;
        P11ManagerCallback cb;
        void *userdata;
        Helper **helpers;
        size_t n_helpers;
        /* The visible tokens and their certificates, NULL-terminated, built when asked for after a change.
         */
        const P11Token **token_view;
        const P11Certificate **cert_view;
        size_t n_token_view, n_cert_view;
        sd_event_source **reapers; /* child sources of killed helpers that had not died yet */
        size_t n_reapers;
        bool freeing;
        P11ManagerScannedCallback scanned_cb; /* called once, when every helper has scanned */
        void *scanned_userdata;
        bool scanned;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void
emit(P11Manager *m, P11ManagerEvent event, const P11Token *t, const char *module, const char *reason) {
        if (!m->cb || m->freeing)
                return;
        P11ManagerEventData ev = { .event = event, .token = t, .module_path = module, .reason = reason };
        m->cb(m, &ev, m->userdata);
}

/* Inventory. */
static void certificate_done(P11Certificate *c) {
        free(c->uri);
        free(c->token_uri);
        free(c->label);
        free(c->id);
        free(c->der);
        X509_free(c->x509);
}

static ModuleToken *module_token_free(ModuleToken *t) {
        if (!t)
                return NULL;
        free(t->token.uri);
        free(t->token.module_path);
        free(t->token.label);
        free(t->token.manufacturer);
        free(t->token.model);
        free(t->token.serial);
        for (size_t i = 0; i < t->n_certs; i++)
                certificate_done(&t->certs[i]);
        free(t->certs);
        free(t->cert_ptrs);
        free(t);
        return NULL;
}

static void views_invalidate(P11Manager *m) {
        m->token_view = mfree(m->token_view);
        m->cert_view = mfree(m->cert_view);
}

static bool token_same(const ModuleToken *t, const P11SlotEntry *s) {
        return t->token.slot_id == s->slot_id && streq(t->token.label, s->label) &&
               streq(t->token.serial, s->serial) && streq(t->token.manufacturer, s->manufacturer) &&
               streq(t->token.model, s->model);
}

static int module_token_new(Helper *h, const P11SlotEntry *s, ModuleToken **ret) {
        ModuleToken *t = calloc(1, sizeof(ModuleToken));
        if (!t)
                return -ENOMEM;
        t->token.module_path = strdup(h->module_path);
        t->token.label = strdup(s->label);
        t->token.manufacturer = strdup(s->manufacturer);
        t->token.model = strdup(s->model);
        t->token.serial = strdup(s->serial);
        t->token.slot_id = s->slot_id;
        t->token_flags = s->token_flags;
        t->token.pin_flags = p11_pin_flags_from_token_flags(s->token_flags);
        if (!t->token.module_path || !t->token.label || !t->token.manufacturer || !t->token.model ||
            !t->token.serial) {
                module_token_free(t);
                return -ENOMEM;
        }
        P11UriToken ut = { s->label, s->manufacturer, s->model, s->serial };
        int r = p11_uri_format_token(&ut, &t->token.uri);
        if (r < 0) {
                module_token_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

/* The certificate, whole and alone in der, or NULL (callers then parse der themselves and report it). */
static X509 *parse_certificate(const uint8_t *der, size_t size) {
        const unsigned char *p = der;
        X509 *x;

        if (!der || size == 0 || size > LONG_MAX)
                return NULL;
        x = d2i_X509(NULL, &p, (long) size);
        if (!x || p != der + size) {
                X509_free(x);
                ERR_clear_error();
                return NULL;
        }
        return x;
}

static int module_token_set_certs(ModuleToken *t, P11CertList *list) {
        P11UriToken ut = { t->token.label, t->token.manufacturer, t->token.model, t->token.serial };
        size_t n = list->n_certs;
        int r;

        t->certs = calloc(MAX(n, (size_t) 1), sizeof(P11Certificate));
        t->cert_ptrs = calloc(MAX(n, (size_t) 1), sizeof(P11Certificate *));
        if (!t->certs || !t->cert_ptrs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                P11CertEntry *e = &list->certs[i];
                P11Certificate *c = &t->certs[t->n_certs];
                r = p11_uri_format_certificate(&ut, e->id, e->id_size, e->label, &c->uri);
                if (r < 0)
                        return r;
                t->n_certs++;
                c->token_uri = strdup(t->token.uri);
                if (!c->token_uri)
                        return -ENOMEM;
                c->label = TAKE_PTR(e->label);
                c->id = TAKE_PTR(e->id);
                c->id_size = e->id_size;
                c->der = TAKE_PTR(e->der);
                c->der_size = e->der_size;
                c->x509 = parse_certificate(c->der, c->der_size);
                c->has_private_key = e->has_private_key;
                t->cert_ptrs[i] = c;
        }
        return 0;
}

/* Takes the token out of the inventory, tells the user, frees it. */
static void helper_remove_token(Helper *h, size_t i) {
        ModuleToken *t = h->tokens[i];
        memmove(h->tokens + i, h->tokens + i + 1, sizeof(ModuleToken *) * (h->n_tokens - i - 1));
        h->n_tokens--;
        views_invalidate(h->manager);
        if (t->visible)
                emit(h->manager, P11_EVENT_TOKEN_REMOVED, &t->token, h->module_path, NULL);
        module_token_free(t);
}

static void helper_clear_tokens(Helper *h) {
        while (h->n_tokens > 0)
                helper_remove_token(h, h->n_tokens - 1);
}

/* Requests. */
static Request *request_free(Request *r) {
        if (!r)
                return NULL;
        p11_writer_done(&r->frame);
        free(r);
        return NULL;
}

static void helper_fail_full(Helper *h, const char *reason, int error, bool load_failed);
static void helper_scan_failed(Helper *h);
#define helper_fail(h, reason) helper_fail_full(h, reason, -ECONNRESET, false)
static void helper_dispatch(Helper *h);

static int helper_enqueue(Helper *h, Request *r) {
        r->serial = ++h->next_serial;
        /* The serial lives at offset 8 of the already encoded frame. */
        r->frame.data[8] = r->serial >> 24;
        r->frame.data[9] = r->serial >> 16;
        r->frame.data[10] = r->serial >> 8;
        r->frame.data[11] = r->serial;
        if (h->queue_tail)
                h->queue_tail->next = r;
        else
                h->queue = r;
        h->queue_tail = r;
        helper_dispatch(h);
        return 0;
}

/* A request of type whose frame is already encoded in *frame, which it takes over (also on failure). */
static int request_new(
        Helper *h, uint8_t type, uint64_t timeout_usec, RequestDone done, P11Writer *frame, Request **ret) {
        Request *r = calloc(1, sizeof(Request));
        if (!r) {
                p11_writer_done(frame);
                return -ENOMEM;
        }
        r->frame = TAKE_STRUCT(*frame);
        r->type = type;
        r->timeout_usec = timeout_usec;
        r->done = done;
        *ret = r;
        return 0;
}

static uint64_t call_timeout(Helper *h) {
        return h->manager->config.call_timeout_usec;
}

/* Queues a request that needs nothing but its answer (done) under the call timeout; frame as in
 * request_new(). */
static int helper_call(Helper *h, uint8_t type, RequestDone done, P11Writer *frame) {
        Request *req;
        int r;

        r = request_new(h, type, call_timeout(h), done, frame, &req);
        if (r < 0)
                return r;
        helper_enqueue(h, req);
        return 0;
}

static int on_call_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Helper *h = userdata;
        char reason[128];
        snprintf(
                reason, sizeof(reason), "the helper did not answer within %.1f s: the module hangs",
                (double) (h->current ? h->current->timeout_usec : 0) / USEC_PER_SEC);
        helper_fail_full(h, reason, -ETIME, false);
        return 0;
}

static void helper_arm_call_timer(Helper *h) {
        int k = sd_event_add_time_relative(
                h->manager->event, &h->call_timer, CLOCK_MONOTONIC, h->current->timeout_usec, 0,
                on_call_timeout, h);
        if (k < 0)
                helper_fail(h, "cannot arm the call timer");
}

/* Sends the queued requests that may go now: one when none is in flight; for a batch's signatures, up to
 * P11_PIPELINE_MAX in flight: a SIGN without a PIN behind SIGNs without a PIN on the same slot. The helper
 * then goes from one to the next without waiting for the agent to take each answer and send the next (the
 * agent may be busy a while, e.g. writing audit records); it answers them in order. Signatures with a PIN
 * (or on a PIN pad) are never sent ahead: they may log in or fail to, and what follows must see that. */
static void helper_dispatch(Helper *h) {
        while (h->queue && h->fd >= 0) {
                if (h->state == HELPER_STARTING && h->queue->type != P11_MSG_HELLO)
                        return;
                if (h->state == HELPER_WAITING)
                        return;
                if (h->current && (h->n_behind + 1 >= P11_PIPELINE_MAX || !h->current->pipelined ||
                                   !h->queue->pipelined || h->current->slot_id != h->queue->slot_id))
                        return;

                Request *r = h->queue;
                h->queue = r->next;
                if (!h->queue)
                        h->queue_tail = NULL;
                r->next = NULL;
                if (!h->current)
                        h->current = r;
                else {
                        if (h->behind_tail)
                                h->behind_tail->next = r;
                        else
                                h->behind = r;
                        h->behind_tail = r;
                        h->n_behind++;
                }

                /* Requests are small (a few KiB at most) and at most P11_PIPELINE_MAX are in flight, so the
                 * socket buffer always takes the whole frame; anything else means the helper is not reading.
                 */
                ssize_t n = send(h->fd, r->frame.data, r->frame.size, MSG_NOSIGNAL | MSG_DONTWAIT);
                explicit_bzero(r->frame.data, r->frame.size);
                if (n < 0 || (size_t) n != r->frame.size) {
                        /* Not helper_fail() here: we may be inside p11_manager_sign(), whose callback must
                         * not run before it returns. The shut-down socket reads as EOF on the next loop
                         * iteration. */
                        (void) shutdown(h->fd, SHUT_RDWR);
                        return;
                }
                /* The call timer runs for the request answered next; the one behind gets its own then. */
                if (h->current == r)
                        helper_arm_call_timer(h);
        }
}

/* The next request in flight after current, or NULL. */
static Request *helper_pop_behind(Helper *h) {
        Request *r = h->behind;
        if (!r)
                return NULL;
        h->behind = r->next;
        if (!h->behind)
                h->behind_tail = NULL;
        h->n_behind--;
        r->next = NULL;
        return r;
}

/* Completes every queued request with an error: the helper is gone. */
static void helper_flush_requests(Helper *h, int error) {
        Request *r = TAKE_PTR(h->current);
        if (r) {
                r->done(h, r, NULL, error);
                request_free(r);
        }
        while ((r = helper_pop_behind(h))) {
                r->done(h, r, NULL, error);
                request_free(r);
        }
        while ((r = h->queue)) {
                h->queue = r->next;
                if (!h->queue)
                        h->queue_tail = NULL;
                r->done(h, r, NULL, error);
                request_free(r);
        }
}

/* Process handling. */
static int on_reaped(sd_event_source *s, const siginfo_t *si, void *userdata) {
        P11Manager *m = userdata;
        for (size_t i = 0; i < m->n_reapers; i++)
                if (m->reapers[i] == s) {
                        m->reapers[i] = m->reapers[--m->n_reapers];
                        break;
                }
        sd_event_source_disable_unref(s);
        return 0;
}

/* SIGKILL, then reap. A helper stuck in uninterruptible sleep (a USB transfer that does not return) dies
 * only when that ends: after a short wait it is handed to a child source so the event loop is not blocked,
 * except when block is set (p11_manager_free(): nothing may be left running). *ret_killed tells whether it
 * was still running, i.e. whether a SIGKILL in its status is ours. */
static void helper_kill_and_reap(Helper *h, bool block, int *ret_status, bool *ret_killed) {
        P11Manager *m = h->manager;
        bool killed = false;
        int status = 0;

        h->child = sd_event_source_disable_unref(h->child);
        if (h->pid > 0) {
                bool reaped = false;
                pid_t p = 0;
                /* A dying process closes its socket a moment before it can be reaped: wait that moment
                 * (at most 50 ms), so that how it ended is its own, not our SIGKILL. */
                for (unsigned i = 0; i < (h->ending ? 50 : 1) && p == 0; i++) {
                        p = waitpid(h->pid, &status, WNOHANG);
                        if (p == 0 && h->ending)
                                (void) usleep(1000);
                }
                if (p == h->pid || (p < 0 && errno == ECHILD))
                        reaped = true; /* it had ended by itself: its status is its own */
                else {
                        killed = true;
                        (void) kill(h->pid, SIGKILL);
                }
                for (unsigned i = 0; i < 20 && !reaped; i++) {
                        p = waitpid(h->pid, &status, WNOHANG);
                        if (p == h->pid || (p < 0 && errno == ECHILD))
                                reaped = true;
                        else if (p == 0)
                                (void) usleep(5 * 1000);
                }
                if (!reaped && !block) {
                        sd_event_source *s = NULL;
                        sd_event_source **a = ARRAY_APPEND(m->reapers, m->n_reapers);
                        if (a) {
                                if (sd_event_add_child(m->event, &s, h->pid, WEXITED, on_reaped, m) >= 0) {
                                        *a = s;
                                        reaped = true;
                                        status = 0;
                                } else
                                        m->n_reapers--; /* no source: uncount its element */
                        }
                }
                if (!reaped)
                        while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
                                ;
                h->pid = 0;
        }
        if (ret_status)
                *ret_status = status;
        if (ret_killed)
                *ret_killed = killed;
}

static void helper_close(Helper *h) {
        h->io = sd_event_source_disable_unref(h->io);
        h->call_timer = sd_event_source_disable_unref(h->call_timer);
        h->fd = safe_close(h->fd);
        h->in_size = 0;
}

static int helper_start(Helper *h);

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata) {
        Helper *h = userdata;
        h->restart_timer = sd_event_source_disable_unref(h->restart_timer);
        /* The first start happens here too (from p11_manager_new() with no delay), so that its failures are
         * reported from the event loop like any other, never from inside p11_manager_new(). */
        h->restarted = h->started_once;
        h->started_once = true;
        int r = helper_start(h);
        if (r < 0) {
                char reason[128];
                snprintf(reason, sizeof(reason), "cannot start the helper: %s", strerror(-r));
                h->state = HELPER_RUNNING; /* so that helper_fail() does its work */
                helper_fail(h, reason);
        }
        return 0;
}

static void describe_status(int status, bool killed, const char *why, char *buf, size_t size) {
        /* Our own SIGKILL (after a timeout, say) is not news; someone else's (the OOM killer) is. */
        if (WIFSIGNALED(status) && !(killed && WTERMSIG(status) == SIGKILL))
                snprintf(
                        buf, size, "%s; the helper was killed by signal %s", why,
                        strsignal(WTERMSIG(status)));
        else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                snprintf(buf, size, "%s; the helper exited with status %d", why, WEXITSTATUS(status));
        else
                snprintf(buf, size, "%s", why);
}

static uint64_t backoff_next(uint64_t current, uint64_t first, uint64_t max) {
        return current == 0 ? MIN(first, max) : MIN(current * 2, max);
}

/* load_failed: the helper answered HELLO with "the module did not load". That will not change until the
 * module is installed or fixed, so it is retried on the slow schedule (up to an hour apart) and counted as
 * one failure going on, not a new one each time; a crash or hang gets a quick restart. */
static void helper_fail_full(Helper *h, const char *reason, int error, bool load_failed) {
        P11Manager *m = h->manager;
        char full[512];
        bool killed = false;
        int status = 0;

        if (h->state == HELPER_WAITING)
                return;
        h->state = HELPER_WAITING;
        helper_close(h);
        helper_kill_and_reap(h, false, &status, &killed);
        describe_status(status, killed, reason, full, sizeof(full));

        uint64_t now = now_usec(), delay;
        if (h->running_since > 0 && now - h->running_since >= BACKOFF_RESET_USEC)
                h->backoff_usec = 0;
        h->running_since = 0;
        h->failures++;
        if (load_failed)
                delay = h->load_backoff_usec = backoff_next(
                        h->load_backoff_usec, m->config.load_retry_usec, m->config.load_retry_max_usec);
        else
                delay = h->backoff_usec = backoff_next(h->backoff_usec, BACKOFF_MIN_USEC, BACKOFF_MAX_USEC);
        h->poll_pending = false;

        helper_flush_requests(h, error);
        helper_clear_tokens(h);

        int r = m->freeing ? -ECANCELED
                           : sd_event_add_time_relative(
                                     m->event, &h->restart_timer, CLOCK_MONOTONIC, delay, 0, on_restart, h);
        if (r < 0 && r != -ECANCELED && strlen(full) + 64 < sizeof(full))
                strcat(full, "; and no restart could be scheduled");
        P11ManagerEventData ev = {
                .event = P11_EVENT_HELPER_FAILED,
                .module_path = h->module_path,
                .reason = full,
                .failures = h->failures,
                .load_failed = load_failed,
                .retry_usec = r < 0 ? 0 : delay,
        };
        if (m->cb && !m->freeing)
                m->cb(m, &ev, m->userdata);
        helper_scan_failed(h);
}

static void helper_handle_frame(Helper *h, const P11Frame *f) {
        Request *r = h->current;
        if (!r || f->serial != r->serial ||
            (f->type != P11_MSG_ERROR && f->type != (uint8_t) (r->type | P11_MSG_REPLY))) {
                helper_fail(h, "the helper sent an unexpected message");
                return;
        }
        h->current = helper_pop_behind(h);
        h->call_timer = sd_event_source_disable_unref(h->call_timer);
        if (h->current)
                helper_arm_call_timer(h);
        r->done(h, r, f, 0);
        request_free(r);
        helper_dispatch(h);
}

static int on_helper_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Helper *h = userdata;

        if (!h->in) {
                h->in = malloc(P11_FRAME_MAX);
                if (!h->in) {
                        helper_fail(h, "out of memory");
                        return 0;
                }
        }
        for (;;) {
                ssize_t n = recv(h->fd, h->in + h->in_size, P11_FRAME_MAX - h->in_size, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        helper_fail(h, "cannot read from the helper");
                        return 0;
                }
                if (n == 0) {
                        h->ending = true;
                        helper_fail(h, "the helper closed the connection");
                        return 0;
                }
                h->in_size += (size_t) n;

                /* Every complete frame in the buffer, in order. */
                for (;;) {
                        size_t total;
                        int r = p11_frame_peek_size(h->in, h->in_size, &total);
                        if (r == -EAGAIN)
                                break;
                        if (r < 0) {
                                helper_fail(h, "the helper sent a malformed frame");
                                return 0;
                        }
                        if (h->in_size < total)
                                break;
                        P11Frame f;
                        r = p11_frame_parse(h->in, total, &f);
                        if (r < 0) {
                                helper_fail(h, "the helper sent a malformed frame");
                                return 0;
                        }
                        helper_handle_frame(h, &f);
                        if (h->fd < 0) /* failed while handling it */
                                return 0;
                        memmove(h->in, h->in + total, h->in_size - total);
                        h->in_size -= total;
                }
                if (h->in_size == P11_FRAME_MAX) {
                        helper_fail(h, "the helper sent an oversized frame");
                        return 0;
                }
        }
        return 0;
}

static int on_helper_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Helper *h = userdata;

        /* The child is still a zombie while this runs (sd-event reaps after the callback): helper_fail()
         * reaps it itself, so its pid cannot be reused before we are done with it, and adds how it ended. */
        h->ending = true;
        /* What it wrote before it ended comes first: its answer to HELLO says that the module did not load,
         * and a busy machine may deliver the exit before that answer was read. */
        if (h->fd >= 0)
                (void) on_helper_io(NULL, h->fd, EPOLLIN, h);
        if (h->fd >= 0)
                helper_fail(h, "the helper process ended");
        return 0;
}

/* The first scan: every helper has listed its slots once and read the certificates of each token it found,
 * or has failed (a module that does not load or a helper that crashes must not hold the inventory back). */
static void manager_check_scanned(P11Manager *m) {
        if (m->scanned || m->freeing)
                return;
        for (size_t i = 0; i < m->n_helpers; i++)
                if (!m->helpers[i]->scanned)
                        return;
        m->scanned = true;
        if (m->scanned_cb)
                m->scanned_cb(m, m->scanned_userdata);
}

static void helper_check_scanned(Helper *h) {
        if (h->scanned || !h->slots_listed)
                return;
        for (size_t i = 0; i < h->n_tokens; i++)
                if (!h->tokens[i]->visible)
                        return;
        h->scanned = true;
        manager_check_scanned(h->manager);
}

static void helper_scan_failed(Helper *h) {
        h->slots_listed = true;
        h->scanned = true;
        manager_check_scanned(h->manager);
}

bool p11_manager_scanned(P11Manager *m) {
        return m && m->scanned;
}

void p11_manager_set_scanned_callback(P11Manager *m, P11ManagerScannedCallback cb, void *userdata) {
        m->scanned_cb = cb;
        m->scanned_userdata = userdata;
}

/* Slot polling. */
static void list_certs_done(Helper *h, Request *req, const P11Frame *reply, int error) {
        _cleanup_(p11_cert_list_done) P11CertList list = {};
        ModuleToken *t = req->token;
        size_t i;

        if (!reply)
                return; /* the helper failed: its tokens are gone already */
        for (i = 0; i < h->n_tokens; i++)
                if (h->tokens[i] == t)
                        break;
        if (i == h->n_tokens)
                return; /* removed meanwhile */

        if (reply->type == P11_MSG_ERROR || p11_decode_cert_list(reply, &list) < 0 ||
            module_token_set_certs(t, &list) < 0) {
                if (reply->type != P11_MSG_ERROR) {
                        helper_fail(h, "the helper sent a malformed certificate list");
                        return;
                }
                /* Forget the token; the next poll sees it as new and tries again. */
                helper_remove_token(h, i);
                helper_check_scanned(h);
                return;
        }
        t->visible = true;
        views_invalidate(h->manager);
        emit(h->manager, P11_EVENT_TOKEN_ADDED, &t->token, h->module_path, NULL);
        helper_check_scanned(h);
}

static void list_slots_done(Helper *h, Request *req, const P11Frame *reply, int error) {
        _cleanup_(p11_slot_list_done) P11SlotList list = {};

        h->poll_pending = false;
        if (!reply || reply->type == P11_MSG_ERROR) {
                helper_scan_failed(h);
                return; /* try again at the next poll */
        }
        if (p11_decode_slot_list(reply, &list) < 0) {
                helper_fail(h, "the helper sent a malformed slot list");
                return;
        }

        /* Gone: not listed any more, or another token in the same slot. */
        for (size_t i = h->n_tokens; i > 0; i--) {
                ModuleToken *t = h->tokens[i - 1];
                bool present = false;
                for (size_t j = 0; j < list.n_slots; j++)
                        if (token_same(t, &list.slots[j])) {
                                present = true;
                                t->token_flags = list.slots[j].token_flags;
                                t->token.pin_flags = p11_pin_flags_from_token_flags(t->token_flags);
                        }
                if (!present)
                        helper_remove_token(h, i - 1);
        }

        for (size_t j = 0; j < list.n_slots; j++) {
                bool known = false;
                for (size_t i = 0; i < h->n_tokens; i++)
                        if (token_same(h->tokens[i], &list.slots[j]))
                                known = true;
                if (known)
                        continue;

                _cleanup_(p11_writer_done) P11Writer w = {};
                ModuleToken *t;
                Request *r;
                if (p11_encode_slot_request(&w, P11_MSG_LIST_CERTS, 0, list.slots[j].slot_id) < 0 ||
                    module_token_new(h, &list.slots[j], &t) < 0)
                        continue;
                ModuleToken **a = ARRAY_APPEND(h->tokens, h->n_tokens);
                if (!a || request_new(h, P11_MSG_LIST_CERTS, call_timeout(h), list_certs_done, &w, &r) < 0) {
                        if (a)
                                h->n_tokens--; /* t is not kept: neither is the element appended for it */
                        module_token_free(t);
                        continue;
                }
                *a = t;
                r->token = t;
                r->slot_id = t->token.slot_id;
                helper_enqueue(h, r);
                if (h->state == HELPER_WAITING)
                        return;
        }
        h->slots_listed = true;
        helper_check_scanned(h);
}

static void helper_poll(Helper *h) {
        _cleanup_(p11_writer_done) P11Writer w = {};

        if (h->state != HELPER_RUNNING || h->poll_pending)
                return;
        if (p11_encode_empty(&w, P11_MSG_LIST_SLOTS, 0) < 0)
                return;
        h->poll_pending = true;
        if (helper_call(h, P11_MSG_LIST_SLOTS, list_slots_done, &w) < 0)
                h->poll_pending = false;
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Helper *h = userdata;
        helper_poll(h);
        (void) sd_event_source_set_time_relative(s, h->manager->config.poll_usec);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static void hello_done(Helper *h, Request *req, const P11Frame *reply, int error) {
        if (!reply)
                return;
        if (reply->type == P11_MSG_ERROR) {
                _cleanup_(p11_error_reply_done) P11ErrorReply e = {};
                char reason[P11_STRING_MAX + 64];
                if (p11_decode_error_reply(reply, &e) < 0) {
                        snprintf(reason, sizeof(reason), "the helper refused to start");
                        helper_fail(h, reason);
                        return;
                }
                snprintf(reason, sizeof(reason), "the module refused to load: %s", strna(e.message));
                helper_fail_full(h, reason, -ECONNRESET, e.code == P11_ERROR_MODULE);
                return;
        }
        _cleanup_(p11_hello_reply_done) P11HelloReply hello = {};
        if (p11_decode_hello_reply(reply, &hello) < 0 || hello.version != P11_PROTOCOL_VERSION) {
                helper_fail(h, "the helper speaks another protocol version");
                return;
        }
        h->state = HELPER_RUNNING;
        h->running_since = now_usec();
        h->failures = 0;
        h->load_backoff_usec = 0;
        if (h->restarted) {
                h->restarted = false;
                emit(h->manager, P11_EVENT_HELPER_RESTARTED, NULL, h->module_path, NULL);
        }
        helper_poll(h);
}

static const char *helper_binary(P11Manager *m) {
        if (!isempty(m->config.helper_path))
                return m->config.helper_path;
        const char *e = getenv("KYSO_P11_HELPER");
        if (!isempty(e))
                return e;
        return PKGLIBEXECDIR "/kyso-p11-helper";
}

static _noreturn_ void child_exec(int fd, const char *binary, const char *module, pid_t parent) {
        sigset_t all;

        /* Only async-signal-safe calls from here on. If the agent dies, even by SIGKILL, the helper must die
         * with it: stuck in a module call it would never see the socket close. Set here rather than in the
         * helper, because only here is the agent's pid known, to catch an agent that died before prctl(). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        (void) signal(SIGPIPE, SIG_DFL);
        if (fd == 3) {
                if (fcntl(fd, F_SETFD, 0) < 0)
                        _exit(127);
        } else if (dup2(fd, 3) < 0)
                _exit(127);
        (void) close_range(4, UINT_MAX, 0);
        char *argv[] = { (char *) "kyso-p11-helper", (char *) "--module", (char *) module, NULL };
        execv(binary, argv);
        _exit(127);
}

static int helper_start(Helper *h) {
        P11Manager *m = h->manager;
        _cleanup_close_ int parent = -EBADF, child = -EBADF;
        _cleanup_(p11_writer_done) P11Writer w = {};
        int pair[2], r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        parent = pair[0];
        child = pair[1];
        if (fcntl(parent, F_SETFL, O_NONBLOCK) < 0)
                return negative_errno();

        const char *binary = helper_binary(m);
        pid_t self = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                child_exec(child, binary, h->module_path, self);

        h->pid = pid;
        h->fd = TAKE_FD(parent);
        h->state = HELPER_STARTING;
        h->ending = false;
        h->next_serial = 0;
        h->in_size = 0;

        r = sd_event_add_child(m->event, &h->child, pid, WEXITED, on_helper_exit, h);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(m->event, &h->io, h->fd, EPOLLIN, on_helper_io, h);
        if (r < 0)
                goto fail;

        P11HelloRequest hello = { .min_version = P11_PROTOCOL_VERSION, .max_version = P11_PROTOCOL_VERSION };
        r = p11_encode_hello_request(&w, 0, &hello);
        if (r < 0)
                goto fail;
        r = helper_call(h, P11_MSG_HELLO, hello_done, &w);
        if (r < 0)
                goto fail;
        return 0;
fail:
        helper_close(h);
        helper_kill_and_reap(h, false, NULL, NULL);
        return r;
}

/* Construction. */
static Helper *helper_free(Helper *h) {
        if (!h)
                return NULL;
        helper_close(h);
        helper_kill_and_reap(h, true, NULL, NULL);
        helper_flush_requests(h, -ECANCELED);
        for (size_t i = 0; i < h->n_tokens; i++)
                module_token_free(h->tokens[i]);
        free(h->tokens);
        sd_event_source_disable_unref(h->poll_timer);
        sd_event_source_disable_unref(h->restart_timer);
        free(h->in);
        free(h->module_path);
        free(h);
        return NULL;
}

static int manager_add_module(P11Manager *m, const char *path) {
        _cleanup_free_ char *canonical = NULL;

        /* Canonical, so that one module reached through two names is loaded once; a module missing now
         * keeps its name and fails to load (reported, retried with back-off) until it appears. */
        canonical = realpath(path, NULL);
        if (!canonical) {
                if (errno == ENOMEM)
                        return -ENOMEM;
                if (path[0] != '/')
                        return 0; /* a relative path that resolves to nothing names nothing */
                canonical = strdup(path);
                if (!canonical)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_helpers; i++)
                if (streq(m->helpers[i]->module_path, canonical))
                        return 0;

        _cleanup_free_ Helper *h = calloc(1, sizeof(Helper));
        if (!h)
                return -ENOMEM;
        /* Appended only once h exists: the loops over m->helpers dereference every counted one. */
        Helper **a = ARRAY_APPEND(m->helpers, m->n_helpers);
        if (!a)
                return -ENOMEM;
        h->manager = m;
        h->fd = -EBADF;
        h->state = HELPER_WAITING;
        h->module_path = TAKE_PTR(canonical);
        *a = TAKE_PTR(h);
        return 0;
}

int p11_manager_new(
        sd_event *event, const P11ManagerConfig *config, P11ManagerCallback cb, void *userdata,
        P11Manager **ret) {
        _cleanup_(p11_manager_freep) P11Manager *m = NULL;
        P11ManagerConfig defaults = { .use_p11kit_registry = true };
        sigset_t ss;
        int r;

        if (!event || !ret)
                return -EINVAL;
        if (!config)
                config = &defaults;

        /* sd-event child sources need SIGCHLD blocked. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        r = pthread_sigmask(SIG_BLOCK, &ss, NULL);
        if (r != 0)
                return -r;

        m = calloc(1, sizeof(P11Manager));
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(event);
        m->cb = cb;
        m->userdata = userdata;
        m->config.use_p11kit_registry = config->use_p11kit_registry;
        m->config.poll_usec = config->poll_usec ?: DEFAULT_POLL_USEC;
        m->config.call_timeout_usec = config->call_timeout_usec ?: DEFAULT_CALL_TIMEOUT_USEC;
        m->config.sign_timeout_usec = config->sign_timeout_usec ?: DEFAULT_SIGN_TIMEOUT_USEC;
        m->config.load_retry_usec = config->load_retry_usec ?: DEFAULT_LOAD_RETRY_USEC;
        m->config.load_retry_max_usec = config->load_retry_max_usec ?: DEFAULT_LOAD_RETRY_MAX_USEC;
        if (config->helper_path) {
                m->config.helper_path = strdup(config->helper_path);
                if (!m->config.helper_path)
                        return -ENOMEM;
        }

        STRV_FOREACH (p, config->module_paths) {
                r = manager_add_module(m, *p);
                if (r < 0)
                        return r;
        }
        if (config->use_p11kit_registry) {
                _cleanup_strv_free_ char **paths = NULL;
                r = p11_registry_list_modules(config->p11kit_config_dirs, NULL, &paths);
                if (r < 0)
                        return r;
                STRV_FOREACH (p, paths) {
                        r = manager_add_module(m, *p);
                        if (r < 0)
                                return r;
                }
        }

        for (size_t i = 0; i < m->n_helpers; i++) {
                Helper *h = m->helpers[i];
                r = sd_event_add_time_relative(
                        m->event, &h->restart_timer, CLOCK_MONOTONIC, 0, 0, on_restart, h);
                if (r < 0)
                        return r;
                r = sd_event_add_time_relative(
                        m->event, &h->poll_timer, CLOCK_MONOTONIC, m->config.poll_usec, 0, on_poll, h);
                if (r < 0)
                        return r;
        }

        m->scanned = m->n_helpers == 0; /* nothing to scan */
        *ret = TAKE_PTR(m);
        return 0;
}

P11Manager *p11_manager_free(P11Manager *m) {
        if (!m)
                return NULL;
        m->freeing = true;

        /* Closing the socket asks each helper to log out, finalize the module and exit; a short grace
         * period for all of them together, then SIGKILL for the rest. */
        for (size_t i = 0; i < m->n_helpers; i++) {
                m->helpers[i]->child = sd_event_source_disable_unref(m->helpers[i]->child);
                helper_close(m->helpers[i]);
        }
        uint64_t deadline = now_usec() + SHUTDOWN_GRACE_USEC;
        for (;;) {
                bool running = false;
                for (size_t i = 0; i < m->n_helpers; i++) {
                        Helper *h = m->helpers[i];
                        if (h->pid <= 0)
                                continue;
                        pid_t p = waitpid(h->pid, NULL, WNOHANG);
                        if (p == h->pid || (p < 0 && errno == ECHILD))
                                h->pid = 0;
                        else
                                running = true;
                }
                if (!running || now_usec() >= deadline)
                        break;
                (void) usleep(10 * 1000);
        }
        /* Callbacks first, while everything is still in place: they may look at the inventory. New
         * requests are refused from here on (m->freeing). */
        for (size_t i = 0; i < m->n_helpers; i++)
                helper_flush_requests(m->helpers[i], -ECANCELED);
        for (size_t i = 0; i < m->n_helpers; i++)
                helper_free(m->helpers[i]);
        free(m->helpers);
        for (size_t i = 0; i < m->n_reapers; i++) {
                pid_t pid;
                if (sd_event_source_get_child_pid(m->reapers[i], &pid) >= 0) {
                        (void) kill(pid, SIGKILL);
                        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                                ;
                }
                sd_event_source_disable_unref(m->reapers[i]);
        }
        free(m->reapers);
        views_invalidate(m);
        free(m->config.helper_path);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

static int views_build(P11Manager *m) {
        size_t n_tokens = 0, n_certs = 0, t = 0, c = 0;

        if (m->token_view)
                return 0;
        for (size_t i = 0; i < m->n_helpers; i++)
                for (size_t j = 0; j < m->helpers[i]->n_tokens; j++) {
                        n_tokens++;
                        n_certs += m->helpers[i]->tokens[j]->n_certs;
                }
        m->token_view = calloc(n_tokens + 1, sizeof(P11Token *));
        m->cert_view = calloc(n_certs + 1, sizeof(P11Certificate *));
        if (!m->token_view || !m->cert_view) {
                views_invalidate(m);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_helpers; i++)
                for (size_t j = 0; j < m->helpers[i]->n_tokens; j++) {
                        ModuleToken *mt = m->helpers[i]->tokens[j];
                        if (!mt->visible)
                                continue;
                        m->token_view[t++] = &mt->token;
                        for (size_t k = 0; k < mt->n_certs; k++)
                                m->cert_view[c++] = &mt->certs[k];
                }
        m->n_token_view = t;
        m->n_cert_view = c;
        return 0;
}

/* The views (views_build()), each pair of outputs only when asked for. */
static int views_get(
        P11Manager *m, const P11Token *const **ret_tokens, size_t *ret_n_tokens,
        const P11Certificate *const **ret_certs, size_t *ret_n_certs) {
        int r;

        if (!m)
                return -EINVAL;
        r = views_build(m);
        if (r < 0)
                return r;
        if (ret_tokens) {
                *ret_tokens = m->token_view;
                *ret_n_tokens = m->n_token_view;
        }
        if (ret_certs) {
                *ret_certs = m->cert_view;
                *ret_n_certs = m->n_cert_view;
        }
        return 0;
}

int p11_manager_get_tokens(P11Manager *m, const P11Token *const **ret, size_t *ret_n) {
        if (!ret || !ret_n)
                return -EINVAL;
        return views_get(m, ret, ret_n, NULL, NULL);
}

int p11_manager_get_certificates(P11Manager *m, const P11Certificate *const **ret, size_t *ret_n) {
        if (!ret || !ret_n)
                return -EINVAL;
        return views_get(m, NULL, NULL, ret, ret_n);
}

int p11_manager_get_pin_flags(P11Manager *m, const char *uri, unsigned *ret_flags) {
        int r;

        if (!m || !ret_flags)
                return -EINVAL;
        r = p11_uri_validate(uri);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_helpers; i++)
                for (size_t j = 0; j < m->helpers[i]->n_tokens; j++) {
                        ModuleToken *t = m->helpers[i]->tokens[j];
                        if (t->visible && p11_uri_match_token(uri, &t->token) > 0) {
                                *ret_flags = t->token.pin_flags;
                                return 0;
                        }
                }
        return -ENODEV;
}

/* Signing. */
static ModuleToken *helper_find_token(Helper *h, uint64_t slot_id) {
        for (size_t i = 0; i < h->n_tokens; i++)
                if (h->tokens[i]->token.slot_id == slot_id)
                        return h->tokens[i];
        return NULL;
}

static void sign_done(Helper *h, Request *req, const P11Frame *reply, int error) {
        _cleanup_(p11_sign_reply_done) P11SignReply sig = {};
        _cleanup_(p11_error_reply_done) P11ErrorReply e = {};
        P11SignResult result = {};

        if (!reply) {
                result.error = error;
                result.code = error == -ETIME ? P11_ERROR_TIMEOUT : P11_ERROR_HELPER_FAILED;
                result.message = error == -ECANCELED ? "the token manager was shut down"
                                                     : "the token's helper process failed";
                if (error == -ECANCELED)
                        result.code = P11_ERROR_CANCELED;
        } else if (reply->type == P11_MSG_ERROR) {
                if (p11_decode_error_reply(reply, &e) < 0) {
                        result.code = P11_ERROR_PROTOCOL;
                        result.error = p11_error_to_errno(result.code);
                        result.message = "malformed error from the helper";
                } else {
                        result.error = p11_error_to_errno(e.code);
                        result.code = e.code;
                        result.pin_flags = e.pin_flags;
                        result.message = e.message;
                        if (e.code == P11_ERROR_PIN_INCORRECT || e.code == P11_ERROR_PIN_LOCKED ||
                            e.code == P11_ERROR_NOT_LOGGED_IN || e.code == P11_ERROR_PIN_LEN_RANGE) {
                                ModuleToken *t = helper_find_token(h, req->slot_id);
                                if (t)
                                        t->token.pin_flags = e.pin_flags;
                        }
                }
        } else if (req->type == P11_MSG_LOGIN) {
                if (p11_decode_empty(reply) < 0) {
                        result.code = P11_ERROR_PROTOCOL;
                        result.error = p11_error_to_errno(result.code);
                        result.message = "malformed reply from the helper";
                }
        } else if (p11_decode_sign_reply(reply, &sig) < 0) {
                result.code = P11_ERROR_PROTOCOL;
                result.error = p11_error_to_errno(result.code);
                result.message = "malformed signature from the helper";
        } else {
                result.signature = sig.signature;
                result.signature_size = sig.signature_size;
                result.always_authenticate = sig.always_authenticate;
        }
        if (req->sign_cb) /* NULL: cancelled */
                req->sign_cb(h->manager, &result, req->sign_userdata);
}

/* The helper and token that hold cert (from the manager's views); -ENODEV when its helper is not running. */
static int
module_token_of(P11Manager *m, const P11Certificate *cert, Helper **ret_helper, ModuleToken **ret_token) {
        for (size_t i = 0; i < m->n_helpers; i++)
                for (size_t j = 0; j < m->helpers[i]->n_tokens; j++) {
                        ModuleToken *t = m->helpers[i]->tokens[j];
                        for (size_t k = 0; k < t->n_certs; k++) {
                                if (&t->certs[k] != cert)
                                        continue;
                                if (m->helpers[i]->state != HELPER_RUNNING)
                                        return -ENODEV;
                                *ret_helper = m->helpers[i];
                                *ret_token = t;
                                return 0;
                        }
                }
        return -ENODEV;
}

/* A SIGN or LOGIN whose frame is encoded in *frame (taken over, also on failure), queued on h: its answer
 * goes to cb (sign_done()). The callback never runs from inside this call: a send failure completes it from
 * the loop. */
static int sign_request_enqueue(
        Helper *h, uint8_t type, P11Writer *frame, uint64_t slot_id, bool pipelined, P11SignCallback cb,
        void *userdata) {
        Request *req;
        int r;

        r = request_new(h, type, h->manager->config.sign_timeout_usec, sign_done, frame, &req);
        if (r < 0)
                return r;
        req->slot_id = slot_id;
        req->sign_cb = cb;
        req->sign_userdata = userdata;
        req->pipelined = pipelined;
        helper_enqueue(h, req);
        return 0;
}

int p11_manager_sign(
        P11Manager *m, const char *cert_uri, const Secret *pin, const struct P11SignMechanism *mechanism,
        const void *digest, size_t digest_size, unsigned flags, P11SignCallback cb, void *userdata) {
        const P11Token *const *tokens;
        const P11Certificate *const *certs, *cert, *found;
        size_t n_tokens, n_certs;
        Helper *found_helper;
        ModuleToken *found_token;
        _cleanup_(p11_writer_done) P11Writer w = {}; /* holds the PIN until the request takes it */
        int r;

        if (!m || !mechanism || !digest || !cb ||
            (flags & ~(unsigned) (P11_SIGN_KEEP_LOGIN | P11_SIGN_USE_LOGIN)))
                return -EINVAL;
        if (m->freeing)
                return -ESHUTDOWN;
        if (p11_mechanism_validate(mechanism, digest_size) < 0)
                return -EINVAL;
        if (secret_size(pin) > P11_PIN_MAX)
                return -EINVAL;
        r = p11_manager_get_tokens(m, &tokens, &n_tokens);
        if (r >= 0)
                r = p11_manager_get_certificates(m, &certs, &n_certs);
        if (r >= 0)
                r = p11_certificate_lookup(
                        cert_uri, tokens, n_tokens, certs, n_certs, P11_LOOKUP_NEED_KEY, NULL, &cert);
        if (r < 0)
                return r;
        r = module_token_of(m, cert, &found_helper, &found_token);
        if (r < 0)
                return r;
        found = cert;

        bool pin_pad = !pin && (found_token->token.pin_flags & P11_PROTECTED_AUTH_PATH);
        P11SignRequest sr = {
                .slot_id = found_token->token.slot_id,
                .id = found->id,
                .id_size = found->id_size,
                .mechanism = *mechanism,
                .flags = (pin_pad ? P11_FLAG_PROTECTED_AUTH : 0) |
                         ((flags & P11_SIGN_KEEP_LOGIN) ? P11_FLAG_KEEP_LOGIN : 0) |
                         ((flags & P11_SIGN_USE_LOGIN) ? P11_FLAG_USE_LOGIN : 0),
                .digest = (uint8_t *) digest,
                .digest_size = digest_size,
                .pin = (Secret *) pin,
        };
        r = p11_encode_sign_request(&w, 0, &sr);
        if (r < 0)
                return r;
        return sign_request_enqueue(
                found_helper, P11_MSG_SIGN, &w, sr.slot_id, !pin && !pin_pad, cb, userdata);
}

/* The one present token a URI names: -ENODEV for none, -ENOTUNIQ for several. */
static int find_token(P11Manager *m, const char *uri, Helper **ret_helper, ModuleToken **ret_token) {
        Helper *found_helper = NULL;
        ModuleToken *found = NULL;
        int r;

        if (m->freeing)
                return -ESHUTDOWN;
        r = p11_uri_validate(uri);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_helpers; i++) {
                Helper *h = m->helpers[i];
                if (h->state != HELPER_RUNNING)
                        continue;
                for (size_t j = 0; j < h->n_tokens; j++) {
                        if (!h->tokens[j]->visible || p11_uri_match_token(uri, &h->tokens[j]->token) <= 0)
                                continue;
                        if (found)
                                return -ENOTUNIQ;
                        found = h->tokens[j];
                        found_helper = h;
                }
        }
        if (!found)
                return -ENODEV;
        *ret_helper = found_helper;
        *ret_token = found;
        return 0;
}

int p11_manager_login(
        P11Manager *m, const char *token_uri, const Secret *pin, P11SignCallback cb, void *userdata) {
        _cleanup_(p11_writer_done) P11Writer w = {}; /* holds the PIN until the request takes it */
        Helper *h;
        ModuleToken *t;
        int r;

        if (!m || !cb || secret_size(pin) > P11_PIN_MAX || (pin && secret_size(pin) == 0))
                return -EINVAL;
        r = find_token(m, token_uri, &h, &t);
        if (r < 0)
                return r;
        if (!pin && !(t->token.pin_flags & P11_PROTECTED_AUTH_PATH))
                return -EINVAL;
        P11LoginRequest lr = {
                .slot_id = t->token.slot_id,
                .flags = pin ? 0 : P11_FLAG_PROTECTED_AUTH,
                .pin = (Secret *) pin,
        };
        r = p11_encode_login_request(&w, 0, &lr);
        if (r < 0)
                return r;
        return sign_request_enqueue(h, P11_MSG_LOGIN, &w, lr.slot_id, false, cb, userdata);
}

static void logout_done(Helper *h, Request *req, const P11Frame *reply, int error) {
        /* Nothing to report: a token that is gone or a helper that failed is logged out anyway. */
}

int p11_manager_logout(P11Manager *m, const char *token_uri) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        Helper *h;
        ModuleToken *t;
        int r;

        if (!m)
                return -EINVAL;
        r = find_token(m, token_uri, &h, &t);
        if (r < 0)
                return r;
        r = p11_encode_slot_request(&w, P11_MSG_LOGOUT, 0, t->token.slot_id);
        if (r < 0)
                return r;
        return helper_call(h, P11_MSG_LOGOUT, logout_done, &w);
}

int p11_manager_cancel(P11Manager *m, void *userdata) {
        int n = 0;

        if (!m)
                return -EINVAL;
        for (size_t i = 0; i < m->n_helpers; i++) {
                Helper *h = m->helpers[i];
                for (Request *c = h->current; c; c = c == h->current ? h->behind : c->next)
                        if (c->sign_cb && c->sign_userdata == userdata) {
                                c->sign_cb = NULL;
                                n++;
                        }
                for (Request **r = &h->queue; *r;) {
                        if (!(*r)->sign_cb || (*r)->sign_userdata != userdata) {
                                r = &(*r)->next;
                                continue;
                        }
                        Request *dead = *r;
                        *r = dead->next;
                        if (h->queue_tail == dead) {
                                /* The new tail is the request before it, or none. */
                                h->queue_tail = NULL;
                                for (Request *t = h->queue; t; t = t->next)
                                        h->queue_tail = t;
                        }
                        request_free(dead);
                        n++;
                }
        }
        return n;
}

bool p11_certificate_key_after_login(const P11Certificate *c, const P11Token *token) {
        return !c->has_private_key && token && (token->pin_flags & P11_LOGIN_REQUIRED) && c->id_size > 0;
}
