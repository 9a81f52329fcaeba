/* Helpers shared by the admin handlers that run on the admin executor. */
#ifndef SAMSA_SERVER_ADMIN_UTIL_H
#define SAMSA_SERVER_ADMIN_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "samsa/util/buf.h"

struct request;
struct broker;

/* Formats an error message into the request's arena (Kafka's ErrorMessage fields). */
struct kstr admin_message(struct request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Partition count of `name` in this broker's metadata cache; -1 when absent. */
int admin_cached_partitions(struct broker *b, const char *name);
/* True once every partition of `name` has a leader in the metadata cache. */
bool admin_cached_with_leaders(struct broker *b, const char *name, int n_partitions);

/*
 * Waits, up to `timeout_ms` after `start_ms`, until ready(b, name, n) holds, as
 * Kafka's delayed admin operations wait for the metadata to propagate.  Returns
 * whether it held in time (a zero timeout means "do not wait": true).
 */
bool admin_wait(struct broker *b, const char *name, int n, int64_t start_ms, int32_t timeout_ms,
		bool (*ready)(struct broker *b, const char *name, int n));
int64_t admin_now_ms(void);

#endif
