/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Signature check: one signature's verdict, combining formats/' cryptographic result with the signer
 * certificate's status at signing time and now, the time-stamp's TSA, and the competent-person relation. */

#include "formats/cms-verify.h"
#include "policy/cert-validate.h"
#include "policy/policy-rules.h"

typedef enum SigningTimeSource {
        SIGNING_TIME_NONE,      /* neither claimed nor time-stamped: judged at the present time */
        SIGNING_TIME_CLAIMED,   /* the signer's own signing-time attribute, or a PDF's /M: not proof */
        SIGNING_TIME_TIMESTAMP, /* an RFC 3161 token from a TSA the policy trusts */
        _SIGNING_TIME_SOURCE_MAX,
        _SIGNING_TIME_SOURCE_INVALID = -EINVAL,
} SigningTimeSource;

typedef struct SignatureCheck {
        X509 *signer; /* borrowed from the CmsSignerResult; NULL when missing */
        char *signer_name;
        char *signer_title;
        char *organization;
        CertKind kind;

        bool integrity_ok;
        char *integrity_reason;  /* translated */
        bool signing_cert_bound; /* see ExistingSignature */
        char *binding_reason;    /* translated: how the certificate is bound, or why it is not */

        time_t signing_time;
        SigningTimeSource time_source;
        bool has_timestamp;
        bool timestamp_trusted;
        char *timestamp_reason; /* translated: why the time-stamp is not trusted */
        char *tsa_name;
        CertValidation tsa_status; /* meaningful when has_timestamp and the token verified */

        CertValidation at_signing; /* the signer certificate at signing_time */
        CertValidation now;        /* the signer certificate now */
        /* Without a time-stamp, valid at the claimed time but not now: at_signing then holds the present
         * verdict (a claimed time is never trusted alone). */
        bool claimed_time_unproven;
        /* The signing time (claimed or time-stamped) is later than now plus the policy's clock skew. */
        bool time_in_future;

        bool counts_as_leader;
        char *leader_reason; /* translated */

        bool valid;
        char *reason; /* translated: why valid, or the first reason it is not */
} SignatureCheck;

/* Checks signer s of the verified CMS res. Network: OCSP/CRL per the policy. Returns 0 with *ret filled
 * (look at ret->valid) or a negative errno. */
int signature_check(
        const Policy *p, const CmsVerifyResult *res, const CmsSignerResult *s, SignatureCheck *ret);
/* The same for a signature that claims its time outside the CMS (a PDF's /M: PAdES puts no signing-time
 * attribute in the CMS). claimed_time (NULL: none) is taken when the CMS has no signing-time attribute, and
 * judged as that attribute would be: never proof, refused when in the future. */
int signature_check_claimed(
        const Policy *p, const CmsVerifyResult *res, const CmsSignerResult *s, const time_t *claimed_time,
        SignatureCheck *ret);
void signature_check_done(SignatureCheck *c);

/* The input of the seal rule for this signature (pointers borrowed from c). covers_whole_document is the
 * caller's to say (true for a detached CMS over the same bytes). */
ExistingSignature signature_check_to_existing(const SignatureCheck *c, bool covers_whole_document);

const char *signing_time_source_to_string(SigningTimeSource s);
/* Translated text for formats/' problem codes. */
const char *cms_problem_message(CmsProblem p);
