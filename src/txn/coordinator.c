/*
 * The transaction coordinator's plumbing [Kafka's TransactionStateManager and
 * TransactionMarkerChannelManager]: which __transaction_state partitions we
 * own, loading them when we become leader (and finishing every transaction
 * found in PrepareCommit/PrepareAbort), dropping them when we stop, the
 * thread that aborts timed-out transactions and expires idle transactional
 * ids, and the marker thread that writes each transaction's markers to its
 * partitions' leaders, retrying until every one has it, then writes the
 * Complete* record.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "samsa/config.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "txn/txn_coord.h"

const char *txn_state_name(int state)
{
	switch (state) {
	case TXN_EMPTY: return "Empty";
	case TXN_ONGOING: return "Ongoing";
	case TXN_PREPARE_COMMIT: return "PrepareCommit";
	case TXN_PREPARE_ABORT: return "PrepareAbort";
	case TXN_COMPLETE_COMMIT: return "CompleteCommit";
	case TXN_COMPLETE_ABORT: return "CompleteAbort";
	case TXN_DEAD: return "Dead";
	case TXN_PREPARE_EPOCH_FENCE: return "PrepareEpochFence";
	default: return "Unknown";
	}
}

int32_t txn_java_string_hash(const char *s, size_t len) { return java_string_hash(s, len); }

int32_t txn_coordinator_partition_for(const struct txn_coordinator *tc, const char *id, size_t len)
{
	return coord_partitions_for(&tc->cp, id, len);
}

int32_t txn_coordinator_topic_num_partitions(const struct txn_coordinator *tc) { return tc->cfg.n_partitions; }
int16_t txn_coordinator_replication_factor(const struct txn_coordinator *tc) { return tc->cfg.replication_factor; }

/* --- lookups (lock held) ---------------------------------------------------------------- */

int16_t txn_owner_error(struct txn_coordinator *tc, const char *id, size_t len, int32_t *partition,
			int32_t *coordinator_epoch)
{
	if (!tc->running)
		return KERR_COORDINATOR_NOT_AVAILABLE;
	int32_t p;
	const struct coord_part *cp = coord_partitions_owner(&tc->cp, id, len, &p);
	if (!cp)
		return KERR_NOT_COORDINATOR;
	if (partition)
		*partition = p;
	if (coordinator_epoch)
		*coordinator_epoch = cp->leader_epoch;
	switch (cp->state) {
	case PART_OWNED: return KERR_NONE;
	case PART_LOADING: return KERR_COORDINATOR_LOAD_IN_PROGRESS;
	default: return KERR_NOT_COORDINATOR;
	}
}

struct txn_meta *txn_find(struct txn_coordinator *tc, const char *id, size_t len)
{
	for (int i = 0; i < tc->n_txns; i++) {
		struct txn_meta *m = tc->txns[i];
		if (strlen(m->id) == len && memcmp(m->id, id, len) == 0)
			return m;
	}
	return NULL;
}

struct txn_meta *txn_add(struct txn_coordinator *tc, const char *id, size_t len, int32_t partition)
{
	if (tc->n_txns == tc->cap_txns) {
		tc->cap_txns = tc->cap_txns ? tc->cap_txns * 2 : 64;
		tc->txns = xrealloc(tc->txns, sizeof *tc->txns * (size_t)tc->cap_txns);
	}
	struct txn_meta *m = xcalloc(1, sizeof *m);
	m->id = xstrndup(id, len);
	m->partition = partition;
	m->cur.producer_id = -1;
	m->cur.last_producer_id = -1;
	m->cur.epoch = -1;
	m->cur.last_epoch = -1;
	m->cur.start_ts = -1;
	tc->txns[tc->n_txns++] = m;
	return m;
}

static void meta_free(struct txn_meta *m)
{
	txn_transit_clear(&m->cur);
	free(m->id);
	free(m);
}

void txn_remove(struct txn_coordinator *tc, struct txn_meta *m)
{
	for (int i = 0; i < tc->n_txns; i++)
		if (tc->txns[i] == m) {
			tc->txns[i] = tc->txns[--tc->n_txns];
			break;
		}
	meta_free(m);
}

/* --- appends --------------------------------------------------------------------------- */

/* Kafka's appendTransactionToLog error mapping. */
static int16_t append_error(int16_t err)
{
	switch (err) {
	case KERR_NONE: return KERR_NONE;
	case KERR_UNKNOWN_TOPIC_OR_PARTITION:
	case KERR_NOT_ENOUGH_REPLICAS:
	case KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case KERR_REQUEST_TIMED_OUT:
		return KERR_COORDINATOR_NOT_AVAILABLE;
	case KERR_NOT_LEADER_OR_FOLLOWER:
	case KERR_KAFKA_STORAGE_ERROR:
	case KERR_FENCED_LEADER_EPOCH:
		return KERR_NOT_COORDINATOR;
	case KERR_MESSAGE_TOO_LARGE:
	case KERR_RECORD_LIST_TOO_LARGE:
		return KERR_UNKNOWN_SERVER_ERROR;
	default: return err;
	}
}

int16_t txn_append(struct txn_coordinator *tc, int32_t partition, const char *id, const struct txn_transit *t,
		   int64_t *required)
{
	*required = -1;
	if (!coord_partitions_owned(&tc->cp, partition))
		return KERR_NOT_COORDINATOR;
	struct wbuf w;
	wbuf_init(&w);
	struct batch_builder bb;
	batch_builder_begin(&bb, &w, NULL);
	int64_t now = wall_clock_ms();
	txn_record_add(&bb, now, id, t);
	int16_t err = KERR_UNKNOWN_SERVER_ERROR;
	if (batch_builder_finish(&bb) > 0)
		err = tc->host.append(tc->host.arg, partition, w.data, w.len, required);
	wbuf_free(&w);
	if (err != KERR_NONE)
		log_warn("Transaction coordinator: writing %s to %s-%d failed: %s", id, TXN_STATE_TOPIC, partition,
			 kafka_error_name(err));
	return append_error(err);
}

/* A parked write: done once the high watermark covers it (or it failed or timed out). */
static bool try_write(void *op, bool expired)
{
	struct txn_write *w = op;
	struct txn_coordinator *tc = w->tc;
	int16_t err = KERR_NONE;
	bool done = tc->host.replicated(tc->host.arg, w->partition, w->required, &err);
	if (!done && !expired)
		return false;
	if (!done && err == KERR_NONE)
		err = KERR_REQUEST_TIMED_OUT;
	txn_write_finish(w, append_error(err));
	return true;
}

void txn_write_start(struct txn_write *w)
{
	/* Lock not held. */
	struct txn_coordinator *tc = w->tc;
	if (w->required < 0 || !tc->host.park) {
		txn_write_finish(w, KERR_NONE);
		return;
	}
	if (try_write(w, false))
		return;
	tc->host.park(tc->host.arg, w->partition, wall_clock_ms() + tc->cfg.write_timeout_ms, try_write, w);
}

/* --- markers ----------------------------------------------------------------------------- */

void txn_queue_markers(struct txn_coordinator *tc, const struct txn_meta *m, int32_t coordinator_epoch, bool commit)
{
	/* Lock held.  m->cur is the Prepare* state just written. */
	struct marker_job *j = xcalloc(1, sizeof *j);
	j->id = xstrdup(m->id);
	j->partition = m->partition;
	j->coordinator_epoch = coordinator_epoch;
	j->producer_id = m->cur.producer_id;
	j->epoch = m->cur.epoch;
	j->commit = commit;
	struct txn_transit copy;
	txn_transit_copy(&copy, &m->cur);
	j->tps = copy.tps;
	j->n_tps = copy.n_tps;
	if (tc->markers_tail)
		tc->markers_tail->next = j;
	else
		tc->markers_head = j;
	tc->markers_tail = j;
	pthread_cond_signal(&tc->marker_wake);
}

static void marker_job_free(struct marker_job *j)
{
	for (int i = 0; i < j->n_tps; i++)
		free(j->tps[i].topic);
	free(j->tps);
	free(j->id);
	free(j);
}

/* Whether the coordinator still owns the job's transaction as it did when it was queued (lock held). */
static struct txn_meta *job_meta(struct txn_coordinator *tc, const struct marker_job *j)
{
	if (!coord_partitions_owned(&tc->cp, j->partition) || tc->cp.parts[j->partition].leader_epoch != j->coordinator_epoch)
		return NULL;
	struct txn_meta *m = txn_find(tc, j->id, strlen(j->id));
	if (!m || m->cur.producer_id != j->producer_id || m->cur.epoch != j->epoch)
		return NULL;
	int want = j->commit ? TXN_PREPARE_COMMIT : TXN_PREPARE_ABORT;
	return m->cur.state == want ? m : NULL;
}

/* Every marker written: the Complete* record, waited for here on the marker thread. */
static bool complete_job(struct txn_coordinator *tc, struct marker_job *j)
{
	pthread_mutex_lock(&tc->lock);
	struct txn_meta *m = job_meta(tc, j);
	if (!m) {
		pthread_mutex_unlock(&tc->lock);
		return true; /* the coordinator moved: its new owner completes the transaction */
	}
	struct txn_transit t = m->cur;
	t.state = j->commit ? TXN_COMPLETE_COMMIT : TXN_COMPLETE_ABORT;
	t.tps = NULL;
	t.n_tps = 0;
	t.update_ts = wall_clock_ms();
	int64_t required = -1;
	int16_t err = txn_append(tc, j->partition, j->id, &t, &required);
	pthread_mutex_unlock(&tc->lock);
	if (err == KERR_NONE && required >= 0) {
		int64_t deadline = wall_clock_ms() + tc->cfg.write_timeout_ms;
		int16_t rerr = KERR_NONE;
		while (!tc->host.replicated(tc->host.arg, j->partition, required, &rerr) && rerr == KERR_NONE &&
		       wall_clock_ms() < deadline && !tc->stop)
			usleep(5000);
		if (rerr == KERR_NONE && !tc->host.replicated(tc->host.arg, j->partition, required, &rerr))
			rerr = KERR_REQUEST_TIMED_OUT;
		err = append_error(rerr);
	}
	pthread_mutex_lock(&tc->lock);
	m = job_meta(tc, j);
	if (!m) {
		pthread_mutex_unlock(&tc->lock);
		return true;
	}
	if (err == KERR_NOT_COORDINATOR) {
		pthread_mutex_unlock(&tc->lock);
		return true;
	}
	if (err != KERR_NONE) {
		pthread_mutex_unlock(&tc->lock);
		return false; /* retry the Complete* write */
	}
	txn_transit_clear(&m->cur);
	m->cur.state = t.state;
	m->cur.update_ts = t.update_ts;
	m->pending = false;
	log_info("Transaction coordinator: %s %s (producer %" PRId64 " epoch %d)", j->id,
		 j->commit ? "committed" : "aborted", j->producer_id, j->epoch);
	pthread_mutex_unlock(&tc->lock);
	return true;
}

/* Sends one job's outstanding markers; true when the job is finished (or abandoned). */
static bool run_marker_job(struct txn_coordinator *tc, struct marker_job *j)
{
	pthread_mutex_lock(&tc->lock);
	bool live = job_meta(tc, j) != NULL;
	pthread_mutex_unlock(&tc->lock);
	if (!live)
		return true;
	if (j->n_tps > 0) {
		struct txn_marker mk = { .producer_id = j->producer_id, .producer_epoch = j->epoch, .commit = j->commit,
					 .coordinator_epoch = j->coordinator_epoch, .n_partitions = j->n_tps };
		mk.partitions = xcalloc((size_t)j->n_tps, sizeof *mk.partitions);
		for (int i = 0; i < j->n_tps; i++)
			mk.partitions[i] = (struct txn_marker_partition){ j->tps[i].topic, j->tps[i].partition,
									  KERR_UNKNOWN_SERVER_ERROR };
		tc->host.write_markers(tc->host.arg, &mk);
		int keep = 0;
		for (int i = 0; i < j->n_tps; i++) {
			int16_t e = mk.partitions[i].error;
			bool drop;
			switch (e) {
			case KERR_NONE:
			case KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
			case KERR_UNSUPPORTED_VERSION:
				drop = true;
				break;
			case KERR_INVALID_PRODUCER_EPOCH:
			case KERR_TRANSACTION_COORDINATOR_FENCED:
				/* A newer coordinator or producer epoch owns the partition's state: stop here. */
				log_warn("Transaction coordinator: marker for %s on %s-%d refused (%s); giving up the "
					 "transaction's markers", j->id, j->tps[i].topic, j->tps[i].partition,
					 kafka_error_name(e));
				free(mk.partitions);
				return true;
			case KERR_UNKNOWN_TOPIC_OR_PARTITION:
				/* A deleted topic needs no marker. */
				drop = !tc->host.has_partition(tc->host.arg, kstr_c(j->tps[i].topic), j->tps[i].partition);
				break;
			default:
				drop = false;
			}
			if (drop)
				free(j->tps[i].topic);
			else
				j->tps[keep++] = j->tps[i];
		}
		j->n_tps = keep;
		free(mk.partitions);
		if (keep > 0)
			return false;
	}
	return complete_job(tc, j);
}

static void *marker_main(void *arg)
{
	struct txn_coordinator *tc = arg;
	pthread_mutex_lock(&tc->lock);
	while (!tc->stop) {
		struct marker_job *j = tc->markers_head;
		int64_t now = wall_clock_ms();
		if (!j || j->not_before > now) {
			struct timespec ts;
			int64_t until = j ? j->not_before : now + 1000;
			ts.tv_sec = until / 1000;
			ts.tv_nsec = (until % 1000) * 1000000;
			pthread_cond_timedwait(&tc->marker_wake, &tc->lock, &ts);
			continue;
		}
		tc->markers_head = j->next;
		if (!tc->markers_head)
			tc->markers_tail = NULL;
		j->next = NULL;
		pthread_mutex_unlock(&tc->lock);
		bool finished = run_marker_job(tc, j);
		pthread_mutex_lock(&tc->lock);
		if (finished) {
			marker_job_free(j);
			continue;
		}
		/* Retry after a backoff, behind what is queued. */
		j->not_before = wall_clock_ms() + 100;
		if (tc->markers_tail)
			tc->markers_tail->next = j;
		else
			tc->markers_head = j;
		tc->markers_tail = j;
	}
	pthread_mutex_unlock(&tc->lock);
	return NULL;
}

/* --- loading ------------------------------------------------------------------------------- */

struct loaded {
	char **ids;
	struct txn_transit *t;
	int n, cap;
};

static void loaded_put(struct loaded *ld, char *id, struct txn_transit *t)
{
	for (int i = 0; i < ld->n; i++)
		if (strcmp(ld->ids[i], id) == 0) {
			free(id);
			txn_transit_clear(&ld->t[i]);
			if (t) {
				ld->t[i] = *t;
			} else {
				free(ld->ids[i]);
				ld->ids[i] = ld->ids[--ld->n];
				ld->t[i] = ld->t[ld->n];
			}
			return;
		}
	if (!t) {
		free(id);
		return;
	}
	if (ld->n == ld->cap) {
		ld->cap = ld->cap ? ld->cap * 2 : 16;
		ld->ids = xrealloc(ld->ids, sizeof *ld->ids * (size_t)ld->cap);
		ld->t = xrealloc(ld->t, sizeof *ld->t * (size_t)ld->cap);
	}
	ld->ids[ld->n] = id;
	ld->t[ld->n++] = *t;
}

static void loaded_free(struct loaded *ld)
{
	for (int i = 0; i < ld->n; i++) {
		free(ld->ids[i]);
		txn_transit_clear(&ld->t[i]);
	}
	free(ld->ids);
	free(ld->t);
}

static void load_batch(const uint8_t *p, uint32_t size, struct wbuf *plain, struct loaded *ld)
{
	struct record_batch b;
	if (record_batch_parse(p, size, &b) != KERR_NONE || record_batch_is_control(&b))
		return;
	const uint8_t *recs = record_batch_records(&b);
	size_t len = record_batch_records_len(&b);
	if (record_batch_codec(&b) != COMPRESSION_NONE) {
		wbuf_reset(plain);
		if (compression_decompress((enum compression_codec)record_batch_codec(&b), recs, len, plain,
					   (size_t)256 << 20) != KERR_NONE)
			return;
		recs = plain->data;
		len = plain->len;
	}
	struct record_iter it;
	struct record rec;
	record_iter_init(&it, recs, len, b.record_count);
	while (record_iter_next(&it, &rec)) {
		char *id = NULL;
		struct txn_transit t;
		int rc = txn_record_decode(rec.key.ptr, rec.key.len, rec.value.ptr, rec.value.len, &id, &t);
		if (rc < 0)
			continue;
		loaded_put(ld, id, rc == 1 ? &t : NULL);
	}
}

static int16_t load_partition(struct txn_coordinator *tc, int32_t partition, struct loaded *ld)
{
	struct wbuf buf, plain;
	wbuf_init(&buf);
	wbuf_init(&plain);
	int64_t offset = -1;
	int16_t err;
	for (;;) {
		int64_t log_start = -1;
		err = tc->host.read(tc->host.arg, partition, offset, (size_t)1 << 20, &buf, &log_start);
		if (offset < 0 && err == KERR_OFFSET_OUT_OF_RANGE && log_start >= 0) {
			offset = log_start;
			continue;
		}
		if (err != KERR_NONE || buf.len == 0)
			break;
		size_t pos = 0, n = buf.len;
		int64_t next = offset;
		while (pos < n) {
			int64_t base;
			uint32_t size;
			int8_t magic;
			if (!record_batch_peek(buf.data + pos, n - pos, &base, &size, &magic) || size > n - pos)
				break;
			struct record_batch b;
			if (record_batch_parse(buf.data + pos, size, &b) == KERR_NONE) {
				if (record_batch_next_offset(&b) > offset)
					load_batch(buf.data + pos, size, &plain, ld);
				next = record_batch_next_offset(&b);
			}
			pos += size;
		}
		if (next <= offset)
			break;
		offset = next;
	}
	wbuf_free(&buf);
	wbuf_free(&plain);
	return err;
}

static void drop_partition(struct txn_coordinator *tc, int32_t partition)
{
	for (int i = 0; i < tc->n_txns;) {
		if (tc->txns[i]->partition == partition)
			txn_remove(tc, tc->txns[i]);
		else
			i++;
	}
}

static void run_job(struct txn_coordinator *tc, struct coord_load_job job)
{
	/* Lock held. */
	struct coord_part *tp = &tc->cp.parts[job.partition];
	if (!job.elect) {
		if (tp->state == PART_NOT_OWNED) {
			drop_partition(tc, job.partition);
			log_info("Transaction coordinator: unloaded %s-%d", TXN_STATE_TOPIC, job.partition);
		}
		return;
	}
	if (tp->state != PART_LOADING || tp->leader_epoch != job.epoch)
		return;
	pthread_mutex_unlock(&tc->lock);
	int64_t t0 = wall_clock_ms();
	struct loaded ld = { 0 };
	int16_t err = load_partition(tc, job.partition, &ld);
	pthread_mutex_lock(&tc->lock);
	if (tp->state != PART_LOADING || tp->leader_epoch != job.epoch) {
		loaded_free(&ld);
		return;
	}
	if (err != KERR_NONE) {
		log_warn("Transaction coordinator: loading %s-%d failed: %s; will retry", TXN_STATE_TOPIC, job.partition,
			 kafka_error_name(err));
		loaded_free(&ld);
		coord_partitions_push_job(&tc->cp, job);
		return;
	}
	drop_partition(tc, job.partition);
	tp->state = PART_OWNED;
	int n_prepared = 0;
	for (int i = 0; i < ld.n; i++) {
		struct txn_meta *m = txn_add(tc, ld.ids[i], strlen(ld.ids[i]), job.partition);
		m->cur = ld.t[i];
		ld.t[i].tps = NULL;
		ld.t[i].n_tps = 0;
		/* A transaction its old coordinator left half done: send its markers again and complete it. */
		if (m->cur.state == TXN_PREPARE_COMMIT || m->cur.state == TXN_PREPARE_ABORT) {
			bool commit = m->cur.state == TXN_PREPARE_COMMIT;
			m->pending = true;
			m->pending_state = commit ? TXN_COMPLETE_COMMIT : TXN_COMPLETE_ABORT;
			txn_queue_markers(tc, m, job.epoch, commit);
			n_prepared++;
		}
	}
	log_info("Transaction coordinator: loaded %d transactional ids from %s-%d (coordinator epoch %d) in %" PRId64
		 " ms; %d to complete", ld.n, TXN_STATE_TOPIC, job.partition, job.epoch, wall_clock_ms() - t0,
		 n_prepared);
	loaded_free(&ld);
}

/* --- timers -------------------------------------------------------------------------------- */

static void *coordinator_main(void *arg)
{
	struct txn_coordinator *tc = arg;
	pthread_mutex_lock(&tc->lock);
	while (!tc->stop) {
		int n = tc->cp.n_jobs;
		struct coord_load_job job;
		for (int i = 0; i < n && !tc->stop && coord_partitions_pop_job(&tc->cp, &job); i++)
			run_job(tc, job);
		bool retry = tc->cp.n_jobs > 0;
		int64_t now = wall_clock_ms();
		if (now >= tc->next_abort_check) {
			txn_abort_timed_out(tc, now);
			tc->next_abort_check = now + tc->cfg.abort_interval_ms;
		}
		if (now >= tc->next_expiry_check) {
			txn_expire_ids(tc, now);
			tc->next_expiry_check = now + tc->cfg.remove_interval_ms;
		}
		int64_t next = tc->next_abort_check < tc->next_expiry_check ? tc->next_abort_check : tc->next_expiry_check;
		if (retry && next > now + 200)
			next = now + 200;
		if (tc->stop)
			continue;
		struct timespec ts = { .tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000 };
		if (next > now)
			pthread_cond_timedwait(&tc->wake, &tc->lock, &ts);
	}
	pthread_mutex_unlock(&tc->lock);
	return NULL;
}

/* --- life cycle ---------------------------------------------------------------------------- */

struct txn_coordinator *txn_coordinator_new(const struct config *c, const struct txn_host *host)
{
	struct txn_coordinator *tc = xcalloc(1, sizeof *tc);
	pthread_mutex_init(&tc->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&tc->wake, &ca);
	pthread_cond_init(&tc->marker_wake, &ca);
	pthread_condattr_destroy(&ca);
	tc->host = *host;
	tc->cfg.n_partitions = config_int(c, "transaction.state.log.num.partitions");
	tc->cfg.replication_factor = (int16_t)config_int(c, "transaction.state.log.replication.factor");
	tc->cfg.max_timeout_ms = config_int(c, "transaction.max.timeout.ms");
	tc->cfg.abort_interval_ms = config_int(c, "transaction.abort.timed.out.transaction.cleanup.interval.ms");
	tc->cfg.expiration_ms = config_int(c, "transactional.id.expiration.ms");
	tc->cfg.remove_interval_ms = config_int(c, "transaction.remove.expired.transaction.cleanup.interval.ms");
	/* Kafka's TransactionStateManager writes with request.timeout.ms's default. */
	tc->cfg.write_timeout_ms = 30000;
	if (tc->cfg.n_partitions <= 0)
		tc->cfg.n_partitions = 50;
	coord_partitions_init(&tc->cp, tc->cfg.n_partitions);
	int64_t now = wall_clock_ms();
	tc->next_abort_check = now + tc->cfg.abort_interval_ms;
	tc->next_expiry_check = now + tc->cfg.remove_interval_ms;
	return tc;
}

void txn_coordinator_start(struct txn_coordinator *tc)
{
	pthread_mutex_lock(&tc->lock);
	tc->running = true;
	pthread_mutex_unlock(&tc->lock);
	pthread_create(&tc->thread, NULL, coordinator_main, tc);
	pthread_create(&tc->marker_thread, NULL, marker_main, tc);
}

void txn_coordinator_stop(struct txn_coordinator *tc)
{
	if (!tc)
		return;
	pthread_mutex_lock(&tc->lock);
	bool was_running = tc->running;
	tc->stop = true;
	tc->running = false;
	pthread_cond_broadcast(&tc->wake);
	pthread_cond_broadcast(&tc->marker_wake);
	pthread_mutex_unlock(&tc->lock);
	if (was_running) {
		pthread_join(tc->thread, NULL);
		pthread_join(tc->marker_thread, NULL);
	}
}

void txn_coordinator_free(struct txn_coordinator *tc)
{
	if (!tc)
		return;
	for (int i = 0; i < tc->n_txns; i++)
		meta_free(tc->txns[i]);
	free(tc->txns);
	while (tc->markers_head) {
		struct marker_job *j = tc->markers_head;
		tc->markers_head = j->next;
		marker_job_free(j);
	}
	coord_partitions_free(&tc->cp);
	pthread_cond_destroy(&tc->wake);
	pthread_cond_destroy(&tc->marker_wake);
	pthread_mutex_destroy(&tc->lock);
	free(tc);
}

void txn_coordinator_on_leadership(struct txn_coordinator *tc, int32_t partition, bool leader, int32_t leader_epoch)
{
	if (!tc || partition < 0)
		return;
	pthread_mutex_lock(&tc->lock);
	if (coord_partitions_on_leadership(&tc->cp, partition, leader, leader_epoch))
		pthread_cond_signal(&tc->wake);
	pthread_mutex_unlock(&tc->lock);
}

void txn_coordinator_set_topic_partitions(struct txn_coordinator *tc, int32_t n)
{
	if (!tc || n <= 0)
		return;
	/* Every UpdateMetadata calls this; the usual case needs no lock. */
	if (coord_partitions_count_is(&tc->cp, n))
		return;
	pthread_mutex_lock(&tc->lock);
	/* Remapping ids would lose transactions: Kafka too keeps its count until a restart. */
	if (coord_partitions_set_count(&tc->cp, n) == COORD_COUNT_CHANGED)
		log_warn("Transaction coordinator: %s now has %d partitions; ids keep mapping onto %d until a restart",
			 TXN_STATE_TOPIC, n, tc->cp.n_partitions);
	pthread_mutex_unlock(&tc->lock);
}
