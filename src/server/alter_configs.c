/*
 * AlterConfigs and IncrementalAlterConfigs for topics [Kafka's
 * ZkAdminManager.alterConfigs / incrementalAlterConfigs]: the topic's
 * overrides in /config/topics/<topic> are replaced (AlterConfigs) or changed
 * key by key (SET, DELETE, APPEND and SUBTRACT for list keys), each value
 * checked as CreateTopics checks it, then announced under /config/changes so
 * that every broker applies them to its live logs (config_changes.c).
 * validate_only checks without writing.  Broker resources are refused: samsa
 * has no dynamic broker configs yet.  Runs on the admin thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/config.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

#define RESOURCE_TOPIC 2
#define RESOURCE_BROKER 4
#define RESOURCE_BROKER_LOGGER 8

enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

struct change {
	const char *key;
	const char *value; /* NULL: delete */
	int op;
};

struct outcome {
	int16_t error;
	char message[300];
};

#define FAIL(o, err, ...) do { (o)->error = (err); snprintf((o)->message, sizeof (o)->message, __VA_ARGS__); } while (0)

/* A list value with item added (APPEND) or taken out (SUBTRACT); in a. */
static const char *list_edit(struct arena *a, const char *current, const char *item, bool add)
{
	char out[4096] = "";
	size_t n = 0;
	bool present = false;
	char *copy = xstrdup(current ? current : ""), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (!strcmp(t, item)) {
			present = true;
			if (!add)
				continue;
		}
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "", t);
	}
	free(copy);
	if (add && !present)
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "", item);
	return arena_strndup(a, out, n < sizeof out ? n : sizeof out - 1);
}

/* Apply changes to the topic's current overrides, check them, write them unless validate_only. */
static void alter_topic(struct request *req, const char *topic, struct change *ch, int n, bool replace,
			bool validate_only, struct outcome *o)
{
	struct broker *b = req->broker;
	struct arena *a = &req->arena;
	if (topic_zk_topic_exists(b->zk, topic) != ZOK) {
		FAIL(o, KERR_UNKNOWN_TOPIC_OR_PARTITION, "Topic %s does not exist", topic);
		return;
	}
	struct topic_config_entry *cur = NULL;
	int n_cur = 0;
	int32_t version = -1;
	int rc = config_zk_get(b->zk, "topics", topic, a, &cur, &n_cur, &version);
	if (rc != ZOK && rc != ZNONODE) {
		FAIL(o, KERR_UNKNOWN_SERVER_ERROR, "cannot read the configs of %s", topic);
		return;
	}
	struct topic_config_entry *next = arena_alloc(a, sizeof *next * (size_t)(n_cur + n + 1));
	int m = 0;
	if (!replace)
		for (int i = 0; i < n_cur; i++)
			if (cur[i].value)
				next[m++] = cur[i];
	for (int i = 0; i < n; i++) {
		const struct config_def *def = config_topic_def_find(ch[i].key);
		if (!def) {
			FAIL(o, KERR_INVALID_CONFIG, "Unknown topic config name: %s", ch[i].key);
			return;
		}
		int k = 0;
		while (k < m && strcmp(next[k].key, ch[i].key))
			k++;
		const char *value = ch[i].value;
		if (ch[i].op == OP_APPEND || ch[i].op == OP_SUBTRACT) {
			if (def->type != CONFIG_LIST) {
				FAIL(o, KERR_INVALID_CONFIG, "Config value append/subtract is not allowed for config key %s",
				     ch[i].key);
				return;
			}
			const char *base = k < m ? next[k].value : def->default_value;
			value = list_edit(a, base, ch[i].value ? ch[i].value : "", ch[i].op == OP_APPEND);
		} else if (ch[i].op == OP_DELETE) {
			if (k < m)
				next[k] = next[--m];
			continue;
		} else if (ch[i].op != OP_SET) {
			FAIL(o, KERR_INVALID_REQUEST, "Unknown config operation for %s", ch[i].key);
			return;
		}
		char *err = NULL;
		if (config_validate(def, value, &err) != 0) {
			o->error = KERR_INVALID_CONFIG;
			snprintf(o->message, sizeof o->message, "%s", err ? err : "invalid value");
			free(err);
			return;
		}
		if (k == m)
			m++;
		next[k].key = ch[i].key;
		next[k].value = value;
	}
	if (validate_only)
		return;
	rc = config_zk_set(b->zk, "topics", topic, next, m, rc == ZNONODE ? -1 : version);
	if (rc != ZOK) {
		FAIL(o, KERR_UNKNOWN_SERVER_ERROR, "the configs of %s changed meanwhile or cannot be written; retry",
		     topic);
		return;
	}
	if (config_zk_notify(b->zk, "topics", topic) != ZOK)
		log_warn("AlterConfigs: cannot write the /config/changes notice for topic %s", topic);
	log_info("Configs of topic %s changed by %s (%d keys now)", topic, req->info.peer, m);
}

/* One resource of either request. */
static void alter_resource(struct request *req, int8_t type, struct kstr name, struct change *ch, int n, bool replace,
			   bool validate_only, struct outcome *o)
{
	memset(o, 0, sizeof *o);
	char *s = xstrndup(name.ptr ? name.ptr : "", name.len > 0 ? (size_t)name.len : 0);
	/* Kafka: AlterConfigs on the topic, or on the cluster for broker and broker-logger resources. */
	if (type == RESOURCE_TOPIC && !request_authorize(req, ACL_OP_ALTER_CONFIGS, ACL_RESOURCE_TOPIC, s, strlen(s)))
		FAIL(o, KERR_TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed.");
	else if ((type == RESOURCE_BROKER || type == RESOURCE_BROKER_LOGGER) &&
		 !request_authorize(req, ACL_OP_ALTER_CONFIGS, ACL_RESOURCE_CLUSTER, NULL, 0))
		FAIL(o, KERR_CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.");
	else if (type == RESOURCE_TOPIC)
		alter_topic(req, s, ch, n, replace, validate_only, o);
	else if (type == RESOURCE_BROKER || type == RESOURCE_BROKER_LOGGER)
		FAIL(o, KERR_INVALID_REQUEST, "samsa cannot change broker configs without a restart yet (broker %s)", s);
	else
		FAIL(o, KERR_INVALID_REQUEST, "Unsupported resource type");
	free(s);
}

static const char *cstr(struct arena *a, struct kstr s)
{
	return s.ptr ? arena_strndup(a, s.ptr, s.len > 0 ? (size_t)s.len : 0) : NULL;
}

static void alter_job(struct request *req)
{
	const struct alter_configs_request *q = req->body;
	struct alter_configs_response resp;
	alter_configs_response_init(&resp);
	int n = q->resources_count > 0 ? q->resources_count : 0;
	resp.responses = arena_alloc(&req->arena, sizeof *resp.responses * (size_t)(n ? n : 1));
	resp.responses_count = n;
	for (int i = 0; i < n; i++) {
		const struct alter_configs_request_alter_configs_resource *r = &q->resources[i];
		int nc = r->configs_count > 0 ? r->configs_count : 0;
		struct change *ch = arena_alloc(&req->arena, sizeof *ch * (size_t)(nc ? nc : 1));
		for (int k = 0; k < nc; k++)
			ch[k] = (struct change){ cstr(&req->arena, r->configs[k].name), cstr(&req->arena, r->configs[k].value),
						 OP_SET };
		struct outcome o;
		alter_resource(req, r->resource_type, r->resource_name, ch, nc, true, q->validate_only, &o);
		struct alter_configs_response_alter_configs_resource_response *rr = &resp.responses[i];
		alter_configs_response_alter_configs_resource_response_init(rr);
		rr->error_code = o.error;
		rr->error_message = o.error ? (struct kstr){ arena_strndup(&req->arena, o.message, strlen(o.message)),
							     (int32_t)strlen(o.message) }
					    : (struct kstr){ NULL, -1 };
		rr->resource_type = r->resource_type;
		rr->resource_name = r->resource_name;
	}
	request_respond(req, &resp);
}

static void incremental_job(struct request *req)
{
	const struct incremental_alter_configs_request *q = req->body;
	struct incremental_alter_configs_response resp;
	incremental_alter_configs_response_init(&resp);
	int n = q->resources_count > 0 ? q->resources_count : 0;
	resp.responses = arena_alloc(&req->arena, sizeof *resp.responses * (size_t)(n ? n : 1));
	resp.responses_count = n;
	for (int i = 0; i < n; i++) {
		const struct incremental_alter_configs_request_alter_configs_resource *r = &q->resources[i];
		int nc = r->configs_count > 0 ? r->configs_count : 0;
		struct change *ch = arena_alloc(&req->arena, sizeof *ch * (size_t)(nc ? nc : 1));
		struct outcome o = { 0 };
		for (int k = 0; k < nc; k++) {
			ch[k] = (struct change){ cstr(&req->arena, r->configs[k].name), cstr(&req->arena, r->configs[k].value),
						 r->configs[k].config_operation };
			for (int j = 0; j < k; j++)
				if (ch[j].key && ch[k].key && !strcmp(ch[j].key, ch[k].key))
					FAIL(&o, KERR_INVALID_REQUEST, "Error due to duplicate config keys: %s", ch[k].key);
		}
		if (!o.error)
			alter_resource(req, r->resource_type, r->resource_name, ch, nc, false, q->validate_only, &o);
		struct incremental_alter_configs_response_alter_configs_resource_response *rr = &resp.responses[i];
		incremental_alter_configs_response_alter_configs_resource_response_init(rr);
		rr->error_code = o.error;
		rr->error_message = o.error ? (struct kstr){ arena_strndup(&req->arena, o.message, strlen(o.message)),
							     (int32_t)strlen(o.message) }
					    : (struct kstr){ NULL, -1 };
		rr->resource_type = r->resource_type;
		rr->resource_name = r->resource_name;
	}
	request_respond(req, &resp);
}

void handle_alter_configs(struct request *req) { admin_executor_submit(req->broker->admin, req, alter_job); }

void handle_incremental_alter_configs(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, incremental_job);
}
