/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"

typedef struct Unit {
        const char *suffix;
        uint64_t factor;
} Unit;

static const Unit duration_units[] = {
        { "", USEC_PER_SEC },    { "ms", USEC_PER_MSEC },  { "s", USEC_PER_SEC },
        { "sec", USEC_PER_SEC }, { "m", USEC_PER_MINUTE }, { "min", USEC_PER_MINUTE },
        { "h", USEC_PER_HOUR },  { "d", USEC_PER_DAY },
};

static const Unit size_units[] = {
        { "", 1 },
        { "B", 1 },
        { "K", UINT64_C(1) << 10 },
        { "KiB", UINT64_C(1) << 10 },
        { "M", UINT64_C(1) << 20 },
        { "MiB", UINT64_C(1) << 20 },
        { "G", UINT64_C(1) << 30 },
        { "GiB", UINT64_C(1) << 30 },
        { "T", UINT64_C(1) << 40 },
        { "TiB", UINT64_C(1) << 40 },
};

int parse_boolean(const char *s) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Leading decimal digits of *p into *ret, advancing *p past all of them also on -ERANGE, so that the caller
 * can still tell garbage after the number (-EINVAL) from a number too large. strtoul() would also take
 * blanks and signs, which a configuration file must not. */
static int parse_digits(const char **p, uint64_t *ret) {
        uint64_t v = 0;
        const char *s = *p;
        int r = 0;

        if (!is_digit(*s))
                return -EINVAL;
        for (; is_digit(*s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        r = -ERANGE;
                else
                        v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return r;
}

static const Unit *find_unit(const Unit *units, size_t n, const char *suffix) {
        for (size_t i = 0; i < n; i++)
                if (streq(units[i].suffix, suffix))
                        return &units[i];
        return NULL;
}

/* NUMBER followed by one of units: the number times the unit's factor. With allow_fraction the number may
 * have a fractional part, counted down to 1/factor. */
static int
parse_number(const char *s, const Unit *units, size_t n_units, bool allow_fraction, uint64_t *ret) {
        const char *p = s, *frac = NULL;
        uint64_t whole, v, part = 0;
        const Unit *u;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_digits(&p, &whole);
        if (r == -EINVAL)
                return r;
        /* The fraction by hand, not strtod(): that one reads "1,5" in a Vietnamese locale and "1e3". */
        if (allow_fraction && *p == '.') {
                frac = ++p;
                while (is_digit(*p))
                        p++;
        }
        u = find_unit(units, n_units, p);
        if (!u)
                return -EINVAL;
        if (r < 0 || whole > UINT64_MAX / u->factor)
                return -ERANGE;
        v = whole * u->factor;
        /* The fraction adds less than one factor: only the final sum can overflow. */
        for (uint64_t scale = u->factor; frac && frac < p && scale >= 10; frac++) {
                scale /= 10;
                part += (uint64_t) (*frac - '0') * scale;
        }
        if (v > UINT64_MAX - part)
                return -ERANGE;
        *ret = v + part;
        return 0;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        return parse_number(s, duration_units, ELEMENTSOF(duration_units), true, ret_usec);
}

int parse_size(const char *s, uint64_t *ret_bytes) {
        return parse_number(s, size_units, ELEMENTSOF(size_units), false, ret_bytes);
}

int parse_unsigned(const char *s, unsigned *ret) {
        static const Unit none = { "", 1 };
        uint64_t v;
        int r;

        r = parse_number(s, &none, 1, false, &v);
        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

/* At most this many digits in all: the digits as one integer stay exact in a double, and one division by a
 * power of ten then rounds correctly. */
#define DECIMAL_MAX_DIGITS 15

int parse_decimal_prefix(const char *s, const char **ret_end, double *ret) {
        static const double pow10[] = { 1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
        const char *p = s;
        uint64_t digits = 0;
        unsigned n = 0, n_fraction = 0;
        bool negative;

        if (!s)
                return -EINVAL;
        negative = *p == '-';
        if (negative)
                p++;
        if (!is_digit(*p))
                return -EINVAL;
        for (; is_digit(*p); p++, n++)
                if (n < DECIMAL_MAX_DIGITS)
                        digits = digits * 10 + (uint64_t) (*p - '0');
        if (*p == '.') {
                if (!is_digit(p[1]))
                        return -EINVAL; /* "1." */
                for (p++; is_digit(*p); p++, n++, n_fraction++)
                        if (n < DECIMAL_MAX_DIGITS)
                                digits = digits * 10 + (uint64_t) (*p - '0');
        }
        if (n > DECIMAL_MAX_DIGITS)
                return -ERANGE;
        *ret = (negative ? -1.0 : 1.0) * ((double) digits / pow10[n_fraction]);
        if (ret_end)
                *ret_end = p;
        return 0;
}

int parse_decimal_list(const char *s, char separator, double *ret, size_t n) {
        double v[16];
        const char *p = s;
        int r;

        if (!s || n == 0 || n > ELEMENTSOF(v))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && *p++ != separator)
                        return -EINVAL;
                r = parse_decimal_prefix(p, &p, &v[i]);
                if (r < 0)
                        return r;
        }
        if (*p != '\0')
                return -EINVAL;
        memcpy(ret, v, n * sizeof(double));
        return 0;
}

int parse_page_place(const char *s, bool *ret_from_end, unsigned *ret_page, double ret_rect[static 4]) {
        _cleanup_free_ char *page = NULL;
        const char *comma;
        bool from_end;
        unsigned n = 0;
        double v[4];

        if (!s || !(comma = strchr(s, ',')))
                return -EINVAL;
        page = strndup(s, (size_t) (comma - s));
        if (!page)
                return -ENOMEM;
        from_end = streq(page, "last");
        if (!from_end && (parse_unsigned(page, &n) < 0 || n == 0))
                return -EINVAL;
        if (parse_decimal_list(comma + 1, ',', v, 4) < 0 || v[0] < -PLACE_MAX || v[0] > PLACE_MAX ||
            v[1] < -PLACE_MAX || v[1] > PLACE_MAX || !(v[2] > 0 && v[2] < PLACE_MAX) ||
            !(v[3] > 0 && v[3] < PLACE_MAX))
                return -EINVAL;
        *ret_from_end = from_end;
        *ret_page = n;
        memcpy(ret_rect, v, sizeof v);
        return 0;
}
