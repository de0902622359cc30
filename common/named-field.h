/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* NamedField: a struct member known by a name (a JSON key, an option, a configuration key) and its offset,
 * so that one table and one loop read, write or free many members of the same type alike. */

#include <stddef.h>
#include <stdint.h>

typedef struct NamedField {
        const char *name;
        size_t offset; /* offsetof() the member in its struct */
} NamedField;

/* The member of obj that f names, as an lvalue of type. */
#define NAMED_FIELD(obj, f, type) (*(type *) ((uint8_t *) (obj) + (f)->offset))
