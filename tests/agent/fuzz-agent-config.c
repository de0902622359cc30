/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration parser against arbitrary bytes: it must return an error or a configuration, never crash,
 * and an error always names file:line. */
#include <stdint.h>

#include "agent/agent-config.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        AgentConfig *c = NULL;
        char *error = NULL;

        if (size > 64 * 1024)
                return 0;
        if (agent_config_new(&c) < 0)
                return 0;
        if (agent_config_parse(c, (const char *) data, size, "fuzz.conf", &error) < 0 && error &&
            !startswith(error, "fuzz.conf:"))
                abort();
        free(error);
        agent_config_free(c);
        return 0;
}
