/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
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

#include <openssl/sha.h>
#include <systemd/sd-journal.h>

#include "audit-log.h"
#include "audit-reader.h"
#include "fileio.h"
#include "log.h"

struct AuditLog {
        char *path;
        char *lock_path;
        int fd;
        int lock_fd;
        AuditLogOptions opts;

        uint64_t seq;                  /* of the last record; 0: empty chain */
        char head[AUDIT_HASH_HEX + 1]; /* hash of the last record, or the genesis value */
        char head_time[AUDIT_TIME_LEN + 1];
        char chain[AUDIT_CHAIN_HEX + 1]; /* the chain's identity; "" for a log of an earlier version */
        uint64_t size;                   /* of the active file; we are its only writer */
        int active_month;                /* year*12+month-1 of the active file's first record; -1: empty */
        unsigned max_archive;

        bool broken;               /* a failed write could not be undone: reopen to recover */
        bool need_rotation_record; /* the active file is new and its first record must link the chain */
        char *rotated_from;        /* basename of the previous file, for that record */
        const char *rotation_reason;

        char *quarantine_path;

        AuditHasher *hasher;
        uid_t uid;
        pid_t pid;
        char *exe;

        AuditFault fault;
        unsigned fault_skip;
        uint64_t (*now_ms)(void *userdata);
        void *now_userdata;
        bool journal_failed; /* log the first journal failure only, until it works again */
};

static const char *base_name(const char *p) {
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

static uint64_t now_realtime_ms(void *userdata) {
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

static void set_message(char **ret_message, const char *fmt, ...) _printf_(2, 3);
static void set_message(char **ret_message, const char *fmt, ...) {
        va_list ap;
        if (!ret_message)
                return;
        free(*ret_message);
        va_start(ap, fmt);
        if (vasprintf(ret_message, fmt, ap) < 0)
                *ret_message = NULL;
        va_end(ap);
}

/* The lock lives in "<path>.lock", not on the log itself, because rotation renames the log. An OFD lock
 * conflicts also between two opens in one process (tests, or a bug in the agent); the holder writes its pid
 * and executable into the file so that the loser can name it. */
static int take_lock(AuditLog *log, char **ret_message) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

        log->lock_fd = open(log->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (log->lock_fd < 0) {
                int r = negative_errno();
                set_message(
                        ret_message, "Cannot open the audit log's lock file %s: %s.", log->lock_path,
                        strerror(-r));
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
                        set_message(
                                ret_message,
                                "The audit log %s is in use by another kyso agent (%s). Stop that agent "
                                "first: only one process may write the log.",
                                log->path, n > 0 && holder[0] ? holder : "process unknown");
                        return -EBUSY;
                }
                set_message(ret_message, "Cannot lock the audit log %s: %s.", log->lock_path, strerror(-r));
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
                set_message(
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
                        set_message(
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
                        set_message(
                                ret_message, "Cannot read the audit log file %s: %s.", archive,
                                strerror(-r));
                        return r;
                }
                r = read_last_line(afd, (uint64_t) st.st_size, buf, AUDIT_LINE_MAX + 2, &line, &len);
                if (r < 0) {
                        set_message(
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
                log->rotated_from = strdup(base_name(archive));
                log->rotation_reason = "recovered";
                if (!log->rotated_from)
                        return -ENOMEM;
                break;
        }
        return 0;
}

static bool take_fault(AuditLog *log, AuditFault f);
static int write_record(AuditLog *log, const AuditEvent *ev, uint64_t *ret_seq);
static int write_rotation_record(AuditLog *log);

/* A quarantine file is written as "<final>.at-<offset>.pending" (through a temporary file, so that a
 * .pending file is always complete) and gets its final name "<log>.torn-<UTC time>[-N]" only once the
 * log-torn-tail record naming that final name is durable. A crash anywhere in between leaves a .pending
 * file, which the next open() finishes: that is how no crash can leave the bytes cut off the log with no
 * record of them. The offset is in the name because, after a crash, nothing else says where the bytes were
 * (the log may have grown since: a start that crashed while writing the record leaves a new torn tail). */
typedef struct Pending {
        char *path;  /* "<final>.at-<offset>.pending" */
        char *final; /* what the record names */
        uint64_t offset;
        bool fresh; /* made by this open(); else left by a start that crashed */
} Pending;

typedef struct PendingList {
        Pending *items;
        size_t n;
} PendingList;

static void pending_list_done(PendingList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].path);
                free(l->items[i].final);
        }
        l->items = mfree(l->items);
        l->n = 0;
}

static int pending_list_add(PendingList *l, char *path, char *final, uint64_t offset, bool fresh) {
        Pending *p = realloc(l->items, (l->n + 1) * sizeof(Pending));
        if (!p) {
                free(path);
                free(final);
                return -ENOMEM;
        }
        l->items = p;
        l->items[l->n++] = (Pending){ .path = path, .final = final, .offset = offset, .fresh = fresh };
        return 0;
}

static bool pending_list_has_final(const PendingList *l, const char *final) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].final, final))
                        return true;
        return false;
}

static int pending_cmp(const void *a, const void *b) {
        const Pending *x = a, *y = b;
        int c = strverscmp(x->final, y->final); /* the time, then -1, -2, ... -10 */
        if (c != 0)
                return c;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Never replaces an existing file. */
static int rename_noreplace(const char *from, const char *to) {
        if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return negative_errno();
        /* A file system without RENAME_NOREPLACE; we hold the lock, so only outsiders could race us. */
        if (access(to, F_OK) == 0)
                return -EEXIST;
        if (rename(from, to) < 0)
                return negative_errno();
        return 0;
}

/* The .pending quarantine files beside the log, oldest first. Temporary files of a quarantine file that
 * never got its .pending name are removed: the log was cut only after that rename, so their bytes are
 * still in the log. */
static int list_pending(AuditLog *log, PendingList *ret, char **ret_message) {
        _cleanup_free_ char *dir = strndup(log->path, (size_t) (strrchr(log->path, '/') - log->path));
        const char *base = base_name(log->path);
        size_t base_len = strlen(base);
        int r = 0;

        if (!dir)
                return -ENOMEM;
        DIR *d = opendir(isempty(dir) ? "/" : dir);
        if (!d) {
                r = negative_errno();
                set_message(
                        ret_message, "Cannot read the folder of the audit log %s: %s.", log->path,
                        strerror(-r));
                return r;
        }
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                const char *name = de->d_name;
                if (strncmp(name, base, base_len) != 0 || !startswith(name + base_len, ".torn-"))
                        continue;
                const char *stamp = name + base_len + strlen(".torn-");
                size_t stamp_len = strspn(stamp, "0123456789TZ-");
                const char *at = startswith(stamp + stamp_len, ".at-");
                if (stamp_len == 0 || !at)
                        continue; /* a final name, or not ours */
                size_t digits = strspn(at, "0123456789");
                if (digits == 0 || digits > 20)
                        continue;

                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", dir, name) < 0)
                        r = -ENOMEM;
                else if (startswith(at + digits, ".pending.tmp-")) {
                        if (unlink(path) < 0 && errno != ENOENT)
                                log_debug_errno(errno, "Cannot remove %s, ignoring: %m", path);
                } else if (streq(at + digits, ".pending")) {
                        char *end;
                        errno = 0;
                        unsigned long long offset = strtoull(at, &end, 10);
                        if (errno != 0 || end != at + digits)
                                continue;
                        char *final = NULL;
                        if (asprintf(
                                    &final, "%s/%.*s", dir, (int) (base_len + strlen(".torn-") + stamp_len),
                                    name) < 0)
                                r = -ENOMEM;
                        else
                                r = pending_list_add(ret, TAKE_PTR(path), final, offset, false);
                }
        }
        closedir(d);
        if (r < 0)
                return r;
        if (ret->n > 1)
                qsort(ret->items, ret->n, sizeof(Pending), pending_cmp);
        return 0;
}

/* Makes "<final>.at-<offset>.pending" with the torn bytes, durable with its name, and adds it to pending. */
static int write_pending(
        AuditLog *log, PendingList *pending, uint64_t offset, const char *torn, size_t torn_len,
        char **ret_message) {
        char stamp[AUDIT_TIME_LEN + 1], compact[32];
        int r = 0;

        audit_format_time(log->now_ms(log->now_userdata), stamp);
        /* 2026-11-24T06:02:14.123Z -> 20261124T060214Z */
        snprintf(
                compact, sizeof(compact), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", stamp, stamp + 5, stamp + 8,
                stamp + 11, stamp + 14, stamp + 17);
        for (unsigned i = 0; i < 1000; i++) {
                _cleanup_free_ char *final = NULL, *path = NULL, *tmp = NULL;
                if ((i == 0 ? asprintf(&final, "%s.torn-%s", log->path, compact)
                            : asprintf(&final, "%s.torn-%s-%u", log->path, compact, i)) < 0) {
                        final = NULL;
                        return -ENOMEM;
                }
                /* A name no quarantine file has, finished or not. */
                if (access(final, F_OK) == 0 || pending_list_has_final(pending, final))
                        continue;
                if (asprintf(&path, "%s.at-%" PRIu64 ".pending", final, offset) < 0) {
                        path = NULL;
                        return -ENOMEM;
                }
                _cleanup_close_ int fd = tmpfile_beside(path, 0600, &tmp);
                if (fd < 0) {
                        r = fd;
                        set_message(
                                ret_message,
                                "Cannot create the quarantine file %s for the torn end of the audit log: %s.",
                                path, strerror(-r));
                        return r;
                }
                r = loop_write(fd, torn, torn_len);
                if (r >= 0 && fsync(fd) < 0)
                        r = negative_errno();
                if (r >= 0)
                        r = rename_noreplace(tmp, path);
                if (r < 0)
                        (void) unlink(tmp);
                if (r == -EEXIST)
                        continue;
                if (r >= 0)
                        r = fsync_directory_of(path);
                if (r < 0) {
                        set_message(
                                ret_message, "Cannot write the quarantine file %s: %s.", path, strerror(-r));
                        return r;
                }
                return pending_list_add(pending, TAKE_PTR(path), TAKE_PTR(final), offset, true);
        }
        set_message(
                ret_message,
                "Cannot create the quarantine file %s.torn-%s for the torn end of the audit log: %s.",
                log->path, compact, strerror(EEXIST));
        return -EEXIST;
}

/* A crash between write() and its completion leaves a last line without '\n'. It is never a record anybody
 * was told about (we report only after fdatasync of a whole line), but it is evidence: move it to a
 * quarantine file and cut it off; finish_quarantine() then records that we did. */
static int recover_torn_tail(AuditLog *log, PendingList *pending, char **ret_message) {
        _cleanup_free_ char *buf = NULL;
        int r;

        if (log->size == 0)
                return 0;

        size_t window = AUDIT_LINE_MAX + 2;
        uint64_t start = log->size > window ? log->size - window : 0;
        size_t n = (size_t) (log->size - start);
        buf = malloc(n);
        if (!buf)
                return -ENOMEM;
        ssize_t k = pread(log->fd, buf, n, (off_t) start);
        if (k < 0 || (size_t) k != n)
                return k < 0 ? negative_errno() : -EIO;
        if (buf[n - 1] == '\n')
                return 0;

        char *nl = memrchr(buf, '\n', n);
        if (!nl && start > 0) {
                set_message(
                        ret_message,
                        "The audit log %s ends with more than %u bytes that are not a record. This is not a "
                        "crash's torn line; nothing was changed. Run 'kysoctl audit verify' and keep the file "
                        "for the auditors.",
                        log->path, AUDIT_LINE_MAX);
                return -EBADMSG;
        }
        uint64_t cut = nl ? start + (uint64_t) (nl + 1 - buf) : 0;
        const char *torn = nl ? nl + 1 : buf;
        size_t torn_len = (size_t) (log->size - cut);

        /* A start that crashed after writing its .pending file but before the cut: the file has exactly
         * these bytes from exactly here. Finish that cut rather than copy the bytes a second time. (Only
         * the same bytes will do: a .pending file from here whose cut was done can meet a new torn tail
         * here, half of its own record, which is other evidence.) */
        bool copied = false;
        for (size_t i = 0; i < pending->n && !copied; i++) {
                _cleanup_free_ char *data = NULL;
                size_t size;
                if (pending->items[i].offset != cut ||
                    read_full_file(pending->items[i].path, window, &data, &size) < 0)
                        continue;
                copied = size == torn_len && memcmp(data, torn, size) == 0;
        }
        if (!copied) {
                r = write_pending(log, pending, cut, torn, torn_len, ret_message);
                if (r < 0)
                        return r;
        }

        /* Only now, with the bytes safe elsewhere, cut them off. */
        if (take_fault(log, AUDIT_FAULT_OPEN_KILL_BEFORE_CUT))
                (void) raise(SIGKILL);
        if (ftruncate(log->fd, (off_t) cut) < 0 || fdatasync(log->fd) < 0) {
                r = negative_errno();
                set_message(
                        ret_message, "Cannot cut the torn end off the audit log %s: %s.", log->path,
                        strerror(-r));
                return r;
        }
        if (take_fault(log, AUDIT_FAULT_OPEN_KILL_AFTER_CUT))
                (void) raise(SIGKILL);
        log->size = cut;
        return 0;
}

/* Whether the active file has, from offset on, the log-torn-tail record naming the quarantine file
 * quarantine (a base name). Its record can only be there: nothing else is appended after a cut until the
 * .pending file is finished (open() fails until then), and no rotation happens inside open(). */
static int torn_record_present(AuditLog *log, uint64_t offset, const char *quarantine) {
        _cleanup_free_ char *buf = malloc(AUDIT_LINE_MAX + 1);
        _cleanup_(audit_buf_done) AuditBuf want = {};

        if (!buf)
                return -ENOMEM;
        /* The value as the record has it: JSON-escaped. */
        audit_buf_put_json_string(&want, quarantine);
        if (want.error)
                return want.error;

        for (uint64_t pos = offset; pos < log->size;) {
                size_t n = (size_t) MIN(log->size - pos, (uint64_t) AUDIT_LINE_MAX + 1);
                ssize_t k = pread(log->fd, buf, n, (off_t) pos);
                if (k < 0)
                        return negative_errno();
                if ((size_t) k != n)
                        return -EIO;
                const char *nl = memchr(buf, '\n', n);
                if (!nl)
                        return 0; /* not a record of ours: the offset is not a line's start */
                size_t len = (size_t) (nl - buf);
                AuditRecordHead h;
                const char *v;
                size_t vlen;
                if (audit_record_scan(buf, len, &h, NULL) >= 0 && h.event == AUDIT_EVENT_LOG_TORN_TAIL &&
                    audit_record_find_string(buf, len, "quarantine", &v, &vlen) >= 0 &&
                    vlen == want.len - 2 && memcmp(v, want.data + 1, vlen) == 0)
                        return 1;
                pos += len + 1;
        }
        return 0;
}

/* Records the quarantine file p (unless its record is already there: a crash right after it), then gives
 * it its final name. */
static int finish_quarantine(AuditLog *log, const Pending *p, char **ret_message) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = read_full_file(p->path, AUDIT_LINE_MAX + 2, &data, &size);
        if (r < 0) {
                set_message(ret_message, "Cannot read the quarantine file %s: %s.", p->path, strerror(-r));
                return r;
        }
        r = torn_record_present(log, p->offset, base_name(p->final));
        if (r < 0) {
                set_message(ret_message, "Cannot read the audit log %s: %s.", log->path, strerror(-r));
                return r;
        }
        if (r == 0) {
                char off[32], len[32], sha[AUDIT_HASH_HEX + 1];
                unsigned char md[SHA256_DIGEST_LENGTH];

                /* The torn line may have been the first record of a new file: link the chain first. */
                if (log->need_rotation_record) {
                        r = write_rotation_record(log);
                        if (r < 0) {
                                set_message(
                                        ret_message, "Cannot continue the audit log %s in a new file: %s.",
                                        log->path, strerror(-r));
                                return r;
                        }
                }
                SHA256((const unsigned char *) data, size, md);
                audit_hex(md, sizeof(md), sha);
                snprintf(off, sizeof(off), "%" PRIu64, p->offset);
                snprintf(len, sizeof(len), "%zu", size);
                /* A crashed start moved the bytes: say that this record came later than the cut. */
                const char *recovered = p->fresh ? NULL : "recovered";
                const char *extra[] = { "file",       base_name(log->path),
                                        "quarantine", base_name(p->final),
                                        "offset",     off,
                                        "bytes",      len,
                                        "sha256",     sha,
                                        recovered,    "after-restart",
                                        NULL };
                AuditEvent ev = {
                        .type = AUDIT_EVENT_LOG_TORN_TAIL,
                        .message = p->fresh ? "The audit log ended with an unfinished record (a crash while "
                                              "writing); it was moved to a quarantine file."
                                            : "The audit log ended with an unfinished record (a crash while "
                                              "writing); it was moved to a quarantine file by an earlier "
                                              "start, which stopped before it could record that.",
                        .extra = extra,
                };
                r = write_record(log, &ev, NULL);
                if (r < 0) {
                        set_message(
                                ret_message, "Cannot record the recovery of the audit log %s: %s.",
                                log->path, strerror(-r));
                        return r;
                }
                if (take_fault(log, AUDIT_FAULT_OPEN_KILL_AFTER_RECORD))
                        (void) raise(SIGKILL);
        }

        r = rename_noreplace(p->path, p->final);
        if (r >= 0)
                r = fsync_directory_of(p->final);
        if (r < 0) {
                set_message(
                        ret_message, "Cannot give the quarantine file %s its final name %s: %s.", p->path,
                        base_name(p->final), strerror(-r));
                return r;
        }
        char *q = strdup(p->final);
        if (!q)
                return -ENOMEM;
        free(log->quarantine_path);
        log->quarantine_path = q;
        return 0;
}

AuditLog *audit_log_free(AuditLog *log) {
        if (!log)
                return NULL;
        safe_close(log->fd);
        safe_close(log->lock_fd); /* releases the OFD lock */
        audit_hasher_free(log->hasher);
        free(log->path);
        free(log->lock_path);
        free(log->exe);
        free(log->rotated_from);
        free(log->quarantine_path);
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

static int rotate(AuditLog *log, const char *reason);

int audit_log_open(const char *path, const AuditLogOptions *opts, AuditLog **ret, char **ret_message) {
        _cleanup_(audit_log_freep) AuditLog *log = NULL;
        _cleanup_(pending_list_done) PendingList pending = {};
        int r;

        if (isempty(path) || path[0] != '/') {
                set_message(ret_message, "The audit log path must be absolute: '%s'.", strempty(path));
                return -EINVAL;
        }
        log = calloc(1, sizeof(*log));
        if (!log)
                return -ENOMEM;
        log->fd = log->lock_fd = -EBADF;
        log->active_month = -1;
        log->now_ms = now_realtime_ms;
        if (opts)
                log->opts = *opts;
        log->fault = log->opts.fault;
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
                set_message(
                        ret_message, "Cannot create the folder of the audit log %s: %s.", path,
                        strerror(-r));
                return r;
        }
        r = take_lock(log, ret_message);
        if (r < 0)
                return r;
        r = open_active(log, false);
        if (r < 0) {
                set_message(ret_message, "Cannot open the audit log %s: %s.", path, strerror(-r));
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
                set_message(
                        ret_message, "Cannot sync the folder of the audit log %s: %s.", path, strerror(-r));
                return r;
        }
        r = list_pending(log, &pending, ret_message);
        if (r < 0)
                return r;
        r = recover_torn_tail(log, &pending, ret_message);
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
                        set_message(
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
                r = finish_quarantine(log, &pending.items[i], ret_message);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(log);
        return 0;
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

void audit_log_inject_fault(AuditLog *log, AuditFault fault, unsigned skip) {
        log->fault = fault;
        log->fault_skip = skip;
}

void audit_log_set_clock(AuditLog *log, uint64_t (*now_ms)(void *userdata), void *userdata) {
        log->now_ms = now_ms ?: now_realtime_ms;
        log->now_userdata = userdata;
}

static void put_field(AuditBuf *b, bool *first, const char *key, const char *value) {
        if (!value)
                return;
        audit_buf_puts(b, *first ? "\"" : ",\"");
        audit_buf_puts(b, key);
        audit_buf_puts(b, "\":");
        size_t n = strlen(value);
        if (n > AUDIT_FIELD_MAX) {
                n = AUDIT_FIELD_MAX;
                /* Cut at a character boundary. */
                while (n > 0 && ((unsigned char) value[n] & 0xc0) == 0x80)
                        n--;
        }
        audit_buf_put_json_stringn(b, value, n);
        *first = false;
}

static void put_object(AuditBuf *b, const char *key, const char *const *kv) {
        bool any = false;
        for (size_t i = 0; kv[i * 2]; i++)
                if (kv[i * 2 + 1])
                        any = true;
        if (!any)
                return;
        bool first = true;
        audit_buf_printf(b, ",\"%s\":{", key);
        for (size_t i = 0; kv[i * 2]; i++)
                put_field(b, &first, kv[i * 2], kv[i * 2 + 1]);
        audit_buf_puts(b, "}");
}

static bool extra_key_ok(const char *k) {
        static const char *const secret_names[] = { "pin",      "so_pin",     "user_pin", "puk",
                                                    "password", "passphrase", "secret" };
        size_t n = strlen(k);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(secret_names); i++)
                if (streq(k, secret_names[i]))
                        return false;
        return true;
}

/* Appends the line of ev (without its '\n') to b, as record seq after the record whose hash is prev. */
static int
build_line(AuditLog *log, const AuditEvent *ev, uint64_t now, uint64_t seq, const char *prev, AuditBuf *b) {
        const char *name = audit_event_type_to_string(ev->type);
        char t[AUDIT_TIME_LEN + 1];
        size_t start = b->len;
        bool first;

        if (!name)
                return -EINVAL;
        if (ev->extra)
                for (size_t i = 0; ev->extra[i]; i += 2)
                        if (!ev->extra[i + 1] || !extra_key_ok(ev->extra[i]))
                                return -EINVAL;

        audit_format_time(now, t);
        audit_buf_printf(
                b, "{\"v\":%d,\"seq\":%" PRIu64 ",\"time\":\"%s\",\"prev\":\"%s\",\"event\":\"%s\"",
                AUDIT_FORMAT_VERSION, seq, t, prev, name);
        if (log->size == 0 && start == 0 && log->chain[0]) /* the first record of a file */
                audit_buf_printf(b, ",\"chain\":\"%s\"", log->chain);

        const AuditCaller *c = ev->caller;
        audit_buf_printf(
                b, ",\"caller\":{\"uid\":%u,\"pid\":%d", c ? (unsigned) c->uid : (unsigned) log->uid,
                c ? (int) c->pid : (int) log->pid);
        first = false;
        put_field(b, &first, "exe", c ? c->exe : log->exe);
        audit_buf_puts(b, "}");

        first = false;
        put_field(b, &first, "message", ev->message);
        put_object(
                b, "document",
                (const char *const[]){ "name", ev->document, "sha256_before", ev->sha256_before,
                                       "sha256_after", ev->sha256_after, NULL });
        put_object(
                b, "cert",
                (const char *const[]){ "subject", ev->cert_subject, "issuer", ev->cert_issuer, "serial",
                                       ev->cert_serial, "fingerprint", ev->cert_fingerprint, "kind",
                                       ev->cert_kind, "ca", ev->cert_ca, "not_after", ev->cert_not_after,
                                       "status", ev->cert_status, NULL });
        put_object(
                b, "token",
                (const char *const[]){ "uri", ev->token_uri, "label", ev->token_label, "serial",
                                       ev->token_serial, "manufacturer", ev->token_manufacturer, "model",
                                       ev->token_model, NULL });
        first = false;
        put_field(b, &first, "request", ev->request);
        put_field(b, &first, "role", ev->role);
        put_field(b, &first, "decision", ev->decision);
        put_field(b, &first, "reason", ev->reason);
        put_field(b, &first, "article", ev->article);
        put_field(b, &first, "timestamp_time", ev->timestamp_time);
        put_field(b, &first, "error", ev->error);
        if (ev->extra && ev->extra[0]) {
                audit_buf_puts(b, ",\"data\":{");
                first = true;
                for (size_t i = 0; ev->extra[i]; i += 2)
                        put_field(b, &first, ev->extra[i], ev->extra[i + 1]);
                audit_buf_puts(b, "}");
        }
        audit_buf_puts(b, "}");
        if (b->error)
                return b->error;
        if (b->len - start > AUDIT_LINE_MAX)
                return -E2BIG;
        return 0;
}

/* journal is journal_socket_check()'s answer, asked once per group. */
static void send_journal(AuditLog *log, const AuditEvent *ev, const char *line, size_t len, int journal) {
        AuditEventType t = ev->type;
        int prio = t == AUDIT_EVENT_SIGN_DENIED || t == AUDIT_EVENT_SIGN_FAILED ||
                                   t == AUDIT_EVENT_HELPER_CRASH || t == AUDIT_EVENT_PIN_FAILURE ||
                                   t == AUDIT_EVENT_LOG_TORN_TAIL
                           ? LOG_WARNING
                           : LOG_INFO;
        /* Without journald's socket the entry would be dropped silently, and the journal's copy is what
         * catches a cut tail: say it is missing. */
        int r = journal;

        if (r >= 0)
                r = sd_journal_send(
                        "MESSAGE=kyso audit #%" PRIu64 " %s: %s", log->seq, audit_event_type_to_string(t),
                        strempty(ev->message), "MESSAGE_ID=%s", audit_event_type_message_id(t),
                        "PRIORITY=%i", prio, "SYSLOG_IDENTIFIER=kyso-audit", "KYSO_AUDIT_SEQ=%" PRIu64,
                        log->seq, "KYSO_AUDIT_HASH=%s", log->head, "KYSO_AUDIT_FILE=%s", log->path,
                        "KYSO_AUDIT_CHAIN=%s", log->chain, "KYSO_AUDIT_EVENT=%s",
                        audit_event_type_to_string(t), "KYSO_AUDIT_RECORD=%.*s", (int) len, line, NULL);
        if (r < 0 && !log->journal_failed) {
                /* The file is the record; the journal copy is a second witness. Say so once. */
                log_warning_errno(
                        r,
                        "Cannot send audit record %" PRIu64 " to the journal (%m); the audit file "
                        "still has it, but without the journal's copy 'kysoctl audit verify --journal' cannot "
                        "tell a cut tail. Is systemd-journald running? Further journal failures are not logged "
                        "until it works again.",
                        log->seq);
                log->journal_failed = true;
        } else if (r >= 0)
                log->journal_failed = false;
}

/* Undoes a failed append: cut the file back to where it was. When that is impossible, the log is marked
 * broken: no further appends until it is reopened, which quarantines the partial line. */
static void undo_append(AuditLog *log, bool stuck) {
        if (stuck || ftruncate(log->fd, (off_t) log->size) < 0 || fdatasync(log->fd) < 0)
                log->broken = true;
}

/* Test hook: true once, when the injected fault is f and its countdown has run out. Counted per append
 * for write faults, per rotation for AUDIT_FAULT_ROTATE_CREATE. */
static bool take_fault(AuditLog *log, AuditFault f) {
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
            fault == AUDIT_FAULT_OPEN_KILL_AFTER_RECORD || !take_fault(log, fault))
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
        for (size_t i = 0; i < n; i++) {
                size_t start = b.len;
                r = build_line(log, &evs[i], now, log->seq + 1 + i, i == 0 ? log->head : hashes[i - 1], &b);
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
                r = rotate(log, "size");
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
                        send_journal(log, &evs[i], b.data + start, ends[i] - start - 1, journal);
        }
        return 0;
}

static int write_record(AuditLog *log, const AuditEvent *ev, uint64_t *ret_seq) {
        return write_group(log, ev, 1, log->now_ms(log->now_userdata), false, ret_seq);
}

static int write_rotation_record(AuditLog *log) {
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
        int r = write_record(log, &ev, NULL);
        if (r < 0)
                return r;
        log->need_rotation_record = false;
        log->rotated_from = mfree(log->rotated_from);
        return 0;
}

static int rotate(AuditLog *log, const char *reason) {
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
        _cleanup_free_ char *from = strdup(base_name(archive));
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
        if (take_fault(log, AUDIT_FAULT_ROTATE_CREATE))
                return -ENOSPC;
        r = open_active(log, true);
        if (r < 0)
                return r;
        r = fsync_directory_of(log->path);
        if (r < 0)
                return r;
        return write_rotation_record(log);
}

int audit_log_append_group(AuditLog *log, const AuditEvent *evs, size_t n, uint64_t *ret_first_seq) {
        int r;

        if (!log || !evs || n == 0 || n > AUDIT_GROUP_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (evs[i].type < 0 || evs[i].type >= _AUDIT_EVENT_MAX)
                        return -EINVAL;
        if (log->broken)
                return -EIO;

        /* A rotation that failed half-way has no active file open: open (create) it again. */
        if (log->fd < 0) {
                r = open_active(log, false);
                if (r < 0)
                        return r;
        }

        /* An unfinished rotation (a crash, or a full disk right after it) is finished first. */
        if (log->need_rotation_record) {
                r = write_rotation_record(log);
                if (r < 0)
                        return r;
        }

        uint64_t now = log->now_ms(log->now_userdata);
        if (log->size > 0 && log->opts.rotate_monthly && log->active_month >= 0 &&
            month_of_ms(now) != log->active_month) {
                r = rotate(log, "month");
                if (r < 0)
                        return r;
        }
        /* Rotation by size is decided there, once the lines (and so their length) are known. */
        return write_group(log, evs, n, now, true, ret_first_seq);
}

int audit_log_append(AuditLog *log, const AuditEvent *ev, uint64_t *ret_seq) {
        return audit_log_append_group(log, ev, 1, ret_seq);
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

int audit_log_check_journal(AuditLog *log, const AuditJournalHead *journal, char **ret_message) {
        _cleanup_free_ char *msg = NULL;
        const char *reason;
        int r;

        if (!log || !journal)
                return -EINVAL;
        if (!journal->present)
                return 0;
        bool other_chain = journal->chain[0] && log->chain[0] && !streq(journal->chain, log->chain);
        if (other_chain) {
                reason = "replaced";
                r = asprintf(
                        &msg,
                        "Records seq 1 to %" PRIu64
                        " of the audit log %s are missing: the journal saw another "
                        "log there (chain %.12s…) up to seq %" PRIu64
                        " (hash %.12s…), which this log (chain "
                        "%.12s…, %" PRIu64 " records) does not continue. That log was deleted or replaced.",
                        journal->seq, log->path, journal->chain, journal->seq, journal->hash, log->chain,
                        log->seq);
        } else if (journal->seq > log->seq) {
                reason = "cut";
                r = asprintf(
                        &msg,
                        "Records seq %" PRIu64 " to %" PRIu64
                        " of the audit log %s are missing: the journal "
                        "saw them (the last with hash %.12s…), but the log ends at seq %" PRIu64
                        ". Its end or its active file was deleted or cut off.",
                        log->seq + 1, journal->seq, log->path, journal->hash, log->seq);
        } else if (journal->seq == log->seq && !streq(journal->hash, log->head)) {
                reason = "rewritten";
                r = asprintf(
                        &msg,
                        "Record seq %" PRIu64 " of the audit log %s is not the one the journal saw (hash "
                        "%.12s… there, %.12s… here): the log was rewritten or replaced.",
                        log->seq, log->path, journal->hash, log->head);
        } else
                return 0;
        if (r < 0)
                return -ENOMEM;

        char jseq[32], lseq[32];
        snprintf(jseq, sizeof(jseq), "%" PRIu64, journal->seq);
        snprintf(lseq, sizeof(lseq), "%" PRIu64, log->seq);
        const char *extra[] = { "reason",
                                reason,
                                "journal_seq",
                                jseq,
                                "journal_hash",
                                journal->hash,
                                "log_seq",
                                lseq,
                                journal->chain[0] ? "journal_chain" : NULL,
                                journal->chain,
                                NULL };
        AuditEvent ev = { .type = AUDIT_EVENT_LOG_RECORDS_MISSING, .message = msg, .extra = extra };
        r = audit_log_append(log, &ev, NULL);
        if (r < 0) {
                set_message(
                        ret_message, "%s The record that says so cannot be written to the log: %s.", msg,
                        strerror(-r));
                return r;
        }
        if (ret_message) {
                free(*ret_message);
                *ret_message = TAKE_PTR(msg);
        }
        return 1;
}
