/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>

#include "hex.h"
#include "macro.h"

char hexchar(int x) {
        static const char digits[] = "0123456789abcdef";
        return digits[x & 15];
}

int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

void hex_encode(const void *bin, size_t n, char *ret) {
        const unsigned char *b = bin;

        /* The table in the loop, not a call per digit: audit verify encodes a hash per record. */
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                ret[2 * i] = digits[b[i] >> 4];
                ret[2 * i + 1] = digits[b[i] & 15];
        }
        ret[2 * n] = '\0';
}

char *hexmem(const void *bin, size_t n) {
        char *s;

        if (n > (SIZE_MAX - 1) / 2)
                return NULL;
        s = malloc(2 * n + 1);
        if (s)
                hex_encode(bin, n, s);
        return s;
}
