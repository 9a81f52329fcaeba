/*
 * samsa reassign-partitions: move partition replicas between brokers, with
 * the flags and output of Kafka's kafka-reassign-partitions.sh
 * (ReassignPartitionsCommand), on AlterPartitionReassignments and
 * ListPartitionReassignments sent to the controller:
 *   --generate --topics-to-move-json-file F --broker-list 1,2,3
 *       prints the current assignment and a proposal (Kafka's rack-unaware
 *       round robin with a random start and shift);
 *   --execute --reassignment-json-file F [--throttle B/s] [--additional]
 *       prints the current assignment (the rollback plan) and starts the moves;
 *       --throttle sets leader/follower.replication.throttled.replicas on the
 *       topics and leader/follower.replication.throttled.rate on the brokers
 *       involved (IncrementalAlterConfigs), as Kafka does, before starting;
 *   --verify --reassignment-json-file F [--preserve-throttles]
 *       says per partition whether its move is done; when every one is, the
 *       throttles are removed;
 *   --cancel --reassignment-json-file F [--preserve-throttles]
 *       cancels the moves of those partitions still in progress;
 *   --list  lists every reassignment in progress.
 * The plan file is {"version":1,"partitions":[{"topic":"t","partition":0,
 * "replicas":[1,2],"log_dirs":["any","any"]}]}; log dirs other than "any"
 * (AlterReplicaLogDirs) are refused.
 */
#include "tools/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "samsa/util/xalloc.h"
#include "tools/admin_client.h"

#define PROG "samsa reassign-partitions"
#define MAX_REPLICAS 64
#define MAX_BROKERS 1024
#define RESOURCE_TOPIC 2
#define RESOURCE_BROKER 4
#define OP_SET 0
#define OP_DELETE 1

struct move {
	const char *topic;
	int32_t partition;
	int32_t replicas[MAX_REPLICAS];
	int n;
	/* The current assignment, from Metadata. */
	int32_t cur[MAX_REPLICAS];
	int n_cur;
	bool found;
	bool ongoing; /* listed by ListPartitionReassignments */
};

struct plan {
	struct move *m;
	int n;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: samsa reassign-partitions --bootstrap-server HOST:PORT[,HOST:PORT...]\n"
		   "         --generate --topics-to-move-json-file F --broker-list ID,ID,... |\n"
		   "         --execute --reassignment-json-file F [--throttle B/s] [--additional] [--timeout MS] |\n"
		   "         --verify --reassignment-json-file F [--preserve-throttles] |\n"
		   "         --cancel --reassignment-json-file F [--preserve-throttles] |\n"
		   "         --list\n"
		   "F (--topics-to-move-json-file): {\"topics\":[{\"topic\":\"t\"}],\"version\":1}\n"
		   "F (--reassignment-json-file): {\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\n"
		   "    \"replicas\":[1,2],\"log_dirs\":[\"any\",\"any\"]}]}; like kafka-reassign-partitions.sh\n");
}

static int move_cmp(const void *x, const void *y)
{
	const struct move *a = x, *b = y;
	int c = strcmp(a->topic, b->topic);
	return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

static void print_ids(FILE *f, const int32_t *ids, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? "," : "", ids[i]);
}

static void print_tp_list(const struct plan *p, bool (*want)(const struct move *))
{
	int k = 0;
	for (int i = 0; i < p->n; i++)
		if (want(&p->m[i]))
			printf("%s%s-%d", k++ ? "," : "", p->m[i].topic, p->m[i].partition);
}

/* Kafka's reassignment JSON: current (use_cur) or planned replicas. */
static void print_json(const struct plan *p, bool use_cur)
{
	printf("{\"version\":1,\"partitions\":[");
	for (int i = 0; i < p->n; i++) {
		const struct move *m = &p->m[i];
		const int32_t *ids = use_cur ? m->cur : m->replicas;
		int n = use_cur ? m->n_cur : m->n;
		struct wbuf w;
		wbuf_init(&w);
		json_write_string(&w, m->topic);
		printf("%s{\"topic\":%.*s,\"partition\":%d,\"replicas\":[", i ? "," : "", (int)w.len, (const char *)w.data,
		       m->partition);
		wbuf_free(&w);
		print_ids(stdout, ids, n);
		printf("],\"log_dirs\":[");
		for (int k = 0; k < n; k++)
			printf("%s\"any\"", k ? "," : "");
		printf("]}");
	}
	printf("]}\n");
}

static int parse_plan(const struct json *j, struct plan *p)
{
	int64_t version = 1;
	if (json_get(j, "version") && (!json_get_int(j, "version", &version) || version != 1)) {
		admin_error(PROG, "unsupported version in the reassignment JSON file (only 1 is known)");
		return -1;
	}
	const struct json *ps = json_get(j, "partitions");
	if (!ps || ps->type != JSON_ARRAY) {
		admin_error(PROG, "the reassignment JSON file has no \"partitions\" array");
		return -1;
	}
	if (ps->n == 0) {
		admin_error(PROG, "Partition reassignment list cannot be empty");
		return -1;
	}
	p->m = xcalloc(ps->n, sizeof *p->m);
	p->n = 0;
	for (size_t i = 0; i < ps->n; i++) {
		const struct json *e = ps->items[i];
		struct move *m = &p->m[p->n];
		int64_t part;
		const char *topic = e->type == JSON_OBJECT ? json_get_string(e, "topic") : NULL;
		const struct json *rs = topic ? json_get(e, "replicas") : NULL;
		if (!topic || !json_get_int(e, "partition", &part) || part < 0 || part > INT32_MAX || !rs ||
		    rs->type != JSON_ARRAY || rs->n == 0 || rs->n > MAX_REPLICAS) {
			admin_error(PROG, "partition entry %zu of the reassignment JSON file needs \"topic\", \"partition\" and "
					  "a non-empty \"replicas\" array", i);
			return -1;
		}
		m->topic = topic;
		m->partition = (int32_t)part;
		for (size_t k = 0; k < rs->n; k++) {
			const struct json *r = rs->items[k];
			if (r->type != JSON_NUMBER || !r->is_int || r->i < 0 || r->i > INT32_MAX) {
				admin_error(PROG, "bad replica in the entry of %s-%d", topic, m->partition);
				return -1;
			}
			for (int q = 0; q < m->n; q++)
				if (m->replicas[q] == r->i) {
					admin_error(PROG, "Duplicate replica assignment found: %s-%d -> %lld", topic, m->partition,
						    (long long)r->i);
					return -1;
				}
			m->replicas[m->n++] = (int32_t)r->i;
		}
		const struct json *ld = json_get(e, "log_dirs");
		if (ld) {
			if (ld->type != JSON_ARRAY || (int)ld->n != m->n) {
				admin_error(PROG, "Size of replicas list and log_dirs list differ for %s-%d", topic, m->partition);
				return -1;
			}
			for (size_t k = 0; k < ld->n; k++)
				if (ld->items[k]->type != JSON_STRING || strcmp(ld->items[k]->str, "any")) {
					admin_error(PROG, "log_dirs other than \"any\" (moves between log dirs) are not supported");
					return -1;
				}
		}
		for (int q = 0; q < p->n; q++)
			if (!strcmp(p->m[q].topic, topic) && p->m[q].partition == m->partition) {
				admin_error(PROG, "Duplicate reassignment of partition %s-%d", topic, m->partition);
				return -1;
			}
		p->n++;
	}
	qsort(p->m, (size_t)p->n, sizeof *p->m, move_cmp);
	return 0;
}

/* Fills each move's current replicas from Metadata; an unknown topic or partition is an error. */
static int load_current(struct admin *ad, struct plan *p, struct arena *a, bool must_exist)
{
	const char **names = arena_alloc(a, sizeof *names * (size_t)p->n);
	for (int i = 0; i < p->n; i++)
		names[i] = p->m[i].topic;
	const struct metadata_response *md = admin_metadata(ad, names, p->n, a);
	if (!md)
		return -1;
	for (int i = 0; i < p->n; i++) {
		struct move *m = &p->m[i];
		const struct metadata_response_metadata_response_partition *pp =
			admin_md_partition(admin_md_topic(md, m->topic), m->partition);
		if (!pp) {
			if (must_exist) {
				admin_error(PROG, "Topic %s or its partition %d not found", m->topic, m->partition);
				return -1;
			}
			continue;
		}
		m->found = true;
		m->n_cur = pp->replica_nodes_count < MAX_REPLICAS ? pp->replica_nodes_count : MAX_REPLICAS;
		memcpy(m->cur, pp->replica_nodes, sizeof *m->cur * (size_t)m->n_cur);
	}
	return 0;
}

/* Marks the moves the controller lists as in progress; 0, or -1 after one line. */
static int load_ongoing(struct admin *ad, struct plan *p, struct arena *a, const struct list_partition_reassignments_response **all)
{
	struct list_partition_reassignments_request req;
	list_partition_reassignments_request_init(&req);
	req.timeout_ms = 30000;
	req.topics_count = -1;
	void *out = NULL;
	if (admin_call(ad, -1, API_LIST_PARTITION_REASSIGNMENTS, 0, &req, a, &out) != 0) {
		admin_error(PROG, "ListPartitionReassignments to the controller (broker %d) failed", ad->controller_id);
		return -1;
	}
	const struct list_partition_reassignments_response *r = out;
	if (r->error_code) {
		admin_error(PROG, "ListPartitionReassignments failed: %s", kafka_error_name(r->error_code));
		return -1;
	}
	for (int t = 0; p && t < r->topics_count; t++)
		for (int k = 0; k < r->topics[t].partitions_count; k++)
			for (int i = 0; i < p->n; i++)
				if ((size_t)r->topics[t].name.len == strlen(p->m[i].topic) &&
				    !memcmp(r->topics[t].name.ptr, p->m[i].topic, (size_t)r->topics[t].name.len) &&
				    r->topics[t].partitions[k].partition_index == p->m[i].partition)
					p->m[i].ongoing = true;
	if (all)
		*all = r;
	return 0;
}

/* One IncrementalAlterConfigs resource: keys set to values (NULL values: deleted). */
struct cfg_change {
	int8_t type;
	const char *name;
	const char *keys[4];
	const char *values[4];
	int n;
};

/* Sends the changes (broker resources to that broker, topics to any); 0, or -1 after one line naming
 * every resource refused and the first refusal's reason. */
static int alter_configs(struct admin *ad, struct cfg_change *ch, int n, struct arena *a, const char *what)
{
	char names[512] = "", reason[512] = "";
	size_t nl = 0;
	int refused = 0;
	const char *kind = n && ch[0].type == RESOURCE_BROKER ? "broker" : "topic";
	for (int i = 0; i < n; i++) {
		struct incremental_alter_configs_request req;
		incremental_alter_configs_request_init(&req);
		struct incremental_alter_configs_request_alter_configs_resource res;
		incremental_alter_configs_request_alter_configs_resource_init(&res);
		res.resource_type = ch[i].type;
		res.resource_name = kstr_c(ch[i].name);
		res.configs = arena_alloc(a, sizeof *res.configs * (size_t)ch[i].n);
		for (int k = 0; k < ch[i].n; k++) {
			incremental_alter_configs_request_alterable_config_init(&res.configs[k]);
			res.configs[k].name = kstr_c(ch[i].keys[k]);
			res.configs[k].config_operation = ch[i].values[k] ? OP_SET : OP_DELETE;
			res.configs[k].value = ch[i].values[k] ? kstr_c(ch[i].values[k]) : (struct kstr){ NULL, -1 };
		}
		res.configs_count = ch[i].n;
		req.resources = &res;
		req.resources_count = 1;
		/* Topic configs: any broker writes them to ZooKeeper; broker configs: that broker. */
		int32_t to = ch[i].type == RESOURCE_BROKER ? atoi(ch[i].name) : ad->n_nodes ? ad->nodes[0].id : -1;
		void *out = NULL;
		bool bad = false;
		if (admin_call(ad, to, API_INCREMENTAL_ALTER_CONFIGS, 0, &req, a, &out) != 0) {
			bad = true;
			if (!reason[0])
				snprintf(reason, sizeof reason, "no answer to IncrementalAlterConfigs");
		} else {
			const struct incremental_alter_configs_response *r = out;
			for (int k = 0; k < r->responses_count; k++)
				if (r->responses[k].error_code) {
					const struct kstr msg = r->responses[k].error_message;
					bad = true;
					if (!reason[0])
						snprintf(reason, sizeof reason, "%s%s%.*s", kafka_error_name(r->responses[k].error_code),
							 msg.ptr && msg.len > 0 ? ": " : "", msg.ptr && msg.len > 0 ? msg.len : 0,
							 msg.ptr ? msg.ptr : "");
				}
		}
		if (bad) {
			refused++;
			if (nl < sizeof names)
				nl += (size_t)snprintf(names + nl, sizeof names - nl, "%s%s", nl ? "," : "", ch[i].name);
		}
	}
	if (!refused)
		return 0;
	admin_error(PROG, "%s: %s%s %s refused: %s", what, kind, refused > 1 ? "s" : "", names, reason);
	return -1;
}

static bool has(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool same_seq(const struct move *m)
{
	if (m->n != m->n_cur)
		return false;
	for (int i = 0; i < m->n; i++)
		if (m->replicas[i] != m->cur[i])
			return false;
	return true;
}

/* The brokers of the moving partitions, current and target, sorted. */
static int reassigning_brokers(const struct plan *p, int32_t *ids)
{
	int n = 0;
	for (int i = 0; i < p->n; i++) {
		const struct move *m = &p->m[i];
		for (int k = 0; k < m->n_cur; k++)
			if (!has(ids, n, m->cur[k]) && n < MAX_BROKERS)
				ids[n++] = m->cur[k];
		for (int k = 0; k < m->n; k++)
			if (!has(ids, n, m->replicas[k]) && n < MAX_BROKERS)
				ids[n++] = m->replicas[k];
	}
	qsort(ids, (size_t)n, sizeof *ids, admin_int32_cmp);
	return n;
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The strings sorted, without repeats, joined with commas; in a. */
static const char *join_sorted(struct arena *a, char **items, int n)
{
	qsort(items, (size_t)n, sizeof *items, str_cmp);
	size_t len = 1;
	for (int i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	char *out = arena_alloc(a, len);
	size_t k = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++)
		if (i == 0 || strcmp(items[i], items[i - 1]))
			k += (size_t)snprintf(out + k, len - k, "%s%s", k ? "," : "", items[i]);
	return out;
}

/* Kafka's throttles for a move: leaders throttle the current replicas, followers the ones being added. */
static int set_throttles(struct admin *ad, const struct plan *p, int64_t rate, struct arena *a)
{
	struct cfg_change *ch = arena_alloc(a, sizeof *ch * (size_t)(p->n + MAX_BROKERS));
	int n = 0;
	for (int i = 0; i < p->n; i++) {
		if (i > 0 && !strcmp(p->m[i].topic, p->m[i - 1].topic))
			continue;
		/* Kafka keeps each list as a sorted set of "partition:broker" strings. */
		int cap = 0, nl = 0, nf = 0;
		for (int j = i; j < p->n && !strcmp(p->m[j].topic, p->m[i].topic); j++)
			cap += p->m[j].n_cur + p->m[j].n;
		char **lead = arena_alloc(a, sizeof *lead * (size_t)(cap + 1)), **follow = arena_alloc(a, sizeof *follow * (size_t)(cap + 1));
		for (int j = i; j < p->n && !strcmp(p->m[j].topic, p->m[i].topic); j++) {
			const struct move *m = &p->m[j];
			for (int k = 0; k < m->n_cur; k++) {
				lead[nl] = arena_alloc(a, 24);
				snprintf(lead[nl++], 24, "%d:%d", m->partition, m->cur[k]);
			}
			for (int k = 0; k < m->n; k++) {
				if (has(m->cur, m->n_cur, m->replicas[k]))
					continue;
				follow[nf] = arena_alloc(a, 24);
				snprintf(follow[nf++], 24, "%d:%d", m->partition, m->replicas[k]);
			}
		}
		ch[n] = (struct cfg_change){ .type = RESOURCE_TOPIC, .name = p->m[i].topic, .n = 2 };
		ch[n].keys[0] = "leader.replication.throttled.replicas";
		ch[n].values[0] = join_sorted(a, lead, nl);
		ch[n].keys[1] = "follower.replication.throttled.replicas";
		ch[n].values[1] = join_sorted(a, follow, nf);
		n++;
	}
	if (alter_configs(ad, ch, n, a, "setting the topic-level throttles") != 0)
		return -1;
	int32_t ids[MAX_BROKERS];
	int nb = reassigning_brokers(p, ids);
	char *r = arena_alloc(a, 32);
	snprintf(r, 32, "%lld", (long long)rate);
	n = 0;
	for (int i = 0; i < nb; i++) {
		char *name = arena_alloc(a, 16);
		snprintf(name, 16, "%d", ids[i]);
		ch[n] = (struct cfg_change){ .type = RESOURCE_BROKER, .name = name, .n = 2 };
		ch[n].keys[0] = "leader.replication.throttled.rate";
		ch[n].values[0] = r;
		ch[n].keys[1] = "follower.replication.throttled.rate";
		ch[n].values[1] = r;
		n++;
	}
	return alter_configs(ad, ch, n, a, "setting the inter-broker throttle rate");
}

/* Takes the throttles off the plan's topics and every broker, as Kafka's --verify does once all is done. */
static int clear_throttles(struct admin *ad, const struct plan *p, struct arena *a)
{
	struct cfg_change *ch = arena_alloc(a, sizeof *ch * (size_t)(p->n + ad->n_nodes + 1));
	int n = 0, rc = 0;
	int32_t ids[MAX_BROKERS];
	int nb = 0;
	for (int i = 0; i < ad->n_nodes && nb < MAX_BROKERS; i++)
		ids[nb++] = ad->nodes[i].id;
	for (int i = 0; i < p->n; i++)
		for (int k = 0; k < p->m[i].n; k++)
			if (!has(ids, nb, p->m[i].replicas[k]) && nb < MAX_BROKERS)
				ids[nb++] = p->m[i].replicas[k];
	qsort(ids, (size_t)nb, sizeof *ids, admin_int32_cmp);
	printf("Clearing broker-level throttles on broker%s ", nb == 1 ? "" : "s");
	print_ids(stdout, ids, nb);
	printf("\n");
	for (int i = 0; i < nb; i++) {
		char *name = arena_alloc(a, 16);
		snprintf(name, 16, "%d", ids[i]);
		ch[n] = (struct cfg_change){ .type = RESOURCE_BROKER, .name = name, .n = 3 };
		ch[n].keys[0] = "leader.replication.throttled.rate";
		ch[n].keys[1] = "follower.replication.throttled.rate";
		ch[n].keys[2] = "replica.alter.log.dirs.io.max.bytes.per.second";
		n++;
	}
	fflush(stdout);
	/* A broker that cannot take dynamic broker configs has no rate to clear: its refusal is a warning. */
	alter_configs(ad, ch, n, a, "warning: clearing the broker-level throttles");
	n = 0;
	for (int i = 0; i < p->n; i++) {
		if (i > 0 && !strcmp(p->m[i].topic, p->m[i - 1].topic))
			continue;
		ch[n] = (struct cfg_change){ .type = RESOURCE_TOPIC, .name = p->m[i].topic, .n = 2 };
		ch[n].keys[0] = "leader.replication.throttled.replicas";
		ch[n].keys[1] = "follower.replication.throttled.replicas";
		n++;
	}
	printf("Clearing topic-level throttles on topic%s ", n == 1 ? "" : "s");
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", ch[i].name);
	printf("\n");
	fflush(stdout);
	if (alter_configs(ad, ch, n, a, "clearing the topic-level throttles") != 0)
		rc = -1;
	return rc;
}

/* AlterPartitionReassignments for the moves want() picks (cancel: null replicas); the number refused, or -1. */
static int alter(struct admin *ad, struct plan *p, bool cancel, bool (*want)(const struct move *), int32_t timeout_ms,
		 struct arena *a, int16_t *errors)
{
	struct alter_partition_reassignments_request req;
	alter_partition_reassignments_request_init(&req);
	req.timeout_ms = timeout_ms;
	req.topics = arena_alloc(a, sizeof *req.topics * (size_t)p->n);
	for (int i = 0; i < p->n; i++) {
		struct move *m = &p->m[i];
		errors[i] = -1;
		if (!want(m))
			continue;
		struct alter_partition_reassignments_request_reassignable_topic *t =
			req.topics_count && !strcmp(req.topics[req.topics_count - 1].name.ptr, m->topic) ? &req.topics[req.topics_count - 1] : NULL;
		if (!t) {
			t = &req.topics[req.topics_count++];
			alter_partition_reassignments_request_reassignable_topic_init(t);
			t->name = kstr_c(m->topic);
			t->partitions = arena_alloc(a, sizeof *t->partitions * (size_t)p->n);
		}
		struct alter_partition_reassignments_request_reassignable_partition *rp = &t->partitions[t->partitions_count++];
		alter_partition_reassignments_request_reassignable_partition_init(rp);
		rp->partition_index = m->partition;
		if (cancel) {
			rp->replicas = NULL;
			rp->replicas_count = -1;
		} else {
			rp->replicas = m->replicas;
			rp->replicas_count = m->n;
		}
	}
	void *out = NULL;
	if (admin_call(ad, -1, API_ALTER_PARTITION_REASSIGNMENTS, 0, &req, a, &out) != 0) {
		admin_error(PROG, "AlterPartitionReassignments to the controller (broker %d) failed", ad->controller_id);
		return -1;
	}
	const struct alter_partition_reassignments_response *r = out;
	if (r->error_code) {
		admin_error(PROG, "AlterPartitionReassignments failed: %s", kafka_error_name(r->error_code));
		return -1;
	}
	int refused = 0;
	for (int t = 0; t < r->responses_count; t++)
		for (int k = 0; k < r->responses[t].partitions_count; k++)
			for (int i = 0; i < p->n; i++)
				if ((size_t)r->responses[t].name.len == strlen(p->m[i].topic) &&
				    !memcmp(r->responses[t].name.ptr, p->m[i].topic, (size_t)r->responses[t].name.len) &&
				    r->responses[t].partitions[k].partition_index == p->m[i].partition) {
					errors[i] = r->responses[t].partitions[k].error_code;
					if (errors[i]) {
						const struct kstr msg = r->responses[t].partitions[k].error_message;
						if (refused++ == 0)
							fprintf(stderr, "%s: Error %s partition(s):", PROG, cancel ? "cancelling" : "reassigning");
						fprintf(stderr, "%s %s-%d: %s%s%.*s", refused > 1 ? ";" : "", p->m[i].topic,
							p->m[i].partition, kafka_error_name(errors[i]), msg.ptr && msg.len > 0 ? ": " : "",
							msg.ptr && msg.len > 0 ? msg.len : 0, msg.ptr ? msg.ptr : "");
					}
				}
	if (refused)
		fputc('\n', stderr);
	return refused;
}

static bool want_all(const struct move *m) { (void)m; return true; }
static bool want_ongoing(const struct move *m) { return m->ongoing; }

static int do_execute(struct admin *ad, struct plan *p, int64_t throttle, bool additional, int32_t timeout_ms,
		      struct arena *a)
{
	const struct list_partition_reassignments_response *all = NULL;
	if (load_ongoing(ad, NULL, a, &all) != 0)
		return 1;
	if (all->topics_count > 0 && !additional) {
		admin_error(PROG, "Cannot execute because there is an existing partition assignment.  Use --additional to "
				  "override this and create a new partition assignment in addition to the existing one. The "
				  "--additional flag can also be used to change the throttle by resubmitting the current "
				  "reassignment.");
		return 1;
	}
	for (int i = 0; i < p->n; i++)
		for (int k = 0; k < p->m[i].n; k++) {
			bool known = false;
			for (int b = 0; b < ad->n_nodes; b++)
				known |= ad->nodes[b].id == p->m[i].replicas[k];
			if (!known) {
				admin_error(PROG, "Unknown broker id %d in the plan of %s-%d", p->m[i].replicas[k], p->m[i].topic,
					    p->m[i].partition);
				return 1;
			}
		}
	if (load_current(ad, p, a, true) != 0)
		return 1;
	printf("Current partition replica assignment\n\n");
	print_json(p, true);
	printf("\nSave this to use as the --reassignment-json-file option during rollback\n");
	fflush(stdout);
	if (throttle >= 0) {
		printf("Warning: You must run --verify periodically, until the reassignment completes, to ensure the "
		       "throttle is removed.\n");
		fflush(stdout);
		if (set_throttles(ad, p, throttle, a) != 0)
			return 1;
		printf("The inter-broker throttle limit was set to %lld B/s\n", (long long)throttle);
	}
	int16_t *errors = arena_alloc(a, sizeof *errors * (size_t)p->n);
	int refused = alter(ad, p, false, want_all, timeout_ms, a, errors);
	if (refused < 0)
		return 1;
	if (refused)
		return 1;
	printf("Successfully started partition reassignment%s for ", p->n == 1 ? "" : "s");
	print_tp_list(p, want_all);
	printf("\n");
	return 0;
}

static int do_verify(struct admin *ad, struct plan *p, bool preserve, struct arena *a)
{
	const struct list_partition_reassignments_response *all = NULL;
	if (load_current(ad, p, a, false) != 0 || load_ongoing(ad, p, a, &all) != 0)
		return 1;
	printf("Status of partition reassignment:\n");
	/* As Kafka: the throttles come off only when no reassignment at all is in progress. */
	bool done = all->topics_count == 0;
	for (int i = 0; i < p->n; i++) {
		const struct move *m = &p->m[i];
		if (m->ongoing) {
			printf("Reassignment of partition %s-%d is still in progress.\n", m->topic, m->partition);
		} else if (same_seq(m)) {
			printf("Reassignment of partition %s-%d is completed.\n", m->topic, m->partition);
		} else {
			printf("There is no active reassignment of partition %s-%d, but replica set is ", m->topic, m->partition);
			print_ids(stdout, m->cur, m->n_cur);
			printf(" rather than ");
			print_ids(stdout, m->replicas, m->n);
			printf(".\n");
		}
	}
	printf("\n"); /* Kafka prints the (empty) log-dir move states here */
	fflush(stdout);
	if (done && !preserve && clear_throttles(ad, p, a) != 0)
		return 1;
	return 0;
}

static int do_cancel(struct admin *ad, struct plan *p, bool preserve, int32_t timeout_ms, struct arena *a)
{
	if (load_ongoing(ad, p, a, NULL) != 0)
		return 1;
	int ongoing = 0;
	for (int i = 0; i < p->n; i++)
		ongoing += p->m[i].ongoing;
	int status = 0;
	if (ongoing == 0) {
		printf("None of the specified partition reassignments are active.\n");
	} else {
		int16_t *errors = arena_alloc(a, sizeof *errors * (size_t)p->n);
		int refused = alter(ad, p, true, want_ongoing, timeout_ms, a, errors);
		if (refused < 0)
			return 1;
		for (int i = 0; i < p->n; i++)
			p->m[i].ongoing = p->m[i].ongoing && errors[i] == KERR_NONE;
		if (ongoing - refused > 0) {
			printf("Successfully cancelled partition reassignment%s for: ", ongoing - refused == 1 ? "" : "s");
			print_tp_list(p, want_ongoing);
			printf("\n");
		}
		if (refused)
			status = 1;
	}
	printf("None of the specified partition moves are active.\n");
	fflush(stdout);
	if (!preserve && load_current(ad, p, a, false) == 0 && clear_throttles(ad, p, a) != 0)
		status = 1;
	return status;
}

static int do_list(struct admin *ad, struct arena *a)
{
	const struct list_partition_reassignments_response *r = NULL;
	if (load_ongoing(ad, NULL, a, &r) != 0)
		return 1;
	if (r->topics_count == 0) {
		printf("No partition reassignments found.\n");
		return 0;
	}
	printf("Current partition reassignments:\n");
	for (int t = 0; t < r->topics_count; t++)
		for (int k = 0; k < r->topics[t].partitions_count; k++) {
			const struct list_partition_reassignments_response_ongoing_partition_reassignment *pr =
				&r->topics[t].partitions[k];
			printf("%.*s-%d: replicas: ", r->topics[t].name.len, r->topics[t].name.ptr, pr->partition_index);
			print_ids(stdout, pr->replicas, pr->replicas_count);
			printf(".");
			if (pr->adding_replicas_count > 0) {
				printf(" adding: ");
				print_ids(stdout, pr->adding_replicas, pr->adding_replicas_count);
				printf(".");
			}
			if (pr->removing_replicas_count > 0) {
				printf(" removing: ");
				print_ids(stdout, pr->removing_replicas, pr->removing_replicas_count);
				printf(".");
			}
			printf("\n");
		}
	return 0;
}

/* Kafka's AdminUtils.assignReplicasToBrokers without racks: replica j of partition p goes to the broker
 * (start + p) + shifted offset, the shift moving every full round so followers spread. */
static void assign(const int32_t *brokers, int nb, int rf, int partition, int start, int shift0, int32_t *out)
{
	int shift = shift0 + partition / nb;
	int first = (start + partition) % nb;
	out[0] = brokers[first];
	for (int j = 0; j < rf - 1; j++) {
		int s = 1 + (shift + j) % (nb - 1);
		out[j + 1] = brokers[(first + s) % nb];
	}
}

static int do_generate(struct admin *ad, const char *topics_file, const char *broker_list, struct arena *a)
{
	int32_t brokers[MAX_BROKERS];
	int nb = admin_parse_int_list(broker_list, brokers, MAX_BROKERS, false);
	if (nb <= 0) {
		admin_error(PROG, "bad --broker-list '%s'", broker_list);
		return 1;
	}
	for (int i = 0; i < nb; i++)
		for (int k = 0; k < i; k++)
			if (brokers[k] == brokers[i]) {
				admin_error(PROG, "Duplicate broker id %d in --broker-list", brokers[i]);
				return 1;
			}
	const struct json *j = admin_read_json(PROG, topics_file, a);
	if (!j)
		return 1;
	const struct json *ts = json_get(j, "topics");
	if (!ts || ts->type != JSON_ARRAY || ts->n == 0) {
		admin_error(PROG, "the topics-to-move JSON file needs a non-empty \"topics\" array");
		return 1;
	}
	const char **names = arena_alloc(a, sizeof *names * ts->n);
	for (size_t i = 0; i < ts->n; i++) {
		names[i] = ts->items[i]->type == JSON_OBJECT ? json_get_string(ts->items[i], "topic") : NULL;
		if (!names[i]) {
			admin_error(PROG, "topic entry %zu of the topics-to-move JSON file has no \"topic\"", i);
			return 1;
		}
	}
	const struct metadata_response *md = admin_metadata(ad, names, (int)ts->n, a);
	if (!md)
		return 1;
	for (int i = 0; i < nb; i++) {
		bool known = false;
		for (int k = 0; k < ad->n_nodes; k++)
			known |= ad->nodes[k].id == brokers[i];
		if (!known) {
			admin_error(PROG, "Unknown broker id %d in --broker-list", brokers[i]);
			return 1;
		}
	}
	struct plan cur = { 0 }, prop = { 0 };
	int total = 0;
	for (size_t i = 0; i < ts->n; i++) {
		const struct metadata_response_metadata_response_topic *t = admin_md_topic(md, names[i]);
		if (!t) {
			admin_error(PROG, "Topic %s not found", names[i]);
			return 1;
		}
		total += t->partitions_count;
	}
	cur.m = arena_alloc(a, sizeof *cur.m * (size_t)(total ? total : 1));
	prop.m = arena_alloc(a, sizeof *prop.m * (size_t)(total ? total : 1));
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (size_t i = 0; i < ts->n; i++) {
		const struct metadata_response_metadata_response_topic *t = admin_md_topic(md, names[i]);
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			dup |= !strcmp(names[k], names[i]);
		if (dup)
			continue;
		int rf = t->partitions_count ? t->partitions[0].replica_nodes_count : 0;
		if (rf > nb) {
			admin_error(PROG, "Replication factor: %d larger than available brokers: %d.", rf, nb);
			return 1;
		}
		int start = rand() % nb, shift = rand() % nb;
		for (int32_t q = 0; q < t->partitions_count; q++) {
			const struct metadata_response_metadata_response_partition *pp = &t->partitions[q];
			struct move *c = &cur.m[cur.n++], *pr = &prop.m[prop.n++];
			memset(c, 0, sizeof *c);
			memset(pr, 0, sizeof *pr);
			c->topic = pr->topic = names[i];
			c->partition = pr->partition = pp->partition_index;
			c->n_cur = pp->replica_nodes_count < MAX_REPLICAS ? pp->replica_nodes_count : MAX_REPLICAS;
			memcpy(c->cur, pp->replica_nodes, sizeof *c->cur * (size_t)c->n_cur);
			pr->n = rf;
			assign(brokers, nb, rf, pp->partition_index, start, shift, pr->replicas);
		}
	}
	qsort(cur.m, (size_t)cur.n, sizeof *cur.m, move_cmp);
	qsort(prop.m, (size_t)prop.n, sizeof *prop.m, move_cmp);
	printf("Current partition replica assignment\n");
	print_json(&cur, true);
	printf("\nProposed partition reassignment configuration\n");
	print_json(&prop, false);
	return 0;
}

int cmd_reassign_partitions(int argc, char **argv)
{
	enum { O_BOOT = 256, O_GEN, O_EXEC, O_VERIFY, O_CANCEL, O_LIST, O_PLAN, O_TOPICS, O_BROKERS, O_THROTTLE,
	       O_ADDITIONAL, O_PRESERVE, O_TIMEOUT, O_DISABLE_RACK, O_HELP };
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, O_BOOT },
		{ "generate", no_argument, NULL, O_GEN },
		{ "execute", no_argument, NULL, O_EXEC },
		{ "verify", no_argument, NULL, O_VERIFY },
		{ "cancel", no_argument, NULL, O_CANCEL },
		{ "list", no_argument, NULL, O_LIST },
		{ "reassignment-json-file", required_argument, NULL, O_PLAN },
		{ "topics-to-move-json-file", required_argument, NULL, O_TOPICS },
		{ "broker-list", required_argument, NULL, O_BROKERS },
		{ "throttle", required_argument, NULL, O_THROTTLE },
		{ "additional", no_argument, NULL, O_ADDITIONAL },
		{ "preserve-throttles", no_argument, NULL, O_PRESERVE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "disable-rack-aware", no_argument, NULL, O_DISABLE_RACK },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *bootstrap = NULL, *plan_file = NULL, *topics_file = NULL, *broker_list = NULL;
	int action = 0, n_actions = 0;
	int64_t throttle = -1, timeout = 10000;
	bool additional = false, preserve = false;
	optind = 2;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_BOOT: bootstrap = optarg; break;
		case O_GEN: case O_EXEC: case O_VERIFY: case O_CANCEL: case O_LIST:
			n_actions += action != ch;
			action = ch;
			break;
		case O_PLAN: plan_file = optarg; break;
		case O_TOPICS: topics_file = optarg; break;
		case O_BROKERS: broker_list = optarg; break;
		case O_THROTTLE:
			if (!admin_parse_i64(optarg, &throttle) || throttle < 0) {
				admin_error(PROG, "bad --throttle '%s': bytes per second", optarg);
				return 1;
			}
			break;
		case O_TIMEOUT:
			if (!admin_parse_i64(optarg, &timeout) || timeout < 0 || timeout > INT32_MAX) {
				admin_error(PROG, "bad --timeout '%s'", optarg);
				return 1;
			}
			break;
		case O_ADDITIONAL: additional = true; break;
		case O_PRESERVE: preserve = true; break;
		case O_DISABLE_RACK: break; /* samsa's --generate never looks at racks */
		case O_HELP: usage(stdout); return 0;
		default: return admin_bad_option(PROG, argv);
		}
	}
	if (optind != argc) {
		admin_error(PROG, "unexpected argument '%s' (see %s --help)", argv[optind], PROG);
		return 1;
	}
	if (!bootstrap) {
		admin_error(PROG, "--bootstrap-server is required (see %s --help)", PROG);
		return 1;
	}
	if (n_actions != 1) {
		admin_error(PROG, "Command must include exactly one action: --generate, --execute, --verify, --cancel, --list");
		return 1;
	}
	if (action == O_GEN && (!topics_file || !broker_list)) {
		admin_error(PROG, "--generate needs --topics-to-move-json-file and --broker-list");
		return 1;
	}
	if ((action == O_EXEC || action == O_VERIFY || action == O_CANCEL) && !plan_file) {
		admin_error(PROG, "Missing required argument \"[reassignment-json-file]\"");
		return 1;
	}
	if (throttle >= 0 && action != O_EXEC) {
		admin_error(PROG, "--throttle goes only with --execute");
		return 1;
	}
	struct arena a;
	arena_init(&a);
	struct plan p = { 0 };
	int status = 1;
	if (plan_file && action != O_GEN && action != O_LIST) {
		const struct json *j = admin_read_json(PROG, plan_file, &a);
		if (!j || parse_plan(j, &p) != 0)
			goto out;
	}
	struct admin ad;
	if (admin_open(&ad, PROG, bootstrap) != 0)
		goto out;
	switch (action) {
	case O_GEN: status = do_generate(&ad, topics_file, broker_list, &a); break;
	case O_EXEC: status = do_execute(&ad, &p, throttle, additional, (int32_t)timeout, &a); break;
	case O_VERIFY: status = do_verify(&ad, &p, preserve, &a); break;
	case O_CANCEL: status = do_cancel(&ad, &p, preserve, (int32_t)timeout, &a); break;
	default: status = do_list(&ad, &a); break;
	}
	admin_close(&ad);
out:
	free(p.m);
	arena_free(&a);
	return status;
}
