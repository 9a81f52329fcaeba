/* ZooKeeper session, chroot and watch plumbing (see zk.h). */
#include "samsa/zk.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* One registration per (fn, arg), owned by the struct zk, so a watch that never
 * fires (the session ended) leaks nothing. */
struct zk_watch {
	struct zk_watch *next;
	zk_watch_fn fn;
	void *arg;
};

struct zk {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	zhandle_t *zh;
	char *connect;     /* with chroot */
	int session_timeout_ms;
	int connection_timeout_ms;
	int state;         /* last session state seen */
	bool expired_reported;
	zk_watch_fn on_expired;
	void *arg;
	struct zk_watch *watches;
	/* zk_new_with_ops: every call goes here instead (tests); NULL for libzookeeper. */
	const struct zk_ops *ops;
	void *impl;
};

struct zk *zk_new_with_ops(const struct zk_ops *ops, void *impl)
{
	struct zk *zk = xcalloc(1, sizeof *zk);
	zk->ops = ops;
	zk->impl = impl;
	return zk;
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh;
	(void)path;
	struct zk *zk = ctx;
	if (type != ZOO_SESSION_EVENT)
		return;
	bool expired = false;
	pthread_mutex_lock(&zk->lock);
	zk->state = state;
	if (state == ZOO_EXPIRED_SESSION_STATE && !zk->expired_reported) {
		zk->expired_reported = true;
		expired = true;
	}
	pthread_cond_broadcast(&zk->cond);
	pthread_mutex_unlock(&zk->lock);
	if (expired) {
		log_warn("ZooKeeper session expired");
		if (zk->on_expired)
			zk->on_expired(zk->arg);
	}
}

static void node_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh;
	(void)state;
	(void)path;
	struct zk_watch *w = ctx;
	if (type == ZOO_SESSION_EVENT)
		return; /* session trouble is reported once, through on_expired */
	w->fn(w->arg);
}

static struct zk_watch *watch_ctx(struct zk *zk, zk_watch_fn fn, void *arg)
{
	pthread_mutex_lock(&zk->lock);
	struct zk_watch *w = zk->watches;
	while (w && !(w->fn == fn && w->arg == arg))
		w = w->next;
	if (!w) {
		w = xcalloc(1, sizeof *w);
		w->fn = fn;
		w->arg = arg;
		w->next = zk->watches;
		zk->watches = w;
	}
	pthread_mutex_unlock(&zk->lock);
	return w;
}

static int open_session(struct zk *zk, const char *connect)
{
	zk->state = 0;
	zk->expired_reported = false;
	zk->zh = zookeeper_init(connect, session_watcher, zk->session_timeout_ms, NULL, zk, 0);
	if (!zk->zh)
		return -1;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += zk->connection_timeout_ms / 1000;
	deadline.tv_nsec += (long)(zk->connection_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&zk->lock);
	while (zk->state != ZOO_CONNECTED_STATE) {
		if (pthread_cond_timedwait(&zk->cond, &zk->lock, &deadline) == ETIMEDOUT)
			break;
	}
	bool ok = zk->state == ZOO_CONNECTED_STATE;
	pthread_mutex_unlock(&zk->lock);
	if (!ok) {
		zookeeper_close(zk->zh);
		zk->zh = NULL;
		return -1;
	}
	return 0;
}

struct zk *zk_connect(const char *connect, int session_timeout_ms, int connection_timeout_ms,
		      zk_watch_fn on_expired, void *arg)
{
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	struct zk *zk = xcalloc(1, sizeof *zk);
	pthread_mutex_init(&zk->lock, NULL);
	pthread_cond_init(&zk->cond, NULL);
	zk->connect = xstrdup(connect);
	zk->session_timeout_ms = session_timeout_ms;
	zk->connection_timeout_ms = connection_timeout_ms;

	const char *slash = strchr(connect, '/');
	if (slash && slash[1]) {
		/* Make sure the chroot exists, through a session without it. */
		char *hosts = xstrndup(connect, (size_t)(slash - connect));
		int rc = open_session(zk, hosts);
		free(hosts);
		if (rc == 0) {
			char *chroot = xstrdup(slash);
			size_t n = strlen(chroot);
			if (n > 1 && chroot[n - 1] == '/')
				chroot[n - 1] = '\0';
			rc = zk_create_recursive(zk, chroot, NULL, -1);
			free(chroot);
			zookeeper_close(zk->zh);
			zk->zh = NULL;
		}
		if (rc != 0) {
			log_error("Cannot create the ZooKeeper chroot %s", slash);
			zk_close(zk);
			return NULL;
		}
	}
	if (open_session(zk, connect) != 0) {
		zk_close(zk);
		return NULL;
	}
	/* Only now: the chroot session above must not report expiry. */
	zk->on_expired = on_expired;
	zk->arg = arg;
	log_info("Connected to ZooKeeper at %s (session 0x%llx)", connect,
		 (unsigned long long)zk_session_id(zk));
	return zk;
}

int zk_reconnect(struct zk *zk)
{
	if (zk->ops)
		return zk->ops->reconnect(zk->impl);
	if (zk->zh) {
		zookeeper_close(zk->zh);
		zk->zh = NULL;
	}
	if (open_session(zk, zk->connect) != 0) {
		log_error("Cannot reconnect to ZooKeeper at %s", zk->connect);
		return -1;
	}
	log_info("New ZooKeeper session 0x%llx", (unsigned long long)zk_session_id(zk));
	return 0;
}

void zk_close(struct zk *zk)
{
	if (!zk)
		return;
	if (zk->ops) {
		zk->ops->close(zk->impl);
		free(zk);
		return;
	}
	if (zk->zh)
		zookeeper_close(zk->zh);
	struct zk_watch *w = zk->watches;
	while (w) {
		struct zk_watch *next = w->next;
		free(w);
		w = next;
	}
	pthread_mutex_destroy(&zk->lock);
	pthread_cond_destroy(&zk->cond);
	free(zk->connect);
	free(zk);
}

int64_t zk_session_id(struct zk *zk)
{
	if (zk->ops)
		return zk->ops->session_id(zk->impl);
	const clientid_t *id = zk->zh ? zoo_client_id(zk->zh) : NULL;
	return id ? id->client_id : 0;
}

int zk_get(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, char **data, int *len,
	   struct Stat *stat)
{
	if (zk->ops)
		return zk->ops->get(zk->impl, path, watch, arg, data, len, stat);
	struct Stat st;
	int cap = 4096;
	for (;;) {
		char *buf = xmalloc((size_t)cap);
		int n = cap;
		int rc = watch ? zoo_wget(zk->zh, path, node_watcher, watch_ctx(zk, watch, arg), buf, &n, &st)
			       : zoo_get(zk->zh, path, 0, buf, &n, &st);
		if (rc != ZOK) {
			free(buf);
			return rc;
		}
		if (st.dataLength > cap) { /* did not fit: read again with room for all of it */
			free(buf);
			cap = st.dataLength;
			watch = NULL; /* the watch is already set */
			continue;
		}
		if (n < 0) {
			free(buf);
			buf = NULL;
		}
		*data = buf;
		*len = n;
		if (stat)
			*stat = st;
		return ZOK;
	}
}

int zk_exists(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, struct Stat *stat)
{
	if (zk->ops)
		return zk->ops->exists(zk->impl, path, watch, arg, stat);
	struct Stat st;
	int rc = watch ? zoo_wexists(zk->zh, path, node_watcher, watch_ctx(zk, watch, arg), &st)
		       : zoo_exists(zk->zh, path, 0, &st);
	if (rc == ZOK && stat)
		*stat = st;
	return rc;
}

int zk_children(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, struct String_vector *out)
{
	memset(out, 0, sizeof *out);
	if (zk->ops)
		return zk->ops->children(zk->impl, path, watch, arg, out);
	return watch ? zoo_wget_children(zk->zh, path, node_watcher, watch_ctx(zk, watch, arg), out)
		     : zoo_get_children(zk->zh, path, 0, out);
}

int zk_create(struct zk *zk, const char *path, const char *data, int len, int flags, struct Stat *stat,
	      char *created, int created_len)
{
	if (zk->ops)
		return zk->ops->create(zk->impl, path, data, len, flags, stat, created, created_len);
	struct Stat st;
	int rc = zoo_create2(zk->zh, path, data, data ? len : -1, &ZOO_OPEN_ACL_UNSAFE, flags, created, created_len,
			     &st);
	if (rc == ZOK && stat)
		*stat = st;
	return rc;
}

int zk_create_recursive(struct zk *zk, const char *path, const char *data, int len)
{
	int rc = zk_create(zk, path, data, len, 0, NULL, NULL, 0);
	if (rc == ZOK || rc == ZNODEEXISTS)
		return ZOK;
	if (rc != ZNONODE)
		return rc;
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return rc;
	char *parent = xstrndup(path, (size_t)(slash - path));
	rc = zk_create_recursive(zk, parent, NULL, -1);
	free(parent);
	if (rc != ZOK)
		return rc;
	rc = zk_create(zk, path, data, len, 0, NULL, NULL, 0);
	return rc == ZNODEEXISTS ? ZOK : rc;
}

int zk_set(struct zk *zk, const char *path, const char *data, int len, int version, struct Stat *stat)
{
	if (zk->ops)
		return zk->ops->set(zk->impl, path, data, len, version, stat);
	struct Stat st;
	int rc = zoo_set2(zk->zh, path, data, data ? len : -1, version, &st);
	if (rc == ZOK && stat)
		*stat = st;
	return rc;
}

int zk_delete(struct zk *zk, const char *path, int version)
{
	if (zk->ops)
		return zk->ops->delete_node(zk->impl, path, version);
	return zoo_delete(zk->zh, path, version);
}

int zk_multi(struct zk *zk, int count, const zoo_op_t *ops, zoo_op_result_t *results)
{
	if (zk->ops)
		return zk->ops->multi(zk->impl, count, ops, results);
	/*
	 * On a handle whose session has expired, libzookeeper's zoo_amulti goes on to free a
	 * request path it never set (a SEGV seen under ASan when the controller's session
	 * expired mid-reassignment).  Refuse the multi here with what the library answers
	 * for every other call on such a handle.
	 */
	int state = zk->zh ? zoo_state(zk->zh) : 0;
	if (!zk->zh || state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
		return ZINVALIDSTATE;
	return zoo_multi(zk->zh, count, ops, results);
}
