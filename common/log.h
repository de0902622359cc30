/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Logging: to the journal with structured fields when stderr is connected to it (or when asked), to stderr
 * otherwise. Log once, where the decision is made; library code returns errors and lets the caller log. */

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO, /* journal if stderr is the journal stream (JOURNAL_STREAM) and journald listens */
        LOG_TARGET_JOURNAL,
        LOG_TARGET_STDERR,
        LOG_TARGET_NULL,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

/* 0 when journald's native socket is there, else a negative errno: without it sd_journal_send() drops
 * entries and still reports success. */
int journal_socket_check(void);

void log_setup(const char *ident, LogTarget target); /* also reads KYSO_LOG_LEVEL (debug|info|...) */
void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s); /* -EINVAL when unknown */

/* Returns -abs(error), so "return log_error_errno(r, ...)" works. error may be 0. */
int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...)
        _printf_(6, 7);

/* Like log_internal(), with extra journal fields ("KEY=value" strings, NULL-terminated array), for example
 * MESSAGE_ID. On stderr the fields are not shown. */
int log_fields_internal(
        int level, int error, const char *const *fields, const char *file, int line, const char *func,
        const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...) \
        log_internal(level, error, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")
#define log_fields(level, fields, ...) \
        log_fields_internal(level, 0, fields, __FILE__, __LINE__, __func__, __VA_ARGS__)
