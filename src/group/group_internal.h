/*
 * The group coordinator's shared state (private to src/group/).
 *
 * One mutex (gc->lock) guards every group, member and offset, and the
 * ownership table of __consumer_offsets partitions.  Handlers run on network
 * threads, take the lock, change state and collect the answers they owe in
 * a reply list; the answers go out after the lock is dropped.  Records for
 * __consumer_offsets are built and appended under the lock (see group_append).
 */
#ifndef SAMSA_GROUP_GROUP_INTERNAL_H
#define SAMSA_GROUP_GROUP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/group.h"
#include "samsa/util/buf.h"
#include "samsa/util/coordinator_partitions.h"


enum group_state {
	GROUP_EMPTY,
	GROUP_PREPARING_REBALANCE,
	GROUP_COMPLETING_REBALANCE,
	GROUP_STABLE,
	GROUP_DEAD,
};

struct member_protocol {
	char *name;
	uint8_t *metadata;
	int32_t len;
};

struct member {
	char *id;
	char *instance_id; /* group.instance.id of a static member, else NULL */
	char *client_id;
	char *client_host;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms;
	char *protocol_type;
	struct member_protocol *protocols;
	int n_protocols;
	uint8_t *assignment;
	int32_t assignment_len;
	struct group_request *join_req; /* JoinGroup waiting for the rebalance to complete */
	struct group_request *sync_req; /* SyncGroup waiting for the leader's assignment */
	int64_t heartbeat_deadline;
	bool is_new;              /* joined during this rebalance (Kafka's isNew) */
	bool sync_pending;        /* no SyncGroup yet for this generation (Kafka's pendingSyncMembers) */
};

/* A member id handed out with MEMBER_ID_REQUIRED, waiting for the client to come back with it. */
struct pending_member {
	char *id;
	int64_t deadline;
};

struct committed_offset {
	char *topic;
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;
	char *metadata;
	int64_t commit_ts;
	int64_t expire_ts; /* -1: governed by offsets.retention.minutes */
};

/* A transactional offset commit waiting for its transaction's marker (txn_offsets.c). */
struct txn_pending_offset {
	int64_t producer_id;
	struct committed_offset o;
};
struct group {
	char *id;
	int32_t partition; /* of __consumer_offsets */
	enum group_state state;
	int64_t state_ts;
	int32_t generation;
	char *protocol_type;
	char *protocol;    /* selected protocol, NULL when none */
	char *leader;      /* leader member id, NULL when none */
	struct member **members;
	int n_members;
	struct pending_member *pending;
	int n_pending;
	int64_t join_deadline;    /* PreparingRebalance ends by then */
	int64_t initial_end;      /* the initial delayed join may stretch up to here */
	bool initial_join;        /* this rebalance started from Empty (InitialDelayedJoin) */
	int64_t sync_deadline;    /* members with sync_pending are removed then (CompletingRebalance or Stable) */
	struct committed_offset *offsets; /* sorted by (topic, partition) */
	int n_offsets;
	struct txn_pending_offset *txn_offsets; /* TxnOffsetCommit's, until the marker */
	int n_txn_offsets;
};

/* Answers owed, sent after the lock is dropped. */
struct reply {
	struct group_request *req;
	void *resp; /* in req's arena */
};

struct reply_list {
	struct reply *r;
	int n, cap;
};

struct group_config {
	int32_t n_partitions;         /* offsets.topic.num.partitions: what a new __consumer_offsets gets */
	int16_t replication_factor;   /* offsets.topic.replication.factor */
	int32_t segment_bytes;        /* offsets.topic.segment.bytes */
	int32_t min_session_ms;       /* group.min.session.timeout.ms */
	int32_t max_session_ms;       /* group.max.session.timeout.ms */
	int32_t initial_delay_ms;     /* group.initial.rebalance.delay.ms */
	int32_t max_size;             /* group.max.size */
	int32_t max_metadata_bytes;   /* offset.metadata.max.bytes */
	int32_t commit_timeout_ms;    /* offsets.commit.timeout.ms */
	int64_t retention_ms;         /* offsets.retention.minutes */
	int64_t retention_check_ms;   /* offsets.retention.check.interval.ms */
};

struct group_coordinator {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running;
	bool stop;
	struct group_host host;
	struct group_config cfg;
	/*
	 * The partition count groups map onto: the one __consumer_offsets really has,
	 * once known (from ZooKeeper at start-up or the topic's first appearance in
	 * the metadata cache), offsets.topic.num.partitions until then; which of
	 * them this broker leads, and the queue of their load/unload jobs.
	 */
	struct coord_partitions cp;
	struct group **groups;         /* sorted by id */
	int n_groups, cap_groups;
	int64_t next_expiry_check;
};

/* --- groups (group.c) ---------------------------------------------------------- */
/* A group alone, in no coordinator (group_add puts one in; group_free frees either). */
struct group *group_new(const char *id, size_t len, int32_t partition, int64_t now);
struct group *group_find(struct group_coordinator *gc, const char *id, size_t len);
struct group *group_add(struct group_coordinator *gc, const char *id, size_t len, int32_t partition);
void group_remove(struct group_coordinator *gc, struct group *g);
void group_free(struct group *g);
struct member *group_member(const struct group *g, const char *id, size_t len);
struct member *group_static_member(const struct group *g, const char *instance_id, size_t len);
void group_add_member(struct group *g, struct member *m);
void group_detach_member(struct group *g, struct member *m);
void member_free(struct member *m);
void member_set_protocols(struct member *m, const char *type, size_t type_len, const struct member_protocol *p, int n);
const struct member_protocol *member_protocol(const struct member *m, const char *name);
bool group_supports(const struct group *g, const char *type, size_t type_len, const struct member_protocol *p, int n);
const char *group_select_protocol(const struct group *g);
int32_t group_rebalance_timeout(const struct group *g);
const char *group_state_name(enum group_state s);
void group_transition(struct group *g, enum group_state to, int64_t now);
struct committed_offset *group_offset(struct group *g, const char *topic, size_t topic_len, int32_t partition,
				      bool create);
void group_drop_offset(struct group *g, struct committed_offset *o);

/* Transactional offsets (txn_offsets.c): keep one aside for producer_id (copied), or settle a
 * producer's: commit makes them committed, abort drops them; true when it had any. */
void group_txn_offset_put(struct group *g, int64_t producer_id, const struct committed_offset *o);
bool group_txn_offsets_complete(struct group *g, int64_t producer_id, bool commit);
/* --- coordinator plumbing (coordinator.c) ---------------------------------------------- */
int32_t group_partition_for(const struct group_coordinator *gc, const char *id, size_t len);
/* NONE when this broker owns the group's partition and has loaded it. */
int16_t group_owner_error(struct group_coordinator *gc, const char *id, size_t len);
void reply_add(struct reply_list *rl, struct group_request *req, void *resp);
void reply_send(struct reply_list *rl);
/* Wake the coordinator thread (a deadline moved earlier). */
void group_kick(struct group_coordinator *gc);

/*
 * Persistence: append a batch to one partition, with gc->lock held.
 * KERR_NONE, NOT_COORDINATOR when the partition moved away, else
 * UNKNOWN_SERVER_ERROR (logged).
 */
int group_append(struct group_coordinator *gc, int32_t partition, struct wbuf *records);
/* The same; *required is the high watermark the write needs before it counts as
 * replicated (offsets.commit.required.acks=-1), or -1 when the ISR is this broker. */
int group_append_replicated(struct group_coordinator *gc, int32_t partition, struct wbuf *records,
			    int64_t *required);

/* --- records (records.c) ------------------------------------------------------------ */
/* Append one record to a batch being built for __consumer_offsets. */
struct batch_builder;
void records_offset_commit(struct batch_builder *bb, int64_t now, const char *group, const char *topic,
			   int32_t partition, const struct committed_offset *o);
void records_group_metadata(struct batch_builder *bb, int64_t now, const struct group *g);
void records_group_tombstone(struct batch_builder *bb, int64_t now, const char *group);

/* What one record of __consumer_offsets says (see group_load). */
struct group_record_sink {
	void *arg;
	void (*offset)(void *arg, const char *group, const char *topic, int32_t partition,
		       const struct committed_offset *o /* NULL: tombstone */);
	void (*group)(void *arg, const char *group, const struct group *g /* NULL: tombstone */);
};
/* Decode one record's key and value (value NULL = tombstone); -1 if unreadable. */
int records_decode(const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len,
		   const struct group_record_sink *sink);

/* --- membership (membership.c) ---------------------------------------------------- */
/*
 * The rebalance state machine works on one group and asks its surroundings for the rest:
 * the time, where each answer goes, how the group's metadata is persisted (the
 * coordinator appends a GroupMetadata record to __consumer_offsets) and how to wake
 * the thread that watches deadlines.  The coordinator passes its lock-holding versions;
 * the unit tests pass a clock they move and callbacks that record.
 */
struct join_group_request;
struct sync_group_request;
struct heartbeat_request;
struct group_env {
	const struct group_config *cfg;
	int64_t now;
	void *arg;
	/* An answer owed to req (the response lives in req's arena); req is the callee's now. */
	void (*reply)(void *arg, struct group_request *req, void *resp);
	/* Persist g's metadata: KERR_NONE or the error the leader's SyncGroup gets.  NULL: always fine. */
	int16_t (*store)(void *arg, struct group *g);
	/* A deadline moved earlier.  May be NULL. */
	void (*kick)(void *arg);
};

/* JoinGroup against g (found or created by the caller); the answer comes through env->reply,
 * now or when the rebalance's join phase ends. */
void group_join(struct group_env *env, struct group *g, struct group_request *req, const struct join_group_request *jq);
/* SyncGroup against g; answered through env->reply, now or when the leader's assignment arrives. */
void group_sync(struct group_env *env, struct group *g, struct group_request *req, const struct sync_group_request *sq);
/* Heartbeat against g: its error code. */
int16_t group_heartbeat(struct group_env *env, struct group *g, const struct heartbeat_request *hq);
/* One member of a LeaveGroup (by member id, or by group.instance.id for a static member). */
int16_t group_leave(struct group_env *env, struct group *g, struct kstr member_id, struct kstr instance_id);
/* Deadlines of g: session expiries, pending member ids, the join phase, SyncGroups.  Returns the next one. */
int64_t group_tick(struct group_env *env, struct group *g);
/* Answer every request parked in g with error. */
void group_abort(struct group_env *env, struct group *g, int16_t error);

/* The coordinator's loop over its owned groups (group_tick on each).  Returns the next deadline. */
int64_t membership_tick(struct group_coordinator *gc, int64_t now, struct reply_list *rl);
/* Fail every request parked in g with error (partition moved away). */
void membership_abort(struct group *g, int16_t error, struct reply_list *rl);

/* --- offsets (offsets.c) ------------------------------------------------------------ */
void offsets_expire(struct group_coordinator *gc, int64_t now);

#endif
