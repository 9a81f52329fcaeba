/*
 * The broker process [Kafka's KafkaServer]: what every subsystem needs to reach
 * (config, identity, metadata cache, ZooKeeper, controller, network).
 */
#ifndef SAMSA_SERVER_BROKER_H
#define SAMSA_SERVER_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "samsa/net.h"

struct config;
struct broker_config;
struct metadata_cache;
struct zk;
struct controller;
struct admin_executor;
struct replica_manager;
struct log_manager;
struct purgatory;
struct fetch_session_cache;

struct client_security;
struct producer_ids;

struct broker {
	struct config *config;
	const struct broker_config *bc;
	int32_t id;
	char *cluster_id;
	int64_t broker_epoch;          /* czxid of our /brokers/ids/<id> znode */
	int64_t finalized_features_epoch; /* /feature zkVersion, -1 unknown */
	struct metadata_cache *metadata;
	struct replica_manager *replicas;
	struct log_manager *logs;      /* every partition log under log.dirs */
	struct purgatory *purgatory;   /* delayed fetches */
	struct fetch_session_cache *fetch_sessions;
	struct group_coordinator *groups; /* consumer groups on __consumer_offsets */
	struct fetcher_manager *fetchers;  /* replica fetcher threads */
	struct zk *zk;
	struct controller *controller;
	struct admin_executor *admin; /* runs requests that wait on ZooKeeper */
	struct net_server *net;
	struct listener_spec *listeners;
	int n_listeners;
	/* How our connections to other brokers are secured (NULL: plaintext) and what backs it. */
	struct client_security *inter_broker_security;
	struct config_changes *config_changes; /* applies /config/changes to live logs */
	struct authorizer *authorizer; /* the ZooKeeper ACL authorizer; NULL: everything is allowed */
	struct metrics_http *metrics_http; /* samsa.metrics.listener, NULL when off */
	struct producer_ids *producer_ids; /* blocks of producer ids claimed in ZooKeeper */
	volatile int stopping;
};

/* Startup in Kafka's order; returns -1 (after logging why) when the broker must not run. */
int broker_start(struct broker *b);
void broker_shutdown(struct broker *b);
/*
 * Kafka's controlledShutdown: ask the controller to move our leaderships away,
 * retrying controlled.shutdown.max.retries times while any remain.  0 when it
 * succeeded or is disabled, -1 when the broker goes down uncontrolled.
 */
int broker_controlled_shutdown(struct broker *b);
/* inter_broker_security.c: b->inter_broker_security from the inter-broker listener; 0 or -1 (logged). */
int broker_inter_broker_security(struct broker *b);
void broker_inter_broker_security_free(struct broker *b);
/* After a ZooKeeper session expiry: new session, register /brokers/ids/<id> again. */
int broker_reregister(struct broker *b);

#endif
