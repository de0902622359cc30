/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "audit-record.h"
#include "audit-window.h"
#include "macro.h"

/* Whole lines of up to AUDIT_LINE_MAX bytes fit in one probe read, with room for a few. */
#define PROBE_READ (4U * (AUDIT_LINE_MAX + 1U))
/* Bisection stops when this little is left: reading it is cheaper than more probes. */
#define BISECT_MIN (64U * 1024U)

void audit_window_init(AuditWindow *w, int64_t since, int64_t until) {
        *w = (AuditWindow){ .since = since, .until = until, .start = { .line_number = 1 } };
}

void audit_window_note(AuditWindow *w, const AuditLine *line, int64_t t) {
        if (t < w->since) {
                /* Everything up to here is before the window: it starts again after this record. */
                w->start = (AuditPos){
                        .file_index = line->file_index,
                        .offset = line->offset + line->len + 1,
                        .line_number = line->line_number > 0 ? line->line_number + 1 : 0,
                };
                w->has_end = false;
        } else if (t >= w->until && !w->has_end) {
                w->end = (AuditPos){
                        .file_index = line->file_index,
                        .offset = line->offset,
                        .line_number = line->line_number,
                };
                w->has_end = true;
        }
}

static int record_time(const char *line, size_t len, int64_t *ret) {
        AuditRecordHead h;
        if (audit_record_scan(line, len, &h, NULL) < 0)
                return -EBADMSG;
        *ret = audit_record_time_ms(&h);
        return 0;
}

/* The first record (a line that scans) starting in [from, to) of the file, from being a line's start, within
 * one probe read: its time and offset. -ENOENT when there is none there. */
static int
first_record(int fd, char *buf, uint64_t from, uint64_t to, int64_t *ret_t, uint64_t *ret_offset) {
        ssize_t n = pread(fd, buf, PROBE_READ, (off_t) from);
        if (n < 0)
                return negative_errno();
        for (const char *p = buf, *e = buf + n; p < e && from + (uint64_t) (p - buf) < to;) {
                const char *nl = memchr(p, '\n', (size_t) (e - p));
                if (!nl)
                        break; /* a torn tail, or a line longer than the read */
                if (record_time(p, (size_t) (nl - p), ret_t) >= 0) {
                        *ret_offset = from + (uint64_t) (p - buf);
                        return 0;
                }
                p = nl + 1;
        }
        return -ENOENT;
}

/* The first line start at or after offset, before to. */
static int line_start_from(int fd, char *buf, uint64_t offset, uint64_t to, uint64_t *ret) {
        if (offset == 0) {
                *ret = 0;
                return 0;
        }
        ssize_t n = pread(fd, buf, PROBE_READ, (off_t) (offset - 1));
        if (n < 0)
                return negative_errno();
        const char *nl = memchr(buf, '\n', (size_t) n);
        if (!nl || offset + (uint64_t) (nl - buf) >= to)
                return -ENOENT;
        *ret = offset + (uint64_t) (nl - buf);
        return 0;
}

/* In a file whose record at lo is older than since: a later record older than since, as late as bisection
 * finds with few reads. */
static int bisect(int fd, char *buf, uint64_t lo, uint64_t hi, int64_t since, uint64_t *ret) {
        while (hi > lo && hi - lo > BISECT_MIN) {
                uint64_t mid = lo + (hi - lo) / 2, start, offset;
                int64_t t;
                int r = line_start_from(fd, buf, mid, hi, &start);
                if (r == -ENOENT) {
                        hi = mid;
                        continue;
                }
                if (r < 0)
                        return r;
                r = first_record(fd, buf, start, hi, &t, &offset);
                if (r == -ENOENT) {
                        hi = mid;
                        continue;
                }
                if (r < 0)
                        return r;
                if (t < since)
                        lo = offset;
                else
                        hi = mid;
        }
        *ret = lo;
        return 0;
}

int audit_window_start_near(AuditReader *r, int64_t since, AuditPos *ret) {
        _cleanup_free_ char *buf = NULL;
        unsigned n = audit_reader_n_files(r);

        if (since == INT64_MIN || n == 0) {
                *ret = (AuditPos){ .line_number = 1 };
                return 0;
        }
        buf = malloc(PROBE_READ);
        if (!buf)
                return -ENOMEM;
        /* The newest file whose first record is older than since: the files before it end before it starts.
         */
        for (unsigned i = n; i-- > 0;) {
                _cleanup_close_ int fd = open(audit_reader_get_file(r, i), O_RDONLY | O_CLOEXEC);
                struct stat st;
                uint64_t first, found;
                int64_t t;
                if (fd < 0 || fstat(fd, &st) < 0)
                        return negative_errno();
                int k = first_record(fd, buf, 0, (uint64_t) st.st_size, &t, &first);
                if (k == -ENOENT || (k >= 0 && t >= since))
                        continue;
                if (k < 0)
                        return k;
                k = bisect(fd, buf, first, (uint64_t) st.st_size, since, &found);
                if (k < 0)
                        return k;
                *ret = (AuditPos){ .file_index = i, .offset = found, .line_number = found == 0 ? 1 : 0 };
                return 0;
        }
        *ret = (AuditPos){ .line_number = 1 };
        return 0;
}

int audit_window_find(AuditReader *r, const AuditPos *from, AuditWindow *w) {
        AuditLine line;
        int k;

        w->start = from ? *from : (AuditPos){ .line_number = 1 };
        w->has_end = false;
        if (w->since == INT64_MIN && w->until == INT64_MAX)
                return 0;
        k = audit_reader_seek(r, &w->start);
        if (k < 0)
                return k;
        while ((k = audit_reader_next(r, &line)) != 0) {
                int64_t t;
                if (k == -E2BIG)
                        continue;
                if (k < 0)
                        return k;
                if (!line.terminated || record_time(line.data, line.len, &t) < 0)
                        continue;
                audit_window_note(w, &line, t);
                /* Nothing after the end can move the start when there is no since. */
                if (w->has_end && w->since == INT64_MIN)
                        break;
        }
        return 0;
}

int audit_window_apply(AuditReader *r, const AuditWindow *w) {
        int k = audit_reader_seek(r, &w->start);
        if (k < 0)
                return k;
        audit_reader_set_end(r, w->has_end ? &w->end : NULL);
        return 0;
}
