/*
 * samsa producer-perf-test and consumer-perf-test: the load generators of
 * Kafka's kafka-producer-perf-test.sh (ProducerPerformance) and
 * kafka-consumer-perf-test.sh (ConsumerPerformance), with their flags and
 * output, on librdkafka.  Built only when configure found librdkafka.
 *
 * The producer sends --num-records records of --record-size random capital
 * letters (or lines of --payload-file), at most --throughput records a second
 * (-1: as fast as it can), reports a window every 5 s and then Kafka's summary
 * line with latency percentiles (latency: send to delivery report).  The
 * consumer joins a fresh group, reads --messages records from the start
 * (--from-latest: the end) and prints Kafka's CSV columns.  Java-only client
 * properties (serializers) are ignored; the rest go to librdkafka as they are.
 */
#include "tools/commands.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "samsa/util/buf.h"
#include "samsa/util/xalloc.h"

#define MAX_PROPS 128
#define MAX_SAMPLES 500000
#define REPORT_MS 5000

static void perr(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool java_only(const char *key)
{
	return !strcmp(key, "key.serializer") || !strcmp(key, "value.serializer") || !strcmp(key, "key.deserializer") ||
	       !strcmp(key, "value.deserializer") || !strcmp(key, "client.dns.lookup");
}

/* "k=v" into conf; 0, or -1 after one line. */
static int conf_set(const char *prog, rd_kafka_conf_t *conf, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv) {
		perr(prog, "bad property '%s': expected key=value", kv);
		return -1;
	}
	char *key = xstrndup(kv, (size_t)(eq - kv));
	char err[512];
	int rc = 0;
	if (!java_only(key) && rd_kafka_conf_set(conf, key, eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) {
		perr(prog, "property %s: %s", key, err);
		rc = -1;
	}
	free(key);
	return rc;
}

/* A Java properties file (key=value lines, # and ! comments) into conf. */
static int conf_file(const char *prog, rd_kafka_conf_t *conf, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perr(prog, "cannot read %s", path);
		return -1;
	}
	char line[4096];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t n = strlen(s);
		while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
			s[--n] = 0;
		if (!*s || *s == '#' || *s == '!')
			continue;
		char *eq = strchr(s, '=');
		if (eq) {
			char *k_end = eq;
			while (k_end > s && (k_end[-1] == ' ' || k_end[-1] == '\t'))
				k_end--;
			char *v = eq + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			char *kv = xasprintf("%.*s=%s", (int)(k_end - s), s, v);
			rc = conf_set(prog, conf, kv);
			free(kv);
		} else {
			rc = conf_set(prog, conf, s);
		}
	}
	fclose(f);
	return rc;
}

/* Waits for the topic's metadata so that an unreachable cluster is one clear line, not a silent wait. */
static int check_reachable(const char *prog, rd_kafka_t *rk, const char *topic)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
	rd_kafka_topic_destroy(t);
	if (err) {
		perr(prog, "cannot get metadata from the cluster: %s", rd_kafka_err2str(err));
		return -1;
	}
	rd_kafka_resp_err_t terr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
	rd_kafka_metadata_destroy(md);
	if (terr && terr != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
		perr(prog, "topic %s: %s", topic, rd_kafka_err2str(terr));
		return -1;
	}
	return 0;
}

static void quiet_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk; (void)err; (void)reason; (void)opaque;
}

/* librdkafka's own log lines and transient errors stay quiet: the command says what failed, on one line. */
static void quiet(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, NULL);
	rd_kafka_conf_set_error_cb(conf, quiet_error_cb);
}

/* --- producer ------------------------------------------------------------------------------------ */

struct pstats {
	int64_t start_us;
	int64_t count, bytes, errors;
	double total_latency_ms;
	int64_t max_latency_ms;
	int64_t *samples;
	int64_t n_samples, sampling;
	int64_t window_start_us, window_count, window_bytes, window_max_ms;
	double window_latency_ms;
	char first_error[256];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct pstats *s = opaque;
	int64_t now = now_us();
	if (m->err) {
		if (!s->errors++)
			snprintf(s->first_error, sizeof s->first_error, "%s", rd_kafka_err2str(m->err));
		return;
	}
	int64_t lat_ms = (now - (int64_t)(intptr_t)m->_private) / 1000;
	if (s->count % s->sampling == 0 && s->n_samples < MAX_SAMPLES)
		s->samples[s->n_samples++] = lat_ms;
	s->count++;
	s->bytes += (int64_t)m->len;
	s->total_latency_ms += (double)lat_ms;
	if (lat_ms > s->max_latency_ms)
		s->max_latency_ms = lat_ms;
	s->window_count++;
	s->window_bytes += (int64_t)m->len;
	s->window_latency_ms += (double)lat_ms;
	if (lat_ms > s->window_max_ms)
		s->window_max_ms = lat_ms;
	if (now - s->window_start_us >= REPORT_MS * 1000) {
		double secs = (double)(now - s->window_start_us) / 1e6;
		printf("%" PRId64 " records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
		       s->window_count, (double)s->window_count / secs, (double)s->window_bytes / 1024.0 / 1024.0 / secs,
		       s->window_latency_ms / (double)(s->window_count ? s->window_count : 1), (double)s->window_max_ms);
		fflush(stdout);
		s->window_start_us = now;
		s->window_count = s->window_bytes = s->window_max_ms = 0;
		s->window_latency_ms = 0;
	}
}

static int i64_cmp(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static void pusage(FILE *f)
{
	fprintf(f, "usage: samsa producer-perf-test --topic T --num-records N (--record-size B | --payload-file F\n"
		   "         [--payload-delimiter D]) --throughput R (records/s, -1: unthrottled)\n"
		   "         [--producer-props k=v ...] [--producer.config FILE] [--bootstrap-server HOST:PORT]\n"
		   "         [--print-metrics]\n"
		   "bootstrap.servers comes from --producer-props, --producer.config or --bootstrap-server;\n"
		   "prints Kafka's kafka-producer-perf-test.sh summary\n");
}

int cmd_producer_perf_test(int argc, char **argv)
{
	const char *prog = "samsa producer-perf-test";
	enum { O_TOPIC = 256, O_NUM, O_SIZE, O_PAYLOAD, O_DELIM, O_TPUT, O_PROPS, O_CONFIG, O_BOOT, O_METRICS, O_HELP };
	static const struct option opts[] = {
		{ "topic", required_argument, NULL, O_TOPIC },
		{ "num-records", required_argument, NULL, O_NUM },
		{ "record-size", required_argument, NULL, O_SIZE },
		{ "payload-file", required_argument, NULL, O_PAYLOAD },
		{ "payload-delimiter", required_argument, NULL, O_DELIM },
		{ "throughput", required_argument, NULL, O_TPUT },
		{ "producer-props", required_argument, NULL, O_PROPS },
		{ "producer.config", required_argument, NULL, O_CONFIG },
		{ "bootstrap-server", required_argument, NULL, O_BOOT },
		{ "print-metrics", no_argument, NULL, O_METRICS },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *topic = NULL, *payload_file = NULL, *delim = "\n", *config = NULL, *bootstrap = NULL;
	const char *props[MAX_PROPS];
	int n_props = 0;
	long long num = -1, size = -1, tput = 0;
	bool have_tput = false, metrics = false;
	optind = 2;
	opterr = 0;
	int ch;
	char *end;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_TOPIC: topic = optarg; break;
		case O_NUM:
			num = strtoll(optarg, &end, 10);
			if (*end || num < 0) { perr(prog, "bad --num-records '%s'", optarg); return 1; }
			break;
		case O_SIZE:
			size = strtoll(optarg, &end, 10);
			if (*end || size < 0 || size > (1 << 30)) { perr(prog, "bad --record-size '%s'", optarg); return 1; }
			break;
		case O_PAYLOAD: payload_file = optarg; break;
		case O_DELIM: delim = optarg; break;
		case O_TPUT:
			tput = strtoll(optarg, &end, 10);
			if (*end || tput == 0 || tput < -1) { perr(prog, "bad --throughput '%s'", optarg); return 1; }
			have_tput = true;
			break;
		case O_PROPS:
			/* nargs+: this value and every later argument up to the next flag */
			optind--;
			while (optind < argc && strncmp(argv[optind], "--", 2) != 0 && n_props < MAX_PROPS)
				props[n_props++] = argv[optind++];
			break;
		case O_CONFIG: config = optarg; break;
		case O_BOOT: bootstrap = optarg; break;
		case O_METRICS: metrics = true; break;
		case O_HELP: pusage(stdout); return 0;
		default:
			perr(prog, "unrecognized option or missing argument: %s (see %s --help)", argv[optind - 1], prog);
			return 1;
		}
	}
	if (optind != argc) {
		perr(prog, "unexpected argument '%s' (see %s --help)", argv[optind], prog);
		return 1;
	}
	if (!topic || num < 0 || !have_tput || (size < 0) == !payload_file) {
		perr(prog, "--topic, --num-records, --throughput and one of --record-size or --payload-file are required "
			   "(see %s --help)", prog);
		return 1;
	}
	if (!bootstrap && !config && n_props == 0) {
		perr(prog, "Either --producer-props or --producer.config must be specified.");
		return 1;
	}

	/* The payloads: one buffer of random capitals, or the file's records. */
	char **payloads = NULL;
	size_t *lens = NULL;
	int n_payloads = 0;
	if (payload_file) {
		FILE *f = fopen(payload_file, "rb");
		if (!f) { perr(prog, "cannot read %s", payload_file); return 1; }
		struct wbuf w;
		wbuf_init(&w);
		char buf[65536];
		size_t r;
		while ((r = fread(buf, 1, sizeof buf, f)) > 0)
			wbuf_put(&w, buf, r);
		fclose(f);
		char *text = xstrndup(w.len ? (const char *)w.data : "", w.len);
		wbuf_free(&w);
		for (char *p = text; *p;) {
			char *d = strstr(p, delim);
			size_t l = d ? (size_t)(d - p) : strlen(p);
			if (l) {
				payloads = xrealloc(payloads, sizeof *payloads * (size_t)(n_payloads + 1));
				lens = xrealloc(lens, sizeof *lens * (size_t)(n_payloads + 1));
				payloads[n_payloads] = xstrndup(p, l);
				lens[n_payloads++] = l;
			}
			p += l + (d ? strlen(delim) : 0);
		}
		free(text);
		if (!n_payloads) { perr(prog, "File is empty: %s", payload_file); return 1; }
		printf("Reading payloads from: %s\nNumber of messages read: %d\n", payload_file, n_payloads);
	} else {
		payloads = xmalloc(sizeof *payloads);
		lens = xmalloc(sizeof *lens);
		payloads[0] = xmalloc((size_t)size + 1);
		srand((unsigned)time(NULL));
		for (long long i = 0; i < size; i++)
			payloads[0][i] = (char)('A' + rand() % 26);
		lens[0] = (size_t)size;
		n_payloads = 1;
	}

	struct pstats s;
	memset(&s, 0, sizeof s);
	s.sampling = num > MAX_SAMPLES ? num / MAX_SAMPLES : 1;
	s.samples = xcalloc(MAX_SAMPLES, sizeof *s.samples);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	int status = 1;
	rd_kafka_t *rk = NULL;
	rd_kafka_conf_set(conf, "client.id", "perf-producer-client", err, sizeof err);
	if ((bootstrap && rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK) ||
	    (config && conf_file(prog, conf, config) != 0)) {
		rd_kafka_conf_destroy(conf);
		goto out;
	}
	for (int i = 0; i < n_props; i++)
		if (conf_set(prog, conf, props[i]) != 0) {
			rd_kafka_conf_destroy(conf);
			goto out;
		}
	quiet(conf);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_opaque(conf, &s);
	if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err))) {
		perr(prog, "%s", err);
		rd_kafka_conf_destroy(conf);
		goto out;
	}
	if (check_reachable(prog, rk, topic) != 0)
		goto out;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	s.start_us = s.window_start_us = now_us();
	for (long long i = 0; i < num; i++) {
		int k = n_payloads > 1 ? rand() % n_payloads : 0;
		int64_t send = now_us();
		while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payloads[k], lens[k], NULL, 0,
					(void *)(intptr_t)send) != 0) {
			if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				perr(prog, "produce failed: %s", rd_kafka_err2str(rd_kafka_last_error()));
				rd_kafka_topic_destroy(rkt);
				goto out;
			}
			rd_kafka_poll(rk, 10);
		}
		rd_kafka_poll(rk, 0);
		if (tput > 0) {
			/* Kafka's ThroughputThrottler: sleep until the records so far fit the target rate. */
			int64_t due = s.start_us + (int64_t)((double)(i + 1) * 1e6 / (double)tput);
			int64_t now = now_us();
			while (now < due) {
				rd_kafka_poll(rk, (int)((due - now) / 1000 > 0 ? (due - now) / 1000 : 0));
				if ((due - now) < 1000)
					usleep((useconds_t)(due - now));
				now = now_us();
			}
		}
	}
	rd_kafka_flush(rk, 300000);
	rd_kafka_topic_destroy(rkt);
	double secs = (double)(now_us() - s.start_us) / 1e6;
	qsort(s.samples, (size_t)s.n_samples, sizeof *s.samples, i64_cmp);
#define PCT(q) (s.n_samples ? s.samples[(int64_t)((double)s.n_samples * (q))] : 0)
	printf("%" PRId64 " records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, "
	       "%" PRId64 " ms 50th, %" PRId64 " ms 95th, %" PRId64 " ms 99th, %" PRId64 " ms 99.9th.\n",
	       s.count, (double)s.count / secs, (double)s.bytes / 1024.0 / 1024.0 / secs,
	       s.total_latency_ms / (double)(s.count ? s.count : 1), (double)s.max_latency_ms, PCT(0.5), PCT(0.95),
	       PCT(0.99), PCT(0.999));
	(void)metrics; /* --print-metrics: accepted; librdkafka's statistics are not Kafka's metrics */
	fflush(stdout);
	if (s.errors)
		perr(prog, "%" PRId64 " of %lld records were not delivered: %s", s.errors, num, s.first_error);
	else
		status = 0;
out:
	if (rk)
		rd_kafka_destroy(rk);
	for (int i = 0; i < n_payloads; i++)
		free(payloads[i]);
	free(payloads);
	free(lens);
	free(s.samples);
	return status;
}

/* --- consumer ------------------------------------------------------------------------------------ */

static void cusage(FILE *f)
{
	fprintf(f, "usage: samsa consumer-perf-test --bootstrap-server HOST:PORT --topic T --messages N\n"
		   "         [--group G] [--from-latest] [--timeout MS] [--consumer.config FILE] [--hide-header]\n"
		   "         [--fetch-size B] [--show-detailed-stats] [--reporting-interval MS]\n"
		   "prints Kafka's kafka-consumer-perf-test.sh columns\n");
}

static void fmt_date(char *out, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	size_t k = strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out + k, n - k, ":%03d", (int)(ms % 1000));
}

static volatile int64_t assigned_at_ms;

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	(void)opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (!assigned_at_ms)
			assigned_at_ms = wall_ms();
		rd_kafka_assign(rk, parts);
	} else {
		rd_kafka_assign(rk, NULL);
	}
}

int cmd_consumer_perf_test(int argc, char **argv)
{
	const char *prog = "samsa consumer-perf-test";
	enum { O_BOOT = 256, O_TOPIC, O_MSGS, O_GROUP, O_LATEST, O_TIMEOUT, O_CONFIG, O_HIDE, O_FETCH, O_DETAIL,
	       O_INTERVAL, O_METRICS, O_HELP };
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, O_BOOT },
		{ "broker-list", required_argument, NULL, O_BOOT },
		{ "topic", required_argument, NULL, O_TOPIC },
		{ "messages", required_argument, NULL, O_MSGS },
		{ "group", required_argument, NULL, O_GROUP },
		{ "from-latest", no_argument, NULL, O_LATEST },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "consumer.config", required_argument, NULL, O_CONFIG },
		{ "hide-header", no_argument, NULL, O_HIDE },
		{ "fetch-size", required_argument, NULL, O_FETCH },
		{ "show-detailed-stats", no_argument, NULL, O_DETAIL },
		{ "reporting-interval", required_argument, NULL, O_INTERVAL },
		{ "print-metrics", no_argument, NULL, O_METRICS },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *bootstrap = NULL, *topic = NULL, *group = NULL, *config = NULL, *fetch_size = NULL;
	long long messages = -1, timeout = 10000, interval = 5000;
	bool latest = false, hide = false, detailed = false;
	optind = 2;
	opterr = 0;
	int ch;
	char *end;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_BOOT: bootstrap = optarg; break;
		case O_TOPIC: topic = optarg; break;
		case O_MSGS:
			messages = strtoll(optarg, &end, 10);
			if (*end || messages < 0) { perr(prog, "bad --messages '%s'", optarg); return 1; }
			break;
		case O_GROUP: group = optarg; break;
		case O_LATEST: latest = true; break;
		case O_TIMEOUT:
			timeout = strtoll(optarg, &end, 10);
			if (*end || timeout <= 0) { perr(prog, "bad --timeout '%s'", optarg); return 1; }
			break;
		case O_CONFIG: config = optarg; break;
		case O_HIDE: hide = true; break;
		case O_FETCH: fetch_size = optarg; break;
		case O_DETAIL: detailed = true; break;
		case O_INTERVAL:
			interval = strtoll(optarg, &end, 10);
			if (*end || interval <= 0) { perr(prog, "bad --reporting-interval '%s'", optarg); return 1; }
			break;
		case O_METRICS: break;
		case O_HELP: cusage(stdout); return 0;
		default:
			perr(prog, "unrecognized option or missing argument: %s (see %s --help)", argv[optind - 1], prog);
			return 1;
		}
	}
	if (optind != argc) {
		perr(prog, "unexpected argument '%s' (see %s --help)", argv[optind], prog);
		return 1;
	}
	if (!bootstrap || !topic || messages < 0) {
		perr(prog, "--bootstrap-server, --topic and --messages are required (see %s --help)", prog);
		return 1;
	}
	char gbuf[64];
	if (!group) {
		srand((unsigned)time(NULL) ^ (unsigned)getpid());
		snprintf(gbuf, sizeof gbuf, "perf-consumer-%d", rand() % 100000);
		group = gbuf;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "auto.offset.reset", latest ? "latest" : "earliest", err, sizeof err) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "true", err, sizeof err) != RD_KAFKA_CONF_OK ||
	    (fetch_size && rd_kafka_conf_set(conf, "fetch.max.bytes", fetch_size, err, sizeof err) != RD_KAFKA_CONF_OK)) {
		perr(prog, "%s", err);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	if (config && conf_file(prog, conf, config) != 0) {
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	quiet(conf);
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	if (!rk) {
		perr(prog, "%s", err);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	int status = 1;
	if (check_reachable(prog, rk, topic) != 0) {
		rd_kafka_destroy(rk);
		return 1;
	}
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e) {
		perr(prog, "subscribe to %s failed: %s", topic, rd_kafka_err2str(e));
		rd_kafka_destroy(rk);
		return 1;
	}
	if (!hide)
		printf(detailed ? "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
				  "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n"
				: "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
				  "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n");
	int64_t start = wall_ms(), last_data = start, last_report = start;
	int64_t count = 0, bytes = 0, last_count = 0, last_bytes = 0;
	bool timed_out = false;
	char first_error[256] = "";
	assigned_at_ms = 0;
	while (count < messages) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		int64_t now = wall_ms();
		if (m) {
			if (!m->err) {
				count++;
				bytes += (int64_t)m->len + (int64_t)m->key_len;
				last_data = now;
			} else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !first_error[0]) {
				snprintf(first_error, sizeof first_error, "%s", rd_kafka_message_errstr(m));
			}
			rd_kafka_message_destroy(m);
		}
		if (detailed && now - last_report >= interval) {
			char d[64];
			fmt_date(d, sizeof d, now);
			double secs = (double)(now - last_report) / 1000.0;
			double mb = (double)bytes / 1048576.0, dmb = (double)(bytes - last_bytes) / 1048576.0;
			printf("%s, 0, %.4f, %.4f, %" PRId64 ", %.4f, 0, %" PRId64 ", %.4f, %.4f\n", d, mb, dmb / secs, count,
			       (double)(count - last_count) / secs, now - last_report, dmb / secs,
			       (double)(count - last_count) / secs);
			last_report = now;
			last_count = count;
			last_bytes = bytes;
		}
		if (now - last_data > timeout) {
			timed_out = true;
			break;
		}
	}
	int64_t endt = wall_ms();
	if (timed_out && count < messages)
		fprintf(stderr, "WARNING: Exiting before consuming the expected number of messages: timeout (%lld ms) "
				"exceeded. You can use the --timeout option to increase the timeout.\n", timeout);
	if (!detailed) {
		char s1[64], s2[64];
		fmt_date(s1, sizeof s1, start);
		fmt_date(s2, sizeof s2, endt);
		double secs = (double)(endt - start) / 1000.0;
		double mb = (double)bytes / 1048576.0;
		int64_t rebalance = assigned_at_ms ? assigned_at_ms - start : 0;
		int64_t fetch_ms = endt - start - rebalance;
		double fsecs = (double)fetch_ms / 1000.0;
		printf("%s, %s, %.4f, %.4f, %" PRId64 ", %.4f, %" PRId64 ", %" PRId64 ", %.4f, %.4f\n", s1, s2, mb,
		       secs > 0 ? mb / secs : 0, count, secs > 0 ? (double)count / secs : 0, rebalance, fetch_ms,
		       fsecs > 0 ? mb / fsecs : 0, fsecs > 0 ? (double)count / fsecs : 0);
	}
	fflush(stdout);
	if (count == 0 && messages > 0 && !assigned_at_ms)
		perr(prog, "no partition of %s was assigned to the consumer%s%s", topic, first_error[0] ? ": " : "",
		     first_error);
	else
		status = 0;
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return status;
}
