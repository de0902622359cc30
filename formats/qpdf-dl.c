/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define QPDF_DL_IMPLEMENTATION
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "qpdf-dl.h"

#ifndef QPDF_SONAME
#        define QPDF_SONAME "libqpdf.so.29"
#endif

#define QPDF_DL_DEFINE(f) typeof(f) *sym_##f;
QPDF_DL_FUNCTIONS(QPDF_DL_DEFINE)
#undef QPDF_DL_DEFINE

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -EOPNOTSUPP;

static void load(void) {
        /* Never unloaded: the pointers stay valid for the life of the process. */
        void *dl = dlopen(QPDF_SONAME, RTLD_NOW | RTLD_NODELETE);

        if (!dl)
                return;
#define QPDF_DL_LOAD(f)                        \
        sym_##f = (typeof(f) *) dlsym(dl, #f); \
        if (!sym_##f)                          \
                return;
        QPDF_DL_FUNCTIONS(QPDF_DL_LOAD)
#undef QPDF_DL_LOAD
        loaded = 0;
}

int qpdf_dl_open(void) {
        (void) pthread_once(&once, load);
        return loaded;
}

qpdf_data qpdf_dl_init(void) {
        return qpdf_dl_open() < 0 ? NULL : sym_qpdf_init();
}
