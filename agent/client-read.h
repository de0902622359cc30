/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* ClientReader: reads, on a worker thread, a file descriptor a client gave (a document, a leader's
 * signature), which may be a pipe the client writes late, stops writing, or never ends: a read waits at most
 * timeout_ms for data, ends at once when cancelled from the loop, and never goes beyond max_size bytes in
 * all. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ClientReader {
        int cancel_fd;     /* an eventfd, readable once cancelled */
        int timeout_ms;    /* for each wait for data; -1: none */
        uint64_t max_size; /* 0: no limit */
        uint64_t total;    /* bytes read so far, by client_reader_read() for the fds that count */
        bool timed_out;    /* the client sent nothing more for timeout_ms: -ETIMEDOUT */
        bool too_large;    /* more than max_size: -EFBIG */
} ClientReader;

int client_reader_init(ClientReader *c, int timeout_ms, uint64_t max_size);
void client_reader_done(ClientReader *c);
/* From the loop (any thread); does not block. Reads then end with -ECANCELED. */
void client_reader_cancel(ClientReader *c);
bool client_reader_cancelled(ClientReader *c);

/* Waits in poll() for fd (whose O_NONBLOCK is the client's, not ours to set) and the cancel eventfd, then
 * reads: bytes read, 0 at the end, or -ETIMEDOUT, -ECANCELED, -EFBIG (counted: c->total would pass
 * max_size), another negative errno. */
ssize_t client_reader_read(ClientReader *c, int fd, void *buf, size_t size, bool counted);
