/*
 * ListOffsets [Kafka's KafkaApis.handleListOffsetRequest]: the earliest or
 * latest offset of a partition, the record with the largest timestamp, or the
 * first offset whose timestamp is at or after the one asked, found through
 * the time index.  Consumers never see past the high watermark.
 */
#include <string.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "samsa/util/log.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct list_offsets_response_list_offsets_partition_response part_resp;

#define CONSUMER_REPLICA_ID (-1)

static void list_one(struct request *req, struct kstr topic, const struct list_offsets_request_list_offsets_partition *lp,
		     part_resp *pr)
{
	struct broker *b = req->broker;
	const struct list_offsets_request *lq = req->body;
	int16_t version = req->header.api_version;
	pr->timestamp = -1;
	pr->offset = -1;
	pr->leader_epoch = -1;

	struct partition_lease ll;
	int32_t epoch = version >= 4 ? lp->current_leader_epoch : -1;
	pr->error_code = replica_manager_lease_leader(b->replicas, topic.ptr, (size_t)topic.len, lp->partition_index,
						    epoch, &ll);
	if (pr->error_code != KERR_NONE)
		return;
	bool consumer = lq->replica_id == CONSUMER_REPLICA_ID;
	/* Without transactions the last stable offset is the high watermark. */
	int64_t fetchable = consumer ? log_high_watermark(ll.log) : log_end_offset(ll.log);
	struct log_timestamp_offset to;
	int16_t err = (int16_t)log_offset_for_timestamp(ll.log, lp->timestamp, &to);
	if (err != KERR_NONE) {
		pr->error_code = err;
	} else if (lp->timestamp == LOG_TIMESTAMP_LATEST) {
		pr->offset = fetchable;
		pr->leader_epoch = to.leader_epoch;
	} else if (lp->timestamp < 0 && lp->timestamp != LOG_TIMESTAMP_EARLIEST &&
		   lp->timestamp != LOG_TIMESTAMP_MAX && lp->timestamp != LOG_TIMESTAMP_EARLIEST_LOCAL) {
		pr->error_code = KERR_INVALID_REQUEST;
	} else if (to.offset >= 0 && (lp->timestamp == LOG_TIMESTAMP_EARLIEST ||
				      lp->timestamp == LOG_TIMESTAMP_EARLIEST_LOCAL || to.offset < fetchable)) {
		pr->offset = to.offset;
		pr->timestamp = to.timestamp;
		pr->leader_epoch = to.leader_epoch;
	}
	if (version == 0 && pr->error_code == KERR_NONE) {
		/* v0 answers with a list of offsets; one is all we keep per answer. */
		pr->old_style_offsets = arena_alloc(&req->arena, sizeof *pr->old_style_offsets);
		pr->old_style_offsets_count = 0;
		if (pr->offset >= 0 && lp->max_num_offsets > 0)
			pr->old_style_offsets[pr->old_style_offsets_count++] = pr->offset;
	}
	replica_manager_lease_release(&ll);
}

void handle_list_offsets(struct request *req)
{
	const struct list_offsets_request *lq = req->body;
	struct list_offsets_response resp;
	list_offsets_response_init(&resp);
	int nt = lq->topics_count > 0 ? lq->topics_count : 0;
	resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(nt ? nt : 1));
	resp.topics_count = nt;
	for (int i = 0; i < nt; i++) {
		const struct list_offsets_request_list_offsets_topic *lt = &lq->topics[i];
		struct list_offsets_response_list_offsets_topic_response *tr = &resp.topics[i];
		list_offsets_response_list_offsets_topic_response_init(tr);
		tr->name = lt->name;
		int np = lt->partitions_count > 0 ? lt->partitions_count : 0;
		tr->partitions = arena_alloc(&req->arena, sizeof *tr->partitions * (size_t)(np ? np : 1));
		tr->partitions_count = np;
		bool may = !lt->name.ptr ||
			   request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TOPIC, lt->name.ptr, (size_t)lt->name.len);
		for (int j = 0; j < np; j++) {
			part_resp *pr = &tr->partitions[j];
			list_offsets_response_list_offsets_partition_response_init(pr);
			pr->partition_index = lt->partitions[j].partition_index;
			/* A partition named twice is ambiguous (Kafka answers INVALID_REQUEST from v1). */
			bool dup = false;
			for (int k = 0; k < j && req->header.api_version >= 1; k++)
				if (lt->partitions[k].partition_index == pr->partition_index)
					dup = true;
			if (!may)
				pr->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
			else if (dup || !lt->name.ptr)
				pr->error_code = KERR_INVALID_REQUEST;
			else
				list_one(req, lt->name, &lt->partitions[j], pr);
		}
	}
	request_respond(req, &resp);
}
