/*
 * Record batches (magic v2) as bytes: parse and check a batch header in
 * place, walk the records of a batch, patch the fields the broker owns
 * (base offset, partition leader epoch, LogAppendTime) and validate the
 * "records" blob a producer sent, answering with Kafka's error codes.
 *
 * Nothing here copies or allocates: a struct record_batch and struct record
 * point into the caller's buffer.  Layout: DISK-FORMAT.md section 2.
 */
#ifndef SAMSA_LOG_RECORD_BATCH_H
#define SAMSA_LOG_RECORD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Every batch of every magic starts with BaseOffset int64 + Length int32. */
#define RB_LOG_OVERHEAD 12
/* ...and has its magic byte here, so 17 bytes tell how to read the rest. */
#define RB_MAGIC_OFFSET 16
#define RB_HEADER_SIZE 61 /* a v2 batch with no records */

/* Byte offsets of the v2 header fields. */
#define RB_OFF_BASE_OFFSET 0
#define RB_OFF_LENGTH 8
#define RB_OFF_LEADER_EPOCH 12
#define RB_OFF_CRC 17
#define RB_OFF_ATTRIBUTES 21
#define RB_OFF_LAST_OFFSET_DELTA 23
#define RB_OFF_BASE_TIMESTAMP 27
#define RB_OFF_MAX_TIMESTAMP 35
#define RB_OFF_PRODUCER_ID 43
#define RB_OFF_PRODUCER_EPOCH 51
#define RB_OFF_BASE_SEQUENCE 53
#define RB_OFF_RECORD_COUNT 57
#define RB_OFF_RECORDS 61

/* The smallest legacy entry (v0 message with empty key and value), Kafka's
 * RECORD_OVERHEAD_V0: a Length below it is corrupt whatever the magic. */
#define RB_MIN_LEGACY_SIZE 14

#define RB_MAGIC_V0 0
#define RB_MAGIC_V1 1
#define RB_MAGIC_V2 2

#define RB_ATTR_CODEC_MASK 0x07
#define RB_ATTR_LOG_APPEND_TIME 0x08
#define RB_ATTR_TRANSACTIONAL 0x10
#define RB_ATTR_CONTROL 0x20
#define RB_ATTR_DELETE_HORIZON 0x40

#define RB_NO_TIMESTAMP (-1LL)
#define RB_NO_PRODUCER_ID (-1LL)
#define RB_NO_SEQUENCE (-1)
#define RB_NO_PARTITION_LEADER_EPOCH (-1)

/* The header of one v2 batch, read from bytes that stay the caller's. */
struct record_batch {
	const uint8_t *data; /* first byte of the batch */
	uint32_t size;       /* whole batch: Length + 12 */
	int64_t base_offset;
	int32_t length;
	int32_t partition_leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
};

static inline int record_batch_codec(const struct record_batch *b)
{
	return b->attributes & RB_ATTR_CODEC_MASK;
}
static inline bool record_batch_is_log_append_time(const struct record_batch *b)
{
	return (b->attributes & RB_ATTR_LOG_APPEND_TIME) != 0;
}
static inline bool record_batch_is_transactional(const struct record_batch *b)
{
	return (b->attributes & RB_ATTR_TRANSACTIONAL) != 0;
}
static inline bool record_batch_is_control(const struct record_batch *b)
{
	return (b->attributes & RB_ATTR_CONTROL) != 0;
}
static inline int64_t record_batch_last_offset(const struct record_batch *b)
{
	return b->base_offset + b->last_offset_delta;
}
static inline int64_t record_batch_next_offset(const struct record_batch *b)
{
	return record_batch_last_offset(b) + 1;
}
/* The records region: plain records, or one compressed stream of them. */
static inline const uint8_t *record_batch_records(const struct record_batch *b)
{
	return b->data + RB_OFF_RECORDS;
}
static inline size_t record_batch_records_len(const struct record_batch *b)
{
	return b->size - RB_OFF_RECORDS;
}

/*
 * Read the 17 bytes every batch of every magic starts with.  *size is the
 * whole entry (Length + 12).  Returns false when fewer than 17 bytes are
 * there or Length is below the smallest possible entry.  Works for legacy
 * v0/v1 entries too, whose "base offset" is the entry's (last) offset.
 */
bool record_batch_peek(const uint8_t *p, size_t len, int64_t *base_offset, uint32_t *size,
    int8_t *magic);

/*
 * Parse the header of the batch at p (len bytes available, possibly more
 * than one batch).  Returns KERR_NONE, KERR_CORRUPT_MESSAGE when the bytes
 * cannot be a batch (short, Length out of range), or
 * KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT for magic 0/1 (then only data, size,
 * base_offset, length and magic are set).  The CRC is not checked here.
 */
int record_batch_parse(const uint8_t *p, size_t len, struct record_batch *b);

/* CRC-32C over Attributes..end of the batch at p of size bytes. */
uint32_t record_batch_compute_crc(const uint8_t *p, size_t size);
bool record_batch_crc_ok(const struct record_batch *b);

/*
 * Broker-owned fields, patched in place.  BaseOffset and
 * PartitionLeaderEpoch sit before the CRC'd region, so setting them keeps
 * the CRC valid and costs nothing; the max timestamp and the timestamp type
 * are covered, so record_batch_set_log_append_time recomputes the CRC.
 */
void record_batch_set_base_offset(uint8_t *p, int64_t base_offset);
void record_batch_set_partition_leader_epoch(uint8_t *p, int32_t epoch);
/* Mark the batch LogAppendTime with max timestamp t (Kafka keeps the
 * records' own deltas; readers take t for every record). */
void record_batch_set_log_append_time(uint8_t *p, size_t size, int64_t t);
/* Set MaxTimestamp (CreateTime stays) and recompute the CRC. */
void record_batch_set_max_timestamp(uint8_t *p, size_t size, int64_t t);
void record_batch_update_crc(uint8_t *p, size_t size);

/* One record of a batch; key/value point into the batch (ptr NULL = null). */
struct record {
	const uint8_t *start; /* the record's Length varint */
	size_t size;          /* Length varint + body */
	int8_t attributes;
	int64_t timestamp_delta;
	int32_t offset_delta;
	struct kbytes key;
	struct kbytes value;
	int32_t header_count;
	const uint8_t *headers; /* header_count headers, walk with record_header_next */
	size_t headers_len;
};

struct record_header {
	struct kstr key; /* never null */
	struct kbytes value;
};

/* Walks plain (uncompressed or already decompressed) records. */
struct record_iter {
	struct rd r;
	int32_t left; /* records still expected */
	int32_t index;
	int err;         /* KERR_INVALID_RECORD once something is malformed */
	const char *why; /* what was malformed, for error messages */
};

/* count = the batch's RecordCount; a negative count is an error at once. */
void record_iter_init(struct record_iter *it, const uint8_t *records, size_t len, int32_t count);
/*
 * Next record into *rec; false at the end or on a malformed record (then
 * it->err is set).  After the last record the region must be used up
 * exactly, else it->err is set too.
 */
bool record_iter_next(struct record_iter *it, struct record *rec);

/* Next header of a record (headers/headers_len); false at the end or when
 * malformed (r->err then set).  Call at most header_count times. */
bool record_header_next(struct rd *r, struct record_header *h);

/*
 * What records_validate checks beyond the bytes themselves.  Defaults
 * (records_validate_opts_init) validate as for a client's produce:
 * CreateTime topic, no timestamp bounds, no size limit.
 */
struct records_validate_opts {
	/* A client's produce (Kafka's AppendOrigin.CLIENT): count vs offsets,
	 * no control batches, sequences for producer ids, record contents. */
	bool from_client;
	/* Produce v3+: exactly one batch, magic 2 (INVALID_RECORD otherwise). */
	bool single_batch;
	/* cleanup.policy=compact: every record needs a key. */
	bool compacted;
	/* message.timestamp.type is LogAppendTime (true) or CreateTime. */
	bool log_append_time;
	int64_t now_ms;
	/* message.timestamp.before/after.max.ms; INT64_MAX = unbounded. */
	int64_t timestamp_before_max_ms;
	int64_t timestamp_after_max_ms;
	/* max.message.bytes: a bigger batch gets MESSAGE_TOO_LARGE; 0 = none. */
	int32_t max_batch_bytes;
	/* Compressed client batches are decompressed into this (reused, never
	 * freed here) to check their records; NULL = check headers only. */
	struct wbuf *scratch;
	size_t max_uncompressed_bytes; /* 0 = 128 MiB */
};

struct records_info {
	int32_t batch_count;
	int64_t record_count;
	/* Bytes of whole batches; a torn batch at the end is ignored (as Kafka
	 * drops it), so the log appends only these. */
	size_t valid_bytes;
	int64_t max_timestamp; /* over all batches' MaxTimestamp */
	unsigned codec_mask;   /* bit (1 << codec) for every codec seen */
	bool has_transactional;
	bool has_producer_id;
	/* On error: which batch and record (index in its batch, -1 = the batch
	 * itself) and a static description. */
	int32_t error_batch;
	int32_t error_record;
	const char *error_message;
};

void records_validate_opts_init(struct records_validate_opts *o);

/*
 * Validate a produce "records" blob: batch sizes consistent with the bytes,
 * magic 2 (magic 0/1: UNSUPPORTED_FOR_MESSAGE_FORMAT, or INVALID_RECORD with
 * single_batch), CRC (CORRUPT_MESSAGE), size limit (MESSAGE_TOO_LARGE),
 * client rules and records (INVALID_RECORD), timestamps (INVALID_TIMESTAMP).
 * Returns KERR_NONE or the first error; info is filled either way.
 */
int records_validate(const uint8_t *p, size_t len, const struct records_validate_opts *o,
    struct records_info *info);

/*
 * Check the records of one v2 batch: for an uncompressed batch its own
 * region, for a compressed one the decompressed bytes passed in.  Record
 * count, structure, offset deltas 0..n-1 consecutive and last delta.
 * Returns KERR_NONE or KERR_INVALID_RECORD (*why, *index set).
 */
int record_batch_check_records(const struct record_batch *b, const uint8_t *records,
    size_t len, const char **why, int32_t *index);

#endif
