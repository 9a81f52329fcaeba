/* What the transaction coordinator's files share beyond its state (txn_internal.h). */
#ifndef SAMSA_TXN_COORD_H
#define SAMSA_TXN_COORD_H

#include "txn/txn_internal.h"

/* A write to __transaction_state waiting to be replicated, and what follows it. */
enum txn_write_kind {
	W_INIT,          /* InitProducerId: answer with the new id and epoch */
	W_FENCE_ABORT,   /* InitProducerId found the transaction Ongoing: abort it, answer CONCURRENT_TRANSACTIONS */
	W_ADD_PARTITIONS,
	W_ADD_OFFSETS,
	W_END,           /* EndTxn: answer, then send the markers */
	W_TIMEOUT_ABORT, /* the coordinator aborts a transaction past its timeout */
};

struct txn_write {
	struct txn_coordinator *tc;
	enum txn_write_kind kind;
	struct txn_request *req; /* NULL for the coordinator's own writes */
	void *resp;              /* AddPartitionsToTxn: the answer, filled with the outcome */
	char *id;                /* owned */
	int32_t partition, coordinator_epoch;
	struct txn_transit t;    /* the state written (owned) */
	int64_t required;
	/* AddPartitionsToTxn v4+: one transaction of a batched request; the answer goes when all are done. */
	struct txn_add_batch *batch;
	void *topic_results;
	int n_topic_results;
};

struct txn_add_batch {
	int remaining; /* atomic: writes in flight, plus one for the handler */
	struct txn_request *req;
	void *resp;
};

int16_t txn_owner_error(struct txn_coordinator *tc, const char *id, size_t len, int32_t *partition,
			int32_t *coordinator_epoch);
struct txn_meta *txn_find(struct txn_coordinator *tc, const char *id, size_t len);
struct txn_meta *txn_add(struct txn_coordinator *tc, const char *id, size_t len, int32_t partition);
void txn_remove(struct txn_coordinator *tc, struct txn_meta *m);
/* Appends t's record (t NULL: a tombstone) with the lock held; *required is the offset to wait for. */
int16_t txn_append(struct txn_coordinator *tc, int32_t partition, const char *id, const struct txn_transit *t,
		   int64_t *required);
/* Waits (parked) for w's write, then txn_write_finish.  Lock not held. */
void txn_write_start(struct txn_write *w);
/* apis.c: the write is replicated (err NONE) or failed: move the state, answer. Lock not held. */
void txn_write_finish(struct txn_write *w, int16_t err);
/* Queues m's markers (m->cur is the Prepare* just written).  Lock held. */
void txn_queue_markers(struct txn_coordinator *tc, const struct txn_meta *m, int32_t coordinator_epoch, bool commit);
/* The timers (apis.c), lock held. */
void txn_abort_timed_out(struct txn_coordinator *tc, int64_t now);
void txn_expire_ids(struct txn_coordinator *tc, int64_t now);

#endif
