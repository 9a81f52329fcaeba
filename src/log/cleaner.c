/*
 * Compaction of one log [Kafka's Cleaner and OffsetMap] (log.h, "Log
 * compaction"): which part of a log is dirty, the offset map of its keys,
 * the rewrite of whole segments into a .cleaned one and its swap.  The
 * threads that pick the dirtiest log and call log_clean live in
 * log_manager.c.
 */
#include "log/log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/endian.h"
#include "samsa/util/fault.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* The most a compressed batch may expand to while it is filtered. */
#define MAX_PLAIN_BYTES (256u << 20)
/* Output is written in chunks of about this much (log.cleaner.io.buffer.size's default). */
#define WRITE_CHUNK (512u << 10)
#define READ_CHUNK (512u << 10)

/* --- the offset map ------------------------------------------------------------------- */

/*
 * Kafka's SkimpyOffsetMap: a fixed table of (hash of key, offset) with open
 * addressing, filled up to the load factor.  Keys are kept only as a 128-bit
 * hash, so the map holds dedupe_bytes / 24 keys whatever their size; Kafka
 * accepts the same (MD5) risk of two keys sharing a hash.  The table is an
 * anonymous mapping, so clearing it drops its pages instead of writing them.
 */
#define MAP_ENTRY_SIZE 24

struct offset_map {
	uint8_t *mem;
	size_t bytes;
	size_t slots;
	size_t used;
	size_t max_used;
	bool touched;
};

static void key_hash(const uint8_t *p, size_t n, uint64_t *h1, uint64_t *h2)
{
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
	for (size_t i = 0; i < n; i++) {
		a = (a ^ p[i]) * 0x100000001b3ULL;
		b = (b + p[i] + 1) * 0xff51afd7ed558ccdULL;
		b ^= b >> 29;
	}
	a ^= a >> 33;
	a *= 0xc4ceb9fe1a85ec53ULL;
	a ^= a >> 33;
	b ^= b >> 31;
	b *= 0x94d049bb133111ebULL;
	b ^= b >> 32;
	*h1 = a;
	*h2 = b;
}

static void map_clear(struct offset_map *m)
{
	if (m->touched && madvise(m->mem, m->bytes, MADV_DONTNEED) != 0)
		memset(m->mem, 0, m->bytes);
	m->used = 0;
	m->touched = false;
}

/* The slot of key: its own, or the empty one where it would go. */
static uint8_t *map_slot(struct offset_map *m, struct kbytes key, uint64_t *h1, uint64_t *h2)
{
	key_hash(key.ptr, (size_t)key.len, h1, h2);
	size_t i = (size_t)(*h1 % m->slots);
	for (;;) {
		uint8_t *e = m->mem + i * MAP_ENTRY_SIZE;
		uint64_t s1, s2, off;
		memcpy(&off, e + 16, 8);
		if (off == 0)
			return e;
		memcpy(&s1, e, 8);
		memcpy(&s2, e + 8, 8);
		if (s1 == *h1 && s2 == *h2)
			return e;
		if (++i == m->slots)
			i = 0;
	}
}

/* False when the map is full and key is not in it yet. */
static bool map_put(struct offset_map *m, struct kbytes key, int64_t offset)
{
	uint64_t h1, h2, off, stored = (uint64_t)offset + 1; /* 0 marks an empty slot */
	uint8_t *e = map_slot(m, key, &h1, &h2);
	memcpy(&off, e + 16, 8);
	if (off == 0) {
		if (m->used >= m->max_used)
			return false;
		memcpy(e, &h1, 8);
		memcpy(e + 8, &h2, 8);
		m->used++;
	}
	memcpy(e + 16, &stored, 8);
	m->touched = true;
	return true;
}

/* The latest offset of key, -1 when the map does not have it. */
static int64_t map_get(struct offset_map *m, struct kbytes key)
{
	uint64_t h1, h2, off;
	if (m->used == 0)
		return -1;
	uint8_t *e = map_slot(m, key, &h1, &h2);
	memcpy(&off, e + 16, 8);
	return off == 0 ? -1 : (int64_t)(off - 1);
}

/* --- the cleaner's state ----------------------------------------------------------------- */

struct log_cleaner {
	struct offset_map map;
	double max_bytes_per_sec;
	const volatile bool *stop;
	/* Throttle [Kafka's Throttler]: bytes since the period began. */
	struct timespec period_start;
	int64_t period_bytes;
	struct wbuf plain;   /* a compressed batch's records */
	struct wbuf records; /* the kept records before compression */
	struct wbuf out;     /* cleaned batches waiting to be written */
	uint8_t *rbuf;       /* what the reader holds */
	size_t rcap;
};

struct log_cleaner *log_cleaner_new(size_t dedupe_bytes, double load_factor, double max_bytes_per_sec,
    const volatile bool *stop)
{
	struct log_cleaner *c = xcalloc(1, sizeof *c);
	size_t slots = dedupe_bytes / MAP_ENTRY_SIZE;
	if (slots < 1024)
		slots = 1024;
	c->map.bytes = slots * MAP_ENTRY_SIZE;
	c->map.mem = mmap(NULL, c->map.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	    -1, 0);
	if (c->map.mem == MAP_FAILED) {
		log_error("cannot map a dedupe buffer of %zu bytes: %s", c->map.bytes, strerror(errno));
		free(c);
		return NULL;
	}
	c->map.slots = slots;
	if (load_factor <= 0 || load_factor > 1)
		load_factor = 0.9;
	c->map.max_used = (size_t)((double)slots * load_factor);
	if (c->map.max_used < 1)
		c->map.max_used = 1;
	c->max_bytes_per_sec = max_bytes_per_sec;
	c->stop = stop;
	wbuf_init(&c->plain);
	wbuf_init(&c->records);
	wbuf_init(&c->out);
	c->rcap = READ_CHUNK;
	c->rbuf = xmalloc(c->rcap);
	clock_gettime(CLOCK_MONOTONIC, &c->period_start);
	return c;
}

void log_cleaner_free(struct log_cleaner *c)
{
	if (!c)
		return;
	munmap(c->map.mem, c->map.bytes);
	wbuf_free(&c->plain);
	wbuf_free(&c->records);
	wbuf_free(&c->out);
	free(c->rbuf);
	free(c);
}

static bool stopped(const struct log_cleaner *c)
{
	return c->stop && *c->stop;
}

/* Account for n bytes of I/O and sleep as log.cleaner.io.max.bytes.per.second asks. */
static void throttle(struct log_cleaner *c, size_t n)
{
	if (c->max_bytes_per_sec <= 0 || c->max_bytes_per_sec >= 1e300)
		return;
	c->period_bytes += (int64_t)n;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double elapsed = (double)(now.tv_sec - c->period_start.tv_sec) +
	    (double)(now.tv_nsec - c->period_start.tv_nsec) / 1e9;
	/* Kafka's Throttler checks every 100 ms period. */
	if (elapsed < 0.1)
		return;
	double wanted = (double)c->period_bytes / c->max_bytes_per_sec;
	if (wanted > elapsed) {
		double sleep = wanted - elapsed;
		struct timespec ts = { (time_t)sleep, (long)((sleep - (double)(time_t)sleep) * 1e9) };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopped(c))
			;
	}
	clock_gettime(CLOCK_MONOTONIC, &c->period_start);
	c->period_bytes = 0;
}

/* --- reading a segment batch by batch ------------------------------------------------------ */

struct reader {
	struct log_cleaner *c;
	int fd;
	uint32_t file_pos; /* of rbuf[0] */
	uint32_t end;
	size_t len, off;
	int64_t *bytes_read;
};

static void reader_init(struct reader *r, struct log_cleaner *c, const struct segment *s, uint32_t size,
    int64_t *bytes_read)
{
	r->c = c;
	r->fd = s->fd;
	r->file_pos = 0;
	r->end = size;
	r->len = r->off = 0;
	r->bytes_read = bytes_read;
}

/* The next whole batch: 1, 0 at the end, -1 for a torn or unreadable one. */
static int reader_next(struct reader *r, const uint8_t **p, uint32_t *size)
{
	struct log_cleaner *c = r->c;
	for (;;) {
		size_t avail = r->len - r->off;
		if (avail >= RB_MAGIC_OFFSET + 1) {
			int64_t base;
			uint32_t sz;
			int8_t magic;
			if (!record_batch_peek(c->rbuf + r->off, avail, &base, &sz, &magic))
				return -1;
			if (avail >= sz) {
				*p = c->rbuf + r->off;
				*size = sz;
				r->off += sz;
				return 1;
			}
			if (sz > c->rcap) {
				/* Keep what is there; the buffer grows for one big batch. */
				uint8_t *nb = xmalloc(sz);
				memcpy(nb, c->rbuf + r->off, avail);
				free(c->rbuf);
				c->rbuf = nb;
				c->rcap = sz;
				r->file_pos += (uint32_t)r->off;
				r->off = 0;
				r->len = avail;
			}
		}
		uint32_t at = r->file_pos + (uint32_t)r->off;
		if (at + avail >= r->end)
			return avail ? -1 : 0;
		memmove(c->rbuf, c->rbuf + r->off, avail);
		r->file_pos = at;
		r->off = 0;
		r->len = avail;
		size_t want = c->rcap - r->len;
		if (want > r->end - (at + r->len))
			want = r->end - (at + r->len);
		if (want == 0)
			return -1;
		ssize_t n = pread(r->fd, c->rbuf + r->len, want, (off_t)(at + r->len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		r->len += (size_t)n;
		*r->bytes_read += n;
		throttle(c, (size_t)n);
	}
}

/* --- which part is dirty --------------------------------------------------------------------- */

/* The segment holding offset: the last with base <= offset (0 when below all). */
static size_t segment_holding(const struct log *l, int64_t offset)
{
	size_t i = 0;
	while (i + 1 < l->nsegs && l->segs[i + 1]->base_offset <= offset)
		i++;
	return i;
}

static int64_t upper_of(const struct log *l, size_t i)
{
	return i + 1 < l->nsegs ? l->segs[i + 1]->base_offset : l->log_end_offset;
}

/* [LogCleanerManager.cleanableOffsets, maxCompactionDelay and LogToClean] (l->lock held). */
static bool cleanable_locked(struct log *l, int64_t now_ms, struct log_cleanable *out)
{
	memset(out, 0, sizeof *out);
	if (!l->cfg.cleanup_compact || l->failed || l->nsegs < 2)
		return false;
	int64_t first_dirty = l->cleaner_offset;
	if (first_dirty < l->log_start_offset || first_dirty > l->log_end_offset)
		first_dirty = l->log_start_offset;
	/* Never the active segment; nothing at or past the high watermark (the
	 * last stable offset once transactions exist); nothing younger than
	 * min.compaction.lag.ms.  Whole segments only. */
	int64_t unc = log_active(l)->base_offset;
	size_t h = segment_holding(l, l->high_watermark);
	if (l->segs[h]->base_offset < unc)
		unc = l->segs[h]->base_offset;
	size_t d = segment_holding(l, first_dirty);
	if (l->cfg.min_compaction_lag_ms > 0) {
		for (size_t i = d; i + 1 < l->nsegs; i++)
			if (segment_largest_timestamp(l->segs[i]) > now_ms - l->cfg.min_compaction_lag_ms) {
				if (l->segs[i]->base_offset < unc)
					unc = l->segs[i]->base_offset;
				break;
			}
	}
	if (unc < first_dirty)
		unc = first_dirty;
	for (size_t i = 0; i < l->nsegs; i++) {
		int64_t lo = l->segs[i]->base_offset, hi = upper_of(l, i);
		if (lo < first_dirty && hi > l->log_start_offset)
			out->clean_bytes += l->segs[i]->size;
		if (hi > first_dirty && lo < unc)
			out->dirty_bytes += l->segs[i]->size;
	}
	int64_t total = out->clean_bytes + out->dirty_bytes;
	out->ratio = total > 0 ? (double)out->dirty_bytes / (double)total : 0;
	/* max.compaction.lag.ms: the earliest first-batch timestamp of a dirty, inactive segment. */
	int64_t lag = l->cfg.max_compaction_lag_ms > 0 ? l->cfg.max_compaction_lag_ms : 0;
	if (lag < INT64_MAX && now_ms > INT64_MIN + lag) {
		int64_t earliest = INT64_MAX;
		for (size_t i = d; i + 1 < l->nsegs; i++) {
			int64_t t = segment_first_batch_timestamp(l->segs[i]);
			if (t > 0 && t < earliest)
				earliest = t;
		}
		out->need_now = earliest < now_ms - lag;
	}
	out->first_dirty = first_dirty;
	out->first_uncleanable = unc;
	return first_dirty < unc && out->dirty_bytes > 0;
}

bool log_cleanable_state(struct log *l, int64_t now_ms, struct log_cleanable *out)
{
	pthread_mutex_lock(&l->lock);
	bool r = cleanable_locked(l, now_ms, out);
	pthread_mutex_unlock(&l->lock);
	return r;
}

int64_t log_cleaner_offset(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	int64_t v = l->cleaner_offset;
	pthread_mutex_unlock(&l->lock);
	return v;
}

void log_set_cleaner_offset(struct log *l, int64_t offset)
{
	pthread_mutex_lock(&l->lock);
	l->cleaner_offset = offset;
	pthread_mutex_unlock(&l->lock);
}

/* --- the offset map of the dirty part [Cleaner.buildOffsetMap] -------------------------------- */

/*
 * Map every keyed record from first_dirty on, segment after segment, until
 * the map is full or first_uncleanable is reached.  *end is the offset up to
 * which the map is complete: the next clean starts there.
 */
static int build_map(struct log_cleaner *c, struct segment **segs, const uint32_t *sizes, size_t n,
    int64_t first_dirty, int64_t first_uncleanable, int64_t *end, struct log_clean_stats *st)
{
	struct offset_map *m = &c->map;
	map_clear(m);
	*end = first_dirty;
	for (size_t i = 0; i < n; i++) {
		int64_t upper = i + 1 < n ? segs[i + 1]->base_offset : first_uncleanable;
		if (upper <= first_dirty)
			continue;
		struct reader r;
		reader_init(&r, c, segs[i], sizes[i], &st->bytes_read);
		const uint8_t *p;
		uint32_t size;
		int got;
		while ((got = reader_next(&r, &p, &size)) == 1) {
			struct record_batch b;
			if (stopped(c))
				return KERR_UNKNOWN_SERVER_ERROR;
			int err = record_batch_parse(p, size, &b);
			if (err == KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT)
				continue; /* legacy entries are copied, never mapped */
			if (err != KERR_NONE)
				return KERR_CORRUPT_MESSAGE;
			if (record_batch_last_offset(&b) < first_dirty)
				continue;
			/* Control batches carry no keys of the data [Kafka: skipped]. */
			if (!record_batch_is_control(&b)) {
				const uint8_t *recs = record_batch_records(&b);
				size_t len = record_batch_records_len(&b);
				if (record_batch_codec(&b) != COMPRESSION_NONE) {
					wbuf_reset(&c->plain);
					if (compression_decompress(record_batch_codec(&b), recs, len, &c->plain,
						MAX_PLAIN_BYTES) != KERR_NONE)
						return KERR_CORRUPT_MESSAGE;
					recs = c->plain.data;
					len = c->plain.len;
				}
				struct record_iter it;
				struct record rec;
				record_iter_init(&it, recs, len, b.record_count);
				while (record_iter_next(&it, &rec)) {
					int64_t off = b.base_offset + rec.offset_delta;
					st->records_read++;
					if (off < first_dirty || !rec.key.ptr)
						continue;
					if (!map_put(m, rec.key, off)) {
						/* Full: the map is complete up to here. */
						return KERR_NONE;
					}
					*end = off + 1;
				}
				if (it.err)
					return KERR_CORRUPT_MESSAGE;
			}
			*end = record_batch_next_offset(&b);
		}
		if (got < 0)
			return KERR_CORRUPT_MESSAGE;
		*end = upper;
		if (upper >= first_uncleanable)
			break;
	}
	if (*end > first_uncleanable)
		*end = first_uncleanable;
	return KERR_NONE;
}

/* --- filtering one batch [MemoryRecords.filterTo with Cleaner's RecordFilter] ---------------- */

static size_t zz32_size(int32_t v)
{
	return uvarint_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

static size_t zz64_size(int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 1;
	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

static size_t blob_size(struct kbytes v)
{
	return v.ptr ? zz32_size(v.len) + (size_t)v.len : zz32_size(-1);
}

static void put_blob(struct wbuf *w, struct kbytes v)
{
	wbuf_varint(w, v.ptr ? v.len : -1);
	if (v.ptr)
		wbuf_put(w, v.ptr, (size_t)v.len);
}

static void put_record(struct wbuf *w, const struct record *rec, int64_t ts_delta)
{
	size_t body = 1 + zz64_size(ts_delta) + zz32_size(rec->offset_delta) + blob_size(rec->key) +
	    blob_size(rec->value) + zz32_size(rec->header_count) + rec->headers_len;
	wbuf_reserve(w, body + 5);
	wbuf_varint(w, (int32_t)body);
	wbuf_i8(w, rec->attributes);
	wbuf_varlong(w, ts_delta);
	wbuf_varint(w, rec->offset_delta);
	put_blob(w, rec->key);
	put_blob(w, rec->value);
	wbuf_varint(w, rec->header_count);
	wbuf_put(w, rec->headers, rec->headers_len);
}

static void put_header(uint8_t *p, size_t size, const struct record_batch *b, int16_t attrs,
    int64_t base_ts, int64_t max_ts, int32_t count)
{
	be64_store(p + RB_OFF_BASE_OFFSET, (uint64_t)b->base_offset);
	be32_store(p + RB_OFF_LENGTH, (uint32_t)(size - RB_LOG_OVERHEAD));
	be32_store(p + RB_OFF_LEADER_EPOCH, (uint32_t)b->partition_leader_epoch);
	p[RB_MAGIC_OFFSET] = RB_MAGIC_V2;
	be16_store(p + RB_OFF_ATTRIBUTES, (uint16_t)attrs);
	/* The last offset stays, so the producer's last sequence does too [overrideLastOffset]. */
	be32_store(p + RB_OFF_LAST_OFFSET_DELTA, (uint32_t)b->last_offset_delta);
	be64_store(p + RB_OFF_BASE_TIMESTAMP, (uint64_t)base_ts);
	be64_store(p + RB_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
	be64_store(p + RB_OFF_PRODUCER_ID, (uint64_t)b->producer_id);
	be16_store(p + RB_OFF_PRODUCER_EPOCH, (uint16_t)b->producer_epoch);
	be32_store(p + RB_OFF_BASE_SEQUENCE, (uint32_t)b->base_sequence);
	be32_store(p + RB_OFF_RECORD_COUNT, (uint32_t)count);
	record_batch_update_crc(p, size);
}

struct filter_ctx {
	int64_t now_ms;
	int64_t delete_retention_ms;
};

/* Whether rec of b stays [Cleaner.shouldRetainRecord]. */
static bool retain(struct log_cleaner *c, const struct filter_ctx *f, const struct record_batch *b,
    const struct record *rec)
{
	if (!rec->key.ptr)
		return false; /* Kafka drops keyless records from a compacted log */
	int64_t off = b->base_offset + rec->offset_delta;
	if (off < map_get(&c->map, rec->key))
		return false;
	if (rec->value.ptr)
		return true;
	/* A tombstone stays until its batch's delete horizon has passed. */
	bool has_horizon = (b->attributes & RB_ATTR_DELETE_HORIZON) != 0;
	return !has_horizon || f->now_ms < b->base_timestamp;
}

/*
 * Append to c->out what is left of the batch at p: the batch itself when
 * everything stays, a rewrite with the kept records, an empty batch that
 * keeps the producer's offsets, or nothing.  *wrote says how many bytes.
 */
static int filter_batch(struct log_cleaner *c, const struct filter_ctx *f, const uint8_t *p, uint32_t size,
    struct log_clean_stats *st)
{
	struct record_batch b;
	int err = record_batch_parse(p, size, &b);
	if (err == KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT || (err == KERR_NONE && record_batch_is_control(&b))) {
		/* Legacy entries and transaction markers are kept as they are. */
		wbuf_put(&c->out, p, size);
		return KERR_NONE;
	}
	if (err != KERR_NONE || !record_batch_crc_ok(&b))
		return KERR_CORRUPT_MESSAGE;
	const uint8_t *recs = record_batch_records(&b);
	size_t len = record_batch_records_len(&b);
	int codec = record_batch_codec(&b);
	if (codec != COMPRESSION_NONE) {
		wbuf_reset(&c->plain);
		if (compression_decompress(codec, recs, len, &c->plain, MAX_PLAIN_BYTES) != KERR_NONE)
			return KERR_CORRUPT_MESSAGE;
		recs = c->plain.data;
		len = c->plain.len;
	}
	struct record_iter it;
	struct record rec;
	int32_t kept = 0, all = 0;
	bool tombstones = false;
	record_iter_init(&it, recs, len, b.record_count);
	while (record_iter_next(&it, &rec)) {
		all++;
		if (retain(c, f, &b, &rec)) {
			kept++;
			tombstones = tombstones || !rec.value.ptr;
		}
	}
	if (it.err)
		return KERR_CORRUPT_MESSAGE;
	st->records_kept += kept;
	bool has_horizon = (b.attributes & RB_ATTR_DELETE_HORIZON) != 0;
	bool set_horizon = tombstones && !has_horizon;
	if (kept == all && !set_horizon) {
		wbuf_put(&c->out, p, size);
		return KERR_NONE;
	}
	int16_t attrs = (int16_t)(b.attributes & ~(RB_ATTR_DELETE_HORIZON | RB_ATTR_CODEC_MASK));
	if (kept == 0) {
		/*
		 * Kafka keeps an empty batch only for the last batch of a producer
		 * still active, so its last sequence survives.  Without producer
		 * state here every emptied batch with a producer id is kept so.
		 */
		if (b.producer_id < 0)
			return KERR_NONE;
		uint8_t *h = wbuf_extend(&c->out, RB_HEADER_SIZE);
		put_header(h, RB_HEADER_SIZE, &b, attrs, b.max_timestamp, b.max_timestamp, 0);
		return KERR_NONE;
	}
	/* A first tombstone kept sets the horizon: tombstones go once it has passed [KIP-534]. */
	int64_t horizon = set_horizon ? f->now_ms + f->delete_retention_ms : has_horizon ? b.base_timestamp : -1;
	int64_t base_ts = horizon, max_ts = -1;
	struct wbuf *w = codec != COMPRESSION_NONE ? &c->records : &c->out;
	if (codec != COMPRESSION_NONE)
		wbuf_reset(&c->records);
	size_t start = c->out.len;
	memset(wbuf_extend(&c->out, RB_HEADER_SIZE), 0, RB_HEADER_SIZE);
	record_iter_init(&it, recs, len, b.record_count);
	bool first = true;
	while (record_iter_next(&it, &rec)) {
		if (!retain(c, f, &b, &rec))
			continue;
		int64_t ts = b.base_timestamp + rec.timestamp_delta;
		if (first && horizon < 0)
			base_ts = ts;
		first = false;
		if (ts > max_ts)
			max_ts = ts;
		put_record(w, &rec, ts - base_ts);
	}
	if (codec != COMPRESSION_NONE &&
	    compression_compress(codec, compression_level_default(codec), c->records.data, c->records.len,
		&c->out) != KERR_NONE) {
		c->out.len = start;
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	if (record_batch_is_log_append_time(&b))
		max_ts = b.max_timestamp;
	attrs = (int16_t)(attrs | codec | (horizon >= 0 ? RB_ATTR_DELETE_HORIZON : 0));
	put_header(c->out.data + start, c->out.len - start, &b, attrs, base_ts, max_ts, kept);
	return KERR_NONE;
}

/* --- cleaning a group of segments [Cleaner.cleanSegments, LocalLog.replaceSegments] ---------- */

/* Write c->out into dst and account for each batch in it (for the indexes). */
static int flush_out(struct log_cleaner *c, struct segment *dst, struct log_clean_stats *st)
{
	if (c->out.len == 0)
		return KERR_NONE;
	int64_t last = -1;
	for (size_t pos = 0; pos < c->out.len;) {
		int64_t base;
		uint32_t size;
		int8_t magic;
		record_batch_peek(c->out.data + pos, c->out.len - pos, &base, &size, &magic);
		last = magic == RB_MAGIC_V2 ? base + (int32_t)be32_load(c->out.data + pos + RB_OFF_LAST_OFFSET_DELTA) : base;
		pos += size;
	}
	int err = segment_check_append(dst, c->out.len, last);
	uint32_t position = dst->size;
	if (err == KERR_NONE)
		err = segment_write_at(dst, c->out.data, c->out.len, position);
	if (err != KERR_NONE)
		return err;
	st->bytes_written += (int64_t)c->out.len;
	throttle(c, c->out.len);
	for (size_t pos = 0; pos < c->out.len;) {
		struct segment_batch sb;
		int64_t base;
		uint32_t size;
		int8_t magic;
		record_batch_peek(c->out.data + pos, c->out.len - pos, &base, &size, &magic);
		sb.last_offset = base;
		sb.max_timestamp = -1;
		if (magic == RB_MAGIC_V2) {
			sb.last_offset = base + (int32_t)be32_load(c->out.data + pos + RB_OFF_LAST_OFFSET_DELTA);
			sb.max_timestamp = (int64_t)be64_load(c->out.data + pos + RB_OFF_MAX_TIMESTAMP);
		}
		segment_commit_append(dst, size, position + (uint32_t)pos, sb.last_offset, sb.max_timestamp,
		    sb.last_offset);
		pos += size;
	}
	wbuf_reset(&c->out);
	return KERR_NONE;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* A write that failed is the disk's failure, as for an append: the log (and so its dir) goes offline
 * [Kafka: the cleaner's IOException goes to the LogDirFailureChannel]. */
static void mark_failed_on_io(struct log *l, int err)
{
	if (err != KERR_KAFKA_STORAGE_ERROR)
		return;
	pthread_mutex_lock(&l->lock);
	l->failed = true;
	pthread_mutex_unlock(&l->lock);
}

static void discard(struct segment *dst)
{
	segment_remove_files(dst);
	segment_unref(dst);
}

static int clean_group(struct log_cleaner *c, struct log *l, struct segment **group, const uint32_t *sizes,
    size_t n, uint64_t truncations, const struct filter_ctx *f, const struct log_config *cfg,
    struct log_clean_stats *st)
{
	struct segment_config sc = {
		.index_interval_bytes = cfg->index_interval_bytes,
		.index_max_bytes = cfg->index_max_bytes,
		.segment_bytes = cfg->segment_bytes,
		.preallocate = false,
	};
	struct segment *dst;
	int err = segment_create_suffixed(l->dir, group[0]->base_offset, SEGMENT_CLEANED_SUFFIX, &sc, f->now_ms,
	    &dst);
	if (err != KERR_NONE)
		return err;
	wbuf_reset(&c->out);
	for (size_t i = 0; i < n && err == KERR_NONE; i++) {
		struct reader r;
		reader_init(&r, c, group[i], sizes[i], &st->bytes_read);
		const uint8_t *p;
		uint32_t size;
		int got;
		while (err == KERR_NONE && (got = reader_next(&r, &p, &size)) == 1) {
			err = filter_batch(c, f, p, size, st);
			if (err == KERR_NONE && c->out.len >= WRITE_CHUNK)
				err = flush_out(c, dst, st);
			if (stopped(c))
				err = KERR_UNKNOWN_SERVER_ERROR;
		}
		if (err == KERR_NONE && got < 0)
			err = KERR_CORRUPT_MESSAGE;
	}
	if (err == KERR_NONE)
		err = flush_out(c, dst, st);
	if (err == KERR_NONE)
		err = segment_on_become_inactive(dst);
	if (err == KERR_NONE)
		err = segment_flush(dst);
	if (err != KERR_NONE) {
		discard(dst);
		mark_failed_on_io(l, err);
		return err;
	}
	fault_crash_point("cleaner-cleaned");
	err = segment_set_suffix(dst, SEGMENT_SWAP_SUFFIX);
	if (err != KERR_NONE) {
		discard(dst);
		mark_failed_on_io(l, err);
		return err;
	}
	fsync_dir(l->dir);
	fault_crash_point("cleaner-swap");

	/*
	 * The swap.  Both locks keep appends, truncation, retention and reads
	 * out for a few renames; the old segments stay open for reads already
	 * under way (their files go after file.delete.delay.ms).
	 */
	pthread_mutex_lock(&l->append_lock);
	pthread_mutex_lock(&l->lock);
	size_t at = l->nsegs;
	for (size_t i = 0; i < l->nsegs; i++)
		if (l->segs[i] == group[0])
			at = i;
	bool same = !l->failed && l->truncations == truncations && at + n < l->nsegs;
	for (size_t k = 0; same && k < n; k++)
		same = l->segs[at + k] == group[k] && l->segs[at + k]->size == sizes[k];
	if (!same) {
		pthread_mutex_unlock(&l->lock);
		pthread_mutex_unlock(&l->append_lock);
		log_info("log %s: the log changed while it was cleaned; the cleaned copy is dropped", l->dir);
		discard(dst);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	for (size_t k = 0; k < n; k++)
		log_remove_segment_at(l, at, f->now_ms);
	fault_crash_point("cleaner-deleted");
	err = segment_set_suffix(dst, "");
	if (err != KERR_NONE) {
		/* The old segments are gone from the list: recovery completes the swap. */
		l->failed = true;
		pthread_mutex_unlock(&l->lock);
		pthread_mutex_unlock(&l->append_lock);
		segment_unref(dst);
		return err;
	}
	if (l->nsegs == l->cap) {
		l->cap *= 2;
		l->segs = xrealloc(l->segs, l->cap * sizeof *l->segs);
	}
	memmove(l->segs + at + 1, l->segs + at, (l->nsegs - at) * sizeof *l->segs);
	l->segs[at] = dst;
	l->nsegs++;
	l->dir_dirty = true;
	l->hw_pos_valid = false;
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->append_lock);
	fsync_dir(l->dir);
	st->segments_cleaned += (int32_t)n;
	fault_crash_point("cleaner-swapped");
	return KERR_NONE;
}

/* Index bytes a segment uses (its entries, as the trimmed files hold them). */
static int64_t index_bytes(const struct segment *s)
{
	return (int64_t)s->oidx.f.entries * OFFSET_INDEX_ENTRY_SIZE;
}

int log_clean(struct log_cleaner *c, struct log *l, int64_t now_ms, struct log_clean_stats *st)
{
	struct log_cleanable cs;
	struct log_config cfg;
	memset(st, 0, sizeof *st);

	pthread_mutex_lock(&l->lock);
	if (!cleanable_locked(l, now_ms, &cs)) {
		pthread_mutex_unlock(&l->lock);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	cfg = l->cfg;
	uint64_t truncations = l->truncations;
	size_t n = 0;
	while (n < l->nsegs - 1 && l->segs[n]->base_offset < cs.first_uncleanable)
		n++;
	struct segment **segs = xmalloc(sizeof *segs * (n ? n : 1));
	uint32_t *sizes = xmalloc(sizeof *sizes * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		segs[i] = l->segs[i];
		sizes[i] = l->segs[i]->size;
		segment_ref(segs[i]);
	}
	pthread_mutex_unlock(&l->lock);

	int64_t end;
	int err = build_map(c, segs, sizes, n, cs.first_dirty, cs.first_uncleanable, &end, st);
	if (err == KERR_NONE && end <= cs.first_dirty)
		err = KERR_UNKNOWN_SERVER_ERROR; /* not even one key fits */
	struct filter_ctx f = { .now_ms = now_ms, .delete_retention_ms = cfg.delete_retention_ms };
	/* Every segment below the map's end, in groups that fit one segment [groupSegmentsBySize]. */
	size_t upto = 0;
	while (upto < n && segs[upto]->base_offset < end)
		upto++;
	for (size_t g = 0; err == KERR_NONE && g < upto;) {
		int64_t bytes = sizes[g], idx = index_bytes(segs[g]);
		size_t k = g + 1;
		while (k < upto) {
			int64_t last = (k + 1 < n ? segs[k + 1]->base_offset : cs.first_uncleanable) - 1;
			if (bytes + sizes[k] > cfg.segment_bytes || idx + index_bytes(segs[k]) > cfg.index_max_bytes ||
			    last - segs[g]->base_offset > INT32_MAX)
				break;
			bytes += sizes[k];
			idx += index_bytes(segs[k]);
			k++;
		}
		err = clean_group(c, l, segs + g, sizes + g, k - g, truncations, &f, &cfg, st);
		g = k;
	}
	for (size_t i = 0; i < n; i++)
		segment_unref(segs[i]);
	free(segs);
	free(sizes);
	if (err != KERR_NONE)
		return err;
	st->map_end = end;
	pthread_mutex_lock(&l->lock);
	l->cleaner_offset = end;
	pthread_mutex_unlock(&l->lock);
	return KERR_NONE;
}
