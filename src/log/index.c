/*
 * Offset and time indexes over mmap'd files (index.h).  The file descriptor
 * is closed once the file is mapped and reopened only to resize, so a log
 * with many segments does not hold three descriptors per segment.
 */
#include "samsa/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "samsa/proto.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* Kafka's warm section: the last 8 KiB of entries are searched first. */
#define WARM_BYTES 8192

/* --- the mapped file ------------------------------------------------------- */

static size_t round_down(size_t n, int entry_size)
{
	return n - n % (size_t)entry_size;
}

static int map_fd(struct index_file *f, int fd, size_t len)
{
	f->map = NULL;
	f->map_len = len;
	f->max_entries = (int32_t)(len / (size_t)f->entry_size);
	if (len == 0)
		return KERR_NONE;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		log_error("cannot map index %s: %s", f->path, strerror(errno));
		f->map_len = 0;
		f->max_entries = 0;
		return KERR_KAFKA_STORAGE_ERROR;
	}
	f->map = m;
	return KERR_NONE;
}

static void unmap(struct index_file *f)
{
	if (f->map)
		munmap(f->map, f->map_len);
	f->map = NULL;
	f->map_len = 0;
	f->max_entries = 0;
}

static int file_open(struct index_file *f, const char *path, int64_t base_offset,
    int32_t max_bytes, int entry_size, bool *created)
{
	struct stat st;
	bool fresh;

	memset(f, 0, sizeof *f);
	f->path = xstrdup(path);
	f->base_offset = base_offset;
	f->entry_size = entry_size;
	f->max_bytes = max_bytes;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("cannot open index %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	fresh = st.st_size == 0;
	size_t len = (size_t)st.st_size;
	if (fresh) {
		/* A new index is preallocated; the entries count stays 0. */
		len = round_down((size_t)(max_bytes > 0 ? max_bytes : 0), entry_size);
		if (ftruncate(fd, (off_t)len) < 0) {
			log_error("cannot size index %s: %s", path, strerror(errno));
			close(fd);
			return KERR_KAFKA_STORAGE_ERROR;
		}
	}
	int err = map_fd(f, fd, len);
	close(fd);
	if (err != KERR_NONE)
		return err;
	f->entries = fresh ? 0 : (int32_t)(len / (size_t)entry_size);
	if (created)
		*created = fresh;
	return KERR_NONE;
}

static int file_resize(struct index_file *f, int32_t new_bytes)
{
	size_t len = round_down((size_t)(new_bytes > 0 ? new_bytes : 0), f->entry_size);
	if (len == f->map_len)
		return KERR_NONE;
	int fd = open(f->path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot reopen index %s: %s", f->path, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	unmap(f);
	int err = KERR_NONE;
	if (ftruncate(fd, (off_t)len) < 0) {
		log_error("cannot resize index %s: %s", f->path, strerror(errno));
		err = KERR_KAFKA_STORAGE_ERROR;
		struct stat st;
		len = fstat(fd, &st) == 0 ? round_down((size_t)st.st_size, f->entry_size) : 0;
	}
	int merr = map_fd(f, fd, len);
	close(fd);
	if (f->entries > f->max_entries)
		f->entries = f->max_entries;
	return err != KERR_NONE ? err : merr;
}

static int file_flush(struct index_file *f)
{
	if (!f->map || f->entries == 0)
		return KERR_NONE;
	if (msync(f->map, (size_t)f->entries * (size_t)f->entry_size, MS_SYNC) < 0) {
		log_error("cannot flush index %s: %s", f->path, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	return KERR_NONE;
}

static void file_close(struct index_file *f)
{
	file_resize(f, f->entries * f->entry_size);
	unmap(f);
	free(f->path);
	f->path = NULL;
}

static int file_rename(struct index_file *f, const char *new_path)
{
	if (rename(f->path, new_path) < 0 && errno != ENOENT) {
		log_error("cannot rename %s to %s: %s", f->path, new_path, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	free(f->path);
	f->path = xstrdup(new_path);
	return KERR_NONE;
}

/*
 * Slot of the largest entry whose key is <= target, -1 if none.  key()
 * reads an entry's search key; keys are non-decreasing.
 */
static int32_t search(const struct index_file *f, int64_t target,
    int64_t (*key)(const struct index_file *, int32_t))
{
	if (f->entries == 0 || key(f, 0) > target)
		return -1;
	int32_t warm = WARM_BYTES / f->entry_size;
	int32_t lo = 0, hi = f->entries - 1;
	int32_t first_hot = f->entries - 1 - warm;
	if (first_hot > 0 && key(f, first_hot) <= target)
		lo = first_hot;
	/* Invariant: key(lo) <= target; answer in [lo, hi]. */
	while (lo < hi) {
		int32_t mid = lo + (hi - lo + 1) / 2;
		if (key(f, mid) <= target)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Number of leading entries whose key is < target (where truncation cuts). */
static int32_t count_below(const struct index_file *f, int64_t target,
    int64_t (*key)(const struct index_file *, int32_t))
{
	int32_t lo = 0, hi = f->entries; /* answer in [lo, hi] */
	while (lo < hi) {
		int32_t mid = lo + (hi - lo) / 2;
		if (key(f, mid) < target)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* --- offset index ---------------------------------------------------------- */

static int64_t oi_offset(const struct index_file *f, int32_t n)
{
	const uint8_t *e = f->map + (size_t)n * OFFSET_INDEX_ENTRY_SIZE;
	return f->base_offset + (int32_t)be32_load(e);
}

static void oi_refresh_last(struct offset_index *ix)
{
	ix->last_offset = ix->f.entries > 0 ? oi_offset(&ix->f, ix->f.entries - 1) : ix->f.base_offset;
}

int offset_index_open(struct offset_index *ix, const char *path, int64_t base_offset,
    int32_t max_bytes, bool *created)
{
	int err = file_open(&ix->f, path, base_offset, max_bytes, OFFSET_INDEX_ENTRY_SIZE, created);
	oi_refresh_last(ix);
	return err;
}

void offset_index_close(struct offset_index *ix)
{
	file_close(&ix->f);
}

int offset_index_resize(struct offset_index *ix, int32_t new_bytes)
{
	int err = file_resize(&ix->f, new_bytes);
	oi_refresh_last(ix);
	return err;
}

int offset_index_trim(struct offset_index *ix)
{
	return offset_index_resize(ix, ix->f.entries * OFFSET_INDEX_ENTRY_SIZE);
}

bool offset_index_full(const struct offset_index *ix)
{
	return ix->f.entries >= ix->f.max_entries;
}

bool offset_index_can_append_offset(const struct offset_index *ix, int64_t offset)
{
	int64_t rel = offset - ix->f.base_offset;
	return rel >= 0 && rel <= INT32_MAX;
}

void offset_index_entry(const struct offset_index *ix, int32_t n, int64_t *offset,
    uint32_t *position)
{
	const uint8_t *e = ix->f.map + (size_t)n * OFFSET_INDEX_ENTRY_SIZE;
	*offset = ix->f.base_offset + (int32_t)be32_load(e);
	*position = be32_load(e + 4);
}

void offset_index_lookup(const struct offset_index *ix, int64_t target, int64_t *offset,
    uint32_t *position)
{
	int32_t slot = search(&ix->f, target, oi_offset);
	if (slot < 0) {
		*offset = ix->f.base_offset;
		*position = 0;
		return;
	}
	offset_index_entry(ix, slot, offset, position);
}

int offset_index_append(struct offset_index *ix, int64_t offset, uint32_t position)
{
	if (offset_index_full(ix)) {
		log_warn("offset index %s is full (%" PRId32 " entries)", ix->f.path, ix->f.entries);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	if ((ix->f.entries > 0 && offset <= ix->last_offset) ||
	    !offset_index_can_append_offset(ix, offset)) {
		log_warn("offset index %s: cannot append offset %" PRId64 " after %" PRId64,
		    ix->f.path, offset, ix->last_offset);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	uint8_t *e = ix->f.map + (size_t)ix->f.entries * OFFSET_INDEX_ENTRY_SIZE;
	be32_store(e, (uint32_t)(offset - ix->f.base_offset));
	be32_store(e + 4, position);
	ix->f.entries++;
	ix->last_offset = offset;
	return KERR_NONE;
}

void offset_index_truncate_to(struct offset_index *ix, int64_t offset)
{
	ix->f.entries = count_below(&ix->f, offset, oi_offset);
	oi_refresh_last(ix);
}

int offset_index_reset(struct offset_index *ix)
{
	ix->f.entries = 0;
	oi_refresh_last(ix);
	return offset_index_resize(ix, ix->f.max_bytes);
}

int offset_index_sanity_check(const struct offset_index *ix, uint32_t log_size)
{
	const struct index_file *f = &ix->f;
	if (f->map_len % OFFSET_INDEX_ENTRY_SIZE != 0) {
		log_warn("corrupt index %s: length %zu is not a multiple of %d", f->path, f->map_len,
		    OFFSET_INDEX_ENTRY_SIZE);
		return KERR_CORRUPT_MESSAGE;
	}
	if (f->entries == 0)
		return KERR_NONE;
	int64_t off;
	uint32_t pos;
	offset_index_entry(ix, f->entries - 1, &off, &pos);
	if (off < f->base_offset) {
		log_warn("corrupt index %s: last offset %" PRId64 " is below the base offset %" PRId64,
		    f->path, off, f->base_offset);
		return KERR_CORRUPT_MESSAGE;
	}
	if (pos > log_size) {
		log_warn("corrupt index %s: last position %" PRIu32 " is past the log's %" PRIu32
		    " bytes", f->path, pos, log_size);
		return KERR_CORRUPT_MESSAGE;
	}
	return KERR_NONE;
}

int offset_index_flush(struct offset_index *ix)
{
	return file_flush(&ix->f);
}

int offset_index_rename(struct offset_index *ix, const char *new_path)
{
	return file_rename(&ix->f, new_path);
}

/* --- time index ------------------------------------------------------------ */

static int64_t ti_timestamp(const struct index_file *f, int32_t n)
{
	return (int64_t)be64_load(f->map + (size_t)n * TIME_INDEX_ENTRY_SIZE);
}

static int64_t ti_offset(const struct index_file *f, int32_t n)
{
	return f->base_offset + (int32_t)be32_load(f->map + (size_t)n * TIME_INDEX_ENTRY_SIZE + 8);
}

static void ti_refresh_last(struct time_index *ix)
{
	if (ix->f.entries > 0) {
		ix->last_timestamp = ti_timestamp(&ix->f, ix->f.entries - 1);
		ix->last_offset = ti_offset(&ix->f, ix->f.entries - 1);
	} else {
		ix->last_timestamp = -1;
		ix->last_offset = ix->f.base_offset;
	}
}

int time_index_open(struct time_index *ix, const char *path, int64_t base_offset,
    int32_t max_bytes, bool *created)
{
	int err = file_open(&ix->f, path, base_offset, max_bytes, TIME_INDEX_ENTRY_SIZE, created);
	ti_refresh_last(ix);
	return err;
}

void time_index_close(struct time_index *ix)
{
	file_close(&ix->f);
}

int time_index_resize(struct time_index *ix, int32_t new_bytes)
{
	int err = file_resize(&ix->f, new_bytes);
	ti_refresh_last(ix);
	return err;
}

int time_index_trim(struct time_index *ix)
{
	return time_index_resize(ix, ix->f.entries * TIME_INDEX_ENTRY_SIZE);
}

/* One slot stays free for the entry written when the segment is rolled. */
bool time_index_full(const struct time_index *ix)
{
	return ix->f.entries >= ix->f.max_entries - 1;
}

void time_index_entry(const struct time_index *ix, int32_t n, int64_t *timestamp,
    int64_t *offset)
{
	*timestamp = ti_timestamp(&ix->f, n);
	*offset = ti_offset(&ix->f, n);
}

void time_index_lookup(const struct time_index *ix, int64_t target, int64_t *timestamp,
    int64_t *offset)
{
	int32_t slot = search(&ix->f, target, ti_timestamp);
	if (slot < 0) {
		*timestamp = -1;
		*offset = ix->f.base_offset;
		return;
	}
	time_index_entry(ix, slot, timestamp, offset);
}

void time_index_last_entry(const struct time_index *ix, int64_t *timestamp, int64_t *offset)
{
	*timestamp = ix->last_timestamp;
	*offset = ix->last_offset;
}

int time_index_maybe_append(struct time_index *ix, int64_t timestamp, int64_t offset,
    bool skip_full_check)
{
	if (!skip_full_check && time_index_full(ix)) {
		log_warn("time index %s is full (%" PRId32 " entries)", ix->f.path, ix->f.entries);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	if (ix->f.entries > 0 && (offset < ix->last_offset || timestamp < ix->last_timestamp)) {
		log_warn("time index %s: cannot append (%" PRId64 ", %" PRId64 ") after (%" PRId64
		    ", %" PRId64 ")", ix->f.path, timestamp, offset, ix->last_timestamp, ix->last_offset);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	/* Nothing new, as when a rolled (trimmed, so full) segment is closed again: not an
	 * error, and not worth a warning. */
	if (timestamp <= ix->last_timestamp)
		return KERR_NONE;
	if (ix->f.entries >= ix->f.max_entries) {
		log_warn("time index %s is full (%" PRId32 " entries)", ix->f.path, ix->f.entries);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	int64_t rel = offset - ix->f.base_offset;
	if (rel < 0 || rel > INT32_MAX)
		return KERR_UNKNOWN_SERVER_ERROR;
	uint8_t *e = ix->f.map + (size_t)ix->f.entries * TIME_INDEX_ENTRY_SIZE;
	be64_store(e, (uint64_t)timestamp);
	be32_store(e + 8, (uint32_t)rel);
	ix->f.entries++;
	ix->last_timestamp = timestamp;
	ix->last_offset = offset;
	return KERR_NONE;
}

void time_index_truncate_to(struct time_index *ix, int64_t offset)
{
	ix->f.entries = count_below(&ix->f, offset, ti_offset);
	ti_refresh_last(ix);
}

int time_index_reset(struct time_index *ix)
{
	ix->f.entries = 0;
	ti_refresh_last(ix);
	return time_index_resize(ix, ix->f.max_bytes);
}

int time_index_sanity_check(const struct time_index *ix)
{
	const struct index_file *f = &ix->f;
	if (f->map_len % TIME_INDEX_ENTRY_SIZE != 0) {
		log_warn("corrupt time index %s: length %zu is not a multiple of %d", f->path,
		    f->map_len, TIME_INDEX_ENTRY_SIZE);
		return KERR_CORRUPT_MESSAGE;
	}
	if (f->entries == 0)
		return KERR_NONE;
	if (ix->last_timestamp < ti_timestamp(f, 0)) {
		log_warn("corrupt time index %s: last timestamp %" PRId64 " is below the first %" PRId64,
		    f->path, ix->last_timestamp, ti_timestamp(f, 0));
		return KERR_CORRUPT_MESSAGE;
	}
	if (ix->last_offset < f->base_offset) {
		log_warn("corrupt time index %s: last offset %" PRId64 " is below the base offset %"
		    PRId64, f->path, ix->last_offset, f->base_offset);
		return KERR_CORRUPT_MESSAGE;
	}
	return KERR_NONE;
}

int time_index_flush(struct time_index *ix)
{
	return file_flush(&ix->f);
}

int time_index_rename(struct time_index *ix, const char *new_path)
{
	return file_rename(&ix->f, new_path);
}
