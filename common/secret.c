/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <sys/mman.h>

#include "macro.h"
#include "secret.h"

struct Secret {
        size_t len;
        size_t alloc;
        char data[];
};

Secret *secret_new(const void *data, size_t len) {
        Secret *s;
        size_t alloc = sizeof(Secret) + len + 1;

        s = calloc(1, alloc);
        if (!s)
                return NULL;
        /* Best effort: keep it out of swap. Failure (RLIMIT_MEMLOCK) is not fatal. */
        (void) mlock(s, alloc);
        s->len = len;
        s->alloc = alloc;
        if (len > 0)
                memcpy(s->data, data, len);
        s->data[len] = '\0';
        return s;
}

Secret *secret_new_string(const char *str) {
        return secret_new(str, strlen(str));
}

Secret *secret_free(Secret *s) {
        if (!s)
                return NULL;
        size_t alloc = s->alloc;
        explicit_bzero(s, alloc);
        (void) munlock(s, alloc);
        free(s);
        return NULL;
}

const char *secret_get(const Secret *s) {
        return s ? s->data : NULL;
}

size_t secret_size(const Secret *s) {
        return s ? s->len : 0;
}
