/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "openssl-util.h"
#include "tsa-client.h"

#define TSA_MAX_RESPONSE_SIZE (256U * 1024U)
#define TSA_DEFAULT_TIMEOUT_SEC 30

DEFINE_TRIVIAL_CLEANUP_FUNC(TS_VERIFY_CTX *, TS_VERIFY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(TS_MSG_IMPRINT *, TS_MSG_IMPRINT_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_ALGOR *, X509_ALGOR_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);

static void openssl_freep(char **p) {
        OPENSSL_free(*p);
}

/* Every entry of the OpenSSL error queue with its detail ("server response error: code=500, reason=..."), as
 * the last entry alone is often only "error receiving". */
static char *openssl_errors_joined(void) {
        char buf[768] = "";
        size_t off = 0;
        unsigned long e;
        const char *data = NULL;
        int flags = 0;

        while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
                const char *reason = ERR_reason_error_string(e);
                bool has_data = (flags & ERR_TXT_STRING) && data && *data;
                int n;

                if (off >= sizeof buf - 1)
                        continue;
                n = snprintf(
                        buf + off, sizeof buf - off, "%s%s%s%s", off ? "; " : "", reason ?: "error",
                        has_data ? ": " : "", has_data ? data : "");
                if (n > 0)
                        off = MIN(off + (size_t) n, sizeof buf - 1);
        }
        return off > 0 ? strdup(buf) : NULL;
}

_printf_(3, 4) static int tsa_fail(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                va_end(ap);
                free(*ret_error);
                *ret_error = m;
        }
        ERR_clear_error();
        return r;
}

static TS_REQ *
build_request(const TsaOptions *o, int nid, const void *data, size_t size, const ASN1_INTEGER *fixed) {
        _cleanup_(TS_REQ_freep) TS_REQ *req = TS_REQ_new();
        _cleanup_(TS_MSG_IMPRINT_freep) TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
        _cleanup_(X509_ALGOR_freep) X509_ALGOR *alg = X509_ALGOR_new();
        _cleanup_(BN_freep) BIGNUM *bn = BN_new();
        _cleanup_(ASN1_INTEGER_freep) ASN1_INTEGER *nonce = NULL;
        _cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *policy = NULL;
        const EVP_MD *md = EVP_get_digestbynid(nid);
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned digest_size = 0;

        if (!req || !mi || !alg || !bn || !md)
                return NULL;
        if (EVP_Digest(data, size, digest, &digest_size, md, NULL) != 1)
                return NULL;
        if (X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_NULL, NULL) != 1 ||
            TS_MSG_IMPRINT_set_algo(mi, alg) != 1 ||
            TS_MSG_IMPRINT_set_msg(mi, digest, (int) digest_size) != 1 || TS_REQ_set_version(req, 1) != 1 ||
            TS_REQ_set_msg_imprint(req, mi) != 1 || TS_REQ_set_cert_req(req, 1) != 1)
                return NULL;
        /* 64 random bits: the answer must repeat them, so an old or replayed response is refused. */
        if (fixed)
                nonce = ASN1_INTEGER_dup(fixed);
        else if (BN_rand(bn, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1)
                nonce = BN_to_ASN1_INTEGER(bn, NULL);
        if (!nonce || TS_REQ_set_nonce(req, nonce) != 1)
                return NULL;
        if (o->policy_oid) {
                policy = OBJ_txt2obj(o->policy_oid, 1);
                if (!policy || TS_REQ_set_policy_id(req, policy) != 1)
                        return NULL;
        }
        return TAKE_PTR(req);
}

int tsa_request_new(
        const TsaOptions *o, const void *data, size_t size, const ASN1_INTEGER *nonce, TS_REQ **ret) {
        TS_REQ *req;

        if (!o || (!data && size > 0) || !ret)
                return -EINVAL;
        req = build_request(o, o->digest_nid ?: NID_sha256, data, size, nonce);
        ERR_clear_error();
        if (!req)
                return -ENOMEM;
        *ret = req;
        return 0;
}

static char *status_text(TS_RESP *resp) {
        TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
        const STACK_OF(ASN1_UTF8STRING) *text = si ? TS_STATUS_INFO_get0_text(si) : NULL;
        const ASN1_BIT_STRING *fi = si ? TS_STATUS_INFO_get0_failure_info(si) : NULL;
        static const struct {
                int bit;
                const char *name;
        } failures[] = {
                { TS_INFO_BAD_ALG, "badAlg" },
                { TS_INFO_BAD_REQUEST, "badRequest" },
                { TS_INFO_BAD_DATA_FORMAT, "badDataFormat" },
                { TS_INFO_TIME_NOT_AVAILABLE, "timeNotAvailable" },
                { TS_INFO_UNACCEPTED_POLICY, "unacceptedPolicy" },
                { TS_INFO_UNACCEPTED_EXTENSION, "unacceptedExtension" },
                { TS_INFO_ADD_INFO_NOT_AVAILABLE, "addInfoNotAvailable" },
                { TS_INFO_SYSTEM_FAILURE, "systemFailure" },
        };
        char buf[1024] = "";
        size_t off = 0;

        for (int i = 0; i < sk_ASN1_UTF8STRING_num(text) && off < sizeof buf - 1; i++) {
                const ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(text, i);
                int n = snprintf(
                        buf + off, sizeof buf - off, "%s\"%.*s\"", off ? ", " : "", MIN(s->length, 400),
                        (const char *) s->data);
                if (n < 0)
                        break;
                off = MIN(off + (size_t) n, sizeof buf - 1);
        }
        for (size_t i = 0; fi && i < ELEMENTSOF(failures) && off < sizeof buf - 1; i++)
                if (ASN1_BIT_STRING_get_bit(fi, failures[i].bit)) {
                        int n = snprintf(
                                buf + off, sizeof buf - off, "%s%s", off ? ", " : "", failures[i].name);
                        if (n < 0)
                                break;
                        off = MIN(off + (size_t) n, sizeof buf - 1);
                }
        return strdup(off ? buf : "no status text");
}

/* OpenSSL's connect loop retries a refused connection until the timeout: a TSA that is down would cost the
 * whole timeout and be reported as "connect timeout". One plain connect first tells "down" from "slow" at
 * once. */
static int tcp_probe(const char *host, const char *port, int timeout_sec) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *ai = NULL;
        int r = -EHOSTUNREACH;

        if (getaddrinfo(host, port, &hints, &ai) != 0)
                return -EADDRNOTAVAIL;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                struct pollfd pfd;
                int fd, err = 0;
                socklen_t len = sizeof err;

                fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
                if (fd < 0)
                        continue;
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        r = 0;
                else if (errno != EINPROGRESS)
                        r = -errno;
                else {
                        pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
                        int n = poll(&pfd, 1, timeout_sec * 1000);
                        if (n == 0)
                                r = -ETIMEDOUT;
                        else if (n < 0)
                                r = -errno;
                        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                                r = -errno;
                        else
                                r = err == 0 ? 0 : -err;
                }
                close(fd);
                if (r == 0)
                        break;
        }
        freeaddrinfo(ai);
        return r;
}

int tsa_timestamp(
        const TsaOptions *o, const void *data, size_t size, uint8_t **ret_token, size_t *ret_token_size,
        CmsTimestamp *ret_info, char **ret_error) {
        _cleanup_(TS_REQ_freep) TS_REQ *req = NULL;
        _cleanup_(BIO_free_allp) BIO *req_bio = NULL, *resp_bio = NULL;
        _cleanup_(openssl_freep) char *host = NULL, *port = NULL, *path = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t buf_size = 0;
        int nid, ssl = 0, timeout, r;

        if (!o || !o->url || !data || !ret_token || !ret_token_size)
                return tsa_fail(ret_error, -EINVAL, "no time-stamp authority URL");
        nid = o->digest_nid ?: NID_sha256;
        timeout = o->timeout_sec > 0 ? o->timeout_sec : TSA_DEFAULT_TIMEOUT_SEC;

        if (OSSL_HTTP_parse_url(o->url, &ssl, NULL, &host, &port, NULL, &path, NULL, NULL) != 1)
                return tsa_fail(ret_error, -EINVAL, "time-stamp authority URL %s does not parse", o->url);
        if (ssl)
                return tsa_fail(
                        ret_error, -EINVAL,
                        "time-stamp authority URL %s uses https, which is not supported: use http (the "
                        "token is signed, the transport needs no protection)",
                        o->url);

        if (isempty(o->proxy)) {
                r = tcp_probe(host, port, timeout);
                if (r < 0)
                        return tsa_fail(
                                ret_error, -EHOSTUNREACH,
                                "time-stamp authority %s did not answer (%s); check the network and the TSA "
                                "address in the policy",
                                o->url,
                                r == -ECONNREFUSED    ? "connection refused"
                                : r == -ETIMEDOUT     ? "connection timed out"
                                : r == -EADDRNOTAVAIL ? "host name not found"
                                                      : strerror(-r));
        }

        req = build_request(o, nid, data, size, NULL);
        if (!req)
                return tsa_fail(ret_error, -ENOMEM, "cannot build the time-stamp request");
        req_bio = BIO_new(BIO_s_mem());
        if (!req_bio || i2d_TS_REQ_bio(req_bio, req) != 1)
                return tsa_fail(ret_error, -ENOMEM, "cannot encode the time-stamp request");

        /* proxy "" means no proxy; NULL would make OpenSSL read http_proxy from the environment. */
        resp_bio = OSSL_HTTP_transfer(
                NULL, host, port, path, 0, o->proxy ?: "", NULL, NULL, NULL, NULL, NULL, 0, NULL,
                "application/timestamp-query", req_bio, "application/timestamp-reply", 1,
                TSA_MAX_RESPONSE_SIZE, timeout, 0);
        if (!resp_bio) {
                err = openssl_errors_joined();
                if (err && strstr(err, "received error"))
                        return tsa_fail(
                                ret_error, -EHOSTUNREACH,
                                "time-stamp authority %s answered with an HTTP error (%s); the service may be "
                                "down, or the TSA address in the policy wrong",
                                o->url, err);
                return tsa_fail(
                        ret_error, -EHOSTUNREACH,
                        "time-stamp authority %s did not answer (%s); check the network and the TSA "
                        "address in the policy",
                        o->url, strna(err));
        }
        buf = malloc(TSA_MAX_RESPONSE_SIZE);
        if (!buf)
                return tsa_fail(ret_error, -ENOMEM, "out of memory");
        for (;;) {
                int n = BIO_read(resp_bio, buf + buf_size, (int) (TSA_MAX_RESPONSE_SIZE - buf_size));
                if (n <= 0)
                        break;
                buf_size += (size_t) n;
                if (buf_size >= TSA_MAX_RESPONSE_SIZE)
                        return tsa_fail(
                                ret_error, -EPROTO,
                                "time-stamp authority %s sent a response that is too large", o->url);
        }
        return tsa_response_check(
                req, o->url, o->policy_oid != NULL, buf, buf_size, data, size, ret_token, ret_token_size,
                ret_info, ret_error);
}

int tsa_response_check(
        TS_REQ *req, const char *url, bool check_policy, const void *resp_der, size_t resp_size,
        const void *data, size_t size, uint8_t **ret_token, size_t *ret_token_size, CmsTimestamp *ret_info,
        char **ret_error) {
        _cleanup_(TS_RESP_freep) TS_RESP *resp = NULL;
        _cleanup_(TS_VERIFY_CTX_freep) TS_VERIFY_CTX *vctx = NULL;
        _cleanup_free_ char *err = NULL;
        const unsigned char *p = resp_der;
        unsigned char *der = NULL;
        CmsTimestamp info = {};
        int len, r;
        long status;

        if (!req || !url || !resp_der || !ret_token || !ret_token_size || (!data && size > 0))
                return tsa_fail(ret_error, -EINVAL, "invalid arguments");
        if (resp_size == 0 || resp_size > TSA_MAX_RESPONSE_SIZE)
                return tsa_fail(
                        ret_error, -EPROTO, "time-stamp authority %s sent an empty or oversized response",
                        url);
        resp = d2i_TS_RESP(NULL, &p, (long) resp_size);
        if (resp && p != (const unsigned char *) resp_der + resp_size) {
                TS_RESP_free(resp);
                resp = NULL;
        }
        if (!resp)
                return tsa_fail(
                        ret_error, -EPROTO,
                        "time-stamp authority %s sent something that is not a "
                        "time-stamp response",
                        url);

        status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
        if (status != TS_STATUS_GRANTED && status != TS_STATUS_GRANTED_WITH_MODS) {
                _cleanup_free_ char *text = status_text(resp);
                return tsa_fail(
                        ret_error, -EPROTO, "time-stamp authority %s refused the request (status %ld: %s)",
                        url, status, strna(text));
        }
        if (!TS_RESP_get_token(resp))
                return tsa_fail(
                        ret_error, -EPROTO, "time-stamp authority %s granted but sent no token", url);

        /* Version, imprint and nonce against our request. TS_REQ_to_TS_VERIFY_CTX() leaves out
         * TS_VFY_SIGNATURE, which would need the trust store: the signature is checked below, the TSA's path
         * by policy/. */
        vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
        if (!vctx)
                return tsa_fail(ret_error, -ENOMEM, "out of memory");
        TS_VERIFY_CTX_set_flags(
                vctx, TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE | (check_policy ? TS_VFY_POLICY : 0));
        if (TS_RESP_verify_response(vctx, resp) != 1) {
                err = openssl_errors_joined();
                return tsa_fail(
                        ret_error, -EBADMSG,
                        "time-stamp authority %s answered with a token that does not match the request "
                        "(%s)",
                        url, strna(err));
        }

        len = i2d_PKCS7(TS_RESP_get_token(resp), &der);
        if (len <= 0)
                return tsa_fail(ret_error, -ENOMEM, "cannot encode the time-stamp token");
        r = cms_verify_timestamp_token(der, (size_t) len, data, size, &info);
        if (r < 0) {
                OPENSSL_free(der);
                return tsa_fail(ret_error, r, "cannot verify the time-stamp token");
        }
        if (info.status != CMS_TIMESTAMP_OK) {
                OPENSSL_free(der);
                r = tsa_fail(
                        ret_error, -EBADMSG, "time-stamp token from %s does not verify: %s", url,
                        strna(info.detail));
                cms_timestamp_done(&info);
                return r;
        }

        r = openssl_der_take(der, len, ret_token, ret_token_size);
        if (r < 0) {
                cms_timestamp_done(&info);
                return tsa_fail(ret_error, r, "out of memory");
        }
        if (ret_info)
                *ret_info = info;
        else
                cms_timestamp_done(&info);
        ERR_clear_error();
        return 0;
}
