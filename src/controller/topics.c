/*
 * Topics as the active controller sees them: new topics and partitions
 * brought online (partition state znodes), added partitions, and deletion
 * [Kafka's TopicChangeHandler, PartitionStateMachine, TopicDeletionManager].
 */
#include "controller/controller_internal.h"

static void on_topics_watch(void *arg) { controller_post(arg, EV_TOPIC_CHANGE); }
static void on_deletions_watch(void *arg) { controller_post(arg, EV_TOPIC_DELETION); }
static void on_topic_data_watch(void *arg) { controller_post(arg, EV_TOPIC_DATA); }

static void ctl_topic_clear(struct ctl_topic *t)
{
	for (int p = 0; p < t->asg.n_partitions; p++)
		partition_state_clear(&t->states[p]);
	free(t->states);
	free(t->has_state);
	topic_assignment_free(&t->asg);
}

void controller_free_topics(struct controller *c)
{
	for (int i = 0; i < c->n_topics; i++)
		ctl_topic_clear(&c->topics[i]);
	free(c->topics);
	c->topics = NULL;
	c->n_topics = 0;
}

int controller_find_topic(struct controller *c, const char *name)
{
	for (int i = 0; i < c->n_topics; i++)
		if (strcmp(c->topics[i].asg.name, name) == 0)
			return i;
	return -1;
}

/*
 * A new partition comes online [Kafka's PartitionStateMachine NewPartition ->
 * OnlinePartition]: the first live replica leads, the live replicas are the
 * ISR, leader epoch 0.  With no live replica it stays without a state znode
 * (NewPartition) until one of its replicas starts.
 */
void controller_init_partition(struct controller *c, struct ctl_topic *t, int p)
{
	struct partition_state st = { .leader = -1, .controller_epoch = c->epoch };
	st.isr = xcalloc((size_t)(t->asg.n_replicas[p] ? t->asg.n_replicas[p] : 1), sizeof *st.isr);
	for (int r = 0; r < t->asg.n_replicas[p]; r++) {
		int32_t id = t->asg.replicas[p][r];
		if (!controller_is_replica_online(c, id))
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
	int rc = topic_zk_create_state(c->zk, t->asg.name, p, &st);
	if (rc != ZOK && rc != ZNODEEXISTS) {
		log_error("Controller: cannot write state of %s-%d: %s", t->asg.name, p, zerror(rc));
		partition_state_clear(&st);
		return;
	}
	partition_state_clear(&st);
	/* Read back what is there now (ours, or one written before us). */
	if (topic_zk_get_state(c->zk, t->asg.name, p, &t->states[p]) == ZOK)
		t->has_state[p] = true;
}

/* Loads a topic from ZooKeeper into the controller's view, bringing new partitions online. */
static struct ctl_topic *load_topic(struct controller *c, const char *name)
{
	struct topic_assignment asg;
	if (topic_zk_get_assignment(c->zk, name, &asg) != ZOK) {
		log_warn("Controller: cannot read assignment of topic %s", name);
		return NULL;
	}
	if (uuid_is_zero(asg.id)) {
		/* Created by an older tool: give it an id, as Kafka's controller does. */
		uuid_random(asg.id);
		topic_zk_set_assignment(c->zk, &asg);
	}
	topic_zk_watch_assignment(c->zk, name, on_topic_data_watch, c);
	c->topics = xrealloc(c->topics, sizeof *c->topics * (size_t)(c->n_topics + 1));
	struct ctl_topic *t = &c->topics[c->n_topics++];
	memset(t, 0, sizeof *t);
	t->asg = asg;
	t->states = xcalloc((size_t)(asg.n_partitions ? asg.n_partitions : 1), sizeof *t->states);
	t->has_state = xcalloc((size_t)(asg.n_partitions ? asg.n_partitions : 1), sizeof *t->has_state);
	for (int p = 0; p < asg.n_partitions; p++) {
		t->states[p].leader = -1;
		if (topic_zk_get_state(c->zk, name, p, &t->states[p]) == ZOK)
			t->has_state[p] = true;
		else
			controller_init_partition(c, t, p);
	}
	return t;
}

/* Re-reads /brokers/topics (re-arming the watch); returns how many topics are new. */
int controller_refresh_topics(struct controller *c, bool announce)
{
	char **names = NULL;
	int n = 0;
	if (topic_zk_list(c->zk, on_topics_watch, c, &names, &n) != ZOK) {
		log_error("Controller: cannot list /brokers/topics");
		return 0;
	}
	int added = 0;
	for (int i = 0; i < n; i++) {
		if (controller_find_topic(c, names[i]) >= 0)
			continue;
		struct ctl_topic *t = load_topic(c, names[i]);
		if (t) {
			log_info("Controller %d: new topic %s", c->id, names[i]);
			if (announce)
				controller_send_leader_and_isr(c, t);
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
int controller_refresh_partition_counts(struct controller *c)
{
	int grown = 0;
	for (int i = 0; i < c->n_topics; i++) {
		struct ctl_topic *t = &c->topics[i];
		topic_zk_watch_assignment(c->zk, t->asg.name, on_topic_data_watch, c);
		struct topic_assignment now;
		if (topic_zk_get_assignment(c->zk, t->asg.name, &now) != ZOK)
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
				controller_init_partition(c, t, p);
			log_info("Controller %d: topic %s now has %d partitions", c->id, t->asg.name,
				 now.n_partitions);
			controller_send_leader_and_isr(c, t);
			grown++;
		}
		topic_assignment_free(&now);
	}
	return grown;
}

/* [Kafka's TopicDeletionManager], without replicas to stop yet: brokers are told
 * the partitions are gone, then the topic's znodes are removed. */
void controller_process_deletions(struct controller *c)
{
	char **names = NULL;
	int n = 0;
	if (topic_zk_list_deletions(c->zk, on_deletions_watch, c, &names, &n) != ZOK)
		return;
	for (int i = 0; i < n; i++) {
		if (!c->cfg.delete_topic_enable) {
			log_info("Controller: topic deletion is disabled; dropping the request for %s", names[i]);
			topic_zk_unmark_deletion(c->zk, names[i]);
			continue;
		}
		int known = controller_find_topic(c, names[i]);
		if (known >= 0) {
			/* Kafka's TopicDeletionManager: a topic with a replica on a broker that is down
			 * stays queued until the broker returns, so its copy is deleted too. */
			int32_t offline = -1;
			const struct topic_assignment *asg = &c->topics[known].asg;
			for (int p = 0; p < asg->n_partitions && offline < 0; p++)
				for (int r = 0; r < asg->n_replicas[p]; r++)
					if (!controller_is_live(c, asg->replicas[p][r])) {
						offline = asg->replicas[p][r];
						break;
					}
			if (offline >= 0) {
				log_info("Controller %d: deletion of topic %s waits: broker %d, which holds a replica, is down",
					 c->id, names[i], offline);
				continue;
			}
			controller_send_stop_replica_delete(c, &c->topics[known]);
		}
		/* The znodes go next, so that once brokers stop listing the topic its name
		 * can be created again at once. */
		if (topic_zk_delete_topic(c->zk, names[i]) != ZOK) {
			log_error("Controller: cannot remove the znodes of topic %s; will retry", names[i]);
			continue;
		}
		topic_zk_unmark_deletion(c->zk, names[i]);
		int at = controller_find_topic(c, names[i]);
		if (at >= 0) {
			controller_send_update_metadata(c, &c->topics[at], true);
			ctl_topic_clear(&c->topics[at]);
			memmove(&c->topics[at], &c->topics[at + 1], sizeof *c->topics * (size_t)(c->n_topics - at - 1));
			c->n_topics--;
		}
		log_info("Controller %d: deleted topic %s", c->id, names[i]);
	}
	topic_zk_free_names(names, n);
}
