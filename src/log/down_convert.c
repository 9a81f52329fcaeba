/*
 * Down-conversion of stored v2 batches to legacy message sets (magic 0 or
 * 1) for Fetch v0-v3 [Kafka's RecordsUtil.downConvert and
 * LazyDownConversionRecords].  The interface is in samsa/log.h.
 *
 * An uncompressed batch becomes one plain message per record; a compressed
 * batch becomes one wrapper message with the same codec around its records
 * as an inner message set (magic 1 inner offsets relative to the batch's
 * first record, magic 0 absolute; the wrapper carries the last offset).
 * Control batches are left out, record headers dropped (v0/v1 have none).
 * Every length is checked against the bytes there before it is used.
 */
#include "samsa/log.h"

#include <string.h>
#include <zlib.h>

#include "samsa/proto.h"
#include "samsa/util/endian.h"

void down_convert_ctx_init(struct down_convert_ctx *c)
{
	wbuf_init(&c->plain);
	wbuf_init(&c->inner);
}

void down_convert_ctx_free(struct down_convert_ctx *c)
{
	wbuf_free(&c->plain);
	wbuf_free(&c->inner);
}

static int fail(struct down_convert_info *info, int err, const char *why)
{
	info->error_message = why;
	return err;
}

/* Write the records of batch b (records region plain/len) as messages into w. */
static int write_records(const struct record_batch *b, const uint8_t *plain, size_t len, int8_t magic,
    bool relative, int64_t from_offset, struct wbuf *w, size_t room, bool first, size_t *count, bool *full,
    struct down_convert_info *info)
{
	struct record_iter it;
	struct record rec;
	bool lat = record_batch_is_log_append_time(b);
	int8_t attrs = lat && magic == RB_MAGIC_V1 ? LEGACY_ATTR_LOG_APPEND_TIME : 0;
	size_t start = w->len;
	record_iter_init(&it, plain, len, b->record_count);
	while (record_iter_next(&it, &rec)) {
		if (b->base_offset + rec.offset_delta < from_offset)
			continue; /* before the fetch offset: the consumer would only skip it */
		if (room != SIZE_MAX && (w->len - start) + legacy_message_size(magic, rec.key, rec.value) > room &&
		    !(first && *count == 0)) {
			*full = true;
			return KERR_NONE;
		}
		int64_t off = b->base_offset + rec.offset_delta;
		int64_t ts = lat ? b->max_timestamp : b->base_timestamp + rec.timestamp_delta;
		legacy_message_write(w, magic, attrs, relative ? rec.offset_delta : off, ts, rec.key, rec.value);
		info->next_offset = off + 1;
		(*count)++;
	}
	if (it.err)
		return fail(info, KERR_CORRUPT_MESSAGE, it.why ? it.why : "Record batch holds a malformed record");
	return KERR_NONE;
}

int down_convert_records(const uint8_t *p, size_t len, int8_t magic, int64_t from_offset, size_t max_out,
    struct down_convert_ctx *ctx, struct wbuf *out, struct down_convert_info *info)
{
	size_t start = out->len;
	size_t pos = 0;
	memset(info, 0, sizeof *info);
	info->next_offset = -1;
	if (magic != RB_MAGIC_V0 && magic != RB_MAGIC_V1)
		return fail(info, KERR_UNSUPPORTED_VERSION, "Down-conversion only to magic 0 or 1");
	while (pos < len) {
		int64_t base;
		uint32_t size;
		int8_t m;
		if (!record_batch_peek(p + pos, len - pos, &base, &size, &m)) {
			if (len - pos >= RB_LOG_OVERHEAD + 5) {
				out->len = start;
				return fail(info, KERR_CORRUPT_MESSAGE, "Batch length is below the smallest entry");
			}
			break; /* a partial header at the end: as a fetch may end */
		}
		if (size > len - pos)
			break; /* a partial batch at the end */
		size_t used = out->len - start;
		bool first = info->messages == 0;
		size_t room = max_out == SIZE_MAX ? SIZE_MAX : (used >= max_out ? 0 : max_out - used);
		if (m != RB_MAGIC_V2) {
			/* Already old enough (never written by samsa, but harmless): as it is. */
			if (m > magic) {
				out->len = start;
				return fail(info, KERR_CORRUPT_MESSAGE, "Legacy entry of a newer magic than requested");
			}
			if (size > room && !first)
				break;
			wbuf_put(out, p + pos, size);
			info->messages++;
			info->next_offset = base + 1;
			pos += size;
			info->consumed = pos;
			continue;
		}
		struct record_batch b;
		int err = record_batch_parse(p + pos, size, &b);
		if (err != KERR_NONE || b.size != size) {
			out->len = start;
			return fail(info, KERR_CORRUPT_MESSAGE, "Record batch header is corrupt");
		}
		if (!record_batch_crc_ok(&b)) {
			out->len = start;
			return fail(info, KERR_CORRUPT_MESSAGE, "Record batch is corrupt (CRC mismatch)");
		}
		if (record_batch_is_control(&b)) {
			pos += size;
			info->consumed = pos;
			info->next_offset = record_batch_next_offset(&b);
			continue;
		}
		int codec = record_batch_codec(&b);
		size_t count = 0;
		bool full = false;
		size_t batch_start = out->len;
		if (codec == COMPRESSION_NONE) {
			err = write_records(&b, record_batch_records(&b), record_batch_records_len(&b), magic, false,
			    from_offset, out,
			    room, first, &count, &full, info);
		} else {
			if (codec == COMPRESSION_ZSTD) {
				err = fail(info, KERR_UNSUPPORTED_COMPRESSION_TYPE,
				    "ZStandard batches cannot be down-converted to magic 0/1");
				if (first) {
					out->len = start;
					return err;
				}
				break; /* send what came before; the next fetch gets the error */
			}
			wbuf_reset(&ctx->plain);
			err = compression_decompress((enum compression_codec)codec, record_batch_records(&b),
			    record_batch_records_len(&b), &ctx->plain, (size_t)128 << 20);
			if (err != KERR_NONE)
				err = fail(info, KERR_CORRUPT_MESSAGE, "Compressed batch cannot be decompressed");
			wbuf_reset(&ctx->inner);
			if (err == KERR_NONE)
				err = write_records(&b, ctx->plain.data, ctx->plain.len, magic, magic == RB_MAGIC_V1,
				    INT64_MIN, &ctx->inner, SIZE_MAX, true, &count, &full, info);
			if (err == KERR_NONE && count > 0) {
				/* The wrapper: header, then the compressed inner set as its value. */
				wbuf_i64(out, info->next_offset - 1);
				size_t size_at = out->len;
				wbuf_i32(out, 0);
				size_t crc_at = out->len;
				wbuf_u32(out, 0);
				wbuf_i8(out, magic);
				int8_t attrs = (int8_t)codec;
				if (magic == RB_MAGIC_V1 && record_batch_is_log_append_time(&b))
					attrs |= LEGACY_ATTR_LOG_APPEND_TIME;
				wbuf_i8(out, attrs);
				if (magic == RB_MAGIC_V1)
					wbuf_i64(out, b.max_timestamp);
				wbuf_i32(out, -1); /* null key */
				size_t vlen_at = out->len;
				wbuf_i32(out, 0);
				size_t v_start = out->len;
				if (compression_compress_magic((enum compression_codec)codec, magic,
					compression_level_default((enum compression_codec)codec), ctx->inner.data,
					ctx->inner.len, out) != KERR_NONE) {
					out->len = start;
					return fail(info, KERR_UNKNOWN_SERVER_ERROR, "Down-converted messages could not be compressed");
				}
				be32_store(out->data + vlen_at, (uint32_t)(out->len - v_start));
				be32_store(out->data + size_at, (uint32_t)(out->len - size_at - 4));
				be32_store(out->data + crc_at,
				    (uint32_t)crc32(0L, out->data + crc_at + 4, (uInt)(out->len - crc_at - 4)));
				if (out->len - batch_start > room && !first) {
					out->len = batch_start;
					full = true;
					count = 0;
				}
			}
		}
		if (err != KERR_NONE) {
			out->len = start;
			info->messages = 0;
			return err;
		}
		info->messages += (int64_t)count;
		if (full) {
			if (codec != COMPRESSION_NONE)
				info->next_offset = b.base_offset; /* the wrapper was taken back */
			if (count > 0)
				info->batches++;
			break;
		}
		info->batches++;
		info->next_offset = record_batch_next_offset(&b);
		pos += size;
		info->consumed = pos;
	}
	return KERR_NONE;
}
