/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "formats/sign-encoding.h"
#include "openssl-util.h"
#include "soft-signer.h"

int pkey_signer_load(const char *key_path, CmsSignatureScheme scheme, PkeySigner *ret) {
        _cleanup_(BIO_free_allp) BIO *b = NULL;
        EVP_PKEY *key;

        if (!key_path || !ret)
                return -EINVAL;
        b = BIO_new_file(key_path, "r");
        if (!b)
                return -ENOENT;
        key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        ERR_clear_error();
        if (!key)
                return -EBADMSG;
        *ret = (PkeySigner){ .key = key, .scheme = scheme };
        return 0;
}

void pkey_signer_done(PkeySigner *s) {
        if (!s)
                return;
        EVP_PKEY_free(s->key);
        s->key = NULL;
}

int pkey_signer_sign(
        const PkeySigner *s, const uint8_t *tbs, size_t tbs_size, int digest_nid, uint8_t **ret_sig,
        size_t *ret_size) {
        const EVP_MD *md = EVP_get_digestbynid(digest_nid);
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        _cleanup_free_ uint8_t *info = NULL, *sig = NULL;
        const uint8_t *in = tbs;
        size_t in_size = tbs_size, sig_size = 0;
        int r;

        if (!s || !s->key || !md)
                return -EINVAL;
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL);
        if (!ctx || EVP_PKEY_sign_init(ctx) <= 0)
                return -ENOMEM;
        switch (s->scheme) {
        case CMS_SIGNATURE_RSA_PKCS1:
                /* What a CKM_RSA_PKCS token gets: the DigestInfo, padded and exponentiated, nothing more. */
                r = digest_info_wrap(digest_nid, tbs, tbs_size, &info, &in_size);
                if (r < 0)
                        return r;
                in = info;
                if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
                        return -EINVAL;
                break;
        case CMS_SIGNATURE_RSA_PSS:
                if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                    EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0 ||
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int) tbs_size) <= 0)
                        return -EINVAL;
                break;
        case CMS_SIGNATURE_ECDSA:
                if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }
        if (EVP_PKEY_sign(ctx, NULL, &sig_size, in, in_size) <= 0)
                return -EINVAL;
        sig = malloc(sig_size);
        if (!sig)
                return -ENOMEM;
        if (EVP_PKEY_sign(ctx, sig, &sig_size, in, in_size) <= 0) {
                ERR_clear_error();
                return -EIO;
        }
        *ret_sig = TAKE_PTR(sig);
        *ret_size = sig_size;
        return 0;
}

int soft_sign_digests(
        const SoftSignParams *p, const ContentDigests *d, const void *existing, size_t existing_size,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, SignError *e) {
        _cleanup_(sign_pending_freep) SignPending *pending = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *token = NULL;
        const uint8_t *tbs, *stamped;
        size_t tbs_size = 0, sig_size = 0, token_size = 0, stamped_size = 0;
        CmsTimestamp ts = {};
        int r;

        if (!p || !p->key)
                return sign_error(e, -EINVAL, "no key");
        CadesInput in = {
                .profile = p->profile,
                .digests = d,
                .existing = existing,
                .existing_size = existing_size,
        };
        r = cades_prepare(&p->sign, &in, &pending, e);
        if (r < 0)
                return r;
        r = sign_pending_tbs(pending, &tbs, &tbs_size);
        if (r >= 0)
                r = pkey_signer_sign(p->key, tbs, tbs_size, p->sign.digest_nid, &sig, &sig_size);
        if (r < 0)
                return sign_error(e, r, "the key did not sign");
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

int soft_sign_digest(
        const SoftSignParams *p, const uint8_t *digest, size_t digest_size, uint8_t **ret_der,
        size_t *ret_size, CmsTimestamp *ret_timestamp, SignError *e) {
        ContentDigests d = { .n = 1, .finished = true };

        /* A digest the caller made up (tests of refusals): no content to hash it from. */
        if (!p || !digest || digest_size > sizeof d.d[0].value)
                return sign_error(e, -EINVAL, "missing arguments");
        d.d[0].nid = p->sign.digest_nid;
        memcpy(d.d[0].value, digest, digest_size);
        d.d[0].size = (unsigned) digest_size;
        return soft_sign_digests(p, &d, NULL, 0, ret_der, ret_size, ret_timestamp, e);
}

int soft_sign_fd(
        const SoftSignParams *p, int content_fd, const void *existing, size_t existing_size,
        uint8_t **ret_der, size_t *ret_size, CmsTimestamp *ret_timestamp, SignError *e) {
        _cleanup_(content_digests_done) ContentDigests d = {};
        int r;

        if (!p || content_fd < 0)
                return sign_error(e, -EBADF, "no document");
        r = content_digests_add(&d, p->sign.digest_nid);
        if (r < 0)
                return sign_error(e, -EINVAL, "unsupported digest");
        if (existing) {
                r = cades_existing_digests(existing, existing_size, &d);
                if (r < 0)
                        return sign_error(e, r, "the existing signature is not a detached CMS SignedData");
        }
        r = content_digests_read(&d, content_read_fd, &content_fd);
        if (r < 0)
                return sign_error(e, r, "cannot read the document: %s", strerror(-r));
        return soft_sign_digests(p, &d, existing, existing_size, ret_der, ret_size, ret_timestamp, e);
}
