/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* alloc-util: growing an array of structs or pointers one element at a time, the way every list of kyso
 * (tokens, certificates, requests held, watches, proofs, rules) grows, with the size checked for overflow.
 */

#include <stddef.h>

/* Grows *array, of *n elements of size bytes each, by one zeroed element at its end, counts it in *n and
 * returns it; NULL (out of memory, or a size that does not fit) leaves *array and *n as they were. */
void *array_append(void **array, size_t *n, size_t size);

/* array_append() for an array of any type, typed: Foo *f = ARRAY_APPEND(x->foos, x->n_foos); */
#define ARRAY_APPEND(array, n) \
        ((typeof(&(array)[0])) array_append((void **) &(array), &(n), sizeof((array)[0])))
