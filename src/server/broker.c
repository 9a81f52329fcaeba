/*
 * Broker lifecycle [Kafka's KafkaServer.startup/shutdown]: ZooKeeper, cluster id,
 * network listeners, registration, controller; and the orderly way down.
 */
#include "server/broker.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "samsa/controller.h"
#include "samsa/group.h"
#include "samsa/log.h"
#include "server/apis.h"
#include "server/broker_logs.h"
#include "server/authorizer.h"
#include "server/broker_tls.h"
#include "server/config_changes.h"
#include "server/metrics_http.h"
#include "server/sasl.h"
#include "samsa/util/tls.h"
#include "server/fetch_session.h"
#include "samsa/purgatory.h"
#include "server/admin_executor.h"
#include "samsa/replica.h"
#include "samsa/config.h"
#include "server/group_apis.h"
#include "server/producer_ids.h"
#include "samsa/metadata.h"
#include "server/replication.h"
#include "server/request.h"
#include "server/topic_config.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"

static void on_session_expired(void *arg)
{
	struct broker *b = arg;
	if (b->controller)
		controller_notify_session_expired(b->controller);
}

/* Leadership of __consumer_offsets partitions decides which groups we coordinate. */
static void on_leadership(void *arg, const char *topic, size_t topic_len, int32_t partition, bool leader,
			  int32_t leader_epoch)
{
	struct broker *b = arg;
	if (topic_len == strlen(GROUP_OFFSETS_TOPIC) && memcmp(topic, GROUP_OFFSETS_TOPIC, topic_len) == 0)
		group_coordinator_on_leadership(b->groups, partition, leader, leader_epoch);
}

/*
 * Groups map onto the partitions __consumer_offsets has in ZooKeeper, read
 * once at start-up as Kafka's KafkaServer does for its GroupCoordinator; with
 * no topic yet, the coordinator learns the count when the topic first shows up
 * in UpdateMetadata.
 */
static void learn_offsets_partitions(struct broker *b)
{
	struct topic_assignment asg;
	memset(&asg, 0, sizeof asg);
	int rc = topic_zk_get_assignment(b->zk, GROUP_OFFSETS_TOPIC, &asg);
	if (rc == ZOK && asg.n_partitions > 0)
		group_coordinator_set_topic_partitions(b->groups, asg.n_partitions);
	else if (rc != ZOK && rc != ZNONODE)
		log_warn("Cannot read /brokers/topics/%s (%d); its partition count will come from the controller",
			 GROUP_OFFSETS_TOPIC, rc);
	if (rc == ZOK)
		topic_assignment_free(&asg);
}

/* The replica manager's source of topic configs: /config/topics/<t> over our defaults. */
static int load_topic_config(void *arg, const char *topic, struct log_config *out)
{
	struct broker *b = arg;
	return topic_config_load(b->zk, b->config, topic, out);
}

static void build_registration(struct broker *b, struct kafka_broker_registration *reg)
{
	const struct broker_config *bc = b->bc;
	memset(reg, 0, sizeof *reg);
	reg->id = b->id;
	reg->rack = bc->broker_rack;
	reg->n_endpoints = bc->n_advertised_listeners;
	reg->endpoints = xcalloc((size_t)reg->n_endpoints, sizeof *reg->endpoints);
	for (int i = 0; i < bc->n_advertised_listeners; i++) {
		const struct config_endpoint *al = &bc->advertised_listeners[i];
		struct kafka_endpoint *e = &reg->endpoints[i];
		e->listener = al->name;
		e->host = al->host;
		e->port = al->port;
		e->security_protocol = (int)al->protocol;
		/* An advertised port of 0 means "whatever the listener of that name bound". */
		for (int j = 0; j < b->n_listeners && e->port == 0; j++)
			if (strcmp(b->listeners[j].name, al->name) == 0)
				e->port = b->listeners[j].port;
	}
}

static int register_broker(struct broker *b)
{
	struct kafka_broker_registration reg;
	build_registration(b, &reg);
	int64_t epoch = -1;
	int rc = kafka_zk_register_broker(b->zk, &reg, &epoch);
	free(reg.endpoints);
	if (rc == KAFKA_ZK_ALREADY_REGISTERED) {
		log_error("broker.id %d is already registered in ZooKeeper (/brokers/ids/%d exists for another "
			  "broker's session); refusing to start. Is another broker running with the same broker.id?",
			  b->id, b->id);
		return -1;
	}
	if (rc != 0) {
		log_error("Registering broker %d in ZooKeeper failed", b->id);
		return -1;
	}
	b->broker_epoch = epoch;
	log_info("Registered broker %d at path /brokers/ids/%d (broker epoch %lld)", b->id, b->id, (long long)epoch);
	return 0;
}

int broker_reregister(struct broker *b)
{
	if (zk_reconnect(b->zk) != 0)
		return -1;
	return register_broker(b);
}

/* The controller's hook after a session expiry (on its thread). */
static int reregister_hook(void *arg) { return broker_reregister(arg); }

static int start_network(struct broker *b)
{
	const struct broker_config *bc = b->bc;
	b->n_listeners = bc->n_listeners;
	b->listeners = xcalloc((size_t)b->n_listeners, sizeof *b->listeners);
	for (int i = 0; i < bc->n_listeners; i++) {
		b->listeners[i].name = xstrdup(bc->listeners[i].name);
		b->listeners[i].host = xstrdup(bc->listeners[i].host ? bc->listeners[i].host : "");
		b->listeners[i].port = bc->listeners[i].port;
		b->listeners[i].protocol = (enum security_protocol)bc->listeners[i].protocol;
		if (broker_tls_prepare(b->config, &b->listeners[i]) != 0)
			return -1;
	}
	if (broker_sasl_prepare(b) != 0)
		return -1;
	struct net_config nc = {
		.num_network_threads = bc->num_network_threads,
		.socket_request_max_bytes = bc->socket_request_max_bytes,
		.socket_send_buffer_bytes = bc->socket_send_buffer_bytes,
		.socket_receive_buffer_bytes = bc->socket_receive_buffer_bytes,
		.connections_max_idle_ms = bc->connections_max_idle_ms,
		.queued_max_requests = bc->queued_max_requests,
		.sasl_max_receive_bytes = config_int(b->config, "sasl.server.max.receive.size"),
		.on_request = request_dispatch,
		.arg = b,
	};
	b->net = net_server_start(&nc, b->listeners, b->n_listeners);
	if (!b->net)
		return -1;
	for (int i = 0; i < b->n_listeners; i++)
		log_info("Listening on %s://%s:%d", b->listeners[i].name, b->listeners[i].host, b->listeners[i].port);
	return 0;
}

/*
 * Settings that would make an operator believe the broker is protected when
 * it is not: samsa stops rather than serve everyone (as Kafka stops when its
 * authorizer or ZooKeeper security cannot be set up).
 */
static int refuse_unsupported_security(struct broker *b)
{
	if (authorizer_configured(b) < 0)
		return -1;
	const char *set_acl = config_get_raw(b->config, "zookeeper.set.acl");
	if (set_acl && !strcasecmp(set_acl, "true")) {
		log_error("zookeeper.set.acl=true: samsa's ZooKeeper client cannot authenticate (no JAAS login), so "
			  "it cannot write znodes with Kafka's ACLs");
		return -1;
	}
	const char *zk_tls = config_get_raw(b->config, "zookeeper.ssl.client.enable");
	if (zk_tls && !strcasecmp(zk_tls, "true")) {
		log_error("zookeeper.ssl.client.enable=true: the ZooKeeper C client samsa uses has no TLS; "
			  "connect to ZooKeeper in plaintext");
		return -1;
	}
	return 0;
}

int broker_start(struct broker *b)
{
	const struct broker_config *bc = b->bc;
	b->id = bc->broker_id;
	b->finalized_features_epoch = -1;
	b->metadata = metadata_cache_new();

	if (refuse_unsupported_security(b) != 0)
		return -1;
	log_info("Connecting to ZooKeeper at %s", bc->zookeeper_connect);
	b->zk = zk_connect(bc->zookeeper_connect, bc->zookeeper_session_timeout_ms,
			   bc->zookeeper_connection_timeout_ms, on_session_expired, b);
	if (!b->zk) {
		log_error("Cannot connect to ZooKeeper at %s within %d ms", bc->zookeeper_connect,
			  bc->zookeeper_connection_timeout_ms);
		return -1;
	}
	if (kafka_zk_ensure_paths(b->zk) != 0) {
		log_error("Cannot create Kafka's persistent paths in ZooKeeper");
		return -1;
	}
	if (kafka_zk_get_or_create_cluster_id(b->zk, &b->cluster_id) != 0) {
		log_error("Cannot read or create /cluster/id");
		return -1;
	}
	log_info("Cluster ID = %s", b->cluster_id);
	if (b->id < 0) {
		if (!bc->broker_id_generation_enable) {
			log_error("broker.id is not set and broker.id.generation.enable is false");
			return -1;
		}
		int32_t id;
		if (kafka_zk_generate_broker_id(b->zk, bc->reserved_broker_max_id, &id) != 0) {
			log_error("Cannot generate a broker id through /brokers/seqid");
			return -1;
		}
		b->id = id;
		log_info("Generated broker.id %d", id);
	}
	if (broker_inter_broker_security(b) != 0)
		return -1;
	/* ACLs are loaded before any listener opens, as Kafka configures its authorizer first. */
	if (authorizer_configured(b) > 0 && !(b->authorizer = authorizer_start(b)))
		return -1;
	b->admin = admin_executor_start();
	b->producer_ids = producer_ids_new(b->zk, b->id);
	/* Logs load (and recover) before we register: a broker is only listed once it can serve. */
	if (broker_open_logs(b) != 0)
		return -1;
	struct replica_manager *rm = replica_manager_new(b->id);
	replica_manager_set_logs(rm, b->logs);
	/* The log scheduler's dir-failure hook reads it from its own thread. */
	__atomic_store_n(&b->replicas, rm, __ATOMIC_RELEASE);
	replica_manager_set_topic_config(b->replicas, load_topic_config, b);
	struct group_host gh = broker_group_host(b);
	b->groups = group_coordinator_new(b->config, &gh);
	learn_offsets_partitions(b);
	replica_manager_set_leadership_listener(b->replicas, on_leadership, b);
	group_coordinator_start(b->groups);
	b->purgatory = purgatory_start();
	broker_replication_start(b);
	b->fetch_sessions = fetch_session_cache_new(config_int(b->config, "max.incremental.fetch.session.cache.slots"));
	if (start_network(b) != 0)
		return -1;
	if (register_broker(b) != 0)
		return -1;
	b->config_changes = config_changes_start(b);
	struct controller_config cc = {
		.broker_id = b->id,
		.inter_broker_listener_name = bc->inter_broker_listener_name,
		.controller_socket_timeout_ms = bc->controller_socket_timeout_ms,
		.unclean_leader_election_enable = bc->unclean_leader_election_enable,
		.delete_topic_enable = bc->delete_topic_enable,
		.auto_leader_rebalance_enable = bc->auto_leader_rebalance_enable,
		.leader_imbalance_per_broker_percentage = bc->leader_imbalance_per_broker_percentage,
		.leader_imbalance_check_interval_seconds = bc->leader_imbalance_check_interval_seconds,
		.inter_broker_security = b->inter_broker_security,
	};
	struct controller_hooks hooks = { .reregister = reregister_hook, .arg = b };
	struct controller *ctl = controller_new(&cc, b->zk, &hooks);
	controller_start(ctl);
	/* Network threads read it (ControlledShutdown). */
	__atomic_store_n(&b->controller, ctl, __ATOMIC_RELEASE);
	const char *ml = config_string(b->config, "samsa.metrics.listener");
	if (ml && *ml && !(b->metrics_http = metrics_http_start(b, ml)))
		return -1;
	log_info("[samsa-server id=%d] started", b->id);
	return 0;
}

void broker_shutdown(struct broker *b)
{
	log_info("[samsa-server id=%d] shutting down", b->id);
	/* The scraper reads every subsystem: it goes before any of them. */
	metrics_http_stop(b->metrics_http);
	b->metrics_http = NULL;
	struct fetch_down_conversion_stats dcs;
	fetch_down_conversion_stats(&dcs);
	if (dcs.partitions > 0)
		log_info("Fetch down-conversion since start: %lld messages in %lld batches, %lld bytes, %lld partition reads",
			 (long long)dcs.messages, (long long)dcs.batches, (long long)dcs.bytes, (long long)dcs.partitions);
	/* While everything still runs: the controller moves our leaderships before our znode goes. */
	broker_controlled_shutdown(b);
	if (b->controller)
		controller_stop(b->controller);
	/* Finish queued admin jobs while their connections and ZooKeeper are still up. */
	admin_executor_stop(b->admin);
	/* Waiting fetches and parked JoinGroup/SyncGroup requests answer now, while their
	 * connections are still there. */
	purgatory_stop(b->purgatory);
	group_coordinator_stop(b->groups);
	if (b->net) {
		net_server_stop(b->net);
		b->net = NULL;
	}
	/* No handler runs any more: fetchers and the ISR thread can go (they hold log references). */
	broker_replication_stop(b);
	config_changes_stop(b->config_changes);
	authorizer_stop(b->authorizer);
	/* Closing the session removes our ephemeral znodes at once, so the
	 * controller learns we are gone without waiting for the session timeout. */
	if (b->zk) {
		zk_close(b->zk);
		b->zk = NULL;
	}
	config_changes_free(b->config_changes);
	b->config_changes = NULL;
	authorizer_free(b->authorizer);
	b->authorizer = NULL;
	admin_executor_free(b->admin);
	b->admin = NULL;
	producer_ids_free(b->producer_ids);
	b->producer_ids = NULL;
	controller_free(b->controller);
	b->controller = NULL;
	for (int i = 0; i < b->n_listeners; i++) {
		broker_tls_release(&b->listeners[i]);
		free(b->listeners[i].name);
		free(b->listeners[i].host);
	}
	free(b->listeners);
	b->listeners = NULL;
	metadata_cache_free(b->metadata);
	b->metadata = NULL;
	group_coordinator_free(b->groups);
	b->groups = NULL;
	/* Partitions drop their log references first; then the logs are flushed and closed cleanly.
	 * The scheduler stops before: its dir-failure hook uses the replica manager. */
	log_manager_stop_scheduler(b->logs);
	replica_manager_free(b->replicas);
	b->replicas = NULL;
	log_manager_shutdown(b->logs);
	b->logs = NULL;
	purgatory_free(b->purgatory);
	b->purgatory = NULL;
	fetch_session_cache_free(b->fetch_sessions);
	b->fetch_sessions = NULL;
	free(b->cluster_id);
	b->cluster_id = NULL;
	broker_inter_broker_security_free(b);
	broker_sasl_free(b);
	log_info("[samsa-server id=%d] shut down completed", b->id);
}
