/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Certificate kinds (Art. 2.6) and the competent-person relation between a leader and an organisation seal,
 * both decided by the policy's [kind] and [seal] sections. */
#include <fnmatch.h>
#include <openssl/x509v3.h>
#include <strings.h>

#include "hex.h"
#include "openssl-util.h"
#include "policy.h"

int cert_fingerprint_sha256(X509 *cert, char ret[static 65]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
                return -EIO;
        hex_encode(md, n, ret);
        return 0;
}

static bool name_matches(X509_NAME *name, const NameMatch *m) {
        for (int i = -1; (i = X509_NAME_get_index_by_NID(name, m->nid, i)) >= 0;) {
                X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
                unsigned char *utf8 = NULL;
                int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
                if (n < 0)
                        continue;
                bool ok = memchr(utf8, 0, (size_t) n) == NULL &&
                          fnmatch(m->glob, (const char *) utf8, FNM_CASEFOLD) == 0;
                OPENSSL_free(utf8);
                if (ok)
                        return true;
        }
        return false;
}

static bool any_name_matches(X509_NAME *name, const NameMatch *arr, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (name_matches(name, &arr[i]))
                        return true;
        return false;
}

static bool oid_in(const ASN1_OBJECT *o, char *const *list) {
        char buf[128];
        return OBJ_obj2txt(buf, sizeof buf, o, 1) > 0 && strv_contains(list, buf);
}

static bool policy_oid_matches(X509 *cert, char *const *oids) {
        CERTIFICATEPOLICIES *cp = X509_get_ext_d2i(cert, NID_certificate_policies, NULL, NULL);
        bool ok = false;
        for (int i = 0; cp && i < sk_POLICYINFO_num(cp) && !ok; i++)
                ok = oid_in(sk_POLICYINFO_value(cp, i)->policyid, oids);
        CERTIFICATEPOLICIES_free(cp);
        return ok;
}

static bool eku_matches(X509 *cert, char *const *oids) {
        EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
        bool ok = false;
        for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku) && !ok; i++)
                ok = oid_in(sk_ASN1_OBJECT_value(eku, i), oids);
        EXTENDED_KEY_USAGE_free(eku);
        return ok;
}

static bool organization_matches(X509 *cert, char *const *orgs) {
        X509_NAME *name = X509_get_subject_name(cert);
        for (int i = -1; (i = X509_NAME_get_index_by_NID(name, NID_organizationName, i)) >= 0;) {
                unsigned char *utf8 = NULL;
                int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
                if (n < 0)
                        continue;
                bool ok = false;
                if (!memchr(utf8, 0, (size_t) n))
                        STRV_FOREACH (o, orgs)
                                if (strcasecmp(*o, (const char *) utf8) == 0)
                                        ok = true;
                OPENSSL_free(utf8);
                if (ok)
                        return true;
        }
        return false;
}

bool cert_match(const CertMatch *m, X509 *cert) {
        if (!cert)
                return false;
        if (cert_match_empty(m))
                return false; /* an empty rule matches nothing (policy_finish refuses it anyway) */
        if (m->n_issuer > 0 && !any_name_matches(X509_get_issuer_name(cert), m->issuer, m->n_issuer))
                return false;
        if (m->n_subject > 0 && !any_name_matches(X509_get_subject_name(cert), m->subject, m->n_subject))
                return false;
        if (any_name_matches(X509_get_issuer_name(cert), m->not_issuer, m->n_not_issuer) ||
            any_name_matches(X509_get_subject_name(cert), m->not_subject, m->n_not_subject))
                return false;
        if (m->policy_oids && !policy_oid_matches(cert, m->policy_oids))
                return false;
        if (m->ekus && !eku_matches(cert, m->ekus))
                return false;
        if (m->organizations && !organization_matches(cert, m->organizations))
                return false;
        if (m->fingerprints) {
                char fp[65];
                if (cert_fingerprint_sha256(cert, fp) < 0)
                        return false;
                if (!strv_contains(m->fingerprints, fp))
                        return false;
        }
        return true;
}

CertKind policy_classify_certificate(const Policy *p, X509 *cert, const char **ret_rule) {
        CertKind kind = CERT_KIND_UNKNOWN;
        const char *rule = NULL;

        for (size_t i = 0; i < p->n_kind_rules; i++) {
                const KindRule *k = &p->kind_rules[i];
                if (k->kind < 0 || !cert_match(&k->match, cert))
                        continue;
                if (kind != CERT_KIND_UNKNOWN && kind != k->kind) {
                        /* Two rules disagree: the certificate's kind is not known. */
                        if (ret_rule)
                                *ret_rule = NULL;
                        return CERT_KIND_UNKNOWN;
                }
                kind = k->kind;
                if (!rule)
                        rule = k->name;
        }
        if (ret_rule)
                *ret_rule = rule;
        return kind;
}

bool policy_is_competent_leader(const Policy *p, X509 *seal, X509 *leader, const char **ret_rule) {
        for (size_t i = 0; i < p->n_seal_rules; i++) {
                const SealRule *s = &p->seal_rules[i];
                if (cert_match(&s->seal, seal) && cert_match(&s->leader, leader)) {
                        if (ret_rule)
                                *ret_rule = s->name;
                        return true;
                }
        }
        return false;
}
