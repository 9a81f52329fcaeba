/*
 * The broker's side of the group coordinator: the API handlers hand their
 * requests over as group_requests, and the group_host gives the coordinator
 * the __consumer_offsets partitions (append, read, wait for replication)
 * through the replica manager, the purgatory and the metadata cache.
 * OffsetCommit and OffsetFetch v0 stay here: their home is ZooKeeper.
 */
#include <string.h>

#include "samsa/group.h"
#include "samsa/log.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/coordinator_log.h"
#include "server/group_apis.h"
#include "server/request.h"


/* --- requests ------------------------------------------------------------------------- */

static void respond(struct group_request *gr, const void *resp) { request_respond(gr->token, resp); }

static bool authorize(struct group_request *gr, int op, int type, const char *name, size_t len, bool quiet)
{
	struct request *req = gr->token;
	if (type == ACL_RESOURCE_CLUSTER)
		name = NULL;
	return quiet ? request_authorize_quiet(req, op, type, name, len) : request_authorize(req, op, type, name, len);
}

/* The request's view for the coordinator, in its arena: it dies with the request. */
static struct group_request *wrap(struct request *req)
{
	struct group_request *gr = arena_alloc(&req->arena, sizeof *gr);
	*gr = (struct group_request){ .api_version = req->header.api_version,
				      .body = req->body,
				      .arena = &req->arena,
				      .client_id = req->header.client_id,
				      .peer = req->info.peer,
				      .respond = respond,
				      .token = req,
				      .authorize = req->broker->authorizer ? authorize : NULL };
	return gr;
}

void handle_join_group(struct request *req) { group_handle_join_group(req->broker->groups, wrap(req)); }
void handle_sync_group(struct request *req) { group_handle_sync_group(req->broker->groups, wrap(req)); }
void handle_heartbeat(struct request *req) { group_handle_heartbeat(req->broker->groups, wrap(req)); }
void handle_leave_group(struct request *req) { group_handle_leave_group(req->broker->groups, wrap(req)); }
void handle_offset_delete(struct request *req) { group_handle_offset_delete(req->broker->groups, wrap(req)); }
void handle_describe_groups(struct request *req) { group_handle_describe_groups(req->broker->groups, wrap(req)); }
void handle_list_groups(struct request *req) { group_handle_list_groups(req->broker->groups, wrap(req)); }
void handle_delete_groups(struct request *req) { group_handle_delete_groups(req->broker->groups, wrap(req)); }
void handle_txn_offset_commit(struct request *req)
{
	group_handle_txn_offset_commit(req->broker->groups, wrap(req));
}

void handle_offset_commit(struct request *req)
{
	if (req->header.api_version == 0)
		zk_offset_commit(req);
	else
		group_handle_offset_commit(req->broker->groups, wrap(req));
}

void handle_offset_fetch(struct request *req)
{
	if (req->header.api_version == 0)
		zk_offset_fetch(req);
	else
		group_handle_offset_fetch(req->broker->groups, wrap(req));
}

/* --- the host ------------------------------------------------------------------------- */

static int16_t host_append(void *arg, int32_t partition, uint8_t *records, size_t len, int64_t *wait_offset)
{
	return coordinator_log_append(arg, GROUP_OFFSETS_TOPIC, partition, records, len, wait_offset);
}

static int16_t host_read(void *arg, int32_t partition, int64_t offset, size_t max_bytes, struct wbuf *out,
			 int64_t *log_start_offset)
{
	return coordinator_log_read(arg, GROUP_OFFSETS_TOPIC, partition, offset, max_bytes, out, log_start_offset);
}

static bool host_replicated(void *arg, int32_t partition, int64_t required, int16_t *err)
{
	return coordinator_log_replicated(arg, GROUP_OFFSETS_TOPIC, partition, required, err);
}

static void host_park(void *arg, int32_t partition, int64_t deadline, bool (*try_complete)(void *op, bool expired),
		      void *op)
{
	coordinator_log_park(arg, GROUP_OFFSETS_TOPIC, partition, deadline, try_complete, op);
}

static bool host_has_partition(void *arg, struct kstr topic, int32_t partition)
{
	return broker_has_partition(arg, topic, partition);
}

struct group_host broker_group_host(struct broker *b)
{
	return (struct group_host){ .arg = b,
				    .append = host_append,
				    .read = host_read,
				    .replicated = host_replicated,
				    .park = host_park,
				    .has_partition = host_has_partition };
}
