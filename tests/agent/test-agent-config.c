/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <locale.h>
#include <syslog.h>

#include "agent/agent-config.h"
#include "fileio.h"
#include "utf8.h"

static AgentConfig *parse_ok(const char *text) {
        AgentConfig *c = NULL;
        _cleanup_free_ char *error = NULL;

        assert_int_equal(agent_config_new(&c), 0);
        if (agent_config_parse(c, text, strlen(text), "test.conf", &error) < 0)
                fail_msg("unexpected error: %s", error);
        return c;
}

static void expect_error(const char *text, const char *message) {
        _cleanup_(agent_config_freep) AgentConfig *c = NULL;
        _cleanup_free_ char *error = NULL;

        assert_int_equal(agent_config_new(&c), 0);
        assert_int_equal(agent_config_parse(c, text, strlen(text), "test.conf", &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, message))
                fail_msg("error '%s' does not contain '%s'", error, message);
}

static void test_defaults(void **state) {
        _cleanup_(agent_config_freep) AgentConfig *c = NULL;

        setenv("XDG_STATE_HOME", "/state", 1);
        assert_int_equal(agent_config_new(&c), 0);
        assert_null(c->module_paths);
        assert_true(c->use_p11kit_registry);
        assert_int_equal(c->poll_usec, 1000000);
        assert_int_equal(c->helper_timeout_usec, 10000000);
        assert_int_equal(c->prompt_timeout_usec, 60000000);
        assert_int_equal(c->module_retry_usec, 30000000);
        assert_string_equal(c->audit_log_path, "/state/kyso/audit.jsonl");
        assert_string_equal(c->pinentry_program, "pinentry");
        assert_int_equal(c->log_level, LOG_INFO);
        assert_int_equal(c->pin_cache_personal_usec, 0); /* PIN caching is off unless configured */
        assert_int_equal(c->pin_cache_organization_usec, 0);
        assert_int_equal(c->batch_timeout_usec, 60000000);
        assert_int_equal(c->document_timeout_usec, 60000000);
        assert_int_equal(c->revocation_refresh_usec, UINT64_C(3600000000));
        unsetenv("XDG_STATE_HOME");
}

static void test_all_keys(void **state) {
        _cleanup_(agent_config_freep) AgentConfig *c = parse_ok("# comment\n"
                                                                "; another comment\n"
                                                                "\n"
                                                                "module = /usr/lib/libeToken.so\n"
                                                                "  module=/opt/bit4id/libbit4xpki.so  \r\n"
                                                                "use-p11-kit-registry = no\n"
                                                                "poll-interval = 500ms\n"
                                                                "helper-timeout = 2min\n"
                                                                "prompt-timeout = 90s\n"
                                                                "module-retry = 5min\n"
                                                                "audit-log = /var/log/kyso/audit.jsonl\n"
                                                                "pinentry = /usr/bin/pinentry-gnome3\n"
                                                                "pin-cache-personal = 5min\n"
                                                                "pin-cache-organization = 30s\n"
                                                                "batch-timeout = 2min\n"
                                                                "document-timeout = 3min\n"
                                                                "revocation-refresh = 90min\n"
                                                                "log-level = debug"); /* no final newline */

        assert_int_equal(strv_length(c->module_paths), 2);
        assert_string_equal(c->module_paths[0], "/usr/lib/libeToken.so");
        assert_string_equal(c->module_paths[1], "/opt/bit4id/libbit4xpki.so");
        assert_false(c->use_p11kit_registry);
        assert_int_equal(c->poll_usec, 500000);
        assert_int_equal(c->helper_timeout_usec, 120000000);
        assert_int_equal(c->prompt_timeout_usec, 90000000);
        assert_int_equal(c->module_retry_usec, 300000000);
        assert_string_equal(c->audit_log_path, "/var/log/kyso/audit.jsonl");
        assert_string_equal(c->pinentry_program, "/usr/bin/pinentry-gnome3");
        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_int_equal(c->pin_cache_personal_usec, 300000000);
        assert_int_equal(c->pin_cache_organization_usec, 30000000);
        assert_int_equal(c->batch_timeout_usec, 120000000);
        assert_int_equal(c->document_timeout_usec, 180000000);
        assert_int_equal(c->revocation_refresh_usec, UINT64_C(5400000000));
}

static void test_errors_name_file_and_line(void **state) {
        expect_error("frobnicate = 1\n", "test.conf:1: unknown key 'frobnicate'");
        expect_error("\n\n# x\nmodule = relative.so\n", "test.conf:4: module needs an absolute path");
        expect_error("use-p11-kit-registry = maybe\n", "test.conf:1: use-p11-kit-registry");
        expect_error("poll-interval = 10ms\n", "test.conf:1: poll-interval"); /* below 100ms */
        expect_error("poll-interval = 2min\n", "test.conf:1: poll-interval"); /* above 60s */
        expect_error("poll-interval = fast\n", "poll-interval");
        expect_error("helper-timeout = 0\n", "helper-timeout");
        expect_error("prompt-timeout = 500ms\n", "test.conf:1: prompt-timeout"); /* below 1s */
        expect_error("prompt-timeout = 11min\n", "prompt-timeout");
        expect_error(
                "module-retry = 50ms\n", "test.conf:1: module-retry must be a duration from 100ms to 60min");
        expect_error("module-retry = 61min\n", "module-retry"); /* above an hour */
        expect_error("audit-log = audit.jsonl\n", "audit-log needs an absolute path");
        expect_error("pinentry =\n", "pinentry needs");
        expect_error("log-level = loud\n", "log-level");
        expect_error("pin-cache-personal = forever\n", "test.conf:1: pin-cache-personal");
        expect_error("pin-cache-personal = -5min\n", "pin-cache-personal");
        expect_error("pin-cache-organization = 1441min\n", "pin-cache-organization"); /* above 24h */
        expect_error("pin-cache-organization = 5 min\n", "pin-cache-organization");
        expect_error(
                "batch-timeout = 0\n", "test.conf:1: batch-timeout must be a duration from 1s to 10min");
        expect_error("batch-timeout = 11min\n", "batch-timeout");
        expect_error("document-timeout = 0\n", "document-timeout must be a duration from 1s to 10min");
        expect_error("revocation-refresh = 500ms\n", "revocation-refresh");
        expect_error("revocation-refresh = 1441min\n", "revocation-refresh");
        expect_error("just words\n", "test.conf:1: expected 'key = value'");
        expect_error("= value\n", "missing key");
        expect_error("log-level = info\nlog-level = chatty\n", "test.conf:2:");
        {
                _cleanup_(agent_config_freep) AgentConfig *c = NULL;
                _cleanup_free_ char *error = NULL;
                assert_int_equal(agent_config_new(&c), 0);
                assert_int_equal(agent_config_parse(c, "a\0b", 3, "nul.conf", &error), -EINVAL);
                assert_non_null(strstr(error, "NUL"));
        }
}

/* A file saved by an editor that writes a byte-order mark (Windows Notepad) starts with EF BB BF, invisible
 * in a terminal: it must not make the first key "unknown". A key or value that is not UTF-8 is shown
 * escaped, since the message goes to the journal, which keeps invalid UTF-8 only as "[blob data]". */
static void test_bom_and_invalid_utf8(void **state) {
        _cleanup_(agent_config_freep) AgentConfig *c = parse_ok("\xef\xbb\xbfpoll-interval = 2s\n");
        assert_int_equal(c->poll_usec, 2000000);

        _cleanup_(agent_config_freep) AgentConfig *d = NULL;
        _cleanup_free_ char *error = NULL;
        assert_int_equal(agent_config_new(&d), 0);
        const char *text = "log-level = info\nfoo\xff = 1\n";
        assert_int_equal(agent_config_parse(d, text, strlen(text), "test.conf", &error), -EINVAL);
        if (!utf8_is_valid(error) || !strstr(error, "test.conf:2: unknown key 'foo\\xff'"))
                fail_msg("error '%s' is not the escaped unknown key", error);
        expect_error("pinentry = a\nlog-level = \xe9\n", "test.conf:2: log-level must be one of debug");
}

static void test_durations_and_booleans(void **state) {
        uint64_t u;

        assert_int_equal(parse_duration("3", &u), 0);
        assert_int_equal(u, 3000000);
        assert_int_equal(parse_duration("1.5s", &u), 0);
        assert_int_equal(u, 1500000);
        assert_int_equal(parse_duration("250ms", &u), 0);
        assert_int_equal(u, 250000);
        assert_int_equal(parse_duration("1min", &u), 0);
        assert_int_equal(u, 60000000);
        assert_int_equal(parse_duration("-1s", &u), -EINVAL);
        assert_int_equal(parse_duration("1 s", &u), -EINVAL);
        assert_int_equal(parse_duration("s", &u), -EINVAL);
        assert_int_equal(parse_duration("", &u), -EINVAL);
        assert_int_equal(parse_boolean("Yes"), 1);
        assert_int_equal(parse_boolean("off"), 0);
        assert_int_equal(parse_boolean("2"), -EINVAL);
}

static void test_load_explicit_and_search(void **state) {
        char dir[] = "/tmp/kyso-config-test-XXXXXX", path[256], cmd[300];
        _cleanup_(agent_config_freep) AgentConfig *c = NULL;
        _cleanup_free_ char *error = NULL;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/kyso/kysod.conf", dir);
        assert_int_equal(mkdir_parents(path, 0755), 0);
        assert_int_equal(write_file_atomic(path, "poll-interval = 2s\n", 19, 0644), 0);

        /* Found through $XDG_CONFIG_HOME. */
        setenv("XDG_CONFIG_HOME", dir, 1);
        assert_int_equal(agent_config_load(NULL, &c, &error), 0);
        assert_string_equal(c->path, path);
        assert_int_equal(c->poll_usec, 2000000);
        c = agent_config_free(c);

        /* An explicit file that does not exist is an error, not the defaults. */
        snprintf(path, sizeof path, "%s/missing.conf", dir);
        assert_true(agent_config_load(path, &c, &error) < 0);
        assert_null(c);
        assert_non_null(strstr(error, "missing.conf"));

        unsetenv("XDG_CONFIG_HOME");
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_signature_images(void **state) {
        static const char seal[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        _cleanup_(agent_config_freep) AgentConfig *d = NULL;
        _cleanup_(agent_config_freep) AgentConfig *c = parse_ok(
                "signature-image = 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:"
                "45:67:89:ab:cd:ef /etc/kyso/seal.png\n"
                "signature-image = ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff   /srv/chu ky.png\n"
                "signature-image = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef /etc/kyso/seal2.png\n"
                "seal-diameter = 36.5\n");

        /* The last line for a certificate wins; a path may hold spaces. */
        assert_string_equal(agent_config_signature_image(c, seal), "/etc/kyso/seal2.png");
        assert_string_equal(
                agent_config_signature_image(
                        c, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
                "/srv/chu ky.png");
        assert_null(agent_config_signature_image(c, "ab"));
        assert_null(agent_config_signature_image(c, NULL));
        assert_true(c->seal_diameter_mm == 36.5);
        assert_int_equal(agent_config_new(&d), 0);
        assert_true(d->seal_diameter_mm == 40);
        assert_null(agent_config_signature_image(d, seal));

        expect_error("signature-image = 0123 /etc/seal.png\n", "test.conf:1: signature-image needs");
        expect_error(
                "signature-image = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef seal.png\n",
                "absolute path");
        expect_error("seal-diameter = 5\n", "test.conf:1: seal-diameter must be");
        expect_error("seal-diameter = 40mm\n", "from 10 to 100");
}

static void test_signature_places(void **state) {
        static const char seal[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        _cleanup_(agent_config_freep) AgentConfig *d = NULL;
        _cleanup_(agent_config_freep) AgentConfig *c = parse_ok(
                "signature-place = 2,300,150,240,80\n"
                "signature-place = 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:"
                "45:67:89:ab:cd:ef last,310.5,100,200,60\n");
        const PdfPlace *p;

        /* A certificate's own line wins over the line for all; PAGE is from 1 in the file, 0-based here. */
        p = agent_config_signature_place(c, seal);
        assert_non_null(p);
        assert_true(p->set && p->from_end && p->page == 0);
        assert_true(p->rect.x == 310.5 && p->rect.y == 100 && p->rect.w == 200 && p->rect.h == 60);
        p = agent_config_signature_place(
                c, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
        assert_non_null(p);
        assert_true(p->set && !p->from_end && p->page == 1 && p->rect.w == 240);
        assert_ptr_equal(agent_config_signature_place(c, NULL), p);
        assert_int_equal(agent_config_new(&d), 0);
        assert_null(agent_config_signature_place(d, seal));

        expect_error("signature-place = 0,1,2,3,4\n", "test.conf:1: signature-place needs PAGE,X,Y,W,H");
        expect_error("signature-place = -1,1,2,3,4\n", "signature-place needs");
        expect_error("signature-place = 1,1,2,0,4\n", "signature-place needs");
        expect_error("signature-place = 1,1,2,3\n", "signature-place needs");
        expect_error("signature-place = 0123 1,1,2,3,4\n", "signature-place needs");
        expect_error("signature-place = first,1,2,3,4\n", "signature-place needs");
}

/* Numbers in kysod.conf are read with a '.' whatever the locale kysod runs in: in vi_VN the decimal
 * separator is ',', and "1,320.5,120" must not become 1 and 320 then fail. */
static void test_numbers_any_locale(void **state) {
        _cleanup_(agent_config_freep) AgentConfig *c = NULL;
        const PdfPlace *p;

        if (!setlocale(LC_NUMERIC, "vi_VN.UTF-8"))
                skip();
        c = parse_ok("seal-diameter = 38.5\n"
                     "signature-place = 1,320.5,120,210.25,70\n");
        setlocale(LC_NUMERIC, "C");
        assert_true(c->seal_diameter_mm == 38.5);
        p = agent_config_signature_place(c, NULL);
        assert_non_null(p);
        assert_true(
                p->page == 0 && p->rect.x == 320.5 && p->rect.y == 120 && p->rect.w == 210.25 &&
                p->rect.h == 70);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_durations_and_booleans),
        cmocka_unit_test(test_load_explicit_and_search),
        cmocka_unit_test(test_signature_images),
        cmocka_unit_test(test_signature_places),
        cmocka_unit_test(test_numbers_any_locale),
        cmocka_unit_test(test_bom_and_invalid_utf8),
});
