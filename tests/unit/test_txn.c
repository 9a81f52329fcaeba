/*
 * The transaction coordinator against a fake host: an in-memory
 * __transaction_state log, producer ids from a counter, markers recorded
 * (and refused on demand).  Kafka's state machine through its requests, the
 * records it writes decoded back, and a second coordinator that loads the
 * log and completes what the first left in Prepare*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "samsa/config.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/txn.h"
#include "samsa/util/arena.h"
#include "samsa/util/endian.h"
#include "txn/txn_internal.h"

#define N_PARTS 4

struct fake {
	pthread_mutex_t m;
	struct wbuf log[N_PARTS];
	int64_t next_offset[N_PARTS];
	int64_t next_pid;
	bool markers_fail;
	int marker_calls;
	int32_t last_marker_epoch;
	bool last_marker_commit;
	int last_marker_partitions;
};

static int16_t f_append(void *arg, int32_t partition, uint8_t *records, size_t len, int64_t *wait_offset)
{
	struct fake *f = arg;
	pthread_mutex_lock(&f->m);
	struct record_batch b;
	assert_int_equal(record_batch_parse(records, len, &b), KERR_NONE);
	be64_store(records, (uint64_t)f->next_offset[partition]);
	f->next_offset[partition] += b.record_count;
	memcpy(wbuf_extend(&f->log[partition], len), records, len);
	*wait_offset = f->next_offset[partition];
	pthread_mutex_unlock(&f->m);
	return KERR_NONE;
}

static int16_t f_read(void *arg, int32_t partition, int64_t offset, size_t max_bytes, struct wbuf *out,
		      int64_t *log_start)
{
	(void)max_bytes;
	struct fake *f = arg;
	wbuf_reset(out);
	*log_start = 0;
	if (offset < 0)
		return KERR_OFFSET_OUT_OF_RANGE;
	pthread_mutex_lock(&f->m);
	if (offset < f->next_offset[partition])
		memcpy(wbuf_extend(out, f->log[partition].len), f->log[partition].data, f->log[partition].len);
	pthread_mutex_unlock(&f->m);
	return KERR_NONE;
}

static bool f_replicated(void *arg, int32_t partition, int64_t required, int16_t *err)
{
	(void)arg, (void)partition, (void)required;
	*err = KERR_NONE;
	return true;
}

static int16_t f_next_pid(void *arg, int64_t *out)
{
	struct fake *f = arg;
	pthread_mutex_lock(&f->m);
	*out = f->next_pid++;
	pthread_mutex_unlock(&f->m);
	return KERR_NONE;
}

static bool f_has_partition(void *arg, struct kstr topic, int32_t partition)
{
	(void)arg, (void)partition;
	return !(topic.len == 7 && memcmp(topic.ptr, "missing", 7) == 0);
}

static int32_t f_offsets_partition(void *arg, const char *group, size_t len)
{
	(void)arg, (void)group, (void)len;
	return 3;
}

static void f_write_markers(void *arg, struct txn_marker *m)
{
	struct fake *f = arg;
	pthread_mutex_lock(&f->m);
	f->marker_calls++;
	f->last_marker_epoch = m->coordinator_epoch;
	f->last_marker_commit = m->commit;
	f->last_marker_partitions = m->n_partitions;
	for (int i = 0; i < m->n_partitions; i++)
		m->partitions[i].error = f->markers_fail ? KERR_NOT_LEADER_OR_FOLLOWER : KERR_NONE;
	pthread_mutex_unlock(&f->m);
}

static struct fake fake;

static struct txn_host fake_host(void)
{
	return (struct txn_host){ .arg = &fake, .append = f_append, .read = f_read, .replicated = f_replicated,
				  .park = NULL, .next_producer_id = f_next_pid, .has_partition = f_has_partition,
				  .offsets_partition_for = f_offsets_partition, .write_markers = f_write_markers };
}

/* --- requests ------------------------------------------------------------------------- */

static struct {
	int16_t error;
	int64_t pid;
	int16_t epoch;
	char state[32];
	int n_topics;
	int16_t part_errors[8];
	int n_parts;
} got;

static void respond(struct txn_request *req, const void *resp)
{
	intptr_t api = (intptr_t)req->token;
	memset(&got, 0, sizeof got);
	switch (api) {
	case API_INIT_PRODUCER_ID: {
		const struct init_producer_id_response *r = resp;
		got.error = r->error_code;
		got.pid = r->producer_id;
		got.epoch = r->producer_epoch;
		break;
	}
	case API_ADD_PARTITIONS_TO_TXN: {
		const struct add_partitions_to_txn_response *r = resp;
		for (int i = 0; i < r->results_by_topic_v3_and_below_count; i++)
			for (int j = 0; j < r->results_by_topic_v3_and_below[i].results_by_partition_count; j++)
				got.part_errors[got.n_parts++] =
				    r->results_by_topic_v3_and_below[i].results_by_partition[j].partition_error_code;
		break;
	}
	case API_END_TXN: got.error = ((const struct end_txn_response *)resp)->error_code; break;
	case API_DESCRIBE_TRANSACTIONS: {
		const struct describe_transactions_response *r = resp;
		got.error = r->transaction_states[0].error_code;
		got.pid = r->transaction_states[0].producer_id;
		got.epoch = r->transaction_states[0].producer_epoch;
		snprintf(got.state, sizeof got.state, "%.*s", r->transaction_states[0].transaction_state.len,
			 r->transaction_states[0].transaction_state.ptr);
		got.n_topics = r->transaction_states[0].topics_count;
		break;
	}
	default: fail();
	}
	arena_free(req->arena);
	free(req->arena);
	free(req);
}

static struct txn_request *req_new(int api, int16_t version, void *body)
{
	struct txn_request *r = calloc(1, sizeof *r);
	r->arena = calloc(1, sizeof *r->arena);
	arena_init(r->arena);
	r->api_version = version;
	r->body = body;
	r->respond = respond;
	r->token = (void *)(intptr_t)api;
	return r;
}

static int16_t init_pid(struct txn_coordinator *tc, const char *id, int32_t timeout)
{
	struct init_producer_id_request q;
	init_producer_id_request_init(&q);
	q.transactional_id = kstr_c(id);
	q.transaction_timeout_ms = timeout;
	txn_handle_init_producer_id(tc, req_new(API_INIT_PRODUCER_ID, 1, &q));
	return got.error;
}

static void add_parts(struct txn_coordinator *tc, const char *id, int64_t pid, int16_t epoch, const char *topic)
{
	struct add_partitions_to_txn_request q;
	add_partitions_to_txn_request_init(&q);
	int32_t parts[2] = { 0, 1 };
	struct add_partitions_to_txn_request_add_partitions_to_txn_topic t = { kstr_c(topic), parts, 2 };
	q.v3_and_below_transactional_id = kstr_c(id);
	q.v3_and_below_producer_id = pid;
	q.v3_and_below_producer_epoch = epoch;
	q.v3_and_below_topics = &t;
	q.v3_and_below_topics_count = 1;
	txn_handle_add_partitions(tc, req_new(API_ADD_PARTITIONS_TO_TXN, 3, &q));
}

static int16_t end_txn(struct txn_coordinator *tc, const char *id, int64_t pid, int16_t epoch, bool commit)
{
	struct end_txn_request q = { kstr_c(id), pid, epoch, commit };
	txn_handle_end_txn(tc, req_new(API_END_TXN, 3, &q));
	return got.error;
}

static const char *describe(struct txn_coordinator *tc, const char *id)
{
	struct describe_transactions_request q;
	struct kstr ids[1] = { kstr_c(id) };
	q.transactional_ids = ids;
	q.transactional_ids_count = 1;
	txn_handle_describe_transactions(tc, req_new(API_DESCRIBE_TRANSACTIONS, 0, &q));
	return got.state;
}

static bool wait_state(struct txn_coordinator *tc, const char *id, const char *state)
{
	for (int i = 0; i < 400; i++) {
		if (strcmp(describe(tc, id), state) == 0)
			return true;
		usleep(10000);
	}
	return false;
}

/* The states written for id, in order, decoded from the fake log. */
static int logged_states(const char *id, int *out, int cap)
{
	int n = 0;
	for (int p = 0; p < N_PARTS; p++) {
		size_t pos = 0;
		struct wbuf *w = &fake.log[p];
		while (pos < w->len) {
			struct record_batch b;
			int64_t base;
			uint32_t size;
			int8_t magic;
			assert_true(record_batch_peek(w->data + pos, w->len - pos, &base, &size, &magic));
			assert_int_equal(record_batch_parse(w->data + pos, size, &b), KERR_NONE);
			struct record_iter it;
			struct record rec;
			record_iter_init(&it, record_batch_records(&b), record_batch_records_len(&b), b.record_count);
			while (record_iter_next(&it, &rec)) {
				char *rid = NULL;
				struct txn_transit t;
				int rc = txn_record_decode(rec.key.ptr, rec.key.len, rec.value.ptr, rec.value.len, &rid, &t);
				assert_true(rc >= 0);
				if (strcmp(rid, id) == 0 && n < cap)
					out[n++] = rc == 1 ? t.state : TXN_DEAD;
				if (rc == 1)
					txn_transit_clear(&t);
				free(rid);
			}
			pos += size;
		}
	}
	return n;
}

static struct config *test_config_with(const char *extra)
{
	char *err = NULL;
	char text[512];
	snprintf(text, sizeof text, "zookeeper.connect=127.0.0.1:2181\nbroker.id=1\ntransaction.max.timeout.ms=60000\n%s",
		 extra);
	struct config *c = config_load_string(text, NULL, 0, &err);
	assert_non_null(c);
	return c;
}

static struct config *test_config(void) { return test_config_with(""); }

static struct txn_coordinator *coordinator(struct config *c, int32_t epoch)
{
	struct txn_host host = fake_host();
	struct txn_coordinator *tc = txn_coordinator_new(c, &host);
	txn_coordinator_set_topic_partitions(tc, N_PARTS);
	txn_coordinator_start(tc);
	for (int p = 0; p < N_PARTS; p++)
		txn_coordinator_on_leadership(tc, p, true, epoch);
	/* Until the partitions are loaded. */
	for (int i = 0; i < 400; i++) {
		describe(tc, "probe");
		if (got.error != KERR_COORDINATOR_LOAD_IN_PROGRESS)
			break;
		usleep(10000);
	}
	return tc;
}

static void test_commit_and_failover(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof fake);
	pthread_mutex_init(&fake.m, NULL);
	for (int p = 0; p < N_PARTS; p++)
		wbuf_init(&fake.log[p]);
	fake.next_pid = 1000;
	struct config *c = test_config();
	struct txn_coordinator *tc = coordinator(c, 5);

	assert_int_equal(init_pid(tc, "a", 60001), KERR_INVALID_TRANSACTION_TIMEOUT);
	assert_int_equal(init_pid(tc, "a", 30000), KERR_NONE);
	int64_t pid = got.pid;
	assert_int_equal(pid, 1000);
	assert_int_equal(got.epoch, 0);
	assert_int_equal(end_txn(tc, "a", pid, 0, true), KERR_INVALID_TXN_STATE);
	add_parts(tc, "a", pid, 1, "t");
	assert_int_equal(got.part_errors[0], KERR_PRODUCER_FENCED);
	add_parts(tc, "a", pid, 0, "missing");
	assert_int_equal(got.part_errors[0], KERR_UNKNOWN_TOPIC_OR_PARTITION);
	add_parts(tc, "a", pid, 0, "t");
	assert_int_equal(got.n_parts, 2);
	assert_int_equal(got.part_errors[0], KERR_NONE);
	assert_string_equal(describe(tc, "a"), "Ongoing");
	assert_int_equal(end_txn(tc, "a", pid, 0, true), KERR_NONE);
	assert_true(wait_state(tc, "a", "CompleteCommit"));
	assert_int_equal(fake.marker_calls, 1);
	assert_int_equal(fake.last_marker_epoch, 5);
	assert_true(fake.last_marker_commit);
	assert_int_equal(fake.last_marker_partitions, 2);
	assert_int_equal(end_txn(tc, "a", pid, 0, true), KERR_NONE); /* a retry */
	assert_int_equal(end_txn(tc, "a", pid, 0, false), KERR_INVALID_TXN_STATE);
	int st[16];
	int n = logged_states("a", st, 16);
	int want[] = { TXN_EMPTY, TXN_ONGOING, TXN_PREPARE_COMMIT, TXN_COMPLETE_COMMIT };
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(st[i], want[i]);

	/* A transaction left in PrepareAbort: markers refused, then the coordinator goes. */
	fake.markers_fail = true;
	assert_int_equal(init_pid(tc, "b", 30000), KERR_NONE);
	int64_t pid_b = got.pid;
	add_parts(tc, "b", pid_b, 0, "t");
	assert_int_equal(end_txn(tc, "b", pid_b, 0, false), KERR_NONE);
	usleep(300000);
	assert_string_equal(describe(tc, "b"), "PrepareAbort");
	assert_int_equal(end_txn(tc, "b", pid_b, 0, false), KERR_CONCURRENT_TRANSACTIONS);
	for (int p = 0; p < N_PARTS; p++)
		txn_coordinator_on_leadership(tc, p, false, 5);
	usleep(100000);
	describe(tc, "b");
	assert_int_equal(got.error, KERR_NOT_COORDINATOR);
	txn_coordinator_stop(tc);
	txn_coordinator_free(tc);

	/* The new leader loads the log and completes b with its own coordinator epoch. */
	fake.markers_fail = false;
	struct txn_coordinator *tc2 = coordinator(c, 6);
	assert_true(wait_state(tc2, "b", "CompleteAbort"));
	assert_int_equal(fake.last_marker_epoch, 6);
	assert_false(fake.last_marker_commit);
	assert_string_equal(describe(tc2, "a"), "CompleteCommit");
	/* The loaded id goes on: the next epoch. */
	assert_int_equal(init_pid(tc2, "a", 30000), KERR_NONE);
	assert_int_equal(got.pid, pid);
	assert_int_equal(got.epoch, 1);
	txn_coordinator_stop(tc2);
	txn_coordinator_free(tc2);
	config_free(c);
	for (int p = 0; p < N_PARTS; p++)
		wbuf_free(&fake.log[p]);
}

static void test_fence_ongoing(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof fake);
	pthread_mutex_init(&fake.m, NULL);
	for (int p = 0; p < N_PARTS; p++)
		wbuf_init(&fake.log[p]);
	fake.next_pid = 7;
	struct config *c = test_config();
	struct txn_coordinator *tc = coordinator(c, 1);
	assert_int_equal(init_pid(tc, "z", 30000), KERR_NONE);
	int64_t pid = got.pid;
	add_parts(tc, "z", pid, 0, "t");
	/* A second producer: the open transaction is aborted at epoch 1, it retries and gets 2. */
	assert_int_equal(init_pid(tc, "z", 30000), KERR_CONCURRENT_TRANSACTIONS);
	assert_true(wait_state(tc, "z", "CompleteAbort"));
	assert_int_equal(got.epoch, 1);
	assert_int_equal(end_txn(tc, "z", pid, 0, true), KERR_PRODUCER_FENCED);
	assert_int_equal(init_pid(tc, "z", 30000), KERR_NONE);
	assert_int_equal(got.pid, pid);
	assert_int_equal(got.epoch, 2);
	txn_coordinator_stop(tc);
	txn_coordinator_free(tc);
	config_free(c);
	for (int p = 0; p < N_PARTS; p++)
		wbuf_free(&fake.log[p]);
}

static void fake_reset(int64_t next_pid)
{
	memset(&fake, 0, sizeof fake);
	pthread_mutex_init(&fake.m, NULL);
	for (int p = 0; p < N_PARTS; p++)
		wbuf_init(&fake.log[p]);
	fake.next_pid = next_pid;
}

/* A hung transaction is aborted with a bumped epoch at its timeout; an idle id expires with a tombstone. */
static void test_timeout_and_expiry(void **state)
{
	(void)state;
	fake_reset(50);
	struct config *c = test_config_with("transaction.abort.timed.out.transaction.cleanup.interval.ms=50\n"
					    "transactional.id.expiration.ms=400\n"
					    "transaction.remove.expired.transaction.cleanup.interval.ms=50\n");
	struct txn_coordinator *tc = coordinator(c, 3);
	assert_int_equal(init_pid(tc, "hung", 100), KERR_NONE);
	int64_t pid = got.pid;
	add_parts(tc, "hung", pid, 0, "t");
	assert_true(wait_state(tc, "hung", "CompleteAbort"));
	assert_int_equal(got.epoch, 1);
	assert_false(fake.last_marker_commit);
	assert_int_equal(end_txn(tc, "hung", pid, 0, true), KERR_PRODUCER_FENCED);
	/* Idle now: expired after transactional.id.expiration.ms. */
	for (int i = 0; i < 200; i++) {
		describe(tc, "hung");
		if (got.error == KERR_TRANSACTIONAL_ID_NOT_FOUND)
			break;
		usleep(10000);
	}
	assert_int_equal(got.error, KERR_TRANSACTIONAL_ID_NOT_FOUND);
	int st[16];
	int n = logged_states("hung", st, 16);
	int want[] = { TXN_EMPTY, TXN_ONGOING, TXN_PREPARE_ABORT, TXN_COMPLETE_ABORT, TXN_DEAD };
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(st[i], want[i]);
	txn_coordinator_stop(tc);
	txn_coordinator_free(tc);
	config_free(c);
	for (int p = 0; p < N_PARTS; p++)
		wbuf_free(&fake.log[p]);
}

static void test_java_hash(void **state)
{
	(void)state;
	/* "hello".hashCode() == 99162322; a non-ASCII id hashes over UTF-16 units. */
	assert_int_equal(txn_java_string_hash("hello", 5), 99162322);
	assert_int_equal(txn_java_string_hash("\xc3\xa9", 2), 0xe9);
	assert_string_equal(txn_state_name(TXN_PREPARE_EPOCH_FENCE), "PrepareEpochFence");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_java_hash),
		cmocka_unit_test(test_commit_and_failover),
		cmocka_unit_test(test_fence_ongoing),
		cmocka_unit_test(test_timeout_and_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
