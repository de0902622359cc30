/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* string-util: small string helpers the configuration readers share (kysod.conf, policy.conf, p11-kit module
 * files): trimming a line in place and replacing an owned string. */

/* Drops spaces, tabs and a trailing '\r' (a file written on Windows) from both ends, in place; returns the
 * first kept character. */
char *strstrip(char *s);

/* Replaces *field with a copy of value (freeing the old one); -ENOMEM leaves *field as it was. */
int free_and_strdup(char **field, const char *value);
