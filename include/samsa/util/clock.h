/* The wall clock in milliseconds: what Kafka's timestamps, deadlines and timeouts count in. */
#ifndef SAMSA_UTIL_CLOCK_H
#define SAMSA_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t wall_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
