/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>
#include <syslog.h>

#include "agent-config.h"
#include "alloc-util.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "named-field.h"
#include "string-util.h"
#include "utf8.h"

#define CONFIG_MAX_SIZE (64 * 1024)

AgentConfig *agent_config_free(AgentConfig *c) {
        if (!c)
                return NULL;
        free(c->path);
        strv_free(c->module_paths);
        strv_free(c->signature_images);
        free(c->signature_places);
        free(c->audit_log_path);
        free(c->pinentry_program);
        free(c);
        return NULL;
}

static int default_audit_log_path(char **ret) {
        const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
        char *p;

        if (!isempty(state) && state[0] == '/') {
                if (asprintf(&p, "%s/kyso/audit.jsonl", state) < 0)
                        p = NULL;
        } else if (!isempty(home) && home[0] == '/') {
                if (asprintf(&p, "%s/.local/state/kyso/audit.jsonl", home) < 0)
                        p = NULL;
        } else
                return -ENOENT; /* no home: the audit log must then be configured */
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int agent_config_new(AgentConfig **ret) {
        _cleanup_(agent_config_freep) AgentConfig *c = calloc(1, sizeof *c);
        int r;

        if (!c)
                return -ENOMEM;
        c->use_p11kit_registry = true;
        c->poll_usec = 1 * USEC_PER_SEC;
        c->helper_timeout_usec = 10 * USEC_PER_SEC;
        c->prompt_timeout_usec = 60 * USEC_PER_SEC;
        c->batch_timeout_usec = 60 * USEC_PER_SEC;
        c->document_timeout_usec = 60 * USEC_PER_SEC;
        c->revocation_refresh_usec = 3600 * USEC_PER_SEC;
        c->max_document_size = UINT64_C(2) << 30;
        c->module_retry_usec = 30 * USEC_PER_SEC;
        c->log_level = LOG_INFO;
        c->seal_diameter_mm = 40;
        c->audit_options.rotate_monthly = true; /* one file per month, like the Article 17 reports */
        c->pinentry_program = strdup("pinentry");
        if (!c->pinentry_program)
                return -ENOMEM;
        r = default_audit_log_path(&c->audit_log_path);
        if (r < 0 && r != -ENOENT)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

_printf_(4, 5) static int config_error(
        char **ret_error, const char *name, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        if (!ret_error)
                return -EINVAL;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (!what)
                return -ENOMEM;
        /* A key or value that is not UTF-8 would reach the journal as "[blob data]": shown escaped. */
        if (utf8_make_valid(&what) < 0)
                return -ENOMEM;
        if (asprintf(ret_error, "%s:%u: %s", name, line, what) < 0)
                return -ENOMEM;
        return -EINVAL;
}

typedef struct ConfigKey ConfigKey;

/* Reads value into field (the key's member of the AgentConfig). Returns 0, -EINVAL when the value is
 * refused (the key's message then says why), or -ENOMEM. */
typedef int (*ConfigKeyParser)(AgentConfig *c, const ConfigKey *k, const char *value, void *field);

struct ConfigKey {
        NamedField field;
        ConfigKeyParser parse;
        bool (*valid)(const char *value);            /* key_string(), key_strv_append() */
        int (*number)(const char *s, uint64_t *ret); /* key_number(): parse_duration() or parse_size() */
        uint64_t min, max;                           /* durations (µs), sizes (bytes), millimetres */
        const char *refused; /* after the key's name, before "got 'VALUE'": why a value is refused */
};

static bool absolute_path_ok(const char *value) {
        return value[0] == '/';
}

static bool not_empty(const char *value) {
        return !isempty(value);
}

/* A string that k->valid accepts, replacing the one before. */
static int key_string(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        if (!k->valid(value))
                return -EINVAL;
        return free_and_strdup(field, value);
}

/* A string that k->valid accepts, added to a strv. */
static int key_strv_append(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        if (!k->valid(value))
                return -EINVAL;
        return strv_extend(field, value);
}

static int key_boolean(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        int r = parse_boolean(value);
        if (r < 0)
                return -EINVAL;
        *(bool *) field = r;
        return 0;
}

/* A duration or a size, by k->number, from k->min to k->max. */
static int key_number(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        uint64_t u;
        if (k->number(value, &u) < 0 || u < k->min || u > k->max)
                return -EINVAL;
        *(uint64_t *) field = u;
        return 0;
}

static int key_audit_rotation(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        AuditLogOptions o = *(AuditLogOptions *) field;
        if (audit_log_parse_rotation(value, &o) < 0)
                return -EINVAL;
        *(AuditLogOptions *) field = o;
        return 0;
}

static int key_log_level(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        int r = log_level_from_string(value);
        if (r < 0)
                return -EINVAL;
        *(int *) field = r;
        return 0;
}

static int key_millimetres(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        const char *end = NULL;
        double mm;

        if (parse_decimal_prefix(value, &end, &mm) < 0 || *end != '\0' || !(mm >= k->min && mm <= k->max))
                return -EINVAL;
        *(double *) field = mm;
        return 0;
}

static int key_signature_image(AgentConfig *c, const ConfigKey *k, const char *value, void *field);
static int key_signature_place(AgentConfig *c, const ConfigKey *k, const char *value, void *field);

#define CONFIG_FIELD(key, member) .field = { key, offsetof(AgentConfig, member) }
/* A duration key's parser, bounds and refusal. */
#define DURATION(lo, hi, range)                                     \
        key_number, .number = parse_duration, .min = lo, .max = hi, \
                    .refused = "must be a duration from " range ","

static const ConfigKey config_keys[] = {
        { CONFIG_FIELD("module", module_paths), key_strv_append, .valid = absolute_path_ok,
          .refused = "needs an absolute path," },
        { CONFIG_FIELD("use-p11-kit-registry", use_p11kit_registry), key_boolean,
          .refused = "must be yes or no," },
        { CONFIG_FIELD("poll-interval", poll_usec),
          DURATION(100 * USEC_PER_MSEC, 60 * USEC_PER_SEC, "100ms to 60s") },
        { CONFIG_FIELD("helper-timeout", helper_timeout_usec),
          DURATION(1 * USEC_PER_SEC, 600 * USEC_PER_SEC, "1s to 10min") },
        { CONFIG_FIELD("module-retry", module_retry_usec),
          DURATION(100 * USEC_PER_MSEC, 3600 * USEC_PER_SEC, "100ms to 60min") },
        { CONFIG_FIELD("prompt-timeout", prompt_timeout_usec),
          DURATION(1 * USEC_PER_SEC, 600 * USEC_PER_SEC, "1s to 10min") },
        { CONFIG_FIELD("batch-timeout", batch_timeout_usec),
          DURATION(1 * USEC_PER_SEC, 600 * USEC_PER_SEC, "1s to 10min") },
        { CONFIG_FIELD("document-timeout", document_timeout_usec),
          DURATION(1 * USEC_PER_SEC, 600 * USEC_PER_SEC, "1s to 10min") },
        { CONFIG_FIELD("revocation-refresh", revocation_refresh_usec),
          DURATION(1 * USEC_PER_SEC, 24 * 3600 * USEC_PER_SEC, "1s to 1440min") },
        { CONFIG_FIELD("pin-cache-personal", pin_cache_personal_usec),
          DURATION(0, 24 * 3600 * USEC_PER_SEC, "0 (off) to 1440min (such as 5min)") },
        { CONFIG_FIELD("pin-cache-organization", pin_cache_organization_usec),
          DURATION(0, 24 * 3600 * USEC_PER_SEC, "0 (off) to 1440min (such as 5min)") },
        { CONFIG_FIELD("audit-log", audit_log_path), key_string, .valid = absolute_path_ok,
          .refused = "needs an absolute path," },
        { CONFIG_FIELD("audit-rotate", audit_options), key_audit_rotation,
          .refused = "must be no, monthly, a size of at least 64K (such as 50M), or monthly,SIZE;" },
        { CONFIG_FIELD("pinentry", pinentry_program), key_string, .valid = not_empty,
          .refused = "needs a program name or path," },
        { CONFIG_FIELD("log-level", log_level), key_log_level,
          .refused = "must be one of debug, info, notice, warning, err;" },
        { CONFIG_FIELD("max-document-size", max_document_size), key_number, .number = parse_size,
          .min = UINT64_C(1) << 20, .max = UINT64_C(1) << 40,
          .refused = "must be a size from 1M to 1T (such as 2G)," },
        { CONFIG_FIELD("signature-image", signature_images), key_signature_image,
          .refused = "needs a certificate's SHA-256 fingerprint and the absolute path of a PNG," },
        { CONFIG_FIELD("signature-place", signature_places), key_signature_place,
          .refused =
                  "needs PAGE,X,Y,W,H (PAGE from 1 or 'last', the rectangle in PDF points with a positive "
                  "width and height), after a certificate's SHA-256 fingerprint or alone," },
        { CONFIG_FIELD("seal-diameter", seal_diameter_mm), key_millimetres, .min = 10, .max = 100,
          .refused = "must be the seal's size in mm, from 10 to 100," },
};

static int parse_line(
        AgentConfig *c, const char *key, const char *value, const char *name, unsigned line,
        char **ret_error) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++) {
                const ConfigKey *k = &config_keys[i];
                int r;

                if (!streq(key, k->field.name))
                        continue;
                r = k->parse(c, k, value, &NAMED_FIELD(c, &k->field, uint8_t));
                if (r == -EINVAL)
                        return config_error(ret_error, name, line, "%s %s got '%s'", key, k->refused, value);
                return r;
        }
        return config_error(ret_error, name, line, "unknown key '%s' (see kysod.conf(5))", key);
}

/* A certificate's fingerprint at the start of value: 64 hex digits, colons allowed between pairs, then
 * blanks. Returns how many digits were read (64 when it is one) and where the rest begins. */
static size_t parse_fingerprint(const char *value, char hex[static 65], const char **ret_rest) {
        size_t n = 0;
        const char *p = value;

        for (; *p && !strchr(" \t", *p); p++) {
                if (*p == ':')
                        continue;
                if (n >= 64 || !strchr("0123456789abcdefABCDEF", *p))
                        break;
                hex[n++] = (char) tolower((unsigned char) *p);
        }
        hex[n] = '\0';
        *ret_rest = p + strspn(p, " \t");
        return n;
}

/* "[SHA256] PAGE,X,Y,W,H", PAGE from 1 or "last": as the `visible` option, for the requests without it. */
static int key_signature_place(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        AgentSignaturePlace item = {}, *n;
        const char *p = value;
        unsigned page;
        double v[4];

        if (strchr(value, ' ') || strchr(value, '\t')) {
                if (parse_fingerprint(value, item.sha256, &p) != 64)
                        return -EINVAL;
        }
        if (parse_page_place(p, &item.place.from_end, &page, v) < 0)
                return -EINVAL;
        item.place.set = true;
        item.place.page = item.place.from_end ? 0 : page - 1;
        item.place.rect = (PdfRect){ v[0], v[1], v[2], v[3] };
        n = ARRAY_APPEND(c->signature_places, c->n_signature_places);
        if (!n)
                return -ENOMEM;
        *n = item;
        return 0;
}

const PdfPlace *agent_config_signature_place(const AgentConfig *c, const char *sha256) {
        const PdfPlace *any = NULL;

        if (!c)
                return NULL;
        /* The last line wins, as for other keys; a certificate's own line over one for all. */
        for (size_t i = c->n_signature_places; i > 0; i--) {
                const AgentSignaturePlace *s = &c->signature_places[i - 1];
                if (s->sha256[0] == '\0') {
                        if (!any)
                                any = &s->place;
                } else if (sha256 && strcasecmp(s->sha256, sha256) == 0)
                        return &s->place;
        }
        return any;
}

/* "SHA256 PATH": the fingerprint, then the PNG's absolute path. */
static int key_signature_image(AgentConfig *c, const ConfigKey *k, const char *value, void *field) {
        _cleanup_free_ char *item = NULL;
        char hex[65];
        const char *p;
        size_t n = parse_fingerprint(value, hex, &p);

        if (n != 64 || p[0] != '/')
                return -EINVAL;
        if (asprintf(&item, "%s %s", hex, p) < 0)
                return -ENOMEM;
        return strv_extend(field, item);
}

const char *agent_config_signature_image(const AgentConfig *c, const char *sha256) {
        if (!c || !sha256 || strlen(sha256) != 64)
                return NULL;
        /* The last line for a certificate wins, as for other keys. */
        for (size_t i = strv_length(c->signature_images); i > 0; i--)
                if (strncasecmp(c->signature_images[i - 1], sha256, 64) == 0)
                        return c->signature_images[i - 1] + 65;
        return NULL;
}

int agent_config_parse(AgentConfig *c, const char *text, size_t size, const char *name, char **ret_error) {
        unsigned line = 0;
        size_t pos = 0;
        int r;

        if (memchr(text, '\0', size))
                return config_error(ret_error, name, 1, "the file contains a NUL byte");
        /* Notepad and other editors start a UTF-8 file with a byte-order mark, invisible in a terminal. */
        if (size >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                pos = 3;

        while (pos < size) {
                size_t len = 0;
                _cleanup_free_ char *buf = NULL;
                char *l, *eq, *key, *value;

                line++;
                while (pos + len < size && text[pos + len] != '\n')
                        len++;
                buf = strndup(text + pos, len);
                if (!buf)
                        return -ENOMEM;
                pos += len + 1;

                l = strstrip(buf);
                if (l[0] == '\0' || l[0] == '#' || l[0] == ';')
                        continue;
                eq = strchr(l, '=');
                if (!eq)
                        return config_error(ret_error, name, line, "expected 'key = value'");
                *eq = '\0';
                key = strstrip(l);
                value = strstrip(eq + 1);
                if (key[0] == '\0')
                        return config_error(ret_error, name, line, "missing key before '='");
                r = parse_line(c, key, value, name, line, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int config_load_file(AgentConfig *c, const char *path, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(path, CONFIG_MAX_SIZE, &text, &size);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "%s: cannot read: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        r = agent_config_parse(c, text, size, path, ret_error);
        if (r < 0)
                return r;
        return free_and_strdup(&c->path, path);
}

int agent_config_load(const char *path, AgentConfig **ret, char **ret_error) {
        _cleanup_(agent_config_freep) AgentConfig *c = NULL;
        _cleanup_free_ char *user = NULL;
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        int r;

        r = agent_config_new(&c);
        if (r < 0)
                return r;

        if (!path) {
                if (!isempty(xdg) && xdg[0] == '/')
                        r = asprintf(&user, "%s/kyso/" AGENT_CONFIG_FILE_NAME, xdg);
                else if (!isempty(home) && home[0] == '/')
                        r = asprintf(&user, "%s/.config/kyso/" AGENT_CONFIG_FILE_NAME, home);
                else
                        r = 0;
                if (r < 0)
                        return -ENOMEM;
                if (user && access(user, F_OK) == 0)
                        path = user;
                else if (access(SYSCONFDIR "/kyso/" AGENT_CONFIG_FILE_NAME, F_OK) == 0)
                        path = SYSCONFDIR "/kyso/" AGENT_CONFIG_FILE_NAME;
        }
        if (path) {
                r = config_load_file(c, path, ret_error);
                if (r < 0)
                        return r;
        }
        if (!c->audit_log_path) {
                if (ret_error &&
                    asprintf(
                            ret_error, "%s: neither $XDG_STATE_HOME nor $HOME is set: set audit-log",
                            strna(path)) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        *ret = TAKE_PTR(c);
        return 0;
}
