/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Prompter: the person at the desk, as the request pipeline sees them. One interface for the default
 * pinentry prompts and for an app's registered org.kyso.Prompter1 object, so the pipeline does not care.
 *
 * Rules every implementation keeps:
 * - asynchronous on the caller's sd-event loop; starting a prompt never blocks;
 * - one prompt at a time per prompter: starting a second one fails with -EBUSY;
 * - the handler is called exactly once per prompt that started successfully, unless cancel() or the
 *   prompter's free() came first: after those return, the handler of the open prompt is never called;
 * - a PIN is handed over only as a Secret, and the handler owns it.
 *
 * The request pipeline's use, per request: confirm() the request (with PROMPT_FLAG_FINAL_TRY when the token
 * reports its final try: the explicit yes comes from that one confirmation); never ask_pin() for a locked
 * token (prompt_text_pin_locked() says what to do); ask_pin() with previous_wrong and tries_left after a
 * refused PIN; show_pinpad() instead of ask_pin() for a PIN pad. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "secret.h"

typedef struct Prompter Prompter;

typedef enum PromptReply {
        PROMPT_REPLY_YES,       /* confirmed; for ask_pin: a PIN was entered */
        PROMPT_REPLY_NO,        /* the person said no (a "not confirmed" button) */
        PROMPT_REPLY_CANCELLED, /* the person cancelled or closed the prompt */
        PROMPT_REPLY_ERROR,     /* the prompt could not be shown or failed; see the error */
        _PROMPT_REPLY_MAX,
        _PROMPT_REPLY_INVALID = -EINVAL,
} PromptReply;

const char *prompt_reply_to_string(PromptReply r);

/* The token's PIN state, as PKCS#11 reports it (CKF_USER_PIN_COUNT_LOW, _FINAL_TRY, _LOCKED). */
typedef enum PromptPinState {
        PROMPT_PIN_OK,
        PROMPT_PIN_COUNT_LOW,
        PROMPT_PIN_FINAL_TRY,
        PROMPT_PIN_LOCKED,
        _PROMPT_PIN_STATE_MAX,
        _PROMPT_PIN_STATE_INVALID = -EINVAL,
} PromptPinState;

const char *prompt_pin_state_to_string(PromptPinState s); /* "ok", "count-low", "final-try", "locked" */
PromptPinState prompt_pin_state_from_string(const char *s);

typedef enum PromptFlags {
        /* The next PIN try is the token's last one: the confirmation warns and asks for an explicit yes. */
        PROMPT_FLAG_FINAL_TRY = 1 << 0,
        /* After a yes, ask_pin() follows at once (from the handler): a prompter may keep its window or
         * process for it. The pipeline then calls ask_pin() or cancel(); the prompter is not busy meanwhile.
         */
        PROMPT_FLAG_PIN_NEXT = 1 << 1,
} PromptFlags;

typedef struct PromptDocument {
        const char *name;   /* file name as the app gave it (or the label option) */
        uint64_t size;      /* bytes */
        const char *sha256; /* hex; prompts show the first 16 digits */
        /* A PDF whose signature will be invisible although the role or the request asked for it to be seen:
         * why (translated), shown after the document. NULL: nothing to say. */
        const char *invisible_why;
        /* With invisible_why, for issue: the seal is not drawn, but the document number and date are. */
        bool texts_only;
} PromptDocument;

/* What the person approves. Strings may be NULL when unknown; they are shown as "unknown". */
typedef struct PromptRequest {
        /* Who asks. */
        const char *app_name;
        const char *executable;
        pid_t pid;
        /* What: one document, or a batch (n_documents > 1) with the same certificate and role. */
        const PromptDocument *documents;
        size_t n_documents;
        /* With which certificate. */
        const char *cert_holder;       /* subject CN */
        const char *cert_organization; /* subject O */
        const char *cert_kind;         /* "personal", "organization", "device" */
        time_t cert_not_after;         /* 0 when unknown */
        /* How: "approve", "issue", "copy", "appendix", "personal". */
        const char *role;
        PromptFlags flags;
} PromptRequest;

/* What the PIN prompt shows. */
typedef struct PromptPinRequest {
        const char *token_label;
        PromptPinState state;
        int tries_left;      /* -1 when the token does not tell */
        bool previous_wrong; /* the previous try was a wrong PIN: shown as an error above the entry */
} PromptPinRequest;

/* reply is YES/NO/CANCELLED with error == 0, or ERROR with error < 0. */
typedef void (*PromptConfirmHandler)(Prompter *p, PromptReply reply, int error, void *userdata);
/* reply YES comes with pin (owned by the handler: free it with secret_free()); otherwise pin is NULL. */
typedef void (*PromptPinHandler)(Prompter *p, PromptReply reply, int error, Secret *pin, void *userdata);

typedef struct PrompterVTable {
        /* Optional: readies what the next prompt needs (a process) ahead of it, showing nothing to anyone.
         * The next confirm(), ask_pin() or show_pinpad() uses it; cancel() ends it quietly. Not a prompt:
         * the prompter is not busy meanwhile. 0 also when there is nothing to ready; -EBUSY while a prompt
         * is open. */
        int (*prepare)(Prompter *p);
        /* Returns 0 when the prompt started, or a negative errno (then the handler is not called). Called
         * with a request and a handler, and only while busy() is false (prompter_confirm() and the others
         * see to it). */
        int (*confirm)(Prompter *p, const PromptRequest *req, PromptConfirmHandler handler, void *userdata);
        int (*ask_pin)(Prompter *p, const PromptPinRequest *req, PromptPinHandler handler, void *userdata);
        /* For a token with a protected authentication path (PIN pad): tells the person to type the PIN on
         * the reader, while the agent logs in without a PIN. The pipeline closes it with cancel() when the
         * login returns. The handler runs only if the person closes it first: YES (dismissed) or
         * CANCELLED (the pipeline may then abandon the request), or on ERROR. */
        int (*show_pinpad)(
                Prompter *p, const char *token_label, PromptConfirmHandler handler, void *userdata);
        /* Closes the open prompt, if any; its handler is not called. */
        void (*cancel)(Prompter *p);
        /* True while a prompt is open. */
        bool (*busy)(Prompter *p);
        void (*free)(Prompter *p);
} PrompterVTable;

struct Prompter {
        const PrompterVTable *vtable;
};

static inline int prompter_prepare(Prompter *p) {
        return p->vtable->prepare ? p->vtable->prepare(p) : 0;
}
/* A prompt starts only with its request and handler, on a prompter that shows none now: the methods of a
 * PrompterVTable are called only so (-EINVAL, -EBUSY otherwise). */
static inline int
prompter_confirm(Prompter *p, const PromptRequest *req, PromptConfirmHandler handler, void *userdata) {
        if (!req || !handler)
                return -EINVAL;
        return p->vtable->busy(p) ? -EBUSY : p->vtable->confirm(p, req, handler, userdata);
}
static inline int
prompter_ask_pin(Prompter *p, const PromptPinRequest *req, PromptPinHandler handler, void *userdata) {
        if (!req || !handler)
                return -EINVAL;
        return p->vtable->busy(p) ? -EBUSY : p->vtable->ask_pin(p, req, handler, userdata);
}
static inline int
prompter_show_pinpad(Prompter *p, const char *token_label, PromptConfirmHandler handler, void *userdata) {
        if (!handler)
                return -EINVAL;
        return p->vtable->busy(p) ? -EBUSY : p->vtable->show_pinpad(p, token_label, handler, userdata);
}
static inline void prompter_cancel(Prompter *p) {
        if (p)
                p->vtable->cancel(p);
}
static inline bool prompter_busy(Prompter *p) {
        return p && p->vtable->busy(p);
}
static inline Prompter *prompter_free(Prompter *p) {
        if (p)
                p->vtable->free(p);
        return NULL;
}
static inline void prompter_freep(Prompter **p) {
        prompter_free(*p);
}
