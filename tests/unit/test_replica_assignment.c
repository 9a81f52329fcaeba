/*
 * Replica placement against the layouts Kafka's own AdminUtils produces for
 * the same inputs (fixed start index, so nothing is random).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/replica_assignment.h"

#define MAXP 16

static int32_t cells[MAXP][8];
static int32_t *rows[MAXP];

static int32_t **fresh(void)
{
	memset(cells, 0, sizeof cells);
	for (int i = 0; i < MAXP; i++)
		rows[i] = cells[i];
	return rows;
}

static void expect_rows(int32_t **out, const int32_t want[][3], int n, int rf)
{
	for (int p = 0; p < n; p++)
		for (int j = 0; j < rf; j++) {
			if (out[p][j] != want[p][j])
				fail_msg("partition %d replica %d: got %d, want %d", p, j, out[p][j], want[p][j]);
		}
}

/* Brokers 0..4, 10 partitions, rf 3, start index 0. */
static void rack_unaware_layout(void **state)
{
	(void)state;
	static const int32_t ids[] = { 0, 1, 2, 3, 4 };
	static const int32_t want[10][3] = {
		{ 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 4 }, { 3, 4, 0 }, { 4, 0, 1 },
		{ 0, 2, 3 }, { 1, 3, 4 }, { 2, 4, 0 }, { 3, 0, 1 }, { 4, 1, 2 },
	};
	int32_t **out = fresh();
	assert_int_equal(replica_assignment_rack_unaware(ids, 5, 10, 3, 0, 0, 0, out), 0);
	expect_rows(out, want, 10, 3);
}

/* Six brokers over three racks; the rack-alternated order is 0,3,1,5,4,2. */
static const struct assignment_broker six[] = {
	{ 0, "rack1" }, { 1, "rack3" }, { 2, "rack3" }, { 3, "rack2" }, { 4, "rack2" }, { 5, "rack1" },
};

static void rack_aware_layout(void **state)
{
	(void)state;
	static const int32_t want[7][3] = {
		{ 0, 3, 1 }, { 3, 1, 5 }, { 1, 5, 4 }, { 5, 4, 2 }, { 4, 2, 0 }, { 2, 0, 3 }, { 0, 4, 2 },
	};
	int32_t **out = fresh();
	assert_int_equal(replica_assignment_rack_aware(six, 6, 7, 3, 0, 0, 0, out), 0);
	expect_rows(out, want, 7, 3);
}

/* Every partition spans min(rf, racks) racks and never repeats a broker. */
static void rack_aware_spreads(void **state)
{
	(void)state;
	for (int rf = 1; rf <= 6; rf++) {
		int32_t **out = fresh();
		assert_int_equal(replica_assignment(six, 6, 12, rf, 0, -1, -1, out), ASSIGN_OK);
		for (int p = 0; p < 12; p++) {
			char racks[4] = { 0 };
			int n_racks = 0;
			for (int j = 0; j < rf; j++) {
				for (int k = 0; k < j; k++)
					assert_int_not_equal(out[p][j], out[p][k]);
				const char *rack = six[out[p][j]].rack;
				char r = rack[4];
				if (!strchr(racks, r))
					racks[n_racks++] = r;
			}
			assert_int_equal(n_racks, rf < 3 ? rf : 3);
		}
	}
}

static void mixed_racks_refused(void **state)
{
	(void)state;
	const struct assignment_broker mixed[] = { { 1, "a" }, { 2, NULL }, { 3, "b" } };
	const struct assignment_broker none[] = { { 1, NULL }, { 2, NULL }, { 3, NULL } };
	assert_int_equal(replica_assignment(mixed, 3, 3, 2, 0, -1, -1, fresh()), ASSIGN_MIXED_RACKS);
	assert_int_equal(replica_assignment(none, 3, 3, 2, 0, 0, 0, fresh()), ASSIGN_OK);
	assert_int_equal(replica_assignment(none, 3, 3, 4, 0, 0, 0, fresh()), ASSIGN_TOO_FEW_BROKERS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rack_unaware_layout),
		cmocka_unit_test(rack_aware_layout),
		cmocka_unit_test(rack_aware_spreads),
		cmocka_unit_test(mixed_racks_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
