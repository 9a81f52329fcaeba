/*
 * Unit tests for record-batch compression: round trips of every codec,
 * payloads produced by real clients (tests/golden/compression), truncated
 * and corrupt input, decompression bombs, Kafka's legacy LZ4 checksum and
 * per-thread contexts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/endian.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif
#define GOLDEN_DIR SRCDIR "/tests/golden/compression"

static const enum compression_codec codecs[] = {
	COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4, COMPRESSION_ZSTD,
};
#define NCODECS (sizeof codecs / sizeof codecs[0])

/* ---- data helpers ---------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	rng_state = seed | 1;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
	return p;
}

/* Record-like text: compresses well but is not a single repeated byte. */
static uint8_t *repetitive_bytes(size_t n)
{
	static const char pat[] = "key-0042\x01value: the quick brown fox jumps over the lazy dog\n";
	uint8_t *p = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)pat[i % (sizeof pat - 1)] ^ (uint8_t)((i / 4096) & 1);
	return p;
}

/* An exactly-sized heap copy, so that ASan sees any read past the end. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (n)
		memcpy(c, p, n);
	return c;
}

static int compress_to(enum compression_codec c, int level, const uint8_t *in, size_t n,
    struct wbuf *out)
{
	wbuf_init(out);
	return compression_compress(c, level, in, n, out);
}

static void assert_roundtrip(enum compression_codec c, int level, const uint8_t *in, size_t n)
{
	struct wbuf z, back;
	assert_int_equal(compress_to(c, level, in, n, &z), KERR_NONE);
	uint8_t *zc = exact_copy(z.data, z.len);
	wbuf_init(&back);
	assert_int_equal(compression_decompress(c, zc, z.len, &back, n), KERR_NONE);
	assert_int_equal(back.len, n);
	if (n)
		assert_memory_equal(back.data, in, n);
	free(zc);
	wbuf_free(&z);
	wbuf_free(&back);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	struct wbuf w;
	wbuf_init(&w);
	uint8_t buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		wbuf_put(&w, buf, n);
	fclose(f);
	*len = w.len;
	if (!w.data)
		w.data = malloc(1);
	return w.data;
}

/* ---- names and levels ------------------------------------------------------ */

static void test_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum compression_codec c;
	} types[] = {
		{ "uncompressed", COMPRESSION_NONE }, { "gzip", COMPRESSION_GZIP },
		{ "snappy", COMPRESSION_SNAPPY }, { "lz4", COMPRESSION_LZ4 },
		{ "zstd", COMPRESSION_ZSTD }, { "producer", COMPRESSION_PRODUCER },
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		enum compression_codec c = COMPRESSION_ZSTD + 1;
		assert_true(compression_type_parse(types[i].name, &c));
		assert_int_equal(c, types[i].c);
		assert_string_equal(compression_type_name(c), types[i].name);
	}
	enum compression_codec c;
	assert_false(compression_type_parse("none", &c));
	assert_false(compression_type_parse("GZIP", &c));
	assert_false(compression_type_parse("", &c));
	assert_true(compression_codec_parse("none", &c));
	assert_int_equal(c, COMPRESSION_NONE);
	assert_false(compression_codec_parse("uncompressed", &c));
	assert_false(compression_codec_parse("producer", &c));
	assert_string_equal(compression_codec_name(COMPRESSION_SNAPPY), "snappy");
	assert_string_equal(compression_codec_name(COMPRESSION_NONE), "none");
	assert_null(compression_codec_name((enum compression_codec)5));
	assert_true(compression_codec_valid(4));
	assert_false(compression_codec_valid(5));
	assert_false(compression_codec_valid(-1));
	/* The codec bits of the batch attributes (DISK-FORMAT.md). */
	assert_int_equal(COMPRESSION_GZIP, 1);
	assert_int_equal(COMPRESSION_SNAPPY, 2);
	assert_int_equal(COMPRESSION_LZ4, 3);
	assert_int_equal(COMPRESSION_ZSTD, 4);
	assert_int_equal(COMPRESSION_CODEC_MASK, 7);
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(compression_level_default(COMPRESSION_GZIP), -1);
	assert_int_equal(compression_level_default(COMPRESSION_LZ4), 9);
	assert_int_equal(compression_level_default(COMPRESSION_ZSTD), 3);
	assert_int_equal(compression_level_default(COMPRESSION_SNAPPY), 0);
	assert_true(compression_level_valid(COMPRESSION_GZIP, -1));
	assert_true(compression_level_valid(COMPRESSION_GZIP, 1));
	assert_true(compression_level_valid(COMPRESSION_GZIP, 9));
	assert_false(compression_level_valid(COMPRESSION_GZIP, 0));
	assert_false(compression_level_valid(COMPRESSION_GZIP, 10));
	assert_false(compression_level_valid(COMPRESSION_GZIP, -2));
	assert_true(compression_level_valid(COMPRESSION_LZ4, 1));
	assert_true(compression_level_valid(COMPRESSION_LZ4, 17));
	assert_false(compression_level_valid(COMPRESSION_LZ4, 0));
	assert_false(compression_level_valid(COMPRESSION_LZ4, 18));
	assert_true(compression_level_valid(COMPRESSION_ZSTD, -131072));
	assert_true(compression_level_valid(COMPRESSION_ZSTD, 22));
	assert_false(compression_level_valid(COMPRESSION_ZSTD, -131073));
	assert_false(compression_level_valid(COMPRESSION_ZSTD, 23));
}

/* ---- xxh32 ----------------------------------------------------------------- */

/*
 * liblz4 writes XXH32 of the content as the frame's content checksum: an
 * independent reference for every input length, short and long.
 */
static void test_xxh32_matches_lz4_content_checksum(void **state)
{
	(void)state;
	uint8_t *data = random_bytes(300, 7);
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	size_t cap = LZ4F_compressFrameBound(300, &prefs);
	uint8_t *frame = malloc(cap);
	for (size_t n = 0; n <= 300; n += (n < 40 ? 1 : 37)) {
		size_t len = LZ4F_compressFrame(frame, cap, data, n, &prefs);
		assert_false(LZ4F_isError(len));
		uint32_t want = le32_load(frame + len - 4);
		assert_int_equal(compression_xxh32(data, n, 0), want);
	}
	assert_int_equal(compression_xxh32("", 0, 0), 0x02CC5D05u);
	free(frame);
	free(data);
}

/* ---- round trips ----------------------------------------------------------- */

static void test_roundtrip_sizes(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 1024, 32768, 32769, 65536 + 3, 1 << 20 };
	for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		size_t n = sizes[si];
		uint8_t *rnd = random_bytes(n, 1000 + n);
		uint8_t *rep = repetitive_bytes(n);
		for (size_t ci = 0; ci < NCODECS; ci++) {
			int level = compression_level_default(codecs[ci]);
			assert_roundtrip(codecs[ci], level, rnd, n);
			assert_roundtrip(codecs[ci], level, rep, n);
		}
		free(rnd);
		free(rep);
	}
}

static void test_roundtrip_levels(void **state)
{
	(void)state;
	size_t n = 200000;
	uint8_t *rep = repetitive_bytes(n);
	static const int gzip_levels[] = { -1, 1, 6, 9, 1, 42 /* clamped to default */ };
	static const int lz4_levels[] = { 1, 2, 3, 9, 12, 17, 1 };
	static const int zstd_levels[] = { -5, 0, 1, 3, 19, 22, 1 };
	for (size_t i = 0; i < sizeof gzip_levels / sizeof gzip_levels[0]; i++)
		assert_roundtrip(COMPRESSION_GZIP, gzip_levels[i], rep, n);
	for (size_t i = 0; i < sizeof lz4_levels / sizeof lz4_levels[0]; i++)
		assert_roundtrip(COMPRESSION_LZ4, lz4_levels[i], rep, n);
	for (size_t i = 0; i < sizeof zstd_levels / sizeof zstd_levels[0]; i++)
		assert_roundtrip(COMPRESSION_ZSTD, zstd_levels[i], rep, n);

	/* A higher gzip level must actually be used: 9 beats 1 on this text. */
	struct wbuf fast, best;
	assert_int_equal(compress_to(COMPRESSION_GZIP, 1, rep, n, &fast), KERR_NONE);
	assert_int_equal(compress_to(COMPRESSION_GZIP, 9, rep, n, &best), KERR_NONE);
	assert_true(best.len < fast.len);
	wbuf_free(&fast);
	wbuf_free(&best);
	free(rep);
}

/* Compression happens, and in the framing Kafka uses for each codec. */
static void test_framing(void **state)
{
	(void)state;
	size_t n = 100000;
	uint8_t *rep = repetitive_bytes(n);
	struct wbuf z;

	assert_int_equal(compress_to(COMPRESSION_GZIP, -1, rep, n, &z), KERR_NONE);
	assert_true(z.len < n / 10);
	assert_int_equal(z.data[0], 0x1f);
	assert_int_equal(z.data[1], 0x8b);
	assert_int_equal(z.data[2], 8); /* deflate */
	wbuf_free(&z);

	assert_int_equal(compress_to(COMPRESSION_SNAPPY, 0, rep, n, &z), KERR_NONE);
	assert_true(z.len < n / 4);
	static const uint8_t xerial[16] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1 };
	assert_memory_equal(z.data, xerial, 16);
	/* 100000 bytes = 4 blocks of at most 32 KiB, each length-prefixed. */
	size_t pos = 16, blocks = 0;
	while (pos < z.len) {
		uint32_t bl = be32_load(z.data + pos);
		pos += 4 + bl;
		blocks++;
	}
	assert_int_equal(pos, z.len);
	assert_int_equal(blocks, 4);
	wbuf_free(&z);

	assert_int_equal(compress_to(COMPRESSION_LZ4, 9, rep, n, &z), KERR_NONE);
	assert_true(z.len < n / 4);
	static const uint8_t lz4_magic[4] = { 0x04, 0x22, 0x4d, 0x18 };
	assert_memory_equal(z.data, lz4_magic, 4);
	assert_int_equal(z.data[4], 0x60); /* version 1, independent blocks, no checksums */
	assert_int_equal(z.data[5], 0x40); /* 64 KiB blocks */
	wbuf_free(&z);

	assert_int_equal(compress_to(COMPRESSION_ZSTD, 3, rep, n, &z), KERR_NONE);
	assert_true(z.len < n / 10);
	static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	assert_memory_equal(z.data, zstd_magic, 4);
	wbuf_free(&z);

	assert_int_equal(compress_to(COMPRESSION_NONE, 0, rep, n, &z), KERR_NONE);
	assert_int_equal(z.len, n);
	assert_memory_equal(z.data, rep, n);
	wbuf_free(&z);
	free(rep);
}

/* Output is appended; on error the buffer is left as it was. */
static void test_appends_and_rolls_back(void **state)
{
	(void)state;
	uint8_t *rep = repetitive_bytes(5000);
	for (size_t ci = 1; ci < NCODECS; ci++) {
		struct wbuf z, out;
		assert_int_equal(compress_to(codecs[ci], compression_level_default(codecs[ci]), rep,
					 5000, &z),
		    KERR_NONE);
		wbuf_init(&out);
		wbuf_put(&out, "prefix", 6);
		assert_int_equal(compression_decompress(codecs[ci], z.data, z.len, &out, 5000), KERR_NONE);
		assert_int_equal(out.len, 5006);
		assert_memory_equal(out.data, "prefix", 6);
		assert_memory_equal(out.data + 6, rep, 5000);

		/* Too small a cap, then a truncated stream: out stays at 5006. */
		assert_int_equal(compression_decompress(codecs[ci], z.data, z.len, &out, 4999),
		    KERR_MESSAGE_TOO_LARGE);
		assert_int_equal(out.len, 5006);
		assert_int_not_equal(compression_decompress(codecs[ci], z.data, z.len / 2, &out, 5000),
		    KERR_NONE);
		assert_int_equal(out.len, 5006);
		assert_memory_equal(out.data + 6, rep, 5000);

		/* Compressing appends too. */
		size_t before = out.len;
		assert_int_equal(compression_compress(codecs[ci], compression_level_default(codecs[ci]),
					 rep, 5000, &out),
		    KERR_NONE);
		assert_int_equal(out.len - before, z.len);
		assert_memory_equal(out.data + before, z.data, z.len);
		wbuf_free(&z);
		wbuf_free(&out);
	}
	free(rep);
}

static void test_unknown_codec_and_empty_input(void **state)
{
	(void)state;
	struct wbuf out;
	wbuf_init(&out);
	uint8_t b[4] = { 1, 2, 3, 4 };
	assert_int_equal(compression_decompress((enum compression_codec)5, b, 4, &out, 100),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(compression_decompress((enum compression_codec)7, b, 4, &out, 100),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(compression_decompress(COMPRESSION_PRODUCER, b, 4, &out, 100),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(compression_compress((enum compression_codec)6, 0, b, 4, &out),
	    KERR_UNKNOWN_SERVER_ERROR);
	assert_int_equal(compression_compress(COMPRESSION_PRODUCER, 0, b, 4, &out),
	    KERR_UNKNOWN_SERVER_ERROR);
	assert_int_equal(out.len, 0);

	/* No compressed format is empty; "none" of nothing is nothing. */
	for (size_t ci = 1; ci < NCODECS; ci++)
		assert_int_equal(compression_decompress(codecs[ci], b, 0, &out, 100),
		    KERR_CORRUPT_MESSAGE);
	assert_int_equal(compression_decompress(COMPRESSION_NONE, b, 0, &out, 100), KERR_NONE);
	assert_int_equal(out.len, 0);
	assert_int_equal(compression_decompress(COMPRESSION_NONE, b, 4, &out, 3),
	    KERR_MESSAGE_TOO_LARGE);
	assert_int_equal(compression_decompress(COMPRESSION_NONE, b, 4, &out, 4), KERR_NONE);
	assert_int_equal(out.len, 4);
	wbuf_free(&out);
}

/* ---- golden payloads from real clients --------------------------------------- */

/*
 * MANIFEST lines: <codec> <magic> <compressed file> <plaintext file> <producer>
 * The files were produced by librdkafka, snappy-java, the JDK's gzip and
 * kafka-python (see tests/golden/compression/README).
 */
static void test_golden(void **state)
{
	(void)state;
	FILE *m = fopen(GOLDEN_DIR "/MANIFEST", "r");
	if (!m)
		fail_msg("cannot open %s/MANIFEST", GOLDEN_DIR);
	char line[512];
	int checked = 0;
	int per_codec[5] = { 0 };
	while (fgets(line, sizeof line, m)) {
		char codec[16], zname[200], pname[200], producer[100];
		int magic;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%15s %d %199s %199s %99s", codec, &magic, zname, pname, producer) != 5)
			fail_msg("bad MANIFEST line: %s", line);
		enum compression_codec c;
		assert_true(compression_codec_parse(codec, &c));

		char path[512];
		size_t zlen, plen;
		snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, zname);
		uint8_t *z = read_file(path, &zlen);
		snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, pname);
		uint8_t *plain = read_file(path, &plen);

		struct wbuf out;
		wbuf_init(&out);
		int err = compression_decompress_magic(c, (int8_t)magic, z, zlen, &out, plen);
		if (err != KERR_NONE)
			fail_msg("%s (%s): error %d", zname, producer, err);
		if (out.len != plen || (plen > 0 && memcmp(out.data, plain, plen) != 0))
			fail_msg("%s (%s): plaintext differs", zname, producer);
		if (c == COMPRESSION_LZ4 && magic == 0) {
			/* librdkafka wrote Kafka's broken header checksum: only magic 0 takes it. */
			size_t keep = out.len;
			assert_int_equal(compression_decompress(c, z, zlen, &out, plen),
			    KERR_CORRUPT_MESSAGE);
			assert_int_equal(out.len, keep);
		}
		if (plen > 0) {
			/* One byte less of room must be refused. */
			size_t keep = out.len;
			assert_int_equal(compression_decompress_magic(c, (int8_t)magic, z, zlen, &out,
						 plen - 1),
			    KERR_MESSAGE_TOO_LARGE);
			assert_int_equal(out.len, keep);
		}
		wbuf_free(&out);
		free(z);
		free(plain);
		checked++;
		per_codec[c]++;
	}
	fclose(m);
	assert_true(checked >= 8);
	for (int c = COMPRESSION_GZIP; c <= COMPRESSION_ZSTD; c++)
		assert_true(per_codec[c] >= 1);
}

/* ---- hostile input ------------------------------------------------------------- */

/*
 * Every prefix of a compressed stream must fail cleanly.  The exception is
 * xerial snappy, which has no end marker: a cut at a block boundary is a
 * shorter valid stream, and must then decode to a prefix of the plaintext.
 */
static void check_truncations(enum compression_codec c, int8_t magic, const uint8_t *plain,
    size_t plen, const uint8_t *z, size_t zlen, size_t step)
{
	struct wbuf out;
	wbuf_init(&out);
	for (size_t cut = 0; cut < zlen; cut += (cut < 64 || zlen - cut < 64) ? 1 : step) {
		uint8_t *t = exact_copy(z, cut);
		out.len = 0;
		int err = compression_decompress_magic(c, magic, t, cut, &out, plen);
		if (err == KERR_NONE) {
			if (c != COMPRESSION_SNAPPY)
				fail_msg("codec %d: %zu-byte prefix of %zu accepted", c, cut, zlen);
			assert_true(out.len < plen);
			assert_true(out.len % 32768 == 0);
			assert_memory_equal(out.data, plain, out.len);
		} else {
			assert_int_equal(err, KERR_CORRUPT_MESSAGE);
			assert_int_equal(out.len, 0);
		}
		free(t);
	}
	wbuf_free(&out);
}

static void test_truncated(void **state)
{
	(void)state;
	size_t n = 100000;
	uint8_t *plain = repetitive_bytes(n);
	/* Some incompressible stretches so that blocks are of mixed kinds. */
	uint8_t *rnd = random_bytes(n, 99);
	for (size_t i = 0; i < n; i += 20000)
		memcpy(plain + i, rnd + i, 3000);
	for (size_t ci = 1; ci < NCODECS; ci++) {
		struct wbuf z;
		assert_int_equal(compress_to(codecs[ci], compression_level_default(codecs[ci]), plain,
					 n, &z),
		    KERR_NONE);
		check_truncations(codecs[ci], 2, plain, n, z.data, z.len, 7);
		wbuf_free(&z);
	}
	/* Raw (headerless) snappy, as librdkafka sends it, has a length preamble. */
	size_t cap = snappy_max_compressed_length(n), zlen = cap;
	uint8_t *raw = malloc(cap);
	assert_int_equal(snappy_compress((const char *)plain, n, (char *)raw, &zlen), SNAPPY_OK);
	struct wbuf out;
	wbuf_init(&out);
	assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, raw, zlen, &out, n), KERR_NONE);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, plain, n);
	wbuf_free(&out);
	check_truncations(COMPRESSION_SNAPPY, 2, plain, n, raw, zlen, 7);
	free(raw);
	free(rnd);
	free(plain);
}

/* Bit flips anywhere: an error or some output within the cap, never a crash. */
static void test_corrupt_flips(void **state)
{
	(void)state;
	size_t n = 20000;
	uint8_t *plain = repetitive_bytes(n);
	struct wbuf out;
	wbuf_init(&out);
	rng_state = 12345;
	for (size_t ci = 1; ci < NCODECS; ci++) {
		struct wbuf z;
		assert_int_equal(compress_to(codecs[ci], compression_level_default(codecs[ci]), plain,
					 n, &z),
		    KERR_NONE);
		for (int round = 0; round < 400; round++) {
			uint8_t *t = exact_copy(z.data, z.len);
			int flips = 1 + (int)(rng() % 3);
			for (int f = 0; f < flips; f++)
				t[rng() % z.len] ^= (uint8_t)(1u << (rng() % 8));
			out.len = 0;
			int err = compression_decompress(codecs[ci], t, z.len, &out, n);
			if (err == KERR_NONE)
				assert_true(out.len <= n);
			else
				assert_true(err == KERR_CORRUPT_MESSAGE || err == KERR_MESSAGE_TOO_LARGE);
			free(t);
		}
		wbuf_free(&z);
	}
	wbuf_free(&out);
	free(plain);
}

/* Damage that each format is guaranteed to notice. */
static void test_corrupt_detected(void **state)
{
	(void)state;
	size_t n = 20000;
	uint8_t *plain = repetitive_bytes(n);
	struct wbuf z, out;
	wbuf_init(&out);

	/* gzip: CRC32 and ISIZE trailer. */
	assert_int_equal(compress_to(COMPRESSION_GZIP, -1, plain, n, &z), KERR_NONE);
	z.data[z.len - 8] ^= 1;
	assert_int_equal(compression_decompress(COMPRESSION_GZIP, z.data, z.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	z.data[z.len - 8] ^= 1;
	z.data[z.len - 1] ^= 1;
	assert_int_equal(compression_decompress(COMPRESSION_GZIP, z.data, z.len, &out, 1 << 30),
	    KERR_CORRUPT_MESSAGE);
	z.data[z.len - 1] ^= 1;
	/* A zlib (not gzip) stream is not what Kafka's GZIPInputStream takes. */
	z.data[0] = 0x78;
	z.data[1] = 0x9c;
	assert_int_equal(compression_decompress(COMPRESSION_GZIP, z.data, z.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	wbuf_free(&z);

	/* lz4: bad magic, bad header checksum, trailing garbage. */
	assert_int_equal(compress_to(COMPRESSION_LZ4, 9, plain, n, &z), KERR_NONE);
	z.data[0] ^= 0x10;
	assert_int_equal(compression_decompress(COMPRESSION_LZ4, z.data, z.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	z.data[0] ^= 0x10;
	z.data[6] ^= 0x01;
	assert_int_equal(compression_decompress(COMPRESSION_LZ4, z.data, z.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	z.data[6] ^= 0x01;
	wbuf_put(&z, "junk", 4);
	assert_int_equal(compression_decompress(COMPRESSION_LZ4, z.data, z.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	wbuf_free(&z);

	/* zstd: bad magic, trailing garbage, checksum of the content. */
	assert_int_equal(compress_to(COMPRESSION_ZSTD, 3, plain, n, &z), KERR_NONE);
	z.data[1] ^= 0x40;
	assert_int_equal(compression_decompress(COMPRESSION_ZSTD, z.data, z.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	z.data[1] ^= 0x40;
	wbuf_put(&z, "junk", 4);
	assert_int_equal(compression_decompress(COMPRESSION_ZSTD, z.data, z.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	wbuf_free(&z);

	/* snappy: a block length beyond the input, a short header, a bad block. */
	assert_int_equal(compress_to(COMPRESSION_SNAPPY, 0, plain, n, &z), KERR_NONE);
	z.data[16] = 0x7f;
	assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, z.data, z.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, z.data, 12, &out, n),
	    KERR_CORRUPT_MESSAGE);
	static const uint8_t bad_block[] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0,
		0, 1, 0, 0, 0, 3, 0x0a, 0xfe, 0xff };
	uint8_t *t = exact_copy(bad_block, sizeof bad_block);
	assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, t, sizeof bad_block, &out, n),
	    KERR_CORRUPT_MESSAGE);
	free(t);
	wbuf_free(&z);

	/* Pseudo-random garbage is rejected by every codec. */
	uint8_t *junk = random_bytes(4096, 31337);
	for (size_t ci = 1; ci < NCODECS; ci++)
		assert_int_equal(compression_decompress(codecs[ci], junk, 4096, &out, 1 << 20),
		    KERR_CORRUPT_MESSAGE);
	assert_int_equal(out.len, 0);
	free(junk);
	wbuf_free(&out);
	free(plain);
}

/* ---- decompression bombs --------------------------------------------------------- */

/* 16 MiB of zeros, capped at 1 MiB: refused, and without a 16 MiB buffer. */
static void check_bomb(enum compression_codec c, int8_t magic, const uint8_t *z, size_t zlen,
    size_t plain_len)
{
	struct wbuf out;
	wbuf_init(&out);
	size_t cap = 1 << 20;
	assert_int_equal(compression_decompress_magic(c, magic, z, zlen, &out, cap),
	    KERR_MESSAGE_TOO_LARGE);
	assert_int_equal(out.len, 0);
	assert_true(out.cap <= 2 * cap + 65536);
	wbuf_free(&out);

	/* Exactly enough room succeeds; one byte less does not. */
	wbuf_init(&out);
	assert_int_equal(compression_decompress_magic(c, magic, z, zlen, &out, plain_len), KERR_NONE);
	assert_int_equal(out.len, plain_len);
	assert_int_equal(out.data[plain_len - 1], 0);
	out.len = 0;
	assert_int_equal(compression_decompress_magic(c, magic, z, zlen, &out, plain_len - 1),
	    KERR_MESSAGE_TOO_LARGE);
	assert_int_equal(out.len, 0);
	wbuf_free(&out);
}

static void test_bomb(void **state)
{
	(void)state;
	size_t n = 16u << 20;
	uint8_t *zeros = calloc(1, n);
	for (size_t ci = 1; ci < NCODECS; ci++) {
		struct wbuf z;
		assert_int_equal(compress_to(codecs[ci], compression_level_default(codecs[ci]), zeros,
					 n, &z),
		    KERR_NONE);
		assert_true(z.len < n / 16);
		check_bomb(codecs[ci], 2, z.data, z.len, n);
		wbuf_free(&z);
	}

	/* zstd without a recorded size (as Java's zstd-jni streams it). */
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
	size_t bound = ZSTD_compressBound(n);
	uint8_t *zb = malloc(bound);
	ZSTD_outBuffer ob = { zb, bound, 0 };
	ZSTD_inBuffer ib = { zeros, n, 0 };
	assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
	assert_int_equal(ZSTD_getFrameContentSize(zb, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
	check_bomb(COMPRESSION_ZSTD, 2, zb, ob.pos, n);
	ZSTD_freeCCtx(cc);

	/*
	 * (The zstd frame of the loop above records its size, but 16 MiB from
	 * a few hundred bytes is implausible, so it is streamed as well.)
	 */

	/* lz4 with the content size in the header (librdkafka does not set it). */
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.contentSize = n;
	size_t lcap = LZ4F_compressFrameBound(n, &prefs);
	uint8_t *lb = malloc(lcap);
	size_t llen = LZ4F_compressFrame(lb, lcap, zeros, n, &prefs);
	assert_false(LZ4F_isError(llen));
	check_bomb(COMPRESSION_LZ4, 2, lb, llen, n);

	/* A gzip member whose ISIZE lies about the size changes nothing. */
	struct wbuf g;
	assert_int_equal(compress_to(COMPRESSION_GZIP, 9, zeros, n, &g), KERR_NONE);
	g.data[g.len - 1] = 0x7f; /* claims ~2 GiB */
	struct wbuf out;
	wbuf_init(&out);
	assert_int_equal(compression_decompress(COMPRESSION_GZIP, g.data, g.len, &out, 1 << 20),
	    KERR_MESSAGE_TOO_LARGE);
	assert_true(out.cap <= (2u << 20) + 65536);
	wbuf_free(&out);
	wbuf_free(&g);

	free(lb);
	free(zb);
	free(zeros);
}

/* ---- concatenation ---------------------------------------------------------------- */

static void test_concatenated(void **state)
{
	(void)state;
	size_t n = 50000;
	uint8_t *a = repetitive_bytes(n);
	uint8_t *b = random_bytes(n, 5);
	uint8_t *ab = malloc(2 * n);
	memcpy(ab, a, n);
	memcpy(ab + n, b, n);
	for (size_t ci = 1; ci < NCODECS; ci++) {
		enum compression_codec c = codecs[ci];
		struct wbuf z, out;
		assert_int_equal(compress_to(c, compression_level_default(c), a, n, &z), KERR_NONE);
		assert_int_equal(compression_compress(c, compression_level_default(c), b, n, &z),
		    KERR_NONE);
		wbuf_init(&out);
		assert_int_equal(compression_decompress(c, z.data, z.len, &out, 2 * n), KERR_NONE);
		assert_int_equal(out.len, 2 * n);
		assert_memory_equal(out.data, ab, 2 * n);
		wbuf_free(&out);
		wbuf_free(&z);
	}

	/* GZIPInputStream ignores bytes after a member that are not another. */
	struct wbuf z, out;
	assert_int_equal(compress_to(COMPRESSION_GZIP, -1, a, n, &z), KERR_NONE);
	wbuf_put(&z, "\0\0\0\0trailing", 12);
	wbuf_init(&out);
	assert_int_equal(compression_decompress(COMPRESSION_GZIP, z.data, z.len, &out, n), KERR_NONE);
	assert_int_equal(out.len, n);
	wbuf_free(&out);
	wbuf_free(&z);
	free(a);
	free(b);
	free(ab);
}

/* ---- Kafka's legacy LZ4 header checksum (magic 0) ------------------------------------ */

static void test_lz4_legacy_checksum(void **state)
{
	(void)state;
	size_t n = 70000;
	uint8_t *rep = repetitive_bytes(n);
	struct wbuf legacy, proper, out;
	wbuf_init(&legacy);
	wbuf_init(&proper);
	assert_int_equal(compression_compress_magic(COMPRESSION_LZ4, 0, 9, rep, n, &legacy),
	    KERR_NONE);
	assert_int_equal(compression_compress_magic(COMPRESSION_LZ4, 1, 9, rep, n, &proper),
	    KERR_NONE);
	/* Header: magic, FLG, BD, HC.  Only HC differs. */
	assert_int_equal(legacy.len, proper.len);
	assert_int_equal(legacy.data[6], (uint8_t)(compression_xxh32(legacy.data, 6, 0) >> 8));
	assert_int_equal(proper.data[6], (uint8_t)(compression_xxh32(proper.data + 4, 2, 0) >> 8));
	assert_int_not_equal(legacy.data[6], proper.data[6]);
	assert_memory_equal(legacy.data + 7, proper.data + 7, legacy.len - 7);

	/* Magic 0 reads both (Kafka ignores the byte); magic 1 and 2 only the proper one. */
	wbuf_init(&out);
	assert_int_equal(compression_decompress_magic(COMPRESSION_LZ4, 0, legacy.data, legacy.len,
				 &out, n),
	    KERR_NONE);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, rep, n);
	out.len = 0;
	assert_int_equal(compression_decompress_magic(COMPRESSION_LZ4, 0, proper.data, proper.len,
				 &out, n),
	    KERR_NONE);
	assert_int_equal(out.len, n);
	out.len = 0;
	assert_int_equal(compression_decompress_magic(COMPRESSION_LZ4, 1, legacy.data, legacy.len,
				 &out, n),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(compression_decompress(COMPRESSION_LZ4, legacy.data, legacy.len, &out, n),
	    KERR_CORRUPT_MESSAGE);
	assert_int_equal(out.len, 0);
	check_truncations(COMPRESSION_LZ4, 0, rep, n, legacy.data, legacy.len, 5);

	/* A header with content size (and dictionary id) is fixed up as well. */
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.contentSize = n;
	size_t cap = LZ4F_compressFrameBound(n, &prefs);
	uint8_t *f = malloc(cap);
	size_t flen = LZ4F_compressFrame(f, cap, rep, n, &prefs);
	assert_false(LZ4F_isError(flen));
	assert_int_equal(f[4] & 0x08, 0x08);
	f[14] = (uint8_t)(compression_xxh32(f, 14, 0) >> 8); /* as Kafka < 0.10 wrote it */
	out.len = 0;
	assert_int_equal(compression_decompress_magic(COMPRESSION_LZ4, 0, f, flen, &out, n),
	    KERR_NONE);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, rep, n);
	free(f);

	/* Other codecs do not care about the magic. */
	struct wbuf g;
	wbuf_init(&g);
	assert_int_equal(compression_compress_magic(COMPRESSION_GZIP, 0, -1, rep, n, &g), KERR_NONE);
	out.len = 0;
	assert_int_equal(compression_decompress_magic(COMPRESSION_GZIP, 0, g.data, g.len, &out, n),
	    KERR_NONE);
	assert_int_equal(out.len, n);
	wbuf_free(&g);

	wbuf_free(&out);
	wbuf_free(&legacy);
	wbuf_free(&proper);
	free(rep);
}

/* ---- contexts ------------------------------------------------------------------------ */

static void *thread_worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	size_t n = 40000 + id * 1000;
	uint8_t *plain = malloc(n);
	for (size_t i = 0; i < n; i++)
		plain[i] = (uint8_t)((i * (id + 3)) % 251 / 7);
	int bad = 0;
	for (int round = 0; round < 20; round++) {
		for (size_t ci = 0; ci < NCODECS; ci++) {
			struct wbuf z, out;
			wbuf_init(&z);
			wbuf_init(&out);
			if (compression_compress(codecs[ci], compression_level_default(codecs[ci]), plain, n,
				&z) != KERR_NONE ||
			    compression_decompress(codecs[ci], z.data, z.len, &out, n) != KERR_NONE ||
			    out.len != n || memcmp(out.data, plain, n) != 0)
				bad++;
			wbuf_free(&z);
			wbuf_free(&out);
		}
	}
	free(plain);
	/* The thread's context is freed when it exits (LeakSanitizer checks). */
	return (void *)(uintptr_t)bad;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t t[4];
	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_worker, (void *)i), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((uintptr_t)bad, 0);
	}
}

static void test_explicit_ctx(void **state)
{
	(void)state;
	struct compression_ctx *ctx = compression_ctx_new();
	uint8_t *rep = repetitive_bytes(10000);
	for (size_t ci = 0; ci < NCODECS; ci++) {
		struct wbuf z, out;
		wbuf_init(&z);
		wbuf_init(&out);
		/* Reuse after an error must work: feed garbage first. */
		assert_int_not_equal(compression_ctx_decompress(ctx, codecs[ci], 2, rep, 100, &out,
					     codecs[ci] == COMPRESSION_NONE ? 10 : 100000),
		    KERR_NONE);
		assert_int_equal(compression_ctx_compress(ctx, codecs[ci], 2,
					 compression_level_default(codecs[ci]), rep, 10000, &z),
		    KERR_NONE);
		for (int i = 0; i < 3; i++) {
			out.len = 0;
			assert_int_equal(compression_ctx_decompress(ctx, codecs[ci], 2, z.data, z.len, &out,
						 10000),
			    KERR_NONE);
			assert_int_equal(out.len, 10000);
			assert_memory_equal(out.data, rep, 10000);
		}
		wbuf_free(&z);
		wbuf_free(&out);
	}
	/* A stream cut mid-way leaves the context usable for the next call. */
	struct wbuf z, out;
	wbuf_init(&out);
	for (size_t ci = 1; ci < NCODECS; ci++) {
		assert_int_equal(compress_to(codecs[ci], compression_level_default(codecs[ci]), rep,
					 10000, &z),
		    KERR_NONE);
		assert_int_not_equal(compression_ctx_decompress(ctx, codecs[ci], 2, z.data, z.len - 3,
					     &out, 10000),
		    KERR_NONE);
		out.len = 0;
		assert_int_equal(compression_ctx_decompress(ctx, codecs[ci], 2, z.data, z.len, &out,
					 10000),
		    KERR_NONE);
		assert_int_equal(out.len, 10000);
		wbuf_free(&z);
	}
	wbuf_free(&out);
	free(rep);
	compression_ctx_free(ctx);
}

static int teardown(void **state)
{
	(void)state;
	compression_thread_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_xxh32_matches_lz4_content_checksum),
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_roundtrip_levels),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_appends_and_rolls_back),
		cmocka_unit_test(test_unknown_codec_and_empty_input),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt_flips),
		cmocka_unit_test(test_corrupt_detected),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_concatenated),
		cmocka_unit_test(test_lz4_legacy_checksum),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_explicit_ctx),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
