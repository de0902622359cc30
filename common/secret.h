/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Secret: a PIN or other secret byte string, kept in locked memory, wiped with explicit_bzero when freed.
 * Never log it, never put it in an error message; copy it out of foreign buffers at once with secret_new().
 */

#include <stddef.h>

typedef struct Secret Secret;

/* Copies len bytes (a NUL is appended); NULL on allocation failure. */
Secret *secret_new(const void *data, size_t len);
Secret *secret_new_string(const char *s);
Secret *secret_free(Secret *s);
const char *secret_get(const Secret *s); /* NUL-terminated */
size_t secret_size(const Secret *s);

static inline void secret_freep(Secret **s) {
        secret_free(*s);
}
#define _cleanup_secret_ __attribute__((cleanup(secret_freep)))
