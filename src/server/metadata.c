/*
 * Metadata: brokers, cluster id, controller and topic/partition state, served
 * from the metadata cache (which only the controller's UpdateMetadata feeds).
 * Brokers are described by their endpoint on the listener the request arrived
 * on, so clients keep talking on the network they chose.
 */
#include <string.h>

#include "samsa/config.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/topic_name.h"

/* With no authorizer configured every operation is allowed, so Kafka reports the
 * full set a resource type supports, as a bit field of AclOperation codes. */
#define TOPIC_ALL_OPS ((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11))
#define CLUSTER_ALL_OPS ((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12))
#define OPS_NOT_REQUESTED INT32_MIN

/* With an authorizer, the operations of those sets the principal may do. */
static const enum acl_operation topic_ops[] = { ACL_OP_READ, ACL_OP_WRITE, ACL_OP_CREATE, ACL_OP_DELETE, ACL_OP_ALTER,
						ACL_OP_DESCRIBE, ACL_OP_DESCRIBE_CONFIGS, ACL_OP_ALTER_CONFIGS,
						ACL_OP_UNKNOWN };
static const enum acl_operation cluster_ops[] = { ACL_OP_CREATE, ACL_OP_ALTER, ACL_OP_DESCRIBE, ACL_OP_CLUSTER_ACTION,
						  ACL_OP_DESCRIBE_CONFIGS, ACL_OP_ALTER_CONFIGS, ACL_OP_IDEMPOTENT_WRITE,
						  ACL_OP_UNKNOWN };

static bool may_describe(struct request *req, const char *name, size_t len, bool quiet)
{
	return quiet ? request_authorize_quiet(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TOPIC, name, len)
		     : request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TOPIC, name, len);
}

/* Kafka's auto-creation check: Create on the cluster, or else on the topic. */
static bool may_create(struct request *req, const char *name, size_t len)
{
	return request_authorize_quiet(req, ACL_OP_CREATE, ACL_RESOURCE_CLUSTER, NULL, 0) ||
	       request_authorize(req, ACL_OP_CREATE, ACL_RESOURCE_TOPIC, name, len);
}

/* Answered for a topic the principal may not describe: nothing about it is disclosed. */
static void unauthorized_topic(struct metadata_response_metadata_response_topic *out, struct kstr name,
			       const uint8_t *id)
{
	metadata_response_metadata_response_topic_init(out);
	out->name = name;
	if (id)
		memcpy(out->topic_id, id, 16);
	out->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
	out->topic_authorized_operations = OPS_NOT_REQUESTED;
}

static bool broker_alive_on(const struct metadata_snapshot *s, int32_t id, const char *listener)
{
	const struct mc_broker *b = metadata_snapshot_broker(s, id);
	return b && mc_broker_endpoint(b, listener);
}

/*
 * Only v0 leaves out replicas on brokers that are down or lack this listener
 * (Kafka's errorUnavailableEndpoints); from v1 clients get every assigned replica
 * and the ISR as the controller wrote them, and learn which replicas are down
 * from offline_replicas (v5+), as ZkMetadataCache.getPartitionMetadata answers.
 */
static int32_t *replica_list(struct request *req, const struct metadata_snapshot *s, const int32_t *ids, int n,
			     bool filter, int32_t *out_n)
{
	int32_t *out = arena_alloc(&req->arena, sizeof *out * (size_t)(n ? n : 1));
	int32_t k = 0;
	for (int i = 0; i < n; i++)
		if (!filter || broker_alive_on(s, ids[i], req->info.listener_name))
			out[k++] = ids[i];
	*out_n = k;
	return out;
}

static void fill_partition(struct request *req, const struct metadata_snapshot *s, const struct mc_partition *p,
			   struct metadata_response_metadata_response_partition *out)
{
	int16_t version = req->header.api_version;
	const char *listener = req->info.listener_name;
	bool filter = version == 0;

	metadata_response_metadata_response_partition_init(out);
	out->partition_index = p->index;
	out->leader_epoch = p->leader_epoch;
	out->offline_replicas = arena_alloc(&req->arena, sizeof(int32_t) * (size_t)(p->n_offline ? p->n_offline : 1));
	if (p->n_offline > 0)
		memcpy(out->offline_replicas, p->offline, sizeof(int32_t) * (size_t)p->n_offline);
	out->offline_replicas_count = p->n_offline;

	int32_t n_replicas, n_isr;
	out->replica_nodes = replica_list(req, s, p->replicas, p->n_replicas, filter, &n_replicas);
	out->replica_nodes_count = n_replicas;
	out->isr_nodes = replica_list(req, s, p->isr, p->n_isr, filter, &n_isr);
	out->isr_nodes_count = n_isr;

	if (p->leader < 0 || !metadata_snapshot_broker(s, p->leader)) {
		out->error_code = KERR_LEADER_NOT_AVAILABLE;
		out->leader_id = -1;
	} else if (!broker_alive_on(s, p->leader, listener)) {
		/* The leader is up but has no endpoint on this listener: a misconfiguration
		 * (or a listener still being added) that v6+ clients are told about by name. */
		out->error_code = version >= 6 ? KERR_LISTENER_NOT_FOUND : KERR_LEADER_NOT_AVAILABLE;
		out->leader_id = -1;
	} else {
		out->leader_id = p->leader;
		/* Only possible at v0, the one version that filters. */
		if (n_replicas < p->n_replicas || n_isr < p->n_isr)
			out->error_code = KERR_REPLICA_NOT_AVAILABLE;
	}
}

static void fill_topic(struct request *req, const struct metadata_snapshot *s, const struct mc_topic *t,
		       bool want_ops, struct metadata_response_metadata_response_topic *out)
{
	metadata_response_metadata_response_topic_init(out);
	out->name = kstr_c(t->name);
	memcpy(out->topic_id, t->id, 16);
	out->is_internal = topic_is_internal(t->name, strlen(t->name));
	out->topic_authorized_operations = !want_ops ? OPS_NOT_REQUESTED
				   : req->broker->authorizer
					   ? request_authorized_operations(req, ACL_RESOURCE_TOPIC, t->name, strlen(t->name), topic_ops)
					   : TOPIC_ALL_OPS;
	out->partitions = arena_alloc(&req->arena, sizeof *out->partitions * (size_t)(t->n_partitions ? t->n_partitions : 1));
	out->partitions_count = t->n_partitions;
	for (int i = 0; i < t->n_partitions; i++)
		fill_partition(req, s, &t->partitions[i], &out->partitions[i]);
}

static const struct mc_topic *find_by_id(const struct metadata_snapshot *s, const uint8_t id[16])
{
	for (int i = 0; i < s->n_topics; i++)
		if (memcmp(s->topics[i].id, id, 16) == 0)
			return &s->topics[i];
	return NULL;
}

static bool uuid_is_zero(const uint8_t id[16])
{
	static const uint8_t zero[16];
	return memcmp(id, zero, 16) == 0;
}

static void answer(struct request *req, bool on_admin);

static void metadata_job(struct request *req) { answer(req, true); }

void handle_metadata(struct request *req) { answer(req, false); }

/*
 * Unknown topics are created when auto.create.topics.enable and the request
 * allow it (Kafka answers LEADER_NOT_AVAILABLE for them until the controller
 * has elected leaders).  Internal topics are created with their owners'
 * settings, never as ordinary topics (topic_auto_create), as Kafka's
 * AutoTopicCreationManager does.  Creating talks to ZooKeeper, so a request that needs
 * it is handed to the admin executor and answered from there.
 */
static void answer(struct request *req, bool on_admin)
{
	const struct metadata_request *mreq = req->body;
	int16_t version = req->header.api_version;
	struct broker *b = req->broker;
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	struct metadata_response resp;
	metadata_response_init(&resp);

	resp.cluster_id = kstr_c(b->cluster_id);
	resp.controller_id = s->controller_id;
	resp.cluster_authorized_operations =
		mreq->include_cluster_authorized_operations ? CLUSTER_ALL_OPS : OPS_NOT_REQUESTED;
	if (mreq->include_cluster_authorized_operations && b->authorizer)
		resp.cluster_authorized_operations =
			request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_CLUSTER, NULL, 0)
				? request_authorized_operations(req, ACL_RESOURCE_CLUSTER, ACL_CLUSTER_NAME,
								strlen(ACL_CLUSTER_NAME), cluster_ops)
				: 0;

	resp.brokers = arena_alloc(&req->arena, sizeof *resp.brokers * (size_t)(s->n_brokers ? s->n_brokers : 1));
	resp.brokers_count = 0;
	for (int i = 0; i < s->n_brokers; i++) {
		const struct mc_endpoint *e = mc_broker_endpoint(&s->brokers[i], req->info.listener_name);
		if (!e)
			continue;
		struct metadata_response_metadata_response_broker *rb = &resp.brokers[resp.brokers_count++];
		metadata_response_metadata_response_broker_init(rb);
		rb->node_id = s->brokers[i].id;
		rb->host = kstr_c(e->host);
		rb->port = e->port;
		rb->rack = kstr_c(s->brokers[i].rack);
	}

	bool want_ops = mreq->include_topic_authorized_operations;
	/* Null topics (v1+), or an empty list at v0, ask for every topic. */
	bool all = mreq->topics_count < 0 || (version == 0 && mreq->topics_count == 0);
	if (all) {
		resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(s->n_topics ? s->n_topics : 1));
		resp.topics_count = 0;
		/* Every topic the principal may describe; the others are left out silently. */
		for (int i = 0; i < s->n_topics; i++)
			if (may_describe(req, s->topics[i].name, strlen(s->topics[i].name), true))
				fill_topic(req, s, &s->topics[i], want_ops, &resp.topics[resp.topics_count++]);
	} else {
		int32_t n = mreq->topics_count;
		resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(n ? n : 1));
		resp.topics_count = n;
		for (int32_t i = 0; i < n; i++) {
			const struct metadata_request_metadata_request_topic *rt = &mreq->topics[i];
			struct metadata_response_metadata_response_topic *out = &resp.topics[i];
			const struct mc_topic *t;
			if (!rt->name.ptr) {
				t = uuid_is_zero(rt->topic_id) ? NULL : find_by_id(s, rt->topic_id);
				if (t && !may_describe(req, t->name, strlen(t->name), false)) {
					/* Topic ids are not secret (Kafka answers with the id, no name). */
					unauthorized_topic(out, (struct kstr){ NULL, -1 }, rt->topic_id);
					continue;
				}
				if (t) {
					fill_topic(req, s, t, want_ops, out);
					continue;
				}
				metadata_response_metadata_response_topic_init(out);
				memcpy(out->topic_id, rt->topic_id, 16);
				out->error_code = KERR_UNKNOWN_TOPIC_ID;
				out->topic_authorized_operations = OPS_NOT_REQUESTED;
				continue;
			}
			/* Whether it exists is not disclosed to a principal who may not describe it. */
			if (!may_describe(req, rt->name.ptr, (size_t)rt->name.len, false)) {
				unauthorized_topic(out, rt->name, NULL);
				continue;
			}
			t = metadata_snapshot_find_topic(s, rt->name.ptr, (size_t)rt->name.len);
			if (t) {
				fill_topic(req, s, t, want_ops, out);
				continue;
			}
			metadata_response_metadata_response_topic_init(out);
			out->name = rt->name;
			out->topic_authorized_operations = OPS_NOT_REQUESTED;
			out->is_internal = topic_is_internal(rt->name.ptr, (size_t)rt->name.len);
			bool valid = topic_name_valid(rt->name.ptr, (size_t)rt->name.len);
			out->error_code = valid ? KERR_UNKNOWN_TOPIC_OR_PARTITION : KERR_INVALID_TOPIC_EXCEPTION;
			if (valid && b->bc->auto_create_topics_enable && mreq->allow_auto_topic_creation) {
				if (!may_create(req, rt->name.ptr, (size_t)rt->name.len)) {
					unauthorized_topic(out, rt->name, NULL);
					out->is_internal = topic_is_internal(rt->name.ptr, (size_t)rt->name.len);
					continue;
				}
				if (!on_admin) {
					metadata_snapshot_release(s);
					admin_executor_submit(b->admin, req, metadata_job);
					return;
				}
				char *name = arena_strndup(&req->arena, rt->name.ptr, (size_t)rt->name.len);
				int16_t err = topic_auto_create(b, name);
				out->error_code = err == KERR_NONE ? KERR_LEADER_NOT_AVAILABLE : err;
			}
		}
	}
	request_respond(req, &resp);
	metadata_snapshot_release(s);
}
