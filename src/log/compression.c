/*
 * Record-batch compression: gzip, snappy (xerial framing), lz4 (frame), zstd.
 *
 * Every decoder writes straight into the caller's wbuf through a "sink" that
 * caps the output at max_out: the cap is enforced while decoding, not after,
 * so a decompression bomb costs at most max_out bytes of memory.  The library
 * contexts are reused call after call (reset, not recreated).
 */
#include "samsa/log.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "samsa/proto.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

struct compression_ctx {
	z_stream inflate;
	z_stream deflate;
	bool inflate_ready;
	bool deflate_ready;
	int deflate_level;
	LZ4F_dctx *lz4_d;
	LZ4F_cctx *lz4_c;
	ZSTD_DCtx *zstd_d;
	ZSTD_CCtx *zstd_c;
};

/* ---- names and levels ---------------------------------------------------- */

static const char *const codec_names[] = { "none", "gzip", "snappy", "lz4", "zstd" };

bool compression_codec_valid(int codec)
{
	return codec >= COMPRESSION_NONE && codec <= COMPRESSION_ZSTD;
}

const char *compression_codec_name(enum compression_codec c)
{
	if (c == COMPRESSION_PRODUCER)
		return "producer";
	return compression_codec_valid(c) ? codec_names[c] : NULL;
}

const char *compression_type_name(enum compression_codec c)
{
	return c == COMPRESSION_NONE ? "uncompressed" : compression_codec_name(c);
}

bool compression_codec_parse(const char *name, enum compression_codec *out)
{
	for (int i = COMPRESSION_NONE; i <= COMPRESSION_ZSTD; i++) {
		if (strcmp(name, codec_names[i]) == 0) {
			*out = (enum compression_codec)i;
			return true;
		}
	}
	return false;
}

bool compression_type_parse(const char *name, enum compression_codec *out)
{
	/* The topic setting says "uncompressed" where a producer says "none". */
	if (strcmp(name, "uncompressed") == 0) {
		*out = COMPRESSION_NONE;
		return true;
	}
	if (strcmp(name, "producer") == 0) {
		*out = COMPRESSION_PRODUCER;
		return true;
	}
	if (strcmp(name, "none") == 0)
		return false;
	return compression_codec_parse(name, out);
}

int compression_level_default(enum compression_codec c)
{
	switch (c) {
	case COMPRESSION_GZIP:
		return COMPRESSION_GZIP_LEVEL_DEFAULT;
	case COMPRESSION_LZ4:
		return COMPRESSION_LZ4_LEVEL_DEFAULT;
	case COMPRESSION_ZSTD:
		return COMPRESSION_ZSTD_LEVEL_DEFAULT;
	default:
		return 0;
	}
}

bool compression_level_valid(enum compression_codec c, int level)
{
	switch (c) {
	case COMPRESSION_GZIP:
		return level == -1 || (level >= 1 && level <= 9);
	case COMPRESSION_LZ4:
		return level >= 1 && level <= 17;
	case COMPRESSION_ZSTD:
		return level >= -131072 && level <= 22;
	default:
		return true;
	}
}

/* ---- helpers ------------------------------------------------------------- */

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

#define XXH_P1 0x9E3779B1u
#define XXH_P2 0x85EBCA77u
#define XXH_P3 0xC2B2AE3Du
#define XXH_P4 0x27D4EB2Fu
#define XXH_P5 0x165667B1u

static uint32_t xxh_round(uint32_t acc, uint32_t lane)
{
	return rotl32(acc + lane * XXH_P2, 13) * XXH_P1;
}

uint32_t compression_xxh32(const void *data, size_t len, uint32_t seed)
{
	const uint8_t *p = data, *end = p + len;
	uint32_t h;

	if (len >= 16) {
		uint32_t v1 = seed + XXH_P1 + XXH_P2, v2 = seed + XXH_P2;
		uint32_t v3 = seed, v4 = seed - XXH_P1;
		for (; end - p >= 16; p += 16) {
			v1 = xxh_round(v1, le32_load(p));
			v2 = xxh_round(v2, le32_load(p + 4));
			v3 = xxh_round(v3, le32_load(p + 8));
			v4 = xxh_round(v4, le32_load(p + 12));
		}
		h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
	} else {
		h = seed + XXH_P5;
	}
	h += (uint32_t)len;
	for (; end - p >= 4; p += 4)
		h = rotl32(h + le32_load(p) * XXH_P3, 17) * XXH_P4;
	for (; p < end; p++)
		h = rotl32(h + *p * XXH_P5, 11) * XXH_P1;
	h ^= h >> 15;
	h *= XXH_P2;
	h ^= h >> 13;
	h *= XXH_P3;
	h ^= h >> 16;
	return h;
}

/*
 * The output side of one decompression.  Bytes appended since `start` may
 * reach max_out + 1 (`limit`): one byte over is how an overlong stream is
 * told apart from one that ends exactly at max_out.
 */
struct sink {
	struct wbuf *w;
	size_t start;
	size_t max_out;
	size_t limit;
	size_t want; /* free space to offer the next decoder call */
};

#define SINK_MIN_STEP 4096

static void sink_init(struct sink *s, struct wbuf *w, size_t max_out)
{
	s->w = w;
	s->start = w->len;
	s->max_out = max_out;
	s->limit = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;
	s->want = SINK_MIN_STEP;
}

static size_t sink_len(const struct sink *s) { return s->w->len - s->start; }
static bool sink_over(const struct sink *s) { return sink_len(s) > s->max_out; }

/*
 * Size the first buffer from what the stream says it will produce, but
 * never believe more than max_ratio times the input: the claim is the
 * sender's, and a lie must not make us reserve max_out up front.
 */
static void sink_expect(struct sink *s, uint64_t claim, size_t in_len, size_t max_ratio)
{
	uint64_t plausible = (uint64_t)in_len * max_ratio + 65536;
	uint64_t n = claim < plausible ? claim : plausible;
	if (n < SINK_MIN_STEP)
		n = SINK_MIN_STEP;
	s->want = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

/* Free space for the next decoder call (0 when the cap is reached). */
static size_t sink_room(struct sink *s)
{
	size_t left = s->limit - sink_len(s);
	size_t want = s->want < left ? s->want : left;
	if (want == 0)
		return 0;
	if (s->w->cap - s->w->len < want)
		wbuf_reserve(s->w, want);
	size_t have = s->w->cap - s->w->len;
	return have < left ? have : left;
}

static uint8_t *sink_ptr(const struct sink *s) { return s->w->data + s->w->len; }

/* The decoder filled what it was offered: offer twice as much next time. */
static void sink_filled(struct sink *s)
{
	size_t n = sink_len(s);
	if (s->want < n)
		s->want = n;
	if (s->want < SINK_MIN_STEP)
		s->want = SINK_MIN_STEP;
}

/* Worst-case expansion ratios of each format, to judge size claims. */
#define GZIP_MAX_RATIO 1032
#define LZ4_MAX_RATIO 255
#define ZSTD_PLAUSIBLE_RATIO 1024

/* ---- gzip ---------------------------------------------------------------- */

static int gzip_decompress(struct compression_ctx *ctx, const uint8_t *in, size_t in_len,
    struct sink *s)
{
	z_stream *z = &ctx->inflate;

	if (!ctx->inflate_ready) {
		memset(z, 0, sizeof *z);
		/* 15 + 16: gzip wrapper only, as java.util.zip.GZIPInputStream. */
		if (inflateInit2(z, 15 + 16) != Z_OK)
			fatal("zlib: inflateInit2 failed");
		ctx->inflate_ready = true;
	} else {
		inflateReset(z);
	}

	/* ISIZE (the last 4 bytes) is the plaintext size mod 2^32: a hint. */
	if (in_len >= 18)
		sink_expect(s, le32_load(in + in_len - 4), in_len, GZIP_MAX_RATIO);

	const uint8_t *next = in;
	size_t left = in_len;
	z->next_in = NULL;
	z->avail_in = 0;
	for (;;) {
		if (z->avail_in == 0 && left > 0) {
			uInt n = left > UINT_MAX ? UINT_MAX : (uInt)left;
			z->next_in = (Bytef *)next;
			z->avail_in = n;
			next += n;
			left -= n;
		}
		size_t room = sink_room(s);
		if (room == 0)
			return KERR_MESSAGE_TOO_LARGE;
		uInt avail = room > UINT_MAX ? UINT_MAX : (uInt)room;
		z->next_out = sink_ptr(s);
		z->avail_out = avail;
		int rc = inflate(z, Z_NO_FLUSH);
		s->w->len += avail - z->avail_out;
		if (sink_over(s))
			return KERR_MESSAGE_TOO_LARGE;
		if (z->avail_out == 0)
			sink_filled(s);

		if (rc == Z_STREAM_END) {
			/*
			 * GZIPInputStream reads concatenated members and ignores
			 * whatever follows that is not one; do the same.
			 */
			size_t rest = z->avail_in + left;
			if (rest >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
				inflateReset(z);
				continue;
			}
			return KERR_NONE;
		}
		if (rc == Z_OK)
			continue;
		if (rc == Z_BUF_ERROR && z->avail_out == 0)
			continue;
		/* Z_BUF_ERROR with room left means the input ended early. */
		return KERR_CORRUPT_MESSAGE;
	}
}

static int gzip_level(int level)
{
	return level >= 0 && level <= 9 ? level : Z_DEFAULT_COMPRESSION;
}

static int gzip_compress(struct compression_ctx *ctx, int level, const uint8_t *in, size_t in_len,
    struct wbuf *out)
{
	z_stream *z = &ctx->deflate;

	level = gzip_level(level);
	if (!ctx->deflate_ready) {
		memset(z, 0, sizeof *z);
		if (deflateInit2(z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			fatal("zlib: deflateInit2 failed");
		ctx->deflate_ready = true;
		ctx->deflate_level = level;
	} else {
		deflateReset(z);
		/* Right after a reset this only records the new level. */
		if (level != ctx->deflate_level) {
			if (deflateParams(z, level, Z_DEFAULT_STRATEGY) != Z_OK)
				return KERR_UNKNOWN_SERVER_ERROR;
			ctx->deflate_level = level;
		}
	}

	const uint8_t *next = in;
	size_t left = in_len;
	for (;;) {
		if (z->avail_in == 0 && left > 0) {
			uInt n = left > UINT_MAX ? UINT_MAX : (uInt)left;
			z->next_in = (Bytef *)next;
			z->avail_in = n;
			next += n;
			left -= n;
		}
		uLong bound = deflateBound(z, z->avail_in + left);
		wbuf_reserve(out, bound > UINT_MAX ? UINT_MAX : bound);
		size_t room = out->cap - out->len;
		uInt avail = room > UINT_MAX ? UINT_MAX : (uInt)room;
		z->next_out = out->data + out->len;
		z->avail_out = avail;
		int rc = deflate(z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
		out->len += avail - z->avail_out;
		if (rc == Z_STREAM_END)
			return KERR_NONE;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return KERR_UNKNOWN_SERVER_ERROR;
	}
}

/* ---- snappy (xerial snappy-java stream framing) --------------------------- */

/*
 * snappy-java's SnappyOutputStream: 8-byte magic, int32 version and int32
 * oldest compatible version (both 1), then blocks of at most 32 KiB, each
 * raw snappy prefixed with its big-endian int32 length.
 */
static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
#define XERIAL_HEADER_LEN 16
#define XERIAL_BLOCK (32 * 1024)

static int snappy_block(const uint8_t *blk, size_t n, struct sink *s)
{
	size_t ulen;

	if (snappy_uncompressed_length((const char *)blk, n, &ulen) != SNAPPY_OK)
		return KERR_CORRUPT_MESSAGE;
	if (ulen > s->max_out - sink_len(s))
		return KERR_MESSAGE_TOO_LARGE;
	wbuf_reserve(s->w, ulen ? ulen : 1);
	size_t got = ulen;
	if (snappy_uncompress((const char *)blk, n, (char *)sink_ptr(s), &got) != SNAPPY_OK ||
	    got != ulen)
		return KERR_CORRUPT_MESSAGE;
	s->w->len += got;
	return KERR_NONE;
}

static int snappy_decompress(const uint8_t *in, size_t in_len, struct sink *s)
{
	/*
	 * Without the xerial magic the whole input is one raw snappy block:
	 * librdkafka produces that, and snappy-java reads it the same way.
	 */
	if (in_len < sizeof xerial_magic || memcmp(in, xerial_magic, sizeof xerial_magic) != 0)
		return snappy_block(in, in_len, s);
	if (in_len < XERIAL_HEADER_LEN)
		return KERR_CORRUPT_MESSAGE;

	size_t pos = XERIAL_HEADER_LEN;
	while (pos < in_len) {
		size_t rest = in_len - pos;
		/*
		 * Concatenated streams repeat the header.  No block length can
		 * start with 0x82 (it would exceed 2 GiB), so this is unambiguous.
		 */
		if (rest >= sizeof xerial_magic &&
		    memcmp(in + pos, xerial_magic, sizeof xerial_magic) == 0) {
			if (rest < XERIAL_HEADER_LEN)
				return KERR_CORRUPT_MESSAGE;
			pos += XERIAL_HEADER_LEN;
			continue;
		}
		if (rest < 4)
			return KERR_CORRUPT_MESSAGE;
		uint32_t n = be32_load(in + pos);
		pos += 4;
		if (n > in_len - pos)
			return KERR_CORRUPT_MESSAGE;
		int err = snappy_block(in + pos, n, s);
		if (err)
			return err;
		pos += n;
	}
	return KERR_NONE;
}

static int snappy_compress_xerial(const uint8_t *in, size_t in_len, struct wbuf *out)
{
	uint8_t *h = wbuf_extend(out, XERIAL_HEADER_LEN);
	memcpy(h, xerial_magic, sizeof xerial_magic);
	memcpy(h + 8, "\0\0\0\1\0\0\0\1", 8);

	for (size_t off = 0; off < in_len;) {
		size_t n = in_len - off < XERIAL_BLOCK ? in_len - off : XERIAL_BLOCK;
		size_t clen = snappy_max_compressed_length(n);
		wbuf_reserve(out, 4 + clen);
		size_t at = out->len;
		if (snappy_compress((const char *)in + off, n, (char *)out->data + at + 4, &clen) !=
		    SNAPPY_OK)
			return KERR_UNKNOWN_SERVER_ERROR;
		out->len += 4;
		wbuf_patch_i32(out, at, (int32_t)clen);
		out->len += clen;
		off += n;
	}
	return KERR_NONE;
}

/* ---- lz4 (frame format) -------------------------------------------------- */

#define LZ4_FRAME_MAGIC 0x184D2204u

static LZ4F_dctx *lz4_dctx(struct compression_ctx *ctx)
{
	if (!ctx->lz4_d && LZ4F_isError(LZ4F_createDecompressionContext(&ctx->lz4_d, LZ4F_VERSION)))
		fatal("lz4: cannot create a decompression context");
	return ctx->lz4_d;
}

/*
 * Length of the frame header at in (magic, FLG, BD, optional content size
 * and dictionary id, header checksum); 0 if it is not a whole LZ4 frame
 * header.
 */
static size_t lz4_header_len(const uint8_t *in, size_t in_len)
{
	if (in_len < 7 || le32_load(in) != LZ4_FRAME_MAGIC)
		return 0;
	uint8_t flg = in[4];
	size_t n = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0) + 1;
	return in_len < n ? 0 : n;
}

/* The checksum byte as the LZ4 frame format defines it (descriptor only). */
static uint8_t lz4_hc(const uint8_t *hdr, size_t len)
{
	return (uint8_t)(compression_xxh32(hdr + 4, len - 5, 0) >> 8);
}

/* Kafka's pre-0.10 checksum byte, which also hashed the magic number. */
static uint8_t lz4_hc_kafka_legacy(const uint8_t *hdr, size_t len)
{
	return (uint8_t)(compression_xxh32(hdr, len - 1, 0) >> 8);
}

static int lz4_decompress(struct compression_ctx *ctx, bool legacy_hc, const uint8_t *in,
    size_t in_len, struct sink *s)
{
	LZ4F_dctx *d = lz4_dctx(ctx);
	const uint8_t *next = in;
	size_t left = in_len;

	/* A previous call may have stopped mid-frame. */
	LZ4F_resetDecompressionContext(d);
	if (in_len == 0)
		return KERR_CORRUPT_MESSAGE;

	while (left > 0) {
		/* Frame header: read it first for the content size hint. */
		LZ4F_frameInfo_t fi;
		size_t used, r;
		if (legacy_hc) {
			/* Kafka ignores this byte for magic 0; so recompute it. */
			uint8_t hdr[LZ4F_HEADER_SIZE_MAX];
			size_t hlen = lz4_header_len(next, left);
			if (hlen == 0 || hlen > sizeof hdr)
				return KERR_CORRUPT_MESSAGE;
			memcpy(hdr, next, hlen);
			hdr[hlen - 1] = lz4_hc(hdr, hlen);
			used = hlen;
			r = LZ4F_getFrameInfo(d, &fi, hdr, &used);
			if (!LZ4F_isError(r) && used != hlen)
				r = (size_t)-1;
		} else {
			used = left;
			r = LZ4F_getFrameInfo(d, &fi, next, &used);
		}
		if (LZ4F_isError(r)) {
			LZ4F_resetDecompressionContext(d);
			return KERR_CORRUPT_MESSAGE;
		}
		next += used;
		left -= used;
		if (fi.contentSize)
			sink_expect(s, fi.contentSize, in_len, LZ4_MAX_RATIO);

		/* Blocks, up to the end mark (and content checksum). */
		for (;;) {
			size_t room = sink_room(s);
			if (room == 0) {
				LZ4F_resetDecompressionContext(d);
				return KERR_MESSAGE_TOO_LARGE;
			}
			size_t dsz = room, ssz = left;
			r = LZ4F_decompress(d, sink_ptr(s), &dsz, next, &ssz, NULL);
			if (LZ4F_isError(r)) {
				LZ4F_resetDecompressionContext(d);
				return KERR_CORRUPT_MESSAGE;
			}
			next += ssz;
			left -= ssz;
			s->w->len += dsz;
			if (sink_over(s)) {
				LZ4F_resetDecompressionContext(d);
				return KERR_MESSAGE_TOO_LARGE;
			}
			if (r == 0)
				break; /* frame complete; another may follow */
			if (ssz == 0 && dsz == 0) {
				/* No progress with input and room: never loop on it. */
				LZ4F_resetDecompressionContext(d);
				return KERR_CORRUPT_MESSAGE;
			}
			if (dsz == room) {
				sink_filled(s);
			} else if (left == 0) {
				/* Wants more input, had room to spare: truncated. */
				LZ4F_resetDecompressionContext(d);
				return KERR_CORRUPT_MESSAGE;
			}
		}
	}
	return KERR_NONE;
}

static int lz4_compress(struct compression_ctx *ctx, bool legacy_hc, int level,
    const uint8_t *in, size_t in_len, struct wbuf *out)
{
	if (!ctx->lz4_c && LZ4F_isError(LZ4F_createCompressionContext(&ctx->lz4_c, LZ4F_VERSION)))
		fatal("lz4: cannot create a compression context");

	/* As Kafka's Lz4BlockOutputStream: 64 KiB independent blocks, no checksums. */
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	prefs.compressionLevel = level;
	/*
	 * The whole input comes in one call, so flushing changes no block
	 * boundary; it does spare liblz4 its staging buffer, which it would
	 * otherwise reallocate for every frame.
	 */
	prefs.autoFlush = 1;

	wbuf_reserve(out, LZ4F_compressFrameBound(in_len, &prefs));
	uint8_t *dst = out->data + out->len;
	size_t cap = out->cap - out->len;

	size_t hlen = LZ4F_compressBegin(ctx->lz4_c, dst, cap, &prefs);
	if (LZ4F_isError(hlen))
		return KERR_UNKNOWN_SERVER_ERROR;
	size_t n = hlen;
	if (in_len > 0) {
		size_t r = LZ4F_compressUpdate(ctx->lz4_c, dst + n, cap - n, in, in_len, NULL);
		if (LZ4F_isError(r))
			return KERR_UNKNOWN_SERVER_ERROR;
		n += r;
	}
	size_t r = LZ4F_compressEnd(ctx->lz4_c, dst + n, cap - n, NULL);
	if (LZ4F_isError(r))
		return KERR_UNKNOWN_SERVER_ERROR;
	n += r;
	if (legacy_hc)
		dst[hlen - 1] = lz4_hc_kafka_legacy(dst, hlen);
	out->len += n;
	return KERR_NONE;
}

/* ---- zstd ---------------------------------------------------------------- */

static int zstd_decompress(struct compression_ctx *ctx, const uint8_t *in, size_t in_len,
    struct sink *s)
{
	if (!ctx->zstd_d && !(ctx->zstd_d = ZSTD_createDCtx()))
		fatal("zstd: cannot create a decompression context");
	ZSTD_DCtx *d = ctx->zstd_d;

	if (in_len == 0)
		return KERR_CORRUPT_MESSAGE;

	/*
	 * When the input is one frame that records its size (and the claim
	 * is believable), decode in one shot straight into the output: no
	 * window buffer.  Kafka's Java producer streams without a size, so
	 * the other path is the common one for Java clients.
	 */
	unsigned long long size = ZSTD_getFrameContentSize(in, in_len);
	if (size == ZSTD_CONTENTSIZE_ERROR)
		return KERR_CORRUPT_MESSAGE;
	if (size != ZSTD_CONTENTSIZE_UNKNOWN && ZSTD_findFrameCompressedSize(in, in_len) == in_len) {
		if (size > s->max_out)
			return KERR_MESSAGE_TOO_LARGE;
		if (size <= (unsigned long long)in_len * ZSTD_PLAUSIBLE_RATIO + 65536) {
			wbuf_reserve(s->w, size ? (size_t)size : 1);
			size_t r = ZSTD_decompressDCtx(d, sink_ptr(s), (size_t)size, in, in_len);
			if (ZSTD_isError(r) || r != size)
				return KERR_CORRUPT_MESSAGE;
			s->w->len += r;
			return KERR_NONE;
		}
		sink_expect(s, size, in_len, ZSTD_PLAUSIBLE_RATIO);
	}

	ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
	ZSTD_inBuffer ib = { in, in_len, 0 };
	for (;;) {
		size_t room = sink_room(s);
		if (room == 0) {
			ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
			return KERR_MESSAGE_TOO_LARGE;
		}
		ZSTD_outBuffer ob = { sink_ptr(s), room, 0 };
		size_t r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r)) {
			ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
			return KERR_CORRUPT_MESSAGE;
		}
		s->w->len += ob.pos;
		if (sink_over(s)) {
			ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
			return KERR_MESSAGE_TOO_LARGE;
		}
		if (r == 0) {
			/* A frame ended and is fully flushed; more frames may follow. */
			if (ib.pos == ib.size)
				return KERR_NONE;
			continue;
		}
		if (ob.pos == ob.size) {
			sink_filled(s);
		} else if (ib.pos == ib.size) {
			ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
			return KERR_CORRUPT_MESSAGE; /* truncated */
		}
	}
}

static int zstd_compress(struct compression_ctx *ctx, int level, const uint8_t *in, size_t in_len,
    struct wbuf *out)
{
	if (!ctx->zstd_c && !(ctx->zstd_c = ZSTD_createCCtx()))
		fatal("zstd: cannot create a compression context");
	ZSTD_CCtx *c = ctx->zstd_c;

	ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
	/* zstd clamps the level into its own range. */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)))
		return KERR_UNKNOWN_SERVER_ERROR;
	size_t bound = ZSTD_compressBound(in_len);
	wbuf_reserve(out, bound);
	size_t r = ZSTD_compress2(c, out->data + out->len, out->cap - out->len, in, in_len);
	if (ZSTD_isError(r))
		return KERR_UNKNOWN_SERVER_ERROR;
	out->len += r;
	return KERR_NONE;
}

/* ---- contexts and entry points ------------------------------------------- */

struct compression_ctx *compression_ctx_new(void)
{
	return xcalloc(1, sizeof(struct compression_ctx));
}

void compression_ctx_free(struct compression_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->inflate_ready)
		inflateEnd(&ctx->inflate);
	if (ctx->deflate_ready)
		deflateEnd(&ctx->deflate);
	LZ4F_freeDecompressionContext(ctx->lz4_d);
	LZ4F_freeCompressionContext(ctx->lz4_c);
	ZSTD_freeDCtx(ctx->zstd_d);
	ZSTD_freeCCtx(ctx->zstd_c);
	free(ctx);
}

int compression_ctx_decompress(struct compression_ctx *ctx, enum compression_codec c,
    int8_t magic, const uint8_t *in, size_t in_len, struct wbuf *out, size_t max_out)
{
	struct sink s;
	int err;

	sink_init(&s, out, max_out);
	switch (c) {
	case COMPRESSION_NONE:
		if (in_len > max_out)
			return KERR_MESSAGE_TOO_LARGE;
		wbuf_put(out, in, in_len);
		return KERR_NONE;
	case COMPRESSION_GZIP:
		err = gzip_decompress(ctx, in, in_len, &s);
		break;
	case COMPRESSION_SNAPPY:
		err = in_len ? snappy_decompress(in, in_len, &s) : KERR_CORRUPT_MESSAGE;
		break;
	case COMPRESSION_LZ4:
		err = lz4_decompress(ctx, magic == 0, in, in_len, &s);
		break;
	case COMPRESSION_ZSTD:
		err = zstd_decompress(ctx, in, in_len, &s);
		break;
	default:
		return KERR_CORRUPT_MESSAGE;
	}
	if (err)
		out->len = s.start;
	return err;
}

int compression_ctx_compress(struct compression_ctx *ctx, enum compression_codec c,
    int8_t magic, int level, const uint8_t *in, size_t in_len, struct wbuf *out)
{
	size_t start = out->len;
	int err;

	switch (c) {
	case COMPRESSION_NONE:
		wbuf_put(out, in, in_len);
		return KERR_NONE;
	case COMPRESSION_GZIP:
		err = gzip_compress(ctx, level, in, in_len, out);
		break;
	case COMPRESSION_SNAPPY:
		err = snappy_compress_xerial(in, in_len, out);
		break;
	case COMPRESSION_LZ4:
		err = lz4_compress(ctx, magic == 0, level, in, in_len, out);
		break;
	case COMPRESSION_ZSTD:
		err = zstd_compress(ctx, level, in, in_len, out);
		break;
	default:
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	if (err)
		out->len = start;
	return err;
}

/*
 * One context per thread.  The __thread pointer is the fast path; the
 * pthread key only exists so that an exiting thread frees its context.
 */
static __thread struct compression_ctx *thread_ctx;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_ctx_destroy(void *p)
{
	compression_ctx_free(p);
	thread_ctx = NULL;
}

static void thread_key_init(void)
{
	if (pthread_key_create(&thread_key, thread_ctx_destroy) != 0)
		fatal("compression: pthread_key_create failed");
}

static struct compression_ctx *my_ctx(void)
{
	if (thread_ctx)
		return thread_ctx;
	pthread_once(&thread_key_once, thread_key_init);
	thread_ctx = compression_ctx_new();
	pthread_setspecific(thread_key, thread_ctx);
	return thread_ctx;
}

void compression_thread_cleanup(void)
{
	if (!thread_ctx)
		return;
	pthread_setspecific(thread_key, NULL);
	compression_ctx_free(thread_ctx);
	thread_ctx = NULL;
}

int compression_decompress(enum compression_codec c, const uint8_t *in, size_t in_len,
    struct wbuf *out, size_t max_out)
{
	return compression_ctx_decompress(my_ctx(), c, 2, in, in_len, out, max_out);
}

int compression_compress(enum compression_codec c, int level, const uint8_t *in, size_t in_len,
    struct wbuf *out)
{
	return compression_ctx_compress(my_ctx(), c, 2, level, in, in_len, out);
}

int compression_decompress_magic(enum compression_codec c, int8_t magic, const uint8_t *in,
    size_t in_len, struct wbuf *out, size_t max_out)
{
	return compression_ctx_decompress(my_ctx(), c, magic, in, in_len, out, max_out);
}

int compression_compress_magic(enum compression_codec c, int8_t magic, int level,
    const uint8_t *in, size_t in_len, struct wbuf *out)
{
	return compression_ctx_compress(my_ctx(), c, magic, level, in, in_len, out);
}
