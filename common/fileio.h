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
/* As tmpfile_beside()/tmpfile_commit(), but with no name beside path until the commit, so that a process
 * killed meanwhile (SIGKILL runs no handler) leaves nothing behind: atomic_output_open() returns the fd of
 * an unnamed file (O_TMPFILE) in path's folder with exactly mode and *ret_tmp = NULL, or, where the file
 * system has no unnamed files or /proc is missing, the fd and name of path.tmp-XXXXXX (to unlink unless
 * committed). atomic_output_commit() makes it durable and puts it in place of path (a path that exists is
 * replaced through a name beside it for the time of a rename). write_file_atomic() writes through them. */
int atomic_output_open(const char *path, mode_t mode, char **ret_tmp);
int atomic_output_commit(int fd, const char *tmp, const char *path);
int fsync_directory_of(const char *path);
/* The folder path names its file in, newly allocated: "." for a bare name, "/" for a file in the root. */
int path_directory(const char *path, char **ret);
int mkdir_parents(const char *path, mode_t mode); /* creates every missing parent of path */
int mkdir_p(const char *path, mode_t mode);       /* creates path and its parents */
