/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent-verify.h"
#include "fileio.h"
#include "formats/content-digest.h"
#include "formats/pdf-document.h"
#include "macro.h"
#include "sign-pdf.h"

#define VERIFY_READ_CHUNK (1024U * 1024U)

int verify_job_new(
        Policy *policy, int doc_fd, int sig_fd, int timeout_ms, uint64_t max_size, VerifyJob **ret) {
        VerifyJob *j;
        int k;

        if (!policy || doc_fd < 0 || !ret)
                return -EINVAL;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->doc_fd = fcntl(doc_fd, F_DUPFD_CLOEXEC, 3);
        j->sig_fd = sig_fd >= 0 ? fcntl(sig_fd, F_DUPFD_CLOEXEC, 3) : -EBADF;
        j->policy = policy_ref(policy);
        k = client_reader_init(&j->reader, timeout_ms, max_size);
        if (k >= 0 && (j->doc_fd < 0 || (sig_fd >= 0 && j->sig_fd < 0)))
                k = -errno;
        if (k < 0) {
                verify_job_free(j);
                return k;
        }
        *ret = j;
        return 0;
}

void verify_job_free(void *job) {
        VerifyJob *j = job;

        if (!j)
                return;
        for (size_t i = 0; i < j->n; i++)
                if (j->checked[i])
                        signature_check_done(&j->checks[i]);
        free(j->checks);
        free(j->checked);
        cms_verify_result_free(j->cms); /* after the checks, which borrow its certificates */
        pdf_verify_result_free(j->pdf);
        free(j->sig);
        safe_close(j->doc_fd);
        safe_close(j->sig_fd);
        client_reader_done(&j->reader);
        policy_free(j->policy);
        free(j);
}

void verify_job_cancel(void *job) {
        VerifyJob *j = job;
        client_reader_cancel(&j->reader);
}

/* The client's document, to an unlinked temporary file: a PDF needs random access, and a pipe can be read
 * only once. */
static int copy_document(VerifyJob *j, int out) {
        _cleanup_free_ uint8_t *buf = malloc(VERIFY_READ_CHUNK);
        ssize_t n;
        int k;

        if (!buf)
                return -ENOMEM;
        while ((n = client_reader_read(&j->reader, j->doc_fd, buf, VERIFY_READ_CHUNK, true)) > 0)
                if ((k = loop_write(out, buf, (size_t) n)) < 0)
                        return k;
        if (n < 0 && !j->reader.timed_out && !j->reader.too_large && n != -ECANCELED)
                j->unreadable =
                        true; /* the client's fd, not the agent: a folder, a socket never connected */
        return (int) n;
}

static ssize_t read_signature(void *userdata, void *buf, size_t size) {
        VerifyJob *j = userdata;
        return client_reader_read(&j->reader, j->sig_fd, buf, size, false);
}

static int alloc_checks(VerifyJob *j, size_t n) {
        j->checks = calloc(n ?: 1, sizeof *j->checks);
        j->checked = calloc(n ?: 1, sizeof *j->checked);
        j->n = n;
        return j->checks && j->checked ? 0 : -ENOMEM;
}

/* Each signer under the policy: OCSP and CRL requests, not worth making once cancelled. */
static int check_one(
        VerifyJob *j, size_t i, const CmsVerifyResult *cms, const CmsSignerResult *s,
        const time_t *claimed_time) {
        int k;

        if (client_reader_cancelled(&j->reader))
                return -ECANCELED;
        k = signature_check_claimed(j->policy, cms, s, claimed_time, &j->checks[i]);
        if (k < 0)
                return k;
        j->checked[i] = true;
        return 0;
}

static int verify_pdf(VerifyJob *j, int fd) {
        int k = pdf_verify_fd(fd, &j->pdf);

        if (k < 0)
                return k;
        k = alloc_checks(j, j->pdf->n_signatures);
        for (size_t i = 0; k >= 0 && i < j->n; i++) {
                const PdfSignature *s = &j->pdf->signatures[i];
                if (s->kind != PDF_SIGNATURE_TIMESTAMP && s->cms && s->signer)
                        k = check_one(
                                j, i, s->cms, s->signer, s->has_claimed_time ? &s->claimed_time : NULL);
        }
        return k;
}

static int verify_detached(VerifyJob *j, int fd) {
        int k;

        if (j->sig_fd < 0) {
                j->no_signature = true;
                return 0;
        }
        k = cms_signature_read(read_signature, j, &j->sig, &j->sig_size);
        if (k < 0 && (j->reader.timed_out || client_reader_cancelled(&j->reader)))
                return j->reader.timed_out ? -ETIMEDOUT : -ECANCELED;
        if (k >= 0 && j->sig_size == 0) {
                j->no_signature = true;
                return 0;
        }
        if (k < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
            cms_verify_detached_fd(j->sig, j->sig_size, fd, &j->cms) < 0) {
                j->not_cms = true;
                return 0;
        }
        k = alloc_checks(j, j->cms->n_signers);
        for (size_t i = 0; k >= 0 && i < j->n; i++)
                k = check_one(j, i, j->cms, &j->cms->signers[i], NULL);
        return k;
}

void verify_job_run(void *job) {
        VerifyJob *j = job;
        _cleanup_close_ int fd = pdf_temporary_fd();
        uint8_t head[1024];
        ssize_t n;
        int k;

        if (fd < 0) {
                j->error = fd;
                return;
        }
        k = copy_document(j, fd);
        if (k < 0) {
                j->error = k;
                return;
        }
        n = pread(fd, head, sizeof head, 0);
        j->is_pdf = n > 0 && pdf_looks_like_pdf(head, (size_t) n);
        j->error = j->is_pdf ? verify_pdf(j, fd) : verify_detached(j, fd);
}
