/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PromptText: the words of the approval and PIN prompts (title, description, buttons, error line), in
 * Vietnamese or English by locale. Strings from the app are untrusted: they are sanitised before use. */

#include "prompt.h"

typedef struct PromptText {
        char *title;
        char *description; /* several lines, separated by '\n' */
        char *prompt;      /* label before the PIN entry; NULL for a confirmation */
        char *ok;          /* button labels */
        char *cancel;
        char *error; /* shown prominently (wrong PIN, final try); NULL when none */
} PromptText;

void prompt_text_done(PromptText *t);

/* The approval prompt: who asks, which document(s), which certificate, which role. With
 * PROMPT_FLAG_FINAL_TRY it also warns that the next PIN try is the last and asks for an explicit yes. */
int prompt_text_confirm(const PromptRequest *req, PromptText *ret);
/* The same with names cut shorter and fewer documents listed, for prompts with little room. */
int prompt_text_confirm_short(const PromptRequest *req, PromptText *ret);

/* The PIN prompt for a token. -EPERM for a locked PIN: it is never asked (see prompt_text_pin_locked()). */
int prompt_text_pin(const PromptPinRequest *req, PromptText *ret);

/* A token with a protected authentication path (PIN pad): tell the person to type the PIN on the reader. */
int prompt_text_pinpad(const char *token_label, PromptText *ret);

/* Messages for errors, each saying what to do next. NULL on allocation failure. */
char *prompt_text_wrong_pin(int tries_left);           /* tries_left < 0: unknown */
char *prompt_text_pinpad_wrong(int tries_left);        /* the request's end after a wrong PIN on a PIN pad */
char *prompt_text_pin_locked(const char *token_label); /* Article 15 guidance */
/* The pinentry program cannot be started: -ENOENT it is not there, else (-EACCES) it cannot be run. */
char *prompt_text_program_missing(const char *program, int error);
/* An application's registered prompter failed (dbus_prompter_new()'s errors: -ETIMEDOUT, -ENOTCONN, -EPROTO,
 * others). */
char *prompt_text_app_prompter_failed(int error);

/* Display names, translated: role "approve" → "approve (the leader's signature)" / "ký phê duyệt".
 * Unknown values are returned as they are when they are plain lower-case words, else as "unknown". */
const char *prompt_text_role(const char *role);
const char *prompt_text_cert_kind(const char *kind);

/* A copy of untrusted text safe to show: text that is not UTF-8 is escaped as on the bus (utf8_escape()),
 * control characters (which could fake extra lines in a prompt) and bidirectional overrides are replaced by
 * U+FFFD; longer than max_chars characters is cut with "…". NULL input gives "unknown" (translated). NULL
 * only on allocation failure. */
char *prompt_text_sanitize(const char *s, size_t max_chars);
