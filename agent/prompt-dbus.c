/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "dbus/bus-append.h"
#include "dbus/dbus-error-names.h"
#include "log.h"
#include "macro.h"
#include "prompt-dbus.h"
#include "prompt-text.h"

/* A PIN longer than this is refused (PKCS#11 tokens take far shorter ones), as from pinentry. */
#define PIN_MAX 256
/* Untrusted text (file names, the executable, certificate names) is cut to this many characters. */
#define TEXT_MAX 1024

typedef enum DbusOp {
        OP_NONE,
        OP_CONFIRM,
        OP_ASK_PIN,
        OP_PINPAD,
} DbusOp;

static const char *const op_methods[] = {
        [OP_CONFIRM] = "Confirm",
        [OP_ASK_PIN] = "AskPin",
        [OP_PINPAD] = "ShowPinpad",
};

typedef struct DbusPrompter {
        Prompter base;
        sd_event *event;
        DBusConnection *bus;
        char *name, *path;
        uint64_t timeout_usec;
        bool gone; /* the application left or unregistered: nothing is sent any more */

        /* The open call. */
        DbusOp op;
        DBusPendingCall *pending;
        sd_event_source *timer;
        PromptConfirmHandler confirm_handler;
        PromptPinHandler pin_handler;
        void *userdata;
} DbusPrompter;

static const PrompterVTable app_vtable;

static DbusPrompter *to_dbus(Prompter *base) {
        return (DbusPrompter *) base;
}

/* Tells the application that its open call is over; no reply is wanted. */
static void send_cancel(DbusPrompter *p) {
        DBusMessage *m = dbus_message_new_method_call(p->name, p->path, PROMPTER_INTERFACE, "Cancel");

        if (!m)
                return;
        dbus_message_set_no_reply(m, true);
        (void) dbus_connection_send(p->bus, m, NULL);
        dbus_message_unref(m);
}

/* Ends the open call without calling its handler; with tell, the application gets Cancel. */
static void call_close(DbusPrompter *p, bool tell) {
        if (p->op == OP_NONE)
                return;
        if (p->pending) {
                dbus_pending_call_cancel(p->pending);
                dbus_pending_call_unref(p->pending);
                p->pending = NULL;
        }
        p->timer = sd_event_source_disable_unref(p->timer);
        if (tell && !p->gone)
                send_cancel(p);
        p->op = OP_NONE;
        p->confirm_handler = NULL;
        p->pin_handler = NULL;
        p->userdata = NULL;
}

/* Closes the call, then calls its handler (which may start the next prompt at once). pin is handed over. */
static void finish(DbusPrompter *p, PromptReply reply, int error, Secret *pin, bool tell) {
        DbusOp op = p->op;
        PromptConfirmHandler ch = p->confirm_handler;
        PromptPinHandler ph = p->pin_handler;
        void *userdata = p->userdata;

        call_close(p, tell);
        if (reply != PROMPT_REPLY_ERROR)
                error = 0;
        if (op == OP_ASK_PIN && ph)
                ph(&p->base, reply, error, pin, userdata); /* pin is set only with YES */
        else {
                secret_free(pin);
                if (ch)
                        ch(&p->base, reply, error, userdata);
        }
}

static int parse_answer(const char *answer, PromptReply *ret) {
        if (streq(answer, "yes"))
                *ret = PROMPT_REPLY_YES;
        else if (streq(answer, "no"))
                *ret = PROMPT_REPLY_NO;
        else if (streq(answer, "cancel"))
                *ret = PROMPT_REPLY_CANCELLED;
        else
                return -EPROTO;
        return 0;
}

/* An error reply: the application refused the call, or is gone (kyso_bus_error_reply_to_errno()). */
static int error_reply(const char *name, PromptReply *ret_reply) {
        int k = kyso_bus_error_reply_to_errno(name);

        *ret_reply = k == -ECANCELED ? PROMPT_REPLY_CANCELLED : PROMPT_REPLY_ERROR;
        return k == -ECANCELED ? 0 : k;
}

/* Wipes the strings of an AskPin reply, whatever its signature: a PIN may be among them. The body belongs to
 * this message alone (we hold its only reference), so writing into it is safe. */
static void wipe_strings(DBusMessage *m) {
        DBusMessageIter it;

        if (!dbus_message_iter_init(m, &it))
                return;
        do
                if (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING) {
                        const char *s = NULL;
                        dbus_message_iter_get_basic(&it, &s);
                        explicit_bzero((char *) s, strlen(s));
                }
        while (dbus_message_iter_next(&it));
}

/* AskPin's (s answer, s pin). The PIN is copied into a Secret at once; the caller wipes the message's copy.
 * libdbus's read buffer may keep bytes of it until later messages overwrite them, out of our reach. */
static int parse_pin(DBusMessage *reply, PromptReply *ret_reply, Secret **ret_pin) {
        const char *answer = NULL, *pin = NULL;
        size_t len;
        PromptReply r;
        int k;

        if (!streq(dbus_message_get_signature(reply), "ss") ||
            !dbus_message_get_args(
                    reply, NULL, DBUS_TYPE_STRING, &answer, DBUS_TYPE_STRING, &pin, DBUS_TYPE_INVALID))
                return -EPROTO;
        len = strlen(pin);
        k = parse_answer(answer, &r);
        if (k < 0)
                return k;
        if (r == PROMPT_REPLY_YES) {
                if (len == 0 || len > PIN_MAX)
                        return -EPROTO;
                *ret_pin = secret_new(pin, len);
                if (!*ret_pin)
                        return -ENOMEM;
        }
        *ret_reply = r;
        return 0;
}

static void on_reply(DBusPendingCall *pending, void *userdata) {
        DbusPrompter *p = userdata;
        DBusMessage *reply = dbus_pending_call_steal_reply(pending);
        PromptReply r = PROMPT_REPLY_ERROR;
        Secret *pin = NULL;
        const char *answer = NULL;
        int k;

        dbus_pending_call_unref(p->pending);
        p->pending = NULL;
        if (!reply) {
                finish(p, PROMPT_REPLY_ERROR, -EIO, NULL, false);
                return;
        }
        if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR)
                k = error_reply(dbus_message_get_error_name(reply), &r);
        else if (p->op == OP_ASK_PIN) {
                k = parse_pin(reply, &r, &pin);
                wipe_strings(reply);
        } else if (
                !dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &answer, DBUS_TYPE_INVALID) ||
                !streq(dbus_message_get_signature(reply), "s"))
                k = -EPROTO;
        else
                k = parse_answer(answer, &r);
        if (k < 0)
                log_debug(
                        "Prompter %s %s answered %s with %s '%s'.", p->name, p->path, op_methods[p->op],
                        dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR ? "the error" : "signature",
                        dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR
                                ? dbus_message_get_error_name(reply)
                                : dbus_message_get_signature(reply));
        dbus_message_unref(reply);
        finish(p, k < 0 ? PROMPT_REPLY_ERROR : r, k, pin, false);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        DbusPrompter *p = userdata;
        finish(p, PROMPT_REPLY_ERROR, -ETIMEDOUT, NULL, true);
        return 0;
}

/* Sends the call m (taken) and opens the prompt with its handler. appended: all of m's arguments could be
 * appended; when not (memory ran out), nothing is sent. */
static int call_start(
        DbusPrompter *p, DbusOp op, DBusMessage *m, bool appended, PromptConfirmHandler ch,
        PromptPinHandler ph, void *userdata) {
        int k;

        if (!appended) {
                dbus_message_unref(m);
                return -ENOMEM;
        }
        if (!dbus_connection_send_with_reply(p->bus, m, &p->pending, DBUS_TIMEOUT_INFINITE)) {
                dbus_message_unref(m);
                return -ENOMEM;
        }
        dbus_message_unref(m);
        if (!p->pending)
                return -ENOTCONN; /* our own bus connection is closed */
        if (!dbus_pending_call_set_notify(p->pending, on_reply, p, NULL)) {
                k = -ENOMEM;
                goto fail;
        }
        k = sd_event_add_time_relative(
                p->event, &p->timer, CLOCK_MONOTONIC, p->timeout_usec, 0, on_timeout, p);
        if (k < 0)
                goto fail;
        (void) sd_event_source_set_description(p->timer, "prompter-timeout");
        p->op = op;
        p->confirm_handler = ch;
        p->pin_handler = ph;
        p->userdata = userdata;
        return 0;
fail:
        dbus_pending_call_cancel(p->pending);
        dbus_pending_call_unref(p->pending);
        p->pending = NULL;
        send_cancel(p);
        return k;
}

/* The call of op to the application (no prompt is open: prompter_confirm() and the others see to it); the
 * caller appends its arguments at *ret_it and hands it to call_start(). */
static int call_new(DbusPrompter *p, DbusOp op, DBusMessage **ret, DBusMessageIter *ret_it) {
        DBusMessage *m;

        if (p->gone)
                return -ENOTCONN;
        m = dbus_message_new_method_call(p->name, p->path, PROMPTER_INTERFACE, op_methods[op]);
        if (!m)
                return -ENOMEM;
        dbus_message_iter_init_append(m, ret_it);
        *ret = m;
        return 0;
}

/* Untrusted text as the application gets it: valid UTF-8 without control characters; "" when unknown. */
static char *text(const char *s) {
        return s ? prompt_text_sanitize(s, TEXT_MAX) : strdup("");
}

static int append_text(DBusMessageIter *it, const char *s) {
        _cleanup_free_ char *t = text(s);

        if (!t)
                return -ENOMEM;
        return bus_append_string(it, t);
}

static int append_documents(DBusMessageIter *it, const PromptDocument *docs, size_t n) {
        DBusMessageIter arr, st;

        if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "(sts)", &arr))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                dbus_uint64_t size = docs[i].size;

                if (!dbus_message_iter_open_container(&arr, DBUS_TYPE_STRUCT, NULL, &st) ||
                    append_text(&st, docs[i].name) < 0 ||
                    !dbus_message_iter_append_basic(&st, DBUS_TYPE_UINT64, &size) ||
                    append_text(&st, docs[i].sha256) < 0 || !dbus_message_iter_close_container(&arr, &st)) {
                        dbus_message_iter_abandon_container_if_open(&arr, &st);
                        dbus_message_iter_abandon_container(it, &arr);
                        return -ENOMEM;
                }
        }
        if (!dbus_message_iter_close_container(it, &arr))
                return -ENOMEM;
        return 0;
}

static int
app_confirm(Prompter *base, const PromptRequest *req, PromptConfirmHandler handler, void *userdata) {
        DbusPrompter *p = to_dbus(base);
        DBusMessage *m;
        DBusMessageIter it;
        dbus_uint32_t pid;
        dbus_int64_t not_after;
        dbus_bool_t final_try;
        bool appended;
        int k;

        k = call_new(p, OP_CONFIRM, &m, &it);
        if (k < 0)
                return k;
        pid = req->pid > 0 ? (dbus_uint32_t) req->pid : 0;
        not_after = (dbus_int64_t) req->cert_not_after;
        final_try = !!(req->flags & PROMPT_FLAG_FINAL_TRY);
        appended = append_text(&it, req->app_name) >= 0 && append_text(&it, req->executable) >= 0 &&
                   dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &pid) &&
                   append_documents(&it, req->documents, req->n_documents) >= 0 &&
                   append_text(&it, req->cert_holder) >= 0 &&
                   append_text(&it, req->cert_organization) >= 0 && append_text(&it, req->cert_kind) >= 0 &&
                   dbus_message_iter_append_basic(&it, DBUS_TYPE_INT64, &not_after) &&
                   append_text(&it, req->role) >= 0 &&
                   dbus_message_iter_append_basic(&it, DBUS_TYPE_BOOLEAN, &final_try);
        return call_start(p, OP_CONFIRM, m, appended, handler, NULL, userdata);
}

static int
app_ask_pin(Prompter *base, const PromptPinRequest *req, PromptPinHandler handler, void *userdata) {
        DbusPrompter *p = to_dbus(base);
        const char *state;
        dbus_int32_t tries;
        dbus_bool_t wrong;
        DBusMessage *m;
        DBusMessageIter it;
        bool appended;
        int k;

        state = prompt_pin_state_to_string(req->state);
        if (!state || req->state == PROMPT_PIN_LOCKED)
                return -EPERM; /* a locked PIN is never asked (prompt_text_pin_locked()) */
        k = call_new(p, OP_ASK_PIN, &m, &it);
        if (k < 0)
                return k;
        tries = req->tries_left;
        wrong = req->previous_wrong;
        appended = append_text(&it, req->token_label) >= 0 && bus_append_string(&it, state) >= 0 &&
                   dbus_message_iter_append_basic(&it, DBUS_TYPE_INT32, &tries) &&
                   dbus_message_iter_append_basic(&it, DBUS_TYPE_BOOLEAN, &wrong);
        return call_start(p, OP_ASK_PIN, m, appended, NULL, handler, userdata);
}

static int
app_show_pinpad(Prompter *base, const char *token_label, PromptConfirmHandler handler, void *userdata) {
        DbusPrompter *p = to_dbus(base);
        DBusMessage *m;
        DBusMessageIter it;
        int k;

        k = call_new(p, OP_PINPAD, &m, &it);
        if (k < 0)
                return k;
        return call_start(p, OP_PINPAD, m, append_text(&it, token_label) >= 0, handler, NULL, userdata);
}

static void app_cancel(Prompter *base) {
        call_close(to_dbus(base), true);
}

static bool app_busy(Prompter *base) {
        return to_dbus(base)->op != OP_NONE;
}

static void app_free(Prompter *base) {
        DbusPrompter *p = to_dbus(base);

        call_close(p, true);
        dbus_connection_unref(p->bus);
        sd_event_unref(p->event);
        free(p->name);
        free(p->path);
        free(p);
}

static const PrompterVTable app_vtable = {
        .confirm = app_confirm,
        .ask_pin = app_ask_pin,
        .show_pinpad = app_show_pinpad,
        .cancel = app_cancel,
        .busy = app_busy,
        .free = app_free,
};

int dbus_prompter_new(
        sd_event *event, DBusConnection *bus, const char *name, const char *path, uint64_t timeout_usec,
        Prompter **ret) {
        DbusPrompter *p;

        if (!event || !bus || !name || !path || !ret || !dbus_validate_path(path, NULL))
                return -EINVAL;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->base.vtable = &app_vtable;
        p->event = sd_event_ref(event);
        p->bus = dbus_connection_ref(bus);
        p->timeout_usec = timeout_usec > 0 ? timeout_usec : DBUS_PROMPTER_DEFAULT_TIMEOUT_USEC;
        p->name = strdup(name);
        p->path = strdup(path);
        if (!p->name || !p->path) {
                app_free(&p->base);
                return -ENOMEM;
        }
        *ret = &p->base;
        return 0;
}

const char *dbus_prompter_get_name(Prompter *p) {
        return to_dbus(p)->name;
}

const char *dbus_prompter_get_path(Prompter *p) {
        return to_dbus(p)->path;
}

void dbus_prompter_disconnect(Prompter *base) {
        DbusPrompter *p = to_dbus(base);

        p->gone = true;
        if (p->op != OP_NONE)
                finish(p, PROMPT_REPLY_ERROR, -ENOTCONN, NULL, false);
}
