/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/err.h>

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
