/*
 * An in-memory ZooKeeper for unit tests: one tree of znodes with versions,
 * zxids, ephemeral owners, sequence numbers, one-shot data/exists/children
 * watches and all-or-nothing multi, reached through ordinary struct zk handles
 * (zk_new_with_ops), so kafka_zk, topic_zk and the controller run unchanged.
 *
 * Single-threaded: watches fire synchronously, after the write that triggers
 * them has been applied.  Every write is also appended to a journal
 * ("create /path", "set /path", "delete /path") so tests can check the order
 * of the controller's znode updates.
 */
#ifndef SAMSA_TESTS_FAKE_ZK_H
#define SAMSA_TESTS_FAKE_ZK_H

#include <stdbool.h>
#include <stdint.h>

struct fake_zk;
struct zk;

/* An empty tree (only "/"). */
struct fake_zk *fake_zk_new(void);
/* Frees the tree; every session must have been closed (zk_close) first. */
void fake_zk_free(struct fake_zk *fz);

/* A new session on the tree.  zk_close ends it: its ephemeral znodes go, watches fire. */
struct zk *fake_zk_session(struct fake_zk *fz);
/*
 * The session of `zk` expires, as ZooKeeper would decide: its ephemeral znodes
 * are deleted (firing watches) and its own watches are dropped; its calls fail
 * with ZSESSIONEXPIRED until zk_reconnect gives it a new session id.  The owner's
 * on_expired callback is not called: the test posts what it would.
 */
void fake_zk_expire(struct fake_zk *fz, struct zk *zk);

/* Inspection.  The data of `path` as a malloc'd string ("" for a null znode), or NULL when absent. */
char *fake_zk_data(struct fake_zk *fz, const char *path);
bool fake_zk_exists(struct fake_zk *fz, const char *path);
/* The znode's version (-1 when absent). */
int fake_zk_version(struct fake_zk *fz, const char *path);
/* Writes so far, and the index of the first entry at or after `from` equal to `entry` (-1: none). */
int fake_zk_journal_len(struct fake_zk *fz);
const char *fake_zk_journal_at(struct fake_zk *fz, int i);
int fake_zk_journal_find(struct fake_zk *fz, const char *entry, int from);
void fake_zk_journal_clear(struct fake_zk *fz);

#endif
