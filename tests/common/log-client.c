/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log-client: logs two messages through common/log.c as kysod does (LOG_TARGET_AUTO): one with extra
 * journal fields, one with an errno. Driven by test-log-journal.sh. */
#include <errno.h>

#include "log.h"

int main(int argc, char **argv) {
        const char *word = argc > 1 ? argv[1] : "none";
        const char *fields[] = { "MESSAGE_ID=5b1c1e2d6c2a4f0e9a3d7b8c9d0e1f20",
                                 "KYSO_TEST_FIELD=field value", NULL };

        log_setup("kyso-log-client", LOG_TARGET_AUTO);
        (void) log_fields(LOG_NOTICE, fields, "structured hello %s", word);
        (void) log_error_errno(-ENOENT, "an error for %s: %m", word);
        return 0;
}
