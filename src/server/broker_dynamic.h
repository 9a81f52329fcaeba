/* Dynamic broker configs [Kafka's DynamicBrokerConfig, ZooKeeper mode]: see broker_dynamic.c. */
#ifndef SAMSA_SERVER_BROKER_DYNAMIC_H
#define SAMSA_SERVER_BROKER_DYNAMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct broker;
struct config;
struct topic_config_entry;

struct broker_dynamic;

struct broker_dynamic *broker_dynamic_new(void);
void broker_dynamic_free(struct broker_dynamic *d);

/* Read /config/brokers/<default> and /config/brokers/<id> (at start, before the logs open). */
void broker_dynamic_load(struct broker *b);
/*
 * After a notice for "brokers/<default>" or "brokers/<n>": re-read it when it
 * concerns this broker.  True when the effective config changed (the caller
 * gives every log its new config).  A znode that is not Kafka's JSON, or whose
 * values do not load, is logged and ignored: the last good config stays.
 */
bool broker_dynamic_reload(struct broker *b, const char *entity);

/* server.properties with the dynamic defaults and then this broker's own on top. */
const struct config *broker_config_effective(struct broker *b);

/* The dynamic value of key (per-broker or cluster default), copied into a; NULL if none. */
const char *broker_dynamic_get(struct broker *b, bool per_broker, const char *key, struct arena *a);
/* Every dynamic entry of one level, copied into a. */
void broker_dynamic_entries(struct broker *b, bool per_broker, struct arena *a, struct topic_config_entry **out,
			    int *n);

/*
 * Kafka's DynamicBrokerConfig.validateConfigs for one key: 0, or Kafka's error
 * code with a message naming the key in msg.  value NULL: a deletion.
 */
int16_t broker_dynamic_check(const char *key, const char *value, bool per_broker, char *msg, size_t cap);

/* Keys of DynamicConfig.Broker that are not KafkaConfig keys (the replication throttle rates). */
bool broker_dynamic_is_quota_key(const char *key);

#endif
