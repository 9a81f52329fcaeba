/* A coordinator's view of its internal topic's partitions (see the header). */
#include <stdlib.h>
#include <string.h>

#include "samsa/util/coordinator_partitions.h"
#include "samsa/util/xalloc.h"

int32_t java_string_hash(const char *s, size_t len)
{
	uint32_t h = 0;
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		uint32_t cp;
		int n;
		if (*p < 0x80) {
			cp = *p;
			n = 1;
		} else if ((*p & 0xE0) == 0xC0 && end - p >= 2) {
			cp = (uint32_t)(*p & 0x1F) << 6 | (p[1] & 0x3F);
			n = 2;
		} else if ((*p & 0xF0) == 0xE0 && end - p >= 3) {
			cp = (uint32_t)(*p & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
			n = 3;
		} else if ((*p & 0xF8) == 0xF0 && end - p >= 4) {
			cp = (uint32_t)(*p & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 |
			     (p[3] & 0x3F);
			n = 4;
		} else {
			cp = 0xFFFD; /* what Java's decoder makes of a bad byte */
			n = 1;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			h = 31 * h + (0xD800 + (cp >> 10));
			h = 31 * h + (0xDC00 + (cp & 0x3FF));
		} else {
			h = 31 * h + cp;
		}
		p += n;
	}
	return (int32_t)h;
}

void coord_partitions_init(struct coord_partitions *cp, int32_t n)
{
	memset(cp, 0, sizeof *cp);
	cp->n_partitions = n;
	coord_partitions_grow(cp, n);
}

void coord_partitions_free(struct coord_partitions *cp)
{
	free(cp->parts);
	free(cp->jobs);
	cp->parts = NULL;
	cp->jobs = NULL;
	cp->n_parts = 0;
	cp->n_jobs = cp->cap_jobs = 0;
}

void coord_partitions_grow(struct coord_partitions *cp, int32_t n)
{
	if (n <= cp->n_parts)
		return;
	cp->parts = xrealloc(cp->parts, sizeof *cp->parts * (size_t)n);
	for (int32_t i = cp->n_parts; i < n; i++)
		cp->parts[i] = (struct coord_part){ PART_NOT_OWNED, -1 };
	cp->n_parts = n;
}

int32_t coord_partitions_for(const struct coord_partitions *cp, const char *key, size_t len)
{
	uint32_t n = (uint32_t)__atomic_load_n(&cp->n_partitions, __ATOMIC_ACQUIRE);
	/* Kafka's Utils.abs is n & 0x7fffffff. */
	return (int32_t)(((uint32_t)java_string_hash(key, len) & 0x7fffffffu) % n);
}

const struct coord_part *coord_partitions_owner(const struct coord_partitions *cp, const char *key, size_t len,
						int32_t *partition)
{
	/* Until the real partition count is known a key could be mapped wrongly. */
	if (!__atomic_load_n(&cp->known, __ATOMIC_ACQUIRE))
		return NULL;
	int32_t p = coord_partitions_for(cp, key, len);
	if (p >= cp->n_parts)
		return NULL;
	if (partition)
		*partition = p;
	return &cp->parts[p];
}

bool coord_partitions_owned(const struct coord_partitions *cp, int32_t partition)
{
	return partition >= 0 && partition < cp->n_parts && cp->parts[partition].state == PART_OWNED;
}

void coord_partitions_push_job(struct coord_partitions *cp, struct coord_load_job job)
{
	if (cp->n_jobs == cp->cap_jobs) {
		cp->cap_jobs = cp->cap_jobs ? cp->cap_jobs * 2 : 8;
		cp->jobs = xrealloc(cp->jobs, sizeof *cp->jobs * (size_t)cp->cap_jobs);
	}
	cp->jobs[cp->n_jobs++] = job;
}

bool coord_partitions_pop_job(struct coord_partitions *cp, struct coord_load_job *job)
{
	if (cp->n_jobs == 0)
		return false;
	*job = cp->jobs[0];
	memmove(&cp->jobs[0], &cp->jobs[1], sizeof *cp->jobs * (size_t)(cp->n_jobs - 1));
	cp->n_jobs--;
	return true;
}

bool coord_partitions_on_leadership(struct coord_partitions *cp, int32_t partition, bool leader,
				    int32_t leader_epoch)
{
	/* The topic may have more partitions than the configured count says. */
	coord_partitions_grow(cp, partition + 1);
	struct coord_part *p = &cp->parts[partition];
	if (leader) {
		if (p->state != PART_NOT_OWNED && p->leader_epoch == leader_epoch)
			return false;
		p->state = PART_LOADING;
		p->leader_epoch = leader_epoch;
	} else if (p->state == PART_NOT_OWNED) {
		return false;
	} else {
		/* Stop answering for its keys at once; the coordinator's thread drops them. */
		p->state = PART_NOT_OWNED;
	}
	coord_partitions_push_job(cp, (struct coord_load_job){ partition, leader_epoch, leader });
	return true;
}

bool coord_partitions_count_is(const struct coord_partitions *cp, int32_t n)
{
	return __atomic_load_n(&cp->known, __ATOMIC_ACQUIRE) && __atomic_load_n(&cp->n_partitions, __ATOMIC_ACQUIRE) == n;
}

enum coord_count_change coord_partitions_set_count(struct coord_partitions *cp, int32_t n)
{
	if (!cp->known) {
		coord_partitions_grow(cp, n);
		__atomic_store_n(&cp->n_partitions, n, __ATOMIC_RELEASE);
		__atomic_store_n(&cp->known, true, __ATOMIC_RELEASE);
		return COORD_COUNT_FIRST;
	}
	if (n == cp->n_partitions || cp->count_change_logged)
		return COORD_COUNT_SAME;
	cp->count_change_logged = true;
	return COORD_COUNT_CHANGED;
}
