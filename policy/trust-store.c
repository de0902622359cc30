/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The trust store of a policy: [trust] root and intermediate certificates, read from PEM or DER files or
 * from folders of them, each file and folder under the same owner check as the policy itself. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "cert-validate.h"
#include "fileio.h"
#include "i18n.h"
#include "openssl-util.h"
#include "policy-internal.h"
#include "trust-store.h"

#define CERT_FILE_MAX_SIZE (4 * 1024 * 1024)

const char *const trust_store_suffixes[] = { ".pem", ".crt", ".cer", ".der", NULL };

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
                r = policy_list_folder(path, trust_store_suffixes, &files);
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
                                /* Not X509_NAME_oneline(): it escapes every byte of a Vietnamese name. */
                                _cleanup_free_ char *subj = cert_display_name(x);
                                r = policy_add_error(
                                        errors, cfile, line,
                                        _("%s: certificate %s is not a CA certificate and cannot be a "
                                          "trusted root"),
                                        path, strna(subj));
                                if (r < 0)
                                        return r;
                        }
                }
        return 0;
}

/* ---- the administrator's view and changes (kysoctl trust) ---- */

DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_TIME *, ASN1_TIME_free);

void trust_entries_free(TrustEntry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++) {
                X509_free(e[i].cert);
                free(e[i].file);
        }
        free(e);
}

static int list_file(const char *file, bool root, PolicyLoadFlags flags, TrustEntry **e, size_t *n) {
        _cleanup_strv_free_ char **ignored = NULL;
        STACK_OF(X509) *certs = sk_X509_new_null();
        size_t n_loaded = 0;
        int r;

        if (!certs)
                return -ENOMEM;
        r = load_certs_from_file(file, certs, file, 0, flags, &ignored, &n_loaded);
        while (r >= 0 && sk_X509_num(certs) > 0) {
                X509 *x = sk_X509_shift(certs);
                TrustEntry *te = ARRAY_APPEND(*e, *n);
                if (!te) {
                        X509_free(x);
                        r = -ENOMEM;
                        break;
                }
                /* Counted even if incomplete: it owns x, and trust_entries_free() copes with a NULL file. */
                *te = (TrustEntry){ .cert = x, .root = root, .file = strdup(file) };
                if (!te->file || cert_fingerprint_sha256(x, te->fingerprint) < 0)
                        r = -ENOMEM;
        }
        sk_X509_pop_free(certs, X509_free);
        return r;
}

static int list_paths(char **paths, bool root, PolicyLoadFlags flags, TrustEntry **e, size_t *n) {
        int r;

        STRV_FOREACH (p, paths) {
                struct stat st;
                if (stat(*p, &st) < 0)
                        continue;
                if (!S_ISDIR(st.st_mode)) {
                        r = list_file(*p, root, flags, e, n);
                        if (r < 0)
                                return r;
                        continue;
                }
                _cleanup_strv_free_ char **files = NULL;
                r = policy_list_folder(*p, trust_store_suffixes, &files);
                if (r == -ENOMEM)
                        return r;
                STRV_FOREACH (f, files) {
                        r = list_file(*f, root, flags, e, n);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int trust_store_list(const Policy *p, PolicyLoadFlags flags, TrustEntry **ret, size_t *ret_n) {
        TrustEntry *e = NULL;
        size_t n = 0;
        int r = list_paths(p->trusted_root_paths, true, flags, &e, &n);
        if (r >= 0)
                r = list_paths(p->intermediate_paths, false, flags, &e, &n);
        if (r < 0) {
                trust_entries_free(e, n);
                return r;
        }
        *ret = e;
        *ret_n = n;
        return 0;
}

static bool stack_has(STACK_OF(X509) * s, const char *fp) {
        for (int i = 0; i < sk_X509_num(s); i++) {
                char f[65];
                if (cert_fingerprint_sha256(sk_X509_value(s, i), f) >= 0 && streq(f, fp))
                        return true;
        }
        return false;
}

int trust_store_check_new(const Policy *p, X509 *x, time_t now, char **ret_problem) {
        char fp[65];
        int r;

        if (cert_fingerprint_sha256(x, fp) < 0)
                return -ENOMEM;
        if (X509_check_ca(x) == 0)
                r = asprintf(ret_problem, _("it is not a CA certificate (no basicConstraints CA:TRUE)"));
        else if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0)
                r = asprintf(ret_problem, _("it has expired"));
        else if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0)
                r = asprintf(ret_problem, _("it is not valid yet"));
        else if (stack_has(p->trusted_roots, fp) || stack_has(p->intermediates, fp))
                r = asprintf(ret_problem, _("the policy trusts it already (fingerprint %s)"), fp);
        else
                return 0;
        return r < 0 ? -ENOMEM : 1;
}

static int first_folder(char **paths, const char **ret) {
        STRV_FOREACH (p, paths) {
                struct stat st;
                if (stat(*p, &st) >= 0 && S_ISDIR(st.st_mode)) {
                        *ret = *p;
                        return 0;
                }
        }
        return -ENOENT;
}

int trust_store_folder(const Policy *p, bool root, const char **ret) {
        return first_folder(root ? p->trusted_root_paths : p->intermediate_paths, ret);
}

/* Writes data to path through a temporary file with the store's owner and mode. */
static int write_store_file(const char *path, const void *data, size_t size) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = atomic_output_open(path, 0644, &tmp);
        int r;

        if (fd < 0)
                return fd;
        r = loop_write(fd, data, size);
        /* The policy accepts only root-owned files that nobody else may write; umask must not decide. */
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r >= 0 && geteuid() == 0 && fchown(fd, 0, 0) < 0)
                r = -errno;
        if (r >= 0)
                r = atomic_output_commit(fd, tmp, path);
        if (r < 0 && tmp)
                (void) unlink(tmp);
        return r;
}

int trust_store_write(const char *folder, X509 *x, char **ret_path) {
        _cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
        _cleanup_free_ char *path = NULL;
        char fp[65], *data;
        long size;
        int r;

        if (!b || cert_fingerprint_sha256(x, fp) < 0 || !PEM_write_bio_X509(b, x))
                return -ENOMEM;
        size = BIO_get_mem_data(b, &data);
        if (size <= 0)
                return -ENOMEM;
        if (asprintf(&path, "%s/kyso-%.16s.pem", folder, fp) < 0)
                return -ENOMEM;
        if (access(path, F_OK) >= 0)
                return -EEXIST;
        r = write_store_file(path, data, (size_t) size);
        if (r < 0)
                return r;
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

int trust_store_restore(const char *file, const char *data, size_t size) {
        return write_store_file(file, data, size);
}

int trust_store_remove_from(
        const char *file, const char *fingerprint, char **ret_old, size_t *ret_old_size) {
        _cleanup_free_ char *data = NULL;
        _cleanup_(BIO_free_allp) BIO *in = NULL, *out = BIO_new(BIO_s_mem());
        size_t size, kept = 0;
        bool found = false;
        int r;

        if (!out)
                return -ENOMEM;
        r = read_full_file(file, CERT_FILE_MAX_SIZE, &data, &size);
        if (r < 0)
                return r;
        in = BIO_new_mem_buf(data, (int) size);
        if (!in)
                return -ENOMEM;
        for (;;) {
                _cleanup_(X509_freep) X509 *x = PEM_read_bio_X509(in, NULL, NULL, NULL);
                char fp[65];
                if (!x)
                        break;
                if (cert_fingerprint_sha256(x, fp) < 0)
                        return -ENOMEM;
                if (streq(fp, fingerprint))
                        found = true;
                else if (PEM_write_bio_X509(out, x))
                        kept++;
                else
                        return -ENOMEM;
        }
        ERR_clear_error();
        if (!found) {
                /* A DER file holds one certificate. */
                const unsigned char *q = (const unsigned char *) data;
                _cleanup_(X509_freep) X509 *x = d2i_X509(NULL, &q, (long) size);
                char fp[65];
                ERR_clear_error();
                if (!x || cert_fingerprint_sha256(x, fp) < 0 || !streq(fp, fingerprint))
                        return -ENOENT;
        }
        if (kept == 0) {
                if (unlink(file) < 0)
                        return -errno;
                r = fsync_directory_of(file);
        } else {
                char *rest;
                long n = BIO_get_mem_data(out, &rest);
                r = n > 0 ? write_store_file(file, rest, (size_t) n) : -ENOMEM;
        }
        if (r < 0)
                return r;
        if (ret_old) {
                *ret_old = TAKE_PTR(data);
                *ret_old_size = size;
        }
        return 0;
}

int cert_time_iso(const ASN1_TIME *t, char ret[static 21]) {
        struct tm tm = {};
        if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
                return -EBADMSG;
        if (strftime(ret, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -EBADMSG;
        return 0;
}

int cert_days_left(X509 *x, time_t now, long *ret) {
        int days = 0, secs = 0;
        _cleanup_(ASN1_TIME_freep) ASN1_TIME *n = ASN1_TIME_set(NULL, now);
        if (!n || ASN1_TIME_diff(&days, &secs, n, X509_get0_notAfter(x)) != 1)
                return -EBADMSG;
        /* Whole days, rounded down: one second after notAfter is day -1. */
        *ret = days - (days <= 0 && secs < 0 ? 1 : 0);
        return 0;
}
