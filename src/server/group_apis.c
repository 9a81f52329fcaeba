/*
 * The broker's side of the group coordinator: the API handlers hand their
 * requests over as group_requests, and the group_host gives the coordinator
 * the __consumer_offsets partitions (append, read, wait for replication)
 * through the replica manager, the purgatory and the metadata cache.
 * OffsetCommit and OffsetFetch v0 stay here: their home is ZooKeeper.
 */
#include <string.h>
#include <unistd.h>

#include "samsa/group.h"
#include "samsa/log.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/purgatory.h"
#include "samsa/replica.h"
#include "samsa/util/arena.h"
#include "samsa/util/clock.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/group_apis.h"
#include "server/request.h"

#define OFFSETS_TOPIC GROUP_OFFSETS_TOPIC, strlen(GROUP_OFFSETS_TOPIC)

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
	struct broker *b = arg;
	struct partition *part = replica_manager_partition(b->replicas, OFFSETS_TOPIC, partition);
	if (!part)
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	struct log_append_info ai;
	/* acks=all as offsets.commit.required.acks asks: the append itself is acks=1, and the
	 * min ISR is checked when the commit waits for its high watermark (host_replicated). */
	int16_t err = partition_append_as_leader(part, records, len, 1, wall_clock_ms(), &ai, wait_offset);
	partition_unref(part);
	return err;
}

static int16_t host_read(void *arg, int32_t partition, int64_t offset, size_t max_bytes, struct wbuf *out,
			 int64_t *log_start_offset)
{
	struct broker *b = arg;
	wbuf_reset(out);
	struct partition *part = replica_manager_partition(b->replicas, OFFSETS_TOPIC, partition);
	if (!part)
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	struct partition_fetch pf = { .fetch_offset = offset, .max_bytes = max_bytes, .min_one = true,
				      .current_leader_epoch = -1, .replica_id = -1, .last_fetched_epoch = -1,
				      .to_log_end = true };
	struct log_read_result r;
	int32_t de;
	int64_t deo;
	int16_t err = partition_read(part, &pf, &r, &de, &deo);
	/* The partition's lock is not held across the pread below: the result pins the segment. */
	partition_unref(part);
	*log_start_offset = r.log_start_offset;
	if (err == KERR_NONE && r.length > 0) {
		uint8_t *dst = wbuf_extend(out, r.length);
		ssize_t got = pread(r.fd, dst, r.length, (off_t)r.position);
		if (got <= 0)
			err = KERR_KAFKA_STORAGE_ERROR;
		out->len = got > 0 ? (size_t)got : 0;
	}
	log_read_release(&r);
	return err;
}

static bool host_replicated(void *arg, int32_t partition, int64_t required, int16_t *err)
{
	struct broker *b = arg;
	return replica_manager_acks_done(b->replicas, OFFSETS_TOPIC, partition, required, err);
}

static void host_park(void *arg, int32_t partition, int64_t deadline, bool (*try_complete)(void *op, bool expired),
		      void *op)
{
	struct broker *b = arg;
	struct purgatory_key k = purgatory_partition_key(OFFSETS_TOPIC, partition);
	if (b->purgatory)
		purgatory_add(b->purgatory, op, deadline, try_complete, &k, 1);
	else
		(void)try_complete(op, true); /* not started or gone: answer with what there is */
}

static bool host_has_partition(void *arg, struct kstr topic, int32_t partition)
{
	struct broker *b = arg;
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	bool has = metadata_snapshot_has_partition(s, topic, partition);
	metadata_snapshot_release(s);
	return has;
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
