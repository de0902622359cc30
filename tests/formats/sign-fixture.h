/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The fixture time-stamp server (tests/fixtures/kyso-test-server.py tsa) on 127.0.0.1 for the formats/
 * tests, over the PKI of fixtures_setup() (formats-test.h): started per test, stopped by tsa_teardown. */

#include <signal.h>
#include <sys/wait.h>

#include "formats-test.h"

static int sign_setup(void **state) {
        if (fixtures_setup(state) < 0)
                return -1;
        return random_file("doc.bin", 200000) == 0 ? 0 : -1;
}

static int openssl_verify(const char *sig, const char *content) {
        return run(
                "openssl cms -verify -binary -inform DER -in '%s' -content '%s' -CAfile '%s' -purpose any -out "
                "/dev/null 2>>'%s'",
                tpath(sig), tpath(content), ppath("root+ca.pem"), tpath("openssl.log"));
}

/* The leader's detached signature of doc.bin made by openssl (-md md), and the bytes of its SignerInfo. */
static void leader_signature(
        const char *md, uint8_t **ret, size_t *ret_size, const uint8_t **ret_first, size_t *ret_first_size) {
        assert_int_equal(
                run("cd '%s' && openssl cms -sign -binary -nosmimecap -cades -md %s -signer '%s' -inkey '%s' "
                    "-certfile '%s' -in doc.bin -outform DER -out leader.p7s",
                    test_dir, md, ppath("leader.pem"), ppath("leader.key"), ppath("ca.pem")),
                0);
        read_all(tpath("leader.p7s"), ret, ret_size);
        der_signer_info(*ret, *ret_size, 0, ret_first, ret_first_size);
}

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
