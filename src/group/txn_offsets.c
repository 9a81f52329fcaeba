/*
 * Transactional offset commits [Kafka's GroupCoordinator.handleTxnCommitOffsets
 * and GroupMetadata's pendingTransactionalOffsetCommits]: TxnOffsetCommit
 * writes its offsets to __consumer_offsets in a transactional batch carrying
 * the producer's id and epoch, and keeps them aside, per producer id, until
 * the transaction's marker reaches that partition: a commit marker makes
 * them the group's committed offsets, an abort drops them.  Loading a
 * partition does the same from the log (transactional batches, then the
 * control batches that end them).
 */
#include <stdlib.h>
#include <string.h>

#include "group/group_internal.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"


void group_txn_offset_put(struct group *g, int64_t producer_id, const struct committed_offset *o)
{
	for (int i = 0; i < g->n_txn_offsets; i++) {
		struct txn_pending_offset *t = &g->txn_offsets[i];
		if (t->producer_id == producer_id && t->o.partition == o->partition && strcmp(t->o.topic, o->topic) == 0) {
			free(t->o.metadata);
			char *topic = t->o.topic;
			t->o = *o;
			t->o.topic = topic;
			t->o.metadata = o->metadata ? xstrdup(o->metadata) : NULL;
			return;
		}
	}
	g->txn_offsets = xrealloc(g->txn_offsets, sizeof *g->txn_offsets * (size_t)(g->n_txn_offsets + 1));
	struct txn_pending_offset *t = &g->txn_offsets[g->n_txn_offsets++];
	t->producer_id = producer_id;
	t->o = *o;
	t->o.topic = xstrdup(o->topic);
	t->o.metadata = o->metadata ? xstrdup(o->metadata) : NULL;
}

bool group_txn_offsets_complete(struct group *g, int64_t producer_id, bool commit)
{
	bool any = false;
	for (int i = 0; i < g->n_txn_offsets;) {
		struct txn_pending_offset *t = &g->txn_offsets[i];
		if (t->producer_id != producer_id) {
			i++;
			continue;
		}
		any = true;
		if (commit) {
			struct committed_offset *o = group_offset(g, t->o.topic, strlen(t->o.topic), t->o.partition, true);
			free(o->metadata);
			o->offset = t->o.offset;
			o->leader_epoch = t->o.leader_epoch;
			o->metadata = t->o.metadata;
			t->o.metadata = NULL;
			o->commit_ts = t->o.commit_ts;
			o->expire_ts = -1;
		}
		free(t->o.topic);
		free(t->o.metadata);
		g->txn_offsets[i] = g->txn_offsets[--g->n_txn_offsets];
	}
	return any;
}

void group_coordinator_on_txn_marker(struct group_coordinator *gc, int32_t partition, int64_t producer_id,
				     int16_t producer_epoch, bool commit)
{
	(void)producer_epoch; /* the marker was fenced by epoch on the partition already */
	if (!gc)
		return;
	pthread_mutex_lock(&gc->lock);
	for (int i = 0; i < gc->n_groups; i++) {
		struct group *g = gc->groups[i];
		if (g->partition == partition)
			(void)group_txn_offsets_complete(g, producer_id, commit);
	}
	pthread_mutex_unlock(&gc->lock);
}

/* --- TxnOffsetCommit -------------------------------------------------------------------- */

struct delayed_txn_commit {
	struct group_coordinator *gc;
	struct group_request *req;
	struct txn_offset_commit_response *resp;
	int32_t partition;
	int64_t required;
};

static void fail_all(struct txn_offset_commit_response *resp, int16_t err)
{
	for (int i = 0; i < resp->topics_count; i++)
		for (int j = 0; j < resp->topics[i].partitions_count; j++)
			if (resp->topics[i].partitions[j].error_code == KERR_NONE)
				resp->topics[i].partitions[j].error_code = err;
}

static bool try_txn_commit(void *arg, bool expired)
{
	struct delayed_txn_commit *dc = arg;
	struct group_host *h = &dc->gc->host;
	int16_t err;
	if (h->replicated(h->arg, dc->partition, dc->required, &err)) {
		if (err == KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND || err == KERR_NOT_ENOUGH_REPLICAS)
			err = KERR_COORDINATOR_NOT_AVAILABLE;
		else if (err == KERR_NOT_LEADER_OR_FOLLOWER)
			err = KERR_NOT_COORDINATOR;
	} else if (expired) {
		err = KERR_REQUEST_TIMED_OUT;
	} else {
		return false;
	}
	if (err != KERR_NONE)
		fail_all(dc->resp, err);
	group_respond(dc->req, dc->resp);
	return true;
}

void group_handle_txn_offset_commit(struct group_coordinator *gc, struct group_request *req)
{
	const struct txn_offset_commit_request *tq = req->body;
	int16_t version = req->api_version;
	int64_t now = wall_clock_ms();
	struct txn_offset_commit_response *resp = arena_alloc(req->arena, sizeof *resp);
	txn_offset_commit_response_init(resp);
	int nt = tq->topics_count > 0 ? tq->topics_count : 0;
	resp->topics = arena_alloc(req->arena, sizeof *resp->topics * (size_t)(nt ? nt : 1));
	resp->topics_count = nt;
	for (int i = 0; i < nt; i++) {
		txn_offset_commit_response_txn_offset_commit_response_topic_init(&resp->topics[i]);
		resp->topics[i].name = tq->topics[i].name;
		int np = tq->topics[i].partitions_count > 0 ? tq->topics[i].partitions_count : 0;
		resp->topics[i].partitions = arena_alloc(req->arena, sizeof *resp->topics[i].partitions * (size_t)(np ? np : 1));
		resp->topics[i].partitions_count = np;
		for (int j = 0; j < np; j++) {
			txn_offset_commit_response_txn_offset_commit_response_partition_init(&resp->topics[i].partitions[j]);
			resp->topics[i].partitions[j].partition_index = tq->topics[i].partitions[j].partition_index;
		}
	}
	int16_t err = KERR_NONE;
	/* [KafkaApis.handleTxnOffsetCommitRequest] Write on the transactional id, Read on the group,
	 * then Read on each topic (the others go on). */
	if (!group_authorized(req, ACL_OP_WRITE, ACL_RESOURCE_TRANSACTIONAL_ID, tq->transactional_id))
		err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	else if (!group_authorized(req, ACL_OP_READ, ACL_RESOURCE_GROUP, tq->group_id))
		err = KERR_GROUP_AUTHORIZATION_FAILED;
	for (int i = 0; i < nt && err == KERR_NONE; i++)
		if (!group_authorized(req, ACL_OP_READ, ACL_RESOURCE_TOPIC, tq->topics[i].name))
			for (int j = 0; j < resp->topics[i].partitions_count; j++)
				resp->topics[i].partitions[j].error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
	if (err != KERR_NONE)
		;
	else if (!kstr_nonempty(tq->group_id))
		err = KERR_INVALID_GROUP_ID;
	else if (!kstr_nonempty(tq->transactional_id) || tq->producer_id < 0 || tq->producer_epoch < 0)
		err = KERR_INVALID_REQUEST;
	pthread_mutex_lock(&gc->lock);
	if (err == KERR_NONE)
		err = group_owner_error(gc, tq->group_id.ptr, (size_t)tq->group_id.len);
	struct group *g = NULL;
	bool created = false;
	if (err == KERR_NONE) {
		g = group_find(gc, tq->group_id.ptr, (size_t)tq->group_id.len);
		if (!g) {
			g = group_add(gc, tq->group_id.ptr, (size_t)tq->group_id.len,
				      group_partition_for(gc, tq->group_id.ptr, (size_t)tq->group_id.len));
			created = true;
		}
	}
	/* [doTxnCommitOffsets] the member and generation, when v3+ names them. */
	if (err == KERR_NONE && version >= 3) {
		struct kstr mid = tq->member_id;
		if (g->state == GROUP_DEAD)
			err = KERR_COORDINATOR_NOT_AVAILABLE;
		else if (tq->group_instance_id.ptr && kstr_nonempty(mid)) {
			struct member *sm = group_static_member(g, tq->group_instance_id.ptr, (size_t)tq->group_instance_id.len);
			if (sm && (strlen(sm->id) != (size_t)mid.len || memcmp(sm->id, mid.ptr, (size_t)mid.len) != 0))
				err = KERR_FENCED_INSTANCE_ID;
		}
		if (err == KERR_NONE && kstr_nonempty(mid) && !group_member(g, mid.ptr, (size_t)mid.len))
			err = KERR_UNKNOWN_MEMBER_ID;
		else if (err == KERR_NONE && tq->generation_id >= 0 && tq->generation_id != g->generation)
			err = KERR_ILLEGAL_GENERATION;
	}
	struct wbuf w;
	wbuf_init(&w);
	struct batch_builder_opts opts;
	batch_builder_opts_init(&opts);
	opts.producer_id = tq->producer_id;
	opts.producer_epoch = tq->producer_epoch;
	opts.base_sequence = 0;
	opts.transactional = true;
	struct batch_builder bb;
	batch_builder_begin(&bb, &w, &opts);
	int n_records = 0;
	int64_t required = -1;
	int32_t partition = g ? g->partition : -1;
	for (int i = 0; i < nt && err == KERR_NONE; i++) {
		const struct txn_offset_commit_request_txn_offset_commit_request_topic *t = &tq->topics[i];
		for (int j = 0; j < resp->topics[i].partitions_count; j++) {
			const struct txn_offset_commit_request_txn_offset_commit_request_partition *p = &t->partitions[j];
			int16_t *perr = &resp->topics[i].partitions[j].error_code;
			if (*perr != KERR_NONE)
				continue;
			if (!gc->host.has_partition(gc->host.arg, t->name, p->partition_index)) {
				*perr = KERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (p->committed_metadata.ptr && p->committed_metadata.len > gc->cfg.max_metadata_bytes) {
				*perr = KERR_OFFSET_METADATA_TOO_LARGE;
				continue;
			}
			struct committed_offset o = {
				.topic = arena_strndup(req->arena, t->name.ptr, (size_t)t->name.len),
				.partition = p->partition_index,
				.offset = p->committed_offset,
				.leader_epoch = version >= 2 ? p->committed_leader_epoch : -1,
				.metadata = p->committed_metadata.ptr ? arena_strndup(req->arena, p->committed_metadata.ptr,
										   (size_t)p->committed_metadata.len)
								      : NULL,
				.commit_ts = now,
				.expire_ts = -1,
			};
			records_offset_commit(&bb, now, g->id, o.topic, p->partition_index, &o);
			n_records++;
		}
	}
	if (err == KERR_NONE && n_records > 0) {
		if (batch_builder_finish(&bb) == 0)
			err = KERR_UNKNOWN_SERVER_ERROR;
		else
			err = (int16_t)group_append_replicated(gc, g->partition, &w, &required);
		if (err == KERR_NONE) {
			/* Pending until the transaction's marker reaches this partition. */
			for (int i = 0; i < nt; i++)
				for (int j = 0; j < resp->topics[i].partitions_count; j++) {
					if (resp->topics[i].partitions[j].error_code != KERR_NONE)
						continue;
					const struct txn_offset_commit_request_txn_offset_commit_request_partition *p =
					    &tq->topics[i].partitions[j];
					struct committed_offset o = {
						.topic = arena_strndup(req->arena, tq->topics[i].name.ptr,
								       (size_t)tq->topics[i].name.len),
						.partition = p->partition_index,
						.offset = p->committed_offset,
						.leader_epoch = version >= 2 ? p->committed_leader_epoch : -1,
						.metadata = p->committed_metadata.ptr
								    ? arena_strndup(req->arena, p->committed_metadata.ptr,
										    (size_t)p->committed_metadata.len)
								    : NULL,
						.commit_ts = now,
						.expire_ts = -1,
					};
					group_txn_offset_put(g, tq->producer_id, &o);
				}
		}
	}
	if (created && g->n_offsets == 0 && g->n_members == 0 && g->n_txn_offsets == 0)
		group_remove(gc, g);
	pthread_mutex_unlock(&gc->lock);
	wbuf_free(&w);
	if (err != KERR_NONE)
		fail_all(resp, err);
	if (err == KERR_NONE && required >= 0 && gc->host.park) {
		struct delayed_txn_commit *dc = arena_alloc(req->arena, sizeof *dc);
		*dc = (struct delayed_txn_commit){ gc, req, resp, partition, required };
		if (try_txn_commit(dc, false))
			return;
		gc->host.park(gc->host.arg, partition, now + gc->cfg.commit_timeout_ms, try_txn_commit, dc);
		return;
	}
	group_respond(req, resp);
}
