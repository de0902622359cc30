/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* kysoctl verbs: each lives in its own tools/kysoctl-*.c file and is called with argv[0] = the verb.
 * Exit codes are the command line's contract (see kysoctl(1)). */

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

enum {
        KYSOCTL_EXIT_OK = 0,       /* done; for verify: every signature valid */
        KYSOCTL_EXIT_REFUSED = 1,  /* refused or invalid: policy denial, bad signature, broken audit chain */
        KYSOCTL_EXIT_USAGE = 2,    /* wrong command line */
        KYSOCTL_EXIT_INTERNAL = 3, /* anything else: agent unreachable, I/O error, out of memory */
};

/* Prints "kysoctl VERB: " and the message to stderr: every message of kysoctl names the command that says
 * it, so a script's log shows which of its calls failed. */
void kysoctl_error(const char *verb, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* --verbose (-v) of the verbs that print refusals: the debug lines of kysoctl's libraries too (each starts
 * with "kysoctl VERB: ", like every message); the verb adds its own details (sign: the D-Bus error name). */
void kysoctl_set_verbose(void);
/* The line of --help that explains --verbose. */
void kysoctl_verbose_help(void);
/* The options the verbs share, for a result c of getopt_long() that the verb's own cases did not take:
 * --help (-h) shows HELP and gives KYSOCTL_EXIT_OK, --verbose (-v) gives -1 (go on), anything else is an
 * option getopt_long() has already complained about: KYSOCTL_EXIT_USAGE. A verb without --verbose leaves
 * it out of its options, so 'v' never comes. */
int kysoctl_shared_option(int c, void (*help)(void));
/* For a command followed by a subcommand (kysoctl itself, kysoctl audit): true when argv[1] is none (HELP
 * shown, *ret_exit = KYSOCTL_EXIT_USAGE) or asks for help (HELP shown, *ret_exit = KYSOCTL_EXIT_OK). */
bool kysoctl_help_wanted(int argc, char **argv, void (*help)(void), int *ret_exit);

/* Opens a file the command reads (a document, a signature): its fd, or a negative errno. A folder opens, but
 * is no such file: -EISDIR, found before anything is done, as a missing file is. */
int kysoctl_open_input(const char *path);

/* Why the policy at path could not be loaded, r as policy_load() gives it, for "cannot be used (%s)": a file
 * that is not there is said to be missing, not invalid (policy_load() gives -EINVAL for both). */
const char *kysoctl_policy_failure(const char *path, int r);

/* Says, with what to do, that the agent could not be asked: r as kyso_agent_call() gives it (-ENOTCONN no
 * session bus, -ESRCH not running and not startable, -ETIMEDOUT no answer in time). Returns
 * KYSOCTL_EXIT_INTERNAL, or -1 for another r (nothing said). */
int kysoctl_agent_unreachable(const char *verb, int r, const char *detail);
/* The same for the D-Bus error (name, message) of a call the verb made to the agent itself (sign). */
int kysoctl_agent_error(const char *verb, const char *name, const char *message);

int verb_tokens(int argc, char **argv);
int verb_certs(int argc, char **argv);
int verb_sign(int argc, char **argv);
int verb_verify(int argc, char **argv);
int verb_audit(int argc, char **argv);
int verb_policy(int argc, char **argv);
int verb_trust(int argc, char **argv);

/* kysoctl certs --all / --export: the certificate register (kysoctl-register.c). */
bool certs_register_wanted(int argc, char **argv);
int verb_certs_register(int argc, char **argv);
/* A certificate's status and kind as the person at the desk reads them (kysoctl-tokens.c). */
const char *cert_status_text(const char *s);
const char *cert_kind_text(const char *s);

typedef struct Policy Policy;
/* Prints a warning for each trusted root of p that expires within its warning days (for policy check);
 * returns how many. */
int trust_print_expiring(const Policy *p, time_t now);
