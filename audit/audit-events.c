/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "audit-events.h"

static const struct {
        const char *name;
        const char *message_id;
} event_table[_AUDIT_EVENT_MAX] = {
        [AUDIT_EVENT_AGENT_START] = { "agent-start", AUDIT_MESSAGE_ID_AGENT_START },
        [AUDIT_EVENT_AGENT_STOP] = { "agent-stop", AUDIT_MESSAGE_ID_AGENT_STOP },
        [AUDIT_EVENT_CONFIG_LOAD] = { "config-load", AUDIT_MESSAGE_ID_CONFIG_LOAD },
        [AUDIT_EVENT_POLICY_LOAD] = { "policy-load", AUDIT_MESSAGE_ID_POLICY_LOAD },
        [AUDIT_EVENT_TOKEN_ADDED] = { "token-added", AUDIT_MESSAGE_ID_TOKEN_ADDED },
        [AUDIT_EVENT_TOKEN_REMOVED] = { "token-removed", AUDIT_MESSAGE_ID_TOKEN_REMOVED },
        [AUDIT_EVENT_HELPER_CRASH] = { "helper-crash", AUDIT_MESSAGE_ID_HELPER_CRASH },
        [AUDIT_EVENT_HELPER_RESTART] = { "helper-restart", AUDIT_MESSAGE_ID_HELPER_RESTART },
        [AUDIT_EVENT_PIN_FAILURE] = { "pin-failure", AUDIT_MESSAGE_ID_PIN_FAILURE },
        [AUDIT_EVENT_SIGN_ALLOWED] = { "sign-allowed", AUDIT_MESSAGE_ID_SIGN_ALLOWED },
        [AUDIT_EVENT_SIGN_DONE] = { "sign-done", AUDIT_MESSAGE_ID_SIGN_DONE },
        [AUDIT_EVENT_SIGN_DENIED] = { "sign-denied", AUDIT_MESSAGE_ID_SIGN_DENIED },
        [AUDIT_EVENT_SIGN_FAILED] = { "sign-failed", AUDIT_MESSAGE_ID_SIGN_FAILED },
        [AUDIT_EVENT_SIGN_CANCELLED] = { "sign-cancelled", AUDIT_MESSAGE_ID_SIGN_CANCELLED },
        [AUDIT_EVENT_LOG_TORN_TAIL] = { "log-torn-tail", AUDIT_MESSAGE_ID_LOG_TORN_TAIL },
        [AUDIT_EVENT_LOG_ROTATED] = { "log-rotated", AUDIT_MESSAGE_ID_LOG_ROTATED },
        [AUDIT_EVENT_LOG_RECORDS_MISSING] = { "log-records-missing", AUDIT_MESSAGE_ID_LOG_RECORDS_MISSING },
        [AUDIT_EVENT_LOG_UNWRITABLE] = { "log-unwritable", AUDIT_MESSAGE_ID_LOG_UNWRITABLE },
        [AUDIT_EVENT_LOG_CHAIN_BROKEN] = { "log-chain-broken", AUDIT_MESSAGE_ID_LOG_CHAIN_BROKEN },
        [AUDIT_EVENT_TRUST_ADDED] = { "trust-added", AUDIT_MESSAGE_ID_TRUST_ADDED },
        [AUDIT_EVENT_TRUST_REMOVED] = { "trust-removed", AUDIT_MESSAGE_ID_TRUST_REMOVED },
        [AUDIT_EVENT_CERT_FIRST_SEEN] = { "cert-first-seen", AUDIT_MESSAGE_ID_CERT_FIRST_SEEN },
        [AUDIT_EVENT_CERT_STATUS_CHANGED] = { "cert-status-changed", AUDIT_MESSAGE_ID_CERT_STATUS_CHANGED },
};

const char *audit_event_type_to_string(AuditEventType t) {
        if (t < 0 || t >= _AUDIT_EVENT_MAX)
                return NULL;
        return event_table[t].name;
}

const char *audit_event_type_message_id(AuditEventType t) {
        if (t < 0 || t >= _AUDIT_EVENT_MAX)
                return NULL;
        return event_table[t].message_id;
}

AuditEventType audit_event_type_from_stringn(const char *s, size_t n) {
        if (!s || n == 0)
                return _AUDIT_EVENT_INVALID;
        /* Every record's event passes here (verify): no strlen() of every name. */
        for (int i = 0; i < _AUDIT_EVENT_MAX; i++)
                if (event_table[i].name[0] == s[0] && strncmp(event_table[i].name, s, n) == 0 &&
                    event_table[i].name[n] == '\0')
                        return (AuditEventType) i;
        return _AUDIT_EVENT_INVALID;
}

AuditEventType audit_event_type_from_string(const char *s) {
        return s ? audit_event_type_from_stringn(s, strlen(s)) : _AUDIT_EVENT_INVALID;
}
