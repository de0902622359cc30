/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit-log.h"
#include "fileio.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "openssl-util.h"
#include "policy/policy-rules.h"
#include "sign-request.h"

/* The outcome of each document: its output written, its audit record durable (in groups: one fdatasync for
 * several documents of a batch), then Progress to the caller. Nothing reaches a client before its record. */

/* Group commit: while the token signs the next document of a batch, finished documents wait to be recorded
 * together (one fdatasync), at most this many and this long (see doc_done_later()). */
#define SIGN_RECORD_GROUP 64U
#define SIGN_RECORD_DELAY_USEC (20U * 1000U)
_Static_assert(SIGN_RECORD_GROUP <= AUDIT_GROUP_MAX, "a group of records must fit audit_log_append_group()");

/* What the records of one request's documents share: worked out once per group. */
#define RECORD_EXTRA_MAX 20 /* key, value, ..., NULL */
typedef struct RecordCommon {
        char fp[65], na[32];
        const char *extra[RECORD_EXTRA_MAX];
        size_t n_extra;
} RecordCommon;

static void audit_event_set_token(AuditEvent *ev, const SignRequest *r) {
        ev->token_uri = r->token_uri;
        ev->token_label = r->token_label;
        ev->token_serial = r->token_serial;
        ev->token_manufacturer = r->token_manufacturer;
        ev->token_model = r->token_model;
}

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
                /* which key was asked for, also when the request ends before its certificate is found */
                { "requested_cert_uri", r->requested_cert_uri },
                { "doc_number", r->doc_number },
                { "doc_date", r->doc_date },
                { "reason", r->reason },
                { "location", r->location },
                { "classification", r->classification },
                /* The approval and PIN came from the app's own prompter, not from pinentry. */
                { "prompter", r->prompt.app_used ? "application" : NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (fields[i].value) {
                        c->extra[n_extra++] = fields[i].key;
                        c->extra[n_extra++] = fields[i].value;
                }
        c->extra[n_extra] = NULL;
        c->n_extra = n_extra;
}

/* A document's own fields: the token's discarded signature, a signed PDF's level and revision, the reason's
 * code and parameters. */
#define RECORD_DOC_EXTRA_MAX (2 + 4 + 2 * (RECORD_REASON_PARAMS_MAX + 2))
/* certificate-unusable: 4, and its check's code and parameters (at most 7). */
#define RECORD_REASON_PARAMS_MAX 12
#define RECORD_REASON_KEY_MAX 32

/* The reason as the auditor's kysoctl renders it in the auditor's language: "reason_code", each parameter as
 * "reason_KEY", and "language", the language of the record's text (which is the caller's). The text stays
 * in "reason" for older readers. */
static size_t doc_reason_fields(
        const SignDoc *d, const char **extra, char keys[RECORD_REASON_PARAMS_MAX][RECORD_REASON_KEY_MAX]) {
        size_t n = 0, k = 0;

        if (!d->reason_code)
                return 0;
        extra[n++] = "reason_code";
        extra[n++] = d->reason_code;
        for (size_t i = 0; d->reason_params && d->reason_params[i] && d->reason_params[i + 1] &&
                           k < RECORD_REASON_PARAMS_MAX;
             i += 2, k++) {
                snprintf(keys[k], RECORD_REASON_KEY_MAX, "reason_%s", d->reason_params[i]);
                extra[n++] = keys[k];
                extra[n++] = d->reason_params[i + 1];
        }
        extra[n++] = "language";
        extra[n++] = i18n_language();
        return n;
}

/* The record of one document; extra is its own copy of the shared fields plus its own. */
static AuditEvent doc_audit_event(
        SignRequest *r, const SignDoc *d, const RecordCommon *c,
        const char *extra[static RECORD_EXTRA_MAX + RECORD_DOC_EXTRA_MAX + 1],
        char keys[RECORD_REASON_PARAMS_MAX][RECORD_REASON_KEY_MAX], char revision[static 16]) {
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
        n_extra += doc_reason_fields(d, extra + n_extra, keys);
        /* A signed PDF: its level and the revision the signature covers (sha256_before and sha256_after are
         * the whole file's). */
        if (d->status == DOC_DONE && d->is_pdf) {
                extra[n_extra++] = "pdf_level";
                extra[n_extra++] = signature_level_to_string(r->level);
                if (d->pdf_revision > 0) {
                        snprintf(revision, 16, "%u", d->pdf_revision);
                        extra[n_extra++] = "pdf_revision";
                        extra[n_extra++] = revision;
                }
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
                .role = sign_role_to_string(r->role),
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

/* Why the audit log refused a record (k, as audit_log_append*() gives it) and what to do: a full disk
 * wants space, but a replaced file or a lost lock wants a restart, which checks the log again. */
static const char *audit_failure_advice(int k) {
        switch (k) {
        case -ENOSPC:
        case -EDQUOT:
                return _("The disk of the audit log is full: free some space, then sign again.");
        case -ESTALE:
                return _("The audit log's file was replaced by another file while the agent was running: "
                         "restart the agent (kysod), which checks the log, then sign again.");
        case -EBUSY:
                return _("Another process took the audit log's lock (another agent?): stop it, restart the "
                         "agent (kysod), then sign again.");
        case -EIO:
                return _("The audit log cannot be written any more (an input/output error, or its lock was "
                         "lost): check its disk, restart the agent (kysod), then sign again.");
        case -EROFS:
                return _("The audit log's file system is read-only: ask your administrator to make it "
                         "writable, then sign again.");
        case -EACCES:
        case -EPERM:
                return _("The agent may no longer write to the audit log (its owner or permissions were "
                         "changed): give it back to this account, then sign again.");
        case -EISDIR:
        case -EBADFD:
                return _("Something that is not a file is in the audit log's place: move it away, then sign "
                         "again.");
        case -ENOMEM:
                return _("The agent ran out of memory: sign again later.");
        default:
                return _(
                        "The agent's log (journalctl --user -u kysod) says why; fix that, then sign again.");
        }
}

char *audit_failure_message(const char *what, int k) {
        char *m;

        if (asprintf(&m, "%s %s", what, audit_failure_advice(k)) < 0)
                return NULL;
        return m;
}

static void doc_fail_internal(SignDoc *d, const char *message) {
        d->status = DOC_FAILED;
        d->reason_code = NULL;
        d->error = KYSO_BUS_ERROR_INTERNAL;
        free(d->message);
        d->message = strdup(message);
}

/* Sets a document's outcome (once); request_record() writes its output and its record, then tells the
 * caller. */
void doc_set_outcome(SignRequest *r, SignDoc *d, DocStatus status, KysoBusError error, const char *message) {
        if (d->status != DOC_PENDING)
                return;
        d->status = status;
        d->error = error;
        /* The policy's code names the outcome only when the policy decided it: its refusal, or its
         * permission for a document then signed (a failure or cancellation after it has its own text). A
         * document's code names the failure it is the code of. */
        if (d->reason_code && (startswith(d->reason_code, "allowed-")      ? status != DOC_DONE
                               : policy_reason_is_document(d->reason_code) ? status != DOC_FAILED
                                                                           : status != DOC_DENIED))
                d->reason_code = NULL;
        if (message) {
                free(d->message);
                d->message = strdup(message);
        }
        d->unrecorded = true;
        if (r->n_unrecorded++ == 0 || d - r->docs < (ptrdiff_t) r->first_unrecorded)
                r->first_unrecorded = (size_t) (d - r->docs);
}

/* One document's output, as a worker thread writes it: what it needs is moved out of the SignDoc into the
 * job, and given back when the job is done. */
typedef struct OutputWrite {
        size_t doc; /* its index in r->docs */
        int out_fd;
        PdfDocument *pdf;
        uint8_t *sig, *dss;
        size_t sig_size, dss_size;
        int error;
} OutputWrite;

/* The outputs of one group of documents (request_record_group()), written off the loop: a large signed PDF
 * takes a while to copy, and the loop serves the other tokens' requests meanwhile. A job dropped before its
 * done function gave the outputs back (the request was freed: the agent stops) empties them: a half-written
 * signature never reaches a client. */
typedef struct OutputJob {
        OutputWrite w[SIGN_RECORD_GROUP];
        size_t n_w;
        size_t group[SIGN_RECORD_GROUP]; /* the group's documents, by index */
        size_t n_group;
        bool handed_back;
} OutputJob;

static int write_output(const OutputWrite *w) {
        struct stat st;

        /* An output that is empty already is not truncated: on ext4 a truncation to 0 makes the last close
         * start writing the file back at once, per document. */
        if (fstat(w->out_fd, &st) < 0)
                return -errno;
        if (st.st_size > 0 && ftruncate(w->out_fd, 0) < 0)
                return -errno;
        if (lseek(w->out_fd, 0, SEEK_SET) < 0)
                return -errno;
        if (w->pdf) {
                /* The signed PDF: the original bytes, the signature's update (sig), the /DSS update. */
                int k = pdf_document_write_original(w->pdf, w->out_fd);
                if (k >= 0)
                        k = loop_write(w->out_fd, w->sig, w->sig_size);
                if (k >= 0 && w->dss)
                        k = loop_write(w->out_fd, w->dss, w->dss_size);
                return k;
        }
        /* sig holds the finished DER here (see doc_seal()). */
        return loop_write(w->out_fd, w->sig, w->sig_size);
}

static void output_job_run(void *data) {
        OutputJob *j = data;

        for (size_t i = 0; i < j->n_w; i++)
                j->w[i].error = write_output(&j->w[i]);
}

static void output_job_free(void *data) {
        OutputJob *j = data;

        if (!j)
                return;
        for (size_t i = 0; i < j->n_w; i++) {
                OutputWrite *w = &j->w[i];
                if (!j->handed_back) {
                        if (w->out_fd >= 0)
                                (void) ftruncate(w->out_fd, 0);
                        safe_close(w->out_fd);
                        pdf_document_free(w->pdf);
                        free(w->sig);
                        free(w->dss);
                }
        }
        free(j);
}

/* The audit records of the group, as one group (one fdatasync), then Progress for each. A document is done
 * only once its record is durable: when the group cannot be recorded, its signatures are withheld (outputs
 * emptied). */
static void record_group_finish(SignRequest *r, const size_t *idx, size_t n) {
        AuditEvent evs[SIGN_RECORD_GROUP];
        const char *extras[SIGN_RECORD_GROUP][RECORD_EXTRA_MAX + RECORD_DOC_EXTRA_MAX + 1];
        char keys[SIGN_RECORD_GROUP][RECORD_REASON_PARAMS_MAX][RECORD_REASON_KEY_MAX];
        char revisions[SIGN_RECORD_GROUP][16];
        RecordCommon common;
        int k;

        record_common(r, &common);
        for (size_t i = 0; i < n; i++)
                evs[i] = doc_audit_event(r, &r->docs[idx[i]], &common, extras[i], keys[i], revisions[i]);
        k = r->owner && r->owner->audit ? audit_log_append_group(r->owner->audit, evs, n, NULL) : -EROFS;
        if (k < 0)
                log_error_errno(
                        k, "Cannot append the audit records of %zu document(s) of %s: %m", n, r->path);
        _cleanup_free_ char *withheld =
                k < 0 ? audit_failure_message(
                                _("The audit log could not record the signature, so it was withheld."), k)
                      : NULL;
        for (size_t i = 0; i < n; i++) {
                SignDoc *d = &r->docs[idx[i]];

                if (k < 0 && d->status == DOC_DONE)
                        doc_fail_internal(
                                d, withheld
                                           ?: _("The audit log could not record the signature, so it was "
                                                "withheld."));
                if (d->status != DOC_DONE && d->out_fd >= 0)
                        /* A half-written signature never reaches a client. */
                        (void) ftruncate(d->out_fd, 0);
                d->out_fd = safe_close(d->out_fd);
                d->fd = safe_close(d->fd);
                d->sig = mfree(d->sig);
                d->sig_size = 0;
                d->dss = mfree(d->dss);
                d->pdf = pdf_document_free(d->pdf); /* its mapping, and the temporary file with it */
                request_send_progress(r, d);
        }
}

/* The outputs are written: each goes back to its document (a failed one fails it), then the records. */
static void output_job_apply(OutputJob *j, SignRequest *r) {
        for (size_t i = 0; i < j->n_w; i++) {
                OutputWrite *w = &j->w[i];
                SignDoc *d = &r->docs[w->doc];

                d->out_fd = w->out_fd;
                d->pdf = w->pdf;
                d->sig = w->sig;
                d->dss = w->dss;
                if (w->error < 0) {
                        log_error_errno(w->error, "Cannot write the signature of %s: %m", strna(d->name));
                        doc_fail_internal(
                                d, _("The signature could not be written to the output file. Check the disk "
                                     "space and the output file, then sign again."));
                }
        }
        j->handed_back = true;
        record_group_finish(r, j->group, j->n_group);
}

/* On the loop, after a worker thread wrote the outputs: their records, then the documents that finished
 * meanwhile, and the response when the request has finished (request_finish() waited for this). */
static void output_job_done(void *data, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);

        r->output_job = NULL;
        output_job_apply(data, r);
        request_record(r);
        if (r->state == REQ_FINISHED && !r->output_job)
                request_respond(r);
}

/* Records up to SIGN_RECORD_GROUP documents whose outcome is decided: the outputs of the signed ones
 * (written on a worker thread), then their audit records, then Progress for each. */
static void request_record_group(SignRequest *r) {
        _cleanup_free_ OutputJob *j = calloc(1, sizeof(OutputJob));
        int k;

        if (!j) {
                log_oom();
                return;
        }
        for (size_t i = r->first_unrecorded; i < r->n_docs && j->n_group < SIGN_RECORD_GROUP; i++)
                if (r->docs[i].unrecorded)
                        j->group[j->n_group++] = i;
        if (j->n_group == 0) { /* cannot happen: n_unrecorded counts them */
                r->n_unrecorded = 0;
                return;
        }
        r->first_unrecorded = j->group[j->n_group - 1] + 1;
        r->n_unrecorded -= j->n_group;

        for (size_t i = 0; i < j->n_group; i++) {
                SignDoc *d = &r->docs[j->group[i]];

                d->unrecorded = false;
                if (d->status != DOC_DONE || d->out_fd < 0)
                        continue;
                j->w[j->n_w++] = (OutputWrite){
                        .doc = j->group[i],
                        .out_fd = TAKE_FD(d->out_fd),
                        .pdf = TAKE_PTR(d->pdf),
                        .sig = TAKE_PTR(d->sig),
                        .sig_size = d->sig_size,
                        .dss = TAKE_PTR(d->dss),
                        .dss_size = d->dss_size,
                };
        }
        if (j->n_w > 0 && r->owner && r->owner->worker) {
                k = agent_worker_submit(
                        r->owner->worker, output_job_run, output_job_done, output_job_free, j, r,
                        &r->output_job);
                if (k >= 0) {
                        TAKE_PTR(j);
                        return;
                }
                log_warning_errno(k, "Cannot write the outputs off the loop, writing them here: %m");
        }
        /* Nothing to write, or no thread: here. */
        output_job_run(j);
        output_job_apply(j, r);
        output_job_free(TAKE_PTR(j));
}

void request_record(SignRequest *r) {
        r->record_timer = sd_event_source_disable_unref(r->record_timer);
        while (r->n_unrecorded > 0 && !r->output_job)
                request_record_group(r);
}

static int record_timer_cb(sd_event_source *src, uint64_t usec, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);
        (void) src;
        (void) usec;
        request_record(r);
        return 0;
}

/* A document signed while the token already works on the next one (just sent): recorded with the documents
 * that finish close to it. The group is written here, where the fdatasync overlaps the token's work, once it
 * is full or its first document has waited half of SIGN_RECORD_DELAY_USEC; the timer writes it when the
 * token is slow (no document finishes in the meantime). */
void doc_done_later(SignRequest *r, SignDoc *d) {
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
void doc_finish(SignRequest *r, SignDoc *d, DocStatus status, KysoBusError error, const char *message) {
        doc_set_outcome(r, d, status, error, message);
        request_record(r);
}

/* A wrong PIN is an event of its own (Article 15 counts them). Like every event, one that cannot be
 * recorded ends the request: then -EIO, and the request is finished. */
int record_wrong_pin(SignRequest *r, const char *message) {
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
                const char *what =
                        _("The audit log could not record the wrong PIN, so the request was stopped.");
                _cleanup_free_ char *msg = audit_failure_message(what, k);
                request_fail_all(r, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL, msg ?: what);
                return -EIO;
        }
        return 0;
}
