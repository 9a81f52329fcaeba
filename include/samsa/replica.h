/*
 * The interface of src/replica/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_REPLICA_H
#define SAMSA_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/log.h"

/*
 * Replica fetchers [Kafka's ReplicaFetcherManager + ReplicaFetcherThread]:
 * for the partitions this broker follows, num.replica.fetchers threads per
 * leader broker (partitions spread by hash) fetch with replica_id = our id and appends what it gets as-is, follows
 * the leader's high watermark and log start offset, and truncates where the
 * leader says our log diverged (Fetch v12+ diverging_epoch, KIP-320).
 */
struct partition;
struct fetcher_manager;

struct client_security;

struct fetcher_config {
	int32_t broker_id;
	int32_t num_fetchers;        /* num.replica.fetchers: threads per leader broker */
	int32_t max_wait_ms;         /* replica.fetch.wait.max.ms */
	int32_t min_bytes;           /* replica.fetch.min.bytes */
	int32_t response_max_bytes;  /* replica.fetch.response.max.bytes */
	int32_t partition_max_bytes; /* replica.fetch.max.bytes */
	int32_t backoff_ms;          /* replica.fetch.backoff.ms */
	int32_t socket_timeout_ms;   /* replica.socket.timeout.ms */
	/* "host:port" of a broker on the inter-broker listener; 0, or -1 when unknown now. */
	int (*endpoint)(void *arg, int32_t broker_id, char *out, size_t cap);
	void *arg;
	/* How to secure the connections to leaders (the inter-broker listener's TLS and
	 * SASL, see samsa/util/client_security.h); NULL for plaintext. */
	const struct client_security *security;
};

struct fetcher_manager *fetcher_manager_new(const struct fetcher_config *cfg);
/* Stops and joins every thread; partitions are dropped. */
void fetcher_manager_free(struct fetcher_manager *fm);

/* Follow `leader` for this partition at leader_epoch (replaces an earlier assignment; takes
 * over the reference to part). */
void fetcher_manager_add(struct fetcher_manager *fm, const char *topic, size_t topic_len, int32_t partition,
			 int32_t leader, int32_t leader_epoch, struct partition *part);
/* Stop fetching this partition (we lead it now, or no longer host it). */
void fetcher_manager_remove(struct fetcher_manager *fm, const char *topic, size_t topic_len, int32_t partition);

/*
 * One hosted partition [Kafka's cluster/Partition]: its log, leader epoch,
 * ISR, high watermark and, on the leader, where each follower is.  It is the
 * only way to a partition's log: produce and the coordinators append through
 * partition_append_as_leader, the fetcher through a follower lease, Fetch
 * reads through partition_read, and the rest (ListOffsets, DeleteRecords,
 * OffsetForLeaderEpoch, a coordinator's load) borrow the log through a
 * leader lease.
 *
 * Locks, in the order they are taken:
 *   leader_isr_lock  read-write, writer-preferring.  LeaderAndIsr, StopReplica
 *                    and an ISR change take it exclusively; appends, reads and
 *                    leases share it.  So "do we lead?" and the append happen
 *                    under one hold: a demotion waits for appends already past
 *                    the check, and every append after it sees the demotion.
 *   state_lock       follower positions, the high-watermark move and the
 *                    pending ISR change; short, never across I/O.
 *   the log's own    append ordering (see log.h); the log's state lock is never
 *                    held across a segment write, so reads do not queue behind
 *                    a slow disk.
 * No lock wider than one partition is taken while any of these is held, and
 * the change hook (which wakes delayed operations) runs with none of them held.
 */
struct partition;
struct log_ref;

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

/* What a partition tells its owner (the replica manager); shared by all its partitions. */
struct partition_hooks {
	int32_t broker_id;
	/*
	 * The log end offset or the high watermark of (topic, partition) moved:
	 * delayed produces and fetches watching it may complete.  Called with no
	 * partition lock held.
	 */
	void (*changed)(void *arg, const char *topic, size_t topic_len, int32_t partition);
	/*
	 * Queue a write of a new ISR to ZooKeeper for p at leader_epoch (the ISR
	 * thread calls partition_isr_write_begin/_end for it).  Called with p's
	 * state lock held: it must only queue.
	 */
	void (*queue_isr_change)(void *arg, struct partition *p, int32_t leader_epoch, const int32_t *isr, int n_isr);
	void *arg;
};

/* A new, unhosted partition (leader -1, no log) with one reference. */
struct partition *partition_new(const struct partition_hooks *hooks, const char *topic, size_t topic_len,
				int32_t index);
void partition_ref(struct partition *p);
/* Drop a reference; the last one frees p and its log reference. */
void partition_unref(struct partition *p);

const char *partition_topic(const struct partition *p, size_t *len);
int32_t partition_index(const struct partition *p);

/* What the metrics endpoint shows of one partition [Kafka's Log and Partition gauges]. */
struct partition_stats {
	bool is_leader;
	bool offline;
	int n_isr, n_replicas;
	bool has_log;
	int64_t log_size_bytes;   /* kafka.log:type=Log,name=Size */
	int64_t log_end_offset;   /* name=LogEndOffset */
	int64_t log_start_offset; /* name=LogStartOffset */
	int64_t high_watermark;
	int segments;             /* name=NumLogSegments */
	/* BrokerTopicMetrics counted here since this process began hosting it. */
	uint64_t messages_in, bytes_in, bytes_out;
};
void partition_get_stats(struct partition *p, struct partition_stats *out);
/* A Fetch answer carried bytes of this partition: BytesOut for consumers, ReplicationBytesOut for followers. */
void partition_count_bytes_out(struct partition *p, uint64_t bytes, bool follower);

/* A copy of the partition's leadership, for readers. */
struct partition_info {
	int32_t leader;
	int32_t leader_epoch;
	int32_t partition_epoch;
	bool is_leader;
	uint8_t topic_id[16];
};
void partition_get_info(struct partition *p, struct partition_info *out);

/* --- leadership (exclusive) ------------------------------------------------------------- */

/*
 * Apply LeaderAndIsr.  log is the partition's log (a reference the
 * partition keeps if it has none yet, else drops; NULL without one).
 * Errors: INCONSISTENT_TOPIC_ID, STALE_CONTROLLER_EPOCH for an older leader
 * epoch.  On success *leads says whether we lead now.
 */
int16_t partition_make_leader_or_follower(struct partition *p, const uint8_t *topic_id,
					  const struct partition_update *u, struct log_ref *log, bool *leads);
/*
 * StopReplica: from now on nothing is appended to or read from p (each
 * caller holding it gets NOT_LEADER_OR_FOLLOWER), and its log reference is
 * dropped.  An older leader_epoch (not -1/-2) is FENCED_LEADER_EPOCH.
 */
int16_t partition_stop(struct partition *p, int32_t leader_epoch);
/*
 * The partition's log dir failed [Kafka's HostedPartition.Offline]: like a
 * stop, but everyone (LeaderAndIsr included) gets KAFKA_STORAGE_ERROR from
 * now on, for the life of the process.
 */
void partition_set_offline(struct partition *p);
bool partition_is_offline(struct partition *p);

/*
 * AlterReplicaLogDirs' copy [ReplicaAlterLogDirsThread]: append to future
 * what it lacks of the current log (at most max_bytes of whole batches),
 * under a read hold like any reader.  *truncations is the current log's
 * truncation count the copy was made against: when it differs (or on the
 * first call, with UINT64_MAX) the copy starts over.  *caught_up when the
 * future log already ends where the current one does.
 */
struct log_manager;
int16_t partition_copy_to_future(struct partition *p, struct log *future, uint64_t *truncations, size_t max_bytes,
				 bool *caught_up);
/*
 * Under the exclusive hold: if future ends where the current log ends (and
 * no truncation came between), it takes the current log's config, high
 * watermark and log start, log_manager_commit_future makes it the
 * partition's log, and *swapped is set.
 */
int16_t partition_swap_in_future(struct partition *p, struct log_manager *lm, struct log *future,
				 uint64_t truncations, bool *swapped);

/* --- the leader's side ----------------------------------------------------------------- */

/*
 * Append a validated produce blob as the leader (see log_append_as_leader).
 * required_acks -1 with fewer ISR members than min.insync.replicas is
 * NOT_ENOUGH_REPLICAS before anything is written.  On success *wait_offset
 * is the high watermark an acks=all answer waits for, or -1 when the ISR is
 * this broker alone (the high watermark already moved).  Errors also:
 * NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR and the log's.
 */
int16_t partition_append_as_leader(struct partition *p, uint8_t *records, size_t len, int16_t required_acks,
				   int64_t now_ms, struct log_append_info *info, int64_t *wait_offset);

/* The topic config of a partition we lead (for validation before the append). */
int16_t partition_leader_config(struct partition *p, struct log_config *out);

struct partition_fetch {
	int64_t fetch_offset;
	size_t max_bytes;
	bool min_one;
	int32_t current_leader_epoch; /* -1: not checked */
	int32_t replica_id;           /* a follower's broker id, or -1 for a consumer */
	int32_t last_fetched_epoch;   /* a follower's, for KIP-320; -1 if none */
	bool to_log_end;              /* not a follower but read up to the LEO (a coordinator loading its state) */
};

/*
 * A Fetch's read of one partition we lead.  A consumer reads up to the high
 * watermark, a follower up to the LEO after its position is recorded (which
 * may move the high watermark and expand the ISR).  When the follower's
 * last fetched epoch ends earlier in our log, *diverging_epoch and
 * *diverging_end_offset (else -1) say where, and nothing is read.  out's
 * high_watermark and log_start_offset are filled whenever we lead.
 */
int16_t partition_read(struct partition *p, const struct partition_fetch *f, struct log_read_result *out,
		       int32_t *diverging_epoch, int64_t *diverging_end_offset);

/* acks=all: see replica_manager_acks_done. */
bool partition_acks_done(struct partition *p, int64_t required_offset, int16_t *error);

/*
 * A lease on the log: the partition's read lock held, so its leadership
 * stays as checked until partition_lease_release.  For short operations on
 * the log (offsets by time, DeleteRecords, epochs, a chunk of a load); no
 * other call on the same partition may be made by the holder meanwhile (the
 * lock prefers writers, so a second read hold could wait forever).  A lease
 * holds its own reference to the partition.
 */
struct partition_lease {
	struct partition *partition;
	struct log *log;
	int32_t leader_epoch;
};
/*
 * As the leader: NOT_LEADER_OR_FOLLOWER (also once stopped), KAFKA_STORAGE_ERROR without a log; with
 * current_leader_epoch >= 0 an older epoch is FENCED_LEADER_EPOCH and a
 * newer one UNKNOWN_LEADER_EPOCH.
 */
int16_t partition_lease_leader(struct partition *p, int32_t current_leader_epoch, struct partition_lease *out);
/*
 * As the follower of leader_epoch (the fetcher's): NOT_LEADER_OR_FOLLOWER
 * once LeaderAndIsr moved us elsewhere, so a fetch answered under an old
 * epoch is never appended.
 */
int16_t partition_lease_follower(struct partition *p, int32_t leader_epoch, struct partition_lease *out);
void partition_lease_release(struct partition_lease *l);

/* The fetcher appends as a follower under its lease: offsets as the leader gave them. */
int16_t partition_append_as_follower(struct partition_lease *l, uint8_t *records, size_t len, int64_t now_ms,
				     struct log_append_info *info);

/* --- the ISR ------------------------------------------------------------------------- */

/* Queue an ISR shrink for followers not caught up within lag_max_ms [Partition.maybeShrinkIsr]. */
void partition_maybe_shrink_isr(struct partition *p, int64_t now_ms, int64_t lag_max_ms);
/*
 * Before writing a queued change: false (and the change dropped) unless we
 * still lead at leader_epoch; else the state znode's expected version and
 * the controller epoch to write with.
 */
bool partition_isr_write_begin(struct partition *p, int32_t leader_epoch, int32_t *zk_version,
			       int32_t *controller_epoch);
/*
 * After the write: rc 0 installs isr (at new_zk_version), 1 (the znode moved
 * under us) and -1 keep the old one; either way the change is no longer pending.
 */
void partition_isr_write_end(struct partition *p, int32_t leader_epoch, int rc, const int32_t *isr, int n_isr,
			     int32_t new_zk_version);

/* For tests: the ISR as this broker holds it (up to max ids), returns the count. */
int partition_isr(struct partition *p, int32_t *out, int max);

/*
 * The replica manager [Kafka's ReplicaManager]: which partitions this broker
 * hosts and, for each, who leads and at which epochs, as the controller last
 * said through LeaderAndIsr and StopReplica.  Epoch fencing lives here so a
 * stale controller can never move a partition backwards.
 *
 * Each hosted partition is a struct partition (partition.h), which owns its
 * log, ISR and high watermark; the replica manager keeps the map from
 * topic-partition to partition, hands partitions to the fetchers, and runs
 * the ISR thread that writes ISR changes to ZooKeeper.
 */
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
/*
 * The log dir holding this partition's log failed: the partition goes
 * offline here (partition_set_offline), its fetcher stops and the
 * coordinators hear they lost it.  The controller learns from the broker's
 * /log_dir_event_notification and the next LeaderAndIsr's answer.
 */
void replica_manager_mark_offline(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition);
/*
 * AlterReplicaLogDirs for one partition [ReplicaManager.alterReplicaLogDirs]:
 * move its log into log dir d.  A future log is made there and filled by the
 * mover thread, then swapped in; a move to another dir already under way is
 * dropped first; asking for the dir it is in is a no-op.  Errors:
 * KAFKA_STORAGE_ERROR (d or the partition offline), REPLICA_NOT_AVAILABLE
 * when this broker does not host it (its log is then made in d when it is).
 */
int16_t replica_manager_alter_log_dir(struct replica_manager *rm, const char *topic, size_t topic_len,
				      int32_t partition, int d);
/* false when this broker does not host the partition. */
bool replica_manager_get(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			 struct partition_info *out);
int replica_manager_count(struct replica_manager *rm);
/* Every hosted partition, each with a reference for the caller (partition_unref
 * each, then free the array); *n gets the count. */
struct partition **replica_manager_snapshot(struct replica_manager *rm, int *n);

/*
 * The hosted partition, with a reference for the caller (partition_unref),
 * or NULL.  The map is read under a read lock that no log write ever waits
 * behind.
 */
struct partition *replica_manager_partition(struct replica_manager *rm, const char *topic, size_t topic_len,
					    int32_t partition);
/*
 * A leader lease on a hosted partition (see partition_lease_leader), or
 * UNKNOWN_TOPIC_OR_PARTITION when this broker does not host it.  Release
 * with replica_manager_lease_release.
 */
int16_t replica_manager_lease_leader(struct replica_manager *rm, const char *topic, size_t topic_len,
				     int32_t partition, int32_t current_leader_epoch, struct partition_lease *out);
void replica_manager_lease_release(struct partition_lease *l);

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
/* A partition's log end or high watermark moved: delayed produces and fetches on it may complete. */
typedef void (*replica_hw_fn)(void *arg, const char *topic, size_t topic_len, int32_t partition);
void replica_manager_set_hw_listener(struct replica_manager *rm, replica_hw_fn fn, void *arg);
/* The ISR thread: shrinks ISRs of followers lagging more than replica.lag.time.max.ms, writes changes. */
void replica_manager_start_threads(struct replica_manager *rm, int64_t replica_lag_time_max_ms);
void replica_manager_stop_threads(struct replica_manager *rm);

/*
 * acks=all: true when the partition's high watermark reached required_offset
 * (then *error is NONE, or NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is
 * below min.insync.replicas), or when we no longer lead it (*error set).
 */
bool replica_manager_acks_done(struct replica_manager *rm, const char *topic, size_t topic_len, int32_t partition,
			       int64_t required_offset, int16_t *error);

#endif
