/*
 * Groups, members and committed offsets as data [Kafka's GroupMetadata and
 * MemberMetadata]: lookup, protocol selection, state changes.  Callers hold
 * the coordinator lock; nothing here does I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "group/group_internal.h"
#include "samsa/util/xalloc.h"
#include "samsa/util/clock.h"

static int cmp_name(const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a);
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int group_search(struct group_coordinator *gc, const char *id, size_t len, bool *found)
{
	int lo = 0, hi = gc->n_groups;
	*found = false;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		int c = cmp_name(gc->groups[mid]->id, id, len);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct group *group_find(struct group_coordinator *gc, const char *id, size_t len)
{
	bool found;
	int at = group_search(gc, id, len, &found);
	return found ? gc->groups[at] : NULL;
}

struct group *group_new(const char *id, size_t len, int32_t partition, int64_t now)
{
	struct group *g = xcalloc(1, sizeof *g);
	g->id = xstrndup(id, len);
	g->partition = partition;
	g->state = GROUP_EMPTY;
	g->state_ts = now;
	return g;
}

struct group *group_add(struct group_coordinator *gc, const char *id, size_t len, int32_t partition)
{
	bool found;
	int at = group_search(gc, id, len, &found);
	if (found)
		return gc->groups[at];
	if (gc->n_groups == gc->cap_groups) {
		gc->cap_groups = gc->cap_groups ? gc->cap_groups * 2 : 16;
		gc->groups = xrealloc(gc->groups, sizeof *gc->groups * (size_t)gc->cap_groups);
	}
	memmove(&gc->groups[at + 1], &gc->groups[at], sizeof *gc->groups * (size_t)(gc->n_groups - at));
	struct group *g = group_new(id, len, partition, wall_clock_ms());
	gc->groups[at] = g;
	gc->n_groups++;
	return g;
}

void group_remove(struct group_coordinator *gc, struct group *g)
{
	for (int i = 0; i < gc->n_groups; i++)
		if (gc->groups[i] == g) {
			memmove(&gc->groups[i], &gc->groups[i + 1], sizeof *gc->groups * (size_t)(gc->n_groups - i - 1));
			gc->n_groups--;
			break;
		}
	group_free(g);
}

static void free_protocols(struct member *m)
{
	for (int i = 0; i < m->n_protocols; i++) {
		free(m->protocols[i].name);
		free(m->protocols[i].metadata);
	}
	free(m->protocols);
	m->protocols = NULL;
	m->n_protocols = 0;
}

void member_free(struct member *m)
{
	if (!m)
		return;
	free(m->id);
	free(m->instance_id);
	free(m->client_id);
	free(m->client_host);
	free(m->protocol_type);
	free_protocols(m);
	free(m->assignment);
	free(m);
}

void group_free(struct group *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n_members; i++)
		member_free(g->members[i]);
	free(g->members);
	for (int i = 0; i < g->n_pending; i++)
		free(g->pending[i].id);
	free(g->pending);
	for (int i = 0; i < g->n_offsets; i++) {
		free(g->offsets[i].topic);
		free(g->offsets[i].metadata);
	}
	free(g->offsets);
	for (int i = 0; i < g->n_txn_offsets; i++) {
		free(g->txn_offsets[i].o.topic);
		free(g->txn_offsets[i].o.metadata);
	}
	free(g->txn_offsets);
	free(g->id);
	free(g->protocol_type);
	free(g->protocol);
	free(g->leader);
	free(g);
}

struct member *group_member(const struct group *g, const char *id, size_t len)
{
	if (!id)
		return NULL;
	for (int i = 0; i < g->n_members; i++)
		if (cmp_name(g->members[i]->id, id, len) == 0)
			return g->members[i];
	return NULL;
}

struct member *group_static_member(const struct group *g, const char *instance_id, size_t len)
{
	if (!instance_id)
		return NULL;
	for (int i = 0; i < g->n_members; i++)
		if (g->members[i]->instance_id && cmp_name(g->members[i]->instance_id, instance_id, len) == 0)
			return g->members[i];
	return NULL;
}

void group_add_member(struct group *g, struct member *m)
{
	if (g->n_members == 0) {
		free(g->protocol_type);
		g->protocol_type = xstrdup(m->protocol_type);
	}
	g->members = xrealloc(g->members, sizeof *g->members * (size_t)(g->n_members + 1));
	g->members[g->n_members++] = m;
	if (!g->leader)
		g->leader = xstrdup(m->id);
}

/* Takes m out of g (the caller frees or keeps it); a new leader is picked if m led. */
void group_detach_member(struct group *g, struct member *m)
{
	for (int i = 0; i < g->n_members; i++)
		if (g->members[i] == m) {
			memmove(&g->members[i], &g->members[i + 1], sizeof *g->members * (size_t)(g->n_members - i - 1));
			g->n_members--;
			break;
		}
	if (g->leader && strcmp(g->leader, m->id) == 0) {
		free(g->leader);
		g->leader = g->n_members > 0 ? xstrdup(g->members[0]->id) : NULL;
	}
}

void member_set_protocols(struct member *m, const char *type, size_t type_len, const struct member_protocol *p, int n)
{
	free_protocols(m);
	free(m->protocol_type);
	m->protocol_type = xstrndup(type ? type : "", type ? type_len : 0);
	m->protocols = xcalloc((size_t)(n > 0 ? n : 1), sizeof *m->protocols);
	for (int i = 0; i < n; i++) {
		m->protocols[i].name = xstrdup(p[i].name);
		m->protocols[i].len = p[i].len;
		m->protocols[i].metadata = xmalloc((size_t)(p[i].len > 0 ? p[i].len : 1));
		if (p[i].len > 0)
			memcpy(m->protocols[i].metadata, p[i].metadata, (size_t)p[i].len);
	}
	m->n_protocols = n;
}

const struct member_protocol *member_protocol(const struct member *m, const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < m->n_protocols; i++)
		if (strcmp(m->protocols[i].name, name) == 0)
			return &m->protocols[i];
	return NULL;
}

static bool all_support(const struct group *g, const char *name)
{
	for (int i = 0; i < g->n_members; i++)
		if (!member_protocol(g->members[i], name))
			return false;
	return true;
}

/* Kafka's supportsProtocols: the same protocol type, and at least one protocol every member has. */
bool group_supports(const struct group *g, const char *type, size_t type_len, const struct member_protocol *p, int n)
{
	if (!type || type_len == 0 || n <= 0)
		return false;
	if (g->n_members == 0)
		return true;
	if (!g->protocol_type || cmp_name(g->protocol_type, type, type_len) != 0)
		return false;
	for (int i = 0; i < n; i++)
		if (all_support(g, p[i].name))
			return true;
	return false;
}

/*
 * Kafka's selectProtocol: among the protocols every member supports, each
 * member votes for the first of them in its own order of preference; the
 * most votes win (ties to the earliest voter's choice).
 */
const char *group_select_protocol(const struct group *g)
{
	const char *best = NULL;
	int best_votes = 0;
	for (int i = 0; i < g->n_members; i++) {
		const char *vote = NULL;
		for (int j = 0; j < g->members[i]->n_protocols && !vote; j++)
			if (all_support(g, g->members[i]->protocols[j].name))
				vote = g->members[i]->protocols[j].name;
		if (!vote)
			continue;
		int votes = 0;
		for (int k = 0; k < g->n_members; k++) {
			const char *v = NULL;
			for (int j = 0; j < g->members[k]->n_protocols && !v; j++)
				if (all_support(g, g->members[k]->protocols[j].name))
					v = g->members[k]->protocols[j].name;
			if (v && strcmp(v, vote) == 0)
				votes++;
		}
		if (votes > best_votes) {
			best = vote;
			best_votes = votes;
		}
	}
	return best;
}

int32_t group_rebalance_timeout(const struct group *g)
{
	int32_t t = 0;
	for (int i = 0; i < g->n_members; i++)
		if (g->members[i]->rebalance_timeout_ms > t)
			t = g->members[i]->rebalance_timeout_ms;
	return t;
}

const char *group_state_name(enum group_state s)
{
	switch (s) {
	case GROUP_EMPTY: return "Empty";
	case GROUP_PREPARING_REBALANCE: return "PreparingRebalance";
	case GROUP_COMPLETING_REBALANCE: return "CompletingRebalance";
	case GROUP_STABLE: return "Stable";
	case GROUP_DEAD: return "Dead";
	}
	return "Unknown";
}

void group_transition(struct group *g, enum group_state to, int64_t now)
{
	g->state = to;
	g->state_ts = now;
}

static int cmp_offset(const struct committed_offset *o, const char *topic, size_t len, int32_t partition)
{
	int c = cmp_name(o->topic, topic, len);
	if (c)
		return c;
	return o->partition < partition ? -1 : o->partition > partition;
}

struct committed_offset *group_offset(struct group *g, const char *topic, size_t topic_len, int32_t partition,
				      bool create)
{
	int lo = 0, hi = g->n_offsets;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		int c = cmp_offset(&g->offsets[mid], topic, topic_len, partition);
		if (c == 0)
			return &g->offsets[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!create)
		return NULL;
	g->offsets = xrealloc(g->offsets, sizeof *g->offsets * (size_t)(g->n_offsets + 1));
	memmove(&g->offsets[lo + 1], &g->offsets[lo], sizeof *g->offsets * (size_t)(g->n_offsets - lo));
	struct committed_offset *o = &g->offsets[lo];
	memset(o, 0, sizeof *o);
	o->topic = xstrndup(topic, topic_len);
	o->partition = partition;
	o->offset = -1;
	o->leader_epoch = -1;
	o->expire_ts = -1;
	g->n_offsets++;
	return o;
}

void group_drop_offset(struct group *g, struct committed_offset *o)
{
	size_t i = (size_t)(o - g->offsets);
	free(o->topic);
	free(o->metadata);
	memmove(&g->offsets[i], &g->offsets[i + 1], sizeof *g->offsets * ((size_t)g->n_offsets - i - 1));
	g->n_offsets--;
}
