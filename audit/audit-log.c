/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "audit-log-private.h"
#include "audit-reader.h"
#include "fileio.h"
#include "log.h"

uint64_t audit_now_realtime_ms(void *userdata) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int month_of_ms(uint64_t ms) {
        int y;
        unsigned m, d;
        audit_civil_from_days((int64_t) (ms / 86400000ULL), &y, &m, &d);
        return y * 12 + (int) m - 1;
}

/* "YYYY-MM-..." → year*12+month-1, or -1 when t does not start like that. */
static int month_of_time_string(const char *t) {
        for (unsigned i = 0; i < 7; i++)
                if (i == 4 ? t[i] != '-' : (t[i] < '0' || t[i] > '9'))
                        return -1;
        int y = (t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0');
        int m = (t[5] - '0') * 10 + (t[6] - '0');
        return m >= 1 && m <= 12 ? y * 12 + m - 1 : -1;
}

int audit_log_parse_rotation(const char *s, AuditLogOptions *o) {
        uint64_t max_size = 0;
        bool monthly = false, off = false, any = false;

        if (!s || !o)
                return -EINVAL;
        for (const char *p = s; *p;) {
                size_t n = strcspn(p, ",");
                char word[32];
                if (n == 0 || n >= sizeof(word))
                        return -EINVAL;
                memcpy(word, p, n);
                word[n] = '\0';
                if (streq(word, "no") || streq(word, "none"))
                        off = true;
                else if (streq(word, "monthly"))
                        monthly = true;
                else {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(word, &end, 10);
                        unsigned shift = 0;
                        if (errno != 0 || end == word || word[0] == '-')
                                return -EINVAL;
                        if (*end == 'K')
                                shift = 10;
                        else if (*end == 'M')
                                shift = 20;
                        else if (*end == 'G')
                                shift = 30;
                        if (shift > 0)
                                end++;
                        if (*end != '\0' || v > (UINT64_MAX >> shift) || (v << shift) < 64 * 1024 ||
                            max_size)
                                return -EINVAL;
                        max_size = v << shift;
                }
                any = true;
                p += n;
                if (*p == ',' && *++p == '\0')
                        return -EINVAL;
        }
        if (!any || (off && (monthly || max_size)))
                return -EINVAL;
        o->max_size = max_size;
        o->rotate_monthly = monthly;
        return 0;
}

int audit_log_default_path(char **ret) {
        const char *e = getenv("KYSO_AUDIT_LOG");
        char *p = NULL;

        if (!isempty(e))
                p = strdup(e);
        else if (!isempty(getenv("XDG_STATE_HOME")) && getenv("XDG_STATE_HOME")[0] == '/') {
                if (asprintf(&p, "%s/kyso/audit.jsonl", getenv("XDG_STATE_HOME")) < 0)
                        p = NULL;
        } else {
                const char *home = getenv("HOME");
                if (isempty(home))
                        return -ENXIO;
                if (asprintf(&p, "%s/.local/state/kyso/audit.jsonl", home) < 0)
                        p = NULL;
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

void audit_set_message(char **ret_message, const char *fmt, ...) {
        va_list ap;
        if (!ret_message)
                return;
        free(*ret_message);
        va_start(ap, fmt);
        if (vasprintf(ret_message, fmt, ap) < 0)
                *ret_message = NULL;
        va_end(ap);
}

/* What to do when the log's file or folder cannot be opened or made (r), for the agent's refusal to start.
 */
static const char *open_advice(int r) {
        switch (r) {
        case -EACCES:
        case -EPERM:
                return " The folder or the file belongs to another account (an agent once run as root?): give "
                       "them back to this account with chown, or choose another path with audit-log in "
                       "kysod.conf.";
        case -EISDIR:
                return " A folder is in the log's place: move it away, or choose another path with audit-log "
                       "in kysod.conf.";
        case -ENOTDIR:
                return " A part of the path is a file, not a folder: choose another path with audit-log in "
                       "kysod.conf.";
        case -EROFS:
                return " The file system is read-only: choose another path with audit-log in kysod.conf.";
        case -ENOSPC:
        case -EDQUOT:
                return " The disk is full: free some space.";
        default:
                return "";
        }
}

/* The lock lives in "<path>.lock", not on the log itself, because rotation renames the log. An OFD lock
 * conflicts also between two opens in one process (tests, or a bug in the agent); the holder writes its pid
 * and executable into the file so that the loser can name it. */
static int take_lock(AuditLog *log, char **ret_message) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

        log->lock_fd = open(log->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (log->lock_fd < 0) {
                int r = negative_errno();
                audit_set_message(
                        ret_message, "Cannot open the audit log's lock file %s: %s.%s", log->lock_path,
                        strerror(-r), open_advice(r));
                return r;
        }
        if (fcntl(log->lock_fd, F_OFD_SETLK, &fl) < 0) {
                int r = negative_errno();
                if (r == -EAGAIN || r == -EACCES) {
                        char holder[256] = {};
                        ssize_t n = pread(log->lock_fd, holder, sizeof(holder) - 1, 0);
                        if (n > 0) {
                                holder[n] = '\0';
                                holder[strcspn(holder, "\n")] = '\0';
                        }
                        audit_set_message(
                                ret_message,
                                "The audit log %s is in use by another kyso agent (%s). Stop that agent "
                                "first: only one process may write the log.",
                                log->path, n > 0 && holder[0] ? holder : "process unknown");
                        return -EBUSY;
                }
                audit_set_message(
                        ret_message, "Cannot lock the audit log %s: %s.", log->lock_path, strerror(-r));
                return r;
        }
        char info[PATH_MAX + 64];
        int n = snprintf(info, sizeof(info), "pid %d, %s\n", (int) log->pid, strna(log->exe));
        if (ftruncate(log->lock_fd, 0) < 0 ||
            pwrite(log->lock_fd, info, (size_t) MIN(n, (int) sizeof(info) - 1), 0) < 0)
                log_debug_errno(errno, "Cannot write the holder into %s, ignoring: %m", log->lock_path);
        return 0;
}

/* Reads the last complete line of fd (which ends with '\n') into buf; *ret_len 0 when the file is empty. */
static int
read_last_line(int fd, uint64_t size, char *buf, size_t bufsize, const char **ret, size_t *ret_len) {
        if (size == 0) {
                *ret = buf;
                *ret_len = 0;
                return 0;
        }
        uint64_t start = size > bufsize ? size - bufsize : 0;
        size_t n = (size_t) (size - start);
        ssize_t k = pread(fd, buf, n, (off_t) start);
        if (k < 0)
                return negative_errno();
        if ((size_t) k != n)
                return -EIO;
        if (buf[n - 1] != '\n')
                return -EBADMSG;
        char *nl = memrchr(buf, '\n', n - 1);
        if (!nl && start > 0)
                return -E2BIG;
        const char *line = nl ? nl + 1 : buf;
        *ret = line;
        *ret_len = (size_t) (buf + n - 1 - line);
        return 0;
}

static int
head_from_line(AuditLog *log, const char *file, const char *line, size_t len, char **ret_message) {
        AuditRecordHead h;
        const char *what = NULL;
        int r = audit_record_scan(line, len, &h, &what);
        if (r < 0) {
                audit_set_message(
                        ret_message,
                        "The last record of the audit log %s is not a valid kyso audit record (%s). Nothing "
                        "was written. Run 'kysoctl audit verify' and keep the file for the auditors.",
                        file, what);
                return -EBADMSG;
        }
        log->seq = h.seq;
        memcpy(log->head_time, h.time, AUDIT_TIME_LEN);
        log->head_time[AUDIT_TIME_LEN] = '\0';
        return audit_hasher_line(log->hasher, line, len, log->head);
}

/* What the first record of a file says about the file: its month and the chain's identity (left as they
 * are when the file does not say). Both sit in the first few hundred bytes. */
static void read_first_record(int fd, int *ret_month, char chain[AUDIT_CHAIN_HEX + 1]) {
        static const char key[] = "\",\"chain\":\"";
        char first[512];
        ssize_t k = pread(fd, first, sizeof(first) - 1, 0);
        if (k <= 0)
                return;
        first[k] = '\0';
        first[strcspn(first, "\n")] = '\0';
        const char *t = strstr(first, "\"time\":\"");
        if (ret_month && t && strlen(t) >= 8 + 7)
                *ret_month = month_of_time_string(t + 8);
        const char *c = strstr(first, key);
        if (c && strlen(c) > sizeof(key) - 1 + AUDIT_CHAIN_HEX &&
            audit_is_hex(c + sizeof(key) - 1, AUDIT_CHAIN_HEX) &&
            c[sizeof(key) - 1 + AUDIT_CHAIN_HEX] == '"') {
                memcpy(chain, c + sizeof(key) - 1, AUDIT_CHAIN_HEX);
                chain[AUDIT_CHAIN_HEX] = '\0';
        }
}

static int find_head(AuditLog *log, char **ret_message) {
        _cleanup_free_ char *buf = malloc(AUDIT_LINE_MAX + 2);
        const char *line;
        size_t len;
        int r;

        if (!buf)
                return -ENOMEM;

        strcpy(log->head, AUDIT_GENESIS_PREV);
        log->seq = 0;
        log->active_month = -1;

        if (log->size > 0) {
                r = read_last_line(log->fd, log->size, buf, AUDIT_LINE_MAX + 2, &line, &len);
                if (r < 0) {
                        audit_set_message(
                                ret_message, "Cannot read the last record of the audit log %s: %s.",
                                log->path, r == -E2BIG ? "the line is too long" : strerror(-r));
                        return r == -E2BIG ? -EBADMSG : r;
                }
                r = head_from_line(log, log->path, line, len, ret_message);
                if (r < 0)
                        return r;

                /* The month of the first record decides monthly rotation. */
                read_first_record(log->fd, &log->active_month, log->chain);
                return 0;
        }

        /* An empty active file: the chain continues from the newest archive, if any. */
        _cleanup_strv_free_ char **files = NULL;
        r = audit_chain_files(log->path, &files, &log->max_archive);
        if (r == -ENOENT || log->max_archive == 0)
                return 0;
        if (r < 0)
                return r;
        /* The newest archive that has records (an empty one can only come from outside interference). */
        size_t n_files = strv_length(files);
        for (size_t i = n_files; i > 0; i--) {
                const char *archive = files[i - 1];
                if (streq(archive, log->path))
                        continue;
                _cleanup_close_ int afd = open(archive, O_RDONLY | O_CLOEXEC);
                struct stat st;
                if (afd < 0 || fstat(afd, &st) < 0) {
                        r = negative_errno();
                        audit_set_message(
                                ret_message, "Cannot read the audit log file %s: %s.", archive,
                                strerror(-r));
                        return r;
                }
                r = read_last_line(afd, (uint64_t) st.st_size, buf, AUDIT_LINE_MAX + 2, &line, &len);
                if (r < 0) {
                        audit_set_message(
                                ret_message,
                                "The audit log file %s does not end with a complete record. Run 'kysoctl "
                                "audit verify'.",
                                archive);
                        return -EBADMSG;
                }
                if (len == 0)
                        continue;
                r = head_from_line(log, archive, line, len, ret_message);
                if (r < 0)
                        return r;
                read_first_record(afd, NULL, log->chain);
                log->need_rotation_record = true;
                log->rotated_from = strdup(audit_base_name(archive));
                log->rotation_reason = "recovered";
                if (!log->rotated_from)
                        return -ENOMEM;
                break;
        }
        return 0;
}

AuditLog *audit_log_free(AuditLog *log) {
        if (!log)
                return NULL;
        audit_chain_check_cancel(log); /* joins the thread, which reads the log's files */
        safe_close(log->fd);
        safe_close(log->lock_fd); /* releases the OFD lock */
        audit_hasher_free(log->hasher);
        free(log->path);
        free(log->lock_path);
        free(log->exe);
        free(log->rotated_from);
        free(log->quarantine_path);
        audit_lost_done(&log->lost);
        free(log);
        return NULL;
}

static int open_active(AuditLog *log, bool exclusive) {
        struct stat st;
        int flags = O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : 0);

        log->fd = safe_close(log->fd);
        log->fd = open(log->path, flags, 0600);
        if (log->fd < 0)
                return negative_errno();
        if (fstat(log->fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        log->size = (uint64_t) st.st_size;
        return 0;
}

static int rotate(AuditLog *log, const char *reason, uint64_t now);

int audit_log_open_internal(
        const char *path, const AuditLogOptions *opts, AuditFault fault, AuditLog **ret,
        char **ret_message) {
        _cleanup_(audit_log_freep) AuditLog *log = NULL;
        _cleanup_(audit_pending_list_done) AuditPendingList pending = {};
        int r;

        if (isempty(path) || path[0] != '/') {
                audit_set_message(ret_message, "The audit log path must be absolute: '%s'.", strempty(path));
                return -EINVAL;
        }
        log = calloc(1, sizeof(*log));
        if (!log)
                return -ENOMEM;
        log->fd = log->lock_fd = log->chain_check_fd = -EBADF;
        log->active_month = -1;
        log->now_ms = audit_now_realtime_ms;
        if (opts)
                log->opts = *opts;
        log->fault = fault;
        log->uid = getuid();
        log->pid = getpid();
        log->path = strdup(path);
        if (!log->path || asprintf(&log->lock_path, "%s.lock", path) < 0)
                return -ENOMEM;
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = '\0';
                log->exe = strdup(exe);
        }
        r = audit_hasher_new(&log->hasher);
        if (r < 0)
                return r;

        r = mkdir_parents(path, 0700);
        if (r < 0) {
                audit_set_message(
                        ret_message, "Cannot create the folder of the audit log %s: %s.%s", path,
                        strerror(-r), open_advice(r));
                return r;
        }
        r = take_lock(log, ret_message);
        if (r < 0)
                return r;
        r = open_active(log, false);
        if (r < 0) {
                audit_set_message(
                        ret_message, "Cannot open the audit log %s: %s.%s", path, strerror(-r),
                        open_advice(r));
                return r;
        }
        /* Make the file's (and a new folder's) directory entry durable before any record counts on it. */
        _cleanup_free_ char *dir = strndup(path, (size_t) (strrchr(path, '/') - path));
        if (!dir)
                return -ENOMEM;
        r = fsync_directory_of(path);
        if (r >= 0 && !isempty(dir))
                r = fsync_directory_of(dir);
        if (r < 0) {
                audit_set_message(
                        ret_message, "Cannot sync the folder of the audit log %s: %s.", path, strerror(-r));
                return r;
        }
        r = audit_quarantine_list(log, &pending, ret_message);
        if (r < 0)
                return r;
        r = audit_quarantine_recover_tail(log, &pending, ret_message);
        if (r < 0)
                return r;
        r = find_head(log, ret_message);
        if (r < 0)
                return r;
        if (log->seq == 0) {
                /* A new chain: a new identity, which its first record will carry. */
                uint8_t id[AUDIT_CHAIN_HEX / 2];
                if (getrandom(id, sizeof(id), 0) != (ssize_t) sizeof(id)) {
                        r = errno > 0 ? -errno : -EIO;
                        audit_set_message(
                                ret_message, "Cannot make the audit log's chain identity: %s.",
                                strerror(-r));
                        return r;
                }
                audit_hex(id, sizeof(id), log->chain);
        }
        if (log->max_archive == 0) {
                r = audit_chain_files(path, NULL, &log->max_archive);
                if (r < 0 && r != -ENOENT)
                        return r;
        }

        /* Oldest first, this start's own (if any) last: each is recorded and renamed before the next. */
        for (size_t i = 0; i < pending.n; i++) {
                r = audit_quarantine_finish(log, &pending.items[i], ret_message);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(log);
        return 0;
}

int audit_log_open(const char *path, const AuditLogOptions *opts, AuditLog **ret, char **ret_message) {
        return audit_log_open_internal(path, opts, AUDIT_FAULT_NONE, ret, ret_message);
}

uint64_t audit_log_get_seq(const AuditLog *log) {
        return log->seq;
}
const char *audit_log_get_head_hash(const AuditLog *log) {
        return log->head;
}
const char *audit_log_get_path(const AuditLog *log) {
        return log->path;
}
const char *audit_log_get_quarantine_path(const AuditLog *log) {
        return log->quarantine_path;
}
const char *audit_log_get_chain(const AuditLog *log) {
        return log->chain;
}

/* Undoes a failed append: cut the file back to where it was. When that is impossible, the log is marked
 * broken: no further appends until it is reopened, which quarantines the partial line. */
static void undo_append(AuditLog *log, bool stuck) {
        if (stuck || ftruncate(log->fd, (off_t) log->size) < 0 || fdatasync(log->fd) < 0)
                log->broken = true;
}

/* Test hook: true once, when the injected fault is f and its countdown has run out. Counted per append
 * for write faults, per rotation for AUDIT_FAULT_ROTATE_CREATE. */
bool audit_log_take_fault(AuditLog *log, AuditFault f) {
        if (log->fault != f)
                return false;
        if (log->fault_skip > 0) {
                log->fault_skip--;
                return false;
        }
        log->fault = AUDIT_FAULT_NONE;
        return true;
}

static int do_write(AuditLog *log, const char *data, size_t len) {
        AuditFault fault = log->fault;
        if (fault == AUDIT_FAULT_NONE || fault == AUDIT_FAULT_ROTATE_CREATE ||
            fault == AUDIT_FAULT_OPEN_KILL_BEFORE_CUT || fault == AUDIT_FAULT_OPEN_KILL_AFTER_CUT ||
            fault == AUDIT_FAULT_OPEN_KILL_AFTER_RECORD || !audit_log_take_fault(log, fault))
                fault = AUDIT_FAULT_NONE;

        if (fault == AUDIT_FAULT_ENOSPC)
                return -ENOSPC;
        if (fault == AUDIT_FAULT_TORN_KILL) {
                /* The first of two write()s reaches the disk; the process dies before the second. */
                if (write(log->fd, data, len / 2) > 0)
                        (void) fdatasync(log->fd);
                (void) raise(SIGKILL);
        }
        if (fault == AUDIT_FAULT_SHORT_WRITE || fault == AUDIT_FAULT_SHORT_WRITE_STUCK) {
                (void) write(log->fd, data, len / 2);
                undo_append(log, fault == AUDIT_FAULT_SHORT_WRITE_STUCK);
                return -ENOSPC;
        }

        /* One write() of the whole line. A short write (a full disk) is continued, and undone when the rest
         * cannot be written: we are the only writer (the lock), so the file's end is ours. */
        size_t done = 0;
        while (done < len) {
                ssize_t k = write(log->fd, data + done, len - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        int r = k < 0 ? negative_errno() : -EIO;
                        if (done > 0)
                                undo_append(log, false);
                        return r;
                }
                done += (size_t) k;
        }

        if (fault == AUDIT_FAULT_FSYNC_EIO || (!log->opts.no_sync && fdatasync(log->fd) < 0)) {
                int r = fault == AUDIT_FAULT_FSYNC_EIO ? -EIO : negative_errno();
                /* The record's fate on disk is unknown: take it back so that it cannot stand for an event
                 * whose caller is told it failed. */
                undo_append(log, false);
                return r;
        }
        return 0;
}

/* Writes the records of evs[0..n) with one write() and one fdatasync(): all of them durable, or none of them
 * in the file. With may_rotate, a group that would take the active file past max_size is written to a new
 * file (so a group is never split across files). */
static int write_group(
        AuditLog *log, const AuditEvent *evs, size_t n, uint64_t now, bool may_rotate,
        uint64_t *ret_first_seq) {
        _cleanup_(audit_buf_done) AuditBuf b = {};
        _cleanup_free_ size_t *ends = calloc(n, sizeof(size_t));
        _cleanup_free_ char(*hashes)[AUDIT_HASH_HEX + 1] = calloc(n, AUDIT_HASH_HEX + 1);
        int r;

        if (log->broken)
                return -EIO;
        if (!ends || !hashes)
                return -ENOMEM;
        const AuditCaller self = { .uid = log->uid, .pid = log->pid, .exe = log->exe };
        for (size_t i = 0; i < n; i++) {
                size_t start = b.len;
                AuditRecordStamp stamp = {
                        .seq = log->seq + 1 + i,
                        .time_ms = now,
                        .prev = i == 0 ? log->head : hashes[i - 1],
                        /* the first record of a file names the chain */
                        .chain = log->size == 0 && i == 0 && log->chain[0] ? log->chain : NULL,
                        .self = &self,
                };
                r = audit_record_build(&evs[i], &stamp, &b);
                if (r < 0)
                        return r;
                r = audit_hasher_line(log->hasher, b.data + start, b.len - start, hashes[i]);
                if (r < 0)
                        return r;
                audit_buf_put(&b, "\n", 1);
                if (b.error)
                        return b.error;
                ends[i] = b.len;
        }
        if (may_rotate && log->opts.max_size > 0 && log->size > 0 &&
            log->size + b.len > log->opts.max_size) {
                r = rotate(log, "size", now);
                if (r < 0)
                        return r;
                /* The rotation record came first: the lines are built again after it. */
                return write_group(log, evs, n, now, false, ret_first_seq);
        }

        r = do_write(log, b.data, b.len);
        if (r < 0)
                return r;

        if (ret_first_seq)
                *ret_first_seq = log->seq + 1;
        audit_format_time(now, log->head_time);
        if (log->active_month < 0)
                log->active_month = month_of_ms(now);
        int journal = log->opts.no_journal ? 0 : journal_socket_check();
        for (size_t i = 0; i < n; i++) {
                size_t start = i == 0 ? 0 : ends[i - 1];
                log->size += ends[i] - start;
                log->seq++;
                memcpy(log->head, hashes[i], sizeof(hashes[i]));
                if (!log->opts.no_journal)
                        audit_journal_send(log, &evs[i], b.data + start, ends[i] - start - 1, journal);
        }
        return 0;
}

int audit_log_write_group(AuditLog *log, const AuditEvent *evs, size_t n, uint64_t now) {
        return write_group(log, evs, n, now, true, NULL);
}

int audit_log_write_record(AuditLog *log, const AuditEvent *ev, uint64_t *ret_seq) {
        return write_group(log, ev, 1, log->now_ms(log->now_userdata), false, ret_seq);
}

int audit_log_write_rotation_record(AuditLog *log, uint64_t now) {
        char last[32];
        snprintf(last, sizeof(last), "%" PRIu64, log->seq);
        const char *extra[] = {
                "previous_file",
                log->rotated_from,
                "previous_last_seq",
                last,
                "reason",
                log->rotation_reason,
                NULL,
        };
        AuditEvent ev = {
                .type = AUDIT_EVENT_LOG_ROTATED,
                .message = "A new audit log file was started; its first record continues the chain of the "
                           "previous file.",
                .extra = extra,
        };
        int r = write_group(log, &ev, 1, now, false, NULL);
        if (r < 0)
                return r;
        log->need_rotation_record = false;
        log->rotated_from = mfree(log->rotated_from);
        return 0;
}

static int rotate(AuditLog *log, const char *reason, uint64_t now) {
        char archive[PATH_MAX];
        int r;

        /* The previous records are durable (each append synced them); renaming keeps their inode. */
        if (snprintf(archive, sizeof(archive), "%s.%u", log->path, log->max_archive + 1) >=
            (int) sizeof(archive))
                return -ENAMETOOLONG;
        if (access(archive, F_OK) == 0) {
                /* Someone put files there since we looked: look again rather than overwrite anything. */
                r = audit_chain_files(log->path, NULL, &log->max_archive);
                if (r < 0)
                        return r;
                if (snprintf(archive, sizeof(archive), "%s.%u", log->path, log->max_archive + 1) >=
                            (int) sizeof(archive) ||
                    access(archive, F_OK) == 0)
                        return -EEXIST;
        }
        _cleanup_free_ char *from = strdup(audit_base_name(archive));
        if (!from)
                return -ENOMEM;
        /* Never replace an archive, even one that appeared after the check above. */
        if (renameat2(AT_FDCWD, log->path, AT_FDCWD, archive, RENAME_NOREPLACE) < 0) {
                if (errno != EINVAL && errno != ENOSYS)
                        return negative_errno();
                if (rename(log->path, archive) < 0) /* a file system without RENAME_NOREPLACE */
                        return negative_errno();
        }

        /* From here on the old fd belongs to the archive: never write to it again. Whatever fails below
         * leaves "no active file, rotation record owed", which the next append (or open) completes. */
        log->max_archive++;
        free(log->rotated_from);
        log->rotated_from = TAKE_PTR(from);
        log->rotation_reason = reason;
        log->need_rotation_record = true;
        log->fd = safe_close(log->fd);
        log->size = 0;
        log->active_month = -1;

        r = fsync_directory_of(log->path);
        if (r < 0)
                return r;
        if (audit_log_take_fault(log, AUDIT_FAULT_ROTATE_CREATE))
                return -ENOSPC;
        r = open_active(log, true);
        if (r < 0)
                return r;
        r = fsync_directory_of(log->path);
        if (r < 0)
                return r;
        r = audit_log_write_rotation_record(log, now);
        if (r < 0)
                return r;
        audit_chain_check_rotated(log);
        return 0;
}

/* The lock file deleted while the log is open (with its folder, or alone): another agent could lock a new
 * one and write the log too. Takes the lock again, on the file now at the lock's path. */
static int relock_if_gone(AuditLog *log) {
        struct stat fst, pst;

        if (fstat(log->lock_fd, &fst) < 0)
                return negative_errno();
        if (stat(log->lock_path, &pst) >= 0 && pst.st_dev == fst.st_dev && pst.st_ino == fst.st_ino)
                return 0;

        _cleanup_free_ char *msg = NULL;
        log->lock_fd = safe_close(log->lock_fd);
        int r = take_lock(log, &msg);
        if (r < 0) {
                /* Another agent took it meanwhile (or it cannot be made): write nothing more. */
                log_error("%s", strna(msg));
                log->lock_fd = safe_close(log->lock_fd);
                log->broken = true;
        }
        return r;
}

/* The active file deleted or moved away while the log is open (a clean-up, a logrotate): what would be
 * appended to it reaches nobody. Goes on in a new file at the path, first saying (log-records-missing) which
 * records went with the old one, so that verify fails there; a file put in its place is not appended to. */
static int reopen_if_gone(AuditLog *log) {
        struct stat fst, pst;
        char first[64] = {};
        uint64_t first_seq = 0;
        int r;

        if (fstat(log->fd, &fst) < 0)
                return negative_errno();
        if (stat(log->path, &pst) >= 0) {
                if (pst.st_dev == fst.st_dev && pst.st_ino == fst.st_ino)
                        return relock_if_gone(log);
                log_error(
                        "The audit log %s was replaced by another file while the agent was running; "
                        "nothing more is written to it. Restart the agent, which compares it with the "
                        "journal.",
                        log->path);
                return -ESTALE;
        }
        if (errno != ENOENT)
                return negative_errno();

        /* The first record of the file that went, for the message. */
        if (pread(log->fd, first, sizeof(first) - 1, 0) > 0)
                (void) sscanf(first, "{\"v\":%*u,\"seq\":%" SCNu64, &first_seq);
        uint64_t gone_size = log->size;
        log->fd = safe_close(log->fd);
        log->size = 0;
        log->active_month = -1;
        /* The whole folder may have gone (a clean-up of ~/.local/state): make it again, and the lock,
         * before another agent can take the log. */
        r = mkdir_parents(log->path, 0700);
        if (r < 0)
                return r;
        r = relock_if_gone(log);
        if (r < 0)
                return r;
        r = open_active(log, true);
        if (r == -EEXIST)
                r = -ESTALE;
        if (r >= 0)
                r = fsync_directory_of(log->path);
        if (r < 0)
                return r;
        if (gone_size == 0 || first_seq == 0 || first_seq > log->seq)
                return 0; /* nothing went with it */

        /* The new file continues the chain: after the newest archive, it links to it. */
        r = audit_chain_files(log->path, NULL, &log->max_archive);
        if (r < 0 && r != -ENOENT)
                return r;
        if (log->max_archive > 0 && !log->need_rotation_record) {
                char archive[PATH_MAX];
                snprintf(archive, sizeof(archive), "%s.%u", log->path, log->max_archive);
                free(log->rotated_from);
                log->rotated_from = strdup(audit_base_name(archive));
                if (!log->rotated_from)
                        return -ENOMEM;
                log->rotation_reason = "recovered";
                log->need_rotation_record = true;
        }

        char from[32], to[32];
        snprintf(from, sizeof(from), "%" PRIu64, first_seq);
        snprintf(to, sizeof(to), "%" PRIu64, log->seq);
        char head[AUDIT_HASH_HEX + 1];
        memcpy(head, log->head, sizeof(head));
        const char *extra[] = { "reason", "deleted-while-open", "first_seq", from, "last_seq",
                                to,       "last_hash",          head,        NULL };
        _cleanup_free_ char *msg = NULL;
        if (asprintf(
                    &msg,
                    "Records seq %s to %s of the audit log %s are missing: its active file was deleted or "
                    "moved away while the agent was running (the last record had hash %.12s…). A new file "
                    "goes on from here.",
                    from, to, log->path, head) < 0)
                return -ENOMEM;
        log_error("%s", msg);
        return audit_log_append_finding(log, AUDIT_EVENT_LOG_RECORDS_MISSING, TAKE_PTR(msg), extra, NULL);
}

static int append_group(AuditLog *log, const AuditEvent *evs, size_t n, uint64_t *ret_first_seq) {
        int r;

        if (log->broken)
                return -EIO;

        /* A rotation that failed half-way has no active file open: open (create) it again. */
        if (log->fd < 0) {
                r = open_active(log, false);
                if (r < 0)
                        return r;
        } else {
                r = reopen_if_gone(log);
                if (r < 0)
                        return r;
        }

        /* An unfinished rotation (a crash, or a full disk right after it) is finished first. */
        if (log->need_rotation_record) {
                r = audit_log_write_rotation_record(log, log->now_ms(log->now_userdata));
                if (r < 0)
                        return r;
        }

        /* One time for the group and for a rotation it makes: the rotation record comes first in the log,
         * so it must not be stamped later than the records after it. */
        uint64_t now = log->now_ms(log->now_userdata);
        if (log->size > 0 && log->opts.rotate_monthly && log->active_month >= 0 &&
            month_of_ms(now) != log->active_month) {
                r = rotate(log, "month", now);
                if (r < 0)
                        return r;
        }
        /* What could not be written while the log was not writable comes first, now that it is. */
        if (log->lost.records > 0) {
                r = audit_lost_write(log, now);
                if (r < 0)
                        return r;
        }
        /* Rotation by size is decided there, once the lines (and so their length) are known. */
        return write_group(log, evs, n, now, true, ret_first_seq);
}

int audit_log_append_group(AuditLog *log, const AuditEvent *evs, size_t n, uint64_t *ret_first_seq) {
        if (!log || !evs || n == 0 || n > AUDIT_GROUP_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (evs[i].type < 0 || evs[i].type >= _AUDIT_EVENT_MAX)
                        return -EINVAL;

        int r = append_group(log, evs, n, ret_first_seq);
        /* A record that is not valid is the caller's mistake, not the log's: only the log's failures
         * (full disk, I/O error, ...) are remembered for the log-unwritable record. */
        if (r < 0 && r != -EINVAL && r != -E2BIG)
                audit_lost_add(&log->lost, evs, n, log->now_ms(log->now_userdata), r);
        return r;
}

int audit_log_append(AuditLog *log, const AuditEvent *ev, uint64_t *ret_seq) {
        return audit_log_append_group(log, ev, 1, ret_seq);
}

int audit_log_append_finding(
        AuditLog *log, AuditEventType type, char *message, const char *const *extra, char **ret_message) {
        _cleanup_free_ char *msg = message;
        AuditEvent ev = { .type = type, .message = msg, .extra = extra };
        int r = audit_log_append(log, &ev, NULL);
        if (r < 0) {
                audit_set_message(
                        ret_message, "%s The record that says so cannot be written to the log: %s.", msg,
                        strerror(-r));
                return r;
        }
        if (ret_message) {
                free(*ret_message);
                *ret_message = TAKE_PTR(msg);
        }
        return 0;
}

int audit_log_append_simple(AuditLog *log, AuditEventType type, const char *message, ...) {
        const char *kv[65];
        size_t n = 0;
        va_list ap;

        va_start(ap, message);
        for (const char *k; (k = va_arg(ap, const char *));) {
                const char *v = va_arg(ap, const char *);
                if (n + 2 >= ELEMENTSOF(kv) || !v) {
                        va_end(ap);
                        return -EINVAL;
                }
                kv[n++] = k;
                kv[n++] = v;
        }
        va_end(ap);
        kv[n] = NULL;

        AuditEvent ev = { .type = type, .message = message, .extra = kv };
        return audit_log_append(log, &ev, NULL);
}
