/*
 * Fetch [Kafka's KafkaApis.handleFetchRequest + ReplicaManager.fetchMessages +
 * DelayedFetch]: read each partition from its fetch offset, up to the high
 * watermark for consumers, within partition and response byte limits, and
 * answer at once if that makes min_bytes (or max_wait is 0, or something went
 * wrong); otherwise park in the purgatory until an append brings enough or
 * max_wait runs out.
 *
 * Record data never passes through memory: each partition's records field is
 * a gap in the encoded response that is filled from the segment file with
 * sendfile(2) (see request_respond_spliced).  The exception is a consumer on
 * Fetch v0-v3, which cannot read v2 batches: its partitions are
 * down-converted to magic 0 (v0-v1) or magic 1 (v2-v3) lazily, as the socket
 * drains (fetch_convert.c), unless message.downconversion.enable is false for
 * the topic (then UNSUPPORTED_VERSION for that partition).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "samsa/config.h"
#include "samsa/log.h"
#include "samsa/metadata.h"
#include "samsa/proto.h"
#include "samsa/purgatory.h"
#include "samsa/replica.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"
#include "server/fetch_convert.h"
#include "server/fetch_session.h"

enum { READ_UNCOMMITTED = 0, READ_COMMITTED = 1 };

/* What one attempt read from one partition. */
struct part_read {
	int16_t error;
	struct log_read_result r;
	bool has_read; /* r holds a segment reference */
	int32_t diverging_epoch; /* KIP-320, for a follower whose log went another way; -1 none */
	int64_t diverging_end_offset;
	struct partition *part;  /* referenced while the read is held, for its byte counters */
};

typedef struct fetch_response_partition_data part_data;

/* One fetch in progress: what to read, and how to answer. */
struct fetch_op {
	struct request *req;
	struct fetch_session_plan plan;
	int32_t min_bytes;
	int32_t max_bytes;
	bool follower;
	int32_t replica_id;       /* the follower broker, when follower */
	bool *denied;             /* per plan part: the authorizer refused it (NULL: none refused) */
	struct part_read *reads; /* one per plan part, reused by every attempt */
};


static const uint8_t no_records[1];

/* The topic name of a v13+ target, which the client names by id only; false when unknown. */
static bool resolve_topic_id(struct broker *b, struct fetch_target *t, struct arena *a)
{
	if (t->topic.ptr && t->topic.len > 0)
		return true;
	struct metadata_snapshot *s = metadata_cache_acquire(b->metadata);
	bool found = false;
	for (int i = 0; s && i < s->n_topics; i++) {
		if (memcmp(s->topics[i].id, t->topic_id, 16) == 0) {
			size_t n = strlen(s->topics[i].name);
			char *name = arena_alloc(a, n + 1);
			memcpy(name, s->topics[i].name, n + 1);
			t->topic = (struct kstr){ name, (int32_t)n };
			found = true;
			break;
		}
	}
	if (s)
		metadata_snapshot_release(s);
	return found;
}

/* Read every target within the limits; returns the record bytes found. */
static size_t read_all(struct fetch_op *op, struct part_read *reads)
{
	struct request *req = op->req;
	struct broker *b = req->broker;
	int16_t version = req->header.api_version;
	const struct fetch_request *fq = req->body;
	/* v0-v2 have no response limit and never return more than partition max bytes (KIP-74). */
	bool hard_limit = version <= 2;
	size_t budget = version >= 3 && op->max_bytes > 0 ? (size_t)op->max_bytes : SIZE_MAX;
	bool min_one = !hard_limit;
	size_t total = 0;
	for (size_t i = 0; i < op->plan.n_parts; i++) {
		struct fetch_target *t = &op->plan.parts[i];
		struct part_read *pr = &reads[i];
		memset(pr, 0, sizeof *pr);
		pr->r.high_watermark = pr->r.log_start_offset = pr->r.log_end_offset = -1;
		pr->diverging_epoch = -1;
		pr->diverging_end_offset = -1;
		if (!t->topic.ptr || t->topic.len <= 0) {
			pr->error = version >= 13 ? KERR_UNKNOWN_TOPIC_ID : KERR_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		if (op->denied && op->denied[i]) {
			pr->error = KERR_TOPIC_AUTHORIZATION_FAILED;
			continue;
		}
		struct partition *part = replica_manager_partition(b->replicas, t->topic.ptr, (size_t)t->topic.len,
								   t->partition);
		if (!part) {
			pr->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		size_t limit = t->max_bytes > 0 ? (size_t)t->max_bytes : 0;
		if (limit > budget)
			limit = budget;
		struct partition_fetch pf = {
			.fetch_offset = t->fetch_offset,
			.max_bytes = limit,
			.min_one = min_one && limit > 0,
			.current_leader_epoch = t->current_leader_epoch,
			.replica_id = op->follower ? op->replica_id : -1,
			.last_fetched_epoch = t->last_fetched_epoch,
		};
		/* A follower's position is recorded (ISR, high watermark) by the read itself. */
		pr->error = partition_read(part, &pf, &pr->r, &pr->diverging_epoch, &pr->diverging_end_offset);
		if (pr->error != KERR_NONE || pr->diverging_end_offset >= 0) {
			partition_unref(part);
			log_read_release(&pr->r);
			continue;
		}
		pr->part = part;
		pr->has_read = pr->r.segment != NULL;
		if (pr->r.length > 0) {
			total += pr->r.length;
			budget = pr->r.length >= budget ? 0 : budget - pr->r.length;
			min_one = false;
		}
	}
	(void)fq;
	return total;
}

static void release_reads(struct part_read *reads, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (reads[i].has_read)
			log_read_release(&reads[i].r);
		if (reads[i].part)
			partition_unref(reads[i].part);
		reads[i].part = NULL;
	}
}

/* Whether an incremental session response must carry this partition. */
static bool has_news(const struct fetch_target *t, const struct part_read *pr)
{
	return fetch_session_must_respond(t, pr->error, pr->r.length, pr->r.high_watermark, pr->r.log_start_offset,
					  pr->diverging_epoch, pr->diverging_end_offset);
}

/* Topics already down-converted once (their first time is logged at info). */
static pthread_mutex_t dc_seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char **dc_seen;
static size_t dc_seen_n, dc_seen_cap;

static bool dc_first_time(struct kstr topic)
{
	bool first = true;
	pthread_mutex_lock(&dc_seen_lock);
	for (size_t i = 0; i < dc_seen_n; i++)
		if (strlen(dc_seen[i]) == (size_t)topic.len && memcmp(dc_seen[i], topic.ptr, (size_t)topic.len) == 0) {
			first = false;
			break;
		}
	if (first) {
		if (dc_seen_n == dc_seen_cap) {
			dc_seen_cap = dc_seen_cap ? dc_seen_cap * 2 : 16;
			dc_seen = xrealloc(dc_seen, sizeof *dc_seen * dc_seen_cap);
		}
		char *name = xmalloc((size_t)topic.len + 1);
		memcpy(name, topic.ptr, (size_t)topic.len);
		name[topic.len] = '\0';
		dc_seen[dc_seen_n++] = name;
	}
	pthread_mutex_unlock(&dc_seen_lock);
	return first;
}

/* Whether the topic allows down-conversion (its message.downconversion.enable). */
static bool down_conversion_enabled(struct broker *b, const struct fetch_target *t)
{
	struct partition *part = replica_manager_partition(b->replicas, t->topic.ptr, (size_t)t->topic.len,
							   t->partition);
	if (!part)
		return b->bc ? config_bool(b->config, "log.message.downconversion.enable") : true;
	struct log_config cfg;
	bool enabled = true;
	if (partition_leader_config(part, &cfg) == KERR_NONE)
		enabled = cfg.message_downconversion;
	else if (b->config)
		enabled = config_bool(b->config, "log.message.downconversion.enable");
	partition_unref(part);
	return enabled;
}

static void answer(struct fetch_op *op, struct part_read *reads)
{
	struct request *req = op->req;
	struct broker *b = req->broker;
	const struct fetch_request *fq = req->body;
	int16_t version = req->header.api_version;
	struct arena *a = &req->arena;
	size_t n = op->plan.n_parts;

	struct fetch_response resp;
	fetch_response_init(&resp);
	resp.session_id = op->plan.session_id;
	resp.responses = arena_alloc(a, sizeof *resp.responses * (n ? n : 1));
	struct net_file_range *files = arena_alloc(a, sizeof *files * (n ? n : 1));
	size_t n_files = 0;
	struct fetch_response_fetchable_topic_response *tr = NULL;
	int parts_cap = 0;
	/* Fetch v0-v3 consumers get magic 0/1; followers always read v2 as stored. */
	bool convert = version <= 3 && !op->follower;
	int8_t magic = version <= 1 ? RB_MAGIC_V0 : RB_MAGIC_V1;
	for (size_t i = 0; i < n; i++) {
		struct fetch_target *t = &op->plan.parts[i];
		struct part_read *pr = &reads[i];
		if (op->plan.incremental && !has_news(t, pr))
			continue;
		bool same_topic = tr && (version >= 13 ? memcmp(tr->topic_id, t->topic_id, 16) == 0
						       : tr->topic.len == t->topic.len &&
								 memcmp(tr->topic.ptr, t->topic.ptr, (size_t)t->topic.len) == 0);
		if (!same_topic) {
			tr = &resp.responses[resp.responses_count++];
			fetch_response_fetchable_topic_response_init(tr);
			tr->topic = t->topic;
			memcpy(tr->topic_id, t->topic_id, 16);
			/* At most the rest of the targets belong to this topic. */
			parts_cap = (int)(n - i);
			tr->partitions = arena_alloc(a, sizeof *tr->partitions * (size_t)parts_cap);
		}
		part_data *pd = &tr->partitions[tr->partitions_count++];
		fetch_response_partition_data_init(pd);
		pd->partition_index = t->partition;
		pd->error_code = pr->error;
		pd->high_watermark = pr->r.high_watermark;
		/* No transactions yet: everything below the high watermark is stable. */
		pd->last_stable_offset = pr->r.high_watermark;
		pd->log_start_offset = pr->r.log_start_offset;
		pd->preferred_read_replica = -1;
		pd->diverging_epoch.epoch = pr->diverging_epoch;
		pd->diverging_epoch.end_offset = pr->diverging_end_offset;
		pd->aborted_transactions = NULL;
		pd->aborted_transactions_count = fq->isolation_level == READ_COMMITTED ? 0 : -1;
		if (pd->aborted_transactions_count == 0)
			pd->aborted_transactions = arena_alloc(a, sizeof *pd->aborted_transactions);
		if (convert && pr->r.length > 0) {
			if (!down_conversion_enabled(b, t)) {
				log_info("Fetch v%d from %s: %.*s-%d: message.downconversion.enable is false", version,
					 req->info.peer, (int)t->topic.len, t->topic.ptr, t->partition);
				pd->error_code = KERR_UNSUPPORTED_VERSION;
				pd->high_watermark = pd->last_stable_offset = pd->log_start_offset = -1;
				pd->records = (struct kbytes){ no_records, 0 };
			} else {
				struct fetch_convert_args ca = { t->topic, t->partition, magic, t->fetch_offset,
								 req->info.peer };
				size_t declared = 0;
				struct net_lazy_source src;
				int16_t err = fetch_convert_begin(&ca, &pr->r, &src, &declared);
				if (err != KERR_NONE) {
					/* As Kafka's partitionResponse(tp, error): no offsets either. */
					pd->error_code = err;
					pd->high_watermark = pd->last_stable_offset = pd->log_start_offset = -1;
					pd->records = (struct kbytes){ no_records, 0 };
				} else if (declared == 0) {
					pd->records = (struct kbytes){ no_records, 0 };
				} else {
					/* The source holds the segment now; the read has nothing left to release. */
					pr->has_read = false;
					pd->records = (struct kbytes){ wbuf_external, (int32_t)declared };
					files[n_files] = (struct net_file_range){ .fd = -1, .lazy = src };
					n_files++;
					if (pr->part)
						partition_count_bytes_out(pr->part, declared, op->follower);
					if (dc_first_time(t->topic)) {
						struct fetch_down_conversion_stats st;
						fetch_down_conversion_stats(&st);
						log_info("Down-converting topic %.*s to magic %d for Fetch v%d from %s (first time; "
							 "%lld messages in %lld batches so far on this broker)",
							 (int)t->topic.len, t->topic.ptr, magic, version, req->info.peer,
							 (long long)st.messages, (long long)st.batches);
					}
				}
			}
		} else if (pr->r.length > 0) {
			pd->records = (struct kbytes){ wbuf_external, (int32_t)pr->r.length };
			files[n_files] = (struct net_file_range){ .fd = pr->r.fd, .offset = (off_t)pr->r.position };
			n_files++;
			if (pr->part)
				partition_count_bytes_out(pr->part, pr->r.length, op->follower);
		} else {
			pd->records = (struct kbytes){ no_records, 0 };
		}
		fetch_session_record_sent(t, pr->error, pr->r.high_watermark, pr->r.log_start_offset);
	}
	if (b->fetch_sessions)
		fetch_session_commit(b->fetch_sessions, op->plan.session_id, op->plan.parts, n);
	/* The segments stay referenced until their bytes are queued (the fds are dup'd);
	 * reads live outside the request, which is gone once answered. */
	request_respond_spliced(req, &resp, files, n_files);
	release_reads(reads, n);
	free(reads);
}

/* One attempt: answer (true) when there is enough, something failed, or time is up. */
static bool try_complete(void *arg, bool expired)
{
	struct fetch_op *op = arg;
	size_t n = op->plan.n_parts;
	struct part_read *reads = op->reads;
	size_t bytes = read_all(op, reads);
	bool any_error = false;
	for (size_t i = 0; i < n; i++)
		if (reads[i].error != KERR_NONE)
			any_error = true;
	if (expired || any_error || (int64_t)bytes >= (int64_t)op->min_bytes) {
		answer(op, reads);
		return true;
	}
	release_reads(reads, n);
	return false;
}

/*
 * Kafka's checks, once per request: a follower needs ClusterAction on the
 * cluster (else every partition is TOPIC_AUTHORIZATION_FAILED), a consumer
 * Read on each topic.
 */
static void authorize_parts(struct fetch_op *op)
{
	struct request *req = op->req;
	if (!req->broker->authorizer || op->plan.n_parts == 0)
		return;
	bool cluster_ok = op->follower && request_authorize(req, ACL_OP_CLUSTER_ACTION, ACL_RESOURCE_CLUSTER, NULL, 0);
	op->denied = arena_alloc(&req->arena, sizeof *op->denied * op->plan.n_parts);
	struct kstr last = { NULL, -1 };
	bool last_ok = false;
	for (size_t i = 0; i < op->plan.n_parts; i++) {
		struct kstr t = op->plan.parts[i].topic;
		if (op->follower) {
			op->denied[i] = !cluster_ok;
			continue;
		}
		if (!t.ptr || t.len <= 0) {
			op->denied[i] = false;
			continue;
		}
		if (!last.ptr || last.len != t.len || memcmp(last.ptr, t.ptr, (size_t)t.len)) {
			last_ok = request_authorize(req, ACL_OP_READ, ACL_RESOURCE_TOPIC, t.ptr, (size_t)t.len);
			last = t;
		}
		op->denied[i] = !last_ok;
	}
}

static void answer_error(struct request *req, int16_t error)
{
	struct fetch_response resp;
	fetch_response_init(&resp);
	resp.error_code = error;
	request_respond(req, &resp);
}

void handle_fetch(struct request *req)
{
	const struct fetch_request *fq = req->body;
	struct broker *b = req->broker;
	struct arena *a = &req->arena;
	int16_t version = req->header.api_version;

	size_t total = 0;
	for (int i = 0; i < fq->topics_count; i++)
		total += fq->topics[i].partitions_count > 0 ? (size_t)fq->topics[i].partitions_count : 0;
	struct fetch_target *targets = arena_alloc(a, sizeof *targets * (total ? total : 1));
	size_t k = 0;
	for (int i = 0; i < fq->topics_count; i++) {
		struct fetch_request_fetch_topic *ft = &fq->topics[i];
		for (int j = 0; j < ft->partitions_count; j++) {
			const struct fetch_request_fetch_partition *fp = &ft->partitions[j];
			struct fetch_target *t = &targets[k++];
			memset(t, 0, sizeof *t);
			t->topic = version >= 13 ? (struct kstr){ NULL, -1 } : ft->topic;
			memcpy(t->topic_id, ft->topic_id, 16);
			if (version >= 13)
				resolve_topic_id(b, t, a);
			t->partition = fp->partition;
			t->fetch_offset = fp->fetch_offset;
			t->max_bytes = fp->partition_max_bytes;
			t->current_leader_epoch = version >= 9 ? fp->current_leader_epoch : -1;
			t->last_fetched_epoch = version >= 12 ? fp->last_fetched_epoch : -1;
		}
	}
	size_t n_forgotten = 0;
	for (int i = 0; i < fq->forgotten_topics_data_count; i++)
		n_forgotten += fq->forgotten_topics_data[i].partitions_count > 0
				       ? (size_t)fq->forgotten_topics_data[i].partitions_count
				       : 0;
	struct fetch_target *forgotten = arena_alloc(a, sizeof *forgotten * (n_forgotten ? n_forgotten : 1));
	k = 0;
	for (int i = 0; i < fq->forgotten_topics_data_count; i++) {
		const struct fetch_request_forgotten_topic *ft = &fq->forgotten_topics_data[i];
		for (int j = 0; j < ft->partitions_count; j++) {
			struct fetch_target *t = &forgotten[k++];
			memset(t, 0, sizeof *t);
			t->topic = version >= 13 ? (struct kstr){ NULL, -1 } : ft->topic;
			memcpy(t->topic_id, ft->topic_id, 16);
			if (version >= 13)
				resolve_topic_id(b, t, a);
			t->partition = ft->partitions[j];
		}
	}

	struct fetch_op *op = arena_alloc(a, sizeof *op);
	memset(op, 0, sizeof *op);
	op->req = req;
	op->min_bytes = fq->min_bytes;
	op->max_bytes = fq->max_bytes;
	op->follower = fq->replica_id >= 0 || fq->replica_state.replica_id >= 0;
	op->replica_id = fq->replica_id >= 0 ? fq->replica_id : fq->replica_state.replica_id;

	struct fetch_session_request sr = {
		.session_id = version >= 7 ? fq->session_id : 0,
		.epoch = version >= 7 ? fq->session_epoch : FETCH_SESSION_FINAL_EPOCH,
		.parts = targets,
		.n_parts = total,
		.forgotten = forgotten,
		.n_forgotten = n_forgotten,
		.now_ms = wall_clock_ms(),
		.privileged = op->follower,
		.uses_topic_ids = version >= 13,
	};
	fetch_session_begin(b->fetch_sessions, &sr, a, &op->plan);
	if (op->plan.error != KERR_NONE) {
		log_info("Fetch from %s: session %d epoch %d: %s", req->info.peer, sr.session_id, sr.epoch,
			 kafka_error_name(op->plan.error));
		answer_error(req, op->plan.error);
		return;
	}
	authorize_parts(op);
	op->reads = xcalloc(op->plan.n_parts ? op->plan.n_parts : 1, sizeof *op->reads);
	if (fq->max_wait_ms <= 0 || fq->min_bytes <= 0 || !b->purgatory) {
		try_complete(op, true);
		return;
	}
	if (try_complete(op, false))
		return;
	/* Watch every partition named: an append (log end, for followers) or an HW move (consumers) wakes it. */
	struct purgatory_key *keys = arena_alloc(a, sizeof *keys * (op->plan.n_parts ? op->plan.n_parts : 1));
	size_t n_keys = 0;
	for (size_t i = 0; i < op->plan.n_parts; i++)
		if (op->plan.parts[i].topic.ptr && op->plan.parts[i].topic.len > 0)
			keys[n_keys++] = purgatory_partition_key(op->plan.parts[i].topic.ptr,
								 (size_t)op->plan.parts[i].topic.len, op->plan.parts[i].partition);
	purgatory_add(b->purgatory, op, wall_clock_ms() + fq->max_wait_ms, try_complete, keys, n_keys);
}

delayed_try_fn fetch_delayed_try_fn(void) { return try_complete; }
