/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* A private dbus-daemon --session for tests, in its own temporary folder (socket, config, service folder),
 * which lets any uid connect (for the "another uid is refused" tests). Header-only: tests include it. */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "macro.h"

typedef struct PrivateBus {
        char dir[64];
        char address[512];
        pid_t pid;
} PrivateBus;

static inline int private_bus_start(PrivateBus *b, const char *servicedir) {
        char config[128], buf[512];
        int pipefd[2];
        FILE *f;
        ssize_t n;
        size_t got = 0;

        *b = (PrivateBus){ .pid = -1 };
        snprintf(b->dir, sizeof b->dir, "/tmp/kyso-bus-XXXXXX");
        if (!mkdtemp(b->dir))
                return -errno;
        (void) chmod(b->dir, 0755); /* a test client that dropped to "nobody" must reach the socket */
        snprintf(config, sizeof config, "%s/bus.conf", b->dir);
        f = fopen(config, "we");
        if (!f)
                return -errno;
        fprintf(f,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n  <type>session</type>\n  <listen>unix:path=%s/bus</listen>\n"
                "  <auth>EXTERNAL</auth>\n%s%s%s"
                "  <policy context=\"default\">\n    <allow user=\"*\"/>\n    <allow own=\"*\"/>\n"
                "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow eavesdrop=\"true\"/>\n"
                "  </policy>\n"
                "  <limit name=\"max_connections_per_user\">1000</limit>\n"
                "  <limit name=\"max_completed_connections\">1000</limit>\n"
                "</busconfig>\n",
                b->dir, servicedir ? "  <servicedir>" : "", strempty(servicedir),
                servicedir ? "</servicedir>\n" : "");
        fclose(f);

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        b->pid = fork();
        if (b->pid < 0)
                return -errno;
        if (b->pid == 0) {
                char fdarg[32], cfgarg[200];
                int fd = dup(pipefd[1]); /* without O_CLOEXEC */
                snprintf(fdarg, sizeof fdarg, "--print-address=%d", fd);
                snprintf(cfgarg, sizeof cfgarg, "--config-file=%s", config);
                execlp("dbus-daemon", "dbus-daemon", cfgarg, "--nofork", "--nopidfile", fdarg,
                       (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        while (got < sizeof buf - 1 && (n = read(pipefd[0], buf + got, sizeof buf - 1 - got)) > 0) {
                got += (size_t) n;
                if (memchr(buf, '\n', got))
                        break;
        }
        close(pipefd[0]);
        buf[got] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (got == 0 || buf[0] == '\0')
                return -EIO;
        snprintf(b->address, sizeof b->address, "%s", buf);
        return 0;
}

static inline void private_bus_stop(PrivateBus *b) {
        char cmd[128];

        if (b->pid > 0) {
                (void) kill(b->pid, SIGTERM);
                (void) waitpid(b->pid, NULL, 0);
                b->pid = -1;
        }
        if (b->dir[0]) {
                snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", b->dir);
                (void) system(cmd);
                b->dir[0] = '\0';
        }
}
