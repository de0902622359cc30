/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The approval request the pinentry tests show: the ward's document application asking a leader with a
 * personal certificate to approve one document. */

#include "agent/prompt.h"

#define TEST_PROMPT_REQUEST(doc_)                                                          \
        {                                                                                  \
                .app_name = "Quản lý văn bản", .executable = "/usr/bin/qlvb", .pid = 4242, \
                .documents = (doc_), .n_documents = 1, .cert_holder = "Nguyễn Văn An",     \
                .cert_organization = "UBND phường Uông Bí", .cert_kind = "personal",       \
                .cert_not_after = 1893456000, .role = "approve",                           \
        }
