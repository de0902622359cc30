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
/* The two halves of write_file_atomic(), for content written by someone else (an fd handed to the agent):
 * tmpfile_beside() creates PATH.tmp-XXXXXX with mode and returns its fd and name; tmpfile_commit() makes
 * it durable and renames it over path. Until then path is untouched; on failure unlink the temporary file.
 */
int tmpfile_beside(const char *path, mode_t mode, char **ret_tmp);
int tmpfile_commit(int fd, const char *tmp, const char *path);
int fsync_directory_of(const char *path);
/* The folder path names its file in, newly allocated: "." for a bare name, "/" for a file in the root. */
int path_directory(const char *path, char **ret);
int mkdir_parents(const char *path, mode_t mode); /* creates every missing parent of path */
int mkdir_p(const char *path, mode_t mode);       /* creates path and its parents */
