/*
 * The interface of src/group/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_GROUP_H
#define SAMSA_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/acl.h"
#include "samsa/util/buf.h"

/*
 * The group coordinator [Kafka's GroupCoordinator + GroupMetadataManager, the
 * classic protocol]: consumer groups and their committed offsets, kept in
 * memory for the __consumer_offsets partitions this broker leads and written
 * to those partitions in Kafka's record formats, so a restarted or newly
 * elected coordinator rebuilds them from the log.
 *
 * The coordinator knows nothing of the broker around it: it is given a
 * group_host (how to append to and read a __consumer_offsets partition, how
 * to wait for a commit to be replicated) and answers each request it is
 * handed through that request's own respond callback.  The broker's API
 * handlers (src/server/group_apis.c) wrap their requests and call the
 * group_handle_* entry points below.
 */
#define GROUP_OFFSETS_TOPIC "__consumer_offsets"

struct arena;
struct config;
struct group_coordinator;
struct offset_commit_request;
struct offset_commit_response;

/*
 * A request as the coordinator sees it: the decoded body at its version, the
 * arena its answer is built in, and how to send that answer.  It stays valid
 * until answered (a JoinGroup may wait for the rebalance); respond encodes
 * the API's response struct, sends it and frees the request, this struct
 * included (the broker allocates it in the request's arena).
 */
struct group_request {
	int16_t api_version;
	const void *body;
	struct arena *arena;
	struct kstr client_id;
	const char *peer; /* the client's "host:port" */
	void (*respond)(struct group_request *req, const void *resp);
	void *token;      /* the broker's own request */
	/* The broker's authorizer: may the request's principal do `op` (samsa/util/acl.h codes) on the
	 * resource?  NULL: everything is allowed.  Quiet checks (filters) log no denial. */
	bool (*authorize)(struct group_request *req, int op, int resource_type, const char *name, size_t len,
			  bool quiet);
};

static inline void group_respond(struct group_request *req, const void *resp) { req->respond(req, resp); }

/* Kafka's checks of the group APIs; a null name stands for the cluster resource. */
static inline bool group_authorized(struct group_request *req, int op, int resource_type, struct kstr name)
{
	return !req->authorize ||
	       req->authorize(req, op, resource_type, name.ptr ? name.ptr : "", name.ptr && name.len > 0 ? (size_t)name.len : 0,
			      false);
}
static inline bool group_authorized_quiet(struct group_request *req, int op, int resource_type, struct kstr name)
{
	return !req->authorize ||
	       req->authorize(req, op, resource_type, name.ptr ? name.ptr : "", name.ptr && name.len > 0 ? (size_t)name.len : 0,
			      true);
}

/*
 * What the coordinator asks of the broker that hosts it [the ReplicaManager
 * calls of Kafka's GroupMetadataManager].  Every call may be made with the
 * coordinator's lock held, so none may call back into the coordinator.
 */
struct group_host {
	void *arg;
	/* Append whole batches (rewritten in place: offsets, timestamps)
	 * to __consumer_offsets-<partition> as its leader, acks=all:
	 * a Kafka error code; on success *wait_offset is the high watermark the write needs
	 * before it counts as replicated. */
	int16_t (*append)(void *arg, int32_t partition, uint8_t *records, size_t len, int64_t *wait_offset);
	/* Copy whole batches from `offset` on (at least one, up to about max_bytes) into `out`,
	 * which the callee resets; offset -1 and OFFSET_OUT_OF_RANGE set *log_start_offset.
	 * An empty `out` with NONE: nothing more to read. */
	int16_t (*read)(void *arg, int32_t partition, int64_t offset, size_t max_bytes, struct wbuf *out,
			int64_t *log_start_offset);
	/* Whether the high watermark has reached `required` (or the write failed: *err). */
	bool (*replicated)(void *arg, int32_t partition, int64_t required, int16_t *err);
	/* Park op until the partition's high watermark moves or `deadline` passes: try_complete
	 * is called then (expired true at the deadline) until it returns true.  NULL: no parking,
	 * answers are sent at once. */
	void (*park)(void *arg, int32_t partition, int64_t deadline, bool (*try_complete)(void *op, bool expired),
		     void *op);
	/* Whether topic-partition exists in the broker's metadata (OffsetCommit refuses others). */
	bool (*has_partition)(void *arg, struct kstr topic, int32_t partition);
};

/* Reads the group.* and offsets.* settings from c; host is copied. */
struct group_coordinator *group_coordinator_new(const struct config *c, const struct group_host *host);
/* Starts the thread that loads partitions and enforces deadlines. */
void group_coordinator_start(struct group_coordinator *gc);
/* Answers every parked request, joins the thread. */
void group_coordinator_stop(struct group_coordinator *gc);
void group_coordinator_free(struct group_coordinator *gc);

/* This broker became leader (load its groups) or stopped leading (drop them). */
void group_coordinator_on_leadership(struct group_coordinator *gc, int32_t partition, bool leader,
				     int32_t leader_epoch);

/*
 * __consumer_offsets has n partitions [Kafka's groupMetadataTopicPartitionCount,
 * read from ZooKeeper at start-up].  The first call fixes the count groups map
 * onto, so a topic created after start-up with another count is used as it is;
 * later calls with another count only warn (live groups are not remapped).
 * Until the first call no group is served.
 */
void group_coordinator_set_topic_partitions(struct group_coordinator *gc, int32_t n);

/* The __consumer_offsets partition a group id maps to [Kafka's partitionFor]. */
int32_t group_coordinator_partition_for(const struct group_coordinator *gc, const char *group, size_t len);
/* offsets.topic.num.partitions: the partition count a new __consumer_offsets is created with. */
int32_t group_coordinator_topic_num_partitions(const struct group_coordinator *gc);
int16_t group_coordinator_replication_factor(const struct group_coordinator *gc);
int32_t group_coordinator_segment_bytes(const struct group_coordinator *gc);

/*
 * Every offset committed to a group this coordinator serves: fn(arg, group,
 * topic, partition, offset) for each, under the coordinator's lock (fn must
 * only copy).  For the metrics endpoint's consumer lag.
 */
typedef void (*group_offset_fn)(void *arg, const char *group, const char *topic, int32_t partition, int64_t offset);
void group_coordinator_committed_offsets(struct group_coordinator *gc, group_offset_fn fn, void *arg);

/*
 * The OffsetCommit answer shaped like its request: every topic and partition
 * asked about, in order, with error NONE; allocated in `a`.  Both homes of
 * committed offsets answer through it (ZooKeeper for v0, the coordinator for v1+).
 */
void group_offset_commit_response(struct arena *a, const struct offset_commit_request *oc,
				  struct offset_commit_response *out);
/* Gives every partition of the answer that has no error yet `err` (a request-level failure). */
void group_offset_commit_response_fail(struct offset_commit_response *resp, int16_t err);

/* The APIs the coordinator answers (OffsetCommit and OffsetFetch from v1; v0 lives in
 * ZooKeeper and stays with the broker).  Each answers req, now or later. */
void group_handle_join_group(struct group_coordinator *gc, struct group_request *req);
void group_handle_sync_group(struct group_coordinator *gc, struct group_request *req);
void group_handle_heartbeat(struct group_coordinator *gc, struct group_request *req);
void group_handle_leave_group(struct group_coordinator *gc, struct group_request *req);
void group_handle_offset_commit(struct group_coordinator *gc, struct group_request *req);
void group_handle_offset_fetch(struct group_coordinator *gc, struct group_request *req);
void group_handle_offset_delete(struct group_coordinator *gc, struct group_request *req);
void group_handle_describe_groups(struct group_coordinator *gc, struct group_request *req);
void group_handle_list_groups(struct group_coordinator *gc, struct group_request *req);
void group_handle_delete_groups(struct group_coordinator *gc, struct group_request *req);

#endif
