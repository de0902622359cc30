/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* string-table: enum <-> name lookups over a "const char *const NAME_table[]" indexed by the enum, as
 * systemd's DEFINE_STRING_TABLE_LOOKUP: NAME_to_string() gives NULL for a value outside the table,
 * NAME_from_string() the value or -EINVAL (NULL, unknown name). Names are compared exactly. Tables of
 * messages are read with string_table_get(). */

#include <sys/types.h>

#include "macro.h"

/* The index of key in table (entries may be NULL), or -EINVAL. */
static inline ssize_t string_table_lookup(const char *const *table, size_t len, const char *key) {
        if (!key)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (streq_ptr(table[i], key))
                        return (ssize_t) i;
        return -EINVAL;
}

/* table[i], or fallback for a value outside the table or without an entry: for the enums whose values each
 * have a text for the user (N_()-marked, translated by the caller) and others share one. */
static inline const char *
string_table_get(const char *const *table, size_t len, ssize_t i, const char *fallback) {
        return i >= 0 && (size_t) i < len && table[i] ? table[i] : fallback;
}

#define _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, scope)               \
        scope const char *name##_to_string(type i) {                           \
                if ((ssize_t) i < 0 || (size_t) i >= ELEMENTSOF(name##_table)) \
                        return NULL;                                           \
                return name##_table[i];                                        \
        }

#define _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, scope)                            \
        scope type name##_from_string(const char *s) {                                        \
                return (type) string_table_lookup(name##_table, ELEMENTSOF(name##_table), s); \
        }

#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type) _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, )
#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, )
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_TO_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, static)
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_FROM_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, static)

#define DEFINE_STRING_TABLE_LOOKUP(name, type)           \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type) \
        DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type)
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP(name, type)           \
        DEFINE_PRIVATE_STRING_TABLE_LOOKUP_TO_STRING(name, type) \
        DEFINE_PRIVATE_STRING_TABLE_LOOKUP_FROM_STRING(name, type)
