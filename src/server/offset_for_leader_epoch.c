/*
 * OffsetForLeaderEpoch [Kafka's KafkaApis.handleOffsetForLeaderEpochRequest]:
 * for each partition we lead, the largest epoch at or below the one asked
 * for and the offset where it ends (the next epoch's start, or our log end
 * for the latest) — how a follower (KIP-101/279) or a consumer after a
 * leader change (KIP-320) finds where logs diverged.  Unknown epochs answer
 * -1/-1, as Kafka does.
 */
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

void handle_offset_for_leader_epoch(struct request *req)
{
	const struct offset_for_leader_epoch_request *oq = req->body;
	struct broker *b = req->broker;
	int16_t version = req->header.api_version;
	struct offset_for_leader_epoch_response resp;
	offset_for_leader_epoch_response_init(&resp);
	int nt = oq->topics_count > 0 ? oq->topics_count : 0;
	resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(nt ? nt : 1));
	resp.topics_count = nt;
	/* Kafka: ClusterAction (a follower) lets every topic through, else Describe per topic. */
	bool cluster = request_authorize_quiet(req, ACL_OP_CLUSTER_ACTION, ACL_RESOURCE_CLUSTER, NULL, 0);
	for (int i = 0; i < nt; i++) {
		const struct offset_for_leader_epoch_request_offset_for_leader_topic *t = &oq->topics[i];
		struct offset_for_leader_epoch_response_offset_for_leader_topic_result *rt = &resp.topics[i];
		offset_for_leader_epoch_response_offset_for_leader_topic_result_init(rt);
		rt->topic = t->topic;
		int np = t->partitions_count > 0 ? t->partitions_count : 0;
		rt->partitions = arena_alloc(&req->arena, sizeof *rt->partitions * (size_t)(np ? np : 1));
		rt->partitions_count = np;
		bool may = cluster || !t->topic.ptr ||
			   request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TOPIC, t->topic.ptr, (size_t)t->topic.len);
		for (int j = 0; j < np; j++) {
			const struct offset_for_leader_epoch_request_offset_for_leader_partition *p = &t->partitions[j];
			struct offset_for_leader_epoch_response_epoch_end_offset *r = &rt->partitions[j];
			offset_for_leader_epoch_response_epoch_end_offset_init(r);
			r->partition = p->partition;
			r->leader_epoch = -1;
			r->end_offset = -1;
			struct partition_lease ll;
			if (!may) {
				r->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			r->error_code = t->topic.ptr ? replica_manager_lease_leader(b->replicas, t->topic.ptr, (size_t)t->topic.len,
										  p->partition,
										  version >= 2 ? p->current_leader_epoch : -1, &ll)
						     : KERR_UNKNOWN_TOPIC_OR_PARTITION;
			if (r->error_code != KERR_NONE)
				continue;
			int32_t epoch;
			int64_t end;
			log_end_offset_for_epoch(ll.log, p->leader_epoch, &epoch, &end);
			r->leader_epoch = epoch;
			r->end_offset = end;
			replica_manager_lease_release(&ll);
		}
	}
	request_respond(req, &resp);
}
