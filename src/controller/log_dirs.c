/*
 * Failed log dirs as the controller sees them [Kafka's
 * LogDirEventNotificationHandler, onBrokerLogDirFailure and
 * LeaderAndIsrResponseReceived].
 *
 * A broker whose log dir fails writes /log_dir_event_notification/log_dir_event_N.
 * The controller deletes the notification and sends that broker a LeaderAndIsr
 * for every replica it hosts; the broker answers KAFKA_STORAGE_ERROR for the
 * ones on the failed dir.  From every LeaderAndIsr answer the controller keeps
 * the set of replicas on offline dirs (replicasOnOfflineDirs): those count as
 * offline in elections and in UpdateMetadata's offline_replicas, and newly
 * offline ones go through onReplicasBecomeOffline (new leaders, smaller ISRs).
 */
#include "controller/controller_internal.h"

#include "samsa/proto.h"

static int find_offline(struct controller *c, int32_t broker, const char *topic, int32_t partition)
{
	for (int i = 0; i < c->n_offline_dirs; i++) {
		const struct ctl_offline_replica *o = &c->offline_dirs[i];
		if (o->broker == broker && o->partition == partition && strcmp(o->topic, topic) == 0)
			return i;
	}
	return -1;
}

bool controller_replica_on_offline_dir(struct controller *c, int32_t id, const struct ctl_topic *t, int p)
{
	return c->n_offline_dirs > 0 && find_offline(c, id, t->asg.name, p) >= 0;
}

bool controller_replica_online_at(struct controller *c, int32_t id, const struct ctl_topic *t, int p)
{
	return controller_is_replica_online(c, id) && !controller_replica_on_offline_dir(c, id, t, p);
}

static void remove_at(struct controller *c, int i)
{
	free(c->offline_dirs[i].topic);
	c->offline_dirs[i] = c->offline_dirs[--c->n_offline_dirs];
}

void controller_offline_dirs_forget(struct controller *c, int32_t broker)
{
	for (int i = 0; i < c->n_offline_dirs;)
		if (c->offline_dirs[i].broker == broker)
			remove_at(c, i);
		else
			i++;
}

void controller_offline_dirs_free(struct controller *c)
{
	for (int i = 0; i < c->n_offline_dirs; i++)
		free(c->offline_dirs[i].topic);
	free(c->offline_dirs);
	c->offline_dirs = NULL;
	c->n_offline_dirs = 0;
}

/* ---------------------------------------------------------------- LeaderAndIsr answers */

void controller_on_leader_and_isr_response(int32_t broker_id, int16_t api_key, int16_t api_version,
					   const uint8_t *body, size_t len, void *arg)
{
	struct controller *c = arg;
	if (!body)
		return;
	struct arena a;
	arena_init(&a);
	struct rd r;
	rd_init(&r, body, len);
	struct leader_and_isr_response resp;
	if (leader_and_isr_response_decode(&r, &a, api_version, &resp) != 0) {
		log_warn("Broker %d sent a LeaderAndIsr v%d response that does not decode", broker_id, api_version);
		arena_free(&a);
		return;
	}
	if (resp.error_code != 0)
		log_warn("Broker %d answered %s v%d with error %d", broker_id, api_key_name(api_key), api_version,
			 resp.error_code);
	int n = 0;
	for (int i = 0; i < resp.topics_count; i++)
		n += resp.topics[i].partition_errors_count > 0 ? resp.topics[i].partition_errors_count : 0;
	struct ctl_lai_result *v = xcalloc((size_t)(n ? n : 1), sizeof *v);
	int k = 0;
	for (int i = 0; i < resp.topics_count; i++)
		for (int j = 0; j < resp.topics[i].partition_errors_count; j++) {
			memcpy(v[k].topic_id, resp.topics[i].topic_id, 16);
			v[k].partition = resp.topics[i].partition_errors[j].partition_index;
			v[k].error = resp.topics[i].partition_errors[j].error_code;
			k++;
		}
	arena_free(&a);
	if (resp.error_code != 0 || k == 0) {
		free(v);
		return;
	}
	struct event *e = xcalloc(1, sizeof *e);
	e->type = EV_LAI_RESPONSE;
	e->broker_id = broker_id;
	e->items = v;
	e->n_items = k;
	controller_post_event(c, e);
}

static int topic_by_id(struct controller *c, const uint8_t *id)
{
	for (int ti = 0; ti < c->n_topics; ti++)
		if (memcmp(c->topics[ti].asg.id, id, 16) == 0)
			return ti;
	return -1;
}

void controller_handle_lai_response(struct controller *c, int32_t broker, const struct ctl_lai_result *v, int n)
{
	if (!c->is_active || c->fenced)
		return;
	struct ctl_batch_entry *fresh = xcalloc((size_t)(n ? n : 1), sizeof *fresh);
	int n_fresh = 0;
	for (int i = 0; i < n; i++) {
		int ti = topic_by_id(c, v[i].topic_id);
		if (ti < 0 || v[i].partition < 0 || v[i].partition >= c->topics[ti].asg.n_partitions)
			continue;
		const char *topic = c->topics[ti].asg.name;
		int at = find_offline(c, broker, topic, v[i].partition);
		if (v[i].error == KERR_NONE && at >= 0) {
			remove_at(c, at);
		} else if (v[i].error == KERR_KAFKA_STORAGE_ERROR && at < 0) {
			c->offline_dirs = xrealloc(c->offline_dirs, sizeof *c->offline_dirs * (size_t)(c->n_offline_dirs + 1));
			c->offline_dirs[c->n_offline_dirs++] =
				(struct ctl_offline_replica){ broker, xstrdup(topic), v[i].partition };
			fresh[n_fresh++] = (struct ctl_batch_entry){ .broker = broker, .ti = ti, .p = v[i].partition };
			log_info("Controller %d: replica %s-%d on broker %d is on an offline log dir", c->id, topic,
				 v[i].partition, broker);
		}
	}
	if (n_fresh > 0)
		controller_on_replicas_offline(c, fresh, n_fresh);
	free(fresh);
}

/* ---------------------------------------------------------------- the notifications */

static void on_log_dir_events_watch(void *arg) { controller_post(arg, EV_LOG_DIR_EVENT); }

void controller_delete_log_dir_events(struct controller *c)
{
	char **names = NULL;
	int n = 0;
	if (topic_zk_list_log_dir_events(c->zk, on_log_dir_events_watch, c, &names, &n) != ZOK)
		return;
	for (int i = 0; i < n; i++) {
		topic_zk_delete_log_dir_event(c->zk, names[i], c->epoch_zk_version);
		free(names[i]);
	}
	free(names);
}

/* [Kafka's onBrokerLogDirFailure]: the broker's replicas go through OnlineReplica again, which asks it. */
static void ask_broker(struct controller *c, int32_t broker)
{
	struct ctl_batch b;
	ctl_batch_init(&b);
	for (int ti = 0; ti < c->n_topics; ti++) {
		const struct ctl_topic *t = &c->topics[ti];
		for (int p = 0; p < t->asg.n_partitions; p++)
			if (t->has_state[p] && controller_ids_contain(t->asg.replicas[p], t->asg.n_replicas[p], broker))
				ctl_batch_leader_and_isr(&b, broker, ti, p);
	}
	controller_send_batch(c, &b);
}

void controller_process_log_dir_events(struct controller *c)
{
	char **names = NULL;
	int n = 0;
	if (topic_zk_list_log_dir_events(c->zk, on_log_dir_events_watch, c, &names, &n) != ZOK) {
		log_error("Controller: cannot list /log_dir_event_notification");
		return;
	}
	int32_t *brokers = xcalloc((size_t)(n ? n : 1), sizeof *brokers);
	int n_brokers = 0;
	for (int i = 0; i < n; i++) {
		int32_t broker;
		int event;
		if (topic_zk_read_log_dir_event(c->zk, names[i], &broker, &event) == ZOK && broker >= 0 &&
		    event == TOPIC_ZK_LOG_DIR_FAILURE && !controller_ids_contain(brokers, n_brokers, broker))
			brokers[n_brokers++] = broker;
		int rc = topic_zk_delete_log_dir_event(c->zk, names[i], c->epoch_zk_version);
		if (rc == TOPIC_ZK_CONTROLLER_MOVED) {
			c->fenced = true;
			controller_post(c, EV_ELECT);
		}
		free(names[i]);
	}
	free(names);
	for (int i = 0; i < n_brokers && !c->fenced; i++) {
		if (!controller_is_live(c, brokers[i]))
			continue;
		log_info("Controller %d: broker %d reported a failed log dir; asking it which replicas are offline",
			 c->id, brokers[i]);
		ask_broker(c, brokers[i]);
	}
	free(brokers);
}
