/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client-read.h"
#include "macro.h"

int client_reader_init(ClientReader *c, int timeout_ms, uint64_t max_size) {
        *c = (ClientReader){
                .cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
                .timeout_ms = timeout_ms > 0 ? timeout_ms : -1,
                .max_size = max_size,
        };
        return c->cancel_fd < 0 ? -errno : 0;
}

void client_reader_done(ClientReader *c) {
        c->cancel_fd = safe_close(c->cancel_fd);
}

void client_reader_cancel(ClientReader *c) {
        (void) eventfd_write(c->cancel_fd, 1);
}

bool client_reader_cancelled(ClientReader *c) {
        struct pollfd p = { .fd = c->cancel_fd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

/* A regular file is always readable: one poll() per read, which the callers make large (256 KiB and more).
 */
ssize_t client_reader_read(ClientReader *c, int fd, void *buf, size_t size, bool counted) {
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = c->cancel_fd, .events = POLLIN },
                };
                ssize_t n;
                int k;

                k = poll(p, ELEMENTSOF(p), c->timeout_ms);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[1].revents != 0)
                        return -ECANCELED;
                if (k == 0) {
                        c->timed_out = true;
                        return -ETIMEDOUT;
                }
                n = read(fd, buf, size);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (counted) {
                        c->total += (uint64_t) n;
                        if (c->max_size > 0 && c->total > c->max_size) {
                                c->too_large = true;
                                return -EFBIG;
                        }
                }
                return n;
        }
}
