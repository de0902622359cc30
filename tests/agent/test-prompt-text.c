/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"
#include <locale.h>

#include "agent/prompt-text.h"
#include "i18n.h"
#include "utf8.h"

static const PromptDocument doc = {
        .name = "QĐ-15-UBND.docx",
        .size = 2 * 1024 * 1024 + 300 * 1024,
        .sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
};

static const PromptRequest request = {
        .app_name = "eOffice",
        .executable = "/opt/eoffice/bin/eoffice",
        .pid = 31337,
        .documents = &doc,
        .n_documents = 1,
        .cert_holder = "Trần Thị Bình",
        .cert_organization = "UBND phường Uông Bí",
        .cert_kind = "organization",
        .cert_not_after = 1893456000, /* 2030-01-01 */
        .role = "issue",
};

static void use_locale(const char *l, bool vietnamese) {
        if (vietnamese)
                test_getenv_or_skip("KYSO_LOCALEDIR");
        setenv("LC_ALL", l, 1);
        assert_non_null(setlocale(LC_ALL, ""));
        i18n_setup();
        assert_int_equal(i18n_is_vietnamese(), vietnamese);
}

static void assert_text_valid(const PromptText *t) {
        assert_true(utf8_is_valid(t->title));
        assert_true(utf8_is_valid(t->description));
        assert_true(utf8_is_valid(t->ok));
        assert_true(utf8_is_valid(t->cancel));
        if (t->prompt)
                assert_true(utf8_is_valid(t->prompt));
        if (t->error)
                assert_true(utf8_is_valid(t->error));
}

/* The confirmation text of req, which must be made and be valid UTF-8. */
static void confirm_text(const PromptRequest *req, PromptText *t) {
        assert_int_equal(prompt_text_confirm(req, t), 0);
        assert_text_valid(t);
}

/* The PIN prompt's text of req, which must be made and be valid UTF-8. */
static void pin_text(const PromptPinRequest *req, PromptText *t) {
        assert_int_equal(prompt_text_pin(req, t), 0);
        assert_text_valid(t);
}

static void check_confirm_mentions_everything(const PromptText *t) {
        assert_non_null(strstr(t->description, "eOffice"));
        assert_non_null(strstr(t->description, "/opt/eoffice/bin/eoffice"));
        assert_non_null(strstr(t->description, "31337"));
        assert_non_null(strstr(t->description, "QĐ-15-UBND.docx"));
        assert_non_null(strstr(t->description, "e3b0c44298fc1c14"));
        assert_null(strstr(t->description, "e3b0c44298fc1c149")); /* short digest: 16 digits */
        assert_non_null(strstr(t->description, "Trần Thị Bình"));
        assert_non_null(strstr(t->description, "UBND phường Uông Bí"));
}

static void test_confirm_english(void **state) {
        PromptText t = {};

        use_locale("C.UTF-8", false);
        confirm_text(&request, &t);
        check_confirm_mentions_everything(&t);
        assert_non_null(strstr(t.description, "issue (the organisation's signature"));
        assert_non_null(strstr(t.description, "organisation certificate"));
        assert_non_null(strstr(t.description, "2030-01-01"));
        assert_non_null(strstr(t.description, "2.3 MiB"));
        assert_string_equal(t.ok, "Sign");
        assert_null(t.prompt);
        assert_null(strstr(t.description, "last"));
        prompt_text_done(&t);
}

static void test_confirm_vietnamese(void **state) {
        PromptText t = {};

        use_locale("vi_VN.UTF-8", true);
        confirm_text(&request, &t);
        check_confirm_mentions_everything(&t);
        assert_non_null(strstr(t.description, "ký phát hành"));
        assert_non_null(strstr(t.description, "chứng thư số cơ quan, tổ chức"));
        assert_non_null(strstr(t.description, "01/01/2030"));
        assert_non_null(strstr(t.description, "Văn bản"));
        assert_non_null(strstr(t.title, "Phê duyệt"));
        assert_string_equal(t.ok, "Ký");
        assert_string_equal(t.cancel, "Hủy");
        prompt_text_done(&t);
        use_locale("C.UTF-8", false);
}

static void test_roles(void **state) {
        use_locale("vi_VN.UTF-8", true);
        assert_string_equal(prompt_text_role("approve"), "ký phê duyệt");
        assert_string_equal(prompt_text_role("issue"), "ký phát hành");
        assert_string_equal(prompt_text_role("copy"), "sao y / sao lục / trích sao");
        assert_string_equal(prompt_text_role("appendix"), "phụ lục kèm theo");
        assert_string_equal(prompt_text_role("personal"), "ký cá nhân");
        assert_string_equal(prompt_text_cert_kind("personal"), "chứng thư số cá nhân");
        use_locale("C.UTF-8", false);
        assert_string_equal(prompt_text_role("approve"), "approve (the leader's signature)");
        assert_string_equal(prompt_text_role("whatever"), "whatever");
        assert_string_equal(prompt_text_role("a\nb"), "unknown");
        assert_string_equal(prompt_text_cert_kind("\xc0\xaf"), "unknown");
}

static void test_final_try(void **state) {
        PromptRequest req = request;
        PromptText t = {};

        req.flags = PROMPT_FLAG_FINAL_TRY;
        use_locale("C.UTF-8", false);
        confirm_text(&req, &t);
        check_confirm_mentions_everything(&t);
        assert_non_null(strstr(t.description, "last one"));
        assert_string_equal(t.ok, "Yes, use the last try");
        prompt_text_done(&t);

        use_locale("vi_VN.UTF-8", true);
        confirm_text(&req, &t);
        check_confirm_mentions_everything(&t);
        assert_non_null(strstr(t.description, "lần thử cuối cùng"));
        assert_non_null(strstr(t.ok, "Có"));
        prompt_text_done(&t);
        use_locale("C.UTF-8", false);
}

static void test_batch(void **state) {
        PromptDocument docs[12];
        char names[12][32];
        PromptRequest req = request;
        PromptText t = {};

        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                snprintf(names[i], sizeof(names[i]), "cong-van-%02zu.pdf", i);
                docs[i] = (PromptDocument){ .name = names[i], .size = 1000 + i, .sha256 = doc.sha256 };
        }
        req.documents = docs;
        req.n_documents = ELEMENTSOF(docs);

        use_locale("C.UTF-8", false);
        confirm_text(&req, &t);
        assert_non_null(strstr(t.description, "sign 12 documents"));
        assert_non_null(strstr(t.description, "cong-van-00.pdf"));
        assert_non_null(strstr(t.description, "cong-van-07.pdf"));
        assert_null(strstr(t.description, "cong-van-08.pdf"));
        assert_non_null(strstr(t.description, "and 4 more documents"));
        prompt_text_done(&t);

        use_locale("vi_VN.UTF-8", true);
        confirm_text(&req, &t);
        assert_non_null(strstr(t.description, "12 văn bản"));
        assert_non_null(strstr(t.description, "và 4 văn bản khác"));
        prompt_text_done(&t);
        use_locale("C.UTF-8", false);
}

static void test_pin(void **state) {
        PromptPinRequest req = { .token_label = "VGCA eToken 0042",
                                 .state = PROMPT_PIN_OK,
                                 .tries_left = -1 };
        PromptText t = {};

        use_locale("C.UTF-8", false);
        pin_text(&req, &t);
        assert_non_null(strstr(t.description, "VGCA eToken 0042"));
        assert_string_equal(t.prompt, "PIN:");
        assert_null(t.error);
        prompt_text_done(&t);

        req.previous_wrong = true;
        req.tries_left = 3;
        req.state = PROMPT_PIN_COUNT_LOW;
        pin_text(&req, &t);
        assert_string_equal(t.error, "Wrong PIN. 3 tries are left.");
        prompt_text_done(&t);

        /* Count low after a wrong PIN: the token gives no number, and both facts are shown. */
        req.tries_left = -1;
        pin_text(&req, &t);
        assert_non_null(strstr(t.error, "Wrong PIN"));
        assert_non_null(strstr(t.error, "few tries are left"));
        prompt_text_done(&t);

        req.state = PROMPT_PIN_FINAL_TRY;
        req.tries_left = 1;
        pin_text(&req, &t);
        assert_non_null(strstr(t.error, "Wrong PIN"));
        assert_non_null(strstr(t.error, "Last try"));
        prompt_text_done(&t);
        req.previous_wrong = false;
        pin_text(&req, &t);
        assert_null(strstr(t.error, "Wrong PIN"));
        assert_non_null(strstr(t.error, "Last try"));
        prompt_text_done(&t);
        req.previous_wrong = true;
        req.tries_left = 3;

        req.state = PROMPT_PIN_LOCKED;
        assert_int_equal(prompt_text_pin(&req, &t), -EPERM);

        use_locale("vi_VN.UTF-8", true);
        req.state = PROMPT_PIN_COUNT_LOW;
        pin_text(&req, &t);
        assert_non_null(strstr(t.description, "VGCA eToken 0042"));
        assert_string_equal(t.prompt, "Mã PIN:");
        assert_string_equal(t.error, "Sai mã PIN. Còn 3 lần thử.");
        prompt_text_done(&t);
        req.tries_left = -1;
        pin_text(&req, &t);
        assert_non_null(strstr(t.error, "Sai mã PIN"));
        assert_non_null(strstr(t.error, "chỉ còn ít lần thử"));
        prompt_text_done(&t);
        use_locale("C.UTF-8", false);
}

static void test_messages(void **state) {
        _cleanup_free_ char *w1 = NULL, *w2 = NULL, *locked_en = NULL, *locked_vi = NULL, *miss = NULL,
                            *noexec = NULL, *wvi = NULL;
        PromptText t = {};

        use_locale("C.UTF-8", false);
        w1 = prompt_text_wrong_pin(1);
        assert_non_null(strstr(w1, "One try is left"));
        w2 = prompt_text_wrong_pin(-1);
        assert_non_null(strstr(w2, "Wrong PIN"));
        locked_en = prompt_text_pin_locked("Tok");
        assert_non_null(strstr(locked_en, "“Tok”"));
        assert_non_null(strstr(locked_en, "Article 15"));
        assert_non_null(strstr(locked_en, "Department of Science and Technology"));
        miss = prompt_text_program_missing("/usr/bin/pinentry-foo", -ENOENT);
        assert_non_null(strstr(miss, "/usr/bin/pinentry-foo"));
        /* A file that is there but cannot be run (no execute permission, a text file) is not "not found":
         * the administrator would look for a package that is installed. */
        noexec = prompt_text_program_missing("/etc/passwd", -EACCES);
        assert_non_null(strstr(noexec, "/etc/passwd"));
        if (strstr(noexec, "not found") || !strstr(noexec, "cannot be run"))
                fail_msg("pinentry = /etc/passwd: '%s'", noexec);
        assert_int_equal(prompt_text_pinpad("Reader", &t), 0);
        assert_non_null(strstr(t.description, "on the reader"));
        prompt_text_done(&t);

        use_locale("vi_VN.UTF-8", true);
        locked_vi = prompt_text_pin_locked("Tok");
        assert_true(utf8_is_valid(locked_vi));
        assert_non_null(strstr(locked_vi, "Điều 15"));
        assert_non_null(strstr(locked_vi, "Sở Khoa học và Công nghệ"));
        assert_non_null(strstr(locked_vi, "nhập sai mật khẩu quá số lần quy định"));
        wvi = prompt_text_wrong_pin(2);
        assert_string_equal(wvi, "Sai mã PIN. Còn 2 lần thử.");
        assert_int_equal(prompt_text_pinpad("Reader", &t), 0);
        assert_non_null(strstr(t.description, "đầu đọc"));
        prompt_text_done(&t);
        use_locale("C.UTF-8", false);
}

static void test_sanitize(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        use_locale("C.UTF-8", false);
        /* A document name must not be able to add a fake "Certificate:" line to the prompt. */
        a = prompt_text_sanitize("x.pdf\nCertificate: Chủ tịch\r\t", 100);
        assert_null(strchr(a, '\n'));
        assert_null(strchr(a, '\r'));
        assert_null(strchr(a, '\t'));
        assert_string_equal(
                a, "x.pdf\xef\xbf\xbd"
                   "Certificate: Chủ tịch\xef\xbf\xbd\xef\xbf\xbd");
        /* Right-to-left override: "fdp.exe" shown reversed. */
        b = prompt_text_sanitize(
                "a\xe2\x80\xae"
                "exe.pdf",
                100);
        assert_string_equal(
                b, "a\xef\xbf\xbd"
                   "exe.pdf");
        c = prompt_text_sanitize("\xff\xc3(ok", 100);
        assert_true(utf8_is_valid(c));
        assert_non_null(strstr(c, "(ok"));
        d = prompt_text_sanitize("ươươươ", 3);
        assert_string_equal(d, "ươư…");
        e = prompt_text_sanitize(NULL, 10);
        assert_string_equal(e, "unknown");

        assert_true(utf8_is_valid("Uông Bí"));
        assert_false(utf8_is_valid("\xc0\xaf"));     /* overlong '/' */
        assert_false(utf8_is_valid("\xed\xa0\x80")); /* surrogate */
        assert_false(utf8_is_valid("\xe1\xba"));     /* cut short */
}

static void test_untrusted_fields_sanitized(void **state) {
        PromptRequest req = request;
        PromptDocument d = doc;
        PromptText t = {};

        d.name = "a.pdf\nCertificate: Fake";
        req.documents = &d;
        req.app_name = "evil\napp";
        use_locale("C.UTF-8", false);
        confirm_text(&req, &t);
        assert_null(strstr(t.description, "\nCertificate: Fake"));
        assert_null(strstr(t.description, "evil\napp"));
        prompt_text_done(&t);
}

static void test_pin_state_names(void **state) {
        for (PromptPinState s = 0; s < _PROMPT_PIN_STATE_MAX; s++)
                assert_int_equal(prompt_pin_state_from_string(prompt_pin_state_to_string(s)), s);
        assert_int_equal(prompt_pin_state_from_string("nope"), -EINVAL);
        assert_string_equal(prompt_reply_to_string(PROMPT_REPLY_CANCELLED), "cancelled");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_confirm_english),
                cmocka_unit_test(test_confirm_vietnamese),
                cmocka_unit_test(test_roles),
                cmocka_unit_test(test_final_try),
                cmocka_unit_test(test_batch),
                cmocka_unit_test(test_pin),
                cmocka_unit_test(test_messages),
                cmocka_unit_test(test_sanitize),
                cmocka_unit_test(test_untrusted_fields_sanitized),
                cmocka_unit_test(test_pin_state_names),
        };
        setenv("TZ", "UTC", 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
