/* Replica manager fencing: controller epochs, leader epochs, topic ids, stop and delete. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "samsa/replica.h"
#include "samsa/proto.h"

static void test_epochs_fence(void **state)
{
	(void)state;
	struct replica_manager *rm = replica_manager_new(2);
	int32_t replicas[] = { 1, 2, 3 }, isr[] = { 1, 2 };
	struct partition_update u = { .index = 0, .controller_epoch = 3, .leader = 1, .leader_epoch = 5,
				      .partition_epoch = 9, .isr = isr, .n_isr = 2, .replicas = replicas, .n_replicas = 3 };
	uint8_t id[16] = { 1 }, other[16] = { 2 };

	assert_true(replica_manager_accept_controller_epoch(rm, 3));
	assert_false(replica_manager_accept_controller_epoch(rm, 2)); /* a deposed controller */
	assert_true(replica_manager_accept_controller_epoch(rm, 3));

	assert_int_equal(replica_manager_apply(rm, "t", 1, id, &u), KERR_NONE);
	struct partition_info info;
	assert_true(replica_manager_get(rm, "t", 1, 0, &info));
	assert_false(info.is_leader);
	assert_int_equal(info.leader_epoch, 5);

	u.leader_epoch = 4; /* older: refused, state unchanged */
	u.leader = 2;
	assert_int_equal(replica_manager_apply(rm, "t", 1, id, &u), KERR_STALE_CONTROLLER_EPOCH);
	assert_true(replica_manager_get(rm, "t", 1, 0, &info));
	assert_int_equal(info.leader, 1);

	u.leader_epoch = 6; /* newer: this broker leads now */
	assert_int_equal(replica_manager_apply(rm, "t", 1, id, &u), KERR_NONE);
	assert_true(replica_manager_get(rm, "t", 1, 0, &info));
	assert_true(info.is_leader);

	assert_int_equal(replica_manager_apply(rm, "t", 1, other, &u), KERR_INCONSISTENT_TOPIC_ID);

	int32_t elsewhere[] = { 1, 3 };
	u.replicas = elsewhere;
	u.n_replicas = 2;
	u.index = 1;
	assert_int_equal(replica_manager_apply(rm, "t", 1, id, &u), KERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_false(replica_manager_get(rm, "t", 1, 1, &info));

	assert_int_equal(replica_manager_stop(rm, "t", 1, 0, 5, false), KERR_FENCED_LEADER_EPOCH);
	assert_int_equal(replica_manager_count(rm), 1);
	assert_int_equal(replica_manager_stop(rm, "t", 1, 0, -2, true), KERR_NONE);
	assert_int_equal(replica_manager_count(rm), 0);
	assert_int_equal(replica_manager_stop(rm, "t", 1, 0, -2, true), KERR_NONE); /* idempotent */
	replica_manager_free(rm);
}

static void test_many_partitions_sorted_lookup(void **state)
{
	(void)state;
	struct replica_manager *rm = replica_manager_new(1);
	int32_t replicas[] = { 1 };
	const char *topics[] = { "b", "a", "c", "aa" };
	for (int t = 0; t < 4; t++) {
		for (int p = 99; p >= 0; p--) {
			struct partition_update u = { .index = p, .leader = 1, .leader_epoch = p, .replicas = replicas,
						      .n_replicas = 1, .isr = replicas, .n_isr = 1 };
			assert_int_equal(replica_manager_apply(rm, topics[t], strlen(topics[t]), NULL, &u), KERR_NONE);
		}
	}
	assert_int_equal(replica_manager_count(rm), 400);
	struct partition_info info;
	for (int t = 0; t < 4; t++)
		for (int p = 0; p < 100; p++) {
			assert_true(replica_manager_get(rm, topics[t], strlen(topics[t]), p, &info));
			assert_int_equal(info.leader_epoch, p);
		}
	assert_false(replica_manager_get(rm, "ab", 2, 0, &info));
	replica_manager_free(rm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epochs_fence),
		cmocka_unit_test(test_many_partitions_sorted_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
