/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Policy: the administrator's rules for signing, read from /etc/kyso/policy.conf plus drop-ins in
 * the *.conf drop-ins in /etc/kyso/policy.d (see kyso-policy.conf(5)). Parsing is strict: any doubt is an
 * error, never "allow". */

#include <openssl/x509.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "macro.h"

#define POLICY_SYSTEM_PATH "/etc/kyso/policy.conf"

typedef enum RevocationMode {
        REVOCATION_OCSP_THEN_CRL,
        REVOCATION_CRL,
        REVOCATION_OCSP,
        REVOCATION_OFF, /* only in the tests' builds (KYSO_TEST_SWITCHES), never from kysod's policy */
        _REVOCATION_MODE_MAX,
        _REVOCATION_MODE_INVALID = -EINVAL,
} RevocationMode;

typedef enum CertKind {
        CERT_KIND_PERSONAL,
        CERT_KIND_ORGANIZATION,
        CERT_KIND_DEVICE,
        CERT_KIND_UNKNOWN,
        _CERT_KIND_MAX,
        _CERT_KIND_INVALID = -EINVAL,
} CertKind;

typedef enum RsaPadding {
        RSA_PADDING_PKCS1,
        RSA_PADDING_PSS,
        _RSA_PADDING_MAX,
        _RSA_PADDING_INVALID = -EINVAL,
} RsaPadding;

/* The level of a PDF signature (PAdES baseline): B-B, B-T with an RFC 3161 time-stamp, B-LT with the
 * validation material (chain, OCSP responses, CRLs) kept in the file's /DSS as well. */
typedef enum SignatureLevel {
        SIGNATURE_LEVEL_B_B,
        SIGNATURE_LEVEL_B_T,
        SIGNATURE_LEVEL_B_LT,
        _SIGNATURE_LEVEL_MAX,
        _SIGNATURE_LEVEL_INVALID = -EINVAL,
} SignatureLevel;

/* "ATTR=GLOB" against a distinguished name: true when some entry of attribute ATTR matches GLOB. */
typedef struct NameMatch {
        int nid;
        char *glob;
} NameMatch;

/* Criteria of one [kind NAME] section or one side of a [seal NAME] section. Within one key the values are
 * alternatives; every key that is given must match. */
typedef struct CertMatch {
        NameMatch *issuer;
        size_t n_issuer;
        NameMatch *subject;
        size_t n_subject;
        /* Negative criteria: the certificate must match none of them. They only narrow the positive ones
         * (a rule needs at least one of those). */
        NameMatch *not_issuer;
        size_t n_not_issuer;
        NameMatch *not_subject;
        size_t n_not_subject;
        char **policy_oids;   /* dotted OIDs */
        char **ekus;          /* dotted OIDs */
        char **fingerprints;  /* SHA-256, lowercase hex without colons */
        char **organizations; /* exact O= value (seal sections only) */
} CertMatch;

typedef struct KindRule {
        char *name;
        CertKind kind;
        CertMatch match;
        char *file;
        unsigned line;
} KindRule;

typedef struct SealRule {
        char *name;
        CertMatch seal;
        CertMatch leader;
        char *file;
        unsigned line;
} SealRule;

typedef struct UrlRewrite {
        char *from; /* prefix */
        char *to;
} UrlRewrite;

/* A page and a rectangle in PDF points from the page's bottom-left corner (the `visible` option's). */
typedef struct PolicyPlace {
        bool set;
        bool from_end;  /* "last": the last page; page is then 0 */
        unsigned page;  /* 0-based */
        double rect[4]; /* x, y, width, height */
} PolicyPlace;

typedef struct Policy {
        char **files;       /* the files read, in order */
        char **file_sha256; /* SHA-256 (hex) of each of them, as read */
        /* SHA-256 (hex) over the files' names and hashes: changes when a file or the set of files does. */
        char digest[65];
        /* Read from POLICY_SYSTEM_PATH and its policy.d, with the owner check: the administrator's policy.
         * Anything else was chosen through $KYSO_POLICY (tests, or the person at the desk). */
        bool system_default;

        char **trusted_root_paths;
        STACK_OF(X509) * trusted_roots;
        char **intermediate_paths;
        STACK_OF(X509) * intermediates;

        RevocationMode revocation_mode;
        bool allow_insecure_no_revocation;
        char *revocation_mode_origin; /* "FILE:LINE" of the settings, for errors about contradictions */
        char *allow_insecure_origin;
        bool ocsp_require_nonce;
        unsigned ocsp_timeout_sec;
        unsigned crl_timeout_sec;
        unsigned ocsp_max_age_sec;      /* how old thisUpdate of an OCSP answer may be */
        unsigned crl_cache_max_age_sec; /* refetch a cached CRL after this, even before its nextUpdate */
        char *cache_dir;                /* NULL: $XDG_CACHE_HOME/kyso or ~/.cache/kyso */
        char *proxy;                    /* NULL: no proxy (never http_proxy from the environment) */
        UrlRewrite *rewrites;
        size_t n_rewrites;

        unsigned min_rsa_bits;
        char **ec_curves; /* NIST names: P-256, P-384, P-521 */
        char **hashes;    /* sha256, sha384, sha512 */
        RsaPadding rsa_padding;

        unsigned expiry_warning_days;
        char *tsa_url;
        unsigned tsa_timeout_sec;
        unsigned clock_skew_sec;        /* how far ahead of our clock a signing time or time-stamp may be */
        SignatureLevel signature_level; /* [signature] level: the default for a request (B-B) */
        /* [signature] place: where an approve or personal signature of a PDF is drawn when neither the
         * request nor kysod.conf names a place (and there is an image to draw). */
        PolicyPlace signature_place;

        char **classification_words;

        uint64_t max_document_size; /* [documents] max-size: bytes; 0 (default): kysod.conf's alone */
        unsigned pin_cache_max_sec; /* [pin] max-cache: the longest an agent may keep a PIN; 0 (default):
                                       never */

        /* [report]: who sends the Article 17 report, from where, to whom (kysoctl audit report). */
        char *report_organization, *report_place, *report_signer_title;
        char **report_addressees;

        KindRule *kind_rules;
        size_t n_kind_rules;
        SealRule *seal_rules;
        size_t n_seal_rules;

        unsigned n_ref; /* owners; changed atomically (see policy_ref()) */
} Policy;

typedef enum PolicyLoadFlags {
        /* Accept files not owned by root or writable by others, logging a warning for each. For tests and
         * for checking a draft only: the agent never sets it. */
        POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK = 1 << 0,
} PolicyLoadFlags;

/* Loads path (NULL: POLICY_SYSTEM_PATH) and the drop-ins in the folder policy.d beside it, in lexical order.
 * Returns 0 and the policy, or a negative errno; on -EINVAL *ret_errors (when given) lists every problem
 * as "FILE:LINE: message" (translated), also when other errors are returned where possible. */
int policy_load(const char *path, PolicyLoadFlags flags, Policy **ret, char ***ret_errors);

/* Parses one buffer as if it were a file named 'name' into an existing policy (for the fuzzer and tests);
 * errors are appended to *errors. Returns the number of errors (>= 0) or -ENOMEM. */
int policy_parse_buffer(
        Policy *p, const char *name, const char *data, size_t size, PolicyLoadFlags flags, char ***errors);
Policy *policy_new_defaults(void);
/* Final consistency checks after every file is read; appends errors. */
int policy_finish(Policy *p, char ***errors);

/* A loaded policy is never changed, so several owners may read it at once, also on other threads (the
 * agent's network checks): policy_ref() adds an owner, policy_free() drops one and frees with the last. */
Policy *policy_ref(Policy *p);
Policy *policy_free(Policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);

/* What policy_load(path) read to make p, for a cache that must know when to load again
 * (agent/policy-cache.h): the owner and mode of a folder (POLICY_SOURCE_OWNER), a file's bytes, owner and
 * mode (POLICY_SOURCE_FILE), the names in a folder that end in one of suffixes, and its owner and mode
 * (POLICY_SOURCE_FOLDER). The files of [trust] folders are listed as they are now. */
typedef enum PolicySourceKind {
        POLICY_SOURCE_OWNER,
        POLICY_SOURCE_FILE,
        POLICY_SOURCE_FOLDER,
        _POLICY_SOURCE_KIND_MAX,
        _POLICY_SOURCE_KIND_INVALID = -EINVAL,
} PolicySourceKind;

typedef struct PolicySource {
        PolicySourceKind kind;
        char *path;
        const char *const *suffixes; /* POLICY_SOURCE_FOLDER: static, NULL-terminated */
} PolicySource;

int policy_sources(const Policy *p, const char *path, PolicySource **ret, size_t *ret_n);
/* The owner check on a file's or folder's stat: owned by root, writable by nobody else. */
bool policy_owner_acceptable(const struct stat *st);
/* The paths of the entries of dir whose names end with one of suffixes (NULL-terminated), sorted; hidden
 * ones skipped; -E2BIG past 256 entries; a negative errno when dir cannot be read. */
int policy_list_folder(const char *dir, const char *const *suffixes, char ***ret);
void policy_sources_free(PolicySource *s, size_t n);

/* The path of the policy the tools use: $KYSO_POLICY or the system path; and the load flags for it
 * ($KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1 skips the owner check, for tests). */
const char *policy_tools_path(void);
PolicyLoadFlags policy_tools_flags(void);

/* Applies the URL rewrites; returns a new string. */
char *policy_rewrite_url(const Policy *p, const char *url);

/* True when the classification string names a refused classification (whole words, case and diacritics
 * ignored). */
bool policy_is_classified(const Policy *p, const char *classification);
/* Folds UTF-8 Vietnamese to lowercase ASCII (diacritics dropped, đ → d); other non-ASCII bytes → '?'. */
char *fold_vietnamese(const char *s);

/* Certificate kinds by the [kind] sections. A certificate matched by rules of different kinds is
 * CERT_KIND_UNKNOWN (ambiguous); ret_rule (optional) names the rule that matched. */
CertKind policy_classify_certificate(const Policy *p, X509 *cert, const char **ret_rule);
/* True when leader's certificate counts as the competent person for the organisation seal 'seal' by some
 * [seal] section; ret_rule (optional) names it. Kinds are not checked here (policy-rules does). */
bool policy_is_competent_leader(const Policy *p, X509 *seal, X509 *leader, const char **ret_rule);
bool cert_match(const CertMatch *m, X509 *cert);
/* True when m has no positive criterion (negative ones alone would match almost everything). */
bool cert_match_empty(const CertMatch *m);

const char *cert_kind_to_string(CertKind k);
CertKind cert_kind_from_string(const char *s);
const char *revocation_mode_to_string(RevocationMode m);
RevocationMode revocation_mode_from_string(const char *s);
const char *rsa_padding_to_string(RsaPadding p);
RsaPadding rsa_padding_from_string(const char *s);
const char *signature_level_to_string(SignatureLevel l); /* "B-B", "B-T", "B-LT" */
SignatureLevel signature_level_from_string(const char *s);

/* True when the digest md_nid (NID_sha256, ...) is one of the policy's [algorithms] hashes. */
bool policy_hash_allowed(const Policy *p, int md_nid);

/* SHA-256 fingerprint of a certificate, lowercase hex (65 bytes with the NUL). */
int cert_fingerprint_sha256(X509 *cert, char ret[static 65]);
