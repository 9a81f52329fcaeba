/*
 * Fault injection for tests: points in the broker where a test can make it
 * wait, to show what goes on elsewhere meanwhile.  Off unless the broker was
 * started with the variable set; a point that is off costs one load.
 *
 *   SAMSA_FAULT_STALL_APPEND=<topic>-<partition>:<gate file>
 *     appends to that partition's log wait just before their write while
 *     the gate file exists (checked every 10 ms).
 *
 *   SAMSA_FAULT_CRASH_AT=<point>
 *     the process kills itself with SIGKILL (as kill -9 would) the first
 *     time it reaches the named crash point.  The log cleaner's points are
 *     cleaner-cleaned (the .cleaned segment written and flushed),
 *     cleaner-swap (renamed to .swap), cleaner-deleted (the old segments
 *     renamed to .deleted) and cleaner-swapped (the new segment under its
 *     own name, before the cleaner checkpoint).
 */
#ifndef SAMSA_UTIL_FAULT_H
#define SAMSA_UTIL_FAULT_H

/* Wait here while the append stall for the log directory log_dir is on. */
void fault_append_stall(const char *log_dir);

/* Die here by SIGKILL if SAMSA_FAULT_CRASH_AT names this point. */
void fault_crash_point(const char *point);

#endif
