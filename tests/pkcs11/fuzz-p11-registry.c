/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes p11-kit module registry files (*.module): anything a package or a user put in those folders. The
 * input, cut at form feeds, becomes a system a.module, a user a.module (which overrides it) and a user
 * b.module in a temporary folder; the registry lists them. At most one path per file name comes back, never
 * an empty one, sorted by file name. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fuzz/fuzz-check.h"
#include "fileio.h"
#include "macro.h"
#include "pkcs11/p11-registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/kyso-fuzz-registry-XXXXXX";
static char sys_dir[64], user_dir[64];
static const char *const files[] = { "system/a.module", "user/a.module", "user/b.module" };

static void cleanup(void) {
        char p[128];

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(p, sizeof p, "%s/%s", dir, files[i]);
                (void) unlink(p);
        }
        (void) rmdir(sys_dir);
        (void) rmdir(user_dir);
        (void) rmdir(dir);
}

static void setup(void) {
        check(mkdtemp(dir));
        snprintf(sys_dir, sizeof sys_dir, "%s/system", dir);
        snprintf(user_dir, sizeof user_dir, "%s/user", dir);
        check(mkdir_p(sys_dir, 0700) >= 0 && mkdir_p(user_dir, 0700) >= 0);
        atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *const dirs[] = { sys_dir, user_dir, NULL };
        _cleanup_strv_free_ char **list = NULL;
        size_t off = 0;
        char path[128];
        int r;

        if (!sys_dir[0])
                setup();
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                const uint8_t *ff = off < size ? memchr(data + off, '\f', size - off) : NULL;
                size_t n = ff ? (size_t) (ff - (data + off)) : off < size ? size - off : 0;
                size_t start = off;
                _cleanup_close_ int fd = -EBADF;

                off = ff ? off + n + 1 : size;
                snprintf(path, sizeof path, "%s/%s", dir, files[i]);
                (void) unlink(path);
                /* An empty part is no file at all, so a missing override is covered too. */
                if (i > 0 && n == 0)
                        continue;
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                check(fd >= 0);
                check(n == 0 || write(fd, data + start, n) == (ssize_t) n);
        }

        r = p11_registry_list_modules(dirs, "/usr/lib/pkcs11", &list);
        check(r >= 0 || r == -ENOMEM);
        if (r < 0)
                return 0;
        check(strv_length(list) <= 2);
        for (size_t i = 0; list && list[i]; i++) {
                check(list[i][0] != '\0');
                check(!list[i + 1] || !streq(list[i], list[i + 1]));
        }
        return 0;
}
