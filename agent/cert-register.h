/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* CertRegister: every certificate kysod has seen on a token (Quy chế Điều 22.3), kept in a JSON file in the
 * state folder beside the audit log ("certificates.json"), written atomically; kysoctl certs --all reads it.
 *
 * The file (version 1): {"version":1,"certificates":[{...}]}, one object per certificate with the keys of
 * CertRegisterEntry (times as unix seconds). Unknown keys are ignored, so later versions may add some. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define CERT_REGISTER_FILE "certificates.json"

typedef struct CertRegisterEntry {
        char *fingerprint; /* SHA-256 of the DER, lowercase hex: the key */
        char *subject, *issuer, *serial;
        char *holder;       /* the subject's CN */
        char *organization; /* the subject's O */
        char *kind;         /* personal | organization | device | unknown */
        int64_t not_before, not_after;
        int64_t first_seen, last_seen;
        char *token_label, *token_serial; /* of the last token it was seen on */
        char *status; /* the last known status (valid, expiring, expired, revoked, ...); never "unchecked" */
        int64_t status_time; /* when that status was last seen */
        char *renewed_by;    /* the fingerprint of the same holder's newer certificate, once seen */

        /* Notifications (notify.c): the day (unix days) and the threshold of the last expiry warning, and
         * whether the one warning that an unusable certificate was plugged in has been shown. */
        int64_t warned_day;
        int warned_threshold;
        bool warned_unusable;
} CertRegisterEntry;

typedef struct CertRegister CertRegister;

/* What the register learns from one sighting. */
typedef struct CertSighting {
        const char *fingerprint, *subject, *issuer, *serial, *holder, *organization, *kind;
        int64_t not_before, not_after;
        const char *token_label, *token_serial;
        const char *status; /* "unchecked" leaves the known status alone */
} CertSighting;

typedef enum CertRegisterChangeFlags {
        CERT_REGISTER_FIRST_SEEN = 1 << 0,
        CERT_REGISTER_STATUS_CHANGED = 1 << 1, /* old_status says from what */
        CERT_REGISTER_RENEWAL = 1 << 2, /* renewed: the holder's older certificate this one replaces */
} CertRegisterChangeFlags;

typedef struct CertRegisterChange {
        unsigned flags;
        char *old_status;           /* with CERT_REGISTER_STATUS_CHANGED (NULL: none known) */
        CertRegisterEntry *renewed; /* with CERT_REGISTER_RENEWAL: the older entry (owned by the register) */
        char *renewed_old_status;   /* ... and its status before it became "renewed" */
} CertRegisterChange;

void cert_register_change_done(CertRegisterChange *c);

/* Reads path; a missing file is an empty register. -EBADMSG when the file is not a register. */
int cert_register_load(const char *path, CertRegister **ret);
CertRegister *cert_register_new(const char *path);
CertRegister *cert_register_free(CertRegister *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(CertRegister *, cert_register_free);

/* Writes the register to its file atomically (mode 0600, the folder made when missing). */
int cert_register_save(CertRegister *r);
bool cert_register_dirty(const CertRegister *r);
void cert_register_mark_dirty(CertRegister *r);

size_t cert_register_size(const CertRegister *r);
CertRegisterEntry *cert_register_get(const CertRegister *r, size_t i);
CertRegisterEntry *cert_register_find(const CertRegister *r, const char *fingerprint);

/* Records a sighting at now: adds a new certificate (FIRST_SEEN, and RENEWAL when the same holder,
 * organisation and kind had an older certificate not renewed yet), or updates last seen, the token and the
 * status (STATUS_CHANGED). *ret_change (optional) says what changed; release it with
 * cert_register_change_done(). */
int cert_register_observe(
        CertRegister *r, const CertSighting *s, int64_t now, CertRegisterChange *ret_change);

/* The register's file for the audit log at audit_path (beside it), and for the default audit log. */
int cert_register_path_beside(const char *audit_path, char **ret);
int cert_register_default_path(char **ret);

/* Replays one audit record (a line of an audit log, kysod's or collected from a desk) into the register, so
 * an auditor can rebuild it without an agent: cert-first-seen and cert-status-changed as the agent wrote
 * them, and the certificate named by a signing record (sign-*), seen at that record's time. Other records
 * and lines that are not JSON are skipped (0); 1 when the register changed; -ENOMEM. */
int cert_register_replay(CertRegister *r, const char *line, size_t len);

/* One entry as a JSON object (the file's form); NULL on OOM. */
json_object *cert_register_entry_to_json(const CertRegisterEntry *e);
