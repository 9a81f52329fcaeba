/*
 * OffsetCommit v0 and OffsetFetch v0: classic consumer offsets kept in
 * ZooKeeper at /consumers/<group>/offsets/<topic>/<partition>, the offset as
 * decimal text, exactly where the old Scala consumer and its tools look.
 * (v1+ go to the group coordinator on __consumer_offsets, src/group/.)
 * Runs on the admin executor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group/group_coordinator.h"
#include "proto/gen/messages.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/broker.h"
#include "server/config.h"
#include "server/metadata_cache.h"
#include "util/errors.h"
#include "util/log.h"
#include "zk/zk.h"

/* A group id becomes a path element: it must be one. */
static bool group_ok(struct kstr g)
{
	if (!g.ptr || g.len == 0 || (g.len == 1 && g.ptr[0] == '.') || (g.len == 2 && g.ptr[0] == '.' && g.ptr[1] == '.'))
		return false;
	return memchr(g.ptr, '/', (size_t)g.len) == NULL && memchr(g.ptr, '\0', (size_t)g.len) == NULL;
}

static void offset_path(char *buf, size_t cap, struct kstr group, struct kstr topic, int32_t partition)
{
	snprintf(buf, cap, "/consumers/%.*s/offsets/%.*s/%d", group.len, group.ptr, topic.len, topic.ptr, partition);
}

static int16_t store(struct broker *b, struct kstr group, struct kstr topic, int32_t partition, int64_t offset)
{
	char path[1024], text[32];
	offset_path(path, sizeof path, group, topic, partition);
	int len = snprintf(text, sizeof text, "%" PRId64, offset);
	int rc = zk_set(b->zk, path, text, len, -1, NULL);
	if (rc == ZNONODE) {
		char *slash = strrchr(path, '/');
		*slash = '\0';
		rc = zk_create_recursive(b->zk, path, NULL, -1);
		*slash = '/';
		if (rc == ZOK)
			rc = zk_create(b->zk, path, text, len, 0, NULL, NULL, 0);
		if (rc == ZNODEEXISTS)
			rc = zk_set(b->zk, path, text, len, -1, NULL);
	}
	if (rc != ZOK) {
		log_warn("Storing offset at %s failed: %s", path, zerror(rc));
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	return KERR_NONE;
}

static void offset_commit_v0_job(struct request *req)
{
	const struct offset_commit_request *oc = req->body;
	struct broker *b = req->broker;
	struct offset_commit_response resp;
	group_offset_commit_response(&req->arena, oc, &resp);
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
		for (int j = 0; j < rt->partitions_count; j++) {
			const struct offset_commit_request_offset_commit_request_partition *p = &t->partitions[j];
			struct offset_commit_response_offset_commit_response_partition *rp = &rt->partitions[j];
			if (!metadata_snapshot_has_partition(s, t->name, p->partition_index))
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
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	for (int i = 0; i < nt; i++) {
		const struct offset_fetch_request_offset_fetch_request_topic *t = &of->topics[i];
		struct offset_fetch_response_offset_fetch_response_topic *rt = &resp.topics[i];
		offset_fetch_response_offset_fetch_response_topic_init(rt);
		rt->name = t->name;
		int np = t->partition_indexes_count > 0 ? t->partition_indexes_count : 0;
		rt->partitions = arena_alloc(&req->arena, sizeof *rt->partitions * (size_t)(np ? np : 1));
		rt->partitions_count = np;
		for (int j = 0; j < np; j++) {
			struct offset_fetch_response_offset_fetch_response_partition *rp = &rt->partitions[j];
			offset_fetch_response_offset_fetch_response_partition_init(rp);
			rp->partition_index = t->partition_indexes[j];
			rp->committed_offset = -1;
			rp->metadata = kstr_c(""); /* Kafka's NO_METADATA */
			if (!group_valid) {
				rp->error_code = KERR_INVALID_GROUP_ID;
				continue;
			}
			if (!metadata_snapshot_has_partition(s, t->name, rp->partition_index)) {
				rp->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			char path[1024];
			offset_path(path, sizeof path, of->group_id, t->name, rp->partition_index);
			char *data = NULL;
			int len = 0;
			int rc = zk_get(b->zk, path, NULL, NULL, &data, &len, NULL);
			if (rc == ZOK && data && len > 0 && len < 32) {
				char text[32];
				memcpy(text, data, (size_t)len);
				text[len] = '\0';
				char *end;
				long long v = strtoll(text, &end, 10);
				if (*end == '\0')
					rp->committed_offset = v;
				else
					rp->error_code = KERR_UNKNOWN_SERVER_ERROR;
			} else if (rc != ZOK && rc != ZNONODE) {
				rp->error_code = KERR_UNKNOWN_SERVER_ERROR;
			}
			free(data);
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
