/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The files kysoctl writes itself (sign's outputs, verify --html): an unnamed file in the output's folder
 * that gets a name only once it is whole, so that nothing is left beside the output when kysoctl is killed
 * (SIGKILL runs no handler). */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "kysoctl.h"
#include "macro.h"

int kysoctl_output_open(const char *target, mode_t mode, char **ret_tmp) {
        _cleanup_free_ char *dir = NULL;
        int fd, r;

        r = path_directory(target, &dir);
        if (r < 0)
                return r;
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
        if (fd < 0) {
                /* A file system without unnamed files (EOPNOTSUPP), a kernel older than 3.11 (EISDIR): a
                 * named temporary file, which an interrupted kysoctl removes but a killed one leaves. */
                if (errno == EOPNOTSUPP || errno == EISDIR)
                        return tmpfile_beside(target, mode, ret_tmp);
                return negative_errno();
        }
        /* The umask was applied by open(); an existing output keeps its exact permissions. */
        if (fchmod(fd, mode) < 0) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        *ret_tmp = NULL;
        return fd;
}

/* Gives the unnamed file open as fd the name path; -EEXIST when path exists. */
static int link_fd(int fd, const char *path) {
        char proc[64];

        (void) snprintf(proc, sizeof proc, "/proc/self/fd/%i", fd);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) >= 0)
                return 0;
        /* Without /proc, AT_EMPTY_PATH (which needs CAP_DAC_READ_SEARCH: root). */
        if (errno == ENOENT && linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) >= 0)
                return 0;
        return negative_errno();
}

int kysoctl_output_commit(int fd, const char *tmp, const char *target) {
        _cleanup_free_ char *name = NULL;
        int r;

        if (tmp)
                return tmpfile_commit(fd, tmp, target);
        if (fsync(fd) < 0)
                return negative_errno();
        /* A new output is named at once: nothing else ever appears beside it. */
        r = link_fd(fd, target);
        if (r == -EEXIST) {
                /* An output replaced: Linux cannot link over a file, so a name beside it for the time of a
                 * rename (a SIGKILL between the two leaves it). */
                for (unsigned i = 0; i < 16; i++) {
                        uint32_t x;

                        if (getrandom(&x, sizeof x, 0) != sizeof x)
                                return -EIO;
                        name = mfree(name);
                        if (asprintf(&name, "%s.tmp-%08x", target, x) < 0)
                                return -ENOMEM;
                        r = link_fd(fd, name);
                        if (r != -EEXIST)
                                break;
                }
                if (r < 0)
                        return r;
                if (rename(name, target) < 0) {
                        r = negative_errno();
                        (void) unlink(name);
                        return r;
                }
        } else if (r < 0)
                return r;
        return fsync_directory_of(target);
}
