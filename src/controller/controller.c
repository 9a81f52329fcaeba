/* The controller's event thread: election, live-broker tracking, UpdateMetadata (see controller.h). */
#include "controller/controller.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/channel.h"
#include "proto/gen/messages.h"
#include "server/broker.h"
#include "server/config.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "zk/kafka_zk.h"
#include "zk/topic_zk.h"
#include "util/uuid.h"
#include "zk/zk.h"

/* The UpdateMetadata version a 3.9 controller sends (inter.broker.protocol.version 3.9). */
#define UPDATE_METADATA_VERSION 8
#define API_UPDATE_METADATA 6
/* LeaderAndIsr and StopReplica versions of inter.broker.protocol.version 3.9. */
#define LEADER_AND_ISR_VERSION 7
#define API_LEADER_AND_ISR 4
#define STOP_REPLICA_VERSION 4
#define API_STOP_REPLICA 5

enum event_type {
	EV_ELECT,            /* startup, or /controller changed */
	EV_BROKER_CHANGE,    /* children of /brokers/ids changed */
	EV_SESSION_EXPIRED,  /* our ZooKeeper session is gone: re-register, re-elect */
	EV_TOPIC_CHANGE,     /* children of /brokers/topics changed */
	EV_TOPIC_DELETION,   /* children of /admin/delete_topics changed */
	EV_TOPIC_DATA,       /* a /brokers/topics/<t> changed: partitions added */
	EV_SHUTDOWN,
};

struct event {
	struct event *next;
	enum event_type type;
};

struct controller {
	struct broker *broker;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event *head, *tail;
	bool started;

	/* Below: owned by the event thread; the atomics are read by others. */
	int32_t active_id;
	int is_active;
	int32_t epoch;
	int32_t epoch_zk_version;
	struct channel_manager *channels;
	struct kafka_broker_info *live; /* live brokers as registered in ZooKeeper */
	int n_live;
	struct ctl_topic *topics;       /* the controller's view of every topic [ControllerContext] */
	int n_topics;
};

/* A topic as the active controller tracks it: assignment and per-partition leader/ISR. */
struct ctl_topic {
	struct topic_assignment asg;
	struct partition_state *states; /* one per partition; leader -1 with no state znode yet */
	bool *has_state;
};

static void post(struct controller *c, enum event_type type)
{
	struct event *e = xcalloc(1, sizeof *e);
	e->type = type;
	pthread_mutex_lock(&c->lock);
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void controller_notify_controller_change(struct controller *c) { post(c, EV_ELECT); }
void controller_notify_broker_change(struct controller *c) { post(c, EV_BROKER_CHANGE); }
void controller_notify_session_expired(struct controller *c) { post(c, EV_SESSION_EXPIRED); }

int32_t controller_active_id(struct controller *c) { return __atomic_load_n(&c->active_id, __ATOMIC_ACQUIRE); }
int controller_is_active(struct controller *c) { return __atomic_load_n(&c->is_active, __ATOMIC_ACQUIRE); }
int32_t controller_epoch(struct controller *c) { return __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE); }

static void on_controller_watch(void *arg) { controller_notify_controller_change(arg); }
static void on_brokers_watch(void *arg) { controller_notify_broker_change(arg); }
static void on_topics_watch(void *arg) { post(arg, EV_TOPIC_CHANGE); }
static void on_deletions_watch(void *arg) { post(arg, EV_TOPIC_DELETION); }
static void on_topic_data_watch(void *arg) { post(arg, EV_TOPIC_DATA); }

static void free_live(struct controller *c)
{
	kafka_broker_info_free_array(c->live, c->n_live);
	c->live = NULL;
	c->n_live = 0;
}

static const struct kafka_broker_info *find_live(struct kafka_broker_info *list, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (list[i].id == id)
			return &list[i];
	return NULL;
}

/* The endpoint other brokers use to reach `bi`: the inter-broker listener. */
static const struct kafka_endpoint *inter_broker_endpoint(struct controller *c, const struct kafka_broker_info *bi)
{
	const char *name = c->broker->bc->inter_broker_listener_name;
	for (int i = 0; i < bi->n_endpoints; i++)
		if (strcmp(bi->endpoints[i].listener, name) == 0)
			return &bi->endpoints[i];
	return NULL;
}

static void on_update_metadata_response(int32_t broker_id, int16_t api_key, int16_t api_version,
					const uint8_t *body, size_t len, void *arg)
{
	(void)api_key;
	(void)arg;
	if (!body)
		return; /* dropped: the broker went away or we resigned */
	struct rd r;
	rd_init(&r, body, len);
	struct arena a;
	arena_init(&a);
	struct update_metadata_response resp;
	if (update_metadata_response_decode(&r, &a, api_version, &resp) != 0)
		log_warn("Malformed UpdateMetadata response from broker %d", broker_id);
	else if (resp.error_code != 0)
		log_warn("Broker %d answered UpdateMetadata with error %d", broker_id, resp.error_code);
	arena_free(&a);
}

static bool is_live(struct controller *c, int32_t id)
{
	return find_live(c->live, c->n_live, id) != NULL;
}

/* The topic states of one UpdateMetadata; `deleting` marks partitions as being deleted. */
static void fill_topic_state(struct controller *c, struct arena *a, const struct ctl_topic *t, bool deleting,
			     struct update_metadata_request_update_metadata_topic_state *ts)
{
	update_metadata_request_update_metadata_topic_state_init(ts);
	ts->topic_name = kstr_c(t->asg.name);
	memcpy(ts->topic_id, t->asg.id, 16);
	ts->partition_states_count = t->asg.n_partitions;
	ts->partition_states = arena_alloc(a, sizeof *ts->partition_states * (size_t)(t->asg.n_partitions ? t->asg.n_partitions : 1));
	for (int p = 0; p < t->asg.n_partitions; p++) {
		struct update_metadata_request_update_metadata_partition_state *ps = &ts->partition_states[p];
		const struct partition_state *st = &t->states[p];
		update_metadata_request_update_metadata_partition_state_init(ps);
		ps->topic_name = ts->topic_name;
		ps->partition_index = p;
		ps->controller_epoch = t->has_state[p] ? st->controller_epoch : c->epoch;
		/* Kafka's LeaderDuringDelete (-2) tells brokers to drop the partition. */
		ps->leader = deleting ? -2 : (t->has_state[p] ? st->leader : -1);
		ps->leader_epoch = st->leader_epoch;
		ps->isr = st->isr;
		ps->isr_count = st->n_isr;
		ps->zk_version = st->zk_version;
		ps->replicas = t->asg.replicas[p];
		ps->replicas_count = t->asg.n_replicas[p];
		int32_t *off = arena_alloc(a, sizeof *off * (size_t)(t->asg.n_replicas[p] ? t->asg.n_replicas[p] : 1));
		int n_off = 0;
		for (int r = 0; r < t->asg.n_replicas[p]; r++)
			if (!is_live(c, t->asg.replicas[p][r]))
				off[n_off++] = t->asg.replicas[p][r];
		ps->offline_replicas = off;
		ps->offline_replicas_count = n_off;
	}
}

/*
 * UpdateMetadata to every live broker: the full live-broker set, plus the
 * partition states of `only` (all topics when NULL); `deleting` announces that
 * topic's partitions as deleted.
 */
static void send_update_metadata(struct controller *c, const struct ctl_topic *only, bool deleting)
{
	struct arena a;
	arena_init(&a);
	struct update_metadata_request req;
	update_metadata_request_init(&req);
	req.controller_id = c->broker->id;
	req.controller_epoch = c->epoch;
	req.live_brokers = arena_alloc(&a, sizeof *req.live_brokers * (size_t)(c->n_live ? c->n_live : 1));
	req.live_brokers_count = c->n_live;
	for (int i = 0; i < c->n_live; i++) {
		const struct kafka_broker_info *bi = &c->live[i];
		struct update_metadata_request_update_metadata_broker *lb = &req.live_brokers[i];
		update_metadata_request_update_metadata_broker_init(lb);
		lb->id = bi->id;
		lb->rack = kstr_c(bi->rack);
		lb->endpoints = arena_alloc(&a, sizeof *lb->endpoints * (size_t)(bi->n_endpoints ? bi->n_endpoints : 1));
		lb->endpoints_count = bi->n_endpoints;
		for (int j = 0; j < bi->n_endpoints; j++) {
			struct update_metadata_request_update_metadata_endpoint *e = &lb->endpoints[j];
			update_metadata_request_update_metadata_endpoint_init(e);
			e->port = bi->endpoints[j].port;
			e->host = kstr_c(bi->endpoints[j].host);
			e->listener = kstr_c(bi->endpoints[j].listener);
			e->security_protocol = (int16_t)bi->endpoints[j].security_protocol;
		}
	}
	int n_topics = only ? 1 : c->n_topics;
	req.topic_states = arena_alloc(&a, sizeof *req.topic_states * (size_t)(n_topics ? n_topics : 1));
	req.topic_states_count = n_topics;
	for (int i = 0; i < n_topics; i++)
		fill_topic_state(c, &a, only ? only : &c->topics[i], deleting, &req.topic_states[i]);
	for (int i = 0; i < c->n_live; i++) {
		/* Each broker is told its own epoch so it can drop requests meant for an earlier incarnation. */
		req.broker_epoch = c->live[i].epoch;
		struct wbuf w;
		wbuf_init(&w);
		update_metadata_request_encode(&w, UPDATE_METADATA_VERSION, &req);
		channel_manager_send(c->channels, c->live[i].id, API_UPDATE_METADATA, UPDATE_METADATA_VERSION, &w,
				     on_update_metadata_response, c);
		wbuf_free(&w);
	}
	arena_free(&a);
}

static void send_update_metadata_to_all(struct controller *c) { send_update_metadata(c, NULL, false); }

static void on_broker_response(int32_t broker_id, int16_t api_key, int16_t api_version, const uint8_t *body,
			       size_t len, void *arg)
{
	(void)arg;
	if (!body)
		return;
	/* Both responses start with the request-level error code. */
	struct rd r;
	rd_init(&r, body, len);
	int16_t err = rd_i16(&r);
	if (!r.err && err != 0)
		log_warn("Broker %d answered %s v%d with error %d", broker_id,
			 api_key == API_LEADER_AND_ISR ? "LeaderAndIsr" : "StopReplica", api_version, err);
}

static bool hosts(const struct ctl_topic *t, int p, int32_t broker)
{
	for (int r = 0; r < t->asg.n_replicas[p]; r++)
		if (t->asg.replicas[p][r] == broker)
			return true;
	return false;
}

/*
 * LeaderAndIsr to every live broker that hosts a partition of `only` (every
 * topic when NULL): each replica learns whom to follow, the leader that it
 * leads [Kafka's ControllerBrokerRequestBatch].
 */
static void send_leader_and_isr(struct controller *c, const struct ctl_topic *only)
{
	for (int bi = 0; bi < c->n_live; bi++) {
		int32_t target = c->live[bi].id;
		struct arena a;
		arena_init(&a);
		struct leader_and_isr_request req;
		leader_and_isr_request_init(&req);
		req.controller_id = c->broker->id;
		req.controller_epoch = c->epoch;
		req.broker_epoch = c->live[bi].epoch;
		int n_topics = only ? 1 : c->n_topics;
		req.topic_states = arena_alloc(&a, sizeof *req.topic_states * (size_t)(n_topics ? n_topics : 1));
		req.live_leaders = arena_alloc(&a, sizeof *req.live_leaders * (size_t)(c->n_live ? c->n_live : 1));
		for (int ti = 0; ti < n_topics; ti++) {
			const struct ctl_topic *t = only ? only : &c->topics[ti];
			struct leader_and_isr_request_leader_and_isr_topic_state *ts = &req.topic_states[req.topic_states_count];
			leader_and_isr_request_leader_and_isr_topic_state_init(ts);
			ts->topic_name = kstr_c(t->asg.name);
			memcpy(ts->topic_id, t->asg.id, 16);
			ts->partition_states = arena_alloc(&a, sizeof *ts->partition_states * (size_t)(t->asg.n_partitions ? t->asg.n_partitions : 1));
			for (int p = 0; p < t->asg.n_partitions; p++) {
				if (!t->has_state[p] || !hosts(t, p, target))
					continue;
				const struct partition_state *st = &t->states[p];
				struct leader_and_isr_request_leader_and_isr_partition_state *ps =
					&ts->partition_states[ts->partition_states_count++];
				leader_and_isr_request_leader_and_isr_partition_state_init(ps);
				ps->topic_name = ts->topic_name;
				ps->partition_index = p;
				ps->controller_epoch = st->controller_epoch;
				ps->leader = st->leader;
				ps->leader_epoch = st->leader_epoch;
				ps->isr = st->isr;
				ps->isr_count = st->n_isr;
				ps->partition_epoch = st->zk_version;
				ps->replicas = t->asg.replicas[p];
				ps->replicas_count = t->asg.n_replicas[p];
				/* Which leaders the receiver must be able to reach. */
				bool listed = false;
				for (int k = 0; k < req.live_leaders_count; k++)
					listed |= req.live_leaders[k].broker_id == st->leader;
				const struct kafka_broker_info *lb = find_live(c->live, c->n_live, st->leader);
				const struct kafka_endpoint *e = lb ? inter_broker_endpoint(c, lb) : NULL;
				if (!listed && e) {
					struct leader_and_isr_request_leader_and_isr_live_leader *ll =
						&req.live_leaders[req.live_leaders_count++];
					leader_and_isr_request_leader_and_isr_live_leader_init(ll);
					ll->broker_id = st->leader;
					ll->host_name = kstr_c(e->host);
					ll->port = e->port;
				}
			}
			if (ts->partition_states_count > 0)
				req.topic_states_count++;
		}
		if (req.topic_states_count > 0) {
			struct wbuf w;
			wbuf_init(&w);
			leader_and_isr_request_encode(&w, LEADER_AND_ISR_VERSION, &req);
			channel_manager_send(c->channels, target, API_LEADER_AND_ISR, LEADER_AND_ISR_VERSION, &w,
					     on_broker_response, c);
			wbuf_free(&w);
		}
		arena_free(&a);
	}
}

/* StopReplica with delete to every live replica of a topic being deleted. */
static void send_stop_replica_delete(struct controller *c, const struct ctl_topic *t)
{
	for (int bi = 0; bi < c->n_live; bi++) {
		int32_t target = c->live[bi].id;
		struct arena a;
		arena_init(&a);
		struct stop_replica_request req;
		stop_replica_request_init(&req);
		req.controller_id = c->broker->id;
		req.controller_epoch = c->epoch;
		req.broker_epoch = c->live[bi].epoch;
		struct stop_replica_request_stop_replica_topic_state ts;
		stop_replica_request_stop_replica_topic_state_init(&ts);
		ts.topic_name = kstr_c(t->asg.name);
		ts.partition_states = arena_alloc(&a, sizeof *ts.partition_states * (size_t)(t->asg.n_partitions ? t->asg.n_partitions : 1));
		for (int p = 0; p < t->asg.n_partitions; p++) {
			if (!hosts(t, p, target))
				continue;
			struct stop_replica_request_stop_replica_partition_state *ps =
				&ts.partition_states[ts.partition_states_count++];
			stop_replica_request_stop_replica_partition_state_init(ps);
			ps->partition_index = p;
			ps->leader_epoch = -2; /* Kafka's EpochDuringDelete */
			ps->delete_partition = true;
		}
		if (ts.partition_states_count > 0) {
			req.topic_states = &ts;
			req.topic_states_count = 1;
			struct wbuf w;
			wbuf_init(&w);
			stop_replica_request_encode(&w, STOP_REPLICA_VERSION, &req);
			channel_manager_send(c->channels, target, API_STOP_REPLICA, STOP_REPLICA_VERSION, &w,
					     on_broker_response, c);
			wbuf_free(&w);
		}
		arena_free(&a);
	}
}

static void ctl_topic_clear(struct ctl_topic *t)
{
	for (int p = 0; p < t->asg.n_partitions; p++)
		partition_state_clear(&t->states[p]);
	free(t->states);
	free(t->has_state);
	topic_assignment_free(&t->asg);
}

static void free_topics(struct controller *c)
{
	for (int i = 0; i < c->n_topics; i++)
		ctl_topic_clear(&c->topics[i]);
	free(c->topics);
	c->topics = NULL;
	c->n_topics = 0;
}

static int find_topic(struct controller *c, const char *name)
{
	for (int i = 0; i < c->n_topics; i++)
		if (strcmp(c->topics[i].asg.name, name) == 0)
			return i;
	return -1;
}

/*
 * A new partition comes online [Kafka's PartitionStateMachine NewPartition ->
 * OnlinePartition]: the first live replica leads, the live replicas are the
 * ISR, leader epoch 0.  With no live replica it stays without a state znode.
 */
static void init_partition(struct controller *c, struct ctl_topic *t, int p)
{
	struct partition_state st = { .leader = -1, .controller_epoch = c->epoch };
	st.isr = xcalloc((size_t)(t->asg.n_replicas[p] ? t->asg.n_replicas[p] : 1), sizeof *st.isr);
	for (int r = 0; r < t->asg.n_replicas[p]; r++) {
		int32_t id = t->asg.replicas[p][r];
		if (!is_live(c, id))
			continue;
		if (st.leader < 0)
			st.leader = id;
		st.isr[st.n_isr++] = id;
	}
	if (st.leader < 0) {
		log_warn("Controller: no live replica for %s-%d; it stays offline", t->asg.name, p);
		partition_state_clear(&st);
		return;
	}
	int rc = topic_zk_create_state(c->broker->zk, t->asg.name, p, &st);
	if (rc != ZOK && rc != ZNODEEXISTS) {
		log_error("Controller: cannot write state of %s-%d: %s", t->asg.name, p, zerror(rc));
		partition_state_clear(&st);
		return;
	}
	partition_state_clear(&st);
	/* Read back what is there now (ours, or one written before us). */
	if (topic_zk_get_state(c->broker->zk, t->asg.name, p, &t->states[p]) == ZOK)
		t->has_state[p] = true;
}

/* Loads a topic from ZooKeeper into the controller's view, bringing new partitions online. */
static struct ctl_topic *load_topic(struct controller *c, const char *name)
{
	struct topic_assignment asg;
	if (topic_zk_get_assignment(c->broker->zk, name, &asg) != ZOK) {
		log_warn("Controller: cannot read assignment of topic %s", name);
		return NULL;
	}
	if (uuid_is_zero(asg.id)) {
		/* Created by an older tool: give it an id, as Kafka's controller does. */
		uuid_random(asg.id);
		topic_zk_set_assignment(c->broker->zk, &asg);
	}
	topic_zk_watch_assignment(c->broker->zk, name, on_topic_data_watch, c);
	c->topics = xrealloc(c->topics, sizeof *c->topics * (size_t)(c->n_topics + 1));
	struct ctl_topic *t = &c->topics[c->n_topics++];
	memset(t, 0, sizeof *t);
	t->asg = asg;
	t->states = xcalloc((size_t)(asg.n_partitions ? asg.n_partitions : 1), sizeof *t->states);
	t->has_state = xcalloc((size_t)(asg.n_partitions ? asg.n_partitions : 1), sizeof *t->has_state);
	for (int p = 0; p < asg.n_partitions; p++) {
		t->states[p].leader = -1;
		if (topic_zk_get_state(c->broker->zk, name, p, &t->states[p]) == ZOK)
			t->has_state[p] = true;
		else
			init_partition(c, t, p);
	}
	return t;
}

/* Re-reads /brokers/topics (re-arming the watch); returns how many topics are new. */
static int refresh_topics(struct controller *c)
{
	char **names = NULL;
	int n = 0;
	if (topic_zk_list(c->broker->zk, on_topics_watch, c, &names, &n) != ZOK) {
		log_error("Controller: cannot list /brokers/topics");
		return 0;
	}
	int added = 0;
	for (int i = 0; i < n; i++) {
		if (find_topic(c, names[i]) >= 0)
			continue;
		struct ctl_topic *t = load_topic(c, names[i]);
		if (t) {
			log_info("Controller %d: new topic %s", c->broker->id, names[i]);
			send_leader_and_isr(c, t);
			added++;
		}
	}
	topic_zk_free_names(names, n);
	return added;
}

/*
 * Partitions added to existing topics [Kafka's processPartitionModifications]:
 * re-read each topic's assignment (re-arming its watch) and bring new
 * partitions online.  Returns how many topics grew.
 */
static int refresh_partition_counts(struct controller *c)
{
	int grown = 0;
	for (int i = 0; i < c->n_topics; i++) {
		struct ctl_topic *t = &c->topics[i];
		topic_zk_watch_assignment(c->broker->zk, t->asg.name, on_topic_data_watch, c);
		struct topic_assignment now;
		if (topic_zk_get_assignment(c->broker->zk, t->asg.name, &now) != ZOK)
			continue;
		int old = t->asg.n_partitions;
		if (now.n_partitions > old) {
			t->states = xrealloc(t->states, sizeof *t->states * (size_t)now.n_partitions);
			t->has_state = xrealloc(t->has_state, sizeof *t->has_state * (size_t)now.n_partitions);
			t->asg.replicas = xrealloc(t->asg.replicas, sizeof *t->asg.replicas * (size_t)now.n_partitions);
			t->asg.n_replicas = xrealloc(t->asg.n_replicas, sizeof *t->asg.n_replicas * (size_t)now.n_partitions);
			for (int p = old; p < now.n_partitions; p++) {
				t->asg.replicas[p] = now.replicas[p];
				t->asg.n_replicas[p] = now.n_replicas[p];
				now.replicas[p] = NULL; /* moved */
				memset(&t->states[p], 0, sizeof t->states[p]);
				t->states[p].leader = -1;
				t->has_state[p] = false;
			}
			t->asg.n_partitions = now.n_partitions;
			for (int p = old; p < now.n_partitions; p++)
				init_partition(c, t, p);
			log_info("Controller %d: topic %s now has %d partitions", c->broker->id, t->asg.name,
				 now.n_partitions);
			send_leader_and_isr(c, t);
			grown++;
		}
		topic_assignment_free(&now);
	}
	return grown;
}

/* [Kafka's TopicDeletionManager], without replicas to stop yet: brokers are told
 * the partitions are gone, then the topic's znodes are removed. */
static void process_deletions(struct controller *c)
{
	char **names = NULL;
	int n = 0;
	if (topic_zk_list_deletions(c->broker->zk, on_deletions_watch, c, &names, &n) != ZOK)
		return;
	for (int i = 0; i < n; i++) {
		if (!c->broker->bc->delete_topic_enable) {
			log_info("Controller: topic deletion is disabled; dropping the request for %s", names[i]);
			topic_zk_unmark_deletion(c->broker->zk, names[i]);
			continue;
		}
		int known = find_topic(c, names[i]);
		if (known >= 0)
			send_stop_replica_delete(c, &c->topics[known]);
		/* The znodes go next, so that once brokers stop listing the topic its name
		 * can be created again at once. */
		if (topic_zk_delete_topic(c->broker->zk, names[i]) != ZOK) {
			log_error("Controller: cannot remove the znodes of topic %s; will retry", names[i]);
			continue;
		}
		topic_zk_unmark_deletion(c->broker->zk, names[i]);
		int at = find_topic(c, names[i]);
		if (at >= 0) {
			send_update_metadata(c, &c->topics[at], true);
			ctl_topic_clear(&c->topics[at]);
			memmove(&c->topics[at], &c->topics[at + 1], sizeof *c->topics * (size_t)(c->n_topics - at - 1));
			c->n_topics--;
		}
		log_info("Controller %d: deleted topic %s", c->broker->id, names[i]);
	}
	topic_zk_free_names(names, n);
}

/* Re-read /brokers/ids (re-arming the watch); reconcile channels. Returns true when the set changed. */
static bool refresh_live_brokers(struct controller *c)
{
	struct kafka_broker_info *list = NULL;
	int n = 0;
	if (kafka_zk_get_brokers(c->broker->zk, on_brokers_watch, c, &list, &n) != 0) {
		log_error("Controller: cannot read /brokers/ids");
		return false;
	}
	bool changed = n != c->n_live;
	for (int i = 0; i < c->n_live; i++) {
		const struct kafka_broker_info *now = find_live(list, n, c->live[i].id);
		if (!now || now->epoch != c->live[i].epoch) {
			log_info("Controller %d: broker %d is gone", c->broker->id, c->live[i].id);
			channel_manager_remove_broker(c->channels, c->live[i].id);
			changed = true;
		}
	}
	for (int i = 0; i < n; i++) {
		if (channel_manager_has_broker(c->channels, list[i].id))
			continue;
		const struct kafka_endpoint *e = inter_broker_endpoint(c, &list[i]);
		if (!e) {
			log_error("Controller: broker %d has no endpoint for inter-broker listener %s", list[i].id,
				  c->broker->bc->inter_broker_listener_name);
			continue;
		}
		log_info("Controller %d: broker %d is live at %s:%d", c->broker->id, list[i].id, e->host, e->port);
		channel_manager_add_broker(c->channels, list[i].id, e->host, e->port);
		changed = true;
	}
	free_live(c);
	c->live = list;
	c->n_live = n;
	return changed;
}

static void become_active(struct controller *c)
{
	log_info("Broker %d is now the controller (epoch %d)", c->broker->id, c->epoch);
	__atomic_store_n(&c->is_active, 1, __ATOMIC_RELEASE);
	c->channels = channel_manager_new(c->broker->id, c->broker->bc->controller_socket_timeout_ms);
	refresh_live_brokers(c);
	refresh_topics(c);
	send_update_metadata_to_all(c);
	process_deletions(c);
}

static void resign(struct controller *c)
{
	if (!c->is_active)
		return;
	log_info("Broker %d resigns as controller", c->broker->id);
	__atomic_store_n(&c->is_active, 0, __ATOMIC_RELEASE);
	channel_manager_free(c->channels);
	c->channels = NULL;
	free_live(c);
	free_topics(c);
}

/* Kafka's elect(): look at /controller (re-arming the watch); if nobody holds it, try to take it. */
static void elect(struct controller *c)
{
	int32_t id = -1;
	if (kafka_zk_get_controller_id(c->broker->zk, on_controller_watch, c, &id) != 0) {
		log_error("Cannot read /controller");
		return;
	}
	if (id != -1) {
		if (id != c->broker->id)
			resign(c);
		__atomic_store_n(&c->active_id, id, __ATOMIC_RELEASE);
		return;
	}
	struct kafka_election e;
	if (kafka_zk_elect_controller(c->broker->zk, c->broker->id, &e) != 0) {
		log_error("Controller election failed on ZooKeeper error");
		return;
	}
	if (!e.won) {
		__atomic_store_n(&c->active_id, e.controller_id, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&c->epoch, e.epoch, __ATOMIC_RELEASE);
	c->epoch_zk_version = e.epoch_zk_version;
	__atomic_store_n(&c->active_id, c->broker->id, __ATOMIC_RELEASE);
	/* The election's create of /controller fired no watch for us: re-arm it. */
	kafka_zk_get_controller_id(c->broker->zk, on_controller_watch, c, &id);
	become_active(c);
}

static void handle_session_expired(struct controller *c)
{
	log_warn("ZooKeeper session expired: re-registering broker %d and re-electing", c->broker->id);
	resign(c);
	__atomic_store_n(&c->active_id, -1, __ATOMIC_RELEASE);
	if (broker_reregister(c->broker) != 0) {
		log_error("Re-registration of broker %d failed; will retry on the next session event", c->broker->id);
		return;
	}
	elect(c);
}

static void *controller_main(void *arg)
{
	struct controller *c = arg;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (!c->head)
			pthread_cond_wait(&c->cond, &c->lock);
		struct event *e = c->head;
		c->head = e->next;
		if (!c->head)
			c->tail = NULL;
		pthread_mutex_unlock(&c->lock);

		enum event_type type = e->type;
		free(e);
		switch (type) {
		case EV_ELECT:
			elect(c);
			break;
		case EV_BROKER_CHANGE:
			if (c->is_active && refresh_live_brokers(c)) {
				/* A (re)started broker learns its partitions; leaders are unchanged for now
				 * (electing new leaders when one dies comes with replication). */
				send_leader_and_isr(c, NULL);
				send_update_metadata_to_all(c);
			}
			break;
		case EV_SESSION_EXPIRED:
			handle_session_expired(c);
			break;
		case EV_TOPIC_CHANGE:
			if (c->is_active && refresh_topics(c) > 0)
				send_update_metadata_to_all(c);
			break;
		case EV_TOPIC_DELETION:
			if (c->is_active)
				process_deletions(c);
			break;
		case EV_TOPIC_DATA:
			if (c->is_active && refresh_partition_counts(c) > 0)
				send_update_metadata_to_all(c);
			break;
		case EV_SHUTDOWN:
			resign(c);
			return NULL;
		}
	}
}

struct controller *controller_new(struct broker *b)
{
	struct controller *c = xcalloc(1, sizeof *c);
	c->broker = b;
	c->active_id = -1;
	c->epoch = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	return c;
}

void controller_start(struct controller *c)
{
	c->started = true;
	pthread_create(&c->thread, NULL, controller_main, c);
	post(c, EV_ELECT);
}

void controller_stop(struct controller *c)
{
	if (!c->started)
		return;
	post(c, EV_SHUTDOWN);
	pthread_join(c->thread, NULL);
	c->started = false;
}

void controller_free(struct controller *c)
{
	if (!c)
		return;
	struct event *e = c->head;
	while (e) {
		struct event *next = e->next;
		free(e);
		e = next;
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}
