/*
 * ApiVersions: which APIs and versions this broker speaks.  We advertise only
 * what has a handler (narrowed honestly from the list a ZK-mode 3.9 broker
 * sends), with the version ranges Kafka 3.9 supports for them.
 */
#include <stdbool.h>

#include "samsa/proto.h"
#include "server/apis.h"
#include "server/broker.h"

static void fill(struct request *req, struct api_versions_response *resp, int16_t error)
{
	api_versions_response_init(resp);
	resp->error_code = error;
	size_t n_apis;
	const struct proto_api *apis = proto_api_list(&n_apis);
	resp->api_keys = arena_alloc(&req->arena, sizeof *resp->api_keys * n_apis);
	resp->api_keys_count = 0;
	for (size_t i = 0; i < n_apis; i++) {
		const struct proto_api *api = &apis[i];
		if (!(api->listeners & PROTO_LISTENER_ZK_BROKER) || !api_handler(api->key))
			continue;
		struct api_versions_response_api_version *v = &resp->api_keys[resp->api_keys_count++];
		api_versions_response_api_version_init(v);
		v->api_key = api->key;
		v->min_version = api->min_version;
		v->max_version = api_max_version(api->key);
	}
	/* A ZK-mode broker supports no features (empty BrokerFeatures) and reports the
	 * /feature znode's finalized set, which is empty on a fresh cluster. */
	resp->finalized_features_epoch = req->broker->finalized_features_epoch;
	resp->zk_migration_ready = false;
}

void handle_api_versions(struct request *req)
{
	struct api_versions_response resp;
	fill(req, &resp, KERR_NONE);
	request_respond(req, &resp);
}

void api_versions_unsupported(struct request *req)
{
	struct api_versions_response resp;
	fill(req, &resp, KERR_UNSUPPORTED_VERSION);
	/* Answer at v0, the one version every client can read. */
	req->header.api_version = 0;
	request_respond(req, &resp);
}
