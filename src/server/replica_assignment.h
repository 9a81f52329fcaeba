/* Kafka's replica placement for new topics and partitions (AdminUtils). */
#ifndef SAMSA_SERVER_REPLICA_ASSIGNMENT_H
#define SAMSA_SERVER_REPLICA_ASSIGNMENT_H

#include <stdint.h>

/*
 * Spreads `n_partitions` partitions starting at `first_partition` over the
 * brokers (sorted ascending by the caller) with `rf` replicas each, the first
 * replica round-robin from a start index and the followers shifted so load
 * spreads as Kafka's does.  start_index/shift < 0 pick them at random, as Kafka
 * does.  out[p] gets rf broker ids (caller-allocated).  Returns 0, or -1 when
 * rf exceeds the number of brokers.
 */
int replica_assignment_rack_unaware(const int32_t *brokers, int n_brokers, int n_partitions, int rf,
				    int first_partition, int start_index, int shift, int32_t **out);

/* A live broker as placement sees it; rack NULL when broker.rack is unset. */
struct assignment_broker {
	int32_t id;
	const char *rack;
};

/*
 * Kafka's rack-aware placement: brokers are ordered by alternating racks
 * (racks sorted by name, ids ascending within a rack), the leader is chosen
 * round-robin over that order, and each further replica goes to the next
 * broker at the shifted position whose rack (then whose broker) holds no
 * replica yet, while such racks (brokers) remain.  Same arguments as above.
 */
int replica_assignment_rack_aware(const struct assignment_broker *brokers, int n_brokers, int n_partitions, int rf,
				  int first_partition, int start_index, int shift, int32_t **out);

/* Outcome of replica_assignment(). */
enum {
	ASSIGN_OK = 0,
	ASSIGN_TOO_FEW_BROKERS = -1, /* rf > live brokers */
	ASSIGN_MIXED_RACKS = -2,     /* some brokers have a rack and some do not */
};

/*
 * What Kafka's AdminUtils.assignReplicasToBrokers does with the default
 * (enforced) rack mode: rack-unaware when no broker has a rack, rack-aware
 * when all have one, an error when only some do.  brokers sorted by id.
 */
int replica_assignment(const struct assignment_broker *brokers, int n_brokers, int n_partitions, int rf,
		       int first_partition, int start_index, int shift, int32_t **out);

#endif
