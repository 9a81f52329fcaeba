/* Copies partitions into their future logs and swaps them in (see log_mover.h). */
#include "replica/log_mover.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* How much one step copies; between steps the other moves and the stop flag get their turn. */
#define STEP_BYTES (1u << 20)
/* The pause when no move made progress (the current logs were idle or being truncated). */
#define IDLE_WAIT_MS 50

struct move {
	struct partition *part;   /* referenced */
	struct log_ref *future;   /* referenced */
	uint64_t truncations;     /* of the current log, when the copy was last (re)started */
};

struct log_mover {
	struct log_manager *lm;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct move *moves;
	int n, cap;
	pthread_t thread;
	bool running, stop;
};

struct log_mover *log_mover_new(struct log_manager *lm)
{
	struct log_mover *m = xcalloc(1, sizeof *m);
	m->lm = lm;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	return m;
}

static bool same_partition(struct partition *p, const char *topic, size_t tl, int32_t partition)
{
	size_t len;
	const char *t = partition_topic(p, &len);
	return partition_index(p) == partition && len == tl && memcmp(t, topic, tl) == 0;
}

/* Take move i out of the list (lock held); the caller drops its references. */
static struct move take(struct log_mover *m, int i)
{
	struct move mv = m->moves[i];
	m->moves[i] = m->moves[--m->n];
	return mv;
}

static void drop(struct log_mover *m, struct move mv, bool abandon)
{
	size_t tl;
	const char *topic = partition_topic(mv.part, &tl);
	log_ref_put(mv.future);
	if (abandon)
		log_manager_abort_future(m->lm, topic, tl, partition_index(mv.part));
	partition_unref(mv.part);
}

/* One step of move mv (no lock held): true when it is finished, one way or the other. */
static bool step(struct log_mover *m, struct move *mv, bool *progress, bool *abandon)
{
	struct log *future = log_ref_log(mv->future);
	size_t tl;
	const char *topic = partition_topic(mv->part, &tl);
	int32_t index = partition_index(mv->part);
	int64_t before = log_end_offset(future);
	bool caught_up = false;
	/* A step reads within one segment; no more than a segment keeps the copy's segments alike. */
	struct log_config cfg;
	log_get_config(future, &cfg);
	size_t max = cfg.segment_bytes > 0 && (size_t)cfg.segment_bytes < STEP_BYTES ? (size_t)cfg.segment_bytes : STEP_BYTES;
	int16_t err = partition_copy_to_future(mv->part, future, &mv->truncations, max, &caught_up);
	if (err != KERR_NONE) {
		log_warn("Moving %.*s-%d stopped: %s", (int)tl, topic, index, kafka_error_name(err));
		*abandon = true;
		return true;
	}
	if (log_end_offset(future) != before)
		*progress = true;
	if (!caught_up)
		return false;
	/* Flushed before the swap, so the moved log is as durable as the one it replaces. */
	log_flush(future, wall_clock_ms());
	bool swapped = false;
	err = partition_swap_in_future(mv->part, m->lm, future, mv->truncations, &swapped);
	if (err != KERR_NONE) {
		log_warn("Moving %.*s-%d failed at the swap: %s", (int)tl, topic, index, kafka_error_name(err));
		*abandon = true;
		return true;
	}
	return swapped;
}

static void *mover_main(void *arg)
{
	struct log_mover *m = arg;
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		if (m->n == 0) {
			pthread_cond_wait(&m->wake, &m->lock);
			continue;
		}
		bool progress = false;
		for (int i = 0; i < m->n && !m->stop;) {
			/* The step runs unlocked on a private copy; a cancel meanwhile removes the entry. */
			struct move mv = m->moves[i];
			partition_ref(mv.part);
			struct log_ref *fut = log_ref_dup(mv.future);
			pthread_mutex_unlock(&m->lock);
			bool abandon = false;
			bool done = step(m, &mv, &progress, &abandon);
			log_ref_put(fut);
			pthread_mutex_lock(&m->lock);
			int at = -1;
			for (int k = 0; k < m->n; k++)
				if (m->moves[k].part == mv.part && m->moves[k].future == mv.future)
					at = k;
			if (at < 0) {
				partition_unref(mv.part);
				continue; /* cancelled meanwhile */
			}
			m->moves[at].truncations = mv.truncations;
			if (done) {
				struct move gone = take(m, at);
				pthread_mutex_unlock(&m->lock);
				partition_unref(mv.part);
				drop(m, gone, abandon);
				pthread_mutex_lock(&m->lock);
				i = 0;
				continue;
			}
			partition_unref(mv.part);
			i = at + 1;
		}
		if (!progress && m->n > 0 && !m->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += IDLE_WAIT_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&m->wake, &m->lock, &ts);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

void log_mover_add(struct log_mover *m, struct partition *p, struct log_ref *future)
{
	pthread_mutex_lock(&m->lock);
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->moves = xrealloc(m->moves, sizeof *m->moves * (size_t)m->cap);
	}
	m->moves[m->n++] = (struct move){ p, future, UINT64_MAX };
	if (!m->running && pthread_create(&m->thread, NULL, mover_main, m) == 0)
		m->running = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
}

void log_mover_cancel(struct log_mover *m, const char *topic, size_t topic_len, int32_t partition)
{
	pthread_mutex_lock(&m->lock);
	bool found = false;
	struct move mv;
	for (int i = 0; i < m->n && !found; i++)
		if (same_partition(m->moves[i].part, topic, topic_len, partition)) {
			mv = take(m, i);
			found = true;
		}
	pthread_mutex_unlock(&m->lock);
	if (found)
		drop(m, mv, true);
}

void log_mover_free(struct log_mover *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	if (m->running)
		pthread_join(m->thread, NULL);
	for (int i = 0; i < m->n; i++)
		drop(m, m->moves[i], false);
	free(m->moves);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
