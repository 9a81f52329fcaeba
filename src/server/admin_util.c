/* Error messages, metadata-cache probes and propagation waits for admin handlers. */
#include "server/admin_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "samsa/metadata.h"
#include "server/broker.h"
#include "server/request.h"

struct kstr admin_message(struct request *req, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	n = n < 0 ? 0 : n >= (int)sizeof buf ? (int)sizeof buf - 1 : n;
	return (struct kstr){ arena_strndup(&req->arena, buf, (size_t)n), n };
}

int admin_cached_partitions(struct broker *b, const char *name)
{
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	const struct mc_topic *t = metadata_snapshot_find_topic(s, name, strlen(name));
	int n = t ? t->n_partitions : -1;
	metadata_snapshot_release(s);
	return n;
}

bool admin_cached_with_leaders(struct broker *b, const char *name, int n_partitions)
{
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	const struct mc_topic *t = metadata_snapshot_find_topic(s, name, strlen(name));
	bool ok = t && t->n_partitions == n_partitions;
	for (int i = 0; ok && i < t->n_partitions; i++)
		ok = t->partitions[i].leader >= 0;
	metadata_snapshot_release(s);
	return ok;
}

int64_t admin_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool admin_wait(struct broker *b, const char *name, int n, int64_t start_ms, int32_t timeout_ms,
		bool (*ready)(struct broker *b, const char *name, int n))
{
	if (timeout_ms <= 0)
		return true;
	int64_t deadline = start_ms + timeout_ms;
	while (!ready(b, name, n)) {
		if (admin_now_ms() >= deadline)
			return ready(b, name, n);
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return true;
}
