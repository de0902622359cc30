/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kyso-p11-helper: started by kysod, one per PKCS#11 module, with the protocol socket on fd 3 (or --fd).
 * It loads exactly the module it is given, serves requests until the socket closes, and exits. */
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>

#include "config.h"
#include "hardening.h"
#include "log.h"
#include "macro.h"
#include "p11-helper.h"

static void help(void) {
        printf("Usage: kyso-p11-helper --module PATH [--fd N]\n"
               "Serves the kyso PKCS#11 protocol for one module on the socket at fd N (default 3).\n"
               "Started by kysod; not meant to be run by hand.\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "module", required_argument, NULL, 'm' },
                { "fd", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        const char *module = NULL;
        int fd = 3, c, r;
        struct stat st;

        while ((c = getopt_long(argc, argv, "m:f:hV", options, NULL)) >= 0)
                switch (c) {
                case 'm':
                        module = optarg;
                        break;
                case 'f': {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < 0 || v > 1024) {
                                fprintf(stderr, "kyso-p11-helper: bad --fd value.\n");
                                return 2;
                        }
                        fd = (int) v;
                        break;
                }
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("kyso-p11-helper %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return 2;
                }
        if (!module || optind != argc) {
                help();
                return 2;
        }

        log_setup("kyso-p11-helper", LOG_TARGET_AUTO);

        /* PINs pass through this process: no core dumps, no ptrace by the same user. */
        r = harden_process();
        if (r < 0) {
                log_error_errno(r, "Cannot harden the process: %s", strerror(-r));
                return 1;
        }
        if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                log_error("File descriptor %d is not a socket: kyso-p11-helper is started by kysod.", fd);
                return 2;
        }
        /* The agent going away must end us through EOF or EPIPE, not through a signal mid-call. */
        signal(SIGPIPE, SIG_IGN);

        r = p11_helper_run(fd, module);
        return r < 0 ? 1 : 0;
}
