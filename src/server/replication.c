/* The broker's side of replication (see replication.h). */
#include "server/replication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zookeeper/zookeeper.h>

#include "samsa/config.h"
#include "samsa/metadata.h"
#include "samsa/purgatory.h"
#include "samsa/replica.h"
#include "samsa/util/buf.h"
#include "samsa/util/json.h"
#include "samsa/util/log.h"
#include "samsa/zk.h"
#include "server/broker.h"
#include "server/quotas.h"

/* A leader's inter-broker endpoint, from the metadata the controller sent us. */
static int leader_endpoint(void *arg, int32_t broker_id, char *out, size_t cap)
{
	struct broker *b = arg;
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	const struct mc_broker *mb = metadata_snapshot_broker(s, broker_id);
	const struct mc_endpoint *e = mb ? mc_broker_endpoint(mb, b->bc->inter_broker_listener_name) : NULL;
	int rc = -1;
	if (e) {
		snprintf(out, cap, "%s:%d", e->host, e->port);
		rc = 0;
	}
	metadata_snapshot_release(s);
	return rc;
}

static int write_isr(void *arg, const char *topic, int32_t partition, int32_t leader, int32_t leader_epoch,
		     int32_t controller_epoch, const int32_t *isr, int n_isr, int32_t expected, int32_t *new_version)
{
	struct broker *b = arg;
	struct partition_state st = {
		.leader = leader,
		.leader_epoch = leader_epoch,
		.controller_epoch = controller_epoch,
		.isr = (int32_t *)isr,
		.n_isr = n_isr,
	};
	int rc = topic_zk_write_isr(b->zk, topic, partition, &st, expected, new_version);
	if (rc == ZBADVERSION)
		return 1;
	if (rc != ZOK) {
		log_warn("Writing the ISR of %s-%d to ZooKeeper failed: %s", topic, partition, zerror(rc));
		return -1;
	}
	/* Tell the controller, which carries the change to every broker in UpdateMetadata. */
	struct topic_partition_ref changed = { (char *)topic, partition };
	rc = topic_zk_create_isr_change(b->zk, &changed, 1);
	if (rc != ZOK)
		log_warn("Announcing the ISR change of %s-%d failed: %s", topic, partition, zerror(rc));
	return 0;
}

/* Delayed produces (acks=all) and consumer fetches of that partition may complete now. */
static void hw_moved(void *arg, const char *topic, size_t topic_len, int32_t partition)
{
	struct broker *b = arg;
	if (b->purgatory) {
		struct purgatory_key k = purgatory_partition_key(topic, topic_len, partition);
		purgatory_check_and_complete(b->purgatory, &k);
	}
}

/* The fetchers' follower throttle: b->follower_quota (quotas.c). */
static bool follower_throttled(void *arg, const char *topic, size_t len, int32_t partition)
{
	struct broker *b = arg;
	return replication_quota_throttled(b->follower_quota, topic, len, partition);
}

static bool follower_exceeded(void *arg, int64_t now_ms)
{
	struct broker *b = arg;
	return b->follower_quota && replication_quota_exceeded(b->follower_quota, now_ms);
}

static void follower_record(void *arg, double bytes, int64_t now_ms)
{
	struct broker *b = arg;
	if (b->follower_quota)
		replication_quota_record(b->follower_quota, bytes, now_ms);
}

void broker_replication_start(struct broker *b)
{
	const struct config *c = b->config;
	struct fetcher_config fc = {
		.broker_id = b->id,
		.num_fetchers = config_int(c, "num.replica.fetchers"),
		.max_wait_ms = config_int(c, "replica.fetch.wait.max.ms"),
		.min_bytes = config_int(c, "replica.fetch.min.bytes"),
		.response_max_bytes = config_int(c, "replica.fetch.response.max.bytes"),
		.partition_max_bytes = config_int(c, "replica.fetch.max.bytes"),
		.backoff_ms = config_int(c, "replica.fetch.backoff.ms"),
		.socket_timeout_ms = config_int(c, "replica.socket.timeout.ms"),
		.endpoint = leader_endpoint,
		.arg = b,
		.security = b->inter_broker_security,
		.throttle = { follower_throttled, follower_exceeded, follower_record, b },
	};
	b->fetchers = fetcher_manager_new(&fc);
	replica_manager_set_fetchers(b->replicas, b->fetchers);
	replica_manager_set_isr_writer(b->replicas, write_isr, b);
	replica_manager_set_hw_listener(b->replicas, hw_moved, b);
	replica_manager_start_threads(b->replicas, config_long(c, "replica.lag.time.max.ms"));
}

void broker_replication_stop(struct broker *b)
{
	if (!b->replicas)
		return;
	replica_manager_stop_threads(b->replicas);
	replica_manager_set_fetchers(b->replicas, NULL);
	fetcher_manager_free(b->fetchers);
	b->fetchers = NULL;
}
