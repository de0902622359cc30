/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "string-util.h"
#include <stdarg.h>

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

int free_and_vasprintf(char **field, const char *format, va_list ap) {
        char *s;

        if (vasprintf(&s, format, ap) < 0)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

int free_and_asprintf(char **field, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = free_and_vasprintf(field, format, ap);
        va_end(ap);
        return r;
}

int free_and_strdup(char **field, const char *value) {
        char *d = strdup(value);

        if (!d)
                return -ENOMEM;
        free(*field);
        *field = d;
        return 0;
}

void fputs_html(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&#39;", f);
                        break;
                default:
                        fputc(*s, f);
                }
}
