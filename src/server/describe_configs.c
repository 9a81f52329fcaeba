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

#define RESOURCE_TOPIC 2
#define RESOURCE_BROKER 4
#define RESOURCE_BROKER_LOGGER 8

/* Kafka's ConfigSource. */
enum { SOURCE_TOPIC = 1, SOURCE_STATIC_BROKER = 4, SOURCE_DEFAULT = 5 };

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
	synonym_t *s = arena_alloc(a, sizeof *s * (size_t)(n_syn + 1));
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
	for (int i = 0; i < n_syn; i++) {
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

static void describe_broker(struct request *req, const struct describe_configs_request_describe_configs_resource *r,
			    bool synonyms, result_t *res)
{
	struct arena *a = &req->arena;
	const struct config *cfg = req->broker->config;
	char own[16];
	snprintf(own, sizeof own, "%d", req->broker->id);
	bool cluster_default = r->resource_name.len <= 0;
	if (!cluster_default && ((size_t)r->resource_name.len != strlen(own) ||
				 memcmp(r->resource_name.ptr, own, strlen(own)))) {
		res->error_code = KERR_INVALID_REQUEST;
		char msg[160];
		snprintf(msg, sizeof msg, "Unexpected broker id, expected %s or empty string, but received %.*s", own,
			 r->resource_name.len > 0 && r->resource_name.len < 64 ? r->resource_name.len : 0,
			 r->resource_name.ptr ? r->resource_name.ptr : "");
		res->error_message = ks(a, msg);
		return;
	}
	if (cluster_default)
		return; /* the dynamic cluster-wide defaults: samsa has none */
	res->configs = arena_alloc(a, sizeof *res->configs * (size_t)config_broker_defs_count);
	for (int i = 0; i < config_broker_defs_count; i++) {
		const struct config_def *d = &config_broker_defs[i];
		if (d->internal || d->kraft_only || !wanted(r, d->name))
			continue;
		entry_t *e = &res->configs[res->configs_count++];
		describe_configs_response_describe_configs_resource_result_init(e);
		e->name = ks(a, d->name);
		bool set = config_is_set(cfg, d->name);
		e->is_sensitive = d->type == CONFIG_PASSWORD;
		e->value = e->is_sensitive ? (struct kstr){ NULL, -1 } : ks(a, config_get_raw(cfg, d->name));
		e->config_source = set ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT;
		e->is_default = !set;
		e->read_only = true;
		e->config_type = config_type_code(d->type);
		e->documentation = (struct kstr){ NULL, -1 };
		if (synonyms) {
			synonym_t *s = arena_alloc(a, sizeof *s * 2);
			int k = 0;
			if (set) {
				describe_configs_response_describe_configs_synonym_init(&s[k]);
				s[k].name = e->name;
				s[k].value = e->value;
				s[k++].source = SOURCE_STATIC_BROKER;
			}
			if (d->default_value) {
				describe_configs_response_describe_configs_synonym_init(&s[k]);
				s[k].name = e->name;
				s[k].value = e->is_sensitive ? (struct kstr){ NULL, -1 } : ks(a, d->default_value);
				s[k++].source = SOURCE_DEFAULT;
			}
			e->synonyms = s;
			e->synonyms_count = k;
		}
	}
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
		} else {
			res->error_code = KERR_INVALID_REQUEST;
			res->error_message = ks(&req->arena, r->resource_type == RESOURCE_BROKER_LOGGER
								     ? "Broker loggers are not described by samsa yet"
								     : "Unsupported resource type");
		}
	}
	request_respond(req, &resp);
}

void handle_describe_configs(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, describe_job);
}
