/*
 * The log's insides, shared by log.c, recovery.c and cleaner.c only.
 */
#ifndef SAMSA_LOG_LOG_INTERNAL_H
#define SAMSA_LOG_LOG_INTERNAL_H

#include <pthread.h>

#include "log/leader_epoch.h"
#include "log/producer_state.h"
#include "samsa/log.h"

struct pending_delete {
	struct segment *seg;
	int64_t due_ms;
};

struct log {
	/*
	 * append_lock orders the writers (appends, truncation, rolls, retention)
	 * and is held across their file writes; lock guards the fields below and
	 * is never held across a write to a segment file, so reads and getters
	 * do not wait behind a slow disk.  append_lock is taken first.
	 */
	pthread_mutex_t append_lock;
	pthread_mutex_t lock;
	char *dir;
	char *topic;
	int32_t partition;
	struct log_config cfg;

	struct segment **segs; /* ascending base offsets; the last is active */
	size_t nsegs, cap;

	int64_t log_end_offset;
	int64_t log_start_offset;
	int64_t high_watermark;
	int64_t recovery_point;
	int64_t cleaner_offset; /* first dirty offset of a compacted log; -1 = the log start */
	int64_t last_flush_ms;
	bool dir_dirty; /* segments created/removed since the dir was fsynced */
	bool failed;
	uint64_t truncations; /* times the log end moved backwards (a copy of it must start again) */

	/* Position of the batch holding hw_pos_offset, for reads capped there. */
	bool hw_pos_valid;
	int64_t hw_pos_offset;
	int64_t hw_pos_segment;
	uint32_t hw_pos_position;

	struct leader_epoch_cache epochs;
	/* Under lock; changed only by writers holding append_lock too. */
	struct producer_state ps;
	bool ps_ready; /* loaded (a snapshot may be written at close) */

	struct pending_delete *pending;
	size_t npending, pending_cap;
};

static inline struct segment *log_active(const struct log *l)
{
	return l->segs[l->nsegs - 1];
}

/* Segment config from the log config. */
void log_segment_config(const struct log *l, struct segment_config *sc);
/* Random jitter for a new segment (segment.jitter.ms). */
int64_t log_roll_jitter(const struct log *l);
/* Append a segment to the list (takes the reference). */
void log_add_segment(struct log *l, struct segment *s);
/* Remove segment i from the list and schedule its files for deletion
 * (takes over the list's reference). */
void log_remove_segment_at(struct log *l, size_t i, int64_t now_ms);
/* Rebuild the producer state from the newest snapshot and the log after it (lock held). */
int log_rebuild_producer_state(struct log *l);

#endif
