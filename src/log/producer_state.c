/*
 * Producer state of one log (producer_state.h): the sequence and epoch rules
 * of Kafka's ProducerAppendInfo, transactions for the last stable offset,
 * the .snapshot and .txnindex files.
 */
#include "log/producer_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "samsa/proto.h"
#include "samsa/util/crc32c.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

#define NO_EPOCH (-1)

void ps_init(struct producer_state *ps)
{
	memset(ps, 0, sizeof *ps);
	ps->nbuckets = 64;
	ps->buckets = xcalloc(ps->nbuckets, sizeof *ps->buckets);
}

void ps_clear(struct producer_state *ps)
{
	for (size_t i = 0; i < ps->nbuckets; i++) {
		struct ps_entry *e = ps->buckets[i];
		while (e) {
			struct ps_entry *n = e->next;
			free(e);
			e = n;
		}
		ps->buckets[i] = NULL;
	}
	ps->count = 0;
	ps->n_ongoing = ps->n_unrep = ps->n_aborted = 0;
}

void ps_free(struct producer_state *ps)
{
	if (!ps->buckets)
		return;
	ps_clear(ps);
	free(ps->buckets);
	free(ps->ongoing);
	free(ps->unreplicated);
	free(ps->aborted);
	memset(ps, 0, sizeof *ps);
}

static size_t bucket_of(const struct producer_state *ps, int64_t pid)
{
	uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> 32) & (ps->nbuckets - 1);
}

struct ps_entry *ps_lookup(const struct producer_state *ps, int64_t pid)
{
	for (struct ps_entry *e = ps->buckets[bucket_of(ps, pid)]; e; e = e->next)
		if (e->pid == pid)
			return e;
	return NULL;
}

static void grow(struct producer_state *ps)
{
	size_t nb = ps->nbuckets * 2;
	struct ps_entry **nbk = xcalloc(nb, sizeof *nbk);
	size_t old = ps->nbuckets;
	struct ps_entry **ob = ps->buckets;
	ps->buckets = nbk;
	ps->nbuckets = nb;
	for (size_t i = 0; i < old; i++) {
		struct ps_entry *e = ob[i];
		while (e) {
			struct ps_entry *n = e->next;
			size_t k = bucket_of(ps, e->pid);
			e->next = nbk[k];
			nbk[k] = e;
			e = n;
		}
	}
	free(ob);
}

/* A producer's entry, created empty (epoch -1) when new: one allocation per producer, not per batch. */
static struct ps_entry *get_or_add(struct producer_state *ps, int64_t pid)
{
	struct ps_entry *e = ps_lookup(ps, pid);
	if (e)
		return e;
	if (ps->count + 1 > ps->nbuckets)
		grow(ps);
	e = xcalloc(1, sizeof *e);
	e->pid = pid;
	e->epoch = NO_EPOCH;
	e->coordinator_epoch = -1;
	e->last_timestamp = -1;
	e->current_txn_first_offset = -1;
	size_t k = bucket_of(ps, pid);
	e->next = ps->buckets[k];
	ps->buckets[k] = e;
	ps->count++;
	return e;
}

static int32_t last_seq_of(const struct record_batch *b)
{
	/* Sequences wrap at INT32_MAX [DefaultRecordBatch.incrementSequence]. */
	int64_t s = (int64_t)b->base_sequence + b->last_offset_delta;
	if (s > INT32_MAX)
		s -= (int64_t)INT32_MAX + 1;
	return (int32_t)s;
}

static bool in_sequence(int32_t last, int32_t next)
{
	return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

bool ps_parse_marker(const struct record_batch *b, int16_t *type, int32_t *coordinator_epoch, int64_t *timestamp)
{
	struct record_iter it;
	struct record rec;
	record_iter_init(&it, record_batch_records(b), record_batch_records_len(b), b->record_count);
	if (!record_iter_next(&it, &rec) || !rec.key.ptr || rec.key.len < 4)
		return false;
	*type = (int16_t)be16_load(rec.key.ptr + 2);
	*coordinator_epoch = -1;
	if (rec.value.ptr && rec.value.len >= 6)
		*coordinator_epoch = (int32_t)be32_load(rec.value.ptr + 2);
	*timestamp = b->base_timestamp + rec.timestamp_delta;
	return *type == 0 || *type == 1;
}

int ps_check_batch(const struct producer_state *ps, const struct record_batch *b, const struct record_batch *prev,
    enum ps_origin origin, const struct ps_batch **dup)
{
	*dup = NULL;
	if (b->producer_id < 0)
		return KERR_NONE;
	const struct ps_entry *e = ps_lookup(ps, b->producer_id);
	int16_t cur_epoch = e ? e->epoch : NO_EPOCH;
	int32_t cur_last_seq = e && e->n ? e->b[e->n - 1].last_seq : -1;
	bool ongoing = e && e->current_txn_first_offset >= 0;
	int32_t coord_epoch = e ? e->coordinator_epoch : -1;
	bool have_prev = prev && prev->producer_id == b->producer_id;
	if (have_prev) {
		/* An earlier batch of this append, not yet applied, is the state to check against. */
		if (prev->producer_epoch != cur_epoch)
			cur_last_seq = -1;
		cur_epoch = prev->producer_epoch;
		if (!record_batch_is_control(prev)) {
			cur_last_seq = last_seq_of(prev);
			ongoing = record_batch_is_transactional(prev);
		} else {
			ongoing = false;
		}
	}
	if (origin == PS_ORIGIN_REPLICATION)
		return KERR_NONE; /* the leader checked; a follower takes what it wrote [checkProducerEpoch] */
	if (!have_prev && e && !record_batch_is_control(b) && b->producer_epoch == e->epoch) {
		int32_t last = last_seq_of(b);
		for (int i = 0; i < e->n; i++)
			if (e->b[i].first_seq == b->base_sequence && e->b[i].last_seq == last) {
				*dup = &e->b[i];
				return KERR_NONE;
			}
	}
	if (b->producer_epoch < cur_epoch)
		return KERR_INVALID_PRODUCER_EPOCH;
	if (record_batch_is_control(b)) {
		int16_t type;
		int32_t ce;
		int64_t ts;
		if (!ps_parse_marker(b, &type, &ce, &ts))
			return KERR_CORRUPT_MESSAGE;
		if (coord_epoch > ce)
			return KERR_TRANSACTION_COORDINATOR_FENCED;
		return KERR_NONE;
	}
	if (origin == PS_ORIGIN_CLIENT) {
		if (b->producer_epoch != cur_epoch) {
			if (b->base_sequence != 0 && cur_epoch != NO_EPOCH)
				return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
		} else if (cur_epoch != NO_EPOCH && !in_sequence(cur_last_seq, b->base_sequence)) {
			return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
		}
	}
	if (ongoing && !record_batch_is_transactional(b))
		return KERR_INVALID_TXN_STATE;
	return KERR_NONE;
}

static void txn_push(struct ps_txn **arr, size_t *n, size_t *cap, struct ps_txn t)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*arr = xrealloc(*arr, *cap * sizeof **arr);
	}
	(*arr)[(*n)++] = t;
}

static void remove_ongoing(struct producer_state *ps, int64_t pid)
{
	for (size_t i = 0; i < ps->n_ongoing; i++)
		if (ps->ongoing[i].pid == pid) {
			memmove(ps->ongoing + i, ps->ongoing + i + 1, (ps->n_ongoing - i - 1) * sizeof *ps->ongoing);
			ps->n_ongoing--;
			return;
		}
}

bool ps_apply_batch(struct producer_state *ps, const struct record_batch *b, struct ps_completed *done)
{
	if (b->producer_id < 0)
		return false;
	struct ps_entry *e = get_or_add(ps, b->producer_id);
	if (b->producer_epoch != e->epoch) {
		/* Another epoch starts its sequences over [ProducerStateEntry.maybeUpdateProducerEpoch]; only
		 * replication can bring a lower one, which the leader wrote and so is taken as it is. */
		e->n = 0;
		e->epoch = b->producer_epoch;
	}
	if (record_batch_is_control(b)) {
		int16_t type;
		int32_t ce;
		int64_t ts;
		if (!ps_parse_marker(b, &type, &ce, &ts))
			return false; /* empty control batch: its transaction was cleaned away */
		bool completed = false;
		if (e->current_txn_first_offset >= 0) {
			remove_ongoing(ps, e->pid);
			done->pid = e->pid;
			done->first_offset = e->current_txn_first_offset;
			done->last_offset = b->base_offset;
			done->aborted = type == 0;
			/* [ProducerStateManager.lastStableOffset]: the next incomplete txn of another producer. */
			done->lso = ps->n_ongoing ? ps->ongoing[0].first_offset : b->base_offset + 1;
			txn_push(&ps->unreplicated, &ps->n_unrep, &ps->cap_unrep,
				 (struct ps_txn){ e->pid, e->current_txn_first_offset, b->base_offset });
			completed = true;
		}
		e->coordinator_epoch = ce;
		e->current_txn_first_offset = -1;
		e->last_timestamp = ts;
		return completed;
	}
	int64_t last_off = record_batch_last_offset(b);
	if (e->n == PS_BATCHES) {
		memmove(e->b, e->b + 1, (PS_BATCHES - 1) * sizeof *e->b);
		e->n--;
	}
	e->b[e->n++] = (struct ps_batch){ b->base_sequence, last_seq_of(b), b->base_offset, last_off, b->max_timestamp };
	e->last_timestamp = b->max_timestamp;
	if (record_batch_is_transactional(b) && e->current_txn_first_offset < 0) {
		e->current_txn_first_offset = b->base_offset;
		txn_push(&ps->ongoing, &ps->n_ongoing, &ps->cap_ongoing, (struct ps_txn){ e->pid, b->base_offset, -1 });
	}
	return false;
}

int64_t ps_first_unstable_offset(const struct producer_state *ps)
{
	int64_t o = -1;
	if (ps->n_ongoing)
		o = ps->ongoing[0].first_offset;
	for (size_t i = 0; i < ps->n_unrep; i++)
		if (o < 0 || ps->unreplicated[i].first_offset < o)
			o = ps->unreplicated[i].first_offset;
	return o;
}

void ps_on_high_watermark(struct producer_state *ps, int64_t hw)
{
	size_t k = 0;
	for (size_t i = 0; i < ps->n_unrep; i++)
		if (ps->unreplicated[i].last_offset >= hw)
			ps->unreplicated[k++] = ps->unreplicated[i];
	ps->n_unrep = k;
}

static int64_t entry_last_offset(const struct ps_entry *e)
{
	return e->n ? e->b[e->n - 1].last_offset : -1;
}

void ps_on_log_start(struct producer_state *ps, int64_t log_start)
{
	for (size_t i = 0; i < ps->nbuckets; i++) {
		struct ps_entry **pp = &ps->buckets[i];
		while (*pp) {
			struct ps_entry *e = *pp;
			if (e->current_txn_first_offset < 0 && entry_last_offset(e) < log_start) {
				*pp = e->next;
				free(e);
				ps->count--;
			} else {
				pp = &e->next;
			}
		}
	}
	ps_on_high_watermark(ps, log_start);
}

int ps_expire(struct producer_state *ps, int64_t now_ms, int64_t expiration_ms)
{
	int n = 0;
	for (size_t i = 0; i < ps->nbuckets; i++) {
		struct ps_entry **pp = &ps->buckets[i];
		while (*pp) {
			struct ps_entry *e = *pp;
			/* [ProducerStateManager.isProducerExpired] */
			if (e->current_txn_first_offset < 0 && now_ms - e->last_timestamp >= expiration_ms) {
				*pp = e->next;
				free(e);
				ps->count--;
				n++;
			} else {
				pp = &e->next;
			}
		}
	}
	return n;
}

/* --- aborted transactions and .txnindex --------------------------------------------------- */

void ps_add_aborted(struct producer_state *ps, const struct log_aborted_txn *t)
{
	if (ps->n_aborted == ps->cap_aborted) {
		ps->cap_aborted = ps->cap_aborted ? ps->cap_aborted * 2 : 8;
		ps->aborted = xrealloc(ps->aborted, ps->cap_aborted * sizeof *ps->aborted);
	}
	ps->aborted[ps->n_aborted++] = *t;
}

void ps_truncate_aborted_from(struct producer_state *ps, int64_t offset)
{
	while (ps->n_aborted && ps->aborted[ps->n_aborted - 1].last_offset >= offset)
		ps->n_aborted--;
}

void ps_drop_aborted_below(struct producer_state *ps, int64_t offset)
{
	size_t k = 0;
	while (k < ps->n_aborted && ps->aborted[k].last_offset < offset)
		k++;
	if (k) {
		memmove(ps->aborted, ps->aborted + k, (ps->n_aborted - k) * sizeof *ps->aborted);
		ps->n_aborted -= k;
	}
}

static char *file_path(const char *dir, int64_t offset, const char *suffix)
{
	return xasprintf("%s/%020" PRId64 "%s", dir, offset, suffix);
}

int txn_index_append(const char *dir, int64_t segment_base, const struct log_aborted_txn *t)
{
	uint8_t e[TXN_INDEX_ENTRY_SIZE];
	be16_store(e, 0);
	be64_store(e + 2, (uint64_t)t->producer_id);
	be64_store(e + 10, (uint64_t)t->first_offset);
	be64_store(e + 18, (uint64_t)t->last_offset);
	be64_store(e + 26, (uint64_t)t->last_stable_offset);
	char *p = file_path(dir, segment_base, SEGMENT_TXNINDEX_SUFFIX);
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int err = KERR_NONE;
	if (fd < 0 || write(fd, e, sizeof e) != (ssize_t)sizeof e) {
		log_error("cannot write %s: %s", p, strerror(errno));
		err = KERR_KAFKA_STORAGE_ERROR;
	}
	if (fd >= 0)
		close(fd);
	free(p);
	return err;
}

int txn_index_load(struct producer_state *ps, const char *dir, int64_t segment_base, int64_t below)
{
	char *p = file_path(dir, segment_base, SEGMENT_TXNINDEX_SUFFIX);
	int fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		free(p);
		return KERR_NONE;
	}
	uint8_t e[TXN_INDEX_ENTRY_SIZE];
	off_t keep = 0;
	while (pread(fd, e, sizeof e, keep) == (ssize_t)sizeof e) {
		struct log_aborted_txn t = {
			.producer_id = (int64_t)be64_load(e + 2),
			.first_offset = (int64_t)be64_load(e + 10),
			.last_offset = (int64_t)be64_load(e + 18),
			.last_stable_offset = (int64_t)be64_load(e + 26),
		};
		if (be16_load(e) != 0 || t.last_offset >= below)
			break;
		ps_add_aborted(ps, &t);
		keep += (off_t)sizeof e;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size != keep && ftruncate(fd, keep) < 0)
		log_warn("cannot truncate %s: %s", p, strerror(errno));
	close(fd);
	if (keep == 0)
		unlink(p); /* the file exists only once it has entries */
	free(p);
	return KERR_NONE;
}

/* --- snapshots ---------------------------------------------------------------------------- */

int ps_write_snapshot(const struct producer_state *ps, const char *dir, int64_t offset)
{
	size_t n = 0;
	for (size_t i = 0; i < ps->nbuckets; i++)
		for (struct ps_entry *e = ps->buckets[i]; e; e = e->next)
			n++;
	size_t len = 10 + n * PS_SNAPSHOT_ENTRY_SIZE;
	uint8_t *buf = xmalloc(len);
	be16_store(buf, 1);
	be32_store(buf + 6, (uint32_t)n);
	uint8_t *q = buf + 10;
	for (size_t i = 0; i < ps->nbuckets; i++)
		for (struct ps_entry *e = ps->buckets[i]; e; e = e->next) {
			const struct ps_batch *last = e->n ? &e->b[e->n - 1] : NULL;
			be64_store(q, (uint64_t)e->pid);
			be16_store(q + 8, (uint16_t)e->epoch);
			be32_store(q + 10, (uint32_t)(last ? last->last_seq : -1));
			be64_store(q + 14, (uint64_t)(last ? last->last_offset : -1));
			be32_store(q + 22, (uint32_t)(last ? (int32_t)(last->last_offset - last->first_offset) : 0));
			be64_store(q + 26, (uint64_t)e->last_timestamp);
			be32_store(q + 34, (uint32_t)e->coordinator_epoch);
			be64_store(q + 38, (uint64_t)e->current_txn_first_offset);
			q += PS_SNAPSHOT_ENTRY_SIZE;
		}
	be32_store(buf + 2, crc32c(0, buf + 6, len - 6));
	char *p = file_path(dir, offset, SEGMENT_SNAPSHOT_SUFFIX);
	char *tmp = xasprintf("%s.tmp", p);
	int err = KERR_NONE;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0 || rename(tmp, p) < 0) {
		log_error("cannot write producer snapshot %s: %s", p, strerror(errno));
		err = KERR_KAFKA_STORAGE_ERROR;
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(p);
	free(buf);
	return err;
}

static int read_snapshot(struct producer_state *ps, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	uint8_t *buf = NULL;
	int rc = -1;
	if (fstat(fd, &st) < 0 || st.st_size < 10 || st.st_size > (1 << 30))
		goto out;
	buf = xmalloc((size_t)st.st_size);
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		goto out;
	size_t len = (size_t)st.st_size;
	uint32_t n = be32_load(buf + 6);
	if (be16_load(buf) != 1 || be32_load(buf + 2) != crc32c(0, buf + 6, len - 6) ||
	    (size_t)n != (len - 10) / PS_SNAPSHOT_ENTRY_SIZE || (len - 10) % PS_SNAPSHOT_ENTRY_SIZE)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *q = buf + 10 + (size_t)i * PS_SNAPSHOT_ENTRY_SIZE;
		struct ps_entry *e = get_or_add(ps, (int64_t)be64_load(q));
		e->epoch = (int16_t)be16_load(q + 8);
		int32_t last_seq = (int32_t)be32_load(q + 10);
		int64_t last_off = (int64_t)be64_load(q + 14);
		int32_t delta = (int32_t)be32_load(q + 22);
		e->last_timestamp = (int64_t)be64_load(q + 26);
		e->coordinator_epoch = (int32_t)be32_load(q + 34);
		e->current_txn_first_offset = (int64_t)be64_load(q + 38);
		if (last_off >= 0) {
			e->n = 1;
			e->b[0] = (struct ps_batch){ last_seq - delta, last_seq, last_off - delta, last_off,
						     e->last_timestamp };
		}
		if (e->current_txn_first_offset >= 0)
			txn_push(&ps->ongoing, &ps->n_ongoing, &ps->cap_ongoing,
				 (struct ps_txn){ e->pid, e->current_txn_first_offset, -1 });
	}
	/* Ongoing transactions in first-offset order, as they began. */
	for (size_t i = 1; i < ps->n_ongoing; i++)
		for (size_t j = i; j > 0 && ps->ongoing[j - 1].first_offset > ps->ongoing[j].first_offset; j--) {
			struct ps_txn t = ps->ongoing[j];
			ps->ongoing[j] = ps->ongoing[j - 1];
			ps->ongoing[j - 1] = t;
		}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Snapshot offsets in dir, descending. */
static size_t list_snapshots(const char *dir, int64_t **out)
{
	*out = NULL;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l != 20 + strlen(SEGMENT_SNAPSHOT_SUFFIX) || strcmp(de->d_name + 20, SEGMENT_SNAPSHOT_SUFFIX) != 0)
			continue;
		int64_t off = 0;
		bool ok = true;
		for (int i = 0; i < 20; i++) {
			if (de->d_name[i] < '0' || de->d_name[i] > '9' || off > (INT64_MAX - 9) / 10) {
				ok = false;
				break;
			}
			off = off * 10 + (de->d_name[i] - '0');
		}
		if (!ok)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, cap * sizeof **out);
		}
		(*out)[n++] = off;
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && (*out)[j - 1] < (*out)[j]; j--) {
			int64_t t = (*out)[j];
			(*out)[j] = (*out)[j - 1];
			(*out)[j - 1] = t;
		}
	return n;
}

int ps_load_snapshot(struct producer_state *ps, const char *dir, int64_t max_offset, int64_t *offset)
{
	*offset = -1;
	int64_t *offs;
	size_t n = list_snapshots(dir, &offs);
	for (size_t i = 0; i < n; i++) {
		char *p = file_path(dir, offs[i], SEGMENT_SNAPSHOT_SUFFIX);
		if (offs[i] > max_offset) {
			unlink(p); /* past the log end: that data is gone */
		} else if (*offset < 0) {
			ps_clear(ps);
			if (read_snapshot(ps, p) == 0) {
				*offset = offs[i];
			} else {
				log_warn("producer snapshot %s is corrupt; removed", p);
				ps_clear(ps);
				unlink(p);
			}
		}
		free(p);
	}
	free(offs);
	return KERR_NONE;
}

void ps_delete_snapshots_below(const char *dir, int64_t offset)
{
	int64_t *offs;
	size_t n = list_snapshots(dir, &offs);
	for (size_t i = 0; i < n; i++)
		if (offs[i] < offset) {
			char *p = file_path(dir, offs[i], SEGMENT_SNAPSHOT_SUFFIX);
			unlink(p);
			free(p);
		}
	free(offs);
}
