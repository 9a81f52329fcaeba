/*
 * WriteTxnMarkers [Kafka's KafkaApis.handleWriteTxnMarkersRequest]: the
 * transaction coordinator asks the leader of each partition of a finished
 * transaction to append its COMMIT or ABORT marker.  The partition checks the
 * producer and coordinator epochs under its lock (nothing is written when
 * they are stale), appends with acks=all, and the answer goes out once every
 * marker is replicated to the ISR, or at the request timeout.  A marker on a
 * __consumer_offsets partition also tells the group coordinator, which owns
 * the offsets committed in the transaction.
 */
#include <string.h>

#include "samsa/group.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/purgatory.h"
#include "samsa/replica.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct write_txn_markers_response_writable_txn_marker_partition_result part_result;

/* Kafka waits request.timeout.ms (its default) for the markers to replicate. */
#define MARKER_ACK_TIMEOUT_MS 30000

struct marker_ack {
	struct kstr topic;
	part_result *pr;
	int64_t required;
	bool done;
};

struct delayed_markers {
	struct request *req;
	struct write_txn_markers_response *resp;
	struct marker_ack *acks;
	int n_acks;
};

static bool try_acks(void *arg, bool expired)
{
	struct delayed_markers *dm = arg;
	struct broker *b = dm->req->broker;
	bool all = true;
	for (int i = 0; i < dm->n_acks; i++) {
		struct marker_ack *a = &dm->acks[i];
		if (a->done)
			continue;
		int16_t err;
		if (replica_manager_acks_done(b->replicas, a->topic.ptr, (size_t)a->topic.len, a->pr->partition_index,
					      a->required, &err)) {
			a->done = true;
			if (err != KERR_NONE)
				a->pr->error_code = err;
		} else if (expired) {
			a->done = true;
			a->pr->error_code = KERR_REQUEST_TIMED_OUT;
		} else {
			all = false;
		}
	}
	if (!all)
		return false;
	request_respond(dm->req, dm->resp);
	return true;
}

static void write_one(struct request *req, const struct write_txn_markers_request_writable_txn_marker *m,
		      struct kstr topic, part_result *pr, struct marker_ack *ack)
{
	struct broker *b = req->broker;
	struct partition *part = replica_manager_partition(b->replicas, topic.ptr, (size_t)topic.len,
							   pr->partition_index);
	if (!part) {
		pr->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		return;
	}
	struct log_append_info ai;
	int64_t wait_offset = -1;
	pr->error_code = partition_write_txn_marker(part, m->producer_id, m->producer_epoch, m->coordinator_epoch,
						    m->transaction_result, wall_clock_ms(), &ai, &wait_offset);
	partition_unref(part);
	if (pr->error_code != KERR_NONE) {
		log_warn("WriteTxnMarkers from %s: %s marker of producer %lld (epoch %d, coordinator epoch %d) on "
			 "%.*s-%d refused: %s",
			 req->info.peer, m->transaction_result ? "COMMIT" : "ABORT", (long long)m->producer_id,
			 m->producer_epoch, m->coordinator_epoch, topic.len, topic.ptr, pr->partition_index,
			 kafka_error_name(pr->error_code));
		return;
	}
	if (kstr_eq(topic, "__consumer_offsets") && b->groups)
		group_coordinator_on_txn_marker(b->groups, pr->partition_index, m->producer_id, m->producer_epoch,
						m->transaction_result);
	if (wait_offset >= 0) {
		*ack = (struct marker_ack){ topic, pr, wait_offset, false };
	}
}

void handle_write_txn_markers(struct request *req)
{
	const struct write_txn_markers_request *wq = req->body;
	struct broker *b = req->broker;
	struct write_txn_markers_response *resp = arena_alloc(&req->arena, sizeof *resp);
	write_txn_markers_response_init(resp);
	int nm = wq->markers_count > 0 ? wq->markers_count : 0;
	int total = 0;
	for (int i = 0; i < nm; i++)
		for (int t = 0; t < wq->markers[i].topics_count; t++)
			total += wq->markers[i].topics[t].partition_indexes_count > 0
					 ? wq->markers[i].topics[t].partition_indexes_count
					 : 0;
	struct marker_ack *acks = arena_alloc(&req->arena, sizeof *acks * (size_t)(total ? total : 1));
	memset(acks, 0, sizeof *acks * (size_t)(total ? total : 1));
	int n_acks = 0;
	/* Only brokers send markers [KafkaApis: CLUSTER_ACTION on the cluster, else every partition refused]. */
	bool allowed = request_authorize(req, ACL_OP_CLUSTER_ACTION, ACL_RESOURCE_CLUSTER, NULL, 0);
	resp->markers = arena_alloc(&req->arena, sizeof *resp->markers * (size_t)(nm ? nm : 1));
	resp->markers_count = nm;
	for (int i = 0; i < nm; i++) {
		const struct write_txn_markers_request_writable_txn_marker *m = &wq->markers[i];
		struct write_txn_markers_response_writable_txn_marker_result *mr = &resp->markers[i];
		write_txn_markers_response_writable_txn_marker_result_init(mr);
		mr->producer_id = m->producer_id;
		int nt = m->topics_count > 0 ? m->topics_count : 0;
		mr->topics = arena_alloc(&req->arena, sizeof *mr->topics * (size_t)(nt ? nt : 1));
		mr->topics_count = nt;
		for (int t = 0; t < nt; t++) {
			const struct write_txn_markers_request_writable_txn_marker_topic *mt = &m->topics[t];
			struct write_txn_markers_response_writable_txn_marker_topic_result *tr = &mr->topics[t];
			write_txn_markers_response_writable_txn_marker_topic_result_init(tr);
			tr->name = mt->name;
			int np = mt->partition_indexes_count > 0 ? mt->partition_indexes_count : 0;
			tr->partitions = arena_alloc(&req->arena, sizeof *tr->partitions * (size_t)(np ? np : 1));
			tr->partitions_count = np;
			for (int k = 0; k < np; k++) {
				part_result *pr = &tr->partitions[k];
				write_txn_markers_response_writable_txn_marker_partition_result_init(pr);
				pr->partition_index = mt->partition_indexes[k];
				if (!allowed) {
					pr->error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
					continue;
				}
				if (!mt->name.ptr) {
					pr->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
					continue;
				}
				write_one(req, m, mt->name, pr, &acks[n_acks]);
				if (acks[n_acks].pr)
					n_acks++;
			}
		}
	}
	if (n_acks > 0 && b->purgatory) {
		struct delayed_markers *dm = arena_alloc(&req->arena, sizeof *dm);
		*dm = (struct delayed_markers){ req, resp, acks, n_acks };
		if (try_acks(dm, false))
			return;
		struct purgatory_key *keys = arena_alloc(&req->arena, sizeof *keys * (size_t)n_acks);
		for (int i = 0; i < n_acks; i++)
			keys[i] = purgatory_partition_key(acks[i].topic.ptr, (size_t)acks[i].topic.len,
							  acks[i].pr->partition_index);
		purgatory_add(b->purgatory, dm, wall_clock_ms() + MARKER_ACK_TIMEOUT_MS, try_acks, keys, (size_t)n_acks);
		return;
	}
	request_respond(req, resp);
}
