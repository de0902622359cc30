/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "pin-cache.h"
#include "pkcs11/p11-protocol.h"
#include "prompt-pinentry.h"
#include "prompt-registry.h"
#include "prompt-text.h"
#include "session-watch.h"
#include "sign-request.h"

/* The prompts of a request: approval (Confirm), then the PIN (AskPin, a kept PIN, or a PIN pad), through the
 * requesting app's own prompter or pinentry. One prompt at a time for the whole agent. */

/* The prompter that serves r: the one r's own sender registered (RegisterPrompter), else pinentry. Never
 * another connection's: an app must not approve, nor see the PIN of, a request another app made
 * (dbus/org.kyso.Prompter1.xml). */
static Prompter *chosen_prompter(SignRequest *r) {
        return prompter_registry_get(r->owner->prompters, r->sender) ?: r->owner->prompter;
}

/* Chooses the prompter of the prompt that starts now. */
static Prompter *select_prompter(SignRequest *r) {
        Prompter *p = chosen_prompter(r);

        r->prompt.app = p != r->owner->prompter;
        r->prompt.app_used |= r->prompt.app;
        return p;
}

/* The prompter of the current prompt; NULL when the app's one has gone (its prompt ended with it). */
Prompter *request_prompter(SignRequest *r) {
        if (!r->owner)
                return NULL;
        return r->prompt.app ? prompter_registry_get(r->owner->prompters, r->sender) : r->owner->prompter;
}

bool prompt_taken(AgentSign *s, const SignRequest *self) {
        for (SignRequest *r = s->requests; r; r = r->next)
                if (r != self && r->prompt.owner)
                        return true;
        return false;
}

/* Whether another request than self holds the prompt or readied pinentry. */
static bool prompt_wanted(AgentSign *s, const SignRequest *self) {
        for (SignRequest *r = s->requests; r; r = r->next)
                if (r != self && (r->prompt.owner || r->prompt.prepared))
                        return true;
        return false;
}

/* A request that readied pinentry and will not use it (refused before its prompt, or its app's prompter asks
 * instead): the process showed nothing and ends quietly, unless another request will use it. */
static void prompt_unprepare(SignRequest *r) {
        if (!r->prompt.prepared)
                return;
        r->prompt.prepared = false;
        if (r->owner && !prompt_wanted(r->owner, r) && !prompter_busy(r->owner->prompter))
                prompter_cancel(r->owner->prompter);
}

void prompt_release(SignRequest *r) {
        prompt_unprepare(r);
        if (!r->prompt.owner)
                return;
        r->prompt.owner = false;
        if (r->owner) {
                prompter_cancel(request_prompter(r));
                agent_sign_queue_kick(r->owner);
        }
}

/* Starts pinentry while the request's checks run (the chain and revocation, the documents' hashes), so that
 * its process start and options are no longer on the person's wait. Only when the prompt will be pinentry's
 * and nobody else's prompt is open: a prepared process shows nothing. */
void request_prompt_prepare(SignRequest *r) {
        AgentSign *s = r->owner;

        if (!s || !s->prompter || chosen_prompter(r) != s->prompter || prompt_taken(s, r) ||
            prompter_busy(s->prompter))
                return;
        if (prompter_prepare(s->prompter) >= 0)
                r->prompt.prepared = true;
}

/* The cache's lifetimes: kysod.conf's, cut to the policy's maximum (read again for each request); nothing is
 * kept while lock and sleep cannot be observed. */
void pin_cache_update_config(AgentSign *s, const Policy *policy) {
        PinCacheConfig pcc = {
                .personal_usec = s->config->pin_cache_personal_usec,
                .organization_usec = s->config->pin_cache_organization_usec,
                .policy_max_usec =
                        s->pin_watch ? (uint64_t) policy->pin_cache_max_sec * UINT64_C(1000000) : 0,
        };
        pin_cache_set_config(s->pin_cache, &pcc);
}

PinCacheKind pin_cache_kind_of(CertKind kind) {
        switch (kind) {
        case CERT_KIND_PERSONAL:
                return PIN_CACHE_PERSONAL;
        case CERT_KIND_ORGANIZATION:
                return PIN_CACHE_ORGANIZATION;
        case CERT_KIND_DEVICE:
                return PIN_CACHE_DEVICE;
        default:
                return _PIN_CACHE_KIND_INVALID; /* unknown or ambiguous: never cached */
        }
}

bool request_pin_cache_usable(SignRequest *r) {
        AgentSign *s = r->owner;
        return s && s->pin_cache && s->pin_watch && session_watch_is_ready(s->pin_watch) &&
               pin_cache_kind_of(r->kind) >= 0 && !(r->token.pin_flags & P11_PROTECTED_AUTH_PATH) &&
               !r->prompt.app_used;
}

static PromptPinState pin_state(unsigned flags) {
        if (flags & P11_PIN_LOCKED)
                return PROMPT_PIN_LOCKED;
        if (flags & P11_PIN_FINAL_TRY)
                return PROMPT_PIN_FINAL_TRY;
        if (flags & P11_PIN_COUNT_LOW)
                return PROMPT_PIN_COUNT_LOW;
        return PROMPT_PIN_OK;
}

int pin_tries_left(unsigned flags) {
        if (flags & P11_PIN_LOCKED)
                return 0;
        if (flags & P11_PIN_FINAL_TRY)
                return 1;
        return -1;
}

void request_fail_locked(SignRequest *r) {
        _cleanup_free_ char *msg = prompt_text_pin_locked(r->token_label);
        request_fail_all(
                r, DOC_FAILED, KYSO_BUS_ERROR_PIN_LOCKED,
                msg ?: kyso_bus_error_message(KYSO_BUS_ERROR_PIN_LOCKED));
}

static void prompt_error(SignRequest *r, int error) {
        _cleanup_free_ char *msg = NULL;
        /* Nobody answered, or the app that was to answer left: nothing was refused or broken. */
        bool unanswered = error == -ETIMEDOUT || (r->prompt.app && error == -ENOTCONN);

        if (r->prompt.app)
                msg = prompt_text_app_prompter_failed(error);
        else if (error == -ENOENT || error == -EACCES)
                msg = prompt_text_program_missing(pinentry_prompter_get_program(r->owner->prompter), error);
        else if (error == -ETIMEDOUT)
                msg = strdup(
                        _("Nobody answered the prompt in time, so nothing was signed. Sign again when you "
                          "are at the desk."));
        log_warning_errno(error, "Prompt for %s failed: %m", r->path);
        request_fail_all(
                r, unanswered ? DOC_CANCELLED : DOC_FAILED,
                unanswered                          ? KYSO_BUS_ERROR_CANCELLED
                : r->prompt.app && error == -EPROTO ? KYSO_BUS_ERROR_INVALID_ARGS
                                                    : KYSO_BUS_ERROR_INTERNAL,
                msg
                        ?: _("The prompt could not be shown, so nothing was signed. Check the pinentry "
                             "program in kysod.conf."));
}

static void declined(SignRequest *r, PromptReply reply) {
        request_fail_all(
                r, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED,
                reply == PROMPT_REPLY_NO ? _("You declined the request, so nothing was signed.")
                                         : _("The request was cancelled at the prompt, so nothing was "
                                             "signed."));
}

/* The token goes on to sign with pin (taken over; from_cache: the kept one). The prompt is free for other
 * requests (other tokens) while this token works. */
static void sign_with_pin(SignRequest *r, Secret *pin, bool from_cache) {
        secret_free(r->token.pin);
        r->token.pin = pin;
        r->token.pin_from_cache = from_cache;
        prompt_release(r);
        if (!request_enter(r, REQ_SIGNING))
                return;
        sign_next(r);
}

static void pin_handler(Prompter *p, PromptReply reply, int error, Secret *pin, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);
        (void) p;

        if (reply == PROMPT_REPLY_ERROR) {
                secret_free(pin);
                prompt_error(r, error);
                return;
        }
        if (reply != PROMPT_REPLY_YES || !pin) {
                secret_free(pin);
                declined(r, reply);
                return;
        }
        sign_with_pin(r, pin, false);
}

static void ask_pin_prompt(SignRequest *r) {
        PromptPinRequest pr = {
                .token_label = r->token_label,
                .state = pin_state(r->token.pin_flags),
                .tries_left = pin_tries_left(r->token.pin_flags),
                .previous_wrong = r->prompt.previous_wrong,
        };
        int k;

        if (!request_enter(r, REQ_PIN))
                return;
        k = prompter_ask_pin(select_prompter(r), &pr, pin_handler, r);
        if (k < 0)
                prompt_error(r, k);
}

/* The PIN kept for r's token, if it may be used. A kept PIN is not tried when the token counts down its
 * tries: then the person types it. */
static int kept_pin(SignRequest *r, Secret **ret) {
        if (!request_pin_cache_usable(r) ||
            (r->token.pin_flags & (P11_PIN_COUNT_LOW | P11_PIN_FINAL_TRY | P11_PIN_LOCKED)))
                return -ENOENT;
        return pin_cache_get(r->owner->pin_cache, r->token_uri, pin_cache_kind_of(r->kind), ret);
}

/* Whether a yes to the confirmation leads straight to the PIN prompt: not for a PIN pad, nor with a kept PIN
 * (those keep their own flow). Then pinentry asks both in one process (PROMPT_FLAG_PIN_NEXT). */
static bool pin_prompt_follows(SignRequest *r) {
        Secret *cached = NULL;

        if (r->token.pin_flags & P11_PROTECTED_AUTH_PATH)
                return false;
        if (kept_pin(r, &cached) >= 0) {
                secret_free(cached);
                return false;
        }
        return true;
}

static void ask_pin(SignRequest *r) {
        Secret *cached = NULL;

        if (kept_pin(r, &cached) >= 0) {
                log_debug("Using the kept PIN of token '%s'.", strna(r->token_label));
                sign_with_pin(r, cached, true);
                return;
        }
        ask_pin_prompt(r);
}

static void pinpad_handler(Prompter *p, PromptReply reply, int error, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);
        (void) p;
        (void) error;
        /* The person closed the PIN pad message: the login on the reader goes on; cancel only if asked. */
        if (reply == PROMPT_REPLY_CANCELLED)
                r->cancelled = true;
}

static void confirm_handler(Prompter *p, PromptReply reply, int error, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);
        (void) p;

        if (reply == PROMPT_REPLY_ERROR) {
                prompt_error(r, error);
                return;
        }
        if (reply != PROMPT_REPLY_YES) {
                declined(r, reply);
                return;
        }
        r->prompt.confirmed = true;
        if (r->token.pin_flags & P11_PIN_FINAL_TRY)
                r->prompt.confirmed_final = true;
        if (r->token.pin_flags & P11_PROTECTED_AUTH_PATH) {
                int k;
                r->prompt.pinpad = true;
                k = prompter_show_pinpad(select_prompter(r), r->token_label, pinpad_handler, r);
                if (k < 0)
                        log_warning_errno(k, "Cannot show the PIN pad message: %m");
                if (!request_enter(r, REQ_SIGNING))
                        return;
                sign_next(r);
                return;
        }
        ask_pin(r);
}

static void confirm(SignRequest *r) {
        _cleanup_free_ PromptDocument *docs = calloc(r->n_docs, sizeof *docs);
        size_t n = 0;
        const char *slash = r->exe ? strrchr(r->exe, '/') : NULL;
        int k;

        if (!docs) {
                request_fail_errno(r, -ENOMEM, NULL);
                return;
        }
        for (size_t i = 0; i < r->n_docs; i++)
                if (r->docs[i].status == DOC_PENDING)
                        docs[n++] = (PromptDocument){ .name = r->docs[i].name,
                                                      .size = r->docs[i].size,
                                                      .sha256 = r->docs[i].sha256,
                                                      .invisible_why = r->docs[i].pdf_invisible_why,
                                                      .texts_only = r->docs[i].pdf_texts_only };
        PromptRequest pr = {
                .app_name = slash ? slash + 1 : r->exe,
                .executable = r->exe,
                .pid = r->caller.pid,
                .documents = docs,
                .n_documents = n,
                .cert_holder = r->cert_cn,
                .cert_organization = r->cert_o,
                .cert_kind = cert_kind_to_string(r->kind),
                .cert_not_after = (time_t) r->info.not_after,
                .role = sign_role_to_string(r->role),
                .flags = ((r->token.pin_flags & P11_PIN_FINAL_TRY) ? PROMPT_FLAG_FINAL_TRY : 0) |
                         (pin_prompt_follows(r) ? PROMPT_FLAG_PIN_NEXT : 0),
        };
        if (!request_enter(r, REQ_CONFIRM))
                return;
        k = prompter_confirm(select_prompter(r), &pr, confirm_handler, r);
        if (k < 0)
                prompt_error(r, k);
}

void request_prompt(SignRequest *r) {
        if (prompt_taken(r->owner, r) || prompter_busy(chosen_prompter(r)))
                return; /* woken by agent_sign_queue_kick() */
        if (chosen_prompter(r) != r->owner->prompter)
                prompt_unprepare(r);
        r->prompt.owner = true;
        r->prompt.prepared = false; /* what it readied serves this prompt */
        if (r->prompt.confirmed)
                ask_pin(r);
        else
                confirm(r);
}
