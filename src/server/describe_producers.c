/*
 * DescribeProducers [Kafka's ReplicaManager.activeProducerState]: the
 * producer state a partition leader keeps beside its log (epoch, last
 * sequence and timestamp, coordinator epoch, open transaction).
 */
#include <stdlib.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct describe_producers_response_partition_response part_resp;

static void describe_one(struct request *req, struct kstr topic, part_resp *pr)
{
	struct partition *part = replica_manager_partition(req->broker->replicas, topic.ptr, (size_t)topic.len,
							   pr->partition_index);
	if (!part) {
		pr->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		return;
	}
	struct log_producer_info *ps;
	size_t n;
	pr->error_code = partition_producers(part, &ps, &n);
	partition_unref(part);
	if (pr->error_code == KERR_NONE) {
		pr->active_producers = arena_alloc(&req->arena, sizeof *pr->active_producers * (n ? n : 1));
		for (size_t i = 0; i < n; i++) {
			struct describe_producers_response_producer_state *s = &pr->active_producers[i];
			describe_producers_response_producer_state_init(s);
			s->producer_id = ps[i].producer_id;
			s->producer_epoch = ps[i].producer_epoch;
			s->last_sequence = ps[i].last_sequence;
			s->last_timestamp = ps[i].last_timestamp;
			s->coordinator_epoch = ps[i].coordinator_epoch;
			s->current_txn_start_offset = ps[i].current_txn_start_offset;
		}
		pr->active_producers_count = (int32_t)n;
	}
	free(ps);
}

void handle_describe_producers(struct request *req)
{
	const struct describe_producers_request *dq = req->body;
	struct describe_producers_response resp;
	describe_producers_response_init(&resp);
	int nt = dq->topics_count > 0 ? dq->topics_count : 0;
	resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(nt ? nt : 1));
	resp.topics_count = nt;
	for (int i = 0; i < nt; i++) {
		const struct describe_producers_request_topic_request *t = &dq->topics[i];
		struct describe_producers_response_topic_response *tr = &resp.topics[i];
		describe_producers_response_topic_response_init(tr);
		tr->name = t->name;
		int np = t->partition_indexes_count > 0 ? t->partition_indexes_count : 0;
		/* [KafkaApis.handleDescribeProducersRequest]: READ on the topic. */
		bool may_read = !t->name.ptr ||
				request_authorize(req, ACL_OP_READ, ACL_RESOURCE_TOPIC, t->name.ptr, (size_t)t->name.len);
		tr->partitions = arena_alloc(&req->arena, sizeof *tr->partitions * (size_t)(np ? np : 1));
		tr->partitions_count = np;
		for (int j = 0; j < np; j++) {
			part_resp *pr = &tr->partitions[j];
			describe_producers_response_partition_response_init(pr);
			pr->partition_index = t->partition_indexes[j];
			if (!may_read)
				pr->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
			else if (!t->name.ptr)
				pr->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			else
				describe_one(req, t->name, pr);
		}
	}
	request_respond(req, &resp);
}
