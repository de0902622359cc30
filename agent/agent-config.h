/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AgentConfig: kysod's configuration file (kysod.conf(5)): "key = value" lines, '#' comments. Parsing is
 * strict: an unknown key or a bad value is an error naming file:line, and the agent refuses to start. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit-log.h"
#include "formats/pdf-appearance.h"
#include "parse-util.h" /* the grammar of the values */

/* One signature-place line: sha256 "" for every certificate. PAGE is from 1, or "last" (from_end). */
typedef struct AgentSignaturePlace {
        char sha256[65];
        PdfPlace place;
} AgentSignaturePlace;

typedef struct AgentConfig {
        char *path;                   /* the file that was read; NULL when the defaults are used */
        char **module_paths;          /* "module", repeatable: extra PKCS#11 modules (absolute paths) */
        bool use_p11kit_registry;     /* "use-p11-kit-registry", default yes */
        uint64_t poll_usec;           /* "poll-interval", default 1s, 100ms..60s */
        uint64_t helper_timeout_usec; /* "helper-timeout", default 10s, 1s..10min */
        uint64_t module_retry_usec;   /* "module-retry", default 30s, 100ms..1h: first retry of a module
                                         that does not load; doubles up to an hour */
        char *audit_log_path;         /* "audit-log", default $XDG_STATE_HOME/kyso/audit.jsonl */
        AuditLogOptions
                audit_options;  /* "audit-rotate": no | monthly | SIZE | monthly,SIZE; default monthly */
        char *pinentry_program; /* "pinentry", default "pinentry" (looked up in $PATH) */
        uint64_t prompt_timeout_usec;         /* "prompt-timeout", default 60s, 1s..10min */
        int log_level;                        /* "log-level": debug|info|notice|warning|err, default info */
        uint64_t pin_cache_personal_usec;     /* "pin-cache-personal", default 0 (off), at most 24h */
        uint64_t pin_cache_organization_usec; /* "pin-cache-organization", default 0 (off), at most 24h */
        uint64_t batch_timeout_usec;          /* "batch-timeout": for a batch's next part, default 60s */
        uint64_t document_timeout_usec; /* "document-timeout": a document pipe with nothing new, default 60s
                                         */
        uint64_t revocation_refresh_usec; /* "revocation-refresh": the inventory's, default 60min */
        uint64_t max_document_size;       /* "max-document-size": bytes, default 2G, 1M..1T */
        /* "signature-image = SHA256 PATH", repeatable: the PNG (with transparency) a visible PDF signature
         * by the certificate with that SHA-256 fingerprint draws: a person's handwritten signature, an
         * organisation's seal. Kept as "sha256 path" items, the fingerprint as 64 lower-case hex digits. */
        char **signature_images;
        double seal_diameter_mm; /* "seal-diameter": the seal's real size in mm, default 40, 10..100 */
        /* "signature-place = [SHA256] PAGE,X,Y,W,H", repeatable: where an approval or personal signature of
         * a PDF is drawn when the request names no place; with a fingerprint, for that certificate only. */
        AgentSignaturePlace *signature_places;
        size_t n_signature_places;
} AgentConfig;

#define AGENT_CONFIG_FILE_NAME "kysod.conf"

AgentConfig *agent_config_free(AgentConfig *c);
static inline void agent_config_freep(AgentConfig **c) {
        agent_config_free(*c);
}

/* The defaults (with the audit log under $XDG_STATE_HOME or ~/.local/state). */
int agent_config_new(AgentConfig **ret);

/* Parses text (as if read from name) into c. On error returns -EINVAL (or -ENOMEM) and, when ret_error is
 * not NULL, a message "name:line: what is wrong". */
int agent_config_parse(AgentConfig *c, const char *text, size_t size, const char *name, char **ret_error);

/* The signature-image path for the certificate whose SHA-256 fingerprint is sha256 (hex, any case), or
 * NULL. */
const char *agent_config_signature_image(const AgentConfig *c, const char *sha256);

/* The default place of a visible signature by the certificate whose SHA-256 fingerprint is sha256: its own
 * signature-place line, else one for every certificate, else NULL. */
const PdfPlace *agent_config_signature_place(const AgentConfig *c, const char *sha256);

/* Loads path if given (it must exist); else the first existing of $XDG_CONFIG_HOME/kyso/kysod.conf
 * (~/.config/...) and SYSCONFDIR/kyso/kysod.conf; else the defaults. Files are not merged. */
int agent_config_load(const char *path, AgentConfig **ret, char **ret_error);
