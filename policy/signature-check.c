/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "i18n.h"
#include "openssl-util.h"
#include "policy/signature-check.h"
#include "string-table.h"
#include "string-util.h"
#include "time-util.h"

static const char *const signing_time_source_table[_SIGNING_TIME_SOURCE_MAX] = {
        [SIGNING_TIME_NONE] = "none",
        [SIGNING_TIME_CLAIMED] = "claimed",
        [SIGNING_TIME_TIMESTAMP] = "time-stamp",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(signing_time_source, SigningTimeSource);

static const char *const cms_problem_message_table[_CMS_PROBLEM_MAX] = {
        [CMS_PROBLEM_OK] = N_("The document is unchanged and the signature value verifies."),
        [CMS_PROBLEM_MALFORMED] = N_("The signature is damaged: a part of it cannot be read."),
        [CMS_PROBLEM_DIGEST_ALGORITHMS_MISMATCH] = N_(
                "The signature file was changed after signing: its list of hash algorithms (digestAlgorithms) "
                "does not include the hash the signer used."),
        [CMS_PROBLEM_UNSUPPORTED_ALGORITHM] = N_("The signature uses an algorithm that is not accepted."),
        [CMS_PROBLEM_SIGNER_CERT_MISSING] =
                N_("The signer's certificate is not in the signature, so it cannot be checked."),
        [CMS_PROBLEM_MISSING_SIGNED_ATTRS] =
                N_("The signature has no signed attributes (a CAdES signature needs them)."),
        [CMS_PROBLEM_MISSING_MESSAGE_DIGEST] =
                N_("The signature does not say which document it signs (no message digest)."),
        [CMS_PROBLEM_CONTENT_MISMATCH] =
                N_("The document was changed after it was signed: its hash does not match the signature."),
        [CMS_PROBLEM_BAD_SIGNATURE] = N_(
                "The signature value does not verify: the signature or its signed attributes were changed, or it "
                "was not made with this certificate's key."),
        [CMS_PROBLEM_CONTENT_TYPE] = N_("The signed content-type attribute is missing or wrong."),
        [CMS_PROBLEM_SIGNING_CERT_ATTR_MISMATCH] =
                N_("The signature names another certificate than the one it carries (the certificate was "
                   "swapped)."),
        [CMS_PROBLEM_BAD_TIMESTAMP] = N_("The signature's time-stamp does not verify."),
        [CMS_PROBLEM_BAD_COUNTERSIGNATURE] = N_("A countersignature on this signature does not verify."),
};

const char *cms_problem_message(CmsProblem p) {
        return _(string_table_get(
                cms_problem_message_table, ELEMENTSOF(cms_problem_message_table), p,
                N_("The signature could not be verified.")));
}

void signature_check_done(SignatureCheck *c) {
        if (!c)
                return;
        c->signer_name = mfree(c->signer_name);
        c->signer_title = mfree(c->signer_title);
        c->organization = mfree(c->organization);
        c->integrity_reason = mfree(c->integrity_reason);
        c->binding_reason = mfree(c->binding_reason);
        c->timestamp_reason = mfree(c->timestamp_reason);
        c->tsa_name = mfree(c->tsa_name);
        c->leader_reason = mfree(c->leader_reason);
        c->reason = mfree(c->reason);
        cert_validation_done(&c->tsa_status);
        cert_validation_done(&c->at_signing);
        cert_validation_done(&c->now);
}

static const char *hash_name(int nid) {
        return nid != NID_undef ? OBJ_nid2sn(nid) : "?";
}

/* Whether the signed attributes name the signer certificate (ESS), which the seal rule needs. */
static int check_binding(const Policy *p, const CmsSignerResult *s, SignatureCheck *c) {
        switch (s->signing_cert) {
        case CMS_SIGNING_CERT_V2_OK:
                c->signing_cert_bound = policy_hash_allowed(p, s->signing_cert_digest_nid);
                return free_and_asprintf(
                        &c->binding_reason,
                        c->signing_cert_bound
                                ? _("bound: the signed attributes name this certificate (signing-certificate-v2, "
                                    "%s).")
                                : _("NOT bound: the signing-certificate-v2 attribute names the certificate by its %s "
                                    "hash, which the policy does not allow."),
                        hash_name(s->signing_cert_digest_nid));
        case CMS_SIGNING_CERT_V1_OK:
                return free_and_asprintf(
                        &c->binding_reason, "%s",
                        _("NOT bound: only the older signing-certificate attribute names the certificate, by its "
                          "SHA-1 hash, which the policy does not allow."));
        case CMS_SIGNING_CERT_ABSENT:
                return free_and_asprintf(
                        &c->binding_reason, "%s",
                        _("NOT bound: the signature carries no signing-certificate attribute, so it could be shown "
                          "with another certificate for the same key."));
        default:
                return free_and_asprintf(
                        &c->binding_reason, "%s",
                        _("NOT bound: the signing-certificate attribute does not name this certificate."));
        }
}

/* "2026-12-06 14:30 UTC", or "?" when t cannot be shown. */
static void format_utc(time_t t, char *buf, size_t size) {
        if (t == (time_t) -1 || utc_strftime(buf, size, "%Y-%m-%d %H:%M UTC", t) < 0)
                snprintf(buf, size, "?");
}

/* Nobody signs in the future: a time later than now plus the policy's clock skew is a wrong clock or a
 * forged date, and would let a signature claim to be made within a certificate's validity that has not
 * begun. */
static bool time_in_future(const Policy *p, time_t t) {
        return t > time(NULL) + (time_t) p->clock_skew_sec;
}

/* A time-stamp counts when formats/ verified it, its hashes are the policy's, and its TSA certificate was
 * usable for time-stamping at the stamped time. */
static int
check_timestamp(const Policy *p, const CmsSignerResult *s, STACK_OF(X509) * pool, SignatureCheck *c) {
        const CmsTimestamp *t = &s->timestamp;
        int r;

        if (t->status != CMS_TIMESTAMP_OK || !t->tsa_cert || !t->has_gen_time)
                return free_and_asprintf(&c->timestamp_reason, "%s", _("it does not verify."));
        c->tsa_name = x509_subject_entry(t->tsa_cert, NID_commonName);
        if (time_in_future(p, t->gen_time)) {
                char when[32];
                format_utc(t->gen_time, when, sizeof when);
                return free_and_asprintf(
                        &c->timestamp_reason,
                        _("it is dated %s, in the future (the time-stamp authority's clock or the token is "
                          "wrong)."),
                        when);
        }
        if (!policy_hash_allowed(p, t->imprint_digest_nid))
                return free_and_asprintf(
                        &c->timestamp_reason,
                        _("it hashes the signature with %s, which the policy does not allow."),
                        hash_name(t->imprint_digest_nid));
        if (!policy_hash_allowed(p, t->signature_digest_nid))
                return free_and_asprintf(
                        &c->timestamp_reason,
                        _("it is signed with the hash %s, which the policy does not allow."),
                        hash_name(t->signature_digest_nid));
        r = cert_validate(p, t->tsa_cert, pool, t->gen_time, CERT_VALIDATE_TIMESTAMPING, &c->tsa_status);
        if (r < 0)
                return r;
        c->timestamp_trusted = cert_status_is_usable(c->tsa_status.status);
        if (!c->timestamp_trusted)
                return free_and_asprintf(&c->timestamp_reason, "%s", strempty(c->tsa_status.reason));
        return 0;
}

/* The certificates a signer may chain through: the signature's own plus the time-stamp token's. */
static STACK_OF(X509) * pool_of(const CmsVerifyResult *res, const CmsSignerResult *s) {
        STACK_OF(X509) *pool = sk_X509_new_null();
        if (!pool)
                return NULL;
        for (int i = 0; i < sk_X509_num(res->certs); i++)
                if (!X509_add_cert(pool, sk_X509_value(res->certs, i), X509_ADD_FLAG_UP_REF)) {
                        sk_X509_pop_free(pool, X509_free);
                        return NULL;
                }
        for (int i = 0; s->timestamp.certs && i < sk_X509_num(s->timestamp.certs); i++)
                if (!X509_add_cert(pool, sk_X509_value(s->timestamp.certs, i), X509_ADD_FLAG_UP_REF)) {
                        sk_X509_pop_free(pool, X509_free);
                        return NULL;
                }
        return pool;
}

/* The certificate was valid at the claimed signing time but is not now: the verdict at signing time becomes
 * the present one, with why the claimed time does not help. */
static int claimed_time_unproven(SignatureCheck *c) {
        char when[32];
        struct tm tm;
        time_t na = (time_t) -1;
        const ASN1_TIME *t = X509_get0_notAfter(c->signer);
        int r;

        if (t && ASN1_TIME_to_tm(t, &tm) == 1)
                na = timegm(&tm);
        format_utc(na, when, sizeof when);

        if (c->now.status == CERT_STATUS_EXPIRED)
                r = free_and_asprintf(
                        &c->at_signing.reason,
                        _("The certificate of %s expired on %s, and no time-stamp proves that the signature "
                          "was made while it was valid: the signing time is only claimed by the signer."),
                        strna(c->signer_name), when);
        else if (c->now.status == CERT_STATUS_REVOKED)
                r = free_and_asprintf(
                        &c->at_signing.reason,
                        _("%s The signing time is only claimed (no time-stamp), so nothing proves the "
                          "signature was made before the revocation."),
                        strempty(c->now.reason));
        else
                r = free_and_asprintf(
                        &c->at_signing.reason,
                        _("%s The signing time is only claimed (no time-stamp), so the certificate must be "
                          "valid now as well."),
                        strempty(c->now.reason));
        if (r < 0)
                return r;
        c->at_signing.status = c->now.status;
        c->at_signing.revoked_at = c->now.revoked_at;
        c->at_signing.revoked_later = false;
        c->claimed_time_unproven = true;
        return 0;
}

int signature_check(
        const Policy *p, const CmsVerifyResult *res, const CmsSignerResult *s, SignatureCheck *ret) {
        return signature_check_claimed(p, res, s, NULL, ret);
}

int signature_check_claimed(
        const Policy *p, const CmsVerifyResult *res, const CmsSignerResult *s, const time_t *claimed_time,
        SignatureCheck *ret) {
        _cleanup_(signature_check_done) SignatureCheck c = {};
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *pool = pool_of(res, s);
        int r;

        if (!pool)
                return -ENOMEM;
        c.signer = s->signer_cert;
        c.kind = CERT_KIND_UNKNOWN;
        if (c.signer) {
                c.signer_name = x509_subject_entry(c.signer, NID_commonName);
                c.signer_title = x509_subject_entry(c.signer, NID_title);
                c.organization = x509_subject_entry(c.signer, NID_organizationName);
                c.kind = policy_classify_certificate(p, c.signer, NULL);
        }

        /* Integrity: formats/' verdict, then our algorithm policy on top. */
        c.integrity_ok = s->problem == CMS_PROBLEM_OK;
        if (c.integrity_ok && !policy_hash_allowed(p, s->digest_nid)) {
                c.integrity_ok = false;
                r = free_and_asprintf(
                        &c.integrity_reason,
                        _("The signature uses the hash %s, which the policy does not allow."),
                        hash_name(s->digest_nid));
        } else if (
                c.integrity_ok && s->scheme == CMS_SIGNATURE_RSA_PSS &&
                !policy_hash_allowed(p, s->pss_mgf1_digest_nid)) {
                c.integrity_ok = false;
                r = free_and_asprintf(
                        &c.integrity_reason,
                        _("The signature uses RSA-PSS mask generation (MGF1) with the hash %s, which the policy "
                          "does not allow."),
                        hash_name(s->pss_mgf1_digest_nid));
        } else
                r = free_and_asprintf(&c.integrity_reason, "%s", cms_problem_message(s->problem));
        if (r < 0)
                return r;

        r = check_binding(p, s, &c);
        if (r < 0)
                return r;

        /* The time: a time-stamp from a trusted TSA proves it; the signing-time attribute only claims it. */
        c.has_timestamp = s->timestamp.status != CMS_TIMESTAMP_NONE;
        if (c.has_timestamp) {
                r = check_timestamp(p, s, pool, &c);
                if (r < 0)
                        return r;
        }
        if (c.timestamp_trusted) {
                c.signing_time = s->timestamp.gen_time;
                c.time_source = SIGNING_TIME_TIMESTAMP;
        } else if (s->has_signing_time) {
                c.signing_time = s->signing_time;
                c.time_source = SIGNING_TIME_CLAIMED;
        } else if (claimed_time) {
                c.signing_time = *claimed_time;
                c.time_source = SIGNING_TIME_CLAIMED;
        } else {
                c.signing_time = time(NULL);
                c.time_source = SIGNING_TIME_NONE;
        }
        c.time_in_future = c.time_source == SIGNING_TIME_CLAIMED && time_in_future(p, c.signing_time);

        if (c.signer) {
                r = cert_validate(
                        p, c.signer, pool, 0,
                        CERT_VALIDATE_DOCUMENT_SIGNING | CERT_VALIDATE_EXPIRED_REVOCATION, &c.now);
                if (r < 0)
                        return r;
                r = cert_validate(
                        p, c.signer, pool, c.signing_time, CERT_VALIDATE_DOCUMENT_SIGNING, &c.at_signing);
                if (r < 0)
                        return r;

                /* A claimed time proves nothing: anyone holding the key can backdate it into the
                 * certificate's validity, before its revocation. Only a time-stamp lets a signature outlive
                 * its certificate; without one the certificate must be valid now as well. So an expired
                 * certificate is refused for that, also when its status at the claimed time is unknown
                 * (a CRL that drops expired certificates): the network is not what is missing. */
                if (c.time_source != SIGNING_TIME_TIMESTAMP && !cert_status_is_usable(c.now.status) &&
                    (cert_status_is_usable(c.at_signing.status) ||
                     (c.now.status == CERT_STATUS_EXPIRED &&
                      c.at_signing.status == CERT_STATUS_UNKNOWN_REVOCATION))) {
                        r = claimed_time_unproven(&c);
                        if (r < 0)
                                return r;
                }
        } else
                c.at_signing.status = c.now.status = CERT_STATUS_UNTRUSTED;

        /* The verdict, first failing reason wins. */
        if (!c.integrity_ok)
                r = free_and_asprintf(&c.reason, "%s", c.integrity_reason);
        else if (c.has_timestamp && !c.timestamp_trusted)
                r = free_and_asprintf(
                        &c.reason, "%s %s", _("The time-stamp cannot be trusted:"),
                        strempty(c.timestamp_reason));
        else if (c.time_in_future) {
                char when[32];
                format_utc(c.signing_time, when, sizeof when);
                r = free_and_asprintf(
                        &c.reason,
                        _("The signature claims to be made on %s, in the future: the signer's clock or the "
                          "signature is wrong, so it does not count."),
                        when);
        } else if (c.claimed_time_unproven)
                r = free_and_asprintf(
                        &c.reason,
                        _("Nothing shows that the signer's certificate was valid when it signed: %s"),
                        strempty(c.at_signing.reason));
        else if (!cert_status_is_usable(c.at_signing.status))
                r = free_and_asprintf(
                        &c.reason, _("The signer's certificate was not valid at the signing time: %s"),
                        strempty(c.at_signing.reason));
        else {
                c.valid = true;
                if (c.signing_cert_bound)
                        r = free_and_asprintf(&c.reason, "%s", _("The signature is valid."));
                else
                        r = free_and_asprintf(
                                &c.reason,
                                _("The signature is valid, but it does not bind its certificate, so it does not "
                                  "count as a competent person's signature: %s"),
                                strempty(c.binding_reason));
        }
        if (r < 0)
                return r;

        /* After the verdict, so the competent-person line gives the same reason. */
        if (c.signer) {
                ExistingSignature e = signature_check_to_existing(&c, true);
                c.counts_as_leader = policy_signature_counts_as_leader(p, NULL, &e, &c.leader_reason);
        } else {
                r = free_and_asprintf(&c.leader_reason, "%s", _("its signer certificate is missing"));
                if (r < 0)
                        return r;
        }

        *ret = c;
        c = (SignatureCheck){};
        return 0;
}

ExistingSignature signature_check_to_existing(const SignatureCheck *c, bool covers_whole_document) {
        /* What the seal rule calls intact: the signature, its time-stamp and its time all hold. */
        bool intact = c->integrity_ok && (!c->has_timestamp || c->timestamp_trusted) && !c->time_in_future;

        return (ExistingSignature){
                .signer = c->signer,
                .integrity_ok = intact,
                .integrity_reason = intact ? NULL : c->reason,
                .signing_cert_bound = c->signing_cert_bound,
                .covers_whole_document = covers_whole_document,
                .status_at_signing = c->signer ? &c->at_signing : NULL,
                .signing_time = c->signing_time,
                .signing_time_from_timestamp = c->time_source == SIGNING_TIME_TIMESTAMP,
        };
}
