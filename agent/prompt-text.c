/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "i18n.h"
#include "macro.h"
#include "prompt-text.h"
#include "string-table.h"
#include "utf8.h"

/* A name longer than this is cut in a prompt: the dialog must still show the certificate and role. */
#define NAME_MAX_CHARS 96
/* A batch prompt lists this many documents, then says how many more there are. */
#define BATCH_LIST_MAX 8
/* The short form, for prompts with little room (pinentry takes at most 1000 bytes per line). */
#define SHORT_NAME_MAX_CHARS 24
#define SHORT_BATCH_LIST_MAX 3

static const char *const prompt_reply_table[_PROMPT_REPLY_MAX] = {
        [PROMPT_REPLY_YES] = "yes",
        [PROMPT_REPLY_NO] = "no",
        [PROMPT_REPLY_CANCELLED] = "cancelled",
        [PROMPT_REPLY_ERROR] = "error",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(prompt_reply, PromptReply);

static const char *const prompt_pin_state_table[_PROMPT_PIN_STATE_MAX] = {
        [PROMPT_PIN_OK] = "ok",
        [PROMPT_PIN_COUNT_LOW] = "count-low",
        [PROMPT_PIN_FINAL_TRY] = "final-try",
        [PROMPT_PIN_LOCKED] = "locked",
};
DEFINE_STRING_TABLE_LOOKUP(prompt_pin_state, PromptPinState);

void prompt_text_done(PromptText *t) {
        if (!t)
                return;
        t->title = mfree(t->title);
        t->description = mfree(t->description);
        t->prompt = mfree(t->prompt);
        t->ok = mfree(t->ok);
        t->cancel = mfree(t->cancel);
        t->error = mfree(t->error);
}

static bool char_is_unsafe(uint32_t c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f) ||    /* C0 and C1 controls, DEL */
               (c >= 0x200e && c <= 0x200f) ||            /* LRM, RLM */
               (c >= 0x202a && c <= 0x202e) ||            /* bidi embeddings and overrides */
               (c >= 0x2066 && c <= 0x2069) ||            /* bidi isolates */
               c == 0x2028 || c == 0x2029 || c == 0xfeff; /* line and paragraph separators, BOM */
}

char *prompt_text_sanitize(const char *s, size_t max_chars) {
        static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
        static const char ellipsis[] = "\xe2\x80\xa6";    /* U+2026 */
        _cleanup_free_ char *buf = NULL, *escaped = NULL;
        size_t len = 0, chars = 0, n;

        if (!s)
                return strdup(_("unknown"));
        /* Bytes that are not UTF-8 are shown as the bus shows them ("\xe1"), so a person can match the
         * name in the prompt with the one in the application and the audit log. */
        s = utf8_valid_or_escaped(s, &escaped);
        if (!s)
                return NULL;
        n = strlen(s);

        /* Each character becomes at most its own bytes or U+FFFD's 3, plus the ellipsis and the NUL. */
        buf = malloc(n * 3 + sizeof(ellipsis) + 1);
        if (!buf)
                return NULL;

        for (size_t i = 0; i < n;) {
                uint32_t c;
                int k = utf8_decode(s + i, n - i, &c);

                assert(k > 0);
                if (chars >= max_chars) {
                        memcpy(buf + len, ellipsis, strlen(ellipsis));
                        len += strlen(ellipsis);
                        break;
                }
                if (char_is_unsafe(c)) {
                        memcpy(buf + len, replacement, strlen(replacement));
                        len += strlen(replacement);
                } else {
                        memcpy(buf + len, s + i, (size_t) k);
                        len += (size_t) k;
                }
                i += (size_t) k;
                chars++;
        }
        buf[len] = '\0';
        return TAKE_PTR(buf);
}

/* An unknown role or kind is shown as it is only when it is a plain word: it may come from the app. */
static const char *plain_word_or_unknown(const char *s) {
        if (isempty(s) || strlen(s) > 32 || s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_")] != '\0')
                return _("unknown");
        return s;
}

const char *prompt_text_role(const char *role) {
        if (!role)
                return _("unknown");
        if (streq(role, "approve"))
                return _("approve (the leader's signature)");
        if (streq(role, "issue"))
                return _("issue (the organisation's signature on a signed document)");
        if (streq(role, "copy"))
                return _("copy (the organisation's signature on a copy it makes)");
        if (streq(role, "appendix"))
                return _("appendix (the organisation's signature on an attachment)");
        if (streq(role, "personal"))
                return _("personal signature");
        return plain_word_or_unknown(role);
}

const char *prompt_text_cert_kind(const char *kind) {
        if (!kind)
                return _("unknown");
        if (streq(kind, "personal"))
                return _("personal certificate");
        if (streq(kind, "organization"))
                return _("organisation certificate");
        if (streq(kind, "device"))
                return _("device, service or software certificate");
        return plain_word_or_unknown(kind);
}

static void format_size(uint64_t size, char *buf, size_t n) {
        if (size < 1024)
                snprintf(buf, n, _("%" PRIu64 " bytes"), size);
        else if (size < UINT64_C(1024) * 1024)
                snprintf(buf, n, _("%.1f KiB"), (double) size / 1024);
        else if (size < UINT64_C(1024) * 1024 * 1024)
                snprintf(buf, n, _("%.1f MiB"), (double) size / (1024 * 1024));
        else
                snprintf(buf, n, _("%.1f GiB"), (double) size / (1024 * 1024 * 1024));
}

static void format_date(time_t t, char *buf, size_t n) {
        struct tm tm;

        if (t == 0 || !localtime_r(&t, &tm)) {
                snprintf(buf, n, "%s", _("unknown"));
                return;
        }
        /* TRANSLATORS: a strftime() date format for certificate expiry dates. */
        if (strftime(buf, n, _("%Y-%m-%d"), &tm) == 0)
                snprintf(buf, n, "%s", _("unknown"));
}

/* "name (size, SHA-256 0123456789abcdef…)" for one document, sanitised. */
static int format_document(FILE *f, const PromptDocument *d, size_t name_chars) {
        _cleanup_free_ char *name = NULL;
        char size[64], digest[17];

        name = prompt_text_sanitize(d->name, name_chars);
        if (!name)
                return -ENOMEM;
        /* The agent computes the digest; show its first 16 hex digits, or "?" if it is not hex. */
        snprintf(digest, sizeof(digest), "%.16s", strempty(d->sha256));
        if (strlen(digest) != 16 || digest[strspn(digest, "0123456789abcdefABCDEF")] != '\0')
                strcpy(digest, "?");
        format_size(d->size, size, sizeof(size));
        fprintf(f, _("%s (%s, SHA-256 %s…)"), name, size, digest);
        if (d->invisible_why) {
                _cleanup_free_ char *why = prompt_text_sanitize(d->invisible_why, 200);
                if (!why)
                        return -ENOMEM;
                fputs("\n    ", f);
                if (d->texts_only)
                        fprintf(f,
                                _("The seal will not be drawn in the PDF, only the document number and date: "
                                  "%s."),
                                why);
                else
                        fprintf(f, _("The signature will be invisible in the PDF: %s."), why);
        }
        return 0;
}

static int build_string(FILE **f, char **buf, char **ret) {
        if (fflush(*f) != 0 || ferror(*f))
                return -ENOMEM;
        fclose(*f);
        *f = NULL;
        *ret = TAKE_PTR(*buf);
        return 0;
}

/* The order matters: what the app cannot choose (the certificate, the role) comes before the names it
 * chooses, so a prompt that has to be cut loses the end of a document list, never the certificate. */
static int confirm_text(const PromptRequest *req, size_t name_chars, size_t list_max, PromptText *ret) {
        _cleanup_(prompt_text_done) PromptText t = {};
        _cleanup_free_ char *app = NULL, *exe = NULL, *holder = NULL, *org = NULL, *desc = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t desc_size = 0;
        char until[64];
        bool final_try;
        int r;

        if (!req || !ret || req->n_documents == 0 || !req->documents)
                return -EINVAL;
        final_try = req->flags & PROMPT_FLAG_FINAL_TRY;

        app = prompt_text_sanitize(req->app_name, name_chars);
        exe = prompt_text_sanitize(req->executable, name_chars);
        holder = prompt_text_sanitize(req->cert_holder, name_chars);
        org = prompt_text_sanitize(req->cert_organization, name_chars);
        if (!app || !exe || !holder || !org)
                return -ENOMEM;
        format_date(req->cert_not_after, until, sizeof(until));

        f = open_memstream(&desc, &desc_size);
        if (!f)
                return -ENOMEM;

        if (final_try) {
                fputs(_("Warning: the next PIN try is the last one. One more wrong PIN locks the token; then "
                        "you must ask the support desk for help (Article 15 of the regulation)."),
                      f);
                fputs("\n\n", f);
        }

        if (req->n_documents == 1)
                fprintf(f, _("The application “%s” (%s, PID %ld) asks to sign a document."), app, exe,
                        (long) req->pid);
        else
                fprintf(f,
                        dngettext(
                                "kyso", "The application “%s” (%s, PID %ld) asks to sign %zu document.",
                                "The application “%s” (%s, PID %ld) asks to sign %zu documents.",
                                req->n_documents),
                        app, exe, (long) req->pid, req->n_documents);
        fputs("\n\n", f);

        fprintf(f, _("Certificate: %s, %s (%s, valid until %s)"), holder, org,
                prompt_text_cert_kind(req->cert_kind), until);
        fputc('\n', f);
        fprintf(f, _("Role: %s"), prompt_text_role(req->role));
        fputc('\n', f);

        if (req->n_documents == 1) {
                fputs(_("Document: "), f);
                r = format_document(f, &req->documents[0], name_chars);
                if (r < 0)
                        return r;
                fputc('\n', f);
        } else {
                fputs(_("Documents:"), f);
                fputc('\n', f);
                for (size_t i = 0; i < req->n_documents && i < list_max; i++) {
                        fputs("  • ", f);
                        r = format_document(f, &req->documents[i], name_chars);
                        if (r < 0)
                                return r;
                        fputc('\n', f);
                }
                if (req->n_documents > list_max) {
                        size_t more = req->n_documents - list_max;
                        fputs("  • ", f);
                        fprintf(f,
                                dngettext("kyso", "and %zu more document", "and %zu more documents", more),
                                more);
                        fputc('\n', f);
                }
        }
        fputc('\n', f);

        if (final_try)
                fputs(_("Choose “Yes, use the last try” only if you are sure of the PIN."), f);
        else
                fputs(_("Approve only if you asked for this signature yourself."), f);

        r = build_string(&f, &desc, &t.description);
        if (r < 0)
                return r;

        t.title = strdup(final_try ? _("Last PIN try") : _("Approve a digital signature"));
        t.ok = strdup(final_try ? _("Yes, use the last try") : _("Sign"));
        t.cancel = strdup(_("Cancel"));
        if (!t.title || !t.ok || !t.cancel)
                return -ENOMEM;

        *ret = t;
        t = (PromptText){};
        return 0;
}

int prompt_text_confirm(const PromptRequest *req, PromptText *ret) {
        return confirm_text(req, NAME_MAX_CHARS, BATCH_LIST_MAX, ret);
}

int prompt_text_confirm_short(const PromptRequest *req, PromptText *ret) {
        return confirm_text(req, SHORT_NAME_MAX_CHARS, SHORT_BATCH_LIST_MAX, ret);
}

char *prompt_text_wrong_pin(int tries_left) {
        char *s = NULL;

        if (tries_left < 0)
                return strdup(_("Wrong PIN. Check it and try again."));
        if (tries_left == 1)
                return strdup(_("Wrong PIN. One try is left: one more wrong PIN locks the token."));
        if (asprintf(
                    &s,
                    dngettext(
                            "kyso", "Wrong PIN. %d try is left.", "Wrong PIN. %d tries are left.",
                            (unsigned long) tries_left),
                    tries_left) < 0)
                return NULL;
        return s;
}

char *prompt_text_pinpad_wrong(int tries_left) {
        _cleanup_free_ char *wrong = prompt_text_wrong_pin(tries_left);
        char *s;

        if (!wrong ||
            asprintf(
                    &s,
                    _("%s The PIN was typed on the reader, so nothing was signed: sign again and type it "
                      "carefully on the reader."),
                    wrong) < 0)
                return NULL;
        return s;
}

int prompt_text_pin(const PromptPinRequest *req, PromptText *ret) {
        _cleanup_(prompt_text_done) PromptText t = {};
        _cleanup_free_ char *label = NULL;

        if (!req || !ret)
                return -EINVAL;
        if (req->state == PROMPT_PIN_LOCKED)
                return -EPERM;

        label = prompt_text_sanitize(req->token_label, NAME_MAX_CHARS);
        if (!label)
                return -ENOMEM;

        if (asprintf(&t.title, _("PIN of the token “%s”"), label) < 0) {
                t.title = NULL;
                return -ENOMEM;
        }
        if (asprintf(&t.description, _("Enter the PIN of the token “%s” to make the signature."), label) <
            0) {
                t.description = NULL;
                return -ENOMEM;
        }

        /* After a wrong PIN the person must learn both that it was wrong and how close the token is to
         * locking: PKCS#11 tells "count low" without a number, so that is said in words. */
        if (req->state == PROMPT_PIN_FINAL_TRY)
                t.error = strdup(
                        req->previous_wrong ? _("Wrong PIN. Last try: one more wrong PIN locks the token.")
                                            : _("Last try: one more wrong PIN locks the token."));
        else if (req->previous_wrong && req->state == PROMPT_PIN_COUNT_LOW && req->tries_left < 0)
                t.error = strdup(_("Wrong PIN. Check it: few tries are left before the token locks, so "
                                   "type it carefully."));
        else if (req->previous_wrong)
                t.error = prompt_text_wrong_pin(req->tries_left);
        else if (req->state == PROMPT_PIN_COUNT_LOW)
                t.error =
                        strdup(_("A wrong PIN was entered before: few tries are left. Type it carefully."));
        if ((req->state != PROMPT_PIN_OK || req->previous_wrong) && !t.error)
                return -ENOMEM;

        t.prompt = strdup(_("PIN:"));
        t.ok = strdup(_("OK"));
        t.cancel = strdup(_("Cancel"));
        if (!t.prompt || !t.ok || !t.cancel)
                return -ENOMEM;

        *ret = t;
        t = (PromptText){};
        return 0;
}

int prompt_text_pinpad(const char *token_label, PromptText *ret) {
        _cleanup_(prompt_text_done) PromptText t = {};
        _cleanup_free_ char *label = NULL;

        if (!ret)
                return -EINVAL;
        label = prompt_text_sanitize(token_label, NAME_MAX_CHARS);
        if (!label)
                return -ENOMEM;
        if (asprintf(&t.title, _("PIN of the token “%s”"), label) < 0) {
                t.title = NULL;
                return -ENOMEM;
        }
        if (asprintf(
                    &t.description,
                    _("The token “%s” has its own PIN pad. Type the PIN on the reader, not on the computer's "
                      "keyboard."),
                    label) < 0) {
                t.description = NULL;
                return -ENOMEM;
        }
        t.ok = strdup(_("OK"));
        t.cancel = strdup(_("Cancel"));
        if (!t.ok || !t.cancel)
                return -ENOMEM;
        *ret = t;
        t = (PromptText){};
        return 0;
}

char *prompt_text_pin_locked(const char *token_label) {
        _cleanup_free_ char *label = NULL;
        char *s = NULL;

        label = prompt_text_sanitize(token_label, NAME_MAX_CHARS);
        if (!label)
                return NULL;
        if (asprintf(
                    &s,
                    _("The token “%s” is locked because a wrong PIN was entered more times than allowed; kyso "
                      "will not try it again. As Article 15 of the regulation says, contact the support desk "
                      "of the Department of Science and Technology for guidance. If the token is lost or "
                      "damaged, ask your organisation to request revocation of the certificate (Article 14)."),
                    label) < 0)
                return NULL;
        return s;
}

char *prompt_text_program_missing(const char *program, int error) {
        _cleanup_free_ char *p = NULL;
        char *s = NULL;
        int r;

        p = prompt_text_sanitize(program, 256);
        if (!p)
                return NULL;
        if (error == -ENOENT)
                r = asprintf(
                        &s,
                        _("The PIN entry program “%s” was not found. Install the package “pinentry-gnome3” "
                          "or “pinentry-tty”, or set the program in the agent's configuration."),
                        p);
        else
                r = asprintf(
                        &s,
                        _("The PIN entry program “%s” cannot be run (%s): it must be an executable program, "
                          "such as /usr/bin/pinentry. Set the right program in the agent's configuration "
                          "(pinentry in kysod.conf)."),
                        p, strerror(-error));
        return r < 0 ? NULL : s;
}

char *prompt_text_app_prompter_failed(int error) {
        switch (error) {
        case -ETIMEDOUT:
                return strdup(
                        _("Nobody answered the application's prompt in time, so nothing was signed. Sign "
                          "again when you are at the desk."));
        case -ENOTCONN:
                return strdup(_("The application that showed the prompt closed it or left, so nothing was "
                                "signed. Sign again."));
        case -EPROTO:
                return strdup(_("The application's prompt gave an answer the agent does not understand, so "
                                "nothing was signed. Tell the application's maker (org.kyso.Prompter1)."));
        default:
                return strdup(_("The application's prompt failed, so nothing was signed. Sign again; if it "
                                "happens again, tell the application's maker."));
        }
}
