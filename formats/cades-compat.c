/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cades-compat.h"

static int sign_two_steps(
        const CadesSignParams *p, const void *existing, size_t existing_size, const ContentDigests *d,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *e) {
        _cleanup_(sign_pending_freep) SignPending *pending = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *token = NULL;
        const uint8_t *tbs, *stamped;
        size_t tbs_size = 0, sig_size = 0, token_size = 0, stamped_size = 0;
        CmsTimestamp ts = {};
        int r;

        if (!p || !p->sign || !ret_der || !ret_size)
                return sign_error(e, -EINVAL, "signer certificate and signing callback are required");
        SignParams sp = {
                .cert = p->signer_cert,
                .chain = p->chain,
                .digest_nid = p->digest_nid,
                .scheme = p->scheme,
                .signing_time = p->signing_time,
                .signing_certificate = p->signing_certificate,
                .signing_certificate_size = p->signing_certificate_size,
        };
        CadesInput in = {
                .profile = p->profile,
                .digests = d,
                .existing = existing,
                .existing_size = existing_size,
        };
        r = cades_prepare(&sp, &in, &pending, e);
        if (r < 0)
                return r;
        r = sign_pending_tbs(pending, &tbs, &tbs_size);
        if (r < 0)
                return r;
        r = p->sign(p->userdata, tbs, tbs_size, p->digest_nid, &sig, &sig_size);
        if (r < 0)
                return sign_error(e, r, "the token did not sign");
        r = sign_pending_set_signature(pending, sig, sig_size, e);
        if (r < 0)
                return r;
        if (p->tsa) {
                _cleanup_free_ char *msg = NULL;

                r = sign_pending_timestamp_data(pending, &stamped, &stamped_size);
                if (r >= 0)
                        r = tsa_timestamp(p->tsa, stamped, stamped_size, &token, &token_size, &ts, &msg);
                if (r < 0)
                        return sign_error(e, r, "%s", strna(msg));
        }
        r = sign_pending_finish(pending, token, token_size, ret_der, ret_size, e);
        if (r >= 0 && ret_timestamp)
                *ret_timestamp = ts;
        else
                cms_timestamp_done(&ts);
        return r;
}

int cades_sign_digest(
        const CadesSignParams *p, const uint8_t *digest, size_t digest_size, uint8_t **ret_der,
        size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *e) {
        ContentDigests d = { .n = 1, .total = 0, .finished = true };

        if (!p || !digest || digest_size > sizeof d.d[0].value)
                return sign_error(e, -EINVAL, "missing arguments");
        d.d[0].nid = p->digest_nid;
        memcpy(d.d[0].value, digest, digest_size);
        d.d[0].size = (unsigned) digest_size;
        return sign_two_steps(p, NULL, 0, &d, ret_der, ret_size, ret_timestamp, e);
}

int cades_add_signer_digests(
        const void *existing, size_t existing_size, const CadesSignParams *p, const ContentDigests *d,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, CadesError *e) {
        if (!existing)
                return sign_error(e, -EINVAL, "missing arguments");
        return sign_two_steps(p, existing, existing_size, d, ret_der, ret_size, ret_timestamp, e);
}
