/*
 * __transaction_state records in Kafka's formats [TransactionLog]: key =
 * int16 version 0 + TransactionLogKey; value = int16 version +
 * TransactionLogValue (we write v0, as Kafka 3.9 does, and read v0 and v1),
 * or null when the transactional id expired.  An Empty transaction has a null
 * partition list; the others list their partitions grouped by topic.
 */
#include <stdlib.h>
#include <string.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "samsa/util/xalloc.h"
#include "txn/txn_internal.h"

#define KEY_VERSION 0
#define VALUE_VERSION 0

void txn_transit_clear(struct txn_transit *t)
{
	for (int i = 0; i < t->n_tps; i++)
		free(t->tps[i].topic);
	free(t->tps);
	t->tps = NULL;
	t->n_tps = 0;
}

void txn_transit_copy(struct txn_transit *dst, const struct txn_transit *src)
{
	*dst = *src;
	dst->tps = xcalloc((size_t)(src->n_tps ? src->n_tps : 1), sizeof *dst->tps);
	for (int i = 0; i < src->n_tps; i++) {
		dst->tps[i].topic = xstrdup(src->tps[i].topic);
		dst->tps[i].partition = src->tps[i].partition;
	}
}

static struct kbytes as_bytes(const struct wbuf *w) { return (struct kbytes){ w->data, (int32_t)w->len }; }

void txn_record_add(struct batch_builder *bb, int64_t now, const char *id, const struct txn_transit *t)
{
	struct wbuf k, v;
	wbuf_init(&k);
	wbuf_init(&v);
	struct transaction_log_key key = { kstr_c(id) };
	wbuf_i16(&k, KEY_VERSION);
	transaction_log_key_encode(&k, KEY_VERSION, &key);
	struct kbytes value = { NULL, -1 };
	struct transaction_log_value_partitions_schema *ps = NULL;
	if (t) {
		struct transaction_log_value val;
		transaction_log_value_init(&val);
		val.producer_id = t->producer_id;
		val.producer_epoch = t->epoch;
		val.transaction_timeout_ms = t->timeout_ms;
		val.transaction_status = (int8_t)t->state;
		val.transaction_last_update_timestamp_ms = t->update_ts;
		val.transaction_start_timestamp_ms = t->start_ts;
		int32_t *ids = NULL;
		if (t->state == TXN_EMPTY) {
			val.transaction_partitions = NULL;
			val.transaction_partitions_count = -1;
		} else {
			/* Group by topic, in the order topics first appear. */
			ps = xcalloc((size_t)(t->n_tps ? t->n_tps : 1), sizeof *ps);
			ids = xcalloc((size_t)(t->n_tps ? t->n_tps : 1), sizeof *ids);
			bool *done = xcalloc((size_t)(t->n_tps ? t->n_tps : 1), sizeof *done);
			int n = 0, used = 0;
			for (int i = 0; i < t->n_tps; i++) {
				if (done[i])
					continue;
				ps[n].topic = kstr_c(t->tps[i].topic);
				ps[n].partition_ids = &ids[used];
				for (int j = i; j < t->n_tps; j++)
					if (!done[j] && strcmp(t->tps[j].topic, t->tps[i].topic) == 0) {
						done[j] = true;
						ids[used++] = t->tps[j].partition;
						ps[n].partition_ids_count++;
					}
				n++;
			}
			free(done);
			val.transaction_partitions = ps;
			val.transaction_partitions_count = n;
		}
		wbuf_i16(&v, VALUE_VERSION);
		transaction_log_value_encode(&v, VALUE_VERSION, &val);
		value = as_bytes(&v);
		free(ids);
	}
	batch_builder_add(bb, now, as_bytes(&k), value, NULL, 0);
	free(ps);
	wbuf_free(&k);
	wbuf_free(&v);
}

int txn_record_decode(const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len, char **id,
		      struct txn_transit *out)
{
	if (!key || key_len < 2)
		return -1;
	struct arena a;
	arena_init(&a);
	int rc = -1;
	struct rd r;
	rd_init(&r, key, (size_t)key_len);
	int16_t kv = rd_i16(&r);
	struct transaction_log_key k;
	if (kv != KEY_VERSION || transaction_log_key_decode(&r, &a, kv, &k) != 0 || r.err || !k.transactional_id.ptr)
		goto out;
	if (!value) {
		*id = xstrndup(k.transactional_id.ptr, (size_t)k.transactional_id.len);
		rc = 0;
		goto out;
	}
	if (value_len < 2)
		goto out;
	struct rd vr;
	rd_init(&vr, value, (size_t)value_len);
	int16_t vv = rd_i16(&vr);
	struct transaction_log_value v;
	if (vv < 0 || vv > 1 || transaction_log_value_decode(&vr, &a, vv, &v) != 0 || vr.err)
		goto out;
	if (v.transaction_status < TXN_EMPTY || v.transaction_status > TXN_PREPARE_EPOCH_FENCE)
		goto out;
	memset(out, 0, sizeof *out);
	out->producer_id = v.producer_id;
	out->last_producer_id = -1;
	out->epoch = v.producer_epoch;
	out->last_epoch = -1;
	out->timeout_ms = v.transaction_timeout_ms;
	out->state = v.transaction_status;
	out->start_ts = v.transaction_start_timestamp_ms;
	out->update_ts = v.transaction_last_update_timestamp_ms;
	int n = 0;
	for (int32_t i = 0; i < v.transaction_partitions_count; i++)
		n += v.transaction_partitions[i].partition_ids_count > 0 ? v.transaction_partitions[i].partition_ids_count : 0;
	out->tps = xcalloc((size_t)(n ? n : 1), sizeof *out->tps);
	for (int32_t i = 0; i < v.transaction_partitions_count; i++) {
		const struct transaction_log_value_partitions_schema *p = &v.transaction_partitions[i];
		if (!p->topic.ptr)
			continue;
		for (int32_t j = 0; j < p->partition_ids_count; j++) {
			out->tps[out->n_tps].topic = xstrndup(p->topic.ptr, (size_t)p->topic.len);
			out->tps[out->n_tps++].partition = p->partition_ids[j];
		}
	}
	*id = xstrndup(k.transactional_id.ptr, (size_t)k.transactional_id.len);
	rc = 1;
out:
	arena_free(&a);
	return rc;
}
