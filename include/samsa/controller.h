/*
 * The interface of src/controller/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_CONTROLLER_H
#define SAMSA_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The controller [Kafka's KafkaController]: every broker runs one; the one that
 * wins the /controller election is active.  One thread, one event queue: ZooKeeper
 * watches and session events only post events here, and every decision is taken
 * on this thread in order.
 *
 * The active controller watches /brokers/ids, /brokers/topics, topic
 * deletions and ISR change notifications, keeps a channel to every live
 * broker, elects leaders and maintains ISRs as brokers die, start and shut
 * down (partitions.c), and tells brokers with LeaderAndIsr, UpdateMetadata and
 * StopReplica.  On every broker (active or not) a ZooKeeper session expiry is
 * handled here, in order with everything else: the controller resigns, asks
 * its broker to re-register /brokers/ids/<id> (controller_hooks.reregister)
 * and stands for election again.  It knows nothing else of the broker.
 */
struct controller;
struct zk;

/* The broker's identity and the server.properties values the controller acts on (copied). */
struct client_security;

struct controller_config {
	int32_t broker_id;
	const char *inter_broker_listener_name;
	int32_t controller_socket_timeout_ms;
	bool unclean_leader_election_enable;      /* unless a topic's config says otherwise */
	bool delete_topic_enable;
	bool auto_leader_rebalance_enable;
	int32_t leader_imbalance_per_broker_percentage;
	int64_t leader_imbalance_check_interval_seconds;
	/* How the channels secure themselves (the inter-broker listener's TLS and SASL,
	 * samsa/util/client_security.h; the caller's); NULL for plaintext. */
	const struct client_security *inter_broker_security;
};

/*
 * What the controller asks of the broker that owns it, called on the controller
 * thread.  reregister: the ZooKeeper session expired and the controller has
 * resigned; open a new session and register /brokers/ids/<id> again before the
 * controller stands for election.  0, or -1 to wait for the next session event.
 */
struct controller_hooks {
	int (*reregister)(void *arg);
	void *arg;
};

/* `zk` is the broker's handle, shared and outliving the controller; hooks may be NULL. */
struct controller *controller_new(const struct controller_config *cfg, struct zk *zk,
				  const struct controller_hooks *hooks);
/* Starts the event thread and posts the first election. */
void controller_start(struct controller *c);
/* Resigns (if active) and joins the thread. */
void controller_stop(struct controller *c);
void controller_free(struct controller *c);

/* Thread-safe notifications (called from ZooKeeper callbacks). */
void controller_notify_controller_change(struct controller *c);
void controller_notify_broker_change(struct controller *c);
void controller_notify_session_expired(struct controller *c);

/*
 * ControlledShutdown [Kafka's KafkaController.controlledShutdown]: the active
 * controller moves the leaderships of broker `id` elsewhere and removes it from
 * ISRs, then calls cb (on the controller thread) with a Kafka error code and the
 * partitions the broker still leads.  A controller that is not active answers
 * NOT_CONTROLLER.  cb is called exactly once, possibly on the caller's thread.
 */
struct topic_partition_ref;
typedef void (*controller_shutdown_fn)(void *arg, int16_t error, const struct topic_partition_ref *remaining,
				       int n_remaining);
void controller_controlled_shutdown(struct controller *c, int32_t id, int64_t broker_epoch, controller_shutdown_fn cb,
				    void *arg);

/*
 * AlterPartitionReassignments [Kafka's KafkaController.alterPartitionReassignments]:
 * each item names a partition and its target replicas, or (replicas NULL,
 * n_replicas -1) cancels its reassignment.  The active controller fills each
 * item's error and calls cb once (on the controller thread); a controller that
 * is not active calls cb with NOT_CONTROLLER and the items untouched.  The items
 * must stay valid until cb.
 */
struct ctl_reassign_item {
	const char *topic;
	int32_t partition;
	const int32_t *replicas;
	int n_replicas;
	int16_t error;          /* out */
	const char *message;    /* out: static text or NULL */
};
typedef void (*controller_reassign_fn)(void *arg, int16_t error, struct ctl_reassign_item *items, int n);
void controller_alter_reassignments(struct controller *c, struct ctl_reassign_item *items, int n,
				    controller_reassign_fn cb, void *arg);

/*
 * ListPartitionReassignments: the reassignments in progress among `filter`
 * (every one when n_filter is -1).  The list handed to cb is valid during cb only.
 */
struct ctl_reassignment {
	const char *topic;
	int32_t partition;
	const int32_t *replicas, *adding, *removing;
	int n_replicas, n_adding, n_removing;
};
typedef void (*controller_list_reassign_fn)(void *arg, int16_t error, const struct ctl_reassignment *list, int n);
struct topic_partition_ref;
void controller_list_reassignments(struct controller *c, const struct topic_partition_ref *filter, int n_filter,
				   controller_list_reassign_fn cb, void *arg);

/*
 * ElectLeaders [Kafka's KafkaController.electLeaders]: election_type 0
 * (preferred) or 1 (unclean) for the listed partitions, or every partition
 * when n is -1.  cb gets one result per partition (for n == -1 a list owned
 * by the controller, valid during cb only).
 */
struct ctl_election_item {
	const char *topic;
	int32_t partition;
	int16_t error;          /* out */
	const char *message;    /* out: static text or NULL */
};
typedef void (*controller_elect_fn)(void *arg, int16_t error, const struct ctl_election_item *items, int n);
void controller_elect_leaders(struct controller *c, int8_t election_type, struct ctl_election_item *items, int n,
			      controller_elect_fn cb, void *arg);

/* For tests and logs: the controller this broker believes is active (-1 unknown). */
int32_t controller_active_id(struct controller *c);
int controller_is_active(struct controller *c);
int32_t controller_epoch(struct controller *c);

#endif
