/*
 * Unit tests for down-conversion (src/log/down_convert.c): v2 batches to
 * magic 0 and magic 1 message sets, plain and compressed (gzip, snappy,
 * lz4 wrappers), offsets and timestamps per magic, the output limit, and
 * truncated or corrupt input refused.  Output is read back with the
 * legacy decoder (legacy_message_read checks every CRC-32).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/endian.h"

#define TS 1700000000000LL

static struct kbytes kb(const char *s)
{
	return s ? (struct kbytes){ (const uint8_t *)s, (int32_t)strlen(s) } : (struct kbytes){ NULL, -1 };
}

/* A batch at base with n records k<i>/v<i> (record 1 has a null key), timestamps TS + 10 i. */
static void put_batch(struct wbuf *w, int64_t base, int n, int codec, bool lat)
{
	struct batch_builder bb;
	struct batch_builder_opts o;
	batch_builder_opts_init(&o);
	o.base_offset = base;
	o.codec = codec;
	o.log_append_time = lat;
	o.level = compression_level_default((enum compression_codec)codec);
	batch_builder_begin(&bb, w, &o);
	for (int i = 0; i < n; i++) {
		char k[16], v[16];
		snprintf(k, sizeof k, "k%lld", (long long)(base + i));
		snprintf(v, sizeof v, "v%lld", (long long)(base + i));
		struct record_header h = { { "h", 1 }, kb("x") };
		batch_builder_add(&bb, TS + 10 * (base + i), i == 1 ? kb(NULL) : kb(k), kb(v), &h, 1);
	}
	assert_true(batch_builder_finish(&bb) > 0);
}

struct msg {
	int64_t offset, ts;
	int8_t magic, attrs;
	char key[16], value[16];
	bool key_null;
};

static int collect(const uint8_t *p, size_t len, struct msg *out, int max, int *wrappers, int *codec)
{
	int n = 0;
	size_t pos = 0;
	while (pos < len) {
		struct legacy_message m;
		const char *why;
		assert_int_equal(legacy_message_read(p + pos, len - pos, &m, &why), KERR_NONE);
		int c = legacy_message_codec(&m);
		if (c != COMPRESSION_NONE) {
			(*wrappers)++;
			*codec = c;
			struct wbuf plain;
			wbuf_init(&plain);
			assert_int_equal(compression_decompress_magic((enum compression_codec)c, m.magic, m.value.ptr,
			    (size_t)m.value.len, &plain, 1 << 20), KERR_NONE);
			int w = 0, cc = 0;
			struct msg inner[64];
			int k = collect(plain.data, plain.len, inner, 64, &w, &cc);
			assert_int_equal(w, 0);
			for (int i = 0; i < k; i++) {
				assert_int_equal(inner[i].magic, m.magic);
				/* magic 1 inner offsets are relative: the wrapper has the last one */
				if (m.magic == RB_MAGIC_V1)
					inner[i].offset = m.offset - inner[k - 1].offset + inner[i].offset;
				assert_true(n < max);
				out[n++] = inner[i];
			}
			wbuf_free(&plain);
		} else {
			assert_true(n < max);
			struct msg *x = &out[n++];
			memset(x, 0, sizeof *x);
			x->offset = m.offset;
			x->ts = m.timestamp;
			x->magic = m.magic;
			x->attrs = m.attributes;
			x->key_null = m.key.ptr == NULL;
			if (m.key.ptr)
				memcpy(x->key, m.key.ptr, (size_t)m.key.len);
			if (m.value.ptr)
				memcpy(x->value, m.value.ptr, (size_t)m.value.len);
		}
		pos += m.size;
	}
	return n;
}

static void check_all(int8_t magic, int codec, bool lat)
{
	struct wbuf in, out;
	struct down_convert_ctx ctx;
	struct down_convert_info info;
	wbuf_init(&in);
	wbuf_init(&out);
	down_convert_ctx_init(&ctx);
	put_batch(&in, 100, 3, codec, lat);
	put_batch(&in, 103, 4, codec, lat);
	assert_int_equal(down_convert_records(in.data, in.len, magic, 0, SIZE_MAX, &ctx, &out, &info), KERR_NONE);
	assert_int_equal(info.messages, 7);
	assert_int_equal(info.batches, 2);
	assert_int_equal(info.consumed, in.len);
	assert_int_equal(info.next_offset, 107);
	struct msg m[16];
	int wrappers = 0, c = COMPRESSION_NONE;
	int n = collect(out.data, out.len, m, 16, &wrappers, &c);
	assert_int_equal(n, 7);
	assert_int_equal(wrappers, codec == COMPRESSION_NONE ? 0 : 2);
	if (codec != COMPRESSION_NONE)
		assert_int_equal(c, codec);
	for (int i = 0; i < n; i++) {
		int64_t off = 100 + i;
		char k[16], v[16];
		snprintf(k, sizeof k, "k%lld", (long long)off);
		snprintf(v, sizeof v, "v%lld", (long long)off);
		assert_int_equal(m[i].offset, off);
		assert_int_equal(m[i].magic, magic);
		assert_string_equal(m[i].value, v);
		if (off == 101 || off == 104)
			assert_true(m[i].key_null);
		else
			assert_string_equal(m[i].key, k);
		if (magic == RB_MAGIC_V0)
			assert_int_equal(m[i].ts, RB_NO_TIMESTAMP);
		else if (!lat)
			assert_int_equal(m[i].ts, TS + 10 * off);
	}
	wbuf_free(&in);
	wbuf_free(&out);
	down_convert_ctx_free(&ctx);
}

static void test_plain_v0(void **s) { (void)s; check_all(RB_MAGIC_V0, COMPRESSION_NONE, false); }
static void test_plain_v1(void **s) { (void)s; check_all(RB_MAGIC_V1, COMPRESSION_NONE, false); }
static void test_gzip(void **s)
{
	(void)s;
	check_all(RB_MAGIC_V0, COMPRESSION_GZIP, false);
	check_all(RB_MAGIC_V1, COMPRESSION_GZIP, false);
}
static void test_snappy(void **s)
{
	(void)s;
	check_all(RB_MAGIC_V0, COMPRESSION_SNAPPY, false);
	check_all(RB_MAGIC_V1, COMPRESSION_SNAPPY, false);
}
static void test_lz4(void **s)
{
	(void)s;
	check_all(RB_MAGIC_V0, COMPRESSION_LZ4, false);
	check_all(RB_MAGIC_V1, COMPRESSION_LZ4, false);
}

/* A LogAppendTime batch: magic 1 messages carry the batch's time and the attribute. */
static void test_log_append_time(void **s)
{
	(void)s;
	check_all(RB_MAGIC_V1, COMPRESSION_NONE, true);
	struct wbuf in, out;
	struct down_convert_ctx ctx;
	struct down_convert_info info;
	wbuf_init(&in);
	wbuf_init(&out);
	down_convert_ctx_init(&ctx);
	put_batch(&in, 0, 2, COMPRESSION_NONE, true);
	struct record_batch b;
	assert_int_equal(record_batch_parse(in.data, in.len, &b), KERR_NONE);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V1, 0, SIZE_MAX, &ctx, &out, &info), KERR_NONE);
	struct msg m[4];
	int w = 0, c = 0;
	assert_int_equal(collect(out.data, out.len, m, 4, &w, &c), 2);
	assert_int_equal(m[0].ts, b.max_timestamp);
	assert_true(m[0].attrs & LEGACY_ATTR_LOG_APPEND_TIME);
	wbuf_free(&in);
	wbuf_free(&out);
	down_convert_ctx_free(&ctx);
}

/* The output limit: whole messages (plain) or whole wrappers, and never less than the first. */
static void test_limit(void **s)
{
	(void)s;
	struct wbuf in, out;
	struct down_convert_ctx ctx;
	struct down_convert_info info;
	wbuf_init(&in);
	wbuf_init(&out);
	down_convert_ctx_init(&ctx);
	put_batch(&in, 0, 10, COMPRESSION_NONE, false);
	size_t one = legacy_message_size(RB_MAGIC_V0, kb("k0"), kb("v0"));
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V0, 0, 3 * one, &ctx, &out, &info), KERR_NONE);
	assert_int_equal(info.messages, 3);
	assert_int_equal(info.next_offset, 3);
	assert_true(out.len <= 3 * one);
	wbuf_reset(&out);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V0, 0, 1, &ctx, &out, &info), KERR_NONE);
	assert_int_equal(info.messages, 1);
	/* from the middle of a plain batch: the messages before the fetch offset are left out */
	wbuf_reset(&out);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V0, 4, 2 * one, &ctx, &out, &info), KERR_NONE);
	assert_int_equal(info.messages, 2);
	assert_int_equal(info.next_offset, 6);
	{
		struct msg mm[4];
		int ww = 0, cc = 0;
		assert_int_equal(collect(out.data, out.len, mm, 4, &ww, &cc), 2);
		assert_int_equal(mm[0].offset, 4);
		assert_int_equal(mm[1].offset, 5);
	}
	/* compressed: the second wrapper does not fit, the first always does */
	wbuf_reset(&in);
	wbuf_reset(&out);
	put_batch(&in, 0, 3, COMPRESSION_GZIP, false);
	put_batch(&in, 3, 3, COMPRESSION_GZIP, false);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V1, 0, 10, &ctx, &out, &info), KERR_NONE);
	assert_int_equal(info.messages, 3);
	assert_int_equal(info.next_offset, 3);
	struct msg m[8];
	int w = 0, c = 0;
	assert_int_equal(collect(out.data, out.len, m, 8, &w, &c), 3);
	assert_int_equal(w, 1);
	wbuf_free(&in);
	wbuf_free(&out);
	down_convert_ctx_free(&ctx);
}

/* Truncated input: a partial batch at the end is left out; every prefix is safe. */
static void test_truncated(void **s)
{
	(void)s;
	struct wbuf in, out;
	struct down_convert_ctx ctx;
	struct down_convert_info info;
	wbuf_init(&in);
	wbuf_init(&out);
	down_convert_ctx_init(&ctx);
	put_batch(&in, 0, 3, COMPRESSION_SNAPPY, false);
	size_t first = in.len;
	put_batch(&in, 3, 3, COMPRESSION_NONE, false);
	for (size_t cut = 0; cut < in.len; cut++) {
		wbuf_reset(&out);
		int err = down_convert_records(in.data, cut, RB_MAGIC_V1, 0, SIZE_MAX, &ctx, &out, &info);
		assert_int_equal(err, KERR_NONE);
		assert_int_equal(info.messages, cut < first ? 0 : 3);
		assert_int_equal(info.consumed, cut < first ? 0 : first);
		assert_int_equal(out.len > 0, cut >= first);
	}
	wbuf_free(&in);
	wbuf_free(&out);
	down_convert_ctx_free(&ctx);
}

/* Corrupt input is refused and out is left as it was. */
static void test_corrupt(void **s)
{
	(void)s;
	struct wbuf in, out;
	struct down_convert_ctx ctx;
	struct down_convert_info info;
	wbuf_init(&in);
	wbuf_init(&out);
	down_convert_ctx_init(&ctx);
	put_batch(&in, 0, 3, COMPRESSION_NONE, false);
	/* a flipped byte inside the CRC'd region */
	in.data[in.len - 2] ^= 0x40;
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V0, 0, SIZE_MAX, &ctx, &out, &info),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(out.len, 0);
	in.data[in.len - 2] ^= 0x40;
	/* Length below any entry */
	uint8_t saved[4];
	memcpy(saved, in.data + 8, 4);
	be32_store(in.data + 8, 3);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V0, 0, SIZE_MAX, &ctx, &out, &info),
	    KERR_CORRUPT_MESSAGE);
	memcpy(in.data + 8, saved, 4);
	/* a record count larger than the records: CRC recomputed so only the records are wrong */
	be32_store(in.data + RB_OFF_RECORD_COUNT, 9);
	record_batch_update_crc(in.data, in.len);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V1, 0, SIZE_MAX, &ctx, &out, &info),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(out.len, 0);
	/* a compressed batch whose stream is cut (CRC fixed): corrupt, not a crash */
	wbuf_reset(&in);
	put_batch(&in, 0, 3, COMPRESSION_GZIP, false);
	in.len -= 5;
	be32_store(in.data + 8, (uint32_t)(in.len - 12));
	record_batch_update_crc(in.data, in.len);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V1, 0, SIZE_MAX, &ctx, &out, &info),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(out.len, 0);
	/* zstd cannot go to magic 0/1 */
	wbuf_reset(&in);
	put_batch(&in, 0, 3, COMPRESSION_ZSTD, false);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V1, 0, SIZE_MAX, &ctx, &out, &info),
	    KERR_UNSUPPORTED_COMPRESSION_TYPE);
	assert_int_equal(out.len, 0);
	/* every flipped byte of a gzip batch is caught or harmless */
	wbuf_reset(&in);
	put_batch(&in, 0, 3, COMPRESSION_GZIP, false);
	for (size_t i = 0; i < in.len; i++) {
		in.data[i] ^= 0x5a;
		wbuf_reset(&out);
		(void)down_convert_records(in.data, in.len, RB_MAGIC_V0, 0, SIZE_MAX, &ctx, &out, &info);
		in.data[i] ^= 0x5a;
	}
	wbuf_free(&in);
	wbuf_free(&out);
	down_convert_ctx_free(&ctx);
}

/* Control batches are skipped. */
static void test_control_skipped(void **s)
{
	(void)s;
	struct wbuf in, out;
	struct down_convert_ctx ctx;
	struct down_convert_info info;
	wbuf_init(&in);
	wbuf_init(&out);
	down_convert_ctx_init(&ctx);
	struct batch_builder bb;
	struct batch_builder_opts o;
	batch_builder_opts_init(&o);
	o.control = true;
	o.transactional = true;
	o.producer_id = 5;
	o.producer_epoch = 0;
	batch_builder_begin(&bb, &in, &o);
	batch_builder_add(&bb, TS, kb("\0\0\0\0"), kb("\0\0\0\0\0\0"), NULL, 0);
	assert_true(batch_builder_finish(&bb) > 0);
	put_batch(&in, 1, 2, COMPRESSION_NONE, false);
	assert_int_equal(down_convert_records(in.data, in.len, RB_MAGIC_V1, 0, SIZE_MAX, &ctx, &out, &info), KERR_NONE);
	assert_int_equal(info.messages, 2);
	struct msg m[4];
	int w = 0, c = 0;
	assert_int_equal(collect(out.data, out.len, m, 4, &w, &c), 2);
	assert_int_equal(m[0].offset, 1);
	wbuf_free(&in);
	wbuf_free(&out);
	down_convert_ctx_free(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_v0),
		cmocka_unit_test(test_plain_v1),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_snappy),
		cmocka_unit_test(test_lz4),
		cmocka_unit_test(test_log_append_time),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_control_skipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
