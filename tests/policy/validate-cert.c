/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper: validates one certificate under a policy and prints the verdict as KEY=VALUE lines, for the
 * shell tests that run OCSP and CRL servers. Not installed. */
#include <openssl/pem.h>
#include <stdio.h>

#include "i18n.h"
#include "openssl-util.h"
#include "policy/cert-validate.h"

static X509 *read_cert(const char *path) {
        X509 *x = NULL;
        (void) x509_read_pem_file(path, &x);
        return x;
}

int main(int argc, char **argv) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *untrusted = sk_X509_new_null();
        CertValidateFlags flags = CERT_VALIDATE_DOCUMENT_SIGNING;
        time_t at = 0;

        i18n_setup();
        if (argc < 3) {
                fprintf(stderr, "usage: validate-cert POLICY CERT [--untrusted PEM] [--at EPOCH] [--tsa]\n");
                return 2;
        }
        for (int i = 3; i < argc; i++) {
                if (streq(argv[i], "--untrusted") && i + 1 < argc) {
                        X509 *x = read_cert(argv[++i]);
                        if (!x || !sk_X509_push(untrusted, x))
                                return 3;
                } else if (streq(argv[i], "--at") && i + 1 < argc)
                        at = (time_t) strtoll(argv[++i], NULL, 10);
                else if (streq(argv[i], "--tsa"))
                        flags = CERT_VALIDATE_TIMESTAMPING;
                else
                        return 2;
        }
        int r = policy_load(argv[1], POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, &p, &errors);
        if (r < 0) {
                STRV_FOREACH (e, errors)
                        fprintf(stderr, "%s\n", *e);
                return 3;
        }
        cert = read_cert(argv[2]);
        if (!cert)
                return 3;
        CertValidation v;
        r = cert_validate(p, cert, untrusted, at, flags, &v);
        if (r < 0) {
                fprintf(stderr, "cert_validate: %s\n", strerror(-r));
                return 3;
        }
        const char *rule = NULL;
        printf("api_status=%s\n", cert_status_to_api_string(v.status));
        printf("status=%s\nusable=%s\nsource=%s\nurl=%s\ndays=%d\nrevoked_later=%s\nkind=%s\nreason=%s\n",
               cert_status_to_string(v.status), cert_status_is_usable(v.status) ? "yes" : "no",
               revocation_source_to_string(v.revocation_source), strempty(v.revocation_url), v.days_left,
               v.revoked_later ? "yes" : "no",
               cert_kind_to_string(policy_classify_certificate(p, cert, &rule)), strempty(v.reason));
        cert_validation_done(&v);
        return 0;
}
