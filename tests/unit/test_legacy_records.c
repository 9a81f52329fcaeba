/*
 * Unit tests for legacy (magic 0/1) message sets: the bounds-checked
 * decoder and the conversion to one v2 batch -- plain and compressed
 * wrappers, relative inner offsets, timestamps per timestamp type, the
 * topic's codec, and every way a set can be corrupt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/endian.h"

#define NOW 1700000000000LL

/* One legacy message at the end of w; key/value NULL = null. */
static void put_msg(struct wbuf *w, int8_t magic, int8_t attrs, int64_t offset, int64_t ts,
    const char *key, const void *value, int32_t vlen)
{
	wbuf_i64(w, offset);
	size_t size_at = w->len;
	wbuf_i32(w, 0);
	size_t crc_at = w->len;
	wbuf_u32(w, 0);
	wbuf_i8(w, magic);
	wbuf_i8(w, attrs);
	if (magic == 1)
		wbuf_i64(w, ts);
	if (key) {
		wbuf_i32(w, (int32_t)strlen(key));
		wbuf_put(w, key, strlen(key));
	} else {
		wbuf_i32(w, -1);
	}
	if (value) {
		wbuf_i32(w, vlen);
		wbuf_put(w, value, (size_t)vlen);
	} else {
		wbuf_i32(w, -1);
	}
	be32_store(w->data + size_at, (uint32_t)(w->len - size_at - 4));
	be32_store(w->data + crc_at, (uint32_t)crc32(0L, w->data + crc_at + 4, (uInt)(w->len - crc_at - 4)));
}

static void put_plain(struct wbuf *w, int8_t magic, int64_t offset, int64_t ts, const char *key, const char *value)
{
	put_msg(w, magic, 0, offset, ts, key, value, value ? (int32_t)strlen(value) : 0);
}

/* A wrapper of codec around the inner set in `inner`. */
static void put_wrapper(struct wbuf *w, int8_t magic, int codec, int64_t offset, int64_t ts, const struct wbuf *inner)
{
	struct wbuf z;
	wbuf_init(&z);
	assert_int_equal(compression_compress_magic((enum compression_codec)codec, magic, -1, inner->data, inner->len,
	    &z), KERR_NONE);
	put_msg(w, magic, (int8_t)codec, offset, ts, NULL, z.data, (int32_t)z.len);
	wbuf_free(&z);
}

struct got {
	int n;
	int codec;
	int64_t ts[16];
	char key[16][16];
	char value[16][16];
	int key_null[16];
	int32_t delta[16];
};

/* Parse the one v2 batch in out and its records. */
static void read_batch(const struct wbuf *out, struct got *g)
{
	struct record_batch b;
	memset(g, 0, sizeof *g);
	assert_int_equal(record_batch_parse(out->data, out->len, &b), KERR_NONE);
	assert_int_equal(b.size, out->len);
	assert_true(record_batch_crc_ok(&b));
	assert_int_equal(b.base_offset, 0);
	g->codec = record_batch_codec(&b);
	struct wbuf plain;
	wbuf_init(&plain);
	const uint8_t *recs = record_batch_records(&b);
	size_t len = record_batch_records_len(&b);
	if (g->codec != COMPRESSION_NONE) {
		assert_int_equal(compression_decompress((enum compression_codec)g->codec, recs, len, &plain, 1 << 20),
		    KERR_NONE);
		recs = plain.data;
		len = plain.len;
	}
	const char *why;
	int32_t idx;
	assert_int_equal(record_batch_check_records(&b, recs, len, &why, &idx), KERR_NONE);
	struct record_iter it;
	struct record r;
	record_iter_init(&it, recs, len, b.record_count);
	while (record_iter_next(&it, &r)) {
		assert_true(g->n < 16);
		g->ts[g->n] = b.base_timestamp + r.timestamp_delta;
		g->delta[g->n] = r.offset_delta;
		g->key_null[g->n] = r.key.ptr == NULL;
		if (r.key.ptr)
			memcpy(g->key[g->n], r.key.ptr, (size_t)r.key.len);
		if (r.value.ptr)
			memcpy(g->value[g->n], r.value.ptr, (size_t)r.value.len);
		g->n++;
	}
	assert_int_equal(it.err, 0);
	assert_int_equal(g->n, b.record_count);
	wbuf_free(&plain);
}

static int convert(const struct wbuf *in, const struct legacy_convert_opts *o, struct wbuf *out,
    struct legacy_convert_info *info)
{
	struct wbuf plain;
	wbuf_init(&plain);
	wbuf_reset(out);
	int err = legacy_records_convert(in->data, in->len, o, &plain, out, info);
	wbuf_free(&plain);
	return err;
}

static void opts(struct legacy_convert_opts *o)
{
	legacy_convert_opts_init(o);
	o->now_ms = NOW;
}

static void test_plain_v0(void **state)
{
	(void)state;
	struct wbuf in, out;
	wbuf_init(&in);
	wbuf_init(&out);
	put_plain(&in, 0, 0, 0, "k0", "v0");
	put_plain(&in, 0, 0, 0, NULL, "v1");
	assert_true(legacy_records_is_legacy(in.data, in.len));
	struct legacy_convert_opts o;
	struct legacy_convert_info info;
	opts(&o);
	assert_int_equal(convert(&in, &o, &out, &info), KERR_NONE);
	assert_int_equal(info.count, 2);
	assert_int_equal(info.consumed, in.len);
	struct got g;
	read_batch(&out, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.codec, COMPRESSION_NONE);
	assert_string_equal(g.key[0], "k0");
	assert_string_equal(g.value[0], "v0");
	assert_true(g.key_null[1]);
	assert_string_equal(g.value[1], "v1");
	/* Magic 0 has no timestamp: NO_TIMESTAMP, as Kafka converts it. */
	assert_int_equal(g.ts[0], -1);
	assert_int_equal(g.ts[1], -1);
	assert_int_equal(g.delta[1], 1);
	wbuf_free(&in);
	wbuf_free(&out);
}

static void test_plain_v1_timestamps(void **state)
{
	(void)state;
	struct wbuf in, out;
	wbuf_init(&in);
	wbuf_init(&out);
	put_plain(&in, 1, 5, NOW - 1000, "a", "1");
	put_plain(&in, 1, 9, NOW - 10, "b", "2");
	struct legacy_convert_opts o;
	struct legacy_convert_info info;
	opts(&o);
	assert_int_equal(convert(&in, &o, &out, &info), KERR_NONE);
	struct got g;
	read_batch(&out, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.ts[0], NOW - 1000);
	assert_int_equal(g.ts[1], NOW - 10);
	assert_int_equal(info.max_timestamp, NOW - 10);
	assert_string_equal(g.key[1], "b");
	wbuf_free(&in);
	wbuf_free(&out);
}

static void wrapped(int8_t magic, int codec, int target, int want_codec)
{
	struct wbuf inner, in, out;
	wbuf_init(&inner);
	wbuf_init(&in);
	wbuf_init(&out);
	/* Magic 1 inner offsets are relative; magic 0 ones absolute (any value: the log assigns). */
	put_plain(&inner, magic, 0, NOW - 3, "x", "one");
	put_plain(&inner, magic, 1, NOW - 2, "y", "two");
	put_plain(&inner, magic, 2, NOW - 1, "z", "three");
	put_wrapper(&in, magic, codec, 2, NOW - 1, &inner);
	put_plain(&in, magic, 3, NOW, "w", "four");
	struct legacy_convert_opts o;
	struct legacy_convert_info info;
	opts(&o);
	o.target_codec = target;
	assert_int_equal(convert(&in, &o, &out, &info), KERR_NONE);
	struct got g;
	read_batch(&out, &g);
	assert_int_equal(g.codec, want_codec);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.value[0], "one");
	assert_string_equal(g.value[2], "three");
	assert_string_equal(g.key[3], "w");
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g.delta[i], i);
		assert_int_equal(g.ts[i], magic == 1 ? NOW - 3 + i : -1);
	}
	wbuf_free(&inner);
	wbuf_free(&in);
	wbuf_free(&out);
}

static void test_wrapped(void **state)
{
	(void)state;
	for (int8_t magic = 0; magic <= 1; magic++) {
		wrapped(magic, COMPRESSION_GZIP, COMPRESSION_PRODUCER, COMPRESSION_GZIP);
		wrapped(magic, COMPRESSION_SNAPPY, COMPRESSION_PRODUCER, COMPRESSION_SNAPPY);
		wrapped(magic, COMPRESSION_LZ4, COMPRESSION_PRODUCER, COMPRESSION_LZ4);
		wrapped(magic, COMPRESSION_GZIP, COMPRESSION_NONE, COMPRESSION_NONE);
		wrapped(magic, COMPRESSION_SNAPPY, COMPRESSION_ZSTD, COMPRESSION_ZSTD);
		wrapped(magic, COMPRESSION_LZ4, COMPRESSION_GZIP, COMPRESSION_GZIP);
	}
}

static void test_plain_to_topic_codec(void **state)
{
	(void)state;
	struct wbuf in, out;
	wbuf_init(&in);
	wbuf_init(&out);
	put_plain(&in, 1, 0, NOW, "k", "v");
	struct legacy_convert_opts o;
	struct legacy_convert_info info;
	opts(&o);
	o.target_codec = COMPRESSION_SNAPPY;
	assert_int_equal(convert(&in, &o, &out, &info), KERR_NONE);
	struct got g;
	read_batch(&out, &g);
	assert_int_equal(g.codec, COMPRESSION_SNAPPY);
	assert_string_equal(g.value[0], "v");
	wbuf_free(&in);
	wbuf_free(&out);
}

/* Convert must fail with want and leave out as it was. */
static void expect_error(const struct wbuf *in, const struct legacy_convert_opts *o, int want)
{
	struct wbuf out;
	wbuf_init(&out);
	wbuf_put(&out, "keep", 4);
	struct wbuf plain;
	wbuf_init(&plain);
	struct legacy_convert_info info;
	assert_int_equal(legacy_records_convert(in->data, in->len, o, &plain, &out, &info), want);
	assert_int_equal(out.len, 4);
	assert_non_null(info.error_message);
	wbuf_free(&plain);
	wbuf_free(&out);
}

static void test_bad_crc(void **state)
{
	(void)state;
	struct legacy_convert_opts o;
	opts(&o);
	for (int8_t magic = 0; magic <= 1; magic++) {
		struct wbuf in;
		wbuf_init(&in);
		put_plain(&in, magic, 0, NOW, "k", "v");
		put_plain(&in, magic, 1, NOW, "k", "v");
		in.data[in.len - 1] ^= 1; /* second message's value */
		expect_error(&in, &o, KERR_CORRUPT_MESSAGE);
		/* The CRC is CRC-32 (IEEE), not CRC-32C: a CRC-32C would be wrong. */
		wbuf_reset(&in);
		put_plain(&in, magic, 0, NOW, "k", "v");
		struct legacy_message m;
		const char *why;
		assert_int_equal(legacy_message_read(in.data, in.len, &m, &why), KERR_NONE);
		assert_int_equal(m.crc, (uint32_t)crc32(0L, in.data + 16, (uInt)(in.len - 16)));
		wbuf_free(&in);
	}
}

static void test_bad_inner_crc(void **state)
{
	(void)state;
	struct wbuf inner, in;
	wbuf_init(&inner);
	wbuf_init(&in);
	put_plain(&inner, 1, 0, NOW, "k", "v");
	inner.data[inner.len - 1] ^= 1;
	put_wrapper(&in, 1, COMPRESSION_GZIP, 0, NOW, &inner);
	struct legacy_convert_opts o;
	opts(&o);
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);
	wbuf_free(&inner);
	wbuf_free(&in);
}

static void test_nested(void **state)
{
	(void)state;
	struct wbuf inner, mid, in;
	wbuf_init(&inner);
	wbuf_init(&mid);
	wbuf_init(&in);
	put_plain(&inner, 1, 0, NOW, "k", "v");
	put_wrapper(&mid, 1, COMPRESSION_GZIP, 0, NOW, &inner);
	put_wrapper(&in, 1, COMPRESSION_SNAPPY, 0, NOW, &mid);
	struct legacy_convert_opts o;
	opts(&o);
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);
	wbuf_free(&inner);
	wbuf_free(&mid);
	wbuf_free(&in);
}

static void test_truncated(void **state)
{
	(void)state;
	struct legacy_convert_opts o;
	opts(&o);
	struct wbuf inner, in, out;
	wbuf_init(&inner);
	wbuf_init(&in);
	wbuf_init(&out);

	/* Truncated inside a wrapper: the inner set ends in a partial message. */
	put_plain(&inner, 1, 0, NOW, "k", "v");
	put_plain(&inner, 1, 1, NOW, "k", "v2");
	inner.len -= 3;
	put_wrapper(&in, 1, COMPRESSION_GZIP, 0, NOW, &inner);
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);

	/* A wrapper whose compressed value is cut (CRC recomputed so only the stream is bad). */
	wbuf_reset(&inner);
	wbuf_reset(&in);
	put_plain(&inner, 1, 0, NOW, "k", "some value long enough to compress");
	struct wbuf z;
	wbuf_init(&z);
	assert_int_equal(compression_compress(COMPRESSION_GZIP, -1, inner.data, inner.len, &z), KERR_NONE);
	put_msg(&in, 1, COMPRESSION_GZIP, 0, NOW, NULL, z.data, (int32_t)z.len / 2);
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);
	wbuf_free(&z);

	/* Nothing whole at all. */
	wbuf_reset(&in);
	put_plain(&in, 1, 0, NOW, "k", "v");
	in.len -= 1;
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);

	/* A partial top-level message after whole ones is dropped, as Kafka's log input stream drops it. */
	wbuf_reset(&in);
	put_plain(&in, 1, 0, NOW, "k", "v");
	size_t whole = in.len;
	put_plain(&in, 1, 1, NOW, "k", "v");
	in.len -= 5;
	struct legacy_convert_info info;
	assert_int_equal(convert(&in, &o, &out, &info), KERR_NONE);
	assert_int_equal(info.count, 1);
	assert_int_equal(info.consumed, whole);

	/* MessageSize not matching the key and value lengths. */
	wbuf_reset(&in);
	put_plain(&in, 1, 0, NOW, "k", "v");
	be32_store(in.data + in.len - 5, 7); /* value length 7, 1 byte there */
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);

	/* MessageSize below the minimum. */
	wbuf_reset(&in);
	wbuf_i64(&in, 0);
	wbuf_i32(&in, 3);
	wbuf_put(&in, "abcdefghijklmnop", 16);
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);
	wbuf_free(&inner);
	wbuf_free(&in);
	wbuf_free(&out);
}

static void test_timestamps(void **state)
{
	(void)state;
	struct legacy_convert_opts o;
	opts(&o);
	o.timestamp_before_max_ms = 60000;
	o.timestamp_after_max_ms = 60000;
	struct wbuf in, out;
	wbuf_init(&in);
	wbuf_init(&out);
	put_plain(&in, 1, 0, NOW - 120000, "k", "v");
	expect_error(&in, &o, KERR_INVALID_TIMESTAMP);
	wbuf_reset(&in);
	put_plain(&in, 1, 0, NOW + 120000, "k", "v");
	expect_error(&in, &o, KERR_INVALID_TIMESTAMP);

	/* Inside a wrapper too. */
	struct wbuf inner;
	wbuf_init(&inner);
	put_plain(&inner, 1, 0, NOW, "k", "v");
	put_plain(&inner, 1, 1, NOW - 120000, "k", "v");
	wbuf_reset(&in);
	put_wrapper(&in, 1, COMPRESSION_SNAPPY, 1, NOW, &inner);
	expect_error(&in, &o, KERR_INVALID_TIMESTAMP);

	/* LogAppendTime: the producer's timestamps are not checked (the log stamps its own). */
	struct legacy_convert_info info;
	o.log_append_time = true;
	assert_int_equal(convert(&in, &o, &out, &info), KERR_NONE);
	o.log_append_time = false;

	/* A magic 1 NO_TIMESTAMP is not checked either (Kafka's validateTimestamp skips it). */
	wbuf_reset(&in);
	put_plain(&in, 1, 0, -1, "k", "v");
	assert_int_equal(convert(&in, &o, &out, &info), KERR_NONE);

	/* Magic 0 has no timestamp to check. */
	wbuf_reset(&in);
	put_plain(&in, 0, 0, 0, "k", "v");
	assert_int_equal(convert(&in, &o, &out, &info), KERR_NONE);
	wbuf_free(&inner);
	wbuf_free(&in);
	wbuf_free(&out);
}

static void test_other_rules(void **state)
{
	(void)state;
	struct legacy_convert_opts o;
	opts(&o);
	struct wbuf in;
	wbuf_init(&in);

	put_plain(&in, 1, 0, NOW, NULL, "v");
	o.compacted = true;
	expect_error(&in, &o, KERR_INVALID_RECORD);
	o.compacted = false;

	o.max_message_bytes = 20;
	expect_error(&in, &o, KERR_MESSAGE_TOO_LARGE);
	/* Each message fits, the converted batch does not. */
	wbuf_reset(&in);
	for (int i = 0; i < 10; i++)
		put_plain(&in, 1, i, NOW, "k", "0123456789");
	o.max_message_bytes = 60;
	expect_error(&in, &o, KERR_MESSAGE_TOO_LARGE);
	o.max_message_bytes = 0;
	wbuf_reset(&in);
	put_plain(&in, 1, 0, NOW, NULL, "v");

	/* Magic 2 after magic 1 in one set. */
	wbuf_reset(&in);
	put_plain(&in, 1, 0, NOW, "k", "v");
	size_t at = in.len;
	put_plain(&in, 1, 0, NOW, "k", "v");
	in.data[at + RB_MAGIC_OFFSET] = 2;
	expect_error(&in, &o, KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);

	/* A bad magic inside a legacy set. */
	in.data[at + RB_MAGIC_OFFSET] = 7;
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);

	/* Inner magic differing from the wrapper's. */
	struct wbuf inner;
	wbuf_init(&inner);
	put_plain(&inner, 0, 0, NOW, "k", "v");
	wbuf_reset(&in);
	put_wrapper(&in, 1, COMPRESSION_GZIP, 0, NOW, &inner);
	expect_error(&in, &o, KERR_INVALID_RECORD);

	/* ZStandard does not exist in magic 0/1. */
	wbuf_reset(&in);
	put_msg(&in, 1, COMPRESSION_ZSTD, 0, NOW, NULL, "xxxx", 4);
	expect_error(&in, &o, KERR_UNSUPPORTED_COMPRESSION_TYPE);

	/* An unknown codec. */
	wbuf_reset(&in);
	put_msg(&in, 1, 6, 0, NOW, NULL, "xxxx", 4);
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);

	/* A wrapper with a null value, and one holding nothing. */
	wbuf_reset(&in);
	put_msg(&in, 1, COMPRESSION_GZIP, 0, NOW, NULL, NULL, 0);
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);
	wbuf_reset(&inner);
	wbuf_reset(&in);
	put_wrapper(&in, 1, COMPRESSION_GZIP, 0, NOW, &inner);
	expect_error(&in, &o, KERR_CORRUPT_MESSAGE);
	wbuf_free(&inner);
	wbuf_free(&in);
}

/* Every prefix and every single-byte flip of a wrapped set: never a crash or a read out of bounds. */
static void test_fuzz_prefixes(void **state)
{
	(void)state;
	struct wbuf inner, in, out, plain;
	wbuf_init(&inner);
	wbuf_init(&in);
	wbuf_init(&out);
	wbuf_init(&plain);
	put_plain(&inner, 1, 0, NOW, "k", "v");
	put_plain(&inner, 1, 1, NOW, NULL, NULL);
	put_wrapper(&in, 1, COMPRESSION_SNAPPY, 1, NOW, &inner);
	put_plain(&in, 0, 0, 0, "kk", "vv");
	struct legacy_convert_opts o;
	opts(&o);
	struct legacy_convert_info info;
	for (size_t n = 0; n <= in.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, in.data, n);
		wbuf_reset(&out);
		(void)legacy_records_convert(copy, n, &o, &plain, &out, &info);
		free(copy);
	}
	for (size_t i = 0; i < in.len; i++) {
		in.data[i] ^= 0x5a;
		wbuf_reset(&out);
		int err = legacy_records_convert(in.data, in.len, &o, &plain, &out, &info);
		/* Inside the CRC'd bytes of the first (wrapper) message every flip is caught. */
		if (i >= 16 && i < 12 + be32_load(in.data + 8))
			assert_int_not_equal(err, KERR_NONE);
		in.data[i] ^= 0x5a;
	}
	wbuf_free(&inner);
	wbuf_free(&in);
	wbuf_free(&out);
	wbuf_free(&plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_v0),
		cmocka_unit_test(test_plain_v1_timestamps),
		cmocka_unit_test(test_wrapped),
		cmocka_unit_test(test_plain_to_topic_codec),
		cmocka_unit_test(test_bad_crc),
		cmocka_unit_test(test_bad_inner_crc),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_other_rules),
		cmocka_unit_test(test_fuzz_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
