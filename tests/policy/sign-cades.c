/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper: signs a file with formats/' CAdES signer and the test-only software key (soft-signer.h),
 * optionally with a claimed signing time and an RFC 3161 time-stamp (B-T), so tests can make signatures
 * `openssl cms` cannot. Not installed.
 */
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>

#include "fileio.h"
#include "openssl-util.h"
#include "soft-signer.h"

static X509 *read_cert(const char *path) {
        X509 *x = NULL;
        (void) x509_read_pem_file(path, &x);
        return x;
}

int main(int argc, char **argv) {
        if (argc < 6) {
                fprintf(stderr,
                        "usage: sign-cades CERT KEY CHAIN_CERT CONTENT OUT [--tsa URL] [--time EPOCH] [--pss]\n");
                return 2;
        }
        const char *tsa_url = NULL;
        time_t when = 0;
        CmsSignatureScheme scheme = _CMS_SIGNATURE_SCHEME_INVALID;
        for (int i = 6; i < argc; i++) {
                if (streq(argv[i], "--tsa") && i + 1 < argc)
                        tsa_url = argv[++i];
                else if (streq(argv[i], "--time") && i + 1 < argc)
                        when = (time_t) strtoll(argv[++i], NULL, 10);
                else if (streq(argv[i], "--pss"))
                        scheme = CMS_SIGNATURE_RSA_PSS;
                else
                        return 2;
        }
        _cleanup_(X509_freep) X509 *cert = read_cert(argv[1]), *ca = read_cert(argv[3]);
        if (!cert || !ca)
                return 3;
        if (scheme < 0)
                scheme = EVP_PKEY_get_base_id(X509_get0_pubkey(cert)) == EVP_PKEY_EC
                                 ? CMS_SIGNATURE_ECDSA
                                 : CMS_SIGNATURE_RSA_PKCS1;
        PkeySigner signer;
        if (pkey_signer_load(argv[2], scheme, &signer) < 0)
                return 3;
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *chain = sk_X509_new_null();
        if (!chain || !sk_X509_push(chain, ca))
                return 3;
        ca = NULL;
        TsaOptions tsa = { .url = tsa_url, .timeout_sec = 10 };
        SoftSignParams params = {
                .sign = {
                        .cert = cert,
                        .chain = chain,
                        .digest_nid = NID_sha256,
                        .scheme = scheme,
                        .signing_time = when,
                },
                .profile = CADES_PROFILE_BASELINE_B,
                .key = &signer,
                .tsa = tsa_url ? &tsa : NULL,
        };
        _cleanup_close_ int fd = open(argv[4], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 3;
        uint8_t *der = NULL;
        size_t size = 0;
        SignError err = {};
        int r = soft_sign_fd(&params, fd, NULL, 0, &der, &size, NULL, &err);
        pkey_signer_done(&signer);
        if (r < 0) {
                fprintf(stderr, "sign-cades: %s (%s)\n", strerror(-r), strna(err.message));
                sign_error_done(&err);
                return 1;
        }
        r = write_file_atomic(argv[5], der, size, 0644);
        free(der);
        return r < 0 ? 3 : 0;
}
