/*
 * The partitions of a coordinator's internal topic (__consumer_offsets,
 * __transaction_state) as one broker sees them: which it leads and whether
 * their state is loaded yet, how a key (group id, transactional id) maps onto
 * them, and the queue of load/unload jobs the coordinator's thread works
 * through. The group and the transaction coordinator each keep one; the
 * owner's lock guards it, except n_partitions and known, which are also read
 * without it (atomically).
 */
#ifndef SAMSA_UTIL_COORDINATOR_PARTITIONS_H
#define SAMSA_UTIL_COORDINATOR_PARTITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum coord_part_state { PART_NOT_OWNED, PART_LOADING, PART_OWNED };

struct coord_part {
	enum coord_part_state state;
	int32_t leader_epoch; /* ours of the partition; the transaction coordinator's epoch */
};

struct coord_load_job {
	int32_t partition, epoch;
	bool elect; /* became leader (load), else resigned (unload) */
};

struct coord_partitions {
	int32_t n_partitions;     /* atomic: what keys map onto */
	bool known;               /* atomic; until true no key is served */
	bool count_change_logged; /* warned once that the topic's count changed */
	struct coord_part *parts; /* n_parts entries, indexed by partition */
	int32_t n_parts;
	struct coord_load_job *jobs;
	int n_jobs, cap_jobs;
};

/* Java's String.hashCode over the UTF-16 code units of a UTF-8 string. */
int32_t java_string_hash(const char *s, size_t len);

/* n partitions assumed until the topic's real count is set. */
void coord_partitions_init(struct coord_partitions *cp, int32_t n);
void coord_partitions_free(struct coord_partitions *cp);

/* Makes parts[] hold at least n partitions (new ones not owned). */
void coord_partitions_grow(struct coord_partitions *cp, int32_t n);

/* Kafka's partitionFor: abs(hashCode) % the partition count. */
int32_t coord_partitions_for(const struct coord_partitions *cp, const char *key, size_t len);

/* The partition key maps onto, or NULL while the count is unknown or the
 * partition is past parts[]. */
const struct coord_part *coord_partitions_owner(const struct coord_partitions *cp, const char *key, size_t len,
						int32_t *partition);

/* Whether partition is ours and loaded. */
bool coord_partitions_owned(const struct coord_partitions *cp, int32_t partition);

void coord_partitions_push_job(struct coord_partitions *cp, struct coord_load_job job);
bool coord_partitions_pop_job(struct coord_partitions *cp, struct coord_load_job *job);

/* A LeaderAndIsr for partition: marks it loading (leader) or not owned and
 * queues the job; false when nothing changed and nothing was queued. */
bool coord_partitions_on_leadership(struct coord_partitions *cp, int32_t partition, bool leader,
				    int32_t leader_epoch);

/* Without the lock: whether the count is known and already n. */
bool coord_partitions_count_is(const struct coord_partitions *cp, int32_t n);

enum coord_count_change { COORD_COUNT_FIRST, COORD_COUNT_SAME, COORD_COUNT_CHANGED };
/* The topic has n partitions. The first count sticks until a restart
 * (remapping would lose live state, as in Kafka); COORD_COUNT_CHANGED is
 * answered once, for the caller to warn. */
enum coord_count_change coord_partitions_set_count(struct coord_partitions *cp, int32_t n);

#endif
