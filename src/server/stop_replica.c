/*
 * StopReplica: the controller tells this broker to stop hosting partitions
 * (and, with delete, to remove them: topic deletion, reassignment).  Fenced by
 * controller and broker epoch, then per partition by leader epoch.
 */
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "samsa/util/log.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct stop_replica_response_stop_replica_partition_error perror_t;

static perror_t *add_error(struct request *req, struct stop_replica_response *resp, int cap, struct kstr topic,
			   int32_t partition)
{
	if (!resp->partition_errors)
		resp->partition_errors = arena_alloc(&req->arena, sizeof *resp->partition_errors * (size_t)(cap ? cap : 1));
	perror_t *e = &resp->partition_errors[resp->partition_errors_count++];
	stop_replica_response_stop_replica_partition_error_init(e);
	e->topic_name = topic;
	e->partition_index = partition;
	return e;
}

static int16_t stop_one(struct broker *b, struct kstr topic, int32_t partition, int32_t epoch, bool del)
{
	if (!topic.ptr)
		return KERR_INVALID_REQUEST;
	return replica_manager_stop(b->replicas, topic.ptr, (size_t)topic.len, partition, epoch, del);
}

void handle_stop_replica(struct request *req)
{
	const struct stop_replica_request *sr = req->body;
	int16_t version = req->header.api_version;
	struct broker *b = req->broker;
	struct stop_replica_response resp;
	stop_replica_response_init(&resp);
	if (!request_authorize(req, ACL_OP_CLUSTER_ACTION, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		resp.error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
		request_respond(req, &resp);
		return;
	}

	if (sr->broker_epoch != -1 && sr->broker_epoch < b->broker_epoch) {
		resp.error_code = KERR_STALE_BROKER_EPOCH;
		request_respond(req, &resp);
		return;
	}
	if (!replica_manager_accept_controller_epoch(b->replicas, sr->controller_epoch)) {
		resp.error_code = KERR_STALE_CONTROLLER_EPOCH;
		request_respond(req, &resp);
		return;
	}
	if (version == 0) {
		int n = sr->ungrouped_partitions_count > 0 ? sr->ungrouped_partitions_count : 0;
		for (int i = 0; i < n; i++) {
			const struct stop_replica_request_stop_replica_partition_v0 *p = &sr->ungrouped_partitions[i];
			add_error(req, &resp, n, p->topic_name, p->partition_index)->error_code =
				stop_one(b, p->topic_name, p->partition_index, -1, sr->delete_partitions);
		}
	} else if (version <= 2) {
		int cap = 0;
		for (int i = 0; i < sr->topics_count; i++)
			cap += sr->topics[i].partition_indexes_count > 0 ? sr->topics[i].partition_indexes_count : 0;
		for (int i = 0; i < sr->topics_count; i++) {
			const struct stop_replica_request_stop_replica_topic_v1 *t = &sr->topics[i];
			for (int j = 0; j < t->partition_indexes_count; j++)
				add_error(req, &resp, cap, t->name, t->partition_indexes[j])->error_code =
					stop_one(b, t->name, t->partition_indexes[j], -1, sr->delete_partitions);
		}
	} else {
		int cap = 0;
		for (int i = 0; i < sr->topic_states_count; i++)
			cap += sr->topic_states[i].partition_states_count > 0 ? sr->topic_states[i].partition_states_count : 0;
		for (int i = 0; i < sr->topic_states_count; i++) {
			const struct stop_replica_request_stop_replica_topic_state *t = &sr->topic_states[i];
			for (int j = 0; j < t->partition_states_count; j++) {
				const struct stop_replica_request_stop_replica_partition_state *p = &t->partition_states[j];
				add_error(req, &resp, cap, t->topic_name, p->partition_index)->error_code =
					stop_one(b, t->topic_name, p->partition_index, p->leader_epoch, p->delete_partition);
			}
		}
	}
	request_respond(req, &resp);
}
