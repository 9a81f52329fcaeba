/*
 * InitProducerId [Kafka's KafkaApis.handleInitProducerIdRequest and the
 * transactional-id-less branch of TransactionCoordinator.handleInitProducerId]:
 * an idempotent producer (null transactional_id) gets a fresh producer id with
 * epoch 0 from any broker.  Ids come from this broker's block (producer_ids.c);
 * when it is used up the request waits on the admin executor while the next
 * block is claimed in ZooKeeper.
 */
#include "samsa/proto.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/producer_ids.h"
#include "server/request.h"

static void answer(struct request *req, int16_t err, int64_t producer_id, int16_t epoch)
{
	struct init_producer_id_response resp;
	init_producer_id_response_init(&resp);
	resp.error_code = err;
	resp.producer_id = err == KERR_NONE ? producer_id : -1;
	resp.producer_epoch = err == KERR_NONE ? epoch : -1;
	request_respond(req, &resp);
}

static void init_idempotent(struct request *req)
{
	int64_t id = -1;
	int16_t err = producer_ids_next(req->broker->producer_ids, &id);
	answer(req, err, id, 0);
}

/* On the admin executor: claim a block, then answer. */
static void refill_then_init(struct request *req)
{
	int16_t err = producer_ids_refill(req->broker->producer_ids);
	if (err != KERR_NONE) {
		answer(req, err, -1, -1);
		return;
	}
	init_idempotent(req);
}

void handle_init_producer_id(struct request *req)
{
	const struct init_producer_id_request *ip = req->body;
	struct broker *b = req->broker;
	/* Kafka's checks come first: Write on the transactional id, or for an idempotent producer
	 * IdempotentWrite on the cluster or else Write on some topic. */
	if (ip->transactional_id.ptr && ip->transactional_id.len > 0 &&
	    !request_authorize(req, ACL_OP_WRITE, ACL_RESOURCE_TRANSACTIONAL_ID, ip->transactional_id.ptr,
			       (size_t)ip->transactional_id.len)) {
		answer(req, KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1);
		return;
	}
	if (!ip->transactional_id.ptr && !request_authorize_quiet(req, ACL_OP_IDEMPOTENT_WRITE, ACL_RESOURCE_CLUSTER, NULL, 0) &&
	    !request_authorize_any(req, ACL_OP_WRITE, ACL_RESOURCE_TOPIC)) {
		answer(req, KERR_CLUSTER_AUTHORIZATION_FAILED, -1, -1);
		return;
	}
	/* v3+: an existing producer id and epoch come together or not at all. */
	if ((ip->producer_id == -1) != (ip->producer_epoch == -1)) {
		answer(req, KERR_INVALID_REQUEST, -1, -1);
		return;
	}
	if (ip->transactional_id.ptr) {
		/* An empty transactional id is refused as the producer client refuses it. */
		answer(req, ip->transactional_id.len == 0 ? KERR_INVALID_REQUEST : KERR_NOT_COORDINATOR, -1, -1);
		return;
	}
	if (!producer_ids_available(b->producer_ids)) {
		admin_executor_submit(b->admin, req, refill_then_init);
		return;
	}
	init_idempotent(req);
}
