/*
 * samsa: the admin CLI [Kafka's bin/kafka-*.sh tools].  Each subcommand talks to
 * brokers over the Kafka protocol, like Kafka's tools do.
 *
 *   samsa broker-api-versions --bootstrap-server HOST:PORT
 *   samsa cluster --bootstrap-server HOST:PORT      (brokers, controller, cluster id)
 *   samsa topics --bootstrap-server HOST:PORT --list|--describe|--create|--delete ...
 *   samsa consumer-groups --bootstrap-server HOST:PORT --list|--describe|--delete|--reset-offsets ...
 *   samsa configs --bootstrap-server HOST:PORT --entity-type users --alter|--describe ...  (SCRAM users)
 *   samsa acls --bootstrap-server HOST:PORT --add|--remove|--list ...   (like kafka-acls.sh)
 *   samsa log-dirs --bootstrap-server HOST:PORT --describe [--broker-list ..] [--topic-list ..]
 *   samsa dump-log --files F[,F...] [--print-data-log] [--verify]   (offline, reads segment files)
 *   samsa get-offsets | delete-records | leader-election | reassign-partitions ...
 *   samsa producer-perf-test | consumer-perf-test ...   (on librdkafka, when built with it)
 *   samsa version
 */
#include "samsa-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/client.h"
#include "tools/commands.h"
#include "samsa/proto.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: samsa COMMAND [options]\n"
		     "commands:\n"
		     "  cluster --bootstrap-server HOST:PORT              brokers, controller and cluster id\n"
		     "  broker-api-versions --bootstrap-server HOST:PORT  the APIs and versions a broker supports\n"
		     "  topics --bootstrap-server HOST:PORT --list | --describe [--topic T] |\n"
		     "         --create --topic T [--partitions N] [--replication-factor R] [--config k=v]... |\n"
		     "         --delete --topic T                         like kafka-topics.sh\n"
		     "  consumer-groups --bootstrap-server HOST:PORT --list [--state [S]] |\n"
		     "         --describe --group G [--offsets | --members [--verbose] | --state] |\n"
		     "         --delete --group G... |\n"
		     "         --reset-offsets --group G (--topic T[:P,...] | --all-topics) (--to-earliest |\n"
		     "         --to-latest | --to-offset N | --shift-by N | --to-datetime YYYY-MM-DDTHH:mm:SS.sss)\n"
		     "         [--dry-run | --execute]                    like kafka-consumer-groups.sh\n"
		     "  configs --bootstrap-server HOST:PORT --entity-type users --alter --entity-name U\n"
		     "         (--add-config 'SCRAM-SHA-512=[iterations=N,password=P]' | --delete-config M) |\n"
		     "         --describe [--entity-name U]               SCRAM users, like kafka-configs.sh\n"
		     "  acls --bootstrap-server HOST:PORT (--add | --remove) (--allow-principal P | --deny-principal P)...\n"
		     "         [--allow-host H | --deny-host H]... [--operation OP]... (--topic T | --group G |\n"
		     "         --cluster | --transactional-id ID)... [--resource-pattern-type literal|prefixed] |\n"
		     "         --list [resource...] [--principal P]      ACLs, like kafka-acls.sh\n"
		     "  log-dirs --bootstrap-server HOST:PORT --describe [--broker-list ID,...]\n"
		     "         [--topic-list T,...]                       log dirs as JSON, like kafka-log-dirs.sh\n"
		     "  transactions --bootstrap-server HOST:PORT list | describe --transactional-id ID |\n"
		     "         describe-producers --topic T --partition P |\n"
		     "         abort --topic T --partition P --start-offset O |\n"
		     "         find-hanging --broker-id B [--max-transaction-timeout MIN]\n"
		     "                                                    like kafka-transactions.sh\n"
		     "  dump-log --files F[,F...] [--print-data-log] [--verify]\n"
		     "                                                    print and check segment files or\n"
		     "                                                    partition dirs, like kafka-dump-log.sh\n"
		     "  get-offsets --bootstrap-server HOST:PORT [--topic REGEX [--partitions P,..] |\n"
		     "         --topic-partitions T:P,..] [--time -1|-2|-3|MS]  like kafka-get-offsets.sh\n"
		     "  delete-records --bootstrap-server HOST:PORT --offset-json-file FILE\n"
		     "                                                    like kafka-delete-records.sh\n"
		     "  leader-election --bootstrap-server HOST:PORT --election-type PREFERRED|UNCLEAN\n"
		     "         (--all-topic-partitions | --topic T --partition P | --path-to-json-file F)\n"
		     "                                                    like kafka-leader-election.sh\n"
		     "  reassign-partitions --bootstrap-server HOST:PORT (--generate --topics-to-move-json-file F\n"
		     "         --broker-list IDS | --execute --reassignment-json-file F [--throttle B/s] |\n"
		     "         --verify --reassignment-json-file F | --cancel --reassignment-json-file F | --list)\n"
		     "                                                    like kafka-reassign-partitions.sh\n"
		     "  producer-perf-test --topic T --num-records N --record-size B --throughput R\n"
		     "         (--producer-props k=v... | --producer.config F | --bootstrap-server HOST:PORT)\n"
		     "  consumer-perf-test --bootstrap-server HOST:PORT --topic T --messages N\n"
		     "                                                    like kafka-*-perf-test.sh, on librdkafka\n"
		     "  version                                           print the samsa version\n"
		     "every command takes --help.\n"
		     "every command that talks to brokers also takes --command-config FILE: client properties\n"
		     "(security.protocol, ssl.truststore.*, ssl.keystore.*, sasl.mechanism, sasl.jaas.config)\n");
}

static const char *bootstrap_arg(int argc, char **argv)
{
	static const struct option opts[] = { { "bootstrap-server", required_argument, NULL, 'b' },
					      { NULL, 0, NULL, 0 } };
	const char *bs = NULL;
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "b:", opts, NULL)) != -1) {
		if (ch == 'b')
			bs = optarg;
		else
			return NULL;
	}
	return bs;
}

static int connect_or_complain(struct kclient *kc, const char *bs)
{
	if (kclient_connect(kc, bs, 10000) != 0) {
		fprintf(stderr, "samsa: cannot connect to %s\n", bs);
		return -1;
	}
	return 0;
}

static int cmd_api_versions(const char *bs)
{
	struct kclient kc;
	if (connect_or_complain(&kc, bs))
		return 1;
	struct arena a;
	arena_init(&a);
	struct api_versions_request req;
	api_versions_request_init(&req);
	req.client_software_name = kstr_c("samsa-cli");
	req.client_software_version = kstr_c(PACKAGE_VERSION);
	void *out = NULL;
	int status = 1;
	if (kclient_call(&kc, API_API_VERSIONS, 3, &req, &a, &out) == 0) {
		const struct api_versions_response *resp = out;
		printf("%s (error %s):\n", bs, kafka_error_name(resp->error_code));
		for (int32_t i = 0; i < resp->api_keys_count; i++) {
			const struct proto_api *api = proto_api_get(resp->api_keys[i].api_key);
			printf("\t%s(%d): %d to %d\n", api ? api->name : "Unknown", resp->api_keys[i].api_key,
			       resp->api_keys[i].min_version, resp->api_keys[i].max_version);
		}
		status = resp->error_code == 0 ? 0 : 1;
	} else {
		fprintf(stderr, "samsa: ApiVersions request to %s failed\n", bs);
	}
	arena_free(&a);
	kclient_close(&kc);
	return status;
}

static int cmd_cluster(const char *bs)
{
	struct kclient kc;
	if (connect_or_complain(&kc, bs))
		return 1;
	struct arena a;
	arena_init(&a);
	struct metadata_request req;
	metadata_request_init(&req);
	req.topics_count = 0; /* v1+: an empty list asks for no topics */
	req.topics = NULL;
	void *out = NULL;
	int status = 1;
	if (kclient_call(&kc, API_METADATA, 12, &req, &a, &out) == 0) {
		const struct metadata_response *resp = out;
		printf("Cluster ID: %.*s\n", resp->cluster_id.ptr ? resp->cluster_id.len : 4,
		       resp->cluster_id.ptr ? resp->cluster_id.ptr : "null");
		printf("Controller: %d\n", resp->controller_id);
		printf("Brokers:\n");
		for (int32_t i = 0; i < resp->brokers_count; i++) {
			const struct metadata_response_metadata_response_broker *br = &resp->brokers[i];
			printf("\t%d at %.*s:%d%s%.*s%s\n", br->node_id, br->host.len, br->host.ptr, br->port,
			       br->rack.ptr ? " (rack " : "", br->rack.ptr ? br->rack.len : 0,
			       br->rack.ptr ? br->rack.ptr : "", br->rack.ptr ? ")" : "");
		}
		status = 0;
	} else {
		fprintf(stderr, "samsa: Metadata request to %s failed\n", bs);
	}
	arena_free(&a);
	kclient_close(&kc);
	return status;
}

int main(int argc, char **argv)
{
	if (command_config_apply(&argc, argv) != 0)
		return 2;
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("samsa %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "topics") == 0)
		return cmd_topics(argc, argv);
	if (strcmp(cmd, "consumer-groups") == 0)
		return cmd_consumer_groups(argc, argv);
	if (strcmp(cmd, "configs") == 0)
		return cmd_configs(argc, argv);
	if (strcmp(cmd, "acls") == 0)
		return cmd_acls(argc, argv);
	if (strcmp(cmd, "log-dirs") == 0)
		return cmd_log_dirs(argc, argv);
	if (strcmp(cmd, "dump-log") == 0)
		return cmd_dump_log(argc, argv);
	if (strcmp(cmd, "transactions") == 0)
		return cmd_transactions(argc, argv);
	if (strcmp(cmd, "get-offsets") == 0)
		return cmd_get_offsets(argc, argv);
	if (strcmp(cmd, "delete-records") == 0)
		return cmd_delete_records(argc, argv);
	if (strcmp(cmd, "leader-election") == 0)
		return cmd_leader_election(argc, argv);
	if (strcmp(cmd, "reassign-partitions") == 0)
		return cmd_reassign_partitions(argc, argv);
	if (strcmp(cmd, "producer-perf-test") == 0 || strcmp(cmd, "consumer-perf-test") == 0) {
#ifdef HAVE_RDKAFKA
		return cmd[0] == 'p' ? cmd_producer_perf_test(argc, argv) : cmd_consumer_perf_test(argc, argv);
#else
		fprintf(stderr, "samsa %s: this samsa was built without librdkafka (see docs/building.md)\n", cmd);
		return 1;
#endif
	}
	if (strcmp(cmd, "cluster") == 0 || strcmp(cmd, "broker-api-versions") == 0) {
		const char *bs = bootstrap_arg(argc, argv);
		if (!bs) {
			fprintf(stderr, "samsa %s: --bootstrap-server HOST:PORT is required\n", cmd);
			return 1;
		}
		return strcmp(cmd, "cluster") == 0 ? cmd_cluster(bs) : cmd_api_versions(bs);
	}
	fprintf(stderr, "samsa: unknown command '%s'\n", cmd);
	usage(stderr);
	return 1;
}
