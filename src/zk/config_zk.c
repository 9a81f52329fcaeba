/*
 * Entity configs in ZooKeeper [Kafka's AdminZkClient / ConfigEntityZNode]:
 * /config/<type>/<sanitized name> holding {"version":1,"config":{...}}, and
 * the sequential /config/changes/config_change_ notice that tells every
 * broker an entity changed: {"version":2,"entity_path":"<type>/<name>"}.
 */
#include "samsa/zk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/buf.h"
#include "samsa/util/json.h"
#include "samsa/util/xalloc.h"

void config_zk_sanitize(const char *name, char *out, size_t cap)
{
	/* [Kafka's Sanitizer]: URL encoding, with '*' escaped too (and no '+' for a space). */
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < cap; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
			     *p == '-' || *p == '_';
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = 0;
}

static void entity_path(char *out, size_t cap, const char *type, const char *name)
{
	char s[768];
	config_zk_sanitize(name, s, sizeof s);
	snprintf(out, cap, "/config/%s/%s", type, s);
}

int config_zk_get(struct zk *zk, const char *type, const char *name, struct arena *a,
		  struct topic_config_entry **out, int *n, int32_t *version)
{
	char path[1024];
	entity_path(path, sizeof path, type, name);
	return config_zk_get_entity(zk, path + strlen("/config/"), a, out, n, version);
}

int config_zk_get_entity(struct zk *zk, const char *entity, struct arena *a, struct topic_config_entry **out, int *n,
			 int32_t *version)
{
	*out = NULL;
	*n = 0;
	*version = -1;
	char path[1100];
	snprintf(path, sizeof path, "/config/%s", entity);
	char *data = NULL;
	int len = 0;
	struct Stat st;
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, &st);
	if (rc != ZOK)
		return rc;
	*version = st.version;
	if (data && len > 0 && topic_zk_parse_config(data, len, a, out, n) != 0)
		rc = TOPIC_ZK_MALFORMED;
	free(data);
	return rc;
}

int config_zk_children(struct zk *zk, const char *entity_dir, struct String_vector *out)
{
	char path[1100];
	snprintf(path, sizeof path, "/config/%s", entity_dir);
	return zk_children(zk, path, NULL, NULL, out);
}

int config_zk_set(struct zk *zk, const char *type, const char *name, const struct topic_config_entry *e, int n,
		  int32_t expected_version)
{
	char path[1024];
	entity_path(path, sizeof path, type, name);
	return config_zk_set_entity(zk, path + strlen("/config/"), e, n, expected_version);
}

int config_zk_set_entity(struct zk *zk, const char *entity, const struct topic_config_entry *e, int n,
			 int32_t expected_version)
{
	struct wbuf w;
	wbuf_init(&w);
	json_write_raw(&w, "{\"version\":1,\"config\":{");
	for (int i = 0; i < n; i++) {
		if (i)
			json_write_raw(&w, ",");
		json_write_string(&w, e[i].key);
		json_write_raw(&w, ":");
		json_write_string(&w, e[i].value);
	}
	json_write_raw(&w, "}}");
	char path[1100];
	snprintf(path, sizeof path, "/config/%s", entity);
	int rc;
	if (expected_version < 0) {
		rc = zk_create(zk, path, (const char *)w.data, (int)w.len, 0, NULL, NULL, 0);
		if (rc == ZNONODE) {
			/* A parent is missing: /config/<type>, or /config/users/<u> above its clients. */
			char parent[1100];
			snprintf(parent, sizeof parent, "%s", path);
			char *slash = strrchr(parent, '/');
			if (slash)
				*slash = 0;
			zk_create_recursive(zk, parent, NULL, -1);
			rc = zk_create(zk, path, (const char *)w.data, (int)w.len, 0, NULL, NULL, 0);
		}
	} else {
		rc = zk_set(zk, path, (const char *)w.data, (int)w.len, expected_version, NULL);
	}
	wbuf_free(&w);
	return rc;
}

int config_zk_list_changes(struct zk *zk, zk_watch_fn watch, void *arg, struct String_vector *out)
{
	return zk_children(zk, "/config/changes", watch, arg, out);
}

int config_zk_read_change(struct zk *zk, const char *name, char **data, int *len)
{
	char path[512];
	snprintf(path, sizeof path, "/config/changes/%s", name);
	return zk_get(zk, path, NULL, NULL, data, len, NULL);
}

int config_zk_notify(struct zk *zk, const char *type, const char *name)
{
	char s[768];
	config_zk_sanitize(name, s, sizeof s);
	char ep[1024];
	snprintf(ep, sizeof ep, "%s/%s", type, s);
	return config_zk_notify_entity(zk, ep);
}

int config_zk_notify_entity(struct zk *zk, const char *entity)
{
	struct wbuf w;
	wbuf_init(&w);
	json_write_raw(&w, "{\"version\":2,\"entity_path\":");
	json_write_string(&w, entity);
	json_write_raw(&w, "}");
	int rc = zk_create(zk, "/config/changes/config_change_", (const char *)w.data, (int)w.len, ZOO_SEQUENCE, NULL,
			   NULL, 0);
	wbuf_free(&w);
	return rc;
}
