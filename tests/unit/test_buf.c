/* Unit tests for the bounds-checked reader and the writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "samsa/util/buf.h"
#include "samsa/util/endian.h"

static void test_varint_roundtrip(void **state)
{
	(void)state;
	int32_t vals[] = { 0, 1, -1, 63, -64, 64, 300, -300, INT32_MAX, INT32_MIN };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		struct wbuf w;
		wbuf_init(&w);
		wbuf_varint(&w, vals[i]);
		struct rd r;
		rd_init(&r, w.data, w.len);
		assert_int_equal(rd_varint(&r), vals[i]);
		assert_int_equal(r.err, 0);
		assert_int_equal(rd_remaining(&r), 0);
		wbuf_free(&w);
	}
}

static void test_varint_known_bytes(void **state)
{
	(void)state;
	/* 300 zig-zags to 600 = 0xd8 0x04 */
	struct wbuf w;
	wbuf_init(&w);
	wbuf_varint(&w, 300);
	assert_int_equal(w.len, 2);
	assert_int_equal(w.data[0], 0xd8);
	assert_int_equal(w.data[1], 0x04);
	wbuf_free(&w);
}

static void test_short_reads_set_error(void **state)
{
	(void)state;
	uint8_t b[3] = { 0, 5, 'a' };
	struct rd r;
	rd_init(&r, b, sizeof b);
	struct kstr s = rd_string(&r); /* claims 5 bytes, has 1 */
	assert_null(s.ptr);
	assert_int_not_equal(r.err, 0);
	assert_int_equal(rd_i32(&r), 0); /* stays failed */
}

static void test_overlong_varint_rejected(void **state)
{
	(void)state;
	uint8_t b[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	struct rd r;
	rd_init(&r, b, sizeof b);
	rd_uvarint(&r);
	assert_int_not_equal(r.err, 0);
}

static void test_array_count_bounded_by_remaining(void **state)
{
	(void)state;
	uint8_t b[6] = { 0x7f, 0xff, 0xff, 0xff, 0, 0 };
	struct rd r;
	rd_init(&r, b, sizeof b);
	assert_int_equal(rd_array_len(&r), -1);
	assert_int_not_equal(r.err, 0);
}

static void test_strings_roundtrip(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w);
	wbuf_string(&w, kstr_c("kafka"));
	wbuf_compact_string(&w, kstr_c("samsa"));
	wbuf_string(&w, (struct kstr){ NULL, -1 });
	wbuf_compact_string(&w, (struct kstr){ NULL, -1 });
	struct rd r;
	rd_init(&r, w.data, w.len);
	assert_true(kstr_eq(rd_string(&r), "kafka"));
	assert_true(kstr_eq(rd_compact_string(&r), "samsa"));
	assert_null(rd_string(&r).ptr);
	assert_null(rd_compact_string(&r).ptr);
	assert_int_equal(r.err, 0);
	wbuf_free(&w);
}

/* Network byte order at odd addresses, and the reader and writer agree with it. */
static void test_byte_order(void **state)
{
	(void)state;
	uint8_t b[16] = { 0 };
	be16_store(b + 1, 0x0102);
	be32_store(b + 3, 0x03040506u);
	be64_store(b + 7, 0x0708090a0b0c0d0eull);
	static const uint8_t want[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0 };
	assert_memory_equal(b, want, sizeof want);
	assert_int_equal(be16_load(b + 1), 0x0102);
	assert_int_equal(be32_load(b + 3), 0x03040506u);
	assert_true(be64_load(b + 7) == 0x0708090a0b0c0d0eull);
	assert_int_equal(le32_load(b + 1), 0x04030201u);
	le32_store(b, 0xa1b2c3d4u);
	assert_int_equal(b[0], 0xd4);
	assert_int_equal(b[3], 0xa1);

	struct wbuf w;
	wbuf_init(&w);
	wbuf_i8(&w, 9);
	wbuf_i16(&w, -2);
	wbuf_i32(&w, -3);
	wbuf_i64(&w, INT64_MIN + 5);
	wbuf_patch_i32(&w, 3, 0x7f000001);
	assert_int_equal(be32_load(w.data + 3), 0x7f000001);
	struct rd r;
	rd_init(&r, w.data, w.len);
	assert_int_equal(rd_i8(&r), 9);
	assert_int_equal(rd_i16(&r), -2);
	assert_int_equal(rd_i32(&r), 0x7f000001);
	assert_true(rd_i64(&r) == INT64_MIN + 5);
	assert_int_equal(r.err, 0);
	assert_int_equal(rd_i64(&r), 0); /* nothing left */
	assert_int_not_equal(r.err, 0);
	wbuf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_roundtrip),
		cmocka_unit_test(test_varint_known_bytes),
		cmocka_unit_test(test_short_reads_set_error),
		cmocka_unit_test(test_overlong_varint_rejected),
		cmocka_unit_test(test_array_count_bounded_by_remaining),
		cmocka_unit_test(test_strings_roundtrip),
		cmocka_unit_test(test_byte_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
