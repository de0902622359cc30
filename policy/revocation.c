/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Revocation status from OCSP (RFC 6960) and CRLs (RFC 5280), fetched with OpenSSL's HTTP client. Every
 * failure is reported with the server it concerns, so the person at the desk knows what is down. */
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "fileio.h"
#include "hex.h"
#include "i18n.h"
#include "openssl-util.h"
#include "policy/cert-validate.h"
#include "string-table.h"

#define OCSP_MAX_RESPONSE (256 * 1024)
#define CRL_MAX_SIZE (32 * 1024 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(OCSP_CERTID *, OCSP_CERTID_free);

/* The reason of the last queued OpenSSL error, without codes ("connect failure", "transfer timeout"). */
static char *openssl_reason(void) {
        unsigned long e, last = 0;
        while ((e = ERR_get_error()) != 0)
                last = e;
        const char *r = last ? ERR_reason_error_string(last) : NULL;
        return strdup(r ?: "unknown error");
}

int http_transfer(
        const Policy *p, const char *url, const char *content_type, const void *req, size_t req_size,
        const char *expected_content_type, unsigned timeout_sec, size_t max_size, char **ret_data,
        size_t *ret_size, char **ret_error) {
        _cleanup_free_ char *host = NULL, *port = NULL, *path = NULL, *query = NULL, *full_path = NULL,
                            *detail = NULL;
        _cleanup_(BIO_free_allp) BIO *reqbio = NULL, *resp = NULL;
        int ssl = 0;
        char *h = NULL, *po = NULL, *pa = NULL, *q = NULL, *f = NULL, *u = NULL;

        ERR_clear_error();
        if (OSSL_HTTP_parse_url(url, &ssl, &u, &h, &po, NULL, &pa, &q, &f) != 1) {
                ERR_clear_error();
                if (asprintf(ret_error, _("the address %s is not a valid URL"), url) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        /* OpenSSL allocated these with OPENSSL_malloc; copy so that one free() fits all. */
        host = strdup(h);
        port = strdup(po);
        path = strdup(pa);
        query = q ? strdup(q) : NULL;
        OPENSSL_free(u);
        OPENSSL_free(h);
        OPENSSL_free(po);
        OPENSSL_free(pa);
        OPENSSL_free(q);
        OPENSSL_free(f);
        if (!host || !port || !path)
                return -ENOMEM;
        if (ssl) {
                if (asprintf(
                            ret_error,
                            _("%s uses https, which kyso does not use for OCSP and CRLs (they are "
                              "signed); use the http address"),
                            url) < 0)
                        *ret_error = NULL;
                return -EPROTONOSUPPORT;
        }
        if (asprintf(&full_path, "%s%s%s", path, isempty(query) ? "" : "?", strempty(query)) < 0)
                return -ENOMEM;
        if (req) {
                reqbio = BIO_new_mem_buf(req, (int) req_size);
                if (!reqbio)
                        return -ENOMEM;
        }
        /* expect_asn1 = 1: OCSP responses and CRLs are DER, and it makes OpenSSL read the whole answer into
         * memory within the timeout (a streamed socket BIO would need retry handling here).
         * proxy "" means none: NULL would make OpenSSL read http_proxy from the environment. */
        resp = OSSL_HTTP_transfer(
                NULL, host, port, full_path, 0, p->proxy ?: "", NULL, NULL, NULL, NULL, NULL, 0, NULL,
                content_type, reqbio, expected_content_type, 1, max_size, (int) timeout_sec, 0);
        if (!resp) {
                detail = openssl_reason();
                if (asprintf(ret_error, _("%s gave no usable answer (%s)"), url, strna(detail)) < 0)
                        *ret_error = NULL;
                return -EIO;
        }
        char *data = NULL;
        size_t size = 0, alloc = 0;
        for (;;) {
                if (alloc - size < 4096) {
                        alloc = alloc ? alloc * 2 : 16384;
                        if (alloc > max_size + 4096) {
                                free(data);
                                if (asprintf(
                                            ret_error, _("%s sent an answer larger than %zu bytes"), url,
                                            max_size) < 0)
                                        *ret_error = NULL;
                                return -EFBIG;
                        }
                        char *n = realloc(data, alloc);
                        if (!n) {
                                free(data);
                                return -ENOMEM;
                        }
                        data = n;
                }
                int n = BIO_read(resp, data + size, (int) (alloc - size));
                if (n <= 0)
                        break;
                size += (size_t) n;
                if (size > max_size) {
                        free(data);
                        if (asprintf(
                                    ret_error, _("%s sent an answer larger than %zu bytes"), url, max_size) <
                            0)
                                *ret_error = NULL;
                        return -EFBIG;
                }
        }
        *ret_data = data;
        *ret_size = size;
        return 0;
}

static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(ret_error, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return 0;
}

static const char *const crl_reason_table[] = {
        [OCSP_REVOKED_STATUS_KEYCOMPROMISE] = N_("key compromise"),
        [OCSP_REVOKED_STATUS_CACOMPROMISE] = N_("CA compromise"),
        [OCSP_REVOKED_STATUS_AFFILIATIONCHANGED] = N_("affiliation changed"),
        [OCSP_REVOKED_STATUS_SUPERSEDED] = N_("superseded"),
        [OCSP_REVOKED_STATUS_CESSATIONOFOPERATION] = N_("cessation of operation"),
        [OCSP_REVOKED_STATUS_CERTIFICATEHOLD] = N_("certificate on hold (suspended)"),
};

static const char *crl_reason_text(int reason) {
        return string_table_get(crl_reason_table, ELEMENTSOF(crl_reason_table), reason, N_("unspecified"));
}

/* RFC 5280 3.3 lets a CA drop a certificate from its CRLs once it has expired, and RFC 6960 4.4.4 lets an
 * OCSP responder forget it: for an expired certificate, "not listed" or "good" is evidence only from a
 * source that says it keeps expired certificates, back to a date no later than this one's notAfter. Without
 * that, a certificate revoked and then expired would look as if it had never been revoked. */
static bool expired_now(X509 *cert, time_t *ret_not_after) {
        time_t na = asn1_time_seconds(X509_get0_notAfter(cert));
        *ret_not_after = na;
        return na != (time_t) -1 && time(NULL) > na;
}

/* Whether a keep-since time (expiredCertsOnCRL, archiveCutoff) covers a certificate that expired at na. */
static bool keeps_since(const ASN1_TIME *since, time_t na) {
        time_t t = since ? asn1_time_seconds(since) : (time_t) -1;
        return t != (time_t) -1 && t <= na;
}

bool ocsp_covers_expired(OCSP_SINGLERESP *single, X509 *cert) {
        time_t na;
        if (!expired_now(cert, &na))
                return true;
        _cleanup_(ASN1_GENERALIZEDTIME_freep) ASN1_GENERALIZEDTIME *cutoff =
                OCSP_SINGLERESP_get1_ext_d2i(single, NID_id_pkix_OCSP_archiveCutoff, NULL, NULL);
        return keeps_since(cutoff, na);
}

bool crl_covers_expired(X509_CRL *crl, X509 *cert) {
        time_t na;
        if (!expired_now(cert, &na))
                return true;
        /* expiredCertsOnCRL (X.509 9.6.2, id-ce 60), unknown to OpenSSL: a bare GeneralizedTime. */
        _cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *oid = OBJ_txt2obj("2.5.29.60", 1);
        int i = oid ? X509_CRL_get_ext_by_OBJ(crl, oid, -1) : -1;
        if (i < 0)
                return false;
        ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(X509_CRL_get_ext(crl, i));
        const unsigned char *q = ASN1_STRING_get0_data(data);
        _cleanup_(ASN1_GENERALIZEDTIME_freep) ASN1_GENERALIZEDTIME *since =
                d2i_ASN1_GENERALIZEDTIME(NULL, &q, ASN1_STRING_length(data));
        return keeps_since(since, na);
}

/* The answer about cert in a response: responders may name it by a CertID hashed with another algorithm
 * than the SHA-1 of the request, so each answer is compared with the CertID made with its own hash. */
static OCSP_SINGLERESP *find_single(OCSP_BASICRESP *bs, X509 *cert, X509 *issuer) {
        for (int i = 0; i < OCSP_resp_count(bs); i++) {
                OCSP_SINGLERESP *single = OCSP_resp_get0(bs, i);
                const OCSP_CERTID *cid = single ? OCSP_SINGLERESP_get0_id(single) : NULL;
                ASN1_OBJECT *md_obj = NULL;
                if (!cid || OCSP_id_get0_info(NULL, &md_obj, NULL, NULL, (OCSP_CERTID *) cid) != 1)
                        continue;
                int nid = OBJ_obj2nid(md_obj);
                if (nid != NID_sha1 && nid != NID_sha256 && nid != NID_sha384 && nid != NID_sha512)
                        continue;
                _cleanup_(OCSP_CERTID_freep) OCSP_CERTID *mine =
                        OCSP_cert_to_id(EVP_get_digestbynid(nid), cert, issuer);
                if (mine && OCSP_id_cmp(mine, cid) == 0)
                        return single;
        }
        ERR_clear_error();
        return NULL;
}

static X509_STORE *roots_store(const Policy *p) {
        X509_STORE *store = X509_STORE_new();
        if (!store)
                return NULL;
        for (int i = 0; i < sk_X509_num(p->trusted_roots); i++)
                if (X509_STORE_add_cert(store, sk_X509_value(p->trusted_roots, i)) != 1) {
                        X509_STORE_free(store);
                        return NULL;
                }
        return store;
}

static char *cache_file_path(const Policy *p, const char *kind, const void *key, size_t key_size);

/* The OCSP response cache: one file per server and certificate, <cache>/ocsp/<SHA-256 of URL and
 * CertID>.der, holding the DER response as the server sent it. Only "good" answers with a nextUpdate are
 * kept: revoked is rare and costs one query, and an answer without nextUpdate says that newer information is
 * always there (RFC 6960 2.4). */
static char *ocsp_cache_path(const Policy *p, const char *url, OCSP_CERTID *id) {
        _cleanup_free_ unsigned char *key = NULL;
        unsigned char *der = NULL;
        size_t ulen = strlen(url);
        int len = i2d_OCSP_CERTID(id, &der);
        if (len <= 0)
                return NULL;
        key = malloc(ulen + 1 + (size_t) len);
        if (!key) {
                OPENSSL_free(der);
                return NULL;
        }
        memcpy(key, url, ulen + 1); /* the NUL separates URL and CertID */
        memcpy(key + ulen + 1, der, (size_t) len);
        OPENSSL_free(der);
        return cache_file_path(p, "ocsp", key, ulen + 1 + (size_t) len);
}

/* Whether the cached response at path still proves that cert is good, now. The cache is the user's, so a
 * cached answer is believed only after the checks of a fresh one (signature by the CA or its responder,
 * about this certificate, within ocsp-max-age, thisUpdate/nextUpdate), except the nonce: that proved the
 * answer fresh when it was fetched; nextUpdate and ocsp-max-age bound it since. No skew allowance past
 * nextUpdate: the server said when it would know more. Any failure only means "ask the server". */
static bool ocsp_cache_good(
        const Policy *p, const char *path, X509 *cert, X509 *issuer, STACK_OF(X509) * chain, char **ret_der,
        size_t *ret_der_size) {
        _cleanup_free_ char *data = NULL;
        _cleanup_(OCSP_RESPONSE_freep) OCSP_RESPONSE *resp = NULL;
        _cleanup_(OCSP_BASICRESP_freep) OCSP_BASICRESP *bs = NULL;
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL;
        size_t size = 0;
        bool good = false;

        if (read_full_file(path, OCSP_MAX_RESPONSE, &data, &size) < 0)
                return false;
        const unsigned char *q = (const unsigned char *) data;
        resp = d2i_OCSP_RESPONSE(NULL, &q, (long) size);
        if (resp && OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL)
                bs = OCSP_response_get1_basic(resp);
        store = bs ? roots_store(p) : NULL;
        if (store && OCSP_basic_verify(bs, chain, store, 0) > 0) {
                OCSP_SINGLERESP *single = find_single(bs, cert, issuer);
                int reason = -1;
                if (single && OCSP_single_get0_status(single, &reason, NULL, &thisupd, &nextupd) ==
                                      V_OCSP_CERTSTATUS_GOOD) {
                        time_t now = time(NULL), made = asn1_time_seconds(thisupd),
                               next = asn1_time_seconds(nextupd);
                        good = made != (time_t) -1 && next != (time_t) -1 &&
                               made <= now + (time_t) p->clock_skew_sec &&
                               now - made <= (time_t) p->ocsp_max_age_sec && now < next &&
                               ocsp_covers_expired(single, cert);
                }
        }
        ERR_clear_error();
        if (good && ret_der) {
                *ret_der = TAKE_PTR(data);
                *ret_der_size = size;
        }
        return good;
}

/* Keeps a fresh "good" answer for ocsp_cache_good(). A cache that cannot be written only costs a query next
 * time; write_file_atomic() replaces a corrupt or outdated file whole. */
static void
ocsp_cache_store(const char *path, const ASN1_GENERALIZEDTIME *nextupd, const char *data, size_t size) {
        if (!path || !nextupd)
                return;
        (void) mkdir_parents(path, 0700);
        (void) write_file_atomic(path, data, size, 0600);
}

/* A fetched "revoked" answer: the "good" one kept before must not be used again. */
static void ocsp_cache_forget(const char *path) {
        if (path)
                (void) unlink(path);
}

int ocsp_check(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, STACK_OF(X509) * chain,
        RevocationResult *ret_result, time_t *ret_revoked_at, char **ret_error) {
        return ocsp_check_full(p, url, cert, issuer, chain, true, ret_result, ret_revoked_at, ret_error);
}

int ocsp_check_full(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, STACK_OF(X509) * chain, bool use_cache,
        RevocationResult *ret_result, time_t *ret_revoked_at, char **ret_error) {
        return ocsp_check_keep(
                p, url, cert, issuer, chain, use_cache, ret_result, ret_revoked_at, ret_error, NULL, NULL);
}

int ocsp_check_keep(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, STACK_OF(X509) * chain, bool use_cache,
        RevocationResult *ret_result, time_t *ret_revoked_at, char **ret_error, char **ret_der,
        size_t *ret_der_size) {
        _cleanup_(OCSP_REQUEST_freep) OCSP_REQUEST *req = NULL;
        _cleanup_(OCSP_RESPONSE_freep) OCSP_RESPONSE *resp = NULL;
        _cleanup_(OCSP_BASICRESP_freep) OCSP_BASICRESP *bs = NULL;
        _cleanup_(OCSP_CERTID_freep) OCSP_CERTID *id = NULL;
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        _cleanup_free_ char *data = NULL, *detail = NULL, *cpath = NULL;
        _cleanup_free_ uint8_t *reqder = NULL;
        size_t size = 0, reqder_size;
        int r;

        *ret_error = NULL;
        id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
        req = OCSP_REQUEST_new();
        if (!id || !req)
                return -ENOMEM;
        cpath = ocsp_cache_path(p, url, id);
        if (use_cache && cpath && ocsp_cache_good(p, cpath, cert, issuer, chain, ret_der, ret_der_size)) {
                *ret_result = REVOCATION_RESULT_GOOD;
                return 0;
        }
        OCSP_CERTID *id2 = OCSP_CERTID_dup(id);
        if (!id2 || !OCSP_request_add0_id(req, id2)) {
                OCSP_CERTID_free(id2);
                return -ENOMEM;
        }
        if (OCSP_request_add1_nonce(req, NULL, -1) != 1)
                return -ENOMEM;
        unsigned char *der = NULL;
        int len = i2d_OCSP_REQUEST(req, &der);
        r = openssl_der_take(der, len, &reqder, &reqder_size);
        if (r < 0)
                return r;

        r = http_transfer(
                p, url, "application/ocsp-request", reqder, reqder_size, "application/ocsp-response",
                p->ocsp_timeout_sec, OCSP_MAX_RESPONSE, &data, &size, &detail);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret_result = REVOCATION_RESULT_FAILED;
                return set_error(ret_error, _("OCSP server: %s"), strna(detail));
        }

        const unsigned char *q = (const unsigned char *) data;
        resp = d2i_OCSP_RESPONSE(NULL, &q, (long) size);
        ERR_clear_error();
        *ret_result = REVOCATION_RESULT_FAILED;
        if (!resp)
                return set_error(
                        ret_error, _("OCSP server %s sent an answer that is not an OCSP response"), url);
        int status = OCSP_response_status(resp);
        if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
                return set_error(
                        ret_error, _("OCSP server %s refused the request (%s)"), url,
                        OCSP_response_status_str(status));
        bs = OCSP_response_get1_basic(resp);
        if (!bs)
                return set_error(
                        ret_error, _("OCSP server %s sent a response without a basic response"), url);

        /* The signature first: nothing in an unauthenticated answer means anything. */
        store = roots_store(p);
        if (!store)
                return -ENOMEM;
        if (OCSP_basic_verify(bs, chain, store, 0) <= 0) {
                detail = openssl_reason();
                /* OpenSSL's reason for a signer that is no responder is about trust settings; say who. */
                X509 *signer = NULL;
                if (OCSP_resp_get0_signer(bs, &signer, chain) == 1 && signer &&
                    X509_cmp(signer, issuer) != 0 && X509_check_issued(issuer, signer) == X509_V_OK &&
                    !((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) &&
                      (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN))) {
                        _cleanup_free_ char *who = cert_display_name(signer);
                        ERR_clear_error();
                        return set_error(
                                ret_error,
                                _("OCSP server %s: the response is signed by %s, which is neither the CA nor an "
                                  "OCSP responder it authorised (no OCSPSigning)"),
                                url, strna(who));
                }
                ERR_clear_error();
                return set_error(
                        ret_error,
                        _("OCSP server %s: the response is not signed by the CA or a responder it "
                          "authorised (%s)"),
                        url, strna(detail));
        }

        int nonce = OCSP_check_nonce(req, bs);
        if (nonce == 0)
                return set_error(
                        ret_error,
                        _("OCSP server %s: the response nonce does not match the request "
                          "(replayed answer?)"),
                        url);
        if (nonce != 1 && p->ocsp_require_nonce)
                return set_error(
                        ret_error,
                        _("OCSP server %s: the response carries no nonce although one was asked "
                          "(a replayed answer cannot be excluded)"),
                        url);

        int cstatus = -1, reason = -1;
        ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
        OCSP_SINGLERESP *single = find_single(bs, cert, issuer);
        if (!single)
                return set_error(
                        ret_error, _("OCSP server %s answered about another certificate, not this one"),
                        url);
        cstatus = OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd);
        time_t made = asn1_time_seconds(thisupd), age = time(NULL) - made;
        if (made != (time_t) -1 && age > (time_t) p->ocsp_max_age_sec) {
                bool minutes = p->ocsp_max_age_sec >= 60;
                return set_error(
                        ret_error,
                        minutes ? _("OCSP server %s sent an answer made %lld minutes ago; the policy accepts "
                                    "answers up to %u minutes old (ocsp-max-age)")
                                : _("OCSP server %s sent an answer made %lld seconds ago; the policy accepts "
                                    "answers up to %u seconds old (ocsp-max-age)"),
                        url, (long long) (minutes ? age / 60 : age),
                        minutes ? p->ocsp_max_age_sec / 60 : p->ocsp_max_age_sec);
        }
        if (OCSP_check_validity(thisupd, nextupd, (long) p->clock_skew_sec, -1) != 1) {
                ERR_clear_error();
                return set_error(
                        ret_error,
                        _("OCSP server %s sent a stale or not yet valid answer "
                          "(thisUpdate/nextUpdate)"),
                        url);
        }
        switch (cstatus) {
        case V_OCSP_CERTSTATUS_GOOD:
                if (!ocsp_covers_expired(single, cert)) {
                        ERR_clear_error();
                        return set_error(
                                ret_error,
                                _("OCSP server %s says 'good' about a certificate that has expired, but does not "
                                  "say it keeps the status of expired certificates (no archive cutoff), so the "
                                  "answer proves nothing"),
                                url);
                }
                ocsp_cache_store(cpath, nextupd, data, size);
                *ret_result = REVOCATION_RESULT_GOOD;
                if (ret_der) {
                        *ret_der = TAKE_PTR(data);
                        *ret_der_size = size;
                }
                return 0;
        case V_OCSP_CERTSTATUS_REVOKED:
                ocsp_cache_forget(cpath);
                *ret_result = REVOCATION_RESULT_REVOKED;
                *ret_revoked_at = asn1_time_seconds(rev);
                return set_error(ret_error, "%s", crl_reason_text(reason));
        default:
                return set_error(ret_error, _("OCSP server %s does not know this certificate"), url);
        }
}

static char *cache_dir(const Policy *p) {
        if (p->cache_dir)
                return strdup(p->cache_dir);
        const char *x = getenv("XDG_CACHE_HOME");
        char *s = NULL;
        if (!isempty(x) && x[0] == '/') {
                if (asprintf(&s, "%s/kyso", x) < 0)
                        return NULL;
                return s;
        }
        const char *home = getenv("HOME");
        if (isempty(home) || home[0] != '/')
                return NULL;
        if (asprintf(&s, "%s/.cache/kyso", home) < 0)
                return NULL;
        return s;
}

/* <cache>/<kind>/<SHA-256 of key in hex>.der */
static char *cache_file_path(const Policy *p, const char *kind, const void *key, size_t key_size) {
        _cleanup_free_ char *dir = cache_dir(p);
        unsigned char md[32];
        char hex[65];
        char *s;
        if (!dir)
                return NULL;
        if (!EVP_Digest(key, key_size, md, NULL, EVP_sha256(), NULL))
                return NULL;
        hex_encode(md, sizeof md, hex);
        if (asprintf(&s, "%s/%s/%s.der", dir, kind, hex) < 0)
                return NULL;
        return s;
}

static char *crl_cache_path(const Policy *p, const char *url) {
        return cache_file_path(p, "crl", url, strlen(url));
}

/* Checks that crl is from issuer, signed by it, and current. Returns 0 when usable, else sets ret_error. */
/* A CRL that lists only part of the CA's certificates (delta, indirect, by reason, only CA or only user
 * certificates) cannot say that a certificate is good; kyso uses complete CRLs only. */
static bool crl_is_complete_for(X509_CRL *crl, X509 *cert) {
        int crit = 0;
        if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0)
                return false;
        ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
        if (!idp)
                return crit == -1; /* -1: absent; -2: present more than once or unparsable */
        bool is_ca = X509_check_ca(cert) != 0;
        bool ok = !idp->indirectCRL && !idp->onlysomereasons && !idp->onlyattr && !(idp->onlyCA && !is_ca) &&
                  !(idp->onlyuser && is_ca);
        ISSUING_DIST_POINT_free(idp);
        return ok;
}

static int crl_usable(const Policy *p, X509_CRL *crl, X509 *issuer, const char *url, char **ret_error) {
        time_t now = time(NULL);
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0)
                return set_error(ret_error, _("the CRL from %s is issued by another CA"), url) ?: -EBADMSG;
        /* RFC 5280 6.3.3 (f): a CA whose key usage is given must allow cRLSign for its CRLs to count. */
        if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) &&
            !(X509_get_key_usage(issuer) & KU_CRL_SIGN)) {
                _cleanup_free_ char *who = cert_display_name(issuer);
                return set_error(
                               ret_error,
                               _("the CRL from %s is signed by %s, whose key usage does not allow signing CRLs "
                                 "(no cRLSign)"),
                               url, strna(who))
                               ?: -EBADMSG;
        }
        EVP_PKEY *key = X509_get0_pubkey(issuer);
        if (!key || X509_CRL_verify(crl, key) != 1) {
                ERR_clear_error();
                return set_error(ret_error, _("the CRL from %s is not signed by its CA"), url) ?: -EBADMSG;
        }
        time_t last = asn1_time_seconds(X509_CRL_get0_lastUpdate(crl));
        if (last == (time_t) -1 || last > now + (time_t) p->clock_skew_sec)
                return set_error(
                               ret_error, _("the CRL from %s is not valid yet (thisUpdate in the future)"),
                               url)
                               ?: -EBADMSG;
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
        time_t n = asn1_time_seconds(next);
        if (!next || n == (time_t) -1)
                return set_error(ret_error, _("the CRL from %s has no next-update time"), url) ?: -EBADMSG;
        if (n < now - (time_t) p->clock_skew_sec) {
                char buf[64];
                struct tm tm;
                strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", gmtime_r(&n, &tm));
                return set_error(
                               ret_error, _("the CRL from %s is stale: its next update was due %s"), url,
                               buf)
                               ?: -ESTALE;
        }
        return 0;
}

static X509_CRL *crl_parse(const char *data, size_t size) {
        const unsigned char *q = (const unsigned char *) data;
        X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long) size);
        if (!crl) {
                BIO *b = BIO_new_mem_buf(data, (int) size);
                if (b) {
                        crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
                        BIO_free(b);
                }
        }
        ERR_clear_error();
        return crl;
}

int crl_check(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, RevocationResult *ret_result,
        time_t *ret_revoked_at, char **ret_error) {
        return crl_check_keep(p, url, cert, issuer, ret_result, ret_revoked_at, ret_error, NULL, NULL);
}

int crl_check_keep(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, RevocationResult *ret_result,
        time_t *ret_revoked_at, char **ret_error, char **ret_der, size_t *ret_der_size) {
        _cleanup_free_ char *cpath = crl_cache_path(p, url), *data = NULL, *detail = NULL;
        _cleanup_(X509_CRL_freep) X509_CRL *crl = NULL;
        size_t size = 0;
        int r;

        *ret_error = NULL;
        *ret_result = REVOCATION_RESULT_FAILED;

        /* The cache is the user's: a CRL from it is believed only after the same checks as a fresh one. */
        if (cpath) {
                struct stat st;
                if (stat(cpath, &st) == 0 && time(NULL) - st.st_mtime < (time_t) p->crl_cache_max_age_sec &&
                    read_full_file(cpath, CRL_MAX_SIZE, &data, &size) >= 0) {
                        crl = crl_parse(data, size);
                        _cleanup_free_ char *ignored = NULL;
                        if (crl && crl_usable(p, crl, issuer, url, &ignored) < 0) {
                                X509_CRL_free(crl);
                                crl = NULL;
                        }
                        data = mfree(data);
                }
        }

        if (!crl) {
                r = http_transfer(
                        p, url, NULL, NULL, 0, NULL, p->crl_timeout_sec, CRL_MAX_SIZE, &data, &size,
                        &detail);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return set_error(ret_error, _("CRL server: %s"), strna(detail));
                crl = crl_parse(data, size);
                if (!crl)
                        return set_error(
                                ret_error, _("CRL server %s sent something that is not a CRL"), url);
                r = crl_usable(p, crl, issuer, url, ret_error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return 0;
                if (cpath) {
                        unsigned char *der = NULL;
                        int len = i2d_X509_CRL(crl, &der);
                        if (len > 0) {
                                /* A cache that cannot be written only costs a download next time. */
                                (void) mkdir_parents(cpath, 0700);
                                (void) write_file_atomic(cpath, der, (size_t) len, 0600);
                        }
                        OPENSSL_free(der);
                }
        }

        if (!crl_is_complete_for(crl, cert))
                return set_error(
                        ret_error,
                        _("the CRL from %s covers only part of the CA's certificates (delta, indirect or "
                          "partitioned CRL), which kyso does not use"),
                        url);

        X509_REVOKED *rev = NULL;
        int found = X509_CRL_get0_by_cert(crl, &rev, cert);
        if (found == 1 && rev) {
                *ret_result = REVOCATION_RESULT_REVOKED;
                *ret_revoked_at = asn1_time_seconds(X509_REVOKED_get0_revocationDate(rev));
                int crit = 0;
                ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
                int reason = e ? (int) ASN1_ENUMERATED_get(e) : -1;
                ASN1_ENUMERATED_free(e);
                return set_error(ret_error, "%s", crl_reason_text(reason));
        }
        if (!crl_covers_expired(crl, cert)) {
                ERR_clear_error();
                return set_error(
                        ret_error,
                        _("the CRL from %s does not list the certificate, but it has expired and the CRL does not "
                          "say it keeps expired certificates (no expiredCertsOnCRL), so a revocation may have "
                          "been dropped from it"),
                        url);
        }
        if (ret_der) {
                unsigned char *der = NULL;
                uint8_t *copy;
                int len = i2d_X509_CRL(crl, &der);
                r = openssl_der_take(der, len, &copy, ret_der_size);
                if (r < 0)
                        return r;
                *ret_der = (char *) copy;
        }
        *ret_result = REVOCATION_RESULT_GOOD;
        return 0;
}
