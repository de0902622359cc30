/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a CRL or an OCSP answer proves about a certificate that has expired by now: only a source that says
 * it keeps expired certificates (expiredCertsOnCRL, archiveCutoff) back to its notAfter. The integration
 * test (test-cert-validate.sh) covers the CRL both ways and OCSP without archive cutoff; `openssl ocsp`
 * cannot send one, so the answers with an archive cutoff are built here. */
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "kyso-test.h"
#include "openssl-util.h"
#include "policy/cert-validate.h"

#define DAY (24 * 3600L)

/* A certificate whose notAfter is 'expired_days' days ago (negative: in the future). Unsigned: only its
 * validity is read. */
static X509 *cert_expired(long expired_days) {
        X509 *x = X509_new();
        assert_non_null(x);
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -400 * DAY));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), -expired_days * DAY));
        return x;
}

/* DER of a GeneralizedTime 'days' from now, or of an INTEGER (not a time) when bad. */
static ASN1_OCTET_STRING *time_der(long days, bool bad) {
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        unsigned char *der = NULL;
        int len;
        assert_non_null(os);
        if (bad) {
                _cleanup_(ASN1_INTEGER_freep) ASN1_INTEGER *i = ASN1_INTEGER_new();
                assert_non_null(i);
                ASN1_INTEGER_set(i, 7);
                len = i2d_ASN1_INTEGER(i, &der);
        } else {
                _cleanup_(ASN1_GENERALIZEDTIME_freep) ASN1_GENERALIZEDTIME *t =
                        ASN1_GENERALIZEDTIME_adj(NULL, time(NULL), (int) days, 0);
                assert_non_null(t);
                len = i2d_ASN1_GENERALIZEDTIME(t, &der);
        }
        assert_true(len > 0);
        assert_int_equal(ASN1_OCTET_STRING_set(os, der, len), 1);
        OPENSSL_free(der);
        return os;
}

/* A CRL with expiredCertsOnCRL 'since_days' from now (none when has_ext is false). */
static X509_CRL *crl_keeping(bool has_ext, long since_days, bool bad) {
        X509_CRL *crl = X509_CRL_new();
        assert_non_null(crl);
        if (has_ext) {
                _cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *oid = OBJ_txt2obj("2.5.29.60", 1);
                _cleanup_(ASN1_OCTET_STRING_freep) ASN1_OCTET_STRING *v = time_der(since_days, bad);
                X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, v);
                assert_non_null(e);
                assert_int_equal(X509_CRL_add_ext(crl, e, -1), 1);
                X509_EXTENSION_free(e);
        }
        return crl;
}

static void test_crl(void **state) {
        (void) state;
        struct {
                long expired_days; /* of the certificate; negative: still valid */
                bool has_ext;
                long since_days; /* of expiredCertsOnCRL, from now */
                bool bad;
                bool covered;
        } cases[] = {
                { -30, false, 0, false, true },      /* not expired: any complete CRL is enough */
                { 30, false, 0, false, false },      /* expired, CRL silent about expired ones */
                { 30, true, -5 * 365, false, true }, /* kept since 5 years: covers it */
                { 30, true, -31, false, true },      /* kept since the day before it expired */
                { 30, true, -29, false, false },     /* kept only since after it expired */
                { 30, true, -5 * 365, true, false }, /* not a time: proves nothing */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(X509_freep) X509 *x = cert_expired(cases[i].expired_days);
                _cleanup_(X509_CRL_freep) X509_CRL *crl =
                        crl_keeping(cases[i].has_ext, cases[i].since_days, cases[i].bad);
                if (crl_covers_expired(crl, x) != cases[i].covered)
                        fail_msg("CRL case %zu: want covered=%d", i, cases[i].covered);
        }
}

static void test_ocsp(void **state) {
        (void) state;
        struct {
                long expired_days;
                bool has_ext;
                long cutoff_days;
                bool covered;
        } cases[] = {
                { -30, false, 0, true }, { 30, false, 0, false },  { 30, true, -5 * 365, true },
                { 30, true, -31, true }, { 30, true, -29, false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(X509_freep) X509 *x = cert_expired(cases[i].expired_days);
                _cleanup_(OCSP_BASICRESP_freep) OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
                _cleanup_(ASN1_INTEGER_freep) ASN1_INTEGER *serial = ASN1_INTEGER_new();
                _cleanup_(ASN1_OCTET_STRING_freep) ASN1_OCTET_STRING *key = ASN1_OCTET_STRING_new();
                _cleanup_(X509_NAME_freep) X509_NAME *name = X509_NAME_new();
                _cleanup_(ASN1_GENERALIZEDTIME_freep) ASN1_GENERALIZEDTIME *now =
                        ASN1_GENERALIZEDTIME_set(NULL, time(NULL));
                assert_true(bs && serial && key && name && now);
                ASN1_INTEGER_set(serial, 42);
                OCSP_CERTID *cid = OCSP_cert_id_new(EVP_sha1(), name, key, serial);
                assert_non_null(cid);
                OCSP_SINGLERESP *single =
                        OCSP_basic_add1_status(bs, cid, V_OCSP_CERTSTATUS_GOOD, 0, NULL, now, now);
                OCSP_CERTID_free(cid);
                assert_non_null(single);
                if (cases[i].has_ext) {
                        _cleanup_(ASN1_GENERALIZEDTIME_freep) ASN1_GENERALIZEDTIME *cutoff =
                                ASN1_GENERALIZEDTIME_adj(NULL, time(NULL), (int) cases[i].cutoff_days, 0);
                        assert_non_null(cutoff);
                        assert_int_equal(
                                OCSP_SINGLERESP_add1_ext_i2d(
                                        single, NID_id_pkix_OCSP_archiveCutoff, cutoff, 0, 0),
                                1);
                }
                if (ocsp_covers_expired(single, x) != cases[i].covered)
                        fail_msg("OCSP case %zu: want covered=%d", i, cases[i].covered);
        }
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_crl),
        cmocka_unit_test(test_ocsp),
});
