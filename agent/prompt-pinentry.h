/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PinentryPrompter: the default Prompter. Each prompt runs one `pinentry` process (the program is
 * configurable) and speaks the Assuan protocol with it over a socket on the caller's sd-event loop. */

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "prompt.h"

typedef struct PinentryConfig {
        const char *program;   /* path, or a name looked up in $PATH; NULL: "pinentry" */
        uint64_t timeout_usec; /* a prompt open longer is closed and reported as -ETIMEDOUT; 0: 60 s */
        const char *ttyname;   /* for terminal pinentries; NULL: $GPG_TTY, if set */
        const char *ttytype;   /* NULL: $TERM, if set */
} PinentryConfig;

#define PINENTRY_DEFAULT_PROGRAM "pinentry"
#define PINENTRY_DEFAULT_TIMEOUT_USEC (UINT64_C(60) * 1000000)

/* The prompter keeps a reference to event. The program is started with fork() and execvp() (exec errors
 * come back at once through a pipe, and only async-signal-safe calls run between fork and exec in a
 * threaded agent) with the socket as its stdin and stdout, no other inherited fds, a clean signal mask, and
 * SIGTERM as its parent-death signal: a killed agent leaves no dialog on screen. Children are reaped through
 * a pidfd, so neither a SIGCHLD handler nor a blocked SIGCHLD is needed; nobody else in the process may reap
 * with waitpid(-1). A prompt closed early (cancel, timeout, error) gets SIGINT, which pinentry-tty answers
 * by restoring the terminal; SIGKILL follows 2 s later if the program is still there. Freeing the prompter
 * waits up to 0.5 s per remaining program, then kills it.
 *
 * Errors the handlers can see: -ETIMEDOUT (no answer in time; the program was stopped), -EPIPE (the
 * program exited or crashed before answering), -EPROTO (it broke the protocol), -EIO (it reported an
 * error). Starting a prompt fails with -ENOENT or -EACCES when the program cannot be run (see
 * prompt_text_program_missing() for the message), -EBUSY while another prompt is open. */
int pinentry_prompter_new(sd_event *event, const PinentryConfig *config, Prompter **ret);

/* The program this prompter runs, for messages. */
const char *pinentry_prompter_get_program(Prompter *p);

/* How many pinentry processes this prompter started that have not been reaped yet (for tests). */
unsigned pinentry_prompter_children(Prompter *p);

/* The Assuan protocol, as far as a pinentry client needs it. Exposed for tests and the fuzzer. */

/* Percent-escaping of an argument ('%', CR, LF). */
char *assuan_escape(const char *s);

/* Percent-decoding of len bytes of D-line data into dst: bytes written, -EPROTO for a bad escape or a NUL,
 * -ENOBUFS when dst is too small. */
ssize_t assuan_unescape(const char *s, size_t len, char *dst, size_t dst_size);

typedef enum AssuanResponse {
        ASSUAN_RESPONSE_OK,
        ASSUAN_RESPONSE_ERR,  /* *ret_code: the libgpg-error code (low 16 bits), 0 when missing */
        ASSUAN_RESPONSE_DATA, /* *ret_data, *ret_data_len: the still escaped data, inside line */
        ASSUAN_RESPONSE_STATUS,
        ASSUAN_RESPONSE_COMMENT,
        ASSUAN_RESPONSE_INQUIRE,
        ASSUAN_RESPONSE_UNKNOWN,
} AssuanResponse;

/* Classifies one line from the server (len bytes, without the newline; need not be NUL-terminated). */
AssuanResponse assuan_parse_response(
        const char *line, size_t len, unsigned *ret_code, const char **ret_data, size_t *ret_data_len);
