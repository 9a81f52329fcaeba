/* Immutable, refcounted metadata snapshots swapped under a short lock (see metadata_cache.h). */
#include "samsa/metadata.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/tp_index.h"
#include "samsa/util/xalloc.h"

struct metadata_cache {
	pthread_mutex_t lock; /* guards `current` only for the pointer swap and refcount bump */
	struct metadata_snapshot *current;
};

struct metadata_snapshot *metadata_snapshot_new(void)
{
	struct metadata_snapshot *s = xcalloc(1, sizeof *s);
	s->refcount = 1;
	s->controller_id = -1;
	s->controller_epoch = -1;
	return s;
}

static void free_partition(struct mc_partition *p)
{
	free(p->replicas);
	free(p->isr);
	free(p->offline);
}

static void free_topic(struct mc_topic *t)
{
	for (int i = 0; i < t->n_partitions; i++)
		free_partition(&t->partitions[i]);
	free(t->partitions);
	free(t->name);
}

static void snapshot_free(struct metadata_snapshot *s)
{
	for (int i = 0; i < s->n_brokers; i++) {
		struct mc_broker *b = &s->brokers[i];
		for (int j = 0; j < b->n_endpoints; j++) {
			free(b->endpoints[j].listener);
			free(b->endpoints[j].host);
		}
		free(b->endpoints);
		free(b->rack);
	}
	free(s->brokers);
	for (int i = 0; i < s->n_topics; i++)
		free_topic(&s->topics[i]);
	free(s->topics);
	free(s);
}

void metadata_snapshot_release(struct metadata_snapshot *s)
{
	if (s && __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		snapshot_free(s);
}

struct metadata_cache *metadata_cache_new(void)
{
	struct metadata_cache *mc = xcalloc(1, sizeof *mc);
	pthread_mutex_init(&mc->lock, NULL);
	mc->current = metadata_snapshot_new();
	return mc;
}

void metadata_cache_free(struct metadata_cache *mc)
{
	if (!mc)
		return;
	metadata_snapshot_release(mc->current);
	pthread_mutex_destroy(&mc->lock);
	free(mc);
}

struct metadata_snapshot *metadata_cache_acquire(struct metadata_cache *mc)
{
	pthread_mutex_lock(&mc->lock);
	struct metadata_snapshot *s = mc->current;
	__atomic_add_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&mc->lock);
	return s;
}

void metadata_cache_install(struct metadata_cache *mc, struct metadata_snapshot *s)
{
	metadata_snapshot_seal(s);
	pthread_mutex_lock(&mc->lock);
	struct metadata_snapshot *old = mc->current;
	mc->current = s;
	pthread_mutex_unlock(&mc->lock);
	metadata_snapshot_release(old);
}

static int32_t *dup_i32(const int32_t *a, int n)
{
	if (n <= 0)
		return NULL;
	int32_t *p = xmalloc(sizeof *p * (size_t)n);
	memcpy(p, a, sizeof *p * (size_t)n);
	return p;
}

void metadata_snapshot_copy_topics(struct metadata_snapshot *to, const struct metadata_snapshot *from)
{
	for (int i = 0; i < from->n_topics; i++) {
		const struct mc_topic *src = &from->topics[i];
		struct mc_topic *t = metadata_snapshot_topic(to, src->name, strlen(src->name), true);
		memcpy(t->id, src->id, 16);
		for (int j = 0; j < src->n_partitions; j++) {
			const struct mc_partition *sp = &src->partitions[j];
			struct mc_partition *p = mc_topic_partition(t, sp->index, true);
			int32_t index = p->index;
			*p = *sp;
			p->index = index;
			p->replicas = dup_i32(sp->replicas, sp->n_replicas);
			p->isr = dup_i32(sp->isr, sp->n_isr);
			p->offline = dup_i32(sp->offline, sp->n_offline);
		}
	}
}

struct mc_broker *metadata_snapshot_add_broker(struct metadata_snapshot *s, int32_t id, const char *rack)
{
	s->brokers = xrealloc(s->brokers, sizeof *s->brokers * (size_t)(s->n_brokers + 1));
	struct mc_broker *b = &s->brokers[s->n_brokers++];
	memset(b, 0, sizeof *b);
	b->id = id;
	b->rack = rack ? xstrdup(rack) : NULL;
	return b;
}

void mc_broker_add_endpoint(struct mc_broker *b, const char *listener, const char *host, int32_t port,
			    int16_t security_protocol)
{
	b->endpoints = xrealloc(b->endpoints, sizeof *b->endpoints * (size_t)(b->n_endpoints + 1));
	struct mc_endpoint *e = &b->endpoints[b->n_endpoints++];
	e->listener = xstrdup(listener);
	e->host = xstrdup(host ? host : "");
	e->port = port;
	e->security_protocol = security_protocol;
}

static struct tp_key topic_key(const void *slot)
{
	const struct mc_topic *t = slot;
	return tp_key(t->name, strlen(t->name), 0);
}

/* Topics are kept sorted at all times so lookups during building are binary searches too. */
static int topic_search(const struct metadata_snapshot *s, const char *name, size_t len, bool *found)
{
	return tp_index_search(s->topics, s->n_topics, sizeof *s->topics, topic_key, tp_key(name, len, 0), found);
}

struct mc_topic *metadata_snapshot_topic(struct metadata_snapshot *s, const char *name, size_t name_len,
					 bool create)
{
	bool found;
	int at = topic_search(s, name, name_len, &found);
	if (found)
		return &s->topics[at];
	if (!create)
		return NULL;
	s->topics = xrealloc(s->topics, sizeof *s->topics * (size_t)(s->n_topics + 1));
	struct mc_topic *t = tp_index_insert_at(s->topics, s->n_topics++, sizeof *s->topics, at);
	memset(t, 0, sizeof *t);
	t->name = xstrndup(name, name_len);
	return t;
}

void metadata_snapshot_remove_topic(struct metadata_snapshot *s, const char *name, size_t name_len)
{
	bool found;
	int at = topic_search(s, name, name_len, &found);
	if (!found)
		return;
	free_topic(&s->topics[at]);
	tp_index_remove_at(s->topics, s->n_topics--, sizeof *s->topics, at);
}

static struct tp_key partition_key(const void *slot)
{
	return tp_key(NULL, 0, ((const struct mc_partition *)slot)->index);
}

/* A topic's partitions, by index. */
static int partition_search(const struct mc_topic *t, int32_t index, bool *found)
{
	return tp_index_search(t->partitions, t->n_partitions, sizeof *t->partitions, partition_key,
			       tp_key(NULL, 0, index), found);
}

struct mc_partition *mc_topic_partition(struct mc_topic *t, int32_t index, bool create)
{
	bool found;
	int at = partition_search(t, index, &found);
	if (found)
		return &t->partitions[at];
	if (!create)
		return NULL;
	t->partitions = xrealloc(t->partitions, sizeof *t->partitions * (size_t)(t->n_partitions + 1));
	struct mc_partition *p = tp_index_insert_at(t->partitions, t->n_partitions++, sizeof *t->partitions, at);
	memset(p, 0, sizeof *p);
	p->index = index;
	p->leader = -1;
	return p;
}

void mc_topic_remove_partition(struct mc_topic *t, int32_t index)
{
	bool found;
	int at = partition_search(t, index, &found);
	if (!found)
		return;
	free_partition(&t->partitions[at]);
	tp_index_remove_at(t->partitions, t->n_partitions--, sizeof *t->partitions, at);
}

static int broker_cmp(const void *a, const void *b)
{
	int32_t x = ((const struct mc_broker *)a)->id, y = ((const struct mc_broker *)b)->id;
	return x < y ? -1 : x > y;
}

void metadata_snapshot_seal(struct metadata_snapshot *s)
{
	if (s->n_brokers > 1)
		qsort(s->brokers, (size_t)s->n_brokers, sizeof *s->brokers, broker_cmp);
}

const struct mc_broker *metadata_snapshot_broker(const struct metadata_snapshot *s, int32_t id)
{
	int lo = 0, hi = s->n_brokers;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (s->brokers[mid].id == id)
			return &s->brokers[mid];
		if (id < s->brokers[mid].id)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct mc_topic *metadata_snapshot_find_topic(const struct metadata_snapshot *s, const char *name,
						    size_t name_len)
{
	return metadata_snapshot_topic((struct metadata_snapshot *)s, name, name_len, false);
}

bool metadata_snapshot_has_partition(const struct metadata_snapshot *s, struct kstr topic, int32_t partition)
{
	if (!topic.ptr || topic.len < 0)
		return false;
	const struct mc_topic *t = metadata_snapshot_find_topic(s, topic.ptr, (size_t)topic.len);
	return t && mc_topic_partition((struct mc_topic *)t, partition, false) != NULL;
}

const struct mc_endpoint *mc_broker_endpoint(const struct mc_broker *b, const char *listener)
{
	for (int i = 0; i < b->n_endpoints; i++)
		if (strcmp(b->endpoints[i].listener, listener) == 0)
			return &b->endpoints[i];
	return NULL;
}
