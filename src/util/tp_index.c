/* The (topic, partition) order and its binary search (see tp_index.h). */
#include "samsa/util/tp_index.h"

#include <string.h>

int tp_key_cmp(struct tp_key a, struct tp_key b)
{
	size_t n = a.topic_len < b.topic_len ? a.topic_len : b.topic_len;
	int c = n ? memcmp(a.topic, b.topic, n) : 0;
	if (c)
		return c;
	if (a.topic_len != b.topic_len)
		return a.topic_len < b.topic_len ? -1 : 1;
	return a.partition < b.partition ? -1 : a.partition > b.partition;
}

int tp_index_search(const void *base, int n, size_t size, tp_key_of_fn key_of, struct tp_key key, bool *found)
{
	const char *p = base;
	int lo = 0, hi = n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = tp_key_cmp(key, key_of(p + (size_t)mid * size));
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

void *tp_index_insert_at(void *base, int n, size_t size, int at)
{
	char *p = (char *)base + (size_t)at * size;
	memmove(p + size, p, (size_t)(n - at) * size);
	return p;
}

void tp_index_remove_at(void *base, int n, size_t size, int at)
{
	char *p = (char *)base + (size_t)at * size;
	memmove(p, p + size, (size_t)(n - at - 1) * size);
}
