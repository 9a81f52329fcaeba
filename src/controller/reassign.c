/*
 * Partition reassignment, preferred replica election and auto leader
 * rebalancing [Kafka's KafkaController: onPartitionReassignment,
 * maybeTriggerPartitionReassignment, processZkPartitionReassignment,
 * processApiPartitionReassignment, processListPartitionReassignments,
 * processReplicaLeaderElection, checkAndTriggerAutoLeaderRebalance].
 *
 * A reassignment (KIP-455) lives in the topic znode: while it runs, a
 * partition's replicas are RS = TRS + ORS (target first), with
 * "adding_replicas" (TRS - ORS) and "removing_replicas" (ORS - TRS), so a new
 * controller resumes it from ZooKeeper.  Phase A bumps the leader epoch and
 * sends LeaderAndIsr to all of RS, so the new replicas start fetching; once
 * every target replica is in the ISR (checked again on each ISR change
 * notification), phase B moves leadership into TRS if needed, takes the
 * removed replicas out of the ISR, deletes them (StopReplica with delete),
 * writes RS = TRS and drops the partition from /admin/reassign_partitions.
 */
#include "controller/controller_internal.h"

#include "samsa/proto.h"

/* Kafka's onControllerFailover schedules the first check this long after failover. */
#define FIRST_REBALANCE_DELAY_MS 5000

int64_t controller_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_reassign_watch(void *arg) { controller_post(arg, EV_REASSIGN_ZNODE); }
static void on_preferred_watch(void *arg) { controller_post(arg, EV_PREFERRED_ZNODE); }

struct partition_reassignment *controller_reassignment_of(struct ctl_topic *t, int p)
{
	for (int i = 0; i < t->asg.n_reassigning; i++)
		if (t->asg.reassigning[i].partition == p)
			return &t->asg.reassigning[i];
	return NULL;
}

void ctl_replica_assignment_free(struct ctl_replica_assignment *a)
{
	free(a->replicas);
	free(a->adding);
	free(a->removing);
	memset(a, 0, sizeof *a);
}

static int32_t *ids_dup(const int32_t *ids, int n)
{
	int32_t *out = xcalloc((size_t)(n > 0 ? n : 1), sizeof *out);
	if (n > 0)
		memcpy(out, ids, sizeof *out * (size_t)n);
	return out;
}

/* a minus b, in a's order [Scala's diff on sequences without repeats]. */
static int32_t *ids_diff(const int32_t *a, int na, const int32_t *b, int nb, int *n)
{
	int32_t *out = xcalloc((size_t)(na > 0 ? na : 1), sizeof *out);
	*n = 0;
	for (int i = 0; i < na; i++)
		if (!controller_ids_contain(b, nb, a[i]))
			out[(*n)++] = a[i];
	return out;
}

static bool ids_equal(const int32_t *a, int na, const int32_t *b, int nb)
{
	return na == nb && (na == 0 || memcmp(a, b, sizeof *a * (size_t)na) == 0);
}

static bool is_being_reassigned(struct ctl_topic *t, int p)
{
	const struct partition_reassignment *ra = controller_reassignment_of(t, p);
	return ra && (ra->n_adding > 0 || ra->n_removing > 0);
}

static void current_assignment(struct ctl_topic *t, int p, struct ctl_replica_assignment *out)
{
	memset(out, 0, sizeof *out);
	out->n = t->asg.n_replicas[p];
	out->replicas = ids_dup(t->asg.replicas[p], out->n);
	const struct partition_reassignment *ra = controller_reassignment_of(t, p);
	out->n_adding = ra ? ra->n_adding : 0;
	out->adding = ids_dup(ra ? ra->adding : NULL, out->n_adding);
	out->n_removing = ra ? ra->n_removing : 0;
	out->removing = ids_dup(ra ? ra->removing : NULL, out->n_removing);
}

/* ORS: the replicas minus those being added. */
static int32_t *origin_of(const struct ctl_replica_assignment *a, int *n) { return ids_diff(a->replicas, a->n, a->adding, a->n_adding, n); }
/* TRS: the replicas minus those being removed. */
static int32_t *target_of(const struct ctl_replica_assignment *a, int *n) { return ids_diff(a->replicas, a->n, a->removing, a->n_removing, n); }

void controller_reassign_to(const struct ctl_replica_assignment *cur, const int32_t *target, int n_target, struct ctl_replica_assignment *out)
{
	int n_origin;
	int32_t *origin = origin_of(cur, &n_origin);
	memset(out, 0, sizeof *out);
	out->replicas = xcalloc((size_t)(n_target + n_origin + 1), sizeof *out->replicas);
	for (int i = 0; i < n_target; i++)
		if (!controller_ids_contain(out->replicas, out->n, target[i]))
			out->replicas[out->n++] = target[i];
	for (int i = 0; i < n_origin; i++)
		if (!controller_ids_contain(out->replicas, out->n, origin[i]))
			out->replicas[out->n++] = origin[i];
	out->adding = ids_diff(target, n_target, origin, n_origin, &out->n_adding);
	out->removing = ids_diff(origin, n_origin, target, n_target, &out->n_removing);
	free(origin);
}

static bool rassign_equal(const struct ctl_replica_assignment *a, const struct ctl_replica_assignment *b)
{
	return ids_equal(a->replicas, a->n, b->replicas, b->n) && ids_equal(a->adding, a->n_adding, b->adding, b->n_adding) &&
	       ids_equal(a->removing, a->n_removing, b->removing, b->n_removing);
}

/* The controller's memory of (t, p) becomes `a` [updatePartitionFullReplicaAssignment]. */
static void set_assignment(struct ctl_topic *t, int p, const struct ctl_replica_assignment *a)
{
	free(t->asg.replicas[p]);
	t->asg.replicas[p] = ids_dup(a->replicas, a->n);
	t->asg.n_replicas[p] = a->n;
	for (int i = 0; i < t->asg.n_reassigning; i++) {
		if (t->asg.reassigning[i].partition != p)
			continue;
		free(t->asg.reassigning[i].adding);
		free(t->asg.reassigning[i].removing);
		t->asg.reassigning[i] = t->asg.reassigning[--t->asg.n_reassigning];
		break;
	}
	if (a->n_adding == 0 && a->n_removing == 0)
		return;
	t->asg.reassigning = xrealloc(t->asg.reassigning, sizeof *t->asg.reassigning * (size_t)(t->asg.n_reassigning + 1));
	struct partition_reassignment *ra = &t->asg.reassigning[t->asg.n_reassigning++];
	ra->partition = p;
	ra->adding = ids_dup(a->adding, a->n_adding);
	ra->n_adding = a->n_adding;
	ra->removing = ids_dup(a->removing, a->n_removing);
	ra->n_removing = a->n_removing;
}

/* [updateReplicaAssignmentForPartition]: the topic znode gets the controller's view, fenced by its epoch. */
static bool write_topic(struct controller *c, struct ctl_topic *t)
{
	int rc = topic_zk_set_assignment_fenced(c->zk, &t->asg, c->epoch_zk_version);
	if (rc == ZOK)
		return true;
	if (rc == TOPIC_ZK_CONTROLLER_MOVED) {
		log_warn("Controller %d: /controller_epoch moved on while writing the assignment of %s; resigning",
			 c->id, t->asg.name);
		c->fenced = true;
		controller_post(c, EV_ELECT);
	} else {
		log_error("Controller %d: cannot write the assignment of %s: %s", c->id, t->asg.name, zerror(rc));
	}
	return false;
}

static void format_ids(char *out, size_t cap, const int32_t *ids, int n)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, i ? ",%d" : "%d", ids[i]);
}

/*
 * [stopRemovedReplicasOfReassignedPartition]: OfflineReplica (out of the ISR,
 * the others told), then StopReplica with delete [ReplicaDeletionStarted ..
 * NonExistentReplica].
 */
static void stop_removed(struct controller *c, int ti, int p, const int32_t *ids, int n, struct ctl_batch *b)
{
	for (int i = 0; i < n && !c->fenced; i++) {
		controller_replica_offline(c, ti, p, ids[i], b);
		ctl_batch_stop_replica_delete(b, ids[i], ti, p, c->topics[ti].states[p].leader_epoch);
	}
}

/* [isReassignmentComplete]: not being reassigned, or every target replica in the ISR as ZooKeeper has it now. */
static bool is_complete(struct controller *c, int ti, int p)
{
	struct ctl_topic *t = &c->topics[ti];
	if (!is_being_reassigned(t, p))
		return true;
	struct partition_state fresh;
	if (topic_zk_get_state(c->zk, t->asg.name, p, &fresh) != ZOK)
		return false;
	partition_state_clear(&t->states[p]);
	t->states[p] = fresh;
	t->has_state[p] = true;
	struct ctl_replica_assignment cur;
	current_assignment(t, p, &cur);
	int n_target;
	int32_t *target = target_of(&cur, &n_target);
	bool all = true;
	for (int i = 0; i < n_target; i++)
		all &= controller_ids_contain(fresh.isr, fresh.n_isr, target[i]);
	free(target);
	ctl_replica_assignment_free(&cur);
	return all;
}

/* Queued so /admin/reassign_partitions loses the partitions a predicate picks. */
typedef bool (*zk_remove_pred)(const struct reassign_request *r, void *arg);

/* [maybeRemoveFromZkReassignment]. */
static void remove_from_zk_reassignment(struct controller *c, zk_remove_pred pred, void *arg)
{
	struct reassign_request *reqs = NULL;
	int n = 0;
	if (topic_zk_get_reassign_requests(c->zk, on_reassign_watch, c, &reqs, &n) != ZOK)
		return;
	int kept = 0;
	for (int i = 0; i < n; i++) {
		if (pred(&reqs[i], arg)) {
			log_info("Controller %d: removing %s-%d from %s", c->id, reqs[i].topic, reqs[i].partition,
				 TOPIC_ZK_REASSIGN_PATH);
			free(reqs[i].topic);
			free(reqs[i].replicas);
			continue;
		}
		reqs[kept++] = reqs[i];
	}
	if (kept < n) {
		if (kept == 0)
			log_info("Controller %d: no more partitions need to be reassigned; deleting %s",
				 c->id, TOPIC_ZK_REASSIGN_PATH);
		int rc = topic_zk_set_reassign_requests(c->zk, reqs, kept, c->epoch_zk_version);
		if (rc == TOPIC_ZK_CONTROLLER_MOVED) {
			c->fenced = true;
			controller_post(c, EV_ELECT);
		} else if (rc != ZOK) {
			log_error("Controller %d: cannot rewrite /admin/reassign_partitions: %s", c->id, zerror(rc));
		}
	}
	reassign_requests_free(reqs, kept);
}

struct tp_replicas {
	const char *topic;
	int32_t partition;
	const int32_t *replicas; /* NULL: any */
	int n;
};

static bool pred_same_partition(const struct reassign_request *r, void *arg)
{
	const struct tp_replicas *w = arg;
	return r->partition == w->partition && strcmp(r->topic, w->topic) == 0 &&
	       (!w->replicas || ids_equal(r->replicas, r->n_replicas, w->replicas, w->n));
}

struct tp_list {
	struct tp_replicas *v;
	int n;
};

static bool pred_in_list(const struct reassign_request *r, void *arg)
{
	const struct tp_list *l = arg;
	for (int i = 0; i < l->n; i++)
		if (pred_same_partition(r, &l->v[i]))
			return true;
	return false;
}

/*
 * [onPartitionReassignment]: phase U (the assignment in ZooKeeper, then in
 * memory; replicas of a superseded reassignment stopped), then phase A or B.
 * KERR_NONE, or UNKNOWN_SERVER_ERROR when the topic znode could not be written.
 */
static int16_t on_partition_reassignment(struct controller *c, int ti, int p, const struct ctl_replica_assignment *ra)
{
	struct ctl_topic *t = &c->topics[ti];
	struct ctl_batch b;
	ctl_batch_init(&b);
	char rs[256], ar[256], rr[256];
	format_ids(rs, sizeof rs, ra->replicas, ra->n);
	format_ids(ar, sizeof ar, ra->adding, ra->n_adding);
	format_ids(rr, sizeof rr, ra->removing, ra->n_removing);

	/* U1-U3 [updateCurrentReassignment]. */
	struct ctl_replica_assignment cur;
	current_assignment(t, p, &cur);
	if (!rassign_equal(&cur, ra)) {
		set_assignment(t, p, ra);
		if (!write_topic(c, t)) {
			set_assignment(t, p, &cur);
			ctl_replica_assignment_free(&cur);
			return KERR_UNKNOWN_SERVER_ERROR;
		}
		log_info("Controller %d: updated assignment of %s-%d to replicas [%s], adding [%s], removing [%s]",
			 c->id, t->asg.name, p, rs, ar, rr);
		int n_unneeded;
		int32_t *unneeded = ids_diff(cur.replicas, cur.n, ra->replicas, ra->n, &n_unneeded);
		stop_removed(c, ti, p, unneeded, n_unneeded, &b);
		free(unneeded);
	}
	ctl_replica_assignment_free(&cur);

	if (!is_complete(c, ti, p)) {
		/* A1: a new leader epoch so every replica of RS (the new ones included) learns the set; A2. */
		if (controller_bump_leader_epoch(c, ti, p))
			for (int r = 0; r < ra->n; r++)
				ctl_batch_leader_and_isr(&b, ra->replicas[r], ti, p);
		else
			log_error("Controller %d: cannot send LeaderAndIsr with the new replica assignment of %s-%d",
				  c->id, t->asg.name, p);
		controller_send_batch(c, &b);
		return KERR_NONE;
	}
	int n_target;
	int32_t *target = target_of(ra, &n_target);
	struct ctl_replica_assignment done = { .replicas = ids_dup(target, n_target), .n = n_target };
	char trs[256];
	format_ids(trs, sizeof trs, target, n_target);
	log_info("Controller %d: target replicas [%s] of %s-%d are all in the ISR; completing the reassignment",
		 c->id, trs, t->asg.name, p);
	/* B2: RS = TRS in memory. */
	set_assignment(t, p, &done);
	/* B3 [moveReassignedPartitionLeaderIfRequired]. */
	int32_t leader = t->states[p].leader;
	bool moved;
	if (controller_ids_contain(target, n_target, leader) && controller_is_replica_online(c, leader))
		moved = controller_bump_leader_epoch(c, ti, p);
	else
		moved = controller_elect_reassigned_leader(c, ti, p, target, n_target);
	if (moved)
		for (int r = 0; r < n_target; r++)
			ctl_batch_leader_and_isr(&b, target[r], ti, p);
	else
		log_error("Controller %d: no leader for %s-%d among its target replicas [%s]", c->id, t->asg.name,
			  p, trs);
	/* B4, B5: the removed replicas leave the ISR and are deleted. */
	stop_removed(c, ti, p, ra->removing, ra->n_removing, &b);
	/* B6: RS = TRS in ZooKeeper. */
	if (!c->fenced && write_topic(c, t))
		log_info("Controller %d: reassignment of %s-%d to [%s] completed", c->id, t->asg.name, p, trs);
	/* B7 [removePartitionFromReassigningPartitions]. */
	if (!c->fenced) {
		struct tp_replicas w = { t->asg.name, p, target, n_target };
		remove_from_zk_reassignment(c, pred_same_partition, &w);
	}
	/* B8: every broker learns the new replicas and ISR. */
	ctl_batch_update_metadata(&b, ti, p);
	controller_send_batch(c, &b);
	free(target);
	ctl_replica_assignment_free(&done);
	return KERR_NONE;
}

/* The controller's index of topic/partition, or -1. */
static int find_partition(struct controller *c, const char *topic, int32_t p)
{
	int ti = controller_find_topic(c, topic);
	if (ti < 0 || p < 0 || p >= c->topics[ti].asg.n_partitions)
		return -1;
	return ti;
}

/* [maybeTriggerPartitionReassignment] for one partition. */
static int16_t trigger(struct controller *c, const char *topic, int32_t p, const struct ctl_replica_assignment *ra)
{
	int ti = find_partition(c, topic, p);
	if (ti < 0 || c->topics[ti].asg.n_replicas[p] == 0)
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	return on_partition_reassignment(c, ti, p, ra);
}

/* Resumes reassignments in progress [maybeResumeReassignments]; `born` limits them to those
 * whose targets include a started broker (all when NULL). */
static void resume_reassignments(struct controller *c, const int32_t *born, int n_born)
{
	for (int ti = 0; ti < c->n_topics && !c->fenced; ti++) {
		struct ctl_topic *t = &c->topics[ti];
		for (int p = 0; p < t->asg.n_partitions && !c->fenced; p++) {
			if (!is_being_reassigned(t, p))
				continue;
			struct ctl_replica_assignment cur;
			current_assignment(t, p, &cur);
			bool go = !born;
			if (born) {
				int n_target;
				int32_t *target = target_of(&cur, &n_target);
				for (int i = 0; i < n_born; i++)
					go |= controller_ids_contain(target, n_target, born[i]);
				free(target);
			}
			if (go) {
				log_info("Controller %d: resuming the reassignment of %s-%d", c->id, t->asg.name, p);
				on_partition_reassignment(c, ti, p, &cur);
			}
			ctl_replica_assignment_free(&cur);
		}
	}
}

void controller_reassignments_on_broker_startup(struct controller *c, const int32_t *born, int n)
{
	resume_reassignments(c, born, n);
}

void controller_maybe_complete_reassignment(struct controller *c, int ti, int p)
{
	struct ctl_topic *t = &c->topics[ti];
	if (c->fenced || !is_being_reassigned(t, p) || !is_complete(c, ti, p))
		return;
	struct ctl_replica_assignment cur;
	current_assignment(t, p, &cur);
	on_partition_reassignment(c, ti, p, &cur);
	ctl_replica_assignment_free(&cur);
}

/* Empty, duplicate or negative ids [validateReplicas, without the liveness check]. */
static const char *bad_replica_list(const int32_t *ids, int n)
{
	if (n <= 0)
		return "Empty replica list specified in partition reassignment.";
	for (int i = 0; i < n; i++) {
		if (ids[i] < 0)
			return "Invalid broker id in replica list.";
		for (int j = 0; j < i; j++)
			if (ids[i] == ids[j])
				return "Duplicate replica ids in partition reassignment replica list.";
	}
	return NULL;
}

/*
 * [processZkPartitionReassignment]: every partition listed in
 * /admin/reassign_partitions is reassigned; those that fail leave the znode.
 * A partition already being reassigned to the same target is left alone (the
 * znode changes as partitions complete; Kafka reacts only to its creation).
 */
void controller_process_reassign_znode(struct controller *c)
{
	if (!c->is_active || c->fenced)
		return;
	struct reassign_request *reqs = NULL;
	int n = 0;
	if (topic_zk_get_reassign_requests(c->zk, on_reassign_watch, c, &reqs, &n) != ZOK)
		return;
	struct tp_list failed = { xcalloc((size_t)(n ? n : 1), sizeof *failed.v), 0 };
	for (int i = 0; i < n && !c->fenced; i++) {
		struct reassign_request *r = &reqs[i];
		int ti = find_partition(c, r->topic, r->partition);
		int16_t err = KERR_NONE;
		const char *bad = bad_replica_list(r->replicas, r->n_replicas);
		if (ti < 0) {
			err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		} else if (bad) {
			err = KERR_INVALID_REPLICA_ASSIGNMENT;
		} else {
			struct ctl_topic *t = &c->topics[ti];
			struct ctl_replica_assignment cur, next;
			current_assignment(t, r->partition, &cur);
			int n_target;
			int32_t *target = target_of(&cur, &n_target);
			bool same = is_being_reassigned(t, r->partition) &&
				    ids_equal(target, n_target, r->replicas, r->n_replicas);
			free(target);
			if (!same) {
				log_info("Controller %d: reassignment of %s-%d requested through ZooKeeper", c->id,
					 r->topic, r->partition);
				controller_reassign_to(&cur, r->replicas, r->n_replicas, &next);
				err = trigger(c, r->topic, r->partition, &next);
				ctl_replica_assignment_free(&next);
			}
			ctl_replica_assignment_free(&cur);
		}
		if (err != KERR_NONE) {
			log_warn("Controller %d: failed reassignment of %s-%d through ZooKeeper: error %d", c->id,
				 r->topic, r->partition, err);
			failed.v[failed.n++] = (struct tp_replicas){ r->topic, r->partition, NULL, 0 };
		}
	}
	if (failed.n > 0 && !c->fenced)
		remove_from_zk_reassignment(c, pred_in_list, &failed);
	free(failed.v);
	reassign_requests_free(reqs, n);
}

/* [processApiPartitionReassignment]. */
void controller_do_alter_reassignments(struct controller *c, struct ctl_reassign_item *items, int n,
				       controller_reassign_fn cb, void *arg)
{
	if (!c->is_active || c->fenced) {
		cb(arg, KERR_NOT_CONTROLLER, items, n);
		return;
	}
	struct ctl_replica_assignment *plan = xcalloc((size_t)(n ? n : 1), sizeof *plan);
	bool *go = xcalloc((size_t)(n ? n : 1), sizeof *go);
	struct tp_list api = { xcalloc((size_t)(n ? n : 1), sizeof *api.v), 0 };
	for (int i = 0; i < n; i++) {
		struct ctl_reassign_item *it = &items[i];
		it->error = KERR_NONE;
		it->message = NULL;
		int ti = find_partition(c, it->topic, it->partition);
		struct ctl_replica_assignment cur = { 0 };
		if (ti >= 0)
			current_assignment(&c->topics[ti], it->partition, &cur);
		else
			cur.replicas = xcalloc(1, sizeof *cur.replicas);
		bool cancel = it->n_replicas < 0 || !it->replicas;
		if (!cancel) {
			/* [validateReplicas]: a sane list whose new replicas are live brokers. */
			const char *bad = bad_replica_list(it->replicas, it->n_replicas);
			if (!bad) {
				struct ctl_replica_assignment probe;
				controller_reassign_to(&cur, it->replicas, it->n_replicas, &probe);
				for (int k = 0; k < probe.n_adding && !bad; k++)
					if (!controller_is_replica_online(c, probe.adding[k]))
						bad = "Replica assignment has brokers that are not alive.";
				ctl_replica_assignment_free(&probe);
			}
			if (bad) {
				it->error = KERR_INVALID_REPLICA_ASSIGNMENT;
				it->message = bad;
				ctl_replica_assignment_free(&cur);
				continue;
			}
		}
		/* [maybeBuildReassignment]: a cancel reverts to the original replicas. */
		bool reassigning = ti >= 0 && is_being_reassigned(&c->topics[ti], it->partition);
		if (reassigning) {
			int n_origin;
			int32_t *origin = origin_of(&cur, &n_origin);
			if (cancel)
				controller_reassign_to(&cur, origin, n_origin, &plan[i]);
			else
				controller_reassign_to(&cur, it->replicas, it->n_replicas, &plan[i]);
			free(origin);
		} else if (!cancel) {
			controller_reassign_to(&cur, it->replicas, it->n_replicas, &plan[i]);
		} else {
			it->error = KERR_NO_REASSIGNMENT_IN_PROGRESS;
			it->message = "No reassignment in progress";
			ctl_replica_assignment_free(&cur);
			continue;
		}
		ctl_replica_assignment_free(&cur);
		go[i] = true;
		api.v[api.n++] = (struct tp_replicas){ it->topic, it->partition, NULL, 0 };
	}
	/* The latest reassignment wins: those partitions leave a ZooKeeper-triggered one. */
	if (api.n > 0)
		remove_from_zk_reassignment(c, pred_in_list, &api);
	for (int i = 0; i < n; i++) {
		if (!go[i])
			continue;
		if (c->fenced) {
			items[i].error = KERR_NOT_CONTROLLER;
		} else {
			log_info("Controller %d: %s of %s-%d requested by AlterPartitionReassignments", c->id,
				 items[i].n_replicas < 0 ? "cancellation of the reassignment" : "reassignment", items[i].topic,
				 items[i].partition);
			items[i].error = trigger(c, items[i].topic, items[i].partition, &plan[i]);
			if (items[i].error == KERR_UNKNOWN_TOPIC_OR_PARTITION)
				items[i].message = "The partition does not exist.";
		}
	}
	for (int i = 0; i < n; i++)
		ctl_replica_assignment_free(&plan[i]);
	free(plan);
	free(go);
	free(api.v);
	cb(arg, KERR_NONE, items, n);
}

static void list_push(struct ctl_reassignment **v, int *n, int *cap, struct ctl_topic *t, int p)
{
	const struct partition_reassignment *ra = controller_reassignment_of(t, p);
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = xrealloc(*v, sizeof **v * (size_t)*cap);
	}
	(*v)[(*n)++] = (struct ctl_reassignment){
		.topic = t->asg.name,
		.partition = p,
		.replicas = t->asg.replicas[p],
		.n_replicas = t->asg.n_replicas[p],
		.adding = ra->adding,
		.n_adding = ra->n_adding,
		.removing = ra->removing,
		.n_removing = ra->n_removing,
	};
}

/* [processListPartitionReassignments]. */
void controller_do_list_reassignments(struct controller *c, const struct topic_partition_ref *filter, int n,
				      controller_list_reassign_fn cb, void *arg)
{
	if (!c->is_active || c->fenced) {
		cb(arg, KERR_NOT_CONTROLLER, NULL, 0);
		return;
	}
	struct ctl_reassignment *v = NULL;
	int nv = 0, cap = 0;
	if (n < 0) {
		for (int ti = 0; ti < c->n_topics; ti++)
			for (int p = 0; p < c->topics[ti].asg.n_partitions; p++)
				if (is_being_reassigned(&c->topics[ti], p))
					list_push(&v, &nv, &cap, &c->topics[ti], p);
	} else {
		for (int i = 0; i < n; i++) {
			int ti = find_partition(c, filter[i].topic, filter[i].partition);
			if (ti >= 0 && is_being_reassigned(&c->topics[ti], filter[i].partition))
				list_push(&v, &nv, &cap, &c->topics[ti], filter[i].partition);
		}
	}
	cb(arg, KERR_NONE, v, nv);
	free(v);
}

/* One partition of an ElectLeaders or ZooKeeper-triggered election [processReplicaLeaderElection]. */
static int16_t elect_one(struct controller *c, int8_t type, const char *topic, int32_t p, struct ctl_batch *b)
{
	int ti = find_partition(c, topic, p);
	if (ti < 0)
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	struct ctl_topic *t = &c->topics[ti];
	int32_t leader = t->has_state[p] ? t->states[p].leader : -1;
	if (type == 0) {
		if (t->asg.n_replicas[p] > 0 && leader == t->asg.replicas[p][0])
			return KERR_ELECTION_NOT_NEEDED;
		return controller_elect_preferred(c, ti, p, b);
	}
	if (type == 1) {
		if (leader >= 0 && controller_is_live(c, leader))
			return KERR_ELECTION_NOT_NEEDED;
		return controller_elect_offline(c, ti, p, true, b);
	}
	return KERR_INVALID_REQUEST;
}

void controller_do_elect_leaders(struct controller *c, int8_t type, struct ctl_election_item *items, int n,
				 controller_elect_fn cb, void *arg)
{
	if (!c->is_active || c->fenced) {
		cb(arg, KERR_NOT_CONTROLLER, items, n < 0 ? 0 : n);
		return;
	}
	struct ctl_election_item *all = NULL;
	if (n < 0) {
		/* Every partition the controller knows [KafkaApis: metadataCache.getAllPartitions]. */
		int total = 0;
		for (int ti = 0; ti < c->n_topics; ti++)
			total += c->topics[ti].asg.n_partitions;
		all = xcalloc((size_t)(total ? total : 1), sizeof *all);
		n = 0;
		for (int ti = 0; ti < c->n_topics; ti++)
			for (int p = 0; p < c->topics[ti].asg.n_partitions; p++)
				all[n++] = (struct ctl_election_item){ .topic = c->topics[ti].asg.name, .partition = p };
		items = all;
	}
	log_info("Controller %d: %s leader election for %d partitions requested by ElectLeaders", c->id,
		 type == 0 ? "preferred" : type == 1 ? "unclean" : "unknown", n);
	struct ctl_batch b;
	ctl_batch_init(&b);
	for (int i = 0; i < n; i++) {
		items[i].message = NULL;
		items[i].error = c->fenced ? KERR_NOT_CONTROLLER : elect_one(c, type, items[i].topic, items[i].partition, &b);
		if (items[i].error == KERR_UNKNOWN_TOPIC_OR_PARTITION)
			items[i].message = "The partition does not exist.";
		else if (items[i].error == KERR_PREFERRED_LEADER_NOT_AVAILABLE)
			items[i].message = "Failed to elect leader for partition under strategy PreferredReplicaPartitionLeaderElectionStrategy";
		else if (items[i].error == KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE)
			items[i].message = "Failed to elect leader for partition under strategy OfflinePartitionLeaderElectionStrategy";
	}
	controller_send_batch(c, &b);
	cb(arg, KERR_NONE, items, n);
	free(all);
}

/*
 * /admin/preferred_replica_election [PreferredReplicaElectionHandler,
 * processReplicaLeaderElection ZkTriggered]: elect the preferred replicas of
 * the listed partitions, then delete the znode.
 */
void controller_process_preferred_znode(struct controller *c)
{
	if (!c->is_active || c->fenced)
		return;
	struct topic_partition_ref *refs = NULL;
	int n = 0;
	if (topic_zk_get_preferred_elections(c->zk, on_preferred_watch, c, &refs, &n) != ZOK)
		return;
	log_info("Controller %d: preferred replica election for %d partitions requested through ZooKeeper",
		 c->id, n);
	struct ctl_batch b;
	ctl_batch_init(&b);
	for (int i = 0; i < n && !c->fenced; i++) {
		int16_t err = elect_one(c, 0, refs[i].topic, refs[i].partition, &b);
		if (err == KERR_UNKNOWN_TOPIC_OR_PARTITION)
			log_info("Controller %d: skipping preferred replica election for %s-%d: it does not exist",
				 c->id, refs[i].topic, refs[i].partition);
		else if (err != KERR_NONE && err != KERR_ELECTION_NOT_NEEDED)
			log_warn("Controller %d: partition %s-%d failed to complete preferred replica leader election",
				 c->id, refs[i].topic, refs[i].partition);
	}
	controller_send_batch(c, &b);
	topic_partition_refs_free(refs, n);
	if (c->fenced)
		return;
	int rc = topic_zk_delete_preferred_elections(c->zk, c->epoch_zk_version);
	if (rc == TOPIC_ZK_CONTROLLER_MOVED) {
		c->fenced = true;
		controller_post(c, EV_ELECT);
	} else if (rc != ZOK) {
		log_error("Controller %d: cannot delete /admin/preferred_replica_election: %s", c->id, zerror(rc));
	}
}

/*
 * [checkAndTriggerAutoLeaderRebalance]: for each broker, the share of the
 * partitions it is preferred for that it does not lead; above
 * leader.imbalance.per.broker.percentage, those whose preferred replica is
 * online and in the ISR get it back as leader.
 */
void controller_check_auto_rebalance(struct controller *c)
{
	if (!c->is_active || c->fenced)
		return;
	int32_t *brokers = NULL;
	int nb = 0, cap = 0;
	for (int ti = 0; ti < c->n_topics; ti++) {
		const struct ctl_topic *t = &c->topics[ti];
		for (int p = 0; p < t->asg.n_partitions; p++) {
			if (t->asg.n_replicas[p] == 0 || controller_ids_contain(brokers, nb, t->asg.replicas[p][0]))
				continue;
			if (nb == cap) {
				cap = cap ? cap * 2 : 8;
				brokers = xrealloc(brokers, sizeof *brokers * (size_t)cap);
			}
			brokers[nb++] = t->asg.replicas[p][0];
		}
	}
	struct ctl_batch b;
	ctl_batch_init(&b);
	double limit = c->cfg.leader_imbalance_per_broker_percentage / 100.0;
	for (int i = 0; i < nb && !c->fenced; i++) {
		int32_t id = brokers[i];
		int total = 0, off = 0;
		for (int ti = 0; ti < c->n_topics; ti++) {
			const struct ctl_topic *t = &c->topics[ti];
			for (int p = 0; p < t->asg.n_partitions; p++) {
				if (t->asg.n_replicas[p] == 0 || t->asg.replicas[p][0] != id)
					continue;
				total++;
				off += t->has_state[p] && t->states[p].leader != id;
			}
		}
		double ratio = total ? (double)off / total : 0;
		if (ratio <= limit)
			continue;
		log_info("Controller %d: leader imbalance ratio for broker %d is %.3f; moving leaderships back to it",
			 c->id, id, ratio);
		for (int ti = 0; ti < c->n_topics && !c->fenced; ti++) {
			struct ctl_topic *t = &c->topics[ti];
			for (int p = 0; p < t->asg.n_partitions && !c->fenced; p++) {
				if (t->asg.n_replicas[p] == 0 || t->asg.replicas[p][0] != id || !t->has_state[p] ||
				    t->states[p].leader == id)
					continue;
				/* [canPreferredReplicaBeLeader]. */
				if (!controller_is_replica_online(c, id) ||
				    !controller_ids_contain(t->states[p].isr, t->states[p].n_isr, id))
					continue;
				controller_elect_preferred(c, ti, p, &b);
			}
		}
	}
	controller_send_batch(c, &b);
	free(brokers);
}

/* [onControllerFailover]: the admin znodes' watches, resumed work, the rebalance schedule. */
void controller_init_reassignments(struct controller *c)
{
	if (c->fenced)
		return;
	/* [initializePartitionReassignments]: API and ZooKeeper reassignments in the topic znodes go on... */
	resume_reassignments(c, NULL, 0);
	/* ...and those requested through ZooKeeper meanwhile start. */
	controller_process_reassign_znode(c);
	/* [fetchPendingPreferredReplicaElections]. */
	controller_process_preferred_znode(c);
	if (c->cfg.auto_leader_rebalance_enable)
		c->next_rebalance_ms = controller_now_ms() + FIRST_REBALANCE_DELAY_MS;
}
