/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
/* sd_journal_sendv() would add CODE_FILE/LINE/FUNC of log.c itself beside the caller's, which we send. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"
#include "string-table.h"

static const char *log_ident = "kyso";
static LogTarget log_target = LOG_TARGET_AUTO;
static int log_max_level = LOG_INFO;

static const char *const log_level_table[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s) {
        if (streq_ptr(s, "error"))
                return LOG_ERR;
        return (int) string_table_lookup(log_level_table, ELEMENTSOF(log_level_table), s);
}

/* systemd sets JOURNAL_STREAM=dev:ino for the stderr it connects; only trust it if it is still our stderr.
 * And only if journald's native socket is there (journal_socket_check()): else stderr still reaches
 * someone. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        if ((unsigned long long) st.st_dev != dev || (unsigned long long) st.st_ino != ino)
                return false;
        return journal_socket_check() >= 0;
}

int journal_socket_check(void) {
        return access("/run/systemd/journal/socket", F_OK) < 0 ? -errno : 0;
}

void log_setup(const char *ident, LogTarget target) {
        if (ident)
                log_ident = ident;
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        log_target = target;
        int l = log_level_from_string(getenv("KYSO_LOG_LEVEL"));
        if (l >= 0)
                log_max_level = l;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

_printf_(7, 0) static int log_dispatch(
        int level, int error, const char *const *fields, const char *file, int line, const char *func,
        const char *format, va_list ap) {
        char msg[2048];
        int saved = errno;

        if (level > log_max_level || log_target == LOG_TARGET_NULL) {
                errno = saved;
                return -abs(error);
        }

        if (error != 0)
                errno = abs(error); /* lets %m in the format name the error */
        vsnprintf(msg, sizeof msg, format, ap);

        if (log_target == LOG_TARGET_JOURNAL) {
                char f_msg[2100], f_pri[16], f_file[512], f_line[32], f_func[256], f_errno[32], f_ident[128];
                struct iovec iov[64];
                size_t n = 0;

#define ADD(buf, ...)                                                                 \
        do {                                                                          \
                snprintf(buf, sizeof buf, __VA_ARGS__);                               \
                iov[n++] = (struct iovec){ .iov_base = buf, .iov_len = strlen(buf) }; \
        } while (0)
                ADD(f_msg, "MESSAGE=%s", msg);
                ADD(f_pri, "PRIORITY=%d", level);
                ADD(f_ident, "SYSLOG_IDENTIFIER=%s", log_ident);
                ADD(f_file, "CODE_FILE=%s", file);
                ADD(f_line, "CODE_LINE=%d", line);
                ADD(f_func, "CODE_FUNC=%s", func);
                if (error != 0)
                        ADD(f_errno, "ERRNO=%d", abs(error));
#undef ADD
                for (const char *const *f = fields; f && *f && n < ELEMENTSOF(iov); f++)
                        iov[n++] = (struct iovec){ .iov_base = (void *) *f, .iov_len = strlen(*f) };
                if (sd_journal_sendv(iov, (int) n) >= 0) {
                        errno = saved;
                        return -abs(error);
                }
                /* Journal unavailable: fall through to stderr rather than lose the message. */
        }

        fprintf(stderr, "%s: %s\n", log_ident, msg);
        errno = saved;
        return -abs(error);
}

int log_internal(
        int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        int r = log_dispatch(level, error, NULL, file, line, func, format, ap);
        va_end(ap);
        return r;
}

int log_fields_internal(
        int level, int error, const char *const *fields, const char *file, int line, const char *func,
        const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        int r = log_dispatch(level, error, fields, file, line, func, format, ap);
        va_end(ap);
        return r;
}
