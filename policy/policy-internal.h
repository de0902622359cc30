/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What the files of the policy reader share, not for callers outside policy/: error collection, the owner
 * checks, folder listing (policy.c), the trust store (trust-store.c), the classification words. */

#include <openssl/x509.h>
#include <stdbool.h>

#include "policy.h"

#define POLICY_MAX_DROPINS 256

/* Appends "FILE:LINE: message" ("FILE: message" when line is 0) to *errors (when errors is not NULL).
 * Returns 0 or -ENOMEM. */
_printf_(4, 5) int policy_add_error(
        char ***errors, const char *file, unsigned line, const char *format, ...);

/* The person at the desk must not be able to loosen the policy: a file or folder it is read from must be
 * owned by root and writable by nobody else. Returns 0 when it is, 1 after adding an error when it is not,
 * -ENOMEM. With POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK a file that fails the check is accepted (0) with a
 * warning logged each time. */
int policy_check_owner_fd(int fd, const char *path, PolicyLoadFlags flags, char ***errors);
int policy_check_owner_path(const char *path, PolicyLoadFlags flags, char ***errors);

/* The files a [trust] folder is read for. */
extern const char *const trust_store_suffixes[];

/* Loads the certificates of path (a PEM or DER file, or a folder of them) into out; with need_ca each must
 * be a CA. Problems are errors at cfile:line; returns 0 or -ENOMEM. */
int trust_store_load_path(
        const char *path, STACK_OF(X509) * out, bool need_ca, const char *cfile, unsigned line,
        PolicyLoadFlags flags, char ***errors);

/* The final checks of the switches that exist only in test builds (KYSO_TEST_SWITCHES, see
 * policy-keys.c); nothing in kysod and kysoctl. Appends errors; 0 or -ENOMEM. */
int policy_test_switches_finish(Policy *p, const char *main, char ***errors);

/* The words refused by default ([classification] adds to them). NULL on OOM. */
char **classification_default_words(void);
/* 1 when v holds a letter or a digit once folded (so it can match a word), 0 when not, -ENOMEM. */
int classification_word_valid(const char *v);
