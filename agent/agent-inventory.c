/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent-inventory.h"
#include "agent-revocation.h"
#include "dbus/dbus-dict.h"
#include "hex.h"
#include "macro.h"
#include "openssl-util.h"
#include "policy/cert-validate.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);

void certificate_info_done(CertificateInfo *i) {
        if (!i)
                return;
        free(i->subject);
        free(i->issuer);
        free(i->serial);
        free(i->sha256);
        free(i->reason);
        *i = (CertificateInfo){};
}

static char *name_to_string(const X509_NAME *name) {
        _cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
        char *data, *s;
        long n;

        if (!b)
                return NULL;
        /* RFC 2253 order, but keep UTF-8 as is rather than escaping every byte above 0x7f. */
        if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return NULL;
        n = BIO_get_mem_data(b, &data);
        if (n < 0)
                return NULL;
        s = strndup(data, (size_t) n);
        return s;
}

static int64_t floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A certificate the policy will refuse is marked so in the list (with why), so `certs` shows it and `sign`
 * does not offer it only to refuse it after the PIN. On OOM the reason is left out, never the mark. */
static void classify_signing(const Policy *policy, X509 *cert, CertificateInfo *info, char *status_reason) {
        _cleanup_free_ char *usage = NULL;
        bool usable = streq(info->status, "valid") || streq(info->status, "expiring");

        free(info->reason);
        info->reason = NULL;
        if (!usable) {
                info->signing_usable = false;
                info->reason = status_reason;
                return;
        }
        free(status_reason);
        /* The key that signs under rsa-padding = pkcs1 only as RSA-PSS would fail in the token, after the
         * PIN: Sign refuses it before any prompt, and so the list marks it. */
        info->signing_usable = cert_check_signing_usage(cert, &usage) > 0 &&
                               cert_check_rsa_padding(policy, cert, &usage) > 0;
        if (!info->signing_usable)
                info->reason = TAKE_PTR(usage);
}

void agent_classify_certificate(const Policy *policy, X509 *cert, int64_t now, CertificateInfo *info) {
        if (policy) {
                CertValidation v = {};

                info->kind = cert_kind_to_string(policy_classify_certificate(policy, cert, NULL));
                if (cert_validate(policy, cert, NULL, (time_t) now, CERT_VALIDATE_NO_REVOCATION, &v) < 0)
                        info->status = "unknown";
                else
                        info->status = cert_status_to_api_string(v.status);
                classify_signing(policy, cert, info, TAKE_PTR(v.reason));
                cert_validation_done(&v);
                return;
        }
        info->kind = "unknown";
        if (now < info->not_before)
                info->status = "not-yet-valid";
        else if (now > info->not_after)
                info->status = "expired";
        else if (info->days_left <= AGENT_EXPIRY_WARNING_DAYS)
                info->status = "expiring";
        else
                info->status = "valid";
        classify_signing(NULL, cert, info, NULL);
}

int certificate_info_from_der(
        const Policy *policy, const uint8_t *der, size_t size, int64_t now, CertificateInfo *ret) {
        return certificate_info_from_x509(policy, NULL, der, size, now, ret);
}

int certificate_info_from_x509(
        const Policy *policy, X509 *parsed, const uint8_t *der, size_t size, int64_t now,
        CertificateInfo *ret) {
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_(certificate_info_done) CertificateInfo info = {};
        const unsigned char *p = der;
        const ASN1_INTEGER *serial;
        _cleanup_(BN_freep) BIGNUM *bn = NULL;
        EVP_PKEY *pkey;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        time_t not_before, not_after;
        int r;

        if (!der || size == 0 || size > LONG_MAX)
                return -EBADMSG;
        if (parsed && X509_up_ref(parsed))
                x = parsed;
        else if (!(x = d2i_X509(NULL, &p, (long) size)) || p != der + size)
                return -EBADMSG;

        info.subject = name_to_string(X509_get_subject_name(x));
        info.issuer = name_to_string(X509_get_issuer_name(x));
        if (!info.subject || !info.issuer)
                return -ENOMEM;

        serial = X509_get0_serialNumber(x);
        bn = ASN1_INTEGER_to_BN(serial, NULL);
        if (!bn)
                return -EBADMSG;
        {
                int n = BN_num_bytes(bn);
                _cleanup_free_ uint8_t *buf = malloc(n > 0 ? (size_t) n : 1);
                if (!buf)
                        return -ENOMEM;
                if (n == 0) {
                        buf[0] = 0;
                        n = 1;
                } else
                        BN_bn2bin(bn, buf);
                info.serial = hexmem(buf, (size_t) n);
                if (!info.serial)
                        return -ENOMEM;
        }

        if (!EVP_Digest(der, size, md, &md_len, EVP_sha256(), NULL))
                return -EIO;
        info.sha256 = hexmem(md, md_len);
        if (!info.sha256)
                return -ENOMEM;

        r = asn1_time_to_unix(X509_get0_notBefore(x), &not_before);
        if (r >= 0)
                r = asn1_time_to_unix(X509_get0_notAfter(x), &not_after);
        if (r < 0)
                return r;
        info.not_before = not_before;
        info.not_after = not_after;
        info.days_left = floor_div(info.not_after - now, 86400);

        pkey = X509_get0_pubkey(x);
        info.key_type = "other";
        if (pkey) {
                if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS"))
                        info.key_type = "rsa";
                else if (EVP_PKEY_is_a(pkey, "EC"))
                        info.key_type = "ec";
                info.key_bits = (unsigned) MAX(EVP_PKEY_get_bits(pkey), 0);
        }

        agent_classify_certificate(policy, x, now, &info);
        *ret = info;
        info = (CertificateInfo){};
        return 0;
}

const char *agent_pin_state(unsigned pin_flags) {
        if (pin_flags & P11_PIN_LOCKED)
                return "locked";
        if (pin_flags & P11_PIN_FINAL_TRY)
                return "final-try";
        if (pin_flags & P11_PIN_COUNT_LOW)
                return "count-low";
        return "ok";
}

int agent_append_token(DBusMessageIter *iter, const P11Token *t) {
        DBusMessageIter d;
        int r;

        r = dbus_dict_open(iter, &d);
        if (r < 0)
                return r;
        if ((r = dbus_dict_append_string(&d, "uri", t->uri)) < 0 ||
            (r = dbus_dict_append_string(&d, "label", t->label)) < 0 ||
            (r = dbus_dict_append_string(&d, "serial", t->serial)) < 0 ||
            (r = dbus_dict_append_string(&d, "manufacturer", t->manufacturer)) < 0 ||
            (r = dbus_dict_append_string(&d, "model", t->model)) < 0 ||
            (r = dbus_dict_append_string(&d, "module", t->module_path)) < 0 ||
            (r = dbus_dict_append_string(&d, "pin-state", agent_pin_state(t->pin_flags))) < 0 ||
            (r = dbus_dict_append_bool(&d, "pin-to-be-changed", t->pin_flags & P11_PIN_TO_BE_CHANGED)) < 0 ||
            (r = dbus_dict_append_bool(&d, "protected-auth-path", t->pin_flags & P11_PROTECTED_AUTH_PATH)) <
                    0 ||
            (r = dbus_dict_append_bool(&d, "login-required", t->pin_flags & P11_LOGIN_REQUIRED)) < 0) {
                dbus_dict_abandon(iter, &d);
                return r;
        }
        return dbus_dict_close(iter, &d);
}

int agent_append_certificate(
        DBusMessageIter *iter, const Policy *policy, const AgentRevocation *revocation,
        const P11Certificate *c, const P11Token *token, int64_t now) {
        _cleanup_(certificate_info_done) CertificateInfo info = {};
        DBusMessageIter d;
        int r;

        r = certificate_info_from_der(policy, c->der, c->der_size, now, &info);
        if (r < 0)
                return r;
        agent_revocation_apply(revocation, &info);
        if (!streq(info.status, "valid") && !streq(info.status, "expiring"))
                info.signing_usable = false; /* revoked since */
        r = dbus_dict_open(iter, &d);
        if (r < 0)
                return r;
        if ((r = dbus_dict_append_string(&d, "uri", c->uri)) < 0 ||
            (r = dbus_dict_append_string(&d, "token-uri", c->token_uri)) < 0 ||
            (r = dbus_dict_append_string(&d, "token-label", token ? token->label : NULL)) < 0 ||
            (r = dbus_dict_append_string(&d, "label", c->label)) < 0 ||
            (r = dbus_dict_append_string(&d, "subject", info.subject)) < 0 ||
            (r = dbus_dict_append_string(&d, "issuer", info.issuer)) < 0 ||
            (r = dbus_dict_append_string(&d, "serial", info.serial)) < 0 ||
            (r = dbus_dict_append_int64(&d, "not-before", info.not_before)) < 0 ||
            (r = dbus_dict_append_int64(&d, "not-after", info.not_after)) < 0 ||
            (r = dbus_dict_append_string(&d, "key-type", info.key_type)) < 0 ||
            (r = dbus_dict_append_uint32(&d, "key-bits", info.key_bits)) < 0 ||
            (r = dbus_dict_append_string(&d, "sha256", info.sha256)) < 0 ||
            (r = dbus_dict_append_int64(&d, "days-left", info.days_left)) < 0 ||
            (r = dbus_dict_append_bool(&d, "has-private-key", c->has_private_key)) < 0 ||
            (r = dbus_dict_append_bool(&d, "key-after-login", p11_certificate_key_after_login(c, token))) <
                    0 ||
            (r = dbus_dict_append_string(&d, "kind", info.kind)) < 0 ||
            (r = dbus_dict_append_string(&d, "status", info.status)) < 0 ||
            (r = dbus_dict_append_bool(&d, "usable-for-signing", info.signing_usable)) < 0 ||
            (info.reason && (r = dbus_dict_append_string(&d, "reason", info.reason)) < 0)) {
                dbus_dict_abandon(iter, &d);
                return r;
        }
        return dbus_dict_close(iter, &d);
}

int agent_append_tokens(DBusMessageIter *iter, const P11Token *const *tokens, size_t n) {
        DBusMessageIter a;
        int r;

        if (!dbus_message_iter_open_container(iter, DBUS_TYPE_ARRAY, "a{sv}", &a))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = agent_append_token(&a, tokens[i]);
                if (r < 0) {
                        dbus_message_iter_abandon_container(iter, &a);
                        return r;
                }
        }
        return dbus_message_iter_close_container(iter, &a) ? 0 : -ENOMEM;
}

static const P11Token *token_of(const P11Token *const *tokens, size_t n, const char *token_uri) {
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(tokens[i]->uri, token_uri))
                        return tokens[i];
        return NULL;
}

int agent_append_certificates(
        DBusMessageIter *iter, const Policy *policy, const AgentRevocation *revocation,
        const P11Token *const *tokens, size_t n_tokens, const P11Certificate *const *certs, size_t n_certs,
        int64_t now) {
        DBusMessageIter a;
        int r;

        if (!dbus_message_iter_open_container(iter, DBUS_TYPE_ARRAY, "a{sv}", &a))
                return -ENOMEM;
        for (size_t i = 0; i < n_certs; i++) {
                r = agent_append_certificate(
                        &a, policy, revocation, certs[i], token_of(tokens, n_tokens, certs[i]->token_uri),
                        now);
                if (r == -EBADMSG)
                        continue; /* a certificate object that does not parse is not a certificate we can use
                                   */
                if (r < 0) {
                        dbus_message_iter_abandon_container(iter, &a);
                        return r;
                }
        }
        return dbus_message_iter_close_container(iter, &a) ? 0 : -ENOMEM;
}
