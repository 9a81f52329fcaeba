/*
 * Client quotas [Kafka's ClientQuotaManager and DefaultQuotaCallback, ZooKeeper
 * mode].  The quotas live in /config/users/<u>, /config/users/<u>/clients/<c>
 * and /config/clients/<c> (each <default> too); this broker keeps a copy,
 * loaded at start and refreshed by /config/changes notices (config_changes.c).
 *
 * Which entity applies to a (user, client id) is Kafka's order, most specific
 * first: user+client, user+default client, user, default user+client,
 * default user+default client, default user, client, default client.  The
 * entity also says who shares the usage: a user-only quota is shared by all of
 * the user's clients, a client-only one by all users of the client id, a
 * <default> entity gives each user (client) its own.
 *
 * Usage is a rate over quota.window.num samples of quota.window.size.seconds
 * each, measured as Kafka's Rate: the samples' total over the time since the
 * oldest one started, but never over less than (samples - 1) windows.  A
 * request is recorded first, then checked; over the bound, the client is
 * throttled for (rate - bound) / bound * that elapsed time, which brings the
 * rate back to the bound.
 */
#include "server/quotas.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/config.h"
#include "samsa/util/arena.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"

const char *const quota_keys[QUOTA_TYPES] = { "producer_byte_rate", "consumer_byte_rate", "request_percentage",
					      "controller_mutation_rate" };

#define MAX_SAMPLES 64
#define SENSOR_BUCKETS 256
#define DEFAULT_NAME "<default>"

int quota_key_type(const char *key)
{
	for (int i = 0; i < QUOTA_TYPES; i++)
		if (!strcmp(key, quota_keys[i]))
			return i;
	return -1;
}

struct quota_entity {
	char *path; /* relative to /config, sanitized: "users/alice/clients/app" */
	bool has[QUOTA_TYPES];
	double bound[QUOTA_TYPES];
};

struct sample {
	int64_t start_ms;
	double value;
};

/* One sharing group's usage of one quota type (Kafka's quota sensor, keyed by its metric tags). */
struct sensor {
	struct sensor *next;
	int type;
	char *user, *client; /* the tags: "" when the entity does not split by it */
	int current, used;
	struct sample s[MAX_SAMPLES];
};

struct quota_manager;
static void sensor_record_w(int samples, int64_t window_ms, struct sensor *s, double value, int64_t now);
static double sensor_rate_w(int samples, int64_t window_ms, struct sensor *s, int64_t now, int64_t *elapsed_out);

struct quota_manager {
	pthread_mutex_t lock; /* entities and sensors; never held across I/O */
	int samples;
	int64_t window_ms;
	struct quota_entity *ents;
	int n_ents, cap_ents;
	bool any[QUOTA_TYPES]; /* some entity sets this type: otherwise nothing to record */
	struct sensor *buckets[SENSOR_BUCKETS];
};

struct quota_manager *quota_manager_new(const struct config *cfg)
{
	struct quota_manager *qm = xcalloc(1, sizeof *qm);
	pthread_mutex_init(&qm->lock, NULL);
	qm->samples = config_int(cfg, "quota.window.num");
	if (qm->samples > MAX_SAMPLES)
		qm->samples = MAX_SAMPLES;
	if (qm->samples < 1)
		qm->samples = 1;
	qm->window_ms = (int64_t)config_int(cfg, "quota.window.size.seconds") * 1000;
	if (qm->window_ms <= 0)
		qm->window_ms = 1000;
	return qm;
}

void quota_manager_free(struct quota_manager *qm)
{
	if (!qm)
		return;
	for (int i = 0; i < qm->n_ents; i++)
		free(qm->ents[i].path);
	free(qm->ents);
	for (int b = 0; b < SENSOR_BUCKETS; b++)
		for (struct sensor *s = qm->buckets[b], *n; s; s = n) {
			n = s->next;
			free(s->user);
			free(s->client);
			free(s);
		}
	pthread_mutex_destroy(&qm->lock);
	free(qm);
}

static struct quota_entity *entity_find(struct quota_manager *qm, const char *path)
{
	for (int i = 0; i < qm->n_ents; i++)
		if (!strcmp(qm->ents[i].path, path))
			return &qm->ents[i];
	return NULL;
}

/* Replace (or with no quota key at all, drop) the entity's quotas; under the lock. */
static void entity_put(struct quota_manager *qm, const char *path, const bool *has, const double *bound)
{
	bool some = false;
	for (int t = 0; t < QUOTA_TYPES; t++)
		some |= has[t];
	struct quota_entity *e = entity_find(qm, path);
	if (!some) {
		if (e) {
			free(e->path);
			*e = qm->ents[--qm->n_ents];
		}
	} else {
		if (!e) {
			if (qm->n_ents == qm->cap_ents) {
				qm->cap_ents = qm->cap_ents ? 2 * qm->cap_ents : 16;
				qm->ents = xrealloc(qm->ents, sizeof *qm->ents * (size_t)qm->cap_ents);
			}
			e = &qm->ents[qm->n_ents++];
			e->path = xstrdup(path);
		}
		memcpy(e->has, has, sizeof e->has);
		memcpy(e->bound, bound, sizeof e->bound);
	}
	for (int t = 0; t < QUOTA_TYPES; t++) {
		qm->any[t] = false;
		for (int i = 0; i < qm->n_ents; i++)
			qm->any[t] |= qm->ents[i].has[t];
	}
}

static void load_entity(struct quota_manager *qm, struct zk *zk, const char *path, bool gone_ok)
{
	struct arena a;
	arena_init(&a);
	struct topic_config_entry *e = NULL;
	int n = 0;
	int32_t version;
	int rc = config_zk_get_entity(zk, path, &a, &e, &n, &version);
	if (rc == TOPIC_ZK_MALFORMED) {
		log_warn("Quotas: /config/%s is not Kafka's config JSON; ignored, the last good quotas stay", path);
		arena_free(&a);
		return;
	}
	if (rc != ZOK && !(rc == ZNONODE && gone_ok)) {
		if (rc != ZNONODE)
			log_warn("Quotas: cannot read /config/%s (%d); the last good quotas stay", path, rc);
		arena_free(&a);
		return;
	}
	bool has[QUOTA_TYPES] = { false };
	double bound[QUOTA_TYPES] = { 0 };
	for (int i = 0; i < n; i++) {
		int t = quota_key_type(e[i].key);
		if (t < 0)
			continue; /* SCRAM credentials and other keys share users' znodes */
		char *end = NULL;
		double v = e[i].value ? strtod(e[i].value, &end) : NAN;
		if (!e[i].value || end == e[i].value || *end || !(v > 0)) {
			log_warn("Quotas: /config/%s has %s=%s, not a positive number; that key is ignored", path,
				 e[i].key, e[i].value ? e[i].value : "null");
			continue;
		}
		has[t] = true;
		bound[t] = v;
	}
	pthread_mutex_lock(&qm->lock);
	entity_put(qm, path, has, bound);
	pthread_mutex_unlock(&qm->lock);
	arena_free(&a);
}

void quota_manager_reload(struct quota_manager *qm, struct zk *zk, const char *entity)
{
	log_info("Quotas: reloading /config/%s", entity);
	load_entity(qm, zk, entity, true);
}

void quota_manager_load(struct quota_manager *qm, struct zk *zk)
{
	struct String_vector users = { 0, NULL }, clients = { 0, NULL };
	char path[1100];
	if (config_zk_children(zk, "users", &users) == ZOK) {
		for (int i = 0; i < users.count; i++) {
			snprintf(path, sizeof path, "users/%s", users.data[i]);
			load_entity(qm, zk, path, false);
			struct String_vector uc = { 0, NULL };
			snprintf(path, sizeof path, "users/%s/clients", users.data[i]);
			if (config_zk_children(zk, path, &uc) == ZOK) {
				for (int k = 0; k < uc.count; k++) {
					snprintf(path, sizeof path, "users/%s/clients/%s", users.data[i], uc.data[k]);
					load_entity(qm, zk, path, false);
				}
				deallocate_String_vector(&uc);
			}
		}
		deallocate_String_vector(&users);
	}
	if (config_zk_children(zk, "clients", &clients) == ZOK) {
		for (int i = 0; i < clients.count; i++) {
			snprintf(path, sizeof path, "clients/%s", clients.data[i]);
			load_entity(qm, zk, path, false);
		}
		deallocate_String_vector(&clients);
	}
	pthread_mutex_lock(&qm->lock);
	int n = qm->n_ents;
	pthread_mutex_unlock(&qm->lock);
	if (n)
		log_info("Quotas: %d client quota entit%s loaded", n, n == 1 ? "y" : "ies");
}

/*
 * The entity that applies (Kafka's DefaultQuotaCallback order) and the tags of
 * the usage it counts: false when no entity sets this type.  Under the lock.
 */
static const struct quota_entity *resolve(struct quota_manager *qm, int type, const char *user, const char *client,
					  const char **tag_user, const char **tag_client)
{
	static const struct {
		int u, c;      /* 0: absent, 1: the name, 2: <default> */
		bool tu, tc;   /* the usage is split by user / by client */
	} order[] = {
		{ 1, 1, true, true }, { 1, 2, true, true }, { 1, 0, true, false }, { 2, 1, true, true },
		{ 2, 2, true, true }, { 2, 0, true, false }, { 0, 1, false, true }, { 0, 2, false, true },
	};
	char path[1700];
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *u = order[i].u == 1 ? user : DEFAULT_NAME;
		const char *c = order[i].c == 1 ? client : DEFAULT_NAME;
		if (order[i].u && order[i].c)
			snprintf(path, sizeof path, "users/%s/clients/%s", u, c);
		else if (order[i].u)
			snprintf(path, sizeof path, "users/%s", u);
		else
			snprintf(path, sizeof path, "clients/%s", c);
		const struct quota_entity *e = entity_find(qm, path);
		if (e && e->has[type]) {
			*tag_user = order[i].tu ? user : "";
			*tag_client = order[i].tc ? client : "";
			return e;
		}
	}
	return NULL;
}

static struct sensor *sensor_get(struct quota_manager *qm, int type, const char *user, const char *client)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;
	for (const char *p = user; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *p = client; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct sensor **b = &qm->buckets[h % SENSOR_BUCKETS];
	for (struct sensor *s = *b; s; s = s->next)
		if (s->type == type && !strcmp(s->user, user) && !strcmp(s->client, client))
			return s;
	/* Once per sharing group, not per request. */
	struct sensor *s = xcalloc(1, sizeof *s);
	s->type = type;
	s->user = xstrdup(user);
	s->client = xstrdup(client);
	s->next = *b;
	*b = s;
	return s;
}

static void sensor_record(struct quota_manager *qm, struct sensor *s, double value, int64_t now)
{
	sensor_record_w(qm->samples, qm->window_ms, s, value, now);
}

static double sensor_rate(struct quota_manager *qm, struct sensor *s, int64_t now, int64_t *elapsed_out)
{
	return sensor_rate_w(qm->samples, qm->window_ms, s, now, elapsed_out);
}

/* Kafka's SampledStat.record: a sample is complete once it is a window old. */
static void sensor_record_w(int samples, int64_t window_ms, struct sensor *s, double value, int64_t now)
{
	if (s->used == 0) {
		s->used = 1;
		s->current = 0;
		s->s[0] = (struct sample){ now, 0 };
	} else if (now - s->s[s->current].start_ms >= window_ms) {
		s->current = (s->current + 1) % samples;
		if (s->current >= s->used)
			s->used++;
		s->s[s->current] = (struct sample){ now, 0 };
	}
	s->s[s->current].value += value;
}

/* Kafka's Rate.measure: per second, and the elapsed time it divided by. */
static double sensor_rate_w(int samples, int64_t window_ms, struct sensor *s, int64_t now, int64_t *elapsed_out)
{
	int64_t expire = (int64_t)samples * window_ms;
	double total = 0;
	int64_t oldest = now;
	for (int i = 0; i < s->used; i++) {
		if (now - s->s[i].start_ms >= expire)
			s->s[i] = (struct sample){ now, 0 };
		total += s->s[i].value;
		if (s->s[i].start_ms < oldest)
			oldest = s->s[i].start_ms;
	}
	int64_t elapsed = now - oldest;
	int64_t full = elapsed / window_ms;
	if (full < samples - 1)
		elapsed += (samples - 1 - full) * window_ms;
	*elapsed_out = elapsed;
	return total / ((double)elapsed / 1000.0);
}

int32_t quota_record(struct quota_manager *qm, enum quota_type type, const char *principal, const char *client_id,
		     size_t client_id_len, double value, int64_t now_ms)
{
	if (!qm || !__atomic_load_n(&qm->any[type], __ATOMIC_RELAXED))
		return 0;
	/* Entities are named sanitized, as the znodes are. */
	char user[768], client[768], raw[256];
	const char *name = principal && !strncmp(principal, "User:", 5) ? principal + 5 : (principal ? principal : "");
	config_zk_sanitize(name, user, sizeof user);
	size_t cl = client_id_len < sizeof raw - 1 ? client_id_len : sizeof raw - 1;
	memcpy(raw, client_id ? client_id : "", client_id ? cl : 0);
	raw[client_id ? cl : 0] = 0;
	config_zk_sanitize(raw, client, sizeof client);

	int32_t throttle = 0;
	pthread_mutex_lock(&qm->lock);
	const char *tu, *tc;
	const struct quota_entity *e = resolve(qm, type, user, client, &tu, &tc);
	if (e) {
		double bound = e->bound[type];
		struct sensor *s = sensor_get(qm, type, tu, tc);
		sensor_record(qm, s, value, now_ms);
		int64_t elapsed;
		double rate = sensor_rate(qm, s, now_ms, &elapsed);
		if (rate > bound) {
			double ms = (rate - bound) / bound * (double)elapsed;
			throttle = ms > (double)INT32_MAX ? INT32_MAX : (int32_t)llround(ms);
		}
	}
	pthread_mutex_unlock(&qm->lock);
	return throttle;
}

/* ---- the leader's replication throttle ---------------------------------------- */

struct throttled_topic {
	char *topic;
	bool all;
	int32_t *partitions;
	int n;
};

struct replication_quota {
	pthread_mutex_t lock;
	int32_t broker_id;
	const char *key; /* the topic key naming the throttled replicas */
	int samples;
	int64_t window_ms;
	double bound; /* <= 0: none */
	struct sensor sensor;
	struct throttled_topic *topics;
	int n_topics;
};

struct replication_quota *replication_quota_new(const struct config *cfg, int32_t broker_id, bool follower)
{
	struct replication_quota *rq = xcalloc(1, sizeof *rq);
	pthread_mutex_init(&rq->lock, NULL);
	rq->broker_id = broker_id;
	rq->key = follower ? "follower.replication.throttled.replicas" : "leader.replication.throttled.replicas";
	rq->samples = config_int(cfg, "replication.quota.window.num");
	if (rq->samples < 1 || rq->samples > MAX_SAMPLES)
		rq->samples = rq->samples < 1 ? 1 : MAX_SAMPLES;
	rq->window_ms = (int64_t)config_int(cfg, "replication.quota.window.size.seconds") * 1000;
	if (rq->window_ms <= 0)
		rq->window_ms = 1000;
	return rq;
}

void replication_quota_free(struct replication_quota *rq)
{
	if (!rq)
		return;
	for (int i = 0; i < rq->n_topics; i++) {
		free(rq->topics[i].topic);
		free(rq->topics[i].partitions);
	}
	free(rq->topics);
	pthread_mutex_destroy(&rq->lock);
	free(rq);
}

void replication_quota_set_rate(struct replication_quota *rq, double bytes_per_s)
{
	pthread_mutex_lock(&rq->lock);
	if (rq->bound != bytes_per_s)
		log_info("Replication throttle (%s): %.0f bytes/s", rq->key, bytes_per_s > 0 ? bytes_per_s : 0);
	rq->bound = bytes_per_s;
	pthread_mutex_unlock(&rq->lock);
}

void replication_quota_set_topic(struct replication_quota *rq, const char *topic, const char *value)
{
	/* Kafka's parseThrottledPartitions: "*", or the partitions of entries naming this broker. */
	bool all = false;
	int32_t *parts = NULL;
	int n = 0;
	if (value && !strcmp(value, "*")) {
		all = true;
	} else if (value && *value) {
		char *copy = xstrdup(value), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			char *colon = strchr(t, ':');
			if (!colon)
				continue;
			if (atoi(colon + 1) != rq->broker_id)
				continue;
			parts = xrealloc(parts, sizeof *parts * (size_t)(n + 1));
			parts[n++] = (int32_t)atoi(t);
		}
		free(copy);
	}
	pthread_mutex_lock(&rq->lock);
	int i = 0;
	while (i < rq->n_topics && strcmp(rq->topics[i].topic, topic))
		i++;
	if (i == rq->n_topics && (all || n)) {
		rq->topics = xrealloc(rq->topics, sizeof *rq->topics * (size_t)(rq->n_topics + 1));
		rq->topics[rq->n_topics++] = (struct throttled_topic){ xstrdup(topic), false, NULL, 0 };
	}
	if (i < rq->n_topics) {
		free(rq->topics[i].partitions);
		if (all || n) {
			rq->topics[i].all = all;
			rq->topics[i].partitions = parts;
			rq->topics[i].n = n;
			parts = NULL;
		} else {
			free(rq->topics[i].topic);
			rq->topics[i] = rq->topics[--rq->n_topics];
		}
	}
	pthread_mutex_unlock(&rq->lock);
	free(parts);
}

void replication_quota_load(struct replication_quota *rq, struct zk *zk)
{
	struct String_vector topics = { 0, NULL };
	if (config_zk_children(zk, "topics", &topics) != ZOK)
		return;
	for (int i = 0; i < topics.count; i++) {
		char *v = NULL;
		if (topic_zk_get_config(zk, topics.data[i], rq->key, &v) == ZOK && v)
			replication_quota_set_topic(rq, topics.data[i], v);
		free(v);
	}
	deallocate_String_vector(&topics);
}

bool replication_quota_throttled(struct replication_quota *rq, const char *topic, size_t topic_len, int32_t partition)
{
	if (!rq || !__atomic_load_n(&rq->n_topics, __ATOMIC_RELAXED))
		return false;
	bool out = false;
	pthread_mutex_lock(&rq->lock);
	for (int i = 0; i < rq->n_topics && !out; i++) {
		const struct throttled_topic *t = &rq->topics[i];
		if (strlen(t->topic) != topic_len || memcmp(t->topic, topic, topic_len))
			continue;
		out = t->all;
		for (int k = 0; k < t->n && !out; k++)
			out = t->partitions[k] == partition;
	}
	pthread_mutex_unlock(&rq->lock);
	return out;
}

bool replication_quota_exceeded(struct replication_quota *rq, int64_t now_ms)
{
	bool out = false;
	pthread_mutex_lock(&rq->lock);
	if (rq->bound > 0 && rq->sensor.used) {
		int64_t elapsed;
		out = sensor_rate_w(rq->samples, rq->window_ms, &rq->sensor, now_ms, &elapsed) > rq->bound;
	}
	pthread_mutex_unlock(&rq->lock);
	return out;
}

void replication_quota_record(struct replication_quota *rq, double bytes, int64_t now_ms)
{
	pthread_mutex_lock(&rq->lock);
	sensor_record_w(rq->samples, rq->window_ms, &rq->sensor, bytes, now_ms);
	pthread_mutex_unlock(&rq->lock);
}

const char *replication_quota_topic_key(const struct replication_quota *rq) { return rq->key; }
