/*
 * A segment's sparse indexes, as memory-mapped files in Kafka's format:
 *
 *   .index      8-byte entries: relative offset int32, file position int32
 *   .timeindex 12-byte entries: timestamp int64, relative offset int32
 *
 * (big-endian, DISK-FORMAT.md sections 4 and 5).  An index of the active
 * segment is preallocated to log.index.size.max.bytes (rounded down to a
 * whole entry) and trimmed to its entries when the segment is rolled or
 * closed, because on open the entry count is taken from the file length.
 * Lookups are binary searches for the largest entry <= the target, trying
 * the most recent 8 KiB of entries first: that is where tailing consumers
 * and followers look, and it keeps the rest of a big index out of memory.
 *
 * Not thread-safe: the owning log's lock covers every call.
 */
#ifndef SAMSA_LOG_INDEX_H
#define SAMSA_LOG_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OFFSET_INDEX_ENTRY_SIZE 8
#define TIME_INDEX_ENTRY_SIZE 12

/* What offset_index and time_index share: the mapped file. */
struct index_file {
	char *path;
	uint8_t *map;     /* NULL when the file is empty */
	size_t map_len;   /* = file length */
	int64_t base_offset;
	int32_t entries;
	int32_t max_entries;
	int32_t max_bytes; /* configured size the active index grows back to */
	int entry_size;
};

struct offset_index {
	struct index_file f;
	int64_t last_offset; /* base_offset when empty */
};

struct time_index {
	struct index_file f;
	int64_t last_timestamp; /* -1 when empty */
	int64_t last_offset;    /* base_offset when empty */
};

/*
 * Open (creating it if missing) the index at path.  A new file is
 * preallocated to max_bytes; an existing one is mapped at its length with
 * length / entry size entries.  *created (may be NULL) says whether the
 * file was new.  Returns KERR_NONE or KERR_KAFKA_STORAGE_ERROR.
 */
int offset_index_open(struct offset_index *ix, const char *path, int64_t base_offset,
    int32_t max_bytes, bool *created);
/* Trim to the entries and unmap. */
void offset_index_close(struct offset_index *ix);
/* Resize the file (and mapping) to new_bytes rounded down to whole entries;
 * entries beyond the new size are dropped. */
int offset_index_resize(struct offset_index *ix, int32_t new_bytes);
/* Resize to exactly the entries (on roll and close). */
int offset_index_trim(struct offset_index *ix);
bool offset_index_full(const struct offset_index *ix);
/* Whether offset fits in a relative int32 of this index. */
bool offset_index_can_append_offset(const struct offset_index *ix, int64_t offset);
/*
 * Largest entry with offset <= target: its offset and position.  With no
 * such entry: (base_offset, 0), the start of the segment.
 */
void offset_index_lookup(const struct offset_index *ix, int64_t target, int64_t *offset,
    uint32_t *position);
/* Entry n (0 <= n < entries). */
void offset_index_entry(const struct offset_index *ix, int32_t n, int64_t *offset,
    uint32_t *position);
/*
 * Append an entry.  The offset must be larger than the last one and fit
 * the index, and the index must not be full: otherwise nothing is written
 * and KERR_UNKNOWN_SERVER_ERROR comes back (a caller bug or corruption).
 */
int offset_index_append(struct offset_index *ix, int64_t offset, uint32_t position);
/* Drop every entry with offset >= offset. */
void offset_index_truncate_to(struct offset_index *ix, int64_t offset);
/* Drop all entries and grow back to max_bytes (before a rebuild). */
int offset_index_reset(struct offset_index *ix);
/*
 * Kafka's sanity check plus one of ours: whole entries, last offset not
 * below the base, last position inside a log of log_size bytes.
 * KERR_NONE or KERR_CORRUPT_MESSAGE (with a warning naming the file).
 */
int offset_index_sanity_check(const struct offset_index *ix, uint32_t log_size);
/* msync the entries. */
int offset_index_flush(struct offset_index *ix);
/* Rename the file (e.g. to add .deleted); the mapping stays valid. */
int offset_index_rename(struct offset_index *ix, const char *new_path);

int time_index_open(struct time_index *ix, const char *path, int64_t base_offset,
    int32_t max_bytes, bool *created);
void time_index_close(struct time_index *ix);
int time_index_resize(struct time_index *ix, int32_t new_bytes);
int time_index_trim(struct time_index *ix);
bool time_index_full(const struct time_index *ix);
/*
 * Largest entry with timestamp <= target.  With none: (-1, base_offset),
 * meaning "search from the start of the segment".
 */
void time_index_lookup(const struct time_index *ix, int64_t target, int64_t *timestamp,
    int64_t *offset);
void time_index_entry(const struct time_index *ix, int32_t n, int64_t *timestamp,
    int64_t *offset);
/* (last timestamp, last offset), (-1, base_offset) when empty. */
void time_index_last_entry(const struct time_index *ix, int64_t *timestamp, int64_t *offset);
/*
 * Kafka's maybeAppend: add (timestamp, offset) only if timestamp is larger
 * than the last one.  An offset below the last entry's or a smaller
 * timestamp is refused with KERR_UNKNOWN_SERVER_ERROR; so is a full index
 * unless skip_full_check (the one extra entry written when a segment
 * becomes inactive fits because the file is then resized).
 */
int time_index_maybe_append(struct time_index *ix, int64_t timestamp, int64_t offset,
    bool skip_full_check);
void time_index_truncate_to(struct time_index *ix, int64_t offset);
int time_index_reset(struct time_index *ix);
int time_index_sanity_check(const struct time_index *ix);
int time_index_flush(struct time_index *ix);
int time_index_rename(struct time_index *ix, const char *new_path);

#endif
