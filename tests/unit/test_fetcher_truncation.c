/*
 * The follower's decisions on a Fetch answer, branch by branch, with the
 * offsets expected: append, fetch again after the log moved, back off on
 * errors, OFFSET_OUT_OF_RANGE behind the leader's log start or ahead of its
 * high watermark, diverging epochs (KIP-320), and following the leader's
 * high watermark and log start.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "replica/fetcher_truncation.h"
#include "samsa/proto.h"

static struct fetcher_answer ok_answer(int64_t hw, int64_t log_start)
{
	return (struct fetcher_answer){ KERR_NONE, hw, log_start, -1, -1 };
}

static void expect(struct fetcher_decision d, enum fetcher_action action, int64_t offset)
{
	assert_int_equal(d.action, action);
	if (action == FETCHER_TRUNCATE || action == FETCHER_TRUNCATE_FULLY)
		assert_int_equal(d.offset, offset);
}

static void test_plain_answer_appends(void **state)
{
	(void)state;
	struct fetcher_answer a = ok_answer(100, 0);
	struct fetcher_local l = { .log_end_offset = 50, .fetched_from = 50 };
	expect(fetcher_decide(&a, &l), FETCHER_APPEND, -1);
}

/* The log was cut while the fetch was out: what came belongs elsewhere. */
static void test_log_moved_fetches_again(void **state)
{
	(void)state;
	struct fetcher_answer a = ok_answer(100, 0);
	struct fetcher_local l = { .log_end_offset = 40, .fetched_from = 50 };
	expect(fetcher_decide(&a, &l), FETCHER_FETCH_AGAIN, -1);
}

static void test_errors_back_off(void **state)
{
	(void)state;
	const int16_t errors[] = { KERR_NOT_LEADER_OR_FOLLOWER, KERR_FENCED_LEADER_EPOCH, KERR_UNKNOWN_LEADER_EPOCH,
				   KERR_UNKNOWN_TOPIC_OR_PARTITION, KERR_KAFKA_STORAGE_ERROR };
	for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
		struct fetcher_answer a = ok_answer(100, 0);
		a.error = errors[i];
		struct fetcher_local l = { .log_end_offset = 50, .fetched_from = 50 };
		expect(fetcher_decide(&a, &l), FETCHER_BACK_OFF, -1);
	}
}

/* Behind the leader's log start (it deleted what we lack): empty the log and start at its log start. */
static void test_out_of_range_behind_log_start(void **state)
{
	(void)state;
	struct fetcher_answer a = { KERR_OFFSET_OUT_OF_RANGE, 900, 500, -1, -1 };
	struct fetcher_local l = { .log_end_offset = 120, .fetched_from = 120 };
	expect(fetcher_decide(&a, &l), FETCHER_TRUNCATE_FULLY, 500);
	expect(fetcher_out_of_range(0, 1, 1), FETCHER_TRUNCATE_FULLY, 1);
}

/* Ahead of the leader (unclean election): cut back to its high watermark. */
static void test_out_of_range_ahead_of_leader(void **state)
{
	(void)state;
	struct fetcher_answer a = { KERR_OFFSET_OUT_OF_RANGE, 80, 0, -1, -1 };
	struct fetcher_local l = { .log_end_offset = 120, .fetched_from = 120 };
	expect(fetcher_decide(&a, &l), FETCHER_TRUNCATE, 80);
	expect(fetcher_out_of_range(81, 0, 80), FETCHER_TRUNCATE, 80);
}

/* Inside the leader's range after all (it moved meanwhile), or the leader said nothing: try again later. */
static void test_out_of_range_otherwise_backs_off(void **state)
{
	(void)state;
	expect(fetcher_out_of_range(80, 0, 80), FETCHER_BACK_OFF, -1);
	expect(fetcher_out_of_range(50, 10, 80), FETCHER_BACK_OFF, -1);
	expect(fetcher_out_of_range(50, -1, -1), FETCHER_BACK_OFF, -1);
	/* Exactly at the leader's log start is not behind it. */
	expect(fetcher_out_of_range(10, 10, 5), FETCHER_TRUNCATE, 5);
}

/* The leader's epoch end is below our log end: cut there, and do not append. */
static void test_diverging_epoch_truncates(void **state)
{
	(void)state;
	struct fetcher_answer a = { KERR_NONE, 200, 0, 3, 70 };
	struct fetcher_local l = { .log_end_offset = 100, .fetched_from = 100 };
	expect(fetcher_decide(&a, &l), FETCHER_TRUNCATE, 70);
	/* Even when our log moved meanwhile, the divergence decides. */
	l.fetched_from = 90;
	expect(fetcher_decide(&a, &l), FETCHER_TRUNCATE, 70);
}

/* A diverging end at or past our log end cuts nothing (Log.truncateTo); fetch again. */
static void test_diverging_epoch_past_log_end(void **state)
{
	(void)state;
	struct fetcher_answer a = { KERR_NONE, 200, 0, 3, 100 };
	struct fetcher_local l = { .log_end_offset = 100, .fetched_from = 100 };
	expect(fetcher_decide(&a, &l), FETCHER_FETCH_AGAIN, -1);
	a.diverging_end_offset = 150;
	expect(fetcher_decide(&a, &l), FETCHER_FETCH_AGAIN, -1);
}

/* The high watermark follows the leader's, never past our own log end, never backwards. */
static void test_high_watermark(void **state)
{
	(void)state;
	assert_int_equal(fetcher_high_watermark(80, 100, 50), 80);
	assert_int_equal(fetcher_high_watermark(150, 100, 50), 100);
	assert_int_equal(fetcher_high_watermark(40, 100, 50), -1);
	assert_int_equal(fetcher_high_watermark(50, 100, 50), -1);
	assert_int_equal(fetcher_high_watermark(-1, 100, 0), -1);
}

/* The log start follows the leader's up to our high watermark, never backwards. */
static void test_log_start(void **state)
{
	(void)state;
	assert_int_equal(fetcher_log_start(30, 10, 50), 30);
	assert_int_equal(fetcher_log_start(50, 10, 50), 50);
	assert_int_equal(fetcher_log_start(51, 10, 50), -1);
	assert_int_equal(fetcher_log_start(10, 10, 50), -1);
	assert_int_equal(fetcher_log_start(5, 10, 50), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_answer_appends),
		cmocka_unit_test(test_log_moved_fetches_again),
		cmocka_unit_test(test_errors_back_off),
		cmocka_unit_test(test_out_of_range_behind_log_start),
		cmocka_unit_test(test_out_of_range_ahead_of_leader),
		cmocka_unit_test(test_out_of_range_otherwise_backs_off),
		cmocka_unit_test(test_diverging_epoch_truncates),
		cmocka_unit_test(test_diverging_epoch_past_log_end),
		cmocka_unit_test(test_high_watermark),
		cmocka_unit_test(test_log_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
