/*
 * Kafka's znodes [Kafka's KafkaZkClient + ZkData]: paths, create modes and the
 * exact JSON payloads a ZooKeeper-mode 3.9 cluster uses, so ZooKeeper tools and
 * Kafka brokers see the same cluster samsa sees.
 */
#ifndef SAMSA_ZK_KAFKA_ZK_H
#define SAMSA_ZK_KAFKA_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "zk/zk.h"

#define KAFKA_ZK_ALREADY_REGISTERED 1
/* A znode whose payload is not what Kafka writes there. */
#define KAFKA_ZK_MALFORMED 2

struct kafka_endpoint {
	char *listener;
	char *host;          /* may be "" */
	int port;
	int security_protocol; /* Kafka's ids: 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL */
};

/* What a broker writes into /brokers/ids/<id>. */
struct kafka_broker_registration {
	int32_t id;
	const char *rack;    /* NULL: no "rack" key */
	struct kafka_endpoint *endpoints;
	int n_endpoints;
	int64_t timestamp_ms; /* 0: now */
};

/* What a reader learns from /brokers/ids/<id>. */
struct kafka_broker_info {
	int32_t id;
	int64_t epoch;       /* czxid of the znode */
	char *rack;
	struct kafka_endpoint *endpoints;
	int n_endpoints;
};

struct kafka_election {
	bool won;
	int32_t controller_id; /* when lost: who holds /controller (-1 if it vanished meanwhile) */
	int32_t epoch;
	int32_t epoch_zk_version;
};

int kafka_zk_ensure_paths(struct zk *zk);
/* Reads /cluster/id, creating it with a fresh id when absent. *out is malloc'd. */
int kafka_zk_get_or_create_cluster_id(struct zk *zk, char **out);
/* broker.id generation through /brokers/seqid: its new zkVersion + reserved.broker.max.id. */
int kafka_zk_generate_broker_id(struct zk *zk, int32_t reserved_max_id, int32_t *out);

/* The v5 registration JSON (exposed for tests). */
void kafka_zk_broker_json(const struct kafka_broker_registration *reg, struct wbuf *out);
/* Parses broker JSON v1..v5 into *info (id and epoch untouched); 0 or -1. */
int kafka_zk_parse_broker_json(const char *json, int len, struct kafka_broker_info *info);
void kafka_broker_info_clear(struct kafka_broker_info *info);
void kafka_broker_info_free_array(struct kafka_broker_info *list, int n);

/* Creates the ephemeral /brokers/ids/<id>; 0 with *epoch, KAFKA_ZK_ALREADY_REGISTERED when
 * another session holds it, or -1. */
int kafka_zk_register_broker(struct zk *zk, const struct kafka_broker_registration *reg, int64_t *epoch);
/* Live brokers, sorted by id, with a children watch on /brokers/ids when watch != NULL. */
int kafka_zk_get_brokers(struct zk *zk, zk_watch_fn watch, void *arg, struct kafka_broker_info **out, int *n);

/* Reads /controller with an exists/data watch: *id = -1 when nobody holds it. */
int kafka_zk_get_controller_id(struct zk *zk, zk_watch_fn watch, void *arg, int32_t *id);
/* Kafka's registerControllerAndIncrementControllerEpoch. */
int kafka_zk_elect_controller(struct zk *zk, int32_t broker_id, struct kafka_election *out);
/* Parses /controller JSON (v1 or v2); -1 when malformed. */
int kafka_zk_parse_controller_json(const char *json, int len, int32_t *id);

/*
 * Classic consumer offsets, where OffsetCommit/OffsetFetch v0 and the old Scala
 * consumer keep them [ZkUtils' ConsumerGroupDirs]:
 * /consumers/<group>/offsets/<topic>/<partition>, the offset as decimal text.
 */
/* Whether a group id can be one element of that path. */
bool kafka_zk_consumer_group_valid(const char *group, size_t len);
/* Writes the offset, creating the path when needed; ZOK or a ZooKeeper code (logged). */
int kafka_zk_set_consumer_offset(struct zk *zk, const char *group, size_t group_len, const char *topic,
				 size_t topic_len, int32_t partition, int64_t offset);
/*
 * *offset = the stored offset, or -1 when there is none (ZNONODE) or the znode is
 * empty; KAFKA_ZK_MALFORMED when it holds something else; other ZooKeeper codes.
 */
int kafka_zk_get_consumer_offset(struct zk *zk, const char *group, size_t group_len, const char *topic,
				 size_t topic_len, int32_t partition, int64_t *offset);

#endif
