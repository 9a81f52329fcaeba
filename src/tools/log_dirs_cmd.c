/*
 * samsa log-dirs: describe the log dirs of brokers, with the flags and the
 * JSON of Kafka's kafka-log-dirs.sh (--bootstrap-server, --describe,
 * --broker-list, --topic-list): one DescribeLogDirs per broker, printed as
 * {"version":1,"brokers":[{"broker":N,"logDirs":[{"logDir":..,"error":..,
 * "partitions":[{"partition":"t-0","size":..,"offsetLag":..,"isFuture":..}]}]}]}.
 */
#include "tools/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/client.h"
#include "samsa/proto.h"
#include "samsa/util/json.h"
#include "samsa/util/xalloc.h"

#define CONNECT_TIMEOUT_MS 10000
#define MAX_LIST 1024

struct log_dirs_opts {
	const char *bootstrap;
	bool describe;
	int32_t brokers[MAX_LIST];
	int n_brokers; /* 0: every broker */
	char *topics[MAX_LIST];
	int n_topics;  /* 0: every topic */
};

static void usage(void)
{
	fprintf(stderr, "usage: samsa log-dirs --bootstrap-server HOST:PORT --describe [--broker-list ID,...] "
			"[--topic-list TOPIC,...]\n");
}

/* Kafka's tool prints the exception's class name; these are the ones DescribeLogDirs gives. */
static const char *error_class(int16_t code)
{
	switch (code) {
	case KERR_KAFKA_STORAGE_ERROR:
		return "org.apache.kafka.common.errors.KafkaStorageException";
	case KERR_CLUSTER_AUTHORIZATION_FAILED:
		return "org.apache.kafka.common.errors.ClusterAuthorizationException";
	default:
		return kafka_error_name(code);
	}
}

static bool topic_wanted(const struct log_dirs_opts *o, struct kstr name)
{
	if (o->n_topics == 0)
		return true;
	for (int i = 0; i < o->n_topics; i++)
		if ((size_t)name.len == strlen(o->topics[i]) && memcmp(name.ptr, o->topics[i], (size_t)name.len) == 0)
			return true;
	return false;
}

static void write_kstr(struct wbuf *w, struct kstr s)
{
	char *c = xstrndup(s.ptr ? s.ptr : "", s.ptr && s.len > 0 ? (size_t)s.len : 0);
	json_write_string(w, c);
	free(c);
}

static void write_broker(struct wbuf *w, const struct log_dirs_opts *o, int32_t id,
			 const struct describe_log_dirs_response *r)
{
	json_write_raw(w, "{\"broker\":");
	json_write_int(w, id);
	json_write_raw(w, ",\"logDirs\":[");
	for (int i = 0; i < r->results_count; i++) {
		const struct describe_log_dirs_response_describe_log_dirs_result *d = &r->results[i];
		json_write_raw(w, i ? ",{\"logDir\":" : "{\"logDir\":");
		write_kstr(w, d->log_dir);
		json_write_raw(w, ",\"error\":");
		if (d->error_code)
			json_write_string(w, error_class(d->error_code));
		else
			json_write_raw(w, "null");
		json_write_raw(w, ",\"partitions\":[");
		bool first = true;
		for (int t = 0; t < d->topics_count; t++) {
			if (!topic_wanted(o, d->topics[t].name))
				continue;
			for (int p = 0; p < d->topics[t].partitions_count; p++) {
				const struct describe_log_dirs_response_describe_log_dirs_partition *pp =
					&d->topics[t].partitions[p];
				char *tp = xasprintf("%.*s-%d", d->topics[t].name.len, d->topics[t].name.ptr,
						     pp->partition_index);
				json_write_raw(w, first ? "{\"partition\":" : ",{\"partition\":");
				first = false;
				json_write_string(w, tp);
				free(tp);
				json_write_raw(w, ",\"size\":");
				json_write_int(w, pp->partition_size);
				json_write_raw(w, ",\"offsetLag\":");
				json_write_int(w, pp->offset_lag);
				json_write_raw(w, pp->is_future_key ? ",\"isFuture\":true}" : ",\"isFuture\":false}");
			}
		}
		json_write_raw(w, "]}");
	}
	json_write_raw(w, "]}");
}

static int parse_opts(int argc, char **argv, struct log_dirs_opts *o)
{
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, 'b' },
		{ "describe", no_argument, NULL, 'd' },
		{ "broker-list", required_argument, NULL, 'B' },
		{ "topic-list", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof *o);
	optind = 2;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *save = NULL, *list = NULL;
		switch (ch) {
		case 'b':
			o->bootstrap = optarg;
			break;
		case 'd':
			o->describe = true;
			break;
		case 'B':
			list = xstrdup(optarg);
			for (char *tok = strtok_r(list, ",", &save); tok && o->n_brokers < MAX_LIST;
			     tok = strtok_r(NULL, ",", &save)) {
				char *end;
				long v = strtol(tok, &end, 10);
				if (*end || v < 0 || v > INT32_MAX) {
					fprintf(stderr, "samsa log-dirs: bad broker id '%s' in --broker-list\n", tok);
					free(list);
					return -1;
				}
				o->brokers[o->n_brokers++] = (int32_t)v;
			}
			free(list);
			break;
		case 't':
			list = xstrdup(optarg);
			for (char *tok = strtok_r(list, ",", &save); tok && o->n_topics < MAX_LIST;
			     tok = strtok_r(NULL, ",", &save))
				o->topics[o->n_topics++] = xstrdup(tok);
			free(list);
			break;
		default:
			return -1;
		}
	}
	if (!o->bootstrap || !o->describe || optind != argc)
		return -1;
	return 0;
}

static const struct metadata_response_metadata_response_broker *
find_broker(const struct metadata_response *md, int32_t id)
{
	for (int i = 0; i < md->brokers_count; i++)
		if (md->brokers[i].node_id == id)
			return &md->brokers[i];
	return NULL;
}

static int describe_broker(const struct log_dirs_opts *o, const struct metadata_response_metadata_response_broker *b,
			   struct wbuf *w)
{
	char *hp = xasprintf("%.*s:%d", b->host.len, b->host.ptr, b->port);
	struct kclient kc;
	int rc = -1;
	if (kclient_connect(&kc, hp, CONNECT_TIMEOUT_MS) != 0) {
		fprintf(stderr, "samsa log-dirs: cannot connect to broker %d at %s\n", b->node_id, hp);
		free(hp);
		return -1;
	}
	struct arena a;
	arena_init(&a);
	struct describe_log_dirs_request req;
	describe_log_dirs_request_init(&req);
	req.topics_count = -1; /* every partition; --topic-list filters what is printed, as Kafka's tool does */
	void *out = NULL;
	if (kclient_call(&kc, API_DESCRIBE_LOG_DIRS, 4, &req, &a, &out) == 0) {
		const struct describe_log_dirs_response *r = out;
		if (r->error_code) {
			fprintf(stderr, "samsa log-dirs: broker %d: %s\n", b->node_id, kafka_error_name(r->error_code));
		} else {
			write_broker(w, o, b->node_id, r);
			rc = 0;
		}
	} else {
		fprintf(stderr, "samsa log-dirs: DescribeLogDirs to broker %d failed\n", b->node_id);
	}
	arena_free(&a);
	kclient_close(&kc);
	free(hp);
	return rc;
}

/* The first broker of a comma-separated --bootstrap-server list that accepts a connection. */
static int connect_any(struct kclient *kc, const char *bootstrap)
{
	char *list = xstrdup(bootstrap), *save = NULL;
	int rc = -1;
	for (char *hp = strtok_r(list, ",", &save); hp && rc; hp = strtok_r(NULL, ",", &save)) {
		while (*hp == ' ')
			hp++;
		rc = kclient_connect(kc, hp, CONNECT_TIMEOUT_MS);
		if (rc != 0)
			kclient_close(kc);
	}
	free(list);
	return rc;
}

int cmd_log_dirs(int argc, char **argv)
{
	struct log_dirs_opts o;
	if (parse_opts(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	int status = 1;
	struct kclient kc;
	struct arena a;
	arena_init(&a);
	if (connect_any(&kc, o.bootstrap) != 0) {
		fprintf(stderr, "samsa log-dirs: cannot connect to %s\n", o.bootstrap);
		goto out_free;
	}
	struct metadata_request mreq;
	metadata_request_init(&mreq);
	mreq.topics_count = 0;
	void *out = NULL;
	if (kclient_call_arena(&kc, API_METADATA, 12, &mreq, &a, &out) != 0) {
		fprintf(stderr, "samsa log-dirs: Metadata request to %s failed\n", o.bootstrap);
		goto out_close;
	}
	const struct metadata_response *md = out;
	if (o.n_brokers == 0) {
		for (int i = 0; i < md->brokers_count && o.n_brokers < MAX_LIST; i++)
			o.brokers[o.n_brokers++] = md->brokers[i].node_id;
	} else {
		bool missing = false;
		for (int i = 0; i < o.n_brokers; i++)
			missing |= !find_broker(md, o.brokers[i]);
		if (missing) {
			fprintf(stderr, "ERROR: The given brokers do not exist from --broker-list:");
			for (int i = 0, k = 0; i < o.n_brokers; i++)
				if (!find_broker(md, o.brokers[i]))
					fprintf(stderr, "%s%d", k++ ? "," : " ", o.brokers[i]);
			fprintf(stderr, ". Current existent brokers:");
			for (int i = 0; i < md->brokers_count; i++)
				fprintf(stderr, "%s%d", i ? "," : " ", md->brokers[i].node_id);
			fprintf(stderr, "\n");
			goto out_close;
		}
	}
	printf("Querying brokers for log directories information\n");
	struct wbuf w;
	wbuf_init(&w);
	json_write_raw(&w, "{\"version\":1,\"brokers\":[");
	status = 0;
	int written = 0;
	for (int i = 0; i < o.n_brokers; i++) {
		struct wbuf one;
		wbuf_init(&one);
		if (describe_broker(&o, find_broker(md, o.brokers[i]), &one) == 0) {
			if (written++)
				json_write_raw(&w, ",");
			wbuf_put(&w, one.data, one.len);
		} else {
			status = 1;
		}
		wbuf_free(&one);
	}
	json_write_raw(&w, "]}");
	printf("Received log directory information from brokers ");
	for (int i = 0; i < o.n_brokers; i++)
		printf("%s%d", i ? "," : "", o.brokers[i]);
	printf("\n%.*s\n", (int)w.len, (const char *)w.data);
	wbuf_free(&w);
out_close:
	kclient_close(&kc);
out_free:
	arena_free(&a);
	for (int i = 0; i < o.n_topics; i++)
		free(o.topics[i]);
	return status;
}
