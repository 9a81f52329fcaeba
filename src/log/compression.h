/*
 * Record-batch compression: the four codecs a batch's attributes can name,
 * each in the framing Kafka puts inside a batch (gzip stream, xerial-framed
 * snappy, LZ4 frame, zstd frame), plus the topic-level compression.type and
 * level settings.
 *
 * Decompression treats its input as hostile: it never reads past in_len,
 * never produces more than max_out bytes (a few KiB of zstd can claim
 * gigabytes), and reports garbage as CORRUPT_MESSAGE.  The library contexts
 * (z_stream, LZ4F and zstd contexts) live in a struct compression_ctx that is
 * reused call after call; compression_compress/_decompress use one per
 * thread, created on first use, so the hot path allocates nothing beyond
 * growing the output buffer.
 */
#ifndef SAMSA_LOG_COMPRESSION_H
#define SAMSA_LOG_COMPRESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Values of the codec bits (attributes & 0x07) of a v2 batch or v0/v1 wrapper. */
enum compression_codec {
	COMPRESSION_NONE = 0,
	COMPRESSION_GZIP = 1,
	COMPRESSION_SNAPPY = 2,
	COMPRESSION_LZ4 = 3,
	COMPRESSION_ZSTD = 4,
	/*
	 * compression.type=producer: keep whatever the producer used.  Only a
	 * topic setting, never a batch attribute; compress/decompress refuse it.
	 */
	COMPRESSION_PRODUCER = -1,
};

#define COMPRESSION_CODEC_MASK 0x07

/* Topic/broker config defaults (compression.gzip.level etc. in Kafka 3.9). */
#define COMPRESSION_GZIP_LEVEL_DEFAULT (-1) /* zlib's default, i.e. 6 */
#define COMPRESSION_LZ4_LEVEL_DEFAULT 9
#define COMPRESSION_ZSTD_LEVEL_DEFAULT 3

/*
 * Codec name as a batch codec / producer setting: "none", "gzip", "snappy",
 * "lz4", "zstd" ("producer" for COMPRESSION_PRODUCER); NULL when out of range.
 */
const char *compression_codec_name(enum compression_codec c);
/*
 * Value of the topic config compression.type for c: "uncompressed" for
 * COMPRESSION_NONE, "producer" for COMPRESSION_PRODUCER, else as above.
 */
const char *compression_type_name(enum compression_codec c);
/*
 * Parse a compression.type value (exact, lower case, as Kafka validates it):
 * uncompressed, gzip, snappy, lz4, zstd, producer.  False when unknown.
 */
bool compression_type_parse(const char *name, enum compression_codec *out);
/* Parse a codec name as a producer names it ("none", "gzip", ...). */
bool compression_codec_parse(const char *name, enum compression_codec *out);
/* True for the codecs that can appear in a batch (0..4). */
bool compression_codec_valid(int codec);

/* Default level for c (0 for codecs without levels). */
int compression_level_default(enum compression_codec c);
/*
 * Whether level is accepted for c by Kafka's config validation:
 * gzip 1..9 or -1, lz4 1..17, zstd -131072..22; anything for none/snappy.
 */
bool compression_level_valid(enum compression_codec c, int level);

/*
 * Decompress a v2 batch's records region (or a magic 1 wrapper's value),
 * appending the plaintext to out.  At most max_out bytes are appended.
 * Returns KERR_NONE, KERR_CORRUPT_MESSAGE for truncated/garbage input or an
 * unknown codec, KERR_MESSAGE_TOO_LARGE when the plaintext would exceed
 * max_out.  On error out->len is back where it was.
 * COMPRESSION_NONE copies the input.  Uses the calling thread's context.
 */
int compression_decompress(enum compression_codec c, const uint8_t *in, size_t in_len,
    struct wbuf *out, size_t max_out);

/*
 * Compress in_len bytes, appending the compressed stream to out, framed as
 * Kafka frames it in a v2 batch.  level as in the topic config (clamped into
 * the codec's range; ignored by none/snappy).  Returns KERR_NONE, or
 * KERR_UNKNOWN_SERVER_ERROR for an unknown codec or a library failure (out
 * then unchanged).  Uses the calling thread's context.
 */
int compression_compress(enum compression_codec c, int level, const uint8_t *in, size_t in_len,
    struct wbuf *out);

/*
 * The same for the value of a magic 0/1 wrapper message.  The only
 * difference is LZ4 with magic 0: Kafka before 0.10 computed the frame's
 * header checksum over the magic number too (KAFKA-3160), so on read the
 * checksum byte is ignored and on write the broken one is produced.
 */
int compression_decompress_magic(enum compression_codec c, int8_t magic, const uint8_t *in,
    size_t in_len, struct wbuf *out, size_t max_out);
int compression_compress_magic(enum compression_codec c, int8_t magic, int level,
    const uint8_t *in, size_t in_len, struct wbuf *out);

/*
 * Explicit contexts, for callers that manage their own (one per thread: a
 * context must not be used by two threads at once).  Library state inside is
 * created lazily, the first time each codec is used.
 */
struct compression_ctx;
struct compression_ctx *compression_ctx_new(void);
void compression_ctx_free(struct compression_ctx *ctx);
int compression_ctx_decompress(struct compression_ctx *ctx, enum compression_codec c,
    int8_t magic, const uint8_t *in, size_t in_len, struct wbuf *out, size_t max_out);
int compression_ctx_compress(struct compression_ctx *ctx, enum compression_codec c,
    int8_t magic, int level, const uint8_t *in, size_t in_len, struct wbuf *out);

/*
 * Free the calling thread's context now.  Contexts of exiting threads are
 * freed automatically; this is for the main thread at shutdown (so leak
 * checkers stay quiet) and for tests.
 */
void compression_thread_cleanup(void);

/* XXH32 (used by the LZ4 frame header checksum); exposed for tests. */
uint32_t compression_xxh32(const void *p, size_t len, uint32_t seed);

#endif
