/*
 * The small text files of a log directory, in Kafka's formats
 * (DISK-FORMAT.md sections 9-12):
 *
 *   offset checkpoints   recovery-point-offset-checkpoint,
 *                        replication-offset-checkpoint,
 *                        log-start-offset-checkpoint, cleaner-offset-checkpoint:
 *                        "0\n<count>\n" then "<topic> <partition> <offset>\n" lines
 *   leader-epoch-checkpoint  the same frame with "<epoch> <start offset>" lines
 *   meta.properties      Java properties: version=0, broker.id, cluster.id
 *   partition.metadata   "version: 0\ntopic_id: <base64url id>"
 *
 * Every write goes to <file>.tmp, is fsynced, renamed over <file>, and the
 * directory is fsynced, so a crash leaves the old or the new file, whole.
 * Reads validate the frame and report a damaged file as
 * KERR_CORRUPT_MESSAGE with a warning naming it.
 */
#ifndef SAMSA_LOG_CHECKPOINT_H
#define SAMSA_LOG_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CHECKPOINT_RECOVERY_POINT "recovery-point-offset-checkpoint"
#define CHECKPOINT_REPLICATION "replication-offset-checkpoint"
#define CHECKPOINT_LOG_START_OFFSET "log-start-offset-checkpoint"
#define CHECKPOINT_CLEANER "cleaner-offset-checkpoint"
#define CHECKPOINT_LEADER_EPOCH "leader-epoch-checkpoint"
#define META_PROPERTIES_FILE "meta.properties"
#define PARTITION_METADATA_FILE "partition.metadata"

struct checkpoint_entry {
	char *topic;
	int32_t partition;
	int64_t offset;
};

struct epoch_entry {
	int32_t epoch;
	int64_t start_offset;
};

/* Write data to path atomically (tmp, fsync, rename, fsync of the dir). */
int checkpoint_write_file(const char *path, const void *data, size_t len);

/* Offset checkpoint files.  Lines are written in the order given. */
int checkpoint_write(const char *path, const struct checkpoint_entry *e, size_t n);
/*
 * Read one back: *out (caller frees with checkpoint_entries_free) and *n.
 * A missing file reads as no entries, as Kafka creates it empty.
 */
int checkpoint_read(const char *path, struct checkpoint_entry **out, size_t *n);
void checkpoint_entries_free(struct checkpoint_entry *e, size_t n);
/* The offset for (topic, partition) in e, or def. */
int64_t checkpoint_lookup(const struct checkpoint_entry *e, size_t n, const char *topic,
    int32_t partition, int64_t def);

int checkpoint_write_epochs(const char *path, const struct epoch_entry *e, size_t n);
/* *out is xmalloc'd (free()); a missing file reads as no entries. */
int checkpoint_read_epochs(const char *path, struct epoch_entry **out, size_t *n);

struct meta_properties {
	int version;          /* 0 for ZooKeeper mode */
	bool has_broker_id;
	int32_t broker_id;
	char cluster_id[64];  /* "" = absent */
	char directory_id[64]; /* "" = absent (only with ZK migration) */
};

/*
 * Write <dir>/meta.properties in Properties.store form: "#", "#<date>",
 * then version, broker.id, cluster.id (and directory.id if set).  The date
 * line is now, formatted as Java's Date.toString does, in local time.
 */
int meta_properties_write(const char *dir, const struct meta_properties *m, time_t now);
/*
 * Read it back.  *exists false (and KERR_NONE) when there is no file;
 * KERR_CORRUPT_MESSAGE when version is missing or a number is not one.
 */
int meta_properties_read(const char *dir, struct meta_properties *m, bool *exists);

/* partition.metadata: topic id in Kafka's 22-character base64url form. */
int partition_metadata_write(const char *dir, const char *topic_id);
int partition_metadata_read(const char *dir, char topic_id[32], bool *exists);

#endif
