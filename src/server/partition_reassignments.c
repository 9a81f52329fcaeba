/*
 * AlterPartitionReassignments and ListPartitionReassignments [Kafka's
 * KafkaApis.handleAlterPartitionReassignmentsRequest and
 * handleListPartitionReassignmentsRequest in ZooKeeper mode]: answered by the
 * active controller (src/controller/reassign.c); any other broker answers
 * NOT_CONTROLLER, and admin clients send these to the controller.
 */
#include <string.h>

#include "samsa/controller.h"
#include "samsa/proto.h"
#include "samsa/zk.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

static struct kstr arena_kstr(struct request *req, const char *s)
{
	return s ? kstr_c(arena_strndup(&req->arena, s, strlen(s))) : (struct kstr){ NULL, -1 };
}

/* Runs on the controller thread (or at once when this broker cannot answer). */
static void on_altered(void *arg, int16_t error, struct ctl_reassign_item *items, int n)
{
	struct request *req = arg;
	const struct alter_partition_reassignments_request *ar = req->body;
	struct alter_partition_reassignments_response resp;
	alter_partition_reassignments_response_init(&resp);
	if (error != KERR_NONE) {
		resp.error_code = error;
		resp.error_message = kstr_c(kafka_error_name(error));
		request_respond(req, &resp);
		return;
	}
	/* One response topic per request topic, in request order. */
	resp.responses = arena_alloc(&req->arena, sizeof *resp.responses * (size_t)(ar->topics_count > 0 ? ar->topics_count : 1));
	int k = 0;
	for (int32_t i = 0; i < ar->topics_count; i++) {
		const struct alter_partition_reassignments_request_reassignable_topic *t = &ar->topics[i];
		struct alter_partition_reassignments_response_reassignable_topic_response *tr = &resp.responses[resp.responses_count++];
		alter_partition_reassignments_response_reassignable_topic_response_init(tr);
		tr->name = t->name;
		int np = t->partitions_count > 0 ? t->partitions_count : 0;
		tr->partitions = arena_alloc(&req->arena, sizeof *tr->partitions * (size_t)(np ? np : 1));
		for (int j = 0; j < np && k < n; j++, k++) {
			struct alter_partition_reassignments_response_reassignable_partition_response *pr =
				&tr->partitions[tr->partitions_count++];
			alter_partition_reassignments_response_reassignable_partition_response_init(pr);
			pr->partition_index = items[k].partition;
			pr->error_code = items[k].error;
			pr->error_message = arena_kstr(req, items[k].message);
		}
	}
	request_respond(req, &resp);
}

void handle_alter_partition_reassignments(struct request *req)
{
	const struct alter_partition_reassignments_request *ar = req->body;
	struct broker *b = req->broker;
	struct controller *c = __atomic_load_n(&b->controller, __ATOMIC_ACQUIRE);
	if (!request_authorize(req, ACL_OP_ALTER, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		on_altered(req, KERR_CLUSTER_AUTHORIZATION_FAILED, NULL, 0);
		return;
	}
	int n = 0;
	for (int32_t i = 0; i < ar->topics_count; i++)
		n += ar->topics[i].partitions_count > 0 ? ar->topics[i].partitions_count : 0;
	struct ctl_reassign_item *items = arena_alloc(&req->arena, sizeof *items * (size_t)(n ? n : 1));
	int k = 0;
	for (int32_t i = 0; i < ar->topics_count; i++) {
		const struct alter_partition_reassignments_request_reassignable_topic *t = &ar->topics[i];
		const char *name = arena_strndup(&req->arena, t->name.ptr ? t->name.ptr : "", t->name.ptr ? (size_t)t->name.len : 0);
		for (int32_t j = 0; j < t->partitions_count; j++) {
			const struct alter_partition_reassignments_request_reassignable_partition *p = &t->partitions[j];
			items[k++] = (struct ctl_reassign_item){
				.topic = name,
				.partition = p->partition_index,
				/* A null list cancels; an empty one is invalid. */
				.replicas = p->replicas_count < 0 ? NULL : (p->replicas ? p->replicas : (const int32_t *)items),
				.n_replicas = p->replicas_count,
			};
		}
	}
	if (!c || !controller_is_active(c)) {
		on_altered(req, KERR_NOT_CONTROLLER, items, n);
		return;
	}
	controller_alter_reassignments(c, items, n, on_altered, req);
}

static void on_listed(void *arg, int16_t error, const struct ctl_reassignment *list, int n)
{
	struct request *req = arg;
	struct list_partition_reassignments_response resp;
	list_partition_reassignments_response_init(&resp);
	if (error != KERR_NONE) {
		resp.error_code = error;
		resp.error_message = kstr_c(kafka_error_name(error));
		request_respond(req, &resp);
		return;
	}
	resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		struct list_partition_reassignments_response_ongoing_topic_reassignment *tr = NULL;
		for (int32_t j = 0; j < resp.topics_count && !tr; j++)
			if ((size_t)resp.topics[j].name.len == strlen(list[i].topic) &&
			    memcmp(resp.topics[j].name.ptr, list[i].topic, strlen(list[i].topic)) == 0)
				tr = &resp.topics[j];
		if (!tr) {
			tr = &resp.topics[resp.topics_count++];
			list_partition_reassignments_response_ongoing_topic_reassignment_init(tr);
			tr->name = arena_kstr(req, list[i].topic);
			tr->partitions = arena_alloc(&req->arena, sizeof *tr->partitions * (size_t)n);
		}
		struct list_partition_reassignments_response_ongoing_partition_reassignment *pr =
			&tr->partitions[tr->partitions_count++];
		list_partition_reassignments_response_ongoing_partition_reassignment_init(pr);
		pr->partition_index = list[i].partition;
		int32_t *ids = arena_alloc(&req->arena, sizeof *ids * (size_t)(list[i].n_replicas + list[i].n_adding +
									     list[i].n_removing + 1));
		memcpy(ids, list[i].replicas, sizeof *ids * (size_t)list[i].n_replicas);
		memcpy(ids + list[i].n_replicas, list[i].adding, sizeof *ids * (size_t)list[i].n_adding);
		memcpy(ids + list[i].n_replicas + list[i].n_adding, list[i].removing, sizeof *ids * (size_t)list[i].n_removing);
		pr->replicas = ids;
		pr->replicas_count = list[i].n_replicas;
		pr->adding_replicas = ids + list[i].n_replicas;
		pr->adding_replicas_count = list[i].n_adding;
		pr->removing_replicas = ids + list[i].n_replicas + list[i].n_adding;
		pr->removing_replicas_count = list[i].n_removing;
	}
	request_respond(req, &resp);
}

void handle_list_partition_reassignments(struct request *req)
{
	const struct list_partition_reassignments_request *lr = req->body;
	struct broker *b = req->broker;
	struct controller *c = __atomic_load_n(&b->controller, __ATOMIC_ACQUIRE);
	if (!request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		on_listed(req, KERR_CLUSTER_AUTHORIZATION_FAILED, NULL, 0);
		return;
	}
	if (!c || !controller_is_active(c)) {
		on_listed(req, KERR_NOT_CONTROLLER, NULL, 0);
		return;
	}
	/* Null topics: every reassignment in progress. */
	struct topic_partition_ref *filter = NULL;
	int n = -1;
	if (lr->topics_count >= 0) {
		n = 0;
		for (int32_t i = 0; i < lr->topics_count; i++)
			n += lr->topics[i].partition_indexes_count > 0 ? lr->topics[i].partition_indexes_count : 0;
		filter = arena_alloc(&req->arena, sizeof *filter * (size_t)(n ? n : 1));
		int k = 0;
		for (int32_t i = 0; i < lr->topics_count; i++) {
			const struct list_partition_reassignments_request_list_partition_reassignments_topics *t = &lr->topics[i];
			char *name = arena_strndup(&req->arena, t->name.ptr ? t->name.ptr : "",
						   t->name.ptr ? (size_t)t->name.len : 0);
			for (int32_t j = 0; j < t->partition_indexes_count; j++)
				filter[k++] = (struct topic_partition_ref){ name, t->partition_indexes[j] };
		}
	}
	controller_list_reassignments(c, filter, n, on_listed, req);
}
