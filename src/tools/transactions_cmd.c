/*
 * samsa transactions, like kafka-transactions.sh: `list` asks every broker
 * (ListTransactions) and prints each coordinator's transactional ids;
 * `describe --transactional-id ID` asks the id's coordinator
 * (FindCoordinator key type 1, then DescribeTransactions);
 * `describe-producers --topic T --partition P` asks the partition's leader
 * (DescribeProducers); `abort --topic T --partition P --start-offset O`
 * finds the producer whose open transaction starts there and writes an
 * ABORT marker through the leader (WriteTxnMarkers), as Kafka's
 * abortTransaction admin call does; `find-hanging --broker-id B` lists
 * open transactions on B's partitions older than --max-transaction-timeout
 * (minutes, 15 by default) that no coordinator has Ongoing on that partition.
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
			"       samsa transactions --bootstrap-server HOST:PORT describe --transactional-id ID\n"
			"       samsa transactions --bootstrap-server HOST:PORT describe-producers --topic T --partition P\n"
			"       samsa transactions --bootstrap-server HOST:PORT abort --topic T --partition P --start-offset O\n"
			"       samsa transactions --bootstrap-server HOST:PORT find-hanging --broker-id B\n"
			"                                  [--max-transaction-timeout MINUTES]\n");
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

/* The leader of topic-partition (Metadata), its "host:port" into hp; -1 when unknown. */
static int32_t leader_of(struct kclient *kc, const char *topic, int32_t partition, char *hp, size_t cap)
{
	struct arena a;
	arena_init(&a);
	struct metadata_request req;
	metadata_request_init(&req);
	struct metadata_request_metadata_request_topic t;
	memset(&t, 0, sizeof t);
	t.name = kstr_c(topic);
	req.topics = &t;
	req.topics_count = 1;
	void *out = NULL;
	int32_t leader = -1;
	if (kclient_call_arena(kc, API_METADATA, 12, &req, &a, &out) == 0) {
		const struct metadata_response *md = out;
		for (int32_t i = 0; i < md->topics_count; i++)
			for (int32_t j = 0; j < md->topics[i].partitions_count; j++)
				if (md->topics[i].partitions[j].partition_index == partition)
					leader = md->topics[i].partitions[j].leader_id;
		for (int32_t i = 0; i < md->brokers_count && leader >= 0; i++)
			if (md->brokers[i].node_id == leader)
				snprintf(hp, cap, "%.*s:%d", md->brokers[i].host.len, md->brokers[i].host.ptr,
					 md->brokers[i].port);
	}
	arena_free(&a);
	return leader;
}

/* DescribeProducers for one partition at hostport; the partition's answer, or NULL (in a). */
static const struct describe_producers_response_partition_response *
producers_of(const char *hostport, const char *topic, int32_t partition, struct arena *a)
{
	struct describe_producers_request req;
	describe_producers_request_init(&req);
	struct describe_producers_request_topic_request t;
	describe_producers_request_topic_request_init(&t);
	int32_t p = partition;
	t.name = kstr_c(topic);
	t.partition_indexes = &p;
	t.partition_indexes_count = 1;
	req.topics = &t;
	req.topics_count = 1;
	void *out = NULL;
	if (call_node(hostport, API_DESCRIBE_PRODUCERS, 0, &req, a, &out) != 0)
		return NULL;
	const struct describe_producers_response *resp = out;
	if (resp->topics_count != 1 || resp->topics[0].partitions_count != 1)
		return NULL;
	return &resp->topics[0].partitions[0];
}

static int do_describe_producers(struct kclient *kc, const char *topic, int32_t partition)
{
	char hp[300];
	int32_t leader = leader_of(kc, topic, partition, hp, sizeof hp);
	if (leader < 0) {
		fprintf(stderr, "samsa transactions: no leader for %s-%d\n", topic, partition);
		return 1;
	}
	struct arena a;
	arena_init(&a);
	const struct describe_producers_response_partition_response *pr = producers_of(hp, topic, partition, &a);
	int rc = 1;
	if (!pr)
		fprintf(stderr, "samsa transactions: broker %d did not answer DescribeProducers\n", leader);
	else if (pr->error_code != KERR_NONE)
		fprintf(stderr, "samsa transactions: %s-%d: %s\n", topic, partition, kafka_error_name(pr->error_code));
	else {
		printf("%-12s %-14s %-23s %-13s %-14s %s\n", "ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch",
		       "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset");
		for (int32_t i = 0; i < pr->active_producers_count; i++) {
			const struct describe_producers_response_producer_state *s = &pr->active_producers[i];
			char start[24] = "None";
			if (s->current_txn_start_offset >= 0)
				snprintf(start, sizeof start, "%" PRId64, s->current_txn_start_offset);
			printf("%-12" PRId64 " %-14d %-23d %-13d %-14" PRId64 " %s\n", s->producer_id, s->producer_epoch,
			       s->coordinator_epoch, s->last_sequence, s->last_timestamp, start);
		}
		rc = 0;
	}
	arena_free(&a);
	return rc;
}

static int do_abort(struct kclient *kc, const char *topic, int32_t partition, int64_t start_offset)
{
	char hp[300];
	int32_t leader = leader_of(kc, topic, partition, hp, sizeof hp);
	if (leader < 0) {
		fprintf(stderr, "samsa transactions: no leader for %s-%d\n", topic, partition);
		return 1;
	}
	struct arena a;
	arena_init(&a);
	int rc = 1;
	const struct describe_producers_response_partition_response *pr = producers_of(hp, topic, partition, &a);
	const struct describe_producers_response_producer_state *found = NULL;
	for (int32_t i = 0; pr && pr->error_code == KERR_NONE && i < pr->active_producers_count; i++)
		if (pr->active_producers[i].current_txn_start_offset == start_offset)
			found = &pr->active_producers[i];
	if (!found) {
		fprintf(stderr, "samsa transactions: no open transaction starts at offset %" PRId64 " of %s-%d\n",
			start_offset, topic, partition);
		goto done;
	}
	struct write_txn_markers_request req;
	write_txn_markers_request_init(&req);
	struct write_txn_markers_request_writable_txn_marker m;
	write_txn_markers_request_writable_txn_marker_init(&m);
	struct write_txn_markers_request_writable_txn_marker_topic t;
	write_txn_markers_request_writable_txn_marker_topic_init(&t);
	int32_t p = partition;
	t.name = kstr_c(topic);
	t.partition_indexes = &p;
	t.partition_indexes_count = 1;
	m.producer_id = found->producer_id;
	m.producer_epoch = (int16_t)found->producer_epoch;
	m.transaction_result = false;
	m.coordinator_epoch = found->coordinator_epoch;
	m.topics = &t;
	m.topics_count = 1;
	req.markers = &m;
	req.markers_count = 1;
	void *out = NULL;
	if (call_node(hp, API_WRITE_TXN_MARKERS, 1, &req, &a, &out) != 0) {
		fprintf(stderr, "samsa transactions: broker %d did not answer WriteTxnMarkers\n", leader);
		goto done;
	}
	const struct write_txn_markers_response *resp = out;
	int16_t err = KERR_UNKNOWN_SERVER_ERROR;
	if (resp->markers_count == 1 && resp->markers[0].topics_count == 1 &&
	    resp->markers[0].topics[0].partitions_count == 1)
		err = resp->markers[0].topics[0].partitions[0].error_code;
	if (err != KERR_NONE) {
		fprintf(stderr, "samsa transactions: aborting producer %" PRId64 " on %s-%d: %s\n", found->producer_id,
			topic, partition, kafka_error_name(err));
		goto done;
	}
	printf("Aborted the transaction of producer %" PRId64 " (epoch %d) on %s-%d starting at offset %" PRId64 "\n",
	       found->producer_id, found->producer_epoch, topic, partition, start_offset);
	rc = 0;
done:
	arena_free(&a);
	return rc;
}

/* Whether some coordinator has producer_id's transaction Ongoing with topic-partition in it. */
static bool coordinator_has(const struct node *nodes, int n, int64_t producer_id, const char *topic, int32_t partition)
{
	for (int i = 0; i < n; i++) {
		struct arena a;
		arena_init(&a);
		struct list_transactions_request lq;
		list_transactions_request_init(&lq);
		lq.state_filters_count = 0;
		int64_t pid = producer_id;
		lq.producer_id_filters = &pid;
		lq.producer_id_filters_count = 1;
		void *out = NULL;
		bool has = false;
		if (call_node(nodes[i].hostport, API_LIST_TRANSACTIONS, 0, &lq, &a, &out) == 0) {
			const struct list_transactions_response *lr = out;
			for (int32_t j = 0; j < lr->transaction_states_count && !has; j++) {
				struct describe_transactions_request dq;
				describe_transactions_request_init(&dq);
				struct kstr id = lr->transaction_states[j].transactional_id;
				dq.transactional_ids = &id;
				dq.transactional_ids_count = 1;
				void *dout = NULL;
				if (call_node(nodes[i].hostport, API_DESCRIBE_TRANSACTIONS, 0, &dq, &a, &dout) != 0)
					continue;
				const struct describe_transactions_response *dr = dout;
				if (dr->transaction_states_count != 1 || dr->transaction_states[0].error_code != KERR_NONE)
					continue;
				const struct describe_transactions_response_transaction_state *s = &dr->transaction_states[0];
				bool ongoing = s->transaction_state.len == 7 && memcmp(s->transaction_state.ptr, "Ongoing", 7) == 0;
				for (int32_t k = 0; ongoing && k < s->topics_count; k++)
					if ((size_t)s->topics[k].topic.len == strlen(topic) &&
					    memcmp(s->topics[k].topic.ptr, topic, strlen(topic)) == 0)
						for (int32_t q = 0; q < s->topics[k].partitions_count; q++)
							has |= s->topics[k].partitions[q] == partition;
			}
		}
		arena_free(&a);
		if (has)
			return true;
	}
	return false;
}

static int do_find_hanging(struct kclient *kc, int32_t broker_id, int64_t max_timeout_min)
{
	struct node *nodes = NULL;
	int n = 0;
	if (brokers(kc, &nodes, &n) != 0)
		return 1;
	const struct node *target = NULL;
	for (int i = 0; i < n; i++)
		if (nodes[i].id == broker_id)
			target = &nodes[i];
	if (!target) {
		fprintf(stderr, "samsa transactions: broker %d is not in the cluster\n", broker_id);
		free(nodes);
		return 1;
	}
	struct arena a;
	arena_init(&a);
	struct metadata_request mq;
	metadata_request_init(&mq);
	mq.topics = NULL;
	mq.topics_count = -1; /* every topic */
	void *out = NULL;
	int rc = 1;
	if (kclient_call_arena(kc, API_METADATA, 12, &mq, &a, &out) != 0) {
		fprintf(stderr, "samsa transactions: Metadata failed\n");
		goto done;
	}
	const struct metadata_response *md = out;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	printf("%-30s %-10s %-12s %-14s %-17s %-12s %-14s %s\n", "Topic", "Partition", "ProducerId", "ProducerEpoch",
	       "CoordinatorEpoch", "StartOffset", "LastTimestamp", "Duration(min)");
	rc = 0;
	for (int32_t i = 0; i < md->topics_count; i++) {
		const struct metadata_response_metadata_response_topic *t = &md->topics[i];
		char topic[256];
		snprintf(topic, sizeof topic, "%.*s", t->name.len, t->name.ptr);
		for (int32_t j = 0; j < t->partitions_count; j++) {
			if (t->partitions[j].leader_id != broker_id)
				continue;
			struct arena pa;
			arena_init(&pa);
			const struct describe_producers_response_partition_response *pr =
			    producers_of(target->hostport, topic, t->partitions[j].partition_index, &pa);
			for (int32_t k = 0; pr && pr->error_code == KERR_NONE && k < pr->active_producers_count; k++) {
				const struct describe_producers_response_producer_state *s = &pr->active_producers[k];
				if (s->current_txn_start_offset < 0 || now - s->last_timestamp <= max_timeout_min * 60000)
					continue;
				if (coordinator_has(nodes, n, s->producer_id, topic, t->partitions[j].partition_index))
					continue;
				printf("%-30s %-10d %-12" PRId64 " %-14d %-17d %-12" PRId64 " %-14" PRId64 " %" PRId64 "\n",
				       topic, t->partitions[j].partition_index, s->producer_id, s->producer_epoch,
				       s->coordinator_epoch, s->current_txn_start_offset, s->last_timestamp,
				       (now - s->last_timestamp) / 60000);
			}
			arena_free(&pa);
		}
	}
done:
	arena_free(&a);
	free(nodes);
	return rc;
}

int cmd_transactions(int argc, char **argv)
{
	const char *bootstrap = NULL, *id = NULL, *action = NULL, *topic = NULL;
	int64_t partition = -1, start_offset = -1, broker_id = -1, max_timeout = 15;
	for (int i = 2; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "--bootstrap-server") == 0 && i + 1 < argc)
			bootstrap = argv[++i];
		else if (strcmp(argv[i], "--transactional-id") == 0 && i + 1 < argc)
			id = argv[++i];
		else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
			topic = argv[++i];
		else if (strcmp(argv[i], "--partition") == 0 && i + 1 < argc) {
			partition = strtoll(argv[++i], &end, 10);
			if (*end || partition < 0 || partition > INT32_MAX)
				return usage();
		} else if (strcmp(argv[i], "--start-offset") == 0 && i + 1 < argc) {
			start_offset = strtoll(argv[++i], &end, 10);
			if (*end || start_offset < 0)
				return usage();
		} else if (strcmp(argv[i], "--broker-id") == 0 && i + 1 < argc) {
			broker_id = strtoll(argv[++i], &end, 10);
			if (*end || broker_id < 0 || broker_id > INT32_MAX)
				return usage();
		} else if (strcmp(argv[i], "--max-transaction-timeout") == 0 && i + 1 < argc) {
			max_timeout = strtoll(argv[++i], &end, 10);
			if (*end || max_timeout < 0)
				return usage();
		} else if (!action && argv[i][0] != '-')
			action = argv[i];
		else
			return usage();
	}
	if (!bootstrap || !action)
		return usage();
	enum { LIST, DESCRIBE, PRODUCERS, ABORT, HANGING } what;
	if (strcmp(action, "list") == 0)
		what = LIST;
	else if (strcmp(action, "describe") == 0 && id)
		what = DESCRIBE;
	else if (strcmp(action, "describe-producers") == 0 && topic && partition >= 0)
		what = PRODUCERS;
	else if (strcmp(action, "abort") == 0 && topic && partition >= 0 && start_offset >= 0)
		what = ABORT;
	else if (strcmp(action, "find-hanging") == 0 && broker_id >= 0)
		what = HANGING;
	else
		return usage();
	struct kclient kc;
	if (connect_any(&kc, bootstrap) != 0) {
		fprintf(stderr, "samsa transactions: cannot connect to %s\n", bootstrap);
		return 1;
	}
	int rc;
	switch (what) {
	case LIST: rc = do_list(&kc); break;
	case DESCRIBE: rc = do_describe(&kc, id); break;
	case PRODUCERS: rc = do_describe_producers(&kc, topic, (int32_t)partition); break;
	case ABORT: rc = do_abort(&kc, topic, (int32_t)partition, start_offset); break;
	default: rc = do_find_hanging(&kc, (int32_t)broker_id, max_timeout); break;
	}
	kclient_close(&kc);
	return rc;
}
