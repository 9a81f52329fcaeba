/*
 * The internal topics' partitions as the coordinators see them (see
 * coordinator_log.h): appends and reads through the Partition object, the
 * acks=all check through the replica manager, waits in the purgatory.
 */
#include <string.h>
#include <unistd.h>

#include "samsa/log.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/purgatory.h"
#include "samsa/replica.h"
#include "samsa/util/clock.h"
#include "server/broker.h"
#include "server/coordinator_log.h"

int16_t coordinator_log_append(struct broker *b, const char *topic, int32_t partition, uint8_t *records, size_t len,
			       int64_t *wait_offset)
{
	struct partition *part = replica_manager_partition(b->replicas, topic, strlen(topic), partition);
	if (!part)
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	struct log_append_info ai;
	/* acks=all, as offsets.commit.required.acks and the transaction log ask: the append
	 * itself is acks=1, and the min ISR is checked when the write waits for its high
	 * watermark (coordinator_log_replicated). */
	int16_t err = partition_append_from_coordinator(part, records, len, 1, wall_clock_ms(), &ai, wait_offset);
	partition_unref(part);
	return err;
}

int16_t coordinator_log_read(struct broker *b, const char *topic, int32_t partition, int64_t offset,
			     size_t max_bytes, struct wbuf *out, int64_t *log_start_offset)
{
	wbuf_reset(out);
	struct partition *part = replica_manager_partition(b->replicas, topic, strlen(topic), partition);
	if (!part)
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	struct partition_fetch pf = { .fetch_offset = offset, .max_bytes = max_bytes, .min_one = true,
				      .current_leader_epoch = -1, .replica_id = -1, .last_fetched_epoch = -1,
				      .to_log_end = true };
	struct log_read_result r;
	int32_t de;
	int64_t deo;
	int16_t err = partition_read(part, &pf, &r, &de, &deo);
	/* The partition's lock is not held across the pread below: the result pins the segment. */
	partition_unref(part);
	*log_start_offset = r.log_start_offset;
	if (err == KERR_NONE && r.length > 0) {
		uint8_t *dst = wbuf_extend(out, r.length);
		ssize_t got = pread(r.fd, dst, r.length, (off_t)r.position);
		if (got <= 0)
			err = KERR_KAFKA_STORAGE_ERROR;
		out->len = got > 0 ? (size_t)got : 0;
	}
	log_read_release(&r);
	return err;
}

bool coordinator_log_replicated(struct broker *b, const char *topic, int32_t partition, int64_t required,
				int16_t *err)
{
	return replica_manager_acks_done(b->replicas, topic, strlen(topic), partition, required, err);
}

void coordinator_log_park(struct broker *b, const char *topic, int32_t partition, int64_t deadline,
			  bool (*try_complete)(void *op, bool expired), void *op)
{
	struct purgatory_key k = purgatory_partition_key(topic, strlen(topic), partition);
	if (b->purgatory)
		purgatory_add(b->purgatory, op, deadline, try_complete, &k, 1);
	else
		(void)try_complete(op, true); /* not started or gone: answer with what there is */
}

bool broker_has_partition(struct broker *b, struct kstr topic, int32_t partition)
{
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	bool has = metadata_snapshot_has_partition(s, topic, partition);
	metadata_snapshot_release(s);
	return has;
}
