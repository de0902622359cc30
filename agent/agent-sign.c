/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "agent-inventory.h"
#include "agent-policy.h"
#include "agent-sign.h"
#include "agent-worker.h"
#include "audit/audit-log.h"
#include "dbus/dbus-dict.h"
#include "dbus/dbus-error-names.h"
#include "dbus/dbus-introspect.h"
#include "fileio.h"
#include "formats/cades-sign.h"
#include "formats/cms-verify.h"
#include "formats/content-digest.h"
#include "formats/tsa-client.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "openssl-util.h"
#include "pin-cache.h"
#include "pkcs11/p11-protocol.h"
#include "pkcs11/p11-uri.h"
#include "policy/cert-validate.h"
#include "policy/policy-rules.h"
#include "policy/policy.h"
#include "policy/signature-check.h"
#include "prompt-pinentry.h"
#include "prompt-registry.h"
#include "prompt-text.h"
#include "prompt.h"
#include "secret.h"
#include "session-watch.h"
#include "sign-jobs.h"

/* Network waits (OCSP, CRL, TSA) run on worker threads; a few requests of different tokens at once. */
#define SIGN_WORKER_THREADS 8U

/* Group commit: while the token signs the next document of a batch, finished documents wait to be recorded
 * together (one fdatasync), at most this many and this long (see doc_done_later()). */
#define SIGN_RECORD_GROUP 64U
#define SIGN_RECORD_DELAY_USEC (20U * 1000U)
_Static_assert(SIGN_RECORD_GROUP <= AUDIT_GROUP_MAX, "a group of records must fit audit_log_append_group()");

/* A token that answers faster than this gets up to P11_PIPELINE_MAX signatures at once, so that it does not
 * wait for kysod between them; a slower one (a real eToken) one at a time, which costs it next to nothing
 * and keeps Cancel prompt: only the signature the token is making is finished. */
#define SIGN_FAST_TOKEN_USEC (20U * 1000U)

typedef enum DocStatus {
        DOC_PENDING,
        DOC_DONE,
        DOC_DENIED,
        DOC_FAILED,
        DOC_CANCELLED,
} DocStatus;

static const char *const doc_status_names[] = {
        [DOC_PENDING] = "pending", [DOC_DONE] = "done",           [DOC_DENIED] = "denied",
        [DOC_FAILED] = "failed",   [DOC_CANCELLED] = "cancelled",
};

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
        uint8_t *tbs; /* the hash of the signed attributes, from the first pass */
        size_t tbs_size;
        uint8_t *sig; /* the token's signature while pending (kept when cancelled: it was discarded), the DER
                       * once done */
        size_t sig_size;
        char *timestamp_time;
        char sha256_after[65];
        bool hashing, hashed, is_pdf; /* the document is hashed in steps on the loop (not for issue) */
        bool pollable;   /* a pipe, socket or device: read only when poll() says there is data */
        bool unrecorded; /* the outcome is decided; output, audit record and Progress are still to come */
} SignDoc;

typedef enum RequestState {
        REQ_COLLECTING, /* SignBatch with more_documents: waits for AddDocuments(..., last) */
        REQ_QUEUED,
        REQ_VALIDATING, /* the signer's certificate: chain and revocation, on a worker thread */
        REQ_CHECKING,   /* hashing the documents (in steps, the loop stays responsive) and the policy */
        REQ_WAIT_PROMPT,
        REQ_CONFIRM,
        REQ_PIN,
        REQ_SIGNING,
        REQ_FINISHED,
} RequestState;

typedef struct SignRequest SignRequest;
struct SignRequest {
        AgentSign *owner; /* NULL once the agent is gone while the token still works for us */
        SignRequest *next;
        char *path, *sender, *cert_uri, *token_uri, *token_label;
        char *token_serial, *token_manufacturer, *token_model; /* for the audit records */
        SignRole role;
        bool timestamp, more_documents;
        char *reason, *location, *doc_number, *doc_date, *classification, *label;
        SignDoc *docs;
        size_t n_docs, cur, check_idx;
        AuditCaller caller;
        char *exe;
        RequestState state;
        bool cancelled, prompt_owner, pinpad, previous_wrong, confirmed_final;
        unsigned n_in_flight; /* documents with the token, from docs[cur] to docs[last_sent] (a batch) */
        size_t last_sent;
        uint64_t last_answer_usec; /* when the token last answered (CLOCK_MONOTONIC) */
        bool fast_token;           /* and it had answered less than SIGN_FAST_TOKEN_USEC before */
        bool confirmed;    /* the approval was given; after a wrong PIN only the PIN is asked again */
        bool app_prompter; /* the current prompt is the sender's own registered prompter's, not pinentry's */
        bool app_prompted; /* some prompt of this request was: the PIN cache stays out of it */
        bool announced;    /* the caller got the request's path */
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
        P11SignMechanism mech;
        Secret *pin;         /* until the login; a key with CKA_ALWAYS_AUTHENTICATE: until the batch's end */
        bool pin_from_cache; /* r->pin came from the PIN cache, not from the person */
        bool batch_login;    /* a signature of this request left the token logged in for the later ones */
        unsigned pin_flags;
        time_t signing_time;
        sd_event_source *defer;
        sd_event_source *doc_io;        /* REQ_CHECKING: waits for data on a document pipe not written yet */
        sd_event_source *doc_timer;     /* ... for at most document-timeout */
        sd_event_source *collect_timer; /* REQ_COLLECTING: the next AddDocuments part is due */
        WorkerJob *job; /* on a worker thread: the validation, an issue check or a time-stamp */
        size_t job_doc; /* the document of an issue check or a time-stamp */
        size_t n_unrecorded, first_unrecorded; /* documents waiting for request_record() */
        sd_event_source *record_timer;
};

struct AgentSign {
        sd_event *event;
        DBusConnection *bus;
        P11Manager *manager;
        const AgentConfig *config;
        AuditLog *audit;             /* the agent's, borrowed */
        Prompter *prompter;          /* pinentry */
        PrompterRegistry *prompters; /* borrowed: the apps' own (RegisterPrompter); NULL: none */
        PinCache *pin_cache;     /* PINs kept per token (kysod.conf pin-cache-*, policy [pin] max-cache) */
        SessionWatch *pin_watch; /* borrowed; without it (or before it is ready) the cache is not used */
        char policy_digest[65];  /* of the policy last recorded in the audit log */
        AgentWorker *worker;     /* network waits, off the loop */
        SignRequest *requests;   /* in arrival order */
        unsigned counter;
        bool registered, filter_added;
};

static void request_step(SignRequest *r);
static void request_finish(SignRequest *r);
static void sign_next(SignRequest *r);

/* ---- small helpers */

static bool strv_has(char *const *l, const char *s) {
        STRV_FOREACH (i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

static void doc_done(SignDoc *d) {
        d->fd = safe_close(d->fd);
        d->out_fd = safe_close(d->out_fd);
        d->existing_fd = safe_close(d->existing_fd);
        free(d->name);
        content_digests_done(&d->digests);
        free(d->existing);
        free(d->message);
        free(d->tbs);
        free(d->sig);
        free(d->timestamp_time);
}

static SignRequest *request_free(SignRequest *r) {
        if (!r)
                return NULL;
        worker_job_cancel(r->job);
        sd_event_source_disable_unref(r->doc_io); /* before the documents' fds are closed */
        sd_event_source_disable_unref(r->doc_timer);
        sd_event_source_disable_unref(r->defer);
        sd_event_source_disable_unref(r->collect_timer);
        sd_event_source_disable_unref(r->record_timer);
        for (size_t i = 0; i < r->n_docs; i++)
                doc_done(&r->docs[i]);
        free(r->docs);
        free(r->path);
        free(r->sender);
        free(r->cert_uri);
        free(r->token_uri);
        free(r->token_label);
        free(r->token_serial);
        free(r->token_manufacturer);
        free(r->token_model);
        free(r->reason);
        free(r->location);
        free(r->doc_number);
        free(r->doc_date);
        free(r->classification);
        free(r->label);
        free(r->exe);
        policy_free(r->policy);
        X509_free(r->cert);
        sk_X509_pop_free(r->chain, X509_free);
        certificate_info_done(&r->info);
        free(r->cert_cn);
        free(r->cert_o);
        free(r->signing_certificate);
        cert_validation_done(&r->status);
        secret_free(r->pin);
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

static char *name_entry(X509 *cert, int nid) {
        X509_NAME *n = X509_get_subject_name(cert);
        int i = X509_NAME_get_index_by_NID(n, nid, -1);
        unsigned char *utf8 = NULL;
        char *s;
        int len;

        if (i < 0)
                return NULL;
        len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
        if (len < 0)
                return NULL;
        s = strndup((const char *) utf8, (size_t) len);
        OPENSSL_free(utf8);
        return s;
}

static char *fd_name(int fd) {
        char proc[64], target[PATH_MAX];
        ssize_t n;
        const char *slash;

        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        n = readlink(proc, target, sizeof target - 1);
        if (n <= 0)
                return NULL;
        target[n] = 0;
        slash = strrchr(target, '/');
        return strdup(slash && slash[1] ? slash + 1 : target);
}

static int fd_check(int fd, bool want_write) {
        int fl = fcntl(fd, F_GETFL);

        if (fl < 0)
                return -errno;
        fl &= O_ACCMODE;
        if (want_write ? fl == O_RDONLY : fl == O_WRONLY)
                return -EBADF;
        return 0;
}

/* Whether two fds are the same regular file. An output that is the document or the leader's signature would
 * be truncated on failure, or overwritten with its own signature. */
static bool fds_same_file(int a, int b) {
        struct stat x, y;
        return a >= 0 && b >= 0 && fstat(a, &x) >= 0 && fstat(b, &y) >= 0 && x.st_dev == y.st_dev &&
               x.st_ino == y.st_ino && S_ISREG(x.st_mode);
}

static const char *output_check(int doc, int out, int existing) {
        if (fd_check(doc, false) < 0 || fd_check(out, true) < 0 ||
            (existing >= 0 && fd_check(existing, false) < 0))
                return _("The document must be open for reading and the output for writing.");
        if (fds_same_file(doc, out) || fds_same_file(existing, out))
                return _("The output must be another file than the document and its existing signature.");
        return NULL;
}

/* ---- the outcome of one document: output, audit record */

static const char *role_name(SignRole role) {
        return sign_role_to_string(role);
}

static void audit_event_set_token(AuditEvent *ev, const SignRequest *r) {
        ev->token_uri = r->token_uri;
        ev->token_label = r->token_label;
        ev->token_serial = r->token_serial;
        ev->token_manufacturer = r->token_manufacturer;
        ev->token_model = r->token_model;
}

/* What the records of one request's documents share: worked out once per group. */
#define RECORD_EXTRA_MAX 16 /* key, value, ..., NULL */
typedef struct RecordCommon {
        char fp[65], na[32];
        const char *extra[RECORD_EXTRA_MAX];
        size_t n_extra;
} RecordCommon;

static void record_common(SignRequest *r, RecordCommon *c) {
        size_t n_extra = 0;

        *c = (RecordCommon){};
        if (r->cert)
                (void) cert_fingerprint_sha256(r->cert, c->fp);
        if (r->info.not_after > 0) {
                time_t t = (time_t) r->info.not_after;
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(c->na, sizeof c->na, "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        /* What the app said about the document (not embedded in a detached CAdES for files). */
        const struct {
                const char *key, *value;
        } fields[] = {
                { "doc_number", r->doc_number },
                { "doc_date", r->doc_date },
                { "reason", r->reason },
                { "location", r->location },
                { "classification", r->classification },
                /* The approval and PIN came from the app's own prompter, not from pinentry. */
                { "prompter", r->app_prompted ? "application" : NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (fields[i].value) {
                        c->extra[n_extra++] = fields[i].key;
                        c->extra[n_extra++] = fields[i].value;
                }
        c->extra[n_extra] = NULL;
        c->n_extra = n_extra;
}

/* The record of one document; extra is its own copy of the shared fields plus its own. */
static AuditEvent doc_audit_event(
        SignRequest *r, const SignDoc *d, const RecordCommon *c,
        const char *extra[static RECORD_EXTRA_MAX + 2]) {
        size_t n_extra = c->n_extra;
        const char *decision;
        AuditEventType type;

        memcpy(extra, c->extra, n_extra * sizeof(char *));
        /* The person approved and the token signed, but the app cancelled: an auditor must see that a
         * signature existed and was never delivered. */
        if (d->status == DOC_CANCELLED && d->sig) {
                extra[n_extra++] = "token_signature";
                extra[n_extra++] = "discarded";
        }
        extra[n_extra] = NULL;

        switch (d->status) {
        case DOC_DONE:
                type = AUDIT_EVENT_SIGN_DONE;
                decision = "allowed";
                break;
        case DOC_DENIED:
                type = AUDIT_EVENT_SIGN_DENIED;
                decision = "denied";
                break;
        case DOC_CANCELLED:
                type = AUDIT_EVENT_SIGN_CANCELLED;
                decision = "cancelled";
                break;
        default:
                type = AUDIT_EVENT_SIGN_FAILED;
                decision = "failed";
                break;
        }
        AuditEvent ev = {
                .type = type,
                .caller = &r->caller,
                .message = d->status == DOC_DONE ? "Document signed" : d->message,
                .document = d->name,
                .sha256_before = d->sha256[0] ? d->sha256 : NULL,
                .sha256_after = d->sha256_after[0] ? d->sha256_after : NULL,
                .cert_subject = r->info.subject,
                .cert_issuer = r->info.issuer,
                .cert_serial = r->info.serial,
                .cert_fingerprint = c->fp[0] ? c->fp : NULL,
                .cert_kind = r->cert ? cert_kind_to_string(r->kind) : NULL,
                .cert_not_after = c->na[0] ? c->na : NULL,
                .cert_status = r->cert ? cert_status_to_string(r->status.status) : NULL,
                .request = r->path,
                .role = role_name(r->role),
                .decision = decision,
                .reason = d->message,
                .article = d->article,
                .timestamp_time = d->timestamp_time,
                .error = d->status == DOC_DONE ? NULL : kyso_bus_error_to_name(d->error),
                .extra = n_extra > 0 ? extra : NULL,
        };
        audit_event_set_token(&ev, r);
        return ev;
}

/* Progress(u index, u total, s name, s status, s message) to the caller: one per finished document, so a
 * batch shows its documents as they are done. */
static void doc_progress(SignRequest *r, const SignDoc *d) {
        dbus_uint32_t index = (dbus_uint32_t) (d - r->docs), total = (dbus_uint32_t) r->n_docs;
        const char *name = strempty(d->name), *status = doc_status_names[d->status],
                   *message = d->status == DOC_DONE ? "" : strempty(d->message);
        DBusMessage *m;

        if (!r->announced || !r->owner || !r->owner->bus)
                return;
        m = dbus_message_new_signal(r->path, SIGN_REQUEST_INTERFACE, "Progress");
        if (!m)
                return;
        (void) dbus_message_set_destination(m, r->sender);
        if (!dbus_message_append_args(
                    m, DBUS_TYPE_UINT32, &index, DBUS_TYPE_UINT32, &total, DBUS_TYPE_STRING, &name,
                    DBUS_TYPE_STRING, &status, DBUS_TYPE_STRING, &message, DBUS_TYPE_INVALID) ||
            !dbus_connection_send(r->owner->bus, m, NULL))
                (void) log_oom();
        dbus_message_unref(m);
}

static void doc_fail_internal(SignDoc *d, const char *message) {
        d->status = DOC_FAILED;
        d->error = KYSO_BUS_ERROR_INTERNAL;
        free(d->message);
        d->message = strdup(message);
}

/* Sets a document's outcome (once); request_record() writes its output and its record, then tells the
 * caller. */
static void
doc_set_outcome(SignRequest *r, SignDoc *d, DocStatus status, KysoBusError error, const char *message) {
        if (d->status != DOC_PENDING)
                return;
        d->status = status;
        d->error = error;
        if (message) {
                free(d->message);
                d->message = strdup(message);
        }
        d->unrecorded = true;
        if (r->n_unrecorded++ == 0 || d - r->docs < (ptrdiff_t) r->first_unrecorded)
                r->first_unrecorded = (size_t) (d - r->docs);
}

static int doc_write_output(SignDoc *d) {
        struct stat st;

        if (d->out_fd < 0)
                return 0;
        /* An output that is empty already is not truncated: on ext4 a truncation to 0 makes the last close
         * start writing the file back at once, per document. */
        if (fstat(d->out_fd, &st) < 0)
                return -errno;
        if (st.st_size > 0 && ftruncate(d->out_fd, 0) < 0)
                return -errno;
        if (lseek(d->out_fd, 0, SEEK_SET) < 0)
                return -errno;
        /* sig holds the finished DER here (see doc_seal()). */
        return loop_write(d->out_fd, d->sig, d->sig_size);
}

/* Records up to SIGN_RECORD_GROUP documents whose outcome is decided: the outputs of the signed ones, then
 * their audit records as one group (one fdatasync), then Progress for each. A document is done only once its
 * record is durable: when the group cannot be recorded, its signatures are withheld (outputs emptied). */
static void request_record_group(SignRequest *r) {
        SignDoc *group[SIGN_RECORD_GROUP];
        AuditEvent evs[SIGN_RECORD_GROUP];
        const char *extras[SIGN_RECORD_GROUP][RECORD_EXTRA_MAX + 2];
        RecordCommon common;
        size_t n = 0;
        int k;

        for (size_t i = r->first_unrecorded; i < r->n_docs && n < SIGN_RECORD_GROUP; i++)
                if (r->docs[i].unrecorded)
                        group[n++] = &r->docs[i];
        if (n == 0) { /* cannot happen: n_unrecorded counts them */
                r->n_unrecorded = 0;
                return;
        }
        r->first_unrecorded = group[n - 1] - r->docs + 1;
        r->n_unrecorded -= n;

        record_common(r, &common);
        for (size_t i = 0; i < n; i++) {
                SignDoc *d = group[i];

                d->unrecorded = false;
                if (d->status == DOC_DONE) {
                        k = doc_write_output(d);
                        if (k < 0) {
                                log_error_errno(k, "Cannot write the signature of %s: %m", strna(d->name));
                                doc_fail_internal(
                                        d, _("The signature could not be written to the output file. Check "
                                             "the disk space and the output file, then sign again."));
                        }
                }
                evs[i] = doc_audit_event(r, d, &common, extras[i]);
        }
        k = r->owner && r->owner->audit ? audit_log_append_group(r->owner->audit, evs, n, NULL) : -EROFS;
        if (k < 0)
                log_error_errno(
                        k, "Cannot append the audit records of %zu document(s) of %s: %m", n, r->path);
        for (size_t i = 0; i < n; i++) {
                SignDoc *d = group[i];

                if (k < 0 && d->status == DOC_DONE)
                        doc_fail_internal(
                                d, _("The audit log could not record the signature, so it was withheld. "
                                     "Check the disk space of the audit log, then sign again."));
                if (d->status != DOC_DONE && d->out_fd >= 0)
                        /* A half-written signature never reaches a client. */
                        (void) ftruncate(d->out_fd, 0);
                d->out_fd = safe_close(d->out_fd);
                d->fd = safe_close(d->fd);
                d->sig = mfree(d->sig);
                d->sig_size = 0;
                doc_progress(r, d);
        }
}

static void request_record(SignRequest *r) {
        r->record_timer = sd_event_source_disable_unref(r->record_timer);
        while (r->n_unrecorded > 0)
                request_record_group(r);
}

static int record_timer_cb(sd_event_source *src, uint64_t usec, void *userdata) {
        (void) src;
        (void) usec;
        request_record(userdata);
        return 0;
}

/* A document signed while the token already works on the next one (just sent): recorded with the documents
 * that finish close to it. The group is written here, where the fdatasync overlaps the token's work, once it
 * is full or its first document has waited half of SIGN_RECORD_DELAY_USEC; the timer writes it when the
 * token is slow (no document finishes in the meantime). */
static void doc_done_later(SignRequest *r, SignDoc *d) {
        uint64_t now, deadline;

        doc_set_outcome(r, d, DOC_DONE, 0, NULL);
        if (!r->owner || r->n_unrecorded >= SIGN_RECORD_GROUP) {
                request_record(r);
                return;
        }
        if (!r->record_timer) {
                if (sd_event_add_time_relative(
                            r->owner->event, &r->record_timer, CLOCK_MONOTONIC, SIGN_RECORD_DELAY_USEC, 1000,
                            record_timer_cb, r) < 0)
                        request_record(r);
                return;
        }
        if (sd_event_now(r->owner->event, CLOCK_MONOTONIC, &now) < 0 ||
            sd_event_source_get_time(r->record_timer, &deadline) < 0 ||
            now + SIGN_RECORD_DELAY_USEC / 2 >= deadline)
                request_record(r);
}

/* Sets a document's outcome (once) and records it, with any other document waiting to be recorded. */
static void
doc_finish(SignRequest *r, SignDoc *d, DocStatus status, KysoBusError error, const char *message) {
        doc_set_outcome(r, d, status, error, message);
        request_record(r);
}

static const char *doc_discarded_message(void) {
        return _("The request was cancelled after the token had signed: its signature was discarded and "
                 "nothing was written.");
}

static void request_fail_all(SignRequest *r, DocStatus status, KysoBusError error, const char *message) {
        for (size_t i = 0; i < r->n_docs; i++) {
                SignDoc *d = &r->docs[i];
                doc_set_outcome(
                        r, d, status, error,
                        status == DOC_CANCELLED && d->sig ? doc_discarded_message() : message);
        }
        request_finish(r); /* records them */
}

static void request_fail_errno(SignRequest *r, int err, const char *message) {
        KysoBusError e = kyso_bus_error_from_errno(err);
        request_fail_all(
                r, e == KYSO_BUS_ERROR_CANCELLED ? DOC_CANCELLED : DOC_FAILED, e,
                message ?: kyso_bus_error_message(e));
}

/* ---- Response */

static int append_results(SignRequest *r, DBusMessageIter *it, const SignDoc *first_bad) {
        DBusMessageIter dict, entry, var, arr, doc;
        int k;

        k = dbus_dict_open(it, &dict);
        if (k < 0)
                return k;
        if (first_bad) {
                if (dbus_dict_append_string(&dict, "error", kyso_bus_error_to_name(first_bad->error)) < 0 ||
                    dbus_dict_append_string(&dict, "message", first_bad->message) < 0)
                        return -ENOMEM;
        }
        if (!dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry))
                return -ENOMEM;
        const char *key = "documents";
        if (!dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) ||
            !dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "aa{sv}", &var) ||
            !dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "a{sv}", &arr))
                return -ENOMEM;
        for (size_t i = 0; i < r->n_docs; i++) {
                const SignDoc *d = &r->docs[i];

                if (dbus_dict_open(&arr, &doc) < 0 || dbus_dict_append_string(&doc, "name", d->name) < 0 ||
                    dbus_dict_append_string(&doc, "status", doc_status_names[d->status]) < 0 ||
                    dbus_dict_append_string(&doc, "sha256", d->sha256) < 0)
                        return -ENOMEM;
                if (d->status != DOC_DONE &&
                    (dbus_dict_append_string(&doc, "error", kyso_bus_error_to_name(d->error)) < 0 ||
                     dbus_dict_append_string(&doc, "message", d->message) < 0))
                        return -ENOMEM;
                if (d->timestamp_time &&
                    dbus_dict_append_string(&doc, "timestamp-time", d->timestamp_time) < 0)
                        return -ENOMEM;
                if (d->article && dbus_dict_append_string(&doc, "article", d->article) < 0)
                        return -ENOMEM;
                if (dbus_dict_close(&arr, &doc) < 0)
                        return -ENOMEM;
        }
        if (!dbus_message_iter_close_container(&var, &arr) ||
            !dbus_message_iter_close_container(&entry, &var) ||
            !dbus_message_iter_close_container(&dict, &entry))
                return -ENOMEM;
        return dbus_dict_close(it, &dict);
}

static void request_send_response(SignRequest *r) {
        const SignDoc *first_bad = NULL;
        dbus_uint32_t code = 0;
        DBusMessage *sig;
        DBusMessageIter it;

        for (size_t i = 0; i < r->n_docs; i++)
                if (r->docs[i].status != DOC_DONE) {
                        first_bad = &r->docs[i];
                        break;
                }
        if (first_bad)
                code = first_bad->status == DOC_CANCELLED ? 1 : 2;
        if (!r->owner || !r->owner->bus)
                return;
        sig = dbus_message_new_signal(r->path, SIGN_REQUEST_INTERFACE, "Response");
        if (!sig) {
                (void) log_oom();
                return;
        }
        (void) dbus_message_set_destination(sig, r->sender);
        dbus_message_iter_init_append(sig, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &code) ||
            append_results(r, &it, first_bad) < 0 || !dbus_connection_send(r->owner->bus, sig, NULL))
                (void) log_oom();
        dbus_message_unref(sig);
        dbus_connection_flush(r->owner->bus);
}

/* ---- queue */

static size_t token_load(AgentSign *s, const char *token_uri) {
        size_t n = 0;
        for (SignRequest *r = s->requests; r; r = r->next)
                if (streq_ptr(r->token_uri, token_uri))
                        n++;
        return n;
}

static bool token_running(AgentSign *s, const SignRequest *self) {
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

static void request_schedule(SignRequest *r) {
        if (!r->owner)
                return;
        if (!r->defer) {
                if (sd_event_add_defer(r->owner->event, &r->defer, defer_cb, r) < 0) {
                        (void) log_oom();
                        return;
                }
                /* Below the bus: a long hashing request is done in steps, and calls are served between. */
                (void) sd_event_source_set_priority(r->defer, SD_EVENT_PRIORITY_IDLE);
        }
        (void) sd_event_source_set_enabled(r->defer, SD_EVENT_ONESHOT);
}

/* Wakes the requests that may proceed now: the head of each token queue, and prompt waiters. */
static void queue_kick(AgentSign *s) {
        for (SignRequest *r = s->requests; r; r = r->next)
                if ((r->state == REQ_QUEUED && !token_running(s, r)) || r->state == REQ_WAIT_PROMPT)
                        request_schedule(r);
}

/* The prompter that serves r: the one r's own sender registered (RegisterPrompter), else pinentry. Never
 * another connection's: an app must not approve, nor see the PIN of, a request another app made
 * (dbus/org.kyso.Prompter1.xml). */
static Prompter *chosen_prompter(SignRequest *r) {
        return prompter_registry_get(r->owner->prompters, r->sender) ?: r->owner->prompter;
}

/* Chooses the prompter of the prompt that starts now. */
static Prompter *select_prompter(SignRequest *r) {
        Prompter *p = chosen_prompter(r);

        r->app_prompter = p != r->owner->prompter;
        r->app_prompted |= r->app_prompter;
        return p;
}

/* The prompter of the current prompt; NULL when the app's one has gone (its prompt ended with it). */
static Prompter *request_prompter(SignRequest *r) {
        if (!r->owner)
                return NULL;
        return r->app_prompter ? prompter_registry_get(r->owner->prompters, r->sender) : r->owner->prompter;
}

static bool prompt_taken(AgentSign *s, const SignRequest *self) {
        for (SignRequest *r = s->requests; r; r = r->next)
                if (r != self && r->prompt_owner)
                        return true;
        return false;
}

static void prompt_release(SignRequest *r) {
        if (!r->prompt_owner)
                return;
        r->prompt_owner = false;
        if (r->owner) {
                prompter_cancel(request_prompter(r));
                queue_kick(r->owner);
        }
}

static void request_finish(SignRequest *r) {
        AgentSign *s = r->owner;

        if (r->state == REQ_FINISHED)
                return;
        r->state = REQ_FINISHED;
        r->defer = sd_event_source_disable_unref(r->defer);
        r->doc_io = sd_event_source_disable_unref(r->doc_io);
        r->doc_timer = sd_event_source_disable_unref(r->doc_timer);
        r->collect_timer = sd_event_source_disable_unref(r->collect_timer);
        /* Whatever a worker thread still does for this request, its result is dropped. */
        r->job = worker_job_cancel(r->job);
        prompt_release(r);
        r->pin = secret_free(r->pin);
        if (r->batch_login && s)
                /* Also when the batch ended early: its login must not outlive it. */
                (void) p11_manager_logout(s->manager, r->token_uri);
        request_record(r); /* every record durable before Response */
        request_send_response(r);
        for (size_t i = 0; i < r->n_docs; i++)
                log_info(
                        "Request %s: %s %s (%s).", r->path, strna(r->docs[i].name),
                        doc_status_names[r->docs[i].status], strna(r->docs[i].message));
        if (r->n_in_flight > 0) {
                /* The token still works for this request: free it when the manager calls back. */
                request_unlink(r);
                r->owner = NULL;
        } else {
                request_unlink(r);
                request_free(r);
        }
        if (s)
                queue_kick(s);
}

/* ---- checks and policy, per document */

static void doc_deny(SignRequest *r, SignDoc *d, const char *reason, const char *article) {
        d->article = article;
        doc_finish(r, d, DOC_DENIED, KYSO_BUS_ERROR_POLICY_DENIED, reason);
}

static void doc_stalled(SignRequest *r, SignDoc *d);

static int doc_io_cb(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        SignRequest *r = userdata;
        (void) src;
        (void) fd;
        (void) revents;
        r->doc_timer = sd_event_source_disable_unref(r->doc_timer);
        request_schedule(r);
        return 0;
}

static int doc_timer_cb(sd_event_source *src, uint64_t usec, void *userdata) {
        SignRequest *r = userdata;
        (void) src;
        (void) usec;
        r->doc_io = sd_event_source_disable_unref(r->doc_io);
        r->doc_timer = sd_event_source_disable_unref(r->doc_timer);
        if (r->state == REQ_CHECKING && r->check_idx < r->n_docs &&
            r->docs[r->check_idx].status == DOC_PENDING)
                doc_stalled(r, &r->docs[r->check_idx]);
        request_schedule(r);
        return 0;
}

/* The document is a pipe or socket: 1 when a read() would not wait, 0 when it would (the request goes on
 * from doc_io_cb() when data or the end comes), or a negative errno. The loop never waits in read(): a
 * client that writes its document only after Sign returned, or never, must not stop the agent. */
static int doc_readable(SignRequest *r, SignDoc *d) {
        struct pollfd p = { .fd = d->fd, .events = POLLIN };
        int k;

        k = poll(&p, 1, 0);
        if (k < 0)
                return errno == EINTR ? 1 : -errno;
        if (k > 0)
                return 1;
        r->doc_io = sd_event_source_disable_unref(r->doc_io);
        k = sd_event_add_io(r->owner->event, &r->doc_io, d->fd, EPOLLIN, doc_io_cb, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(r->doc_io, SD_EVENT_ONESHOT);
        /* From the last data: a slow writer is fine, one that stopped is not. */
        r->doc_timer = sd_event_source_disable_unref(r->doc_timer);
        k = sd_event_add_time_relative(
                r->owner->event, &r->doc_timer, CLOCK_MONOTONIC, r->owner->config->document_timeout_usec, 0,
                doc_timer_cb, r);
        return k < 0 ? k : 0;
}

/* Hashes up to budget bytes of a document (not for issue, whose content streams through the verifier of the
 * leader's signature). 1 when the document is hashed, 0 when more remains, -EAGAIN when a pipe has no data
 * yet (doc_io_cb() goes on), or a negative errno. */
static int doc_hash_some(SignRequest *r, SignDoc *d, uint64_t budget) {
        static uint8_t buf[1024 * 1024];
        uint64_t done = 0;
        int k;

        if (!d->hashing) {
                struct stat st;
                if (content_digests_add(&d->digests, NID_sha256) < 0 ||
                    content_digests_add(&d->digests, r->digest_nid) < 0)
                        return -ENOMEM;
                d->hashing = true;
                d->pollable = fstat(d->fd, &st) >= 0 &&
                              (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode));
        }
        while (done < budget) {
                if (d->pollable) {
                        k = doc_readable(r, d);
                        if (k <= 0)
                                return k < 0 ? k : -EAGAIN;
                }
                ssize_t n = content_read_fd(&d->fd, buf, sizeof buf);
                if (n < 0)
                        return (int) n;
                if (n == 0) {
                        k = content_digests_finish(&d->digests);
                        if (k < 0)
                                return k;
                        d->hashed = true;
                        return 1;
                }
                if (d->digests.total == 0)
                        d->is_pdf = n >= 5 && memcmp(buf, "%PDF-", 5) == 0;
                k = content_digests_update(&d->digests, buf, (size_t) n);
                if (k < 0)
                        return k;
                done += (uint64_t) n;
        }
        return 0;
}

/* The policy's decision on a hashed document, with the checks of its existing signatures (issue). */
static int doc_decide(SignRequest *r, SignDoc *d, const SignatureCheck *checks, size_t n_checks) {
        _cleanup_free_ ExistingSignature *existing = NULL;
        RuleDecision dec = {};
        const uint8_t *h;
        size_t hs = 0;
        int k;

        d->size = d->digests.total;
        h = content_digests_get(&d->digests, NID_sha256, &hs);
        if (h && hs == 32)
                hex_encode(h, 32, d->sha256);

        if (n_checks > 0) {
                existing = calloc(n_checks, sizeof *existing);
                if (!existing)
                        return -ENOMEM;
                for (size_t i = 0; i < n_checks; i++)
                        existing[i] = signature_check_to_existing(&checks[i], true);
        }
        RuleRequest req = {
                .role = r->role,
                .signer = r->cert,
                .signer_status = &r->status,
                .existing = existing,
                .n_existing = n_checks,
                .classification = r->classification,
        };
        k = policy_rules_decide(r->policy, &req, &dec);
        if (k < 0)
                return k;
        if (!dec.allow)
                doc_deny(r, d, dec.reason, dec.article);
        else {
                d->article = dec.article;
                free(d->message);
                d->message = dec.reason ? strdup(dec.reason) : NULL;
        }
        rule_decision_done(&dec);
        return 0;
}

static void doc_pdf_refused(SignRequest *r, SignDoc *d) {
        d->size = d->digests.total;
        doc_finish(
                r, d, DOC_FAILED, KYSO_BUS_ERROR_BAD_DOCUMENT,
                _("PDF documents are signed inside the PDF (PAdES), which this version does not support yet. "
                  "Sign a non-PDF file, or wait for the PAdES update."));
}

/* Every document but one to issue over an existing signature (see existing_check_start()), once hashed. */
static int doc_check(SignRequest *r, SignDoc *d) {
        if (d->is_pdf) {
                doc_pdf_refused(r, d);
                return 0;
        }
        return doc_decide(r, d, NULL, 0);
}

/* The application stopped sending a document it gave as a pipe: it fails alone, the token's queue goes on.
 */
static void doc_stalled(SignRequest *r, SignDoc *d) {
        _cleanup_free_ char *msg = NULL;
        unsigned sec = (unsigned) (r->owner->config->document_timeout_usec / 1000000);

        log_warning(
                "Request %s: nothing more of %s came for %u s (document-timeout); it is not signed.",
                r->path, strna(d->name), sec);
        if (asprintf(
                    &msg,
                    _("The application stopped sending the document: nothing more came for %u s, so nothing "
                      "was signed. Sign again; if it happens again, tell whoever looks after the "
                      "application."),
                    sec) < 0)
                msg = NULL;
        doc_finish(
                r, d, DOC_FAILED, KYSO_BUS_ERROR_BAD_DOCUMENT,
                msg ?: kyso_bus_error_message(KYSO_BUS_ERROR_BAD_DOCUMENT));
}

static void doc_check_failed(SignRequest *r, SignDoc *d, int error) {
        log_error_errno(error, "Cannot check %s: %m", strna(d->name));
        doc_finish(
                r, d, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                _("The document could not be checked; see the agent's log."));
}

/* For issue: the leader's signature is verified while the document is hashed, and its certificate's
 * revocation is asked of the OCSP or CRL server, on a worker thread. */
static void existing_check_done(void *data, void *userdata) {
        ExistingCheckJob *j = data;
        SignRequest *r = userdata;
        SignDoc *d = &r->docs[r->job_doc];
        int k = j->error;

        r->job = NULL;
        if (k >= 0 && j->not_cms)
                doc_deny(
                        r, d,
                        _("The leader's signature file (existing_signature) is not a detached CMS signature of "
                          "this document. Give the .p7s the leader signed for this file."),
                        ARTICLE_SEAL);
        else if (k >= 0) {
                content_digests_done(&d->digests);
                d->digests = j->digests;
                j->digests = (ContentDigests){};
                free(d->existing);
                d->existing = TAKE_PTR(j->existing);
                d->existing_size = j->existing_size;
                k = doc_decide(r, d, j->checks, j->n_checks);
        }
        if (k == -ETIMEDOUT)
                doc_stalled(r, d);
        else if (k < 0)
                doc_check_failed(r, d, k);
        r->check_idx++;
        request_schedule(r);
}

static int existing_check_start(SignRequest *r, size_t idx) {
        SignDoc *d = &r->docs[idx];
        ExistingCheckJob *j;
        int k;

        k = existing_check_job_new(
                r->policy, d->fd, d->existing_fd, r->digest_nid,
                (int) MIN(r->owner->config->document_timeout_usec / 1000, (uint64_t) INT_MAX), &j);
        if (k < 0)
                return k;
        k = agent_worker_submit(
                r->owner->worker, existing_check_job_run, existing_check_done, existing_check_job_free, j, r,
                &r->job);
        if (k < 0) {
                existing_check_job_free(j);
                return k;
        }
        /* The client's document may be a pipe it never closes: a cancelled check must not read it forever
         * and hold one of the few worker threads. */
        worker_job_set_cancel(r->job, existing_check_job_cancel);
        r->job_doc = idx;
        return 0;
}

/* ---- the certificate */

/* The token's identity for the audit records, so the report can tell tokens apart by serial. */
static int set_token_fields(SignRequest *r, const P11Token *t) {
        const struct {
                char **dst;
                const char *src;
        } f[] = { { &r->token_serial, t->serial },
                  { &r->token_manufacturer, t->manufacturer },
                  { &r->token_model, t->model } };
        for (size_t i = 0; i < ELEMENTSOF(f); i++) {
                free(*f[i].dst);
                *f[i].dst = isempty(f[i].src) ? NULL : strdup(f[i].src);
                if (!isempty(f[i].src) && !*f[i].dst)
                        return -ENOMEM;
        }
        return 0;
}

static int request_find_certificate(SignRequest *r) {
        const P11Token *const *tokens;
        const P11Certificate *const *certs;
        size_t n_tokens, n_certs;
        const P11Certificate *found = NULL;
        const P11Token *token = NULL;
        int k;

        k = p11_manager_get_tokens(r->owner->manager, &tokens, &n_tokens);
        if (k >= 0)
                k = p11_manager_get_certificates(r->owner->manager, &certs, &n_certs);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n_certs; i++) {
                const P11Token *t = NULL;

                for (size_t j = 0; j < n_tokens; j++)
                        if (streq_ptr(tokens[j]->uri, certs[i]->token_uri))
                                t = tokens[j];
                if (!t)
                        continue;
                if (!streq(certs[i]->uri, r->cert_uri) &&
                    p11_uri_match_certificate(r->cert_uri, t, certs[i]) <= 0)
                        continue;
                if (found)
                        return -ENOTUNIQ;
                found = certs[i];
                token = t;
        }
        if (!found)
                return -ENODEV;
        /* A private key that is a private object shows only after login, and real eTokens often keep no
         * public key beside it: on a token that needs a login, the helper looks for it after logging in. */
        if (!found->has_private_key && !p11_certificate_key_after_login(found, token))
                return -ENOKEY;
        free(r->token_uri);
        r->token_uri = strdup(found->token_uri);
        r->token_label = strdup(strempty(token->label));
        if (set_token_fields(r, token) < 0)
                return -ENOMEM;
        /* Sign with the certificate's own URI, so the manager finds exactly this one. */
        free(r->cert_uri);
        r->cert_uri = strdup(found->uri);
        r->pin_flags = token->pin_flags;
        if (!r->token_uri || !r->token_label || !r->cert_uri)
                return -ENOMEM;
        const unsigned char *p = found->der;
        r->cert = d2i_X509(NULL, &p, (long) found->der_size);
        if (!r->cert)
                return -EBADMSG;
        /* Kind and status are decided by the request's own checks (cert_validate with revocation). */
        return certificate_info_from_der(NULL, found->der, found->der_size, (int64_t) time(NULL), &r->info);
}

/* The cache's lifetimes: kysod.conf's, cut to the policy's maximum (read again for each request); nothing is
 * kept while lock and sleep cannot be observed. */
static void pin_cache_update_config(AgentSign *s, const Policy *policy) {
        PinCacheConfig pcc = {
                .personal_usec = s->config->pin_cache_personal_usec,
                .organization_usec = s->config->pin_cache_organization_usec,
                .policy_max_usec =
                        s->pin_watch ? (uint64_t) policy->pin_cache_max_sec * UINT64_C(1000000) : 0,
        };
        pin_cache_set_config(s->pin_cache, &pcc);
}

static PinCacheKind pin_cache_kind(CertKind kind) {
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

static bool pin_cache_usable(SignRequest *r) {
        AgentSign *s = r->owner;
        return s && s->pin_cache && s->pin_watch && session_watch_is_ready(s->pin_watch) &&
               pin_cache_kind(r->kind) >= 0 && !(r->pin_flags & P11_PROTECTED_AUTH_PATH) && !r->app_prompted;
}

static int request_prepare(SignRequest *r) {
        _cleanup_strv_free_ char **errors = NULL;
        EVP_PKEY *key;
        int k;

        /* Never policy_tools_flags(): the person at the desk sets this process's environment, and must not
         * be able to loosen the policy with it. The owner check always applies (root-owned, not writable by
         * others), so $KYSO_POLICY can only point at a policy the administrator wrote. */
        k = policy_load(policy_tools_path(), 0, &r->policy, &errors);
        if (k < 0) {
                log_error_errno(
                        k, "Cannot load the signing policy %s: %m%s%s", policy_tools_path(),
                        errors && errors[0] ? ": " : "", errors && errors[0] ? errors[0] : "");
                request_fail_all(
                        r, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                        _("The signing policy could not be read, so nothing can be signed. Ask your "
                          "administrator to check it with 'kysoctl policy check'."));
                return -ECANCELED;
        }
        /* Which policy decides is part of the record: written when it differs from the one last recorded. */
        if (r->owner && !streq(r->owner->policy_digest, r->policy->digest)) {
                k = r->owner->audit ? agent_policy_record(r->owner->audit, r->policy, "sign request")
                                    : -EROFS;
                if (k < 0) {
                        log_error_errno(k, "Cannot record the signing policy in the audit log: %m");
                        request_fail_all(
                                r, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                                _("The audit log could not record the signing policy, so nothing is signed. "
                                  "Check the disk space of the audit log, then sign again."));
                        return -ECANCELED;
                }
                agent_sign_set_policy_recorded(r->owner, r->policy->digest);
        }

        k = request_find_certificate(r);
        if (k < 0) {
                _cleanup_free_ char *msg = NULL;
                if (k == -ENOMEM)
                        return k;
                if (asprintf(
                            &msg,
                            k == -ENOKEY ? _("The certificate %s has no private key on its token. Choose a "
                                             "certificate listed by 'kysoctl certs' with a key.")
                            : k == -ENOTUNIQ
                                    ? _("The certificate URI %s matches several certificates. Give the full "
                                        "URI from 'kysoctl certs'.")
                                    : _("No token with the certificate %s is present. Insert the token and "
                                        "check 'kysoctl certs'."),
                            r->cert_uri) < 0)
                        return -ENOMEM;
                request_fail_all(
                        r, DOC_FAILED,
                        k == -ENOTUNIQ ? KYSO_BUS_ERROR_INVALID_ARGS : KYSO_BUS_ERROR_NO_TOKEN, msg);
                return -ECANCELED;
        }
        r->cert_cn = name_entry(r->cert, NID_commonName);
        r->cert_o = name_entry(r->cert, NID_organizationName);
        k = cades_signing_certificate(r->cert, &r->signing_certificate, &r->signing_certificate_size);
        if (k < 0)
                return k;
        r->kind = policy_classify_certificate(r->policy, r->cert, NULL);
        pin_cache_update_config(r->owner, r->policy);
        if (r->policy->intermediates) {
                r->chain = X509_chain_up_ref(r->policy->intermediates);
                if (!r->chain)
                        return -ENOMEM;
        }

        r->digest_nid = NID_sha256;
        if (r->policy->hashes && r->policy->hashes[0] && !strv_has(r->policy->hashes, "sha256")) {
                if (streq(r->policy->hashes[0], "sha384"))
                        r->digest_nid = NID_sha384;
                else if (streq(r->policy->hashes[0], "sha512"))
                        r->digest_nid = NID_sha512;
        }
        r->mech.hash = r->digest_nid == NID_sha384   ? P11_HASH_SHA384
                       : r->digest_nid == NID_sha512 ? P11_HASH_SHA512
                                                     : P11_HASH_SHA256;
        key = X509_get0_pubkey(r->cert);
        if (key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
                r->scheme = CMS_SIGNATURE_ECDSA;
                r->mech.algorithm = P11_SIGN_ECDSA;
        } else if (r->policy->rsa_padding == RSA_PADDING_PSS) {
                r->scheme = CMS_SIGNATURE_RSA_PSS;
                r->mech.algorithm = P11_SIGN_RSA_PSS;
                r->mech.salt_length = -1;
        } else {
                r->scheme = CMS_SIGNATURE_RSA_PKCS1;
                r->mech.algorithm = P11_SIGN_RSA_PKCS1;
        }

        if (r->timestamp && !r->policy->tsa_url) {
                request_fail_all(
                        r, DOC_FAILED, KYSO_BUS_ERROR_INVALID_ARGS,
                        _("A time-stamp was asked for, but the policy names no time-stamp server. Sign "
                          "without a time-stamp, or ask your administrator to set one."));
                return -ECANCELED;
        }

        return 0;
}

static void validate_done(void *data, void *userdata) {
        CertCheckJob *j = data;
        SignRequest *r = userdata;

        r->job = NULL;
        if (j->error < 0) {
                log_error_errno(j->error, "Cannot prepare request %s: %m", r->path);
                request_fail_errno(r, j->error, NULL);
                return;
        }
        cert_validation_done(&r->status);
        r->status = j->result;
        j->result = (CertValidation){};
        r->signing_time = time(NULL);
        r->state = REQ_CHECKING;
        r->check_idx = 0;
        request_schedule(r);
}

/* Revocation and chain, on a worker thread (OCSP and CRL servers may take their whole timeout): fails
 * closed, no answer means no signature. */
static int validate_start(SignRequest *r) {
        CertCheckJob *j;
        int k;

        k = cert_check_job_new(r->policy, r->cert, r->chain, 0, CERT_VALIDATE_DOCUMENT_SIGNING, &j);
        if (k < 0)
                return k;
        k = agent_worker_submit(
                r->owner->worker, cert_check_job_run, validate_done, cert_check_job_free, j, r, &r->job);
        if (k < 0) {
                cert_check_job_free(j);
                return k;
        }
        r->state = REQ_VALIDATING;
        return 0;
}

/* ---- prompts */

static PromptPinState pin_state(unsigned flags) {
        if (flags & P11_PIN_LOCKED)
                return PROMPT_PIN_LOCKED;
        if (flags & P11_PIN_FINAL_TRY)
                return PROMPT_PIN_FINAL_TRY;
        if (flags & P11_PIN_COUNT_LOW)
                return PROMPT_PIN_COUNT_LOW;
        return PROMPT_PIN_OK;
}

static int tries_left(unsigned flags) {
        if (flags & P11_PIN_LOCKED)
                return 0;
        if (flags & P11_PIN_FINAL_TRY)
                return 1;
        return -1;
}

static void fail_locked(SignRequest *r) {
        _cleanup_free_ char *msg = prompt_text_pin_locked(r->token_label);
        request_fail_all(
                r, DOC_FAILED, KYSO_BUS_ERROR_PIN_LOCKED,
                msg ?: kyso_bus_error_message(KYSO_BUS_ERROR_PIN_LOCKED));
}

static void prompt_error(SignRequest *r, int error) {
        _cleanup_free_ char *msg = NULL;
        /* Nobody answered, or the app that was to answer left: nothing was refused or broken. */
        bool unanswered = error == -ETIMEDOUT || (r->app_prompter && error == -ENOTCONN);

        if (r->app_prompter)
                msg = prompt_text_app_prompter_failed(error);
        else if (error == -ENOENT || error == -EACCES)
                msg = prompt_text_program_missing(pinentry_prompter_get_program(r->owner->prompter));
        else if (error == -ETIMEDOUT)
                msg = strdup(
                        _("Nobody answered the prompt in time, so nothing was signed. Sign again when you "
                          "are at the desk."));
        log_warning_errno(error, "Prompt for %s failed: %m", r->path);
        request_fail_all(
                r, unanswered ? DOC_CANCELLED : DOC_FAILED,
                unanswered                            ? KYSO_BUS_ERROR_CANCELLED
                : r->app_prompter && error == -EPROTO ? KYSO_BUS_ERROR_INVALID_ARGS
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

static void pin_handler(Prompter *p, PromptReply reply, int error, Secret *pin, void *userdata) {
        SignRequest *r = userdata;
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
        secret_free(r->pin);
        r->pin = pin;
        r->pin_from_cache = false;
        /* The prompt is free for other requests (other tokens) while this token works. */
        prompt_release(r);
        r->state = REQ_SIGNING;
        sign_next(r);
}

static void ask_pin_prompt(SignRequest *r);

static void ask_pin(SignRequest *r) {
        Secret *cached = NULL;

        /* A kept PIN is not tried when the token counts down its tries: then the person types it. */
        if (pin_cache_usable(r) &&
            !(r->pin_flags & (P11_PIN_COUNT_LOW | P11_PIN_FINAL_TRY | P11_PIN_LOCKED)) &&
            pin_cache_get(r->owner->pin_cache, r->token_uri, pin_cache_kind(r->kind), &cached) >= 0) {
                log_debug("Using the kept PIN of token '%s'.", strna(r->token_label));
                secret_free(r->pin);
                r->pin = cached;
                r->pin_from_cache = true;
                prompt_release(r);
                r->state = REQ_SIGNING;
                sign_next(r);
                return;
        }
        ask_pin_prompt(r);
}

static void ask_pin_prompt(SignRequest *r) {
        PromptPinRequest pr = {
                .token_label = r->token_label,
                .state = pin_state(r->pin_flags),
                .tries_left = tries_left(r->pin_flags),
                .previous_wrong = r->previous_wrong,
        };
        int k;

        r->state = REQ_PIN;
        k = prompter_ask_pin(select_prompter(r), &pr, pin_handler, r);
        if (k < 0)
                prompt_error(r, k);
}

static void pinpad_handler(Prompter *p, PromptReply reply, int error, void *userdata) {
        SignRequest *r = userdata;
        (void) p;
        (void) error;
        /* The person closed the PIN pad message: the login on the reader goes on; cancel only if asked. */
        if (reply == PROMPT_REPLY_CANCELLED)
                r->cancelled = true;
}

static void confirm_handler(Prompter *p, PromptReply reply, int error, void *userdata) {
        SignRequest *r = userdata;
        (void) p;

        if (reply == PROMPT_REPLY_ERROR) {
                prompt_error(r, error);
                return;
        }
        if (reply != PROMPT_REPLY_YES) {
                declined(r, reply);
                return;
        }
        r->confirmed = true;
        if (r->pin_flags & P11_PIN_FINAL_TRY)
                r->confirmed_final = true;
        if (r->pin_flags & P11_PROTECTED_AUTH_PATH) {
                int k;
                r->pinpad = true;
                k = prompter_show_pinpad(select_prompter(r), r->token_label, pinpad_handler, r);
                if (k < 0)
                        log_warning_errno(k, "Cannot show the PIN pad message: %m");
                r->state = REQ_SIGNING;
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
                                                      .sha256 = r->docs[i].sha256 };
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
                .role = role_name(r->role),
                .flags = (r->pin_flags & P11_PIN_FINAL_TRY) ? PROMPT_FLAG_FINAL_TRY : 0,
        };
        r->state = REQ_CONFIRM;
        k = prompter_confirm(select_prompter(r), &pr, confirm_handler, r);
        if (k < 0)
                prompt_error(r, k);
}

/* ---- signing */

static CmsInput cms_input_of(SignRequest *r, SignDoc *d, const TsaOptions *tsa) {
        return (CmsInput){
                .cert = r->cert,
                .chain = r->chain,
                .digest_nid = r->digest_nid,
                .scheme = r->scheme,
                .signing_time = r->signing_time,
                .existing = d->existing,
                .existing_size = d->existing_size,
                .digests = &d->digests,
                .tbs = d->tbs,
                .tbs_size = d->tbs_size,
                .sig = d->sig,
                .sig_size = d->sig_size,
                .tsa = tsa,
                .signing_certificate = r->signing_certificate,
                .signing_certificate_size = r->signing_certificate_size,
        };
}

static void sign_result(P11Manager *m, const P11SignResult *res, void *userdata);

/* The next document for the token: pending and not signed yet. */
static size_t next_pending(SignRequest *r, size_t from) {
        while (from < r->n_docs && (r->docs[from].status != DOC_PENDING || r->docs[from].sig))
                from++;
        return from;
}

/* The first CMS pass of a document: the digest the token is to sign (d->tbs), done once. Returns 0, or
 * -EAGAIN when the document failed here (finished). */
static int doc_prepare(SignRequest *r, SignDoc *d) {
        _cleanup_free_ char *msg = NULL;
        CmsInput in;
        uint8_t *tbs = NULL;
        size_t tbs_size = 0;
        int k;

        if (d->tbs)
                return 0;
        in = cms_input_of(r, d, NULL);
        in.sig = NULL;
        k = cms_input_build(&in, &tbs, &tbs_size, NULL, NULL, NULL, &msg);
        if (k != CMS_TBS_CAPTURED) {
                log_error("Cannot prepare the signature of %s: %s", strna(d->name), strna(msg));
                doc_finish(
                        r, d, DOC_FAILED,
                        k == -EBADMSG ? KYSO_BUS_ERROR_BAD_DOCUMENT : KYSO_BUS_ERROR_INTERNAL,
                        _("The signature could not be prepared. Nothing was written; see the agent's log."));
                return -EAGAIN;
        }
        d->tbs = tbs;
        d->tbs_size = tbs_size;
        return 0;
}

/* Starts the token's signature of document idx (prepared first if it is not yet). Returns 0 when the token
 * works on it, -EAGAIN when the document failed here (finished), or the manager's error. */
static int sign_start(SignRequest *r, size_t idx) {
        SignDoc *d = &r->docs[idx];
        unsigned flags = 0;
        int k;

        k = doc_prepare(r, d);
        if (k < 0)
                return k;
        if (next_pending(r, idx + 1) < r->n_docs)
                flags |= P11_SIGN_KEEP_LOGIN; /* later documents use this login, one PIN */
        if (r->batch_login)
                flags |= P11_SIGN_USE_LOGIN;
        k = p11_manager_sign(
                r->owner->manager, r->cert_uri, r->pin, &r->mech, d->tbs, d->tbs_size, flags, sign_result,
                r);
        if (k < 0)
                return k;
        if (r->n_in_flight++ == 0)
                r->cur = idx;
        r->last_sent = idx;
        return 0;
}

/* A document the token signed that waits for its time-stamp (none in a request without one). */
static SignDoc *doc_awaiting_timestamp(SignRequest *r) {
        for (size_t i = 0; i < r->n_docs; i++)
                if (r->docs[i].status == DOC_PENDING && r->docs[i].sig && !(r->job && r->job_doc == i))
                        return &r->docs[i];
        return NULL;
}

/* The second pass of the CMS is done: the signature of d is built (k == 0) or failed. With later, d is
 * recorded with the documents that finish soon after it (the token is already signing the next one). */
static void doc_seal(
        SignRequest *r, SignDoc *d, int k, const char *msg, uint8_t **der, size_t der_size, CmsTimestamp *ts,
        bool later) {
        if (k < 0) {
                _cleanup_free_ char *text = NULL;
                log_error("Cannot finish the signature of %s: %s", strna(d->name), strna(msg));
                if (r->timestamp && (k == -EHOSTUNREACH || k == -EPROTO || k == -EBADMSG))
                        (void) asprintf(
                                &text,
                                _("The time-stamp server (%s) %s, so nothing was written. Try again later, "
                                  "or sign without a time-stamp."),
                                r->policy->tsa_url,
                                k == -EHOSTUNREACH ? _("could not be reached")
                                                   : _("gave no valid time-stamp"));
                doc_finish(
                        r, d, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                        text
                                ?: _("The signature could not be finished. Nothing was written; see the agent's "
                                     "log."));
                return;
        }
        if (ts->has_gen_time) {
                char buf[32];
                struct tm tm;
                gmtime_r(&ts->gen_time, &tm);
                strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
                d->timestamp_time = strdup(buf);
        }
        if (sha256_hex(*der, der_size, d->sha256_after) < 0)
                d->sha256_after[0] = '\0'; /* the record then has no sha256_after */
        free(d->sig);
        d->sig = TAKE_PTR(*der);
        d->sig_size = der_size;
        if (later)
                doc_done_later(r, d);
        else
                doc_finish(r, d, DOC_DONE, 0, NULL);
}

static void timestamp_done(void *data, void *userdata) {
        CmsJob *j = data;
        SignRequest *r = userdata;

        r->job = NULL;
        doc_seal(r, &r->docs[r->job_doc], j->error, j->message, &j->der, j->der_size, &j->timestamp, false);
        sign_next(r);
}

/* B-T: the time-stamp server is asked on a worker thread, while the token signs the next document. */
static int timestamp_start(SignRequest *r, SignDoc *d) {
        _cleanup_free_ char *url = policy_rewrite_url(r->policy, r->policy->tsa_url);
        TsaOptions tsa;
        CmsInput in;
        CmsJob *j;
        int k;

        if (!url)
                return -ENOMEM;
        tsa = (TsaOptions){
                .url = url,
                .proxy = r->policy->proxy,
                .timeout_sec = (int) r->policy->tsa_timeout_sec,
        };
        in = cms_input_of(r, d, &tsa);
        k = cms_job_new(&in, &j);
        if (k < 0)
                return k;
        k = agent_worker_submit(r->owner->worker, cms_job_run, timestamp_done, cms_job_free, j, r, &r->job);
        if (k < 0) {
                cms_job_free(j);
                return k;
        }
        r->job_doc = (size_t) (d - r->docs);
        return 0;
}

/* What comes next once the token or the time-stamp server is done: the time-stamp of a signed document (one
 * at a time), the token's next document (at most one signed document waits for its time-stamp), or the end.
 */
static void sign_next(SignRequest *r) {
        SignDoc *waiting;
        size_t idx;
        int k;

        if (r->cancelled) {
                if (r->n_in_flight > 0)
                        return; /* sign_result() discards what the token makes */
                request_fail_all(
                        r, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED,
                        _("The request was cancelled, so nothing more was signed."));
                return;
        }
        while (!r->job && (waiting = doc_awaiting_timestamp(r))) {
                k = timestamp_start(r, waiting);
                if (k < 0) {
                        log_error_errno(k, "Cannot ask for the time-stamp of %s: %m", strna(waiting->name));
                        doc_finish(
                                r, waiting, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                                _("The signature could not be finished. Nothing was written; see the agent's "
                                  "log."));
                }
        }
        if (r->n_in_flight > 0 || doc_awaiting_timestamp(r))
                return;
        idx = next_pending(r, r->cur);
        if (idx >= r->n_docs) {
                if (!r->job)
                        request_finish(r);
                return;
        }
        k = sign_start(r, idx);
        if (k == -EAGAIN) {
                request_schedule(r);
                return;
        }
        if (k < 0)
                request_fail_errno(
                        r, k,
                        k == -ENODEV ? _("The token was removed, so nothing was signed. Insert it and "
                                         "sign again.")
                                     : NULL);
}

/* Keeps the token busy once it is logged in: a fast one gets up to P11_PIPELINE_MAX documents at once (the
 * manager hands them to the helper, which goes from one to the next without waiting for us), a slow one the
 * next as the answer comes. Not while a PIN is to be tried (nor for a key that wants it for each signature),
 * nor for a request with time-stamps (sign_next() keeps the token and the time-stamp server busy). */
static void sign_feed(SignRequest *r) {
        unsigned max = r->fast_token ? P11_PIPELINE_MAX : 1;

        while (!r->cancelled && r->n_in_flight < max && !r->pin) {
                size_t next = next_pending(r, r->last_sent + 1);
                int k;

                if (next >= r->n_docs)
                        return;
                k = sign_start(r, next);
                if (k < 0 && k != -EAGAIN) /* the document failed here (-EAGAIN): on to the one after */
                        return;
        }
}

/* A wrong PIN is an event of its own (Article 15 counts them). Like every event, one that cannot be
 * recorded ends the request: then -EIO, and the request is finished. */
static int record_wrong_pin(SignRequest *r, const char *message) {
        AuditEvent ev = {
                .type = AUDIT_EVENT_PIN_FAILURE,
                .caller = &r->caller,
                .message = message,
                .request = r->path,
        };
        int k;

        audit_event_set_token(&ev, r);
        k = r->owner->audit ? audit_log_append(r->owner->audit, &ev, NULL) : -EROFS;
        if (k < 0) {
                log_error_errno(k, "Cannot append the audit record of a wrong PIN: %m");
                request_fail_all(
                        r, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                        _("The audit log could not record the wrong PIN, so the request was stopped. Check the "
                          "disk space of the audit log, then sign again."));
                return -EIO;
        }
        return 0;
}

static void sign_result(P11Manager *m, const P11SignResult *res, void *userdata) {
        SignRequest *r = userdata;
        SignDoc *d;
        _cleanup_free_ char *msg = NULL;
        bool pipelined;
        CmsTimestamp ts = {};
        CmsInput in;
        uint8_t *der = NULL;
        size_t der_size = 0;
        int k;
        (void) m;

        r->n_in_flight--;
        if (!r->owner || r->state == REQ_FINISHED) {
                if (r->n_in_flight == 0)
                        request_free(r);
                return;
        }
        uint64_t now;
        if (sd_event_now(r->owner->event, CLOCK_MONOTONIC, &now) >= 0) {
                r->fast_token = r->last_answer_usec > 0 && now - r->last_answer_usec < SIGN_FAST_TOKEN_USEC;
                r->last_answer_usec = now;
        }
        /* Answers come in the order the documents were sent; the ones still with the token are pending. */
        d = &r->docs[r->cur];
        if (r->n_in_flight > 0)
                r->cur = next_pending(r, r->cur + 1);
        bool pinpad = r->pinpad;
        if (r->pinpad) {
                prompter_cancel(request_prompter(r));
                r->pinpad = false;
        }
        if (res->error == -EACCES && pinpad && !r->pin) {
                /* Wrong PIN typed on the reader. Not tried again on our own: the reader would ask at once,
                 * and a PIN typed in a hurry is how a token gets locked. The person signs again. */
                r->pin_flags = res->pin_flags;
                r->batch_login = false;
                if (record_wrong_pin(r, "Wrong PIN typed on the reader") < 0)
                        return;
                if (res->pin_flags & P11_PIN_LOCKED) {
                        fail_locked(r);
                        return;
                }
                _cleanup_free_ char *text = prompt_text_pinpad_wrong(tries_left(res->pin_flags));
                request_fail_all(
                        r, DOC_FAILED, KYSO_BUS_ERROR_PIN_INCORRECT,
                        text ?: kyso_bus_error_message(KYSO_BUS_ERROR_PIN_INCORRECT));
                return;
        }
        if (res->error < 0) {
                if (res->error == -EACCES && r->pin) {
                        /* Wrong PIN: the token says how many tries are left (count low, final try). The
                         * helper dropped its session, so the next try logs in again. */
                        r->pin_flags = res->pin_flags;
                        r->pin = secret_free(r->pin);
                        r->batch_login = false;
                        if (r->pin_from_cache) {
                                /* The token refused the kept PIN (changed elsewhere?): forget it now, the
                                 * person is asked; the final-try confirmation below applies as usual. */
                                r->pin_from_cache = false;
                                if (r->owner->pin_cache)
                                        (void) pin_cache_forget(r->owner->pin_cache, r->token_uri);
                                log_notice(
                                        "Token '%s' refused the kept PIN; it is forgotten and the PIN is asked.",
                                        strna(r->token_label));
                        }
                        if (record_wrong_pin(r, "Wrong PIN") < 0)
                                return;
                        if (r->cancelled) {
                                sign_next(r);
                                return;
                        }
                        if (res->pin_flags & P11_PIN_LOCKED) {
                                fail_locked(r);
                                return;
                        }
                        r->previous_wrong = true;
                        /* Before the last try the person confirms again, explicitly (PROMPT_FLAG_FINAL_TRY).
                         */
                        if ((res->pin_flags & P11_PIN_FINAL_TRY) && !r->confirmed_final)
                                r->confirmed = false;
                        r->state = REQ_WAIT_PROMPT;
                        request_schedule(r);
                        return;
                }
                if (res->error == -EPERM) {
                        fail_locked(r);
                        return;
                }
                if (r->cancelled) {
                        sign_next(r);
                        return;
                }
                log_error(
                        "Signing %s on %s failed: %s", strna(d->name), strna(r->token_label),
                        strna(res->message));
                request_fail_errno(
                        r,
                        res->error == -ENODEV || res->error == -ENOKEY ? -ENODEV /* NoToken */
                        : res->error == -ECANCELED                     ? -ECANCELED
                                                                       : -EIO,
                        res->error == -ENODEV
                                ? _("The token was removed while signing, so nothing was written. "
                                    "Insert the token and sign again.")
                        : res->error == -ENOKEY
                                ? _("The token has no private key for this certificate, so nothing was "
                                    "signed. Choose a certificate listed by 'kysoctl certs' with a key.")
                        : res->error == -ECONNRESET || res->error == -ETIME
                                ? _("The token's driver stopped working while signing, so nothing was written. "
                                    "Sign again; if it happens again, reinsert the token.")
                        : res->error == -ECANCELED
                                ? NULL
                                : _("The token could not sign, so nothing was written. Sign "
                                    "again; if it happens again, reinsert the token."));
                return;
        }
        /* A PIN was accepted: the prompt is free for others; later documents use the login. A PIN the
         * person typed is kept when the cache is on for this kind of certificate. */
        if (r->pin && !r->pin_from_cache && !r->batch_login && pin_cache_usable(r)) {
                k = pin_cache_put(r->owner->pin_cache, r->token_uri, pin_cache_kind(r->kind), r->pin);
                if (k < 0)
                        log_warning_errno(k, "Cannot keep the PIN of token '%s': %m", strna(r->token_label));
                else if (k > 0)
                        log_debug("Keeping the PIN of token '%s'.", strna(r->token_label));
        }
        /* The later documents use this login (P11_SIGN_KEEP_LOGIN); after the last one the helper logged
         * out. A key with CKA_ALWAYS_AUTHENTICATE wants the PIN for each signature: the batch has one PIN,
         * kept (wiped at the batch's end by request_finish) only for such a key. */
        r->batch_login = next_pending(r, r->cur + 1) < r->n_docs;
        if (!res->always_authenticate || !r->batch_login) {
                r->pin = secret_free(r->pin);
                r->pin_from_cache = false;
        }
        prompt_release(r);
        r->previous_wrong = false;

        free(d->sig);
        d->sig = memdup(res->signature, res->signature_size);
        d->sig_size = res->signature_size;
        if (!d->sig) {
                request_fail_errno(r, -ENOMEM, NULL);
                return;
        }
        if (r->cancelled) {
                /* Cancel (or the client's disconnect) came while the token signed: the person approved,
                 * the app withdrew, so the signature is never delivered. The record says it existed. */
                log_info("Request %s: the token's signature of %s is discarded.", r->path, strna(d->name));
                doc_finish(r, d, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED, doc_discarded_message());
                sign_next(r);
                return;
        }
        if (r->timestamp) {
                sign_next(r); /* the time-stamp of d on a worker thread, the token on the next document */
                return;
        }
        /* The token goes on with the next documents while this one gets its CMS, output and audit record,
         * and the one after them is prepared, so that the token waits for nothing. */
        sign_feed(r);
        pipelined = r->n_in_flight > 0;
        in = cms_input_of(r, d, NULL);
        k = cms_input_build(&in, NULL, NULL, &der, &der_size, &ts, &msg);
        doc_seal(r, d, k, msg, &der, der_size, &ts, pipelined);
        free(der);
        cms_timestamp_done(&ts);
        if (!pipelined) {
                sign_next(r);
                return;
        }
        /* The one after the document the token now signs is prepared too, so that the token waits for
         * nothing when it answers. */
        size_t next = next_pending(r, r->last_sent + 1);
        if (next < r->n_docs)
                (void) doc_prepare(r, &r->docs[next]);
}

/* ---- the steps */

static void request_step(SignRequest *r) {
        AgentSign *s = r->owner;
        size_t pending = 0;
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
                if (token_running(s, r))
                        return;
                k = request_prepare(r);
                if (k == -ECANCELED)
                        return;
                if (k >= 0)
                        k = validate_start(r);
                if (k < 0) {
                        log_error_errno(k, "Cannot prepare request %s: %m", r->path);
                        request_fail_errno(r, k, NULL);
                }
                return; /* validate_done() goes on */
        case REQ_CHECKING:
                if (r->job)
                        return; /* existing_check_done() goes on */
                for (; r->check_idx < r->n_docs; r->check_idx++) {
                        SignDoc *d = &r->docs[r->check_idx];

                        if (d->status != DOC_PENDING)
                                continue;
                        if (r->role == SIGN_ROLE_ISSUE && d->existing_fd >= 0) {
                                k = existing_check_start(r, r->check_idx);
                                if (k >= 0)
                                        return;
                                doc_check_failed(r, d, k);
                                continue;
                        }
                        if (!d->hashed) {
                                /* 8 MiB per turn of the loop: other requests and calls are served between.
                                 */
                                k = doc_hash_some(r, d, UINT64_C(8) * 1024 * 1024);
                                if (k == 0) {
                                        request_schedule(r);
                                        return;
                                }
                                if (k == -EAGAIN)
                                        return; /* doc_io_cb() goes on when the client writes */
                                if (k < 0) {
                                        log_error_errno(k, "Cannot read %s: %m", strna(d->name));
                                        doc_finish(
                                                r, d, DOC_FAILED, KYSO_BUS_ERROR_BAD_DOCUMENT,
                                                _("The document could not be read. Check that the file is "
                                                  "readable, then sign again."));
                                        continue;
                                }
                        }
                        k = doc_check(r, d);
                        if (k < 0)
                                doc_check_failed(r, d, k);
                }
                for (size_t i = 0; i < r->n_docs; i++)
                        if (r->docs[i].status == DOC_PENDING)
                                pending++;
                if (pending == 0) {
                        request_finish(r);
                        return;
                }
                if (r->pin_flags & P11_PIN_LOCKED) {
                        fail_locked(r);
                        return;
                }
                r->state = REQ_WAIT_PROMPT;
                __attribute__((fallthrough));
        case REQ_WAIT_PROMPT:
                if (prompt_taken(s, r) || prompter_busy(chosen_prompter(r)))
                        return; /* woken by queue_kick() */
                r->prompt_owner = true;
                if (r->confirmed)
                        ask_pin(r);
                else
                        confirm(r);
                return;
        case REQ_SIGNING:
                if (r->n_in_flight == 0)
                        sign_next(r);
                return;
        default:
                return;
        }
}

/* ---- D-Bus: Sign, SignBatch, Cancel */

static bool token_valid(const char *t) {
        if (!t || !*t || strlen(t) > 64)
                return false;
        for (const char *p = t; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_'))
                        return false;
        return true;
}

static char *sender_escape(const char *sender) {
        char *e = strdup(sender[0] == ':' ? sender + 1 : sender);
        if (!e)
                return NULL;
        for (char *p = e; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                        *p = '_';
        return e;
}

static SignRequest *find_request(AgentSign *s, const char *path) {
        for (SignRequest *r = s->requests; r; r = r->next)
                if (streq(r->path, path))
                        return r;
        return NULL;
}

/* Parses the options. Returns 0, or -EINVAL with *ret_msg set. */
static int parse_options(
        SignRequest *r, DBusMessageIter *it, char **handle_token, int **ret_existing, size_t *ret_n_existing,
        char **ret_msg) {
        DBusMessageIter arr;

        dbus_message_iter_recurse(it, &arr);
        while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
                DBusMessageIter entry, var;
                const char *key, *sig;
                char **target = NULL;

                dbus_message_iter_recurse(&arr, &entry);
                dbus_message_iter_get_basic(&entry, &key);
                dbus_message_iter_next(&entry);
                dbus_message_iter_recurse(&entry, &var);
                sig = dbus_message_iter_get_signature(&var);

                if (streq(key, "timestamp") || streq(key, "more_documents")) {
                        dbus_bool_t b;
                        if (!streq(sig, "b"))
                                goto bad;
                        dbus_message_iter_get_basic(&var, &b);
                        if (streq(key, "timestamp"))
                                r->timestamp = b;
                        else
                                r->more_documents = b;
                } else if (streq(key, "existing_signature") || streq(key, "existing_signatures")) {
                        bool many = streq(key, "existing_signatures");
                        if (!streq(sig, many ? "ah" : "h"))
                                goto bad;
                        if (many) {
                                DBusMessageIter fds;
                                dbus_message_iter_recurse(&var, &fds);
                                while (dbus_message_iter_get_arg_type(&fds) == DBUS_TYPE_UNIX_FD) {
                                        int fd, *n;
                                        dbus_message_iter_get_basic(&fds, &fd);
                                        n = realloc(*ret_existing, (*ret_n_existing + 1) * sizeof(int));
                                        if (!n) {
                                                safe_close(fd);
                                                dbus_free((char *) sig);
                                                return -ENOMEM;
                                        }
                                        *ret_existing = n;
                                        n[(*ret_n_existing)++] = fd;
                                        dbus_message_iter_next(&fds);
                                }
                        } else {
                                int fd, *n = realloc(*ret_existing, (*ret_n_existing + 1) * sizeof(int));
                                dbus_message_iter_get_basic(&var, &fd);
                                if (!n) {
                                        safe_close(fd);
                                        dbus_free((char *) sig);
                                        return -ENOMEM;
                                }
                                *ret_existing = n;
                                n[(*ret_n_existing)++] = fd;
                        }
                } else {
                        if (streq(key, "handle_token"))
                                target = handle_token;
                        else if (streq(key, "reason"))
                                target = &r->reason;
                        else if (streq(key, "location"))
                                target = &r->location;
                        else if (streq(key, "doc_number"))
                                target = &r->doc_number;
                        else if (streq(key, "doc_date"))
                                target = &r->doc_date;
                        else if (streq(key, "classification"))
                                target = &r->classification;
                        else if (streq(key, "label"))
                                target = &r->label;
                        if (target) {
                                const char *v;
                                if (!streq(sig, "s"))
                                        goto bad;
                                dbus_message_iter_get_basic(&var, &v);
                                free(*target);
                                *target = strdup(v);
                                if (!*target) {
                                        dbus_free((char *) sig);
                                        return -ENOMEM;
                                }
                        } else
                                log_debug("Ignoring unknown option '%s'.", key);
                }
                dbus_free((char *) sig);
                dbus_message_iter_next(&arr);
                continue;
bad:
                if (asprintf(ret_msg, _("The option '%s' has the wrong type '%s'."), key, sig) < 0)
                        *ret_msg = NULL;
                dbus_free((char *) sig);
                return -EINVAL;
        }
        return 0;
}

/* Who asks, for the prompt and the audit record: the process id the bus gave for the sender (asked once per
 * peer, without blocking, when its uid was checked) and that process's executable. */
static void caller_credentials(SignRequest *r, pid_t pid) {
        char proc[64], exe[PATH_MAX];
        ssize_t n;

        r->caller.uid = getuid();
        r->caller.pid = pid;
        if (pid <= 0)
                return;
        snprintf(proc, sizeof proc, "/proc/%d/exe", (int) pid);
        n = readlink(proc, exe, sizeof exe - 1);
        if (n > 0) {
                exe[n] = 0;
                r->exe = strdup(exe);
                r->caller.exe = r->exe;
        }
}

static DBusMessage *invalid(DBusMessage *m, const char *msg) {
        return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, msg);
}

/* A batch whose next part does not come in time would block its token's queue: it fails. */
static int collect_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        SignRequest *r = userdata;
        _cleanup_free_ char *msg = NULL;
        (void) src;
        (void) usec;

        log_warning(
                "Request %s: the next part of the batch (AddDocuments) did not come within %" PRIu64
                " s; the batch fails.",
                r->path, r->owner->config->batch_timeout_usec / 1000000);
        if (asprintf(
                    &msg,
                    _("The batch was never completed: no AddDocuments call (the last one with last=true) "
                      "came within %u seconds of the previous part, so nothing was signed. Send the whole "
                      "batch again."),
                    (unsigned) (r->owner->config->batch_timeout_usec / 1000000)) < 0)
                msg = NULL;
        request_fail_all(
                r, DOC_FAILED, KYSO_BUS_ERROR_INVALID_ARGS,
                msg ?: kyso_bus_error_message(KYSO_BUS_ERROR_INVALID_ARGS));
        return 0;
}

/* (Re)starts the wait for the next part of a batch. */
static int collect_arm(SignRequest *r) {
        uint64_t usec = r->owner->config->batch_timeout_usec;

        if (r->collect_timer)
                return sd_event_source_set_time_relative(r->collect_timer, usec) < 0 ||
                                       sd_event_source_set_enabled(r->collect_timer, SD_EVENT_ONESHOT) < 0
                               ? -ENOMEM
                               : 0;
        return sd_event_add_time_relative(
                r->owner->event, &r->collect_timer, CLOCK_MONOTONIC, usec, 100 * 1000, collect_timeout, r);
}

DBusMessage *agent_sign_method(AgentSign *s, DBusMessage *m, pid_t caller_pid) {
        SignRequest *r = NULL;
        DBusMessageIter it, fds;
        _cleanup_free_ int *docs = NULL, *outs = NULL, *existing = NULL;
        size_t n_docs = 0, n_outs = 0, n_existing = 0;
        _cleanup_free_ char *handle = NULL, *msg = NULL, *esc = NULL;
        const char *cert_uri, *role;
        bool batch = dbus_message_is_method_call(m, "org.kyso.Agent1", "SignBatch");
        DBusMessage *reply = NULL;
        int k;

        r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        r->owner = s;
        r->state = REQ_QUEUED;
        dbus_message_iter_init(m, &it);
        for (int pass = 0; pass < 2; pass++) {
                int **v = pass == 0 ? &docs : &outs;
                size_t *n = pass == 0 ? &n_docs : &n_outs;

                if (batch) {
                        dbus_message_iter_recurse(&it, &fds);
                        while (dbus_message_iter_get_arg_type(&fds) == DBUS_TYPE_UNIX_FD) {
                                int fd, *nv = realloc(*v, (*n + 1) * sizeof(int));
                                dbus_message_iter_get_basic(&fds, &fd);
                                if (!nv) {
                                        safe_close(fd);
                                        goto oom;
                                }
                                *v = nv;
                                nv[(*n)++] = fd;
                                dbus_message_iter_next(&fds);
                        }
                } else {
                        int fd;
                        *v = malloc(sizeof(int));
                        if (!*v)
                                goto oom;
                        dbus_message_iter_get_basic(&it, &fd);
                        (*v)[0] = fd;
                        *n = 1;
                }
                dbus_message_iter_next(&it);
        }
        dbus_message_iter_get_basic(&it, &cert_uri);
        dbus_message_iter_next(&it);
        dbus_message_iter_get_basic(&it, &role);
        dbus_message_iter_next(&it);
        k = parse_options(r, &it, &handle, &existing, &n_existing, &msg);
        if (k == -ENOMEM)
                goto oom;

        if (k < 0) {
                reply = invalid(m, msg);
                goto out;
        }
        if (n_docs == 0 || n_docs != n_outs || n_docs > SIGN_BATCH_MAX) {
                reply = invalid(m, _("Give one output for each document (at most 1000 documents)."));
                goto out;
        }
        r->role = sign_role_from_string(role);
        if (r->role < 0) {
                reply = invalid(m, _("The role must be approve, issue, copy, appendix or personal."));
                goto out;
        }
        if (isempty(cert_uri) || p11_uri_validate(cert_uri) < 0) {
                reply = invalid(m, _("The certificate must be a PKCS#11 URI from 'kysoctl certs'."));
                goto out;
        }
        if (n_existing > 0 && n_existing != n_docs) {
                reply = invalid(m, _("Give one existing signature for each document."));
                goto out;
        }
        if (r->role == SIGN_ROLE_ISSUE && n_existing == 0)
                log_debug("Issue request without an existing signature: the policy will refuse it.");
        if (handle && !token_valid(handle)) {
                reply = invalid(m, _("handle_token may hold only letters, digits and '_'."));
                goto out;
        }
        for (size_t i = 0; i < n_docs; i++) {
                const char *bad = output_check(docs[i], outs[i], n_existing > 0 ? existing[i] : -EBADF);
                if (bad) {
                        reply = invalid(m, bad);
                        goto out;
                }
        }

        r->sender = strdup(strempty(dbus_message_get_sender(m)));
        r->cert_uri = strdup(cert_uri);
        esc = sender_escape(r->sender ?: "");
        if (!r->sender || !r->cert_uri || !esc)
                goto oom;
        if (!handle && asprintf(&handle, "kyso%u", ++s->counter) < 0)
                goto oom;
        if (asprintf(&r->path, SIGN_REQUEST_PATH_PREFIX "/%s/%s", esc, handle) < 0)
                goto oom;
        if (find_request(s, r->path)) {
                reply = invalid(m, _("A request with this handle_token is still running; use another one."));
                goto out;
        }

        r->docs = calloc(n_docs, sizeof *r->docs);
        if (!r->docs)
                goto oom;
        r->n_docs = n_docs;
        for (size_t i = 0; i < n_docs; i++) {
                SignDoc *d = &r->docs[i];
                d->fd = TAKE_FD(docs[i]);
                d->out_fd = TAKE_FD(outs[i]);
                d->existing_fd = n_existing > 0 ? TAKE_FD(existing[i]) : -EBADF;
                d->name = r->label && n_docs == 1 ? strdup(r->label) : fd_name(d->fd);
                if (!d->name)
                        d->name = strdup("?");
        }
        caller_credentials(r, caller_pid);

        /* The queue of this token is bounded; the token is known once the certificate is found, so count
         * by certificate URI for now (the same token in practice). */
        r->token_uri = NULL;
        {
                const P11Token *const *tokens;
                const P11Certificate *const *certs;
                size_t nt, nc;
                if (p11_manager_get_tokens(s->manager, &tokens, &nt) >= 0 &&
                    p11_manager_get_certificates(s->manager, &certs, &nc) >= 0)
                        for (size_t i = 0; i < nc && !r->token_uri; i++)
                                for (size_t j = 0; j < nt; j++)
                                        if (streq_ptr(tokens[j]->uri, certs[i]->token_uri) &&
                                            (streq(certs[i]->uri, cert_uri) ||
                                             p11_uri_match_certificate(cert_uri, tokens[j], certs[i]) > 0)) {
                                                r->token_uri = strdup(certs[i]->token_uri);
                                                break;
                                        }
        }
        if (r->token_uri && token_load(s, r->token_uri) >= SIGN_QUEUE_MAX) {
                for (size_t i = 0; i < r->n_docs; i++) {
                        doc_finish(
                                r, &r->docs[i], DOC_FAILED, KYSO_BUS_ERROR_BUSY,
                                _("The token is busy with other requests. Wait for them to finish, then sign "
                                  "again."));
                }
                reply = kyso_bus_error_reply(m, KYSO_BUS_ERROR_BUSY, r->docs[0].message);
                goto out;
        }

        reply = dbus_message_new_method_return(m);
        if (!reply || !dbus_message_append_args(reply, DBUS_TYPE_OBJECT_PATH, &r->path, DBUS_TYPE_INVALID))
                goto oom;
        if (r->more_documents && collect_arm(r) < 0)
                goto oom;
        /* Appended last: the request runs only once the reply is on its way. */
        {
                SignRequest **p = &s->requests;
                while (*p)
                        p = &(*p)->next;
                *p = r;
                r->announced = true;
        }
        log_info(
                "Request %s: %zu document(s), role %s, certificate %s, from pid %d.", r->path, r->n_docs,
                role, r->cert_uri, (int) r->caller.pid);
        if (r->more_documents)
                r->state = REQ_COLLECTING;
        else {
                r->state = REQ_QUEUED;
                request_schedule(r);
        }
        return reply;

oom:
        if (reply)
                dbus_message_unref(reply);
        reply = NULL;
out:
        for (size_t i = 0; i < n_docs; i++)
                safe_close(docs[i]);
        for (size_t i = 0; i < n_outs; i++)
                safe_close(outs[i]);
        for (size_t i = 0; i < n_existing; i++)
                safe_close(existing[i]);
        r->owner = NULL;
        request_free(r);
        return reply;
}

static void request_cancel(SignRequest *r, const char *why) {
        if (r->state == REQ_FINISHED)
                return;
        log_info("Request %s cancelled: %s", r->path, why);
        r->cancelled = true;
        /* A network wait is dropped at once; the token cannot be interrupted: finished when it answers
         * (and what it signed is discarded). */
        r->job = worker_job_cancel(r->job);
        if (r->n_in_flight > 0)
                return;
        request_fail_all(
                r, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED,
                _("The request was cancelled, so nothing was signed."));
}

/* AddDocuments(ah documents, ah outputs, ah existing_signatures, b last): a batch larger than one message
 * can carry (the bus passes at most 16 fds per message by default) arrives in parts before it starts. */
static DBusMessage *request_add_documents(SignRequest *r, DBusMessage *m) {
        int *fds[3] = {};
        size_t n[3] = {};
        DBusMessageIter it, arr;
        dbus_bool_t last = false;
        DBusMessage *reply = NULL;
        SignDoc *docs;

        if (!streq(dbus_message_get_signature(m), "ahahahb"))
                return invalid(m, _("AddDocuments takes arguments of signature 'ahahahb'."));
        dbus_message_iter_init(m, &it);
        for (int k = 0; k < 3; k++) {
                dbus_message_iter_recurse(&it, &arr);
                while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_UNIX_FD) {
                        int fd, *nv = realloc(fds[k], (n[k] + 1) * sizeof(int));
                        dbus_message_iter_get_basic(&arr, &fd);
                        if (!nv) {
                                safe_close(fd);
                                reply = kyso_bus_error_reply_errno(m, -ENOMEM, NULL);
                                goto out;
                        }
                        fds[k] = nv;
                        nv[n[k]++] = fd;
                        dbus_message_iter_next(&arr);
                }
                dbus_message_iter_next(&it);
        }
        dbus_message_iter_get_basic(&it, &last);

        if (r->state != REQ_COLLECTING) {
                reply = invalid(
                        m, _("This request has already started; add documents only before the last part."));
                goto out;
        }
        if (n[0] != n[1] || (n[2] > 0 && n[2] != n[0]) || r->n_docs + n[0] > SIGN_BATCH_MAX) {
                reply = invalid(m, _("Give one output for each document (at most 1000 documents)."));
                goto out;
        }
        for (size_t i = 0; i < n[0]; i++) {
                const char *bad = output_check(fds[0][i], fds[1][i], n[2] > 0 ? fds[2][i] : -EBADF);
                if (bad) {
                        reply = invalid(m, bad);
                        goto out;
                }
        }
        docs = reallocarray(r->docs, r->n_docs + n[0], sizeof *docs);
        if (!docs) {
                reply = kyso_bus_error_reply_errno(m, -ENOMEM, NULL);
                goto out;
        }
        r->docs = docs;
        for (size_t i = 0; i < n[0]; i++) {
                SignDoc *d = &r->docs[r->n_docs++];
                *d = (SignDoc){
                        .fd = TAKE_FD(fds[0][i]),
                        .out_fd = TAKE_FD(fds[1][i]),
                        .existing_fd = n[2] > 0 ? TAKE_FD(fds[2][i]) : -EBADF,
                };
                d->name = fd_name(d->fd) ?: strdup("?");
        }
        reply = dbus_message_new_method_return(m);
        if (last) {
                r->collect_timer = sd_event_source_disable_unref(r->collect_timer);
                r->state = REQ_QUEUED;
                request_schedule(r);
        } else if (collect_arm(r) < 0)
                log_warning("Request %s: cannot restart the wait for the next part of the batch.", r->path);
out:
        for (int k = 0; k < 3; k++) {
                for (size_t i = 0; i < n[k]; i++)
                        safe_close(fds[k][i]);
                free(fds[k]);
        }
        return reply;
}

static DBusHandlerResult request_message(DBusConnection *c, DBusMessage *m, void *userdata) {
        AgentSign *s = userdata;
        SignRequest *r;
        DBusMessage *reply;

        if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_METHOD_CALL)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        r = find_request(s, dbus_message_get_path(m));
        if (!r)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        if (dbus_message_is_method_call(m, DBUS_INTERFACE_INTROSPECTABLE, "Introspect")) {
                reply = dbus_introspect_reply(
                        m, (const char *const[]){ kyso_request1_interface_xml, NULL }, NULL);
        } else if (dbus_message_is_method_call(m, SIGN_REQUEST_INTERFACE, "AddDocuments")) {
                if (!streq_ptr(dbus_message_get_sender(m), r->sender))
                        reply = kyso_bus_error_reply(
                                m, KYSO_BUS_ERROR_POLICY_DENIED,
                                _("Only the application that asked may add documents to a request."));
                else
                        reply = request_add_documents(r, m);
        } else if (
                dbus_message_is_method_call(m, SIGN_REQUEST_INTERFACE, "Cancel") ||
                (!dbus_message_get_interface(m) && streq_ptr(dbus_message_get_member(m), "Cancel"))) {
                if (!streq(dbus_message_get_signature(m), ""))
                        reply = invalid(m, _("Cancel takes no arguments."));
                else if (!streq_ptr(dbus_message_get_sender(m), r->sender))
                        reply = kyso_bus_error_reply(
                                m, KYSO_BUS_ERROR_POLICY_DENIED,
                                _("Only the application that asked may cancel a request."));
                else {
                        reply = dbus_message_new_method_return(m);
                        if (reply) {
                                (void) dbus_connection_send(c, reply, NULL);
                                dbus_message_unref(reply);
                                reply = NULL;
                        }
                        request_cancel(r, "the client called Cancel");
                        return DBUS_HANDLER_RESULT_HANDLED;
                }
        } else
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        if (reply) {
                (void) dbus_connection_send(c, reply, NULL);
                dbus_message_unref(reply);
        }
        return DBUS_HANDLER_RESULT_HANDLED;
}

static const DBusObjectPathVTable request_vtable = { .message_function = request_message };

static DBusHandlerResult sign_filter(DBusConnection *c, DBusMessage *m, void *userdata) {
        AgentSign *s = userdata;
        const char *name = NULL, *old = NULL, *new = NULL;
        (void) c;

        if (!dbus_message_is_signal(m, DBUS_INTERFACE_DBUS, "NameOwnerChanged") ||
            !dbus_message_get_args(
                    m, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old, DBUS_TYPE_STRING, &new,
                    DBUS_TYPE_INVALID) ||
            !isempty(new) || name[0] != ':')
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        /* A client that leaves cancels its requests. */
        for (SignRequest *r = s->requests, *next; r; r = next) {
                next = r->next;
                if (streq_ptr(r->sender, name))
                        request_cancel(r, "the client disconnected");
        }
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
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

        if (!dbus_connection_register_fallback(bus, SIGN_REQUEST_PATH_PREFIX, &request_vtable, s)) {
                k = -ENOMEM;
                goto fail;
        }
        s->registered = true;
        if (!dbus_connection_add_filter(bus, sign_filter, s, NULL)) {
                k = -ENOMEM;
                goto fail;
        }
        s->filter_added = true;
        dbus_bus_add_match(
                bus,
                "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                "member='NameOwnerChanged',arg2=''",
                NULL);
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
        if (s->filter_added)
                dbus_connection_remove_filter(s->bus, sign_filter, s);
        if (s->registered)
                dbus_connection_unregister_object_path(s->bus, SIGN_REQUEST_PATH_PREFIX);
        if (s->bus)
                dbus_connection_unref(s->bus);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void agent_sign_set_prompters(AgentSign *s, PrompterRegistry *prompters) {
        s->prompters = prompters;
}

void agent_sign_set_policy_recorded(AgentSign *s, const char *digest) {
        if (s)
                snprintf(s->policy_digest, sizeof s->policy_digest, "%s", strempty(digest));
}

PinCache *agent_sign_get_pin_cache(AgentSign *s) {
        return s ? s->pin_cache : NULL;
}

void agent_sign_set_session_watch(AgentSign *s, SessionWatch *w) {
        s->pin_watch = w;
        if (!w)
                (void) pin_cache_forget_all(s->pin_cache);
}
