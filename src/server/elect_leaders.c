/*
 * ElectLeaders [Kafka's KafkaApis.handleElectLeaders in ZooKeeper mode]:
 * preferred (0) or unclean (1) leader election by the active controller
 * (src/controller/reassign.c); another broker answers NOT_CONTROLLER for
 * each partition.  v0 carries no election type: preferred.  A request for
 * every partition (null topic_partitions) lists only the partitions that
 * needed an election.
 */
#include <string.h>

#include "samsa/controller.h"
#include "samsa/proto.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

/* Runs on the controller thread (or at once when this broker cannot answer). */
static void on_elected(void *arg, int16_t error, const struct ctl_election_item *items, int n)
{
	struct request *req = arg;
	const struct elect_leaders_request *er = req->body;
	bool all = er->topic_partitions_count < 0;
	struct elect_leaders_response resp;
	elect_leaders_response_init(&resp);
	if (error == KERR_CLUSTER_AUTHORIZATION_FAILED)
		resp.error_code = error;
	resp.replica_election_results = arena_alloc(&req->arena, sizeof *resp.replica_election_results * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		int16_t e = error != KERR_NONE ? error : items[i].error;
		if (all && e == KERR_ELECTION_NOT_NEEDED)
			continue;
		size_t len = strlen(items[i].topic);
		struct elect_leaders_response_replica_election_result *tr = NULL;
		for (int32_t j = 0; j < resp.replica_election_results_count && !tr; j++)
			if ((size_t)resp.replica_election_results[j].topic.len == len &&
			    memcmp(resp.replica_election_results[j].topic.ptr, items[i].topic, len) == 0)
				tr = &resp.replica_election_results[j];
		if (!tr) {
			tr = &resp.replica_election_results[resp.replica_election_results_count++];
			elect_leaders_response_replica_election_result_init(tr);
			tr->topic = kstr_c(arena_strndup(&req->arena, items[i].topic, len));
			tr->partition_result = arena_alloc(&req->arena, sizeof *tr->partition_result * (size_t)n);
		}
		struct elect_leaders_response_partition_result *pr = &tr->partition_result[tr->partition_result_count++];
		elect_leaders_response_partition_result_init(pr);
		pr->partition_id = items[i].partition;
		pr->error_code = e;
		const char *msg = error != KERR_NONE ? NULL : items[i].message;
		pr->error_message = msg ? kstr_c(arena_strndup(&req->arena, msg, strlen(msg))) : (struct kstr){ NULL, -1 };
	}
	request_respond(req, &resp);
}

void handle_elect_leaders(struct request *req)
{
	const struct elect_leaders_request *er = req->body;
	struct broker *b = req->broker;
	struct controller *c = __atomic_load_n(&b->controller, __ATOMIC_ACQUIRE);
	int8_t type = req->header.api_version >= 1 ? er->election_type : 0;
	struct ctl_election_item *items = NULL;
	int n = -1;
	if (er->topic_partitions_count >= 0) {
		n = 0;
		for (int32_t i = 0; i < er->topic_partitions_count; i++)
			n += er->topic_partitions[i].partitions_count > 0 ? er->topic_partitions[i].partitions_count : 0;
		items = arena_alloc(&req->arena, sizeof *items * (size_t)(n ? n : 1));
		int k = 0;
		for (int32_t i = 0; i < er->topic_partitions_count; i++) {
			const struct elect_leaders_request_topic_partitions *t = &er->topic_partitions[i];
			const char *name = arena_strndup(&req->arena, t->topic.ptr ? t->topic.ptr : "",
							 t->topic.ptr ? (size_t)t->topic.len : 0);
			for (int32_t j = 0; j < t->partitions_count; j++)
				items[k++] = (struct ctl_election_item){ .topic = name, .partition = t->partitions[j] };
		}
	}
	if (!request_authorize(req, ACL_OP_ALTER, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		on_elected(req, KERR_CLUSTER_AUTHORIZATION_FAILED, items, n < 0 ? 0 : n);
		return;
	}
	if (!c || !controller_is_active(c)) {
		on_elected(req, KERR_NOT_CONTROLLER, items, n < 0 ? 0 : n);
		return;
	}
	controller_elect_leaders(c, type, items, n, on_elected, req);
}
