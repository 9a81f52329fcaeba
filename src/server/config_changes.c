/*
 * The broker's side of /config/changes [Kafka's ZkConfigChangeListener and
 * TopicConfigHandler]: a thread watches the notices; for each new one that
 * names a topic it re-reads /config/topics/<topic> and gives every log this
 * broker holds for the topic its new config, so retention, segment, message
 * size and the other topic keys change on live logs without a restart.
 * Notices already there at start are skipped: logs read their topic's config
 * when they are first hosted.  A user's or client's notice reloads that
 * entity's client quotas (quotas.c); SCRAM credentials in users' znodes need
 * nothing here, they are read at each authentication.
 */
#include "server/config_changes.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/config.h"
#include "samsa/log.h"
#include "samsa/util/json.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/broker.h"
#include "server/broker_dynamic.h"
#include "server/quotas.h"
#include "server/topic_config.h"

#define NOTICE_PREFIX "config_change_"

struct config_changes {
	struct broker *b;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pending, stop;
	long long last_seq;
};

static long long seq_of(const char *name)
{
	if (strncmp(name, NOTICE_PREFIX, strlen(NOTICE_PREFIX)))
		return -1;
	return strtoll(name + strlen(NOTICE_PREFIX), NULL, 10);
}

static void on_watch(void *arg)
{
	struct config_changes *cc = arg;
	pthread_mutex_lock(&cc->lock);
	cc->pending = true;
	pthread_cond_signal(&cc->cond);
	pthread_mutex_unlock(&cc->lock);
}

/* Every log of topic on this broker gets the topic's config as ZooKeeper has it now. */
static void apply_topic(struct broker *b, const char *topic)
{
	struct log_config cfg;
	if (topic_config_load(b->zk, broker_config_effective(b), topic, &cfg) != 0) {
		log_warn("Config change for topic %s: cannot read /config/topics/%s", topic, topic);
		return;
	}
	struct replication_quota *sides[2] = { b->replication_quota, b->follower_quota };
	for (int i = 0; i < 2; i++) {
		char *throttled = NULL;
		if (sides[i] && topic_zk_get_config(b->zk, topic, replication_quota_topic_key(sides[i]), &throttled) == ZOK)
			replication_quota_set_topic(sides[i], topic, throttled);
		free(throttled);
	}
	int changed = 0;
	for (int d = 0; d < log_manager_dir_count(b->logs); d++) {
		int n;
		struct log_ref **logs = log_manager_dir_logs(b->logs, d, &n);
		for (int i = 0; i < n; i++) {
			size_t tl;
			const char *t = log_ref_topic(logs[i], &tl);
			if (tl == strlen(topic) && !memcmp(t, topic, tl)) {
				log_set_config(log_ref_log(logs[i]), &cfg);
				changed++;
			}
		}
		log_manager_refs_put(logs, n);
	}
	log_info("Config change for topic %s applied to %d local log(s)", topic, changed);
}

/* After a dynamic broker config change: every local log's config is made again. */
static void apply_all_topics(struct broker *b)
{
	int cap = 16, n_topics = 0;
	char **topics = xcalloc((size_t)cap, sizeof *topics);
	for (int d = 0; d < log_manager_dir_count(b->logs); d++) {
		int n;
		struct log_ref **logs = log_manager_dir_logs(b->logs, d, &n);
		for (int i = 0; i < n; i++) {
			size_t tl;
			const char *t = log_ref_topic(logs[i], &tl);
			bool seen = false;
			for (int k = 0; k < n_topics && !seen; k++)
				seen = strlen(topics[k]) == tl && !memcmp(topics[k], t, tl);
			if (seen)
				continue;
			if (n_topics == cap) {
				cap *= 2;
				topics = xrealloc(topics, sizeof *topics * (size_t)cap);
			}
			topics[n_topics++] = xstrndup(t, tl);
		}
		log_manager_refs_put(logs, n);
	}
	for (int k = 0; k < n_topics; k++) {
		apply_topic(b, topics[k]);
		free(topics[k]);
	}
	free(topics);
}

/* The entity a notice names: version 2's entity_path, or version 1's type and name. */
static void process_notice(struct broker *b, const char *name)
{
	char *data = NULL;
	int len = 0;
	if (config_zk_read_change(b->zk, name, &data, &len) != ZOK || !data)
		return;
	struct arena a;
	arena_init(&a);
	const struct json *j = json_parse(&a, data, len > 0 ? (size_t)len : 0);
	const char *entity_path = json_get_string(j, "entity_path");
	const char *type = json_get_string(j, "entity_type");
	const char *ename = json_get_string(j, "entity_name");
	if (entity_path && !strncmp(entity_path, "topics/", 7))
		apply_topic(b, entity_path + 7);
	else if (type && ename && !strcmp(type, "topics"))
		apply_topic(b, ename);
	else if (entity_path && !strncmp(entity_path, "brokers/", 8)) {
		if (broker_dynamic_reload(b, entity_path)) {
			apply_all_topics(b);
			log_info("Dynamic broker config /config/%s applied", entity_path);
		}
	} else if (entity_path && (!strncmp(entity_path, "users/", 6) || !strncmp(entity_path, "clients/", 8)))
		quota_manager_reload(b->quotas, b->zk, entity_path);
	else if (type && ename && (!strcmp(type, "users") || !strcmp(type, "clients"))) {
		char ep[1100];
		snprintf(ep, sizeof ep, "%s/%s", type, ename);
		quota_manager_reload(b->quotas, b->zk, ep);
	}
	arena_free(&a);
	free(data);
}

/* List the notices (re-arming the watch); the new ones in order. */
static void scan(struct config_changes *cc, bool apply)
{
	struct String_vector kids;
	if (config_zk_list_changes(cc->b->zk, on_watch, cc, &kids) != ZOK) {
		log_warn("Cannot list /config/changes");
		return;
	}
	for (;;) {
		long long best = -1;
		const char *pick = NULL;
		for (int i = 0; i < kids.count; i++) {
			long long s = seq_of(kids.data[i]);
			if (s > cc->last_seq && (best < 0 || s < best)) {
				best = s;
				pick = kids.data[i];
			}
		}
		if (!pick)
			break;
		if (apply)
			process_notice(cc->b, pick);
		cc->last_seq = best;
	}
	deallocate_String_vector(&kids);
}

static void *main_loop(void *arg)
{
	struct config_changes *cc = arg;
	pthread_mutex_lock(&cc->lock);
	while (!cc->stop) {
		if (!cc->pending) {
			pthread_cond_wait(&cc->cond, &cc->lock);
			continue;
		}
		cc->pending = false;
		pthread_mutex_unlock(&cc->lock);
		scan(cc, true);
		pthread_mutex_lock(&cc->lock);
	}
	pthread_mutex_unlock(&cc->lock);
	return NULL;
}

struct config_changes *config_changes_start(struct broker *b)
{
	struct config_changes *cc = xcalloc(1, sizeof *cc);
	cc->b = b;
	cc->last_seq = -1;
	pthread_mutex_init(&cc->lock, NULL);
	pthread_cond_init(&cc->cond, NULL);
	scan(cc, false); /* what is there already is in the logs' configs */
	if (pthread_create(&cc->thread, NULL, main_loop, cc) != 0) {
		log_error("Cannot start the config change listener");
		pthread_cond_destroy(&cc->cond);
		pthread_mutex_destroy(&cc->lock);
		free(cc);
		return NULL;
	}
	return cc;
}

void config_changes_stop(struct config_changes *cc)
{
	if (!cc)
		return;
	pthread_mutex_lock(&cc->lock);
	cc->stop = true;
	pthread_cond_signal(&cc->cond);
	pthread_mutex_unlock(&cc->lock);
	pthread_join(cc->thread, NULL);
}

void config_changes_free(struct config_changes *cc)
{
	if (!cc)
		return;
	pthread_cond_destroy(&cc->cond);
	pthread_mutex_destroy(&cc->lock);
	free(cc);
}
