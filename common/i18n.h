/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Translations: messages are written in English and marked _("...") (N_() for static tables); po/vi.po
 * holds the Vietnamese. The language follows the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG). */

#include <libintl.h>

#define _(s) dgettext("kyso", s)
#define N_(s) (s)

/* Binds the text domain: $KYSO_LOCALEDIR (tests use the build tree) or the installed locale folder. */
void i18n_setup(void);

/* True when messages come out in Vietnamese for the current locale. */
int i18n_is_vietnamese(void);
