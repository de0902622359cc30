/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The peer of the signing benchmark as issue 5 defines it: raw RSA signatures per second through libp11
 * alone (no agent, no helper, no CMS, no audit): bench-sign-libp11 MODULE TOKEN_LABEL PIN KEY_LABEL SECONDS.
 * The key is libp11's EVP_PKEY (PKCS11_get_private_key); each signature is EVP_PKEY_sign over a SHA-256
 * digest with PKCS#1 v1.5 padding, which libp11 hands to the token as CKM_RSA_PKCS over the DigestInfo, as
 * kyso-p11-helper does. Prints "raw_per_sec N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libp11.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#define RSA_SIGNATURE_SIZE 256 /* RSA-2048 */

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static PKCS11_SLOT *find_slot(PKCS11_CTX *ctx, PKCS11_SLOT *slots, unsigned n, const char *label) {
        for (PKCS11_SLOT *s = PKCS11_find_token(ctx, slots, n); s;
             s = PKCS11_find_next_token(ctx, slots, n, s))
                if (s->token && s->token->label && strcmp(s->token->label, label) == 0)
                        return s;
        return NULL;
}

/* One PKCS#1 v1.5 signature of a SHA-256 digest, with a context per signature as a caller signing one
 * document at a time would; sig gets RSA_SIGNATURE_SIZE bytes. */
static int sign_one(EVP_PKEY *pkey, const unsigned char digest[32], unsigned char *sig) {
        EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(pkey, NULL);
        size_t len = RSA_SIGNATURE_SIZE;
        int ok = pctx && EVP_PKEY_sign_init(pctx) > 0 &&
                 EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
                 EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) > 0 &&
                 EVP_PKEY_sign(pctx, sig, &len, digest, 32) > 0 && len == RSA_SIGNATURE_SIZE;
        EVP_PKEY_CTX_free(pctx);
        return ok ? 0 : -1;
}

static int verify_one(EVP_PKEY *pkey, const unsigned char digest[32], const unsigned char *sig) {
        EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(pkey, NULL);
        int ok = pctx && EVP_PKEY_verify_init(pctx) > 0 &&
                 EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
                 EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) > 0 &&
                 EVP_PKEY_verify(pctx, sig, RSA_SIGNATURE_SIZE, digest, 32) == 1;
        EVP_PKEY_CTX_free(pctx);
        return ok ? 0 : -1;
}

int main(int argc, char **argv) {
        PKCS11_CTX *ctx;
        PKCS11_SLOT *slots = NULL, *slot;
        PKCS11_KEY *keys = NULL, *key = NULL;
        unsigned n_slots = 0, n_keys = 0;
        EVP_PKEY *pkey;
        unsigned char digest[32] = { 0 }, sig[RSA_SIGNATURE_SIZE];
        unsigned long count = 0;
        double start, seconds;

        if (argc != 6)
                return 2;
        seconds = atof(argv[5]);
        ctx = PKCS11_CTX_new();
        if (!ctx || PKCS11_CTX_load(ctx, argv[1]) < 0 || PKCS11_enumerate_slots(ctx, &slots, &n_slots) < 0)
                return 3;
        slot = find_slot(ctx, slots, n_slots, argv[2]);
        if (!slot || PKCS11_open_session(slot, 0) < 0 || PKCS11_login(slot, 0, argv[3]) < 0)
                return 4;
        if (PKCS11_enumerate_keys(slot->token, &keys, &n_keys) < 0)
                return 5;
        for (unsigned i = 0; i < n_keys && !key; i++)
                if (keys[i].label && strcmp(keys[i].label, argv[4]) == 0)
                        key = &keys[i];
        pkey = key ? PKCS11_get_private_key(key) : NULL;
        if (!pkey)
                return 5;
        /* The peer must make real signatures: check one with the key's public half. */
        if (sign_one(pkey, digest, sig) < 0 || verify_one(pkey, digest, sig) < 0)
                return 6;
        start = now();
        while (now() - start < seconds) {
                digest[0] = (unsigned char) count;
                if (sign_one(pkey, digest, sig) < 0)
                        return 6;
                count++;
        }
        printf("raw_per_sec %.1f\n", (double) count / (now() - start));
        EVP_PKEY_free(pkey);
        PKCS11_logout(slot);
        PKCS11_release_all_slots(ctx, slots, n_slots);
        PKCS11_CTX_unload(ctx);
        PKCS11_CTX_free(ctx);
        return 0;
}
