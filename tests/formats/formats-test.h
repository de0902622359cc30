/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Shared by the formats/ tests: a throw-away PKI (tests/formats/make-test-pki.sh) in a temporary folder,
 * shell commands (openssl as the independent reference), files, and DER walking to find a SignerInfo's
 * bytes. */

#include "kyso-test.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "fileio.h"
#include "formats/cms-verify.h"
#include "openssl-util.h"

static char test_dir[] = "/tmp/kyso-test-formats-XXXXXX";
/* Where NAME.pem and NAME.key live: test_dir for make-test-pki.sh, test_dir/fx/pki for make-fixtures.sh. */
static char pki_dir[600];

_printf_(1, 2) static inline int run(const char *fmt, ...) {
        char cmd[4096];
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        r = system(cmd);
        return r == -1 ? -1 : WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}

/* dir/name, in one of a few rotating buffers so that several can be used in one call. */
static inline const char *rotating_path(const char *dir, const char *name) {
        static char bufs[16][800];
        static unsigned n;
        char *b = bufs[n++ % ELEMENTSOF(bufs)];
        snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
        return b;
}

/* Path of a file in the test folder. */
static inline const char *tpath(const char *name) {
        return rotating_path(test_dir, name);
}

/* Path of a file of the PKI. */
static inline const char *ppath(const char *name) {
        return rotating_path(pki_dir, name);
}

/* tpath(name) filled with size random bytes: a document no test can have signed before. Returns run()'s
 * status, 0 on success. */
static inline int random_file(const char *name, size_t size) {
        return run("head -c %zu /dev/urandom >'%s'", size, tpath(name));
}

/* `openssl cms -verify` of the detached DER signature tpath(sig) over tpath(content), without checking the
 * chain (-noverify): its exit status, 0 when openssl accepts the signature. */
static inline int openssl_verify_unchained(const char *sig, const char *content) {
        return run(
                "openssl cms -verify -binary -inform DER -in '%s' -content '%s' -noverify -out /dev/null "
                "2>/dev/null",
                tpath(sig), tpath(content));
}

/* A new test_dir, and in it the PKI that script makes in test_dir + out (its one argument); pki_dir is then
 * test_dir + pki. The script's output goes to test_dir/log, shown when it fails. */
static inline int make_pki(const char *script, const char *out, const char *pki, const char *log) {
        if (!mkdtemp(test_dir))
                return -1;
        snprintf(pki_dir, sizeof pki_dir, "%s%s", test_dir, pki);
        if (run("'%s' '%s%s' >'%s/%s' 2>&1", script, test_dir, out, test_dir, log) != 0) {
                (void) run("cat '%s/%s' >&2", test_dir, log);
                return -1;
        }
        return 0;
}

/* $name from the test environment (tests/meson.build sets it); NULL, said, when it is missing. */
static inline const char *setup_getenv(const char *name) {
        const char *v = getenv(name);
        if (!v)
                print_message("%s is not set: run through meson test\n", name);
        return v;
}

/* The project's fixture PKI (tests/fixtures/make-fixtures.sh, about 5 s, with SoftHSM tokens we do not use).
 */
static inline int fixtures_setup(void **state) {
        const char *script = setup_getenv("KYSO_FIXTURES_SCRIPT");
        return script ? make_pki(script, "/fx", "/fx/pki", "fixtures.log") : -1;
}

static inline int pki_setup(void **state) {
        const char *src = setup_getenv("KYSO_SOURCE_ROOT");
        char script[PATH_MAX];

        if (!src)
                return -1;
        snprintf(script, sizeof script, "%s/tests/formats/make-test-pki.sh", src);
        return make_pki(script, "", "", "pki.log");
}

static inline int pki_teardown(void **state) {
        return run("rm -rf '%s'", test_dir) == 0 ? 0 : -1;
}

static inline void read_all(const char *path, uint8_t **ret, size_t *ret_size) {
        char *data = NULL;
        assert_int_equal(read_full_file(path, 64 * 1024 * 1024, &data, ret_size), 0);
        *ret = (uint8_t *) data;
}

static inline void write_all(const char *path, const void *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, data, size), 0);
        close(fd);
}

static inline X509 *load_cert(const char *name) {
        BIO *b = BIO_new_file(ppath(name), "r");
        X509 *x;
        assert_non_null(b);
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        assert_non_null(x);
        return x;
}

/* Verifies signature file sig over content file with cms_verify_detached_fd(); asserts it parses. */
static inline CmsVerifyResult *verify_files(const char *sig, const char *content) {
        _cleanup_free_ uint8_t *data = NULL;
        CmsVerifyResult *res = NULL;
        size_t size;
        int fd;

        read_all(tpath(sig), &data, &size);
        fd = open(tpath(content), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(cms_verify_detached_fd(data, size, fd, &res), 0);
        close(fd);
        assert_non_null(res);
        return res;
}

static inline void assert_subject_cn(X509 *x, const char *cn) {
        char buf[256] = "";
        assert_non_null(x);
        assert_true(
                X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf) > 0);
        assert_string_equal(buf, cn);
}

/* Minimal DER walking: header of the TLV at p (within end); returns the header size, and the content length.
 */
static inline size_t der_tlv(const uint8_t *p, const uint8_t *end, size_t *ret_len) {
        size_t len = 0, n;
        assert_true(end - p >= 2);
        if (p[1] < 0x80) {
                *ret_len = p[1];
                return 2;
        }
        n = p[1] & 0x7f;
        assert_true(n >= 1 && n <= 4 && (size_t) (end - p) >= 2 + n);
        for (size_t i = 0; i < n; i++)
                len = (len << 8) | p[2 + i];
        assert_true(2 + n + len <= (size_t) (end - p));
        *ret_len = len;
        return 2 + n;
}

/* The bytes of SignerInfo number idx (in encoded order) of a DER ContentInfo/SignedData. */
static inline void
der_signer_info(const uint8_t *der, size_t size, unsigned idx, const uint8_t **ret, size_t *ret_size) {
        const uint8_t *end = der + size, *p = der, *sd_end, *last = NULL;
        size_t len, h;

        h = der_tlv(p, end, &len); /* ContentInfo */
        p += h;
        h = der_tlv(p, end, &len); /* contentType OID */
        p += h + len;
        h = der_tlv(p, end, &len); /* [0] */
        p += h;
        h = der_tlv(p, end, &len); /* SignedData */
        p += h;
        sd_end = p + len;
        while (p < sd_end) { /* the last element is the SET OF SignerInfo */
                last = p;
                h = der_tlv(p, sd_end, &len);
                p += h + len;
        }
        assert_non_null(last);
        assert_int_equal(last[0], 0x31);
        h = der_tlv(last, sd_end, &len);
        p = last + h;
        end = p + len;
        for (unsigned i = 0;; i++) {
                assert_true(p < end);
                h = der_tlv(p, end, &len);
                if (i == idx) {
                        *ret = p;
                        *ret_size = h + len;
                        return;
                }
                p += h + len;
        }
}

/* Offset of needle in haystack, or -1. */
static inline ssize_t find_bytes(const uint8_t *hay, size_t hay_size, const void *needle, size_t size) {
        const uint8_t *m = memmem(hay, hay_size, needle, size);
        return m ? m - hay : -1;
}
