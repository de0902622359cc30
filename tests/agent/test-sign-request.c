/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include "agent/sign-request.h"

/* The way a request goes when all goes well, with a wrong PIN on the way, and each of its moves accepted. */
static void test_path(void **state) {
        static const RequestState path[] = {
                REQ_QUEUED,  REQ_VALIDATING,  REQ_CHECKING, REQ_WAIT_PROMPT, REQ_CONFIRM,  REQ_PIN,
                REQ_SIGNING, REQ_WAIT_PROMPT, REQ_PIN,      REQ_SIGNING,     REQ_FINISHED,
        };
        SignRequest *r = request_new(NULL);

        assert_non_null(r);
        assert_int_equal(r->state, REQ_QUEUED);
        for (size_t i = 1; i < ELEMENTSOF(path); i++) {
                assert_int_equal(request_set_state(r, path[i]), 0);
                assert_int_equal(r->state, path[i]);
        }
        request_free(r);
}

/* A move the table does not list is refused and changes nothing: a request never signs unapproved. */
static void test_refused(void **state) {
        static const struct {
                RequestState from, to;
        } bad[] = {
                { REQ_QUEUED, REQ_SIGNING },      { REQ_QUEUED, REQ_CHECKING },
                { REQ_VALIDATING, REQ_PIN },      { REQ_CHECKING, REQ_SIGNING },
                { REQ_PIN, REQ_CONFIRM },         { REQ_SIGNING, REQ_QUEUED },
                { REQ_COLLECTING, REQ_CHECKING }, { REQ_FINISHED, REQ_QUEUED },
                { REQ_FINISHED, REQ_SIGNING },    { REQ_QUEUED, _REQ_STATE_MAX },
        };
        SignRequest *r = request_new(NULL);

        assert_non_null(r);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                r->state = bad[i].from;
                assert_int_equal(request_set_state(r, bad[i].to), -EINVAL);
                assert_int_equal(r->state, bad[i].from);
        }
        request_free(r);
}

/* Any state may end: a failure or a cancel finishes a request wherever it is. */
static void test_finish_from_anywhere(void **state) {
        SignRequest *r = request_new(NULL);

        assert_non_null(r);
        for (RequestState s = 0; s < REQ_FINISHED; s++) {
                r->state = s;
                assert_int_equal(request_set_state(r, REQ_FINISHED), 0);
                assert_int_equal(r->state, REQ_FINISHED);
        }
        assert_string_equal(request_state_to_string(REQ_WAIT_PROMPT), "wait-prompt");
        assert_null(request_state_to_string(_REQ_STATE_MAX));
        assert_string_equal(doc_status_to_string(DOC_CANCELLED), "cancelled");
        request_free(r);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_finish_from_anywhere),
});
