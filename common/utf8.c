/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int utf8_decode(const char *s, size_t n, uint32_t *ret_cp) {
        const unsigned char *u = (const unsigned char *) s;
        uint32_t c, min;
        size_t len;

        if (n == 0)
                return -EILSEQ;
        if (u[0] < 0x80) {
                *ret_cp = u[0];
                return 1;
        }
        if (u[0] >= 0xc2 && u[0] <= 0xdf) {
                c = u[0] & 0x1f;
                len = 2;
                min = 0x80;
        } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
                c = u[0] & 0x0f;
                len = 3;
                min = 0x800;
        } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
                c = u[0] & 0x07;
                len = 4;
                min = 0x10000;
        } else
                return -EILSEQ;
        if (n < len)
                return -EILSEQ;
        for (size_t i = 1; i < len; i++) {
                if ((u[i] & 0xc0) != 0x80) /* also stops at a NUL */
                        return -EILSEQ;
                c = (c << 6) | (u[i] & 0x3f);
        }
        /* Overlong forms would let "/" or NUL pass a check in disguise; surrogates are not characters. */
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return -EILSEQ;
        *ret_cp = c;
        return (int) len;
}

bool utf8_is_valid_n(const char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                uint32_t c;
                int k;

                if (s[i] == 0)
                        return false;
                k = utf8_decode(s + i, n - i, &c);
                if (k < 0)
                        return false;
                i += (size_t) k;
        }
        return true;
}

bool utf8_is_valid(const char *s) {
        return s && utf8_is_valid_n(s, strlen(s));
}

/* Walks s as utf8_escape() writes it; out NULL only counts. */
static size_t escape(const char *s, char *out) {
        static const char hex[] = "0123456789abcdef";
        size_t len = strlen(s), o = 0;

        for (size_t i = 0; i < len;) {
                uint32_t c;
                int k = utf8_decode(s + i, len - i, &c);

                if (k < 0) {
                        unsigned char b = (unsigned char) s[i];
                        if (out)
                                memcpy(out + o, (char[]){ '\\', 'x', hex[b >> 4], hex[b & 15] }, 4);
                        o += 4;
                        i++;
                } else if (c == '\\') {
                        if (out)
                                memcpy(out + o, "\\\\", 2);
                        o += 2;
                        i++;
                } else {
                        if (out)
                                memcpy(out + o, s + i, (size_t) k);
                        o += (size_t) k;
                        i += (size_t) k;
                }
        }
        if (out)
                out[o] = 0;
        return o;
}

char *utf8_escape(const char *s) {
        char *out;

        if (!s)
                return strdup("");
        out = malloc(escape(s, NULL) + 1);
        if (!out)
                return NULL;
        escape(s, out);
        return out;
}

const char *utf8_valid_or_escaped(const char *s, char **ret_buf) {
        *ret_buf = NULL;
        if (!s)
                return "";
        if (utf8_is_valid(s))
                return s;
        return *ret_buf = utf8_escape(s);
}

int utf8_make_valid(char **s) {
        char *e;

        if (!*s || utf8_is_valid(*s))
                return 0;
        e = utf8_escape(*s);
        if (!e)
                return -ENOMEM;
        free(*s);
        *s = e;
        return 0;
}

void utf16be_hex_write(FILE *f, uint32_t cp) {
        if (cp >= 0x10000) {
                cp -= 0x10000;
                fprintf(f, "%04X%04X", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else
                fprintf(f, "%04X", cp);
}
