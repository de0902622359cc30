/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AuditReader: streams the lines of an audit log's chain, every file in order ("<path>.1", "<path>.2", ...,
 * then "<path>"), in constant memory, with the file and line number of each. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit-record.h"
#include "macro.h"

typedef struct AuditReader AuditReader;

/* The chain's files in order: archives "<path>.N" by N, then path itself if it exists. -ENOENT when there is
 * none. *ret_max_archive (optional) gets the largest N, 0 when there are no archives. */
int audit_chain_files(const char *path, char ***ret_files, unsigned *ret_max_archive);

int audit_reader_open(const char *path, AuditReader **ret);
/* Reads one file only (for fuzzing and for checking a single file). */
int audit_reader_open_file(const char *file, AuditReader **ret);
/* Reads from memory (fuzzers); data must outlive the reader. */
int audit_reader_open_memory(const void *data, size_t size, AuditReader **ret);
/* Reads a snapshot taken elsewhere: the n files (names for messages) through the caller's open fds, which
 * it must keep open and which the reader reads with pread() (so several readers may share them), the last
 * file only up to last_end bytes (where its last complete record ended: a writer may be appending). When
 * *cancel becomes true, the next read fails with -ECANCELED. */
int audit_reader_open_fds(
        char *const *files, const int *fds, unsigned n, uint64_t last_end, const atomic_bool *cancel,
        AuditReader **ret);
AuditReader *audit_reader_free(AuditReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(AuditReader *, audit_reader_free);

typedef struct AuditLine {
        const char *data; /* without '\n'; valid until the next call */
        size_t len;
        bool terminated; /* false: the file ends without '\n' here (a torn tail) */
        bool first_in_file;
        unsigned file_index;  /* into audit_reader_get_file() */
        uint64_t line_number; /* 1-based, in its file; 0 when not known (after a seek to the middle of a
                                 file: see audit_reader_line_number()) */
        uint64_t offset;      /* where the line starts in its file */
} AuditLine;

/* A place in the chain: the start of a line (or the end of a file). */
typedef struct AuditPos {
        unsigned file_index;
        uint64_t offset;
        uint64_t line_number; /* of the line there, 1-based; 0 when not known */
} AuditPos;

/* 1 and a line, 0 at the end of the chain, negative on error: -E2BIG for a line longer than
 * AUDIT_LINE_MAX (ret is then filled with the location and no data), -errno for I/O errors. */
int audit_reader_next(AuditReader *r, AuditLine *ret);
/* The next line that is a whole record: it ends with '\n' and audit_record_scan_prefix() reads it (so
 * ret_head->event is not looked up: audit_record_event_is() compares it). Lines too long and lines that are
 * not records are passed over: the loop of the readers that look for records (verify, which reports every
 * bad line, reads with audit_reader_next()). 1, 0 at the end of the chain, negative errno on I/O errors. */
int audit_reader_next_record(AuditReader *r, AuditLine *ret_line, AuditRecordHead *ret_head);
const char *audit_reader_get_file(const AuditReader *r, unsigned index);
unsigned audit_reader_n_files(const AuditReader *r);
/* Fuzzers and tests: read in chunks of `chunk` bytes and treat lines longer than line_max as too long (at
 * most the defaults, 64 KiB and AUDIT_LINE_MAX), so that small inputs reach the refill and over-long-line
 * paths. Call before the first audit_reader_next(). */
int audit_reader_set_limits(AuditReader *r, size_t chunk, size_t line_max);
/* Bytes read so far, over all files. */
uint64_t audit_reader_bytes(const AuditReader *r);
/* Goes to pos (a line's start, e.g. from audit_window_start_near()): the next line is the one there. Lines
 * are numbered on from pos->line_number, or not (0) when it is 0. -EINVAL for a place outside the chain. */
int audit_reader_seek(AuditReader *r, const AuditPos *pos);
/* audit_reader_next() returns 0 (the end) at end instead of at the end of the chain. */
void audit_reader_set_end(AuditReader *r, const AuditPos *end);
/* The line's number in its file, counted from the file's start when the reader did not know it (only
 * messages need it, so after a seek it is paid for only when one is written). 0 when the file cannot be
 * read. */
uint64_t audit_reader_line_number(AuditReader *r, const AuditLine *line);
