/*
 * The ZooKeeper ACL authorizer [Kafka's AclAuthorizer]: a cache of every
 * resource pattern's ACLs, sorted by (type, pattern, name) and read under a
 * read lock by the network threads; a thread that watches
 * /kafka-acl-changes and /kafka-acl-extended-changes and reloads the
 * patterns they name (and purges notices older than 15 minutes, as Kafka's
 * ZkNodeChangeNotificationListener does); CreateAcls and DeleteAcls, which
 * update a pattern's znode conditionally on its version, retrying on a race,
 * then announce the change; DescribeAcls from the cache.
 */
#include "server/authorizer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "samsa/config.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/broker.h"
#include "server/request.h"

#define CHANGE_EXPIRATION_MS (15 * 60 * 1000LL)
#define RESCAN_MS 5000
#define MAX_UPDATE_RETRIES 10

struct authorizer {
	struct broker *b;
	char **super_users;
	int n_super_users;
	bool allow_if_none;

	pthread_rwlock_t cache_lock;  /* the cache; never held across ZooKeeper */
	struct acl_resource *cache;   /* sorted by (type, pattern, name) */
	int n_cache, cap_cache;

	pthread_mutex_t update_lock;  /* one writer of ACL znodes at a time (Kafka's `lock`) */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pending, stop, started;
	long long last_seq[2];        /* literal, extended */
	int64_t last_purge_ms[2];     /* when old notices were last looked for */
};

/* --- configuration ----------------------------------------------------------------- */

int authorizer_configured(struct broker *b)
{
	const char *cls = config_get_raw(b->config, "authorizer.class.name");
	if (!cls || !*cls)
		return 0;
	if (strcmp(cls, "kafka.security.authorizer.AclAuthorizer") && strcmp(cls, "kafka.security.auth.SimpleAclAuthorizer")) {
		log_error("authorizer.class.name=%s: samsa has only the ZooKeeper ACL authorizer "
			  "(kafka.security.authorizer.AclAuthorizer); ACLs would not be enforced", cls);
		return -1;
	}
	const char *url = config_get_raw(b->config, "authorizer.zookeeper.url");
	const char *zkc = config_get_raw(b->config, "zookeeper.connect");
	if (url && *url && (!zkc || strcmp(url, zkc))) {
		log_error("authorizer.zookeeper.url=%s: samsa keeps ACLs in the brokers' own ZooKeeper "
			  "(zookeeper.connect); remove the setting", url);
		return -1;
	}
	return 1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

static int read_super_users(struct authorizer *az)
{
	const char *su = config_get_raw(az->b->config, "super.users");
	if (!su || !*su)
		return 0;
	char *copy = xstrdup(su), *save = NULL;
	for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *p = trim(tok);
		if (!*p)
			continue;
		if (!acl_principal_valid(p)) {
			log_error("super.users: '%s' is not a principal (expected a string in format "
				  "principalType:principalName)", p);
			free(copy);
			return -1;
		}
		az->super_users = xrealloc(az->super_users, sizeof(char *) * (size_t)(az->n_super_users + 1));
		az->super_users[az->n_super_users++] = xstrdup(p);
	}
	free(copy);
	return 0;
}

/* --- the cache --------------------------------------------------------------------- */

static int cmp_key(int ta, int pa, const char *na, const struct acl_resource *b)
{
	if (ta != (int)b->type)
		return ta < (int)b->type ? -1 : 1;
	if (pa != (int)b->pattern)
		return pa < (int)b->pattern ? -1 : 1;
	return strcmp(na, b->name);
}

/* Index of the pattern, or -(insertion point) - 1. */
static int cache_find(const struct authorizer *az, int type, int pattern, const char *name)
{
	int lo = 0, hi = az->n_cache - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = cmp_key(type, pattern, name, &az->cache[mid]);
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -lo - 1;
}

static void copy_entries(struct acl_resource *dst, const struct acl_entry *e, int n)
{
	dst->entries = xcalloc((size_t)(n ? n : 1), sizeof *dst->entries);
	dst->n_entries = n;
	for (int i = 0; i < n; i++) {
		dst->entries[i].principal = xstrdup(e[i].principal);
		dst->entries[i].host = xstrdup(e[i].host);
		dst->entries[i].operation = e[i].operation;
		dst->entries[i].permission = e[i].permission;
	}
}

/* Install what ZooKeeper holds for one pattern (no entries: the pattern leaves the cache). */
static void cache_put(struct authorizer *az, const struct acl_resource *r)
{
	pthread_rwlock_wrlock(&az->cache_lock);
	int i = cache_find(az, r->type, r->pattern, r->name);
	if (i >= 0) {
		acl_resource_clear(&az->cache[i]);
		if (r->n_entries == 0) {
			memmove(&az->cache[i], &az->cache[i + 1], sizeof *az->cache * (size_t)(az->n_cache - i - 1));
			az->n_cache--;
		}
	} else if (r->n_entries > 0) {
		i = -i - 1;
		if (az->n_cache == az->cap_cache) {
			az->cap_cache = az->cap_cache ? az->cap_cache * 2 : 16;
			az->cache = xrealloc(az->cache, sizeof *az->cache * (size_t)az->cap_cache);
		}
		memmove(&az->cache[i + 1], &az->cache[i], sizeof *az->cache * (size_t)(az->n_cache - i));
		az->n_cache++;
	}
	if (r->n_entries > 0) {
		struct acl_resource *d = &az->cache[i];
		memset(d, 0, sizeof *d);
		d->type = r->type;
		d->pattern = r->pattern;
		d->name = xstrdup(r->name);
		d->zk_version = r->zk_version;
		copy_entries(d, r->entries, r->n_entries);
	}
	pthread_rwlock_unlock(&az->cache_lock);
}

/* A copy of the cached pattern (zk_version -1 and no entries when not cached). */
static bool cache_get(struct authorizer *az, int type, int pattern, const char *name, struct acl_resource *out)
{
	memset(out, 0, sizeof *out);
	out->type = type;
	out->pattern = pattern;
	out->name = xstrdup(name);
	out->zk_version = -1;
	pthread_rwlock_rdlock(&az->cache_lock);
	int i = cache_find(az, type, pattern, name);
	if (i >= 0) {
		out->zk_version = az->cache[i].zk_version;
		copy_entries(out, az->cache[i].entries, az->cache[i].n_entries);
	}
	pthread_rwlock_unlock(&az->cache_lock);
	return i >= 0;
}

static void reload(struct authorizer *az, int type, int pattern, const char *name)
{
	struct acl_resource r;
	if (acl_zk_get(az->b->zk, type, pattern, name, &r) == ZOK) {
		cache_put(az, &r);
		log_info("Processing ACL change for %s:%s:%s: %d ACL(s), zkVersion %d", acl_resource_type_name(type),
			 acl_pattern_type_name(pattern), name, r.n_entries, r.zk_version);
	} else {
		log_warn("Cannot read the ACLs of %s:%s:%s from ZooKeeper", acl_resource_type_name(type),
			 acl_pattern_type_name(pattern), name);
	}
	acl_resource_clear(&r);
}

static int load_all(struct authorizer *az)
{
	static const int patterns[] = { ACL_PATTERN_LITERAL, ACL_PATTERN_PREFIXED };
	for (int p = 0; p < 2; p++)
		for (int t = ACL_RESOURCE_TOPIC; t <= ACL_RESOURCE_USER; t++) {
			struct String_vector names;
			int rc = acl_zk_list(az->b->zk, t, patterns[p], &names);
			if (rc == ZNONODE)
				continue;
			if (rc != ZOK)
				return -1;
			for (int i = 0; i < names.count; i++)
				reload(az, t, patterns[p], names.data[i]);
			deallocate_String_vector(&names);
		}
	return 0;
}

/* --- decisions --------------------------------------------------------------------- */

bool authorizer_authorize(struct authorizer *az, const char *principal, const char *host, enum acl_operation op,
			  enum acl_resource_type type, const char *name, size_t name_len)
{
	for (int i = 0; i < az->n_super_users; i++)
		if (!strcmp(az->super_users[i], principal))
			return true;
	char stackname[256];
	char *nm = name_len < sizeof stackname ? stackname : xmalloc(name_len + 1);
	memcpy(nm, name, name_len);
	nm[name_len] = 0;
	const struct acl_resource *stack_apply[16];
	const struct acl_resource **apply = stack_apply;
	int n = 0, cap = 16;
	pthread_rwlock_rdlock(&az->cache_lock);
	int i = cache_find(az, type, ACL_PATTERN_LITERAL, nm);
	if (i >= 0)
		apply[n++] = &az->cache[i];
	if (strcmp(nm, ACL_WILDCARD) && (i = cache_find(az, type, ACL_PATTERN_LITERAL, ACL_WILDCARD)) >= 0)
		apply[n++] = &az->cache[i];
	/* Prefixed patterns of the type: those sorting at or before the name whose name starts it. */
	int start = cache_find(az, type, ACL_PATTERN_PREFIXED, "");
	start = start >= 0 ? start : -start - 1;
	for (int k = start; k < az->n_cache && (int)az->cache[k].type == (int)type &&
			    az->cache[k].pattern == ACL_PATTERN_PREFIXED && strcmp(az->cache[k].name, nm) <= 0;
	     k++) {
		if (strncmp(nm, az->cache[k].name, strlen(az->cache[k].name)))
			continue;
		if (n == cap) {
			cap *= 2;
			const struct acl_resource **grown = xmalloc(sizeof *grown * (size_t)cap);
			memcpy(grown, apply, sizeof *grown * (size_t)n);
			if (apply != stack_apply)
				free(apply);
			apply = grown;
		}
		apply[n++] = &az->cache[k];
	}
	bool ok = acl_decide(apply, n, principal, host, op, az->allow_if_none);
	pthread_rwlock_unlock(&az->cache_lock);
	if (apply != stack_apply)
		free(apply);
	if (nm != stackname)
		free(nm);
	return ok;
}

/* "1.2.3.4" of "1.2.3.4:5678" (or of "[::1]:5678"). */
static void host_of(const char *peer, char *out, size_t cap)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, peer, n);
	out[n] = 0;
}

/* Does an entry of permission perm let (principal, host) do op?  (op or All, no implications.) */
static bool entry_hits(const struct acl_entry *e, const char *principal, const char *host, enum acl_operation op,
		       enum acl_permission perm)
{
	return e->permission == perm && (!strcmp(e->principal, principal) || !strcmp(e->principal, ACL_WILDCARD_PRINCIPAL)) &&
	       (e->operation == op || e->operation == ACL_OP_ALL) && (!strcmp(e->host, ACL_WILDCARD) || !strcmp(e->host, host));
}

static bool resource_hits(const struct acl_resource *r, const char *principal, const char *host, enum acl_operation op,
			  enum acl_permission perm)
{
	for (int j = 0; j < r->n_entries; j++)
		if (entry_hits(&r->entries[j], principal, host, op, perm))
			return true;
	return false;
}

/* A prefixed Deny whose prefix starts name (Kafka's hasDominantPrefixedDeny). */
static bool dominated(const struct authorizer *az, int type, const char *name, const char *principal, const char *host,
		      enum acl_operation op)
{
	for (int i = 0; i < az->n_cache; i++) {
		const struct acl_resource *r = &az->cache[i];
		if ((int)r->type == type && r->pattern == ACL_PATTERN_PREFIXED && !strncmp(name, r->name, strlen(r->name)) &&
		    resource_hits(r, principal, host, op, ACL_PERM_DENY))
			return true;
	}
	return false;
}

bool authorizer_authorize_any(struct authorizer *az, const char *principal, const char *host, enum acl_operation op,
			      enum acl_resource_type type)
{
	for (int i = 0; i < az->n_super_users; i++)
		if (!strcmp(az->super_users[i], principal))
			return true;
	bool ok = false;
	pthread_rwlock_rdlock(&az->cache_lock);
	int star = cache_find(az, type, ACL_PATTERN_LITERAL, ACL_WILDCARD);
	if (star >= 0 && resource_hits(&az->cache[star], principal, host, op, ACL_PERM_DENY)) {
		ok = false; /* denied on every resource of the type */
	} else if (az->allow_if_none) {
		ok = true;
	} else {
		/* An Allow that no Deny covers: a literal one not denied by name or prefix, or a prefixed one
		 * no shorter prefixed Deny covers. */
		for (int i = 0; i < az->n_cache && !ok; i++) {
			const struct acl_resource *r = &az->cache[i];
			if ((int)r->type != (int)type || !resource_hits(r, principal, host, op, ACL_PERM_ALLOW))
				continue;
			if (r->pattern == ACL_PATTERN_LITERAL && !strcmp(r->name, ACL_WILDCARD))
				ok = true;
			else if (r->pattern == ACL_PATTERN_LITERAL)
				ok = !resource_hits(r, principal, host, op, ACL_PERM_DENY) &&
				     !dominated(az, type, r->name, principal, host, op);
			else
				ok = !dominated(az, type, r->name, principal, host, op);
		}
	}
	pthread_rwlock_unlock(&az->cache_lock);
	return ok;
}

bool request_authorize_any(struct request *req, enum acl_operation op, enum acl_resource_type type)
{
	struct authorizer *az = req->broker->authorizer;
	if (!az)
		return true;
	char host[64];
	host_of(req->info.peer, host, sizeof host);
	return authorizer_authorize_any(az, req->info.principal, host, op, type);
}

static bool authorize_req(struct request *req, enum acl_operation op, enum acl_resource_type type,
			  const char *name, size_t name_len, bool log_denied)
{
	struct authorizer *az = req->broker->authorizer;
	if (!az)
		return true;
	if (!name) {
		name = ACL_CLUSTER_NAME;
		name_len = strlen(name);
	}
	char host[64];
	host_of(req->info.peer, host, sizeof host);
	bool ok = authorizer_authorize(az, req->info.principal, host, op, type, name, name_len);
	if (!ok && log_denied) {
		const struct proto_api *api = proto_api_get(req->header.api_key);
		log_info("Principal = %s is Denied Operation = %s from host = %s on resource = %s:LITERAL:%.*s for "
			 "request = %s", req->info.principal, acl_operation_name(op), host, acl_resource_type_name(type),
			 (int)name_len, name, api ? api->name : "?");
	}
	return ok;
}

bool request_authorize(struct request *req, enum acl_operation op, enum acl_resource_type type, const char *name,
		       size_t name_len)
{
	return authorize_req(req, op, type, name, name_len, true);
}

bool request_authorize_quiet(struct request *req, enum acl_operation op, enum acl_resource_type type,
			     const char *name, size_t name_len)
{
	return authorize_req(req, op, type, name, name_len, false);
}

int32_t request_authorized_operations(struct request *req, enum acl_resource_type type, const char *name,
				      size_t name_len, const enum acl_operation *ops)
{
	int32_t bits = 0;
	for (int i = 0; ops[i] != ACL_OP_UNKNOWN; i++)
		if (authorize_req(req, ops[i], type, name, name_len, false))
			bits |= (int32_t)1 << ops[i];
	return bits;
}

/* --- change notifications ---------------------------------------------------------- */

static void on_watch(void *arg)
{
	struct authorizer *az = arg;
	pthread_mutex_lock(&az->lock);
	az->pending = true;
	pthread_cond_signal(&az->cond);
	pthread_mutex_unlock(&az->lock);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The notices after the last one seen, in order; each names a pattern to reload. */
static void scan(struct authorizer *az, bool extended, bool apply)
{
	struct String_vector kids;
	if (acl_zk_list_changes(az->b->zk, extended, on_watch, az, &kids) != ZOK) {
		log_warn("Cannot list %s", extended ? "/kafka-acl-extended-changes" : "/kafka-acl-changes");
		return;
	}
	long long *last = &az->last_seq[extended ? 1 : 0];
	for (;;) {
		long long best = -1;
		const char *pick = NULL;
		for (int i = 0; i < kids.count; i++) {
			long long s = acl_zk_change_seq(kids.data[i]);
			if (s > *last && (best < 0 || s < best)) {
				best = s;
				pick = kids.data[i];
			}
		}
		if (!pick)
			break;
		int type = 0, pattern = 0;
		char *name = NULL;
		int64_t ctime = 0;
		int rc = acl_zk_read_change(az->b->zk, extended, pick, &type, &pattern, &name, &ctime);
		if (rc == ZOK && apply) {
			pthread_mutex_lock(&az->update_lock);
			reload(az, type, pattern, name);
			pthread_mutex_unlock(&az->update_lock);
		} else if (rc == ZBADARGUMENTS) {
			log_warn("Ignoring ACL change notice %s: it names no resource pattern", pick);
		}
		free(name);
		*last = best;
	}
	/* Kafka's purgeObsoleteNotifications: every broker deletes notices past their expiry
	 * (looked for once a minute: each costs a read). */
	int64_t now = now_ms();
	bool purge = now - az->last_purge_ms[extended ? 1 : 0] >= 60000;
	if (purge)
		az->last_purge_ms[extended ? 1 : 0] = now;
	for (int i = 0; i < kids.count && purge; i++) {
		int type, pattern;
		char *name = NULL;
		int64_t ctime = 0;
		if (acl_zk_read_change(az->b->zk, extended, kids.data[i], &type, &pattern, &name, &ctime) != ZNONODE &&
		    ctime > 0 && now - ctime > CHANGE_EXPIRATION_MS)
			acl_zk_delete_change(az->b->zk, extended, kids.data[i]);
		free(name);
	}
	deallocate_String_vector(&kids);
}

static void *main_loop(void *arg)
{
	struct authorizer *az = arg;
	pthread_mutex_lock(&az->lock);
	while (!az->stop) {
		if (!az->pending) {
			/* Also every few seconds: a watch lost with a ZooKeeper session must not stall ACLs. */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += RESCAN_MS / 1000;
			if (pthread_cond_timedwait(&az->cond, &az->lock, &ts) != 0)
				az->pending = true;
			continue;
		}
		az->pending = false;
		pthread_mutex_unlock(&az->lock);
		scan(az, false, true);
		scan(az, true, true);
		pthread_mutex_lock(&az->lock);
	}
	pthread_mutex_unlock(&az->lock);
	return NULL;
}

struct authorizer *authorizer_start(struct broker *b)
{
	struct authorizer *az = xcalloc(1, sizeof *az);
	az->b = b;
	az->last_seq[0] = az->last_seq[1] = -1;
	const char *all = config_get_raw(b->config, "allow.everyone.if.no.acl.found");
	if (all) {
		char tmp[64];
		snprintf(tmp, sizeof tmp, "%s", all);
		az->allow_if_none = !strcasecmp(trim(tmp), "true");
	}
	pthread_rwlock_init(&az->cache_lock, NULL);
	pthread_mutex_init(&az->update_lock, NULL);
	pthread_mutex_init(&az->lock, NULL);
	pthread_cond_init(&az->cond, NULL);
	if (read_super_users(az) != 0)
		goto fail;
	if (acl_zk_ensure_paths(b->zk) != 0) {
		log_error("Cannot create the ACL paths in ZooKeeper (/kafka-acl, /kafka-acl-extended, their change paths)");
		goto fail;
	}
	/* Watch the notices first, then load: a change made in between is seen by the watch. */
	scan(az, false, false);
	scan(az, true, false);
	if (load_all(az) != 0) {
		log_error("Cannot load the ACLs from ZooKeeper");
		goto fail;
	}
	if (pthread_create(&az->thread, NULL, main_loop, az) != 0) {
		log_error("Cannot start the ACL change listener");
		goto fail;
	}
	az->started = true;
	log_info("ACL authorizer on: %d resource pattern(s) with ACLs, %d super user(s), "
		 "allow.everyone.if.no.acl.found=%s", az->n_cache, az->n_super_users, az->allow_if_none ? "true" : "false");
	return az;
fail:
	authorizer_free(az);
	return NULL;
}

void authorizer_stop(struct authorizer *az)
{
	if (!az || !az->started)
		return;
	pthread_mutex_lock(&az->lock);
	az->stop = true;
	pthread_cond_signal(&az->cond);
	pthread_mutex_unlock(&az->lock);
	pthread_join(az->thread, NULL);
	az->started = false;
}

void authorizer_free(struct authorizer *az)
{
	if (!az)
		return;
	authorizer_stop(az);
	for (int i = 0; i < az->n_cache; i++)
		acl_resource_clear(&az->cache[i]);
	free(az->cache);
	for (int i = 0; i < az->n_super_users; i++)
		free(az->super_users[i]);
	free(az->super_users);
	pthread_rwlock_destroy(&az->cache_lock);
	pthread_mutex_destroy(&az->update_lock);
	pthread_mutex_destroy(&az->lock);
	pthread_cond_destroy(&az->cond);
	free(az);
}

/* --- updates (on the admin executor) ----------------------------------------------- */

static bool entry_eq(const struct acl_entry *a, const struct acl_entry *b)
{
	return a->operation == b->operation && a->permission == b->permission && !strcmp(a->principal, b->principal) &&
	       !strcmp(a->host, b->host);
}

/* What an update does to a pattern's entries (in place on cur); returns whether it changed them. */
typedef bool (*acl_edit_fn)(struct acl_resource *cur, void *arg);

/*
 * Kafka's updateResourceAcls: start from the cache (or ZooKeeper), edit, write
 * conditionally on the version; on a race re-read ZooKeeper and edit again.
 * The cache gets the result, and a change notice goes out when the ACLs changed.
 * Call under update_lock.  KERR_NONE or an error code.
 */
static int16_t update_resource(struct authorizer *az, int type, int pattern, const char *name, acl_edit_fn edit,
			       void *arg)
{
	struct zk *zk = az->b->zk;
	struct acl_resource cur;
	if (!cache_get(az, type, pattern, name, &cur)) {
		acl_resource_clear(&cur);
		if (acl_zk_get(zk, type, pattern, name, &cur) != ZOK) {
			acl_resource_clear(&cur);
			return KERR_UNKNOWN_SERVER_ERROR;
		}
	}
	for (int attempt = 0; attempt <= MAX_UPDATE_RETRIES; attempt++) {
		bool changed = edit(&cur, arg);
		if (!changed) {
			acl_resource_clear(&cur);
			return KERR_NONE;
		}
		int nv = -1;
		int rc = acl_zk_set(zk, type, pattern, name, cur.entries, cur.n_entries, cur.zk_version, &nv);
		if (rc == ZOK) {
			cur.zk_version = nv;
			cache_put(az, &cur);
			log_info("Updated ACLs for %s:%s:%s: %d ACL(s), zkVersion %d", acl_resource_type_name(type),
				 acl_pattern_type_name(pattern), name, cur.n_entries, nv);
			acl_resource_clear(&cur);
			if (acl_zk_notify(zk, type, pattern, name) != ZOK)
				log_warn("Cannot write the ACL change notice for %s:%s", acl_resource_type_name(type), name);
			return KERR_NONE;
		}
		acl_resource_clear(&cur);
		if (rc != ZBADVERSION && rc != ZNONODE && rc != ZNODEEXISTS)
			return KERR_UNKNOWN_SERVER_ERROR;
		struct timespec ts = { 0, (100 + rand() % 50) * 1000000L };
		nanosleep(&ts, NULL);
		if (acl_zk_get(zk, type, pattern, name, &cur) != ZOK) {
			acl_resource_clear(&cur);
			return KERR_UNKNOWN_SERVER_ERROR;
		}
	}
	acl_resource_clear(&cur);
	return KERR_UNKNOWN_SERVER_ERROR;
}

struct add_arg {
	const struct acl_entry *e;
	int n;
};

static bool add_entries(struct acl_resource *cur, void *arg)
{
	const struct add_arg *a = arg;
	bool changed = false;
	for (int i = 0; i < a->n; i++) {
		bool have = false;
		for (int j = 0; j < cur->n_entries && !have; j++)
			have = entry_eq(&cur->entries[j], &a->e[i]);
		if (have)
			continue;
		cur->entries = xrealloc(cur->entries, sizeof *cur->entries * (size_t)(cur->n_entries + 1));
		struct acl_entry *d = &cur->entries[cur->n_entries++];
		d->principal = xstrdup(a->e[i].principal);
		d->host = xstrdup(a->e[i].host);
		d->operation = a->e[i].operation;
		d->permission = a->e[i].permission;
		changed = true;
	}
	return changed;
}

/* --- the ACL APIs ------------------------------------------------------------------ */

static char *dup_kstr(struct kstr s) { return xstrndup(s.ptr ? s.ptr : "", s.ptr && s.len > 0 ? (size_t)s.len : 0); }

static char *dup_opt(struct kstr s) { return s.ptr ? dup_kstr(s) : NULL; }

static struct kstr arena_str(struct request *req, const char *s)
{
	size_t n = strlen(s);
	char *p = arena_alloc(&req->arena, n + 1);
	memcpy(p, s, n + 1);
	return (struct kstr){ p, (int32_t)n };
}

static const char *const SECURITY_DISABLED_MSG = "No Authorizer is configured.";

static void create_acls_job(struct request *req)
{
	struct authorizer *az = req->broker->authorizer;
	const struct create_acls_request *q = req->body;
	struct create_acls_response resp;
	create_acls_response_init(&resp);
	int n = q->creations_count > 0 ? q->creations_count : 0;
	resp.results = arena_alloc(&req->arena, sizeof *resp.results * (size_t)(n ? n : 1));
	resp.results_count = n;
	for (int i = 0; i < n; i++) {
		create_acls_response_acl_creation_result_init(&resp.results[i]);
		resp.results[i].error_message = (struct kstr){ NULL, -1 };
	}

	int16_t all_err = KERR_NONE;
	const char *all_msg = NULL;
	char msg[160];
	if (!request_authorize(req, ACL_OP_ALTER, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		all_err = KERR_CLUSTER_AUTHORIZATION_FAILED;
		all_msg = "Cluster authorization failed.";
	} else if (!az) {
		all_err = KERR_SECURITY_DISABLED;
		all_msg = SECURITY_DISABLED_MSG;
	} else {
		/* An ANY or MATCH in a creation cannot make a binding: Kafka fails the whole request. */
		for (int i = 0; i < n && !all_err; i++) {
			const struct create_acls_request_acl_creation *c = &q->creations[i];
			const char *what = NULL;
			if (c->resource_type == ACL_RESOURCE_ANY)
				what = "resourceType must not be ANY";
			else if (c->resource_pattern_type == ACL_PATTERN_ANY)
				what = "patternType must not be ANY";
			else if (c->resource_pattern_type == ACL_PATTERN_MATCH)
				what = "patternType must not be MATCH";
			else if (c->operation == ACL_OP_ANY)
				what = "operation must not be ANY";
			else if (c->permission_type == ACL_PERM_ANY)
				what = "permissionType must not be ANY";
			if (what) {
				all_err = KERR_UNKNOWN_SERVER_ERROR;
				all_msg = what;
			}
		}
	}
	if (all_err) {
		for (int i = 0; i < n; i++) {
			resp.results[i].error_code = all_err;
			resp.results[i].error_message = arena_str(req, all_msg);
		}
		request_respond(req, &resp);
		return;
	}

	/* Per creation: validate, then apply the valid ones pattern by pattern. */
	bool *valid = arena_alloc(&req->arena, sizeof(bool) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		const struct create_acls_request_acl_creation *c = &q->creations[i];
		char *name = dup_kstr(c->resource_name);
		char *principal = dup_kstr(c->principal);
		valid[i] = false;
		const char *err = NULL;
		int16_t code = KERR_INVALID_REQUEST;
		if (c->resource_type == ACL_RESOURCE_CLUSTER && strcmp(name, ACL_CLUSTER_NAME))
			err = "The only valid name for the CLUSTER resource is " ACL_CLUSTER_NAME;
		else if (!*name)
			err = "Invalid empty resource name";
		else if (strchr(name, '/'))
			err = "Failed to create ACL";
		else if (!acl_principal_valid(principal)) {
			snprintf(msg, sizeof msg, "expected a string in format principalType:principalName but got %.80s",
				 principal);
			err = msg;
			code = KERR_UNKNOWN_SERVER_ERROR;
		}
		if (err) {
			resp.results[i].error_code = code;
			resp.results[i].error_message = arena_str(req, err);
		} else {
			valid[i] = true;
		}
		free(name);
		free(principal);
	}
	/* Scratch for one pattern's creations (n is the client's: never on the stack). */
	int *idx = arena_alloc(&req->arena, sizeof *idx * (size_t)(n ? n : 1));
	struct acl_entry *e = arena_alloc(&req->arena, sizeof *e * (size_t)(n ? n : 1));
	pthread_mutex_lock(&az->update_lock);
	for (int i = 0; i < n; i++) {
		if (!valid[i])
			continue;
		const struct create_acls_request_acl_creation *ci = &q->creations[i];
		/* Every valid creation of the same pattern goes in one update. */
		int k = 0;
		for (int j = i; j < n; j++) {
			const struct create_acls_request_acl_creation *cj = &q->creations[j];
			if (!valid[j] || cj->resource_type != ci->resource_type ||
			    cj->resource_pattern_type != ci->resource_pattern_type ||
			    cj->resource_name.len != ci->resource_name.len ||
			    memcmp(cj->resource_name.ptr, ci->resource_name.ptr, (size_t)ci->resource_name.len))
				continue;
			e[k].principal = dup_kstr(cj->principal);
			e[k].host = dup_kstr(cj->host);
			e[k].operation = cj->operation;
			e[k].permission = cj->permission_type;
			idx[k++] = j;
			valid[j] = false;
		}
		char *name = dup_kstr(ci->resource_name);
		struct add_arg a = { e, k };
		int16_t rc = update_resource(az, ci->resource_type, ci->resource_pattern_type, name, add_entries, &a);
		for (int j = 0; j < k; j++) {
			resp.results[idx[j]].error_code = rc;
			if (rc)
				resp.results[idx[j]].error_message = arena_str(req, "Failed to update ACLs in ZooKeeper");
			free(e[j].principal);
			free(e[j].host);
		}
		free(name);
	}
	pthread_mutex_unlock(&az->update_lock);
	request_respond(req, &resp);
}

/* Kafka closes the connection of a request it cannot parse into bindings (UNKNOWN elements). */
static bool creation_known(int16_t version, const struct create_acls_request_acl_creation *c)
{
	if (version == 0 && c->resource_pattern_type != ACL_PATTERN_LITERAL)
		return false;
	return acl_resource_type_from_code(c->resource_type) && acl_pattern_type_from_code(c->resource_pattern_type) &&
	       acl_operation_from_code(c->operation) && acl_permission_from_code(c->permission_type);
}

void handle_create_acls(struct request *req)
{
	const struct create_acls_request *q = req->body;
	for (int i = 0; i < q->creations_count; i++)
		if (!creation_known(req->header.api_version, &q->creations[i])) {
			log_warn("Closing connection %s: CreateAcls with unknown elements (creation %d)", req->info.peer, i);
			request_close(req);
			return;
		}
	admin_executor_submit(req->broker->admin, req, create_acls_job);
}

static bool filter_known(int16_t version, int rtype, int pattern, int op, int perm)
{
	if (version == 0 && pattern != ACL_PATTERN_LITERAL)
		return false;
	return acl_resource_type_from_code(rtype) && acl_pattern_type_from_code(pattern) && acl_operation_from_code(op) &&
	       acl_permission_from_code(perm);
}

static void fill_filter(struct acl_filter *f, int rtype, struct kstr name, int pattern, struct kstr principal,
			struct kstr host, int op, int perm)
{
	f->resource_type = rtype;
	f->name = dup_opt(name);
	f->pattern = pattern;
	f->principal = dup_opt(principal);
	f->host = dup_opt(host);
	f->operation = op;
	f->permission = perm;
}

static void free_filter(struct acl_filter *f)
{
	free((char *)f->name);
	free((char *)f->principal);
	free((char *)f->host);
}

void handle_describe_acls(struct request *req)
{
	const struct describe_acls_request *q = req->body;
	if (!filter_known(req->header.api_version, q->resource_type_filter, q->pattern_type_filter, q->operation,
			  q->permission_type)) {
		log_warn("Closing connection %s: DescribeAcls with unknown elements", req->info.peer);
		request_close(req);
		return;
	}
	struct authorizer *az = req->broker->authorizer;
	struct describe_acls_response resp;
	describe_acls_response_init(&resp);
	resp.error_message = (struct kstr){ NULL, -1 };
	if (!request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		resp.error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
		resp.error_message = kstr_c("Cluster authorization failed.");
		request_respond(req, &resp);
		return;
	}
	if (!az) {
		resp.error_code = KERR_SECURITY_DISABLED;
		resp.error_message = kstr_c(SECURITY_DISABLED_MSG);
		request_respond(req, &resp);
		return;
	}
	struct acl_filter f;
	fill_filter(&f, q->resource_type_filter, q->resource_name_filter, q->pattern_type_filter, q->principal_filter,
		    q->host_filter, q->operation, q->permission_type);
	pthread_rwlock_rdlock(&az->cache_lock);
	resp.resources = arena_alloc(&req->arena, sizeof *resp.resources * (size_t)(az->n_cache ? az->n_cache : 1));
	resp.resources_count = 0;
	for (int i = 0; i < az->n_cache; i++) {
		const struct acl_resource *r = &az->cache[i];
		if (!acl_filter_matches_pattern(&f, r->type, r->pattern, r->name))
			continue;
		struct describe_acls_response_describe_acls_resource *out = &resp.resources[resp.resources_count];
		describe_acls_response_describe_acls_resource_init(out);
		out->acls = arena_alloc(&req->arena, sizeof *out->acls * (size_t)(r->n_entries ? r->n_entries : 1));
		for (int j = 0; j < r->n_entries; j++) {
			const struct acl_entry *e = &r->entries[j];
			if (!acl_filter_matches_entry(&f, e))
				continue;
			struct describe_acls_response_acl_description *d = &out->acls[out->acls_count++];
			describe_acls_response_acl_description_init(d);
			d->principal = arena_str(req, e->principal);
			d->host = arena_str(req, e->host);
			d->operation = (int8_t)e->operation;
			d->permission_type = (int8_t)e->permission;
		}
		if (out->acls_count == 0)
			continue;
		out->resource_type = (int8_t)r->type;
		out->resource_name = arena_str(req, r->name);
		out->pattern_type = (int8_t)r->pattern;
		resp.resources_count++;
	}
	pthread_rwlock_unlock(&az->cache_lock);
	free_filter(&f);
	request_respond(req, &resp);
}

/* DeleteAcls: which filters an entry of one pattern matched (the first decides where it is reported). */
struct delete_arg {
	struct acl_filter *filters;
	const int *which; /* indexes of the filters matching this pattern */
	int n_which;
	struct acl_entry *removed; /* out: copies */
	int *removed_by;
	int n_removed;
};

static bool remove_entries(struct acl_resource *cur, void *arg)
{
	struct delete_arg *d = arg;
	/* A retry starts again from ZooKeeper's entries: forget what the last try removed. */
	for (int i = 0; i < d->n_removed; i++) {
		free(d->removed[i].principal);
		free(d->removed[i].host);
	}
	d->n_removed = 0;
	int k = 0;
	for (int j = 0; j < cur->n_entries; j++) {
		int by = -1;
		for (int w = 0; w < d->n_which && by < 0; w++)
			if (acl_filter_matches_entry(&d->filters[d->which[w]], &cur->entries[j]))
				by = d->which[w];
		if (by < 0) {
			cur->entries[k++] = cur->entries[j];
			continue;
		}
		d->removed = xrealloc(d->removed, sizeof *d->removed * (size_t)(d->n_removed + 1));
		d->removed_by = xrealloc(d->removed_by, sizeof *d->removed_by * (size_t)(d->n_removed + 1));
		d->removed[d->n_removed] = cur->entries[j];
		d->removed_by[d->n_removed++] = by;
	}
	bool changed = k != cur->n_entries;
	cur->n_entries = k;
	return changed;
}

struct pattern_key {
	int type, pattern;
	char *name;
};

static void delete_acls_job(struct request *req)
{
	struct authorizer *az = req->broker->authorizer;
	const struct delete_acls_request *q = req->body;
	struct delete_acls_response resp;
	delete_acls_response_init(&resp);
	int nf = q->filters_count > 0 ? q->filters_count : 0;
	resp.filter_results = arena_alloc(&req->arena, sizeof *resp.filter_results * (size_t)(nf ? nf : 1));
	resp.filter_results_count = nf;
	for (int i = 0; i < nf; i++) {
		delete_acls_response_delete_acls_filter_result_init(&resp.filter_results[i]);
		resp.filter_results[i].error_message = (struct kstr){ NULL, -1 };
	}
	int16_t all_err = KERR_NONE;
	const char *all_msg = NULL;
	if (!request_authorize(req, ACL_OP_ALTER, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		all_err = KERR_CLUSTER_AUTHORIZATION_FAILED;
		all_msg = "Cluster authorization failed.";
	} else if (!az) {
		all_err = KERR_SECURITY_DISABLED;
		all_msg = SECURITY_DISABLED_MSG;
	}
	if (all_err) {
		for (int i = 0; i < nf; i++) {
			resp.filter_results[i].error_code = all_err;
			resp.filter_results[i].error_message = arena_str(req, all_msg);
		}
		request_respond(req, &resp);
		return;
	}
	struct acl_filter *filters = xcalloc((size_t)(nf ? nf : 1), sizeof *filters);
	for (int i = 0; i < nf; i++) {
		const struct delete_acls_request_delete_acls_filter *x = &q->filters[i];
		fill_filter(&filters[i], x->resource_type_filter, x->resource_name_filter, x->pattern_type_filter,
			    x->principal_filter, x->host_filter, x->operation, x->permission_type);
	}
	pthread_mutex_lock(&az->update_lock);
	/* The patterns to look at: every cached one, and the exact patterns filters name (Kafka's filterToResources). */
	struct pattern_key *keys = NULL;
	int nk = 0;
	pthread_rwlock_rdlock(&az->cache_lock);
	keys = xcalloc((size_t)az->n_cache + 2 * (size_t)nf + 1, sizeof *keys);
	for (int i = 0; i < az->n_cache; i++)
		keys[nk++] = (struct pattern_key){ az->cache[i].type, az->cache[i].pattern, xstrdup(az->cache[i].name) };
	pthread_rwlock_unlock(&az->cache_lock);
	for (int i = 0; i < nf; i++) {
		const struct acl_filter *f = &filters[i];
		if (f->resource_type == ACL_RESOURCE_ANY || !f->name || f->pattern == ACL_PATTERN_MATCH)
			continue;
		for (int p = ACL_PATTERN_LITERAL; p <= ACL_PATTERN_PREFIXED; p++) {
			if (f->pattern != ACL_PATTERN_ANY && f->pattern != p)
				continue;
			bool have = false;
			for (int k = 0; k < nk && !have; k++)
				have = keys[k].type == f->resource_type && keys[k].pattern == p && !strcmp(keys[k].name, f->name);
			if (!have)
				keys[nk++] = (struct pattern_key){ f->resource_type, p, xstrdup(f->name) };
		}
	}
	int *which = xcalloc((size_t)(nf ? nf : 1), sizeof *which);
	/* Per filter, the bindings it deleted. */
	int *counts = xcalloc((size_t)(nf ? nf : 1), sizeof *counts);
	struct delete_acls_response_delete_acls_matching_acl **outs = xcalloc((size_t)(nf ? nf : 1), sizeof *outs);
	int *caps = xcalloc((size_t)(nf ? nf : 1), sizeof *caps);
	for (int k = 0; k < nk; k++) {
		int nw = 0;
		for (int i = 0; i < nf; i++)
			if (acl_filter_matches_pattern(&filters[i], keys[k].type, keys[k].pattern, keys[k].name))
				which[nw++] = i;
		if (nw == 0)
			continue;
		struct delete_arg d = { filters, which, nw, NULL, NULL, 0 };
		int16_t rc = update_resource(az, keys[k].type, keys[k].pattern, keys[k].name, remove_entries, &d);
		for (int r = 0; r < d.n_removed; r++) {
			int fi = d.removed_by[r];
			if (counts[fi] == caps[fi]) {
				caps[fi] = caps[fi] ? caps[fi] * 2 : 8;
				struct delete_acls_response_delete_acls_matching_acl *grown =
					arena_alloc(&req->arena, sizeof *grown * (size_t)caps[fi]);
				if (counts[fi])
					memcpy(grown, outs[fi], sizeof *grown * (size_t)counts[fi]);
				outs[fi] = grown;
			}
			struct delete_acls_response_delete_acls_matching_acl *m = &outs[fi][counts[fi]++];
			delete_acls_response_delete_acls_matching_acl_init(m);
			m->error_message = (struct kstr){ NULL, -1 };
			m->error_code = rc;
			if (rc)
				m->error_message = arena_str(req, "Failed to update ACLs in ZooKeeper");
			m->resource_type = (int8_t)keys[k].type;
			m->resource_name = arena_str(req, keys[k].name);
			m->pattern_type = (int8_t)keys[k].pattern;
			m->principal = arena_str(req, d.removed[r].principal);
			m->host = arena_str(req, d.removed[r].host);
			m->operation = (int8_t)d.removed[r].operation;
			m->permission_type = (int8_t)d.removed[r].permission;
			free(d.removed[r].principal);
			free(d.removed[r].host);
		}
		free(d.removed);
		free(d.removed_by);
	}
	pthread_mutex_unlock(&az->update_lock);
	for (int i = 0; i < nf; i++) {
		resp.filter_results[i].matching_acls = outs[i];
		resp.filter_results[i].matching_acls_count = counts[i];
		free_filter(&filters[i]);
	}
	for (int k = 0; k < nk; k++)
		free(keys[k].name);
	free(keys);
	free(which);
	free(counts);
	free(outs);
	free(caps);
	free(filters);
	request_respond(req, &resp);
}

void handle_delete_acls(struct request *req)
{
	const struct delete_acls_request *q = req->body;
	for (int i = 0; i < q->filters_count; i++) {
		const struct delete_acls_request_delete_acls_filter *f = &q->filters[i];
		if (!filter_known(req->header.api_version, f->resource_type_filter, f->pattern_type_filter, f->operation,
				  f->permission_type)) {
			log_warn("Closing connection %s: DeleteAcls with unknown elements (filter %d)", req->info.peer, i);
			request_close(req);
			return;
		}
	}
	admin_executor_submit(req->broker->admin, req, delete_acls_job);
}
