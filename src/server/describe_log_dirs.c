/*
 * DescribeLogDirs [Kafka's ReplicaManager.describeLogDirs]: every log dir of
 * this broker by absolute path, with its file system's size and free space
 * (v4), and the partitions in it: size on disk, offset lag (a current log:
 * how far its log end is behind the high watermark, never below 0; a future
 * log of an AlterReplicaLogDirs move: how far it is behind the current log)
 * and whether it is such a future log.  An offline dir answers
 * KAFKA_STORAGE_ERROR with nothing in it.  Topics null means every partition.
 */
#include <string.h>
#include <sys/statvfs.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct describe_log_dirs_response_describe_log_dirs_result dir_result;
typedef struct describe_log_dirs_response_describe_log_dirs_topic topic_result;
typedef struct describe_log_dirs_response_describe_log_dirs_partition part_result;

/* Is (topic, partition) among those the request names?  All when topics is null. */
static bool asked(const struct describe_log_dirs_request *q, const char *topic, size_t tl, int32_t partition)
{
	if (q->topics_count < 0)
		return true;
	for (int i = 0; i < q->topics_count; i++) {
		const struct describe_log_dirs_request_describable_log_dir_topic *t = &q->topics[i];
		if (!t->topic.ptr || (size_t)t->topic.len != tl || memcmp(t->topic.ptr, topic, tl) != 0)
			continue;
		for (int j = 0; j < t->partitions_count; j++)
			if (t->partitions[j] == partition)
				return true;
	}
	return false;
}

/* The current log of a partition, for a future log's lag; NULL when the broker has none. */
static int64_t offset_lag(struct broker *b, struct log_ref *r)
{
	struct log *l = log_ref_log(r);
	if (!log_ref_is_future(r)) {
		int64_t lag = log_high_watermark(l) - log_end_offset(l);
		return lag > 0 ? lag : 0;
	}
	size_t tl;
	const char *topic = log_ref_topic(r, &tl);
	struct log_ref *cur = log_manager_get(b->logs, topic, tl, log_ref_partition(r));
	if (!cur)
		return -1; /* Kafka's INVALID_OFFSET_LAG */
	int64_t lag = log_end_offset(log_ref_log(cur)) - log_end_offset(l);
	log_ref_put(cur);
	return lag;
}

static void describe_dir(struct request *req, int d, dir_result *dr)
{
	struct broker *b = req->broker;
	const struct describe_log_dirs_request *q = req->body;
	struct log_manager *lm = b->logs;
	describe_log_dirs_response_describe_log_dirs_result_init(dr);
	dr->log_dir = kstr_c(log_manager_dir_path(lm, d));
	if (!log_manager_dir_online(lm, d)) {
		dr->error_code = KERR_KAFKA_STORAGE_ERROR;
		return;
	}
	struct statvfs vfs;
	if (statvfs(log_manager_dir_path(lm, d), &vfs) == 0) {
		dr->total_bytes = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
		dr->usable_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
	}
	int n;
	struct log_ref **logs = log_manager_dir_logs(lm, d, &n);
	/* Logs come in topic-partition order: one topic entry per run of a topic. */
	dr->topics = arena_alloc(&req->arena, sizeof *dr->topics * (size_t)(n ? n : 1));
	topic_result *cur = NULL;
	for (int i = 0; i < n; i++) {
		size_t tl;
		const char *topic = log_ref_topic(logs[i], &tl);
		int32_t partition = log_ref_partition(logs[i]);
		if (!asked(q, topic, tl, partition))
			continue;
		if (!cur || (size_t)cur->name.len != tl || memcmp(cur->name.ptr, topic, tl) != 0) {
			cur = &dr->topics[dr->topics_count++];
			describe_log_dirs_response_describe_log_dirs_topic_init(cur);
			cur->name = (struct kstr){ arena_strndup(&req->arena, topic, tl), (int32_t)tl };
			cur->partitions = arena_alloc(&req->arena, sizeof *cur->partitions * (size_t)(n - i));
		}
		part_result *pr = &cur->partitions[cur->partitions_count++];
		describe_log_dirs_response_describe_log_dirs_partition_init(pr);
		pr->partition_index = partition;
		pr->partition_size = log_size_bytes(log_ref_log(logs[i]));
		pr->offset_lag = offset_lag(b, logs[i]);
		pr->is_future_key = log_ref_is_future(logs[i]);
	}
	log_manager_refs_put(logs, n);
}

void handle_describe_log_dirs(struct request *req)
{
	struct describe_log_dirs_response resp;
	describe_log_dirs_response_init(&resp);
	if (!request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		resp.error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
		request_respond(req, &resp);
		return;
	}
	int nd = log_manager_dir_count(req->broker->logs);
	resp.results = arena_alloc(&req->arena, sizeof *resp.results * (size_t)(nd ? nd : 1));
	resp.results_count = nd;
	for (int d = 0; d < nd; d++)
		describe_dir(req, d, &resp.results[d]);
	request_respond(req, &resp);
}
