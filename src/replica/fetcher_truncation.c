/* The follower's truncation and fetch decisions (see fetcher_truncation.h). */
#include "replica/fetcher_truncation.h"

#include "samsa/proto.h"

static struct fetcher_decision act(enum fetcher_action a, int64_t offset)
{
	return (struct fetcher_decision){ a, offset };
}

/* Log.truncateTo: a target at or past the log end cuts nothing. */
static struct fetcher_decision truncate_to(int64_t log_end_offset, int64_t target)
{
	if (target < 0 || target >= log_end_offset)
		return act(FETCHER_FETCH_AGAIN, -1);
	return act(FETCHER_TRUNCATE, target);
}

struct fetcher_decision fetcher_out_of_range(int64_t log_end_offset, int64_t leader_log_start,
					     int64_t leader_high_watermark)
{
	if (leader_log_start >= 0 && log_end_offset < leader_log_start)
		return act(FETCHER_TRUNCATE_FULLY, leader_log_start);
	/*
	 * Ahead of the leader: an unclean election made a replica with less
	 * data the leader.  Kafka cuts to the leader's log end (asked with
	 * ListOffsets); the Fetch answer carries only its high watermark, which
	 * is never past it, so cutting there loses nothing the leader has.
	 */
	if (leader_high_watermark >= 0 && log_end_offset > leader_high_watermark)
		return act(FETCHER_TRUNCATE, leader_high_watermark);
	return act(FETCHER_BACK_OFF, -1);
}

struct fetcher_decision fetcher_diverged(int64_t log_end_offset, int32_t leader_epoch, int64_t leader_end_offset)
{
	(void)leader_epoch;
	return truncate_to(log_end_offset, leader_end_offset);
}

struct fetcher_decision fetcher_decide(const struct fetcher_answer *ans, const struct fetcher_local *loc)
{
	switch (ans->error) {
	case KERR_NONE:
		break;
	case KERR_OFFSET_OUT_OF_RANGE:
		return fetcher_out_of_range(loc->log_end_offset, ans->log_start_offset, ans->high_watermark);
	default:
		/* Not leader (yet), fenced or unknown epochs, unknown partition: wait for LeaderAndIsr to say more. */
		return act(FETCHER_BACK_OFF, -1);
	}
	if (ans->diverging_end_offset >= 0)
		return fetcher_diverged(loc->log_end_offset, ans->diverging_epoch, ans->diverging_end_offset);
	/* The log moved while the fetch was out (a truncation): what came is for another position. */
	if (loc->log_end_offset != loc->fetched_from)
		return act(FETCHER_FETCH_AGAIN, -1);
	return act(FETCHER_APPEND, -1);
}

int64_t fetcher_high_watermark(int64_t leader_high_watermark, int64_t log_end_offset, int64_t high_watermark)
{
	int64_t hw = leader_high_watermark < log_end_offset ? leader_high_watermark : log_end_offset;
	return hw > high_watermark ? hw : -1;
}

int64_t fetcher_log_start(int64_t leader_log_start, int64_t log_start_offset, int64_t high_watermark)
{
	if (leader_log_start > log_start_offset && leader_log_start <= high_watermark)
		return leader_log_start;
	return -1;
}
