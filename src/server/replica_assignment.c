/*
 * Replica assignment as Kafka does it.  Rack-unaware: the first replica of
 * partition p goes to broker (p + start) mod n; the others follow at a shift
 * that grows by one every n partitions, so that followers of consecutive
 * partitions land on different brokers.  Rack-aware: the same walk over a
 * broker list that alternates racks, skipping brokers whose rack already
 * holds a replica while some rack does not.
 */
#include "server/replica_assignment.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "samsa/util/xalloc.h"

static int random_below(int n)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)rand();
	return (int)(r % (uint32_t)n);
}

static int follower_index(int first, int shift, int j, int n)
{
	int s = 1 + (shift + j) % (n - 1);
	return (first + s) % n;
}

int replica_assignment_rack_unaware(const int32_t *brokers, int n_brokers, int n_partitions, int rf,
				    int first_partition, int start_index, int shift, int32_t **out)
{
	if (rf <= 0 || rf > n_brokers)
		return -1;
	int start = start_index >= 0 ? start_index : random_below(n_brokers);
	int next_shift = shift >= 0 ? shift : random_below(n_brokers);
	int p = first_partition > 0 ? first_partition : 0;
	for (int i = 0; i < n_partitions; i++, p++) {
		if (p > 0 && p % n_brokers == 0)
			next_shift++;
		int first = (p + start) % n_brokers;
		out[i][0] = brokers[first];
		for (int j = 0; j < rf - 1; j++)
			out[i][j + 1] = brokers[follower_index(first, next_shift, j, n_brokers)];
	}
	return 0;
}

/* Brokers by rack name, then id: the order getRackAlternatedBrokerList walks. */
static int by_rack_then_id(const void *a, const void *b)
{
	const struct assignment_broker *x = a, *y = b;
	int c = strcmp(x->rack, y->rack);
	if (c)
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * One broker from each rack in turn (racks in name order), until all are
 * taken.  sorted is grouped by rack; out gets n ids.  Returns the rack count.
 */
static int rack_alternated(const struct assignment_broker *sorted, int n, int32_t *out, const char **out_rack)
{
	int *first = xcalloc((size_t)n, sizeof *first); /* start of each rack's group */
	int *next = xcalloc((size_t)n, sizeof *next);   /* next unused index in the group */
	int *end = xcalloc((size_t)n, sizeof *end);
	int racks = 0;
	for (int i = 0; i < n; i++) {
		if (i == 0 || strcmp(sorted[i].rack, sorted[i - 1].rack) != 0) {
			first[racks] = next[racks] = i;
			racks++;
		}
		end[racks - 1] = i + 1;
	}
	int taken = 0;
	for (int r = 0; taken < n; r = (r + 1) % racks) {
		if (next[r] < end[r]) {
			out[taken] = sorted[next[r]].id;
			out_rack[taken] = sorted[next[r]].rack;
			taken++;
			next[r]++;
		}
	}
	free(first);
	free(next);
	free(end);
	return racks;
}

static bool holds(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool rack_used(const char *const *racks, int n, const char *rack)
{
	for (int i = 0; i < n; i++)
		if (strcmp(racks[i], rack) == 0)
			return true;
	return false;
}

int replica_assignment_rack_aware(const struct assignment_broker *brokers, int n_brokers, int n_partitions, int rf,
				  int first_partition, int start_index, int shift, int32_t **out)
{
	if (rf <= 0 || rf > n_brokers)
		return -1;
	struct assignment_broker *sorted = xmalloc(sizeof *sorted * (size_t)n_brokers);
	memcpy(sorted, brokers, sizeof *sorted * (size_t)n_brokers);
	qsort(sorted, (size_t)n_brokers, sizeof *sorted, by_rack_then_id);
	int32_t *order = xmalloc(sizeof *order * (size_t)n_brokers);
	const char **order_rack = xmalloc(sizeof *order_rack * (size_t)n_brokers);
	int n_racks = rack_alternated(sorted, n_brokers, order, order_rack);
	const char **used_racks = xmalloc(sizeof *used_racks * (size_t)rf);

	int start = start_index >= 0 ? start_index : random_below(n_brokers);
	int next_shift = shift >= 0 ? shift : random_below(n_brokers);
	int p = first_partition > 0 ? first_partition : 0;
	for (int i = 0; i < n_partitions; i++, p++) {
		if (p > 0 && p % n_brokers == 0)
			next_shift++;
		int first = (p + start) % n_brokers;
		out[i][0] = order[first];
		used_racks[0] = order_rack[first];
		int n_used = 1, n_racks_used = 1;
		for (int k = 0; n_used < rf; k++) {
			int at = n_brokers > 1 ? follower_index(first, next_shift * n_racks, k, n_brokers) : first;
			int32_t id = order[at];
			const char *rack = order_rack[at];
			bool rack_ok = !rack_used(used_racks, n_racks_used, rack) || n_racks_used == n_racks;
			bool broker_ok = !holds(out[i], n_used, id) || n_used == n_brokers;
			if (rack_ok && broker_ok) {
				if (!rack_used(used_racks, n_racks_used, rack))
					used_racks[n_racks_used++] = rack;
				out[i][n_used++] = id;
			}
		}
	}
	free(used_racks);
	free(order_rack);
	free(order);
	free(sorted);
	return 0;
}

int replica_assignment(const struct assignment_broker *brokers, int n_brokers, int n_partitions, int rf,
		       int first_partition, int start_index, int shift, int32_t **out)
{
	int with_rack = 0;
	for (int i = 0; i < n_brokers; i++)
		if (brokers[i].rack)
			with_rack++;
	if (rf <= 0 || rf > n_brokers)
		return ASSIGN_TOO_FEW_BROKERS;
	if (with_rack == 0) {
		int32_t *ids = xmalloc(sizeof *ids * (size_t)n_brokers);
		for (int i = 0; i < n_brokers; i++)
			ids[i] = brokers[i].id;
		int rc = replica_assignment_rack_unaware(ids, n_brokers, n_partitions, rf, first_partition, start_index,
							 shift, out);
		free(ids);
		return rc == 0 ? ASSIGN_OK : ASSIGN_TOO_FEW_BROKERS;
	}
	if (with_rack != n_brokers)
		return ASSIGN_MIXED_RACKS;
	return replica_assignment_rack_aware(brokers, n_brokers, n_partitions, rf, first_partition, start_index, shift,
					     out) == 0
		       ? ASSIGN_OK
		       : ASSIGN_TOO_FEW_BROKERS;
}
