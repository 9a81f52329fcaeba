/*
 * Delayed operations, the watcher lists of their keys, their timer and the
 * thread that expires them (see purgatory.h).
 *
 * One mutex guards the structure: the hash table of watcher lists, the heap
 * of deadlines and each operation's links and reference count.  It is held
 * only to link, unlink and collect, never across a try function.  Who may run
 * an operation's try function is decided without it, by the operation's
 * atomic state.
 */
#include "samsa/purgatory.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* An operation's state.  Only the thread that moved it from IDLE to BUSY runs its try function. */
enum {
	OP_IDLE,        /* parked, nobody trying it */
	OP_BUSY,        /* one thread is trying it */
	OP_BUSY_RETRY,  /* ... and a check came meanwhile: that thread tries once more */
	OP_BUSY_EXPIRE, /* ... and its deadline (or the stop) came meanwhile: that thread expires it */
	OP_DONE,        /* answered */
};

#define NOT_IN_HEAP SIZE_MAX

struct watchers;
struct delayed;

/* One operation on one key's list. */
struct watch {
	struct delayed *d;
	struct watchers *w;
	struct watch *prev, *next;
};

/* A parked operation [Kafka's DelayedOperation]. */
struct delayed {
	void *op;
	delayed_try_fn try_fn;
	int64_t deadline_ms;
	uint64_t seq; /* breaks deadline ties: first parked, first expired */
	atomic_int state;
	/* The rest under the purgatory's lock. */
	int refs;       /* one while parked, plus one for each thread holding it outside the lock */
	size_t heap_at; /* NOT_IN_HEAP once taken for expiry, or done */
	uint64_t seen;  /* the last check that collected it: a key named twice is tried once */
	size_t n_watches;
	struct watch watches[];
};

/* The operations watching one key [DelayedOperationPurgatory's Watchers]; gone once empty. */
struct watchers {
	struct watchers *next; /* in its bucket */
	uint64_t hash;
	enum purgatory_key_kind kind;
	int32_t partition;
	size_t name_len;
	struct watch *head;
	char name[];
};

/* A key given to purgatory_check_later, for the thread. */
struct later_check {
	enum purgatory_key_kind kind;
	int32_t partition;
	size_t name_len;
	char *name;
};

struct purgatory {
	pthread_mutex_t lock;
	pthread_cond_t wake;    /* the thread: an earlier deadline, a later check, or stopping */
	pthread_cond_t drained; /* stopping: the last operation answered */
	pthread_t thread;
	bool stopping;
	struct watchers **buckets; /* a power of two of them */
	size_t n_buckets, n_keys;
	struct delayed **heap;     /* min-heap by (deadline, seq) */
	size_t n_heap, cap_heap;
	struct later_check *later;
	size_t n_later, cap_later;
	uint64_t next_seq, next_check;
	int size;
};

/* Greater than zero while this thread runs a try function: checks it makes go to the thread. */
static _Thread_local int in_try;

/* A growable list of operations collected under the lock and handled outside it. */
struct batch {
	struct delayed **v;
	size_t n, cap;
	struct delayed *small[16];
};

static void batch_init(struct batch *b)
{
	b->v = b->small;
	b->n = 0;
	b->cap = sizeof b->small / sizeof b->small[0];
}

static void batch_push(struct batch *b, struct delayed *d)
{
	if (b->n == b->cap) {
		size_t cap = b->cap * 2;
		struct delayed **v = xmalloc(sizeof *v * cap);
		memcpy(v, b->v, sizeof *v * b->n);
		if (b->v != b->small)
			free(b->v);
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = d;
}

static void batch_free(struct batch *b)
{
	if (b->v != b->small)
		free(b->v);
}

/* --- keys -------------------------------------------------------------------------------- */

static uint64_t key_hash(enum purgatory_key_kind kind, const char *name, size_t len, int32_t partition)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 1099511628211ull;
	}
	h ^= (uint32_t)partition;
	h *= 1099511628211ull;
	h ^= (uint64_t)kind;
	h *= 1099511628211ull;
	return h ^ (h >> 31);
}

static bool key_is(const struct watchers *w, uint64_t h, const struct purgatory_key *k)
{
	return w->hash == h && w->kind == k->kind && w->partition == k->partition && w->name_len == k->name_len &&
	       (k->name_len == 0 || memcmp(w->name, k->name, k->name_len) == 0);
}

static struct watchers *watchers_find(struct purgatory *p, const struct purgatory_key *k, uint64_t h)
{
	if (!p->n_buckets)
		return NULL;
	for (struct watchers *w = p->buckets[h & (p->n_buckets - 1)]; w; w = w->next)
		if (key_is(w, h, k))
			return w;
	return NULL;
}

static void rehash(struct purgatory *p, size_t n_buckets)
{
	struct watchers **nb = xcalloc(n_buckets, sizeof *nb);
	for (size_t i = 0; i < p->n_buckets; i++) {
		struct watchers *w = p->buckets[i];
		while (w) {
			struct watchers *next = w->next;
			size_t at = w->hash & (n_buckets - 1);
			w->next = nb[at];
			nb[at] = w;
			w = next;
		}
	}
	free(p->buckets);
	p->buckets = nb;
	p->n_buckets = n_buckets;
}

static struct watchers *watchers_get(struct purgatory *p, const struct purgatory_key *k, uint64_t h)
{
	struct watchers *w = watchers_find(p, k, h);
	if (w)
		return w;
	if (p->n_keys >= p->n_buckets)
		rehash(p, p->n_buckets ? p->n_buckets * 2 : 16);
	w = xmalloc(sizeof *w + k->name_len + 1);
	w->hash = h;
	w->kind = k->kind;
	w->partition = k->partition;
	w->name_len = k->name_len;
	w->head = NULL;
	if (k->name_len)
		memcpy(w->name, k->name, k->name_len);
	w->name[k->name_len] = '\0';
	size_t at = h & (p->n_buckets - 1);
	w->next = p->buckets[at];
	p->buckets[at] = w;
	p->n_keys++;
	return w;
}

/* Drop an emptied list; the table shrinks too, so a burst of keys does not stay allocated. */
static void watchers_remove(struct purgatory *p, struct watchers *w)
{
	struct watchers **at = &p->buckets[w->hash & (p->n_buckets - 1)];
	while (*at != w)
		at = &(*at)->next;
	*at = w->next;
	free(w);
	p->n_keys--;
	if (p->n_buckets > 16 && p->n_keys * 8 < p->n_buckets)
		rehash(p, p->n_buckets / 2);
}

/* --- the timer --------------------------------------------------------------------------- */

static bool earlier(const struct delayed *a, const struct delayed *b)
{
	return a->deadline_ms < b->deadline_ms || (a->deadline_ms == b->deadline_ms && a->seq < b->seq);
}

static void heap_set(struct purgatory *p, size_t i, struct delayed *d)
{
	p->heap[i] = d;
	d->heap_at = i;
}

static void sift_up(struct purgatory *p, size_t i)
{
	struct delayed *d = p->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!earlier(d, p->heap[parent]))
			break;
		heap_set(p, i, p->heap[parent]);
		i = parent;
	}
	heap_set(p, i, d);
}

static void sift_down(struct purgatory *p, size_t i)
{
	struct delayed *d = p->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= p->n_heap)
			break;
		if (c + 1 < p->n_heap && earlier(p->heap[c + 1], p->heap[c]))
			c++;
		if (!earlier(p->heap[c], d))
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, d);
}

static void heap_push(struct purgatory *p, struct delayed *d)
{
	if (p->n_heap == p->cap_heap) {
		p->cap_heap = p->cap_heap ? p->cap_heap * 2 : 64;
		p->heap = xrealloc(p->heap, sizeof *p->heap * p->cap_heap);
	}
	heap_set(p, p->n_heap++, d);
	sift_up(p, d->heap_at);
}

static void heap_remove(struct purgatory *p, struct delayed *d)
{
	size_t i = d->heap_at;
	d->heap_at = NOT_IN_HEAP;
	struct delayed *last = p->heap[--p->n_heap];
	if (last == d)
		return;
	heap_set(p, i, last);
	sift_up(p, i);
	sift_down(p, last->heap_at);
}

/* --- completing -------------------------------------------------------------------------- */

static void put_locked(struct delayed *d)
{
	if (--d->refs == 0)
		free(d);
}

static void put_all(struct purgatory *p, struct batch *b)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < b->n; i++)
		put_locked(b->v[i]);
	pthread_mutex_unlock(&p->lock);
	batch_free(b);
}

static bool run_try(delayed_try_fn fn, void *op, bool expired)
{
	in_try++;
	bool done = fn(op, expired);
	in_try--;
	if (!done && expired) {
		log_error("A delayed operation did not complete at its deadline; dropped");
		done = true;
	}
	return done;
}

/* d answered: off every list and the timer, and no longer counted. */
static void finish(struct purgatory *p, struct delayed *d)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < d->n_watches; i++) {
		struct watch *x = &d->watches[i];
		struct watchers *w = x->w;
		if (x->prev)
			x->prev->next = x->next;
		else
			w->head = x->next;
		if (x->next)
			x->next->prev = x->prev;
		if (!w->head)
			watchers_remove(p, w);
	}
	if (d->heap_at != NOT_IN_HEAP)
		heap_remove(p, d);
	if (--p->size == 0 && p->stopping)
		pthread_cond_broadcast(&p->drained);
	put_locked(d); /* the parked reference; the caller still holds its own */
	pthread_mutex_unlock(&p->lock);
}

/* The caller moved d to BUSY: try it until it answers, or until no one asked for another try. */
static void own(struct purgatory *p, struct delayed *d, bool expired)
{
	for (;;) {
		if (run_try(d->try_fn, d->op, expired)) {
			atomic_store(&d->state, OP_DONE);
			finish(p, d);
			return;
		}
		int s = OP_BUSY;
		if (atomic_compare_exchange_strong(&d->state, &s, OP_IDLE))
			return;
		/* A check or the deadline came while we tried: take it over, and go again. */
		s = atomic_exchange(&d->state, OP_BUSY);
		expired = s == OP_BUSY_EXPIRE;
	}
}

/* Try d (the caller holds a reference), or leave the try to the thread already trying it. */
static void attempt(struct purgatory *p, struct delayed *d, bool expired)
{
	int want = expired ? OP_BUSY_EXPIRE : OP_BUSY_RETRY;
	int s = atomic_load(&d->state);
	for (;;) {
		if (s == OP_DONE || s == OP_BUSY_EXPIRE || s == want)
			return;
		if (s == OP_IDLE) {
			if (atomic_compare_exchange_weak(&d->state, &s, OP_BUSY)) {
				own(p, d, expired);
				return;
			}
		} else if (atomic_compare_exchange_weak(&d->state, &s, want)) {
			return; /* BUSY (or BUSY_RETRY, now to expire): the trying thread sees it */
		}
	}
}

static void check_now(struct purgatory *p, const struct purgatory_key *key)
{
	uint64_t h = key_hash(key->kind, key->name, key->name_len, key->partition);
	pthread_mutex_lock(&p->lock);
	struct watchers *w = watchers_find(p, key, h);
	if (!w) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	uint64_t check = ++p->next_check;
	struct batch b;
	batch_init(&b);
	for (struct watch *x = w->head; x; x = x->next) {
		struct delayed *d = x->d;
		if (d->seen == check || atomic_load(&d->state) == OP_DONE)
			continue;
		d->seen = check;
		d->refs++;
		batch_push(&b, d);
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < b.n; i++)
		attempt(p, b.v[i], false);
	put_all(p, &b);
}

/* --- the thread -------------------------------------------------------------------------- */

static void run_later(struct purgatory *p, struct later_check *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct purgatory_key k = { v[i].kind, v[i].name, v[i].name_len, v[i].partition };
		check_now(p, &k);
		free(v[i].name);
	}
	free(v);
}

/* Take what is due (all of it when stopping) off the heap, in deadline order, and expire it. */
static void expire_due(struct purgatory *p, int64_t now, bool all)
{
	struct batch b;
	batch_init(&b);
	while (p->n_heap > 0 && (all || p->heap[0]->deadline_ms <= now)) {
		struct delayed *d = p->heap[0];
		heap_remove(p, d);
		d->refs++;
		batch_push(&b, d);
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < b.n; i++)
		attempt(p, b.v[i], true);
	put_all(p, &b);
	pthread_mutex_lock(&p->lock);
}

static void *purgatory_main(void *arg)
{
	struct purgatory *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		if (p->n_later > 0) {
			struct later_check *v = p->later;
			size_t n = p->n_later;
			p->later = NULL;
			p->n_later = p->cap_later = 0;
			pthread_mutex_unlock(&p->lock);
			run_later(p, v, n);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (p->n_heap == 0) {
			pthread_cond_wait(&p->wake, &p->lock);
			continue;
		}
		int64_t now = wall_clock_ms();
		int64_t next = p->heap[0]->deadline_ms;
		if (next > now) {
			/* Deadlines are wall-clock, as the condition variable's clock is. */
			struct timespec ts = { .tv_sec = next / 1000, .tv_nsec = (long)(next % 1000) * 1000000 };
			pthread_cond_timedwait(&p->wake, &p->lock, &ts);
			continue;
		}
		expire_due(p, now, false);
	}
	/* Stopping: everything parked answers now; wait for those another thread is still trying. */
	for (size_t i = 0; i < p->n_later; i++)
		free(p->later[i].name);
	p->n_later = 0;
	expire_due(p, 0, true);
	while (p->size > 0)
		pthread_cond_wait(&p->drained, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* --- the interface ----------------------------------------------------------------------- */

struct purgatory *purgatory_start(void)
{
	struct purgatory *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->drained, NULL);
	if (pthread_create(&p->thread, NULL, purgatory_main, p) != 0) {
		log_error("Cannot start the purgatory thread");
		abort();
	}
	return p;
}

void purgatory_stop(struct purgatory *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	bool running = !p->stopping;
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (running)
		pthread_join(p->thread, NULL);
}

void purgatory_free(struct purgatory *p)
{
	if (!p)
		return;
	purgatory_stop(p);
	/* Every operation answered, so every list is gone; only the table itself is left. */
	free(p->buckets);
	free(p->heap);
	free(p->later);
	pthread_cond_destroy(&p->drained);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void purgatory_add(struct purgatory *p, void *op, int64_t deadline_ms, delayed_try_fn try_fn,
		   const struct purgatory_key *keys, size_t n_keys)
{
	struct delayed *d = xcalloc(1, sizeof *d + sizeof d->watches[0] * n_keys);
	d->op = op;
	d->try_fn = try_fn;
	d->deadline_ms = deadline_ms;
	/* BUSY from the start: checks that come while we park it ask us for another try. */
	atomic_init(&d->state, OP_BUSY);
	d->refs = 2; /* parked, and ours until the first try is over */
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		/* Shutting down: nothing waits any more. */
		pthread_mutex_unlock(&p->lock);
		free(d);
		run_try(try_fn, op, true);
		return;
	}
	d->seq = p->next_seq++;
	for (size_t i = 0; i < n_keys; i++) {
		const struct purgatory_key *k = &keys[i];
		struct watchers *w = watchers_get(p, k, key_hash(k->kind, k->name, k->name_len, k->partition));
		if (w->head && w->head->d == d)
			continue; /* the same key twice: once is enough */
		struct watch *x = &d->watches[d->n_watches++];
		x->d = d;
		x->w = w;
		x->prev = NULL;
		x->next = w->head;
		if (w->head)
			w->head->prev = x;
		w->head = x;
	}
	heap_push(p, d);
	if (d->heap_at == 0)
		pthread_cond_signal(&p->wake); /* the new earliest deadline */
	p->size++;
	pthread_mutex_unlock(&p->lock);
	/* The try after parking: whatever happened before it is seen now, whatever after it checks a key. */
	own(p, d, false);
	pthread_mutex_lock(&p->lock);
	put_locked(d);
	pthread_mutex_unlock(&p->lock);
}

void purgatory_check_and_complete(struct purgatory *p, const struct purgatory_key *key)
{
	if (in_try > 0) {
		/* From inside a try function: no nesting, the thread does it. */
		purgatory_check_later(p, key);
		return;
	}
	check_now(p, key);
}

void purgatory_check_later(struct purgatory *p, const struct purgatory_key *key)
{
	uint64_t h = key_hash(key->kind, key->name, key->name_len, key->partition);
	pthread_mutex_lock(&p->lock);
	/* Nothing watches it: nothing to do (an operation parked after this tries itself). */
	if (p->stopping || !watchers_find(p, key, h)) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	if (p->n_later == p->cap_later) {
		p->cap_later = p->cap_later ? p->cap_later * 2 : 8;
		p->later = xrealloc(p->later, sizeof *p->later * p->cap_later);
	}
	p->later[p->n_later++] = (struct later_check){ key->kind, key->partition, key->name_len,
						       xstrndup(key->name ? key->name : "", key->name_len) };
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

int purgatory_size(struct purgatory *p)
{
	pthread_mutex_lock(&p->lock);
	int n = p->size;
	pthread_mutex_unlock(&p->lock);
	return n;
}

int purgatory_size_of(struct purgatory *p, delayed_try_fn try_fn)
{
	int n = 0;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_heap; i++)
		if (p->heap[i]->try_fn == try_fn)
			n++;
	pthread_mutex_unlock(&p->lock);
	return n;
}

int purgatory_watched_keys(struct purgatory *p)
{
	pthread_mutex_lock(&p->lock);
	int n = (int)p->n_keys;
	pthread_mutex_unlock(&p->lock);
	return n;
}
