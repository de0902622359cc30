/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent-revocation.h"
#include "agent-worker.h"
#include "alloc-util.h"
#include "log.h"
#include "macro.h"
#include "openssl-util.h"
#include "policy/policy-rules.h"
#include "sign-jobs.h"

/* A check cancelled because the policy changed cannot be interrupted (a server that hangs holds it until
 * the old policy's timeout): the checks under the new policy must not queue behind it. */
#define REVOCATION_THREADS 2U

typedef struct Entry {
        char sha256[65]; /* of the DER: the key */
        X509 *cert;
        bool present; /* seen in the last update */
        bool due;     /* to be checked (new, or the refresh interval passed) */
        bool checked; /* at least one check finished */
        CertStatus status;
        /* The last verdict's reason as a code and its parameters (policy-rules.h), rendered when asked for,
         * in the asker's language; NULL code when it has none. */
        const char *reason_code;
        char **reason_params;
} Entry;

struct AgentRevocation {
        sd_event *event;
        Policy *policy;     /* the last one that loaded: read again at each refresh (see reload_policy()) */
        bool policy_broken; /* the last load failed, and that was logged */
        uint64_t refresh_usec;
        AgentWorker *worker;
        sd_event_source *refresh_timer;
        Entry *entries;
        size_t n_entries;
        WorkerJob *job;
        char job_sha256[65];
        AgentRevocationCheckedCallback checked_cb;
        void *checked_userdata; /* the entry the job is about (it may be forgotten meanwhile) */
};

static void entry_done(Entry *e) {
        X509_free(e->cert);
        strv_free(e->reason_params);
}

static Entry *find(const AgentRevocation *r, const char *sha256) {
        for (size_t i = 0; i < r->n_entries; i++)
                if (streq(r->entries[i].sha256, sha256))
                        return &r->entries[i];
        return NULL;
}

static void kick(AgentRevocation *r);

static void check_done(void *data, void *userdata) {
        CertCheckJob *j = data;
        AgentRevocation *r = userdata;
        Entry *e;
        CertStatus s;

        r->job = NULL;
        /* The reasons below name the certificate's holder. */
        e = find(r, r->job_sha256);
        if (e) {
                s = j->error < 0 ? CERT_STATUS_UNKNOWN_REVOCATION : j->result.status;
                /* Servers that cannot be reached now do not make a revoked certificate good again. */
                if (!(e->checked && e->status == CERT_STATUS_REVOKED &&
                      s == CERT_STATUS_UNKNOWN_REVOCATION)) {
                        if (s == CERT_STATUS_REVOKED && (!e->checked || e->status != CERT_STATUS_REVOKED))
                                log_warning(
                                        "A certificate on a token is revoked: %s", strna(j->result.reason));
                        else if (s == CERT_STATUS_UNKNOWN_REVOCATION && !e->checked)
                                log_notice(
                                        "A certificate's revocation status is unknown for now: %s",
                                        j->error < 0 ? "the check failed" : strna(j->result.reason));
                        e->status = s;
                        strv_free(e->reason_params);
                        e->reason_params = NULL;
                        e->reason_code = NULL;
                        if (j->error >= 0 && j->result.reason_code) {
                                e->reason_params = strv_from_array(
                                        (const char *const *) j->result.reason_params,
                                        strv_length(j->result.reason_params));
                                if (e->reason_params || !j->result.reason_params)
                                        e->reason_code = j->result.reason_code;
                        }
                }
                e->checked = true;
        }
        kick(r);
        if (r->checked_cb && agent_revocation_all_checked(r))
                r->checked_cb(r, r->checked_userdata);
}

/* One check at a time, however many certificates: the inventory takes one thread, and a second one only
 * while a check cancelled by a policy change still waits for its server (see REVOCATION_THREADS). */
static void kick(AgentRevocation *r) {
        CertCheckJob *j;
        int k;

        if (r->job)
                return;
        for (size_t i = 0; i < r->n_entries; i++) {
                Entry *e = &r->entries[i];

                if (!e->due)
                        continue;
                e->due = false;
                /* Always from the server: these checks are what keeps the OCSP cache fresh for signing. */
                k = cert_check_job_new(r->policy, e->cert, NULL, 0, CERT_VALIDATE_FRESH_OCSP, &j);
                if (k >= 0) {
                        k = agent_worker_submit(
                                r->worker, cert_check_job_run, check_done, cert_check_job_free, j, r,
                                &r->job);
                        if (k < 0)
                                cert_check_job_free(j);
                }
                if (k < 0) {
                        log_warning_errno(k, "Cannot check the revocation of certificate %s: %m", e->sha256);
                        continue;
                }
                memcpy(r->job_sha256, e->sha256, sizeof r->job_sha256);
                return;
        }
}

/* Signing reads the policy again for each request (request_prepare()); the inventory reads it at each
 * refresh, the same way, so that a change by the administrator (a server, a URL rewrite, the revocation
 * mode) shows within one refresh interval rather than at the agent's next start. A policy that does not load
 * changes nothing: the statuses and the policy they were computed with stay, and checks go on with it. */
static void reload_policy(AgentRevocation *r) {
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        int k;

        /* Never policy_tools_flags(): see request_prepare(). */
        k = policy_load(policy_tools_path(), 0, &p, &errors);
        if (k < 0) {
                if (!r->policy_broken)
                        log_warning_errno(
                                k,
                                "Cannot load the signing policy %s (%m%s%s): the certificates' revocation status "
                                "is still checked with the policy loaded before.",
                                policy_tools_path(), errors && errors[0] ? ": " : "",
                                errors && errors[0] ? errors[0] : "");
                r->policy_broken = true;
                return;
        }
        if (r->policy_broken)
                log_info("The signing policy %s loads again.", policy_tools_path());
        r->policy_broken = false;
        if (streq(p->digest, r->policy->digest))
                return;

        log_info(
                "The signing policy changed: the certificates' revocation status is checked again under it.");
        policy_free(r->policy);
        r->policy = TAKE_PTR(p);
        /* What the old rules said (other servers, another mode) is not what the new ones say: every
         * certificate starts afresh, "unchecked" until its check under the new policy is done. A check in
         * flight is under the old policy: its result is dropped. */
        r->job = worker_job_cancel(r->job);
        for (size_t i = 0; i < r->n_entries; i++) {
                r->entries[i].checked = false;
                r->entries[i].status = CERT_STATUS_UNKNOWN_REVOCATION;
        }
}

static int refresh_cb(sd_event_source *s, uint64_t usec, void *userdata) {
        AgentRevocation *r = userdata;
        (void) usec;

        reload_policy(r);
        for (size_t i = 0; i < r->n_entries; i++)
                r->entries[i].due = true;
        kick(r);
        (void) sd_event_source_set_time_relative(s, r->refresh_usec);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int agent_revocation_new(sd_event *event, Policy *policy, uint64_t refresh_usec, AgentRevocation **ret) {
        AgentRevocation *r;
        int k;

        if (!policy || refresh_usec == 0)
                return -EINVAL;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(event);
        r->policy = policy_ref(policy);
        r->refresh_usec = refresh_usec;
        k = agent_worker_new(event, REVOCATION_THREADS, &r->worker);
        if (k >= 0)
                k = sd_event_add_time_relative(
                        event, &r->refresh_timer, CLOCK_MONOTONIC, refresh_usec, 1000 * 1000, refresh_cb, r);
        if (k < 0) {
                agent_revocation_free(r);
                return k;
        }
        (void) sd_event_source_set_description(r->refresh_timer, "revocation-refresh");
        *ret = r;
        return 0;
}

AgentRevocation *agent_revocation_free(AgentRevocation *r) {
        if (!r)
                return NULL;
        worker_job_cancel(r->job);
        agent_worker_free(r->worker);
        sd_event_source_disable_unref(r->refresh_timer);
        for (size_t i = 0; i < r->n_entries; i++)
                entry_done(&r->entries[i]);
        free(r->entries);
        policy_free(r->policy);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

int agent_revocation_update(AgentRevocation *r, const P11Certificate *const *certs, size_t n_certs) {
        size_t kept = 0;

        if (!r)
                return 0;
        for (size_t i = 0; i < r->n_entries; i++)
                r->entries[i].present = false;
        for (size_t i = 0; i < n_certs; i++) {
                const unsigned char *p = certs[i]->der;
                char sha256[65];
                Entry *e, *n;
                X509 *x;

                if (!certs[i]->der || certs[i]->der_size == 0 ||
                    sha256_hex(certs[i]->der, certs[i]->der_size, sha256) < 0)
                        continue;
                e = find(r, sha256);
                if (e) {
                        e->present = true;
                        continue;
                }
                x = d2i_X509(NULL, &p, (long) certs[i]->der_size);
                if (!x)
                        continue; /* not a certificate we can use: the inventory leaves it out too */
                n = ARRAY_APPEND(r->entries, r->n_entries);
                if (!n) {
                        X509_free(x);
                        return -ENOMEM;
                }
                *n = (Entry){
                        .cert = x,
                        .present = true,
                        .due = true,
                };
                memcpy(n->sha256, sha256, sizeof sha256);
        }
        /* Forget the certificates that are gone (a check in flight for one of them finds nothing). */
        for (size_t i = 0; i < r->n_entries; i++) {
                if (!r->entries[i].present) {
                        entry_done(&r->entries[i]);
                        continue;
                }
                r->entries[kept++] = r->entries[i];
        }
        r->n_entries = kept;
        kick(r);
        return 0;
}

void agent_revocation_apply(const AgentRevocation *r, CertificateInfo *info) {
        const Entry *e;

        if (!r || !info->status || !info->sha256 ||
            !(streq(info->status, "valid") || streq(info->status, "expiring")))
                return;
        e = find(r, info->sha256);
        if (!e || !e->checked)
                info->status = "unchecked";
        else if (!cert_status_is_usable(e->status)) {
                info->status = cert_status_to_api_string(e->status);
                /* Why, in the asker's language (as the offline checks' reasons are); kept without one when
                 * it cannot be rendered, the status says the rest. */
                char *why = NULL;
                if (e->reason_code &&
                    policy_reason_render(e->reason_code, (const char *const *) e->reason_params, &why) >=
                            0) {
                        free(info->reason);
                        info->reason = why;
                }
        }
}

bool agent_revocation_all_checked(const AgentRevocation *r) {
        if (!r)
                return true;
        for (size_t i = 0; i < r->n_entries; i++)
                if (!r->entries[i].checked)
                        return false;
        return true;
}

void agent_revocation_set_checked_callback(
        AgentRevocation *r, AgentRevocationCheckedCallback cb, void *userdata) {
        r->checked_cb = cb;
        r->checked_userdata = userdata;
}

const Policy *agent_revocation_get_policy(const AgentRevocation *r) {
        return r ? r->policy : NULL;
}
