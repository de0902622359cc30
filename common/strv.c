/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "macro.h"

void strv_free(char **l) {
        STRV_FOREACH (s, l)
                free(*s);
        free(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        STRV_FOREACH (s, l)
                n++;
        return n;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c)
                return -ENOMEM;
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        int r = strv_push(l, v);
        if (r < 0)
                free(v);
        return r;
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH (i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

char **strv_from_array(const char *const *a, size_t n) {
        char **l = NULL;

        for (size_t i = 0; i < n; i++)
                if (strv_extend(&l, a[i]) < 0) {
                        strv_free(l);
                        return NULL;
                }
        return l;
}

int strv_split(const char *s, bool (*is_separator)(char c), char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p = s;

        for (;;) {
                while (*p && is_separator(*p))
                        p++;
                if (!*p)
                        break;
                const char *b = p;
                while (*p && !is_separator(*p))
                        p++;
                char *w = strndup(b, (size_t) (p - b));
                if (!w)
                        return -ENOMEM;
                int r = strv_push(&l, w);
                if (r < 0) {
                        free(w);
                        return r;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}
