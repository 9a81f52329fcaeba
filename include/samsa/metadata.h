/*
 * The interface of src/metadata/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_METADATA_H
#define SAMSA_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/buf.h"

/*
 * The broker's metadata cache [Kafka's ZkMetadataCache]: live brokers, the
 * controller, and partition states, as the controller last told us through
 * UpdateMetadata.  Nothing else feeds it, exactly as in Kafka: a broker learns
 * about the cluster only from its controller.
 *
 * Readers take an immutable snapshot (refcounted) and never lock while using
 * it; an UpdateMetadata builds a new snapshot and swaps it in.
 */
struct mc_endpoint {
	char *listener;   /* listener name */
	char *host;
	int32_t port;
	int16_t security_protocol; /* Kafka's SecurityProtocol id: 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL */
};

struct mc_broker {
	int32_t id;
	char *rack; /* NULL if none */
	struct mc_endpoint *endpoints;
	int n_endpoints;
};

struct mc_partition {
	int32_t index;
	int32_t leader;          /* -1 no leader */
	int32_t leader_epoch;
	int32_t controller_epoch;
	int32_t zk_version;
	int32_t *replicas;
	int n_replicas;
	int32_t *isr;
	int n_isr;
	int32_t *offline;
	int n_offline;
};

struct mc_topic {
	char *name;
	uint8_t id[16];          /* zero = none */
	struct mc_partition *partitions; /* sorted by index */
	int n_partitions;
};

struct metadata_snapshot {
	int refcount;            /* atomic */
	int32_t controller_id;   /* -1 unknown */
	int32_t controller_epoch;
	struct mc_broker *brokers; /* sorted by id */
	int n_brokers;
	struct mc_topic *topics;   /* sorted by name */
	int n_topics;
};

struct metadata_cache;

struct metadata_cache *metadata_cache_new(void);
void metadata_cache_free(struct metadata_cache *mc);

/* Current snapshot; pair every acquire with a release. Never NULL. */
struct metadata_snapshot *metadata_cache_acquire(struct metadata_cache *mc);
void metadata_snapshot_release(struct metadata_snapshot *s);
/* Install a new snapshot (takes ownership). */
void metadata_cache_install(struct metadata_cache *mc, struct metadata_snapshot *s);

/* Building snapshots. */
struct metadata_snapshot *metadata_snapshot_new(void);
/* Deep copy of the topics of `from` into `to` (brokers are always replaced wholesale). */
void metadata_snapshot_copy_topics(struct metadata_snapshot *to, const struct metadata_snapshot *from);
struct mc_broker *metadata_snapshot_add_broker(struct metadata_snapshot *s, int32_t id, const char *rack);
void mc_broker_add_endpoint(struct mc_broker *b, const char *listener, const char *host, int32_t port,
			    int16_t security_protocol);
/* Find or add a topic by name; `id` may be NULL. */
struct mc_topic *metadata_snapshot_topic(struct metadata_snapshot *s, const char *name, size_t name_len,
					 bool create);
void metadata_snapshot_remove_topic(struct metadata_snapshot *s, const char *name, size_t name_len);
/* Find or add a partition. */
struct mc_partition *mc_topic_partition(struct mc_topic *t, int32_t index, bool create);
void mc_topic_remove_partition(struct mc_topic *t, int32_t index);
/* Sorts brokers and topics for lookups; call once after building. */
void metadata_snapshot_seal(struct metadata_snapshot *s);

const struct mc_broker *metadata_snapshot_broker(const struct metadata_snapshot *s, int32_t id);
const struct mc_topic *metadata_snapshot_find_topic(const struct metadata_snapshot *s, const char *name,
						    size_t name_len);
const struct mc_endpoint *mc_broker_endpoint(const struct mc_broker *b, const char *listener);
/* Whether the snapshot has this partition of this topic (topic.ptr NULL: no). */
bool metadata_snapshot_has_partition(const struct metadata_snapshot *s, struct kstr topic, int32_t partition);

#endif
