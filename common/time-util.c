/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <time.h>

#include "time-util.h"

/* The callers' formats are checked where they are written (the format attribute in time-util.h). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
int utc_strftime(char *buf, size_t size, const char *format, int64_t t) {
        time_t tt = (time_t) t;
        struct tm tm;

        if (size == 0)
                return -ERANGE;
        if ((int64_t) tt != t || !gmtime_r(&tt, &tm) || strftime(buf, size, format, &tm) == 0) {
                buf[0] = '\0';
                return -ERANGE;
        }
        return 0;
}
#pragma GCC diagnostic pop
