/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* UTF-8: the one strict decoder (no overlong forms, no surrogates, nothing above U+10FFFF) and the escaped
 * copy of text that may not be UTF-8 (file names in a legacy code page, vendor token labels). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Decodes the character at s, reading at most n bytes (a NUL ends a sequence early): its length (1..4) and
 * *ret_cp, or -EILSEQ when the bytes are not valid UTF-8. */
int utf8_decode(const char *s, size_t n, uint32_t *ret_cp);

/* Whether the n bytes at s are valid UTF-8 without a NUL. */
bool utf8_is_valid_n(const char *s, size_t n);
/* Whether the NUL-terminated s is valid UTF-8. NULL is not. */
bool utf8_is_valid(const char *s);

/* A valid UTF-8 copy of s that keeps all of it: each byte that is not part of valid UTF-8 becomes "\xNN"
 * (lower-case hex) and each backslash "\\", so the copy maps back to exactly the bytes of s. Text that is
 * valid UTF-8 without a backslash is copied as it is. NULL on allocation failure (s NULL: ""). */
char *utf8_escape(const char *s);
/* For text that must reach a reader as valid UTF-8 (the bus, the journal) but is kept as it is when it
 * already is (a backslash in valid text is not doubled): s itself, or its utf8_escape() copy, which *ret_buf
 * then owns. NULL on allocation failure; s NULL is "". */
const char *utf8_valid_or_escaped(const char *s, char **ret_buf);
/* The same for a string the caller owns: *s is replaced by its escaped copy when it is not valid UTF-8. 0,
 * or -ENOMEM with *s unchanged. */
int utf8_make_valid(char **s);

/* Writes the code point cp as UTF-16BE in upper-case hex, a surrogate pair above U+FFFF: "00E1", "D83DDE00"
 * (PDF text strings and ToUnicode maps). */
void utf16be_hex_write(FILE *f, uint32_t cp);
