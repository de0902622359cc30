/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PinentryPrompter: the default Prompter. Each prompt runs one `pinentry` process (the program is
 * configurable) and speaks the Assuan protocol with it over a socket on the caller's sd-event loop. */

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

/* The prompter keeps a reference to event. Children are reaped through a pidfd, so neither a SIGCHLD
 * handler nor a blocked SIGCHLD is needed; nobody else in the process may reap with waitpid(-1).
 *
 * Errors the handlers can see: -ETIMEDOUT (no answer in time; the program was killed), -EPIPE (the
 * program exited or crashed before answering), -EPROTO (it broke the protocol), -EIO (it reported an
 * error). Starting a prompt fails with -ENOENT or -EACCES when the program cannot be run (see
 * prompt_text_program_missing() for the message), -EBUSY while another prompt is open. */
int pinentry_prompter_new(sd_event *event, const PinentryConfig *config, Prompter **ret);

/* The program this prompter runs, for messages. */
const char *pinentry_prompter_get_program(Prompter *p);

/* How many pinentry processes this prompter started that have not been reaped yet (for tests). */
unsigned pinentry_prompter_children(Prompter *p);

/* Percent-escaping of an Assuan argument ('%', CR, LF). Exposed for tests. */
char *assuan_escape(const char *s);
