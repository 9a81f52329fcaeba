/*
 * samsa leader-election: preferred or unclean leader election, with the flags
 * and output of Kafka's kafka-leader-election.sh (LeaderElectionCommand):
 * --bootstrap-server, --election-type PREFERRED|UNCLEAN, and one of
 * --all-topic-partitions, --topic T --partition P, or --path-to-json-file F
 * holding {"partitions":[{"topic":"t","partition":0}]}.  One ElectLeaders to
 * the controller.  Partitions that needed no election are reported as
 * "Valid replica already elected"; any failure makes the exit status 1.
 */
#include "tools/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "samsa/util/xalloc.h"
#include "tools/admin_client.h"

#define PROG "samsa leader-election"

static void usage(FILE *f)
{
	fprintf(f, "usage: samsa leader-election --bootstrap-server HOST:PORT[,HOST:PORT...]\n"
		   "         --election-type PREFERRED|UNCLEAN\n"
		   "         (--all-topic-partitions | --topic T --partition P | --path-to-json-file FILE)\n"
		   "FILE: {\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}; like kafka-leader-election.sh\n");
}

struct tp {
	const char *topic;
	int32_t partition;
};

static int tp_cmp(const void *x, const void *y)
{
	const struct tp *a = x, *b = y;
	int c = strcmp(a->topic, b->topic);
	return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

static void print_tps(const char *prefix, struct tp *tps, int n)
{
	if (n == 0)
		return;
	qsort(tps, (size_t)n, sizeof *tps, tp_cmp);
	printf("%s", prefix);
	for (int i = 0; i < n; i++)
		printf("%s%s-%d", i ? ", " : "", tps[i].topic, tps[i].partition);
	printf("\n");
}

static int parse_file(const struct json *j, struct tp **out)
{
	const struct json *ps = json_get(j, "partitions");
	if (!ps || ps->type != JSON_ARRAY) {
		admin_error(PROG, "the JSON file has no \"partitions\" array");
		return -1;
	}
	if (ps->n == 0) {
		admin_error(PROG, "the JSON file lists no partitions");
		return -1;
	}
	struct tp *t = xcalloc(ps->n, sizeof *t);
	for (size_t i = 0; i < ps->n; i++) {
		const struct json *p = ps->items[i];
		int64_t part;
		const char *topic = p->type == JSON_OBJECT ? json_get_string(p, "topic") : NULL;
		if (!topic || !json_get_int(p, "partition", &part) || part < 0 || part > INT32_MAX) {
			admin_error(PROG, "partition entry %zu of the JSON file needs \"topic\" and \"partition\"", i);
			free(t);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(t[k].topic, topic) && t[k].partition == part) {
				admin_error(PROG, "Replica election data contains duplicate partitions: %s-%lld", topic,
					    (long long)part);
				free(t);
				return -1;
			}
		t[i] = (struct tp){ topic, (int32_t)part };
	}
	*out = t;
	return (int)ps->n;
}

int cmd_leader_election(int argc, char **argv)
{
	enum { O_BOOT = 256, O_TYPE, O_ALL, O_TOPIC, O_PART, O_FILE, O_HELP };
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, O_BOOT },
		{ "election-type", required_argument, NULL, O_TYPE },
		{ "all-topic-partitions", no_argument, NULL, O_ALL },
		{ "topic", required_argument, NULL, O_TOPIC },
		{ "partition", required_argument, NULL, O_PART },
		{ "path-to-json-file", required_argument, NULL, O_FILE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *bootstrap = NULL, *type = NULL, *topic = NULL, *file = NULL;
	int64_t partition = -1;
	bool all = false;
	optind = 2;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_BOOT: bootstrap = optarg; break;
		case O_TYPE: type = optarg; break;
		case O_ALL: all = true; break;
		case O_TOPIC: topic = optarg; break;
		case O_PART:
			if (!admin_parse_i64(optarg, &partition) || partition < 0 || partition > INT32_MAX) {
				admin_error(PROG, "bad --partition '%s'", optarg);
				return 1;
			}
			break;
		case O_FILE: file = optarg; break;
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
	if (!type) {
		admin_error(PROG, "Missing required option(s): election-type");
		return 1;
	}
	int8_t etype;
	if (!strcasecmp(type, "preferred"))
		etype = 0;
	else if (!strcasecmp(type, "unclean"))
		etype = 1;
	else {
		admin_error(PROG, "--election-type must be PREFERRED or UNCLEAN, not '%s'", type);
		return 1;
	}
	const char *tname = etype ? "UNCLEAN" : "PREFERRED";
	if ((all ? 1 : 0) + (topic ? 1 : 0) + (file ? 1 : 0) != 1) {
		admin_error(PROG, "One and only one of the following options is required: all-topic-partitions, topic, "
				  "path-to-json-file");
		return 1;
	}
	if (topic && partition < 0) {
		admin_error(PROG, "Missing required option(s): partition");
		return 1;
	}
	if (!topic && partition >= 0) {
		admin_error(PROG, "--partition requires --topic");
		return 1;
	}

	struct arena a;
	arena_init(&a);
	struct tp *tps = NULL;
	int n = 0, status = 1;
	if (file) {
		const struct json *j = admin_read_json(PROG, file, &a);
		if (!j || (n = parse_file(j, &tps)) < 0) {
			arena_free(&a);
			return 1;
		}
	} else if (topic) {
		tps = xcalloc(1, sizeof *tps);
		tps[0] = (struct tp){ topic, (int32_t)partition };
		n = 1;
	}
	struct admin ad;
	if (admin_open(&ad, PROG, bootstrap) != 0)
		goto out;
	struct elect_leaders_request req;
	elect_leaders_request_init(&req);
	req.election_type = etype;
	req.timeout_ms = 30000;
	if (all) {
		req.topic_partitions_count = -1;
	} else {
		req.topic_partitions = arena_alloc(&a, sizeof *req.topic_partitions * (size_t)n);
		for (int i = 0; i < n; i++) {
			struct elect_leaders_request_topic_partitions *t = NULL;
			for (int k = 0; k < req.topic_partitions_count && !t; k++)
				if (!strcmp(req.topic_partitions[k].topic.ptr, tps[i].topic))
					t = &req.topic_partitions[k];
			if (!t) {
				t = &req.topic_partitions[req.topic_partitions_count++];
				elect_leaders_request_topic_partitions_init(t);
				t->topic = kstr_c(tps[i].topic);
				t->partitions = arena_alloc(&a, sizeof *t->partitions * (size_t)n);
			}
			t->partitions[t->partitions_count++] = tps[i].partition;
		}
	}
	void *out = NULL;
	if (admin_call(&ad, -1, API_ELECT_LEADERS, 1, &req, &a, &out) != 0) {
		admin_error(PROG, "ElectLeaders request to the controller (broker %d) failed", ad.controller_id);
		goto out_close;
	}
	const struct elect_leaders_response *r = out;
	if (r->error_code) {
		admin_error(PROG, "ElectLeaders failed: %s", kafka_error_name(r->error_code));
		goto out_close;
	}
	int total = 0;
	for (int i = 0; i < r->replica_election_results_count; i++)
		total += r->replica_election_results[i].partition_result_count;
	struct tp *ok = xcalloc((size_t)total + 1, sizeof *ok), *noop = xcalloc((size_t)total + 1, sizeof *noop);
	int n_ok = 0, n_noop = 0, n_failed = 0;
	for (int i = 0; i < r->replica_election_results_count; i++) {
		const struct elect_leaders_response_replica_election_result *t = &r->replica_election_results[i];
		char *name = admin_kstr(&a, t->topic);
		for (int k = 0; k < t->partition_result_count; k++) {
			const struct elect_leaders_response_partition_result *p = &t->partition_result[k];
			if (p->error_code == KERR_NONE)
				ok[n_ok++] = (struct tp){ name, p->partition_id };
			else if (p->error_code == KERR_ELECTION_NOT_NEEDED)
				noop[n_noop++] = (struct tp){ name, p->partition_id };
		}
	}
	char prefix[100];
	snprintf(prefix, sizeof prefix, "Successfully completed leader election (%s) for partitions ", tname);
	print_tps(prefix, ok, n_ok);
	print_tps("Valid replica already elected for partitions ", noop, n_noop);
	for (int i = 0; i < r->replica_election_results_count; i++) {
		const struct elect_leaders_response_replica_election_result *t = &r->replica_election_results[i];
		for (int k = 0; k < t->partition_result_count; k++) {
			const struct elect_leaders_response_partition_result *p = &t->partition_result[k];
			if (p->error_code == KERR_NONE || p->error_code == KERR_ELECTION_NOT_NEEDED)
				continue;
			n_failed++;
			printf("Error completing leader election (%s) for partition: %.*s-%d: %s%s%.*s\n", tname,
			       t->topic.len, t->topic.ptr, p->partition_id, kafka_error_name(p->error_code),
			       p->error_message.ptr && p->error_message.len > 0 ? ": " : "",
			       p->error_message.ptr && p->error_message.len > 0 ? p->error_message.len : 0,
			       p->error_message.ptr ? p->error_message.ptr : "");
		}
	}
	fflush(stdout);
	free(ok);
	free(noop);
	if (n_failed)
		admin_error(PROG, "%d replica(s) could not be elected", n_failed);
	else
		status = 0;
out_close:
	admin_close(&ad);
out:
	free(tps);
	arena_free(&a);
	return status;
}
