/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* string-util: small string helpers the configuration readers and the policy share: trimming a line in
 * place, replacing an owned string with a copy or with formatted text. */

/* Drops spaces, tabs and a trailing '\r' (a file written on Windows) from both ends, in place; returns the
 * first kept character. */
char *strstrip(char *s);

#include <stdarg.h>
#include <stdio.h>

#include "macro.h"

/* Replace *field (freeing the old string) with a copy of value, or with the formatted text; -ENOMEM
 * leaves *field as it was. */
int free_and_strdup(char **field, const char *value);
_printf_(2, 3) int free_and_asprintf(char **field, const char *format, ...);
_printf_(2, 0) int free_and_vasprintf(char **field, const char *format, va_list ap);

/* Writes s to f with &, <, >, " and ' as HTML character references (NULL writes nothing). */
void fputs_html(FILE *f, const char *s);
