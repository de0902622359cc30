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
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "string-util.h"

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
        if (!what || asprintf(ret_error, "%s:%u: %s", name, line, what) < 0)
                return -ENOMEM;
        return -EINVAL;
}

/* The keys that take a duration within bounds. */
typedef struct DurationKey {
        const char *key;
        size_t offset; /* of the uint64_t in AgentConfig */
        uint64_t min, max;
        const char *range; /* for the error message */
} DurationKey;

static const DurationKey duration_keys[] = {
        { "poll-interval", offsetof(AgentConfig, poll_usec), 100 * USEC_PER_MSEC, 60 * USEC_PER_SEC,
          "100ms to 60s" },
        { "helper-timeout", offsetof(AgentConfig, helper_timeout_usec), 1 * USEC_PER_SEC, 600 * USEC_PER_SEC,
          "1s to 10min" },
        { "module-retry", offsetof(AgentConfig, module_retry_usec), 100 * USEC_PER_MSEC, 3600 * USEC_PER_SEC,
          "100ms to 60min" },
        { "prompt-timeout", offsetof(AgentConfig, prompt_timeout_usec), 1 * USEC_PER_SEC, 600 * USEC_PER_SEC,
          "1s to 10min" },
        { "batch-timeout", offsetof(AgentConfig, batch_timeout_usec), 1 * USEC_PER_SEC, 600 * USEC_PER_SEC,
          "1s to 10min" },
        { "document-timeout", offsetof(AgentConfig, document_timeout_usec), 1 * USEC_PER_SEC,
          600 * USEC_PER_SEC, "1s to 10min" },
        { "revocation-refresh", offsetof(AgentConfig, revocation_refresh_usec), 1 * USEC_PER_SEC,
          24 * 3600 * USEC_PER_SEC, "1s to 1440min" },
};

static int
parse_signature_image(AgentConfig *c, const char *value, const char *name, unsigned line, char **ret_error);
static int
parse_signature_place(AgentConfig *c, const char *value, const char *name, unsigned line, char **ret_error);

static int
parse_line(AgentConfig *c, char *key, char *value, const char *name, unsigned line, char **ret_error) {
        uint64_t u;
        int r;

        if (streq(key, "module")) {
                if (value[0] != '/')
                        return config_error(
                                ret_error, name, line, "module needs an absolute path, got '%s'", value);
                return strv_extend(&c->module_paths, value);
        }
        if (streq(key, "use-p11-kit-registry")) {
                r = parse_boolean(value);
                if (r < 0)
                        return config_error(
                                ret_error, name, line, "use-p11-kit-registry must be yes or no, got '%s'",
                                value);
                c->use_p11kit_registry = r;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(duration_keys); i++) {
                const DurationKey *d = &duration_keys[i];
                if (!streq(key, d->key))
                        continue;
                if (parse_duration(value, &u) < 0 || u < d->min || u > d->max)
                        return config_error(
                                ret_error, name, line, "%s must be a duration from %s, got '%s'", key,
                                d->range, value);
                *(uint64_t *) ((uint8_t *) c + d->offset) = u;
                return 0;
        }
        if (streq(key, "audit-log")) {
                if (value[0] != '/')
                        return config_error(
                                ret_error, name, line, "audit-log needs an absolute path, got '%s'", value);
                return free_and_strdup(&c->audit_log_path, value);
        }
        if (streq(key, "audit-rotate")) {
                AuditLogOptions o = c->audit_options;
                if (audit_log_parse_rotation(value, &o) < 0)
                        return config_error(
                                ret_error, name, line,
                                "audit-rotate must be no, monthly, a size of at least 64K (such as 50M), or "
                                "monthly,SIZE; got '%s'",
                                value);
                c->audit_options = o;
                return 0;
        }
        if (streq(key, "pinentry")) {
                if (isempty(value))
                        return config_error(ret_error, name, line, "pinentry needs a program name or path");
                return free_and_strdup(&c->pinentry_program, value);
        }
        if (streq(key, "log-level")) {
                r = log_level_from_string(value);
                if (r < 0)
                        return config_error(
                                ret_error, name, line,
                                "log-level must be one of debug, info, notice, warning, err; got '%s'",
                                value);
                c->log_level = r;
                return 0;
        }
        if (streq(key, "max-document-size")) {
                if (parse_size(value, &u) < 0 || u < (UINT64_C(1) << 20) || u > (UINT64_C(1) << 40))
                        return config_error(
                                ret_error, name, line,
                                "max-document-size must be a size from 1M to 1T (such as 2G), got '%s'",
                                value);
                c->max_document_size = u;
                return 0;
        }
        if (streq(key, "pin-cache-personal") || streq(key, "pin-cache-organization")) {
                if (parse_duration(value, &u) < 0 || u > 24 * 3600 * USEC_PER_SEC)
                        return config_error(
                                ret_error, name, line,
                                "%s must be a duration from 0 (off) to 1440min (such as 5min), got '%s'",
                                key, value);
                if (streq(key, "pin-cache-personal"))
                        c->pin_cache_personal_usec = u;
                else
                        c->pin_cache_organization_usec = u;
                return 0;
        }
        if (streq(key, "signature-image"))
                return parse_signature_image(c, value, name, line, ret_error);
        if (streq(key, "signature-place"))
                return parse_signature_place(c, value, name, line, ret_error);
        if (streq(key, "seal-diameter")) {
                char *end = NULL;
                double mm;

                errno = 0;
                mm = strtod(value, &end);
                if (errno != 0 || end == value || *end != '\0' || !(mm >= 10 && mm <= 100))
                        return config_error(
                                ret_error, name, line,
                                "seal-diameter must be the seal's size in mm, from 10 to 100, got '%s'",
                                value);
                c->seal_diameter_mm = mm;
                return 0;
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
static int
parse_signature_place(AgentConfig *c, const char *value, const char *name, unsigned line, char **ret_error) {
        AgentSignaturePlace item = {}, *n;
        const char *p = value;
        unsigned page = 0;
        double v[4];
        int end = 0;

        if (strchr(value, ' ') || strchr(value, '\t')) {
                if (parse_fingerprint(value, item.sha256, &p) != 64)
                        p = NULL;
        }
        if (p && startswith(p, "last,")) {
                item.place.from_end = true;
                p += strlen("last");
        } else if (p && sscanf(p, "%u%n", &page, &end) == 1 && page > 0 && p[0] != '-' && p[0] != '+')
                p += end;
        else
                p = NULL;
        if (!p || sscanf(p, ",%lf,%lf,%lf,%lf%n", &v[0], &v[1], &v[2], &v[3], &end) != 4 || p[end] != '\0' ||
            !isfinite(v[0]) || !isfinite(v[1]) || !(v[2] > 0 && v[2] < 14400) ||
            !(v[3] > 0 && v[3] < 14400) || fabs(v[0]) > 14400 || fabs(v[1]) > 14400)
                return config_error(
                        ret_error, name, line,
                        "signature-place needs PAGE,X,Y,W,H (PAGE from 1 or 'last', the rectangle in PDF points "
                        "with a positive width and height), after a certificate's SHA-256 fingerprint or "
                        "alone, got '%s'",
                        value);
        item.place.set = true;
        item.place.page = item.place.from_end ? 0 : page - 1;
        item.place.rect = (PdfRect){ v[0], v[1], v[2], v[3] };
        n = reallocarray(c->signature_places, c->n_signature_places + 1, sizeof *n);
        if (!n)
                return -ENOMEM;
        c->signature_places = n;
        n[c->n_signature_places++] = item;
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
static int
parse_signature_image(AgentConfig *c, const char *value, const char *name, unsigned line, char **ret_error) {
        _cleanup_free_ char *item = NULL;
        char hex[65];
        const char *p;
        size_t n = parse_fingerprint(value, hex, &p);

        if (n != 64 || p[0] != '/')
                return config_error(
                        ret_error, name, line,
                        "signature-image needs a certificate's SHA-256 fingerprint and the absolute path of a "
                        "PNG, got '%s'",
                        value);
        if (asprintf(&item, "%s %s", hex, p) < 0)
                return -ENOMEM;
        return strv_extend(&c->signature_images, item);
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
