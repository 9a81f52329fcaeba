/*
 * samsa consumer-groups: list, describe and delete consumer groups and reset
 * their committed offsets, with the flags and output of Kafka's
 * kafka-consumer-groups.sh.  Group requests go to the group's coordinator
 * (FindCoordinator), log offsets to each partition's leader (Metadata), so
 * this keeps one connection per broker it has to talk to.
 */
#include "tools/commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "samsa/client.h"
#include "samsa/proto.h"
#include "samsa/util/xalloc.h"

#define MAX_GROUPS 64
#define MAX_TOPICS 64
#define CONNECT_TIMEOUT_MS 10000
/* How long coordinator errors (not yet elected, still loading) are retried, like an admin client would. */
#define RETRY_MS 15000
#define RETRY_SLEEP_US 200000

#define TS_LATEST INT64_C(-1)
#define TS_EARLIEST INT64_C(-2)

#define MISSING "-"

enum cg_action { ACT_NONE, ACT_LIST, ACT_DESCRIBE, ACT_DELETE, ACT_RESET };
enum cg_view { VIEW_OFFSETS, VIEW_MEMBERS, VIEW_STATE };
enum cg_reset { RESET_NONE, RESET_EARLIEST, RESET_LATEST, RESET_DATETIME, RESET_SHIFT, RESET_OFFSET };

struct cg_opts {
	const char *bootstrap;
	enum cg_action action;
	const char *groups[MAX_GROUPS];
	int n_groups;
	const char *topics[MAX_TOPICS];
	int n_topics;
	bool all_topics;
	int n_views; /* --members/--state/--offsets given */
	enum cg_view view;
	bool verbose;
	bool state; /* --state given (with --list: the STATE column) */
	const char *state_arg;
	enum cg_reset reset;
	int n_resets;
	int64_t reset_value; /* shift, offset or timestamp (ms) */
	bool execute, dry_run;
};

/* --- connections -------------------------------------------------------------------------------- */

struct cg_node {
	int32_t id;
	char *host;
	int32_t port;
	bool open;
	struct kclient kc;
};

struct cg_client {
	struct kclient boot;
	struct cg_node *nodes;
	int n_nodes;
};

static const char *ks_ptr(struct kstr s) { return s.ptr && s.len > 0 ? s.ptr : ""; }
static int ks_len(struct kstr s) { return s.ptr && s.len > 0 ? s.len : 0; }
static char *ks_dup(struct kstr s) { return xstrndup(ks_ptr(s), (size_t)ks_len(s)); }
static bool ks_eq(struct kstr s, const char *c) { return (size_t)ks_len(s) == strlen(c) && memcmp(ks_ptr(s), c, strlen(c)) == 0; }

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct cg_node *node_get(struct cg_client *c, int32_t id)
{
	for (int i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].id == id)
			return &c->nodes[i];
	return NULL;
}

/* Learns (or updates) where broker id listens. */
static void node_put(struct cg_client *c, int32_t id, struct kstr host, int32_t port)
{
	struct cg_node *n = node_get(c, id);
	if (n) {
		if (ks_eq(host, n->host) && n->port == port)
			return;
		if (n->open)
			kclient_close(&n->kc);
		n->open = false;
		free(n->host);
	} else {
		c->nodes = xrealloc(c->nodes, sizeof *c->nodes * (size_t)(c->n_nodes + 1));
		n = &c->nodes[c->n_nodes++];
		memset(n, 0, sizeof *n);
		n->id = id;
	}
	n->host = ks_dup(host);
	n->port = port;
}

/* Connects to the first of the comma-separated bootstrap servers that answers Metadata, and learns the brokers. */
static int client_open(struct cg_client *c, const char *bootstrap)
{
	memset(c, 0, sizeof *c);
	c->boot.fd = -1;
	char *list = xstrdup(bootstrap), *save = NULL;
	int rc = -1;
	for (char *hp = strtok_r(list, ",", &save); hp && rc; hp = strtok_r(NULL, ",", &save)) {
		while (*hp == ' ')
			hp++;
		if (kclient_connect(&c->boot, hp, CONNECT_TIMEOUT_MS) != 0) {
			kclient_close(&c->boot);
			continue;
		}
		struct arena a;
		arena_init(&a);
		struct metadata_request req;
		metadata_request_init(&req);
		req.topics_count = 0; /* brokers only */
		void *out = NULL;
		if (kclient_call_arena(&c->boot, API_METADATA, 12, &req, &a, &out) == 0) {
			const struct metadata_response *md = out;
			for (int32_t i = 0; i < md->brokers_count; i++)
				node_put(c, md->brokers[i].node_id, md->brokers[i].host, md->brokers[i].port);
			rc = 0;
		} else {
			kclient_close(&c->boot);
		}
		arena_free(&a);
	}
	free(list);
	if (rc)
		fprintf(stderr, "samsa consumer-groups: cannot connect to %s\n", bootstrap);
	return rc;
}

static void client_close(struct cg_client *c)
{
	kclient_close(&c->boot);
	for (int i = 0; i < c->n_nodes; i++) {
		if (c->nodes[i].open)
			kclient_close(&c->nodes[i].kc);
		free(c->nodes[i].host);
	}
	free(c->nodes);
}

/* One request to broker id; -1 when it cannot be reached or its answer does not decode. */
static int node_call(struct cg_client *c, int32_t id, int16_t api, int16_t version, const void *req, struct arena *a,
		     void **out)
{
	struct cg_node *n = node_get(c, id);
	if (!n)
		return -1;
	if (!n->open) {
		char hp[300];
		snprintf(hp, sizeof hp, strchr(n->host, ':') ? "[%s]:%d" : "%s:%d", n->host, n->port);
		if (kclient_connect(&n->kc, hp, CONNECT_TIMEOUT_MS) != 0) {
			kclient_close(&n->kc);
			return -1;
		}
		n->open = true;
	}
	if (kclient_call_arena(&n->kc, api, version, req, a, out) != 0) {
		/* A half-read answer leaves the stream unusable: start over next time. */
		kclient_close(&n->kc);
		n->open = false;
		return -1;
	}
	return 0;
}

/* Errors after which asking for the coordinator again may help. */
static bool coordinator_retriable(int16_t err)
{
	return err == KERR_COORDINATOR_LOAD_IN_PROGRESS || err == KERR_COORDINATOR_NOT_AVAILABLE ||
	       err == KERR_NOT_COORDINATOR;
}

/* FindCoordinator for group; 0 and *node, a Kafka error code, or -1 when no broker answers. */
static int find_coordinator(struct cg_client *c, const char *group, int32_t *node)
{
	struct arena a;
	arena_init(&a);
	struct find_coordinator_request req;
	find_coordinator_request_init(&req);
	req.key = kstr_c(group);
	req.key_type = 0;
	void *out = NULL;
	int rc = -1;
	if (kclient_call_arena(&c->boot, API_FIND_COORDINATOR, 3, &req, &a, &out) == 0) {
		const struct find_coordinator_response *resp = out;
		rc = resp->error_code;
		if (rc == KERR_NONE) {
			if (resp->node_id < 0 || resp->port <= 0 || resp->port > 65535 || ks_len(resp->host) == 0) {
				rc = KERR_COORDINATOR_NOT_AVAILABLE;
			} else {
				node_put(c, resp->node_id, resp->host, resp->port);
				*node = resp->node_id;
			}
		}
	}
	arena_free(&a);
	return rc;
}

static void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void print_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("\nError: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Kafka's exception text follows the name for the codes errors.schema gives it for. */
static void print_kafka_error(const char *what, int rc)
{
	if (rc < 0)
		print_error("%s: no answer from the broker", what);
	else
		print_error("%s: %s%s%s", what, kafka_error_name((int16_t)rc), *kafka_error_message((int16_t)rc) ? ": " : "",
			    kafka_error_message((int16_t)rc));
}

/* --- tables -------------------------------------------------------------------------------------- */

/* Left-aligned columns as wide as their widest cell, separated by one space, like Kafka's tool prints. */
struct table {
	int ncols;
	char **cells;
	int nrows;
};

static void table_row(struct table *t, ...)
{
	t->cells = xrealloc(t->cells, sizeof *t->cells * (size_t)((t->nrows + 1) * t->ncols));
	va_list ap;
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + i] = xstrdup(s ? s : "");
	}
	va_end(ap);
	t->nrows++;
}

static void table_print_free(struct table *t)
{
	int *w = xcalloc((size_t)t->ncols, sizeof *w);
	for (int r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			int l = (int)strlen(t->cells[r * t->ncols + i]);
			if (l > w[i])
				w[i] = l;
		}
	for (int r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (i == t->ncols - 1)
				printf("%s\n", s);
			else
				printf("%-*s ", w[i], s);
			free(t->cells[r * t->ncols + i]);
		}
	}
	free(w);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

static const char *fmt_i64(char *buf, size_t n, int64_t v, bool known)
{
	if (!known)
		return MISSING;
	snprintf(buf, n, "%" PRId64, v);
	return buf;
}

/* --- partitions of a group ----------------------------------------------------------------------- */

struct cg_row {
	char *topic;
	int32_t partition;
	int64_t committed; /* -1: none */
	int64_t log_end, log_start, by_time; /* -1: unknown */
	int64_t new_offset;
	int32_t leader; /* -1: unknown */
	int member; /* index into the described group's members, -1 none */
};

struct cg_rows {
	struct cg_row *v;
	int n;
};

static struct cg_row *rows_get(struct cg_rows *rows, const char *topic, size_t tlen, int32_t partition)
{
	for (int i = 0; i < rows->n; i++)
		if (rows->v[i].partition == partition && strlen(rows->v[i].topic) == tlen &&
		    memcmp(rows->v[i].topic, topic, tlen) == 0)
			return &rows->v[i];
	rows->v = xrealloc(rows->v, sizeof *rows->v * (size_t)(rows->n + 1));
	struct cg_row *r = &rows->v[rows->n++];
	*r = (struct cg_row){ .topic = xstrndup(topic, tlen), .partition = partition, .committed = -1, .log_end = -1,
			      .log_start = -1, .by_time = -1, .new_offset = -1, .leader = -1, .member = -1 };
	return r;
}

static void rows_free(struct cg_rows *rows)
{
	for (int i = 0; i < rows->n; i++)
		free(rows->v[i].topic);
	free(rows->v);
	rows->v = NULL;
	rows->n = 0;
}

static int row_cmp(const void *x, const void *y)
{
	const struct cg_row *a = x, *b = y;
	int c = strcmp(a->topic, b->topic);
	return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

/* Metadata for the given topics (all when n is 0 and want_all); the response lives in a. */
static const struct metadata_response *metadata_topics(struct cg_client *c, const char *const *names, int n,
						       struct arena *a)
{
	struct metadata_request req;
	metadata_request_init(&req);
	req.topics = arena_alloc(a, sizeof *req.topics * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		metadata_request_metadata_request_topic_init(&req.topics[i]);
		req.topics[i].name = kstr_c(names[i]);
	}
	req.topics_count = n;
	req.allow_auto_topic_creation = false;
	void *out = NULL;
	if (kclient_call_arena(&c->boot, API_METADATA, 12, &req, a, &out) != 0)
		return NULL;
	const struct metadata_response *md = out;
	for (int32_t i = 0; i < md->brokers_count; i++)
		node_put(c, md->brokers[i].node_id, md->brokers[i].host, md->brokers[i].port);
	return md;
}

static const struct metadata_response_metadata_response_topic *md_topic(const struct metadata_response *md,
									 const char *name)
{
	for (int32_t i = 0; md && i < md->topics_count; i++)
		if (ks_eq(md->topics[i].name, name))
			return &md->topics[i];
	return NULL;
}

/* Fills every row's leader from Metadata (rows sorted by topic). */
static int rows_leaders(struct cg_client *c, struct cg_rows *rows)
{
	if (rows->n == 0)
		return 0;
	const char **names = xcalloc((size_t)rows->n, sizeof *names);
	int n = 0;
	for (int i = 0; i < rows->n; i++)
		if (n == 0 || strcmp(names[n - 1], rows->v[i].topic) != 0)
			names[n++] = rows->v[i].topic;
	struct arena a;
	arena_init(&a);
	const struct metadata_response *md = metadata_topics(c, names, n, &a);
	free(names);
	for (int i = 0; md && i < rows->n; i++) {
		const struct metadata_response_metadata_response_topic *t = md_topic(md, rows->v[i].topic);
		for (int32_t p = 0; t && t->error_code == 0 && p < t->partitions_count; p++)
			if (t->partitions[p].partition_index == rows->v[i].partition)
				rows->v[i].leader = t->partitions[p].leader_id;
	}
	arena_free(&a);
	return md ? 0 : -1;
}

/*
 * ListOffsets at timestamp ts for every row, sent to each partition's leader;
 * the answer goes to the field at byte offset `field` of each row (-1 stays
 * where the leader is unknown or answers with an error).
 */
static void rows_list_offsets(struct cg_client *c, struct cg_rows *rows, int64_t ts, size_t field)
{
	for (int i = 0; i < rows->n; i++)
		*(int64_t *)((char *)&rows->v[i] + field) = -1;
	bool *done = xcalloc((size_t)(rows->n ? rows->n : 1), sizeof *done);
	for (int i = 0; i < rows->n; i++) {
		if (done[i] || rows->v[i].leader < 0)
			continue;
		int32_t leader = rows->v[i].leader;
		struct arena a;
		arena_init(&a);
		struct list_offsets_request req;
		list_offsets_request_init(&req);
		req.replica_id = -1;
		req.isolation_level = 0;
		req.topics = arena_alloc(&a, sizeof *req.topics * (size_t)rows->n);
		for (int j = i; j < rows->n; j++) {
			if (done[j] || rows->v[j].leader != leader)
				continue;
			done[j] = true;
			struct list_offsets_request_list_offsets_topic *t = req.topics_count > 0 ? &req.topics[req.topics_count - 1] : NULL;
			if (!t || !ks_eq(t->name, rows->v[j].topic)) {
				t = &req.topics[req.topics_count++];
				list_offsets_request_list_offsets_topic_init(t);
				t->name = kstr_c(rows->v[j].topic);
				t->partitions = arena_alloc(&a, sizeof *t->partitions * (size_t)rows->n);
			}
			struct list_offsets_request_list_offsets_partition *p = &t->partitions[t->partitions_count++];
			list_offsets_request_list_offsets_partition_init(p);
			p->partition_index = rows->v[j].partition;
			p->timestamp = ts;
		}
		void *out = NULL;
		if (node_call(c, leader, API_LIST_OFFSETS, 7, &req, &a, &out) == 0) {
			const struct list_offsets_response *resp = out;
			for (int32_t ti = 0; ti < resp->topics_count; ti++) {
				const struct list_offsets_response_list_offsets_topic_response *t = &resp->topics[ti];
				for (int32_t pi = 0; pi < t->partitions_count; pi++) {
					const struct list_offsets_response_list_offsets_partition_response *p = &t->partitions[pi];
					if (p->error_code != 0)
						continue;
					for (int j = 0; j < rows->n; j++)
						if (rows->v[j].leader == leader && rows->v[j].partition == p->partition_index &&
						    ks_eq(t->name, rows->v[j].topic))
							*(int64_t *)((char *)&rows->v[j] + field) = p->offset;
				}
			}
		}
		arena_free(&a);
	}
	free(done);
}

/* --- the group's description and offsets --------------------------------------------------------- */

struct cg_member {
	struct kstr id, instance_id, client_id, host;
	struct consumer_protocol_assignment asg;
	int n_partitions;
};

struct cg_group {
	struct arena a; /* everything below */
	int32_t coordinator;
	const struct describe_groups_response_described_group *d;
	struct cg_member *members;
	int n_members;
};

/* ConsumerProtocolAssignment: int16 version, then the struct; garbage means no assignment. */
static void decode_assignment(struct cg_group *g, struct kbytes b, struct cg_member *m)
{
	consumer_protocol_assignment_init(&m->asg);
	m->n_partitions = 0;
	if (!b.ptr || b.len < 2)
		return;
	struct rd r;
	rd_init(&r, b.ptr, (size_t)b.len);
	int16_t v = rd_i16(&r);
	struct consumer_protocol_assignment asg;
	if (r.err || v < 0 || consumer_protocol_assignment_decode(&r, &g->a, v > 3 ? 3 : v, &asg) != 0 || r.err)
		return;
	m->asg = asg;
	for (int32_t i = 0; i < asg.assigned_partitions_count; i++)
		if (asg.assigned_partitions[i].partitions_count > 0)
			m->n_partitions += asg.assigned_partitions[i].partitions_count;
}

/*
 * DescribeGroups at the group's coordinator, asking FindCoordinator again
 * while the coordinator moves or loads.  Returns 0, a Kafka error code, or -1.
 */
static int describe_group(struct cg_client *c, const char *group, struct cg_group *g)
{
	memset(g, 0, sizeof *g);
	arena_init(&g->a);
	int64_t deadline = now_ms() + RETRY_MS;
	int rc;
	for (;;) {
		rc = find_coordinator(c, group, &g->coordinator);
		if (rc == KERR_NONE) {
			struct describe_groups_request req;
			describe_groups_request_init(&req);
			struct kstr id = kstr_c(group);
			req.groups = &id;
			req.groups_count = 1;
			void *out = NULL;
			if (node_call(c, g->coordinator, API_DESCRIBE_GROUPS, 5, &req, &g->a, &out) != 0) {
				rc = -1;
			} else {
				const struct describe_groups_response *resp = out;
				g->d = NULL;
				for (int32_t i = 0; i < resp->groups_count; i++)
					if (ks_eq(resp->groups[i].group_id, group))
						g->d = &resp->groups[i];
				rc = g->d ? g->d->error_code : KERR_UNKNOWN_SERVER_ERROR;
			}
		}
		if (rc == KERR_NONE || !(rc < 0 || coordinator_retriable((int16_t)rc)) || now_ms() > deadline)
			break;
		usleep(RETRY_SLEEP_US);
	}
	if (rc != KERR_NONE)
		return rc;
	int n = g->d->members_count > 0 ? g->d->members_count : 0;
	g->members = arena_alloc(&g->a, sizeof *g->members * (size_t)(n ? n : 1));
	g->n_members = n;
	for (int i = 0; i < n; i++) {
		const struct describe_groups_response_described_group_member *dm = &g->d->members[i];
		struct cg_member *m = &g->members[i];
		m->id = dm->member_id;
		m->instance_id = dm->group_instance_id;
		m->client_id = dm->client_id;
		m->host = dm->client_host;
		decode_assignment(g, dm->member_assignment, m);
	}
	return 0;
}

static void group_free(struct cg_group *g) { arena_free(&g->a); }

static const char *group_state(const struct cg_group *g)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "%.*s", ks_len(g->d->group_state), ks_ptr(g->d->group_state));
	return buf;
}

/* Kafka's describeConsumerGroups refuses groups of other protocols (connect, ...). */
static bool is_consumer_group(const struct cg_group *g)
{
	return ks_len(g->d->protocol_type) == 0 || ks_eq(g->d->protocol_type, "consumer");
}

/* OffsetFetch v8 for all of the group's committed offsets, into rows. */
static int fetch_committed(struct cg_client *c, const char *group, int32_t coordinator, struct cg_rows *rows)
{
	int64_t deadline = now_ms() + RETRY_MS;
	for (;;) {
		struct arena a;
		arena_init(&a);
		struct offset_fetch_request req;
		offset_fetch_request_init(&req);
		struct offset_fetch_request_offset_fetch_request_group rg;
		offset_fetch_request_offset_fetch_request_group_init(&rg);
		rg.group_id = kstr_c(group);
		rg.topics_count = -1; /* all */
		req.groups = &rg;
		req.groups_count = 1;
		req.require_stable = false;
		void *out = NULL;
		int rc = -1;
		if (node_call(c, coordinator, API_OFFSET_FETCH, 8, &req, &a, &out) == 0) {
			const struct offset_fetch_response *resp = out;
			const struct offset_fetch_response_offset_fetch_response_group *og = NULL;
			for (int32_t i = 0; i < resp->groups_count; i++)
				if (ks_eq(resp->groups[i].group_id, group))
					og = &resp->groups[i];
			rc = og ? og->error_code : KERR_UNKNOWN_SERVER_ERROR;
			for (int32_t ti = 0; rc == KERR_NONE && ti < og->topics_count; ti++) {
				const struct offset_fetch_response_offset_fetch_response_topics *t = &og->topics[ti];
				if (ks_len(t->name) == 0)
					continue;
				for (int32_t pi = 0; pi < t->partitions_count; pi++) {
					const struct offset_fetch_response_offset_fetch_response_partitions *p = &t->partitions[pi];
					if (p->error_code != 0 || p->committed_offset < 0 || p->partition_index < 0)
						continue;
					rows_get(rows, ks_ptr(t->name), (size_t)ks_len(t->name), p->partition_index)->committed =
						p->committed_offset;
				}
			}
		}
		arena_free(&a);
		if (rc == KERR_NONE || rc != KERR_COORDINATOR_LOAD_IN_PROGRESS || now_ms() > deadline)
			return rc;
		usleep(RETRY_SLEEP_US);
	}
}

/* Prints Kafka's notes on the group's state; false when there is nothing to show. */
static bool print_member_state(const char *group, const struct cg_group *g, int n_rows)
{
	const char *st = group_state(g);
	if (strcmp(st, "Dead") == 0) {
		print_error("Consumer group '%s' does not exist.", group);
		return false;
	}
	if (strcmp(st, "Empty") == 0)
		fprintf(stderr, "\nConsumer group '%s' has no active members.\n", group);
	else if (strcmp(st, "PreparingRebalance") == 0 || strcmp(st, "CompletingRebalance") == 0)
		fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", group);
	return n_rows > 0;
}

static int describe_offsets(struct cg_client *c, const char *group, struct cg_group *g)
{
	struct cg_rows rows = { 0 };
	int rc = fetch_committed(c, group, g->coordinator, &rows);
	if (rc != KERR_NONE) {
		print_kafka_error("Executing consumer group command failed due to OffsetFetch", rc);
		rows_free(&rows);
		return 1;
	}
	for (int i = 0; i < g->n_members; i++) {
		const struct consumer_protocol_assignment *asg = &g->members[i].asg;
		for (int32_t t = 0; t < asg->assigned_partitions_count; t++) {
			const struct consumer_protocol_assignment_topic_partition *tp = &asg->assigned_partitions[t];
			if (ks_len(tp->topic) == 0)
				continue;
			for (int32_t p = 0; p < tp->partitions_count; p++)
				rows_get(&rows, ks_ptr(tp->topic), (size_t)ks_len(tp->topic), tp->partitions[p])->member = i;
		}
	}
	if (rows.n)
		qsort(rows.v, (size_t)rows.n, sizeof *rows.v, row_cmp);
	rows_leaders(c, &rows);
	rows_list_offsets(c, &rows, TS_LATEST, offsetof(struct cg_row, log_end));
	if (print_member_state(group, g, rows.n)) {
		struct table t = { .ncols = 9 };
		table_row(&t, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
			  "CLIENT-ID");
		for (int i = 0; i < rows.n; i++) {
			const struct cg_row *r = &rows.v[i];
			char part[16], cur[24], end[24], lag[24];
			snprintf(part, sizeof part, "%d", r->partition);
			const struct cg_member *m = r->member >= 0 ? &g->members[r->member] : NULL;
			char *id = m ? ks_dup(m->id) : xstrdup(MISSING);
			char *host = m ? ks_dup(m->host) : xstrdup(MISSING);
			char *client = m ? ks_dup(m->client_id) : xstrdup(MISSING);
			table_row(&t, group, r->topic, part, fmt_i64(cur, sizeof cur, r->committed, r->committed >= 0),
				  fmt_i64(end, sizeof end, r->log_end, r->log_end >= 0),
				  fmt_i64(lag, sizeof lag, r->log_end - r->committed, r->committed >= 0 && r->log_end >= 0),
				  id, host, client);
			free(id);
			free(host);
			free(client);
		}
		printf("\n");
		table_print_free(&t);
	}
	rows_free(&rows);
	return 0;
}

static int topic_name_cmp(const void *x, const void *y)
{
	const struct consumer_protocol_assignment_topic_partition *a = x, *b = y;
	int la = ks_len(a->topic), lb = ks_len(b->topic);
	int c = memcmp(ks_ptr(a->topic), ks_ptr(b->topic), (size_t)(la < lb ? la : lb));
	return c ? c : la - lb;
}

static int int32_cmp(const void *x, const void *y)
{
	int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
	return (a > b) - (a < b);
}

/* "t1(0,1),t2(3)" as Kafka's --members --verbose shows an assignment; "-" when empty. */
static char *assignment_string(struct consumer_protocol_assignment *asg)
{
	size_t cap = 64, len = 0;
	char *s = xmalloc(cap);
	s[0] = '\0';
	if (asg->assigned_partitions_count > 0)
		qsort(asg->assigned_partitions, (size_t)asg->assigned_partitions_count, sizeof *asg->assigned_partitions,
		      topic_name_cmp);
	for (int32_t t = 0; t < asg->assigned_partitions_count; t++) {
		struct consumer_protocol_assignment_topic_partition *tp = &asg->assigned_partitions[t];
		if (tp->partitions_count <= 0)
			continue;
		qsort(tp->partitions, (size_t)tp->partitions_count, sizeof *tp->partitions, int32_cmp);
		size_t need = len + (size_t)ks_len(tp->topic) + 16 * (size_t)tp->partitions_count + 8;
		if (need > cap) {
			cap = need * 2;
			s = xrealloc(s, cap);
		}
		len += (size_t)snprintf(s + len, cap - len, "%s%.*s(", len ? "," : "", ks_len(tp->topic), ks_ptr(tp->topic));
		for (int32_t p = 0; p < tp->partitions_count; p++)
			len += (size_t)snprintf(s + len, cap - len, "%s%d", p ? "," : "", tp->partitions[p]);
		len += (size_t)snprintf(s + len, cap - len, ")");
	}
	if (len == 0)
		snprintf(s, cap, "%s", MISSING);
	return s;
}

static int describe_members(const char *group, struct cg_group *g, bool verbose)
{
	if (!print_member_state(group, g, g->n_members))
		return 0;
	struct table t = { .ncols = verbose ? 7 : 5 };
	if (verbose)
		table_row(&t, "GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT");
	else
		table_row(&t, "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS");
	for (int i = 0; i < g->n_members; i++) {
		struct cg_member *m = &g->members[i];
		char n[16];
		snprintf(n, sizeof n, "%d", m->n_partitions);
		char *id = ks_dup(m->id), *host = ks_dup(m->host), *client = ks_dup(m->client_id);
		if (verbose) {
			char *inst = m->instance_id.ptr ? ks_dup(m->instance_id) : xstrdup(MISSING);
			char *asg = assignment_string(&m->asg);
			table_row(&t, group, id, inst, host, client, n, asg);
			free(inst);
			free(asg);
		} else {
			table_row(&t, group, id, host, client, n);
		}
		free(id);
		free(host);
		free(client);
	}
	printf("\n");
	table_print_free(&t);
	return 0;
}

static int describe_state(struct cg_client *c, const char *group, struct cg_group *g)
{
	if (!print_member_state(group, g, 1))
		return 0;
	const struct cg_node *n = node_get(c, g->coordinator);
	char coord[400], members[16];
	snprintf(coord, sizeof coord, "%s:%d (%d)", n ? n->host : "?", n ? n->port : -1, g->coordinator);
	snprintf(members, sizeof members, "%d", g->n_members);
	char *strategy = ks_dup(g->d->protocol_data);
	struct table t = { .ncols = 5 };
	table_row(&t, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS");
	table_row(&t, group, coord, strategy, group_state(g), members);
	free(strategy);
	printf("\n");
	table_print_free(&t);
	return 0;
}

/* Describe (and check) one group; 0 fine, 1 an error was printed. */
static int open_group(struct cg_client *c, const char *group, struct cg_group *g)
{
	int rc = describe_group(c, group, g);
	if (rc == KERR_GROUP_ID_NOT_FOUND) {
		print_error("Consumer group '%s' does not exist.", group);
		return 1;
	}
	if (rc != KERR_NONE) {
		print_kafka_error("Executing consumer group command failed due to DescribeGroups", rc);
		return 1;
	}
	if (!is_consumer_group(g)) {
		print_error("Group %s is not a consumer group (protocol type %.*s).", group, ks_len(g->d->protocol_type),
			    ks_ptr(g->d->protocol_type));
		return 1;
	}
	return 0;
}

static int do_describe(struct cg_client *c, const struct cg_opts *o)
{
	int status = 0;
	for (int i = 0; i < o->n_groups; i++) {
		const char *group = o->groups[i];
		struct cg_group g;
		if (open_group(c, group, &g) != 0) {
			status = 1;
		} else if (strcmp(group_state(&g), "Dead") == 0) {
			print_error("Consumer group '%s' does not exist.", group);
			status = 1;
		} else {
			int rc;
			switch (o->view) {
			case VIEW_MEMBERS: rc = describe_members(group, &g, o->verbose); break;
			case VIEW_STATE: rc = describe_state(c, group, &g); break;
			default: rc = describe_offsets(c, group, &g); break;
			}
			if (rc)
				status = 1;
		}
		group_free(&g);
	}
	return status;
}

/* --- list ------------------------------------------------------------------------------------------ */

static const char *const GROUP_STATES[] = { "PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty" };
#define N_GROUP_STATES ((int)(sizeof GROUP_STATES / sizeof GROUP_STATES[0]))

/* "stable,Empty" into canonical names; -1 (and Kafka's message) for an unknown one. */
static int parse_states(const char *arg, const char **out)
{
	int n = 0;
	char *copy = xstrdup(arg);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t l = strlen(tok);
		while (l && tok[l - 1] == ' ')
			tok[--l] = '\0';
		int k;
		for (k = 0; k < N_GROUP_STATES; k++)
			if (strcasecmp(tok, GROUP_STATES[k]) == 0)
				break;
		if (k == N_GROUP_STATES) {
			fprintf(stderr, "Invalid state list '%s'. Valid states are: PreparingRebalance, CompletingRebalance, "
					"Stable, Dead, Empty\n", arg);
			free(copy);
			return -1;
		}
		bool dup = false;
		for (int j = 0; j < n; j++)
			dup |= out[j] == GROUP_STATES[k];
		if (!dup)
			out[n++] = GROUP_STATES[k];
	}
	free(copy);
	return n;
}

struct listed {
	char *id, *state;
};

static int listed_cmp(const void *x, const void *y)
{
	return strcmp(((const struct listed *)x)->id, ((const struct listed *)y)->id);
}

static int do_list(struct cg_client *c, const struct cg_opts *o)
{
	const char *states[N_GROUP_STATES];
	int n_states = 0;
	if (o->state_arg && (n_states = parse_states(o->state_arg, states)) < 0)
		return 2;
	struct kstr filter[N_GROUP_STATES];
	for (int i = 0; i < n_states; i++)
		filter[i] = kstr_c(states[i]);
	struct listed *groups = NULL;
	int n = 0, status = 0;
	/* Every broker coordinates some groups: ask them all, as Kafka's admin client does. */
	int n_nodes = c->n_nodes;
	for (int b = 0; b < n_nodes; b++) {
		int32_t node = c->nodes[b].id;
		int64_t deadline = now_ms() + RETRY_MS;
		for (;;) {
			struct arena a;
			arena_init(&a);
			struct list_groups_request req;
			list_groups_request_init(&req);
			req.states_filter = filter;
			req.states_filter_count = n_states;
			void *out = NULL;
			int rc = -1;
			if (node_call(c, node, API_LIST_GROUPS, 4, &req, &a, &out) == 0) {
				const struct list_groups_response *resp = out;
				rc = resp->error_code;
				for (int32_t i = 0; rc == KERR_NONE && i < resp->groups_count; i++) {
					const struct list_groups_response_listed_group *lg = &resp->groups[i];
					if (ks_len(lg->protocol_type) && !ks_eq(lg->protocol_type, "consumer"))
						continue;
					bool wanted = n_states == 0;
					for (int k = 0; k < n_states; k++)
						wanted |= ks_len(lg->group_state) == (int)strlen(states[k]) &&
							  strncasecmp(ks_ptr(lg->group_state), states[k], strlen(states[k])) == 0;
					bool seen = false;
					for (int k = 0; k < n && !seen; k++)
						seen = ks_eq(lg->group_id, groups[k].id);
					if (!wanted || seen)
						continue;
					groups = xrealloc(groups, sizeof *groups * (size_t)(n + 1));
					groups[n].id = ks_dup(lg->group_id);
					groups[n].state = ks_dup(lg->group_state);
					n++;
				}
			}
			arena_free(&a);
			if (rc == KERR_NONE)
				break;
			if (rc != KERR_COORDINATOR_LOAD_IN_PROGRESS || now_ms() > deadline) {
				char what[64];
				snprintf(what, sizeof what, "ListGroups at broker %d", node);
				print_kafka_error(what, rc);
				status = 1;
				break;
			}
			usleep(RETRY_SLEEP_US);
		}
	}
	if (n)
		qsort(groups, (size_t)n, sizeof *groups, listed_cmp);
	if (o->state) {
		struct table t = { .ncols = 2 };
		table_row(&t, "GROUP", "STATE");
		for (int i = 0; i < n; i++)
			table_row(&t, groups[i].id, groups[i].state);
		table_print_free(&t);
	} else {
		for (int i = 0; i < n; i++)
			printf("%s\n", groups[i].id);
	}
	for (int i = 0; i < n; i++) {
		free(groups[i].id);
		free(groups[i].state);
	}
	free(groups);
	return status;
}

/* --- delete ---------------------------------------------------------------------------------------- */

static int delete_group(struct cg_client *c, const char *group)
{
	int64_t deadline = now_ms() + RETRY_MS;
	for (;;) {
		int32_t coordinator;
		int rc = find_coordinator(c, group, &coordinator);
		if (rc == KERR_NONE) {
			struct arena a;
			arena_init(&a);
			struct delete_groups_request req;
			delete_groups_request_init(&req);
			struct kstr id = kstr_c(group);
			req.groups_names = &id;
			req.groups_names_count = 1;
			void *out = NULL;
			rc = -1;
			if (node_call(c, coordinator, API_DELETE_GROUPS, 2, &req, &a, &out) == 0) {
				const struct delete_groups_response *resp = out;
				rc = KERR_UNKNOWN_SERVER_ERROR;
				for (int32_t i = 0; i < resp->results_count; i++)
					if (ks_eq(resp->results[i].group_id, group))
						rc = resp->results[i].error_code;
			}
			arena_free(&a);
		}
		if (rc == KERR_NONE || !(rc < 0 || coordinator_retriable((int16_t)rc)) || now_ms() > deadline)
			return rc;
		usleep(RETRY_SLEEP_US);
	}
}

static void print_group_list(FILE *f, const char *const *groups, const int *which, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(f, "%s'%s'", i ? ", " : "", groups[which[i]]);
}

static int do_delete(struct cg_client *c, const struct cg_opts *o)
{
	int ok[MAX_GROUPS], bad[MAX_GROUPS], errs[MAX_GROUPS];
	int n_ok = 0, n_bad = 0;
	for (int i = 0; i < o->n_groups; i++) {
		int rc = delete_group(c, o->groups[i]);
		if (rc == KERR_NONE) {
			ok[n_ok++] = i;
		} else {
			errs[n_bad] = rc;
			bad[n_bad++] = i;
		}
	}
	if (n_bad == 0) {
		printf("Deletion of requested consumer groups (");
		print_group_list(stdout, o->groups, ok, n_ok);
		printf(") was successful.\n");
		return 0;
	}
	print_error("Deletion of some consumer groups failed:");
	for (int i = 0; i < n_bad; i++) {
		if (errs[i] < 0)
			printf("* Group '%s' could not be deleted due to: no answer from the broker\n", o->groups[bad[i]]);
		else
			printf("* Group '%s' could not be deleted due to: %s%s%s\n", o->groups[bad[i]],
			       kafka_error_name((int16_t)errs[i]), *kafka_error_message((int16_t)errs[i]) ? ": " : "",
			       kafka_error_message((int16_t)errs[i]));
	}
	if (n_ok) {
		printf("\nThese consumer groups were deleted successfully: ");
		print_group_list(stdout, o->groups, ok, n_ok);
		printf("\n");
	}
	return 1;
}

/* --- reset-offsets --------------------------------------------------------------------------------- */

/* The partitions --topic T[:p,...] / --all-topics name, into rows. */
static int reset_scope(struct cg_client *c, const struct cg_opts *o, struct cg_rows *committed, struct cg_rows *rows)
{
	if (o->all_topics) {
		for (int i = 0; i < committed->n; i++)
			rows_get(rows, committed->v[i].topic, strlen(committed->v[i].topic), committed->v[i].partition);
		return 0;
	}
	const char *names[MAX_TOPICS];
	for (int i = 0; i < o->n_topics; i++) {
		const char *colon = strchr(o->topics[i], ':');
		names[i] = colon ? xstrndup(o->topics[i], (size_t)(colon - o->topics[i])) : xstrdup(o->topics[i]);
	}
	struct arena a;
	arena_init(&a);
	const struct metadata_response *md = metadata_topics(c, names, o->n_topics, &a);
	int status = 0;
	if (!md) {
		print_error("Metadata request failed");
		status = 1;
	}
	for (int i = 0; i < o->n_topics && status == 0; i++) {
		const struct metadata_response_metadata_response_topic *t = md_topic(md, names[i]);
		if (!t || t->error_code != 0) {
			print_error("Executing consumer group command failed due to topic '%s': %s", names[i],
				    kafka_error_name(t ? t->error_code : KERR_UNKNOWN_TOPIC_OR_PARTITION));
			status = 1;
			break;
		}
		const char *colon = strchr(o->topics[i], ':');
		if (!colon) {
			for (int32_t p = 0; p < t->partitions_count; p++)
				rows_get(rows, names[i], strlen(names[i]), t->partitions[p].partition_index);
			continue;
		}
		char *list = xstrdup(colon + 1), *save = NULL;
		for (char *tok = strtok_r(list, ",", &save); tok && status == 0; tok = strtok_r(NULL, ",", &save)) {
			char *end;
			long p = strtol(tok, &end, 10);
			bool found = false;
			for (int32_t k = 0; *end == '\0' && end != tok && k < t->partitions_count; k++)
				found |= t->partitions[k].partition_index == p;
			if (!found) {
				print_error("Partition '%s' of topic '%s' does not exist", tok, names[i]);
				status = 1;
			} else {
				rows_get(rows, names[i], strlen(names[i]), (int32_t)p);
			}
		}
		free(list);
	}
	arena_free(&a);
	for (int i = 0; i < o->n_topics; i++)
		free((char *)names[i]);
	return status;
}

/* Kafka's checkOffsetsRange: an offset outside [log start, log end] is moved to the nearer end. */
static int clamp_offset(struct cg_row *r, int64_t want)
{
	if (r->log_end < 0 || r->log_start < 0) {
		print_error("Error getting %s offset of topic partition: %s-%d", r->log_end < 0 ? "ending" : "starting",
			    r->topic, r->partition);
		return 1;
	}
	if (want > r->log_end) {
		fprintf(stderr, "WARN New offset (%" PRId64 ") is higher than latest offset for topic partition %s-%d. "
				"Value will be set to %" PRId64 "\n", want, r->topic, r->partition, r->log_end);
		want = r->log_end;
	} else if (want < r->log_start) {
		fprintf(stderr, "WARN New offset (%" PRId64 ") is lower than earliest offset for topic partition %s-%d. "
				"Value will be set to %" PRId64 "\n", want, r->topic, r->partition, r->log_start);
		want = r->log_start;
	}
	r->new_offset = want;
	return 0;
}

static int plan_offsets(struct cg_client *c, const struct cg_opts *o, struct cg_rows *committed, struct cg_rows *rows)
{
	rows_leaders(c, rows);
	rows_list_offsets(c, rows, TS_EARLIEST, offsetof(struct cg_row, log_start));
	rows_list_offsets(c, rows, TS_LATEST, offsetof(struct cg_row, log_end));
	if (o->reset == RESET_DATETIME)
		rows_list_offsets(c, rows, o->reset_value, offsetof(struct cg_row, by_time));
	for (int i = 0; i < rows->n; i++) {
		struct cg_row *r = &rows->v[i];
		int64_t cur = -1;
		for (int k = 0; k < committed->n; k++)
			if (committed->v[k].partition == r->partition && strcmp(committed->v[k].topic, r->topic) == 0)
				cur = committed->v[k].committed;
		r->committed = cur;
		switch (o->reset) {
		case RESET_EARLIEST:
		case RESET_LATEST: {
			int64_t v = o->reset == RESET_EARLIEST ? r->log_start : r->log_end;
			if (v < 0) {
				print_error("Error getting %s offset of topic partition: %s-%d",
					    o->reset == RESET_EARLIEST ? "starting" : "ending", r->topic, r->partition);
				return 1;
			}
			r->new_offset = v;
			break;
		}
		case RESET_DATETIME:
			if (r->by_time >= 0) {
				r->new_offset = r->by_time;
			} else {
				/* No record at or after the time: Kafka falls back to the log end. */
				printf("\nWarn: Partition %d from topic %s is empty. Falling back to latest known offset.\n",
				       r->partition, r->topic);
				if (r->log_end < 0) {
					print_error("Error getting offset by timestamp of topic partition: %s-%d", r->topic,
						    r->partition);
					return 1;
				}
				r->new_offset = r->log_end;
			}
			break;
		case RESET_SHIFT:
			if (cur < 0) {
				print_error("Cannot shift offset for partition %s-%d since there is no current committed offset",
					    r->topic, r->partition);
				return 1;
			}
			if (clamp_offset(r, cur + o->reset_value))
				return 1;
			break;
		case RESET_OFFSET:
			if (clamp_offset(r, o->reset_value))
				return 1;
			break;
		default:
			return 1;
		}
	}
	return 0;
}

/* OffsetCommit v8 as an admin: generation -1 and no member, which the coordinator takes only for an inactive group. */
static int commit_offsets(struct cg_client *c, const char *group, int32_t coordinator, const struct cg_rows *rows)
{
	struct arena a;
	arena_init(&a);
	struct offset_commit_request req;
	offset_commit_request_init(&req);
	req.group_id = kstr_c(group);
	req.generation_id_or_member_epoch = -1;
	req.member_id = kstr_c("");
	req.topics = arena_alloc(&a, sizeof *req.topics * (size_t)rows->n);
	for (int i = 0; i < rows->n; i++) {
		const struct cg_row *r = &rows->v[i];
		struct offset_commit_request_offset_commit_request_topic *t =
			req.topics_count > 0 ? &req.topics[req.topics_count - 1] : NULL;
		if (!t || !ks_eq(t->name, r->topic)) {
			t = &req.topics[req.topics_count++];
			offset_commit_request_offset_commit_request_topic_init(t);
			t->name = kstr_c(r->topic);
			t->partitions = arena_alloc(&a, sizeof *t->partitions * (size_t)rows->n);
		}
		struct offset_commit_request_offset_commit_request_partition *p = &t->partitions[t->partitions_count++];
		offset_commit_request_offset_commit_request_partition_init(p);
		p->partition_index = r->partition;
		p->committed_offset = r->new_offset;
	}
	void *out = NULL;
	int status = 0;
	if (node_call(c, coordinator, API_OFFSET_COMMIT, 8, &req, &a, &out) != 0) {
		print_error("Executing consumer group command failed due to OffsetCommit: no answer from the broker");
		status = 1;
	} else {
		const struct offset_commit_response *resp = out;
		int answered = 0;
		for (int32_t ti = 0; ti < resp->topics_count; ti++)
			for (int32_t pi = 0; pi < resp->topics[ti].partitions_count; pi++) {
				const struct offset_commit_response_offset_commit_response_partition *p = &resp->topics[ti].partitions[pi];
				answered++;
				if (p->error_code != 0) {
					print_error("Executing consumer group command failed due to OffsetCommit of %.*s-%d: %s%s%s",
						    ks_len(resp->topics[ti].name), ks_ptr(resp->topics[ti].name), p->partition_index,
						    kafka_error_name(p->error_code), *kafka_error_message(p->error_code) ? ": " : "",
						    kafka_error_message(p->error_code));
					status = 1;
				}
			}
		if (status == 0 && answered != rows->n) {
			print_error("Executing consumer group command failed due to OffsetCommit: %d of %d partitions answered",
				    answered, rows->n);
			status = 1;
		}
	}
	arena_free(&a);
	return status;
}

static int reset_group(struct cg_client *c, const struct cg_opts *o, const char *group)
{
	struct cg_group g;
	if (open_group(c, group, &g) != 0) {
		group_free(&g);
		return 1;
	}
	const char *st = group_state(&g);
	if (strcmp(st, "Empty") != 0 && strcmp(st, "Dead") != 0) {
		print_error("Assignments can only be reset if the group '%s' is inactive, but the current state is %s.", group,
			    st);
		group_free(&g);
		return 1;
	}
	struct cg_rows committed = { 0 }, rows = { 0 };
	int status = 0;
	int rc = fetch_committed(c, group, g.coordinator, &committed);
	if (rc != KERR_NONE) {
		print_kafka_error("Executing consumer group command failed due to OffsetFetch", rc);
		status = 1;
	}
	if (status == 0)
		status = reset_scope(c, o, &committed, &rows);
	if (status == 0 && rows.n) {
		qsort(rows.v, (size_t)rows.n, sizeof *rows.v, row_cmp);
		status = plan_offsets(c, o, &committed, &rows);
	}
	if (status == 0 && rows.n && o->execute)
		status = commit_offsets(c, group, g.coordinator, &rows);
	if (status == 0 && rows.n) {
		struct table t = { .ncols = 4 };
		table_row(&t, "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
		for (int i = 0; i < rows.n; i++) {
			char part[16], off[24];
			snprintf(part, sizeof part, "%d", rows.v[i].partition);
			snprintf(off, sizeof off, "%" PRId64, rows.v[i].new_offset);
			table_row(&t, group, rows.v[i].topic, part, off);
		}
		printf("\n");
		table_print_free(&t);
	}
	rows_free(&committed);
	rows_free(&rows);
	group_free(&g);
	return status;
}

static int do_reset(struct cg_client *c, const struct cg_opts *o)
{
	if (!o->execute && !o->dry_run)
		fprintf(stderr, "WARN: No action will be performed as the --execute option is missing. "
				"You should add the --dry-run option explicitly if you are scripting this command "
				"and want to keep the current default behavior without prompting.\n");
	int status = 0;
	for (int i = 0; i < o->n_groups; i++)
		status |= reset_group(c, o, o->groups[i]);
	return status;
}

/* --- options --------------------------------------------------------------------------------------- */

/* "2024-01-31T12:00:00.000", optionally with Z or ±HH:MM; without a zone it is UTC. */
static int parse_datetime(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
		return -1;
	const char *p = s + n;
	int frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	int zone = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int zh, zm = 0, m = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &zh, &zm, &m) == 2 || sscanf(p + 1, "%2d%2d%n", &zh, &zm, &m) == 2 ||
		    sscanf(p + 1, "%2d%n", &zh, &m) == 1) {
			if (zh > 18 || zm > 59 || zh < 0 || zm < 0)
				return -1;
			zone = (*p == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
			p += 1 + m;
		} else {
			return -1;
		}
	}
	if (*p)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*ms = ((int64_t)t - zone) * 1000 + frac;
	return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return -1;
	*v = x;
	return 0;
}

static void cg_usage(FILE *f)
{
	fprintf(f, "usage: samsa consumer-groups --bootstrap-server HOST:PORT\n"
		   "         --list [--state [S,...]] |\n"
		   "         --describe --group G... [--offsets | --members [--verbose] | --state] |\n"
		   "         --delete --group G... |\n"
		   "         --reset-offsets --group G... (--topic T[:P,...]... | --all-topics)\n"
		   "             (--to-earliest | --to-latest | --to-offset N | --shift-by N |\n"
		   "              --to-datetime YYYY-MM-DDTHH:mm:SS.sss) [--dry-run | --execute]\n");
}

static int usage_error(const char *msg)
{
	if (msg)
		fprintf(stderr, "samsa consumer-groups: %s\n", msg);
	cg_usage(stderr);
	return 2;
}

enum {
	OPT_BOOTSTRAP = 256, OPT_LIST, OPT_DESCRIBE, OPT_DELETE, OPT_RESET, OPT_GROUP, OPT_TOPIC, OPT_ALL_TOPICS,
	OPT_MEMBERS, OPT_VERBOSE, OPT_STATE, OPT_OFFSETS, OPT_EARLIEST, OPT_LATEST, OPT_DATETIME, OPT_SHIFT,
	OPT_TO_OFFSET, OPT_DRY_RUN, OPT_EXECUTE, OPT_HELP,
};

static int set_action(struct cg_opts *o, enum cg_action a)
{
	if (o->action != ACT_NONE && o->action != a)
		return -1;
	o->action = a;
	return 0;
}

int cmd_consumer_groups(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, OPT_BOOTSTRAP },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "describe", no_argument, NULL, OPT_DESCRIBE },
		{ "delete", no_argument, NULL, OPT_DELETE },
		{ "reset-offsets", no_argument, NULL, OPT_RESET },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "topic", required_argument, NULL, OPT_TOPIC },
		{ "all-topics", no_argument, NULL, OPT_ALL_TOPICS },
		{ "members", no_argument, NULL, OPT_MEMBERS },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "state", optional_argument, NULL, OPT_STATE },
		{ "offsets", no_argument, NULL, OPT_OFFSETS },
		{ "to-earliest", no_argument, NULL, OPT_EARLIEST },
		{ "to-latest", no_argument, NULL, OPT_LATEST },
		{ "to-datetime", required_argument, NULL, OPT_DATETIME },
		{ "shift-by", required_argument, NULL, OPT_SHIFT },
		{ "to-offset", required_argument, NULL, OPT_TO_OFFSET },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "execute", no_argument, NULL, OPT_EXECUTE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct cg_opts o = { .view = VIEW_OFFSETS };
	int ch;
	optind = 2;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int bad = 0;
		switch (ch) {
		case OPT_BOOTSTRAP: o.bootstrap = optarg; break;
		case OPT_LIST: bad = set_action(&o, ACT_LIST); break;
		case OPT_DESCRIBE: bad = set_action(&o, ACT_DESCRIBE); break;
		case OPT_DELETE: bad = set_action(&o, ACT_DELETE); break;
		case OPT_RESET: bad = set_action(&o, ACT_RESET); break;
		case OPT_GROUP:
			if (o.n_groups == MAX_GROUPS)
				return usage_error("too many --group");
			o.groups[o.n_groups++] = optarg;
			break;
		case OPT_TOPIC:
			if (o.n_topics == MAX_TOPICS)
				return usage_error("too many --topic");
			o.topics[o.n_topics++] = optarg;
			break;
		case OPT_ALL_TOPICS: o.all_topics = true; break;
		case OPT_MEMBERS: o.view = VIEW_MEMBERS; o.n_views++; break;
		case OPT_OFFSETS: o.view = VIEW_OFFSETS; o.n_views++; break;
		case OPT_STATE:
			/* Kafka's --state takes an optional value, also as the next word: --list --state Stable. */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			if (o.state)
				return usage_error("--state given twice");
			o.state = true;
			o.state_arg = optarg;
			break;
		case OPT_VERBOSE: o.verbose = true; break;
		case OPT_EARLIEST: o.reset = RESET_EARLIEST; o.n_resets++; break;
		case OPT_LATEST: o.reset = RESET_LATEST; o.n_resets++; break;
		case OPT_DATETIME:
			o.reset = RESET_DATETIME;
			o.n_resets++;
			if (parse_datetime(optarg, &o.reset_value))
				return usage_error("--to-datetime wants YYYY-MM-DDTHH:mm:SS.sss (UTC unless a zone follows)");
			break;
		case OPT_SHIFT:
		case OPT_TO_OFFSET:
			o.reset = ch == OPT_SHIFT ? RESET_SHIFT : RESET_OFFSET;
			o.n_resets++;
			if (parse_i64(optarg, &o.reset_value))
				return usage_error(ch == OPT_SHIFT ? "--shift-by wants a number" : "--to-offset wants a number");
			break;
		case OPT_DRY_RUN: o.dry_run = true; break;
		case OPT_EXECUTE: o.execute = true; break;
		case OPT_HELP: cg_usage(stdout); return 0;
		default: return usage_error(NULL);
		}
		if (bad)
			return usage_error("give one of --list, --describe, --delete, --reset-offsets");
	}
	if (optind < argc)
		return usage_error("unexpected arguments");
	if (!o.bootstrap)
		return usage_error("--bootstrap-server is required");
	if (o.action == ACT_NONE)
		return usage_error("give one of --list, --describe, --delete, --reset-offsets");
	if (o.action != ACT_LIST && o.n_groups == 0)
		return usage_error("--group is required");
	if (o.action == ACT_LIST && o.n_groups)
		return usage_error("--group goes with --describe, --delete or --reset-offsets");
	if (o.action == ACT_DESCRIBE) {
		if (o.n_views + (o.state ? 1 : 0) > 1)
			return usage_error("--describe takes at most one of --members, --offsets, --state");
		if (o.state) {
			if (o.state_arg)
				return usage_error("--state takes no value with --describe");
			o.view = VIEW_STATE;
		}
		if (o.verbose && o.view != VIEW_MEMBERS)
			return usage_error("--verbose goes with --describe --members");
	} else if (o.n_views || o.verbose) {
		return usage_error("--members, --offsets and --verbose go with --describe");
	}
	if (o.state && o.action != ACT_LIST && o.action != ACT_DESCRIBE)
		return usage_error("--state goes with --list or --describe");
	if (o.action == ACT_RESET) {
		if (o.n_resets != 1)
			return usage_error("--reset-offsets takes exactly one of --to-earliest, --to-latest, --to-offset, "
					   "--shift-by, --to-datetime");
		if ((o.n_topics > 0) == o.all_topics)
			return usage_error("--reset-offsets takes one of --topic or --all-topics");
		if (o.execute && o.dry_run)
			return usage_error("--reset-offsets takes at most one of --dry-run, --execute");
	} else if (o.n_resets || o.n_topics || o.all_topics || o.execute || o.dry_run) {
		return usage_error("--topic, --all-topics, --to-*, --shift-by, --dry-run and --execute go with --reset-offsets");
	}
	struct cg_client c;
	if (client_open(&c, o.bootstrap) != 0)
		return 1;
	int rc;
	switch (o.action) {
	case ACT_LIST: rc = do_list(&c, &o); break;
	case ACT_DESCRIBE: rc = do_describe(&c, &o); break;
	case ACT_DELETE: rc = do_delete(&c, &o); break;
	default: rc = do_reset(&c, &o); break;
	}
	client_close(&c);
	return rc;
}
