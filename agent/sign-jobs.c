/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/objects.h>

#include "client-read.h"
#include "fileio.h"
#include "macro.h"
#include "openssl-util.h"
#include "sign-jobs.h"

static int dup_chain(STACK_OF(X509) * chain, STACK_OF(X509) * *ret) {
        *ret = NULL;
        if (!chain)
                return 0;
        *ret = X509_chain_up_ref(chain);
        return *ret ? 0 : -ENOMEM;
}

/* ---- CertCheckJob */

int cert_check_job_new(
        Policy *policy, X509 *cert, STACK_OF(X509) * untrusted, time_t at, CertValidateFlags flags,
        CertCheckJob **ret) {
        CertCheckJob *j;

        if (!policy || !cert)
                return -EINVAL;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->at = at;
        j->flags = flags;
        if (dup_chain(untrusted, &j->untrusted) < 0 || X509_up_ref(cert) != 1) {
                sk_X509_pop_free(j->untrusted, X509_free);
                free(j);
                return -ENOMEM;
        }
        j->cert = cert;
        j->policy = policy_ref(policy);
        *ret = j;
        return 0;
}

void cert_check_job_run(void *job) {
        CertCheckJob *j = job;
        j->error = cert_validate(j->policy, j->cert, j->untrusted, j->at, j->flags, &j->result);
}

void cert_check_job_free(void *job) {
        CertCheckJob *j = job;

        if (!j)
                return;
        cert_validation_done(&j->result);
        sk_X509_pop_free(j->untrusted, X509_free);
        X509_free(j->cert);
        policy_free(j->policy);
        free(j);
}

/* ---- DocHashJob */

/* Large reads: a regular file costs one poll() per MiB. */
#define DOC_READ_CHUNK (1024U * 1024U)

int doc_hash_job_new(
        int fd, int digest_nid, int timeout_ms, uint64_t max_size, PdfPrepare *pdf, DocHashJob **ret) {
        DocHashJob *j;
        int k;

        if (fd < 0) {
                pdf_prepare_free(pdf);
                return -EINVAL;
        }
        j = calloc(1, sizeof *j);
        if (!j) {
                pdf_prepare_free(pdf);
                return -ENOMEM;
        }
        j->pdf = pdf;
        j->pdf_fd = -EBADF;
        k = client_reader_init(&j->reader, timeout_ms, max_size);
        j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (k >= 0 && j->fd < 0)
                k = -errno;
        if (k >= 0 && (content_digests_add(&j->digests, NID_sha256) < 0 ||
                       content_digests_add(&j->digests, digest_nid) < 0))
                k = -ENOMEM;
        if (k < 0) {
                doc_hash_job_free(j);
                return k;
        }
        *ret = j;
        return 0;
}

/* How many first bytes tell a PDF (pdf_looks_like_pdf() looks for "%PDF-" in them). */
#define DOC_HEAD_SIZE 1024U

/* Once the first bytes are in: a PDF gets its temporary file, with those bytes. */
static int doc_hash_decide(DocHashJob *j, const uint8_t *head, size_t n_head) {
        j->is_pdf = pdf_looks_like_pdf(head, n_head);
        if (!j->is_pdf)
                return 0;
        j->pdf_fd = pdf_temporary_fd();
        if (j->pdf_fd < 0)
                return j->pdf_fd;
        return loop_write(j->pdf_fd, head, n_head);
}

/* The SHA-256 of the PDF so far, kept unfinished before the digests are finished. */
static int doc_hash_keep_tail(DocHashJob *j) {
        for (size_t i = 0; i < j->digests.n; i++)
                if (j->digests.d[i].nid == NID_sha256) {
                        j->sha256_tail = EVP_MD_CTX_new();
                        if (!j->sha256_tail || EVP_MD_CTX_copy_ex(j->sha256_tail, j->digests.d[i].ctx) != 1)
                                return -ENOMEM;
                        return 0;
                }
        return -EINVAL;
}

static int doc_hash_read(DocHashJob *j) {
        _cleanup_free_ uint8_t *buf = malloc(DOC_READ_CHUNK);
        uint8_t head[DOC_HEAD_SIZE];
        size_t n_head = 0;
        bool decided = false;
        ssize_t n;
        int k;

        if (!buf)
                return -ENOMEM;
        while ((n = client_reader_read(&j->reader, j->fd, buf, DOC_READ_CHUNK, true)) > 0) {
                k = content_digests_update(&j->digests, buf, (size_t) n);
                if (k < 0)
                        return k;
                if (decided) {
                        if (j->pdf_fd >= 0 && (k = loop_write(j->pdf_fd, buf, (size_t) n)) < 0)
                                return k;
                        continue;
                }
                /* What the document is, from its first bytes, however the pipe cuts them. */
                size_t m = MIN((size_t) n, sizeof head - n_head);
                memcpy(head + n_head, buf, m);
                n_head += m;
                if (n_head < sizeof head)
                        continue;
                decided = true;
                k = doc_hash_decide(j, head, n_head);
                if (k >= 0 && j->pdf_fd >= 0 && (size_t) n > m)
                        k = loop_write(j->pdf_fd, buf + m, (size_t) n - m);
                if (k < 0)
                        return k;
        }
        if (n < 0)
                return (int) n;
        if (!decided && (k = doc_hash_decide(j, head, n_head)) < 0)
                return k;
        if (j->is_pdf && (k = doc_hash_keep_tail(j)) < 0)
                return k;
        return content_digests_finish(&j->digests);
}

void doc_hash_job_run(void *job) {
        DocHashJob *j = job;

        j->error = doc_hash_read(j);
        if (j->error >= 0 && j->is_pdf && j->pdf)
                pdf_prepare_run(j->pdf, j->pdf_fd, &j->reader, j->sha256_tail);
}

void doc_hash_job_cancel(void *job) {
        DocHashJob *j = job;
        client_reader_cancel(&j->reader);
}

void doc_hash_job_free(void *job) {
        DocHashJob *j = job;

        if (!j)
                return;
        content_digests_done(&j->digests);
        EVP_MD_CTX_free(j->sha256_tail);
        pdf_prepare_free(j->pdf);
        safe_close(j->pdf_fd);
        safe_close(j->fd);
        client_reader_done(&j->reader);
        free(j);
}

/* ---- ExistingCheckJob */

int existing_check_job_new(
        Policy *policy, int doc_fd, int existing_fd, int digest_nid, int timeout_ms, uint64_t max_size,
        ExistingCheckJob **ret) {
        ExistingCheckJob *j;
        int k;

        if (!policy || doc_fd < 0 || existing_fd < 0)
                return -EINVAL;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        k = client_reader_init(&j->reader, timeout_ms, max_size);
        j->doc_fd = fcntl(doc_fd, F_DUPFD_CLOEXEC, 3);
        j->existing_fd = fcntl(existing_fd, F_DUPFD_CLOEXEC, 3);
        if (k >= 0 && (j->doc_fd < 0 || j->existing_fd < 0))
                k = -errno;
        if (k < 0) {
                safe_close(j->doc_fd);
                safe_close(j->existing_fd);
                client_reader_done(&j->reader);
                free(j);
                return k;
        }
        j->digest_nid = digest_nid;
        j->policy = policy_ref(policy);
        *ret = j;
        return 0;
}

static ssize_t read_existing(void *userdata, void *buf, size_t size) {
        ExistingCheckJob *j = userdata;
        return client_reader_read(&j->reader, j->existing_fd, buf, size, false);
}

/* The document streams through the verifier and the digests at once: it is read only once. */
static ssize_t read_and_hash(void *userdata, void *buf, size_t size) {
        ExistingCheckJob *j = userdata;
        ssize_t n = client_reader_read(&j->reader, j->doc_fd, buf, size, true);

        if (n > 0) {
                int r = content_digests_update(&j->digests, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        return n;
}

/* Why the leader's signature could not be checked: the reader's reason, or it is no CMS of this document. */
static void existing_check_failed(ExistingCheckJob *j) {
        if (client_reader_cancelled(&j->reader))
                j->error = -ECANCELED; /* nobody reads it: the worker drops the result */
        else if (j->reader.timed_out)
                j->error = -ETIMEDOUT;
        else if (j->reader.too_large)
                j->error = -EFBIG;
        else
                j->not_cms = true;
}

void existing_check_job_run(void *job) {
        ExistingCheckJob *j = job;
        size_t n;
        int r;

        if (content_digests_add(&j->digests, NID_sha256) < 0 ||
            content_digests_add(&j->digests, j->digest_nid) < 0) {
                j->error = -ENOMEM;
                return;
        }
        if (cms_signature_read(read_existing, j, &j->existing, &j->existing_size) < 0) {
                existing_check_failed(j);
                return;
        }
        j->existing_read = true;
        if (cades_existing_digests(j->existing, j->existing_size, &j->digests) < 0 ||
            cms_verify_detached(j->existing, j->existing_size, read_and_hash, j, &j->verified) < 0) {
                existing_check_failed(j);
                return;
        }
        r = content_digests_finish(&j->digests);
        if (r < 0) {
                j->error = r;
                return;
        }
        n = j->verified->n_signers;
        j->checks = calloc(n ?: 1, sizeof *j->checks);
        if (!j->checks) {
                j->error = -ENOMEM;
                return;
        }
        /* Each signer's certificate is validated now and at its signing time: OCSP and CRL requests, not
         * worth making for a cancelled request (they cannot be interrupted, but they have timeouts). */
        for (size_t i = 0; i < n; i++) {
                if (client_reader_cancelled(&j->reader)) {
                        j->error = -ECANCELED;
                        return;
                }
                r = signature_check(j->policy, j->verified, &j->verified->signers[i], &j->checks[i]);
                if (r < 0) {
                        j->error = r;
                        return;
                }
                j->n_checks++;
        }
}

void existing_check_job_free(void *job) {
        ExistingCheckJob *j = job;

        if (!j)
                return;
        for (size_t i = 0; i < j->n_checks; i++)
                signature_check_done(&j->checks[i]);
        free(j->checks);
        cms_verify_result_free(j->verified); /* after the checks, which borrow its certificates */
        free(j->existing);
        content_digests_done(&j->digests);
        safe_close(j->doc_fd);
        safe_close(j->existing_fd);
        client_reader_done(&j->reader);
        policy_free(j->policy);
        free(j);
}

void existing_check_job_cancel(void *job) {
        ExistingCheckJob *j = job;
        client_reader_cancel(&j->reader);
}

/* ---- TimestampJob */

int timestamp_job_new(
        const TsaOptions *tsa, const uint8_t *data, size_t size, Policy *keep_proofs_policy,
        TimestampJob **ret) {
        TimestampJob *j;

        if (!tsa || !tsa->url || !data || size == 0 || !ret)
                return -EINVAL;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->tsa = *tsa;
        j->tsa_url = strdup(tsa->url);
        j->tsa_proxy = tsa->proxy ? strdup(tsa->proxy) : NULL;
        j->tsa_policy_oid = tsa->policy_oid ? strdup(tsa->policy_oid) : NULL;
        j->data = memdup(data, size);
        j->data_size = size;
        j->tsa.url = j->tsa_url;
        j->tsa.proxy = j->tsa_proxy;
        j->tsa.policy_oid = j->tsa_policy_oid;
        j->policy = keep_proofs_policy ? policy_ref(keep_proofs_policy) : NULL;
        if (!j->tsa_url || (tsa->proxy && !j->tsa_proxy) || (tsa->policy_oid && !j->tsa_policy_oid) ||
            !j->data) {
                timestamp_job_free(j);
                return -ENOMEM;
        }
        *ret = j;
        return 0;
}

void timestamp_job_run(void *job) {
        TimestampJob *j = job;
        j->error = tsa_timestamp(
                &j->tsa, j->data, j->data_size, &j->token, &j->token_size, &j->timestamp, &j->message);
        if (j->error < 0 || !j->policy)
                return;
        if (!j->timestamp.tsa_cert) {
                j->error = -EKEYREJECTED;
                return;
        }
        /* Now, as the signer's certificate was: the /DSS keeps what was true at signing time. */
        j->error = cert_validate(
                j->policy, j->timestamp.tsa_cert, j->timestamp.certs, 0,
                CERT_VALIDATE_TIMESTAMPING | CERT_VALIDATE_KEEP_PROOFS, &j->tsa_status);
        if (j->error >= 0 && !cert_status_is_usable(j->tsa_status.status)) {
                j->error = -EKEYREJECTED;
                free(j->message);
                j->message = strdup(strempty(j->tsa_status.reason));
        }
}

void timestamp_job_free(void *job) {
        TimestampJob *j = job;

        if (!j)
                return;
        free(j->token);
        free(j->message);
        cms_timestamp_done(&j->timestamp);
        cert_validation_done(&j->tsa_status);
        policy_free(j->policy);
        free(j->tsa_url);
        free(j->tsa_proxy);
        free(j->tsa_policy_oid);
        free(j->data);
        free(j);
}
