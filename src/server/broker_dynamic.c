/*
 * Dynamic broker configs [Kafka's DynamicBrokerConfig, ZooKeeper mode]: the
 * cluster-wide defaults in /config/brokers/<default> and this broker's own in
 * /config/brokers/<id>, Kafka's {"version":1,"config":{...}}.  Precedence is
 * Kafka's: a topic's override, then the per-broker value, then the dynamic
 * default, then server.properties, then the built-in default.  The effective
 * config (server.properties with both levels on top) is rebuilt on every
 * change and swapped in; an old one is kept until shutdown, since a reader may
 * still hold it.
 *
 * What samsa updates without a restart: the log keys that stand in for topic
 * keys (Kafka's DynamicLogConfig: log.retention.*, log.segment.bytes,
 * message.max.bytes, min.insync.replicas, ...; every live log gets its new
 * config at once), and Kafka's broker quota keys
 * leader/follower.replication.throttled.rate and
 * replica.alter.log.dirs.io.max.bytes.per.second, which are stored and
 * described (the two replication rates are applied: quotas.c).  Keys Kafka refuses to change dynamically are refused with
 * Kafka's message; keys Kafka changes dynamically but samsa cannot yet (thread
 * pools, listeners, SSL stores, connection limits) are refused saying so.
 */
#include "server/broker_dynamic.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/config.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/broker.h"
#include "server/quotas.h"

#define DEFAULT_NAME "<default>"

struct level {
	struct arena arena;
	struct topic_config_entry *e;
	int n;
};

struct broker_dynamic {
	pthread_mutex_t lock; /* the levels and the retired configs */
	struct level per_broker, cluster;
	const struct config *effective; /* atomic; NULL: server.properties alone */
	struct config **retired;
	int n_retired;
};

/* DynamicConfig.Broker's own keys (QuotaConfigs), not KafkaConfig keys. */
static const char *const broker_quota_keys[] = { "leader.replication.throttled.rate", "follower.replication.throttled.rate",
					  "replica.alter.log.dirs.io.max.bytes.per.second", NULL };

/* Dynamic in Kafka (thread pools, listeners, connection quotas, cleaner, security, ...), not yet in samsa. */
static const char *const later_keys[] = {
	"num.io.threads", "num.network.threads", "num.replica.fetchers", "num.recovery.threads.per.data.dir",
	"background.threads", "max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides",
	"max.connection.creation.rate", "listeners", "advertised.listeners", "listener.security.protocol.map",
	"log.cleaner.threads", "log.cleaner.io.max.bytes.per.second", "log.cleaner.dedupe.buffer.size",
	"log.cleaner.io.buffer.size", "log.cleaner.io.buffer.load.factor", "log.cleaner.backoff.ms",
	"metric.reporters", "producer.id.expiration.ms", "sasl.jaas.config", "sasl.enabled.mechanisms",
	"sasl.kerberos.service.name", "ssl.keystore.location", "ssl.keystore.password", "ssl.key.password",
	"ssl.truststore.location", "ssl.truststore.password", "ssl.keystore.type", "ssl.truststore.type",
	"ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.truststore.certificates", "ssl.client.auth",
	"ssl.cipher.suites", "ssl.enabled.protocols", "ssl.protocol", "ssl.endpoint.identification.algorithm",
	"remote.log.manager.copy.max.bytes.per.second", "remote.log.manager.fetch.max.bytes.per.second",
	"remote.log.index.file.cache.total.size.bytes", "remote.fetch.max.wait.ms", "unclean.leader.election.enable",
	NULL,
};

static bool in_list(const char *const *l, const char *key)
{
	for (; *l; l++)
		if (!strcmp(*l, key))
			return true;
	return false;
}

bool broker_dynamic_is_quota_key(const char *key) { return in_list(broker_quota_keys, key); }

/* A broker key standing in for a topic key (Kafka's DynamicLogConfig.ReconfigurableConfigs). */
static bool is_log_key(const char *key)
{
	if (!strcmp(key, "unclean.leader.election.enable"))
		return false; /* dynamic in Kafka through the controller, not the logs */
	for (int i = 0; i < config_topic_defs_count; i++) {
		const char *const *syn = config_topic_synonyms(config_topic_defs[i].name);
		for (; syn && *syn; syn++)
			if (!strcmp(*syn, key))
				return true;
	}
	return false;
}

int16_t broker_dynamic_check(const char *key, const char *value, bool per_broker, char *msg, size_t cap)
{
	(void)per_broker; /* no per-broker-only key is dynamic in samsa yet */
	if (broker_dynamic_is_quota_key(key)) {
		if (!value)
			return KERR_NONE;
		char *end = NULL;
		long long v = strtoll(value, &end, 10);
		if (end == value || *end || v < 0) {
			snprintf(msg, cap, "Invalid value %s for configuration %s: Value must be at least 0", value, key);
			return KERR_INVALID_CONFIG;
		}
		return KERR_NONE;
	}
	if (is_log_key(key)) {
		if (!value)
			return KERR_NONE;
		const struct config_def *d = config_def_find(key);
		char *err = NULL;
		if (d && config_validate(d, value, &err) != 0) {
			snprintf(msg, cap, "%s", err ? err : "invalid value");
			free(err);
			return KERR_INVALID_CONFIG;
		}
		return KERR_NONE;
	}
	if (in_list(later_keys, key) || !strncmp(key, "listener.name.", 14)) {
		snprintf(msg, cap, "samsa cannot update these configs dynamically yet: Set(%s)", key);
		return KERR_INVALID_CONFIG;
	}
	snprintf(msg, cap, "Cannot update these configs dynamically: Set(%s)", key);
	return KERR_INVALID_CONFIG;
}

struct broker_dynamic *broker_dynamic_new(void)
{
	struct broker_dynamic *d = xcalloc(1, sizeof *d);
	pthread_mutex_init(&d->lock, NULL);
	arena_init(&d->per_broker.arena);
	arena_init(&d->cluster.arena);
	return d;
}

void broker_dynamic_free(struct broker_dynamic *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n_retired; i++)
		config_free(d->retired[i]);
	config_free((struct config *)d->effective);
	free(d->retired);
	arena_free(&d->per_broker.arena);
	arena_free(&d->cluster.arena);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

const struct config *broker_config_effective(struct broker *b)
{
	const struct config *c = b->dynamic ? __atomic_load_n(&b->dynamic->effective, __ATOMIC_ACQUIRE) : NULL;
	return c ? c : b->config;
}

/* server.properties with cluster then own entries over it; NULL (logged) if it does not load. */
static struct config *build(struct broker *b, const struct level *cluster, const struct level *own)
{
	int n = cluster->n + own->n;
	char **ov = xcalloc((size_t)(n ? n : 1), sizeof *ov);
	int k = 0;
	for (int pass = 0; pass < 2; pass++) {
		const struct level *l = pass ? own : cluster;
		for (int i = 0; i < l->n; i++)
			if (config_def_find(l->e[i].key))
				ov[k++] = xasprintf("%s=%s", l->e[i].key, l->e[i].value);
	}
	char *err = NULL;
	struct config *c = config_with_overrides(b->config, ov, k, &err);
	if (!c) {
		log_warn("Dynamic broker configs do not load (%s); the last good config stays", err ? err : "?");
		free(err);
	}
	for (int i = 0; i < k; i++)
		free(ov[i]);
	free(ov);
	return c;
}

/* Read one level's znode into l (fresh arena); false (logged) when it must be ignored. */
static bool read_level(struct broker *b, const char *entity, struct level *l)
{
	arena_init(&l->arena);
	l->e = NULL;
	l->n = 0;
	struct topic_config_entry *e = NULL;
	int n = 0;
	int32_t version;
	int rc = config_zk_get_entity(b->zk, entity, &l->arena, &e, &n, &version);
	if (rc == TOPIC_ZK_MALFORMED) {
		log_warn("Dynamic broker config /config/%s is not Kafka's config JSON; ignored, the last good config stays",
			 entity);
		arena_free(&l->arena);
		return false;
	}
	if (rc != ZOK && rc != ZNONODE) {
		log_warn("Cannot read /config/%s (%d); the last good config stays", entity, rc);
		arena_free(&l->arena);
		return false;
	}
	l->e = arena_alloc(&l->arena, sizeof *l->e * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		char msg[300];
		if (!e[i].value || broker_dynamic_check(e[i].key, e[i].value, true, msg, sizeof msg) != KERR_NONE) {
			log_warn("Dynamic broker config /config/%s: %s=%s ignored (%s)", entity, e[i].key,
				 e[i].value ? e[i].value : "null", e[i].value ? msg : "not a string");
			continue;
		}
		l->e[l->n++] = e[i];
	}
	return true;
}

/* Swap in new levels and their config (under no lock of ours but d->lock). */
static bool install(struct broker *b, struct level *cluster, struct level *own)
{
	struct broker_dynamic *d = b->dynamic;
	struct config *c = build(b, cluster, own);
	if (!c)
		return false;
	pthread_mutex_lock(&d->lock);
	arena_free(&d->cluster.arena);
	arena_free(&d->per_broker.arena);
	d->cluster = *cluster;
	d->per_broker = *own;
	const struct config *old = d->effective;
	__atomic_store_n(&d->effective, c, __ATOMIC_RELEASE);
	if (old) {
		d->retired = xrealloc(d->retired, sizeof *d->retired * (size_t)(d->n_retired + 1));
		d->retired[d->n_retired++] = (struct config *)old;
	}
	/* Kafka's BrokerConfigHandler: the throttle rates are per-broker values. */
	double rate = 0, follower_rate = 0;
	for (int i = 0; i < d->per_broker.n; i++) {
		if (!strcmp(d->per_broker.e[i].key, "leader.replication.throttled.rate"))
			rate = strtod(d->per_broker.e[i].value, NULL);
		if (!strcmp(d->per_broker.e[i].key, "follower.replication.throttled.rate"))
			follower_rate = strtod(d->per_broker.e[i].value, NULL);
	}
	pthread_mutex_unlock(&d->lock);
	if (b->replication_quota)
		replication_quota_set_rate(b->replication_quota, rate);
	if (b->follower_quota)
		replication_quota_set_rate(b->follower_quota, follower_rate);
	return true;
}

/* A copy of a level, for rebuilding with the other one changed. */
static void copy_level(struct broker_dynamic *d, const struct level *from, struct level *to)
{
	arena_init(&to->arena);
	pthread_mutex_lock(&d->lock);
	to->n = from->n;
	to->e = arena_alloc(&to->arena, sizeof *to->e * (size_t)(from->n ? from->n : 1));
	for (int i = 0; i < from->n; i++) {
		to->e[i].key = arena_strndup(&to->arena, from->e[i].key, strlen(from->e[i].key));
		to->e[i].value = arena_strndup(&to->arena, from->e[i].value, strlen(from->e[i].value));
	}
	pthread_mutex_unlock(&d->lock);
}

void broker_dynamic_load(struct broker *b)
{
	char own_path[64];
	snprintf(own_path, sizeof own_path, "brokers/%d", b->id);
	struct level cluster, own;
	if (!read_level(b, "brokers/" DEFAULT_NAME, &cluster))
		arena_init(&cluster.arena), cluster.e = NULL, cluster.n = 0;
	if (!read_level(b, own_path, &own))
		arena_init(&own.arena), own.e = NULL, own.n = 0;
	if (cluster.n + own.n == 0) {
		arena_free(&cluster.arena);
		arena_free(&own.arena);
		return;
	}
	if (!install(b, &cluster, &own)) {
		arena_free(&cluster.arena);
		arena_free(&own.arena);
		return;
	}
	log_info("Dynamic broker configs: %d cluster default(s), %d for broker %d", cluster.n, own.n, b->id);
}

bool broker_dynamic_reload(struct broker *b, const char *entity)
{
	char own_path[64];
	snprintf(own_path, sizeof own_path, "brokers/%d", b->id);
	bool is_default = !strcmp(entity, "brokers/" DEFAULT_NAME);
	if (!is_default && strcmp(entity, own_path))
		return false; /* another broker's */
	struct broker_dynamic *d = b->dynamic;
	struct level fresh, other;
	if (!read_level(b, entity, &fresh))
		return false;
	copy_level(d, is_default ? &d->per_broker : &d->cluster, &other);
	bool ok = is_default ? install(b, &fresh, &other) : install(b, &other, &fresh);
	if (!ok) {
		arena_free(&fresh.arena);
		arena_free(&other.arena);
		return false;
	}
	log_info("Dynamic broker config /config/%s read (%d key(s))", entity, fresh.n);
	return true;
}

const char *broker_dynamic_get(struct broker *b, bool per_broker, const char *key, struct arena *a)
{
	struct broker_dynamic *d = b->dynamic;
	if (!d)
		return NULL;
	const char *out = NULL;
	pthread_mutex_lock(&d->lock);
	const struct level *l = per_broker ? &d->per_broker : &d->cluster;
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].key, key))
			out = arena_strndup(a, l->e[i].value, strlen(l->e[i].value));
	pthread_mutex_unlock(&d->lock);
	return out;
}

void broker_dynamic_entries(struct broker *b, bool per_broker, struct arena *a, struct topic_config_entry **out,
			    int *n)
{
	*out = NULL;
	*n = 0;
	struct broker_dynamic *d = b->dynamic;
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	const struct level *l = per_broker ? &d->per_broker : &d->cluster;
	*out = arena_alloc(a, sizeof **out * (size_t)(l->n ? l->n : 1));
	for (int i = 0; i < l->n; i++) {
		(*out)[i].key = arena_strndup(a, l->e[i].key, strlen(l->e[i].key));
		(*out)[i].value = arena_strndup(a, l->e[i].value, strlen(l->e[i].value));
	}
	*n = l->n;
	pthread_mutex_unlock(&d->lock);
}
