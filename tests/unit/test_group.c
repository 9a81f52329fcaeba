/*
 * The classic rebalance protocol's state machine (src/group/membership.c) on one group,
 * with a clock the test moves and answers recorded instead of sent: no coordinator
 * thread, no __consumer_offsets, no sockets.  Each "client" below plays what a consumer
 * sends (JoinGroup until it has an id, SyncGroup, Heartbeat, LeaveGroup).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "group/group_internal.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* --- the world: one group, a clock, recorded answers ----------------------------------- */

struct answer {
	struct group_request *req;
	void *resp;
	bool taken;
};

struct world {
	struct group_config cfg;
	struct group_env env;
	struct group *g;
	struct answer *ans;
	int n_ans;
	struct group_request **reqs; /* every request made, freed at the end */
	int n_reqs;
	int stores;
	int16_t store_error;
};

static void record_reply(void *arg, struct group_request *req, void *resp)
{
	struct world *w = arg;
	for (int i = 0; i < w->n_ans; i++)
		assert_false(w->ans[i].req == req); /* every request is answered once */
	w->ans = xrealloc(w->ans, sizeof *w->ans * (size_t)(w->n_ans + 1));
	w->ans[w->n_ans++] = (struct answer){ req, resp, false };
}

static int16_t record_store(void *arg, struct group *g)
{
	struct world *w = arg;
	(void)g;
	w->stores++;
	return w->store_error;
}

static struct world *world_new(void)
{
	struct world *w = xcalloc(1, sizeof *w);
	w->cfg = (struct group_config){ .n_partitions = 1, .min_session_ms = 1000, .max_session_ms = 1800000,
					.initial_delay_ms = 0, .max_size = 100 };
	w->env = (struct group_env){ .cfg = &w->cfg, .now = 1000000, .arg = w, .reply = record_reply,
				     .store = record_store };
	w->g = group_new("g", 1, 0, w->env.now);
	return w;
}

static void world_free(struct world *w)
{
	group_abort(&w->env, w->g, KERR_NOT_COORDINATOR);
	group_free(w->g);
	for (int i = 0; i < w->n_reqs; i++) {
		arena_free(w->reqs[i]->arena);
		free(w->reqs[i]->arena);
		free(w->reqs[i]);
	}
	free(w->reqs);
	free(w->ans);
	free(w);
}

static void advance(struct world *w, int64_t ms)
{
	w->env.now += ms;
	group_tick(&w->env, w->g);
}

static struct group_request *request_new(struct world *w, int16_t api_key, int16_t version, const char *client_id)
{
	struct group_request *r = xcalloc(1, sizeof *r);
	(void)api_key; /* the state machine is called per API; the key only names the call here */
	r->arena = xcalloc(1, sizeof *r->arena);
	arena_init(r->arena);
	r->api_version = version;
	r->client_id = kstr_c(client_id);
	r->peer = "127.0.0.1:40000";
	w->reqs = xrealloc(w->reqs, sizeof *w->reqs * (size_t)(w->n_reqs + 1));
	w->reqs[w->n_reqs++] = r;
	return r;
}

/* The answer to req, once (NULL while it is parked). */
static void *answer(struct world *w, struct group_request *req)
{
	for (int i = 0; i < w->n_ans; i++)
		if (w->ans[i].req == req) {
			assert_false(w->ans[i].taken);
			w->ans[i].taken = true;
			return w->ans[i].resp;
		}
	return NULL;
}

/* --- clients ----------------------------------------------------------------------------- */

struct client {
	const char *name;     /* client.id */
	const char *instance; /* group.instance.id, or NULL */
	const char *meta;     /* subscription bytes */
	int16_t join_version;
	int32_t session_ms;
	int32_t rebalance_ms;
	char member_id[128];
	int32_t generation;
	struct group_request *join; /* parked JoinGroup */
	struct group_request *sync; /* parked SyncGroup */
	struct join_group_response *joined;
	char assignment[64];
};

static void client_init(struct client *c, const char *name)
{
	memset(c, 0, sizeof *c);
	c->name = name;
	c->meta = "sub:t";
	c->join_version = 5;
	c->session_ms = 10000;
	c->rebalance_ms = 30000;
	c->generation = -1;
}

/* Sends JoinGroup (range and roundrobin, as librdkafka's default assignors). */
static struct group_request *send_join(struct world *w, struct client *c)
{
	struct group_request *r = request_new(w, API_JOIN_GROUP, c->join_version, c->name);
	struct join_group_request *q = arena_alloc(r->arena, sizeof *q);
	join_group_request_init(q);
	q->group_id = kstr_c("g");
	q->session_timeout_ms = c->session_ms;
	q->rebalance_timeout_ms = c->rebalance_ms;
	q->member_id = kstr_c(arena_strndup(r->arena, c->member_id, strlen(c->member_id)));
	q->group_instance_id = c->instance ? kstr_c(c->instance) : (struct kstr){ NULL, -1 };
	q->protocol_type = kstr_c("consumer");
	q->protocols = arena_alloc(r->arena, sizeof *q->protocols * 2);
	q->protocols_count = 2;
	q->protocols[0].name = kstr_c("range");
	q->protocols[0].metadata = (struct kbytes){ (const uint8_t *)c->meta, (int32_t)strlen(c->meta) };
	q->protocols[1].name = kstr_c("roundrobin");
	q->protocols[1].metadata = (struct kbytes){ (const uint8_t *)c->meta, (int32_t)strlen(c->meta) };
	r->body = q;
	group_join(&w->env, w->g, r, q);
	return r;
}

/* Takes a JoinGroup answer: the member id and generation it brings. */
static void client_joined(struct client *c, struct join_group_response *resp)
{
	c->joined = resp;
	if (resp->member_id.len > 0)
		snprintf(c->member_id, sizeof c->member_id, "%.*s", resp->member_id.len, resp->member_id.ptr);
	if (resp->error_code == KERR_NONE)
		c->generation = resp->generation_id;
}

/* JoinGroup as a consumer does it: without an id, then with the one MEMBER_ID_REQUIRED hands
 * out.  Returns the answer, or NULL with the request parked in c->join. */
static struct join_group_response *join(struct world *w, struct client *c)
{
	struct group_request *r = send_join(w, c);
	struct join_group_response *resp = answer(w, r);
	if (resp && resp->error_code == KERR_MEMBER_ID_REQUIRED) {
		client_joined(c, resp);
		r = send_join(w, c);
		resp = answer(w, r);
	}
	if (!resp) {
		c->join = r;
		return NULL;
	}
	client_joined(c, resp);
	return resp;
}

/* The answer to c's parked JoinGroup, if it has come. */
static struct join_group_response *joined(struct world *w, struct client *c)
{
	assert_non_null(c->join);
	struct join_group_response *resp = answer(w, c->join);
	if (resp) {
		c->join = NULL;
		client_joined(c, resp);
	}
	return resp;
}

static bool is_leader(const struct client *c, const struct join_group_response *resp)
{
	return resp->leader.len == (int32_t)strlen(c->member_id) && memcmp(resp->leader.ptr, c->member_id, strlen(c->member_id)) == 0;
}

/* Whether a leader's JoinGroup answer lists c. */
static bool lists(const struct join_group_response *resp, const struct client *c)
{
	for (int i = 0; i < resp->members_count; i++)
		if (resp->members[i].member_id.len == (int32_t)strlen(c->member_id) &&
		    memcmp(resp->members[i].member_id.ptr, c->member_id, strlen(c->member_id)) == 0)
			return true;
	return false;
}

/* What a range assignor makes of the leader's member list: members sorted by id, each a
 * run of n_parts / members partitions (the first ones one more).  Fills out[i] for
 * members[i] as "0,1,"-style text. */
static void range_assign(const struct join_group_response *resp, int n_parts, char out[][64])
{
	int n = resp->members_count;
	int order[16];
	assert_true(n > 0 && n <= 16);
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--) {
			const struct kstr *a = &resp->members[order[j - 1]].member_id, *b = &resp->members[order[j]].member_id;
			int len = a->len < b->len ? a->len : b->len;
			int c = memcmp(a->ptr, b->ptr, (size_t)len);
			if (c < 0 || (c == 0 && a->len <= b->len))
				break;
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	int next = 0;
	for (int k = 0; k < n; k++) {
		int count = n_parts / n + (k < n_parts % n);
		char *o = out[order[k]];
		o[0] = '\0';
		for (int p = 0; p < count; p++, next++)
			snprintf(o + strlen(o), 64 - strlen(o), "%d,", next);
	}
}

static struct group_request *send_sync(struct world *w, struct client *c, const struct join_group_response *leader_view,
				 int n_parts)
{
	struct group_request *r = request_new(w, API_SYNC_GROUP, 3, c->name);
	struct sync_group_request *q = arena_alloc(r->arena, sizeof *q);
	sync_group_request_init(q);
	q->group_id = kstr_c("g");
	q->generation_id = c->generation;
	q->member_id = kstr_c(arena_strndup(r->arena, c->member_id, strlen(c->member_id)));
	q->group_instance_id = c->instance ? kstr_c(c->instance) : (struct kstr){ NULL, -1 };
	if (leader_view) {
		char (*asg)[64] = arena_alloc(r->arena, 64 * (size_t)(leader_view->members_count + 1));
		range_assign(leader_view, n_parts, asg);
		q->assignments = arena_alloc(r->arena, sizeof *q->assignments * (size_t)leader_view->members_count);
		q->assignments_count = leader_view->members_count;
		for (int i = 0; i < leader_view->members_count; i++) {
			q->assignments[i].member_id = leader_view->members[i].member_id;
			q->assignments[i].assignment = (struct kbytes){ (const uint8_t *)asg[i], (int32_t)strlen(asg[i]) };
		}
	}
	r->body = q;
	group_sync(&w->env, w->g, r, q);
	return r;
}

/* Takes a SyncGroup answer: the assignment it carries. */
static int16_t client_synced(struct client *c, const struct sync_group_response *resp)
{
	c->assignment[0] = '\0';
	if (resp->error_code == KERR_NONE)
		snprintf(c->assignment, sizeof c->assignment, "%.*s", resp->assignment.len,
			 (const char *)resp->assignment.ptr);
	return resp->error_code;
}

/* SyncGroup after a JoinGroup answer; a leader sends a range assignment of n_parts partitions.
 * Returns the answer's error, or -1 with the request parked in c->sync. */
static int sync(struct world *w, struct client *c, int n_parts)
{
	assert_non_null(c->joined);
	bool leader = is_leader(c, c->joined);
	struct group_request *r = send_sync(w, c, leader ? c->joined : NULL, n_parts);
	struct sync_group_response *resp = answer(w, r);
	if (!resp) {
		c->sync = r;
		return -1;
	}
	return client_synced(c, resp);
}

static int synced(struct world *w, struct client *c)
{
	assert_non_null(c->sync);
	struct sync_group_response *resp = answer(w, c->sync);
	if (!resp)
		return -1;
	c->sync = NULL;
	return client_synced(c, resp);
}

static int16_t heartbeat(struct world *w, struct client *c)
{
	struct heartbeat_request q;
	heartbeat_request_init(&q);
	q.group_id = kstr_c("g");
	q.generation_id = c->generation;
	q.member_id = kstr_c(c->member_id);
	q.group_instance_id = c->instance ? kstr_c(c->instance) : (struct kstr){ NULL, -1 };
	return group_heartbeat(&w->env, w->g, &q);
}

static int16_t leave(struct world *w, struct client *c)
{
	return group_leave(&w->env, w->g, kstr_c(c->member_id), (struct kstr){ NULL, -1 });
}

/* Several clients that all have a JoinGroup answer sync; returns when every one has its assignment. */
static void sync_all(struct world *w, struct client **cs, int n, int n_parts)
{
	for (int i = 0; i < n; i++)
		if (!is_leader(cs[i], cs[i]->joined))
			assert_int_equal(sync(w, cs[i], n_parts), -1); /* followers wait for the leader */
	for (int i = 0; i < n; i++)
		if (is_leader(cs[i], cs[i]->joined))
			assert_int_equal(sync(w, cs[i], n_parts), KERR_NONE);
	for (int i = 0; i < n; i++)
		if (cs[i]->sync)
			assert_int_equal(synced(w, cs[i]), KERR_NONE);
	assert_int_equal(w->g->state, GROUP_STABLE);
}

/* The union of the clients' assignments covers 0..n_parts-1, each once. */
static void assert_covers(struct client **cs, int n, int n_parts)
{
	int seen[64] = { 0 };
	for (int i = 0; i < n; i++)
		for (const char *p = cs[i]->assignment; *p;) {
			int part = atoi(p);
			assert_true(part >= 0 && part < n_parts);
			seen[part]++;
			p = strchr(p, ',') + 1;
		}
	for (int p = 0; p < n_parts; p++)
		if (seen[p] != 1) {
			fprintf(stderr, "partition %d assigned %d times:", p, seen[p]);
			for (int i = 0; i < n; i++)
				fprintf(stderr, " %s=[%s]", cs[i]->name, cs[i]->assignment);
			fprintf(stderr, "\n");
			fail();
		}
}

/* --- cases ------------------------------------------------------------------------------- */

/* One consumer: MEMBER_ID_REQUIRED, then the join completes once the (zero) initial delay
 * passes; as leader it assigns, the group is Stable and stored once. */
static void test_join_sync_one_member(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct client a;
	client_init(&a, "a");
	struct group_request *r = send_join(w, &a);
	struct join_group_response *resp = answer(w, r);
	assert_non_null(resp);
	assert_int_equal(resp->error_code, KERR_MEMBER_ID_REQUIRED);
	client_joined(&a, resp);
	assert_true(strncmp(a.member_id, "a-", 2) == 0);
	assert_int_equal(w->g->n_pending, 1);

	assert_null(join(w, &a)); /* the initial delayed join runs out on the next tick */
	assert_int_equal(w->g->state, GROUP_PREPARING_REBALANCE);
	assert_int_equal(w->g->n_pending, 0);
	advance(w, 0);
	resp = joined(w, &a);
	assert_non_null(resp);
	assert_int_equal(resp->error_code, KERR_NONE);
	assert_int_equal(resp->generation_id, 1);
	assert_true(is_leader(&a, resp));
	assert_int_equal(resp->members_count, 1);
	assert_string_equal(w->g->protocol, "range");
	assert_int_equal(w->g->state, GROUP_COMPLETING_REBALANCE);

	assert_int_equal(sync(w, &a, 6), KERR_NONE);
	assert_string_equal(a.assignment, "0,1,2,3,4,5,");
	assert_int_equal(w->g->state, GROUP_STABLE);
	assert_int_equal(w->stores, 1);
	assert_int_equal(heartbeat(w, &a), KERR_NONE);

	/* A follower-style rejoin with the same subscription in Stable: the current generation again. */
	struct client stale = a;
	stale.generation = 0;
	assert_int_equal(heartbeat(w, &stale), KERR_ILLEGAL_GENERATION);
	snprintf(stale.member_id, sizeof stale.member_id, "nobody");
	assert_int_equal(heartbeat(w, &stale), KERR_UNKNOWN_MEMBER_ID);
	world_free(w);
}

/* Before v4 there is no MEMBER_ID_REQUIRED: the first JoinGroup makes the member and parks;
 * the first member leads; every completed join phase is one generation more. */
static void test_join_v3_gets_id_at_once(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct client a, b;
	client_init(&a, "a");
	client_init(&b, "b");
	a.join_version = b.join_version = 3;
	assert_null(join(w, &a));
	assert_null(join(w, &b));
	assert_int_equal(w->g->n_pending, 0);
	assert_int_equal(w->g->n_members, 2);
	advance(w, 0);
	struct join_group_response *ra = joined(w, &a), *rb = joined(w, &b);
	assert_non_null(ra);
	assert_non_null(rb);
	assert_int_equal(ra->error_code, KERR_NONE);
	assert_int_equal(rb->error_code, KERR_NONE);
	assert_true(strncmp(a.member_id, "a-", 2) == 0);
	assert_true(strncmp(b.member_id, "b-", 2) == 0);
	assert_string_not_equal(a.member_id, b.member_id);
	assert_int_equal(ra->generation_id, 1);
	assert_int_equal(rb->generation_id, 1);
	assert_true(is_leader(&a, ra) && is_leader(&a, rb));
	assert_int_equal(ra->members_count, 2);
	assert_true(lists(ra, &a) && lists(ra, &b));
	assert_int_equal(rb->members_count, 0);
	struct client *both[] = { &a, &b };
	sync_all(w, both, 2, 6);
	assert_covers(both, 2, 6);

	/* The leader rejoining a Stable group starts the next generation. */
	assert_null(join(w, &a));
	assert_int_equal(w->g->state, GROUP_PREPARING_REBALANCE);
	assert_int_equal(heartbeat(w, &b), KERR_REBALANCE_IN_PROGRESS);
	assert_non_null(join(w, &b));
	assert_non_null(joined(w, &a));
	assert_int_equal(a.generation, 2);
	assert_int_equal(b.generation, 2);
	world_free(w);
}

/* A second consumer joins a Stable group: the first learns from its heartbeat, rejoins, and
 * the leader's answer lists both; followers' SyncGroups wait for the leader's. */
static void test_second_member_rebalances(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct client a, b;
	client_init(&a, "a");
	client_init(&b, "b");
	struct client *both[] = { &a, &b };
	assert_null(join(w, &a));
	advance(w, 0);
	assert_non_null(joined(w, &a));
	assert_int_equal(sync(w, &a, 6), KERR_NONE);

	assert_null(join(w, &b));
	assert_int_equal(w->g->state, GROUP_PREPARING_REBALANCE);
	assert_int_equal(heartbeat(w, &a), KERR_REBALANCE_IN_PROGRESS);
	struct join_group_response *ra = join(w, &a); /* the last one in completes the join phase */
	assert_non_null(ra);
	struct join_group_response *rb = joined(w, &b);
	assert_non_null(rb);
	assert_int_equal(ra->generation_id, 2);
	assert_int_equal(rb->generation_id, 2);
	assert_true(is_leader(&a, ra));
	assert_int_equal(ra->members_count, 2);
	assert_true(lists(ra, &a) && lists(ra, &b));
	assert_int_equal(rb->members_count, 0);

	assert_int_equal(sync(w, &a, 6), KERR_NONE); /* the leader is answered at once */
	/* b had not synced yet: the group is Stable and b's SyncGroup is answered from it. */
	assert_int_equal(sync(w, &b, 6), KERR_NONE);
	assert_covers(both, 2, 6);
	assert_int_equal(heartbeat(w, &b), KERR_NONE);
	world_free(w);
}

/* LeaveGroup: the group rebalances without the member; its heartbeats are unknown. */
static void test_leave(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct client a, b;
	client_init(&a, "a");
	client_init(&b, "b");
	struct client *both[] = { &a, &b };
	assert_null(join(w, &a));
	assert_null(join(w, &b));
	advance(w, 0);
	assert_non_null(joined(w, &a));
	assert_non_null(joined(w, &b));
	sync_all(w, both, 2, 4);
	assert_covers(both, 2, 4);

	assert_int_equal(leave(w, &a), KERR_NONE); /* the leader leaves */
	assert_int_equal(w->g->state, GROUP_PREPARING_REBALANCE);
	assert_int_equal(heartbeat(w, &a), KERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(leave(w, &a), KERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(heartbeat(w, &b), KERR_REBALANCE_IN_PROGRESS);
	struct join_group_response *rb = join(w, &b);
	assert_non_null(rb);
	assert_int_equal(rb->generation_id, 2);
	assert_true(is_leader(&b, rb));
	assert_int_equal(rb->members_count, 1);
	assert_int_equal(sync(w, &b, 4), KERR_NONE);
	assert_string_equal(b.assignment, "0,1,2,3,");

	/* The last member leaves: Empty, and the empty group is stored. */
	int stores = w->stores;
	assert_int_equal(leave(w, &b), KERR_NONE);
	assert_int_equal(w->g->state, GROUP_PREPARING_REBALANCE);
	advance(w, 0);
	assert_int_equal(w->g->state, GROUP_EMPTY);
	assert_int_equal(w->g->generation, 3);
	assert_int_equal(w->stores, stores + 1);
	world_free(w);
}

/* A member that stops heartbeating is removed after its session timeout, not before. */
static void test_session_expiry(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct client a, b;
	client_init(&a, "a");
	client_init(&b, "b");
	b.session_ms = 14000; /* outlives a's 10 s session, which only a's heartbeats renew */
	struct client *both[] = { &a, &b };
	assert_null(join(w, &a));
	assert_null(join(w, &b));
	advance(w, 0);
	assert_non_null(joined(w, &a));
	assert_non_null(joined(w, &b));
	sync_all(w, both, 2, 2);

	for (int i = 0; i < 7; i++) {
		advance(w, i < 6 ? 2000 : 1999);
		assert_int_equal(heartbeat(w, &a), KERR_NONE);
	}
	assert_int_equal(w->g->n_members, 2); /* b: 13999 ms without a heartbeat */
	advance(w, 1);
	assert_int_equal(w->g->n_members, 1);
	assert_int_equal(w->g->state, GROUP_PREPARING_REBALANCE);
	assert_int_equal(heartbeat(w, &b), KERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(heartbeat(w, &a), KERR_REBALANCE_IN_PROGRESS);
	struct join_group_response *ra = join(w, &a);
	assert_non_null(ra);
	assert_int_equal(ra->members_count, 1);
	world_free(w);
}

/* A member that does not rejoin within the rebalance timeout is dropped from the next
 * generation; one whose JoinGroup is parked is alive however long it waits. */
static void test_rebalance_timeout(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct client a, b, c;
	client_init(&a, "a");
	client_init(&b, "b");
	client_init(&c, "c");
	b.session_ms = 60000; /* so that only the rebalance timeout can remove it */
	a.rebalance_ms = b.rebalance_ms = c.rebalance_ms = 20000;
	struct client *ab[] = { &a, &b };
	assert_null(join(w, &a));
	assert_null(join(w, &b));
	advance(w, 0);
	assert_non_null(joined(w, &a));
	assert_non_null(joined(w, &b));
	sync_all(w, ab, 2, 4);

	assert_null(join(w, &c)); /* c arrives; a rejoins; b never does */
	assert_int_equal(heartbeat(w, &a), KERR_REBALANCE_IN_PROGRESS);
	assert_null(join(w, &a));
	advance(w, 19999);
	assert_null(answer(w, a.join));
	advance(w, 1);
	struct join_group_response *ra = joined(w, &a);
	assert_non_null(ra);
	assert_non_null(joined(w, &c));
	assert_int_equal(ra->generation_id, 2);
	assert_int_equal(ra->members_count, 2);
	assert_true(lists(ra, &a) && lists(ra, &c) && !lists(ra, &b));
	assert_int_equal(heartbeat(w, &b), KERR_UNKNOWN_MEMBER_ID);
	struct client *ac[] = { &a, &c };
	sync_all(w, ac, 2, 4);
	assert_covers(ac, 2, 4);

	/* The leader's SyncGroup never comes: after the rebalance timeout the members that did
	 * not sync are removed and the rest rebalance. */
	assert_int_equal(heartbeat(w, &c), KERR_NONE);
	b.member_id[0] = '\0';
	assert_null(join(w, &b)); /* b comes back as a new member */
	assert_int_equal(heartbeat(w, &a), KERR_REBALANCE_IN_PROGRESS);
	assert_null(join(w, &a));
	assert_non_null(join(w, &c));
	assert_non_null(joined(w, &a));
	assert_non_null(joined(w, &b));
	struct client *lead = is_leader(&a, a.joined) ? &a : is_leader(&b, b.joined) ? &b : &c;
	struct client *others[2];
	int k = 0;
	struct client *all[] = { &a, &b, &c };
	for (int i = 0; i < 3; i++)
		if (all[i] != lead)
			others[k++] = all[i];
	assert_int_equal(sync(w, others[0], 4), -1);
	advance(w, 20000);
	assert_int_equal(w->g->n_members, 1); /* only the follower that synced is left */
	assert_int_equal(synced(w, others[0]), KERR_REBALANCE_IN_PROGRESS);
	world_free(w);
}

/* A static member (group.instance.id) that restarts comes back under a new member id
 * without a rebalance and keeps its assignment; its old id is fenced. */
static void test_static_member_replaced(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct client a, s;
	client_init(&a, "a");
	client_init(&s, "s");
	s.instance = "instance-1";
	s.session_ms = 60000;
	struct client *both[] = { &a, &s };
	assert_null(join(w, &a));
	assert_null(join(w, &s)); /* static members get no MEMBER_ID_REQUIRED */
	assert_int_equal(w->g->n_pending, 0);
	advance(w, 0);
	assert_non_null(joined(w, &a));
	assert_non_null(joined(w, &s));
	assert_true(strncmp(s.member_id, "instance-1-", 11) == 0);
	sync_all(w, both, 2, 4);
	char kept[64];
	snprintf(kept, sizeof kept, "%s", s.assignment);

	struct client old = s;
	s.member_id[0] = '\0'; /* the restarted process knows only its instance id */
	struct join_group_response *rs = join(w, &s);
	assert_non_null(rs);
	assert_int_equal(rs->error_code, KERR_NONE);
	assert_int_equal(rs->generation_id, old.generation);
	assert_string_not_equal(s.member_id, old.member_id);
	assert_int_equal(w->g->state, GROUP_STABLE);
	assert_int_equal(sync(w, &s, 4), KERR_NONE);
	assert_string_equal(s.assignment, kept);
	assert_int_equal(heartbeat(w, &old), KERR_FENCED_INSTANCE_ID);
	assert_int_equal(heartbeat(w, &s), KERR_NONE);
	assert_int_equal(heartbeat(w, &a), KERR_NONE);
	assert_int_equal(group_leave(&w->env, w->g, kstr_c(old.member_id), kstr_c("instance-1")),
			 KERR_FENCED_INSTANCE_ID);
	/* The old process, still running, is fenced on JoinGroup and SyncGroup too. */
	struct join_group_response *rf = answer(w, send_join(w, &old));
	assert_non_null(rf);
	assert_int_equal(rf->error_code, KERR_FENCED_INSTANCE_ID);
	struct sync_group_response *sf = answer(w, send_sync(w, &old, NULL, 4));
	assert_non_null(sf);
	assert_int_equal(sf->error_code, KERR_FENCED_INSTANCE_ID);
	assert_int_equal(w->g->state, GROUP_STABLE);
	assert_int_equal(heartbeat(w, &s), KERR_NONE);

	/* A static member that misses a rebalance stays a member (its session decides). */
	assert_int_equal(leave(w, &a), KERR_NONE);
	advance(w, 30000);
	assert_int_equal(w->g->n_members, 1);
	assert_int_equal(w->g->state, GROUP_PREPARING_REBALANCE);
	world_free(w);
}

/*
 * The case users met with three brokers and librdkafka consumers: c1 forms generation 1
 * alone while c2 and c0 still hold MEMBER_ID_REQUIRED ids; c2 joins the Stable group, c0
 * joins during the rebalance that starts, c1 learns from a heartbeat; generation 2 has the
 * three and six partitions two apiece.  Then the member that joined last leaves: the two
 * left must be the only ones the leader's JoinGroup answer lists, and their assignments
 * must cover all six partitions.
 */
static void three_consumers_one_leaves(int leaving, bool leader_rejoins_first)
{
	struct world *w = world_new();
	struct client c[3];
	client_init(&c[0], "c0");
	client_init(&c[1], "c1");
	client_init(&c[2], "c2");
	for (int i = 0; i < 3; i++) {
		c[i].session_ms = 45000; /* librdkafka's defaults */
		c[i].rebalance_ms = 300000;
	}
	struct client *all[] = { &c[0], &c[1], &c[2] };

	/* Three JoinGroups without an id; c1 comes back first and forms generation 1 alone. */
	for (int i = 0; i < 3; i++) {
		struct join_group_response *r = answer(w, send_join(w, &c[i]));
		assert_int_equal(r->error_code, KERR_MEMBER_ID_REQUIRED);
		client_joined(&c[i], r);
	}
	assert_null(join(w, &c[1]));
	advance(w, 0);
	assert_non_null(joined(w, &c[1]));
	assert_int_equal(c[1].generation, 1);
	assert_int_equal(sync(w, &c[1], 6), KERR_NONE);
	assert_int_equal(w->g->n_pending, 2);

	advance(w, 300);
	assert_null(join(w, &c[2]));
	advance(w, 300);
	assert_null(join(w, &c[0]));
	advance(w, 2000);
	assert_int_equal(heartbeat(w, &c[1]), KERR_REBALANCE_IN_PROGRESS);
	assert_non_null(join(w, &c[1]));
	assert_non_null(joined(w, &c[2]));
	assert_non_null(joined(w, &c[0]));
	assert_int_equal(c[1].joined->members_count, 3);
	sync_all(w, all, 3, 6);
	assert_covers(all, 3, 6);
	assert_int_equal(w->g->generation, 2);

	for (int i = 0; i < 2; i++) { /* stable for a while */
		advance(w, 3000);
		for (int k = 0; k < 3; k++)
			assert_int_equal(heartbeat(w, &c[k]), KERR_NONE);
	}

	advance(w, 1000);
	assert_int_equal(leave(w, &c[leaving]), KERR_NONE);
	struct client *left[2];
	for (int i = 0, k = 0; i < 3; i++)
		if (i != leaving)
			left[k++] = &c[i];
	if (leader_rejoins_first && !is_leader(left[0], left[0]->joined)) {
		struct client *t = left[0];
		left[0] = left[1];
		left[1] = t;
	}
	advance(w, 500);
	assert_int_equal(heartbeat(w, left[0]), KERR_REBALANCE_IN_PROGRESS);
	assert_null(join(w, left[0]));
	advance(w, 300);
	assert_int_equal(heartbeat(w, left[1]), KERR_REBALANCE_IN_PROGRESS);
	assert_non_null(join(w, left[1]));
	assert_non_null(joined(w, left[0]));
	assert_int_equal(w->g->generation, 3);
	assert_int_equal(w->g->n_members, 2);
	struct client *lead = is_leader(left[0], left[0]->joined) ? left[0] : left[1];
	assert_true(is_leader(lead, lead->joined));
	assert_int_equal(lead->joined->members_count, 2);
	assert_true(lists(lead->joined, left[0]) && lists(lead->joined, left[1]));
	assert_false(lists(lead->joined, &c[leaving]));
	sync_all(w, left, 2, 6);
	assert_covers(left, 2, 6);
	world_free(w);
}

static void test_three_consumers_last_joiner_leaves(void **state)
{
	(void)state;
	three_consumers_one_leaves(0, false);
	three_consumers_one_leaves(0, true);
	three_consumers_one_leaves(2, false);
	three_consumers_one_leaves(2, true);
	three_consumers_one_leaves(1, false); /* the leader */
}

/* --- random schedules ------------------------------------------------------------------------ */

enum cstate { C_INIT, C_JOINING, C_SYNC, C_SYNCING, C_STEADY, C_CLOSED };

struct fclient {
	struct client c;
	enum cstate st;
};

static unsigned rnd_state;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 16) % n;
}

static void on_join_answer(struct fclient *f, struct join_group_response *r)
{
	client_joined(&f->c, r);
	if (r->error_code == KERR_NONE)
		f->st = C_SYNC;
	else {
		if (r->error_code == KERR_UNKNOWN_MEMBER_ID)
			f->c.member_id[0] = '\0';
		f->st = C_INIT;
	}
}

static void on_sync_answer(struct fclient *f, int err)
{
	if (err == KERR_NONE)
		f->st = C_STEADY;
	else {
		if (err == KERR_UNKNOWN_MEMBER_ID)
			f->c.member_id[0] = '\0';
		f->st = C_INIT;
	}
}

static void fclient_poll(struct world *w, struct fclient *f)
{
	if (f->st == C_JOINING) {
		struct join_group_response *r = answer(w, f->c.join);
		if (r) {
			f->c.join = NULL;
			on_join_answer(f, r);
		}
	}
	if (f->st == C_SYNCING) {
		struct sync_group_response *r = answer(w, f->c.sync);
		if (r) {
			f->c.sync = NULL;
			on_sync_answer(f, client_synced(&f->c, r));
		}
	}
}

static void fclient_act(struct world *w, struct fclient *f)
{
	switch (f->st) {
	case C_INIT: {
		struct group_request *r = send_join(w, &f->c);
		struct join_group_response *resp = answer(w, r);
		if (!resp) {
			f->c.join = r;
			f->st = C_JOINING;
		} else {
			on_join_answer(f, resp);
		}
		break;
	}
	case C_SYNC: {
		bool leader = is_leader(&f->c, f->c.joined);
		struct group_request *r = send_sync(w, &f->c, leader ? f->c.joined : NULL, 6);
		struct sync_group_response *resp = answer(w, r);
		if (!resp) {
			f->c.sync = r;
			f->st = C_SYNCING;
		} else {
			on_sync_answer(f, client_synced(&f->c, resp));
		}
		break;
	}
	case C_STEADY: {
		int16_t e = heartbeat(w, &f->c);
		if (e == KERR_UNKNOWN_MEMBER_ID)
			f->c.member_id[0] = '\0';
		if (e != KERR_NONE)
			f->st = C_INIT;
		break;
	}
	default:
		break;
	}
}

/* Three consumers under a random schedule; one closes (LeaveGroup) at a random moment; then
 * the two left must end up sharing every partition. */
static int run_schedule(unsigned seed, bool verbose)
{
	rnd_state = seed;
	struct world *w = world_new();
	struct fclient f[3];
	const char *names[] = { "c0", "c1", "c2" };
	for (int i = 0; i < 3; i++) {
		client_init(&f[i].c, names[i]);
		f[i].c.session_ms = 10000;
		f[i].c.rebalance_ms = 30000;
		f[i].st = C_INIT;
	}
	int leaving = (int)rnd(3);
	int leave_at = 5 + (int)rnd(60);
	for (int round = 0; round < 400; round++) {
		w->env.now += rnd(800);
		group_tick(&w->env, w->g);
		for (int i = 0; i < 3; i++)
			fclient_poll(w, &f[i]);
		for (int i = 0; i < 3; i++) {
			int k = (int)rnd(3);
			if (f[k].st != C_CLOSED && rnd(3) != 0)
				fclient_act(w, &f[k]);
			for (int j = 0; j < 3; j++)
				fclient_poll(w, &f[j]);
		}
		if (round == leave_at) {
			if (verbose)
				fprintf(stderr, "round %d: %s leaves in client state %d, group state %d\n", round,
					names[leaving], f[leaving].st, w->g->state);
			group_leave(&w->env, w->g, kstr_c(f[leaving].c.member_id), (struct kstr){ NULL, -1 });
			f[leaving].st = C_CLOSED;
			f[leaving].c.assignment[0] = '\0';
		}
	}
	int bad = 0;
	struct client *left[2];
	for (int i = 0, k = 0; i < 3; i++)
		if (i != leaving)
			left[k++] = &f[i].c;
	/* coverage */
	int seen[6] = { 0 };
	for (int i = 0; i < 2; i++)
		for (const char *p = left[i]->assignment; *p; p = strchr(p, ',') + 1)
			seen[atoi(p)]++;
	for (int p = 0; p < 6; p++)
		if (seen[p] != 1)
			bad = 1;
	if (w->g->state != GROUP_STABLE || w->g->n_members != 2)
		bad = 1;
	if (bad && verbose)
		fprintf(stderr, "seed %u: state %d members %d gen %d: [%s] [%s]\n", seed, w->g->state, w->g->n_members,
			w->g->generation, left[0]->assignment, left[1]->assignment);
	world_free(w);
	return bad;
}

static void test_random_schedules(void **state)
{
	(void)state;
	int bad = 0;
	for (unsigned seed = 1; seed <= 3000; seed++)
		if (run_schedule(seed, false)) {
			if (bad++ < 5)
				run_schedule(seed, true);
		}
	fprintf(stderr, "%d bad schedules\n", bad);
	assert_int_equal(bad, 0);
}

/* Transactional offsets stay aside per producer until their marker: commit keeps them, abort drops them. */
static void test_txn_offsets_settle(void **state)
{
	(void)state;
	struct group *g = group_new("g", 1, 0, 0);
	struct committed_offset o = { .topic = "t", .partition = 0, .offset = 5, .leader_epoch = -1,
				      .metadata = "m", .commit_ts = 1, .expire_ts = -1 };
	group_txn_offset_put(g, 7, &o);
	o.offset = 6; /* the same producer again: replaces */
	group_txn_offset_put(g, 7, &o);
	o.partition = 1;
	o.offset = 9;
	group_txn_offset_put(g, 8, &o);
	assert_int_equal(g->n_txn_offsets, 2);
	assert_null(group_offset(g, "t", 1, 0, false));
	assert_false(group_txn_offsets_complete(g, 99, true));
	assert_true(group_txn_offsets_complete(g, 8, false)); /* aborted: gone, nothing committed */
	assert_null(group_offset(g, "t", 1, 1, false));
	assert_true(group_txn_offsets_complete(g, 7, true));
	struct committed_offset *c = group_offset(g, "t", 1, 0, false);
	assert_non_null(c);
	assert_int_equal(c->offset, 6);
	assert_string_equal(c->metadata, "m");
	assert_int_equal(g->n_txn_offsets, 0);
	group_free(g);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_sync_one_member),
		cmocka_unit_test(test_join_v3_gets_id_at_once),
		cmocka_unit_test(test_second_member_rebalances),
		cmocka_unit_test(test_leave),
		cmocka_unit_test(test_session_expiry),
		cmocka_unit_test(test_rebalance_timeout),
		cmocka_unit_test(test_static_member_replaced),
		cmocka_unit_test(test_three_consumers_last_joiner_leaves),
		cmocka_unit_test(test_random_schedules),
		cmocka_unit_test(test_txn_offsets_settle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
