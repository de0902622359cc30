/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* parse-util: the one grammar for values in kyso's configuration files (kysod.conf(5), kyso-policy.conf(5)):
 * booleans, durations, sizes, unsigned numbers, and the decimals of PDF places and millimetres. Each returns
 * 0 (or the boolean), -EINVAL for text that is not of the grammar, -ERANGE when the value does not fit;
 * outputs are set only on success. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MINUTE (UINT64_C(60) * USEC_PER_SEC)
#define USEC_PER_HOUR (UINT64_C(60) * USEC_PER_MINUTE)
#define USEC_PER_DAY (UINT64_C(24) * USEC_PER_HOUR)

/* yes, true, on, 1 → 1; no, false, off, 0 → 0; any case. */
int parse_boolean(const char *s);

/* NUMBER[UNIT], no blanks and no sign: NUMBER is decimal digits with an optional fraction ("1.5"); UNIT is
 * ms, s or sec, m or min, h, d; none means seconds. "1.5s", "250ms", "2h" → microseconds. Fractions below
 * a microsecond are dropped. */
int parse_duration(const char *s, uint64_t *ret_usec);

/* NUMBER[UNIT], no blanks and no sign, whole numbers: UNIT is B, K or KiB, M or MiB, G or GiB, T or TiB (all
 * multiples of 1024); none means bytes. "50M" → 52428800. */
int parse_size(const char *s, uint64_t *ret_bytes);

/* Decimal digits only (no sign, no blanks, no base prefix). */
int parse_unsigned(const char *s, unsigned *ret);

/* A decimal as PDF points and millimetres are written: an optional '-', digits, then optionally '.' and
 * digits ("320", "-12.5", "0.25"), read alike in every locale (strtod() takes ',' for the point in vi_VN,
 * and also "1e3", "inf" or hex). At most 15 digits in all, else -ERANGE. *ret_end (when not NULL) points
 * just after the number; -EINVAL when none starts at s. */
int parse_decimal_prefix(const char *s, const char **ret_end, double *ret);
/* Exactly n (at most 16) such decimals separated by separator and nothing else, such as "320,150.5,240,80".
 */
int parse_decimal_list(const char *s, char separator, double *ret, size_t n);

/* Points beyond this are no page: PDF's largest page side is 14,400 units. */
#define PLACE_MAX 14400.0

/* "PAGE,X,Y,W,H", where PAGE is a page from 1 or "last" (then *ret_page is 0 and *ret_from_end true), and X,
 * Y, W, H PDF points as parse_decimal_list() reads them: W and H above 0, all within PLACE_MAX. */
int parse_page_place(const char *s, bool *ret_from_end, unsigned *ret_page, double ret_rect[static 4]);
