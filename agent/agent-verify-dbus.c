/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-options.h"
#include "agent-verify-dbus.h"
#include "agent-verify.h"
#include "dbus/bus-method.h"
#include "dbus/dbus-dict.h"
#include "dbus/dbus-error-names.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "sign-pdf.h"

/* Verify(h document, h signature_or_none, a{sv} options) → aa{sv} on org.kyso.Agent1: the call waits for its
 * VerifyJob (a worker thread), and the reply is sent when the job is done: one dict per signature. Every
 * text of it is in the caller's language (the locale option): the job runs and is answered in the locale it
 * was submitted in. */

typedef struct VerifyCall {
        VerifyJob *job;
        DBusConnection *bus;
        DBusMessage *m;
} VerifyCall;

static void verify_call_run(void *data) {
        VerifyCall *v = data;
        verify_job_run(v->job);
}

static void verify_call_cancel(void *data) {
        VerifyCall *v = data;
        verify_job_cancel(v->job);
}

static void verify_call_free(void *data) {
        VerifyCall *v = data;

        if (!v)
                return;
        verify_job_free(v->job);
        if (v->m)
                dbus_message_unref(v->m);
        if (v->bus)
                dbus_connection_unref(v->bus);
        free(v);
}

static const char *level_of(bool timestamp, bool dss) {
        return !timestamp ? "B-B" : dss ? "B-LT" : "B-T";
}

/* What the policy said of the signer: who, kind, competent person, times, verdict. */
static int append_check(DBusMessageIter *d, const SignatureCheck *c) {
        if ((c->signer_name && dbus_dict_append_string(d, "signer", c->signer_name) < 0) ||
            (c->organization && dbus_dict_append_string(d, "organization", c->organization) < 0) ||
            (c->signer_title && dbus_dict_append_string(d, "title", c->signer_title) < 0) ||
            dbus_dict_append_string(d, "cert-kind", cert_kind_to_string(c->kind)) < 0 ||
            dbus_dict_append_bool(d, "competent-person", c->counts_as_leader) < 0 ||
            (c->leader_reason && dbus_dict_append_string(d, "role-evidence", c->leader_reason) < 0))
                return -ENOMEM;
        if (c->time_source == SIGNING_TIME_TIMESTAMP &&
            dbus_dict_append_int64(d, "timestamp-time", (int64_t) c->signing_time) < 0)
                return -ENOMEM;
        if (c->time_source == SIGNING_TIME_CLAIMED &&
            dbus_dict_append_int64(d, "claimed-time", (int64_t) c->signing_time) < 0)
                return -ENOMEM;
        return 0;
}

static int append_pdf_signature(DBusMessageIter *arr, const VerifyJob *j, size_t i) {
        const PdfSignature *s = &j->pdf->signatures[i];
        const SignatureCheck *c = j->checked[i] ? &j->checks[i] : NULL;
        bool counts = pdf_signature_counts(s);
        bool valid = counts && (c ? c->valid : s->kind == PDF_SIGNATURE_TIMESTAMP);
        _cleanup_free_ char *why = NULL;
        DBusMessageIter d;

        if (!counts) {
                why = pdf_signature_reason(s);
                if (!why)
                        return -ENOMEM;
        } else if (!c && !valid)
                why = strdup(_("The signature has no signer certificate, so it cannot be checked."));
        if (dbus_dict_open(arr, &d) < 0 || dbus_dict_append_string(&d, "format", "pdf") < 0 ||
            dbus_dict_append_string(&d, "field", s->field_name) < 0 ||
            dbus_dict_append_string(&d, "kind", pdf_signature_kind_to_string(s->kind)) < 0 ||
            dbus_dict_append_string(&d, "sub-filter", pdf_sub_filter_to_string(s->sub_filter)) < 0 ||
            dbus_dict_append_string(
                    &d, "level", level_of(c ? c->has_timestamp : s->has_timestamp_time, j->pdf->has_dss)) <
                    0 ||
            /* 1-based, as the audit record's pdf_revision: the original file is revision 1. */
            dbus_dict_append_uint32(&d, "revision", s->revision) < 0 ||
            dbus_dict_append_bool(&d, "covers-whole-file", s->covers_whole_file) < 0 ||
            dbus_dict_append_string(&d, "problem", pdf_signature_problem_to_string(s->problem)) < 0 ||
            dbus_dict_append_bool(&d, "valid", valid) < 0)
                return -ENOMEM;
        if (s->has_claimed_time && dbus_dict_append_int64(&d, "claimed-time", (int64_t) s->claimed_time) < 0)
                return -ENOMEM;
        if (s->kind == PDF_SIGNATURE_TIMESTAMP && s->has_timestamp_time &&
            dbus_dict_append_int64(&d, "timestamp-time", (int64_t) s->timestamp_time) < 0)
                return -ENOMEM;
        if (c && append_check(&d, c) < 0)
                return -ENOMEM;
        if (dbus_dict_append_string(
                    &d, "reason", why ?: (c ? c->reason : pdf_signature_problem_message(s->problem))) < 0)
                return -ENOMEM;
        return dbus_dict_close(arr, &d);
}

static int append_cms_signer(DBusMessageIter *arr, const VerifyJob *j, size_t i) {
        const SignatureCheck *c = &j->checks[i];
        DBusMessageIter d;

        if (dbus_dict_open(arr, &d) < 0 || dbus_dict_append_string(&d, "format", "cades") < 0 ||
            dbus_dict_append_string(&d, "kind", "detached") < 0 ||
            dbus_dict_append_string(&d, "level", level_of(c->has_timestamp, false)) < 0 ||
            dbus_dict_append_bool(&d, "covers-whole-file", c->integrity_ok) < 0 ||
            dbus_dict_append_bool(&d, "valid", c->valid) < 0 || append_check(&d, c) < 0 ||
            dbus_dict_append_string(&d, "reason", c->reason) < 0)
                return -ENOMEM;
        return dbus_dict_close(arr, &d);
}

static DBusMessage *verify_reply(const VerifyJob *j, DBusMessage *m) {
        DBusMessage *reply;
        DBusMessageIter it, arr;
        int k = 0;

        if (j->error == -ETIMEDOUT || j->error == -EFBIG)
                return kyso_bus_error_reply(
                        m, KYSO_BUS_ERROR_BAD_DOCUMENT,
                        j->error == -EFBIG ? _("The document is larger than the agent reads. Verify it with "
                                               "'kysoctl verify', which needs no agent.")
                                           : _("The application stopped sending the document, so it was not "
                                               "verified. Verify again."));
        if (j->unreadable) {
                _cleanup_free_ char *msg = NULL;
                log_warning_errno(
                        j->error, "Verify for %s: cannot read the document: %m",
                        strna(dbus_message_get_sender(m)));
                if (asprintf(
                            &msg,
                            _("The document could not be read (%s). Give a file open for reading, then verify "
                              "again."),
                            strerror(-j->error)) < 0)
                        return NULL;
                return kyso_bus_error_reply(m, KYSO_BUS_ERROR_BAD_DOCUMENT, msg);
        }
        if (j->error < 0)
                return kyso_bus_error_reply_errno(m, j->error, NULL);
        if (j->no_signature)
                return kyso_bus_error_reply(
                        m, KYSO_BUS_ERROR_INVALID_ARGS,
                        _("The document is not a PDF: give its detached signature (.p7s) as the second "
                          "argument."));
        if (j->not_cms)
                return kyso_bus_error_reply(
                        m, KYSO_BUS_ERROR_BAD_DOCUMENT,
                        _("The signature file is not a detached CMS signature of this document."));
        if (j->is_pdf && j->pdf->document_problem != PDF_DOCUMENT_OK)
                return kyso_bus_error_reply(
                        m, KYSO_BUS_ERROR_BAD_DOCUMENT,
                        pdf_document_problem_message(j->pdf->document_problem));

        reply = dbus_message_new_method_return(m);
        if (!reply)
                return NULL;
        dbus_message_iter_init_append(reply, &it);
        if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "a{sv}", &arr)) {
                dbus_message_unref(reply);
                return NULL;
        }
        for (size_t i = 0; k >= 0 && i < j->n; i++)
                k = j->is_pdf ? append_pdf_signature(&arr, j, i) : append_cms_signer(&arr, j, i);
        if (k < 0 || !dbus_message_iter_close_container(&it, &arr)) {
                dbus_message_unref(reply);
                return NULL;
        }
        return reply;
}

static bool fd_readable(int fd) {
        int fl = fcntl(fd, F_GETFL);
        return fl >= 0 && (fl & O_ACCMODE) != O_WRONLY && !(fl & O_PATH);
}

static void verify_call_done(void *data, void *userdata) {
        VerifyCall *v = data;
        (void) userdata;

        bus_send_reply(v->bus, v->m, verify_reply(v->job, v->m));
}

DBusMessage *
agent_verify_method(AgentWorker *worker, const AgentConfig *config, DBusConnection *c, DBusMessage *m) {
        _cleanup_free_ int *fds = NULL;
        _cleanup_(policy_freep) Policy *policy = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_(i18n_restore_localep) locale_t saved_locale = (locale_t) 0;
        _cleanup_free_ char *msg = NULL;
        locale_t locale = (locale_t) 0;
        size_t n = 0;
        DBusMessageIter it;
        VerifyCall *v;
        WorkerJob *job;
        int k;

        dbus_message_iter_init(m, &it);
        k = bus_read_fd(&it, &fds, &n);
        dbus_message_iter_next(&it);
        if (k >= 0)
                k = bus_read_fd(&it, &fds, &n);
        dbus_message_iter_next(&it);
        if (k >= 0 && n == 2)
                k = agent_read_call_options(&it, &locale, &msg);
        if (k < 0 || n != 2) {
                for (size_t i = 0; i < n; i++)
                        safe_close(fds[i]);
                return msg ? kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, msg)
                           : kyso_bus_error_reply_errno(m, k < 0 ? k : -EINVAL, NULL);
        }
        saved_locale = i18n_uselocale(locale);
        /* A write-only fd would only time out after document-timeout, as if the application had stalled. */
        if (!fd_readable(fds[0]) || !fd_readable(fds[1])) {
                safe_close(fds[0]);
                safe_close(fds[1]);
                return kyso_bus_error_reply(
                        m, KYSO_BUS_ERROR_INVALID_ARGS,
                        _("The document must be open for reading, and so must its signature (or /dev/null)."));
        }
        /* The policy in place now, as for a signature. */
        k = policy_load(policy_tools_path(), 0, &policy, &errors);
        if (k >= 0) {
                v = calloc(1, sizeof *v);
                k = v ? verify_job_new(
                                policy, fds[0], fds[1],
                                (int) MIN(config->document_timeout_usec / 1000, (uint64_t) INT_MAX),
                                config->max_document_size, &v->job)
                      : -ENOMEM;
                if (k >= 0) {
                        v->bus = dbus_connection_ref(c);
                        v->m = dbus_message_ref(m);
                        k = agent_worker_submit(
                                worker, verify_call_run, verify_call_done, verify_call_free, v, NULL, &job);
                }
                if (k >= 0)
                        worker_job_set_cancel(job, verify_call_cancel);
                else
                        verify_call_free(v);
        }
        safe_close(fds[0]);
        safe_close(fds[1]);
        if (k < 0) {
                log_error_errno(k, "Cannot verify for %s: %m", strna(dbus_message_get_sender(m)));
                return kyso_bus_error_reply_errno(m, k, NULL);
        }
        return NULL; /* verify_call_done() replies */
}
