/*
 * The follower's decisions on one partition's Fetch answer [Kafka's
 * AbstractFetcherThread.processFetchRequest / getOffsetTruncationState /
 * fetchOffsetAndTruncate and ReplicaFetcherThread.processPartitionData]:
 * append, fetch again, back off, or cut the log (to an offset, or wholly to
 * start again at the leader's log start).  Pure functions of what the
 * follower's log holds and what the leader answered, so each rule can be
 * tested without a leader, a socket or a log; fetcher.c carries them out.
 */
#ifndef SAMSA_REPLICA_FETCHER_TRUNCATION_H
#define SAMSA_REPLICA_FETCHER_TRUNCATION_H

#include <stdbool.h>
#include <stdint.h>

enum fetcher_action {
	FETCHER_APPEND,          /* append the answer's records, follow HW and log start */
	FETCHER_FETCH_AGAIN,     /* drop this answer and fetch again at once */
	FETCHER_BACK_OFF,        /* nothing to do now: wait replica.fetch.backoff.ms */
	FETCHER_TRUNCATE,        /* cut the log to `offset` (Log.truncateTo), then fetch again */
	FETCHER_TRUNCATE_FULLY,  /* empty the log and start again at `offset` (truncateFullyAndStartAt) */
};

struct fetcher_decision {
	enum fetcher_action action;
	int64_t offset; /* FETCHER_TRUNCATE / FETCHER_TRUNCATE_FULLY */
};

/* One partition of the leader's Fetch answer. */
struct fetcher_answer {
	int16_t error;
	int64_t high_watermark;
	int64_t log_start_offset;
	int32_t diverging_epoch;      /* v12+ (KIP-320); -1: none */
	int64_t diverging_end_offset; /* -1: none */
};

/* The follower's log as it is now, and where this fetch started. */
struct fetcher_local {
	int64_t log_end_offset;
	int64_t fetched_from;
};

/* What to do with one partition's answer. */
struct fetcher_decision fetcher_decide(const struct fetcher_answer *ans, const struct fetcher_local *loc);

/*
 * OFFSET_OUT_OF_RANGE: behind the leader's log start, start over there;
 * ahead of the leader (an unclean election), cut back to its high watermark;
 * else back off.  -1 for what the leader did not say.
 */
struct fetcher_decision fetcher_out_of_range(int64_t log_end_offset, int64_t leader_log_start,
					     int64_t leader_high_watermark);

/* The leader reports that our log diverged: where to cut it. */
struct fetcher_decision fetcher_diverged(int64_t log_end_offset, int32_t leader_epoch, int64_t leader_end_offset);

/* After an append: the high watermark to set (min of the leader's and our LEO), or -1 to leave it. */
int64_t fetcher_high_watermark(int64_t leader_high_watermark, int64_t log_end_offset, int64_t high_watermark);

/* After an append: follow the leader's log start up to our high watermark (-1: leave it). */
int64_t fetcher_log_start(int64_t leader_log_start, int64_t log_start_offset, int64_t high_watermark);

#endif
