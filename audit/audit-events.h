/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The audit log's event types: their names in the log (stable, part of the file format) and the journal
 * MESSAGE_ID of each (stable, explained in systemd/kyso.catalog). */

#include <errno.h>
#include <stddef.h>

typedef enum AuditEventType {
        AUDIT_EVENT_AGENT_START,
        AUDIT_EVENT_AGENT_STOP,
        AUDIT_EVENT_CONFIG_LOAD,
        AUDIT_EVENT_POLICY_LOAD,
        AUDIT_EVENT_TOKEN_ADDED,
        AUDIT_EVENT_TOKEN_REMOVED,
        AUDIT_EVENT_HELPER_CRASH,
        AUDIT_EVENT_HELPER_RESTART,
        AUDIT_EVENT_PIN_FAILURE,
        AUDIT_EVENT_SIGN_ALLOWED,   /* the policy allowed the request; the signature is about to be made */
        AUDIT_EVENT_SIGN_DONE,      /* the signature was made and written; this is what the report counts */
        AUDIT_EVENT_SIGN_DENIED,    /* refused by the policy (reason + article) */
        AUDIT_EVENT_SIGN_FAILED,    /* allowed but failed (token, PIN, I/O, time-stamp...) */
        AUDIT_EVENT_SIGN_CANCELLED, /* the person at the desk or the client cancelled */
        AUDIT_EVENT_LOG_TORN_TAIL,  /* the log's unfinished last line was moved to a quarantine file */
        AUDIT_EVENT_LOG_ROTATED,    /* first record of a new file: links the chain to the previous file */
        AUDIT_EVENT_LOG_RECORDS_MISSING, /* at start: the journal saw records the log no longer has */
        AUDIT_EVENT_LOG_UNWRITABLE,      /* records that could not be written (full disk), once it works */
        AUDIT_EVENT_LOG_CHAIN_BROKEN,    /* the chain is broken in the middle (found at start or rotation) */
        AUDIT_EVENT_TRUST_ADDED,         /* an administrator added a root or intermediate (kysoctl trust) */
        AUDIT_EVENT_TRUST_REMOVED,       /* ... or removed one */
        AUDIT_EVENT_CERT_FIRST_SEEN,     /* the certificate register saw a certificate for the first time */
        AUDIT_EVENT_CERT_STATUS_CHANGED, /* ... or its status changed: revoked, expired, renewed */
        _AUDIT_EVENT_MAX,
        _AUDIT_EVENT_INVALID = -EINVAL,
} AuditEventType;

/* The journal MESSAGE_IDs, one per event type, as 32 hex digits (sd_id128 format without dashes). */
#define AUDIT_MESSAGE_ID_AGENT_START "592399fe38f04848996e101e47bbb71d"
#define AUDIT_MESSAGE_ID_AGENT_STOP "a2ec601913594eacaf7f072fd424f5f8"
#define AUDIT_MESSAGE_ID_CONFIG_LOAD "bba3e4ebe15d45a884dcf21c8960f376"
#define AUDIT_MESSAGE_ID_POLICY_LOAD "40ae48f355514b4ba7d7fc81e40075b1"
#define AUDIT_MESSAGE_ID_TOKEN_ADDED "5531cc54416f47cab57e6efb975e17e2"
#define AUDIT_MESSAGE_ID_TOKEN_REMOVED "0610a22df49647dda948f571668fd4c1"
#define AUDIT_MESSAGE_ID_HELPER_CRASH "276ba41c0bc64446b8cc96946299ac1c"
#define AUDIT_MESSAGE_ID_HELPER_RESTART "c02050f8041641298c2edbaf8a0865c6"
#define AUDIT_MESSAGE_ID_PIN_FAILURE "1f62ebd1253341e8a62aad966fe701a7"
#define AUDIT_MESSAGE_ID_SIGN_ALLOWED "10a74ff094874cf1a5a0b35f399f8bb8"
#define AUDIT_MESSAGE_ID_SIGN_DONE "ab55deedf33b4235ba2741927ef0468d"
#define AUDIT_MESSAGE_ID_SIGN_DENIED "963f3d84a6a543dea71e2f1359e99373"
#define AUDIT_MESSAGE_ID_SIGN_FAILED "2566ca1e527c4491afcc380b314f903a"
#define AUDIT_MESSAGE_ID_SIGN_CANCELLED "c4ea6330c3054d9e943819f23b34a5cd"
#define AUDIT_MESSAGE_ID_LOG_TORN_TAIL "bf84e40e707c4a828b8d6eb90ef8ae75"
#define AUDIT_MESSAGE_ID_LOG_ROTATED "fe1a21e47f614090ae342b057b2ee70f"
#define AUDIT_MESSAGE_ID_LOG_RECORDS_MISSING "7e94e161650a41ed8df7f59e0b1c5455"
#define AUDIT_MESSAGE_ID_LOG_UNWRITABLE "26aea27ac0ec4aa6bc49d1fceea1635a"
#define AUDIT_MESSAGE_ID_LOG_CHAIN_BROKEN "6a13ca2c2251435eb3ebba8dfabcd18a"
#define AUDIT_MESSAGE_ID_TRUST_ADDED "b8ffcbf8c03c439c9d04d214f13b4b29"
#define AUDIT_MESSAGE_ID_TRUST_REMOVED "da3a27594a5c4d8187aa9720d7cc2fd9"
#define AUDIT_MESSAGE_ID_CERT_FIRST_SEEN "114929633f224973886ebfc796b46b4e"
#define AUDIT_MESSAGE_ID_CERT_STATUS_CHANGED "fb6e3f2411914de9a94acf8613bf29b8"

/* "sign-done" and so on; NULL when out of range. */
const char *audit_event_type_to_string(AuditEventType t);
AuditEventType audit_event_type_from_string(const char *s);
AuditEventType audit_event_type_from_stringn(const char *s, size_t n);
const char *audit_event_type_message_id(AuditEventType t);
