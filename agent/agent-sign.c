/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "pin-cache.h"
#include "prompt-pinentry.h"
#include "sign-request.h"

/* Network waits (OCSP, CRL, TSA) run on worker threads; a few requests of different tokens at once. */
#define SIGN_WORKER_THREADS 8U

size_t agent_sign_token_load(AgentSign *s, const char *token_uri) {
        size_t n = 0;
        for (SignRequest *r = s->requests; r; r = r->next)
                if (streq_ptr(r->token_uri, token_uri))
                        n++;
        return n;
}

bool agent_sign_token_running(AgentSign *s, const SignRequest *self) {
        for (SignRequest *r = s->requests; r && r != self; r = r->next)
                if (streq_ptr(r->token_uri, self->token_uri))
                        return true;
        return false;
}

static int defer_cb(sd_event_source *src, void *userdata) {
        SignRequest *r = userdata;
        (void) src;
        request_step(r);
        return 0;
}

void request_schedule(SignRequest *r) {
        if (!r->owner)
                return;
        if (!r->defer) {
                if (sd_event_add_defer(r->owner->event, &r->defer, defer_cb, r) < 0) {
                        (void) log_oom();
                        return;
                }
                /* Below the bus: calls are served before the requests' steps. */
                (void) sd_event_source_set_priority(r->defer, SD_EVENT_PRIORITY_IDLE);
        }
        (void) sd_event_source_set_enabled(r->defer, SD_EVENT_ONESHOT);
}

/* Wakes the requests that may proceed now: the head of each token queue, and prompt waiters. */
void agent_sign_queue_kick(AgentSign *s) {
        for (SignRequest *r = s->requests; r; r = r->next)
                if ((r->state == REQ_QUEUED && !agent_sign_token_running(s, r)) ||
                    r->state == REQ_WAIT_PROMPT)
                        request_schedule(r);
}

int agent_sign_new(
        sd_event *event, DBusConnection *bus, P11Manager *manager, const AgentConfig *config,
        AuditLog *audit, AgentSign **ret) {
        AgentSign *s;
        PinentryConfig pc = {};
        int k;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->bus = dbus_connection_ref(bus);
        s->manager = manager;
        s->config = config;
        s->audit = audit;

        pc.program = config->pinentry_program;
        pc.timeout_usec = config->prompt_timeout_usec;
        k = pinentry_prompter_new(event, &pc, &s->prompter);
        if (k < 0)
                goto fail;
        /* Nothing is kept until the agent gives a session watch and a request reads the policy. */
        k = pin_cache_new(&(PinCacheConfig){}, &s->pin_cache);
        if (k < 0)
                goto fail;
        k = pin_cache_attach_event(s->pin_cache, event);
        if (k < 0)
                goto fail;
        k = agent_worker_new(event, SIGN_WORKER_THREADS, &s->worker);
        if (k < 0)
                goto fail;
        k = policy_cache_new(POLICY_CACHE_SETTLE_USEC, &s->policy_cache);
        if (k < 0)
                goto fail;

        k = agent_sign_bus_register(s);
        if (k < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        agent_sign_free(s);
        return k;
}

AgentSign *agent_sign_free(AgentSign *s) {
        if (!s)
                return NULL;
        while (s->requests) {
                SignRequest *r = s->requests;
                r->cancelled = true;
                request_fail_all(
                        r, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED,
                        _("The agent stopped, so nothing was signed. Sign again."));
        }
        agent_worker_free(s->worker); /* every job was cancelled with its request */
        prompter_free(s->prompter);
        pin_cache_free(s->pin_cache); /* wipes every kept PIN */
        policy_cache_free(s->policy_cache);
        agent_sign_bus_unregister(s);
        if (s->bus)
                dbus_connection_unref(s->bus);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void agent_sign_set_prompters(AgentSign *s, PrompterRegistry *prompters) {
        s->prompters = prompters;
}

void agent_sign_set_revocation(AgentSign *s, const AgentRevocation *revocation) {
        s->revocation = revocation;
}

void agent_sign_set_policy_recorded(AgentSign *s, const char *digest) {
        if (s)
                snprintf(s->policy_digest, sizeof s->policy_digest, "%s", strempty(digest));
}

void agent_sign_token_removed(AgentSign *s, const char *token_uri) {
        if (!s || !token_uri)
                return;
        (void) pin_cache_forget(s->pin_cache, token_uri);
        for (SignRequest *r = s->requests, *next; r; r = next) {
                next = r->next;
                if (!streq_ptr(r->token_uri, token_uri) || r->state < REQ_VALIDATING || r->state > REQ_PIN)
                        continue;
                I18N_LOCALE_SCOPE(r->locale);
                log_info("Request %s: its token was removed before it signed.", r->path);
                request_fail_all(
                        r, DOC_FAILED, KYSO_BUS_ERROR_NO_TOKEN,
                        _("The token was removed, so nothing was signed. Insert it and sign again."));
        }
}

PinCache *agent_sign_get_pin_cache(AgentSign *s) {
        return s ? s->pin_cache : NULL;
}

AgentWorker *agent_sign_get_worker(AgentSign *s) {
        return s->worker;
}

void agent_sign_set_session_watch(AgentSign *s, SessionWatch *w) {
        s->pin_watch = w;
        if (!w)
                (void) pin_cache_forget_all(s->pin_cache);
}
