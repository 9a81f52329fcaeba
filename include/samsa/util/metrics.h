/*
 * The broker's process-wide counters [Kafka's BrokerTopicStats "all topics",
 * RequestMetrics, ReplicaManager's IsrShrinks/IsrExpands, the purgatories'
 * sizes]: plain atomics bumped with relaxed ordering on the hot path (no lock,
 * no allocation), read by the metrics endpoint (src/server/metrics_http.c)
 * when it is scraped.  Counters only grow; gauges go up and down.  Per-topic
 * and per-partition figures live with the partition (samsa/replica.h).
 */
#ifndef SAMSA_UTIL_METRICS_H
#define SAMSA_UTIL_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

/* API keys of Kafka 3.9 are below this; versions below METRICS_MAX_VERSIONS. */
#define METRICS_MAX_APIS 96
#define METRICS_MAX_VERSIONS 24
/* Upper bounds (ms) of the request latency histogram's buckets; +Inf follows. */
#define METRICS_LATENCY_BUCKETS 14
extern const double metrics_latency_bounds_ms[METRICS_LATENCY_BUCKETS];

/* Which delayed operations sit in the purgatory [DelayedOperationPurgatory's purgatoryName]. */
enum metrics_delayed {
	METRICS_DELAYED_PRODUCE,
	METRICS_DELAYED_FETCH,
	METRICS_DELAYED_HEARTBEAT, /* the group APIs' delayed joins, syncs and heartbeats */
	METRICS_DELAYED_KINDS,
};

struct metrics_api {
	atomic_uint_fast64_t requests[METRICS_MAX_VERSIONS];
	atomic_uint_fast64_t latency_buckets[METRICS_LATENCY_BUCKETS + 1]; /* per bucket, not cumulative */
	atomic_uint_fast64_t latency_us_sum;
};

struct metrics {
	/* BrokerTopicMetrics without a topic: every topic together. */
	atomic_uint_fast64_t messages_in;
	atomic_uint_fast64_t bytes_in;
	atomic_uint_fast64_t bytes_out;
	atomic_uint_fast64_t replication_bytes_in;
	atomic_uint_fast64_t replication_bytes_out;
	atomic_uint_fast64_t total_produce_requests;
	atomic_uint_fast64_t total_fetch_requests;
	atomic_uint_fast64_t failed_produce_requests;
	/* ReplicaManager */
	atomic_uint_fast64_t isr_shrinks;
	atomic_uint_fast64_t isr_expands;
	/* DelayedOperationPurgatory: operations waiting now. */
	atomic_int_fast64_t purgatory_size[METRICS_DELAYED_KINDS];
	/* RequestMetrics, per API key. */
	struct metrics_api api[METRICS_MAX_APIS];
};

/* The one instance of the process (zero-initialised, ready at load). */
extern struct metrics metrics_global;

static inline void metrics_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t metrics_read(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static inline void metrics_delayed_added(enum metrics_delayed k)
{
	atomic_fetch_add_explicit(&metrics_global.purgatory_size[k], 1, memory_order_relaxed);
}

static inline void metrics_delayed_done(enum metrics_delayed k)
{
	atomic_fetch_sub_explicit(&metrics_global.purgatory_size[k], 1, memory_order_relaxed);
}

/* One request of api_key at api_version arrived (ignored when out of range). */
void metrics_request_received(int16_t api_key, int16_t api_version);
/* One request of api_key was answered (or dropped) elapsed_us after it arrived. */
void metrics_request_done(int16_t api_key, int64_t elapsed_us);

/* A monotonic clock in microseconds, for latencies. */
int64_t metrics_now_us(void);

#endif
