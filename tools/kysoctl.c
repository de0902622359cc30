/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dbus/dbus.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "i18n.h"
#include "kysoctl.h"
#include "log.h"
#include "macro.h"

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *help;
} verbs[] = {
        { "tokens", verb_tokens, N_("List the eTokens the agent sees") },
        { "certs", verb_certs, N_("List the certificates on the eTokens [--json]") },
        { "sign", verb_sign, N_("Sign a document through the agent") },
        { "verify", verb_verify, N_("Verify the signatures of a document (no agent needed)") },
        { "audit", verb_audit, N_("Show, verify and report on the audit log (no agent needed)") },
        { "policy", verb_policy, N_("Check the policy file (no agent needed)") },
        { "trust", verb_trust, N_("List, add or remove the trusted roots (no agent needed)") },
};

void kysoctl_error(const char *verb, const char *format, ...) {
        va_list ap;

        fprintf(stderr, "kysoctl %s: ", verb);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
}

void kysoctl_set_verbose(void) {
        log_set_max_level(LOG_DEBUG);
}

void kysoctl_verbose_help(void) {
        printf(_(
                "  --verbose, -v     also print the details: error names and the debug lines of the checks\n"));
}

int kysoctl_shared_option(int c, void (*help)(void)) {
        switch (c) {
        case 'h':
                help();
                return KYSOCTL_EXIT_OK;
        case 'v':
                kysoctl_set_verbose();
                return -1;
        default:
                return KYSOCTL_EXIT_USAGE;
        }
}

bool kysoctl_help_wanted(int argc, char **argv, void (*help)(void), int *ret_exit) {
        if (argc >= 2 && !streq(argv[1], "--help") && !streq(argv[1], "-h") && !streq(argv[1], "help"))
                return false;
        help();
        *ret_exit = argc < 2 ? KYSOCTL_EXIT_USAGE : KYSOCTL_EXIT_OK;
        return true;
}

int kysoctl_open_input(const char *path) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) >= 0 && S_ISDIR(st.st_mode)) {
                safe_close(fd);
                return -EISDIR;
        }
        return fd;
}

const char *kysoctl_policy_failure(const char *path, int r) {
        if (r == -EINVAL && access(path, F_OK) < 0 && errno == ENOENT)
                return _("there is no such file");
        return r == -EINVAL ? _("it is invalid") : strerror(-r);
}

int kysoctl_agent_unreachable(const char *verb, int r, const char *detail) {
        switch (r) {
        case -ENOTCONN:
                fprintf(stderr,
                        _("kysoctl %s: there is no D-Bus session bus (%s). Run kysoctl inside your desktop session, or set DBUS_SESSION_BUS_ADDRESS.\n"),
                        verb, strna(detail));
                return KYSOCTL_EXIT_INTERNAL;
        case -ESRCH:
                fprintf(stderr,
                        _("kysoctl %s: the kyso agent is not running and could not be started (%s). Start it with 'systemctl --user start kysod', or install kysod's D-Bus activation file (org.kyso.Agent1.service), then try again.\n"),
                        verb, strna(detail));
                return KYSOCTL_EXIT_INTERNAL;
        case -ETIMEDOUT:
                fprintf(stderr,
                        _("kysoctl %s: the kyso agent did not answer in time. Check its log (journalctl --user -u kysod) and try again.\n"),
                        verb);
                return KYSOCTL_EXIT_INTERNAL;
        default:
                return -1;
        }
}

int kysoctl_agent_error(const char *verb, const char *name, const char *message) {
        /* The D-Bus errors kyso_agent_call() tells apart. */
        static const struct {
                const char *name;
                int r;
        } table[] = {
                { DBUS_ERROR_SERVICE_UNKNOWN, -ESRCH }, { DBUS_ERROR_NAME_HAS_NO_OWNER, -ESRCH },
                { DBUS_ERROR_NO_REPLY, -ETIMEDOUT },    { DBUS_ERROR_TIMEOUT, -ETIMEDOUT },
                { DBUS_ERROR_DISCONNECTED, -ENOTCONN }, { DBUS_ERROR_NO_SERVER, -ENOTCONN },
        };

        if (startswith(strempty(name), "org.freedesktop.DBus.Error.Spawn."))
                return kysoctl_agent_unreachable(verb, -ESRCH, message);
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq_ptr(name, table[i].name))
                        return kysoctl_agent_unreachable(verb, table[i].r, message);
        return -1;
}

/* What a verb printed reaches its reader: a full disk or a closed pipe at standard output is said, and
 * a verb that succeeded then fails (its list or report is lost); a refusal keeps its own code. A verb that
 * failed (3) has said why already. */
static int check_stdout(const char *verb, int exit_code) {
        int r = 0;

        if (exit_code == KYSOCTL_EXIT_INTERNAL)
                return exit_code;
        if (fflush(stdout) != 0)
                r = errno;
        else if (ferror(stdout))
                r = EIO;
        if (r == 0)
                return exit_code;
        fprintf(stderr, "kysoctl%s%s: ", verb ? " " : "", strempty(verb));
        fprintf(stderr,
                _("cannot write the output: %s. Check the disk space, or where the output is sent.\n"),
                strerror(r));
        return exit_code == KYSOCTL_EXIT_OK ? KYSOCTL_EXIT_INTERNAL : exit_code;
}

static void help(void) {
        printf(_("Usage: kysoctl [--version] [--help] COMMAND [ARGS...]\n\n"
                 "Command line of kyso, the eToken signing agent.\n\nCommands:\n"));
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-8s %s\n", verbs[i].name, _(verbs[i].help));
        printf(_("\nRun 'kysoctl COMMAND --help' for a command's options. See kysoctl(1).\n"));
}

int main(int argc, char **argv) {
        setlocale(LC_ALL, "");
        /* Numbers keep the '.' of PDF, JSON and the configuration files: vi_VN writes and reads ','. */
        setlocale(LC_NUMERIC, "C");
        log_setup("kysoctl", LOG_TARGET_STDERR);
        i18n_setup();

        int exit_code;
        if (kysoctl_help_wanted(argc, argv, help, &exit_code))
                return check_stdout(NULL, exit_code);
        if (streq(argv[1], "--version")) {
                printf("kysoctl %s\n", PACKAGE_VERSION);
                return check_stdout(NULL, KYSOCTL_EXIT_OK);
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[1], verbs[i].name)) {
                        _cleanup_free_ char *name = NULL;

                        /* getopt names argv[0] in its messages ("unrecognized option"): make it the
                         * command the person typed, not the bare verb. */
                        if (asprintf(&name, "kysoctl %s", verbs[i].name) < 0)
                                name = NULL;
                        else {
                                argv[1] = name;
                                /* What the libraries log (the policy's warnings...) names the command
                                 * too. */
                                log_setup(name, LOG_TARGET_STDERR);
                        }
                        exit_code = verbs[i].run(argc - 1, argv + 1);
                        return check_stdout(verbs[i].name, exit_code);
                }

        fprintf(stderr, _("kysoctl: unknown command '%s'. Run 'kysoctl --help' for the list.\n"), argv[1]);
        return KYSOCTL_EXIT_USAGE;
}
