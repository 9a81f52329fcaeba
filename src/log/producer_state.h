/*
 * Producer state beside a log [Kafka's ProducerStateManager, ProducerAppendInfo,
 * ProducerStateEntry, TransactionIndex]: per producer id the epoch, the last
 * five batches' sequence ranges and offsets (duplicate detection), the last
 * timestamp, the coordinator epoch of the last marker and the first offset
 * of an ongoing transaction; the ongoing transactions (for the last stable
 * offset) and the aborted ones (.txnindex, for read_committed fetches).
 *
 * Private to src/log: the log owns one and changes it under its lock, batch
 * by batch as they are appended (leader and follower alike), so a new leader
 * already knows every producer its predecessor wrote for.  Snapshots are
 * written in Kafka's .snapshot format (DISK-FORMAT.md section 7).
 */
#ifndef SAMSA_LOG_PRODUCER_STATE_H
#define SAMSA_LOG_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/log.h"

#define PS_BATCHES 5 /* Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN */
#define SEGMENT_SNAPSHOT_SUFFIX ".snapshot"
#define TXN_INDEX_ENTRY_SIZE 34
#define PS_SNAPSHOT_ENTRY_SIZE 46

struct ps_batch {
	int32_t first_seq, last_seq;
	int64_t first_offset, last_offset;
	int64_t timestamp;
};

struct ps_entry {
	struct ps_entry *next; /* hash chain */
	int64_t pid;
	int16_t epoch;
	int32_t coordinator_epoch;
	int64_t last_timestamp;
	int64_t current_txn_first_offset; /* -1: none */
	int n;                            /* batches known, newest last */
	struct ps_batch b[PS_BATCHES];
};

struct ps_txn {
	int64_t pid;
	int64_t first_offset;
	int64_t last_offset; /* the marker's offset; -1 while ongoing */
};

struct producer_state {
	struct ps_entry **buckets;
	size_t nbuckets, count;
	struct ps_txn *ongoing; /* ascending first offsets */
	size_t n_ongoing, cap_ongoing;
	struct ps_txn *unreplicated; /* completed, marker not yet below the HW */
	size_t n_unrep, cap_unrep;
	struct log_aborted_txn *aborted; /* every aborted txn of the log, ascending marker offsets */
	size_t n_aborted, cap_aborted;
};

enum ps_origin { PS_ORIGIN_CLIENT, PS_ORIGIN_COORDINATOR, PS_ORIGIN_REPLICATION };

void ps_init(struct producer_state *ps);
void ps_free(struct producer_state *ps);
void ps_clear(struct producer_state *ps);
struct ps_entry *ps_lookup(const struct producer_state *ps, int64_t pid);

/*
 * Check one batch before it is written [ProducerAppendInfo's checks, and the
 * duplicate search of UnifiedLog.analyzeAndValidateProducerState].
 * prev (may be NULL) is an earlier batch of the same append.  A duplicate of
 * one of the last five batches sets *dup (KERR_NONE).  Errors:
 * INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_TXN_STATE,
 * TRANSACTION_COORDINATOR_FENCED (markers), CORRUPT_MESSAGE.
 */
int ps_check_batch(const struct producer_state *ps, const struct record_batch *b, const struct record_batch *prev,
    enum ps_origin origin, const struct ps_batch **dup);

/* A completed transaction an append produced. */
struct ps_completed {
	int64_t pid, first_offset, last_offset;
	bool aborted;
	int64_t lso; /* for the .txnindex entry */
};

/*
 * Apply one written batch (base offset as in the log).  Returns true when it
 * ended a non-empty transaction (*done filled).
 */
bool ps_apply_batch(struct producer_state *ps, const struct record_batch *b, struct ps_completed *done);

/* The smallest first offset of a transaction not yet stable, or -1. */
int64_t ps_first_unstable_offset(const struct producer_state *ps);
/* The HW moved: completed transactions below it stop holding the LSO. */
void ps_on_high_watermark(struct producer_state *ps, int64_t hw);
/* Forget producers whose last write is below the log start (retention, DeleteRecords). */
void ps_on_log_start(struct producer_state *ps, int64_t log_start);
/* Drop producers idle longer than expiration_ms with no ongoing transaction; returns how many. */
int ps_expire(struct producer_state *ps, int64_t now_ms, int64_t expiration_ms);
/* Everything at or past offset is gone (truncation): caller rebuilds. */

/* Parse the marker of a control batch whose bytes are b->data. */
bool ps_parse_marker(const struct record_batch *b, int16_t *type, int32_t *coordinator_epoch, int64_t *timestamp);

/* Write "<dir>/<offset>.snapshot" (Kafka's format) atomically. */
int ps_write_snapshot(const struct producer_state *ps, const char *dir, int64_t offset);
/*
 * Load the newest valid snapshot at or below max_offset; removes the ones
 * above it.  *offset = its offset, or -1 when none (state left empty).
 */
int ps_load_snapshot(struct producer_state *ps, const char *dir, int64_t max_offset, int64_t *offset);
/* Remove snapshot files below offset. */
void ps_delete_snapshots_below(const char *dir, int64_t offset);

/* Aborted-transaction list and .txnindex files. */
void ps_add_aborted(struct producer_state *ps, const struct log_aborted_txn *t);
int txn_index_append(const char *dir, int64_t segment_base, const struct log_aborted_txn *t);
/* Read a segment's .txnindex entries with marker offset < below into ps (file cut to them). */
int txn_index_load(struct producer_state *ps, const char *dir, int64_t segment_base, int64_t below);
/* Drop aborted entries whose marker is at or past offset (truncation), or below it (retention). */
void ps_truncate_aborted_from(struct producer_state *ps, int64_t offset);
void ps_drop_aborted_below(struct producer_state *ps, int64_t offset);

#endif
