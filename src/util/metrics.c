/*
 * The process-wide counters (samsa/util/metrics.h).  Everything here is a
 * relaxed atomic: a scrape may see one counter a moment ahead of another,
 * which Prometheus tolerates, and the produce and fetch paths never wait.
 */
#include "samsa/util/metrics.h"

#include <time.h>

struct metrics metrics_global;

/* Request latency buckets, in ms: Kafka's TotalTimeMs spans sub-millisecond
 * metadata answers to acks=all produces and long-polling fetches (max.wait). */
const double metrics_latency_bounds_ms[METRICS_LATENCY_BUCKETS] = {
	0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
};

int64_t metrics_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void metrics_request_received(int16_t api_key, int16_t api_version)
{
	if (api_key < 0 || api_key >= METRICS_MAX_APIS || api_version < 0 || api_version >= METRICS_MAX_VERSIONS)
		return;
	metrics_add(&metrics_global.api[api_key].requests[api_version], 1);
}

void metrics_request_done(int16_t api_key, int64_t elapsed_us)
{
	if (api_key < 0 || api_key >= METRICS_MAX_APIS)
		return;
	if (elapsed_us < 0)
		elapsed_us = 0;
	struct metrics_api *a = &metrics_global.api[api_key];
	double ms = (double)elapsed_us / 1000.0;
	int i = 0;
	while (i < METRICS_LATENCY_BUCKETS && ms > metrics_latency_bounds_ms[i])
		i++;
	metrics_add(&a->latency_buckets[i], 1);
	metrics_add(&a->latency_us_sum, (uint64_t)elapsed_us);
}
