/*
 * The interface of src/zk/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_ZK_H
#define SAMSA_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#include "samsa/util/buf.h"

/*
 * A thin wrapper over the multi-threaded ZooKeeper C client [Kafka's ZooKeeperClient].
 *
 * Calls are synchronous and made from the controller thread or at start-up,
 * never from network threads.  Return values are ZooKeeper's codes (ZOK,
 * ZNONODE, ZNODEEXISTS, ZBADVERSION, ...).  Watches are one-shot and call
 * fn(arg) on the ZooKeeper client's thread: keep them short (post an event).
 */
struct zk;
typedef void (*zk_watch_fn)(void *arg);

/*
 * Connects to "host:port[,host:port...][/chroot]", creating the chroot if it
 * does not exist (as Kafka does), and waits up to connection_timeout_ms for the
 * session.  on_expired(arg) is called (on the client thread) when the session
 * expires; the owner then calls zk_reconnect.  NULL on failure.
 */
struct zk *zk_connect(const char *connect, int session_timeout_ms, int connection_timeout_ms,
		      zk_watch_fn on_expired, void *arg);
/* A new session on the same handle (after expiry). 0 or -1. */
int zk_reconnect(struct zk *zk);
/* Closes the session (our ephemeral znodes go at once) and frees everything. */
void zk_close(struct zk *zk);
int64_t zk_session_id(struct zk *zk);

/* Data of `path` into a malloc'd buffer (*data NULL with *len -1 for a null znode). */
int zk_get(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, char **data, int *len,
	   struct Stat *stat);
/* exists with an optional watch; ZOK or ZNONODE. */
int zk_exists(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, struct Stat *stat);
int zk_children(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, struct String_vector *out);
/* flags: 0, ZOO_EPHEMERAL, ZOO_SEQUENCE; `created` (may be NULL) gets the real path. */
int zk_create(struct zk *zk, const char *path, const char *data, int len, int flags, struct Stat *stat,
	      char *created, int created_len);
/* Creates `path` and any missing parents with null data; ZOK when it already existed. */
int zk_create_recursive(struct zk *zk, const char *path, const char *data, int len);
int zk_set(struct zk *zk, const char *path, const char *data, int len, int version, struct Stat *stat);
int zk_delete(struct zk *zk, const char *path, int version);
int zk_multi(struct zk *zk, int count, const zoo_op_t *ops, zoo_op_result_t *results);

/*
 * The seam for tests: a handle whose calls go to `ops` (with `impl` as their first
 * argument) instead of libzookeeper, so kafka_zk, topic_zk and the controller can run
 * against an in-memory tree (tests/unit/fake_zk.c).  Handles from zk_connect have no
 * ops and call libzookeeper directly.  Every call must be set; zk_create_recursive is
 * built on create.  zk_close calls close(impl) and frees the handle.
 */
struct zk_ops {
	int (*get)(void *impl, const char *path, zk_watch_fn watch, void *arg, char **data, int *len,
		   struct Stat *stat);
	int (*exists)(void *impl, const char *path, zk_watch_fn watch, void *arg, struct Stat *stat);
	int (*children)(void *impl, const char *path, zk_watch_fn watch, void *arg, struct String_vector *out);
	int (*create)(void *impl, const char *path, const char *data, int len, int flags, struct Stat *stat,
		      char *created, int created_len);
	int (*set)(void *impl, const char *path, const char *data, int len, int version, struct Stat *stat);
	int (*delete_node)(void *impl, const char *path, int version);
	int (*multi)(void *impl, int count, const zoo_op_t *ops, zoo_op_result_t *results);
	int64_t (*session_id)(void *impl);
	int (*reconnect)(void *impl);
	void (*close)(void *impl);
};
struct zk *zk_new_with_ops(const struct zk_ops *ops, void *impl);

/*
 * Kafka's znodes [Kafka's KafkaZkClient + ZkData]: paths, create modes and the
 * exact JSON payloads a ZooKeeper-mode 3.9 cluster uses, so ZooKeeper tools and
 * Kafka brokers see the same cluster samsa sees.
 */
#define KAFKA_ZK_ALREADY_REGISTERED 1
/* A znode whose payload is not what Kafka writes there. */
#define KAFKA_ZK_MALFORMED 2

struct kafka_endpoint {
	char *listener;
	char *host;          /* may be "" */
	int port;
	int security_protocol; /* Kafka's ids: 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL */
};

/* What a broker writes into /brokers/ids/<id>. */
struct kafka_broker_registration {
	int32_t id;
	const char *rack;    /* NULL: no "rack" key */
	struct kafka_endpoint *endpoints;
	int n_endpoints;
	int64_t timestamp_ms; /* 0: now */
};

/* What a reader learns from /brokers/ids/<id>. */
struct kafka_broker_info {
	int32_t id;
	int64_t epoch;       /* czxid of the znode */
	char *rack;
	struct kafka_endpoint *endpoints;
	int n_endpoints;
};

struct kafka_election {
	bool won;
	int32_t controller_id; /* when lost: who holds /controller (-1 if it vanished meanwhile) */
	int32_t epoch;
	int32_t epoch_zk_version;
};

int kafka_zk_ensure_paths(struct zk *zk);
/* Reads /cluster/id, creating it with a fresh id when absent. *out is malloc'd. */
int kafka_zk_get_or_create_cluster_id(struct zk *zk, char **out);
/* broker.id generation through /brokers/seqid: its new zkVersion + reserved.broker.max.id. */
int kafka_zk_generate_broker_id(struct zk *zk, int32_t reserved_max_id, int32_t *out);

/* The v5 registration JSON (exposed for tests). */
void kafka_zk_broker_json(const struct kafka_broker_registration *reg, struct wbuf *out);
/* Parses broker JSON v1..v5 into *info (id and epoch untouched); 0 or -1. */
int kafka_zk_parse_broker_json(const char *json, int len, struct kafka_broker_info *info);
void kafka_broker_info_clear(struct kafka_broker_info *info);
void kafka_broker_info_free_array(struct kafka_broker_info *list, int n);

/* Creates the ephemeral /brokers/ids/<id>; 0 with *epoch, KAFKA_ZK_ALREADY_REGISTERED when
 * another session holds it, or -1. */
int kafka_zk_register_broker(struct zk *zk, const struct kafka_broker_registration *reg, int64_t *epoch);
/* Live brokers, sorted by id, with a children watch on /brokers/ids when watch != NULL. */
int kafka_zk_get_brokers(struct zk *zk, zk_watch_fn watch, void *arg, struct kafka_broker_info **out, int *n);

/* Reads /controller with an exists/data watch: *id = -1 when nobody holds it. */
int kafka_zk_get_controller_id(struct zk *zk, zk_watch_fn watch, void *arg, int32_t *id);
/* Kafka's registerControllerAndIncrementControllerEpoch. */
int kafka_zk_elect_controller(struct zk *zk, int32_t broker_id, struct kafka_election *out);
/* Parses /controller JSON (v1 or v2); -1 when malformed. */
int kafka_zk_parse_controller_json(const char *json, int len, int32_t *id);

/*
 * Classic consumer offsets, where OffsetCommit/OffsetFetch v0 and the old Scala
 * consumer keep them [ZkUtils' ConsumerGroupDirs]:
 * /consumers/<group>/offsets/<topic>/<partition>, the offset as decimal text.
 */
/* Whether a group id can be one element of that path. */
bool kafka_zk_consumer_group_valid(const char *group, size_t len);
/* Writes the offset, creating the path when needed; ZOK or a ZooKeeper code (logged). */
int kafka_zk_set_consumer_offset(struct zk *zk, const char *group, size_t group_len, const char *topic,
				 size_t topic_len, int32_t partition, int64_t offset);
/*
 * *offset = the stored offset, or -1 when there is none (ZNONODE) or the znode is
 * empty; KAFKA_ZK_MALFORMED when it holds something else; other ZooKeeper codes.
 */
int kafka_zk_get_consumer_offset(struct zk *zk, const char *group, size_t group_len, const char *topic,
				 size_t topic_len, int32_t partition, int64_t *offset);

/*
 * Producer ids [Kafka's ProducerIdBlockZNode, ZkProducerIdManager]:
 * /latest_producer_id_block holds the last block claimed,
 * {"version":1,"broker":<id>,"block_start":"<first>","block_end":"<last>"}.
 */
#define KAFKA_PRODUCER_ID_BLOCK_SIZE 1000
struct kafka_producer_id_block {
	int32_t broker;
	int64_t first, last; /* inclusive */
};
void kafka_zk_producer_id_block_json(const struct kafka_producer_id_block *blk, struct wbuf *w);
/* 0, or -1 when the payload is not that shape. */
int kafka_zk_parse_producer_id_block(const char *json, int len, struct kafka_producer_id_block *out);
/*
 * Claims the block after the znode's one for broker_id (the first, 0-999, when
 * it is null or absent) with a setData conditional on the version read,
 * reading again when another broker won.  ZOK with *out, KAFKA_ZK_MALFORMED
 * (unreadable znode, ids exhausted) or a ZooKeeper code.  Blocks on ZooKeeper.
 */
int kafka_zk_claim_producer_id_block(struct zk *zk, int32_t broker_id, struct kafka_producer_id_block *out);

/*
 * Topic znodes [Kafka's TopicZNode, TopicPartitionStateZNode, ConfigEntityZNode,
 * DeleteTopicsTopicZNode]: replica assignments, partition leader/ISR state,
 * topic configs and deletion markers, with Kafka's JSON.
 */
struct arena;

/* A partition being reassigned [Kafka's ReplicaAssignment.addingReplicas/removingReplicas]. */
struct partition_reassignment {
	int32_t partition;
	int32_t *adding;         /* target replicas not in the original set */
	int n_adding;
	int32_t *removing;       /* original replicas not in the target set */
	int n_removing;
};

struct topic_assignment {
	char *name;
	uint8_t id[16];          /* zero: the znode has no topic_id yet */
	int n_partitions;
	int32_t **replicas;      /* replicas[p] = ordered replica list of partition p */
	int *n_replicas;
	/* "adding_replicas"/"removing_replicas": only partitions being reassigned, in any order. */
	struct partition_reassignment *reassigning;
	int n_reassigning;
};

struct partition_state {
	int32_t leader;
	int32_t leader_epoch;
	int32_t controller_epoch;
	int32_t *isr;
	int n_isr;
	int32_t zk_version;      /* the znode's version: Kafka's partition epoch */
};

struct topic_config_entry {
	const char *key;
	const char *value;
};

void topic_assignment_free(struct topic_assignment *t);
void partition_state_clear(struct partition_state *s);

/* JSON (exposed for tests). */
void topic_zk_assignment_json(const struct topic_assignment *t, struct wbuf *w);
int topic_zk_parse_assignment(const char *json, int len, struct topic_assignment *out);
void topic_zk_state_json(const struct partition_state *s, struct wbuf *w);
int topic_zk_parse_state(const char *json, int len, struct partition_state *out);

/*
 * Creates a topic the way Kafka's AdminZkClient does: /config/topics/<t> first
 * (always, even empty), then /brokers/topics/<t>.  ZNODEEXISTS when the topic
 * already exists; other ZooKeeper codes on failure.
 */
int topic_zk_create(struct zk *zk, const struct topic_assignment *t, const struct topic_config_entry *configs,
		    int n_configs);
/* Topic names under /brokers/topics (with a children watch when watch != NULL). */
int topic_zk_list(struct zk *zk, zk_watch_fn watch, void *arg, char ***names, int *n);
void topic_zk_free_names(char **names, int n);
int topic_zk_get_assignment(struct zk *zk, const char *topic, struct topic_assignment *out);
/* Arms a one-shot watch for changes of /brokers/topics/<t> (partitions added). */
int topic_zk_watch_assignment(struct zk *zk, const char *topic, zk_watch_fn watch, void *arg);
/* Adds a topic_id to an assignment znode that lacks one (written by older tools). */
int topic_zk_set_assignment(struct zk *zk, const struct topic_assignment *t);
/* ZNONODE when the partition has no state yet. */
int topic_zk_get_state(struct zk *zk, const char *topic, int partition, struct partition_state *out);
int topic_zk_create_state(struct zk *zk, const char *topic, int partition, const struct partition_state *s);

/* The controller's writes are fenced by /controller_epoch's zkVersion: this says a newer controller exists. */
#define TOPIC_ZK_CONTROLLER_MOVED 1
/*
 * The controller's conditional update of a partition state [Kafka's
 * updateLeaderAndIsr]: one multi of check(/controller_epoch, epoch_zk_version)
 * and setData(state, expected_version).  ZOK with *new_version, ZBADVERSION when
 * the state znode moved on (re-read and decide again), TOPIC_ZK_CONTROLLER_MOVED,
 * or another ZooKeeper code.
 */
int topic_zk_update_state(struct zk *zk, const char *topic, int partition, const struct partition_state *s,
			  int32_t expected_version, int32_t epoch_zk_version, int32_t *new_version);
/*
 * A partition leader's ISR change [Kafka's Partition.updateIsr through
 * zkClient.conditionalUpdatePath, ZooKeeper mode before AlterPartition]: sets
 * the state znode if it is still at expected_version, unfenced (the leader is
 * not the controller).  ZOK with *new_version, ZBADVERSION when the znode moved
 * on, or another ZooKeeper code.
 */
int topic_zk_write_isr(struct zk *zk, const char *topic, int partition, const struct partition_state *s,
		       int32_t expected_version, int32_t *new_version);
/* The same as topic_zk_set_assignment, fenced by /controller_epoch's zkVersion (the controller's writes). */
int topic_zk_set_assignment_fenced(struct zk *zk, const struct topic_assignment *t, int32_t epoch_zk_version);
/* A payload that is not the znode's JSON shape. */
#define TOPIC_ZK_MALFORMED 2
/*
 * Every override in /config/topics/<t> ({"version":1,"config":{"k":"v",...}}),
 * keys and values allocated in `a`; a value that is not a JSON string comes
 * back NULL.  ZOK (an empty znode has none), ZNONODE, TOPIC_ZK_MALFORMED or a
 * ZooKeeper code.
 */
int topic_zk_get_configs(struct zk *zk, const char *topic, struct arena *a, struct topic_config_entry **out,
			 int *n);
/* The same from the payload alone (exposed for tests); 0, or -1 when it is not that shape. */
int topic_zk_parse_config(const char *json, int len, struct arena *a, struct topic_config_entry **out, int *n);
/* One key of /config/topics/<t> into *value (malloc'd; NULL when absent).  ZOK or a ZooKeeper code. */
int topic_zk_get_config(struct zk *zk, const char *topic, const char *key, char **value);

/* ISR change notifications [Kafka's IsrChangeNotificationZNode], written by partition leaders. */
struct topic_partition_ref {
	char *topic;
	int32_t partition;
};
/*
 * Tells the controller a leader changed these partitions' ISR [Kafka's
 * propagateIsrChanges]: a sequential /isr_change_notification/isr_change_
 * znode with {"version":1,"partitions":[{"topic":"t","partition":0},...]}.
 */
int topic_zk_create_isr_change(struct zk *zk, const struct topic_partition_ref *refs, int n);
/* That payload (exposed for tests). */
void topic_zk_partition_list_json(const struct topic_partition_ref *refs, int n, struct wbuf *w);
/* Names of the children of /isr_change_notification (with a children watch when watch != NULL). */
int topic_zk_list_isr_changes(struct zk *zk, zk_watch_fn watch, void *arg, char ***names, int *n);
/* The partitions named by one notification; ZOK (a malformed payload gives none), ZNONODE, ... */
int topic_zk_read_isr_change(struct zk *zk, const char *name, struct topic_partition_ref **out, int *n);
void topic_partition_refs_free(struct topic_partition_ref *refs, int n);
/* Deletes one notification, fenced by the controller epoch's zkVersion; ZNONODE counts as done. */
int topic_zk_delete_isr_change(struct zk *zk, const char *name, int32_t epoch_zk_version);

/*
 * Log dir failure notifications [Kafka's LogDirEventNotificationZNode]: a
 * broker whose log dir went offline writes a sequential
 * /log_dir_event_notification/log_dir_event_ with
 * {"version":1,"broker":<id>,"event":1}; the controller reads and deletes them.
 */
#define TOPIC_ZK_LOG_DIR_FAILURE 1
int topic_zk_create_log_dir_event(struct zk *zk, int32_t broker_id);
int topic_zk_list_log_dir_events(struct zk *zk, zk_watch_fn watch, void *arg, char ***names, int *n);
/* *broker_id and *event of one notification (-1 each when malformed); ZOK, ZNONODE, ... */
int topic_zk_read_log_dir_event(struct zk *zk, const char *name, int32_t *broker_id, int *event);
/* Fenced by the controller epoch's zkVersion like topic_zk_delete_isr_change. */
int topic_zk_delete_log_dir_event(struct zk *zk, const char *name, int32_t epoch_zk_version);

/*
 * Entity configs [AdminZkClient]: /config/<type>/<sanitized name> with
 * {"version":1,"config":{...}} (type: users, clients, brokers, ...), and the
 * /config/changes/config_change_ notice {"version":2,"entity_path":"<type>/<name>"}.
 */
/* Kafka's Sanitizer: URL encoding with '*' escaped too. */
void config_zk_sanitize(const char *name, char *out, size_t cap);
/* The entity's entries (in a) and the znode's version; ZNONODE when it has none. */
int config_zk_get(struct zk *zk, const char *type, const char *name, struct arena *a,
		  struct topic_config_entry **out, int *n, int32_t *version);
/* Write the entries: created when expected_version < 0, else set conditionally (ZBADVERSION). */
int config_zk_set(struct zk *zk, const char *type, const char *name, const struct topic_config_entry *e, int n,
		  int32_t expected_version);
int config_zk_notify(struct zk *zk, const char *type, const char *name);
/* The notices under /config/changes (with a children watch), and one notice's payload (malloc'd). */
int config_zk_list_changes(struct zk *zk, zk_watch_fn watch, void *arg, struct String_vector *out);
int config_zk_read_change(struct zk *zk, const char *name, char **data, int *len);
/* ZOK when /brokers/topics/<topic> exists (ZNONODE for an empty name). */
int topic_zk_topic_exists(struct zk *zk, const char *topic);
/* ZOK when /admin/delete_topics/<topic> exists: the topic is queued for deletion. */
int topic_zk_marked_for_deletion(struct zk *zk, const char *topic);

/* Deletion: the marker under /admin/delete_topics, and what the controller removes. */
int topic_zk_mark_for_deletion(struct zk *zk, const char *topic);
int topic_zk_list_deletions(struct zk *zk, zk_watch_fn watch, void *arg, char ***names, int *n);
int topic_zk_delete_topic(struct zk *zk, const char *topic);
int topic_zk_unmark_deletion(struct zk *zk, const char *topic);

/* The two admin znodes' paths (for messages that name them). */
#define TOPIC_ZK_REASSIGN_PATH "/admin/reassign_partitions"
#define TOPIC_ZK_PREFERRED_ELECTION_PATH "/admin/preferred_replica_election"

/*
 * /admin/reassign_partitions [Kafka's ReassignPartitionsZNode]:
 * {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3,4]}]}.
 */
struct reassign_request {
	char *topic;
	int32_t partition;
	int32_t *replicas;
	int n_replicas;
};
void reassign_requests_free(struct reassign_request *r, int n);
void topic_zk_reassign_json(const struct reassign_request *r, int n, struct wbuf *w);
int topic_zk_parse_reassign(const char *json, int len, struct reassign_request **out, int *n);
/* Arms an exists watch (when watch != NULL) and reads the znode; ZNONODE when there is none. */
int topic_zk_get_reassign_requests(struct zk *zk, zk_watch_fn watch, void *arg, struct reassign_request **out,
				   int *n);
/* Rewrites (or creates) the znode with `r`, deleting it when n == 0; fenced by the controller epoch. */
int topic_zk_set_reassign_requests(struct zk *zk, const struct reassign_request *r, int n, int32_t epoch_zk_version);

/*
 * /admin/preferred_replica_election [Kafka's PreferredReplicaElectionZNode]:
 * {"version":1,"partitions":[{"topic":"t","partition":0}]}.  Arms an exists
 * watch (when watch != NULL); ZNONODE when there is none.
 */
int topic_zk_get_preferred_elections(struct zk *zk, zk_watch_fn watch, void *arg, struct topic_partition_ref **out,
				     int *n);
int topic_zk_delete_preferred_elections(struct zk *zk, int32_t epoch_zk_version);

/*
 * ACLs [Kafka's ZkAclStore / ZkAclChangeStore]: /kafka-acl/<Type>/<name>
 * (literal) and /kafka-acl-extended/prefixed/<Type>/<name> hold
 * {"version":1,"acls":[...]}; changes are announced by a sequential
 * acl_changes_<seq> under /kafka-acl-changes ("<Type>:<name>") or
 * /kafka-acl-extended-changes (JSON v1).  Types and patterns are the codes of
 * samsa/util/acl.h.
 */
struct acl_entry;
struct acl_resource;
/* The root, per-type and change paths (KafkaZkClient.createAclPaths); 0 or -1. */
int acl_zk_ensure_paths(struct zk *zk);
void acl_zk_json(const struct acl_entry *e, int n, struct wbuf *w);
/* The readable entries of a payload (malloc'd strings); 0, or -1 when it is not ACL JSON. */
int acl_zk_parse(const char *text, int len, struct acl_entry **out, int *n);
/* One pattern's entries and zkVersion (-1 and no entries when the znode is absent). */
int acl_zk_get(struct zk *zk, int type, int pattern, const char *name, struct acl_resource *out);
/* Write the entries conditionally: create when expected_version < 0 (ZBADVERSION if it appeared),
 * set at that version, or delete when n == 0.  *new_version: the znode's version after (-1: gone). */
int acl_zk_set(struct zk *zk, int type, int pattern, const char *name, const struct acl_entry *e, int n,
	       int expected_version, int *new_version);
/* The names that have ACLs of a type and pattern (LITERAL or PREFIXED). */
int acl_zk_list(struct zk *zk, int type, int pattern, struct String_vector *out);
/* Announce a change of that pattern to every broker. */
int acl_zk_notify(struct zk *zk, int type, int pattern, const char *name);
int acl_zk_list_changes(struct zk *zk, bool extended, zk_watch_fn watch, void *arg, struct String_vector *out);
/* The sequence number of an acl_changes_<seq> child; -1 for any other name. */
long long acl_zk_change_seq(const char *name);
/* The pattern a change names (*name malloc'd) and when the notice was made. */
int acl_zk_read_change(struct zk *zk, bool extended, const char *node, int *type, int *pattern, char **name,
		       int64_t *ctime_ms);
int acl_zk_delete_change(struct zk *zk, bool extended, const char *node);

#endif
