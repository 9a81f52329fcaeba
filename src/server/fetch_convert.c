/*
 * Fetch's lazy down-conversion [Kafka's LazyDownConversionRecords and
 * LazyDownConversionRecordsSend].  A Fetch v0-v3 consumer cannot read v2
 * batches, so each partition's byte range is converted to magic 0 (v0-v1) or
 * magic 1 (v2-v3) -- but not all at once: only the partition's first batch is
 * converted while the response is built (so a batch that cannot be converted
 * is that partition's error, and the declared size can hold one whole
 * converted batch); the rest is converted on the network thread, a chunk at a
 * time, as the socket drains (net_lazy_source).  A response so holds one
 * converted batch per partition plus the chunk being written, whatever its
 * size.
 *
 * The size declared for the partition is Kafka's: the stored bytes, or the
 * first converted batch if that is bigger.  Converted data beyond it is cut
 * (the consumer sees a partial message at the end, which old consumers skip
 * as they skip one at the end of any fetch); converted data short of it is
 * padded with Kafka's overflow message -- offset -1 and a length one more than
 * the bytes left -- which a consumer takes for a partial message too.
 */
#include "server/fetch_convert.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* Kafka's overflow message header: BaseOffset -1 and a Length past the end. */
#define OVERFLOW_HEADER 12

static _Atomic int64_t dc_messages, dc_batches, dc_bytes, dc_partitions;

void fetch_down_conversion_stats(struct fetch_down_conversion_stats *out)
{
	out->messages = atomic_load(&dc_messages);
	out->batches = atomic_load(&dc_batches);
	out->bytes = atomic_load(&dc_bytes);
	out->partitions = atomic_load(&dc_partitions);
}

static void note_messages(const struct down_convert_info *info)
{
	atomic_fetch_add(&dc_batches, info->batches);
	atomic_fetch_add(&dc_messages, info->messages);
}

struct lazy_convert {
	struct log_read_result r; /* holds the segment, so its fd stays open */
	int64_t pos;              /* the next unread byte of the range, as a file position */
	size_t left;              /* bytes of the range not read yet */
	int8_t magic;
	int64_t from_offset;      /* the fetch offset: messages before it in the first batch are left out */
	size_t declared;          /* the partition's records size in the response */
	size_t emitted;           /* bytes handed to the network layer so far */
	size_t pad_from;          /* where the overflow message began, once it did */
	bool converted_all;       /* nothing more to convert: padding only */
	struct wbuf held;         /* the first batch, converted while the response was built */
	struct down_convert_ctx ctx;
	uint8_t *in;              /* the raw bytes of one step */
	size_t in_cap;
	char where[160];          /* "topic-partition for peer", for the log */
};

static bool read_at(struct lazy_convert *lc, uint8_t *buf, size_t n, int64_t pos)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(lc->r.fd, buf + got, n - got, (off_t)pos + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

/*
 * Convert the next whole batches of the range -- at least one, and more while
 * they fit in `want` bytes of input -- appending to out.  KERR_NONE also when
 * nothing is left (converted_all is then set); an error leaves out as it was.
 */
static int convert_step(struct lazy_convert *lc, size_t want, struct wbuf *out)
{
	uint8_t head[RB_MAGIC_OFFSET + 1];
	int64_t base;
	uint32_t size;
	int8_t magic;
	if (lc->left < sizeof head) {
		lc->converted_all = true; /* a partial batch at the end of the range, as a read may have */
		return KERR_NONE;
	}
	if (!read_at(lc, head, sizeof head, lc->pos))
		return KERR_KAFKA_STORAGE_ERROR;
	if (!record_batch_peek(head, sizeof head, &base, &size, &magic))
		return KERR_CORRUPT_MESSAGE;
	if (size > lc->left) {
		lc->converted_all = true;
		return KERR_NONE;
	}
	size_t n = want > size ? (want < lc->left ? want : lc->left) : size;
	if (n > lc->in_cap) {
		free(lc->in);
		lc->in = xmalloc(n);
		lc->in_cap = n;
	}
	if (!read_at(lc, lc->in, n, lc->pos))
		return KERR_KAFKA_STORAGE_ERROR;
	size_t before = out->len;
	struct down_convert_info info;
	int err = down_convert_records(lc->in, n, lc->magic, lc->from_offset, SIZE_MAX, &lc->ctx, out, &info);
	if (err != KERR_NONE) {
		log_warn("Fetch down-conversion of %s to magic %d: %s", lc->where, lc->magic,
			 info.error_message ? info.error_message : kafka_error_name((int16_t)err));
		return err;
	}
	if (info.consumed == 0) {
		lc->converted_all = true;
		return KERR_NONE;
	}
	lc->pos += (int64_t)info.consumed;
	lc->left -= info.consumed;
	if (lc->left == 0)
		lc->converted_all = true;
	note_messages(&info);
	atomic_fetch_add(&dc_bytes, (int64_t)(out->len - before));
	return KERR_NONE;
}

/* The overflow message's bytes [emitted, emitted + n) of the padding: its header, then zeros. */
static void pad(struct lazy_convert *lc, struct wbuf *out, size_t n)
{
	if (lc->pad_from == SIZE_MAX)
		lc->pad_from = lc->emitted;
	uint8_t header[OVERFLOW_HEADER];
	size_t remaining = lc->declared - lc->pad_from;
	be64_store(header, (uint64_t)-1);
	be32_store(header + 8, (uint32_t)(remaining + 1));
	size_t k = lc->emitted - lc->pad_from; /* how much of the padding is already out */
	uint8_t zeros[4096] = { 0 };
	while (n > 0) {
		size_t chunk;
		if (k < OVERFLOW_HEADER) {
			chunk = OVERFLOW_HEADER - k < n ? OVERFLOW_HEADER - k : n;
			wbuf_put(out, header + k, chunk);
		} else {
			chunk = n < sizeof zeros ? n : sizeof zeros;
			wbuf_put(out, zeros, chunk);
		}
		k += chunk;
		n -= chunk;
	}
}

static int lazy_next(void *arg, struct wbuf *out, size_t want)
{
	struct lazy_convert *lc = arg;
	if (lc->held.len > 0) {
		wbuf_put(out, lc->held.data, lc->held.len);
		wbuf_free(&lc->held);
		wbuf_init(&lc->held);
	} else if (!lc->converted_all) {
		if (convert_step(lc, want, out) != KERR_NONE)
			lc->converted_all = true; /* as Kafka: what was sent stands, the rest is padding */
	}
	size_t sent = lc->emitted + out->len;
	if (out->len == 0 && lc->converted_all && sent < lc->declared) {
		size_t n = lc->declared - sent < want ? lc->declared - sent : want;
		pad(lc, out, n);
		sent += n;
	}
	lc->emitted = sent;
	return lc->emitted >= lc->declared ? 1 : 0;
}

static void lazy_release(void *arg)
{
	struct lazy_convert *lc = arg;
	if (lc->r.segment)
		log_read_release(&lc->r);
	wbuf_free(&lc->held);
	down_convert_ctx_free(&lc->ctx);
	free(lc->in);
	free(lc);
}

int16_t fetch_convert_begin(const struct fetch_convert_args *a, struct log_read_result *r,
			    struct net_lazy_source *src, size_t *declared)
{
	struct lazy_convert *lc = xcalloc(1, sizeof *lc);
	lc->pos = r->position;
	lc->left = r->length;
	lc->magic = a->magic;
	lc->from_offset = a->fetch_offset;
	lc->pad_from = SIZE_MAX;
	lc->r = *r;
	wbuf_init(&lc->held);
	down_convert_ctx_init(&lc->ctx);
	snprintf(lc->where, sizeof lc->where, "%.*s-%d for %s", (int)a->topic.len, a->topic.ptr, a->partition,
		 a->peer);
	/* The first batch now: its error is the partition's, and the declared size must hold it. */
	int err = convert_step(lc, 0, &lc->held);
	if (err != KERR_NONE) {
		/* The caller keeps its reference to the segment. */
		memset(&lc->r, 0, sizeof lc->r);
		wbuf_free(&lc->held);
		down_convert_ctx_free(&lc->ctx);
		free(lc->in);
		free(lc);
		return (int16_t)err;
	}
	if (lc->held.len == 0) {
		/* Not one whole batch in the range: nothing to send, and the caller keeps its reference. */
		memset(&lc->r, 0, sizeof lc->r);
		lazy_release(lc);
		*declared = 0;
		memset(src, 0, sizeof *src);
		return KERR_NONE;
	}
	atomic_fetch_add(&dc_partitions, 1);
	lc->declared = r->length > lc->held.len ? r->length : lc->held.len;
	memset(r, 0, sizeof *r); /* the segment reference is the source's now */
	r->fd = -1;
	*declared = lc->declared;
	*src = (struct net_lazy_source){ lazy_next, lazy_release, lc };
	return KERR_NONE;
}
