/*
 * Replica fetcher threads (see fetcher.h).
 *
 * Each thread owns the partitions led by one broker.  A round: snapshot the
 * partitions (fetch offset = our log end, last fetched epoch = our latest
 * epoch), send one sessionless Fetch v12 with replica_id set, then append
 * each partition's whole batches, move its high watermark to min(leader's,
 * ours), follow the leader's log start offset, and truncate where the leader
 * reports a diverging epoch.  Each partition's answer is applied under its
 * follower lease at the epoch the fetch was made for, so an answer that
 * arrives after LeaderAndIsr moved the partition is dropped, not appended.
 * The manager's lock is never held across a log write.
 */
#include "samsa/replica.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samsa/client.h"
#include "samsa/log.h"
#include "replica/fetcher_truncation.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/util/clock.h"

#define FETCH_VERSION 12

struct fpart {
	char *topic;
	size_t topic_len;
	int32_t partition;
	int32_t leader_epoch;
	struct partition *part; /* referenced */
	int64_t backoff_until;
	int64_t lag;            /* leader's high watermark minus our log end after the last fetch; -1 unknown */
};

struct fthread {
	struct fetcher_manager *fm;
	int32_t leader;
	int fetcher_id;  /* which of num.replica.fetchers threads for this leader */
	pthread_t tid;
	pthread_cond_t wake;
	bool stop;
	struct fpart *parts;
	int n, cap;
};

struct fetcher_manager {
	pthread_mutex_t lock;
	struct fetcher_config cfg;
	struct fthread **threads;
	int n_threads;
};

static void fpart_clear(struct fpart *p)
{
	free(p->topic);
	partition_unref(p->part);
}

static int find_part(const struct fthread *t, const char *topic, size_t len, int32_t partition)
{
	for (int i = 0; i < t->n; i++)
		if (t->parts[i].partition == partition && t->parts[i].topic_len == len &&
		    memcmp(t->parts[i].topic, topic, len) == 0)
			return i;
	return -1;
}

/* Whole batches at the front of a fetched records blob (the leader may cut the last one). */
static size_t whole_batches(const uint8_t *p, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		int64_t base;
		uint32_t size;
		int8_t magic;
		if (!record_batch_peek(p + pos, len - pos, &base, &size, &magic) || size > len - pos)
			break;
		pos += size;
	}
	return pos;
}

/*
 * Apply one partition's answer under its follower lease (l->log is its log);
 * returns when it may be fetched again (0: at once).
 */
static int64_t apply_partition(struct fthread *t, const struct fpart *fp, struct partition_lease *lease,
			       const struct fetch_response_partition_data *pd, int64_t fetched_from)
{
	struct fetcher_manager *fm = t->fm;
	struct log *l = lease->log;
	int64_t now = wall_clock_ms();
	struct fetcher_answer ans = {
		.error = pd->error_code,
		.high_watermark = pd->high_watermark,
		.log_start_offset = pd->log_start_offset,
		.diverging_epoch = pd->diverging_epoch.epoch,
		.diverging_end_offset = pd->diverging_epoch.end_offset,
	};
	struct fetcher_local loc = { .log_end_offset = log_end_offset(l), .fetched_from = fetched_from };
	struct fetcher_decision d = fetcher_decide(&ans, &loc);
	switch (d.action) {
	case FETCHER_APPEND:
		break;
	case FETCHER_FETCH_AGAIN:
		return 0;
	case FETCHER_BACK_OFF:
		return now + fm->cfg.backoff_ms;
	case FETCHER_TRUNCATE_FULLY:
		log_info("Replica %d: %.*s-%d is behind the leader's log start %" PRId64 "; starting there",
			 fm->cfg.broker_id, (int)fp->topic_len, fp->topic, fp->partition, d.offset);
		log_truncate_fully_and_start_at(l, d.offset, now);
		return 0;
	case FETCHER_TRUNCATE: {
		bool cut = false;
		log_truncate_to(l, d.offset, now, &cut);
		if (pd->error_code == KERR_OFFSET_OUT_OF_RANGE)
			log_info("Replica %d: %.*s-%d is ahead of the leader; truncated to its high watermark %" PRId64,
				 fm->cfg.broker_id, (int)fp->topic_len, fp->topic, fp->partition, d.offset);
		else
			log_info("Replica %d: %.*s-%d diverged from the leader at epoch %d; truncated to %" PRId64,
				 fm->cfg.broker_id, (int)fp->topic_len, fp->topic, fp->partition,
				 pd->diverging_epoch.epoch, d.offset);
		return 0;
	}
	}
	size_t n = pd->records.ptr && pd->records.len > 0 ? whole_batches(pd->records.ptr, (size_t)pd->records.len) : 0;
	if (n > 0) {
		struct log_append_info ai;
		/* The response frame is ours until the next call on this connection. */
		int err = partition_append_as_follower(lease, (uint8_t *)pd->records.ptr, n, now, &ai);
		if (err != KERR_NONE) {
			log_warn("Replica %d: appending to %.*s-%d from leader %d failed: %s", fm->cfg.broker_id,
				 (int)fp->topic_len, fp->topic, fp->partition, t->leader, kafka_error_name((int16_t)err));
			return now + fm->cfg.backoff_ms;
		}
	}
	int64_t hw = fetcher_high_watermark(pd->high_watermark, log_end_offset(l), log_high_watermark(l));
	if (hw >= 0)
		log_set_high_watermark(l, hw);
	int64_t start = fetcher_log_start(pd->log_start_offset, log_start_offset(l), log_high_watermark(l));
	if (start >= 0) {
		int64_t low;
		log_delete_records(l, start, &low);
	}
	return 0;
}

/* One fetch round; false when the connection failed. */
static bool fetch_round(struct fthread *t, struct kclient *kc)
{
	struct fetcher_manager *fm = t->fm;
	struct arena a;
	arena_init(&a);
	int64_t now = wall_clock_ms();

	/* A snapshot of what to fetch, each partition referenced, so no lock is held while we wait or write. */
	pthread_mutex_lock(&fm->lock);
	int n = 0;
	int cap = t->n ? t->n : 1;
	struct fetch_request_fetch_topic *topics = arena_alloc(&a, sizeof *topics * (size_t)cap);
	struct fpart *snap = arena_alloc(&a, sizeof *snap * (size_t)cap);
	int64_t *from = arena_alloc(&a, sizeof *from * (size_t)cap);
	const struct fetcher_throttle *th = &fm->cfg.throttle;
	bool over = th->exceeded && th->exceeded(th->arg, now);
	for (int i = 0; i < t->n; i++) {
		struct fpart *p = &t->parts[i];
		if (p->backoff_until > now)
			continue;
		if (over && p->lag != 0 && th->throttled(th->arg, p->topic, p->topic_len, p->partition)) {
			/* Kafka leaves it out of this fetch; the thread waits replica.fetch.backoff.ms when none is left. */
			p->backoff_until = now + fm->cfg.backoff_ms;
			continue;
		}
		struct partition_lease lease;
		if (partition_lease_follower(p->part, p->leader_epoch, &lease) != KERR_NONE)
			continue; /* LeaderAndIsr moved it; the fetcher list follows shortly */
		struct log *l = lease.log;
		struct fetch_request_fetch_topic *ft = &topics[n];
		fetch_request_fetch_topic_init(ft);
		ft->topic = (struct kstr){ arena_strndup(&a, p->topic, p->topic_len), (int32_t)p->topic_len };
		ft->partitions = arena_alloc(&a, sizeof *ft->partitions);
		ft->partitions_count = 1;
		struct fetch_request_fetch_partition *pp = &ft->partitions[0];
		fetch_request_fetch_partition_init(pp);
		pp->partition = p->partition;
		pp->current_leader_epoch = p->leader_epoch;
		pp->fetch_offset = from[n] = log_end_offset(l);
		pp->last_fetched_epoch = log_latest_epoch(l);
		pp->log_start_offset = log_start_offset(l);
		pp->partition_max_bytes = fm->cfg.partition_max_bytes;
		partition_lease_release(&lease);
		snap[n] = *p;
		snap[n].topic = (char *)ft->topic.ptr;
		partition_ref(p->part);
		snap[n].backoff_until = 0;
		n++;
	}
	pthread_mutex_unlock(&fm->lock);
	if (n == 0) {
		arena_free(&a);
		return true;
	}

	struct fetch_request req;
	fetch_request_init(&req);
	req.replica_id = fm->cfg.broker_id;
	req.max_wait_ms = fm->cfg.max_wait_ms;
	req.min_bytes = fm->cfg.min_bytes;
	req.max_bytes = fm->cfg.response_max_bytes;
	req.isolation_level = 0;
	req.session_id = 0;
	req.session_epoch = -1; /* sessionless: every partition in every request */
	req.topics = topics;
	req.topics_count = n;
	req.forgotten_topics_data_count = 0;
	void *out = NULL;
	bool ok = kclient_call(kc, API_FETCH, FETCH_VERSION, &req, &a, &out) == 0;
	const struct fetch_response *resp = ok ? out : NULL;
	for (int i = 0; resp && i < resp->responses_count; i++) {
		const struct fetch_response_fetchable_topic_response *tr = &resp->responses[i];
		if (!tr->topic.ptr)
			continue;
		for (int j = 0; j < tr->partitions_count; j++) {
			const struct fetch_response_partition_data *pd = &tr->partitions[j];
			int q = 0;
			while (q < n && !(snap[q].partition == pd->partition_index && snap[q].topic_len == (size_t)tr->topic.len &&
					  memcmp(snap[q].topic, tr->topic.ptr, (size_t)tr->topic.len) == 0))
				q++;
			if (q == n)
				continue;
			struct partition_lease lease;
			if (partition_lease_follower(snap[q].part, snap[q].leader_epoch, &lease) != KERR_NONE)
				continue; /* moved away while the fetch was out */
			snap[q].backoff_until = apply_partition(t, &snap[q], &lease, pd, from[q]);
			int64_t leo = log_end_offset(lease.log);
			snap[q].lag = pd->high_watermark > leo ? pd->high_watermark - leo : 0;
			partition_lease_release(&lease);
			if (th->record && pd->records.len > 0 &&
			    th->throttled(th->arg, snap[q].topic, snap[q].topic_len, snap[q].partition))
				th->record(th->arg, (double)pd->records.len, wall_clock_ms());
		}
	}
	if (resp && resp->error_code != KERR_NONE)
		log_warn("Replica %d: fetch from leader %d failed: %s", fm->cfg.broker_id, t->leader,
			 kafka_error_name(resp->error_code));
	/* Back-offs go to the partitions still followed at the same epoch. */
	pthread_mutex_lock(&fm->lock);
	for (int q = 0; q < n; q++) {
		int k = find_part(t, snap[q].topic, snap[q].topic_len, snap[q].partition);
		if (k < 0 || t->parts[k].part != snap[q].part || t->parts[k].leader_epoch != snap[q].leader_epoch)
			continue;
		if (snap[q].backoff_until > t->parts[k].backoff_until)
			t->parts[k].backoff_until = snap[q].backoff_until;
		t->parts[k].lag = snap[q].lag;
	}
	pthread_mutex_unlock(&fm->lock);
	for (int q = 0; q < n; q++)
		partition_unref(snap[q].part);
	arena_free(&a);
	return ok;
}

static void *fetcher_main(void *arg)
{
	struct fthread *t = arg;
	struct fetcher_manager *fm = t->fm;
	struct kclient kc;
	memset(&kc, 0, sizeof kc);
	kc.fd = -1;
	wbuf_init(&kc.resp);
	pthread_mutex_lock(&fm->lock);
	while (!t->stop) {
		if (t->n == 0) {
			pthread_cond_wait(&t->wake, &fm->lock);
			continue;
		}
		pthread_mutex_unlock(&fm->lock);
		bool ok = true;
		if (kc.fd < 0) {
			char hostport[300];
			kclient_close(&kc);
			ok = fm->cfg.endpoint(fm->cfg.arg, t->leader, hostport, sizeof hostport) == 0 &&
			     kclient_connect_secure(&kc, hostport, fm->cfg.socket_timeout_ms, fm->cfg.security) == 0;
			if (ok)
				snprintf(kc.client_id, sizeof kc.client_id, "broker-%d-fetcher-%d", fm->cfg.broker_id,
					 t->fetcher_id);
		}
		if (ok)
			ok = fetch_round(t, &kc);
		if (!ok && kc.fd >= 0)
			kclient_close(&kc);
		pthread_mutex_lock(&fm->lock);
		/* After a failure, or when every partition is backing off, wait a little. */
		bool idle = !ok;
		int64_t now = wall_clock_ms();
		int64_t soonest = INT64_MAX;
		for (int i = 0; i < t->n; i++)
			if (t->parts[i].backoff_until < soonest)
				soonest = t->parts[i].backoff_until;
		if (soonest > now && soonest != INT64_MAX)
			idle = true;
		if (idle && !t->stop) {
			int64_t until = now + fm->cfg.backoff_ms;
			if (ok && soonest < until)
				until = soonest;
			struct timespec ts = { .tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000 };
			pthread_cond_timedwait(&t->wake, &fm->lock, &ts);
		}
	}
	pthread_mutex_unlock(&fm->lock);
	kclient_close(&kc);
	return NULL;
}

struct fetcher_manager *fetcher_manager_new(const struct fetcher_config *cfg)
{
	struct fetcher_manager *fm = xcalloc(1, sizeof *fm);
	pthread_mutex_init(&fm->lock, NULL);
	fm->cfg = *cfg;
	if (fm->cfg.backoff_ms <= 0)
		fm->cfg.backoff_ms = 1000;
	return fm;
}

/* Kafka's AbstractFetcherManager.getFetcherId: partitions spread over num.replica.fetchers threads. */
static int fetcher_id_for(const struct fetcher_manager *fm, const char *topic, size_t len, int32_t partition)
{
	uint32_t h = 0;
	for (size_t i = 0; i < len; i++)
		h = 31 * h + (unsigned char)topic[i];
	h = 31 * h + (uint32_t)partition;
	return fm->cfg.num_fetchers > 1 ? (int)((h & 0x7fffffffu) % (uint32_t)fm->cfg.num_fetchers) : 0;
}

static struct fthread *thread_for(struct fetcher_manager *fm, int32_t leader, int fetcher_id, bool create)
{
	for (int i = 0; i < fm->n_threads; i++)
		if (fm->threads[i]->leader == leader && fm->threads[i]->fetcher_id == fetcher_id)
			return fm->threads[i];
	if (!create)
		return NULL;
	struct fthread *t = xcalloc(1, sizeof *t);
	t->fm = fm;
	t->leader = leader;
	t->fetcher_id = fetcher_id;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&t->wake, &ca);
	pthread_condattr_destroy(&ca);
	fm->threads = xrealloc(fm->threads, sizeof *fm->threads * (size_t)(fm->n_threads + 1));
	fm->threads[fm->n_threads++] = t;
	pthread_create(&t->tid, NULL, fetcher_main, t);
	log_info("Replica %d: started fetcher %d for leader %d", fm->cfg.broker_id, fetcher_id, leader);
	return t;
}

static void remove_locked(struct fetcher_manager *fm, const char *topic, size_t len, int32_t partition)
{
	for (int i = 0; i < fm->n_threads; i++) {
		struct fthread *t = fm->threads[i];
		int k = find_part(t, topic, len, partition);
		if (k < 0)
			continue;
		fpart_clear(&t->parts[k]);
		t->parts[k] = t->parts[--t->n];
	}
}

void fetcher_manager_add(struct fetcher_manager *fm, const char *topic, size_t topic_len, int32_t partition,
			 int32_t leader, int32_t leader_epoch, struct partition *part)
{
	pthread_mutex_lock(&fm->lock);
	remove_locked(fm, topic, topic_len, partition);
	struct fthread *t = thread_for(fm, leader, fetcher_id_for(fm, topic, topic_len, partition), true);
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->parts = xrealloc(t->parts, sizeof *t->parts * (size_t)t->cap);
	}
	t->parts[t->n++] = (struct fpart){
		.topic = xstrndup(topic, topic_len),
		.topic_len = topic_len,
		.partition = partition,
		.leader_epoch = leader_epoch,
		.part = part,
		.backoff_until = 0,
		.lag = -1,
	};
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&fm->lock);
}

void fetcher_manager_remove(struct fetcher_manager *fm, const char *topic, size_t topic_len, int32_t partition)
{
	pthread_mutex_lock(&fm->lock);
	remove_locked(fm, topic, topic_len, partition);
	pthread_mutex_unlock(&fm->lock);
}

void fetcher_manager_free(struct fetcher_manager *fm)
{
	if (!fm)
		return;
	pthread_mutex_lock(&fm->lock);
	for (int i = 0; i < fm->n_threads; i++) {
		fm->threads[i]->stop = true;
		pthread_cond_signal(&fm->threads[i]->wake);
	}
	pthread_mutex_unlock(&fm->lock);
	for (int i = 0; i < fm->n_threads; i++) {
		struct fthread *t = fm->threads[i];
		pthread_join(t->tid, NULL);
		for (int k = 0; k < t->n; k++)
			fpart_clear(&t->parts[k]);
		free(t->parts);
		pthread_cond_destroy(&t->wake);
		free(t);
	}
	free(fm->threads);
	pthread_mutex_destroy(&fm->lock);
	free(fm);
}
