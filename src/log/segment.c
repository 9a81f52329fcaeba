/*
 * Log segments: the .log file, its indexes, appends, offset and timestamp
 * lookups, truncation, rolling and deletion (segment.h).
 */
#include "samsa/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* rolling_timestamp before the first batch was looked at. */
#define ROLLING_TS_UNKNOWN INT64_MIN

char *segment_file_path(const char *dir, int64_t base_offset, const char *suffix)
{
	return xasprintf("%s/%020" PRId64 "%s", dir, base_offset, suffix);
}

bool segment_parse_file_name(const char *name, int64_t *base_offset, const char **suffix)
{
	const char *p = name;
	int64_t v = 0;

	while (*p >= '0' && *p <= '9') {
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return false;
		v = v * 10 + (*p - '0');
		p++;
	}
	/* Kafka writes at least 20 digits; anything shorter is not a segment file. */
	if (p - name < 20 || *p != '.')
		return false;
	*base_offset = v;
	*suffix = p;
	return true;
}

/* --- reading ---------------------------------------------------------------- */

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? KERR_KAFKA_STORAGE_ERROR : KERR_CORRUPT_MESSAGE;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return KERR_NONE;
}

void segment_scan_init(struct segment_scan *sc, const struct segment *s, uint32_t from,
    uint32_t end)
{
	sc->fd = s->fd;
	sc->pos = from;
	sc->end = end;
	sc->buf_start = from;
	sc->buf_len = 0;
	sc->err = 0;
}

/* Make want bytes at sc->pos available in buf (fewer if the end is nearer). */
static bool scan_fill(struct segment_scan *sc, uint32_t want)
{
	uint32_t have_off = sc->pos - sc->buf_start;
	if (sc->pos >= sc->buf_start && have_off <= sc->buf_len && sc->buf_len - have_off >= want)
		return true;
	uint32_t n = sc->end - sc->pos;
	if (n > sizeof sc->buf)
		n = sizeof sc->buf;
	sc->buf_start = sc->pos;
	sc->buf_len = 0;
	while (sc->buf_len < n) {
		ssize_t r = pread(sc->fd, sc->buf + sc->buf_len, n - sc->buf_len,
		    (off_t)sc->pos + sc->buf_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sc->err = KERR_KAFKA_STORAGE_ERROR;
			return false;
		}
		if (r == 0)
			break;
		sc->buf_len += (uint32_t)r;
	}
	return sc->buf_len >= want;
}

bool segment_scan_next(struct segment_scan *sc, struct segment_batch *b)
{
	if (sc->err || sc->pos >= sc->end)
		return false;
	uint32_t left = sc->end - sc->pos;
	if (left < RB_MAGIC_OFFSET + 1) {
		sc->err = KERR_CORRUPT_MESSAGE;
		return false;
	}
	uint32_t want = left < RB_HEADER_SIZE ? left : RB_HEADER_SIZE;
	if (!scan_fill(sc, want)) {
		if (!sc->err)
			sc->err = KERR_CORRUPT_MESSAGE;
		return false;
	}
	const uint8_t *h = sc->buf + (sc->pos - sc->buf_start);
	int64_t offset;
	uint32_t size;
	int8_t magic;
	if (!record_batch_peek(h, want, &offset, &size, &magic) || size > left) {
		sc->err = KERR_CORRUPT_MESSAGE;
		return false;
	}
	b->position = sc->pos;
	b->size = size;
	b->magic = magic;
	b->base_offset = offset;
	b->last_offset = offset;
	b->attributes = 0;
	b->partition_leader_epoch = -1;
	b->record_count = -1;
	b->max_timestamp = -1;
	if (magic == RB_MAGIC_V2) {
		if (size < RB_HEADER_SIZE) {
			sc->err = KERR_CORRUPT_MESSAGE;
			return false;
		}
		b->partition_leader_epoch = (int32_t)be32_load(h + RB_OFF_LEADER_EPOCH);
		b->attributes = (int16_t)be16_load(h + RB_OFF_ATTRIBUTES);
		b->last_offset = offset + (int32_t)be32_load(h + RB_OFF_LAST_OFFSET_DELTA);
		b->max_timestamp = (int64_t)be64_load(h + RB_OFF_MAX_TIMESTAMP);
		b->record_count = (int32_t)be32_load(h + RB_OFF_RECORD_COUNT);
	} else if (magic == RB_MAGIC_V1) {
		/* offset(8) size(4) crc(4) magic(1) attributes(1) timestamp(8) */
		if (size < 26) {
			sc->err = KERR_CORRUPT_MESSAGE;
			return false;
		}
		b->max_timestamp = (int64_t)be64_load(h + 18);
	} else if (magic != RB_MAGIC_V0) {
		sc->err = KERR_CORRUPT_MESSAGE;
		return false;
	}
	sc->pos += size;
	return true;
}

/* --- open / close ------------------------------------------------------------- */

/* "<dir>/<base><ext><suffix>". */
static char *suffixed_path(const char *dir, int64_t base_offset, const char *ext, const char *suffix)
{
	char *p = segment_file_path(dir, base_offset, ext);
	if (!*suffix)
		return p;
	char *q = xasprintf("%s%s", p, suffix);
	free(p);
	return q;
}

static int open_impl(const char *dir, int64_t base_offset, const char *suffix,
    const struct segment_config *cfg, bool create, int64_t now_ms, int64_t roll_jitter_ms,
    struct segment **out, bool *index_missing);

int segment_open(const char *dir, int64_t base_offset, const struct segment_config *cfg,
    bool create, int64_t now_ms, int64_t roll_jitter_ms, struct segment **out,
    bool *index_missing)
{
	return open_impl(dir, base_offset, "", cfg, create, now_ms, roll_jitter_ms, out,
	    index_missing);
}

int segment_create_suffixed(const char *dir, int64_t base_offset, const char *suffix,
    const struct segment_config *cfg, int64_t now_ms, struct segment **out)
{
	struct segment_config c = *cfg;
	c.preallocate = false;
	return open_impl(dir, base_offset, suffix, &c, true, now_ms, 0, out, NULL);
}

int segment_set_suffix(struct segment *s, const char *suffix)
{
	int err = KERR_NONE;
	/* The .log goes last: recovery goes by the .log's name, and index files
	 * under either name are rebuilt or dropped if the .log's is not theirs. */
	char *to = suffixed_path(s->dir, s->base_offset, SEGMENT_INDEX_SUFFIX, suffix);
	if (offset_index_rename(&s->oidx, to) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	free(to);
	to = suffixed_path(s->dir, s->base_offset, SEGMENT_TIMEINDEX_SUFFIX, suffix);
	if (time_index_rename(&s->tidx, to) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	free(to);
	to = suffixed_path(s->dir, s->base_offset, SEGMENT_LOG_SUFFIX, suffix);
	if (err == KERR_NONE && rename(s->log_path, to) < 0) {
		log_error("cannot rename %s to %s: %s", s->log_path, to, strerror(errno));
		err = KERR_KAFKA_STORAGE_ERROR;
	}
	if (err == KERR_NONE) {
		free(s->log_path);
		s->log_path = to;
	} else {
		free(to);
	}
	return err;
}

static int open_impl(const char *dir, int64_t base_offset, const char *suffix,
    const struct segment_config *cfg, bool create, int64_t now_ms, int64_t roll_jitter_ms,
    struct segment **out, bool *index_missing)
{
	struct segment *s = xcalloc(1, sizeof *s);
	struct stat st;
	bool oidx_created = false, tidx_created = false;
	int err;

	*out = NULL;
	s->base_offset = base_offset;
	s->dir = xstrdup(dir);
	s->log_path = suffixed_path(dir, base_offset, SEGMENT_LOG_SUFFIX, suffix);
	s->cfg = *cfg;
	s->refs = 1;
	s->max_timestamp = -1;
	s->offset_of_max_timestamp = base_offset;
	s->rolling_timestamp = ROLLING_TS_UNKNOWN;
	s->created_ms = now_ms;
	s->roll_jitter_ms = roll_jitter_ms;
	s->next_offset = base_offset;
	s->oidx.f.path = NULL;
	s->tidx.f.path = NULL;

	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
	s->fd = open(s->log_path, flags, 0644);
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		log_error("cannot open segment %s: %s", s->log_path, strerror(errno));
		goto fail;
	}
	if (st.st_size > INT32_MAX) {
		log_error("segment %s is larger than 2 GiB", s->log_path);
		goto fail;
	}
	s->size = (uint32_t)st.st_size;
	if (create && cfg->preallocate && cfg->segment_bytes > 0) {
		/* Reserve the blocks now; size stays 0, the file is cut back on roll. */
		int r = posix_fallocate(s->fd, 0, cfg->segment_bytes);
		if (r != 0)
			log_warn("cannot preallocate %s: %s", s->log_path, strerror(r));
	}

	char *ipath = suffixed_path(dir, base_offset, SEGMENT_INDEX_SUFFIX, suffix);
	char *tpath = suffixed_path(dir, base_offset, SEGMENT_TIMEINDEX_SUFFIX, suffix);
	if (create) {
		unlink(ipath);
		unlink(tpath);
		char *xpath = segment_file_path(dir, base_offset, SEGMENT_TXNINDEX_SUFFIX);
		unlink(xpath); /* a new segment has aborted no transaction yet */
		free(xpath);
	}
	err = offset_index_open(&s->oidx, ipath, base_offset, cfg->index_max_bytes, &oidx_created);
	if (err == KERR_NONE)
		err = time_index_open(&s->tidx, tpath, base_offset, cfg->index_max_bytes, &tidx_created);
	free(ipath);
	free(tpath);
	if (err != KERR_NONE)
		goto fail;
	if (!create && tidx_created && !oidx_created)
		time_index_resize(&s->tidx, 0); /* an index from before time indexes: keep it empty */
	if (index_missing)
		*index_missing = !create && oidx_created;
	if (!create && s->tidx.f.entries > 0)
		time_index_last_entry(&s->tidx, &s->max_timestamp, &s->offset_of_max_timestamp);
	*out = s;
	return KERR_NONE;
fail:
	segment_unref(s);
	return KERR_KAFKA_STORAGE_ERROR;
}

void segment_ref(struct segment *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

static void segment_free(struct segment *s)
{
	if (s->oidx.f.path) {
		if (s->deleted || s->files_removed) {
			/* Nothing to trim: the files are on their way out. */
			s->oidx.f.entries = (int32_t)(s->oidx.f.map_len / OFFSET_INDEX_ENTRY_SIZE);
			s->tidx.f.entries = (int32_t)(s->tidx.f.map_len / TIME_INDEX_ENTRY_SIZE);
		} else if (s->max_timestamp >= 0 && s->tidx.f.path) {
			/* As Kafka does on close: the max timestamp is the last
			 * time index entry, so the next open knows it. */
			time_index_maybe_append(&s->tidx, s->max_timestamp,
			    s->offset_of_max_timestamp, true);
		}
		offset_index_close(&s->oidx);
	}
	if (s->tidx.f.path)
		time_index_close(&s->tidx);
	if (s->fd >= 0) {
		struct stat st;
		if (!s->deleted && !s->files_removed && fstat(s->fd, &st) == 0 &&
		    st.st_size > (off_t)s->size && ftruncate(s->fd, s->size) < 0)
			log_warn("cannot trim %s: %s", s->log_path, strerror(errno));
		close(s->fd);
	}
	free(s->dir);
	free(s->log_path);
	free(s);
}

void segment_unref(struct segment *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		segment_free(s);
}

int segment_load_next_offset(struct segment *s)
{
	int64_t off;
	uint32_t pos;
	struct segment_scan sc;
	struct segment_batch b;

	offset_index_lookup(&s->oidx, s->oidx.last_offset, &off, &pos);
	if (pos > s->size)
		pos = 0;
	s->next_offset = s->base_offset;
	segment_scan_init(&sc, s, pos, s->size);
	while (segment_scan_next(&sc, &b))
		s->next_offset = b.last_offset + 1;
	if (sc.err) {
		log_warn("segment %s: bad batch header at byte %" PRIu32, s->log_path, sc.pos);
		return sc.err;
	}
	return KERR_NONE;
}

/* --- append ---------------------------------------------------------------------- */

int segment_check_append(struct segment *s, size_t len, int64_t last_offset)
{
	if (!offset_index_can_append_offset(&s->oidx, last_offset) ||
	    (uint64_t)s->size + len > INT32_MAX)
		return KERR_UNKNOWN_SERVER_ERROR;
	return KERR_NONE;
}

int segment_write_at(struct segment *s, const uint8_t *buf, size_t len, uint32_t position)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(s->fd, buf + done, len - done, (off_t)position + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;
			log_error("write to %s failed: %s", s->log_path, strerror(e));
			/* Leave no partial batch behind for the next append to follow. */
			if (done > 0 && ftruncate(s->fd, position) < 0)
				log_error("cannot cut %s back to %" PRIu32 ": %s", s->log_path, position,
				    strerror(errno));
			return KERR_KAFKA_STORAGE_ERROR;
		}
		done += (size_t)n;
	}
	return KERR_NONE;
}

void segment_commit_append(struct segment *s, size_t len, uint32_t position, int64_t last_offset,
    int64_t max_timestamp, int64_t offset_of_max_timestamp)
{
	if (position == 0)
		s->rolling_timestamp = max_timestamp;
	s->size += (uint32_t)len;
	s->next_offset = last_offset + 1;
	if (max_timestamp > s->max_timestamp) {
		s->max_timestamp = max_timestamp;
		s->offset_of_max_timestamp = offset_of_max_timestamp;
	}
	if (s->bytes_since_last_index_entry > (uint32_t)s->cfg.index_interval_bytes) {
		offset_index_append(&s->oidx, last_offset, position);
		time_index_maybe_append(&s->tidx, s->max_timestamp, s->offset_of_max_timestamp, false);
		s->bytes_since_last_index_entry = 0;
	}
	s->bytes_since_last_index_entry += (uint32_t)len;
}

int segment_append(struct segment *s, const uint8_t *buf, size_t len, int64_t last_offset,
    int64_t max_timestamp, int64_t offset_of_max_timestamp)
{
	if (len == 0)
		return KERR_NONE;
	int err = segment_check_append(s, len, last_offset);
	if (err == KERR_NONE)
		err = segment_write_at(s, buf, len, s->size);
	if (err == KERR_NONE)
		segment_commit_append(s, len, s->size, last_offset, max_timestamp, offset_of_max_timestamp);
	return err;
}

int64_t segment_first_batch_timestamp(struct segment *s)
{
	if (s->rolling_timestamp == ROLLING_TS_UNKNOWN) {
		struct segment_scan sc;
		struct segment_batch b;
		if (s->size == 0)
			return -1;
		segment_scan_init(&sc, s, 0, s->size);
		s->rolling_timestamp = segment_scan_next(&sc, &b) ? b.max_timestamp : -1;
	}
	return s->rolling_timestamp;
}

bool segment_should_roll(struct segment *s, const struct segment_roll_params *p)
{
	/*
	 * segment.ms counts from the first batch's timestamp when it has one
	 * (so a replica rolls where its leader did), else from when the
	 * segment was created.
	 */
	int64_t first = segment_first_batch_timestamp(s);
	int64_t waited = first >= 0 ? p->max_timestamp_in_messages - first : p->now_ms - s->created_ms;
	bool reached_ms = waited > p->max_segment_ms - s->roll_jitter_ms;

	return (int64_t)s->size > p->max_segment_bytes - p->messages_size ||
	    (s->size > 0 && reached_ms) ||
	    offset_index_full(&s->oidx) || time_index_full(&s->tidx) ||
	    !offset_index_can_append_offset(&s->oidx, p->max_offset_in_messages);
}

/* --- read -------------------------------------------------------------------------- */

int segment_translate_offset(struct segment *s, int64_t offset, uint32_t start_pos,
    struct segment_batch *out, bool *found)
{
	int64_t ioff;
	uint32_t pos;
	struct segment_scan sc;

	*found = false;
	offset_index_lookup(&s->oidx, offset, &ioff, &pos);
	if (start_pos > pos)
		pos = start_pos;
	if (pos > s->size)
		return KERR_NONE;
	segment_scan_init(&sc, s, pos, s->size);
	while (segment_scan_next(&sc, out)) {
		if (out->last_offset >= offset) {
			*found = true;
			return KERR_NONE;
		}
	}
	return sc.err;
}

int segment_read(struct segment *s, int64_t offset, uint32_t max_bytes, uint32_t max_position,
    bool min_one, struct segment_read_info *out, bool *found)
{
	struct segment_batch b;
	int err = segment_translate_offset(s, offset, 0, &b, found);
	if (err != KERR_NONE || !*found)
		return err;

	uint32_t adjusted = max_bytes;
	if (min_one && b.size > adjusted)
		adjusted = b.size;
	out->position = b.position;
	out->first_batch_offset = b.base_offset;
	out->first_entry_incomplete = adjusted < b.size;
	if (max_position > s->size)
		max_position = s->size;
	uint32_t avail = max_position > b.position ? max_position - b.position : 0;
	out->length = adjusted < avail ? adjusted : avail;
	return KERR_NONE;
}

/* --- timestamps ------------------------------------------------------------------------ */

int64_t segment_largest_timestamp(const struct segment *s)
{
	struct stat st;
	if (s->max_timestamp >= 0)
		return s->max_timestamp;
	if (fstat(s->fd, &st) == 0)
		return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	return 0;
}

/* Look inside one v2 batch for the first record at or after (ts, start). */
static int search_batch(const uint8_t *batch, uint32_t size, int64_t ts, int64_t start,
    struct wbuf *scratch, int64_t *found_ts, int64_t *found_offset, bool *found)
{
	struct record_batch rb;
	int err = record_batch_parse(batch, size, &rb);
	if (err != KERR_NONE)
		return err;
	const uint8_t *recs = record_batch_records(&rb);
	size_t len = record_batch_records_len(&rb);
	if (record_batch_codec(&rb) != COMPRESSION_NONE) {
		wbuf_reset(scratch);
		err = compression_decompress((enum compression_codec)record_batch_codec(&rb), recs, len,
		    scratch, (size_t)256 << 20);
		if (err != KERR_NONE)
			return err;
		recs = scratch->data;
		len = scratch->len;
	}
	struct record_iter it;
	struct record rec;
	record_iter_init(&it, recs, len, rb.record_count);
	while (record_iter_next(&it, &rec)) {
		int64_t rts = record_batch_is_log_append_time(&rb) ? rb.max_timestamp
		    : rb.base_timestamp + rec.timestamp_delta;
		int64_t roff = rb.base_offset + rec.offset_delta;
		if (rts >= ts && roff >= start) {
			*found_ts = rts;
			*found_offset = roff;
			*found = true;
			return KERR_NONE;
		}
	}
	return it.err ? KERR_CORRUPT_MESSAGE : KERR_NONE;
}

int segment_find_offset_by_timestamp(struct segment *s, int64_t ts, int64_t starting_offset,
    int64_t *found_ts, int64_t *found_offset, int32_t *leader_epoch, bool *found)
{
	int64_t its, ioff;
	uint32_t pos;
	struct segment_scan sc;
	struct segment_batch b;
	struct wbuf buf, scratch;
	int err = KERR_NONE;

	*found = false;
	time_index_lookup(&s->tidx, ts, &its, &ioff);
	offset_index_lookup(&s->oidx, ioff > starting_offset ? ioff : starting_offset, &ioff, &pos);
	if (pos > s->size)
		return KERR_NONE;
	wbuf_init(&buf);
	wbuf_init(&scratch);
	segment_scan_init(&sc, s, pos, s->size);
	while (!*found && segment_scan_next(&sc, &b)) {
		if (b.max_timestamp < ts || b.last_offset < starting_offset)
			continue;
		if (b.magic != RB_MAGIC_V2) {
			/* Legacy entries are looked at whole: their own timestamp
			 * and (last) offset. */
			*found_ts = b.max_timestamp;
			*found_offset = b.last_offset;
			*leader_epoch = -1;
			*found = true;
			break;
		}
		wbuf_reset(&buf);
		uint8_t *p = wbuf_extend(&buf, b.size);
		err = pread_full(s->fd, p, b.size, b.position);
		if (err == KERR_NONE)
			err = search_batch(p, b.size, ts, starting_offset, &scratch, found_ts,
			    found_offset, found);
		if (err != KERR_NONE)
			break;
		if (*found)
			*leader_epoch = b.partition_leader_epoch;
	}
	wbuf_free(&buf);
	wbuf_free(&scratch);
	if (err == KERR_NONE && sc.err)
		err = sc.err;
	return err;
}

/* --- truncation, flush, roll, deletion --------------------------------------------------------- */

int segment_truncate_bytes(struct segment *s, uint32_t size)
{
	if (ftruncate(s->fd, size) < 0) {
		log_error("cannot truncate %s to %" PRIu32 ": %s", s->log_path, size, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	s->size = size;
	return KERR_NONE;
}

/* After a truncation: the largest timestamp from the last time index entry
 * and the batches after it. */
static void reload_max_timestamp(struct segment *s)
{
	int64_t ts, off, ioff;
	uint32_t pos;
	struct segment_scan sc;
	struct segment_batch b;

	time_index_last_entry(&s->tidx, &ts, &off);
	s->max_timestamp = ts;
	s->offset_of_max_timestamp = off;
	offset_index_lookup(&s->oidx, off, &ioff, &pos);
	segment_scan_init(&sc, s, pos <= s->size ? pos : 0, s->size);
	while (segment_scan_next(&sc, &b)) {
		if (b.max_timestamp > s->max_timestamp) {
			s->max_timestamp = b.max_timestamp;
			s->offset_of_max_timestamp = b.last_offset;
		}
	}
}

int segment_truncate_to(struct segment *s, int64_t offset, int64_t now_ms,
    uint32_t *bytes_truncated)
{
	struct segment_batch b;
	bool found;
	int err;

	if (bytes_truncated)
		*bytes_truncated = 0;
	err = segment_translate_offset(s, offset, 0, &b, &found);
	if (err != KERR_NONE)
		return err;
	offset_index_truncate_to(&s->oidx, offset);
	time_index_truncate_to(&s->tidx, offset);
	offset_index_resize(&s->oidx, s->cfg.index_max_bytes);
	time_index_resize(&s->tidx, s->cfg.index_max_bytes);
	if (found) {
		uint32_t old = s->size;
		err = segment_truncate_bytes(s, b.position);
		if (err != KERR_NONE)
			return err;
		if (bytes_truncated)
			*bytes_truncated = old - b.position;
	}
	if (s->size == 0) {
		s->created_ms = now_ms;
		s->rolling_timestamp = ROLLING_TS_UNKNOWN;
	}
	s->bytes_since_last_index_entry = 0;
	if (s->max_timestamp >= 0)
		reload_max_timestamp(s);
	return segment_load_next_offset(s);
}

int segment_flush(struct segment *s)
{
	if (fdatasync(s->fd) < 0) {
		log_error("cannot flush %s: %s", s->log_path, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	int err = offset_index_flush(&s->oidx);
	int err2 = time_index_flush(&s->tidx);
	return err != KERR_NONE ? err : err2;
}

int segment_on_become_inactive(struct segment *s)
{
	int err = KERR_NONE;
	if (s->max_timestamp >= 0)
		time_index_maybe_append(&s->tidx, s->max_timestamp, s->offset_of_max_timestamp, true);
	if (offset_index_trim(&s->oidx) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	if (time_index_trim(&s->tidx) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	struct stat st;
	if (fstat(s->fd, &st) == 0 && st.st_size > (off_t)s->size)
		err = segment_truncate_bytes(s, s->size) != KERR_NONE ? KERR_KAFKA_STORAGE_ERROR : err;
	return err;
}

int segment_resize_indexes(struct segment *s, int32_t bytes)
{
	int err = offset_index_resize(&s->oidx, bytes);
	int err2 = time_index_resize(&s->tidx, bytes);
	return err != KERR_NONE ? err : err2;
}

static int rename_file(const char *from, const char *to)
{
	if (rename(from, to) < 0 && errno != ENOENT) {
		log_error("cannot rename %s to %s: %s", from, to, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	return KERR_NONE;
}

int segment_mark_deleted(struct segment *s)
{
	if (s->deleted)
		return KERR_NONE;
	int err = KERR_NONE;
	char *to = xasprintf("%s%s", s->log_path, SEGMENT_DELETED_SUFFIX);
	if (rename_file(s->log_path, to) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	free(s->log_path);
	s->log_path = to;

	to = xasprintf("%s%s", s->oidx.f.path, SEGMENT_DELETED_SUFFIX);
	if (offset_index_rename(&s->oidx, to) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	free(to);
	to = xasprintf("%s%s", s->tidx.f.path, SEGMENT_DELETED_SUFFIX);
	if (time_index_rename(&s->tidx, to) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	free(to);
	/* A transaction index exists only once it has entries; move it if so. */
	char *txn = segment_file_path(s->dir, s->base_offset, SEGMENT_TXNINDEX_SUFFIX);
	to = xasprintf("%s%s", txn, SEGMENT_DELETED_SUFFIX);
	if (rename_file(txn, to) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	free(txn);
	free(to);
	s->deleted = true;
	return err;
}

static int unlink_file(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT) {
		log_error("cannot delete %s: %s", path, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	return KERR_NONE;
}

int segment_remove_files(struct segment *s)
{
	int err = KERR_NONE;
	if (unlink_file(s->log_path) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	if (unlink_file(s->oidx.f.path) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	if (unlink_file(s->tidx.f.path) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	char *txn = segment_file_path(s->dir, s->base_offset, SEGMENT_TXNINDEX_SUFFIX);
	char *p = s->deleted ? xasprintf("%s%s", txn, SEGMENT_DELETED_SUFFIX) : xstrdup(txn);
	if (unlink_file(p) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;
	free(p);
	free(txn);
	s->files_removed = true;
	return err;
}
