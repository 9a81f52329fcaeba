/* One thread, one FIFO of admin jobs (see admin_executor.h). */
#include "server/admin_executor.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "samsa/util/xalloc.h"

struct job {
	struct job *next;
	struct request *req;
	admin_job_fn fn;
};

struct admin_executor {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool stop;
};

static void *executor_main(void *arg)
{
	struct admin_executor *ex = arg;
	for (;;) {
		pthread_mutex_lock(&ex->lock);
		while (!ex->head && !ex->stop)
			pthread_cond_wait(&ex->cond, &ex->lock);
		struct job *j = ex->head;
		if (j) {
			ex->head = j->next;
			if (!ex->head)
				ex->tail = NULL;
		}
		pthread_mutex_unlock(&ex->lock);
		if (!j)
			return NULL; /* stopping and drained */
		j->fn(j->req);
		free(j);
	}
}

struct admin_executor *admin_executor_start(void)
{
	struct admin_executor *ex = xcalloc(1, sizeof *ex);
	pthread_mutex_init(&ex->lock, NULL);
	pthread_cond_init(&ex->cond, NULL);
	pthread_create(&ex->thread, NULL, executor_main, ex);
	return ex;
}

void admin_executor_stop(struct admin_executor *ex)
{
	if (!ex)
		return;
	pthread_mutex_lock(&ex->lock);
	ex->stop = true;
	pthread_cond_signal(&ex->cond);
	pthread_mutex_unlock(&ex->lock);
	pthread_join(ex->thread, NULL);
}

void admin_executor_free(struct admin_executor *ex)
{
	if (!ex)
		return;
	pthread_mutex_destroy(&ex->lock);
	pthread_cond_destroy(&ex->cond);
	free(ex);
}

void admin_executor_submit(struct admin_executor *ex, struct request *req, admin_job_fn fn)
{
	pthread_mutex_lock(&ex->lock);
	if (ex->stop) {
		pthread_mutex_unlock(&ex->lock);
		fn(req);
		return;
	}
	struct job *j = xcalloc(1, sizeof *j);
	j->req = req;
	j->fn = fn;
	if (ex->tail)
		ex->tail->next = j;
	else
		ex->head = j;
	ex->tail = j;
	pthread_cond_signal(&ex->cond);
	pthread_mutex_unlock(&ex->lock);
}
