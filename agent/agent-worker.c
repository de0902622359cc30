/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>

#include "agent-worker.h"
#include "macro.h"

/* A thread with nothing to do ends after this long; the next job starts a new one. */
#define WORKER_IDLE_SEC 30

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_FINISHED,
} JobState;

typedef struct WorkerCore WorkerCore;

struct WorkerJob {
        WorkerCore *core;
        WorkerJob *next; /* in the queue or in the finished list */
        WorkerRunFunc run;
        WorkerDoneFunc done;
        WorkerFreeFunc free_data;
        WorkerCancelFunc cancel; /* set and called on the loop, under the core's lock */
        void *data, *userdata;
        locale_t locale; /* the submitter's: a job's messages are in the language of whom it works for */
        JobState state;  /* under the core's lock */
        bool cancelled;  /* under the core's lock */
};

/* What the threads share with the loop. It outlives the AgentWorker while threads still run: each thread
 * holds a reference, so a thread blocked in a network call at exit finds it intact when it returns. */
struct WorkerCore {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        unsigned n_ref;
        WorkerJob *queue, **queue_tail;
        size_t n_queued;
        WorkerJob *finished, **finished_tail;
        int efd;
        unsigned n_threads, n_idle, max_threads;
        bool closed; /* the AgentWorker is gone: threads free what they finish */
};

struct AgentWorker {
        WorkerCore *core;
        sd_event_source *source;
};

static void job_free(WorkerJob *j) {
        if (!j)
                return;
        if (j->free_data)
                j->free_data(j->data);
        free(j);
}

static void job_list_free(WorkerJob *j) {
        while (j) {
                WorkerJob *next = j->next;
                job_free(j);
                j = next;
        }
}

static void core_unref_locked(WorkerCore *c) {
        bool last = --c->n_ref == 0;

        pthread_mutex_unlock(&c->lock);
        if (!last)
                return;
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        safe_close(c->efd);
        free(c);
}

static WorkerJob *queue_pop(WorkerCore *c) {
        WorkerJob *j = c->queue;

        if (!j)
                return NULL;
        c->queue = j->next;
        if (!c->queue)
                c->queue_tail = &c->queue;
        c->n_queued--;
        j->next = NULL;
        return j;
}

/* Called with the lock held. True when j was still queued (and is now out of the queue). */
static bool queue_remove(WorkerCore *c, WorkerJob *j) {
        for (WorkerJob **p = &c->queue; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        if (!*p)
                                c->queue_tail = p;
                        c->n_queued--;
                        j->next = NULL;
                        return true;
                }
        return false;
}

static void *worker_thread(void *userdata) {
        WorkerCore *c = userdata;

        pthread_mutex_lock(&c->lock);
        for (;;) {
                WorkerJob *j;

                while (!c->queue && !c->closed) {
                        struct timespec until;
                        int r;

                        clock_gettime(CLOCK_MONOTONIC, &until);
                        until.tv_sec += WORKER_IDLE_SEC;
                        c->n_idle++;
                        r = pthread_cond_timedwait(&c->wake, &c->lock, &until);
                        c->n_idle--;
                        if (r == ETIMEDOUT && !c->queue)
                                goto out;
                }
                j = queue_pop(c);
                if (!j)
                        break; /* closed */
                j->state = JOB_RUNNING;
                pthread_mutex_unlock(&c->lock);

                locale_t saved = uselocale(j->locale);
                j->run(j->data);
                (void) uselocale(saved);

                pthread_mutex_lock(&c->lock);
                j->state = JOB_FINISHED;
                if (c->closed || j->cancelled) {
                        /* Nobody waits for this result. */
                        pthread_mutex_unlock(&c->lock);
                        job_free(j);
                        pthread_mutex_lock(&c->lock);
                        continue;
                }
                *c->finished_tail = j;
                c->finished_tail = &j->next;
                (void) eventfd_write(c->efd, 1);
        }
out:
        c->n_threads--;
        core_unref_locked(c);
        return NULL;
}

/* Called with the lock held. */
static int thread_start(WorkerCore *c) {
        pthread_attr_t attr;
        sigset_t all, saved;
        pthread_t t;
        int r;

        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r != 0) {
                pthread_attr_destroy(&attr);
                return -r;
        }
        /* Signals stay with the loop (sd-event's signal and child sources need them blocked everywhere). */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        c->n_threads++;
        c->n_ref++;
        r = pthread_create(&t, &attr, worker_thread, c);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                c->n_threads--;
                c->n_ref--;
                return -r;
        }
        return 0;
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        AgentWorker *w = userdata;
        WorkerCore *c = w->core;
        WorkerJob *list;
        eventfd_t v;
        (void) s;
        (void) revents;

        (void) eventfd_read(fd, &v);
        pthread_mutex_lock(&c->lock);
        list = c->finished;
        c->finished = NULL;
        c->finished_tail = &c->finished;
        pthread_mutex_unlock(&c->lock);

        while (list) {
                WorkerJob *j = list;
                list = j->next;
                /* A done function may cancel a job further down this list: it only sets the flag. */
                if (!j->cancelled && j->done) {
                        locale_t saved = uselocale(j->locale);
                        j->done(j->data, j->userdata);
                        (void) uselocale(saved);
                }
                job_free(j);
        }
        return 0;
}

int agent_worker_new(sd_event *event, unsigned max_threads, AgentWorker **ret) {
        _cleanup_free_ AgentWorker *w = NULL;
        WorkerCore *c;
        pthread_condattr_t ca;
        int r;

        if (max_threads == 0)
                return -EINVAL;
        w = calloc(1, sizeof *w);
        c = calloc(1, sizeof *c);
        if (!w || !c) {
                free(c);
                return -ENOMEM;
        }
        c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->efd < 0) {
                r = negative_errno();
                free(c);
                return r;
        }
        pthread_mutex_init(&c->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&c->wake, &ca);
        pthread_condattr_destroy(&ca);
        c->queue_tail = &c->queue;
        c->finished_tail = &c->finished;
        c->max_threads = max_threads;
        c->n_ref = 1;
        w->core = c;

        r = sd_event_add_io(event, &w->source, c->efd, EPOLLIN, on_wake, w);
        if (r < 0) {
                pthread_mutex_lock(&c->lock);
                core_unref_locked(c);
                return r;
        }
        (void) sd_event_source_set_description(w->source, "agent-worker");
        *ret = TAKE_PTR(w);
        return 0;
}

AgentWorker *agent_worker_free(AgentWorker *w) {
        WorkerJob *queued, *finished;
        WorkerCore *c;

        if (!w)
                return NULL;
        c = w->core;
        w->source = sd_event_source_disable_unref(w->source);

        pthread_mutex_lock(&c->lock);
        c->closed = true;
        queued = c->queue;
        c->queue = NULL;
        c->queue_tail = &c->queue;
        c->n_queued = 0;
        finished = c->finished;
        c->finished = NULL;
        c->finished_tail = &c->finished;
        pthread_cond_broadcast(&c->wake);
        core_unref_locked(c);

        job_list_free(queued);
        job_list_free(finished);
        free(w);
        return NULL;
}

int agent_worker_submit(
        AgentWorker *w, WorkerRunFunc run, WorkerDoneFunc done, WorkerFreeFunc free_data, void *data,
        void *userdata, WorkerJob **ret) {
        WorkerCore *c;
        WorkerJob *j;
        int r = 0;

        if (!w || !run)
                return -EINVAL;
        c = w->core;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        *j = (WorkerJob){
                .core = c,
                .run = run,
                .done = done,
                .free_data = free_data,
                .data = data,
                .userdata = userdata,
                .locale = uselocale((locale_t) 0),
                .state = JOB_QUEUED,
        };

        pthread_mutex_lock(&c->lock);
        *c->queue_tail = j;
        c->queue_tail = &j->next;
        c->n_queued++;
        if (c->n_queued > c->n_idle && c->n_threads < c->max_threads) {
                r = thread_start(c);
                if (r < 0 && c->n_threads == 0) {
                        /* Nobody would ever run it: give it back. */
                        (void) queue_remove(c, j);
                        pthread_mutex_unlock(&c->lock);
                        free(j);
                        return r;
                }
        }
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        if (ret)
                *ret = j;
        return 0;
}

void worker_job_set_cancel(WorkerJob *j, WorkerCancelFunc cancel) {
        WorkerCore *c = j->core;

        pthread_mutex_lock(&c->lock);
        j->cancel = cancel;
        pthread_mutex_unlock(&c->lock);
}

WorkerJob *worker_job_cancel(WorkerJob *j) {
        WorkerCore *c;
        bool unqueued = false;

        if (!j)
                return NULL;
        c = j->core;
        pthread_mutex_lock(&c->lock);
        if (!j->cancelled && j->state == JOB_RUNNING && j->cancel)
                /* Under the lock: the thread frees data only after it has marked the job finished. */
                j->cancel(j->data);
        j->cancelled = true;
        if (j->state == JOB_QUEUED)
                unqueued = queue_remove(c, j); /* not started: it never takes a thread */
        pthread_mutex_unlock(&c->lock);
        if (unqueued)
                job_free(j);
        /* Running: its thread frees it. Finished: on_wake() frees it without calling done. */
        return NULL;
}
