/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "string-util.h"
#include "macro.h"

char *strstrip(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

int free_and_strdup(char **field, const char *value) {
        char *d = strdup(value);

        if (!d)
                return -ENOMEM;
        free(*field);
        *field = d;
        return 0;
}
