/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl trust list|add|remove: the policy's trust store (Quy chế Điều 7.1.d). Changes are the
 * administrator's: root only, written atomically into the policy's folder of roots or intermediates, and
 * recorded in the audit log of the account that runs kysoctl (root's own log, or --audit-log), opened with
 * the same writer kysod uses so the record joins that log's hash chain. kysod needs no restart: it reads the
 * policy again for every signature and every revocation refresh. */
#include <ctype.h>
#include <getopt.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "audit/audit-log.h"
#include "fileio.h"
#include "i18n.h"
#include "json-util.h"
#include "kysoctl.h"
#include "openssl-util.h"
#include "policy/policy.h"
#include "policy/trust-store.h"
#include "utf8.h"

#define TRUST_FILE_MAX (1024 * 1024)

static void help(void) {
        printf(_("Usage: kysoctl trust list [--json]\n"
                 "       kysoctl trust add [--audit-log PATH] FILE\n"
                 "       kysoctl trust remove [--audit-log PATH] FINGERPRINT\n\n"
                 "Lists, adds or removes the root and intermediate certificates the signing policy trusts\n"
                 "(default policy: $KYSO_POLICY or %s). add and remove are for root only; they write\n"
                 "into the policy's folder of roots or intermediates and record the change in the audit log.\n"),
               POLICY_SYSTEM_PATH);
}

static char *name_of(X509_NAME *n) {
        _cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
        char *data;
        if (!b || X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return NULL;
        long len = BIO_get_mem_data(b, &data);
        return len >= 0 ? strndup(data, (size_t) len) : NULL;
}

static int load_policy(Policy **ret) {
        _cleanup_strv_free_ char **errors = NULL;
        int r = policy_load(policy_tools_path(), policy_tools_flags(), ret, &errors);
        if (r == -EINVAL) {
                STRV_FOREACH (e, errors)
                        kysoctl_error("trust", "%s\n", *e);
                kysoctl_error(
                        "trust", _("the policy %s is invalid: fix it first (kysoctl policy check).\n"),
                        policy_tools_path());
                return KYSOCTL_EXIT_REFUSED;
        }
        if (r < 0) {
                kysoctl_error(
                        "trust", _("cannot read the policy %s: %s\n"), policy_tools_path(), strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        return KYSOCTL_EXIT_OK;
}

static int trust_list(bool json) {
        _cleanup_(policy_freep) Policy *p = NULL;
        TrustEntry *e = NULL;
        size_t n = 0;
        time_t now = time(NULL);
        int r = load_policy(&p);

        if (r != KYSOCTL_EXIT_OK)
                return r;
        r = trust_store_list(p, policy_tools_flags(), &e, &n);
        if (r < 0) {
                kysoctl_error("trust", "%s\n", strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        _cleanup_(json_object_putp) json_object *arr = json ? json_object_new_array() : NULL;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *subject = name_of(X509_get_subject_name(e[i].cert));
                char nb[21] = "?", na[21] = "?";
                long days = 0;
                (void) cert_time_iso(X509_get0_notBefore(e[i].cert), nb);
                (void) cert_time_iso(X509_get0_notAfter(e[i].cert), na);
                (void) cert_days_left(e[i].cert, now, &days);
                if (json) {
                        json_object *o = json_object_new_object();
                        if (!o || json_object_array_add(arr, o) < 0) {
                                json_object_put(o);
                                r = -ENOMEM;
                                break;
                        }
                        json_object_object_add(
                                o, "kind", json_object_new_string(e[i].root ? "root" : "intermediate"));
                        json_object_object_add(o, "subject", json_object_new_string(strempty(subject)));
                        json_object_object_add(o, "sha256", json_object_new_string(e[i].fingerprint));
                        json_object_object_add(o, "not-before", json_object_new_string(nb));
                        json_object_object_add(o, "not-after", json_object_new_string(na));
                        json_object_object_add(o, "days-left", json_object_new_int64(days));
                        /* UTF-8 whatever the name, as verify --json writes file names. */
                        _cleanup_free_ char *file = utf8_escape(e[i].file);
                        json_object_object_add(o, "file", file ? json_object_new_string(file) : NULL);
                        continue;
                }
                printf("%s %s\n", e[i].root ? _("root") : _("intermediate"), strna(subject));
                printf(_("  SHA-256:  %s\n"), e[i].fingerprint);
                printf(_("  Valid:    %s to %s (%ld days left)\n"), nb, na, days);
                printf(_("  File:     %s\n"), e[i].file);
        }
        trust_entries_free(e, n);
        if (r < 0) {
                kysoctl_error("trust", "%s\n", strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        if (json)
                printf("%s\n", json_object_to_json_string_ext(
                                       arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else if (n == 0)
                printf(_("The policy trusts no certificate.\n"));
        return KYSOCTL_EXIT_OK;
}

/* One certificate, PEM or DER. */
static int read_certificate(const char *path, X509 **ret) {
        _cleanup_free_ char *data = NULL;
        _cleanup_(BIO_free_allp) BIO *b = NULL;
        size_t size;
        int r = read_full_file(path, TRUST_FILE_MAX, &data, &size);
        if (r < 0)
                return r;
        b = BIO_new_mem_buf(data, (int) size);
        if (!b)
                return -ENOMEM;
        _cleanup_(X509_freep) X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (x) {
                X509 *second = PEM_read_bio_X509(b, NULL, NULL, NULL);
                ERR_clear_error();
                if (second) {
                        X509_free(second);
                        return -E2BIG;
                }
        } else {
                const unsigned char *q = (const unsigned char *) data;
                ERR_clear_error();
                x = d2i_X509(NULL, &q, (long) size);
                ERR_clear_error();
                if (!x)
                        return -EBADMSG;
        }
        *ret = TAKE_PTR(x);
        return 0;
}

/* The name recorded for the change: the account, and who ran sudo when that is how root was reached. */
static char *administrator_name(void) {
        struct passwd *pw = getpwuid(getuid());
        const char *sudo = getenv("SUDO_USER");
        char *s;
        if (getuid() == 0 && !isempty(sudo)) {
                if (asprintf(&s, "%s (sudo, %s)", sudo, pw ? pw->pw_name : "root") < 0)
                        return NULL;
                return s;
        }
        if (pw)
                return strdup(pw->pw_name);
        return asprintf(&s, "uid %u", (unsigned) getuid()) < 0 ? NULL : s;
}

static int open_audit(const char *arg, AuditLog **ret) {
        _cleanup_free_ char *path = NULL, *msg = NULL;
        AuditLogOptions o = {};
        int r = 0;
        struct passwd *pw;

        if (arg)
                r = (path = strdup(arg)) ? 0 : -ENOMEM;
        else if (geteuid() == 0 && isempty(getenv("KYSO_AUDIT_LOG")) && (pw = getpwuid(0)) && pw->pw_dir) {
                /* Under sudo, $HOME and $XDG_STATE_HOME may still be the user's: root's records must not go
                 * into the user's log, whose lock file root would then own. */
                if (asprintf(&path, "%s/.local/state/kyso/audit.jsonl", pw->pw_dir) < 0)
                        r = -ENOMEM;
        } else
                r = audit_log_default_path(&path);
        if (r < 0) {
                kysoctl_error("trust", _("cannot find the audit log: %s\n"), strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        r = audit_log_open(path, &o, ret, &msg);
        if (r < 0) {
                kysoctl_error(
                        "trust", _("cannot open the audit log %s, so nothing was changed: %s\n"), path,
                        msg ?: strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        return KYSOCTL_EXIT_OK;
}

static int record_change(AuditLog *log, bool added, X509 *x, const char *fp, const char *file) {
        _cleanup_free_ char *admin = administrator_name(), *subject = name_of(X509_get_subject_name(x));
        _cleanup_free_ char *issuer = name_of(X509_get_issuer_name(x));
        char na[21] = "";
        (void) cert_time_iso(X509_get0_notAfter(x), na);
        if (!admin || !subject || !issuer)
                return -ENOMEM;
        const char *extra[] = { "administrator", admin, "file", file, "policy", policy_tools_path(), NULL };
        AuditEvent ev = {
                .type = added ? AUDIT_EVENT_TRUST_ADDED : AUDIT_EVENT_TRUST_REMOVED,
                .message = added ? "Trusted certificate authority added"
                                 : "Trusted certificate authority removed",
                .cert_subject = subject,
                .cert_issuer = issuer,
                .cert_fingerprint = fp,
                .cert_not_after = na,
                .article = "Quy chế Điều 7.1.d",
                .extra = extra,
        };
        return audit_log_append(log, &ev, NULL);
}

/* The change must leave a policy kysod accepts (removing the last root would stop all signing). */
static bool policy_still_loads(void) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r = policy_load(policy_tools_path(), policy_tools_flags(), &p, &errors);
        STRV_FOREACH (e, errors)
                kysoctl_error("trust", "%s\n", *e);
        return r >= 0;
}

static int need_root(void) {
        /* Tests run the change on a draft policy with the owner check skipped; the owner check is what makes
         * the store the administrator's, so a real store is changed by root only. */
        if (geteuid() == 0 || (policy_tools_flags() & POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK))
                return KYSOCTL_EXIT_OK;
        kysoctl_error("trust", _("only root may change the trust store (run it with sudo).\n"));
        return KYSOCTL_EXIT_REFUSED;
}

static int trust_add(const char *file, const char *audit_arg) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_(audit_log_freep) AuditLog *log = NULL;
        _cleanup_free_ char *problem = NULL, *written = NULL;
        const char *folder;
        char fp[65];
        int r;

        if ((r = need_root()) != KYSOCTL_EXIT_OK || (r = load_policy(&p)) != KYSOCTL_EXIT_OK)
                return r;
        r = read_certificate(file, &x);
        if (r < 0) {
                kysoctl_error(
                        "trust",
                        r == -E2BIG     ? _("%s holds more than one certificate: add them one at a time.\n")
                        : r == -EBADMSG ? _("%s holds no certificate (PEM or DER expected).\n")
                                        : _("cannot read %s: %s\n"),
                        file, strerror(-r));
                return r == -E2BIG || r == -EBADMSG ? KYSOCTL_EXIT_REFUSED : KYSOCTL_EXIT_USAGE;
        }
        r = trust_store_check_new(p, x, time(NULL), &problem);
        if (r < 0)
                return KYSOCTL_EXIT_INTERNAL;
        if (r > 0) {
                kysoctl_error("trust", _("%s is not added: %s.\n"), file, problem);
                return KYSOCTL_EXIT_REFUSED;
        }
        /* Self-signed: a root; else an intermediate that needs a root above it. */
        bool root = X509_check_issued(x, x) == X509_V_OK;
        if (trust_store_folder(p, root, &folder) < 0) {
                kysoctl_error(
                        "trust",
                        root ? _("the policy names no folder of roots: add a line such as 'root = /etc/kyso/roots' "
                                 "under [trust] and create that folder (root-owned, mode 0755).\n")
                             : _("the policy names no folder of intermediates: add a line such as 'intermediate = "
                                 "/etc/kyso/intermediates' under [trust] and create that folder.\n"));
                return KYSOCTL_EXIT_REFUSED;
        }
        if ((r = open_audit(audit_arg, &log)) != KYSOCTL_EXIT_OK)
                return r;
        (void) cert_fingerprint_sha256(x, fp);
        r = trust_store_write(folder, x, &written);
        if (r < 0) {
                kysoctl_error("trust", _("cannot write into %s: %s\n"), folder, strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        if (!policy_still_loads()) {
                (void) unlink(written);
                (void) fsync_directory_of(written);
                kysoctl_error("trust", _("with %s the policy would not load: nothing was changed.\n"), file);
                return KYSOCTL_EXIT_REFUSED;
        }
        r = record_change(log, true, x, fp, written);
        if (r < 0) {
                (void) unlink(written);
                (void) fsync_directory_of(written);
                kysoctl_error(
                        "trust",
                        _("cannot write the audit record, so the certificate was taken out again: %s\n"),
                        strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        printf(_("Added %s %s as %s.\n"), root ? _("root") : _("intermediate"), fp, written);
        return KYSOCTL_EXIT_OK;
}

/* Lowercase hex without colons; a unique prefix of at least 8 digits is enough. */
static int normalize_fingerprint(const char *in, char out[static 65]) {
        size_t n = 0;
        for (const char *c = in; *c; c++) {
                if (*c == ':')
                        continue;
                if (!isxdigit((unsigned char) *c) || n >= 64)
                        return -EINVAL;
                out[n++] = (char) tolower((unsigned char) *c);
        }
        out[n] = '\0';
        return n >= 8 ? 0 : -EINVAL;
}

static int trust_remove(const char *arg, const char *audit_arg) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(audit_log_freep) AuditLog *log = NULL;
        _cleanup_free_ char *old = NULL;
        TrustEntry *e = NULL, *hit = NULL;
        size_t n = 0, old_size = 0, matches = 0;
        char want[65];
        int r, ret = KYSOCTL_EXIT_OK;

        if (normalize_fingerprint(arg, want) < 0) {
                kysoctl_error(
                        "trust", _("'%s' is not a SHA-256 fingerprint (at least 8 hex digits).\n"), arg);
                return KYSOCTL_EXIT_USAGE;
        }
        if ((r = need_root()) != KYSOCTL_EXIT_OK || (r = load_policy(&p)) != KYSOCTL_EXIT_OK)
                return r;
        r = trust_store_list(p, policy_tools_flags(), &e, &n);
        if (r < 0)
                return KYSOCTL_EXIT_INTERNAL;
        for (size_t i = 0; i < n; i++)
                if (startswith(e[i].fingerprint, want)) {
                        hit = &e[i];
                        matches++;
                }
        if (matches != 1) {
                kysoctl_error(
                        "trust",
                        matches == 0 ? _("the policy trusts no certificate %s (see kysoctl trust list).\n")
                                     : _("%s names more than one certificate: give more digits.\n"),
                        arg);
                ret = KYSOCTL_EXIT_REFUSED;
                goto finish;
        }
        if ((ret = open_audit(audit_arg, &log)) != KYSOCTL_EXIT_OK)
                goto finish;
        r = trust_store_remove_from(hit->file, hit->fingerprint, &old, &old_size);
        if (r < 0) {
                kysoctl_error("trust", _("cannot change %s: %s\n"), hit->file, strerror(-r));
                ret = KYSOCTL_EXIT_INTERNAL;
                goto finish;
        }
        if (!policy_still_loads()) {
                (void) trust_store_restore(hit->file, old, old_size);
                kysoctl_error(
                        "trust",
                        _("without %s the policy would not load (a file it names, or its last root): nothing "
                          "was changed.\n"),
                        hit->fingerprint);
                ret = KYSOCTL_EXIT_REFUSED;
                goto finish;
        }
        r = record_change(log, false, hit->cert, hit->fingerprint, hit->file);
        if (r < 0) {
                (void) trust_store_restore(hit->file, old, old_size);
                kysoctl_error(
                        "trust", _("cannot write the audit record, so the certificate was put back: %s\n"),
                        strerror(-r));
                ret = KYSOCTL_EXIT_INTERNAL;
                goto finish;
        }
        printf(_("Removed %s from %s.\n"), hit->fingerprint, hit->file);
finish:
        trust_entries_free(e, n);
        return ret;
}

int trust_print_expiring(const Policy *p, time_t now) {
        int n = 0;
        for (int i = 0; i < sk_X509_num(p->trusted_roots); i++) {
                X509 *x = sk_X509_value(p->trusted_roots, i);
                long days;
                if (cert_days_left(x, now, &days) < 0 || days > (long) p->expiry_warning_days)
                        continue;
                _cleanup_free_ char *subject = name_of(X509_get_subject_name(x));
                char fp[65] = "";
                (void) cert_fingerprint_sha256(x, fp);
                if (days < 0)
                        printf(_("WARNING: trusted root %s (%s) has expired: remove it (kysoctl trust remove) and "
                                 "add its successor.\n"),
                               strna(subject), fp);
                else
                        printf(_("WARNING: trusted root %s (%s) expires in %ld days: add its successor (kysoctl "
                                 "trust add) before then.\n"),
                               strna(subject), fp, days);
                n++;
        }
        return n;
}

int verb_trust(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, 'j' },
                { "audit-log", required_argument, NULL, 'a' },
                {},
        };
        const char *audit_arg = NULL;
        bool json = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'a':
                        audit_arg = optarg;
                        break;
                default:
                        r = kysoctl_shared_option(c, help);
                        if (r >= 0)
                                return r;
                }
        if (optind >= argc) {
                kysoctl_error("trust", _("give a command: list, add FILE or remove FINGERPRINT.\n"));
                help();
                return KYSOCTL_EXIT_USAGE;
        }
        const char *sub = argv[optind];
        int rest = argc - optind - 1;
        if (streq(sub, "list") && rest == 0)
                return trust_list(json);
        if (streq(sub, "add") && rest == 1)
                return trust_add(argv[optind + 1], audit_arg);
        if (streq(sub, "remove") && rest == 1)
                return trust_remove(argv[optind + 1], audit_arg);
        if (streq(sub, "list") || streq(sub, "add") || streq(sub, "remove"))
                kysoctl_error(
                        "trust",
                        _("wrong arguments for '%s': list takes none, add one FILE, remove one FINGERPRINT.\n"),
                        sub);
        else
                kysoctl_error(
                        "trust",
                        _("unknown command '%s': the commands are list, add FILE and remove FINGERPRINT.\n"),
                        sub);
        help();
        return KYSOCTL_EXIT_USAGE;
}
