/*
 * __consumer_offsets records in Kafka's formats [GroupMetadataManager]:
 * key = int16 version + OffsetCommitKey (versions 0-1) or GroupMetadataKey
 * (version 2); value = int16 version + OffsetCommitValue / GroupMetadataValue,
 * or null for a tombstone.  We write OffsetCommitValue v3 (v1 when the commit
 * carries an expire timestamp) and GroupMetadataValue v3, as Kafka 3.9 does.
 */
#include <stdlib.h>
#include <string.h>

#include "group/group_internal.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "samsa/util/xalloc.h"

#define OFFSET_KEY_VERSION 1
#define GROUP_KEY_VERSION 2
#define OFFSET_VALUE_VERSION 3
#define OFFSET_VALUE_VERSION_EXPIRE 1
#define GROUP_VALUE_VERSION 3

static struct kstr str_or_null(const char *s)
{
	return s ? kstr_c(s) : (struct kstr){ NULL, -1 };
}

static struct kbytes as_bytes(const struct wbuf *w)
{
	return (struct kbytes){ w->data, (int32_t)w->len };
}

void records_offset_commit(struct batch_builder *bb, int64_t now, const char *group, const char *topic,
			   int32_t partition, const struct committed_offset *o)
{
	struct wbuf k, v;
	wbuf_init(&k);
	wbuf_init(&v);
	struct offset_commit_key key = { kstr_c(group), kstr_c(topic), partition };
	wbuf_i16(&k, OFFSET_KEY_VERSION);
	offset_commit_key_encode(&k, OFFSET_KEY_VERSION, &key);
	struct kbytes value = { NULL, -1 };
	if (o) {
		int16_t ver = o->expire_ts >= 0 ? OFFSET_VALUE_VERSION_EXPIRE : OFFSET_VALUE_VERSION;
		struct offset_commit_value val;
		offset_commit_value_init(&val);
		val.offset = o->offset;
		val.leader_epoch = o->leader_epoch;
		val.metadata = kstr_c(o->metadata ? o->metadata : "");
		val.commit_timestamp = o->commit_ts;
		val.expire_timestamp = o->expire_ts;
		wbuf_i16(&v, ver);
		offset_commit_value_encode(&v, ver, &val);
		value = as_bytes(&v);
	}
	batch_builder_add(bb, now, as_bytes(&k), value, NULL, 0);
	wbuf_free(&k);
	wbuf_free(&v);
}

static void group_key(struct wbuf *k, const char *group)
{
	struct group_metadata_key key = { kstr_c(group) };
	wbuf_i16(k, GROUP_KEY_VERSION);
	group_metadata_key_encode(k, GROUP_KEY_VERSION, &key);
}

void records_group_metadata(struct batch_builder *bb, int64_t now, const struct group *g)
{
	struct wbuf k, v;
	wbuf_init(&k);
	wbuf_init(&v);
	group_key(&k, g->id);
	struct group_metadata_value val;
	group_metadata_value_init(&val);
	val.protocol_type = kstr_c(g->protocol_type ? g->protocol_type : "");
	val.generation = g->generation;
	val.protocol = str_or_null(g->protocol);
	val.leader = str_or_null(g->leader);
	val.current_state_timestamp = g->state_ts;
	struct group_metadata_value_member_metadata *mm =
		xcalloc((size_t)(g->n_members > 0 ? g->n_members : 1), sizeof *mm);
	for (int i = 0; i < g->n_members; i++) {
		const struct member *m = g->members[i];
		const struct member_protocol *p = member_protocol(m, g->protocol);
		group_metadata_value_member_metadata_init(&mm[i]);
		mm[i].member_id = kstr_c(m->id);
		mm[i].group_instance_id = str_or_null(m->instance_id);
		mm[i].client_id = kstr_c(m->client_id ? m->client_id : "");
		mm[i].client_host = kstr_c(m->client_host ? m->client_host : "");
		mm[i].rebalance_timeout = m->rebalance_timeout_ms;
		mm[i].session_timeout = m->session_timeout_ms;
		mm[i].subscription = p ? (struct kbytes){ p->metadata, p->len } : (struct kbytes){ (const uint8_t *)"", 0 };
		mm[i].assignment = m->assignment ? (struct kbytes){ m->assignment, m->assignment_len }
						 : (struct kbytes){ (const uint8_t *)"", 0 };
	}
	val.members = mm;
	val.members_count = g->n_members;
	wbuf_i16(&v, GROUP_VALUE_VERSION);
	group_metadata_value_encode(&v, GROUP_VALUE_VERSION, &val);
	batch_builder_add(bb, now, as_bytes(&k), as_bytes(&v), NULL, 0);
	free(mm);
	wbuf_free(&k);
	wbuf_free(&v);
}

void records_group_tombstone(struct batch_builder *bb, int64_t now, const char *group)
{
	struct wbuf k;
	wbuf_init(&k);
	group_key(&k, group);
	batch_builder_add(bb, now, as_bytes(&k), (struct kbytes){ NULL, -1 }, NULL, 0);
	wbuf_free(&k);
}

static char *dup_kstr(struct kstr s)
{
	return s.ptr && s.len >= 0 ? xstrndup(s.ptr, (size_t)s.len) : NULL;
}

/* A group as its record describes it: members without parked requests. */
static struct group *group_from_value(const char *id, const struct group_metadata_value *v)
{
	struct group *g = xcalloc(1, sizeof *g);
	g->id = xstrdup(id);
	g->protocol_type = dup_kstr(v->protocol_type);
	g->generation = v->generation;
	g->protocol = dup_kstr(v->protocol);
	g->leader = dup_kstr(v->leader);
	g->state_ts = v->current_state_timestamp;
	int n = v->members_count > 0 ? v->members_count : 0;
	g->members = xcalloc((size_t)(n ? n : 1), sizeof *g->members);
	for (int i = 0; i < n; i++) {
		const struct group_metadata_value_member_metadata *mm = &v->members[i];
		struct member *m = xcalloc(1, sizeof *m);
		m->id = dup_kstr(mm->member_id);
		m->instance_id = dup_kstr(mm->group_instance_id);
		m->client_id = dup_kstr(mm->client_id);
		m->client_host = dup_kstr(mm->client_host);
		m->rebalance_timeout_ms = mm->rebalance_timeout >= 0 ? mm->rebalance_timeout : mm->session_timeout;
		m->session_timeout_ms = mm->session_timeout;
		if (!m->id) {
			member_free(m);
			continue;
		}
		struct member_protocol p = {
			.name = g->protocol ? g->protocol : "",
			.metadata = (uint8_t *)(mm->subscription.ptr ? mm->subscription.ptr : (const uint8_t *)""),
			.len = mm->subscription.len > 0 ? mm->subscription.len : 0,
		};
		member_set_protocols(m, g->protocol_type, g->protocol_type ? strlen(g->protocol_type) : 0, &p, 1);
		if (mm->assignment.ptr && mm->assignment.len > 0) {
			m->assignment = xmalloc((size_t)mm->assignment.len);
			memcpy(m->assignment, mm->assignment.ptr, (size_t)mm->assignment.len);
			m->assignment_len = mm->assignment.len;
		}
		g->members[g->n_members++] = m;
	}
	g->state = g->n_members > 0 ? GROUP_STABLE : GROUP_EMPTY;
	return g;
}

int records_decode(const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len,
		   const struct group_record_sink *sink)
{
	if (!key || key_len < 2)
		return -1;
	struct arena a;
	arena_init(&a);
	int rc = -1;
	struct rd r;
	rd_init(&r, key, (size_t)key_len);
	int16_t kv = rd_i16(&r);
	if (kv == 0 || kv == 1) {
		struct offset_commit_key k;
		if (offset_commit_key_decode(&r, &a, kv, &k) != 0 || !k.group.ptr || !k.topic.ptr)
			goto out;
		char *group = dup_kstr(k.group), *topic = dup_kstr(k.topic);
		if (!value) {
			sink->offset(sink->arg, group, topic, k.partition, NULL);
			rc = 0;
		} else if (value_len >= 2) {
			struct rd vr;
			rd_init(&vr, value, (size_t)value_len);
			int16_t vv = rd_i16(&vr);
			struct offset_commit_value v;
			if (vv >= 0 && vv <= 4 && offset_commit_value_decode(&vr, &a, vv, &v) == 0) {
				struct committed_offset o = {
					.topic = topic,
					.partition = k.partition,
					.offset = v.offset,
					.leader_epoch = v.leader_epoch,
					.metadata = v.metadata.ptr ? dup_kstr(v.metadata) : NULL,
					.commit_ts = v.commit_timestamp,
					.expire_ts = vv == 1 ? v.expire_timestamp : -1,
				};
				sink->offset(sink->arg, group, topic, k.partition, &o);
				free(o.metadata);
				rc = 0;
			}
		}
		free(group);
		free(topic);
	} else if (kv == 2) {
		struct group_metadata_key k;
		if (group_metadata_key_decode(&r, &a, kv, &k) != 0 || !k.group.ptr)
			goto out;
		char *group = dup_kstr(k.group);
		if (!value) {
			sink->group(sink->arg, group, NULL);
			rc = 0;
		} else if (value_len >= 2) {
			struct rd vr;
			rd_init(&vr, value, (size_t)value_len);
			int16_t vv = rd_i16(&vr);
			struct group_metadata_value v;
			if (vv >= 0 && vv <= 4 && group_metadata_value_decode(&vr, &a, vv, &v) == 0) {
				struct group *g = group_from_value(group, &v);
				sink->group(sink->arg, group, g);
				rc = 0;
			}
		}
		free(group);
	}
out:
	arena_free(&a);
	return rc;
}
