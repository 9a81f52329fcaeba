/* Kafka's replica placement for new topics and partitions (AdminUtils, rack-unaware). */
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

#endif
