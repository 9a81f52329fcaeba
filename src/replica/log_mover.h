/*
 * The log dir mover [Kafka's ReplicaAlterLogDirsManager and its thread]: one
 * thread that copies each moving partition's current log into its future
 * log, a megabyte at a time, and swaps the two once the copy has caught up.
 */
#ifndef SAMSA_REPLICA_LOG_MOVER_H
#define SAMSA_REPLICA_LOG_MOVER_H

#include <stddef.h>
#include <stdint.h>

struct log_mover;
struct log_manager;
struct log_ref;
struct partition;

struct log_mover *log_mover_new(struct log_manager *lm);
/* Stops the thread; moves in progress are dropped (their copies are removed at the next start). */
void log_mover_free(struct log_mover *m);
/* Start copying into future (the mover takes over both references; the thread starts on first use). */
void log_mover_add(struct log_mover *m, struct partition *p, struct log_ref *future);
/* Stop moving this partition, if it is being moved; its future log is abandoned. */
void log_mover_cancel(struct log_mover *m, const char *topic, size_t topic_len, int32_t partition);

#endif
