/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* P11Manager: the agent's view of all PKCS#11 modules. It runs one kyso-p11-helper child per module, polls
 * for token insertion/removal, keeps the token and certificate inventory, and restarts crashed or hung
 * helpers with back-off. Everything runs on the caller's sd-event loop; the vendor module never loads here.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

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
        uint8_t *der; /* CKA_VALUE: the DER certificate; parse it for subject, issuer, validity... */
        size_t der_size;
        bool has_private_key; /* a private key object with the same CKA_ID is on the token */
} P11Certificate;

typedef struct P11ManagerConfig {
        char **module_paths;      /* extra modules from the agent's configuration (NULL-terminated) */
        bool use_p11kit_registry; /* also load the modules registered with p11-kit */
        char *helper_path;        /* kyso-p11-helper binary (NULL: the installed one, or $KYSO_P11_HELPER) */
        uint64_t poll_usec;       /* slot polling interval; default 1 s */
        uint64_t call_timeout_usec; /* a helper that does not answer within this is killed and restarted */
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
} P11ManagerEventData;

typedef void (*P11ManagerCallback)(P11Manager *m, const P11ManagerEventData *ev, void *userdata);

int p11_manager_new(
        sd_event *event, const P11ManagerConfig *config, P11ManagerCallback cb, void *userdata,
        P11Manager **ret);
P11Manager *p11_manager_free(P11Manager *m); /* kills and reaps every helper */

/* The current inventory. The arrays and their entries belong to the manager and are valid until the next
 * return to the event loop. */
int p11_manager_get_tokens(P11Manager *m, const P11Token *const **ret, size_t *ret_n);
int p11_manager_get_certificates(P11Manager *m, const P11Certificate *const **ret, size_t *ret_n);

/* Signing (issue 5) is added here: an asynchronous "log in with this Secret PIN and sign this digest with
 * the key whose CKA_ID matches this certificate" call with a completion callback. */
