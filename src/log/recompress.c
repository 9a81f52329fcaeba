/* Re-compression of validated v2 batches (see recompress.h). */
#include "samsa/log.h"

#include <string.h>

#include "samsa/proto.h"
#include "samsa/util/endian.h"

/* Decompressed records of one batch are bounded like validation bounds them. */
#define MAX_PLAIN ((size_t)256 << 20)

bool records_need_recompress(const uint8_t *p, size_t len, int to)
{
	size_t pos = 0;
	while (pos < len) {
		struct record_batch b;
		if (record_batch_parse(p + pos, len - pos, &b) != KERR_NONE)
			return false;
		if (record_batch_codec(&b) != to)
			return true;
		pos += b.size;
	}
	return false;
}

static int rewrite_one(const struct record_batch *b, int to, int level, struct wbuf *plain, struct wbuf *out)
{
	const uint8_t *recs = record_batch_records(b);
	size_t recs_len = record_batch_records_len(b);
	const uint8_t *src = recs;
	size_t src_len = recs_len;
	if (record_batch_codec(b) != COMPRESSION_NONE) {
		wbuf_reset(plain);
		int err = compression_decompress((enum compression_codec)record_batch_codec(b), recs, recs_len, plain,
						 MAX_PLAIN);
		if (err != KERR_NONE)
			return err;
		src = plain->data;
		src_len = plain->len;
	}
	size_t start = out->len;
	wbuf_put(out, b->data, RB_OFF_RECORDS);
	if (to == COMPRESSION_NONE) {
		wbuf_put(out, src, src_len);
	} else {
		int err = compression_compress((enum compression_codec)to, level, src, src_len, out);
		if (err != KERR_NONE)
			return err;
	}
	uint8_t *nb = out->data + start;
	size_t size = out->len - start;
	if (size - 12 > INT32_MAX)
		return KERR_RECORD_LIST_TOO_LARGE;
	be32_store(nb + RB_OFF_LENGTH, (uint32_t)(size - 12));
	uint16_t attrs = be16_load(nb + RB_OFF_ATTRIBUTES);
	attrs = (uint16_t)((attrs & ~RB_ATTR_CODEC_MASK) | (to & RB_ATTR_CODEC_MASK));
	be16_store(nb + RB_OFF_ATTRIBUTES, attrs);
	record_batch_update_crc(nb, size);
	return KERR_NONE;
}

int records_recompress(const uint8_t *p, size_t len, int to, int level, struct wbuf *plain, struct wbuf *out)
{
	size_t start = out->len;
	size_t pos = 0;
	while (pos < len) {
		struct record_batch b;
		int err = record_batch_parse(p + pos, len - pos, &b);
		if (err == KERR_NONE && b.size > len - pos)
			err = KERR_CORRUPT_MESSAGE;
		if (err == KERR_NONE) {
			if (record_batch_codec(&b) == to)
				wbuf_put(out, b.data, b.size);
			else
				err = rewrite_one(&b, to, level, plain, out);
		}
		if (err != KERR_NONE) {
			out->len = start;
			return err;
		}
		pos += b.size;
	}
	return KERR_NONE;
}
