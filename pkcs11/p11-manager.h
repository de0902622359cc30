/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* P11Manager: the agent's view of all PKCS#11 modules. It runs one kyso-p11-helper child per module, polls
 * for token insertion/removal, keeps the token and certificate inventory, and restarts crashed or hung
 * helpers with back-off. Everything runs on the caller's sd-event loop; the vendor module never loads here.
 */

#include <errno.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "secret.h"

typedef struct P11Manager P11Manager;

typedef enum P11PinFlags {
        P11_PIN_COUNT_LOW = 1 << 0,       /* CKF_USER_PIN_COUNT_LOW */
        P11_PIN_FINAL_TRY = 1 << 1,       /* CKF_USER_PIN_FINAL_TRY */
        P11_PIN_LOCKED = 1 << 2,          /* CKF_USER_PIN_LOCKED */
        P11_PIN_TO_BE_CHANGED = 1 << 3,   /* CKF_USER_PIN_TO_BE_CHANGED */
        P11_PROTECTED_AUTH_PATH = 1 << 4, /* CKF_PROTECTED_AUTHENTICATION_PATH: PIN pad on the reader */
        P11_LOGIN_REQUIRED = 1 << 5,      /* CKF_LOGIN_REQUIRED */
} P11PinFlags;

typedef struct P11Token {
        char *uri;         /* RFC 7512 token URI (model, manufacturer, serial, token) */
        char *module_path; /* canonical path of the PKCS#11 module */
        char *label;
        char *manufacturer;
        char *model;
        char *serial;
        unsigned long slot_id;
        unsigned pin_flags; /* P11PinFlags */
} P11Token;

typedef struct P11Certificate {
        char *uri; /* RFC 7512 object URI: token attributes plus id, object and type=cert */
        char *token_uri;
        char *label; /* CKA_LABEL */
        uint8_t *id; /* CKA_ID */
        size_t id_size;
        uint8_t *der; /* CKA_VALUE: the DER certificate */
        size_t der_size;
        /* der parsed once, when the token appeared (NULL when it does not parse): each request's checks
         * and the inventory's take a reference (X509_up_ref()) instead of parsing it again. */
        X509 *x509;
        /* A private key with the same CKA_ID is on the token. Before login, when private keys are hidden,
         * a public key with that CKA_ID counts; false can still mean "hidden until login". */
        bool has_private_key;
} P11Certificate;

/* No private key shows for c before login, but its token needs one and c has a CKA_ID: real eTokens keep
 * the key a private object (often with no public key beside it), so it may show after the login, and the
 * helper looks for it then (same CKA_ID). token may be NULL (unknown: false). */
bool p11_certificate_key_after_login(const P11Certificate *c, const P11Token *token);

typedef struct P11ManagerConfig {
        char **module_paths;      /* extra modules from the agent's configuration (NULL-terminated) */
        bool use_p11kit_registry; /* also load the modules registered with p11-kit */
        char *helper_path;        /* kyso-p11-helper binary (NULL: the installed one, or $KYSO_P11_HELPER) */
        uint64_t poll_usec;       /* slot polling interval; default 1 s */
        uint64_t call_timeout_usec; /* a helper that does not answer within this is killed and restarted */
        /* Added after the first version (0/NULL = default, so older initialisers keep working). */
        /* Like call_timeout_usec, for login and sign, which may wait for a PIN pad; default 120 s. */
        uint64_t sign_timeout_usec;
        /* p11-kit registry folders to read instead of p11-kit's own (tests); NULL: p11-kit's. */
        char **p11kit_config_dirs;
        /* A module that does not load (missing file, C_Initialize fails) is tried again after
         * load_retry_usec (default 30 s), then after twice as long each time, up to load_retry_max_usec
         * (default 1 h). Crashed and hung helpers are restarted sooner: 0.5 s doubling to 30 s. */
        uint64_t load_retry_usec;
        uint64_t load_retry_max_usec;
} P11ManagerConfig;

typedef enum P11ManagerEvent {
        P11_EVENT_TOKEN_ADDED,      /* token set */
        P11_EVENT_TOKEN_REMOVED,    /* token set (the last known state), certificates gone */
        P11_EVENT_HELPER_FAILED,    /* module_path and reason set: crashed, hung or refused to load */
        P11_EVENT_HELPER_RESTARTED, /* module_path set */
        _P11_EVENT_MAX,
        _P11_EVENT_INVALID = -EINVAL,
} P11ManagerEvent;

typedef struct P11ManagerEventData {
        P11ManagerEvent event;
        const P11Token *token;
        const char *module_path;
        const char *reason; /* human text, English, for logs */
        /* HELPER_FAILED only: */
        unsigned failures;   /* failures in a row since the helper last started well; 1 = a new failure */
        bool load_failed;    /* the module did not load (a permanent failure until it is fixed) */
        uint64_t retry_usec; /* the next start is tried this long from now; 0 = none is scheduled */
} P11ManagerEventData;

typedef void (*P11ManagerCallback)(P11Manager *m, const P11ManagerEventData *ev, void *userdata);

/* Starts one helper per module (config NULL: defaults, registry only). SIGCHLD is blocked in the calling
 * thread (sd-event child sources need it): kysod must block it before starting other threads. */
int p11_manager_new(
        sd_event *event, const P11ManagerConfig *config, P11ManagerCallback cb, void *userdata,
        P11Manager **ret);
/* Closes every helper's socket, gives it a moment (0.5 s) to log out and finalize the module, then kills
 * and reaps it: nothing is left running. Then pending sign/login callbacks are called with -ECANCELED (no
 * events are sent any more). Not to be called from inside a manager callback. */
P11Manager *p11_manager_free(P11Manager *m);
static inline void p11_manager_freep(P11Manager **m) {
        p11_manager_free(*m);
}

/* The first scan is done when every module's helper has listed its slots once and read the certificates of
 * the tokens it found, or has failed: from then on the inventory says what is plugged in. The callback is
 * called once, from the event loop; with no modules the scan is never "done" by an event, so callers also
 * ask p11_manager_scanned(). */
typedef void (*P11ManagerScannedCallback)(P11Manager *m, void *userdata);
void p11_manager_set_scanned_callback(P11Manager *m, P11ManagerScannedCallback cb, void *userdata);
bool p11_manager_scanned(P11Manager *m);

/* The current inventory. The arrays and their entries belong to the manager and are valid until the next
 * return to the event loop. */
int p11_manager_get_tokens(P11Manager *m, const P11Token *const **ret, size_t *ret_n);
int p11_manager_get_certificates(P11Manager *m, const P11Certificate *const **ret, size_t *ret_n);

/* The token's last known PIN flags (P11PinFlags): from the latest slot poll, or from the token after a
 * failed login. uri is a token URI or a certificate URI. -ENODEV when no present token matches. */
int p11_manager_get_pin_flags(P11Manager *m, const char *uri, unsigned *ret_flags);

/* Signing. The digest (of mechanism->hash) is signed by the private key whose CKA_ID is the certificate's,
 * on the token that holds the certificate. The helper logs in with pin first (always: a given PIN is always
 * checked), or through the PIN pad when pin is NULL and the token has a protected authentication path, or
 * uses the token's existing login when pin is NULL; keys with CKA_ALWAYS_AUTHENTICATE get their
 * context-specific login with the same PIN. The token is logged out afterwards unless
 * P11_SIGN_KEEP_LOGIN is given. */
typedef struct P11SignResult {
        int error;                /* 0, or a negative errno (the vocabulary of dbus/dbus-error-names.h, from
                                     p11_error_to_errno()): -EKEYREJECTED wrong PIN, -ENOLCK PIN locked, -ENODEV token
                                     gone, -ENOKEY key missing, -EOPNOTSUPP mechanism, -ECONNRESET helper failed,
                                     -ETIME timeout, -ECANCELED manager freed, -EPROTO malformed reply, -EIO other */
        int code;                 /* P11Error (p11-protocol.h), 0 on success: the precise reason */
        unsigned pin_flags;       /* P11PinFlags of the token after a failed login (tries left) */
        const char *message;      /* English, for logs; never a PIN */
        const uint8_t *signature; /* on success: RSA: the raw signature; ECDSA: DER ECDSA-Sig-Value */
        size_t signature_size;
        bool always_authenticate; /* on success: the key has CKA_ALWAYS_AUTHENTICATE (a PIN per signature) */
} P11SignResult;

typedef void (*P11SignCallback)(P11Manager *m, const P11SignResult *result, void *userdata);

enum {
        P11_SIGN_KEEP_LOGIN = 1 << 0, /* stay logged in after this signature (later documents of a batch) */
        /* The token is logged in by an earlier signature with P11_SIGN_KEEP_LOGIN: no new login; pin (or
         * the PIN pad) serves only a key's context-specific login. Logged out afterwards unless KEEP_LOGIN.
         */
        P11_SIGN_USE_LOGIN = 1 << 1,
};

/* Signatures without a PIN that may be with one helper at once (see p11_manager_sign()). */
#define P11_PIPELINE_MAX 4U

/* mechanism is a P11SignMechanism from p11-protocol.h. Returns 0 when queued (the callback is called
 * later from the event loop, exactly once, unless cancelled), -EINVAL for a bad URI, mechanism or digest
 * size, -ENODEV when no present token has the certificate, -ENOKEY when it has no private key (and the
 * token needs no login that could be hiding it), -ENOTUNIQ when the URI matches several certificates.
 * Requests to one token run one at a time, in order; other modules run in parallel. Signatures without a
 * PIN are handed to the helper while the ones before them (also without a PIN) are still signing, up to
 * P11_PIPELINE_MAX at once, so that the helper goes on to the next at once (PROTOCOL.md, "Manager side"). */
struct P11SignMechanism;
int p11_manager_sign(
        P11Manager *m, const char *cert_uri, const Secret *pin, const struct P11SignMechanism *mechanism,
        const void *digest, size_t digest_size, unsigned flags, P11SignCallback cb, void *userdata);

/* Logs the token named by token_uri in (for PIN caching: later p11_manager_sign() calls without a PIN use
 * the login). pin NULL: through the PIN pad, only on a token with a protected authentication path. The
 * callback gets a P11SignResult without signature. Same return values as p11_manager_sign(). */
int p11_manager_login(
        P11Manager *m, const char *token_uri, const Secret *pin, P11SignCallback cb, void *userdata);
/* Logs the token out (queued; nothing is reported back). -ENODEV when no present token matches. */
int p11_manager_logout(P11Manager *m, const char *token_uri);

/* Forgets the sign/login requests made with this userdata (a client went away): queued ones are dropped
 * before they reach the token; one already on the token completes there, but its result is discarded.
 * Their callbacks are not called. Returns how many were cancelled. */
int p11_manager_cancel(P11Manager *m, void *userdata);
