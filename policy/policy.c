/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Policy object, and loading it: the file, its drop-ins in policy.d, the owner checks, the checks that
 * need every file, the policy's identity. The grammar is in policy-keys.c. */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "fileio.h"
#include "i18n.h"
#include "log.h"
#include "openssl-util.h"
#include "policy-internal.h"
#include "string-table.h"
#include "utf8.h"

#define POLICY_MAX_FILE_SIZE (1024 * 1024)

static const char *const dropin_suffixes[] = { ".conf", NULL };

static const char *const cert_kind_table[_CERT_KIND_MAX] = {
        [CERT_KIND_PERSONAL] = "personal",
        [CERT_KIND_ORGANIZATION] = "organization",
        [CERT_KIND_DEVICE] = "device",
        [CERT_KIND_UNKNOWN] = "unknown",
};

static const char *const revocation_mode_table[_REVOCATION_MODE_MAX] = {
        [REVOCATION_OCSP_THEN_CRL] = "ocsp-then-crl",
        [REVOCATION_CRL] = "crl",
        [REVOCATION_OCSP] = "ocsp",
        [REVOCATION_OFF] = "off",
};

static const char *const rsa_padding_table[_RSA_PADDING_MAX] = {
        [RSA_PADDING_PKCS1] = "pkcs1",
        [RSA_PADDING_PSS] = "pss",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(cert_kind, CertKind);
DEFINE_STRING_TABLE_LOOKUP(revocation_mode, RevocationMode);
DEFINE_STRING_TABLE_LOOKUP(rsa_padding, RsaPadding);

static const char *const signature_level_table[_SIGNATURE_LEVEL_MAX] = {
        [SIGNATURE_LEVEL_B_B] = "B-B",
        [SIGNATURE_LEVEL_B_T] = "B-T",
        [SIGNATURE_LEVEL_B_LT] = "B-LT",
};
DEFINE_STRING_TABLE_LOOKUP(signature_level, SignatureLevel);

CertKind cert_kind_from_string(const char *s) {
        if (streq_ptr(s, "organisation")) /* the British spelling, as administrators write it too */
                return CERT_KIND_ORGANIZATION;
        return (CertKind) string_table_lookup(cert_kind_table, ELEMENTSOF(cert_kind_table), s);
}

static void name_matches_free(NameMatch *arr, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(arr[i].glob);
        free(arr);
}

static void cert_match_done(CertMatch *m) {
        name_matches_free(m->issuer, m->n_issuer);
        name_matches_free(m->subject, m->n_subject);
        name_matches_free(m->not_issuer, m->n_not_issuer);
        name_matches_free(m->not_subject, m->n_not_subject);
        strv_free(m->policy_oids);
        strv_free(m->ekus);
        strv_free(m->fingerprints);
        strv_free(m->organizations);
}

bool cert_match_empty(const CertMatch *m) {
        return m->n_issuer == 0 && m->n_subject == 0 && !m->policy_oids && !m->ekus && !m->fingerprints &&
               !m->organizations;
}

Policy *policy_ref(Policy *p) {
        if (p)
                __atomic_add_fetch(&p->n_ref, 1, __ATOMIC_RELAXED);
        return p;
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        if (__atomic_sub_fetch(&p->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        strv_free(p->files);
        strv_free(p->file_sha256);
        strv_free(p->trusted_root_paths);
        sk_X509_pop_free(p->trusted_roots, X509_free);
        strv_free(p->intermediate_paths);
        sk_X509_pop_free(p->intermediates, X509_free);
        free(p->cache_dir);
        free(p->proxy);
        free(p->revocation_mode_origin);
        free(p->allow_insecure_origin);
        for (size_t i = 0; i < p->n_rewrites; i++) {
                free(p->rewrites[i].from);
                free(p->rewrites[i].to);
        }
        free(p->rewrites);
        strv_free(p->ec_curves);
        strv_free(p->hashes);
        free(p->tsa_url);
        strv_free(p->classification_words);
        free(p->report_organization);
        free(p->report_place);
        free(p->report_signer_title);
        strv_free(p->report_addressees);
        for (size_t i = 0; i < p->n_kind_rules; i++) {
                free(p->kind_rules[i].name);
                free(p->kind_rules[i].file);
                cert_match_done(&p->kind_rules[i].match);
        }
        free(p->kind_rules);
        for (size_t i = 0; i < p->n_seal_rules; i++) {
                free(p->seal_rules[i].name);
                free(p->seal_rules[i].file);
                cert_match_done(&p->seal_rules[i].seal);
                cert_match_done(&p->seal_rules[i].leader);
        }
        free(p->seal_rules);
        free(p);
        return NULL;
}

Policy *policy_new_defaults(void) {
        _cleanup_(policy_freep) Policy *p = calloc(1, sizeof(Policy));
        if (!p)
                return NULL;
        static const char *const curves[] = { "P-256", "P-384", "P-521" };
        static const char *const hashes[] = { "sha256", "sha384", "sha512" };

        p->n_ref = 1;
        p->trusted_roots = sk_X509_new_null();
        p->intermediates = sk_X509_new_null();
        p->revocation_mode = REVOCATION_OCSP_THEN_CRL;
        p->ocsp_require_nonce = true;
        p->ocsp_timeout_sec = 10;
        p->crl_timeout_sec = 10;
        p->ocsp_max_age_sec = 7 * 24 * 3600;
        p->crl_cache_max_age_sec = 3600;
        p->min_rsa_bits = 2048;
        p->ec_curves = strv_from_array(curves, ELEMENTSOF(curves));
        p->hashes = strv_from_array(hashes, ELEMENTSOF(hashes));
        p->rsa_padding = RSA_PADDING_PKCS1;
        p->expiry_warning_days = 60;
        p->tsa_timeout_sec = 10;
        p->clock_skew_sec = 5 * 60;
        p->classification_words = classification_default_words();
        if (!p->trusted_roots || !p->intermediates || !p->ec_curves || !p->hashes ||
            !p->classification_words)
                return NULL;
        return TAKE_PTR(p);
}

/* ---- error collection ---- */

int policy_add_error(char ***errors, const char *file, unsigned line, const char *format, ...) {
        _cleanup_free_ char *msg = NULL, *full = NULL;
        va_list ap;

        va_start(ap, format);
        int r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (line > 0)
                r = asprintf(&full, "%s:%u: %s", file, line, msg);
        else
                r = asprintf(&full, "%s: %s", file, msg);
        if (r < 0)
                return -ENOMEM;
        if (!errors)
                return 0;
        /* A value from a file in another encoding is shown escaped: the journal keeps invalid UTF-8 only
         * as "[blob data]". */
        if (utf8_make_valid(&full) < 0)
                return -ENOMEM;
        r = strv_push(errors, full);
        if (r < 0)
                return r;
        full = NULL;
        return 0;
}

/* ---- file ownership: the person at the desk must not be able to loosen the policy ---- */

/* Makes the problem an owner check found (if any) an error (1), or when the check is skipped, a warning (0):
 * a skipped check must not pass silently, since the same file makes kysod refuse to start. */
static int owner_verdict(char **problem, PolicyLoadFlags flags, char ***errors) {
        if (!problem)
                return 0;
        if (flags & POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK) {
                log_warning(
                        _("%s; accepted only because the owner check is skipped "
                          "(--insecure-skip-owner-check or KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1), which kysod "
                          "never does"),
                        problem[0]);
                return 0;
        }
        if (errors) {
                int r = strv_extend(errors, problem[0]);
                if (r < 0)
                        return r;
        }
        return 1;
}

bool policy_owner_acceptable(const struct stat *st) {
        return st->st_uid == 0 && !(st->st_mode & S_IWOTH) && !((st->st_mode & S_IWGRP) && st->st_gid != 0);
}

int policy_check_owner_fd(int fd, const char *path, PolicyLoadFlags flags, char ***errors) {
        _cleanup_strv_free_ char **problem = NULL;
        struct stat st;
        int r = 0;

        if (fstat(fd, &st) < 0)
                r = policy_add_error(&problem, path, 0, _("cannot check its owner: %s"), strerror(errno));
        else if (st.st_uid != 0)
                r = policy_add_error(
                        &problem, path, 0,
                        _("not owned by root: only root-owned files are accepted, so that the policy "
                          "cannot be changed from a user account (chown root:root it)"));
        else if (!policy_owner_acceptable(&st))
                r = policy_add_error(
                        &problem, path, 0, _("writable by users other than root: run chmod go-w on it"));
        if (r < 0)
                return r;
        return owner_verdict(problem, flags, errors);
}

int policy_check_owner_path(const char *path, PolicyLoadFlags flags, char ***errors) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_PATH);
        if (fd < 0) {
                _cleanup_strv_free_ char **problem = NULL;
                int r = policy_add_error(&problem, path, 0, _("cannot open: %s"), strerror(errno));
                return r < 0 ? r : owner_verdict(problem, flags, errors);
        }
        return policy_check_owner_fd(fd, path, flags, errors);
}

/* ---- folders: policy.d, and folders of certificates ---- */

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int policy_list_folder(const char *dir, const char *const *suffixes, char ***ret) {
        DIR *d = opendir(dir);
        if (!d)
                return negative_errno();
        _cleanup_strv_free_ char **l = NULL;
        struct dirent *de;
        int r = 0;
        size_t n = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                bool ok = false;
                size_t len = strlen(de->d_name);
                for (const char *const *s = suffixes; *s; s++) {
                        size_t sl = strlen(*s);
                        if (len > sl && streq(de->d_name + len - sl, *s))
                                ok = true;
                }
                if (!ok)
                        continue;
                if (++n > POLICY_MAX_DROPINS) {
                        r = -E2BIG;
                        break;
                }
                char *p;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = strv_push(&l, p);
                if (r < 0) {
                        free(p);
                        break;
                }
        }
        closedir(d);
        if (r < 0)
                return r;
        if (l)
                qsort(l, strv_length(l), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(l);
        return 0;
}

int policy_finish(Policy *p, char ***errors) {
        const char *main = p->files && p->files[0] ? p->files[0] : "policy";
        int r;

#define FIN(file, line, ...)                                           \
        do {                                                           \
                r = policy_add_error(errors, file, line, __VA_ARGS__); \
                if (r < 0)                                             \
                        return r;                                      \
        } while (0)

        r = policy_test_switches_finish(p, main, errors);
        if (r < 0)
                return r;
        if (sk_X509_num(p->trusted_roots) == 0)
                FIN(main, 0, "%s",
                    _("no trusted root: add [trust] root = /path/to/root.pem (the Government CA roots)"));

        for (size_t i = 0; i < p->n_kind_rules; i++) {
                KindRule *k = &p->kind_rules[i];
                if (k->kind < 0)
                        FIN(k->file, k->line,
                            _("[kind %s] has no 'kind =' (personal, organization or device)"), k->name);
                if (cert_match_empty(&k->match))
                        FIN(k->file, k->line,
                            _("[kind %s] has no criterion (issuer, subject, policy-oid, eku or fingerprint; "
                              "not-issuer and not-subject only narrow those); it would match every certificate"),
                            k->name);
                for (size_t j = 0; j < i; j++) {
                        KindRule *o = &p->kind_rules[j];
                        if (o->kind == k->kind)
                                continue;
                        STRV_FOREACH (f, k->match.fingerprints)
                                if (strv_contains(o->match.fingerprints, *f))
                                        FIN(k->file, k->line,
                                            _("[kind %s] and [kind %s] give the same fingerprint %s different "
                                              "kinds"),
                                            k->name, o->name, *f);
                }
        }
        for (size_t i = 0; i < p->n_seal_rules; i++) {
                SealRule *s = &p->seal_rules[i];
                if (cert_match_empty(&s->seal))
                        FIN(s->file, s->line,
                            _("[seal %s] says nothing about the seal certificate (seal-organization, "
                              "seal-subject, seal-fingerprint, ...)"),
                            s->name);
                if (cert_match_empty(&s->leader))
                        FIN(s->file, s->line,
                            _("[seal %s] says nothing about the leaders (leader-organization, leader-subject, "
                              "leader-fingerprint, ...); it would accept anyone's signature"),
                            s->name);
        }
        if (p->signature_level >= SIGNATURE_LEVEL_B_T && !p->tsa_url)
                FIN(main, 0, _("[signature] level = %s needs a time-stamp server: set [timestamp] url"),
                    signature_level_to_string(p->signature_level));
#undef FIN
        return 0;
}

/* Appends "SHA256  NAME\n" (sha256sum's format) to *text. */
static int digest_line(char **text, const char *sha256, const char *name) {
        char *n;
        if (asprintf(&n, "%s%s  %s\n", strempty(*text), sha256, name) < 0)
                return -ENOMEM;
        free(*text);
        *text = n;
        return 0;
}

/* The policy's identity: "SHA256  PATH\n" per file (sha256sum's format), then one line per trusted root and
 * intermediate certificate, hashed. The certificates count because a root added to or removed from a
 * folder the policy names (kysoctl trust) changes what it trusts without changing any file it lists: the
 * agent compares digests to see a policy change without a restart. */
static int policy_digest(Policy *p) {
        _cleanup_free_ char *text = NULL;
        STACK_OF(X509) * stacks[] = { p->trusted_roots, p->intermediates };
        char fp[65];
        int r;

        for (size_t i = 0; p->files && p->files[i]; i++) {
                r = digest_line(&text, p->file_sha256[i], p->files[i]);
                if (r < 0)
                        return r;
        }
        for (size_t s = 0; s < ELEMENTSOF(stacks); s++)
                for (int i = 0; stacks[s] && i < sk_X509_num(stacks[s]); i++) {
                        r = cert_fingerprint_sha256(sk_X509_value(stacks[s], i), fp);
                        if (r >= 0)
                                r = digest_line(&text, fp, s == 0 ? "root" : "intermediate");
                        if (r < 0)
                                return r;
                }
        return sha256_hex(strempty(text), text ? strlen(text) : 0, p->digest);
}

static int parse_file(Policy *p, const char *path, PolicyLoadFlags flags, char ***errors) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return policy_add_error(errors, path, 0, _("cannot open: %s"), strerror(errno));
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;
        r = policy_check_owner_fd(fd, path, flags, errors);
        if (r != 0)
                return r < 0 ? r : 0;
        r = read_full_fd(fd, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r < 0)
                return policy_add_error(errors, path, 0, _("cannot read: %s"), strerror(-r));
        char hex[65];
        r = sha256_hex(data, size, hex);
        if (r < 0)
                return r;
        r = strv_extend(&p->files, path);
        if (r >= 0)
                r = strv_extend(&p->file_sha256, hex);
        if (r < 0)
                return r;
        r = policy_parse_buffer(p, path, data, size, flags, errors);
        return r < 0 ? r : 0;
}

int policy_load(const char *path, PolicyLoadFlags flags, Policy **ret, char ***ret_errors) {
        _cleanup_(policy_freep) Policy *p = policy_new_defaults();
        _cleanup_strv_free_ char **errors = NULL, **dropins = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        if (!path)
                path = POLICY_SYSTEM_PATH;

        if (access(path, F_OK) < 0 && errno == ENOENT) {
                r = policy_add_error(
                        &errors, path, 0, "%s",
                        _("no policy file here; the administrator installs one (see kyso-policy.conf(5) and "
                          "its example)"));
                if (r < 0)
                        return r;
                if (ret_errors)
                        *ret_errors = TAKE_PTR(errors);
                return -EINVAL;
        }

        /* The folder holding the file, and its policy.d, must not be writable by users either. */
        r = path_directory(path, &dir);
        if (r < 0)
                return r;
        r = policy_check_owner_path(dir, flags, &errors);
        if (r < 0)
                return r;

        r = parse_file(p, path, flags, &errors);
        if (r < 0)
                return r;

        _cleanup_free_ char *ddir = NULL;
        if (asprintf(&ddir, "%s/policy.d", dir) < 0)
                return -ENOMEM;
        r = policy_list_folder(ddir, dropin_suffixes, &dropins);
        if (r == -ENOMEM)
                return r;
        if (r == -ENOENT)
                r = 0; /* no drop-ins */
        else if (r < 0)
                r = policy_add_error(
                        &errors, ddir, 0, _("cannot read the drop-in folder: %s"), strerror(-r));
        else
                r = policy_check_owner_path(ddir, flags, &errors);
        if (r < 0)
                return r;
        STRV_FOREACH (d, dropins) {
                r = parse_file(p, *d, flags, &errors);
                if (r < 0)
                        return r;
        }

        /* A main file refused unread has its one problem said already: the checks of the whole policy ("no
         * trusted root") would only send the administrator after what is there. */
        if (p->files && streq(p->files[0], path)) {
                r = policy_finish(p, &errors);
                if (r < 0)
                        return r;
        }
        r = policy_digest(p);
        if (r < 0)
                return r;
        p->system_default =
                !(flags & POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK) && streq(path, POLICY_SYSTEM_PATH);

        if (errors) {
                if (ret_errors)
                        *ret_errors = TAKE_PTR(errors);
                return -EINVAL;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

void policy_sources_free(PolicySource *s, size_t n) {
        for (size_t i = 0; s && i < n; i++)
                free(s[i].path);
        free(s);
}

static int add_source(
        PolicySource **s, size_t *n, PolicySourceKind kind, const char *path, const char *const *suffixes) {
        /* Copied before the append, so that a failure adds nothing. */
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        PolicySource *e = ARRAY_APPEND(*s, *n);
        if (!e)
                return -ENOMEM;
        *e = (PolicySource){ .kind = kind, .path = TAKE_PTR(copy), .suffixes = suffixes };
        return 0;
}

/* Mirrors policy_load() and trust_store_load_path(): what one reads, the other lists. */
int policy_sources(const Policy *p, const char *path, PolicySource **ret, size_t *ret_n) {
        PolicySource *s = NULL;
        size_t n = 0;
        _cleanup_free_ char *dir = NULL, *ddir = NULL;
        char **trust[] = { p->trusted_root_paths, p->intermediate_paths };
        int r;

        if (!path)
                path = POLICY_SYSTEM_PATH;
        r = path_directory(path, &dir);
        if (r < 0)
                return r;
        if (asprintf(&ddir, "%s/policy.d", dir) < 0)
                return -ENOMEM;
        r = add_source(&s, &n, POLICY_SOURCE_OWNER, dir, NULL);
        if (r >= 0)
                r = add_source(&s, &n, POLICY_SOURCE_FILE, path, NULL);
        if (r >= 0)
                r = add_source(&s, &n, POLICY_SOURCE_FOLDER, ddir, dropin_suffixes);
        for (size_t i = 1; r >= 0 && p->files && i < strv_length(p->files); i++)
                r = add_source(&s, &n, POLICY_SOURCE_FILE, p->files[i], NULL);
        for (size_t t = 0; r >= 0 && t < ELEMENTSOF(trust); t++)
                STRV_FOREACH (tp, trust[t]) {
                        _cleanup_strv_free_ char **files = NULL;
                        struct stat st;

                        if (stat(*tp, &st) < 0 || !S_ISDIR(st.st_mode)) {
                                r = add_source(&s, &n, POLICY_SOURCE_FILE, *tp, NULL);
                                if (r < 0)
                                        break;
                                continue;
                        }
                        r = add_source(&s, &n, POLICY_SOURCE_FOLDER, *tp, trust_store_suffixes);
                        if (r >= 0 && policy_list_folder(*tp, trust_store_suffixes, &files) == -ENOMEM)
                                r = -ENOMEM;
                        STRV_FOREACH (f, files)
                                if (r >= 0)
                                        r = add_source(&s, &n, POLICY_SOURCE_FILE, *f, NULL);
                        if (r < 0)
                                break;
                }
        if (r < 0) {
                policy_sources_free(s, n);
                return r;
        }
        *ret = s;
        *ret_n = n;
        return 0;
}

const char *policy_tools_path(void) {
        const char *e = getenv("KYSO_POLICY");
        return isempty(e) ? POLICY_SYSTEM_PATH : e;
}

PolicyLoadFlags policy_tools_flags(void) {
        const char *e = getenv("KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK");
        return e && streq(e, "1") ? POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK : 0;
}

bool policy_hash_allowed(const Policy *p, int md_nid) {
        const char *n = md_nid == NID_sha256   ? "sha256"
                        : md_nid == NID_sha384 ? "sha384"
                        : md_nid == NID_sha512 ? "sha512"
                                               : NULL;
        return n && strv_contains(p->hashes, n);
}

char *policy_rewrite_url(const Policy *p, const char *url) {
        for (size_t i = 0; i < p->n_rewrites; i++) {
                const char *rest = startswith(url, p->rewrites[i].from);
                /* Only at a boundary: http://ocsp.ca.ptc must not rewrite http://ocsp.ca.ptc.evil. */
                if (rest && (*rest == '\0' || *rest == '/' || *rest == ':' ||
                             p->rewrites[i].from[strlen(p->rewrites[i].from) - 1] == '/')) {
                        char *s;
                        if (asprintf(&s, "%s%s", p->rewrites[i].to, rest) < 0)
                                return NULL;
                        return s;
                }
        }
        return strdup(url);
}
