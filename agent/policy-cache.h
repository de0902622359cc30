/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PolicyCache: the signing policy kept loaded between requests. It is given out again only while everything
 * policy_load() read to make it is provably the same, so a request never sees an older policy than a fresh
 * policy_load() would give it; otherwise the policy is loaded again. One thread (kysod's loop) uses it.
 *
 * What policy_load() reads, and so what is compared: the main file (its bytes, SHA-256, and its stat:
 * device, inode, type and mode, owner, size, mtime, ctime), the owner and mode of its folder, the *.conf
 * drop-ins listed in policy.d (the list, each drop-in as the main file, the folder's owner and mode), and
 * each [trust] root and intermediate path: a file as the main file, a folder as policy.d (its *.pem, *.crt,
 * *.cer and *.der files). A load is kept for reuse only when nothing it read was changed within settle_usec
 * before it began (ctime): a change during the load would then show as a ctime of at least its start, even
 * on file systems whose timestamps are coarse (up to 2 s), so the bytes compared afterwards are the bytes it
 * parsed. */

#include <stdint.h>

#include "policy/policy.h"

#define POLICY_CACHE_SETTLE_USEC (UINT64_C(3) * 1000000)

typedef struct PolicyCache PolicyCache;

/* settle_usec: POLICY_CACHE_SETTLE_USEC, unless a test wants another (0: any load is kept). */
int policy_cache_new(uint64_t settle_usec, PolicyCache **ret);
PolicyCache *policy_cache_free(PolicyCache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(PolicyCache *, policy_cache_free);

/* policy_load(path, flags, ret, ret_errors), except that the policy loaded before for the same path and
 * flags is returned again (a new reference: policy_free() it) when nothing it was read from changed. A
 * policy that does not load is not kept: the next call tries again. c may be NULL: then it is policy_load().
 */
int policy_cache_load(
        PolicyCache *c, const char *path, PolicyLoadFlags flags, Policy **ret, char ***ret_errors);
