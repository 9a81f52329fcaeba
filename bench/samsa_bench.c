/*
 * samsa_bench: produce, consume and end-to-end latency workloads on librdkafka's
 * C API, run against a bootstrap address (a samsa broker) or against an
 * in-process librdkafka mock cluster (--mock N), which is the peer we compare to.
 *
 * Each run prints one machine-readable line starting with "RESULT " so that
 * bench/run can collect and compare the figures.
 *
 *   samsa_bench produce --bootstrap B --topic T --size 100 --count N --acks 1|all [--linger-ms 5]
 *   samsa_bench consume --bootstrap B --topic T --bytes N [--fill --size S]
 *   samsa_bench latency --bootstrap B --topic T --size 100 --rate R --count N
 *   common: --mock N (instead of --bootstrap) --partitions P (mock topic) --target NAME
 *           -X key=value (any librdkafka property, repeatable), -C key=value (consumers only)
 *
 * The consumer uses librdkafka's legacy queue API (consume_start_queue), not the
 * high-level consumer: assigning partitions needs no group coordinator that way.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define BENCH_MAX_X 64
#define BENCH_WARMUP_OPAQUE ((void *)UINTPTR_MAX)
#define BENCH_MOCK_PART_BYTES (4u << 20)

enum bench_mode { MODE_PRODUCE, MODE_CONSUME, MODE_LATENCY };

struct bench_opts {
	enum bench_mode mode;
	const char *mode_name;
	const char *bootstrap;
	const char *topic;
	const char *target;
	const char *acks;
	size_t size;
	size_t count;
	uint64_t bytes;
	double rate;
	int linger_ms;          /* -1: the mode's default */
	int mock_brokers;       /* 0: use --bootstrap */
	int partitions;         /* topic partitions on the mock */
	int fill;               /* consume: produce --bytes first */
	int xcnt;               /* -X: every client */
	const char *xkey[BENCH_MAX_X];
	const char *xval[BENCH_MAX_X];
	int ccnt;               /* -C: consumers only */
	const char *ckey[BENCH_MAX_X];
	const char *cval[BENCH_MAX_X];
};

static void
bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("samsa_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *
bench_calloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (p == NULL)
		bench_die("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

static void
bench_usage(void)
{
	fputs("usage:\n"
	    "  samsa_bench produce --bootstrap B --topic T --size 100 --count N --acks 1|all [--linger-ms 5]\n"
	    "  samsa_bench consume --bootstrap B --topic T --bytes N [--fill --size S]\n"
	    "  samsa_bench latency --bootstrap B --topic T --size 100 --rate R --count N [--acks 1|all]\n"
	    "common options:\n"
	    "  --mock N         run against an in-process librdkafka mock cluster of N brokers\n"
	    "  --partitions P   partitions of the topic created on the mock (default 1)\n"
	    "  --target NAME    label in the RESULT line (default samsa, or mock with --mock)\n"
	    "  -X key=value     librdkafka property for every client handle (repeatable)\n"
	    "  -C key=value     librdkafka property for consumer handles only (repeatable)\n",
	    stderr);
	exit(2);
}

/* Sizes accept k/m/g suffixes (powers of 1024) so that "--bytes 1g" works. */
static uint64_t
bench_parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		bench_die("bad number: %s", s);
	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
	}
	if (*end != '\0')
		bench_die("bad number: %s", s);
	return (uint64_t)v;
}

static void
bench_parse_args(struct bench_opts *o, int argc, char **argv)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->acks = "1";
	o->size = 100;
	o->count = 100000;
	o->rate = 1000;
	o->linger_ms = -1;
	o->partitions = 1;
	if (argc < 2)
		bench_usage();
	o->mode_name = argv[1];
	if (strcmp(argv[1], "produce") == 0)
		o->mode = MODE_PRODUCE;
	else if (strcmp(argv[1], "consume") == 0)
		o->mode = MODE_CONSUME;
	else if (strcmp(argv[1], "latency") == 0)
		o->mode = MODE_LATENCY;
	else
		bench_usage();

	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--fill") == 0) {
			o->fill = 1;
			continue;
		}
		if (v == NULL)
			bench_usage();
		i++;
		if (strcmp(a, "--bootstrap") == 0)
			o->bootstrap = v;
		else if (strcmp(a, "--topic") == 0)
			o->topic = v;
		else if (strcmp(a, "--target") == 0)
			o->target = v;
		else if (strcmp(a, "--acks") == 0)
			o->acks = v;
		else if (strcmp(a, "--size") == 0)
			o->size = (size_t)bench_parse_size(v);
		else if (strcmp(a, "--count") == 0)
			o->count = (size_t)bench_parse_size(v);
		else if (strcmp(a, "--bytes") == 0)
			o->bytes = bench_parse_size(v);
		else if (strcmp(a, "--rate") == 0)
			o->rate = atof(v);
		else if (strcmp(a, "--linger-ms") == 0)
			o->linger_ms = atoi(v);
		else if (strcmp(a, "--mock") == 0)
			o->mock_brokers = atoi(v);
		else if (strcmp(a, "--partitions") == 0)
			o->partitions = atoi(v);
		else if (strcmp(a, "-X") == 0 || strcmp(a, "-C") == 0) {
			const char *eq = strchr(v, '=');
			int consumer_only = a[1] == 'C';
			int *cnt = consumer_only ? &o->ccnt : &o->xcnt;

			if (eq == NULL || *cnt == BENCH_MAX_X)
				bench_die("bad %s %s", a, v);
			(consumer_only ? o->ckey : o->xkey)[*cnt] = strndup(v, (size_t)(eq - v));
			(consumer_only ? o->cval : o->xval)[*cnt] = eq + 1;
			(*cnt)++;
		} else
			bench_usage();
	}
	if (o->topic == NULL)
		bench_die("--topic is required");
	if ((o->bootstrap == NULL) == (o->mock_brokers <= 0))
		bench_die("give exactly one of --bootstrap and --mock");
	if (o->target == NULL)
		o->target = o->mock_brokers > 0 ? "mock" : "samsa";
	if (o->mode == MODE_LATENCY && o->size < 16)
		bench_die("latency needs --size >= 16 (timestamp and sequence number)");
	if (o->mode == MODE_CONSUME && o->bytes == 0)
		bench_die("consume needs --bytes");
	if (o->count == 0 || o->size == 0 || o->rate <= 0)
		bench_die("--count, --size and --rate must be positive");
}

static void
bench_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		bench_die("%s=%s: %s", k, v, errstr);
}

static rd_kafka_conf_t *
bench_conf_new(const struct bench_opts *o)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int i;

	bench_conf_set(conf, "bootstrap.servers", o->bootstrap);
	bench_conf_set(conf, "client.id", "samsa_bench");
	for (i = 0; i < o->xcnt; i++)
		bench_conf_set(conf, o->xkey[i], o->xval[i]);
	return conf;
}

static rd_kafka_t *
bench_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
	char errstr[512];
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));

	if (rk == NULL)
		bench_die("rd_kafka_new: %s", errstr);
	return rk;
}

/* The peer: librdkafka's mock cluster lives in a dummy producer handle's threads. */
struct bench_mock {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mcluster;
};

static void
bench_mock_start(struct bench_mock *m, struct bench_opts *o)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_resp_err_t err;

	bench_conf_set(conf, "log_level", "3");
	m->rk = bench_client_new(RD_KAFKA_PRODUCER, conf);
	m->mcluster = rd_kafka_mock_cluster_new(m->rk, o->mock_brokers);
	if (m->mcluster == NULL)
		bench_die("rd_kafka_mock_cluster_new failed");
	err = rd_kafka_mock_topic_create(m->mcluster, o->topic, o->partitions, 1);
	if (err)
		bench_die("mock topic create: %s", rd_kafka_err2str(err));
	o->bootstrap = rd_kafka_mock_cluster_bootstraps(m->mcluster);
}

static void
bench_mock_stop(struct bench_mock *m)
{
	if (m->mcluster)
		rd_kafka_mock_cluster_destroy(m->mcluster);
	if (m->rk)
		rd_kafka_destroy(m->rk);
}

/* Partition count from metadata; this also opens the connection, so timed
 * loops do not pay for the first connect. */
static int
bench_topic_partitions(rd_kafka_t *rk, rd_kafka_topic_t *rkt)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	int tries, n = 0;

	for (tries = 0; tries < 50; tries++) {
		err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				n = md->topics[0].partition_cnt;
			rd_kafka_metadata_destroy(md);
			if (n > 0)
				return n;
		}
		usleep(200000);
	}
	bench_die("topic %s: no metadata (%s)", rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
	return 0;
}

static int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in milliseconds. */
static double
bench_pct_ms(const uint64_t *sorted, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return NAN;
	rank = (size_t)ceil(q * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1e6;
}

/* ---- produce ------------------------------------------------------------------ */

/* Delivery reports arrive on the application thread inside rd_kafka_poll/flush,
 * so this state needs no locking. Send times are indexed by the message's
 * opaque (its sequence number) in an array allocated once. */
struct produce_state {
	uint64_t *sent_ns;
	uint64_t *lat_ns;
	size_t lat_cnt;
	size_t delivered;
	size_t errors;
	uint64_t last_dr_ns;
	rd_kafka_resp_err_t first_err;
};

static void
produce_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct produce_state *st = opaque;
	uint64_t now = bench_now_ns();

	(void)rk;
	if (m->_private == BENCH_WARMUP_OPAQUE)
		return;
	st->delivered++;
	st->last_dr_ns = now;
	if (m->err) {
		if (st->errors++ == 0)
			st->first_err = m->err;
		return;
	}
	st->lat_ns[st->lat_cnt++] = now - st->sent_ns[(uintptr_t)m->_private];
}

static rd_kafka_t *
produce_client_new(const struct bench_opts *o, int default_linger, void *dr_opaque)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char buf[32];
	int i;

	bench_conf_set(conf, "bootstrap.servers", o->bootstrap);
	bench_conf_set(conf, "client.id", "samsa_bench");
	bench_conf_set(conf, "acks", o->acks);
	snprintf(buf, sizeof(buf), "%d", o->linger_ms >= 0 ? o->linger_ms : default_linger);
	bench_conf_set(conf, "linger.ms", buf);
	bench_conf_set(conf, "queue.buffering.max.messages", "1000000");
	if (dr_opaque) {
		rd_kafka_conf_set_dr_msg_cb(conf, produce_dr_cb);
		rd_kafka_conf_set_opaque(conf, dr_opaque);
	}
	for (i = 0; i < o->xcnt; i++)
		bench_conf_set(conf, o->xkey[i], o->xval[i]);
	return bench_client_new(RD_KAFKA_PRODUCER, conf);
}

/* Produce one message, waiting for queue space; sets *sent_ns just before the
 * call that succeeds so the latency does not count our own waiting for room. */
static void
produce_one_to(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition, void *payload,
    size_t len, int msgflags, void *opaque, uint64_t *sent_ns)
{
	for (;;) {
		if (sent_ns)
			*sent_ns = bench_now_ns();
		if (rd_kafka_produce(rkt, partition, msgflags, payload, len,
		    NULL, 0, opaque) == 0)
			return;
		if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			bench_die("produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_poll(rk, 1);
	}
}

/* Null key, partitioner's choice (librdkafka 2.0: sticky per linger period). */
static void
produce_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, void *payload, size_t len, int msgflags,
    void *opaque, uint64_t *sent_ns)
{
	produce_one_to(rk, rkt, RD_KAFKA_PARTITION_UA, payload, len, msgflags, opaque, sent_ns);
}

static void
produce_flush(rd_kafka_t *rk, int timeout_s)
{
	if (rd_kafka_flush(rk, timeout_s * 1000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		fprintf(stderr, "samsa_bench: flush timed out with %d messages outstanding\n",
		    rd_kafka_outq_len(rk));
}

static void
bench_produce(const struct bench_opts *o)
{
	struct produce_state st;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	char *payload;
	size_t i, warmup;
	int partitions;
	uint64_t t0, elapsed;
	double secs;

	memset(&st, 0, sizeof(st));
	st.sent_ns = bench_calloc(o->count, sizeof(uint64_t));
	st.lat_ns = bench_calloc(o->count, sizeof(uint64_t));
	payload = bench_calloc(1, o->size);
	for (i = 0; i < o->size; i++)
		payload[i] = (char)('a' + i % 26);

	rk = produce_client_new(o, 5, &st);
	rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	partitions = bench_topic_partitions(rk, rkt);

	/* Warm-up: connections and per-partition leaders, not timed. The payload is
	 * shared and never changes, so it is not copied (msgflags 0). */
	warmup = o->count / 100 < 1000 ? o->count / 100 : 1000;
	if (warmup < (size_t)partitions)
		warmup = (size_t)partitions;
	for (i = 0; i < warmup; i++)
		produce_one(rk, rkt, payload, o->size, 0, BENCH_WARMUP_OPAQUE, NULL);
	produce_flush(rk, 60);

	t0 = bench_now_ns();
	for (i = 0; i < o->count; i++) {
		produce_one(rk, rkt, payload, o->size, 0, (void *)(uintptr_t)i, &st.sent_ns[i]);
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	produce_flush(rk, 120);
	elapsed = (st.last_dr_ns > t0 ? st.last_dr_ns : bench_now_ns()) - t0;
	secs = (double)elapsed / 1e9;
	qsort(st.lat_ns, st.lat_cnt, sizeof(uint64_t), bench_cmp_u64);

	if (st.errors)
		fprintf(stderr, "samsa_bench: %zu delivery errors, first: %s\n", st.errors,
		    rd_kafka_err2str(st.first_err));
	printf("RESULT target=%s mode=produce size=%zu partitions=%d acks=%s linger_ms=%d count=%zu"
	    " delivered=%zu errors=%zu secs=%.3f msgs_per_s=%.0f mb_per_s=%.2f"
	    " p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
	    o->target, o->size, partitions, o->acks, o->linger_ms >= 0 ? o->linger_ms : 5,
	    o->count, st.delivered, st.errors, secs,
	    (double)st.lat_cnt / secs, (double)st.lat_cnt * (double)o->size / secs / 1e6,
	    bench_pct_ms(st.lat_ns, st.lat_cnt, 0.50), bench_pct_ms(st.lat_ns, st.lat_cnt, 0.99),
	    bench_pct_ms(st.lat_ns, st.lat_cnt, 0.999),
	    st.lat_cnt ? (double)st.lat_ns[st.lat_cnt - 1] / 1e6 : NAN);
	fflush(stdout);

	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	free(payload);
	free(st.sent_ns);
	free(st.lat_ns);
}

/* consume --fill and the mock: put `bytes` of --size messages in the topic first,
 * spread evenly over the partitions. */
static void
bench_fill(const struct bench_opts *o, uint64_t bytes)
{
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	char *payload = bench_calloc(1, o->size);
	uint64_t n = (bytes + o->size - 1) / o->size, i;
	int partitions;

	memset(payload, 'f', o->size);
	rk = produce_client_new(o, 5, NULL);
	rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	partitions = bench_topic_partitions(rk, rkt);
	for (i = 0; i < n; i++) {
		produce_one_to(rk, rkt, (int32_t)(i % (uint64_t)partitions), payload, o->size, 0,
		    NULL, NULL);
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	produce_flush(rk, 300);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	free(payload);
}

/* ---- consume ------------------------------------------------------------------ */

/* A consumer handle with every partition of the topic started at `start`
 * (an offset or RD_KAFKA_OFFSET_*; the high watermark when start_at_end). */
struct consumer {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *rkqu;
	int partitions;
};

static void
consumer_open(struct consumer *c, const struct bench_opts *o, int start_at_end)
{
	rd_kafka_conf_t *conf = bench_conf_new(o);
	rd_kafka_topic_conf_t *tconf;
	int32_t p;
	int i;

	bench_conf_set(conf, "enable.partition.eof", "true");
	for (i = 0; i < o->ccnt; i++)
		bench_conf_set(conf, o->ckey[i], o->cval[i]);
	c->rk = bench_client_new(RD_KAFKA_CONSUMER, conf);
	tconf = rd_kafka_topic_conf_new();
	if (rd_kafka_topic_conf_set(tconf, "auto.offset.reset", "earliest", NULL, 0) != RD_KAFKA_CONF_OK)
		bench_die("auto.offset.reset");
	c->rkt = rd_kafka_topic_new(c->rk, o->topic, tconf);
	c->partitions = bench_topic_partitions(c->rk, c->rkt);
	c->rkqu = rd_kafka_queue_new(c->rk);
	for (p = 0; p < c->partitions; p++) {
		int64_t start = RD_KAFKA_OFFSET_BEGINNING;

		if (start_at_end) {
			int64_t lo, hi;
			rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(c->rk, o->topic, p,
			    &lo, &hi, 10000);

			if (err)
				bench_die("watermarks of %s-%d: %s", o->topic, p, rd_kafka_err2str(err));
			start = hi;
		}
		if (rd_kafka_consume_start_queue(c->rkt, p, start, c->rkqu) == -1)
			bench_die("consume_start %s-%d: %s", o->topic, p,
			    rd_kafka_err2str(rd_kafka_last_error()));
	}
}

static void
consumer_close(struct consumer *c)
{
	int32_t p;

	for (p = 0; p < c->partitions; p++)
		rd_kafka_consume_stop(c->rkt, p);
	rd_kafka_queue_destroy(c->rkqu);
	rd_kafka_topic_destroy(c->rkt);
	rd_kafka_destroy(c->rk);
}

static void
bench_consume(const struct bench_opts *o)
{
	struct consumer c;
	rd_kafka_message_t *batch[1024];
	uint64_t want = o->bytes;
	uint64_t bytes = 0, msgs = 0, t_first = 0, t_last = 0, idle_since;
	int eofs = 0, errors = 0, short_read = 0;
	char *at_eof;
	double secs;

	/* The mock keeps only the newest few MB of each partition in memory
	 * (older message sets are dropped), so it can be asked for no more. */
	if (o->mock_brokers > 0 && want > (uint64_t)o->partitions * BENCH_MOCK_PART_BYTES) {
		want = (uint64_t)o->partitions * BENCH_MOCK_PART_BYTES;
		fprintf(stderr, "samsa_bench: mock keeps ~5 MB per partition; consuming %" PRIu64
		    " bytes instead\n", want);
	}
	if (o->fill || o->mock_brokers > 0)
		bench_fill(o, want);
	consumer_open(&c, o, 0);
	at_eof = bench_calloc((size_t)c.partitions, 1);
	idle_since = bench_now_ns();
	while (bytes < want) {
		ssize_t n = rd_kafka_consume_batch_queue(c.rkqu, 10, batch, 1024);
		ssize_t i;

		if (n <= 0) {
			if (bench_now_ns() - idle_since > 30000000000ull) {
				fprintf(stderr, "samsa_bench: nothing consumed for 30 s\n");
				short_read = 1;
				break;
			}
			continue;
		}
		idle_since = bench_now_ns();
		for (i = 0; i < n; i++) {
			rd_kafka_message_t *m = batch[i];

			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				if (m->partition >= 0 && m->partition < c.partitions && !at_eof[m->partition]) {
					at_eof[m->partition] = 1;
					eofs++;
				}
			}
			else if (m->err) {
				if (errors++ < 5)
					fprintf(stderr, "samsa_bench: consume error: %s\n",
					    rd_kafka_message_errstr(m));
			} else {
				if (t_first == 0)
					t_first = idle_since;
				bytes += m->len;
				msgs++;
			}
			rd_kafka_message_destroy(m);
		}
		t_last = idle_since;
		/* Every partition at its end before --bytes: the topic holds too little. */
		if (eofs >= c.partitions && bytes < want) {
			fprintf(stderr, "samsa_bench: topic ended after %" PRIu64 " of %" PRIu64 " bytes\n",
			    bytes, want);
			short_read = 1;
			break;
		}
	}
	secs = t_last > t_first ? (double)(t_last - t_first) / 1e9 : NAN;
	printf("RESULT target=%s mode=consume partitions=%d bytes=%" PRIu64 " msgs=%" PRIu64
	    " errors=%d complete=%d secs=%.3f mb_per_s=%.2f msgs_per_s=%.0f\n",
	    o->target, c.partitions, bytes, msgs, errors, !short_read, secs,
	    (double)bytes / secs / 1e6, (double)msgs / secs);
	fflush(stdout);
	consumer_close(&c);
	free(at_eof);
}

/* ---- end-to-end latency -------------------------------------------------------- */

/* Each payload starts with the send time (CLOCK_MONOTONIC ns) and the message's
 * sequence number, both native-endian: producer and consumer share the process. */
struct latency_state {
	struct consumer c;
	uint64_t *lat_ns;      /* by sequence number; 0 = not received */
	size_t count;
	size_t received;
	size_t duplicates;
	volatile int stop;
};

static void *
latency_consumer_main(void *arg)
{
	struct latency_state *st = arg;
	/* One message at a time: consume_batch_queue waits its whole timeout to
	 * fill the batch, which would show up as latency. */
	while (!st->stop && __atomic_load_n(&st->received, __ATOMIC_RELAXED) < st->count) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(st->c.rkqu, 100);
		uint64_t now = bench_now_ns();

		if (m != NULL) {
			uint64_t ts, seq;

			if (!m->err && m->len >= 16) {
				memcpy(&ts, m->payload, 8);
				memcpy(&seq, (char *)m->payload + 8, 8);
				if (seq < st->count) {
					if (st->lat_ns[seq])
						st->duplicates++;
					else
						__atomic_fetch_add(&st->received, 1, __ATOMIC_RELAXED);
					st->lat_ns[seq] = now - ts ? now - ts : 1;
				}
			}
			rd_kafka_message_destroy(m);
		}
	}
	return NULL;
}

static void
bench_latency(const struct bench_opts *o)
{
	struct latency_state st;
	pthread_t thr;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	char *payload = bench_calloc(1, o->size);
	uint64_t interval_ns = (uint64_t)(1e9 / o->rate), t0, deadline, *sorted;
	size_t i, n;

	memset(&st, 0, sizeof(st));
	memset(payload, 'l', o->size);
	st.count = o->count;
	st.lat_ns = bench_calloc(o->count, sizeof(uint64_t));
	consumer_open(&st.c, o, 1);

	/* linger.ms=0 unless asked: we measure latency, not batching. */
	rk = produce_client_new(o, 0, NULL);
	rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	bench_topic_partitions(rk, rkt);
	if (pthread_create(&thr, NULL, latency_consumer_main, &st) != 0)
		bench_die("pthread_create");
	/* Let the consumer's first fetches go out before the clock starts. */
	usleep(500000);

	t0 = bench_now_ns();
	for (i = 0; i < o->count; i++) {
		struct timespec ts;
		uint64_t due = t0 + i * interval_ns, now;

		ts.tv_sec = (time_t)(due / 1000000000ull);
		ts.tv_nsec = (long)(due % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		now = bench_now_ns();
		memcpy(payload, &now, 8);
		memcpy(payload + 8, &i, 8);
		produce_one(rk, rkt, payload, o->size, RD_KAFKA_MSG_F_COPY, NULL, NULL);
		rd_kafka_poll(rk, 0);
	}
	produce_flush(rk, 60);
	deadline = bench_now_ns() + 30000000000ull;
	while (__atomic_load_n(&st.received, __ATOMIC_RELAXED) < st.count && bench_now_ns() < deadline)
		usleep(10000);
	st.stop = 1;
	pthread_join(thr, NULL);

	sorted = bench_calloc(st.count, sizeof(uint64_t));
	for (i = 0, n = 0; i < st.count; i++)
		if (st.lat_ns[i])
			sorted[n++] = st.lat_ns[i];
	qsort(sorted, n, sizeof(uint64_t), bench_cmp_u64);
	printf("RESULT target=%s mode=latency size=%zu partitions=%d acks=%s rate=%.0f count=%zu"
	    " received=%zu lost=%zu p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
	    o->target, o->size, st.c.partitions, o->acks, o->rate, st.count, n, st.count - n,
	    bench_pct_ms(sorted, n, 0.50), bench_pct_ms(sorted, n, 0.99),
	    bench_pct_ms(sorted, n, 0.999), n ? (double)sorted[n - 1] / 1e6 : NAN);
	fflush(stdout);

	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	consumer_close(&st.c);
	free(sorted);
	free(st.lat_ns);
	free(payload);
}

int
main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_mock mock = { NULL, NULL };

	bench_parse_args(&o, argc, argv);
	if (o.mock_brokers > 0)
		bench_mock_start(&mock, &o);
	switch (o.mode) {
	case MODE_PRODUCE: bench_produce(&o); break;
	case MODE_CONSUME: bench_consume(&o); break;
	case MODE_LATENCY: bench_latency(&o); break;
	}
	bench_mock_stop(&mock);
	return 0;
}
