/*
 * A topic's effective configuration [Kafka's LogConfig]: the broker's log.*
 * defaults with the topic's overrides from /config/topics/<topic> on top.
 * This is the one place topic-level keys are turned into a struct log_config;
 * the log layer and Produce read only that struct.
 */
#ifndef SAMSA_SERVER_TOPIC_CONFIG_H
#define SAMSA_SERVER_TOPIC_CONFIG_H

struct config;
struct log_config;
struct topic_config_entry;
struct zk;

/* The broker-wide settings as the default for every topic. */
void topic_config_defaults(const struct config *broker, struct log_config *out);

/*
 * Apply one topic-level key.  Unknown keys are ignored, as Kafka ignores
 * them in a topic's znode; a value Kafka would not accept leaves *c as it was
 * and returns -1 with *err (malloc'd) saying why.
 */
int topic_config_apply(struct log_config *c, const char *key, const char *value, char **err);

/*
 * Apply a topic's overrides as ZooKeeper holds them (topic_zk_get_configs):
 * bad values and non-string ones (value NULL) are logged, once each, and skipped.
 */
void topic_config_apply_overrides(struct log_config *c, const char *topic, const struct topic_config_entry *e,
				  int n);

/*
 * The topic's effective config: defaults, then the znode's overrides.
 * Returns 0, or -1 when ZooKeeper could not be read (*out then holds the
 * defaults alone).  A missing znode means no overrides.
 */
int topic_config_load(struct zk *zk, const struct config *broker, const char *topic, struct log_config *out);

#endif
