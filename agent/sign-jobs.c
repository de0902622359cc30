/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/objects.h>

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

/* ---- ExistingCheckJob */

int existing_check_job_new(
        Policy *policy, int doc_fd, int existing_fd, int digest_nid, int timeout_ms,
        ExistingCheckJob **ret) {
        ExistingCheckJob *j;

        if (!policy || doc_fd < 0 || existing_fd < 0)
                return -EINVAL;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->doc_fd = fcntl(doc_fd, F_DUPFD_CLOEXEC, 3);
        j->existing_fd = fcntl(existing_fd, F_DUPFD_CLOEXEC, 3);
        j->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (j->doc_fd < 0 || j->existing_fd < 0 || j->cancel_fd < 0) {
                int r = negative_errno();
                safe_close(j->doc_fd);
                safe_close(j->existing_fd);
                safe_close(j->cancel_fd);
                free(j);
                return r;
        }
        j->digest_nid = digest_nid;
        j->timeout_ms = timeout_ms > 0 ? timeout_ms : -1;
        j->policy = policy_ref(policy);
        *ret = j;
        return 0;
}

static bool job_cancelled(ExistingCheckJob *j) {
        struct pollfd p = { .fd = j->cancel_fd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

/* The client's fds are read as they are: they may be blocking (their O_NONBLOCK is shared with the client,
 * so it is not ours to set), so the read waits in poll() with the cancel eventfd, and happens only when the
 * fd is readable. A regular file is always readable: one poll() per chunk of 256 KiB. */
static ssize_t job_read(ExistingCheckJob *j, int fd, void *buf, size_t size) {
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = j->cancel_fd, .events = POLLIN },
                };
                ssize_t n;

                int k = poll(p, ELEMENTSOF(p), j->timeout_ms);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[1].revents != 0)
                        return -ECANCELED;
                if (k == 0) {
                        j->timed_out = true;
                        return -ETIMEDOUT;
                }
                n = read(fd, buf, size);
                if (n >= 0)
                        return n;
                if (errno != EINTR && errno != EAGAIN)
                        return -errno;
        }
}

static ssize_t read_existing(void *userdata, void *buf, size_t size) {
        ExistingCheckJob *j = userdata;
        return job_read(j, j->existing_fd, buf, size);
}

/* The document streams through the verifier and the digests at once: it is read only once. */
static ssize_t read_and_hash(void *userdata, void *buf, size_t size) {
        ExistingCheckJob *j = userdata;
        ssize_t n = job_read(j, j->doc_fd, buf, size);

        if (n > 0) {
                int r = content_digests_update(&j->digests, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        return n;
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
        if (cms_signature_read(read_existing, j, &j->existing, &j->existing_size) < 0 ||
            cades_existing_digests(j->existing, j->existing_size, &j->digests) < 0 ||
            cms_verify_detached(j->existing, j->existing_size, read_and_hash, j, &j->verified) < 0) {
                if (job_cancelled(j))
                        j->error = -ECANCELED; /* nobody reads it: the worker drops the result */
                else if (j->timed_out)
                        j->error = -ETIMEDOUT;
                else
                        j->not_cms = true;
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
                if (job_cancelled(j)) {
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
        safe_close(j->cancel_fd);
        policy_free(j->policy);
        free(j);
}

void existing_check_job_cancel(void *job) {
        ExistingCheckJob *j = job;
        (void) eventfd_write(j->cancel_fd, 1);
}

/* ---- the CMS */

typedef struct Capture {
        const CmsInput *in;
        uint8_t *tbs;
        size_t tbs_size;
} Capture;

static int
capture_sign(void *userdata, const uint8_t *tbs, size_t size, int nid, uint8_t **ret_sig, size_t *ret_size) {
        Capture *c = userdata;
        (void) nid;

        if (!c->in->sig) {
                free(c->tbs);
                c->tbs = memdup(tbs, size);
                if (!c->tbs)
                        return -ENOMEM;
                c->tbs_size = size;
                return CMS_TBS_CAPTURED;
        }
        /* Same signed attributes as in the first pass (fixed signing time), so the same hash. */
        if (size != c->in->tbs_size || memcmp(tbs, c->in->tbs, size) != 0)
                return -ESTALE;
        *ret_sig = memdup(c->in->sig, c->in->sig_size);
        if (!*ret_sig)
                return -ENOMEM;
        *ret_size = c->in->sig_size;
        return 0;
}

int cms_input_build(
        const CmsInput *in, uint8_t **ret_tbs, size_t *ret_tbs_size, uint8_t **ret_der, size_t *ret_size,
        CmsTimestamp *ret_ts, char **ret_msg) {
        _cleanup_free_ uint8_t *der = NULL;
        Capture c = { .in = in };
        CadesError e = {};
        const uint8_t *digest;
        size_t der_size = 0, ds = 0;
        int k;

        CadesSignParams p = {
                .signer_cert = in->cert,
                .chain = in->chain,
                .digest_nid = in->digest_nid,
                .scheme = in->scheme,
                .profile = CADES_PROFILE_BASELINE_B,
                .signing_time = in->signing_time,
                .sign = capture_sign,
                .userdata = &c,
                .tsa = in->sig ? in->tsa : NULL,
                .signing_certificate = in->signing_certificate,
                .signing_certificate_size = in->signing_certificate_size,
        };
        if (in->existing)
                k = cades_add_signer_digests(
                        in->existing, in->existing_size, &p, in->digests, &der, &der_size, ret_ts, &e);
        else {
                digest = content_digests_get(in->digests, in->digest_nid, &ds);
                k = digest ? cades_sign_digest(&p, digest, ds, &der, &der_size, ret_ts, &e) : -EINVAL;
        }
        if (k == CMS_TBS_CAPTURED && ret_tbs) {
                *ret_tbs = TAKE_PTR(c.tbs);
                *ret_tbs_size = c.tbs_size;
        } else if (k >= 0 && ret_der) {
                *ret_der = TAKE_PTR(der);
                *ret_size = der_size;
        }
        if (k < 0 && ret_msg)
                *ret_msg = TAKE_PTR(e.message);
        free(c.tbs);
        cades_error_done(&e);
        return k;
}

int cms_job_new(const CmsInput *in, CmsJob **ret) {
        CmsJob *j;

        if (!in || !in->cert || !in->digests || !in->sig || !in->tbs)
                return -EINVAL;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->in = *in;
        /* The digests' values only: the hashing contexts stay with their owner. */
        j->digests = *in->digests;
        for (size_t i = 0; i < j->digests.n; i++)
                j->digests.d[i].ctx = NULL;
        j->in.digests = &j->digests;
        j->existing = memdup(in->existing, in->existing_size);
        j->tbs = memdup(in->tbs, in->tbs_size);
        j->sig = memdup(in->sig, in->sig_size);
        j->signing_certificate = memdup(in->signing_certificate, in->signing_certificate_size);
        j->in.existing = j->existing;
        j->in.signing_certificate = j->signing_certificate;
        j->in.tbs = j->tbs;
        j->in.sig = j->sig;
        j->in.cert = NULL;
        j->in.chain = NULL;
        j->in.tsa = NULL;
        if (in->tsa) {
                j->tsa = *in->tsa;
                j->tsa_url = in->tsa->url ? strdup(in->tsa->url) : NULL;
                j->tsa_proxy = in->tsa->proxy ? strdup(in->tsa->proxy) : NULL;
                j->tsa.url = j->tsa_url;
                j->tsa.proxy = j->tsa_proxy;
                j->tsa_policy_oid = in->tsa->policy_oid ? strdup(in->tsa->policy_oid) : NULL;
                j->tsa.policy_oid = j->tsa_policy_oid;
                j->in.tsa = &j->tsa;
        }
        if ((in->existing && !j->existing) || !j->tbs || !j->sig ||
            (in->signing_certificate && !j->signing_certificate) ||
            (in->tsa && in->tsa->url && !j->tsa_url) || (in->tsa && in->tsa->proxy && !j->tsa_proxy) ||
            (in->tsa && in->tsa->policy_oid && !j->tsa_policy_oid) || dup_chain(in->chain, &j->chain) < 0 ||
            X509_up_ref(in->cert) != 1) {
                cms_job_free(j);
                return -ENOMEM;
        }
        j->cert = in->cert;
        j->in.cert = j->cert;
        j->in.chain = j->chain;
        *ret = j;
        return 0;
}

void cms_job_run(void *job) {
        CmsJob *j = job;
        j->error = cms_input_build(&j->in, NULL, NULL, &j->der, &j->der_size, &j->timestamp, &j->message);
}

void cms_job_free(void *job) {
        CmsJob *j = job;

        if (!j)
                return;
        free(j->der);
        free(j->message);
        cms_timestamp_done(&j->timestamp);
        free(j->tsa_url);
        free(j->tsa_proxy);
        free(j->tsa_policy_oid);
        content_digests_done(&j->digests);
        free(j->existing);
        free(j->tbs);
        free(j->sig);
        free(j->signing_certificate);
        sk_X509_pop_free(j->chain, X509_free);
        X509_free(j->cert);
        free(j);
}
