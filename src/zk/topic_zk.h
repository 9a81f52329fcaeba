/*
 * Topic znodes [Kafka's TopicZNode, TopicPartitionStateZNode, ConfigEntityZNode,
 * DeleteTopicsTopicZNode]: replica assignments, partition leader/ISR state,
 * topic configs and deletion markers, with Kafka's JSON.
 */
#ifndef SAMSA_ZK_TOPIC_ZK_H
#define SAMSA_ZK_TOPIC_ZK_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "zk/zk.h"

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

#endif
