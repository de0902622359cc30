/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <unistd.h>

#include "openssl-util.h"

/* A throw-away self-signed certificate. */
static X509 *make_cert(void) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = EVP_EC_gen("P-256");
        X509 *x = X509_new();

        assert_non_null(key);
        assert_non_null(x);
        assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
        assert_int_equal(
                X509_NAME_add_entry_by_txt(
                        X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                        (const unsigned char *) "Nguyễn Văn An", -1, -1, 0),
                1);
        assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
        assert_int_equal(X509_set_pubkey(x, key), 1);
        assert_true(X509_sign(x, key, EVP_sha256()) > 0);
        return x;
}

static void test_x509_read_pem_file(void **state) {
        char path[] = "/tmp/kyso-test-openssl-util-XXXXXX";
        _cleanup_(X509_freep) X509 *x = make_cert(), *y = NULL;
        int fd = mkstemp(path);
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_X509(f, x), 1);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(x509_read_pem_file(path, &y), 0);
        assert_int_equal(X509_cmp(x, y), 0);

        /* Text that is no certificate; no file at all. ret is left alone. */
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("not a certificate\n", f);
        assert_int_equal(fclose(f), 0);
        X509 *z = NULL;
        assert_int_equal(x509_read_pem_file(path, &z), -EBADMSG);
        assert_null(z);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(x509_read_pem_file(path, &z), -ENOENT);
        assert_null(z);
}

static void test_x509_subject_entry(void **state) {
        _cleanup_(X509_freep) X509 *x = make_cert();
        _cleanup_free_ char *cn = x509_subject_entry(x, NID_commonName);

        assert_string_equal(cn, "Nguyễn Văn An");
        assert_null(x509_subject_entry(x, NID_organizationName));
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_x509_read_pem_file),
        cmocka_unit_test(test_x509_subject_entry),
});
