/*
 * Fault injection for tests: points in the broker where a test can make it
 * wait, to show what goes on elsewhere meanwhile.  Off unless the broker was
 * started with the variable set; a point that is off costs one load.
 *
 *   SAMSA_FAULT_STALL_APPEND=<topic>-<partition>:<gate file>
 *     appends to that partition's log wait just before their write while
 *     the gate file exists (checked every 10 ms).
 */
#ifndef SAMSA_UTIL_FAULT_H
#define SAMSA_UTIL_FAULT_H

/* Wait here while the append stall for the log directory log_dir is on. */
void fault_append_stall(const char *log_dir);

#endif
