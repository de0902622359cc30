/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TSA answer check, without a server: the fuzzer's seed answers (made by `openssl ts -reply` with the
 * fixture TSA for the fuzzer's fixed request) must be accepted or refused for the right reason. */
#include "kyso-test.h"

#include <openssl/ts.h>
#include <openssl/x509.h>

#include "fileio.h"
#include "formats/tsa-client.h"

#define FUZZ_NONCE 0x6b79736f66757a7aULL
static const char stamped[] = "kyso fuzz signature value";

static TS_REQ *fixed_request(uint64_t nonce_value) {
        ASN1_INTEGER *nonce = ASN1_INTEGER_new();
        TsaOptions o = { .url = "http://127.0.0.1/tsa" };
        TS_REQ *req = NULL;

        assert_non_null(nonce);
        assert_int_equal(ASN1_INTEGER_set_uint64(nonce, nonce_value), 1);
        assert_int_equal(tsa_request_new(&o, stamped, sizeof stamped - 1, nonce, &req), 0);
        ASN1_INTEGER_free(nonce);
        return req;
}

static int check(const char *seed, uint64_t nonce, CmsTimestamp *info, char **error) {
        const char *src = test_getenv_or_skip("KYSO_SOURCE_ROOT");
        _cleanup_free_ char *path = NULL, *data = NULL;
        uint8_t *token = NULL;
        size_t size, token_size = 0;
        TS_REQ *req = fixed_request(nonce);
        int r;

        assert_true(asprintf(&path, "%s/tests/formats/fuzz-tsa-response-corpus/%s", src, seed) > 0);
        assert_int_equal(read_full_file(path, 1 << 20, &data, &size), 0);
        r = tsa_response_check(
                req, "http://tsa.test/", false, data, size, stamped, sizeof stamped - 1, &token, &token_size,
                info, error);
        if (r >= 0) {
                assert_non_null(token);
                assert_true(token_size > 0);
                /* The returned token verifies on its own too. */
                CmsTimestamp again = {};
                assert_int_equal(
                        cms_verify_timestamp_token(token, token_size, stamped, sizeof stamped - 1, &again),
                        0);
                assert_int_equal(again.status, CMS_TIMESTAMP_OK);
                cms_timestamp_done(&again);
        } else
                assert_null(token);
        free(token);
        TS_REQ_free(req);
        return r;
}

static void test_granted(void **state) {
        CmsTimestamp info = {};
        char *error = NULL, cn[128] = "";

        assert_int_equal(check("granted.tsr", FUZZ_NONCE, &info, &error), 0);
        assert_null(error);
        assert_int_equal(info.status, CMS_TIMESTAMP_OK);
        assert_true(info.has_gen_time);
        assert_int_equal(info.imprint_digest_nid, NID_sha256);
        assert_non_null(info.tsa_cert);
        assert_true(
                X509_NAME_get_text_by_NID(
                        X509_get_subject_name(info.tsa_cert), NID_commonName, cn, sizeof cn) > 0);
        assert_string_equal(cn, "Máy chủ cấp dấu thời gian (test)");
        assert_true(sk_X509_num(info.certs) >= 2); /* the TSA and its CA */
        cms_timestamp_done(&info);
}

/* ESS signing-certificate (v1, SHA-1) instead of v2, and no CA certificate in the token. */
static void test_granted_ess_v1(void **state) {
        CmsTimestamp info = {};
        char *error = NULL;

        assert_int_equal(check("granted-ess-v1.tsr", FUZZ_NONCE, &info, &error), 0);
        assert_int_equal(info.status, CMS_TIMESTAMP_OK);
        assert_int_equal(sk_X509_num(info.certs), 1);
        cms_timestamp_done(&info);
}

/* Responses the client refuses: the error it returns and what its message says. */
static void test_refused(void **state) {
        static const struct {
                const char *seed;
                uint64_t nonce;
                int error;
                const char *says[2]; /* each must be in the message */
        } cases[] = {
                { "granted.tsr", FUZZ_NONCE + 1, -EBADMSG, { "does not match the request", "nonce" } },
                { "rejected-badalg.tsr",
                  FUZZ_NONCE,
                  -EPROTO,
                  { "http://tsa.test/ refused the request (status 2", "badAlg" } },
                { "other-request.tsr", FUZZ_NONCE, -EBADMSG, { "imprint" } },
                { "truncated.tsr", FUZZ_NONCE, -EPROTO, { "not a time-stamp response" } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *error = NULL;

                print_message("%s\n", cases[i].seed);
                assert_int_equal(check(cases[i].seed, cases[i].nonce, NULL, &error), cases[i].error);
                for (size_t j = 0; j < ELEMENTSOF(cases[i].says) && cases[i].says[j]; j++)
                        assert_non_null(strstr(error, cases[i].says[j]));
                free(error);
        }
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_granted),
        cmocka_unit_test(test_granted_ess_v1),
        cmocka_unit_test(test_refused),
});
