/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The cryptographic verifier of detached CMS/CAdES signatures: parses the SignedData, hashes the content
 * once (streamed), and reports per SignerInfo what holds and what does not. No certificate path, no
 * revocation, no policy: those belong to policy/, which gets the certificates from here.
 *
 * Every check is reported separately (booleans and small enums) so the caller can explain a decision; the
 * `problem` field of each signer is the single most important reason it does not verify (CMS_PROBLEM_OK when
 * everything this module can check holds), with an English `detail` for logs. User-facing text is the
 * caller's: translate from the enum, not from `detail`. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "macro.h"

/* Inputs larger than this are refused before parsing (-EFBIG). Real signatures are a few KiB; a chain plus a
 * time-stamp token plus countersignatures stays far below. */
#define CMS_VERIFY_MAX_SIGNATURE_SIZE (4U * 1024U * 1024U)
/* At most this many SignerInfos (and countersignatures per SignerInfo) are examined; more is -E2BIG. */
#define CMS_VERIFY_MAX_SIGNERS 64U
/* Countersignatures nest at most this deep; deeper ones are reported as CMS_PROBLEM_MALFORMED. */
#define CMS_VERIFY_MAX_NESTING 4U
/* At most this many signatures (SignerInfos, countersignatures, time-stamp tokens) are checked per call; the
 * ones beyond are reported as CMS_PROBLEM_MALFORMED. */
#define CMS_VERIFY_MAX_CHECKS 256U

/* Why a SignerInfo does not verify. Stable: the names from cms_problem_to_string() are used in `kysoctl
 * verify
 * --json` and in the audit log. Listed in the order of precedence used to pick `problem` when several apply.
 */
typedef enum CmsProblem {
        CMS_PROBLEM_OK,
        CMS_PROBLEM_MALFORMED, /* the SignerInfo or one of its attributes cannot be parsed */
        /* SignedData's digestAlgorithms set does not list the signer's digest: changed after signing */
        CMS_PROBLEM_DIGEST_ALGORITHMS_MISMATCH,
        CMS_PROBLEM_UNSUPPORTED_ALGORITHM,  /* digest or signature algorithm this module does not accept */
        CMS_PROBLEM_SIGNER_CERT_MISSING,    /* no certificate in the CMS matches the signer identifier */
        CMS_PROBLEM_MISSING_SIGNED_ATTRS,   /* no signed attributes (CAdES requires them) */
        CMS_PROBLEM_MISSING_MESSAGE_DIGEST, /* signed attributes without exactly one message-digest */
        CMS_PROBLEM_CONTENT_MISMATCH,       /* message-digest differs from the content's hash */
        CMS_PROBLEM_BAD_SIGNATURE,          /* the signature over the signed attributes does not verify */
        CMS_PROBLEM_CONTENT_TYPE,           /* content-type attribute missing or not id-data */
        CMS_PROBLEM_SIGNING_CERT_ATTR_MISMATCH, /* ESS signing-certificate(-v2) does not bind the signer cert
                                                 */
        CMS_PROBLEM_BAD_TIMESTAMP,        /* a signature time-stamp token is present and does not verify */
        CMS_PROBLEM_BAD_COUNTERSIGNATURE, /* a countersignature is present and does not verify */
        _CMS_PROBLEM_MAX,
        _CMS_PROBLEM_INVALID = -EINVAL,
} CmsProblem;

typedef enum CmsSignatureScheme {
        CMS_SIGNATURE_RSA_PKCS1, /* RSASSA-PKCS1-v1_5 */
        CMS_SIGNATURE_RSA_PSS,   /* RSASSA-PSS; see pss_* fields for its parameters */
        CMS_SIGNATURE_ECDSA,
        _CMS_SIGNATURE_SCHEME_MAX,
        _CMS_SIGNATURE_SCHEME_INVALID = -EINVAL,
} CmsSignatureScheme;

typedef enum CmsContentType {
        CMS_CONTENT_TYPE_ABSENT, /* no content-type signed attribute */
        CMS_CONTENT_TYPE_DATA,   /* present and id-data */
        CMS_CONTENT_TYPE_OTHER,  /* present with another OID (or several values) */
        _CMS_CONTENT_TYPE_MAX,
        _CMS_CONTENT_TYPE_INVALID = -EINVAL,
} CmsContentType;

typedef enum CmsSigningCert {
        CMS_SIGNING_CERT_ABSENT, /* neither ESS signing-certificate nor signing-certificate-v2 */
        CMS_SIGNING_CERT_V2_OK,  /* signing-certificate-v2: the first ESSCertIDv2 binds the signer cert */
        CMS_SIGNING_CERT_V1_OK,  /* signing-certificate (SHA-1): the first ESSCertID binds the signer cert */
        CMS_SIGNING_CERT_MISMATCH,  /* present, but hash or issuerSerial designate another certificate */
        CMS_SIGNING_CERT_MALFORMED, /* present and unparsable, or present twice */
        _CMS_SIGNING_CERT_MAX,
        _CMS_SIGNING_CERT_INVALID = -EINVAL,
} CmsSigningCert;

typedef enum CmsTimestampStatus {
        CMS_TIMESTAMP_NONE,          /* no id-aa-signatureTimeStampToken unsigned attribute */
        CMS_TIMESTAMP_OK,            /* token signature valid and imprint matches this signature value */
        CMS_TIMESTAMP_MALFORMED,     /* not a parsable time-stamp token, or several tokens */
        CMS_TIMESTAMP_BAD_SIGNATURE, /* the token's own CMS signature does not verify, or TSA cert missing */
        CMS_TIMESTAMP_IMPRINT_MISMATCH, /* the token time-stamps something other than this signature value */
        CMS_TIMESTAMP_UNSUPPORTED_DIGEST, /* the imprint's hash algorithm is unknown */
        _CMS_TIMESTAMP_STATUS_MAX,
        _CMS_TIMESTAMP_STATUS_INVALID = -EINVAL,
} CmsTimestampStatus;

/* An RFC 3161 token found in a SignerInfo's unsigned attributes. The TSA's chain and its
 * id-kp-timeStamping usage are for policy/ to validate, from tsa_cert and certs. */
typedef struct CmsTimestamp {
        CmsTimestampStatus status;
        bool signature_valid;     /* the token's SignedData signature verifies with tsa_cert */
        bool imprint_matches;     /* messageImprint == hash(signature value) with the imprint's algorithm */
        bool has_gen_time;        /* gen_time is set (the TSTInfo parsed) */
        time_t gen_time;          /* TSTInfo.genTime, UTC, seconds */
        int imprint_digest_nid;   /* NID of the messageImprint hash, NID_undef if unknown */
        int signature_digest_nid; /* NID of the digest of the token's own signature, NID_undef if unknown */
        X509 *tsa_cert;           /* the certificate that signed the token (owned reference), or NULL */
        /* Every certificate carried in the token (owned), never NULL when status != NONE. */
        STACK_OF(X509) * certs;
        char *policy_oid; /* TSTInfo.policy in dotted form, or NULL */
        char *serial_hex; /* TSTInfo.serialNumber in hex, or NULL */
        char *detail;     /* English, for logs; NULL when status is NONE or OK */
} CmsTimestamp;

typedef struct CmsSignerResult CmsSignerResult;

/* One SignerInfo (or one countersignature). Pointers are owned by the enclosing CmsVerifyResult. */
struct CmsSignerResult {
        /* CMS_PROBLEM_OK when every check below holds (absent optional parts are fine). */
        CmsProblem problem;
        char *detail; /* English, for logs; never NULL */

        /* Who signed. */
        X509 *signer_cert;    /* owned reference, NULL when not found (CMS_PROBLEM_SIGNER_CERT_MISSING) */
        EVP_PKEY *signer_key; /* owned reference to the public key of signer_cert, or NULL */
        int key_bits;         /* EVP_PKEY_get_bits() of signer_key, 0 when unknown */

        /* Algorithms. */
        int digest_nid;            /* SignerInfo.digestAlgorithm, NID_undef when unknown */
        CmsSignatureScheme scheme; /* _CMS_SIGNATURE_SCHEME_INVALID when unsupported */
        int pss_mgf1_digest_nid;   /* RSA-PSS only: MGF1 hash, else NID_undef */
        int pss_salt_length;       /* RSA-PSS only: salt length in bytes, else -1 */

        /* The checks, each on its own. */
        bool has_signed_attrs;
        bool digest_matches;         /* message-digest attribute == hash(content) (or the parent's signature
                                      * value, for a countersignature) */
        CmsContentType content_type; /* countersignatures must have ABSENT, everything else DATA */
        bool signature_valid;        /* signature over DER(signed attributes) verifies with signer_key;
                                      * without signed attributes: over the content digest */
        CmsSigningCert signing_cert; /* ESS signing-certificate(-v2) binding */
        int signing_cert_digest_nid; /* the hash of that binding's first ESSCertID(v2): NID_sha1 for v1,
                                      * SHA-256 when a v2 leaves it to its default; NID_undef when absent */
        bool has_signing_time;       /* a signing-time signed attribute is present (claimed, not proven) */
        time_t signing_time;         /* its value, UTC, seconds */

        CmsTimestamp timestamp; /* signature time-stamp (CAdES-T); status CMS_TIMESTAMP_NONE when absent */

        /* id-countersignature unsigned attributes, each verified over this SignerInfo's signature value. */
        CmsSignerResult *countersigners;
        size_t n_countersigners;
};

typedef struct CmsVerifyResult {
        STACK_OF(X509) * certs;   /* every certificate carried in the SignedData (owned), never NULL */
        CmsSignerResult *signers; /* in the order of the encoded SET OF SignerInfo */
        size_t n_signers;
        uint64_t content_size;      /* bytes read from the content */
        uint8_t content_sha256[32]; /* SHA-256 of the content, always computed (for the audit log) */
} CmsVerifyResult;

/* Reads up to `size` bytes of content into buf. Returns the number of bytes read, 0 at the end, or a
 * negative errno. Lets the caller feed byte ranges (PDF) instead of a whole file. */
typedef ssize_t (*CmsReadFunc)(void *userdata, void *buf, size_t size);

/* Verifies the detached signature `sig` (DER, or PEM "-----BEGIN CMS/PKCS7-----") over the content read from
 * content_fd from its current position to the end of file, in one pass with bounded memory (works on pipes).
 * Returns 0 with *ret set when the signature parsed, whatever the signers' verdicts (look at each signer's
 * `problem`); a negative errno when the input is not a usable SignedData: -EBADMSG (not CMS, not SignedData,
 * no SignerInfo), -EOPNOTSUPP (an attached signature: the content is embedded), -EFBIG (sig too large),
 * -E2BIG (too many signers or digest algorithms), -ENOMEM, or the read error of content_fd. */
int cms_verify_detached_fd(const void *sig, size_t sig_size, int content_fd, CmsVerifyResult **ret);
/* The signature is parsed before any content is read: on a parse error the content is left unread. */

/* Same, with the content supplied by read(userdata, ...) until it returns 0. */
int cms_verify_detached(
        const void *sig, size_t sig_size, CmsReadFunc read, void *userdata, CmsVerifyResult **ret);

/* Reads a whole signature file from fd (at most CMS_VERIFY_MAX_SIGNATURE_SIZE, else -EFBIG). */
int cms_signature_read_fd(int fd, uint8_t **ret_data, size_t *ret_size);
/* Same, from read(userdata, ...) until it returns 0 (a reader that can be interrupted). */
int cms_signature_read(CmsReadFunc read, void *userdata, uint8_t **ret_data, size_t *ret_size);

/* Verifies an RFC 3161 time-stamp token (DER ContentInfo) on its own: its signature with the TSA certificate
 * it carries, its ESS signing-certificate binding, and its imprint against `stamped` (for a CAdES-T token:
 * the SignerInfo's signature value). Returns 0 with *ret filled (look at ret->status; free with
 * cms_timestamp_done()) or -EINVAL/-ENOMEM. Used by the TSA client before embedding a fresh token. */
int cms_verify_timestamp_token(
        const void *token, size_t token_size, const void *stamped, size_t stamped_size, CmsTimestamp *ret);
void cms_timestamp_done(CmsTimestamp *t);

CmsVerifyResult *cms_verify_result_free(CmsVerifyResult *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(CmsVerifyResult *, cms_verify_result_free);

/* True when every signer (and every countersigner) has CMS_PROBLEM_OK. */
bool cms_verify_result_all_ok(const CmsVerifyResult *r);

/* Stable lower-case names ("ok", "content-mismatch", "rsa-pss", "v2-ok", ...); NULL when out of range. */
const char *cms_problem_to_string(CmsProblem p);
CmsProblem cms_problem_from_string(const char *s);
const char *cms_signature_scheme_to_string(CmsSignatureScheme s);
CmsSignatureScheme cms_signature_scheme_from_string(const char *s);
const char *cms_content_type_to_string(CmsContentType t);
const char *cms_signing_cert_to_string(CmsSigningCert s);
const char *cms_timestamp_status_to_string(CmsTimestampStatus s);
