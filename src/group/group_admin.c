/*
 * Looking at and removing groups [Kafka's handleDescribeGroup,
 * handleListGroups, handleDeleteGroups]: DescribeGroups, ListGroups and
 * DeleteGroups.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "group/group_internal.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"

/* READ, DELETE and DESCRIBE (AclOperation codes 3, 6, 8): what a group allows without ACLs. */
#define GROUP_AUTHORIZED_OPS ((1 << 3) | (1 << 6) | (1 << 8))

static struct kstr copy(struct group_request *req, const char *s)
{
	return s ? kstr_c(arena_strndup(req->arena, s, strlen(s))) : (struct kstr){ NULL, -1 };
}

static struct kbytes copy_bytes(struct group_request *req, const uint8_t *p, int32_t len)
{
	if (!p || len <= 0)
		return (struct kbytes){ (const uint8_t *)"", 0 };
	uint8_t *d = arena_alloc(req->arena, (size_t)len);
	memcpy(d, p, (size_t)len);
	return (struct kbytes){ d, len };
}

void group_handle_describe_groups(struct group_coordinator *gc, struct group_request *req)
{
	const struct describe_groups_request *dq = req->body;
	struct describe_groups_response resp;
	describe_groups_response_init(&resp);
	int n = dq->groups_count > 0 ? dq->groups_count : 0;
	resp.groups = arena_alloc(req->arena, sizeof *resp.groups * (size_t)(n ? n : 1));
	resp.groups_count = n;
	pthread_mutex_lock(&gc->lock);
	for (int i = 0; i < n; i++) {
		struct describe_groups_response_described_group *d = &resp.groups[i];
		describe_groups_response_described_group_init(d);
		d->group_id = dq->groups[i];
		d->group_state = kstr_c("");
		d->protocol_type = kstr_c("");
		d->protocol_data = kstr_c("");
		d->authorized_operations = dq->include_authorized_operations ? GROUP_AUTHORIZED_OPS : INT32_MIN;
		struct kstr id = dq->groups[i];
		if (!group_authorized(req, ACL_OP_DESCRIBE, ACL_RESOURCE_GROUP, id)) {
			d->error_code = KERR_GROUP_AUTHORIZATION_FAILED;
			d->authorized_operations = INT32_MIN;
			continue;
		}
		if (dq->include_authorized_operations && req->authorize) {
			/* The operations Kafka lists for a group, as far as the principal has them. */
			static const int ops[] = { ACL_OP_READ, ACL_OP_DELETE, ACL_OP_DESCRIBE };
			d->authorized_operations = 0;
			for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
				if (group_authorized_quiet(req, ops[k], ACL_RESOURCE_GROUP, id))
					d->authorized_operations |= 1 << ops[k];
		}
		if (!kstr_nonempty(id)) {
			d->error_code = KERR_INVALID_GROUP_ID;
			continue;
		}
		d->error_code = group_owner_error(gc, id.ptr, (size_t)id.len);
		if (d->error_code != KERR_NONE)
			continue;
		struct group *g = group_find(gc, id.ptr, (size_t)id.len);
		if (!g) {
			d->group_state = kstr_c("Dead");
			continue;
		}
		bool stable = g->state == GROUP_STABLE;
		d->group_state = kstr_c(group_state_name(g->state));
		d->protocol_type = copy(req, g->protocol_type ? g->protocol_type : "");
		d->protocol_data = stable && g->protocol ? copy(req, g->protocol) : kstr_c("");
		d->members = arena_alloc(req->arena, sizeof *d->members * (size_t)(g->n_members ? g->n_members : 1));
		d->members_count = g->n_members;
		for (int j = 0; j < g->n_members; j++) {
			const struct member *m = g->members[j];
			struct describe_groups_response_described_group_member *dm = &d->members[j];
			describe_groups_response_described_group_member_init(dm);
			dm->member_id = copy(req, m->id);
			dm->group_instance_id = copy(req, m->instance_id);
			dm->client_id = copy(req, m->client_id ? m->client_id : "");
			dm->client_host = copy(req, m->client_host ? m->client_host : "");
			/* Kafka shows metadata and assignments only once the group is Stable. */
			const struct member_protocol *p = stable ? member_protocol(m, g->protocol) : NULL;
			dm->member_metadata = p ? copy_bytes(req, p->metadata, p->len) : copy_bytes(req, NULL, 0);
			dm->member_assignment = stable ? copy_bytes(req, m->assignment, m->assignment_len) : copy_bytes(req, NULL, 0);
		}
	}
	pthread_mutex_unlock(&gc->lock);
	group_respond(req, &resp);
}

static bool state_wanted(const struct list_groups_request *lq, enum group_state s)
{
	if (lq->states_filter_count <= 0)
		return true;
	const char *name = group_state_name(s);
	for (int i = 0; i < lq->states_filter_count; i++) {
		struct kstr f = lq->states_filter[i];
		if (f.ptr && strlen(name) == (size_t)f.len && strncasecmp(name, f.ptr, (size_t)f.len) == 0)
			return true;
	}
	return false;
}

static bool type_wanted(const struct list_groups_request *lq)
{
	if (lq->types_filter_count <= 0)
		return true;
	for (int i = 0; i < lq->types_filter_count; i++) {
		struct kstr f = lq->types_filter[i];
		if (f.ptr && f.len == 7 && strncasecmp(f.ptr, "classic", 7) == 0)
			return true;
	}
	return false;
}

void group_handle_list_groups(struct group_coordinator *gc, struct group_request *req)
{
	const struct list_groups_request *lq = req->body;
	struct list_groups_response resp;
	list_groups_response_init(&resp);
	pthread_mutex_lock(&gc->lock);
	for (int p = 0; p < gc->cp.n_parts; p++)
		if (gc->cp.parts[p].state == PART_LOADING)
			resp.error_code = KERR_COORDINATOR_LOAD_IN_PROGRESS;
	resp.groups = arena_alloc(req->arena, sizeof *resp.groups * (size_t)(gc->n_groups ? gc->n_groups : 1));
	resp.groups_count = 0;
	bool types_ok = type_wanted(lq);
	/* Kafka: Describe on the cluster lists every group, else only those the principal may describe. */
	bool every = group_authorized_quiet(req, ACL_OP_DESCRIBE, ACL_RESOURCE_CLUSTER, (struct kstr){ NULL, -1 });
	for (int i = 0; i < gc->n_groups && types_ok; i++) {
		const struct group *g = gc->groups[i];
		if (gc->cp.parts[g->partition].state != PART_OWNED || g->state == GROUP_DEAD || !state_wanted(lq, g->state))
			continue;
		if (!every && !group_authorized_quiet(req, ACL_OP_DESCRIBE, ACL_RESOURCE_GROUP, kstr_c(g->id)))
			continue;
		struct list_groups_response_listed_group *lg = &resp.groups[resp.groups_count++];
		list_groups_response_listed_group_init(lg);
		lg->group_id = copy(req, g->id);
		lg->protocol_type = copy(req, g->protocol_type ? g->protocol_type : "");
		lg->group_state = kstr_c(group_state_name(g->state));
		lg->group_type = kstr_c("classic");
	}
	pthread_mutex_unlock(&gc->lock);
	group_respond(req, &resp);
}

void group_coordinator_committed_offsets(struct group_coordinator *gc, group_offset_fn fn, void *arg)
{
	pthread_mutex_lock(&gc->lock);
	for (int i = 0; i < gc->n_groups; i++) {
		const struct group *g = gc->groups[i];
		if (g->partition < 0 || g->partition >= gc->cp.n_parts || gc->cp.parts[g->partition].state != PART_OWNED ||
		    g->state == GROUP_DEAD)
			continue;
		for (int j = 0; j < g->n_offsets; j++)
			fn(arg, g->id, g->offsets[j].topic, g->offsets[j].partition, g->offsets[j].offset);
	}
	pthread_mutex_unlock(&gc->lock);
}

void group_handle_delete_groups(struct group_coordinator *gc, struct group_request *req)
{
	const struct delete_groups_request *dq = req->body;
	struct delete_groups_response resp;
	delete_groups_response_init(&resp);
	int n = dq->groups_names_count > 0 ? dq->groups_names_count : 0;
	resp.results = arena_alloc(req->arena, sizeof *resp.results * (size_t)(n ? n : 1));
	resp.results_count = n;
	int64_t now = wall_clock_ms();
	pthread_mutex_lock(&gc->lock);
	for (int i = 0; i < n; i++) {
		struct delete_groups_response_deletable_group_result *r = &resp.results[i];
		delete_groups_response_deletable_group_result_init(r);
		struct kstr id = dq->groups_names[i];
		r->group_id = id;
		if (!group_authorized(req, ACL_OP_DELETE, ACL_RESOURCE_GROUP, id)) {
			r->error_code = KERR_GROUP_AUTHORIZATION_FAILED;
			continue;
		}
		if (!kstr_nonempty(id)) {
			r->error_code = KERR_INVALID_GROUP_ID;
			continue;
		}
		r->error_code = group_owner_error(gc, id.ptr, (size_t)id.len);
		if (r->error_code != KERR_NONE)
			continue;
		struct group *g = group_find(gc, id.ptr, (size_t)id.len);
		if (!g || g->state == GROUP_DEAD) {
			r->error_code = KERR_GROUP_ID_NOT_FOUND;
			continue;
		}
		if (g->state != GROUP_EMPTY) {
			r->error_code = KERR_NON_EMPTY_GROUP;
			continue;
		}
		/* Tombstones for every offset, then for the group itself. */
		struct wbuf w;
		wbuf_init(&w);
		struct batch_builder bb;
		batch_builder_begin(&bb, &w, NULL);
		for (int j = 0; j < g->n_offsets; j++)
			records_offset_commit(&bb, now, g->id, g->offsets[j].topic, g->offsets[j].partition, NULL);
		records_group_tombstone(&bb, now, g->id);
		r->error_code = batch_builder_finish(&bb) > 0 ? (int16_t)group_append(gc, g->partition, &w)
							       : KERR_UNKNOWN_SERVER_ERROR;
		wbuf_free(&w);
		if (r->error_code == KERR_NONE) {
			log_info("Group %s deleted (%d offsets)", g->id, g->n_offsets);
			group_remove(gc, g);
		}
	}
	pthread_mutex_unlock(&gc->lock);
	group_respond(req, &resp);
}
