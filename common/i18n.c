/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <locale.h>

#include "config.h"
#include "i18n.h"
#include "macro.h"

void i18n_setup(void) {
        const char *dir = getenv("KYSO_LOCALEDIR");
        bindtextdomain("kyso", isempty(dir) ? LOCALEDIR : dir);
        bind_textdomain_codeset("kyso", "UTF-8");
}

int i18n_is_vietnamese(void) {
        /* The translation of this marker string is "vi" in po/vi.po. */
        return streq(dgettext("kyso", "language-code:en"), "language-code:vi");
}
