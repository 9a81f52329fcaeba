/*
 * DescribeConfigs [Kafka's ConfigHelper.describeConfigs, ZooKeeper mode], for
 * topics and for this broker.  A topic's entries are every topic key: its
 * /config/topics override (source TOPIC_CONFIG), else the broker key that
 * stands in for it when server.properties sets one (STATIC_BROKER_CONFIG),
 * else the default (DEFAULT_CONFIG); with synonyms, the broker keys behind it
 * in Kafka's order.  The broker's entries are every broker key, passwords
 * hidden (is_sensitive, no value), all read-only since samsa has no dynamic
 * broker configs yet; the cluster default (name "") therefore has none.
 * Documentation is not carried (null).  Runs on the admin thread (ZooKeeper).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/config.h"
#include "samsa/proto.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/broker_dynamic.h"

#define RESOURCE_TOPIC 2
#define RESOURCE_BROKER 4
#define RESOURCE_BROKER_LOGGER 8

/* Kafka's ConfigSource. */
enum {
	SOURCE_TOPIC = 1,
	SOURCE_DYNAMIC_BROKER = 2,
	SOURCE_DYNAMIC_DEFAULT = 3,
	SOURCE_STATIC_BROKER = 4,
	SOURCE_DEFAULT = 5,
	SOURCE_BROKER_LOGGER = 6,
};

typedef struct describe_configs_response_describe_configs_result result_t;
typedef struct describe_configs_response_describe_configs_resource_result entry_t;
typedef struct describe_configs_response_describe_configs_synonym synonym_t;

/* Kafka's ConfigType codes (DescribeConfigs v3+). */
static int8_t config_type_code(enum config_type t)
{
	switch (t) {
	case CONFIG_BOOLEAN: return 1;
	case CONFIG_STRING: return 2;
	case CONFIG_INT: return 3;
	case CONFIG_SHORT: return 4;
	case CONFIG_LONG: return 5;
	case CONFIG_DOUBLE: return 6;
	case CONFIG_LIST: return 7;
	case CONFIG_CLASS: return 8;
	case CONFIG_PASSWORD: return 9;
	}
	return 0;
}

static struct kstr ks(struct arena *a, const char *s)
{
	if (!s)
		return (struct kstr){ NULL, -1 };
	return (struct kstr){ arena_strndup(a, s, strlen(s)), (int32_t)strlen(s) };
}

static bool wanted(const struct describe_configs_request_describe_configs_resource *r, const char *key)
{
	if (r->configuration_keys_count < 0)
		return true;
	for (int i = 0; i < r->configuration_keys_count; i++)
		if ((size_t)r->configuration_keys[i].len == strlen(key) &&
		    !memcmp(r->configuration_keys[i].ptr, key, strlen(key)))
			return true;
	return false;
}

/* The topic value a set broker synonym gives: the time families convert their units, as LogConfig does. */
static const char *from_broker(struct arena *a, const struct config *cfg, const char *topic_key, const char *broker_key)
{
	char buf[32];
	if (!strcmp(topic_key, "retention.ms")) {
		snprintf(buf, sizeof buf, "%lld", (long long)config_log_retention_ms(cfg));
		return arena_strndup(a, buf, strlen(buf));
	}
	if (!strcmp(topic_key, "segment.ms")) {
		snprintf(buf, sizeof buf, "%lld", (long long)config_log_roll_ms(cfg));
		return arena_strndup(a, buf, strlen(buf));
	}
	if (!strcmp(topic_key, "segment.jitter.ms")) {
		snprintf(buf, sizeof buf, "%lld", (long long)config_log_roll_jitter_ms(cfg));
		return arena_strndup(a, buf, strlen(buf));
	}
	return config_get_raw(cfg, broker_key);
}

static void topic_entry(struct request *req, const struct config_def *d, const struct topic_config_entry *over, int n_over,
			bool synonyms, entry_t *e)
{
	struct arena *a = &req->arena;
	const struct config *cfg = req->broker->config;
	describe_configs_response_describe_configs_resource_result_init(e);
	e->name = ks(a, d->name);
	e->config_type = config_type_code(d->type);
	e->documentation = (struct kstr){ NULL, -1 };
	const char *const *syn = config_topic_synonyms(d->name);
	int n_syn = 0;
	while (syn && syn[n_syn])
		n_syn++;
	synonym_t *s = arena_alloc(a, sizeof *s * (size_t)(3 * n_syn + 1));
	int k = 0;
	const char *value = NULL;
	int source = 0;
	for (int i = 0; i < n_over; i++)
		if (!strcmp(over[i].key, d->name)) {
			value = over[i].value;
			source = SOURCE_TOPIC;
			describe_configs_response_describe_configs_synonym_init(&s[k]);
			s[k].name = ks(a, d->name);
			s[k].value = ks(a, value);
			s[k++].source = SOURCE_TOPIC;
		}
	const struct config *eff = broker_config_effective(req->broker);
	for (int i = 0; i < n_syn; i++) {
		for (int lvl = 0; lvl < 2; lvl++) {
			const char *dyn = broker_dynamic_get(req->broker, lvl == 0, syn[i], a);
			if (!dyn)
				continue;
			int src = lvl == 0 ? SOURCE_DYNAMIC_BROKER : SOURCE_DYNAMIC_DEFAULT;
			if (!source) {
				value = from_broker(a, eff, d->name, syn[i]);
				source = src;
			}
			describe_configs_response_describe_configs_synonym_init(&s[k]);
			s[k].name = ks(a, syn[i]);
			s[k].value = ks(a, dyn);
			s[k++].source = (int8_t)src;
		}
		bool set = config_is_set(cfg, syn[i]);
		const char *raw = config_get_raw(cfg, syn[i]);
		if (!set && !raw)
			continue; /* no value, nothing to list */
		if (!source && set) {
			value = from_broker(a, cfg, d->name, syn[i]);
			source = SOURCE_STATIC_BROKER;
		}
		describe_configs_response_describe_configs_synonym_init(&s[k]);
		s[k].name = ks(a, syn[i]);
		s[k].value = ks(a, raw);
		s[k++].source = set ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT;
	}
	if (!source) {
		value = d->default_value;
		source = SOURCE_DEFAULT;
	}
	e->value = ks(a, value);
	e->config_source = (int8_t)source;
	e->is_default = source == SOURCE_DEFAULT;
	e->read_only = false;
	e->is_sensitive = d->type == CONFIG_PASSWORD;
	if (e->is_sensitive)
		e->value = (struct kstr){ NULL, -1 };
	if (synonyms) {
		e->synonyms = s;
		e->synonyms_count = k;
	}
}

static void describe_topic(struct request *req, const struct describe_configs_request_describe_configs_resource *r,
			   bool synonyms, result_t *res)
{
	struct broker *b = req->broker;
	char *topic = xstrndup(r->resource_name.ptr ? r->resource_name.ptr : "",
			       r->resource_name.len > 0 ? (size_t)r->resource_name.len : 0);
	if (topic_zk_topic_exists(b->zk, topic) != ZOK) {
		res->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		res->error_message = ks(&req->arena, "Topic does not exist");
		free(topic);
		return;
	}
	struct topic_config_entry *over = NULL;
	int n_over = 0;
	int rc = topic_zk_get_configs(b->zk, topic, &req->arena, &over, &n_over);
	free(topic);
	if (rc != ZOK && rc != ZNONODE) {
		res->error_code = KERR_UNKNOWN_SERVER_ERROR;
		res->error_message = ks(&req->arena, "cannot read the topic's configs");
		return;
	}
	res->configs = arena_alloc(&req->arena, sizeof *res->configs * (size_t)config_topic_defs_count);
	for (int i = 0; i < config_topic_defs_count; i++)
		if (wanted(r, config_topic_defs[i].name))
			topic_entry(req, &config_topic_defs[i], over, n_over, synonyms, &res->configs[res->configs_count++]);
}

static synonym_t synonym(struct arena *a, const char *name, const char *value, int source, bool sensitive)
{
	synonym_t y;
	describe_configs_response_describe_configs_synonym_init(&y);
	y.name = ks(a, name);
	y.value = sensitive ? (struct kstr){ NULL, -1 } : ks(a, value);
	y.source = (int8_t)source;
	return y;
}

/* One broker key with Kafka's precedence: per-broker, dynamic default, static, default (own: this broker's). */
static void broker_entry(struct request *req, const char *name, enum config_type type, bool sensitive,
			 const char *default_value, bool own, bool synonyms, entry_t *e)
{
	struct arena *a = &req->arena;
	const struct config *cfg = req->broker->config;
	describe_configs_response_describe_configs_resource_result_init(e);
	e->name = ks(a, name);
	e->is_sensitive = sensitive;
	e->config_type = config_type_code(type);
	e->documentation = (struct kstr){ NULL, -1 };
	char msg[200];
	e->read_only = broker_dynamic_check(name, NULL, own, msg, sizeof msg) != KERR_NONE;
	synonym_t *s = arena_alloc(a, sizeof *s * 4);
	int k = 0;
	const char *per = own ? broker_dynamic_get(req->broker, true, name, a) : NULL;
	const char *dflt = broker_dynamic_get(req->broker, false, name, a);
	bool set = config_def_find(name) && config_is_set(cfg, name);
	if (per)
		s[k++] = synonym(a, name, per, SOURCE_DYNAMIC_BROKER, sensitive);
	if (dflt)
		s[k++] = synonym(a, name, dflt, SOURCE_DYNAMIC_DEFAULT, sensitive);
	if (set)
		s[k++] = synonym(a, name, config_get_raw(cfg, name), SOURCE_STATIC_BROKER, sensitive);
	if (default_value)
		s[k++] = synonym(a, name, default_value, SOURCE_DEFAULT, sensitive);
	const char *value = per ? per : dflt ? dflt : set ? config_get_raw(cfg, name) : default_value;
	e->config_source = per ? SOURCE_DYNAMIC_BROKER : dflt ? SOURCE_DYNAMIC_DEFAULT : set ? SOURCE_STATIC_BROKER
												: SOURCE_DEFAULT;
	e->is_default = e->config_source == SOURCE_DEFAULT;
	e->value = sensitive ? (struct kstr){ NULL, -1 } : ks(a, value);
	if (synonyms) {
		e->synonyms = s;
		e->synonyms_count = k;
	}
}

static bool own_broker(struct request *req, const struct describe_configs_request_describe_configs_resource *r,
		       result_t *res)
{
	char own[16];
	snprintf(own, sizeof own, "%d", req->broker->id);
	if ((size_t)r->resource_name.len == strlen(own) && !memcmp(r->resource_name.ptr, own, strlen(own)))
		return true;
	res->error_code = KERR_INVALID_REQUEST;
	char msg[160];
	snprintf(msg, sizeof msg, "Unexpected broker id, expected %s or empty string, but received %.*s", own,
		 r->resource_name.len > 0 && r->resource_name.len < 64 ? r->resource_name.len : 0,
		 r->resource_name.ptr ? r->resource_name.ptr : "");
	res->error_message = ks(&req->arena, msg);
	return false;
}

static void describe_broker(struct request *req, const struct describe_configs_request_describe_configs_resource *r,
			    bool synonyms, result_t *res)
{
	struct arena *a = &req->arena;
	bool cluster_default = r->resource_name.len <= 0;
	if (!cluster_default && !own_broker(req, r, res))
		return;
	if (cluster_default) {
		/* The cluster-wide resource shows the dynamic defaults alone, as Kafka does. */
		struct topic_config_entry *e = NULL;
		int n = 0;
		broker_dynamic_entries(req->broker, false, a, &e, &n);
		res->configs = arena_alloc(a, sizeof *res->configs * (size_t)(n ? n : 1));
		for (int i = 0; i < n; i++) {
			if (!wanted(r, e[i].key))
				continue;
			const struct config_def *d = config_def_find(e[i].key);
			broker_entry(req, e[i].key, d ? d->type : CONFIG_LONG, d && d->type == CONFIG_PASSWORD, NULL, false,
				     synonyms, &res->configs[res->configs_count++]);
		}
		return;
	}
	res->configs = arena_alloc(a, sizeof *res->configs * (size_t)(config_broker_defs_count + 3));
	for (int i = 0; i < config_broker_defs_count; i++) {
		const struct config_def *d = &config_broker_defs[i];
		if (d->internal || d->kraft_only || !wanted(r, d->name))
			continue;
		broker_entry(req, d->name, d->type, d->type == CONFIG_PASSWORD, d->default_value, true, synonyms,
			     &res->configs[res->configs_count++]);
	}
	/* DynamicConfig.Broker's own keys, when set. */
	static const char *const quota[] = { "leader.replication.throttled.rate", "follower.replication.throttled.rate",
					     "replica.alter.log.dirs.io.max.bytes.per.second" };
	for (size_t i = 0; i < sizeof quota / sizeof quota[0]; i++)
		if (wanted(r, quota[i]) && (broker_dynamic_get(req->broker, true, quota[i], a) ||
					    broker_dynamic_get(req->broker, false, quota[i], a)))
			broker_entry(req, quota[i], CONFIG_LONG, false, "9223372036854775807", true, synonyms,
				     &res->configs[res->configs_count++]);
}

/* Kafka's level names, as Log4jController reports them. */
static int logger_level = 2; /* INFO */
static const char *const logger_levels[] = { "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF" };

const char *broker_logger_level_get(void) { return logger_levels[__atomic_load_n(&logger_level, __ATOMIC_RELAXED)]; }

void broker_logger_level_set(const char *kafka_level)
{
	for (int i = 0; i < 7; i++)
		if (!strcmp(logger_levels[i], kafka_level))
			__atomic_store_n(&logger_level, i, __ATOMIC_RELAXED);
}

/* BROKER_LOGGER [Kafka's Log4jController.loggers]: samsa's one logger, root. */
static void describe_logger(struct request *req, const struct describe_configs_request_describe_configs_resource *r,
			    result_t *res)
{
	if (!own_broker(req, r, res))
		return;
	res->configs = arena_alloc(&req->arena, sizeof *res->configs);
	if (!wanted(r, "root"))
		return;
	entry_t *e = &res->configs[res->configs_count++];
	describe_configs_response_describe_configs_resource_result_init(e);
	e->name = ks(&req->arena, "root");
	e->value = ks(&req->arena, broker_logger_level_get());
	e->config_source = SOURCE_BROKER_LOGGER;
	e->read_only = false;
	e->is_default = false;
	e->is_sensitive = false;
	e->documentation = (struct kstr){ NULL, -1 };
}

static void describe_job(struct request *req)
{
	const struct describe_configs_request *q = req->body;
	struct describe_configs_response resp;
	describe_configs_response_init(&resp);
	int n = q->resources_count > 0 ? q->resources_count : 0;
	resp.results = arena_alloc(&req->arena, sizeof *resp.results * (size_t)(n ? n : 1));
	resp.results_count = n;
	bool synonyms = req->header.api_version >= 1 && q->include_synonyms;
	for (int i = 0; i < n; i++) {
		const struct describe_configs_request_describe_configs_resource *r = &q->resources[i];
		result_t *res = &resp.results[i];
		describe_configs_response_describe_configs_result_init(res);
		res->resource_type = r->resource_type;
		res->resource_name = r->resource_name;
		res->error_message = (struct kstr){ NULL, -1 };
		if (r->resource_type == RESOURCE_TOPIC &&
		    !request_authorize(req, ACL_OP_DESCRIBE_CONFIGS, ACL_RESOURCE_TOPIC, r->resource_name.ptr ? r->resource_name.ptr : "",
				       r->resource_name.ptr ? (size_t)r->resource_name.len : 0)) {
			res->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
			res->error_message = ks(&req->arena, "Topic authorization failed.");
		} else if ((r->resource_type == RESOURCE_BROKER || r->resource_type == RESOURCE_BROKER_LOGGER) &&
			   !request_authorize(req, ACL_OP_DESCRIBE_CONFIGS, ACL_RESOURCE_CLUSTER, NULL, 0)) {
			res->error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
			res->error_message = ks(&req->arena, "Cluster authorization failed.");
		} else if (r->resource_type == RESOURCE_TOPIC) {
			describe_topic(req, r, synonyms, res);
		} else if (r->resource_type == RESOURCE_BROKER) {
			describe_broker(req, r, synonyms, res);
		} else if (r->resource_type == RESOURCE_BROKER_LOGGER) {
			describe_logger(req, r, res);
		} else {
			res->error_code = KERR_INVALID_REQUEST;
			res->error_message = ks(&req->arena, "Unsupported resource type");
		}
	}
	request_respond(req, &resp);
}

void handle_describe_configs(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, describe_job);
}
