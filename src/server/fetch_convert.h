/* Fetch's lazy down-conversion for Fetch v0-v3 consumers (see fetch_convert.c). */
#ifndef SAMSA_SERVER_FETCH_CONVERT_H
#define SAMSA_SERVER_FETCH_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "samsa/net.h"
#include "samsa/util/buf.h"
#include "server/apis.h"

struct log_read_result;

struct fetch_convert_args {
	struct kstr topic;
	int32_t partition;
	int8_t magic;          /* 0 for Fetch v0-v1, 1 for v2-v3 */
	int64_t fetch_offset;
	const char *peer;      /* for the log */
};

/*
 * Start converting the range r of one partition: its first batch now, the
 * rest through *src as the socket drains.  On KERR_NONE with *declared > 0
 * the source owns r's segment reference (r is cleared) and the partition's
 * records are *declared bytes made by *src; with *declared == 0 there is no
 * whole batch to send (r stays the caller's).  An error (CORRUPT_MESSAGE,
 * UNSUPPORTED_COMPRESSION_TYPE, KAFKA_STORAGE_ERROR) is the partition's, and
 * r stays the caller's.
 */
int16_t fetch_convert_begin(const struct fetch_convert_args *a, struct log_read_result *r,
			    struct net_lazy_source *src, size_t *declared);

#endif
