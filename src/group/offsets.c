/*
 * Committed offsets [Kafka's GroupCoordinator.handleCommitOffsets,
 * handleFetchOffsets, handleDeleteOffsets and the offset expiration task]:
 * OffsetCommit and OffsetFetch v1+ (v0 keeps its ZooKeeper home, see
 * server/zk_offsets.c), OffsetDelete, and expiry after
 * offsets.retention.minutes.
 */
#include <stdlib.h>
#include <string.h>

#include "group/group_internal.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* --- OffsetCommit --------------------------------------------------------------------------- */

/* Kafka's validateOffsetCommit, then doCommitOffsets's state check, in their order. */
static int16_t commit_allowed(struct group *g, const struct offset_commit_request *oc, int64_t now)
{
	int32_t generation = oc->generation_id_or_member_epoch;
	if (g->state == GROUP_DEAD)
		return KERR_COORDINATOR_NOT_AVAILABLE;
	if (generation < 0 && g->state == GROUP_EMPTY)
		return KERR_NONE; /* a group that only keeps its offsets here */
	struct member *m = NULL;
	if (generation >= 0 || kstr_nonempty(oc->member_id) || oc->group_instance_id.ptr) {
		if (kstr_nonempty(oc->group_instance_id)) {
			struct member *sm =
				group_static_member(g, oc->group_instance_id.ptr, (size_t)oc->group_instance_id.len);
			if (sm && !kstr_eq(oc->member_id, sm->id))
				return KERR_FENCED_INSTANCE_ID;
		}
		m = kstr_nonempty(oc->member_id) ? group_member(g, oc->member_id.ptr, (size_t)oc->member_id.len) : NULL;
		if (!m)
			return KERR_UNKNOWN_MEMBER_ID;
		if (generation != g->generation)
			return KERR_ILLEGAL_GENERATION;
	} else if (g->state != GROUP_EMPTY) {
		return KERR_UNKNOWN_MEMBER_ID; /* only members commit for a group with members */
	}
	if (g->state == GROUP_COMPLETING_REBALANCE)
		return KERR_REBALANCE_IN_PROGRESS;
	if (m)
		m->heartbeat_deadline = now + m->session_timeout_ms;
	return KERR_NONE;
}

/* A commit written to the log, waiting for the offsets partition's ISR [offsets.commit.required.acks=-1]. */
struct delayed_commit {
	struct group_coordinator *gc;
	struct group_request *req;
	struct offset_commit_response *resp;
	int32_t partition;
	int64_t required;
};

static bool try_commit(void *arg, bool expired)
{
	struct delayed_commit *dc = arg;
	struct group_host *h = &dc->gc->host;
	int16_t err;
	if (h->replicated(h->arg, dc->partition, dc->required, &err)) {
		/* Kafka's storeOffsets maps the log's answers to coordinator errors. */
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
		group_offset_commit_response_fail(dc->resp, err);
	/* dc lives in the request's arena: answering frees it. */
	group_respond(dc->req, dc->resp);
	return true;
}

void group_offset_commit_response(struct arena *a, const struct offset_commit_request *oc,
				  struct offset_commit_response *out)
{
	offset_commit_response_init(out);
	int nt = oc->topics_count > 0 ? oc->topics_count : 0;
	out->topics = arena_alloc(a, sizeof *out->topics * (size_t)(nt ? nt : 1));
	out->topics_count = nt;
	for (int i = 0; i < nt; i++) {
		const struct offset_commit_request_offset_commit_request_topic *t = &oc->topics[i];
		struct offset_commit_response_offset_commit_response_topic *rt = &out->topics[i];
		offset_commit_response_offset_commit_response_topic_init(rt);
		rt->name = t->name;
		int np = t->partitions_count > 0 ? t->partitions_count : 0;
		rt->partitions = arena_alloc(a, sizeof *rt->partitions * (size_t)(np ? np : 1));
		rt->partitions_count = np;
		for (int j = 0; j < np; j++) {
			offset_commit_response_offset_commit_response_partition_init(&rt->partitions[j]);
			rt->partitions[j].partition_index = t->partitions[j].partition_index;
		}
	}
}

void group_offset_commit_response_fail(struct offset_commit_response *resp, int16_t err)
{
	for (int i = 0; i < resp->topics_count; i++)
		for (int j = 0; j < resp->topics[i].partitions_count; j++)
			if (resp->topics[i].partitions[j].error_code == KERR_NONE)
				resp->topics[i].partitions[j].error_code = err;
}

void group_handle_offset_commit(struct group_coordinator *gc, struct group_request *req)
{
	const struct offset_commit_request *oc = req->body;
	int16_t version = req->api_version;
	int64_t now = wall_clock_ms();
	struct offset_commit_response resp;
	group_offset_commit_response(req->arena, oc, &resp);
	int nt = resp.topics_count;

	int16_t group_err = KERR_NONE;
	if (!group_authorized(req, ACL_OP_READ, ACL_RESOURCE_GROUP, oc->group_id))
		group_err = KERR_GROUP_AUTHORIZATION_FAILED;
	else if (!kstr_nonempty(oc->group_id))
		group_err = KERR_INVALID_GROUP_ID;
	pthread_mutex_lock(&gc->lock);
	struct group *g = NULL;
	bool created = false;
	if (group_err == KERR_NONE)
		group_err = group_owner_error(gc, oc->group_id.ptr, (size_t)oc->group_id.len);
	if (group_err == KERR_NONE) {
		g = group_find(gc, oc->group_id.ptr, (size_t)oc->group_id.len);
		if (!g && oc->generation_id_or_member_epoch < 0) {
			g = group_add(gc, oc->group_id.ptr, (size_t)oc->group_id.len,
				      group_partition_for(gc, oc->group_id.ptr, (size_t)oc->group_id.len));
			created = true;
		} else if (!g) {
			group_err = KERR_ILLEGAL_GENERATION;
		}
	}
	if (group_err == KERR_NONE)
		group_err = commit_allowed(g, oc, now);

	/* One batch with a record per valid partition; memory changes only once it is written. */
	struct wbuf w;
	wbuf_init(&w);
	struct batch_builder bb;
	batch_builder_begin(&bb, &w, NULL);
	int n_records = 0;
	int64_t required = -1;
	int32_t partition = g ? g->partition : -1;
	for (int i = 0; i < nt && group_err == KERR_NONE; i++) {
		const struct offset_commit_request_offset_commit_request_topic *t = &oc->topics[i];
		bool may_read = group_authorized(req, ACL_OP_READ, ACL_RESOURCE_TOPIC, t->name);
		for (int j = 0; j < resp.topics[i].partitions_count; j++) {
			const struct offset_commit_request_offset_commit_request_partition *p = &t->partitions[j];
			int16_t *perr = &resp.topics[i].partitions[j].error_code;
			if (!may_read) {
				*perr = KERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			if (!gc->host.has_partition(gc->host.arg, t->name, p->partition_index)) {
				*perr = KERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (p->committed_metadata.ptr && p->committed_metadata.len > gc->cfg.max_metadata_bytes) {
				*perr = KERR_OFFSET_METADATA_TOO_LARGE;
				continue;
			}
			struct committed_offset o = {
				.offset = p->committed_offset,
				.leader_epoch = version >= 6 ? p->committed_leader_epoch : -1,
				.metadata = p->committed_metadata.ptr
						    ? arena_strndup(req->arena, p->committed_metadata.ptr,
								    (size_t)p->committed_metadata.len)
						    : NULL,
				.commit_ts = version == 1 && p->commit_timestamp >= 0 ? p->commit_timestamp : now,
				.expire_ts = version >= 2 && version <= 4 && oc->retention_time_ms >= 0
						     ? now + oc->retention_time_ms
						     : -1,
			};
			char *topic = arena_strndup(req->arena, t->name.ptr, (size_t)t->name.len);
			records_offset_commit(&bb, now, g->id, topic, p->partition_index, &o);
			n_records++;
		}
	}
	if (group_err == KERR_NONE && n_records > 0) {
		if (batch_builder_finish(&bb) == 0)
			group_err = KERR_UNKNOWN_SERVER_ERROR;
		else
			group_err = (int16_t)group_append_replicated(gc, g->partition, &w, &required);
		if (group_err == KERR_NONE) {
			for (int i = 0; i < nt; i++) {
				const struct offset_commit_request_offset_commit_request_topic *t = &oc->topics[i];
				for (int j = 0; j < resp.topics[i].partitions_count; j++) {
					if (resp.topics[i].partitions[j].error_code != KERR_NONE)
						continue;
					const struct offset_commit_request_offset_commit_request_partition *p = &t->partitions[j];
					struct committed_offset *o =
						group_offset(g, t->name.ptr, (size_t)t->name.len, p->partition_index, true);
					free(o->metadata);
					o->offset = p->committed_offset;
					o->leader_epoch = version >= 6 ? p->committed_leader_epoch : -1;
					o->metadata = p->committed_metadata.ptr
							      ? xstrndup(p->committed_metadata.ptr, (size_t)p->committed_metadata.len)
							      : NULL;
					o->commit_ts = version == 1 && p->commit_timestamp >= 0 ? p->commit_timestamp : now;
					o->expire_ts = version >= 2 && version <= 4 && oc->retention_time_ms >= 0
							       ? now + oc->retention_time_ms
							       : -1;
				}
			}
		}
	}
	if (created && g->n_offsets == 0 && g->n_members == 0)
		group_remove(gc, g);
	pthread_mutex_unlock(&gc->lock);
	wbuf_free(&w);
	if (group_err != KERR_NONE)
		group_offset_commit_response_fail(&resp, group_err);
	if (group_err == KERR_NONE && required >= 0 && gc->host.park) {
		/* Answer once the followers have the commit (memory already shows it, as it will after
		 * a failover only if they do). */
		struct delayed_commit *dc = arena_alloc(req->arena, sizeof *dc);
		struct offset_commit_response *rp = arena_alloc(req->arena, sizeof *rp);
		*rp = resp;
		*dc = (struct delayed_commit){ gc, req, rp, partition, required };
		if (try_commit(dc, false))
			return;
		gc->host.park(gc->host.arg, partition, now + gc->cfg.commit_timeout_ms, try_commit, dc);
		return;
	}
	group_respond(req, &resp);
}

/* --- OffsetFetch ------------------------------------------------------------------------------ */

typedef struct offset_fetch_response_offset_fetch_response_partitions fetch_part;
typedef struct offset_fetch_response_offset_fetch_response_topics fetch_topic;

static void fill_part(fetch_part *fp, struct group_request *req, struct group *g, struct kstr topic, int32_t partition)
{
	fp->partition_index = partition;
	fp->committed_offset = -1;
	fp->committed_leader_epoch = -1;
	fp->metadata = kstr_c("");
	fp->error_code = KERR_NONE;
	struct committed_offset *o =
		g && topic.ptr ? group_offset(g, topic.ptr, (size_t)topic.len, partition, false) : NULL;
	if (!o)
		return;
	fp->committed_offset = o->offset;
	fp->committed_leader_epoch = o->leader_epoch;
	if (o->metadata)
		fp->metadata = kstr_c(arena_strndup(req->arena, o->metadata, strlen(o->metadata)));
}

/*
 * One group's answer in the v8+ shape (v1-v7 answers are converted from it).
 * topics NULL with n < 0: every offset the group has.
 */
static int16_t fetch_group(struct group_coordinator *gc, struct group_request *req, struct kstr group_id,
			   const struct offset_fetch_request_offset_fetch_request_topics *topics, int n,
			   fetch_topic **out, int *n_out)
{
	*out = NULL;
	*n_out = 0;
	int16_t err = !group_authorized(req, ACL_OP_DESCRIBE, ACL_RESOURCE_GROUP, group_id) ? KERR_GROUP_AUTHORIZATION_FAILED
		      : kstr_nonempty(group_id) ? group_owner_error(gc, group_id.ptr, (size_t)group_id.len)
						: KERR_INVALID_GROUP_ID;
	struct group *g = err == KERR_NONE ? group_find(gc, group_id.ptr, (size_t)group_id.len) : NULL;
	if (n >= 0) {
		/* The partitions asked for, each -1 unless committed (v1 also lists them on error). */
		fetch_topic *ts = arena_alloc(req->arena, sizeof *ts * (size_t)(n ? n : 1));
		for (int i = 0; i < n; i++) {
			offset_fetch_response_offset_fetch_response_topics_init(&ts[i]);
			ts[i].name = topics[i].name;
			int np = topics[i].partition_indexes_count > 0 ? topics[i].partition_indexes_count : 0;
			ts[i].partitions = arena_alloc(req->arena, sizeof *ts[i].partitions * (size_t)(np ? np : 1));
			ts[i].partitions_count = np;
			bool may = err != KERR_NONE || group_authorized(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TOPIC, topics[i].name);
			for (int j = 0; j < np; j++) {
				offset_fetch_response_offset_fetch_response_partitions_init(&ts[i].partitions[j]);
				fill_part(&ts[i].partitions[j], req, may ? g : NULL, topics[i].name, topics[i].partition_indexes[j]);
				if (!may)
					ts[i].partitions[j].error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
			}
		}
		*out = ts;
		*n_out = n;
		return err;
	}
	if (err != KERR_NONE)
		return err;
	if (!g || g->n_offsets == 0)
		return KERR_NONE;
	/* Offsets are sorted by topic: one response topic per run. */
	fetch_topic *ts = arena_alloc(req->arena, sizeof *ts * (size_t)g->n_offsets);
	int nt = 0;
	const char *skip = NULL; /* a topic the principal may not describe: left out silently */
	for (int i = 0; i < g->n_offsets; i++) {
		const struct committed_offset *o = &g->offsets[i];
		if (skip && !strcmp(skip, o->topic))
			continue;
		if ((nt == 0 || strcmp(ts[nt - 1].name.ptr, o->topic) != 0) &&
		    !group_authorized_quiet(req, ACL_OP_DESCRIBE, ACL_RESOURCE_TOPIC, kstr_c(o->topic))) {
			skip = o->topic;
			continue;
		}
		if (nt == 0 || strcmp(ts[nt - 1].name.ptr, o->topic) != 0) {
			offset_fetch_response_offset_fetch_response_topics_init(&ts[nt]);
			ts[nt].name = kstr_c(arena_strndup(req->arena, o->topic, strlen(o->topic)));
			ts[nt].partitions = arena_alloc(req->arena, sizeof *ts[nt].partitions * (size_t)g->n_offsets);
			ts[nt].partitions_count = 0;
			nt++;
		}
		fetch_part *fp = &ts[nt - 1].partitions[ts[nt - 1].partitions_count++];
		offset_fetch_response_offset_fetch_response_partitions_init(fp);
		fill_part(fp, req, g, kstr_c(o->topic), o->partition);
	}
	*out = ts;
	*n_out = nt;
	return KERR_NONE;
}

void group_handle_offset_fetch(struct group_coordinator *gc, struct group_request *req)
{
	int16_t version = req->api_version;
	const struct offset_fetch_request *of = req->body;
	struct offset_fetch_response resp;
	offset_fetch_response_init(&resp);
	pthread_mutex_lock(&gc->lock);
	if (version >= 8) {
		int ng = of->groups_count > 0 ? of->groups_count : 0;
		resp.groups = arena_alloc(req->arena, sizeof *resp.groups * (size_t)(ng ? ng : 1));
		resp.groups_count = ng;
		for (int i = 0; i < ng; i++) {
			const struct offset_fetch_request_offset_fetch_request_group *rg = &of->groups[i];
			struct offset_fetch_response_offset_fetch_response_group *out = &resp.groups[i];
			offset_fetch_response_offset_fetch_response_group_init(out);
			out->group_id = rg->group_id;
			fetch_topic *ts;
			int n;
			out->error_code = fetch_group(gc, req, rg->group_id, rg->topics, rg->topics_count, &ts, &n);
			out->topics = ts;
			out->topics_count = n;
		}
	} else {
		/* v1-v7: the same answer for one group, in the older shape. */
		int n_req = of->topics_count;
		struct offset_fetch_request_offset_fetch_request_topics *rt = NULL;
		if (n_req > 0) {
			rt = arena_alloc(req->arena, sizeof *rt * (size_t)n_req);
			for (int i = 0; i < n_req; i++) {
				rt[i].name = of->topics[i].name;
				rt[i].partition_indexes = of->topics[i].partition_indexes;
				rt[i].partition_indexes_count = of->topics[i].partition_indexes_count;
			}
		}
		if (version == 1 && n_req < 0)
			n_req = 0;
		fetch_topic *ts;
		int n;
		int16_t err = fetch_group(gc, req, of->group_id, rt, n_req, &ts, &n);
		/* v1 has no group-level error: every partition asked for carries it. */
		resp.error_code = err;
		resp.topics = arena_alloc(req->arena, sizeof *resp.topics * (size_t)(n ? n : 1));
		resp.topics_count = 0;
		if (err == KERR_NONE || version == 1) {
			for (int i = 0; i < n; i++) {
				struct offset_fetch_response_offset_fetch_response_topic *t = &resp.topics[resp.topics_count++];
				offset_fetch_response_offset_fetch_response_topic_init(t);
				t->name = ts[i].name;
				t->partitions = arena_alloc(req->arena,
							    sizeof *t->partitions * (size_t)(ts[i].partitions_count ? ts[i].partitions_count : 1));
				t->partitions_count = ts[i].partitions_count;
				for (int j = 0; j < ts[i].partitions_count; j++) {
					const fetch_part *fp = &ts[i].partitions[j];
					offset_fetch_response_offset_fetch_response_partition_init(&t->partitions[j]);
					t->partitions[j].partition_index = fp->partition_index;
					t->partitions[j].committed_offset = fp->committed_offset;
					t->partitions[j].committed_leader_epoch = fp->committed_leader_epoch;
					t->partitions[j].metadata = fp->metadata;
					t->partitions[j].error_code = err != KERR_NONE ? err : fp->error_code;
				}
			}
		}
	}
	pthread_mutex_unlock(&gc->lock);
	group_respond(req, &resp);
}

/* --- OffsetDelete ----------------------------------------------------------------------------- */

/* Whether any member's consumer-protocol subscription names topic. */
static bool subscribed(const struct group *g, struct kstr topic)
{
	for (int i = 0; i < g->n_members; i++) {
		const struct member_protocol *p = member_protocol(g->members[i], g->protocol);
		if (!p || p->len < 2)
			continue;
		struct arena a;
		arena_init(&a);
		struct rd r;
		rd_init(&r, p->metadata, (size_t)p->len);
		int16_t v = rd_i16(&r);
		struct consumer_protocol_subscription sub;
		bool hit = false;
		if (v >= 0 && consumer_protocol_subscription_decode(&r, &a, v > 3 ? 3 : v, &sub) == 0)
			for (int k = 0; k < sub.topics_count && !hit; k++)
				hit = sub.topics[k].ptr && sub.topics[k].len == topic.len &&
				      memcmp(sub.topics[k].ptr, topic.ptr, (size_t)topic.len) == 0;
		arena_free(&a);
		if (hit)
			return true;
	}
	return false;
}

void group_handle_offset_delete(struct group_coordinator *gc, struct group_request *req)
{
	const struct offset_delete_request *od = req->body;
	struct offset_delete_response resp;
	offset_delete_response_init(&resp);
	int nt = od->topics_count > 0 ? od->topics_count : 0;
	resp.topics = arena_alloc(req->arena, sizeof *resp.topics * (size_t)(nt ? nt : 1));
	resp.topics_count = 0;
	if (!group_authorized(req, ACL_OP_DELETE, ACL_RESOURCE_GROUP, od->group_id)) {
		resp.error_code = KERR_GROUP_AUTHORIZATION_FAILED;
		group_respond(req, &resp);
		return;
	}
	if (!kstr_nonempty(od->group_id)) {
		resp.error_code = KERR_INVALID_GROUP_ID;
		group_respond(req, &resp);
		return;
	}
	pthread_mutex_lock(&gc->lock);
	int16_t err = group_owner_error(gc, od->group_id.ptr, (size_t)od->group_id.len);
	struct group *g = err == KERR_NONE ? group_find(gc, od->group_id.ptr, (size_t)od->group_id.len) : NULL;
	if (err == KERR_NONE && (!g || g->state == GROUP_DEAD))
		err = KERR_GROUP_ID_NOT_FOUND;
	bool consumer = g && g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
	if (err == KERR_NONE && g->state != GROUP_EMPTY && !consumer)
		err = KERR_NON_EMPTY_GROUP;
	if (err != KERR_NONE) {
		resp.error_code = err;
		goto out;
	}
	struct wbuf w;
	wbuf_init(&w);
	struct batch_builder bb;
	batch_builder_begin(&bb, &w, NULL);
	int64_t now = wall_clock_ms();
	int n_records = 0;
	resp.topics_count = nt;
	for (int i = 0; i < nt; i++) {
		const struct offset_delete_request_offset_delete_request_topic *t = &od->topics[i];
		struct offset_delete_response_offset_delete_response_topic *rt = &resp.topics[i];
		offset_delete_response_offset_delete_response_topic_init(rt);
		rt->name = t->name;
		int np = t->partitions_count > 0 ? t->partitions_count : 0;
		rt->partitions = arena_alloc(req->arena, sizeof *rt->partitions * (size_t)(np ? np : 1));
		rt->partitions_count = np;
		bool busy = g->state != GROUP_EMPTY && t->name.ptr && subscribed(g, t->name);
		bool may_read = group_authorized(req, ACL_OP_READ, ACL_RESOURCE_TOPIC, t->name);
		for (int j = 0; j < np; j++) {
			offset_delete_response_offset_delete_response_partition_init(&rt->partitions[j]);
			rt->partitions[j].partition_index = t->partitions[j].partition_index;
			if (!may_read) {
				rt->partitions[j].error_code = KERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			if (busy) {
				rt->partitions[j].error_code = KERR_GROUP_SUBSCRIBED_TO_TOPIC;
				continue;
			}
			if (t->name.ptr && group_offset(g, t->name.ptr, (size_t)t->name.len, t->partitions[j].partition_index,
							false)) {
				char *topic = arena_strndup(req->arena, t->name.ptr, (size_t)t->name.len);
				records_offset_commit(&bb, now, g->id, topic, t->partitions[j].partition_index, NULL);
				n_records++;
			}
		}
	}
	if (n_records > 0) {
		int16_t werr = batch_builder_finish(&bb) > 0 ? (int16_t)group_append(gc, g->partition, &w)
							    : KERR_UNKNOWN_SERVER_ERROR;
		if (werr != KERR_NONE) {
			resp.error_code = werr;
			resp.topics_count = 0;
		} else {
			for (int i = 0; i < nt; i++)
				for (int j = 0; j < resp.topics[i].partitions_count; j++) {
					if (resp.topics[i].partitions[j].error_code != KERR_NONE || !od->topics[i].name.ptr)
						continue;
					struct committed_offset *o = group_offset(g, od->topics[i].name.ptr,
										  (size_t)od->topics[i].name.len,
										  od->topics[i].partitions[j].partition_index, false);
					if (o)
						group_drop_offset(g, o);
				}
		}
	}
	wbuf_free(&w);
out:
	pthread_mutex_unlock(&gc->lock);
	group_respond(req, &resp);
}

/* --- expiry -------------------------------------------------------------------------------------- */

/* Kafka's cleanupGroupMetadata: offsets of groups empty for offsets.retention.minutes go,
 * and so does a group with neither members nor offsets. */
void offsets_expire(struct group_coordinator *gc, int64_t now)
{
	for (int gi = 0; gi < gc->n_groups;) {
		struct group *g = gc->groups[gi];
		if (gc->cp.parts[g->partition].state != PART_OWNED) {
			gi++;
			continue;
		}
		struct wbuf w;
		wbuf_init(&w);
		struct batch_builder bb;
		batch_builder_begin(&bb, &w, NULL);
		int n = 0;
		bool all = g->state == GROUP_EMPTY && now - g->state_ts >= gc->cfg.retention_ms;
		for (int i = 0; i < g->n_offsets; i++) {
			const struct committed_offset *o = &g->offsets[i];
			if (all || (o->expire_ts >= 0 && now >= o->expire_ts)) {
				records_offset_commit(&bb, now, g->id, o->topic, o->partition, NULL);
				n++;
			}
		}
		bool gone = g->state == GROUP_EMPTY && g->n_members == 0 && g->n_offsets - n == 0;
		if (gone)
			records_group_tombstone(&bb, now, g->id);
		if ((n > 0 || gone) && batch_builder_finish(&bb) > 0 && group_append(gc, g->partition, &w) == KERR_NONE) {
			for (int i = 0; i < g->n_offsets;) {
				struct committed_offset *o = &g->offsets[i];
				if (all || (o->expire_ts >= 0 && now >= o->expire_ts))
					group_drop_offset(g, o);
				else
					i++;
			}
			if (n > 0)
				log_info("Removed %d expired offsets of group %s", n, g->id);
			if (gone) {
				wbuf_free(&w);
				group_remove(gc, g);
				continue;
			}
		}
		wbuf_free(&w);
		gi++;
	}
}
