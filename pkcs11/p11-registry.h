/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* p11-kit's module registry (pkcs11.conf(5)), read without loading any module: which PKCS#11 modules the
 * system and the user registered, so that kysod loads those (in helpers) and nothing else. */

/* The module paths registered in the *.module files of config_dirs (NULL: p11-kit's package, system and
 * user folders; a user file overrides a system one of the same name, which overrides a package one).
 * Relative paths are resolved against module_dir (NULL: p11-kit's module folder). Modules marked
 * trust-policy, disabled for "kysod" (disable-in), or enabled only for other programs (enable-in) are
 * skipped. The paths are returned as written (not canonical), sorted by file name, without duplicates. */
int p11_registry_list_modules(char *const *config_dirs, const char *module_dir, char ***ret);
