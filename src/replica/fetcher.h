/*
 * Replica fetchers [Kafka's ReplicaFetcherManager + ReplicaFetcherThread]:
 * for the partitions this broker follows, num.replica.fetchers threads per
 * leader broker (partitions spread by hash) fetch with replica_id = our id and appends what it gets as-is, follows
 * the leader's high watermark and log start offset, and truncates where the
 * leader says our log diverged (Fetch v12+ diverging_epoch, KIP-320).
 */
#ifndef SAMSA_REPLICA_FETCHER_H
#define SAMSA_REPLICA_FETCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct partition;
struct fetcher_manager;

struct fetcher_config {
	int32_t broker_id;
	int32_t num_fetchers;        /* num.replica.fetchers: threads per leader broker */
	int32_t max_wait_ms;         /* replica.fetch.wait.max.ms */
	int32_t min_bytes;           /* replica.fetch.min.bytes */
	int32_t response_max_bytes;  /* replica.fetch.response.max.bytes */
	int32_t partition_max_bytes; /* replica.fetch.max.bytes */
	int32_t backoff_ms;          /* replica.fetch.backoff.ms */
	int32_t socket_timeout_ms;   /* replica.socket.timeout.ms */
	/* "host:port" of a broker on the inter-broker listener; 0, or -1 when unknown now. */
	int (*endpoint)(void *arg, int32_t broker_id, char *out, size_t cap);
	void *arg;
};

struct fetcher_manager *fetcher_manager_new(const struct fetcher_config *cfg);
/* Stops and joins every thread; partitions are dropped. */
void fetcher_manager_free(struct fetcher_manager *fm);

/* Follow `leader` for this partition at leader_epoch (replaces an earlier assignment; takes
 * over the reference to part). */
void fetcher_manager_add(struct fetcher_manager *fm, const char *topic, size_t topic_len, int32_t partition,
			 int32_t leader, int32_t leader_epoch, struct partition *part);
/* Stop fetching this partition (we lead it now, or no longer host it). */
void fetcher_manager_remove(struct fetcher_manager *fm, const char *topic, size_t topic_len, int32_t partition);

#endif
