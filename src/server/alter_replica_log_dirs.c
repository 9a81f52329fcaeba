/*
 * AlterReplicaLogDirs [Kafka's KafkaApis.handleAlterReplicaLogDirsRequest]:
 * move replicas hosted here between this broker's log dirs.  A path that is
 * not one of log.dirs gets LOG_DIR_NOT_FOUND; otherwise each partition gets
 * what replica_manager_alter_log_dir answers.  The move itself goes on in
 * the background; DescribeLogDirs shows the future log until it is done.
 */
#include <stdlib.h>
#include <string.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct alter_replica_log_dirs_response_alter_replica_log_dir_topic_result topic_result;
typedef struct alter_replica_log_dirs_response_alter_replica_log_dir_partition_result part_result;

static int16_t alter_one(struct broker *b, int d, struct kstr topic, int32_t partition)
{
	if (!topic.ptr || topic.len <= 0)
		return KERR_INVALID_TOPIC_EXCEPTION;
	if (d < 0)
		return KERR_LOG_DIR_NOT_FOUND;
	return replica_manager_alter_log_dir(b->replicas, topic.ptr, (size_t)topic.len, partition, d);
}

void handle_alter_replica_log_dirs(struct request *req)
{
	const struct alter_replica_log_dirs_request *q = req->body;
	struct alter_replica_log_dirs_response resp;
	alter_replica_log_dirs_response_init(&resp);
	int nt = 0;
	for (int i = 0; i < q->dirs_count; i++)
		nt += q->dirs[i].topics_count > 0 ? q->dirs[i].topics_count : 0;
	resp.results = arena_alloc(&req->arena, sizeof *resp.results * (size_t)(nt ? nt : 1));
	/* Kafka: Alter on the cluster, else every partition is refused. */
	bool may = request_authorize(req, ACL_OP_ALTER, ACL_RESOURCE_CLUSTER, NULL, 0);
	for (int i = 0; i < q->dirs_count; i++) {
		const struct alter_replica_log_dirs_request_alter_replica_log_dir *dir = &q->dirs[i];
		int d = -1;
		if (dir->path.ptr && dir->path.len > 0) {
			char *path = xstrndup(dir->path.ptr, (size_t)dir->path.len);
			d = log_manager_find_dir(req->broker->logs, path);
			free(path);
		}
		for (int j = 0; j < dir->topics_count; j++) {
			const struct alter_replica_log_dirs_request_alter_replica_log_dir_topic *t = &dir->topics[j];
			topic_result *tr = &resp.results[resp.results_count++];
			alter_replica_log_dirs_response_alter_replica_log_dir_topic_result_init(tr);
			tr->topic_name = t->name;
			int np = t->partitions_count > 0 ? t->partitions_count : 0;
			tr->partitions = arena_alloc(&req->arena, sizeof *tr->partitions * (size_t)(np ? np : 1));
			tr->partitions_count = np;
			for (int k = 0; k < np; k++) {
				part_result *pr = &tr->partitions[k];
				alter_replica_log_dirs_response_alter_replica_log_dir_partition_result_init(pr);
				pr->partition_index = t->partitions[k];
				pr->error_code = may ? alter_one(req->broker, d, t->name, t->partitions[k])
						     : KERR_CLUSTER_AUTHORIZATION_FAILED;
				if (pr->error_code != KERR_NONE)
					log_info("AlterReplicaLogDirs of %.*s-%d to %.*s from %s: %s", t->name.len,
						 t->name.ptr ? t->name.ptr : "", t->partitions[k], dir->path.len,
						 dir->path.ptr ? dir->path.ptr : "", req->info.peer,
						 kafka_error_name(pr->error_code));
			}
		}
	}
	request_respond(req, &resp);
}
