/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's policy cache: the same policy again while nothing it was read from changed, and a fresh one
 * after any change a request must see: the main file, a drop-in added, changed or removed, a root added to
 * or removed from a trust folder, a root file rewritten, a mode changed; none kept from a load that began
 * too soon after a change. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/policy-cache.h"
#include "fileio.h"
#include "kyso-test.h"

static char tmpdir[] = "/tmp/kyso-test-policy-cache-XXXXXX";
static char conf[PATH_MAX], dropins[PATH_MAX], roots[PATH_MAX];

static void run(const char *fmt, ...) _printf_(1, 2);
static void run(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) > 0);
        va_end(ap);
        assert_int_equal(system(cmd), 0);
}

/* A CA certificate, as a trust folder holds them. */
static void make_root(const char *name) {
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null "
            "-subj '/CN=%s' -days 30 -addext basicConstraints=critical,CA:TRUE -out '%s/%s.pem' 2>/dev/null",
            name, roots, name);
}

static void write_text(const char *path, const char *text) {
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static void write_conf(unsigned warning_days) {
        _cleanup_free_ char *text = NULL;
        assert_true(
                asprintf(&text, "[trust]\nroot = %s\n[expiry]\nwarning-days = %u\n", roots, warning_days) >
                0);
        write_text(conf, text);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(tmpdir));
        snprintf(conf, sizeof conf, "%s/policy.conf", tmpdir);
        snprintf(dropins, sizeof dropins, "%s/policy.d", tmpdir);
        snprintf(roots, sizeof roots, "%s/roots", tmpdir);
        assert_int_equal(mkdir(dropins, 0755), 0);
        assert_int_equal(mkdir(roots, 0755), 0);
        make_root("Root A");
        write_conf(30);
        return 0;
}

static int teardown(void **state) {
        run("rm -rf '%s'", tmpdir);
        return 0;
}

static Policy *get(PolicyCache *c) {
        _cleanup_strv_free_ char **errors = NULL;
        Policy *p = NULL;
        assert_int_equal(policy_cache_load(c, conf, POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, &p, &errors), 0);
        assert_non_null(p);
        return p;
}

/* A cache with no settling time: a load is kept at once, so that what follows tests the comparison. */
static PolicyCache *new_cache(void) {
        PolicyCache *c = NULL;
        assert_int_equal(policy_cache_new(0, &c), 0);
        return c;
}

static void test_unchanged_is_kept(void **state) {
        _cleanup_(policy_cache_freep) PolicyCache *c = new_cache();
        _cleanup_(policy_freep) Policy *a = get(c), *b = get(c), *d = get(c);

        assert_ptr_equal(a, b);
        assert_ptr_equal(b, d);
        /* Each caller holds its own reference: the cache's outlives them, and theirs outlive it. */
        assert_int_equal(a->n_ref, 4);
}

static void test_main_file(void **state) {
        _cleanup_(policy_cache_freep) PolicyCache *c = new_cache();
        _cleanup_(policy_freep) Policy *a = get(c), *b = NULL, *d = NULL;

        assert_int_equal(a->expiry_warning_days, 30);
        write_conf(45); /* a new file renamed over it */
        b = get(c);
        assert_int_equal(b->expiry_warning_days, 45);
        assert_false(streq(a->digest, b->digest));

        /* Changed in place, same length, the modification time put back: the bytes differ. */
        struct stat st;
        assert_int_equal(stat(conf, &st), 0);
        _cleanup_free_ char *text = NULL;
        assert_true(asprintf(&text, "[trust]\nroot = %s\n[expiry]\nwarning-days = 46\n", roots) > 0);
        _cleanup_close_ int fd = open(conf, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, text, strlen(text), 0), (ssize_t) strlen(text));
        struct stat st2;
        assert_int_equal(fstat(fd, &st2), 0);
        assert_true(st2.st_ino == st.st_ino && st2.st_size == st.st_size);
        struct timespec times[2] = { st.st_atim, st.st_mtim };
        assert_int_equal(utimensat(AT_FDCWD, conf, times, 0), 0);
        d = get(c);
        assert_int_equal(d->expiry_warning_days, 46);
        write_conf(30);
}

static void test_dropins(void **state) {
        _cleanup_(policy_cache_freep) PolicyCache *c = new_cache();
        _cleanup_(policy_freep) Policy *a = get(c), *b = NULL, *d = NULL, *e = NULL;
        _cleanup_free_ char *path = NULL;

        assert_true(asprintf(&path, "%s/50-local.conf", dropins) > 0);
        write_text(path, "[expiry]\nwarning-days = 70\n");
        b = get(c);
        assert_int_equal(b->expiry_warning_days, 70);
        assert_int_equal(strv_length(b->files), 2);

        write_text(path, "[expiry]\nwarning-days = 80\n");
        d = get(c);
        assert_int_equal(d->expiry_warning_days, 80);

        assert_int_equal(unlink(path), 0);
        e = get(c);
        assert_int_equal(e->expiry_warning_days, 30);
        assert_int_equal(strv_length(e->files), 1);
        assert_string_equal(a->digest, e->digest);
        assert_ptr_not_equal(a, e);
}

static void test_trust_folder(void **state) {
        _cleanup_(policy_cache_freep) PolicyCache *c = new_cache();
        _cleanup_(policy_freep) Policy *a = get(c), *b = NULL, *d = NULL, *e = NULL;
        _cleanup_free_ char *path = NULL;

        assert_int_equal(sk_X509_num(a->trusted_roots), 1);
        make_root("Root B");
        b = get(c);
        assert_int_equal(sk_X509_num(b->trusted_roots), 2);

        /* Root B's file rewritten with another certificate: the same names in the folder. */
        make_root("Root B");
        d = get(c);
        assert_int_equal(sk_X509_num(d->trusted_roots), 2);
        assert_false(streq(b->digest, d->digest));

        assert_true(asprintf(&path, "%s/Root B.pem", roots) > 0);
        assert_int_equal(unlink(path), 0);
        e = get(c);
        assert_int_equal(sk_X509_num(e->trusted_roots), 1);
        assert_string_equal(a->digest, e->digest);
}

static void test_mode(void **state) {
        _cleanup_(policy_cache_freep) PolicyCache *c = new_cache();
        _cleanup_(policy_freep) Policy *a = get(c), *b = NULL, *d = NULL;

        /* The owner check reads owner and mode: a change is a new load, which judges it. */
        assert_int_equal(chmod(conf, 0666), 0);
        b = get(c);
        assert_ptr_not_equal(a, b);
        assert_int_equal(chmod(conf, 0644), 0);
        assert_int_equal(chmod(dropins, 0777), 0);
        d = get(c);
        assert_ptr_not_equal(b, d);
        assert_int_equal(chmod(dropins, 0755), 0);

        /* The folder of the main file: only its owner and mode count (a file made there changes nothing). */
        _cleanup_(policy_freep) Policy *e = get(c), *f = NULL, *g = NULL;
        _cleanup_free_ char *other = NULL;
        assert_true(asprintf(&other, "%s/kysod.log", tmpdir) > 0);
        write_text(other, "unrelated\n");
        f = get(c);
        assert_ptr_equal(e, f);
        assert_int_equal(chmod(tmpdir, 0777), 0);
        g = get(c);
        assert_ptr_not_equal(f, g);
        assert_int_equal(chmod(tmpdir, 0700), 0);
}

static void test_broken_then_fixed(void **state) {
        _cleanup_(policy_cache_freep) PolicyCache *c = new_cache();
        _cleanup_(policy_freep) Policy *a = get(c), *b = NULL, *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;

        write_text(conf, "[expiry]\nwarning-days = soon\n");
        assert_int_equal(
                policy_cache_load(c, conf, POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK, &p, &errors), -EINVAL);
        assert_null(p);
        assert_non_null(errors);
        write_conf(30);
        b = get(c);
        assert_ptr_not_equal(a, b);
        assert_string_equal(a->digest, b->digest);
}

/* Files changed less than the settling time before a load: it is not kept, the next call loads again. */
static void test_recent_change_not_kept(void **state) {
        _cleanup_(policy_cache_freep) PolicyCache *c = NULL;
        _cleanup_(policy_freep) Policy *a = NULL, *b = NULL;

        assert_int_equal(policy_cache_new(POLICY_CACHE_SETTLE_USEC, &c), 0);
        write_conf(30);
        a = get(c);
        b = get(c);
        assert_ptr_not_equal(a, b);
        assert_string_equal(a->digest, b->digest);
}

static void test_no_cache(void **state) {
        _cleanup_(policy_freep) Policy *a = get(NULL), *b = get(NULL);
        assert_ptr_not_equal(a, b);
        assert_string_equal(a->digest, b->digest);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unchanged_is_kept),
                cmocka_unit_test(test_main_file),
                cmocka_unit_test(test_dropins),
                cmocka_unit_test(test_trust_folder),
                cmocka_unit_test(test_mode),
                cmocka_unit_test(test_broken_then_fixed),
                cmocka_unit_test(test_recent_change_not_kept),
                cmocka_unit_test(test_no_cache),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
