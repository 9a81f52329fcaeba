/*
 * The replica manager [Kafka's ReplicaManager]: which partitions this broker
 * hosts and, for each, who leads and at which epochs, as the controller last
 * said through LeaderAndIsr and StopReplica.  Epoch fencing lives here so a
 * stale controller can never move a partition backwards.
 *
 * Each hosted partition holds a reference to its log (from the log manager);
 * handlers borrow it through replica_manager_leader_log.  Fetcher threads and
 * follower tracking join as replication lands.
 */
#ifndef SAMSA_REPLICA_REPLICA_MANAGER_H
#define SAMSA_REPLICA_REPLICA_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What LeaderAndIsr says about one partition. */
struct partition_update {
	int32_t index;
	int32_t controller_epoch;
	int32_t leader;
	int32_t leader_epoch;
	int32_t partition_epoch;
	const int32_t *isr;
	int n_isr;
	const int32_t *replicas;
	int n_replicas;
};

/* A copy of one partition's state, for readers. */
struct partition_info {
	int32_t leader;
	int32_t leader_epoch;
	int32_t partition_epoch;
	bool is_leader;
	uint8_t topic_id[16];
};

struct replica_manager;
struct log_manager;
struct log_ref;
struct log;

struct replica_manager *replica_manager_new(int32_t broker_id);
/* Logs come from lm from now on (NULL: state only, as in unit tests). */
void replica_manager_set_logs(struct replica_manager *rm, struct log_manager *lm);
/*
 * Where a topic's configuration comes from (the broker reads /config/topics):
 * called, outside any lock, when this process first hosts one of the topic's
 * partitions; fills *out and returns 0, or -1 to keep the log manager's defaults.
 */
struct log_config;
typedef int (*replica_topic_config_fn)(void *arg, const char *topic, struct log_config *out);
void replica_manager_set_topic_config(struct replica_manager *rm, replica_topic_config_fn fn, void *arg);
/*
 * Told, outside any lock, after this broker becomes leader or follower of a
 * partition (leader_epoch as LeaderAndIsr gave it) and after it stops
 * hosting one (leader false, epoch -1): how the coordinators learn which of
 * their partitions they own.
 */
typedef void (*replica_leadership_fn)(void *arg, const char *topic, size_t topic_len, int32_t partition, bool leader,
				      int32_t leader_epoch);
void replica_manager_set_leadership_listener(struct replica_manager *rm, replica_leadership_fn fn, void *arg);
void replica_manager_free(struct replica_manager *rm);

/*
 * Checks the request's controller epoch against the newest seen and records it.
 * Returns false (the whole request is stale) when it is older.
 */
bool replica_manager_accept_controller_epoch(struct replica_manager *rm, int32_t controller_epoch);

/* Become leader or follower of one partition; a Kafka error code for that partition. */
int16_t replica_manager_apply(struct replica_manager *rm, const char *topic, size_t topic_len,
			      const uint8_t *topic_id, const struct partition_update *u);
/* Stop hosting a partition (leader_epoch -1/-2 always applies); a Kafka error code. */
int16_t replica_manager_stop(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			     int32_t leader_epoch, bool delete_partition);
/* false when this broker does not host the partition. */
bool replica_manager_get(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			 struct partition_info *out);
int replica_manager_count(struct replica_manager *rm);

/* What a handler borrows to read or write a partition this broker leads. */
struct leader_log {
	struct log_ref *ref;  /* put it with log_ref_put */
	struct log *log;
	int32_t leader_epoch;
	bool isr_alone;       /* the ISR is this broker only: the HW follows the LEO */
	int n_isr;
	const char *topic;    /* as the caller passed it */
	size_t topic_len;
	int32_t partition;
};

/*
 * The log of a partition for a client: KERR_NONE (out filled), or
 * UNKNOWN_TOPIC_OR_PARTITION when this broker does not host it,
 * NOT_LEADER_OR_FOLLOWER when it hosts it but does not lead it,
 * KAFKA_STORAGE_ERROR when its log could not be opened.  With
 * current_leader_epoch >= 0 (a client's view), an older epoch is
 * FENCED_LEADER_EPOCH and a newer one UNKNOWN_LEADER_EPOCH.
 */
int16_t replica_manager_leader_log(struct replica_manager *rm, const char *topic, size_t topic_len,
				   int32_t partition, int32_t current_leader_epoch, struct leader_log *out);

/* After an append by the leader: move the high watermark as far as the ISR allows. */
void replica_manager_update_hw(struct replica_manager *rm, const struct leader_log *ll);

/* --- replication ------------------------------------------------------------------------- */
struct fetcher_manager;
/* Followed partitions are fetched by fm (set before the first LeaderAndIsr). */
void replica_manager_set_fetchers(struct replica_manager *rm, struct fetcher_manager *fm);
/*
 * How the leader publishes an ISR change (Kafka before 2.7): write the
 * partition state znode conditionally on expected_zk_version and announce it
 * under /isr_change_notification.  0 (new version in *new_zk_version),
 * 1 when the znode's version moved (the controller changed it), -1 on error.
 * Called from the replica manager's ISR thread, never under a lock.
 */
typedef int (*replica_isr_write_fn)(void *arg, const char *topic, int32_t partition, int32_t leader,
				    int32_t leader_epoch, int32_t controller_epoch, const int32_t *isr, int n_isr,
				    int32_t expected_zk_version, int32_t *new_zk_version);
void replica_manager_set_isr_writer(struct replica_manager *rm, replica_isr_write_fn fn, void *arg);
/*
 * The high watermark of topic-partition moved: delayed produces and fetches
 * watching it may complete.  Called outside the replica manager's lock, by
 * the thread that moved it (topic is not NUL-terminated).
 */
typedef void (*replica_hw_fn)(void *arg, const char *topic, size_t topic_len, int32_t partition);
void replica_manager_set_hw_listener(struct replica_manager *rm, replica_hw_fn fn, void *arg);
/* The ISR thread: shrinks ISRs of followers lagging more than replica.lag.time.max.ms, writes changes. */
void replica_manager_start_threads(struct replica_manager *rm, int64_t replica_lag_time_max_ms);
void replica_manager_stop_threads(struct replica_manager *rm);

/*
 * The leader's side of a follower's fetch: records where the follower is,
 * may queue an ISR expansion and move the high watermark.  When the
 * follower's last fetched epoch ends earlier in our log (KIP-320),
 * *diverging_epoch and *diverging_end_offset say where, and nothing is recorded.
 */
int16_t replica_manager_follower_fetch(struct replica_manager *rm, const char *topic, size_t topic_len,
				       int32_t partition, int32_t replica_id, int64_t fetch_offset,
				       int32_t last_fetched_epoch, int32_t *diverging_epoch,
				       int64_t *diverging_end_offset);
/*
 * acks=all: true when the partition's high watermark reached required_offset
 * (then *error is NONE, or NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is
 * below min.insync.replicas), or when we no longer lead it (*error set).
 */
bool replica_manager_acks_done(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			       int64_t required_offset, int16_t *error);

#endif
