/* The fetch session cache (see fetch_session.h). */
#include "server/fetch_session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/errors.h"
#include "util/xalloc.h"

/* Sessions idle longer than this may be evicted for a new one (Kafka's min.incremental.fetch.session.eviction.ms). */
#define EVICTION_MS 120000

struct session_part {
	char *topic;
	size_t topic_len;
	uint8_t topic_id[16];
	int32_t partition;
	int64_t fetch_offset;
	int32_t max_bytes;
	int32_t current_leader_epoch;
	int64_t sent_hw;
	int64_t sent_log_start;
};

struct session {
	int32_t id;
	int32_t next_epoch;
	int64_t last_used_ms;
	struct session_part *parts;
	size_t n, cap;
};

struct fetch_session_cache {
	pthread_mutex_t lock;
	int max_slots;
	struct session **s;
	int n;
	uint32_t rng;
};

struct fetch_session_cache *fetch_session_cache_new(int max_slots)
{
	struct fetch_session_cache *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->lock, NULL);
	c->max_slots = max_slots;
	c->s = xcalloc((size_t)(max_slots > 0 ? max_slots : 1), sizeof *c->s);
	c->rng = 0x9e3779b9u;
	return c;
}

static void session_free(struct session *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->parts[i].topic);
	free(s->parts);
	free(s);
}

void fetch_session_cache_free(struct fetch_session_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		session_free(c->s[i]);
	free(c->s);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int find(struct fetch_session_cache *c, int32_t id)
{
	for (int i = 0; i < c->n; i++)
		if (c->s[i]->id == id)
			return i;
	return -1;
}

static void remove_at(struct fetch_session_cache *c, int i)
{
	session_free(c->s[i]);
	c->s[i] = c->s[--c->n];
}

static int32_t new_id(struct fetch_session_cache *c)
{
	for (;;) {
		/* xorshift: ids only need to be unlikely to repeat, not secret */
		c->rng ^= c->rng << 13;
		c->rng ^= c->rng >> 17;
		c->rng ^= c->rng << 5;
		int32_t id = (int32_t)(c->rng & 0x7fffffff);
		if (id != 0 && find(c, id) < 0)
			return id;
	}
}

static bool same_part(const struct session_part *sp, const struct fetch_target *t)
{
	if (sp->partition != t->partition)
		return false;
	if (t->topic.ptr && t->topic.len > 0)
		return sp->topic_len == (size_t)t->topic.len && memcmp(sp->topic, t->topic.ptr, sp->topic_len) == 0;
	return memcmp(sp->topic_id, t->topic_id, 16) == 0;
}

static void upsert(struct session *s, const struct fetch_target *t)
{
	for (size_t i = 0; i < s->n; i++) {
		struct session_part *sp = &s->parts[i];
		if (same_part(sp, t)) {
			sp->fetch_offset = t->fetch_offset;
			sp->max_bytes = t->max_bytes;
			sp->current_leader_epoch = t->current_leader_epoch;
			return;
		}
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->parts = xrealloc(s->parts, sizeof *s->parts * s->cap);
	}
	struct session_part *sp = &s->parts[s->n++];
	memset(sp, 0, sizeof *sp);
	sp->topic = xstrndup(t->topic.ptr ? t->topic.ptr : "", t->topic.ptr ? (size_t)t->topic.len : 0);
	sp->topic_len = t->topic.ptr ? (size_t)t->topic.len : 0;
	memcpy(sp->topic_id, t->topic_id, 16);
	sp->partition = t->partition;
	sp->fetch_offset = t->fetch_offset;
	sp->max_bytes = t->max_bytes;
	sp->current_leader_epoch = t->current_leader_epoch;
	sp->sent_hw = -1;
	sp->sent_log_start = -1;
}

static void forget(struct session *s, const struct fetch_target *t)
{
	for (size_t i = 0; i < s->n; i++)
		if (same_part(&s->parts[i], t)) {
			free(s->parts[i].topic);
			memmove(&s->parts[i], &s->parts[i + 1], sizeof *s->parts * (s->n - i - 1));
			s->n--;
			return;
		}
}

/* A copy of the session's partitions in the fetch's arena. */
static void plan_from_session(const struct session *s, struct arena *a, struct fetch_session_plan *out)
{
	out->parts = arena_alloc(a, sizeof *out->parts * (s->n ? s->n : 1));
	out->n_parts = s->n;
	for (size_t i = 0; i < s->n; i++) {
		const struct session_part *sp = &s->parts[i];
		struct fetch_target *t = &out->parts[i];
		char *name = arena_alloc(a, sp->topic_len + 1);
		memcpy(name, sp->topic, sp->topic_len);
		name[sp->topic_len] = 0;
		t->topic = (struct kstr){ name, (int32_t)sp->topic_len };
		memcpy(t->topic_id, sp->topic_id, 16);
		t->partition = sp->partition;
		t->fetch_offset = sp->fetch_offset;
		t->max_bytes = sp->max_bytes;
		t->current_leader_epoch = sp->current_leader_epoch;
		t->sent_hw = sp->sent_hw;
		t->sent_log_start = sp->sent_log_start;
	}
}

static void plan_sessionless(const struct fetch_session_request *r, struct arena *a, struct fetch_session_plan *out)
{
	out->parts = arena_alloc(a, sizeof *out->parts * (r->n_parts ? r->n_parts : 1));
	memcpy(out->parts, r->parts, sizeof *out->parts * r->n_parts);
	out->n_parts = r->n_parts;
	for (size_t i = 0; i < r->n_parts; i++)
		out->parts[i].sent_hw = out->parts[i].sent_log_start = -1;
}

/* Make room: evict the least recently used session if it has been idle long enough. */
static bool make_room(struct fetch_session_cache *c, int64_t now)
{
	if (c->n < c->max_slots)
		return true;
	int oldest = -1;
	for (int i = 0; i < c->n; i++)
		if (oldest < 0 || c->s[i]->last_used_ms < c->s[oldest]->last_used_ms)
			oldest = i;
	if (oldest < 0 || now - c->s[oldest]->last_used_ms < EVICTION_MS)
		return false;
	remove_at(c, oldest);
	return true;
}

void fetch_session_begin(struct fetch_session_cache *c, const struct fetch_session_request *r, struct arena *a,
			 struct fetch_session_plan *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&c->lock);
	if (r->epoch == FETCH_SESSION_FINAL_EPOCH || r->epoch == FETCH_SESSION_INITIAL_EPOCH) {
		if (r->session_id != 0) {
			int i = find(c, r->session_id);
			if (i >= 0)
				remove_at(c, i);
		}
		plan_sessionless(r, a, out);
		if (r->epoch == FETCH_SESSION_INITIAL_EPOCH && c->max_slots > 0 && make_room(c, r->now_ms)) {
			struct session *s = xcalloc(1, sizeof *s);
			s->id = new_id(c);
			s->next_epoch = 1;
			s->last_used_ms = r->now_ms;
			for (size_t i = 0; i < r->n_parts; i++)
				upsert(s, &r->parts[i]);
			c->s[c->n++] = s;
			out->session_id = s->id;
		}
		pthread_mutex_unlock(&c->lock);
		return;
	}
	int i = find(c, r->session_id);
	if (i < 0) {
		out->error = KERR_FETCH_SESSION_ID_NOT_FOUND;
	} else if (c->s[i]->next_epoch != r->epoch) {
		out->error = KERR_INVALID_FETCH_SESSION_EPOCH;
	} else {
		struct session *s = c->s[i];
		for (size_t k = 0; k < r->n_parts; k++)
			upsert(s, &r->parts[k]);
		for (size_t k = 0; k < r->n_forgotten; k++)
			forget(s, &r->forgotten[k]);
		s->next_epoch = s->next_epoch == INT32_MAX ? 1 : s->next_epoch + 1;
		s->last_used_ms = r->now_ms;
		plan_from_session(s, a, out);
		out->session_id = s->id;
		out->incremental = true;
	}
	pthread_mutex_unlock(&c->lock);
}

void fetch_session_commit(struct fetch_session_cache *c, int32_t session_id, const struct fetch_target *parts,
			  size_t n_parts)
{
	if (session_id == 0)
		return;
	pthread_mutex_lock(&c->lock);
	int i = find(c, session_id);
	if (i >= 0) {
		struct session *s = c->s[i];
		for (size_t k = 0; k < n_parts; k++)
			for (size_t j = 0; j < s->n; j++)
				if (same_part(&s->parts[j], &parts[k])) {
					s->parts[j].sent_hw = parts[k].sent_hw;
					s->parts[j].sent_log_start = parts[k].sent_log_start;
					break;
				}
	}
	pthread_mutex_unlock(&c->lock);
}

int fetch_session_count(struct fetch_session_cache *c)
{
	pthread_mutex_lock(&c->lock);
	int n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
