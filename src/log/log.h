/*
 * One partition's log: the directory <topic>-<partition> with its segments,
 * the log end offset (LEO), log start offset, high watermark and recovery
 * point, and the leader-epoch cache (Kafka's UnifiedLog + LocalLog).
 *
 * The log sees record batches as bytes and offsets, never protocol
 * structs.  Appends patch the broker-owned fields of the producer's batches
 * in place and write them with one pwrite; reads return a byte range of a
 * segment file for sendfile.  Every call takes the log's mutex for as long
 * as it touches the segments; none is held across network I/O, and the
 * only fsyncs (log_flush) run outside it.
 */
#ifndef SAMSA_LOG_LOG_H
#define SAMSA_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log;
struct segment;

enum log_timestamp_type {
	LOG_TIMESTAMP_CREATE_TIME = 0,
	LOG_TIMESTAMP_LOG_APPEND_TIME = 1,
};

/* Topic-level settings the log acts on (Kafka's LogConfig), with Kafka's
 * defaults from log_config_init. */
struct log_config {
	int32_t segment_bytes;           /* segment.bytes, 1 GiB */
	int32_t index_interval_bytes;    /* index.interval.bytes, 4096 */
	int32_t index_max_bytes;         /* segment.index.bytes, 10 MiB */
	int64_t roll_ms;                 /* segment.ms, 7 days */
	int64_t roll_jitter_ms;          /* segment.jitter.ms, 0 */
	int64_t retention_ms;            /* retention.ms, 7 days; -1 = forever */
	int64_t retention_bytes;         /* retention.bytes, -1 = no limit */
	int64_t flush_interval_messages; /* flush.messages, INT64_MAX */
	int64_t flush_interval_ms;       /* flush.ms, INT64_MAX */
	enum log_timestamp_type message_timestamp_type; /* message.timestamp.type */
	int64_t file_delete_delay_ms;    /* file.delete.delay.ms, 60000 */
	bool preallocate;                /* preallocate, false */
	bool cleanup_delete;             /* cleanup.policy has "delete" (default) */
	/* Read by Produce rather than by the log itself, kept here so one struct
	 * is a topic's whole configuration [Kafka's LogConfig]. */
	bool cleanup_compact;            /* cleanup.policy has "compact" */
	int32_t max_message_bytes;       /* max.message.bytes, 1048588 */
	int compression_type;            /* compression.type: enum compression_codec, -1 = producer */
	int compression_level;           /* compression.<codec>.level for that codec */
	int64_t timestamp_before_max_ms; /* message.timestamp.before.max.ms, INT64_MAX */
	int64_t timestamp_after_max_ms;  /* message.timestamp.after.max.ms, INT64_MAX */
	int32_t min_insync_replicas;     /* min.insync.replicas, 1 */
	bool unclean_leader_election;    /* unclean.leader.election.enable, false */
};

void log_config_init(struct log_config *c);

struct log_open_args {
	const char *dir;                 /* <log.dir>/<topic>-<partition>, created if missing */
	const struct log_config *config; /* copied */
	bool clean_shutdown;             /* the log dir had .kafka_cleanshutdown */
	int64_t recovery_point;          /* from recovery-point-offset-checkpoint, else 0 */
	int64_t log_start_offset;        /* from log-start-offset-checkpoint, else 0 */
	int64_t now_ms;
};

/*
 * Open (or create) a partition's log.  Leftover *.deleted / *.cleaned files
 * are removed, .swap files completed, segments loaded; after an unclean
 * shutdown every segment from the recovery point on is validated and the
 * log cut at the first bad batch (see recovery.h).  Returns KERR_NONE or
 * KERR_KAFKA_STORAGE_ERROR (also for a directory name that is not
 * <topic>-<partition>).
 */
int log_open(const struct log_open_args *a, struct log **out);
/* Close without flushing (log_flush first for a clean shutdown).  Files
 * waiting for deletion are removed now. */
void log_close(struct log *l);
/* Close and remove the partition directory with everything in it. */
int log_close_and_delete(struct log *l);

struct log_append_info {
	int64_t first_offset;
	int64_t last_offset;
	int64_t log_append_time; /* -1 unless LogAppendTime */
	int64_t max_timestamp;
	int64_t offset_of_max_timestamp;
	int64_t log_start_offset;
	int32_t batch_count;
	int64_t record_count;
	size_t bytes;
	bool rolled; /* a new segment was started for this append */
};

/*
 * Append as the leader: records is a validated produce blob (whole v2
 * batches, see records_validate; pass its valid_bytes).  The log writes the
 * base offset of each batch (offsets follow on from the LEO), the partition
 * leader epoch (if >= 0) and, for LogAppendTime topics, the append time,
 * all in the caller's buffer, then writes it with one pwrite.  Errors:
 * KERR_CORRUPT_MESSAGE (not whole v2 batches), KERR_RECORD_LIST_TOO_LARGE
 * (bigger than a segment), KERR_KAFKA_STORAGE_ERROR.
 */
int log_append_as_leader(struct log *l, uint8_t *records, size_t len, int32_t leader_epoch,
    int64_t now_ms, struct log_append_info *info);
/*
 * Append as a follower: offsets stay as the leader assigned them and must
 * not go backwards (KERR_OFFSET_OUT_OF_RANGE if the first is below the
 * LEO, KERR_CORRUPT_MESSAGE if they are not increasing).  Epochs found in
 * the batches are recorded in the leader-epoch cache.
 */
int log_append_as_follower(struct log *l, uint8_t *records, size_t len, int64_t now_ms,
    struct log_append_info *info);

/* Upper bounds for log_read's max_offset. */
#define LOG_READ_MAX_LEO (-1)  /* followers: everything */
#define LOG_READ_MAX_HW (-2)   /* consumers: up to the high watermark */

struct log_read_result {
	struct segment *segment; /* referenced (log_read_release), NULL when empty */
	int fd;                  /* the segment's .log, valid while referenced */
	int64_t position;
	size_t length;
	int64_t first_batch_offset; /* base offset of the first batch, -1 when empty */
	bool first_entry_incomplete;
	int64_t high_watermark;
	int64_t log_start_offset;
	int64_t log_end_offset;
};

/*
 * What a fetch from offset sends: a range of one segment file, starting at
 * the batch that holds offset, at most max_bytes (with min_one at least the
 * whole first batch, so a consumer can always make progress even past
 * fetch.max.bytes), ending before max_offset's batch.  An offset at or past
 * max_offset reads as empty.  KERR_OFFSET_OUT_OF_RANGE below the log start
 * offset or past the LEO.  The caller sends [position, position + length)
 * of fd, then calls log_read_release.
 */
int log_read(struct log *l, int64_t offset, size_t max_bytes, int64_t max_offset, bool min_one,
    struct log_read_result *out);
void log_read_release(struct log_read_result *r);

/* ListOffsets' special timestamps. */
#define LOG_TIMESTAMP_LATEST (-1LL)
#define LOG_TIMESTAMP_EARLIEST (-2LL)
#define LOG_TIMESTAMP_MAX (-3LL)
#define LOG_TIMESTAMP_EARLIEST_LOCAL (-4LL)

struct log_timestamp_offset {
	int64_t timestamp;    /* -1 when not a record's timestamp */
	int64_t offset;       /* -1 when nothing matches */
	int32_t leader_epoch; /* -1 when unknown */
};

/*
 * ListOffsets: EARLIEST (log start), LATEST (LEO; the caller caps it at the
 * HW or LSO for consumers), MAX (record with the largest timestamp), or the
 * first record with timestamp >= ts.
 */
int log_offset_for_timestamp(struct log *l, int64_t ts, struct log_timestamp_offset *out);

/* OffsetForLeaderEpoch (see leader_epoch_end_offset_for). */
void log_end_offset_for_epoch(struct log *l, int32_t epoch, int32_t *out_epoch,
    int64_t *end_offset);
/* The latest leader epoch with data, or -1. */
int32_t log_latest_epoch(struct log *l);
/* A new leader epoch begins at the LEO (LeaderAndIsr made us leader). */
int log_assign_epoch_start(struct log *l, int32_t epoch);

/*
 * Remove everything at and after target (a follower diverged).  Returns
 * whether anything was removed.  Below the first segment the log is emptied
 * and restarts at target.
 */
int log_truncate_to(struct log *l, int64_t target, int64_t now_ms, bool *truncated);
/* Empty the log and start again at offset (log start = LEO = offset). */
int log_truncate_fully_and_start_at(struct log *l, int64_t offset, int64_t now_ms);

/*
 * DeleteRecords: move the log start offset up to offset.  Beyond the high
 * watermark is KERR_OFFSET_OUT_OF_RANGE.  Whole segments below it are
 * removed by the next log_enforce_retention.
 */
int log_delete_records(struct log *l, int64_t offset, int64_t *low_watermark);

/*
 * Retention (Kafka's deleteOldSegments): with cleanup.policy=delete,
 * segments older than retention.ms and the oldest ones beyond
 * retention.bytes; always, segments wholly below the log start offset.
 * Only segments wholly below the high watermark go; if every segment goes,
 * a new active one is rolled first.  Removed segments are renamed
 * *.deleted and unlinked file.delete.delay.ms later (log_delete_expired).
 * *deleted (may be NULL) gets the number of segments removed.
 */
int log_enforce_retention(struct log *l, int64_t now_ms, int *deleted);
/* Unlink *.deleted files whose delay has passed. */
void log_delete_expired(struct log *l, int64_t now_ms);

/* Start a new segment at the LEO (no-op if the active one is empty). */
int log_roll(struct log *l, int64_t now_ms);
/*
 * fsync everything up to the LEO and move the recovery point there.  The
 * fsyncs run without the log's lock.
 */
int log_flush(struct log *l, int64_t now_ms);
/* Flush if flush.ms has passed since the last flush. */
int log_maybe_flush(struct log *l, int64_t now_ms);

/* The high watermark is kept here for reads; the replica layer sets it.
 * Clamped to [log start, LEO]. */
void log_set_high_watermark(struct log *l, int64_t hw);

int64_t log_end_offset(struct log *l);
int64_t log_start_offset(struct log *l);
int64_t log_high_watermark(struct log *l);
int64_t log_recovery_point(struct log *l);
int64_t log_size_bytes(struct log *l);
int log_segment_count(struct log *l);
/* Base offsets of the segments, ascending; up to max of them; returns the count. */
int log_segment_base_offsets(struct log *l, int64_t *out, int max);
const char *log_dir(const struct log *l);
const char *log_topic(const struct log *l);
int32_t log_partition(const struct log *l);
/* Set after a storage error: the log refuses appends from then on. */
bool log_failed(struct log *l);

/* Replace the config (a topic config change); applies from the next append. */
void log_set_config(struct log *l, const struct log_config *c);
/* A copy of the log's current configuration. */
void log_get_config(struct log *l, struct log_config *out);

/*
 * Split a partition directory name at its last '-': topic and partition.
 * topic is written to buf (cap bytes).  False when the name is not
 * <topic>-<partition> (including the -delete/-future forms).
 */
bool log_parse_dir_name(const char *name, char *topic, size_t cap, int32_t *partition);

#endif
