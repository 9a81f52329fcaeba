/*
 * Produce [Kafka's KafkaApis.handleProduceRequest + ReplicaManager.appendRecords]:
 * per partition, validate the producer's batches, append them to the log we
 * lead, and answer with the base offset, or with the partition's error code.
 *
 * The batches are appended from the request frame itself: the log patches
 * the broker-owned header fields in place and writes the bytes with one
 * pwrite, so nothing on this path is copied or allocated per message.
 * The exceptions rewrite the producer's bytes into a per-thread buffer: a
 * topic whose compression.type names another codec, and magic 0/1 sets from
 * Produce v0-v2, which are converted to one v2 batch (samsa/log.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "samsa/config.h"
#include "samsa/purgatory.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/util/clock.h"

typedef struct produce_response_partition_produce_response part_resp;

/* Scratch for decompressing batches while validating them, and for batches re-compressed
 * for the topic's compression.type: one pair per network thread, reused, and freed when its
 * thread ends. */
struct produce_scratch {
	struct wbuf plain;
	struct wbuf out;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
	struct produce_scratch *s = p;
	wbuf_free(&s->plain);
	wbuf_free(&s->out);
	free(s);
}

static void scratch_key_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static struct produce_scratch *thread_scratch(void)
{
	pthread_once(&scratch_once, scratch_key_init);
	struct produce_scratch *s = pthread_getspecific(scratch_key);
	if (!s) {
		s = xmalloc(sizeof *s);
		wbuf_init(&s->plain);
		wbuf_init(&s->out);
		pthread_setspecific(scratch_key, s);
	}
	return s;
}

static bool is_internal_topic(struct kstr t)
{
	return kstr_eq(t, "__consumer_offsets") || kstr_eq(t, "__transaction_state");
}

/* A partition of an acks=all produce that waits for the ISR. */
struct pending_ack {
	struct kstr topic;
	part_resp *pr;
	int64_t required; /* the high watermark must reach this */
	bool done;
};

/* An acks=all produce in the purgatory [Kafka's DelayedProduce]. */
struct delayed_produce {
	struct request *req;
	struct produce_response *resp;
	struct pending_ack *acks;
	int n_acks;
};

/* Kafka's LogValidator conversion of a magic 0/1 set to magic 2, into scratch->out; sets pr's error on failure. */
static int16_t convert_legacy(struct request *req, struct kstr topic, struct kbytes records,
			      const struct log_config *cfg, int64_t now, struct produce_scratch *scratch, part_resp *pr)
{
	struct legacy_convert_opts lo;
	legacy_convert_opts_init(&lo);
	lo.now_ms = now;
	lo.log_append_time = cfg->message_timestamp_type == LOG_TIMESTAMP_LOG_APPEND_TIME;
	lo.timestamp_before_max_ms = cfg->timestamp_before_max_ms;
	lo.timestamp_after_max_ms = cfg->timestamp_after_max_ms;
	lo.max_message_bytes = cfg->max_message_bytes;
	lo.compacted = cfg->cleanup_compact;
	lo.target_codec = cfg->compression_type;
	lo.level = cfg->compression_level;
	struct legacy_convert_info li;
	wbuf_reset(&scratch->out);
	int16_t err = (int16_t)legacy_records_convert(records.ptr, (size_t)records.len, &lo, &scratch->plain,
						       &scratch->out, &li);
	if (err != KERR_NONE) {
		log_warn("Produce to %.*s-%d from %s rejected: %s (%s)", topic.len, topic.ptr, pr->index, req->info.peer,
			 kafka_error_name(err), li.error_message ? li.error_message : "invalid message set");
		pr->error_code = err;
		if (li.error_message)
			pr->error_message = kstr_c(li.error_message);
	}
	return err;
}

static void append_partition(struct request *req, struct kstr topic, struct kbytes records, part_resp *pr,
			     bool *appended, struct pending_ack *ack)
{
	struct broker *b = req->broker;
	int16_t version = req->header.api_version;
	pr->base_offset = -1;
	pr->log_append_time_ms = -1;
	pr->log_start_offset = -1;

	if (is_internal_topic(topic)) {
		/* Only the coordinators write these, through their own path. */
		pr->error_code = KERR_INVALID_TOPIC_EXCEPTION;
		return;
	}
	struct partition *part = replica_manager_partition(b->replicas, topic.ptr, (size_t)topic.len, pr->index);
	if (!part) {
		pr->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		return;
	}
	/* The config for validation; leadership is checked again, with the append, under the partition's lock. */
	struct log_config cfg;
	int16_t err = partition_leader_config(part, &cfg);
	if (err != KERR_NONE) {
		pr->error_code = err;
		goto out;
	}
	if (!records.ptr || records.len <= 0) {
		pr->error_code = KERR_CORRUPT_MESSAGE;
		goto out;
	}
	int64_t now = wall_clock_ms();
	const struct produce_request *pq = req->body;
	struct produce_scratch *scratch = thread_scratch();
	uint8_t *data;
	size_t data_len;
	if (version <= 2 && legacy_records_is_legacy(records.ptr, (size_t)records.len)) {
		/* An old producer's magic 0/1 set: one v2 batch, already in the topic's codec. */
		err = convert_legacy(req, topic, records, &cfg, now, scratch, pr);
		if (err != KERR_NONE)
			goto out;
		data = scratch->out.data;
		data_len = scratch->out.len;
		goto append;
	}
	struct records_validate_opts o;
	records_validate_opts_init(&o);
	o.from_client = true;
	o.single_batch = version >= 3;
	o.now_ms = now;
	o.max_batch_bytes = cfg.max_message_bytes;
	o.compacted = cfg.cleanup_compact;
	o.log_append_time = cfg.message_timestamp_type == LOG_TIMESTAMP_LOG_APPEND_TIME;
	o.timestamp_before_max_ms = cfg.timestamp_before_max_ms;
	o.timestamp_after_max_ms = cfg.timestamp_after_max_ms;
	o.scratch = &scratch->plain;
	struct records_info info;
	err = (int16_t)records_validate(records.ptr, (size_t)records.len, &o, &info);
	if (err != KERR_NONE) {
		log_warn("Produce to %.*s-%d from %s rejected: %s (%s)", topic.len, topic.ptr, pr->index, req->info.peer,
			 kafka_error_name(err), info.error_message ? info.error_message : "invalid batch");
		pr->error_code = err;
		if (info.error_message)
			pr->error_message = kstr_c(info.error_message);
		if (info.error_batch >= 0 && (err == KERR_INVALID_RECORD || err == KERR_INVALID_TIMESTAMP)) {
			pr->record_errors = arena_alloc(&req->arena, sizeof *pr->record_errors);
			produce_response_batch_index_and_error_message_init(pr->record_errors);
			pr->record_errors[0].batch_index = info.error_record > 0 ? info.error_record : 0;
			pr->record_errors[0].batch_index_error_message = pr->error_message;
			pr->record_errors_count = 1;
		}
		goto out;
	}
	if (info.valid_bytes == 0) {
		pr->error_code = KERR_CORRUPT_MESSAGE;
		goto out;
	}
	data = (uint8_t *)records.ptr;
	data_len = info.valid_bytes;
	if (cfg.compression_type != COMPRESSION_PRODUCER &&
	    records_need_recompress(data, data_len, cfg.compression_type)) {
		/* The topic names a codec: the one case where the producer's bytes are rewritten. */
		wbuf_reset(&scratch->out);
		err = (int16_t)records_recompress(data, data_len, cfg.compression_type, cfg.compression_level,
						  &scratch->plain, &scratch->out);
		if (err != KERR_NONE) {
			log_warn("Produce to %.*s-%d from %s: re-compression to %s failed: %s", topic.len, topic.ptr,
				 pr->index, req->info.peer, compression_codec_name(cfg.compression_type),
				 kafka_error_name(err));
			pr->error_code = err;
			goto out;
		}
		data = scratch->out.data;
		data_len = scratch->out.len;
	}
append:;
	struct log_append_info ai;
	int64_t wait_offset;
	/* The frame is ours (see request.h): the log may patch offsets and epochs in place. */
	err = partition_append_as_leader(part, data, data_len, pq->acks, now, &ai, &wait_offset);
	if (err != KERR_NONE) {
		pr->error_code = err;
		goto out;
	}
	pr->base_offset = ai.first_offset;
	pr->log_append_time_ms = ai.log_append_time;
	pr->log_start_offset = ai.log_start_offset;
	*appended = true;
	if (ack && wait_offset >= 0) {
		ack->topic = topic;
		ack->pr = pr;
		ack->required = wait_offset;
		ack->done = false;
	}
out:
	partition_unref(part);
}

/* One attempt to finish an acks=all produce: every partition's high watermark is far enough, or time is up. */
static bool try_acks(void *arg, bool expired)
{
	struct delayed_produce *dp = arg;
	struct broker *b = dp->req->broker;
	bool all = true;
	for (int i = 0; i < dp->n_acks; i++) {
		struct pending_ack *a = &dp->acks[i];
		if (a->done)
			continue;
		int16_t err;
		if (replica_manager_acks_done(b->replicas, a->topic.ptr, (size_t)a->topic.len, a->pr->index, a->required,
					      &err)) {
			a->done = true;
			if (err != KERR_NONE)
				a->pr->error_code = err;
		} else if (expired) {
			a->done = true;
			a->pr->error_code = KERR_REQUEST_TIMED_OUT;
		} else {
			all = false;
		}
	}
	if (!all)
		return false;
	/* dp and its acks live in the request's arena: answering frees them. */
	request_respond(dp->req, dp->resp);
	return true;
}

/* Fetches waiting on the partitions appended to (followers for the log end, consumers for the HW) may complete. */
void handle_produce(struct request *req)
{
	const struct produce_request *pq = req->body;
	struct broker *b = req->broker;
	struct produce_response resp;
	produce_response_init(&resp);
	/* acks=all only: where each partition's write must get to (in the arena, like the answer). */
	struct pending_ack *acks = NULL;
	int n_acks = 0;
	if (pq->acks == -1) {
		int total = 0;
		for (int i = 0; i < pq->topic_data_count; i++)
			total += pq->topic_data[i].partition_data_count > 0 ? pq->topic_data[i].partition_data_count : 0;
		acks = arena_alloc(&req->arena, sizeof *acks * (size_t)(total ? total : 1));
	}

	bool bad_acks = pq->acks != 0 && pq->acks != 1 && pq->acks != -1;
	bool appended = false;
	int nt = pq->topic_data_count > 0 ? pq->topic_data_count : 0;
	resp.responses = arena_alloc(&req->arena, sizeof *resp.responses * (size_t)(nt ? nt : 1));
	resp.responses_count = nt;
	for (int i = 0; i < nt; i++) {
		const struct produce_request_topic_produce_data *td = &pq->topic_data[i];
		struct produce_response_topic_produce_response *tr = &resp.responses[i];
		produce_response_topic_produce_response_init(tr);
		tr->name = td->name;
		int np = td->partition_data_count > 0 ? td->partition_data_count : 0;
		tr->partition_responses = arena_alloc(&req->arena, sizeof *tr->partition_responses * (size_t)(np ? np : 1));
		tr->partition_responses_count = np;
		/* Kafka's filterByAuthorized(WRITE, TOPIC): once per topic, before anything else is looked at. */
		bool may_write = !td->name.ptr ||
				 request_authorize(req, ACL_OP_WRITE, ACL_RESOURCE_TOPIC, td->name.ptr, (size_t)td->name.len);
		for (int j = 0; j < np; j++) {
			part_resp *pr = &tr->partition_responses[j];
			produce_response_partition_produce_response_init(pr);
			pr->index = td->partition_data[j].index;
			pr->base_offset = -1;
			pr->log_append_time_ms = -1;
			pr->log_start_offset = -1;
			if (bad_acks)
				pr->error_code = KERR_INVALID_REQUIRED_ACKS;
			else if (!may_write)
				pr->error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
			else if (!td->name.ptr)
				pr->error_code = KERR_INVALID_TOPIC_EXCEPTION;
			else if (pq->transactional_id.ptr && pq->transactional_id.len > 0)
				/* No transaction coordinator yet: a transactional producer cannot be served. */
				pr->error_code = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
			else
				append_partition(req, td->name, td->partition_data[j].records, pr, &appended,
						 acks ? &acks[n_acks] : NULL);
			if (acks && acks[n_acks].pr)
				n_acks++;
		}
	}
	/* The partitions woke their own waiters as they appended (partition.h). */
	(void)appended;
	if (n_acks > 0 && b->purgatory) {
		/* acks=all with followers in the ISR: answer once they have it, or at the request timeout. */
		struct produce_response *respp = arena_alloc(&req->arena, sizeof *respp);
		*respp = resp;
		struct delayed_produce *dp = arena_alloc(&req->arena, sizeof *dp);
		*dp = (struct delayed_produce){ req, respp, acks, n_acks };
		if (try_acks(dp, false))
			return;
		struct purgatory_key *keys = arena_alloc(&req->arena, sizeof *keys * (size_t)n_acks);
		for (int i = 0; i < n_acks; i++)
			keys[i] = purgatory_partition_key(acks[i].topic.ptr, (size_t)acks[i].topic.len, acks[i].pr->index);
		purgatory_add(b->purgatory, dp, wall_clock_ms() + (pq->timeout_ms > 0 ? pq->timeout_ms : 0), try_acks,
			      keys, (size_t)n_acks);
		return;
	}
	if (pq->acks == 0) {
		/* Kafka closes the connection of an acks=0 producer whose write failed, so it notices. */
		for (int i = 0; i < nt; i++)
			for (int j = 0; j < resp.responses[i].partition_responses_count; j++)
				if (resp.responses[i].partition_responses[j].error_code != KERR_NONE) {
					request_close(req);
					return;
				}
		request_respond_none(req);
		return;
	}
	request_respond(req, &resp);
}
