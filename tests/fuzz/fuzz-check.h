/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* check(x): a fuzzer's invariant. Unlike assert() it stays in release builds, and it aborts, which both the
 * suite's driver (tests/fuzz/fuzz-main.c) and libFuzzer report as a crash with the input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define check(x)                                                                                    \
        do {                                                                                        \
                if (!(x)) {                                                                         \
                        fprintf(stderr, "%s: %s:%d: %s\n", program_invocation_short_name, __FILE__, \
                                __LINE__, #x);                                                      \
                        abort();                                                                    \
                }                                                                                   \
        } while (0)
