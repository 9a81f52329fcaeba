/*
 * Topic configuration: broker defaults plus /config/topics/<t> overrides,
 * validated with the same key table CreateTopics uses.
 */
#include "server/topic_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zookeeper/zookeeper.h>

#include "samsa/config.h"
#include "samsa/log.h"
#include "samsa/util/arena.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"

/* The level Kafka uses for a codec: the topic's compression.<codec>.level. */
static int level_key_for(int codec, const char **key)
{
	switch (codec) {
	case COMPRESSION_GZIP: *key = "compression.gzip.level"; return 1;
	case COMPRESSION_LZ4: *key = "compression.lz4.level"; return 1;
	case COMPRESSION_ZSTD: *key = "compression.zstd.level"; return 1;
	default: *key = NULL; return 0;
	}
}

/* Levels are kept per codec until the end so compression.type and a level
 * can arrive in either order. */
struct levels {
	int gzip, lz4, zstd;
};

static void finish_level(struct log_config *c, const struct levels *lv)
{
	switch (c->compression_type) {
	case COMPRESSION_GZIP: c->compression_level = lv->gzip; break;
	case COMPRESSION_LZ4: c->compression_level = lv->lz4; break;
	case COMPRESSION_ZSTD: c->compression_level = lv->zstd; break;
	default: c->compression_level = 0; break;
	}
}

void topic_config_defaults(const struct config *cfg, struct log_config *c)
{
	const struct broker_config *bc = config_broker(cfg);
	log_config_init(c);
	c->segment_bytes = bc->log_segment_bytes;
	c->index_interval_bytes = bc->log_index_interval_bytes;
	c->index_max_bytes = bc->log_index_size_max_bytes;
	c->roll_ms = bc->log_roll_ms;
	c->roll_jitter_ms = bc->log_roll_jitter_ms;
	c->retention_ms = bc->log_retention_ms;
	c->retention_bytes = bc->log_retention_bytes;
	c->flush_interval_messages = bc->log_flush_interval_messages;
	c->flush_interval_ms = bc->log_flush_interval_ms;
	c->message_timestamp_type = bc->log_message_timestamp_type &&
					    strcmp(bc->log_message_timestamp_type, "LogAppendTime") == 0
					    ? LOG_TIMESTAMP_LOG_APPEND_TIME
					    : LOG_TIMESTAMP_CREATE_TIME;
	c->file_delete_delay_ms = bc->log_segment_delete_delay_ms;
	c->preallocate = bc->log_preallocate;
	c->max_message_bytes = bc->message_max_bytes;
	c->min_insync_replicas = bc->min_insync_replicas;
	c->unclean_leader_election = bc->unclean_leader_election_enable;
	c->message_downconversion = config_bool(cfg, "log.message.downconversion.enable");
	enum compression_codec codec = COMPRESSION_PRODUCER;
	if (bc->compression_type && !compression_type_parse(bc->compression_type, &codec))
		codec = COMPRESSION_PRODUCER;
	c->compression_type = codec;
	struct levels lv = {
		.gzip = config_int(cfg, "compression.gzip.level"),
		.lz4 = config_int(cfg, "compression.lz4.level"),
		.zstd = config_int(cfg, "compression.zstd.level"),
	};
	finish_level(c, &lv);
	c->timestamp_before_max_ms = config_long(cfg, "log.message.timestamp.before.max.ms");
	c->timestamp_after_max_ms = config_long(cfg, "log.message.timestamp.after.max.ms");
	/* The deprecated difference.max.ms still bounds both sides when the new keys are unset (KIP-937). */
	int64_t diff = config_long(cfg, "log.message.timestamp.difference.max.ms");
	if (diff != INT64_MAX) {
		if (!config_is_set(cfg, "log.message.timestamp.before.max.ms"))
			c->timestamp_before_max_ms = diff;
		if (!config_is_set(cfg, "log.message.timestamp.after.max.ms"))
			c->timestamp_after_max_ms = diff;
	}
	c->delete_retention_ms = config_long(cfg, "log.cleaner.delete.retention.ms");
	c->min_compaction_lag_ms = config_long(cfg, "log.cleaner.min.compaction.lag.ms");
	c->max_compaction_lag_ms = config_long(cfg, "log.cleaner.max.compaction.lag.ms");
	c->min_cleanable_ratio = config_double(cfg, "log.cleaner.min.cleanable.ratio");
	int n = 0;
	char **policy = config_list(cfg, "log.cleanup.policy", &n);
	c->cleanup_delete = policy == NULL;
	c->cleanup_compact = false;
	for (int i = 0; i < n; i++) {
		if (strcmp(policy[i], "delete") == 0)
			c->cleanup_delete = true;
		else if (strcmp(policy[i], "compact") == 0)
			c->cleanup_compact = true;
	}
}

static int64_t as_long(const char *v)
{
	return strtoll(v, NULL, 10);
}

static bool as_bool(const char *v)
{
	return strcasecmp(v, "true") == 0;
}

/* One validated key; lv collects levels (see finish_level). */
static void set_key(struct log_config *c, struct levels *lv, const char *key, const char *v)
{
	if (!strcmp(key, "segment.bytes"))
		c->segment_bytes = (int32_t)as_long(v);
	else if (!strcmp(key, "segment.ms"))
		c->roll_ms = as_long(v);
	else if (!strcmp(key, "segment.jitter.ms"))
		c->roll_jitter_ms = as_long(v);
	else if (!strcmp(key, "segment.index.bytes"))
		c->index_max_bytes = (int32_t)as_long(v);
	else if (!strcmp(key, "index.interval.bytes"))
		c->index_interval_bytes = (int32_t)as_long(v);
	else if (!strcmp(key, "retention.ms"))
		c->retention_ms = as_long(v) < 0 ? -1 : as_long(v);
	else if (!strcmp(key, "retention.bytes"))
		c->retention_bytes = as_long(v);
	else if (!strcmp(key, "flush.messages"))
		c->flush_interval_messages = as_long(v);
	else if (!strcmp(key, "flush.ms"))
		c->flush_interval_ms = as_long(v);
	else if (!strcmp(key, "file.delete.delay.ms"))
		c->file_delete_delay_ms = as_long(v);
	else if (!strcmp(key, "preallocate"))
		c->preallocate = as_bool(v);
	else if (!strcmp(key, "max.message.bytes"))
		c->max_message_bytes = (int32_t)as_long(v);
	else if (!strcmp(key, "min.insync.replicas"))
		c->min_insync_replicas = (int32_t)as_long(v);
	else if (!strcmp(key, "unclean.leader.election.enable"))
		c->unclean_leader_election = as_bool(v);
	else if (!strcmp(key, "delete.retention.ms"))
		c->delete_retention_ms = as_long(v);
	else if (!strcmp(key, "min.compaction.lag.ms"))
		c->min_compaction_lag_ms = as_long(v);
	else if (!strcmp(key, "max.compaction.lag.ms"))
		c->max_compaction_lag_ms = as_long(v);
	else if (!strcmp(key, "min.cleanable.dirty.ratio"))
		c->min_cleanable_ratio = strtod(v, NULL);
	else if (!strcmp(key, "message.downconversion.enable"))
		c->message_downconversion = as_bool(v);
	else if (!strcmp(key, "message.timestamp.type"))
		c->message_timestamp_type =
			!strcmp(v, "LogAppendTime") ? LOG_TIMESTAMP_LOG_APPEND_TIME : LOG_TIMESTAMP_CREATE_TIME;
	else if (!strcmp(key, "message.timestamp.before.max.ms"))
		c->timestamp_before_max_ms = as_long(v);
	else if (!strcmp(key, "message.timestamp.after.max.ms"))
		c->timestamp_after_max_ms = as_long(v);
	else if (!strcmp(key, "compression.type")) {
		enum compression_codec codec;
		if (compression_type_parse(v, &codec))
			c->compression_type = codec;
	} else if (!strcmp(key, "compression.gzip.level"))
		lv->gzip = (int)as_long(v);
	else if (!strcmp(key, "compression.lz4.level"))
		lv->lz4 = (int)as_long(v);
	else if (!strcmp(key, "compression.zstd.level"))
		lv->zstd = (int)as_long(v);
	else if (!strcmp(key, "cleanup.policy")) {
		c->cleanup_delete = c->cleanup_compact = false;
		const char *p = v;
		while (*p) {
			size_t n = strcspn(p, ",");
			const char *s = p;
			while (n > 0 && *s == ' ')
				s++, n--;
			size_t m = n;
			while (m > 0 && s[m - 1] == ' ')
				m--;
			if (m == 6 && !strncmp(s, "delete", 6))
				c->cleanup_delete = true;
			else if (m == 7 && !strncmp(s, "compact", 7))
				c->cleanup_compact = true;
			p = s + n;
			if (*p == ',')
				p++;
		}
	}
}

/* The levels c currently implies, so a lone override keeps the others. */
static struct levels current_levels(const struct log_config *c)
{
	struct levels lv = {
		.gzip = compression_level_default(COMPRESSION_GZIP),
		.lz4 = compression_level_default(COMPRESSION_LZ4),
		.zstd = compression_level_default(COMPRESSION_ZSTD),
	};
	const char *key;
	if (level_key_for(c->compression_type, &key)) {
		if (c->compression_type == COMPRESSION_GZIP)
			lv.gzip = c->compression_level;
		else if (c->compression_type == COMPRESSION_LZ4)
			lv.lz4 = c->compression_level;
		else
			lv.zstd = c->compression_level;
	}
	return lv;
}

int topic_config_apply(struct log_config *c, const char *key, const char *value, char **err)
{
	const struct config_def *def = config_topic_def_find(key);
	if (!def)
		return 0;
	if (config_validate(def, value, err) != 0)
		return -1;
	if (!value)
		return 0;
	struct levels lv = current_levels(c);
	set_key(c, &lv, key, value);
	finish_level(c, &lv);
	return 0;
}

void topic_config_apply_overrides(struct log_config *c, const char *topic, const struct topic_config_entry *e,
				  int n)
{
	struct levels lv = current_levels(c);
	for (int i = 0; i < n; i++) {
		if (!e[i].value) {
			log_warn("Topic %s: config %s in ZooKeeper is not a string; ignored", topic, e[i].key);
			continue;
		}
		const struct config_def *def = config_topic_def_find(e[i].key);
		if (!def)
			continue;
		char *err = NULL;
		if (config_validate(def, e[i].value, &err) != 0) {
			log_warn("Topic %s: ignoring config from ZooKeeper: %s", topic, err ? err : e[i].key);
			free(err);
			continue;
		}
		set_key(c, &lv, e[i].key, e[i].value);
	}
	finish_level(c, &lv);
}

int topic_config_load(struct zk *zk, const struct config *broker, const char *topic, struct log_config *out)
{
	topic_config_defaults(broker, out);
	if (!zk)
		return -1;
	struct arena a;
	arena_init(&a);
	struct topic_config_entry *e;
	int n;
	int rc = topic_zk_get_configs(zk, topic, &a, &e, &n);
	if (rc == ZOK)
		topic_config_apply_overrides(out, topic, e, n);
	else if (rc == TOPIC_ZK_MALFORMED)
		log_warn("Topic %s: its ZooKeeper config is not a topic config; using the broker's defaults", topic);
	else if (rc != ZNONODE)
		log_warn("Topic %s: cannot read its config from ZooKeeper (%s); using the broker's defaults", topic,
			 zerror(rc));
	arena_free(&a);
	return rc == ZOK || rc == ZNONODE || rc == TOPIC_ZK_MALFORMED ? 0 : -1;
}
