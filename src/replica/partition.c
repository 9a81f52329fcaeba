/* One hosted partition and its locks (see partition.h). */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include "samsa/replica.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/metrics.h"
#include "samsa/util/xalloc.h"

/* Kafka's LeaderAndIsr.EpochDuringDelete and NoEpoch. */
#define EPOCH_DURING_DELETE (-2)
#define NO_EPOCH (-1)

/* Where a follower is, as its leader sees it [Kafka's Replica]. */
struct follower {
	int32_t id;
	int64_t leo; /* -1 until it fetches under this leader */
	int64_t last_caught_up_ms;
	int64_t last_fetch_ms;
	int64_t last_fetch_leader_leo;
};

struct partition {
	pthread_rwlock_t leader_isr_lock;
	pthread_mutex_t state_lock;
	atomic_int refs;
	const struct partition_hooks *hooks;
	char *topic;
	size_t topic_len;
	int32_t index;

	/* Written under leader_isr_lock held exclusively; read under it shared. */
	uint8_t topic_id[16];
	bool stopped;
	bool offline;      /* its log dir failed: KAFKA_STORAGE_ERROR to everyone until restart */
	int32_t leader;
	int32_t leader_epoch;
	int32_t partition_epoch; /* the state znode's version */
	int32_t controller_epoch;
	int32_t *isr;
	int n_isr;
	int32_t *replicas;
	int n_replicas;
	struct log_ref *log; /* NULL without a log manager, or when the log failed to open */
	int64_t epoch_start_offset; /* our log end when this leader epoch began */

	/* Under state_lock (and leader_isr_lock shared or exclusive). */
	struct follower *followers;
	int n_followers;
	bool isr_change_pending; /* a write of the ISR to ZooKeeper is queued */

	/* BrokerTopicMetrics of this partition, relaxed atomics (no lock): summed per topic by a scrape. */
	atomic_uint_fast64_t messages_in, bytes_in, bytes_out;
};

struct partition *partition_new(const struct partition_hooks *hooks, const char *topic, size_t topic_len,
				int32_t index)
{
	struct partition *p = xcalloc(1, sizeof *p);
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	/*
	 * Writer-preferring: once a LeaderAndIsr waits, new appends queue behind
	 * it rather than keep it out for as long as producers keep sending.
	 */
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&p->leader_isr_lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&p->state_lock, NULL);
	atomic_init(&p->refs, 1);
	p->hooks = hooks;
	p->topic = xstrndup(topic, topic_len);
	p->topic_len = topic_len;
	p->index = index;
	p->leader = -1;
	p->leader_epoch = -1;
	p->partition_epoch = -1;
	return p;
}

void partition_ref(struct partition *p) { atomic_fetch_add(&p->refs, 1); }

void partition_unref(struct partition *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	log_ref_put(p->log);
	free(p->followers);
	free(p->isr);
	free(p->replicas);
	free(p->topic);
	pthread_mutex_destroy(&p->state_lock);
	pthread_rwlock_destroy(&p->leader_isr_lock);
	free(p);
}

const char *partition_topic(const struct partition *p, size_t *len)
{
	if (len)
		*len = p->topic_len;
	return p->topic;
}

int32_t partition_index(const struct partition *p) { return p->index; }

static bool leads(const struct partition *p) { return !p->stopped && p->leader == p->hooks->broker_id; }

static void notify_changed(struct partition *p)
{
	if (p->hooks->changed)
		p->hooks->changed(p->hooks->arg, p->topic, p->topic_len, p->index);
}

void partition_get_info(struct partition *p, struct partition_info *out)
{
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	out->leader = p->leader;
	out->leader_epoch = p->leader_epoch;
	out->partition_epoch = p->partition_epoch;
	out->is_leader = leads(p);
	memcpy(out->topic_id, p->topic_id, 16);
	pthread_rwlock_unlock(&p->leader_isr_lock);
}

static int32_t *dup_ids(const int32_t *ids, int n)
{
	int32_t *c = xmalloc(sizeof *c * (size_t)(n > 0 ? n : 1));
	if (n > 0)
		memcpy(c, ids, sizeof *c * (size_t)n);
	return c;
}

static bool uuid_zero(const uint8_t *id)
{
	for (int i = 0; i < 16; i++)
		if (id[i])
			return false;
	return true;
}

static bool in_isr(const struct partition *p, int32_t id)
{
	for (int i = 0; i < p->n_isr; i++)
		if (p->isr[i] == id)
			return true;
	return false;
}

static bool isr_alone(const struct partition *p)
{
	return p->n_isr == 1 && p->isr[0] == p->hooks->broker_id;
}

static struct follower *follower_of(struct partition *p, int32_t id)
{
	for (int i = 0; i < p->n_followers; i++)
		if (p->followers[i].id == id)
			return &p->followers[i];
	return NULL;
}

/* --- leadership ------------------------------------------------------------------------- */

int16_t partition_make_leader_or_follower(struct partition *p, const uint8_t *topic_id,
					  const struct partition_update *u, struct log_ref *log, bool *leads_now)
{
	*leads_now = false;
	pthread_rwlock_wrlock(&p->leader_isr_lock);
	if (topic_id && !uuid_zero(topic_id) && !uuid_zero(p->topic_id) && memcmp(topic_id, p->topic_id, 16)) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		log_ref_put(log);
		return KERR_INCONSISTENT_TOPIC_ID;
	}
	/* An equal epoch is accepted: the controller re-sends after its own restart. */
	if (u->leader_epoch < p->leader_epoch) {
		int32_t cur = p->leader_epoch;
		pthread_rwlock_unlock(&p->leader_isr_lock);
		log_warn("LeaderAndIsr for %s-%d with leader epoch %d ignored: current epoch is %d", p->topic,
			 p->index, u->leader_epoch, cur);
		log_ref_put(log);
		return KERR_STALE_CONTROLLER_EPOCH;
	}
	if (p->offline) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		log_ref_put(log);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	if (topic_id && !uuid_zero(topic_id))
		memcpy(p->topic_id, topic_id, 16);
	p->stopped = false;
	p->leader = u->leader;
	p->leader_epoch = u->leader_epoch;
	p->partition_epoch = u->partition_epoch;
	p->controller_epoch = u->controller_epoch;
	free(p->isr);
	free(p->replicas);
	p->isr = dup_ids(u->isr, u->n_isr);
	p->n_isr = u->n_isr;
	p->replicas = dup_ids(u->replicas, u->n_replicas);
	p->n_replicas = u->n_replicas;
	if (!p->log) {
		p->log = log;
		log = NULL;
	}
	struct log *l = p->log ? log_ref_log(p->log) : NULL;
	bool lead = leads(p);

	pthread_mutex_lock(&p->state_lock);
	free(p->followers);
	p->followers = NULL;
	p->n_followers = 0;
	p->isr_change_pending = false;
	if (lead) {
		/* Followers start unknown; those in the ISR count as caught up now [Partition.makeLeader]. */
		int64_t now = wall_clock_ms();
		p->followers = xcalloc((size_t)(u->n_replicas ? u->n_replicas : 1), sizeof *p->followers);
		for (int i = 0; i < u->n_replicas; i++) {
			if (u->replicas[i] == p->hooks->broker_id)
				continue;
			p->followers[p->n_followers++] = (struct follower){
				.id = u->replicas[i],
				.leo = -1,
				.last_caught_up_ms = in_isr(p, u->replicas[i]) ? now : 0,
				.last_fetch_ms = 0,
				.last_fetch_leader_leo = -1,
			};
		}
		p->epoch_start_offset = l ? log_end_offset(l) : 0;
	}
	pthread_mutex_unlock(&p->state_lock);
	if (l && lead) {
		/* A new leader epoch starts at our log end [Kafka's Partition.makeLeader]. */
		log_assign_epoch_start(l, u->leader_epoch);
		if (isr_alone(p))
			log_set_high_watermark(l, log_end_offset(l));
	}
	pthread_rwlock_unlock(&p->leader_isr_lock);
	log_ref_put(log); /* a second reference when the partition already had its log */
	*leads_now = lead;
	/* Produces and fetches parked on the partition answer now (NOT_LEADER_OR_FOLLOWER when we lost it)
	 * rather than at their deadline [ReplicaManager.completeDelayedFetchOrProduceRequests]. */
	notify_changed(p);
	return KERR_NONE;
}

int16_t partition_stop(struct partition *p, int32_t leader_epoch)
{
	pthread_rwlock_wrlock(&p->leader_isr_lock);
	if (leader_epoch != EPOCH_DURING_DELETE && leader_epoch != NO_EPOCH && leader_epoch < p->leader_epoch) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		return KERR_FENCED_LEADER_EPOCH;
	}
	p->stopped = true;
	struct log_ref *log = p->log;
	p->log = NULL;
	pthread_mutex_lock(&p->state_lock);
	free(p->followers);
	p->followers = NULL;
	p->n_followers = 0;
	p->isr_change_pending = false;
	pthread_mutex_unlock(&p->state_lock);
	pthread_rwlock_unlock(&p->leader_isr_lock);
	log_ref_put(log);
	notify_changed(p); /* waiting acks=all produces answer NOT_LEADER_OR_FOLLOWER now */
	return KERR_NONE;
}

void partition_set_offline(struct partition *p)
{
	pthread_rwlock_wrlock(&p->leader_isr_lock);
	p->offline = true;
	p->stopped = true;
	struct log_ref *log = p->log;
	p->log = NULL;
	pthread_mutex_lock(&p->state_lock);
	free(p->followers);
	p->followers = NULL;
	p->n_followers = 0;
	p->isr_change_pending = false;
	pthread_mutex_unlock(&p->state_lock);
	pthread_rwlock_unlock(&p->leader_isr_lock);
	log_ref_put(log);
	notify_changed(p); /* waiting acks=all produces answer KAFKA_STORAGE_ERROR now */
}

bool partition_is_offline(struct partition *p)
{
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	bool off = p->offline;
	pthread_rwlock_unlock(&p->leader_isr_lock);
	return off;
}

/* --- moving the log between dirs (AlterReplicaLogDirs) ----------------------------------- */

/* The current log under a read hold, or an error when the partition cannot be copied now. */
static int16_t current_log_locked(const struct partition *p, struct log **out)
{
	if (p->offline)
		return KERR_KAFKA_STORAGE_ERROR;
	if (p->stopped || !p->log)
		return KERR_NOT_LEADER_OR_FOLLOWER;
	*out = log_ref_log(p->log);
	return KERR_NONE;
}

int16_t partition_copy_to_future(struct partition *p, struct log *future, uint64_t *truncations, size_t max_bytes,
				 bool *caught_up)
{
	*caught_up = false;
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	struct log *cur;
	int16_t err = current_log_locked(p, &cur);
	if (err != KERR_NONE) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		return err;
	}
	int64_t now = wall_clock_ms();
	uint64_t tc = log_truncation_count(cur);
	int64_t start = log_start_offset(cur), cur_leo = log_end_offset(cur);
	int64_t from = log_end_offset(future);
	/* A truncation of the current log (or the first pass) starts the copy over at its log start. */
	bool restart = tc != *truncations || from < start || from > cur_leo;
	if (restart)
		from = start;
	if (!restart && from == cur_leo) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		*caught_up = true;
		return KERR_NONE;
	}
	struct log_read_result rr;
	err = (int16_t)log_read(cur, from, max_bytes, cur_leo, true, &rr);
	bool read_ok = err == KERR_NONE;
	uint8_t *buf = NULL;
	size_t got = 0;
	if (err == KERR_NONE && rr.length > 0) {
		buf = xmalloc(rr.length);
		while (got < rr.length) {
			ssize_t n = pread(rr.fd, buf + got, rr.length - got, (off_t)rr.position + (off_t)got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got < rr.length)
			err = KERR_KAFKA_STORAGE_ERROR;
	}
	if (err == KERR_NONE && restart)
		/* The copy starts where the first batch does, which may be before the log start offset. */
		err = (int16_t)log_truncate_fully_and_start_at(future, rr.length ? rr.first_batch_offset : from, now);
	if (read_ok)
		log_read_release(&rr);
	pthread_rwlock_unlock(&p->leader_isr_lock);
	if (err == KERR_NONE && restart)
		*truncations = tc;
	if (err == KERR_NONE && got > 0) {
		struct log_append_info info;
		err = (int16_t)log_append_as_follower(future, buf, got, now, &info);
	}
	free(buf);
	return err;
}

int16_t partition_swap_in_future(struct partition *p, struct log_manager *lm, struct log *future,
				 uint64_t truncations, bool *swapped)
{
	*swapped = false;
	pthread_rwlock_wrlock(&p->leader_isr_lock);
	struct log *cur;
	int16_t err = current_log_locked(p, &cur);
	if (err != KERR_NONE || log_truncation_count(cur) != truncations ||
	    log_end_offset(cur) != log_end_offset(future)) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		return err;
	}
	/* [Partition.maybeReplaceCurrentWithFutureReplica]: nothing is appended while this lock is held. */
	struct log_config cfg;
	log_get_config(cur, &cfg);
	log_set_config(future, &cfg);
	log_set_high_watermark(future, log_high_watermark(cur));
	int64_t low;
	if (log_start_offset(cur) > log_start_offset(future))
		log_delete_records(future, log_start_offset(cur), &low);
	struct log_ref *now_current = NULL;
	err = (int16_t)log_manager_commit_future(lm, p->topic, p->topic_len, p->index, &now_current);
	struct log_ref *old = NULL;
	if (err == KERR_NONE) {
		old = p->log;
		p->log = now_current;
		*swapped = true;
	}
	pthread_rwlock_unlock(&p->leader_isr_lock);
	log_ref_put(old);
	return err;
}

/* --- high watermark ------------------------------------------------------------------- */

/*
 * The high watermark is the smallest log end over the ISR [Partition.maybeIncrementLeaderHW];
 * it only moves forward.  leader_isr_lock and state_lock held; true when it moved.
 */
static bool maybe_increment_hw_locked(struct partition *p)
{
	if (!leads(p) || !p->log)
		return false;
	struct log *l = log_ref_log(p->log);
	int64_t hw = log_end_offset(l);
	for (int i = 0; i < p->n_isr; i++) {
		if (p->isr[i] == p->hooks->broker_id)
			continue;
		struct follower *f = follower_of(p, p->isr[i]);
		if (!f || f->leo < 0)
			return false; /* a member we have not heard from under this leader holds it back */
		if (f->leo < hw)
			hw = f->leo;
	}
	if (hw <= log_high_watermark(l))
		return false;
	log_set_high_watermark(l, hw);
	return true;
}

/* --- the leader's side -------------------------------------------------------------------- */

static int16_t check_leader_locked(const struct partition *p, int32_t current_leader_epoch)
{
	if (p->offline)
		return KERR_KAFKA_STORAGE_ERROR;
	if (p->stopped)
		return KERR_NOT_LEADER_OR_FOLLOWER;
	if (current_leader_epoch >= 0 && current_leader_epoch < p->leader_epoch)
		return KERR_FENCED_LEADER_EPOCH;
	if (current_leader_epoch > p->leader_epoch)
		return KERR_UNKNOWN_LEADER_EPOCH;
	if (!leads(p))
		return KERR_NOT_LEADER_OR_FOLLOWER;
	if (!p->log)
		return KERR_KAFKA_STORAGE_ERROR;
	return KERR_NONE;
}

int16_t partition_leader_config(struct partition *p, struct log_config *out)
{
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	int16_t err = check_leader_locked(p, -1);
	if (err == KERR_NONE)
		log_get_config(log_ref_log(p->log), out);
	pthread_rwlock_unlock(&p->leader_isr_lock);
	return err;
}

int16_t partition_append_as_leader(struct partition *p, uint8_t *records, size_t len, int16_t required_acks,
				   int64_t now_ms, struct log_append_info *info, int64_t *wait_offset)
{
	*wait_offset = -1;
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	int16_t err = check_leader_locked(p, -1);
	if (err != KERR_NONE) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		return err;
	}
	struct log *l = log_ref_log(p->log);
	if (required_acks == -1) {
		struct log_config cfg;
		log_get_config(l, &cfg);
		if (p->n_isr < cfg.min_insync_replicas) {
			/* Refused before anything is written [Partition.appendRecordsToLeader]. */
			pthread_rwlock_unlock(&p->leader_isr_lock);
			return KERR_NOT_ENOUGH_REPLICAS;
		}
	}
	err = (int16_t)log_append_as_leader(l, records, len, p->leader_epoch, now_ms, info);
	if (err == KERR_NONE) {
		/* Kafka counts every leader append, the coordinators' own included [ReplicaManager.appendToLocalLog]. */
		metrics_add(&p->messages_in, (uint64_t)info->record_count);
		metrics_add(&p->bytes_in, info->bytes);
		metrics_add(&metrics_global.messages_in, (uint64_t)info->record_count);
		metrics_add(&metrics_global.bytes_in, info->bytes);
		if (isr_alone(p)) {
			log_set_high_watermark(l, log_end_offset(l));
		} else {
			pthread_mutex_lock(&p->state_lock);
			maybe_increment_hw_locked(p);
			pthread_mutex_unlock(&p->state_lock);
			*wait_offset = info->last_offset + 1;
		}
	}
	pthread_rwlock_unlock(&p->leader_isr_lock);
	if (err == KERR_NONE)
		notify_changed(p); /* new data for delayed fetches, maybe a new high watermark */
	return err;
}

/* Queue an ISR change (state_lock held). */
static void queue_isr_locked(struct partition *p, const int32_t *isr, int n)
{
	p->isr_change_pending = true;
	if (p->hooks->queue_isr_change)
		p->hooks->queue_isr_change(p->hooks->arg, p, p->leader_epoch, isr, n);
}

/*
 * The leader's side of a follower's fetch [Partition.updateFollowerFetchState]:
 * records where the follower is, may queue an ISR expansion and move the
 * high watermark.  leader_isr_lock held shared; true when the HW moved.
 */
static int16_t follower_fetch_locked(struct partition *p, const struct partition_fetch *f, int32_t *diverging_epoch,
				     int64_t *diverging_end_offset, bool *hw_moved)
{
	struct log *l = log_ref_log(p->log);
	if (f->last_fetched_epoch >= 0) {
		/* KIP-320: where does the follower's last epoch end in our log? */
		int32_t epoch;
		int64_t end;
		log_end_offset_for_epoch(l, f->last_fetched_epoch, &epoch, &end);
		if (epoch < f->last_fetched_epoch || end < f->fetch_offset) {
			*diverging_epoch = epoch;
			*diverging_end_offset = end;
			return KERR_NONE;
		}
	}
	pthread_mutex_lock(&p->state_lock);
	struct follower *fo = follower_of(p, f->replica_id);
	if (!fo) {
		pthread_mutex_unlock(&p->state_lock);
		return KERR_NOT_LEADER_OR_FOLLOWER;
	}
	int64_t now = wall_clock_ms();
	int64_t leader_leo = log_end_offset(l);
	/* Kafka's Replica.updateFetchState: caught up if it asked for everything we had, now or at its last fetch. */
	if (f->fetch_offset >= leader_leo)
		fo->last_caught_up_ms = now;
	else if (fo->last_fetch_leader_leo >= 0 && f->fetch_offset >= fo->last_fetch_leader_leo)
		fo->last_caught_up_ms = fo->last_fetch_ms;
	fo->leo = f->fetch_offset;
	fo->last_fetch_leader_leo = leader_leo;
	fo->last_fetch_ms = now;
	/* Back in the ISR once it reached the high watermark and this epoch's start [maybeExpandIsr]. */
	if (!in_isr(p, f->replica_id) && !p->isr_change_pending && f->fetch_offset >= log_high_watermark(l) &&
	    f->fetch_offset >= p->epoch_start_offset && p->hooks->queue_isr_change) {
		int32_t *isr = xmalloc(sizeof *isr * (size_t)(p->n_isr + 1));
		memcpy(isr, p->isr, sizeof *isr * (size_t)p->n_isr);
		isr[p->n_isr] = f->replica_id;
		log_info("Expanding ISR of %s-%d from %d members to add broker %d (follower at %" PRId64
			 ", high watermark %" PRId64 ")",
			 p->topic, p->index, p->n_isr, f->replica_id, f->fetch_offset, log_high_watermark(l));
		queue_isr_locked(p, isr, p->n_isr + 1);
		free(isr);
	}
	*hw_moved = maybe_increment_hw_locked(p);
	pthread_mutex_unlock(&p->state_lock);
	return KERR_NONE;
}

int16_t partition_read(struct partition *p, const struct partition_fetch *f, struct log_read_result *out,
		       int32_t *diverging_epoch, int64_t *diverging_end_offset)
{
	memset(out, 0, sizeof *out);
	out->fd = -1;
	out->first_batch_offset = -1;
	out->high_watermark = out->log_start_offset = out->log_end_offset = -1;
	*diverging_epoch = -1;
	*diverging_end_offset = -1;
	bool hw_moved = false;
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	int16_t err = check_leader_locked(p, f->current_leader_epoch);
	if (err != KERR_NONE) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		return err;
	}
	struct log *l = log_ref_log(p->log);
	if (f->replica_id >= 0) {
		err = follower_fetch_locked(p, f, diverging_epoch, diverging_end_offset, &hw_moved);
		if (err != KERR_NONE || *diverging_end_offset >= 0) {
			out->high_watermark = log_high_watermark(l);
			out->log_start_offset = log_start_offset(l);
			pthread_rwlock_unlock(&p->leader_isr_lock);
			if (hw_moved)
				notify_changed(p);
			return err;
		}
	}
	int64_t max_offset = f->replica_id >= 0 || f->to_log_end ? LOG_READ_MAX_LEO : LOG_READ_MAX_HW;
	err = (int16_t)log_read(l, f->fetch_offset, f->max_bytes, max_offset, f->min_one, out);
	pthread_rwlock_unlock(&p->leader_isr_lock);
	if (hw_moved)
		notify_changed(p);
	return err;
}

bool partition_acks_done(struct partition *p, int64_t required_offset, int16_t *error)
{
	*error = KERR_NONE;
	bool done = true;
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	if (p->offline) {
		*error = KERR_KAFKA_STORAGE_ERROR;
	} else if (!leads(p) || !p->log) {
		*error = KERR_NOT_LEADER_OR_FOLLOWER;
	} else {
		struct log *l = log_ref_log(p->log);
		if (log_high_watermark(l) >= required_offset) {
			struct log_config cfg;
			log_get_config(l, &cfg);
			if (p->n_isr < cfg.min_insync_replicas)
				*error = KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
		} else {
			done = false;
		}
	}
	pthread_rwlock_unlock(&p->leader_isr_lock);
	return done;
}

/* --- leases ---------------------------------------------------------------------------- */

int16_t partition_lease_leader(struct partition *p, int32_t current_leader_epoch, struct partition_lease *out)
{
	memset(out, 0, sizeof *out);
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	int16_t err = check_leader_locked(p, current_leader_epoch);
	if (err != KERR_NONE) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		return err;
	}
	partition_ref(p);
	out->partition = p;
	out->log = log_ref_log(p->log);
	out->leader_epoch = p->leader_epoch;
	return KERR_NONE;
}

int16_t partition_lease_follower(struct partition *p, int32_t leader_epoch, struct partition_lease *out)
{
	memset(out, 0, sizeof *out);
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	int16_t err = KERR_NONE;
	if (p->offline)
		err = KERR_KAFKA_STORAGE_ERROR;
	else if (p->stopped || leads(p) || !p->log)
		err = KERR_NOT_LEADER_OR_FOLLOWER;
	else if (p->leader_epoch != leader_epoch)
		err = KERR_FENCED_LEADER_EPOCH;
	if (err != KERR_NONE) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		return err;
	}
	partition_ref(p);
	out->partition = p;
	out->log = log_ref_log(p->log);
	out->leader_epoch = p->leader_epoch;
	return KERR_NONE;
}

void partition_lease_release(struct partition_lease *l)
{
	if (!l->partition)
		return;
	struct partition *p = l->partition;
	pthread_rwlock_unlock(&p->leader_isr_lock);
	partition_unref(p);
	l->partition = NULL;
	l->log = NULL;
}

int16_t partition_append_as_follower(struct partition_lease *l, uint8_t *records, size_t len, int64_t now_ms,
				     struct log_append_info *info)
{
	int16_t err = (int16_t)log_append_as_follower(l->log, records, len, now_ms, info);
	if (err == KERR_NONE)
		metrics_add(&metrics_global.replication_bytes_in, len);
	return err;
}

/* --- the ISR --------------------------------------------------------------------------- */

void partition_maybe_shrink_isr(struct partition *p, int64_t now, int64_t lag_max_ms)
{
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	if (!leads(p) || p->n_isr <= 1 || !p->log) {
		pthread_rwlock_unlock(&p->leader_isr_lock);
		return;
	}
	struct log *l = log_ref_log(p->log);
	pthread_mutex_lock(&p->state_lock);
	if (!p->isr_change_pending) {
		int32_t *keep = xmalloc(sizeof *keep * (size_t)p->n_isr);
		int n = 0;
		for (int j = 0; j < p->n_isr; j++) {
			struct follower *f = p->isr[j] == p->hooks->broker_id ? NULL : follower_of(p, p->isr[j]);
			bool lagging = f && now - f->last_caught_up_ms > lag_max_ms;
			if (lagging)
				log_info("Shrinking ISR of %s-%d: broker %d is out of sync (last caught up %" PRId64
					 " ms ago; its end %" PRId64 ", ours %" PRId64 ", high watermark %" PRId64 ")",
					 p->topic, p->index, p->isr[j], now - f->last_caught_up_ms, f->leo,
					 log_end_offset(l), log_high_watermark(l));
			else
				keep[n++] = p->isr[j];
		}
		if (n < p->n_isr && n > 0)
			queue_isr_locked(p, keep, n);
		free(keep);
	}
	pthread_mutex_unlock(&p->state_lock);
	pthread_rwlock_unlock(&p->leader_isr_lock);
}

bool partition_isr_write_begin(struct partition *p, int32_t leader_epoch, int32_t *zk_version,
			       int32_t *controller_epoch)
{
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	bool ok = leads(p) && p->leader_epoch == leader_epoch;
	*zk_version = p->partition_epoch;
	*controller_epoch = p->controller_epoch;
	if (!ok) {
		pthread_mutex_lock(&p->state_lock);
		p->isr_change_pending = false;
		pthread_mutex_unlock(&p->state_lock);
	}
	pthread_rwlock_unlock(&p->leader_isr_lock);
	return ok;
}

void partition_isr_write_end(struct partition *p, int32_t leader_epoch, int rc, const int32_t *isr, int n_isr,
			     int32_t new_zk_version)
{
	bool moved = false;
	pthread_rwlock_wrlock(&p->leader_isr_lock);
	if (leads(p) && p->leader_epoch == leader_epoch) {
		pthread_mutex_lock(&p->state_lock);
		p->isr_change_pending = false;
		if (rc == 0) {
			if (n_isr < p->n_isr)
				metrics_add(&metrics_global.isr_shrinks, 1);
			else if (n_isr > p->n_isr)
				metrics_add(&metrics_global.isr_expands, 1);
			free(p->isr);
			p->isr = dup_ids(isr, n_isr);
			p->n_isr = n_isr;
			p->partition_epoch = new_zk_version;
			int64_t now = wall_clock_ms();
			for (int i = 0; i < p->n_followers; i++)
				if (in_isr(p, p->followers[i].id) && p->followers[i].last_caught_up_ms == 0)
					p->followers[i].last_caught_up_ms = now;
			moved = maybe_increment_hw_locked(p);
		} else if (rc == 1) {
			log_info("ISR of %s-%d not updated: its state znode changed under us (version %d); "
				 "waiting for the controller", p->topic, p->index, p->partition_epoch);
		}
		pthread_mutex_unlock(&p->state_lock);
	}
	pthread_rwlock_unlock(&p->leader_isr_lock);
	/* A shrink can complete acks=all produces waiting on the member that left. */
	if (moved || rc == 0)
		notify_changed(p);
}

int partition_isr(struct partition *p, int32_t *out, int max)
{
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	int n = p->n_isr;
	for (int i = 0; i < n && i < max; i++)
		out[i] = p->isr[i];
	pthread_rwlock_unlock(&p->leader_isr_lock);
	return n;
}

/* --- metrics ----------------------------------------------------------------------------- */

void partition_count_bytes_out(struct partition *p, uint64_t bytes, bool follower)
{
	if (follower) {
		metrics_add(&metrics_global.replication_bytes_out, bytes);
		return;
	}
	metrics_add(&p->bytes_out, bytes);
	metrics_add(&metrics_global.bytes_out, bytes);
}

void partition_get_stats(struct partition *p, struct partition_stats *out)
{
	memset(out, 0, sizeof *out);
	out->log_end_offset = out->high_watermark = out->log_start_offset = -1;
	pthread_rwlock_rdlock(&p->leader_isr_lock);
	out->is_leader = !p->stopped && !p->offline && leads(p);
	out->offline = p->offline;
	out->n_isr = p->n_isr;
	out->n_replicas = p->n_replicas;
	if (p->log && !p->offline) {
		struct log *l = log_ref_log(p->log);
		out->has_log = true;
		out->log_size_bytes = log_size_bytes(l);
		out->log_end_offset = log_end_offset(l);
		out->high_watermark = log_high_watermark(l);
		out->log_start_offset = log_start_offset(l);
		out->segments = log_segment_count(l);
	}
	pthread_rwlock_unlock(&p->leader_isr_lock);
	out->messages_in = metrics_read(&p->messages_in);
	out->bytes_in = metrics_read(&p->bytes_in);
	out->bytes_out = metrics_read(&p->bytes_out);
}
