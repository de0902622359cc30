/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* alloc-util: growing an array of structs or pointers one element at a time, the way every list of kyso
 * (tokens, certificates, requests held, watches, proofs, rules) grows, or by doubling for the long lists of
 * a PDF's objects, with the size checked for overflow.
 */

#include <stddef.h>

/* Grows *array, of *n elements of size bytes each, by one zeroed element at its end, counts it in *n and
 * returns it; NULL (out of memory, or a size that does not fit) leaves *array and *n as they were. */
void *array_append(void **array, size_t *n, size_t size);

/* array_append() for an array of any type, typed: Foo *f = ARRAY_APPEND(x->foos, x->n_foos); */
#define ARRAY_APPEND(array, n) \
        ((typeof(&(array)[0])) array_append((void **) &(array), &(n), sizeof((array)[0])))

/* Makes room in *array, *allocated elements of size bytes each, for at least need elements: doubles the
 * allocation, to no fewer than least elements. 0, or -ENOMEM (out of memory, or a size that does not fit)
 * with *array and *allocated as they were. The new elements are not initialised. */
int array_reserve(void **array, size_t *allocated, size_t need, size_t size, size_t least);

/* array_reserve() typed: r = ARRAY_RESERVE(x->items, x->allocated, x->n + 1, 64); */
#define ARRAY_RESERVE(array, allocated, need, least) \
        array_reserve((void **) &(array), &(allocated), (need), sizeof((array)[0]), (least))
