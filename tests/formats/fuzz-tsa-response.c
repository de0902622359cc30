/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the check of a time-stamp authority's answer (TimeStampResp from the network) against a fixed
 * request: status, nonce, imprint, and the token's own signature. The seed corpus holds answers to exactly
 * this request (fixed data and nonce), made by `openssl ts -reply` with the fixture TSA. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include "formats/tsa-client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NONCE 0x6b79736f66757a7aULL /* "kysofuzz" */
static const char stamped[] = "kyso fuzz signature value";

static TS_REQ *request(void) {
        static TS_REQ *req = NULL;

        if (!req) {
                ASN1_INTEGER *nonce = ASN1_INTEGER_new();
                TsaOptions o = { .url = "http://127.0.0.1/tsa" };

                if (!nonce || ASN1_INTEGER_set_uint64(nonce, FUZZ_NONCE) != 1 ||
                    tsa_request_new(&o, stamped, sizeof stamped - 1, nonce, &req) < 0)
                        abort();
                ASN1_INTEGER_free(nonce);
        }
        return req;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *token = NULL;
        size_t token_size = 0;
        CmsTimestamp info = {};
        char *error = NULL;

        /* KYSO_FUZZ_WRITE_REQUEST=FILE writes the request the seeds answer, for regenerating the corpus. */
        const char *w = getenv("KYSO_FUZZ_WRITE_REQUEST");
        if (w) {
                BIO *b = BIO_new_file(w, "wb");
                if (!b || i2d_TS_REQ_bio(b, request()) != 1)
                        abort();
                BIO_free(b);
        }

        if (tsa_response_check(
                    request(), "http://127.0.0.1/tsa", false, data, size, stamped, sizeof stamped - 1,
                    &token, &token_size, &info, &error) >= 0) {
                if (info.status != CMS_TIMESTAMP_OK || token_size == 0)
                        abort(); /* success means a checked token */
                cms_timestamp_done(&info);
                free(token);
        }
        free(error);
        return 0;
}
