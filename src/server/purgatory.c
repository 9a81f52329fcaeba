/* Delayed requests and their one thread (see purgatory.h). */
#include "server/purgatory.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "util/clock.h"

struct waiter {
	void *op;
	int64_t deadline_ms;
	delayed_try_fn try_fn;
};

struct purgatory {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stopping;
	bool dirty;            /* notified since the last pass */
	struct waiter *incoming; /* added since the last pass; tried on the thread */
	int n_incoming, cap_incoming;
	struct waiter *waiting;  /* the thread's own list */
	int n_waiting, cap_waiting;
	int size;
};

static void push(struct waiter **arr, int *n, int *cap, struct waiter w)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*arr = xrealloc(*arr, sizeof **arr * (size_t)*cap);
	}
	(*arr)[(*n)++] = w;
}

/* One pass over the waiting list: retry (or expire) each; keep the rest. */
static void sweep(struct purgatory *p, bool retry_all, int64_t now, bool expire_all)
{
	int kept = 0;
	for (int i = 0; i < p->n_waiting; i++) {
		struct waiter w = p->waiting[i];
		bool expired = expire_all || now >= w.deadline_ms;
		bool done = (retry_all || expired) && w.try_fn(w.op, expired);
		if (!done && expired) {
			log_error("A delayed operation did not complete at its deadline; dropped");
			done = true;
		}
		if (!done)
			p->waiting[kept++] = w;
	}
	p->n_waiting = kept;
}

static void *purgatory_main(void *arg)
{
	struct purgatory *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && !p->dirty && p->n_incoming == 0) {
			int64_t next = -1;
			for (int i = 0; i < p->n_waiting; i++)
				if (next < 0 || p->waiting[i].deadline_ms < next)
					next = p->waiting[i].deadline_ms;
			if (next < 0) {
				pthread_cond_wait(&p->cond, &p->lock);
				continue;
			}
			if (next <= wall_clock_ms())
				break;
			struct timespec ts = { .tv_sec = next / 1000, .tv_nsec = (long)(next % 1000) * 1000000 };
			if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) != 0)
				break;
		}
		bool stopping = p->stopping, dirty = p->dirty;
		p->dirty = false;
		for (int i = 0; i < p->n_incoming; i++)
			push(&p->waiting, &p->n_waiting, &p->cap_waiting, p->incoming[i]);
		bool fresh = p->n_incoming > 0;
		p->n_incoming = 0;
		pthread_mutex_unlock(&p->lock);

		sweep(p, dirty || fresh, wall_clock_ms(), stopping);

		pthread_mutex_lock(&p->lock);
		p->size = p->n_waiting + p->n_incoming;
		if (stopping && p->n_incoming == 0)
			break;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct purgatory *purgatory_start(void)
{
	struct purgatory *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, purgatory_main, p) != 0) {
		log_error("Cannot start the purgatory thread");
		abort();
	}
	return p;
}

void purgatory_stop(struct purgatory *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	bool running = !p->stopping;
	p->stopping = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (running)
		pthread_join(p->thread, NULL);
}

void purgatory_free(struct purgatory *p)
{
	if (!p)
		return;
	purgatory_stop(p);
	free(p->incoming);
	free(p->waiting);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void purgatory_add(struct purgatory *p, void *op, int64_t deadline_ms, delayed_try_fn try_fn)
{
	struct waiter w = { op, deadline_ms, try_fn };
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		/* Shutting down: nothing waits any more. */
		pthread_mutex_unlock(&p->lock);
		if (!try_fn(op, true))
			log_error("A delayed operation did not complete at shutdown; dropped");
		return;
	}
	push(&p->incoming, &p->n_incoming, &p->cap_incoming, w);
	p->size++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void purgatory_notify(struct purgatory *p)
{
	pthread_mutex_lock(&p->lock);
	if (!p->dirty && p->size > 0) {
		p->dirty = true;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

int purgatory_size(struct purgatory *p)
{
	pthread_mutex_lock(&p->lock);
	int n = p->size;
	pthread_mutex_unlock(&p->lock);
	return n;
}
