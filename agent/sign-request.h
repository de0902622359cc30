/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* SignRequest: one Sign or SignBatch, from the method call to its Response, as an explicit state machine
 * (request_set_state() is the one place its state changes). Internal to the agent's signing files:
 *
 *   sign-request.c       the request's life: states, the step function, the end, cancel
 *   sign-request-dbus.c  its bus glue: Sign, SignBatch, AddDocuments, Cancel, Progress, Response
 *   sign-signer.c        the signer: policy, certificate on its token, algorithms, chain and revocation
 *   sign-document.c      one document: its fds, reading and hashing (off the loop), the policy's decision
 *   sign-prompts.c       approval and PIN prompts, the PIN cache
 *   sign-token.c         the token pipeline: signatures, CMS, time-stamps
 *   sign-records.c       outcomes, outputs and audit records (in groups)
 *   agent-sign.c         AgentSign, which owns the requests: the per-token queue
 *
 * docs/architecture.md draws the states and which file moves a request from each. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <locale.h>

#include <openssl/x509.h>

#include "agent-inventory.h"
#include "agent-sign.h"
#include "agent-worker.h"
#include "audit/audit-events.h"
#include "dbus/bus-method.h"
#include "dbus/dbus-error-names.h"
#include "formats/cades-sign.h"
#include "formats/content-digest.h"
#include "formats/pdf-appearance.h"
#include "formats/pdf-document.h"
#include "pkcs11/p11-manager.h"
#include "pkcs11/p11-protocol.h"
#include "policy-cache.h"
#include "policy/cert-validate.h"
#include "policy/policy-rules.h"
#include "policy/policy.h"
#include "prompt.h"
#include "secret.h"

typedef enum DocStatus {
        DOC_PENDING,
        DOC_DONE,
        DOC_DENIED,
        DOC_FAILED,
        DOC_CANCELLED,
        _DOC_STATUS_MAX,
        _DOC_STATUS_INVALID = -EINVAL,
} DocStatus;

const char *doc_status_to_string(DocStatus s);

typedef struct SignDoc {
        int fd, out_fd, existing_fd;
        char *name;
        uint64_t size;
        char sha256[65];
        ContentDigests digests;
        uint8_t *existing;
        size_t existing_size;
        DocStatus status;
        KysoBusError error;
        char *message; /* why it was denied or failed; the policy's reason for an allowed one */
        const char *article;
        const char *reason_code; /* the policy's stable code for message (REASON_*), or NULL */
        char **reason_params;    /* and what it names (key, value, ...), for the audit record */
        SignPending *pending;    /* what the token signs (sign-token.c), until the signature is finished */
        uint8_t *sig; /* the token's signature while pending (kept when cancelled: it was discarded), the DER
                       * once done */
        size_t sig_size;
        char *timestamp_time;
        char sha256_after[65];
        /* A PDF: the original bytes (a read-only mapping of an unlinked temporary file), the SHA-256 over
         * them left unfinished (sha256_after goes on with the updates), the /DSS update after the
         * signature's (sig) for B-LT, and the revision the signature covers. */
        PdfDocument *pdf;
        EVP_MD_CTX *sha256_tail;
        uint8_t *dss;
        size_t dss_size;
        unsigned pdf_revision;
        char *pdf_invisible_why; /* the PDF signature will be invisible although one was asked for: why */
        bool pdf_texts_only;     /* ... and for issue, the number and date are drawn all the same */
        bool hashed, is_pdf;
        bool unrecorded; /* the outcome is decided; output, audit record and Progress are still to come */
} SignDoc;

/* The request's states, in the order a request goes through them. Every state may go to REQ_FINISHED; the
 * other moves are listed in sign-request.c (request_set_state()). */
typedef enum RequestState {
        REQ_COLLECTING, /* SignBatch with more_documents: waits for AddDocuments(..., last) */
        REQ_QUEUED,     /* waits for its token (one request per token at a time) */
        REQ_VALIDATING, /* the signer's certificate: chain and revocation, on a worker thread */
        REQ_CHECKING,   /* the documents: read and hashed on worker threads, then the policy's decision */
        REQ_WAIT_PROMPT,
        REQ_CONFIRM,
        REQ_PIN,
        REQ_SIGNING,
        REQ_FINISHED,
        _REQ_STATE_MAX,
        _REQ_STATE_INVALID = -EINVAL,
} RequestState;

const char *request_state_to_string(RequestState s);

/* The prompts of a request (sign-prompts.c). */
typedef struct RequestPrompt {
        bool owner;           /* this request holds the prompt (one at a time for the whole agent) */
        bool prepared;        /* it readied pinentry ahead of its checks (request_prompt_prepare()) */
        bool app;             /* the current prompt is the sender's own registered prompter's */
        bool app_used;        /* some prompt of this request was: the PIN cache stays out of it */
        bool pinpad;          /* a PIN pad message is shown while the reader asks for the PIN */
        bool confirmed;       /* the approval was given; after a wrong PIN only the PIN is asked again */
        bool confirmed_final; /* ... and again before the token's final try */
        bool previous_wrong;  /* the PIN prompt says the last one was wrong */
        unsigned wrong_pins;  /* wrong PINs typed in this request: at most REQUEST_WRONG_PIN_MAX */
} RequestPrompt;

/* Tries of the PIN per request, whatever the token says of its own count (SoftHSM and some eTokens say
 * nothing): then the request ends with PinIncorrect, before a hurried person locks the token. */
#define REQUEST_WRONG_PIN_MAX 3U

/* The token's side of a request (sign-token.c). */
typedef struct RequestToken {
        P11SignMechanism mech;
        Secret *pin;         /* until the login; a key with CKA_ALWAYS_AUTHENTICATE: until the batch's end */
        bool pin_from_cache; /* pin came from the PIN cache, not from the person */
        bool batch_login;    /* a signature of this request left the token logged in for the later ones */
        unsigned pin_flags;
        unsigned n_in_flight; /* documents with the token, from docs[cur] to docs[last_sent] (a batch) */
        size_t cur, last_sent;
        uint64_t last_answer_usec; /* when the token last answered (CLOCK_MONOTONIC) */
        bool fast;                 /* and it had answered less than SIGN_FAST_TOKEN_USEC before */
} RequestToken;

typedef struct SignRequest SignRequest;
struct SignRequest {
        AgentSign *owner; /* NULL once the agent is gone while the token still works for us */
        SignRequest *next;
        RequestState state;
        bool cancelled; /* Cancel, or the client left: the request ends as soon as the token lets it */
        bool announced; /* the caller got the request's path */

        /* What the client asked. */
        char *path, *sender, *cert_uri;
        /* cert_uri as the client gave it, for the records: cert_uri becomes the full URI of the one found */
        char *requested_cert_uri;
        SignRole role;
        bool timestamp, more_documents;
        SignatureLevel
                level;    /* the option's, else the policy's; B-T and up set timestamp (signer_prepare()) */
        bool level_asked; /* the client named the level */
        char *reason, *location, *doc_number, *doc_date, *classification, *label, *name;
        char *copy_form; /* copy: "sao-y" (default), "sao-luc" or "trich-sao" (Decree 30/2020 Art. 25) */
        /* The `visible` option (approve, personal: where the PDF signature is drawn) and the `image` one. */
        bool visible;
        unsigned visible_page; /* 0-based */
        PdfRect visible_rect;
        uint8_t *image;
        size_t image_size;
        /* issue: where the document number and date are written (doc_number_place, doc_date_place). */
        PdfPlace doc_number_place, doc_date_place;
        char *locale_name; /* the caller's LC_MESSAGES, as it sent it (the locale option) */
        locale_t locale;   /* its texts and prompts are in that language; 0: the agent's (i18n_locale()) */
        AuditCaller caller;
        char *exe;
        SignDoc *docs;
        size_t n_docs, check_idx;

        /* The signer (sign-signer.c). */
        char *token_uri, *token_label;
        char *token_serial, *token_manufacturer, *token_model; /* for the audit records */
        Policy *policy;
        X509 *cert;
        STACK_OF(X509) * chain;
        CertificateInfo info;
        char *cert_cn, *cert_o;
        uint8_t *signing_certificate; /* the certificate's ESS attribute, once for all documents */
        size_t signing_certificate_size;
        CertKind kind;
        CertValidation status;
        int digest_nid;
        CmsSignatureScheme scheme;
        time_t signing_time;

        RequestPrompt prompt;
        RequestToken token;

        sd_event_source *defer;
        sd_event_source *collect_timer; /* REQ_COLLECTING: the next AddDocuments part is due */
        WorkerJob *job; /* on a worker thread: the validation, a document's check or a time-stamp */
        size_t job_doc; /* the document of a check or a time-stamp */
        size_t n_unrecorded, first_unrecorded; /* documents waiting for request_record() */
        WorkerJob *output_job; /* on a worker thread: the outputs of a group of documents being written */
        sd_event_source *record_timer;
};

struct AgentSign {
        sd_event *event;
        DBusConnection *bus;
        P11Manager *manager;
        const AgentConfig *config;
        AuditLog *audit;                   /* the agent's, borrowed */
        Prompter *prompter;                /* pinentry */
        PrompterRegistry *prompters;       /* borrowed: the apps' own (RegisterPrompter); NULL: none */
        const AgentRevocation *revocation; /* borrowed: the inventory's statuses; NULL: none */
        PinCache *pin_cache;     /* PINs kept per token (kysod.conf pin-cache-*, policy [pin] max-cache) */
        SessionWatch *pin_watch; /* borrowed; without it (or before it is ready) the cache is not used */
        char policy_digest[65];  /* of the policy last recorded in the audit log */
        AgentWorker *worker;     /* network waits and document reading, off the loop */
        SignRequest *requests;   /* in arrival order */
        unsigned counter;
        bool registered;
        BusPeerLeftWatch *left_watch; /* cancels the requests of a client that leaves */
        /* The policy of the last request, given again while nothing it was read from changed. */
        PolicyCache *policy_cache;
};

/* sign-request.c: the request's life. */
SignRequest *request_new(AgentSign *owner);
SignRequest *request_free(SignRequest *r);
/* Moves r to state s; an illegal move is a bug: logged, refused with -EINVAL (the state stays). */
int request_set_state(SignRequest *r, RequestState s);
/* request_set_state(), and on a refused move the request fails (Internal): false, r may be gone. */
bool request_enter(SignRequest *r, RequestState s);
/* Runs j on the agent's worker threads as r's job (r->job), r being done's userdata. The job owns j from
 * here, also on failure. */
int request_job_submit(
        SignRequest *r, WorkerRunFunc run, WorkerDoneFunc done, WorkerFreeFunc free_job, void *j);
/* Runs the request's next step (from the defer source request_schedule() enables). */
void request_step(SignRequest *r);
/* Records what is unrecorded, sends Response, frees r (or leaves it to the token's last answer). */
void request_finish(SignRequest *r);
void request_cancel(SignRequest *r, const char *why);
/* Every pending document gets this outcome, then the request finishes. */
void request_fail_all(SignRequest *r, DocStatus status, KysoBusError error, const char *message);
void request_fail_errno(SignRequest *r, int err, const char *message);
const char *request_discarded_message(void);

/* agent-sign.c: the queue. */
void request_schedule(SignRequest *r);
size_t agent_sign_token_load(AgentSign *s, const char *token_uri);
bool agent_sign_token_running(AgentSign *s, const SignRequest *self);
/* Wakes the requests that may proceed now: the head of each token queue, and prompt waiters. */
void agent_sign_queue_kick(AgentSign *s);

/* sign-signer.c */
/* Reads the policy, finds the certificate, chooses the algorithms. -ECANCELED: r has failed (finished). */
int signer_prepare(SignRequest *r);
/* Chain and revocation on a worker thread; then REQ_CHECKING. -ECANCELED: r has failed (finished). */
int signer_validate_start(SignRequest *r);
/* What every format's prepare needs of the signer (formats/signer.h), borrowed from r. */
SignParams request_sign_params(const SignRequest *r);
/* The token that holds cert_uri now, or NULL (before the request looks for its certificate). */
char *signer_token_of(AgentSign *s, const char *cert_uri);
/* Why the certificate cert_uri names alone cannot sign, as GetCertificates would mark it (translated), or
 * NULL when it may be tried (also when nothing is known, or the inventory's policy is not the current one:
 * r->policy is loaded here then, for signer_prepare()); *ret_revoked says whether it is revoked. */
char *signer_unusable(AgentSign *s, SignRequest *r, const char *cert_uri, bool *ret_revoked);

/* sign-document.c */
void doc_done(SignDoc *d);
/* The name shown for a document given as an fd: its file name, escaped when it is not UTF-8 (a legacy code
 * page) or holds a backslash (utf8_escape()), so the prompts, the bus and the audit record all show the same
 * valid text and that text maps back to the exact bytes. */
char *doc_fd_name(int fd);
/* NULL when the fds are fit for a document, its output and its existing signature, else why not. */
const char *doc_output_check(int doc, int out, int existing);
/* REQ_CHECKING: reads, hashes (on a worker thread) and decides on the documents, one at a time. 1 when every
 * document is decided, 0 while one is being checked (the request is scheduled again when it goes on). */
int request_check_documents(SignRequest *r);

/* sign-prompts.c */
/* REQ_WAIT_PROMPT: takes the prompt when it is free and asks for approval or the PIN. */
void request_prompt(SignRequest *r);
void request_prompt_prepare(SignRequest *r);
/* Gives the prompt back to the other requests (closing what is shown). */
void prompt_release(SignRequest *r);
bool prompt_taken(AgentSign *s, const SignRequest *self);
/* The prompter of the current prompt; NULL when the app's one has gone. */
Prompter *request_prompter(SignRequest *r);
void pin_cache_update_config(AgentSign *s, const Policy *policy);
bool request_pin_cache_usable(SignRequest *r);
PinCacheKind pin_cache_kind_of(CertKind kind);
int pin_tries_left(unsigned flags);
void request_fail_locked(SignRequest *r);

/* sign-token.c */
/* REQ_SIGNING: the next step with the token or the time-stamp server. */
void sign_next(SignRequest *r);

/* sign-records.c */
/* Sets a document's outcome (once); request_record() writes its output and its record, then Progress. */
void doc_set_outcome(SignRequest *r, SignDoc *d, DocStatus status, KysoBusError error, const char *message);
/* Sets the outcome and records it, with any other document waiting to be recorded. */
void doc_finish(SignRequest *r, SignDoc *d, DocStatus status, KysoBusError error, const char *message);
/* A signed document, recorded with the documents that finish soon after it. */
void doc_done_later(SignRequest *r, SignDoc *d);
void request_record(SignRequest *r);
/* The end of request_finish() once every record is durable: Response, then r is freed (or handed to the
 * token's callback). request_finish() calls it, or the end of the last output write it waited for. */
void request_respond(SignRequest *r);
/* A wrong PIN is an event of its own; one that cannot be recorded ends the request (-EIO). */
int record_wrong_pin(SignRequest *r, const char *message);
/* What the client is told when the audit log cannot take a record: what (translated, "... so it was
 * withheld."), then why and what to do for the error k of audit_log_append*(). NULL when out of memory. */
char *audit_failure_message(const char *what, int k);

/* sign-request-dbus.c */
void request_send_progress(SignRequest *r, const SignDoc *d);
void request_send_response(SignRequest *r);
int agent_sign_bus_register(AgentSign *s);
void agent_sign_bus_unregister(AgentSign *s);
