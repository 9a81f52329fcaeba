/*
 * The broker's side of the log layer: the log.* settings turned into the log
 * manager's configuration (the log layer never reads server.properties itself;
 * topic_config.c makes the per-topic part).
 */
#include "server/broker_logs.h"

#include <stdint.h>
#include <string.h>

#include "samsa/config.h"
#include "samsa/log.h"
#include "samsa/util/log.h"
#include "server/broker.h"
#include "server/topic_config.h"

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
	topic_config_defaults(b->config, &lc.defaults);
	b->logs = log_manager_open(&lc);
	if (!b->logs)
		return -1;
	log_manager_start(b->logs);
	return 0;
}
