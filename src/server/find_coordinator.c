/*
 * FindCoordinator [Kafka's KafkaApis.handleFindCoordinatorRequest]: a group's
 * coordinator is the leader of its __consumer_offsets partition, described
 * by its endpoint on the listener the request came in on.  The first lookup
 * creates __consumer_offsets (compacted, offsets.topic.* settings) and
 * answers COORDINATOR_NOT_AVAILABLE until it has leaders, as Kafka does.
 * Transaction coordinators do not exist yet: key type 1 gets
 * COORDINATOR_NOT_AVAILABLE.
 */
#include <string.h>

#include "samsa/group.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/request.h"

#define KEY_TYPE_GROUP 0
#define KEY_TYPE_TRANSACTION 1

struct found {
	int16_t error;
	int32_t node_id;
	struct kstr host;
	int32_t port;
};

static struct found lookup(struct request *req, const struct metadata_snapshot *s, struct kstr key, int8_t key_type,
			   bool *missing_topic)
{
	struct broker *b = req->broker;
	struct found f = { KERR_COORDINATOR_NOT_AVAILABLE, -1, kstr_c(""), -1 };
	/* Kafka: Describe on the group or the transactional id the key names. */
	if (key_type == KEY_TYPE_GROUP &&
	    !request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_GROUP, key.ptr ? key.ptr : "", key.ptr ? (size_t)key.len : 0)) {
		f.error = KERR_GROUP_AUTHORIZATION_FAILED;
		return f;
	}
	if (key_type == KEY_TYPE_TRANSACTION &&
	    !request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TRANSACTIONAL_ID, key.ptr ? key.ptr : "",
			       key.ptr ? (size_t)key.len : 0)) {
		f.error = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
		return f;
	}
	if (key_type == KEY_TYPE_TRANSACTION)
		return f;
	if (key_type != KEY_TYPE_GROUP) {
		f.error = KERR_INVALID_REQUEST;
		return f;
	}
	int32_t p = group_coordinator_partition_for(b->groups, key.ptr ? key.ptr : "", key.ptr ? (size_t)key.len : 0);
	const struct mc_topic *t = metadata_snapshot_find_topic(s, GROUP_OFFSETS_TOPIC, strlen(GROUP_OFFSETS_TOPIC));
	if (!t) {
		*missing_topic = true;
		return f;
	}
	const struct mc_partition *mp = mc_topic_partition((struct mc_topic *)t, p, false);
	if (!mp || mp->leader < 0)
		return f;
	const struct mc_broker *mb = metadata_snapshot_broker(s, mp->leader);
	const struct mc_endpoint *e = mb ? mc_broker_endpoint(mb, req->info.listener_name) : NULL;
	if (!e)
		return f;
	f.error = KERR_NONE;
	f.node_id = mp->leader;
	f.host = kstr_c(arena_strndup(&req->arena, e->host, strlen(e->host)));
	f.port = e->port;
	return f;
}

static void answer(struct request *req, bool *missing_topic)
{
	const struct find_coordinator_request *fq = req->body;
	struct broker *b = req->broker;
	int16_t version = req->header.api_version;
	struct find_coordinator_response resp;
	find_coordinator_response_init(&resp);
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	if (version >= 4) {
		int n = fq->coordinator_keys_count > 0 ? fq->coordinator_keys_count : 0;
		resp.coordinators = arena_alloc(&req->arena, sizeof *resp.coordinators * (size_t)(n ? n : 1));
		resp.coordinators_count = n;
		for (int i = 0; i < n; i++) {
			struct find_coordinator_response_coordinator *c = &resp.coordinators[i];
			find_coordinator_response_coordinator_init(c);
			struct found f = lookup(req, s, fq->coordinator_keys[i], fq->key_type, missing_topic);
			c->key = fq->coordinator_keys[i];
			c->error_code = f.error;
			c->node_id = f.node_id;
			c->host = f.host;
			c->port = f.port;
		}
	} else {
		struct found f = lookup(req, s, fq->key, version >= 1 ? fq->key_type : KEY_TYPE_GROUP, missing_topic);
		resp.error_code = f.error;
		resp.node_id = f.node_id;
		resp.host = f.host;
		resp.port = f.port;
	}
	metadata_snapshot_release(s);
	request_respond(req, &resp);
}

/* On the admin executor: create __consumer_offsets, then answer (still COORDINATOR_NOT_AVAILABLE). */
static void create_then_answer(struct request *req)
{
	struct broker *b = req->broker;
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	bool exists = metadata_snapshot_find_topic(s, GROUP_OFFSETS_TOPIC, strlen(GROUP_OFFSETS_TOPIC)) != NULL;
	metadata_snapshot_release(s);
	/* The same path as a Metadata request's auto-creation, so both make it alike. */
	if (!exists)
		(void)topic_auto_create(b, GROUP_OFFSETS_TOPIC);
	bool missing = false;
	answer(req, &missing);
}

void handle_find_coordinator(struct request *req)
{
	const struct find_coordinator_request *fq = req->body;
	struct broker *b = req->broker;
	bool missing = false;
	/* Look first without answering: the topic may have to be created. */
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	if (!metadata_snapshot_find_topic(s, GROUP_OFFSETS_TOPIC, strlen(GROUP_OFFSETS_TOPIC))) {
		bool group_key = req->header.api_version == 0 || fq->key_type == KEY_TYPE_GROUP;
		missing = group_key;
	}
	metadata_snapshot_release(s);
	if (missing) {
		admin_executor_submit(b->admin, req, create_then_answer);
		return;
	}
	answer(req, &missing);
}
