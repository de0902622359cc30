/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stub: the contract is in pades-sign.h; the implementation follows. */
#include <errno.h>

#include "pades-sign.h"

int pades_prepare(
        const SignParams *p, const PadesOptions *o, const PdfDocument *doc, SignPending **ret,
        SignError *e) {
        return sign_error(e, -EOPNOTSUPP, "PDF signing is not implemented yet");
}

bool sign_pending_is_pades(const SignPending *p) {
        return false;
}

int pades_pending_layout(const SignPending *p, PadesLayout *ret) {
        return -EOPNOTSUPP;
}

int pades_append_dss(
        SignPending *finished, const PadesDss *dss, uint8_t **ret, size_t *ret_size, SignError *e) {
        return sign_error(e, -EOPNOTSUPP, "PDF signing is not implemented yet");
}
