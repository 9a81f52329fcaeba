/* The fetch session cache (see fetch_session.h). */
#include "server/fetch_session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/proto.h"
#include "samsa/util/xalloc.h"

#define EVICTION_MS FETCH_SESSION_EVICTION_MS

struct session_part {
	char *topic;
	size_t topic_len;
	uint8_t topic_id[16];
	int32_t partition;
	int64_t fetch_offset;
	int32_t max_bytes;
	int32_t current_leader_epoch;
	int32_t last_fetched_epoch;
	int64_t sent_hw;
	int64_t sent_log_start;
	bool answered;       /* only inside fetch_session_commit */
};

struct session {
	int32_t id;
	int32_t next_epoch;
	bool privileged;     /* a follower's */
	bool uses_topic_ids; /* made by a v13+ request */
	int64_t creation_ms;
	int64_t last_used_ms;
	/*
	 * As of the last use [FetchSessionCache.touch]: the size it is weighed
	 * by, and whether a follower's / anyone's new session may evict it.
	 */
	size_t cached_size;
	bool evictable_by_privileged;
	bool evictable_by_all;
	struct session_part *parts;
	struct session_part *reorder; /* cap entries: commit's scratch, so it allocates nothing */
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
	free(s->reorder);
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
			sp->last_fetched_epoch = t->last_fetched_epoch;
			return;
		}
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->parts = xrealloc(s->parts, sizeof *s->parts * s->cap);
		s->reorder = xrealloc(s->reorder, sizeof *s->reorder * s->cap);
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
	sp->last_fetched_epoch = t->last_fetched_epoch;
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
		t->last_fetched_epoch = sp->last_fetched_epoch;
		t->sent_hw = sp->sent_hw;
		t->sent_log_start = sp->sent_log_start;
		t->responded = false;
	}
}

static void plan_sessionless(const struct fetch_session_request *r, struct arena *a, struct fetch_session_plan *out)
{
	out->parts = arena_alloc(a, sizeof *out->parts * (r->n_parts ? r->n_parts : 1));
	if (r->n_parts > 0)
		memcpy(out->parts, r->parts, sizeof *out->parts * r->n_parts);
	out->n_parts = r->n_parts;
	for (size_t i = 0; i < r->n_parts; i++) {
		out->parts[i].sent_hw = out->parts[i].sent_log_start = -1;
		out->parts[i].responded = false;
	}
}

/*
 * Record a use [FetchSessionCache.touch].  A session is weighed by its size
 * at its last use.  A follower's new session may evict any consumer's, and a
 * follower's once it is older than the eviction time; a consumer's only one
 * older than that.  Age is judged here, at the last use, as Kafka does.
 */
static void touch(struct session *s, int64_t now)
{
	s->last_used_ms = now;
	s->cached_size = s->n;
	bool old = now - s->creation_ms > EVICTION_MS;
	s->evictable_by_privileged = !s->privileged || old;
	s->evictable_by_all = old;
}

/* Kafka's EvictableKey order: consumers before followers, then fewer partitions, then lower id. */
static int evictable_cmp(bool priv_a, size_t size_a, int32_t id_a, const struct session *b)
{
	if (priv_a != b->privileged)
		return priv_a ? 1 : -1;
	if (size_a != b->cached_size)
		return size_a < b->cached_size ? -1 : 1;
	return id_a < b->id ? -1 : id_a > b->id;
}

/*
 * Make room for a new session of `size` partitions [FetchSessionCacheShard.tryEvict]:
 * evict the least recently used session if it has been idle longer than the
 * eviction time; else the least valuable session the newcomer may evict, if
 * it is worth no more than the newcomer.
 */
static bool make_room(struct fetch_session_cache *c, bool privileged, size_t size, int64_t now)
{
	if (c->n < c->max_slots)
		return true;
	int lru = -1;
	for (int i = 0; i < c->n; i++)
		if (lru < 0 || c->s[i]->last_used_ms < c->s[lru]->last_used_ms ||
		    (c->s[i]->last_used_ms == c->s[lru]->last_used_ms && c->s[i]->id < c->s[lru]->id))
			lru = i;
	if (lru < 0)
		return false;
	if (now - c->s[lru]->last_used_ms > EVICTION_MS) {
		remove_at(c, lru);
		return true;
	}
	int least = -1;
	for (int i = 0; i < c->n; i++) {
		const struct session *s = c->s[i];
		if (!(privileged ? s->evictable_by_privileged : s->evictable_by_all))
			continue;
		if (least < 0 || evictable_cmp(s->privileged, s->cached_size, s->id, c->s[least]) < 0)
			least = i;
	}
	/* The newcomer's key has id 0: it must outweigh an equal-sized session to evict it. */
	if (least < 0 || evictable_cmp(privileged, size, 0, c->s[least]) < 0)
		return false;
	remove_at(c, least);
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
		if (r->epoch == FETCH_SESSION_INITIAL_EPOCH && c->max_slots > 0 &&
		    make_room(c, r->privileged, r->n_parts, r->now_ms)) {
			struct session *s = xcalloc(1, sizeof *s);
			s->id = new_id(c);
			s->next_epoch = 1;
			s->privileged = r->privileged;
			s->uses_topic_ids = r->uses_topic_ids;
			s->creation_ms = r->now_ms;
			for (size_t i = 0; i < r->n_parts; i++)
				upsert(s, &r->parts[i]);
			touch(s, r->now_ms);
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
	} else if (c->s[i]->uses_topic_ids != r->uses_topic_ids) {
		/* The session's partitions are keyed one way; a request of the other kind cannot name them. */
		out->error = KERR_FETCH_SESSION_TOPIC_ID_ERROR;
	} else {
		struct session *s = c->s[i];
		for (size_t k = 0; k < r->n_parts; k++)
			upsert(s, &r->parts[k]);
		for (size_t k = 0; k < r->n_forgotten; k++)
			forget(s, &r->forgotten[k]);
		if (s->n == 0) {
			/* Nothing left to fetch: Kafka closes the session and answers this request on its own. */
			remove_at(c, i);
			plan_sessionless(r, a, out);
			pthread_mutex_unlock(&c->lock);
			return;
		}
		s->next_epoch = s->next_epoch == INT32_MAX ? 1 : s->next_epoch + 1;
		touch(s, r->now_ms);
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
		for (size_t j = 0; j < s->n; j++)
			s->parts[j].answered = false;
		/*
		 * The targets come in the session's order (they were read from it), so
		 * each search starts where the last one matched: one pass in all but
		 * the odd case, and still correct (wrapping) when the orders differ.
		 */
		size_t from = 0;
		for (size_t k = 0; k < n_parts && s->n > 0; k++)
			for (size_t step = 0; step < s->n; step++) {
				size_t j = (from + step) % s->n;
				if (same_part(&s->parts[j], &parts[k])) {
					s->parts[j].sent_hw = parts[k].sent_hw;
					s->parts[j].sent_log_start = parts[k].sent_log_start;
					s->parts[j].answered = parts[k].responded;
					from = j + 1;
					break;
				}
			}
		/*
		 * What the answer carried moves to the back, in order, so the next
		 * read starts with the partitions that had nothing and a response
		 * byte limit does not starve the back of the session (Kafka's
		 * IncrementalFetchContext re-adds each one it sends).
		 */
		struct session_part *order = s->reorder;
		size_t m = 0;
		for (size_t j = 0; j < s->n; j++)
			if (!s->parts[j].answered)
				order[m++] = s->parts[j];
		for (size_t j = 0; j < s->n; j++)
			if (s->parts[j].answered)
				order[m++] = s->parts[j];
		s->reorder = s->parts;
		s->parts = order;
	}
	pthread_mutex_unlock(&c->lock);
}

bool fetch_session_must_respond(const struct fetch_target *t, int16_t error, size_t records_len, int64_t hw,
				int64_t log_start, int32_t diverging_epoch, int64_t diverging_end_offset)
{
	bool diverging = diverging_epoch >= 0 || diverging_end_offset >= 0;
	return error != KERR_NONE || records_len > 0 || diverging || hw != t->sent_hw ||
	       log_start != t->sent_log_start;
}

void fetch_session_record_sent(struct fetch_target *t, int16_t error, int64_t hw, int64_t log_start)
{
	t->responded = true;
	/* After an error nothing counts as sent: the partition goes again once the error clears. */
	t->sent_hw = error != KERR_NONE ? -1 : hw;
	t->sent_log_start = log_start;
}

int fetch_session_count(struct fetch_session_cache *c)
{
	pthread_mutex_lock(&c->lock);
	int n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
