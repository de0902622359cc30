/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent-config.h"
#include "agent.h"
#include "config.h"
#include "hardening.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"

static void help(void) {
        printf(_("Usage: kysod [OPTIONS]\n\n"
                 "The kyso agent: holds the eToken sessions and serves org.kyso.Agent1 on the session bus.\n"
                 "It is normally started by D-Bus activation or by its user unit (systemctl --user start kysod).\n\n"
                 "  -h --help           Show this help\n"
                 "     --version        Show the version\n"
                 "  -c --config FILE    Read FILE instead of ~/.config/kyso/kysod.conf or %s/kyso/kysod.conf\n"
                 "     --check-config   Check the configuration file and exit\n\n"
                 "See kysod(8) and kysod.conf(5).\n"),
               SYSCONFDIR);
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_CHECK_CONFIG };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                {},
        };
        _cleanup_(agent_config_freep) AgentConfig *config = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(agent_freep) Agent *agent = NULL;
        _cleanup_free_ char *config_error = NULL;
        const char *config_path = NULL;
        bool check_only = false;
        sigset_t mask;
        int c, r;

        setlocale(LC_ALL, "");
        i18n_setup();
        log_setup("kysod", LOG_TARGET_AUTO);

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("kysod %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                case 'c':
                        config_path = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        check_only = true;
                        break;
                default:
                        fprintf(stderr, _("Run 'kysod --help' for the options.\n"));
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, _("kysod takes no arguments. Run 'kysod --help' for the options.\n"));
                return 2;
        }

        /* Before anything touches a PIN: no core dumps, not ptrace-able by the same user. */
        r = harden_process();
        if (r < 0) {
                log_error_errno(r, "Cannot harden the process: %m");
                return EXIT_FAILURE;
        }

        r = agent_config_load(config_path, &config, &config_error);
        if (r < 0) {
                if (config_error)
                        log_error("%s", config_error);
                log_error_errno(
                        r, "Refusing to start with a broken configuration: fix it (see kysod.conf(5)).");
                return EXIT_FAILURE;
        }
        if (!getenv("KYSO_LOG_LEVEL"))
                log_set_max_level(config->log_level);
        log_debug("Configuration: %s", config->path ?: "built-in defaults");
        if (check_only) {
                printf(_("%s: the configuration is valid.\n"), config->path ?: _("(built-in defaults)"));
                return EXIT_SUCCESS;
        }

        /* sd-event wants the signals it handles blocked; SIGCHLD for the helpers' child sources. Helpers
         * reset their mask after fork. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m"), EXIT_FAILURE;
        /* A NULL handler makes the loop exit with code 0: the helpers are reaped on the way out. */
        if ((r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL)) < 0 ||
            (r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL)) < 0) {
                log_error_errno(r, "Cannot watch SIGTERM/SIGINT: %m");
                return EXIT_FAILURE;
        }
        r = sd_event_set_watchdog(event, true);
        if (r < 0)
                log_warning_errno(r, "Cannot enable the watchdog: %m");

        r = agent_new(event, config, &agent);
        if (r < 0) {
                log_error_errno(r, "Cannot start the token manager: %m");
                return EXIT_FAILURE;
        }
        r = agent_connect_bus(agent, NULL);
        if (r == -EEXIST) {
                log_error(
                        "Another kyso agent is already running on this session bus (%s is taken). "
                        "Use it, or stop it first (systemctl --user stop kysod).",
                        AGENT_BUS_NAME);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                log_error_errno(
                        r, "Cannot connect to the session bus: %m. Is DBUS_SESSION_BUS_ADDRESS set?");
                return EXIT_FAILURE;
        }

        /* Only now can a client reach us: tell systemd. */
        (void) sd_notifyf(false, "READY=1\nSTATUS=Serving %s", AGENT_BUS_NAME);
        log_info("kysod %s serving %s.", PACKAGE_VERSION, AGENT_BUS_NAME);

        r = sd_event_loop(event);
        (void) sd_notify(false, "STOPPING=1");
        agent = agent_free(agent); /* kills and reaps the helpers before we return */
        if (r < 0) {
                log_error_errno(r, "Exiting on error: %m");
                return EXIT_FAILURE;
        }
        log_info("kysod stopped.");
        return EXIT_SUCCESS;
}
