/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes everything signing reads of an untrusted PDF: pdf_document_open_memory() (qpdf with recovery off,
 * the tail and cross-reference kind read by hand, the form and page taken out as text), then the whole
 * signature over it: pades_prepare() (the update writer, the hash of the ranges), a signature by a key made
 * once, sign_pending_finish() and pades_append_dss(). The seed corpus holds small PDFs of each kind:
 * tables, a cross-reference stream, a form, a signed file, a file with a DSS. Then a visible signature on
 * page 1 (the page read again, its boxes and /Rotate resolved, the appearance in the update) and the
 * signed widgets' pages. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "formats/pades-sign.h"
#include "openssl-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;
static X509 *cert;

/* An ECDSA P-256 key and a self-signed certificate, made once per process. */
static int make_signer(void) {
        X509_NAME *name;

        if (cert)
                return 0;
        key = EVP_EC_gen("P-256");
        cert = X509_new();
        if (!key || !cert)
                return -1;
        name = X509_get_subject_name(cert);
        if (X509_set_version(cert, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) != 1 ||
            !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
            !X509_gmtime_adj(X509_getm_notAfter(cert), 3600) ||
            X509_NAME_add_entry_by_txt(
                    name, "CN", MBSTRING_ASC, (const unsigned char *) "fuzz", -1, -1, 0) != 1 ||
            X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1 ||
            X509_sign(cert, key, EVP_sha256()) <= 0)
                return -1;
        return 0;
}

static void sign_and_finish(SignPending *p) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
        _cleanup_free_ uint8_t *update = NULL, *dss_update = NULL, *cert_der = NULL;
        uint8_t sig[256];
        size_t sig_size = sizeof sig, update_size = 0, dss_size = 0;
        const uint8_t *tbs;
        size_t tbs_size;
        unsigned char *der = NULL;
        SignError e = {};
        int n;

        if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 || sign_pending_tbs(p, &tbs, &tbs_size) < 0 ||
            EVP_PKEY_sign(ctx, sig, &sig_size, tbs, tbs_size) <= 0)
                abort();
        if (sign_pending_set_signature(p, sig, sig_size, &e) < 0 ||
            sign_pending_finish(p, NULL, 0, &update, &update_size, &e) < 0)
                abort(); /* a document that prepared must sign */

        n = i2d_X509(cert, &der);
        if (n <= 0)
                abort();
        cert_der = memdup(der, (size_t) n);
        OPENSSL_free(der);
        if (!cert_der)
                abort();
        PadesBlob blob = { .data = cert_der, .size = (size_t) n };
        PadesDss dss = { .certs = &blob, .n_certs = 1, .vri = true };
        if (pades_append_dss(p, &dss, &dss_update, &dss_size, &e) < 0)
                abort();
        sign_error_done(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(pdf_document_freep) PdfDocument *doc = NULL;
        _cleanup_(sign_pending_freep) SignPending *p = NULL;
        PdfRefusal refusal = PDF_REFUSAL_NONE;
        PadesOptions o = { .reason = "Phê duyệt", .location = "Hà Nội" };
        SignError e = {};
        int r;

        if (make_signer() < 0)
                abort();
        r = pdf_document_open_memory(data, size, &doc, &refusal, &e);
        sign_error_done(&e);
        if (r < 0) {
                /* A refusal names its reason. */
                if (refusal != PDF_REFUSAL_NONE && !pdf_refusal_advice(refusal))
                        abort();
                return 0;
        }

        SignParams params = { .cert = cert, .digest_nid = NID_sha256, .scheme = CMS_SIGNATURE_ECDSA };
        r = pades_prepare(&params, &o, doc, &p, &e);
        sign_error_done(&e);
        /* Only the shapes the writer does not handle (an object shared between /Fields and /Annots) and
         * files at the size limit may fail here. */
        if (r < 0) {
                if (r != -EOPNOTSUPP && r != -EFBIG && r != -E2BIG)
                        abort();
                return 0;
        }
        sign_and_finish(p);
        p = sign_pending_free(p);

        /* The signed widgets name pages that exist, with normalized rectangles. */
        const PdfDocumentInfo *info = pdf_document_info(doc);
        for (size_t i = 0; i < info->n_signed_widgets; i++) {
                const PdfSignedWidget *w = &info->signed_widgets[i];
                if (w->page >= info->n_pages || !(w->rect[0] < w->rect[2]) || !(w->rect[1] < w->rect[3]))
                        abort();
        }

        static uint8_t samples[2 * 2 * 3] = { 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255 };
        static const PdfImage image = { .width = 2, .height = 2, .channels = 3, .samples = samples };
        PadesVisible v = { .placement = PADES_PLACEMENT_RECT, .rect = { 10, 10, 40, 20 }, .image = &image };
        o.visible = &v;
        r = pades_prepare(&params, &o, doc, &p, &e);
        sign_error_done(&e);
        /* Besides the above: a page 1 kyso cannot place a widget on, or that qpdf cannot read again. */
        if (r < 0) {
                if (r != -EOPNOTSUPP && r != -EFBIG && r != -E2BIG && r != -EBADMSG)
                        abort();
                return 0;
        }
        sign_and_finish(p);
        return 0;
}
