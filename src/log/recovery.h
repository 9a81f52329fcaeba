/*
 * Loading a partition directory and recovering it after a crash
 * (Kafka's LogLoader and LogSegment.recover).
 *
 * A broker that stopped cleanly leaves .kafka_cleanshutdown in each log
 * dir; without it, every segment from the one holding the recovery point
 * (the offset up to which data was fsynced) is re-read: each batch's size,
 * magic and CRC are checked, the segment is cut at the first bad or torn
 * batch, later segments are deleted (they were written after the damage,
 * so nothing in them can be trusted to follow on) and the indexes rebuilt.
 * A missing or implausible index is rebuilt the same way at any time.
 */
#ifndef SAMSA_LOG_RECOVERY_H
#define SAMSA_LOG_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

struct log;
struct segment;
struct leader_epoch_cache;

#define RECOVERY_CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"

/* The clean-shutdown marker of a log dir (the root, not a partition dir). */
bool recovery_clean_shutdown_exists(const char *log_dir);
/* Written after every log is flushed and closed: {"version":0,"brokerEpoch":-1}. */
int recovery_write_clean_shutdown(const char *log_dir);
/* Removed at start-up, before anything is appended. */
int recovery_remove_clean_shutdown(const char *log_dir);

/*
 * Re-read one segment: validate batches, rebuild both indexes, cut the
 * .log at the first invalid batch.  Epochs of v2 batches newer than the
 * cache's latest are added to epochs (may be NULL).  *truncated = bytes cut
 * off; *why (may be NULL) says what was wrong at the cut.
 */
int recovery_recover_segment(struct segment *s, struct leader_epoch_cache *epochs,
    uint32_t *truncated, const char **why);

/*
 * Load l->dir into l (log_open's work): clean up leftovers, open segments,
 * rebuild bad indexes, recover after an unclean shutdown, set LEO, log
 * start offset and recovery point.
 */
int recovery_load(struct log *l, bool clean_shutdown, int64_t recovery_point,
    int64_t log_start_offset, int64_t now_ms);

#endif
