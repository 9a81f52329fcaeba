/*
 * The interface of src/txn/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_TXN_H
#define SAMSA_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/buf.h"

/*
 * The transaction coordinator [Kafka's TransactionCoordinator,
 * TransactionStateManager and TransactionMarkerChannelManager]: the state of
 * every transactional id whose __transaction_state partition this broker
 * leads, kept in memory and written to that partition in Kafka's
 * TransactionLogKey/Value records, so a new leader rebuilds it from the log
 * and finishes what was half done.
 *
 * Like the group coordinator it knows the broker only through the txn_host it
 * is given, and answers each request through the request's respond callback.
 */
#define TXN_STATE_TOPIC "__transaction_state"

struct arena;
struct config;
struct txn_coordinator;

/* Kafka's TransactionState ids, as the log stores them. */
enum txn_state {
	TXN_EMPTY = 0,
	TXN_ONGOING = 1,
	TXN_PREPARE_COMMIT = 2,
	TXN_PREPARE_ABORT = 3,
	TXN_COMPLETE_COMMIT = 4,
	TXN_COMPLETE_ABORT = 5,
	TXN_DEAD = 6,
	TXN_PREPARE_EPOCH_FENCE = 7,
};
/* Kafka's names (CompleteCommit, ...), as DescribeTransactions and ListTransactions spell them. */
const char *txn_state_name(int state);

/* A request as the coordinator sees it (as group_request in samsa/group.h). */
struct txn_request {
	int16_t api_version;
	const void *body;
	struct arena *arena;
	void (*respond)(struct txn_request *req, const void *resp);
	void *token;
};

/* One WriteTxnMarkers entry for one partition leader. */
struct txn_marker_partition {
	const char *topic;
	int32_t partition;
	int16_t error; /* set by the host */
};
struct txn_marker {
	int64_t producer_id;
	int16_t producer_epoch;
	bool commit;
	int32_t coordinator_epoch;
	struct txn_marker_partition *partitions;
	int n_partitions;
};

/*
 * What the coordinator asks of its broker.  append/read/replicated/park are as
 * in group_host, for __transaction_state partitions.  Calls may be made with
 * the coordinator's lock held, so none may call back into the coordinator,
 * except write_markers, which is called from the coordinator's marker thread
 * with no lock held and may block.
 */
struct txn_host {
	void *arg;
	int16_t (*append)(void *arg, int32_t partition, uint8_t *records, size_t len, int64_t *wait_offset);
	int16_t (*read)(void *arg, int32_t partition, int64_t offset, size_t max_bytes, struct wbuf *out,
			int64_t *log_start_offset);
	bool (*replicated)(void *arg, int32_t partition, int64_t required, int16_t *err);
	void (*park)(void *arg, int32_t partition, int64_t deadline, bool (*try_complete)(void *op, bool expired),
		     void *op);
	/* A fresh producer id: KERR_NONE, or an error (COORDINATOR_LOAD_IN_PROGRESS: retry). */
	int16_t (*next_producer_id)(void *arg, int64_t *out);
	/* Whether topic-partition exists (AddPartitionsToTxn refuses others). */
	bool (*has_partition)(void *arg, struct kstr topic, int32_t partition);
	/* The __consumer_offsets partition of a group (AddOffsetsToTxn). */
	int32_t (*offsets_partition_for)(void *arg, const char *group, size_t len);
	/*
	 * Sends the marker to each partition's current leader (WriteTxnMarkers over
	 * the inter-broker listener) and sets each partition's error; blocking.
	 */
	void (*write_markers)(void *arg, struct txn_marker *m);
};

/* Reads the transaction.* settings from c; host is copied. */
struct txn_coordinator *txn_coordinator_new(const struct config *c, const struct txn_host *host);
/* Starts the threads that load partitions, abort timed-out transactions and send markers. */
void txn_coordinator_start(struct txn_coordinator *tc);
void txn_coordinator_stop(struct txn_coordinator *tc);
void txn_coordinator_free(struct txn_coordinator *tc);

/* This broker became leader of __transaction_state-<partition> (load it) or stopped (drop it). */
void txn_coordinator_on_leadership(struct txn_coordinator *tc, int32_t partition, bool leader, int32_t leader_epoch);
/* __transaction_state has n partitions (as group_coordinator_set_topic_partitions). */
void txn_coordinator_set_topic_partitions(struct txn_coordinator *tc, int32_t n);
/* The partition a transactional id maps to [Kafka's partitionFor]. */
int32_t txn_coordinator_partition_for(const struct txn_coordinator *tc, const char *id, size_t len);
int32_t txn_coordinator_topic_num_partitions(const struct txn_coordinator *tc);
int16_t txn_coordinator_replication_factor(const struct txn_coordinator *tc);

/* InitProducerId with a transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
 * DescribeTransactions, ListTransactions.  Each answers req, now or later. */
void txn_handle_init_producer_id(struct txn_coordinator *tc, struct txn_request *req);
void txn_handle_add_partitions(struct txn_coordinator *tc, struct txn_request *req);
void txn_handle_add_offsets(struct txn_coordinator *tc, struct txn_request *req);
void txn_handle_end_txn(struct txn_coordinator *tc, struct txn_request *req);
void txn_handle_describe_transactions(struct txn_coordinator *tc, struct txn_request *req);
void txn_handle_list_transactions(struct txn_coordinator *tc, struct txn_request *req);

/* Java's String.hashCode over a UTF-8 string's UTF-16 code units (placement, shared with tests). */
int32_t txn_java_string_hash(const char *s, size_t len);

#endif
