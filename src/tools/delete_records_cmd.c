/*
 * samsa delete-records: move partitions' log start offsets forward, with the
 * flags and output of Kafka's kafka-delete-records.sh (DeleteRecordsCommand):
 * --bootstrap-server and --offset-json-file holding
 * {"partitions":[{"topic":"t","partition":0,"offset":N}],"version":1}
 * (offset -1: up to the high watermark).  One DeleteRecords per partition
 * leader; "partition: t-0\tlow_watermark: N" or "partition: t-0\terror: E"
 * per partition; the exit status is 1 when any partition failed.
 */
#include "tools/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/xalloc.h"
#include "tools/admin_client.h"

#define PROG "samsa delete-records"

struct target {
	const char *topic;
	int32_t partition;
	int64_t offset;
	int32_t leader;
	int16_t error; /* -1: not answered yet */
	int64_t low;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: samsa delete-records --bootstrap-server HOST:PORT[,HOST:PORT...] --offset-json-file FILE\n"
		   "FILE: {\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"offset\":N}],\"version\":1}\n"
		   "deletes the records below each offset (-1: up to the high watermark), like kafka-delete-records.sh\n");
}

/* The file's partitions; the count, or -1 after one line. */
static int parse_file(const struct json *j, struct target **out)
{
	int64_t version = 1;
	if (json_get(j, "version") && (!json_get_int(j, "version", &version) || version != 1)) {
		admin_error(PROG, "unsupported version in the offset JSON file (only 1 is known)");
		return -1;
	}
	const struct json *ps = json_get(j, "partitions");
	if (!ps || ps->type != JSON_ARRAY) {
		admin_error(PROG, "the offset JSON file has no \"partitions\" array");
		return -1;
	}
	struct target *t = xcalloc(ps->n ? ps->n : 1, sizeof *t);
	for (size_t i = 0; i < ps->n; i++) {
		const struct json *p = ps->items[i];
		int64_t part, off;
		const char *topic = p->type == JSON_OBJECT ? json_get_string(p, "topic") : NULL;
		if (!topic || !json_get_int(p, "partition", &part) || !json_get_int(p, "offset", &off) || part < 0 ||
		    part > INT32_MAX || off < -1) {
			admin_error(PROG, "partition entry %zu of the offset JSON file needs \"topic\", \"partition\" and \"offset\"", i);
			free(t);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(t[k].topic, topic) && t[k].partition == part) {
				admin_error(PROG, "Offset json file contains duplicate topic partitions: %s-%lld", topic, (long long)part);
				free(t);
				return -1;
			}
		t[i] = (struct target){ topic, (int32_t)part, off, -1, -1, -1 };
	}
	*out = t;
	return (int)ps->n;
}

static void delete_at(struct admin *ad, struct target *t, int n, int i)
{
	int32_t leader = t[i].leader;
	struct arena a;
	arena_init(&a);
	struct delete_records_request req;
	delete_records_request_init(&req);
	req.timeout_ms = 30000;
	req.topics = arena_alloc(&a, sizeof *req.topics * (size_t)n);
	for (int j = i; j < n; j++) {
		if (t[j].error != -1 || t[j].leader != leader)
			continue;
		struct delete_records_request_delete_records_topic *rt = NULL;
		for (int k = 0; k < req.topics_count && !rt; k++)
			if (!strcmp(req.topics[k].name.ptr, t[j].topic))
				rt = &req.topics[k];
		if (!rt) {
			rt = &req.topics[req.topics_count++];
			delete_records_request_delete_records_topic_init(rt);
			rt->name = kstr_c(t[j].topic);
			rt->partitions = arena_alloc(&a, sizeof *rt->partitions * (size_t)n);
		}
		struct delete_records_request_delete_records_partition *p = &rt->partitions[rt->partitions_count++];
		delete_records_request_delete_records_partition_init(p);
		p->partition_index = t[j].partition;
		p->offset = t[j].offset;
	}
	void *out = NULL;
	int rc = admin_call(ad, leader, API_DELETE_RECORDS, 1, &req, &a, &out);
	for (int j = i; j < n; j++) {
		if (t[j].error != -1 || t[j].leader != leader)
			continue;
		t[j].error = rc ? KERR_NETWORK_EXCEPTION : KERR_UNKNOWN_SERVER_ERROR;
		if (rc)
			continue;
		const struct delete_records_response *r = out;
		for (int k = 0; k < r->topics_count; k++) {
			if ((size_t)r->topics[k].name.len != strlen(t[j].topic) ||
			    memcmp(r->topics[k].name.ptr, t[j].topic, (size_t)r->topics[k].name.len))
				continue;
			for (int q = 0; q < r->topics[k].partitions_count; q++)
				if (r->topics[k].partitions[q].partition_index == t[j].partition) {
					t[j].error = r->topics[k].partitions[q].error_code;
					t[j].low = r->topics[k].partitions[q].low_watermark;
				}
		}
	}
	arena_free(&a);
}

int cmd_delete_records(int argc, char **argv)
{
	enum { O_BOOT = 256, O_FILE, O_HELP };
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, O_BOOT },
		{ "offset-json-file", required_argument, NULL, O_FILE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *bootstrap = NULL, *file = NULL;
	optind = 2;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_BOOT: bootstrap = optarg; break;
		case O_FILE: file = optarg; break;
		case O_HELP: usage(stdout); return 0;
		default: return admin_bad_option(PROG, argv);
		}
	}
	if (optind != argc) {
		admin_error(PROG, "unexpected argument '%s' (see %s --help)", argv[optind], PROG);
		return 1;
	}
	if (!bootstrap || !file) {
		admin_error(PROG, "--bootstrap-server and --offset-json-file are required (see %s --help)", PROG);
		return 1;
	}
	struct arena a;
	arena_init(&a);
	int status = 1;
	struct target *t = NULL;
	const struct json *j = admin_read_json(PROG, file, &a);
	int n = j ? parse_file(j, &t) : -1;
	if (n < 0) {
		arena_free(&a);
		return 1;
	}
	struct admin ad;
	if (admin_open(&ad, PROG, bootstrap) != 0)
		goto out;
	const char **names = arena_alloc(&a, sizeof *names * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++)
		names[i] = t[i].topic;
	const struct metadata_response *md = admin_metadata(&ad, names, n, &a);
	if (!md)
		goto out_close;
	for (int i = 0; i < n; i++) {
		const struct metadata_response_metadata_response_partition *p =
			admin_md_partition(admin_md_topic(md, t[i].topic), t[i].partition);
		if (!p)
			t[i].error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		else if (p->leader_id < 0)
			t[i].error = KERR_LEADER_NOT_AVAILABLE;
		else
			t[i].leader = p->leader_id;
	}
	printf("Executing records delete operation\n");
	for (int i = 0; i < n; i++)
		if (t[i].error == -1)
			delete_at(&ad, t, n, i);
	printf("Records delete operation completed:\n");
	status = 0;
	for (int i = 0; i < n; i++) {
		if (t[i].error == KERR_NONE) {
			printf("partition: %s-%d\tlow_watermark: %lld\n", t[i].topic, t[i].partition, (long long)t[i].low);
		} else {
			printf("partition: %s-%d\terror: %s\n", t[i].topic, t[i].partition, kafka_error_name(t[i].error));
			status = 1;
		}
	}
	fflush(stdout);
	if (status)
		admin_error(PROG, "records of some partitions could not be deleted");
out_close:
	admin_close(&ad);
out:
	free(t);
	arena_free(&a);
	return status;
}
