/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Small macros every kyso object uses: scoped cleanup (_cleanup_, TAKE_PTR), string and array helpers,
 * errno conventions. Destructors used with _cleanup_ accept NULL. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _pure_ __attribute__((pure))
#define _const_ __attribute__((const))
#define _must_check_ __attribute__((warn_unused_result))
#define _sentinel_ __attribute__((sentinel))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x)                                                                                \
        (__builtin_choose_expr(                                                                      \
                !__builtin_types_compatible_p(typeof(x), typeof(&*(x))), sizeof(x) / sizeof((x)[0]), \
                (void) 0))

#define MIN(a, b)                         \
        ({                                \
                const typeof(a) _a = (a); \
                const typeof(b) _b = (b); \
                _a < _b ? _a : _b;        \
        })
#define MAX(a, b)                         \
        ({                                \
                const typeof(a) _a = (a); \
                const typeof(b) _b = (b); \
                _a > _b ? _a : _b;        \
        })

/* Hand ownership of a pointer or fd out of a _cleanup_ scope. */
#define TAKE_PTR(p)                  \
        ({                           \
                typeof(p) _p_ = (p); \
                (p) = NULL;          \
                _p_;                 \
        })
/* The same for a struct whose members a _cleanup_ function frees: the struct is emptied (zeroed). */
#define TAKE_STRUCT(s)               \
        ({                           \
                typeof(s) _s_ = (s); \
                (s) = (typeof(s)){}; \
                _s_;                 \
        })
#define TAKE_FD(fd)              \
        ({                       \
                int _fd_ = (fd); \
                (fd) = -EBADF;   \
                _fd_;            \
        })

#define mfree(p)                  \
        ({                        \
                free(p);          \
                (typeof(p)) NULL; \
        })

/* The errno of the last failed libc call, as a negative number; never 0. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define RET_NERRNO(expr)                                \
        ({                                              \
                long _r_ = (long) (expr);               \
                _r_ < 0 ? negative_errno() : (int) _r_; \
        })

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)

static inline bool streq_ptr(const char *a, const char *b) {
        if (a && b)
                return streq(a, b);
        return a == b;
}

static inline bool isempty(const char *s) {
        return !s || s[0] == '\0';
}
static inline const char *strempty(const char *s) {
        return s ?: "";
}
static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* Returns the pointer past the prefix when s starts with prefix, NULL otherwise. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* A copy of n bytes (malloc'd, at least 1 byte so that n == 0 is not NULL), or NULL when p is NULL or on
 * OOM. */
static inline void *memdup(const void *p, size_t n) {
        void *q;

        if (!p)
                return NULL;
        q = malloc(n ?: 1);
        if (q && n)
                memcpy(q, p, n);
        return q;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Cleanup for a type whose destructor takes the pointer: DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
 * gives X509_freep(), used as _cleanup_(X509_freep). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p) {   \
                if (*p)                         \
                        func(*p);               \
        }

/* NULL-terminated string arrays. */
void strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l);
int strv_push(char ***l, char *value); /* takes value on success */
int strv_extend(char ***l, const char *value);
bool strv_contains(char *const *l, const char *s);
char **strv_from_array(const char *const *a, size_t n); /* a copy of n strings; NULL on OOM */
/* The words of s: its runs of characters for which is_separator() is false. No word gives NULL. */
int strv_split(const char *s, bool (*is_separator)(char c), char ***ret);
#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
