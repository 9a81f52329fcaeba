/*
 * CreateTopics, the ZooKeeper-mode way [Kafka's ZkAdminManager.createTopics]:
 * validate, place replicas over the live brokers, write /config/topics/<t> and
 * /brokers/topics/<t>; the controller takes it from there.  The answer waits
 * (up to the request's timeout) until this broker's metadata cache has the
 * topic with leaders, as Kafka's delayed create does, so a client may use the
 * topic as soon as it is told it exists.
 *
 * Runs on the admin executor: it talks to ZooKeeper.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/config.h"
#include "samsa/group.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/uuid.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/admin_util.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/replica_assignment.h"
#include "server/topic_name.h"

typedef struct create_topics_request_creatable_topic creatable_topic;
typedef struct create_topics_response_creatable_topic_result topic_result;

/* Kafka's per-topic error: code plus message. */
#define set_error(req, r, code, ...)                                   \
	do {                                                           \
		(r)->error_code = (code);                              \
		(r)->error_message = admin_message((req), __VA_ARGS__); \
	} while (0)

static bool name_taken(const struct metadata_snapshot *s, struct kstr name, char **clash)
{
	for (int i = 0; i < s->n_topics; i++) {
		const char *t = s->topics[i].name;
		if (topic_names_collide(name.ptr, (size_t)name.len, t, strlen(t))) {
			*clash = s->topics[i].name;
			return true;
		}
	}
	return false;
}

/* Manual assignments: partitions 0..n-1, each with the same non-zero count of distinct live brokers. */
static int check_manual(struct request *req, const creatable_topic *t, const struct metadata_snapshot *s,
			topic_result *r)
{
	int n = t->assignments_count;
	int rf = n > 0 ? t->assignments[0].broker_ids_count : 0;
	bool *seen = arena_alloc(&req->arena, (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		const struct create_topics_request_creatable_replica_assignment *a = &t->assignments[i];
		if (a->partition_index < 0 || a->partition_index >= n || seen[a->partition_index]) {
			set_error(req, r, KERR_INVALID_REPLICA_ASSIGNMENT,
				  "Partitions should be a consecutive 0-based integer sequence");
			return -1;
		}
		seen[a->partition_index] = true;
		if (a->broker_ids_count <= 0 || a->broker_ids_count != rf) {
			set_error(req, r, KERR_INVALID_REPLICA_ASSIGNMENT,
				  "All partitions should have the same number of replicas");
			return -1;
		}
		for (int j = 0; j < a->broker_ids_count; j++) {
			for (int k = 0; k < j; k++) {
				if (a->broker_ids[k] == a->broker_ids[j]) {
					set_error(req, r, KERR_INVALID_REPLICA_ASSIGNMENT,
						  "Duplicate replica assignment found: broker %d", a->broker_ids[j]);
					return -1;
				}
			}
			if (!metadata_snapshot_broker(s, a->broker_ids[j])) {
				set_error(req, r, KERR_INVALID_REPLICA_ASSIGNMENT, "Unknown broker %d in replica assignment",
					  a->broker_ids[j]);
				return -1;
			}
		}
	}
	return 0;
}

static int check_configs(struct request *req, const creatable_topic *t, topic_result *r)
{
	for (int i = 0; i < t->configs_count; i++) {
		const struct create_topics_request_creatable_topic_config *c = &t->configs[i];
		char *key = arena_strndup(&req->arena, c->name.ptr ? c->name.ptr : "", c->name.ptr ? (size_t)c->name.len : 0);
		const struct config_def *def = config_topic_def_find(key);
		if (!def) {
			set_error(req, r, KERR_INVALID_CONFIG, "Unknown topic config name: %s", key);
			return -1;
		}
		char *value = c->value.ptr ? arena_strndup(&req->arena, c->value.ptr, (size_t)c->value.len) : NULL;
		char *err = NULL;
		if (config_validate(def, value, &err) != 0) {
			set_error(req, r, KERR_INVALID_CONFIG, "%s", err ? err : "invalid value");
			free(err);
			return -1;
		}
	}
	return 0;
}

/* Fills `asg` for topic t; returns 0 or -1 with r's error set. */
static int plan(struct request *req, const creatable_topic *t, const struct metadata_snapshot *s,
		struct topic_assignment *asg, topic_result *r)
{
	const struct broker_config *bc = req->broker->bc;
	const struct create_topics_request *ct = req->body;
	(void)ct;
	if (t->assignments_count > 0 && (t->num_partitions != -1 || t->replication_factor != -1)) {
		set_error(req, r, KERR_INVALID_REQUEST,
			  "Both numPartitions or replicationFactor and replicasAssignments were set. "
			  "Both cannot be used at the same time.");
		return -1;
	}
	if (t->assignments_count > 0) {
		if (check_manual(req, t, s, r))
			return -1;
		asg->n_partitions = t->assignments_count;
		asg->replicas = xcalloc((size_t)asg->n_partitions, sizeof *asg->replicas);
		asg->n_replicas = xcalloc((size_t)asg->n_partitions, sizeof *asg->n_replicas);
		for (int i = 0; i < t->assignments_count; i++) {
			const struct create_topics_request_creatable_replica_assignment *a = &t->assignments[i];
			int p = a->partition_index;
			asg->n_replicas[p] = a->broker_ids_count;
			asg->replicas[p] = xmalloc(sizeof(int32_t) * (size_t)a->broker_ids_count);
			memcpy(asg->replicas[p], a->broker_ids, sizeof(int32_t) * (size_t)a->broker_ids_count);
		}
		return 0;
	}
	int partitions = t->num_partitions == -1 ? bc->num_partitions : t->num_partitions;
	int rf = t->replication_factor == -1 ? bc->default_replication_factor : t->replication_factor;
	r->num_partitions = partitions;
	r->replication_factor = (int16_t)rf;
	if (partitions <= 0) {
		set_error(req, r, KERR_INVALID_PARTITIONS, "Number of partitions must be larger than 0.");
		return -1;
	}
	if (rf <= 0) {
		set_error(req, r, KERR_INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.");
		return -1;
	}
	if (rf > s->n_brokers) {
		set_error(req, r, KERR_INVALID_REPLICATION_FACTOR, "Replication factor: %d larger than available brokers: %d.",
			  rf, s->n_brokers);
		return -1;
	}
	struct assignment_broker *live = arena_alloc(&req->arena, sizeof *live * (size_t)s->n_brokers);
	for (int i = 0; i < s->n_brokers; i++) /* the snapshot keeps them sorted */
		live[i] = (struct assignment_broker){ s->brokers[i].id, s->brokers[i].rack };
	asg->n_partitions = partitions;
	asg->replicas = xcalloc((size_t)partitions, sizeof *asg->replicas);
	asg->n_replicas = xcalloc((size_t)partitions, sizeof *asg->n_replicas);
	for (int p = 0; p < partitions; p++) {
		asg->replicas[p] = xmalloc(sizeof(int32_t) * (size_t)rf);
		asg->n_replicas[p] = rf;
	}
	if (replica_assignment(live, s->n_brokers, partitions, rf, 0, -1, -1, asg->replicas) == ASSIGN_MIXED_RACKS) {
		set_error(req, r, KERR_UNKNOWN_SERVER_ERROR, /* Kafka's AdminOperationException is not an ApiException */
			  "Not all brokers have rack information for replica rack aware assignment.");
		return -1;
	}
	return 0;
}

static bool ready(struct broker *b, const char *name, int n) { return admin_cached_with_leaders(b, name, n); }

static void create_topics_job(struct request *req)
{
	const struct create_topics_request *ct = req->body;
	struct broker *b = req->broker;
	int64_t started = admin_now_ms();
	struct create_topics_response resp;
	create_topics_response_init(&resp);
	int n = ct->topics_count > 0 ? ct->topics_count : 0;
	resp.topics = arena_alloc(&req->arena, sizeof *resp.topics * (size_t)(n ? n : 1));
	resp.topics_count = n;
	int *created_partitions = arena_alloc(&req->arena, sizeof(int) * (size_t)(n ? n : 1));
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	/* Kafka: Create on the cluster covers every topic, else Create on each. */
	bool cluster_create = request_authorize_quiet(req, ACL_OP_CREATE, ACL_RESOURCE_CLUSTER, NULL, 0);

	for (int i = 0; i < n; i++) {
		const creatable_topic *t = &ct->topics[i];
		topic_result *r = &resp.topics[i];
		create_topics_response_creatable_topic_result_init(r);
		r->name = t->name;
		r->configs_count = -1;
		created_partitions[i] = -1;
		/* v5+: without DescribeConfigs on the topic its configs are withheld, and the result says why. */
		if (t->name.ptr && !request_authorize_quiet(req, ACL_OP_DESCRIBE_CONFIGS, ACL_RESOURCE_TOPIC, t->name.ptr,
							    (size_t)t->name.len))
			r->topic_config_error_code = KERR_TOPIC_AUTHORIZATION_FAILED;

		/* A name given twice is refused, and answered once (Kafka keys results by name). */
		bool dup = false, seen_before = false;
		for (int j = 0; j < n; j++) {
			if (j != i && ct->topics[j].name.len == t->name.len && t->name.ptr &&
			    memcmp(ct->topics[j].name.ptr, t->name.ptr, (size_t)t->name.len) == 0) {
				dup = true;
				if (j < i)
					seen_before = true;
			}
		}
		if (seen_before) {
			r->name.ptr = NULL; /* dropped from the answer below */
			continue;
		}
		if (dup) {
			set_error(req, r, KERR_INVALID_REQUEST, "Create topics request contains multiple entries for topic %.*s",
				  t->name.len, t->name.ptr);
			continue;
		}
		if (!cluster_create && !request_authorize(req, ACL_OP_CREATE, ACL_RESOURCE_TOPIC, t->name.ptr ? t->name.ptr : "",
							  t->name.ptr ? (size_t)t->name.len : 0)) {
			set_error(req, r, KERR_TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
			continue;
		}
		const char *problem = t->name.ptr ? topic_name_problem(t->name.ptr, (size_t)t->name.len) : "Topic name is null";
		if (problem) {
			set_error(req, r, KERR_INVALID_TOPIC_EXCEPTION, "%s", problem);
			continue;
		}
		char *name = arena_strndup(&req->arena, t->name.ptr, (size_t)t->name.len);
		if (metadata_snapshot_find_topic(s, name, strlen(name))) {
			set_error(req, r, KERR_TOPIC_ALREADY_EXISTS, "Topic '%s' already exists.", name);
			continue;
		}
		char *clash = NULL;
		if (name_taken(s, t->name, &clash)) {
			set_error(req, r, KERR_INVALID_TOPIC_EXCEPTION, "Topic '%s' collides with existing topic: %s", name,
				  clash);
			continue;
		}
		struct topic_assignment asg;
		memset(&asg, 0, sizeof asg);
		if (plan(req, t, s, &asg, r) != 0 || check_configs(req, t, r) != 0) {
			topic_assignment_free(&asg);
			continue;
		}
		r->num_partitions = asg.n_partitions;
		r->replication_factor = (int16_t)(asg.n_partitions ? asg.n_replicas[0] : -1);
		if (ct->validate_only) {
			topic_assignment_free(&asg);
			continue;
		}
		asg.name = xstrdup(name);
		uuid_random(asg.id);
		memcpy(r->topic_id, asg.id, 16);
		struct topic_config_entry *cfgs = arena_alloc(&req->arena, sizeof *cfgs * (size_t)(t->configs_count ? t->configs_count : 1));
		for (int c = 0; c < t->configs_count; c++) {
			cfgs[c].key = arena_strndup(&req->arena, t->configs[c].name.ptr, (size_t)t->configs[c].name.len);
			cfgs[c].value = t->configs[c].value.ptr
						? arena_strndup(&req->arena, t->configs[c].value.ptr, (size_t)t->configs[c].value.len)
						: "";
		}
		int rc = topic_zk_create(b->zk, &asg, cfgs, t->configs_count);
		if (rc == ZNODEEXISTS) {
			set_error(req, r, KERR_TOPIC_ALREADY_EXISTS, "Topic '%s' already exists.", name);
		} else if (rc != ZOK) {
			set_error(req, r, KERR_UNKNOWN_SERVER_ERROR, "ZooKeeper error creating topic %s: %s", name, zerror(rc));
		} else {
			log_info("Created topic %s with %d partitions, replication factor %d", name, asg.n_partitions,
				 r->replication_factor);
			created_partitions[i] = asg.n_partitions;
		}
		topic_assignment_free(&asg);
	}
	metadata_snapshot_release(s);

	/* Wait for the controller's UpdateMetadata to reach us, as Kafka's delayed create does. */
	for (int i = 0; i < n; i++) {
		if (created_partitions[i] < 0)
			continue;
		const char *name = arena_strndup(&req->arena, ct->topics[i].name.ptr, (size_t)ct->topics[i].name.len);
		if (!admin_wait(b, name, created_partitions[i], started, ct->timeout_ms, ready))
			set_error(req, &resp.topics[i], KERR_REQUEST_TIMED_OUT,
				  "Topic %s was created but its metadata did not propagate within %d ms", name, ct->timeout_ms);
	}
	/* Compact away the second and later entries of a duplicated name. */
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (!resp.topics[i].name.ptr && ct->topics[i].name.ptr)
			continue;
		resp.topics[k++] = resp.topics[i];
	}
	resp.topics_count = k;
	request_respond(req, &resp);
}

/* __consumer_offsets as the group coordinator wants it [GroupCoordinator.offsetsTopicConfigs]. */
static int16_t create_offsets_topic(struct broker *b)
{
	const struct group_coordinator *gc = b->groups;
	char segment[16];
	snprintf(segment, sizeof segment, "%d", group_coordinator_segment_bytes(gc));
	const struct topic_config_entry configs[] = {
		{ "cleanup.policy", "compact" },
		{ "compression.type", "producer" },
		{ "segment.bytes", segment },
	};
	return topic_create_with(b, GROUP_OFFSETS_TOPIC, group_coordinator_topic_num_partitions(gc),
				 group_coordinator_replication_factor(gc), configs, (int)(sizeof configs / sizeof configs[0]));
}

/*
 * __transaction_state as the transaction coordinator wants it
 * [TransactionStateManager.transactionTopicConfigs]: no unclean elections and
 * no compression whatever the producer sent, compacted.  samsa has no
 * transaction coordinator yet, but the topic is made right for when it does.
 */
static int16_t create_transaction_topic(struct broker *b)
{
	char min_isr[16], segment[16];
	snprintf(min_isr, sizeof min_isr, "%d", config_int(b->config, "transaction.state.log.min.isr"));
	snprintf(segment, sizeof segment, "%d", config_int(b->config, "transaction.state.log.segment.bytes"));
	const struct topic_config_entry configs[] = {
		{ "unclean.leader.election.enable", "false" },
		{ "compression.type", "uncompressed" },
		{ "cleanup.policy", "compact" },
		{ "min.insync.replicas", min_isr },
		{ "segment.bytes", segment },
	};
	return topic_create_with(b, TRANSACTION_STATE_TOPIC, config_int(b->config, "transaction.state.log.num.partitions"),
				 config_int(b->config, "transaction.state.log.replication.factor"), configs,
				 (int)(sizeof configs / sizeof configs[0]));
}

int16_t topic_auto_create(struct broker *b, const char *name)
{
	int16_t err;
	if (strcmp(name, GROUP_OFFSETS_TOPIC) == 0)
		err = create_offsets_topic(b);
	else if (strcmp(name, TRANSACTION_STATE_TOPIC) == 0)
		err = create_transaction_topic(b);
	else
		return topic_create_with(b, name, b->bc->num_partitions, b->bc->default_replication_factor, NULL, 0);
	/* Internal topics are made on the brokers' own initiative: say why one could not be. */
	if (err != KERR_NONE)
		log_warn("Cannot create internal topic %s: %s", name, kafka_error_name(err));
	return err;
}

int16_t topic_create_with(struct broker *b, const char *name, int partitions, int rf,
			  const struct topic_config_entry *configs, int n_configs)
{
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	int16_t err = KERR_NONE;
	struct topic_assignment asg;
	memset(&asg, 0, sizeof asg);
	if (rf > s->n_brokers) {
		log_warn("Cannot auto-create topic %s: replication factor %d larger than available brokers %d", name, rf,
			 s->n_brokers);
		metadata_snapshot_release(s);
		return KERR_INVALID_REPLICATION_FACTOR;
	}
	struct assignment_broker *live = xcalloc((size_t)(s->n_brokers ? s->n_brokers : 1), sizeof *live);
	for (int i = 0; i < s->n_brokers; i++)
		live[i] = (struct assignment_broker){ s->brokers[i].id, s->brokers[i].rack };
	asg.name = xstrdup(name);
	asg.n_partitions = partitions;
	asg.replicas = xcalloc((size_t)partitions, sizeof *asg.replicas);
	asg.n_replicas = xcalloc((size_t)partitions, sizeof *asg.n_replicas);
	for (int p = 0; p < partitions; p++) {
		asg.replicas[p] = xmalloc(sizeof(int32_t) * (size_t)rf);
		asg.n_replicas[p] = rf;
	}
	if (replica_assignment(live, s->n_brokers, partitions, rf, 0, -1, -1, asg.replicas) != ASSIGN_OK) {
		err = KERR_INVALID_REPLICATION_FACTOR;
	} else {
		uuid_random(asg.id);
		int rc = topic_zk_create(b->zk, &asg, configs, n_configs);
		if (rc == ZOK)
			log_info("Auto-created topic %s with %d partitions, replication factor %d", name, partitions, rf);
		else if (rc != ZNODEEXISTS)
			err = KERR_UNKNOWN_SERVER_ERROR;
	}
	free(live);
	topic_assignment_free(&asg);
	metadata_snapshot_release(s);
	return err;
}

void handle_create_topics(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, create_topics_job);
}
