/*
 * The controller's state machines without ZooKeeper or sockets: the pure
 * election and reassignment arithmetic, then the controller itself driven
 * against an in-memory ZooKeeper (fake_zk) with its channels recorded
 * (fake_channel).  Each case checks the znode payloads the controller wrote and
 * the LeaderAndIsr / UpdateMetadata / StopReplica requests it sent to each broker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "controller/controller_internal.h"
#include "fake_channel.h"
#include "fake_zk.h"
#include "samsa/proto.h"

#define IDS(...) ctl_ids((const int32_t[]){ __VA_ARGS__ }, (int)(sizeof((const int32_t[]){ __VA_ARGS__ }) / sizeof(int32_t)))
#define NO_IDS ctl_ids(NULL, 0)

static void check_ids(const int32_t *got, int n_got, const int32_t *want, int n_want, int line)
{
	char g[128] = "", w[128] = "";
	for (int i = 0; i < n_got; i++)
		snprintf(g + strlen(g), sizeof g - strlen(g), "%s%d", i ? "," : "", got[i]);
	for (int i = 0; i < n_want; i++)
		snprintf(w + strlen(w), sizeof w - strlen(w), "%s%d", i ? "," : "", want[i]);
	if (strcmp(g, w) != 0)
		fail_msg("line %d: ids [%s], expected [%s]", line, g, w);
}
#define assert_ids(got, n, ...)                                                                               \
	do {                                                                                                  \
		const int32_t want_[] = { __VA_ARGS__ };                                                      \
		check_ids((got), (n), want_, (int)(sizeof want_ / sizeof want_[0]), __LINE__);                \
	} while (0)

/* --- pure election functions ------------------------------------------------------------- */

static void test_offline_leader_is_first_live_isr_replica_in_replica_order(void **state)
{
	(void)state;
	/* Replica order decides, not ISR order. */
	assert_int_equal(election_offline_leader(IDS(1, 2, 3), IDS(3, 2, 1), IDS(2, 3), false), 2);
	assert_int_equal(election_offline_leader(IDS(1, 2, 3), IDS(1, 2, 3), IDS(1, 2, 3), false), 1);
	/* Live but out of the ISR does not count for a clean election. */
	assert_int_equal(election_offline_leader(IDS(1, 2, 3), IDS(1, 3), IDS(2, 3), false), 3);
	/* An ISR member that is not a replica never leads. */
	assert_int_equal(election_offline_leader(IDS(1, 2), IDS(1, 7), IDS(2, 7), false), -1);
}

static void test_offline_leader_with_no_live_isr_member(void **state)
{
	(void)state;
	/* Clean: offline.  Unclean: the first live replica in replica order. */
	assert_int_equal(election_offline_leader(IDS(1, 2, 3), IDS(1), IDS(3, 2), false), -1);
	assert_int_equal(election_offline_leader(IDS(1, 2, 3), IDS(1), IDS(3, 2), true), 2);
	/* Nothing live: offline even when unclean is allowed. */
	assert_int_equal(election_offline_leader(IDS(1, 2, 3), IDS(1), NO_IDS, true), -1);
	/* A clean candidate wins over an unclean one even with unclean allowed. */
	assert_int_equal(election_offline_leader(IDS(1, 2, 3), IDS(3), IDS(2, 3), true), 3);
}

static void test_other_election_strategies(void **state)
{
	(void)state;
	/* Preferred: the first replica only, when live and in the ISR. */
	assert_int_equal(election_preferred_leader(IDS(1, 2, 3), IDS(2, 1), IDS(1, 2)), 1);
	assert_int_equal(election_preferred_leader(IDS(1, 2, 3), IDS(2, 3), IDS(1, 2, 3)), -1);
	assert_int_equal(election_preferred_leader(IDS(1, 2, 3), IDS(1, 2), IDS(2, 3)), -1);
	assert_int_equal(election_preferred_leader(NO_IDS, IDS(1), IDS(1)), -1);
	/* Reassignment: the first target replica live and in the ISR. */
	assert_int_equal(election_reassign_leader(IDS(4, 5, 3), IDS(1, 3, 5), IDS(1, 3, 4, 5)), 5);
	assert_int_equal(election_reassign_leader(IDS(4, 5), IDS(1, 5), IDS(1, 4)), -1);
	/* Controlled shutdown: live (shutting-down brokers included), in the ISR, not shutting down. */
	assert_int_equal(election_controlled_shutdown_leader(IDS(1, 2, 3), IDS(1, 2, 3), IDS(1, 2, 3), IDS(1, 2)), 3);
	assert_int_equal(election_controlled_shutdown_leader(IDS(1, 2, 3), IDS(1, 3), IDS(1, 2), IDS(1)), -1);
}

static void test_isr_arithmetic(void **state)
{
	(void)state;
	int32_t out[8];
	int n = election_isr_keep(IDS(3, 1, 2), IDS(2, 3), out);
	assert_ids(out, n, 3, 2);
	n = election_isr_drop(IDS(3, 1, 2), IDS(1), out);
	assert_ids(out, n, 3, 2);
	int32_t leader;
	n = election_remove_from_isr(1, IDS(1, 2, 3), 1, &leader, out);
	assert_int_equal(leader, -1);
	assert_ids(out, n, 2, 3);
	n = election_remove_from_isr(2, IDS(1, 2, 3), 3, &leader, out);
	assert_int_equal(leader, 2);
	assert_ids(out, n, 1, 2);
	/* The last ISR member stays in the ISR, and the partition loses its leader. */
	n = election_remove_from_isr(1, IDS(1), 1, &leader, out);
	assert_int_equal(leader, -1);
	assert_ids(out, n, 1);
}

static void test_reassign_to(void **state)
{
	(void)state;
	/* ORS [1,2,3] -> TRS [3,4,5]: RS = TRS ++ ORS without repeats, AR = TRS - ORS, RR = ORS - TRS. */
	int32_t ors[] = { 1, 2, 3 };
	struct ctl_replica_assignment cur = { .replicas = ors, .n = 3 }, next;
	controller_reassign_to(&cur, (const int32_t[]){ 3, 4, 5 }, 3, &next);
	assert_ids(next.replicas, next.n, 3, 4, 5, 1, 2);
	assert_ids(next.adding, next.n_adding, 4, 5);
	assert_ids(next.removing, next.n_removing, 1, 2);
	/* A new target while that one runs: the origin is still [1,2,3] (RS minus adding). */
	struct ctl_replica_assignment again;
	controller_reassign_to(&next, (const int32_t[]){ 1, 6 }, 2, &again);
	assert_ids(again.replicas, again.n, 1, 6, 3, 2);
	assert_ids(again.adding, again.n_adding, 6);
	assert_ids(again.removing, again.n_removing, 3, 2);
	/* Back to the origin (a cancel): nothing added or removed. */
	struct ctl_replica_assignment back;
	controller_reassign_to(&next, ors, 3, &back);
	assert_ids(back.replicas, back.n, 1, 2, 3);
	assert_int_equal(back.n_adding, 0);
	assert_int_equal(back.n_removing, 0);
	ctl_replica_assignment_free(&next);
	ctl_replica_assignment_free(&again);
	ctl_replica_assignment_free(&back);
}

/* --- a cluster in a fake ZooKeeper ---------------------------------------------------------- */

#define MAX_BROKERS 6
#define TOPIC_ID "kQ0pyn4ASp-hPMaxOiDTNA"

struct cluster {
	struct fake_zk *fz;
	struct fake_channel *fc;
	struct zk *admin;                 /* tools and partition leaders write through this session */
	struct zk *session[MAX_BROKERS + 1]; /* each broker's registration; the controller's broker shares its own */
	int64_t epoch[MAX_BROKERS + 1];   /* broker epochs (czxid of the registration) */
	int32_t controller_id;
	struct controller_config cfg;
	struct controller *c;
	int reregistered;
};

static void register_broker(struct cluster *cl, int32_t id)
{
	struct kafka_endpoint ep = { .listener = "PLAINTEXT", .host = "localhost", .port = 9090 + id };
	struct kafka_broker_registration reg = { .id = id, .endpoints = &ep, .n_endpoints = 1, .timestamp_ms = 1 };
	assert_int_equal(kafka_zk_register_broker(cl->session[id], &reg, &cl->epoch[id]), 0);
}

/* The broker's side of a session expiry, as broker_reregister does it. */
static int reregister_hook(void *arg)
{
	struct cluster *cl = arg;
	cl->reregistered++;
	if (zk_reconnect(cl->session[cl->controller_id]) != 0)
		return -1;
	register_broker(cl, cl->controller_id);
	return 0;
}

/* Brokers 1..n_brokers registered; the controller runs on `controller_id`, not yet elected. */
static struct cluster *cluster_new(int n_brokers, int32_t controller_id)
{
	struct cluster *cl = calloc(1, sizeof *cl);
	cl->fz = fake_zk_new();
	cl->fc = fake_channel_new();
	cl->admin = fake_zk_session(cl->fz);
	assert_int_equal(kafka_zk_ensure_paths(cl->admin), 0);
	for (int32_t id = 1; id <= n_brokers; id++) {
		cl->session[id] = fake_zk_session(cl->fz);
		register_broker(cl, id);
	}
	cl->controller_id = controller_id;
	cl->cfg = (struct controller_config){
		.broker_id = controller_id,
		.inter_broker_listener_name = "PLAINTEXT",
		.controller_socket_timeout_ms = 30000,
		.delete_topic_enable = true,
		.leader_imbalance_per_broker_percentage = 10,
		.leader_imbalance_check_interval_seconds = 300,
	};
	return cl;
}

/* The controller is created and wins the election (the first event a starting broker posts). */
static void cluster_start(struct cluster *cl)
{
	struct controller_hooks hooks = { .reregister = reregister_hook, .arg = cl };
	cl->c = controller_new(&cl->cfg, cl->session[cl->controller_id], &hooks);
	controller_set_channel_factory(cl->c, fake_channel_factory, cl->fc);
	controller_post(cl->c, EV_ELECT);
	controller_run_pending(cl->c);
	assert_true(controller_is_active(cl->c));
}

static void cluster_free(struct cluster *cl)
{
	if (cl->c) {
		controller_post(cl->c, EV_SHUTDOWN);
		controller_run_pending(cl->c);
		controller_free(cl->c);
	}
	/* The controller's session first: its watches must not fire as the brokers' znodes go. */
	zk_close(cl->session[cl->controller_id]);
	cl->session[cl->controller_id] = NULL;
	for (int i = 0; i <= MAX_BROKERS; i++)
		zk_close(cl->session[i]);
	zk_close(cl->admin);
	fake_zk_free(cl->fz);
	fake_channel_free(cl->fc);
	free(cl);
}

/* A partition for add_topic: its replicas, and the state a previous controller left (leader -2: none yet). */
struct part_spec {
	const int32_t *replicas;
	int n_replicas;
	int32_t leader;
	const int32_t *isr;
	int n_isr;
};
#define PART(reps, ldr, isr_) { reps, (int)(sizeof reps / sizeof reps[0]), ldr, isr_, (int)(sizeof isr_ / sizeof isr_[0]) }

/* A topic as an admin tool creates it, with partition states at leader epoch 0 and controller epoch 0. */
static void add_topic(struct cluster *cl, const char *name, const struct part_spec *parts, int n,
		      const struct topic_config_entry *configs, int n_configs)
{
	struct topic_assignment asg = { .name = (char *)name, .n_partitions = n };
	asg.replicas = calloc((size_t)n, sizeof *asg.replicas);
	asg.n_replicas = calloc((size_t)n, sizeof *asg.n_replicas);
	for (int p = 0; p < n; p++) {
		asg.replicas[p] = (int32_t *)parts[p].replicas;
		asg.n_replicas[p] = parts[p].n_replicas;
	}
	assert_int_equal(uuid_from_base64(TOPIC_ID, asg.id), 0);
	assert_int_equal(topic_zk_create(cl->admin, &asg, configs, n_configs), ZOK);
	for (int p = 0; p < n; p++) {
		if (parts[p].leader == -2)
			continue;
		struct partition_state st = { .leader = parts[p].leader, .isr = (int32_t *)parts[p].isr,
					      .n_isr = parts[p].n_isr };
		assert_int_equal(topic_zk_create_state(cl->admin, name, p, &st), ZOK);
	}
	free(asg.replicas);
	free(asg.n_replicas);
}

static void assert_znode(struct cluster *cl, const char *path, const char *want)
{
	char *got = fake_zk_data(cl->fz, path);
	if (!got)
		fail_msg("%s does not exist; expected %s", path, want);
	if (strcmp(got, want) != 0)
		fail_msg("%s is %s\n  expected %s", path, got, want);
	free(got);
}

static void state_path(char *buf, size_t cap, const char *topic, int p)
{
	snprintf(buf, cap, "/brokers/topics/%s/partitions/%d/state", topic, p);
}

/* The state znode, in the exact JSON Kafka writes. */
static void assert_state(struct cluster *cl, const char *topic, int p, int32_t controller_epoch, int32_t leader,
			 int32_t leader_epoch, const char *isr)
{
	char path[256], want[256];
	state_path(path, sizeof path, topic, p);
	snprintf(want, sizeof want, "{\"controller_epoch\":%d,\"leader\":%d,\"version\":1,\"leader_epoch\":%d,\"isr\":[%s]}",
		 controller_epoch, leader, leader_epoch, isr);
	assert_znode(cl, path, want);
}

/* Runs whatever the controller has queued (fired watches, re-elections). */
static void settle(struct cluster *cl) { controller_run_pending(cl->c); }

/* --- decoding what the controller sent ------------------------------------------------------ */

static int count_sent(struct cluster *cl, int32_t broker, int16_t api_key)
{
	int n = 0;
	for (int i = 0; i < fake_channel_count(cl->fc); i++) {
		const struct fake_request *r = fake_channel_at(cl->fc, i);
		n += r->broker_id == broker && r->api_key == api_key;
	}
	return n;
}

static int count_all(struct cluster *cl, int16_t api_key)
{
	int n = 0;
	for (int32_t b = 0; b <= MAX_BROKERS; b++)
		n += count_sent(cl, b, api_key);
	return n;
}

/* The partition in the last LeaderAndIsr to `broker` naming topic-p, or NULL; *req gets that request. */
static const struct leader_and_isr_request_leader_and_isr_partition_state *
last_lai(struct cluster *cl, int32_t broker, const char *topic, int p, struct arena *a, struct leader_and_isr_request *req)
{
	const struct leader_and_isr_request_leader_and_isr_partition_state *found = NULL;
	for (int i = 0; i < fake_channel_count(cl->fc); i++) {
		const struct fake_request *r = fake_channel_at(cl->fc, i);
		if (r->broker_id != broker || r->api_key != API_LEADER_AND_ISR)
			continue;
		assert_int_equal(r->api_version, LEADER_AND_ISR_VERSION);
		struct rd rd;
		rd_init(&rd, r->body, r->len);
		struct leader_and_isr_request m;
		assert_int_equal(leader_and_isr_request_decode(&rd, a, r->api_version, &m), 0);
		for (int t = 0; t < m.topic_states_count; t++) {
			if (!kstr_eq(m.topic_states[t].topic_name, topic))
				continue;
			for (int k = 0; k < m.topic_states[t].partition_states_count; k++)
				if (m.topic_states[t].partition_states[k].partition_index == p) {
					found = &m.topic_states[t].partition_states[k];
					if (req)
						*req = m;
				}
		}
	}
	return found;
}

static const struct update_metadata_request_update_metadata_partition_state *
last_um(struct cluster *cl, int32_t broker, const char *topic, int p, struct arena *a, struct update_metadata_request *req)
{
	const struct update_metadata_request_update_metadata_partition_state *found = NULL;
	for (int i = 0; i < fake_channel_count(cl->fc); i++) {
		const struct fake_request *r = fake_channel_at(cl->fc, i);
		if (r->broker_id != broker || r->api_key != API_UPDATE_METADATA)
			continue;
		assert_int_equal(r->api_version, UPDATE_METADATA_VERSION);
		struct rd rd;
		rd_init(&rd, r->body, r->len);
		struct update_metadata_request m;
		assert_int_equal(update_metadata_request_decode(&rd, a, r->api_version, &m), 0);
		for (int t = 0; t < m.topic_states_count; t++) {
			if (!kstr_eq(m.topic_states[t].topic_name, topic))
				continue;
			for (int k = 0; k < m.topic_states[t].partition_states_count; k++)
				if (m.topic_states[t].partition_states[k].partition_index == p) {
					found = &m.topic_states[t].partition_states[k];
					if (req)
						*req = m;
				}
		}
	}
	return found;
}

static const struct stop_replica_request_stop_replica_partition_state *
last_stop(struct cluster *cl, int32_t broker, const char *topic, int p, struct arena *a)
{
	const struct stop_replica_request_stop_replica_partition_state *found = NULL;
	for (int i = 0; i < fake_channel_count(cl->fc); i++) {
		const struct fake_request *r = fake_channel_at(cl->fc, i);
		if (r->broker_id != broker || r->api_key != API_STOP_REPLICA)
			continue;
		assert_int_equal(r->api_version, STOP_REPLICA_VERSION);
		struct rd rd;
		rd_init(&rd, r->body, r->len);
		struct stop_replica_request m;
		assert_int_equal(stop_replica_request_decode(&rd, a, r->api_version, &m), 0);
		assert_int_equal(m.controller_id, cl->controller_id);
		assert_int_equal(m.broker_epoch, cl->epoch[broker]);
		for (int t = 0; t < m.topic_states_count; t++) {
			if (!kstr_eq(m.topic_states[t].topic_name, topic))
				continue;
			for (int k = 0; k < m.topic_states[t].partition_states_count; k++)
				if (m.topic_states[t].partition_states[k].partition_index == p)
					found = &m.topic_states[t].partition_states[k];
		}
	}
	return found;
}

/* LeaderAndIsr for topic-p went to exactly the brokers in `to` (with this leader, epoch, ISR and replicas). */
static void check_lai(struct cluster *cl, const char *topic, int p, struct ctl_ids to, int32_t leader, int32_t leader_epoch,
		      struct ctl_ids isr, struct ctl_ids replicas, int line)
{
	struct arena a;
	arena_init(&a);
	for (int32_t b = 1; b <= MAX_BROKERS; b++) {
		struct leader_and_isr_request req;
		const struct leader_and_isr_request_leader_and_isr_partition_state *ps = last_lai(cl, b, topic, p, &a, &req);
		if (!ctl_ids_has(to, b)) {
			if (ps)
				fail_msg("line %d: LeaderAndIsr for %s-%d went to broker %d", line, topic, p, b);
			continue;
		}
		if (!ps)
			fail_msg("line %d: no LeaderAndIsr for %s-%d to broker %d", line, topic, p, b);
		assert_int_equal(req.controller_id, cl->controller_id);
		assert_int_equal(req.controller_epoch, controller_epoch(cl->c));
		assert_int_equal(req.broker_epoch, cl->epoch[b]);
		assert_int_equal(ps->leader, leader);
		assert_int_equal(ps->leader_epoch, leader_epoch);
		check_ids(ps->isr, ps->isr_count, isr.ids, isr.n, line);
		check_ids(ps->replicas, ps->replicas_count, replicas.ids, replicas.n, line);
		/* The partition epoch is the state znode's version. */
		char path[256];
		state_path(path, sizeof path, topic, p);
		assert_int_equal(ps->partition_epoch, fake_zk_version(cl->fz, path));
	}
	arena_free(&a);
}
#define CHECK_LAI(cl, topic, p, to, leader, le, isr, replicas) \
	check_lai(cl, topic, p, to, leader, le, isr, replicas, __LINE__)

/* --- failover ------------------------------------------------------------------------------ */

static void test_failover_takes_the_controller_role_and_announces_the_cluster(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	static const int32_t r0[] = { 1, 2, 3 }, i0[] = { 1, 2, 3 };
	struct part_spec parts[] = { PART(r0, 1, i0) };
	add_topic(cl, "t", parts, 1, NULL, 0);
	cluster_start(cl);

	assert_int_equal(controller_epoch(cl->c), 1);
	assert_int_equal(controller_active_id(cl->c), 3);
	assert_znode(cl, "/controller_epoch", "1");
	char *ctl = fake_zk_data(cl->fz, "/controller");
	assert_non_null(strstr(ctl, "\"version\":2,\"brokerid\":3,"));
	free(ctl);
	for (int32_t b = 1; b <= 3; b++)
		assert_true(fake_channel_connected(cl->fc, b));

	/* Every live broker learns the cluster: all brokers and the partition's state. */
	struct arena a;
	arena_init(&a);
	for (int32_t b = 1; b <= 3; b++) {
		struct update_metadata_request req;
		const struct update_metadata_request_update_metadata_partition_state *ps = last_um(cl, b, "t", 0, &a, &req);
		assert_non_null(ps);
		assert_int_equal(req.controller_id, 3);
		assert_int_equal(req.controller_epoch, 1);
		assert_int_equal(req.broker_epoch, cl->epoch[b]);
		assert_int_equal(req.live_brokers_count, 3);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(req.live_brokers[i].id, i + 1);
			assert_int_equal(req.live_brokers[i].endpoints_count, 1);
			assert_int_equal(req.live_brokers[i].endpoints[0].port, 9091 + i);
			assert_true(kstr_eq(req.live_brokers[i].endpoints[0].listener, "PLAINTEXT"));
		}
		assert_int_equal(ps->leader, 1);
		assert_int_equal(ps->offline_replicas_count, 0);
	}
	arena_free(&a);
	/* The state the previous controller left is announced, not rewritten. */
	CHECK_LAI(cl, "t", 0, IDS(1, 2, 3), 1, 0, IDS(1, 2, 3), IDS(1, 2, 3));
	assert_int_equal(fake_zk_journal_find(cl->fz, "set /brokers/topics/t/partitions/0/state", 0), -1);
	cluster_free(cl);
}

static void test_new_topic_is_brought_online(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	cluster_start(cl);
	fake_channel_clear(cl->fc);
	/* An admin creates topic u with no partition states; broker 1 is down meanwhile. */
	fake_zk_expire(cl->fz, cl->session[1]);
	settle(cl);
	static const int32_t r0[] = { 2, 3 }, r1[] = { 1, 3 }, r2[] = { 1 }, none[] = { 0 };
	struct part_spec parts[] = { PART(r0, -2, none), PART(r1, -2, none), PART(r2, -2, none) };
	add_topic(cl, "u", parts, 3, NULL, 0);
	settle(cl);

	/* [NewPartition -> OnlinePartition]: the first live replica leads, the live replicas are the ISR. */
	assert_state(cl, "u", 0, 1, 2, 0, "2,3");
	assert_state(cl, "u", 1, 1, 3, 0, "3");
	/* No live replica: it stays without a state until one comes. */
	assert_false(fake_zk_exists(cl->fz, "/brokers/topics/u/partitions/2/state"));
	CHECK_LAI(cl, "u", 0, IDS(2, 3), 2, 0, IDS(2, 3), IDS(2, 3));
	CHECK_LAI(cl, "u", 1, IDS(3), 3, 0, IDS(3), IDS(1, 3));
	struct arena a;
	arena_init(&a);
	for (int32_t b = 2; b <= 3; b++) {
		const struct update_metadata_request_update_metadata_partition_state *ps = last_um(cl, b, "u", 1, &a, NULL);
		assert_non_null(ps);
		assert_int_equal(ps->leader, 3);
		assert_ids(ps->offline_replicas, ps->offline_replicas_count, 1);
	}
	arena_free(&a);
	cluster_free(cl);
}

/* --- broker failure -------------------------------------------------------------------------- */

static void test_broker_failure_elects_first_live_isr_replica(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	static const int32_t r0[] = { 1, 2, 3 }, i0[] = { 1, 3, 2 };
	struct part_spec parts[] = { PART(r0, 1, i0) };
	add_topic(cl, "t", parts, 1, NULL, 0);
	cluster_start(cl);
	fake_channel_clear(cl->fc);
	fake_zk_journal_clear(cl->fz);

	/* Broker 1's session ends: its registration goes and the controller's watch fires. */
	fake_zk_expire(cl->fz, cl->session[1]);
	settle(cl);

	/* 2 precedes 3 in the assignment, though not in the ISR; the ISR keeps its live members. */
	assert_state(cl, "t", 0, 1, 2, 1, "3,2");
	assert_false(fake_channel_connected(cl->fc, 1));
	CHECK_LAI(cl, "t", 0, IDS(2, 3), 2, 1, IDS(3, 2), IDS(1, 2, 3));
	struct arena a;
	arena_init(&a);
	for (int32_t b = 2; b <= 3; b++) {
		struct update_metadata_request req;
		const struct update_metadata_request_update_metadata_partition_state *ps = last_um(cl, b, "t", 0, &a, &req);
		assert_non_null(ps);
		assert_int_equal(req.live_brokers_count, 2);
		assert_int_equal(ps->leader, 2);
		assert_ids(ps->isr, ps->isr_count, 3, 2);
		assert_ids(ps->offline_replicas, ps->offline_replicas_count, 1);
	}
	arena_free(&a);
	assert_int_equal(count_sent(cl, 1, API_UPDATE_METADATA) + count_sent(cl, 1, API_LEADER_AND_ISR), 0);
	/* One conditional write of the state, nothing else. */
	assert_int_equal(fake_zk_journal_len(cl->fz), 2); /* the registration's delete, the state's set */
	assert_int_equal(fake_zk_journal_find(cl->fz, "set /brokers/topics/t/partitions/0/state", 0), 1);
	cluster_free(cl);
}

static void test_broker_failure_without_live_isr_member_goes_offline(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	static const int32_t r0[] = { 1, 2 }, i0[] = { 1 }, r1[] = { 1 }, i1[] = { 1 }, r2[] = { 2, 1 }, i2[] = { 2, 1 };
	struct part_spec parts[] = { PART(r0, 1, i0), PART(r1, 1, i1), PART(r2, 2, i2) };
	add_topic(cl, "t", parts, 3, NULL, 0);
	cluster_start(cl);
	fake_channel_clear(cl->fc);
	fake_zk_expire(cl->fz, cl->session[1]);
	settle(cl);

	/* No live ISR member and unclean election off: no leader, and the last ISR member stays. */
	assert_state(cl, "t", 0, 1, -1, 1, "1");
	assert_state(cl, "t", 1, 1, -1, 1, "1");
	CHECK_LAI(cl, "t", 0, IDS(2), -1, 1, IDS(1), IDS(1, 2));
	/* A follower that dies just leaves the ISR. */
	assert_state(cl, "t", 2, 1, 2, 1, "2");
	CHECK_LAI(cl, "t", 2, IDS(2), 2, 1, IDS(2), IDS(2, 1));

	/* It comes back: the offline partition gets its only ISR member as leader again. */
	zk_close(cl->session[1]);
	cl->session[1] = fake_zk_session(cl->fz);
	register_broker(cl, 1);
	fake_channel_clear(cl->fc);
	settle(cl);
	assert_state(cl, "t", 0, 1, 1, 2, "1");
	assert_state(cl, "t", 1, 1, 1, 2, "1");
	CHECK_LAI(cl, "t", 0, IDS(1, 2), 1, 2, IDS(1), IDS(1, 2));
	/* The ISR is the leader's to grow: the returning follower is only told the state. */
	assert_state(cl, "t", 2, 1, 2, 1, "2");
	CHECK_LAI(cl, "t", 2, IDS(1), 2, 1, IDS(2), IDS(2, 1));
	cluster_free(cl);
}

static void test_unclean_election_follows_topic_config_over_broker_default(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	static const int32_t r0[] = { 1, 2, 3 }, i0[] = { 1 };
	struct part_spec parts[] = { PART(r0, 1, i0) };
	struct topic_config_entry on = { "unclean.leader.election.enable", "true" };
	struct topic_config_entry off = { "unclean.leader.election.enable", "false" };
	add_topic(cl, "yes", parts, 1, &on, 1);
	add_topic(cl, "no", parts, 1, &off, 1);
	add_topic(cl, "default", parts, 1, NULL, 0);
	cl->cfg.unclean_leader_election_enable = true;
	cluster_start(cl);
	fake_channel_clear(cl->fc);
	fake_zk_expire(cl->fz, cl->session[1]);
	settle(cl);

	/* The first live replica leads from outside the ISR, alone in it. */
	assert_state(cl, "yes", 0, 1, 2, 1, "2");
	CHECK_LAI(cl, "yes", 0, IDS(2, 3), 2, 1, IDS(2), IDS(1, 2, 3));
	assert_state(cl, "default", 0, 1, 2, 1, "2");
	/* The topic's "false" wins over the broker's "true". */
	assert_state(cl, "no", 0, 1, -1, 1, "1");
	cluster_free(cl);
}

/* --- controlled shutdown --------------------------------------------------------------------- */

struct shutdown_result {
	int calls;
	int16_t error;
	char remaining[256];
};

static void on_shutdown(void *arg, int16_t error, const struct topic_partition_ref *remaining, int n)
{
	struct shutdown_result *r = arg;
	r->calls++;
	r->error = error;
	r->remaining[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(r->remaining + strlen(r->remaining), sizeof r->remaining - strlen(r->remaining), "%s%s-%d",
			 i ? "," : "", remaining[i].topic, remaining[i].partition);
}

static void test_controlled_shutdown_moves_leaders_and_shrinks_isrs(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	static const int32_t r0[] = { 1, 2, 3 }, i0[] = { 1, 2, 3 };
	static const int32_t r1[] = { 2, 1, 3 }, i1[] = { 2, 1, 3 };
	static const int32_t r2[] = { 1, 2 }, i2[] = { 1 };
	static const int32_t r3[] = { 1 }, i3[] = { 1 };
	struct part_spec parts[] = { PART(r0, 1, i0), PART(r1, 2, i1), PART(r2, 1, i2), PART(r3, 1, i3) };
	add_topic(cl, "t", parts, 4, NULL, 0);
	cluster_start(cl);
	fake_channel_clear(cl->fc);

	struct shutdown_result res = { 0 };
	controller_do_controlled_shutdown(cl->c, 1, cl->epoch[1], on_shutdown, &res);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.error, KERR_NONE);
	/* What it still leads: t-2 (nobody else in its ISR); t-3 has one replica and is not counted. */
	assert_string_equal(res.remaining, "t-2");

	/* Its leadership moves to the first other ISR replica, and it leaves the ISR. */
	assert_state(cl, "t", 0, 1, 2, 1, "2,3");
	CHECK_LAI(cl, "t", 0, IDS(1, 2, 3), 2, 1, IDS(2, 3), IDS(1, 2, 3));
	/* As a follower it stops fetching (StopReplica without delete) and leaves the ISR. */
	assert_state(cl, "t", 1, 1, 2, 1, "2,3");
	CHECK_LAI(cl, "t", 1, IDS(2, 3), 2, 1, IDS(2, 3), IDS(2, 1, 3));
	struct arena a;
	arena_init(&a);
	const struct stop_replica_request_stop_replica_partition_state *sr = last_stop(cl, 1, "t", 1, &a);
	assert_non_null(sr);
	assert_false(sr->delete_partition);
	assert_int_equal(sr->leader_epoch, 0);
	assert_null(last_stop(cl, 1, "t", 0, &a));
	arena_free(&a);
	assert_int_equal(count_sent(cl, 2, API_STOP_REPLICA) + count_sent(cl, 3, API_STOP_REPLICA), 0);
	/* Untouched: no one to take over, or a single replica. */
	assert_state(cl, "t", 2, 0, 1, 0, "1");
	assert_state(cl, "t", 3, 0, 1, 0, "1");

	/* A retry finds nothing more to move. */
	controller_do_controlled_shutdown(cl->c, 1, cl->epoch[1], on_shutdown, &res);
	assert_int_equal(res.calls, 2);
	assert_string_equal(res.remaining, "t-2");
	/* Shutting down, it is no candidate for leadership elsewhere: broker 2 dies, 3 leads. */
	fake_zk_expire(cl->fz, cl->session[2]);
	settle(cl);
	assert_state(cl, "t", 0, 1, 3, 2, "3");
	cluster_free(cl);
}

static void test_controlled_shutdown_refusals(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	struct shutdown_result res = { 0 };
	/* Not (yet) the controller. */
	struct controller_hooks hooks = { 0 };
	struct controller *idle = controller_new(&cl->cfg, cl->session[3], &hooks);
	controller_do_controlled_shutdown(idle, 1, cl->epoch[1], on_shutdown, &res);
	assert_int_equal(res.error, KERR_NOT_CONTROLLER);
	controller_free(idle);

	cluster_start(cl);
	controller_do_controlled_shutdown(cl->c, 1, cl->epoch[1] - 1, on_shutdown, &res);
	assert_int_equal(res.error, KERR_STALE_BROKER_EPOCH);
	controller_do_controlled_shutdown(cl->c, 5, -1, on_shutdown, &res);
	assert_int_equal(res.error, KERR_BROKER_NOT_AVAILABLE);
	assert_int_equal(res.calls, 3);
	assert_int_equal(cl->c->n_shutting_down, 0);
	cluster_free(cl);
}

/* --- reassignment ------------------------------------------------------------------------------- */

static void write_reassign_znode(struct cluster *cl, const char *json)
{
	assert_int_equal(zk_create(cl->admin, "/admin/reassign_partitions", json, (int)strlen(json), 0, NULL, NULL, 0),
			 ZOK);
}

/* What a partition leader does when its ISR grows: the state znode, then a change notification. */
static void leader_sets_isr(struct cluster *cl, const char *topic, int p, int32_t leader, int32_t leader_epoch,
			    const char *isr)
{
	char path[256], json[256];
	state_path(path, sizeof path, topic, p);
	snprintf(json, sizeof json, "{\"controller_epoch\":%d,\"leader\":%d,\"version\":1,\"leader_epoch\":%d,\"isr\":[%s]}",
		 controller_epoch(cl->c), leader, leader_epoch, isr);
	assert_int_equal(zk_set(cl->session[leader], path, json, (int)strlen(json), fake_zk_version(cl->fz, path), NULL),
			 ZOK);
	snprintf(json, sizeof json, "{\"version\":1,\"partitions\":[{\"topic\":\"%s\",\"partition\":%d}]}", topic, p);
	assert_int_equal(zk_create(cl->session[leader], "/isr_change_notification/isr_change_", json, (int)strlen(json),
				   ZOO_SEQUENCE, NULL, NULL, 0),
			 ZOK);
}

/* Kafka's OfflineReplica step: every partition with a replica on a dead broker is announced
 * with that replica offline, also those whose ISR a controlled shutdown had already shrunk. */
static void test_broker_failure_announces_offline_replicas_after_controlled_shutdown(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 1);
	static const int32_t r0[] = { 1, 2, 3 }, i0[] = { 1, 2, 3 }, r1[] = { 3 }, i1[] = { 3 };
	struct part_spec parts[] = { PART(r0, 1, i0), PART(r1, 3, i1) };
	add_topic(cl, "t", parts, 2, NULL, 0);
	cluster_start(cl);
	fake_channel_clear(cl->fc);

	struct shutdown_result res = { 0 };
	controller_do_controlled_shutdown(cl->c, 3, cl->epoch[3], on_shutdown, &res);
	assert_int_equal(res.error, KERR_NONE);
	assert_state(cl, "t", 0, 1, 1, 1, "1,2");
	struct arena a;
	arena_init(&a);
	/* A broker shutting down is already offline to Kafka's isReplicaOnline. */
	const struct update_metadata_request_update_metadata_partition_state *ps = last_um(cl, 1, "t", 0, &a, NULL);
	assert_non_null(ps);
	assert_ids(ps->offline_replicas, ps->offline_replicas_count, 3);

	fake_channel_clear(cl->fc);
	fake_zk_expire(cl->fz, cl->session[3]);
	settle(cl);
	/* t-1 loses its leader (so the batch is not empty); t-0's state is left as it was. */
	assert_state(cl, "t", 1, 1, -1, 1, "3");
	assert_state(cl, "t", 0, 1, 1, 1, "1,2");
	for (int32_t b = 1; b <= 2; b++) {
		struct update_metadata_request req;
		ps = last_um(cl, b, "t", 0, &a, &req);
		assert_non_null(ps);
		assert_int_equal(req.live_brokers_count, 2);
		assert_int_equal(ps->leader, 1);
		assert_ids(ps->isr, ps->isr_count, 1, 2);
		assert_ids(ps->replicas, ps->replicas_count, 1, 2, 3);
		assert_ids(ps->offline_replicas, ps->offline_replicas_count, 3);
		ps = last_um(cl, b, "t", 1, &a, NULL);
		assert_non_null(ps);
		assert_int_equal(ps->leader, -1);
		assert_ids(ps->offline_replicas, ps->offline_replicas_count, 3);
	}
	arena_free(&a);
	cluster_free(cl);
}

static void test_reassignment_through_zookeeper_follows_kafkas_steps(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(4, 4);
	static const int32_t r0[] = { 1, 2 }, i0[] = { 1, 2 };
	static const int32_t r1[] = { 1, 2, 3 }, i1[] = { 1, 2, 3 };
	struct part_spec parts[] = { PART(r0, 1, i0), PART(r1, 1, i1) };
	add_topic(cl, "t", parts, 2, NULL, 0);
	cluster_start(cl);
	fake_channel_clear(cl->fc);
	fake_zk_journal_clear(cl->fz);

	/* t-0 moves from [1,2] to [2,3] (3 must catch up); t-1 drops 3 (its targets are all in the ISR). */
	write_reassign_znode(cl, "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[2,3]},"
				 "{\"topic\":\"t\",\"partition\":1,\"replicas\":[1,2]}]}");
	settle(cl);

	/* U: RS = TRS ++ ORS with adding/removing in the topic znode; A: a new leader epoch to all of RS. */
	assert_state(cl, "t", 0, 1, 1, 1, "1,2");
	CHECK_LAI(cl, "t", 0, IDS(2, 3, 1), 1, 1, IDS(1, 2), IDS(2, 3, 1));
	struct arena a;
	arena_init(&a);
	const struct leader_and_isr_request_leader_and_isr_partition_state *ps = last_lai(cl, 3, "t", 0, &a, NULL);
	assert_ids(ps->adding_replicas, ps->adding_replicas_count, 3);
	assert_ids(ps->removing_replicas, ps->removing_replicas_count, 1);
	/* t-1 completed at once: its leader stays (in TRS) under a new epoch, 3 leaves the ISR and is deleted. */
	assert_state(cl, "t", 1, 1, 1, 2, "1,2");
	CHECK_LAI(cl, "t", 1, IDS(1, 2), 1, 2, IDS(1, 2), IDS(1, 2));
	const struct stop_replica_request_stop_replica_partition_state *sr = last_stop(cl, 3, "t", 1, &a);
	assert_non_null(sr);
	assert_true(sr->delete_partition);
	assert_znode(cl, "/brokers/topics/t",
		     "{\"partitions\":{\"0\":[2,3,1],\"1\":[1,2]},\"topic_id\":\"" TOPIC_ID "\","
		     "\"adding_replicas\":{\"0\":[3]},\"removing_replicas\":{\"0\":[1]},\"version\":3}");
	/* Only t-1 left /admin/reassign_partitions. */
	assert_znode(cl, "/admin/reassign_partitions",
		     "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[2,3]}]}");
	assert_null(last_stop(cl, 1, "t", 0, &a));

	/* 3 catches up: the leader adds it to the ISR and notifies the controller. */
	fake_channel_clear(cl->fc);
	fake_zk_journal_clear(cl->fz);
	leader_sets_isr(cl, "t", 0, 1, 1, "1,2,3");
	settle(cl);

	/* B3: the leader (1) is not a target: the first target in the ISR (2) leads; B4: 1 leaves the ISR. */
	assert_state(cl, "t", 0, 1, 2, 3, "2,3");
	CHECK_LAI(cl, "t", 0, IDS(2, 3), 2, 3, IDS(2, 3), IDS(2, 3));
	/* B5: the removed replica is deleted. */
	sr = last_stop(cl, 1, "t", 0, &a);
	assert_non_null(sr);
	assert_true(sr->delete_partition);
	assert_int_equal(sr->leader_epoch, 3);
	assert_int_equal(count_sent(cl, 2, API_STOP_REPLICA) + count_sent(cl, 3, API_STOP_REPLICA), 0);
	/* B6: RS = TRS in ZooKeeper; B7: the last entry leaves, so the znode goes; B8: everyone learns. */
	assert_znode(cl, "/brokers/topics/t",
		     "{\"partitions\":{\"0\":[2,3],\"1\":[1,2]},\"topic_id\":\"" TOPIC_ID "\","
		     "\"adding_replicas\":{},\"removing_replicas\":{},\"version\":3}");
	assert_false(fake_zk_exists(cl->fz, "/admin/reassign_partitions"));
	for (int32_t b = 1; b <= 4; b++) {
		const struct update_metadata_request_update_metadata_partition_state *um = last_um(cl, b, "t", 0, &a, NULL);
		assert_non_null(um);
		assert_int_equal(um->leader, 2);
		assert_ids(um->replicas, um->replicas_count, 2, 3);
	}
	arena_free(&a);
	/* In Kafka's order: state writes (B3, B4), the topic znode (B6), the reassignment znode (B7). */
	int elect = fake_zk_journal_find(cl->fz, "set /brokers/topics/t/partitions/0/state", 1);
	int shrink = fake_zk_journal_find(cl->fz, "set /brokers/topics/t/partitions/0/state", elect + 1);
	int topic = fake_zk_journal_find(cl->fz, "set /brokers/topics/t", 0);
	int done = fake_zk_journal_find(cl->fz, "delete /admin/reassign_partitions", 0);
	assert_true(elect > 0 && shrink > elect && topic > shrink && done > topic);
	/* The notification was consumed. */
	assert_true(fake_zk_journal_find(cl->fz, "delete /isr_change_notification/isr_change_0000000000", 0) > done);
	cluster_free(cl);
}

struct reassign_result {
	int calls;
	int16_t error;
};

static void on_reassign(void *arg, int16_t error, struct ctl_reassign_item *items, int n)
{
	(void)items;
	(void)n;
	struct reassign_result *r = arg;
	r->calls++;
	r->error = error;
}

struct list_result {
	int n;
	char text[256];
};

static void on_list(void *arg, int16_t error, const struct ctl_reassignment *list, int n)
{
	struct list_result *r = arg;
	assert_int_equal(error, KERR_NONE);
	r->n = n;
	r->text[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t len = strlen(r->text);
		snprintf(r->text + len, sizeof r->text - len, "%s-%d:", list[i].topic, list[i].partition);
		for (int k = 0; k < list[i].n_replicas; k++)
			snprintf(r->text + strlen(r->text), sizeof r->text - strlen(r->text), "%d", list[i].replicas[k]);
		snprintf(r->text + strlen(r->text), sizeof r->text - strlen(r->text), "+");
		for (int k = 0; k < list[i].n_adding; k++)
			snprintf(r->text + strlen(r->text), sizeof r->text - strlen(r->text), "%d", list[i].adding[k]);
		snprintf(r->text + strlen(r->text), sizeof r->text - strlen(r->text), "-");
		for (int k = 0; k < list[i].n_removing; k++)
			snprintf(r->text + strlen(r->text), sizeof r->text - strlen(r->text), "%d", list[i].removing[k]);
	}
}

static void test_reassignment_api_validation_list_and_cancel(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(4, 4);
	static const int32_t r0[] = { 1, 2 }, i0[] = { 1, 2 };
	struct part_spec parts[] = { PART(r0, 1, i0) };
	add_topic(cl, "t", parts, 1, NULL, 0);
	cluster_start(cl);
	fake_channel_clear(cl->fc);

	struct ctl_reassign_item items[] = {
		{ .topic = "t", .partition = 0, .replicas = (const int32_t[]){ 3, 4 }, .n_replicas = 2 },
		{ .topic = "t", .partition = 0, .replicas = (const int32_t[]){ 3, 9 }, .n_replicas = 2 },
		{ .topic = "t", .partition = 0, .replicas = (const int32_t[]){ 3, 3 }, .n_replicas = 2 },
		{ .topic = "nope", .partition = 0, .replicas = (const int32_t[]){ 1 }, .n_replicas = 1 },
	};
	struct reassign_result res = { 0 };
	controller_do_alter_reassignments(cl->c, items, 4, on_reassign, &res);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.error, KERR_NONE);
	assert_int_equal(items[0].error, KERR_NONE);
	assert_int_equal(items[1].error, KERR_INVALID_REPLICA_ASSIGNMENT);
	assert_string_equal(items[1].message, "Replica assignment has brokers that are not alive.");
	assert_int_equal(items[2].error, KERR_INVALID_REPLICA_ASSIGNMENT);
	assert_int_equal(items[3].error, KERR_UNKNOWN_TOPIC_OR_PARTITION);

	/* Under way: RS = [3,4,1,2], listed with what is added and removed; the new replicas got LeaderAndIsr. */
	struct list_result lr = { 0 };
	controller_do_list_reassignments(cl->c, NULL, -1, on_list, &lr);
	assert_int_equal(lr.n, 1);
	assert_string_equal(lr.text, "t-0:3412+34-12");
	CHECK_LAI(cl, "t", 0, IDS(3, 4, 1, 2), 1, 1, IDS(1, 2), IDS(3, 4, 1, 2));
	/* The API's reassignments live only in the topic znode. */
	assert_false(fake_zk_exists(cl->fz, "/admin/reassign_partitions"));

	/* Cancelled: back to [1,2]; the replicas that were being added are deleted. */
	fake_channel_clear(cl->fc);
	struct ctl_reassign_item cancel = { .topic = "t", .partition = 0, .replicas = NULL, .n_replicas = -1 };
	controller_do_alter_reassignments(cl->c, &cancel, 1, on_reassign, &res);
	assert_int_equal(cancel.error, KERR_NONE);
	assert_znode(cl, "/brokers/topics/t",
		     "{\"partitions\":{\"0\":[1,2]},\"topic_id\":\"" TOPIC_ID "\","
		     "\"adding_replicas\":{},\"removing_replicas\":{},\"version\":3}");
	struct arena a;
	arena_init(&a);
	for (int32_t b = 3; b <= 4; b++) {
		const struct stop_replica_request_stop_replica_partition_state *sr = last_stop(cl, b, "t", 0, &a);
		assert_non_null(sr);
		assert_true(sr->delete_partition);
	}
	arena_free(&a);
	assert_state(cl, "t", 0, 1, 1, 2, "1,2");
	CHECK_LAI(cl, "t", 0, IDS(1, 2), 1, 2, IDS(1, 2), IDS(1, 2));
	controller_do_list_reassignments(cl->c, NULL, -1, on_list, &lr);
	assert_int_equal(lr.n, 0);
	/* Nothing left to cancel. */
	controller_do_alter_reassignments(cl->c, &cancel, 1, on_reassign, &res);
	assert_int_equal(cancel.error, KERR_NO_REASSIGNMENT_IN_PROGRESS);
	cluster_free(cl);
}

/* --- ISR changes, preferred election ----------------------------------------------------------------- */

static void test_isr_change_notification_is_announced_and_consumed(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	static const int32_t r0[] = { 1, 2, 3 }, i0[] = { 1, 2, 3 };
	struct part_spec parts[] = { PART(r0, 1, i0) };
	add_topic(cl, "t", parts, 1, NULL, 0);
	cluster_start(cl);
	fake_channel_clear(cl->fc);
	leader_sets_isr(cl, "t", 0, 1, 0, "1,3");
	settle(cl);
	struct arena a;
	arena_init(&a);
	for (int32_t b = 1; b <= 3; b++) {
		const struct update_metadata_request_update_metadata_partition_state *um = last_um(cl, b, "t", 0, &a, NULL);
		assert_non_null(um);
		assert_ids(um->isr, um->isr_count, 1, 3);
		assert_int_equal(um->zk_version, 1);
	}
	arena_free(&a);
	/* Only UpdateMetadata: the leader made the change itself. */
	assert_int_equal(count_all(cl, API_LEADER_AND_ISR), 0);
	assert_false(fake_zk_exists(cl->fz, "/isr_change_notification/isr_change_0000000000"));
	cluster_free(cl);
}

struct elect_result {
	int calls;
	int16_t errors[4];
};

static void on_elect(void *arg, int16_t error, const struct ctl_election_item *items, int n)
{
	struct elect_result *r = arg;
	assert_int_equal(error, KERR_NONE);
	r->calls++;
	for (int i = 0; i < n && i < 4; i++)
		r->errors[i] = items[i].error;
}

static void test_preferred_election(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	static const int32_t r0[] = { 1, 2, 3 }, i0[] = { 2, 1, 3 }, r1[] = { 3, 2 }, i1[] = { 2 };
	struct part_spec parts[] = { PART(r0, 2, i0), PART(r1, 2, i1) };
	add_topic(cl, "t", parts, 2, NULL, 0);
	cluster_start(cl);
	fake_channel_clear(cl->fc);
	struct ctl_election_item items[] = { { .topic = "t", .partition = 0 }, { .topic = "t", .partition = 1 } };
	struct elect_result res = { 0 };
	controller_do_elect_leaders(cl->c, 0, items, 2, on_elect, &res);
	assert_int_equal(res.errors[0], KERR_NONE);
	/* The preferred replica of t-1 is out of the ISR. */
	assert_int_equal(res.errors[1], KERR_PREFERRED_LEADER_NOT_AVAILABLE);
	assert_state(cl, "t", 0, 1, 1, 1, "2,1,3");
	CHECK_LAI(cl, "t", 0, IDS(1, 2, 3), 1, 1, IDS(2, 1, 3), IDS(1, 2, 3));
	assert_state(cl, "t", 1, 0, 2, 0, "2");
	controller_do_elect_leaders(cl->c, 0, items, 1, on_elect, &res);
	assert_int_equal(res.errors[0], KERR_ELECTION_NOT_NEEDED);
	cluster_free(cl);
}

/* --- sessions and fencing ----------------------------------------------------------------------------- */

static void test_session_expiry_calls_the_broker_hook_and_reelects(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	cluster_start(cl);
	int64_t old_epoch = cl->epoch[3];
	/* ZooKeeper ends the controller broker's session: /controller and /brokers/ids/3 go. */
	fake_zk_expire(cl->fz, cl->session[3]);
	assert_false(fake_zk_exists(cl->fz, "/controller"));
	assert_false(fake_zk_exists(cl->fz, "/brokers/ids/3"));
	/* The broker's on_expired callback posts this. */
	controller_notify_session_expired(cl->c);
	settle(cl);
	assert_int_equal(cl->reregistered, 1);
	assert_true(fake_zk_exists(cl->fz, "/brokers/ids/3"));
	assert_true(cl->epoch[3] > old_epoch);
	/* It resigned (its channels went) and won again with the next epoch. */
	assert_int_equal(fake_channel_managers(cl->fc), 2);
	assert_true(fake_channel_active(cl->fc));
	assert_true(controller_is_active(cl->c));
	assert_int_equal(controller_epoch(cl->c), 2);
	assert_znode(cl, "/controller_epoch", "2");
	cluster_free(cl);
}

static void test_newer_controller_epoch_fences_writes(void **state)
{
	(void)state;
	struct cluster *cl = cluster_new(3, 3);
	static const int32_t r0[] = { 1, 2, 3 }, i0[] = { 1, 2, 3 };
	struct part_spec parts[] = { PART(r0, 1, i0) };
	add_topic(cl, "t", parts, 1, NULL, 0);
	cluster_start(cl);
	/* Another controller was elected (the epoch moved) before this one heard of it. */
	assert_int_equal(zk_set(cl->admin, "/controller_epoch", "2", 1, -1, NULL), ZOK);
	fake_channel_clear(cl->fc);
	fake_zk_expire(cl->fz, cl->session[1]);
	settle(cl);
	/* Its conditional write failed on /controller_epoch: no state changed, nothing told. */
	assert_true(cl->c->fenced);
	assert_state(cl, "t", 0, 0, 1, 0, "1,2,3");
	assert_int_equal(count_all(cl, API_LEADER_AND_ISR), 0);
	cluster_free(cl);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offline_leader_is_first_live_isr_replica_in_replica_order),
		cmocka_unit_test(test_offline_leader_with_no_live_isr_member),
		cmocka_unit_test(test_other_election_strategies),
		cmocka_unit_test(test_isr_arithmetic),
		cmocka_unit_test(test_reassign_to),
		cmocka_unit_test(test_failover_takes_the_controller_role_and_announces_the_cluster),
		cmocka_unit_test(test_new_topic_is_brought_online),
		cmocka_unit_test(test_broker_failure_elects_first_live_isr_replica),
		cmocka_unit_test(test_broker_failure_without_live_isr_member_goes_offline),
		cmocka_unit_test(test_unclean_election_follows_topic_config_over_broker_default),
		cmocka_unit_test(test_controlled_shutdown_moves_leaders_and_shrinks_isrs),
		cmocka_unit_test(test_controlled_shutdown_refusals),
		cmocka_unit_test(test_broker_failure_announces_offline_replicas_after_controlled_shutdown),
		cmocka_unit_test(test_reassignment_through_zookeeper_follows_kafkas_steps),
		cmocka_unit_test(test_reassignment_api_validation_list_and_cancel),
		cmocka_unit_test(test_isr_change_notification_is_announced_and_consumed),
		cmocka_unit_test(test_preferred_election),
		cmocka_unit_test(test_session_expiry_calls_the_broker_hook_and_reelects),
		cmocka_unit_test(test_newer_controller_epoch_fences_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
