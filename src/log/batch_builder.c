/* v2 batch builder (batch_builder.h). */
#include "samsa/log.h"

#include <string.h>

#include "samsa/util/endian.h"
#include "samsa/proto.h"

static size_t varint_size(int32_t v)
{
	return uvarint_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

static size_t varlong_size(int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 1;
	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

void batch_builder_opts_init(struct batch_builder_opts *o)
{
	memset(o, 0, sizeof *o);
	o->partition_leader_epoch = RB_NO_PARTITION_LEADER_EPOCH;
	o->producer_id = RB_NO_PRODUCER_ID;
	o->producer_epoch = -1;
	o->base_sequence = RB_NO_SEQUENCE;
	o->codec = COMPRESSION_NONE;
	o->level = -1;
}

void batch_builder_begin(struct batch_builder *b, struct wbuf *out,
    const struct batch_builder_opts *opts)
{
	memset(b, 0, sizeof *b);
	if (opts)
		b->o = *opts;
	else
		batch_builder_opts_init(&b->o);
	b->out = out;
	b->start = out->len;
	b->base_timestamp = RB_NO_TIMESTAMP;
	b->max_timestamp = RB_NO_TIMESTAMP;
	wbuf_init(&b->plain);
	/* The header is filled in by finish. */
	memset(wbuf_extend(out, RB_HEADER_SIZE), 0, RB_HEADER_SIZE);
}

static size_t blob_size(struct kbytes v)
{
	return v.ptr ? varint_size(v.len) + (size_t)v.len : varint_size(-1);
}

static void put_blob(struct wbuf *w, struct kbytes v)
{
	if (!v.ptr) {
		wbuf_varint(w, -1);
		return;
	}
	wbuf_varint(w, v.len);
	wbuf_put(w, v.ptr, (size_t)v.len);
}

void batch_builder_add(struct batch_builder *b, int64_t timestamp, struct kbytes key,
    struct kbytes value, const struct record_header *headers, int nheaders)
{
	struct wbuf *w = b->o.codec == COMPRESSION_NONE ? b->out : &b->plain;

	if (b->count == 0)
		b->base_timestamp = timestamp;
	if (timestamp > b->max_timestamp)
		b->max_timestamp = timestamp;
	int64_t ts_delta = timestamp - b->base_timestamp;
	int32_t off_delta = b->count;

	size_t body = 1 + varlong_size(ts_delta) + varint_size(off_delta) + blob_size(key) +
	    blob_size(value) + varint_size(nheaders);
	for (int i = 0; i < nheaders; i++) {
		body += varint_size(headers[i].key.len) + (size_t)headers[i].key.len;
		body += blob_size(headers[i].value);
	}
	wbuf_reserve(w, body + 5);
	wbuf_varint(w, (int32_t)body);
	wbuf_i8(w, 0);
	wbuf_varlong(w, ts_delta);
	wbuf_varint(w, off_delta);
	put_blob(w, key);
	put_blob(w, value);
	wbuf_varint(w, nheaders);
	for (int i = 0; i < nheaders; i++) {
		wbuf_varint(w, headers[i].key.len);
		wbuf_put(w, headers[i].key.ptr, (size_t)headers[i].key.len);
		put_blob(w, headers[i].value);
	}
	b->count++;
}

size_t batch_builder_finish(struct batch_builder *b)
{
	struct wbuf *out = b->out;

	if (b->o.codec != COMPRESSION_NONE) {
		int err = compression_compress((enum compression_codec)b->o.codec, b->o.level,
		    b->plain.data, b->plain.len, out);
		wbuf_free(&b->plain);
		if (err != KERR_NONE) {
			out->len = b->start;
			return 0;
		}
	}
	size_t size = out->len - b->start;
	uint8_t *p = out->data + b->start;
	int16_t attrs = (int16_t)(b->o.codec & RB_ATTR_CODEC_MASK);
	if (b->o.log_append_time)
		attrs |= RB_ATTR_LOG_APPEND_TIME;
	if (b->o.transactional)
		attrs |= RB_ATTR_TRANSACTIONAL;
	if (b->o.control)
		attrs |= RB_ATTR_CONTROL;

	be64_store(p + RB_OFF_BASE_OFFSET, (uint64_t)b->o.base_offset);
	be32_store(p + RB_OFF_LENGTH, (uint32_t)(size - RB_LOG_OVERHEAD));
	be32_store(p + RB_OFF_LEADER_EPOCH, (uint32_t)b->o.partition_leader_epoch);
	p[RB_MAGIC_OFFSET] = RB_MAGIC_V2;
	be16_store(p + RB_OFF_ATTRIBUTES, (uint16_t)attrs);
	be32_store(p + RB_OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count > 0 ? b->count - 1 : 0));
	be64_store(p + RB_OFF_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
	be64_store(p + RB_OFF_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
	be64_store(p + RB_OFF_PRODUCER_ID, (uint64_t)b->o.producer_id);
	be16_store(p + RB_OFF_PRODUCER_EPOCH, (uint16_t)b->o.producer_epoch);
	be32_store(p + RB_OFF_BASE_SEQUENCE, (uint32_t)b->o.base_sequence);
	be32_store(p + RB_OFF_RECORD_COUNT, (uint32_t)b->count);
	record_batch_update_crc(p, size);
	return size;
}
