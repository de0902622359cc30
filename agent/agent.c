/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>

#include "agent-inventory.h"
#include "agent-options.h"
#include "agent-peers.h"
#include "agent-register.h"
#include "agent-revocation.h"
#include "agent-sign.h"
#include "agent-verify-dbus.h"
#include "agent.h"
#include "alloc-util.h"
#include "dbus/bus-append.h"
#include "dbus/bus-method.h"
#include "dbus/dbus-error-names.h"
#include "dbus/dbus-event.h"
#include "dbus/dbus-introspect.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "notify.h"
#include "pkcs11/p11-manager.h"
#include "prompt-registry.h"

#define EXPIRY_CHECK_USEC (UINT64_C(24) * 3600 * 1000000)

/* The manager scans the modules in the background after start. An inventory call that arrives before the
 * first scan is done (typically the very call that activated us) would see no tokens; such calls are held
 * until the manager says its first scan is done (p11_manager_set_scanned_callback()), at most SETTLE_MAX
 * (a module that neither answers nor fails within it must not hold every call). GetCertificates also waits,
 * within the same SETTLE_MAX, for the first revocation checks of the certificates found (else it would
 * answer "unchecked" for each, just after start). */
#define SETTLE_MAX_USEC (UINT64_C(3000) * 1000)

struct Agent {
        sd_event *event;
        const AgentConfig *config;
        P11Manager *manager;
        DBusConnection *bus;
        PeerCache *peers;
        AgentSign *sign;             /* Sign, SignBatch and their request objects */
        PrompterRegistry *prompters; /* RegisterPrompter: apps' own prompts for their own requests */
        SessionWatch *session_watch; /* lock and sleep forget the kept PINs; NULL when caching is off */
        Policy *policy; /* as loaded at start: the certificates' kind and status in the inventory */
        AgentRevocation *revocation; /* the inventory's revocation status, checked in the background */
        AuditLog *audit;
        sd_event_source *audit_chain_io; /* a background check of the audit log's chain is done */
        sd_event_source *expiry_timer;
        CertRegister *cert_register; /* every certificate seen (Art. 22.3); NULL without an audit log */
        Notifier *notifier;          /* expiry and revocation warnings on the desktop */
        bool object_registered;
        bool filter_added;

        /* Start-up settling: see agent_settle_update(). */
        sd_event_source *settle_timer;
        uint64_t start_usec;
        bool settled;       /* the first token scan is done (or SETTLE_MAX passed) */
        bool certs_settled; /* ... and the first revocation checks of its certificates too */
        DBusMessage **held; /* inventory calls that arrived before the first scan settled */
        size_t n_held;
};

/* Journal MESSAGE_IDs of the agent's events (systemd/kyso.catalog explains them). */
#define MESSAGE_ID_TOKEN_ADDED "MESSAGE_ID=5595051b94c14633aee211a14b5992ca"
#define MESSAGE_ID_TOKEN_REMOVED "MESSAGE_ID=9ed83bb4a914474b845a0ca1ffc5ba5c"
#define MESSAGE_ID_HELPER_FAILED "MESSAGE_ID=9dac49a75d85496d8d1dcd0eae004ab2"
#define MESSAGE_ID_CERTIFICATE_EXPIRING "MESSAGE_ID=5fd28cc75f3945d7bb0269a0b51d0e0c"

/* Logs with a MESSAGE_ID and one or two KYSO_* fields (NULL values are left out). */
_printf_(6, 7) static void log_event(
        int level, const char *message_id, const char *field1, const char *field2, const char *field3,
        const char *format, ...) {
        const char *fields[5] = { message_id };
        size_t n = 1;
        char msg[1024];
        va_list ap;

        if (field1)
                fields[n++] = field1;
        if (field2)
                fields[n++] = field2;
        if (field3)
                fields[n++] = field3;
        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);
        (void) log_fields(level, fields, "%s", msg);
}

static int64_t now_seconds(void) {
        return (int64_t) time(NULL);
}

static int agent_send(Agent *a, DBusMessage *m) {
        if (!m)
                return log_oom();
        if (!a->bus || !dbus_connection_send(a->bus, m, NULL)) {
                dbus_message_unref(m);
                return -ENOMEM;
        }
        dbus_message_unref(m);
        return 0;
}

/* What the inventory classifies certificates with: the policy of its revocation checks, read again at each
 * refresh like signing reads it for each request; the one loaded at start when there are no checks. */
static const Policy *agent_inventory_policy(const Agent *a) {
        return agent_revocation_get_policy(a->revocation) ?: a->policy;
}

static void emit_certificate_expiring(Agent *a, const char *token_uri) {
        const P11Token *const *tokens;
        const P11Certificate *const *certs;
        size_t n_tokens, n_certs;
        int64_t now = now_seconds();

        if (!a->bus || p11_manager_get_tokens(a->manager, &tokens, &n_tokens) < 0 ||
            p11_manager_get_certificates(a->manager, &certs, &n_certs) < 0)
                return;
        for (size_t i = 0; i < n_certs; i++) {
                _cleanup_(certificate_info_done) CertificateInfo info = {};
                dbus_int32_t days;
                DBusMessage *m;

                if (token_uri && !streq_ptr(certs[i]->token_uri, token_uri))
                        continue;
                if (certificate_info_from_der(
                            agent_inventory_policy(a), certs[i]->der, certs[i]->der_size, now, &info) < 0)
                        continue;
                /* On the validity period alone: a certificate the policy marks untrusted or revoked still
                 * deserves the renewal warning while it is within its last 60 days. */
                if (now < info.not_before || now > info.not_after ||
                    info.days_left > AGENT_EXPIRY_WARNING_DAYS)
                        continue;
                days = (dbus_int32_t) info.days_left;
                {
                        _cleanup_free_ char *f_uri = NULL, *f_subject = NULL;
                        if (asprintf(&f_uri, "KYSO_CERTIFICATE_URI=%s", certs[i]->uri) < 0)
                                f_uri = NULL;
                        if (asprintf(&f_subject, "KYSO_CERTIFICATE_SUBJECT=%s", info.subject) < 0)
                                f_subject = NULL;
                        log_event(
                                LOG_NOTICE, MESSAGE_ID_CERTIFICATE_EXPIRING, f_uri, f_subject, NULL,
                                "Certificate %s (%s) expires in %d days: renew it (renewal is possible while 60 days remain).",
                                certs[i]->uri, info.subject, days);
                }
                DBusMessageIter it;
                m = dbus_message_new_signal(AGENT_OBJECT_PATH, AGENT_INTERFACE, "CertificateExpiring");
                if (m)
                        dbus_message_iter_init_append(m, &it);
                if (!m || bus_append_string(&it, certs[i]->uri) < 0 ||
                    !dbus_message_iter_append_basic(&it, DBUS_TYPE_INT32, &days)) {
                        if (m)
                                dbus_message_unref(m);
                        (void) log_oom();
                        return;
                }
                (void) agent_send(a, m);
        }
}

/* Records the certificates present in the register and warns of those that expire or cannot sign. */
static void agent_update_register(Agent *a) {
        const P11Token *const *tokens;
        const P11Certificate *const *certs;
        size_t n_tokens, n_certs;

        if (a->cert_register && p11_manager_get_tokens(a->manager, &tokens, &n_tokens) >= 0 &&
            p11_manager_get_certificates(a->manager, &certs, &n_certs) >= 0)
                agent_register_update(
                        a->cert_register, a->audit, a->notifier, agent_inventory_policy(a), a->revocation,
                        tokens, n_tokens, certs, n_certs, now_seconds());
}

static int expiry_timer_cb(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        emit_certificate_expiring(a, NULL);
        agent_update_register(a);
        (void) sd_event_source_set_time_relative(s, EXPIRY_CHECK_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* Answers the held calls that may be answered now, from the loop (the callers below run inside the manager
 * and the revocation checks). */
static void settle_soon(Agent *a) {
        if (a->certs_settled || !a->settle_timer)
                return;
        if (sd_event_source_set_time(a->settle_timer, 0) >= 0)
                (void) sd_event_source_set_enabled(a->settle_timer, SD_EVENT_ONESHOT);
}

static void manager_scanned(P11Manager *m, void *userdata) {
        (void) m;
        settle_soon(userdata);
}

static void revocation_checked(AgentRevocation *r, void *userdata) {
        (void) r;
        settle_soon(userdata);
        agent_update_register(userdata);
}

/* Token and helper events cannot be refused, so a failed append is only logged (the next record's chain
 * still holds); signing requests, which can be refused, fail when their record cannot be written. */
static void agent_audit_manager_event(Agent *a, const P11ManagerEventData *ev) {
        int r = 0;

        if (!a->audit)
                return;
        switch (ev->event) {
        case P11_EVENT_TOKEN_ADDED:
        case P11_EVENT_TOKEN_REMOVED: {
                AuditEvent ae = {
                        .type = ev->event == P11_EVENT_TOKEN_ADDED ? AUDIT_EVENT_TOKEN_ADDED
                                                                   : AUDIT_EVENT_TOKEN_REMOVED,
                        .message = ev->event == P11_EVENT_TOKEN_ADDED ? "Token added" : "Token removed",
                        .token_uri = ev->token->uri,
                        .token_label = ev->token->label,
                        .token_serial = ev->token->serial,
                        .token_manufacturer = ev->token->manufacturer,
                        .token_model = ev->token->model,
                };
                r = audit_log_append(a->audit, &ae, NULL);
                break;
        }
        case P11_EVENT_HELPER_FAILED:
                /* A new failure, not each retry of a module that keeps failing (a missing driver would
                 * write thousands a day); its end is the helper-restart record. */
                if (ev->failures > 1)
                        return;
                r = audit_log_append_simple(
                        a->audit, AUDIT_EVENT_HELPER_CRASH, strna(ev->reason), "module",
                        strna(ev->module_path), NULL);
                break;
        case P11_EVENT_HELPER_RESTARTED:
                r = audit_log_append_simple(
                        a->audit, AUDIT_EVENT_HELPER_RESTART, "PKCS#11 helper restarted", "module",
                        strna(ev->module_path), NULL);
                break;
        default:
                break;
        }
        if (r < 0)
                log_error_errno(r, "Cannot write the audit record of a token event: %m");
}

/* Token events change the certificates present: new ones get their revocation checked. */
static void agent_revocation_check_inventory(Agent *a) {
        const P11Certificate *const *certs;
        size_t n_certs;

        if (!a->revocation || p11_manager_get_certificates(a->manager, &certs, &n_certs) < 0)
                return;
        if (agent_revocation_update(a->revocation, certs, n_certs) < 0)
                (void) log_oom();
}

/* "100 ms", "30 s", "2 min", "1 h": for the retry delays in the log. */
static void format_delay(uint64_t usec, char *buf, size_t size) {
        if (usec < 1000000)
                snprintf(buf, size, "%" PRIu64 " ms", usec / 1000);
        else if (usec < 60 * UINT64_C(1000000))
                snprintf(buf, size, "%.3g s", (double) usec / 1e6);
        else if (usec < 3600 * UINT64_C(1000000))
                snprintf(buf, size, "%.3g min", (double) usec / 60e6);
        else
                snprintf(buf, size, "%.3g h", (double) usec / 3600e6);
}

/* The first failure is a warning. A module that keeps failing is logged again only at the 2nd, 4th, 8th...
 * attempt (the others at debug level): a missing driver is retried for days. */
static void log_helper_failed(const P11ManagerEventData *ev, const char *f_module) {
        char retry[32];
        bool power_of_two = (ev->failures & (ev->failures - 1)) == 0;

        format_delay(ev->retry_usec, retry, sizeof(retry));
        if (ev->failures <= 1 && ev->load_failed)
                log_event(
                        LOG_WARNING, MESSAGE_ID_HELPER_FAILED, f_module, NULL, NULL,
                        "PKCS#11 module %s does not load: %s. Tried again in %s, then less and less often (up to hourly); install or fix the module, or remove it from the configuration.",
                        strna(ev->module_path), strna(ev->reason), retry);
        else if (ev->failures <= 1)
                log_event(
                        LOG_WARNING, MESSAGE_ID_HELPER_FAILED, f_module, NULL, NULL,
                        "PKCS#11 module %s failed: %s. Its tokens are shown as absent; it is restarted in %s.",
                        strna(ev->module_path), strna(ev->reason), retry);
        else
                log_full(
                        power_of_two ? LOG_NOTICE : LOG_DEBUG,
                        "PKCS#11 module %s %s (attempt %u): %s. Next try in %s.", strna(ev->module_path),
                        ev->load_failed ? "still does not load" : "failed again", ev->failures,
                        strna(ev->reason), retry);
}

static void manager_event(P11Manager *m, const P11ManagerEventData *ev, void *userdata) {
        Agent *a = userdata;
        _cleanup_free_ char *f_uri = NULL, *f_label = NULL, *f_module = NULL;
        DBusMessage *sig;
        DBusMessageIter it;

        agent_revocation_check_inventory(a);
        if (ev->token) {
                if (asprintf(&f_uri, "KYSO_TOKEN_URI=%s", ev->token->uri) < 0)
                        f_uri = NULL;
                if (asprintf(&f_label, "KYSO_TOKEN_LABEL=%s", strempty(ev->token->label)) < 0)
                        f_label = NULL;
        }
        if (ev->module_path && asprintf(&f_module, "KYSO_MODULE=%s", ev->module_path) < 0)
                f_module = NULL;

        agent_audit_manager_event(a, ev);
        switch (ev->event) {
        case P11_EVENT_TOKEN_ADDED:
                log_event(
                        LOG_INFO, MESSAGE_ID_TOKEN_ADDED, f_uri, f_label, f_module, "Token '%s' added (%s).",
                        strna(ev->token->label), ev->token->uri);
                agent_update_register(a);
                if (!a->bus)
                        return;
                sig = dbus_message_new_signal(AGENT_OBJECT_PATH, AGENT_INTERFACE, "TokenAdded");
                if (!sig) {
                        (void) log_oom();
                        return;
                }
                dbus_message_iter_init_append(sig, &it);
                if (agent_append_token(&it, ev->token) < 0) {
                        dbus_message_unref(sig);
                        (void) log_oom();
                        return;
                }
                (void) agent_send(a, sig);
                emit_certificate_expiring(a, ev->token->uri);
                break;
        case P11_EVENT_TOKEN_REMOVED:
                log_event(
                        LOG_INFO, MESSAGE_ID_TOKEN_REMOVED, f_uri, f_label, f_module,
                        "Token '%s' removed (%s).", strna(ev->token->label), ev->token->uri);
                agent_sign_token_removed(a->sign, ev->token->uri);
                if (!a->bus)
                        return;
                sig = dbus_message_new_signal(AGENT_OBJECT_PATH, AGENT_INTERFACE, "TokenRemoved");
                if (!sig || bus_message_append_strings(sig, strempty(ev->token->uri), NULL) < 0) {
                        if (sig)
                                dbus_message_unref(sig);
                        (void) log_oom();
                        return;
                }
                (void) agent_send(a, sig);
                break;
        case P11_EVENT_HELPER_FAILED:
                log_helper_failed(ev, f_module);
                break;
        case P11_EVENT_HELPER_RESTARTED:
                log_info("PKCS#11 module %s restarted.", strna(ev->module_path));
                break;
        default:
                break;
        }
}

/* The chain check at start and after each rotation runs in the background (audit-chain-check.c). */
static int audit_chain_checked_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Agent *a = userdata;
        _cleanup_free_ char *msg = NULL;
        int r = audit_log_chain_check_done(a->audit, &msg);
        if (r < 0)
                log_error_errno(r, "%s", msg ?: "Cannot check the audit log's chain.");
        else if (r > 0)
                log_warning("%s", msg);
        return 0;
}

static DBusHandlerResult agent_filter(DBusConnection *c, DBusMessage *m, void *userdata);
static int settle_timer_cb(sd_event_source *s, uint64_t usec, void *userdata);

int agent_new(sd_event *e, const AgentConfig *config, Policy *policy, AuditLog *audit, Agent **ret) {
        _cleanup_(agent_freep) Agent *a = calloc(1, sizeof *a);
        P11ManagerConfig mc;
        int r;

        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(e);
        a->config = config;

        mc = (P11ManagerConfig){
                .module_paths = config->module_paths,
                .use_p11kit_registry = config->use_p11kit_registry,
                .poll_usec = config->poll_usec,
                .call_timeout_usec = config->helper_timeout_usec,
                .load_retry_usec = config->module_retry_usec,
        };
        r = sd_event_now(e, CLOCK_MONOTONIC, &a->start_usec);
        if (r < 0)
                return r;
        r = sd_event_add_time(
                e, &a->settle_timer, CLOCK_MONOTONIC, a->start_usec + SETTLE_MAX_USEC, 0, settle_timer_cb,
                a);
        if (r < 0)
                return r;
        r = p11_manager_new(e, &mc, manager_event, a, &a->manager);
        if (r < 0)
                return r;
        p11_manager_set_scanned_callback(a->manager, manager_scanned, a);
        if (p11_manager_scanned(a->manager))
                manager_scanned(a->manager, a);
        if (policy) {
                r = agent_revocation_new(e, policy, config->revocation_refresh_usec, &a->revocation);
                if (r < 0)
                        return r;
                agent_revocation_set_checked_callback(a->revocation, revocation_checked, a);
        }

        r = sd_event_add_time_relative(
                e, &a->expiry_timer, CLOCK_MONOTONIC, EXPIRY_CHECK_USEC, 60 * 1000000, expiry_timer_cb, a);
        if (r < 0)
                return r;
        if (audit) {
                r = agent_register_open(audit_log_get_path(audit), &a->cert_register);
                if (r < 0)
                        return r;
        }
        r = notifier_new(&a->notifier);
        if (r < 0)
                return r;
        if (audit) {
                /* Not fatal: the log is written as before, and 'kysoctl audit verify' checks it. */
                int fd;
                r = audit_log_watch_chain(audit, &fd);
                if (r >= 0)
                        r = sd_event_add_io(e, &a->audit_chain_io, fd, EPOLLIN, audit_chain_checked_cb, a);
                if (r < 0)
                        log_warning_errno(r, "Cannot check the audit log's chain in the background: %m");
        }
        /* Only now, when nothing can fail any more, take the caller's policy and log. */
        a->policy = policy;
        a->audit = audit;
        *ret = TAKE_PTR(a);
        return 0;
}

Agent *agent_free(Agent *a) {
        if (!a)
                return NULL;
        sd_event_source_disable_unref(a->audit_chain_io); /* its fd belongs to the log */
        sd_event_source_disable_unref(a->expiry_timer);
        a->notifier = notifier_free(a->notifier); /* its calls in flight, before the bus goes */
        if (cert_register_dirty(a->cert_register) && cert_register_save(a->cert_register) < 0)
                log_error("Cannot write the certificate register.");
        a->cert_register = cert_register_free(a->cert_register);
        if (a->sign)
                agent_sign_set_session_watch(a->sign, NULL); /* forgets every kept PIN */
        a->session_watch = session_watch_free(a->session_watch);
        a->sign = agent_sign_free(a->sign); /* before the manager: it may still call requests back */
        a->prompters = prompter_registry_free(a->prompters); /* after the requests, which use it */
        sd_event_source_disable_unref(a->settle_timer);
        for (size_t i = 0; i < a->n_held; i++)
                dbus_message_unref(a->held[i]);
        free(a->held);
        a->manager = p11_manager_free(a->manager);
        a->revocation = agent_revocation_free(a->revocation);
        if (a->audit) {
                int r = audit_log_append_simple(a->audit, AUDIT_EVENT_AGENT_STOP, "kysod stopped", NULL);
                if (r < 0)
                        log_error_errno(r, "Cannot write the audit record of the agent's stop: %m");
                a->audit = audit_log_free(a->audit);
        }
        a->policy = policy_free(a->policy);
        peer_cache_free(a->peers);
        if (a->bus) {
                if (a->object_registered) {
                        dbus_connection_unregister_object_path(a->bus, AGENT_OBJECT_PATH);
                        dbus_connection_unregister_object_path(a->bus, "/");
                }
                if (a->filter_added)
                        dbus_connection_remove_filter(a->bus, agent_filter, a);
                dbus_connection_close_unrefp(&a->bus);
        }
        sd_event_unref(a->event);
        free(a);
        return NULL;
}

/* The agent object implements org.kyso.Agent1 only: the request objects below it have their own. */
static DBusMessage *method_introspect(DBusConnection *c, DBusMessage *m, void *userdata) {
        (void) c;
        (void) userdata;
        return dbus_introspect_reply(m, (const char *const[]){ kyso_agent1_interface_xml, NULL }, NULL);
}

static DBusMessage *method_get_tokens(DBusConnection *c, DBusMessage *m, void *userdata) {
        Agent *a = userdata;
        const P11Token *const *tokens;
        size_t n;
        DBusMessage *reply;
        DBusMessageIter it;
        int r;

        r = p11_manager_get_tokens(a->manager, &tokens, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot list tokens: %m");
                return kyso_bus_error_reply_errno(m, r, NULL);
        }
        reply = dbus_message_new_method_return(m);
        if (!reply)
                return NULL;
        dbus_message_iter_init_append(reply, &it);
        r = agent_append_tokens(&it, tokens, n);
        if (r < 0) {
                dbus_message_unref(reply);
                return NULL;
        }
        return reply;
}

/* GetCertificates(a{sv} options): the reasons are in the caller's language (its locale option). */
static DBusMessage *method_get_certificates(DBusConnection *c, DBusMessage *m, void *userdata) {
        Agent *a = userdata;
        const P11Token *const *tokens;
        const P11Certificate *const *certs;
        size_t n_tokens, n_certs;
        _cleanup_free_ char *msg = NULL;
        locale_t locale;
        DBusMessage *reply;
        DBusMessageIter it;
        int r;

        dbus_message_iter_init(m, &it);
        r = agent_read_call_options(&it, &locale, &msg);
        if (r == -EINVAL)
                return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, msg);
        if (r < 0)
                return NULL;
        I18N_LOCALE_SCOPE(locale);
        r = p11_manager_get_tokens(a->manager, &tokens, &n_tokens);
        if (r >= 0)
                r = p11_manager_get_certificates(a->manager, &certs, &n_certs);
        if (r < 0) {
                log_error_errno(r, "Cannot list certificates: %m");
                return kyso_bus_error_reply_errno(m, r, NULL);
        }
        /* Certificates the checks have not seen yet (no token event told) are checked soon. */
        agent_revocation_check_inventory(a);
        reply = dbus_message_new_method_return(m);
        if (!reply)
                return NULL;
        dbus_message_iter_init_append(reply, &it);
        r = agent_append_certificates(
                &it, agent_inventory_policy(a), a->revocation, tokens, n_tokens, certs, n_certs,
                now_seconds());
        if (r < 0) {
                dbus_message_unref(reply);
                return NULL;
        }
        return reply;
}

static DBusMessage *method_sign(DBusConnection *c, DBusMessage *m, void *userdata) {
        Agent *a = userdata;
        (void) c;
        if (!a->sign)
                return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INTERNAL, NULL);
        return agent_sign_method(a->sign, m, peer_cache_get_pid(a->peers, dbus_message_get_sender(m)));
}

static DBusMessage *method_verify(DBusConnection *c, DBusMessage *m, void *userdata) {
        Agent *a = userdata;
        if (!a->sign)
                return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INTERNAL, NULL);
        return agent_verify_method(agent_sign_get_worker(a->sign), a->config, c, m);
}

static DBusMessage *method_register_prompter(DBusConnection *c, DBusMessage *m, void *userdata) {
        Agent *a = userdata;
        (void) c;
        return prompter_registry_register(a->prompters, m);
}

static DBusMessage *method_unregister_prompter(DBusConnection *c, DBusMessage *m, void *userdata) {
        Agent *a = userdata;
        (void) c;
        return prompter_registry_unregister(a->prompters, m);
}

/* Introspect answers anyone at once; org.kyso.Agent1's methods run once the caller is known to be our user
 * (agent_run_checked()). */
static const BusMethod agent_methods[] = {
        { DBUS_INTERFACE_INTROSPECTABLE, "Introspect", "", method_introspect },
        { AGENT_INTERFACE, "GetTokens", "", method_get_tokens },
        { AGENT_INTERFACE, "GetCertificates", "a{sv}", method_get_certificates },
        { AGENT_INTERFACE, "Sign", "hhssa{sv}", method_sign },
        { AGENT_INTERFACE, "SignBatch", "ahahssa{sv}", method_sign },
        { AGENT_INTERFACE, "Verify", "hha{sv}", method_verify },
        { AGENT_INTERFACE, "RegisterPrompter", "o", method_register_prompter },
        { AGENT_INTERFACE, "UnregisterPrompter", "o", method_unregister_prompter },
};

static void agent_run_method(Agent *a, DBusConnection *c, DBusMessage *m) {
        const BusMethod *method = bus_method_find(agent_methods, ELEMENTSOF(agent_methods), m);
        DBusMessage *reply;

        /* NULL: the method replies later (Verify), or memory ran out (logged where it did). */
        if (method && (reply = method->handler(c, m, a)))
                bus_send_reply(c, m, reply);
}

static bool is_get_certificates(DBusMessage *m) {
        return dbus_message_is_method_call(m, AGENT_INTERFACE, "GetCertificates");
}

static int settle_timer_cb(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        DBusMessage **held = TAKE_PTR(a->held);
        size_t n = a->n_held, kept = 0;
        uint64_t now = 0;

        a->n_held = 0;
        if (sd_event_now(a->event, CLOCK_MONOTONIC, &now) < 0 || now >= a->start_usec + SETTLE_MAX_USEC)
                a->settled = a->certs_settled = true;
        a->settled = a->settled || p11_manager_scanned(a->manager);
        a->certs_settled = a->certs_settled ||
                           (a->settled && (!a->revocation || agent_revocation_all_checked(a->revocation)));
        if (a->settled)
                log_debug(
                        "Token scan settled; answering the held calls%s.",
                        a->certs_settled ? "" : " but GetCertificates (revocation checks going on)");
        for (size_t i = 0; i < n; i++) {
                if (!a->settled || (!a->certs_settled && is_get_certificates(held[i]))) {
                        held[kept++] = held[i];
                        continue;
                }
                if (a->bus)
                        agent_run_method(a, a->bus, held[i]);
                dbus_message_unref(held[i]);
        }
        /* The methods run above hold nothing new (a->held stays empty meanwhile). */
        if (kept > 0) {
                a->held = held;
                a->n_held = kept;
        } else
                free(held);
        /* Whatever is still held is answered at SETTLE_MAX at the latest. */
        if (!a->certs_settled && sd_event_source_set_time(s, a->start_usec + SETTLE_MAX_USEC) >= 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* The caller's uid is known: run the method, or refuse. */
static void agent_run_checked(DBusConnection *c, DBusMessage *m, int error, uid_t uid, void *userdata) {
        Agent *a = userdata;

        if (error < 0 || uid != getuid()) {
                log_notice(
                        "Refused %s from %s (uid %d): the agent serves only its own user (uid %u).",
                        dbus_message_get_member(m), strna(dbus_message_get_sender(m)),
                        error < 0 ? -1 : (int) uid, (unsigned) getuid());
                bus_send_reply(
                        c, m,
                        kyso_bus_error_reply(
                                m, KYSO_BUS_ERROR_POLICY_DENIED,
                                _("The agent serves only its own user. Use the kyso agent of your own session.")));
                return;
        }
        if (!a->settled || (!a->certs_settled && is_get_certificates(m))) {
                DBusMessage **h = ARRAY_APPEND(a->held, a->n_held);
                if (h) {
                        *h = dbus_message_ref(m);
                        return;
                }
                /* Out of memory: answer now rather than not at all. */
        }
        agent_run_method(a, c, m);
}

static DBusHandlerResult agent_message(DBusConnection *c, DBusMessage *m, void *userdata) {
        Agent *a = userdata;
        const BusMethod *method = bus_method_find(agent_methods, ELEMENTSOF(agent_methods), m);
        DBusMessage *reply;
        bool oom;
        int r;

        if (!method)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED; /* libdbus answers UnknownMethod */
        reply = bus_method_check_signature(method, m, &oom);
        if (reply || oom) {
                bus_send_reply(c, m, reply);
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        if (!streq(method->interface, AGENT_INTERFACE)) {
                agent_run_method(a, c, m);
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        r = peer_cache_check(a->peers, m);
        if (r < 0) {
                log_error_errno(r, "Cannot check the caller of %s: %m", method->member);
                bus_send_reply(c, m, kyso_bus_error_reply_errno(m, r, NULL));
        }
        return DBUS_HANDLER_RESULT_HANDLED;
}

static const DBusObjectPathVTable agent_vtable = { .message_function = agent_message };

/* "/", "/org" and "/org/kyso" answer Introspect with their child node, so that tools walking the tree from
 * the root (busctl tree, d-spy) find /org/kyso/Agent1. */
static DBusHandlerResult parents_message(DBusConnection *c, DBusMessage *m, void *userdata) {
        static const struct {
                const char *path, *child;
        } parents[] = { { "/", "org" }, { "/org", "kyso" }, { "/org/kyso", "Agent1" } };
        const char *path = dbus_message_get_path(m);

        if (!dbus_message_is_method_call(m, DBUS_INTERFACE_INTROSPECTABLE, "Introspect") || !path)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        for (size_t i = 0; i < ELEMENTSOF(parents); i++) {
                DBusMessage *reply;
                if (!streq(path, parents[i].path))
                        continue;
                reply = dbus_introspect_reply(m, NULL, (const char *const[]){ parents[i].child, NULL });
                if (!reply)
                        return DBUS_HANDLER_RESULT_NEED_MEMORY;
                bus_send_reply(c, m, reply);
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static const DBusObjectPathVTable parents_vtable = { .message_function = parents_message };

static DBusHandlerResult agent_filter(DBusConnection *c, DBusMessage *m, void *userdata) {
        Agent *a = userdata;

        if (dbus_message_is_signal(m, DBUS_INTERFACE_LOCAL, "Disconnected")) {
                log_error("Lost the connection to the session bus; exiting.");
                (void) sd_event_exit(a->event, -ECONNRESET);
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        if (dbus_message_is_signal(m, DBUS_INTERFACE_DBUS, "NameLost")) {
                const char *name = NULL;
                if (dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID) &&
                    streq(name, AGENT_BUS_NAME)) {
                        log_error("Lost the bus name %s; exiting.", AGENT_BUS_NAME);
                        (void) sd_event_exit(a->event, -ECONNRESET);
                }
        }
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

/* Kept PINs must go when the session locks and before sleep: without logind on the system bus to say so,
 * nothing is kept. */
/* Whether logind runs on the system bus, or can be started there: 1, 0, or a negative errno. */
static int logind_present(sd_bus *bus) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int has, r;

        r = sd_bus_call_method(
                bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                NULL, &reply, "s", "org.freedesktop.login1");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "b", &has);
        if (r < 0)
                return r;
        if (has)
                return 1;
        reply = sd_bus_message_unref(reply);
        r = sd_bus_call_method(
                bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "ListActivatableNames", NULL, &reply, "");
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(reply, &names);
        if (r < 0)
                return r;
        STRV_FOREACH (n, names)
                if (streq(*n, "org.freedesktop.login1"))
                        return 1;
        return 0;
}

static void agent_start_session_watch(Agent *a) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        if (a->config->pin_cache_personal_usec == 0 && a->config->pin_cache_organization_usec == 0)
                return;
        r = sd_bus_open_system(&bus);
        if (r >= 0) {
                r = logind_present(bus);
                if (r == 0)
                        r = -ESRCH; /* "No such process": logind is not there */
        }
        if (r >= 0)
                r = session_watch_new(
                        a->event, bus, NULL, session_watch_forget_pins, agent_sign_get_pin_cache(a->sign),
                        &a->session_watch);
        if (r < 0) {
                (void) log_full_errno(
                        LOG_NOTICE, r,
                        "Cannot watch the session's lock and sleep through systemd-logind on the system bus (%m): "
                        "PIN caching stays off, the PIN is asked for every request.");
                return;
        }
        agent_sign_set_session_watch(a->sign, a->session_watch);
        log_info("PIN caching configured; kept PINs are forgotten when the session locks and before sleep.");
}

int agent_connect_bus(Agent *a, const char *address) {
        DBusError error = DBUS_ERROR_INIT;
        int r;

        if (a->bus)
                return -EALREADY;
        r = dbus_event_open_bus(a->event, address, &a->bus);
        if (r < 0)
                return r;
        r = peer_cache_new(a->bus, agent_run_checked, a, &a->peers);
        if (r < 0)
                return r;
        if (!dbus_connection_add_filter(a->bus, agent_filter, a, NULL))
                return -ENOMEM;
        a->filter_added = true;
        if (!dbus_connection_register_object_path(a->bus, AGENT_OBJECT_PATH, &agent_vtable, a))
                return -ENOMEM;
        a->object_registered = true;
        r = agent_sign_new(a->event, a->bus, a->manager, a->config, a->audit, &a->sign);
        if (r < 0)
                return r;
        r = prompter_registry_new(a->event, a->bus, a->config->prompt_timeout_usec, &a->prompters);
        if (r < 0)
                return r;
        agent_sign_set_prompters(a->sign, a->prompters);
        agent_sign_set_revocation(a->sign, a->revocation);
        /* kysod recorded this one at start. */
        agent_sign_set_policy_recorded(a->sign, a->policy ? a->policy->digest : NULL);
        agent_start_session_watch(a);
        notifier_set_bus(a->notifier, a->bus);
        if (!dbus_connection_register_fallback(a->bus, "/", &parents_vtable, a))
                return -ENOMEM;

        /* Synchronous: nothing else can be served before we know whether we are the agent. */
        r = dbus_bus_request_name(a->bus, AGENT_BUS_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &error);
        if (r < 0) {
                log_error("Cannot request the bus name %s: %s", AGENT_BUS_NAME, error.message);
                dbus_error_free(&error);
                return -EIO;
        }
        if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER && r != DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER)
                return -EEXIST;
        return 0;
}
