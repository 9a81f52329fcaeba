/*
 * v2 record batches in place: header parsing, CRC, record walking, the
 * broker's in-place patches and produce-side validation (record_batch.h).
 */
#include "samsa/log.h"

#include <limits.h>
#include <string.h>

#include "samsa/proto.h"
#include "samsa/util/crc32c.h"
#include "samsa/util/endian.h"

bool record_batch_peek(const uint8_t *p, size_t len, int64_t *base_offset, uint32_t *size,
    int8_t *magic)
{
	if (len < RB_MAGIC_OFFSET + 1)
		return false;
	int32_t length = (int32_t)be32_load(p + RB_OFF_LENGTH);
	if (length < RB_MIN_LEGACY_SIZE || length > INT32_MAX - RB_LOG_OVERHEAD)
		return false;
	*base_offset = (int64_t)be64_load(p);
	*size = (uint32_t)length + RB_LOG_OVERHEAD;
	*magic = (int8_t)p[RB_MAGIC_OFFSET];
	return true;
}

int record_batch_parse(const uint8_t *p, size_t len, struct record_batch *b)
{
	memset(b, 0, sizeof *b);
	b->data = p;
	if (len < RB_LOG_OVERHEAD)
		return KERR_CORRUPT_MESSAGE;
	b->base_offset = (int64_t)be64_load(p);
	b->length = (int32_t)be32_load(p + RB_OFF_LENGTH);
	if (b->length < RB_MIN_LEGACY_SIZE || (size_t)b->length > len - RB_LOG_OVERHEAD)
		return KERR_CORRUPT_MESSAGE;
	b->size = (uint32_t)b->length + RB_LOG_OVERHEAD;
	b->magic = (int8_t)p[RB_MAGIC_OFFSET];
	if (b->magic == RB_MAGIC_V0 || b->magic == RB_MAGIC_V1)
		return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	if (b->magic != RB_MAGIC_V2 || b->size < RB_HEADER_SIZE)
		return KERR_CORRUPT_MESSAGE;
	b->partition_leader_epoch = (int32_t)be32_load(p + RB_OFF_LEADER_EPOCH);
	b->crc = be32_load(p + RB_OFF_CRC);
	b->attributes = (int16_t)be16_load(p + RB_OFF_ATTRIBUTES);
	b->last_offset_delta = (int32_t)be32_load(p + RB_OFF_LAST_OFFSET_DELTA);
	b->base_timestamp = (int64_t)be64_load(p + RB_OFF_BASE_TIMESTAMP);
	b->max_timestamp = (int64_t)be64_load(p + RB_OFF_MAX_TIMESTAMP);
	b->producer_id = (int64_t)be64_load(p + RB_OFF_PRODUCER_ID);
	b->producer_epoch = (int16_t)be16_load(p + RB_OFF_PRODUCER_EPOCH);
	b->base_sequence = (int32_t)be32_load(p + RB_OFF_BASE_SEQUENCE);
	b->record_count = (int32_t)be32_load(p + RB_OFF_RECORD_COUNT);
	return KERR_NONE;
}

uint32_t record_batch_compute_crc(const uint8_t *p, size_t size)
{
	return crc32c(0, p + RB_OFF_ATTRIBUTES, size - RB_OFF_ATTRIBUTES);
}

bool record_batch_crc_ok(const struct record_batch *b)
{
	return b->size >= RB_HEADER_SIZE && record_batch_compute_crc(b->data, b->size) == b->crc;
}

void record_batch_set_base_offset(uint8_t *p, int64_t base_offset)
{
	be64_store(p + RB_OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void record_batch_set_partition_leader_epoch(uint8_t *p, int32_t epoch)
{
	be32_store(p + RB_OFF_LEADER_EPOCH, (uint32_t)epoch);
}

void record_batch_update_crc(uint8_t *p, size_t size)
{
	be32_store(p + RB_OFF_CRC, record_batch_compute_crc(p, size));
}

void record_batch_set_log_append_time(uint8_t *p, size_t size, int64_t t)
{
	be16_store(p + RB_OFF_ATTRIBUTES, (uint16_t)(be16_load(p + RB_OFF_ATTRIBUTES) | RB_ATTR_LOG_APPEND_TIME));
	be64_store(p + RB_OFF_MAX_TIMESTAMP, (uint64_t)t);
	record_batch_update_crc(p, size);
}

void record_batch_set_max_timestamp(uint8_t *p, size_t size, int64_t t)
{
	be64_store(p + RB_OFF_MAX_TIMESTAMP, (uint64_t)t);
	record_batch_update_crc(p, size);
}

/* --- records --------------------------------------------------------------- */

void record_iter_init(struct record_iter *it, const uint8_t *records, size_t len, int32_t count)
{
	rd_init(&it->r, records, len);
	it->left = count;
	it->index = 0;
	it->err = 0;
	it->why = NULL;
	if (count < 0) {
		it->err = KERR_INVALID_RECORD;
		it->why = "invalid record count";
	}
}

static bool iter_fail(struct record_iter *it, const char *why)
{
	it->err = KERR_INVALID_RECORD;
	it->why = why;
	return false;
}

/* A key/value/header-value length: -1 is null, other negatives are bad. */
static bool read_blob(struct rd *r, struct kbytes *out)
{
	int32_t n = rd_varint(r);
	if (r->err)
		return false;
	if (n < 0) {
		out->ptr = NULL;
		out->len = -1;
		return true;
	}
	out->ptr = rd_take(r, (size_t)n);
	out->len = n;
	return out->ptr != NULL;
}

bool record_header_next(struct rd *r, struct record_header *h)
{
	int32_t klen = rd_varint(r);
	if (r->err)
		return false;
	if (klen < 0) {
		r->err = 1;
		return false;
	}
	h->key.ptr = (const char *)rd_take(r, (size_t)klen);
	h->key.len = klen;
	if (!h->key.ptr)
		return false;
	return read_blob(r, &h->value);
}

bool record_iter_next(struct record_iter *it, struct record *rec)
{
	if (it->err)
		return false;
	if (it->left == 0) {
		if (rd_remaining(&it->r) != 0)
			return iter_fail(it, "records still remaining after the declared count");
		return false;
	}
	const uint8_t *start = it->r.p;
	int32_t body = rd_varint(&it->r);
	if (it->r.err)
		return iter_fail(it, "invalid record length");
	if (body < 0 || (size_t)body > rd_remaining(&it->r))
		return iter_fail(it, "record length past the end of the batch");

	/* The body is read through its own reader so a lying field cannot
	 * spill into the next record. */
	struct rd b;
	rd_init(&b, it->r.p, (size_t)body);
	rd_skip(&it->r, (size_t)body);

	rec->start = start;
	rec->size = (size_t)(it->r.p - start);
	rec->attributes = rd_i8(&b);
	rec->timestamp_delta = rd_varlong(&b);
	rec->offset_delta = rd_varint(&b);
	if (!read_blob(&b, &rec->key) || !read_blob(&b, &rec->value))
		return iter_fail(it, "invalid record structure");
	rec->header_count = rd_varint(&b);
	if (b.err)
		return iter_fail(it, "invalid record structure");
	if (rec->header_count < 0)
		return iter_fail(it, "invalid number of record headers");
	rec->headers = b.p;
	for (int32_t i = 0; i < rec->header_count; i++) {
		struct record_header h;
		if (!record_header_next(&b, &h))
			return iter_fail(it, "invalid record header");
	}
	rec->headers_len = (size_t)(b.p - rec->headers);
	if (rd_remaining(&b) != 0)
		return iter_fail(it, "record length does not match its fields");
	it->left--;
	it->index++;
	return true;
}

int record_batch_check_records(const struct record_batch *b, const uint8_t *records,
    size_t len, const char **why, int32_t *index)
{
	struct record_iter it;
	struct record rec;
	int32_t expect = 0;

	*why = NULL;
	*index = -1;
	record_iter_init(&it, records, len, b->record_count);
	while (record_iter_next(&it, &rec)) {
		if (rec.offset_delta != expect) {
			*why = "record offset deltas are not consecutive";
			*index = it.index - 1;
			return KERR_INVALID_RECORD;
		}
		expect++;
	}
	if (it.err) {
		*why = it.why;
		*index = it.index;
		return it.err;
	}
	if (b->record_count > 0 && expect - 1 != b->last_offset_delta) {
		*why = "last offset delta does not match the records";
		return KERR_INVALID_RECORD;
	}
	return KERR_NONE;
}

/* --- produce validation ---------------------------------------------------- */

void records_validate_opts_init(struct records_validate_opts *o)
{
	memset(o, 0, sizeof *o);
	o->from_client = true;
	o->timestamp_before_max_ms = INT64_MAX;
	o->timestamp_after_max_ms = INT64_MAX;
}

static int fail(struct records_info *info, int err, int32_t record, const char *why)
{
	info->error_batch = info->batch_count;
	info->error_record = record;
	info->error_message = why;
	return err;
}

bool timestamp_out_of_range(int64_t ts, int64_t now_ms, int64_t before_max_ms, int64_t after_max_ms)
{
	/* Written to avoid overflow with the INT64_MAX defaults. */
	if (ts < now_ms && (uint64_t)now_ms - (uint64_t)ts > (uint64_t)before_max_ms)
		return true;
	if (ts > now_ms && (uint64_t)ts - (uint64_t)now_ms > (uint64_t)after_max_ms)
		return true;
	return false;
}

/* Kafka's LogValidator.validateRecord: keys on compacted topics, CreateTime
 * bounds. */
static int check_client_records(const struct record_batch *b, const uint8_t *records, size_t len,
    const struct records_validate_opts *o, struct records_info *info)
{
	bool check_ts = !o->log_append_time &&
	    (o->timestamp_before_max_ms != INT64_MAX || o->timestamp_after_max_ms != INT64_MAX);
	struct record_iter it;
	struct record rec;

	if (!o->compacted && !check_ts)
		return KERR_NONE;
	record_iter_init(&it, records, len, b->record_count);
	while (record_iter_next(&it, &rec)) {
		if (o->compacted && rec.key.ptr == NULL)
			return fail(info, KERR_INVALID_RECORD, it.index - 1,
			    "Compacted topic cannot accept message without key");
		int64_t ts = (int64_t)((uint64_t)b->base_timestamp + (uint64_t)rec.timestamp_delta);
		if (check_ts && ts != RB_NO_TIMESTAMP && timestamp_out_of_range(ts, o->now_ms, o->timestamp_before_max_ms, o->timestamp_after_max_ms))
			return fail(info, KERR_INVALID_TIMESTAMP, it.index - 1,
			    "Timestamp of message is out of range");
	}
	return KERR_NONE;
}

static int validate_batch(const struct record_batch *b, const struct records_validate_opts *o,
    struct records_info *info)
{
	const char *why;
	int32_t index;
	int err;

	if (!record_batch_crc_ok(b))
		return fail(info, KERR_CORRUPT_MESSAGE, -1, "Record batch is corrupt (CRC mismatch)");
	int codec = record_batch_codec(b);
	if (!compression_codec_valid(codec))
		return fail(info, KERR_CORRUPT_MESSAGE, -1, "Unknown compression type in record batch");
	if (!o->from_client)
		return KERR_NONE;

	/* LogValidator.validateBatch, in its order. */
	if (b->last_offset_delta < 0)
		return fail(info, KERR_INVALID_RECORD, -1, "Batch has an invalid offset range");
	if (b->record_count <= 0)
		return fail(info, KERR_INVALID_RECORD, -1, "Invalid reported count for record batch");
	if ((int64_t)b->last_offset_delta + 1 != b->record_count)
		return fail(info, KERR_INVALID_RECORD, -1,
		    "Inconsistent batch offset range and count of records");
	if (record_batch_is_control(b))
		return fail(info, KERR_INVALID_RECORD, -1,
		    "Clients are not allowed to write control records");
	if (b->producer_id >= 0 && b->base_sequence < 0)
		return fail(info, KERR_INVALID_RECORD, -1, "Invalid sequence number in record batch");
	if (record_batch_is_log_append_time(b))
		return fail(info, KERR_INVALID_TIMESTAMP, -1,
		    "Producer should not set timestamp type to LogAppendTime");

	const uint8_t *recs = record_batch_records(b);
	size_t recs_len = record_batch_records_len(b);
	if (codec != COMPRESSION_NONE) {
		if (!o->scratch)
			return KERR_NONE;
		size_t max = o->max_uncompressed_bytes ? o->max_uncompressed_bytes : (size_t)128 << 20;
		wbuf_reset(o->scratch);
		err = compression_decompress((enum compression_codec)codec, recs, recs_len, o->scratch, max);
		if (err != KERR_NONE)
			return fail(info, err == KERR_MESSAGE_TOO_LARGE ? KERR_MESSAGE_TOO_LARGE
			    : KERR_CORRUPT_MESSAGE, -1, "Compressed records cannot be decompressed");
		recs = o->scratch->data;
		recs_len = o->scratch->len;
	}
	err = record_batch_check_records(b, recs, recs_len, &why, &index);
	if (err != KERR_NONE)
		return fail(info, err, index, why);
	return check_client_records(b, recs, recs_len, o, info);
}

int records_validate(const uint8_t *p, size_t len, const struct records_validate_opts *o,
    struct records_info *info)
{
	size_t pos = 0;
	int err;

	memset(info, 0, sizeof *info);
	info->max_timestamp = RB_NO_TIMESTAMP;
	info->error_batch = -1;
	info->error_record = -1;
	while (len - pos >= RB_LOG_OVERHEAD) {
		const uint8_t *q = p + pos;
		int32_t length = (int32_t)be32_load(q + RB_OFF_LENGTH);

		if (o->single_batch && info->batch_count > 0)
			return fail(info, KERR_INVALID_RECORD, -1,
			    "Produce requests are only allowed to contain exactly one record batch per partition");
		if (length < RB_MIN_LEGACY_SIZE)
			return fail(info, KERR_CORRUPT_MESSAGE, -1,
			    "Record size is less than the minimum record overhead");
		if ((size_t)length > len - pos - RB_LOG_OVERHEAD)
			break; /* torn batch at the end: Kafka drops it */
		uint32_t size = (uint32_t)length + RB_LOG_OVERHEAD;
		int8_t magic = (int8_t)q[RB_MAGIC_OFFSET];
		if (magic != RB_MAGIC_V2) {
			if (o->single_batch)
				return fail(info, KERR_INVALID_RECORD, -1,
				    "Produce requests are only allowed to contain record batches with magic version 2");
			if (magic == RB_MAGIC_V0 || magic == RB_MAGIC_V1)
				return fail(info, KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, -1,
				    "Message format v0/v1 is not supported");
			return fail(info, KERR_CORRUPT_MESSAGE, -1, "Invalid magic byte");
		}
		if (o->max_batch_bytes > 0 && size > (uint32_t)o->max_batch_bytes)
			return fail(info, KERR_MESSAGE_TOO_LARGE, -1,
			    "Record batch is larger than max.message.bytes");

		struct record_batch b;
		err = record_batch_parse(q, len - pos, &b);
		if (err != KERR_NONE)
			return fail(info, err, -1, "Record batch is corrupt");
		err = validate_batch(&b, o, info);
		if (err != KERR_NONE)
			return err;

		info->codec_mask |= 1u << record_batch_codec(&b);
		if (record_batch_is_transactional(&b))
			info->has_transactional = true;
		if (b.producer_id >= 0)
			info->has_producer_id = true;
		if (b.max_timestamp > info->max_timestamp)
			info->max_timestamp = b.max_timestamp;
		info->record_count += b.record_count;
		info->batch_count++;
		pos += size;
		info->valid_bytes = pos;
	}
	if (o->single_batch && info->batch_count == 0)
		return fail(info, KERR_INVALID_RECORD, -1,
		    "Produce requests must have at least one record batch per partition");
	return KERR_NONE;
}
