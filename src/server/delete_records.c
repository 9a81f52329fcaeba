/*
 * DeleteRecords [Kafka's ReplicaManager.deleteRecords]: move a partition's log
 * start offset forward; whole segments below it go at the next retention
 * pass.  An offset of -1 means "up to the high watermark".
 */
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "samsa/util/log.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct delete_records_response_delete_records_partition_result part_result;

static void delete_one(struct request *req, struct kstr topic, int32_t partition, int64_t offset, part_result *pr)
{
	struct partition_lease ll;
	pr->low_watermark = -1;
	pr->error_code = replica_manager_lease_leader(req->broker->replicas, topic.ptr, (size_t)topic.len, partition, -1,
						    &ll);
	if (pr->error_code != KERR_NONE)
		return;
	if (offset == -1)
		offset = log_high_watermark(ll.log);
	if (offset < 0) {
		pr->error_code = KERR_OFFSET_OUT_OF_RANGE;
	} else {
		int64_t low = -1;
		pr->error_code = (int16_t)log_delete_records(ll.log, offset, &low);
		pr->low_watermark = pr->error_code == KERR_NONE ? low : -1;
		if (pr->error_code == KERR_NONE)
			log_info("Log start offset of %.*s-%d moved to %lld by DeleteRecords from %s", topic.len,
				 topic.ptr, partition, (long long)low, req->info.peer);
	}
	replica_manager_lease_release(&ll);
}

void handle_delete_records(struct request *req)
{
	const struct delete_records_request *dq = req->body;
	struct delete_records_response resp;
	delete_records_response_init(&resp);
	int nt = dq->topics_count > 0 ? dq->topics_count : 0;
	resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(nt ? nt : 1));
	resp.topics_count = nt;
	for (int i = 0; i < nt; i++) {
		const struct delete_records_request_delete_records_topic *dt = &dq->topics[i];
		struct delete_records_response_delete_records_topic_result *tr = &resp.topics[i];
		delete_records_response_delete_records_topic_result_init(tr);
		tr->name = dt->name;
		int np = dt->partitions_count > 0 ? dt->partitions_count : 0;
		tr->partitions = arena_alloc(&req->arena, sizeof *tr->partitions * (size_t)(np ? np : 1));
		tr->partitions_count = np;
		bool may = !dt->name.ptr ||
			   request_authorize(req, ACL_OP_DELETE, ACL_RESOURCE_TOPIC, dt->name.ptr, (size_t)dt->name.len);
		for (int j = 0; j < np; j++) {
			part_result *pr = &tr->partitions[j];
			delete_records_response_delete_records_partition_result_init(pr);
			pr->partition_index = dt->partitions[j].partition_index;
			if (!may)
				pr->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
			else if (!dt->name.ptr)
				pr->error_code = KERR_INVALID_TOPIC_EXCEPTION;
			else
				delete_one(req, dt->name, pr->partition_index, dt->partitions[j].offset, pr);
		}
	}
	request_respond(req, &resp);
}
