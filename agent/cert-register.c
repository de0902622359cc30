/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "audit/audit-events.h"
#include "audit/audit-log.h"
#include "cert-register.h"
#include "fileio.h"
#include "json-util.h"
#include "named-field.h"
#include "string-util.h"

#define CERT_REGISTER_MAX_SIZE (64U * 1024U * 1024U)
#define CERT_REGISTER_VERSION 1

struct CertRegister {
        char *path;
        CertRegisterEntry *entries;
        size_t n;
        bool dirty;
};

/* The string fields, by their JSON keys, for reading, writing and freeing alike. */
static const NamedField string_fields[] = {
        { "fingerprint", offsetof(CertRegisterEntry, fingerprint) },
        { "subject", offsetof(CertRegisterEntry, subject) },
        { "issuer", offsetof(CertRegisterEntry, issuer) },
        { "serial", offsetof(CertRegisterEntry, serial) },
        { "holder", offsetof(CertRegisterEntry, holder) },
        { "organization", offsetof(CertRegisterEntry, organization) },
        { "kind", offsetof(CertRegisterEntry, kind) },
        { "token_label", offsetof(CertRegisterEntry, token_label) },
        { "token_serial", offsetof(CertRegisterEntry, token_serial) },
        { "status", offsetof(CertRegisterEntry, status) },
        { "renewed_by", offsetof(CertRegisterEntry, renewed_by) },
};

static const NamedField time_fields[] = {
        { "not_before", offsetof(CertRegisterEntry, not_before) },
        { "not_after", offsetof(CertRegisterEntry, not_after) },
        { "first_seen", offsetof(CertRegisterEntry, first_seen) },
        { "last_seen", offsetof(CertRegisterEntry, last_seen) },
        { "status_time", offsetof(CertRegisterEntry, status_time) },
        { "warned_day", offsetof(CertRegisterEntry, warned_day) },
};

static void entry_done(CertRegisterEntry *e) {
        for (size_t i = 0; i < ELEMENTSOF(string_fields); i++)
                free(NAMED_FIELD(e, &string_fields[i], char *));
        *e = (CertRegisterEntry){};
}

void cert_register_change_done(CertRegisterChange *c) {
        if (!c)
                return;
        free(c->old_status);
        free(c->renewed_old_status);
        *c = (CertRegisterChange){};
}

CertRegister *cert_register_new(const char *path) {
        CertRegister *r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        r->path = path ? strdup(path) : NULL;
        if (path && !r->path)
                return mfree(r);
        return r;
}

CertRegister *cert_register_free(CertRegister *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n; i++)
                entry_done(&r->entries[i]);
        free(r->entries);
        free(r->path);
        return mfree(r);
}

json_object *cert_register_entry_to_json(const CertRegisterEntry *e) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(string_fields); i++) {
                const char *v = NAMED_FIELD(e, &string_fields[i], char *);
                if (v && json_object_object_add(o, string_fields[i].name, json_object_new_string(v)) < 0)
                        return NULL;
        }
        for (size_t i = 0; i < ELEMENTSOF(time_fields); i++)
                if (json_object_object_add(
                            o, time_fields[i].name,
                            json_object_new_int64(NAMED_FIELD(e, &time_fields[i], int64_t))) < 0)
                        return NULL;
        if (json_object_object_add(o, "warned_threshold", json_object_new_int(e->warned_threshold)) < 0 ||
            json_object_object_add(o, "warned_unusable", json_object_new_boolean(e->warned_unusable)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static int entry_from_json(json_object *o, CertRegisterEntry *ret) {
        CertRegisterEntry e = {};
        json_object *v;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        for (size_t i = 0; i < ELEMENTSOF(string_fields); i++) {
                if (!json_object_object_get_ex(o, string_fields[i].name, &v) ||
                    !json_object_is_type(v, json_type_string))
                        continue;
                char *s = strdup(json_object_get_string(v));
                if (!s) {
                        entry_done(&e);
                        return -ENOMEM;
                }
                NAMED_FIELD(&e, &string_fields[i], char *) = s;
        }
        for (size_t i = 0; i < ELEMENTSOF(time_fields); i++)
                if (json_object_object_get_ex(o, time_fields[i].name, &v) &&
                    json_object_is_type(v, json_type_int))
                        NAMED_FIELD(&e, &time_fields[i], int64_t) = json_object_get_int64(v);
        if (json_object_object_get_ex(o, "warned_threshold", &v))
                e.warned_threshold = json_object_get_int(v);
        if (json_object_object_get_ex(o, "warned_unusable", &v))
                e.warned_unusable = json_object_get_boolean(v);
        if (!e.fingerprint || strlen(e.fingerprint) != 64) {
                entry_done(&e);
                return -EBADMSG;
        }
        *ret = e;
        return 0;
}

static int append_entry(CertRegister *r, CertRegisterEntry *e) {
        CertRegisterEntry *n = ARRAY_APPEND(r->entries, r->n);
        if (!n)
                return -ENOMEM;
        *n = *e;
        *e = (CertRegisterEntry){};
        return 0;
}

int cert_register_load(const char *path, CertRegister **ret) {
        _cleanup_(cert_register_freep) CertRegister *r = cert_register_new(path);
        _cleanup_free_ char *data = NULL;
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *list, *version;
        size_t size;
        int k;

        if (!r)
                return -ENOMEM;
        k = read_full_file(path, CERT_REGISTER_MAX_SIZE, &data, &size);
        if (k == -ENOENT) {
                *ret = TAKE_PTR(r);
                return 0;
        }
        if (k < 0)
                return k;
        root = json_tokener_parse(data);
        if (!root || !json_object_object_get_ex(root, "version", &version) ||
            json_object_get_int(version) != CERT_REGISTER_VERSION ||
            !json_object_object_get_ex(root, "certificates", &list) ||
            !json_object_is_type(list, json_type_array))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                CertRegisterEntry e;
                k = entry_from_json(json_object_array_get_idx(list, i), &e);
                if (k == -EBADMSG)
                        continue; /* one damaged entry must not lose the others */
                if (k < 0)
                        return k;
                k = append_entry(r, &e);
                if (k < 0) {
                        entry_done(&e);
                        return k;
                }
        }
        *ret = TAKE_PTR(r);
        return 0;
}

int cert_register_save(CertRegister *r) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *list = json_object_new_array();
        int k;

        if (!root || !list ||
            json_object_object_add(root, "version", json_object_new_int(CERT_REGISTER_VERSION)) < 0 ||
            json_object_object_add(root, "certificates", list) < 0) {
                json_object_put(list);
                return -ENOMEM;
        }
        for (size_t i = 0; i < r->n; i++) {
                json_object *o = cert_register_entry_to_json(&r->entries[i]);
                if (!o || json_object_array_add(list, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        const char *s = json_object_to_json_string_ext(
                root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        k = mkdir_parents(r->path, 0700);
        if (k < 0)
                return k;
        k = write_file_atomic(r->path, s, strlen(s), 0600);
        if (k < 0)
                return k;
        r->dirty = false;
        return 0;
}

bool cert_register_dirty(const CertRegister *r) {
        return r && r->dirty;
}

void cert_register_mark_dirty(CertRegister *r) {
        if (r)
                r->dirty = true;
}

size_t cert_register_size(const CertRegister *r) {
        return r ? r->n : 0;
}

CertRegisterEntry *cert_register_get(const CertRegister *r, size_t i) {
        return r && i < r->n ? &r->entries[i] : NULL;
}

CertRegisterEntry *cert_register_find(const CertRegister *r, const char *fingerprint) {
        for (size_t i = 0; r && fingerprint && i < r->n; i++)
                if (streq(r->entries[i].fingerprint, fingerprint))
                        return &r->entries[i];
        return NULL;
}

/* Replaces *field with a copy of v when they differ; 1 when changed, 0 when not, -ENOMEM. */
static int update_string(char **field, const char *v) {
        if (!v || streq_ptr(*field, v))
                return 0;
        return free_and_strdup(field, v) < 0 ? -ENOMEM : 1;
}

/* The holder's older certificate that a new one renews: same holder, organisation and kind, an earlier end,
 * not renewed yet. Without a holder's name nothing can be said. */
static CertRegisterEntry *find_renewed(CertRegister *r, const CertRegisterEntry *e) {
        CertRegisterEntry *best = NULL;
        if (isempty(e->holder))
                return NULL;
        for (size_t i = 0; i < r->n; i++) {
                CertRegisterEntry *o = &r->entries[i];
                if (o == e || o->renewed_by || !streq_ptr(o->holder, e->holder) ||
                    !streq_ptr(o->organization, e->organization) || !streq_ptr(o->kind, e->kind) ||
                    o->not_after >= e->not_after)
                        continue;
                if (!best || o->not_after > best->not_after)
                        best = o;
        }
        return best;
}

static int new_entry(const CertSighting *s, int64_t now, CertRegisterEntry *ret) {
        CertRegisterEntry e = {
                .not_before = s->not_before,
                .not_after = s->not_after,
                .first_seen = now,
                .last_seen = now,
        };
        const struct {
                char **field;
                const char *value;
        } copies[] = {
                { &e.fingerprint, s->fingerprint },
                { &e.subject, s->subject },
                { &e.issuer, s->issuer },
                { &e.serial, s->serial },
                { &e.holder, s->holder },
                { &e.organization, s->organization },
                { &e.kind, s->kind },
                { &e.token_label, s->token_label },
                { &e.token_serial, s->token_serial },
        };
        for (size_t i = 0; i < ELEMENTSOF(copies); i++)
                if (update_string(copies[i].field, copies[i].value) < 0) {
                        entry_done(&e);
                        return -ENOMEM;
                }
        if (s->status && !streq(s->status, "unchecked")) {
                if (update_string(&e.status, s->status) < 0) {
                        entry_done(&e);
                        return -ENOMEM;
                }
                e.status_time = now;
        }
        *ret = e;
        return 0;
}

int cert_register_observe(
        CertRegister *r, const CertSighting *s, int64_t now, CertRegisterChange *ret_change) {
        CertRegisterChange change = {};
        CertRegisterEntry *e;
        int k;

        if (!r || !s || !s->fingerprint || strlen(s->fingerprint) != 64)
                return -EINVAL;
        e = cert_register_find(r, s->fingerprint);
        if (!e) {
                CertRegisterEntry ne;
                k = new_entry(s, now, &ne);
                if (k < 0)
                        return k;
                k = append_entry(r, &ne);
                if (k < 0) {
                        entry_done(&ne);
                        return k;
                }
                e = &r->entries[r->n - 1];
                change.flags |= CERT_REGISTER_FIRST_SEEN;
                CertRegisterEntry *old = find_renewed(r, e);
                if (old) {
                        if (update_string(&old->renewed_by, e->fingerprint) < 0 ||
                            (old->status && !(change.renewed_old_status = strdup(old->status))) ||
                            update_string(&old->status, "renewed") < 0) {
                                cert_register_change_done(&change);
                                return -ENOMEM;
                        }
                        old->status_time = now;
                        change.flags |= CERT_REGISTER_RENEWAL;
                        change.renewed = old;
                }
                r->dirty = true;
        } else {
                e->last_seen = now;
                if (update_string(&e->token_label, s->token_label) < 0 ||
                    update_string(&e->token_serial, s->token_serial) < 0 ||
                    update_string(&e->kind, s->kind) < 0)
                        return -ENOMEM;
                if (s->status && !streq(s->status, "unchecked")) {
                        /* A renewed certificate stays "renewed" while it is valid; that it expired or was
                         * revoked since still matters. */
                        bool keep = streq_ptr(e->status, "renewed") &&
                                    (streq(s->status, "valid") || streq(s->status, "expiring"));
                        if (!keep && !streq_ptr(e->status, s->status)) {
                                if (e->status && !(change.old_status = strdup(e->status)))
                                        return -ENOMEM;
                                if (update_string(&e->status, s->status) < 0) {
                                        cert_register_change_done(&change);
                                        return -ENOMEM;
                                }
                                change.flags |= CERT_REGISTER_STATUS_CHANGED;
                        }
                        e->status_time = now;
                }
                r->dirty = true;
        }
        if (ret_change)
                *ret_change = change;
        else
                cert_register_change_done(&change);
        return 0;
}

int cert_register_path_beside(const char *audit_path, char **ret) {
        _cleanup_free_ char *copy = strdup(audit_path);
        char *p;
        if (!copy)
                return -ENOMEM;
        if (asprintf(&p, "%s/%s", dirname(copy), CERT_REGISTER_FILE) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int cert_register_default_path(char **ret) {
        _cleanup_free_ char *audit = NULL;
        int k = audit_log_default_path(&audit);
        if (k < 0)
                return k;
        return cert_register_path_beside(audit, ret);
}

/* "2026-12-06T16:05:14.666Z" or "2027-01-05T16:05:14Z" as unix seconds; 0 when it is not such a time. */
static int64_t parse_utc(const char *s) {
        struct tm tm = {};
        const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
        if (!end)
                return 0;
        return (int64_t) timegm(&tm);
}

static const char *jget(json_object *o, const char *a, const char *b) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, a, &v))
                return NULL;
        if (b && !json_object_object_get_ex(v, b, &v))
                return NULL;
        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The CN of an RFC 2253 name (without escapes: good enough to group a holder's certificates). */
static char *cn_of(const char *dn) {
        for (const char *p = dn; p && *p; p++)
                if ((p == dn || p[-1] == ',') && startswith(p, "CN=")) {
                        const char *e = strchrnul(p + 3, ',');
                        return strndup(p + 3, (size_t) (e - p - 3));
                }
        return NULL;
}

int cert_register_replay(CertRegister *r, const char *line, size_t len) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(cert_register_change_done) CertRegisterChange change = {};
        _cleanup_free_ char *holder = NULL, *org = NULL;
        json_tokener *tok = json_tokener_new();
        int k;

        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, line, (int) len);
        json_tokener_free(tok);
        if (!o || !json_object_is_type(o, json_type_object))
                return 0;
        AuditEventType type = audit_event_type_from_string(jget(o, "event", NULL));
        const char *fp = jget(o, "cert", "fingerprint");
        bool sign = type == AUDIT_EVENT_SIGN_ALLOWED || type == AUDIT_EVENT_SIGN_DONE ||
                    type == AUDIT_EVENT_SIGN_DENIED || type == AUDIT_EVENT_SIGN_FAILED ||
                    type == AUDIT_EVENT_SIGN_CANCELLED;
        if (!fp || strlen(fp) != 64 ||
            !(sign || type == AUDIT_EVENT_CERT_FIRST_SEEN || type == AUDIT_EVENT_CERT_STATUS_CHANGED))
                return 0;
        int64_t t = parse_utc(jget(o, "time", NULL));
        const char *status = jget(o, "cert", "status");
        const char *subject = jget(o, "cert", "subject");

        holder = jget(o, "data", "holder") ? strdup(jget(o, "data", "holder")) : cn_of(subject);
        if (jget(o, "data", "organization"))
                org = strdup(jget(o, "data", "organization"));
        CertSighting s = {
                .fingerprint = fp,
                .subject = subject,
                .issuer = jget(o, "cert", "issuer"),
                .serial = jget(o, "cert", "serial"),
                .holder = holder,
                .organization = org,
                .kind = jget(o, "cert", "kind"),
                .not_after = parse_utc(jget(o, "cert", "not_after")),
                .token_label = jget(o, "token", "label"),
                .token_serial = jget(o, "token", "serial"),
                /* A signing record's status is the one checked for that signature; "renewed" is set below.
                 */
                .status = streq_ptr(status, "renewed") ? NULL : status,
        };
        CertRegisterEntry *e = cert_register_find(r, fp);
        if (e && e->first_seen > t)
                e->first_seen = t; /* logs given out of order */
        k = cert_register_observe(r, &s, t, &change);
        if (k < 0)
                return k;
        e = cert_register_find(r, fp);
        if (e && e->last_seen < t)
                e->last_seen = t;
        if (type == AUDIT_EVENT_CERT_STATUS_CHANGED && streq_ptr(status, "renewed")) {
                if (update_string(&e->status, "renewed") < 0 ||
                    update_string(&e->renewed_by, jget(o, "data", "renewed_by")) < 0)
                        return -ENOMEM;
                e->status_time = t;
        }
        return 1;
}
