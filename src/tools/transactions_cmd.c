/*
 * samsa transactions, like kafka-transactions.sh: `list` asks every broker
 * (ListTransactions) and prints each coordinator's transactional ids;
 * `describe --transactional-id ID` asks the id's coordinator
 * (FindCoordinator key type 1, then DescribeTransactions).
 *
 *   samsa transactions --bootstrap-server HOST:PORT list
 *   samsa transactions --bootstrap-server HOST:PORT describe --transactional-id ID
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samsa/client.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "tools/commands.h"

#define TIMEOUT_MS 10000

struct node {
	int32_t id;
	char hostport[300];
};

static int usage(void)
{
	fprintf(stderr, "usage: samsa transactions --bootstrap-server HOST:PORT list\n"
			"       samsa transactions --bootstrap-server HOST:PORT describe --transactional-id ID\n");
	return 2;
}

static int connect_any(struct kclient *kc, const char *bootstrap)
{
	char *list = strdup(bootstrap), *save = NULL;
	int rc = -1;
	for (char *hp = strtok_r(list, ",", &save); hp && rc; hp = strtok_r(NULL, ",", &save)) {
		if (kclient_connect(kc, hp, TIMEOUT_MS) == 0)
			rc = 0;
		else
			kclient_close(kc);
	}
	free(list);
	return rc;
}

/* The brokers, from Metadata. */
static int brokers(struct kclient *kc, struct node **out, int *n)
{
	struct arena a;
	arena_init(&a);
	struct metadata_request req;
	metadata_request_init(&req);
	req.topics_count = 0;
	void *resp = NULL;
	int rc = -1;
	if (kclient_call_arena(kc, API_METADATA, 12, &req, &a, &resp) == 0) {
		const struct metadata_response *md = resp;
		*n = md->brokers_count > 0 ? md->brokers_count : 0;
		*out = calloc((size_t)(*n ? *n : 1), sizeof **out);
		for (int i = 0; i < *n; i++) {
			(*out)[i].id = md->brokers[i].node_id;
			snprintf((*out)[i].hostport, sizeof (*out)[i].hostport, "%.*s:%d", md->brokers[i].host.len,
				 md->brokers[i].host.ptr, md->brokers[i].port);
		}
		rc = 0;
	}
	arena_free(&a);
	return rc;
}

static int call_node(const char *hostport, int16_t api, int16_t version, const void *req, struct arena *a, void **out)
{
	struct kclient kc;
	if (kclient_connect(&kc, hostport, TIMEOUT_MS) != 0) {
		kclient_close(&kc);
		return -1;
	}
	int rc = kclient_call_arena(&kc, api, version, req, a, out);
	kclient_close(&kc);
	return rc;
}

static int do_list(struct kclient *kc)
{
	struct node *nodes = NULL;
	int n = 0;
	if (brokers(kc, &nodes, &n) != 0) {
		fprintf(stderr, "samsa transactions: Metadata failed\n");
		return 1;
	}
	int rc = 0;
	printf("%-30s %-12s %-12s %s\n", "TransactionalId", "Coordinator", "ProducerId", "TransactionState");
	for (int i = 0; i < n; i++) {
		struct arena a;
		arena_init(&a);
		struct list_transactions_request req;
		list_transactions_request_init(&req);
		req.state_filters_count = 0;
		req.producer_id_filters_count = 0;
		void *out = NULL;
		if (call_node(nodes[i].hostport, API_LIST_TRANSACTIONS, 1, &req, &a, &out) != 0) {
			fprintf(stderr, "samsa transactions: broker %d did not answer ListTransactions\n", nodes[i].id);
			rc = 1;
		} else {
			const struct list_transactions_response *resp = out;
			if (resp->error_code != KERR_NONE) {
				fprintf(stderr, "samsa transactions: broker %d: %s\n", nodes[i].id,
					kafka_error_name(resp->error_code));
				rc = 1;
			}
			for (int32_t j = 0; j < resp->transaction_states_count; j++) {
				const struct list_transactions_response_transaction_state *s = &resp->transaction_states[j];
				printf("%-30.*s %-12d %-12" PRId64 " %.*s\n", s->transactional_id.len, s->transactional_id.ptr,
				       nodes[i].id, s->producer_id, s->transaction_state.len, s->transaction_state.ptr);
			}
		}
		arena_free(&a);
	}
	free(nodes);
	return rc;
}

static int do_describe(struct kclient *kc, const char *id)
{
	struct node *nodes = NULL;
	int n = 0;
	if (brokers(kc, &nodes, &n) != 0)
		return 1;
	struct arena a;
	arena_init(&a);
	struct find_coordinator_request fq;
	find_coordinator_request_init(&fq);
	fq.key = kstr_c(id);
	fq.key_type = 1;
	void *out = NULL;
	int rc = 1;
	if (kclient_call_arena(kc, API_FIND_COORDINATOR, 3, &fq, &a, &out) != 0) {
		fprintf(stderr, "samsa transactions: FindCoordinator failed\n");
		goto done;
	}
	const struct find_coordinator_response *fr = out;
	if (fr->error_code != KERR_NONE) {
		fprintf(stderr, "samsa transactions: no coordinator for %s: %s\n", id, kafka_error_name(fr->error_code));
		goto done;
	}
	char hp[300];
	snprintf(hp, sizeof hp, "%.*s:%d", fr->host.len, fr->host.ptr, fr->port);
	int32_t coordinator = fr->node_id;
	struct describe_transactions_request dq;
	describe_transactions_request_init(&dq);
	struct kstr ids[1] = { kstr_c(id) };
	dq.transactional_ids = ids;
	dq.transactional_ids_count = 1;
	if (call_node(hp, API_DESCRIBE_TRANSACTIONS, 0, &dq, &a, &out) != 0) {
		fprintf(stderr, "samsa transactions: broker %d did not answer DescribeTransactions\n", coordinator);
		goto done;
	}
	const struct describe_transactions_response *dr = out;
	if (dr->transaction_states_count != 1) {
		fprintf(stderr, "samsa transactions: malformed answer\n");
		goto done;
	}
	const struct describe_transactions_response_transaction_state *s = &dr->transaction_states[0];
	if (s->error_code != KERR_NONE) {
		fprintf(stderr, "samsa transactions: %s: %s\n", id, kafka_error_name(s->error_code));
		goto done;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	printf("%-14s %-30s %-12s %-14s %-18s %-21s %-30s %-22s %s\n", "CoordinatorId", "TransactionalId", "ProducerId",
	       "ProducerEpoch", "TransactionState", "TransactionTimeoutMs", "CurrentTransactionStartTimeMs",
	       "TransactionDurationMs", "TopicPartitions");
	char start[24] = "None", dur[24] = "None";
	if (s->transaction_start_time_ms >= 0) {
		snprintf(start, sizeof start, "%" PRId64, s->transaction_start_time_ms);
		snprintf(dur, sizeof dur, "%" PRId64, now - s->transaction_start_time_ms);
	}
	printf("%-14d %-30.*s %-12" PRId64 " %-14d %-18.*s %-21d %-30s %-22s ", coordinator, s->transactional_id.len,
	       s->transactional_id.ptr, s->producer_id, s->producer_epoch, s->transaction_state.len,
	       s->transaction_state.ptr, s->transaction_timeout_ms, start, dur);
	bool first = true;
	for (int32_t i = 0; i < s->topics_count; i++)
		for (int32_t j = 0; j < s->topics[i].partitions_count; j++) {
			printf("%s%.*s-%d", first ? "" : ",", s->topics[i].topic.len, s->topics[i].topic.ptr,
			       s->topics[i].partitions[j]);
			first = false;
		}
	printf("\n");
	rc = 0;
done:
	arena_free(&a);
	free(nodes);
	return rc;
}

int cmd_transactions(int argc, char **argv)
{
	const char *bootstrap = NULL, *id = NULL, *action = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--bootstrap-server") == 0 && i + 1 < argc)
			bootstrap = argv[++i];
		else if (strcmp(argv[i], "--transactional-id") == 0 && i + 1 < argc)
			id = argv[++i];
		else if (!action && argv[i][0] != '-')
			action = argv[i];
		else
			return usage();
	}
	if (!bootstrap || !action)
		return usage();
	bool list = strcmp(action, "list") == 0, describe = strcmp(action, "describe") == 0;
	if (!list && !(describe && id)) {
		if (!list && !describe)
			fprintf(stderr, "samsa transactions: %s is not done yet (list and describe are)\n", action);
		return usage();
	}
	struct kclient kc;
	if (connect_any(&kc, bootstrap) != 0) {
		fprintf(stderr, "samsa transactions: cannot connect to %s\n", bootstrap);
		return 1;
	}
	int rc = list ? do_list(&kc) : do_describe(&kc, id);
	kclient_close(&kc);
	return rc;
}
