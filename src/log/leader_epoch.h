/*
 * Leader-epoch cache of one partition: for every leader epoch, the first
 * offset written in it (Kafka's LeaderEpochFileCache).  Followers ask the
 * leader for the end offset of their last epoch (OffsetForLeaderEpoch) and
 * truncate to it, which is how diverging logs are repaired after a leader
 * change.  Backed by <partition dir>/leader-epoch-checkpoint, rewritten
 * whenever the entries change.
 *
 * Not thread-safe: the owning log's lock covers it.
 */
#ifndef SAMSA_LOG_LEADER_EPOCH_H
#define SAMSA_LOG_LEADER_EPOCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/checkpoint.h"

#define LEADER_EPOCH_UNDEFINED (-1)
#define LEADER_EPOCH_UNDEFINED_OFFSET (-1LL)

struct leader_epoch_cache {
	char *path; /* NULL: memory only */
	struct epoch_entry *e; /* ascending epochs and start offsets */
	size_t n, cap;
};

/*
 * Load <dir>/leader-epoch-checkpoint (dir NULL: memory only).  A missing
 * file is an empty cache; a corrupt one is logged and treated as empty, as
 * the log's recovery re-derives the entries from the batches.
 */
int leader_epoch_open(struct leader_epoch_cache *c, const char *dir);
void leader_epoch_close(struct leader_epoch_cache *c);

/*
 * Record that epoch started at start_offset.  Ignored when epoch is the
 * latest and start_offset is not lower.  Entries that would break the
 * ordering (epoch >= epoch or start >= start_offset) are dropped first.
 * Writes the file when something changed.  Negative arguments are refused
 * (KERR_INVALID_REQUEST).
 */
int leader_epoch_assign(struct leader_epoch_cache *c, int32_t epoch, int64_t start_offset);

/* Latest epoch, or LEADER_EPOCH_UNDEFINED. */
int32_t leader_epoch_latest(const struct leader_epoch_cache *c);
/* Epoch in force at offset (the last entry starting at or before it), or
 * LEADER_EPOCH_UNDEFINED. */
int32_t leader_epoch_for_offset(const struct leader_epoch_cache *c, int64_t offset);
/* Start offset of an epoch, or -1 if it has no entry. */
int64_t leader_epoch_start_offset(const struct leader_epoch_cache *c, int32_t epoch);

/*
 * OffsetForLeaderEpoch: the largest epoch <= requested and the end offset
 * of the requested epoch (start of the next higher epoch, or log_end_offset
 * for the latest).  (UNDEFINED, UNDEFINED_OFFSET) for an undefined or too
 * high epoch; a requested epoch below every entry answers itself with the
 * first entry's start offset.
 */
void leader_epoch_end_offset_for(const struct leader_epoch_cache *c, int32_t requested,
    int64_t log_end_offset, int32_t *epoch, int64_t *end_offset);

/* Drop entries with start offset >= end_offset (log truncated). */
int leader_epoch_truncate_from_end(struct leader_epoch_cache *c, int64_t end_offset);
/*
 * Log start moved to start_offset: drop entries wholly below it and move
 * the last of them up to start_offset.
 */
int leader_epoch_truncate_from_start(struct leader_epoch_cache *c, int64_t start_offset);
int leader_epoch_clear(struct leader_epoch_cache *c);

#endif
