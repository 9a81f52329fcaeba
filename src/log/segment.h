/*
 * A log segment: one .log file of record batches and its two indexes, named
 * after its base offset (20 digits, zero-padded).  Appends are plain
 * pwrite(2)s into the page cache; reads turn an offset into a byte range
 * [position, position + length) of the .log file that the network layer
 * sends with sendfile(2), starting at a batch boundary.
 *
 * Segments are reference counted so a fetch can keep sending from a segment
 * that retention removed from its log meanwhile: the descriptor lives until
 * the last reference goes.  Everything else is under the owning log's lock.
 */
#ifndef SAMSA_LOG_SEGMENT_H
#define SAMSA_LOG_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/index.h"

#define SEGMENT_LOG_SUFFIX ".log"
#define SEGMENT_INDEX_SUFFIX ".index"
#define SEGMENT_TIMEINDEX_SUFFIX ".timeindex"
#define SEGMENT_TXNINDEX_SUFFIX ".txnindex"
#define SEGMENT_DELETED_SUFFIX ".deleted"
#define SEGMENT_CLEANED_SUFFIX ".cleaned"
#define SEGMENT_SWAP_SUFFIX ".swap"

struct segment_config {
	int32_t index_interval_bytes; /* index.interval.bytes */
	int32_t index_max_bytes;      /* segment.index.bytes */
	int32_t segment_bytes;        /* for preallocation */
	bool preallocate;             /* preallocate the .log to segment_bytes */
};

struct segment {
	int64_t base_offset;
	char *dir;
	char *log_path;
	int fd;
	uint32_t size; /* bytes of batches in the .log (the file may be longer) */
	struct offset_index oidx;
	struct time_index tidx;
	struct segment_config cfg;
	uint32_t bytes_since_last_index_entry;
	int64_t next_offset;             /* one past the last offset held */
	int64_t max_timestamp;           /* -1 = none seen */
	int64_t offset_of_max_timestamp; /* last offset of the batch holding it */
	int64_t rolling_timestamp;       /* first batch's max timestamp; see segment.c */
	int64_t created_ms;
	int64_t roll_jitter_ms;
	bool deleted;       /* files renamed to *.deleted */
	bool files_removed; /* files unlinked */
	int refs;
};

/* A batch (or legacy entry) header as found in a .log file. */
struct segment_batch {
	uint32_t position;
	uint32_t size;
	int64_t base_offset;
	int64_t last_offset;
	int8_t magic;
	int16_t attributes;             /* v2 only */
	int32_t partition_leader_epoch; /* v2 only, else -1 */
	int32_t record_count;           /* v2 only, else -1 */
	int64_t max_timestamp;          /* v2 and v1; -1 for v0 */
};

/*
 * Walks batch headers of a segment's file from a position, reading the file
 * in blocks so a scan over many small batches costs few system calls.
 */
struct segment_scan {
	int fd;
	uint32_t pos;
	uint32_t end;
	uint32_t buf_start; /* file position of buf[0] */
	uint32_t buf_len;
	int err; /* KERR_CORRUPT_MESSAGE for a bad/torn header, STORAGE_ERROR for I/O */
	uint8_t buf[4096];
};

/* "<dir>/<20-digit base offset><suffix>"; caller frees. */
char *segment_file_path(const char *dir, int64_t base_offset, const char *suffix);
/* Parse "<digits><suffix>": the base offset and a pointer to the suffix. */
bool segment_parse_file_name(const char *name, int64_t *base_offset, const char **suffix);

/*
 * Open the segment with this base offset in dir.  create = a new, empty
 * segment (leftover files of that name are emptied); otherwise the .log
 * must exist and its indexes are opened or created.  *index_missing (may be
 * NULL) says the offset index had to be created, so it needs a rebuild.
 * Does not compute next_offset for existing segments: call
 * segment_load_next_offset (recovery does it by rebuilding).
 */
int segment_open(const char *dir, int64_t base_offset, const struct segment_config *cfg,
    bool create, int64_t now_ms, int64_t roll_jitter_ms, struct segment **out,
    bool *index_missing);

void segment_ref(struct segment *s);
/* Drop a reference; the last one closes (and trims the indexes of a live
 * segment). */
void segment_unref(struct segment *s);

/* Scan batch headers from the last index entry to find next_offset. */
int segment_load_next_offset(struct segment *s);

/*
 * Append len bytes of whole batches whose largest offset is last_offset,
 * largest timestamp max_timestamp, carried by the batch ending at
 * offset_of_max_timestamp.  One pwrite; an index entry first if more than
 * index.interval.bytes went in since the last one.  On a failed write the
 * file is cut back and KERR_KAFKA_STORAGE_ERROR returned.
 *
 * segment_append is segment_check_append + segment_write_at +
 * segment_commit_append in one.  The log calls the three apart so that
 * its lock is not held across the pwrite: segment_write_at touches only
 * the file beyond size, which no reader looks at until the commit moves
 * size past it.
 */
int segment_append(struct segment *s, const uint8_t *buf, size_t len, int64_t last_offset,
    int64_t max_timestamp, int64_t offset_of_max_timestamp);
/* Whether len bytes ending at last_offset fit (KERR_NONE) in s. */
int segment_check_append(struct segment *s, size_t len, int64_t last_offset);
/* Write buf at position (the segment's size when the append began). */
int segment_write_at(struct segment *s, const uint8_t *buf, size_t len, uint32_t position);
/* Account for bytes written at position by segment_write_at. */
void segment_commit_append(struct segment *s, size_t len, uint32_t position, int64_t last_offset,
    int64_t max_timestamp, int64_t offset_of_max_timestamp);

struct segment_roll_params {
	int64_t max_segment_bytes;
	int64_t max_segment_ms;
	int64_t messages_size;
	int64_t max_timestamp_in_messages;
	int64_t max_offset_in_messages;
	int64_t now_ms;
};
/* Kafka's LogSegment.shouldRoll: size, time (with jitter), full indexes,
 * offsets that no longer fit a relative int32. */
bool segment_should_roll(struct segment *s, const struct segment_roll_params *p);

/*
 * The first batch holding an offset >= offset, scanning from the index
 * entry for it (or from start_pos if further on).  *found false when every
 * batch here is below offset.
 */
int segment_translate_offset(struct segment *s, int64_t offset, uint32_t start_pos,
    struct segment_batch *out, bool *found);

struct segment_read_info {
	uint32_t position;
	uint32_t length;
	int64_t first_batch_offset; /* base offset of the first batch sent */
	/* The first batch did not fit in max_bytes (only without min_one). */
	bool first_entry_incomplete;
};
/*
 * Byte range for a fetch from offset: starts at the batch holding offset,
 * at most max_bytes long (but, with min_one, at least the whole first
 * batch, so a consumer always makes progress), never past max_position.
 * *found false when offset is past this segment.
 */
int segment_read(struct segment *s, int64_t offset, uint32_t max_bytes, uint32_t max_position,
    bool min_one, struct segment_read_info *out, bool *found);

/*
 * The first record with timestamp >= ts and offset >= starting_offset:
 * its timestamp, offset and the leader epoch of its batch (-1 if none).
 * Compressed batches are decompressed to look inside.  *found false when
 * none is here.
 */
int segment_find_offset_by_timestamp(struct segment *s, int64_t ts, int64_t starting_offset,
    int64_t *found_ts, int64_t *found_offset, int32_t *leader_epoch, bool *found);

/* Largest timestamp held, or the file's mtime when no batch has one
 * (what time retention compares). */
int64_t segment_largest_timestamp(const struct segment *s);
/* Max timestamp of the first batch (or -1): what segment.ms counts from. */
int64_t segment_first_batch_timestamp(struct segment *s);

/*
 * Remove every batch from the one holding offset on, and index entries for
 * offsets >= offset.  Indexes grow back to full size (the segment becomes
 * active).  *bytes_truncated may be NULL.
 */
int segment_truncate_to(struct segment *s, int64_t offset, int64_t now_ms,
    uint32_t *bytes_truncated);
/* Cut the .log at a byte position (recovery); indexes are the caller's. */
int segment_truncate_bytes(struct segment *s, uint32_t size);

/* fsync the .log, msync the indexes. */
int segment_flush(struct segment *s);
/* The segment stops being the active one: final time index entry, indexes
 * trimmed, a preallocated .log cut to its data. */
int segment_on_become_inactive(struct segment *s);
/* Grow the indexes back to full size (the segment is active again). */
int segment_resize_indexes(struct segment *s, int32_t bytes);
/* Rename every file of the segment to <name>.deleted. */
int segment_mark_deleted(struct segment *s);
/* Unlink the files under their current names. */
int segment_remove_files(struct segment *s);

void segment_scan_init(struct segment_scan *sc, const struct segment *s, uint32_t from,
    uint32_t end);
/* Next header into *b; false at the end or on a bad header (sc->err). */
bool segment_scan_next(struct segment_scan *sc, struct segment_batch *b);

#endif
