/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "hardening.h"
#include "macro.h"

int harden_process(void) {
        struct rlimit rl = { 0, 0 };

        if (setrlimit(RLIMIT_CORE, &rl) < 0)
                return negative_errno();
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return negative_errno();
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return negative_errno();
        return 0;
}
