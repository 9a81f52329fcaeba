/* Test stall points (see fault.h). */
#include "samsa/util/fault.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *stall_dir;  /* "<topic>-<partition>", NULL when off */
static char *stall_gate; /* the gate file */

static void parse_env(void)
{
	const char *v = getenv("SAMSA_FAULT_STALL_APPEND");
	const char *colon = v ? strchr(v, ':') : NULL;
	if (!colon || colon == v || !colon[1])
		return;
	stall_dir = xstrndup(v, (size_t)(colon - v));
	stall_gate = xstrdup(colon + 1);
	log_warn("Fault injection on: appends to %s wait while %s exists", stall_dir, stall_gate);
}

static bool dir_matches(const char *log_dir)
{
	size_t n = strlen(log_dir), m = strlen(stall_dir);
	return n > m && log_dir[n - m - 1] == '/' && strcmp(log_dir + n - m, stall_dir) == 0;
}

void fault_append_stall(const char *log_dir)
{
	pthread_once(&once, parse_env);
	if (!stall_dir || !dir_matches(log_dir) || access(stall_gate, F_OK) != 0)
		return;
	log_warn("Fault injection: an append to %s is stalled until %s is removed", stall_dir, stall_gate);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	while (access(stall_gate, F_OK) == 0)
		nanosleep(&ts, NULL);
	log_warn("Fault injection: the append to %s goes on", stall_dir);
}

static pthread_once_t crash_once = PTHREAD_ONCE_INIT;
static const char *crash_at; /* NULL when off */

static void crash_init(void)
{
	const char *v = getenv("SAMSA_FAULT_CRASH_AT");
	if (v && *v) {
		crash_at = v;
		log_warn("Fault injection on: the broker kills itself at %s", v);
	}
}

void fault_crash_point(const char *point)
{
	pthread_once(&crash_once, crash_init);
	if (!crash_at || strcmp(crash_at, point) != 0)
		return;
	log_warn("Fault injection: killed at %s", point);
	raise(SIGKILL);
}
