/*
 * /latest_producer_id_block [Kafka's ProducerIdBlockZNode and
 * ZkProducerIdManager.getNewProducerIdBlock]: the last block of producer ids
 * any broker claimed.  A broker claims the next one by reading the znode with
 * its version and writing the following block conditionally on that version,
 * so two brokers never get the same block, and since the znode outlives every
 * broker a restarted cluster never hands out an id twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/arena.h"
#include "samsa/util/json.h"
#include "samsa/util/log.h"
#include "samsa/zk.h"

#define PRODUCER_ID_BLOCK_PATH "/latest_producer_id_block"

void kafka_zk_producer_id_block_json(const struct kafka_producer_id_block *blk, struct wbuf *w)
{
	/* Kafka writes the bounds as decimal strings, in this key order. */
	char first[24], last[24];
	snprintf(first, sizeof first, "%" PRId64, blk->first);
	snprintf(last, sizeof last, "%" PRId64, blk->last);
	json_write_raw(w, "{\"version\":1,\"broker\":");
	json_write_int(w, blk->broker);
	json_write_raw(w, ",\"block_start\":");
	json_write_string(w, first);
	json_write_raw(w, ",\"block_end\":");
	json_write_string(w, last);
	json_write_raw(w, "}");
}

static bool parse_decimal(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return false;
	*out = v;
	return true;
}

int kafka_zk_parse_producer_id_block(const char *json, int len, struct kafka_producer_id_block *out)
{
	struct arena a;
	arena_init(&a);
	struct json *j = json_parse(&a, json, len > 0 ? (size_t)len : 0);
	int64_t broker;
	int rc = -1;
	if (j && json_get_int(j, "broker", &broker) && parse_decimal(json_get_string(j, "block_start"), &out->first) &&
	    parse_decimal(json_get_string(j, "block_end"), &out->last) && out->first >= 0 && out->last >= out->first) {
		out->broker = (int32_t)broker;
		rc = 0;
	}
	arena_free(&a);
	return rc;
}

int kafka_zk_claim_producer_id_block(struct zk *zk, int32_t broker_id, struct kafka_producer_id_block *out)
{
	for (;;) {
		char *data = NULL;
		int len = -1;
		struct Stat st;
		int rc = zk_get(zk, PRODUCER_ID_BLOCK_PATH, NULL, NULL, &data, &len, &st);
		bool exists = rc == ZOK;
		if (rc != ZOK && rc != ZNONODE) {
			log_error("Cannot read %s: %s", PRODUCER_ID_BLOCK_PATH, zerror(rc));
			return rc;
		}
		struct kafka_producer_id_block next = { .broker = broker_id, .first = 0 };
		if (exists && data && len > 0) {
			struct kafka_producer_id_block cur;
			if (kafka_zk_parse_producer_id_block(data, len, &cur) != 0) {
				log_error("%s holds no producer id block: %.*s", PRODUCER_ID_BLOCK_PATH, len, data);
				free(data);
				return KAFKA_ZK_MALFORMED;
			}
			if (cur.last > INT64_MAX - KAFKA_PRODUCER_ID_BLOCK_SIZE) {
				log_error("Producer ids exhausted: the last block claimed ends at %" PRId64, cur.last);
				free(data);
				return KAFKA_ZK_MALFORMED;
			}
			next.first = cur.first + (cur.last - cur.first + 1);
		}
		free(data);
		next.last = next.first + KAFKA_PRODUCER_ID_BLOCK_SIZE - 1;
		struct wbuf w;
		wbuf_init(&w);
		kafka_zk_producer_id_block_json(&next, &w);
		if (exists)
			rc = zk_set(zk, PRODUCER_ID_BLOCK_PATH, (const char *)w.data, (int)w.len, st.version, NULL);
		else
			rc = zk_create(zk, PRODUCER_ID_BLOCK_PATH, (const char *)w.data, (int)w.len, 0, NULL, NULL, 0);
		wbuf_free(&w);
		if (rc == ZOK) {
			log_info("Acquired producer id block %" PRId64 "-%" PRId64 " through %s", next.first, next.last,
				 PRODUCER_ID_BLOCK_PATH);
			*out = next;
			return ZOK;
		}
		/* Another broker claimed a block between our read and write: read again. */
		if (rc != ZBADVERSION && rc != ZNODEEXISTS) {
			log_error("Cannot write %s: %s", PRODUCER_ID_BLOCK_PATH, zerror(rc));
			return rc;
		}
	}
}
