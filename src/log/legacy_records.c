/*
 * Legacy message sets: decoding and conversion to v2 (the interface is in samsa/log.h).
 *
 * Kafka 3.9 still accepts magic 0/1 from old producers and converts them on
 * append, so the log holds only v2.  A compressed message ("wrapper") holds
 * a whole message set in its value; its inner messages carry the same magic,
 * are never compressed themselves, and in magic 1 have offsets relative to
 * the wrapper.  Offsets the producer sent are ignored either way: the log
 * assigns them, as for v2.
 */
#include "samsa/log.h"

#include <string.h>
#include <zlib.h>

#include "samsa/util/endian.h"
#include "samsa/proto.h"

#define PARTIAL (-1)

int legacy_message_read(const uint8_t *p, size_t len, struct legacy_message *m, const char **why)
{
	*why = NULL;
	if (len < LEGACY_LOG_OVERHEAD)
		return PARTIAL;
	m->offset = (int64_t)be64_load(p);
	int32_t msize = (int32_t)be32_load(p + 8);
	if (msize < LEGACY_HEADER_V0) {
		*why = "Message size is less than the minimum record overhead";
		return KERR_CORRUPT_MESSAGE;
	}
	if ((size_t)msize > len - LEGACY_LOG_OVERHEAD)
		return PARTIAL;
	m->size = (uint32_t)msize + LEGACY_LOG_OVERHEAD;

	struct rd r;
	rd_init(&r, p + LEGACY_LOG_OVERHEAD, (size_t)msize);
	m->crc = rd_u32(&r);
	m->magic = rd_i8(&r);
	m->attributes = rd_i8(&r);
	if (m->magic != RB_MAGIC_V0 && m->magic != RB_MAGIC_V1) {
		*why = "Invalid magic byte in message set";
		return KERR_CORRUPT_MESSAGE;
	}
	m->timestamp = RB_NO_TIMESTAMP;
	if (m->magic == RB_MAGIC_V1)
		m->timestamp = rd_i64(&r);
	m->key = rd_bytes(&r);
	m->value = rd_bytes(&r);
	if (r.err || rd_remaining(&r) != 0) {
		*why = "Message size does not match its key and value";
		return KERR_CORRUPT_MESSAGE;
	}
	/* Legacy messages use CRC-32 (IEEE), over Magic to the end. */
	uint32_t crc = (uint32_t)crc32(0L, p + LEGACY_LOG_OVERHEAD + 4, (uInt)(msize - 4));
	if (crc != m->crc) {
		*why = "Message is corrupt (CRC mismatch)";
		return KERR_CORRUPT_MESSAGE;
	}
	return KERR_NONE;
}

size_t legacy_message_size(int8_t magic, struct kbytes key, struct kbytes value)
{
	return LEGACY_LOG_OVERHEAD + (magic == RB_MAGIC_V0 ? LEGACY_HEADER_V0 : LEGACY_HEADER_V1) +
	    (key.ptr ? (size_t)key.len : 0) + (value.ptr ? (size_t)value.len : 0);
}

void legacy_message_write(struct wbuf *w, int8_t magic, int8_t attributes, int64_t offset, int64_t timestamp,
    struct kbytes key, struct kbytes value)
{
	wbuf_i64(w, offset);
	size_t size_at = w->len;
	wbuf_i32(w, 0);
	size_t crc_at = w->len;
	wbuf_u32(w, 0);
	wbuf_i8(w, magic);
	wbuf_i8(w, magic == RB_MAGIC_V0 ? (int8_t)(attributes & LEGACY_ATTR_CODEC_MASK) : attributes);
	if (magic == RB_MAGIC_V1)
		wbuf_i64(w, timestamp);
	wbuf_bytes(w, key);
	wbuf_bytes(w, value);
	be32_store(w->data + size_at, (uint32_t)(w->len - size_at - 4));
	/* CRC-32 (IEEE) over Magic to the end, as legacy_message_read checks it. */
	be32_store(w->data + crc_at, (uint32_t)crc32(0L, w->data + crc_at + 4, (uInt)(w->len - crc_at - 4)));
}

bool legacy_records_is_legacy(const uint8_t *p, size_t len)
{
	return p && len > RB_MAGIC_OFFSET &&
	    (p[RB_MAGIC_OFFSET] == RB_MAGIC_V0 || p[RB_MAGIC_OFFSET] == RB_MAGIC_V1);
}

void legacy_convert_opts_init(struct legacy_convert_opts *o)
{
	memset(o, 0, sizeof *o);
	o->timestamp_before_max_ms = INT64_MAX;
	o->timestamp_after_max_ms = INT64_MAX;
	o->target_codec = COMPRESSION_PRODUCER;
}

struct conv {
	const struct legacy_convert_opts *o;
	struct legacy_convert_info *info;
	struct batch_builder bb;
};

static int fail(struct conv *c, int err, const char *why)
{
	c->info->error_message = why;
	return err;
}

/* Kafka's LogValidator.validateRecord for one (inner or plain) message, then append it. */
static int add_message(struct conv *c, const struct legacy_message *m, int64_t ts)
{
	const struct legacy_convert_opts *o = c->o;
	if (o->compacted && !m->key.ptr)
		return fail(c, KERR_INVALID_RECORD, "Compacted topic cannot accept message without key");
	/* Only magic 1 has a producer timestamp to check (magic 0 stays NO_TIMESTAMP), and Kafka
	 * lets a magic 1 NO_TIMESTAMP through as well. */
	if (m->magic == RB_MAGIC_V1 && !o->log_append_time && ts != RB_NO_TIMESTAMP &&
	    timestamp_out_of_range(ts, o->now_ms, o->timestamp_before_max_ms, o->timestamp_after_max_ms))
		return fail(c, KERR_INVALID_TIMESTAMP,
		    "Timestamp of a message is out of range (message.timestamp.before/after.max.ms)");
	batch_builder_add(&c->bb, ts, m->key, m->value, NULL, 0);
	if (ts > c->info->max_timestamp)
		c->info->max_timestamp = ts;
	c->info->count++;
	return KERR_NONE;
}

static int unpack_wrapper(struct conv *c, const struct legacy_message *w, struct wbuf *plain)
{
	const struct legacy_convert_opts *o = c->o;
	int codec = legacy_message_codec(w);
	if (!w->value.ptr)
		return fail(c, KERR_CORRUPT_MESSAGE, "Compressed message has a null value");
	size_t max = o->max_uncompressed_bytes ? o->max_uncompressed_bytes : (size_t)128 << 20;
	wbuf_reset(plain);
	int err = compression_decompress_magic((enum compression_codec)codec, w->magic, w->value.ptr,
	    (size_t)w->value.len, plain, max);
	if (err != KERR_NONE)
		return fail(c, err == KERR_MESSAGE_TOO_LARGE ? KERR_MESSAGE_TOO_LARGE : KERR_CORRUPT_MESSAGE,
		    "Compressed message cannot be decompressed");
	/* A LogAppendTime wrapper (never from a current producer) gives its time to all inner messages. */
	bool wrapper_time = w->magic == RB_MAGIC_V1 && (w->attributes & LEGACY_ATTR_LOG_APPEND_TIME);
	size_t pos = 0;
	int32_t n = 0;
	while (pos < plain->len) {
		struct legacy_message m;
		const char *why;
		err = legacy_message_read(plain->data + pos, plain->len - pos, &m, &why);
		if (err == PARTIAL)
			return fail(c, KERR_CORRUPT_MESSAGE, "Compressed message set ends in a partial message");
		if (err != KERR_NONE)
			return fail(c, err, why);
		/* Kafka's validateRecord: a record whose magic is not its batch's is an invalid record. */
		if (m.magic != w->magic)
			return fail(c, KERR_INVALID_RECORD, "Inner message magic differs from its wrapper");
		if (legacy_message_codec(&m) != COMPRESSION_NONE)
			return fail(c, KERR_CORRUPT_MESSAGE, "Compressed message has a nested compressed message");
		err = add_message(c, &m, wrapper_time ? w->timestamp : m.timestamp);
		if (err != KERR_NONE)
			return err;
		pos += m.size;
		n++;
	}
	if (n == 0)
		return fail(c, KERR_CORRUPT_MESSAGE, "Compressed message holds no messages");
	return KERR_NONE;
}

/* The producer's codec, as Kafka takes it for compression.type=producer: the last compressed entry's. */
static int source_codec(const uint8_t *p, size_t len)
{
	int codec = COMPRESSION_NONE;
	size_t pos = 0;
	while (len - pos >= LEGACY_LOG_OVERHEAD + 6) {
		int32_t msize = (int32_t)be32_load(p + pos + 8);
		if (msize < LEGACY_HEADER_V0 || (size_t)msize > len - pos - LEGACY_LOG_OVERHEAD)
			break;
		int a = p[pos + LEGACY_LOG_OVERHEAD + 5] & LEGACY_ATTR_CODEC_MASK;
		if (a != COMPRESSION_NONE)
			codec = a;
		pos += (size_t)msize + LEGACY_LOG_OVERHEAD;
	}
	return codec;
}

int legacy_records_convert(const uint8_t *p, size_t len, const struct legacy_convert_opts *o,
    struct wbuf *plain, struct wbuf *out, struct legacy_convert_info *info)
{
	struct conv c = { .o = o, .info = info };
	size_t start = out->len;
	int err = KERR_NONE;

	memset(info, 0, sizeof *info);
	info->max_timestamp = RB_NO_TIMESTAMP;
	int codec = o->target_codec == COMPRESSION_PRODUCER ? source_codec(p, len) : o->target_codec;
	if (codec == COMPRESSION_ZSTD && o->target_codec == COMPRESSION_PRODUCER)
		return fail(&c, KERR_UNSUPPORTED_COMPRESSION_TYPE, "ZStandard is not allowed in message format v0/v1");

	struct batch_builder_opts bo;
	batch_builder_opts_init(&bo);
	bo.codec = codec;
	bo.level = o->level;
	batch_builder_begin(&c.bb, out, &bo);

	size_t pos = 0;
	while (pos < len) {
		struct legacy_message m;
		const char *why;
		if (len - pos > RB_MAGIC_OFFSET && p[pos + RB_MAGIC_OFFSET] == RB_MAGIC_V2) {
			err = fail(&c, KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, "Message set mixes magic 0/1 with magic 2");
			break;
		}
		err = legacy_message_read(p + pos, len - pos, &m, &why);
		if (err == PARTIAL) {
			err = KERR_NONE; /* a partial message at the end: dropped, as for v2 */
			break;
		}
		if (err != KERR_NONE) {
			fail(&c, err, why);
			break;
		}
		if (o->max_message_bytes > 0 && m.size > (uint32_t)o->max_message_bytes) {
			err = fail(&c, KERR_MESSAGE_TOO_LARGE, "Message is larger than max.message.bytes");
			break;
		}
		int mc = legacy_message_codec(&m);
		if (mc == COMPRESSION_ZSTD) {
			err = fail(&c, KERR_UNSUPPORTED_COMPRESSION_TYPE, "ZStandard is not allowed in message format v0/v1");
			break;
		}
		if (mc > COMPRESSION_ZSTD) {
			err = fail(&c, KERR_CORRUPT_MESSAGE, "Unknown compression codec");
			break;
		}
		err = mc == COMPRESSION_NONE ? add_message(&c, &m, m.timestamp) : unpack_wrapper(&c, &m, plain);
		if (err != KERR_NONE)
			break;
		pos += m.size;
		info->consumed = pos;
	}
	if (err == KERR_NONE && info->count == 0)
		err = fail(&c, KERR_CORRUPT_MESSAGE, "Message set holds no whole message");
	size_t size = batch_builder_finish(&c.bb);
	if (err == KERR_NONE && size == 0)
		err = fail(&c, KERR_CORRUPT_MESSAGE, "Converted batch could not be compressed");
	/* Kafka checks sizes again when conversion changed them: many small messages make one big batch. */
	if (err == KERR_NONE && o->max_message_bytes > 0 && size > (size_t)o->max_message_bytes)
		err = fail(&c, KERR_MESSAGE_TOO_LARGE, "Converted batch is larger than max.message.bytes");
	if (err != KERR_NONE)
		out->len = start;
	return err;
}
