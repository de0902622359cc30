/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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
#include "sign-request.h"

/* SignDoc: one document of a request. Its fds come from the client; it is read and hashed (every role but
 * issue on the loop, in steps; issue on a worker thread, through the check of the leader's signature), and
 * the policy decides on it. */

static void doc_stalled(SignRequest *r, SignDoc *d);

void doc_done(SignDoc *d) {
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

const char *doc_output_check(int doc, int out, int existing) {
        if (fd_check(doc, false) < 0 || fd_check(out, true) < 0 ||
            (existing >= 0 && fd_check(existing, false) < 0))
                return _("The document must be open for reading and the output for writing.");
        if (fds_same_file(doc, out) || fds_same_file(existing, out))
                return _("The output must be another file than the document and its existing signature.");
        return NULL;
}

static void doc_deny(SignRequest *r, SignDoc *d, const char *reason, const char *article) {
        d->article = article;
        doc_finish(r, d, DOC_DENIED, KYSO_BUS_ERROR_POLICY_DENIED, reason);
}

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

/* REQ_CHECKING, one document at a time in order. */
int request_check_documents(SignRequest *r) {
        int k;

        if (r->job)
                return 0; /* existing_check_done() goes on */
        for (; r->check_idx < r->n_docs; r->check_idx++) {
                SignDoc *d = &r->docs[r->check_idx];

                if (d->status != DOC_PENDING)
                        continue;
                if (r->role == SIGN_ROLE_ISSUE && d->existing_fd >= 0) {
                        k = existing_check_start(r, r->check_idx);
                        if (k >= 0)
                                return 0;
                        doc_check_failed(r, d, k);
                        continue;
                }
                if (!d->hashed) {
                        /* 8 MiB per turn of the loop: other requests and calls are served between. */
                        k = doc_hash_some(r, d, UINT64_C(8) * 1024 * 1024);
                        if (k == 0) {
                                request_schedule(r);
                                return 0;
                        }
                        if (k == -EAGAIN)
                                return 0; /* doc_io_cb() goes on when the client writes */
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
        return 1;
}
