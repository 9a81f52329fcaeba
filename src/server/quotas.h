/*
 * Client quotas [Kafka's ClientQuotaManager with its DefaultQuotaCallback, ZooKeeper
 * mode]: see quotas.c.
 */
#ifndef SAMSA_SERVER_QUOTAS_H
#define SAMSA_SERVER_QUOTAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct zk;

/* Kafka's quota types, in the order of their keys in quota_keys[]. */
enum quota_type { QUOTA_PRODUCE, QUOTA_FETCH, QUOTA_REQUEST, QUOTA_MUTATION, QUOTA_TYPES };
/* producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate */
extern const char *const quota_keys[QUOTA_TYPES];
/* The quota type of a key, -1 if it is not a client quota key. */
int quota_key_type(const char *key);

struct quota_manager;

/* quota.window.num and quota.window.size.seconds from cfg. */
struct quota_manager *quota_manager_new(const struct config *cfg);
void quota_manager_free(struct quota_manager *qm);

/*
 * Read every client quota entity from ZooKeeper (/config/users/<u>,
 * /config/users/<u>/clients/<c>, /config/clients/<c>): at start-up.
 */
void quota_manager_load(struct quota_manager *qm, struct zk *zk);
/*
 * Re-read one entity after its /config/changes notice ("users/alice",
 * "users/<default>/clients/app", "clients/<default>").  A znode that is not
 * Kafka's JSON is logged and ignored: the entity keeps its last good quotas.
 */
void quota_manager_reload(struct quota_manager *qm, struct zk *zk, const char *entity);

/*
 * Record `value` against the quota of type for this principal ("User:alice")
 * and client id at now_ms, and return how long the client must be throttled
 * (0 when within its quota or it has none), as Kafka's
 * maybeRecordAndGetThrottleTimeMs.
 */
int32_t quota_record(struct quota_manager *qm, enum quota_type type, const char *principal, const char *client_id,
		     size_t client_id_len, double value, int64_t now_ms);

/*
 * The leader's replication throttle [Kafka's ReplicationQuotaManager for
 * LeaderReplication]: one rate for all throttled partitions this broker
 * leads, bounded by its leader.replication.throttled.rate (per-broker dynamic
 * config; unset: no bound), over replication.quota.window.num samples of
 * replication.quota.window.size.seconds.  Which partitions are throttled comes
 * from each topic's leader.replication.throttled.replicas ("*", or
 * partition:broker entries naming this broker).
 */
struct replication_quota;

/* The same on the follower side (follower: follower.replication.throttled.*, applied by the fetchers). */
struct replication_quota *replication_quota_new(const struct config *cfg, int32_t broker_id, bool follower);
void replication_quota_free(struct replication_quota *rq);
/* bytes_per_s <= 0: no bound. */
void replication_quota_set_rate(struct replication_quota *rq, double bytes_per_s);
/* The topic's leader/follower.replication.throttled.replicas value (NULL or "": none). */
void replication_quota_set_topic(struct replication_quota *rq, const char *topic, const char *value);
/* Every topic's value from /config/topics (at start). */
void replication_quota_load(struct replication_quota *rq, struct zk *zk);
const char *replication_quota_topic_key(const struct replication_quota *rq);
bool replication_quota_throttled(struct replication_quota *rq, const char *topic, size_t topic_len, int32_t partition);
/* Kafka's isQuotaExceeded: the measured rate is over the bound now. */
bool replication_quota_exceeded(struct replication_quota *rq, int64_t now_ms);
void replication_quota_record(struct replication_quota *rq, double bytes, int64_t now_ms);

#endif
