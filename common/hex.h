/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* hex: bytes to lowercase hexadecimal text and hex digits back to their values, the one encoder kyso uses
 * for fingerprints, digests, cache names and escapes. */

#include <stddef.h>

/* The lowercase hex digit of the low four bits of x. */
char hexchar(int x);
/* The value 0..15 of a hex digit of either case, or -EINVAL. */
int unhexchar(char c);

/* Writes the 2n lowercase hex digits of bin and a NUL to ret (2n + 1 bytes). */
void hex_encode(const void *bin, size_t n, char *ret);
/* The same, newly allocated; NULL on OOM. */
char *hexmem(const void *bin, size_t n);
