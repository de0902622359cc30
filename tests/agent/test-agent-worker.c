/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kyso-test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "agent/agent-worker.h"

/* Counters shared with the worker threads. */
static int n_freed, n_running, max_running, n_cancel_hook;

typedef struct Job {
        int pipe[2]; /* run() blocks until a byte arrives (or the write end is closed) */
        bool block;
        pid_t run_tid;
        int value, result;
        int n_done;
        pid_t done_tid;
        WorkerJob **other; /* done() cancels this job, when set */
} Job;

static pid_t tid(void) {
        return (pid_t) syscall(SYS_gettid);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void job_run(void *data) {
        Job *j = data;
        int n = __atomic_add_fetch(&n_running, 1, __ATOMIC_SEQ_CST), m;

        while ((m = __atomic_load_n(&max_running, __ATOMIC_SEQ_CST)) < n &&
               !__atomic_compare_exchange_n(&max_running, &m, n, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                ;
        j->run_tid = tid();
        if (j->block) {
                char c;
                (void) read(j->pipe[0], &c, 1);
        }
        j->result = j->value * 2;
        __atomic_sub_fetch(&n_running, 1, __ATOMIC_SEQ_CST);
}

static void job_done(void *data, void *userdata) {
        Job *j = data;
        Job **slot = userdata;

        j->n_done++;
        j->done_tid = tid();
        if (j->other)
                *j->other = worker_job_cancel(*j->other);
        /* The test keeps a copy of what it checks: data is freed after done(). */
        if (slot)
                **slot = *j;
}

static void job_free(void *data) {
        Job *j = data;
        if (!j)
                return;
        safe_close(j->pipe[0]);
        safe_close(j->pipe[1]);
        free(j);
        __atomic_add_fetch(&n_freed, 1, __ATOMIC_SEQ_CST);
}

/* What a job whose run function waits on its own fd gives worker_job_set_cancel(): it ends the wait. */
static void job_cancel(void *data) {
        Job *j = data;
        __atomic_add_fetch(&n_cancel_hook, 1, __ATOMIC_SEQ_CST);
        assert_int_equal(write(j->pipe[1], "x", 1), 1);
}

static Job *job_new(int value, bool block) {
        Job *j = calloc(1, sizeof *j);
        assert_non_null(j);
        j->value = value;
        j->block = block;
        assert_int_equal(pipe2(j->pipe, O_CLOEXEC), 0);
        return j;
}

static void release(Job *j) {
        assert_int_equal(write(j->pipe[1], "x", 1), 1);
}

static int load(int *p) {
        return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

/* Runs the loop until *flag reaches want (or for timeout, when want < 0). */
static bool run_until(sd_event *e, int *flag, int want, uint64_t timeout_usec) {
        uint64_t end = now_usec() + timeout_usec;
        while (want < 0 || load(flag) < want) {
                if (now_usec() >= end)
                        return want < 0;
                assert_true(sd_event_run(e, 20 * 1000) >= 0);
        }
        return true;
}

static void wait_for(int *flag, int want) {
        uint64_t end = now_usec() + 10 * 1000000;
        while (load(flag) < want) {
                assert_true(now_usec() < end);
                usleep(5000);
        }
}

static void reset(void) {
        n_freed = n_running = max_running = n_cancel_hook = 0;
}

/* A fresh loop with a worker of n_threads, the counters at zero. */
static sd_event *start(unsigned n_threads, AgentWorker **ret) {
        sd_event *e = NULL;

        reset();
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(agent_worker_new(e, n_threads, ret), 0);
        return e;
}

/* Submits the test job j: done() copies it into *slot (when slot is not NULL). */
static void submit(AgentWorker *w, Job *j, Job **slot, WorkerJob **ret) {
        assert_int_equal(agent_worker_submit(w, job_run, job_done, job_free, j, slot, ret), 0);
}

static void test_results_on_the_loop(void **state) {
        AgentWorker *w = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = start(1, &w);
        Job copies[5] = {}, *slots[5];
        int n_done = 0;
        (void) state;

        for (int i = 0; i < 5; i++) {
                slots[i] = &copies[i];
                submit(w, job_new(i + 1, false), &slots[i], NULL);
        }
        assert_true(run_until(e, &n_freed, 5, 10 * 1000000));
        for (int i = 0; i < 5; i++) {
                n_done += copies[i].n_done;
                assert_int_equal(copies[i].result, 2 * (i + 1));
                assert_int_not_equal(copies[i].run_tid, tid()); /* ran on a worker thread */
                assert_int_equal(copies[i].done_tid, tid());    /* done on the loop's thread */
        }
        assert_int_equal(n_done, 5);
        agent_worker_free(w);
}

/* A job that waits does not hold up the loop: a timer fires meanwhile. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        int *n = userdata;
        (void) usec;
        (*n)++;
        return sd_event_source_set_time_relative(s, 10 * 1000);
}

static void test_loop_serves_while_a_job_waits(void **state) {
        AgentWorker *w = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = start(2, &w);
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        Job copy = {}, *slot = &copy, *j;
        int ticks = 0;
        (void) state;

        assert_int_equal(
                sd_event_add_time_relative(e, &timer, CLOCK_MONOTONIC, 10 * 1000, 0, on_timer, &ticks), 0);
        assert_int_equal(sd_event_source_set_enabled(timer, SD_EVENT_ON), 0);
        j = job_new(21, true);
        submit(w, j, &slot, NULL);
        assert_true(run_until(e, &ticks, 10, 5 * 1000000));
        assert_int_equal(copy.n_done, 0);
        release(j);
        assert_true(run_until(e, &copy.n_done, 1, 5 * 1000000));
        assert_int_equal(copy.result, 42);
        agent_worker_free(w);
}

static void test_cancel_running(void **state) {
        AgentWorker *w = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = start(1, &w);
        WorkerJob *job = NULL;
        Job copy = {}, *slot = &copy, *j;
        int pipe1;
        (void) state;

        j = job_new(1, true);
        pipe1 = j->pipe[1];
        submit(w, j, &slot, &job);
        wait_for(&n_running, 1);
        assert_null(worker_job_cancel(job));
        assert_int_equal(write(pipe1, "x", 1), 1);
        /* The thread frees a cancelled job's data itself; done is never called. */
        wait_for(&n_freed, 1);
        assert_true(run_until(e, &copy.n_done, -1, 200 * 1000));
        assert_int_equal(copy.n_done, 0);
        agent_worker_free(w);
}

/* A job that would wait forever (nobody else releases it) gives its only thread back when cancelled: the
 * next job runs. */
static void test_cancel_hook_frees_the_thread(void **state) {
        AgentWorker *w = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = start(1, &w);
        WorkerJob *job = NULL, *queued = NULL;
        Job copies[3] = {}, *slots[3] = { &copies[0], &copies[1], &copies[2] };
        (void) state;

        submit(w, job_new(1, true), &slots[0], &job);
        worker_job_set_cancel(job, job_cancel);
        submit(w, job_new(2, true), &slots[1], &queued);
        worker_job_set_cancel(queued, job_cancel);
        submit(w, job_new(3, false), &slots[2], NULL);
        wait_for(&n_running, 1);
        /* Queued: never runs, so nothing to interrupt. */
        worker_job_cancel(queued);
        assert_int_equal(load(&n_cancel_hook), 0);
        assert_int_equal(load(&n_freed), 1);
        worker_job_cancel(job);
        assert_int_equal(load(&n_cancel_hook), 1);
        assert_true(run_until(e, &copies[2].n_done, 1, 5 * 1000000));
        assert_int_equal(copies[2].result, 6);
        assert_int_equal(copies[0].n_done + copies[1].n_done, 0);
        assert_int_equal(load(&n_freed), 3);
        agent_worker_free(w);
}

static void test_cancel_queued(void **state) {
        AgentWorker *w = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = start(1, &w);
        WorkerJob *second = NULL;
        Job copies[2] = {}, *slots[2] = { &copies[0], &copies[1] }, *first;
        (void) state;

        first = job_new(1, true);
        submit(w, first, &slots[0], NULL);
        submit(w, job_new(2, false), &slots[1], &second);
        wait_for(&n_running, 1);
        /* Still queued behind the first (one thread): freed at once, never run. */
        worker_job_cancel(second);
        assert_int_equal(load(&n_freed), 1);
        release(first);
        assert_true(run_until(e, &copies[0].n_done, 1, 5 * 1000000));
        assert_true(run_until(e, &copies[1].n_done, -1, 200 * 1000));
        assert_int_equal(copies[1].n_done, 0);
        assert_int_equal(copies[1].run_tid, 0);
        assert_int_equal(load(&n_freed), 2);
        agent_worker_free(w);
}

static void test_bounded_threads(void **state) {
        AgentWorker *w = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = start(2, &w);
        Job *jobs[4];
        (void) state;

        for (int i = 0; i < 4; i++) {
                jobs[i] = job_new(i, true);
                assert_int_equal(agent_worker_submit(w, job_run, NULL, job_free, jobs[i], NULL, NULL), 0);
        }
        wait_for(&n_running, 2);
        usleep(100 * 1000);
        assert_int_equal(load(&n_running), 2);
        /* The queued jobs start as the first ones end. */
        for (int i = 0; i < 4; i++)
                release(jobs[i]);
        assert_true(run_until(e, &n_freed, 4, 10 * 1000000));
        assert_int_equal(load(&max_running), 2);
        agent_worker_free(w);
}

static void test_done_cancels_a_finished_job(void **state) {
        AgentWorker *w = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = start(2, &w);
        WorkerJob *h[2] = {};
        Job copies[2] = {}, *slots[2] = { &copies[0], &copies[1] }, *j[2];
        (void) state;

        for (int i = 0; i < 2; i++)
                j[i] = job_new(i, true);
        j[0]->other = &h[1];
        j[1]->other = &h[0];
        for (int i = 0; i < 2; i++)
                submit(w, j[i], &slots[i], &h[i]);
        wait_for(&n_running, 2);
        release(j[0]);
        release(j[1]);
        /* Both finish before the loop looks: the first done() cancels the other, whose done never comes. */
        while (load(&n_running) > 0)
                usleep(5000);
        assert_true(run_until(e, &n_freed, 2, 5 * 1000000));
        assert_int_equal(copies[0].n_done + copies[1].n_done, 1);
        agent_worker_free(w);
}

static void test_free_with_a_running_job(void **state) {
        AgentWorker *w = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = start(2, &w);
        Job *j;
        int pipe1;
        (void) state;

        j = job_new(1, true);
        pipe1 = j->pipe[1];
        submit(w, j, NULL, NULL);
        submit(w, job_new(2, true), NULL, NULL);
        submit(w, job_new(3, true), NULL, NULL);
        wait_for(&n_running, 2);
        /* Nothing waits for the running jobs; the queued one is freed at once. */
        assert_null(agent_worker_free(w));
        assert_int_equal(load(&n_freed), 1);
        assert_int_equal(write(pipe1, "x", 1), 1);
        wait_for(&n_freed, 2);
        /* The other one is still blocked: its thread holds its data (found by LeakSanitizer as reachable).
         */
        usleep(50 * 1000);
        assert_int_equal(load(&n_freed), 2);
}

KYSO_TEST_MAIN({
        cmocka_unit_test(test_results_on_the_loop),
        cmocka_unit_test(test_loop_serves_while_a_job_waits),
        cmocka_unit_test(test_cancel_running),
        cmocka_unit_test(test_cancel_hook_frees_the_thread),
        cmocka_unit_test(test_cancel_queued),
        cmocka_unit_test(test_bounded_threads),
        cmocka_unit_test(test_done_cancels_a_finished_job),
        cmocka_unit_test(test_free_with_a_running_job),
});
