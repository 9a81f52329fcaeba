/*
 * samsa get-offsets: the offsets of partitions at a time, with the flags and
 * the output of Kafka's kafka-get-offsets.sh (GetOffsetShell):
 * --bootstrap-server, --topic (a regular expression), --partitions
 * ("0,2-4"), --topic-partitions ("t:0,u:1-2,v", each part a topic regex with
 * optional partitions), --time (-1 or latest, -2 or earliest, -3 or
 * max-timestamp, or a timestamp in ms), --exclude-internal-topics.  One
 * ListOffsets per partition leader; one line "topic:partition:offset" per
 * partition, sorted, the offset left empty when the broker has none.
 */
#include "tools/commands.h"

#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/xalloc.h"
#include "tools/admin_client.h"

#define PROG "samsa get-offsets"
#define MAX_PARTS 4096
#define MAX_FILTERS 64

struct filter {
	regex_t topic;
	bool any_topic;
	int32_t parts[MAX_PARTS];
	int n_parts; /* 0: every partition */
};

struct row {
	char *topic;
	int32_t partition;
	int32_t leader;
	int16_t error;
	int64_t offset;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: samsa get-offsets --bootstrap-server HOST:PORT[,HOST:PORT...]\n"
		   "         [--topic REGEX [--partitions P,P-P...] | --topic-partitions T[:P,P-P],...]\n"
		   "         [--time -1|latest|-2|earliest|-3|max-timestamp|TIMESTAMP_MS] [--exclude-internal-topics]\n"
		   "prints topic:partition:offset for each partition, like kafka-get-offsets.sh\n");
}

static int compile_topic(struct filter *f, const char *re)
{
	if (!re || !*re) {
		f->any_topic = true;
		return 0;
	}
	char *anchored = xasprintf("^(%s)$", re);
	int rc = regcomp(&f->topic, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc) {
		admin_error(PROG, "bad topic regular expression '%s'", re);
		return -1;
	}
	return 0;
}

static bool filter_match(const struct filter *f, const char *topic, int32_t p)
{
	if (!f->any_topic && regexec(&f->topic, topic, 0, NULL, 0) != 0)
		return false;
	if (f->n_parts == 0)
		return true;
	for (int i = 0; i < f->n_parts; i++)
		if (f->parts[i] == p)
			return true;
	return false;
}

static int row_cmp(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	int c = strcmp(a->topic, b->topic);
	return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

static bool parse_time(const char *s, int64_t *t)
{
	if (!strcmp(s, "latest"))
		*t = -1;
	else if (!strcmp(s, "earliest"))
		*t = -2;
	else if (!strcmp(s, "max-timestamp"))
		*t = -3;
	else if (!admin_parse_i64(s, t) || *t < -3)
		return false;
	return true;
}

static void free_filters(struct filter *fs, int n)
{
	for (int i = 0; i < n; i++)
		if (!fs[i].any_topic)
			regfree(&fs[i].topic);
}

/* One ListOffsets to each leader for its rows; the answers go into the rows. */
static void list_offsets(struct admin *ad, struct row *rows, int n, int64_t ts)
{
	for (int i = 0; i < n; i++) {
		if (rows[i].error != -1)
			continue;
		int32_t leader = rows[i].leader;
		if (leader < 0) {
			rows[i].error = KERR_LEADER_NOT_AVAILABLE;
			continue;
		}
		struct arena a;
		arena_init(&a);
		struct list_offsets_request req;
		list_offsets_request_init(&req);
		req.replica_id = -1;
		req.topics = arena_alloc(&a, sizeof *req.topics * (size_t)n);
		for (int j = i; j < n; j++) {
			if (rows[j].error != -1 || rows[j].leader != leader)
				continue;
			struct list_offsets_request_list_offsets_topic *t = NULL;
			for (int k = 0; k < req.topics_count && !t; k++)
				if (!strcmp(req.topics[k].name.ptr, rows[j].topic))
					t = &req.topics[k];
			if (!t) {
				t = &req.topics[req.topics_count++];
				list_offsets_request_list_offsets_topic_init(t);
				t->name = kstr_c(rows[j].topic);
				t->partitions = arena_alloc(&a, sizeof *t->partitions * (size_t)n);
			}
			struct list_offsets_request_list_offsets_partition *p = &t->partitions[t->partitions_count++];
			list_offsets_request_list_offsets_partition_init(p);
			p->partition_index = rows[j].partition;
			p->current_leader_epoch = -1;
			p->timestamp = ts;
		}
		void *out = NULL;
		int rc = admin_call(ad, leader, API_LIST_OFFSETS, 7, &req, &a, &out);
		for (int j = i; j < n; j++) {
			if (rows[j].error != -1 || rows[j].leader != leader)
				continue;
			rows[j].error = KERR_UNKNOWN_SERVER_ERROR;
			if (rc != 0) {
				rows[j].error = KERR_NETWORK_EXCEPTION;
				continue;
			}
			const struct list_offsets_response *r = out;
			for (int k = 0; k < r->topics_count; k++) {
				const struct list_offsets_response_list_offsets_topic_response *t = &r->topics[k];
				if ((size_t)t->name.len != strlen(rows[j].topic) ||
				    memcmp(t->name.ptr, rows[j].topic, (size_t)t->name.len))
					continue;
				for (int q = 0; q < t->partitions_count; q++)
					if (t->partitions[q].partition_index == rows[j].partition) {
						rows[j].error = t->partitions[q].error_code;
						rows[j].offset = t->partitions[q].offset;
					}
			}
		}
		arena_free(&a);
	}
}

int cmd_get_offsets(int argc, char **argv)
{
	enum { O_BOOT = 256, O_TOPIC, O_PARTS, O_TPS, O_TIME, O_EXCL, O_HELP };
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, O_BOOT },
		{ "broker-list", required_argument, NULL, O_BOOT },
		{ "topic", required_argument, NULL, O_TOPIC },
		{ "partitions", required_argument, NULL, O_PARTS },
		{ "topic-partitions", required_argument, NULL, O_TPS },
		{ "time", required_argument, NULL, O_TIME },
		{ "exclude-internal-topics", no_argument, NULL, O_EXCL },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *bootstrap = NULL, *topic = NULL, *parts = NULL, *tps = NULL;
	int64_t ts = -1;
	bool exclude_internal = false;
	optind = 2;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_BOOT: bootstrap = optarg; break;
		case O_TOPIC: topic = optarg; break;
		case O_PARTS: parts = optarg; break;
		case O_TPS: tps = optarg; break;
		case O_TIME:
			if (!parse_time(optarg, &ts)) {
				admin_error(PROG, "bad --time '%s': -1, -2, -3, latest, earliest, max-timestamp or a timestamp in ms", optarg);
				return 1;
			}
			break;
		case O_EXCL: exclude_internal = true; break;
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
	if (tps && (topic || parts)) {
		admin_error(PROG, "--topic-partitions cannot be used with --topic or --partitions");
		return 1;
	}
	struct filter *fs = xcalloc(MAX_FILTERS, sizeof *fs);
	int n_fs = 0, status = 1;
	if (tps) {
		char *copy = xstrdup(tps), *save = NULL;
		/* "t:0-2,u:1,v": a part without ':' after one with it starts a new topic. */
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			char *colon = strrchr(t, ':');
			bool is_part = !colon && n_fs > 0 && fs[n_fs - 1].n_parts > 0 && strspn(t, "0123456789-") == strlen(t);
			if (is_part) {
				int k = admin_parse_int_list(t, fs[n_fs - 1].parts + fs[n_fs - 1].n_parts,
							     MAX_PARTS - fs[n_fs - 1].n_parts, true);
				if (k < 0)
					goto bad_tps;
				fs[n_fs - 1].n_parts += k;
				continue;
			}
			if (n_fs == MAX_FILTERS)
				goto bad_tps;
			struct filter *f = &fs[n_fs];
			if (colon) {
				*colon = 0;
				if (colon[1] && (f->n_parts = admin_parse_int_list(colon + 1, f->parts, MAX_PARTS, true)) < 0)
					goto bad_tps;
			}
			if (compile_topic(f, t) != 0) {
				free(copy);
				goto out;
			}
			n_fs++;
		}
		free(copy);
		if (0) {
bad_tps:
			free(copy);
			admin_error(PROG, "bad --topic-partitions '%s': expected TOPIC[:P,P-P],...", tps);
			goto out;
		}
	} else {
		if (compile_topic(&fs[0], topic) != 0)
			goto out;
		n_fs = 1;
		if (parts && (fs[0].n_parts = admin_parse_int_list(parts, fs[0].parts, MAX_PARTS, true)) <= 0) {
			admin_error(PROG, "bad --partitions '%s': expected P,P-P,...", parts);
			goto out;
		}
	}

	struct admin ad;
	if (admin_open(&ad, PROG, bootstrap) != 0)
		goto out;
	struct arena a;
	arena_init(&a);
	const struct metadata_response *md = admin_metadata(&ad, NULL, -1, &a);
	struct row *rows = NULL;
	int n = 0;
	if (md) {
		for (int32_t i = 0; i < md->topics_count; i++) {
			const struct metadata_response_metadata_response_topic *t = &md->topics[i];
			if (t->error_code || (exclude_internal && t->is_internal))
				continue;
			char *name = admin_kstr(&a, t->name);
			for (int32_t p = 0; p < t->partitions_count; p++) {
				bool want = false;
				for (int k = 0; k < n_fs && !want; k++)
					want = filter_match(&fs[k], name, t->partitions[p].partition_index);
				if (!want)
					continue;
				rows = xrealloc(rows, sizeof *rows * (size_t)(n + 1));
				rows[n++] = (struct row){ name, t->partitions[p].partition_index, t->partitions[p].leader_id,
							  -1, -1 };
			}
		}
		if (n)
			qsort(rows, (size_t)n, sizeof *rows, row_cmp);
		if (n == 0 && (topic || tps)) {
			admin_error(PROG, "no partition matches %s", tps ? tps : topic);
		} else {
			list_offsets(&ad, rows, n, ts);
			status = 0;
			for (int i = 0; i < n; i++) {
				if (rows[i].error == KERR_NONE)
					rows[i].offset >= 0 ? printf("%s:%d:%lld\n", rows[i].topic, rows[i].partition, (long long)rows[i].offset)
							    : printf("%s:%d:\n", rows[i].topic, rows[i].partition);
				else {
					fprintf(stderr, "Error for %s-%d: %s\n", rows[i].topic, rows[i].partition,
						kafka_error_name(rows[i].error));
					status = 1;
				}
			}
		}
	}
	free(rows);
	arena_free(&a);
	admin_close(&ad);
out:
	free_filters(fs, n_fs);
	free(fs);
	return status;
}
