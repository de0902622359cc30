/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"

void *array_append(void **array, size_t *n, size_t size) {
        uint8_t *a;

        /* Checked here, not left to reallocarray(): an allocator may abort on such a size (ASan does). */
        if (size == 0 || *n >= SIZE_MAX / size)
                return NULL;
        a = reallocarray(*array, *n + 1, size);
        if (!a)
                return NULL;
        *array = a;
        memset(a + *n * size, 0, size);
        return a + (*n)++ * size;
}

int array_reserve(void **array, size_t *allocated, size_t need, size_t size, size_t least) {
        size_t want;
        void *a;

        if (need <= *allocated)
                return 0;
        if (size == 0 || need > SIZE_MAX / size)
                return -ENOMEM;
        want = *allocated <= SIZE_MAX / 2 ? *allocated * 2 : SIZE_MAX;
        if (want < least)
                want = least;
        if (want < need)
                want = need;
        /* Doubling past what fits: the least that does. */
        if (want > SIZE_MAX / size)
                want = need;
        a = reallocarray(*array, want, size);
        if (!a)
                return -ENOMEM;
        *array = a;
        *allocated = want;
        return 0;
}
