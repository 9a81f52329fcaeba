/*
 * The broker's side of the log layer: the log.* settings turned into the log
 * manager's configuration (the log layer never reads server.properties itself).
 */
#include "server/broker_logs.h"

#include <stdint.h>
#include <string.h>

#include "log/log_manager.h"
#include "server/broker.h"
#include "server/config.h"
#include "util/log.h"

void broker_log_defaults(const struct config *cfg, struct log_config *c)
{
	const struct broker_config *bc = config_broker(cfg);
	log_config_init(c);
	c->segment_bytes = bc->log_segment_bytes;
	c->index_interval_bytes = bc->log_index_interval_bytes;
	c->index_max_bytes = bc->log_index_size_max_bytes;
	c->roll_ms = bc->log_roll_ms;
	c->roll_jitter_ms = bc->log_roll_jitter_ms;
	c->retention_ms = bc->log_retention_ms;
	c->retention_bytes = bc->log_retention_bytes;
	c->flush_interval_messages = bc->log_flush_interval_messages;
	c->flush_interval_ms = bc->log_flush_interval_ms;
	c->message_timestamp_type = bc->log_message_timestamp_type &&
					    strcmp(bc->log_message_timestamp_type, "LogAppendTime") == 0
					    ? LOG_TIMESTAMP_LOG_APPEND_TIME
					    : LOG_TIMESTAMP_CREATE_TIME;
	c->file_delete_delay_ms = bc->log_segment_delete_delay_ms;
	c->preallocate = bc->log_preallocate;
	int n = 0;
	char **policy = config_list(cfg, "log.cleanup.policy", &n);
	c->cleanup_delete = policy == NULL;
	for (int i = 0; i < n; i++)
		if (strcmp(policy[i], "delete") == 0)
			c->cleanup_delete = true;
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
	};
	broker_log_defaults(b->config, &lc.defaults);
	b->logs = log_manager_open(&lc);
	if (!b->logs)
		return -1;
	log_manager_start(b->logs);
	return 0;
}
