/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl tokens / kysoctl certs: the agent's token and certificate inventory, as aligned tables for people
 * or as stable JSON (--json, fields documented in kysoctl(1)). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <wchar.h>

#include "alloc-util.h"
#include "dbus/dbus-client.h"
#include "dbus/dbus-dict.h"
#include "dbus/dbus-error-names.h"
#include "i18n.h"
#include "json-util.h"
#include "kysoctl.h"
#include "log.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(DBusMessage *, dbus_message_unref);

/* One JSON field: its name in --json output, the D-Bus dictionary key, and its type. */
typedef struct Field {
        const char *json;
        const char *key;
        json_type type;
} Field;

static const Field token_fields[] = {
        { "uri", "uri", json_type_string },
        { "label", "label", json_type_string },
        { "manufacturer", "manufacturer", json_type_string },
        { "model", "model", json_type_string },
        { "serial", "serial", json_type_string },
        { "module", "module", json_type_string },
        { "pin_state", "pin-state", json_type_string },
        { "pin_to_be_changed", "pin-to-be-changed", json_type_boolean },
        { "protected_auth_path", "protected-auth-path", json_type_boolean },
        { "login_required", "login-required", json_type_boolean },
};

static const Field cert_fields[] = {
        { "uri", "uri", json_type_string },
        { "token_uri", "token-uri", json_type_string },
        { "token_label", "token-label", json_type_string },
        { "label", "label", json_type_string },
        { "subject", "subject", json_type_string },
        { "issuer", "issuer", json_type_string },
        { "serial", "serial", json_type_string },
        { "not_before", "not-before", json_type_int },
        { "not_after", "not-after", json_type_int },
        { "days_left", "days-left", json_type_int },
        { "key_type", "key-type", json_type_string },
        { "key_bits", "key-bits", json_type_int },
        { "sha256", "sha256", json_type_string },
        { "has_private_key", "has-private-key", json_type_boolean },
        { "kind", "kind", json_type_string },
        { "status", "status", json_type_string },
        { "key_after_login", "key-after-login", json_type_boolean }, /* added later: at the end */
        { "usable_for_signing", "usable-for-signing", json_type_boolean },
        { "reason", "reason", json_type_string }, /* why not usable; "" when it is */
};

static const char *dict_string(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return "";
        return json_object_get_string(v);
}

static int64_t dict_int(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return 0;
        return json_object_get_int64(v);
}

/* Re-keys one agent dictionary into the documented JSON object: fixed field order, fixed types, missing
 * fields get a neutral value, unknown fields are dropped (the JSON is a contract of its own). */
static json_object *stable_object(json_object *dict, const Field *fields, size_t n) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                json_object *v = NULL, *src;
                bool have = json_object_object_get_ex(dict, fields[i].key, &src) &&
                            json_object_is_type(src, fields[i].type);
                switch (fields[i].type) {
                case json_type_string:
                        v = json_object_new_string(have ? json_object_get_string(src) : "");
                        break;
                case json_type_int:
                        v = json_object_new_int64(have ? json_object_get_int64(src) : 0);
                        break;
                case json_type_boolean:
                        v = json_object_new_boolean(have ? json_object_get_boolean(src) : false);
                        break;
                default:
                        break;
                }
                if (!v || json_object_object_add(o, fields[i].json, v) < 0) {
                        json_object_put(v);
                        json_object_put(o);
                        return NULL;
                }
        }
        return o;
}

static int compare_tokens(const void *a, const void *b) {
        json_object *x = *(json_object *const *) a, *y = *(json_object *const *) b;
        int c = strcmp(dict_string(x, "label"), dict_string(y, "label"));
        return c ?: strcmp(dict_string(x, "uri"), dict_string(y, "uri"));
}

static int compare_certs(const void *a, const void *b) {
        json_object *x = *(json_object *const *) a, *y = *(json_object *const *) b;
        int c = strcmp(dict_string(x, "token-label"), dict_string(y, "token-label"));
        if (c == 0)
                c = strcmp(dict_string(x, "label"), dict_string(y, "label"));
        return c ?: strcmp(dict_string(x, "uri"), dict_string(y, "uri"));
}

/* Calls the agent and returns the aa{sv} reply as a sorted JSON array of dictionaries. */
static int
fetch(const char *verb, const char *method, int (*compare)(const void *, const void *), json_object **ret) {
        _cleanup_(dbus_message_unrefp) DBusMessage *reply = NULL;
        _cleanup_(kyso_call_error_done) KysoCallError error = {};
        _cleanup_(json_object_putp) json_object *list = NULL;
        DBusMessageIter it;
        int r;

        /* GetCertificates' reasons in the reader's language; GetTokens takes no options. */
        r = streq(method, "GetCertificates") ? kyso_agent_call_localized(method, &reply, &error)
                                             : kyso_agent_call(method, &reply, &error);
        switch (r) {
        case 0:
                break;
        case -ENOTCONN:
        case -ESRCH:
        case -ETIMEDOUT:
                return kysoctl_agent_unreachable(verb, r, error.message);
        case -EREMOTEIO:
                fprintf(stderr, "kysoctl %s: %s\n", verb, strna(error.message));
                return kyso_bus_error_from_name(error.name) == KYSO_BUS_ERROR_POLICY_DENIED
                               ? KYSOCTL_EXIT_REFUSED
                               : KYSOCTL_EXIT_INTERNAL;
        default:
                fprintf(stderr, _("kysoctl %s: cannot call the kyso agent: %s\n"), verb, strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }

        if (!streq(dbus_message_get_signature(reply), "aa{sv}")) {
                fprintf(stderr,
                        _("kysoctl %s: the agent sent an unexpected reply (signature '%s'). Are kysoctl and kysod the same version?\n"),
                        verb, dbus_message_get_signature(reply));
                return KYSOCTL_EXIT_INTERNAL;
        }
        dbus_message_iter_init(reply, &it);
        r = dbus_iter_to_json(&it, &list);
        if (r < 0 || !json_object_is_type(list, json_type_array)) {
                fprintf(stderr, _("kysoctl %s: cannot read the agent's reply.\n"), verb);
                return KYSOCTL_EXIT_INTERNAL;
        }
        json_object_array_sort(list, compare);
        *ret = TAKE_PTR(list);
        return KYSOCTL_EXIT_OK;
}

static int print_json(json_object *list, const Field *fields, size_t n_fields) {
        _cleanup_(json_object_putp) json_object *out = json_object_new_array();

        if (!out)
                return log_oom(), KYSOCTL_EXIT_INTERNAL;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *o = stable_object(json_object_array_get_idx(list, i), fields, n_fields);
                if (!o || json_object_array_add(out, o) < 0) {
                        json_object_put(o);
                        return log_oom(), KYSOCTL_EXIT_INTERNAL;
                }
        }
        puts(json_object_to_json_string_ext(
                out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        return KYSOCTL_EXIT_OK;
}

/* Terminal columns of a UTF-8 string (Vietnamese letters are one column each). */
static size_t display_width(const char *s) {
        size_t n = mbstowcs(NULL, s, 0);
        if (n == (size_t) -1)
                return strlen(s);
        wchar_t *w = calloc(n + 1, sizeof(wchar_t));
        if (!w)
                return strlen(s);
        mbstowcs(w, s, n + 1);
        int cols = wcswidth(w, n);
        free(w);
        return cols < 0 ? strlen(s) : (size_t) cols;
}

#define MAX_COLUMNS 8

typedef struct Table {
        size_t n_columns;
        char **cells; /* row-major, first row the headers */
        size_t n_cells;
} Table;

static void table_done(Table *t) {
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
}

static int table_add(Table *t, const char *s) {
        /* The copy first: a cell is counted only with its text, which table_print() measures. */
        _cleanup_free_ char *copy = strdup(strempty(s));
        char **c;

        if (!copy)
                return -ENOMEM;
        c = ARRAY_APPEND(t->cells, t->n_cells);
        if (!c)
                return -ENOMEM;
        *c = TAKE_PTR(copy);
        return 0;
}

static void table_print(const Table *t) {
        size_t widths[MAX_COLUMNS] = {};

        for (size_t i = 0; i < t->n_cells; i++)
                widths[i % t->n_columns] = MAX(widths[i % t->n_columns], display_width(t->cells[i]));
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                fputs(t->cells[i], stdout);
                if (col + 1 == t->n_columns)
                        putchar('\n');
                else
                        for (size_t p = display_width(t->cells[i]); p < widths[col] + 2; p++)
                                putchar(' ');
        }
}

/* A value the agent sends (a PIN's state, a certificate's status or kind) and what the person at the desk
 * reads for it. */
typedef struct ValueText {
        const char *value;
        const char *text;
} ValueText;

static const ValueText pin_state_texts[] = {
        { "ok", N_("ok") },
        { "count-low", N_("few tries left") },
        { "final-try", N_("last try") },
        { "locked", N_("locked") },
};

static const ValueText cert_status_texts[] = {
        { "valid", N_("valid") },     { "expiring", N_("expiring") },
        { "expired", N_("expired") }, { "not-yet-valid", N_("not yet valid") },
        { "revoked", N_("revoked") }, { "untrusted", N_("untrusted") },
        { "unknown", N_("unknown") }, { "unchecked", N_("not checked yet") },
        { "renewed", N_("renewed") },
};

static const ValueText cert_kind_texts[] = {
        { "personal", N_("personal") },
        { "organization", N_("organization") },
        { "device", N_("device") },
        { "unknown", N_("unknown") },
};

/* The text of s in table, translated; s itself for a value this kysoctl does not know (a newer agent's). */
static const char *value_text(const ValueText *table, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (streq(table[i].value, s))
                        return _(table[i].text);
        return s;
}

static const char *pin_state_text(const char *s) {
        return value_text(pin_state_texts, ELEMENTSOF(pin_state_texts), s);
}

const char *cert_status_text(const char *s) {
        return value_text(cert_status_texts, ELEMENTSOF(cert_status_texts), s);
}

const char *cert_kind_text(const char *s) {
        return value_text(cert_kind_texts, ELEMENTSOF(cert_kind_texts), s);
}

/* The CN of an RFC 2253 name, for the table (the full subject is in --json). */
static char *common_name(const char *dn) {
        const char *p = dn;
        while (p && *p) {
                if (startswith(p, "CN=")) {
                        const char *s = p + 3, *e = s;
                        while (*e && !(*e == ',' && e[-1] != '\\'))
                                e++;
                        return strndup(s, (size_t) (e - s));
                }
                p = strchr(p, ',');
                if (p)
                        p++;
        }
        return strdup(dn);
}

static int parse_options(int argc, char **argv, const char *verb, bool *json) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf(_("Usage: kysoctl %s [--json]\n\n%s\n\n  --json   stable JSON output (fields in kysoctl(1))\n"),
                               verb,
                               streq(verb, "tokens")
                                       ? _("Lists the eTokens the kyso agent sees.")
                                       : _("Lists the certificates on the eTokens the kyso agent sees. With --all, every\n"
                                           "certificate it has ever seen (the register); --export csv|json|html writes\n"
                                           "the register for the ward's report (with --organization, --register, --log:\n"
                                           "see 'kysoctl certs --all --help')."));
                        return 0;
                case 'j':
                        *json = true;
                        break;
                default:
                        kysoctl_error(verb, _("Run 'kysoctl %s --help' for the options.\n"), verb);
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, _("kysoctl %s: unexpected argument '%s'. Run 'kysoctl %s --help'.\n"), verb,
                        argv[optind], verb);
                return -EINVAL;
        }
        return 1;
}

static int token_row(Table *t, json_object *o) {
        json_object *v;
        bool pad = json_object_object_get_ex(o, "protected-auth-path", &v) && json_object_get_boolean(v);

        if (table_add(t, dict_string(o, "label")) < 0 || table_add(t, dict_string(o, "manufacturer")) < 0 ||
            table_add(t, dict_string(o, "model")) < 0 || table_add(t, dict_string(o, "serial")) < 0 ||
            table_add(t, pin_state_text(dict_string(o, "pin-state"))) < 0 ||
            table_add(t, pad ? _("yes") : _("no")) < 0)
                return -ENOMEM;
        return 0;
}

static int cert_row(Table *t, json_object *o) {
        _cleanup_free_ char *cn = common_name(dict_string(o, "subject"));
        char date[32] = "", days[32];
        time_t na = (time_t) dict_int(o, "not-after");
        struct tm tm;

        if (localtime_r(&na, &tm))
                strftime(date, sizeof date, "%Y-%m-%d", &tm);
        snprintf(days, sizeof days, "%" PRId64, dict_int(o, "days-left"));
        if (!cn || table_add(t, dict_string(o, "token-label")) < 0 ||
            table_add(t, dict_string(o, "label")) < 0 ||
            table_add(t, cert_kind_text(dict_string(o, "kind"))) < 0 ||
            table_add(t, cert_status_text(dict_string(o, "status"))) < 0 || table_add(t, date) < 0 ||
            table_add(t, days) < 0 || table_add(t, cn) < 0)
                return -ENOMEM;
        return 0;
}

/* Under the table of certificates: why one cannot sign (an untrusted chain, a missing key usage bit), then
 * which expire soon. */
static void cert_notes(json_object *list) {
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *o = json_object_array_get_idx(list, i);
                if (!isempty(dict_string(o, "reason")))
                        printf(_("%s: cannot sign: %s\n"), dict_string(o, "label"),
                               dict_string(o, "reason"));
        }
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *o = json_object_array_get_idx(list, i);
                if (streq(dict_string(o, "status"), "expiring"))
                        printf(_("%s: expires in %" PRId64
                                 " days: renew it now (Article 11: renewal is possible "
                                 "while 60 days remain).\n"),
                               dict_string(o, "label"), dict_int(o, "days-left"));
        }
}

/* What kysoctl tokens and kysoctl certs differ in; the rest of the two listings is list_run(). */
typedef struct Listing {
        const char *verb;
        const char *method; /* of the agent, replying aa{sv} */
        int (*compare)(const void *, const void *);
        const Field *fields; /* of --json */
        size_t n_fields;
        const char *const *headers; /* of the table, untranslated */
        size_t n_columns;
        const char *empty; /* said for an empty list, untranslated */
        int (*add_row)(Table *t, json_object *o);
        void (*notes)(json_object *list); /* optional, printed under the table */
} Listing;

static const char *const token_headers[] = {
        N_("LABEL"), N_("MANUFACTURER"), N_("MODEL"), N_("SERIAL"), N_("PIN"), N_("PIN PAD"),
};

static const Listing token_listing = {
        .verb = "tokens",
        .method = "GetTokens",
        .compare = compare_tokens,
        .fields = token_fields,
        .n_fields = ELEMENTSOF(token_fields),
        .headers = token_headers,
        .n_columns = ELEMENTSOF(token_headers),
        .empty = N_(
                "No eToken found. Plug in your eToken; if it is plugged in, check that its PKCS#11 module is registered with p11-kit or listed in kysod.conf.\n"),
        .add_row = token_row,
};

static const char *const cert_headers[] = {
        N_("TOKEN"), N_("LABEL"), N_("KIND"), N_("STATUS"), N_("EXPIRES"), N_("DAYS LEFT"), N_("SUBJECT"),
};

static const Listing cert_listing = {
        .verb = "certs",
        .method = "GetCertificates",
        .compare = compare_certs,
        .fields = cert_fields,
        .n_fields = ELEMENTSOF(cert_fields),
        .headers = cert_headers,
        .n_columns = ELEMENTSOF(cert_headers),
        .empty = N_(
                "No certificate found on the eTokens present. Run 'kysoctl tokens' to see which eTokens the agent sees.\n"),
        .add_row = cert_row,
        .notes = cert_notes,
};

/* The options, the agent's list, then --json or the table. */
static int list_run(int argc, char **argv, const Listing *l) {
        _cleanup_(json_object_putp) json_object *list = NULL;
        _cleanup_(table_done) Table t = { .n_columns = l->n_columns };
        bool json = false;
        int r;

        r = parse_options(argc, argv, l->verb, &json);
        if (r <= 0)
                return r < 0 ? KYSOCTL_EXIT_USAGE : KYSOCTL_EXIT_OK;
        r = fetch(l->verb, l->method, l->compare, &list);
        if (r != KYSOCTL_EXIT_OK)
                return r;
        if (json)
                return print_json(list, l->fields, l->n_fields);

        if (json_object_array_length(list) == 0) {
                fputs(_(l->empty), stdout);
                return KYSOCTL_EXIT_OK;
        }
        for (size_t i = 0; i < l->n_columns; i++)
                if (table_add(&t, _(l->headers[i])) < 0)
                        return log_oom(), KYSOCTL_EXIT_INTERNAL;
        for (size_t i = 0; i < json_object_array_length(list); i++)
                if (l->add_row(&t, json_object_array_get_idx(list, i)) < 0)
                        return log_oom(), KYSOCTL_EXIT_INTERNAL;
        table_print(&t);
        if (l->notes)
                l->notes(list);
        return KYSOCTL_EXIT_OK;
}

int verb_tokens(int argc, char **argv) {
        return list_run(argc, argv, &token_listing);
}

int verb_certs(int argc, char **argv) {
        if (certs_register_wanted(argc, argv))
                return verb_certs_register(argc, argv);
        return list_run(argc, argv, &cert_listing);
}
