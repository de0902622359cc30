/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* truncate-shim: an LD_PRELOAD module for test-pdf-truncated.sh. The first time the program maps or
 * pread()s the file named by $KYSO_TRUNCATE_PATH, the file is cut to half its size: as if the user's
 * application rewrote it while kysoctl verify was reading it. A mapping is made first and cut after (the
 * race that ends in SIGBUS); a read is cut first. Tests only. */
/* Both the plain and the 64-bit names are defined below: the headers must not alias one to the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static bool done;

static void cut_if_ours(int fd) {
        const char *path = getenv("KYSO_TRUNCATE_PATH");
        struct stat a, b;

        if (done || !path || fd < 0 || fstat(fd, &a) < 0 || stat(path, &b) < 0)
                return;
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino || !S_ISREG(a.st_mode))
                return;
        done = true;
        (void) truncate(path, a.st_size / 2);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        void *(*real)(void *, size_t, int, int, int, off_t) = dlsym(RTLD_NEXT, "mmap");
        void *m = real(addr, len, prot, flags, fd, off);

        if (m != MAP_FAILED)
                cut_if_ours(fd);
        return m;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
        return mmap(addr, len, prot, flags, fd, off);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
        ssize_t (*real)(int, void *, size_t, off_t) = dlsym(RTLD_NEXT, "pread");

        cut_if_ours(fd);
        return real(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
        return pread(fd, buf, n, off);
}
