/*
 * The log under a coordinator: the partitions of an internal topic
 * (__consumer_offsets for the group coordinator, __transaction_state for the
 * transaction coordinator) as the replica manager, the purgatory and the
 * metadata cache hold them. Both coordinators' hosts are thin wrappers over
 * these, naming their topic.
 */
#ifndef SAMSA_SERVER_COORDINATOR_LOG_H
#define SAMSA_SERVER_COORDINATOR_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/buf.h"

struct broker;

/* Append records (one batch) as the partition's leader; *wait_offset is the
 * offset the high watermark must pass for the write to be acknowledged. */
int16_t coordinator_log_append(struct broker *b, const char *topic, int32_t partition, uint8_t *records, size_t len,
			       int64_t *wait_offset);

/* Read up to max_bytes from offset (at least one batch) into out, as far as
 * the log end. */
int16_t coordinator_log_read(struct broker *b, const char *topic, int32_t partition, int64_t offset,
			     size_t max_bytes, struct wbuf *out, int64_t *log_start_offset);

/* Whether the high watermark has reached required (acks=all with the min ISR). */
bool coordinator_log_replicated(struct broker *b, const char *topic, int32_t partition, int64_t required,
				int16_t *err);

/* Park op in the purgatory on the partition until try_complete says done or
 * deadline passes. */
void coordinator_log_park(struct broker *b, const char *topic, int32_t partition, int64_t deadline,
			  bool (*try_complete)(void *op, bool expired), void *op);

/* Whether the metadata cache knows topic-partition. */
bool broker_has_partition(struct broker *b, struct kstr topic, int32_t partition);

#endif
