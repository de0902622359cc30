/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The torn-tail quarantine of AuditLog: what open() does with an unfinished last line (a crash while
 * writing), so that no crash can leave bytes cut off the log with no record of them. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include <openssl/sha.h>

#include "alloc-util.h"
#include "audit-log-private.h"
#include "fileio.h"
#include "log.h"

/* A quarantine file is written as "<final>.at-<offset>.pending" (through a temporary file, so that a
 * .pending file is always complete) and gets its final name "<log>.torn-<UTC time>[-N]" only once the
 * log-torn-tail record naming that final name is durable. A crash anywhere in between leaves a .pending
 * file, which the next open() finishes: that is how no crash can leave the bytes cut off the log with no
 * record of them. The offset is in the name because, after a crash, nothing else says where the bytes were
 * (the log may have grown since: a start that crashed while writing the record leaves a new torn tail). */
void audit_pending_list_done(AuditPendingList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].path);
                free(l->items[i].final);
        }
        l->items = mfree(l->items);
        l->n = 0;
}

static int pending_list_add(AuditPendingList *l, char *path, char *final, uint64_t offset, bool fresh) {
        AuditPending *p = ARRAY_APPEND(l->items, l->n);
        if (!p) {
                free(path);
                free(final);
                return -ENOMEM;
        }
        *p = (AuditPending){ .path = path, .final = final, .offset = offset, .fresh = fresh };
        return 0;
}

static bool pending_list_has_final(const AuditPendingList *l, const char *final) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].final, final))
                        return true;
        return false;
}

static int pending_cmp(const void *a, const void *b) {
        const AuditPending *x = a, *y = b;
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
int audit_quarantine_list(AuditLog *log, AuditPendingList *ret, char **ret_message) {
        _cleanup_free_ char *dir = strndup(log->path, (size_t) (strrchr(log->path, '/') - log->path));
        const char *base = audit_base_name(log->path);
        size_t base_len = strlen(base);
        int r = 0;

        if (!dir)
                return -ENOMEM;
        DIR *d = opendir(isempty(dir) ? "/" : dir);
        if (!d) {
                r = negative_errno();
                audit_set_message(
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
                qsort(ret->items, ret->n, sizeof(AuditPending), pending_cmp);
        return 0;
}

/* Makes "<final>.at-<offset>.pending" with the torn bytes, durable with its name, and adds it to pending. */
static int write_pending(
        AuditLog *log, AuditPendingList *pending, uint64_t offset, const char *torn, size_t torn_len,
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
                        audit_set_message(
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
                        audit_set_message(
                                ret_message, "Cannot write the quarantine file %s: %s.", path, strerror(-r));
                        return r;
                }
                return pending_list_add(pending, TAKE_PTR(path), TAKE_PTR(final), offset, true);
        }
        audit_set_message(
                ret_message,
                "Cannot create the quarantine file %s.torn-%s for the torn end of the audit log: %s.",
                log->path, compact, strerror(EEXIST));
        return -EEXIST;
}

/* A crash between write() and its completion leaves a last line without '\n'. It is never a record anybody
 * was told about (we report only after fdatasync of a whole line), but it is evidence: move it to a
 * quarantine file and cut it off; audit_quarantine_finish() then records that we did. */
int audit_quarantine_recover_tail(AuditLog *log, AuditPendingList *pending, char **ret_message) {
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
                audit_set_message(
                        ret_message,
                        "The audit log %s ends with more than %u bytes that are not a record. This is not a "
                        "crash's torn line; nothing was changed. Run 'kysoctl audit verify' and keep the file "
                        "for the auditors.",
                        log->path, AUDIT_LINE_MAX);
                return -EBADMSG;
        }
        /* A crash tears only the line after a record: when the line before these bytes is not a record,
         * the file is not a log (another program's file in its place), and nothing of it is touched. */
        if (nl) {
                const char *prev_nl = memrchr(buf, '\n', (size_t) (nl - buf));
                const char *last = prev_nl ? prev_nl + 1 : buf, *what = "the line is too long";
                if ((!prev_nl && start > 0) ||
                    audit_record_scan(last, (size_t) (nl - last), NULL, &what) < 0) {
                        audit_set_message(
                                ret_message,
                                "The last record of the audit log %s is not a valid kyso audit record (%s). "
                                "Nothing was written. Run 'kysoctl audit verify' and keep the file for the "
                                "auditors.",
                                log->path, what);
                        return -EBADMSG;
                }
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
        if (audit_log_take_fault(log, AUDIT_FAULT_OPEN_KILL_BEFORE_CUT))
                (void) raise(SIGKILL);
        if (ftruncate(log->fd, (off_t) cut) < 0 || fdatasync(log->fd) < 0) {
                r = negative_errno();
                audit_set_message(
                        ret_message, "Cannot cut the torn end off the audit log %s: %s.", log->path,
                        strerror(-r));
                return r;
        }
        if (audit_log_take_fault(log, AUDIT_FAULT_OPEN_KILL_AFTER_CUT))
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
int audit_quarantine_finish(AuditLog *log, const AuditPending *p, char **ret_message) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = read_full_file(p->path, AUDIT_LINE_MAX + 2, &data, &size);
        if (r < 0) {
                audit_set_message(
                        ret_message, "Cannot read the quarantine file %s: %s.", p->path, strerror(-r));
                return r;
        }
        r = torn_record_present(log, p->offset, audit_base_name(p->final));
        if (r < 0) {
                audit_set_message(ret_message, "Cannot read the audit log %s: %s.", log->path, strerror(-r));
                return r;
        }
        if (r == 0) {
                char off[32], len[32], sha[AUDIT_HASH_HEX + 1];
                unsigned char md[SHA256_DIGEST_LENGTH];

                /* The torn line may have been the first record of a new file: link the chain first. */
                if (log->need_rotation_record) {
                        r = audit_log_write_rotation_record(log, log->now_ms(log->now_userdata));
                        if (r < 0) {
                                audit_set_message(
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
                const char *extra[] = { "file",       audit_base_name(log->path),
                                        "quarantine", audit_base_name(p->final),
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
                r = audit_log_write_record(log, &ev, NULL);
                if (r < 0) {
                        audit_set_message(
                                ret_message, "Cannot record the recovery of the audit log %s: %s.",
                                log->path, strerror(-r));
                        return r;
                }
                if (audit_log_take_fault(log, AUDIT_FAULT_OPEN_KILL_AFTER_RECORD))
                        (void) raise(SIGKILL);
        }

        r = rename_noreplace(p->path, p->final);
        if (r >= 0)
                r = fsync_directory_of(p->final);
        if (r < 0) {
                audit_set_message(
                        ret_message, "Cannot give the quarantine file %s its final name %s: %s.", p->path,
                        audit_base_name(p->final), strerror(-r));
                return r;
        }
        char *q = strdup(p->final);
        if (!q)
                return -ENOMEM;
        free(log->quarantine_path);
        log->quarantine_path = q;
        return 0;
}
