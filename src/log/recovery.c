/*
 * Partition directory loading and crash recovery (recovery.h).
 */
#include "log/recovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "log/checkpoint.h"
#include "log/log_internal.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* --- clean shutdown marker ------------------------------------------------------ */

bool recovery_clean_shutdown_exists(const char *log_dir)
{
	char *p = xasprintf("%s/%s", log_dir, RECOVERY_CLEAN_SHUTDOWN_FILE);
	bool ok = access(p, F_OK) == 0;
	free(p);
	return ok;
}

int recovery_write_clean_shutdown(const char *log_dir)
{
	static const char body[] = "{\"version\":0,\"brokerEpoch\":-1}";
	char *p = xasprintf("%s/%s", log_dir, RECOVERY_CLEAN_SHUTDOWN_FILE);
	int err = checkpoint_write_file(p, body, sizeof body - 1);
	free(p);
	return err;
}

int recovery_remove_clean_shutdown(const char *log_dir)
{
	char *p = xasprintf("%s/%s", log_dir, RECOVERY_CLEAN_SHUTDOWN_FILE);
	int err = KERR_NONE;
	if (unlink(p) < 0 && errno != ENOENT) {
		log_error("cannot remove %s: %s", p, strerror(errno));
		err = KERR_KAFKA_STORAGE_ERROR;
	}
	free(p);
	return err;
}

/* --- one segment -------------------------------------------------------------------- */

/* Kafka's ensureValid for one entry of any magic; NULL when fine. */
static const char *check_entry(const uint8_t *p, uint32_t size, int8_t magic,
    const struct segment *s, int64_t *last_offset, int64_t *max_ts, int32_t *epoch)
{
	*epoch = -1;
	if (magic == RB_MAGIC_V2) {
		struct record_batch b;
		if (record_batch_parse(p, size, &b) != KERR_NONE)
			return "malformed batch header";
		if (!record_batch_crc_ok(&b))
			return "CRC mismatch";
		if (b.last_offset_delta < 0)
			return "negative last offset delta";
		*last_offset = record_batch_last_offset(&b);
		*max_ts = b.max_timestamp;
		*epoch = b.partition_leader_epoch;
	} else if (magic == RB_MAGIC_V0 || magic == RB_MAGIC_V1) {
		/* Legacy messages carry a CRC-32 (IEEE) over magic..end. */
		uint32_t want = be32_load(p + RB_LOG_OVERHEAD);
		uint32_t got = (uint32_t)crc32(0, p + RB_MAGIC_OFFSET, size - RB_MAGIC_OFFSET);
		if (want != got)
			return "CRC mismatch";
		if (magic == RB_MAGIC_V1 && size < 26)
			return "message too short";
		*last_offset = (int64_t)(((uint64_t)be32_load(p) << 32) | be32_load(p + 4));
		*max_ts = -1;
		if (magic == RB_MAGIC_V1)
			*max_ts = (int64_t)(((uint64_t)be32_load(p + 18) << 32) | be32_load(p + 22));
	} else {
		return "invalid magic";
	}
	if (!offset_index_can_append_offset(&s->oidx, *last_offset))
		return "offset outside the segment's range";
	return NULL;
}

int recovery_recover_segment(struct segment *s, struct leader_epoch_cache *epochs,
    uint32_t *truncated, const char **why)
{
	const uint8_t *map = NULL;
	uint32_t valid = 0, last_index_entry = 0;
	int64_t max_ts = -1, max_ts_offset = s->base_offset;
	int64_t next_offset = s->base_offset;
	const char *bad = NULL;
	int err;

	*truncated = 0;
	if (why)
		*why = NULL;
	err = offset_index_reset(&s->oidx);
	if (err == KERR_NONE)
		err = time_index_reset(&s->tidx);
	if (err != KERR_NONE)
		return err;
	if (s->size > 0) {
		void *m = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, s->fd, 0);
		if (m == MAP_FAILED) {
			log_error("cannot map %s for recovery: %s", s->log_path, strerror(errno));
			return KERR_KAFKA_STORAGE_ERROR;
		}
		madvise(m, s->size, MADV_SEQUENTIAL);
		map = m;
	}
	while (valid < s->size) {
		int64_t base, last, ts;
		uint32_t size;
		int8_t magic;
		int32_t epoch;

		if (!record_batch_peek(map + valid, s->size - valid, &base, &size, &magic)) {
			bad = s->size - valid < RB_MAGIC_OFFSET + 1 ? "torn batch header" : "invalid batch length";
			break;
		}
		if (size > s->size - valid) {
			bad = "torn batch (shorter than its length)";
			break;
		}
		bad = check_entry(map + valid, size, magic, s, &last, &ts, &epoch);
		if (bad)
			break;
		if (ts > max_ts) {
			max_ts = ts;
			max_ts_offset = last;
		}
		if (valid - last_index_entry > (uint32_t)s->cfg.index_interval_bytes) {
			offset_index_append(&s->oidx, last, valid);
			time_index_maybe_append(&s->tidx, max_ts, max_ts_offset, false);
			last_index_entry = valid;
		}
		valid += size;
		next_offset = last + 1;
		if (epochs && magic == RB_MAGIC_V2 && epoch >= 0 &&
		    (leader_epoch_latest(epochs) == LEADER_EPOCH_UNDEFINED ||
			epoch > leader_epoch_latest(epochs)))
			leader_epoch_assign(epochs, epoch, base);
	}
	if (map)
		munmap((void *)map, s->size);
	if (valid < s->size) {
		*truncated = s->size - valid;
		if (why)
			*why = bad;
		err = segment_truncate_bytes(s, valid);
		if (err != KERR_NONE)
			return err;
	}
	s->next_offset = next_offset;
	s->max_timestamp = max_ts;
	s->offset_of_max_timestamp = max_ts_offset;
	s->bytes_since_last_index_entry = 0;
	offset_index_trim(&s->oidx);
	if (max_ts >= 0)
		time_index_maybe_append(&s->tidx, max_ts, max_ts_offset, true);
	time_index_trim(&s->tidx);
	return KERR_NONE;
}

/* --- the directory ----------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void remove_file(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	if (unlink(p) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", p, strerror(errno));
	free(p);
}

/* Remove every file of the segment with this base offset (all suffixes). */
static void remove_segment_files(const char *dir, int64_t base)
{
	static const char *const sfx[] = { SEGMENT_LOG_SUFFIX, SEGMENT_INDEX_SUFFIX,
		SEGMENT_TIMEINDEX_SUFFIX, SEGMENT_TXNINDEX_SUFFIX };
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		char *p = segment_file_path(dir, base, sfx[i]);
		unlink(p);
		free(p);
	}
}

/* Offset after the last batch of a .log file (base when empty or unreadable). */
static int64_t file_next_offset(const char *path, int64_t base)
{
	struct segment fake;
	struct segment_scan sc;
	struct segment_batch b;
	int64_t next = base;

	memset(&fake, 0, sizeof fake);
	fake.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fake.fd < 0)
		return base;
	off_t end = lseek(fake.fd, 0, SEEK_END);
	segment_scan_init(&sc, &fake, 0, end > 0 && end <= INT32_MAX ? (uint32_t)end : 0);
	while (segment_scan_next(&sc, &b))
		next = b.last_offset + 1;
	close(fake.fd);
	return next;
}

/*
 * Finish a cleaner's swap: a <base>.log.swap replaces the segments whose
 * base offsets fall in its range.  Index swap files are dropped (rebuilt).
 */
static void complete_swaps(const char *dir, char **swaps, size_t nswaps, int64_t *bases,
    size_t *nbases)
{
	for (size_t i = 0; i < nswaps; i++) {
		int64_t base;
		const char *sfx;
		if (!segment_parse_file_name(swaps[i], &base, &sfx))
			continue;
		if (strcmp(sfx, SEGMENT_LOG_SUFFIX SEGMENT_SWAP_SUFFIX) != 0) {
			remove_file(dir, swaps[i]);
			continue;
		}
		char *from = xasprintf("%s/%s", dir, swaps[i]);
		int64_t next = file_next_offset(from, base);
		size_t k = 0;
		for (size_t j = 0; j < *nbases; j++) {
			/* An emptied swap still replaces the segment of its own base. */
			if (bases[j] >= base && (bases[j] < next || bases[j] == base)) {
				remove_segment_files(dir, bases[j]);
				continue;
			}
			bases[k++] = bases[j];
		}
		*nbases = k;
		char *to = segment_file_path(dir, base, SEGMENT_LOG_SUFFIX);
		if (rename(from, to) == 0) {
			bases[(*nbases)++] = base;
			log_info("completed swap of %s", to);
		} else {
			log_error("cannot rename %s to %s: %s", from, to, strerror(errno));
		}
		free(from);
		free(to);
	}
}

/* Directory scan: leftovers removed, .log base offsets collected. */
static int scan_dir(const char *dir, int64_t **bases_out, size_t *n_out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int64_t *bases = NULL;
	size_t n = 0, cap = 0;
	char **swaps = NULL, **indexes = NULL;
	size_t nswaps = 0, nindexes = 0;

	if (!d) {
		log_error("cannot read %s: %s", dir, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		int64_t base;
		const char *sfx;
		if (name[0] == '.')
			continue;
		if (ends_with(name, SEGMENT_DELETED_SUFFIX) || ends_with(name, SEGMENT_CLEANED_SUFFIX)) {
			/* Deletions and cleanings cut short by the shutdown. */
			remove_file(dir, name);
			continue;
		}
		if (ends_with(name, SEGMENT_SWAP_SUFFIX)) {
			swaps = xrealloc(swaps, (nswaps + 1) * sizeof *swaps);
			swaps[nswaps++] = xstrdup(name);
			continue;
		}
		if (!segment_parse_file_name(name, &base, &sfx))
			continue;
		if (strcmp(sfx, SEGMENT_LOG_SUFFIX) == 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				bases = xrealloc(bases, cap * sizeof *bases);
			}
			bases[n++] = base;
		} else if (strcmp(sfx, SEGMENT_INDEX_SUFFIX) == 0 ||
		    strcmp(sfx, SEGMENT_TIMEINDEX_SUFFIX) == 0 ||
		    strcmp(sfx, SEGMENT_TXNINDEX_SUFFIX) == 0) {
			indexes = xrealloc(indexes, (nindexes + 1) * sizeof *indexes);
			indexes[nindexes++] = xstrdup(name);
		}
	}
	closedir(d);

	if (nswaps) {
		bases = xrealloc(bases, (n + nswaps + 1) * sizeof *bases);
		complete_swaps(dir, swaps, nswaps, bases, &n);
	}
	for (size_t i = 0; i < nswaps; i++)
		free(swaps[i]);
	free(swaps);

	/* Indexes without their .log are leftovers. */
	for (size_t i = 0; i < nindexes; i++) {
		int64_t base;
		const char *sfx;
		bool have = false;
		if (segment_parse_file_name(indexes[i], &base, &sfx))
			for (size_t j = 0; j < n && !have; j++)
				have = bases[j] == base;
		if (!have) {
			log_info("removing %s/%s: its segment is gone", dir, indexes[i]);
			remove_file(dir, indexes[i]);
		}
		free(indexes[i]);
	}
	free(indexes);
	if (n > 1)
		qsort(bases, n, sizeof *bases, cmp_i64);
	*bases_out = bases;
	*n_out = n;
	return KERR_NONE;
}

static int recover_and_report(struct log *l, size_t i, uint32_t *truncated)
{
	struct segment *s = l->segs[i];
	const char *why;
	uint32_t size_before = s->size;
	int err = recovery_recover_segment(s, &l->epochs, truncated, &why);
	if (err == KERR_NONE && *truncated > 0)
		log_warn("log %s: recovery truncated %" PRIu32 " bytes of %s at byte %" PRIu32
		    " of %" PRIu32 " (%s)", l->dir, *truncated, s->log_path, s->size, size_before,
		    why ? why : "invalid batch");
	return err;
}

int recovery_load(struct log *l, bool clean_shutdown, int64_t recovery_point,
    int64_t log_start_offset, int64_t now_ms)
{
	struct segment_config sc;
	int64_t *bases;
	size_t n;
	bool *recovered = NULL;
	int err = scan_dir(l->dir, &bases, &n);
	if (err != KERR_NONE)
		return err;

	log_segment_config(l, &sc);
	recovered = xcalloc(n + 1, sizeof *recovered);
	for (size_t i = 0; i < n; i++) {
		struct segment *s;
		bool index_missing;
		err = segment_open(l->dir, bases[i], &sc, false, now_ms, log_roll_jitter(l), &s,
		    &index_missing);
		if (err != KERR_NONE)
			goto out;
		log_add_segment(l, s);
		if (index_missing || offset_index_sanity_check(&s->oidx, s->size) != KERR_NONE ||
		    time_index_sanity_check(&s->tidx) != KERR_NONE) {
			uint32_t truncated;
			log_info("log %s: rebuilding the indexes of %s", l->dir, s->log_path);
			err = recover_and_report(l, l->nsegs - 1, &truncated);
			if (err != KERR_NONE)
				goto out;
			recovered[l->nsegs - 1] = true;
		}
	}

	if (!clean_shutdown && l->nsegs > 0) {
		/* From the segment holding the recovery point to the end. */
		size_t first = 0;
		while (first + 1 < l->nsegs && l->segs[first + 1]->base_offset <= recovery_point)
			first++;
		for (size_t i = first; i < l->nsegs; i++) {
			uint32_t truncated = 0;
			if (!recovered[i]) {
				err = recover_and_report(l, i, &truncated);
				if (err != KERR_NONE)
					goto out;
				recovered[i] = true;
			}
			if (truncated > 0) {
				size_t later = l->nsegs - i - 1;
				while (l->nsegs > i + 1)
					log_remove_segment_at(l, l->nsegs - 1, now_ms);
				if (later > 0)
					log_warn("log %s: deleted %zu segments after the damaged one", l->dir,
					    later);
				break;
			}
		}
	}

	/* Log start beyond the end: the data is gone, start over there. */
	if (l->nsegs > 0) {
		struct segment *last = log_active(l);
		if (!recovered[l->nsegs - 1] && (err = segment_load_next_offset(last)) != KERR_NONE) {
			uint32_t truncated;
			/* A header that does not parse: treat as a torn tail. */
			if ((err = recover_and_report(l, l->nsegs - 1, &truncated)) != KERR_NONE)
				goto out;
		}
		if (log_start_offset > last->next_offset) {
			log_warn("log %s: log start offset %" PRId64 " is past the end %" PRId64
			    ", removing all segments", l->dir, log_start_offset, last->next_offset);
			while (l->nsegs > 0)
				log_remove_segment_at(l, l->nsegs - 1, now_ms);
		}
	}
	if (l->nsegs == 0) {
		struct segment *s;
		int64_t base = log_start_offset > 0 ? log_start_offset : 0;
		err = segment_open(l->dir, base, &sc, true, now_ms, log_roll_jitter(l), &s, NULL);
		if (err != KERR_NONE)
			goto out;
		log_add_segment(l, s);
	}
	/* Inactive segments end where the next begins. */
	for (size_t i = 0; i + 1 < l->nsegs; i++)
		if (!recovered[i])
			l->segs[i]->next_offset = l->segs[i + 1]->base_offset;

	struct segment *active = log_active(l);
	err = segment_resize_indexes(active, sc.index_max_bytes);
	if (err != KERR_NONE)
		goto out;
	l->log_end_offset = active->next_offset;
	l->log_start_offset = log_start_offset > l->segs[0]->base_offset ? log_start_offset
	    : l->segs[0]->base_offset;
	if (clean_shutdown)
		l->recovery_point = l->log_end_offset;
	else
		l->recovery_point = recovery_point < l->log_end_offset ? recovery_point : l->log_end_offset;
	if (l->recovery_point < 0)
		l->recovery_point = 0;
	l->high_watermark = l->log_start_offset;
	leader_epoch_truncate_from_end(&l->epochs, l->log_end_offset);
	leader_epoch_truncate_from_start(&l->epochs, l->log_start_offset);
	err = KERR_NONE;
out:
	free(recovered);
	free(bases);
	return err;
}
