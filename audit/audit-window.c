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

/* The last millisecond whose time a record can write: 9999-12-31T23:59:59.999Z. */
#define TIME_TEXT_MAX 253402300799999LL

static void time_text(int64_t ms, char ret[AUDIT_TIME_LEN + 1]) {
        ret[0] = '\0';
        if (ms >= 0 && ms <= TIME_TEXT_MAX)
                audit_format_time((uint64_t) ms, ret);
}

void audit_window_init(AuditWindow *w, int64_t since, int64_t until) {
        *w = (AuditWindow){ .since = since, .until = until, .start = { .line_number = 1 } };
        time_text(since, w->since_text);
        time_text(until, w->until_text);
}

/* The sign of the record's time minus ms (whose text is text, or "" when it has none). */
static int time_cmp(const AuditRecordHead *h, int64_t ms, const char *text) {
        if (text[0])
                return memcmp(h->time, text, AUDIT_TIME_LEN);
        int64_t t = audit_record_time_ms(h);
        return t < ms ? -1 : t > ms;
}

void audit_window_note(AuditWindow *w, const AuditLine *line, const AuditRecordHead *h) {
        if (w->since != INT64_MIN && time_cmp(h, w->since, w->since_text) < 0) {
                /* Everything up to here is before the window: it starts again after this record. */
                w->start = (AuditPos){
                        .file_index = line->file_index,
                        .offset = line->offset + line->len + 1,
                        .line_number = line->line_number > 0 ? line->line_number + 1 : 0,
                };
                w->has_end = false;
        } else if (w->until != INT64_MAX && !w->has_end && time_cmp(h, w->until, w->until_text) >= 0) {
                w->end = (AuditPos){
                        .file_index = line->file_index,
                        .offset = line->offset,
                        .line_number = line->line_number,
                };
                w->has_end = true;
        }
}

/* The first record (a line that scans) starting in [from, to) of the file, from being a line's start, within
 * one probe read: whether it is older than w's since, and its offset. -ENOENT when there is none there. */
static int first_record(
        int fd, char *buf, const AuditWindow *w, uint64_t from, uint64_t to, bool *ret_older,
        uint64_t *ret_offset) {
        ssize_t n = pread(fd, buf, PROBE_READ, (off_t) from);
        if (n < 0)
                return negative_errno();
        for (const char *p = buf, *e = buf + n; p < e && from + (uint64_t) (p - buf) < to;) {
                const char *nl = memchr(p, '\n', (size_t) (e - p));
                AuditRecordHead h;
                if (!nl)
                        break; /* a torn tail, or a line longer than the read */
                if (audit_record_scan(p, (size_t) (nl - p), &h, NULL) >= 0) {
                        *ret_older = time_cmp(&h, w->since, w->since_text) < 0;
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
static int bisect(int fd, char *buf, const AuditWindow *w, uint64_t lo, uint64_t hi, uint64_t *ret) {
        while (hi > lo && hi - lo > BISECT_MIN) {
                uint64_t mid = lo + (hi - lo) / 2, start, offset;
                bool older;
                int r = line_start_from(fd, buf, mid, hi, &start);
                if (r >= 0)
                        r = first_record(fd, buf, w, start, hi, &older, &offset);
                if (r == -ENOENT) {
                        hi = mid;
                        continue;
                }
                if (r < 0)
                        return r;
                if (older)
                        lo = offset;
                else
                        hi = mid;
        }
        *ret = lo;
        return 0;
}

int audit_window_start_near(AuditReader *r, const AuditWindow *w, AuditPos *ret) {
        _cleanup_free_ char *buf = NULL;
        unsigned n = audit_reader_n_files(r);

        if (w->since == INT64_MIN || n == 0) {
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
                bool older;
                if (fd < 0 || fstat(fd, &st) < 0)
                        return negative_errno();
                int k = first_record(fd, buf, w, 0, (uint64_t) st.st_size, &older, &first);
                if (k == -ENOENT || (k >= 0 && !older))
                        continue;
                if (k < 0)
                        return k;
                k = bisect(fd, buf, w, first, (uint64_t) st.st_size, &found);
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
        AuditRecordHead h;
        int k;

        w->start = from ? *from : (AuditPos){ .line_number = 1 };
        w->has_end = false;
        if (w->since == INT64_MIN && w->until == INT64_MAX)
                return 0;
        k = audit_reader_seek(r, &w->start);
        if (k < 0)
                return k;
        while ((k = audit_reader_next_record(r, &line, &h)) > 0) {
                audit_window_note(w, &line, &h);
                /* Nothing after the end can move the start when there is no since. */
                if (w->has_end && w->since == INT64_MIN)
                        break;
        }
        return MIN(k, 0);
}

int audit_window_apply(AuditReader *r, const AuditWindow *w) {
        int k = audit_reader_seek(r, &w->start);
        if (k < 0)
                return k;
        audit_reader_set_end(r, w->has_end ? &w->end : NULL);
        return 0;
}
