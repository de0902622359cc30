/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* An RFC 3161 time-stamp client: builds the request (nonce, certReq), POSTs it over HTTP, and checks the
 * answer (granted, same nonce and imprint, the token's own signature) before anyone embeds it. The TSA's
 * certificate path is policy/'s to validate: the certificates come back with the token. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/ts.h>

#include "cms-verify.h"

typedef struct TsaOptions TsaOptions;
struct TsaOptions {
        const char *url;        /* http://host[:port]/path */
        const char *proxy;      /* NULL: no proxy at all (the environment's http_proxy is NOT used); else
                                 * "http://host:port" */
        int timeout_sec;        /* whole exchange; 0 means 30 */
        int digest_nid;         /* imprint hash; 0 means NID_sha256 */
        const char *policy_oid; /* reqPolicy, dotted, or NULL */
};

/* Time-stamps `data` (for CAdES-T: the SignerInfo's signature value). On success returns 0, the DER token
 * (a ContentInfo, malloc()ed) and, when ret_info is non-NULL, its verification details (genTime, TSA
 * certificates; free with cms_timestamp_done()). Errors, each with an English *ret_error naming the URL:
 *   -EHOSTUNREACH  the TSA could not be reached or did not answer in time (connection refused, timeout, HTTP
 *                  error status),
 *   -EPROTO        the TSA answered but refused (its PKIStatus and status text are in the message), or sent
 *                  something that is not a TimeStampResp,
 *   -EBADMSG       the token does not match the request (nonce, imprint) or its signature does not verify,
 *   -EINVAL, -ENOMEM. */
int tsa_timestamp(
        const TsaOptions *o, const void *data, size_t size, uint8_t **ret_token, size_t *ret_token_size,
        CmsTimestamp *ret_info, char **ret_error);

/* The two halves of tsa_timestamp(), separate so that the response check can be fuzzed and tested without a
 * server. tsa_request_new(): the request (SHA-256 unless o->digest_nid, certReq, a fresh random 64-bit nonce
 * unless `nonce` is given). tsa_response_check(): the DER TimeStampResp against that request; same errors as
 * tsa_timestamp(), `url` only names the TSA in messages. */
int tsa_request_new(
        const TsaOptions *o, const void *data, size_t size, const ASN1_INTEGER *nonce, TS_REQ **ret);
int tsa_response_check(
        TS_REQ *req, const char *url, bool check_policy, const void *resp_der, size_t resp_size,
        const void *data, size_t size, uint8_t **ret_token, size_t *ret_token_size, CmsTimestamp *ret_info,
        char **ret_error);
