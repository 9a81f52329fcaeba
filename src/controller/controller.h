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
 * StopReplica.  Every broker (active or not) also owns its registration here:
 * after a ZooKeeper session expires it re-registers /brokers/ids/<id> and
 * stands for election again.
 */
#ifndef SAMSA_CONTROLLER_CONTROLLER_H
#define SAMSA_CONTROLLER_CONTROLLER_H

#include <stdint.h>

struct broker;
struct controller;

struct controller *controller_new(struct broker *b);
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

/* For tests and logs: the controller this broker believes is active (-1 unknown). */
int32_t controller_active_id(struct controller *c);
int controller_is_active(struct controller *c);
int32_t controller_epoch(struct controller *c);

#endif
