/*
 * Leaders and ISRs as brokers come and go [Kafka's PartitionStateMachine,
 * ReplicaStateMachine, Election and KafkaController's onBrokerFailure,
 * onBrokerStartup, doControlledShutdown and IsrChangeNotificationHandler].
 *
 * Every change of a partition state znode goes through change_state(): decide
 * from the cached state, write it conditionally on the cached zkVersion (and the
 * controller epoch's zkVersion), and on BADVERSION re-read the znode and decide
 * again -- the leader may have changed the ISR meanwhile.  Each write bumps the
 * leader epoch, as every write by Kafka's ZooKeeper controller does.
 */
#include "controller/controller_internal.h"

#include <strings.h>

#include "samsa/proto.h"

/* A conflict-free write normally needs one retry; more means a leader rewriting in a loop. */
#define MAX_STATE_ATTEMPTS 20

bool controller_ids_contain(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

bool controller_is_replica_online(struct controller *c, int32_t id)
{
	return controller_is_live(c, id) && !controller_ids_contain(c->shutting_down, c->n_shutting_down, id) &&
	       !controller_ids_contain(c->bouncing, c->n_bouncing, id);
}

static bool is_live_or_shutting_down(struct controller *c, int32_t id)
{
	return controller_is_live(c, id) && !controller_ids_contain(c->bouncing, c->n_bouncing, id);
}

/* The same, for replica id of partition p of t: its log dir must be online too. */
static bool live_or_shutting_down_at(struct controller *c, int32_t id, const struct ctl_topic *t, int p)
{
	return is_live_or_shutting_down(c, id) && !controller_replica_on_offline_dir(c, id, t, p);
}

static void format_ids(char *out, size_t cap, const int32_t *ids, int n)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, i ? ",%d" : "%d", ids[i]);
}

enum decision {
	DECIDE_KEEP,  /* nothing to change */
	DECIDE_WRITE, /* write `next` (leader and ISR; epochs are filled in) */
	DECIDE_FAIL,  /* the change cannot be made now */
};

typedef enum decision (*decide_fn)(struct controller *c, const struct ctl_topic *t, int p,
				   const struct partition_state *cur, struct partition_state *next, void *arg);

static void next_init(struct partition_state *next, const struct partition_state *cur)
{
	memset(next, 0, sizeof *next);
	next->isr = xcalloc((size_t)(cur->n_isr + 1), sizeof *next->isr);
}

/*
 * Decide, write conditionally, re-read on conflict [Kafka's
 * doElectLeaderForPartitions / doRemoveReplicasFromIsr retry loops].  True when
 * the state changed; the cache then holds what was written.
 */
static bool change_state(struct controller *c, struct ctl_topic *t, int p, decide_fn decide, void *arg,
			 const char *why)
{
	const char *topic = t->asg.name;
	for (int attempt = 0; attempt < MAX_STATE_ATTEMPTS && !c->fenced; attempt++) {
		struct partition_state *cur = &t->states[p];
		if (cur->controller_epoch > c->epoch) {
			log_warn("Controller %d (epoch %d): state of %s-%d was written by controller epoch %d; "
				 "another controller was elected, aborting",
				 c->id, c->epoch, topic, p, cur->controller_epoch);
			c->fenced = true;
			controller_post(c, EV_ELECT);
			return false;
		}
		struct partition_state next;
		next_init(&next, cur);
		enum decision d = decide(c, t, p, cur, &next, arg);
		if (d != DECIDE_WRITE) {
			partition_state_clear(&next);
			return false;
		}
		next.leader_epoch = cur->leader_epoch + 1;
		next.controller_epoch = c->epoch;
		int32_t version = 0;
		int rc = topic_zk_update_state(c->zk, topic, p, &next, cur->zk_version, c->epoch_zk_version,
					       &version);
		if (rc == ZOK) {
			char was[256], now[256];
			format_ids(was, sizeof was, cur->isr, cur->n_isr);
			format_ids(now, sizeof now, next.isr, next.n_isr);
			log_info("Controller %d epoch %d changed partition %s-%d (%s): leader %d -> %d, leader epoch %d, "
				 "ISR [%s] -> [%s], zkVersion %d",
				 c->id, c->epoch, topic, p, why, cur->leader, next.leader, next.leader_epoch, was,
				 now, version);
			next.zk_version = version;
			partition_state_clear(cur);
			*cur = next;
			return true;
		}
		partition_state_clear(&next);
		if (rc == TOPIC_ZK_CONTROLLER_MOVED) {
			log_warn("Controller %d: /controller_epoch moved on while writing %s-%d; resigning",
				 c->id, topic, p);
			c->fenced = true;
			controller_post(c, EV_ELECT);
			return false;
		}
		if (rc != ZBADVERSION) {
			log_error("Controller %d: cannot write state of %s-%d: %s", c->id, topic, p, zerror(rc));
			return false;
		}
		/* The leader changed the ISR since we cached it: decide again on what is there now. */
		struct partition_state fresh;
		rc = topic_zk_get_state(c->zk, topic, p, &fresh);
		if (rc != ZOK) {
			log_error("Controller %d: cannot re-read state of %s-%d: %s", c->id, topic, p,
				  zerror(rc));
			return false;
		}
		log_info("Controller %d: state of %s-%d moved to zkVersion %d meanwhile; deciding again",
			 c->id, topic, p, fresh.zk_version);
		partition_state_clear(cur);
		*cur = fresh;
	}
	if (!c->fenced)
		log_error("Controller %d: gave up changing %s-%d after %d conflicting writes", c->id, topic, p,
			  MAX_STATE_ATTEMPTS);
	return false;
}

/* unclean.leader.election.enable of a topic: its /config/topics override, else the broker's. */
static bool unclean_enabled(struct controller *c, const char *topic)
{
	char *v = NULL;
	bool on = c->cfg.unclean_leader_election_enable;
	if (topic_zk_get_config(c->zk, topic, "unclean.leader.election.enable", &v) != ZOK)
		log_warn("Controller: cannot read the config of topic %s; using the broker's unclean.leader.election.enable",
			 topic);
	if (v)
		on = strcasecmp(v, "true") == 0;
	free(v);
	return on;
}

/*
 * The members of a and then b (no repeats) that pass `keep`, for the pure
 * election functions; *buf is malloc'd and backs the result.
 */
static struct ctl_ids ids_where(struct controller *c, const struct ctl_topic *t, int p, struct ctl_ids a,
				struct ctl_ids b, bool (*keep)(struct controller *, int32_t, const struct ctl_topic *, int),
				int32_t **buf)
{
	int32_t *v = xcalloc((size_t)(a.n + b.n + 1), sizeof *v);
	int n = 0;
	for (int k = 0; k < 2; k++) {
		struct ctl_ids s = k ? b : a;
		for (int i = 0; i < s.n; i++)
			if (keep(c, s.ids[i], t, p) && !controller_ids_contain(v, n, s.ids[i]))
				v[n++] = s.ids[i];
	}
	*buf = v;
	return ctl_ids(v, n);
}

static bool any_replica_in(struct ctl_ids replicas, struct ctl_ids set)
{
	for (int i = 0; i < replicas.n; i++)
		if (ctl_ids_has(set, replicas.ids[i]))
			return true;
	return false;
}

static struct ctl_ids cur_isr(const struct partition_state *cur) { return ctl_ids(cur->isr, cur->n_isr); }
static struct ctl_ids assignment(const struct ctl_topic *t, int p) { return ctl_ids(t->asg.replicas[p], t->asg.n_replicas[p]); }

/*
 * [Kafka's OfflinePartitionLeaderElectionStrategy]: the first replica in
 * assignment order that is online and in the ISR, the ISR keeping its online
 * members; else, with unclean election allowed, the first online replica, alone
 * in the ISR.
 */
static enum decision decide_offline(struct controller *c, const struct ctl_topic *t, int p,
				    const struct partition_state *cur, struct partition_state *next, void *arg)
{
	/* arg: NULL, or a bool forcing unclean election (an admin's ElectLeaders UNCLEAN). */
	bool force_unclean = arg && *(const bool *)arg;
	if (cur->leader >= 0 && controller_replica_online_at(c, cur->leader, t, p))
		return DECIDE_KEEP; /* someone else already elected a leader */
	int32_t *buf;
	struct ctl_ids online = ids_where(c, t, p, assignment(t, p), cur_isr(cur), controller_replica_online_at, &buf);
	enum decision d = DECIDE_FAIL;
	int32_t leader = election_offline_leader(assignment(t, p), cur_isr(cur), online, false);
	if (leader >= 0) {
		next->leader = leader;
		next->n_isr = election_isr_keep(cur_isr(cur), online, next->isr);
		d = DECIDE_WRITE;
	} else if (any_replica_in(assignment(t, p), online) && (force_unclean || unclean_enabled(c, t->asg.name))) {
		/* The topic config is read only when it matters, as Kafka does. */
		leader = election_offline_leader(assignment(t, p), cur_isr(cur), online, true);
		if (leader >= 0) {
			log_warn("Controller %d: unclean leader election for %s-%d: %d leads from outside the ISR; "
				 "data may be lost", c->id, t->asg.name, p, leader);
			next->leader = leader;
			next->isr[0] = leader;
			next->n_isr = 1;
			d = DECIDE_WRITE;
		}
	}
	free(buf);
	return d;
}

/* [Kafka's ControlledShutdownPartitionLeaderElectionStrategy]: the first ISR replica not shutting down. */
static enum decision decide_controlled_shutdown(struct controller *c, const struct ctl_topic *t, int p,
						const struct partition_state *cur, struct partition_state *next,
						void *arg)
{
	int32_t id = *(const int32_t *)arg;
	if (cur->leader != id)
		return DECIDE_KEEP;
	int32_t *buf;
	struct ctl_ids live = ids_where(c, t, p, assignment(t, p), ctl_ids(NULL, 0), live_or_shutting_down_at, &buf);
	struct ctl_ids shutting_down = ctl_ids(c->shutting_down, c->n_shutting_down);
	next->leader = election_controlled_shutdown_leader(assignment(t, p), cur_isr(cur), live, shutting_down);
	free(buf);
	if (next->leader < 0)
		return DECIDE_FAIL;
	next->n_isr = election_isr_drop(cur_isr(cur), shutting_down, next->isr);
	return DECIDE_WRITE;
}

/*
 * [Kafka's ReplicaStateMachine OfflineReplica]: the replica leaves the ISR,
 * unless it is the last one there; if it led, the partition has no leader.
 */
static enum decision decide_remove_from_isr(struct controller *c, const struct ctl_topic *t, int p,
					    const struct partition_state *cur, struct partition_state *next, void *arg)
{
	(void)c;
	(void)t;
	(void)p;
	int32_t id = *(const int32_t *)arg;
	if (!controller_ids_contain(cur->isr, cur->n_isr, id))
		return DECIDE_KEEP;
	next->n_isr = election_remove_from_isr(cur->leader, cur_isr(cur), id, &next->leader, next->isr);
	return DECIDE_WRITE;
}

/*
 * [Kafka's PreferredReplicaPartitionLeaderElectionStrategy]: the first replica
 * of the assignment leads if it is online and in the ISR; the ISR stays.
 */
static enum decision decide_preferred(struct controller *c, const struct ctl_topic *t, int p,
				      const struct partition_state *cur, struct partition_state *next, void *arg)
{
	(void)arg;
	if (t->asg.n_replicas[p] == 0)
		return DECIDE_FAIL;
	if (cur->leader == t->asg.replicas[p][0])
		return DECIDE_KEEP;
	int32_t *buf;
	struct ctl_ids online = ids_where(c, t, p, assignment(t, p), ctl_ids(NULL, 0), controller_replica_online_at, &buf);
	next->leader = election_preferred_leader(assignment(t, p), cur_isr(cur), online);
	free(buf);
	if (next->leader < 0)
		return DECIDE_FAIL;
	memcpy(next->isr, cur->isr, sizeof *next->isr * (size_t)cur->n_isr);
	next->n_isr = cur->n_isr;
	return DECIDE_WRITE;
}

struct target_set {
	const int32_t *ids;
	int n;
};

/* [Kafka's ReassignPartitionLeaderElectionStrategy]: the first target replica online and in the ISR; the ISR stays. */
static enum decision decide_reassign(struct controller *c, const struct ctl_topic *t, int p,
				     const struct partition_state *cur, struct partition_state *next, void *arg)
{
	(void)t;
	(void)p;
	const struct target_set *ts = arg;
	int32_t *buf;
	struct ctl_ids online = ids_where(c, t, p, ctl_ids(ts->ids, ts->n), ctl_ids(NULL, 0), controller_replica_online_at, &buf);
	next->leader = election_reassign_leader(ctl_ids(ts->ids, ts->n), cur_isr(cur), online);
	free(buf);
	if (next->leader < 0)
		return DECIDE_FAIL;
	memcpy(next->isr, cur->isr, sizeof *next->isr * (size_t)cur->n_isr);
	next->n_isr = cur->n_isr;
	return DECIDE_WRITE;
}

/* [Kafka's updateLeaderEpoch]: the same leader and ISR under a new leader epoch. */
static enum decision decide_bump(struct controller *c, const struct ctl_topic *t, int p,
				 const struct partition_state *cur, struct partition_state *next, void *arg)
{
	(void)c;
	(void)t;
	(void)p;
	(void)arg;
	next->leader = cur->leader;
	memcpy(next->isr, cur->isr, sizeof *next->isr * (size_t)cur->n_isr);
	next->n_isr = cur->n_isr;
	return DECIDE_WRITE;
}

/* LeaderAndIsr to the online replicas of (ti, p) after its leader changed. */
static void announce_online(struct controller *c, int ti, int p, struct ctl_batch *b)
{
	const struct ctl_topic *t = &c->topics[ti];
	for (int r = 0; r < t->asg.n_replicas[p]; r++)
		if (controller_replica_online_at(c, t->asg.replicas[p][r], t, p))
			ctl_batch_leader_and_isr(b, t->asg.replicas[p][r], ti, p);
}

int16_t controller_elect_preferred(struct controller *c, int ti, int p, struct ctl_batch *b)
{
	struct ctl_topic *t = &c->topics[ti];
	if (!t->has_state[p] || !change_state(c, t, p, decide_preferred, NULL, "preferred replica leader election"))
		return KERR_PREFERRED_LEADER_NOT_AVAILABLE;
	announce_online(c, ti, p, b);
	return KERR_NONE;
}

int16_t controller_elect_offline(struct controller *c, int ti, int p, bool allow_unclean, struct ctl_batch *b)
{
	struct ctl_topic *t = &c->topics[ti];
	if (!t->has_state[p] ||
	    !change_state(c, t, p, decide_offline, &allow_unclean, "admin leader election"))
		return KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
	announce_online(c, ti, p, b);
	return KERR_NONE;
}

bool controller_bump_leader_epoch(struct controller *c, int ti, int p)
{
	struct ctl_topic *t = &c->topics[ti];
	return t->has_state[p] && change_state(c, t, p, decide_bump, NULL, "leader epoch bump for a reassignment");
}

bool controller_elect_reassigned_leader(struct controller *c, int ti, int p, const int32_t *target, int n_target)
{
	struct ctl_topic *t = &c->topics[ti];
	struct target_set ts = { target, n_target };
	return t->has_state[p] && change_state(c, t, p, decide_reassign, &ts, "reassigned partition leader election");
}

static bool hosts(const struct ctl_topic *t, int p, int32_t id)
{
	return controller_ids_contain(t->asg.replicas[p], t->asg.n_replicas[p], id);
}

/* A replica goes offline: out of the ISR, and the other replicas learn it. */
static void offline_replica(struct controller *c, int ti, int p, int32_t id, struct ctl_batch *b)
{
	struct ctl_topic *t = &c->topics[ti];
	if (!t->has_state[p]) {
		ctl_batch_update_metadata(b, ti, p);
		return;
	}
	bool changed = change_state(c, t, p, decide_remove_from_isr, &id, "replica offline");
	if (c->fenced)
		return;
	/* Every live broker learns the replica is offline, as Kafka's OfflineReplica step
	 * tells them: also when the ISR did not change (a controlled shutdown had taken
	 * the replica out already) and when no other replica is left to get LeaderAndIsr. */
	ctl_batch_update_metadata(b, ti, p);
	if (!changed)
		return;
	for (int r = 0; r < t->asg.n_replicas[p]; r++)
		if (t->asg.replicas[p][r] != id)
			ctl_batch_leader_and_isr(b, t->asg.replicas[p][r], ti, p);
}

void controller_replica_offline(struct controller *c, int ti, int p, int32_t id, struct ctl_batch *b)
{
	offline_replica(c, ti, p, id, b);
}

/*
 * [Kafka's triggerOnlinePartitionStateChange]: partitions without a state znode
 * (NewPartition) are initialised once a replica is online; partitions whose
 * leader is not online (OfflinePartition, including leader -1) get one elected.
 */
static void trigger_online_partitions(struct controller *c, struct ctl_batch *b)
{
	for (int ti = 0; ti < c->n_topics && !c->fenced; ti++) {
		struct ctl_topic *t = &c->topics[ti];
		for (int p = 0; p < t->asg.n_partitions && !c->fenced; p++) {
			bool changed;
			if (!t->has_state[p]) {
				bool any = false;
				for (int r = 0; r < t->asg.n_replicas[p]; r++)
					any |= controller_replica_online_at(c, t->asg.replicas[p][r], t, p);
				if (!any)
					continue;
				controller_init_partition(c, t, p);
				changed = t->has_state[p];
			} else if (t->states[p].leader >= 0 &&
				   controller_replica_online_at(c, t->states[p].leader, t, p)) {
				continue;
			} else {
				changed = change_state(c, t, p, decide_offline, NULL, "offline partition leader election");
			}
			if (!changed)
				continue;
			for (int r = 0; r < t->asg.n_replicas[p]; r++)
				if (controller_replica_online_at(c, t->asg.replicas[p][r], t, p))
					ctl_batch_leader_and_isr(b, t->asg.replicas[p][r], ti, p);
		}
	}
}

static void remove_id(int32_t *ids, int *n, int32_t id)
{
	for (int i = 0; i < *n; i++)
		if (ids[i] == id) {
			ids[i] = ids[--*n];
			return;
		}
}

/* [Kafka's onBrokerFailure + onReplicasBecomeOffline]. */
void controller_on_broker_failure(struct controller *c, const int32_t *dead, int n)
{
	for (int i = 0; i < n; i++) {
		log_info("Controller %d: broker failure callback for %d", c->id, dead[i]);
		remove_id(c->shutting_down, &c->n_shutting_down, dead[i]);
		/* Its next incarnation reports its dirs afresh [replicasOnOfflineDirs.remove]. */
		controller_offline_dirs_forget(c, dead[i]);
	}
	struct ctl_batch b;
	ctl_batch_init(&b);
	/* Leaders first, from the ISR as it was (the dead are not online, so they are skipped)... */
	trigger_online_partitions(c, &b);
	/* ...then the dead replicas leave the ISRs; a leader nobody could replace becomes -1. */
	for (int ti = 0; ti < c->n_topics && !c->fenced; ti++)
		for (int p = 0; p < c->topics[ti].asg.n_partitions && !c->fenced; p++)
			for (int i = 0; i < n; i++)
				if (hosts(&c->topics[ti], p, dead[i]))
					offline_replica(c, ti, p, dead[i], &b);
	bool nothing = ctl_batch_empty(&b);
	controller_send_batch(c, &b);
	/* Nobody's state changed: the survivors still have to learn who is gone. */
	if (nothing)
		controller_send_update_metadata_to_all(c);
}

/*
 * [Kafka's onReplicasBecomeOffline, for replicas on a failed log dir]: partitions
 * they led get new leaders, then they leave the ISRs.
 */
void controller_on_replicas_offline(struct controller *c, const struct ctl_batch_entry *v, int n)
{
	struct ctl_batch b;
	ctl_batch_init(&b);
	trigger_online_partitions(c, &b);
	for (int i = 0; i < n && !c->fenced; i++)
		offline_replica(c, v[i].ti, v[i].p, v[i].broker, &b);
	bool nothing = ctl_batch_empty(&b);
	controller_send_batch(c, &b);
	if (nothing)
		controller_send_update_metadata_to_all(c);
}

/* [Kafka's onBrokerStartup]: the new broker learns everything and its partitions; offline partitions may come back. */
void controller_on_broker_startup(struct controller *c, const int32_t *born, int n)
{
	for (int i = 0; i < n; i++) {
		log_info("Controller %d: new broker startup callback for %d", c->id, born[i]);
		controller_offline_dirs_forget(c, born[i]);
	}
	controller_send_update_metadata_to_all(c);
	struct ctl_batch b;
	ctl_batch_init(&b);
	/* OnlineReplica: every replica on the new brokers with a state gets its LeaderAndIsr. */
	for (int ti = 0; ti < c->n_topics; ti++)
		for (int p = 0; p < c->topics[ti].asg.n_partitions; p++)
			for (int i = 0; i < n; i++)
				if (c->topics[ti].has_state[p] && hosts(&c->topics[ti], p, born[i]))
					ctl_batch_leader_and_isr(&b, born[i], ti, p);
	trigger_online_partitions(c, &b);
	controller_send_batch(c, &b);
	/* Reassignments waiting for these brokers go on. */
	if (!c->fenced)
		controller_reassignments_on_broker_startup(c, born, n);
	/* So do topic deletions that waited for them [resumeDeletionForTopics]. */
	if (!c->fenced)
		controller_process_deletions(c);
}

/*
 * [Kafka's onControllerFailover: replicaStateMachine.startup() and
 * partitionStateMachine.startup()], after every partition state was read from
 * ZooKeeper: online replicas get their LeaderAndIsr, replicas on brokers that
 * are not live leave the ISRs, offline partitions get leaders.
 */
void controller_start_state_machines(struct controller *c)
{
	controller_send_leader_and_isr(c, NULL);
	struct ctl_batch b;
	ctl_batch_init(&b);
	for (int ti = 0; ti < c->n_topics && !c->fenced; ti++) {
		struct ctl_topic *t = &c->topics[ti];
		for (int p = 0; p < t->asg.n_partitions && !c->fenced; p++)
			for (int r = 0; r < t->asg.n_replicas[p]; r++)
				if (t->has_state[p] && !controller_is_live(c, t->asg.replicas[p][r]))
					offline_replica(c, ti, p, t->asg.replicas[p][r], &b);
	}
	trigger_online_partitions(c, &b);
	controller_send_batch(c, &b);
}

static void on_isr_change_watch(void *arg) { controller_post(arg, EV_ISR_CHANGE); }

/* [Kafka's deleteIsrChangeNotifications at failover]: the context is read fresh anyway. */
void controller_delete_isr_changes(struct controller *c)
{
	char **names = NULL;
	int n = 0;
	if (topic_zk_list_isr_changes(c->zk, NULL, NULL, &names, &n) != ZOK)
		return;
	for (int i = 0; i < n; i++)
		topic_zk_delete_isr_change(c->zk, names[i], c->epoch_zk_version);
	topic_zk_free_names(names, n);
}

/*
 * [Kafka's IsrChangeNotificationHandler / processIsrChangeNotification]: a
 * leader changed ISRs in ZooKeeper; re-read those states, tell every broker,
 * delete the notifications.
 */
void controller_process_isr_changes(struct controller *c)
{
	char **names = NULL;
	int n = 0;
	if (topic_zk_list_isr_changes(c->zk, on_isr_change_watch, c, &names, &n) != ZOK) {
		log_error("Controller: cannot list /isr_change_notification");
		return;
	}
	struct ctl_batch b;
	ctl_batch_init(&b);
	/* Partitions whose ISR changed: a reassignment among them may be complete now. */
	struct ctl_batch changed;
	ctl_batch_init(&changed);
	for (int i = 0; i < n; i++) {
		struct topic_partition_ref *refs = NULL;
		int nr = 0;
		if (topic_zk_read_isr_change(c->zk, names[i], &refs, &nr) != ZOK)
			continue;
		for (int k = 0; k < nr; k++) {
			int ti = controller_find_topic(c, refs[k].topic);
			if (ti < 0 || refs[k].partition >= c->topics[ti].asg.n_partitions)
				continue;
			struct ctl_topic *t = &c->topics[ti];
			int p = refs[k].partition;
			struct partition_state fresh;
			if (topic_zk_get_state(c->zk, t->asg.name, p, &fresh) != ZOK)
				continue;
			char isr[256];
			format_ids(isr, sizeof isr, fresh.isr, fresh.n_isr);
			log_info("Controller %d: ISR change of %s-%d: leader %d, leader epoch %d, ISR [%s], zkVersion %d",
				 c->id, t->asg.name, p, fresh.leader, fresh.leader_epoch, isr, fresh.zk_version);
			partition_state_clear(&t->states[p]);
			t->states[p] = fresh;
			t->has_state[p] = true;
			ctl_batch_update_metadata(&b, ti, p);
			ctl_batch_update_metadata(&changed, ti, p);
			/* A leader may add a follower that is just going away (its last fetch raced its
			 * shutdown).  Kafka 3.9's controller refuses such an ISR (KIP-841's
			 * INELIGIBLE_REPLICA); with leaders writing ISRs themselves, it is taken out here. */
			int32_t gone[16];
			int n_gone = 0;
			for (int r = 0; r < t->states[p].n_isr && n_gone < 16; r++)
				if (!controller_replica_online_at(c, t->states[p].isr[r], t, p))
					gone[n_gone++] = t->states[p].isr[r];
			for (int g = 0; g < n_gone && !c->fenced; g++) {
				log_info("Controller %d: ISR of %s-%d names broker %d, which is not online; removing it", c->id,
					 t->asg.name, p, gone[g]);
				offline_replica(c, ti, p, gone[g], &b);
			}
		}
		topic_partition_refs_free(refs, nr);
	}
	controller_send_batch(c, &b);
	/* [processPartitionReassignmentIsrChange]. */
	for (int i = 0; i < changed.n_um && !c->fenced; i++)
		controller_maybe_complete_reassignment(c, changed.um[i].ti, changed.um[i].p);
	free(changed.um);
	for (int i = 0; i < n; i++)
		if (topic_zk_delete_isr_change(c->zk, names[i], c->epoch_zk_version) != ZOK)
			log_warn("Controller: cannot delete ISR change notification %s", names[i]);
	topic_zk_free_names(names, n);
}

/* [Kafka's doControlledShutdown]. */
void controller_do_controlled_shutdown(struct controller *c, int32_t id, int64_t broker_epoch,
				       controller_shutdown_fn cb, void *cb_arg)
{
	if (!c->is_active || c->fenced) {
		cb(cb_arg, KERR_NOT_CONTROLLER, NULL, 0);
		return;
	}
	const struct kafka_broker_info *bi = controller_find_live(c->live, c->n_live, id);
	if (bi && broker_epoch != -1 && broker_epoch < bi->epoch) {
		log_info("Controller %d: controlled shutdown request from an old epoch %lld of broker %d (now %lld)",
			 c->id, (long long)broker_epoch, id, (long long)bi->epoch);
		cb(cb_arg, KERR_STALE_BROKER_EPOCH, NULL, 0);
		return;
	}
	if (!bi) {
		cb(cb_arg, KERR_BROKER_NOT_AVAILABLE, NULL, 0);
		return;
	}
	log_info("Controller %d: shutting down broker %d", c->id, id);
	if (!controller_ids_contain(c->shutting_down, c->n_shutting_down, id)) {
		c->shutting_down = xrealloc(c->shutting_down, sizeof *c->shutting_down * (size_t)(c->n_shutting_down + 1));
		c->shutting_down[c->n_shutting_down++] = id;
	}
	struct ctl_batch b;
	ctl_batch_init(&b);
	for (int ti = 0; ti < c->n_topics && !c->fenced; ti++) {
		struct ctl_topic *t = &c->topics[ti];
		for (int p = 0; p < t->asg.n_partitions && !c->fenced; p++) {
			if (!t->has_state[p] || t->asg.n_replicas[p] <= 1 || !hosts(t, p, id))
				continue;
			if (t->states[p].leader == id) {
				if (change_state(c, t, p, decide_controlled_shutdown, &id, "controlled shutdown"))
					for (int r = 0; r < t->asg.n_replicas[p]; r++)
						if (is_live_or_shutting_down(c, t->asg.replicas[p][r]))
							ctl_batch_leader_and_isr(&b, t->asg.replicas[p][r], ti, p);
			} else {
				/* A follower stops fetching and leaves the ISR. */
				ctl_batch_stop_replica(&b, id, ti, p, t->states[p].leader_epoch);
				offline_replica(c, ti, p, id, &b);
			}
		}
	}
	controller_send_batch(c, &b);
	/* [partitionLeadersOnBroker]: what it still leads that another replica could take (RF > 1). */
	int n = 0, cap = 0;
	struct topic_partition_ref *left = NULL;
	for (int ti = 0; ti < c->n_topics; ti++) {
		struct ctl_topic *t = &c->topics[ti];
		for (int p = 0; p < t->asg.n_partitions; p++) {
			if (!t->has_state[p] || t->states[p].leader != id || t->asg.n_replicas[p] <= 1)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				left = xrealloc(left, sizeof *left * (size_t)cap);
			}
			left[n].topic = t->asg.name;
			left[n].partition = p;
			n++;
		}
	}
	log_info("Controller %d: controlled shutdown of broker %d: %d partitions still led by it", c->id, id, n);
	cb(cb_arg, c->fenced ? KERR_NOT_CONTROLLER : KERR_NONE, left, n);
	free(left);
}
