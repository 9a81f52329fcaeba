/*
 * OffsetCommit v0 and OffsetFetch v0: classic consumer offsets kept in
 * ZooKeeper at /consumers/<group>/offsets/<topic>/<partition>, the offset as
 * decimal text, exactly where the old Scala consumer and its tools look.
 * (v1+ go to the group coordinator on __consumer_offsets, src/group/.)
 * Runs on the admin executor; the znodes themselves are zk/kafka_zk.c's.
 */
#include <stdbool.h>

#include "samsa/config.h"
#include "samsa/group.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

/* A group id becomes a path element: it must be one. */
static bool group_ok(struct kstr g)
{
	return g.ptr && g.len > 0 && kafka_zk_consumer_group_valid(g.ptr, (size_t)g.len);
}

static int16_t store(struct broker *b, struct kstr group, struct kstr topic, int32_t partition, int64_t offset)
{
	int rc = kafka_zk_set_consumer_offset(b->zk, group.ptr, (size_t)group.len, topic.ptr, (size_t)topic.len,
					      partition, offset);
	return rc == ZOK ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR;
}

static void offset_commit_v0_job(struct request *req)
{
	const struct offset_commit_request *oc = req->body;
	struct broker *b = req->broker;
	struct offset_commit_response resp;
	group_offset_commit_response(&req->arena, oc, &resp);
	if (!request_authorize(req, ACL_OP_READ, ACL_RESOURCE_GROUP, oc->group_id.ptr ? oc->group_id.ptr : "",
			       oc->group_id.ptr ? (size_t)oc->group_id.len : 0)) {
		group_offset_commit_response_fail(&resp, KERR_GROUP_AUTHORIZATION_FAILED);
		request_respond(req, &resp);
		return;
	}
	if (!group_ok(oc->group_id)) {
		group_offset_commit_response_fail(&resp, KERR_INVALID_GROUP_ID);
		request_respond(req, &resp);
		return;
	}
	int32_t max_meta = config_int(b->config, "offset.metadata.max.bytes");
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	for (int i = 0; i < resp.topics_count; i++) {
		const struct offset_commit_request_offset_commit_request_topic *t = &oc->topics[i];
		struct offset_commit_response_offset_commit_response_topic *rt = &resp.topics[i];
		bool may = t->name.ptr && request_authorize(req, ACL_OP_READ, ACL_RESOURCE_TOPIC, t->name.ptr, (size_t)t->name.len);
		for (int j = 0; j < rt->partitions_count; j++) {
			const struct offset_commit_request_offset_commit_request_partition *p = &t->partitions[j];
			struct offset_commit_response_offset_commit_response_partition *rp = &rt->partitions[j];
			if (!may)
				rp->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
			else if (!metadata_snapshot_has_partition(s, t->name, p->partition_index))
				rp->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			else if (p->committed_metadata.ptr && p->committed_metadata.len > max_meta)
				rp->error_code = KERR_OFFSET_METADATA_TOO_LARGE;
			else
				rp->error_code = store(b, oc->group_id, t->name, p->partition_index, p->committed_offset);
		}
	}
	metadata_snapshot_release(s);
	request_respond(req, &resp);
}

static void offset_fetch_v0_job(struct request *req)
{
	const struct offset_fetch_request *of = req->body;
	struct broker *b = req->broker;
	struct offset_fetch_response resp;
	offset_fetch_response_init(&resp);
	int nt = of->topics_count > 0 ? of->topics_count : 0;
	resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(nt ? nt : 1));
	resp.topics_count = nt;
	bool group_valid = group_ok(of->group_id);
	bool group_may = request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_GROUP, of->group_id.ptr ? of->group_id.ptr : "",
					   of->group_id.ptr ? (size_t)of->group_id.len : 0);
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	for (int i = 0; i < nt; i++) {
		const struct offset_fetch_request_offset_fetch_request_topic *t = &of->topics[i];
		struct offset_fetch_response_offset_fetch_response_topic *rt = &resp.topics[i];
		offset_fetch_response_offset_fetch_response_topic_init(rt);
		rt->name = t->name;
		int np = t->partition_indexes_count > 0 ? t->partition_indexes_count : 0;
		rt->partitions = arena_alloc(&req->arena, sizeof *rt->partitions * (size_t)(np ? np : 1));
		rt->partitions_count = np;
		bool may = group_may && t->name.ptr &&
			   request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TOPIC, t->name.ptr, (size_t)t->name.len);
		for (int j = 0; j < np; j++) {
			struct offset_fetch_response_offset_fetch_response_partition *rp = &rt->partitions[j];
			offset_fetch_response_offset_fetch_response_partition_init(rp);
			rp->partition_index = t->partition_indexes[j];
			rp->committed_offset = -1;
			rp->metadata = kstr_c(""); /* Kafka's NO_METADATA */
			if (!may) {
				rp->error_code = group_may ? KERR_TOPIC_AUTHORIZATION_FAILED : KERR_GROUP_AUTHORIZATION_FAILED;
				continue;
			}
			if (!group_valid) {
				rp->error_code = KERR_INVALID_GROUP_ID;
				continue;
			}
			if (!metadata_snapshot_has_partition(s, t->name, rp->partition_index)) {
				rp->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			int64_t offset;
			int rc = kafka_zk_get_consumer_offset(b->zk, of->group_id.ptr, (size_t)of->group_id.len, t->name.ptr,
							      (size_t)t->name.len, rp->partition_index, &offset);
			if (rc == ZOK || rc == ZNONODE)
				rp->committed_offset = offset;
			else
				rp->error_code = KERR_UNKNOWN_SERVER_ERROR;
		}
	}
	metadata_snapshot_release(s);
	request_respond(req, &resp);
}

void zk_offset_commit(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, offset_commit_v0_job);
}

void zk_offset_fetch(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, offset_fetch_v0_job);
}
