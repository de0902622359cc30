/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* time-util: Unix times (seconds since the epoch, as the register, the audit log and certificates keep them)
 * shown as UTC text. */

#include <stddef.h>
#include <stdint.h>

/* t as UTC, in strftime()'s format, into buf; 0, or -ERANGE with buf "" when t has no such text (out of
 * range, or longer than size). */
__attribute__((format(strftime, 3, 0))) int
utc_strftime(char *buf, size_t size, const char *format, int64_t t);
