/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* AgentWorker: runs jobs that may wait a long time (OCSP, CRL and time-stamp requests over the network) on
 * threads, and hands each result back to the agent's sd-event loop, so the loop keeps serving meanwhile.
 *
 * A job's data belongs to the job: its run function, on a worker thread, touches nothing else (the data
 * holds references or copies of what it reads). A cancelled job's result is dropped: its done function is
 * never called, and its data is freed once the run function has returned, on whichever thread that happens.
 */

#include <systemd/sd-event.h>

typedef struct AgentWorker AgentWorker;
typedef struct WorkerJob WorkerJob;

typedef void (*WorkerRunFunc)(void *data);                  /* on a worker thread */
typedef void (*WorkerDoneFunc)(void *data, void *userdata); /* on the loop, unless cancelled */
typedef void (*WorkerFreeFunc)(void *data);                 /* on any thread, after run (or instead of it) */
typedef void (*WorkerCancelFunc)(void *data);               /* on the loop, while run runs */

/* At most max_threads jobs run at once (threads are started when needed and end when idle for a while);
 * the others wait in submission order. */
int agent_worker_new(sd_event *event, unsigned max_threads, AgentWorker **ret);
/* Cancels every job. Nothing waits for the running ones: they end on their threads (a blocked network call
 * when its timeout expires), which then free their data. */
AgentWorker *agent_worker_free(AgentWorker *w);

/* Queues run(data) on a thread, then done(data, userdata) on the loop, then free_data(data). On success the
 * worker owns data (freed with free_data also when the job is cancelled); on failure the caller keeps it.
 * *ret (may be NULL) names the job until done is called or the job is cancelled. */
int agent_worker_submit(
        AgentWorker *w, WorkerRunFunc run, WorkerDoneFunc done, WorkerFreeFunc free_data, void *data,
        void *userdata, WorkerJob **ret);

/* On the loop, before any worker_job_cancel(j): a job whose run function may wait on something only its
 * data can interrupt (a pipe whose writer never closes it) gets cancel(data) when it is cancelled while it
 * runs, so that it can end early and give its thread back. cancel must not block; data is alive meanwhile.
 */
void worker_job_set_cancel(WorkerJob *j, WorkerCancelFunc cancel);

/* On the loop: the job's done function will not be called. NULL-safe; returns NULL. */
WorkerJob *worker_job_cancel(WorkerJob *j);
