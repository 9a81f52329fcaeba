/*
 * Unit tests for the on-disk log format against hand-built golden files
 * (tests/golden/log, written field by field from DISK-FORMAT.md by
 * make_golden.py): CRC-32C, v2 record batch parsing and validation, the batch
 * builder, offset and time index entries, and the text files of a log
 * directory (offset checkpoints, leader-epoch checkpoint, meta.properties,
 * partition.metadata, the clean-shutdown marker).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/checkpoint.h"
#include "log/leader_epoch.h"
#include "log/recovery.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/crc32c.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif
#define GOLDEN_DIR SRCDIR "/tests/golden/log/logdir"
#define GOLDEN_PART GOLDEN_DIR "/orders-0"
#define GOLDEN_SEGMENT GOLDEN_PART "/00000000000000000000"

/* What make_golden.py put in the segment (see its docstring). */
#define T 1700000000000LL
#define POS_A 0
#define SIZE_A 98
#define POS_B 98
#define SIZE_B 70
#define POS_C 168
#define SIZE_C 91
#define LOG_SIZE (SIZE_A + SIZE_B + SIZE_C)

/* ---- helpers ------------------------------------------------------------------ */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct stat st;
	assert_int_equal(fstat(fileno(f), &st), 0);
	*len = (size_t)st.st_size;
	uint8_t *p = malloc(*len ? *len : 1);
	assert_int_equal(fread(p, 1, *len, f), *len);
	fclose(f);
	return p;
}

static void assert_file_equals(const char *path, const char *golden)
{
	size_t n, m;
	uint8_t *a = slurp(path, &n);
	uint8_t *b = slurp(golden, &m);
	if (n != m)
		fail_msg("%s: %zu bytes, golden %s has %zu", path, n, golden, m);
	assert_memory_equal(a, b, n);
	free(a);
	free(b);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* rm -r of a directory this test made (no symlinks in it). */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = xasprintf("%s/%s", path, de->d_name);
		struct stat st;
		assert_int_equal(lstat(p, &st), 0);
		if (S_ISDIR(st.st_mode))
			remove_tree(p);
		else
			assert_int_equal(unlink(p), 0);
		free(p);
	}
	closedir(d);
	assert_int_equal(rmdir(path), 0);
}

static char *make_tmpdir(void)
{
	char *d = xstrdup("/tmp/samsa-logfmt-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void remove_tmpdir(char *d)
{
	remove_tree(d);
	free(d);
}

/* The golden segment as an exactly-sized heap buffer (ASan sees overreads). */
static uint8_t *golden_log(size_t *len)
{
	uint8_t *p = slurp(GOLDEN_SEGMENT ".log", len);
	assert_int_equal(*len, LOG_SIZE);
	return p;
}

static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (n)
		memcpy(c, p, n);
	return c;
}

/* ---- CRC-32C ------------------------------------------------------------------------ */

static void test_crc32c_vectors(void **state)
{
	(void)state;
	uint8_t buf[32];

	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c_hw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c(0, "", 0), 0);
	/* RFC 3720 (iSCSI) appendix B.4. */
	memset(buf, 0, sizeof buf);
	assert_int_equal(crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof buf);
	assert_int_equal(crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(0, buf, 32), 0x113FDB5Cu);
}

static void test_crc32c_incremental_and_impls_agree(void **state)
{
	(void)state;
	uint8_t data[1031];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof data; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (uint8_t)(x >> 16);
	}
	/* Every alignment and length up to a few words, and a long run. */
	for (size_t off = 0; off < 9; off++) {
		for (size_t len = 0; len + off <= sizeof data; len += (len < 40 ? 1 : 97)) {
			uint32_t sw = crc32c_sw(0, data + off, len);
			assert_int_equal(crc32c_hw(0, data + off, len), sw);
			assert_int_equal(crc32c(0, data + off, len), sw);
			for (size_t cut = 0; cut <= len; cut += (len / 3 + 1))
				assert_int_equal(crc32c(crc32c(0, data + off, cut), data + off + cut, len - cut),
				    sw);
		}
	}
}

/* ---- record batches ------------------------------------------------------------------- */

static void test_golden_batch_headers(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	struct record_batch b;

	/* Batch A */
	assert_int_equal(record_batch_parse(log + POS_A, len - POS_A, &b), KERR_NONE);
	assert_ptr_equal(b.data, log);
	assert_int_equal(b.size, SIZE_A);
	assert_int_equal(b.length, SIZE_A - 12);
	assert_int_equal(b.base_offset, 0);
	assert_int_equal(b.partition_leader_epoch, 0);
	assert_int_equal(b.magic, 2);
	assert_int_equal(b.crc, 0x9CC0E23Bu);
	assert_int_equal(b.attributes, 0);
	assert_int_equal(record_batch_codec(&b), 0);
	assert_false(record_batch_is_log_append_time(&b));
	assert_false(record_batch_is_transactional(&b));
	assert_false(record_batch_is_control(&b));
	assert_int_equal(b.last_offset_delta, 1);
	assert_int_equal(b.base_timestamp, T);
	assert_int_equal(b.max_timestamp, T + 5);
	assert_int_equal(b.producer_id, -1);
	assert_int_equal(b.producer_epoch, -1);
	assert_int_equal(b.base_sequence, -1);
	assert_int_equal(b.record_count, 2);
	assert_int_equal(record_batch_last_offset(&b), 1);
	assert_int_equal(record_batch_next_offset(&b), 2);
	assert_ptr_equal(record_batch_records(&b), log + 61);
	assert_int_equal(record_batch_records_len(&b), SIZE_A - 61);
	assert_true(record_batch_crc_ok(&b));
	assert_int_equal(record_batch_compute_crc(b.data, b.size), b.crc);

	/* Batch B */
	assert_int_equal(record_batch_parse(log + POS_B, len - POS_B, &b), KERR_NONE);
	assert_int_equal(b.size, SIZE_B);
	assert_int_equal(b.base_offset, 2);
	assert_int_equal(b.partition_leader_epoch, 0);
	assert_int_equal(b.crc, 0x56BDC5BDu);
	assert_int_equal(b.last_offset_delta, 0);
	assert_int_equal(b.base_timestamp, T + 10);
	assert_int_equal(b.max_timestamp, T + 10);
	assert_int_equal(b.record_count, 1);
	assert_true(record_batch_crc_ok(&b));

	/* Batch C: idempotent, epoch 2 */
	assert_int_equal(record_batch_parse(log + POS_C, len - POS_C, &b), KERR_NONE);
	assert_int_equal(b.size, SIZE_C);
	assert_int_equal(b.base_offset, 3);
	assert_int_equal(b.partition_leader_epoch, 2);
	assert_int_equal(b.crc, 0x74F2189Eu);
	assert_int_equal(b.last_offset_delta, 2);
	assert_int_equal(b.base_timestamp, T + 30);
	assert_int_equal(b.max_timestamp, T + 30);
	assert_int_equal(b.producer_id, 1000);
	assert_int_equal(b.producer_epoch, 0);
	assert_int_equal(b.base_sequence, 0);
	assert_int_equal(b.record_count, 3);
	assert_int_equal(record_batch_next_offset(&b), 6);
	assert_true(record_batch_crc_ok(&b));

	/* Peek: the 17 bytes every magic starts with. */
	int64_t base;
	uint32_t size;
	int8_t magic;
	assert_true(record_batch_peek(log + POS_C, 17, &base, &size, &magic));
	assert_int_equal(base, 3);
	assert_int_equal(size, SIZE_C);
	assert_int_equal(magic, 2);
	assert_false(record_batch_peek(log + POS_C, 16, &base, &size, &magic));
	free(log);
}

static void test_golden_records(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	struct record_batch b;
	struct record_iter it;
	struct record r;
	const char *why;
	int32_t index;

	assert_int_equal(record_batch_parse(log + POS_A, len, &b), KERR_NONE);
	record_iter_init(&it, record_batch_records(&b), record_batch_records_len(&b), b.record_count);
	assert_true(record_iter_next(&it, &r));
	assert_int_equal(r.attributes, 0);
	assert_int_equal(r.timestamp_delta, 0);
	assert_int_equal(r.offset_delta, 0);
	assert_int_equal(r.key.len, 5);
	assert_memory_equal(r.key.ptr, "key-0", 5);
	assert_int_equal(r.value.len, 7);
	assert_memory_equal(r.value.ptr, "value-0", 7);
	assert_int_equal(r.header_count, 0);
	assert_ptr_equal(r.start, log + 61);
	assert_int_equal(r.size, 19); /* 1-byte length varint + 18-byte body */
	assert_true(record_iter_next(&it, &r));
	assert_int_equal(r.timestamp_delta, 5);
	assert_int_equal(r.offset_delta, 1);
	assert_null(r.key.ptr);
	assert_int_equal(r.key.len, -1);
	assert_memory_equal(r.value.ptr, "value-1", 7);
	assert_int_equal(r.header_count, 1);
	struct rd hr;
	struct record_header h;
	rd_init(&hr, r.headers, r.headers_len);
	assert_true(record_header_next(&hr, &h));
	assert_int_equal(h.key.len, 1);
	assert_memory_equal(h.key.ptr, "h", 1);
	assert_int_equal(h.value.len, 1);
	assert_memory_equal(h.value.ptr, "x", 1);
	assert_int_equal(rd_remaining(&hr), 0);
	assert_false(record_iter_next(&it, &r));
	assert_int_equal(it.err, 0);
	assert_int_equal(record_batch_check_records(&b, record_batch_records(&b),
	    record_batch_records_len(&b), &why, &index), KERR_NONE);

	/* C: timestamps out of order, so negative zig-zag deltas. */
	static const int64_t deltas[] = { 0, -10, -5 };
	static const char *const keys[] = { "c0", "c1", "c2" };
	static const char *const values[] = { "x", "y", "z" };
	assert_int_equal(record_batch_parse(log + POS_C, len - POS_C, &b), KERR_NONE);
	record_iter_init(&it, record_batch_records(&b), record_batch_records_len(&b), b.record_count);
	for (int i = 0; i < 3; i++) {
		assert_true(record_iter_next(&it, &r));
		assert_int_equal(r.timestamp_delta, deltas[i]);
		assert_int_equal(r.offset_delta, i);
		assert_int_equal(r.key.len, 2);
		assert_memory_equal(r.key.ptr, keys[i], 2);
		assert_int_equal(r.value.len, 1);
		assert_memory_equal(r.value.ptr, values[i], 1);
	}
	assert_false(record_iter_next(&it, &r));
	assert_int_equal(it.err, 0);
	free(log);
}

static void test_validate_golden(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	struct records_validate_opts o;
	struct records_info info;

	records_validate_opts_init(&o);
	assert_int_equal(records_validate(log, len, &o, &info), KERR_NONE);
	assert_int_equal(info.batch_count, 3);
	assert_int_equal(info.record_count, 6);
	assert_int_equal(info.valid_bytes, LOG_SIZE);
	assert_int_equal(info.max_timestamp, T + 30);
	assert_int_equal(info.codec_mask, 1);
	assert_true(info.has_producer_id);
	assert_false(info.has_transactional);

	o.from_client = false;
	assert_int_equal(records_validate(log, len, &o, &info), KERR_NONE);
	assert_int_equal(info.batch_count, 3);

	/* Produce v3+: exactly one batch. */
	o.from_client = true;
	o.single_batch = true;
	assert_int_equal(records_validate(log, len, &o, &info), KERR_INVALID_RECORD);
	assert_int_equal(records_validate(log + POS_B, SIZE_B, &o, &info), KERR_NONE);
	assert_int_equal(records_validate(log, 0, &o, &info), KERR_INVALID_RECORD);

	/* max.message.bytes */
	o.single_batch = false;
	o.max_batch_bytes = SIZE_A - 1;
	assert_int_equal(records_validate(log, len, &o, &info), KERR_MESSAGE_TOO_LARGE);
	assert_int_equal(info.error_batch, 0);
	o.max_batch_bytes = SIZE_A;
	assert_int_equal(records_validate(log, len, &o, &info), KERR_NONE);
	free(log);
}

/* The builder, given the golden batches' inputs, writes the golden bytes. */
static void test_builder_matches_golden(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	struct wbuf w;
	struct batch_builder bb;
	struct batch_builder_opts o;
	struct kbytes none = { NULL, -1 };
#define KB(s) ((struct kbytes){ (const uint8_t *)(s), (int32_t)strlen(s) })

	wbuf_init(&w);
	batch_builder_opts_init(&o);
	o.partition_leader_epoch = 0;
	batch_builder_begin(&bb, &w, &o);
	batch_builder_add(&bb, T, KB("key-0"), KB("value-0"), NULL, 0);
	struct record_header h = { { "h", 1 }, KB("x") };
	batch_builder_add(&bb, T + 5, none, KB("value-1"), &h, 1);
	assert_int_equal(batch_builder_finish(&bb), SIZE_A);

	o.base_offset = 2;
	batch_builder_begin(&bb, &w, &o);
	batch_builder_add(&bb, T + 10, KB("k"), KB("v"), NULL, 0);
	assert_int_equal(batch_builder_finish(&bb), SIZE_B);

	o.base_offset = 3;
	o.partition_leader_epoch = 2;
	o.producer_id = 1000;
	o.producer_epoch = 0;
	o.base_sequence = 0;
	batch_builder_begin(&bb, &w, &o);
	batch_builder_add(&bb, T + 30, KB("c0"), KB("x"), NULL, 0);
	batch_builder_add(&bb, T + 20, KB("c1"), KB("y"), NULL, 0);
	batch_builder_add(&bb, T + 25, KB("c2"), KB("z"), NULL, 0);
	assert_int_equal(batch_builder_finish(&bb), SIZE_C);
#undef KB

	assert_int_equal(w.len, LOG_SIZE);
	assert_memory_equal(w.data, log, LOG_SIZE);
	wbuf_free(&w);
	free(log);
}

/* Broker-owned fields: base offset and leader epoch sit outside the CRC. */
static void test_patch_fields(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	uint8_t *b = exact_copy(log + POS_B, SIZE_B);
	struct record_batch rb;

	record_batch_set_base_offset(b, 0x0102030405060708LL);
	record_batch_set_partition_leader_epoch(b, 7);
	static const uint8_t want[] = { 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, SIZE_B - 12, 0, 0, 0, 7 };
	assert_memory_equal(b, want, sizeof want);
	assert_int_equal(record_batch_parse(b, SIZE_B, &rb), KERR_NONE);
	assert_true(record_batch_crc_ok(&rb));
	assert_int_equal(rb.crc, 0x56BDC5BDu);
	assert_memory_equal(b + 16, log + POS_B + 16, SIZE_B - 16);

	/* LogAppendTime: attribute bit 3, MaxTimestamp, and a new CRC. */
	record_batch_set_log_append_time(b, SIZE_B, T + 99);
	assert_int_equal(record_batch_parse(b, SIZE_B, &rb), KERR_NONE);
	assert_int_equal(b[21], 0);
	assert_int_equal(b[22], 0x08);
	assert_true(record_batch_is_log_append_time(&rb));
	assert_int_equal(rb.max_timestamp, T + 99);
	assert_int_equal(rb.base_timestamp, T + 10);
	assert_true(record_batch_crc_ok(&rb));
	assert_int_not_equal(rb.crc, 0x56BDC5BDu);
	free(b);
	free(log);
}

static void test_wrong_crc(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	struct record_batch rb;
	struct records_validate_opts o;
	struct records_info info;

	records_validate_opts_init(&o);
	/* Any byte from Attributes to the end is covered. */
	for (size_t i = 21; i < SIZE_B; i++) {
		uint8_t *b = exact_copy(log + POS_B, SIZE_B);
		b[i] ^= 0x01;
		int perr = record_batch_parse(b, SIZE_B, &rb);
		if (perr == KERR_NONE)
			assert_false(record_batch_crc_ok(&rb));
		assert_int_equal(records_validate(b, SIZE_B, &o, &info), KERR_CORRUPT_MESSAGE);
		free(b);
	}
	/* So is the CRC field itself. */
	uint8_t *b = exact_copy(log, len);
	b[POS_C + 17] ^= 0x80;
	assert_int_equal(record_batch_parse(b + POS_C, SIZE_C, &rb), KERR_NONE);
	assert_false(record_batch_crc_ok(&rb));
	assert_int_equal(records_validate(b, len, &o, &info), KERR_CORRUPT_MESSAGE);
	assert_int_equal(info.error_batch, 2);
	assert_int_equal(info.error_record, -1);
	assert_int_equal(info.batch_count, 2);
	assert_int_equal(info.valid_bytes, POS_C);
	o.from_client = false; /* replication checks the CRC too */
	assert_int_equal(records_validate(b, len, &o, &info), KERR_CORRUPT_MESSAGE);
	free(b);
	free(log);
}

static void test_bad_lengths(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	struct record_batch rb;
	struct records_validate_opts o;
	struct records_info info;
	int64_t base;
	uint32_t size;
	int8_t magic;

	records_validate_opts_init(&o);
	static const int32_t bad[] = { -1, 0, 13, INT32_MIN };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t *b = exact_copy(log, len);
		be32_store(b + POS_B + 8, (uint32_t)bad[i]);
		assert_int_equal(record_batch_parse(b + POS_B, len - POS_B, &rb), KERR_CORRUPT_MESSAGE);
		assert_false(record_batch_peek(b + POS_B, len - POS_B, &base, &size, &magic));
		assert_int_equal(records_validate(b, len, &o, &info), KERR_CORRUPT_MESSAGE);
		assert_int_equal(info.error_batch, 1);
		free(b);
	}

	/* At least a legacy entry but shorter than a v2 header (61 bytes). */
	uint8_t *b = exact_copy(log + POS_B, SIZE_B);
	be32_store(b + 8, 61 - 12 - 1);
	assert_int_equal(record_batch_parse(b, SIZE_B, &rb), KERR_CORRUPT_MESSAGE);
	free(b);

	/* Longer than the bytes there. */
	b = exact_copy(log + POS_B, SIZE_B);
	be32_store(b + 8, SIZE_B - 12 + 1);
	assert_int_equal(record_batch_parse(b, SIZE_B, &rb), KERR_CORRUPT_MESSAGE);
	be32_store(b + 8, INT32_MAX);
	assert_int_equal(record_batch_parse(b, SIZE_B, &rb), KERR_CORRUPT_MESSAGE);
	free(b);

	/* Length cut short by one record, CRC recomputed: the batch header is
	 * fine but its records do not add up. */
	b = exact_copy(log + POS_C, SIZE_C);
	size_t cut = SIZE_C - 10; /* the last record is 10 bytes */
	be32_store(b + 8, (uint32_t)(cut - 12));
	record_batch_update_crc(b, cut);
	assert_int_equal(record_batch_parse(b, cut, &rb), KERR_NONE);
	assert_true(record_batch_crc_ok(&rb));
	assert_int_equal(records_validate(b, cut, &o, &info), KERR_INVALID_RECORD);
	const char *why;
	int32_t index;
	assert_int_equal(record_batch_check_records(&rb, record_batch_records(&rb),
	    record_batch_records_len(&rb), &why, &index), KERR_INVALID_RECORD);
	assert_non_null(why);
	free(b);

	/* A record whose length varint points past the batch. */
	b = exact_copy(log + POS_B, SIZE_B);
	b[61] = 0x7e; /* zig-zag 63 */
	record_batch_update_crc(b, SIZE_B);
	assert_int_equal(records_validate(b, SIZE_B, &o, &info), KERR_INVALID_RECORD);
	assert_int_equal(info.error_record, 0);
	free(b);

	/* RecordCount disagreeing with LastOffsetDelta. */
	b = exact_copy(log + POS_B, SIZE_B);
	be32_store(b + 57, 2);
	record_batch_update_crc(b, SIZE_B);
	assert_int_equal(records_validate(b, SIZE_B, &o, &info), KERR_INVALID_RECORD);
	free(b);
	free(log);
}

static void test_truncated(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	struct record_batch rb;
	struct records_validate_opts o;
	struct records_info info;

	records_validate_opts_init(&o);
	for (size_t n = 0; n < SIZE_A; n++) {
		uint8_t *b = exact_copy(log, n);
		assert_int_equal(record_batch_parse(b, n, &rb), KERR_CORRUPT_MESSAGE);
		/* A torn batch at the end is dropped, not an error (Kafka). */
		assert_int_equal(records_validate(b, n, &o, &info), KERR_NONE);
		assert_int_equal(info.batch_count, 0);
		assert_int_equal(info.valid_bytes, 0);
		o.single_batch = true;
		assert_int_equal(records_validate(b, n, &o, &info), KERR_INVALID_RECORD);
		o.single_batch = false;
		free(b);
	}
	/* Whole batches before a torn one are kept. */
	for (size_t n = POS_C; n < LOG_SIZE; n++) {
		uint8_t *b = exact_copy(log, n);
		assert_int_equal(records_validate(b, n, &o, &info), KERR_NONE);
		assert_int_equal(info.batch_count, 2);
		assert_int_equal(info.valid_bytes, POS_C);
		assert_int_equal(info.record_count, 3);
		free(b);
	}
	free(log);
}

static void test_magic(void **state)
{
	(void)state;
	size_t len;
	uint8_t *log = golden_log(&len);
	struct record_batch rb;
	struct records_validate_opts o;
	struct records_info info;

	records_validate_opts_init(&o);
	for (int m = 0; m <= 1; m++) {
		uint8_t *b = exact_copy(log + POS_B, SIZE_B);
		b[16] = (uint8_t)m;
		assert_int_equal(record_batch_parse(b, SIZE_B, &rb), KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
		assert_int_equal(rb.magic, m);
		assert_int_equal(rb.size, SIZE_B);
		assert_int_equal(rb.base_offset, 2);
		assert_int_equal(records_validate(b, SIZE_B, &o, &info),
		    KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
		o.single_batch = true;
		assert_int_equal(records_validate(b, SIZE_B, &o, &info), KERR_INVALID_RECORD);
		o.single_batch = false;
		free(b);
	}
	uint8_t *b = exact_copy(log + POS_B, SIZE_B);
	b[16] = 3;
	assert_int_equal(record_batch_parse(b, SIZE_B, &rb), KERR_CORRUPT_MESSAGE);
	assert_int_equal(records_validate(b, SIZE_B, &o, &info), KERR_CORRUPT_MESSAGE);
	free(b);
	free(log);
}

/* ---- indexes ---------------------------------------------------------------------------- */

static void test_index_entries_match_golden(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *ipath = xasprintf("%s/00000000000000000000.index", dir);
	char *tpath = xasprintf("%s/00000000000000000000.timeindex", dir);
	struct offset_index oi;
	struct time_index ti;
	bool created;
	struct stat st;

	/* New indexes are preallocated, rounded down to whole entries. */
	assert_int_equal(offset_index_open(&oi, ipath, 0, 100, &created), KERR_NONE);
	assert_true(created);
	assert_int_equal(stat(ipath, &st), 0);
	assert_int_equal(st.st_size, 96);
	assert_int_equal(oi.f.entries, 0);
	assert_int_equal(offset_index_append(&oi, 2, POS_B), KERR_NONE);
	/* Entries strictly increase. */
	assert_int_equal(offset_index_append(&oi, 2, 300), KERR_UNKNOWN_SERVER_ERROR);
	assert_int_equal(offset_index_append(&oi, 1, 300), KERR_UNKNOWN_SERVER_ERROR);
	offset_index_close(&oi);
	assert_file_equals(ipath, GOLDEN_SEGMENT ".index");

	assert_int_equal(time_index_open(&ti, tpath, 0, 100, &created), KERR_NONE);
	assert_true(created);
	assert_int_equal(stat(tpath, &st), 0);
	assert_int_equal(st.st_size, 96);
	assert_int_equal(time_index_maybe_append(&ti, T + 10, 2, false), KERR_NONE);
	/* Not larger than the last timestamp: nothing written. */
	assert_int_equal(time_index_maybe_append(&ti, T + 10, 3, false), KERR_NONE);
	assert_int_equal(ti.f.entries, 1);
	assert_int_equal(time_index_maybe_append(&ti, T + 9, 4, false), KERR_UNKNOWN_SERVER_ERROR);
	assert_int_equal(time_index_maybe_append(&ti, T + 30, 5, false), KERR_NONE);
	time_index_close(&ti);
	assert_file_equals(tpath, GOLDEN_SEGMENT ".timeindex");

	/* Reopened: the entry count comes from the file length. */
	assert_int_equal(offset_index_open(&oi, ipath, 0, 100, &created), KERR_NONE);
	assert_false(created);
	assert_int_equal(oi.f.entries, 1);
	assert_int_equal(oi.last_offset, 2);
	int64_t off;
	uint32_t pos;
	offset_index_lookup(&oi, 0, &off, &pos);
	assert_int_equal(off, 0);
	assert_int_equal(pos, 0);
	offset_index_lookup(&oi, 2, &off, &pos);
	assert_int_equal(off, 2);
	assert_int_equal(pos, POS_B);
	offset_index_lookup(&oi, 5, &off, &pos);
	assert_int_equal(off, 2);
	assert_int_equal(pos, POS_B);
	assert_int_equal(offset_index_sanity_check(&oi, LOG_SIZE), KERR_NONE);
	assert_int_equal(offset_index_sanity_check(&oi, POS_B - 1), KERR_CORRUPT_MESSAGE);
	offset_index_close(&oi);

	assert_int_equal(time_index_open(&ti, tpath, 0, 100, &created), KERR_NONE);
	assert_int_equal(ti.f.entries, 2);
	int64_t ts;
	time_index_lookup(&ti, T, &ts, &off);
	assert_int_equal(ts, -1);
	assert_int_equal(off, 0);
	time_index_lookup(&ti, T + 10, &ts, &off);
	assert_int_equal(ts, T + 10);
	assert_int_equal(off, 2);
	time_index_lookup(&ti, T + 29, &ts, &off);
	assert_int_equal(ts, T + 10);
	time_index_lookup(&ti, T + 1000, &ts, &off);
	assert_int_equal(ts, T + 30);
	assert_int_equal(off, 5);
	time_index_last_entry(&ti, &ts, &off);
	assert_int_equal(ts, T + 30);
	assert_int_equal(off, 5);
	assert_int_equal(time_index_sanity_check(&ti), KERR_NONE);
	time_index_close(&ti);
	unlink(ipath);
	unlink(tpath);

	/* Offsets are stored relative to the segment's base offset. */
	assert_int_equal(offset_index_open(&oi, ipath, 1000, 64, NULL), KERR_NONE);
	assert_int_equal(offset_index_append(&oi, 1000 + 2, POS_B), KERR_NONE);
	assert_false(offset_index_can_append_offset(&oi, 999));
	assert_true(offset_index_can_append_offset(&oi, 1000 + (int64_t)INT32_MAX));
	assert_false(offset_index_can_append_offset(&oi, 1000 + (int64_t)INT32_MAX + 1));
	offset_index_close(&oi);
	assert_file_equals(ipath, GOLDEN_SEGMENT ".index");
	assert_int_equal(time_index_open(&ti, tpath, 1000, 64, NULL), KERR_NONE);
	assert_int_equal(time_index_maybe_append(&ti, T + 10, 1002, false), KERR_NONE);
	assert_int_equal(time_index_maybe_append(&ti, T + 30, 1005, false), KERR_NONE);
	time_index_close(&ti);
	assert_file_equals(tpath, GOLDEN_SEGMENT ".timeindex");
	/* A trimmed index is full: closing its segment again re-offers the last entry,
	 * which is no change (Kafka's close does the same); a newer one has no room. */
	assert_int_equal(time_index_open(&ti, tpath, 1000, 64, NULL), KERR_NONE);
	assert_int_equal(time_index_trim(&ti), KERR_NONE);
	assert_true(time_index_full(&ti));
	assert_int_equal(time_index_maybe_append(&ti, T + 30, 1005, true), KERR_NONE);
	assert_int_equal(ti.f.entries, 2);
	assert_int_not_equal(time_index_maybe_append(&ti, T + 40, 1006, true), KERR_NONE);
	time_index_close(&ti);
	assert_file_equals(tpath, GOLDEN_SEGMENT ".timeindex");

	free(ipath);
	free(tpath);
	remove_tmpdir(dir);
}

static void test_segment_file_names(void **state)
{
	(void)state;
	char *p = segment_file_path("/d", 368769, SEGMENT_LOG_SUFFIX);
	assert_string_equal(p, "/d/00000000000000368769.log");
	free(p);
	p = segment_file_path("/d", 0, SEGMENT_TIMEINDEX_SUFFIX);
	assert_string_equal(p, "/d/00000000000000000000.timeindex");
	free(p);
	p = segment_file_path("/d", INT64_MAX, SEGMENT_INDEX_SUFFIX);
	assert_string_equal(p, "/d/09223372036854775807.index");
	free(p);

	int64_t base;
	const char *sfx;
	assert_true(segment_parse_file_name("00000000000000368769.log", &base, &sfx));
	assert_int_equal(base, 368769);
	assert_string_equal(sfx, ".log");
	assert_true(segment_parse_file_name("00000000000000000007.index.deleted", &base, &sfx));
	assert_int_equal(base, 7);
	assert_string_equal(sfx, ".index.deleted");
	assert_false(segment_parse_file_name("368769.log", &base, &sfx));
	assert_false(segment_parse_file_name("0000000000000036876x.log", &base, &sfx));
	assert_false(segment_parse_file_name("leader-epoch-checkpoint", &base, &sfx));
}

/* ---- text files ------------------------------------------------------------------------- */

static void test_offset_checkpoints(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	static const char *const names[] = { CHECKPOINT_RECOVERY_POINT, CHECKPOINT_REPLICATION,
		CHECKPOINT_LOG_START_OFFSET };
	static const struct {
		size_t n;
		int64_t o0, o1;
	} want[] = { { 2, 6, 0 }, { 2, 5, 0 }, { 1, 42, 0 } };

	for (size_t k = 0; k < 3; k++) {
		char *golden = xasprintf("%s/%s", GOLDEN_DIR, names[k]);
		char *mine = xasprintf("%s/%s", dir, names[k]);
		struct checkpoint_entry *e;
		size_t n;

		assert_int_equal(checkpoint_read(golden, &e, &n), KERR_NONE);
		assert_int_equal(n, want[k].n);
		if (k < 2) {
			assert_string_equal(e[0].topic, "orders");
			assert_int_equal(e[0].partition, 0);
			assert_int_equal(e[0].offset, want[k].o0);
			assert_string_equal(e[1].topic, "my-topic.v2");
			assert_int_equal(e[1].partition, 1);
			assert_int_equal(e[1].offset, want[k].o1);
			assert_int_equal(checkpoint_lookup(e, n, "my-topic.v2", 1, -7), 0);
			assert_int_equal(checkpoint_lookup(e, n, "orders", 1, -7), -7);
		} else {
			assert_string_equal(e[0].topic, "orders");
			assert_int_equal(e[0].partition, 1);
			assert_int_equal(e[0].offset, 42);
		}
		/* Written back in the same order: the same bytes. */
		assert_int_equal(checkpoint_write(mine, e, n), KERR_NONE);
		assert_file_equals(mine, golden);
		char *tmp = xasprintf("%s.tmp", mine);
		assert_int_not_equal(access(tmp, F_OK), 0);
		free(tmp);
		checkpoint_entries_free(e, n);
		free(golden);
		free(mine);
	}

	/* Damaged files are refused; a missing one is empty. */
	static const char *const bad[] = {
		"1\n0\n",                       /* unknown version */
		"0\n2\norders 0 6\n",          /* fewer entries than its count */
		"0\n1\norders 0 6\nx 1 2\n",   /* more */
		"0\n1\norders zero 6\n",       /* not a number */
		"0\n1\norders 0\n",            /* missing field */
		"0\n1\norders 0 6 7\n",        /* extra field */
		"0\n-1\n",                      /* negative count */
		"x\n",
	};
	char *path = xasprintf("%s/cp", dir);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct checkpoint_entry *e;
		size_t n;
		write_bytes(path, bad[i], strlen(bad[i]));
		assert_int_equal(checkpoint_read(path, &e, &n), KERR_CORRUPT_MESSAGE);
		assert_null(e);
		assert_int_equal(n, 0);
	}
	/* Readers split on any whitespace (Kafka's "\s+"). */
	static const char spaced[] = "0\n1\norders\t0   6\n";
	write_bytes(path, spaced, sizeof spaced - 1);
	struct checkpoint_entry *e;
	size_t n;
	assert_int_equal(checkpoint_read(path, &e, &n), KERR_NONE);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].offset, 6);
	checkpoint_entries_free(e, n);
	unlink(path);
	assert_int_equal(checkpoint_read(path, &e, &n), KERR_NONE);
	assert_int_equal(n, 0);
	free(e);
	free(path);
	remove_tmpdir(dir);
}

static void test_leader_epoch_checkpoint(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *mine = xasprintf("%s/%s", dir, CHECKPOINT_LEADER_EPOCH);
	const char *golden = GOLDEN_PART "/" CHECKPOINT_LEADER_EPOCH;
	struct epoch_entry *e;
	size_t n;

	assert_int_equal(checkpoint_read_epochs(golden, &e, &n), KERR_NONE);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].epoch, 0);
	assert_int_equal(e[0].start_offset, 0);
	assert_int_equal(e[1].epoch, 2);
	assert_int_equal(e[1].start_offset, 3);
	assert_int_equal(checkpoint_write_epochs(mine, e, n), KERR_NONE);
	assert_file_equals(mine, golden);
	free(e);
	unlink(mine);

	/* The cache writes the file as epochs start. */
	struct leader_epoch_cache c;
	assert_int_equal(leader_epoch_open(&c, dir), KERR_NONE);
	assert_int_equal(leader_epoch_latest(&c), LEADER_EPOCH_UNDEFINED);
	assert_int_equal(leader_epoch_assign(&c, 0, 0), KERR_NONE);
	assert_int_equal(leader_epoch_assign(&c, 0, 2), KERR_NONE); /* same epoch: no change */
	assert_int_equal(leader_epoch_assign(&c, 2, 3), KERR_NONE);
	assert_int_equal(leader_epoch_assign(&c, -1, 3), KERR_INVALID_REQUEST);
	leader_epoch_close(&c);
	assert_file_equals(mine, golden);

	/* Read back from the golden file. */
	assert_int_equal(leader_epoch_open(&c, GOLDEN_PART), KERR_NONE);
	assert_int_equal(leader_epoch_latest(&c), 2);
	assert_int_equal(leader_epoch_for_offset(&c, 2), 0);
	assert_int_equal(leader_epoch_for_offset(&c, 3), 2);
	assert_int_equal(leader_epoch_start_offset(&c, 2), 3);
	assert_int_equal(leader_epoch_start_offset(&c, 1), -1);
	int32_t ep;
	int64_t end;
	leader_epoch_end_offset_for(&c, 0, 6, &ep, &end);
	assert_int_equal(ep, 0);
	assert_int_equal(end, 3);
	leader_epoch_end_offset_for(&c, 1, 6, &ep, &end);
	assert_int_equal(ep, 0);
	assert_int_equal(end, 3);
	leader_epoch_end_offset_for(&c, 2, 6, &ep, &end);
	assert_int_equal(ep, 2);
	assert_int_equal(end, 6);
	leader_epoch_end_offset_for(&c, 3, 6, &ep, &end);
	assert_int_equal(ep, LEADER_EPOCH_UNDEFINED);
	assert_int_equal(end, LEADER_EPOCH_UNDEFINED_OFFSET);
	leader_epoch_close(&c);

	/* Log start moves (DeleteRecords): Kafka's truncateFromStart drops the
	 * entries starting at or before it and moves the last one up to it. */
	assert_int_equal(leader_epoch_open(&c, NULL), KERR_NONE);
	assert_int_equal(leader_epoch_assign(&c, 0, 0), KERR_NONE);
	assert_int_equal(leader_epoch_assign(&c, 2, 3), KERR_NONE);
	assert_int_equal(leader_epoch_assign(&c, 5, 9), KERR_NONE);
	assert_int_equal(leader_epoch_truncate_from_start(&c, 0), KERR_NONE);
	assert_int_equal(c.n, 3);
	assert_int_equal(leader_epoch_truncate_from_start(&c, 1), KERR_NONE);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.e[0].epoch, 0);
	assert_int_equal(c.e[0].start_offset, 1);
	assert_int_equal(leader_epoch_truncate_from_start(&c, 3), KERR_NONE);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.e[0].epoch, 2);
	assert_int_equal(c.e[0].start_offset, 3);
	assert_int_equal(leader_epoch_for_offset(&c, 3), 2);
	assert_int_equal(leader_epoch_truncate_from_start(&c, 20), KERR_NONE);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.e[0].epoch, 5);
	assert_int_equal(c.e[0].start_offset, 20);
	/* Truncation from the end drops entries starting at or after it. */
	assert_int_equal(leader_epoch_assign(&c, 6, 25), KERR_NONE);
	assert_int_equal(leader_epoch_truncate_from_end(&c, 25), KERR_NONE);
	assert_int_equal(c.n, 1);
	assert_int_equal(leader_epoch_latest(&c), 5);
	leader_epoch_close(&c);

	free(mine);
	remove_tmpdir(dir);
}

static void test_meta_properties(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *mine = xasprintf("%s/%s", dir, META_PROPERTIES_FILE);
	struct meta_properties m;
	bool exists;

	assert_int_equal(meta_properties_read(GOLDEN_DIR, &m, &exists), KERR_NONE);
	assert_true(exists);
	assert_int_equal(m.version, 0);
	assert_true(m.has_broker_id);
	assert_int_equal(m.broker_id, 1);
	assert_string_equal(m.cluster_id, "Wz2bqF9gT7-Q2y0cT3JbDw");
	assert_string_equal(m.directory_id, "");

	/* The date line is local time: pin it to UTC. */
	char *old_tz = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(meta_properties_write(dir, &m, (time_t)(T / 1000)), KERR_NONE);
	if (old_tz) {
		setenv("TZ", old_tz, 1);
		free(old_tz);
	} else {
		unsetenv("TZ");
	}
	tzset();
	assert_file_equals(mine, GOLDEN_DIR "/" META_PROPERTIES_FILE);

	char *nowhere = xasprintf("%s/missing", dir);
	assert_int_equal(meta_properties_read(nowhere, &m, &exists), KERR_NONE);
	assert_false(exists);
	free(nowhere);
	static const char noversion[] = "#\nbroker.id=1\n";
	write_bytes(mine, noversion, sizeof noversion - 1);
	assert_int_equal(meta_properties_read(dir, &m, &exists), KERR_CORRUPT_MESSAGE);
	static const char badnum[] = "version=0\nbroker.id=one\n";
	write_bytes(mine, badnum, sizeof badnum - 1);
	assert_int_equal(meta_properties_read(dir, &m, &exists), KERR_CORRUPT_MESSAGE);

	/* partition.metadata: two lines, no trailing newline. */
	char id[32];
	assert_int_equal(partition_metadata_read(GOLDEN_PART, id, &exists), KERR_NONE);
	assert_true(exists);
	assert_string_equal(id, "EBESExQVFhcYGRobHB0eHw");
	assert_int_equal(partition_metadata_write(dir, id), KERR_NONE);
	char *pm = xasprintf("%s/%s", dir, PARTITION_METADATA_FILE);
	assert_file_equals(pm, GOLDEN_PART "/" PARTITION_METADATA_FILE);
	free(pm);

	/* The clean-shutdown marker. */
	assert_false(recovery_clean_shutdown_exists(dir));
	assert_int_equal(recovery_write_clean_shutdown(dir), KERR_NONE);
	assert_true(recovery_clean_shutdown_exists(dir));
	char *cs = xasprintf("%s/%s", dir, RECOVERY_CLEAN_SHUTDOWN_FILE);
	assert_file_equals(cs, GOLDEN_DIR "/" RECOVERY_CLEAN_SHUTDOWN_FILE);
	free(cs);
	assert_int_equal(recovery_remove_clean_shutdown(dir), KERR_NONE);
	assert_false(recovery_clean_shutdown_exists(dir));
	assert_true(recovery_clean_shutdown_exists(GOLDEN_DIR));

	free(mine);
	remove_tmpdir(dir);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_crc32c_incremental_and_impls_agree),
		cmocka_unit_test(test_golden_batch_headers),
		cmocka_unit_test(test_golden_records),
		cmocka_unit_test(test_validate_golden),
		cmocka_unit_test(test_builder_matches_golden),
		cmocka_unit_test(test_patch_fields),
		cmocka_unit_test(test_wrong_crc),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_magic),
		cmocka_unit_test(test_index_entries_match_golden),
		cmocka_unit_test(test_segment_file_names),
		cmocka_unit_test(test_offset_checkpoints),
		cmocka_unit_test(test_leader_epoch_checkpoint),
		cmocka_unit_test(test_meta_properties),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
