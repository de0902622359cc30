/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PDF signature verifier against files signed by poppler's pdfsig from a throw-away PKI, the attacks of
 * make-pdf-attacks.py on them (each must fail with its own problem while the untouched file verifies), the
 * signed files of the shared corpus, and every corpus PDF (no crash, no hang, a clear verdict). */
#include "formats-test.h"

#include <dirent.h>
#include <sys/mman.h>

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t l = strlen(s), k = strlen(suffix);
        return l >= k && streq(s + l - k, suffix);
}

#include "formats/pdf-revisions.h"
#include "formats/pdf-verify.h"

/* kyso's own signer (tests/formats/pades-sign-tool), when meson passes it. */
static const char *sign_tool;

static int setup(void **state) {
        const char *src = getenv("KYSO_SOURCE_ROOT");

        if (pki_setup(state) < 0)
                return -1;
        /* pdfsig signs with a key in an NSS database; SoftHSM stays out of it (DESIGN.md, Known pitfalls).
         */
        if (run("cd '%s' && openssl pkcs12 -export -inkey leader.key -in leader.pem -certfile chain.pem "
                "-name leader -passout pass: -out leader.p12 && mkdir nss && certutil -N -d sql:nss "
                "--empty-password && pk12util -i leader.p12 -d sql:nss -W '' && "
                "certutil -A -d sql:nss -n root -t CT,C,C -i root.pem >>pki.log 2>&1",
                test_dir) != 0)
                return -1;
        if (run("python3 '%s/tests/formats/make-pdf-attacks.py' --nssdir 'sql:%s/nss' --nick leader "
                "--key '%s/leader.key' --cert '%s/leader.pem' --chain '%s/chain.pem' --tsa-ca '%s' '%s/att' "
                ">>'%s/pki.log' 2>&1",
                src, test_dir, test_dir, test_dir, test_dir, test_dir, test_dir, test_dir) != 0) {
                (void) run("cat '%s/pki.log' >&2", test_dir);
                return -1;
        }
        if (!sign_tool)
                return 0;
        /* The same attacks on kyso's PAdES output: CAdES, a second signature, a DSS update. */
        if (run("cd '%s' && T='%s' && $T --field Leader leader.pem leader.key chain.pem att/base.pdf kyso.pdf && "
                "$T --field Seal --ecdsa leader2.pem leader2.key chain.pem kyso.pdf kyso-twice.pdf && "
                "$T --field Leader --dss leader.pem leader.key chain.pem att/base.pdf kyso-dss.pdf && "
                "$T --field Leader leader.pem leader.key chain.pem att/base-direct-annot.pdf kyso-direct.pdf && "
                "$T --field Seal --ecdsa leader2.pem leader2.key chain.pem kyso-direct.pdf kyso-direct-twice.pdf && "
                "$T --field Leader --dss leader.pem leader.key chain.pem att/base-catalog-page-ref.pdf kyso-cpr.pdf && "
                "$T --field Seal --ecdsa leader2.pem leader2.key chain.pem kyso-cpr.pdf kyso-cpr-twice.pdf && "
                "python3 '%s/tests/formats/make-pdf-attacks.py' --nssdir sql:nss --nick leader --key leader.key "
                "--cert leader.pem --chain chain.pem att-kyso kyso.pdf "
                ">>pki.log 2>&1",
                test_dir, sign_tool, src) != 0) {
                (void) run("cat '%s/pki.log' >&2", test_dir);
                return -1;
        }
        return 0;
}

/* pdf_verify_fd() reads the file (pread, qpdf by path, private copies of earlier revisions); pdf_verify()
 * reads memory in place: both must come to the same verdicts. */
static void assert_same_in_memory(int fd, const PdfVerifyResult *res) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *mem = NULL;
        struct stat st;
        void *m;

        assert_int_equal(fstat(fd, &st), 0);
        if (st.st_size == 0)
                return;
        m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        assert_true(m != MAP_FAILED);
        assert_int_equal(pdf_verify(m, (size_t) st.st_size, &mem), 0);
        assert_int_equal(mem->document_problem, res->document_problem);
        assert_int_equal(mem->n_revisions, res->n_revisions);
        assert_int_equal(mem->n_signatures, res->n_signatures);
        for (size_t i = 0; i < res->n_signatures; i++) {
                assert_int_equal(mem->signatures[i].problem, res->signatures[i].problem);
                assert_int_equal(mem->signatures[i].revision, res->signatures[i].revision);
                assert_string_equal(
                        strempty(mem->signatures[i].change), strempty(res->signatures[i].change));
                assert_string_equal(mem->signatures[i].detail, res->signatures[i].detail);
        }
        munmap(m, (size_t) st.st_size);
}

static PdfVerifyResult *verify_path(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        PdfVerifyResult *res = NULL;

        assert_true(fd >= 0);
        assert_int_equal(pdf_verify_fd(fd, &res), 0);
        assert_non_null(res);
        assert_same_in_memory(fd, res);
        return res;
}

static void test_signed_by_pdfsig(void **state) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *one = verify_path(tpath("att/signed.pdf"));
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *two = verify_path(tpath("att/signed-twice.pdf"));
        const PdfSignature *s;

        assert_int_equal(one->document_problem, PDF_DOCUMENT_OK);
        assert_int_equal(one->n_signatures, 1);
        s = &one->signatures[0];
        assert_string_equal(s->field_name, "Leader");
        assert_int_equal(s->kind, PDF_SIGNATURE_APPROVAL);
        assert_int_equal(s->sub_filter, PDF_SUBFILTER_PKCS7_DETACHED);
        assert_string_equal(s->reason, "test");
        assert_true(s->has_claimed_time);
        assert_int_equal(s->problem, PDF_SIGNATURE_OK);
        assert_true(pdf_signature_counts_whole(s));
        assert_int_equal(s->revision, 2); /* 1-based: the original file is revision 1 */
        assert_non_null(s->signer);
        assert_subject_cn(s->signer->signer_cert, "Leader RSA");

        /* A second signature on top: the first still counts, but no longer covers the whole file. */
        assert_int_equal(two->n_signatures, 2);
        assert_string_equal(two->signatures[0].field_name, "Leader");
        assert_string_equal(two->signatures[1].field_name, "Seal");
        assert_true(pdf_signature_counts(&two->signatures[0]));
        assert_false(pdf_signature_counts_whole(&two->signatures[0]));
        assert_int_equal(two->signatures[0].n_later_revisions, 1);
        assert_true(pdf_signature_counts_whole(&two->signatures[1]));
        assert_int_equal(two->signatures[1].revision, 3);
}

/* Every file of the generator's manifest gets the verdict it names. */
static void check_manifest(const char *dir) {
        char mpath[600];
        _cleanup_fclose_ FILE *f = NULL;
        char line[1024];
        unsigned n = 0, classes[4] = {};

        snprintf(mpath, sizeof mpath, "%s/%s/manifest.txt", test_dir, dir);
        f = fopen(mpath, "re");
        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
                _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = NULL;
                char path[700], *save = NULL, *name, *want, *word;

                line[strcspn(line, "\n")] = 0;
                name = strtok_r(line, " ", &save);
                want = strtok_r(NULL, " ", &save);
                if (!name || !want)
                        continue;
                snprintf(path, sizeof path, "%s/%s/%s", test_dir, dir, name);
                res = verify_path(path);
                print_message(
                        "%-40s %-22s %s\n", name,
                        res->n_signatures ? pdf_signature_problem_to_string(res->signatures[0].problem)
                                          : pdf_document_problem_to_string(res->document_problem),
                        res->n_signatures ? res->signatures[0].detail : "");
                n++;
                for (unsigned c = 0; c < 4; c++)
                        if (strstr(name, (const char *[]){ "usf-", "isa-", "swa-", "shadow-" }[c]))
                                classes[c]++;
                if (startswith(want, "document:")) {
                        assert_string_equal(pdf_document_problem_to_string(res->document_problem), want + 9);
                        assert_int_equal(res->n_signatures, 0);
                        continue;
                }
                assert_int_equal(res->document_problem, PDF_DOCUMENT_OK);
                assert_true(res->n_signatures >= 1);
                assert_string_equal(
                        pdf_signature_problem_to_string(res->signatures[0].problem),
                        streq(want, "ok-partial") ? "ok" : want);
                /* "ok-partial": every signature counts, later revisions add only what they may. */
                if (streq(want, "ok") || streq(want, "ok-partial")) {
                        for (size_t i = 0; i < res->n_signatures; i++)
                                assert_true(pdf_signature_counts(&res->signatures[i]));
                        assert_int_equal(
                                pdf_signature_counts_whole(&res->signatures[res->n_signatures - 1]),
                                streq(want, "ok"));
                        /* Words after "ok": the allowed change the reader is told of (a text stamp). */
                        while ((word = strtok_r(NULL, " ", &save))) {
                                for (char *p = word; *p; p++)
                                        if (*p == '_')
                                                *p = ' ';
                                if (!res->signatures[0].noted_change ||
                                    !strstr(res->signatures[0].noted_change, word))
                                        fail_msg(
                                                "%s: '%s' does not name '%s'", name,
                                                strna(res->signatures[0].noted_change), word);
                        }
                        continue;
                }
                assert_false(pdf_signature_counts(&res->signatures[0]));
                /* The change is named: the object and what it is. */
                while ((word = strtok_r(NULL, " ", &save))) {
                        for (char *p = word; *p; p++)
                                if (*p == '_')
                                        *p = ' ';
                        assert_non_null(res->signatures[0].change);
                        if (!strstr(res->signatures[0].change, word))
                                fail_msg(
                                        "%s: '%s' does not name '%s'", name, res->signatures[0].change,
                                        word);
                }
        }
        assert_true(n >= 30);
        for (unsigned c = 0; c < 4; c++)
                assert_true(classes[c] >= 3);
}

static void test_attacks(void **state) {
        check_manifest("att");
}

/* A signature dictionary written inside its field's /V: the field is listed in /Fields and is page 1's
 * widget too, and is one signature. */
static void test_direct_value(void **state) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = verify_path(tpath("att/direct-v.pdf"));

        assert_int_equal(res->n_signatures, 1);
        assert_int_equal(res->signatures[0].object, 0);
        assert_string_equal(res->signatures[0].field_name, "Leader");
        assert_true(pdf_signature_counts_whole(&res->signatures[0]));
}

/* The Sneaky Signature Attack: a later signature field that draws over page 1, unsigned or with a signature
 * that does not verify, is named as what it is; the earlier signature does not count. A field for the next
 * signer that draws nothing is allowed. */
static void test_sneaky_signature(void **state) {
        static const struct {
                const char *file;
                PdfChangeKind kind;
        } cases[] = {
                { "att/isa-sneaky-unsigned.pdf", PDF_CHANGE_SIG_FIELD_UNSIGNED },
                { "att/isa-sneaky-bad-signature.pdf", PDF_CHANGE_SIG_FIELD_UNVERIFIED },
                { "att/sig-field-empty-blank-ap.pdf", PDF_CHANGE_NONE },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = verify_path(tpath(cases[i].file));
                const PdfSignature *s = &res->signatures[0];

                assert_true(res->n_signatures >= 1);
                assert_int_equal(s->change_facts.kind, cases[i].kind);
                assert_int_equal(pdf_signature_counts(s), cases[i].kind == PDF_CHANGE_NONE);
                if (cases[i].kind == PDF_CHANGE_NONE)
                        continue;
                assert_int_equal(s->change_facts.page, 1);
                assert_int_equal(s->change_facts.revision, 3);
                assert_non_null(strstr(s->change, "could hide or change what was signed"));
        }
}

/* An empty signature field that the Seal covered, given later an appearance that draws and no signature: the
 * Seal does not count either. */
static void test_sneaky_fill_empty(void **state) {
        _cleanup_(pdf_verify_result_freep)
                PdfVerifyResult *ok = verify_path(tpath("att/empty-field-sealed.pdf")),
                                *res = verify_path(tpath("att/isa-sneaky-fill-empty.pdf"));

        assert_int_equal(ok->n_signatures, 2);
        assert_int_equal(res->n_signatures, 2);
        for (size_t i = 0; i < res->n_signatures; i++) {
                assert_true(pdf_signature_counts(&ok->signatures[i]));
                assert_false(pdf_signature_counts(&res->signatures[i]));
                assert_int_equal(res->signatures[i].change_facts.kind, PDF_CHANGE_SIG_FIELD_UNSIGNED);
        }
}

/* A document time-stamp by openssl ts: verified over the ranges, its time reported. */
static void test_timestamp(void **state) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = verify_path(tpath("att/timestamped.pdf"));
        const PdfSignature *s;

        assert_int_equal(res->n_signatures, 1);
        s = &res->signatures[0];
        assert_int_equal(s->kind, PDF_SIGNATURE_TIMESTAMP);
        assert_int_equal(s->sub_filter, PDF_SUBFILTER_RFC3161);
        assert_int_equal(s->problem, PDF_SIGNATURE_OK);
        assert_true(s->has_timestamp_time);
        assert_true(labs((long) (s->timestamp_time - time(NULL))) < 3600);
        assert_null(s->cms);
}

/* A leader's signature and a seal after it: both count. */
static void assert_two_count(const char *path) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = verify_path(path);

        assert_int_equal(res->n_signatures, 2);
        for (size_t i = 0; i < res->n_signatures; i++) {
                if (res->signatures[i].change)
                        print_message("%s\n", res->signatures[i].change);
                assert_true(pdf_signature_counts(&res->signatures[i]));
        }
}

static void test_kyso_signed(void **state) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *one = NULL, *two = NULL, *dss = NULL;

        if (!sign_tool)
                skip();
        one = verify_path(tpath("kyso.pdf"));
        assert_int_equal(one->n_signatures, 1);
        assert_int_equal(one->signatures[0].sub_filter, PDF_SUBFILTER_CADES_DETACHED);
        assert_int_equal(one->signatures[0].problem, PDF_SIGNATURE_OK);
        assert_true(pdf_signature_counts_whole(&one->signatures[0]));
        /* PAdES: no signing-time in the CMS; the claimed time is /M. */
        assert_false(one->signatures[0].signer->has_signing_time);
        assert_true(one->signatures[0].has_claimed_time);

        two = verify_path(tpath("kyso-twice.pdf"));
        assert_int_equal(two->n_signatures, 2);
        assert_string_equal(two->signatures[0].field_name, "Leader");
        assert_true(pdf_signature_counts(&two->signatures[0]));
        assert_false(two->signatures[0].covers_whole_file);
        assert_true(pdf_signature_counts_whole(&two->signatures[1]));
        assert_int_equal(two->signatures[1].signer->scheme, CMS_SIGNATURE_ECDSA);

        dss = verify_path(tpath("kyso-dss.pdf"));
        assert_true(dss->has_dss);
        assert_int_equal(dss->n_signatures, 1);
        assert_true(pdf_signature_counts(&dss->signatures[0]));
        assert_false(dss->signatures[0].covers_whole_file);
        assert_int_equal(dss->signatures[0].n_later_revisions, 1);

        /* An annotation written inside the page's /Annots (no object of its own) stays as it was: the seal
         * after it leaves the leader's signature counting. */
        assert_two_count(tpath("kyso-direct-twice.pdf"));
        /* The catalog names page 1 in a key of its own: the seal's widget changes page 1, which the
         * catalog's key still names, and that is no change of the catalog. */
        assert_two_count(tpath("kyso-cpr-twice.pdf"));

        check_manifest("att-kyso");
}

static void test_corpus_signed(void **state) {
        const char *shared = getenv("KYSO_SHARED_DIR");
        char path[600];

        if (!shared)
                skip();
        snprintf(path, sizeof path, "%s/corpus/pdf/qpdf/digitally-signed.pdf", shared);
        if (access(path, R_OK) < 0)
                skip();
        {
                _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = verify_path(path);
                assert_int_equal(res->n_signatures, 1);
                assert_int_equal(res->signatures[0].problem, PDF_SIGNATURE_OK);
                assert_true(res->signatures[0].covers_whole_file);
        }
        snprintf(path, sizeof path, "%s/corpus/pdf/pdfium/signature_no_sub_filter.pdf", shared);
        {
                _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = verify_path(path);
                assert_int_equal(res->n_signatures, 1);
                assert_int_equal(res->signatures[0].problem, PDF_SIGNATURE_UNSUPPORTED_SUBFILTER);
        }
        snprintf(path, sizeof path, "%s/corpus/pdf/qpdf/minimal-signed-restricted.pdf", shared);
        {
                _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = verify_path(path);
                assert_int_equal(res->document_problem, PDF_DOCUMENT_ENCRYPTED);
        }
}

/* Every corpus PDF: a verdict, no crash, no hang (the suite's timeout). */
static void test_corpus_all(void **state) {
        const char *shared = getenv("KYSO_SHARED_DIR");
        unsigned counts[_PDF_DOCUMENT_PROBLEM_MAX] = {}, n = 0, sigs = 0;

        if (!shared)
                skip();
        for (const char *sub = "qpdf"; sub; sub = streq(sub, "qpdf") ? "pdfium" : NULL) {
                _cleanup_(closedirp) DIR *d = NULL;
                char dir[600];
                struct dirent *de;

                snprintf(dir, sizeof dir, "%s/corpus/pdf/%s", shared, sub);
                d = opendir(dir);
                if (!d)
                        skip();
                while ((de = readdir(d))) {
                        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = NULL;
                        _cleanup_close_ int fd = -EBADF;
                        char path[900];
                        int r;

                        if (!has_suffix(de->d_name, ".pdf"))
                                continue;
                        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
                        fd = open(path, O_RDONLY | O_CLOEXEC);
                        assert_true(fd >= 0);
                        r = pdf_verify_fd(fd, &res);
                        if (r == -E2BIG)
                                continue;
                        assert_int_equal(r, 0);
                        assert_same_in_memory(fd, res);
                        counts[res->document_problem]++;
                        sigs += (unsigned) res->n_signatures;
                        n++;
                }
        }
        print_message(
                "corpus: %u files: %u readable, %u damaged, %u encrypted, %u not PDF; %u signatures\n", n,
                counts[PDF_DOCUMENT_OK], counts[PDF_DOCUMENT_DAMAGED], counts[PDF_DOCUMENT_ENCRYPTED],
                counts[PDF_DOCUMENT_NOT_PDF], sigs);
        assert_true(n > 100);
        assert_true(counts[PDF_DOCUMENT_OK] > n / 2);
}

static void test_revisions(void **state) {
        static const char pdf[] =
                "%PDF-1.4\nxref\n0 1\n0000000000 65535 f \ntrailer<<>>\nstartxref\n9\n%%EOF\n"
                "junk %%EOF here\nstartxref 9 %%EOF\r\nstartxref\n%%EOF";
        _cleanup_free_ PdfRevision *revs = NULL;
        size_t n = 0;

        assert_int_equal(pdf_revisions_find(pdf, strlen(pdf), 16, &revs, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(revs[0].startxref, 9);
        assert_int_equal(revs[0].end, revs[0].eof_end + 1);
        assert_int_equal(revs[1].end, revs[1].eof_end + 2);
        assert_int_equal(pdf_revisions_ending_at(revs, n, revs[1].eof_end), 1);
        assert_int_equal(pdf_revisions_ending_at(revs, n, 3), -ENOENT);
        assert_int_equal(pdf_revisions_find(pdf, strlen(pdf), 1, &revs, &n), -E2BIG);
}

static void test_not_pdf_and_names(void **state) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = NULL;

        assert_int_equal(pdf_verify("hello", 5, &res), 0);
        assert_int_equal(res->document_problem, PDF_DOCUMENT_NOT_PDF);
        assert_int_equal(res->n_signatures, 0);
        res = pdf_verify_result_free(res);
        assert_int_equal(pdf_verify("%PDF-1.7\n1 0 obj\n", 17, &res), 0);
        assert_int_equal(res->document_problem, PDF_DOCUMENT_DAMAGED);

        for (PdfSignatureProblem p = 0; p < _PDF_SIGNATURE_PROBLEM_MAX; p++) {
                assert_non_null(pdf_signature_problem_to_string(p));
                assert_int_equal(pdf_signature_problem_from_string(pdf_signature_problem_to_string(p)), p);
                assert_non_null(pdf_signature_problem_message(p));
        }
        assert_null(pdf_signature_problem_to_string(_PDF_SIGNATURE_PROBLEM_MAX));
        assert_string_equal(pdf_sub_filter_to_string(PDF_SUBFILTER_CADES_DETACHED), "ETSI.CAdES.detached");
}

int main(int argc, char **argv) {
        /* meson passes the tool relative to the build folder; setup() runs it from elsewhere. */
        _cleanup_free_ char *tool = argc > 1 ? realpath(argv[1], NULL) : NULL;
        sign_tool = tool;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_signed_by_pdfsig),  cmocka_unit_test(test_attacks),
                cmocka_unit_test(test_direct_value),      cmocka_unit_test(test_kyso_signed),
                cmocka_unit_test(test_sneaky_signature),  cmocka_unit_test(test_sneaky_fill_empty),
                cmocka_unit_test(test_timestamp),         cmocka_unit_test(test_corpus_signed),
                cmocka_unit_test(test_corpus_all),        cmocka_unit_test(test_revisions),
                cmocka_unit_test(test_not_pdf_and_names),
        };
        return cmocka_run_group_tests(tests, setup, pki_teardown);
}
