/*
 * A partition's log (log.h): segment list, offsets, append, read, offsets
 * by timestamp, truncation, retention, rolling and flushing.
 */
#include "log/log_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/recovery.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/endian.h"
#include "samsa/util/fault.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

void log_config_init(struct log_config *c)
{
	memset(c, 0, sizeof *c);
	c->segment_bytes = 1073741824;
	c->index_interval_bytes = 4096;
	c->index_max_bytes = 10485760;
	c->roll_ms = 7LL * 24 * 3600 * 1000;
	c->roll_jitter_ms = 0;
	c->retention_ms = 7LL * 24 * 3600 * 1000;
	c->retention_bytes = -1;
	c->flush_interval_messages = INT64_MAX;
	c->flush_interval_ms = INT64_MAX;
	c->message_timestamp_type = LOG_TIMESTAMP_CREATE_TIME;
	c->file_delete_delay_ms = 60000;
	c->preallocate = false;
	c->cleanup_delete = true;
	c->cleanup_compact = false;
	c->max_message_bytes = 1048588;
	c->compression_type = -1;
	c->compression_level = 0;
	c->timestamp_before_max_ms = INT64_MAX;
	c->timestamp_after_max_ms = INT64_MAX;
	c->min_insync_replicas = 1;
	c->unclean_leader_election = false;
	c->message_downconversion = true;
	c->delete_retention_ms = 86400000;
	c->min_compaction_lag_ms = 0;
	c->max_compaction_lag_ms = INT64_MAX;
	c->min_cleanable_ratio = 0.5;
}

bool log_parse_dir_name(const char *name, char *topic, size_t cap, int32_t *partition)
{
	const char *dash = strrchr(name, '-');
	if (!dash || dash == name || dash[1] == 0)
		return false;
	int64_t p = 0;
	for (const char *q = dash + 1; *q; q++) {
		if (*q < '0' || *q > '9' || p > INT32_MAX / 10)
			return false;
		p = p * 10 + (*q - '0');
	}
	if (p > INT32_MAX || (size_t)(dash - name) >= cap)
		return false;
	memcpy(topic, name, (size_t)(dash - name));
	topic[dash - name] = 0;
	*partition = (int32_t)p;
	return true;
}

/* --- internals shared with recovery.c -------------------------------------------- */

void log_segment_config(const struct log *l, struct segment_config *sc)
{
	sc->index_interval_bytes = l->cfg.index_interval_bytes;
	sc->index_max_bytes = l->cfg.index_max_bytes;
	sc->segment_bytes = l->cfg.segment_bytes;
	sc->preallocate = l->cfg.preallocate;
}

int64_t log_roll_jitter(const struct log *l)
{
	if (l->cfg.roll_jitter_ms <= 0)
		return 0;
	int64_t bound = l->cfg.roll_jitter_ms < l->cfg.roll_ms ? l->cfg.roll_jitter_ms : l->cfg.roll_ms;
	if (bound <= 0)
		return 0;
	return (int64_t)((uint64_t)random() % (uint64_t)bound);
}

void log_add_segment(struct log *l, struct segment *s)
{
	if (l->nsegs == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->segs = xrealloc(l->segs, l->cap * sizeof *l->segs);
	}
	l->segs[l->nsegs++] = s;
	l->dir_dirty = true;
}

static void delete_pending_now(struct log *l, size_t i)
{
	struct segment *s = l->pending[i].seg;
	segment_remove_files(s);
	segment_unref(s);
	l->pending[i] = l->pending[--l->npending];
}

void log_remove_segment_at(struct log *l, size_t i, int64_t now_ms)
{
	struct segment *s = l->segs[i];
	memmove(l->segs + i, l->segs + i + 1, (l->nsegs - i - 1) * sizeof *l->segs);
	l->nsegs--;
	l->dir_dirty = true;
	l->hw_pos_valid = false;
	segment_mark_deleted(s);
	if (l->npending == l->pending_cap) {
		l->pending_cap = l->pending_cap ? l->pending_cap * 2 : 8;
		l->pending = xrealloc(l->pending, l->pending_cap * sizeof *l->pending);
	}
	l->pending[l->npending].seg = s;
	l->pending[l->npending].due_ms = now_ms + l->cfg.file_delete_delay_ms;
	l->npending++;
	if (l->cfg.file_delete_delay_ms <= 0)
		delete_pending_now(l, l->npending - 1);
}

/* Index of the segment holding offset: the last one with base <= offset
 * (0 when offset is below every base). */
static size_t floor_segment(const struct log *l, int64_t offset)
{
	size_t lo = 0, hi = l->nsegs - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (l->segs[mid]->base_offset <= offset)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* --- open / close ------------------------------------------------------------------- */

static int mkdir_p(const char *dir)
{
	char *copy = xstrdup(dir);
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
			free(copy);
			return -1;
		}
		*p = '/';
	}
	int r = mkdir(copy, 0755) < 0 && errno != EEXIST ? -1 : 0;
	free(copy);
	return r;
}

int log_open(const struct log_open_args *a, struct log **out)
{
	char topic[256];
	int32_t partition;
	char *copy = xstrdup(a->dir);
	bool named = log_parse_dir_name(basename(copy), topic, sizeof topic, &partition);
	free(copy);

	*out = NULL;
	if (!named) {
		log_error("%s is not a <topic>-<partition> directory", a->dir);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	if (mkdir_p(a->dir) < 0) {
		log_error("cannot create %s: %s", a->dir, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	struct log *l = xcalloc(1, sizeof *l);
	pthread_mutex_init(&l->append_lock, NULL);
	pthread_mutex_init(&l->lock, NULL);
	l->dir = xstrdup(a->dir);
	l->topic = xstrdup(topic);
	l->partition = partition;
	l->cfg = *a->config;
	l->cleaner_offset = -1;
	l->last_flush_ms = a->now_ms;
	ps_init(&l->ps);
	int err = leader_epoch_open(&l->epochs, l->dir);
	if (err == KERR_NONE)
		err = recovery_load(l, a->clean_shutdown, a->recovery_point, a->log_start_offset,
		    a->now_ms);
	if (err == KERR_NONE) {
		pthread_mutex_lock(&l->lock);
		err = log_rebuild_producer_state(l);
		pthread_mutex_unlock(&l->lock);
	}
	if (err != KERR_NONE) {
		log_close(l);
		return err;
	}
	*out = l;
	return KERR_NONE;
}

void log_close(struct log *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->nsegs; i++)
		segment_unref(l->segs[i]);
	l->nsegs = 0;
	/* Nobody reads this log any more: deletions need not wait. */
	while (l->npending > 0)
		delete_pending_now(l, l->npending - 1);
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->append_lock);
	leader_epoch_close(&l->epochs);
	ps_free(&l->ps);
	free(l->segs);
	free(l->pending);
	free(l->dir);
	free(l->topic);
	free(l);
}

int log_close_and_delete(struct log *l)
{
	char *dir = xstrdup(l->dir);
	int err = KERR_NONE;
	log_close(l);
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char *p = xasprintf("%s/%s", dir, de->d_name);
			if (unlink(p) < 0 && errno != ENOENT) {
				log_error("cannot delete %s: %s", p, strerror(errno));
				err = KERR_KAFKA_STORAGE_ERROR;
			}
			free(p);
		}
		closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT) {
		log_error("cannot delete %s: %s", dir, strerror(errno));
		err = KERR_KAFKA_STORAGE_ERROR;
	}
	free(dir);
	return err;
}

/* --- roll ---------------------------------------------------------------------------- */

static int roll_locked(struct log *l, int64_t base, int64_t now_ms)
{
	struct segment *active = log_active(l);
	struct segment_config sc;
	struct segment *s;

	if (active->base_offset == base && active->size == 0)
		return KERR_NONE; /* already a fresh segment there */
	if (base < active->base_offset) {
		log_error("log %s: cannot roll to %" PRId64 " below the active segment %" PRId64,
		    l->dir, base, active->base_offset);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	log_segment_config(l, &sc);
	int err = segment_open(l->dir, base, &sc, true, now_ms, log_roll_jitter(l), &s, NULL);
	if (err != KERR_NONE) {
		l->failed = true;
		return err;
	}
	segment_on_become_inactive(active);
	log_add_segment(l, s);
	/* [UnifiedLog.roll]: the producer state up to the new segment's base, so a restart replays little. */
	if (l->ps_ready && base == l->log_end_offset)
		ps_write_snapshot(&l->ps, l->dir, base);
	log_debug("log %s: rolled new segment at offset %" PRId64, l->dir, base);
	return KERR_NONE;
}

int log_roll(struct log *l, int64_t now_ms)
{
	pthread_mutex_lock(&l->append_lock);
	pthread_mutex_lock(&l->lock);
	int err = roll_locked(l, l->log_end_offset, now_ms);
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->append_lock);
	return err;
}

/* --- append --------------------------------------------------------------------------- */

/* A duplicate's answer: the original batch's offsets [UnifiedLog.append]. */
static void answer_duplicate(struct log *l, const struct ps_batch *d, struct log_append_info *info)
{
	info->duplicate = true;
	info->first_offset = d->first_offset;
	info->last_offset = d->last_offset;
	info->log_append_time = d->timestamp;
	info->max_timestamp = d->timestamp;
	info->offset_of_max_timestamp = d->last_offset;
	log_debug("log %s: duplicate batch at offsets %" PRId64 "-%" PRId64 " answered, not written", l->dir,
	    d->first_offset, d->last_offset);
}

/* The written batches change the producer state; an ABORT goes into the aborted list and .txnindex. */
static void apply_producer_state(struct log *l, const uint8_t *records, size_t len)
{
	for (size_t pos = 0; pos < len;) {
		struct record_batch b;
		if (record_batch_parse(records + pos, len - pos, &b) != KERR_NONE)
			break;
		pos += b.size;
		struct ps_completed done;
		if (b.producer_id < 0 || !ps_apply_batch(&l->ps, &b, &done) || !done.aborted)
			continue;
		struct log_aborted_txn t = { done.pid, done.first_offset, done.last_offset, done.lso };
		ps_add_aborted(&l->ps, &t);
		/* Aborts are rare: one small append to the marker's segment's .txnindex. */
		if (txn_index_append(l->dir, log_active(l)->base_offset, &t) != KERR_NONE)
			l->failed = true;
	}
}

static int append_locked(struct log *l, uint8_t *records, size_t len, bool assign,
    int32_t leader_epoch, enum log_append_origin origin, int64_t now_ms, struct log_append_info *info)
{
	struct record_batch prev;
	bool have_prev = false;
	bool log_append_time = assign && l->cfg.message_timestamp_type == LOG_TIMESTAMP_LOG_APPEND_TIME;
	int64_t next = l->log_end_offset;
	int64_t first = -1, last = -1;
	int64_t max_ts = -1, max_ts_offset = -1;
	size_t pos = 0;
	int err;

	if (l->failed)
		return KERR_KAFKA_STORAGE_ERROR;
	if (len == 0)
		return KERR_NONE;
	if (len > (size_t)l->cfg.segment_bytes)
		return KERR_RECORD_LIST_TOO_LARGE;

	while (pos < len) {
		struct record_batch b;
		uint8_t *p = records + pos;
		if (record_batch_parse(p, len - pos, &b) != KERR_NONE)
			return KERR_CORRUPT_MESSAGE;
		if (assign && b.producer_id >= 0) {
			const struct ps_batch *dup;
			int perr = ps_check_batch(&l->ps, &b, have_prev ? &prev : NULL,
			    origin == LOG_APPEND_CLIENT ? PS_ORIGIN_CLIENT : PS_ORIGIN_COORDINATOR, &dup);
			if (perr != KERR_NONE)
				return perr;
			if (dup) {
				answer_duplicate(l, dup, info);
				return KERR_NONE;
			}
			prev = b;
			have_prev = true;
		}
		int64_t base;
		if (assign) {
			base = next;
			record_batch_set_base_offset(p, base);
			if (leader_epoch >= 0)
				record_batch_set_partition_leader_epoch(p, leader_epoch);
			if (log_append_time)
				record_batch_set_log_append_time(p, b.size, now_ms);
		} else {
			base = b.base_offset;
			if (b.last_offset_delta < 0 || (last >= 0 && base <= last))
				return KERR_CORRUPT_MESSAGE;
			if (first < 0 && base < l->log_end_offset)
				return KERR_OFFSET_OUT_OF_RANGE;
		}
		int64_t batch_last = base + b.last_offset_delta;
		int64_t batch_ts = log_append_time ? now_ms : b.max_timestamp;
		if (first < 0)
			first = base;
		last = batch_last;
		next = batch_last + 1;
		if (batch_ts > max_ts) {
			max_ts = batch_ts;
			max_ts_offset = batch_last;
		}
		info->record_count += b.record_count;
		info->batch_count++;
		pos += b.size;
	}

	struct segment_roll_params rp = {
		.max_segment_bytes = l->cfg.segment_bytes,
		/* A compacted log rolls by max.compaction.lag.ms too, so the cleaner gets to it [LogConfig.maxSegmentMs]. */
		.max_segment_ms = l->cfg.cleanup_compact && l->cfg.max_compaction_lag_ms > 0 &&
			l->cfg.max_compaction_lag_ms < l->cfg.roll_ms ? l->cfg.max_compaction_lag_ms : l->cfg.roll_ms,
		.messages_size = (int64_t)len,
		.max_timestamp_in_messages = max_ts,
		.max_offset_in_messages = last,
		.now_ms = now_ms,
	};
	if (segment_should_roll(log_active(l), &rp)) {
		err = roll_locked(l, first, now_ms);
		if (err != KERR_NONE)
			return err;
		info->rolled = true;
	}
	struct segment *seg = log_active(l);
	err = segment_check_append(seg, len, last);
	if (err != KERR_NONE)
		return err;
	/*
	 * The write runs without the state lock: readers stop at the segment's
	 * size and the LEO, which move only once the bytes are in.  append_lock,
	 * held by our caller, keeps every other writer out meanwhile, and the
	 * segment reference keeps it open should anything close the log.
	 */
	uint32_t position = seg->size;
	segment_ref(seg);
	pthread_mutex_unlock(&l->lock);
	fault_append_stall(l->dir);
	err = segment_write_at(seg, records, len, position);
	pthread_mutex_lock(&l->lock);
	if (err != KERR_NONE) {
		segment_unref(seg);
		if (err == KERR_KAFKA_STORAGE_ERROR)
			l->failed = true;
		return err;
	}
	segment_commit_append(seg, len, position, last, max_ts, max_ts_offset);
	segment_unref(seg);
	l->log_end_offset = last + 1;

	apply_producer_state(l, records, len);
	/* Epoch start offsets, as Kafka records them batch by batch. */
	if (assign) {
		if (leader_epoch >= 0)
			leader_epoch_assign(&l->epochs, leader_epoch, first);
	} else {
		for (pos = 0; pos < len;) {
			struct record_batch b;
			record_batch_parse(records + pos, len - pos, &b);
			if (b.partition_leader_epoch >= 0)
				leader_epoch_assign(&l->epochs, b.partition_leader_epoch, b.base_offset);
			pos += b.size;
		}
	}

	info->first_offset = first;
	info->last_offset = last;
	info->log_append_time = log_append_time ? now_ms : -1;
	info->max_timestamp = max_ts;
	info->offset_of_max_timestamp = max_ts_offset;
	info->bytes = len;
	return KERR_NONE;
}

static int append(struct log *l, uint8_t *records, size_t len, bool assign, int32_t leader_epoch,
    enum log_append_origin origin, int64_t now_ms, struct log_append_info *info)
{
	memset(info, 0, sizeof *info);
	info->first_offset = -1;
	info->last_offset = -1;
	info->log_append_time = -1;
	info->max_timestamp = -1;
	info->offset_of_max_timestamp = -1;

	pthread_mutex_lock(&l->append_lock);
	pthread_mutex_lock(&l->lock);
	int err = append_locked(l, records, len, assign, leader_epoch, origin, now_ms, info);
	bool flush = err == KERR_NONE &&
	    l->log_end_offset - l->recovery_point >= l->cfg.flush_interval_messages;
	info->log_start_offset = l->log_start_offset;
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->append_lock);
	if (flush)
		log_flush(l, now_ms);
	return err;
}

int log_append_as_leader(struct log *l, uint8_t *records, size_t len, int32_t leader_epoch,
    int64_t now_ms, struct log_append_info *info)
{
	return append(l, records, len, true, leader_epoch, LOG_APPEND_CLIENT, now_ms, info);
}

int log_append_as_leader_from(struct log *l, uint8_t *records, size_t len, int32_t leader_epoch,
    enum log_append_origin origin, int64_t now_ms, struct log_append_info *info)
{
	return append(l, records, len, true, leader_epoch, origin, now_ms, info);
}

int log_append_as_follower(struct log *l, uint8_t *records, size_t len, int64_t now_ms,
    struct log_append_info *info)
{
	return append(l, records, len, false, -1, LOG_APPEND_CLIENT, now_ms, info);
}

/* --- read ----------------------------------------------------------------------------- */

/* Segment index and file position of the batch holding offset (< LEO). */
static int position_of(struct log *l, int64_t offset, size_t *seg, uint32_t *pos)
{
	if (l->hw_pos_valid && l->hw_pos_offset == offset) {
		size_t i = floor_segment(l, l->hw_pos_segment);
		if (l->segs[i]->base_offset == l->hw_pos_segment) {
			*seg = i;
			*pos = l->hw_pos_position;
			return KERR_NONE;
		}
	}
	size_t i = floor_segment(l, offset);
	struct segment_batch b;
	bool found;
	int err = segment_translate_offset(l->segs[i], offset, 0, &b, &found);
	if (err != KERR_NONE)
		return err;
	if (found) {
		*seg = i;
		*pos = b.position;
	} else if (i + 1 < l->nsegs) {
		*seg = i + 1;
		*pos = 0;
	} else {
		*seg = i;
		*pos = l->segs[i]->size;
	}
	l->hw_pos_valid = true;
	l->hw_pos_offset = offset;
	l->hw_pos_segment = l->segs[*seg]->base_offset;
	l->hw_pos_position = *pos;
	return KERR_NONE;
}

static int64_t lso_locked(const struct log *l)
{
	int64_t u = ps_first_unstable_offset(&l->ps);
	return u >= 0 && u < l->high_watermark ? u : l->high_watermark;
}

int log_read(struct log *l, int64_t offset, size_t max_bytes, int64_t max_offset, bool min_one,
    struct log_read_result *out)
{
	int err = KERR_NONE;

	memset(out, 0, sizeof *out);
	out->fd = -1;
	out->first_batch_offset = -1;
	pthread_mutex_lock(&l->lock);
	out->high_watermark = l->high_watermark;
	out->log_start_offset = l->log_start_offset;
	out->log_end_offset = l->log_end_offset;
	out->last_stable_offset = lso_locked(l);
	if (offset < l->log_start_offset || offset > l->log_end_offset) {
		err = KERR_OFFSET_OUT_OF_RANGE;
		goto out;
	}
	if (max_offset == LOG_READ_MAX_HW)
		max_offset = l->high_watermark;
	else if (max_offset == LOG_READ_MAX_LSO)
		max_offset = lso_locked(l);
	if (max_offset < 0 || max_offset > l->log_end_offset)
		max_offset = l->log_end_offset;
	if (offset >= max_offset)
		goto out;

	size_t cap_seg = l->nsegs - 1;
	uint32_t cap_pos = log_active(l)->size;
	if (max_offset < l->log_end_offset) {
		err = position_of(l, max_offset, &cap_seg, &cap_pos);
		if (err != KERR_NONE)
			goto out;
	}
	uint32_t max = max_bytes > INT32_MAX ? INT32_MAX : (uint32_t)max_bytes;
	for (size_t i = floor_segment(l, offset); i < l->nsegs && i <= cap_seg; i++) {
		struct segment *s = l->segs[i];
		struct segment_read_info ri;
		bool found;
		uint32_t max_pos = i == cap_seg ? cap_pos : s->size;
		err = segment_read(s, offset, max, max_pos, min_one, &ri, &found);
		if (err != KERR_NONE)
			goto out;
		if (!found)
			continue;
		if (ri.length > 0) {
			segment_ref(s);
			out->segment = s;
			out->fd = s->fd;
			out->position = ri.position;
			out->length = ri.length;
			out->first_batch_offset = ri.first_batch_offset;
		}
		out->first_entry_incomplete = ri.first_entry_incomplete;
		break;
	}
out:
	pthread_mutex_unlock(&l->lock);
	return err;
}

void log_read_release(struct log_read_result *r)
{
	if (r->segment)
		segment_unref(r->segment);
	r->segment = NULL;
	r->fd = -1;
}

/* --- offsets by timestamp and epoch ---------------------------------------------------- */

int log_offset_for_timestamp(struct log *l, int64_t ts, struct log_timestamp_offset *out)
{
	int err = KERR_NONE;

	out->timestamp = -1;
	out->offset = -1;
	out->leader_epoch = -1;
	pthread_mutex_lock(&l->lock);
	if (ts == LOG_TIMESTAMP_EARLIEST || ts == LOG_TIMESTAMP_EARLIEST_LOCAL) {
		out->offset = l->log_start_offset;
		out->leader_epoch = leader_epoch_for_offset(&l->epochs, l->log_start_offset);
	} else if (ts == LOG_TIMESTAMP_LATEST) {
		out->offset = l->log_end_offset;
		out->leader_epoch = leader_epoch_latest(&l->epochs);
	} else if (ts == LOG_TIMESTAMP_MAX) {
		struct segment *best = NULL;
		for (size_t i = 0; i < l->nsegs; i++)
			if (l->segs[i]->max_timestamp >= 0 &&
			    (!best || l->segs[i]->max_timestamp > best->max_timestamp))
				best = l->segs[i];
		if (best) {
			bool found;
			err = segment_find_offset_by_timestamp(best, best->max_timestamp,
			    l->log_start_offset, &out->timestamp, &out->offset, &out->leader_epoch, &found);
		}
	} else if (ts >= 0) {
		for (size_t i = 0; i < l->nsegs; i++) {
			struct segment *s = l->segs[i];
			if (segment_largest_timestamp(s) < ts)
				continue;
			bool found;
			err = segment_find_offset_by_timestamp(s, ts, l->log_start_offset, &out->timestamp,
			    &out->offset, &out->leader_epoch, &found);
			break;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

void log_end_offset_for_epoch(struct log *l, int32_t epoch, int32_t *out_epoch,
    int64_t *end_offset)
{
	pthread_mutex_lock(&l->lock);
	leader_epoch_end_offset_for(&l->epochs, epoch, l->log_end_offset, out_epoch, end_offset);
	pthread_mutex_unlock(&l->lock);
}

int32_t log_latest_epoch(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	int32_t e = leader_epoch_latest(&l->epochs);
	pthread_mutex_unlock(&l->lock);
	return e;
}

int log_assign_epoch_start(struct log *l, int32_t epoch)
{
	pthread_mutex_lock(&l->lock);
	int err = leader_epoch_assign(&l->epochs, epoch, l->log_end_offset);
	pthread_mutex_unlock(&l->lock);
	return err;
}

/* --- truncation and deletion -------------------------------------------------------------- */

static int truncate_fully_locked(struct log *l, int64_t offset, int64_t now_ms)
{
	struct segment_config sc;
	struct segment *s;

	while (l->nsegs > 0)
		log_remove_segment_at(l, l->nsegs - 1, now_ms);
	log_segment_config(l, &sc);
	int err = segment_open(l->dir, offset, &sc, true, now_ms, log_roll_jitter(l), &s, NULL);
	if (err != KERR_NONE) {
		/* Without a segment the log cannot go on. */
		fatal("log %s: cannot create a segment at %" PRId64, l->dir, offset);
	}
	log_add_segment(l, s);
	l->log_end_offset = offset;
	l->log_start_offset = offset;
	l->high_watermark = offset;
	l->recovery_point = offset;
	if (l->cleaner_offset >= 0)
		l->cleaner_offset = offset;
	l->hw_pos_valid = false;
	l->truncations++;
	leader_epoch_clear(&l->epochs);
	ps_clear(&l->ps);
	ps_delete_snapshots_below(l->dir, INT64_MAX);
	return KERR_NONE;
}

int log_truncate_fully_and_start_at(struct log *l, int64_t offset, int64_t now_ms)
{
	if (offset < 0)
		return KERR_INVALID_REQUEST;
	pthread_mutex_lock(&l->append_lock);
	pthread_mutex_lock(&l->lock);
	int err = truncate_fully_locked(l, offset, now_ms);
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->append_lock);
	return err;
}

int log_truncate_to(struct log *l, int64_t target, int64_t now_ms, bool *truncated)
{
	int err = KERR_NONE;

	*truncated = false;
	if (target < 0)
		return KERR_INVALID_REQUEST;
	pthread_mutex_lock(&l->append_lock);
	pthread_mutex_lock(&l->lock);
	if (target >= l->log_end_offset)
		goto out;
	*truncated = true;
	if (target < l->segs[0]->base_offset) {
		err = truncate_fully_locked(l, target, now_ms);
		goto out;
	}
	while (log_active(l)->base_offset > target)
		log_remove_segment_at(l, l->nsegs - 1, now_ms);
	uint32_t bytes;
	err = segment_truncate_to(log_active(l), target, now_ms, &bytes);
	if (err != KERR_NONE) {
		l->failed = true;
		goto out;
	}
	l->log_end_offset = log_active(l)->next_offset;
	if (l->log_start_offset > l->log_end_offset)
		l->log_start_offset = l->log_end_offset;
	if (l->high_watermark > l->log_end_offset)
		l->high_watermark = l->log_end_offset;
	if (l->recovery_point > l->log_end_offset)
		l->recovery_point = l->log_end_offset;
	/* What comes in again past the cut is dirty [LogCleanerManager.maybeTruncateCheckpoint]. */
	if (l->cleaner_offset > l->log_end_offset)
		l->cleaner_offset = l->log_end_offset;
	l->hw_pos_valid = false;
	l->truncations++;
	leader_epoch_truncate_from_end(&l->epochs, l->log_end_offset);
	/* [UnifiedLog.truncateTo -> loadProducerState]: back to a snapshot at or below the new end, then replay. */
	err = log_rebuild_producer_state(l);
	log_info("log %s: truncated to offset %" PRId64 " (%" PRIu32 " bytes of the active segment)",
	    l->dir, l->log_end_offset, bytes);
out:
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->append_lock);
	return err;
}

int log_delete_records(struct log *l, int64_t offset, int64_t *low_watermark)
{
	int err = KERR_NONE;
	pthread_mutex_lock(&l->lock);
	if (offset > l->high_watermark || offset < 0) {
		err = KERR_OFFSET_OUT_OF_RANGE;
	} else if (offset > l->log_start_offset) {
		l->log_start_offset = offset;
		leader_epoch_truncate_from_start(&l->epochs, offset);
		ps_on_log_start(&l->ps, offset);
	}
	*low_watermark = l->log_start_offset;
	pthread_mutex_unlock(&l->lock);
	return err;
}

/* --- retention --------------------------------------------------------------------------------- */

struct retention_ctx {
	int64_t now_ms;
	int64_t size_diff;
};

typedef bool (*retention_pred)(struct log *l, struct segment *s, struct segment *next,
    struct retention_ctx *ctx);

static bool time_breached(struct log *l, struct segment *s, struct segment *next,
    struct retention_ctx *ctx)
{
	(void)next;
	return ctx->now_ms - segment_largest_timestamp(s) > l->cfg.retention_ms;
}

static bool size_breached(struct log *l, struct segment *s, struct segment *next,
    struct retention_ctx *ctx)
{
	(void)l;
	(void)next;
	if (ctx->size_diff - (int64_t)s->size < 0)
		return false;
	ctx->size_diff -= s->size;
	return true;
}

static bool start_offset_breached(struct log *l, struct segment *s, struct segment *next,
    struct retention_ctx *ctx)
{
	(void)s;
	(void)ctx;
	return next && next->base_offset <= l->log_start_offset;
}

static int64_t size_locked(const struct log *l)
{
	int64_t n = 0;
	for (size_t i = 0; i < l->nsegs; i++)
		n += l->segs[i]->size;
	return n;
}

static int delete_old_segments(struct log *l, retention_pred pred, struct retention_ctx *ctx,
    const char *reason)
{
	size_t k = 0;
	while (k < l->nsegs) {
		struct segment *s = l->segs[k];
		struct segment *next = k + 1 < l->nsegs ? l->segs[k + 1] : NULL;
		int64_t upper = next ? next->base_offset : l->log_end_offset;
		bool last_and_empty = !next && s->size == 0;
		/* Nothing at or past the high watermark goes, so the log start
		 * offset can never pass it. */
		if (l->high_watermark < upper || last_and_empty || !pred(l, s, next, ctx))
			break;
		k++;
	}
	if (k == 0)
		return 0;
	if (k == l->nsegs && roll_locked(l, l->log_end_offset, ctx->now_ms) != KERR_NONE)
		k--; /* keep the active segment if no new one could be made */
	log_info("log %s: deleting %zu segments from base offset %" PRId64 " (%s)", l->dir, k,
	    l->segs[0]->base_offset, reason);
	for (size_t i = 0; i < k; i++)
		log_remove_segment_at(l, 0, ctx->now_ms);
	if (l->segs[0]->base_offset > l->log_start_offset) {
		l->log_start_offset = l->segs[0]->base_offset;
		leader_epoch_truncate_from_start(&l->epochs, l->log_start_offset);
	}
	/* [onLogStartOffsetIncremented, deleteSnapshotsBefore]: producers, aborted txns and snapshots of the removed segments go. */
	ps_on_log_start(&l->ps, l->log_start_offset);
	ps_drop_aborted_below(&l->ps, l->segs[0]->base_offset);
	ps_delete_snapshots_below(l->dir, l->segs[0]->base_offset);
	return (int)k;
}

int log_enforce_retention(struct log *l, int64_t now_ms, int *deleted)
{
	struct retention_ctx ctx = { .now_ms = now_ms };
	int n = 0;

	/* Retention may roll and remove the active segment: no append may be mid-write. */
	pthread_mutex_lock(&l->append_lock);
	pthread_mutex_lock(&l->lock);
	if (l->cfg.cleanup_delete && l->cfg.retention_ms >= 0)
		n += delete_old_segments(l, time_breached, &ctx, "retention.ms breach");
	if (l->cfg.cleanup_delete && l->cfg.retention_bytes >= 0) {
		int64_t size = size_locked(l);
		if (size >= l->cfg.retention_bytes) {
			ctx.size_diff = size - l->cfg.retention_bytes;
			n += delete_old_segments(l, size_breached, &ctx, "retention.bytes breach");
		}
	}
	n += delete_old_segments(l, start_offset_breached, &ctx, "log start offset breach");
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->append_lock);
	if (deleted)
		*deleted = n;
	return KERR_NONE;
}

void log_delete_expired(struct log *l, int64_t now_ms)
{
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->npending;) {
		if (l->pending[i].due_ms <= now_ms)
			delete_pending_now(l, i);
		else
			i++;
	}
	pthread_mutex_unlock(&l->lock);
}

/* --- flush -------------------------------------------------------------------------------------- */

struct flush_item {
	struct segment *seg;
	char *index_path;
	char *timeindex_path;
};

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KERR_NONE : KERR_KAFKA_STORAGE_ERROR;
	int r = fsync(fd);
	close(fd);
	return r < 0 ? KERR_KAFKA_STORAGE_ERROR : KERR_NONE;
}

int log_flush(struct log *l, int64_t now_ms)
{
	struct flush_item *items;
	size_t n = 0;
	int err = KERR_NONE;

	pthread_mutex_lock(&l->lock);
	int64_t target = l->log_end_offset;
	bool dir_dirty = l->dir_dirty;
	l->dir_dirty = false;
	size_t from = floor_segment(l, l->recovery_point);
	items = xcalloc(l->nsegs - from, sizeof *items);
	for (size_t i = from; i < l->nsegs; i++) {
		struct segment *s = l->segs[i];
		segment_ref(s);
		items[n].seg = s;
		items[n].index_path = xstrdup(s->oidx.f.path);
		items[n].timeindex_path = xstrdup(s->tidx.f.path);
		n++;
	}
	pthread_mutex_unlock(&l->lock);

	/*
	 * Outside the lock: fsync can take long on a busy disk.  The indexes
	 * are synced through their own descriptors, since the mappings may be
	 * replaced (roll) while this runs.
	 */
	for (size_t i = 0; i < n; i++) {
		struct segment *s = items[i].seg;
		if (fdatasync(s->fd) < 0) {
			log_error("cannot flush %s: %s", s->log_path, strerror(errno));
			err = KERR_KAFKA_STORAGE_ERROR;
		}
		if (fsync_path(items[i].index_path, false) != KERR_NONE ||
		    fsync_path(items[i].timeindex_path, false) != KERR_NONE)
			err = KERR_KAFKA_STORAGE_ERROR;
		free(items[i].index_path);
		free(items[i].timeindex_path);
		segment_unref(s);
	}
	free(items);
	if (dir_dirty && fsync_path(l->dir, true) != KERR_NONE)
		err = KERR_KAFKA_STORAGE_ERROR;

	pthread_mutex_lock(&l->lock);
	if (err == KERR_NONE) {
		if (target > l->recovery_point)
			l->recovery_point = target < l->log_end_offset ? target : l->log_end_offset;
		l->last_flush_ms = now_ms;
	} else {
		l->dir_dirty = l->dir_dirty || dir_dirty;
		l->failed = true;
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

int log_maybe_flush(struct log *l, int64_t now_ms)
{
	pthread_mutex_lock(&l->lock);
	bool due = l->cfg.flush_interval_ms != INT64_MAX &&
	    now_ms - l->last_flush_ms >= l->cfg.flush_interval_ms &&
	    l->recovery_point < l->log_end_offset;
	pthread_mutex_unlock(&l->lock);
	return due ? log_flush(l, now_ms) : KERR_NONE;
}

/* --- state ---------------------------------------------------------------------------------------- */

void log_set_high_watermark(struct log *l, int64_t hw)
{
	pthread_mutex_lock(&l->lock);
	if (hw < l->log_start_offset)
		hw = l->log_start_offset;
	if (hw > l->log_end_offset)
		hw = l->log_end_offset;
	l->high_watermark = hw;
	ps_on_high_watermark(&l->ps, hw);
	pthread_mutex_unlock(&l->lock);
}

int64_t log_last_stable_offset(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	int64_t v = lso_locked(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

size_t log_collect_aborted_txns(struct log *l, int64_t from, int64_t upper, struct log_aborted_txn *out,
    size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->ps.n_aborted; i++) {
		const struct log_aborted_txn *t = &l->ps.aborted[i];
		if (t->last_offset < from || t->first_offset >= upper)
			continue;
		if (n < max)
			out[n] = *t;
		n++;
	}
	pthread_mutex_unlock(&l->lock);
	return n;
}

size_t log_producers(struct log *l, struct log_producer_info *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->ps.nbuckets; i++)
		for (const struct ps_entry *e = l->ps.buckets[i]; e; e = e->next) {
			if (n < max)
				out[n] = (struct log_producer_info){
					.producer_id = e->pid,
					.producer_epoch = e->epoch,
					.last_sequence = e->n ? e->b[e->n - 1].last_seq : -1,
					.last_timestamp = e->last_timestamp,
					.coordinator_epoch = e->coordinator_epoch,
					.current_txn_start_offset = e->current_txn_first_offset,
				};
			n++;
		}
	pthread_mutex_unlock(&l->lock);
	return n;
}

int log_expire_producers(struct log *l, int64_t now_ms, int64_t expiration_ms)
{
	pthread_mutex_lock(&l->lock);
	int n = ps_expire(&l->ps, now_ms, expiration_ms);
	pthread_mutex_unlock(&l->lock);
	return n;
}

int log_write_producer_snapshot(struct log *l)
{
	pthread_mutex_lock(&l->append_lock);
	pthread_mutex_lock(&l->lock);
	int err = l->ps_ready && !l->failed ? ps_write_snapshot(&l->ps, l->dir, l->log_end_offset) : KERR_NONE;
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->append_lock);
	return err;
}

/* The batch at pos of s, read whole into *buf (grown as needed). */
static bool read_batch_at(struct segment *s, uint32_t pos, uint32_t size, uint8_t **buf, size_t *cap)
{
	if (size > *cap) {
		*cap = size;
		*buf = xrealloc(*buf, size);
	}
	return pread(s->fd, *buf, size, pos) == (ssize_t)size;
}

int log_rebuild_producer_state(struct log *l)
{
	ps_clear(&l->ps);
	int64_t snap;
	ps_load_snapshot(&l->ps, l->dir, l->log_end_offset, &snap);
	int64_t from = snap >= 0 ? snap : l->segs[0]->base_offset;
	for (size_t i = 0; i < l->nsegs; i++)
		txn_index_load(&l->ps, l->dir, l->segs[i]->base_offset, from);
	uint8_t *buf = NULL;
	size_t cap = 0;
	int err = KERR_NONE;
	int64_t batches = 0;
	for (size_t i = floor_segment(l, from); i < l->nsegs && err == KERR_NONE; i++) {
		struct segment *s = l->segs[i];
		struct segment_scan *sc = xmalloc(sizeof *sc);
		struct segment_batch sb;
		segment_scan_init(sc, s, 0, s->size);
		while (segment_scan_next(sc, &sb)) {
			if (sb.last_offset < from || sb.magic != RB_MAGIC_V2)
				continue;
			uint8_t hdr[RB_HEADER_SIZE];
			if (pread(s->fd, hdr, sizeof hdr, sb.position) != (ssize_t)sizeof hdr) {
				err = KERR_KAFKA_STORAGE_ERROR;
				break;
			}
			if ((int64_t)be64_load(hdr + RB_OFF_PRODUCER_ID) < 0)
				continue;
			if (!read_batch_at(s, sb.position, sb.size, &buf, &cap)) {
				err = KERR_KAFKA_STORAGE_ERROR;
				break;
			}
			struct record_batch b;
			if (record_batch_parse(buf, sb.size, &b) != KERR_NONE)
				continue;
			struct ps_completed done;
			batches++;
			if (ps_apply_batch(&l->ps, &b, &done) && done.aborted) {
				struct log_aborted_txn t = { done.pid, done.first_offset, done.last_offset, done.lso };
				ps_add_aborted(&l->ps, &t);
				txn_index_append(l->dir, s->base_offset, &t);
			}
		}
		free(sc);
	}
	free(buf);
	ps_on_high_watermark(&l->ps, l->high_watermark);
	if (l->log_start_offset > 0)
		ps_on_log_start(&l->ps, l->log_start_offset);
	l->ps_ready = true;
	if (batches > 0 || snap >= 0)
		log_info("log %s: producer state of %zu producers from %s%" PRId64 " and %" PRId64
		    " batches after it", l->dir, l->ps.count, snap >= 0 ? "the snapshot at " : "the log start ",
		    from, batches);
	return err;
}

#define GETTER(type, name, expr)                 \
	type name(struct log *l)                 \
	{                                        \
		pthread_mutex_lock(&l->lock);    \
		type v = (expr);                 \
		pthread_mutex_unlock(&l->lock);  \
		return v;                        \
	}

GETTER(int64_t, log_end_offset, l->log_end_offset)
GETTER(int64_t, log_start_offset, l->log_start_offset)
GETTER(int64_t, log_high_watermark, l->high_watermark)
GETTER(int64_t, log_recovery_point, l->recovery_point)
GETTER(int64_t, log_size_bytes, size_locked(l))
GETTER(int, log_segment_count, (int)l->nsegs)
GETTER(bool, log_failed, l->failed)
GETTER(uint64_t, log_truncation_count, l->truncations)

int log_segment_base_offsets(struct log *l, int64_t *out, int max)
{
	pthread_mutex_lock(&l->lock);
	int n = (int)l->nsegs;
	for (int i = 0; i < n && i < max; i++)
		out[i] = l->segs[i]->base_offset;
	pthread_mutex_unlock(&l->lock);
	return n;
}

const char *log_dir(const struct log *l)
{
	return l->dir;
}

const char *log_topic(const struct log *l)
{
	return l->topic;
}

int32_t log_partition(const struct log *l)
{
	return l->partition;
}

void log_get_config(struct log *l, struct log_config *out)
{
	pthread_mutex_lock(&l->lock);
	*out = l->cfg;
	pthread_mutex_unlock(&l->lock);
}

void log_set_config(struct log *l, const struct log_config *c)
{
	pthread_mutex_lock(&l->lock);
	l->cfg = *c;
	for (size_t i = 0; i < l->nsegs; i++) {
		l->segs[i]->cfg.index_interval_bytes = c->index_interval_bytes;
		l->segs[i]->cfg.index_max_bytes = c->index_max_bytes;
		l->segs[i]->cfg.segment_bytes = c->segment_bytes;
		l->segs[i]->cfg.preallocate = c->preallocate;
	}
	pthread_mutex_unlock(&l->lock);
}
