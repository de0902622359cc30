/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "kysoctl.h"

/* Placeholder until this verb is built; it says so rather than pretending. */
int verb_sign(int argc, char **argv) {
        fprintf(stderr, "kysoctl sign: not available in this build yet.\n");
        return KYSOCTL_EXIT_INTERNAL;
}
