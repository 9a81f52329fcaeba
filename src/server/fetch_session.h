/*
 * Fetch sessions (KIP-227) [Kafka's FetchSessionCache]: a consumer or follower
 * that fetches the same partitions over and over registers them once; later
 * requests name only what changed, and responses carry only partitions with
 * news (records, a moved high watermark or log start, an error).
 *
 * The cache is shared by every network thread behind one mutex.  A fetch
 * takes a copy of the session's partitions when it starts (fetch_session_begin)
 * and writes back what it sent when it answers (fetch_session_commit), so a
 * delayed fetch never holds the lock while it waits.
 */
#ifndef SAMSA_SERVER_FETCH_SESSION_H
#define SAMSA_SERVER_FETCH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/arena.h"
#include "samsa/util/buf.h"

#define FETCH_SESSION_INITIAL_EPOCH 0
#define FETCH_SESSION_FINAL_EPOCH (-1)
/* Kafka's min.incremental.fetch.session.eviction.ms: how long a session is safe from eviction. */
#define FETCH_SESSION_EVICTION_MS 120000

/* One partition to read, and what the client last heard about it. */
struct fetch_target {
	struct kstr topic;        /* in the fetch's arena */
	uint8_t topic_id[16];
	int32_t partition;
	int64_t fetch_offset;
	int32_t max_bytes;
	int32_t current_leader_epoch;
	int32_t last_fetched_epoch; /* followers, v12+: KIP-320 divergence check */
	/* Last values sent (sessions only; -1 = never sent). */
	int64_t sent_hw;
	int64_t sent_log_start;
	bool responded;           /* set by fetch_session_record_sent: in this response */
};

struct fetch_session_cache;

struct fetch_session_cache *fetch_session_cache_new(int max_slots);
void fetch_session_cache_free(struct fetch_session_cache *c);

/* What a request asks of the cache, and the plan it gets back. */
struct fetch_session_request {
	int32_t session_id;
	int32_t epoch;
	const struct fetch_target *parts;  /* the request's partitions */
	size_t n_parts;
	const struct fetch_target *forgotten; /* v7+: partitions to drop (offsets unused) */
	size_t n_forgotten;
	int64_t now_ms;
	bool privileged;        /* from a follower: its sessions are worth more (eviction) */
	bool uses_topic_ids;    /* v13+: partitions named by topic id */
};

struct fetch_session_plan {
	int16_t error;          /* KERR_NONE, FETCH_SESSION_ID_NOT_FOUND or INVALID_FETCH_SESSION_EPOCH */
	int32_t session_id;     /* for the response: 0 = no session */
	bool incremental;       /* answer only partitions with news */
	struct fetch_target *parts; /* everything to read, in arena */
	size_t n_parts;
};

/* Resolve a request against the cache (creating, updating or closing a session). */
void fetch_session_begin(struct fetch_session_cache *c, const struct fetch_session_request *r, struct arena *a,
			 struct fetch_session_plan *out);
/* After answering: remember the HW and log start sent for each partition of the session. */
void fetch_session_commit(struct fetch_session_cache *c, int32_t session_id, const struct fetch_target *parts,
			  size_t n_parts);
/*
 * Whether an incremental response must carry a partition that read this
 * [CachedPartition.maybeUpdateResponseData]: records, an error, a diverging
 * epoch, or a high watermark or log start other than the last one sent.
 */
bool fetch_session_must_respond(const struct fetch_target *t, int16_t error, size_t records_len, int64_t hw,
				int64_t log_start, int32_t diverging_epoch, int64_t diverging_end_offset);
/* The partition goes into the response: remember what it carried, for fetch_session_commit. */
void fetch_session_record_sent(struct fetch_target *t, int16_t error, int64_t hw, int64_t log_start);
/* Sessions in the cache. */
int fetch_session_count(struct fetch_session_cache *c);

#endif
