/*
 * The log manager [Kafka's LogManager]: every partition log under log.dirs.
 *
 * At start it checks each dir's meta.properties against this broker and
 * cluster, loads every <topic>-<partition> directory (recovering those
 * left by a crash, from the recovery point the dir's checkpoint names) and
 * removes the clean-shutdown marker.  While running it hands out logs by
 * reference, creates them in the dir holding the fewest, and runs the
 * scheduler thread: retention, time-based flushes, deferred file deletion
 * and the checkpoint files.  At shutdown it flushes everything, writes the
 * checkpoints and the clean-shutdown marker so the next start skips
 * recovery.
 *
 * Logs are reference counted: a log asked to be deleted leaves the table at
 * once and is closed and removed from disk when its last user lets go, so a
 * fetch in flight never sees it freed.
 */
#ifndef SAMSA_LOG_LOG_MANAGER_H
#define SAMSA_LOG_LOG_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/log.h"

struct log_manager_config {
	char **dirs;                   /* log.dirs */
	int n_dirs;
	int32_t broker_id;
	const char *cluster_id;
	struct log_config defaults;    /* the broker-level log.* settings */
	int64_t retention_check_interval_ms;      /* log.retention.check.interval.ms */
	int64_t flush_scheduler_interval_ms;      /* log.flush.scheduler.interval.ms */
	int64_t flush_checkpoint_interval_ms;     /* log.flush.offset.checkpoint.interval.ms */
	int64_t flush_start_offset_checkpoint_interval_ms; /* log.flush.start.offset.checkpoint.interval.ms */
	int64_t hw_checkpoint_interval_ms;        /* replica.high.watermark.checkpoint.interval.ms */
};

struct log_manager;
/* A counted reference to one partition's log. */
struct log_ref;

/*
 * Open every dir and load the logs in it.  NULL (after logging why) when a
 * dir cannot be used or belongs to another broker or cluster.
 */
struct log_manager *log_manager_open(const struct log_manager_config *cfg);
/* Start the scheduler thread. */
void log_manager_start(struct log_manager *lm);
/*
 * Stop the scheduler, flush and close every log, write the checkpoints and
 * the clean-shutdown marker.  Frees lm.  References still held by others
 * must have been dropped before.
 */
void log_manager_shutdown(struct log_manager *lm);

/* The log of topic-partition with a new reference, or NULL. */
struct log_ref *log_manager_get(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition);
/*
 * The log, created empty when there is none (cfg NULL: the defaults).
 * topic_id (16 bytes, may be NULL) goes into partition.metadata.  Returns
 * KERR_NONE or KERR_KAFKA_STORAGE_ERROR.
 */
int log_manager_get_or_create(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition,
			      const uint8_t *topic_id, const struct log_config *cfg, struct log_ref **out);
/* A further reference to the same log. */
struct log_ref *log_ref_dup(struct log_ref *r);
void log_ref_put(struct log_ref *r);
struct log *log_ref_log(const struct log_ref *r);

/*
 * Take topic-partition out of service and remove its directory once the
 * last reference is gone.  No-op when there is no such log.
 */
void log_manager_delete(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition);

/* How many logs are open. */
int log_manager_count(struct log_manager *lm);
/* Write every checkpoint file now (tests and shutdown). */
void log_manager_checkpoint(struct log_manager *lm);

#endif
