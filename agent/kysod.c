/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "config.h"
#include "macro.h"

int main(int argc, char **argv) {
        if (argc > 1 && streq(argv[1], "--version")) {
                printf("kysod %s\n", PACKAGE_VERSION);
                return 0;
        }
        fprintf(stderr, "kysod: the agent is not built yet.\n");
        return 1;
}
