/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>

#include "openssl-util.h"

char *openssl_error_string(void) {
        unsigned long e, last = 0;
        char buf[256];

        while ((e = ERR_get_error()) != 0)
                last = e;
        if (last == 0)
                return NULL;
        ERR_error_string_n(last, buf, sizeof buf);
        return strdup(buf);
}

int sha256_hex(const void *data, size_t size, char ret[static 65]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (EVP_Digest(data, size, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
                return -EIO;
        hex_encode(md, n, ret);
        return 0;
}

int x509_read_pem_file(const char *path, X509 **ret) {
        FILE *f = fopen(path, "re");
        X509 *x;

        if (!f)
                return -errno;
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        if (!x)
                return -EBADMSG;
        *ret = x;
        return 0;
}

char *x509_subject_entry(X509 *x, int nid) {
        X509_NAME *n = X509_get_subject_name(x);
        int i = X509_NAME_get_index_by_NID(n, nid, -1);
        unsigned char *u = NULL;
        char *s;
        int len;

        if (i < 0)
                return NULL;
        len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
        if (len < 0)
                return NULL;
        s = strndup((const char *) u, (size_t) len);
        OPENSSL_free(u);
        return s;
}

int asn1_time_to_unix(const ASN1_TIME *t, time_t *ret) {
        struct tm tm = {};

        if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
                return -EBADMSG;
        *ret = timegm(&tm);
        return 0;
}

time_t asn1_time_seconds(const ASN1_TIME *t) {
        time_t s;
        return asn1_time_to_unix(t, &s) < 0 ? (time_t) -1 : s;
}

int openssl_der_take(unsigned char *der, int len, uint8_t **ret, size_t *ret_size) {
        uint8_t *copy;

        if (len <= 0 || !der) {
                OPENSSL_free(der);
                return -ENOMEM;
        }
        copy = memdup(der, (size_t) len);
        OPENSSL_free(der);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        *ret_size = (size_t) len;
        return 0;
}
