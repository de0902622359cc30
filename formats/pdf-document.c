/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stub: the contract is in pdf-document.h; the implementation follows. */
#include <errno.h>
#include <string.h>

#include "pdf-document.h"

bool pdf_looks_like_pdf(const void *data, size_t size) {
        return data && memmem(data, size < 1024 ? size : 1024, "%PDF-", 5);
}

int pdf_document_open_fd(int fd, PdfDocument **ret, PdfRefusal *ret_refusal, SignError *e) {
        return -EOPNOTSUPP;
}

int pdf_document_open_memory(
        const void *data, size_t size, PdfDocument **ret, PdfRefusal *ret_refusal, SignError *e) {
        return -EOPNOTSUPP;
}

PdfDocument *pdf_document_free(PdfDocument *d) {
        return NULL;
}
