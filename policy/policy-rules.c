/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "i18n.h"
#include "macro.h"
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
        if (!d)
                return;
        d->reason = mfree(d->reason);
        strv_free(d->params);
        d->params = NULL;
}

/* Not X509_NAME_oneline(): it escapes every byte of a Vietnamese name. */
static char *name_of(X509 *x) {
        return x ? cert_display_name(x) : strdup("?");
}

static const char *const kind_label_table[_CERT_KIND_MAX] = {
        [CERT_KIND_PERSONAL] = N_("a personal certificate"),
        [CERT_KIND_ORGANIZATION] = N_("an organisation certificate"),
        [CERT_KIND_DEVICE] = N_("a device or service certificate"),
};

static const char *kind_label(CertKind k) {
        return _(string_table_get(
                kind_label_table, ELEMENTSOF(kind_label_table), k, N_("a certificate of unknown kind")));
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

static const char *param(const char *const *params, const char *key) {
        for (; params && params[0] && params[1]; params += 2)
                if (streq(params[0], key))
                        return params[1];
        return NULL;
}

static const char *status_phrase(const char *status) {
        static const struct {
                CertStatus status;
                const char *phrase;
        } phrases[] = {
                { CERT_STATUS_EXPIRED, N_("it has expired") },
                { CERT_STATUS_NOT_YET_VALID, N_("it is not valid yet") },
                { CERT_STATUS_REVOKED, N_("it is revoked") },
                { CERT_STATUS_UNTRUSTED,
                  N_("it is not trusted (its chain does not lead to a CA of the policy)") },
                { CERT_STATUS_UNKNOWN_REVOCATION, N_("its revocation status cannot be established") },
                { CERT_STATUS_WEAK_KEY,
                  N_("its key or signature algorithm is weaker than the policy allows") },
                { CERT_STATUS_WRONG_USAGE, N_("its key usage does not allow signing documents") },
        };
        for (size_t i = 0; i < ELEMENTSOF(phrases); i++)
                if (streq_ptr(status, cert_status_to_string(phrases[i].status)))
                        return _(phrases[i].phrase);
        return _("it cannot be used");
}

static const struct {
        const char *code;
        const char *label;
} reason_labels[] = {
        { REASON_CLASSIFIED, N_("classified document") },
        { REASON_DEVICE_CERTIFICATE, N_("device or service certificate") },
        { REASON_UNKNOWN_KIND, N_("certificate of unknown kind") },
        { REASON_ROLE_NEEDS_PERSONAL, N_("the role needs a personal certificate") },
        { REASON_ROLE_NEEDS_ORGANIZATION, N_("the role needs the organisation's certificate") },
        { REASON_CERTIFICATE_UNUSABLE, N_("the certificate cannot sign now") },
        { REASON_SEAL_NO_SIGNATURE, N_("seal on a document without signature") },
        { REASON_SEAL_NO_LEADER, N_("seal without a valid signature of the competent person") },
        { REASON_ALLOWED_PERSONAL, N_("allowed: personal signature") },
        { REASON_ALLOWED_COPY, N_("allowed: copy certified by the organisation") },
        { REASON_ALLOWED_APPENDIX, N_("allowed: attachment signed by the organisation") },
        { REASON_ALLOWED_SEAL, N_("allowed: seal after the competent person's signature") },
        { REASON_CERT_EXPIRED, N_("expired certificate") },
        { REASON_CERT_NOT_YET_VALID, N_("certificate not valid yet") },
        { REASON_CERT_REVOKED, N_("revoked certificate") },
        { REASON_CA_REVOKED, N_("revoked CA certificate") },
        { REASON_CA_EXPIRED, N_("expired CA certificate") },
        { REASON_CA_NOT_YET_VALID, N_("CA certificate not valid yet") },
        { REASON_CERT_UNTRUSTED, N_("certificate not issued by a trusted CA") },
        { REASON_CERT_KEY_USAGE, N_("key usage does not allow signing documents") },
        { REASON_REVOCATION_NO_SERVER, N_("no revocation server named") },
        { REASON_REVOCATION_UNKNOWN, N_("revocation status unknown") },
        { REASON_CERT_KEY_TYPE, N_("key type not supported") },
        { REASON_CERT_KEY_CURVE, N_("key curve not allowed") },
        { REASON_CERT_KEY_WEAK, N_("key too weak") },
        { REASON_CERT_HASH, N_("certificate signed with a hash not allowed") },
        { REASON_CERT_NOT_TIMESTAMPING, N_("not a time-stamping certificate") },
        { REASON_DOCUMENT_EMPTY, N_("empty document") },
        { REASON_DOCUMENT_TOO_LARGE, N_("document too large") },
        { REASON_DOCUMENT_STALLED, N_("document not sent in full") },
        { REASON_DOCUMENT_UNREADABLE, N_("unreadable document") },
        { REASON_PDF_ENCRYPTED, N_("encrypted PDF") },
        { REASON_PDF_DAMAGED, N_("damaged PDF") },
        { REASON_PDF_CERTIFIED_NO_CHANGES, N_("PDF certified without changes allowed") },
        { REASON_PDF_UNSUPPORTED, N_("PDF that cannot be signed") },
};

bool policy_reason_is_document(const char *code) {
        return startswith(strempty(code), "document-") || startswith(strempty(code), "pdf-");
}

const char *policy_reason_label(const char *code) {
        for (size_t i = 0; code && i < ELEMENTSOF(reason_labels); i++)
                if (streq(code, reason_labels[i].code))
                        return _(reason_labels[i].label);
        return NULL;
}

/* Which server the policy asks (its revocation mode), for revocation-no-server. */
static const char *revocation_what(const char *mode) {
        if (streq_ptr(mode, "ocsp"))
                return _("OCSP server");
        if (streq_ptr(mode, "crl"))
                return _("CRL distribution point");
        return _("OCSP server or CRL distribution point");
}

/* How a revocation was found, in the reader's words: from the revocation_reason (the CRL reason's English
 * name, a msgid), source (ocsp|crl) and url parameters; a record written before them has its words, in the
 * language it was recorded in, as why. NULL without memory. */
static char *revoked_why(const char *const *params) {
        const char *reason = param(params, "revocation_reason"), *url = param(params, "url") ?: "?";
        char *s = NULL;

        if (!reason)
                return strdup(param(params, "why") ?: "?");
        if (asprintf(
                    &s,
                    streq_ptr(param(params, "source"), "crl")
                            ? _("revoked (%s), according to the CRL from %s")
                            : _("revoked (%s), according to OCSP server %s"),
                    _(reason), url) < 0)
                return NULL;
        return s;
}

/* The words of a certificate check (REASON_CERT_*, REASON_CA_*, REASON_REVOCATION_*): -EOPNOTSUPP for
 * another code. */
static int render_cert_check(const char *code, const char *const *params, char **ret) {
        const char *who = param(params, "certificate") ?: "?", *time = param(params, "time") ?: "?",
                   *why = param(params, "why") ?: "?", *missing = param(params, "missing"),
                   *expired = param(params, "expired");
        bool ca = streq_ptr(param(params, "ca"), "yes");
        _cleanup_free_ char *s = NULL, *revoked = NULL;
        int r;

        if (streq(code, REASON_CERT_REVOKED) || streq(code, REASON_CA_REVOKED)) {
                revoked = revoked_why(params);
                if (!revoked)
                        return -ENOMEM;
                why = revoked;
        }

        if (streq(code, REASON_CERT_EXPIRED))
                r = asprintf(
                        &s, _("The certificate of %s expired on %s. Ask the CA for a new certificate."), who,
                        time);
        else if (streq(code, REASON_CERT_NOT_YET_VALID))
                r = asprintf(
                        &s, _("The certificate of %s is not valid yet: it becomes valid on %s."), who, time);
        else if (streq(code, REASON_CERT_REVOKED))
                r = asprintf(
                        &s,
                        _("The certificate of %s was revoked on %s: %s. It must not be used; ask the CA for a "
                          "new one."),
                        who, time, why);
        else if (streq(code, REASON_CA_REVOKED))
                r = asprintf(
                        &s,
                        _("The CA certificate %s was revoked on %s: %s. Certificates it issued cannot be "
                          "trusted."),
                        who, time, why);
        else if (streq(code, REASON_CA_EXPIRED))
                r = asprintf(
                        &s, _("The CA certificate %s that issued %s had expired."),
                        param(params, "ca") ?: "?", who);
        else if (streq(code, REASON_CA_NOT_YET_VALID))
                r = asprintf(
                        &s, _("The CA certificate %s that issued %s was not valid yet."),
                        param(params, "ca") ?: "?", who);
        else if (streq(code, REASON_CERT_UNTRUSTED))
                r = asprintf(
                        &s,
                        _("The certificate of %s does not lead to a trusted root certificate (%s). It was not "
                          "issued by a CA this policy trusts."),
                        who, why);
        else if (streq(code, REASON_CERT_KEY_USAGE) && streq_ptr(missing, "nonRepudiation"))
                r = asprintf(
                        &s,
                        _("The certificate of %s is not meant for signing documents (its key usage lacks "
                          "nonRepudiation: it has digitalSignature only, as a log-in certificate does). Use a "
                          "signing certificate."),
                        who);
        else if (streq(code, REASON_CERT_KEY_USAGE) && streq_ptr(missing, "digitalSignature"))
                r = asprintf(
                        &s,
                        _("The certificate of %s is not meant for signing documents (its key usage lacks "
                          "digitalSignature). Use a signing certificate."),
                        who);
        else if (streq(code, REASON_CERT_KEY_USAGE))
                r = asprintf(
                        &s,
                        _("The certificate of %s is not meant for signing documents (its key usage lacks "
                          "digitalSignature and nonRepudiation). Use a signing certificate."),
                        who);
        else if (streq(code, REASON_REVOCATION_NO_SERVER))
                r = asprintf(
                        &s,
                        _("The revocation status of %s cannot be checked: the certificate names no %s that "
                          "the policy allows. Tell the administrator (the policy's [revocation] section)."),
                        who, revocation_what(param(params, "mode")));
        else if (streq(code, REASON_REVOCATION_UNKNOWN))
                r = asprintf(
                        &s,
                        _("The revocation status of %s cannot be established, so signing is refused: %s. Check "
                          "the network connection or try again later; tell the administrator if it lasts."),
                        who, why);
        else if (streq(code, REASON_CERT_KEY_TYPE))
                r = asprintf(
                        &s,
                        ca ? _("The key of the CA certificate %s is of a type kyso does not support (%s).")
                           : _("The key of the certificate of %s is of a type kyso does not support (%s); the "
                               "policy accepts RSA and ECDSA keys. Ask the CA for a new certificate."),
                        who, param(params, "type") ?: "?");
        else if (streq(code, REASON_CERT_KEY_CURVE))
                r = asprintf(
                        &s,
                        ca ? _("The key of the CA certificate %s uses the curve %s, which the policy does not "
                               "allow.")
                           : _("The key of the certificate of %s uses the curve %s, which the policy does not "
                               "allow. Ask the CA for a new certificate."),
                        who, param(params, "curve") ?: "?");
        else if (streq(code, REASON_CERT_KEY_WEAK))
                r = asprintf(
                        &s,
                        ca ? _("The key of the CA certificate %s is too weak (%s bits; the policy asks for RSA of "
                               "at least %s bits or ECDSA P-256 or stronger).")
                           : _("The key of the certificate of %s is too weak (%s bits; the policy asks for RSA "
                               "of at least %s bits or ECDSA P-256 or stronger). Ask the CA for a new "
                               "certificate."),
                        who, param(params, "bits") ?: "?", param(params, "min_bits") ?: "?");
        else if (streq(code, REASON_CERT_HASH))
                r = asprintf(
                        &s,
                        _("The certificate %s is signed with the hash %s, which the policy does not allow (it "
                          "allows %s)."),
                        who, param(params, "hash") ?: "?", param(params, "allowed") ?: "?");
        else if (streq(code, REASON_CERT_NOT_TIMESTAMPING))
                r = asprintf(
                        &s,
                        _("The certificate %s is not a time-stamping certificate (no timeStamping extended key "
                          "usage)."),
                        who);
        else
                return -EOPNOTSUPP;
        if (r < 0)
                return -ENOMEM;
        /* An expired certificate found revoked too. */
        if (expired) {
                char *t;
                if (asprintf(&t, _("%s It has also expired, on %s."), s, expired) < 0)
                        return -ENOMEM;
                free(s);
                s = t;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static int render_document(const char *code, const char *const *params, char **ret) {
        const char *text = NULL;
        int r;

        if (streq(code, REASON_DOCUMENT_EMPTY))
                text = _(
                        "The document is empty, so there is nothing to sign. Check that the application sent "
                        "the right file, then sign again.");
        else if (streq(code, REASON_DOCUMENT_UNREADABLE))
                text = _(
                        "The document could not be read. Check that the file is readable, then sign again.");
        else if (streq(code, REASON_PDF_ENCRYPTED))
                text = _(
                        "The PDF is protected by a password (encrypted), so it cannot be signed. Remove the "
                        "password in the application that made it, then sign again.");
        else if (streq(code, REASON_PDF_DAMAGED))
                text = _(
                        "The PDF is damaged: it can be read only after a repair, which would change what is "
                        "signed. Open it in the application that made it, save it again, then sign the new "
                        "file.");
        else if (streq(code, REASON_PDF_CERTIFIED_NO_CHANGES))
                text = _("The PDF was certified by its author with no changes allowed (DocMDP P=1), so no "
                         "signature can be added. Ask the author for a copy that allows signatures.");
        else if (streq(code, REASON_PDF_UNSUPPORTED))
                text = _("This PDF cannot be signed by this agent (for example it has no pages, or is too "
                         "large). Save it again as a standard PDF, then sign the new file.");
        if (text)
                r = asprintf(ret, "%s", text);
        else if (streq(code, REASON_DOCUMENT_TOO_LARGE))
                r = asprintf(
                        ret,
                        _("The document is larger than %s, the most this agent signs, so nothing was signed. "
                          "Check that the application sent the right file; to sign larger documents, ask your "
                          "administrator to raise max-document-size."),
                        param(params, "limit") ?: "?");
        else if (streq(code, REASON_DOCUMENT_STALLED))
                r = asprintf(
                        ret,
                        streq_ptr(param(params, "file"), "existing_signature")
                                ? _("The application stopped sending the leader's signature file "
                                    "(existing_signature): nothing more came for %u s, so nothing was signed. "
                                    "Sign again; if it happens again, tell whoever looks after the application.")
                                : _("The application stopped sending the document: nothing more came for %u s, "
                                    "so nothing was signed. Sign again; if it happens again, tell whoever looks "
                                    "after the application."),
                        (unsigned) strtoul(param(params, "seconds") ?: "0", NULL, 10));
        else
                return -EOPNOTSUPP;
        return r < 0 ? -ENOMEM : 0;
}

/* certificate-unusable's check, from its detail_code and detail_KEY parameters. */
static int render_detail(const char *const *params, char **ret) {
        const char *code = param(params, "detail_code"), *sub[2 * 8 + 1];
        size_t n = 0;

        if (!code)
                return -EOPNOTSUPP;
        for (; params && params[0] && params[1] && n + 2 < ELEMENTSOF(sub); params += 2)
                if (startswith(params[0], "detail_") && !streq(params[0], "detail_code")) {
                        sub[n++] = params[0] + strlen("detail_");
                        sub[n++] = params[1];
                }
        sub[n] = NULL;
        return render_cert_check(code, sub, ret);
}

int policy_reason_render(const char *code, const char *const *params, char **ret) {
        const char *who = param(params, "certificate") ?: "?", *role = param(params, "role") ?: "?",
                   *detail = param(params, "detail");
        _cleanup_free_ char *checked = NULL;
        CertKind kind = cert_kind_from_string(param(params, "kind"));
        char *s = NULL;
        int r;

        if (!code || !ret)
                return -EINVAL;
        r = render_cert_check(code, params, ret);
        if (r != -EOPNOTSUPP)
                return r;
        r = render_document(code, params, ret);
        if (r != -EOPNOTSUPP)
                return r;
        /* The check's own words, rendered again when the record's text (detail) is in another language. */
        if (streq(code, REASON_CERTIFICATE_UNUSABLE) && !detail && render_detail(params, &checked) >= 0)
                detail = checked;
        if (streq(code, REASON_CLASSIFIED))
                r = asprintf(
                        &s,
                        _("The document is marked \"%s\": classified documents (Mật, Tối mật, Tuyệt mật) must "
                          "not be signed with these certificates. Use the procedure for classified "
                          "documents."),
                        param(params, "classification") ?: "?");
        else if (streq(code, REASON_DEVICE_CERTIFICATE))
                r = asprintf(
                        &s,
                        _("The certificate of %s is a device or service certificate; those never sign "
                          "documents. Use your personal certificate or the organisation's."),
                        who);
        else if (streq(code, REASON_UNKNOWN_KIND))
                r = asprintf(
                        &s,
                        _("The kind of the certificate of %s (personal, organisation or device) cannot be "
                          "determined from the policy's [kind] rules. Ask the administrator to classify it."),
                        who);
        else if (streq(code, REASON_ROLE_NEEDS_PERSONAL))
                r = asprintf(
                        &s,
                        _("Signing in the role '%s' needs a personal certificate, but %s is %s. Use the "
                          "leader's own eToken."),
                        role, who, kind_label(kind));
        else if (streq(code, REASON_ROLE_NEEDS_ORGANIZATION))
                r = asprintf(
                        &s,
                        _("Signing in the role '%s' needs the organisation's certificate (held by the clerk), "
                          "but %s is %s."),
                        role, who, kind_label(kind));
        else if (streq(code, REASON_CERTIFICATE_UNUSABLE) && detail)
                r = asprintf(&s, _("The certificate cannot sign now: %s"), detail);
        else if (
                streq(code, REASON_CERTIFICATE_UNUSABLE) && param(params, "not_after") &&
                streq_ptr(param(params, "status"), "expired"))
                r = asprintf(
                        &s, _("The certificate of %s cannot sign now: it expired on %s."), who,
                        param(params, "not_after"));
        else if (streq(code, REASON_CERTIFICATE_UNUSABLE))
                r = asprintf(
                        &s, _("The certificate of %s cannot sign now: %s."), who,
                        status_phrase(param(params, "status")));
        else if (streq(code, REASON_SEAL_NO_SIGNATURE))
                r = asprintf(
                        &s, "%s",
                        _("The organisation's seal may only be applied to a document that already carries the "
                          "competent person's signature, and this document carries no signature. Have the "
                          "leader sign it first (role approve)."));
        else if (streq(code, REASON_SEAL_NO_LEADER) && detail)
                r = asprintf(
                        &s,
                        _("The organisation's seal may only be applied to a document that already carries a "
                          "valid signature of the competent person, and none of its %s signature(s) counts: "
                          "%s. Have the leader sign this exact document first."),
                        param(params, "signatures") ?: "?", detail);
        else if (streq(code, REASON_SEAL_NO_LEADER))
                r = asprintf(
                        &s,
                        _("The organisation's seal may only be applied to a document that already carries a "
                          "valid signature of the competent person, and none of its %s signature(s) counts. "
                          "Have the leader sign this exact document first."),
                        param(params, "signatures") ?: "?");
        else if (streq(code, REASON_ALLOWED_PERSONAL))
                r = asprintf(&s, _("Allowed: %s signs with a valid personal certificate."), who);
        else if (streq(code, REASON_ALLOWED_COPY))
                r = asprintf(
                        &s, "%s",
                        _("Allowed: the organisation certifies its own copy; no leader's signature is needed."));
        else if (streq(code, REASON_ALLOWED_APPENDIX))
                r = asprintf(
                        &s, "%s",
                        _("Allowed: the organisation signs an attachment; no leader's signature is needed."));
        else if (streq(code, REASON_ALLOWED_SEAL) && detail)
                r = asprintf(
                        &s, _("Allowed: the document carries a valid signature of a competent person (%s)."),
                        detail);
        else if (streq(code, REASON_ALLOWED_SEAL))
                r = asprintf(
                        &s, "%s",
                        _("Allowed: the document carries a valid signature of a competent person."));
        else
                return -EOPNOTSUPP;
        if (r < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* The decision, its code and parameters (key, value, ..., NULL; a NULL value leaves its key out), and its
 * text rendered from them: the agent's answer and the audit log's re-rendering say the same. */
_sentinel_ static int decide(RuleDecision *d, bool allow, const char *article, const char *code, ...) {
        va_list ap;
        int r;

        va_start(ap, code);
        r = policy_reason_setv(code, ap, &d->params, &d->reason);
        va_end(ap);
        if (r < 0)
                return r;
        d->allow = allow;
        d->article = article;
        d->code = code;
        return 0;
}

int policy_reason_buildv(const char *code, va_list ap, char ***ret_params, char **ret_text) {
        _cleanup_strv_free_ char **params = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        for (const char *k; (k = va_arg(ap, const char *));) {
                const char *v = va_arg(ap, const char *);
                if (!v)
                        continue;
                if (strv_extend(&params, k) < 0 || strv_extend(&params, v) < 0)
                        return -ENOMEM;
        }
        r = policy_reason_render(code, (const char *const *) params, &text);
        if (r < 0)
                return r;
        *ret_params = TAKE_PTR(params);
        *ret_text = TAKE_PTR(text);
        return 0;
}

int policy_reason_setv(const char *code, va_list ap, char ***params, char **text) {
        char **p, *t;
        int r = policy_reason_buildv(code, ap, &p, &t);
        if (r < 0)
                return r;
        strv_free(*params);
        *params = p;
        free(*text);
        *text = t;
        return 0;
}

int policy_reason_build(char ***ret_params, char **ret_text, const char *code, ...) {
        va_list ap;
        int r;

        va_start(ap, code);
        r = policy_reason_buildv(code, ap, ret_params, ret_text);
        va_end(ap);
        return r;
}

/* The check's code and parameters beside its text (detail), as detail_code and detail_KEY: the audit log
 * renders the check again in its reader's language. */
static int add_detail_params(RuleDecision *d, const CertValidation *v) {
        if (!v->reason_code)
                return 0;
        if (strv_extend(&d->params, "detail_code") < 0 || strv_extend(&d->params, v->reason_code) < 0)
                return -ENOMEM;
        for (char **p = v->reason_params; p && p[0] && p[1]; p += 2) {
                _cleanup_free_ char *key = NULL;
                if (asprintf(&key, "detail_%s", p[0]) < 0 || strv_extend(&d->params, key) < 0 ||
                    strv_extend(&d->params, p[1]) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static void format_day(X509 *x, char buf[static 16]) {
        const ASN1_TIME *t = x ? X509_get0_notAfter(x) : NULL;
        struct tm tm;

        buf[0] = '\0';
        if (t && ASN1_TIME_to_tm(t, &tm) == 1)
                strftime(buf, 16, "%Y-%m-%d", &tm);
}

int policy_rules_decide(const Policy *p, const RuleRequest *req, RuleDecision *ret) {
        _cleanup_(rule_decision_done) RuleDecision d = { .leader_signature = -1 };
        _cleanup_free_ char *who = NULL;
        const char *role;
        char not_after[16];
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
                r =
                        decide(&d, false, ARTICLE_CLASSIFIED, REASON_CLASSIFIED, "classification",
                               req->classification, NULL);
                goto out;
        }

        d.signer_kind = policy_classify_certificate(p, req->signer, NULL);
        bool need_personal = req->role == SIGN_ROLE_APPROVE || req->role == SIGN_ROLE_PERSONAL;
        const char *kind = cert_kind_to_string(d.signer_kind);

        if (d.signer_kind == CERT_KIND_DEVICE) {
                r = decide(&d, false, ARTICLE_KINDS, REASON_DEVICE_CERTIFICATE, "certificate", who, NULL);
                goto out;
        }
        if (d.signer_kind == CERT_KIND_UNKNOWN) {
                r = decide(&d, false, ARTICLE_KINDS, REASON_UNKNOWN_KIND, "certificate", who, NULL);
                goto out;
        }
        if (need_personal && d.signer_kind != CERT_KIND_PERSONAL) {
                r =
                        decide(&d, false, ARTICLE_KINDS, REASON_ROLE_NEEDS_PERSONAL, "role", role,
                               "certificate", who, "kind", kind, NULL);
                goto out;
        }
        if (!need_personal && d.signer_kind != CERT_KIND_ORGANIZATION) {
                r =
                        decide(&d, false, ARTICLE_ORG_TOKEN, REASON_ROLE_NEEDS_ORGANIZATION, "role", role,
                               "certificate", who, "kind", kind, NULL);
                goto out;
        }

        if (!cert_status_is_usable(req->signer_status->status)) {
                format_day(req->signer, not_after);
                r =
                        decide(&d, false, ARTICLE_VALIDITY, REASON_CERTIFICATE_UNUSABLE, "certificate", who,
                               "status", cert_status_to_string(req->signer_status->status), "not_after",
                               not_after[0] ? not_after : NULL, "detail",
                               strempty(req->signer_status->reason), NULL);
                if (r >= 0)
                        r = add_detail_params(&d, req->signer_status);
                goto out;
        }

        switch (req->role) {
        case SIGN_ROLE_APPROVE:
        case SIGN_ROLE_PERSONAL:
                r = decide(&d, true, ARTICLE_KINDS, REASON_ALLOWED_PERSONAL, "certificate", who, NULL);
                break;
        case SIGN_ROLE_COPY:
        case SIGN_ROLE_APPENDIX:
                r = decide(
                        &d, true, ARTICLE_COPY,
                        req->role == SIGN_ROLE_COPY ? REASON_ALLOWED_COPY : REASON_ALLOWED_APPENDIX, NULL);
                break;
        case SIGN_ROLE_ISSUE: {
                _cleanup_free_ char *whys = NULL;
                char n[32];
                for (size_t i = 0; i < req->n_existing; i++) {
                        _cleanup_free_ char *why = NULL;
                        if (policy_signature_counts_as_leader(p, req->signer, &req->existing[i], &why)) {
                                d.leader_signature = (ssize_t) i;
                                r =
                                        decide(&d, true, ARTICLE_SEAL, REASON_ALLOWED_SEAL, "certificate",
                                               who, "detail", strempty(why), NULL);
                                goto out;
                        }
                        /* The reasons are sentences of their own (verify's), joined into the refusal's. */
                        size_t k = strlen(strempty(why));
                        if (k > 0 && why[k - 1] == '.')
                                why[k - 1] = 0;
                        char *j;
                        if (asprintf(&j, "%s%s%s", strempty(whys), whys ? "; " : "", why ?: "?") < 0)
                                return -ENOMEM;
                        free(whys);
                        whys = j;
                }
                snprintf(n, sizeof n, "%zu", req->n_existing);
                if (req->n_existing == 0)
                        r = decide(&d, false, ARTICLE_SEAL, REASON_SEAL_NO_SIGNATURE, NULL);
                else
                        r =
                                decide(&d, false, ARTICLE_SEAL, REASON_SEAL_NO_LEADER, "certificate", who,
                                       "signatures", n, "detail", whys, NULL);
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
