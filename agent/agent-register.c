/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/x509.h>
#include <stdio.h>
#include <time.h>

#include "agent-register.h"
#include "log.h"
#include "notify.h"
#include "openssl-util.h"
#include "time-util.h"

int agent_register_open(const char *audit_path, CertRegister **ret) {
        _cleanup_free_ char *path = NULL;
        int r = cert_register_path_beside(audit_path, &path);
        if (r < 0)
                return r;
        r = cert_register_load(path, ret);
        if (r >= 0 || r == -ENOMEM)
                return r;

        _cleanup_free_ char *aside = NULL;
        if (asprintf(&aside, "%s.damaged-%lld", path, (long long) time(NULL)) < 0)
                return -ENOMEM;
        if (rename(path, aside) < 0)
                log_warning_errno(
                        errno, "Cannot read the certificate register %s, nor move it aside: %m", path);
        else
                log_warning_errno(
                        r, "Cannot read the certificate register %s (%m): moved to %s, starting a new one.",
                        path, aside);
        *ret = cert_register_new(path);
        return *ret ? 0 : -ENOMEM;
}

/* The first entry of nid in name, as UTF-8; NULL when there is none. */
static char *name_entry(const X509_NAME *name, int nid) {
        int i = X509_NAME_get_index_by_NID(name, nid, -1);
        unsigned char *utf8 = NULL;
        char *s;
        if (i < 0)
                return NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (n < 0)
                return NULL;
        s = strndup((char *) utf8, (size_t) n);
        OPENSSL_free(utf8);
        return s;
}

static int
record(AuditLog *audit, AuditEventType type, const char *message, const CertRegisterEntry *e,
       const char *status, const char *old_status) {
        char na[21];
        (void) utc_strftime(na, sizeof na, "%Y-%m-%dT%H:%M:%SZ", e->not_after);
        const char *extra[] = { "holder",     strempty(e->holder), "organization", strempty(e->organization),
                                "old_status", old_status,          "renewed_by",   e->renewed_by,
                                NULL };
        /* Leave out the pairs without a value. */
        const char *pairs[ELEMENTSOF(extra)];
        size_t n = 0;
        for (size_t i = 0; extra[i]; i += 2)
                if (extra[i + 1]) {
                        pairs[n++] = extra[i];
                        pairs[n++] = extra[i + 1];
                }
        pairs[n] = NULL;
        AuditEvent ev = {
                .type = type,
                .message = message,
                .cert_subject = e->subject,
                .cert_issuer = e->issuer,
                .cert_serial = e->serial,
                .cert_fingerprint = e->fingerprint,
                .cert_kind = e->kind,
                .cert_not_after = na,
                .cert_status = status,
                .token_label = e->token_label,
                .token_serial = e->token_serial,
                .article = "Quy chế Điều 22.3",
                .extra = pairs,
        };
        return audit ? audit_log_append(audit, &ev, NULL) : 0;
}

/* The status changes the register's readers must hear of (Điều 13-14); others (valid to expiring, a check
 * that could not reach the servers) are kept in the register only. */
static bool status_change_recorded(const char *status) {
        return streq_ptr(status, "revoked") || streq_ptr(status, "expired") ||
               streq_ptr(status, "untrusted");
}

static int observe_one(
        CertRegister *reg, AuditLog *audit, Notifier *notifier, const Policy *policy,
        const AgentRevocation *revocation, const P11Certificate *c, const P11Token *token, int64_t now) {
        _cleanup_(certificate_info_done) CertificateInfo info = {};
        _cleanup_(cert_register_change_done) CertRegisterChange change = {};
        _cleanup_free_ char *holder = NULL, *org = NULL;
        const unsigned char *p = c->der;
        int r;

        r = certificate_info_from_der(policy, c->der, c->der_size, now, &info);
        if (r < 0)
                return r == -EBADMSG ? 0 : r; /* not a certificate: nothing to register */
        agent_revocation_apply(revocation, &info);
        {
                _cleanup_(X509_freep) X509 *x = d2i_X509(NULL, &p, (long) c->der_size);
                if (!x)
                        return 0;
                holder = name_entry(X509_get_subject_name(x), NID_commonName);
                org = name_entry(X509_get_subject_name(x), NID_organizationName);
        }
        CertSighting s = {
                .fingerprint = info.sha256,
                .subject = info.subject,
                .issuer = info.issuer,
                .serial = info.serial,
                .holder = holder,
                .organization = org,
                .kind = info.kind,
                .not_before = info.not_before,
                .not_after = info.not_after,
                .token_label = token ? token->label : NULL,
                .token_serial = token ? token->serial : NULL,
                .status = info.status,
        };
        r = cert_register_observe(reg, &s, now, &change);
        if (r < 0)
                return r;
        CertRegisterEntry *e = cert_register_find(reg, info.sha256);
        if (change.flags & CERT_REGISTER_RENEWAL) {
                r =
                        record(audit, AUDIT_EVENT_CERT_STATUS_CHANGED, "Certificate renewed", change.renewed,
                               "renewed", change.renewed_old_status);
                if (r < 0)
                        log_error_errno(r, "Cannot write the audit record of a renewal: %m");
        }
        if (change.flags & CERT_REGISTER_FIRST_SEEN) {
                r =
                        record(audit, AUDIT_EVENT_CERT_FIRST_SEEN, "Certificate seen for the first time", e,
                               e->status, NULL);
                if (r < 0)
                        log_error_errno(r, "Cannot write the audit record of a new certificate: %m");
        }
        if ((change.flags & CERT_REGISTER_STATUS_CHANGED) && status_change_recorded(e->status)) {
                r =
                        record(audit, AUDIT_EVENT_CERT_STATUS_CHANGED, "Certificate status changed", e,
                               e->status, change.old_status);
                if (r < 0)
                        log_error_errno(r, "Cannot write the audit record of a status change: %m");
        }
        if (notifier)
                notifier_certificate(
                        notifier, reg, e, info.status, info.days_left, now,
                        policy ? policy->expiry_warning_days : AGENT_EXPIRY_WARNING_DAYS);
        return 0;
}

void agent_register_update(
        CertRegister *reg, AuditLog *audit, Notifier *notifier, const Policy *policy,
        const AgentRevocation *revocation, const P11Token *const *tokens, size_t n_tokens,
        const P11Certificate *const *certs, size_t n_certs, int64_t now) {
        if (!reg)
                return;
        for (size_t i = 0; i < n_certs; i++) {
                const P11Token *token = NULL;
                for (size_t j = 0; j < n_tokens; j++)
                        if (streq_ptr(tokens[j]->uri, certs[i]->token_uri))
                                token = tokens[j];
                int r = observe_one(reg, audit, notifier, policy, revocation, certs[i], token, now);
                if (r < 0)
                        log_error_errno(r, "Cannot update the certificate register: %m");
        }
        if (cert_register_dirty(reg)) {
                int r = cert_register_save(reg);
                if (r < 0)
                        log_error_errno(r, "Cannot write the certificate register: %m");
        }
}
