/* The transaction coordinator's private state, shared by its files. */
#ifndef SAMSA_TXN_INTERNAL_H
#define SAMSA_TXN_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "samsa/txn.h"
#include "samsa/util/buf.h"
#include "samsa/util/coordinator_partitions.h"

struct batch_builder;

struct txn_tp {
	char *topic;
	int32_t partition;
};

/* What a transactional id is, or is about to become [Kafka's TxnTransitMetadata]. */
struct txn_transit {
	int64_t producer_id, last_producer_id;
	int16_t epoch, last_epoch;
	int32_t timeout_ms;
	int state;
	struct txn_tp *tps; /* owned */
	int n_tps;
	int64_t start_ts, update_ts;
};

/* One transactional id [Kafka's TransactionMetadata]. */
struct txn_meta {
	char *id;
	int32_t partition;   /* of __transaction_state */
	struct txn_transit cur;
	/* A write (or the markers) is in flight: the state it leads to. */
	bool pending;
	int pending_state;
	bool failed_fence;
};

/* Markers to send for one transaction, then its Complete* record. */
struct marker_job {
	struct marker_job *next;
	char *id;
	int32_t partition, coordinator_epoch;
	int64_t producer_id;
	int16_t epoch;
	bool commit;
	struct txn_tp *tps; /* still to be written (owned) */
	int n_tps;
	int64_t not_before; /* retry backoff */
};

struct txn_coordinator {
	pthread_mutex_t lock;
	pthread_cond_t wake, marker_wake;
	struct txn_host host;
	struct {
		int32_t n_partitions;
		int16_t replication_factor;
		int32_t max_timeout_ms;
		int64_t abort_interval_ms;
		int64_t expiration_ms;
		int64_t remove_interval_ms;
		int32_t write_timeout_ms;
	} cfg;
	/* __transaction_state's partitions: what ids map onto, which we lead (a
	 * partition's leader epoch is its coordinator epoch), their load jobs. */
	struct coord_partitions cp;
	struct txn_meta **txns;
	int n_txns, cap_txns;
	struct marker_job *markers_head, *markers_tail;
	int64_t next_abort_check, next_expiry_check;
	pthread_t thread, marker_thread;
	bool running, stop;
};

/* records.c: __transaction_state records in Kafka's TransactionLogKey/Value v0. */
void txn_record_add(struct batch_builder *bb, int64_t now, const char *id, const struct txn_transit *t);
/* A tombstone when t is NULL. */
/* Decodes one record: 1 with *id (malloc'd) and *out (tps malloc'd) filled, 0 for a tombstone
 * (only *id), -1 when it is not a transaction log record. */
int txn_record_decode(const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len, char **id,
		      struct txn_transit *out);

void txn_transit_clear(struct txn_transit *t);
void txn_transit_copy(struct txn_transit *dst, const struct txn_transit *src);

#endif
