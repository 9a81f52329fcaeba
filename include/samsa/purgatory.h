/*
 * The interface of src/purgatory/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_PURGATORY_H
#define SAMSA_PURGATORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The purgatory [Kafka's DelayedOperationPurgatory]: requests that wait for
 * something to happen (a fetch for min.bytes, a produce or an offset commit
 * for acks=all) or for their deadline, whichever comes first.
 *
 * An operation watches one or more keys: the topic-partitions whose progress
 * may let it complete, or a group.  Whoever moves a partition (an append, a
 * high-watermark move, a leadership change) checks that partition's key, and
 * only the operations watching it are tried.  Deadlines sit in a min-heap; the
 * purgatory's one thread sleeps until the earliest and expires what is due.
 *
 * Where the try functions run.  As in Kafka, purgatory_check_and_complete
 * tries the watching operations on the caller's thread: the thread that made
 * the progress answers at once, with no hand-off to another thread, and
 * completions spread over the network threads instead of queueing behind one.
 * The price is a rule for callers: hold no lock that a try function may take
 * (the replica manager's, a log's, a fetch session's); in practice, call it
 * after releasing every lock.  The group coordinator's lock is the one
 * exception today (it is held across appends to __consumer_offsets, which may
 * move a high watermark), so no try function may take it; a caller that holds
 * a lock a try function needs uses purgatory_check_later, which hands the key
 * to the purgatory thread.  A check made from inside a try function (a
 * follower's fetch moving the high watermark while it is retried) is handed
 * over the same way, so try functions never nest.
 *
 * Each operation completes exactly once however many keys it watches and
 * however many threads check them at the same time [DelayedOperation's
 * tryComplete/forceComplete]: one thread at a time runs its try function,
 * a check arriving meanwhile makes that thread try again, and once it answers
 * it leaves every watcher list and the timer.  Watcher lists that empty are
 * removed, so a broker with many partitions keeps only the keys something
 * waits on.
 */
struct purgatory;

/* What a key names: a topic-partition (delayed produce, fetch, commit) or a group (join, heartbeat). */
enum purgatory_key_kind {
	PURGATORY_KEY_PARTITION = 0,
	PURGATORY_KEY_GROUP = 1,
};

/* A key an operation watches; the purgatory copies what it keeps, so name need only live for the call. */
struct purgatory_key {
	enum purgatory_key_kind kind;
	const char *name;  /* topic or group id, not necessarily NUL-terminated */
	size_t name_len;
	int32_t partition; /* -1 for a group */
};

static inline struct purgatory_key purgatory_partition_key(const char *topic, size_t topic_len, int32_t partition)
{
	return (struct purgatory_key){ PURGATORY_KEY_PARTITION, topic, topic_len, partition };
}

static inline struct purgatory_key purgatory_group_key(const char *group_id, size_t group_id_len)
{
	return (struct purgatory_key){ PURGATORY_KEY_GROUP, group_id, group_id_len, -1 };
}

/*
 * Try to complete op.  expired: the deadline has passed (or the purgatory is
 * stopping), so it must complete now with what there is.  Returns true when
 * op answered and freed itself; it is never called again after that.  Never
 * called for one op on two threads at once.
 */
typedef bool (*delayed_try_fn)(void *op, bool expired);

struct purgatory *purgatory_start(void);
/*
 * Expire every waiting operation (each answers) and stop the thread; returns
 * once all have answered.  Later additions complete at once, on the caller's
 * thread.  Not from a try function.
 */
void purgatory_stop(struct purgatory *p);
/* Stop if not stopped, and free p (nothing may use it afterwards). */
void purgatory_free(struct purgatory *p);
/*
 * Park op on each of the n_keys keys (duplicates are fine; none: it waits for
 * its deadline only) until try_fn completes it or deadline_ms (wall clock)
 * passes.  Once parked it is tried right away on the caller's thread, so an
 * append that raced with parking is not missed; a caller may try it first
 * itself to skip parking when it is already satisfied.
 */
void purgatory_add(struct purgatory *p, void *op, int64_t deadline_ms, delayed_try_fn try_fn,
		   const struct purgatory_key *keys, size_t n_keys);
/*
 * key moved [Kafka's checkAndComplete]: try the operations watching it, on
 * this thread, each at most once here.  Cheap when nothing watches the key
 * (one lock and a hash lookup); never blocks on I/O itself.  The caller holds
 * no lock a try function may take (see above).
 */
void purgatory_check_and_complete(struct purgatory *p, const struct purgatory_key *key);
/* The same, but the purgatory thread does the trying: for callers that hold locks. */
void purgatory_check_later(struct purgatory *p, const struct purgatory_key *key);
/* How many operations wait (for tests and metrics). */
int purgatory_size(struct purgatory *p);
/* How many of them were parked with try_fn (the metrics' per-operation sizes); walks them all. */
int purgatory_size_of(struct purgatory *p, delayed_try_fn try_fn);
/* How many keys have a watcher list (for tests and metrics). */
int purgatory_watched_keys(struct purgatory *p);

#endif
