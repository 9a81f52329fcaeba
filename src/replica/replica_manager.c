/* Hosted partitions and their epochs, fenced as Kafka fences them (see replica_manager.h). */
#include "replica/replica_manager.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "log/log_manager.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/xalloc.h"

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
	return rm;
}

void replica_manager_set_logs(struct replica_manager *rm, struct log_manager *lm) { rm->logs = lm; }

void replica_manager_free(struct replica_manager *rm)
{
	if (!rm)
		return;
	for (int i = 0; i < rm->n; i++)
		partition_free(rm->parts[i]);
	free(rm->parts);
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
	pthread_mutex_unlock(&rm->lock);
	log_ref_put(log); /* a second reference when the partition already had its log */
	if (l && leads) {
		/* A new leader epoch starts at our log end [Kafka's Partition.makeLeader]. */
		log_assign_epoch_start(l, u->leader_epoch);
		if (alone)
			log_set_high_watermark(l, log_end_offset(l));
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
		}
	}
	pthread_mutex_unlock(&rm->lock);
	return err;
}

void replica_manager_update_hw(struct replica_manager *rm, const struct leader_log *ll)
{
	(void)rm;
	/* Until followers report their offsets, only a lone ISR can move the high watermark. */
	if (ll->isr_alone)
		log_set_high_watermark(ll->log, log_end_offset(ll->log));
}
