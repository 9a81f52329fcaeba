/*
 * DeleteTopics, the ZooKeeper-mode way: mark each topic under
 * /admin/delete_topics; the controller deletes it.  The answer waits (up to the
 * request's timeout) until this broker's metadata no longer has the topic.
 * Runs on the admin executor: it talks to ZooKeeper.
 */
#include <string.h>

#include "samsa/config.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/uuid.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/admin_util.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

static bool gone(struct broker *b, const char *name, int n)
{
	(void)n;
	return admin_cached_partitions(b, name) < 0;
}

static void delete_topics_job(struct request *req)
{
	const struct delete_topics_request *dt = req->body;
	struct broker *b = req->broker;
	int16_t version = req->header.api_version;
	int64_t started = admin_now_ms();
	struct delete_topics_response resp;
	delete_topics_response_init(&resp);
	int n = version >= 6 ? dt->topics_count : dt->topic_names_count;
	if (n < 0)
		n = 0;
	resp.responses = arena_alloc(&req->arena, sizeof *resp.responses * (size_t)(n ? n : 1));
	resp.responses_count = n;
	const char **names = arena_alloc(&req->arena, sizeof *names * (size_t)(n ? n : 1));

	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	for (int i = 0; i < n; i++) {
		struct delete_topics_response_deletable_topic_result *r = &resp.responses[i];
		delete_topics_response_deletable_topic_result_init(r);
		struct kstr name = version >= 6 ? dt->topics[i].name : dt->topic_names[i];
		const struct mc_topic *t = NULL;
		if (!name.ptr && version >= 6) {
			/* By topic id. */
			memcpy(r->topic_id, dt->topics[i].topic_id, 16);
			for (int k = 0; k < s->n_topics && !t; k++)
				if (memcmp(s->topics[k].id, dt->topics[i].topic_id, 16) == 0)
					t = &s->topics[k];
			if (!t) {
				r->error_code = KERR_UNKNOWN_TOPIC_ID;
				continue;
			}
			if (!request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TOPIC, t->name, strlen(t->name)) ||
			    !request_authorize(req, ACL_OP_DELETE, ACL_RESOURCE_TOPIC, t->name, strlen(t->name))) {
				r->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
		} else if (name.ptr) {
			r->name = name;
			/* Kafka checks Delete before looking the name up, so existence is not disclosed. */
			if (!request_authorize(req, ACL_OP_DELETE, ACL_RESOURCE_TOPIC, name.ptr, (size_t)name.len)) {
				r->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			t = metadata_snapshot_find_topic(s, name.ptr, (size_t)name.len);
		}
		if (!t) {
			r->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		r->name = kstr_c(arena_strndup(&req->arena, t->name, strlen(t->name)));
		memcpy(r->topic_id, t->id, 16);
		if (!b->bc->delete_topic_enable) {
			r->error_code = KERR_TOPIC_DELETION_DISABLED;
			continue;
		}
		int rc = topic_zk_mark_for_deletion(b->zk, r->name.ptr);
		if (rc != ZOK && rc != ZNODEEXISTS) {
			r->error_code = KERR_UNKNOWN_SERVER_ERROR;
			continue;
		}
		log_info("Topic %s marked for deletion", r->name.ptr);
		names[i] = r->name.ptr;
	}
	metadata_snapshot_release(s);

	for (int i = 0; i < n; i++)
		if (names[i] && !admin_wait(b, names[i], 0, started, dt->timeout_ms, gone))
			resp.responses[i].error_code = KERR_REQUEST_TIMED_OUT;
	request_respond(req, &resp);
}

void handle_delete_topics(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, delete_topics_job);
}
