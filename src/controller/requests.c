/*
 * The requests the controller sends [Kafka's ControllerBrokerRequestBatch]:
 * UpdateMetadata to every live broker, LeaderAndIsr to the replicas of a
 * partition, StopReplica to the replicas of a topic being deleted.
 */
#include "controller/controller_internal.h"

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

bool controller_is_live(struct controller *c, int32_t id)
{
	return controller_find_live(c->live, c->n_live, id) != NULL;
}

/* The state of partition p of t as UpdateMetadata carries it. */
static void fill_um_partition(struct controller *c, struct arena *a, const struct ctl_topic *t, int p, bool deleting,
			      struct kstr topic_name,
			      struct update_metadata_request_update_metadata_partition_state *ps)
{
	const struct partition_state *st = &t->states[p];
	update_metadata_request_update_metadata_partition_state_init(ps);
	ps->topic_name = topic_name;
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
	/* Offline as Kafka's isReplicaOnline has it: a broker shutting down already counts. */
	for (int r = 0; r < t->asg.n_replicas[p]; r++)
		if (!controller_replica_online_at(c, t->asg.replicas[p][r], t, p))
			off[n_off++] = t->asg.replicas[p][r];
	ps->offline_replicas = off;
	ps->offline_replicas_count = n_off;
}

/* The topic states of one UpdateMetadata: the partitions in `parts` (all when NULL);
 * `deleting` marks them as being deleted. */
static void fill_topic_state(struct controller *c, struct arena *a, const struct ctl_topic *t, const int *parts,
			     int n_parts, bool deleting, struct update_metadata_request_update_metadata_topic_state *ts)
{
	update_metadata_request_update_metadata_topic_state_init(ts);
	ts->topic_name = kstr_c(t->asg.name);
	memcpy(ts->topic_id, t->asg.id, 16);
	int n = parts ? n_parts : t->asg.n_partitions;
	ts->partition_states_count = n;
	ts->partition_states = arena_alloc(a, sizeof *ts->partition_states * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++)
		fill_um_partition(c, a, t, parts ? parts[i] : i, deleting, ts->topic_name, &ts->partition_states[i]);
}

/* The live brokers of an UpdateMetadata. */
static void fill_live_brokers(struct controller *c, struct arena *a, struct update_metadata_request *req)
{
	req->controller_id = c->id;
	req->controller_epoch = c->epoch;
	req->live_brokers = arena_alloc(a, sizeof *req->live_brokers * (size_t)(c->n_live ? c->n_live : 1));
	req->live_brokers_count = c->n_live;
	for (int i = 0; i < c->n_live; i++) {
		const struct kafka_broker_info *bi = &c->live[i];
		struct update_metadata_request_update_metadata_broker *lb = &req->live_brokers[i];
		update_metadata_request_update_metadata_broker_init(lb);
		lb->id = bi->id;
		lb->rack = kstr_c(bi->rack);
		lb->endpoints = arena_alloc(a, sizeof *lb->endpoints * (size_t)(bi->n_endpoints ? bi->n_endpoints : 1));
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
}

/* One UpdateMetadata to every live broker, each told its own broker epoch. */
static void send_update_metadata_to_live(struct controller *c, struct update_metadata_request *req)
{
	for (int i = 0; i < c->n_live; i++) {
		/* Each broker is told its own epoch so it can drop requests meant for an earlier incarnation. */
		req->broker_epoch = c->live[i].epoch;
		struct wbuf w;
		wbuf_init(&w);
		update_metadata_request_encode(&w, UPDATE_METADATA_VERSION, req);
		channel_manager_send(c->channels, c->live[i].id, API_UPDATE_METADATA, UPDATE_METADATA_VERSION, &w,
				     on_update_metadata_response, c);
		wbuf_free(&w);
	}
}

/*
 * UpdateMetadata to every live broker: the full live-broker set, plus the
 * partition states of `only` (all topics when NULL); `deleting` announces that
 * topic's partitions as deleted.
 */
void controller_send_update_metadata(struct controller *c, const struct ctl_topic *only, bool deleting)
{
	struct arena a;
	arena_init(&a);
	struct update_metadata_request req;
	update_metadata_request_init(&req);
	fill_live_brokers(c, &a, &req);
	int n_topics = only ? 1 : c->n_topics;
	req.topic_states = arena_alloc(&a, sizeof *req.topic_states * (size_t)(n_topics ? n_topics : 1));
	req.topic_states_count = n_topics;
	for (int i = 0; i < n_topics; i++)
		fill_topic_state(c, &a, only ? only : &c->topics[i], NULL, 0, deleting, &req.topic_states[i]);
	send_update_metadata_to_live(c, &req);
	arena_free(&a);
}

void controller_send_update_metadata_to_all(struct controller *c) { controller_send_update_metadata(c, NULL, false); }

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
			 api_key_name(api_key), api_version, err);
}

static bool hosts(const struct ctl_topic *t, int p, int32_t broker)
{
	for (int r = 0; r < t->asg.n_replicas[p]; r++)
		if (t->asg.replicas[p][r] == broker)
			return true;
	return false;
}

/* Adds partition p of t to a LeaderAndIsr topic state, and its leader to the live leaders. */
static void fill_lai_partition(struct controller *c, const struct ctl_topic *t, int p,
			       struct leader_and_isr_request *req,
			       struct leader_and_isr_request_leader_and_isr_topic_state *ts)
{
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
	/* A partition being reassigned: the full replica set above, what is added and removed here. */
	for (int i = 0; i < t->asg.n_reassigning; i++) {
		const struct partition_reassignment *ra = &t->asg.reassigning[i];
		if (ra->partition != p)
			continue;
		ps->adding_replicas = ra->adding;
		ps->adding_replicas_count = ra->n_adding;
		ps->removing_replicas = ra->removing;
		ps->removing_replicas_count = ra->n_removing;
	}
	/* Which leaders the receiver must be able to reach. */
	bool listed = false;
	for (int k = 0; k < req->live_leaders_count; k++)
		listed |= req->live_leaders[k].broker_id == st->leader;
	const struct kafka_broker_info *lb = controller_find_live(c->live, c->n_live, st->leader);
	const struct kafka_endpoint *e = lb ? controller_inter_broker_endpoint(c, lb) : NULL;
	if (!listed && e) {
		struct leader_and_isr_request_leader_and_isr_live_leader *ll = &req->live_leaders[req->live_leaders_count++];
		leader_and_isr_request_leader_and_isr_live_leader_init(ll);
		ll->broker_id = st->leader;
		ll->host_name = kstr_c(e->host);
		ll->port = e->port;
	}
}

static void start_topic_state(struct arena *a, const struct ctl_topic *t, int cap,
			      struct leader_and_isr_request_leader_and_isr_topic_state *ts)
{
	leader_and_isr_request_leader_and_isr_topic_state_init(ts);
	ts->topic_name = kstr_c(t->asg.name);
	memcpy(ts->topic_id, t->asg.id, 16);
	ts->partition_states = arena_alloc(a, sizeof *ts->partition_states * (size_t)(cap ? cap : 1));
}

static void send_leader_and_isr_to(struct controller *c, const struct kafka_broker_info *target,
				   struct leader_and_isr_request *req)
{
	req->controller_id = c->id;
	req->controller_epoch = c->epoch;
	req->broker_epoch = target->epoch;
	struct wbuf w;
	wbuf_init(&w);
	leader_and_isr_request_encode(&w, LEADER_AND_ISR_VERSION, req);
	channel_manager_send(c->channels, target->id, API_LEADER_AND_ISR, LEADER_AND_ISR_VERSION, &w,
			     controller_on_leader_and_isr_response, c);
	wbuf_free(&w);
}

/*
 * LeaderAndIsr to every live broker that hosts a partition of `only` (every
 * topic when NULL): each replica learns whom to follow, the leader that it
 * leads [Kafka's ControllerBrokerRequestBatch].
 */
void controller_send_leader_and_isr(struct controller *c, const struct ctl_topic *only)
{
	for (int bi = 0; bi < c->n_live; bi++) {
		int32_t target = c->live[bi].id;
		struct arena a;
		arena_init(&a);
		struct leader_and_isr_request req;
		leader_and_isr_request_init(&req);
		int n_topics = only ? 1 : c->n_topics;
		req.topic_states = arena_alloc(&a, sizeof *req.topic_states * (size_t)(n_topics ? n_topics : 1));
		req.live_leaders = arena_alloc(&a, sizeof *req.live_leaders * (size_t)(c->n_live ? c->n_live : 1));
		for (int ti = 0; ti < n_topics; ti++) {
			const struct ctl_topic *t = only ? only : &c->topics[ti];
			struct leader_and_isr_request_leader_and_isr_topic_state *ts = &req.topic_states[req.topic_states_count];
			start_topic_state(&a, t, t->asg.n_partitions, ts);
			for (int p = 0; p < t->asg.n_partitions; p++)
				if (t->has_state[p] && hosts(t, p, target))
					fill_lai_partition(c, t, p, &req, ts);
			if (ts->partition_states_count > 0)
				req.topic_states_count++;
		}
		if (req.topic_states_count > 0)
			send_leader_and_isr_to(c, &c->live[bi], &req);
		arena_free(&a);
	}
}

/* StopReplica with delete to every live replica of a topic being deleted. */
void controller_send_stop_replica_delete(struct controller *c, const struct ctl_topic *t)
{
	for (int bi = 0; bi < c->n_live; bi++) {
		int32_t target = c->live[bi].id;
		struct arena a;
		arena_init(&a);
		struct stop_replica_request req;
		stop_replica_request_init(&req);
		req.controller_id = c->id;
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

void ctl_batch_init(struct ctl_batch *b) { memset(b, 0, sizeof *b); }

bool ctl_batch_empty(const struct ctl_batch *b) { return b->n_lai == 0 && b->n_um == 0 && b->n_stop == 0; }

static void batch_push(struct ctl_batch_entry **v, int *n, int *cap, struct ctl_batch_entry e)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, sizeof **v * (size_t)*cap);
	}
	(*v)[(*n)++] = e;
}

void ctl_batch_update_metadata(struct ctl_batch *b, int ti, int p)
{
	batch_push(&b->um, &b->n_um, &b->cap_um, (struct ctl_batch_entry){ .broker = -1, .ti = ti, .p = p });
}

void ctl_batch_leader_and_isr(struct ctl_batch *b, int32_t broker, int ti, int p)
{
	batch_push(&b->lai, &b->n_lai, &b->cap_lai, (struct ctl_batch_entry){ .broker = broker, .ti = ti, .p = p });
	ctl_batch_update_metadata(b, ti, p);
}

void ctl_batch_stop_replica(struct ctl_batch *b, int32_t broker, int ti, int p, int32_t leader_epoch)
{
	batch_push(&b->stop, &b->n_stop, &b->cap_stop,
		   (struct ctl_batch_entry){ .broker = broker, .ti = ti, .p = p, .leader_epoch = leader_epoch });
}

void ctl_batch_stop_replica_delete(struct ctl_batch *b, int32_t broker, int ti, int p, int32_t leader_epoch)
{
	batch_push(&b->stop, &b->n_stop, &b->cap_stop,
		   (struct ctl_batch_entry){
			   .broker = broker, .ti = ti, .p = p, .leader_epoch = leader_epoch, .delete_partition = true });
}

static int entry_cmp(const void *x, const void *y)
{
	const struct ctl_batch_entry *a = x, *b = y;
	if (a->broker != b->broker)
		return a->broker < b->broker ? -1 : 1;
	if (a->ti != b->ti)
		return a->ti < b->ti ? -1 : 1;
	return a->p < b->p ? -1 : a->p > b->p;
}

/* Sorts by (broker, topic, partition) and drops repeats; returns the new count. */
static int sort_unique(struct ctl_batch_entry *v, int n)
{
	if (n == 0)
		return 0;
	qsort(v, (size_t)n, sizeof *v, entry_cmp);
	int out = 1;
	for (int i = 1; i < n; i++)
		if (entry_cmp(&v[i], &v[out - 1]) != 0)
			v[out++] = v[i];
		else
			v[out - 1] = v[i]; /* the later one wins, as in Kafka's maps */
	return out;
}

static void send_batch_leader_and_isr(struct controller *c, struct ctl_batch_entry *v, int n)
{
	for (int i = 0; i < n;) {
		int j = i;
		while (j < n && v[j].broker == v[i].broker)
			j++;
		const struct kafka_broker_info *target = controller_find_live(c->live, c->n_live, v[i].broker);
		if (target) {
			struct arena a;
			arena_init(&a);
			struct leader_and_isr_request req;
			leader_and_isr_request_init(&req);
			req.topic_states = arena_alloc(&a, sizeof *req.topic_states * (size_t)(j - i));
			req.live_leaders = arena_alloc(&a, sizeof *req.live_leaders * (size_t)(c->n_live ? c->n_live : 1));
			for (int k = i; k < j;) {
				int m = k;
				while (m < j && v[m].ti == v[k].ti)
					m++;
				const struct ctl_topic *t = &c->topics[v[k].ti];
				struct leader_and_isr_request_leader_and_isr_topic_state *ts =
					&req.topic_states[req.topic_states_count++];
				start_topic_state(&a, t, m - k, ts);
				for (int q = k; q < m; q++)
					if (t->has_state[v[q].p])
						fill_lai_partition(c, t, v[q].p, &req, ts);
				k = m;
			}
			send_leader_and_isr_to(c, target, &req);
			arena_free(&a);
		}
		i = j;
	}
}

static void send_batch_update_metadata(struct controller *c, struct ctl_batch_entry *v, int n)
{
	if (n == 0)
		return;
	struct arena a;
	arena_init(&a);
	struct update_metadata_request req;
	update_metadata_request_init(&req);
	fill_live_brokers(c, &a, &req);
	req.topic_states = arena_alloc(&a, sizeof *req.topic_states * (size_t)n);
	int *parts = arena_alloc(&a, sizeof *parts * (size_t)n);
	for (int k = 0; k < n;) {
		int m = k, np = 0;
		while (m < n && v[m].ti == v[k].ti)
			parts[k + np++] = v[m++].p;
		fill_topic_state(c, &a, &c->topics[v[k].ti], parts + k, np, false,
				 &req.topic_states[req.topic_states_count++]);
		k = m;
	}
	send_update_metadata_to_live(c, &req);
	arena_free(&a);
}

static void send_batch_stop_replica(struct controller *c, struct ctl_batch_entry *v, int n)
{
	for (int i = 0; i < n;) {
		int j = i;
		while (j < n && v[j].broker == v[i].broker)
			j++;
		const struct kafka_broker_info *target = controller_find_live(c->live, c->n_live, v[i].broker);
		if (target) {
			struct arena a;
			arena_init(&a);
			struct stop_replica_request req;
			stop_replica_request_init(&req);
			req.controller_id = c->id;
			req.controller_epoch = c->epoch;
			req.broker_epoch = target->epoch;
			req.topic_states = arena_alloc(&a, sizeof *req.topic_states * (size_t)(j - i));
			for (int k = i; k < j;) {
				int m = k;
				while (m < j && v[m].ti == v[k].ti)
					m++;
				struct stop_replica_request_stop_replica_topic_state *ts =
					&req.topic_states[req.topic_states_count++];
				stop_replica_request_stop_replica_topic_state_init(ts);
				ts->topic_name = kstr_c(c->topics[v[k].ti].asg.name);
				ts->partition_states = arena_alloc(&a, sizeof *ts->partition_states * (size_t)(m - k));
				for (int q = k; q < m; q++) {
					struct stop_replica_request_stop_replica_partition_state *ps =
						&ts->partition_states[ts->partition_states_count++];
					stop_replica_request_stop_replica_partition_state_init(ps);
					ps->partition_index = v[q].p;
					ps->leader_epoch = v[q].leader_epoch;
					ps->delete_partition = v[q].delete_partition;
				}
				k = m;
			}
			struct wbuf w;
			wbuf_init(&w);
			stop_replica_request_encode(&w, STOP_REPLICA_VERSION, &req);
			channel_manager_send(c->channels, target->id, API_STOP_REPLICA, STOP_REPLICA_VERSION, &w,
					     on_broker_response, c);
			wbuf_free(&w);
			arena_free(&a);
		}
		i = j;
	}
}

void controller_send_batch(struct controller *c, struct ctl_batch *b)
{
	b->n_lai = sort_unique(b->lai, b->n_lai);
	b->n_um = sort_unique(b->um, b->n_um);
	b->n_stop = sort_unique(b->stop, b->n_stop);
	send_batch_leader_and_isr(c, b->lai, b->n_lai);
	send_batch_update_metadata(c, b->um, b->n_um);
	send_batch_stop_replica(c, b->stop, b->n_stop);
	free(b->lai);
	free(b->um);
	free(b->stop);
	ctl_batch_init(b);
}
