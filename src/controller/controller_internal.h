/*
 * What the controller's files share: its state and the helpers that read it.
 * Everything here runs on the controller's event thread unless noted.
 */
#ifndef SAMSA_CONTROLLER_INTERNAL_H
#define SAMSA_CONTROLLER_INTERNAL_H

#include "controller/controller.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/channel.h"
#include "proto/gen/messages.h"
#include "server/broker.h"
#include "server/config.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "zk/kafka_zk.h"
#include "zk/topic_zk.h"
#include "util/uuid.h"
#include "zk/zk.h"

/* The UpdateMetadata version a 3.9 controller sends (inter.broker.protocol.version 3.9). */
#define UPDATE_METADATA_VERSION 8
#define API_UPDATE_METADATA 6
/* LeaderAndIsr and StopReplica versions of inter.broker.protocol.version 3.9. */
#define LEADER_AND_ISR_VERSION 7
#define API_LEADER_AND_ISR 4
#define STOP_REPLICA_VERSION 4
#define API_STOP_REPLICA 5

enum event_type {
	EV_ELECT,            /* startup, or /controller changed */
	EV_BROKER_CHANGE,    /* children of /brokers/ids changed */
	EV_SESSION_EXPIRED,  /* our ZooKeeper session is gone: re-register, re-elect */
	EV_TOPIC_CHANGE,     /* children of /brokers/topics changed */
	EV_TOPIC_DELETION,   /* children of /admin/delete_topics changed */
	EV_TOPIC_DATA,       /* a /brokers/topics/<t> changed: partitions added */
	EV_SHUTDOWN,
};

struct event {
	struct event *next;
	enum event_type type;
};

struct controller {
	struct broker *broker;
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
};

/* A topic as the active controller tracks it: assignment and per-partition leader/ISR. */
struct ctl_topic {
	struct topic_assignment asg;
	struct partition_state *states; /* one per partition; leader -1 with no state znode yet */
	bool *has_state;
};

/* Queue an event for the controller thread (any thread). */
void controller_post(struct controller *c, enum event_type type);
const struct kafka_broker_info *controller_find_live(struct kafka_broker_info *list, int n, int32_t id);
bool controller_is_live(struct controller *c, int32_t id);
/* The endpoint other brokers use to reach `bi`: the inter-broker listener. */
const struct kafka_endpoint *controller_inter_broker_endpoint(struct controller *c, const struct kafka_broker_info *bi);

/* requests.c [ControllerBrokerRequestBatch]: what the controller tells brokers. */
void controller_send_update_metadata(struct controller *c, const struct ctl_topic *only, bool deleting);
void controller_send_update_metadata_to_all(struct controller *c);
void controller_send_leader_and_isr(struct controller *c, const struct ctl_topic *only);
void controller_send_stop_replica_delete(struct controller *c, const struct ctl_topic *t);

/* topics.c [TopicChangeHandler, PartitionStateMachine, TopicDeletionManager]. */
void controller_free_topics(struct controller *c);
int controller_refresh_topics(struct controller *c);
int controller_refresh_partition_counts(struct controller *c);
void controller_process_deletions(struct controller *c);

#endif
