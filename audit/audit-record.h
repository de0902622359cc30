/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* One audit record as it sits in the file: the line format, the encoder of an event into a line, the fast
 * scanner of its fixed prefix (what verify needs, without a JSON parse), the chain hash, and a small JSON
 * writer with correct escaping.
 *
 * Format version 1, one record per line, '\n'-terminated, keys always in this order:
 *   {"v":1,"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.mmmZ","prev":"<64 hex>","event":"NAME",...,}
 * "v" is in every record (so the first record of every file names the format version, and any single line
 * can be read on its own). "seq" starts at 1 and grows by one across all files of the chain. "time" is UTC.
 * "prev" is the lowercase hex SHA-256 of the previous record's line: its exact bytes from '{' to '}',
 * without the terminating '\n'. The first record of a chain has 64 zeros. A record's own hash is the same
 * function of its own line; it is what the journal gets as KYSO_AUDIT_HASH.
 * The first record of every file has "chain":"<32 hex>" right after "event": the identity of the chain,
 * random when a chain starts, the same in all its files (and in the journal as KYSO_AUDIT_CHAIN), so that a
 * log made again from nothing is told apart from the one the journal saw. Logs of earlier versions lack
 * it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sys/types.h>

#include <openssl/evp.h>

#include "audit-events.h"

#define AUDIT_FORMAT_VERSION 1
#define AUDIT_LINE_MAX (64U * 1024U) /* a record line, without its '\n', is at most this long */
#define AUDIT_HASH_HEX 64
#define AUDIT_CHAIN_HEX 32
#define AUDIT_TIME_LEN 24 /* "2026-11-24T06:02:14.123Z" */
#define AUDIT_GENESIS_PREV "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct AuditRecordHead {
        unsigned version;
        uint64_t seq;
        const char *time; /* AUDIT_TIME_LEN bytes inside the line, not NUL-terminated */
        const char *prev; /* AUDIT_HASH_HEX bytes inside the line */
        const char *event_name;
        size_t event_len;
        AuditEventType event; /* _AUDIT_EVENT_INVALID when the name is unknown (a newer writer) */
} AuditRecordHead;

/* Scans the fixed prefix of a line (without '\n'). 0 on success; -EBADMSG when the line is not a kyso audit
 * record, -EPROTONOSUPPORT when its "v" is not a version this reader knows (ret->version is set then).
 * *ret_what, if given, says what is wrong in a few words (static English). */
int audit_record_scan(const char *line, size_t len, AuditRecordHead *ret, const char **ret_what);

/* The same without looking the event's name up (ret->event is _AUDIT_EVENT_INVALID): for a reader that looks
 * at a few events only, with audit_record_event_is() (verify: the look-up was a twentieth of its time). */
int audit_record_scan_prefix(const char *line, size_t len, AuditRecordHead *ret, const char **ret_what);
/* Whether the scanned record's event is the one named name (audit_event_type_to_string()). The first byte
 * first: most records are not the event asked for, and are told so without a call. */
static inline bool audit_record_event_is(const AuditRecordHead *h, const char *name) {
        return h->event_len > 0 && name[0] == h->event_name[0] &&
               strncmp(name, h->event_name, h->event_len) == 0 && name[h->event_len] == '\0';
}

/* The chain identity of a record that has one ("chain" right after "event"; h from audit_record_scan() of
 * the same line): 0 and ret (NUL-terminated), -ENOENT when the record has none. */
int audit_record_chain(
        const char *line, size_t len, const AuditRecordHead *h, char ret[AUDIT_CHAIN_HEX + 1]);

/* Finds "key":"value" at the top level of the record's tail by a plain scan (no full parse): used for the
 * few fields verify needs from rare records (log-rotated). Returns 0 and a pointer/length into line. */
int audit_record_find_string(
        const char *line, size_t len, const char *key, const char **ret, size_t *ret_len);

/* The full parse of a record (show, report): a tokener for strict JSON, and the line parsed as one JSON
 * object, all of it (NULL when it is anything else, e.g. an object followed by more). */
struct json_tokener;
struct json_object;
struct json_tokener *audit_record_json_tokener_new(void);
struct json_object *audit_record_parse_json(struct json_tokener *tok, const char *line, size_t len);
/* The record's time (from audit_record_scan()) as milliseconds since the epoch; 0 when it does not parse. */
int64_t audit_record_time_ms(const AuditRecordHead *h);

/* SHA-256 of a line, as lowercase hex. The hasher keeps one prefetched digest and context: cheap per line.
 */
typedef struct AuditHasher AuditHasher;
int audit_hasher_new(AuditHasher **ret);
AuditHasher *audit_hasher_free(AuditHasher *h);
int audit_hasher_line(AuditHasher *h, const void *line, size_t len, char ret_hex[AUDIT_HASH_HEX + 1]);
static inline void audit_hasher_freep(AuditHasher **h) {
        audit_hasher_free(*h);
}
void audit_hex(const unsigned char *bin, size_t n, char *ret_hex); /* writes 2n digits and a NUL */
bool audit_is_hex(const char *s, size_t n);

/* "2026-11-24T06:02:14.123Z" from milliseconds since the epoch (UTC); buf gets a NUL. */
void audit_format_time(uint64_t ms, char buf[AUDIT_TIME_LEN + 1]);
/* Parses the same form (and also "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" with an optional "Z" or "+HH:MM"
 * offset; no offset means UTC) to milliseconds since the epoch. */
int audit_parse_time(const char *s, int64_t *ret_ms);
/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian, any year). */
int64_t audit_days_from_civil(int y, unsigned m, unsigned d);
void audit_civil_from_days(int64_t z, int *ret_y, unsigned *ret_m, unsigned *ret_d);

/* A growable buffer with JSON helpers. Errors (out of memory) are sticky: check .error once at the end. */
typedef struct AuditBuf {
        char *data;
        size_t len, alloc;
        int error;
} AuditBuf;
void audit_buf_done(AuditBuf *b);
void audit_buf_put(AuditBuf *b, const void *p, size_t n);
void audit_buf_puts(AuditBuf *b, const char *s);
void audit_buf_printf(AuditBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string with quotes. Invalid UTF-8 bytes become U+FFFD (a record must be valid JSON; the document's
 * SHA-256 identifies it exactly); control characters, '"' and '\\' are escaped. */
void audit_buf_put_json_string(AuditBuf *b, const char *s);
void audit_buf_put_json_stringn(AuditBuf *b, const char *s, size_t n);
/* Valid UTF-8 without NUL? */
bool audit_utf8_valid(const char *s, size_t n);

/* Who asked: the D-Bus peer for requests (the agent fills it from the bus credentials). */
typedef struct AuditCaller {
        uid_t uid;
        pid_t pid;
        const char *exe;
} AuditCaller;

/* One event. Every pointer may be NULL (the key is then left out). There is deliberately no field for a
 * PIN or any other secret, and extra keys named like one are refused. Strings longer than
 * AUDIT_FIELD_MAX bytes are cut; bytes that are not UTF-8 become U+FFFD. */
#define AUDIT_FIELD_MAX 1024
typedef struct AuditEvent {
        AuditEventType type;
        const AuditCaller *caller; /* NULL: this process */
        const char *message;       /* one line for people; also the journal's MESSAGE */

        const char *document; /* the document's name as the client gave it */
        const char *sha256_before, *sha256_after;

        const char *cert_subject, *cert_issuer, *cert_serial;
        const char *cert_fingerprint; /* SHA-256 of the DER, hex */
        const char *cert_kind;        /* personal | organization | device */
        const char *cert_ca;        /* government | other: when the policy knows; else the report guesses */
        const char *cert_not_after; /* ISO 8601 */
        const char *cert_status;    /* valid | expiring | expired | revoked | untrusted | unknown */

        const char *token_uri, *token_label, *token_serial; /* the token's own serial, not the URI's text */
        const char *token_manufacturer, *token_model;

        const char *request;  /* the request's id or object path */
        const char *role;     /* approve | issue | copy | appendix | personal */
        const char *decision; /* allowed | denied | cancelled | failed */
        const char *reason;   /* why: the policy's reason or the error's message */
        const char *article;  /* the regulation article behind a decision, e.g. "Quy chế Điều 21.4" */
        const char *timestamp_time; /* the RFC 3161 token's genTime when there is one */
        const char *error;          /* the error name when the operation failed */

        const char *const *extra; /* NULL-terminated "key", "value", ... pairs, written under "data" */
} AuditEvent;

/* What a record takes from its writer rather than from its event. */
typedef struct AuditRecordStamp {
        uint64_t seq;
        uint64_t time_ms;
        const char *prev;        /* the previous record's hash (AUDIT_HASH_HEX hex digits) */
        const char *chain;       /* the chain's identity for the first record of a file; else NULL */
        const AuditCaller *self; /* the caller of an event that names none: the writing process */
} AuditRecordStamp;

/* Appends the line of ev (without its '\n') to b. -EINVAL for an unknown event type or a bad extra key (a
 * name like a secret's), -E2BIG when the line would be longer than AUDIT_LINE_MAX. */
int audit_record_build(const AuditEvent *ev, const AuditRecordStamp *stamp, AuditBuf *b);
