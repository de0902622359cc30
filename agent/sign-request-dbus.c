/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit-record.h"
#include "dbus/bus-append.h"
#include "dbus/bus-method.h"
#include "dbus/dbus-dict.h"
#include "dbus/dbus-error-names.h"
#include "dbus/dbus-introspect.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "pkcs11/p11-uri.h"
#include "sign-pdf.h"
#include "sign-request.h"
#include "string-util.h"

/* The bus glue of the signing requests: Sign and SignBatch on org.kyso.Agent1, each request's
 * org.kyso.Request1 object (AddDocuments, Cancel, Introspect), its Progress and Response signals, and the
 * client's departure (NameOwnerChanged), which cancels its requests. */

static int append_results(SignRequest *r, DBusMessageIter *it, const SignDoc *first_bad) {
        DBusMessageIter dict, entry, var, arr, doc;
        int k;

        k = dbus_dict_open(it, &dict);
        if (k < 0)
                return k;
        if (first_bad) {
                if (dbus_dict_append_string(&dict, "error", kyso_bus_error_to_name(first_bad->error)) < 0 ||
                    dbus_dict_append_string(&dict, "message", first_bad->message) < 0)
                        return -ENOMEM;
        }
        if (dbus_dict_open_entry(&dict, "documents", "aa{sv}", &entry, &var) < 0 ||
            !dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "a{sv}", &arr))
                return -ENOMEM;
        for (size_t i = 0; i < r->n_docs; i++) {
                const SignDoc *d = &r->docs[i];

                if (dbus_dict_open(&arr, &doc) < 0 || dbus_dict_append_string(&doc, "name", d->name) < 0 ||
                    dbus_dict_append_string(&doc, "status", doc_status_to_string(d->status)) < 0 ||
                    dbus_dict_append_string(&doc, "sha256", d->sha256) < 0)
                        return -ENOMEM;
                if (d->status != DOC_DONE &&
                    (dbus_dict_append_string(&doc, "error", kyso_bus_error_to_name(d->error)) < 0 ||
                     dbus_dict_append_string(&doc, "message", d->message) < 0))
                        return -ENOMEM;
                if (d->timestamp_time &&
                    dbus_dict_append_string(&doc, "timestamp-time", d->timestamp_time) < 0)
                        return -ENOMEM;
                if (d->article && dbus_dict_append_string(&doc, "article", d->article) < 0)
                        return -ENOMEM;
                if (dbus_dict_close(&arr, &doc) < 0)
                        return -ENOMEM;
        }
        if (dbus_dict_close_entry(&dict, &entry, &var, dbus_message_iter_close_container(&var, &arr)) < 0)
                return -ENOMEM;
        return dbus_dict_close(it, &dict);
}

void request_send_response(SignRequest *r) {
        const SignDoc *first_bad = NULL;
        dbus_uint32_t code = 0;
        DBusMessage *sig;
        DBusMessageIter it;

        for (size_t i = 0; i < r->n_docs; i++)
                if (r->docs[i].status != DOC_DONE) {
                        first_bad = &r->docs[i];
                        break;
                }
        if (first_bad)
                code = first_bad->status == DOC_CANCELLED ? 1 : 2;
        if (!r->owner || !r->owner->bus)
                return;
        sig = dbus_message_new_signal(r->path, SIGN_REQUEST_INTERFACE, "Response");
        if (!sig) {
                (void) log_oom();
                return;
        }
        (void) dbus_message_set_destination(sig, r->sender);
        dbus_message_iter_init_append(sig, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &code) ||
            append_results(r, &it, first_bad) < 0 || !dbus_connection_send(r->owner->bus, sig, NULL))
                (void) log_oom();
        dbus_message_unref(sig);
        dbus_connection_flush(r->owner->bus);
}

/* Progress(u index, u total, s name, s status, s message) to the caller: one per finished document, so a
 * batch shows its documents as they are done. */
void request_send_progress(SignRequest *r, const SignDoc *d) {
        dbus_uint32_t index = (dbus_uint32_t) (d - r->docs), total = (dbus_uint32_t) r->n_docs;
        const char *name = strempty(d->name), *status = doc_status_to_string(d->status),
                   *message = d->status == DOC_DONE ? "" : strempty(d->message);
        DBusMessageIter it;
        DBusMessage *m;

        if (!r->announced || !r->owner || !r->owner->bus)
                return;
        m = dbus_message_new_signal(r->path, SIGN_REQUEST_INTERFACE, "Progress");
        if (!m)
                return;
        (void) dbus_message_set_destination(m, r->sender);
        dbus_message_iter_init_append(m, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &index) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &total) ||
            bus_append_string(&it, name) < 0 || bus_append_string(&it, status) < 0 ||
            bus_append_string(&it, message) < 0 || !dbus_connection_send(r->owner->bus, m, NULL))
                (void) log_oom();
        dbus_message_unref(m);
}

static bool token_valid(const char *t) {
        if (!t || !*t || strlen(t) > 64)
                return false;
        for (const char *p = t; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_'))
                        return false;
        return true;
}

static char *sender_escape(const char *sender) {
        char *e = strdup(sender[0] == ':' ? sender + 1 : sender);
        if (!e)
                return NULL;
        for (char *p = e; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                        *p = '_';
        return e;
}

static SignRequest *find_request(AgentSign *s, const char *path) {
        for (SignRequest *r = s->requests; r; r = r->next)
                if (streq(r->path, path))
                        return r;
        return NULL;
}

/* Parses the options. Returns 0, or -EINVAL with *ret_msg set. */
/* The options of type s that the request keeps as they are. */
static const struct {
        const char *key;
        size_t offset;
} string_options[] = {
        { "reason", offsetof(SignRequest, reason) },
        { "location", offsetof(SignRequest, location) },
        { "doc_number", offsetof(SignRequest, doc_number) },
        { "doc_date", offsetof(SignRequest, doc_date) },
        { "classification", offsetof(SignRequest, classification) },
        { "label", offsetof(SignRequest, label) },
        { "locale", offsetof(SignRequest, locale_name) },
        { "name", offsetof(SignRequest, name) },
        { "copy_form", offsetof(SignRequest, copy_form) },
};

/* The longest text option (bytes): what the audit record keeps of a field, so that whatever is signed with
 * it is recorded in full. A file name is at most 255 bytes; this is over 340 Vietnamese letters even at 3
 * bytes each. */
#define SIGN_TEXT_OPTION_MAX AUDIT_FIELD_MAX

static void close_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

/* visible, doc_number_place, doc_date_place (udddd): the page (1 is the first) and the rectangle x, y,
 * width, height in PDF points from the page's bottom-left corner. */
static int
parse_place(DBusMessageIter *var, const char *key, const char *sig, PdfPlace *ret, char **ret_msg) {
        DBusMessageIter st;
        uint32_t page;
        double v[4];

        if (!streq(sig, "(udddd)")) {
                if (asprintf(ret_msg, _("The option '%s' has the wrong type '%s'."), key, sig) < 0)
                        *ret_msg = NULL;
                return -EINVAL;
        }
        dbus_message_iter_recurse(var, &st);
        dbus_message_iter_get_basic(&st, &page);
        for (size_t i = 0; i < 4; i++) {
                dbus_message_iter_next(&st);
                dbus_message_iter_get_basic(&st, &v[i]);
        }
        if (page == 0 || !isfinite(v[0]) || !isfinite(v[1]) || !(v[2] > 0 && v[2] < 14400) ||
            !(v[3] > 0 && v[3] < 14400) || fabs(v[0]) > 14400 || fabs(v[1]) > 14400) {
                if (asprintf(
                            ret_msg,
                            _("The option '%s' needs a page from 1 and a rectangle x, y, width, height in PDF "
                              "points (1/72 inch) with a positive width and height."),
                            key) < 0)
                        *ret_msg = NULL;
                return -EINVAL;
        }
        *ret = (PdfPlace){ .set = true, .page = page - 1, .rect = (PdfRect){ v[0], v[1], v[2], v[3] } };
        return 0;
}

static int
parse_visible(SignRequest *r, DBusMessageIter *var, const char *key, const char *sig, char **ret_msg) {
        PdfPlace place;
        int k;

        if (streq(key, "doc_number_place"))
                return parse_place(var, key, sig, &r->doc_number_place, ret_msg);
        if (streq(key, "doc_date_place"))
                return parse_place(var, key, sig, &r->doc_date_place, ret_msg);
        k = parse_place(var, key, sig, &place, ret_msg);
        if (k < 0)
                return k;
        r->visible = true;
        r->visible_page = place.page;
        r->visible_rect = place.rect;
        return 0;
}

/* image (h, or ay as before): the PNG a visible signature draws. Its bytes are taken now, before the request
 * exists: whether they are a usable PNG is decided with the document, before any prompt. */
static int parse_image(SignRequest *r, DBusMessageIter *var, const char *sig, char **ret_msg) {
        _cleanup_free_ uint8_t *copy = NULL;
        const uint8_t *data = NULL;
        size_t size = 0;
        int n = 0, k;

        if (streq(sig, "h")) {
                int fd;

                dbus_message_iter_get_basic(var, &fd); /* libdbus gives us a duplicate: ours to close */
                k = pdf_image_read_fd(fd, &copy, &size);
                safe_close(fd);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        if (asprintf(
                                    ret_msg,
                                    _("The option 'image' must be an open PNG file (a regular file) of at most "
                                      "%u bytes."),
                                    PDF_IMAGE_MAX_BYTES) < 0)
                                *ret_msg = NULL;
                        return -EINVAL;
                }
        } else if (streq(sig, "ay")) {
                DBusMessageIter arr;

                dbus_message_iter_recurse(var, &arr);
                dbus_message_iter_get_fixed_array(&arr, &data, &n);
                if (n <= 0 || (size_t) n > PDF_IMAGE_MAX_BYTES) {
                        if (asprintf(
                                    ret_msg, _("The option 'image' must be a PNG file of at most %u bytes."),
                                    PDF_IMAGE_MAX_BYTES) < 0)
                                *ret_msg = NULL;
                        return -EINVAL;
                }
                size = (size_t) n;
                copy = memdup(data, size);
                if (!copy)
                        return -ENOMEM;
        } else {
                if (asprintf(ret_msg, _("The option '%s' has the wrong type '%s'."), "image", sig) < 0)
                        *ret_msg = NULL;
                return -EINVAL;
        }
        free(r->image);
        r->image = TAKE_PTR(copy);
        r->image_size = size;
        return 0;
}

static int parse_options(
        SignRequest *r, DBusMessageIter *it, char **handle_token, int **ret_existing, size_t *ret_n_existing,
        char **ret_msg) {
        DBusMessageIter arr;

        dbus_message_iter_recurse(it, &arr);
        while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
                DBusMessageIter entry, var;
                const char *key, *sig;
                char **target = NULL;

                dbus_message_iter_recurse(&arr, &entry);
                dbus_message_iter_get_basic(&entry, &key);
                dbus_message_iter_next(&entry);
                dbus_message_iter_recurse(&entry, &var);
                sig = dbus_message_iter_get_signature(&var);

                if (streq(key, "timestamp") || streq(key, "more_documents")) {
                        dbus_bool_t b;
                        if (!streq(sig, "b"))
                                goto bad;
                        dbus_message_iter_get_basic(&var, &b);
                        if (streq(key, "timestamp"))
                                r->timestamp = b;
                        else
                                r->more_documents = b;
                } else if (streq(key, "level")) {
                        const char *v;
                        if (!streq(sig, "s"))
                                goto bad;
                        dbus_message_iter_get_basic(&var, &v);
                        r->level = signature_level_from_string(v);
                        r->level_asked = true;
                        if (r->level < 0) {
                                if (asprintf(
                                            ret_msg,
                                            _("The option 'level' must be B-B, B-T or B-LT, not '%s'."),
                                            v) < 0)
                                        *ret_msg = NULL;
                                dbus_free((char *) sig);
                                return -EINVAL;
                        }
                } else if (
                        streq(key, "visible") || streq(key, "doc_number_place") ||
                        streq(key, "doc_date_place") || streq(key, "image")) {
                        int k = streq(key, "image") ? parse_image(r, &var, sig, ret_msg)
                                                    : parse_visible(r, &var, key, sig, ret_msg);
                        if (k < 0) {
                                dbus_free((char *) sig);
                                return k;
                        }
                } else if (streq(key, "existing_signature") || streq(key, "existing_signatures")) {
                        bool many = streq(key, "existing_signatures");
                        int k;
                        if (!streq(sig, many ? "ah" : "h"))
                                goto bad;
                        k = many ? bus_read_fd_array(&var, ret_existing, ret_n_existing)
                                 : bus_read_fd(&var, ret_existing, ret_n_existing);
                        if (k < 0) {
                                dbus_free((char *) sig);
                                return k;
                        }
                } else {
                        if (streq(key, "handle_token"))
                                target = handle_token;
                        for (size_t i = 0; !target && i < ELEMENTSOF(string_options); i++)
                                if (streq(key, string_options[i].key))
                                        target = (char **) ((uint8_t *) r + string_options[i].offset);
                        if (target) {
                                const char *v;
                                if (!streq(sig, "s"))
                                        goto bad;
                                dbus_message_iter_get_basic(&var, &v);
                                if (strlen(v) > SIGN_TEXT_OPTION_MAX) {
                                        if (asprintf(
                                                    ret_msg,
                                                    _("The option '%s' is %zu bytes long: at most %d bytes are "
                                                      "accepted, which the audit log keeps in full. Shorten "
                                                      "it."),
                                                    key, strlen(v), SIGN_TEXT_OPTION_MAX) < 0)
                                                *ret_msg = NULL;
                                        dbus_free((char *) sig);
                                        return -EINVAL;
                                }
                                if (free_and_strdup(target, v) < 0) {
                                        dbus_free((char *) sig);
                                        return -ENOMEM;
                                }
                        } else
                                log_debug("Ignoring unknown option '%s'.", key);
                }
                dbus_free((char *) sig);
                dbus_message_iter_next(&arr);
                continue;
bad:
                if (asprintf(ret_msg, _("The option '%s' has the wrong type '%s'."), key, sig) < 0)
                        *ret_msg = NULL;
                dbus_free((char *) sig);
                return -EINVAL;
        }
        return 0;
}

/* Who asks, for the prompt and the audit record: the process id the bus gave for the sender (asked once per
 * peer, without blocking, when its uid was checked) and that process's executable. */

static void caller_credentials(SignRequest *r, pid_t pid) {
        char proc[64], exe[PATH_MAX];
        ssize_t n;

        r->caller.uid = getuid();
        r->caller.pid = pid;
        if (pid <= 0)
                return;
        snprintf(proc, sizeof proc, "/proc/%d/exe", (int) pid);
        n = readlink(proc, exe, sizeof exe - 1);
        if (n > 0) {
                exe[n] = 0;
                r->exe = strdup(exe);
                r->caller.exe = r->exe;
        }
}

/* doc_number_place and doc_date_place: an issue writes the text there, so the text must be given. */
static const char *check_text_places(const SignRequest *r) {
        if ((r->doc_number_place.set || r->doc_date_place.set) && r->role != SIGN_ROLE_ISSUE)
                return _("doc_number_place and doc_date_place are for the issue role only.");
        if (r->doc_number_place.set && isempty(r->doc_number))
                return _("doc_number_place is given without doc_number, the text to write there.");
        if (r->doc_date_place.set && isempty(r->doc_date))
                return _("doc_date_place is given without doc_date, the text to write there.");
        return NULL;
}

static DBusMessage *invalid(DBusMessage *m, const char *msg) {
        return kyso_bus_error_reply(m, KYSO_BUS_ERROR_INVALID_ARGS, msg);
}

/* A batch whose next part does not come in time would block its token's queue: it fails. */
static int collect_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);
        _cleanup_free_ char *msg = NULL;
        (void) src;
        (void) usec;

        log_warning(
                "Request %s: the next part of the batch (AddDocuments) did not come within %" PRIu64
                " s; the batch fails.",
                r->path, r->owner->config->batch_timeout_usec / 1000000);
        if (asprintf(
                    &msg,
                    _("The batch was never completed: no AddDocuments call (the last one with last=true) "
                      "came within %u seconds of the previous part, so nothing was signed. Send the whole "
                      "batch again."),
                    (unsigned) (r->owner->config->batch_timeout_usec / 1000000)) < 0)
                msg = NULL;
        request_fail_all(
                r, DOC_FAILED, KYSO_BUS_ERROR_INVALID_ARGS,
                msg ?: kyso_bus_error_message(KYSO_BUS_ERROR_INVALID_ARGS));
        return 0;
}

/* (Re)starts the wait for the next part of a batch. */
static int collect_arm(SignRequest *r) {
        uint64_t usec = r->owner->config->batch_timeout_usec;

        if (r->collect_timer)
                return sd_event_source_set_time_relative(r->collect_timer, usec) < 0 ||
                                       sd_event_source_set_enabled(r->collect_timer, SD_EVENT_ONESHOT) < 0
                               ? -ENOMEM
                               : 0;
        return sd_event_add_time_relative(
                r->owner->event, &r->collect_timer, CLOCK_MONOTONIC, usec, 100 * 1000, collect_timeout, r);
}

/* Takes n documents with their outputs (and existing signatures, when existing) into r, named label (the
 * app's name for a single document) or by their files: an empty label would leave the prompt and the record
 * without a name. */
static int
request_take_documents(SignRequest *r, int *docs, int *outs, int *existing, size_t n, const char *label) {
        SignDoc *v = reallocarray(r->docs, r->n_docs + n, sizeof *v);

        if (!v)
                return -ENOMEM;
        r->docs = v;
        for (size_t i = 0; i < n; i++) {
                SignDoc *d = &r->docs[r->n_docs++];

                *d = (SignDoc){
                        .fd = TAKE_FD(docs[i]),
                        .out_fd = TAKE_FD(outs[i]),
                        .existing_fd = existing ? TAKE_FD(existing[i]) : -EBADF,
                };
                d->name = label ? strdup(label) : doc_fd_name(d->fd);
                if (!d->name)
                        d->name = strdup("?");
        }
        return 0;
}

/* A regular file an fd names (dev, ino), to find two fds of one file. */
typedef struct FileId {
        dev_t dev;
        ino_t ino;
        size_t owner; /* the document (its index in the part, or n_docs + its index in the request) */
} FileId;

static void file_id_add(FileId *ids, size_t *n, int fd, size_t owner) {
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) >= 0 && S_ISREG(st.st_mode))
                ids[(*n)++] = (FileId){ .dev = st.st_dev, .ino = st.st_ino, .owner = owner };
}

/* Whether an output is a file another document of the batch reads or writes: a document (its output would
 * replace it with a signature), an existing signature, or another output (one of the two signatures would
 * be lost). The parts of the batch that came before (AddDocuments, r) count too. Each fd is looked at once:
 * a batch has up to 1000 documents. -ENOMEM, 1 when one is shared, 0 when none. */
static int
outputs_shared(const SignRequest *r, int *docs, int *outs, int *existing, size_t n_docs, size_t n_existing) {
        size_t n_before = r ? r->n_docs : 0, n = 0, n_outs = 0;
        _cleanup_free_ FileId *ids = calloc(3 * (n_docs + n_before) + 1, sizeof *ids);
        _cleanup_free_ FileId *out_ids = calloc(n_docs + 1, sizeof *out_ids);

        if (!ids || !out_ids)
                return -ENOMEM;
        for (size_t i = 0; i < n_docs; i++) {
                file_id_add(ids, &n, docs[i], i);
                if (n_existing > 0)
                        file_id_add(ids, &n, existing[i], i);
                file_id_add(out_ids, &n_outs, outs[i], i);
        }
        for (size_t i = 0; i < n_before; i++) {
                file_id_add(ids, &n, r->docs[i].fd, n_docs + i);
                file_id_add(ids, &n, r->docs[i].existing_fd, n_docs + i);
                file_id_add(ids, &n, r->docs[i].out_fd, n_docs + i);
        }
        for (size_t i = 0; i < n_outs; i++) {
                const FileId *o = &out_ids[i];
                for (size_t j = 0; j < n; j++)
                        /* A document's own input and signature are doc_output_check()'s. */
                        if (ids[j].dev == o->dev && ids[j].ino == o->ino && ids[j].owner != o->owner)
                                return 1;
                for (size_t j = 0; j < i; j++)
                        if (out_ids[j].dev == o->dev && out_ids[j].ino == o->ino)
                                return 1;
        }
        return 0;
}

/* The arguments' checks that need no token: NULL, or the reason they are refused. r: the request whose
 * earlier parts these documents join (AddDocuments), else NULL. */
static const char *check_documents(
        const SignRequest *r, int *docs, int *outs, int *existing, size_t n_docs, size_t n_outs,
        size_t n_existing) {
        size_t n_before = r ? r->n_docs : 0;

        if (n_docs != n_outs || n_before + n_docs > SIGN_BATCH_MAX)
                return _("Give one output for each document (at most 1000 documents).");
        if (n_existing > 0 && n_existing != n_docs)
                return _("Give one existing signature for each document.");
        for (size_t i = 0; i < n_docs; i++) {
                const char *bad = doc_output_check(docs[i], outs[i], n_existing > 0 ? existing[i] : -EBADF);
                if (bad)
                        return bad;
        }
        /* Out of memory: refused rather than risk a document. */
        if (outputs_shared(r, docs, outs, existing, n_docs, n_existing) != 0)
                return _("Each output must be a file of its own: not another document of the batch, nor its "
                         "existing signature, nor the output of another document.");
        return NULL;
}

/* Sign(h document, h output, s certificate_uri, s role, a{sv} options) and SignBatch(ah, ah, s, s, a{sv}):
 * the request is answered with its path at once and runs from the defer source; its outcome is Response. */
DBusMessage *agent_sign_method(AgentSign *s, DBusMessage *m, pid_t caller_pid) {
        _cleanup_free_ int *docs = NULL, *outs = NULL, *existing = NULL;
        size_t n_docs = 0, n_outs = 0, n_existing = 0;
        _cleanup_free_ char *handle = NULL, *msg = NULL, *esc = NULL, *unusable = NULL;
        const char *cert_uri, *role, *bad;
        bool batch = dbus_message_is_method_call(m, "org.kyso.Agent1", "SignBatch"), revoked = false;
        _cleanup_(i18n_restore_localep) locale_t saved_locale = (locale_t) 0;
        DBusMessage *reply = NULL;
        DBusMessageIter it;
        SignRequest *r;
        int k;

        r = request_new(s);
        if (!r)
                return NULL;
        dbus_message_iter_init(m, &it);
        k = batch ? bus_read_fd_array(&it, &docs, &n_docs) : bus_read_fd(&it, &docs, &n_docs);
        dbus_message_iter_next(&it);
        if (k >= 0)
                k = batch ? bus_read_fd_array(&it, &outs, &n_outs) : bus_read_fd(&it, &outs, &n_outs);
        dbus_message_iter_next(&it);
        if (k < 0)
                goto oom;
        dbus_message_iter_get_basic(&it, &cert_uri);
        dbus_message_iter_next(&it);
        dbus_message_iter_get_basic(&it, &role);
        dbus_message_iter_next(&it);
        k = parse_options(r, &it, &handle, &existing, &n_existing, &msg);
        if (k == -ENOMEM)
                goto oom;
        /* From here on the caller reads its own language, when the agent has it. */
        r->locale = i18n_locale(r->locale_name);
        saved_locale = i18n_uselocale(r->locale);
        if (k < 0) {
                reply = invalid(m, msg);
                goto out;
        }
        if (n_docs == 0) {
                reply = invalid(m, _("Give one output for each document (at most 1000 documents)."));
                goto out;
        }
        r->role = sign_role_from_string(role);
        if (r->role < 0) {
                reply = invalid(m, _("The role must be approve, issue, copy, appendix or personal."));
                goto out;
        }
        if (isempty(cert_uri) || p11_uri_validate(cert_uri) < 0) {
                reply = invalid(m, _("The certificate must be a PKCS#11 URI from 'kysoctl certs'."));
                goto out;
        }
        bad = check_documents(NULL, docs, outs, existing, n_docs, n_outs, n_existing);
        if (bad) {
                reply = invalid(m, bad);
                goto out;
        }
        /* A certificate the agent knows cannot sign is refused now, before a request exists: no pinentry, no
         * record, the reason said (kysoctl sign --cert no longer asks GetCertificates first). */
        unusable = signer_unusable(s, r, cert_uri, &revoked);
        if (unusable) {
                reply = kyso_bus_error_reply(
                        m, revoked ? KYSO_BUS_ERROR_CERTIFICATE_REVOKED : KYSO_BUS_ERROR_CERTIFICATE_INVALID,
                        unusable);
                goto out;
        }
        if (r->role == SIGN_ROLE_ISSUE && n_existing == 0)
                log_debug("Issue request without an existing signature: the policy will refuse it.");
        if (handle && !token_valid(handle)) {
                reply = invalid(m, _("handle_token may hold only letters, digits and '_'."));
                goto out;
        }
        if (r->copy_form && !copy_form_valid(r->copy_form)) {
                reply = invalid(m, _("copy_form must be sao-y, sao-luc or trich-sao."));
                goto out;
        }
        bad = check_text_places(r);
        if (bad) {
                reply = invalid(m, bad);
                goto out;
        }

        r->sender = strdup(strempty(dbus_message_get_sender(m)));
        r->cert_uri = strdup(cert_uri);
        r->requested_cert_uri = strdup(cert_uri);
        esc = sender_escape(r->sender ?: "");
        if (!r->sender || !r->cert_uri || !r->requested_cert_uri || !esc)
                goto oom;
        if (!handle && asprintf(&handle, "kyso%u", ++s->counter) < 0)
                goto oom;
        if (asprintf(&r->path, SIGN_REQUEST_PATH_PREFIX "/%s/%s", esc, handle) < 0)
                goto oom;
        if (find_request(s, r->path)) {
                reply = invalid(m, _("A request with this handle_token is still running; use another one."));
                goto out;
        }
        if (request_take_documents(
                    r, docs, outs, n_existing > 0 ? existing : NULL, n_docs,
                    n_docs == 1 && !isempty(r->label) ? r->label : NULL) < 0)
                goto oom;
        caller_credentials(r, caller_pid);

        /* The queue of each token is bounded. The request looks for its certificate only when it runs; the
         * token that holds it now is the one it will wait for. */
        r->token_uri = signer_token_of(s, cert_uri);
        if (r->token_uri && agent_sign_token_load(s, r->token_uri) >= SIGN_QUEUE_MAX) {
                for (size_t i = 0; i < r->n_docs; i++)
                        doc_finish(
                                r, &r->docs[i], DOC_FAILED, KYSO_BUS_ERROR_BUSY,
                                _("The token is busy with other requests. Wait for them to finish, then sign "
                                  "again."));
                reply = kyso_bus_error_reply(m, KYSO_BUS_ERROR_BUSY, r->docs[0].message);
                goto out;
        }

        reply = dbus_message_new_method_return(m);
        if (!reply || !dbus_message_append_args(reply, DBUS_TYPE_OBJECT_PATH, &r->path, DBUS_TYPE_INVALID))
                goto oom;
        if (r->more_documents && collect_arm(r) < 0)
                goto oom;
        /* The first state, set before anyone can see the request. */
        r->state = r->more_documents ? REQ_COLLECTING : REQ_QUEUED;
        /* Appended last: the request runs only once the reply is on its way. */
        SignRequest **p = &s->requests;
        while (*p)
                p = &(*p)->next;
        *p = r;
        r->announced = true;
        log_info(
                "Request %s: %zu document(s), role %s, certificate %s, from pid %d.", r->path, r->n_docs,
                role, r->cert_uri, (int) r->caller.pid);
        if (!r->more_documents)
                request_schedule(r);
        return reply;

oom:
        if (reply)
                dbus_message_unref(reply);
        reply = NULL;
out:
        close_fds(docs, n_docs);
        close_fds(outs, n_outs);
        close_fds(existing, n_existing);
        r->owner = NULL;
        request_free(r);
        return reply;
}

/* AddDocuments(ah documents, ah outputs, ah existing_signatures, b last): a batch larger than one message
 * can carry (the bus passes at most 16 fds per message by default) arrives in parts before it starts. */
static DBusMessage *request_add_documents(SignRequest *r, DBusMessage *m) {
        int *fds[3] = {};
        size_t n[3] = {};
        DBusMessageIter it;
        dbus_bool_t last = false;
        DBusMessage *reply = NULL;
        const char *bad;

        dbus_message_iter_init(m, &it);
        for (int k = 0; k < 3; k++) {
                if (bus_read_fd_array(&it, &fds[k], &n[k]) < 0) {
                        reply = kyso_bus_error_reply_errno(m, -ENOMEM, NULL);
                        goto out;
                }
                dbus_message_iter_next(&it);
        }
        dbus_message_iter_get_basic(&it, &last);

        if (r->state != REQ_COLLECTING) {
                reply = invalid(
                        m, _("This request has already started; add documents only before the last part."));
                goto out;
        }
        bad = check_documents(r, fds[0], fds[1], fds[2], n[0], n[1], n[2]);
        if (bad) {
                reply = invalid(m, bad);
                goto out;
        }
        if (request_take_documents(r, fds[0], fds[1], n[2] > 0 ? fds[2] : NULL, n[0], NULL) < 0) {
                reply = kyso_bus_error_reply_errno(m, -ENOMEM, NULL);
                goto out;
        }
        reply = dbus_message_new_method_return(m);
        if (last) {
                r->collect_timer = sd_event_source_disable_unref(r->collect_timer);
                if (request_enter(r, REQ_QUEUED))
                        request_schedule(r);
        } else if (collect_arm(r) < 0)
                log_warning("Request %s: cannot restart the wait for the next part of the batch.", r->path);
out:
        for (int k = 0; k < 3; k++) {
                close_fds(fds[k], n[k]);
                free(fds[k]);
        }
        return reply;
}

static DBusMessage *request_method_introspect(DBusConnection *c, DBusMessage *m, void *userdata) {
        (void) c;
        (void) userdata;
        return dbus_introspect_reply(m, (const char *const[]){ kyso_request1_interface_xml, NULL }, NULL);
}

static DBusMessage *request_method_add_documents(DBusConnection *c, DBusMessage *m, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);
        (void) c;

        if (!streq_ptr(dbus_message_get_sender(m), r->sender))
                return kyso_bus_error_reply(
                        m, KYSO_BUS_ERROR_POLICY_DENIED,
                        _("Only the application that asked may add documents to a request."));
        return request_add_documents(r, m);
}

static DBusMessage *request_method_cancel(DBusConnection *c, DBusMessage *m, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);

        if (!streq_ptr(dbus_message_get_sender(m), r->sender))
                return kyso_bus_error_reply(
                        m, KYSO_BUS_ERROR_POLICY_DENIED,
                        _("Only the application that asked may cancel a request."));
        /* The caller hears its Cancel was taken before the Response the cancellation sends. */
        bus_send_reply(c, m, dbus_message_new_method_return(m));
        request_cancel(r, "the client called Cancel");
        return NULL;
}

static const BusMethod request_methods[] = {
        { DBUS_INTERFACE_INTROSPECTABLE, "Introspect", "", request_method_introspect },
        { SIGN_REQUEST_INTERFACE, "AddDocuments", "ahahahb", request_method_add_documents },
        { SIGN_REQUEST_INTERFACE, "Cancel", "", request_method_cancel },
};

static DBusHandlerResult request_message(DBusConnection *c, DBusMessage *m, void *userdata) {
        SignRequest *r;

        if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_METHOD_CALL)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        r = find_request(userdata, dbus_message_get_path(m));
        if (!r)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        return bus_method_dispatch(request_methods, ELEMENTSOF(request_methods), c, m, r);
}

/* A client that leaves cancels its requests. */
static void sign_peer_left(const char *name, void *userdata) {
        AgentSign *s = userdata;

        for (SignRequest *r = s->requests, *next; r; r = next) {
                next = r->next;
                if (streq_ptr(r->sender, name))
                        request_cancel(r, "the client disconnected");
        }
}

static const DBusObjectPathVTable request_vtable = { .message_function = request_message };

int agent_sign_bus_register(AgentSign *s) {
        if (!dbus_connection_register_fallback(s->bus, SIGN_REQUEST_PATH_PREFIX, &request_vtable, s))
                return -ENOMEM;
        s->registered = true;
        return bus_peer_left_watch_new(s->bus, sign_peer_left, s, &s->left_watch);
}

void agent_sign_bus_unregister(AgentSign *s) {
        s->left_watch = bus_peer_left_watch_free(s->left_watch);
        if (s->registered)
                dbus_connection_unregister_object_path(s->bus, SIGN_REQUEST_PATH_PREFIX);
        s->registered = false;
}
