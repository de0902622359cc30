/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Translations: messages are written in English and marked _("...") (N_() for static tables); po/vi.po
 * holds the Vietnamese. The language follows the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), or the
 * calling thread's own (uselocale()) where the agent answers one caller in that caller's language. */

#include <libintl.h>
#include <locale.h>

#include "macro.h"

#define _(s) dgettext("kyso", s)
#define N_(s) (s)

/* Binds the text domain: $KYSO_LOCALEDIR (tests use the build tree) or the installed locale folder. */
void i18n_setup(void);

/* True when messages come out in Vietnamese for the current locale. */
int i18n_is_vietnamese(void);
/* The language messages come out in for the current (thread's) locale: "en", "vi". */
const char *i18n_language(void);

/* The locale for messages in the language of name ("vi_VN.UTF-8", as LC_MESSAGES says), for uselocale()
 * around what one caller reads; (locale_t) 0 when kyso has no catalogue for that language or the system
 * lacks the locale. C, POSIX and English give the messages as written. Kept until the process exits. */
locale_t i18n_locale(const char *name);

/* uselocale(l) when l is set: returns the locale to restore, (locale_t) 0 when nothing changed. */
locale_t i18n_uselocale(locale_t l);
void i18n_restore_localep(locale_t *saved);

/* Messages in l's language until the end of the scope (nothing changes when l is 0). */
#define I18N_LOCALE_SCOPE(l) \
        _cleanup_(i18n_restore_localep) _unused_ locale_t _i18n_saved_ = i18n_uselocale(l)
