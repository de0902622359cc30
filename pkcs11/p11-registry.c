/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <string.h>

#include "alloc-util.h"
#include "fileio.h"
#include "macro.h"
#include "p11-registry.h"
#include "pkcs11/p11-config.h"
#include "string-util.h"

typedef struct Entry {
        char *name; /* file name without .module */
        char *path; /* NULL: disabled by a higher-priority file */
} Entry;

static bool list_has_word(const char *list, const char *word) {
        size_t n = strlen(word);
        for (const char *p = list; *p;) {
                p += strspn(p, ", \t");
                size_t l = strcspn(p, ", \t");
                if (l == n && strneq(p, word, n))
                        return true;
                p += l;
        }
        return false;
}

/* Returns the module path of one .module file, NULL (and 0) when the module is not for kysod. */
static int parse_module_file(const char *file, const char *module_dir, char **ret) {
        _cleanup_free_ char *buf = NULL, *module = NULL;
        bool skip = false, enable_seen = false, enabled = false;
        size_t size;
        int r;

        r = read_full_file(file, 64 * 1024, &buf, &size);
        if (r < 0)
                return r;
        for (char *line = buf, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                line = strstrip(line);
                if (*line == '#' || *line == 0)
                        continue;
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                *colon = 0;
                char *key = strstrip(line), *value = strstrip(colon + 1);
                if (streq(key, "module")) {
                        free(module);
                        module = strdup(value);
                        if (!module)
                                return -ENOMEM;
                } else if (streq(key, "trust-policy") && (streq(value, "yes") || streq(value, "true")))
                        skip = true;
                else if (streq(key, "disable-in") && list_has_word(value, "kysod"))
                        skip = true;
                else if (streq(key, "enable-in")) {
                        enable_seen = true;
                        enabled = enabled || list_has_word(value, "kysod");
                }
        }
        if (skip || (enable_seen && !enabled) || isempty(module)) {
                *ret = NULL;
                return 0;
        }
        if (module[0] == '/') {
                *ret = TAKE_PTR(module);
                return 0;
        }
        if (asprintf(ret, "%s/%s", module_dir, module) < 0)
                return -ENOMEM;
        return 0;
}

static int read_dir(const char *dir, const char *module_dir, Entry **entries, size_t *n) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return 0; /* a missing folder registers nothing */
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (de->d_name[0] == '.' || l <= 7 || !streq(de->d_name + l - 7, ".module"))
                        continue;
                _cleanup_free_ char *file = NULL, *name = strndup(de->d_name, l - 7), *path = NULL;
                if (!name || asprintf(&file, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = parse_module_file(file, module_dir, &path);
                if (r == -ENOMEM)
                        break;
                if (r < 0) {
                        r = 0;
                        continue; /* unreadable: skip it, as p11-kit does */
                }
                size_t i;
                for (i = 0; i < *n; i++)
                        if (streq((*entries)[i].name, name))
                                break;
                if (i == *n) {
                        Entry *e = ARRAY_APPEND(*entries, *n);
                        if (!e) {
                                r = -ENOMEM;
                                break;
                        }
                        *e = (Entry){ .name = TAKE_PTR(name) };
                }
                free((*entries)[i].path);
                (*entries)[i].path = TAKE_PTR(path);
        }
        closedir(d);
        return r;
}

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const Entry *) a)->name, ((const Entry *) b)->name);
}

int p11_registry_list_modules(char *const *config_dirs, const char *module_dir, char ***ret) {
        _cleanup_strv_free_ char **dirs = NULL, **paths = NULL;
        Entry *entries = NULL;
        size_t n = 0;
        int r = 0;

        if (!module_dir)
                module_dir = P11_KIT_MODULE_PATH;
        if (!config_dirs) {
                const char *home = getenv("HOME");
                const char *xdg = getenv("XDG_CONFIG_HOME");
                _cleanup_free_ char *user = NULL;
                if (!isempty(xdg) && xdg[0] == '/')
                        r = asprintf(&user, "%s/pkcs11/modules", xdg);
                else if (!isempty(home))
                        r = asprintf(&user, "%s/.config/pkcs11/modules", home);
                if (r < 0)
                        return -ENOMEM;
                if (strv_extend(&dirs, P11_KIT_MODULE_CONFIGS) < 0 ||
                    strv_extend(&dirs, P11_KIT_SYSTEM_CONFIG_MODULES) < 0 ||
                    (user && strv_extend(&dirs, user) < 0))
                        return -ENOMEM;
                config_dirs = dirs;
        }

        /* Later folders override earlier ones, file name by file name. */
        STRV_FOREACH (d, config_dirs) {
                r = read_dir(*d, module_dir, &entries, &n);
                if (r < 0)
                        goto finish;
        }
        if (n > 0)
                qsort(entries, n, sizeof(Entry), entry_compare);
        for (size_t i = 0; i < n; i++) {
                if (!entries[i].path)
                        continue;
                bool dup = false;
                STRV_FOREACH (p, paths)
                        if (streq(*p, entries[i].path))
                                dup = true;
                if (dup)
                        continue;
                r = strv_extend(&paths, entries[i].path);
                if (r < 0)
                        goto finish;
        }
        if (!paths) {
                paths = calloc(1, sizeof(char *));
                if (!paths) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        *ret = TAKE_PTR(paths);
        r = 0;
finish:
        for (size_t i = 0; i < n; i++) {
                free(entries[i].name);
                free(entries[i].path);
        }
        free(entries);
        return r;
}
