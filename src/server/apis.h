/* Handlers, one per API, each in its own file [Kafka's KafkaApis]. */
#ifndef SAMSA_SERVER_APIS_H
#define SAMSA_SERVER_APIS_H

#include "samsa/purgatory.h"
#include "server/request.h"

void handle_api_versions(struct request *req);
void handle_produce(struct request *req);
void handle_fetch(struct request *req);
/* The try function delayed fetches park with: the metrics count the purgatory's fetches by it. */
delayed_try_fn fetch_delayed_try_fn(void);
/* What Fetch v0-v3 down-converted since the broker started (all partitions). */
struct fetch_down_conversion_stats {
	int64_t messages, batches, bytes, partitions;
};
void fetch_down_conversion_stats(struct fetch_down_conversion_stats *out);
void handle_list_offsets(struct request *req);
void handle_delete_records(struct request *req);
void handle_describe_log_dirs(struct request *req);
void handle_alter_replica_log_dirs(struct request *req);
void handle_alter_user_scram_credentials(struct request *req);
void handle_describe_user_scram_credentials(struct request *req);
void handle_describe_configs(struct request *req);
void handle_alter_configs(struct request *req);
void handle_incremental_alter_configs(struct request *req);
void handle_offset_for_leader_epoch(struct request *req);
void handle_metadata(struct request *req);
void handle_leader_and_isr(struct request *req);
void handle_stop_replica(struct request *req);
void handle_update_metadata(struct request *req);
/* On the active controller: moves the asking broker's leaderships away (controlled_shutdown.c). */
void handle_controlled_shutdown(struct request *req);
void handle_create_topics(struct request *req);
void handle_delete_topics(struct request *req);
void handle_create_partitions(struct request *req);
/* On the active controller: reassignments (partition_reassignments.c). */
void handle_alter_partition_reassignments(struct request *req);
void handle_list_partition_reassignments(struct request *req);
/* On the active controller: preferred and unclean leader election (elect_leaders.c). */
void handle_elect_leaders(struct request *req);
/* OffsetCommit/OffsetFetch: v0 in ZooKeeper (zk_offsets.c), v1+ on the group coordinator. */
void handle_offset_commit(struct request *req);
void handle_offset_fetch(struct request *req);
void zk_offset_commit(struct request *req);
void zk_offset_fetch(struct request *req);
/* The group coordinator's APIs: find_coordinator.c, and group_apis.c handing the rest to src/group/. */
void handle_find_coordinator(struct request *req);
void handle_join_group(struct request *req);
void handle_sync_group(struct request *req);
void handle_heartbeat(struct request *req);
void handle_leave_group(struct request *req);
void handle_describe_groups(struct request *req);
void handle_list_groups(struct request *req);
void handle_delete_groups(struct request *req);
void handle_offset_delete(struct request *req);
/* Producer ids and transactions (init_producer_id.c). */
void handle_init_producer_id(struct request *req);

/*
 * Creates `name` the way Kafka's AutoTopicCreationManager does, with the settings
 * its owner wants: __consumer_offsets with the group coordinator's
 * (offsets.topic.*, compacted), __transaction_state with the transaction log's
 * (transaction.state.log.*, compacted), any other topic with num.partitions and
 * default.replication.factor.  KERR_NONE (also when it already exists) or Kafka's
 * error.  Talks to ZooKeeper: call it on the admin executor only.
 */
int16_t topic_auto_create(struct broker *b, const char *name);
/* The same with explicit partitions, replication factor and topic configs. */
struct topic_config_entry;
int16_t topic_create_with(struct broker *b, const char *name, int partitions, int rf,
			  const struct topic_config_entry *configs, int n_configs);

/* The KIP-511 fallback: an ApiVersions request at a version we don't know gets a
 * v0 response with UNSUPPORTED_VERSION and our api list. */
void api_versions_unsupported(struct request *req);

#endif
