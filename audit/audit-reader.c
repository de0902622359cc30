/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "audit-reader.h"
#include "audit-record.h"
#include "macro.h"

/* Small enough that the buffer stays in the CPU's cache between the kernel's copy and the hashing: with
 * 1 MiB reads, verify of a single file spent an eighth of its time in the copy. */
#define READ_CHUNK (64U * 1024U)
#define BUF_SIZE (READ_CHUNK + AUDIT_LINE_MAX + 2)
#define PREFETCH_AHEAD (16U * 1024U)
#define POPULATE_MIN (1024U * 1024U) /* a multiple of the page size */
#define POPULATE_MAX (32U * 1024U * 1024U)
#ifndef MADV_POPULATE_READ
#        define MADV_POPULATE_READ \
                22 /* Linux 5.14; older kernels refuse it, and the pages fault one by one */
#endif

struct AuditReader {
        char **files;
        unsigned n_files;
        unsigned file_index; /* the file being read */
        int fd;
        bool file_open, file_started;

        const char *mem;
        size_t mem_size;
        bool from_memory;

        char *buf;
        size_t start, end; /* unread bytes are buf[start..end) */
        bool eof;          /* of the current file */
        uint64_t line_number;
        uint64_t bytes;
        bool skipping;             /* inside an over-long line: drop bytes until its '\n' */
        const int *fds;            /* borrowed, one per file: read with pread() from offset; NULL: by name */
        uint64_t offset, last_end; /* in the current file; where the last file ends for this reader */
        const atomic_bool *cancel; /* when set, the next read fails with -ECANCELED */
        size_t chunk, line_max, buf_size; /* READ_CHUNK, AUDIT_LINE_MAX, BUF_SIZE but in fuzzers */
        uint64_t buf_offset;              /* where buf[0] is in the current file */
        bool lines_unknown;               /* after a seek into a file: line numbers are not counted */
        bool has_end;
        AuditPos stop;   /* audit_reader_set_end() */
        const char *map; /* an archive read in place: lines come from here, start is the offset */
        size_t map_size;
        size_t populated,
                populated_bytes; /* the map's page tables are filled up to here; this much of them */
};

typedef struct Archive {
        unsigned n;
        char *name;
} Archive;

static int archive_cmp(const void *a, const void *b) {
        const Archive *x = a, *y = b;
        return x->n < y->n ? -1 : x->n > y->n;
}

int audit_chain_files(const char *path, char ***ret_files, unsigned *ret_max_archive) {
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        size_t base_len = strlen(base);
        Archive *archives = NULL;
        size_t n = 0;
        int r = 0;

        dir = slash ? strndup(path, (size_t) (slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        if (isempty(dir)) {
                free(dir);
                dir = strdup("/");
                if (!dir)
                        return -ENOMEM;
        }

        DIR *d = opendir(dir);
        if (!d)
                return negative_errno();
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, base, base_len) != 0 || de->d_name[base_len] != '.')
                        continue;
                const char *num = de->d_name + base_len + 1;
                if (*num < '1' || *num > '9' || strlen(num) > 9 || num[strspn(num, "0123456789")] != '\0')
                        continue;
                /* The name first: the loop below frees every counted one. */
                char *name;
                if (asprintf(&name, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                Archive *a = ARRAY_APPEND(archives, n);
                if (!a) {
                        free(name);
                        r = -ENOMEM;
                        break;
                }
                *a = (Archive){ .n = (unsigned) strtoul(num, NULL, 10), .name = name };
        }
        closedir(d);

        char **files = NULL;
        if (r >= 0 && n > 0)
                qsort(archives, n, sizeof(Archive), archive_cmp);
        if (r >= 0 && ret_max_archive)
                *ret_max_archive = n > 0 ? archives[n - 1].n : 0;
        for (size_t i = 0; i < n; i++) {
                if (r >= 0 && ret_files) {
                        r = strv_push(&files, archives[i].name);
                        if (r >= 0)
                                continue;
                }
                free(archives[i].name);
        }
        free(archives);
        if (r >= 0 && ret_files && access(path, F_OK) == 0)
                r = strv_extend(&files, path);
        if (r < 0) {
                strv_free(files);
                return r;
        }
        if (!ret_files) {
                return n > 0 || access(path, F_OK) == 0 ? 0 : -ENOENT;
        }
        if (!files)
                return -ENOENT;
        *ret_files = files;
        return 0;
}

/* A reader of the n files (copied), with its read buffer unless it reads from memory. */
static int reader_new(char *const *files, size_t n, bool buffered, AuditReader **ret) {
        _cleanup_(audit_reader_freep) AuditReader *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->fd = -EBADF;
        r->chunk = READ_CHUNK;
        r->line_max = AUDIT_LINE_MAX;
        r->buf_size = BUF_SIZE;
        r->files = strv_from_array((const char *const *) files, n);
        if (n > 0 && !r->files)
                return -ENOMEM;
        r->n_files = (unsigned) n;
        if (buffered) {
                r->buf = malloc(BUF_SIZE);
                if (!r->buf)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

int audit_reader_set_limits(AuditReader *r, size_t chunk, size_t line_max) {
        if (!r || chunk == 0 || line_max == 0 || chunk > READ_CHUNK || line_max > AUDIT_LINE_MAX)
                return -EINVAL;
        r->chunk = chunk;
        r->line_max = line_max;
        r->buf_size = chunk + line_max + 2;
        return 0;
}

int audit_reader_open(const char *path, AuditReader **ret) {
        _cleanup_strv_free_ char **files = NULL;
        int k = audit_chain_files(path, &files, NULL);
        if (k < 0)
                return k;
        return reader_new(files, strv_length(files), true, ret);
}

int audit_reader_open_file(const char *file, AuditReader **ret) {
        return reader_new((char *const[]){ (char *) file }, 1, true, ret);
}

int audit_reader_open_memory(const void *data, size_t size, AuditReader **ret) {
        AuditReader *r;
        int k = reader_new((char *const[]){ (char *) "(memory)" }, 1, false, &r);
        if (k < 0)
                return k;
        r->from_memory = true;
        r->mem = data;
        r->mem_size = size;
        *ret = r;
        return 0;
}

int audit_reader_open_fds(
        char *const *files, const int *fds, unsigned n, uint64_t last_end, const atomic_bool *cancel,
        AuditReader **ret) {
        AuditReader *r;
        int k = reader_new(files, n, true, &r);
        if (k < 0)
                return k;
        r->fds = fds;
        r->last_end = last_end;
        r->cancel = cancel;
        *ret = r;
        return 0;
}

AuditReader *audit_reader_free(AuditReader *r) {
        if (!r)
                return NULL;
        if (r->map)
                munmap((void *) r->map, r->map_size);
        if (!r->fds)
                safe_close(r->fd);
        strv_free(r->files);
        free(r->buf);
        free(r);
        return NULL;
}

const char *audit_reader_get_file(const AuditReader *r, unsigned index) {
        return index < r->n_files ? r->files[index] : NULL;
}
unsigned audit_reader_n_files(const AuditReader *r) {
        return r->n_files;
}
uint64_t audit_reader_bytes(const AuditReader *r) {
        return r->bytes;
}

static int fill(AuditReader *r) {
        if (r->start > 0) {
                r->buf_offset += r->start;
                memmove(r->buf, r->buf + r->start, r->end - r->start);
                r->end -= r->start;
                r->start = 0;
        }
        while (r->end < r->buf_size) {
                size_t want = MIN(r->chunk, r->buf_size - r->end);
                ssize_t k;
                if (r->cancel && atomic_load(r->cancel))
                        return -ECANCELED;
                if (r->fds) {
                        /* A snapshot: the last file is read only up to where it ended when it was taken. */
                        if (r->file_index + 1 == r->n_files) {
                                uint64_t left = r->offset < r->last_end ? r->last_end - r->offset : 0;
                                if (left < want)
                                        want = (size_t) left;
                        }
                        k = want == 0 ? 0 : pread(r->fd, r->buf + r->end, want, (off_t) r->offset);
                        if (k > 0)
                                r->offset += (uint64_t) k;
                } else
                        k = read(r->fd, r->buf + r->end, want);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0) {
                        r->eof = true;
                        return 0;
                }
                r->end += (size_t) k;
                r->bytes += (uint64_t) k;
                return 1;
        }
        return 1;
}

static uint64_t next_line_number(AuditReader *r) {
        return r->lines_unknown ? 0 : ++r->line_number;
}

static bool at_end(const AuditReader *r, uint64_t offset) {
        return r->has_end && (r->file_index > r->stop.file_index ||
                              (r->file_index == r->stop.file_index && offset >= r->stop.offset));
}

static int file_open(AuditReader *r) {
        struct stat st;

        r->fd = r->fds ? r->fds[r->file_index] : open(r->files[r->file_index], O_RDONLY | O_CLOEXEC);
        if (r->fd < 0)
                return r->fds ? -EBADF : negative_errno();
        (void) posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        r->offset = 0;
        r->file_open = true;
        r->start = r->end = 0;
        r->buf_offset = 0;
        r->eof = false;
        r->line_number = 0;
        r->lines_unknown = false;
        r->skipping = false;
        /* An archive is never written again (rotation renames the active file; nothing truncates an
         * archive), so it can be read in place: copying it into a buffer cost verify a sixth of its time.
         * The active file, which a crash recovery may truncate under us, is read with read(). */
        if (!r->fds && r->file_index + 1 < r->n_files && fstat(r->fd, &st) >= 0 && st.st_size > 0 &&
            (uint64_t) st.st_size <= SIZE_MAX) {
                void *m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, r->fd, 0);
                if (m != MAP_FAILED) {
                        (void) madvise(m, (size_t) st.st_size, MADV_SEQUENTIAL);
                        r->map = m;
                        r->map_size = (size_t) st.st_size;
                }
        }
        return 0;
}

static void file_close(AuditReader *r) {
        if (r->map)
                munmap((void *) r->map, r->map_size);
        r->map = NULL;
        r->map_size = r->populated = r->populated_bytes = 0;
        r->fd = r->fds ? -EBADF : safe_close(r->fd);
        r->file_open = false;
}

/* The next line of a mapped archive: 1 or -E2BIG as audit_reader_next(), 0 at the file's end. */
static int next_from_map(AuditReader *r, AuditLine *ret) {
        const char *p = r->map + r->start;
        size_t avail = r->map_size - r->start;
        uint64_t offset = r->start;

        if (avail == 0)
                return 0;
        /* A page fault per page cost more than the copy the map saves: fill the page tables ahead of the
         * reading, 1 MiB first and more as the reading goes on (a seek or a single line reads little). */
        if (r->start + POPULATE_MIN / 2 > r->populated && r->populated < r->map_size) {
                size_t from = MAX(r->populated, r->start & ~(size_t) (POPULATE_MIN - 1));
                size_t n = r->populated_bytes < POPULATE_MIN   ? POPULATE_MIN
                           : r->populated_bytes > POPULATE_MAX ? POPULATE_MAX
                                                               : r->populated_bytes;
                n = MIN(n, r->map_size - from);
                (void) madvise((void *) (r->map + from), n, MADV_POPULATE_READ);
                r->populated = from + n;
                r->populated_bytes += n;
        }
        const char *nl = memchr(p, '\n', MIN(avail, r->line_max + 1));
        /* The page cache's pages are not contiguous, so the CPU's prefetcher stops at each page's end:
         * ask for the bytes a few lines ahead while this one is hashed. */
        size_t len = nl ? (size_t) (nl - p) : avail;
        for (size_t k = PREFETCH_AHEAD; k < PREFETCH_AHEAD + len + 1 && k < avail; k += 64)
                __builtin_prefetch(p + k);
        *ret = (AuditLine){
                .data = p,
                .len = len,
                .terminated = nl != NULL,
                .first_in_file = offset == 0,
                .file_index = r->file_index,
                .line_number = next_line_number(r),
                .offset = offset,
        };
        if (!nl && avail > r->line_max) {
                const char *skip = memchr(p, '\n', avail);
                size_t n = skip ? (size_t) (skip - p) + 1 : avail;
                r->start += n;
                r->bytes += n;
                ret->data = NULL;
                ret->len = 0;
                return -E2BIG;
        }
        r->start += ret->len + (nl ? 1 : 0);
        r->bytes += ret->len + (nl ? 1 : 0);
        return 1;
}

static int next_from_memory(AuditReader *r, AuditLine *ret) {
        if (r->start >= r->mem_size)
                return 0;
        const char *p = r->mem + r->start;
        size_t left = r->mem_size - r->start;
        const char *nl = memchr(p, '\n', left);
        size_t len = nl ? (size_t) (nl - p) : left;

        if (r->has_end && r->start >= r->stop.offset)
                return 0;
        *ret = (AuditLine){
                .data = p,
                .len = len,
                .terminated = nl != NULL,
                .first_in_file = r->start == 0,
                .file_index = 0,
                .line_number = next_line_number(r),
                .offset = r->start,
        };
        r->start += len + (nl ? 1 : 0);
        r->bytes = r->start;
        if (len > r->line_max) {
                ret->data = NULL;
                ret->len = 0;
                return -E2BIG;
        }
        return 1;
}

int audit_reader_next(AuditReader *r, AuditLine *ret) {
        int k;

        if (r->from_memory)
                return next_from_memory(r, ret);

        for (;;) {
                if (!r->file_open) {
                        if (r->file_index >= r->n_files)
                                return 0;
                        k = file_open(r);
                        if (k < 0)
                                return k;
                }
                if (r->map) {
                        if (at_end(r, r->start))
                                return 0;
                        k = next_from_map(r, ret);
                        if (k != 0)
                                return k;
                        goto next_file;
                }

                char *p = r->buf + r->start;
                size_t avail = r->end - r->start;
                uint64_t offset = r->buf_offset + r->start;
                if (!r->skipping && at_end(r, offset))
                        return 0;
                char *nl = avail > 0 ? memchr(p, '\n', MIN(avail, r->line_max + 1)) : NULL;

                if (r->skipping) {
                        /* Drop the rest of an over-long line. */
                        char *n2 = avail > 0 ? memchr(p, '\n', avail) : NULL;
                        if (n2) {
                                r->start += (size_t) (n2 - p) + 1;
                                r->skipping = false;
                                continue;
                        }
                        r->start = r->end;
                        if (r->eof)
                                goto next_file;
                        k = fill(r);
                        if (k < 0)
                                return k;
                        continue;
                }

                if (nl) {
                        size_t len = (size_t) (nl - p);
                        *ret = (AuditLine){
                                .data = p,
                                .len = len,
                                .terminated = true,
                                .first_in_file = offset == 0,
                                .file_index = r->file_index,
                                .line_number = next_line_number(r),
                                .offset = offset,
                        };
                        r->start += len + 1;
                        return 1;
                }
                if (avail > r->line_max) {
                        *ret = (AuditLine){
                                .first_in_file = offset == 0,
                                .file_index = r->file_index,
                                .line_number = next_line_number(r),
                                .offset = offset,
                        };
                        r->skipping = true;
                        r->start += r->line_max + 1;
                        return -E2BIG;
                }
                if (!r->eof) {
                        k = fill(r);
                        if (k < 0)
                                return k;
                        continue;
                }
                if (avail > 0) {
                        /* The file ends without '\n': hand out the torn line. */
                        *ret = (AuditLine){
                                .data = p,
                                .len = avail,
                                .terminated = false,
                                .first_in_file = offset == 0,
                                .file_index = r->file_index,
                                .line_number = next_line_number(r),
                                .offset = offset,
                        };
                        r->start = r->end;
                        return 1;
                }
next_file:
                file_close(r);
                r->file_index++;
        }
}

int audit_reader_next_record(AuditReader *r, AuditLine *ret_line, AuditRecordHead *ret_head) {
        int k;

        while ((k = audit_reader_next(r, ret_line)) != 0) {
                if (k == -E2BIG)
                        continue;
                if (k < 0)
                        return k;
                if (ret_line->terminated &&
                    audit_record_scan_prefix(ret_line->data, ret_line->len, ret_head, NULL) >= 0)
                        return 1;
        }
        return 0;
}

int audit_reader_seek(AuditReader *r, const AuditPos *pos) {
        if (!r || !pos || pos->file_index >= r->n_files)
                return -EINVAL;
        if (r->from_memory) {
                if (pos->offset > r->mem_size)
                        return -EINVAL;
                r->start = (size_t) pos->offset;
                r->line_number = pos->line_number > 0 ? pos->line_number - 1 : 0;
                r->lines_unknown = pos->line_number == 0;
                return 0;
        }
        if (r->file_open && r->file_index != pos->file_index)
                file_close(r);
        r->file_index = pos->file_index;
        if (!r->file_open) {
                int k = file_open(r);
                if (k < 0)
                        return k;
        }
        if (r->map) {
                if (pos->offset > r->map_size)
                        return -EINVAL;
        } else if (!r->fds && lseek(r->fd, (off_t) pos->offset, SEEK_SET) < 0)
                return negative_errno();
        r->offset = r->buf_offset = pos->offset;
        r->start = r->map ? (size_t) pos->offset : 0;
        r->end = 0;
        r->eof = false;
        r->skipping = false;
        r->line_number = pos->line_number > 0 ? pos->line_number - 1 : 0;
        r->lines_unknown = pos->line_number == 0;
        return 0;
}

void audit_reader_set_end(AuditReader *r, const AuditPos *end) {
        r->has_end = end != NULL;
        if (end)
                r->stop = *end;
}

uint64_t audit_reader_line_number(AuditReader *r, const AuditLine *line) {
        char buf[64 * 1024];
        uint64_t n = 1;

        if (line->line_number > 0 || r->from_memory)
                return line->line_number;
        int fd = r->fds ? r->fds[line->file_index] : open(r->files[line->file_index], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        for (uint64_t off = 0; off < line->offset;) {
                ssize_t k = pread(
                        fd, buf, (size_t) MIN((uint64_t) sizeof(buf), line->offset - off), (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        n = 0;
                        break;
                }
                for (const char *p = buf, *e = buf + k; (p = memchr(p, '\n', (size_t) (e - p))); p++)
                        n++;
                off += (uint64_t) k;
        }
        if (!r->fds)
                safe_close(fd);
        return n;
}
