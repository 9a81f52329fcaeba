/*
 * This broker's producer ids [Kafka's ZkProducerIdManager]: ids handed out
 * one by one from a block of 1000 claimed in ZooKeeper
 * (/latest_producer_id_block, src/zk/producer_id_zk.c).  Taking an id never
 * blocks; claiming a block does, so it is done on the admin executor.
 */
#ifndef SAMSA_SERVER_PRODUCER_IDS_H
#define SAMSA_SERVER_PRODUCER_IDS_H

#include <stdbool.h>
#include <stdint.h>

struct zk;
struct producer_ids;

struct producer_ids *producer_ids_new(struct zk *zk, int32_t broker_id);
void producer_ids_free(struct producer_ids *p);
/* The next id: KERR_NONE, or COORDINATOR_LOAD_IN_PROGRESS when the block is used up (claim one). */
int16_t producer_ids_next(struct producer_ids *p, int64_t *out);
/* Whether an id can be taken without claiming a block. */
bool producer_ids_available(struct producer_ids *p);
/*
 * Claims a new block from ZooKeeper unless ids are left; blocks on ZooKeeper
 * (admin executor only).  KERR_NONE or Kafka's error (UNKNOWN_SERVER_ERROR
 * when ZooKeeper fails or the ids are exhausted).
 */
int16_t producer_ids_refill(struct producer_ids *p);

#endif
