/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy file's grammar: lines, [section] headers and a table of keys, each with the function that reads
 * its value into the Policy. What the keys mean is in kyso-policy.conf(5). */
#include <openssl/err.h>
#include <openssl/objects.h>
#include <stdint.h>

#include "alloc-util.h"
#include "hex.h"
#include "i18n.h"
#include "parse-util.h"
#include "policy-internal.h"
#include "string-util.h"
#include "utf8.h"

/* Switches that exist for tests only are compiled only into the tests' copy of this file (see the top
 * meson.build): kysod and kysoctl have no way to turn revocation checks off. */
#ifndef KYSO_TEST_SWITCHES
#        define KYSO_TEST_SWITCHES 0
#endif

/* What a key belongs to. */
typedef enum SectionType {
        SECTION_NONE,
        SECTION_PLAIN, /* [trust], [revocation], ...: a header that is the name of the keys' section */
        SECTION_KIND,  /* [kind NAME] */
        SECTION_SEAL,  /* [seal NAME] */
        /* Not headers: the certificate criteria of a [kind] section and, behind seal- and leader-, of both
         * sides of a [seal] section; organization only there. */
        SECTION_MATCH,
        SECTION_SEAL_MATCH,
} SectionType;

typedef struct ParseState {
        Policy *p;
        const char *file;
        unsigned line;
        PolicyLoadFlags flags;
        char ***errors;
        SectionType section;
        char *section_name; /* for printing */
        size_t kind_index, seal_index;
        char **seen; /* "section\nkey" of scalars set in this file */
} ParseState;

/* Adds an error at the current line; evaluates to 0 or -ENOMEM. */
#define ERR(fmt, ...)                                                                          \
        ({                                                                                     \
                int _r = policy_add_error(st->errors, st->file, st->line, fmt, ##__VA_ARGS__); \
                _r < 0 ? _r : 0;                                                               \
        })

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

static bool url_ok(const char *v) {
        if (!startswith(v, "http://") && !startswith(v, "https://"))
                return false;
        for (const char *c = v; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f)
                        return false;
        return true;
}

static bool is_list_separator(char c) {
        return c == ' ' || c == '\t' || c == ',';
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

static const char *hash_canonical(const char *h) {
        if (streq(h, "sha256") || streq(h, "sha384") || streq(h, "sha512"))
                return h;
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

static int parse_name_match(const char *v, NameMatch **arr, size_t *n) {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
                return -EINVAL;
        _cleanup_free_ char *attr = strndup(v, (size_t) (eq - v));
        if (!attr)
                return -ENOMEM;
        int nid = OBJ_txt2nid(strstrip(attr));
        ERR_clear_error();
        if (nid == NID_undef)
                return -EINVAL;
        const char *g = eq + 1;
        while (*g == ' ' || *g == '\t')
                g++;
        if (!*g)
                return -EINVAL;
        /* Copied before the append, so that a failure adds nothing. */
        _cleanup_free_ char *glob = strdup(g);
        if (!glob)
                return -ENOMEM;
        NameMatch *na = ARRAY_APPEND(*arr, *n);
        if (!na)
                return -ENOMEM;
        *na = (NameMatch){ .nid = nid, .glob = TAKE_PTR(glob) };
        return 0;
}

/* ---- the keys ---- */

typedef struct PolicyKey PolicyKey;

/* Reads v into field (the key's offset into the Policy, KindRule or CertMatch the section is about).
 * Returns 0 also when v was refused (after adding an error), or -ENOMEM. */
typedef int (*PolicyKeyParser)(ParseState *st, const PolicyKey *k, const char *v, void *field);

struct PolicyKey {
        SectionType section;
        const char *header; /* of a SECTION_PLAIN key */
        const char *name;
        PolicyKeyParser parse;
        size_t offset;
        size_t offset_extra;  /* a second field, as the parser says: a count, a "FILE:LINE" origin */
        bool once;            /* a scalar: set at most once per file */
        unsigned min, max;    /* numbers and durations (seconds) */
        const char *expected; /* N_(): why a value that cannot be read is refused */
        const char *too_small, *too_large;          /* N_(): for a value outside min..max; NULL: expected */
        const char *(*canonical)(const char *word); /* lists: a word's canonical name, NULL when refused */
        bool (*valid)(const char *v);               /* strings: whether v may be kept; NULL: any */
};

static int bad_value(ParseState *st, const PolicyKey *k, const char *v, const char *msg) {
        return ERR(_("bad value '%s' for %s: %s"), v, k->name, _(msg));
}

static void *extra_field(ParseState *st, const PolicyKey *k, void *field) {
        return (uint8_t *) field - k->offset + k->offset_extra;
}

/* Where a setting was made (into offset_extra, a char *), for the errors about contradictions found once
 * every file is read. */
static int set_origin(ParseState *st, const PolicyKey *k, void *field) {
        return free_and_asprintf(extra_field(st, k, field), "%s:%u", st->file, st->line);
}

/* Stores value, read from v into an enum field, or refuses v when value is negative. Enums with a negative
 * _INVALID member are ints. */
_Static_assert(
        sizeof(RevocationMode) == sizeof(int) && sizeof(RsaPadding) == sizeof(int) &&
                sizeof(CertKind) == sizeof(int),
        "enum fields are stored as int");
static int set_enum(ParseState *st, const PolicyKey *k, const char *v, void *field, int value) {
        if (value < 0)
                return bad_value(st, k, v, k->expected);
        *(int *) field = value;
        return 0;
}

static int key_boolean(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        int b = parse_boolean(v);
        if (b < 0)
                return bad_value(st, k, v, k->expected);
        *(bool *) field = b;
        return 0;
}

#if KYSO_TEST_SWITCHES
static int key_boolean_with_origin(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        int r = key_boolean(st, k, v, field);
        if (r < 0 || parse_boolean(v) < 0)
                return r;
        return set_origin(st, k, field);
}
#endif

/* Stores u when parsing gave r >= 0 and u is within min..max. */
static int set_unsigned(ParseState *st, const PolicyKey *k, const char *v, void *field, int r, unsigned u) {
        if (r < 0)
                return bad_value(st, k, v, k->expected);
        if (u < k->min)
                return bad_value(st, k, v, k->too_small ?: k->expected);
        if (u > k->max)
                return bad_value(st, k, v, k->too_large ?: k->expected);
        *(unsigned *) field = u;
        return 0;
}

static int key_unsigned(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        unsigned u = 0;
        int r = parse_unsigned(v, &u);
        return set_unsigned(st, k, v, field, r, u);
}

static int key_seconds(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        unsigned u = 0;
        int r = parse_seconds(v, &u);
        return set_unsigned(st, k, v, field, r, u);
}

/* A size into a uint64_t of bytes; min and max are in MiB. */
static int key_size(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        uint64_t u = 0;
        if (parse_size(v, &u) < 0 || u < (uint64_t) k->min << 20 || u > (uint64_t) k->max << 20)
                return bad_value(st, k, v, k->expected);
        *(uint64_t *) field = u;
        return 0;
}

static bool absolute_path_ok(const char *v) {
        return v[0] == '/';
}

static bool http_url_ok(const char *v) {
        return startswith(v, "http://") && url_ok(v);
}

/* A line of text for a document (a name, a place): UTF-8, no control characters. */
static bool text_ok(const char *v) {
        if (!utf8_is_valid(v) || strlen(v) > 200)
                return false;
        for (const char *c = v; *c; c++)
                if ((unsigned char) *c < ' ' || *c == 0x7f)
                        return false;
        return true;
}

/* A string that k->valid accepts, replacing the one before. */
static int key_string(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        if (k->valid && !k->valid(v))
                return bad_value(st, k, v, k->expected);
        return free_and_strdup(field, v);
}

/* A string that k->valid accepts, added to a strv. */
static int key_strv_append(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        if (k->valid && !k->valid(v))
                return bad_value(st, k, v, k->expected);
        return strv_extend(field, v);
}

/* A list of words separated by blanks or commas, each turned into its canonical name, replacing the list. */
static int key_word_list(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        _cleanup_strv_free_ char **w = NULL, **out = NULL;
        int r = strv_split(v, is_list_separator, &w);
        if (r < 0)
                return r;
        if (!w)
                return bad_value(st, k, v, N_("the list is empty"));
        STRV_FOREACH (i, w) {
                const char *c = k->canonical(*i);
                if (!c)
                        return bad_value(st, k, v, k->expected);
                if (!strv_contains(out, c) && strv_extend(&out, c) < 0)
                        return -ENOMEM;
        }
        char ***list = field;
        strv_free(*list);
        *list = TAKE_PTR(out);
        return 0;
}

/* [trust] root and intermediate: the certificates into the stack at offset, the path into the list at
 * offset_extra. */
static int trust_path(ParseState *st, const PolicyKey *k, const char *v, void *field, bool root) {
        int r = trust_store_load_path(
                v, *(STACK_OF(X509) **) field, root, st->file, st->line, st->flags, st->errors);
        if (r < 0)
                return r;
        return strv_extend(extra_field(st, k, field), v);
}

static int key_trust_root(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        return trust_path(st, k, v, field, true);
}

static int key_trust_intermediate(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        return trust_path(st, k, v, field, false);
}

static int key_revocation_mode(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        RevocationMode m = revocation_mode_from_string(v);
#if !KYSO_TEST_SWITCHES
        if (m == REVOCATION_OFF)
                m = _REVOCATION_MODE_INVALID;
#endif
        int r = set_enum(st, k, v, field, m);
        if (r < 0 || m < 0)
                return r;
        return set_origin(st, k, field);
}

static int key_rewrite(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        Policy *p = st->p;
        _cleanup_strv_free_ char **w = NULL;
        int r = strv_split(v, is_list_separator, &w);
        if (r < 0)
                return r;
        if (strv_length(w) != 2 || !url_ok(w[0]) || !url_ok(w[1]))
                return bad_value(st, k, v, k->expected);
        if (streq(w[0], w[1]))
                return bad_value(st, k, v, N_("the two URLs are the same"));
        UrlRewrite *rw = ARRAY_APPEND(p->rewrites, p->n_rewrites);
        if (!rw)
                return -ENOMEM;
        rw->from = TAKE_PTR(w[0]);
        rw->to = TAKE_PTR(w[1]);
        return 0;
}

static int key_rsa_padding(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        return set_enum(st, k, v, field, rsa_padding_from_string(v));
}

static int key_signature_level(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        return set_enum(st, k, v, field, signature_level_from_string(v));
}

static int key_signature_place(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        PolicyPlace *place = field;
        unsigned page;
        int r = parse_page_place(v, &place->from_end, &page, place->rect);

        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad_value(st, k, v, k->expected);
        place->page = place->from_end ? 0 : page - 1;
        place->set = true;
        return 0;
}

static int key_classification_word(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        int r = classification_word_valid(v);
        if (r < 0)
                return r;
        if (r == 0)
                return bad_value(st, k, v, k->expected);
        if (strv_contains(*(char ***) field, v))
                return 0;
        return strv_extend(field, v);
}

/* "unknown" is what a certificate no rule names gets, not something a rule can give. */
static int key_cert_kind(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        CertKind ck = cert_kind_from_string(v);
        return set_enum(st, k, v, field, ck == CERT_KIND_UNKNOWN ? -EINVAL : ck);
}

/* ATTRIBUTE=PATTERN into the NameMatch array at offset, counted at offset_extra. The messages of the
 * certificate criteria name the key without its seal- or leader- prefix. */
static int key_name_match(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        int r = parse_name_match(v, field, extra_field(st, k, field));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad_value(st, k, v, k->expected);
        return 0;
}

/* A dotted OID, or a name OpenSSL knows (emailProtection), stored dotted. */
static int key_oid(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        const char *oid = v;
        char buf[128];
        if (!is_dotted_oid(v)) {
                ASN1_OBJECT *o = OBJ_txt2obj(v, 0);
                ERR_clear_error();
                if (!o)
                        return bad_value(st, k, v, k->expected);
                OBJ_obj2txt(buf, sizeof buf, o, 1);
                ASN1_OBJECT_free(o);
                oid = buf;
        }
        return strv_extend(field, oid);
}

static int key_fingerprint(ParseState *st, const PolicyKey *k, const char *v, void *field) {
        char *fp;
        int r = normalize_fingerprint(v, &fp);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad_value(st, k, v, k->expected);
        r = strv_push(field, fp);
        if (r < 0)
                free(fp);
        return r;
}

#define DURATION_EXPECTED N_("expected a duration such as 10, 30s, 5min, 2h or 7d")
#define TIMEOUT_RANGE N_("a timeout must be between 1 second and 5 minutes")
#define REPORT_TEXT_EXPECTED N_("expected one line of text (at most 200 bytes of UTF-8)")
#define OID_EXPECTED N_("expected a dotted OID such as 1.3.6.1.5.5.7.3.4")
#define NAME_MATCH_EXPECTED N_("expected ATTRIBUTE=PATTERN, for example O=*Uông Bí* or CN=Nguyễn Văn *")

#define POLICY_FIELD(f) .offset = offsetof(Policy, f)
#define MATCH_KEY(n, fn, f, e) \
        { SECTION_MATCH, NULL, n, fn, offsetof(CertMatch, f), .expected = e }
#define MATCH_NAME_KEY(n, f)                                                                                \
        {                                                                                                   \
                SECTION_MATCH, NULL, n, key_name_match, offsetof(CertMatch, f), offsetof(CertMatch, n_##f), \
                        .expected = NAME_MATCH_EXPECTED                                                     \
        }

static const PolicyKey policy_keys[] = {
        { SECTION_PLAIN, "trust", "root", key_trust_root, POLICY_FIELD(trusted_roots),
          .offset_extra = offsetof(Policy, trusted_root_paths) },
        { SECTION_PLAIN, "trust", "intermediate", key_trust_intermediate, POLICY_FIELD(intermediates),
          .offset_extra = offsetof(Policy, intermediate_paths) },

#if KYSO_TEST_SWITCHES
        { SECTION_PLAIN, "revocation", "mode", key_revocation_mode, POLICY_FIELD(revocation_mode),
          .offset_extra = offsetof(Policy, revocation_mode_origin), .once = true,
          .expected = N_("expected ocsp-then-crl, crl, ocsp or off") },
        { SECTION_PLAIN, "revocation", "allow-insecure-no-revocation-for-tests", key_boolean_with_origin,
          POLICY_FIELD(allow_insecure_no_revocation),
          .offset_extra = offsetof(Policy, allow_insecure_origin), .once = true,
          .expected = N_("expected yes or no") },
#else
        { SECTION_PLAIN, "revocation", "mode", key_revocation_mode, POLICY_FIELD(revocation_mode),
          .offset_extra = offsetof(Policy, revocation_mode_origin), .once = true,
          .expected = N_("expected ocsp-then-crl, crl or ocsp") },
#endif
        { SECTION_PLAIN, "revocation", "ocsp-require-nonce", key_boolean, POLICY_FIELD(ocsp_require_nonce),
          .once = true, .expected = N_("expected yes or no") },
        { SECTION_PLAIN, "revocation", "ocsp-timeout", key_seconds, POLICY_FIELD(ocsp_timeout_sec),
          .once = true, .min = 1, .max = 300, .expected = DURATION_EXPECTED, .too_small = TIMEOUT_RANGE,
          .too_large = TIMEOUT_RANGE },
        { SECTION_PLAIN, "revocation", "crl-timeout", key_seconds, POLICY_FIELD(crl_timeout_sec),
          .once = true, .min = 1, .max = 300, .expected = DURATION_EXPECTED, .too_small = TIMEOUT_RANGE,
          .too_large = TIMEOUT_RANGE },
        { SECTION_PLAIN, "revocation", "ocsp-max-age", key_seconds, POLICY_FIELD(ocsp_max_age_sec),
          .once = true, .min = 1, .max = UINT_MAX, .expected = DURATION_EXPECTED,
          .too_small = N_("0 would refuse every OCSP answer; give the longest age to accept, such as 1d") },
        { SECTION_PLAIN, "revocation", "crl-cache-max-age", key_seconds, POLICY_FIELD(crl_cache_max_age_sec),
          .once = true, .max = UINT_MAX, .expected = DURATION_EXPECTED },
        { SECTION_PLAIN, "revocation", "cache", key_string, POLICY_FIELD(cache_dir), .once = true,
          .valid = absolute_path_ok, .expected = N_("expected an absolute path") },
        { SECTION_PLAIN, "revocation", "proxy", key_string, POLICY_FIELD(proxy), .once = true,
          .valid = http_url_ok, .expected = N_("expected http://HOST:PORT") },
        { SECTION_PLAIN, "revocation", "rewrite", key_rewrite,
          .expected =
                  N_("expected two URLs: FROM TO, for example http://ocsp.ca.ptc http://ocsp.ca.gov.vn") },

        { SECTION_PLAIN, "algorithms", "min-rsa-bits", key_unsigned, POLICY_FIELD(min_rsa_bits),
          .once = true, .min = 2048, .max = 16384,
          .expected = N_("expected a number of bits such as 2048 or 3072"),
          .too_small = N_("the regulation asks for RSA keys of at least 2048 bits") },
        { SECTION_PLAIN, "algorithms", "ec-curves", key_word_list, POLICY_FIELD(ec_curves), .once = true,
          .expected = N_("allowed curves are P-256, P-384 and P-521"), .canonical = curve_canonical },
        { SECTION_PLAIN, "algorithms", "hashes", key_word_list, POLICY_FIELD(hashes), .once = true,
          .expected = N_("allowed hashes are sha256, sha384 and sha512"), .canonical = hash_canonical },
        { SECTION_PLAIN, "algorithms", "rsa-padding", key_rsa_padding, POLICY_FIELD(rsa_padding),
          .once = true, .expected = N_("expected pkcs1 or pss") },

        { SECTION_PLAIN, "timestamp", "url", key_string, POLICY_FIELD(tsa_url), .once = true,
          .valid = url_ok, .expected = N_("expected an http:// or https:// URL") },
        { SECTION_PLAIN, "timestamp", "timeout", key_seconds, POLICY_FIELD(tsa_timeout_sec), .once = true,
          .min = 1, .max = 300, .expected = TIMEOUT_RANGE },
        { SECTION_PLAIN, "timestamp", "clock-skew", key_seconds, POLICY_FIELD(clock_skew_sec), .once = true,
          .max = 3600, .expected = N_("expected a duration from 0 to 1h, such as 5min") },

        { SECTION_PLAIN, "signature", "level", key_signature_level, POLICY_FIELD(signature_level),
          .once = true, .expected = N_("expected B-B, B-T or B-LT") },
        { SECTION_PLAIN, "signature", "place", key_signature_place, POLICY_FIELD(signature_place),
          .once = true,
          .expected =
                  N_("expected PAGE,X,Y,W,H: a page from 1 or last, then a rectangle in PDF points with a "
                     "positive width and height, such as last,330,120,200,70") },

        { SECTION_PLAIN, "expiry", "warning-days", key_unsigned, POLICY_FIELD(expiry_warning_days),
          .once = true, .max = 3650, .expected = N_("expected a number of days") },

        { SECTION_PLAIN, "classification", "refuse", key_classification_word,
          POLICY_FIELD(classification_words), .expected = N_("expected a word such as Mật") },

        { SECTION_PLAIN, "documents", "max-size", key_size, POLICY_FIELD(max_document_size), .once = true,
          .min = 1, .max = 1024 * 1024, .expected = N_("expected a size from 1M to 1T, such as 2G") },

        { SECTION_PLAIN, "report", "organization", key_string, POLICY_FIELD(report_organization),
          .once = true, .valid = text_ok, .expected = REPORT_TEXT_EXPECTED },
        { SECTION_PLAIN, "report", "place", key_string, POLICY_FIELD(report_place), .once = true,
          .valid = text_ok, .expected = REPORT_TEXT_EXPECTED },
        { SECTION_PLAIN, "report", "addressee", key_strv_append, POLICY_FIELD(report_addressees),
          .valid = text_ok, .expected = REPORT_TEXT_EXPECTED },
        { SECTION_PLAIN, "report", "signer-title", key_string, POLICY_FIELD(report_signer_title),
          .once = true, .valid = text_ok, .expected = REPORT_TEXT_EXPECTED },

        { SECTION_PLAIN, "pin", "max-cache", key_seconds, POLICY_FIELD(pin_cache_max_sec), .once = true,
          .max = 24 * 3600, .expected = N_("expected a duration from 0 (never) to 24h, such as 5min") },

        { SECTION_KIND, NULL, "kind", key_cert_kind, offsetof(KindRule, kind), .once = true,
          .expected = N_("expected personal, organization or device") },

        MATCH_NAME_KEY("issuer", issuer),
        MATCH_NAME_KEY("subject", subject),
        MATCH_NAME_KEY("not-issuer", not_issuer),
        MATCH_NAME_KEY("not-subject", not_subject),
        MATCH_KEY("policy-oid", key_oid, policy_oids, OID_EXPECTED),
        MATCH_KEY("eku", key_oid, ekus, OID_EXPECTED),
        MATCH_KEY(
                "fingerprint", key_fingerprint, fingerprints,
                N_("expected the SHA-256 fingerprint, 64 hex digits (colons allowed)")),
        { SECTION_SEAL_MATCH, NULL, "organization", key_strv_append, offsetof(CertMatch, organizations) },
};

/* The key name (any key when name is NULL) of section (and header, for SECTION_PLAIN). */
static const PolicyKey *policy_key_find(SectionType section, const char *header, const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(policy_keys); i++) {
                const PolicyKey *k = &policy_keys[i];
                if (k->section == section && streq_ptr(k->header, header) && (!name || streq(k->name, name)))
                        return k;
        }
        return NULL;
}

/* ---- lines and sections ---- */

/* 0 the first time key is set in this section of this file; 1 after an error when it was set before. */
static int scalar_once(ParseState *st, const char *key) {
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

/* The index of the rule called *name in an array of n rules of the given size (KindRule or SealRule, whose
 * first field is the name). When there is none, appends one, zeroed, taking *name, and returns 1. */
static int named_rule_get(void **rules, size_t *n, size_t size, char **name, size_t *ret) {
        _Static_assert(offsetof(KindRule, name) == 0 && offsetof(SealRule, name) == 0, "name comes first");
        uint8_t *a = *rules;
        for (size_t i = 0; i < *n; i++)
                if (streq(*(char **) (a + i * size), *name)) {
                        *ret = i;
                        return 0;
                }
        void *rule = array_append(rules, n, size);
        if (!rule)
                return -ENOMEM;
        *(char **) rule = TAKE_PTR(*name);
        *ret = *n - 1;
        return 1;
}

/* Where a rule starts, for the errors of policy_finish(). */
static int rule_origin(ParseState *st, char **file, unsigned *line) {
        *line = st->line;
        return free_and_strdup(file, st->file);
}

static int section_begin(ParseState *st, const char *hdr) {
        _cleanup_free_ char *h = strdup(hdr);
        if (!h)
                return -ENOMEM;
        free(st->section_name);
        st->section_name = NULL;

        if (policy_key_find(SECTION_PLAIN, h, NULL)) {
                st->section = SECTION_PLAIN;
                st->section_name = TAKE_PTR(h);
                return 0;
        }
        st->section = SECTION_NONE;

        const char *rest = NULL;
        bool kind = false;
        if ((rest = startswith(h, "kind ")))
                kind = true;
        else if (!(rest = startswith(h, "seal ")))
                return ERR(
                        _("unknown section [%s]; known: [trust], [revocation], [algorithms], [timestamp], "
                          "[signature], [expiry], [classification], [pin], [kind NAME], [seal NAME]"),
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
        size_t i = 0;
        int r;
        if (kind) {
                r = named_rule_get((void **) &p->kind_rules, &p->n_kind_rules, sizeof(KindRule), &name, &i);
                if (r > 0) {
                        KindRule *k = &p->kind_rules[i];
                        k->kind = _CERT_KIND_INVALID;
                        r = rule_origin(st, &k->file, &k->line);
                }
                st->kind_index = i;
        } else {
                r = named_rule_get((void **) &p->seal_rules, &p->n_seal_rules, sizeof(SealRule), &name, &i);
                if (r > 0)
                        r = rule_origin(st, &p->seal_rules[i].file, &p->seal_rules[i].line);
                st->seal_index = i;
        }
        if (r < 0)
                return r;
        st->section = kind ? SECTION_KIND : SECTION_SEAL;
        st->section_name = TAKE_PTR(h);
        return 0;
}

/* Finds key in the table for the current section and hands v to its parser. */
static int handle_key(ParseState *st, const char *key, const char *v) {
        Policy *p = st->p;
        const PolicyKey *k = NULL;
        void *base = p;
        int r;

        switch (st->section) {
        case SECTION_NONE:
                return ERR(_("'%s' outside of a section; put it under a [section] header"), key);
        case SECTION_KIND: {
                KindRule *rule = &p->kind_rules[st->kind_index];
                base = rule;
                k = policy_key_find(SECTION_KIND, NULL, key);
                if (!k) {
                        base = &rule->match;
                        k = policy_key_find(SECTION_MATCH, NULL, key);
                }
                break;
        }
        case SECTION_SEAL: {
                SealRule *rule = &p->seal_rules[st->seal_index];
                const char *sub = NULL;
                if ((sub = startswith(key, "seal-")))
                        base = &rule->seal;
                else if ((sub = startswith(key, "leader-")))
                        base = &rule->leader;
                if (sub)
                        k = policy_key_find(SECTION_MATCH, NULL, sub)
                                    ?: policy_key_find(SECTION_SEAL_MATCH, NULL, sub);
                break;
        }
        default:
                k = policy_key_find(SECTION_PLAIN, st->section_name, key);
        }
        if (!k)
                return ERR(
                        _("unknown key '%s' in section [%s]; see kyso-policy.conf(5)"), key,
                        strempty(st->section_name));
        if (k->once) {
                r = scalar_once(st, key);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        return k->parse(st, k, v, (uint8_t *) base + k->offset);
}

/* One line of the file (buf, changed in place): a comment, a section header or KEY = VALUE. */
static int parse_line(ParseState *st, char *buf) {
        char *l = strstrip(buf);

        if (!*l || *l == '#' || *l == ';')
                return 0;
        if (*l == '[') {
                size_t ll = strlen(l);
                if (l[ll - 1] != ']')
                        return ERR("%s", _("section header without closing ']'"));
                l[ll - 1] = 0;
                return section_begin(st, strstrip(l + 1));
        }
        char *eq = strchr(l, '=');
        if (!eq)
                return ERR(_("expected KEY = VALUE, got '%s'"), l);
        *eq = 0;
        char *key = strstrip(l), *v = strstrip(eq + 1);
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                v[vl - 1] = 0;
                v++;
        }
        if (!*key)
                return ERR("%s", _("a line starts with '=': the key is missing"));
        if (!*v)
                return ERR(_("'%s' has no value"), key);
        return handle_key(st, key, v);
}

int policy_parse_buffer(
        Policy *p, const char *name, const char *data, size_t size, PolicyLoadFlags flags, char ***errors) {
        size_t before = strv_length(errors ? *errors : NULL);
        ParseState state = { .p = p, .file = name, .flags = flags, .errors = errors }, *st = &state;
        int r = 0;

        if (memchr(data, 0, size)) {
                r = ERR("%s", _("the file contains a NUL byte; it must be UTF-8 text"));
                goto finish;
        }

        /* Notepad and other editors start a UTF-8 file with a byte-order mark, invisible in a terminal. */
        size_t start = size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        for (size_t pos = start; pos < size && r >= 0;) {
                const char *nl = memchr(data + pos, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - (data + pos)) : size - pos;
                st->line++;
                _cleanup_free_ char *buf = strndup(data + pos, len);
                if (!buf) {
                        r = -ENOMEM;
                        break;
                }
                pos += len + 1;
                /* A file saved as Windows-1258 or Latin-1 would match nothing: a classification word never
                 * refused, a seal's organisation never found. A line's own error is said instead. */
                bool text = utf8_is_valid(buf);
                size_t n = strv_length(errors ? *errors : NULL);
                r = parse_line(st, buf);
                if (r >= 0 && !text && strv_length(errors ? *errors : NULL) == n)
                        r = ERR("%s",
                                _("this line is not UTF-8 text: save the file as UTF-8 (it may have been saved "
                                  "in another encoding, such as Windows-1258)"));
        }
finish:
        free(st->section_name);
        strv_free(st->seen);
        if (r < 0)
                return r;
        return (int) (strv_length(errors ? *errors : NULL) - before);
}

int policy_test_switches_finish(Policy *p, const char *main, char ***errors) {
        int r = 0;
#if KYSO_TEST_SWITCHES
        if (p->revocation_mode == REVOCATION_OFF && !p->allow_insecure_no_revocation)
                r = policy_add_error(
                        errors, p->revocation_mode_origin ?: main, 0, "%s",
                        _("[revocation] mode = off needs allow-insecure-no-revocation-for-tests = yes; it is "
                          "meant for tests only, the regulation asks for OCSP or CRL checks"));
        if (r >= 0 && p->revocation_mode != REVOCATION_OFF && p->allow_insecure_no_revocation)
                r = policy_add_error(
                        errors, p->allow_insecure_origin ?: main, 0, "%s",
                        _("allow-insecure-no-revocation-for-tests = yes contradicts the revocation mode; "
                          "remove it"));
#endif
        return r;
}
