/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A 1 GiB document (sparse, so the disk is not touched) signed and verified in bounded memory: the content
 * streams through a fixed buffer, read once per operation. */
#include "formats-test.h"

#include <sys/resource.h>
#include <time.h>

#include "soft-signer.h"

#define GIB (1024ULL * 1024ULL * 1024ULL)

static long peak_rss_kib(void) {
        struct rusage ru;
        assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
        return ru.ru_maxrss;
}

static double now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void test_one_gib(void **state) {
        _cleanup_(X509_freep) X509 *cert = load_cert("leader2.pem");
        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        _cleanup_free_ uint8_t *der = NULL;
        PkeySigner ps = {};
        SignError e = {};
        size_t size = 0;
        long before, after;
        double t0, t1, t2;
        int fd;

        fd = open(tpath("big.bin"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) GIB), 0);
        /* A few non-zero bytes so a wrong offset would change the digest. */
        assert_int_equal(pwrite(fd, "kyso", 4, (off_t) (GIB / 2)), 4);

        assert_int_equal(pkey_signer_load(tpath("leader2.key"), CMS_SIGNATURE_ECDSA, &ps), 0);
        SoftSignParams p = {
                .sign = { .cert = cert, .digest_nid = NID_sha256, .scheme = CMS_SIGNATURE_ECDSA },
                .profile = CADES_PROFILE_BASELINE_B,
                .key = &ps,
        };

        before = peak_rss_kib();
        t0 = now_sec();
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(soft_sign_fd(&p, fd, NULL, 0, &der, &size, NULL, &e), 0);
        t1 = now_sec();
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(cms_verify_detached_fd(der, size, fd, &res), 0);
        t2 = now_sec();
        after = peak_rss_kib();
        close(fd);
        pkey_signer_done(&ps);

        print_message(
                "sign %.2f s, verify %.2f s, peak RSS %ld KiB (+%ld KiB)\n", t1 - t0, t2 - t1, after,
                after - before);
        assert_int_equal(res->content_size, GIB);
        assert_int_equal(res->signers[0].problem, CMS_PROBLEM_OK);
        /* 1 GiB went through twice; memory may grow by the read buffer and OpenSSL's state, not by the
         * content. */
        assert_true(after - before < 16 * 1024);

        write_all(tpath("big.p7s"), der, size);
        assert_int_equal(openssl_verify_unchained("big.p7s", "big.bin"), 0);
        unlink(tpath("big.bin"));
}

KYSO_TEST_MAIN_GROUP(
        pki_setup, pki_teardown,
        {
                cmocka_unit_test(test_one_gib),
        });
