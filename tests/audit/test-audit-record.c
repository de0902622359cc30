/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fast paths of audit-record.c against plain references: the scanner's eight-bytes-at-a-time time check,
 * the prefix scan and audit_record_event_is(), and the hasher's direct provider calls against EVP_Digest().
 */
#include "kyso-test.h"

#include <openssl/evp.h>

#include "audit-test-util.h"

#define PREFIX "{\"v\":1,\"seq\":7,\"time\":\""
#define TIME "2026-11-24T06:02:14.123Z"
#define SUFFIX "\",\"prev\":\"" AUDIT_GENESIS_PREV "\",\"event\":\"sign-done\",\"x\":1}"

/* What the shape allows at position i of a time, byte by byte. */
static bool time_byte_ok(size_t i, unsigned char c) {
        static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
        return shape[i] == 'd' ? c >= '0' && c <= '9' : c == (unsigned char) shape[i];
}

static void test_time_shape(void **state) {
        char line[] = PREFIX TIME SUFFIX;
        size_t at = strlen(PREFIX);
        AuditRecordHead h;

        assert_int_equal(audit_record_scan(line, strlen(line), &h, NULL), 0);
        assert_memory_equal(h.time, TIME, AUDIT_TIME_LEN);
        /* Every byte value at every position, alone and next to a byte with its top bit set (whose sums
         * would carry into the neighbour). */
        for (size_t i = 0; i < AUDIT_TIME_LEN; i++)
                for (unsigned c = 0; c < 256; c++) {
                        char l[sizeof(line)];
                        memcpy(l, line, sizeof(line));
                        l[at + i] = (char) c;
                        int want = time_byte_ok(i, (unsigned char) c) ? 0 : -EBADMSG;
                        assert_int_equal(audit_record_scan(l, strlen(line), NULL, NULL), want);
                        if (i + 1 < AUDIT_TIME_LEN) {
                                l[at + i + 1] = (char) 0xff;
                                assert_int_equal(audit_record_scan(l, strlen(line), NULL, NULL), -EBADMSG);
                        }
                }
}

static void test_scan_prefix(void **state) {
        const char *lines[] = {
                PREFIX TIME SUFFIX,
                PREFIX TIME "\",\"prev\":\"" AUDIT_GENESIS_PREV "\",\"event\":\"log-rotated\"}",
                PREFIX TIME "\",\"prev\":\"" AUDIT_GENESIS_PREV "\",\"event\":\"log-rotated-later\"}",
                PREFIX TIME "\",\"prev\":\"" AUDIT_GENESIS_PREV "\",\"event\":\"log\"}",
                PREFIX TIME "\",\"prev\":\"" AUDIT_GENESIS_PREV "\",\"event\":\"no-such-event\"}",
                "{\"v\":2,\"seq\":1}",
                "not a record",
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                AuditRecordHead a = {}, b = {};
                const char *wa = NULL, *wb = NULL;
                int ka = audit_record_scan(lines[i], strlen(lines[i]), &a, &wa);
                int kb = audit_record_scan_prefix(lines[i], strlen(lines[i]), &b, &wb);
                assert_int_equal(ka, kb);
                assert_ptr_equal(wa, wb);
                if (ka < 0)
                        continue;
                assert_int_equal(b.event, _AUDIT_EVENT_INVALID);
                assert_int_equal(a.seq, b.seq);
                assert_ptr_equal(a.event_name, b.event_name);
                for (int t = 0; t < _AUDIT_EVENT_MAX; t++)
                        assert_int_equal(
                                audit_record_event_is(&b, audit_event_type_to_string((AuditEventType) t)),
                                a.event == t);
        }
}

static void test_hasher(void **state) {
        _cleanup_(audit_hasher_freep) AuditHasher *h = NULL;
        char buf[3000], hex[AUDIT_HASH_HEX + 1], want[AUDIT_HASH_HEX + 1];
        unsigned char md[32];
        unsigned n;

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (char) (i * 131 + 7);
        assert_int_equal(audit_hasher_new(&h), 0);
        /* Lengths around SHA-256's 64-byte blocks and its 55-byte padding limit, and a few long ones. */
        for (size_t len = 0; len <= sizeof(buf); len += len < 200 ? 1 : 397) {
                assert_int_equal(EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL), 1);
                audit_hex(md, sizeof(md), want);
                assert_int_equal(audit_hasher_line(h, buf, len, hex), 0);
                assert_string_equal(hex, want);
        }
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_time_shape),
        cmocka_unit_test(test_scan_prefix),
        cmocka_unit_test(test_hasher),
});
