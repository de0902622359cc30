/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "i18n.h"
#include "pdf-verify.h"
#include "string-table.h"

static const char *const pdf_signature_problem_table[_PDF_SIGNATURE_PROBLEM_MAX] = {
        [PDF_SIGNATURE_OK] = "ok",
        [PDF_SIGNATURE_UNSUPPORTED_SUBFILTER] = "unsupported-subfilter",
        [PDF_SIGNATURE_CONTENTS_MISSING] = "contents-missing",
        [PDF_SIGNATURE_BYTE_RANGE_MISSING] = "byte-range-missing",
        [PDF_SIGNATURE_BYTE_RANGE_MALFORMED] = "byte-range-malformed",
        [PDF_SIGNATURE_BYTE_RANGE_GAP] = "byte-range-gap",
        [PDF_SIGNATURE_NOT_AT_REVISION_END] = "not-at-revision-end",
        [PDF_SIGNATURE_REVISION_UNREADABLE] = "revision-unreadable",
        [PDF_SIGNATURE_CMS_MALFORMED] = "cms-malformed",
        [PDF_SIGNATURE_CMS_INVALID] = "cms-invalid",
        [PDF_SIGNATURE_DOCMDP_VIOLATION] = "docmdp-violation",
        [PDF_SIGNATURE_DISALLOWED_CHANGE] = "disallowed-change",
};
DEFINE_STRING_TABLE_LOOKUP(pdf_signature_problem, PdfSignatureProblem);

static const char *const pdf_document_problem_table[_PDF_DOCUMENT_PROBLEM_MAX] = {
        [PDF_DOCUMENT_OK] = "ok",
        [PDF_DOCUMENT_NOT_PDF] = "not-pdf",
        [PDF_DOCUMENT_DAMAGED] = "damaged",
        [PDF_DOCUMENT_ENCRYPTED] = "encrypted",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_document_problem, PdfDocumentProblem);

static const char *const pdf_sub_filter_table[_PDF_SUBFILTER_MAX] = {
        [PDF_SUBFILTER_CADES_DETACHED] = "ETSI.CAdES.detached",
        [PDF_SUBFILTER_PKCS7_DETACHED] = "adbe.pkcs7.detached",
        [PDF_SUBFILTER_RFC3161] = "ETSI.RFC3161",
        [PDF_SUBFILTER_PKCS7_SHA1] = "adbe.pkcs7.sha1",
        [PDF_SUBFILTER_OTHER] = "other",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_sub_filter, PdfSubFilter);

static const char *const pdf_signature_kind_table[_PDF_SIGNATURE_KIND_MAX] = {
        [PDF_SIGNATURE_APPROVAL] = "approval",
        [PDF_SIGNATURE_CERTIFICATION] = "certification",
        [PDF_SIGNATURE_TIMESTAMP] = "timestamp",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_signature_kind, PdfSignatureKind);

const char *pdf_signature_problem_message(PdfSignatureProblem p) {
        switch (p) {
        case PDF_SIGNATURE_OK:
                return _("The signed part of the PDF is intact and nothing added later changes it.");
        case PDF_SIGNATURE_UNSUPPORTED_SUBFILTER:
                return _("The signature uses a format that is not accepted (adbe.pkcs7.sha1 or unknown).");
        case PDF_SIGNATURE_CONTENTS_MISSING:
                return _("The signature has no signature value (/Contents is missing or empty).");
        case PDF_SIGNATURE_BYTE_RANGE_MISSING:
                return _("The signature does not say which bytes it signs (/ByteRange is missing).");
        case PDF_SIGNATURE_BYTE_RANGE_MALFORMED:
                return _("The signature's byte range is malformed or lies outside the file.");
        case PDF_SIGNATURE_BYTE_RANGE_GAP:
                return _("The bytes left out of the signature are not exactly its signature value: the "
                         "signature was moved or wrapped.");
        case PDF_SIGNATURE_NOT_AT_REVISION_END:
                return _("The signature does not end at the end of a version of the document.");
        case PDF_SIGNATURE_REVISION_UNREADABLE:
                return _("The version of the document that was signed cannot be read.");
        case PDF_SIGNATURE_CMS_MALFORMED:
                return _("The signature value is damaged and cannot be read.");
        case PDF_SIGNATURE_CMS_INVALID:
                return _("The signature value does not verify over the signed part of the PDF.");
        case PDF_SIGNATURE_DOCMDP_VIOLATION:
                return _(
                        "The document was changed after it was certified, which the certification forbids.");
        case PDF_SIGNATURE_DISALLOWED_CHANGE:
                return _("The document was changed after it was signed (content, pages or other parts).");
        default:
                return _("Unknown problem.");
        }
}

const char *pdf_document_problem_message(PdfDocumentProblem p) {
        switch (p) {
        case PDF_DOCUMENT_OK:
                return _("The PDF can be read.");
        case PDF_DOCUMENT_NOT_PDF:
                return _("The file is not a PDF.");
        case PDF_DOCUMENT_DAMAGED:
                return _("The PDF is damaged: re-save it from its application.");
        case PDF_DOCUMENT_ENCRYPTED:
                return _("The PDF is encrypted: remove the password first.");
        default:
                return _("Unknown problem.");
        }
}

/* Stub until the implementation lands: the contract is in pdf-verify.h. */
int pdf_verify(const void *data, size_t size, PdfVerifyResult **ret) {
        if (!data || !ret)
                return -EINVAL;
        (void) size;
        return -EOPNOTSUPP;
}

int pdf_verify_fd(int fd, PdfVerifyResult **ret) {
        if (fd < 0 || !ret)
                return -EINVAL;
        return -EOPNOTSUPP;
}

PdfVerifyResult *pdf_verify_result_free(PdfVerifyResult *r) {
        free(r);
        return NULL;
}
