/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "openssl-util.h"
#include "policy-cache.h"

/* The largest file policy_load() reads (a [trust] certificate file); a larger one is an error either way. */
#define SOURCE_MAX_SIZE (4 * 1024 * 1024)

/* One source as it was: what stat() said, and the SHA-256 of a file's bytes or of a folder's listed names.
 */
typedef struct Seen {
        int error; /* 0, or the negative errno met (a policy.d that does not exist: -ENOENT) */
        struct stat st;
        char sha256[65];
} Seen;

struct PolicyCache {
        uint64_t settle_usec;
        char *path;
        PolicyLoadFlags flags;
        Policy *policy;
        PolicySource *sources;
        Seen *seen;
        size_t n_sources;
};

static void forget(PolicyCache *c) {
        c->policy = policy_free(c->policy);
        policy_sources_free(c->sources, c->n_sources);
        c->sources = NULL;
        c->n_sources = 0;
        c->seen = mfree(c->seen);
        c->path = mfree(c->path);
}

int policy_cache_new(uint64_t settle_usec, PolicyCache **ret) {
        PolicyCache *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        c->settle_usec = settle_usec;
        *ret = c;
        return 0;
}

PolicyCache *policy_cache_free(PolicyCache *c) {
        if (!c)
                return NULL;
        forget(c);
        free(c);
        return NULL;
}

static int see_file(const char *path, Seen *ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *data = NULL;
        size_t size;

        if (fd < 0 || fstat(fd, &ret->st) < 0)
                return negative_errno();
        if (S_ISDIR(ret->st.st_mode))
                return -EISDIR;
        int r = read_full_fd(fd, SOURCE_MAX_SIZE, &data, &size);
        if (r < 0)
                return r;
        return sha256_hex(data, size, ret->sha256);
}

static int see_folder(const PolicySource *s, Seen *ret) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        if (stat(s->path, &ret->st) < 0)
                return negative_errno();
        r = policy_list_folder(s->path, s->suffixes, &names);
        if (r < 0)
                return r;
        STRV_FOREACH (n, names) {
                size_t l = strlen(*n) + 1;
                char *t = realloc(text, len + l + 1);
                if (!t)
                        return -ENOMEM;
                text = t;
                memcpy(text + len, *n, l - 1);
                text[len + l - 1] = '\n';
                len += l;
        }
        return sha256_hex(strempty(text), len, ret->sha256);
}

/* -ENOMEM, or 0 with ret filled (a source that cannot be read is a state too: ret->error). */
static int see(const PolicySource *s, Seen *ret) {
        int r;

        *ret = (Seen){};
        switch (s->kind) {
        case POLICY_SOURCE_OWNER:
                r = stat(s->path, &ret->st) < 0 ? negative_errno() : 0;
                break;
        case POLICY_SOURCE_FILE:
                r = see_file(s->path, ret);
                break;
        case POLICY_SOURCE_FOLDER:
                r = see_folder(s, ret);
                break;
        default:
                r = -EINVAL;
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret = (Seen){ .error = r };
                return 0;
        }
        return 0;
}

static bool same_time(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* What policy_load() depends on: the owner checks (owner, group, mode), which object it is, and for a file
 * its bytes (with its size and times besides, which a change of the bytes moves too); for a folder the names
 * it lists, not its times (an editor's hidden swap file there changes nothing). */
static bool same(PolicySourceKind kind, const Seen *a, const Seen *b) {
        if (a->error != b->error)
                return false;
        if (a->error < 0)
                return true;
        if (a->st.st_dev != b->st.st_dev || a->st.st_ino != b->st.st_ino || a->st.st_mode != b->st.st_mode ||
            a->st.st_uid != b->st.st_uid || a->st.st_gid != b->st.st_gid)
                return false;
        if (kind == POLICY_SOURCE_OWNER)
                return true;
        if (kind == POLICY_SOURCE_FILE &&
            (a->st.st_size != b->st.st_size || !same_time(&a->st.st_mtim, &b->st.st_mtim) ||
             !same_time(&a->st.st_ctim, &b->st.st_ctim)))
                return false;
        return streq(a->sha256, b->sha256);
}

static uint64_t timespec_usec(const struct timespec *t) {
        return t->tv_sec < 0 ? 0 : (uint64_t) t->tv_sec * 1000000 + (uint64_t) t->tv_nsec / 1000;
}

static uint64_t now_usec(void) {
        struct timespec t;
        (void) clock_gettime(CLOCK_REALTIME, &t);
        return timespec_usec(&t);
}

static bool unchanged(PolicyCache *c) {
        for (size_t i = 0; i < c->n_sources; i++) {
                Seen now;
                if (see(&c->sources[i], &now) < 0)
                        return false;
                if (!same(c->sources[i].kind, &c->seen[i], &now)) {
                        log_debug("The signing policy is read again: %s changed.", c->sources[i].path);
                        return false;
                }
        }
        return true;
}

/* Keeps p for the next call when it is known to be made of what the sources hold now: no file or listed
 * folder was changed within settle_usec before the load began (else a change during the load could leave
 * the same times, on a file system with coarse timestamps, and the bytes seen now need not be the bytes
 * parsed), the policy files hold the bytes policy_load() hashed, and each folder whose owner alone was
 * checked passes the check now (its times move with every file made in it, which changes nothing). */
static int not_kept(const char *path, const char *why) {
        log_debug("The signing policy is read again for the next request: %s %s.", path, why);
        return 0;
}

static int keep(PolicyCache *c, const char *path, PolicyLoadFlags flags, Policy *p, uint64_t start_usec) {
        size_t n_files = strv_length(p->files), f = 0;
        int r;

        forget(c);
        r = policy_sources(p, path, &c->sources, &c->n_sources);
        if (r < 0)
                return r;
        c->seen = calloc(MAX(c->n_sources, 1u), sizeof *c->seen);
        if (!c->seen)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_sources; i++) {
                Seen *s = &c->seen[i];
                r = see(&c->sources[i], s);
                if (r < 0)
                        return r;
                if (c->sources[i].kind == POLICY_SOURCE_OWNER) {
                        if (s->error < 0 || (!(flags & POLICY_LOAD_INSECURE_SKIP_OWNER_CHECK) &&
                                             !policy_owner_acceptable(&s->st)))
                                return not_kept(c->sources[i].path, "its owner or mode changed");
                        continue;
                }
                if (s->error == 0 && timespec_usec(&s->st.st_ctim) + c->settle_usec >= start_usec)
                        return not_kept(c->sources[i].path, "changed just before it was read");
                /* The main file and the drop-ins come first among the files, in the order they were read. */
                if (c->sources[i].kind == POLICY_SOURCE_FILE && f < n_files &&
                    !streq(s->sha256, p->file_sha256[f++]))
                        return not_kept(c->sources[i].path, "changed while it was read");
        }
        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;
        c->flags = flags;
        c->policy = policy_ref(p);
        return 0;
}

int policy_cache_load(
        PolicyCache *c, const char *path, PolicyLoadFlags flags, Policy **ret, char ***ret_errors) {
        _cleanup_(policy_freep) Policy *p = NULL;
        uint64_t start;
        int r;

        if (!c)
                return policy_load(path, flags, ret, ret_errors);
        if (!path)
                path = POLICY_SYSTEM_PATH;
        if (c->policy && streq(c->path, path) && c->flags == flags && unchanged(c)) {
                *ret = policy_ref(c->policy);
                return 0;
        }

        start = now_usec();
        r = policy_load(path, flags, &p, ret_errors);
        if (r < 0) {
                forget(c);
                return r;
        }
        r = keep(c, path, flags, p, start);
        if (r < 0 || !c->policy)
                forget(c); /* loaded, not kept: the next call loads again */
        *ret = TAKE_PTR(p);
        return 0;
}
