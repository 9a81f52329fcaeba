/*
 * The broker's side of the transaction coordinator: the API handlers hand
 * their requests over as txn_requests, and the txn_host gives the
 * coordinator the __transaction_state partitions (append, read, wait for
 * replication), producer ids, and the inter-broker channel its
 * WriteTxnMarkers go over [Kafka's TransactionMarkerChannelManager: one
 * request per partition leader, on the inter-broker listener].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/client.h"
#include "samsa/config.h"
#include "samsa/group.h"
#include "samsa/log.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "samsa/txn.h"
#include "samsa/util/arena.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "server/admin_executor.h"
#include "server/authorizer.h"
#include "server/apis.h"
#include "server/broker.h"
#include "server/coordinator_log.h"
#include "server/producer_ids.h"
#include "server/request.h"
#include "server/txn_apis.h"

#define WRITE_TXN_MARKERS_VERSION 1

/* --- requests --------------------------------------------------------------------------- */

static void respond(struct txn_request *tr, const void *resp) { request_respond(tr->token, resp); }

static struct txn_request *wrap(struct request *req)
{
	struct txn_request *tr = arena_alloc(&req->arena, sizeof *tr);
	*tr = (struct txn_request){ .api_version = req->header.api_version,
				    .body = req->body,
				    .arena = &req->arena,
				    .respond = respond,
				    .token = req };
	return tr;
}

static bool may_write_txn(struct request *req, struct kstr id)
{
	return request_authorize(req, ACL_OP_WRITE, ACL_RESOURCE_TRANSACTIONAL_ID, id.ptr ? id.ptr : "",
				 id.ptr ? (size_t)id.len : 0);
}

/*
 * [KafkaApis.handleAddPartitionsToTxnRequest] v0-v3: Write on the transactional id
 * (every partition TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then Write on each topic
 * (TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED); v4+, brokers'
 * requests: ClusterAction on the cluster.
 */
void handle_add_partitions_to_txn(struct request *req)
{
	const struct add_partitions_to_txn_request *ap = req->body;
	if (req->header.api_version >= 4) {
		if (!request_authorize(req, ACL_OP_CLUSTER_ACTION, ACL_RESOURCE_CLUSTER, NULL, 0)) {
			struct add_partitions_to_txn_response resp;
			add_partitions_to_txn_response_init(&resp);
			resp.error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
			resp.results_by_transaction_count = 0;
			request_respond(req, &resp);
			return;
		}
		txn_handle_add_partitions(req->broker->txns, wrap(req));
		return;
	}
	int n = ap->v3_and_below_topics_count > 0 ? ap->v3_and_below_topics_count : 0;
	bool txn_ok = may_write_txn(req, ap->v3_and_below_transactional_id);
	bool *topic_ok = arena_alloc(&req->arena, sizeof *topic_ok * (size_t)(n ? n : 1));
	bool all = txn_ok;
	for (int i = 0; i < n && txn_ok; i++) {
		struct kstr t = ap->v3_and_below_topics[i].name;
		topic_ok[i] = request_authorize(req, ACL_OP_WRITE, ACL_RESOURCE_TOPIC, t.ptr ? t.ptr : "",
						t.ptr ? (size_t)t.len : 0);
		all &= topic_ok[i];
	}
	if (all) {
		txn_handle_add_partitions(req->broker->txns, wrap(req));
		return;
	}
	struct add_partitions_to_txn_response resp;
	add_partitions_to_txn_response_init(&resp);
	resp.results_by_topic_v3_and_below = arena_alloc(&req->arena, sizeof *resp.results_by_topic_v3_and_below * (size_t)(n ? n : 1));
	resp.results_by_topic_v3_and_below_count = n;
	for (int i = 0; i < n; i++) {
		const struct add_partitions_to_txn_request_add_partitions_to_txn_topic *t = &ap->v3_and_below_topics[i];
		struct add_partitions_to_txn_response_add_partitions_to_txn_topic_result *tr =
		    &resp.results_by_topic_v3_and_below[i];
		add_partitions_to_txn_response_add_partitions_to_txn_topic_result_init(tr);
		tr->name = t->name;
		int np = t->partitions_count > 0 ? t->partitions_count : 0;
		tr->results_by_partition = arena_alloc(&req->arena, sizeof *tr->results_by_partition * (size_t)(np ? np : 1));
		tr->results_by_partition_count = np;
		int16_t err = !txn_ok ? KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED
				      : topic_ok[i] ? KERR_OPERATION_NOT_ATTEMPTED : KERR_TOPIC_AUTHORIZATION_FAILED;
		for (int j = 0; j < np; j++) {
			tr->results_by_partition[j].partition_index = t->partitions[j];
			tr->results_by_partition[j].partition_error_code = err;
		}
	}
	request_respond(req, &resp);
}

/* Write on the transactional id, Read on the group. */
void handle_add_offsets_to_txn(struct request *req)
{
	const struct add_offsets_to_txn_request *ao = req->body;
	int16_t err = KERR_NONE;
	if (!may_write_txn(req, ao->transactional_id))
		err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	else if (!request_authorize(req, ACL_OP_READ, ACL_RESOURCE_GROUP, ao->group_id.ptr ? ao->group_id.ptr : "",
				    ao->group_id.ptr ? (size_t)ao->group_id.len : 0))
		err = KERR_GROUP_AUTHORIZATION_FAILED;
	if (err != KERR_NONE) {
		struct add_offsets_to_txn_response resp;
		add_offsets_to_txn_response_init(&resp);
		resp.error_code = err;
		request_respond(req, &resp);
		return;
	}
	txn_handle_add_offsets(req->broker->txns, wrap(req));
}

void handle_end_txn(struct request *req)
{
	const struct end_txn_request *et = req->body;
	if (!may_write_txn(req, et->transactional_id)) {
		struct end_txn_response resp;
		end_txn_response_init(&resp);
		resp.error_code = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
		request_respond(req, &resp);
		return;
	}
	txn_handle_end_txn(req->broker->txns, wrap(req));
}

/*
 * Describe on each transactional id: the ids the principal may not describe get
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED.  The coordinator answers a copy of the
 * request without them, and the answer is put back together in the request's order.
 */
struct describe_wrap {
	struct request *req;
	bool *allowed;
	int n;
};

static void describe_respond(struct txn_request *tr, const void *r)
{
	struct describe_wrap *dw = tr->token;
	const struct describe_transactions_response *got = r;
	struct describe_transactions_response resp = *got;
	resp.transaction_states = arena_alloc(&dw->req->arena, sizeof *resp.transaction_states * (size_t)(dw->n ? dw->n : 1));
	resp.transaction_states_count = dw->n;
	const struct describe_transactions_request *dq = dw->req->body;
	int k = 0;
	for (int i = 0; i < dw->n; i++) {
		if (dw->allowed[i] && k < got->transaction_states_count) {
			resp.transaction_states[i] = got->transaction_states[k++];
			continue;
		}
		struct describe_transactions_response_transaction_state *s = &resp.transaction_states[i];
		describe_transactions_response_transaction_state_init(s);
		s->error_code = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
		s->transactional_id = dq->transactional_ids[i];
		s->transaction_state = kstr_c("");
		s->producer_id = -1;
		s->producer_epoch = -1;
		s->transaction_start_time_ms = -1;
		s->topics_count = 0;
	}
	request_respond(dw->req, &resp);
}

void handle_describe_transactions(struct request *req)
{
	const struct describe_transactions_request *dq = req->body;
	int n = dq->transactional_ids_count > 0 ? dq->transactional_ids_count : 0;
	struct describe_wrap *dw = arena_alloc(&req->arena, sizeof *dw);
	dw->req = req;
	dw->n = n;
	dw->allowed = arena_alloc(&req->arena, sizeof *dw->allowed * (size_t)(n ? n : 1));
	struct describe_transactions_request *sub = arena_alloc(&req->arena, sizeof *sub);
	*sub = *dq;
	sub->transactional_ids = arena_alloc(&req->arena, sizeof *sub->transactional_ids * (size_t)(n ? n : 1));
	sub->transactional_ids_count = 0;
	for (int i = 0; i < n; i++) {
		struct kstr id = dq->transactional_ids[i];
		dw->allowed[i] = request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TRANSACTIONAL_ID, id.ptr ? id.ptr : "",
						   id.ptr ? (size_t)id.len : 0);
		if (dw->allowed[i])
			sub->transactional_ids[sub->transactional_ids_count++] = id;
	}
	struct txn_request *tr = wrap(req);
	tr->body = sub;
	tr->respond = describe_respond;
	tr->token = dw;
	txn_handle_describe_transactions(req->broker->txns, tr);
}

/* Only the ids the principal may describe are listed [KafkaApis.handleListTransactionsRequest]. */
static void list_respond(struct txn_request *tr, const void *r)
{
	struct request *req = tr->token;
	struct list_transactions_response resp = *(const struct list_transactions_response *)r;
	int k = 0;
	for (int i = 0; i < resp.transaction_states_count; i++) {
		struct kstr id = resp.transaction_states[i].transactional_id;
		if (request_authorize_quiet(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TRANSACTIONAL_ID, id.ptr ? id.ptr : "",
					    id.ptr ? (size_t)id.len : 0))
			resp.transaction_states[k++] = resp.transaction_states[i];
	}
	resp.transaction_states_count = k;
	request_respond(req, &resp);
}

void handle_list_transactions(struct request *req)
{
	struct txn_request *tr = wrap(req);
	tr->respond = list_respond;
	tr->token = req;
	txn_handle_list_transactions(req->broker->txns, tr);
}

void txn_init_producer_id(struct request *req) { txn_handle_init_producer_id(req->broker->txns, wrap(req)); }

/* --- the host ------------------------------------------------------------------------- */

static int16_t host_append(void *arg, int32_t partition, uint8_t *records, size_t len, int64_t *wait_offset)
{
	return coordinator_log_append(arg, TXN_STATE_TOPIC, partition, records, len, wait_offset);
}

static int16_t host_read(void *arg, int32_t partition, int64_t offset, size_t max_bytes, struct wbuf *out,
			 int64_t *log_start_offset)
{
	return coordinator_log_read(arg, TXN_STATE_TOPIC, partition, offset, max_bytes, out, log_start_offset);
}

static bool host_replicated(void *arg, int32_t partition, int64_t required, int16_t *err)
{
	return coordinator_log_replicated(arg, TXN_STATE_TOPIC, partition, required, err);
}

static void host_park(void *arg, int32_t partition, int64_t deadline, bool (*try_complete)(void *op, bool expired),
		      void *op)
{
	coordinator_log_park(arg, TXN_STATE_TOPIC, partition, deadline, try_complete, op);
}

static int16_t host_next_producer_id(void *arg, int64_t *out)
{
	struct broker *b = arg;
	return producer_ids_next(b->producer_ids, out);
}

static bool host_has_partition(void *arg, struct kstr topic, int32_t partition)
{
	return broker_has_partition(arg, topic, partition);
}

static int32_t host_offsets_partition_for(void *arg, const char *group, size_t len)
{
	struct broker *b = arg;
	return group_coordinator_partition_for(b->groups, group, len);
}

/* The leader of topic-partition and its inter-broker "host:port"; -1 when unknown. */
static int32_t leader_of(struct broker *b, const struct metadata_snapshot *s, const char *topic, int32_t partition,
			 char *hostport, size_t cap)
{
	const struct mc_topic *t = metadata_snapshot_find_topic(s, topic, strlen(topic));
	const struct mc_partition *mp = t ? mc_topic_partition((struct mc_topic *)t, partition, false) : NULL;
	if (!mp || mp->leader < 0)
		return -1;
	const struct mc_broker *mb = metadata_snapshot_broker(s, mp->leader);
	const struct mc_endpoint *e = mb ? mc_broker_endpoint(mb, b->bc->inter_broker_listener_name) : NULL;
	if (!e)
		return -1;
	snprintf(hostport, cap, "%s:%d", e->host, e->port);
	return mp->leader;
}

/* One WriteTxnMarkers to one leader for the partitions of m it leads (those with error == -2). */
static void send_to_leader(struct broker *b, struct txn_marker *m, int32_t leader, const char *hostport)
{
	struct arena a;
	arena_init(&a);
	struct write_txn_markers_request rq;
	write_txn_markers_request_init(&rq);
	struct write_txn_markers_request_writable_txn_marker *wm = arena_alloc(&a, sizeof *wm);
	write_txn_markers_request_writable_txn_marker_init(wm);
	wm->producer_id = m->producer_id;
	wm->producer_epoch = m->producer_epoch;
	wm->transaction_result = m->commit;
	wm->coordinator_epoch = m->coordinator_epoch;
	wm->topics = arena_alloc(&a, sizeof *wm->topics * (size_t)m->n_partitions);
	wm->topics_count = 0;
	for (int i = 0; i < m->n_partitions; i++) {
		if (m->partitions[i].error != -2)
			continue;
		struct write_txn_markers_request_writable_txn_marker_topic *t = NULL;
		for (int k = 0; k < wm->topics_count; k++)
			if (strcmp(wm->topics[k].name.ptr, m->partitions[i].topic) == 0)
				t = &wm->topics[k];
		if (!t) {
			t = &wm->topics[wm->topics_count++];
			write_txn_markers_request_writable_txn_marker_topic_init(t);
			t->name = kstr_c(m->partitions[i].topic);
			t->partition_indexes = arena_alloc(&a, sizeof *t->partition_indexes * (size_t)m->n_partitions);
			t->partition_indexes_count = 0;
		}
		t->partition_indexes[t->partition_indexes_count++] = m->partitions[i].partition;
	}
	rq.markers = wm;
	rq.markers_count = 1;
	struct kclient kc;
	int16_t fail = KERR_NETWORK_EXCEPTION;
	if (kclient_connect_secure(&kc, hostport, 10000, b->inter_broker_security) == 0) {
		snprintf(kc.client_id, sizeof kc.client_id, "broker-%d-txn-marker-sender", b->id);
		void *out = NULL;
		if (kclient_call(&kc, API_WRITE_TXN_MARKERS, WRITE_TXN_MARKERS_VERSION, &rq, &a, &out) == 0) {
			const struct write_txn_markers_response *resp = out;
			for (int32_t x = 0; x < resp->markers_count; x++)
				for (int32_t y = 0; y < resp->markers[x].topics_count; y++) {
					const struct write_txn_markers_response_writable_txn_marker_topic_result *tr =
					    &resp->markers[x].topics[y];
					for (int32_t z = 0; z < tr->partitions_count; z++)
						for (int i = 0; i < m->n_partitions; i++)
							if (m->partitions[i].error == -2 &&
							    m->partitions[i].partition == tr->partitions[z].partition_index &&
							    tr->name.ptr && (size_t)tr->name.len == strlen(m->partitions[i].topic) &&
							    memcmp(tr->name.ptr, m->partitions[i].topic, (size_t)tr->name.len) == 0)
								m->partitions[i].error = tr->partitions[z].error_code;
				}
		} else {
			log_warn("Transaction markers: WriteTxnMarkers to broker %d at %s failed; will retry", leader,
				 hostport);
		}
	} else {
		log_warn("Transaction markers: cannot connect to broker %d at %s; will retry", leader, hostport);
	}
	kclient_close(&kc);
	/* Partitions the answer did not mention. */
	for (int i = 0; i < m->n_partitions; i++)
		if (m->partitions[i].error == -2)
			m->partitions[i].error = fail;
	arena_free(&a);
}

static void host_write_markers(void *arg, struct txn_marker *m)
{
	struct broker *b = arg;
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	int32_t *leaders = xcalloc((size_t)m->n_partitions, sizeof *leaders);
	char (*hp)[300] = xcalloc((size_t)m->n_partitions, sizeof *hp);
	for (int i = 0; i < m->n_partitions; i++) {
		leaders[i] = leader_of(b, s, m->partitions[i].topic, m->partitions[i].partition, hp[i], sizeof hp[i]);
		/* No leader known: not written this time [the channel manager's unknown-leader queue]. */
		m->partitions[i].error = leaders[i] < 0 ? (metadata_snapshot_has_partition(s, kstr_c(m->partitions[i].topic),
											  m->partitions[i].partition)
							       ? KERR_LEADER_NOT_AVAILABLE
							       : KERR_UNKNOWN_TOPIC_OR_PARTITION)
							    : KERR_NONE;
	}
	metadata_snapshot_release(s);
	/* One request per leader, its partitions marked -2 while they wait. */
	for (int i = 0; i < m->n_partitions; i++) {
		if (leaders[i] < 0 || m->partitions[i].error != KERR_NONE || leaders[i] == -3)
			continue;
		int32_t leader = leaders[i];
		for (int j = i; j < m->n_partitions; j++)
			if (leaders[j] == leader) {
				m->partitions[j].error = -2;
				leaders[j] = -3; /* done with */
			}
		send_to_leader(b, m, leader, hp[i]);
	}
	free(leaders);
	free(hp);
}

struct txn_host broker_txn_host(struct broker *b)
{
	return (struct txn_host){ .arg = b,
				  .append = host_append,
				  .read = host_read,
				  .replicated = host_replicated,
				  .park = host_park,
				  .next_producer_id = host_next_producer_id,
				  .has_partition = host_has_partition,
				  .offsets_partition_for = host_offsets_partition_for,
				  .write_markers = host_write_markers };
}
