/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

const char *i18n_language(void) {
        const char *m = dgettext("kyso", "language-code:en");
        return startswith(m, "language-code:") ? m + strlen("language-code:") : "en";
}

/* A locale name as a caller may send it: letters, digits and "_.@-" only, so that it never walks out of the
 * catalogue folder. */
static bool locale_name_valid(const char *name) {
        if (isempty(name) || strlen(name) > 64)
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("_.@-", *p)))
                        return false;
        return true;
}

/* Whether kyso speaks the language of name: English (the messages as written), or a catalogue exists for
 * "ll_CC" or "ll", the names gettext looks for. */
static bool catalogue_exists(const char *name) {
        const char *dir = bindtextdomain("kyso", NULL);
        char lang[65], path[PATH_MAX];

        if (streq(name, "C") || streq(name, "POSIX") || startswith(name, "C.") || startswith(name, "en_") ||
            streq(name, "en"))
                return true;
        snprintf(lang, sizeof lang, "%s", name);
        lang[strcspn(lang, ".@")] = '\0';
        for (int i = 0; i < 2; i++) {
                snprintf(path, sizeof path, "%s/%s/LC_MESSAGES/kyso.mo", strempty(dir), lang);
                if (access(path, R_OK) >= 0)
                        return true;
                lang[strcspn(lang, "_")] = '\0';
        }
        return false;
}

#define I18N_LOCALES_MAX 16

/* The locales made so far: a handful of languages, kept until exit, so that a locale in use on a worker
 * thread is never freed under it. */
static struct {
        char name[65];
        locale_t locale;
} cache[I18N_LOCALES_MAX];
static size_t n_cache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

locale_t i18n_locale(const char *name) {
        locale_t l = (locale_t) 0;

        if (!locale_name_valid(name) || !catalogue_exists(name))
                return (locale_t) 0;
        pthread_mutex_lock(&cache_lock);
        for (size_t i = 0; i < n_cache; i++)
                if (streq(cache[i].name, name)) {
                        l = cache[i].locale;
                        goto out;
                }
        if (n_cache >= I18N_LOCALES_MAX)
                goto out;
        /* The messages and the character set of name; the rest stays C (numbers and dates in the agent's
         * texts are written by hand). */
        l = newlocale(LC_MESSAGES_MASK | LC_CTYPE_MASK, name, (locale_t) 0);
        if (!l && !strchr(name, '.')) {
                char utf8[80];
                snprintf(utf8, sizeof utf8, "%s.UTF-8", name);
                l = newlocale(LC_MESSAGES_MASK | LC_CTYPE_MASK, utf8, (locale_t) 0);
        }
        if (!l)
                goto out;
        snprintf(cache[n_cache].name, sizeof cache[n_cache].name, "%s", name);
        cache[n_cache++].locale = l;
out:
        pthread_mutex_unlock(&cache_lock);
        return l;
}

locale_t i18n_uselocale(locale_t l) {
        return l ? uselocale(l) : (locale_t) 0;
}

void i18n_restore_localep(locale_t *saved) {
        if (*saved)
                (void) uselocale(*saved);
}
