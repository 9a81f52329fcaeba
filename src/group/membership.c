/*
 * The classic rebalance protocol [Kafka's GroupCoordinator]: JoinGroup,
 * SyncGroup, Heartbeat and LeaveGroup, and the deadlines that drive them.
 *
 * A rebalance: the group enters PreparingRebalance; every member must send
 * JoinGroup again (their requests are parked) until all have or the
 * rebalance timeout passes; then the generation goes up, a protocol is
 * chosen, every parked JoinGroup is answered (the leader gets the member
 * list) and the group waits in CompletingRebalance for the leader's
 * SyncGroup with the assignment, which answers every parked SyncGroup and
 * makes the group Stable.  Members that stop heartbeating for their session
 * timeout are removed, which starts another rebalance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group/group_internal.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/uuid.h"
#include "samsa/util/xalloc.h"

/* --- helpers ------------------------------------------------------------------------- */

static void env_reply(struct group_env *env, struct group_request *req, void *resp) { env->reply(env->arg, req, resp); }

static void env_kick(struct group_env *env)
{
	if (env->kick)
		env->kick(env->arg);
}

static int16_t env_store(struct group_env *env, struct group *g)
{
	return env->store ? env->store(env->arg, g) : KERR_NONE;
}

/* Kafka's member ids: "<client id or group.instance.id>-<random UUID>". */
static char *new_member_id(struct kstr prefix)
{
	uint8_t u[16];
	uuid_random(u);
	u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
	return xasprintf("%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 prefix.ptr ? prefix.len : 0, prefix.ptr ? prefix.ptr : "", u[0], u[1], u[2], u[3], u[4],
			 u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* Kafka shows the client's address as InetAddress.toString does: "/127.0.0.1". */
static char *client_host(const struct group_request *req)
{
	const char *peer = req->peer;
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	return xasprintf("/%.*s", (int)n, peer);
}

static struct member_protocol *request_protocols(const struct join_group_request *jq, struct arena *a, int *n)
{
	int count = jq->protocols_count > 0 ? jq->protocols_count : 0;
	struct member_protocol *p = arena_alloc(a, sizeof *p * (size_t)(count ? count : 1));
	for (int i = 0; i < count; i++) {
		const struct join_group_request_join_group_request_protocol *rp = &jq->protocols[i];
		p[i].name = arena_strndup(a, rp->name.ptr ? rp->name.ptr : "", rp->name.ptr ? (size_t)rp->name.len : 0);
		p[i].metadata = (uint8_t *)(rp->metadata.ptr ? rp->metadata.ptr : (const uint8_t *)"");
		p[i].len = rp->metadata.len > 0 ? rp->metadata.len : 0;
	}
	*n = count;
	return p;
}

/* Whether m's protocols are the ones in the request (same names, order and metadata). */
static bool same_protocols(const struct member *m, const struct member_protocol *p, int n)
{
	if (m->n_protocols != n)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(m->protocols[i].name, p[i].name) != 0 || m->protocols[i].len != p[i].len ||
		    (p[i].len > 0 && memcmp(m->protocols[i].metadata, p[i].metadata, (size_t)p[i].len) != 0))
			return false;
	return true;
}

static struct join_group_response *join_response(struct group_request *req, int16_t error)
{
	struct join_group_response *r = arena_alloc(req->arena, sizeof *r);
	join_group_response_init(r);
	r->error_code = error;
	r->generation_id = -1;
	r->member_id = kstr_c("");
	r->protocol_name = (struct kstr){ NULL, -1 };
	r->leader = kstr_c("");
	r->members = NULL;
	r->members_count = 0;
	return r;
}

static void join_error(struct group_env *env, struct group_request *req, int16_t error, const char *member_id)
{
	struct join_group_response *r = join_response(req, error);
	if (member_id)
		r->member_id = kstr_c(arena_strndup(req->arena, member_id, strlen(member_id)));
	env_reply(env, req, r);
}

static struct sync_group_response *sync_response(struct group_request *req, int16_t error)
{
	struct sync_group_response *r = arena_alloc(req->arena, sizeof *r);
	sync_group_response_init(r);
	r->error_code = error;
	r->assignment = (struct kbytes){ (const uint8_t *)"", 0 };
	return r;
}

static char *arena_copy(struct group_request *req, const char *s)
{
	return s ? arena_strndup(req->arena, s, strlen(s)) : NULL;
}

static struct kstr kstr_or_null(const char *s) { return s ? kstr_c(s) : (struct kstr){ NULL, -1 }; }

/* The JoinGroup answer for m at the group's current generation (the leader gets every member). */
static struct join_group_response *join_result(struct group *g, struct member *m, struct group_request *req, bool members)
{
	struct join_group_response *r = join_response(req, KERR_NONE);
	r->generation_id = g->generation;
	r->protocol_type = kstr_c(arena_copy(req, g->protocol_type ? g->protocol_type : ""));
	r->protocol_name = kstr_or_null(arena_copy(req, g->protocol));
	r->leader = kstr_c(arena_copy(req, g->leader ? g->leader : ""));
	r->member_id = kstr_c(arena_copy(req, m->id));
	if (members) {
		r->members = arena_alloc(req->arena, sizeof *r->members * (size_t)(g->n_members ? g->n_members : 1));
		for (int i = 0; i < g->n_members; i++) {
			const struct member *o = g->members[i];
			const struct member_protocol *p = member_protocol(o, g->protocol);
			join_group_response_join_group_response_member_init(&r->members[i]);
			r->members[i].member_id = kstr_c(arena_copy(req, o->id));
			r->members[i].group_instance_id = kstr_or_null(arena_copy(req, o->instance_id));
			if (p) {
				uint8_t *md = arena_alloc(req->arena, (size_t)(p->len ? p->len : 1));
				if (p->len > 0)
					memcpy(md, p->metadata, (size_t)p->len);
				r->members[i].metadata = (struct kbytes){ md, p->len };
			} else {
				r->members[i].metadata = (struct kbytes){ (const uint8_t *)"", 0 };
			}
		}
		r->members_count = g->n_members;
	}
	return r;
}

/* --- state changes ---------------------------------------------------------------------- */

static void reset_assignments(struct group_env *env, struct group *g, int16_t error)
{
	for (int i = 0; i < g->n_members; i++) {
		struct member *m = g->members[i];
		free(m->assignment);
		m->assignment = NULL;
		m->assignment_len = 0;
		if (m->sync_req) {
			env_reply(env, m->sync_req, sync_response(m->sync_req, error));
			m->sync_req = NULL;
		}
	}
}

static void prepare_rebalance(struct group_env *env, struct group *g, const char *why)
{
	if (g->state == GROUP_COMPLETING_REBALANCE)
		reset_assignments(env, g, KERR_REBALANCE_IN_PROGRESS);
	int32_t timeout = group_rebalance_timeout(g);
	if (g->state == GROUP_EMPTY) {
		/* Kafka's InitialDelayedJoin: wait a little for the rest of a starting group. */
		int32_t delay = env->cfg->initial_delay_ms < timeout ? env->cfg->initial_delay_ms : timeout;
		g->initial_join = true;
		g->join_deadline = env->now + delay;
		g->initial_end = env->now + timeout;
	} else {
		g->initial_join = false;
		g->join_deadline = env->now + timeout;
	}
	log_info("Preparing to rebalance group %s in state %s with old generation %d (%s)", g->id,
		 group_state_name(g->state), g->generation, why);
	group_transition(g, GROUP_PREPARING_REBALANCE, env->now);
	env_kick(env);
}

static void maybe_prepare_rebalance(struct group_env *env, struct group *g, const char *why)
{
	if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE || g->state == GROUP_EMPTY)
		prepare_rebalance(env, g, why);
}

static bool all_joined(const struct group *g)
{
	if (g->n_pending > 0)
		return false;
	for (int i = 0; i < g->n_members; i++)
		if (!g->members[i]->join_req)
			return false;
	return true;
}

/* The rebalance's join phase ends: answer every parked JoinGroup. */
static void complete_join(struct group_env *env, struct group *g)
{
	/* Dynamic members that did not rejoin in time leave the group; static ones stay
	 * (their session timeout decides), as in Kafka's onCompleteJoin. */
	for (int i = 0; i < g->n_members;) {
		struct member *m = g->members[i];
		if (m->join_req || m->instance_id) {
			i++;
			continue;
		}
		log_info("Member %s in group %s did not rejoin in time; removing it", m->id, g->id);
		if (m->sync_req)
			env_reply(env, m->sync_req, sync_response(m->sync_req, KERR_REBALANCE_IN_PROGRESS));
		group_detach_member(g, m);
		member_free(m);
	}
	/* Kafka's maybeElectNewJoinedLeader: the leader must be a member that rejoined; when
	 * none did (only absent static members are left), wait another rebalance timeout. */
	struct member *cur = g->leader ? group_member(g, g->leader, strlen(g->leader)) : NULL;
	if (g->n_members > 0 && (!cur || !cur->join_req)) {
		struct member *joined = NULL;
		for (int i = 0; i < g->n_members && !joined; i++)
			if (g->members[i]->join_req)
				joined = g->members[i];
		if (!joined) {
			log_warn("Group %s could not complete rebalance because no members rejoined", g->id);
			g->join_deadline = env->now + group_rebalance_timeout(g);
			env_kick(env);
			return;
		}
		free(g->leader);
		g->leader = xstrdup(joined->id);
	}
	/* Pending members (MEMBER_ID_REQUIRED) stay pending: they join the next round. */
	g->generation++;
	free(g->protocol);
	g->protocol = NULL;
	if (g->n_members == 0) {
		free(g->leader);
		g->leader = NULL;
		group_transition(g, GROUP_EMPTY, env->now);
		int16_t err = env_store(env, g);
		log_info("Group %s with generation %d is now empty (%s-%d)%s", g->id, g->generation,
			 GROUP_OFFSETS_TOPIC, g->partition, err ? "; storing its metadata failed" : "");
		return;
	}
	const char *p = group_select_protocol(g);
	g->protocol = p ? xstrdup(p) : NULL;
	group_transition(g, GROUP_COMPLETING_REBALANCE, env->now);
	g->sync_deadline = env->now + group_rebalance_timeout(g);
	log_info("Stabilized group %s generation %d (%s-%d) with %d members", g->id, g->generation,
		 GROUP_OFFSETS_TOPIC, g->partition, g->n_members);
	for (int i = 0; i < g->n_members; i++) {
		struct member *m = g->members[i];
		bool leader = strcmp(m->id, g->leader) == 0;
		if (m->join_req)
			env_reply(env, m->join_req, join_result(g, m, m->join_req, leader));
		m->join_req = NULL;
		m->is_new = false;
		m->sync_pending = true;
		m->heartbeat_deadline = env->now + m->session_timeout_ms;
	}
	env_kick(env);
}

static void try_complete_join(struct group_env *env, struct group *g)
{
	if (g->state == GROUP_PREPARING_REBALANCE && !g->initial_join && all_joined(g))
		complete_join(env, g);
}

/* A member leaves (LeaveGroup, session expiry): answer what it had parked, then rebalance. */
static void remove_member(struct group_env *env, struct group *g, struct member *m, const char *why)
{
	if (m->join_req)
		join_error(env, m->join_req, KERR_UNKNOWN_MEMBER_ID, NULL);
	if (m->sync_req)
		env_reply(env, m->sync_req, sync_response(m->sync_req, KERR_UNKNOWN_MEMBER_ID));
	m->join_req = m->sync_req = NULL;
	group_detach_member(g, m);
	char reason[512];
	snprintf(reason, sizeof reason, "removing member %s on %s", m->id, why);
	member_free(m);
	switch (g->state) {
	case GROUP_STABLE:
	case GROUP_COMPLETING_REBALANCE:
		prepare_rebalance(env, g, reason);
		break;
	case GROUP_PREPARING_REBALANCE:
		try_complete_join(env, g);
		break;
	default:
		break;
	}
}

static void remove_pending(struct group *g, int i)
{
	free(g->pending[i].id);
	g->pending[i] = g->pending[--g->n_pending];
}

static int find_pending(const struct group *g, struct kstr id)
{
	for (int i = 0; i < g->n_pending; i++)
		if (kstr_eq(id, g->pending[i].id))
			return i;
	return -1;
}

void group_abort(struct group_env *env, struct group *g, int16_t error)
{
	for (int i = 0; i < g->n_members; i++) {
		struct member *m = g->members[i];
		if (m->join_req)
			join_error(env, m->join_req, error, NULL);
		if (m->sync_req)
			env_reply(env, m->sync_req, sync_response(m->sync_req, error));
		m->join_req = m->sync_req = NULL;
	}
}

/* The members that sent no SyncGroup for this generation within the rebalance timeout
 * leave [Kafka's DelayedSync], in CompletingRebalance and in Stable alike. */
static void expire_pending_sync(struct group_env *env, struct group *g)
{
	for (int i = 0; i < g->n_members;) {
		struct member *m = g->members[i];
		if (!m->sync_pending) {
			i++;
			continue;
		}
		log_info("Member %s in group %s did not send SyncGroup in time; removing it", m->id, g->id);
		group_detach_member(g, m);
		member_free(m);
	}
	if (g->n_members > 0) {
		prepare_rebalance(env, g, "pending sync request expiration");
	} else {
		reset_assignments(env, g, KERR_REBALANCE_IN_PROGRESS);
		group_transition(g, GROUP_PREPARING_REBALANCE, env->now);
		complete_join(env, g);
	}
}

int64_t group_tick(struct group_env *env, struct group *g)
{
	int64_t next = env->now + 60000;
	for (int i = 0; i < g->n_pending;) {
		if (env->now >= g->pending[i].deadline) {
			remove_pending(g, i);
			try_complete_join(env, g);
		} else {
			if (g->pending[i].deadline < next)
				next = g->pending[i].deadline;
			i++;
		}
	}
	for (int i = 0; i < g->n_members;) {
		struct member *m = g->members[i];
		/* Members waiting on the coordinator are alive by definition. */
		if (m->join_req || m->sync_req) {
			i++;
			continue;
		}
		if (env->now >= m->heartbeat_deadline) {
			log_info("Member %s in group %s has failed (no heartbeat for %d ms); removing it", m->id, g->id,
				 m->session_timeout_ms);
			remove_member(env, g, m, "expiration of its session");
			continue;
		}
		if (m->heartbeat_deadline < next)
			next = m->heartbeat_deadline;
		i++;
	}
	if (g->state == GROUP_PREPARING_REBALANCE) {
		if (env->now >= g->join_deadline)
			complete_join(env, g);
		else if (g->join_deadline < next)
			next = g->join_deadline;
	} else if (g->state == GROUP_COMPLETING_REBALANCE || g->state == GROUP_STABLE) {
		bool pending = false;
		for (int i = 0; i < g->n_members && !pending; i++)
			pending = g->members[i]->sync_pending;
		if (pending && env->now >= g->sync_deadline)
			expire_pending_sync(env, g);
		else if (pending && g->sync_deadline < next)
			next = g->sync_deadline;
	}
	return next;
}

/* --- JoinGroup ------------------------------------------------------------------------------ */

static void add_member_and_rebalance(struct group_env *env, struct group *g, struct group_request *req,
				     const struct join_group_request *jq, const struct member_protocol *p, int n,
				     char *member_id)
{
	struct member *m = xcalloc(1, sizeof *m);
	m->id = member_id;
	m->instance_id = kstr_nonempty(jq->group_instance_id)
				 ? xstrndup(jq->group_instance_id.ptr, (size_t)jq->group_instance_id.len)
				 : NULL;
	m->client_id = req->client_id.ptr ? xstrndup(req->client_id.ptr, (size_t)req->client_id.len)
						 : xstrdup("");
	m->client_host = client_host(req);
	m->session_timeout_ms = jq->session_timeout_ms;
	m->rebalance_timeout_ms = jq->rebalance_timeout_ms;
	member_set_protocols(m, jq->protocol_type.ptr, (size_t)(jq->protocol_type.len > 0 ? jq->protocol_type.len : 0), p,
			     n);
	m->is_new = true;
	m->join_req = req;
	m->heartbeat_deadline = env->now + m->session_timeout_ms;
	group_add_member(g, m);
	if (g->state == GROUP_PREPARING_REBALANCE && g->initial_join) {
		/* A starting group waits a little longer for each newcomer, up to the rebalance timeout. */
		int64_t extended = env->now + env->cfg->initial_delay_ms;
		g->join_deadline = extended < g->initial_end ? extended : g->initial_end;
	}
	char why[512];
	snprintf(why, sizeof why, "adding new member %s", m->id);
	maybe_prepare_rebalance(env, g, why);
	try_complete_join(env, g);
}

static void update_member_and_rebalance(struct group_env *env, struct group *g, struct member *m,
					struct group_request *req, const struct join_group_request *jq,
					const struct member_protocol *p, int n)
{
	member_set_protocols(m, jq->protocol_type.ptr, (size_t)(jq->protocol_type.len > 0 ? jq->protocol_type.len : 0), p,
			     n);
	m->session_timeout_ms = jq->session_timeout_ms;
	m->rebalance_timeout_ms = jq->rebalance_timeout_ms;
	if (m->join_req)
		join_error(env, m->join_req, KERR_UNKNOWN_MEMBER_ID, NULL);
	m->join_req = req;
	char why[512];
	snprintf(why, sizeof why, "updating metadata of member %s", m->id);
	maybe_prepare_rebalance(env, g, why);
	try_complete_join(env, g);
}

/*
 * A static member (group.instance.id) comes back under a new member id [Kafka's
 * updateStaticMemberAndRebalance].  In a Stable group whose selected protocol stays
 * the same it keeps the current generation and assignment (no rebalance); otherwise
 * the group rebalances.
 */
static void replace_static_member(struct group_env *env, struct group *g, struct member *m,
				  struct group_request *req, const struct join_group_request *jq,
				  const struct member_protocol *p, int n)
{
	char *old_leader = g->leader ? xstrdup(g->leader) : NULL;
	char *old_id = m->id;
	m->id = new_member_id(jq->group_instance_id);
	if (g->leader && strcmp(g->leader, old_id) == 0) {
		free(g->leader);
		g->leader = xstrdup(m->id);
	}
	if (m->join_req)
		join_error(env, m->join_req, KERR_FENCED_INSTANCE_ID, NULL);
	if (m->sync_req)
		env_reply(env, m->sync_req, sync_response(m->sync_req, KERR_FENCED_INSTANCE_ID));
	m->join_req = m->sync_req = NULL;
	log_info("Static member %s of group %s rejoined as %s", old_id, g->id, m->id);
	m->heartbeat_deadline = env->now + jq->session_timeout_ms;
	if (g->state == GROUP_STABLE) {
		/* Kafka updates the member first, then asks whether the next generation's protocol changes. */
		struct member *was = xcalloc(1, sizeof *was);
		member_set_protocols(was, m->protocol_type, strlen(m->protocol_type), m->protocols, m->n_protocols);
		was->session_timeout_ms = m->session_timeout_ms;
		was->rebalance_timeout_ms = m->rebalance_timeout_ms;
		member_set_protocols(m, jq->protocol_type.ptr,
				     (size_t)(jq->protocol_type.len > 0 ? jq->protocol_type.len : 0), p, n);
		m->session_timeout_ms = jq->session_timeout_ms;
		m->rebalance_timeout_ms = jq->rebalance_timeout_ms;
		const char *next = group_select_protocol(g);
		bool keeps = g->protocol && next && strcmp(g->protocol, next) == 0;
		int16_t err = keeps ? env_store(env, g) : KERR_NONE;
		if (keeps && err != KERR_NONE) {
			/* Not persisted: the old member comes back as it was. */
			member_set_protocols(m, was->protocol_type, strlen(was->protocol_type), was->protocols,
					     was->n_protocols);
			m->session_timeout_ms = was->session_timeout_ms;
			m->rebalance_timeout_ms = was->rebalance_timeout_ms;
			free(g->leader);
			g->leader = old_leader;
			free(m->id);
			m->id = old_id;
			member_free(was);
			join_error(env, req, err, "");
			return;
		}
		member_free(was);
		if (keeps) {
			struct join_group_response *r;
			if (req->api_version >= 9) {
				/* v9+: the leader learns it leads but skips the assignment. */
				bool leader = g->leader && strcmp(g->leader, m->id) == 0;
				r = join_result(g, m, req, leader);
				r->skip_assignment = leader;
			} else {
				/* Before v9: the old leader id, so a returning leader does not assign. */
				r = join_result(g, m, req, false);
				r->leader = kstr_c(arena_copy(req, old_leader ? old_leader : ""));
			}
			free(old_leader);
			free(old_id);
			env_reply(env, req, r);
			return;
		}
	}
	free(old_leader);
	free(old_id);
	update_member_and_rebalance(env, g, m, req, jq, p, n);
}

/*
 * Kafka's acceptJoiningMember: an Empty group takes anyone (member ids handed out with
 * MEMBER_ID_REQUIRED do not count); while a rebalance prepares, members already awaiting
 * and new ones up to group.max.size awaiting; otherwise members, and newcomers up to the size.
 */
static bool accept_joining_member(const struct group *g, const struct member *m, int32_t max_size)
{
	switch (g->state) {
	case GROUP_EMPTY:
	case GROUP_DEAD:
		return true;
	case GROUP_PREPARING_REBALANCE: {
		if (m && m->join_req)
			return true;
		int awaiting = 0;
		for (int i = 0; i < g->n_members; i++)
			awaiting += g->members[i]->join_req != NULL;
		return awaiting < max_size;
	}
	default:
		return m != NULL || g->n_members < max_size;
	}
}

void group_join(struct group_env *env, struct group *g, struct group_request *req, const struct join_group_request *jq)
{
	int16_t version = req->api_version;
	bool unknown_member = !kstr_nonempty(jq->member_id);
	int16_t err = KERR_NONE;
	int n = 0;
	struct member_protocol *p = request_protocols(jq, req->arena, &n);
	if (err == KERR_NONE && g->state == GROUP_DEAD)
		err = KERR_COORDINATOR_NOT_AVAILABLE;
	struct member *m = NULL;
	if (err == KERR_NONE && !unknown_member)
		m = group_member(g, jq->member_id.ptr, (size_t)jq->member_id.len);
	if (err == KERR_NONE && !accept_joining_member(g, m, env->cfg->max_size))
		err = KERR_GROUP_MAX_SIZE_REACHED;
	if (err == KERR_NONE && !(m && g->n_members == 1) &&
	    !group_supports(g, jq->protocol_type.ptr, (size_t)(jq->protocol_type.len > 0 ? jq->protocol_type.len : 0), p,
			    n))
		err = KERR_INCONSISTENT_GROUP_PROTOCOL;
	if (err != KERR_NONE) {
		join_error(env, req, err, unknown_member ? "" : NULL);
		return;
	}

	bool is_static = kstr_nonempty(jq->group_instance_id);
	struct member *sm = is_static ? group_static_member(g, jq->group_instance_id.ptr, (size_t)jq->group_instance_id.len)
				      : NULL;
	if (unknown_member) {
		if (sm) {
			replace_static_member(env, g, sm, req, jq, p, n);
		} else if (!is_static && version >= 4) {
			/* KIP-394: hand out the id and let the client come back with it. */
			char *id = new_member_id(req->client_id);
			g->pending = xrealloc(g->pending, sizeof *g->pending * (size_t)(g->n_pending + 1));
			g->pending[g->n_pending++] = (struct pending_member){ id, env->now + jq->session_timeout_ms };
			join_error(env, req, KERR_MEMBER_ID_REQUIRED, id);
			env_kick(env);
		} else {
			char *id = new_member_id(is_static ? jq->group_instance_id : req->client_id);
			add_member_and_rebalance(env, g, req, jq, p, n, id);
		}
		return;
	}

	int pi = find_pending(g, jq->member_id);
	if (pi >= 0) {
		char *id = g->pending[pi].id;
		g->pending[pi].id = NULL;
		g->pending[pi] = g->pending[--g->n_pending];
		add_member_and_rebalance(env, g, req, jq, p, n, id);
		return;
	}
	if (is_static && sm && sm != m) {
		join_error(env, req, KERR_FENCED_INSTANCE_ID, NULL);
		return;
	}
	if (!m || (is_static && !sm)) {
		join_error(env, req, KERR_UNKNOWN_MEMBER_ID, NULL);
		return;
	}
	m->heartbeat_deadline = env->now + m->session_timeout_ms;
	switch (g->state) {
	case GROUP_PREPARING_REBALANCE:
		update_member_and_rebalance(env, g, m, req, jq, p, n);
		break;
	case GROUP_COMPLETING_REBALANCE:
		if (same_protocols(m, p, n)) {
			/* A retry of a join that already completed: the same answer again. */
			bool leader = g->leader && strcmp(g->leader, m->id) == 0;
			env_reply(env, req, join_result(g, m, req, leader));
		} else {
			update_member_and_rebalance(env, g, m, req, jq, p, n);
		}
		break;
	case GROUP_STABLE: {
		bool leader = g->leader && strcmp(g->leader, m->id) == 0;
		if (leader || !same_protocols(m, p, n))
			update_member_and_rebalance(env, g, m, req, jq, p, n);
		else
			env_reply(env, req, join_result(g, m, req, false));
		break;
	}
	default:
		join_error(env, req, KERR_UNKNOWN_MEMBER_ID, NULL);
		break;
	}
}

/* --- SyncGroup ------------------------------------------------------------------------------- */

static int16_t check_member(struct group *g, struct kstr member_id, struct kstr instance_id, struct member **out)
{
	*out = NULL;
	if (kstr_nonempty(instance_id)) {
		struct member *sm = group_static_member(g, instance_id.ptr, (size_t)instance_id.len);
		if (sm && !kstr_eq(member_id, sm->id))
			return KERR_FENCED_INSTANCE_ID;
	}
	struct member *m = kstr_nonempty(member_id) ? group_member(g, member_id.ptr, (size_t)member_id.len) : NULL;
	if (!m)
		return KERR_UNKNOWN_MEMBER_ID;
	*out = m;
	return KERR_NONE;
}

/* The SyncGroup answer carrying m's assignment of this generation. */
static struct sync_group_response *sync_result(const struct group *g, const struct member *m, struct group_request *req)
{
	struct sync_group_response *r = sync_response(req, KERR_NONE);
	r->protocol_type = kstr_c(arena_copy(req, g->protocol_type ? g->protocol_type : ""));
	r->protocol_name = kstr_or_null(arena_copy(req, g->protocol));
	if (m->assignment_len > 0) {
		uint8_t *a = arena_alloc(req->arena, (size_t)m->assignment_len);
		memcpy(a, m->assignment, (size_t)m->assignment_len);
		r->assignment = (struct kbytes){ a, m->assignment_len };
	}
	return r;
}

static void propagate_assignments(struct group_env *env, struct group *g)
{
	for (int i = 0; i < g->n_members; i++) {
		struct member *m = g->members[i];
		m->heartbeat_deadline = env->now + m->session_timeout_ms;
		if (!m->sync_req)
			continue;
		env_reply(env, m->sync_req, sync_result(g, m, m->sync_req));
		m->sync_req = NULL;
	}
}

/* The leader's SyncGroup: every member's assignment (none for those it left out), stored, then handed out. */
static void leader_assigns(struct group_env *env, struct group *g, const struct sync_group_request *sq)
{
	for (int i = 0; i < g->n_members; i++) {
		struct member *o = g->members[i];
		free(o->assignment);
		o->assignment = NULL;
		o->assignment_len = 0;
	}
	for (int i = 0; i < sq->assignments_count; i++) {
		const struct sync_group_request_sync_group_request_assignment *a = &sq->assignments[i];
		struct member *o = a->member_id.ptr ? group_member(g, a->member_id.ptr, (size_t)a->member_id.len) : NULL;
		if (!o || !a->assignment.ptr || a->assignment.len <= 0)
			continue;
		free(o->assignment);
		o->assignment = xmalloc((size_t)a->assignment.len);
		memcpy(o->assignment, a->assignment.ptr, (size_t)a->assignment.len);
		o->assignment_len = a->assignment.len;
	}
	int16_t serr = env_store(env, g);
	if (serr != KERR_NONE) {
		reset_assignments(env, g, serr);
		prepare_rebalance(env, g, "storing the assignment failed");
		return;
	}
	group_transition(g, GROUP_STABLE, env->now);
	propagate_assignments(env, g);
}

void group_sync(struct group_env *env, struct group *g, struct group_request *req, const struct sync_group_request *sq)
{
	struct member *m = NULL;
	int16_t err = check_member(g, sq->member_id, sq->group_instance_id, &m);
	if (err == KERR_NONE && sq->generation_id != g->generation)
		err = KERR_ILLEGAL_GENERATION;
	if (err == KERR_NONE && ((sq->protocol_type.ptr && !kstr_eq(sq->protocol_type, g->protocol_type)) ||
				 (sq->protocol_name.ptr && !kstr_eq(sq->protocol_name, g->protocol))))
		err = KERR_INCONSISTENT_GROUP_PROTOCOL;
	if (err != KERR_NONE) {
		env_reply(env, req, sync_response(req, err));
		return;
	}
	switch (g->state) {
	case GROUP_PREPARING_REBALANCE:
		env_reply(env, req, sync_response(req, KERR_REBALANCE_IN_PROGRESS));
		break;
	case GROUP_COMPLETING_REBALANCE:
		if (m->sync_req)
			env_reply(env, m->sync_req, sync_response(m->sync_req, KERR_UNKNOWN_MEMBER_ID));
		m->sync_req = req;
		m->sync_pending = false;
		m->heartbeat_deadline = env->now + m->session_timeout_ms;
		if (g->leader && strcmp(g->leader, m->id) == 0)
			leader_assigns(env, g, sq);
		break;
	case GROUP_STABLE:
		m->sync_pending = false;
		m->heartbeat_deadline = env->now + m->session_timeout_ms;
		env_reply(env, req, sync_result(g, m, req));
		break;
	default:
		env_reply(env, req, sync_response(req, KERR_UNKNOWN_MEMBER_ID));
		break;
	}
}

/* --- Heartbeat ---------------------------------------------------------------------------------- */

int16_t group_heartbeat(struct group_env *env, struct group *g, const struct heartbeat_request *hq)
{
	if (g->state == GROUP_EMPTY || g->state == GROUP_DEAD)
		return KERR_UNKNOWN_MEMBER_ID;
	struct member *m = NULL;
	int16_t err = check_member(g, hq->member_id, hq->group_instance_id, &m);
	if (err == KERR_NONE && hq->generation_id != g->generation)
		err = KERR_ILLEGAL_GENERATION;
	if (err != KERR_NONE)
		return err;
	m->heartbeat_deadline = env->now + m->session_timeout_ms;
	return g->state == GROUP_PREPARING_REBALANCE ? KERR_REBALANCE_IN_PROGRESS : KERR_NONE;
}

/* --- LeaveGroup --------------------------------------------------------------------------------- */

int16_t group_leave(struct group_env *env, struct group *g, struct kstr member_id, struct kstr instance_id)
{
	if (g->state == GROUP_DEAD)
		return KERR_UNKNOWN_MEMBER_ID;
	struct member *m;
	if (kstr_nonempty(instance_id)) {
		m = group_static_member(g, instance_id.ptr, (size_t)instance_id.len);
		if (!m)
			return KERR_UNKNOWN_MEMBER_ID;
		if (kstr_nonempty(member_id) && !kstr_eq(member_id, m->id))
			return KERR_FENCED_INSTANCE_ID;
	} else {
		int pi = find_pending(g, member_id);
		if (pi >= 0) {
			remove_pending(g, pi);
			try_complete_join(env, g);
			return KERR_NONE;
		}
		m = kstr_nonempty(member_id) ? group_member(g, member_id.ptr, (size_t)member_id.len) : NULL;
		if (!m)
			return KERR_UNKNOWN_MEMBER_ID;
	}
	log_info("Member %s has left group %s through explicit LeaveGroup", m->id, g->id);
	remove_member(env, g, m, "LeaveGroup");
	return KERR_NONE;
}

/* --- the coordinator's side: locking, group lookup, persistence, sending --------------------------- */

struct coord_ctx {
	struct group_coordinator *gc;
	struct reply_list *rl;
};

static void coord_reply(void *arg, struct group_request *req, void *resp)
{
	struct coord_ctx *c = arg;
	reply_add(c->rl, req, resp);
}

static void coord_kick(void *arg)
{
	struct coord_ctx *c = arg;
	group_kick(c->gc);
}

/* A GroupMetadata record for g, appended to its __consumer_offsets partition. */
static int16_t coord_store(void *arg, struct group *g)
{
	struct coord_ctx *c = arg;
	struct wbuf w;
	wbuf_init(&w);
	struct batch_builder bb;
	batch_builder_begin(&bb, &w, NULL);
	records_group_metadata(&bb, wall_clock_ms(), g);
	int16_t err = KERR_UNKNOWN_SERVER_ERROR;
	if (batch_builder_finish(&bb) > 0)
		err = (int16_t)group_append(c->gc, g->partition, &w);
	wbuf_free(&w);
	return err;
}

static struct group_env coord_env(struct coord_ctx *c, int64_t now)
{
	return (struct group_env){ .cfg = &c->gc->cfg, .now = now, .arg = c, .reply = coord_reply,
				   .store = coord_store, .kick = coord_kick };
}

void membership_abort(struct group *g, int16_t error, struct reply_list *rl)
{
	struct coord_ctx c = { NULL, rl };
	struct group_env env = { .arg = &c, .reply = coord_reply };
	group_abort(&env, g, error);
}

int64_t membership_tick(struct group_coordinator *gc, int64_t now, struct reply_list *rl)
{
	struct coord_ctx c = { gc, rl };
	struct group_env env = coord_env(&c, now);
	int64_t next = now + 60000;
	for (int gi = 0; gi < gc->n_groups; gi++) {
		struct group *g = gc->groups[gi];
		if (gc->cp.parts[g->partition].state != PART_OWNED)
			continue;
		int64_t t = group_tick(&env, g);
		if (t < next)
			next = t;
	}
	return next;
}

void group_handle_join_group(struct group_coordinator *gc, struct group_request *req)
{
	const struct join_group_request *jq = req->body;
	struct reply_list rl = { 0 };
	struct coord_ctx c = { gc, &rl };
	struct group_env env = coord_env(&c, wall_clock_ms());
	struct join_group_request q = *jq;
	if (req->api_version == 0)
		q.rebalance_timeout_ms = q.session_timeout_ms;
	jq = &q;

	if (!group_authorized(req, ACL_OP_READ, ACL_RESOURCE_GROUP, jq->group_id)) {
		struct join_group_response *r = join_response(req, KERR_GROUP_AUTHORIZATION_FAILED);
		r->member_id = jq->member_id.ptr ? jq->member_id : kstr_c("");
		env_reply(&env, req, r);
		reply_send(&rl);
		return;
	}
	if (!kstr_nonempty(jq->group_id)) {
		join_error(&env, req, KERR_INVALID_GROUP_ID, NULL);
		reply_send(&rl);
		return;
	}
	pthread_mutex_lock(&gc->lock);
	int16_t err = group_owner_error(gc, jq->group_id.ptr, (size_t)jq->group_id.len);
	if (err == KERR_NONE && (jq->session_timeout_ms < gc->cfg.min_session_ms ||
				 jq->session_timeout_ms > gc->cfg.max_session_ms))
		err = KERR_INVALID_SESSION_TIMEOUT;
	bool unknown_member = !kstr_nonempty(jq->member_id);
	struct group *g = NULL;
	if (err == KERR_NONE) {
		g = group_find(gc, jq->group_id.ptr, (size_t)jq->group_id.len);
		if (!g && !unknown_member)
			err = KERR_UNKNOWN_MEMBER_ID;
		else if (!g)
			g = group_add(gc, jq->group_id.ptr, (size_t)jq->group_id.len,
				      group_partition_for(gc, jq->group_id.ptr, (size_t)jq->group_id.len));
	}
	if (err != KERR_NONE) {
		join_error(&env, req, err, unknown_member ? "" : NULL);
	} else {
		group_join(&env, g, req, jq);
		/* A refused join leaves nothing in a group it created (pending member ids keep it). */
		if (g->state == GROUP_EMPTY && g->n_members == 0 && g->n_pending == 0 && g->n_offsets == 0 &&
		    g->generation == 0)
			group_remove(gc, g);
	}
	pthread_mutex_unlock(&gc->lock);
	reply_send(&rl);
}

void group_handle_sync_group(struct group_coordinator *gc, struct group_request *req)
{
	const struct sync_group_request *sq = req->body;
	struct reply_list rl = { 0 };
	struct coord_ctx c = { gc, &rl };
	struct group_env env = coord_env(&c, wall_clock_ms());
	if (!group_authorized(req, ACL_OP_READ, ACL_RESOURCE_GROUP, sq->group_id)) {
		reply_add(&rl, req, sync_response(req, KERR_GROUP_AUTHORIZATION_FAILED));
		reply_send(&rl);
		return;
	}
	if (!kstr_nonempty(sq->group_id)) {
		reply_add(&rl, req, sync_response(req, KERR_INVALID_GROUP_ID));
		reply_send(&rl);
		return;
	}
	pthread_mutex_lock(&gc->lock);
	int16_t err = group_owner_error(gc, sq->group_id.ptr, (size_t)sq->group_id.len);
	struct group *g = err == KERR_NONE ? group_find(gc, sq->group_id.ptr, (size_t)sq->group_id.len) : NULL;
	if (err == KERR_NONE && !g)
		err = KERR_UNKNOWN_MEMBER_ID;
	if (err != KERR_NONE)
		reply_add(&rl, req, sync_response(req, err));
	else
		group_sync(&env, g, req, sq);
	pthread_mutex_unlock(&gc->lock);
	reply_send(&rl);
}

void group_handle_heartbeat(struct group_coordinator *gc, struct group_request *req)
{
	const struct heartbeat_request *hq = req->body;
	struct heartbeat_response resp;
	heartbeat_response_init(&resp);
	if (!group_authorized(req, ACL_OP_READ, ACL_RESOURCE_GROUP, hq->group_id)) {
		resp.error_code = KERR_GROUP_AUTHORIZATION_FAILED;
		group_respond(req, &resp);
		return;
	}
	if (!kstr_nonempty(hq->group_id)) {
		resp.error_code = KERR_INVALID_GROUP_ID;
		group_respond(req, &resp);
		return;
	}
	struct coord_ctx c = { gc, NULL };
	struct group_env env = coord_env(&c, wall_clock_ms());
	pthread_mutex_lock(&gc->lock);
	int16_t err = group_owner_error(gc, hq->group_id.ptr, (size_t)hq->group_id.len);
	struct group *g = err == KERR_NONE ? group_find(gc, hq->group_id.ptr, (size_t)hq->group_id.len) : NULL;
	if (err == KERR_NONE && !g)
		err = KERR_UNKNOWN_MEMBER_ID;
	if (err == KERR_NONE)
		err = group_heartbeat(&env, g, hq);
	pthread_mutex_unlock(&gc->lock);
	resp.error_code = err;
	group_respond(req, &resp);
}

void group_handle_leave_group(struct group_coordinator *gc, struct group_request *req)
{
	const struct leave_group_request *lq = req->body;
	int16_t version = req->api_version;
	struct reply_list rl = { 0 };
	struct coord_ctx c = { gc, &rl };
	struct group_env env = coord_env(&c, wall_clock_ms());
	struct leave_group_response *resp = arena_alloc(req->arena, sizeof *resp);
	leave_group_response_init(resp);

	/* v0-v2 name one member; v3+ a batch of them (KIP-345). */
	struct leave_group_request_member_identity single;
	const struct leave_group_request_member_identity *who = lq->members;
	int n = lq->members_count > 0 ? lq->members_count : 0;
	if (version < 3) {
		leave_group_request_member_identity_init(&single);
		single.member_id = lq->member_id;
		who = &single;
		n = 1;
	}
	resp->members = arena_alloc(req->arena, sizeof *resp->members * (size_t)(n ? n : 1));
	resp->members_count = n;
	if (!group_authorized(req, ACL_OP_READ, ACL_RESOURCE_GROUP, lq->group_id)) {
		resp->error_code = KERR_GROUP_AUTHORIZATION_FAILED;
		resp->members_count = 0;
		group_respond(req, resp);
		return;
	}
	if (!kstr_nonempty(lq->group_id)) {
		resp->error_code = KERR_INVALID_GROUP_ID;
		resp->members_count = 0;
		group_respond(req, resp);
		return;
	}
	pthread_mutex_lock(&gc->lock);
	int16_t err = group_owner_error(gc, lq->group_id.ptr, (size_t)lq->group_id.len);
	struct group *g = err == KERR_NONE ? group_find(gc, lq->group_id.ptr, (size_t)lq->group_id.len) : NULL;
	if (err != KERR_NONE) {
		resp->error_code = err;
		resp->members_count = 0;
	} else {
		for (int i = 0; i < n; i++) {
			struct leave_group_response_member_response *mr = &resp->members[i];
			leave_group_response_member_response_init(mr);
			mr->member_id = who[i].member_id;
			mr->group_instance_id = who[i].group_instance_id;
			mr->error_code = g ? group_leave(&env, g, who[i].member_id, who[i].group_instance_id)
					   : KERR_UNKNOWN_MEMBER_ID;
		}
		if (version < 3) {
			resp->error_code = resp->members[0].error_code;
			resp->members_count = 0;
		}
	}
	pthread_mutex_unlock(&gc->lock);
	reply_add(&rl, req, resp);
	reply_send(&rl);
}
