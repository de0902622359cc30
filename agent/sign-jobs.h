/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* SignJobs: the steps of a signature that may wait on the network, as AgentWorker jobs (agent-worker.h): a
 * certificate's validation (OCSP, CRL), the check of the leader's signature for issue (its certificate's
 * revocation), and the time-stamp of a signature (TSA). Each job owns what it reads (references on the
 * policy and certificates, its own file descriptors, copies of buffers), so the request that started it may
 * be cancelled and freed at once; the run functions touch nothing else. */

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
#include "sign-pdf.h"

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

/* Every document but one to issue over a detached signature: reads the document the client gave (a file, or
 * a pipe that may never end) and hashes it with SHA-256 and digest_nid, off the loop. A read that waits
 * longer than timeout_ms for data fails with -ETIMEDOUT, a document longer than max_size with -EFBIG;
 * doc_hash_job_cancel() (set it with worker_job_set_cancel()) ends a read that waits.
 *
 * A PDF (pdf_looks_like_pdf() on its first bytes) needs random access: its bytes go to an unlinked
 * temporary file as they are hashed, never to memory, and pdf then opens and prepares it on the same
 * thread. */
typedef struct DocHashJob {
        int fd;
        ClientReader reader;
        int error; /* a negative errno: the document could not be read in full */
        ContentDigests digests;
        bool is_pdf;
        int pdf_fd;
        PdfPrepare *pdf;
        EVP_MD_CTX *sha256_tail; /* a PDF: the SHA-256 of its bytes, unfinished: the signed file's goes on */
} DocHashJob;

/* Duplicates fd; takes pdf (may be NULL: a PDF is then only hashed). */
int doc_hash_job_new(
        int fd, int digest_nid, int timeout_ms, uint64_t max_size, PdfPrepare *pdf, DocHashJob **ret);
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
        bool existing_read; /* the existing signature came in full: a later -ETIMEDOUT is the document's */
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

/* B-T: the RFC 3161 token over a signature value (sign_pending_timestamp_data()), from the time-stamp
 * server, off the loop. B-LT (policy set): then the TSA's certificate is validated as a verifier will
 * (cert_validate() with CERT_VALIDATE_TIMESTAMPING, the same revocation code and cache), keeping the OCSP
 * answers and CRLs for the /DSS; a TSA certificate that is not usable fails the job with -EKEYREJECTED and
 * the validation's reason as message. */
typedef struct TimestampJob {
        TsaOptions tsa; /* points into the copies below */
        char *tsa_url, *tsa_proxy, *tsa_policy_oid;
        uint8_t *data;
        size_t data_size;
        Policy *policy; /* B-LT: a reference; NULL: the TSA's certificate is not validated here */

        int error;
        char *message;
        uint8_t *token;
        size_t token_size;
        CmsTimestamp timestamp;
        CertValidation tsa_status; /* B-LT: with its proofs (CERT_VALIDATE_KEEP_PROOFS) */
} TimestampJob;

/* Copies tsa and data; takes a reference on keep_proofs_policy (may be NULL: B-T). */
int timestamp_job_new(
        const TsaOptions *tsa, const uint8_t *data, size_t size, Policy *keep_proofs_policy,
        TimestampJob **ret);
void timestamp_job_run(void *job);
void timestamp_job_free(void *job);
