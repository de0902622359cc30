/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The trust store of a policy: [trust] root and intermediate certificates, read from PEM or DER files or
 * from folders of them, each file and folder under the same owner check as the policy itself. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "fileio.h"
#include "i18n.h"
#include "openssl-util.h"
#include "policy-internal.h"

#define CERT_FILE_MAX_SIZE (4 * 1024 * 1024)

static int load_certs_from_file(
        const char *path, STACK_OF(X509) * out, const char *cfile, unsigned line, PolicyLoadFlags flags,
        char ***errors, size_t *n_loaded) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, CERT_FILE_MAX_SIZE, &data, &size);
        if (r < 0)
                return policy_add_error(
                        errors, cfile, line, _("cannot read certificate file %s: %s"), path, strerror(-r));
        r = policy_check_owner_path(path, flags, errors);
        if (r != 0)
                return r < 0 ? r : 0;

        size_t n = 0;
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(data, (int) size);
        if (!bio)
                return -ENOMEM;
        for (;;) {
                X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                if (!x)
                        break;
                if (sk_X509_push(out, x) <= 0) {
                        X509_free(x);
                        return -ENOMEM;
                }
                n++;
        }
        ERR_clear_error();
        if (n == 0) {
                const unsigned char *q = (const unsigned char *) data;
                X509 *x = d2i_X509(NULL, &q, (long) size);
                ERR_clear_error();
                if (x) {
                        if (sk_X509_push(out, x) <= 0) {
                                X509_free(x);
                                return -ENOMEM;
                        }
                        n++;
                }
        }
        if (n == 0)
                return policy_add_error(
                        errors, cfile, line, _("%s holds no certificate (PEM or DER expected)"), path);
        *n_loaded += n;
        return 0;
}

int trust_store_load_path(
        const char *path, STACK_OF(X509) * out, bool need_ca, const char *cfile, unsigned line,
        PolicyLoadFlags flags, char ***errors) {
        static const char *const suffixes[] = { ".pem", ".crt", ".cer", ".der", NULL };
        struct stat st;
        size_t n = 0, first = (size_t) sk_X509_num(out);
        int r;

        if (path[0] != '/')
                return policy_add_error(errors, cfile, line, _("'%s' is not an absolute path"), path);
        if (stat(path, &st) < 0)
                return policy_add_error(errors, cfile, line, _("cannot read %s: %s"), path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
                _cleanup_strv_free_ char **files = NULL;
                r = policy_check_owner_path(path, flags, errors);
                if (r != 0)
                        return r < 0 ? r : 0;
                r = policy_list_folder(path, suffixes, &files);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return policy_add_error(
                                errors, cfile, line, _("cannot read folder %s: %s"), path, strerror(-r));
                STRV_FOREACH (f, files) {
                        r = load_certs_from_file(*f, out, cfile, line, flags, errors, &n);
                        if (r < 0)
                                return r;
                }
                if (n == 0 && !files)
                        return policy_add_error(
                                errors, cfile, line,
                                _("folder %s holds no certificate file (*.pem, *.crt, *.cer, *.der)"), path);
        } else {
                r = load_certs_from_file(path, out, cfile, line, flags, errors, &n);
                if (r < 0)
                        return r;
        }
        if (need_ca)
                for (int i = (int) first; i < sk_X509_num(out); i++) {
                        X509 *x = sk_X509_value(out, i);
                        if (X509_check_ca(x) == 0) {
                                char *subj = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
                                r = policy_add_error(
                                        errors, cfile, line,
                                        _("%s: certificate %s is not a CA certificate and cannot be a "
                                          "trusted root"),
                                        path, strna(subj));
                                OPENSSL_free(subj);
                                if (r < 0)
                                        return r;
                        }
                }
        return 0;
}
