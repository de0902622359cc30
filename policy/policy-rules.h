/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The signing rules of the ward regulation: may this certificate sign this document in this role? One pure
 * function over plain structs, so the agent, kysoctl and tests call it the same way (no D-Bus, no network).
 */

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "policy/cert-validate.h"
#include "policy/policy.h"

typedef enum SignRole {
        SIGN_ROLE_APPROVE,  /* ký phê duyệt: the leader, personal certificate */
        SIGN_ROLE_ISSUE,    /* ký phát hành: the organisation seal over a leader's signature */
        SIGN_ROLE_COPY,     /* sao y / sao lục / trích sao: the organisation seal on its own copy */
        SIGN_ROLE_APPENDIX, /* attachments: the organisation seal */
        SIGN_ROLE_PERSONAL, /* any other personal signature */
        _SIGN_ROLE_MAX,
        _SIGN_ROLE_INVALID = -EINVAL,
} SignRole;

const char *sign_role_to_string(SignRole r);
SignRole sign_role_from_string(const char *s);

/* A signature the document already carries, as verified by formats/ plus our certificate status at its
 * signing time. */
typedef struct ExistingSignature {
        X509 *signer;      /* NULL when the signer certificate was not found */
        bool integrity_ok; /* digest, signature value and signed attributes verify (formats/) */
        /* Translated: why integrity_ok is false (a hash the policy refuses, a time-stamp that does not
         * verify, a time in the future), so the seal rule says what `kysoctl verify` says; NULL: the
         * document or the signature was changed. */
        const char *integrity_reason;
        /* The signed attributes name the signer certificate (ESS signing-certificate-v2 with a hash the
         * policy allows). Without it the signature could be shown with another certificate for the same
         * key, so it is not the competent person's signature. */
        bool signing_cert_bound;
        bool covers_whole_document; /* it signs exactly the content about to be signed (nothing added after)
                                     */
        const CertValidation
                *status_at_signing; /* signer certificate at signing_time; NULL: not established */
        time_t signing_time;
        bool signing_time_from_timestamp; /* proven by an RFC 3161 token rather than claimed */
} ExistingSignature;

typedef struct RuleRequest {
        SignRole role;
        X509 *signer;                        /* the certificate about to sign */
        const CertValidation *signer_status; /* cert_validate() of it, now */
        const ExistingSignature *existing;
        size_t n_existing;
        const char *classification; /* the request's classification marking, or NULL */
} RuleRequest;

typedef struct RuleDecision {
        bool allow;
        char *reason;        /* translated; says what to do next when denied */
        const char *code;    /* stable (REASON_*): what the audit log keeps and the report counts */
        char **params;       /* key, value, ...: what the reason names (certificate, role, dates...) */
        const char *article; /* the regulation article (not translated), e.g. "Art. 5.7" */
        CertKind signer_kind;
        ssize_t leader_signature; /* for issue: index of the signature that satisfied the seal rule, or -1 */
} RuleDecision;

/* Returns 0 with *ret filled (allow or deny), or a negative errno (-EINVAL for a malformed request,
 * -ENOMEM). */
int policy_rules_decide(const Policy *p, const RuleRequest *req, RuleDecision *ret);
void rule_decision_done(RuleDecision *d);

/* Why one existing signature does or does not count as the competent person's signature for the seal
 * 'seal' (NULL: any seal rule's leader). Returns true when it counts; *ret_why (optional) is a translated
 * explanation either way. */
bool policy_signature_counts_as_leader(
        const Policy *p, X509 *seal, const ExistingSignature *s, char **ret_why);

/* The stable reason codes of the decisions (part of the audit log's format: never renamed). */
#define REASON_CLASSIFIED "classified"
#define REASON_DEVICE_CERTIFICATE "device-certificate"
#define REASON_UNKNOWN_KIND "unknown-kind"
#define REASON_ROLE_NEEDS_PERSONAL "role-needs-personal"
#define REASON_ROLE_NEEDS_ORGANIZATION "role-needs-organization"
#define REASON_CERTIFICATE_UNUSABLE "certificate-unusable"
#define REASON_SEAL_NO_SIGNATURE "seal-no-signature"
#define REASON_SEAL_NO_LEADER "seal-no-leader"
#define REASON_ALLOWED_PERSONAL "allowed-personal"
#define REASON_ALLOWED_COPY "allowed-copy"
#define REASON_ALLOWED_APPENDIX "allowed-appendix"
#define REASON_ALLOWED_SEAL "allowed-seal"

/* The codes of the certificate checks (CertValidation.reason_code), with their parameters. A refusal
 * certificate-unusable names the check's code as its parameter detail_code, and each of the check's
 * parameters as detail_KEY, so that the check's words can be rendered again in the reader's language. */
#define REASON_CERT_EXPIRED "certificate-expired"             /* certificate, time */
#define REASON_CERT_NOT_YET_VALID "certificate-not-yet-valid" /* certificate, time */
#define REASON_CERT_REVOKED \
        "certificate-revoked" /* certificate, time, revocation_reason, source, url; expired */
#define REASON_CA_REVOKED "ca-certificate-revoked"             /* as certificate-revoked */
#define REASON_CA_EXPIRED "ca-certificate-expired"             /* ca, certificate */
#define REASON_CA_NOT_YET_VALID "ca-certificate-not-yet-valid" /* ca, certificate */
#define REASON_CERT_UNTRUSTED "certificate-untrusted"          /* certificate, why (OpenSSL's words) */
#define REASON_CERT_KEY_USAGE "certificate-key-usage"          /* certificate, missing */
#define REASON_REVOCATION_NO_SERVER "revocation-no-server"     /* certificate, mode (policy's revocation) */
#define REASON_REVOCATION_UNKNOWN "revocation-unknown"         /* certificate, why (the servers' errors) */
/* The key and hash checks; ca is yes for a CA certificate of the path, no for the signer's own. */
#define REASON_CERT_KEY_TYPE "certificate-key-type"        /* certificate, ca, type */
#define REASON_CERT_KEY_CURVE "certificate-key-curve"      /* certificate, ca, curve */
#define REASON_CERT_KEY_WEAK "certificate-key-weak"        /* certificate, ca, bits, min_bits */
#define REASON_CERT_HASH "certificate-hash"                /* certificate, hash, allowed */
#define REASON_CERT_NOT_TIMESTAMPING "certificate-not-tsa" /* certificate */

/* The codes of a document the agent cannot sign as given (BadDocument, recorded as sign-failed). */
#define REASON_DOCUMENT_EMPTY "document-empty"
#define REASON_DOCUMENT_TOO_LARGE "document-too-large" /* limit */
#define REASON_DOCUMENT_STALLED "document-stalled"     /* seconds, file (existing_signature or none) */
#define REASON_DOCUMENT_UNREADABLE "document-unreadable"
#define REASON_PDF_ENCRYPTED "pdf-encrypted"
#define REASON_PDF_DAMAGED "pdf-damaged"
#define REASON_PDF_CERTIFIED_NO_CHANGES "pdf-certified-no-changes"
#define REASON_PDF_UNSUPPORTED "pdf-unsupported"

/* Whether code is one of a document's (REASON_DOCUMENT_*, REASON_PDF_*). */
bool policy_reason_is_document(const char *code);

/* A reason from its code and parameters key, value, ... up to a NULL key (a NULL value leaves its key out):
 * the parameters as a strv in *ret_params and the text policy_reason_render() makes of them in *ret_text.
 * Returns 0, -ENOMEM, or -EOPNOTSUPP for an unknown code. */
int policy_reason_buildv(const char *code, va_list ap, char ***ret_params, char **ret_text);
_sentinel_ int policy_reason_build(char ***ret_params, char **ret_text, const char *code, ...);
/* policy_reason_buildv() into a reason kept before: on success *params and *text are freed and replaced, on
 * failure left as they were. */
int policy_reason_setv(const char *code, va_list ap, char ***params, char **text);

/* The text of a reason code with its parameters (key, value, ..., NULL), in the current thread's language:
 * what the agent answers, and what 'kysoctl audit show' prints for a record in another language. A missing
 * "detail" (text kept in the language of the request) gives the sentence without it. -EOPNOTSUPP for a code
 * this version does not know. */
int policy_reason_render(const char *code, const char *const *params, char **ret);
/* A short translated label of the code, for counts; NULL when unknown. */
const char *policy_reason_label(const char *code);

#define ARTICLE_KINDS "Art. 2.6"
#define ARTICLE_VALIDITY "Art. 2.8, 3.2.a"
#define ARTICLE_CLASSIFIED "Art. 5.7"
#define ARTICLE_ORG_TOKEN "Art. 2.6, 5.5, 21"
#define ARTICLE_SEAL "Art. 21.4-21.5 (Decree 30/2020 Art. 32.2.d)"
#define ARTICLE_COPY "Art. 21.4-21.5"
