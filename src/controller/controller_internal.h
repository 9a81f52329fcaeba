/*
 * What the controller's files share: its state and the helpers that read it.
 * Everything here runs on the controller's event thread unless noted.
 */
#ifndef SAMSA_CONTROLLER_INTERNAL_H
#define SAMSA_CONTROLLER_INTERNAL_H

#include "samsa/controller.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/channel.h"
#include "controller/election.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "samsa/util/buf.h"
#include "samsa/util/log.h"
#include "samsa/util/uuid.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"

/* The UpdateMetadata version a 3.9 controller sends (inter.broker.protocol.version 3.9). */
#define UPDATE_METADATA_VERSION 8
/* LeaderAndIsr and StopReplica versions of inter.broker.protocol.version 3.9. */
#define LEADER_AND_ISR_VERSION 7
#define STOP_REPLICA_VERSION 4

enum event_type {
	EV_ELECT,            /* startup, or /controller changed */
	EV_BROKER_CHANGE,    /* children of /brokers/ids changed */
	EV_SESSION_EXPIRED,  /* our ZooKeeper session is gone: re-register, re-elect */
	EV_TOPIC_CHANGE,     /* children of /brokers/topics changed */
	EV_TOPIC_DELETION,   /* children of /admin/delete_topics changed */
	EV_TOPIC_DATA,       /* a /brokers/topics/<t> changed: partitions added */
	EV_ISR_CHANGE,       /* children of /isr_change_notification changed */
	EV_CONTROLLED_SHUTDOWN, /* a broker asked to shut down (ControlledShutdown) */
	EV_REASSIGN_ZNODE,   /* /admin/reassign_partitions appeared or changed */
	EV_PREFERRED_ZNODE,  /* /admin/preferred_replica_election appeared or changed */
	EV_ALTER_REASSIGNMENTS, /* AlterPartitionReassignments */
	EV_LIST_REASSIGNMENTS,  /* ListPartitionReassignments */
	EV_ELECT_LEADERS,       /* ElectLeaders */
	EV_LOG_DIR_EVENT,       /* children of /log_dir_event_notification changed */
	EV_LAI_RESPONSE,        /* a broker answered LeaderAndIsr (items: struct ctl_lai_result) */
	EV_SHUTDOWN,
};

struct event {
	struct event *next;
	enum event_type type;
	/* EV_CONTROLLED_SHUTDOWN */
	int32_t broker_id;
	int64_t broker_epoch;
	controller_shutdown_fn cb;
	void *cb_arg;
	/* EV_ALTER_REASSIGNMENTS, EV_LIST_REASSIGNMENTS, EV_ELECT_LEADERS */
	void *items;
	int n_items;
	int8_t election_type;
	controller_reassign_fn reassign_cb;
	controller_list_reassign_fn list_cb;
	controller_elect_fn elect_cb;
};

struct controller {
	int32_t id;                     /* our broker's id */
	struct controller_config cfg;
	char *listener_name;            /* cfg.inter_broker_listener_name, our copy */
	struct zk *zk;                  /* the broker's handle */
	struct controller_hooks hooks;
	channel_manager_factory_fn new_channels;
	void *new_channels_arg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event *head, *tail;
	bool started;

	/* Below: owned by the event thread; the atomics are read by others. */
	int32_t active_id;
	int is_active;
	int32_t epoch;
	int32_t epoch_zk_version;
	struct channel_manager *channels;
	struct kafka_broker_info *live; /* live brokers as registered in ZooKeeper */
	int n_live;
	struct ctl_topic *topics;       /* the controller's view of every topic [ControllerContext] */
	int n_topics;
	int32_t *shutting_down;         /* brokers in controlled shutdown [shuttingDownBrokerIds] */
	int n_shutting_down;
	int32_t *bouncing;              /* re-registered brokers, offline while their old incarnation is failed */
	int n_bouncing;
	bool fenced;                    /* a write found a newer controller epoch: stop writing, re-elect */
	bool stopped;                   /* EV_SHUTDOWN seen: new ControlledShutdown requests are refused */
	int64_t next_rebalance_ms;      /* CLOCK_MONOTONIC time of the next auto leader rebalance check; 0: none */
	struct ctl_offline_replica *offline_dirs; /* replicas whose broker said KAFKA_STORAGE_ERROR [replicasOnOfflineDirs] */
	int n_offline_dirs;
};

/* A replica on a log dir its broker reported offline. */
struct ctl_offline_replica {
	int32_t broker;
	char *topic;
	int32_t partition;
};

/* One partition's answer in a LeaderAndIsr response, as posted to the controller thread. */
struct ctl_lai_result {
	uint8_t topic_id[16];
	int32_t partition;
	int16_t error;
};

/* A topic as the active controller tracks it: assignment and per-partition leader/ISR. */
struct ctl_topic {
	struct topic_assignment asg;
	struct partition_state *states; /* one per partition; leader -1 with no state znode yet */
	bool *has_state;
};

/* Queue an event for the controller thread (any thread). */
void controller_post(struct controller *c, enum event_type type);
/*
 * For tests, which drive a controller without its thread: the channels it opens
 * when it becomes active come from `fn` (a recording fake), and queued events
 * (watches that fired, elections) run on the caller's thread until none is left.
 * Neither may be used once controller_start has run.
 */
void controller_set_channel_factory(struct controller *c, channel_manager_factory_fn fn, void *arg);
void controller_run_pending(struct controller *c);
const struct kafka_broker_info *controller_find_live(struct kafka_broker_info *list, int n, int32_t id);
bool controller_is_live(struct controller *c, int32_t id);
/* The endpoint other brokers use to reach `bi`: the inter-broker listener. */
const struct kafka_endpoint *controller_inter_broker_endpoint(struct controller *c, const struct kafka_broker_info *bi);

/* log_dirs.c [Kafka's LogDirEventNotificationHandler, onBrokerLogDirFailure, LeaderAndIsrResponseReceived]. */
struct ctl_topic;
/* Whether the broker reported replica id of partition p of t on an offline log dir. */
bool controller_replica_on_offline_dir(struct controller *c, int32_t id, const struct ctl_topic *t, int p);
/* Online as Kafka's isReplicaOnline: the broker is online and the replica's dir is not offline. */
bool controller_replica_online_at(struct controller *c, int32_t id, const struct ctl_topic *t, int p);
void controller_offline_dirs_forget(struct controller *c, int32_t broker);
void controller_offline_dirs_free(struct controller *c);
/* The LeaderAndIsr response callback (sender thread): posts EV_LAI_RESPONSE. */
void controller_on_leader_and_isr_response(int32_t broker_id, int16_t api_key, int16_t api_version,
					   const uint8_t *body, size_t len, void *arg);
void controller_handle_lai_response(struct controller *c, int32_t broker, const struct ctl_lai_result *v, int n);
/* Read and delete the notifications (re-arming the watch); the brokers named get LeaderAndIsr. */
void controller_process_log_dir_events(struct controller *c);
/* At failover: every broker gets LeaderAndIsr anyway, so leftovers are only deleted. */
void controller_delete_log_dir_events(struct controller *c);
/* Queue an event built by the caller (any thread). */
void controller_post_event(struct controller *c, struct event *e);

/* One replica or partition in a batch; ti indexes c->topics (valid until the batch is sent). */
struct ctl_batch_entry {
	int32_t broker;
	int ti;
	int p;
	int32_t leader_epoch; /* StopReplica only */
	bool delete_partition; /* StopReplica only */
};

/* The requests one controller decision produces [Kafka's ControllerBrokerRequestBatch]. */
struct ctl_batch {
	struct ctl_batch_entry *lai, *um, *stop;
	int n_lai, n_um, n_stop;
	int cap_lai, cap_um, cap_stop;
};

/* requests.c [ControllerBrokerRequestBatch]: what the controller tells brokers. */
void ctl_batch_init(struct ctl_batch *b);
/* LeaderAndIsr for partition (ti, p) to `broker`; like Kafka, its state also goes to every live broker in UpdateMetadata. */
void ctl_batch_leader_and_isr(struct ctl_batch *b, int32_t broker, int ti, int p);
void ctl_batch_update_metadata(struct ctl_batch *b, int ti, int p);
/* StopReplica without delete (a replica going offline in controlled shutdown). */
void ctl_batch_stop_replica(struct ctl_batch *b, int32_t broker, int ti, int p, int32_t leader_epoch);
/* StopReplica with delete (a replica removed by a reassignment) [NonExistentReplica]. */
void ctl_batch_stop_replica_delete(struct ctl_batch *b, int32_t broker, int ti, int p, int32_t leader_epoch);
bool ctl_batch_empty(const struct ctl_batch *b);
/* Sends LeaderAndIsr, then UpdateMetadata, then StopReplica, and empties the batch. */
void controller_send_batch(struct controller *c, struct ctl_batch *b);
void controller_send_update_metadata(struct controller *c, const struct ctl_topic *only, bool deleting);
void controller_send_update_metadata_to_all(struct controller *c);
void controller_send_leader_and_isr(struct controller *c, const struct ctl_topic *only);
void controller_send_stop_replica_delete(struct controller *c, const struct ctl_topic *t);

/* topics.c [TopicChangeHandler, PartitionStateMachine, TopicDeletionManager]. */
void controller_free_topics(struct controller *c);
/* New topics are brought online; `announce` sends each its LeaderAndIsr (not at failover,
 * which announces everything at once). */
int controller_refresh_topics(struct controller *c, bool announce);
void controller_init_partition(struct controller *c, struct ctl_topic *t, int p);
int controller_find_topic(struct controller *c, const char *name);
int controller_refresh_partition_counts(struct controller *c);
void controller_process_deletions(struct controller *c);

/* partitions.c [PartitionStateMachine, ReplicaStateMachine, Election, the broker callbacks]. */
/* Live, and neither shutting down nor bouncing [ControllerContext.isReplicaOnline]. */
bool controller_is_replica_online(struct controller *c, int32_t id);
void controller_on_broker_failure(struct controller *c, const int32_t *dead, int n);
void controller_on_broker_startup(struct controller *c, const int32_t *born, int n);
/* After the context is loaded on failover: replica and partition state machines start up. */
void controller_start_state_machines(struct controller *c);
void controller_process_isr_changes(struct controller *c);
void controller_delete_isr_changes(struct controller *c);
void controller_do_controlled_shutdown(struct controller *c, int32_t id, int64_t broker_epoch,
				       controller_shutdown_fn cb, void *cb_arg);
bool controller_ids_contain(const int32_t *ids, int n, int32_t id);
/*
 * change_state with the preferred-replica strategy [PreferredReplicaPartitionLeaderElectionStrategy]:
 * KERR_NONE when the preferred replica now leads (LeaderAndIsr/UpdateMetadata
 * queued on b), PREFERRED_LEADER_NOT_AVAILABLE when it cannot.
 */
int16_t controller_elect_preferred(struct controller *c, int ti, int p, struct ctl_batch *b);
/* [OfflinePartitionLeaderElectionStrategy(allowUnclean)]: ELIGIBLE_LEADERS_NOT_AVAILABLE when nobody can lead. */
int16_t controller_elect_offline(struct controller *c, int ti, int p, bool allow_unclean, struct ctl_batch *b);
/* Bumps the leader epoch only [Kafka's updateLeaderEpoch]; true when written. */
bool controller_bump_leader_epoch(struct controller *c, int ti, int p);
/* [ReassignPartitionLeaderElectionStrategy]: the first target replica online and in the ISR leads. */
bool controller_elect_reassigned_leader(struct controller *c, int ti, int p, const int32_t *target, int n_target);
/* [ReplicaStateMachine OfflineReplica]: `id` leaves the ISR (LeaderAndIsr to the others queued on b). */
void controller_replica_offline(struct controller *c, int ti, int p, int32_t id, struct ctl_batch *b);
/* Replicas (broker, ti, p) found on failed log dirs: new leaders where they led, then out of the ISRs. */
void controller_on_replicas_offline(struct controller *c, const struct ctl_batch_entry *v, int n);

/* reassign.c [KafkaController's reassignment, preferred replica election and auto rebalance]. */
int64_t controller_now_ms(void);
/* At failover: watches on /admin/reassign_partitions and /admin/preferred_replica_election,
 * resumed reassignments, pending preferred elections, the first auto rebalance check. */
void controller_init_reassignments(struct controller *c);
void controller_process_reassign_znode(struct controller *c);
void controller_process_preferred_znode(struct controller *c);
void controller_do_alter_reassignments(struct controller *c, struct ctl_reassign_item *items, int n,
				       controller_reassign_fn cb, void *arg);
void controller_do_list_reassignments(struct controller *c, const struct topic_partition_ref *filter, int n,
				      controller_list_reassign_fn cb, void *arg);
void controller_do_elect_leaders(struct controller *c, int8_t type, struct ctl_election_item *items, int n,
				 controller_elect_fn cb, void *arg);
/* After an ISR change of (ti, p): a reassignment whose targets are all in the ISR completes. */
void controller_maybe_complete_reassignment(struct controller *c, int ti, int p);
/* Brokers started: reassignments waiting for them go on [onBrokerStartup]. */
void controller_reassignments_on_broker_startup(struct controller *c, const int32_t *born, int n);
/* [checkAndTriggerAutoLeaderRebalance]. */
void controller_check_auto_rebalance(struct controller *c);
/* [Kafka's ReplicaAssignment]: a partition's full replica set with what is being added and removed. */
struct ctl_replica_assignment {
	int32_t *replicas, *adding, *removing;
	int n, n_adding, n_removing;
};
void ctl_replica_assignment_free(struct ctl_replica_assignment *a);
/*
 * [ReplicaAssignment.reassignTo], pure: from `cur` (ORS = its replicas minus those
 * being added) to `target` (TRS): RS = (TRS ++ ORS) without repeats, adding
 * TRS - ORS, removing ORS - TRS.  *out is malloc'd.
 */
void controller_reassign_to(const struct ctl_replica_assignment *cur, const int32_t *target, int n_target,
			    struct ctl_replica_assignment *out);
/* The reassignment entry of partition p of t, or NULL. */
struct partition_reassignment *controller_reassignment_of(struct ctl_topic *t, int p);

#endif
