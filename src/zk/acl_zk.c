/*
 * ACLs in ZooKeeper [Kafka's ZkAclStore, ZkAclChangeStore and the ACL calls
 * of KafkaZkClient]: literal patterns at /kafka-acl/<ResourceType>/<name>,
 * prefixed ones at /kafka-acl-extended/prefixed/<ResourceType>/<name>, each
 * holding {"version":1,"acls":[{"principal":..,"permissionType":..,
 * "operation":..,"host":..}]}; after a change, a sequential
 * acl_changes_<seq> under /kafka-acl-changes (text "<Type>:<name>") or
 * /kafka-acl-extended-changes (JSON v1 with the enum names).
 */
#include "samsa/zk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/acl.h"
#include "samsa/util/arena.h"
#include "samsa/util/buf.h"
#include "samsa/util/json.h"
#include "samsa/util/xalloc.h"

#define LITERAL_ROOT "/kafka-acl"
#define PREFIXED_ROOT "/kafka-acl-extended/prefixed"
#define LITERAL_CHANGES "/kafka-acl-changes"
#define EXTENDED_CHANGES "/kafka-acl-extended-changes"
#define CHANGE_PREFIX "acl_changes_"

static const char *root_of(int pattern) { return pattern == ACL_PATTERN_PREFIXED ? PREFIXED_ROOT : LITERAL_ROOT; }

int acl_zk_ensure_paths(struct zk *zk)
{
	static const int patterns[] = { ACL_PATTERN_LITERAL, ACL_PATTERN_PREFIXED };
	for (int p = 0; p < 2; p++) {
		if (zk_create_recursive(zk, root_of(patterns[p]), NULL, -1) != ZOK)
			return -1;
		for (int t = ACL_RESOURCE_TOPIC; t <= ACL_RESOURCE_USER; t++) {
			char path[128];
			snprintf(path, sizeof path, "%s/%s", root_of(patterns[p]), acl_resource_type_name(t));
			if (zk_create_recursive(zk, path, NULL, -1) != ZOK)
				return -1;
		}
	}
	if (zk_create_recursive(zk, LITERAL_CHANGES, NULL, -1) != ZOK ||
	    zk_create_recursive(zk, EXTENDED_CHANGES, NULL, -1) != ZOK)
		return -1;
	return 0;
}

static char *resource_path(int type, int pattern, const char *name)
{
	return xasprintf("%s/%s/%s", root_of(pattern), acl_resource_type_name(type), name);
}

void acl_zk_json(const struct acl_entry *e, int n, struct wbuf *w)
{
	json_write_raw(w, "{\"version\":1,\"acls\":[");
	for (int i = 0; i < n; i++) {
		json_write_raw(w, i ? ",{\"principal\":" : "{\"principal\":");
		json_write_string(w, e[i].principal);
		json_write_raw(w, ",\"permissionType\":");
		json_write_string(w, acl_permission_name(e[i].permission));
		json_write_raw(w, ",\"operation\":");
		json_write_string(w, acl_operation_name(e[i].operation));
		json_write_raw(w, ",\"host\":");
		json_write_string(w, e[i].host);
		json_write_raw(w, "}");
	}
	json_write_raw(w, "]}");
}

int acl_zk_parse(const char *text, int len, struct acl_entry **out, int *n)
{
	*out = NULL;
	*n = 0;
	if (!text || len <= 0)
		return 0; /* a null znode holds no ACLs */
	struct arena a;
	arena_init(&a);
	const struct json *j = json_parse(&a, text, (size_t)len);
	const struct json *acls = j ? json_get(j, "acls") : NULL;
	if (!acls || acls->type != JSON_ARRAY) {
		arena_free(&a);
		return -1;
	}
	struct acl_entry *e = xcalloc(acls->n ? acls->n : 1, sizeof *e);
	int k = 0;
	for (size_t i = 0; i < acls->n; i++) {
		const struct json *x = acls->items[i];
		const char *pr = json_get_string(x, "principal");
		const char *pt = json_get_string(x, "permissionType");
		const char *op = json_get_string(x, "operation");
		const char *host = json_get_string(x, "host");
		int perm = acl_permission_parse(pt), oper = acl_operation_parse(op);
		if (!pr || !host || perm < ACL_PERM_DENY || oper < ACL_OP_ALL)
			continue; /* an entry we cannot read never allows anything */
		e[k].principal = xstrdup(pr);
		e[k].host = xstrdup(host);
		e[k].permission = perm;
		e[k].operation = oper;
		k++;
	}
	arena_free(&a);
	*out = e;
	*n = k;
	return 0;
}

int acl_zk_get(struct zk *zk, int type, int pattern, const char *name, struct acl_resource *out)
{
	memset(out, 0, sizeof *out);
	out->type = type;
	out->pattern = pattern;
	out->name = xstrdup(name);
	out->zk_version = -1;
	char *path = resource_path(type, pattern, name);
	char *data = NULL;
	int len = 0;
	struct Stat st;
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, &st);
	free(path);
	if (rc == ZNONODE)
		return ZOK;
	if (rc != ZOK)
		return rc;
	out->zk_version = st.version;
	if (acl_zk_parse(data, len, &out->entries, &out->n_entries) != 0)
		out->n_entries = 0;
	free(data);
	return ZOK;
}

int acl_zk_set(struct zk *zk, int type, int pattern, const char *name, const struct acl_entry *e, int n,
	       int expected_version, int *new_version)
{
	char *path = resource_path(type, pattern, name);
	int rc;
	if (n == 0) {
		rc = expected_version < 0 ? ZOK : zk_delete(zk, path, expected_version);
		if (rc == ZNONODE)
			rc = ZOK;
		*new_version = -1;
	} else {
		struct wbuf w;
		wbuf_init(&w);
		acl_zk_json(e, n, &w);
		struct Stat st;
		memset(&st, 0, sizeof st);
		if (expected_version < 0) {
			rc = zk_create(zk, path, (const char *)w.data, (int)w.len, 0, &st, NULL, 0);
			if (rc == ZNONODE) { /* the type's parent is gone: make it */
				char *parent = xasprintf("%s/%s", root_of(pattern), acl_resource_type_name(type));
				zk_create_recursive(zk, parent, NULL, -1);
				free(parent);
				rc = zk_create(zk, path, (const char *)w.data, (int)w.len, 0, &st, NULL, 0);
			}
			if (rc == ZNODEEXISTS)
				rc = ZBADVERSION;
			*new_version = 0;
		} else {
			rc = zk_set(zk, path, (const char *)w.data, (int)w.len, expected_version, &st);
			*new_version = st.version;
		}
		wbuf_free(&w);
	}
	free(path);
	return rc;
}

int acl_zk_list(struct zk *zk, int type, int pattern, struct String_vector *out)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", root_of(pattern), acl_resource_type_name(type));
	return zk_children(zk, path, NULL, NULL, out);
}

int acl_zk_notify(struct zk *zk, int type, int pattern, const char *name)
{
	struct wbuf w;
	wbuf_init(&w);
	const char *dir;
	if (pattern == ACL_PATTERN_LITERAL) {
		dir = LITERAL_CHANGES "/" CHANGE_PREFIX;
		json_write_raw(&w, acl_resource_type_name(type));
		json_write_raw(&w, ":");
		json_write_raw(&w, name);
	} else {
		dir = EXTENDED_CHANGES "/" CHANGE_PREFIX;
		json_write_raw(&w, "{\"version\":1,\"resourceType\":");
		json_write_string(&w, acl_resource_type_enum_name(type));
		json_write_raw(&w, ",\"name\":");
		json_write_string(&w, name);
		json_write_raw(&w, ",\"patternType\":");
		json_write_string(&w, acl_pattern_type_name(pattern));
		json_write_raw(&w, "}");
	}
	int rc = zk_create(zk, dir, (const char *)w.data, (int)w.len, ZOO_SEQUENCE, NULL, NULL, 0);
	wbuf_free(&w);
	return rc;
}

int acl_zk_list_changes(struct zk *zk, bool extended, zk_watch_fn watch, void *arg, struct String_vector *out)
{
	return zk_children(zk, extended ? EXTENDED_CHANGES : LITERAL_CHANGES, watch, arg, out);
}

long long acl_zk_change_seq(const char *name)
{
	if (strncmp(name, CHANGE_PREFIX, strlen(CHANGE_PREFIX)))
		return -1;
	return strtoll(name + strlen(CHANGE_PREFIX), NULL, 10);
}

int acl_zk_read_change(struct zk *zk, bool extended, const char *node, int *type, int *pattern, char **name,
		       int64_t *ctime_ms)
{
	char *path = xasprintf("%s/%s", extended ? EXTENDED_CHANGES : LITERAL_CHANGES, node);
	char *data = NULL;
	int len = 0;
	struct Stat st;
	memset(&st, 0, sizeof st);
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, &st);
	free(path);
	if (rc != ZOK)
		return rc;
	*ctime_ms = st.ctime;
	*name = NULL;
	rc = ZBADARGUMENTS;
	if (data && len > 0 && !extended) {
		/* "<ResourceType>:<name>", split at the first ':' */
		char *text = xstrndup(data, (size_t)len);
		char *colon = strchr(text, ':');
		if (colon) {
			*colon = 0;
			*type = acl_resource_type_parse(text);
			*pattern = ACL_PATTERN_LITERAL;
			*name = xstrdup(colon + 1);
			rc = *type > ACL_RESOURCE_ANY ? ZOK : ZBADARGUMENTS;
		}
		free(text);
	} else if (data && len > 0) {
		struct arena a;
		arena_init(&a);
		const struct json *j = json_parse(&a, data, (size_t)len);
		const char *t = j ? json_get_string(j, "resourceType") : NULL;
		const char *nm = j ? json_get_string(j, "name") : NULL;
		const char *pt = j ? json_get_string(j, "patternType") : NULL;
		if (t && nm && pt) {
			*type = acl_resource_type_parse(t);
			*pattern = acl_pattern_type_parse(pt);
			*name = xstrdup(nm);
			rc = *type > ACL_RESOURCE_ANY && *pattern >= ACL_PATTERN_LITERAL ? ZOK : ZBADARGUMENTS;
		}
		arena_free(&a);
	}
	if (rc != ZOK) {
		free(*name);
		*name = NULL;
	}
	free(data);
	return rc;
}

int acl_zk_delete_change(struct zk *zk, bool extended, const char *node)
{
	char *path = xasprintf("%s/%s", extended ? EXTENDED_CHANGES : LITERAL_CHANGES, node);
	int rc = zk_delete(zk, path, -1);
	free(path);
	return rc;
}
