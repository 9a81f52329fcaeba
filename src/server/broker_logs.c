/*
 * The broker's side of the log layer: the log.* settings turned into the log
 * manager's configuration (the log layer never reads server.properties itself;
 * topic_config.c makes the per-topic part).
 */
#include "server/broker_logs.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "samsa/config.h"
#include "samsa/log.h"
#include "samsa/replica.h"
#include "samsa/util/log.h"
#include "samsa/zk.h"
#include "server/broker_dynamic.h"
#include "server/broker.h"
#include "server/topic_config.h"

/*
 * [Kafka's ReplicaManager.handleLogDirFailure]: the dir's partitions go
 * offline here, the controller hears of it through a log dir event and
 * answers with a LeaderAndIsr whose KAFKA_STORAGE_ERROR answers tell it which
 * replicas to take out of service.  With no dir left the broker halts, as
 * Kafka does.  Runs on the log scheduler's thread.
 */
static void on_dir_failed(void *arg, const char *dir, struct log_ref *const *logs, int n)
{
	struct broker *b = arg;
	struct replica_manager *rm = __atomic_load_n(&b->replicas, __ATOMIC_ACQUIRE);
	for (int i = 0; rm && i < n; i++) {
		size_t tl;
		const char *topic = log_ref_topic(logs[i], &tl);
		replica_manager_mark_offline(rm, topic, tl, log_ref_partition(logs[i]));
	}
	if (log_manager_online_dir_count(b->logs) == 0) {
		log_error("Shutdown broker because all log dirs in %s have failed", dir);
		_exit(1);
	}
	int rc = topic_zk_create_log_dir_event(b->zk, b->id);
	if (rc != ZOK)
		log_error("Cannot write the log dir event for %s to ZooKeeper: %s", dir, zerror(rc));
	else
		log_info("Told the controller that log dir %s is offline (%d partitions)", dir, n);
}

int broker_open_logs(struct broker *b)
{
	const struct broker_config *bc = b->bc;
	struct log_manager_config lc = {
		.dirs = bc->log_dirs,
		.n_dirs = bc->n_log_dirs,
		.broker_id = b->id,
		.cluster_id = b->cluster_id,
		.retention_check_interval_ms = bc->log_retention_check_interval_ms,
		.flush_scheduler_interval_ms = bc->log_flush_scheduler_interval_ms,
		.flush_checkpoint_interval_ms = config_int(b->config, "log.flush.offset.checkpoint.interval.ms"),
		.flush_start_offset_checkpoint_interval_ms =
			config_int(b->config, "log.flush.start.offset.checkpoint.interval.ms"),
		.hw_checkpoint_interval_ms = bc->replica_high_watermark_checkpoint_interval_ms,
		.cleaner_enable = bc->log_cleaner_enable,
		.cleaner_threads = config_int(b->config, "log.cleaner.threads"),
		.cleaner_dedupe_buffer_size = config_long(b->config, "log.cleaner.dedupe.buffer.size"),
		.cleaner_io_buffer_load_factor = config_double(b->config, "log.cleaner.io.buffer.load.factor"),
		.cleaner_io_max_bytes_per_second = config_double(b->config, "log.cleaner.io.max.bytes.per.second"),
		.cleaner_backoff_ms = config_long(b->config, "log.cleaner.backoff.ms"),
		.producer_id_expiration_ms = bc->producer_id_expiration_ms,
		.dir_failed = on_dir_failed,
		.dir_failed_arg = b,
	};
	topic_config_defaults(broker_config_effective(b), &lc.defaults);
	b->logs = log_manager_open(&lc);
	if (!b->logs)
		return -1;
	log_manager_start(b->logs);
	return 0;
}
