/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "fileio.h"
#include "hex.h"
#include "i18n.h"
#include "openssl-util.h"
#include "parse-util.h"
#include "policy.h"
#include "string-table.h"

#define POLICY_MAX_FILE_SIZE (1024 * 1024)
#define POLICY_MAX_DROPINS 256

static const char *const default_classification_words[] = {
        "Mật", "Tối mật", "Tuyệt mật", "Mat", "Toi mat", "Tuyet mat",
};

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

static char **strv_new_from(const char *const *l, size_t n) {
        char **v = NULL;
        for (size_t i = 0; i < n; i++)
                if (strv_extend(&v, l[i]) < 0) {
                        strv_free(v);
                        return NULL;
                }
        return v;
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
        p->ec_curves = strv_new_from(curves, ELEMENTSOF(curves));
        p->hashes = strv_new_from(hashes, ELEMENTSOF(hashes));
        p->rsa_padding = RSA_PADDING_PKCS1;
        p->expiry_warning_days = 60;
        p->tsa_timeout_sec = 10;
        p->classification_words =
                strv_new_from(default_classification_words, ELEMENTSOF(default_classification_words));
        if (!p->trusted_roots || !p->intermediates || !p->ec_curves || !p->hashes ||
            !p->classification_words)
                return NULL;
        return TAKE_PTR(p);
}

/* ---- error collection ---- */

_printf_(4, 5) static int add_error(
        char ***errors, const char *file, unsigned line, const char *format, ...) {
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
        r = strv_push(errors, full);
        if (r < 0)
                return r;
        full = NULL;
        return 0;
}

/* ---- file ownership: the person at the desk must not be able to loosen the policy ---- */

static int check_owner_fd(int fd, const char *path, char ***errors) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return add_error(errors, path, 0, _("cannot check its owner: %s"), strerror(errno));
        if (st.st_uid != 0)
                return add_error(
                        errors, path, 0,
                        _("not owned by root: only root-owned files are accepted, so that the policy "
                          "cannot be changed from a user account (chown root:root it)"));
        if ((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != 0))
                return add_error(
                        errors, path, 0, _("writable by users other than root: run chmod go-w on it"));
        return 0;
}

static int check_owner_path(const char *path, char ***errors) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_PATH);
        if (fd < 0)
                return add_error(errors, path, 0, _("cannot open: %s"), strerror(errno));
        return check_owner_fd(fd, path, errors);
}

/* ---- certificates (trusted roots, intermediates) ---- */

static int load_certs_from_file(
        const char *path, STACK_OF(X509) * out, const char *cfile, unsigned line, PolicyLoadFlags flags,
        char ***errors, size_t *n_loaded) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, 4 * 1024 * 1024, &data, &size);
        if (r < 0)
                return add_error(
                        errors, cfile, line, _("cannot read certificate file %s: %s"), path, strerror(-r));
        if (!(flags & POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK)) {
                size_t before = strv_length(errors ? *errors : NULL);
                r = check_owner_path(path, errors);
                if (r < 0)
                        return r;
                if (strv_length(errors ? *errors : NULL) != before)
                        return 0;
        }

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
                return add_error(
                        errors, cfile, line, _("%s holds no certificate (PEM or DER expected)"), path);
        *n_loaded += n;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_folder(const char *dir, const char *const *suffixes, char ***ret) {
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

static int load_cert_path(
        const char *path, STACK_OF(X509) * out, bool need_ca, const char *cfile, unsigned line,
        PolicyLoadFlags flags, char ***errors) {
        static const char *const suffixes[] = { ".pem", ".crt", ".cer", ".der", NULL };
        struct stat st;
        size_t n = 0, first = (size_t) sk_X509_num(out);
        int r;

        if (path[0] != '/')
                return add_error(errors, cfile, line, _("'%s' is not an absolute path"), path);
        if (stat(path, &st) < 0)
                return add_error(errors, cfile, line, _("cannot read %s: %s"), path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
                _cleanup_strv_free_ char **files = NULL;
                if (!(flags & POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK)) {
                        size_t before = strv_length(errors ? *errors : NULL);
                        r = check_owner_path(path, errors);
                        if (r < 0)
                                return r;
                        if (strv_length(errors ? *errors : NULL) != before)
                                return 0;
                }
                r = list_folder(path, suffixes, &files);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return add_error(
                                errors, cfile, line, _("cannot read folder %s: %s"), path, strerror(-r));
                STRV_FOREACH (f, files) {
                        r = load_certs_from_file(*f, out, cfile, line, flags, errors, &n);
                        if (r < 0)
                                return r;
                }
                if (n == 0 && !files)
                        return add_error(
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
                                r = add_error(
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

/* ---- values ---- */

/* A duration (parse-util.h's grammar) in whole seconds, at most ten years: the policy counts in seconds. */
static int parse_seconds(const char *v, unsigned *ret) {
        uint64_t usec;
        int r = parse_duration(v, &usec);
        if (r < 0)
                return r;
        if (usec % USEC_PER_SEC != 0)
                return -EINVAL;
        if (usec / USEC_PER_SEC > 10U * 365 * 86400)
                return -ERANGE;
        *ret = (unsigned) (usec / USEC_PER_SEC);
        return 0;
}

/* A number from 0 to max. */
static int parse_unsigned_max(const char *v, unsigned max, unsigned *ret) {
        unsigned u;
        int r = parse_unsigned(v, &u);
        if (r < 0)
                return r;
        if (u > max)
                return -ERANGE;
        *ret = u;
        return 0;
}

static bool url_ok(const char *v) {
        if (!startswith(v, "http://") && !startswith(v, "https://"))
                return false;
        for (const char *c = v; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f)
                        return false;
        return true;
}

static int split_words(const char *v, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p = v;
        while (*p) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                if (!*p)
                        break;
                size_t n = strcspn(p, " \t,");
                char *w = strndup(p, n);
                if (!w)
                        return -ENOMEM;
                int r = strv_push(&l, w);
                if (r < 0) {
                        free(w);
                        return r;
                }
                p += n;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static const char *curve_canonical(const char *c) {
        if (streq(c, "P-256") || streq(c, "prime256v1") || streq(c, "secp256r1"))
                return "P-256";
        if (streq(c, "P-384") || streq(c, "secp384r1"))
                return "P-384";
        if (streq(c, "P-521") || streq(c, "secp521r1"))
                return "P-521";
        return NULL;
}

static bool is_dotted_oid(const char *v) {
        /* Digits and dots, at least one dot, no empty arc. */
        if (!*v || *v == '.')
                return false;
        bool dot = false, prev_dot = false;
        for (const char *c = v; *c; c++) {
                if (*c == '.') {
                        if (prev_dot)
                                return false;
                        dot = prev_dot = true;
                } else if (*c >= '0' && *c <= '9')
                        prev_dot = false;
                else
                        return false;
        }
        return dot && !prev_dot;
}

static int normalize_fingerprint(const char *v, char **ret) {
        char out[65];
        size_t n = 0;
        const char *p = v;
        if (startswith(p, "sha256:"))
                p += 7;
        for (; *p; p++) {
                if (*p == ':')
                        continue;
                int d = unhexchar(*p);
                if (d < 0 || n >= 64)
                        return -EINVAL;
                out[n++] = hexchar(d);
        }
        if (n != 64)
                return -EINVAL;
        out[n] = 0;
        char *s = strdup(out);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* ---- the parser ---- */

typedef enum SectionType {
        SECTION_NONE,
        SECTION_TRUST,
        SECTION_REVOCATION,
        SECTION_ALGORITHMS,
        SECTION_TIMESTAMP,
        SECTION_EXPIRY,
        SECTION_CLASSIFICATION,
        SECTION_PIN,
        SECTION_KIND,
        SECTION_SEAL,
} SectionType;

typedef struct ParseState {
        Policy *p;
        const char *file;
        PolicyLoadFlags flags;
        char ***errors;
        SectionType section;
        char *section_name; /* for printing */
        size_t kind_index, seal_index;
        char **seen; /* "section\nkey" of scalars set in this file */
} ParseState;

#define ERR(fmt, ...)                                                               \
        ({                                                                          \
                int _r = add_error(st->errors, st->file, line, fmt, ##__VA_ARGS__); \
                _r < 0 ? _r : 0;                                                    \
        })

static bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH (i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

static int scalar_once(ParseState *st, unsigned line, const char *key) {
        _cleanup_free_ char *k = NULL;
        if (asprintf(&k, "%s\n%s", strempty(st->section_name), key) < 0)
                return -ENOMEM;
        if (strv_contains(st->seen, k)) {
                int r =
                        ERR(_("'%s' is set twice in this file; set it once (drop-ins override earlier "
                              "files)"),
                            key);
                return r < 0 ? r : 1;
        }
        int r = strv_push(&st->seen, k);
        if (r < 0)
                return r;
        k = NULL;
        return 0;
}

static int set_string(char **field, const char *v) {
        char *s = strdup(v);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static int parse_name_match(const char *v, NameMatch **arr, size_t *n) {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
                return -EINVAL;
        _cleanup_free_ char *attr = strndup(v, (size_t) (eq - v));
        if (!attr)
                return -ENOMEM;
        /* Trim the attribute name. */
        size_t l = strlen(attr);
        while (l > 0 && (attr[l - 1] == ' ' || attr[l - 1] == '\t'))
                attr[--l] = 0;
        int nid = OBJ_txt2nid(attr);
        ERR_clear_error();
        if (nid == NID_undef)
                return -EINVAL;
        const char *g = eq + 1;
        while (*g == ' ' || *g == '\t')
                g++;
        if (!*g)
                return -EINVAL;
        NameMatch *na = realloc(*arr, sizeof(NameMatch) * (*n + 1));
        if (!na)
                return -ENOMEM;
        *arr = na;
        na[*n].nid = nid;
        na[*n].glob = strdup(g);
        if (!na[*n].glob)
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* Keys common to [kind] and to both sides of [seal]. Returns 1 when the key was handled, 0 when unknown. */
static int parse_match_key(
        ParseState *st, unsigned line, CertMatch *m, const char *key, const char *v, bool allow_org) {
        int r;
        const struct {
                const char *key;
                NameMatch **arr;
                size_t *n;
        } names[] = {
                { "issuer", &m->issuer, &m->n_issuer },
                { "subject", &m->subject, &m->n_subject },
                { "not-issuer", &m->not_issuer, &m->n_not_issuer },
                { "not-subject", &m->not_subject, &m->n_not_subject },
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                if (!streq(key, names[i].key))
                        continue;
                r = parse_name_match(v, names[i].arr, names[i].n);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return ERR(_("bad value '%s' for %s: expected ATTRIBUTE=PATTERN, for example "
                                     "O=*Uông Bí* or CN=Nguyễn Văn *"),
                                   v, key)
                                       ?: 1;
                return 1;
        }
        if (streq(key, "policy-oid") || streq(key, "eku")) {
                const char *oid = v;
                char buf[128];
                if (!is_dotted_oid(v)) {
                        /* Allow well-known short names for EKUs, such as emailProtection. */
                        ASN1_OBJECT *o = OBJ_txt2obj(v, 0);
                        ERR_clear_error();
                        if (!o)
                                return ERR(_("bad value '%s' for %s: expected a dotted OID such as "
                                             "1.3.6.1.5.5.7.3.4"),
                                           v, key)
                                               ?: 1;
                        OBJ_obj2txt(buf, sizeof buf, o, 1);
                        ASN1_OBJECT_free(o);
                        oid = buf;
                }
                r = strv_extend(streq(key, "eku") ? &m->ekus : &m->policy_oids, oid);
                return r < 0 ? r : 1;
        }
        if (streq(key, "fingerprint")) {
                char *fp;
                r = normalize_fingerprint(v, &fp);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return ERR(_("bad value '%s' for fingerprint: expected the SHA-256 fingerprint, 64 hex "
                                     "digits (colons allowed)"),
                                   v)
                                       ?: 1;
                r = strv_push(&m->fingerprints, fp);
                if (r < 0)
                        free(fp);
                return r < 0 ? r : 1;
        }
        if (allow_org && streq(key, "organization")) {
                r = strv_extend(&m->organizations, v);
                return r < 0 ? r : 1;
        }
        return 0;
}

static int section_begin(ParseState *st, unsigned line, const char *hdr) {
        static const struct {
                const char *name;
                SectionType type;
        } simple[] = {
                { "trust", SECTION_TRUST },
                { "revocation", SECTION_REVOCATION },
                { "algorithms", SECTION_ALGORITHMS },
                { "timestamp", SECTION_TIMESTAMP },
                { "expiry", SECTION_EXPIRY },
                { "classification", SECTION_CLASSIFICATION },
                { "pin", SECTION_PIN },
        };
        _cleanup_free_ char *h = strdup(hdr);
        if (!h)
                return -ENOMEM;
        st->section = SECTION_NONE;
        free(st->section_name);
        st->section_name = NULL;

        for (size_t i = 0; i < ELEMENTSOF(simple); i++)
                if (streq(h, simple[i].name)) {
                        st->section = simple[i].type;
                        st->section_name = TAKE_PTR(h);
                        return 0;
                }

        const char *rest = NULL;
        bool kind = false;
        if ((rest = startswith(h, "kind ")))
                kind = true;
        else if (!(rest = startswith(h, "seal ")))
                return ERR(
                        _("unknown section [%s]; known: [trust], [revocation], [algorithms], [timestamp], "
                          "[expiry], [classification], [pin], [kind NAME], [seal NAME]"),
                        h);
        while (*rest == ' ' || *rest == '\t')
                rest++;
        _cleanup_free_ char *name = NULL;
        size_t rl = strlen(rest);
        if (rl >= 2 && rest[0] == '"' && rest[rl - 1] == '"')
                name = strndup(rest + 1, rl - 2);
        else
                name = strdup(rest);
        if (!name)
                return -ENOMEM;
        if (isempty(name))
                return ERR(
                        _("section [%s] needs a name, for example [%s leaders]"), h, kind ? "kind" : "seal");

        Policy *p = st->p;
        if (kind) {
                size_t i;
                for (i = 0; i < p->n_kind_rules; i++)
                        if (streq(p->kind_rules[i].name, name))
                                break;
                if (i == p->n_kind_rules) {
                        KindRule *n = realloc(p->kind_rules, sizeof(KindRule) * (p->n_kind_rules + 1));
                        if (!n)
                                return -ENOMEM;
                        p->kind_rules = n;
                        n[i] = (KindRule){ .kind = _CERT_KIND_INVALID, .line = line };
                        n[i].file = strdup(st->file);
                        if (!n[i].file)
                                return -ENOMEM;
                        n[i].name = TAKE_PTR(name);
                        p->n_kind_rules++;
                }
                st->kind_index = i;
                st->section = SECTION_KIND;
        } else {
                size_t i;
                for (i = 0; i < p->n_seal_rules; i++)
                        if (streq(p->seal_rules[i].name, name))
                                break;
                if (i == p->n_seal_rules) {
                        SealRule *n = realloc(p->seal_rules, sizeof(SealRule) * (p->n_seal_rules + 1));
                        if (!n)
                                return -ENOMEM;
                        p->seal_rules = n;
                        n[i] = (SealRule){ .line = line };
                        n[i].file = strdup(st->file);
                        if (!n[i].file)
                                return -ENOMEM;
                        n[i].name = TAKE_PTR(name);
                        p->n_seal_rules++;
                }
                st->seal_index = i;
                st->section = SECTION_SEAL;
        }
        st->section_name = TAKE_PTR(h);
        return 0;
}

static int handle_key(ParseState *st, unsigned line, const char *key, const char *v) {
        Policy *p = st->p;
        int r;

#define ONCE()                                  \
        do {                                    \
                r = scalar_once(st, line, key); \
                if (r != 0)                     \
                        return r < 0 ? r : 0;   \
        } while (0)
#define BAD(msg) return ERR(_("bad value '%s' for %s: %s"), v, key, msg)

        switch (st->section) {
        case SECTION_NONE:
                return ERR(_("'%s' outside of a section; put it under a [section] header"), key);

        case SECTION_TRUST:
                if (streq(key, "root") || streq(key, "intermediate")) {
                        bool root = streq(key, "root");
                        r = load_cert_path(
                                v, root ? p->trusted_roots : p->intermediates, root, st->file, line,
                                st->flags, st->errors);
                        if (r < 0)
                                return r;
                        return strv_extend(root ? &p->trusted_root_paths : &p->intermediate_paths, v);
                }
                break;

        case SECTION_REVOCATION:
                if (streq(key, "mode")) {
                        ONCE();
                        RevocationMode m = revocation_mode_from_string(v);
                        if (m < 0)
                                BAD(_("expected ocsp-then-crl, crl, ocsp or off"));
                        p->revocation_mode = m;
                        free(p->revocation_mode_origin);
                        if (asprintf(&p->revocation_mode_origin, "%s:%u", st->file, line) < 0)
                                return -ENOMEM;
                        return 0;
                }
                if (streq(key, "allow-insecure-no-revocation-for-tests") ||
                    streq(key, "ocsp-require-nonce")) {
                        ONCE();
                        int b = parse_boolean(v);
                        if (b < 0)
                                BAD(_("expected yes or no"));
                        if (streq(key, "ocsp-require-nonce"))
                                p->ocsp_require_nonce = b;
                        else {
                                p->allow_insecure_no_revocation = b;
                                free(p->allow_insecure_origin);
                                if (asprintf(&p->allow_insecure_origin, "%s:%u", st->file, line) < 0)
                                        return -ENOMEM;
                        }
                        return 0;
                }
                if (streq(key, "ocsp-timeout") || streq(key, "crl-timeout") || streq(key, "ocsp-max-age") ||
                    streq(key, "crl-cache-max-age")) {
                        ONCE();
                        unsigned u;
                        if (parse_seconds(v, &u) < 0)
                                BAD(_("expected a duration such as 10, 30s, 5min, 2h or 7d"));
                        bool timeout = strstr(key, "timeout") != NULL;
                        if (timeout && (u == 0 || u > 300))
                                BAD(_("a timeout must be between 1 second and 5 minutes"));
                        if (streq(key, "ocsp-max-age") && u == 0)
                                BAD(_("0 would refuse every OCSP answer; give the longest age to accept, such as 1d"));
                        if (streq(key, "ocsp-timeout"))
                                p->ocsp_timeout_sec = u;
                        else if (streq(key, "crl-timeout"))
                                p->crl_timeout_sec = u;
                        else if (streq(key, "ocsp-max-age"))
                                p->ocsp_max_age_sec = u;
                        else
                                p->crl_cache_max_age_sec = u;
                        return 0;
                }
                if (streq(key, "cache")) {
                        ONCE();
                        if (v[0] != '/')
                                BAD(_("expected an absolute path"));
                        return set_string(&p->cache_dir, v);
                }
                if (streq(key, "proxy")) {
                        ONCE();
                        if (!startswith(v, "http://") || !url_ok(v))
                                BAD(_("expected http://HOST:PORT"));
                        return set_string(&p->proxy, v);
                }
                if (streq(key, "rewrite")) {
                        _cleanup_strv_free_ char **w = NULL;
                        r = split_words(v, &w);
                        if (r < 0)
                                return r;
                        if (strv_length(w) != 2 || !url_ok(w[0]) || !url_ok(w[1]))
                                BAD(_("expected two URLs: FROM TO, for example http://ocsp.ca.ptc "
                                      "http://ocsp.ca.gov.vn"));
                        if (streq(w[0], w[1]))
                                BAD(_("the two URLs are the same"));
                        UrlRewrite *n = realloc(p->rewrites, sizeof(UrlRewrite) * (p->n_rewrites + 1));
                        if (!n)
                                return -ENOMEM;
                        p->rewrites = n;
                        n[p->n_rewrites].from = TAKE_PTR(w[0]);
                        n[p->n_rewrites].to = TAKE_PTR(w[1]);
                        p->n_rewrites++;
                        return 0;
                }
                break;

        case SECTION_ALGORITHMS:
                if (streq(key, "min-rsa-bits")) {
                        ONCE();
                        unsigned u;
                        if (parse_unsigned_max(v, 16384, &u) < 0)
                                BAD(_("expected a number of bits such as 2048 or 3072"));
                        if (u < 2048)
                                BAD(_("the regulation asks for RSA keys of at least 2048 bits"));
                        p->min_rsa_bits = u;
                        return 0;
                }
                if (streq(key, "ec-curves") || streq(key, "hashes")) {
                        ONCE();
                        bool curves = streq(key, "ec-curves");
                        _cleanup_strv_free_ char **w = NULL, **out = NULL;
                        r = split_words(v, &w);
                        if (r < 0)
                                return r;
                        if (!w)
                                BAD(_("the list is empty"));
                        STRV_FOREACH (i, w) {
                                const char *c = NULL;
                                if (curves)
                                        c = curve_canonical(*i);
                                else if (streq(*i, "sha256") || streq(*i, "sha384") || streq(*i, "sha512"))
                                        c = *i;
                                if (!c) {
                                        if (curves)
                                                BAD(_("allowed curves are P-256, P-384 and P-521"));
                                        BAD(_("allowed hashes are sha256, sha384 and sha512"));
                                }
                                if (!strv_contains(out, c) && strv_extend(&out, c) < 0)
                                        return -ENOMEM;
                        }
                        char ***field = curves ? &p->ec_curves : &p->hashes;
                        strv_free(*field);
                        *field = TAKE_PTR(out);
                        return 0;
                }
                if (streq(key, "rsa-padding")) {
                        ONCE();
                        RsaPadding pad = rsa_padding_from_string(v);
                        if (pad < 0)
                                BAD(_("expected pkcs1 or pss"));
                        p->rsa_padding = pad;
                        return 0;
                }
                break;

        case SECTION_TIMESTAMP:
                if (streq(key, "url")) {
                        ONCE();
                        if (!url_ok(v))
                                BAD(_("expected an http:// or https:// URL"));
                        return set_string(&p->tsa_url, v);
                }
                if (streq(key, "timeout")) {
                        ONCE();
                        unsigned u;
                        if (parse_seconds(v, &u) < 0 || u == 0 || u > 300)
                                BAD(_("a timeout must be between 1 second and 5 minutes"));
                        p->tsa_timeout_sec = u;
                        return 0;
                }
                break;

        case SECTION_EXPIRY:
                if (streq(key, "warning-days")) {
                        ONCE();
                        unsigned u;
                        if (parse_unsigned_max(v, 3650, &u) < 0)
                                BAD(_("expected a number of days"));
                        p->expiry_warning_days = u;
                        return 0;
                }
                break;

        case SECTION_CLASSIFICATION:
                if (streq(key, "refuse")) {
                        _cleanup_free_ char *f = fold_vietnamese(v);
                        if (!f)
                                return -ENOMEM;
                        bool any = false;
                        for (char *c = f; *c; c++)
                                if ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))
                                        any = true;
                        if (!any)
                                BAD(_("expected a word such as Mật"));
                        if (strv_contains(p->classification_words, v))
                                return 0;
                        return strv_extend(&p->classification_words, v);
                }
                break;

        case SECTION_PIN:
                if (streq(key, "max-cache")) {
                        ONCE();
                        unsigned u;
                        if (parse_seconds(v, &u) < 0 || u > 24 * 3600)
                                BAD(_("expected a duration from 0 (never) to 24h, such as 5min"));
                        p->pin_cache_max_sec = u;
                        return 0;
                }
                break;

        case SECTION_KIND: {
                KindRule *k = &p->kind_rules[st->kind_index];
                if (streq(key, "kind")) {
                        ONCE();
                        CertKind ck = cert_kind_from_string(v);
                        if (ck < 0 || ck == CERT_KIND_UNKNOWN)
                                BAD(_("expected personal, organization or device"));
                        k->kind = ck;
                        return 0;
                }
                r = parse_match_key(st, line, &k->match, key, v, false);
                if (r != 0)
                        return r < 0 ? r : 0;
                break;
        }

        case SECTION_SEAL: {
                SealRule *s = &p->seal_rules[st->seal_index];
                const char *sub;
                if ((sub = startswith(key, "seal-")))
                        r = parse_match_key(st, line, &s->seal, sub, v, true);
                else if ((sub = startswith(key, "leader-")))
                        r = parse_match_key(st, line, &s->leader, sub, v, true);
                else
                        r = 0;
                if (r != 0)
                        return r < 0 ? r : 0;
                break;
        }
        }
#undef ONCE
#undef BAD
        return ERR(
                _("unknown key '%s' in section [%s]; see kyso-policy.conf(5)"), key,
                strempty(st->section_name));
}

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t l = strlen(s);
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
                s[--l] = 0;
        return s;
}

int policy_parse_buffer(
        Policy *p, const char *name, const char *data, size_t size, PolicyLoadFlags flags, char ***errors) {
        size_t before = strv_length(errors ? *errors : NULL);
        ParseState state = { .p = p, .file = name, .flags = flags, .errors = errors }, *st = &state;
        unsigned line = 0;
        int r = 0;

        if (memchr(data, 0, size)) {
                r = ERR("%s", _("the file contains a NUL byte; it must be UTF-8 text"));
                goto finish;
        }

        for (size_t pos = 0; pos < size && r >= 0;) {
                const char *nl = memchr(data + pos, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - (data + pos)) : size - pos;
                line++;
                _cleanup_free_ char *buf = strndup(data + pos, len);
                if (!buf) {
                        r = -ENOMEM;
                        break;
                }
                pos += len + 1;

                char *l = strip(buf);
                if (!*l || *l == '#' || *l == ';')
                        continue;
                if (*l == '[') {
                        size_t ll = strlen(l);
                        if (l[ll - 1] != ']') {
                                r = ERR("%s", _("section header without closing ']'"));
                                continue;
                        }
                        l[ll - 1] = 0;
                        r = section_begin(st, line, strip(l + 1));
                        continue;
                }
                char *eq = strchr(l, '=');
                if (!eq) {
                        r = ERR(_("expected KEY = VALUE, got '%s'"), l);
                        continue;
                }
                *eq = 0;
                char *key = strip(l), *v = strip(eq + 1);
                size_t vl = strlen(v);
                if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                        v[vl - 1] = 0;
                        v++;
                }
                if (!*key) {
                        r = ERR("%s", _("a line starts with '=': the key is missing"));
                        continue;
                }
                if (!*v) {
                        r = ERR(_("'%s' has no value"), key);
                        continue;
                }
                r = handle_key(st, line, key, v);
        }
finish:
        free(st->section_name);
        strv_free(st->seen);
        if (r < 0)
                return r;
        return (int) (strv_length(errors ? *errors : NULL) - before);
}

int policy_finish(Policy *p, char ***errors) {
        const char *main = p->files && p->files[0] ? p->files[0] : "policy";
        int r;

#define FIN(file, line, ...)                                    \
        do {                                                    \
                r = add_error(errors, file, line, __VA_ARGS__); \
                if (r < 0)                                      \
                        return r;                               \
        } while (0)

        if (p->revocation_mode == REVOCATION_OFF && !p->allow_insecure_no_revocation)
                FIN(p->revocation_mode_origin ?: main, 0, "%s",
                    _("[revocation] mode = off needs allow-insecure-no-revocation-for-tests = yes; it is "
                      "meant for tests only, the regulation asks for OCSP or CRL checks"));
        if (p->revocation_mode != REVOCATION_OFF && p->allow_insecure_no_revocation)
                FIN(p->allow_insecure_origin ?: main, 0, "%s",
                    _("allow-insecure-no-revocation-for-tests = yes contradicts the revocation mode; remove "
                      "it"));
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
#undef FIN
        return 0;
}

/* The policy's identity: "SHA256  PATH\n" per file (sha256sum's format), hashed. */
static int policy_digest(Policy *p) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        for (size_t i = 0; p->files && p->files[i]; i++) {
                char *n;
                if (asprintf(&n, "%s%s  %s\n", strempty(text), p->file_sha256[i], p->files[i]) < 0)
                        return -ENOMEM;
                free(text);
                text = n;
                len = strlen(text);
        }
        return sha256_hex(strempty(text), len, p->digest);
}

static int parse_file(Policy *p, const char *path, PolicyLoadFlags flags, bool check_owner, char ***errors) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return add_error(errors, path, 0, _("cannot open: %s"), strerror(errno));
        if (check_owner) {
                size_t before = strv_length(errors ? *errors : NULL);
                int r = check_owner_fd(fd, path, errors);
                if (r < 0)
                        return r;
                if (strv_length(errors ? *errors : NULL) != before)
                        return 0;
        }
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_fd(fd, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r < 0)
                return add_error(errors, path, 0, _("cannot read: %s"), strerror(-r));
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
        bool check_owner = !(flags & POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK);
        int r;

        if (!p)
                return -ENOMEM;
        if (!path)
                path = POLICY_SYSTEM_PATH;

        if (access(path, F_OK) < 0 && errno == ENOENT) {
                r = add_error(
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
        const char *slash = strrchr(path, '/');
        dir = slash ? strndup(path, (size_t) (slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        if (isempty(dir)) {
                free(dir);
                dir = strdup("/");
                if (!dir)
                        return -ENOMEM;
        }
        if (check_owner) {
                r = check_owner_path(dir, &errors);
                if (r < 0)
                        return r;
        }

        r = parse_file(p, path, flags, check_owner, &errors);
        if (r < 0)
                return r;

        _cleanup_free_ char *ddir = NULL;
        if (asprintf(&ddir, "%s/policy.d", dir) < 0)
                return -ENOMEM;
        static const char *const conf[] = { ".conf", NULL };
        r = list_folder(ddir, conf, &dropins);
        if (r == -ENOMEM)
                return r;
        if (r == -ENOENT)
                r = 0; /* no drop-ins */
        else if (r < 0)
                r = add_error(&errors, ddir, 0, _("cannot read the drop-in folder: %s"), strerror(-r));
        else if (check_owner)
                r = check_owner_path(ddir, &errors);
        if (r < 0)
                return r;
        STRV_FOREACH (d, dropins) {
                r = parse_file(p, *d, flags, check_owner, &errors);
                if (r < 0)
                        return r;
        }

        r = policy_finish(p, &errors);
        if (r < 0)
                return r;
        r = policy_digest(p);
        if (r < 0)
                return r;
        p->system_default = check_owner && streq(path, POLICY_SYSTEM_PATH);

        if (errors) {
                if (ret_errors)
                        *ret_errors = TAKE_PTR(errors);
                return -EINVAL;
        }
        *ret = TAKE_PTR(p);
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

/* ---- classification words ---- */

static const char *const fold_table[] = {
        "aàáảãạăằắẳẵặâầấẩẫậÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ",
        "eèéẻẽẹêềếểễệÈÉẺẼẸÊỀẾỂỄỆ",
        "iìíỉĩịÌÍỈĨỊ",
        "oòóỏõọôồốổỗộơờớởỡợÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ",
        "uùúủũụưừứửữựÙÚỦŨỤƯỪỨỬỮỰ",
        "yỳýỷỹỵỲÝỶỸỴ",
        "dđĐ",
};

/* Decodes one UTF-8 sequence; returns its length, or 0 for an invalid one (then *cp is the byte). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp) {
        if (s[0] < 0x80) {
                *cp = s[0];
                return 1;
        }
        size_t n;
        uint32_t c;
        if ((s[0] & 0xe0) == 0xc0) {
                n = 2;
                c = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                n = 3;
                c = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                n = 4;
                c = s[0] & 0x07;
        } else {
                *cp = s[0];
                return 0;
        }
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80) {
                        *cp = s[0];
                        return 0;
                }
                c = (c << 6) | (s[i] & 0x3f);
        }
        *cp = c;
        return n;
}

static char fold_codepoint(uint32_t cp) {
        for (size_t i = 0; i < ELEMENTSOF(fold_table); i++) {
                const unsigned char *t = (const unsigned char *) fold_table[i];
                while (*t) {
                        uint32_t c;
                        size_t n = utf8_decode(t, &c);
                        if (c == cp)
                                return fold_table[i][0];
                        t += n ? n : 1;
                }
        }
        return 0;
}

char *fold_vietnamese(const char *s) {
        size_t len = strlen(s);
        char *out = malloc(len + 1), *o = out;
        if (!out)
                return NULL;
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                uint32_t cp;
                size_t n = utf8_decode(p, &cp);
                if (n == 0) {
                        *o++ = '?';
                        p++;
                        continue;
                }
                p += n;
                if (cp < 0x80) {
                        char c = (char) cp;
                        if (c >= 'A' && c <= 'Z')
                                c = (char) (c - 'A' + 'a');
                        *o++ = c;
                } else if (cp >= 0x300 && cp <= 0x36f)
                        continue; /* combining marks of decomposed text */
                else {
                        char c = fold_codepoint(cp);
                        *o++ = c ? c : '?';
                }
        }
        *o = 0;
        return out;
}

static bool is_word_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '?';
}

/* Splits folded text into its words. */
static int words_of(const char *folded, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p = folded;
        while (*p) {
                while (*p && !is_word_char(*p))
                        p++;
                if (!*p)
                        break;
                const char *b = p;
                while (*p && is_word_char(*p))
                        p++;
                char *w = strndup(b, (size_t) (p - b));
                if (!w)
                        return -ENOMEM;
                int r = strv_push(&l, w);
                if (r < 0) {
                        free(w);
                        return r;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

bool policy_is_classified(const Policy *p, const char *classification) {
        if (isempty(classification))
                return false;
        _cleanup_free_ char *f = fold_vietnamese(classification);
        _cleanup_strv_free_ char **text = NULL;
        if (!f || words_of(f, &text) < 0)
                return true; /* out of memory: refuse rather than allow */
        size_t nt = strv_length(text);
        STRV_FOREACH (w, p->classification_words) {
                _cleanup_free_ char *fw = fold_vietnamese(*w);
                _cleanup_strv_free_ char **phrase = NULL;
                if (!fw || words_of(fw, &phrase) < 0)
                        return true;
                size_t np = strv_length(phrase);
                if (np == 0 || np > nt)
                        continue;
                for (size_t i = 0; i + np <= nt; i++) {
                        bool all = true;
                        for (size_t j = 0; j < np && all; j++)
                                all = streq(text[i + j], phrase[j]);
                        if (all)
                                return true;
                }
        }
        return false;
}
