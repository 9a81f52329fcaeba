/*
 * A thin wrapper over the multi-threaded ZooKeeper C client [Kafka's ZooKeeperClient].
 *
 * Calls are synchronous and made from the controller thread or at start-up,
 * never from network threads.  Return values are ZooKeeper's codes (ZOK,
 * ZNONODE, ZNODEEXISTS, ZBADVERSION, ...).  Watches are one-shot and call
 * fn(arg) on the ZooKeeper client's thread: keep them short (post an event).
 */
#ifndef SAMSA_ZK_ZK_H
#define SAMSA_ZK_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zookeeper/zookeeper.h>

struct zk;
typedef void (*zk_watch_fn)(void *arg);

/*
 * Connects to "host:port[,host:port...][/chroot]", creating the chroot if it
 * does not exist (as Kafka does), and waits up to connection_timeout_ms for the
 * session.  on_expired(arg) is called (on the client thread) when the session
 * expires; the owner then calls zk_reconnect.  NULL on failure.
 */
struct zk *zk_connect(const char *connect, int session_timeout_ms, int connection_timeout_ms,
		      zk_watch_fn on_expired, void *arg);
/* A new session on the same handle (after expiry). 0 or -1. */
int zk_reconnect(struct zk *zk);
/* Closes the session (our ephemeral znodes go at once) and frees everything. */
void zk_close(struct zk *zk);
int64_t zk_session_id(struct zk *zk);

/* Data of `path` into a malloc'd buffer (*data NULL with *len -1 for a null znode). */
int zk_get(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, char **data, int *len,
	   struct Stat *stat);
/* exists with an optional watch; ZOK or ZNONODE. */
int zk_exists(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, struct Stat *stat);
int zk_children(struct zk *zk, const char *path, zk_watch_fn watch, void *arg, struct String_vector *out);
/* flags: 0, ZOO_EPHEMERAL, ZOO_SEQUENCE; `created` (may be NULL) gets the real path. */
int zk_create(struct zk *zk, const char *path, const char *data, int len, int flags, struct Stat *stat,
	      char *created, int created_len);
/* Creates `path` and any missing parents with null data; ZOK when it already existed. */
int zk_create_recursive(struct zk *zk, const char *path, const char *data, int len);
int zk_set(struct zk *zk, const char *path, const char *data, int len, int version, struct Stat *stat);
int zk_delete(struct zk *zk, const char *path, int version);
int zk_multi(struct zk *zk, int count, const zoo_op_t *ops, zoo_op_result_t *results);

/*
 * The seam for tests: a handle whose calls go to `ops` (with `impl` as their first
 * argument) instead of libzookeeper, so kafka_zk, topic_zk and the controller can run
 * against an in-memory tree (tests/unit/fake_zk.c).  Handles from zk_connect have no
 * ops and call libzookeeper directly.  Every call must be set; zk_create_recursive is
 * built on create.  zk_close calls close(impl) and frees the handle.
 */
struct zk_ops {
	int (*get)(void *impl, const char *path, zk_watch_fn watch, void *arg, char **data, int *len,
		   struct Stat *stat);
	int (*exists)(void *impl, const char *path, zk_watch_fn watch, void *arg, struct Stat *stat);
	int (*children)(void *impl, const char *path, zk_watch_fn watch, void *arg, struct String_vector *out);
	int (*create)(void *impl, const char *path, const char *data, int len, int flags, struct Stat *stat,
		      char *created, int created_len);
	int (*set)(void *impl, const char *path, const char *data, int len, int version, struct Stat *stat);
	int (*delete_node)(void *impl, const char *path, int version);
	int (*multi)(void *impl, int count, const zoo_op_t *ops, zoo_op_result_t *results);
	int64_t (*session_id)(void *impl);
	int (*reconnect)(void *impl);
	void (*close)(void *impl);
};
struct zk *zk_new_with_ops(const struct zk_ops *ops, void *impl);

#endif
