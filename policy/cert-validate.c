/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "alloc-util.h"
#include "i18n.h"
#include "openssl-util.h"
#include "policy/cert-validate.h"
#include "policy/policy-rules.h"
#include "string-table.h"
#include "string-util.h"

static const char *const cert_status_table[_CERT_STATUS_MAX] = {
        [CERT_STATUS_VALID] = "valid",
        [CERT_STATUS_EXPIRING] = "expiring",
        [CERT_STATUS_EXPIRED] = "expired",
        [CERT_STATUS_NOT_YET_VALID] = "not-yet-valid",
        [CERT_STATUS_REVOKED] = "revoked",
        [CERT_STATUS_UNTRUSTED] = "untrusted",
        [CERT_STATUS_UNKNOWN_REVOCATION] = "unknown-revocation",
        [CERT_STATUS_WEAK_KEY] = "weak-key",
        [CERT_STATUS_WRONG_USAGE] = "wrong-usage",
};

static const char *const revocation_source_table[_REVOCATION_SOURCE_MAX] = {
        [REVOCATION_SOURCE_NONE] = "none",
        [REVOCATION_SOURCE_OCSP] = "ocsp",
        [REVOCATION_SOURCE_CRL] = "crl",
        [REVOCATION_SOURCE_OFF] = "off",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(cert_status, CertStatus);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(revocation_source, RevocationSource);

const char *cert_status_to_api_string(CertStatus s) {
        switch (s) {
        case CERT_STATUS_WEAK_KEY:
        case CERT_STATUS_WRONG_USAGE:
                return "untrusted";
        case CERT_STATUS_UNKNOWN_REVOCATION:
                return "unknown";
        default:
                return cert_status_to_string(s);
        }
}

bool cert_status_is_usable(CertStatus s) {
        return s == CERT_STATUS_VALID || s == CERT_STATUS_EXPIRING;
}

void cert_validation_done(CertValidation *v) {
        if (!v)
                return;
        v->revocation_url = mfree(v->revocation_url);
        v->reason = mfree(v->reason);
        v->reason_code = NULL;
        strv_free(v->reason_params);
        v->reason_params = NULL;
        for (size_t i = 0; i < v->n_proofs; i++)
                free(v->proofs[i].der);
        v->proofs = mfree(v->proofs);
        v->n_proofs = 0;
}

char *cert_display_name(X509 *x) {
        _cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
        if (!b)
                return NULL;
        X509_NAME *n = X509_get_subject_name(x);
        char *cn = x509_subject_entry(x, NID_commonName);
        if (cn)
                return cn;
        X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
        char *data;
        long len = BIO_get_mem_data(b, &data);
        return strndup(data, (size_t) MAX(len, 0L));
}

static void format_time(time_t t, char buf[static 32]) {
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
                snprintf(buf, 32, "?");
}

_printf_(3, 4) static int finish(CertValidation *v, CertStatus status, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = free_and_vasprintf(&v->reason, fmt, ap);
        va_end(ap);
        if (r >= 0) {
                v->status = status;
                v->reason_code = NULL;
                strv_free(v->reason_params);
                v->reason_params = NULL;
        }
        return r;
}

/* finish() with a stable code and its parameters (key, value, ..., NULL): the text is the code's
 * (policy_reason_render()), so that the audit log can render it again in its reader's language. */
_sentinel_ static int finish_coded(CertValidation *v, CertStatus status, const char *code, ...) {
        va_list ap;
        int r;

        va_start(ap, code);
        r = policy_reason_setv(code, ap, &v->reason_params, &v->reason);
        va_end(ap);
        if (r < 0)
                return r;
        v->reason_code = code;
        v->status = status;
        return 0;
}

/* Key strength by the policy. On failure, curve_out names a curve the policy does not allow, or type_out a
 * key type kyso does not support (neither: too few bits). */
static bool
key_ok(const Policy *p, EVP_PKEY *key, int *ret_bits, char curve_out[static 32], const char **type_out) {
        int id = EVP_PKEY_get_base_id(key);
        *ret_bits = EVP_PKEY_get_bits(key);
        curve_out[0] = 0;
        *type_out = NULL;
        if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS)
                return *ret_bits >= (int) p->min_rsa_bits;
        if (id == EVP_PKEY_EC) {
                char group[80];
                size_t gl = 0;
                if (EVP_PKEY_get_group_name(key, group, sizeof group, &gl) != 1)
                        return false;
                int nid = OBJ_sn2nid(group);
                if (nid == NID_undef)
                        nid = OBJ_ln2nid(group);
                const char *nist = EC_curve_nid2nist(nid);
                snprintf(curve_out, 32, "%.31s", nist ?: group);
                if (!nist)
                        return false;
                return strv_contains(p->ec_curves, nist);
        }
        *type_out = id != NID_undef ? OBJ_nid2sn(id) : EVP_PKEY_get0_type_name(key);
        if (!*type_out)
                *type_out = "?";
        return false;
}

/* The policy's hashes as OpenSSL names them in messages ("SHA256, SHA384"). */
static char *hashes_text(const Policy *p) {
        _cleanup_free_ char *s = NULL;
        STRV_FOREACH (h, p->hashes) {
                char *n;
                const EVP_MD *md = EVP_get_digestbyname(*h);
                if (asprintf(
                            &n, "%s%s%s", strempty(s), s ? ", " : "",
                            md ? OBJ_nid2sn(EVP_MD_get_type(md)) : *h) < 0)
                        return NULL;
                free(s);
                s = n;
        }
        return TAKE_PTR(s);
}

static int check_algorithms(const Policy *p, X509 *leaf, STACK_OF(X509) * chain, CertValidation *v) {
        int n = sk_X509_num(chain);
        for (int i = 0; i < n; i++) {
                X509 *x = sk_X509_value(chain, i);
                _cleanup_free_ char *who = cert_display_name(x);
                bool is_leaf = i == 0;
                int bits = 0;
                char curve[32] = "";
                const char *type = NULL;
                EVP_PKEY *key = X509_get0_pubkey(x);
                if (!key || !key_ok(p, key, &bits, curve, &type)) {
                        const char *ca = is_leaf ? "no" : "yes";
                        char b[16], min[16];
                        if (type)
                                return finish_coded(
                                        v, CERT_STATUS_WEAK_KEY, REASON_CERT_KEY_TYPE, "certificate",
                                        strna(who), "ca", ca, "type", type, NULL);
                        if (curve[0])
                                return finish_coded(
                                        v, CERT_STATUS_WEAK_KEY, REASON_CERT_KEY_CURVE, "certificate",
                                        strna(who), "ca", ca, "curve", curve, NULL);
                        snprintf(b, sizeof b, "%d", bits);
                        snprintf(min, sizeof min, "%u", p->min_rsa_bits);
                        return finish_coded(
                                v, CERT_STATUS_WEAK_KEY, REASON_CERT_KEY_WEAK, "certificate", strna(who),
                                "ca", ca, "bits", b, "min_bits", min, NULL);
                }
                /* The trust anchor's self-signature proves nothing, so its hash does not matter. */
                if (i == n - 1 && X509_check_issued(x, x) == X509_V_OK)
                        continue;
                int md_nid = NID_undef, pk_nid = NID_undef, secbits = 0;
                uint32_t flags = 0;
                if (X509_get_signature_info(x, &md_nid, &pk_nid, &secbits, &flags) != 1 ||
                    !policy_hash_allowed(p, md_nid)) {
                        _cleanup_free_ char *allowed = hashes_text(p);
                        ERR_clear_error();
                        return finish_coded(
                                v, CERT_STATUS_WEAK_KEY, REASON_CERT_HASH, "certificate", strna(who), "hash",
                                md_nid != NID_undef ? OBJ_nid2sn(md_nid) : "?", "allowed", strna(allowed),
                                NULL);
                }
        }
        return 1;
}

static int check_usage(X509 *x, CertValidateFlags flags, CertValidation *v) {
        _cleanup_free_ char *who = cert_display_name(x);
        uint32_t ext = X509_get_extension_flags(x);
        if (flags & CERT_VALIDATE_DOCUMENT_SIGNING) {
                uint32_t ku = X509_get_key_usage(x);
                bool ds = (ext & EXFLAG_KUSAGE) && (ku & KU_DIGITAL_SIGNATURE),
                     nr = (ext & EXFLAG_KUSAGE) && (ku & KU_NON_REPUDIATION);
                /* Name the bit that is missing: digitalSignature alone is a log-in certificate. */
                if (!ds || !nr)
                        return finish_coded(
                                v, CERT_STATUS_WRONG_USAGE, REASON_CERT_KEY_USAGE, "certificate", strna(who),
                                "missing",
                                ds   ? "nonRepudiation"
                                : nr ? "digitalSignature"
                                     : "digitalSignature nonRepudiation",
                                NULL);
        }
        if (flags & CERT_VALIDATE_TIMESTAMPING) {
                if (!(ext & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(x) & XKU_TIMESTAMP))
                        return finish_coded(
                                v, CERT_STATUS_WRONG_USAGE, REASON_CERT_NOT_TIMESTAMPING, "certificate",
                                strna(who), NULL);
        }
        return 1;
}

int cert_check_signing_usage(X509 *cert, char **ret_reason) {
        _cleanup_(cert_validation_done) CertValidation v = {};
        int r = check_usage(cert, CERT_VALIDATE_DOCUMENT_SIGNING, &v);
        if (r <= 0)
                return r < 0 ? r : (*ret_reason = TAKE_PTR(v.reason), 0);
        return 1;
}

int cert_check_rsa_padding(const Policy *p, X509 *cert, char **ret_reason) {
        EVP_PKEY *key = X509_get0_pubkey(cert);

        if (!p || !key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA_PSS || p->rsa_padding == RSA_PADDING_PSS)
                return 1;
        *ret_reason = strdup(
                _("The key of this certificate can only make RSA-PSS signatures, but the policy asks "
                  "for RSA PKCS#1 v1.5 signatures (rsa-padding = pkcs1). Use another certificate, or ask "
                  "your administrator to set rsa-padding = pss."));
        return *ret_reason ? 0 : -ENOMEM;
}

static char *first_url(STACK_OF(OPENSSL_STRING) * s) {
        for (int i = 0; s && i < sk_OPENSSL_STRING_num(s); i++) {
                const char *u = sk_OPENSSL_STRING_value(s, i);
                if (startswith(u, "http://") || startswith(u, "https://"))
                        return strdup(u);
        }
        return NULL;
}

static char *crl_url_of(X509 *x) {
        STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
        char *url = NULL;
        for (int i = 0; dps && !url && i < sk_DIST_POINT_num(dps); i++) {
                DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
                if (!dp->distpoint || dp->distpoint->type != 0)
                        continue;
                GENERAL_NAMES *names = dp->distpoint->name.fullname;
                for (int j = 0; !url && j < sk_GENERAL_NAME_num(names); j++) {
                        GENERAL_NAME *g = sk_GENERAL_NAME_value(names, j);
                        if (g->type != GEN_URI)
                                continue;
                        const char *u = (const char *) ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
                        int len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
                        if (len > 0 && !memchr(u, 0, (size_t) len) &&
                            (startswith(u, "http://") || startswith(u, "https://")))
                                url = strndup(u, (size_t) len);
                }
        }
        sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
        return url;
}

/* Revocation status of x (issued by issuer) at time 'at'. Methods follow the policy's mode; a CA
 * certificate that names no server for the mode's only method falls back to the other one, since CAs
 * commonly publish only a CRL. */
static int check_revocation(
        const Policy *p, X509 *x, X509 *issuer, STACK_OF(X509) * chain, bool is_leaf, time_t at,
        CertValidateFlags flags, CertValidation *v) {
        _cleanup_free_ char *ocsp_url = NULL, *crl_url = NULL, *errors = NULL, *who = cert_display_name(x);
        STACK_OF(OPENSSL_STRING) *ocsp_list = X509_get1_ocsp(x);
        _cleanup_free_ char *ocsp_raw = first_url(ocsp_list), *crl_raw = crl_url_of(x);
        X509_email_free(ocsp_list);

        if (ocsp_raw && !(ocsp_url = policy_rewrite_url(p, ocsp_raw)))
                return -ENOMEM;
        if (crl_raw && !(crl_url = policy_rewrite_url(p, crl_raw)))
                return -ENOMEM;

        bool use_ocsp =
                p->revocation_mode == REVOCATION_OCSP_THEN_CRL || p->revocation_mode == REVOCATION_OCSP;
        bool use_crl =
                p->revocation_mode == REVOCATION_OCSP_THEN_CRL || p->revocation_mode == REVOCATION_CRL;
        if (!is_leaf && p->revocation_mode == REVOCATION_OCSP && !ocsp_url)
                use_crl = true;
        if (!is_leaf && p->revocation_mode == REVOCATION_CRL && !crl_url)
                use_ocsp = true;

        const struct {
                bool use;
                const char *url;
                RevocationSource src;
        } methods[] = {
                { use_ocsp, ocsp_url, REVOCATION_SOURCE_OCSP },
                { use_crl, crl_url, REVOCATION_SOURCE_CRL },
        };

        for (size_t m = 0; m < ELEMENTSOF(methods); m++) {
                if (!methods[m].use || !methods[m].url)
                        continue;
                RevocationResult res = REVOCATION_RESULT_FAILED;
                time_t revoked_at = 0;
                _cleanup_free_ char *err = NULL, *der = NULL;
                size_t der_size = 0;
                bool keep = flags & CERT_VALIDATE_KEEP_PROOFS;
                int r = methods[m].src == REVOCATION_SOURCE_OCSP
                                ? ocsp_check_keep(
                                          p, methods[m].url, x, issuer, chain,
                                          !(flags & CERT_VALIDATE_FRESH_OCSP), &res, &revoked_at, &err,
                                          keep ? &der : NULL, &der_size)
                                : crl_check_keep(
                                          p, methods[m].url, x, issuer, &res, &revoked_at, &err,
                                          keep ? &der : NULL, &der_size);
                if (r < 0)
                        return r;
                if (res == REVOCATION_RESULT_GOOD && der) {
                        RevocationProof *proof = ARRAY_APPEND(v->proofs, v->n_proofs);
                        if (!proof)
                                return -ENOMEM;
                        *proof = (RevocationProof){
                                .der = (uint8_t *) TAKE_PTR(der),
                                .size = der_size,
                                .crl = methods[m].src == REVOCATION_SOURCE_CRL,
                        };
                }
                if (res == REVOCATION_RESULT_FAILED) {
                        char *joined;
                        if (asprintf(&joined, "%s%s%s", strempty(errors), errors ? "; " : "", strna(err)) <
                            0)
                                return -ENOMEM;
                        free(errors);
                        errors = joined;
                        continue;
                }
                /* Only the leaf's source is reported; CA checks happen silently when good. */
                if (is_leaf || res == REVOCATION_RESULT_REVOKED) {
                        v->revocation_source = methods[m].src;
                        free(v->revocation_url);
                        v->revocation_url = strdup(methods[m].url);
                        if (!v->revocation_url)
                                return -ENOMEM;
                }
                if (res == REVOCATION_RESULT_REVOKED) {
                        char when[32];
                        format_time(revoked_at, when);
                        if (revoked_at != (time_t) -1 && revoked_at > at) {
                                /* Revoked, but after the time asked about: it was good then. */
                                v->revoked_later = true;
                                v->revoked_at = revoked_at;
                                return 1;
                        }
                        v->revoked_at = revoked_at;
                        return finish_coded(
                                v, CERT_STATUS_REVOKED, is_leaf ? REASON_CERT_REVOKED : REASON_CA_REVOKED,
                                "certificate", strna(who), "time", when, "revocation_reason", strna(err),
                                "source", methods[m].src == REVOCATION_SOURCE_OCSP ? "ocsp" : "crl", "url",
                                methods[m].url, NULL);
                }
                return 1;
        }

        if (!errors)
                return finish_coded(
                        v, CERT_STATUS_UNKNOWN_REVOCATION, REASON_REVOCATION_NO_SERVER, "certificate",
                        strna(who), "mode",
                        p->revocation_mode == REVOCATION_OCSP  ? "ocsp"
                        : p->revocation_mode == REVOCATION_CRL ? "crl"
                                                               : "ocsp-crl",
                        NULL);
        free(v->revocation_url);
        v->revocation_url = strdup(ocsp_url && use_ocsp ? ocsp_url : strempty(crl_url));
        return finish_coded(
                v, CERT_STATUS_UNKNOWN_REVOCATION, REASON_REVOCATION_UNKNOWN, "certificate", strna(who),
                "why", errors, NULL);
}

/* The path from cert to one of the policy's roots as of time 'at': our roots only, intermediates from the
 * caller and the policy. Returns 1 with *ret_chain, 0 with v finished (untrusted, or a CA of the path
 * expired or not yet valid), or a negative errno. */
static int build_path(
        const Policy *p, X509 *cert, STACK_OF(X509) * untrusted, time_t at, const char *who,
        CertValidation *v, STACK_OF(X509) * *ret_chain) {
        _cleanup_(X509_STORE_freep) X509_STORE *store = X509_STORE_new();
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *pool = sk_X509_new_null();

        if (!store || !pool || !ctx)
                return -ENOMEM;
        for (int i = 0; i < sk_X509_num(p->trusted_roots); i++)
                if (X509_STORE_add_cert(store, sk_X509_value(p->trusted_roots, i)) != 1)
                        return -ENOMEM;
        for (int i = 0; i < sk_X509_num(untrusted); i++)
                if (!X509_add_cert(pool, sk_X509_value(untrusted, i), X509_ADD_FLAG_UP_REF))
                        return -ENOMEM;
        for (int i = 0; i < sk_X509_num(p->intermediates); i++)
                if (!X509_add_cert(pool, sk_X509_value(p->intermediates, i), X509_ADD_FLAG_UP_REF))
                        return -ENOMEM;
        if (X509_STORE_CTX_init(ctx, store, cert, pool) != 1)
                return -ENOMEM;
        /* Not X509_V_FLAG_X509_STRICT: its encoding rules (e.g. AKID everywhere) would refuse older CA
         * hierarchies on form alone; signatures, validity, CA flags and path length are checked anyway. */
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_USE_CHECK_TIME);
        X509_STORE_CTX_set_time(ctx, 0, at);
        if (X509_verify_cert(ctx) != 1) {
                int err = X509_STORE_CTX_get_error(ctx), depth = X509_STORE_CTX_get_error_depth(ctx);
                X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
                _cleanup_free_ char *badname = bad ? cert_display_name(bad) : NULL;
                ERR_clear_error();
                if (depth > 0 && err == X509_V_ERR_CERT_HAS_EXPIRED)
                        return finish_coded(
                                v, CERT_STATUS_EXPIRED, REASON_CA_EXPIRED, "ca", strna(badname),
                                "certificate", strna(who), NULL);
                if (depth > 0 && err == X509_V_ERR_CERT_NOT_YET_VALID)
                        return finish_coded(
                                v, CERT_STATUS_NOT_YET_VALID, REASON_CA_NOT_YET_VALID, "ca", strna(badname),
                                "certificate", strna(who), NULL);
                return finish_coded(
                        v, CERT_STATUS_UNTRUSTED, REASON_CERT_UNTRUSTED, "certificate", strna(who), "why",
                        X509_verify_cert_error_string(err), NULL);
        }
        *ret_chain = X509_STORE_CTX_get1_chain(ctx);
        return *ret_chain ? 1 : -ENOMEM;
}

/* Revocation of every certificate of the path but the trust anchor, leaf first, at time 'at'. Returns 1 when
 * none is revoked by then, 0 with v finished, or a negative errno. */
static int check_path_revocation(
        const Policy *p, STACK_OF(X509) * chain, time_t at, CertValidateFlags flags, CertValidation *v) {
        int n = sk_X509_num(chain);
        for (int i = 0; i + 1 < n; i++) {
                int r = check_revocation(
                        p, sk_X509_value(chain, i), sk_X509_value(chain, i + 1), chain, i == 0, at, flags,
                        v);
                if (r <= 0)
                        return r;
        }
        return 1;
}

/* An expired certificate may also have been revoked, which matters more to whoever judges what it signed:
 * look it up with the path as of the last moment it was valid. Only a revocation changes the verdict; a
 * status that cannot be established leaves it "expired". */
static int expired_but_revoked(
        const Policy *p, X509 *cert, STACK_OF(X509) * untrusted, time_t not_after, time_t at,
        const char *who, CertValidation *v) {
        _cleanup_(cert_validation_done) CertValidation rv = { .at = at };
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *chain = NULL;
        char buf[32];
        /* OpenSSL counts notAfter itself as expired. */
        int r = build_path(p, cert, untrusted, not_after - 1, who, &rv, &chain);
        if (r <= 0)
                return r;
        r = check_path_revocation(p, chain, at, 0, &rv);
        if (r < 0)
                return r;
        if (r > 0 || rv.status != CERT_STATUS_REVOKED)
                return 0;
        format_time(not_after, buf);
        if (rv.reason_code) {
                /* The revocation's code, and when it expired. */
                if (strv_extend(&rv.reason_params, "expired") < 0 || strv_extend(&rv.reason_params, buf) < 0)
                        return -ENOMEM;
                free(v->reason);
                r = policy_reason_render(rv.reason_code, (const char *const *) rv.reason_params, &v->reason);
                if (r < 0) {
                        v->reason = NULL;
                        return r;
                }
                v->status = CERT_STATUS_REVOKED;
                v->reason_code = rv.reason_code;
                strv_free(v->reason_params);
                v->reason_params = TAKE_PTR(rv.reason_params);
        } else {
                r = finish(v, CERT_STATUS_REVOKED, _("%s It has also expired, on %s."), rv.reason, buf);
                if (r < 0)
                        return r;
        }
        v->revocation_source = rv.revocation_source;
        v->revoked_at = rv.revoked_at;
        v->revocation_url = TAKE_PTR(rv.revocation_url);
        return 0;
}

int cert_validate(
        const Policy *p, X509 *cert, STACK_OF(X509) * untrusted, time_t at, CertValidateFlags flags,
        CertValidation *ret) {
        _cleanup_(cert_validation_done) CertValidation v = {};
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_free_ char *who = cert_display_name(cert);
        bool revocation = p->revocation_mode != REVOCATION_OFF && !(flags & CERT_VALIDATE_NO_REVOCATION);
        char buf[32];
        int r;

        if (at == 0)
                at = time(NULL);
        v.at = at;

        time_t nb = asn1_time_seconds(X509_get0_notBefore(cert)),
               na = asn1_time_seconds(X509_get0_notAfter(cert));
        v.days_left = na == (time_t) -1 ? 0 : (int) ((na - at) / 86400 - (na < at ? 1 : 0));
        if (na == (time_t) -1 || nb == (time_t) -1) {
                r =
                        finish(&v, CERT_STATUS_UNTRUSTED,
                               _("The certificate of %s has an unreadable validity period."), strna(who));
                goto out;
        }
        if (at > na) {
                format_time(na, buf);
                r = finish_coded(
                        &v, CERT_STATUS_EXPIRED, REASON_CERT_EXPIRED, "certificate", strna(who), "time", buf,
                        NULL);
                if (r >= 0 && revocation && (flags & CERT_VALIDATE_EXPIRED_REVOCATION))
                        r = expired_but_revoked(p, cert, untrusted, na, at, who, &v);
                goto out;
        }
        if (at < nb) {
                format_time(nb, buf);
                r = finish_coded(
                        &v, CERT_STATUS_NOT_YET_VALID, REASON_CERT_NOT_YET_VALID, "certificate", strna(who),
                        "time", buf, NULL);
                goto out;
        }

        r = build_path(p, cert, untrusted, at, who, &v, &chain);
        if (r <= 0)
                goto out;
        r = check_algorithms(p, cert, chain, &v);
        if (r <= 0)
                goto out;
        r = check_usage(cert, flags, &v);
        if (r <= 0)
                goto out;

        if (!revocation)
                v.revocation_source = p->revocation_mode == REVOCATION_OFF ? REVOCATION_SOURCE_OFF
                                                                           : REVOCATION_SOURCE_NONE;
        else {
                r = check_path_revocation(p, chain, at, flags, &v);
                if (r <= 0)
                        goto out;
        }

        format_time(na, buf);
        if (v.days_left < (int) p->expiry_warning_days)
                r = finish(
                        &v, CERT_STATUS_EXPIRING,
                        _("The certificate of %s is valid but expires on %s (%d days left). Ask the CA to "
                          "renew it now: the policy warns %u days before expiry."),
                        strna(who), buf, v.days_left, p->expiry_warning_days);
        else
                r = finish(
                        &v, CERT_STATUS_VALID, _("The certificate of %s is valid until %s (%d days left)."),
                        strna(who), buf, v.days_left);
        if (r >= 0 && v.revoked_later) {
                /* Valid at 'at' but revoked since: an auditor must see both. */
                char *s;
                format_time(v.revoked_at, buf);
                if (asprintf(&s, _("%s It was revoked later, on %s."), v.reason, buf) < 0)
                        return -ENOMEM;
                free(v.reason);
                v.reason = s;
        }
out:
        if (r < 0)
                return r;
        *ret = v;
        v = (CertValidation){};
        return 0;
}
