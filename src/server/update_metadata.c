/*
 * UpdateMetadata: the controller tells this broker about live brokers and
 * partition states.  The request is fenced by controller epoch (a deposed
 * controller must not overwrite a newer view) and by broker epoch (a request
 * meant for a previous incarnation of this broker is stale).
 */
#include <stdlib.h>
#include <string.h>

#include "samsa/group.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

/* Kafka's LeaderAndIsr.LeaderDuringDelete: the partition's topic is being deleted. */
#define LEADER_DURING_DELETE (-2)

static const char *protocol_name(int16_t p)
{
	switch (p) {
	case 0: return "PLAINTEXT";
	case 1: return "SSL";
	case 2: return "SASL_PLAINTEXT";
	case 3: return "SASL_SSL";
	default: return "UNKNOWN";
	}
}

static int32_t *copy_ids(const int32_t *ids, int32_t n, int *out_n)
{
	*out_n = n > 0 ? n : 0;
	if (n <= 0)
		return NULL;
	int32_t *p = xmalloc(sizeof *p * (size_t)n);
	memcpy(p, ids, sizeof *p * (size_t)n);
	return p;
}

static void apply_partition(struct metadata_snapshot *s, struct kstr topic, const uint8_t *topic_id,
			    const struct update_metadata_request_update_metadata_partition_state *ps)
{
	if (!topic.ptr)
		return;
	if (ps->leader == LEADER_DURING_DELETE) {
		struct mc_topic *t = metadata_snapshot_topic(s, topic.ptr, (size_t)topic.len, false);
		if (t) {
			mc_topic_remove_partition(t, ps->partition_index);
			if (t->n_partitions == 0)
				metadata_snapshot_remove_topic(s, topic.ptr, (size_t)topic.len);
		}
		return;
	}
	struct mc_topic *t = metadata_snapshot_topic(s, topic.ptr, (size_t)topic.len, true);
	if (topic_id)
		memcpy(t->id, topic_id, 16);
	struct mc_partition *p = mc_topic_partition(t, ps->partition_index, true);
	free(p->replicas);
	free(p->isr);
	free(p->offline);
	p->leader = ps->leader;
	p->leader_epoch = ps->leader_epoch;
	p->controller_epoch = ps->controller_epoch;
	p->zk_version = ps->zk_version;
	p->replicas = copy_ids(ps->replicas, ps->replicas_count, &p->n_replicas);
	p->isr = copy_ids(ps->isr, ps->isr_count, &p->n_isr);
	p->offline = copy_ids(ps->offline_replicas, ps->offline_replicas_count, &p->n_offline);
}

void handle_update_metadata(struct request *req)
{
	const struct update_metadata_request *um = req->body;
	int16_t version = req->header.api_version;
	struct broker *b = req->broker;
	struct update_metadata_response resp;
	update_metadata_response_init(&resp);
	if (!request_authorize(req, ACL_OP_CLUSTER_ACTION, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		resp.error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
		request_respond(req, &resp);
		return;
	}

	struct metadata_snapshot *cur = metadata_cache_acquire(b->metadata);
	if (um->controller_epoch < cur->controller_epoch) {
		log_warn("Ignoring UpdateMetadata from controller %d with epoch %d: current controller epoch is %d",
			 um->controller_id, um->controller_epoch, cur->controller_epoch);
		resp.error_code = KERR_STALE_CONTROLLER_EPOCH;
		metadata_snapshot_release(cur);
		request_respond(req, &resp);
		return;
	}
	if (um->broker_epoch != -1 && um->broker_epoch < b->broker_epoch) {
		log_warn("Ignoring UpdateMetadata with broker epoch %lld older than ours (%lld)",
			 (long long)um->broker_epoch, (long long)b->broker_epoch);
		resp.error_code = KERR_STALE_BROKER_EPOCH;
		metadata_snapshot_release(cur);
		request_respond(req, &resp);
		return;
	}

	struct metadata_snapshot *s = metadata_snapshot_new();
	s->controller_id = um->controller_id;
	s->controller_epoch = um->controller_epoch;
	metadata_snapshot_copy_topics(s, cur);
	metadata_snapshot_release(cur);

	for (int32_t i = 0; i < um->live_brokers_count; i++) {
		const struct update_metadata_request_update_metadata_broker *lb = &um->live_brokers[i];
		char *rack = lb->rack.ptr ? xstrndup(lb->rack.ptr, (size_t)lb->rack.len) : NULL;
		struct mc_broker *mb = metadata_snapshot_add_broker(s, lb->id, rack);
		free(rack);
		if (version == 0) {
			char *host = xstrndup(lb->v0_host.ptr ? lb->v0_host.ptr : "", lb->v0_host.ptr ? (size_t)lb->v0_host.len : 0);
			mc_broker_add_endpoint(mb, "PLAINTEXT", host, lb->v0_port, 0);
			free(host);
			continue;
		}
		for (int32_t j = 0; j < lb->endpoints_count; j++) {
			const struct update_metadata_request_update_metadata_endpoint *e = &lb->endpoints[j];
			char *host = xstrndup(e->host.ptr ? e->host.ptr : "", e->host.ptr ? (size_t)e->host.len : 0);
			/* Before v3 endpoints carry no listener name: it is the protocol's name. */
			char *listener = version >= 3 && e->listener.ptr
						 ? xstrndup(e->listener.ptr, (size_t)e->listener.len)
						 : xstrdup(protocol_name(e->security_protocol));
			mc_broker_add_endpoint(mb, listener, host, e->port, e->security_protocol);
			free(host);
			free(listener);
		}
	}

	if (version <= 4) {
		for (int32_t i = 0; i < um->ungrouped_partition_states_count; i++) {
			const struct update_metadata_request_update_metadata_partition_state *ps =
				&um->ungrouped_partition_states[i];
			apply_partition(s, ps->topic_name, NULL, ps);
		}
	} else {
		for (int32_t i = 0; i < um->topic_states_count; i++) {
			const struct update_metadata_request_update_metadata_topic_state *ts = &um->topic_states[i];
			for (int32_t j = 0; j < ts->partition_states_count; j++)
				apply_partition(s, ts->topic_name, version >= 7 ? ts->topic_id : NULL,
						&ts->partition_states[j]);
		}
	}
	log_info("UpdateMetadata from controller %d epoch %d: %d live brokers, %d topics", um->controller_id,
		 um->controller_epoch, s->n_brokers, s->n_topics);
	/* Before the snapshot is visible, so FindCoordinator never pairs the topic with the wrong count. */
	const struct mc_topic *offsets = metadata_snapshot_find_topic(s, GROUP_OFFSETS_TOPIC, strlen(GROUP_OFFSETS_TOPIC));
	if (offsets)
		group_coordinator_set_topic_partitions(b->groups, offsets->n_partitions);
	metadata_cache_install(b->metadata, s);
	request_respond(req, &resp);
}
