/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "i18n.h"
#include "openssl-util.h"
#include "policy/policy-rules.h"
#include "string-table.h"
#include "string-util.h"

static const char *const sign_role_table[_SIGN_ROLE_MAX] = {
        [SIGN_ROLE_APPROVE] = "approve",   [SIGN_ROLE_ISSUE] = "issue",       [SIGN_ROLE_COPY] = "copy",
        [SIGN_ROLE_APPENDIX] = "appendix", [SIGN_ROLE_PERSONAL] = "personal",
};

DEFINE_STRING_TABLE_LOOKUP(sign_role, SignRole);

void rule_decision_done(RuleDecision *d) {
        if (d)
                d->reason = mfree(d->reason);
}

static char *name_of(X509 *x) {
        if (!x)
                return strdup("?");
        char *cn = x509_subject_entry(x, NID_commonName);
        if (cn)
                return cn;
        char *o = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
        char *s = strdup(o ?: "?");
        OPENSSL_free(o);
        return s;
}

_printf_(4, 5) static int decide(RuleDecision *d, bool allow, const char *article, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = free_and_vasprintf(&d->reason, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        d->allow = allow;
        d->article = article;
        return 0;
}

static const char *kind_label(CertKind k) {
        switch (k) {
        case CERT_KIND_PERSONAL:
                return _("a personal certificate");
        case CERT_KIND_ORGANIZATION:
                return _("an organisation certificate");
        case CERT_KIND_DEVICE:
                return _("a device or service certificate");
        default:
                return _("a certificate of unknown kind");
        }
}

bool policy_signature_counts_as_leader(
        const Policy *p, X509 *seal, const ExistingSignature *s, char **ret_why) {
        _cleanup_free_ char *who = name_of(s->signer);
        char *why = NULL;
        bool ok = false;
        int r;

        if (!s->signer)
                r = asprintf(&why, "%s", _("its signer certificate is missing"));
        else if (!s->integrity_ok && s->integrity_reason)
                r = asprintf(&why, _("the signature of %s does not count: %s"), who, s->integrity_reason);
        else if (!s->integrity_ok)
                r = asprintf(
                        &why, _("the signature of %s is broken (the document or the signature was changed)"),
                        who);
        else if (!s->signing_cert_bound)
                r = asprintf(
                        &why,
                        _("the signature of %s does not bind its certificate (no signing-certificate-v2 "
                          "attribute with an allowed hash), so it could be shown with another certificate for "
                          "the same key"),
                        who);
        else if (!s->covers_whole_document)
                r = asprintf(
                        &why,
                        _("the signature of %s does not cover the whole document (content was added after "
                          "it)"),
                        who);
        else if (!s->status_at_signing)
                r = asprintf(&why, _("the certificate of %s could not be checked at its signing time"), who);
        else if (!cert_status_is_usable(s->status_at_signing->status))
                r = asprintf(
                        &why, _("the certificate of %s was not valid when it signed: %s"), who,
                        strempty(s->status_at_signing->reason));
        else if (policy_classify_certificate(p, s->signer, NULL) != CERT_KIND_PERSONAL)
                r = asprintf(
                        &why, _("%s signed with %s, not a personal certificate"), who,
                        kind_label(policy_classify_certificate(p, s->signer, NULL)));
        else if (seal ? !policy_is_competent_leader(p, seal, s->signer, NULL) : ({
                         bool any = false;
                         for (size_t i = 0; i < p->n_seal_rules && !any; i++)
                                 any = cert_match(&p->seal_rules[i].leader, s->signer);
                         !any;
                 }))
                r = asprintf(
                        &why,
                        _("%s is not a competent person of this organisation according to the policy's "
                          "[seal] rules"),
                        who);
        else {
                ok = true;
                r = asprintf(&why, _("%s signed as a competent person of the organisation"), who);
        }
        if (r < 0)
                why = NULL;
        if (ret_why)
                *ret_why = why;
        else
                free(why);
        return ok;
}

int policy_rules_decide(const Policy *p, const RuleRequest *req, RuleDecision *ret) {
        _cleanup_(rule_decision_done) RuleDecision d = { .leader_signature = -1 };
        _cleanup_free_ char *who = NULL;
        const char *role;
        int r;

        if (!p || !req || !ret || !req->signer || !req->signer_status ||
            (req->n_existing > 0 && !req->existing))
                return -EINVAL;
        role = sign_role_to_string(req->role);
        if (!role)
                return -EINVAL;
        who = name_of(req->signer);
        if (!who)
                return -ENOMEM;

        /* Classified documents are never signed with these certificates, whoever asks. */
        if (policy_is_classified(p, req->classification)) {
                r = decide(
                        &d, false, ARTICLE_CLASSIFIED,
                        _("The document is marked \"%s\": classified documents (Mật, Tối mật, Tuyệt mật) must "
                          "not be signed with these certificates. Use the procedure for classified "
                          "documents."),
                        req->classification);
                goto out;
        }

        d.signer_kind = policy_classify_certificate(p, req->signer, NULL);
        bool need_personal = req->role == SIGN_ROLE_APPROVE || req->role == SIGN_ROLE_PERSONAL;

        if (d.signer_kind == CERT_KIND_DEVICE) {
                r = decide(
                        &d, false, ARTICLE_KINDS,
                        _("The certificate of %s is a device or service certificate; those never sign "
                          "documents. Use your personal certificate or the organisation's."),
                        who);
                goto out;
        }
        if (d.signer_kind == CERT_KIND_UNKNOWN) {
                r = decide(
                        &d, false, ARTICLE_KINDS,
                        _("The kind of the certificate of %s (personal, organisation or device) cannot be "
                          "determined from the policy's [kind] rules. Ask the administrator to classify it."),
                        who);
                goto out;
        }
        if (need_personal && d.signer_kind != CERT_KIND_PERSONAL) {
                r = decide(
                        &d, false, ARTICLE_KINDS,
                        _("Signing in the role '%s' needs a personal certificate, but %s is %s. Use the "
                          "leader's own eToken."),
                        role, who, kind_label(d.signer_kind));
                goto out;
        }
        if (!need_personal && d.signer_kind != CERT_KIND_ORGANIZATION) {
                r = decide(
                        &d, false, ARTICLE_ORG_TOKEN,
                        _("Signing in the role '%s' needs the organisation's certificate (held by the clerk), "
                          "but %s is %s."),
                        role, who, kind_label(d.signer_kind));
                goto out;
        }

        if (!cert_status_is_usable(req->signer_status->status)) {
                r =
                        decide(&d, false, ARTICLE_VALIDITY, _("The certificate cannot sign now: %s"),
                               strempty(req->signer_status->reason));
                goto out;
        }

        switch (req->role) {
        case SIGN_ROLE_APPROVE:
        case SIGN_ROLE_PERSONAL:
                r =
                        decide(&d, true, ARTICLE_KINDS,
                               _("Allowed: %s signs with a valid personal certificate."), who);
                break;
        case SIGN_ROLE_COPY:
        case SIGN_ROLE_APPENDIX:
                r = decide(
                        &d, true, ARTICLE_COPY,
                        req->role == SIGN_ROLE_COPY
                                ? _("Allowed: the organisation certifies its own copy; no leader's signature is "
                                    "needed.")
                                : _("Allowed: the organisation signs an attachment; no leader's signature is "
                                    "needed."));
                break;
        case SIGN_ROLE_ISSUE: {
                _cleanup_free_ char *whys = NULL;
                for (size_t i = 0; i < req->n_existing; i++) {
                        _cleanup_free_ char *why = NULL;
                        if (policy_signature_counts_as_leader(p, req->signer, &req->existing[i], &why)) {
                                d.leader_signature = (ssize_t) i;
                                r = decide(
                                        &d, true, ARTICLE_SEAL,
                                        _("Allowed: the document carries a valid signature of a competent "
                                          "person (%s)."),
                                        strempty(why));
                                goto out;
                        }
                        char *n;
                        if (asprintf(&n, "%s%s%s", strempty(whys), whys ? "; " : "", why ?: "?") < 0)
                                return -ENOMEM;
                        free(whys);
                        whys = n;
                }
                if (req->n_existing == 0)
                        r = decide(
                                &d, false, ARTICLE_SEAL, "%s",
                                _("The organisation's seal may only be applied to a document that already "
                                  "carries the competent person's signature, and this document carries no "
                                  "signature. Have the leader sign it first (role approve)."));
                else
                        r = decide(
                                &d, false, ARTICLE_SEAL,
                                _("The organisation's seal may only be applied to a document that already "
                                  "carries a valid signature of the competent person, and none of its %zu "
                                  "signature(s) counts: %s. Have the leader sign this exact document first."),
                                req->n_existing, whys);
                break;
        }
        default:
                return -EINVAL;
        }
out:
        if (r < 0)
                return r;
        *ret = d;
        d = (RuleDecision){};
        return 0;
}
