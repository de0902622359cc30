/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* File helpers: whole-file reads with a size cap, atomic writes (temporary file, fsync, rename, fsync of the
 * directory), loops that survive EINTR and short reads/writes. */

#include <stddef.h>
#include <sys/types.h>

int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size); /* NUL-terminated */
int read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size);
int loop_read_exact(int fd, void *buf, size_t n); /* -EIO on early EOF */
ssize_t loop_read(int fd, void *buf, size_t n);   /* stops at EOF; returns bytes read */
int loop_write(int fd, const void *buf, size_t n);
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
int fsync_directory_of(const char *path);
int mkdir_parents(const char *path, mode_t mode); /* creates every missing parent of path */
int mkdir_p(const char *path, mode_t mode);       /* creates path and its parents */
