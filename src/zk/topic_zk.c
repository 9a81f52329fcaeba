/* Topic, partition-state, topic-config and deletion znodes (see topic_zk.h). */
#include "samsa/zk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/arena.h"
#include "samsa/util/json.h"
#include "samsa/util/log.h"
#include "samsa/util/uuid.h"
#include "samsa/util/xalloc.h"

void topic_assignment_free(struct topic_assignment *t)
{
	for (int p = 0; p < t->n_partitions; p++)
		free(t->replicas[p]);
	free(t->replicas);
	free(t->n_replicas);
	for (int i = 0; i < t->n_reassigning; i++) {
		free(t->reassigning[i].adding);
		free(t->reassigning[i].removing);
	}
	free(t->reassigning);
	free(t->name);
	memset(t, 0, sizeof *t);
}

void partition_state_clear(struct partition_state *s)
{
	free(s->isr);
	s->isr = NULL;
	s->n_isr = 0;
}

static void write_ids(struct wbuf *w, const int32_t *ids, int n)
{
	json_write_raw(w, "[");
	for (int i = 0; i < n; i++) {
		if (i)
			json_write_raw(w, ",");
		json_write_int(w, ids[i]);
	}
	json_write_raw(w, "]");
}

void topic_zk_assignment_json(const struct topic_assignment *t, struct wbuf *w)
{
	json_write_raw(w, "{\"partitions\":{");
	for (int p = 0; p < t->n_partitions; p++) {
		char key[16];
		snprintf(key, sizeof key, "%d", p);
		if (p)
			json_write_raw(w, ",");
		json_write_string(w, key);
		json_write_raw(w, ":");
		write_ids(w, t->replicas[p], t->n_replicas[p]);
	}
	json_write_raw(w, "}");
	if (!uuid_is_zero(t->id)) {
		char id[UUID_STR_LEN + 1];
		uuid_to_base64(t->id, id);
		json_write_raw(w, ",\"topic_id\":");
		json_write_string(w, id);
	}
	/* Kafka's TopicZNode.encode: a partition is listed where its list is not empty. */
	for (int which = 0; which < 2; which++) {
		json_write_raw(w, which ? ",\"removing_replicas\":{" : ",\"adding_replicas\":{");
		bool first = true;
		for (int i = 0; i < t->n_reassigning; i++) {
			const struct partition_reassignment *ra = &t->reassigning[i];
			const int32_t *ids = which ? ra->removing : ra->adding;
			int n = which ? ra->n_removing : ra->n_adding;
			if (n == 0)
				continue;
			char key[16];
			snprintf(key, sizeof key, "%d", ra->partition);
			if (!first)
				json_write_raw(w, ",");
			first = false;
			json_write_string(w, key);
			json_write_raw(w, ":");
			write_ids(w, ids, n);
		}
		json_write_raw(w, "}");
	}
	json_write_raw(w, ",\"version\":3}");
}

static int read_ids(const struct json *arr, int32_t **out, int *n);

/* The entry of partition p in t->reassigning, added when absent. */
static struct partition_reassignment *reassigning_entry(struct topic_assignment *t, int32_t p)
{
	for (int i = 0; i < t->n_reassigning; i++)
		if (t->reassigning[i].partition == p)
			return &t->reassigning[i];
	t->reassigning = xrealloc(t->reassigning, sizeof *t->reassigning * (size_t)(t->n_reassigning + 1));
	struct partition_reassignment *ra = &t->reassigning[t->n_reassigning++];
	memset(ra, 0, sizeof *ra);
	ra->partition = p;
	return ra;
}

/* "adding_replicas" or "removing_replicas" of a version 2+ topic znode. */
static int read_reassigning(const struct json *obj, struct topic_assignment *out, bool removing)
{
	if (!obj || obj->type == JSON_NULL)
		return 0;
	if (obj->type != JSON_OBJECT)
		return -1;
	for (size_t i = 0; i < obj->n; i++) {
		char *end;
		long p = strtol(obj->keys[i], &end, 10);
		if (*end || p < 0 || p >= out->n_partitions)
			return -1;
		int32_t *ids = NULL;
		int n = 0;
		if (read_ids(obj->items[i], &ids, &n) != 0) {
			free(ids);
			return -1;
		}
		if (n == 0) {
			free(ids);
			continue;
		}
		struct partition_reassignment *ra = reassigning_entry(out, (int32_t)p);
		int32_t **dst = removing ? &ra->removing : &ra->adding;
		free(*dst);
		*dst = ids;
		*(removing ? &ra->n_removing : &ra->n_adding) = n;
	}
	return 0;
}

static int read_ids(const struct json *arr, int32_t **out, int *n)
{
	if (!arr || arr->type != JSON_ARRAY)
		return -1;
	*out = xcalloc(arr->n ? arr->n : 1, sizeof **out);
	*n = (int)arr->n;
	for (size_t i = 0; i < arr->n; i++) {
		const struct json *v = arr->items[i];
		if (v->type != JSON_NUMBER || !v->is_int || v->i < 0 || v->i > INT32_MAX)
			return -1;
		(*out)[i] = (int32_t)v->i;
	}
	return 0;
}

int topic_zk_parse_assignment(const char *text, int len, struct topic_assignment *out)
{
	memset(out, 0, sizeof *out);
	struct arena a;
	arena_init(&a);
	int rc = -1;
	struct json *j = json_parse(&a, text, len > 0 ? (size_t)len : 0);
	const struct json *parts = json_get(j, "partitions");
	if (!parts || parts->type != JSON_OBJECT || parts->n > 100000)
		goto out;
	/* Keys are partition numbers 0..n-1 in any order. */
	out->n_partitions = (int)parts->n;
	out->replicas = xcalloc(parts->n ? parts->n : 1, sizeof *out->replicas);
	out->n_replicas = xcalloc(parts->n ? parts->n : 1, sizeof *out->n_replicas);
	for (size_t i = 0; i < parts->n; i++) {
		char *end;
		long p = strtol(parts->keys[i], &end, 10);
		if (*end || p < 0 || p >= out->n_partitions || out->replicas[p])
			goto out;
		if (read_ids(parts->items[i], &out->replicas[p], &out->n_replicas[p]) != 0)
			goto out;
	}
	const char *id = json_get_string(j, "topic_id");
	if (id && uuid_from_base64(id, out->id) != 0)
		goto out;
	if (read_reassigning(json_get(j, "adding_replicas"), out, false) != 0 ||
	    read_reassigning(json_get(j, "removing_replicas"), out, true) != 0)
		goto out;
	rc = 0;
out:
	arena_free(&a);
	if (rc)
		topic_assignment_free(out);
	return rc;
}

void topic_zk_state_json(const struct partition_state *s, struct wbuf *w)
{
	json_write_raw(w, "{\"controller_epoch\":");
	json_write_int(w, s->controller_epoch);
	json_write_raw(w, ",\"leader\":");
	json_write_int(w, s->leader);
	json_write_raw(w, ",\"version\":1,\"leader_epoch\":");
	json_write_int(w, s->leader_epoch);
	json_write_raw(w, ",\"isr\":");
	write_ids(w, s->isr, s->n_isr);
	json_write_raw(w, "}");
}

int topic_zk_parse_state(const char *text, int len, struct partition_state *out)
{
	memset(out, 0, sizeof *out);
	struct arena a;
	arena_init(&a);
	struct json *j = json_parse(&a, text, len > 0 ? (size_t)len : 0);
	int64_t leader, le, ce;
	int rc = -1;
	if (j && json_get_int(j, "leader", &leader) && json_get_int(j, "leader_epoch", &le) &&
	    json_get_int(j, "controller_epoch", &ce) && read_ids(json_get(j, "isr"), &out->isr, &out->n_isr) == 0) {
		out->leader = (int32_t)leader;
		out->leader_epoch = (int32_t)le;
		out->controller_epoch = (int32_t)ce;
		rc = 0;
	}
	if (rc)
		partition_state_clear(out);
	arena_free(&a);
	return rc;
}

int topic_zk_create(struct zk *zk, const struct topic_assignment *t, const struct topic_config_entry *configs,
		    int n_configs)
{
	char path[512];
	struct wbuf w;
	wbuf_init(&w);
	json_write_raw(&w, "{\"version\":1,\"config\":{");
	for (int i = 0; i < n_configs; i++) {
		if (i)
			json_write_raw(&w, ",");
		json_write_string(&w, configs[i].key);
		json_write_raw(&w, ":");
		json_write_string(&w, configs[i].value);
	}
	json_write_raw(&w, "}}");
	snprintf(path, sizeof path, "/config/topics/%s", t->name);
	/* Kafka writes the config first, then the assignment: the controller reacts to the latter. */
	int rc = zk_create(zk, path, (const char *)w.data, (int)w.len, 0, NULL, NULL, 0);
	if (rc == ZNODEEXISTS)
		rc = zk_set(zk, path, (const char *)w.data, (int)w.len, -1, NULL);
	if (rc != ZOK) {
		wbuf_free(&w);
		return rc;
	}
	wbuf_reset(&w);
	topic_zk_assignment_json(t, &w);
	snprintf(path, sizeof path, "/brokers/topics/%s", t->name);
	rc = zk_create(zk, path, (const char *)w.data, (int)w.len, 0, NULL, NULL, 0);
	wbuf_free(&w);
	return rc;
}

/* Children of `path` as malloc'd strings (free with topic_zk_free_names). */
static int list_children(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, char ***names, int *n)
{
	struct String_vector kids;
	int rc = zk_children(zk, path, watch, arg, &kids);
	if (rc != ZOK)
		return rc;
	*names = xcalloc((size_t)(kids.count ? kids.count : 1), sizeof **names);
	for (int i = 0; i < kids.count; i++)
		(*names)[i] = xstrdup(kids.data[i]);
	*n = kids.count;
	deallocate_String_vector(&kids);
	return ZOK;
}

int topic_zk_list(struct zk *zk, zk_watch_fn watch, void *arg, char ***names, int *n)
{
	return list_children(zk, "/brokers/topics", watch, arg, names, n);
}

void topic_zk_free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int topic_zk_get_assignment(struct zk *zk, const char *topic, struct topic_assignment *out)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s", topic);
	char *data = NULL;
	int len = 0;
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, NULL);
	if (rc != ZOK)
		return rc;
	rc = topic_zk_parse_assignment(data, len, out) == 0 ? ZOK : ZBADARGUMENTS;
	free(data);
	if (rc == ZOK)
		out->name = xstrdup(topic);
	return rc;
}

int topic_zk_watch_assignment(struct zk *zk, const char *topic, zk_watch_fn watch, void *arg)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s", topic);
	return zk_exists(zk, path, watch, arg, NULL);
}

int topic_zk_set_assignment(struct zk *zk, const struct topic_assignment *t)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s", t->name);
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_assignment_json(t, &w);
	int rc = zk_set(zk, path, (const char *)w.data, (int)w.len, -1, NULL);
	wbuf_free(&w);
	return rc;
}

int topic_zk_set_assignment_fenced(struct zk *zk, const struct topic_assignment *t, int32_t epoch_zk_version)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s", t->name);
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_assignment_json(t, &w);
	zoo_op_t ops[2];
	zoo_op_result_t results[2];
	memset(results, 0, sizeof results);
	zoo_check_op_init(&ops[0], "/controller_epoch", epoch_zk_version);
	zoo_set_op_init(&ops[1], path, (const char *)w.data, (int)w.len, -1, NULL);
	int rc = zk_multi(zk, 2, ops, results);
	wbuf_free(&w);
	if (rc == ZOK)
		return ZOK;
	if (results[0].err == ZBADVERSION || results[0].err == ZNONODE)
		return TOPIC_ZK_CONTROLLER_MOVED;
	return results[1].err != ZOK && results[1].err != ZRUNTIMEINCONSISTENCY ? results[1].err : rc;
}

int topic_zk_get_state(struct zk *zk, const char *topic, int partition, struct partition_state *out)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", topic, partition);
	char *data = NULL;
	int len = 0;
	struct Stat st;
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, &st);
	if (rc != ZOK)
		return rc;
	rc = topic_zk_parse_state(data, len, out) == 0 ? ZOK : ZBADARGUMENTS;
	out->zk_version = st.version;
	free(data);
	return rc;
}

int topic_zk_create_state(struct zk *zk, const char *topic, int partition, const struct partition_state *s)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d", topic, partition);
	int rc = zk_create_recursive(zk, path, NULL, -1);
	if (rc != ZOK)
		return rc;
	snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", topic, partition);
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_state_json(s, &w);
	rc = zk_create(zk, path, (const char *)w.data, (int)w.len, 0, NULL, NULL, 0);
	wbuf_free(&w);
	return rc;
}

int topic_zk_mark_for_deletion(struct zk *zk, const char *topic)
{
	char path[512];
	snprintf(path, sizeof path, "/admin/delete_topics/%s", topic);
	return zk_create(zk, path, NULL, -1, 0, NULL, NULL, 0);
}

int topic_zk_list_deletions(struct zk *zk, zk_watch_fn watch, void *arg, char ***names, int *n)
{
	return list_children(zk, "/admin/delete_topics", watch, arg, names, n);
}

/* Depth-first delete of a subtree. */
static int delete_recursive(struct zk *zk, const char *path)
{
	struct String_vector kids;
	int rc = zk_children(zk, path, NULL, NULL, &kids);
	if (rc == ZNONODE)
		return ZOK;
	if (rc != ZOK)
		return rc;
	for (int i = 0; i < kids.count && rc == ZOK; i++) {
		char child[1024];
		snprintf(child, sizeof child, "%s/%s", path, kids.data[i]);
		rc = delete_recursive(zk, child);
	}
	deallocate_String_vector(&kids);
	if (rc != ZOK)
		return rc;
	rc = zk_delete(zk, path, -1);
	return rc == ZNONODE ? ZOK : rc;
}

int topic_zk_delete_topic(struct zk *zk, const char *topic)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s", topic);
	int rc = delete_recursive(zk, path);
	if (rc != ZOK)
		return rc;
	snprintf(path, sizeof path, "/config/topics/%s", topic);
	rc = zk_delete(zk, path, -1);
	return rc == ZNONODE ? ZOK : rc;
}

int topic_zk_unmark_deletion(struct zk *zk, const char *topic)
{
	char path[512];
	snprintf(path, sizeof path, "/admin/delete_topics/%s", topic);
	int rc = zk_delete(zk, path, -1);
	return rc == ZNONODE ? ZOK : rc;
}

int topic_zk_update_state(struct zk *zk, const char *topic, int partition, const struct partition_state *s,
			  int32_t expected_version, int32_t epoch_zk_version, int32_t *new_version)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", topic, partition);
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_state_json(s, &w);
	zoo_op_t ops[2];
	zoo_op_result_t results[2];
	struct Stat st;
	memset(results, 0, sizeof results);
	zoo_check_op_init(&ops[0], "/controller_epoch", epoch_zk_version);
	zoo_set_op_init(&ops[1], path, (const char *)w.data, (int)w.len, expected_version, &st);
	int rc = zk_multi(zk, 2, ops, results);
	wbuf_free(&w);
	if (rc == ZOK) {
		*new_version = st.version;
		return ZOK;
	}
	/* A failed multi reports the first failing op's code for it. */
	if (results[0].err == ZBADVERSION || results[0].err == ZNONODE)
		return TOPIC_ZK_CONTROLLER_MOVED;
	return results[1].err != ZOK && results[1].err != ZRUNTIMEINCONSISTENCY ? results[1].err : rc;
}

int topic_zk_write_isr(struct zk *zk, const char *topic, int partition, const struct partition_state *s,
		       int32_t expected_version, int32_t *new_version)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", topic, partition);
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_state_json(s, &w);
	struct Stat st;
	int rc = zk_set(zk, path, (const char *)w.data, (int)w.len, expected_version, &st);
	wbuf_free(&w);
	if (rc == ZOK)
		*new_version = st.version;
	return rc;
}

int topic_zk_parse_config(const char *json, int len, struct arena *a, struct topic_config_entry **out, int *n)
{
	*out = NULL;
	*n = 0;
	const struct json *j = json_parse(a, json ? json : "", len > 0 ? (size_t)len : 0);
	const struct json *cfg = json_get(j, "config");
	if (!cfg || cfg->type != JSON_OBJECT)
		return -1;
	struct topic_config_entry *e = arena_alloc(a, sizeof *e * (cfg->n ? cfg->n : 1));
	for (size_t i = 0; i < cfg->n; i++) {
		e[i].key = cfg->keys[i];
		e[i].value = cfg->items[i]->type == JSON_STRING ? cfg->items[i]->str : NULL;
	}
	*out = e;
	*n = (int)cfg->n;
	return 0;
}

int topic_zk_get_configs(struct zk *zk, const char *topic, struct arena *a, struct topic_config_entry **out,
			 int *n)
{
	*out = NULL;
	*n = 0;
	char path[512];
	snprintf(path, sizeof path, "/config/topics/%s", topic);
	char *data = NULL;
	int len = 0;
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, NULL);
	if (rc != ZOK)
		return rc;
	/* An empty znode (written by an old tool) holds no overrides. */
	if (data && len > 0 && topic_zk_parse_config(data, len, a, out, n) != 0)
		rc = TOPIC_ZK_MALFORMED;
	free(data);
	return rc;
}

int topic_zk_get_config(struct zk *zk, const char *topic, const char *key, char **value)
{
	*value = NULL;
	struct arena a;
	arena_init(&a);
	struct topic_config_entry *e;
	int n;
	int rc = topic_zk_get_configs(zk, topic, &a, &e, &n);
	if (rc == ZNONODE || rc == TOPIC_ZK_MALFORMED)
		rc = ZOK; /* no override */
	for (int i = 0; i < n && !*value; i++)
		if (e[i].value && strcmp(e[i].key, key) == 0)
			*value = xstrdup(e[i].value);
	arena_free(&a);
	return rc;
}

int topic_zk_list_isr_changes(struct zk *zk, zk_watch_fn watch, void *arg, char ***names, int *n)
{
	return list_children(zk, "/isr_change_notification", watch, arg, names, n);
}

void topic_partition_refs_free(struct topic_partition_ref *refs, int n)
{
	for (int i = 0; i < n; i++)
		free(refs[i].topic);
	free(refs);
}

/*
 * {"version":1,"partitions":[{"topic":"t","partition":0},...]}, the payload of an ISR
 * change notification and of /admin/preferred_replica_election, into refs; entries
 * without a topic or with a bad partition are skipped.  False when the payload is not
 * that shape.
 */
static bool parse_partition_list(const char *data, int len, struct topic_partition_ref **out, int *n)
{
	struct arena a;
	arena_init(&a);
	struct json *j = json_parse(&a, data ? data : "", len > 0 ? (size_t)len : 0);
	const struct json *parts = json_get(j, "partitions");
	bool ok = parts && parts->type == JSON_ARRAY;
	if (ok) {
		*out = xcalloc(parts->n ? parts->n : 1, sizeof **out);
		for (size_t i = 0; i < parts->n; i++) {
			const char *topic = json_get_string(parts->items[i], "topic");
			int64_t p;
			if (!topic || !json_get_int(parts->items[i], "partition", &p) || p < 0 || p > INT32_MAX)
				continue;
			(*out)[*n].topic = xstrdup(topic);
			(*out)[*n].partition = (int32_t)p;
			(*n)++;
		}
	}
	arena_free(&a);
	return ok;
}

/* The i-th entry of a {"version":1,"partitions":[...]} list, left open for more fields. */
static void write_partition_open(struct wbuf *w, int i, const char *topic, int32_t partition)
{
	json_write_raw(w, i ? ",{\"topic\":" : "{\"topic\":");
	json_write_string(w, topic);
	json_write_raw(w, ",\"partition\":");
	json_write_int(w, partition);
}

void topic_zk_partition_list_json(const struct topic_partition_ref *refs, int n, struct wbuf *w)
{
	json_write_raw(w, "{\"version\":1,\"partitions\":[");
	for (int i = 0; i < n; i++) {
		write_partition_open(w, i, refs[i].topic, refs[i].partition);
		json_write_raw(w, "}");
	}
	json_write_raw(w, "]}");
}

int topic_zk_create_isr_change(struct zk *zk, const struct topic_partition_ref *refs, int n)
{
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_partition_list_json(refs, n, &w);
	int rc = zk_create(zk, "/isr_change_notification/isr_change_", (const char *)w.data, (int)w.len, ZOO_SEQUENCE,
			   NULL, NULL, 0);
	wbuf_free(&w);
	return rc;
}

int topic_zk_read_isr_change(struct zk *zk, const char *name, struct topic_partition_ref **out, int *n)
{
	*out = NULL;
	*n = 0;
	char path[512];
	snprintf(path, sizeof path, "/isr_change_notification/%s", name);
	char *data = NULL;
	int len = 0;
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, NULL);
	if (rc != ZOK)
		return rc;
	if (!parse_partition_list(data, len, out, n))
		log_warn("Ignoring malformed ISR change notification %s", name);
	free(data);
	return ZOK;
}

/*
 * Deletes path in one multi with a check that /controller_epoch is still at the
 * version this controller wrote, so a controller that has lost its place cannot.
 * ZOK also when path is already gone; *epoch_err is the check's own result.
 */
static int fenced_delete(struct zk *zk, const char *path, int32_t epoch_zk_version, int *epoch_err)
{
	zoo_op_t ops[2];
	zoo_op_result_t results[2];
	memset(results, 0, sizeof results);
	zoo_check_op_init(&ops[0], "/controller_epoch", epoch_zk_version);
	zoo_delete_op_init(&ops[1], path, -1);
	int rc = zk_multi(zk, 2, ops, results);
	*epoch_err = results[0].err;
	return rc == ZOK || results[1].err == ZNONODE ? ZOK : rc;
}

int topic_zk_delete_isr_change(struct zk *zk, const char *name, int32_t epoch_zk_version)
{
	char path[512];
	snprintf(path, sizeof path, "/isr_change_notification/%s", name);
	int epoch_err;
	int rc = fenced_delete(zk, path, epoch_zk_version, &epoch_err);
	return rc != ZOK && epoch_err == ZBADVERSION ? TOPIC_ZK_CONTROLLER_MOVED : rc;
}

/* ---- log dir failure notifications [Kafka's LogDirEventNotificationZNode] ---- */

#define LOG_DIR_EVENTS_PATH "/log_dir_event_notification"

int topic_zk_create_log_dir_event(struct zk *zk, int32_t broker_id)
{
	char data[96];
	int len = snprintf(data, sizeof data, "{\"version\":1,\"broker\":%d,\"event\":%d}", broker_id,
			   TOPIC_ZK_LOG_DIR_FAILURE);
	return zk_create(zk, LOG_DIR_EVENTS_PATH "/log_dir_event_", data, len, ZOO_SEQUENCE, NULL, NULL, 0);
}

int topic_zk_list_log_dir_events(struct zk *zk, zk_watch_fn watch, void *arg, char ***names, int *n)
{
	return list_children(zk, LOG_DIR_EVENTS_PATH, watch, arg, names, n);
}

int topic_zk_read_log_dir_event(struct zk *zk, const char *name, int32_t *broker_id, int *event)
{
	*broker_id = -1;
	*event = -1;
	char path[512];
	snprintf(path, sizeof path, LOG_DIR_EVENTS_PATH "/%s", name);
	char *data = NULL;
	int len = 0;
	int rc = zk_get(zk, path, NULL, NULL, &data, &len, NULL);
	if (rc != ZOK)
		return rc;
	struct arena a;
	arena_init(&a);
	struct json *j = json_parse(&a, data ? data : "", len > 0 ? (size_t)len : 0);
	int64_t b, e;
	if (j && json_get_int(j, "broker", &b) && json_get_int(j, "event", &e) && b >= 0 && b <= INT32_MAX &&
	    e >= 0 && e <= INT32_MAX) {
		*broker_id = (int32_t)b;
		*event = (int)e;
	} else {
		log_warn("Ignoring malformed log dir event notification %s", name);
	}
	arena_free(&a);
	free(data);
	return ZOK;
}

int topic_zk_delete_log_dir_event(struct zk *zk, const char *name, int32_t epoch_zk_version)
{
	char path[512];
	snprintf(path, sizeof path, LOG_DIR_EVENTS_PATH "/%s", name);
	int epoch_err;
	int rc = fenced_delete(zk, path, epoch_zk_version, &epoch_err);
	return rc != ZOK && epoch_err == ZBADVERSION ? TOPIC_ZK_CONTROLLER_MOVED : rc;
}

int topic_zk_topic_exists(struct zk *zk, const char *topic)
{
	char path[512];
	snprintf(path, sizeof path, "/brokers/topics/%s", topic);
	return topic[0] ? zk_exists(zk, path, NULL, NULL, NULL) : ZNONODE;
}

int topic_zk_marked_for_deletion(struct zk *zk, const char *topic)
{
	char path[512];
	snprintf(path, sizeof path, "/admin/delete_topics/%s", topic);
	return zk_exists(zk, path, NULL, NULL, NULL);
}

#define REASSIGN_PATH TOPIC_ZK_REASSIGN_PATH
#define PREFERRED_PATH TOPIC_ZK_PREFERRED_ELECTION_PATH

void reassign_requests_free(struct reassign_request *r, int n)
{
	for (int i = 0; i < n; i++) {
		free(r[i].topic);
		free(r[i].replicas);
	}
	free(r);
}

void topic_zk_reassign_json(const struct reassign_request *r, int n, struct wbuf *w)
{
	json_write_raw(w, "{\"version\":1,\"partitions\":[");
	for (int i = 0; i < n; i++) {
		write_partition_open(w, i, r[i].topic, r[i].partition);
		json_write_raw(w, ",\"replicas\":");
		write_ids(w, r[i].replicas, r[i].n_replicas);
		json_write_raw(w, "}");
	}
	json_write_raw(w, "]}");
}

int topic_zk_parse_reassign(const char *text, int len, struct reassign_request **out, int *n)
{
	*out = NULL;
	*n = 0;
	struct arena a;
	arena_init(&a);
	int rc = -1;
	struct json *j = json_parse(&a, text ? text : "", len > 0 ? (size_t)len : 0);
	const struct json *parts = json_get(j, "partitions");
	if (!parts || parts->type != JSON_ARRAY || parts->n > 1000000)
		goto out;
	*out = xcalloc(parts->n ? parts->n : 1, sizeof **out);
	for (size_t i = 0; i < parts->n; i++) {
		const char *topic = json_get_string(parts->items[i], "topic");
		int64_t p;
		if (!topic || !json_get_int(parts->items[i], "partition", &p) || p < 0 || p > INT32_MAX)
			goto out;
		struct reassign_request *r = &(*out)[(*n)++];
		r->topic = xstrdup(topic);
		r->partition = (int32_t)p;
		if (read_ids(json_get(parts->items[i], "replicas"), &r->replicas, &r->n_replicas) != 0)
			goto out;
	}
	rc = 0;
out:
	arena_free(&a);
	if (rc) {
		reassign_requests_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Arms an exists watch on `path` and reads it; ZNONODE when absent. */
static int get_watched(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, char **data, int *len)
{
	*data = NULL;
	*len = 0;
	int rc = zk_exists(zk, path, watch, arg, NULL);
	if (rc != ZOK)
		return rc;
	return zk_get(zk, path, NULL, NULL, data, len, NULL);
}

int topic_zk_get_reassign_requests(struct zk *zk, zk_watch_fn watch, void *arg, struct reassign_request **out,
				   int *n)
{
	*out = NULL;
	*n = 0;
	char *data;
	int len;
	int rc = get_watched(zk, REASSIGN_PATH, watch, arg, &data, &len);
	if (rc != ZOK)
		return rc;
	if (topic_zk_parse_reassign(data, len, out, n) != 0)
		log_warn("Ignoring malformed %s", REASSIGN_PATH);
	free(data);
	return ZOK;
}

int topic_zk_set_reassign_requests(struct zk *zk, const struct reassign_request *r, int n, int32_t epoch_zk_version)
{
	if (n == 0) {
		int epoch_err;
		int rc = fenced_delete(zk, REASSIGN_PATH, epoch_zk_version, &epoch_err);
		return rc != ZOK && (epoch_err == ZBADVERSION || epoch_err == ZNONODE) ? TOPIC_ZK_CONTROLLER_MOVED : rc;
	}
	zoo_op_t ops[2];
	zoo_op_result_t results[2];
	memset(results, 0, sizeof results);
	zoo_check_op_init(&ops[0], "/controller_epoch", epoch_zk_version);
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_reassign_json(r, n, &w);
	zoo_set_op_init(&ops[1], REASSIGN_PATH, (const char *)w.data, (int)w.len, -1, NULL);
	int rc = zk_multi(zk, 2, ops, results);
	if (rc != ZOK && results[1].err == ZNONODE) {
		memset(results, 0, sizeof results);
		zoo_create_op_init(&ops[1], REASSIGN_PATH, (const char *)w.data, (int)w.len, &ZOO_OPEN_ACL_UNSAFE, 0, NULL,
				   0);
		rc = zk_multi(zk, 2, ops, results);
	}
	wbuf_free(&w);
	if (rc != ZOK && (results[0].err == ZBADVERSION || results[0].err == ZNONODE))
		return TOPIC_ZK_CONTROLLER_MOVED;
	return rc;
}

int topic_zk_get_preferred_elections(struct zk *zk, zk_watch_fn watch, void *arg, struct topic_partition_ref **out,
				     int *n)
{
	*out = NULL;
	*n = 0;
	char *data;
	int len;
	int rc = get_watched(zk, PREFERRED_PATH, watch, arg, &data, &len);
	if (rc != ZOK)
		return rc;
	if (!parse_partition_list(data, len, out, n))
		log_warn("Ignoring malformed %s", PREFERRED_PATH);
	free(data);
	return ZOK;
}

int topic_zk_delete_preferred_elections(struct zk *zk, int32_t epoch_zk_version)
{
	int epoch_err;
	int rc = fenced_delete(zk, PREFERRED_PATH, epoch_zk_version, &epoch_err);
	return rc != ZOK && epoch_err == ZBADVERSION ? TOPIC_ZK_CONTROLLER_MOVED : rc;
}
