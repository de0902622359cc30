/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The fixture time-stamp server (tests/fixtures/kyso-test-server.py tsa) on 127.0.0.1 for the formats/
 * tests, over the PKI of fixtures_setup() (formats-test.h): started per test, stopped by tsa_teardown. */

#include <signal.h>
#include <sys/wait.h>

#include "formats-test.h"

static pid_t tsa_pid = 0;
static char tsa_url[128];

/* flag: NULL, "--wrong-imprint" or "--bad-status" (see tests/fixtures/README.md). */
static void tsa_start(const char *flag) {
        const char *server = getenv("KYSO_TEST_SERVER");
        char portfile[700];
        _cleanup_free_ uint8_t *port = NULL;
        size_t size = 0;

        assert_non_null(server);
        snprintf(portfile, sizeof portfile, "%s/tsa-%s.port", test_dir, flag ? flag + 2 : "ok");
        unlink(portfile);
        tsa_pid = fork();
        assert_true(tsa_pid >= 0);
        if (tsa_pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0)
                        dup2(null, STDERR_FILENO);
                execlp("python3", "python3", server, "tsa", "--pki", pki_dir, "--port-file", portfile, flag,
                       (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 200; i++) {
                free(port);
                port = NULL;
                if (access(portfile, F_OK) == 0) {
                        read_all(portfile, &port, &size);
                        if (size > 0 && port[size - 1] == '\n')
                                break;
                }
                usleep(50 * 1000);
        }
        assert_non_null(port);
        snprintf(tsa_url, sizeof tsa_url, "http://127.0.0.1:%d/tsa", atoi((char *) port));
}

static void tsa_stop(void) {
        if (tsa_pid > 0) {
                kill(tsa_pid, SIGTERM);
                (void) waitpid(tsa_pid, NULL, 0);
        }
        tsa_pid = 0;
}

static int tsa_teardown(void **state) {
        tsa_stop();
        return 0;
}
