/*
 * LeaderAndIsr: the controller tells this broker which partitions it leads or
 * follows.  Fenced by controller epoch (whole request) and broker epoch, then
 * per partition by leader epoch in the replica manager.
 */
#include <string.h>

#include "samsa/proto.h"
#include "samsa/replica.h"
#include "samsa/util/log.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct leader_and_isr_request_leader_and_isr_partition_state pstate;
typedef struct leader_and_isr_response_leader_and_isr_partition_error perror_t;

static int16_t apply_one(struct broker *b, struct kstr topic, const uint8_t *topic_id, const pstate *ps)
{
	struct partition_update u = {
		.index = ps->partition_index,
		.controller_epoch = ps->controller_epoch,
		.leader = ps->leader,
		.leader_epoch = ps->leader_epoch,
		.partition_epoch = ps->partition_epoch,
		.isr = ps->isr,
		.n_isr = ps->isr_count > 0 ? ps->isr_count : 0,
		.replicas = ps->replicas,
		.n_replicas = ps->replicas_count > 0 ? ps->replicas_count : 0,
	};
	if (!topic.ptr)
		return KERR_INVALID_REQUEST;
	return replica_manager_apply(b->replicas, topic.ptr, (size_t)topic.len, topic_id, &u);
}

void handle_leader_and_isr(struct request *req)
{
	const struct leader_and_isr_request *lr = req->body;
	int16_t version = req->header.api_version;
	struct broker *b = req->broker;
	struct leader_and_isr_response resp;
	leader_and_isr_response_init(&resp);

	/* Only brokers (a principal with ClusterAction) may tell us what to lead. */
	if (!request_authorize(req, ACL_OP_CLUSTER_ACTION, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		resp.error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
		request_respond(req, &resp);
		return;
	}
	if (lr->broker_epoch != -1 && lr->broker_epoch < b->broker_epoch) {
		resp.error_code = KERR_STALE_BROKER_EPOCH;
		request_respond(req, &resp);
		return;
	}
	if (!replica_manager_accept_controller_epoch(b->replicas, lr->controller_epoch)) {
		log_warn("Ignoring LeaderAndIsr from controller %d with stale epoch %d", lr->controller_id,
			 lr->controller_epoch);
		resp.error_code = KERR_STALE_CONTROLLER_EPOCH;
		request_respond(req, &resp);
		return;
	}

	if (version <= 1) {
		int n = lr->ungrouped_partition_states_count > 0 ? lr->ungrouped_partition_states_count : 0;
		resp.partition_errors = arena_alloc(&req->arena, sizeof *resp.partition_errors * (size_t)(n ? n : 1));
		resp.partition_errors_count = n;
		for (int i = 0; i < n; i++) {
			const pstate *ps = &lr->ungrouped_partition_states[i];
			perror_t *e = &resp.partition_errors[i];
			leader_and_isr_response_leader_and_isr_partition_error_init(e);
			e->topic_name = ps->topic_name;
			e->partition_index = ps->partition_index;
			e->error_code = apply_one(b, ps->topic_name, NULL, ps);
		}
		request_respond(req, &resp);
		return;
	}

	int nt = lr->topic_states_count > 0 ? lr->topic_states_count : 0;
	if (version <= 4) {
		int total = 0;
		for (int i = 0; i < nt; i++)
			total += lr->topic_states[i].partition_states_count > 0 ? lr->topic_states[i].partition_states_count : 0;
		resp.partition_errors = arena_alloc(&req->arena, sizeof *resp.partition_errors * (size_t)(total ? total : 1));
		for (int i = 0; i < nt; i++) {
			const struct leader_and_isr_request_leader_and_isr_topic_state *ts = &lr->topic_states[i];
			for (int j = 0; j < ts->partition_states_count; j++) {
				perror_t *e = &resp.partition_errors[resp.partition_errors_count++];
				leader_and_isr_response_leader_and_isr_partition_error_init(e);
				e->topic_name = ts->topic_name;
				e->partition_index = ts->partition_states[j].partition_index;
				e->error_code = apply_one(b, ts->topic_name, NULL, &ts->partition_states[j]);
			}
		}
		request_respond(req, &resp);
		return;
	}
	/* v5+: answers are grouped by topic id. */
	resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(nt ? nt : 1));
	resp.topics_count = nt;
	for (int i = 0; i < nt; i++) {
		const struct leader_and_isr_request_leader_and_isr_topic_state *ts = &lr->topic_states[i];
		struct leader_and_isr_response_leader_and_isr_topic_error *te = &resp.topics[i];
		leader_and_isr_response_leader_and_isr_topic_error_init(te);
		memcpy(te->topic_id, ts->topic_id, 16);
		int np = ts->partition_states_count > 0 ? ts->partition_states_count : 0;
		te->partition_errors = arena_alloc(&req->arena, sizeof *te->partition_errors * (size_t)(np ? np : 1));
		te->partition_errors_count = np;
		for (int j = 0; j < np; j++) {
			perror_t *e = &te->partition_errors[j];
			leader_and_isr_response_leader_and_isr_partition_error_init(e);
			e->partition_index = ts->partition_states[j].partition_index;
			e->error_code = apply_one(b, ts->topic_name, ts->topic_id, &ts->partition_states[j]);
		}
	}
	request_respond(req, &resp);
}
