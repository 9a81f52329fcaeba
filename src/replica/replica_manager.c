/* Hosted partitions and their epochs, fenced as Kafka fences them (see replica_manager.h). */
#include "replica/replica_manager.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "log/log_manager.h"
#include "replica/fetcher.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/clock.h"

/* Kafka's LeaderAndIsr.EpochDuringDelete and NoEpoch. */
#define EPOCH_DURING_DELETE (-2)
#define NO_EPOCH (-1)

struct partition {
	char *topic;
	size_t topic_len;
	int32_t index;
	uint8_t topic_id[16];
	int32_t leader;
	int32_t leader_epoch;
	int32_t partition_epoch;
	int32_t controller_epoch;
	int32_t *isr;
	int n_isr;
	int32_t *replicas;
	int n_replicas;
	struct log_ref *log; /* NULL without a log manager, or when the log failed to open */
	/* Leader only: where each follower is [Kafka's Replica state]. */
	struct follower *followers;
	int n_followers;
	int64_t epoch_start_offset; /* our log end when this leader epoch began */
	bool isr_change_pending;    /* a write of the ISR to ZooKeeper is queued */
};

struct follower {
	int32_t id;
	int64_t leo;                /* -1 until it fetches under this leader */
	int64_t last_caught_up_ms;
	int64_t last_fetch_ms;
	int64_t last_fetch_leader_leo;
};

/* An ISR change waiting to be written to ZooKeeper by the ISR thread. */
struct isr_change {
	char *topic;
	size_t topic_len;
	int32_t partition;
	int32_t leader_epoch;
	int32_t *isr;
	int n_isr;
};

struct replica_manager {
	pthread_mutex_t lock; /* short critical sections only; never held across I/O */
	int32_t broker_id;
	int32_t controller_epoch;
	struct log_manager *logs;
	replica_topic_config_fn topic_config;
	void *topic_config_arg;
	replica_leadership_fn leadership;
	void *leadership_arg;
	struct fetcher_manager *fetchers;
	replica_isr_write_fn isr_write;
	void *isr_write_arg;
	replica_hw_fn on_hw;
	void *on_hw_arg;
	int64_t lag_max_ms;
	pthread_t isr_thread;
	pthread_cond_t isr_wake;
	bool isr_running, isr_stop;
	struct isr_change *changes;
	int n_changes, cap_changes;
	struct partition **parts; /* sorted by (topic, index) */
	int n;
	int cap;
};

static int cmp_key(const char *t, size_t tl, int32_t idx, const struct partition *p)
{
	size_t n = tl < p->topic_len ? tl : p->topic_len;
	int c = memcmp(t, p->topic, n);
	if (c)
		return c;
	if (tl != p->topic_len)
		return tl < p->topic_len ? -1 : 1;
	return idx < p->index ? -1 : idx > p->index;
}

static int search(struct replica_manager *rm, const char *t, size_t tl, int32_t idx, bool *found)
{
	int lo = 0, hi = rm->n;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		int c = cmp_key(t, tl, idx, rm->parts[mid]);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

static void partition_free(struct partition *p)
{
	log_ref_put(p->log);
	free(p->followers);
	free(p->topic);
	free(p->isr);
	free(p->replicas);
	free(p);
}

struct replica_manager *replica_manager_new(int32_t broker_id)
{
	struct replica_manager *rm = xcalloc(1, sizeof *rm);
	pthread_mutex_init(&rm->lock, NULL);
	rm->broker_id = broker_id;
	rm->controller_epoch = 0;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&rm->isr_wake, &ca);
	pthread_condattr_destroy(&ca);
	rm->lag_max_ms = 30000;
	return rm;
}

void replica_manager_set_logs(struct replica_manager *rm, struct log_manager *lm) { rm->logs = lm; }

void replica_manager_free(struct replica_manager *rm)
{
	if (!rm)
		return;
	replica_manager_stop_threads(rm);
	for (int i = 0; i < rm->n; i++)
		partition_free(rm->parts[i]);
	free(rm->parts);
	for (int i = 0; i < rm->n_changes; i++) {
		free(rm->changes[i].topic);
		free(rm->changes[i].isr);
	}
	free(rm->changes);
	pthread_cond_destroy(&rm->isr_wake);
	pthread_mutex_destroy(&rm->lock);
	free(rm);
}

void replica_manager_set_topic_config(struct replica_manager *rm, replica_topic_config_fn fn, void *arg)
{
	rm->topic_config = fn;
	rm->topic_config_arg = arg;
}

void replica_manager_set_leadership_listener(struct replica_manager *rm, replica_leadership_fn fn, void *arg)
{
	rm->leadership = fn;
	rm->leadership_arg = arg;
}

bool replica_manager_accept_controller_epoch(struct replica_manager *rm, int32_t controller_epoch)
{
	pthread_mutex_lock(&rm->lock);
	bool ok = controller_epoch >= rm->controller_epoch;
	if (ok)
		rm->controller_epoch = controller_epoch;
	pthread_mutex_unlock(&rm->lock);
	return ok;
}

static int32_t *dup_ids(const int32_t *ids, int n)
{
	int32_t *p = xmalloc(sizeof *p * (size_t)(n > 0 ? n : 1));
	if (n > 0)
		memcpy(p, ids, sizeof *p * (size_t)n);
	return p;
}

static bool uuid_zero(const uint8_t *id)
{
	for (int i = 0; i < 16; i++)
		if (id[i])
			return false;
	return true;
}

int16_t replica_manager_apply(struct replica_manager *rm, const char *topic, size_t topic_len,
			      const uint8_t *topic_id, const struct partition_update *u)
{
	bool hosts = false;
	for (int i = 0; i < u->n_replicas; i++)
		if (u->replicas[i] == rm->broker_id)
			hosts = true;
	if (!hosts) {
		log_warn("LeaderAndIsr for %.*s-%d does not list broker %d as a replica; ignored", (int)topic_len, topic,
			 u->index, rm->broker_id);
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	/* The log is found or created before the table lock is taken: creating one touches the disk,
	 * and reading the topic's config touches ZooKeeper. */
	pthread_mutex_lock(&rm->lock);
	bool hosted;
	(void)search(rm, topic, topic_len, u->index, &hosted);
	pthread_mutex_unlock(&rm->lock);
	struct log_config cfg;
	bool have_cfg = false;
	if (!hosted && rm->logs && rm->topic_config) {
		char *name = xstrndup(topic, topic_len);
		have_cfg = rm->topic_config(rm->topic_config_arg, name, &cfg) == 0;
		free(name);
	}
	struct log_ref *log = NULL;
	int16_t log_err = KERR_NONE;
	if (rm->logs)
		log_err = (int16_t)log_manager_get_or_create(rm->logs, topic, topic_len, u->index, topic_id,
							     have_cfg ? &cfg : NULL, &log);
	/* A log loaded at start-up has the defaults until its topic is first hosted. */
	if (log && have_cfg)
		log_set_config(log_ref_log(log), &cfg);
	pthread_mutex_lock(&rm->lock);
	bool found;
	int at = search(rm, topic, topic_len, u->index, &found);
	struct partition *p;
	if (found) {
		p = rm->parts[at];
		if (topic_id && !uuid_zero(topic_id) && !uuid_zero(p->topic_id) && memcmp(topic_id, p->topic_id, 16)) {
			pthread_mutex_unlock(&rm->lock);
			log_ref_put(log);
			return KERR_INCONSISTENT_TOPIC_ID;
		}
		/* An equal epoch is accepted: the controller re-sends after its own restart. */
		if (u->leader_epoch < p->leader_epoch) {
			int32_t cur = p->leader_epoch;
			pthread_mutex_unlock(&rm->lock);
			log_warn("LeaderAndIsr for %.*s-%d with leader epoch %d ignored: current epoch is %d",
				 (int)topic_len, topic, u->index, u->leader_epoch, cur);
			log_ref_put(log);
			return KERR_STALE_CONTROLLER_EPOCH;
		}
		free(p->isr);
		free(p->replicas);
	} else {
		if (rm->n == rm->cap) {
			rm->cap = rm->cap ? rm->cap * 2 : 16;
			rm->parts = xrealloc(rm->parts, sizeof *rm->parts * (size_t)rm->cap);
		}
		memmove(&rm->parts[at + 1], &rm->parts[at], sizeof *rm->parts * (size_t)(rm->n - at));
		p = xcalloc(1, sizeof *p);
		p->topic = xstrndup(topic, topic_len);
		p->topic_len = topic_len;
		p->index = u->index;
		rm->parts[at] = p;
		rm->n++;
	}
	if (topic_id && !uuid_zero(topic_id))
		memcpy(p->topic_id, topic_id, 16);
	p->leader = u->leader;
	p->leader_epoch = u->leader_epoch;
	p->partition_epoch = u->partition_epoch;
	p->controller_epoch = u->controller_epoch;
	p->isr = dup_ids(u->isr, u->n_isr);
	p->n_isr = u->n_isr;
	p->replicas = dup_ids(u->replicas, u->n_replicas);
	p->n_replicas = u->n_replicas;
	if (!p->log) {
		p->log = log;
		log = NULL;
	}
	struct log *l = p->log ? log_ref_log(p->log) : NULL;
	bool leads = u->leader == rm->broker_id;
	bool alone = u->n_isr == 1 && u->isr[0] == rm->broker_id;
	free(p->followers);
	p->followers = NULL;
	p->n_followers = 0;
	p->isr_change_pending = false;
	if (leads) {
		/* Followers start unknown; those in the ISR count as caught up now [Partition.makeLeader]. */
		int64_t now = wall_clock_ms();
		p->followers = xcalloc((size_t)(u->n_replicas ? u->n_replicas : 1), sizeof *p->followers);
		for (int i = 0; i < u->n_replicas; i++) {
			if (u->replicas[i] == rm->broker_id)
				continue;
			bool in_isr = false;
			for (int j = 0; j < u->n_isr; j++)
				if (u->isr[j] == u->replicas[i])
					in_isr = true;
			p->followers[p->n_followers++] = (struct follower){
				.id = u->replicas[i],
				.leo = -1,
				.last_caught_up_ms = in_isr ? now : 0,
				.last_fetch_ms = 0,
				.last_fetch_leader_leo = -1,
			};
		}
		p->epoch_start_offset = l ? log_end_offset(l) : 0;
	}
	struct log_ref *follow_ref = !leads && u->leader >= 0 && p->log ? log_ref_dup(p->log) : NULL;
	pthread_mutex_unlock(&rm->lock);
	log_ref_put(log); /* a second reference when the partition already had its log */
	if (l && leads) {
		/* A new leader epoch starts at our log end [Kafka's Partition.makeLeader]. */
		log_assign_epoch_start(l, u->leader_epoch);
		if (alone)
			log_set_high_watermark(l, log_end_offset(l));
	}
	if (rm->fetchers) {
		if (follow_ref)
			fetcher_manager_add(rm->fetchers, topic, topic_len, u->index, u->leader, u->leader_epoch, follow_ref);
		else
			fetcher_manager_remove(rm->fetchers, topic, topic_len, u->index);
	} else {
		log_ref_put(follow_ref);
	}
	if (log_err != KERR_NONE)
		return log_err;
	log_info("Broker %d is now %s of %.*s-%d (leader epoch %d)", rm->broker_id,
		 u->leader == rm->broker_id ? "leader" : "a follower", (int)topic_len, topic, u->index, u->leader_epoch);
	if (rm->leadership)
		rm->leadership(rm->leadership_arg, topic, topic_len, u->index, leads, u->leader_epoch);
	return KERR_NONE;
}

int16_t replica_manager_stop(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			     int32_t leader_epoch, bool delete_partition)
{
	pthread_mutex_lock(&rm->lock);
	bool found;
	int at = search(rm, topic, topic_len, partition, &found);
	if (!found) {
		pthread_mutex_unlock(&rm->lock);
		return KERR_NONE; /* nothing hosted: nothing to stop */
	}
	struct partition *p = rm->parts[at];
	if (leader_epoch != EPOCH_DURING_DELETE && leader_epoch != NO_EPOCH && leader_epoch < p->leader_epoch) {
		pthread_mutex_unlock(&rm->lock);
		return KERR_FENCED_LEADER_EPOCH;
	}
	memmove(&rm->parts[at], &rm->parts[at + 1], sizeof *rm->parts * (size_t)(rm->n - at - 1));
	rm->n--;
	pthread_mutex_unlock(&rm->lock);
	log_info("Broker %d stopped replica %.*s-%d%s", rm->broker_id, (int)topic_len, topic, partition,
		 delete_partition ? " (deleted)" : "");
	partition_free(p);
	if (rm->fetchers)
		fetcher_manager_remove(rm->fetchers, topic, topic_len, partition);
	if (rm->leadership)
		rm->leadership(rm->leadership_arg, topic, topic_len, partition, false, -1);
	if (delete_partition && rm->logs)
		log_manager_delete(rm->logs, topic, topic_len, partition);
	return KERR_NONE;
}

bool replica_manager_get(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			 struct partition_info *out)
{
	pthread_mutex_lock(&rm->lock);
	bool found;
	int at = search(rm, topic, topic_len, partition, &found);
	if (found) {
		const struct partition *p = rm->parts[at];
		out->leader = p->leader;
		out->leader_epoch = p->leader_epoch;
		out->partition_epoch = p->partition_epoch;
		out->is_leader = p->leader == rm->broker_id;
		memcpy(out->topic_id, p->topic_id, 16);
	}
	pthread_mutex_unlock(&rm->lock);
	return found;
}

int replica_manager_count(struct replica_manager *rm)
{
	pthread_mutex_lock(&rm->lock);
	int n = rm->n;
	pthread_mutex_unlock(&rm->lock);
	return n;
}

int16_t replica_manager_leader_log(struct replica_manager *rm, const char *topic, size_t topic_len,
				   int32_t partition, int32_t current_leader_epoch, struct leader_log *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&rm->lock);
	bool found;
	int at = search(rm, topic, topic_len, partition, &found);
	int16_t err = KERR_NONE;
	if (!found) {
		err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
	} else {
		const struct partition *p = rm->parts[at];
		if (current_leader_epoch >= 0 && current_leader_epoch < p->leader_epoch)
			err = KERR_FENCED_LEADER_EPOCH;
		else if (current_leader_epoch > p->leader_epoch)
			err = KERR_UNKNOWN_LEADER_EPOCH;
		else if (p->leader != rm->broker_id)
			err = KERR_NOT_LEADER_OR_FOLLOWER;
		else if (!p->log)
			err = KERR_KAFKA_STORAGE_ERROR;
		else {
			out->ref = log_ref_dup(p->log);
			out->log = log_ref_log(p->log);
			out->leader_epoch = p->leader_epoch;
			out->isr_alone = p->n_isr == 1 && p->isr[0] == rm->broker_id;
			out->n_isr = p->n_isr;
			out->topic = topic;
			out->topic_len = topic_len;
			out->partition = partition;
		}
	}
	pthread_mutex_unlock(&rm->lock);
	return err;
}


/* --- replication: followers, high watermark, ISR --------------------------------------- */

void replica_manager_set_fetchers(struct replica_manager *rm, struct fetcher_manager *fm) { rm->fetchers = fm; }

void replica_manager_set_isr_writer(struct replica_manager *rm, replica_isr_write_fn fn, void *arg)
{
	rm->isr_write = fn;
	rm->isr_write_arg = arg;
}

void replica_manager_set_hw_listener(struct replica_manager *rm, replica_hw_fn fn, void *arg)
{
	rm->on_hw = fn;
	rm->on_hw_arg = arg;
}

static bool in_isr(const struct partition *p, int32_t id)
{
	for (int i = 0; i < p->n_isr; i++)
		if (p->isr[i] == id)
			return true;
	return false;
}

static struct follower *follower_of(struct partition *p, int32_t id)
{
	for (int i = 0; i < p->n_followers; i++)
		if (p->followers[i].id == id)
			return &p->followers[i];
	return NULL;
}

/*
 * The high watermark is the smallest log end over the ISR [Partition.maybeIncrementLeaderHW];
 * it only moves forward.  Called with rm->lock held; true when it moved.
 */
static bool maybe_increment_hw_locked(struct replica_manager *rm, struct partition *p)
{
	if (p->leader != rm->broker_id || !p->log)
		return false;
	struct log *l = log_ref_log(p->log);
	int64_t hw = log_end_offset(l);
	for (int i = 0; i < p->n_isr; i++) {
		if (p->isr[i] == rm->broker_id)
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

static void notify_hw(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition)
{
	if (rm->on_hw)
		rm->on_hw(rm->on_hw_arg, topic, topic_len, partition);
}

void replica_manager_update_hw(struct replica_manager *rm, const struct leader_log *ll)
{
	if (ll->isr_alone) {
		log_set_high_watermark(ll->log, log_end_offset(ll->log));
		return;
	}
	if (!ll->topic)
		return;
	pthread_mutex_lock(&rm->lock);
	bool found;
	int at = search(rm, ll->topic, ll->topic_len, ll->partition, &found);
	bool moved = found && maybe_increment_hw_locked(rm, rm->parts[at]);
	pthread_mutex_unlock(&rm->lock);
	if (moved)
		notify_hw(rm, ll->topic, ll->topic_len, ll->partition);
}

/* Queue an ISR write for p (rm->lock held). */
static void queue_isr_change(struct replica_manager *rm, struct partition *p, const int32_t *isr, int n)
{
	if (rm->n_changes == rm->cap_changes) {
		rm->cap_changes = rm->cap_changes ? rm->cap_changes * 2 : 8;
		rm->changes = xrealloc(rm->changes, sizeof *rm->changes * (size_t)rm->cap_changes);
	}
	int32_t *copy = xmalloc(sizeof *copy * (size_t)(n ? n : 1));
	memcpy(copy, isr, sizeof *copy * (size_t)n);
	rm->changes[rm->n_changes++] = (struct isr_change){
		.topic = xstrndup(p->topic, p->topic_len),
		.topic_len = p->topic_len,
		.partition = p->index,
		.leader_epoch = p->leader_epoch,
		.isr = copy,
		.n_isr = n,
	};
	p->isr_change_pending = true;
	pthread_cond_signal(&rm->isr_wake);
}

int16_t replica_manager_follower_fetch(struct replica_manager *rm, const char *topic, size_t topic_len,
				       int32_t partition, int32_t replica_id, int64_t fetch_offset,
				       int32_t last_fetched_epoch, int32_t *diverging_epoch,
				       int64_t *diverging_end_offset)
{
	*diverging_epoch = -1;
	*diverging_end_offset = -1;
	pthread_mutex_lock(&rm->lock);
	bool found;
	int at = search(rm, topic, topic_len, partition, &found);
	if (!found) {
		pthread_mutex_unlock(&rm->lock);
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	struct partition *p = rm->parts[at];
	struct follower *f = follower_of(p, replica_id);
	if (p->leader != rm->broker_id || !p->log || !f) {
		pthread_mutex_unlock(&rm->lock);
		return KERR_NOT_LEADER_OR_FOLLOWER;
	}
	struct log *l = log_ref_log(p->log);
	if (last_fetched_epoch >= 0) {
		/* KIP-320: where does the follower's last epoch end in our log? */
		int32_t epoch;
		int64_t end;
		log_end_offset_for_epoch(l, last_fetched_epoch, &epoch, &end);
		if (epoch < last_fetched_epoch || end < fetch_offset) {
			*diverging_epoch = epoch;
			*diverging_end_offset = end;
			pthread_mutex_unlock(&rm->lock);
			return KERR_NONE;
		}
	}
	int64_t now = wall_clock_ms();
	int64_t leader_leo = log_end_offset(l);
	/* Kafka's Replica.updateFetchState: caught up if it asked for everything we had, now or at its last fetch. */
	if (fetch_offset >= leader_leo)
		f->last_caught_up_ms = now;
	else if (f->last_fetch_leader_leo >= 0 && fetch_offset >= f->last_fetch_leader_leo)
		f->last_caught_up_ms = f->last_fetch_ms;
	f->leo = fetch_offset;
	f->last_fetch_leader_leo = leader_leo;
	f->last_fetch_ms = now;
	/* Back in the ISR once it reached the high watermark and this epoch's start [maybeExpandIsr]. */
	if (!in_isr(p, replica_id) && !p->isr_change_pending && fetch_offset >= log_high_watermark(l) &&
	    fetch_offset >= p->epoch_start_offset && rm->isr_write) {
		int32_t *isr = xmalloc(sizeof *isr * (size_t)(p->n_isr + 1));
		memcpy(isr, p->isr, sizeof *isr * (size_t)p->n_isr);
		isr[p->n_isr] = replica_id;
		log_info("Expanding ISR of %.*s-%d from %d members to add broker %d (follower at %" PRId64 ", high watermark %" PRId64 ")",
			 (int)topic_len, topic, partition, p->n_isr, replica_id, fetch_offset, log_high_watermark(l));
		queue_isr_change(rm, p, isr, p->n_isr + 1);
		free(isr);
	}
	bool moved = maybe_increment_hw_locked(rm, p);
	pthread_mutex_unlock(&rm->lock);
	if (moved)
		notify_hw(rm, topic, topic_len, partition);
	return KERR_NONE;
}

bool replica_manager_acks_done(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			       int64_t required_offset, int16_t *error)
{
	*error = KERR_NONE;
	pthread_mutex_lock(&rm->lock);
	bool found;
	int at = search(rm, topic, topic_len, partition, &found);
	bool done = true;
	if (!found || rm->parts[at]->leader != rm->broker_id || !rm->parts[at]->log) {
		*error = KERR_NOT_LEADER_OR_FOLLOWER;
	} else {
		struct partition *p = rm->parts[at];
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
	pthread_mutex_unlock(&rm->lock);
	return done;
}

/* Followers out of the ISR's time bound [Partition.maybeShrinkIsr]; rm->lock held. */
static void check_shrink_locked(struct replica_manager *rm, int64_t now)
{
	for (int i = 0; i < rm->n; i++) {
		struct partition *p = rm->parts[i];
		if (p->leader != rm->broker_id || p->n_isr <= 1 || p->isr_change_pending || !p->log)
			continue;
		int32_t *keep = xmalloc(sizeof *keep * (size_t)p->n_isr);
		int n = 0;
		for (int j = 0; j < p->n_isr; j++) {
			struct follower *f = p->isr[j] == rm->broker_id ? NULL : follower_of(p, p->isr[j]);
			bool lagging = f && now - f->last_caught_up_ms > rm->lag_max_ms;
			if (lagging) {
				struct log *l = log_ref_log(p->log);
				log_info("Shrinking ISR of %.*s-%d: broker %d is out of sync (last caught up %" PRId64
					 " ms ago; its end %" PRId64 ", ours %" PRId64 ", high watermark %" PRId64 ")",
					 (int)p->topic_len, p->topic, p->index, p->isr[j], now - f->last_caught_up_ms, f->leo,
					 log_end_offset(l), log_high_watermark(l));
			} else {
				keep[n++] = p->isr[j];
			}
		}
		if (n < p->n_isr && n > 0)
			queue_isr_change(rm, p, keep, n);
		free(keep);
	}
}

/* Write one queued change to ZooKeeper, then install it if the partition is still ours at that epoch. */
static void write_change(struct replica_manager *rm, struct isr_change *c)
{
	pthread_mutex_lock(&rm->lock);
	bool found;
	int at = search(rm, c->topic, c->topic_len, c->partition, &found);
	struct partition *p = found ? rm->parts[at] : NULL;
	if (!p || p->leader != rm->broker_id || p->leader_epoch != c->leader_epoch) {
		if (p)
			p->isr_change_pending = false;
		pthread_mutex_unlock(&rm->lock);
		return;
	}
	int32_t version = p->partition_epoch, controller_epoch = p->controller_epoch;
	pthread_mutex_unlock(&rm->lock);
	int32_t new_version = -1;
	int rc = rm->isr_write(rm->isr_write_arg, c->topic, c->partition, rm->broker_id, c->leader_epoch,
			       controller_epoch, c->isr, c->n_isr, version, &new_version);
	pthread_mutex_lock(&rm->lock);
	at = search(rm, c->topic, c->topic_len, c->partition, &found);
	p = found ? rm->parts[at] : NULL;
	bool moved = false;
	if (p && p->leader == rm->broker_id && p->leader_epoch == c->leader_epoch) {
		p->isr_change_pending = false;
		if (rc == 0) {
			free(p->isr);
			p->isr = xmalloc(sizeof *p->isr * (size_t)c->n_isr);
			memcpy(p->isr, c->isr, sizeof *p->isr * (size_t)c->n_isr);
			p->n_isr = c->n_isr;
			p->partition_epoch = new_version;
			int64_t now = wall_clock_ms();
			for (int i = 0; i < p->n_followers; i++)
				if (in_isr(p, p->followers[i].id) && p->followers[i].last_caught_up_ms == 0)
					p->followers[i].last_caught_up_ms = now;
			moved = maybe_increment_hw_locked(rm, p);
		} else if (rc == 1) {
			log_info("ISR of %.*s-%d not updated: its state znode changed under us (version %d); "
				 "waiting for the controller", (int)c->topic_len, c->topic, c->partition, version);
		}
	}
	pthread_mutex_unlock(&rm->lock);
	if (moved)
		notify_hw(rm, c->topic, c->topic_len, c->partition);
}

static void *isr_main(void *arg)
{
	struct replica_manager *rm = arg;
	int64_t next_check = wall_clock_ms() + rm->lag_max_ms / 2;
	pthread_mutex_lock(&rm->lock);
	while (!rm->isr_stop) {
		int64_t now = wall_clock_ms();
		if (now >= next_check) {
			check_shrink_locked(rm, now);
			next_check = now + rm->lag_max_ms / 2;
		}
		while (rm->n_changes > 0 && !rm->isr_stop) {
			struct isr_change c = rm->changes[0];
			memmove(&rm->changes[0], &rm->changes[1], sizeof *rm->changes * (size_t)(rm->n_changes - 1));
			rm->n_changes--;
			pthread_mutex_unlock(&rm->lock);
			write_change(rm, &c);
			free(c.topic);
			free(c.isr);
			pthread_mutex_lock(&rm->lock);
		}
		if (rm->isr_stop)
			break;
		struct timespec ts = { .tv_sec = next_check / 1000, .tv_nsec = (next_check % 1000) * 1000000 };
		pthread_cond_timedwait(&rm->isr_wake, &rm->lock, &ts);
	}
	pthread_mutex_unlock(&rm->lock);
	return NULL;
}

void replica_manager_start_threads(struct replica_manager *rm, int64_t replica_lag_time_max_ms)
{
	rm->lag_max_ms = replica_lag_time_max_ms > 0 ? replica_lag_time_max_ms : 30000;
	if (!rm->isr_write)
		return;
	rm->isr_running = true;
	pthread_create(&rm->isr_thread, NULL, isr_main, rm);
}

void replica_manager_stop_threads(struct replica_manager *rm)
{
	if (!rm->isr_running)
		return;
	pthread_mutex_lock(&rm->lock);
	rm->isr_stop = true;
	pthread_cond_signal(&rm->isr_wake);
	pthread_mutex_unlock(&rm->lock);
	pthread_join(rm->isr_thread, NULL);
	rm->isr_running = false;
}
