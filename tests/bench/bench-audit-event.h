/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The signing record the audit benchmarks write: a leader's signature with a Government CA certificate, its
 * strings as long as real ones (Vietnamese names, full distinguished names), so that records have the size
 * they have in a ward's log. */

#include "audit/audit-record.h"

static inline AuditEvent bench_audit_sign_event(const char *doc, const char *before, const char *after) {
        return (AuditEvent){
                .type = AUDIT_EVENT_SIGN_DONE,
                .document = doc,
                .sha256_before = before,
                .sha256_after = after,
                .cert_subject = "CN=Nguyễn Văn A,title=Chủ tịch,O=UBND phường Uông Bí,L=Quảng Ninh,C=VN",
                .cert_issuer = "CN=CA phục vụ các cơ quan Nhà nước G2,O=Ban Cơ yếu Chính phủ,C=VN",
                .cert_serial = "540101010e8f2c3a",
                .cert_fingerprint = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                .cert_kind = "personal",
                .cert_not_after = "2029-05-01T00:00:00Z",
                .token_serial = "ET0012345",
                .role = "approve",
                .decision = "allowed",
        };
}
