/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cert-register.h"
#include "agent/notify.h"

#define DAY INT64_C(86400)
#define NOW (INT64_C(20000) * DAY + 3600)

static const char fp_old[] = "1111111111111111111111111111111111111111111111111111111111111111";
static const char fp_new[] = "2222222222222222222222222222222222222222222222222222222222222222";
static const char fp_other[] = "3333333333333333333333333333333333333333333333333333333333333333";

static CertSighting sighting(const char *fp, const char *holder, int64_t not_after, const char *status) {
        return (CertSighting){
                .fingerprint = fp,
                .subject = "CN=x",
                .issuer = "CN=CA",
                .serial = "01",
                .holder = holder,
                .organization = "UBND phường Uông Bí",
                .kind = "personal",
                .not_before = NOW - 300 * DAY,
                .not_after = not_after,
                .token_label = "Leader",
                .token_serial = "aaaa",
                .status = status,
        };
}

/* A temporary folder in dir; path: the register's file in a sub-folder still to be made. */
static void temp_path(char dir[static 32], char path[static 64]) {
        strcpy(dir, "/tmp/kyso-register.XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, 64, "%s/state/certificates.json", dir);
}

/* r sees s at time now: the change it reports must have want_flags. The change stays in *c, for the caller's
 * further checks, until the next call (or the caller's cert_register_change_done()). */
static void
observe(CertRegister *r, const CertSighting *s, int64_t now, unsigned want_flags, CertRegisterChange *c) {
        cert_register_change_done(c);
        assert_int_equal(cert_register_observe(r, s, now, c), 0);
        assert_int_equal(c->flags, want_flags);
}

static void test_first_seen_status_renewal(void **state) {
        _cleanup_(cert_register_freep) CertRegister *r = cert_register_new("/nonexistent");
        CertRegisterChange c = {};

        CertSighting s = sighting(fp_old, "Nguyễn Văn A", NOW + 40 * DAY, "unchecked");
        observe(r, &s, NOW, CERT_REGISTER_FIRST_SEEN, &c);
        CertRegisterEntry *e = cert_register_find(r, fp_old);
        assert_non_null(e);
        assert_null(e->status); /* "unchecked" is no status */
        assert_int_equal(e->first_seen, NOW);

        /* The check's result: a status but no change to report (none was known). */
        s.status = "expiring";
        observe(r, &s, NOW + 10, CERT_REGISTER_STATUS_CHANGED, &c);
        assert_null(c.old_status);
        assert_int_equal(e->last_seen, NOW + 10);
        assert_int_equal(e->first_seen, NOW);

        s.status = "expiring";
        observe(r, &s, NOW + 20, 0, &c);

        s.status = "revoked";
        observe(r, &s, NOW + 30, CERT_REGISTER_STATUS_CHANGED, &c);
        assert_string_equal(c.old_status, "expiring");
        assert_string_equal(cert_register_find(r, fp_old)->status, "revoked");

        /* Another holder's certificate renews nothing. */
        CertSighting o = sighting(fp_other, "Trần Thị B", NOW + 400 * DAY, "valid");
        observe(r, &o, NOW + 40, CERT_REGISTER_FIRST_SEEN, &c);

        /* The same holder's new certificate renews the old one. */
        CertSighting n = sighting(fp_new, "Nguyễn Văn A", NOW + 700 * DAY, "valid");
        observe(r, &n, NOW + 50, CERT_REGISTER_FIRST_SEEN | CERT_REGISTER_RENEWAL, &c);
        assert_non_null(c.renewed);
        assert_string_equal(c.renewed->fingerprint, fp_old);
        assert_string_equal(c.renewed_old_status, "revoked");
        e = cert_register_find(r, fp_old);
        assert_string_equal(e->status, "renewed");
        assert_string_equal(e->renewed_by, fp_new);
        assert_int_equal(cert_register_size(r), 3);

        /* A renewed certificate seen valid stays "renewed"; expired is news. */
        s.status = "valid";
        observe(r, &s, NOW + 60, 0, &c);
        s.status = "expired";
        observe(r, &s, NOW + 70, CERT_REGISTER_STATUS_CHANGED, &c);

        cert_register_change_done(&c);

        CertSighting bad = sighting("abc", "x", NOW, "valid");
        assert_int_equal(cert_register_observe(r, &bad, NOW, NULL), -EINVAL);
}

static void test_save_load(void **state) {
        char dir[32], path[64], cmd[64];
        _cleanup_(cert_register_freep) CertRegister *r = NULL;
        _cleanup_(cert_register_freep) CertRegister *again = NULL;

        temp_path(dir, path);

        assert_int_equal(cert_register_load(path, &r), 0); /* missing: empty */
        assert_int_equal(cert_register_size(r), 0);
        CertSighting s = sighting(fp_old, "Nguyễn Văn A", NOW + 40 * DAY, "valid");
        assert_int_equal(cert_register_observe(r, &s, NOW, NULL), 0);
        cert_register_find(r, fp_old)->warned_threshold = 60;
        assert_true(cert_register_dirty(r));
        assert_int_equal(cert_register_save(r), 0); /* makes the folder */
        assert_false(cert_register_dirty(r));

        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        assert_int_equal(cert_register_load(path, &again), 0);
        assert_int_equal(cert_register_size(again), 1);
        CertRegisterEntry *e = cert_register_get(again, 0);
        assert_string_equal(e->fingerprint, fp_old);
        assert_string_equal(e->holder, "Nguyễn Văn A");
        assert_string_equal(e->organization, "UBND phường Uông Bí");
        assert_string_equal(e->status, "valid");
        assert_string_equal(e->token_label, "Leader");
        assert_int_equal(e->not_after, NOW + 40 * DAY);
        assert_int_equal(e->first_seen, NOW);
        assert_int_equal(e->warned_threshold, 60);

        /* Not a register: refused, so the agent can move it aside. */
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("{\"version\":7}", f);
        fclose(f);
        CertRegister *bad = NULL;
        assert_int_equal(cert_register_load(path, &bad), -EBADMSG);

        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_path_beside(void **state) {
        _cleanup_free_ char *p = NULL;
        assert_int_equal(cert_register_path_beside("/var/lib/kyso/audit.jsonl", &p), 0);
        assert_string_equal(p, "/var/lib/kyso/certificates.json");
}

static void test_notify_decide(void **state) {
        CertRegisterEntry e = {};

        assert_int_equal(notify_decide(&e, "valid", 90, NOW, 60), NOTIFY_NONE);
        assert_int_equal(notify_decide(&e, "expiring", 59, NOW, 60), NOTIFY_EXPIRING);
        assert_int_equal(e.warned_threshold, 60);
        /* Not again the same day, nor the next days until 30 days are left. */
        assert_int_equal(notify_decide(&e, "expiring", 59, NOW + 60, 60), NOTIFY_NONE);
        assert_int_equal(notify_decide(&e, "expiring", 58, NOW + DAY, 60), NOTIFY_NONE);
        assert_int_equal(notify_decide(&e, "expiring", 31, NOW + 28 * DAY, 60), NOTIFY_NONE);
        assert_int_equal(notify_decide(&e, "expiring", 30, NOW + 29 * DAY, 60), NOTIFY_EXPIRING);
        assert_int_equal(e.warned_threshold, 30);
        assert_int_equal(notify_decide(&e, "expiring", 7, NOW + 52 * DAY, 60), NOTIFY_EXPIRING);
        /* At 1 day left, but the 7-day warning was given today: tomorrow. */
        assert_int_equal(notify_decide(&e, "expiring", 1, NOW + 52 * DAY + 10, 60), NOTIFY_NONE);
        assert_int_equal(notify_decide(&e, "expiring", 0, NOW + 53 * DAY, 60), NOTIFY_EXPIRING);
        assert_int_equal(e.warned_threshold, 1);
        assert_int_equal(notify_decide(&e, "expiring", 0, NOW + 54 * DAY, 60), NOTIFY_NONE);

        /* Expired or revoked: once. */
        assert_int_equal(notify_decide(&e, "expired", -1, NOW + 55 * DAY, 60), NOTIFY_UNUSABLE);
        assert_int_equal(notify_decide(&e, "expired", -2, NOW + 56 * DAY, 60), NOTIFY_NONE);
        CertRegisterEntry r = {};
        assert_int_equal(notify_decide(&r, "revoked", 100, NOW, 60), NOTIFY_UNUSABLE);
        assert_int_equal(notify_decide(&r, "revoked", 100, NOW + DAY, 60), NOTIFY_NONE);

        /* Entering the window at 20 days with a policy of 60: one warning, then 7 and 1. */
        CertRegisterEntry late = {};
        assert_int_equal(notify_decide(&late, "expiring", 20, NOW, 60), NOTIFY_EXPIRING);
        assert_int_equal(late.warned_threshold, 30);
        assert_int_equal(notify_decide(&late, "expiring", 19, NOW + DAY, 60), NOTIFY_NONE);

        /* A renewed certificate is not nagged about. */
        CertRegisterEntry renewed = { .renewed_by = (char *) fp_new };
        assert_int_equal(notify_decide(&renewed, "expiring", 10, NOW, 60), NOTIFY_NONE);
        /* A policy of 10 warning days: nothing at 20, a warning at 10 (its own threshold), then 7. */
        CertRegisterEntry ten = {};
        assert_int_equal(notify_decide(&ten, "expiring", 20, NOW, 10), NOTIFY_NONE);
        assert_int_equal(notify_decide(&ten, "expiring", 10, NOW, 10), NOTIFY_EXPIRING);
        assert_int_equal(notify_decide(&ten, "expiring", 7, NOW + 3 * DAY, 10), NOTIFY_EXPIRING);
}

static void test_replay(void **state) {
        _cleanup_(cert_register_freep) CertRegister *r = cert_register_new(NULL);
        static const char first[] =
                "{\"v\":1,\"seq\":5,\"time\":\"2026-12-06T10:00:00.123Z\",\"event\":\"cert-first-seen\","
                "\"cert\":{\"subject\":\"CN=Nguyễn Văn An,O=UBND\",\"issuer\":\"CN=CA\",\"serial\":\"1001\","
                "\"fingerprint\":\"1111111111111111111111111111111111111111111111111111111111111111\","
                "\"kind\":\"personal\",\"not_after\":\"2027-01-05T00:00:00Z\",\"status\":\"valid\"},"
                "\"token\":{\"label\":\"leader\",\"serial\":\"aaaa\"},"
                "\"data\":{\"holder\":\"Nguyễn Văn An\",\"organization\":\"UBND\"}}";
        static const char revoked[] =
                "{\"v\":1,\"seq\":9,\"time\":\"2026-12-07T10:00:00Z\",\"event\":\"cert-status-changed\","
                "\"cert\":{\"fingerprint\":\"1111111111111111111111111111111111111111111111111111111111111111\","
                "\"status\":\"revoked\"}}";
        static const char signed_by_other[] =
                "{\"v\":1,\"seq\":7,\"time\":\"2026-12-06T11:00:00Z\",\"event\":\"sign-done\","
                "\"cert\":{\"subject\":\"O=UBND,CN=Trần Thị Bình\",\"fingerprint\":"
                "\"3333333333333333333333333333333333333333333333333333333333333333\",\"status\":\"valid\"}}";
        static const char token[] =
                "{\"v\":1,\"seq\":2,\"time\":\"2026-12-06T09:00:00Z\",\"event\":\"token-added\"}";

        assert_int_equal(cert_register_replay(r, first, strlen(first)), 1);
        assert_int_equal(cert_register_replay(r, signed_by_other, strlen(signed_by_other)), 1);
        assert_int_equal(cert_register_replay(r, revoked, strlen(revoked)), 1);
        assert_int_equal(cert_register_replay(r, token, strlen(token)), 0);
        assert_int_equal(cert_register_replay(r, "not json", 8), 0);
        assert_int_equal(cert_register_size(r), 2);

        CertRegisterEntry *e = cert_register_find(r, fp_old);
        assert_string_equal(e->holder, "Nguyễn Văn An");
        assert_string_equal(e->organization, "UBND");
        assert_string_equal(e->token_label, "leader");
        assert_string_equal(e->status, "revoked");
        assert_int_equal(e->first_seen, 1796551200); /* 2026-12-06T10:00:00Z */
        assert_int_equal(e->last_seen, 1796551200 + 86400);
        assert_int_equal(e->not_after, 1799107200); /* 2027-01-05 */
        /* A signing record without a holder: the subject's CN. */
        assert_string_equal(cert_register_find(r, fp_other)->holder, "Trần Thị Bình");
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_first_seen_status_renewal),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_path_beside),
        cmocka_unit_test(test_notify_decide),
        cmocka_unit_test(test_replay),
});
