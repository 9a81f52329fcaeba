/* Hosted partitions and their epochs, fenced as Kafka fences them (see replica_manager.h). */
#include "samsa/replica.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/tp_index.h"
#include "samsa/util/xalloc.h"
#include "replica/log_mover.h"

/* An ISR change waiting to be written to ZooKeeper by the ISR thread. */
struct isr_change {
	struct partition *part; /* referenced */
	int32_t leader_epoch;
	int32_t *isr;
	int n_isr;
};

struct replica_manager {
	int32_t broker_id;
	struct partition_hooks hooks; /* shared by every partition */
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
	struct log_mover *mover; /* made at the first AlterReplicaLogDirs */
	pthread_mutex_t mover_lock;

	/* The map: read-locked for lookups, write-locked only to insert or remove an entry. */
	pthread_rwlock_t map_lock;
	struct partition **parts; /* sorted by (topic, index) */
	int n;
	int cap;

	pthread_mutex_t epoch_lock;
	int32_t controller_epoch;

	/* The ISR thread and its queue (queue_lock is taken under a partition's state lock). */
	pthread_mutex_t queue_lock;
	pthread_cond_t isr_wake;
	int64_t lag_max_ms;
	pthread_t isr_thread;
	bool isr_running, isr_stop;
	struct isr_change *changes;
	int n_changes, cap_changes;
};

static struct tp_key part_key(const void *slot)
{
	const struct partition *p = *(struct partition *const *)slot;
	size_t len;
	const char *topic = partition_topic(p, &len);
	return tp_key(topic, len, partition_index(p));
}

/* Binary search of the map (map_lock held either way). */
static int search(struct replica_manager *rm, const char *t, size_t tl, int32_t idx, bool *found)
{
	return tp_index_search(rm->parts, rm->n, sizeof *rm->parts, part_key, tp_key(t, tl, idx), found);
}

static void on_partition_changed(void *arg, const char *topic, size_t topic_len, int32_t partition)
{
	struct replica_manager *rm = arg;
	if (rm->on_hw)
		rm->on_hw(rm->on_hw_arg, topic, topic_len, partition);
}

static void queue_isr_change(void *arg, struct partition *p, int32_t leader_epoch, const int32_t *isr, int n)
{
	struct replica_manager *rm = arg;
	pthread_mutex_lock(&rm->queue_lock);
	if (rm->n_changes == rm->cap_changes) {
		rm->cap_changes = rm->cap_changes ? rm->cap_changes * 2 : 8;
		rm->changes = xrealloc(rm->changes, sizeof *rm->changes * (size_t)rm->cap_changes);
	}
	int32_t *copy = xmalloc(sizeof *copy * (size_t)(n ? n : 1));
	memcpy(copy, isr, sizeof *copy * (size_t)n);
	partition_ref(p);
	rm->changes[rm->n_changes++] = (struct isr_change){ p, leader_epoch, copy, n };
	pthread_cond_signal(&rm->isr_wake);
	pthread_mutex_unlock(&rm->queue_lock);
}

struct replica_manager *replica_manager_new(int32_t broker_id)
{
	struct replica_manager *rm = xcalloc(1, sizeof *rm);
	rm->broker_id = broker_id;
	rm->hooks = (struct partition_hooks){
		.broker_id = broker_id,
		.changed = on_partition_changed,
		.queue_isr_change = NULL, /* set with the ISR writer */
		.arg = rm,
	};
	pthread_rwlock_init(&rm->map_lock, NULL);
	pthread_mutex_init(&rm->epoch_lock, NULL);
	pthread_mutex_init(&rm->mover_lock, NULL);
	pthread_mutex_init(&rm->queue_lock, NULL);
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
	/* Moves hold partitions and logs: they go first. */
	log_mover_free(rm->mover);
	rm->mover = NULL;
	pthread_mutex_destroy(&rm->mover_lock);
	for (int i = 0; i < rm->n; i++)
		partition_unref(rm->parts[i]);
	free(rm->parts);
	for (int i = 0; i < rm->n_changes; i++) {
		partition_unref(rm->changes[i].part);
		free(rm->changes[i].isr);
	}
	free(rm->changes);
	pthread_cond_destroy(&rm->isr_wake);
	pthread_mutex_destroy(&rm->queue_lock);
	pthread_mutex_destroy(&rm->epoch_lock);
	pthread_rwlock_destroy(&rm->map_lock);
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
	pthread_mutex_lock(&rm->epoch_lock);
	bool ok = controller_epoch >= rm->controller_epoch;
	if (ok)
		rm->controller_epoch = controller_epoch;
	pthread_mutex_unlock(&rm->epoch_lock);
	return ok;
}

struct partition *replica_manager_partition(struct replica_manager *rm, const char *topic, size_t topic_len,
					    int32_t partition)
{
	pthread_rwlock_rdlock(&rm->map_lock);
	bool found;
	int at = search(rm, topic, topic_len, partition, &found);
	struct partition *p = found ? rm->parts[at] : NULL;
	if (p)
		partition_ref(p);
	pthread_rwlock_unlock(&rm->map_lock);
	return p;
}

/* The partition, created (unhosted) if new; referenced. */
static struct partition *get_or_create(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t index)
{
	pthread_rwlock_wrlock(&rm->map_lock);
	bool found;
	int at = search(rm, topic, topic_len, index, &found);
	if (!found) {
		if (rm->n == rm->cap) {
			rm->cap = rm->cap ? rm->cap * 2 : 16;
			rm->parts = xrealloc(rm->parts, sizeof *rm->parts * (size_t)rm->cap);
		}
		*(struct partition **)tp_index_insert_at(rm->parts, rm->n++, sizeof *rm->parts, at) =
			partition_new(&rm->hooks, topic, topic_len, index);
	}
	struct partition *p = rm->parts[at];
	partition_ref(p);
	pthread_rwlock_unlock(&rm->map_lock);
	return p;
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
	/* The log is found or created before any lock is taken: creating one touches the disk,
	 * and reading the topic's config touches ZooKeeper. */
	struct partition *known = replica_manager_partition(rm, topic, topic_len, u->index);
	struct log_config cfg;
	bool have_cfg = false;
	if (!known && rm->logs && rm->topic_config) {
		char *name = xstrndup(topic, topic_len);
		have_cfg = rm->topic_config(rm->topic_config_arg, name, &cfg) == 0;
		free(name);
	}
	/* A partition whose dir failed stays offline: its log must not be made again elsewhere. */
	bool offline = known && partition_is_offline(known);
	partition_unref(known);
	if (offline)
		return KERR_KAFKA_STORAGE_ERROR;
	struct log_ref *log = NULL;
	int16_t log_err = KERR_NONE;
	if (rm->logs)
		log_err = (int16_t)log_manager_get_or_create(rm->logs, topic, topic_len, u->index, topic_id,
							     have_cfg ? &cfg : NULL, &log);
	/* A log loaded at start-up has the defaults until its topic is first hosted. */
	if (log && have_cfg)
		log_set_config(log_ref_log(log), &cfg);

	struct partition *p = get_or_create(rm, topic, topic_len, u->index);
	bool leads = false;
	int16_t err = partition_make_leader_or_follower(p, topic_id, u, log, &leads);
	if (err != KERR_NONE) {
		partition_unref(p);
		return err;
	}
	if (rm->fetchers) {
		if (!leads && u->leader >= 0 && log_err == KERR_NONE && rm->logs) {
			partition_ref(p);
			fetcher_manager_add(rm->fetchers, topic, topic_len, u->index, u->leader, u->leader_epoch, p);
		} else {
			fetcher_manager_remove(rm->fetchers, topic, topic_len, u->index);
		}
	}
	partition_unref(p);
	if (log_err != KERR_NONE)
		return log_err;
	log_info("Broker %d is now %s of %.*s-%d (leader epoch %d)", rm->broker_id, leads ? "leader" : "a follower",
		 (int)topic_len, topic, u->index, u->leader_epoch);
	if (rm->leadership)
		rm->leadership(rm->leadership_arg, topic, topic_len, u->index, leads, u->leader_epoch);
	return KERR_NONE;
}

int16_t replica_manager_stop(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			     int32_t leader_epoch, bool delete_partition)
{
	struct partition *p = replica_manager_partition(rm, topic, topic_len, partition);
	if (!p)
		return KERR_NONE; /* nothing hosted: nothing to stop */
	if (partition_is_offline(p)) {
		/* Kafka answers so and keeps the entry: the files are on a dir it cannot touch. */
		partition_unref(p);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	/* Stopped first: whoever still holds it sees NOT_LEADER_OR_FOLLOWER from now on. */
	int16_t err = partition_stop(p, leader_epoch);
	if (err != KERR_NONE) {
		partition_unref(p);
		return err;
	}
	pthread_rwlock_wrlock(&rm->map_lock);
	bool found;
	int at = search(rm, topic, topic_len, partition, &found);
	if (found && rm->parts[at] == p) {
		tp_index_remove_at(rm->parts, rm->n--, sizeof *rm->parts, at);
		partition_unref(p); /* the map's reference */
	}
	pthread_rwlock_unlock(&rm->map_lock);
	partition_unref(p);
	log_info("Broker %d stopped replica %.*s-%d%s", rm->broker_id, (int)topic_len, topic, partition,
		 delete_partition ? " (deleted)" : "");
	if (rm->fetchers)
		fetcher_manager_remove(rm->fetchers, topic, topic_len, partition);
	if (rm->leadership)
		rm->leadership(rm->leadership_arg, topic, topic_len, partition, false, -1);
	if (delete_partition && rm->logs) {
		struct log_mover *mover = __atomic_load_n(&rm->mover, __ATOMIC_ACQUIRE);
		if (mover)
			log_mover_cancel(mover, topic, topic_len, partition);
		log_manager_delete(rm->logs, topic, topic_len, partition);
	}
	return KERR_NONE;
}

int16_t replica_manager_alter_log_dir(struct replica_manager *rm, const char *topic, size_t topic_len,
				      int32_t partition, int d)
{
	if (!rm->logs)
		return KERR_KAFKA_STORAGE_ERROR;
	if (!log_manager_dir_online(rm->logs, d))
		return KERR_KAFKA_STORAGE_ERROR;
	struct partition *p = replica_manager_partition(rm, topic, topic_len, partition);
	struct log_ref *cur = log_manager_get(rm->logs, topic, topic_len, partition);
	if (!p || !cur) {
		/* Not hosted yet: its log is to be made in d when it is [maybeUpdatePreferredLogDir]. */
		log_manager_set_preferred_dir(rm->logs, topic, topic_len, partition, d);
		partition_unref(p);
		log_ref_put(cur);
		return KERR_REPLICA_NOT_AVAILABLE;
	}
	if (partition_is_offline(p)) {
		partition_unref(p);
		log_ref_put(cur);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	pthread_mutex_lock(&rm->mover_lock);
	if (!rm->mover)
		__atomic_store_n(&rm->mover, log_mover_new(rm->logs), __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rm->mover_lock);
	/* A move elsewhere is superseded [futureReplicaDirChanged]; one into d goes on. */
	struct log_ref *fut = log_manager_get_future(rm->logs, topic, topic_len, partition);
	bool keep = fut && log_ref_dir(fut) == d;
	log_ref_put(fut);
	if (!keep)
		log_mover_cancel(rm->mover, topic, topic_len, partition);
	int16_t err = KERR_NONE;
	if (!keep && log_ref_dir(cur) != d) {
		struct partition_info info;
		partition_get_info(p, &info);
		struct log_config cfg;
		log_get_config(log_ref_log(cur), &cfg);
		struct log_ref *future = NULL;
		err = (int16_t)log_manager_create_future(rm->logs, topic, topic_len, partition, d, info.topic_id, &cfg,
							 &future);
		if (err == KERR_NONE) {
			log_info("Broker %d: moving %.*s-%d from %s to %s", rm->broker_id, (int)topic_len, topic,
				 partition, log_manager_dir_path(rm->logs, log_ref_dir(cur)),
				 log_manager_dir_path(rm->logs, d));
			partition_ref(p);
			log_mover_add(rm->mover, p, future);
		}
	}
	partition_unref(p);
	log_ref_put(cur);
	return err;
}

void replica_manager_mark_offline(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition)
{
	/* Kept in the map even when unknown so far: a later LeaderAndIsr must not recreate it elsewhere. */
	struct partition *p = get_or_create(rm, topic, topic_len, partition);
	partition_set_offline(p);
	partition_unref(p);
	log_warn("Broker %d: partition %.*s-%d is offline (its log dir failed)", rm->broker_id, (int)topic_len, topic,
		 partition);
	if (rm->fetchers)
		fetcher_manager_remove(rm->fetchers, topic, topic_len, partition);
	if (rm->leadership)
		rm->leadership(rm->leadership_arg, topic, topic_len, partition, false, -1);
}

bool replica_manager_get(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			 struct partition_info *out)
{
	struct partition *p = replica_manager_partition(rm, topic, topic_len, partition);
	if (!p)
		return false;
	partition_get_info(p, out);
	partition_unref(p);
	return true;
}

int replica_manager_count(struct replica_manager *rm)
{
	pthread_rwlock_rdlock(&rm->map_lock);
	int n = rm->n;
	pthread_rwlock_unlock(&rm->map_lock);
	return n;
}

int16_t replica_manager_lease_leader(struct replica_manager *rm, const char *topic, size_t topic_len,
				     int32_t partition, int32_t current_leader_epoch, struct partition_lease *out)
{
	memset(out, 0, sizeof *out);
	struct partition *p = replica_manager_partition(rm, topic, topic_len, partition);
	if (!p)
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	int16_t err = partition_lease_leader(p, current_leader_epoch, out);
	partition_unref(p); /* the lease holds its own */
	return err;
}

void replica_manager_lease_release(struct partition_lease *l) { partition_lease_release(l); }

bool replica_manager_acks_done(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			       int64_t required_offset, int16_t *error)
{
	struct partition *p = replica_manager_partition(rm, topic, topic_len, partition);
	if (!p) {
		*error = KERR_NOT_LEADER_OR_FOLLOWER;
		return true;
	}
	bool done = partition_acks_done(p, required_offset, error);
	partition_unref(p);
	return done;
}

/* --- replication: the ISR thread ------------------------------------------------------- */

void replica_manager_set_fetchers(struct replica_manager *rm, struct fetcher_manager *fm) { rm->fetchers = fm; }

void replica_manager_set_isr_writer(struct replica_manager *rm, replica_isr_write_fn fn, void *arg)
{
	rm->isr_write = fn;
	rm->isr_write_arg = arg;
	rm->hooks.queue_isr_change = fn ? queue_isr_change : NULL;
}

void replica_manager_set_hw_listener(struct replica_manager *rm, replica_hw_fn fn, void *arg)
{
	rm->on_hw = fn;
	rm->on_hw_arg = arg;
}

/* Every hosted partition, referenced: walked without holding the map. */
static struct partition **snapshot(struct replica_manager *rm, int *n)
{
	pthread_rwlock_rdlock(&rm->map_lock);
	*n = rm->n;
	struct partition **all = xmalloc(sizeof *all * (size_t)(rm->n ? rm->n : 1));
	for (int i = 0; i < rm->n; i++) {
		all[i] = rm->parts[i];
		partition_ref(all[i]);
	}
	pthread_rwlock_unlock(&rm->map_lock);
	return all;
}

struct partition **replica_manager_snapshot(struct replica_manager *rm, int *n) { return snapshot(rm, n); }

/* Write one queued change to ZooKeeper, then install it if the partition is still ours at that epoch. */
static void write_change(struct replica_manager *rm, struct isr_change *c)
{
	int32_t version, controller_epoch;
	if (!partition_isr_write_begin(c->part, c->leader_epoch, &version, &controller_epoch))
		return;
	size_t tl;
	const char *topic = partition_topic(c->part, &tl);
	int32_t new_version = -1;
	int rc = rm->isr_write(rm->isr_write_arg, topic, partition_index(c->part), rm->broker_id, c->leader_epoch,
			       controller_epoch, c->isr, c->n_isr, version, &new_version);
	partition_isr_write_end(c->part, c->leader_epoch, rc, c->isr, c->n_isr, new_version);
}

static void *isr_main(void *arg)
{
	struct replica_manager *rm = arg;
	int64_t next_check = wall_clock_ms() + rm->lag_max_ms / 2;
	pthread_mutex_lock(&rm->queue_lock);
	while (!rm->isr_stop) {
		int64_t now = wall_clock_ms();
		if (now >= next_check) {
			pthread_mutex_unlock(&rm->queue_lock);
			int n;
			struct partition **all = snapshot(rm, &n);
			for (int i = 0; i < n; i++) {
				partition_maybe_shrink_isr(all[i], now, rm->lag_max_ms);
				partition_unref(all[i]);
			}
			free(all);
			pthread_mutex_lock(&rm->queue_lock);
			next_check = now + rm->lag_max_ms / 2;
		}
		while (rm->n_changes > 0 && !rm->isr_stop) {
			struct isr_change c = rm->changes[0];
			memmove(&rm->changes[0], &rm->changes[1], sizeof *rm->changes * (size_t)(rm->n_changes - 1));
			rm->n_changes--;
			pthread_mutex_unlock(&rm->queue_lock);
			write_change(rm, &c);
			partition_unref(c.part);
			free(c.isr);
			pthread_mutex_lock(&rm->queue_lock);
		}
		if (rm->isr_stop)
			break;
		struct timespec ts = { .tv_sec = next_check / 1000, .tv_nsec = (next_check % 1000) * 1000000 };
		pthread_cond_timedwait(&rm->isr_wake, &rm->queue_lock, &ts);
	}
	pthread_mutex_unlock(&rm->queue_lock);
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
	pthread_mutex_lock(&rm->queue_lock);
	rm->isr_stop = true;
	pthread_cond_signal(&rm->isr_wake);
	pthread_mutex_unlock(&rm->queue_lock);
	pthread_join(rm->isr_thread, NULL);
	rm->isr_running = false;
}
