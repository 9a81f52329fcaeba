/*
 * ControlledShutdown, both ends [Kafka's KafkaApis.handleControlledShutdownRequest
 * and KafkaServer.controlledShutdown]: the controller moves a stopping broker's
 * leaderships to other ISR members before the broker goes, so clients see a
 * leader change instead of an outage; the stopping broker asks for it and
 * retries while it still leads partitions.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "samsa/client.h"
#include "samsa/config.h"
#include "samsa/controller.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/zk.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

/* The version a 3.9 broker sends (inter.broker.protocol.version >= 2.4-IV1). */
#define CONTROLLED_SHUTDOWN_VERSION 3

/* Runs on the controller thread (or at once when this broker cannot answer). */
static void on_shutdown_done(void *arg, int16_t error, const struct topic_partition_ref *remaining, int n)
{
	struct request *req = arg;
	struct controlled_shutdown_response resp;
	controlled_shutdown_response_init(&resp);
	resp.error_code = error;
	if (error == KERR_NONE && n > 0) {
		resp.remaining_partitions = arena_alloc(&req->arena, sizeof *resp.remaining_partitions * (size_t)n);
		resp.remaining_partitions_count = n;
		for (int i = 0; i < n; i++) {
			struct controlled_shutdown_response_remaining_partition *rp = &resp.remaining_partitions[i];
			controlled_shutdown_response_remaining_partition_init(rp);
			rp->topic_name = kstr_c(arena_strndup(&req->arena, remaining[i].topic, strlen(remaining[i].topic)));
			rp->partition_index = remaining[i].partition;
		}
	}
	request_respond(req, &resp);
}

void handle_controlled_shutdown(struct request *req)
{
	const struct controlled_shutdown_request *cr = req->body;
	struct broker *b = req->broker;
	/* v0 carries no broker epoch: Kafka's UNKNOWN_BROKER_EPOCH skips the check. */
	int64_t epoch = req->header.api_version >= 2 ? cr->broker_epoch : -1;
	struct controller *c = __atomic_load_n(&b->controller, __ATOMIC_ACQUIRE);
	if (!request_authorize(req, ACL_OP_CLUSTER_ACTION, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		on_shutdown_done(req, KERR_CLUSTER_AUTHORIZATION_FAILED, NULL, 0);
		return;
	}
	if (!c || !controller_is_active(c)) {
		on_shutdown_done(req, KERR_NOT_CONTROLLER, NULL, 0);
		return;
	}
	controller_controlled_shutdown(c, cr->broker_id, epoch, on_shutdown_done, req);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "host:port" of the controller's inter-broker endpoint, from ZooKeeper; -1 when there is none. */
static int find_controller(struct broker *b, int32_t *id, char *hostport, size_t cap)
{
	if (kafka_zk_get_controller_id(b->zk, NULL, NULL, id) != 0 || *id < 0)
		return -1;
	struct kafka_broker_info *list = NULL;
	int n = 0;
	if (kafka_zk_get_brokers(b->zk, NULL, NULL, &list, &n) != 0)
		return -1;
	int rc = -1;
	for (int i = 0; i < n && rc != 0; i++) {
		if (list[i].id != *id)
			continue;
		for (int j = 0; j < list[i].n_endpoints; j++) {
			const struct kafka_endpoint *e = &list[i].endpoints[j];
			if (strcmp(e->listener, b->bc->inter_broker_listener_name) != 0)
				continue;
			snprintf(hostport, cap, strchr(e->host, ':') ? "[%s]:%d" : "%s:%d", e->host, e->port);
			rc = 0;
			break;
		}
	}
	kafka_broker_info_free_array(list, n);
	return rc;
}

/* One attempt: true when the controller answered NONE with nothing left to move. */
static bool attempt(struct broker *b)
{
	int32_t ctl = -1;
	char hostport[300];
	if (find_controller(b, &ctl, hostport, sizeof hostport) != 0) {
		log_info("Controlled shutdown: no controller to ask");
		return false;
	}
	struct kclient kc;
	int timeout = b->bc->controller_socket_timeout_ms > 0 ? b->bc->controller_socket_timeout_ms : 30000;
	int rc = kclient_connect_secure(&kc, hostport, timeout, b->inter_broker_security);
	if (rc != 0) {
		log_warn("Controlled shutdown: cannot connect to controller %d at %s", ctl, hostport);
		kclient_close(&kc);
		return false;
	}
	snprintf(kc.client_id, sizeof kc.client_id, "%d", b->id);
	struct controlled_shutdown_request rq;
	controlled_shutdown_request_init(&rq);
	rq.broker_id = b->id;
	rq.broker_epoch = b->broker_epoch;
	struct arena a;
	arena_init(&a);
	void *out = NULL;
	int64_t t0 = mono_ms();
	bool ok = false;
	if (kclient_call(&kc, API_CONTROLLED_SHUTDOWN, CONTROLLED_SHUTDOWN_VERSION, &rq, &a, &out) != 0) {
		log_warn("Error during controlled shutdown, possibly because leader movement took longer than "
			 "controller.socket.timeout.ms (controller %d at %s)", ctl, hostport);
	} else {
		const struct controlled_shutdown_response *resp = out;
		int64_t took = mono_ms() - t0;
		if (resp->error_code != KERR_NONE) {
			log_info("Controlled shutdown request returned after %lldms with error %d", (long long)took,
				 resp->error_code);
		} else if (resp->remaining_partitions_count <= 0) {
			log_info("Controlled shutdown request returned successfully after %lldms", (long long)took);
			ok = true;
		} else {
			log_info("Controlled shutdown request returned after %lldms with %d partitions remaining to move",
				 (long long)took, resp->remaining_partitions_count);
		}
	}
	arena_free(&a);
	kclient_close(&kc);
	return ok;
}

int broker_controlled_shutdown(struct broker *b)
{
	const struct broker_config *bc = b->bc;
	if (!bc->controlled_shutdown_enable || !b->controller || !b->zk)
		return 0;
	log_info("Starting controlled shutdown");
	int retries = bc->controlled_shutdown_max_retries;
	while (retries > 0) {
		retries--;
		if (attempt(b))
			return 0;
		if (retries > 0) {
			sleep_ms(bc->controlled_shutdown_retry_backoff_ms);
			log_info("Retrying controlled shutdown (%d retries remaining)", retries);
		}
	}
	log_warn("Proceeding to do an unclean shutdown as all the controlled shutdown attempts failed");
	return -1;
}
