/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* TRANSITIONAL, to be deleted with agent/sign-jobs.c's cms_input_build(): the one-call CAdES signer over a
 * "sign this digest" callback that the agent's two CMS passes still use, built on cades_prepare() and
 * SignPending. New code uses cades_prepare() (cades-sign.h) and signer.h. */

#include "cades-sign.h"
#include "tsa-client.h"

typedef SignError CadesError;
static inline void cades_error_done(CadesError *e) {
        sign_error_done(e);
}

/* Signs tbs_digest (the hash of the signed attributes); returns the signature as
 * sign_pending_set_signature() takes it, or a negative errno passed through to the caller. */
typedef int (*CadesSignFunc)(
        void *userdata, const uint8_t *tbs_digest, size_t digest_size, int digest_nid, uint8_t **ret_sig,
        size_t *ret_sig_size);

typedef struct CadesSignParams {
        X509 *signer_cert;
        STACK_OF(X509) * chain;
        int digest_nid;
        CmsSignatureScheme scheme;
        CadesProfile profile;
        time_t signing_time;
        CadesSignFunc sign;
        void *userdata;
        const TsaOptions *tsa; /* non-NULL: B-T, fetched here */
        const uint8_t *signing_certificate;
        size_t signing_certificate_size;
} CadesSignParams;

int cades_sign_digest(
        const CadesSignParams *params, const uint8_t *content_digest, size_t digest_size, uint8_t **ret_der,
        size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *ret_error);
int cades_add_signer_digests(
        const void *existing, size_t existing_size, const CadesSignParams *params, const ContentDigests *d,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *ret_error);
