/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/objects.h>

#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "openssl-util.h"
#include "policy/signature-check.h"
#include "sign-jobs.h"
#include "sign-pdf.h"
#include "sign-request.h"
#include "utf8.h"

/* SignDoc: one document of a request. Its fds come from the client; it is read and hashed on a worker thread
 * (for issue, through the check of the leader's signature), at most max-document-size of it, and the policy
 * decides on it. */

static void doc_stalled(SignRequest *r, SignDoc *d, bool existing);

/* The document cannot be signed as the client gave it (message NULL: the general words). */
static void doc_bad(SignRequest *r, SignDoc *d, const char *message) {
        doc_finish(
                r, d, DOC_FAILED, KYSO_BUS_ERROR_BAD_DOCUMENT,
                message ?: kyso_bus_error_message(KYSO_BUS_ERROR_BAD_DOCUMENT));
}

/* The same for a reason with a code (REASON_DOCUMENT_*, REASON_PDF_*) and its parameters (key, value, ...,
 * NULL): the record keeps them, so that the audit log renders the words again in its reader's language. */
_sentinel_ static void doc_bad_coded(SignRequest *r, SignDoc *d, const char *code, ...) {
        _cleanup_free_ char *text = NULL;
        char **params = NULL;
        va_list ap;

        va_start(ap, code);
        if (policy_reason_buildv(code, ap, &params, &text) >= 0) {
                d->reason_code = code;
                strv_free(d->reason_params);
                d->reason_params = params;
        }
        va_end(ap);
        doc_bad(r, d, text);
}

static const char *pdf_refusal_code(PdfRefusal refusal) {
        switch (refusal) {
        case PDF_REFUSAL_ENCRYPTED:
                return REASON_PDF_ENCRYPTED;
        case PDF_REFUSAL_DAMAGED:
                return REASON_PDF_DAMAGED;
        case PDF_REFUSAL_CERTIFIED_NO_CHANGES:
                return REASON_PDF_CERTIFIED_NO_CHANGES;
        default:
                return REASON_PDF_UNSUPPORTED;
        }
}

/* The largest document read: kysod.conf's max-document-size, or the policy's [documents] max-size when that
 * is smaller (the administrator's word over the user's file). */
static uint64_t doc_max_size(SignRequest *r) {
        uint64_t conf = r->owner->config->max_document_size, policy = r->policy->max_document_size;
        return policy > 0 && policy < conf ? policy : conf;
}

/* How long a read waits for more of a client's document (document-timeout, from the last data). */
static int doc_timeout_ms(SignRequest *r) {
        return (int) MIN(r->owner->config->document_timeout_usec / 1000, (uint64_t) INT_MAX);
}

void doc_done(SignDoc *d) {
        d->fd = safe_close(d->fd);
        d->out_fd = safe_close(d->out_fd);
        d->existing_fd = safe_close(d->existing_fd);
        free(d->name);
        free(d->pdf_invisible_why);
        content_digests_done(&d->digests);
        free(d->existing);
        free(d->message);
        strv_free(d->reason_params);
        sign_pending_free(d->pending);
        free(d->sig);
        free(d->timestamp_time);
        pdf_document_free(d->pdf);
        EVP_MD_CTX_free(d->sha256_tail);
        free(d->dss);
}

char *doc_fd_name(int fd) {
        char proc[64], target[PATH_MAX];
        ssize_t n;
        const char *slash;

        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        n = readlink(proc, target, sizeof target - 1);
        if (n <= 0)
                return NULL;
        target[n] = 0;
        slash = strrchr(target, '/');
        return utf8_escape(slash && slash[1] ? slash + 1 : target);
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

const char *doc_output_check(int doc, int out, int existing) {
        if (fd_check(doc, false) < 0 || fd_check(out, true) < 0 ||
            (existing >= 0 && fd_check(existing, false) < 0))
                return _("The document must be open for reading and the output for writing.");
        if (fds_same_file(doc, out) || fds_same_file(existing, out))
                return _("The output must be another file than the document and its existing signature.");
        /* The signature is written from the output's start once it is recorded (doc_write_output()): a pipe
         * or a socket would fail only then, after the approval and the PIN. */
        if (lseek(out, 0, SEEK_CUR) < 0)
                return _("The output must be a regular file open for writing, not a pipe or a socket.");
        return NULL;
}

static void doc_deny(SignRequest *r, SignDoc *d, const char *reason, const char *article) {
        d->article = article;
        doc_finish(r, d, DOC_DENIED, KYSO_BUS_ERROR_POLICY_DENIED, reason);
}

/* The size and SHA-256 of a hashed document, for its record. */
static void doc_set_hash(SignDoc *d) {
        const uint8_t *h;
        size_t hs = 0;

        d->size = d->digests.total;
        h = content_digests_get(&d->digests, NID_sha256, &hs);
        if (h && hs == 32)
                hex_encode(h, 32, d->sha256);
}

/* The policy's decision on a hashed document, with its existing signatures (issue). */
static int doc_decide_existing(SignRequest *r, SignDoc *d, const ExistingSignature *existing, size_t n) {
        RuleDecision dec = {};
        int k;

        doc_set_hash(d);
        if (d->size == 0) {
                /* Nobody approves nothing: an empty pipe or file is a mistake of the application. */
                doc_bad_coded(r, d, REASON_DOCUMENT_EMPTY, NULL);
                return 0;
        }

        RuleRequest req = {
                .role = r->role,
                .signer = r->cert,
                .signer_status = &r->status,
                .existing = existing,
                .n_existing = n,
                .classification = r->classification,
        };
        k = policy_rules_decide(r->policy, &req, &dec);
        if (k < 0)
                return k;
        d->reason_code = dec.code;
        d->reason_params = TAKE_PTR(dec.params);
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

/* The same with the checks of a detached signature's signers, which cover the whole document. */
static int doc_decide(SignRequest *r, SignDoc *d, const SignatureCheck *checks, size_t n_checks) {
        _cleanup_free_ ExistingSignature *existing = NULL;

        if (n_checks > 0) {
                existing = calloc(n_checks, sizeof *existing);
                if (!existing)
                        return -ENOMEM;
                for (size_t i = 0; i < n_checks; i++)
                        existing[i] = signature_check_to_existing(&checks[i], true);
        }
        return doc_decide_existing(r, d, existing, n_checks);
}

/* A PDF, read, opened and prepared on the worker thread: refused as the PDF is (before any prompt), else the
 * policy decides, for issue with the signatures the PDF carries; the prepared signature waits for the token.
 */
static int doc_check_pdf(SignRequest *r, SignDoc *d, DocHashJob *j) {
        PdfPrepare *p = j->pdf;
        int k;

        if (!p)
                return -EINVAL;
        if (p->error < 0 && p->refusal != PDF_REFUSAL_NONE) {
                log_notice(
                        "Request %s: %s is not signed: the PDF is %s (%s).", r->path, strna(d->name),
                        pdf_refusal_to_string(p->refusal), strna(p->detail));
                doc_set_hash(d);
                doc_bad_coded(r, d, pdf_refusal_code(p->refusal), NULL);
                return 0;
        }
        if (p->error < 0 && p->bad_image) {
                log_notice("Request %s: %s is not signed: %s", r->path, strna(d->name), p->bad_image);
                doc_set_hash(d);
                doc_bad(r, d, p->bad_image);
                return 0;
        }
        if (p->error < 0 && p->bad_place) {
                log_notice("Request %s: %s is not signed: %s", r->path, strna(d->name), p->bad_place);
                doc_set_hash(d);
                doc_finish(r, d, DOC_FAILED, KYSO_BUS_ERROR_INVALID_ARGS, p->bad_place);
                return 0;
        }
        if (p->error < 0) {
                log_error("Cannot prepare the PDF signature of %s: %s", strna(d->name), strna(p->detail));
                return p->error;
        }
        k = doc_decide_existing(r, d, p->existing, p->n_checks);
        if (k < 0 || d->status != DOC_PENDING)
                return k;
        d->pdf = TAKE_PTR(p->doc);
        d->pending = TAKE_PTR(p->pending);
        d->pdf_revision = p->revision;
        d->pdf_invisible_why = TAKE_PTR(p->invisible_why);
        d->pdf_texts_only = p->texts_only;
        d->sha256_tail = TAKE_PTR(j->sha256_tail);
        return 0;
}

/* Every document but one to issue over a detached signature (see existing_check_start()), once hashed. */
static int doc_check(SignRequest *r, SignDoc *d, DocHashJob *j) {
        if (d->is_pdf)
                return doc_check_pdf(r, d, j);
        return doc_decide(r, d, NULL, 0);
}

/* The application stopped sending a document it gave as a pipe: it fails alone, the token's queue goes on.
 */
static void doc_stalled(SignRequest *r, SignDoc *d, bool existing) {
        unsigned sec = (unsigned) (r->owner->config->document_timeout_usec / 1000000);
        char seconds[16];

        log_warning(
                "Request %s: nothing more of %s%s came for %u s (document-timeout); it is not signed.",
                r->path, existing ? "the leader's signature file of " : "", strna(d->name), sec);
        snprintf(seconds, sizeof seconds, "%u", sec);
        /* The clerk would check the document in vain when the signature file is what stalled. */
        if (existing)
                doc_bad_coded(
                        r, d, REASON_DOCUMENT_STALLED, "seconds", seconds, "file", "existing_signature",
                        NULL);
        else
                doc_bad_coded(r, d, REASON_DOCUMENT_STALLED, "seconds", seconds, NULL);
}

/* "2 GiB", "512 MiB": how kysod.conf's sizes are read back to a person. */
static void format_bytes(uint64_t n, char buf[static 32]) {
        static const char *const units[] = { "GiB", "MiB", "KiB" };

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                uint64_t u = UINT64_C(1) << (10 * (ELEMENTSOF(units) - i));
                if (n >= u && n % u == 0) {
                        snprintf(buf, 32, "%" PRIu64 " %s", n / u, units[i]);
                        return;
                }
        }
        snprintf(buf, 32, "%" PRIu64 " bytes", n);
}

/* A document larger than max-document-size: refused before it fills a core for minutes (/dev/zero never
 * ends). */
static void doc_too_large(SignRequest *r, SignDoc *d) {
        char limit[32];

        format_bytes(doc_max_size(r), limit);
        log_warning(
                "Request %s: %s is larger than %s (max-document-size, or the policy's [documents] max-size); "
                "it is not signed.",
                r->path, strna(d->name), limit);
        doc_bad_coded(r, d, REASON_DOCUMENT_TOO_LARGE, "limit", limit, NULL);
}

/* Why a document could not be read in full, for the client and the record. */
static void doc_read_failed(SignRequest *r, SignDoc *d, int error) {
        if (error == -ETIMEDOUT)
                doc_stalled(r, d, false);
        else if (error == -EFBIG)
                doc_too_large(r, d);
        else {
                log_error_errno(error, "Cannot read %s: %m", strna(d->name));
                doc_bad_coded(r, d, REASON_DOCUMENT_UNREADABLE, NULL);
        }
}

static void doc_check_failed(SignRequest *r, SignDoc *d, int error) {
        log_error_errno(error, "Cannot check %s: %m", strna(d->name));
        doc_finish(
                r, d, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                _("The document could not be checked; see the agent's log."));
}

/* Runs a job that reads document idx on a worker thread (it owns j from here, also on failure). The
 * client's document may be a pipe it never closes: a cancelled request must not read it forever and hold
 * one of the few worker threads, so cancel interrupts the read. */
static int doc_job_submit(
        SignRequest *r, size_t idx, WorkerRunFunc run, WorkerDoneFunc done, WorkerFreeFunc free_job,
        WorkerCancelFunc cancel, void *j) {
        int k = request_job_submit(r, run, done, free_job, j);

        if (k < 0)
                return k;
        worker_job_set_cancel(r->job, cancel);
        r->job_doc = idx;
        return 0;
}

/* The document whose job has finished: the request holds no job now. */
static SignDoc *doc_job_finished(SignRequest *r) {
        r->job = NULL;
        return &r->docs[r->job_doc];
}

/* The document is checked (or failed): on to the next. */
static void doc_checked(SignRequest *r) {
        r->check_idx++;
        request_schedule(r);
}

/* For issue: the leader's signature is verified while the document is hashed, and its certificate's
 * revocation is asked of the OCSP or CRL server, on a worker thread. */
static void existing_check_done(void *data, void *userdata) {
        ExistingCheckJob *j = data;
        SignRequest *r = userdata;
        SignDoc *d = doc_job_finished(r);
        int k = j->error;

        if (k >= 0 && j->not_cms)
                doc_deny(
                        r, d,
                        _("The leader's signature file (existing_signature) is not a detached CMS signature of "
                          "this document. Give the .p7s the leader signed for this file."),
                        ARTICLE_SEAL);
        else if (k >= 0) {
                content_digests_move(&d->digests, &j->digests);
                free(d->existing);
                d->existing = TAKE_PTR(j->existing);
                d->existing_size = j->existing_size;
                k = doc_decide(r, d, j->checks, j->n_checks);
        }
        if (k == -ETIMEDOUT && !j->existing_read)
                doc_stalled(r, d, true);
        else if (k == -ETIMEDOUT || k == -EFBIG)
                doc_read_failed(r, d, k);
        else if (k < 0)
                doc_check_failed(r, d, k);
        doc_checked(r);
}

static int existing_check_start(SignRequest *r, size_t idx) {
        SignDoc *d = &r->docs[idx];
        ExistingCheckJob *j;
        int k;

        k = existing_check_job_new(
                r->policy, d->fd, d->existing_fd, r->digest_nid, doc_timeout_ms(r), doc_max_size(r), &j);
        if (k < 0)
                return k;
        return doc_job_submit(
                r, idx, existing_check_job_run, existing_check_done, existing_check_job_free,
                existing_check_job_cancel, j);
}

/* Every other document is read and hashed on a worker thread: a large one (or one that never ends) does not
 * hold the loop, nor the other tokens' requests. */
static void doc_hash_done(void *data, void *userdata) {
        DocHashJob *j = data;
        SignRequest *r = userdata;
        SignDoc *d = doc_job_finished(r);
        int k = j->error;

        if (k < 0)
                doc_read_failed(r, d, k);
        else {
                content_digests_move(&d->digests, &j->digests);
                d->is_pdf = j->is_pdf;
                d->hashed = true;
                k = doc_check(r, d, j);
                if (k < 0)
                        doc_check_failed(r, d, k);
        }
        doc_checked(r);
}

/* What a PDF's preparation needs from the request, should the document be one. */
static int doc_pdf_prepare_new(SignRequest *r, PdfPrepare **ret) {
        const char *image = agent_config_signature_image(r->owner->config, r->info.sha256);
        const PdfPlace *place = NULL;
        PdfPlace policy_place = {};
        PdfPrepareParams params = {
                .policy = r->policy,
                .sign = request_sign_params(r),
                .reason = r->reason,
                .location = r->location,
                .name = r->name ?: r->cert_cn,
                .timestamp = r->timestamp,
                .check_signatures = r->role == SIGN_ROLE_ISSUE,
                .role = r->role,
                .visible = r->visible,
                .page = r->visible_page,
                .rect = r->visible_rect,
                .image = image,
                .image_data = r->image,
                .image_size = r->image_size,
                .seal_diameter_mm = r->owner->config->seal_diameter_mm,
                .organization = r->cert_o ?: r->cert_cn,
                .doc_number = r->doc_number,
                .copy_form = r->copy_form,
                .doc_date = r->doc_date,
                .number_place = r->doc_number_place,
                .date_place = r->doc_date_place,
        };

        /* Without a place from the app, kysod.conf's, else the policy's: only when there is an image to draw
         * there, so that a default never turns into an "invisible" warning at every prompt. The desk's
         * kysod.conf wins over the organisation's default. */
        if (!r->visible && (r->role == SIGN_ROLE_APPROVE || r->role == SIGN_ROLE_PERSONAL) &&
            (image || r->image)) {
                const PolicyPlace *pp = &r->policy->signature_place;

                place = agent_config_signature_place(r->owner->config, r->info.sha256);
                if (!place && pp->set)
                        policy_place = (PdfPlace){
                                .set = true,
                                .from_end = pp->from_end,
                                .page = pp->page,
                                .rect = { pp->rect[0], pp->rect[1], pp->rect[2], pp->rect[3] },
                        };
                if (policy_place.set)
                        place = &policy_place;
        }
        if (place) {
                params.visible = true;
                params.page_from_end = place->from_end;
                params.page = place->page;
                params.rect = place->rect;
        }
        return pdf_prepare_new(&params, ret);
}

static int doc_hash_start(SignRequest *r, size_t idx) {
        PdfPrepare *pdf;
        DocHashJob *j;
        int k;

        k = doc_pdf_prepare_new(r, &pdf);
        if (k < 0)
                return k;
        k = doc_hash_job_new(r->docs[idx].fd, r->digest_nid, doc_timeout_ms(r), doc_max_size(r), pdf, &j);
        if (k < 0)
                return k;
        return doc_job_submit(
                r, idx, doc_hash_job_run, doc_hash_done, doc_hash_job_free, doc_hash_job_cancel, j);
}

/* REQ_CHECKING, one document at a time in order. */
int request_check_documents(SignRequest *r) {
        int k;

        if (r->job)
                return 0; /* doc_hash_done() or existing_check_done() goes on */
        for (; r->check_idx < r->n_docs; r->check_idx++) {
                SignDoc *d = &r->docs[r->check_idx];

                if (d->status != DOC_PENDING)
                        continue;
                k = r->role == SIGN_ROLE_ISSUE && d->existing_fd >= 0 ? existing_check_start(r, r->check_idx)
                                                                      : doc_hash_start(r, r->check_idx);
                if (k >= 0)
                        return 0;
                doc_check_failed(r, d, k);
        }
        return 1;
}
