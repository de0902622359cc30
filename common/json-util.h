/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* json-util: what kyso adds to json-c, one definition for every reader and writer of JSON (the register,
 * the command line's --json, D-Bus dictionaries as JSON). */

#include <json-c/json.h>

#include "macro.h"

/* _cleanup_(json_object_putp) json_object *o = ...: drops the reference when o goes out of scope. */
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
