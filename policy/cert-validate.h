/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Certificate validation: is certificate X usable at time T under the policy? Validity period, path to a
 * trusted root, key usage, key and algorithm strength, revocation by OCSP or CRL. Fails closed. */

#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <time.h>

#include "policy/policy.h"

typedef enum CertStatus {
        CERT_STATUS_VALID,
        CERT_STATUS_EXPIRING, /* valid, inside the expiry warning window */
        CERT_STATUS_EXPIRED,
        CERT_STATUS_NOT_YET_VALID,
        CERT_STATUS_REVOKED,
        CERT_STATUS_UNTRUSTED,
        CERT_STATUS_UNKNOWN_REVOCATION, /* no server could tell: refuse (fail closed) */
        CERT_STATUS_WEAK_KEY,           /* key or signature algorithm below the policy */
        CERT_STATUS_WRONG_USAGE,        /* key usage does not allow document signing */
        _CERT_STATUS_MAX,
        _CERT_STATUS_INVALID = -EINVAL,
} CertStatus;

typedef enum RevocationSource {
        REVOCATION_SOURCE_NONE, /* not checked (an earlier check failed) */
        REVOCATION_SOURCE_OCSP,
        REVOCATION_SOURCE_CRL,
        REVOCATION_SOURCE_OFF, /* the (test) policy turned checks off */
        _REVOCATION_SOURCE_MAX,
        _REVOCATION_SOURCE_INVALID = -EINVAL,
} RevocationSource;

typedef enum CertValidateFlags {
        CERT_VALIDATE_DOCUMENT_SIGNING = 1 << 0, /* key usage digitalSignature and nonRepudiation */
        CERT_VALIDATE_TIMESTAMPING = 1 << 1,     /* extended key usage timeStamping (a TSA certificate) */
        CERT_VALIDATE_NO_REVOCATION = 1 << 2, /* skip revocation (offline display only; never for signing) */
        /* Also look up the revocation of a certificate expired at the time asked about, so that "revoked"
         * is told apart from "expired" (verifying; signing refuses an expired certificate anyway). */
        CERT_VALIDATE_EXPIRED_REVOCATION = 1 << 3,
        /* Ask the OCSP server even when the cache holds a usable answer, and keep the new one: the agent's
         * background checks, which keep the cache fresh for signing and for kysoctl verify. */
        CERT_VALIDATE_FRESH_OCSP = 1 << 4,
        /* Keep the DER of the OCSP responses and CRLs that said "good" (CertValidation.proofs): a PDF
         * signature at level B-LT carries them in its /DSS. */
        CERT_VALIDATE_KEEP_PROOFS = 1 << 5,
} CertValidateFlags;

/* An OCSP response or a CRL, as DER, that showed a certificate of the path not revoked. */
typedef struct RevocationProof {
        uint8_t *der;
        size_t size;
        bool crl;
} RevocationProof;

typedef struct CertValidation {
        CertStatus status;
        time_t at;     /* the time the answer is about */
        int days_left; /* whole days from 'at' to notAfter; negative when expired */
        RevocationSource revocation_source;
        char *revocation_url; /* the server that answered, or the one that failed */
        bool revoked_later;   /* revoked, but after 'at' (so still valid at 'at') */
        time_t revoked_at;    /* when status is REVOKED or revoked_later */
        char *reason;         /* translated, says what to do next when not usable */
        /* The stable code of reason (REASON_CERT_*... in policy-rules.h) and its parameters (key, value,
         * ...), when the check has one: what the audit log keeps to render it again in its reader's
         * language. NULL for a verdict without a code (valid, weak key...). */
        const char *reason_code;
        char **reason_params;
        RevocationProof *proofs; /* CERT_VALIDATE_KEEP_PROOFS: leaf first, then its CAs */
        size_t n_proofs;
} CertValidation;

/* Validates cert at time 'at' (0: now). 'untrusted' (may be NULL) adds intermediate certificates, for
 * example those carried in a signature; the policy's [trust] intermediate certificates are always used.
 * Returns 0 with *ret filled (look at ret->status) or a negative errno (-ENOMEM and similar, never for a
 * verdict). */
int cert_validate(
        const Policy *p, X509 *cert, STACK_OF(X509) * untrusted, time_t at, CertValidateFlags flags,
        CertValidation *ret);
void cert_validation_done(CertValidation *v);

/* The certificate's CN (UTF-8), or its whole subject when it has none; for messages. */
char *cert_display_name(X509 *x);

/* Whether the key usage allows signing documents (digitalSignature and nonRepudiation), offline and
 * without a policy: 1 when it does, 0 with *ret_reason (translated, names the missing bit) when not,
 * -ENOMEM. For lists of certificates, so one that will be refused is not offered. */
int cert_check_signing_usage(X509 *cert, char **ret_reason);

/* Whether the key can make the signatures the policy asks for: 0 with *ret_reason (translated) for a key
 * that may only make RSA-PSS signatures under rsa-padding = pkcs1, else 1; -ENOMEM. Offline, for lists of
 * certificates, as cert_check_signing_usage(). */
int cert_check_rsa_padding(const Policy *p, X509 *cert, char **ret_reason);

/* valid or expiring */
bool cert_status_is_usable(CertStatus s);
const char *cert_status_to_string(CertStatus s);
/* The coarse status of the D-Bus API (DESIGN.md: valid|expiring|expired|not-yet-valid|revoked|untrusted|
 * unknown): weak keys and wrong usage are "untrusted", an unknown revocation status is "unknown". */
const char *cert_status_to_api_string(CertStatus s);
const char *revocation_source_to_string(RevocationSource s);

/* ---- revocation (policy/revocation.c) ---- */

typedef enum RevocationResult {
        REVOCATION_RESULT_GOOD,
        REVOCATION_RESULT_REVOKED,
        REVOCATION_RESULT_FAILED, /* *ret_error says which server and how */
} RevocationResult;
/* With REVOCATION_RESULT_REVOKED, *ret_error is the revocation reason's English name, untranslated (a msgid
 * such as "key compromise"): the caller names the server and renders it in its reader's language. */

/* Asks the OCSP server 'url' (already rewritten) about cert, issued by issuer. 'chain' are certificates
 * that may sign the answer (CA, responder). */
int ocsp_check(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, STACK_OF(X509) * chain,
        RevocationResult *ret_result, time_t *ret_revoked_at, char **ret_error);
/* ocsp_check(), which takes a "good" answer from the policy's cache (ocsp/) while it is within its
 * nextUpdate and ocsp-max-age; with use_cache false it always asks the server. Either way a fetched "good"
 * answer is kept, and a fetched "revoked" one removes the cached answer. */
int ocsp_check_full(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, STACK_OF(X509) * chain, bool use_cache,
        RevocationResult *ret_result, time_t *ret_revoked_at, char **ret_error);
/* ocsp_check_full(), and for a "good" answer (cached or fetched) its DER in *ret_der (malloc()ed; may be
 * NULL). */
int ocsp_check_keep(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, STACK_OF(X509) * chain, bool use_cache,
        RevocationResult *ret_result, time_t *ret_revoked_at, char **ret_error, char **ret_der,
        size_t *ret_der_size);
/* Fetches (or takes from the cache) the CRL at 'url' and looks cert up in it. */
int crl_check(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, RevocationResult *ret_result,
        time_t *ret_revoked_at, char **ret_error);
/* crl_check(), and when the certificate is not listed the CRL's DER in *ret_der (malloc()ed; may be NULL).
 */
int crl_check_keep(
        const Policy *p, const char *url, X509 *cert, X509 *issuer, RevocationResult *ret_result,
        time_t *ret_revoked_at, char **ret_error, char **ret_der, size_t *ret_der_size);
/* For a certificate that has expired by now: whether the OCSP answer (archiveCutoff) or the CRL
 * (expiredCertsOnCRL) says it still keeps certificates that expired when this one did, so that "good" or
 * "not listed" means "not revoked". Always true for a certificate that has not expired. */
bool ocsp_covers_expired(OCSP_SINGLERESP *single, X509 *cert);
bool crl_covers_expired(X509_CRL *crl, X509 *cert);
/* GET or POST over plain HTTP with OpenSSL's client; proxy from the policy only. ret_error is translated. */
int http_transfer(
        const Policy *p, const char *url, const char *content_type, const void *req, size_t req_size,
        const char *expected_content_type, unsigned timeout_sec, size_t max_size, char **ret_data,
        size_t *ret_size, char **ret_error);
