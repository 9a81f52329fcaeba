/*
 * Rack-unaware replica assignment as Kafka does it: the first replica of
 * partition p goes to broker (p + start) mod n; the others follow at a shift
 * that grows by one every n partitions, so that followers of consecutive
 * partitions land on different brokers.
 */
#include "server/replica_assignment.h"

#include <stdlib.h>
#include <sys/random.h>

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
