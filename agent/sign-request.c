/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "sign-request.h"
#include "string-table.h"

static const char *const doc_status_table[_DOC_STATUS_MAX] = {
        [DOC_PENDING] = "pending", [DOC_DONE] = "done",           [DOC_DENIED] = "denied",
        [DOC_FAILED] = "failed",   [DOC_CANCELLED] = "cancelled",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(doc_status, DocStatus);

static const char *const request_state_table[_REQ_STATE_MAX] = {
        [REQ_COLLECTING] = "collecting",
        [REQ_QUEUED] = "queued",
        [REQ_VALIDATING] = "validating",
        [REQ_CHECKING] = "checking",
        [REQ_WAIT_PROMPT] = "wait-prompt",
        [REQ_CONFIRM] = "confirm",
        [REQ_PIN] = "pin",
        [REQ_SIGNING] = "signing",
        [REQ_FINISHED] = "finished",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(request_state, RequestState);

#define STATE_BIT(s) (1U << (s))
/* Where each state may go besides REQ_FINISHED (always allowed: a request can fail or be cancelled in any
 * state). WAIT_PROMPT -> SIGNING and CONFIRM -> SIGNING: a kept PIN, or a PIN pad that asks by itself.
 * SIGNING -> WAIT_PROMPT: a wrong PIN, asked again. */
static const unsigned request_transitions[_REQ_STATE_MAX] = {
        [REQ_COLLECTING] = STATE_BIT(REQ_QUEUED),
        [REQ_QUEUED] = STATE_BIT(REQ_VALIDATING),
        [REQ_VALIDATING] = STATE_BIT(REQ_CHECKING),
        [REQ_CHECKING] = STATE_BIT(REQ_WAIT_PROMPT),
        [REQ_WAIT_PROMPT] = STATE_BIT(REQ_CONFIRM) | STATE_BIT(REQ_PIN) | STATE_BIT(REQ_SIGNING),
        [REQ_CONFIRM] = STATE_BIT(REQ_PIN) | STATE_BIT(REQ_SIGNING),
        [REQ_PIN] = STATE_BIT(REQ_SIGNING),
        [REQ_SIGNING] = STATE_BIT(REQ_WAIT_PROMPT),
        [REQ_FINISHED] = 0,
};

SignRequest *request_new(AgentSign *owner) {
        SignRequest *r = calloc(1, sizeof *r);

        if (!r)
                return NULL;
        r->owner = owner;
        r->state = REQ_QUEUED;
        return r;
}

static bool request_has_pending(const SignRequest *r) {
        for (size_t i = 0; i < r->n_docs; i++)
                if (r->docs[i].status == DOC_PENDING)
                        return true;
        return false;
}

const char *request_discarded_message(void) {
        return _("The request was cancelled after the token had signed: its signature was discarded and "
                 "nothing was written.");
}

SignRequest *request_free(SignRequest *r) {
        if (!r)
                return NULL;
        worker_job_cancel(r->job);
        worker_job_cancel(r->output_job); /* its outputs are emptied: nothing half-written is left */
        sd_event_source_disable_unref(r->defer);
        sd_event_source_disable_unref(r->collect_timer);
        sd_event_source_disable_unref(r->record_timer);
        for (size_t i = 0; i < r->n_docs; i++)
                doc_done(&r->docs[i]);
        free(r->docs);
        free(r->path);
        free(r->sender);
        free(r->cert_uri);
        free(r->requested_cert_uri);
        free(r->token_uri);
        free(r->token_label);
        free(r->token_serial);
        free(r->token_manufacturer);
        free(r->token_model);
        free(r->reason);
        free(r->location);
        free(r->doc_number);
        free(r->copy_form);
        free(r->image);
        free(r->doc_date);
        free(r->classification);
        free(r->label);
        free(r->locale_name);
        free(r->name);
        free(r->exe);
        policy_free(r->policy);
        X509_free(r->cert);
        sk_X509_pop_free(r->chain, X509_free);
        certificate_info_done(&r->info);
        free(r->cert_cn);
        free(r->cert_o);
        free(r->signing_certificate);
        cert_validation_done(&r->status);
        secret_free(r->token.pin);
        free(r);
        return NULL;
}

static void request_unlink(SignRequest *r) {
        AgentSign *s = r->owner;

        if (!s)
                return;
        for (SignRequest **p = &s->requests; *p; p = &(*p)->next)
                if (*p == r) {
                        *p = r->next;
                        break;
                }
        r->next = NULL;
}

void request_fail_all(SignRequest *r, DocStatus status, KysoBusError error, const char *message) {
        for (size_t i = 0; i < r->n_docs; i++) {
                SignDoc *d = &r->docs[i];
                doc_set_outcome(
                        r, d, status, error,
                        status == DOC_CANCELLED && d->sig ? request_discarded_message() : message);
        }
        request_finish(r); /* records them */
}

void request_fail_errno(SignRequest *r, int err, const char *message) {
        KysoBusError e = kyso_bus_error_from_errno(err);
        request_fail_all(
                r, e == KYSO_BUS_ERROR_CANCELLED ? DOC_CANCELLED : DOC_FAILED, e,
                message ?: kyso_bus_error_message(e));
}

void request_finish(SignRequest *r) {
        AgentSign *s = r->owner;

        if (r->state == REQ_FINISHED)
                return;
        (void) request_set_state(r, REQ_FINISHED);
        r->defer = sd_event_source_disable_unref(r->defer);
        r->collect_timer = sd_event_source_disable_unref(r->collect_timer);
        /* Whatever a worker thread still does for this request, its result is dropped. */
        r->job = worker_job_cancel(r->job);
        prompt_release(r);
        r->token.pin = secret_free(r->token.pin);
        if (r->token.batch_login && s)
                /* Also when the batch ended early: its login must not outlive it. */
                (void) p11_manager_logout(s->manager, r->token_uri);
        request_record(r); /* every record durable before Response */
        if (r->output_job)
                return; /* outputs are being written: their end calls request_respond() */
        request_respond(r);
}

void request_respond(SignRequest *r) {
        AgentSign *s = r->owner;

        request_send_response(r);
        for (size_t i = 0; i < r->n_docs; i++)
                log_info(
                        "Request %s: %s %s (%s).", r->path, strna(r->docs[i].name),
                        doc_status_to_string(r->docs[i].status), strna(r->docs[i].message));
        if (r->token.n_in_flight > 0) {
                /* The token still works for this request: free it when the manager calls back. */
                request_unlink(r);
                r->owner = NULL;
        } else {
                request_unlink(r);
                request_free(r);
        }
        if (s)
                agent_sign_queue_kick(s);
}

int request_job_submit(
        SignRequest *r, WorkerRunFunc run, WorkerDoneFunc done, WorkerFreeFunc free_job, void *j) {
        int k = agent_worker_submit(r->owner->worker, run, done, free_job, j, r, &r->job);

        if (k < 0)
                free_job(j);
        return k;
}

/* The one place a request's state changes. A move the table does not list is a bug in the agent: refused,
 * so that a request never signs from a state it should not be in. */
int request_set_state(SignRequest *r, RequestState s) {
        if (r->state == s)
                return 0;
        if (r->state < 0 || r->state >= _REQ_STATE_MAX || s < 0 || s >= _REQ_STATE_MAX ||
            (s != REQ_FINISHED && !(request_transitions[r->state] & STATE_BIT(s)))) {
                log_error(
                        "BUG: request %s cannot go from %s to %s.", strna(r->path),
                        strna(request_state_to_string(r->state)), strna(request_state_to_string(s)));
                return -EINVAL;
        }
        log_debug(
                "Request %s: %s -> %s.", strna(r->path), request_state_to_string(r->state),
                request_state_to_string(s));
        r->state = s;
        return 0;
}

bool request_enter(SignRequest *r, RequestState s) {
        if (request_set_state(r, s) >= 0)
                return true;
        request_fail_all(
                r, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                _("The agent met an internal error, so nothing was signed. Sign again; see the agent's log."));
        return false;
}

/* The defer source's step: what the request does next in its state. The callbacks of the other files (a
 * worker's result, a prompt's answer, the token's signature) move the request on themselves. */
void request_step(SignRequest *r) {
        I18N_LOCALE_SCOPE(r->locale);
        AgentSign *s = r->owner;
        int k;

        if (!s || r->state == REQ_FINISHED)
                return;
        if (r->cancelled) {
                request_fail_all(
                        r, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED,
                        _("The request was cancelled, so nothing was signed."));
                return;
        }
        switch (r->state) {
        case REQ_QUEUED:
                if (agent_sign_token_running(s, r))
                        return; /* woken by agent_sign_queue_kick() */
                k = signer_prepare(r);
                if (k >= 0)
                        k = signer_validate_start(r);
                /* The checks are on a worker already: pinentry starts beside them (the loop waits for
                 * its exec). */
                if (k >= 0)
                        request_prompt_prepare(r);
                if (k == -ECANCELED)
                        return; /* r has failed, and is gone */
                if (k < 0) {
                        log_error_errno(k, "Cannot prepare request %s: %m", r->path);
                        request_fail_errno(r, k, NULL);
                }
                return; /* the validation's result goes on, in REQ_CHECKING */
        case REQ_CHECKING:
                if (request_check_documents(r) <= 0)
                        return; /* scheduled again when the document being checked goes on */
                if (!request_has_pending(r)) {
                        request_finish(r);
                        return;
                }
                if (r->token.pin_flags & P11_PIN_LOCKED) {
                        request_fail_locked(r);
                        return;
                }
                (void) request_set_state(r, REQ_WAIT_PROMPT);
                __attribute__((fallthrough));
        case REQ_WAIT_PROMPT:
                request_prompt(r);
                return;
        case REQ_SIGNING:
                if (r->token.n_in_flight == 0)
                        sign_next(r);
                return;
        default:
                return;
        }
}

void request_cancel(SignRequest *r, const char *why) {
        I18N_LOCALE_SCOPE(r->locale);

        if (r->state == REQ_FINISHED)
                return;
        log_info("Request %s cancelled: %s", r->path, why);
        r->cancelled = true;
        /* A network wait is dropped at once; the token cannot be interrupted: finished when it answers
         * (and what it signed is discarded). */
        r->job = worker_job_cancel(r->job);
        if (r->token.n_in_flight > 0)
                return;
        request_fail_all(
                r, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED,
                _("The request was cancelled, so nothing was signed."));
}
