/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The token and certificate inventory as org.kyso.Agent1 shows it: turns P11Manager's tokens and DER
 * certificates into the a{sv} dictionaries of GetTokens, GetCertificates and TokenAdded. */

#include <dbus/dbus.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "pkcs11/p11-manager.h"
#include "policy/policy.h"

#define AGENT_EXPIRY_WARNING_DAYS 60 /* Art. 11: renewal possible while >= 60 days remain */

typedef struct AgentRevocation AgentRevocation;

typedef struct CertificateInfo {
        char *subject; /* RFC 2253 order, UTF-8 */
        char *issuer;
        char *serial;                  /* lowercase hex, no separators */
        char *sha256;                  /* lowercase hex fingerprint of the DER */
        int64_t not_before, not_after; /* unix seconds */
        const char *key_type;          /* "rsa", "ec", "other" */
        unsigned key_bits;
        int64_t days_left;  /* whole days until not-after; negative once expired */
        const char *kind;   /* personal|organization|device|unknown */
        const char *status; /* valid|expiring|expired|not-yet-valid|revoked|untrusted|unknown|unchecked */
        /* Translated: why the status is not valid or expiring, or why the key usage does not allow signing
         * documents, or why its key cannot make the policy's signatures; NULL when it can sign (or when
         * nothing better than the status is known). */
        char *reason;
        bool signing_usable; /* status valid or expiring and key usage for signing documents */
} CertificateInfo;

void certificate_info_done(CertificateInfo *i);

/* Parses a DER certificate; now is the time for days-left and status. -EBADMSG when it does not parse.
 * policy (may be NULL) decides kind and status, see agent_classify_certificate(). */
int certificate_info_from_der(
        const Policy *policy, const uint8_t *der, size_t size, int64_t now, CertificateInfo *ret);
/* The same, from der already parsed into parsed (may be NULL: parsed here). */
int certificate_info_from_x509(
        const Policy *policy, X509 *parsed, const uint8_t *der, size_t size, int64_t now,
        CertificateInfo *ret);

/* Sets kind and status. With a policy: kind by its [kind] rules; status by the chain to its roots, the
 * validity period, key strength and the expiry window, all offline. Revocation is not looked up here (it
 * needs the network and would block the agent's loop): AgentRevocation checks it in the background, and
 * it is checked again, failing closed, before every signature. Without a policy: kind "unknown", status
 * from the validity period only. */
void agent_classify_certificate(const Policy *policy, X509 *cert, int64_t now, CertificateInfo *info);

/* "ok", "count-low", "final-try", "locked" from P11PinFlags. */
const char *agent_pin_state(unsigned pin_flags);

/* Appends one a{sv} for the token / certificate to iter (an open "aa{sv}" array or a message). */
int agent_append_token(DBusMessageIter *iter, const P11Token *t);
/* revocation (may be NULL) adds what is known of the certificates' revocation to their status. */
int agent_append_certificate(
        DBusMessageIter *iter, const Policy *policy, const AgentRevocation *revocation,
        const P11Certificate *c, const P11Token *token, int64_t now);

/* Whole replies and signals. */
int agent_append_tokens(DBusMessageIter *iter, const P11Token *const *tokens, size_t n);
int agent_append_certificates(
        DBusMessageIter *iter, const Policy *policy, const AgentRevocation *revocation,
        const P11Token *const *tokens, size_t n_tokens, const P11Certificate *const *certs, size_t n_certs,
        int64_t now);
