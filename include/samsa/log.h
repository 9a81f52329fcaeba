/*
 * The interface of src/log/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_LOG_H
#define SAMSA_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/buf.h"

/*
 * Record batches (magic v2) as bytes: parse and check a batch header in
 * place, walk the records of a batch, patch the fields the broker owns
 * (base offset, partition leader epoch, LogAppendTime) and validate the
 * "records" blob a producer sent, answering with Kafka's error codes.
 *
 * Nothing here copies or allocates: a struct record_batch and struct record
 * point into the caller's buffer.  Layout: DISK-FORMAT.md section 2.
 */
/* Every batch of every magic starts with BaseOffset int64 + Length int32. */
#define RB_LOG_OVERHEAD 12
/* ...and has its magic byte here, so 17 bytes tell how to read the rest. */
#define RB_MAGIC_OFFSET 16
#define RB_HEADER_SIZE 61 /* a v2 batch with no records */

/* Byte offsets of the v2 header fields. */
#define RB_OFF_BASE_OFFSET 0
#define RB_OFF_LENGTH 8
#define RB_OFF_LEADER_EPOCH 12
#define RB_OFF_CRC 17
#define RB_OFF_ATTRIBUTES 21
#define RB_OFF_LAST_OFFSET_DELTA 23
#define RB_OFF_BASE_TIMESTAMP 27
#define RB_OFF_MAX_TIMESTAMP 35
#define RB_OFF_PRODUCER_ID 43
#define RB_OFF_PRODUCER_EPOCH 51
#define RB_OFF_BASE_SEQUENCE 53
#define RB_OFF_RECORD_COUNT 57
#define RB_OFF_RECORDS 61

/* The smallest legacy entry (v0 message with empty key and value), Kafka's
 * RECORD_OVERHEAD_V0: a Length below it is corrupt whatever the magic. */
#define RB_MIN_LEGACY_SIZE 14

#define RB_MAGIC_V0 0
#define RB_MAGIC_V1 1
#define RB_MAGIC_V2 2

#define RB_ATTR_CODEC_MASK 0x07
#define RB_ATTR_LOG_APPEND_TIME 0x08
#define RB_ATTR_TRANSACTIONAL 0x10
#define RB_ATTR_CONTROL 0x20
#define RB_ATTR_DELETE_HORIZON 0x40

#define RB_NO_TIMESTAMP (-1LL)
#define RB_NO_PRODUCER_ID (-1LL)
#define RB_NO_SEQUENCE (-1)
#define RB_NO_PARTITION_LEADER_EPOCH (-1)

/* The header of one v2 batch, read from bytes that stay the caller's. */
struct record_batch {
	const uint8_t *data; /* first byte of the batch */
	uint32_t size;       /* whole batch: Length + 12 */
	int64_t base_offset;
	int32_t length;
	int32_t partition_leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
};

static inline int record_batch_codec(const struct record_batch *b)
{
	return b->attributes & RB_ATTR_CODEC_MASK;
}
static inline bool record_batch_is_log_append_time(const struct record_batch *b)
{
	return (b->attributes & RB_ATTR_LOG_APPEND_TIME) != 0;
}
static inline bool record_batch_is_transactional(const struct record_batch *b)
{
	return (b->attributes & RB_ATTR_TRANSACTIONAL) != 0;
}
static inline bool record_batch_is_control(const struct record_batch *b)
{
	return (b->attributes & RB_ATTR_CONTROL) != 0;
}
static inline int64_t record_batch_last_offset(const struct record_batch *b)
{
	return b->base_offset + b->last_offset_delta;
}
static inline int64_t record_batch_next_offset(const struct record_batch *b)
{
	return record_batch_last_offset(b) + 1;
}
/* The records region: plain records, or one compressed stream of them. */
static inline const uint8_t *record_batch_records(const struct record_batch *b)
{
	return b->data + RB_OFF_RECORDS;
}
static inline size_t record_batch_records_len(const struct record_batch *b)
{
	return b->size - RB_OFF_RECORDS;
}

/*
 * Read the 17 bytes every batch of every magic starts with.  *size is the
 * whole entry (Length + 12).  Returns false when fewer than 17 bytes are
 * there or Length is below the smallest possible entry.  Works for legacy
 * v0/v1 entries too, whose "base offset" is the entry's (last) offset.
 */
bool record_batch_peek(const uint8_t *p, size_t len, int64_t *base_offset, uint32_t *size,
    int8_t *magic);

/*
 * Parse the header of the batch at p (len bytes available, possibly more
 * than one batch).  Returns KERR_NONE, KERR_CORRUPT_MESSAGE when the bytes
 * cannot be a batch (short, Length out of range), or
 * KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT for magic 0/1 (then only data, size,
 * base_offset, length and magic are set).  The CRC is not checked here.
 */
int record_batch_parse(const uint8_t *p, size_t len, struct record_batch *b);

/* CRC-32C over Attributes..end of the batch at p of size bytes. */
uint32_t record_batch_compute_crc(const uint8_t *p, size_t size);
bool record_batch_crc_ok(const struct record_batch *b);

/*
 * Broker-owned fields, patched in place.  BaseOffset and
 * PartitionLeaderEpoch sit before the CRC'd region, so setting them keeps
 * the CRC valid and costs nothing; the max timestamp and the timestamp type
 * are covered, so record_batch_set_log_append_time recomputes the CRC.
 */
void record_batch_set_base_offset(uint8_t *p, int64_t base_offset);
void record_batch_set_partition_leader_epoch(uint8_t *p, int32_t epoch);
/* Mark the batch LogAppendTime with max timestamp t (Kafka keeps the
 * records' own deltas; readers take t for every record). */
void record_batch_set_log_append_time(uint8_t *p, size_t size, int64_t t);
/* Set MaxTimestamp (CreateTime stays) and recompute the CRC. */
void record_batch_set_max_timestamp(uint8_t *p, size_t size, int64_t t);
void record_batch_update_crc(uint8_t *p, size_t size);

/* One record of a batch; key/value point into the batch (ptr NULL = null). */
struct record {
	const uint8_t *start; /* the record's Length varint */
	size_t size;          /* Length varint + body */
	int8_t attributes;
	int64_t timestamp_delta;
	int32_t offset_delta;
	struct kbytes key;
	struct kbytes value;
	int32_t header_count;
	const uint8_t *headers; /* header_count headers, walk with record_header_next */
	size_t headers_len;
};

struct record_header {
	struct kstr key; /* never null */
	struct kbytes value;
};

/* Walks plain (uncompressed or already decompressed) records. */
struct record_iter {
	struct rd r;
	int32_t left; /* records still expected */
	int32_t index;
	int err;         /* KERR_INVALID_RECORD once something is malformed */
	const char *why; /* what was malformed, for error messages */
};

/* count = the batch's RecordCount; a negative count is an error at once. */
void record_iter_init(struct record_iter *it, const uint8_t *records, size_t len, int32_t count);
/*
 * Next record into *rec; false at the end or on a malformed record (then
 * it->err is set).  After the last record the region must be used up
 * exactly, else it->err is set too.
 */
bool record_iter_next(struct record_iter *it, struct record *rec);

/* Next header of a record (headers/headers_len); false at the end or when
 * malformed (r->err then set).  Call at most header_count times. */
bool record_header_next(struct rd *r, struct record_header *h);

/*
 * What records_validate checks beyond the bytes themselves.  Defaults
 * (records_validate_opts_init) validate as for a client's produce:
 * CreateTime topic, no timestamp bounds, no size limit.
 */
struct records_validate_opts {
	/* A client's produce (Kafka's AppendOrigin.CLIENT): count vs offsets,
	 * no control batches, sequences for producer ids, record contents. */
	bool from_client;
	/* Produce v3+: exactly one batch, magic 2 (INVALID_RECORD otherwise). */
	bool single_batch;
	/* cleanup.policy=compact: every record needs a key. */
	bool compacted;
	/* message.timestamp.type is LogAppendTime (true) or CreateTime. */
	bool log_append_time;
	int64_t now_ms;
	/* message.timestamp.before/after.max.ms; INT64_MAX = unbounded. */
	int64_t timestamp_before_max_ms;
	int64_t timestamp_after_max_ms;
	/* max.message.bytes: a bigger batch gets MESSAGE_TOO_LARGE; 0 = none. */
	int32_t max_batch_bytes;
	/* Compressed client batches are decompressed into this (reused, never
	 * freed here) to check their records; NULL = check headers only. */
	struct wbuf *scratch;
	size_t max_uncompressed_bytes; /* 0 = 128 MiB */
};

struct records_info {
	int32_t batch_count;
	int64_t record_count;
	/* Bytes of whole batches; a torn batch at the end is ignored (as Kafka
	 * drops it), so the log appends only these. */
	size_t valid_bytes;
	int64_t max_timestamp; /* over all batches' MaxTimestamp */
	unsigned codec_mask;   /* bit (1 << codec) for every codec seen */
	bool has_transactional;
	bool has_producer_id;
	/* On error: which batch and record (index in its batch, -1 = the batch
	 * itself) and a static description. */
	int32_t error_batch;
	int32_t error_record;
	const char *error_message;
};

void records_validate_opts_init(struct records_validate_opts *o);

/* Whether ts lies further than before_max_ms behind or after_max_ms ahead of
 * now_ms (message.timestamp.before/after.max.ms); every magic checks it. */
bool timestamp_out_of_range(int64_t ts, int64_t now_ms, int64_t before_max_ms, int64_t after_max_ms);

/*
 * Validate a produce "records" blob: batch sizes consistent with the bytes,
 * magic 2 (magic 0/1: UNSUPPORTED_FOR_MESSAGE_FORMAT, or INVALID_RECORD with
 * single_batch), CRC (CORRUPT_MESSAGE), size limit (MESSAGE_TOO_LARGE),
 * client rules and records (INVALID_RECORD), timestamps (INVALID_TIMESTAMP).
 * Returns KERR_NONE or the first error; info is filled either way.
 */
int records_validate(const uint8_t *p, size_t len, const struct records_validate_opts *o,
    struct records_info *info);

/*
 * Check the records of one v2 batch: for an uncompressed batch its own
 * region, for a compressed one the decompressed bytes passed in.  Record
 * count, structure, offset deltas 0..n-1 consecutive and last delta.
 * Returns KERR_NONE or KERR_INVALID_RECORD (*why, *index set).
 */
int record_batch_check_records(const struct record_batch *b, const uint8_t *records,
    size_t len, const char **why, int32_t *index);

/*
 * Builds v2 record batches: what tests, the coordinators (offset commits,
 * transaction markers) and the broker's own writes use to produce the bytes
 * a producer would have sent.  Records are encoded straight into the output
 * wbuf; the header is patched and the CRC computed at the end.
 */
struct batch_builder_opts {
	int64_t base_offset;            /* usually 0: the log assigns offsets */
	int32_t partition_leader_epoch; /* RB_NO_PARTITION_LEADER_EPOCH */
	int64_t producer_id;            /* RB_NO_PRODUCER_ID */
	int16_t producer_epoch;         /* -1 */
	int32_t base_sequence;          /* RB_NO_SEQUENCE */
	bool transactional;
	bool control;
	bool log_append_time;
	int codec;     /* enum compression_codec; COMPRESSION_NONE by default */
	int level;     /* compression level, as compression_compress takes it */
};

struct batch_builder {
	struct wbuf *out;
	size_t start;         /* where the batch begins in out */
	struct wbuf plain;    /* records before compression (compressed only) */
	struct batch_builder_opts o;
	int32_t count;
	int64_t base_timestamp;
	int64_t max_timestamp;
};

/* All -1/none defaults: a plain, non-idempotent, CreateTime batch at offset 0. */
void batch_builder_opts_init(struct batch_builder_opts *o);

/* Start a batch at the end of out (opts NULL = defaults). */
void batch_builder_begin(struct batch_builder *b, struct wbuf *out,
    const struct batch_builder_opts *opts);
/*
 * Add a record with the next offset delta.  key/value with ptr NULL are
 * null; headers may be NULL when nheaders is 0.
 */
void batch_builder_add(struct batch_builder *b, int64_t timestamp, struct kbytes key,
    struct kbytes value, const struct record_header *headers, int nheaders);
/*
 * Finish: header fields, compression, CRC.  Returns the batch's size in
 * bytes (out grew by that much), or 0 if compression failed (out is then
 * back where it was).
 */
size_t batch_builder_finish(struct batch_builder *b);

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

/*
 * A segment's sparse indexes, as memory-mapped files in Kafka's format:
 *
 *   .index      8-byte entries: relative offset int32, file position int32
 *   .timeindex 12-byte entries: timestamp int64, relative offset int32
 *
 * (big-endian, DISK-FORMAT.md sections 4 and 5).  An index of the active
 * segment is preallocated to log.index.size.max.bytes (rounded down to a
 * whole entry) and trimmed to its entries when the segment is rolled or
 * closed, because on open the entry count is taken from the file length.
 * Lookups are binary searches for the largest entry <= the target, trying
 * the most recent 8 KiB of entries first: that is where tailing consumers
 * and followers look, and it keeps the rest of a big index out of memory.
 *
 * Not thread-safe: the owning log's lock covers every call.
 */
#define OFFSET_INDEX_ENTRY_SIZE 8
#define TIME_INDEX_ENTRY_SIZE 12

/* What offset_index and time_index share: the mapped file. */
struct index_file {
	char *path;
	uint8_t *map;     /* NULL when the file is empty */
	size_t map_len;   /* = file length */
	int64_t base_offset;
	int32_t entries;
	int32_t max_entries;
	int32_t max_bytes; /* configured size the active index grows back to */
	int entry_size;
};

struct offset_index {
	struct index_file f;
	int64_t last_offset; /* base_offset when empty */
};

struct time_index {
	struct index_file f;
	int64_t last_timestamp; /* -1 when empty */
	int64_t last_offset;    /* base_offset when empty */
};

/*
 * Open (creating it if missing) the index at path.  A new file is
 * preallocated to max_bytes; an existing one is mapped at its length with
 * length / entry size entries.  *created (may be NULL) says whether the
 * file was new.  Returns KERR_NONE or KERR_KAFKA_STORAGE_ERROR.
 */
int offset_index_open(struct offset_index *ix, const char *path, int64_t base_offset,
    int32_t max_bytes, bool *created);
/* Trim to the entries and unmap. */
void offset_index_close(struct offset_index *ix);
/* Resize the file (and mapping) to new_bytes rounded down to whole entries;
 * entries beyond the new size are dropped. */
int offset_index_resize(struct offset_index *ix, int32_t new_bytes);
/* Resize to exactly the entries (on roll and close). */
int offset_index_trim(struct offset_index *ix);
bool offset_index_full(const struct offset_index *ix);
/* Whether offset fits in a relative int32 of this index. */
bool offset_index_can_append_offset(const struct offset_index *ix, int64_t offset);
/*
 * Largest entry with offset <= target: its offset and position.  With no
 * such entry: (base_offset, 0), the start of the segment.
 */
void offset_index_lookup(const struct offset_index *ix, int64_t target, int64_t *offset,
    uint32_t *position);
/* Entry n (0 <= n < entries). */
void offset_index_entry(const struct offset_index *ix, int32_t n, int64_t *offset,
    uint32_t *position);
/*
 * Append an entry.  The offset must be larger than the last one and fit
 * the index, and the index must not be full: otherwise nothing is written
 * and KERR_UNKNOWN_SERVER_ERROR comes back (a caller bug or corruption).
 */
int offset_index_append(struct offset_index *ix, int64_t offset, uint32_t position);
/* Drop every entry with offset >= offset. */
void offset_index_truncate_to(struct offset_index *ix, int64_t offset);
/* Drop all entries and grow back to max_bytes (before a rebuild). */
int offset_index_reset(struct offset_index *ix);
/*
 * Kafka's sanity check plus one of ours: whole entries, last offset not
 * below the base, last position inside a log of log_size bytes.
 * KERR_NONE or KERR_CORRUPT_MESSAGE (with a warning naming the file).
 */
int offset_index_sanity_check(const struct offset_index *ix, uint32_t log_size);
/* msync the entries. */
int offset_index_flush(struct offset_index *ix);
/* Rename the file (e.g. to add .deleted); the mapping stays valid. */
int offset_index_rename(struct offset_index *ix, const char *new_path);

int time_index_open(struct time_index *ix, const char *path, int64_t base_offset,
    int32_t max_bytes, bool *created);
void time_index_close(struct time_index *ix);
int time_index_resize(struct time_index *ix, int32_t new_bytes);
int time_index_trim(struct time_index *ix);
bool time_index_full(const struct time_index *ix);
/*
 * Largest entry with timestamp <= target.  With none: (-1, base_offset),
 * meaning "search from the start of the segment".
 */
void time_index_lookup(const struct time_index *ix, int64_t target, int64_t *timestamp,
    int64_t *offset);
void time_index_entry(const struct time_index *ix, int32_t n, int64_t *timestamp,
    int64_t *offset);
/* (last timestamp, last offset), (-1, base_offset) when empty. */
void time_index_last_entry(const struct time_index *ix, int64_t *timestamp, int64_t *offset);
/*
 * Kafka's maybeAppend: add (timestamp, offset) only if timestamp is larger
 * than the last one.  An offset below the last entry's or a smaller
 * timestamp is refused with KERR_UNKNOWN_SERVER_ERROR; so is a full index
 * unless skip_full_check (the one extra entry written when a segment
 * becomes inactive fits because the file is then resized).
 */
int time_index_maybe_append(struct time_index *ix, int64_t timestamp, int64_t offset,
    bool skip_full_check);
void time_index_truncate_to(struct time_index *ix, int64_t offset);
int time_index_reset(struct time_index *ix);
int time_index_sanity_check(const struct time_index *ix);
int time_index_flush(struct time_index *ix);
int time_index_rename(struct time_index *ix, const char *new_path);

/*
 * One partition's log: the directory <topic>-<partition> with its segments,
 * the log end offset (LEO), log start offset, high watermark and recovery
 * point, and the leader-epoch cache (Kafka's UnifiedLog + LocalLog).
 *
 * The log sees record batches as bytes and offsets, never protocol
 * structs.  Appends patch the broker-owned fields of the producer's batches
 * in place and write them with one pwrite; reads return a byte range of a
 * segment file for sendfile.  Every call takes the log's mutex for as long
 * as it touches the segments; none is held across network I/O, and the
 * only fsyncs (log_flush) run outside it.
 */
struct log;
struct segment;

enum log_timestamp_type {
	LOG_TIMESTAMP_CREATE_TIME = 0,
	LOG_TIMESTAMP_LOG_APPEND_TIME = 1,
};

/* Topic-level settings the log acts on (Kafka's LogConfig), with Kafka's
 * defaults from log_config_init. */
struct log_config {
	int32_t segment_bytes;           /* segment.bytes, 1 GiB */
	int32_t index_interval_bytes;    /* index.interval.bytes, 4096 */
	int32_t index_max_bytes;         /* segment.index.bytes, 10 MiB */
	int64_t roll_ms;                 /* segment.ms, 7 days */
	int64_t roll_jitter_ms;          /* segment.jitter.ms, 0 */
	int64_t retention_ms;            /* retention.ms, 7 days; -1 = forever */
	int64_t retention_bytes;         /* retention.bytes, -1 = no limit */
	int64_t flush_interval_messages; /* flush.messages, INT64_MAX */
	int64_t flush_interval_ms;       /* flush.ms, INT64_MAX */
	enum log_timestamp_type message_timestamp_type; /* message.timestamp.type */
	int64_t file_delete_delay_ms;    /* file.delete.delay.ms, 60000 */
	bool preallocate;                /* preallocate, false */
	bool cleanup_delete;             /* cleanup.policy has "delete" (default) */
	/* Read by Produce rather than by the log itself, kept here so one struct
	 * is a topic's whole configuration [Kafka's LogConfig]. */
	bool cleanup_compact;            /* cleanup.policy has "compact" */
	int32_t max_message_bytes;       /* max.message.bytes, 1048588 */
	int compression_type;            /* compression.type: enum compression_codec, -1 = producer */
	int compression_level;           /* compression.<codec>.level for that codec */
	int64_t timestamp_before_max_ms; /* message.timestamp.before.max.ms, INT64_MAX */
	int64_t timestamp_after_max_ms;  /* message.timestamp.after.max.ms, INT64_MAX */
	int32_t min_insync_replicas;     /* min.insync.replicas, 1 */
	bool unclean_leader_election;    /* unclean.leader.election.enable, false */
	bool message_downconversion;     /* message.downconversion.enable, true (read by Fetch v0-v3) */
	/* Compaction (cleanup.policy=compact), read by the log cleaner. */
	int64_t delete_retention_ms;     /* delete.retention.ms, 1 day: how long tombstones stay */
	int64_t min_compaction_lag_ms;   /* min.compaction.lag.ms, 0 */
	int64_t max_compaction_lag_ms;   /* max.compaction.lag.ms, INT64_MAX */
	double min_cleanable_ratio;      /* min.cleanable.dirty.ratio, 0.5 */
};

void log_config_init(struct log_config *c);

struct log_open_args {
	const char *dir;                 /* <log.dir>/<topic>-<partition>, created if missing */
	const struct log_config *config; /* copied */
	bool clean_shutdown;             /* the log dir had .kafka_cleanshutdown */
	int64_t recovery_point;          /* from recovery-point-offset-checkpoint, else 0 */
	int64_t log_start_offset;        /* from log-start-offset-checkpoint, else 0 */
	int64_t now_ms;
};

/*
 * Open (or create) a partition's log.  Leftover *.deleted / *.cleaned files
 * are removed, .swap files completed, segments loaded; after an unclean
 * shutdown every segment from the recovery point on is validated and the
 * log cut at the first bad batch (see recovery.h).  Returns KERR_NONE or
 * KERR_KAFKA_STORAGE_ERROR (also for a directory name that is not
 * <topic>-<partition>).
 */
int log_open(const struct log_open_args *a, struct log **out);
/* Close without flushing (log_flush first for a clean shutdown).  Files
 * waiting for deletion are removed now. */
void log_close(struct log *l);
/* Close and remove the partition directory with everything in it. */
int log_close_and_delete(struct log *l);

struct log_append_info {
	int64_t first_offset;
	int64_t last_offset;
	int64_t log_append_time; /* -1 unless LogAppendTime */
	int64_t max_timestamp;
	int64_t offset_of_max_timestamp;
	int64_t log_start_offset;
	int32_t batch_count;
	int64_t record_count;
	size_t bytes;
	bool rolled; /* a new segment was started for this append */
	/* A producer's retry of one of its last five batches: nothing was written, the offsets are the
	 * original's [UnifiedLog.analyzeAndValidateProducerState]. */
	bool duplicate;
};

/* Who appends, for the producer-state checks [Kafka's AppendOrigin]. */
enum log_append_origin {
	LOG_APPEND_CLIENT,      /* Produce: sequence and epoch rules apply, duplicates are answered */
	LOG_APPEND_COORDINATOR, /* a coordinator's records and txn markers: epoch rules, no sequences */
};

/* One transaction aborted by an ABORT marker (a .txnindex entry, DISK-FORMAT.md section 6). */
struct log_aborted_txn {
	int64_t producer_id;
	int64_t first_offset;
	int64_t last_offset; /* the ABORT marker's offset */
	int64_t last_stable_offset;
};

/* One producer as DescribeProducers shows it. */
struct log_producer_info {
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t last_sequence;
	int64_t last_timestamp;
	int32_t coordinator_epoch;
	int64_t current_txn_start_offset;
};

/*
 * Append as the leader: records is a validated produce blob (whole v2
 * batches, see records_validate; pass its valid_bytes).  The log writes the
 * base offset of each batch (offsets follow on from the LEO), the partition
 * leader epoch (if >= 0) and, for LogAppendTime topics, the append time,
 * all in the caller's buffer, then writes it with one pwrite.  Errors:
 * KERR_CORRUPT_MESSAGE (not whole v2 batches), KERR_RECORD_LIST_TOO_LARGE
 * (bigger than a segment), KERR_KAFKA_STORAGE_ERROR.
 */
int log_append_as_leader(struct log *l, uint8_t *records, size_t len, int32_t leader_epoch,
    int64_t now_ms, struct log_append_info *info);
/*
 * The same with the origin's producer-state checks: batches with a producer
 * id are checked against the producer state under the log's lock (a hash
 * lookup per batch) and refused with INVALID_PRODUCER_EPOCH,
 * OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_TXN_STATE or
 * TRANSACTION_COORDINATOR_FENCED before anything is written; a duplicate
 * sets info->duplicate.  log_append_as_leader is origin CLIENT.
 */
int log_append_as_leader_from(struct log *l, uint8_t *records, size_t len, int32_t leader_epoch,
    enum log_append_origin origin, int64_t now_ms, struct log_append_info *info);

/* The last stable offset: the HW, or the first offset of a transaction not yet complete below it. */
int64_t log_last_stable_offset(struct log *l);
/*
 * Aborted transactions a read_committed fetch of [from, upper) must know:
 * marker at or past from, first offset below upper [TransactionIndex.collectAbortedTxns].
 * Up to max into out; returns how many there are.
 */
size_t log_collect_aborted_txns(struct log *l, int64_t from, int64_t upper, struct log_aborted_txn *out,
    size_t max);
/* The producers known (up to max into out); returns how many there are. */
size_t log_producers(struct log *l, struct log_producer_info *out, size_t max);
/* producer.id.expiration.ms: forget idle producers without an open transaction; returns how many. */
int log_expire_producers(struct log *l, int64_t now_ms, int64_t expiration_ms);
/* Write a producer snapshot at the LEO now (clean shutdown). */
int log_write_producer_snapshot(struct log *l);
/*
 * Append as a follower: offsets stay as the leader assigned them and must
 * not go backwards (KERR_OFFSET_OUT_OF_RANGE if the first is below the
 * LEO, KERR_CORRUPT_MESSAGE if they are not increasing).  Epochs found in
 * the batches are recorded in the leader-epoch cache.
 */
int log_append_as_follower(struct log *l, uint8_t *records, size_t len, int64_t now_ms,
    struct log_append_info *info);

/* Upper bounds for log_read's max_offset. */
#define LOG_READ_MAX_LEO (-1)  /* followers: everything */
#define LOG_READ_MAX_HW (-2)   /* consumers: up to the high watermark */
#define LOG_READ_MAX_LSO (-3)  /* read_committed consumers: up to the last stable offset */

struct log_read_result {
	struct segment *segment; /* referenced (log_read_release), NULL when empty */
	int fd;                  /* the segment's .log, valid while referenced */
	int64_t position;
	size_t length;
	int64_t first_batch_offset; /* base offset of the first batch, -1 when empty */
	bool first_entry_incomplete;
	int64_t high_watermark;
	int64_t log_start_offset;
	int64_t log_end_offset;
	int64_t last_stable_offset;
};

/*
 * What a fetch from offset sends: a range of one segment file, starting at
 * the batch that holds offset, at most max_bytes (with min_one at least the
 * whole first batch, so a consumer can always make progress even past
 * fetch.max.bytes), ending before max_offset's batch.  An offset at or past
 * max_offset reads as empty.  KERR_OFFSET_OUT_OF_RANGE below the log start
 * offset or past the LEO.  The caller sends [position, position + length)
 * of fd, then calls log_read_release.
 */
int log_read(struct log *l, int64_t offset, size_t max_bytes, int64_t max_offset, bool min_one,
    struct log_read_result *out);
void log_read_release(struct log_read_result *r);

/* ListOffsets' special timestamps. */
#define LOG_TIMESTAMP_LATEST (-1LL)
#define LOG_TIMESTAMP_EARLIEST (-2LL)
#define LOG_TIMESTAMP_MAX (-3LL)
#define LOG_TIMESTAMP_EARLIEST_LOCAL (-4LL)

struct log_timestamp_offset {
	int64_t timestamp;    /* -1 when not a record's timestamp */
	int64_t offset;       /* -1 when nothing matches */
	int32_t leader_epoch; /* -1 when unknown */
};

/*
 * ListOffsets: EARLIEST (log start), LATEST (LEO; the caller caps it at the
 * HW or LSO for consumers), MAX (record with the largest timestamp), or the
 * first record with timestamp >= ts.
 */
int log_offset_for_timestamp(struct log *l, int64_t ts, struct log_timestamp_offset *out);

/* OffsetForLeaderEpoch (see leader_epoch_end_offset_for). */
void log_end_offset_for_epoch(struct log *l, int32_t epoch, int32_t *out_epoch,
    int64_t *end_offset);
/* The latest leader epoch with data, or -1. */
int32_t log_latest_epoch(struct log *l);
/* A new leader epoch begins at the LEO (LeaderAndIsr made us leader). */
int log_assign_epoch_start(struct log *l, int32_t epoch);

/*
 * Remove everything at and after target (a follower diverged).  Returns
 * whether anything was removed.  Below the first segment the log is emptied
 * and restarts at target.
 */
int log_truncate_to(struct log *l, int64_t target, int64_t now_ms, bool *truncated);
/* Empty the log and start again at offset (log start = LEO = offset). */
int log_truncate_fully_and_start_at(struct log *l, int64_t offset, int64_t now_ms);

/*
 * DeleteRecords: move the log start offset up to offset.  Beyond the high
 * watermark is KERR_OFFSET_OUT_OF_RANGE.  Whole segments below it are
 * removed by the next log_enforce_retention.
 */
int log_delete_records(struct log *l, int64_t offset, int64_t *low_watermark);

/*
 * Retention (Kafka's deleteOldSegments): with cleanup.policy=delete,
 * segments older than retention.ms and the oldest ones beyond
 * retention.bytes; always, segments wholly below the log start offset.
 * Only segments wholly below the high watermark go; if every segment goes,
 * a new active one is rolled first.  Removed segments are renamed
 * *.deleted and unlinked file.delete.delay.ms later (log_delete_expired).
 * *deleted (may be NULL) gets the number of segments removed.
 */
int log_enforce_retention(struct log *l, int64_t now_ms, int *deleted);
/* Unlink *.deleted files whose delay has passed. */
void log_delete_expired(struct log *l, int64_t now_ms);

/* Start a new segment at the LEO (no-op if the active one is empty). */
int log_roll(struct log *l, int64_t now_ms);
/*
 * fsync everything up to the LEO and move the recovery point there.  The
 * fsyncs run without the log's lock.
 */
int log_flush(struct log *l, int64_t now_ms);
/* Flush if flush.ms has passed since the last flush. */
int log_maybe_flush(struct log *l, int64_t now_ms);

/* The high watermark is kept here for reads; the replica layer sets it.
 * Clamped to [log start, LEO]. */
void log_set_high_watermark(struct log *l, int64_t hw);

int64_t log_end_offset(struct log *l);
int64_t log_start_offset(struct log *l);
int64_t log_high_watermark(struct log *l);
int64_t log_recovery_point(struct log *l);
int64_t log_size_bytes(struct log *l);
int log_segment_count(struct log *l);
/* Base offsets of the segments, ascending; up to max of them; returns the count. */
int log_segment_base_offsets(struct log *l, int64_t *out, int max);
const char *log_dir(const struct log *l);
const char *log_topic(const struct log *l);
int32_t log_partition(const struct log *l);
/* Set after a storage error: the log refuses appends from then on. */
bool log_failed(struct log *l);
/* How often the log end moved backwards (truncation): a copy made meanwhile is stale. */
uint64_t log_truncation_count(struct log *l);

/* Replace the config (a topic config change); applies from the next append. */
void log_set_config(struct log *l, const struct log_config *c);
/* A copy of the log's current configuration. */
void log_get_config(struct log *l, struct log_config *out);

/*
 * Log compaction [Kafka's LogCleaner, Cleaner, LogCleanerManager]: the
 * cleaner keeps the latest record of every key of a cleanup.policy=compact
 * log.  The log up to its cleaner offset (the first dirty offset, kept in
 * cleaner-offset-checkpoint) is clean; the dirty part runs from there to the
 * first uncleanable offset (the active segment's base, the high watermark,
 * and min.compaction.lag.ms).  A pass builds a map key -> latest offset over
 * the dirty part, then rewrites every segment below the map's end in groups
 * of at most segment.bytes, leaving out records a later one replaced and
 * tombstones past their delete horizon.  Batches keep their base offsets,
 * producer fields and codec.
 *
 * The copy runs without the log's locks; the swap takes them for a few
 * renames: new segment <base>.log.cleaned -> .swap, the old ones to
 * .deleted, .swap -> .log.  Recovery (recovery.c) completes or discards a
 * swap cut short at any step.
 */
struct log_cleanable {
	int64_t first_dirty;       /* the cleaner offset, clamped to the log */
	int64_t first_uncleanable; /* a segment base: nothing from here on is cleaned */
	int64_t clean_bytes;       /* bytes of the segments below first_dirty */
	int64_t dirty_bytes;       /* bytes of the segments in [first_dirty, first_uncleanable) */
	double ratio;              /* dirty / (clean + dirty) */
	bool need_now;             /* max.compaction.lag.ms is breached */
};

/* Whether l is compacted and has dirty segments; out says how dirty. */
bool log_cleanable_state(struct log *l, int64_t now_ms, struct log_cleanable *out);
/* The cleaner offset (-1 = none yet: the log start). */
int64_t log_cleaner_offset(struct log *l);
void log_set_cleaner_offset(struct log *l, int64_t offset);

struct log_clean_stats {
	int64_t bytes_read;
	int64_t bytes_written;
	int64_t records_read;
	int64_t records_kept;
	int32_t segments_cleaned; /* old segments replaced */
	int64_t map_end;          /* the new cleaner offset */
};

/* One cleaner thread's working state: the offset map (dedupe buffer) and buffers. */
struct log_cleaner;

/*
 * dedupe_bytes: this thread's share of log.cleaner.dedupe.buffer.size (24
 * bytes per key); load_factor: log.cleaner.io.buffer.load.factor;
 * max_bytes_per_sec: this thread's share of
 * log.cleaner.io.max.bytes.per.second.  stop (may be NULL) cuts a clean
 * short when it becomes true.
 */
struct log_cleaner *log_cleaner_new(size_t dedupe_bytes, double load_factor, double max_bytes_per_sec,
    const volatile bool *stop);
void log_cleaner_free(struct log_cleaner *c);

/*
 * Clean l once (it must be compacted and cleanable).  KERR_NONE after a
 * swap (the cleaner offset then moved to st->map_end), or an error: the log
 * changed under the copy (truncated, segments deleted by retention) or the
 * stop flag gives KERR_UNKNOWN_SERVER_ERROR and leaves the log as it was;
 * KERR_KAFKA_STORAGE_ERROR for I/O errors.
 */
int log_clean(struct log_cleaner *c, struct log *l, int64_t now_ms, struct log_clean_stats *st);

/*
 * Split a partition directory name at its last '-': topic and partition.
 * topic is written to buf (cap bytes).  False when the name is not
 * <topic>-<partition> (including the -delete/-future forms).
 */
bool log_parse_dir_name(const char *name, char *topic, size_t cap, int32_t *partition);

/*
 * The log manager [Kafka's LogManager]: every partition log under log.dirs.
 *
 * At start it checks each dir's meta.properties against this broker and
 * cluster, loads every <topic>-<partition> directory (recovering those
 * left by a crash, from the recovery point the dir's checkpoint names) and
 * removes the clean-shutdown marker.  While running it hands out logs by
 * reference, creates them in the dir holding the fewest, and runs the
 * scheduler thread: retention, time-based flushes, deferred file deletion
 * and the checkpoint files.  At shutdown it flushes everything, writes the
 * checkpoints and the clean-shutdown marker so the next start skips
 * recovery.
 *
 * Logs are reference counted: a log asked to be deleted leaves the table at
 * once and is closed and removed from disk when its last user lets go, so a
 * fetch in flight never sees it freed.
 */
/* A counted reference to one partition's log. */
struct log_ref;

struct log_manager_config {
	char **dirs;                   /* log.dirs */
	int n_dirs;
	int32_t broker_id;
	const char *cluster_id;
	struct log_config defaults;    /* the broker-level log.* settings */
	int64_t retention_check_interval_ms;      /* log.retention.check.interval.ms */
	int64_t flush_scheduler_interval_ms;      /* log.flush.scheduler.interval.ms */
	int64_t flush_checkpoint_interval_ms;     /* log.flush.offset.checkpoint.interval.ms */
	int64_t flush_start_offset_checkpoint_interval_ms; /* log.flush.start.offset.checkpoint.interval.ms */
	int64_t hw_checkpoint_interval_ms;        /* replica.high.watermark.checkpoint.interval.ms */
	/* The log cleaner [LogCleaner's CleanerConfig]. */
	bool cleaner_enable;                      /* log.cleaner.enable */
	int cleaner_threads;                      /* log.cleaner.threads */
	int64_t cleaner_dedupe_buffer_size;       /* log.cleaner.dedupe.buffer.size, shared by the threads */
	double cleaner_io_buffer_load_factor;     /* log.cleaner.io.buffer.load.factor */
	double cleaner_io_max_bytes_per_second;   /* log.cleaner.io.max.bytes.per.second, shared by the threads */
	int64_t cleaner_backoff_ms;               /* log.cleaner.backoff.ms */
	int64_t producer_id_expiration_ms;        /* producer.id.expiration.ms; checked with retention */
	/*
	 * A log dir went offline after an I/O error (see log_manager_fail_dir):
	 * called once per dir with no log manager lock held; logs are the
	 * references it held, valid for the call (the table no longer has them).
	 */
	void (*dir_failed)(void *arg, const char *dir, struct log_ref *const *logs, int n);
	void *dir_failed_arg;
};

struct log_manager;

/*
 * Open every dir and load the logs in it.  NULL (after logging why) when a
 * dir cannot be used or belongs to another broker or cluster.
 */
struct log_manager *log_manager_open(const struct log_manager_config *cfg);
/* Start the scheduler thread. */
void log_manager_start(struct log_manager *lm);
/*
 * Stop the scheduler, flush and close every log, write the checkpoints and
 * the clean-shutdown marker.  Frees lm.  References still held by others
 * must have been dropped before.
 */
void log_manager_shutdown(struct log_manager *lm);
/* Stop the scheduler thread early (so cfg.dir_failed is never called again); shutdown still does the rest. */
void log_manager_stop_scheduler(struct log_manager *lm);

/* The log of topic-partition with a new reference, or NULL. */
struct log_ref *log_manager_get(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition);
/*
 * The log, created empty when there is none (cfg NULL: the defaults).
 * topic_id (16 bytes, may be NULL) goes into partition.metadata.  Returns
 * KERR_NONE or KERR_KAFKA_STORAGE_ERROR.
 */
int log_manager_get_or_create(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition,
			      const uint8_t *topic_id, const struct log_config *cfg, struct log_ref **out);
/* A further reference to the same log. */
struct log_ref *log_ref_dup(struct log_ref *r);
void log_ref_put(struct log_ref *r);
struct log *log_ref_log(const struct log_ref *r);

/*
 * Take topic-partition out of service and remove its directory once the
 * last reference is gone.  No-op when there is no such log.
 */
void log_manager_delete(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition);

/* How many logs are open. */
int log_manager_count(struct log_manager *lm);
/* Write every checkpoint file now (tests and shutdown). */
void log_manager_checkpoint(struct log_manager *lm);

/*
 * Log dirs [JBOD, KIP-112/113].  Dirs are numbered in log.dirs order and
 * named by absolute path.  A dir that cannot be read at start, or whose log
 * meets an I/O error while running (the scheduler notices within a second),
 * goes offline for the life of the process: its logs leave the table, new
 * logs go to the online dir holding the fewest, and no checkpoint is written
 * there.  log_manager_open fails only when no dir is usable.
 */
int log_manager_dir_count(struct log_manager *lm);
const char *log_manager_dir_path(struct log_manager *lm, int d);
bool log_manager_dir_online(struct log_manager *lm, int d);
int log_manager_online_dir_count(struct log_manager *lm);
/* Take dir d offline now (no-op if it is); calls cfg.dir_failed. */
void log_manager_fail_dir(struct log_manager *lm, int d);
/* References to the logs of dir d, in topic-partition order; put with log_manager_refs_put. */
struct log_ref **log_manager_dir_logs(struct log_manager *lm, int d, int *n);
void log_manager_refs_put(struct log_ref **refs, int n);
const char *log_ref_topic(const struct log_ref *r, size_t *len);
int32_t log_ref_partition(const struct log_ref *r);
/* The dir the log lives in (an index for log_manager_dir_path). */
int log_ref_dir(const struct log_ref *r);
/* A future log (AlterReplicaLogDirs is moving the partition into its dir). */
bool log_ref_is_future(const struct log_ref *r);

/*
 * Moving a partition between dirs [Kafka's future logs, KIP-113].  The
 * future log is made at the partition's name in the target dir, marked so
 * that a crash before the commit leaves a copy the next start removes;
 * whoever copies into it calls log_manager_commit_future once it holds
 * everything, which makes it the partition's log (the old directory is
 * renamed to its -delete name and removed once its last reader lets go).
 */
/* The index of the log dir at path (compared as absolute paths), or -1. */
int log_manager_find_dir(struct log_manager *lm, const char *path);
/* Where the partition's log is to be made when it is created here later (AlterReplicaLogDirs ahead of it). */
void log_manager_set_preferred_dir(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition,
				   int d);
/* NONE (an existing one in d is returned), KAFKA_STORAGE_ERROR, or REPLICA_NOT_AVAILABLE when one exists elsewhere. */
int log_manager_create_future(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition, int d,
			      const uint8_t *topic_id, const struct log_config *cfg, struct log_ref **out);
struct log_ref *log_manager_get_future(struct log_manager *lm, const char *topic, size_t topic_len,
				       int32_t partition);
/* Drop a move: the future log is removed once unused. */
void log_manager_abort_future(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition);
/* The future log becomes the current one; *current is a new reference to it. */
int log_manager_commit_future(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition,
			      struct log_ref **current);

/*
 * Re-compression of produced batches, for a topic whose compression.type
 * names a codec [Kafka's LogValidator, "compressed to compressed" and
 * friends].  The records inside a v2 batch are the same bytes whatever the
 * codec, so a batch is rewritten by swapping its records region and fixing
 * Length, the codec bits of Attributes and the CRC; every other header
 * field (producer id, sequence, timestamps) is kept.
 */
/* Whether any v2 batch in the validated records is not in codec `to`. */
bool records_need_recompress(const uint8_t *p, size_t len, int to);

/*
 * Append the batches in [p, p+len) (already validated) to out, each in codec
 * `to` at `level`; batches already in `to` are copied unchanged.  plain is
 * scratch for decompressed records (reused, never freed here).  Returns
 * KERR_NONE, or the first error (out is then back where it was).
 */
int records_recompress(const uint8_t *p, size_t len, int to, int level, struct wbuf *plain, struct wbuf *out);

/*
 * Legacy message sets (magic 0 and 1) as a producer on Produce v0-v2 may
 * send them, and their conversion to one magic-2 batch [Kafka's
 * LogValidator.convertAndAssignOffsetsNonCompressed and the "compressed"
 * path of validateMessagesAndAssignOffsetsCompressed].  Layout:
 * DISK-FORMAT.md, the legacy message format.
 *
 * The decoder is bounds-checked like every reader here: a length is
 * checked against what is left before anything behind it is read.  Keys
 * and values point into the caller's bytes (or the decompression scratch).
 */

/* Offset + MessageSize, then Crc Magic Attributes [Timestamp] Key Value. */
#define LEGACY_LOG_OVERHEAD 12
#define LEGACY_HEADER_V0 14 /* crc 4, magic 1, attributes 1, key len 4, value len 4 */
#define LEGACY_HEADER_V1 22 /* ... plus an 8-byte timestamp */
#define LEGACY_ATTR_CODEC_MASK 0x07
#define LEGACY_ATTR_LOG_APPEND_TIME 0x08

/* One message of a legacy set; pointers into the bytes it was read from. */
struct legacy_message {
	int64_t offset;
	uint32_t size; /* the whole entry: MessageSize + 12 */
	uint32_t crc;
	int8_t magic;
	int8_t attributes;
	int64_t timestamp; /* RB_NO_TIMESTAMP for magic 0 */
	struct kbytes key;   /* ptr NULL = null */
	struct kbytes value; /* ptr NULL = null */
};

static inline int legacy_message_codec(const struct legacy_message *m)
{
	return m->attributes & LEGACY_ATTR_CODEC_MASK;
}

/*
 * Read the message at the start of [p, p+len).  Returns KERR_NONE,
 * KERR_CORRUPT_MESSAGE when the bytes cannot be one message (MessageSize
 * too small or not matching the key and value lengths, magic not 0/1, CRC
 * wrong), or -1 when fewer bytes are there than the message claims (a
 * partial message: the caller decides what that means).
 */
int legacy_message_read(const uint8_t *p, size_t len, struct legacy_message *m, const char **why);

/* Whether a produce "records" blob starts with a magic 0/1 entry. */
bool legacy_records_is_legacy(const uint8_t *p, size_t len);

struct legacy_convert_opts {
	int64_t now_ms;
	bool log_append_time;        /* message.timestamp.type=LogAppendTime */
	int64_t timestamp_before_max_ms; /* INT64_MAX = unbounded */
	int64_t timestamp_after_max_ms;
	int32_t max_message_bytes;   /* per top-level message and the result; 0 = none */
	bool compacted;              /* every message needs a key */
	int target_codec;            /* COMPRESSION_PRODUCER = the producer's */
	int level;
	size_t max_uncompressed_bytes; /* 0 = 128 MiB */
};

struct legacy_convert_info {
	int32_t count;         /* messages converted */
	size_t consumed;       /* bytes of whole top-level messages read */
	int64_t max_timestamp;
	const char *error_message;
};

void legacy_convert_opts_init(struct legacy_convert_opts *o);

/*
 * Convert the legacy set in [p, p+len) to one v2 batch (base offset 0, the
 * log assigns offsets) appended to out.  plain is scratch for decompressed
 * wrappers (reused, never freed here).  A partial message at the end is
 * dropped as Kafka drops it; inside a wrapper it is corrupt.  Returns
 * KERR_NONE, or CORRUPT_MESSAGE, INVALID_TIMESTAMP, MESSAGE_TOO_LARGE,
 * INVALID_RECORD, UNSUPPORTED_FOR_MESSAGE_FORMAT (out is then as it was).
 */
int legacy_records_convert(const uint8_t *p, size_t len, const struct legacy_convert_opts *o,
    struct wbuf *plain, struct wbuf *out, struct legacy_convert_info *info);

/* The size of one legacy entry (Offset and MessageSize included). */
size_t legacy_message_size(int8_t magic, struct kbytes key, struct kbytes value);
/* Append one legacy message, CRC-32 filled in (magic 0 keeps only the codec bits). */
void legacy_message_write(struct wbuf *w, int8_t magic, int8_t attributes, int64_t offset, int64_t timestamp,
    struct kbytes key, struct kbytes value);

/*
 * Down-conversion for Fetch v0-v3 [Kafka's RecordsUtil.downConvert]: the v2
 * batches a fetch read become a magic 0 (Fetch v0-v1) or magic 1 (v2-v3)
 * message set.  A plain batch gives one message per record, a compressed
 * one a wrapper message of the same codec (gzip, snappy, lz4) around its
 * records; zstd gives UNSUPPORTED_COMPRESSION_TYPE, control batches are
 * skipped, record headers dropped.  The scratch buffers in the context are
 * reused call after call.
 */
struct down_convert_ctx {
	struct wbuf plain; /* a compressed batch's records, decompressed */
	struct wbuf inner; /* the inner message set of a wrapper, before compression */
};
void down_convert_ctx_init(struct down_convert_ctx *c);
void down_convert_ctx_free(struct down_convert_ctx *c);

struct down_convert_info {
	int64_t messages;     /* messages written (inner ones counted one by one) */
	int32_t batches;      /* v2 batches converted, wholly or in part */
	size_t consumed;      /* input bytes of the batches converted whole */
	int64_t next_offset;  /* the offset after the last message written, -1 when none */
	const char *error_message;
};

/*
 * Convert the batches in [p, p+len) to magic `magic`, appending to out at
 * most max_out bytes (SIZE_MAX: no limit) -- except that the first message
 * (or wrapper) is always written whole, so a consumer makes progress.  A
 * partial batch at the end is left out, as a fetch may end in one.  Returns
 * KERR_NONE, or KERR_CORRUPT_MESSAGE (a malformed or CRC-failing batch),
 * KERR_UNSUPPORTED_COMPRESSION_TYPE (zstd first), out then as it was.
 * Plain messages below from_offset (the fetch offset, inside the first
 * batch) are left out; a wrapper keeps all of its batch, as Kafka's does.
 */
int down_convert_records(const uint8_t *p, size_t len, int8_t magic, int64_t from_offset, size_t max_out,
    struct down_convert_ctx *ctx, struct wbuf *out, struct down_convert_info *info);

/*
 * A log segment: one .log file of record batches and its two indexes, named
 * after its base offset (20 digits, zero-padded).  Appends are plain
 * pwrite(2)s into the page cache; reads turn an offset into a byte range
 * [position, position + length) of the .log file that the network layer
 * sends with sendfile(2), starting at a batch boundary.
 *
 * Segments are reference counted so a fetch can keep sending from a segment
 * that retention removed from its log meanwhile: the descriptor lives until
 * the last reference goes.  Everything else is under the owning log's lock.
 */
#define SEGMENT_LOG_SUFFIX ".log"
#define SEGMENT_INDEX_SUFFIX ".index"
#define SEGMENT_TIMEINDEX_SUFFIX ".timeindex"
#define SEGMENT_TXNINDEX_SUFFIX ".txnindex"
#define SEGMENT_DELETED_SUFFIX ".deleted"
#define SEGMENT_CLEANED_SUFFIX ".cleaned"
#define SEGMENT_SWAP_SUFFIX ".swap"

struct segment_config {
	int32_t index_interval_bytes; /* index.interval.bytes */
	int32_t index_max_bytes;      /* segment.index.bytes */
	int32_t segment_bytes;        /* for preallocation */
	bool preallocate;             /* preallocate the .log to segment_bytes */
};

struct segment {
	int64_t base_offset;
	char *dir;
	char *log_path;
	int fd;
	uint32_t size; /* bytes of batches in the .log (the file may be longer) */
	struct offset_index oidx;
	struct time_index tidx;
	struct segment_config cfg;
	uint32_t bytes_since_last_index_entry;
	int64_t next_offset;             /* one past the last offset held */
	int64_t max_timestamp;           /* -1 = none seen */
	int64_t offset_of_max_timestamp; /* last offset of the batch holding it */
	int64_t rolling_timestamp;       /* first batch's max timestamp; see segment.c */
	int64_t created_ms;
	int64_t roll_jitter_ms;
	bool deleted;       /* files renamed to *.deleted */
	bool files_removed; /* files unlinked */
	int refs;
};

/* A batch (or legacy entry) header as found in a .log file. */
struct segment_batch {
	uint32_t position;
	uint32_t size;
	int64_t base_offset;
	int64_t last_offset;
	int8_t magic;
	int16_t attributes;             /* v2 only */
	int32_t partition_leader_epoch; /* v2 only, else -1 */
	int32_t record_count;           /* v2 only, else -1 */
	int64_t max_timestamp;          /* v2 and v1; -1 for v0 */
};

/*
 * Walks batch headers of a segment's file from a position, reading the file
 * in blocks so a scan over many small batches costs few system calls.
 */
struct segment_scan {
	int fd;
	uint32_t pos;
	uint32_t end;
	uint32_t buf_start; /* file position of buf[0] */
	uint32_t buf_len;
	int err; /* KERR_CORRUPT_MESSAGE for a bad/torn header, STORAGE_ERROR for I/O */
	uint8_t buf[4096];
};

/* "<dir>/<20-digit base offset><suffix>"; caller frees. */
char *segment_file_path(const char *dir, int64_t base_offset, const char *suffix);
/* Parse "<digits><suffix>": the base offset and a pointer to the suffix. */
bool segment_parse_file_name(const char *name, int64_t *base_offset, const char **suffix);

/*
 * Open the segment with this base offset in dir.  create = a new, empty
 * segment (leftover files of that name are emptied); otherwise the .log
 * must exist and its indexes are opened or created.  *index_missing (may be
 * NULL) says the offset index had to be created, so it needs a rebuild.
 * Does not compute next_offset for existing segments: call
 * segment_load_next_offset (recovery does it by rebuilding).
 */
int segment_open(const char *dir, int64_t base_offset, const struct segment_config *cfg,
    bool create, int64_t now_ms, int64_t roll_jitter_ms, struct segment **out,
    bool *index_missing);

/*
 * A new, empty segment whose files carry suffix after their usual names
 * (<base>.log.cleaned, <base>.index.cleaned, ...): what the cleaner writes
 * into before swapping it in.
 */
int segment_create_suffixed(const char *dir, int64_t base_offset, const char *suffix,
    const struct segment_config *cfg, int64_t now_ms, struct segment **out);
/* Rename every file of s to its name with suffix ("" = the plain names); the
 * .log is renamed last. */
int segment_set_suffix(struct segment *s, const char *suffix);

void segment_ref(struct segment *s);
/* Drop a reference; the last one closes (and trims the indexes of a live
 * segment). */
void segment_unref(struct segment *s);

/* Scan batch headers from the last index entry to find next_offset. */
int segment_load_next_offset(struct segment *s);

/*
 * Append len bytes of whole batches whose largest offset is last_offset,
 * largest timestamp max_timestamp, carried by the batch ending at
 * offset_of_max_timestamp.  One pwrite; an index entry first if more than
 * index.interval.bytes went in since the last one.  On a failed write the
 * file is cut back and KERR_KAFKA_STORAGE_ERROR returned.
 *
 * segment_append is segment_check_append + segment_write_at +
 * segment_commit_append in one.  The log calls the three apart so that
 * its lock is not held across the pwrite: segment_write_at touches only
 * the file beyond size, which no reader looks at until the commit moves
 * size past it.
 */
int segment_append(struct segment *s, const uint8_t *buf, size_t len, int64_t last_offset,
    int64_t max_timestamp, int64_t offset_of_max_timestamp);
/* Whether len bytes ending at last_offset fit (KERR_NONE) in s. */
int segment_check_append(struct segment *s, size_t len, int64_t last_offset);
/* Write buf at position (the segment's size when the append began). */
int segment_write_at(struct segment *s, const uint8_t *buf, size_t len, uint32_t position);
/* Account for bytes written at position by segment_write_at. */
void segment_commit_append(struct segment *s, size_t len, uint32_t position, int64_t last_offset,
    int64_t max_timestamp, int64_t offset_of_max_timestamp);

struct segment_roll_params {
	int64_t max_segment_bytes;
	int64_t max_segment_ms;
	int64_t messages_size;
	int64_t max_timestamp_in_messages;
	int64_t max_offset_in_messages;
	int64_t now_ms;
};
/* Kafka's LogSegment.shouldRoll: size, time (with jitter), full indexes,
 * offsets that no longer fit a relative int32. */
bool segment_should_roll(struct segment *s, const struct segment_roll_params *p);

/*
 * The first batch holding an offset >= offset, scanning from the index
 * entry for it (or from start_pos if further on).  *found false when every
 * batch here is below offset.
 */
int segment_translate_offset(struct segment *s, int64_t offset, uint32_t start_pos,
    struct segment_batch *out, bool *found);

struct segment_read_info {
	uint32_t position;
	uint32_t length;
	int64_t first_batch_offset; /* base offset of the first batch sent */
	/* The first batch did not fit in max_bytes (only without min_one). */
	bool first_entry_incomplete;
};
/*
 * Byte range for a fetch from offset: starts at the batch holding offset,
 * at most max_bytes long (but, with min_one, at least the whole first
 * batch, so a consumer always makes progress), never past max_position.
 * *found false when offset is past this segment.
 */
int segment_read(struct segment *s, int64_t offset, uint32_t max_bytes, uint32_t max_position,
    bool min_one, struct segment_read_info *out, bool *found);

/*
 * The first record with timestamp >= ts and offset >= starting_offset:
 * its timestamp, offset and the leader epoch of its batch (-1 if none).
 * Compressed batches are decompressed to look inside.  *found false when
 * none is here.
 */
int segment_find_offset_by_timestamp(struct segment *s, int64_t ts, int64_t starting_offset,
    int64_t *found_ts, int64_t *found_offset, int32_t *leader_epoch, bool *found);

/* Largest timestamp held, or the file's mtime when no batch has one
 * (what time retention compares). */
int64_t segment_largest_timestamp(const struct segment *s);
/* Max timestamp of the first batch (or -1): what segment.ms counts from. */
int64_t segment_first_batch_timestamp(struct segment *s);

/*
 * Remove every batch from the one holding offset on, and index entries for
 * offsets >= offset.  Indexes grow back to full size (the segment becomes
 * active).  *bytes_truncated may be NULL.
 */
int segment_truncate_to(struct segment *s, int64_t offset, int64_t now_ms,
    uint32_t *bytes_truncated);
/* Cut the .log at a byte position (recovery); indexes are the caller's. */
int segment_truncate_bytes(struct segment *s, uint32_t size);

/* fsync the .log, msync the indexes. */
int segment_flush(struct segment *s);
/* The segment stops being the active one: final time index entry, indexes
 * trimmed, a preallocated .log cut to its data. */
int segment_on_become_inactive(struct segment *s);
/* Grow the indexes back to full size (the segment is active again). */
int segment_resize_indexes(struct segment *s, int32_t bytes);
/* Rename every file of the segment to <name>.deleted. */
int segment_mark_deleted(struct segment *s);
/* Unlink the files under their current names. */
int segment_remove_files(struct segment *s);

void segment_scan_init(struct segment_scan *sc, const struct segment *s, uint32_t from,
    uint32_t end);
/* Next header into *b; false at the end or on a bad header (sc->err). */
bool segment_scan_next(struct segment_scan *sc, struct segment_batch *b);

#endif
