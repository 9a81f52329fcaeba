/*
 * The transaction coordinator's requests [Kafka's TransactionCoordinator]:
 * InitProducerId with a transactional id, AddPartitionsToTxn,
 * AddOffsetsToTxn, EndTxn, DescribeTransactions, ListTransactions, and the
 * coordinator's own moves (timed-out transactions aborted, idle ids expired).
 *
 * Every change is Kafka's two steps: under the lock, check the request
 * against the current state and mark the id pending with the state it is to
 * become (other requests meanwhile get CONCURRENT_TRANSACTIONS); write that
 * state to __transaction_state; once the write is replicated, make it
 * current and answer.  EndTxn's Prepare* state then sends the markers
 * (coordinator.c) and ends in Complete*.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "txn/txn_coord.h"

#define NO_PRODUCER_ID (-1)
#define NO_PRODUCER_EPOCH (-1)

static bool epoch_exhausted(int16_t epoch) { return epoch >= INT16_MAX - 1; }

static bool has_tp(const struct txn_transit *t, const char *topic, size_t len, int32_t p)
{
	for (int i = 0; i < t->n_tps; i++)
		if (t->tps[i].partition == p && strlen(t->tps[i].topic) == len && memcmp(t->tps[i].topic, topic, len) == 0)
			return true;
	return false;
}

static void add_tp(struct txn_transit *t, const char *topic, size_t len, int32_t p)
{
	if (has_tp(t, topic, len, p))
		return;
	t->tps = xrealloc(t->tps, sizeof *t->tps * (size_t)(t->n_tps + 1));
	t->tps[t->n_tps].topic = xstrndup(topic, len);
	t->tps[t->n_tps++].partition = p;
}

static struct txn_write *write_new(struct txn_coordinator *tc, enum txn_write_kind kind, struct txn_request *req,
				   struct txn_meta *m, int32_t coordinator_epoch)
{
	struct txn_write *w = xcalloc(1, sizeof *w);
	w->tc = tc;
	w->kind = kind;
	w->req = req;
	w->id = xstrdup(m->id);
	w->partition = m->partition;
	w->coordinator_epoch = coordinator_epoch;
	return w;
}

/* Lock held: mark m pending and append w->t.  KERR_NONE, or the error (m not pending then). */
static int16_t write_begin(struct txn_coordinator *tc, struct txn_meta *m, struct txn_write *w)
{
	int16_t err = txn_append(tc, m->partition, m->id, &w->t, &w->required);
	if (err == KERR_NONE) {
		m->pending = true;
		m->pending_state = w->t.state;
	}
	return err;
}

static void write_free(struct txn_write *w)
{
	txn_transit_clear(&w->t);
	free(w->id);
	free(w);
}

/* --- answers ------------------------------------------------------------------------------ */

static void answer_init(struct txn_request *req, int16_t err, int64_t pid, int16_t epoch)
{
	struct init_producer_id_response resp;
	init_producer_id_response_init(&resp);
	resp.error_code = err;
	resp.producer_id = err == KERR_NONE ? pid : -1;
	resp.producer_epoch = err == KERR_NONE ? epoch : -1;
	req->respond(req, &resp);
}

static void answer_error(struct txn_request *req, int api, int16_t err)
{
	if (api == W_ADD_OFFSETS) {
		struct add_offsets_to_txn_response resp;
		add_offsets_to_txn_response_init(&resp);
		resp.error_code = err;
		req->respond(req, &resp);
	} else {
		struct end_txn_response resp;
		end_txn_response_init(&resp);
		resp.error_code = err;
		req->respond(req, &resp);
	}
}

/* AddPartitionsToTxn v0-v3's answer: every partition asked about with `err`. */
static struct add_partitions_to_txn_response_add_partitions_to_txn_topic_result *
topic_results(struct arena *a, const struct add_partitions_to_txn_request_add_partitions_to_txn_topic *topics, int n,
	      int16_t err)
{
	struct add_partitions_to_txn_response_add_partitions_to_txn_topic_result *tr =
	    arena_alloc(a, sizeof *tr * (size_t)(n > 0 ? n : 1));
	for (int i = 0; i < n; i++) {
		add_partitions_to_txn_response_add_partitions_to_txn_topic_result_init(&tr[i]);
		tr[i].name = topics[i].name;
		int np = topics[i].partitions_count > 0 ? topics[i].partitions_count : 0;
		tr[i].results_by_partition = arena_alloc(a, sizeof *tr[i].results_by_partition * (size_t)(np ? np : 1));
		tr[i].results_by_partition_count = np;
		for (int j = 0; j < np; j++) {
			tr[i].results_by_partition[j].partition_index = topics[i].partitions[j];
			tr[i].results_by_partition[j].partition_error_code = err;
		}
	}
	return tr;
}

static void set_topic_errors(struct add_partitions_to_txn_response_add_partitions_to_txn_topic_result *tr, int n,
			     int16_t err)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < tr[i].results_by_partition_count; j++)
			tr[i].results_by_partition[j].partition_error_code = err;
}

void txn_write_finish(struct txn_write *w, int16_t err)
{
	struct txn_coordinator *tc = w->tc;
	pthread_mutex_lock(&tc->lock);
	struct txn_meta *m = txn_find(tc, w->id, strlen(w->id));
	if (!coord_partitions_owned(&tc->cp, w->partition) || tc->cp.parts[w->partition].leader_epoch != w->coordinator_epoch ||
	    !m || !m->pending)
		err = KERR_NOT_COORDINATOR;
	if (m && m->pending && m->pending_state == w->t.state) {
		if (err == KERR_NONE) {
			txn_transit_clear(&m->cur);
			m->cur = w->t;
			w->t.tps = NULL;
			w->t.n_tps = 0;
			m->pending = false;
			m->failed_fence = false;
			if (w->kind == W_END || w->kind == W_FENCE_ABORT || w->kind == W_TIMEOUT_ABORT) {
				bool commit = m->cur.state == TXN_PREPARE_COMMIT;
				m->pending = true;
				m->pending_state = commit ? TXN_COMPLETE_COMMIT : TXN_COMPLETE_ABORT;
				txn_queue_markers(tc, m, w->coordinator_epoch, commit);
			}
		} else {
			m->pending = false;
			if (w->kind == W_FENCE_ABORT || w->kind == W_TIMEOUT_ABORT)
				m->failed_fence = true;
		}
	}
	int64_t pid = m && err == KERR_NONE ? m->cur.producer_id : -1;
	int16_t epoch = m && err == KERR_NONE ? m->cur.epoch : -1;
	pthread_mutex_unlock(&tc->lock);
	if (w->req) {
		switch (w->kind) {
		case W_INIT: answer_init(w->req, err, pid, epoch); break;
		case W_FENCE_ABORT: answer_init(w->req, err != KERR_NONE ? err : KERR_CONCURRENT_TRANSACTIONS, -1, -1); break;
		case W_ADD_PARTITIONS: {
			if (w->batch)
				break;
			struct add_partitions_to_txn_response *resp = w->resp;
			set_topic_errors(resp->results_by_topic_v3_and_below, resp->results_by_topic_v3_and_below_count, err);
			w->req->respond(w->req, resp);
			break;
		}
		case W_ADD_OFFSETS: answer_error(w->req, W_ADD_OFFSETS, err); break;
		case W_END: answer_error(w->req, W_END, err); break;
		default: break;
		}
	}
	if (w->batch) {
		set_topic_errors(w->topic_results, w->n_topic_results, err);
		struct txn_add_batch *batch = w->batch;
		if (__atomic_sub_fetch(&batch->remaining, 1, __ATOMIC_ACQ_REL) == 0)
			batch->req->respond(batch->req, batch->resp);
	}
	write_free(w);
}

/* --- InitProducerId ------------------------------------------------------------------------- */

/* The state after InitProducerId [Kafka's prepareInitProducerIdTransit]: KERR_NONE with *t, or an error. */
static int16_t init_transit(struct txn_coordinator *tc, struct txn_meta *m, int32_t timeout_ms, int64_t exp_pid,
			    int16_t exp_epoch, struct txn_transit *t, bool *fence)
{
	bool expected = exp_pid != NO_PRODUCER_ID;
	*fence = false;
	if (m->pending)
		return KERR_CONCURRENT_TRANSACTIONS;
	if (expected && !(m->cur.epoch == NO_PRODUCER_EPOCH || exp_pid == m->cur.producer_id ||
			  (exp_pid == m->cur.last_producer_id && epoch_exhausted(exp_epoch))))
		return KERR_PRODUCER_FENCED;
	int64_t now = wall_clock_ms();
	memset(t, 0, sizeof *t);
	switch (m->cur.state) {
	case TXN_PREPARE_ABORT:
	case TXN_PREPARE_COMMIT:
		return KERR_CONCURRENT_TRANSACTIONS;
	case TXN_COMPLETE_ABORT:
	case TXN_COMPLETE_COMMIT:
	case TXN_EMPTY:
		*t = (struct txn_transit){ .producer_id = m->cur.producer_id, .last_producer_id = m->cur.last_producer_id,
					   .timeout_ms = timeout_ms, .state = TXN_EMPTY, .start_ts = -1,
					   .update_ts = now };
		if (epoch_exhausted(m->cur.epoch) && (!expected || exp_epoch == m->cur.epoch)) {
			/* A new producer id once the epochs run out [prepareProducerIdRotation]. */
			int64_t id;
			int16_t err = tc->host.next_producer_id(tc->host.arg, &id);
			if (err != KERR_NONE)
				return err;
			t->producer_id = id;
			t->last_producer_id = m->cur.producer_id;
			t->epoch = 0;
			t->last_epoch = expected ? m->cur.epoch : NO_PRODUCER_EPOCH;
			return KERR_NONE;
		}
		/* [prepareIncrementProducerEpoch] */
		int16_t bumped = (int16_t)(m->cur.epoch + 1);
		if (!expected) {
			t->epoch = bumped;
			t->last_epoch = NO_PRODUCER_EPOCH;
		} else if (m->cur.epoch == NO_PRODUCER_EPOCH || exp_epoch == m->cur.epoch) {
			t->epoch = bumped;
			t->last_epoch = m->cur.epoch;
		} else if (exp_epoch == m->cur.last_epoch) {
			/* A retry of a bump that worked: the same answer again. */
			t->epoch = m->cur.epoch;
			t->last_epoch = m->cur.last_epoch;
		} else {
			return KERR_PRODUCER_FENCED;
		}
		return KERR_NONE;
	case TXN_ONGOING:
		/* Fence the producer and abort its transaction first; the client retries. */
		*fence = true;
		txn_transit_copy(t, &m->cur);
		t->epoch = m->failed_fence ? m->cur.epoch : (int16_t)(m->cur.epoch + 1);
		t->last_epoch = NO_PRODUCER_EPOCH;
		t->state = TXN_PREPARE_ABORT;
		t->update_ts = now;
		return KERR_NONE;
	default:
		log_error("Transaction coordinator: %s is in state %s at InitProducerId", m->id, txn_state_name(m->cur.state));
		return KERR_UNKNOWN_SERVER_ERROR;
	}
}

void txn_handle_init_producer_id(struct txn_coordinator *tc, struct txn_request *req)
{
	const struct init_producer_id_request *ip = req->body;
	struct kstr id = ip->transactional_id;
	int32_t timeout = ip->transaction_timeout_ms;
	if (timeout <= 0 || timeout > tc->cfg.max_timeout_ms) {
		answer_init(req, KERR_INVALID_TRANSACTION_TIMEOUT, -1, -1);
		return;
	}
	pthread_mutex_lock(&tc->lock);
	int32_t partition, cepoch;
	int16_t err = txn_owner_error(tc, id.ptr, (size_t)id.len, &partition, &cepoch);
	if (err != KERR_NONE) {
		pthread_mutex_unlock(&tc->lock);
		answer_init(req, err, -1, -1);
		return;
	}
	struct txn_meta *m = txn_find(tc, id.ptr, (size_t)id.len);
	if (!m) {
		int64_t pid;
		err = tc->host.next_producer_id(tc->host.arg, &pid);
		if (err != KERR_NONE) {
			pthread_mutex_unlock(&tc->lock);
			answer_init(req, err, -1, -1);
			return;
		}
		m = txn_add(tc, id.ptr, (size_t)id.len, partition);
		m->cur.producer_id = pid;
		m->cur.timeout_ms = timeout;
		m->cur.state = TXN_EMPTY;
		m->cur.update_ts = wall_clock_ms();
	}
	struct txn_write *w = write_new(tc, W_INIT, req, m, cepoch);
	bool fence;
	err = init_transit(tc, m, timeout, ip->producer_id, ip->producer_epoch, &w->t, &fence);
	if (err == KERR_NONE) {
		w->kind = fence ? W_FENCE_ABORT : W_INIT;
		err = write_begin(tc, m, w);
	}
	pthread_mutex_unlock(&tc->lock);
	if (err != KERR_NONE) {
		write_free(w);
		answer_init(req, err, -1, -1);
		return;
	}
	txn_write_start(w);
}

/* --- AddPartitionsToTxn / AddOffsetsToTxn --------------------------------------------------------- */

/*
 * The checks of Kafka's handleAddPartitionsToTransaction (lock held): KERR_NONE
 * with *need_write when some partition is new to the transaction.
 */
static int16_t add_check(struct txn_coordinator *tc, struct kstr id, int64_t pid, int16_t epoch,
			 struct txn_meta **out, int32_t *cepoch)
{
	if (!id.ptr || id.len == 0)
		return KERR_INVALID_REQUEST;
	int16_t err = txn_owner_error(tc, id.ptr, (size_t)id.len, NULL, cepoch);
	if (err != KERR_NONE)
		return err;
	struct txn_meta *m = txn_find(tc, id.ptr, (size_t)id.len);
	if (!m || m->cur.producer_id != pid)
		return KERR_INVALID_PRODUCER_ID_MAPPING;
	if (m->cur.epoch != epoch)
		return KERR_PRODUCER_FENCED;
	if (m->pending || m->cur.state == TXN_PREPARE_COMMIT || m->cur.state == TXN_PREPARE_ABORT)
		return KERR_CONCURRENT_TRANSACTIONS;
	*out = m;
	return KERR_NONE;
}

/* The transaction with these partitions added [prepareAddPartitions]. */
static void add_transit(struct txn_meta *m, struct txn_transit *t)
{
	txn_transit_copy(t, &m->cur);
	int64_t now = wall_clock_ms();
	if (m->cur.state == TXN_EMPTY || m->cur.state == TXN_COMPLETE_COMMIT || m->cur.state == TXN_COMPLETE_ABORT) {
		t->start_ts = now;
		txn_transit_clear(t);
	}
	t->state = TXN_ONGOING;
	t->update_ts = now;
}

/* One transaction's topics, verified only (v4's verify_only) or added; errors per partition into tr. */
static int16_t add_partitions_locked(struct txn_coordinator *tc, struct kstr id, int64_t pid, int16_t epoch,
				     const struct add_partitions_to_txn_request_add_partitions_to_txn_topic *topics,
				     int n_topics, bool verify_only,
				     struct add_partitions_to_txn_response_add_partitions_to_txn_topic_result *tr,
				     struct txn_write **wout, struct txn_request *req)
{
	*wout = NULL;
	/* Unknown partitions fail the request, the rest is OPERATION_NOT_ATTEMPTED [KafkaApis]. */
	bool unknown = false;
	for (int i = 0; i < n_topics; i++)
		for (int j = 0; j < topics[i].partitions_count; j++)
			if (!tc->host.has_partition(tc->host.arg, topics[i].name, topics[i].partitions[j])) {
				tr[i].results_by_partition[j].partition_error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
				unknown = true;
			}
	if (unknown && !verify_only) {
		for (int i = 0; i < n_topics; i++)
			for (int j = 0; j < tr[i].results_by_partition_count; j++)
				if (tr[i].results_by_partition[j].partition_error_code == KERR_NONE)
					tr[i].results_by_partition[j].partition_error_code = KERR_OPERATION_NOT_ATTEMPTED;
		return KERR_NONE;
	}
	struct txn_meta *m = NULL;
	int32_t cepoch = -1;
	int16_t err = add_check(tc, id, pid, epoch, &m, &cepoch);
	if (err != KERR_NONE) {
		set_topic_errors(tr, n_topics, err);
		return err;
	}
	bool all_in = m->cur.state == TXN_ONGOING;
	for (int i = 0; i < n_topics && all_in; i++)
		for (int j = 0; j < topics[i].partitions_count && all_in; j++)
			all_in = has_tp(&m->cur, topics[i].name.ptr, (size_t)topics[i].name.len, topics[i].partitions[j]);
	if (verify_only) {
		/* [handleVerifyPartitionsInTransaction]: each partition is in the transaction or not. */
		for (int i = 0; i < n_topics; i++)
			for (int j = 0; j < topics[i].partitions_count; j++)
				if (tr[i].results_by_partition[j].partition_error_code == KERR_NONE)
					tr[i].results_by_partition[j].partition_error_code =
					    m->cur.state == TXN_ONGOING && has_tp(&m->cur, topics[i].name.ptr,
										  (size_t)topics[i].name.len,
										  topics[i].partitions[j])
						? KERR_NONE : KERR_INVALID_TXN_STATE;
		return KERR_NONE;
	}
	if (all_in)
		return KERR_NONE;
	struct txn_write *w = write_new(tc, W_ADD_PARTITIONS, req, m, cepoch);
	add_transit(m, &w->t);
	for (int i = 0; i < n_topics; i++)
		for (int j = 0; j < topics[i].partitions_count; j++)
			add_tp(&w->t, topics[i].name.ptr, (size_t)topics[i].name.len, topics[i].partitions[j]);
	err = write_begin(tc, m, w);
	if (err != KERR_NONE) {
		write_free(w);
		set_topic_errors(tr, n_topics, err);
		return err;
	}
	*wout = w;
	return KERR_NONE;
}

void txn_handle_add_partitions(struct txn_coordinator *tc, struct txn_request *req)
{
	const struct add_partitions_to_txn_request *ap = req->body;
	struct add_partitions_to_txn_response *resp = arena_alloc(req->arena, sizeof *resp);
	add_partitions_to_txn_response_init(resp);
	if (req->api_version <= 3) {
		int n = ap->v3_and_below_topics_count > 0 ? ap->v3_and_below_topics_count : 0;
		resp->results_by_topic_v3_and_below = topic_results(req->arena, ap->v3_and_below_topics, n, KERR_NONE);
		resp->results_by_topic_v3_and_below_count = n;
		struct txn_write *w;
		pthread_mutex_lock(&tc->lock);
		(void)add_partitions_locked(tc, ap->v3_and_below_transactional_id, ap->v3_and_below_producer_id,
					    ap->v3_and_below_producer_epoch, ap->v3_and_below_topics, n, false,
					    resp->results_by_topic_v3_and_below, &w, req);
		pthread_mutex_unlock(&tc->lock);
		if (w) {
			w->resp = resp;
			txn_write_start(w);
			return;
		}
		req->respond(req, resp);
		return;
	}
	/* v4+: brokers' batched form, answered once every transaction's write is replicated. */
	int nt = ap->transactions_count > 0 ? ap->transactions_count : 0;
	struct txn_add_batch *batch = arena_alloc(req->arena, sizeof *batch);
	*batch = (struct txn_add_batch){ .remaining = 1, .req = req, .resp = resp };
	struct txn_write **ws = arena_alloc(req->arena, sizeof *ws * (size_t)(nt ? nt : 1));
	int n_ws = 0;
	resp->results_by_transaction = arena_alloc(req->arena, sizeof *resp->results_by_transaction * (size_t)(nt ? nt : 1));
	resp->results_by_transaction_count = nt;
	for (int i = 0; i < nt; i++) {
		const struct add_partitions_to_txn_request_add_partitions_to_txn_transaction *t = &ap->transactions[i];
		struct add_partitions_to_txn_response_add_partitions_to_txn_result *r = &resp->results_by_transaction[i];
		add_partitions_to_txn_response_add_partitions_to_txn_result_init(r);
		int n = t->topics_count > 0 ? t->topics_count : 0;
		r->transactional_id = t->transactional_id;
		r->topic_results = topic_results(req->arena, t->topics, n, KERR_NONE);
		r->topic_results_count = n;
		struct txn_write *w;
		pthread_mutex_lock(&tc->lock);
		(void)add_partitions_locked(tc, t->transactional_id, t->producer_id, t->producer_epoch, t->topics, n,
					    t->verify_only, r->topic_results, &w, NULL);
		pthread_mutex_unlock(&tc->lock);
		if (w) {
			w->batch = batch;
			w->topic_results = r->topic_results;
			w->n_topic_results = n;
			__atomic_add_fetch(&batch->remaining, 1, __ATOMIC_ACQ_REL);
			ws[n_ws++] = w;
		}
	}
	for (int i = 0; i < n_ws; i++)
		txn_write_start(ws[i]);
	if (__atomic_sub_fetch(&batch->remaining, 1, __ATOMIC_ACQ_REL) == 0)
		req->respond(req, resp);
}

void txn_handle_add_offsets(struct txn_coordinator *tc, struct txn_request *req)
{
	const struct add_offsets_to_txn_request *ao = req->body;
	if (!ao->group_id.ptr) {
		answer_error(req, W_ADD_OFFSETS, KERR_INVALID_REQUEST);
		return;
	}
	int32_t p = tc->host.offsets_partition_for(tc->host.arg, ao->group_id.ptr, (size_t)ao->group_id.len);
	const char *topic = "__consumer_offsets";
	pthread_mutex_lock(&tc->lock);
	struct txn_meta *m = NULL;
	int32_t cepoch = -1;
	int16_t err = add_check(tc, ao->transactional_id, ao->producer_id, ao->producer_epoch, &m, &cepoch);
	struct txn_write *w = NULL;
	if (err == KERR_NONE && !(m->cur.state == TXN_ONGOING && has_tp(&m->cur, topic, strlen(topic), p))) {
		w = write_new(tc, W_ADD_OFFSETS, req, m, cepoch);
		add_transit(m, &w->t);
		add_tp(&w->t, topic, strlen(topic), p);
		err = write_begin(tc, m, w);
		if (err != KERR_NONE) {
			write_free(w);
			w = NULL;
		}
	}
	pthread_mutex_unlock(&tc->lock);
	if (w) {
		txn_write_start(w);
		return;
	}
	answer_error(req, W_ADD_OFFSETS, err);
}

/* --- EndTxn ---------------------------------------------------------------------------------- */

void txn_handle_end_txn(struct txn_coordinator *tc, struct txn_request *req)
{
	const struct end_txn_request *et = req->body;
	struct kstr id = et->transactional_id;
	bool commit = et->committed;
	if (!id.ptr || id.len == 0) {
		answer_error(req, W_END, KERR_INVALID_REQUEST);
		return;
	}
	pthread_mutex_lock(&tc->lock);
	int32_t cepoch = -1;
	int16_t err = txn_owner_error(tc, id.ptr, (size_t)id.len, NULL, &cepoch);
	struct txn_meta *m = err == KERR_NONE ? txn_find(tc, id.ptr, (size_t)id.len) : NULL;
	struct txn_write *w = NULL;
	if (err != KERR_NONE)
		;
	else if (!m || m->cur.producer_id != et->producer_id)
		err = KERR_INVALID_PRODUCER_ID_MAPPING;
	else if (et->producer_epoch != m->cur.epoch)
		err = KERR_PRODUCER_FENCED;
	else if (m->pending)
		err = KERR_CONCURRENT_TRANSACTIONS;
	else {
		switch (m->cur.state) {
		case TXN_ONGOING:
			w = write_new(tc, W_END, req, m, cepoch);
			txn_transit_copy(&w->t, &m->cur);
			w->t.state = commit ? TXN_PREPARE_COMMIT : TXN_PREPARE_ABORT;
			w->t.update_ts = wall_clock_ms();
			err = write_begin(tc, m, w);
			if (err != KERR_NONE) {
				write_free(w);
				w = NULL;
			}
			break;
		/* A retry of an EndTxn that was done is fine; the other way round is not. */
		case TXN_COMPLETE_COMMIT: err = commit ? KERR_NONE : KERR_INVALID_TXN_STATE; break;
		case TXN_COMPLETE_ABORT: err = commit ? KERR_INVALID_TXN_STATE : KERR_NONE; break;
		case TXN_PREPARE_COMMIT: err = commit ? KERR_CONCURRENT_TRANSACTIONS : KERR_INVALID_TXN_STATE; break;
		case TXN_PREPARE_ABORT: err = commit ? KERR_INVALID_TXN_STATE : KERR_CONCURRENT_TRANSACTIONS; break;
		default: err = KERR_INVALID_TXN_STATE; break;
		}
	}
	pthread_mutex_unlock(&tc->lock);
	if (w) {
		txn_write_start(w);
		return;
	}
	answer_error(req, W_END, err);
}

/* --- the coordinator's own moves (lock held) ------------------------------------------------------ */

void txn_abort_timed_out(struct txn_coordinator *tc, int64_t now)
{
	struct txn_write *ws[64];
	int n = 0;
	for (int i = 0; i < tc->n_txns && n < 64; i++) {
		struct txn_meta *m = tc->txns[i];
		if (m->pending || m->cur.state != TXN_ONGOING || m->cur.start_ts + m->cur.timeout_ms > now)
			continue;
		if (!coord_partitions_owned(&tc->cp, m->partition))
			continue;
		if (epoch_exhausted(m->cur.epoch))
			continue;
		/* Abort with a bumped epoch, so the hung producer is fenced [abortTimedOutTransactions]. */
		struct txn_write *w = write_new(tc, W_TIMEOUT_ABORT, NULL, m, tc->cp.parts[m->partition].leader_epoch);
		txn_transit_copy(&w->t, &m->cur);
		w->t.epoch = m->failed_fence ? m->cur.epoch : (int16_t)(m->cur.epoch + 1);
		w->t.last_epoch = NO_PRODUCER_EPOCH;
		w->t.state = TXN_PREPARE_ABORT;
		w->t.update_ts = now;
		log_info("Transaction coordinator: aborting %s (producer %" PRId64 " epoch %d), past its timeout of %d ms",
			 m->id, m->cur.producer_id, m->cur.epoch, m->cur.timeout_ms);
		if (write_begin(tc, m, w) != KERR_NONE) {
			m->failed_fence = true;
			write_free(w);
			continue;
		}
		ws[n++] = w;
	}
	if (n == 0)
		return;
	pthread_mutex_unlock(&tc->lock);
	for (int i = 0; i < n; i++)
		txn_write_start(ws[i]);
	pthread_mutex_lock(&tc->lock);
}

void txn_expire_ids(struct txn_coordinator *tc, int64_t now)
{
	for (int i = 0; i < tc->n_txns;) {
		struct txn_meta *m = tc->txns[i];
		bool idle = m->cur.state == TXN_EMPTY || m->cur.state == TXN_COMPLETE_COMMIT ||
			    m->cur.state == TXN_COMPLETE_ABORT;
		if (m->pending || !idle || m->cur.update_ts + tc->cfg.expiration_ms > now ||
		    !coord_partitions_owned(&tc->cp, m->partition)) {
			i++;
			continue;
		}
		/* A tombstone, then gone [removeExpiredTransactionalIds]. */
		int64_t required;
		if (txn_append(tc, m->partition, m->id, NULL, &required) != KERR_NONE) {
			i++;
			continue;
		}
		log_info("Transaction coordinator: transactional id %s expired (idle since %" PRId64 ")", m->id,
			 m->cur.update_ts);
		txn_remove(tc, m);
	}
}

/* --- DescribeTransactions / ListTransactions ------------------------------------------------------- */

static void describe_topics(struct arena *a, const struct txn_transit *t,
			    struct describe_transactions_response_transaction_state *s)
{
	int n = t->n_tps;
	s->topics = arena_alloc(a, sizeof *s->topics * (size_t)(n ? n : 1));
	s->topics_count = 0;
	for (int i = 0; i < n; i++) {
		struct describe_transactions_response_topic_data *td = NULL;
		for (int k = 0; k < s->topics_count; k++)
			if (strcmp(s->topics[k].topic.ptr, t->tps[i].topic) == 0)
				td = &s->topics[k];
		if (!td) {
			td = &s->topics[s->topics_count++];
			describe_transactions_response_topic_data_init(td);
			td->topic = kstr_c(arena_strndup(a, t->tps[i].topic, strlen(t->tps[i].topic)));
			td->partitions = arena_alloc(a, sizeof *td->partitions * (size_t)n);
			td->partitions_count = 0;
		}
		td->partitions[td->partitions_count++] = t->tps[i].partition;
	}
}

void txn_handle_describe_transactions(struct txn_coordinator *tc, struct txn_request *req)
{
	const struct describe_transactions_request *dq = req->body;
	struct describe_transactions_response resp;
	describe_transactions_response_init(&resp);
	int n = dq->transactional_ids_count > 0 ? dq->transactional_ids_count : 0;
	resp.transaction_states = arena_alloc(req->arena, sizeof *resp.transaction_states * (size_t)(n ? n : 1));
	resp.transaction_states_count = n;
	pthread_mutex_lock(&tc->lock);
	for (int i = 0; i < n; i++) {
		struct kstr id = dq->transactional_ids[i];
		struct describe_transactions_response_transaction_state *s = &resp.transaction_states[i];
		describe_transactions_response_transaction_state_init(s);
		s->transactional_id = id;
		s->transaction_state = kstr_c("");
		s->producer_id = -1;
		s->producer_epoch = -1;
		s->transaction_start_time_ms = -1;
		s->topics_count = 0;
		if (!id.ptr) {
			s->error_code = KERR_TRANSACTIONAL_ID_NOT_FOUND;
			continue;
		}
		s->error_code = txn_owner_error(tc, id.ptr, (size_t)id.len, NULL, NULL);
		if (s->error_code != KERR_NONE)
			continue;
		struct txn_meta *m = txn_find(tc, id.ptr, (size_t)id.len);
		if (!m || m->cur.state == TXN_DEAD) {
			s->error_code = KERR_TRANSACTIONAL_ID_NOT_FOUND;
			continue;
		}
		s->transaction_state = kstr_c(txn_state_name(m->cur.state));
		s->transaction_timeout_ms = m->cur.timeout_ms;
		s->transaction_start_time_ms = m->cur.start_ts;
		s->producer_id = m->cur.producer_id;
		s->producer_epoch = m->cur.epoch;
		describe_topics(req->arena, &m->cur, s);
	}
	pthread_mutex_unlock(&tc->lock);
	req->respond(req, &resp);
}

static int state_by_name(struct kstr s)
{
	for (int st = TXN_EMPTY; st <= TXN_PREPARE_EPOCH_FENCE; st++) {
		const char *name = txn_state_name(st);
		if ((size_t)s.len == strlen(name) && memcmp(s.ptr, name, (size_t)s.len) == 0)
			return st;
	}
	return -1;
}

void txn_handle_list_transactions(struct txn_coordinator *tc, struct txn_request *req)
{
	const struct list_transactions_request *lq = req->body;
	struct list_transactions_response resp;
	list_transactions_response_init(&resp);
	int nf = lq->state_filters_count > 0 ? lq->state_filters_count : 0;
	bool want[TXN_PREPARE_EPOCH_FENCE + 1] = { false };
	int n_known = 0;
	resp.unknown_state_filters = arena_alloc(req->arena, sizeof *resp.unknown_state_filters * (size_t)(nf ? nf : 1));
	resp.unknown_state_filters_count = 0;
	for (int i = 0; i < nf; i++) {
		int st = lq->state_filters[i].ptr ? state_by_name(lq->state_filters[i]) : -1;
		if (st < 0)
			resp.unknown_state_filters[resp.unknown_state_filters_count++] = lq->state_filters[i];
		else {
			want[st] = true;
			n_known++;
		}
	}
	int64_t now = wall_clock_ms();
	pthread_mutex_lock(&tc->lock);
	if (!tc->running)
		resp.error_code = KERR_COORDINATOR_NOT_AVAILABLE;
	for (int32_t p = 0; p < tc->cp.n_parts && resp.error_code == KERR_NONE; p++)
		if (tc->cp.parts[p].state == PART_LOADING)
			resp.error_code = KERR_COORDINATOR_LOAD_IN_PROGRESS;
	/* Unknown filters only: nothing can match [Kafka's listTransactionStates]. */
	bool none = nf > 0 && n_known == 0;
	resp.transaction_states = arena_alloc(req->arena, sizeof *resp.transaction_states * (size_t)(tc->n_txns ? tc->n_txns : 1));
	resp.transaction_states_count = 0;
	for (int i = 0; i < tc->n_txns && resp.error_code == KERR_NONE && !none; i++) {
		struct txn_meta *m = tc->txns[i];
		if (!coord_partitions_owned(&tc->cp, m->partition))
			continue;
		if (n_known > 0 && !want[m->cur.state])
			continue;
		if (lq->producer_id_filters_count > 0) {
			bool hit = false;
			for (int k = 0; k < lq->producer_id_filters_count; k++)
				hit |= lq->producer_id_filters[k] == m->cur.producer_id;
			if (!hit)
				continue;
		}
		/* v1: only transactions that started more than duration_filter ms ago. */
		if (m->cur.state == TXN_DEAD || (lq->duration_filter >= 0 && now - m->cur.start_ts <= lq->duration_filter))
			continue;
		struct list_transactions_response_transaction_state *s =
		    &resp.transaction_states[resp.transaction_states_count++];
		list_transactions_response_transaction_state_init(s);
		s->transactional_id = kstr_c(arena_strndup(req->arena, m->id, strlen(m->id)));
		s->producer_id = m->cur.producer_id;
		s->transaction_state = kstr_c(txn_state_name(m->cur.state));
	}
	pthread_mutex_unlock(&tc->lock);
	req->respond(req, &resp);
}
