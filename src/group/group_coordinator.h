/*
 * The group coordinator [Kafka's GroupCoordinator + GroupMetadataManager, the
 * classic protocol]: consumer groups and their committed offsets, kept in
 * memory for the __consumer_offsets partitions this broker leads and written
 * to those partitions in Kafka's record formats, so a restarted or newly
 * elected coordinator rebuilds them from the log.
 *
 * The API handlers (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit/OffsetFetch v1+, DescribeGroups, ListGroups, DeleteGroups,
 * OffsetDelete) are declared in server/apis.h and live in src/group/.
 */
#ifndef SAMSA_GROUP_GROUP_COORDINATOR_H
#define SAMSA_GROUP_GROUP_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GROUP_OFFSETS_TOPIC "__consumer_offsets"

struct arena;
struct broker;
struct group_coordinator;
struct offset_commit_request;
struct offset_commit_response;

/* Reads the group.* and offsets.* settings from b->config. */
struct group_coordinator *group_coordinator_new(struct broker *b);
/* Starts the thread that loads partitions and enforces deadlines. */
void group_coordinator_start(struct group_coordinator *gc);
/* Answers every parked request, joins the thread. */
void group_coordinator_stop(struct group_coordinator *gc);
void group_coordinator_free(struct group_coordinator *gc);

/* This broker became leader (load its groups) or stopped leading (drop them). */
void group_coordinator_on_leadership(struct group_coordinator *gc, int32_t partition, bool leader,
				     int32_t leader_epoch);

/*
 * __consumer_offsets has n partitions [Kafka's groupMetadataTopicPartitionCount,
 * read from ZooKeeper at start-up].  The first call fixes the count groups map
 * onto, so a topic created after start-up with another count is used as it is;
 * later calls with another count only warn (live groups are not remapped).
 * Until the first call no group is served.
 */
void group_coordinator_set_topic_partitions(struct group_coordinator *gc, int32_t n);

/* The __consumer_offsets partition a group id maps to [Kafka's partitionFor]. */
int32_t group_coordinator_partition_for(const struct group_coordinator *gc, const char *group, size_t len);
/* offsets.topic.num.partitions: the partition count a new __consumer_offsets is created with. */
int32_t group_coordinator_topic_num_partitions(const struct group_coordinator *gc);
int16_t group_coordinator_replication_factor(const struct group_coordinator *gc);
int32_t group_coordinator_segment_bytes(const struct group_coordinator *gc);

/*
 * The OffsetCommit answer shaped like its request: every topic and partition
 * asked about, in order, with error NONE; allocated in `a`.  Both homes of
 * committed offsets answer through it (ZooKeeper for v0, the coordinator for v1+).
 */
void group_offset_commit_response(struct arena *a, const struct offset_commit_request *oc,
				  struct offset_commit_response *out);
/* Gives every partition of the answer that has no error yet `err` (a request-level failure). */
void group_offset_commit_response_fail(struct offset_commit_response *resp, int16_t err);

#endif
