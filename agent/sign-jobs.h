/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* SignJobs: the steps of a signature that may wait on the network, as AgentWorker jobs (agent-worker.h): a
 * certificate's validation (OCSP, CRL), the check of the leader's signature for issue (its certificate's
 * revocation), and the CMS with its time-stamp (TSA). Each job owns what it reads (references on the policy
 * and certificates, its own file descriptors, copies of buffers), so the request that started it may be
 * cancelled and freed at once; the run functions touch nothing else. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "client-read.h"
#include "formats/cades-sign.h"
#include "formats/cms-verify.h"
#include "formats/content-digest.h"
#include "formats/tsa-client.h"
#include "policy/cert-validate.h"
#include "policy/policy.h"
#include "policy/signature-check.h"

/* cert_validate() off the loop. */
typedef struct CertCheckJob {
        Policy *policy;
        X509 *cert;
        STACK_OF(X509) * untrusted;
        time_t at;
        CertValidateFlags flags;

        int error; /* cert_validate()'s: a negative errno is no verdict */
        CertValidation result;
} CertCheckJob;

/* Takes references on policy, cert and untrusted (may be NULL). */
int cert_check_job_new(
        Policy *policy, X509 *cert, STACK_OF(X509) * untrusted, time_t at, CertValidateFlags flags,
        CertCheckJob **ret);
void cert_check_job_run(void *job);
void cert_check_job_free(void *job);

/* Every role but issue: reads the document the client gave (a file, or a pipe that may never end) and hashes
 * it with SHA-256 and digest_nid, off the loop. A read that waits longer than timeout_ms for data fails with
 * -ETIMEDOUT, a document longer than max_size with -EFBIG; doc_hash_job_cancel() (set it with
 * worker_job_set_cancel()) ends a read that waits. */
typedef struct DocHashJob {
        int fd;
        ClientReader reader;
        int error; /* a negative errno: the document could not be read in full */
        ContentDigests digests;
        bool is_pdf;
} DocHashJob;

/* Duplicates fd. */
int doc_hash_job_new(int fd, int digest_nid, int timeout_ms, uint64_t max_size, DocHashJob **ret);
void doc_hash_job_run(void *job);
void doc_hash_job_cancel(void *job);
void doc_hash_job_free(void *job);

/* For issue: reads the leader's detached signature, verifies it over the document while hashing the document
 * (digest_nid, SHA-256 and the existing signers' algorithms), and checks each signer (signature_check()).
 * Both come from the client and may be pipes that never end: existing_check_job_cancel() interrupts a read
 * that waits (set it with worker_job_set_cancel()). */
typedef struct ExistingCheckJob {
        Policy *policy;
        int doc_fd, existing_fd;
        ClientReader reader; /* the document counts towards its max_size, the signature does not */
        int digest_nid;

        int error;    /* a negative errno: the check could not be made (-ETIMEDOUT, -EFBIG: see reader) */
        bool not_cms; /* the existing signature is not a detached CMS of this document */
        ContentDigests digests;
        uint8_t *existing;
        size_t existing_size;
        CmsVerifyResult *verified;
        SignatureCheck *checks; /* one per signer of verified */
        size_t n_checks;
} ExistingCheckJob;

/* Takes a reference on policy and duplicates both file descriptors. timeout_ms: how long a read may wait for
 * the client's data (a pipe the client stopped writing); the job then fails with -ETIMEDOUT. A document
 * longer than max_size (0: no limit) fails with -EFBIG. */
int existing_check_job_new(
        Policy *policy, int doc_fd, int existing_fd, int digest_nid, int timeout_ms, uint64_t max_size,
        ExistingCheckJob **ret);
void existing_check_job_run(void *job);
/* From any thread; does not block. The run function then ends early with -ECANCELED. */
void existing_check_job_cancel(void *job);
void existing_check_job_free(void *job);

/* What the second CMS pass needs: the token's signature sig over tbs (the hash of the signed attributes
 * the first pass built), and everything the first pass used, so that the signed attributes come out the
 * same. existing is the leader's signature for issue (else NULL). */
typedef struct CmsInput {
        X509 *cert;
        STACK_OF(X509) * chain;
        int digest_nid;
        CmsSignatureScheme scheme;
        time_t signing_time;
        const uint8_t *existing;
        size_t existing_size;
        const ContentDigests *digests;
        const uint8_t *tbs, *sig;
        size_t tbs_size, sig_size;
        const TsaOptions *tsa; /* NULL: B-B */
        /* The certificate's ESS signing-certificate-v2 value, worked out once per request (NULL: per pass).
         */
        const uint8_t *signing_certificate;
        size_t signing_certificate_size;
} CmsInput;

/* The first pass stops with this once the hash to sign is known (the token signs asynchronously). */
#define CMS_TBS_CAPTURED (-EINPROGRESS)

/* Builds the CMS: with in->sig == NULL the first pass, which returns CMS_TBS_CAPTURED and the hash to sign
 * in *ret_tbs; else the finished DER (with the time-stamp when in->tsa is set). *ret_msg (may be NULL) says
 * what went wrong. */
int cms_input_build(
        const CmsInput *in, uint8_t **ret_tbs, size_t *ret_tbs_size, uint8_t **ret_der, size_t *ret_size,
        CmsTimestamp *ret_ts, char **ret_msg);

/* The second pass with a time-stamp, off the loop. */
typedef struct CmsJob {
        CmsInput in; /* points into the copies below */
        X509 *cert;
        STACK_OF(X509) * chain;
        uint8_t *existing, *tbs, *sig, *signing_certificate;
        ContentDigests digests;
        TsaOptions tsa;
        char *tsa_url, *tsa_proxy, *tsa_policy_oid;

        int error;
        char *message;
        uint8_t *der;
        size_t der_size;
        CmsTimestamp timestamp;
} CmsJob;

/* Copies in (and in->tsa), taking references on the certificates. */
int cms_job_new(const CmsInput *in, CmsJob **ret);
void cms_job_run(void *job);
void cms_job_free(void *job);
