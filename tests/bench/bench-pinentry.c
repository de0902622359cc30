/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/agent/scripted-pinentry in C, for tests/bench/run-latency.sh: the same Assuan dialogue, the same
 * script and log files, the same answers. The bash script starts bash (and env) and reads its socket a byte
 * per system call, which the benchmark would count on kyso's side; real pinentries are C programs that read
 * in blocks. Answers, one per line of $KYSO_TEST_PINENTRY_SCRIPT, taken (and removed) for each CONFIRM,
 * GETPIN or MESSAGE; every line received is appended to $KYSO_TEST_PINENTRY_LOG:
 *   confirm yes | confirm no | confirm cancel     OK / ERR "not confirmed" / ERR "cancelled"
 *   pin DATA                                      "D DATA" then OK (DATA is sent as written: escape it)
 *   err CODE                                      "ERR CODE"
 *   delay SECONDS ANSWER                          waits, then answers ANSWER
 *   hang                                          never answers (becomes `sleep`, same pid)
 *   stubborn                                      never answers and ignores SIGINT and SIGTERM
 *   crash                                         dies from SIGKILL without answering
 *   garbage                                       a line that is not Assuan */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *script;
static int log_fd = -1;

static void log_line(const char *line) {
        if (log_fd >= 0 && (write(log_fd, line, strlen(line)) < 0 || write(log_fd, "\n", 1) < 0))
                perror("bench-pinentry: log");
}

/* The script's first line (without its newline; "" when there is none); the rest is written back. */
static char *take_answer(void) {
        char buf[65536], *nl;
        ssize_t n = 0, k;
        int fd = open(script, O_RDONLY | O_CLOEXEC);

        if (fd >= 0) {
                while (n < (ssize_t) sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
                        n += k;
                close(fd);
        }
        buf[n] = '\0';
        nl = strchr(buf, '\n');
        fd = open(script, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                perror("bench-pinentry: script");
                exit(1);
        }
        /* As the script's `printf '%s\n' "${lines[@]:1}"`: each remaining line, newline-terminated. */
        if (nl && nl[1] != '\0') {
                size_t rest = strlen(nl + 1);
                if (write(fd, nl + 1, rest) < 0 || (nl[rest] != '\n' && write(fd, "\n", 1) < 0))
                        perror("bench-pinentry: script");
        }
        close(fd);
        if (nl)
                *nl = '\0';
        return strdup(buf);
}

static void answer(const char *a) {
        if (strcmp(a, "confirm yes") == 0)
                puts("OK");
        else if (strcmp(a, "confirm no") == 0)
                puts("ERR 83886194 Not confirmed <Pinentry>");
        else if (strcmp(a, "confirm cancel") == 0)
                puts("ERR 83886179 Operation cancelled <Pinentry>");
        else if (strncmp(a, "pin ", 4) == 0)
                printf("D %s\nOK\n", a + 4);
        else if (strncmp(a, "err ", 4) == 0)
                printf("ERR %s Error <Pinentry>\n", a + 4);
        else if (strncmp(a, "delay ", 6) == 0) {
                const char *rest = a + 6, *sp = strchr(rest, ' ');
                double s = strtod(rest, NULL);
                struct timespec ts = { (time_t) s, (long) ((s - (double) (time_t) s) * 1e9) };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                answer(sp ? sp + 1 : rest);
                return;
        } else if (strcmp(a, "hang") == 0 || strcmp(a, "stubborn") == 0) {
                if (strcmp(a, "stubborn") == 0) {
                        signal(SIGINT, SIG_IGN);
                        signal(SIGTERM, SIG_IGN);
                }
                fflush(stdout);
                execlp("sleep", "sleep", "1000", (char *) NULL);
                _exit(127);
        } else if (strcmp(a, "crash") == 0)
                kill(getpid(), SIGKILL);
        else if (strcmp(a, "garbage") == 0)
                puts("HELLO THERE");
        else {
                fprintf(stderr, "scripted-pinentry: unknown answer '%s'\n", a);
                puts("ERR 83886081 General error <Pinentry>");
        }
}

int main(void) {
        const char *log = getenv("KYSO_TEST_PINENTRY_LOG");
        char line[4096], start[64];

        script = getenv("KYSO_TEST_PINENTRY_SCRIPT");
        if (!script || !*script) {
                fprintf(stderr, "bench-pinentry: KYSO_TEST_PINENTRY_SCRIPT is not set\n");
                return 1;
        }
        if (log && *log)
                log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        snprintf(start, sizeof start, "START pid=%d", (int) getpid());
        log_line(start);

        puts("OK Pleased to meet you");
        fflush(stdout);
        while (fgets(line, sizeof line, stdin)) {
                line[strcspn(line, "\n")] = '\0';
                size_t len = strlen(line);
                if (len > 0 && line[len - 1] == '\r')
                        line[len - 1] = '\0';
                log_line(line);
                if (strncmp(line, "CONFIRM", 7) == 0 || strncmp(line, "GETPIN", 6) == 0 ||
                    strncmp(line, "MESSAGE", 7) == 0) {
                        char *a = take_answer();
                        answer(a ? a : "");
                        free(a);
                } else if (strncmp(line, "BYE", 3) == 0) {
                        puts("OK closing connection");
                        return 0;
                } else
                        puts("OK");
                fflush(stdout);
        }
        return 0;
}
