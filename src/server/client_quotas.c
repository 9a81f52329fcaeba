/*
 * DescribeClientQuotas and AlterClientQuotas [Kafka's ZkAdminManager
 * describeClientQuotas / alterClientQuotas]: client quota entities are the
 * znodes /config/users/<u>, /config/users/<u>/clients/<c> and
 * /config/clients/<c> (a null name is <default>), holding Kafka's
 * {"version":1,"config":{...}} with the quota keys next to whatever else the
 * entity keeps (SCRAM credentials).  An alteration rewrites the znode on its
 * version and announces it under /config/changes, so every broker's quota
 * manager picks it up (quotas.c).  ip entities (connection_creation_rate) are
 * refused: samsa has no connection rate quotas yet.  Runs on the admin thread.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/quotas.h"

#define DEFAULT_NAME "<default>"

enum { MATCH_EXACT = 0, MATCH_DEFAULT = 1, MATCH_ANY = 2 };

static struct kstr ks(struct arena *a, const char *s)
{
	if (!s)
		return (struct kstr){ NULL, -1 };
	return (struct kstr){ arena_strndup(a, s, strlen(s)), (int32_t)strlen(s) };
}

static bool keq(struct kstr k, const char *s)
{
	return k.ptr && (size_t)k.len == strlen(s) && !memcmp(k.ptr, s, (size_t)k.len);
}

/* The name as a path component: sanitized, or <default> for null. */
static void component(struct kstr name, char *out, size_t cap)
{
	if (!name.ptr) {
		snprintf(out, cap, "%s", DEFAULT_NAME);
		return;
	}
	char raw[512];
	size_t n = name.len > 0 ? (size_t)name.len : 0;
	if (n >= sizeof raw)
		n = sizeof raw - 1;
	memcpy(raw, name.ptr, n);
	raw[n] = 0;
	config_zk_sanitize(raw, out, cap);
}

/* Kafka's Sanitizer.desanitize (URL decoding); <default> stays as it is, the caller maps it. */
static char *desanitize(struct arena *a, const char *s)
{
	size_t n = strlen(s);
	char *out = arena_alloc(a, n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };
			out[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = 0;
	return out;
}

/* ---- AlterClientQuotas ---------------------------------------------------------- */

struct outcome {
	int16_t error;
	char message[300];
};

#define FAIL(o, err, ...) do { (o)->error = (err); snprintf((o)->message, sizeof (o)->message, __VA_ARGS__); } while (0)

static void alter_entry(struct request *req, const struct alter_client_quotas_request_entry_data *en, bool validate_only,
			struct outcome *o)
{
	struct broker *b = req->broker;
	struct arena *a = &req->arena;
	const struct alter_client_quotas_request_entity_data *user = NULL, *client = NULL;
	int ne = en->entity_count > 0 ? en->entity_count : 0;
	if (ne == 0) {
		FAIL(o, KERR_INVALID_REQUEST, "Invalid empty client quota entity");
		return;
	}
	for (int i = 0; i < ne; i++) {
		const struct alter_client_quotas_request_entity_data *e = &en->entity[i];
		if (keq(e->entity_type, "user")) {
			if (user) {
				FAIL(o, KERR_INVALID_REQUEST, "Duplicate user entity");
				return;
			}
			user = e;
		} else if (keq(e->entity_type, "client-id")) {
			if (client) {
				FAIL(o, KERR_INVALID_REQUEST, "Duplicate client-id entity");
				return;
			}
			client = e;
		} else if (keq(e->entity_type, "ip")) {
			FAIL(o, KERR_INVALID_REQUEST, "samsa does not support ip (connection_creation_rate) quotas yet");
			return;
		} else {
			FAIL(o, KERR_INVALID_REQUEST, "Unhandled client quota entity type: %.*s",
			     e->entity_type.len > 0 && e->entity_type.len < 100 ? e->entity_type.len : 0,
			     e->entity_type.ptr ? e->entity_type.ptr : "");
			return;
		}
	}
	char u[600], c[600], path[1300];
	if (user)
		component(user->entity_name, u, sizeof u);
	if (client)
		component(client->entity_name, c, sizeof c);
	if (user && client)
		snprintf(path, sizeof path, "users/%s/clients/%s", u, c);
	else if (user)
		snprintf(path, sizeof path, "users/%s", u);
	else
		snprintf(path, sizeof path, "clients/%s", c);

	/* The new values of the quota keys, checked before anything is read or written. */
	bool touched[QUOTA_TYPES] = { false }, removed[QUOTA_TYPES] = { false };
	char value[QUOTA_TYPES][64];
	int no = en->ops_count > 0 ? en->ops_count : 0;
	for (int i = 0; i < no; i++) {
		const struct alter_client_quotas_request_op_data *op = &en->ops[i];
		char key[128];
		snprintf(key, sizeof key, "%.*s", op->key.len > 0 && op->key.len < 120 ? op->key.len : 0,
			 op->key.ptr ? op->key.ptr : "");
		int t = quota_key_type(key);
		if (t < 0) {
			FAIL(o, KERR_INVALID_REQUEST, "Invalid configuration key %s", key);
			return;
		}
		if (touched[t]) {
			FAIL(o, KERR_INVALID_REQUEST, "Duplicate quota key %s", key);
			return;
		}
		touched[t] = true;
		if (op->remove) {
			removed[t] = true;
			continue;
		}
		double v = op->value;
		if (t == QUOTA_PRODUCE || t == QUOTA_FETCH) {
			/* LONG keys: the double must be a whole number, as Kafka checks. */
			double r = floor(v + 1e-6);
			if (!isfinite(v) || fabs(r - v) > 1e-6) {
				FAIL(o, KERR_INVALID_REQUEST, "Configuration %s must be a Long value", key);
				return;
			}
			if (r < 1) {
				FAIL(o, KERR_INVALID_CONFIG, "Invalid value %.0f for configuration %s: Value must be at least 1",
				     r, key);
				return;
			}
			snprintf(value[t], sizeof value[t], "%lld", (long long)r);
		} else {
			if (!isfinite(v) || !(v > 0)) {
				FAIL(o, KERR_INVALID_CONFIG, "Invalid value %g for configuration %s: Value must be positive", v,
				     key);
				return;
			}
			snprintf(value[t], sizeof value[t], "%.17g", v);
			if (!strchr(value[t], '.') && !strchr(value[t], 'e'))
				strcat(value[t], ".0"); /* as Java prints a double */
		}
	}
	if (validate_only)
		return;

	struct topic_config_entry *cur = NULL;
	int n_cur = 0;
	int32_t version = -1;
	int rc = config_zk_get_entity(b->zk, path, a, &cur, &n_cur, &version);
	if (rc == TOPIC_ZK_MALFORMED) {
		FAIL(o, KERR_UNKNOWN_SERVER_ERROR, "/config/%.200s is not Kafka's config JSON; fix it by hand first", path);
		return;
	}
	if (rc != ZOK && rc != ZNONODE) {
		FAIL(o, KERR_UNKNOWN_SERVER_ERROR, "cannot read /config/%.200s", path);
		return;
	}
	struct topic_config_entry *next = arena_alloc(a, sizeof *next * (size_t)(n_cur + QUOTA_TYPES + 1));
	int m = 0;
	for (int i = 0; i < n_cur; i++) {
		int t = quota_key_type(cur[i].key);
		if (cur[i].value && (t < 0 || !touched[t]))
			next[m++] = cur[i];
	}
	for (int t = 0; t < QUOTA_TYPES; t++)
		if (touched[t] && !removed[t])
			next[m++] = (struct topic_config_entry){ quota_keys[t], arena_strndup(a, value[t], strlen(value[t])) };
	rc = config_zk_set_entity(b->zk, path, next, m, rc == ZNONODE ? -1 : version);
	if (rc != ZOK) {
		FAIL(o, KERR_UNKNOWN_SERVER_ERROR, "/config/%.200s changed meanwhile or cannot be written; retry", path);
		return;
	}
	if (config_zk_notify_entity(b->zk, path) != ZOK)
		log_warn("AlterClientQuotas: cannot write the /config/changes notice for %s", path);
	log_info("Client quotas of %s changed by %s", path, req->info.peer);
}

static void alter_job(struct request *req)
{
	const struct alter_client_quotas_request *q = req->body;
	struct alter_client_quotas_response resp;
	alter_client_quotas_response_init(&resp);
	int n = q->entries_count > 0 ? q->entries_count : 0;
	resp.entries = arena_alloc(&req->arena, sizeof *resp.entries * (size_t)(n ? n : 1));
	resp.entries_count = n;
	/* Kafka: AlterConfigs on the cluster. */
	bool allowed = request_authorize(req, ACL_OP_ALTER_CONFIGS, ACL_RESOURCE_CLUSTER, NULL, 0);
	for (int i = 0; i < n; i++) {
		const struct alter_client_quotas_request_entry_data *en = &q->entries[i];
		struct outcome o = { 0, "" };
		if (allowed)
			alter_entry(req, en, q->validate_only, &o);
		else
			FAIL(&o, KERR_CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.");
		struct alter_client_quotas_response_entry_data *r = &resp.entries[i];
		alter_client_quotas_response_entry_data_init(r);
		r->error_code = o.error;
		r->error_message = o.error ? ks(&req->arena, o.message) : (struct kstr){ NULL, -1 };
		int ne = en->entity_count > 0 ? en->entity_count : 0;
		r->entity = arena_alloc(&req->arena, sizeof *r->entity * (size_t)(ne ? ne : 1));
		r->entity_count = ne;
		for (int k = 0; k < ne; k++) {
			r->entity[k].entity_type = en->entity[k].entity_type;
			r->entity[k].entity_name = en->entity[k].entity_name;
		}
	}
	request_respond(req, &resp);
}

/* ---- DescribeClientQuotas ----------------------------------------------------- */

struct found {
	const char *user, *client; /* desanitized; NULL: the entity has no such part; "<default>" kept as is */
	bool has[QUOTA_TYPES];
	double v[QUOTA_TYPES];
};

struct found_list {
	struct found *f;
	int n, cap;
};

static void consider(struct request *req, const char *path, const char *user, const char *client,
		     struct found_list *out)
{
	struct arena *a = &req->arena;
	struct topic_config_entry *e = NULL;
	int n = 0;
	int32_t version;
	if (config_zk_get_entity(req->broker->zk, path, a, &e, &n, &version) != ZOK)
		return; /* gone, or malformed (logged by the brokers that load it) */
	struct found f = { user, client, { false }, { 0 } };
	bool any = false;
	for (int i = 0; i < n; i++) {
		int t = quota_key_type(e[i].key);
		char *end = NULL;
		if (t < 0 || !e[i].value)
			continue;
		double v = strtod(e[i].value, &end);
		if (end == e[i].value || *end)
			continue;
		f.has[t] = true;
		f.v[t] = v;
		any = true;
	}
	if (!any)
		return;
	if (out->n == out->cap) {
		int cap = out->cap ? 2 * out->cap : 16;
		struct found *nf = arena_alloc(a, sizeof *nf * (size_t)cap);
		if (out->n)
			memcpy(nf, out->f, sizeof *nf * (size_t)out->n);
		out->f = nf;
		out->cap = cap;
	}
	out->f[out->n++] = f;
}

static void list_all(struct request *req, struct found_list *out)
{
	struct zk *zk = req->broker->zk;
	struct arena *a = &req->arena;
	struct String_vector users = { 0, NULL }, clients = { 0, NULL };
	char path[1300];
	if (config_zk_children(zk, "users", &users) == ZOK) {
		for (int i = 0; i < users.count; i++) {
			const char *u = desanitize(a, users.data[i]);
			snprintf(path, sizeof path, "users/%s", users.data[i]);
			consider(req, path, u, NULL, out);
			struct String_vector uc = { 0, NULL };
			snprintf(path, sizeof path, "users/%s/clients", users.data[i]);
			if (config_zk_children(zk, path, &uc) == ZOK) {
				for (int k = 0; k < uc.count; k++) {
					snprintf(path, sizeof path, "users/%s/clients/%s", users.data[i], uc.data[k]);
					consider(req, path, u, desanitize(a, uc.data[k]), out);
				}
				deallocate_String_vector(&uc);
			}
		}
		deallocate_String_vector(&users);
	}
	if (config_zk_children(zk, "clients", &clients) == ZOK) {
		for (int i = 0; i < clients.count; i++) {
			snprintf(path, sizeof path, "clients/%s", clients.data[i]);
			consider(req, path, NULL, desanitize(&req->arena, clients.data[i]), out);
		}
		deallocate_String_vector(&clients);
	}
}

/* One filter component against one part of an entity (NULL: the entity has no such part). */
static bool component_matches(const struct describe_client_quotas_request_component_data *c, const char *name)
{
	if (!name)
		return false;
	bool is_default = !strcmp(name, DEFAULT_NAME);
	if (c->match_type == MATCH_ANY)
		return true;
	if (c->match_type == MATCH_DEFAULT)
		return is_default;
	return !is_default && keq(c->match, name);
}

static void describe_job(struct request *req)
{
	const struct describe_client_quotas_request *q = req->body;
	struct arena *a = &req->arena;
	struct describe_client_quotas_response resp;
	describe_client_quotas_response_init(&resp);
	resp.error_message = (struct kstr){ NULL, -1 };
	/* Kafka: DescribeConfigs on the cluster. */
	if (!request_authorize(req, ACL_OP_DESCRIBE_CONFIGS, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		resp.error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
		resp.error_message = ks(a, "Cluster authorization failed.");
		request_respond(req, &resp);
		return;
	}
	const struct describe_client_quotas_request_component_data *cu = NULL, *cc = NULL;
	bool ip = false;
	int nc = q->components_count > 0 ? q->components_count : 0;
	const char *bad = NULL;
	for (int i = 0; i < nc && !bad; i++) {
		const struct describe_client_quotas_request_component_data *c = &q->components[i];
		const struct describe_client_quotas_request_component_data **slot = NULL;
		if (keq(c->entity_type, "user"))
			slot = &cu;
		else if (keq(c->entity_type, "client-id"))
			slot = &cc;
		else if (keq(c->entity_type, "ip"))
			ip = true;
		else
			bad = "Custom entity type not supported";
		if (slot && *slot)
			bad = "Duplicate entity type in filter";
		else if (slot)
			*slot = c;
		if (c->match_type == MATCH_EXACT && !c->match.ptr)
			bad = "Unexpected null match for an exact match type";
		else if (c->match_type != MATCH_EXACT && c->match_type != MATCH_DEFAULT && c->match_type != MATCH_ANY)
			bad = "Unexpected match type";
		else if (c->match_type != MATCH_EXACT && c->match.ptr)
			bad = "Unexpected match for a default or any match type";
	}
	if (bad) {
		resp.error_code = KERR_INVALID_REQUEST;
		resp.error_message = ks(a, bad);
		request_respond(req, &resp);
		return;
	}
	struct found_list all = { NULL, 0, 0 };
	if (!ip) /* there are no ip entities */
		list_all(req, &all);
	resp.entries = arena_alloc(a, sizeof *resp.entries * (size_t)(all.n ? all.n : 1));
	for (int i = 0; i < all.n; i++) {
		const struct found *f = &all.f[i];
		if (cu && !component_matches(cu, f->user))
			continue;
		if (cc && !component_matches(cc, f->client))
			continue;
		if (q->strict && ((f->user && !cu) || (f->client && !cc)))
			continue;
		struct describe_client_quotas_response_entry_data *e = &resp.entries[resp.entries_count++];
		describe_client_quotas_response_entry_data_init(e);
		e->entity = arena_alloc(a, sizeof *e->entity * 2);
		if (f->user) {
			e->entity[e->entity_count].entity_type = ks(a, "user");
			e->entity[e->entity_count++].entity_name =
				!strcmp(f->user, DEFAULT_NAME) ? (struct kstr){ NULL, -1 } : ks(a, f->user);
		}
		if (f->client) {
			e->entity[e->entity_count].entity_type = ks(a, "client-id");
			e->entity[e->entity_count++].entity_name =
				!strcmp(f->client, DEFAULT_NAME) ? (struct kstr){ NULL, -1 } : ks(a, f->client);
		}
		e->values = arena_alloc(a, sizeof *e->values * QUOTA_TYPES);
		for (int t = 0; t < QUOTA_TYPES; t++)
			if (f->has[t]) {
				e->values[e->values_count].key = ks(a, quota_keys[t]);
				e->values[e->values_count++].value = f->v[t];
			}
	}
	request_respond(req, &resp);
}

void handle_describe_client_quotas(struct request *req) { admin_executor_submit(req->broker->admin, req, describe_job); }

void handle_alter_client_quotas(struct request *req) { admin_executor_submit(req->broker->admin, req, alter_job); }
