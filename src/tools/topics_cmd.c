/*
 * samsa topics: list, describe, create and delete topics, with the flags of
 * Kafka's kafka-topics.sh (--bootstrap-server, --list, --describe, --create,
 * --delete, --topic, --partitions, --replication-factor, --config).
 */
#include "tools/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/client.h"
#include "samsa/proto.h"
#include "samsa/util/uuid.h"

#define MAX_CONFIGS 64

struct topics_opts {
	const char *bootstrap;
	const char *topic;
	int action; /* 'l' list, 'd' describe, 'c' create, 'x' delete */
	int partitions;
	int replication_factor;
	const char *configs[MAX_CONFIGS];
	int n_configs;
};

static void print_ids(const int32_t *ids, int n)
{
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", ids[i]);
}

static int do_metadata(struct kclient *kc, const struct topics_opts *o, bool describe)
{
	struct arena a;
	arena_init(&a);
	struct metadata_request req;
	metadata_request_init(&req);
	struct metadata_request_metadata_request_topic one;
	if (o->topic) {
		metadata_request_metadata_request_topic_init(&one);
		one.name = kstr_c(o->topic);
		req.topics = &one;
		req.topics_count = 1;
	} else {
		req.topics_count = -1; /* all */
	}
	req.allow_auto_topic_creation = false;
	void *out = NULL;
	int status = 1;
	if (kclient_call(kc, API_METADATA, 12, &req, &a, &out) != 0) {
		fprintf(stderr, "samsa topics: Metadata request failed\n");
		goto done;
	}
	const struct metadata_response *md = out;
	status = 0;
	for (int32_t i = 0; i < md->topics_count; i++) {
		const struct metadata_response_metadata_response_topic *t = &md->topics[i];
		if (t->error_code) {
			fprintf(stderr, "Error for topic %.*s: %s\n", t->name.ptr ? t->name.len : 0,
				t->name.ptr ? t->name.ptr : "", kafka_error_name(t->error_code));
			status = 1;
			continue;
		}
		if (!describe) {
			printf("%.*s\n", t->name.len, t->name.ptr);
			continue;
		}
		char id[UUID_STR_LEN + 1];
		uuid_to_base64(t->topic_id, id);
		int rf = t->partitions_count > 0 ? t->partitions[0].replica_nodes_count : 0;
		printf("Topic: %.*s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\n", t->name.len, t->name.ptr,
		       id, t->partitions_count, rf);
		for (int32_t p = 0; p < t->partitions_count; p++) {
			const struct metadata_response_metadata_response_partition *pp = &t->partitions[p];
			printf("\tTopic: %.*s\tPartition: %d\tLeader: %d\tReplicas: ", t->name.len, t->name.ptr,
			       pp->partition_index, pp->leader_id);
			print_ids(pp->replica_nodes, pp->replica_nodes_count);
			printf("\tIsr: ");
			print_ids(pp->isr_nodes, pp->isr_nodes_count);
			printf("\n");
		}
	}
done:
	arena_free(&a);
	return status;
}

static int do_create(struct kclient *kc, const struct topics_opts *o)
{
	struct arena a;
	arena_init(&a);
	struct create_topics_request req;
	create_topics_request_init(&req);
	struct create_topics_request_creatable_topic t;
	create_topics_request_creatable_topic_init(&t);
	t.name = kstr_c(o->topic);
	t.num_partitions = o->partitions;
	t.replication_factor = (int16_t)o->replication_factor;
	t.configs = arena_alloc(&a, sizeof *t.configs * (size_t)(o->n_configs ? o->n_configs : 1));
	for (int i = 0; i < o->n_configs; i++) {
		const char *eq = strchr(o->configs[i], '=');
		if (!eq) {
			fprintf(stderr, "samsa topics: --config wants key=value, got '%s'\n", o->configs[i]);
			arena_free(&a);
			return 1;
		}
		create_topics_request_creatable_topic_config_init(&t.configs[i]);
		t.configs[i].name = (struct kstr){ o->configs[i], (int32_t)(eq - o->configs[i]) };
		t.configs[i].value = kstr_c(eq + 1);
	}
	t.configs_count = o->n_configs;
	req.topics = &t;
	req.topics_count = 1;
	req.timeout_ms = 30000;
	void *out = NULL;
	int status = 1;
	if (kclient_call(kc, API_CREATE_TOPICS, 7, &req, &a, &out) != 0) {
		fprintf(stderr, "samsa topics: CreateTopics request failed\n");
	} else {
		const struct create_topics_response *resp = out;
		const struct create_topics_response_creatable_topic_result *r = resp->topics_count > 0 ? &resp->topics[0] : NULL;
		if (r && r->error_code == 0) {
			printf("Created topic %s.\n", o->topic);
			status = 0;
		} else if (r) {
			fprintf(stderr, "Error while executing topic command : %s%s%.*s\n", kafka_error_name(r->error_code),
				r->error_message.ptr ? ": " : "", r->error_message.ptr ? r->error_message.len : 0,
				r->error_message.ptr ? r->error_message.ptr : "");
		}
	}
	arena_free(&a);
	return status;
}

static int do_delete(struct kclient *kc, const struct topics_opts *o)
{
	struct arena a;
	arena_init(&a);
	struct delete_topics_request req;
	delete_topics_request_init(&req);
	struct delete_topics_request_delete_topic_state t;
	delete_topics_request_delete_topic_state_init(&t);
	t.name = kstr_c(o->topic);
	req.topics = &t;
	req.topics_count = 1;
	req.timeout_ms = 30000;
	void *out = NULL;
	int status = 1;
	if (kclient_call(kc, API_DELETE_TOPICS, 6, &req, &a, &out) != 0) {
		fprintf(stderr, "samsa topics: DeleteTopics request failed\n");
	} else {
		const struct delete_topics_response *resp = out;
		int16_t err = resp->responses_count > 0 ? resp->responses[0].error_code : KERR_UNKNOWN_SERVER_ERROR;
		if (err == 0) {
			printf("Deleted topic %s.\n", o->topic);
			status = 0;
		} else {
			fprintf(stderr, "Error while executing topic command : %s\n", kafka_error_name(err));
		}
	}
	arena_free(&a);
	return status;
}

int cmd_topics(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, 'b' },
		{ "list", no_argument, NULL, 'l' },
		{ "describe", no_argument, NULL, 'd' },
		{ "create", no_argument, NULL, 'c' },
		{ "delete", no_argument, NULL, 'x' },
		{ "topic", required_argument, NULL, 't' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "replication-factor", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct topics_opts o = { .partitions = -1, .replication_factor = -1 };
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': o.bootstrap = optarg; break;
		case 'l': case 'd': case 'c': case 'x':
			if (o.action && o.action != ch) {
				fprintf(stderr, "samsa topics: give one of --list, --describe, --create, --delete\n");
				return 1;
			}
			o.action = ch;
			break;
		case 't': o.topic = optarg; break;
		case 'p': o.partitions = atoi(optarg); break;
		case 'r': o.replication_factor = atoi(optarg); break;
		case 'C':
			if (o.n_configs == MAX_CONFIGS) {
				fprintf(stderr, "samsa topics: too many --config\n");
				return 1;
			}
			o.configs[o.n_configs++] = optarg;
			break;
		default:
			return 1;
		}
	}
	if (!o.bootstrap || !o.action) {
		fprintf(stderr, "usage: samsa topics --bootstrap-server HOST:PORT (--list | --describe [--topic T] |\n"
				"       --create --topic T [--partitions N] [--replication-factor R] [--config k=v]... |\n"
				"       --delete --topic T)\n");
		return 1;
	}
	if ((o.action == 'c' || o.action == 'x') && !o.topic) {
		fprintf(stderr, "samsa topics: --topic is required\n");
		return 1;
	}
	struct kclient kc;
	if (kclient_connect(&kc, o.bootstrap, 30000) != 0) {
		fprintf(stderr, "samsa topics: cannot connect to %s\n", o.bootstrap);
		return 1;
	}
	int rc;
	switch (o.action) {
	case 'l': rc = do_metadata(&kc, &o, false); break;
	case 'd': rc = do_metadata(&kc, &o, true); break;
	case 'c': rc = do_create(&kc, &o); break;
	default: rc = do_delete(&kc, &o); break;
	}
	kclient_close(&kc);
	return rc;
}
