/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl policy check [FILE]: parses the policy (and its drop-ins) the way the agent does and prints either
 * a summary or every problem with file and line. */
#include <getopt.h>
#include <stdio.h>

#include "i18n.h"
#include "kysoctl.h"
#include "policy/cert-validate.h"
#include "policy/policy.h"

static void print_names(const char *prefix, const char *key, const NameMatch *n, size_t count) {
        for (size_t i = 0; i < count; i++)
                printf("      %s%s %s=%s\n", prefix, key, OBJ_nid2sn(n[i].nid), n[i].glob);
}

static void print_match(const char *prefix, const CertMatch *m) {
        print_names(prefix, "issuer", m->issuer, m->n_issuer);
        print_names(prefix, "subject", m->subject, m->n_subject);
        print_names(prefix, "not-issuer", m->not_issuer, m->n_not_issuer);
        print_names(prefix, "not-subject", m->not_subject, m->n_not_subject);
        STRV_FOREACH (o, m->organizations)
                printf("      %sorganization %s\n", prefix, *o);
        STRV_FOREACH (o, m->policy_oids)
                printf("      %spolicy-oid %s\n", prefix, *o);
        STRV_FOREACH (o, m->ekus)
                printf("      %seku %s\n", prefix, *o);
        STRV_FOREACH (o, m->fingerprints)
                printf("      %sfingerprint %s\n", prefix, *o);
}

static void print_summary(const Policy *p) {
        printf(_("Policy OK.\n"));
        printf(_("  Files:\n"));
        STRV_FOREACH (f, p->files)
                printf("    %s\n", *f);
        printf(_("  Trusted roots: %d\n"), sk_X509_num(p->trusted_roots));
        for (int i = 0; i < sk_X509_num(p->trusted_roots); i++) {
                /* The name as other messages give it, in UTF-8 (X509_NAME_oneline() escapes every
                 * Vietnamese letter). */
                _cleanup_free_ char *s = cert_display_name(sk_X509_value(p->trusted_roots, i));
                printf("    %s\n", strna(s));
        }
        printf(_("  Intermediate certificates: %d\n"), sk_X509_num(p->intermediates));
        printf(_("  Revocation: %s (OCSP nonce %s, OCSP timeout %us, CRL timeout %us)\n"),
               revocation_mode_to_string(p->revocation_mode),
               p->ocsp_require_nonce ? _("required") : _("not required"), p->ocsp_timeout_sec,
               p->crl_timeout_sec);
        for (size_t i = 0; i < p->n_rewrites; i++)
                printf(_("    rewrite %s -> %s\n"), p->rewrites[i].from, p->rewrites[i].to);
        if (p->proxy)
                printf(_("    proxy %s\n"), p->proxy);
        printf(_("  Keys: RSA >= %u bits (%s padding), curves"), p->min_rsa_bits,
               rsa_padding_to_string(p->rsa_padding));
        STRV_FOREACH (c, p->ec_curves)
                printf(" %s", *c);
        printf(_("; hashes"));
        STRV_FOREACH (h, p->hashes)
                printf(" %s", *h);
        printf("\n");
        printf(_("  Expiry warning: %u days before\n"), p->expiry_warning_days);
        printf(_("  Time-stamp server: %s\n"), p->tsa_url ?: _("(none)"));
        printf(_("  Refused classifications:"));
        STRV_FOREACH (w, p->classification_words)
                printf(" \"%s\"", *w);
        printf("\n");
        printf(_("  Certificate kind rules: %zu\n"), p->n_kind_rules);
        for (size_t i = 0; i < p->n_kind_rules; i++) {
                printf("    [kind %s] -> %s\n", p->kind_rules[i].name,
                       cert_kind_to_string(p->kind_rules[i].kind));
                print_match("", &p->kind_rules[i].match);
        }
        printf(_("  Seal rules (competent persons): %zu\n"), p->n_seal_rules);
        for (size_t i = 0; i < p->n_seal_rules; i++) {
                printf("    [seal %s]\n", p->seal_rules[i].name);
                print_match("seal-", &p->seal_rules[i].seal);
                print_match("leader-", &p->seal_rules[i].leader);
        }
        (void) trust_print_expiring(p, time(NULL));
        if (p->revocation_mode == REVOCATION_OFF)
                printf(_("WARNING: revocation checks are off; this policy is for tests only.\n"));
}

static void help(void) {
        printf(_("Usage: kysoctl policy check [--insecure-skip-owner-check] [FILE]\n\n"
                 "Checks the policy file (default: $KYSO_POLICY or %s) and the *.conf drop-ins in the\n"
                 "policy.d folder beside it. Prints a summary, or every problem with file and line.\n"),
               POLICY_SYSTEM_PATH);
        kysoctl_verbose_help();
}

/* Reads the options from optind on, up to the first other argument; -1 to go on, else the exit code. */
static int parse_options(int argc, char **argv, PolicyLoadFlags *flags) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "insecure-skip-owner-check", no_argument, NULL, 'S' },
                { "verbose", no_argument, NULL, 'v' },
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "+hv", options, NULL)) >= 0)
                switch (c) {
                case 'S':
                        *flags |= POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK;
                        break;
                default:
                        r = kysoctl_shared_option(c, help);
                        if (r >= 0)
                                return r;
                }
        return -1;
}

int verb_policy(int argc, char **argv) {
        PolicyLoadFlags flags = policy_tools_flags();
        int r;

        optind = 0;
        r = parse_options(argc, argv, &flags);
        if (r >= 0)
                return r;
        if (optind >= argc || !streq(argv[optind], "check")) {
                if (optind >= argc)
                        kysoctl_error("policy", _("give the command: check.\n"));
                else
                        kysoctl_error(
                                "policy", _("unknown command '%s': the command is check.\n"), argv[optind]);
                help();
                return KYSOCTL_EXIT_USAGE;
        }
        optind++;
        /* Options may also follow the sub-command. */
        r = parse_options(argc, argv, &flags);
        if (r >= 0)
                return r;
        if (argc - optind > 1) {
                kysoctl_error(
                        "policy", _("unexpected argument '%s': give at most one FILE.\n"), argv[optind + 1]);
                help();
                return KYSOCTL_EXIT_USAGE;
        }
        const char *path = optind < argc ? argv[optind] : policy_tools_path();

        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        r = policy_load(path, flags, &p, &errors);
        if (r == -EINVAL) {
                STRV_FOREACH (e, errors)
                        kysoctl_error("policy", "%s\n", *e);
                kysoctl_error(
                        "policy",
                        _("Policy %s is invalid: %zu problem(s). The agent refuses to start with it; "
                          "fix the lines above.\n"),
                        path, strv_length(errors));
                return KYSOCTL_EXIT_REFUSED;
        }
        if (r < 0) {
                kysoctl_error("policy", _("Cannot check the policy %s: %s\n"), path, strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        print_summary(p);
        return KYSOCTL_EXIT_OK;
}
