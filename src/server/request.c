/*
 * Request dispatch: decode the header, find the handler, decode the body into
 * the request's arena, call the handler; and the answer path back to the
 * network layer.  Protocol violations close the connection, as Kafka's
 * SocketServer does when a request cannot be parsed.
 */
#include "server/request.h"

#include <stdlib.h>

#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/metrics.h"
#include "samsa/util/xalloc.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/sasl.h"

/* APIs implemented only up to some version so far: advertised and accepted up to it. */
static const struct {
	int16_t key, max;
} narrowed[] = {
	{ -1, -1 }, /* none today */
};

int16_t api_max_version(int16_t api_key)
{
	for (size_t i = 0; i < sizeof narrowed / sizeof narrowed[0]; i++)
		if (narrowed[i].key == api_key)
			return narrowed[i].max;
	const struct proto_api *api = proto_api_get(api_key);
	return api ? api->max_version : -1;
}

static const api_handler_fn handlers[] = {
	[API_PRODUCE] = handle_produce,
	[API_FETCH] = handle_fetch,
	[API_LIST_OFFSETS] = handle_list_offsets,
	[API_METADATA] = handle_metadata,
	[API_LEADER_AND_ISR] = handle_leader_and_isr,
	[API_STOP_REPLICA] = handle_stop_replica,
	[API_UPDATE_METADATA] = handle_update_metadata,
	[API_CONTROLLED_SHUTDOWN] = handle_controlled_shutdown,
	[API_OFFSET_COMMIT] = handle_offset_commit,
	[API_OFFSET_FETCH] = handle_offset_fetch,
	[API_FIND_COORDINATOR] = handle_find_coordinator,
	[API_JOIN_GROUP] = handle_join_group,
	[API_HEARTBEAT] = handle_heartbeat,
	[API_LEAVE_GROUP] = handle_leave_group,
	[API_SYNC_GROUP] = handle_sync_group,
	[API_DESCRIBE_GROUPS] = handle_describe_groups,
	[API_LIST_GROUPS] = handle_list_groups,
	[API_API_VERSIONS] = handle_api_versions,
	[API_CREATE_TOPICS] = handle_create_topics,
	[API_DELETE_TOPICS] = handle_delete_topics,
	[API_DELETE_RECORDS] = handle_delete_records,
	[API_OFFSET_FOR_LEADER_EPOCH] = handle_offset_for_leader_epoch,
	[API_CREATE_PARTITIONS] = handle_create_partitions,
	[API_DELETE_GROUPS] = handle_delete_groups,
	[API_ELECT_LEADERS] = handle_elect_leaders,
	[API_ALTER_PARTITION_REASSIGNMENTS] = handle_alter_partition_reassignments,
	[API_LIST_PARTITION_REASSIGNMENTS] = handle_list_partition_reassignments,
	[API_OFFSET_DELETE] = handle_offset_delete,
	[API_DESCRIBE_LOG_DIRS] = handle_describe_log_dirs,
	[API_ALTER_REPLICA_LOG_DIRS] = handle_alter_replica_log_dirs,
	[API_SASL_HANDSHAKE] = handle_sasl_handshake,
	[API_SASL_AUTHENTICATE] = handle_sasl_authenticate,
	[API_ALTER_USER_SCRAM_CREDENTIALS] = handle_alter_user_scram_credentials,
	[API_DESCRIBE_USER_SCRAM_CREDENTIALS] = handle_describe_user_scram_credentials,
	[API_DESCRIBE_CONFIGS] = handle_describe_configs,
	[API_ALTER_CONFIGS] = handle_alter_configs,
	[API_INCREMENTAL_ALTER_CONFIGS] = handle_incremental_alter_configs,
	[API_DESCRIBE_ACLS] = handle_describe_acls,
	[API_CREATE_ACLS] = handle_create_acls,
	[API_DELETE_ACLS] = handle_delete_acls,
	[API_INIT_PRODUCER_ID] = handle_init_producer_id,
};

api_handler_fn api_handler(int16_t api_key)
{
	if (api_key < 0 || (size_t)api_key >= sizeof handlers / sizeof handlers[0])
		return NULL;
	return handlers[api_key];
}

void request_free(struct request *req)
{
	/* Kafka's TotalTimeMs: from the request's arrival to its answer being handed to the network. */
	if (req->start_us > 0)
		metrics_request_done(req->header.api_key, metrics_now_us() - req->start_us);
	arena_free(&req->arena);
	free(req);
}

void request_dispatch(struct conn *c, const struct conn_info *info, const uint8_t *frame, size_t len,
		      void *arg)
{
	struct broker *b = arg;
	/* After SaslHandshake v0 the frames are bare SASL tokens, not requests. */
	if (sasl_intercept(b, c, info, frame, len))
		return;
	struct rd r;
	rd_init(&r, frame, len);

	struct request *req = xcalloc(1, sizeof *req);
	req->broker = b;
	req->conn = c;
	req->info = *info;
	arena_init(&req->arena);

	if (request_header_decode(&r, &req->header) != 0) {
		log_warn("Closing connection %s (listener %s): malformed request header (%zu bytes)",
			 info->peer, info->listener_name, len);
		request_close(req);
		return;
	}
	const struct request_header *h = &req->header;
	const struct proto_api *api = proto_api_get(h->api_key);
	api_handler_fn fn = api_handler(h->api_key);
	if (api && fn) {
		req->start_us = metrics_now_us();
		metrics_request_received(h->api_key, h->api_version);
	}

	if (!api || !fn) {
		log_warn("Closing connection %s: unsupported API key %d (correlation id %d)", info->peer,
			 h->api_key, h->correlation_id);
		request_close(req);
		return;
	}
	int16_t max_version = api_max_version(h->api_key);
	if (h->api_version < api->min_version || h->api_version > max_version) {
		if (h->api_key == API_API_VERSIONS && h->api_version > max_version) {
			/* KIP-511: a newer client learns our versions from a v0 answer. */
			api_versions_unsupported(req);
			return;
		}
		log_warn("Closing connection %s: unsupported version %d of API %s (correlation id %d)",
			 info->peer, h->api_version, api->name, h->correlation_id);
		request_close(req);
		return;
	}
	if (proto_request_decode(h->api_key, h->api_version, &r, &req->arena, &req->body) != 0 || r.err) {
		log_warn("Closing connection %s: malformed %s v%d request (correlation id %d)", info->peer,
			 api->name, h->api_version, h->correlation_id);
		request_close(req);
		return;
	}
	if (!sasl_allows(req))
		return;
	fn(req);
}

void request_respond(struct request *req, const void *response)
{
	const struct request_header *h = &req->header;
	struct wbuf w;
	wbuf_init(&w);
	response_header_encode(&w, response_header_version(h->api_key, h->api_version), h->correlation_id);
	proto_response_encode(h->api_key, h->api_version, &w, response);
	net_respond(req->conn, &w);
	wbuf_free(&w);
	request_free(req);
}

void request_respond_spliced(struct request *req, const void *response, const struct net_file_range *files,
			     size_t n_files)
{
	const struct request_header *h = &req->header;
	struct wbuf w;
	wbuf_init(&w);
	response_header_encode(&w, response_header_version(h->api_key, h->api_version), h->correlation_id);
	proto_response_encode(h->api_key, h->api_version, &w, response);
	if (w.ngaps != n_files) {
		/* Some record field did not make it into this version's encoding: a bug, not the client's fault. */
		log_error("Response to %s: %zu file ranges for %zu gaps; closing", req->info.peer, n_files, w.ngaps);
		for (size_t i = 0; i < n_files; i++)
			if (files[i].lazy.release)
				files[i].lazy.release(files[i].lazy.arg);
		wbuf_free(&w);
		request_close(req);
		return;
	}
	net_respond_spliced(req->conn, &w, files);
	wbuf_free(&w);
	request_free(req);
}

void request_respond_none(struct request *req)
{
	net_respond_none(req->conn);
	request_free(req);
}

void request_close(struct request *req)
{
	net_close(req->conn);
	request_free(req);
}
