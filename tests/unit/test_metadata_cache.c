/* Metadata cache snapshots: lookups, copying topics forward, and that a reader's snapshot outlives a swap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "samsa/metadata.h"
#include "server/topic_name.h"

static void test_snapshot_lookups_and_swap(void **state)
{
	(void)state;
	struct metadata_cache *mc = metadata_cache_new();
	struct metadata_snapshot *s = metadata_snapshot_new();
	s->controller_id = 2;
	mc_broker_add_endpoint(metadata_snapshot_add_broker(s, 3, NULL), "PLAINTEXT", "h3", 9093, 0);
	mc_broker_add_endpoint(metadata_snapshot_add_broker(s, 1, "r1"), "PLAINTEXT", "h1", 9091, 0);
	struct mc_topic *t = metadata_snapshot_topic(s, "orders", 6, true);
	mc_topic_partition(t, 2, true)->leader = 3;
	mc_topic_partition(t, 0, true)->leader = 1;
	metadata_snapshot_topic(s, "audit", 5, true);
	metadata_cache_install(mc, s);

	struct metadata_snapshot *r = metadata_cache_acquire(mc);
	assert_int_equal(r->n_brokers, 2);
	assert_int_equal(r->brokers[0].id, 1); /* sorted */
	assert_string_equal(metadata_snapshot_broker(r, 1)->rack, "r1");
	assert_null(metadata_snapshot_broker(r, 2));
	assert_string_equal(r->topics[0].name, "audit");
	const struct mc_topic *found = metadata_snapshot_find_topic(r, "orders", 6);
	assert_non_null(found);
	assert_int_equal(found->partitions[0].index, 0);
	assert_int_equal(found->partitions[1].leader, 3);
	assert_null(mc_broker_endpoint(&r->brokers[0], "SSL"));

	/* A new snapshot carries topics forward; the old one stays readable until released. */
	struct metadata_snapshot *n = metadata_snapshot_new();
	metadata_snapshot_copy_topics(n, r);
	metadata_snapshot_remove_topic(n, "audit", 5);
	metadata_cache_install(mc, n);
	assert_int_equal(r->n_topics, 2);
	metadata_snapshot_release(r);
	r = metadata_cache_acquire(mc);
	assert_int_equal(r->n_topics, 1);
	assert_int_equal(r->n_brokers, 0);
	assert_int_equal(metadata_snapshot_find_topic(r, "orders", 6)->partitions[1].leader, 3);
	metadata_snapshot_release(r);
	metadata_cache_free(mc);
}

static void test_topic_names(void **state)
{
	(void)state;
	assert_true(topic_name_valid("my-topic_1.x", 12));
	assert_false(topic_name_valid("", 0));
	assert_false(topic_name_valid(".", 1));
	assert_false(topic_name_valid("..", 2));
	assert_false(topic_name_valid("a b", 3));
	char long_name[250];
	memset(long_name, 'a', sizeof long_name);
	assert_true(topic_name_valid(long_name, 249));
	assert_false(topic_name_valid(long_name, 250));
	assert_true(topic_names_collide("a.b", 3, "a_b", 3));
	assert_false(topic_names_collide("a.b", 3, "a-b", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_lookups_and_swap),
		cmocka_unit_test(test_topic_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
