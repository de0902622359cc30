/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include <openssl/crypto.h>

#include "agent-config.h"
#include "agent-policy.h"
#include "agent.h"
#include "audit/audit-log.h"
#include "config.h"
#include "hardening.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "policy/policy.h"

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

static int audit_check_journal_at_start(AuditLog *audit, char **message) {
        AuditJournalHead head;
        int r = audit_journal_head_read(NULL, audit_log_get_path(audit), AUDIT_JOURNAL_NEWEST, &head);
        if (r == -ENODATA)
                return 0;
        if (r < 0) {
                log_warning_errno(
                        r,
                        "Cannot read the journal (%m): the audit log cannot be compared with its copy there.");
                return 0;
        }
        r = audit_log_check_journal(audit, &head, message);
        if (r < 0)
                log_error_errno(
                        r, "Refusing to start: %s",
                        *message ?: "the audit log cannot be compared with the journal");
        else if (r > 0)
                log_error("%s The log goes on; 'kysoctl audit verify' reports this.", *message);
        return r;
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
        _cleanup_free_ char *config_error = NULL, *audit_error = NULL;
        _cleanup_strv_free_ char **policy_errors = NULL;
        _cleanup_(policy_freep) Policy *policy = NULL;
        _cleanup_(audit_log_freep) AuditLog *audit = NULL;
        AuditLogOptions audit_options;
        const char *config_path = NULL;
        bool check_only = false;
        sigset_t mask;
        int c, r;

        setlocale(LC_ALL, "");
        /* Numbers keep the '.' of PDF, JSON and the configuration files: vi_VN writes and reads ','. */
        setlocale(LC_NUMERIC, "C");
        i18n_setup();
        log_setup("kysod", LOG_TARGET_AUTO);
        /* OpenSSL's state lives until the process ends: a worker thread still waiting for an OCSP, CRL or
         * time-stamp server when we exit (nothing waits for it) must not find it freed by an atexit handler.
         */
        (void) OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);

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
        /* The environment wins only with a level: an empty or mistyped one must not drop the file's. */
        const char *env_level = getenv("KYSO_LOG_LEVEL");
        if (!isempty(env_level) && log_level_from_string(env_level) < 0)
                log_warning(
                        "KYSO_LOG_LEVEL=%s is not a log level (debug, info, notice, warning, err): ignored, "
                        "log-level of the configuration applies.",
                        env_level);
        if (isempty(env_level) || log_level_from_string(env_level) < 0)
                log_set_max_level(config->log_level);
        log_debug("Configuration: %s", config->path ?: "built-in defaults");
        if (check_only) {
                printf(_("%s: the configuration is valid.\n"), config->path ?: _("(built-in defaults)"));
                return EXIT_SUCCESS;
        }

        /* The signing policy: never a fallback to "allow". An invalid policy stops the agent, with every
         * problem named, rather than letting it run with rules nobody checked. */
        r = policy_load(policy_tools_path(), 0, &policy, &policy_errors);
        if (r < 0) {
                STRV_FOREACH (e, policy_errors)
                        log_error("%s", *e);
                log_error_errno(
                        r,
                        "Refusing to start: the signing policy %s cannot be used (%m). Ask your administrator to "
                        "fix it; 'kysoctl policy check' lists the problems.",
                        policy_tools_path());
                return EXIT_FAILURE;
        }

        /* The audit log: an event that cannot be recorded does not happen, so no log, no agent. */
        audit_options = config->audit_options;
        /* Always with the journal copy (a no-op where journald does not run): it is what shows a cut-off
         * tail, so the person whose environment this is must not be able to switch it off. */
        audit_options.no_journal = false;
        r = audit_log_open(config->audit_log_path, &audit_options, &audit, &audit_error);
        if (r < 0) {
                /* The audit layer's message names the log and what failed already. */
                if (audit_error)
                        log_error_errno(r, "Refusing to start: %s", audit_error);
                else
                        log_error_errno(
                                r, "Refusing to start: cannot open the audit log %s: %m",
                                config->audit_log_path);
                return EXIT_FAILURE;
        }
        /* Records the journal saw but the log no longer has (a deleted or replaced log) are recorded, and
         * verify fails on them; an agent that cannot record them does not start. */
        r = audit_check_journal_at_start(audit, &audit_error);
        if (r < 0)
                return EXIT_FAILURE;
        if (audit_log_get_quarantine_path(audit))
                log_warning(
                        "The audit log ended in a torn record (a crash while writing); it was moved to %s and "
                        "the log goes on.",
                        audit_log_get_quarantine_path(audit));
        r = audit_log_append_simple(
                audit, AUDIT_EVENT_AGENT_START, "kysod started", "version", PACKAGE_VERSION, NULL);
        if (r >= 0)
                r = audit_log_append_simple(
                        audit, AUDIT_EVENT_CONFIG_LOAD, "Configuration loaded", "file",
                        config->path ?: "(built-in defaults)", NULL);
        if (r >= 0)
                r = agent_policy_record(audit, policy, "start");
        if (r < 0) {
                log_error_errno(
                        r,
                        "Refusing to start: cannot write to the audit log %s: %m. Free some disk space or fix "
                        "the file's permissions.",
                        config->audit_log_path);
                return EXIT_FAILURE;
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

        r = agent_new(event, config, policy, audit, &agent);
        if (r >= 0) {
                policy = NULL; /* the agent owns them now */
                audit = NULL;
        }
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
