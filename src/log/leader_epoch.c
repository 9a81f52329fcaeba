/* Leader-epoch cache (leader_epoch.h). */
#include "log/leader_epoch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

static int save(struct leader_epoch_cache *c)
{
	if (!c->path)
		return KERR_NONE;
	return checkpoint_write_epochs(c->path, c->e, c->n);
}

/* The in-memory half of assign: true when the entries changed. */
static bool put(struct leader_epoch_cache *c, int32_t epoch, int64_t start)
{
	if (c->n > 0) {
		const struct epoch_entry *last = &c->e[c->n - 1];
		if (last->epoch == epoch && start >= last->start_offset)
			return false;
	}
	size_t keep = c->n;
	while (keep > 0 && (c->e[keep - 1].epoch >= epoch || c->e[keep - 1].start_offset >= start))
		keep--;
	if (c->n - keep > 1 || (c->n - keep == 1 && c->e[keep].start_offset != start))
		log_warn("leader epoch cache %s: new entry (%" PRId32 ", %" PRId64
		    ") replaces %zu conflicting entries", c->path ? c->path : "(memory)", epoch, start,
		    c->n - keep);
	c->n = keep;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->e = xrealloc(c->e, c->cap * sizeof *c->e);
	}
	c->e[c->n].epoch = epoch;
	c->e[c->n].start_offset = start;
	c->n++;
	return true;
}

int leader_epoch_open(struct leader_epoch_cache *c, const char *dir)
{
	struct epoch_entry *e;
	size_t n;

	memset(c, 0, sizeof *c);
	if (!dir)
		return KERR_NONE;
	c->path = xasprintf("%s/%s", dir, CHECKPOINT_LEADER_EPOCH);
	int err = checkpoint_read_epochs(c->path, &e, &n);
	if (err == KERR_CORRUPT_MESSAGE)
		return KERR_NONE; /* recovery rebuilds it from the batches */
	if (err != KERR_NONE)
		return err;
	for (size_t i = 0; i < n; i++)
		if (e[i].epoch >= 0 && e[i].start_offset >= 0)
			put(c, e[i].epoch, e[i].start_offset);
	free(e);
	return KERR_NONE;
}

void leader_epoch_close(struct leader_epoch_cache *c)
{
	free(c->path);
	free(c->e);
	memset(c, 0, sizeof *c);
}

int leader_epoch_assign(struct leader_epoch_cache *c, int32_t epoch, int64_t start_offset)
{
	if (epoch < 0 || start_offset < 0)
		return KERR_INVALID_REQUEST;
	if (!put(c, epoch, start_offset))
		return KERR_NONE;
	return save(c);
}

int32_t leader_epoch_latest(const struct leader_epoch_cache *c)
{
	return c->n ? c->e[c->n - 1].epoch : LEADER_EPOCH_UNDEFINED;
}

int32_t leader_epoch_for_offset(const struct leader_epoch_cache *c, int64_t offset)
{
	int32_t epoch = LEADER_EPOCH_UNDEFINED;
	for (size_t i = 0; i < c->n && c->e[i].start_offset <= offset; i++)
		epoch = c->e[i].epoch;
	return epoch;
}

int64_t leader_epoch_start_offset(const struct leader_epoch_cache *c, int32_t epoch)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].epoch == epoch)
			return c->e[i].start_offset;
	return -1;
}

void leader_epoch_end_offset_for(const struct leader_epoch_cache *c, int32_t requested,
    int64_t log_end_offset, int32_t *epoch, int64_t *end_offset)
{
	*epoch = LEADER_EPOCH_UNDEFINED;
	*end_offset = LEADER_EPOCH_UNDEFINED_OFFSET;
	if (requested == LEADER_EPOCH_UNDEFINED || c->n == 0)
		return;
	if (requested == leader_epoch_latest(c)) {
		*epoch = requested;
		*end_offset = log_end_offset;
		return;
	}
	/* First entry with a higher epoch, and the one before it. */
	size_t hi = 0;
	while (hi < c->n && c->e[hi].epoch <= requested)
		hi++;
	if (hi == c->n)
		return; /* above every known epoch */
	*end_offset = c->e[hi].start_offset;
	*epoch = hi == 0 ? requested : c->e[hi - 1].epoch;
}

int leader_epoch_truncate_from_end(struct leader_epoch_cache *c, int64_t end_offset)
{
	size_t keep = c->n;
	while (keep > 0 && c->e[keep - 1].start_offset >= end_offset)
		keep--;
	if (keep == c->n)
		return KERR_NONE;
	c->n = keep;
	return save(c);
}

int leader_epoch_truncate_from_start(struct leader_epoch_cache *c, int64_t start_offset)
{
	/* Entries starting at or below start_offset; the last of them survives,
	 * moved up to start_offset (Kafka's truncateFromStart: an entry that
	 * starts exactly there must win over the epochs before it). */
	size_t below = 0;
	while (below < c->n && c->e[below].start_offset <= start_offset)
		below++;
	if (below == 0)
		return KERR_NONE;
	size_t drop = below - 1;
	memmove(c->e, c->e + drop, (c->n - drop) * sizeof *c->e);
	c->n -= drop;
	c->e[0].start_offset = start_offset;
	return save(c);
}

int leader_epoch_clear(struct leader_epoch_cache *c)
{
	if (c->n == 0)
		return KERR_NONE;
	c->n = 0;
	return save(c);
}
