/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
