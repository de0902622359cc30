/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The helper protocol decoders: every frame type, as the agent and the helper receive them. */
#include <stddef.h>
#include <stdint.h>

#include "pkcs11/p11-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t total;

        (void) p11_decode_any(data, size);
        /* The stream reader's view: a header announcing a size, then that many bytes. */
        if (p11_frame_peek_size(data, size, &total) == 0 && total <= size)
                (void) p11_decode_any(data, total);
        return 0;
}
