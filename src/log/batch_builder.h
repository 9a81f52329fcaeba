/*
 * Builds v2 record batches: what tests, the coordinators (offset commits,
 * transaction markers) and the broker's own writes use to produce the bytes
 * a producer would have sent.  Records are encoded straight into the output
 * wbuf; the header is patched and the CRC computed at the end.
 */
#ifndef SAMSA_LOG_BATCH_BUILDER_H
#define SAMSA_LOG_BATCH_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/record_batch.h"
#include "util/buf.h"

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

#endif
