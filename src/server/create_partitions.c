/*
 * CreatePartitions, the ZooKeeper-mode way [Kafka's AdminZkClient.addPartitions]:
 * extend the topic's assignment in /brokers/topics/<t>; the controller, which
 * watches that znode, brings the new partitions online.  New replicas continue
 * Kafka's placement where the existing partitions left off.  Runs on the admin
 * executor; answers once this broker's metadata shows the new count (or at the
 * request's timeout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/admin_util.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/replica_assignment.h"

typedef struct create_partitions_response_create_partitions_topic_result result_t;

#define fail(req, r, code, ...)                                        \
	do {                                                           \
		(r)->error_code = (code);                              \
		(r)->error_message = admin_message((req), __VA_ARGS__); \
	} while (0)

static bool grown(struct broker *b, const char *name, int n) { return admin_cached_partitions(b, name) >= n; }

/* Extends `asg` to `count` partitions; 0, or -1 with r's error set. */
static int extend(struct request *req, const struct create_partitions_request_create_partitions_topic *t,
		  const struct metadata_snapshot *s, struct topic_assignment *asg, result_t *r)
{
	int old = asg->n_partitions, add = t->count - old;
	int rf = old > 0 ? asg->n_replicas[0] : 1;
	asg->replicas = xrealloc(asg->replicas, sizeof *asg->replicas * (size_t)t->count);
	asg->n_replicas = xrealloc(asg->n_replicas, sizeof *asg->n_replicas * (size_t)t->count);
	for (int p = old; p < t->count; p++) {
		asg->replicas[p] = NULL;
		asg->n_replicas[p] = 0;
	}
	asg->n_partitions = t->count;
	if (t->assignments_count >= 0) {
		if (t->assignments_count != add) {
			fail(req, r, KERR_INVALID_REPLICA_ASSIGNMENT, "Increasing the number of partitions by %d but %d "
			     "assignments provided.", add, t->assignments_count);
			return -1;
		}
		for (int i = 0; i < add; i++) {
			const struct create_partitions_request_create_partitions_assignment *a = &t->assignments[i];
			if (a->broker_ids_count != rf) {
				fail(req, r, KERR_INVALID_REPLICA_ASSIGNMENT,
				     "Inconsistent replication factor between partitions, partition 0 has %d while "
				     "partition %d has replication factor %d", rf, old + i, a->broker_ids_count);
				return -1;
			}
			for (int j = 0; j < rf; j++) {
				if (!metadata_snapshot_broker(s, a->broker_ids[j])) {
					fail(req, r, KERR_INVALID_REPLICA_ASSIGNMENT, "Unknown broker(s) in replica assignment: %d",
					     a->broker_ids[j]);
					return -1;
				}
				for (int k = 0; k < j; k++)
					if (a->broker_ids[k] == a->broker_ids[j]) {
						fail(req, r, KERR_INVALID_REPLICA_ASSIGNMENT,
						     "Duplicate brokers not allowed in replica assignment");
						return -1;
					}
			}
			asg->replicas[old + i] = xmalloc(sizeof(int32_t) * (size_t)rf);
			memcpy(asg->replicas[old + i], a->broker_ids, sizeof(int32_t) * (size_t)rf);
			asg->n_replicas[old + i] = rf;
		}
		return 0;
	}
	if (rf > s->n_brokers) {
		fail(req, r, KERR_INVALID_REPLICATION_FACTOR, "Replication factor: %d larger than available brokers: %d.", rf,
		     s->n_brokers);
		return -1;
	}
	/* Kafka continues from where partition 0's first replica sits among the sorted brokers. */
	int start = 0;
	for (int i = 0; i < s->n_brokers; i++)
		if (old > 0 && s->brokers[i].id >= asg->replicas[0][0]) {
			start = i;
			break;
		}
	struct assignment_broker *live = arena_alloc(&req->arena, sizeof *live * (size_t)(s->n_brokers ? s->n_brokers : 1));
	for (int i = 0; i < s->n_brokers; i++)
		live[i] = (struct assignment_broker){ s->brokers[i].id, s->brokers[i].rack };
	for (int p = old; p < t->count; p++) {
		asg->replicas[p] = xmalloc(sizeof(int32_t) * (size_t)rf);
		asg->n_replicas[p] = rf;
	}
	if (replica_assignment(live, s->n_brokers, add, rf, old, start, start, asg->replicas + old) == ASSIGN_MIXED_RACKS) {
		fail(req, r, KERR_UNKNOWN_SERVER_ERROR, /* Kafka's AdminOperationException is not an ApiException */
		     "Not all brokers have rack information for replica rack aware assignment.");
		return -1;
	}
	return 0;
}

static void create_partitions_job(struct request *req)
{
	const struct create_partitions_request *cp = req->body;
	struct broker *b = req->broker;
	int64_t started = admin_now_ms();
	struct create_partitions_response resp;
	create_partitions_response_init(&resp);
	int n = cp->topics_count > 0 ? cp->topics_count : 0;
	resp.results = arena_alloc(&req->arena, sizeof *resp.results * (size_t)(n ? n : 1));
	resp.results_count = n;
	int *target = arena_alloc(&req->arena, sizeof(int) * (size_t)(n ? n : 1));
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	for (int i = 0; i < n; i++) {
		const struct create_partitions_request_create_partitions_topic *t = &cp->topics[i];
		result_t *r = &resp.results[i];
		create_partitions_response_create_partitions_topic_result_init(r);
		r->name = t->name;
		target[i] = -1;
		char *name = arena_strndup(&req->arena, t->name.ptr ? t->name.ptr : "", t->name.ptr ? (size_t)t->name.len : 0);
		if (!request_authorize(req, ACL_OP_ALTER, ACL_RESOURCE_TOPIC, name, strlen(name))) {
			fail(req, r, KERR_TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
			continue;
		}
		/* ZooKeeper decides, as in Kafka: a topic created a moment ago may not be in this
		 * broker's metadata yet (librdkafka's 0081_admin creates, then adds partitions). */
		struct topic_assignment asg;
		if (topic_zk_get_assignment(b->zk, name, &asg) != ZOK) {
			fail(req, r, KERR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '%s' does not exist.", name);
			continue;
		}
		if (topic_zk_marked_for_deletion(b->zk, name) == ZOK) {
			topic_assignment_free(&asg);
			fail(req, r, KERR_INVALID_TOPIC_EXCEPTION, "The topic %s is queued for deletion.", name);
			continue;
		}
		if (t->count <= asg.n_partitions) {
			fail(req, r, KERR_INVALID_PARTITIONS, "Topic currently has %d partitions, %d would not be an increase.",
			     asg.n_partitions, t->count);
		} else if (extend(req, t, s, &asg, r) == 0 && !cp->validate_only) {
			if (topic_zk_set_assignment(b->zk, &asg) != ZOK) {
				fail(req, r, KERR_UNKNOWN_SERVER_ERROR, "ZooKeeper error updating topic %s", name);
			} else {
				log_info("Topic %s grows to %d partitions", name, t->count);
				target[i] = t->count;
			}
		}
		topic_assignment_free(&asg);
	}
	metadata_snapshot_release(s);
	for (int i = 0; i < n; i++) {
		if (target[i] < 0)
			continue;
		const char *name = arena_strndup(&req->arena, cp->topics[i].name.ptr, (size_t)cp->topics[i].name.len);
		if (!admin_wait(b, name, target[i], started, cp->timeout_ms, grown))
			fail(req, &resp.results[i], KERR_REQUEST_TIMED_OUT, "Partitions of %s were added but did not reach "
			     "this broker's metadata within %d ms", name, cp->timeout_ms);
	}
	request_respond(req, &resp);
}

void handle_create_partitions(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, create_partitions_job);
}
