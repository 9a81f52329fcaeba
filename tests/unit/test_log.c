/*
 * Unit tests for the partition log on disk, in a temp dir: appends read back
 * byte for byte, the files a log leaves behind compared with the golden
 * segment of tests/golden/log (built by hand from DISK-FORMAT.md), segment
 * rolls and their 20-digit names, sparse .index/.timeindex entries by the
 * index.interval.bytes rule, offsets by timestamp, truncation, DeleteRecords
 * and retention by log start offset, and crash recovery of a damaged tail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/checkpoint.h"
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
#define GOLDEN_PART SRCDIR "/tests/golden/log/logdir/orders-0"
#define GOLDEN_SEGMENT GOLDEN_PART "/00000000000000000000"
#define SEG0 "00000000000000000000"

/* What make_golden.py put in the segment (see its docstring). */
#define T 1700000000000LL
#define POS_A 0
#define SIZE_A 98
#define POS_B 98
#define SIZE_B 70
#define POS_C 168
#define SIZE_C 91
#define LOG_SIZE (SIZE_A + SIZE_B + SIZE_C)
#define GOLDEN_INDEX_INTERVAL 80

#define NOW (T + 100000)

/* ---- helpers ------------------------------------------------------------------ */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	struct stat st;
	assert_int_equal(fstat(fileno(f), &st), 0);
	*len = (size_t)st.st_size;
	uint8_t *p = malloc(*len ? *len : 1);
	assert_int_equal(fread(p, 1, *len, f), *len);
	fclose(f);
	return p;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void assert_file_is(const char *path, const void *want, size_t n)
{
	size_t len;
	uint8_t *p = slurp(path, &len);
	if (len != n)
		fail_msg("%s: %zu bytes, want %zu", path, len, n);
	if (n)
		assert_memory_equal(p, want, n);
	free(p);
}

static void assert_file_equals(const char *path, const char *golden)
{
	size_t n;
	uint8_t *want = slurp(golden, &n);
	assert_file_is(path, want, n);
	free(want);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted, space separated (caller frees). */
static char *list_dir(const char *dir)
{
	char *names[256];
	size_t n = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* Producer snapshots come with every roll; tests/integration/test_idempotence.py checks them. */
		size_t len = strlen(de->d_name);
		if (len > 9 && strcmp(de->d_name + len - 9, ".snapshot") == 0)
			continue;
		assert_true(n < 256);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	struct wbuf w;
	wbuf_init(&w);
	for (size_t i = 0; i < n; i++) {
		if (i)
			wbuf_put(&w, " ", 1);
		wbuf_put(&w, names[i], strlen(names[i]));
		free(names[i]);
	}
	wbuf_put(&w, "", 1);
	return (char *)w.data;
}

static void assert_dir_is(const char *dir, const char *want)
{
	char *got = list_dir(dir);
	assert_string_equal(got, want);
	free(got);
}

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

/* A temp dir with an (empty) partition dir orders-0 in it. */
struct fixture {
	char *root;
	char *dir; /* <root>/orders-0 */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	f->root = xstrdup("/tmp/samsa-logtest-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	f->dir = xasprintf("%s/orders-0", f->root);
	if (mkdir(f->dir, 0755) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	remove_tree(f->root);
	free(f->root);
	free(f->dir);
	free(f);
	return 0;
}

static char *part_file(const struct fixture *f, const char *name)
{
	return xasprintf("%s/%s", f->dir, name);
}

static void golden_config(struct log_config *c)
{
	log_config_init(c);
	c->index_interval_bytes = GOLDEN_INDEX_INTERVAL;
	c->index_max_bytes = 1200;
	c->retention_ms = -1;
	c->file_delete_delay_ms = 0;
}

static struct log *open_log(const struct fixture *f, const struct log_config *c, bool clean,
    int64_t recovery_point, int64_t log_start)
{
	struct log_open_args a = {
		.dir = f->dir,
		.config = c,
		.clean_shutdown = clean,
		.recovery_point = recovery_point,
		.log_start_offset = log_start,
		.now_ms = NOW,
	};
	struct log *l;
	assert_int_equal(log_open(&a, &l), KERR_NONE);
	return l;
}

static uint8_t *golden_log(void)
{
	size_t len;
	uint8_t *p = slurp(GOLDEN_SEGMENT ".log", &len);
	assert_int_equal(len, LOG_SIZE);
	return p;
}

static const struct {
	uint32_t pos, size;
	int64_t base, last;
} golden_batches[] = {
	{ POS_A, SIZE_A, 0, 1 },
	{ POS_B, SIZE_B, 2, 2 },
	{ POS_C, SIZE_C, 3, 5 },
};

/* Append the golden batches one per append, as a follower (offsets, epochs
 * and CRCs kept as they are). */
static void append_golden_as_follower(struct log *l, const uint8_t *log, size_t from_batch)
{
	for (size_t i = from_batch; i < 3; i++) {
		uint8_t *b = malloc(golden_batches[i].size);
		memcpy(b, log + golden_batches[i].pos, golden_batches[i].size);
		struct log_append_info info;
		assert_int_equal(log_append_as_follower(l, b, golden_batches[i].size, NOW, &info),
		    KERR_NONE);
		assert_int_equal(info.first_offset, golden_batches[i].base);
		assert_int_equal(info.last_offset, golden_batches[i].last);
		assert_int_equal(info.batch_count, 1);
		free(b);
	}
}

/* Read [offset..) through log_read and compare with want. */
static void assert_read(struct log *l, int64_t offset, size_t max_bytes, int64_t max_offset,
    bool min_one, const uint8_t *want, size_t want_len, int64_t want_first)
{
	struct log_read_result r;
	assert_int_equal(log_read(l, offset, max_bytes, max_offset, min_one, &r), KERR_NONE);
	assert_int_equal(r.length, want_len);
	if (want_len > 0) {
		assert_int_equal(r.first_batch_offset, want_first);
		uint8_t *buf = malloc(want_len);
		assert_int_equal(pread(r.fd, buf, want_len, r.position), (ssize_t)want_len);
		assert_memory_equal(buf, want, want_len);
		free(buf);
	} else {
		assert_null(r.segment);
	}
	log_read_release(&r);
}

static void assert_golden_files(const struct fixture *f)
{
	char *p = part_file(f, SEG0 ".log");
	assert_file_equals(p, GOLDEN_SEGMENT ".log");
	free(p);
	p = part_file(f, SEG0 ".index");
	assert_file_equals(p, GOLDEN_SEGMENT ".index");
	free(p);
	p = part_file(f, SEG0 ".timeindex");
	assert_file_equals(p, GOLDEN_SEGMENT ".timeindex");
	free(p);
	p = part_file(f, "leader-epoch-checkpoint");
	assert_file_equals(p, GOLDEN_PART "/leader-epoch-checkpoint");
	free(p);
}

/* ---- the golden segment ------------------------------------------------------------------- */

static void test_follower_append_writes_golden_files(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();

	golden_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	assert_int_equal(log_end_offset(l), 0);
	append_golden_as_follower(l, g, 0);
	assert_int_equal(log_end_offset(l), 6);
	assert_int_equal(log_size_bytes(l), LOG_SIZE);
	assert_int_equal(log_latest_epoch(l), 2);

	/* Reads start at the batch holding the offset and are byte-exact. */
	assert_read(l, 0, 1 << 20, LOG_READ_MAX_LEO, true, g, LOG_SIZE, 0);
	assert_read(l, 1, 1 << 20, LOG_READ_MAX_LEO, true, g, LOG_SIZE, 0);
	assert_read(l, 2, 1 << 20, LOG_READ_MAX_LEO, true, g + POS_B, LOG_SIZE - POS_B, 2);
	assert_read(l, 4, 1 << 20, LOG_READ_MAX_LEO, true, g + POS_C, SIZE_C, 3);
	assert_read(l, 6, 1 << 20, LOG_READ_MAX_LEO, true, NULL, 0, -1);
	/* min_one: a whole first batch even past max_bytes; without it, as
	 * many bytes as asked (the consumer drops the partial batch). */
	assert_read(l, 0, 10, LOG_READ_MAX_LEO, true, g, SIZE_A, 0);
	assert_read(l, 0, SIZE_A + 5, LOG_READ_MAX_LEO, false, g, SIZE_A + 5, 0);
	struct log_read_result r;
	assert_int_equal(log_read(l, 0, 10, LOG_READ_MAX_LEO, false, &r), KERR_NONE);
	assert_true(r.first_entry_incomplete);
	log_read_release(&r);
	/* Consumers stop at the high watermark (a batch boundary here). */
	assert_int_equal(log_high_watermark(l), 0);
	assert_read(l, 0, 1 << 20, LOG_READ_MAX_HW, true, NULL, 0, -1);
	log_set_high_watermark(l, 3);
	assert_read(l, 0, 1 << 20, LOG_READ_MAX_HW, true, g, POS_C, 0);
	assert_read(l, 0, 1 << 20, 2, true, g, POS_B, 0);
	/* Outside [log start, LEO]. */
	assert_int_equal(log_read(l, 7, 100, LOG_READ_MAX_LEO, true, &r), KERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(log_read(l, -1, 100, LOG_READ_MAX_LEO, true, &r), KERR_OFFSET_OUT_OF_RANGE);

	/* A follower must not go backwards. */
	uint8_t *b = malloc(SIZE_B);
	memcpy(b, g + POS_B, SIZE_B);
	struct log_append_info info;
	assert_int_equal(log_append_as_follower(l, b, SIZE_B, NOW, &info), KERR_OFFSET_OUT_OF_RANGE);
	free(b);
	assert_int_equal(log_end_offset(l), 6);

	log_close(l);
	assert_golden_files(f);
	assert_dir_is(f->dir, SEG0 ".index " SEG0 ".log " SEG0 ".timeindex leader-epoch-checkpoint");

	/* Reopened after a clean shutdown: the same log. */
	l = open_log(f, &c, true, 0, 0);
	assert_int_equal(log_end_offset(l), 6);
	assert_int_equal(log_latest_epoch(l), 2);
	assert_read(l, 3, 1 << 20, LOG_READ_MAX_LEO, true, g + POS_C, SIZE_C, 3);
	log_close(l);
	assert_golden_files(f);
	free(g);
}

static void test_leader_append_assigns_offsets_and_epochs(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();
	static const int32_t epochs[] = { 0, 0, 2 };

	golden_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	for (size_t i = 0; i < 3; i++) {
		uint8_t *b = malloc(golden_batches[i].size);
		memcpy(b, g + golden_batches[i].pos, golden_batches[i].size);
		/* As a producer sends it: offset 0, no epoch. */
		record_batch_set_base_offset(b, 0);
		record_batch_set_partition_leader_epoch(b, -1);
		struct log_append_info info;
		assert_int_equal(log_append_as_leader(l, b, golden_batches[i].size, epochs[i], NOW,
		    &info), KERR_NONE);
		assert_int_equal(info.first_offset, golden_batches[i].base);
		assert_int_equal(info.last_offset, golden_batches[i].last);
		assert_int_equal(info.log_append_time, -1);
		assert_false(info.rolled);
		/* Patched in the caller's buffer too. */
		assert_memory_equal(b, g + golden_batches[i].pos, golden_batches[i].size);
		free(b);
	}
	assert_int_equal(log_end_offset(l), 6);
	log_close(l);
	assert_golden_files(f);
	free(g);
}

static void test_log_append_time(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();

	golden_config(&c);
	c.message_timestamp_type = LOG_TIMESTAMP_LOG_APPEND_TIME;
	struct log *l = open_log(f, &c, true, 0, 0);
	uint8_t *b = malloc(SIZE_C);
	memcpy(b, g + POS_C, SIZE_C);
	struct log_append_info info;
	assert_int_equal(log_append_as_leader(l, b, SIZE_C, 4, NOW, &info), KERR_NONE);
	assert_int_equal(info.log_append_time, NOW);
	assert_int_equal(info.max_timestamp, NOW);
	assert_int_equal(info.first_offset, 0);
	log_close(l);

	char *p = part_file(f, SEG0 ".log");
	size_t len;
	uint8_t *on_disk = slurp(p, &len);
	free(p);
	assert_int_equal(len, SIZE_C);
	struct record_batch rb;
	assert_int_equal(record_batch_parse(on_disk, len, &rb), KERR_NONE);
	assert_true(record_batch_crc_ok(&rb));
	assert_true(record_batch_is_log_append_time(&rb));
	assert_int_equal(rb.max_timestamp, NOW);
	assert_int_equal(rb.base_timestamp, T + 30); /* the records' own deltas stay */
	assert_int_equal(rb.base_offset, 0);
	assert_int_equal(rb.partition_leader_epoch, 4);
	/* Everything else as the producer sent it. */
	assert_memory_equal(on_disk + 43, g + POS_C + 43, SIZE_C - 43);
	free(on_disk);
	free(b);
	free(g);
}

static void test_offset_for_timestamp(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();
	struct log_timestamp_offset o;
	static const struct {
		int64_t ts;
		int64_t want_ts, want_offset;
		int32_t want_epoch;
	} cases[] = {
		{ 0, T, 0, 0 },
		{ T, T, 0, 0 },
		{ T + 1, T + 5, 1, 0 },
		{ T + 5, T + 5, 1, 0 },
		{ T + 6, T + 10, 2, 0 },
		{ T + 10, T + 10, 2, 0 },
		/* C's first record (T+30) is the first, in offset order, at or
		 * after these, though C also holds T+20 and T+25. */
		{ T + 11, T + 30, 3, 2 },
		{ T + 21, T + 30, 3, 2 },
		{ T + 30, T + 30, 3, 2 },
		{ T + 31, -1, -1, -1 },
		{ LOG_TIMESTAMP_EARLIEST, -1, 0, 0 },
		{ LOG_TIMESTAMP_LATEST, -1, 6, 2 },
		{ LOG_TIMESTAMP_MAX, T + 30, 3, 2 },
	};

	golden_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	append_golden_as_follower(l, g, 0);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			assert_int_equal(log_offset_for_timestamp(l, cases[i].ts, &o), KERR_NONE);
			if (o.timestamp != cases[i].want_ts || o.offset != cases[i].want_offset ||
			    o.leader_epoch != cases[i].want_epoch)
				fail_msg("pass %d ts %" PRId64 ": got (%" PRId64 ", %" PRId64 ", %d), want (%"
				    PRId64 ", %" PRId64 ", %d)", pass, cases[i].ts, o.timestamp, o.offset,
				    o.leader_epoch, cases[i].want_ts, cases[i].want_offset,
				    cases[i].want_epoch);
		}
		/* Second pass: from the files, after a restart. */
		log_close(l);
		l = open_log(f, &c, true, 0, 0);
	}
	log_close(l);
	free(g);
}

static void test_truncate_to(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();
	bool truncated;

	golden_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	append_golden_as_follower(l, g, 0);
	log_set_high_watermark(l, 6);

	assert_int_equal(log_truncate_to(l, 6, NOW, &truncated), KERR_NONE);
	assert_false(truncated);
	assert_int_equal(log_truncate_to(l, 3, NOW, &truncated), KERR_NONE);
	assert_true(truncated);
	assert_int_equal(log_end_offset(l), 3);
	assert_int_equal(log_high_watermark(l), 3);
	assert_int_equal(log_size_bytes(l), POS_C);
	assert_int_equal(log_latest_epoch(l), 0);
	assert_read(l, 0, 1 << 20, LOG_READ_MAX_LEO, true, g, POS_C, 0);
	struct log_timestamp_offset o;
	assert_int_equal(log_offset_for_timestamp(l, LOG_TIMESTAMP_MAX, &o), KERR_NONE);
	assert_int_equal(o.timestamp, T + 10);
	assert_int_equal(o.offset, 2);
	assert_int_equal(log_offset_for_timestamp(l, T + 11, &o), KERR_NONE);
	assert_int_equal(o.offset, -1);
	log_close(l);

	/* The files: A and B, the index entry for B, B's time entry only. */
	char *p = part_file(f, SEG0 ".log");
	assert_file_is(p, g, POS_C);
	free(p);
	p = part_file(f, SEG0 ".index");
	assert_file_equals(p, GOLDEN_SEGMENT ".index");
	free(p);
	size_t tlen;
	uint8_t *tidx = slurp(GOLDEN_SEGMENT ".timeindex", &tlen);
	p = part_file(f, SEG0 ".timeindex");
	assert_file_is(p, tidx, 12);
	free(p);
	free(tidx);
	p = part_file(f, "leader-epoch-checkpoint");
	assert_file_is(p, "0\n1\n0 0\n", 8);
	free(p);

	/* C again, as the leader sent it: back to the golden files. */
	l = open_log(f, &c, true, 0, 0);
	assert_int_equal(log_end_offset(l), 3);
	append_golden_as_follower(l, g, 2);
	log_close(l);
	assert_golden_files(f);

	/* Below every offset: the log restarts empty there. */
	l = open_log(f, &c, true, 0, 0);
	assert_int_equal(log_truncate_to(l, 0, NOW, &truncated), KERR_NONE);
	assert_true(truncated);
	assert_int_equal(log_end_offset(l), 0);
	assert_int_equal(log_size_bytes(l), 0);
	assert_int_equal(log_latest_epoch(l), -1);
	log_close(l);
	free(g);
}

static void test_delete_records(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();
	int64_t lw;
	struct log_read_result r;
	struct log_timestamp_offset o;

	golden_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	append_golden_as_follower(l, g, 0);

	/* Not past the high watermark. */
	assert_int_equal(log_delete_records(l, 3, &lw), KERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(lw, 0);
	log_set_high_watermark(l, 6);
	assert_int_equal(log_delete_records(l, 3, &lw), KERR_NONE);
	assert_int_equal(lw, 3);
	assert_int_equal(log_start_offset(l), 3);
	assert_int_equal(log_delete_records(l, 1, &lw), KERR_NONE); /* never backwards */
	assert_int_equal(lw, 3);
	assert_int_equal(log_delete_records(l, 7, &lw), KERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(log_start_offset(l), 3);

	assert_int_equal(log_read(l, 2, 100, LOG_READ_MAX_LEO, true, &r), KERR_OFFSET_OUT_OF_RANGE);
	assert_read(l, 3, 1 << 20, LOG_READ_MAX_LEO, true, g + POS_C, SIZE_C, 3);
	assert_int_equal(log_offset_for_timestamp(l, LOG_TIMESTAMP_EARLIEST, &o), KERR_NONE);
	assert_int_equal(o.offset, 3);
	assert_int_equal(o.leader_epoch, 2);
	assert_int_equal(log_offset_for_timestamp(l, T, &o), KERR_NONE);
	assert_int_equal(o.offset, 3);
	assert_int_equal(o.timestamp, T + 30);

	/* The one segment is active and holds the start: it stays. */
	int deleted;
	assert_int_equal(log_enforce_retention(l, NOW, &deleted), KERR_NONE);
	assert_int_equal(deleted, 0);
	log_close(l);
	char *p = part_file(f, "leader-epoch-checkpoint");
	assert_file_is(p, "0\n1\n2 3\n", 8);
	free(p);

	/* Reopened with the start from log-start-offset-checkpoint. */
	l = open_log(f, &c, true, 0, 3);
	assert_int_equal(log_start_offset(l), 3);
	assert_int_equal(log_end_offset(l), 6);
	log_close(l);
	free(g);
}

/* ---- many batches: rolls, sparse indexes, truncation and retention across segments ---------- */

#define NBATCH 40
#define SEG_BYTES 1000
#define INTERVAL 200
#define MAX_OFFSETS (NBATCH * 3)

struct exp_batch {
	uint8_t *data; /* as written (offsets and epoch patched by the log) */
	uint32_t size;
	int64_t base, last, max_ts;
	size_t seg;
	uint32_t pos;
};

struct exp_seg {
	int64_t base;
	struct wbuf log, idx, tidx;
	uint32_t size, since;
	int64_t max_ts, max_ts_off, last_tidx_ts;
};

struct layout {
	struct exp_batch b[NBATCH];
	size_t nb;
	struct exp_seg s[NBATCH];
	size_t ns;
	int64_t rec_ts[MAX_OFFSETS];
	int64_t leo;
};

/* Kafka's onBecomeInactiveSegment / close: the max timestamp, if new. */
static void seg_finish(struct exp_seg *s)
{
	if (s->max_ts >= 0 && s->max_ts > s->last_tidx_ts) {
		wbuf_i64(&s->tidx, s->max_ts);
		wbuf_u32(&s->tidx, (uint32_t)(s->max_ts_off - s->base));
		s->last_tidx_ts = s->max_ts;
	}
}

static struct exp_seg *seg_new(struct layout *L, int64_t base)
{
	struct exp_seg *s = &L->s[L->ns++];
	memset(s, 0, sizeof *s);
	s->base = base;
	s->max_ts = -1;
	s->last_tidx_ts = -1;
	wbuf_init(&s->log);
	wbuf_init(&s->idx);
	wbuf_init(&s->tidx);
	return s;
}

/*
 * DISK-FORMAT.md sections 1, 4, 5 for one append of one batch: roll when the
 * segment would pass segment.bytes; an index entry (last offset, start
 * position) and a time entry (max timestamp so far, its batch's last offset)
 * once more than index.interval.bytes went in since the last entry.
 */
static void layout_append(struct layout *L, struct exp_batch *b)
{
	struct exp_seg *s = L->ns ? &L->s[L->ns - 1] : seg_new(L, 0);
	if ((int64_t)s->size > SEG_BYTES - (int64_t)b->size) {
		seg_finish(s);
		s = seg_new(L, b->base);
	}
	b->seg = (size_t)(s - L->s);
	b->pos = s->size;
	if (b->max_ts > s->max_ts) {
		s->max_ts = b->max_ts;
		s->max_ts_off = b->last;
	}
	if (s->since > INTERVAL) {
		wbuf_u32(&s->idx, (uint32_t)(b->last - s->base));
		wbuf_u32(&s->idx, (uint32_t)b->pos);
		if (s->max_ts > s->last_tidx_ts) {
			wbuf_i64(&s->tidx, s->max_ts);
			wbuf_u32(&s->tidx, (uint32_t)(s->max_ts_off - s->base));
			s->last_tidx_ts = s->max_ts;
		}
		s->since = 0;
	}
	s->since += b->size;
	s->size += b->size;
	wbuf_put(&s->log, b->data, b->size);
}

static void layout_free(struct layout *L)
{
	for (size_t i = 0; i < L->nb; i++)
		free(L->b[i].data);
	for (size_t i = 0; i < L->ns; i++) {
		wbuf_free(&L->s[i].log);
		wbuf_free(&L->s[i].idx);
		wbuf_free(&L->s[i].tidx);
	}
	free(L);
}

static void many_config(struct log_config *c)
{
	log_config_init(c);
	c->segment_bytes = SEG_BYTES;
	c->index_interval_bytes = INTERVAL;
	c->index_max_bytes = 4096;
	c->retention_ms = -1;
	c->file_delete_delay_ms = 0;
}

/* Append NBATCH batches of varying size and timestamps as the leader. */
static struct layout *append_many(struct log *l)
{
	struct layout *L = xcalloc(1, sizeof *L);
	uint8_t value[200];
	memset(value, 'v', sizeof value);

	for (int i = 0; i < NBATCH; i++) {
		struct wbuf w;
		struct batch_builder bb;
		int nrec = 1 + i % 3;
		int64_t ts0 = i % 5 == 2 ? T + i * 100 - 450 : T + i * 100; /* some go back in time */
		wbuf_init(&w);
		batch_builder_begin(&bb, &w, NULL);
		for (int k = 0; k < nrec; k++) {
			char key[16];
			snprintf(key, sizeof key, "key-%d-%d", i, k);
			struct kbytes kb = { (const uint8_t *)key, (int32_t)strlen(key) };
			struct kbytes vb = { value, 20 + (i * 37 + k * 11) % 150 };
			int64_t ts = ts0 + (k == 1 ? 7 : k);
			batch_builder_add(&bb, ts, kb, vb, NULL, 0);
			L->rec_ts[L->leo + k] = ts;
		}
		size_t size = batch_builder_finish(&bb);
		assert_int_equal(size, w.len);

		struct log_append_info info;
		assert_int_equal(log_append_as_leader(l, w.data, w.len, 1 + i / 10, NOW, &info),
		    KERR_NONE);
		struct exp_batch *b = &L->b[L->nb++];
		b->data = w.data; /* patched by the append */
		b->size = (uint32_t)size;
		b->base = L->leo;
		b->last = L->leo + nrec - 1;
		b->max_ts = ts0 + (nrec > 1 ? 7 : 0);
		assert_int_equal(info.first_offset, b->base);
		assert_int_equal(info.last_offset, b->last);
		assert_int_equal(info.max_timestamp, b->max_ts);
		size_t before = L->ns;
		layout_append(L, b);
		assert_int_equal(info.rolled, L->ns > before && before > 0);
		L->leo += nrec;
	}
	return L;
}

static void check_segment_files(const struct fixture *f, const struct layout *L, size_t nseg)
{
	struct wbuf names;
	wbuf_init(&names);
	for (size_t i = 0; i < nseg; i++) {
		const struct exp_seg *s = &L->s[i];
		char n[64];
		snprintf(n, sizeof n, "%020" PRId64, s->base);
		char *p = xasprintf("%s/%s.log", f->dir, n);
		assert_file_is(p, s->log.data, s->log.len);
		free(p);
		p = xasprintf("%s/%s.index", f->dir, n);
		assert_file_is(p, s->idx.data, s->idx.len);
		free(p);
		p = xasprintf("%s/%s.timeindex", f->dir, n);
		assert_file_is(p, s->tidx.data, s->tidx.len);
		free(p);
		char *entry = xasprintf("%s.index %s.log %s.timeindex ", n, n, n);
		wbuf_put(&names, entry, strlen(entry));
		free(entry);
	}
	wbuf_put(&names, "leader-epoch-checkpoint", strlen("leader-epoch-checkpoint") + 1);
	assert_dir_is(f->dir, (const char *)names.data);
	wbuf_free(&names);
}

/* The first record, in offset order, with timestamp >= ts (Kafka's rule). */
static int64_t first_at_or_after(const struct layout *L, int64_t ts, int64_t from)
{
	for (int64_t o = from; o < L->leo; o++)
		if (L->rec_ts[o] >= ts)
			return o;
	return -1;
}

static void test_roll_and_sparse_indexes(void **state)
{
	struct fixture *f = *state;
	struct log_config c;

	many_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	struct layout *L = append_many(l);
	for (size_t i = 0; i < L->ns; i++)
		seg_finish(&L->s[i]);
	assert_true(L->ns >= 5);
	assert_int_equal(log_segment_count(l), (int)L->ns);
	int64_t bases[NBATCH];
	assert_int_equal(log_segment_base_offsets(l, bases, NBATCH), (int)L->ns);
	for (size_t i = 0; i < L->ns; i++)
		assert_int_equal(bases[i], L->s[i].base);
	assert_int_equal(log_end_offset(l), L->leo);
	/* Some segment has more than one offset index entry, and some time
	 * entries were skipped because the timestamp went back. */
	bool multi = false;
	for (size_t i = 0; i < L->ns; i++)
		multi = multi || L->s[i].idx.len > 8;
	assert_true(multi);

	/* Every batch reads back from its segment at its position. */
	for (size_t i = 0; i < L->nb; i++) {
		const struct exp_batch *b = &L->b[i];
		for (int64_t o = b->base; o <= b->last; o++) {
			struct log_read_result r;
			assert_int_equal(log_read(l, o, 1, LOG_READ_MAX_LEO, true, &r), KERR_NONE);
			assert_int_equal(r.position, b->pos);
			assert_int_equal(r.length, b->size);
			assert_int_equal(r.first_batch_offset, b->base);
			uint8_t *buf = malloc(b->size);
			assert_int_equal(pread(r.fd, buf, b->size, r.position), (ssize_t)b->size);
			assert_memory_equal(buf, b->data, b->size);
			free(buf);
			log_read_release(&r);
		}
	}
	log_close(l);
	check_segment_files(f, L, L->ns);

	/* After a restart, timestamps are found through the indexes. */
	l = open_log(f, &c, true, 0, 0);
	assert_int_equal(log_end_offset(l), L->leo);
	for (int64_t ts = T - 500; ts <= T + NBATCH * 100 + 10; ts += 37) {
		struct log_timestamp_offset o;
		assert_int_equal(log_offset_for_timestamp(l, ts, &o), KERR_NONE);
		int64_t want = first_at_or_after(L, ts, 0);
		if (o.offset != want)
			fail_msg("ts %" PRId64 ": offset %" PRId64 ", want %" PRId64, ts, o.offset, want);
		if (want >= 0)
			assert_int_equal(o.timestamp, L->rec_ts[want]);
	}
	log_close(l);
	check_segment_files(f, L, L->ns);

	/* Lose every index: recovery rebuilds the same files. */
	for (size_t i = 0; i < L->ns; i++) {
		char *p = xasprintf("%s/%020" PRId64 ".index", f->dir, L->s[i].base);
		assert_int_equal(unlink(p), 0);
		free(p);
		p = xasprintf("%s/%020" PRId64 ".timeindex", f->dir, L->s[i].base);
		assert_int_equal(unlink(p), 0);
		free(p);
	}
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), L->leo);
	log_close(l);
	check_segment_files(f, L, L->ns);
	layout_free(L);
}

static void test_truncate_across_segments(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	bool truncated;

	many_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	struct layout *L = append_many(l);
	assert_true(L->ns >= 4);

	/* Cut at the third batch of the third segment (a batch boundary). */
	size_t k = 0;
	while (L->b[k].seg != 2)
		k++;
	k += 2;
	assert_int_equal(L->b[k].seg, 2);
	int64_t target = L->b[k].base;
	log_set_high_watermark(l, L->leo);
	assert_int_equal(log_truncate_to(l, target, NOW, &truncated), KERR_NONE);
	assert_true(truncated);
	assert_int_equal(log_end_offset(l), target);
	assert_int_equal(log_high_watermark(l), target);
	assert_int_equal(log_segment_count(l), 3);
	log_close(l);

	/*
	 * Expected: the first two segments untouched; the third cut at the
	 * batch's position, index entries for offsets >= target dropped
	 * (Kafka's truncateTo) and, on close, the max timestamp of what is left
	 * if it is new.
	 */
	for (size_t i = 0; i < 2; i++)
		seg_finish(&L->s[i]);
	struct exp_seg *s = &L->s[2];
	s->log.len = L->b[k].pos;
	size_t keep = 0;
	while (keep < s->idx.len) {
		int64_t rel = (int64_t)be32_load(s->idx.data + keep);
		if (s->base + rel >= target)
			break;
		keep += 8;
	}
	s->idx.len = keep;
	keep = 0;
	while (keep < s->tidx.len) {
		const uint8_t *e = s->tidx.data + keep + 8;
		int64_t rel = (int64_t)be32_load(e);
		if (s->base + rel >= target)
			break;
		keep += 12;
	}
	s->tidx.len = keep;
	s->last_tidx_ts = -1;
	if (keep >= 12) {
		const uint8_t *e = s->tidx.data + keep - 12;
		s->last_tidx_ts = (int64_t)be64_load(e);
	}
	s->max_ts = -1;
	for (size_t i = 0; i < k; i++) {
		if (L->b[i].seg == 2 && L->b[i].max_ts > s->max_ts) {
			s->max_ts = L->b[i].max_ts;
			s->max_ts_off = L->b[i].last;
		}
	}
	seg_finish(s);
	check_segment_files(f, L, 3);

	/* The leader-epoch checkpoint forgets epochs that started later. */
	struct epoch_entry *e;
	size_t n;
	char *p = part_file(f, "leader-epoch-checkpoint");
	assert_int_equal(checkpoint_read_epochs(p, &e, &n), KERR_NONE);
	free(p);
	assert_true(n >= 1);
	assert_true(e[n - 1].start_offset < target);
	free(e);
	layout_free(L);
}

static void test_delete_records_and_retention(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	int64_t lw;
	int deleted;

	many_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	struct layout *L = append_many(l);
	assert_true(L->ns >= 4);
	log_set_high_watermark(l, L->leo);

	/* Into the middle of the third segment. */
	int64_t start = L->s[2].base + 1;
	assert_int_equal(log_delete_records(l, start, &lw), KERR_NONE);
	assert_int_equal(lw, start);
	assert_int_equal(log_segment_count(l), (int)L->ns); /* retention removes them */
	assert_int_equal(log_enforce_retention(l, NOW, &deleted), KERR_NONE);
	assert_int_equal(deleted, 2);
	assert_int_equal(log_segment_count(l), (int)L->ns - 2);
	assert_int_equal(log_start_offset(l), start);
	int64_t bases[NBATCH];
	log_segment_base_offsets(l, bases, NBATCH);
	assert_int_equal(bases[0], L->s[2].base);
	struct log_read_result r;
	assert_int_equal(log_read(l, start - 1, 100, LOG_READ_MAX_LEO, true, &r),
	    KERR_OFFSET_OUT_OF_RANGE);
	size_t k = 0;
	while (L->b[k].last < start)
		k++;
	assert_int_equal(log_read(l, start, 100, LOG_READ_MAX_LEO, true, &r), KERR_NONE);
	assert_int_equal(r.position, L->b[k].pos);
	assert_int_equal(r.first_batch_offset, L->b[k].base);
	log_read_release(&r);
	/* Files of the removed segments are gone (file.delete.delay.ms = 0). */
	for (size_t i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%020" PRId64 ".log", f->dir, L->s[i].base);
		assert_int_not_equal(access(p, F_OK), 0);
		free(p);
	}
	log_close(l);

	l = open_log(f, &c, true, 0, start);
	assert_int_equal(log_start_offset(l), start);
	assert_int_equal(log_end_offset(l), L->leo);
	assert_int_equal(log_segment_count(l), (int)L->ns - 2);
	log_close(l);
	layout_free(L);
}

/* segment.ms: a batch whose timestamp is more than that past the first
 * batch's starts a new segment, named after its base offset. */
static void test_roll_by_time(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	static const int64_t ts[] = { T, T + 500, T + 1000, T + 1001, T + 1500 };
	static const bool rolls[] = { false, false, false, true, false };

	golden_config(&c);
	c.roll_ms = 1000;
	struct log *l = open_log(f, &c, true, 0, 0);
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		struct wbuf w;
		struct batch_builder bb;
		struct kbytes v = { (const uint8_t *)"v", 1 };
		wbuf_init(&w);
		batch_builder_begin(&bb, &w, NULL);
		batch_builder_add(&bb, ts[i], v, v, NULL, 0);
		assert_int_not_equal(batch_builder_finish(&bb), 0);
		struct log_append_info info;
		assert_int_equal(log_append_as_leader(l, w.data, w.len, 0, NOW, &info), KERR_NONE);
		assert_int_equal(info.rolled, rolls[i]);
		wbuf_free(&w);
	}
	assert_int_equal(log_segment_count(l), 2);
	log_close(l);
	assert_dir_is(f->dir, SEG0 ".index " SEG0 ".log " SEG0 ".timeindex "
	    "00000000000000000003.index 00000000000000000003.log 00000000000000000003.timeindex "
	    "leader-epoch-checkpoint");
}

/* ---- recovery ------------------------------------------------------------------------------- */

/* Put the golden segment (with or without its indexes) in the fixture dir. */
static void install_golden(const struct fixture *f, bool with_indexes, bool with_epochs)
{
	static const char *const sfx[] = { ".log", ".index", ".timeindex" };
	for (size_t i = 0; i < (with_indexes ? 3u : 1u); i++) {
		size_t n;
		char *src = xasprintf("%s%s", GOLDEN_SEGMENT, sfx[i]);
		uint8_t *d = slurp(src, &n);
		char *dst = xasprintf("%s/%s%s", f->dir, SEG0, sfx[i]);
		write_bytes(dst, d, n);
		free(src);
		free(dst);
		free(d);
	}
	if (with_epochs) {
		size_t n;
		uint8_t *d = slurp(GOLDEN_PART "/leader-epoch-checkpoint", &n);
		char *dst = part_file(f, "leader-epoch-checkpoint");
		write_bytes(dst, d, n);
		free(dst);
		free(d);
	}
}

static void append_to_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "ab");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

static void flip_byte(const char *path, long pos)
{
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, pos, SEEK_SET), 0);
	int ch = fgetc(fp);
	assert_int_not_equal(ch, EOF);
	assert_int_equal(fseek(fp, pos, SEEK_SET), 0);
	fputc(ch ^ 0x20, fp);
	fclose(fp);
}

static void test_recovery_rebuilds_golden_indexes(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();

	/* Only the .log: indexes and leader epochs come from the batches. */
	golden_config(&c);
	install_golden(f, false, false);
	struct log *l = open_log(f, &c, true, 0, 0);
	assert_int_equal(log_end_offset(l), 6);
	assert_int_equal(log_latest_epoch(l), 2);
	assert_read(l, 2, 1 << 20, LOG_READ_MAX_LEO, true, g + POS_B, LOG_SIZE - POS_B, 2);
	log_close(l);
	assert_golden_files(f);
	free(g);
}

static void test_recovery_truncates_garbage_tail(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();
	uint8_t zeros[100] = { 0 };
	uint8_t junk[37];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 73 + 5);
	/* A header claiming more bytes than there are. */
	uint8_t big[40];
	memcpy(big, g + POS_B, sizeof big);
	big[8] = 0x00;
	big[9] = 0x10;
	struct {
		const uint8_t *p;
		size_t n;
		bool clean;
	} tails[] = {
		{ junk, sizeof junk, false },
		{ zeros, sizeof zeros, false }, /* a preallocated tail */
		{ g, 40, false },               /* a batch torn mid-write */
		{ g, 10, false },               /* shorter than a batch header */
		{ big, sizeof big, false },
		{ zeros, sizeof zeros, true },  /* even after a "clean" shutdown */
	};

	golden_config(&c);
	for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
		install_golden(f, true, true);
		char *p = part_file(f, SEG0 ".log");
		append_to_file(p, tails[t].p, tails[t].n);
		free(p);
		struct log *l = open_log(f, &c, tails[t].clean, 0, 0);
		if (log_end_offset(l) != 6 || log_size_bytes(l) != LOG_SIZE)
			fail_msg("tail %zu: LEO %" PRId64 ", %" PRId64 " bytes", t, log_end_offset(l),
			    log_size_bytes(l));
		assert_read(l, 0, 1 << 20, LOG_READ_MAX_LEO, true, g, LOG_SIZE, 0);
		/* And the log goes on from there. */
		uint8_t *b = malloc(SIZE_B);
		memcpy(b, g + POS_B, SIZE_B);
		record_batch_set_base_offset(b, 0);
		struct log_append_info info;
		assert_int_equal(log_append_as_leader(l, b, SIZE_B, 2, NOW, &info), KERR_NONE);
		assert_int_equal(info.first_offset, 6);
		free(b);
		assert_int_equal(log_truncate_to(l, 6, NOW, &(bool){ false }), KERR_NONE);
		log_close(l);
		assert_golden_files(f);
	}
	free(g);
}

static void test_recovery_after_flipped_byte(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();

	golden_config(&c);

	/* In C: A and B stay, C goes; the index keeps B's entry. */
	install_golden(f, true, true);
	char *p = part_file(f, SEG0 ".log");
	flip_byte(p, POS_C + 70);
	struct log *l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), 3);
	assert_int_equal(log_latest_epoch(l), 0);
	assert_read(l, 0, 1 << 20, LOG_READ_MAX_LEO, true, g, POS_C, 0);
	log_close(l);
	assert_file_is(p, g, POS_C);
	char *q = part_file(f, SEG0 ".index");
	assert_file_equals(q, GOLDEN_SEGMENT ".index");
	free(q);
	size_t tlen;
	uint8_t *tidx = slurp(GOLDEN_SEGMENT ".timeindex", &tlen);
	q = part_file(f, SEG0 ".timeindex");
	assert_file_is(q, tidx, 12);
	free(q);
	free(tidx);
	q = part_file(f, "leader-epoch-checkpoint");
	assert_file_is(q, "0\n1\n0 0\n", 8);
	free(q);

	/* In B's header fields (CRC'd): B and C go. */
	install_golden(f, true, true);
	flip_byte(p, POS_B + 30);
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), 2);
	log_close(l);
	assert_file_is(p, g, POS_B);

	/* In B's CRC itself. */
	install_golden(f, true, true);
	flip_byte(p, POS_B + 17);
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), 2);
	log_close(l);
	assert_file_is(p, g, POS_B);

	/* In B's magic. */
	install_golden(f, true, true);
	flip_byte(p, POS_B + 16);
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), 2);
	log_close(l);
	assert_file_is(p, g, POS_B);

	/* In A: nothing is left. */
	install_golden(f, true, true);
	flip_byte(p, POS_A + 62);
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), 0);
	assert_int_equal(log_size_bytes(l), 0);
	assert_int_equal(log_latest_epoch(l), -1);
	log_close(l);
	assert_file_is(p, g, 0);

	/* Leader epochs outside the CRC are not checked: a flipped epoch
	 * survives (as in Kafka). */
	install_golden(f, true, true);
	flip_byte(p, POS_B + 15);
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), 6);
	log_close(l);

	free(p);
	free(g);
}

/* Damage in one segment: it is cut and every later segment deleted. */
static void test_recovery_deletes_later_segments(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();

	golden_config(&c);
	char *p0 = part_file(f, SEG0 ".log");
	char *p3 = part_file(f, "00000000000000000003.log");
	write_bytes(p0, g, POS_C);
	write_bytes(p3, g + POS_C, SIZE_C);
	struct log *l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_segment_count(l), 2);
	assert_int_equal(log_end_offset(l), 6);
	assert_read(l, 3, 1 << 20, LOG_READ_MAX_LEO, true, g + POS_C, SIZE_C, 3);
	log_close(l);

	flip_byte(p0, POS_B + 40);
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_segment_count(l), 1);
	assert_int_equal(log_end_offset(l), 2);
	log_close(l);
	assert_file_is(p0, g, POS_B);
	assert_dir_is(f->dir, SEG0 ".index " SEG0 ".log " SEG0 ".timeindex leader-epoch-checkpoint");

	/* Segments below the recovery point are trusted and not re-read. */
	write_bytes(p0, g, POS_C);
	write_bytes(p3, g + POS_C, SIZE_C);
	flip_byte(p0, POS_B + 40);
	l = open_log(f, &c, false, 3, 0);
	assert_int_equal(log_segment_count(l), 2);
	assert_int_equal(log_end_offset(l), 6);
	assert_int_equal(log_recovery_point(l), 3);
	log_close(l);

	free(p0);
	free(p3);
	free(g);
}

/*
 * A crash while the segment is active: its indexes are still preallocated
 * (trailing zero entries, DISK-FORMAT.md section 4).  The files copied from
 * a live log, opened without the clean-shutdown marker, come back as the
 * golden ones.
 */
static void test_recovery_of_crashed_active_segment(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	uint8_t *g = golden_log();
	static const char *const names[] = { SEG0 ".log", SEG0 ".index", SEG0 ".timeindex",
		"leader-epoch-checkpoint" };

	golden_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	append_golden_as_follower(l, g, 0);
	struct fixture crashed = { f->root, xasprintf("%s/orders-1", f->root) };
	assert_int_equal(mkdir(crashed.dir, 0755), 0);
	uint8_t *files[4];
	size_t sizes[4];
	for (size_t i = 0; i < 4; i++) {
		char *src = part_file(f, names[i]);
		files[i] = slurp(src, &sizes[i]);
		free(src);
	}
	assert_int_equal(sizes[1], 1200);            /* preallocated */
	assert_int_equal(sizes[2], 1200 / 12 * 12);
	log_close(l);

	/* Recovery point at the start, and at the end (the one segment is
	 * re-read either way: it holds the recovery point). */
	for (int64_t rp = 0; rp <= 6; rp += 6) {
		for (size_t i = 0; i < 4; i++) {
			char *dst = part_file(&crashed, names[i]);
			write_bytes(dst, files[i], sizes[i]);
			free(dst);
		}
		l = open_log(&crashed, &c, false, rp, 0);
		assert_int_equal(log_end_offset(l), 6);
		assert_int_equal(log_latest_epoch(l), 2);
		assert_read(l, 4, 1 << 20, LOG_READ_MAX_LEO, true, g + POS_C, SIZE_C, 3);
		log_close(l);
		assert_golden_files(&crashed);
	}
	for (size_t i = 0; i < 4; i++)
		free(files[i]);
	free(crashed.dir);
	free(g);
}

/* --- compaction ----------------------------------------------------------------------------- */

struct kv {
	int64_t offset;
	char key[16];
	char value[32];
	bool tombstone;
	bool delete_horizon;
};

/* Every record of the log, in order, read as a consumer would (log_read). */
static struct kv *read_all_records(struct log *l, size_t *n_out)
{
	struct kv *v = NULL;
	size_t n = 0, cap = 0;
	int64_t off = log_start_offset(l), leo = log_end_offset(l), prev = -1;
	struct wbuf plain;
	wbuf_init(&plain);
	while (off < leo) {
		struct log_read_result r;
		assert_int_equal(log_read(l, off, 1 << 20, LOG_READ_MAX_LEO, true, &r), KERR_NONE);
		assert_true(r.length > 0);
		uint8_t *buf = xmalloc(r.length);
		assert_int_equal(pread(r.fd, buf, r.length, r.position), (ssize_t)r.length);
		log_read_release(&r);
		for (size_t pos = 0; pos < r.length;) {
			struct record_batch b;
			assert_int_equal(record_batch_parse(buf + pos, r.length - pos, &b), KERR_NONE);
			assert_true(record_batch_crc_ok(&b));
			const uint8_t *recs = record_batch_records(&b);
			size_t len = record_batch_records_len(&b);
			if (record_batch_codec(&b) != COMPRESSION_NONE) {
				wbuf_reset(&plain);
				assert_int_equal(compression_decompress(record_batch_codec(&b), recs, len, &plain, 1 << 24),
				    KERR_NONE);
				recs = plain.data;
				len = plain.len;
			}
			struct record_iter it;
			struct record rec;
			record_iter_init(&it, recs, len, b.record_count);
			while (record_iter_next(&it, &rec)) {
				int64_t o = b.base_offset + rec.offset_delta;
				assert_true(o > prev);
				prev = o;
				if (o < off)
					continue;
				if (n == cap) {
					cap = cap ? cap * 2 : 256;
					v = xrealloc(v, cap * sizeof *v);
				}
				memset(&v[n], 0, sizeof v[n]);
				v[n].offset = o;
				snprintf(v[n].key, sizeof v[n].key, "%.*s", (int)rec.key.len, (const char *)rec.key.ptr);
				if (rec.value.ptr)
					snprintf(v[n].value, sizeof v[n].value, "%.*s", (int)rec.value.len,
					    (const char *)rec.value.ptr);
				v[n].tombstone = rec.value.ptr == NULL;
				v[n].delete_horizon = (b.attributes & RB_ATTR_DELETE_HORIZON) != 0;
				n++;
			}
			assert_int_equal(it.err, 0);
			pos += b.size;
			off = record_batch_next_offset(&b);
		}
		free(buf);
	}
	wbuf_free(&plain);
	*n_out = n;
	return v;
}

/* The latest write of each key k0..k2047, as append_keyed made them (offset -1 = never written). */
#define MAX_KEYS 2048
static struct {
	int64_t offset;
	bool tombstone;
	int i;
} latest[MAX_KEYS];

static void latest_reset(void)
{
	for (int j = 0; j < MAX_KEYS; j++)
		latest[j].offset = -1;
}

/* Append batches of 5 records, keys k<i % nkeys>, every other batch gzip'd; a NULL value for tombstone_key. */
static void append_keyed(struct log *l, int first, int batches, int nkeys, int tombstone_key)
{
	for (int b = 0; b < batches; b++) {
		struct wbuf w;
		struct batch_builder bb;
		struct batch_builder_opts o;
		wbuf_init(&w);
		batch_builder_opts_init(&o);
		o.codec = b % 2 ? COMPRESSION_GZIP : COMPRESSION_NONE;
		batch_builder_begin(&bb, &w, &o);
		int64_t base = log_end_offset(l);
		for (int r = 0; r < 5; r++) {
			int i = first + b * 5 + r;
			char key[16], value[32];
			snprintf(key, sizeof key, "k%d", i % nkeys);
			snprintf(value, sizeof value, "v%d", i);
			struct kbytes kb = { (const uint8_t *)key, (int32_t)strlen(key) };
			struct kbytes vb = { (const uint8_t *)value, (int32_t)strlen(value) };
			if (i % nkeys == tombstone_key)
				vb.ptr = NULL, vb.len = -1;
			batch_builder_add(&bb, T + i, kb, vb, NULL, 0);
			latest[i % nkeys].offset = base + r;
			latest[i % nkeys].tombstone = vb.ptr == NULL;
			latest[i % nkeys].i = i;
		}
		size_t size = batch_builder_finish(&bb);
		assert_int_not_equal(size, 0);
		struct log_append_info info;
		assert_int_equal(log_append_as_leader(l, w.data, size, 1, NOW, &info), KERR_NONE);
		wbuf_free(&w);
	}
}

/* Exactly the latest record of each key; tombstones only if tombstones_expected. */
static void check_compacted(const struct kv *v, size_t n, bool tombstones_expected)
{
	size_t seen = 0;
	for (int j = 0; j < MAX_KEYS; j++) {
		if (latest[j].offset < 0)
			continue;
		char key[16], value[32];
		snprintf(key, sizeof key, "k%d", j);
		snprintf(value, sizeof value, "v%d", latest[j].i);
		int found = 0;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(v[k].key, key) != 0)
				continue;
			found++;
			assert_int_equal(v[k].offset, latest[j].offset);
			if (latest[j].tombstone)
				assert_true(v[k].tombstone);
			else
				assert_string_equal(v[k].value, value);
		}
		assert_int_equal(found, latest[j].tombstone && !tombstones_expected ? 0 : 1);
		seen += (size_t)found;
	}
	assert_int_equal(seen, n);
}

static void test_clean_keeps_latest_per_key(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	golden_config(&c);
	c.segment_bytes = 4096;
	c.index_max_bytes = 4096;
	c.index_interval_bytes = 256;
	c.cleanup_compact = true;
	c.cleanup_delete = false;
	c.delete_retention_ms = 1000;
	struct log *l = open_log(f, &c, true, 0, 0);
	latest_reset();
	append_keyed(l, 0, 200, 20, 3); /* 1000 records over 20 keys, k3 always a tombstone */
	assert_int_equal(log_roll(l, NOW), KERR_NONE);
	log_set_high_watermark(l, log_end_offset(l));
	int segs_before = log_segment_count(l);
	int64_t size_before = log_size_bytes(l);

	struct log_cleaner *cl = log_cleaner_new(1 << 20, 0.9, 0, NULL);
	struct log_cleanable cs;
	assert_true(log_cleanable_state(l, NOW, &cs));
	assert_int_equal(cs.first_dirty, 0);
	assert_int_equal(cs.first_uncleanable, 1000);
	struct log_clean_stats st;
	assert_int_equal(log_clean(cl, l, NOW, &st), KERR_NONE);
	assert_int_equal(st.map_end, 1000);
	assert_int_equal(log_cleaner_offset(l), 1000);
	assert_true(log_segment_count(l) <= segs_before); /* each group fits one old segment: merging comes next pass */
	assert_true(log_size_bytes(l) < size_before / 10);
	assert_int_equal(log_end_offset(l), 1000);

	size_t n;
	struct kv *v = read_all_records(l, &n);
	check_compacted(v, n, true);
	for (size_t k = 0; k < n; k++)
		if (v[k].tombstone)
			assert_true(v[k].delete_horizon);
	free(v);
	/* Nothing dirty: nothing to do. */
	assert_false(log_cleanable_state(l, NOW, &cs));

	/* More writes (of k0..k2 only); past delete.retention.ms the tombstone goes. */
	append_keyed(l, 1000, 40, 3, -1);
	assert_int_equal(log_roll(l, NOW), KERR_NONE);
	log_set_high_watermark(l, log_end_offset(l));
	assert_int_equal(log_clean(cl, l, NOW + 2000, &st), KERR_NONE);
	v = read_all_records(l, &n);
	check_compacted(v, n, false);
	free(v);

	/* A restart after a crash (no clean shutdown) recovers the same log. */
	log_close(l);
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), 1200);
	v = read_all_records(l, &n);
	check_compacted(v, n, false);
	free(v);
	log_cleaner_free(cl);
	log_close(l);
}

/* A swap cut short after the old segments went to .deleted: recovery completes it. */
static void test_clean_swap_recovery(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	golden_config(&c);
	c.segment_bytes = 4096;
	c.index_max_bytes = 4096;
	c.cleanup_compact = true;
	c.cleanup_delete = false;
	struct log *l = open_log(f, &c, true, 0, 0);
	latest_reset();
	append_keyed(l, 0, 100, 10, -1);
	assert_int_equal(log_roll(l, NOW), KERR_NONE);
	log_set_high_watermark(l, log_end_offset(l));
	struct log_cleaner *cl = log_cleaner_new(1 << 20, 0.9, 0, NULL);
	struct log_clean_stats st;
	assert_int_equal(log_clean(cl, l, NOW, &st), KERR_NONE);
	log_cleaner_free(cl);
	log_close(l);
	/* Put the state of a crash between the steps back by hand: the clean
	 * segment renamed to .swap, a stale copy of an old one beside it. */
	char *from = part_file(f, "00000000000000000000.log");
	char *to = part_file(f, "00000000000000000000.log.swap");
	assert_int_equal(rename(from, to), 0);
	char *idx = part_file(f, "00000000000000000000.index");
	unlink(idx);
	free(idx);
	char *cleaned = part_file(f, "00000000000000000000.log.cleaned");
	FILE *junk = fopen(cleaned, "w");
	fputs("partial", junk);
	fclose(junk);
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(log_end_offset(l), 500);
	size_t n;
	struct kv *v = read_all_records(l, &n);
	check_compacted(v, n, true);
	free(v);
	struct stat sb;
	assert_int_not_equal(stat(to, &sb), 0);
	assert_int_not_equal(stat(cleaned, &sb), 0);
	free(cleaned);
	free(from);
	free(to);
	log_close(l);
}

/* A dedupe buffer too small for the dirty part: each pass maps what fits and the next goes on from there. */
static void test_clean_with_a_full_offset_map(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	golden_config(&c);
	c.segment_bytes = 8192;
	c.index_max_bytes = 4096;
	c.cleanup_compact = true;
	c.cleanup_delete = false;
	struct log *l = open_log(f, &c, true, 0, 0);
	latest_reset();
	append_keyed(l, 0, 600, 1500, -1); /* 3000 records over 1500 keys */
	assert_int_equal(log_roll(l, NOW), KERR_NONE);
	log_set_high_watermark(l, 3000);
	/* 1024 slots, 921 keys at the 0.9 load factor. */
	struct log_cleaner *cl = log_cleaner_new(1024 * 24, 0.9, 0, NULL);
	struct log_clean_stats st;
	int64_t prev = 0;
	for (int pass = 0; pass < 10 && log_cleaner_offset(l) < 3000; pass++) {
		assert_int_equal(log_clean(cl, l, NOW, &st), KERR_NONE);
		assert_true(st.map_end > prev);
		assert_true(pass > 0 || st.map_end < 3000);
		prev = st.map_end;
		size_t n;
		struct kv *v = read_all_records(l, &n);
		/* Every key's latest record is still there, whatever else is. */
		for (int j = 0; j < 1500; j++) {
			char key[16];
			snprintf(key, sizeof key, "k%d", j);
			bool found = false;
			for (size_t k = 0; k < n && !found; k++)
				found = v[k].offset == latest[j].offset && strcmp(v[k].key, key) == 0;
			assert_true(found);
		}
		free(v);
	}
	assert_int_equal(log_cleaner_offset(l), 3000);
	size_t n;
	struct kv *v = read_all_records(l, &n);
	check_compacted(v, n, true);
	free(v);
	log_cleaner_free(cl);
	log_close(l);
}

/* min.compaction.lag.ms keeps young segments out of the dirty part; max.compaction.lag.ms makes a log due. */
static void test_clean_compaction_lags(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	golden_config(&c);
	c.segment_bytes = 4096;
	c.index_max_bytes = 4096;
	c.cleanup_compact = true;
	c.cleanup_delete = false;
	struct log *l = open_log(f, &c, true, 0, 0);
	latest_reset();
	append_keyed(l, 0, 200, 20, -1); /* timestamps T .. T + 999 */
	assert_int_equal(log_roll(l, NOW), KERR_NONE);
	log_set_high_watermark(l, log_end_offset(l));
	struct log_cleanable cs;
	assert_true(log_cleanable_state(l, NOW, &cs));
	assert_int_equal(cs.first_uncleanable, 1000);
	assert_false(cs.need_now);
	/* Only segments whose newest record is older than NOW - lag = T + 500. */
	c.min_compaction_lag_ms = NOW - (T + 500);
	log_set_config(l, &c);
	assert_true(log_cleanable_state(l, NOW, &cs));
	assert_true(cs.first_uncleanable > 0 && cs.first_uncleanable <= 500);
	c.min_compaction_lag_ms = NOW - T + 1;
	log_set_config(l, &c);
	assert_false(log_cleanable_state(l, NOW, &cs));
	c.min_compaction_lag_ms = 0;
	c.max_compaction_lag_ms = 1000;
	log_set_config(l, &c);
	assert_true(log_cleanable_state(l, NOW, &cs));
	assert_true(cs.need_now);
	/* And the policy: a delete-only log is never cleanable. */
	c.cleanup_compact = false;
	log_set_config(l, &c);
	assert_false(log_cleanable_state(l, NOW, &cs));
	log_close(l);
}

/* --- producer state ------------------------------------------------------------------ */

/* Append n records from producer pid (epoch, first sequence seq) as the leader; returns the error. */
static int append_idem(struct log *l, int64_t pid, int16_t epoch, int32_t seq, int n, bool txn,
    struct log_append_info *info)
{
	struct wbuf w;
	wbuf_init(&w);
	struct batch_builder_opts o;
	batch_builder_opts_init(&o);
	o.producer_id = pid;
	o.producer_epoch = epoch;
	o.base_sequence = seq;
	o.transactional = txn;
	struct batch_builder b;
	batch_builder_begin(&b, &w, &o);
	for (int i = 0; i < n; i++)
		batch_builder_add(&b, NOW, (struct kbytes){ NULL, 0 }, (struct kbytes){ (const uint8_t *)"v", 1 }, NULL,
		    0);
	assert_true(batch_builder_finish(&b) > 0);
	int err = log_append_as_leader(l, w.data, w.len, 0, NOW, info);
	wbuf_free(&w);
	return err;
}

static void test_producer_state_rules_and_truncation(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	golden_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	struct log_append_info ai;
	for (int k = 0; k < 4; k++) {
		assert_int_equal(append_idem(l, 7, 0, 2 * k, 2, false, &ai), KERR_NONE);
		assert_false(ai.duplicate);
		assert_int_equal(ai.first_offset, 2 * k);
	}
	/* A retry: the original offsets, nothing written. */
	assert_int_equal(append_idem(l, 7, 0, 2, 2, false, &ai), KERR_NONE);
	assert_true(ai.duplicate);
	assert_int_equal(ai.first_offset, 2);
	assert_int_equal(ai.last_offset, 3);
	assert_int_equal(log_end_offset(l), 8);
	assert_int_equal(append_idem(l, 7, 0, 9, 1, false, &ai), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	assert_int_equal(append_idem(l, 7, 1, 3, 1, false, &ai), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	/* A transaction: the LSO stays at its start until the high watermark passes it... */
	assert_int_equal(append_idem(l, 9, 0, 0, 3, true, &ai), KERR_NONE);
	assert_int_equal(append_idem(l, 9, 0, 3, 1, false, &ai), KERR_INVALID_TXN_STATE);
	log_set_high_watermark(l, 11);
	assert_int_equal(log_last_stable_offset(l), 8);
	/* ...and a follower's truncation below it forgets the transaction and the cut batches. */
	bool truncated;
	assert_int_equal(log_truncate_to(l, 6, NOW, &truncated), KERR_NONE);
	assert_true(truncated);
	log_set_high_watermark(l, 6);
	assert_int_equal(log_last_stable_offset(l), 6);
	/* Batch 6-7 is gone, so its retry is not a duplicate but the next in sequence. */
	assert_int_equal(append_idem(l, 7, 0, 6, 2, false, &ai), KERR_NONE);
	assert_false(ai.duplicate);
	assert_int_equal(ai.first_offset, 6);
	struct log_producer_info ps[4];
	assert_int_equal(log_producers(l, ps, 4), 1);
	assert_int_equal(ps[0].producer_id, 7);
	assert_int_equal(ps[0].last_sequence, 7);
	/* Expiry forgets an idle producer. */
	assert_int_equal(log_expire_producers(l, NOW + 1000, 500), 1);
	assert_int_equal(log_producers(l, ps, 4), 0);
	log_close(l);
}

static void test_producer_snapshot_at_roll_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct log_config c;
	golden_config(&c);
	struct log *l = open_log(f, &c, true, 0, 0);
	struct log_append_info ai;
	assert_int_equal(append_idem(l, 5, 2, 0, 3, false, &ai), KERR_NONE);
	assert_int_equal(log_roll(l, NOW), KERR_NONE);
	char *snap = part_file(f, "00000000000000000003.snapshot");
	size_t len;
	uint8_t *p = slurp(snap, &len);
	/* version 1, CRC-32C of the rest, one 46-byte entry. */
	assert_int_equal(len, 10 + 46);
	assert_int_equal(be16_load(p), 1);
	assert_int_equal(be32_load(p + 2), crc32c(0, p + 6, len - 6));
	assert_int_equal(be32_load(p + 6), 1);
	assert_int_equal((int64_t)be64_load(p + 10), 5);
	assert_int_equal(be16_load(p + 18), 2);
	assert_int_equal(be32_load(p + 20), 2);         /* last sequence */
	assert_int_equal((int64_t)be64_load(p + 24), 2); /* last offset */
	free(p);
	free(snap);
	assert_int_equal(append_idem(l, 5, 2, 3, 1, false, &ai), KERR_NONE);
	log_close(l);
	/* Reopened as after a crash: the snapshot at 3 and the batch after it. */
	l = open_log(f, &c, false, 0, 0);
	assert_int_equal(append_idem(l, 5, 2, 3, 1, false, &ai), KERR_NONE);
	assert_true(ai.duplicate);
	assert_int_equal(ai.first_offset, 3);
	assert_int_equal(append_idem(l, 5, 1, 0, 1, false, &ai), KERR_INVALID_PRODUCER_EPOCH);
	log_close(l);
}


int main(void)
{
	log_set_level(LOG_ERROR);
#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T_(test_follower_append_writes_golden_files),
		T_(test_leader_append_assigns_offsets_and_epochs),
		T_(test_log_append_time),
		T_(test_offset_for_timestamp),
		T_(test_truncate_to),
		T_(test_delete_records),
		T_(test_roll_and_sparse_indexes),
		T_(test_truncate_across_segments),
		T_(test_delete_records_and_retention),
		T_(test_roll_by_time),
		T_(test_recovery_rebuilds_golden_indexes),
		T_(test_recovery_truncates_garbage_tail),
		T_(test_recovery_after_flipped_byte),
		T_(test_recovery_deletes_later_segments),
		T_(test_recovery_of_crashed_active_segment),
		T_(test_producer_state_rules_and_truncation),
		T_(test_producer_snapshot_at_roll_and_reopen),
		T_(test_clean_keeps_latest_per_key),
		T_(test_clean_swap_recovery),
		T_(test_clean_with_a_full_offset_map),
		T_(test_clean_compaction_lags),
	};
#undef T_
	return cmocka_run_group_tests(tests, NULL, NULL);
}
