/*
 * The fetch session cache (KIP-227), driven without sockets and with the
 * clock passed in: full fetches (epoch 0 makes a session, -1 does not),
 * incremental fetches that add, update and forget partitions, the epoch
 * sequence and its errors, closing, which partitions an incremental answer
 * must carry, the order they are read in, and the cache's size limit and
 * eviction order as Kafka's FetchSessionCacheShard decides them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/fetch_session.h"
#include "samsa/util/arena.h"
#include "samsa/proto.h"

#define T0 1000000

static struct fetch_target tgt(const char *topic, int32_t partition, int64_t offset)
{
	struct fetch_target t;
	memset(&t, 0, sizeof t);
	t.topic = (struct kstr){ topic, (int32_t)strlen(topic) };
	t.partition = partition;
	t.fetch_offset = offset;
	t.max_bytes = 1048576;
	t.current_leader_epoch = -1;
	t.last_fetched_epoch = -1;
	t.sent_hw = t.sent_log_start = -1;
	return t;
}

/* One request against the cache; the plan lives in *a. */
static struct fetch_session_plan fetch(struct fetch_session_cache *c, struct arena *a, int32_t id, int32_t epoch,
				       const struct fetch_target *parts, size_t n, const struct fetch_target *forget,
				       size_t n_forget, int64_t now, bool privileged)
{
	struct fetch_session_request r = {
		.session_id = id,
		.epoch = epoch,
		.parts = parts,
		.n_parts = n,
		.forgotten = forget,
		.n_forgotten = n_forget,
		.now_ms = now,
		.privileged = privileged,
	};
	struct fetch_session_plan p;
	fetch_session_begin(c, &r, a, &p);
	return p;
}

/* A full fetch (epoch 0) of n partitions t-0..t-(n-1); returns the session id. */
static int32_t new_session(struct fetch_session_cache *c, const char *topic, size_t n, int64_t now, bool privileged)
{
	struct arena a;
	arena_init(&a);
	struct fetch_target parts[16];
	for (size_t i = 0; i < n; i++)
		parts[i] = tgt(topic, (int32_t)i, 0);
	struct fetch_session_plan p = fetch(c, &a, 0, 0, parts, n, NULL, 0, now, privileged);
	assert_int_equal(p.error, KERR_NONE);
	arena_free(&a);
	return p.session_id;
}

/* An incremental fetch naming nothing: the session is used, nothing changes. */
static int16_t touch(struct fetch_session_cache *c, int32_t id, int32_t epoch, int64_t now)
{
	struct arena a;
	arena_init(&a);
	struct fetch_session_plan p = fetch(c, &a, id, epoch, NULL, 0, NULL, 0, now, false);
	arena_free(&a);
	return p.error;
}

static bool same_name(const struct fetch_target *t, const char *topic, int32_t partition)
{
	return t->partition == partition && t->topic.len == (int32_t)strlen(topic) &&
	       memcmp(t->topic.ptr, topic, (size_t)t->topic.len) == 0;
}

static void test_full_fetch_creates_session(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	struct fetch_target parts[2] = { tgt("a", 0, 10), tgt("a", 1, 20) };
	struct fetch_session_plan p = fetch(c, &a, 0, FETCH_SESSION_INITIAL_EPOCH, parts, 2, NULL, 0, T0, false);
	assert_int_equal(p.error, KERR_NONE);
	assert_true(p.session_id > 0);
	assert_false(p.incremental);
	assert_int_equal(p.n_parts, 2);
	assert_true(same_name(&p.parts[0], "a", 0));
	assert_int_equal(p.parts[0].fetch_offset, 10);
	assert_true(same_name(&p.parts[1], "a", 1));
	assert_int_equal(p.parts[1].fetch_offset, 20);
	assert_int_equal(p.parts[0].sent_hw, -1);
	assert_int_equal(fetch_session_count(c), 1);
	/* Two full fetches get two different sessions. */
	struct fetch_session_plan q = fetch(c, &a, 0, 0, parts, 2, NULL, 0, T0, false);
	assert_true(q.session_id > 0);
	assert_int_not_equal(q.session_id, p.session_id);
	assert_int_equal(fetch_session_count(c), 2);
	arena_free(&a);
	fetch_session_cache_free(c);
}

static void test_sessionless_fetch(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	struct fetch_target parts[3] = { tgt("a", 0, 1), tgt("b", 0, 2), tgt("b", 1, 3) };
	struct fetch_session_plan p = fetch(c, &a, 0, FETCH_SESSION_FINAL_EPOCH, parts, 3, NULL, 0, T0, false);
	assert_int_equal(p.error, KERR_NONE);
	assert_int_equal(p.session_id, 0);
	assert_false(p.incremental);
	assert_int_equal(p.n_parts, 3);
	assert_int_equal(p.parts[2].fetch_offset, 3);
	assert_int_equal(fetch_session_count(c), 0);
	arena_free(&a);
	fetch_session_cache_free(c);
}

static void test_cache_with_no_slots_makes_no_session(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(0);
	assert_int_equal(new_session(c, "a", 1, T0, false), 0);
	assert_int_equal(new_session(c, "a", 1, T0, true), 0);
	assert_int_equal(fetch_session_count(c), 0);
	fetch_session_cache_free(c);
}

/* A full fetch naming a session closes it and opens a new one. */
static void test_full_fetch_replaces_named_session(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	int32_t s1 = new_session(c, "a", 2, T0, false);
	struct fetch_target parts[1] = { tgt("b", 0, 7) };
	struct fetch_session_plan p = fetch(c, &a, s1, 0, parts, 1, NULL, 0, T0 + 1, false);
	assert_int_equal(p.error, KERR_NONE);
	assert_true(p.session_id > 0);
	assert_int_not_equal(p.session_id, s1);
	assert_int_equal(fetch_session_count(c), 1);
	assert_int_equal(touch(c, s1, 1, T0 + 2), KERR_FETCH_SESSION_ID_NOT_FOUND);
	/* The new one holds only what the full fetch named. */
	struct fetch_session_plan q = fetch(c, &a, p.session_id, 1, NULL, 0, NULL, 0, T0 + 3, false);
	assert_int_equal(q.error, KERR_NONE);
	assert_int_equal(q.n_parts, 1);
	assert_true(same_name(&q.parts[0], "b", 0));
	assert_int_equal(q.parts[0].fetch_offset, 7);
	arena_free(&a);
	fetch_session_cache_free(c);
}

static void test_incremental_adds_updates_forgets(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	struct fetch_target full[2] = { tgt("a", 0, 10), tgt("a", 1, 20) };
	full[0].last_fetched_epoch = 4;
	full[1].last_fetched_epoch = 5;
	struct fetch_session_plan p = fetch(c, &a, 0, 0, full, 2, NULL, 0, T0, true);
	int32_t id = p.session_id;
	/* The answer carried high watermarks 100 and 200, log starts 0 and 5. */
	fetch_session_record_sent(&p.parts[0], KERR_NONE, 100, 0);
	fetch_session_record_sent(&p.parts[1], KERR_NONE, 200, 5);
	fetch_session_commit(c, id, p.parts, p.n_parts);

	struct fetch_target upd[2] = { tgt("a", 0, 15), tgt("b", 0, 5) };
	upd[0].max_bytes = 4096;
	upd[0].current_leader_epoch = 6;
	upd[0].last_fetched_epoch = 6;
	struct fetch_target forget[1] = { tgt("a", 1, 0) };
	struct fetch_session_plan q = fetch(c, &a, id, 1, upd, 2, forget, 1, T0 + 1, true);
	assert_int_equal(q.error, KERR_NONE);
	assert_int_equal(q.session_id, id);
	assert_true(q.incremental);
	assert_int_equal(q.n_parts, 2);
	/* Updated in place, the new one at the end, the forgotten one gone. */
	assert_true(same_name(&q.parts[0], "a", 0));
	assert_int_equal(q.parts[0].fetch_offset, 15);
	assert_int_equal(q.parts[0].max_bytes, 4096);
	assert_int_equal(q.parts[0].current_leader_epoch, 6);
	assert_int_equal(q.parts[0].last_fetched_epoch, 6);
	assert_int_equal(q.parts[0].sent_hw, 100);
	assert_int_equal(q.parts[0].sent_log_start, 0);
	assert_true(same_name(&q.parts[1], "b", 0));
	assert_int_equal(q.parts[1].fetch_offset, 5);
	assert_int_equal(q.parts[1].sent_hw, -1);
	assert_int_equal(q.parts[1].sent_log_start, -1);
	arena_free(&a);
	fetch_session_cache_free(c);
}

/* Partitions an incremental request does not name are read as the session last had them. */
static void test_incremental_keeps_unnamed_partitions(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	struct fetch_target full[2] = { tgt("a", 0, 10), tgt("a", 1, 20) };
	full[0].current_leader_epoch = 3;
	full[0].last_fetched_epoch = 2;
	full[1].current_leader_epoch = 3;
	full[1].last_fetched_epoch = 3;
	struct fetch_session_plan p = fetch(c, &a, 0, 0, full, 2, NULL, 0, T0, true);
	struct fetch_session_plan q = fetch(c, &a, p.session_id, 1, NULL, 0, NULL, 0, T0 + 1, true);
	assert_int_equal(q.error, KERR_NONE);
	assert_int_equal(q.n_parts, 2);
	assert_int_equal(q.parts[0].fetch_offset, 10);
	assert_int_equal(q.parts[0].current_leader_epoch, 3);
	assert_int_equal(q.parts[0].last_fetched_epoch, 2);
	assert_int_equal(q.parts[1].fetch_offset, 20);
	assert_int_equal(q.parts[1].last_fetched_epoch, 3);
	assert_false(q.parts[0].responded);
	arena_free(&a);
	fetch_session_cache_free(c);
}

static void test_epoch_sequence_and_errors(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	int32_t id = new_session(c, "a", 1, T0, false);
	assert_int_equal(touch(c, id, 1, T0), KERR_NONE);
	/* The same epoch twice, one skipped ahead, or 0 re-used as incremental: all refused. */
	assert_int_equal(touch(c, id, 1, T0), KERR_INVALID_FETCH_SESSION_EPOCH);
	assert_int_equal(touch(c, id, 3, T0), KERR_INVALID_FETCH_SESSION_EPOCH);
	/* A refused request does not move the epoch on. */
	assert_int_equal(touch(c, id, 2, T0), KERR_NONE);
	assert_int_equal(touch(c, id, 3, T0), KERR_NONE);
	assert_int_equal(fetch_session_count(c), 1);
	fetch_session_cache_free(c);
}

static void test_unknown_session_id(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	int32_t id = new_session(c, "a", 1, T0, false);
	struct fetch_session_plan p = fetch(c, &a, id + 1, 1, NULL, 0, NULL, 0, T0, false);
	assert_int_equal(p.error, KERR_FETCH_SESSION_ID_NOT_FOUND);
	assert_int_equal(p.session_id, 0);
	assert_int_equal(p.n_parts, 0);
	assert_int_equal(fetch_session_count(c), 1);
	arena_free(&a);
	fetch_session_cache_free(c);
}

/* Epoch -1 with a session id closes it; the request itself is answered sessionless. */
static void test_close_session(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	int32_t id = new_session(c, "a", 3, T0, false);
	struct fetch_target parts[1] = { tgt("z", 4, 44) };
	struct fetch_session_plan p = fetch(c, &a, id, FETCH_SESSION_FINAL_EPOCH, parts, 1, NULL, 0, T0, false);
	assert_int_equal(p.error, KERR_NONE);
	assert_int_equal(p.session_id, 0);
	assert_false(p.incremental);
	assert_int_equal(p.n_parts, 1);
	assert_true(same_name(&p.parts[0], "z", 4));
	assert_int_equal(fetch_session_count(c), 0);
	assert_int_equal(touch(c, id, 1, T0), KERR_FETCH_SESSION_ID_NOT_FOUND);
	arena_free(&a);
	fetch_session_cache_free(c);
}

/* Kafka closes a session an incremental request leaves empty, and answers that request sessionless. */
static void test_forgetting_every_partition_closes_session(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	int32_t id = new_session(c, "a", 2, T0, false);
	struct fetch_target forget[2] = { tgt("a", 0, 0), tgt("a", 1, 0) };
	struct fetch_session_plan p = fetch(c, &a, id, 1, NULL, 0, forget, 2, T0, false);
	assert_int_equal(p.error, KERR_NONE);
	assert_int_equal(p.session_id, 0);
	assert_false(p.incremental);
	assert_int_equal(p.n_parts, 0);
	assert_int_equal(fetch_session_count(c), 0);
	assert_int_equal(touch(c, id, 2, T0), KERR_FETCH_SESSION_ID_NOT_FOUND);
	arena_free(&a);
	fetch_session_cache_free(c);
}

/* A session opened without topic ids cannot go on with them, and the other way round. */
static void test_topic_id_mismatch(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	int32_t id = new_session(c, "a", 1, T0, false);
	struct fetch_session_request r = { .session_id = id, .epoch = 1, .now_ms = T0, .uses_topic_ids = true };
	struct fetch_session_plan p;
	fetch_session_begin(c, &r, &a, &p);
	assert_int_equal(p.error, KERR_FETCH_SESSION_TOPIC_ID_ERROR);
	r.uses_topic_ids = false;
	fetch_session_begin(c, &r, &a, &p);
	assert_int_equal(p.error, KERR_NONE);
	arena_free(&a);
	fetch_session_cache_free(c);
}

static void test_must_respond(void **state)
{
	(void)state;
	struct fetch_target t = tgt("a", 0, 0);
	t.sent_hw = 100;
	t.sent_log_start = 5;
	assert_false(fetch_session_must_respond(&t, KERR_NONE, 0, 100, 5, -1, -1));
	assert_true(fetch_session_must_respond(&t, KERR_NONE, 1, 100, 5, -1, -1));
	assert_true(fetch_session_must_respond(&t, KERR_NONE, 0, 101, 5, -1, -1));
	assert_true(fetch_session_must_respond(&t, KERR_NONE, 0, 100, 6, -1, -1));
	assert_true(fetch_session_must_respond(&t, KERR_NOT_LEADER_OR_FOLLOWER, 0, 100, 5, -1, -1));
	/* A diverging epoch must reach the follower even when nothing else moved (KIP-320). */
	assert_true(fetch_session_must_respond(&t, KERR_NONE, 0, 100, 5, 3, 50));
	/* A never-sent partition always goes (sent_hw -1). */
	struct fetch_target fresh = tgt("a", 1, 0);
	assert_true(fetch_session_must_respond(&fresh, KERR_NONE, 0, 0, 0, -1, -1));
}

/* After an error the partition is sent again once the error is gone, even with the same high watermark. */
static void test_error_forgets_sent_high_watermark(void **state)
{
	(void)state;
	struct fetch_target t = tgt("a", 0, 0);
	fetch_session_record_sent(&t, KERR_NONE, 100, 5);
	assert_true(t.responded);
	assert_int_equal(t.sent_hw, 100);
	assert_int_equal(t.sent_log_start, 5);
	fetch_session_record_sent(&t, KERR_NOT_LEADER_OR_FOLLOWER, 100, 5);
	assert_int_equal(t.sent_hw, -1);
	assert_true(fetch_session_must_respond(&t, KERR_NONE, 0, 100, 5, -1, -1));
}

/* What was committed is what the next incremental plan compares against. */
static void test_commit_remembers_what_was_sent(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	struct fetch_target full[2] = { tgt("a", 0, 10), tgt("a", 1, 20) };
	struct fetch_session_plan p = fetch(c, &a, 0, 0, full, 2, NULL, 0, T0, false);
	fetch_session_record_sent(&p.parts[0], KERR_NONE, 100, 0);
	fetch_session_record_sent(&p.parts[1], KERR_NONE, 200, 7);
	fetch_session_commit(c, p.session_id, p.parts, p.n_parts);
	struct fetch_session_plan q = fetch(c, &a, p.session_id, 1, NULL, 0, NULL, 0, T0 + 1, false);
	assert_int_equal(q.n_parts, 2);
	/* Same high watermark and log start: a1 is left out, a0 has news. */
	const struct fetch_target *a0 = same_name(&q.parts[0], "a", 0) ? &q.parts[0] : &q.parts[1];
	const struct fetch_target *a1 = a0 == &q.parts[0] ? &q.parts[1] : &q.parts[0];
	assert_int_equal(a0->sent_hw, 100);
	assert_int_equal(a1->sent_hw, 200);
	assert_int_equal(a1->sent_log_start, 7);
	assert_false(fetch_session_must_respond(a1, KERR_NONE, 0, 200, 7, -1, -1));
	assert_true(fetch_session_must_respond(a0, KERR_NONE, 0, 150, 0, -1, -1));
	arena_free(&a);
	fetch_session_cache_free(c);
}

/*
 * Kafka moves the partitions an incremental answer carried to the end of the
 * session, so the next read starts with the ones that had nothing, and a
 * response byte limit cannot starve the partitions at the back.
 */
static void test_answered_partitions_move_to_the_back(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(10);
	struct arena a;
	arena_init(&a);
	int32_t id = new_session(c, "a", 3, T0, false);
	struct fetch_session_plan p = fetch(c, &a, id, 1, NULL, 0, NULL, 0, T0, false);
	assert_int_equal(p.n_parts, 3);
	assert_true(same_name(&p.parts[0], "a", 0));
	fetch_session_record_sent(&p.parts[0], KERR_NONE, 10, 0); /* only a-0 had news */
	fetch_session_commit(c, id, p.parts, p.n_parts);
	struct fetch_session_plan q = fetch(c, &a, id, 2, NULL, 0, NULL, 0, T0, false);
	assert_int_equal(q.n_parts, 3);
	assert_true(same_name(&q.parts[0], "a", 1));
	assert_true(same_name(&q.parts[1], "a", 2));
	assert_true(same_name(&q.parts[2], "a", 0));
	assert_int_equal(q.parts[2].sent_hw, 10);
	arena_free(&a);
	fetch_session_cache_free(c);
}

/* Full cache, every session fresh and busy: a new consumer gets no session. */
static void test_full_cache_refuses_new_session(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(2);
	assert_true(new_session(c, "a", 1, T0, false) > 0);
	assert_true(new_session(c, "b", 1, T0, false) > 0);
	assert_int_equal(new_session(c, "c", 5, T0 + 1000, false), 0);
	assert_int_equal(fetch_session_count(c), 2);
	fetch_session_cache_free(c);
}

/* A session unused for longer than the eviction time goes first, oldest use first; exactly the time is not enough. */
static void test_stale_session_evicted_least_recently_used_first(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(2);
	int32_t s1 = new_session(c, "a", 1, T0, false);
	int32_t s2 = new_session(c, "b", 1, T0 + 10, false);
	/* s1 is used later than s2, so s2 is now the least recently used. */
	assert_int_equal(touch(c, s1, 1, T0 + 50), KERR_NONE);
	assert_int_equal(new_session(c, "c", 1, T0 + 10 + FETCH_SESSION_EVICTION_MS, false), 0);
	int32_t s3 = new_session(c, "c", 1, T0 + 11 + FETCH_SESSION_EVICTION_MS, false);
	assert_true(s3 > 0);
	assert_int_equal(fetch_session_count(c), 2);
	assert_int_equal(touch(c, s2, 1, T0 + 12 + FETCH_SESSION_EVICTION_MS), KERR_FETCH_SESSION_ID_NOT_FOUND);
	assert_int_equal(touch(c, s1, 2, T0 + 12 + FETCH_SESSION_EVICTION_MS), KERR_NONE);
	fetch_session_cache_free(c);
}

/* A follower's session may evict a consumer's at once, the smallest first. */
static void test_privileged_evicts_smallest_unprivileged(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(2);
	int32_t big = new_session(c, "a", 3, T0, false);
	int32_t small = new_session(c, "b", 1, T0, false);
	int32_t f = new_session(c, "c", 1, T0 + 1, true);
	assert_true(f > 0);
	assert_int_equal(fetch_session_count(c), 2);
	assert_int_equal(touch(c, small, 1, T0 + 2), KERR_FETCH_SESSION_ID_NOT_FOUND);
	assert_int_equal(touch(c, big, 1, T0 + 2), KERR_NONE);
	/* A fresh follower session is safe from another follower. */
	int32_t f2 = new_session(c, "d", 1, T0 + 3, true);
	assert_true(f2 > 0); /* evicts the consumer session */
	assert_int_equal(new_session(c, "e", 9, T0 + 4, true), 0);
	assert_int_equal(touch(c, f, 1, T0 + 5), KERR_NONE);
	assert_int_equal(touch(c, f2, 1, T0 + 5), KERR_NONE);
	fetch_session_cache_free(c);
}

/*
 * Once a session is older than the eviction time (as of its last use), a
 * consumer with more partitions may evict it even though it is in use; one
 * with the same number may not.
 */
static void test_larger_session_evicts_old_smaller_one(void **state)
{
	(void)state;
	struct fetch_session_cache *c = fetch_session_cache_new(2);
	int32_t s1 = new_session(c, "a", 1, T0, false);
	int32_t s3 = new_session(c, "b", 3, T0, false);
	int64_t later = T0 + FETCH_SESSION_EVICTION_MS + 10;
	assert_int_equal(touch(c, s1, 1, later), KERR_NONE);
	assert_int_equal(touch(c, s3, 1, later), KERR_NONE);
	assert_int_equal(new_session(c, "c", 1, later + 1, false), 0);
	int32_t s2 = new_session(c, "c", 2, later + 1, false);
	assert_true(s2 > 0);
	assert_int_equal(touch(c, s1, 2, later + 2), KERR_FETCH_SESSION_ID_NOT_FOUND);
	assert_int_equal(touch(c, s3, 2, later + 2), KERR_NONE);
	fetch_session_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_fetch_creates_session),
		cmocka_unit_test(test_sessionless_fetch),
		cmocka_unit_test(test_cache_with_no_slots_makes_no_session),
		cmocka_unit_test(test_full_fetch_replaces_named_session),
		cmocka_unit_test(test_incremental_adds_updates_forgets),
		cmocka_unit_test(test_incremental_keeps_unnamed_partitions),
		cmocka_unit_test(test_epoch_sequence_and_errors),
		cmocka_unit_test(test_unknown_session_id),
		cmocka_unit_test(test_close_session),
		cmocka_unit_test(test_forgetting_every_partition_closes_session),
		cmocka_unit_test(test_topic_id_mismatch),
		cmocka_unit_test(test_must_respond),
		cmocka_unit_test(test_error_forgets_sent_high_watermark),
		cmocka_unit_test(test_commit_remembers_what_was_sent),
		cmocka_unit_test(test_answered_partitions_move_to_the_back),
		cmocka_unit_test(test_full_cache_refuses_new_session),
		cmocka_unit_test(test_stale_session_evicted_least_recently_used_first),
		cmocka_unit_test(test_privileged_evicts_smallest_unprivileged),
		cmocka_unit_test(test_larger_session_evicts_old_smaller_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
