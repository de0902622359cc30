/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* VerifyJob: one Verify call's work, on a worker thread: the client's document (a file or a pipe) is read
 * into an unlinked temporary file within the agent's size limit and timeout; a PDF's signatures are verified
 * in place (pdf_verify_fd()), a detached CMS over any other document; each signer is then checked under the
 * policy (signature_check(): trust, revocation at signing time, the competent-person rule). The bus glue is
 * agent-verify-dbus.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client-read.h"
#include "formats/cms-verify.h"
#include "formats/pdf-verify.h"
#include "policy/policy.h"
#include "policy/signature-check.h"

typedef struct VerifyJob {
        Policy *policy;
        int doc_fd, sig_fd; /* sig_fd may be -EBADF: a PDF, or a signature to be found nowhere */
        ClientReader reader;

        int error;         /* a negative errno: no verdict (-ETIMEDOUT, -EFBIG: see reader) */
        bool no_signature; /* not a PDF, and no detached signature was given */
        bool not_cms;      /* not a PDF, and the signature given is not a detached CMS of it */
        bool unreadable;   /* reading the client's document failed (error: why), as for a folder */
        bool is_pdf;
        PdfVerifyResult *pdf;
        uint8_t *sig;
        size_t sig_size;
        CmsVerifyResult *cms;
        /* One per signature: a PDF's (time-stamps included, unchecked) or the CMS's signers; checked[i] says
         * whether checks[i] was made (a signature with a signer certificate). */
        SignatureCheck *checks;
        bool *checked;
        size_t n;
} VerifyJob;

/* Takes a reference on policy and duplicates the fds (sig_fd < 0: none). */
int verify_job_new(
        Policy *policy, int doc_fd, int sig_fd, int timeout_ms, uint64_t max_size, VerifyJob **ret);
void verify_job_run(void *job);
void verify_job_cancel(void *job);
void verify_job_free(void *job);
