/*
 * samsa dump-log: print and verify segment files offline, like Kafka's
 * kafka-dump-log.sh.  Used after a crash to check what is on disk before
 * (or instead of) letting a broker's recovery cut it.
 *
 *   .log        every batch; with --print-data-log every record.  Checked:
 *               lengths within the file, CRC-32C, offsets strictly rising
 *               across batches, RecordCount against the records decoded
 *               (compressed batches are decompressed), offset deltas rising
 *               within the batch (gaps allowed: compacted logs have them).
 *   .index      every entry; offsets and positions rising, each position
 *               the start of a batch of the sibling .log covering the offset.
 *   .timeindex  every entry; timestamps non-decreasing, offsets monotone and
 *               within the sibling .log.
 *   .txnindex   every aborted transaction (producer, first offset, marker,
 *               LSO); version 0, markers rising.
 *   .snapshot   every producer of a producer-state snapshot; version, CRC-32C
 *               and the entry count checked.
 *
 * A directory argument dumps every segment of a partition directory, in
 * offset order, and also checks offsets rise from one segment to the next.
 * The input is assumed hostile: every length is checked against the file
 * before it is used.  Exit status: 0 all fine, 1 problems (each printed
 * once on stderr with file and position), 2 usage.
 */
#include "tools/commands.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/crc32c.h"
#include "samsa/util/endian.h"
#include "samsa/util/xalloc.h"

/* Plenty for any batch a broker accepts; a few KiB of zstd can claim more. */
#define DUMP_MAX_UNCOMPRESSED ((size_t)256 << 20)

/* Where a batch sits in a .log: what the index checks need. */
struct batch_pos {
	uint64_t position;
	int64_t base_offset;
	int64_t last_offset;
};

/* The batches of one .log, walked as far as their lengths hold. */
struct log_scan {
	char *path;
	bool found; /* the file could be read */
	struct batch_pos *v;
	size_t n, cap;
};

struct dump_ctx {
	bool print_data;
	bool verify; /* only problems and the summary */
	int64_t batches, records, index_entries, problems;
	struct wbuf scratch;
	struct log_scan last_log; /* the .log dumped last, reused by its indexes */
	/* Directory mode: last offset of the previous segment, for the check
	 * across segments; INT64_MIN outside a directory or before the first. */
	int64_t dir_prev_last;
	const char *dir_prev_path;
	char *dir_prev_path_buf;
};

struct mapped {
	const uint8_t *p;
	size_t len;
	void *map;
};

/* --- output ------------------------------------------------------------------------------- */

static void problem(struct dump_ctx *c, const char *path, uint64_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(struct dump_ctx *c, const char *path, uint64_t pos, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout); /* keep the problem next to the batch it is about */
	fprintf(stderr, "%s: position %" PRIu64 ": ", path, pos);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->problems++;
}

static void out(const struct dump_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(const struct dump_ctx *c, const char *fmt, ...)
{
	va_list ap;
	if (c->verify)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* Bytes as text: printable ASCII as is, the rest (and '\') escaped. */
static void print_bytes(const uint8_t *p, int32_t len)
{
	if (!p) {
		fputs("null", stdout);
		return;
	}
	for (int32_t i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			putchar(p[i]);
		else if (p[i] == '\\')
			fputs("\\\\", stdout);
		else
			printf("\\x%02x", p[i]);
	}
}

static const char *control_type_name(int16_t t)
{
	switch (t) {
	case 0: return "ABORT";
	case 1: return "COMMIT";
	case 2: return "LEADER_CHANGE";
	case 3: return "SNAPSHOT_HEADER";
	case 4: return "SNAPSHOT_FOOTER";
	case 5: return "KRAFT_VERSION";
	case 6: return "KRAFT_VOTERS";
	default: return "UNKNOWN";
	}
}

/* --- files -------------------------------------------------------------------------------- */

/* Map a file read-only.  Returns false (errno set) when it cannot be read. */
static bool map_file(const char *path, struct mapped *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(m, 0, sizeof *m);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return false;
	}
	if (st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			return false;
		}
		m->map = p;
		m->p = p;
		m->len = (size_t)st.st_size;
	}
	close(fd);
	return true;
}

static void unmap_file(struct mapped *m)
{
	if (m->map)
		munmap(m->map, m->len);
	memset(m, 0, sizeof *m);
}

/* The base offset in a segment file name; 0 (with a note) when the name is
 * not Kafka's 20-digit form, e.g. a copy made for inspection. */
static int64_t file_base_offset(const char *path)
{
	const char *name = strrchr(path, '/');
	const char *suffix;
	int64_t base;

	name = name ? name + 1 : path;
	if (segment_parse_file_name(name, &base, &suffix))
		return base;
	fprintf(stderr, "%s: name is not <20-digit base offset>%s, assuming base offset 0\n", path,
	    strrchr(name, '.') ? strrchr(name, '.') : "");
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "dir/000..123.index" -> "dir/000..123.log"; caller frees. */
static char *sibling_log_path(const char *path, const char *suffix)
{
	size_t stem = strlen(path) - strlen(suffix);
	return xasprintf("%.*s%s", (int)stem, path, SEGMENT_LOG_SUFFIX);
}

static void log_scan_reset(struct log_scan *s)
{
	free(s->path);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static void log_scan_push(struct log_scan *s, uint64_t position, int64_t base, int64_t last)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = (struct batch_pos){ position, base, last };
}

/* The batch starting exactly at position, or NULL. */
static const struct batch_pos *log_scan_at(const struct log_scan *s, uint64_t position)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->v[mid].position < position)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->v[lo].position == position ? &s->v[lo] : NULL;
}

static int64_t log_scan_last_offset(const struct log_scan *s)
{
	return s->n ? s->v[s->n - 1].last_offset : INT64_MIN;
}

/* --- .log --------------------------------------------------------------------------------- */

/* lastSequence as Kafka computes it: sequences wrap at INT32_MAX to 0. */
static int64_t add_sequence(int32_t seq, int64_t delta)
{
	if (seq < 0)
		return -1;
	int64_t v = (int64_t)seq + delta;
	return v > INT32_MAX ? v - INT32_MAX - 1 : v;
}

static void print_record(const struct record_batch *b, const struct record *rec)
{
	int64_t offset = (int64_t)((uint64_t)b->base_offset + (uint64_t)(int64_t)rec->offset_delta);
	int64_t ts = record_batch_is_log_append_time(b)
	    ? b->max_timestamp
	    : (int64_t)((uint64_t)b->base_timestamp + (uint64_t)rec->timestamp_delta);

	printf("| offset: %" PRId64 " %s: %" PRId64 " keySize: %" PRId32 " valueSize: %" PRId32
	       " sequence: %" PRId64,
	    offset, record_batch_is_log_append_time(b) ? "LogAppendTime" : "CreateTime", ts,
	    rec->key.len, rec->value.len, add_sequence(b->base_sequence, rec->offset_delta));
	if (record_batch_is_control(b)) {
		/* Key: version int16 + type int16; value of a txn marker:
		 * version int16 + coordinator epoch int32. */
		if (rec->key.ptr && rec->key.len >= 4) {
			int16_t type = (int16_t)be16_load(rec->key.ptr + 2);
			printf(" controlType: %s(%d)", control_type_name(type), type);
			if ((type == 0 || type == 1) && rec->value.ptr && rec->value.len >= 6)
				printf(" coordinatorEpoch: %" PRId32, (int32_t)be32_load(rec->value.ptr + 2));
		} else {
			fputs(" controlType: invalid", stdout);
		}
		putchar('\n');
		return;
	}
	fputs(" key: ", stdout);
	print_bytes(rec->key.ptr, rec->key.len);
	fputs(" payload: ", stdout);
	print_bytes(rec->value.ptr, rec->value.len);
	fputs(" headers: [", stdout);
	struct rd hr;
	struct record_header h;
	rd_init(&hr, rec->headers, rec->headers_len);
	for (int32_t i = 0; i < rec->header_count && record_header_next(&hr, &h); i++) {
		if (i)
			putchar(',');
		print_bytes((const uint8_t *)h.key.ptr, h.key.len);
		putchar('=');
		print_bytes(h.value.ptr, h.value.len);
	}
	fputs("]\n", stdout);
}

/* Decode the records of a v2 batch whose CRC holds: count them, print them,
 * and check them against the header. */
static void check_records(struct dump_ctx *c, const char *path, uint64_t pos,
    const struct record_batch *b)
{
	const uint8_t *recs = record_batch_records(b);
	size_t len = record_batch_records_len(b);
	int codec = record_batch_codec(b);

	if (codec != COMPRESSION_NONE) {
		wbuf_reset(&c->scratch);
		int err = compression_decompress((enum compression_codec)codec, recs, len, &c->scratch,
		    DUMP_MAX_UNCOMPRESSED);
		if (err != KERR_NONE) {
			problem(c, path, pos, "cannot decompress the %s records: %s",
			    compression_codec_name((enum compression_codec)codec),
			    err == KERR_MESSAGE_TOO_LARGE ? "more than 256 MiB of plaintext"
							  : "corrupt compressed stream");
			return;
		}
		recs = c->scratch.data;
		len = c->scratch.len;
	}

	/* Walk as many records as the bytes hold, whatever RecordCount says,
	 * so a count mismatch can be told apart from a malformed record. */
	struct record_iter it;
	struct record rec;
	int32_t n = 0;
	record_iter_init(&it, recs, len, INT32_MAX);
	while (rd_remaining(&it.r) > 0 && record_iter_next(&it, &rec)) {
		n++;
		if (c->print_data && !c->verify)
			print_record(b, &rec);
	}
	c->records += n;
	if (it.err) {
		problem(c, path, pos, "batch at offset %" PRId64 ", record %" PRId32 ": %s", b->base_offset,
		    it.index, it.why ? it.why : "malformed record");
		return;
	}
	if (n != b->record_count) {
		problem(c, path, pos, "batch at offset %" PRId64 " has RecordCount %" PRId32 " but %" PRId32
		    " records were decoded", b->base_offset, b->record_count, n);
		return;
	}
	/*
	 * Offset deltas rise and stay within the batch.  Not necessarily one by
	 * one: the cleaner of a compacted log leaves gaps, and keeps the last
	 * offset delta of the batch as it was although that record may be gone.
	 */
	int32_t prev = -1;
	record_iter_init(&it, recs, len, b->record_count);
	while (record_iter_next(&it, &rec)) {
		if (rec.offset_delta <= prev || rec.offset_delta > b->last_offset_delta) {
			problem(c, path, pos, "batch at offset %" PRId64 ", record %" PRId32 ": offset delta %" PRId32
			    " %s", b->base_offset, it.index - 1, rec.offset_delta,
			    rec.offset_delta <= prev ? "does not rise" : "is past the batch's last offset delta");
			return;
		}
		prev = rec.offset_delta;
	}
}

/*
 * One v2 batch of size bytes (within the file) at pos.  Returns false when
 * its header is unusable, so the rest of the file cannot be trusted to line
 * up; *last is the batch's last offset.
 */
static bool dump_v2_batch(struct dump_ctx *c, const char *path, bool report, const uint8_t *p,
    uint32_t size, uint64_t pos, int64_t seg_base, int64_t prev_last, int64_t *base, int64_t *last)
{
	struct record_batch b;

	if (record_batch_parse(p, size, &b) != KERR_NONE) {
		if (report)
			problem(c, path, pos, "batch of %" PRIu32 " bytes is shorter than the %d-byte v2 header",
			    size, RB_HEADER_SIZE);
		return false;
	}
	*base = b.base_offset;
	if (b.last_offset_delta < 0 || b.base_offset > INT64_MAX - b.last_offset_delta)
		*last = b.base_offset;
	else
		*last = record_batch_last_offset(&b);
	if (!report)
		return true;

	uint32_t computed = record_batch_compute_crc(p, size);
	bool crc_ok = computed == b.crc;
	int codec = record_batch_codec(&b);
	const char *codec_name = compression_codec_valid(codec)
	    ? compression_codec_name((enum compression_codec)codec) : "unknown";

	out(c,
	    "baseOffset: %" PRId64 " lastOffset: %" PRId64 " count: %" PRId32 " baseSequence: %" PRId32
	    " lastSequence: %" PRId64 " producerId: %" PRId64 " producerEpoch: %d partitionLeaderEpoch: %" PRId32
	    " isTransactional: %s isControl: %s deleteHorizonMs: %s position: %" PRIu64 " %s: %" PRId64
	    " size: %" PRIu32 " magic: %d compresscodec: %s crc: %" PRIu32 " isvalid: %s\n",
	    b.base_offset, *last, b.record_count, b.base_sequence,
	    add_sequence(b.base_sequence, b.last_offset_delta), b.producer_id, b.producer_epoch,
	    b.partition_leader_epoch, record_batch_is_transactional(&b) ? "true" : "false",
	    record_batch_is_control(&b) ? "true" : "false",
	    (b.attributes & RB_ATTR_DELETE_HORIZON) ? "set" : "none", pos,
	    record_batch_is_log_append_time(&b) ? "LogAppendTime" : "CreateTime", b.max_timestamp, size,
	    b.magic, codec_name, b.crc, crc_ok ? "true" : "false");
	c->batches++;

	if (!crc_ok)
		problem(c, path, pos, "batch at offset %" PRId64 ": CRC mismatch (stored %" PRIu32
		    ", computed %" PRIu32 ")", b.base_offset, b.crc, computed);
	if (b.last_offset_delta < 0)
		problem(c, path, pos, "batch at offset %" PRId64 ": negative last offset delta %" PRId32,
		    b.base_offset, b.last_offset_delta);
	if (b.base_offset < seg_base)
		problem(c, path, pos, "batch base offset %" PRId64 " is below the segment's base offset %" PRId64,
		    b.base_offset, seg_base);
	else if (*last - seg_base > INT32_MAX)
		problem(c, path, pos, "batch last offset %" PRId64 " is too far above the segment's base offset %"
		    PRId64 " for a 32-bit relative offset", *last, seg_base);
	if (prev_last != INT64_MIN && b.base_offset <= prev_last)
		problem(c, path, pos, "offsets not increasing: batch base offset %" PRId64
		    " follows last offset %" PRId64, b.base_offset, prev_last);
	if (!compression_codec_valid(codec))
		problem(c, path, pos, "batch at offset %" PRId64 ": unknown compression codec %d",
		    b.base_offset, codec);
	/* Decoding a batch the CRC already condemned would only report the
	 * same damage again. */
	else if (crc_ok)
		check_records(c, path, pos, &b);
	return true;
}

/* A magic 0/1 entry: only its CRC-32 and offset are checked, its
 * messages are not decoded (samsa writes v2 only). */
static void dump_legacy_entry(struct dump_ctx *c, const char *path, bool report, const uint8_t *p,
    uint32_t size, uint64_t pos, int64_t prev_last, int8_t magic)
{
	int64_t offset = (int64_t)be64_load(p);
	uint32_t stored = be32_load(p + RB_LOG_OVERHEAD);
	uint32_t computed = (uint32_t)crc32(0, p + RB_MAGIC_OFFSET, size - RB_MAGIC_OFFSET);
	int attrs = p[RB_MAGIC_OFFSET + 1];

	if (!report)
		return;
	out(c, "offset: %" PRId64 " position: %" PRIu64 " size: %" PRIu32 " magic: %d compresscodec: %s"
	    " crc: %" PRIu32 " isvalid: %s (legacy message format, messages not decoded)\n", offset, pos,
	    size, magic, compression_codec_valid(attrs & 7) ? compression_codec_name(attrs & 7) : "unknown",
	    stored, stored == computed ? "true" : "false");
	c->batches++;
	if (stored != computed)
		problem(c, path, pos, "magic %d message at offset %" PRId64 ": CRC mismatch (stored %" PRIu32
		    ", computed %" PRIu32 ")", magic, offset, stored, computed);
	if (magic == RB_MAGIC_V1 && size < RB_LOG_OVERHEAD + 22)
		problem(c, path, pos, "magic 1 message of %" PRIu32 " bytes is too short", size);
	if (prev_last != INT64_MIN && offset <= prev_last)
		problem(c, path, pos, "offsets not increasing: offset %" PRId64 " follows %" PRId64, offset,
		    prev_last);
}

/*
 * Walk a .log into s.  report: print batches and problems (a dump);
 * otherwise only collect where the batches are, for an index check.
 */
static void scan_log(struct dump_ctx *c, const char *path, bool report, struct log_scan *s)
{
	struct mapped m;
	int64_t seg_base;
	int64_t prev_last = INT64_MIN;
	uint64_t pos = 0;

	log_scan_reset(s);
	s->path = xstrdup(path);
	if (!map_file(path, &m)) {
		if (report)
			problem(c, path, 0, "cannot read: %s", strerror(errno));
		return;
	}
	s->found = true;
	seg_base = report ? file_base_offset(path) : 0;
	if (report)
		out(c, "Dumping %s\nLog starting offset: %" PRId64 "\n", path, seg_base);
	while (pos < m.len) {
		const uint8_t *p = m.p + pos;
		size_t left = m.len - pos;

		if (left < RB_LOG_OVERHEAD) {
			if (report)
				problem(c, path, pos, "torn batch: %zu bytes left, fewer than the %d-byte entry header",
				    left, RB_LOG_OVERHEAD);
			break;
		}
		int32_t length = (int32_t)be32_load(p + RB_OFF_LENGTH);
		if (length < RB_MIN_LEGACY_SIZE) {
			if (report)
				problem(c, path, pos, "invalid batch length %" PRId32 "; rest of the file (%zu bytes) not checked",
				    length, left);
			break;
		}
		if ((size_t)length > left - RB_LOG_OVERHEAD) {
			if (report)
				problem(c, path, pos, "torn batch: length %" PRId32 " runs past the end of the file (%zu bytes left)",
				    length, left - RB_LOG_OVERHEAD);
			break;
		}
		uint32_t size = (uint32_t)length + RB_LOG_OVERHEAD;
		int8_t magic = (int8_t)p[RB_MAGIC_OFFSET];
		int64_t base, last;

		if (magic == RB_MAGIC_V2) {
			if (!dump_v2_batch(c, path, report, p, size, pos, seg_base, prev_last, &base, &last))
				break;
		} else if (magic == RB_MAGIC_V0 || magic == RB_MAGIC_V1) {
			dump_legacy_entry(c, path, report, p, size, pos, prev_last, magic);
			last = (int64_t)be64_load(p);
			base = last; /* a compressed wrapper's first inner offset is not in its header */
		} else {
			if (report)
				problem(c, path, pos, "invalid magic %d; rest of the file (%zu bytes) not checked", magic,
				    left);
			break;
		}
		log_scan_push(s, pos, base, last);
		if (last > prev_last)
			prev_last = last;
		pos += size;
	}
	unmap_file(&m);

	/* Across the segments of a directory: this one must start after the
	 * previous one ended. */
	if (report && c->dir_prev_path && s->n > 0 && s->v[0].base_offset <= c->dir_prev_last)
		problem(c, path, 0, "first batch base offset %" PRId64 " is not above the last offset %" PRId64
		    " of %s", s->v[0].base_offset, c->dir_prev_last, c->dir_prev_path);
	if (report && s->n > 0) {
		c->dir_prev_last = log_scan_last_offset(s);
		free(c->dir_prev_path_buf);
		c->dir_prev_path = c->dir_prev_path_buf = xstrdup(path);
	}
}

/* --- indexes ------------------------------------------------------------------------------ */

/* The sibling .log's batches: the one just dumped, or a quiet scan. */
static const struct log_scan *sibling_log(struct dump_ctx *c, const char *path, const char *suffix,
    struct log_scan *tmp)
{
	char *log = sibling_log_path(path, suffix);
	const struct log_scan *s;

	if (c->last_log.path && strcmp(c->last_log.path, log) == 0) {
		s = &c->last_log;
	} else {
		scan_log(c, log, false, tmp);
		s = tmp;
	}
	free(log);
	return s;
}

/* Entries past the last non-zero one: a preallocated index not yet trimmed
 * (the broker did not close the segment).  No real entry is all zero: the
 * first entry is only written after index.interval.bytes of data, so its
 * position is never 0. */
static size_t index_real_entries(const struct mapped *m, size_t entry_size)
{
	size_t n = m->len / entry_size;
	while (n > 0) {
		const uint8_t *e = m->p + (n - 1) * entry_size;
		size_t i;
		for (i = 0; i < entry_size && e[i] == 0; i++)
			;
		if (i < entry_size)
			break;
		n--;
	}
	return n;
}

static bool index_open(struct dump_ctx *c, const char *path, size_t entry_size, struct mapped *m,
    size_t *real)
{
	if (!map_file(path, m)) {
		problem(c, path, 0, "cannot read: %s", strerror(errno));
		return false;
	}
	out(c, "Dumping %s\n", path);
	if (m->len % entry_size)
		problem(c, path, m->len - m->len % entry_size,
		    "%zu trailing bytes are not a whole %zu-byte entry", m->len % entry_size, entry_size);
	*real = index_real_entries(m, entry_size);
	if (*real < m->len / entry_size)
		out(c, "(%zu zero entries of preallocated space follow)\n", m->len / entry_size - *real);
	return true;
}

static void dump_offset_index(struct dump_ctx *c, const char *path)
{
	struct mapped m;
	struct log_scan tmp = { 0 };
	size_t n;

	if (!index_open(c, path, OFFSET_INDEX_ENTRY_SIZE, &m, &n))
		return;
	int64_t base = file_base_offset(path);
	const struct log_scan *log = sibling_log(c, path, SEGMENT_INDEX_SUFFIX, &tmp);
	if (!log->found && n > 0)
		problem(c, path, 0, "cannot check positions: %s cannot be read", log->path);
	int64_t log_last = log_scan_last_offset(log);
	int64_t prev_offset = INT64_MIN, prev_pos = -1;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = m.p + i * OFFSET_INDEX_ENTRY_SIZE;
		uint64_t at = i * OFFSET_INDEX_ENTRY_SIZE;
		int32_t rel = (int32_t)be32_load(e);
		uint32_t position = be32_load(e + 4);
		/* base comes from the name, so only a huge one could overflow. */
		int64_t offset = base > INT64_MAX - INT32_MAX ? base : base + rel;

		out(c, "offset: %" PRId64 " position: %" PRIu32 "\n", offset, position);
		c->index_entries++;
		if (rel < 0) {
			problem(c, path, at, "entry %zu: negative relative offset %" PRId32, i, rel);
			continue;
		}
		if (offset <= prev_offset)
			problem(c, path, at, "entry %zu: offset %" PRId64 " is not above the previous entry's %" PRId64,
			    i, offset, prev_offset);
		if ((int64_t)position <= prev_pos)
			problem(c, path, at, "entry %zu: position %" PRIu32 " is not above the previous entry's %" PRId64,
			    i, position, prev_pos);
		prev_offset = offset;
		prev_pos = position;
		if (!log->found)
			continue;
		const struct batch_pos *bp = log_scan_at(log, position);
		if (!bp)
			problem(c, path, at, "entry %zu (offset %" PRId64 "): position %" PRIu32
			    " is not the start of a batch in %s", i, offset, position, log->path);
		else if (bp->base_offset > offset || offset > log_last)
			problem(c, path, at, "entry %zu: offset %" PRId64 " is not covered by the batches from position %"
			    PRIu32 " of %s (offsets %" PRId64 " to %" PRId64 ")", i, offset, position, log->path,
			    bp->base_offset, log_last);
	}
	log_scan_reset(&tmp);
	unmap_file(&m);
}

static void dump_time_index(struct dump_ctx *c, const char *path)
{
	struct mapped m;
	struct log_scan tmp = { 0 };
	size_t n;

	if (!index_open(c, path, TIME_INDEX_ENTRY_SIZE, &m, &n))
		return;
	int64_t base = file_base_offset(path);
	const struct log_scan *log = sibling_log(c, path, SEGMENT_TIMEINDEX_SUFFIX, &tmp);
	if (!log->found && n > 0)
		problem(c, path, 0, "cannot check offsets: %s cannot be read", log->path);
	int64_t log_last = log_scan_last_offset(log);
	int64_t prev_ts = INT64_MIN, prev_offset = INT64_MIN;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = m.p + i * TIME_INDEX_ENTRY_SIZE;
		uint64_t at = i * TIME_INDEX_ENTRY_SIZE;
		int64_t ts = (int64_t)be64_load(e);
		int32_t rel = (int32_t)be32_load(e + 8);
		int64_t offset = base > INT64_MAX - INT32_MAX ? base : base + rel;

		out(c, "timestamp: %" PRId64 " offset: %" PRId64 "\n", ts, offset);
		c->index_entries++;
		if (ts < prev_ts)
			problem(c, path, at, "entry %zu: timestamp %" PRId64 " is below the previous entry's %" PRId64,
			    i, ts, prev_ts);
		if (ts > prev_ts)
			prev_ts = ts;
		if (rel < 0) {
			problem(c, path, at, "entry %zu: negative relative offset %" PRId32, i, rel);
			continue;
		}
		if (offset < prev_offset)
			problem(c, path, at, "entry %zu: offset %" PRId64 " is below the previous entry's %" PRId64,
			    i, offset, prev_offset);
		prev_offset = offset;
		if (log->found && log->n == 0)
			problem(c, path, at, "entry %zu: offset %" PRId64 " but %s has no batches", i, offset,
			    log->path);
		else if (log->found && offset > log_last)
			problem(c, path, at, "entry %zu: offset %" PRId64 " is past the last offset %" PRId64 " of %s",
			    i, offset, log_last, log->path);
	}
	log_scan_reset(&tmp);
	unmap_file(&m);
}

/* --- producer snapshots and transaction indexes -------------------------------------------- */

#define SNAPSHOT_SUFFIX ".snapshot"
#define SNAPSHOT_ENTRY_SIZE 46
#define TXN_ENTRY_SIZE 34

/* A .snapshot (DISK-FORMAT.md section 7): version, CRC-32C, then 46-byte producer entries. */
static void dump_snapshot(struct dump_ctx *c, const char *path)
{
	struct mapped m;
	if (!map_file(path, &m)) {
		problem(c, path, 0, "cannot read: %s", strerror(errno));
		return;
	}
	out(c, "Dumping %s\n", path);
	if (m.len < 10) {
		problem(c, path, 0, "%zu bytes: shorter than the 10-byte snapshot header", m.len);
		unmap_file(&m);
		return;
	}
	int16_t version = (int16_t)be16_load(m.p);
	uint32_t crc = be32_load(m.p + 2);
	int32_t n = (int32_t)be32_load(m.p + 6);
	uint32_t computed = crc32c(0, m.p + 6, m.len - 6);
	if (version != 1)
		problem(c, path, 0, "snapshot version %d (1 expected)", version);
	if (crc != computed)
		problem(c, path, 2, "CRC mismatch (stored %" PRIu32 ", computed %" PRIu32 ")", crc, computed);
	if (n < 0 || (size_t)n != (m.len - 10) / SNAPSHOT_ENTRY_SIZE || (m.len - 10) % SNAPSHOT_ENTRY_SIZE)
		problem(c, path, 6, "%" PRId32 " entries claimed, %zu bytes of entries follow", n, m.len - 10);
	size_t have = (m.len - 10) / SNAPSHOT_ENTRY_SIZE;
	for (size_t i = 0; i < have; i++) {
		const uint8_t *e = m.p + 10 + i * SNAPSHOT_ENTRY_SIZE;
		int32_t last_seq = (int32_t)be32_load(e + 10);
		int32_t delta = (int32_t)be32_load(e + 22);
		int64_t txn = (int64_t)be64_load(e + 38);
		char txn_s[24] = "none";
		if (txn >= 0)
			snprintf(txn_s, sizeof txn_s, "%" PRId64, txn);
		out(c,
		    "producerId: %" PRId64 " producerEpoch: %d coordinatorEpoch: %" PRId32 " currentTxnFirstOffset: %s"
		    " lastTimestamp: %" PRId64 " firstSequence: %" PRId64 " lastSequence: %" PRId32
		    " lastOffset: %" PRId64 " offsetDelta: %" PRId32 "\n",
		    (int64_t)be64_load(e), (int16_t)be16_load(e + 8), (int32_t)be32_load(e + 34), txn_s,
		    (int64_t)be64_load(e + 26), (int64_t)last_seq - delta, last_seq, (int64_t)be64_load(e + 14), delta);
		c->index_entries++;
	}
	unmap_file(&m);
}

/* A .txnindex (DISK-FORMAT.md section 6): 34-byte aborted-transaction entries. */
static void dump_txn_index(struct dump_ctx *c, const char *path)
{
	struct mapped m;
	if (!map_file(path, &m)) {
		problem(c, path, 0, "cannot read: %s", strerror(errno));
		return;
	}
	out(c, "Dumping %s\n", path);
	if (m.len % TXN_ENTRY_SIZE)
		problem(c, path, m.len - m.len % TXN_ENTRY_SIZE, "%zu trailing bytes are not a whole %d-byte entry",
		    m.len % TXN_ENTRY_SIZE, TXN_ENTRY_SIZE);
	int64_t prev_last = INT64_MIN;
	for (size_t i = 0; i < m.len / TXN_ENTRY_SIZE; i++) {
		const uint8_t *e = m.p + i * TXN_ENTRY_SIZE;
		int16_t version = (int16_t)be16_load(e);
		int64_t first = (int64_t)be64_load(e + 10), last = (int64_t)be64_load(e + 18);
		int64_t lso = (int64_t)be64_load(e + 26);
		out(c, "version: %d producerId: %" PRId64 " firstOffset: %" PRId64 " lastOffset: %" PRId64
		    " lastStableOffset: %" PRId64 "\n", version, (int64_t)be64_load(e + 2), first, last, lso);
		if (version != 0)
			problem(c, path, i * TXN_ENTRY_SIZE, "entry version %d (0 expected)", version);
		if (first > last)
			problem(c, path, i * TXN_ENTRY_SIZE, "first offset %" PRId64 " after the marker at %" PRId64,
			    first, last);
		if (prev_last != INT64_MIN && last <= prev_last)
			problem(c, path, i * TXN_ENTRY_SIZE, "markers not increasing: %" PRId64 " after %" PRId64, last,
			    prev_last);
		prev_last = last;
		c->index_entries++;
	}
	unmap_file(&m);
}

/* --- arguments ---------------------------------------------------------------------------- */

static void dump_file(struct dump_ctx *c, const char *path)
{
	if (has_suffix(path, SEGMENT_LOG_SUFFIX))
		scan_log(c, path, true, &c->last_log);
	else if (has_suffix(path, SEGMENT_INDEX_SUFFIX))
		dump_offset_index(c, path);
	else if (has_suffix(path, SEGMENT_TIMEINDEX_SUFFIX))
		dump_time_index(c, path);
	else if (has_suffix(path, SEGMENT_TXNINDEX_SUFFIX))
		dump_txn_index(c, path);
	else if (has_suffix(path, SNAPSHOT_SUFFIX))
		dump_snapshot(c, path);
	else
		fprintf(stderr, "%s: ignoring a file that is not .log, .index, .timeindex, .txnindex or .snapshot\n",
			path);
}

struct dir_file {
	int64_t base;
	int rank; /* .log first: its indexes reuse its scan */
	char *path;
};

static int dir_file_cmp(const void *a, const void *b)
{
	const struct dir_file *x = a, *y = b;
	if (x->base != y->base)
		return x->base < y->base ? -1 : 1;
	return x->rank - y->rank;
}

/* Every segment of a partition directory, in offset order. */
static void dump_dir(struct dump_ctx *c, const char *dir)
{
	static const char *const suffixes[] = { SEGMENT_LOG_SUFFIX, SEGMENT_INDEX_SUFFIX,
		SEGMENT_TIMEINDEX_SUFFIX, SEGMENT_TXNINDEX_SUFFIX, SNAPSHOT_SUFFIX };
	DIR *d = opendir(dir);
	struct dir_file *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d) {
		problem(c, dir, 0, "cannot open directory: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t base;
		const char *suffix;
		if (!segment_parse_file_name(de->d_name, &base, &suffix))
			continue;
		for (int r = 0; r < 5; r++) {
			if (strcmp(suffix, suffixes[r]) != 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				v = xrealloc(v, cap * sizeof *v);
			}
			v[n++] = (struct dir_file){ base, r, xasprintf("%s/%s", dir, de->d_name) };
		}
	}
	closedir(d);
	if (n == 0)
		fprintf(stderr, "%s: no segment files\n", dir);
	if (n > 1)
		qsort(v, n, sizeof *v, dir_file_cmp);
	c->dir_prev_last = INT64_MIN;
	c->dir_prev_path = NULL;
	for (size_t i = 0; i < n; i++) {
		dump_file(c, v[i].path);
		free(v[i].path);
	}
	c->dir_prev_path = NULL;
	free(v);
}

static void dump_path(struct dump_ctx *c, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		dump_dir(c, path);
	} else {
		c->dir_prev_path = NULL;
		dump_file(c, path);
	}
}

static int usage_error(const char *why)
{
	if (why)
		fprintf(stderr, "samsa dump-log: %s\n", why);
	fprintf(stderr, "usage: samsa dump-log --files F[,F...] [--files ...] [--print-data-log] [--verify]\n"
			"  F is a .log, .index, .timeindex, .txnindex or .snapshot file or a partition directory\n");
	return 2;
}

int cmd_dump_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "files", required_argument, NULL, 'f' },
		{ "print-data-log", no_argument, NULL, 'p' },
		{ "verify", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dump_ctx c = { 0 };
	char **files = NULL;
	size_t n_files = 0;
	int ch, rc = 2;

	optind = 2;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': {
			char *copy = xstrdup(optarg), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				files = xrealloc(files, (n_files + 1) * sizeof *files);
				files[n_files++] = xstrdup(t);
			}
			free(copy);
			break;
		}
		case 'p': c.print_data = true; break;
		case 'v': c.verify = true; break;
		case 'h': usage_error(NULL); rc = 0; goto done;
		default: rc = usage_error(NULL); goto done;
		}
	}
	if (optind < argc) {
		rc = usage_error("unexpected argument (give files with --files)");
		goto done;
	}
	if (n_files == 0) {
		rc = usage_error("--files is required");
		goto done;
	}

	wbuf_init(&c.scratch);
	for (size_t i = 0; i < n_files; i++)
		dump_path(&c, files[i]);
	fflush(stdout);
	printf("%" PRId64 " batches, %" PRId64 " records, %" PRId64 " index entries checked, %" PRId64
	       " problems\n", c.batches, c.records, c.index_entries, c.problems);
	rc = c.problems ? 1 : 0;
	wbuf_free(&c.scratch);
	log_scan_reset(&c.last_log);
	free(c.dir_prev_path_buf);
	compression_thread_cleanup();
done:
	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	return rc;
}
