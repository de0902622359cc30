/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pades-sign-tool: signs a PDF with a software key, for the corpus test and by hand (tests only):
 *   pades-sign-tool [--reason TEXT] [--location TEXT] [--name TEXT] [--field NAME] [--pss|--ecdsa]
 *                   [--sha384] [--dss] [--visible PAGE,X,Y,W,H | --seal MM [--leader FIELD] | --stamp]
 *                   [--image PNG] [--text LINE]... [--font TTF] CERT KEY CHAIN|- IN OUT
 * --dss appends a DSS update holding the signer's certificate and CHAIN (B-LT without revocation data).
 * --visible draws the signature on PAGE (1-based) in the rectangle (PDF points, bottom-left origin), --seal
 * draws a seal of that diameter over the leader's signature (the last visible one, or FIELD's), --stamp
 * draws the --text lines at the top right of page 1; --image is the PNG (with alpha) drawn.
 * Exits 0 when OUT was written ("signed xref=KIND revisions=N signatures=N" on stdout, about the input), 2
 * when the PDF was refused ("refused NAME: message" on stdout), 1 on any other error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "fileio.h"
#include "formats/pades-sign.h"
#include "openssl-util.h"
#include "soft-signer.h"

static STACK_OF(X509) * read_chain(const char *path) {
        _cleanup_(BIO_free_allp) BIO *b = NULL;
        STACK_OF(X509) *chain = sk_X509_new_null();
        X509 *x;

        if (!chain || streq(path, "-"))
                return chain;
        b = BIO_new_file(path, "r");
        if (!b) {
                sk_X509_free(chain);
                return NULL;
        }
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
                if (sk_X509_push(chain, x) <= 0) {
                        X509_free(x);
                        break;
                }
        return chain;
}

static int der_of(X509 *x, uint8_t **ret, size_t *ret_size) {
        unsigned char *der = NULL;
        int n = i2d_X509(x, &der);

        return openssl_der_take(der, n, ret, ret_size);
}

/* "PAGE,X,Y,W,H" at the start of s, PAGE 1-based: the 0-based page, the rectangle, and where s goes on
 * after it. */
static int parse_page_rect(const char *s, unsigned *ret_page, PdfRect *ret_rect, const char **ret_end) {
        unsigned page;
        PdfRect rect;
        int n = 0;

        if (sscanf(s, "%u,%lf,%lf,%lf,%lf%n", &page, &rect.x, &rect.y, &rect.w, &rect.h, &n) != 5 ||
            page == 0)
                return -EINVAL;
        *ret_page = page - 1;
        *ret_rect = rect;
        *ret_end = s + n;
        return 0;
}

/* "PAGE,X,Y,W,H" (--visible). */
static int parse_visible(const char *s, PadesVisible *v) {
        const char *end;

        if (parse_page_rect(s, &v->page, &v->rect, &end) < 0 || *end != '\0')
                return -EINVAL;
        v->placement = PADES_PLACEMENT_RECT;
        return 0;
}

/* "PAGE,X,Y,W,H:TEXT", an issue's number or date at its place (--text-at, with --seal). */
static int parse_text_at(const char *s, PadesPlacedText *t) {
        const char *end;

        if (parse_page_rect(s, &t->page, &t->rect, &end) < 0 || *end != ':')
                return -EINVAL;
        t->text = end + 1;
        return 0;
}

static int append_dss(SignPending *p, X509 *cert, STACK_OF(X509) * chain, int fd, SignError *e) {
        PadesBlob blobs[16] = {};
        PadesDss dss = { .certs = blobs, .vri = true };
        _cleanup_free_ uint8_t *update = NULL;
        size_t size = 0;
        int r = 0;

        r = der_of(cert, (uint8_t **) &blobs[0].data, &blobs[0].size);
        dss.n_certs = 1;
        for (int i = 0; r >= 0 && i < sk_X509_num(chain) && dss.n_certs < ELEMENTSOF(blobs); i++) {
                PadesBlob *b = &blobs[dss.n_certs++];
                r = der_of(sk_X509_value(chain, i), (uint8_t **) &b->data, &b->size);
        }
        if (r >= 0)
                r = pades_append_dss(p, &dss, &update, &size, e);
        if (r >= 0)
                r = loop_write(fd, update, size);
        for (size_t i = 0; i < ELEMENTSOF(blobs); i++)
                free((void *) blobs[i].data);
        return r;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "reason", required_argument, NULL, 'r' },
                { "location", required_argument, NULL, 'l' },
                { "name", required_argument, NULL, 'n' },
                { "field", required_argument, NULL, 'f' },
                { "pss", no_argument, NULL, 'P' },
                { "ecdsa", no_argument, NULL, 'E' },
                { "sha384", no_argument, NULL, '3' },
                { "dss", no_argument, NULL, 'D' },
                { "visible", required_argument, NULL, 'V' },
                { "seal", required_argument, NULL, 'S' },
                { "leader", required_argument, NULL, 'L' },
                { "stamp", no_argument, NULL, 'T' },
                { "image", required_argument, NULL, 'I' },
                { "text", required_argument, NULL, 't' },
                { "font", required_argument, NULL, 'F' },
                { "text-at", required_argument, NULL, 'A' },
                {},
        };
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(sk_X509_pop_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_(sign_pending_freep) SignPending *p = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *update = NULL;
        _cleanup_close_ int in = -1, out = -1;
        CmsSignatureScheme scheme = CMS_SIGNATURE_RSA_PKCS1;
        PdfRefusal refusal = PDF_REFUSAL_NONE;
        PadesOptions o = {};
        PadesVisible v = {};
        const char *lines[8] = {}, *image_path = NULL;
        PadesPlacedText placed[4] = {};
        size_t n_placed = 0;
        _cleanup_(pdf_image_freep) PdfImage *image = NULL;
        PkeySigner key = {};
        SignError e = {};
        const uint8_t *tbs;
        size_t tbs_size, sig_size, update_size;
        int digest = NID_sha256, c, r;
        bool dss = false;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        o.reason = optarg;
                        break;
                case 'l':
                        o.location = optarg;
                        break;
                case 'n':
                        o.name = optarg;
                        break;
                case 'f':
                        o.field_name = optarg;
                        break;
                case 'P':
                        scheme = CMS_SIGNATURE_RSA_PSS;
                        break;
                case 'E':
                        scheme = CMS_SIGNATURE_ECDSA;
                        break;
                case '3':
                        digest = NID_sha384;
                        break;
                case 'D':
                        dss = true;
                        break;
                case 'V':
                        if (parse_visible(optarg, &v) < 0) {
                                fprintf(stderr, "invalid --visible %s\n", optarg);
                                return 1;
                        }
                        break;
                case 'S':
                        v.placement = PADES_PLACEMENT_SEAL;
                        v.seal_diameter_mm = strtod(optarg, NULL);
                        break;
                case 'L':
                        v.leader_field = optarg;
                        break;
                case 'T':
                        v.placement = PADES_PLACEMENT_STAMP;
                        break;
                case 'I':
                        image_path = optarg;
                        break;
                case 't':
                        if (v.n_lines >= ELEMENTSOF(lines))
                                return 1;
                        lines[v.n_lines++] = optarg;
                        break;
                case 'F':
                        v.font_path = optarg;
                        break;
                case 'A':
                        if (n_placed >= ELEMENTSOF(placed) || parse_text_at(optarg, &placed[n_placed]) < 0) {
                                fprintf(stderr, "invalid --text-at %s\n", optarg);
                                return 1;
                        }
                        v.texts = placed;
                        v.n_texts = ++n_placed;
                        break;
                default:
                        return 1;
                }
        if (argc - optind != 5) {
                fprintf(stderr, "usage: pades-sign-tool [options] CERT KEY CHAIN|- IN OUT\n");
                return 1;
        }
        r = x509_read_pem_file(argv[optind], &cert);
        chain = read_chain(argv[optind + 2]);
        if (r < 0 || !chain || pkey_signer_load(argv[optind + 1], scheme, &key) < 0) {
                fprintf(stderr, "cannot load the certificate, chain or key\n");
                return 1;
        }
        if (image_path) {
                PdfImageProblem problem = PDF_IMAGE_OK;

                if (pdf_image_from_png_file(image_path, PDF_IMAGE_REQUIRE_ALPHA, &image, &problem) < 0) {
                        fprintf(stderr, "cannot use %s: %s\n", image_path,
                                strna(pdf_image_problem_to_string(problem)));
                        return 1;
                }
                v.image = image;
        }
        v.lines = lines;
        o.visible = &v;
        in = open(argv[optind + 3], O_RDONLY | O_CLOEXEC);
        if (in < 0) {
                fprintf(stderr, "cannot open %s: %m\n", argv[optind + 3]);
                return 1;
        }
        r = pdf_document_open_fd(in, &doc, &refusal, &e);
        if (r < 0) {
                if (refusal != PDF_REFUSAL_NONE) {
                        printf("refused %s: %s (%s)\n", pdf_refusal_to_string(refusal), strna(e.message),
                               pdf_refusal_advice(refusal));
                        r = 2;
                } else {
                        fprintf(stderr, "cannot open the PDF: %s: %s\n", strerror(-r), strna(e.message));
                        r = 1;
                }
                goto finish;
        }

        SignParams params = { .cert = cert, .chain = chain, .digest_nid = digest, .scheme = scheme };
        r = pades_prepare(&params, &o, doc, &p, &e);
        if (r >= 0)
                r = sign_pending_tbs(p, &tbs, &tbs_size);
        if (r >= 0)
                r = pkey_signer_sign(&key, tbs, tbs_size, digest, &sig, &sig_size);
        if (r >= 0)
                r = sign_pending_set_signature(p, sig, sig_size, &e);
        if (r >= 0)
                r = sign_pending_finish(p, NULL, 0, &update, &update_size, &e);
        if (r >= 0) {
                out = open(argv[optind + 4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                r = out < 0 ? -errno : pdf_document_write_original(doc, out);
        }
        if (r >= 0)
                r = loop_write(out, update, update_size);
        if (r >= 0 && dss)
                r = append_dss(p, cert, chain, out, &e);
        if (r < 0) {
                fprintf(stderr, "signing failed: %s: %s\n", strerror(-r), strna(e.message));
                r = 1;
        } else {
                printf("signed xref=%s revisions=%u signatures=%zu\n",
                       pdf_xref_kind_to_string(pdf_document_info(doc)->xref_kind),
                       pdf_document_info(doc)->revisions, pdf_document_info(doc)->n_signatures);
                r = 0;
        }
finish:
        sign_error_done(&e);
        pkey_signer_done(&key);
        return r;
}
