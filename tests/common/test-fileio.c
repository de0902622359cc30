/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"

static char dir[] = "/tmp/kyso-test-fileio-XXXXXX";

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static size_t count_entries(const char *path) {
        DIR *d = opendir(path);
        size_t n = 0;
        struct dirent *de;
        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void test_atomic_write_and_read(void **state) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size;
        struct stat st;

        assert_true(asprintf(&path, "%s/a/b/out.txt", dir) > 0);
        assert_int_equal(mkdir_parents(path, 0700), 0);
        assert_int_equal(write_file_atomic(path, "hello\n", 6, 0640), 0);
        assert_int_equal(read_full_file(path, 1024, &data, &size), 0);
        assert_int_equal(size, 6);
        assert_string_equal(data, "hello\n");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);

        /* Overwrite: the old content is replaced whole, and no temporary file is left behind. */
        assert_int_equal(write_file_atomic(path, "bye", 3, 0600), 0);
        data = mfree(data);
        assert_int_equal(read_full_file(path, 1024, &data, &size), 0);
        assert_string_equal(data, "bye");
        _cleanup_free_ char *parent = NULL;
        assert_true(asprintf(&parent, "%s/a/b", dir) > 0);
        assert_int_equal(count_entries(parent), 1);
}

static void test_atomic_write_missing_dir(void **state) {
        _cleanup_free_ char *path = NULL;
        assert_true(asprintf(&path, "%s/nonexistent/out.txt", dir) > 0);
        assert_int_equal(write_file_atomic(path, "x", 1, 0600), -ENOENT);
}

static void test_tmpfile(void **state) {
        _cleanup_free_ char *path = NULL, *tmp = NULL, *tmp2 = NULL, *data = NULL;
        _cleanup_close_ int fd = -EBADF, fd2 = -EBADF;
        size_t size;
        struct stat st;

        assert_true(asprintf(&path, "%s/t/out.p7s", dir) > 0);
        assert_int_equal(mkdir_parents(path, 0700), 0);
        assert_int_equal(write_file_atomic(path, "old", 3, 0644), 0);

        /* Until the commit, the output keeps its old content; the temporary file is beside it. */
        fd = tmpfile_beside(path, 0640, &tmp);
        assert_true(fd >= 0);
        assert_true(strncmp(tmp, path, strlen(path)) == 0);
        assert_int_equal(loop_write(fd, "signature", 9), 0);
        assert_int_equal(read_full_file(path, 1024, &data, &size), 0);
        assert_string_equal(data, "old");
        assert_int_equal(tmpfile_commit(fd, tmp, path), 0);
        data = mfree(data);
        assert_int_equal(read_full_file(path, 1024, &data, &size), 0);
        assert_string_equal(data, "signature");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(access(tmp, F_OK), -1);

        /* Abandoned: unlinking the temporary file leaves the output as it was. */
        fd2 = tmpfile_beside(path, 0600, &tmp2);
        assert_true(fd2 >= 0);
        assert_int_equal(loop_write(fd2, "half", 4), 0);
        assert_int_equal(unlink(tmp2), 0);
        data = mfree(data);
        assert_int_equal(read_full_file(path, 1024, &data, &size), 0);
        assert_string_equal(data, "signature");

        _cleanup_free_ char *parent = NULL, *missing = NULL;
        assert_true(asprintf(&parent, "%s/t", dir) > 0);
        assert_int_equal(count_entries(parent), 1);
        assert_true(asprintf(&missing, "%s/nonexistent/out.p7s", dir) > 0);
        tmp2 = mfree(tmp2);
        assert_int_equal(tmpfile_beside(missing, 0600, &tmp2), -ENOENT);
        assert_null(tmp2);
}

/* The unnamed output: no name in the folder until the commit, then exactly the target, new or replaced. */
static void test_atomic_output(void **state) {
        _cleanup_free_ char *path = NULL, *parent = NULL, *tmp = NULL, *data = NULL;
        size_t size;
        struct stat st;

        assert_true(asprintf(&parent, "%s/u", dir) > 0);
        assert_true(asprintf(&path, "%s/out.html", parent) > 0);
        assert_int_equal(mkdir_parents(path, 0700), 0);
        assert_int_equal(mkdir_p(parent, 0700), 0);

        for (int round = 0; round < 2; round++) {
                _cleanup_close_ int fd = atomic_output_open(path, 0640, &tmp);
                assert_true(fd >= 0);
                /* /tmp has unnamed files (tmpfs, ext4): nothing is named until the commit. */
                assert_null(tmp);
                assert_int_equal(count_entries(parent), (size_t) round);
                assert_int_equal(loop_write(fd, round ? "second" : "first", round ? 6 : 5), 0);
                assert_int_equal(atomic_output_commit(fd, tmp, path), 0);
                data = mfree(data);
                assert_int_equal(read_full_file(path, 1024, &data, &size), 0);
                assert_string_equal(data, round ? "second" : "first");
                assert_int_equal(stat(path, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0640);
                /* Replaced, not joined by a temporary name. */
                assert_int_equal(count_entries(parent), 1);
        }

        /* Abandoned (a process killed before its commit): nothing to remove, the output as it was. */
        int fd = atomic_output_open(path, 0600, &tmp);
        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, "half", 4), 0);
        safe_close(fd);
        assert_int_equal(count_entries(parent), 1);
        data = mfree(data);
        assert_int_equal(read_full_file(path, 1024, &data, &size), 0);
        assert_string_equal(data, "second");
}

static void test_read_cap(void **state) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        assert_true(asprintf(&path, "%s/big", dir) > 0);
        assert_int_equal(write_file_atomic(path, "0123456789", 10, 0600), 0);
        assert_int_equal(read_full_file(path, 9, &data, NULL), -EFBIG);
        assert_null(data);
        assert_int_equal(read_full_file(path, 10, &data, NULL), 0);
        assert_string_equal(data, "0123456789");
}

static void test_loop_read_exact_short(void **state) {
        int p[2];
        char buf[8];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(loop_write(p[1], "abc", 3), 0);
        close(p[1]);
        assert_int_equal(loop_read_exact(p[0], buf, sizeof buf), -EIO);
        close(p[0]);
}

static void test_path_directory(void **state) {
        static const char *const cases[][2] = {
                { "/etc/kyso/policy.conf", "/etc/kyso" },
                { "/policy.conf", "/" },
                { "policy.conf", "." },
                { "policy.d/10-ward.conf", "policy.d" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *d = NULL;
                assert_int_equal(path_directory(cases[i][0], &d), 0);
                assert_string_equal(d, cases[i][1]);
        }
}

KYSO_TEST_MAIN_GROUP(
        setup, teardown,
        {
                cmocka_unit_test(test_atomic_write_and_read),
                cmocka_unit_test(test_atomic_write_missing_dir),
                cmocka_unit_test(test_tmpfile),
                cmocka_unit_test(test_atomic_output),
                cmocka_unit_test(test_read_cap),
                cmocka_unit_test(test_loop_read_exact_short),
                cmocka_unit_test(test_path_directory),
        });
