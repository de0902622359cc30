/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "signer.h"

void sign_error_done(SignError *e) {
        if (!e)
                return;
        e->message = mfree(e->message);
}

int sign_error(SignError *e, int r, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;

        if (e && !e->message) {
                va_start(ap, fmt);
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                va_end(ap);
                e->message = m;
        }
        /* The caller reports r and the message; OpenSSL's queue would leak into the next operation. */
        ERR_clear_error();
        return r;
}

int sign_pending_tbs(const SignPending *p, const uint8_t **ret_digest, size_t *ret_size) {
        if (!p || !ret_digest || !ret_size)
                return -EINVAL;
        *ret_digest = p->tbs;
        *ret_size = p->tbs_size;
        return 0;
}

int sign_pending_tbs_data(const SignPending *p, const uint8_t **ret_data, size_t *ret_size) {
        if (!p || !ret_data || !ret_size)
                return -EINVAL;
        *ret_data = p->tbs_data;
        *ret_size = p->tbs_data_size;
        return 0;
}

int sign_pending_set_signature(SignPending *p, const uint8_t *sig, size_t size, SignError *e) {
        if (!p)
                return sign_error(e, -EINVAL, "no pending signature");
        if (p->signature || p->finished)
                return sign_error(e, -EALREADY, "the signature was already set");
        if (!sig || size == 0)
                return sign_error(e, -EKEYREJECTED, "the token returned no signature");
        return p->vtable->set_signature(p, sig, size, e);
}

bool sign_pending_has_signature(const SignPending *p) {
        return p && p->signature;
}

int sign_pending_timestamp_data(const SignPending *p, const uint8_t **ret_data, size_t *ret_size) {
        if (!p || !p->signature || !ret_data || !ret_size)
                return -EINVAL;
        *ret_data = p->signature;
        *ret_size = p->signature_size;
        return 0;
}

int sign_pending_finish(
        SignPending *p, const uint8_t *token, size_t token_size, uint8_t **ret, size_t *ret_size,
        SignError *e) {
        int r;

        if (!p || !ret || !ret_size || (token && token_size == 0))
                return sign_error(e, -EINVAL, "missing arguments");
        if (p->finished)
                return sign_error(e, -EALREADY, "the signature was already finished");
        if (!p->signature)
                return sign_error(e, -EINVAL, "the token's signature was not set");
        r = p->vtable->finish(p, token, token_size, ret, ret_size, e);
        if (r >= 0)
                p->finished = true;
        return r;
}

SignPending *sign_pending_free(SignPending *p) {
        if (p)
                p->vtable->free(p);
        return NULL;
}
