/*
 * The Prometheus endpoint (samsa.metrics.listener=http://HOST:PORT, path
 * /metrics): libevent's evhttp on its own thread and event_base, so a slow
 * scraper never holds up a network thread.  A scrape reads the relaxed
 * counters of samsa/util/metrics.h, walks the hosted partitions once, and
 * asks the group coordinator for its committed offsets; it takes each lock
 * (the partition map, one partition, the coordinator) alone and briefly.
 *
 * The names are what the Prometheus JMX exporter's Kafka rules
 * (example_configs/kafka-*.yml, lowercaseOutputName) make of Kafka's MBeans:
 * kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=T becomes
 * kafka_server_brokertopicmetrics_messagesin_total{topic="T"}, a gauge
 * kafka.log:type=Log,name=Size,topic=T,partition=P becomes
 * kafka_log_log_size{topic="T",partition="P"}.  Request latency is a real
 * Prometheus histogram under the TotalTimeMs name; consumer lag, which a
 * Kafka broker does not export, takes kafka_exporter's kafka_consumergroup_lag.
 * docs/metrics.md lists them all.
 */
#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "samsa/controller.h"
#include "samsa/group.h"
#include "samsa/metadata.h"
#include "samsa/net.h"
#include "samsa/proto.h"
#include "samsa/purgatory.h"
#include "samsa/replica.h"
#include "samsa/util/log.h"
#include "samsa/util/metrics.h"
#include "samsa/util/xalloc.h"
#include "server/apis.h"
#include "server/broker.h"

#define MAX_NET_THREADS 256

struct metrics_http {
	struct broker *broker;
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
	char *host;
	int port;
	/* The idle ratio is over the time since the previous scrape (since start for the first). */
	int64_t prev_wall_ns;
	int64_t prev_cpu_ns[MAX_NET_THREADS];
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A label value in the text format: backslash, double quote and newline escaped. */
static void put_label(struct evbuffer *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			evbuffer_add(o, "\\\\", 2);
		else if (*s == '"')
			evbuffer_add(o, "\\\"", 2);
		else if (*s == '\n')
			evbuffer_add(o, "\\n", 2);
		else
			evbuffer_add(o, s, 1);
	}
}

static void family(struct evbuffer *o, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* --- per-partition and per-topic figures --------------------------------------------- */

struct part_row {
	char *topic;
	int32_t index;
	struct partition_stats st;
};

struct scrape {
	struct part_row *parts;
	int n_parts;
	int under_replicated, leaders, offline;
};

static void collect_partitions(struct broker *b, struct scrape *sc)
{
	int n = 0;
	struct partition **all = b->replicas ? replica_manager_snapshot(b->replicas, &n) : NULL;
	sc->parts = xcalloc((size_t)(n ? n : 1), sizeof *sc->parts);
	for (int i = 0; i < n; i++) {
		size_t tl;
		const char *t = partition_topic(all[i], &tl);
		struct part_row *r = &sc->parts[sc->n_parts++];
		r->topic = xstrndup(t, tl);
		r->index = partition_index(all[i]);
		partition_get_stats(all[i], &r->st);
		partition_unref(all[i]);
		if (r->st.offline)
			sc->offline++;
		if (r->st.is_leader) {
			sc->leaders++;
			/* Kafka's UnderReplicatedPartitions: led here, with an ISR smaller than the replica set. */
			if (r->st.n_isr < r->st.n_replicas)
				sc->under_replicated++;
		}
	}
	free(all);
}

/* One BrokerTopicMetrics counter: per topic (partitions are sorted by topic), then all topics. */
static void topic_counter(struct evbuffer *o, const struct scrape *sc, const char *name, const char *help,
			  size_t field, atomic_uint_fast64_t *all)
{
	family(o, name, "counter", help);
	for (int i = 0; i < sc->n_parts;) {
		uint64_t sum = 0;
		int j = i;
		for (; j < sc->n_parts && strcmp(sc->parts[j].topic, sc->parts[i].topic) == 0; j++)
			sum += *(const uint64_t *)((const char *)&sc->parts[j].st + field);
		evbuffer_add_printf(o, "%s{topic=\"", name);
		put_label(o, sc->parts[i].topic);
		evbuffer_add_printf(o, "\"} %llu\n", (unsigned long long)sum);
		i = j;
	}
	evbuffer_add_printf(o, "%s %llu\n", name, (unsigned long long)metrics_read(all));
}

static void partition_gauge(struct evbuffer *o, const struct scrape *sc, const char *name, const char *help,
			    int (*value)(const struct partition_stats *, long long *))
{
	family(o, name, "gauge", help);
	for (int i = 0; i < sc->n_parts; i++) {
		long long v;
		if (!value(&sc->parts[i].st, &v))
			continue;
		evbuffer_add_printf(o, "%s{topic=\"", name);
		put_label(o, sc->parts[i].topic);
		evbuffer_add_printf(o, "\",partition=\"%d\"} %lld\n", sc->parts[i].index, v);
	}
}

static int v_size(const struct partition_stats *s, long long *v) { *v = s->log_size_bytes; return s->has_log; }
static int v_leo(const struct partition_stats *s, long long *v) { *v = s->log_end_offset; return s->has_log; }
static int v_lso(const struct partition_stats *s, long long *v) { *v = s->log_start_offset; return s->has_log; }
static int v_segs(const struct partition_stats *s, long long *v) { *v = s->segments; return s->has_log; }
static int v_urp(const struct partition_stats *s, long long *v)
{
	*v = s->is_leader && s->n_isr < s->n_replicas;
	return s->is_leader;
}

/* --- consumer lag ---------------------------------------------------------------------- */

struct committed {
	char *group, *topic;
	int32_t partition;
	int64_t offset;
};

struct committed_list {
	struct committed *c;
	int n, cap;
};

static void on_offset(void *arg, const char *group, const char *topic, int32_t partition, int64_t offset)
{
	struct committed_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->c = xrealloc(l->c, sizeof *l->c * (size_t)l->cap);
	}
	l->c[l->n++] = (struct committed){ xstrdup(group), xstrdup(topic), partition, offset };
}

static void consumer_lag(struct evbuffer *o, struct broker *b)
{
	struct committed_list l = { 0 };
	if (b->groups)
		group_coordinator_committed_offsets(b->groups, on_offset, &l);
	family(o, "kafka_consumergroup_current_offset", "gauge",
	       "Offset a consumer group committed, for the groups this broker coordinates");
	for (int i = 0; i < l.n; i++) {
		evbuffer_add_printf(o, "kafka_consumergroup_current_offset{consumergroup=\"");
		put_label(o, l.c[i].group);
		evbuffer_add_printf(o, "\",topic=\"");
		put_label(o, l.c[i].topic);
		evbuffer_add_printf(o, "\",partition=\"%d\"} %lld\n", l.c[i].partition, (long long)l.c[i].offset);
	}
	family(o, "kafka_consumergroup_lag", "gauge",
	       "High watermark minus committed offset, for the groups this broker coordinates and the partitions it hosts");
	for (int i = 0; i < l.n; i++) {
		struct committed *c = &l.c[i];
		struct partition *p = b->replicas ? replica_manager_partition(b->replicas, c->topic, strlen(c->topic),
									      c->partition)
						  : NULL;
		if (!p)
			continue;
		struct partition_stats st;
		partition_get_stats(p, &st);
		partition_unref(p);
		if (!st.has_log || st.high_watermark < 0)
			continue;
		long long lag = st.high_watermark - c->offset;
		evbuffer_add_printf(o, "kafka_consumergroup_lag{consumergroup=\"");
		put_label(o, c->group);
		evbuffer_add_printf(o, "\",topic=\"");
		put_label(o, c->topic);
		evbuffer_add_printf(o, "\",partition=\"%d\"} %lld\n", c->partition, lag > 0 ? lag : 0);
	}
	for (int i = 0; i < l.n; i++) {
		free(l.c[i].group);
		free(l.c[i].topic);
	}
	free(l.c);
}

/* --- requests ------------------------------------------------------------------------- */

static void requests(struct evbuffer *o)
{
	family(o, "kafka_network_requestmetrics_requests_total", "counter", "Requests received, per API and version");
	for (int k = 0; k < METRICS_MAX_APIS; k++) {
		const struct proto_api *api = proto_api_get((int16_t)k);
		if (!api)
			continue;
		for (int v = 0; v < METRICS_MAX_VERSIONS; v++) {
			uint64_t n = metrics_read(&metrics_global.api[k].requests[v]);
			if (n)
				evbuffer_add_printf(o,
						    "kafka_network_requestmetrics_requests_total{request=\"%s\",version=\"%d\"} %llu\n",
						    api->name, v, (unsigned long long)n);
		}
	}
	const char *h = "kafka_network_requestmetrics_totaltimems";
	family(o, h, "histogram", "Time from a request's arrival to its answer, in ms, per API");
	for (int k = 0; k < METRICS_MAX_APIS; k++) {
		const struct proto_api *api = proto_api_get((int16_t)k);
		if (!api)
			continue;
		struct metrics_api *a = &metrics_global.api[k];
		uint64_t counts[METRICS_LATENCY_BUCKETS + 1], total = 0;
		for (int i = 0; i <= METRICS_LATENCY_BUCKETS; i++) {
			counts[i] = metrics_read(&a->latency_buckets[i]);
			total += counts[i];
		}
		if (total == 0)
			continue;
		uint64_t cum = 0;
		for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
			cum += counts[i];
			evbuffer_add_printf(o, "%s_bucket{request=\"%s\",le=\"%g\"} %llu\n", h, api->name,
					    metrics_latency_bounds_ms[i], (unsigned long long)cum);
		}
		evbuffer_add_printf(o, "%s_bucket{request=\"%s\",le=\"+Inf\"} %llu\n", h, api->name,
				    (unsigned long long)total);
		evbuffer_add_printf(o, "%s_sum{request=\"%s\"} %.3f\n", h, api->name,
				    (double)metrics_read(&a->latency_us_sum) / 1000.0);
		evbuffer_add_printf(o, "%s_count{request=\"%s\"} %llu\n", h, api->name, (unsigned long long)total);
	}
}

/* --- the controller ---------------------------------------------------------------------- */

static void controller_metrics(struct evbuffer *o, struct broker *b)
{
	struct controller *ctl = __atomic_load_n(&b->controller, __ATOMIC_ACQUIRE);
	int active = ctl ? controller_is_active(ctl) : 0;
	int offline = 0, partitions = 0, topics = 0;
	if (active && b->metadata) {
		/* The controller's view as it last sent it in UpdateMetadata: a partition without a live leader is offline. */
		struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
		for (int i = 0; s && i < s->n_topics; i++) {
			topics++;
			for (int j = 0; j < s->topics[i].n_partitions; j++) {
				const struct mc_partition *p = &s->topics[i].partitions[j];
				partitions++;
				if (p->leader < 0 || !metadata_snapshot_broker(s, p->leader))
					offline++;
			}
		}
		if (s)
			metadata_snapshot_release(s);
	}
	family(o, "kafka_controller_kafkacontroller_activecontrollercount", "gauge",
	       "1 on the broker that is the active controller, 0 elsewhere");
	evbuffer_add_printf(o, "kafka_controller_kafkacontroller_activecontrollercount %d\n", active);
	family(o, "kafka_controller_kafkacontroller_offlinepartitionscount", "gauge",
	       "Partitions without a live leader (reported by the active controller)");
	evbuffer_add_printf(o, "kafka_controller_kafkacontroller_offlinepartitionscount %d\n", offline);
	family(o, "kafka_controller_kafkacontroller_globalpartitioncount", "gauge",
	       "Partitions in the cluster (reported by the active controller)");
	evbuffer_add_printf(o, "kafka_controller_kafkacontroller_globalpartitioncount %d\n", partitions);
	family(o, "kafka_controller_kafkacontroller_globaltopiccount", "gauge",
	       "Topics in the cluster (reported by the active controller)");
	evbuffer_add_printf(o, "kafka_controller_kafkacontroller_globaltopiccount %d\n", topics);
}

/* --- the whole page ------------------------------------------------------------------------- */

static void network_idle(struct evbuffer *o, struct metrics_http *m)
{
	struct broker *b = m->broker;
	if (!b->net)
		return;
	int64_t cpu[MAX_NET_THREADS];
	int n = net_server_thread_cpu_ns(b->net, cpu, MAX_NET_THREADS);
	if (n > MAX_NET_THREADS)
		n = MAX_NET_THREADS;
	int64_t now = mono_ns();
	int64_t wall = now - m->prev_wall_ns;
	double idle = 1.0;
	if (n > 0 && wall > 0) {
		double busy = 0;
		for (int i = 0; i < n; i++) {
			int64_t d = cpu[i] - m->prev_cpu_ns[i];
			busy += d > 0 ? (double)d / (double)wall : 0;
			m->prev_cpu_ns[i] = cpu[i];
		}
		idle = 1.0 - busy / n;
		if (idle < 0)
			idle = 0;
	}
	m->prev_wall_ns = now;
	family(o, "kafka_network_socketserver_networkprocessoravgidlepercent", "gauge",
	       "Share of time the network threads were not on the CPU since the previous scrape (0..1)");
	evbuffer_add_printf(o, "kafka_network_socketserver_networkprocessoravgidlepercent %.6f\n", idle);
}

static void render(struct metrics_http *m, struct evbuffer *o)
{
	struct broker *b = m->broker;
	struct scrape sc = { 0 };
	collect_partitions(b, &sc);

	topic_counter(o, &sc, "kafka_server_brokertopicmetrics_messagesin_total", "Records appended as leader",
		      offsetof(struct partition_stats, messages_in), &metrics_global.messages_in);
	topic_counter(o, &sc, "kafka_server_brokertopicmetrics_bytesin_total", "Bytes appended as leader",
		      offsetof(struct partition_stats, bytes_in), &metrics_global.bytes_in);
	topic_counter(o, &sc, "kafka_server_brokertopicmetrics_bytesout_total", "Record bytes sent to consumers",
		      offsetof(struct partition_stats, bytes_out), &metrics_global.bytes_out);
	family(o, "kafka_server_brokertopicmetrics_replicationbytesin_total", "counter",
	       "Record bytes appended as a follower");
	evbuffer_add_printf(o, "kafka_server_brokertopicmetrics_replicationbytesin_total %llu\n",
			    (unsigned long long)metrics_read(&metrics_global.replication_bytes_in));
	family(o, "kafka_server_brokertopicmetrics_replicationbytesout_total", "counter",
	       "Record bytes sent to followers");
	evbuffer_add_printf(o, "kafka_server_brokertopicmetrics_replicationbytesout_total %llu\n",
			    (unsigned long long)metrics_read(&metrics_global.replication_bytes_out));

	requests(o);

	family(o, "kafka_server_replicamanager_underreplicatedpartitions", "gauge",
	       "Partitions led here whose ISR is smaller than their replica set");
	evbuffer_add_printf(o, "kafka_server_replicamanager_underreplicatedpartitions %d\n", sc.under_replicated);
	family(o, "kafka_server_replicamanager_partitioncount", "gauge", "Partitions hosted here");
	evbuffer_add_printf(o, "kafka_server_replicamanager_partitioncount %d\n", sc.n_parts);
	family(o, "kafka_server_replicamanager_leadercount", "gauge", "Partitions led here");
	evbuffer_add_printf(o, "kafka_server_replicamanager_leadercount %d\n", sc.leaders);
	family(o, "kafka_server_replicamanager_offlinereplicacount", "gauge", "Replicas here whose log dir failed");
	evbuffer_add_printf(o, "kafka_server_replicamanager_offlinereplicacount %d\n", sc.offline);
	family(o, "kafka_server_replicamanager_isrshrinks_total", "counter", "ISR shrinks written by leaders here");
	evbuffer_add_printf(o, "kafka_server_replicamanager_isrshrinks_total %llu\n",
			    (unsigned long long)metrics_read(&metrics_global.isr_shrinks));
	family(o, "kafka_server_replicamanager_isrexpands_total", "counter", "ISR expansions written by leaders here");
	evbuffer_add_printf(o, "kafka_server_replicamanager_isrexpands_total %llu\n",
			    (unsigned long long)metrics_read(&metrics_global.isr_expands));
	partition_gauge(o, &sc, "kafka_cluster_partition_underreplicated", "1 when a partition led here is under-replicated",
			v_urp);

	controller_metrics(o, b);

	partition_gauge(o, &sc, "kafka_log_log_size", "Bytes of a partition's log on disk", v_size);
	partition_gauge(o, &sc, "kafka_log_log_logendoffset", "A partition's log end offset", v_leo);
	partition_gauge(o, &sc, "kafka_log_log_logstartoffset", "A partition's log start offset", v_lso);
	partition_gauge(o, &sc, "kafka_log_log_numlogsegments", "Segments of a partition's log", v_segs);

	consumer_lag(o, b);

	if (b->purgatory) {
		int all = purgatory_size(b->purgatory);
		int fetch = purgatory_size_of(b->purgatory, fetch_delayed_try_fn());
		family(o, "kafka_server_delayedoperationpurgatory_purgatorysize", "gauge",
		       "Delayed operations waiting (Produce: acks=all produces and offset commits)");
		evbuffer_add_printf(o, "kafka_server_delayedoperationpurgatory_purgatorysize{delayedOperation=\"Fetch\"} %d\n",
				    fetch);
		evbuffer_add_printf(o,
				    "kafka_server_delayedoperationpurgatory_purgatorysize{delayedOperation=\"Produce\"} %d\n",
				    all > fetch ? all - fetch : 0);
	}

	network_idle(o, m);

	for (int i = 0; i < sc.n_parts; i++)
		free(sc.parts[i].topic);
	free(sc.parts);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *m = arg;
	const char *uri = evhttp_request_get_uri(req);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	size_t plen = strcspn(uri ? uri : "", "?");
	if (!uri || plen != strlen("/metrics") || strncmp(uri, "/metrics", plen) != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	struct evbuffer *o = evbuffer_new();
	render(m, o);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", o);
	evbuffer_free(o);
}

static void *http_main(void *arg)
{
	struct metrics_http *m = arg;
	event_base_loop(m->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int metrics_http_parse_listener(const char *spec, char **host, int *port)
{
	const char *prefix = "http://";
	if (!spec || strncmp(spec, prefix, strlen(prefix)) != 0)
		return -1;
	const char *hp = spec + strlen(prefix);
	const char *colon = strrchr(hp, ':');
	if (!colon || colon == hp)
		return -1;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end != '\0' && strcmp(end, "/") != 0 && strcmp(end, "/metrics") != 0)
		return -1;
	if (end == colon + 1 || p < 0 || p > 65535)
		return -1;
	const char *h = hp;
	size_t hl = (size_t)(colon - hp);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0)
		return -1;
	*host = xstrndup(h, hl);
	*port = (int)p;
	return 0;
}

struct metrics_http *metrics_http_start(struct broker *b, const char *spec)
{
	char *host;
	int port;
	if (metrics_http_parse_listener(spec, &host, &port) != 0) {
		log_error("Invalid value %s for configuration samsa.metrics.listener: expected http://HOST:PORT", spec);
		return NULL;
	}
	struct metrics_http *m = xcalloc(1, sizeof *m);
	m->broker = b;
	m->host = host;
	m->base = event_base_new();
	m->http = m->base ? evhttp_new(m->base) : NULL;
	struct evhttp_bound_socket *bs = m->http ? evhttp_bind_socket_with_handle(m->http, host, (ev_uint16_t)port)
						 : NULL;
	if (!bs) {
		log_error("Metrics listener %s: cannot listen on %s port %d", spec, host, port);
		if (m->http)
			evhttp_free(m->http);
		if (m->base)
			event_base_free(m->base);
		free(m->host);
		free(m);
		return NULL;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(m->http, on_request, m);
	m->port = port;
	if (port == 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0)
			m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
								 : ((struct sockaddr_in *)&ss)->sin_port);
	}
	m->prev_wall_ns = mono_ns();
	if (b->net)
		net_server_thread_cpu_ns(b->net, m->prev_cpu_ns, MAX_NET_THREADS);
	pthread_create(&m->thread, NULL, http_main, m);
	log_info("Metrics endpoint listening on http://%s:%d/metrics", host, m->port);
	return m;
}

int metrics_http_port(const struct metrics_http *m) { return m ? m->port : -1; }

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	event_base_loopbreak(m->base);
	pthread_join(m->thread, NULL);
	evhttp_free(m->http);
	event_base_free(m->base);
	free(m->host);
	free(m);
}
