/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "agent-policy.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "openssl-util.h"
#include "pkcs11/p11-cert-lookup.h"
#include "sign-jobs.h"
#include "sign-request.h"

/* The signer of a request: the policy it is decided under, the certificate on its token, the algorithms,
 * and the certificate's chain and revocation status (on a worker thread). */

static bool strv_has(char *const *l, const char *s) {
        STRV_FOREACH (i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

/* The token's identity for the audit records, so the report can tell tokens apart by serial. */
static int set_token_fields(SignRequest *r, const P11Token *t) {
        const struct {
                char **dst;
                const char *src;
        } f[] = { { &r->token_serial, t->serial },
                  { &r->token_manufacturer, t->manufacturer },
                  { &r->token_model, t->model } };
        for (size_t i = 0; i < ELEMENTSOF(f); i++) {
                free(*f[i].dst);
                *f[i].dst = isempty(f[i].src) ? NULL : strdup(f[i].src);
                if (!isempty(f[i].src) && !*f[i].dst)
                        return -ENOMEM;
        }
        return 0;
}

static int request_find_certificate(SignRequest *r) {
        const P11Token *const *tokens;
        const P11Certificate *const *certs;
        size_t n_tokens, n_certs;
        const P11Certificate *found = NULL;
        const P11Token *token = NULL;
        int k;

        k = p11_manager_get_tokens(r->owner->manager, &tokens, &n_tokens);
        if (k >= 0)
                k = p11_manager_get_certificates(r->owner->manager, &certs, &n_certs);
        if (k < 0)
                return k;
        k = p11_certificate_lookup(
                r->cert_uri, tokens, n_tokens, certs, n_certs, P11_LOOKUP_NEED_KEY, &token, &found);
        if (k < 0)
                return k;
        free(r->token_uri);
        r->token_uri = strdup(found->token_uri);
        r->token_label = strdup(strempty(token->label));
        if (set_token_fields(r, token) < 0)
                return -ENOMEM;
        /* Sign with the certificate's own URI, so the manager finds exactly this one. */
        free(r->cert_uri);
        r->cert_uri = strdup(found->uri);
        r->token.pin_flags = token->pin_flags;
        if (!r->token_uri || !r->token_label || !r->cert_uri)
                return -ENOMEM;
        if (found->x509 && X509_up_ref(found->x509))
                r->cert = found->x509;
        else {
                const unsigned char *p = found->der;
                r->cert = d2i_X509(NULL, &p, (long) found->der_size);
        }
        if (!r->cert)
                return -EBADMSG;
        /* Kind and status are decided by the request's own checks (cert_validate with revocation). */
        return certificate_info_from_x509(
                NULL, r->cert, found->der, found->der_size, (int64_t) time(NULL), &r->info);
}

/* The policy as policy_load() reads it now; the one of the last request while none of its files changed. */
static int signer_load_policy(AgentSign *s, Policy **ret, char ***ret_errors) {
        return policy_cache_load(s ? s->policy_cache : NULL, policy_tools_path(), 0, ret, ret_errors);
}

int signer_prepare(SignRequest *r) {
        _cleanup_strv_free_ char **errors = NULL;
        EVP_PKEY *key;
        int k;

        /* Never policy_tools_flags(): the person at the desk sets this process's environment, and must not
         * be able to loosen the policy with it. The owner check always applies (root-owned, not writable by
         * others), so $KYSO_POLICY can only point at a policy the administrator wrote. */
        k = r->policy ? 0 : signer_load_policy(r->owner, &r->policy, &errors);
        if (k < 0) {
                log_error_errno(
                        k, "Cannot load the signing policy %s: %m%s%s", policy_tools_path(),
                        errors && errors[0] ? ": " : "", errors && errors[0] ? errors[0] : "");
                request_fail_all(
                        r, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                        _("The signing policy could not be read, so nothing can be signed. Ask your "
                          "administrator to check it with 'kysoctl policy check'."));
                return -ECANCELED;
        }
        /* Which policy decides is part of the record: written when it differs from the one last recorded. */
        if (r->owner && !streq(r->owner->policy_digest, r->policy->digest)) {
                k = r->owner->audit ? agent_policy_record(r->owner->audit, r->policy, "sign request")
                                    : -EROFS;
                if (k < 0) {
                        log_error_errno(k, "Cannot record the signing policy in the audit log: %m");
                        const char *what = _(
                                "The audit log could not record the signing policy, so nothing is signed.");
                        _cleanup_free_ char *msg = audit_failure_message(what, k);
                        request_fail_all(r, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL, msg ?: what);
                        return -ECANCELED;
                }
                agent_sign_set_policy_recorded(r->owner, r->policy->digest);
        }

        k = request_find_certificate(r);
        if (k < 0) {
                _cleanup_free_ char *msg = NULL;
                if (k == -ENOMEM)
                        return k;
                if (asprintf(
                            &msg,
                            k == -ENOKEY ? _("The certificate %s has no private key on its token. Choose a "
                                             "certificate listed by 'kysoctl certs' with a key.")
                            : k == -ENOTUNIQ
                                    ? _("The certificate URI %s matches several certificates. Give the full "
                                        "URI from 'kysoctl certs'.")
                                    : _("No token with the certificate %s is present. Insert the token and "
                                        "check 'kysoctl certs'."),
                            r->cert_uri) < 0)
                        return -ENOMEM;
                request_fail_errno(r, k, msg); /* -ENOTUNIQ InvalidArgs, -ENOKEY and -ENODEV NoToken */
                return -ECANCELED;
        }
        r->cert_cn = x509_subject_entry(r->cert, NID_commonName);
        r->cert_o = x509_subject_entry(r->cert, NID_organizationName);
        k = cades_signing_certificate(r->cert, &r->signing_certificate, &r->signing_certificate_size);
        if (k < 0)
                return k;
        r->kind = policy_classify_certificate(r->policy, r->cert, NULL);
        pin_cache_update_config(r->owner, r->policy);
        if (r->policy->intermediates) {
                r->chain = X509_chain_up_ref(r->policy->intermediates);
                if (!r->chain)
                        return -ENOMEM;
        }

        r->digest_nid = NID_sha256;
        if (r->policy->hashes && r->policy->hashes[0] && !strv_has(r->policy->hashes, "sha256")) {
                if (streq(r->policy->hashes[0], "sha384"))
                        r->digest_nid = NID_sha384;
                else if (streq(r->policy->hashes[0], "sha512"))
                        r->digest_nid = NID_sha512;
        }
        r->token.mech.hash = r->digest_nid == NID_sha384   ? P11_HASH_SHA384
                             : r->digest_nid == NID_sha512 ? P11_HASH_SHA512
                                                           : P11_HASH_SHA256;
        key = X509_get0_pubkey(r->cert);
        if (key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
                r->scheme = CMS_SIGNATURE_ECDSA;
                r->token.mech.algorithm = P11_SIGN_ECDSA;
        } else if (
                key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS &&
                r->policy->rsa_padding != RSA_PADDING_PSS) {
                /* The key may only make PSS signatures: refuse now, before any prompt or PIN, rather than
                 * fail in the token. Signing with PSS anyway would override the administrator's choice. */
                request_fail_all(
                        r, DOC_DENIED, KYSO_BUS_ERROR_POLICY_DENIED,
                        _("The key of this certificate can only make RSA-PSS signatures, but the policy asks "
                          "for RSA PKCS#1 v1.5 signatures (rsa-padding = pkcs1). Use another certificate, or ask "
                          "your administrator to set rsa-padding = pss."));
                return -ECANCELED;
        } else if (r->policy->rsa_padding == RSA_PADDING_PSS) {
                r->scheme = CMS_SIGNATURE_RSA_PSS;
                r->token.mech.algorithm = P11_SIGN_RSA_PSS;
                r->token.mech.salt_length = -1;
        } else {
                r->scheme = CMS_SIGNATURE_RSA_PKCS1;
                r->token.mech.algorithm = P11_SIGN_RSA_PKCS1;
        }

        /* The level: the client's, else the policy's; a time-stamp asked for makes it at least B-T. */
        if (!r->level_asked)
                r->level = r->policy->signature_level;
        if (r->timestamp && r->level < SIGNATURE_LEVEL_B_T)
                r->level = SIGNATURE_LEVEL_B_T;
        r->timestamp = r->level >= SIGNATURE_LEVEL_B_T;
        if (r->timestamp && !r->policy->tsa_url) {
                request_fail_all(
                        r, DOC_FAILED, KYSO_BUS_ERROR_INVALID_ARGS,
                        _("A time-stamp was asked for, but the policy names no time-stamp server. Sign "
                          "without a time-stamp, or ask your administrator to set one."));
                return -ECANCELED;
        }

        return 0;
}

static void validate_done(void *data, void *userdata) {
        CertCheckJob *j = data;
        SignRequest *r = userdata;

        r->job = NULL;
        if (j->error < 0) {
                log_error_errno(j->error, "Cannot prepare request %s: %m", r->path);
                request_fail_errno(r, j->error, NULL);
                return;
        }
        cert_validation_done(&r->status);
        r->status = j->result;
        j->result = (CertValidation){};
        r->signing_time = time(NULL);
        if (!request_enter(r, REQ_CHECKING))
                return;
        r->check_idx = 0;
        request_schedule(r);
}

/* Revocation and chain, on a worker thread (OCSP and CRL servers may take their whole timeout): fails
 * closed, no answer means no signature. */
int signer_validate_start(SignRequest *r) {
        CertCheckJob *j;
        int k;

        if (!request_enter(r, REQ_VALIDATING))
                return -ECANCELED;
        /* B-LT keeps the OCSP answers and CRLs checked now in the PDF's /DSS. */
        k = cert_check_job_new(
                r->policy, r->cert, r->chain, 0,
                CERT_VALIDATE_DOCUMENT_SIGNING |
                        (r->level >= SIGNATURE_LEVEL_B_LT ? CERT_VALIDATE_KEEP_PROOFS : 0),
                &j);
        if (k < 0)
                return k;
        return request_job_submit(r, cert_check_job_run, validate_done, cert_check_job_free, j);
}

char *signer_unusable(AgentSign *s, SignRequest *r, const char *cert_uri, bool *ret_revoked) {
        _cleanup_(certificate_info_done) CertificateInfo info = {};
        _cleanup_strv_free_ char **errors = NULL;
        const P11Token *const *tokens;
        const P11Certificate *const *certs, *cert;
        const Policy *policy = s->revocation ? agent_revocation_get_policy(s->revocation) : NULL;
        size_t nt, nc;
        char *msg = NULL;
        int k;

        /* The inventory's statuses were worked out under the policy of its last refresh. The request's own
         * policy is read now (signer_prepare() keeps it): when it differs, e.g. a root added with kysoctl
         * trust since, those statuses say nothing and the request's own checks decide. */
        if (!policy || (!r->policy && signer_load_policy(s, &r->policy, &errors) < 0) ||
            !streq(policy->digest, r->policy->digest))
                return NULL;
        if (p11_manager_get_tokens(s->manager, &tokens, &nt) < 0 ||
            p11_manager_get_certificates(s->manager, &certs, &nc) < 0 ||
            p11_certificate_lookup(cert_uri, tokens, nt, certs, nc, 0, NULL, &cert) < 0 ||
            certificate_info_from_x509(
                    policy, cert->x509, cert->der, cert->der_size, (int64_t) time(NULL), &info) < 0)
                return NULL;
        /* The same judgement as agent_append_certificate()'s, and kysoctl's may_sign(). */
        agent_revocation_apply(s->revocation, &info);
        if (!streq(info.status, "valid") && !streq(info.status, "expiring"))
                info.signing_usable = false;
        if (info.signing_usable || (streq(info.status, "unchecked") && isempty(info.reason)))
                return NULL;
        k = !isempty(info.reason)
                    ? asprintf(&msg, _("the certificate %s cannot sign: %s"), cert->uri, info.reason)
                    : asprintf(
                              &msg, _("the certificate %s cannot sign: its status is %s."), cert->uri,
                              info.status);
        if (k < 0)
                return NULL; /* the request's own checks refuse it then */
        *ret_revoked = streq(info.status, "revoked");
        return msg;
}

SignParams request_sign_params(const SignRequest *r) {
        return (SignParams){
                .cert = r->cert,
                .chain = r->chain,
                .digest_nid = r->digest_nid,
                .scheme = r->scheme,
                .signing_time = r->signing_time,
                .signing_certificate = r->signing_certificate,
                .signing_certificate_size = r->signing_certificate_size,
        };
}

char *signer_token_of(AgentSign *s, const char *cert_uri) {
        const P11Token *const *tokens;
        const P11Certificate *const *certs, *cert;
        size_t nt, nc;

        if (p11_manager_get_tokens(s->manager, &tokens, &nt) < 0 ||
            p11_manager_get_certificates(s->manager, &certs, &nc) < 0)
                return NULL;
        /* Any certificate the URI names alone: whether it can sign is decided once the request starts. */
        if (p11_certificate_lookup(cert_uri, tokens, nt, certs, nc, 0, NULL, &cert) >= 0)
                return strdup(cert->token_uri);
        return NULL;
}
