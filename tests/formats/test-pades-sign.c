/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PAdES signing of generated PDFs (a classic table, a cross-reference stream made by qpdf, forms with direct
 * and indirect parts, existing fields): the original is a byte-exact prefix, /ByteRange and /Contents are
 * laid out as pades_pending_layout() says, the CMS verifies over the ranges with `openssl cms`, has no
 * signing-time, and a second signature keeps the first valid. Refusals (encrypted, damaged, DocMDP P=1, not
 * a PDF), B-T with the fixture TSA, B-LT (DSS) and the text strings. */
#include "formats-test.h"

#include <inttypes.h>
#include <math.h>

#include <openssl/cms.h>

#include "formats/pades-sign.h"
#include "formats/pdf-verify.h"
#include "formats/pdf-write.h"
#include "hex.h"
#include "pdf-test-png.h"
#include "sign-fixture.h"
#include "soft-signer.h"

/* Writes a PDF whose object i + 1 is bodies[i], object 1 the catalog, with a classic cross-reference table.
 */
static void make_pdf(const char *name, const char *const *bodies, size_t n) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ size_t *offsets = calloc(n, sizeof(size_t));
        size_t size = 0, xref;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        assert_non_null(offsets);
        fputs("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", f);
        for (size_t i = 0; i < n; i++) {
                offsets[i] = (size_t) ftell(f);
                fprintf(f, "%zu 0 obj\n%s\nendobj\n", i + 1, bodies[i]);
        }
        xref = (size_t) ftell(f);
        fprintf(f, "xref\n0 %zu\n0000000000 65535 f\r\n", n + 1);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%010zu 00000 n\r\n", offsets[i]);
        fprintf(f,
                "trailer\n<< /Size %zu /Root 1 0 R /ID [<0123456789abcdef0123456789abcdef> "
                "<0123456789abcdef0123456789abcdef>] >>\nstartxref\n%zu\n%%%%EOF\n",
                n + 1, xref);
        assert_int_equal(fclose(f), 0);
        write_all(tpath(name), buf, size);
}

#define PAGE_CONTENT "<< /Length 15 >>\nstream\n0 0 m 100 100 l\nendstream"

/* A document of one A4 page: object 1 the catalog, 2 the page tree, 3 the page, 4 its content, then `more`
 * from object 5 on. The entries given are added at the end of the catalog's and the page's dictionaries. */
typedef struct OnePage {
        const char *catalog; /* " /Key value..." or NULL */
        const char *page;
        const char *content; /* NULL: PAGE_CONTENT */
        const char *const *more;
        size_t n_more;
} OnePage;

static void make_one_page(const char *name, const OnePage *p) {
        _cleanup_free_ char *catalog = NULL, *page = NULL;
        const char *objs[16];

        assert_true(p->n_more <= ELEMENTSOF(objs) - 4);
        assert_true(asprintf(&catalog, "<< /Type /Catalog /Pages 2 0 R%s >>", strempty(p->catalog)) > 0);
        assert_true(
                asprintf(
                        &page, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R%s >>",
                        strempty(p->page)) > 0);
        objs[0] = catalog;
        objs[1] = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
        objs[2] = page;
        objs[3] = p->content ?: PAGE_CONTENT;
        for (size_t i = 0; i < p->n_more; i++)
                objs[4 + i] = p->more[i];
        make_pdf(name, objs, 4 + p->n_more);
}

static void make_basic(const char *name) {
        make_one_page(name, &(OnePage){ .page = " /Resources << >>" });
}

/* Two A4 pages showing the same content (object 4); the second page's /Annots is object 6, an empty array.
 * The entries given are added to the page tree's dictionary and to the second page's (NULL: none). */
static void make_two_pages(const char *name, const char *tree, const char *second) {
        _cleanup_free_ char *pages = NULL, *page2 = NULL;

        assert_true(
                asprintf(
                        &pages, "<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2%s /MediaBox [0 0 595 842] >>",
                        strempty(tree)) > 0);
        assert_true(
                asprintf(
                        &page2,
                        "<< /Type /Page /Parent 2 0 R%s /Contents 4 0 R /Resources << >> /Annots 6 0 R >>",
                        strempty(second)) > 0);
        const char *const objs[] = {
                "<< /Type /Catalog /Pages 2 0 R >>",
                pages,
                "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << >> >>",
                PAGE_CONTENT,
                page2,
                "[]",
        };
        make_pdf(name, objs, ELEMENTSOF(objs));
}

typedef struct SignResult {
        int r;
        PdfRefusal refusal;
        PadesLayout layout;
        char *field_name;
        char *message;
        uint64_t original_size;
} SignResult;

static void sign_result_done(SignResult *s) {
        free(s->field_name);
        free(s->message);
}

typedef struct SignHow {
        const char *signer; /* leader (RSA), leader2 (ECDSA), seal */
        CmsSignatureScheme scheme;
        const PadesOptions *options;
        const TsaOptions *tsa;
        bool dss;
} SignHow;

static void load_chain(STACK_OF(X509) * *ret) {
        STACK_OF(X509) *chain = sk_X509_new_null();

        assert_non_null(chain);
        assert_true(sk_X509_push(chain, load_cert("ca.pem")) > 0);
        *ret = chain;
}

static void der_blob(X509 *x, PadesBlob *b) {
        unsigned char *der = NULL;
        int n = i2d_X509(x, &der);

        assert_true(n > 0);
        b->data = memdup(der, (size_t) n);
        b->size = (size_t) n;
        OPENSSL_free(der);
}

/* Signs tpath(in) into tpath(out) as how says. */
static SignResult sign_pdf(const char *in, const char *out, const SignHow *how) {
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_(sign_pending_freep) SignPending *p = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *update = NULL, *token = NULL, *dss_update = NULL;
        size_t sig_size = 0, update_size = 0, token_size = 0, dss_size = 0;
        const char *signer = how->signer ?: "leader";
        SignResult res = {};
        PkeySigner key = {};
        SignError e = {};
        const uint8_t *tbs;
        size_t tbs_size;
        char path[64];
        int fd, out_fd;

        snprintf(path, sizeof path, "%s.pem", signer);
        cert = load_cert(path);
        load_chain(&chain);
        snprintf(path, sizeof path, "%s.key", signer);
        assert_int_equal(pkey_signer_load(ppath(path), how->scheme, &key), 0);

        fd = open(tpath(in), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        res.r = pdf_document_open_fd(fd, &doc, &res.refusal, &e);
        close(fd);
        if (res.r < 0)
                goto finish;
        res.original_size = pdf_document_info(doc)->size;

        SignParams params = {
                .cert = cert, .chain = chain, .digest_nid = NID_sha256, .scheme = how->scheme
        };
        res.r = pades_prepare(&params, how->options, doc, &p, &e);
        if (res.r < 0)
                goto finish;
        assert_true(sign_pending_is_pades(p));
        assert_int_equal(sign_pending_tbs(p, &tbs, &tbs_size), 0);
        assert_int_equal(pkey_signer_sign(&key, tbs, tbs_size, NID_sha256, &sig, &sig_size), 0);
        assert_int_equal(sign_pending_set_signature(p, sig, sig_size, &e), 0);
        if (how->tsa) {
                const uint8_t *data;
                size_t size;
                _cleanup_free_ char *error = NULL;

                assert_int_equal(sign_pending_timestamp_data(p, &data, &size), 0);
                assert_int_equal(tsa_timestamp(how->tsa, data, size, &token, &token_size, NULL, &error), 0);
        }
        res.r = sign_pending_finish(p, token, token_size, &update, &update_size, &e);
        if (res.r < 0)
                goto finish;
        assert_int_equal(pades_pending_layout(p, &res.layout), 0);
        res.field_name = strdup(res.layout.field_name);
        res.layout.field_name = res.field_name;
        if (how->dss) {
                PadesBlob certs[2] = {};
                der_blob(cert, &certs[0]);
                der_blob(sk_X509_value(chain, 0), &certs[1]);
                PadesDss dss = { .certs = certs, .n_certs = 2, .vri = true };
                assert_int_equal(pades_append_dss(p, &dss, &dss_update, &dss_size, &e), 0);
                free((void *) certs[0].data);
                free((void *) certs[1].data);
        }

        out_fd = open(tpath(out), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(out_fd >= 0);
        assert_int_equal(pdf_document_write_original(doc, out_fd), 0);
        assert_int_equal(loop_write(out_fd, update, update_size), 0);
        if (dss_update)
                assert_int_equal(loop_write(out_fd, dss_update, dss_size), 0);
        close(out_fd);
finish:
        res.message = TAKE_PTR(e.message);
        pkey_signer_done(&key);
        return res;
}

/* The n-th /ByteRange from the end of the file (1: the last). */
static void find_byte_range(const uint8_t *data, size_t size, unsigned nth, uint64_t br[4], size_t *ret_at) {
        size_t found[16], n = 0;

        for (const uint8_t *p = data; (p = memmem(p, size - (size_t) (p - data), "/ByteRange [", 12)); p++)
                if (n < ELEMENTSOF(found))
                        found[n++] = (size_t) (p - data);
        assert_true(n >= nth);
        *ret_at = found[n - nth];
        assert_int_equal(
                sscanf((const char *) data + *ret_at,
                       "/ByteRange [%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &br[0], &br[1], &br[2],
                       &br[3]),
                4);
}

/* Checks the nth signature from the end of tpath(file): layout, and the CMS with `openssl cms -verify` over
 * the byte ranges; `whole`: its ranges cover the whole file. */
static void check_signature(const char *file, unsigned nth, bool whole) {
        _cleanup_free_ uint8_t *data = NULL, *der = NULL, *content = NULL;
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        const unsigned char *p;
        uint64_t br[4];
        size_t size, at, hex_len, der_len;
        CMS_SignerInfo *si;

        read_all(tpath(file), &data, &size);
        find_byte_range(data, size, nth, br, &at);
        assert_true(br[0] == 0 && br[1] < br[2] && br[2] + br[3] <= size);
        if (whole)
                assert_true(br[2] + br[3] == size);
        assert_int_equal(data[br[1]], '<');
        assert_int_equal(data[br[2] - 1], '>');
        hex_len = br[2] - br[1] - 2;
        assert_int_equal(hex_len % 2, 0);
        der = malloc(hex_len / 2);
        assert_non_null(der);
        for (size_t i = 0; i < hex_len / 2; i++)
                der[i] =
                        (uint8_t) (unhexchar((char) data[br[1] + 1 + 2 * i]) << 4 | unhexchar((char) data[br[1] + 2 + 2 * i]));
        p = der;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long) (hex_len / 2));
        assert_non_null(cms);
        der_len = (size_t) (p - der);
        for (size_t i = der_len; i < hex_len / 2; i++)
                assert_int_equal(der[i], 0);
        si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
        assert_non_null(si);
        /* PAdES: the time is /M, never a signing-time attribute; the certificate is bound. */
        assert_true(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) < 0);
        assert_true(CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1) >= 0);

        content = malloc(br[1] + br[3] + 1);
        assert_non_null(content);
        memcpy(content, data, br[1]);
        memcpy(content + br[1], data + br[2], br[3]);
        write_all(tpath("range.content"), content, br[1] + br[3]);
        write_all(tpath("range.p7s"), der, der_len);
        assert_int_equal(openssl_verify("range.p7s", "range.content"), 0);
}

static void assert_prefix(const char *original, const char *signed_file) {
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        size_t as, bs;

        read_all(tpath(original), &a, &as);
        read_all(tpath(signed_file), &b, &bs);
        assert_true(bs > as);
        assert_memory_equal(a, b, as);
}

static void assert_qpdf_check(const char *file) {
        assert_int_equal(run("qpdf --check '%s' >>'%s' 2>&1", tpath(file), tpath("tools.log")), 0);
}

/* sign-fixture.h's openssl helper for CAdES files is not needed here. */
_unused_ static void (*const unused_leader_signature)(
        const char *, uint8_t **, size_t *, const uint8_t **, size_t *) = leader_signature;

/* pdfsig with the fixture root in a throw-away NSS database: every signature valid, the last covering the
 * whole file. Skipped when pdfsig or certutil is missing. */
static void assert_pdfsig(const char *file, unsigned n) {
        char nss[600];

        if (run("command -v pdfsig >/dev/null && command -v certutil >/dev/null") != 0)
                return;
        snprintf(nss, sizeof nss, "%s/nss", test_dir);
        if (access(nss, F_OK) < 0) {
                assert_int_equal(mkdir(nss, 0700), 0);
                assert_int_equal(
                        run("certutil -N -d 'sql:%s' --empty-password && certutil -A -d 'sql:%s' -n root "
                            "-t CT,C,C -i '%s'",
                            nss, nss, ppath("root.pem")),
                        0);
        }
        assert_int_equal(
                run("pdfsig -nssdir 'sql:%s' '%s' >'%s' 2>&1", nss, tpath(file), tpath("pdfsig.log")), 0);
        assert_int_equal(
                run("test \"$(grep -c 'Signature is Valid.' '%s')\" = %u", tpath("pdfsig.log"), n), 0);
        assert_int_equal(
                run("test \"$(grep -c 'Signature Validation' '%s')\" = %u", tpath("pdfsig.log"), n), 0);
        assert_int_equal(
                run("grep 'document signed' '%s' | tail -n 1 | grep -q '^  - Total document signed'",
                    tpath("pdfsig.log")),
                0);
}

static void test_sign_basic(void **state) {
        PadesOptions o = { .reason = "Phê duyệt", .location = "Hà Nội", .name = "Nguyễn Văn An" };
        SignHow how = { .options = &o };
        _cleanup_(sign_result_done) SignResult s = {};
        _cleanup_free_ uint8_t *data = NULL;
        uint64_t br[4];
        size_t size, at;

        make_basic("basic.pdf");
        s = sign_pdf("basic.pdf", "basic-signed.pdf", &how);
        assert_int_equal(s.r, 0);
        assert_prefix("basic.pdf", "basic-signed.pdf");
        check_signature("basic-signed.pdf", 1, true);

        /* The layout pades_pending_layout() reports is the one in the file. */
        read_all(tpath("basic-signed.pdf"), &data, &size);
        find_byte_range(data, size, 1, br, &at);
        assert_memory_equal(br, s.layout.byte_range, sizeof br);
        assert_int_equal(s.layout.signed_size, size);
        assert_int_equal(s.layout.contents_offset, br[1]);
        assert_int_equal(br[2] - br[1], 2 * s.layout.contents_reserve + 2);
        assert_int_equal(s.layout.revision, 2);
        assert_string_equal(s.layout.field_name, "Signature1");
        /* The dictionary: what validators look for, in a fixed form. */
        assert_non_null(memmem(
                data, size,
                "/Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [0 ", 78));
        assert_non_null(memmem(data, size, "/Location <FEFF004800E00020004E1ED90069>", 40));
        assert_non_null(memmem(data, size, "/M (D:", 6));
        assert_non_null(memmem(data, size, "/F 132 /Rect [0 0 0 0]", 22));
        assert_non_null(memmem(data, size, "/SigFlags 3", 11));
        /* A table after a table, /Prev to the original's startxref. */
        assert_non_null(memmem(data + s.original_size, size - s.original_size, "\nxref\n", 6));
        assert_memory_equal(data + size - 6, "%%EOF\n", 6);

        assert_qpdf_check("basic-signed.pdf");
        assert_pdfsig("basic-signed.pdf", 1);
}

/* The caller's digest state of the original (kysod hashes a document as it reads it): the byte ranges'
 * digest goes on from it, and the signature is valid. A state of other bytes gives a signature that does
 * not verify: the state is what is used, the document is not read again. */
static void test_original_digest(void **state) {
        _cleanup_(sign_result_done) SignResult s = {}, wrong = {};
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = NULL;
        _cleanup_free_ uint8_t *data = NULL, *signed_data = NULL;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        PadesOptions o = { .original_digest = ctx };
        SignHow how = { .options = &o };
        size_t size, signed_size;

        make_basic("od.pdf");
        read_all(tpath("od.pdf"), &data, &size);
        assert_non_null(ctx);
        assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
        assert_int_equal(EVP_DigestUpdate(ctx, data, size), 1);
        s = sign_pdf("od.pdf", "od-signed.pdf", &how);
        assert_int_equal(s.r, 0);
        check_signature("od-signed.pdf", 1, true);
        assert_pdfsig("od-signed.pdf", 1);

        assert_int_equal(EVP_DigestUpdate(ctx, "x", 1), 1);
        wrong = sign_pdf("od.pdf", "od-wrong.pdf", &how);
        assert_int_equal(wrong.r, 0);
        read_all(tpath("od-wrong.pdf"), &signed_data, &signed_size);
        assert_int_equal(pdf_verify(signed_data, signed_size, &res), 0);
        assert_int_equal(res->n_signatures, 1);
        assert_int_equal(res->signatures[0].problem, PDF_SIGNATURE_CMS_INVALID);
        EVP_MD_CTX_free(ctx);
}

static void test_text_strings(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        char date[PDF_DATE_MAX];

        assert_int_equal(pdf_text_string("Hanoi (VN) \\", &a), 0);
        assert_string_equal(a, "(Hanoi \\(VN\\) \\\\)");
        assert_int_equal(pdf_text_string("Hà Nội", &b), 0);
        assert_string_equal(b, "<FEFF004800E00020004E1ED90069>");
        assert_int_equal(pdf_text_string("\xf0\x9f\x98\x80", &c), 0);
        assert_string_equal(c, "<FEFFD83DDE00>");
        assert_int_equal(pdf_text_string("\xff", &c), -EINVAL);
        assert_int_equal(pdf_date(0, date), 0);
        assert_string_equal(date, "D:19700101000000+00'00'");
}

static void test_second_signature(void **state) {
        _cleanup_(sign_result_done) SignResult s1 = {}, s2 = {};
        SignHow leader = {}, seal = { .signer = "seal" };

        make_basic("two.pdf");
        s1 = sign_pdf("two.pdf", "two-1.pdf", &leader);
        assert_int_equal(s1.r, 0);
        s2 = sign_pdf("two-1.pdf", "two-2.pdf", &seal);
        assert_int_equal(s2.r, 0);
        assert_string_equal(s2.layout.field_name, "Signature2");
        assert_int_equal(s2.layout.revision, 3);
        assert_prefix("two-1.pdf", "two-2.pdf");
        /* The first signature still verifies over its own ranges, the second over the whole file. */
        check_signature("two-2.pdf", 2, false);
        check_signature("two-2.pdf", 1, true);
        assert_qpdf_check("two-2.pdf");
        assert_pdfsig("two-2.pdf", 2);
}

static void test_xref_stream(void **state) {
        _cleanup_(sign_result_done) SignResult s = {}, s2 = {};
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        SignHow how = { .signer = "leader2", .scheme = CMS_SIGNATURE_ECDSA };
        size_t size;

        make_basic("plain.pdf");
        assert_int_equal(
                run("qpdf --object-streams=generate '%s' '%s'", tpath("plain.pdf"), tpath("xs.pdf")), 0);
        read_all(tpath("xs.pdf"), &data, &size);
        assert_int_equal(pdf_document_open_memory(data, size, &doc, NULL, NULL), 0);
        assert_int_equal(pdf_document_info(doc)->xref_kind, PDF_XREF_STREAM);

        s = sign_pdf("xs.pdf", "xs-signed.pdf", &how);
        assert_int_equal(s.r, 0);
        assert_prefix("xs.pdf", "xs-signed.pdf");
        check_signature("xs-signed.pdf", 1, true);
        free(data);
        read_all(tpath("xs-signed.pdf"), &data, &size);
        /* A stream after a stream. */
        assert_non_null(memmem(data + s.original_size, size - s.original_size, "/Type /XRef", 11));
        assert_null(memmem(data + s.original_size, size - s.original_size, "\nxref\n", 6));
        assert_qpdf_check("xs-signed.pdf");
        assert_pdfsig("xs-signed.pdf", 1);

        s2 = sign_pdf("xs-signed.pdf", "xs-signed2.pdf", &(SignHow){ .signer = "seal" });
        assert_int_equal(s2.r, 0);
        check_signature("xs-signed2.pdf", 2, false);
        check_signature("xs-signed2.pdf", 1, true);
        assert_qpdf_check("xs-signed2.pdf");
        assert_pdfsig("xs-signed2.pdf", 2);
}

/* A form already there: a direct AcroForm with an indirect /Fields, an unsigned field named Signature1, an
 * indirect /Annots array on the page. */
static void test_existing_form(void **state) {
        static const char *const more[] = {
                "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature1) /Rect [0 0 0 0] /F 132 /P 3 0 R >>",
                "[5 0 R]",
                "[5 0 R]",
        };
        _cleanup_(sign_result_done) SignResult s = {}, taken = {};
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        PadesOptions o = { .field_name = "Signature1" };
        size_t size;

        make_one_page(
                "form.pdf", &(OnePage){ .catalog = " /AcroForm << /Fields 6 0 R /DA (/Helv 0 Tf 0 g) >>",
                                        .page = " /Annots 7 0 R",
                                        .more = more,
                                        .n_more = ELEMENTSOF(more) });
        read_all(tpath("form.pdf"), &data, &size);
        assert_int_equal(pdf_document_open_memory(data, size, &doc, NULL, NULL), 0);
        const PdfDocumentInfo *info = pdf_document_info(doc);
        assert_true(info->acroform_present);
        assert_int_equal(info->acroform_ref.num, 0);
        assert_int_equal(info->fields_ref.num, 6);
        assert_int_equal(info->annots_ref.num, 7);
        assert_string_equal(info->fields_items, "5 0 R");
        assert_true(strv_contains(info->field_names, "Signature1"));
        assert_int_equal(info->n_signatures, 0);

        taken = sign_pdf("form.pdf", "form-x.pdf", &(SignHow){ .options = &o });
        assert_int_equal(taken.r, -EEXIST);

        s = sign_pdf("form.pdf", "form-signed.pdf", &(SignHow){});
        assert_int_equal(s.r, 0);
        assert_string_equal(s.layout.field_name, "Signature2");
        free(data);
        read_all(tpath("form-signed.pdf"), &data, &size);
        /* Both arrays rewritten as objects, the catalog with its direct AcroForm. */
        assert_non_null(
                memmem(data + s.original_size, size - s.original_size, "6 0 obj\n[5 0 R 9 0 R]", 21));
        assert_non_null(
                memmem(data + s.original_size, size - s.original_size, "7 0 obj\n[5 0 R 9 0 R]", 21));
        assert_non_null(
                memmem(data + s.original_size, size - s.original_size, "/Fields 6 0 R /SigFlags 3", 25));
        check_signature("form-signed.pdf", 1, true);
        assert_qpdf_check("form-signed.pdf");
        assert_pdfsig("form-signed.pdf", 1);
}

static void test_refusals(void **state) {
        /* Object 5: the certifying signature, with P=1 and P=2. */
        static const char *const docmdp[] = {
                "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /Reference [<< /Type "
                "/SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P 1 /V /1.2 >> >>] "
                "/ByteRange [0 0 0 0] /Contents <00> >>",
        };
        static const char *const docmdp2[] = {
                "<< /Type /Sig /Reference [<< /TransformMethod /DocMDP /TransformParams << /P 2 >> >>] >>",
        };
        static const struct {
                const char *file;
                PdfRefusal refusal;
                int r;
        } cases[] = {
                { "enc-user.pdf", PDF_REFUSAL_ENCRYPTED, -EACCES },
                { "enc-owner.pdf", PDF_REFUSAL_ENCRYPTED, -EACCES },
                { "truncated.pdf", PDF_REFUSAL_DAMAGED, -EBADMSG },
                { "bad-xref.pdf", PDF_REFUSAL_DAMAGED, -EBADMSG },
                { "docmdp1.pdf", PDF_REFUSAL_CERTIFIED_NO_CHANGES, -EPERM },
                { "text.pdf", PDF_REFUSAL_NOT_PDF, -EMEDIUMTYPE },
        };
        _cleanup_(sign_result_done) SignResult ok = {};
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;

        make_basic("r.pdf");
        assert_int_equal(
                run("qpdf --encrypt u o 256 -- '%s' '%s'", tpath("r.pdf"), tpath("enc-user.pdf")), 0);
        assert_int_equal(
                run("qpdf --encrypt '' o 256 -- '%s' '%s'", tpath("r.pdf"), tpath("enc-owner.pdf")), 0);
        read_all(tpath("r.pdf"), &data, &size);
        write_all(tpath("truncated.pdf"), data, size / 2);
        /* The page's cross-reference entry pointing into the header: a reader would have to rebuild the
         * table to find it. */
        {
                uint8_t *xref = memmem(data, size, "\nxref\n", 6);
                assert_non_null(xref);
                /* "xref\n0 5\n" then 20-byte entries: object 3 is the fourth. */
                memcpy(xref + 6 + 4 + 3 * 20, "0000000009", 10);
                write_all(tpath("bad-xref.pdf"), data, size);
        }
        write_all(tpath("text.pdf"), "hello, world\n", 13);
        make_one_page(
                "docmdp1.pdf", &(OnePage){ .catalog = " /Perms << /DocMDP 5 0 R >>",
                                           .more = docmdp,
                                           .n_more = ELEMENTSOF(docmdp) });
        make_one_page(
                "docmdp2.pdf", &(OnePage){ .catalog = " /Perms << /DocMDP 5 0 R >>",
                                           .more = docmdp2,
                                           .n_more = ELEMENTSOF(docmdp2) });

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(sign_result_done) SignResult s =
                        sign_pdf(cases[i].file, "never.pdf", &(SignHow){});

                print_message("%s: %s\n", cases[i].file, strna(s.message));
                assert_int_equal(s.r, cases[i].r);
                assert_int_equal(s.refusal, cases[i].refusal);
                assert_non_null(s.message);
                assert_int_equal(pdf_refusal_to_errno(s.refusal), cases[i].r);
        }
        assert_string_equal(
                pdf_refusal_advice(PDF_REFUSAL_ENCRYPTED),
                "the PDF is encrypted: remove the password, then sign");
        assert_string_equal(pdf_refusal_to_string(PDF_REFUSAL_CERTIFIED_NO_CHANGES), "certified-no-changes");
        assert_int_equal(pdf_refusal_from_string("damaged"), PDF_REFUSAL_DAMAGED);
        assert_false(pdf_looks_like_pdf("hello", 5));
        assert_true(pdf_looks_like_pdf("\n\n%PDF-1.4", 10));

        /* DocMDP P=2 allows signatures. */
        ok = sign_pdf("docmdp2.pdf", "docmdp2-signed.pdf", &(SignHow){});
        assert_int_equal(ok.r, 0);
        check_signature("docmdp2-signed.pdf", 1, true);
}

static void test_contents_reserve(void **state) {
        _cleanup_(sign_result_done) SignResult small = {}, big = {};
        PadesOptions tiny = { .contents_reserve = 100 }, large = { .contents_reserve = 30000 };
        PdfSignatureUpdate u = { .data = (uint8_t *) strdup("<0000>"), .size = 6, .contents_length = 6 };
        const uint8_t three[3] = { 1, 2, 3 }, two[2] = { 0xab, 0xcd };

        make_basic("reserve.pdf");
        small = sign_pdf("reserve.pdf", "never.pdf", &(SignHow){ .options = &tiny });
        assert_int_equal(small.r, -ENOBUFS);
        big = sign_pdf("reserve.pdf", "reserve-signed.pdf", &(SignHow){ .options = &large });
        assert_int_equal(big.r, 0);
        assert_int_equal(big.layout.contents_reserve, 30000);
        check_signature("reserve-signed.pdf", 1, true);

        assert_non_null(u.data);
        assert_int_equal(pdf_signature_update_fill(&u, three, 3), -ENOBUFS);
        assert_int_equal(pdf_signature_update_fill(&u, two, 2), 0);
        assert_memory_equal(u.data, "<abcd>", 6);
        pdf_signature_update_done(&u);
}

static void test_baseline_t_lt(void **state) {
        _cleanup_(sign_result_done) SignResult s = {};
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        PadesOptions o = { .timestamp = true };
        size_t size;

        tsa_start(NULL);
        TsaOptions tsa = { .url = tsa_url, .timeout_sec = 10 };
        make_basic("lt.pdf");
        s = sign_pdf("lt.pdf", "lt-signed.pdf", &(SignHow){ .options = &o, .tsa = &tsa, .dss = true });
        tsa_stop();
        assert_int_equal(s.r, 0);
        /* The signature covers its revision; the DSS update follows it. */
        check_signature("lt-signed.pdf", 1, false);
        read_all(tpath("lt-signed.pdf"), &data, &size);
        assert_true(size > s.layout.signed_size);
        assert_non_null(
                memmem(data + s.layout.signed_size, size - s.layout.signed_size, "/Type /DSS /Certs [", 19));
        assert_non_null(memmem(data + s.layout.signed_size, size - s.layout.signed_size, "/VRI << /", 9));
        assert_qpdf_check("lt-signed.pdf");

        /* The token is in the CMS as an unsigned attribute. */
        {
                _cleanup_(cms_verify_result_freep) CmsVerifyResult *res =
                        verify_files("range.p7s", "range.content");
                assert_int_equal(res->signers[0].timestamp.status, CMS_TIMESTAMP_OK);
        }

        /* Read back: the DSS is there, the certificates as two streams. */
        assert_int_equal(pdf_document_open_memory(data, size, &doc, NULL, NULL), 0);
        assert_true(pdf_document_info(doc)->dss_present);
        assert_non_null(strstr(pdf_document_info(doc)->dss_certs_items, " 0 R "));
        assert_int_equal(pdf_document_info(doc)->n_signatures, 1);
}

/* A trailer /Size below the highest object number + 1 (qpdf only warns): the update's objects must be
 * numbered above the highest, never over an existing object. */
static void test_wrong_size(void **state) {
        _cleanup_(sign_result_done) SignResult s = {};
        _cleanup_free_ uint8_t *data = NULL;
        uint8_t *size_key;
        size_t size;

        make_basic("size.pdf");
        read_all(tpath("size.pdf"), &data, &size);
        size_key = memmem(data, size, "/Size 5 ", 8);
        assert_non_null(size_key);
        size_key[6] = '4';
        write_all(tpath("size.pdf"), data, size);

        s = sign_pdf("size.pdf", "size-signed.pdf", &(SignHow){});
        assert_int_equal(s.r, 0);
        free(data);
        read_all(tpath("size-signed.pdf"), &data, &size);
        assert_null(memmem(data + s.original_size, size - s.original_size, "\n4 0 obj", 8));
        assert_non_null(memmem(data + s.original_size, size - s.original_size, "\n5 0 obj", 8));
        check_signature("size-signed.pdf", 1, true);
        assert_qpdf_check("size-signed.pdf");
}

/* A 1 MiB file whose last "%%EOF" straddles the first 1 MiB chunk boundary: the marker still counts. */
static void make_sized(const char *name, size_t stream_size) {
        _cleanup_free_ char *image = malloc(stream_size + 128);

        assert_non_null(image);
        int h = snprintf(image, 128, "<< /Length %zu >>\nstream\n", stream_size);
        assert_true(h > 0 && h < 100);
        memset(image + h, 'x', stream_size);
        /* A second marker the count must see (readers take it for a revision end too). */
        memcpy(image + h, "%%EOF", 5);
        strcpy(image + h + stream_size, "\nendstream");
        /* The filler is not valid content, but nothing here draws the page. */
        make_one_page(name, &(OnePage){ .content = image });
}

static void test_revisions_across_chunks(void **state) {
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size, first = 1000000;

        make_sized("chunks.pdf", first);
        read_all(tpath("chunks.pdf"), &data, &size);
        /* The file ends "%%EOF\n": put its '%%' two bytes before the 1 MiB boundary. */
        make_sized("chunks.pdf", first + ((size_t) 1 << 20) + 4 - size);
        free(data);
        read_all(tpath("chunks.pdf"), &data, &size);
        assert_int_equal(size, ((size_t) 1 << 20) + 4);
        assert_memory_equal(data + ((size_t) 1 << 20) - 2, "%%EOF", 5);
        assert_int_equal(pdf_document_open_memory(data, size, &doc, NULL, NULL), 0);
        assert_int_equal(pdf_document_info(doc)->revisions, 2);
}

/* B-LT on a B-LT file: the second DSS update rewrites the existing DSS object in place, keeping its
 * certificates and /VRI entry, and leaves the catalog alone. */
static void test_dss_twice(void **state) {
        _cleanup_(sign_result_done) SignResult s1 = {}, s2 = {};
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_free_ uint8_t *data = NULL, *data2 = NULL;
        _cleanup_free_ char *dss_obj = NULL, *old_items = NULL;
        size_t size, size2;
        const uint8_t *tail;
        size_t tail_size;

        make_basic("dss.pdf");
        s1 = sign_pdf("dss.pdf", "dss-1.pdf", &(SignHow){ .dss = true });
        assert_int_equal(s1.r, 0);
        read_all(tpath("dss-1.pdf"), &data, &size);
        assert_int_equal(pdf_document_open_memory(data, size, &doc, NULL, NULL), 0);
        assert_true(pdf_document_info(doc)->dss_present);
        assert_true(pdf_document_info(doc)->dss_ref.num > 0);
        assert_non_null(pdf_document_info(doc)->dss_vri_entries);
        assert_true(
                asprintf(
                        &dss_obj, "\n%" PRIu32 " 0 obj\n<< /Type /DSS /Certs [%s ",
                        pdf_document_info(doc)->dss_ref.num, pdf_document_info(doc)->dss_certs_items) > 0);
        old_items = strdup(pdf_document_info(doc)->dss_vri_entries);
        assert_non_null(old_items);

        s2 = sign_pdf("dss-1.pdf", "dss-2.pdf", &(SignHow){ .signer = "seal", .dss = true });
        assert_int_equal(s2.r, 0);
        read_all(tpath("dss-2.pdf"), &data2, &size2);
        assert_memory_equal(data, data2, size);
        tail = data2 + s2.layout.signed_size;
        tail_size = size2 - s2.layout.signed_size;
        assert_non_null(memmem(tail, tail_size, dss_obj, strlen(dss_obj)));
        assert_non_null(memmem(tail, tail_size, old_items, strlen(old_items)));
        assert_null(memmem(tail, tail_size, "/Type /Catalog", 14));
        check_signature("dss-2.pdf", 2, false);
        check_signature("dss-2.pdf", 1, false);
        assert_qpdf_check("dss-2.pdf");
}

static void test_bad_params(void **state) {
        _cleanup_(sign_result_done) SignResult s = {};
        PadesOptions bad_name = { .field_name = "a.b" }, bad_text = { .reason = "\xc3" };
        SignPending *p = NULL;
        SignError e = {};

        make_basic("params.pdf");
        s = sign_pdf("params.pdf", "never.pdf", &(SignHow){ .options = &bad_name });
        assert_int_equal(s.r, -EINVAL);
        sign_result_done(&s);
        s = sign_pdf("params.pdf", "never.pdf", &(SignHow){ .options = &bad_text });
        assert_int_equal(s.r, -EINVAL);
        sign_result_done(&s);
        s = (SignResult){};
        assert_int_equal(pades_prepare(NULL, NULL, NULL, &p, &e), -EINVAL);
        assert_null(p);
        sign_error_done(&e);
        assert_int_equal(pades_append_dss(NULL, &(PadesDss){}, NULL, NULL, &e), -EINVAL);
        sign_error_done(&e);
}

/* ---- visible signatures */

/* Signs tpath(in) into tpath(out) with the visible signature v (signer NULL: leader); the original stays a
 * prefix. */
static int sign_visible(const char *in, const char *out, const char *signer, const PadesVisible *v) {
        _cleanup_(sign_result_done) SignResult s = sign_pdf(
                in, out,
                &(SignHow){ .signer = signer,
                            .scheme = streq_ptr(signer, "leader2") ? CMS_SIGNATURE_ECDSA
                                                                   : CMS_SIGNATURE_RSA_PKCS1,
                            .options = &(PadesOptions){ .visible = v } });

        if (s.r >= 0)
                assert_prefix(in, out);
        return s.r;
}

/* A w x h PNG of one colour (opaque) inside a transparent one-pixel border: alpha as a signature has. */
static PdfImage *solid_image(unsigned w, unsigned h, uint8_t red, uint8_t green, uint8_t blue) {
        _cleanup_free_ uint8_t *rgba = calloc((size_t) w * h, 4);
        PdfImage *img = NULL;
        TestPng png;

        assert_non_null(rgba);
        for (unsigned y = 1; y + 1 < h; y++)
                for (unsigned x = 1; x + 1 < w; x++)
                        memcpy(rgba + ((size_t) y * w + x) * 4, (uint8_t[]){ red, green, blue, 255 }, 4);
        png = test_png_from_rgba(w, h, rgba);
        assert_int_equal(pdf_image_from_png(png.data, png.size, PDF_IMAGE_REQUIRE_ALPHA, &img, NULL), 0);
        free(png.data);
        return img;
}

static bool have_poppler(void) {
        return run("{ command -v pdftotext && command -v pdftoppm; } >/dev/null 2>&1") == 0;
}

/* The colour of the pixel at (x, y) PDF points (bottom-left origin) of page 1 of tpath(file), rendered at
 * 72 dpi; page_height in points. */
static void pixel_at(const char *file, double page_height, double x, double y, uint8_t rgb[3]) {
        _cleanup_free_ uint8_t *data = NULL;
        unsigned w, h, max, px = (unsigned) x, py = (unsigned) (page_height - y);
        size_t size;
        int n = 0;

        assert_int_equal(
                run("pdftoppm -r 72 -f 1 -l 1 -singlefile '%s' '%s'", tpath(file), tpath("render")), 0);
        read_all(tpath("render.ppm"), &data, &size);
        assert_int_equal(sscanf((const char *) data, "P6 %u %u %u%n", &w, &h, &max, &n), 3);
        assert_true(px < w && py < h && max == 255);
        memcpy(rgb, data + n + 1 + ((size_t) py * w + px) * 3, 3);
}

static void assert_kyso_counts(const char *file, size_t n) {
        _cleanup_close_ int fd = open(tpath(file), O_RDONLY | O_CLOEXEC);
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = NULL;

        assert_true(fd >= 0);
        assert_int_equal(pdf_verify_fd(fd, &res), 0);
        assert_int_equal(res->document_problem, PDF_DOCUMENT_OK);
        assert_int_equal(res->n_signatures, n);
        for (size_t i = 0; i < n; i++)
                assert_true(pdf_signature_counts(&res->signatures[i]));
}

/* qpdf, pdfsig and kyso's verifier all find the file sound, with n signatures, every one valid. */
static void assert_valid_everywhere(const char *file, unsigned n) {
        assert_qpdf_check(file);
        assert_pdfsig(file, n);
        assert_kyso_counts(file, n);
}

static const PdfDocumentInfo *open_info(const char *file, PdfDocument **ret) {
        int fd = open(tpath(file), O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pdf_document_open_fd(fd, ret, NULL, NULL), 0);
        close(fd);
        return pdf_document_info(*ret);
}

/* The leader signs visibly, the seal goes over the left third of the leader's image, a copy stamp at the
 * top right of page 1: each signature valid for qpdf, pdfsig and pdf_verify, the pixels where they belong.
 */
static void test_visible_issue_then_copy(void **state) {
        _cleanup_(pdf_image_freep) PdfImage *blue = solid_image(400, 100, 0, 0, 255);
        _cleanup_(pdf_image_freep) PdfImage *red = solid_image(120, 120, 255, 0, 0);
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        const char *const stamp_lines[] = { "BẢN SAO", "Ủy ban nhân dân tỉnh Hà Nam",
                                            "2026-12-06T09:41:07+07:00" };
        PadesVisible leader = {
                .placement = PADES_PLACEMENT_RECT,
                .rect = { 300, 200, 200, 100 },
                .image = blue,
        };
        PadesVisible seal = { .placement = PADES_PLACEMENT_SEAL, .seal_diameter_mm = 40, .image = red };
        PadesVisible stamp = { .placement = PADES_PLACEMENT_STAMP, .lines = stamp_lines, .n_lines = 3 };
        const PdfDocumentInfo *info;
        uint8_t rgb[3];

        make_basic("vis.pdf");
        assert_int_equal(sign_visible("vis.pdf", "vis-1.pdf", NULL, &leader), 0);

        /* The leader's widget is the image's own box (400 x 100 fitted into 200 x 100: 200 x 50, centred).
         */
        info = open_info("vis-1.pdf", &doc);
        assert_int_equal(info->n_signed_widgets, 1);
        assert_int_equal(info->signed_widgets[0].page, 0);
        assert_true(fabs(info->signed_widgets[0].rect[0] - 300) < 0.01);
        assert_true(fabs(info->signed_widgets[0].rect[1] - 225) < 0.01);
        assert_true(fabs(info->signed_widgets[0].rect[2] - 500) < 0.01);
        assert_true(fabs(info->signed_widgets[0].rect[3] - 275) < 0.01);
        doc = pdf_document_free(doc);

        assert_int_equal(sign_visible("vis-1.pdf", "vis-2.pdf", "seal", &seal), 0);
        assert_int_equal(sign_visible("vis-2.pdf", "vis-3.pdf", "leader2", &stamp), 0);

        info = open_info("vis-3.pdf", &doc);
        assert_int_equal(info->n_signed_widgets, 3);
        /* The stamp is inside the page, at its top right. */
        assert_true(info->signed_widgets[2].rect[2] <= 595 - PDF_STAMP_MARGIN + 0.01);
        assert_true(info->signed_widgets[2].rect[3] <= 842 - PDF_STAMP_MARGIN + 0.01);
        assert_true(info->signed_widgets[2].rect[0] > 595 / 2.0);

        assert_qpdf_check("vis-1.pdf");
        assert_qpdf_check("vis-2.pdf");
        assert_qpdf_check("vis-3.pdf");
        assert_pdfsig("vis-1.pdf", 1);
        assert_pdfsig("vis-2.pdf", 2);
        assert_pdfsig("vis-3.pdf", 3);
        check_signature("vis-3.pdf", 3, false);
        check_signature("vis-3.pdf", 1, true);
        /* The later widgets are changes kyso's verifier allows. */
        assert_kyso_counts("vis-3.pdf", 3);

        if (!have_poppler())
                return;
        assert_int_equal(run("pdftotext '%s' - | grep -q 'BẢN SAO'", tpath("vis-3.pdf")), 0);
        assert_int_equal(
                run("pdftotext '%s' - | grep -q 'Ủy ban nhân dân tỉnh Hà Nam'", tpath("vis-3.pdf")), 0);
        /* Red in the left third of the leader's image (300..366), blue on its right. */
        pixel_at("vis-3.pdf", 842, 320, 250, rgb);
        assert_true(rgb[0] > 200 && rgb[1] < 60 && rgb[2] < 60);
        pixel_at("vis-3.pdf", 842, 470, 250, rgb);
        assert_true(rgb[0] < 60 && rgb[1] < 60 && rgb[2] > 200);
        /* Outside the image: the page. */
        pixel_at("vis-3.pdf", 842, 470, 290, rgb);
        assert_true(rgb[0] > 200 && rgb[1] > 200 && rgb[2] > 200);
}

static bool rect_inside(const double r[4], const double box[4]) {
        return r[0] >= box[0] - 0.01 && r[1] >= box[1] - 0.01 && r[2] <= box[2] + 0.01 &&
               r[3] <= box[3] + 0.01;
}

/* Stamps on a page turned by an inherited /Rotate, on one with a /CropBox, a signature on page 2; page and
 * placement errors. */
static void test_visible_pages(void **state) {
        const char *const lines[] = { "PHỤ LỤC số 12/QĐ-UBND", "2026-12-06T09:41:07+07:00" };
        _cleanup_(pdf_image_freep) PdfImage *blue = solid_image(60, 30, 0, 0, 255);
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        PadesVisible stamp = { .placement = PADES_PLACEMENT_STAMP, .lines = lines, .n_lines = 2 };
        PadesVisible on_page2 = {
                .placement = PADES_PLACEMENT_RECT, .page = 1, .rect = { 150, 150, 120, 60 }, .image = blue
        };
        PadesVisible seal = { .placement = PADES_PLACEMENT_SEAL, .seal_diameter_mm = 30, .image = blue };
        const PdfDocumentInfo *info;
        PdfPage page = {};

        make_two_pages("rotated.pdf", " /Rotate -270", " /Rotate 0 /CropBox [100 100 400 500]");
        (void) open_info("rotated.pdf", &doc);
        assert_int_equal(pdf_document_read_page(doc, 0, &page, NULL), 0);
        assert_int_equal(page.rotate, 90);
        assert_true(page.media[2] == 595 && page.media[3] == 842 && !page.has_crop);
        pdf_page_done(&page);
        assert_int_equal(pdf_document_read_page(doc, 1, &page, NULL), 0);
        assert_int_equal(page.rotate, 0);
        assert_true(page.has_crop && page.crop[0] == 100 && page.crop[3] == 500);
        pdf_page_done(&page);
        assert_int_equal(pdf_document_read_page(doc, 2, &page, NULL), -ENXIO);
        doc = pdf_document_free(doc);

        /* No visible signature yet: no seal. A page past the end: refused. */
        assert_int_equal(sign_visible("rotated.pdf", "never.pdf", NULL, &seal), -ENOENT);
        on_page2.page = 7;
        assert_int_equal(sign_visible("rotated.pdf", "never.pdf", NULL, &on_page2), -ENXIO);
        on_page2.page = 1;

        assert_int_equal(sign_visible("rotated.pdf", "rotated-1.pdf", NULL, &stamp), 0);
        assert_int_equal(sign_visible("rotated-1.pdf", "rotated-2.pdf", NULL, &on_page2), 0);
        assert_int_equal(sign_visible("rotated-2.pdf", "rotated-3.pdf", "seal", &seal), 0);
        assert_valid_everywhere("rotated-3.pdf", 3);

        info = open_info("rotated-3.pdf", &doc);
        assert_int_equal(info->n_signed_widgets, 3);
        /* Page 1 is turned a quarter clockwise: its displayed top right is the media box's top left. */
        assert_int_equal(info->signed_widgets[0].page, 0);
        assert_true(rect_inside(info->signed_widgets[0].rect, (double[]){ 0, 0, 595, 842 }));
        assert_true(fabs(info->signed_widgets[0].rect[0] - PDF_STAMP_MARGIN) < 0.01);
        assert_true(fabs(info->signed_widgets[0].rect[3] - (842 - PDF_STAMP_MARGIN)) < 0.01);
        /* Turned: the text runs down the user-space page, so the widget is taller than wide. */
        assert_true(
                info->signed_widgets[0].rect[3] - info->signed_widgets[0].rect[1] >
                info->signed_widgets[0].rect[2] - info->signed_widgets[0].rect[0]);
        /* Page 2's widget went into its indirect /Annots; the seal followed it there. */
        assert_int_equal(info->signed_widgets[1].page, 1);
        assert_int_equal(info->signed_widgets[2].page, 1);
        assert_true(rect_inside(info->signed_widgets[1].rect, (double[]){ 150, 150, 270, 210 }));
        doc = pdf_document_free(doc);
        if (have_poppler())
                assert_int_equal(
                        run("pdftotext '%s' - | grep -q 'PHỤ LỤC số 12/QĐ-UBND'", tpath("rotated-3.pdf")),
                        0);

        /* A seal on the turned page covers the left third of the signature as the reader sees it: the
         * bottom third in user space. */
        on_page2 = (PadesVisible){
                .placement = PADES_PLACEMENT_RECT, .page = 0, .rect = { 100, 300, 100, 200 }, .image = blue
        };
        assert_int_equal(sign_visible("rotated.pdf", "turned-1.pdf", NULL, &on_page2), 0);
        assert_int_equal(sign_visible("turned-1.pdf", "turned-2.pdf", "seal", &seal), 0);
        assert_pdfsig("turned-2.pdf", 2);
        info = open_info("turned-2.pdf", &doc);
        assert_int_equal(info->n_signed_widgets, 2);
        /* The 60 x 30 image turned fills 100 x 200 exactly. */
        assert_true(fabs(info->signed_widgets[0].rect[1] - 300) < 0.01);
        assert_true(fabs(info->signed_widgets[0].rect[3] - 500) < 0.01);
        assert_true(fabs(info->signed_widgets[1].rect[3] - (300 + 200 / 3.0)) < 0.01);
        assert_true(fabs(info->signed_widgets[1].rect[0] + info->signed_widgets[1].rect[2] - 300) < 0.01);
        doc = pdf_document_free(doc);

        make_one_page("cropped.pdf", &(OnePage){ .page = " /Resources << >> /CropBox [50 60 400 500]" });
        assert_int_equal(sign_visible("cropped.pdf", "cropped-1.pdf", NULL, &stamp), 0);
        assert_qpdf_check("cropped-1.pdf");
        assert_pdfsig("cropped-1.pdf", 1);
        info = open_info("cropped-1.pdf", &doc);
        assert_int_equal(info->n_signed_widgets, 1);
        assert_true(rect_inside(
                info->signed_widgets[0].rect, (double[]){ 50 + PDF_STAMP_MARGIN, 60 + PDF_STAMP_MARGIN,
                                                          400 - PDF_STAMP_MARGIN, 500 - PDF_STAMP_MARGIN }));
        assert_true(fabs(info->signed_widgets[0].rect[2] - (400 - PDF_STAMP_MARGIN)) < 0.01);
        assert_true(fabs(info->signed_widgets[0].rect[3] - (500 - PDF_STAMP_MARGIN)) < 0.01);
}

/* An issue's document number and date where the app placed them, in the seal's widget: its /Rect covers the
 * seal and both texts, every signature stays valid for pdfsig and kyso's verifier; without a seal (TEXT)
 * on a turned page the widget still covers the places; a text on another page than the seal goes into a
 * stamp annotation on that page (test_visible_texts_on_other_page()), one on a page the PDF lacks is
 * refused. */
static void test_visible_placed_texts(void **state) {
        _cleanup_(pdf_image_freep) PdfImage *blue = solid_image(400, 100, 0, 0, 255);
        _cleanup_(pdf_image_freep) PdfImage *red = solid_image(120, 120, 255, 0, 0);
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        PadesPlacedText texts[] = {
                { 0, { 60, 760, 200, 20 }, "Số: 7/QĐ-UBND" },
                { 0, { 330, 760, 230, 20 }, "Uông Bí, ngày 06 tháng 12 năm 2026" },
        };
        PadesVisible leader = { .placement = PADES_PLACEMENT_RECT,
                                .rect = { 300, 200, 200, 100 },
                                .image = blue };
        PadesVisible seal = { .placement = PADES_PLACEMENT_SEAL,
                              .seal_diameter_mm = 40,
                              .image = red,
                              .texts = texts,
                              .n_texts = ELEMENTSOF(texts) };
        PadesVisible only_texts = { .placement = PADES_PLACEMENT_TEXT, .texts = texts, .n_texts = 1 };
        const PdfDocumentInfo *info;
        const double *w;
        uint8_t rgb[3];

        make_basic("num.pdf");
        assert_int_equal(sign_visible("num.pdf", "num-1.pdf", NULL, &leader), 0);
        texts[1].page = 1;
        assert_int_equal(sign_visible("num-1.pdf", "never.pdf", "seal", &seal), -ENXIO);
        texts[1].page = 0;
        assert_int_equal(sign_visible("num-1.pdf", "num-2.pdf", "seal", &seal), 0);
        assert_valid_everywhere("num-2.pdf", 2);
        info = open_info("num-2.pdf", &doc);
        assert_int_equal(info->n_signed_widgets, 2);
        w = info->signed_widgets[1].rect;
        assert_true(w[0] <= 60 + 0.01 && w[2] >= 560 - 0.01 && w[3] >= 780 - 0.01);
        /* Down to the seal, over the left third of the leader's image (225..275 high). */
        assert_true(w[1] < 250);
        doc = pdf_document_free(doc);

        make_one_page("turned.pdf", &(OnePage){ .page = " /Resources << >> /Rotate 90" });
        /* On a page turned a quarter, the app's place is in user space: a box 20 wide and 200 high. */
        texts[0].rect = (PdfRect){ 60, 300, 20, 200 };
        assert_int_equal(sign_visible("turned.pdf", "turned-num.pdf", "seal", &only_texts), 0);
        assert_pdfsig("turned-num.pdf", 1);
        info = open_info("turned-num.pdf", &doc);
        assert_int_equal(info->n_signed_widgets, 1);
        w = info->signed_widgets[0].rect;
        assert_true(w[0] <= 60 + 0.01 && w[1] <= 300 + 0.01 && w[2] >= 80 - 0.01 && w[3] >= 500 - 0.01);
        doc = pdf_document_free(doc);

        if (!have_poppler())
                return;
        assert_int_equal(run("pdftotext '%s' - | grep -q 'Số: 7/QĐ-UBND'", tpath("num-2.pdf")), 0);
        assert_int_equal(
                run("pdftotext '%s' - | grep -q 'Uông Bí, ngày 06 tháng 12 năm 2026'", tpath("num-2.pdf")),
                0);
        assert_int_equal(run("pdftotext '%s' - | grep -q 'Số: 7/QĐ-UBND'", tpath("turned-num.pdf")), 0);
        /* The seal still covers the left third of the leader's image and not the rest. */
        pixel_at("num-2.pdf", 842, 320, 250, rgb);
        assert_true(rgb[0] > 200 && rgb[1] < 60 && rgb[2] < 60);
        pixel_at("num-2.pdf", 842, 470, 250, rgb);
        assert_true(rgb[0] < 60 && rgb[1] < 60 && rgb[2] > 200);
}

/* The stamp annotation of the update: how many there are, and the first one's dictionary. */
static size_t count_stamps(const char *file, char **ret_first) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size, n = 0;
        const char *p, *first = NULL;

        read_all(tpath(file), &data, &size);
        data = realloc(data, size + 1);
        assert_non_null(data);
        data[size] = 0;
        for (p = (const char *) data;
             (p = memmem(p, size - (size_t) (p - (const char *) data), "/Subtype /Stamp", 15)); p++, n++)
                if (!first)
                        first = p;
        if (ret_first) {
                assert_non_null(first);
                *ret_first = strndup(first, strcspn(first, "\n"));
        }
        return n;
}

/* The leader's signature of a two-page decision, in a rectangle on its last page (index 1). */
static PadesVisible leader_on_page_2(PdfImage *image) {
        return (PadesVisible){
                .placement = PADES_PLACEMENT_RECT, .page = 1, .rect = { 300, 200, 200, 100 }, .image = image
        };
}

/* The seal over the leader's signature, with the document's texts. */
static PadesVisible seal_with_texts(PdfImage *image, PadesPlacedText *texts, size_t n) {
        return (PadesVisible){ .placement = PADES_PLACEMENT_SEAL,
                               .seal_diameter_mm = 40,
                               .image = image,
                               .texts = texts,
                               .n_texts = n };
}

/* A decision of two pages: the number and date at the top of page 1, the signatures on page 2. The texts
 * on page 1 go into one stamp annotation there (the same update, covered by the seal's signature); a text on
 * the seal's page stays in its widget. Both signatures valid for pdfsig and for kyso's verifier. */
static void test_visible_texts_on_other_page(void **state) {
        _cleanup_(pdf_image_freep) PdfImage *blue = solid_image(400, 100, 0, 0, 255);
        _cleanup_(pdf_image_freep) PdfImage *red = solid_image(120, 120, 255, 0, 0);
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_free_ char *stamp = NULL;
        PadesPlacedText texts[] = {
                { 0, { 60, 760, 200, 20 }, "Số: 7/QĐ-UBND" },
                { 0, { 330, 760, 230, 20 }, "Uông Bí, ngày 06 tháng 12 năm 2026" },
        };
        PadesVisible leader = leader_on_page_2(blue);
        PadesVisible seal = seal_with_texts(red, texts, ELEMENTSOF(texts));
        const PdfDocumentInfo *info;
        PdfPage page = {};

        make_two_pages("two.pdf", NULL, NULL);
        assert_int_equal(sign_visible("two.pdf", "two-1.pdf", NULL, &leader), 0);
        assert_int_equal(count_stamps("two-1.pdf", NULL), 0);
        assert_int_equal(sign_visible("two-1.pdf", "two-2.pdf", "seal", &seal), 0);
        assert_valid_everywhere("two-2.pdf", 2);
        assert_int_equal(count_stamps("two-2.pdf", &stamp), 1);
        assert_non_null(strstr(stamp, "/F 708 /Rect ["));
        assert_non_null(strstr(stamp, "/AP << /N "));
        assert_non_null(strstr(stamp, "/NM (kyso-Signature2-page-1)"));
        assert_null(strstr(stamp, "/A "));
        assert_null(strstr(stamp, "/AA "));
        info = open_info("two-2.pdf", &doc);
        /* The seal's widget is on page 2, over the leader's: only the seal there. */
        assert_int_equal(info->n_signed_widgets, 2);
        assert_int_equal(info->signed_widgets[1].page, 1);
        assert_true(info->signed_widgets[1].rect[3] < 400);
        /* Page 1 had no /Annots: it has the stamp now. */
        assert_int_equal(pdf_document_read_page(doc, 0, &page, NULL), 0);
        assert_false(isempty(page.annots_items));
        pdf_page_done(&page);
        doc = pdf_document_free(doc);

        /* The number on page 1, the date on the seal's page: one stamp, the date in the widget. */
        texts[1].page = 1;
        texts[1].rect = (PdfRect){ 330, 500, 230, 20 };
        stamp = mfree(stamp);
        assert_int_equal(sign_visible("two-1.pdf", "two-3.pdf", "seal", &seal), 0);
        assert_valid_everywhere("two-3.pdf", 2);
        assert_int_equal(count_stamps("two-3.pdf", &stamp), 1);
        info = open_info("two-3.pdf", &doc);
        assert_true(info->signed_widgets[1].rect[3] >= 520 - 0.01);
        doc = pdf_document_free(doc);

        if (!have_poppler())
                return;
        assert_int_equal(run("pdftotext -f 1 -l 1 '%s' - | grep -q 'Số: 7/QĐ-UBND'", tpath("two-2.pdf")), 0);
        assert_int_equal(
                run("pdftotext -f 1 -l 1 '%s' - | grep -q 'Uông Bí, ngày 06 tháng 12 năm 2026'",
                    tpath("two-2.pdf")),
                0);
        assert_int_equal(run("pdftotext -f 1 -l 1 '%s' - | grep -q 'Số: 7/QĐ-UBND'", tpath("two-3.pdf")), 0);
        assert_int_equal(
                run("pdftotext -f 2 -l 2 '%s' - | grep -q 'Uông Bí, ngày 06 tháng 12 năm 2026'",
                    tpath("two-3.pdf")),
                0);
        /* Drawn where placed: some dark pixel on the number's baseline area of page 1. */
        assert_int_equal(
                run("pdftoppm -r 72 -f 1 -l 1 -gray -x 60 -y 62 -W 200 -H 20 -singlefile '%s' '%s'",
                    tpath("two-2.pdf"), tpath("crop")),
                0);
        {
                _cleanup_free_ uint8_t *data = NULL;
                size_t size;
                bool dark = false;

                read_all(tpath("crop.pgm"), &data, &size);
                for (size_t i = size > 4000 ? size - 4000 : 0; i < size; i++)
                        dark = dark || data[i] < 100;
                assert_true(dark);
        }
}

/* A certification with /P 2 allows signing but no new annotation (ISO 32000-1, table 254): a text on
 * another page than the seal's, which would need a stamp annotation there, is refused (-EPERM) rather than
 * written; on the seal's page (in its widget) it is signed. /P 3 allows the stamp. */
static void test_visible_texts_certified(void **state) {
        _cleanup_(pdf_image_freep) PdfImage *blue = solid_image(400, 100, 0, 0, 255);
        _cleanup_(pdf_image_freep) PdfImage *red = solid_image(120, 120, 255, 0, 0);
        PadesPlacedText texts[] = { { 0, { 60, 760, 200, 20 }, "Số: 7/QĐ-UBND" } };
        PadesVisible leader = leader_on_page_2(blue);
        PadesVisible seal = seal_with_texts(red, texts, ELEMENTSOF(texts));
        PadesVisible only_texts = { .placement = PADES_PLACEMENT_TEXT,
                                    .texts = (PadesPlacedText[]){ { 1, { 60, 500, 200, 20 }, "Số: 7" },
                                                                  { 0, { 60, 760, 200, 20 }, "Ngày 6" } },
                                    .n_texts = 2 };

        for (int p = 2; p <= 3; p++) {
                _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
                _cleanup_free_ char *cert = NULL, *in = NULL, *one = NULL, *two = NULL, *three = NULL;

                assert_true(
                        asprintf(
                                &cert,
                                "<< /Type /Sig /Reference [<< /TransformMethod /DocMDP /TransformParams "
                                "<< /P %d >> >>] >>",
                                p) > 0);
                const char *const objs[] = {
                        "<< /Type /Catalog /Pages 2 0 R /Perms << /DocMDP 7 0 R >> >>",
                        "<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 /MediaBox [0 0 595 842] >>",
                        "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << >> >>",
                        PAGE_CONTENT,
                        "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << >> /Annots 6 0 R >>",
                        "[]",
                        cert,
                };

                assert_true(asprintf(&in, "cert-p%d.pdf", p) > 0);
                assert_true(asprintf(&one, "cert-p%d-1.pdf", p) > 0);
                assert_true(asprintf(&two, "cert-p%d-2.pdf", p) > 0);
                assert_true(asprintf(&three, "cert-p%d-3.pdf", p) > 0);
                make_pdf(in, objs, ELEMENTSOF(objs));
                assert_int_equal(open_info(in, &doc)->docmdp_p, p);
                doc = pdf_document_free(doc);
                assert_int_equal(sign_visible(in, one, NULL, &leader), 0);

                texts[0].page = 0;
                assert_int_equal(sign_visible(one, two, "seal", &seal), p == 2 ? -EPERM : 0);
                assert_int_equal(sign_visible(one, two, "seal", &only_texts), p == 2 ? -EPERM : 0);
                if (p == 3)
                        assert_int_equal(count_stamps(two, NULL), 1);
                texts[0].page = 1;
                assert_int_equal(sign_visible(one, three, "seal", &seal), 0);
                assert_int_equal(count_stamps(three, NULL), 0);
        }
        /* Not certified: 0. */
        make_two_pages("uncertified.pdf", NULL, NULL);
        {
                _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
                assert_int_equal(open_info("uncertified.pdf", &doc)->docmdp_p, 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text_strings),
                cmocka_unit_test(test_sign_basic),
                cmocka_unit_test(test_original_digest),
                cmocka_unit_test(test_second_signature),
                cmocka_unit_test(test_xref_stream),
                cmocka_unit_test(test_existing_form),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_contents_reserve),
                cmocka_unit_test_teardown(test_baseline_t_lt, tsa_teardown),
                cmocka_unit_test(test_dss_twice),
                cmocka_unit_test(test_wrong_size),
                cmocka_unit_test(test_revisions_across_chunks),
                cmocka_unit_test(test_bad_params),
                cmocka_unit_test(test_visible_issue_then_copy),
                cmocka_unit_test(test_visible_pages),
                cmocka_unit_test(test_visible_placed_texts),
                cmocka_unit_test(test_visible_texts_on_other_page),
                cmocka_unit_test(test_visible_texts_certified),
        };
        return cmocka_run_group_tests(tests, sign_setup, pki_teardown);
}
