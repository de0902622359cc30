/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"

ssize_t loop_read(int fd, void *buf, size_t n) {
        size_t done = 0;

        while (done < n) {
                ssize_t k = read(fd, (char *) buf + done, n - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

int loop_read_exact(int fd, void *buf, size_t n) {
        ssize_t k = loop_read(fd, buf, n);
        if (k < 0)
                return (int) k;
        return (size_t) k == n ? 0 : -EIO;
}

int loop_write(int fd, const void *buf, size_t n) {
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                if (size + 1 >= alloc) {
                        size_t n = alloc ? alloc * 2 : 4096;
                        if (n > max_size + 1)
                                n = max_size + 1;
                        if (n <= size + 1) {
                                /* At the cap: fine if the file ends here, too big if one more byte comes. */
                                char probe;
                                ssize_t k = loop_read(fd, &probe, 1);
                                if (k < 0)
                                        return (int) k;
                                if (k > 0)
                                        return -EFBIG;
                                break;
                        }
                        char *b = realloc(buf, n);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        alloc = n;
                }
                size_t want = alloc - 1 - size;
                ssize_t k = loop_read(fd, buf + size, want);
                if (k < 0)
                        return (int) k;
                size += (size_t) k;
                if ((size_t) k < want)
                        break; /* end of file */
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return read_full_fd(fd, max_size, ret, ret_size);
}

int fsync_directory_of(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        _cleanup_close_ int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fsync(fd) < 0)
                return negative_errno();
        return 0;
}

int tmpfile_beside(const char *path, mode_t mode, char **ret_tmp) {
        _cleanup_free_ char *tmp = NULL;
        int fd;

        if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fchmod(fd, mode) < 0) {
                int r = negative_errno();
                (void) unlink(tmp);
                safe_close(fd);
                return r;
        }
        *ret_tmp = TAKE_PTR(tmp);
        return fd;
}

int tmpfile_commit(int fd, const char *tmp, const char *path) {
        if (fsync(fd) < 0)
                return negative_errno();
        if (rename(tmp, path) < 0)
                return negative_errno();
        return fsync_directory_of(path);
}

int atomic_output_open(const char *target, mode_t mode, char **ret_tmp) {
        _cleanup_free_ char *dir = NULL;
        int fd, r;

        /* An unnamed file is named through /proc/self/fd (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH): without
         * /proc (a chroot, a sandbox), one that could not be named at the commit is not made. */
        if (access("/proc/self/fd", X_OK) < 0)
                return tmpfile_beside(target, mode, ret_tmp);
        r = path_directory(target, &dir);
        if (r < 0)
                return r;
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
        if (fd < 0) {
                /* A file system without unnamed files (EOPNOTSUPP), a kernel older than 3.11 (EISDIR): a
                 * named temporary file, which an interrupted writer removes but a killed one leaves. */
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

int atomic_output_commit(int fd, const char *tmp, const char *target) {
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

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = atomic_output_open(path, mode, &tmp);
        if (fd < 0)
                return fd;
        r = loop_write(fd, data, size);
        if (r >= 0)
                r = atomic_output_commit(fd, tmp, path);
        if (r < 0 && tmp)
                (void) unlink(tmp);
        return r;
}

int path_directory(const char *path, char **ret) {
        const char *slash = strrchr(path, '/');
        char *d;

        if (!slash)
                d = strdup(".");
        else if (slash == path)
                d = strdup("/");
        else
                d = strndup(path, (size_t) (slash - path));
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        char *slash = strrchr(copy, '/');
        if (!slash || slash == copy)
                return 0;
        *slash = '\0';
        return mkdir_p(copy, mode);
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1;; p++) {
                bool end = *p == '\0';
                if (*p == '/' || end) {
                        *p = '\0';
                        if (mkdir(copy, mode) < 0 && errno != EEXIST)
                                return negative_errno();
                        if (end)
                                break;
                        *p = '/';
                }
        }
        return 0;
}
