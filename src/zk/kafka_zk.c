/* Kafka's znode layout and payloads (see kafka_zk.h and ZK-LAYOUT facts). */
#include "samsa/zk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/arena.h"
#include "samsa/util/clock.h"
#include "samsa/util/json.h"
#include "samsa/util/log.h"
#include "samsa/util/uuid.h"
#include "samsa/util/xalloc.h"

static const char *const persistent_paths[] = {
	"/consumers", "/brokers/ids", "/brokers/topics", "/config/changes", "/admin/delete_topics",
	"/brokers/seqid", "/isr_change_notification", "/latest_producer_id_block",
	"/log_dir_event_notification", "/config/topics", "/config/clients", "/config/users",
	"/config/brokers", "/config/ips",
};

static const char *protocol_name(int p)
{
	switch (p) {
	case 0: return "PLAINTEXT";
	case 1: return "SSL";
	case 2: return "SASL_PLAINTEXT";
	case 3: return "SASL_SSL";
	default: return NULL;
	}
}

static int protocol_id(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(protocol_name(i), name) == 0)
			return i;
	return -1;
}

int kafka_zk_ensure_paths(struct zk *zk)
{
	for (size_t i = 0; i < sizeof persistent_paths / sizeof persistent_paths[0]; i++) {
		int rc = zk_create_recursive(zk, persistent_paths[i], NULL, -1);
		if (rc != ZOK) {
			log_error("Cannot create %s in ZooKeeper: %s", persistent_paths[i], zerror(rc));
			return -1;
		}
	}
	return 0;
}

static int read_cluster_id(struct zk *zk, char **out)
{
	char *data = NULL;
	int len = 0;
	int rc = zk_get(zk, "/cluster/id", NULL, NULL, &data, &len, NULL);
	if (rc != ZOK)
		return rc;
	struct arena a;
	arena_init(&a);
	struct json *j = json_parse(&a, data, len > 0 ? (size_t)len : 0);
	const char *id = json_get_string(j, "id");
	rc = id ? ZOK : ZBADARGUMENTS;
	if (id)
		*out = xstrdup(id);
	else
		log_error("/cluster/id holds no cluster id: %.*s", len > 0 ? len : 0, data ? data : "");
	arena_free(&a);
	free(data);
	return rc;
}

int kafka_zk_get_or_create_cluster_id(struct zk *zk, char **out)
{
	int rc = read_cluster_id(zk, out);
	if (rc == ZOK)
		return 0;
	if (rc != ZNONODE)
		return -1;
	uint8_t id[16];
	char text[UUID_STR_LEN + 1];
	uuid_random(id);
	uuid_to_base64(id, text);
	struct wbuf w;
	wbuf_init(&w);
	json_write_raw(&w, "{\"version\":\"1\",\"id\":");
	json_write_string(&w, text);
	json_write_raw(&w, "}");
	zk_create_recursive(zk, "/cluster", NULL, -1);
	rc = zk_create(zk, "/cluster/id", (const char *)w.data, (int)w.len, 0, NULL, NULL, 0);
	wbuf_free(&w);
	if (rc != ZOK && rc != ZNODEEXISTS)
		return -1;
	/* Lost a race with another broker, or won it: either way the znode is the truth. */
	return read_cluster_id(zk, out) == ZOK ? 0 : -1;
}

int kafka_zk_generate_broker_id(struct zk *zk, int32_t reserved_max_id, int32_t *out)
{
	struct Stat st;
	int rc = zk_set(zk, "/brokers/seqid", "", 0, -1, &st);
	if (rc != ZOK)
		return -1;
	*out = st.version + reserved_max_id;
	return 0;
}

void kafka_zk_broker_json(const struct kafka_broker_registration *reg, struct wbuf *w)
{
	/* host/port: the first PLAINTEXT endpoint, kept for ancient clients. */
	const struct kafka_endpoint *plain = NULL;
	for (int i = 0; i < reg->n_endpoints && !plain; i++)
		if (reg->endpoints[i].security_protocol == 0)
			plain = &reg->endpoints[i];

	json_write_raw(w, "{\"features\":{},\"listener_security_protocol_map\":{");
	for (int i = 0; i < reg->n_endpoints; i++) {
		if (i)
			json_write_raw(w, ",");
		json_write_string(w, reg->endpoints[i].listener);
		json_write_raw(w, ":");
		json_write_string(w, protocol_name(reg->endpoints[i].security_protocol));
	}
	json_write_raw(w, "},\"endpoints\":[");
	for (int i = 0; i < reg->n_endpoints; i++) {
		const struct kafka_endpoint *e = &reg->endpoints[i];
		char buf[512];
		bool v6 = strchr(e->host, ':') != NULL;
		snprintf(buf, sizeof buf, "%s://%s%s%s:%d", e->listener, v6 ? "[" : "", e->host, v6 ? "]" : "",
			 e->port);
		if (i)
			json_write_raw(w, ",");
		json_write_string(w, buf);
	}
	json_write_raw(w, "],\"jmx_port\":-1,\"port\":");
	json_write_int(w, plain ? plain->port : -1);
	json_write_raw(w, ",\"host\":");
	if (plain && plain->host[0])
		json_write_string(w, plain->host);
	else
		json_write_raw(w, "null");
	json_write_raw(w, ",\"version\":5,\"timestamp\":\"");
	json_write_int(w, reg->timestamp_ms ? reg->timestamp_ms : wall_clock_ms());
	json_write_raw(w, "\"");
	if (reg->rack) {
		json_write_raw(w, ",\"rack\":");
		json_write_string(w, reg->rack);
	}
	json_write_raw(w, "}");
}

static void add_endpoint(struct kafka_broker_info *info, const char *listener, const char *host, int port,
			 int protocol)
{
	info->endpoints = xrealloc(info->endpoints, sizeof *info->endpoints * (size_t)(info->n_endpoints + 1));
	struct kafka_endpoint *e = &info->endpoints[info->n_endpoints++];
	e->listener = xstrdup(listener);
	e->host = xstrdup(host);
	e->port = port;
	e->security_protocol = protocol;
}

/* "NAME://host:port", "NAME://[v6]:port" or "NAME://:port". */
static int parse_endpoint(const char *s, const struct json *map, struct kafka_broker_info *info)
{
	const char *sep = strstr(s, "://");
	if (!sep || sep == s)
		return -1;
	char *name = xstrndup(s, (size_t)(sep - s));
	const char *hp = sep + 3;
	const char *colon = strrchr(hp, ':');
	int rc = -1;
	if (colon) {
		char *end;
		long port = strtol(colon + 1, &end, 10);
		size_t hl = (size_t)(colon - hp);
		if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
			hp++;
			hl -= 2;
		}
		char *host = xstrndup(hp, hl);
		int proto = -1;
		const char *mapped = map ? json_get_string(map, name) : NULL;
		proto = protocol_id(mapped ? mapped : name);
		if (!*end && port >= 0 && port <= 65535 && proto >= 0) {
			add_endpoint(info, name, host, (int)port, proto);
			rc = 0;
		}
		free(host);
	}
	free(name);
	return rc;
}

int kafka_zk_parse_broker_json(const char *json, int len, struct kafka_broker_info *info)
{
	struct arena a;
	arena_init(&a);
	int rc = -1;
	struct json *j = json_parse(&a, json, len > 0 ? (size_t)len : 0);
	int64_t version;
	info->rack = NULL;
	info->endpoints = NULL;
	info->n_endpoints = 0;
	if (!j || !json_get_int(j, "version", &version) || version < 1)
		goto out;
	if (version == 1) {
		int64_t port;
		const char *host = json_get_string(j, "host");
		if (!host || !json_get_int(j, "port", &port))
			goto out;
		add_endpoint(info, "PLAINTEXT", host, (int)port, 0);
	} else {
		const struct json *eps = json_get(j, "endpoints");
		const struct json *map = json_get(j, "listener_security_protocol_map");
		if (!eps || eps->type != JSON_ARRAY)
			goto out;
		for (size_t i = 0; i < eps->n; i++)
			if (eps->items[i]->type != JSON_STRING || parse_endpoint(eps->items[i]->str, map, info) != 0)
				goto out;
	}
	const char *rack = json_get_string(j, "rack");
	if (rack)
		info->rack = xstrdup(rack);
	rc = 0;
out:
	if (rc)
		kafka_broker_info_clear(info);
	arena_free(&a);
	return rc;
}

void kafka_broker_info_clear(struct kafka_broker_info *info)
{
	for (int i = 0; i < info->n_endpoints; i++) {
		free(info->endpoints[i].listener);
		free(info->endpoints[i].host);
	}
	free(info->endpoints);
	free(info->rack);
	info->endpoints = NULL;
	info->n_endpoints = 0;
	info->rack = NULL;
}

void kafka_broker_info_free_array(struct kafka_broker_info *list, int n)
{
	for (int i = 0; i < n; i++)
		kafka_broker_info_clear(&list[i]);
	free(list);
}

int kafka_zk_register_broker(struct zk *zk, const struct kafka_broker_registration *reg, int64_t *epoch)
{
	char path[64];
	snprintf(path, sizeof path, "/brokers/ids/%d", reg->id);
	struct wbuf w;
	wbuf_init(&w);
	kafka_zk_broker_json(reg, &w);
	struct Stat st;
	int rc = zk_create(zk, path, (const char *)w.data, (int)w.len, ZOO_EPHEMERAL, &st, NULL, 0);
	wbuf_free(&w);
	if (rc == ZOK) {
		*epoch = st.czxid;
		return 0;
	}
	if (rc == ZNODEEXISTS) {
		/* Ours already (a retried create after a connection blip) is fine; anyone else's is not. */
		if (zk_exists(zk, path, NULL, NULL, &st) == ZOK && st.ephemeralOwner == zk_session_id(zk)) {
			*epoch = st.czxid;
			return 0;
		}
		return KAFKA_ZK_ALREADY_REGISTERED;
	}
	log_error("Creating %s failed: %s", path, zerror(rc));
	return -1;
}

static int cmp_info(const void *a, const void *b)
{
	int32_t x = ((const struct kafka_broker_info *)a)->id, y = ((const struct kafka_broker_info *)b)->id;
	return x < y ? -1 : x > y;
}

int kafka_zk_get_brokers(struct zk *zk, zk_watch_fn watch, void *arg, struct kafka_broker_info **out, int *n)
{
	struct String_vector kids;
	int rc = zk_children(zk, "/brokers/ids", watch, arg, &kids);
	if (rc != ZOK)
		return -1;
	struct kafka_broker_info *list = xcalloc((size_t)(kids.count ? kids.count : 1), sizeof *list);
	int k = 0;
	for (int i = 0; i < kids.count; i++) {
		char *end;
		long id = strtol(kids.data[i], &end, 10);
		if (*end || id < 0 || id > INT32_MAX)
			continue;
		char path[64];
		snprintf(path, sizeof path, "/brokers/ids/%ld", id);
		char *data = NULL;
		int len = 0;
		struct Stat st;
		if (zk_get(zk, path, NULL, NULL, &data, &len, &st) != ZOK)
			continue; /* gone meanwhile: the children watch will tell us again */
		struct kafka_broker_info *bi = &list[k];
		if (kafka_zk_parse_broker_json(data, len, bi) == 0) {
			bi->id = (int32_t)id;
			bi->epoch = st.czxid;
			k++;
		} else {
			log_warn("Ignoring unreadable registration at %s", path);
		}
		free(data);
	}
	deallocate_String_vector(&kids);
	qsort(list, (size_t)k, sizeof *list, cmp_info);
	*out = list;
	*n = k;
	return 0;
}

int kafka_zk_parse_controller_json(const char *json, int len, int32_t *id)
{
	struct arena a;
	arena_init(&a);
	struct json *j = json_parse(&a, json, len > 0 ? (size_t)len : 0);
	int64_t v;
	int rc = j && json_get_int(j, "brokerid", &v) && v >= 0 && v <= INT32_MAX ? 0 : -1;
	if (rc == 0)
		*id = (int32_t)v;
	arena_free(&a);
	return rc;
}

int kafka_zk_get_controller_id(struct zk *zk, zk_watch_fn watch, void *arg, int32_t *id)
{
	*id = -1;
	/* exists() sets a watch whether or not the node is there, so we hear of its creation too. */
	int rc = zk_exists(zk, "/controller", watch, arg, NULL);
	if (rc == ZNONODE)
		return 0;
	if (rc != ZOK)
		return -1;
	char *data = NULL;
	int len = 0;
	rc = zk_get(zk, "/controller", NULL, NULL, &data, &len, NULL);
	if (rc == ZNONODE)
		return 0;
	if (rc != ZOK)
		return -1;
	if (kafka_zk_parse_controller_json(data, len, id) != 0)
		log_warn("Unreadable /controller payload");
	free(data);
	return 0;
}

static int read_epoch(struct zk *zk, int32_t *epoch, int32_t *version)
{
	char *data = NULL;
	int len = 0;
	struct Stat st;
	int rc = zk_get(zk, "/controller_epoch", NULL, NULL, &data, &len, &st);
	if (rc != ZOK)
		return rc;
	char buf[32] = { 0 };
	if (data && len > 0 && len < (int)sizeof buf)
		memcpy(buf, data, (size_t)len);
	free(data);
	char *end;
	long e = strtol(buf, &end, 10);
	if (end == buf || e < 0 || e > INT32_MAX)
		return ZBADARGUMENTS;
	*epoch = (int32_t)e;
	*version = st.version;
	return ZOK;
}

int kafka_zk_elect_controller(struct zk *zk, int32_t broker_id, struct kafka_election *out)
{
	memset(out, 0, sizeof *out);
	out->controller_id = -1;
	int32_t epoch = 0, version = 0;
	int rc = read_epoch(zk, &epoch, &version);
	if (rc == ZNONODE) {
		rc = zk_create(zk, "/controller_epoch", "0", 1, 0, NULL, NULL, 0);
		if (rc != ZOK && rc != ZNODEEXISTS)
			return -1;
		rc = read_epoch(zk, &epoch, &version);
	}
	if (rc != ZOK)
		return -1;

	struct wbuf w;
	wbuf_init(&w);
	json_write_raw(&w, "{\"version\":2,\"brokerid\":");
	json_write_int(&w, broker_id);
	json_write_raw(&w, ",\"timestamp\":\"");
	json_write_int(&w, wall_clock_ms());
	json_write_raw(&w, "\",\"kraftControllerEpoch\":-1}");
	char next[16];
	int nlen = snprintf(next, sizeof next, "%d", epoch + 1);

	/* Both or neither: the epoch moves exactly when /controller is ours. */
	zoo_op_t ops[2];
	zoo_op_result_t results[2];
	struct Stat st;
	zoo_create_op_init(&ops[0], "/controller", (const char *)w.data, (int)w.len, &ZOO_OPEN_ACL_UNSAFE,
			   ZOO_EPHEMERAL, NULL, 0);
	zoo_set_op_init(&ops[1], "/controller_epoch", next, nlen, version, &st);
	rc = zk_multi(zk, 2, ops, results);
	wbuf_free(&w);
	if (rc == ZOK) {
		out->won = true;
		out->controller_id = broker_id;
		out->epoch = epoch + 1;
		out->epoch_zk_version = st.version;
		return 0;
	}
	if (rc != ZNODEEXISTS && rc != ZBADVERSION) {
		log_error("Controller election multi failed: %s", zerror(rc));
		return -1;
	}
	/* Lost, unless a retried request of ours is what got there first. */
	int32_t holder = -1;
	if (kafka_zk_get_controller_id(zk, NULL, NULL, &holder) != 0)
		return -1;
	int32_t cur = 0, cur_version = 0;
	if (holder == broker_id && read_epoch(zk, &cur, &cur_version) == ZOK && cur == epoch + 1) {
		out->won = true;
		out->epoch = cur;
		out->epoch_zk_version = cur_version;
	}
	out->controller_id = holder;
	return 0;
}

/* --- classic consumer offsets --------------------------------------------------------------- */

bool kafka_zk_consumer_group_valid(const char *group, size_t len)
{
	if (!group || len == 0 || (len == 1 && group[0] == '.') || (len == 2 && group[0] == '.' && group[1] == '.'))
		return false;
	return memchr(group, '/', len) == NULL && memchr(group, '\0', len) == NULL;
}

static void consumer_offset_path(char *buf, size_t cap, const char *group, size_t group_len, const char *topic,
				 size_t topic_len, int32_t partition)
{
	snprintf(buf, cap, "/consumers/%.*s/offsets/%.*s/%d", (int)group_len, group, (int)topic_len, topic,
		 partition);
}

int kafka_zk_set_consumer_offset(struct zk *zk, const char *group, size_t group_len, const char *topic,
				 size_t topic_len, int32_t partition, int64_t offset)
{
	char path[1024], text[32];
	consumer_offset_path(path, sizeof path, group, group_len, topic, topic_len, partition);
	int len = snprintf(text, sizeof text, "%" PRId64, offset);
	int rc = zk_set(zk, path, text, len, -1, NULL);
	if (rc == ZNONODE) {
		/* The first commit for this partition: make the parents, then race other committers. */
		char *slash = strrchr(path, '/');
		*slash = '\0';
		rc = zk_create_recursive(zk, path, NULL, -1);
		*slash = '/';
		if (rc == ZOK)
			rc = zk_create(zk, path, text, len, 0, NULL, NULL, 0);
		if (rc == ZNODEEXISTS)
			rc = zk_set(zk, path, text, len, -1, NULL);
	}
	if (rc != ZOK)
		log_warn("Storing offset at %s failed: %s", path, zerror(rc));
	return rc;
}

int kafka_zk_get_consumer_offset(struct zk *zk, const char *group, size_t group_len, const char *topic,
				 size_t topic_len, int32_t partition, int64_t *offset)
{
	*offset = -1;
	char path[1024];
	consumer_offset_path(path, sizeof path, group, group_len, topic, topic_len, partition);
	char *data = NULL;
	int len = 0;
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, NULL);
	if (rc == ZOK && data && len > 0 && len < 32) {
		char text[32];
		memcpy(text, data, (size_t)len);
		text[len] = '\0';
		char *end;
		long long v = strtoll(text, &end, 10);
		if (*end == '\0')
			*offset = v;
		else
			rc = KAFKA_ZK_MALFORMED;
	}
	free(data);
	return rc;
}
