/* Topic znode JSON and Kafka's replica placement, without ZooKeeper. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "samsa/util/arena.h"
#include "samsa/util/uuid.h"
#include "samsa/zk.h"
#include "server/replica_assignment.h"

static void test_assignment_json_roundtrip(void **state)
{
	(void)state;
	int32_t r0[] = { 1, 2, 3 }, r1[] = { 2, 3, 1 };
	int32_t *reps[] = { r0, r1 };
	int nreps[] = { 3, 3 };
	struct topic_assignment t = { .name = "foo", .n_partitions = 2, .replicas = reps, .n_replicas = nreps };
	assert_int_equal(uuid_from_base64("kQ0pyn4ASp-hPMaxOiDTNA", t.id), 0);
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_assignment_json(&t, &w);
	const char *expect = "{\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]},\"topic_id\":\"kQ0pyn4ASp-hPMaxOiDTNA\","
			     "\"adding_replicas\":{},\"removing_replicas\":{},\"version\":3}";
	assert_int_equal(w.len, strlen(expect));
	assert_memory_equal(w.data, expect, w.len);

	struct topic_assignment back;
	/* Kafka's readers accept any key order; so do we. */
	const char *shuffled = "{\"version\":3,\"partitions\":{\"1\":[2,3,1],\"0\":[1,2,3]},\"topic_id\":\"kQ0pyn4ASp-hPMaxOiDTNA\"}";
	assert_int_equal(topic_zk_parse_assignment(shuffled, (int)strlen(shuffled), &back), 0);
	assert_int_equal(back.n_partitions, 2);
	assert_int_equal(back.replicas[1][0], 2);
	assert_memory_equal(back.id, t.id, 16);
	topic_assignment_free(&back);

	const char *bad[] = { "{\"partitions\":{\"0\":[1],\"2\":[2]}}", "{\"partitions\":{\"x\":[1]}}",
			      "{\"partitions\":{\"0\":[-1]}}", "{\"partitions\":[]}", "{}" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(topic_zk_parse_assignment(bad[i], (int)strlen(bad[i]), &back), -1);
	wbuf_free(&w);
}

static void test_state_json(void **state)
{
	(void)state;
	int32_t isr[] = { 1, 2, 3 };
	struct partition_state s = { .leader = 1, .leader_epoch = 7, .controller_epoch = 5, .isr = isr, .n_isr = 3 };
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_state_json(&s, &w);
	const char *expect = "{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"leader_epoch\":7,\"isr\":[1,2,3]}";
	assert_int_equal(w.len, strlen(expect));
	assert_memory_equal(w.data, expect, w.len);
	struct partition_state back;
	assert_int_equal(topic_zk_parse_state((const char *)w.data, (int)w.len, &back), 0);
	assert_int_equal(back.leader, 1);
	assert_int_equal(back.leader_epoch, 7);
	assert_int_equal(back.n_isr, 3);
	partition_state_clear(&back);
	wbuf_free(&w);
}

/* The ISR change notification a leader writes for the controller [IsrChangeNotificationZNode]. */
static void test_isr_change_json(void **state)
{
	(void)state;
	struct topic_partition_ref refs[] = { { "orders", 3 }, { "a\"b", 0 } };
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_partition_list_json(refs, 1, &w);
	const char *one = "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":3}]}";
	assert_int_equal(w.len, strlen(one));
	assert_memory_equal(w.data, one, w.len);
	wbuf_reset(&w);
	topic_zk_partition_list_json(refs, 2, &w);
	const char *two = "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":3},"
			  "{\"topic\":\"a\\\"b\",\"partition\":0}]}";
	assert_int_equal(w.len, strlen(two));
	assert_memory_equal(w.data, two, w.len);
	wbuf_free(&w);
}

/* /config/topics/<t> overrides: strings kept, other JSON values NULL, other shapes refused. */
static void test_config_json(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	struct topic_config_entry *e;
	int n;
	const char *json = "{\"version\":1,\"config\":{\"retention.ms\":\"1000\",\"segment.bytes\":5,"
			   "\"cleanup.policy\":\"compact\"}}";
	assert_int_equal(topic_zk_parse_config(json, (int)strlen(json), &a, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].key, "retention.ms");
	assert_string_equal(e[0].value, "1000");
	assert_string_equal(e[1].key, "segment.bytes");
	assert_null(e[1].value);
	assert_string_equal(e[2].value, "compact");
	const char *empty = "{\"version\":1,\"config\":{}}";
	assert_int_equal(topic_zk_parse_config(empty, (int)strlen(empty), &a, &e, &n), 0);
	assert_int_equal(n, 0);
	const char *bad = "{\"version\":1,\"config\":[]}";
	assert_int_equal(topic_zk_parse_config(bad, (int)strlen(bad), &a, &e, &n), -1);
	assert_int_equal(topic_zk_parse_config("nope", 4, &a, &e, &n), -1);
	assert_int_equal(n, 0);
	arena_free(&a);
}

/* Kafka's documented example: 5 brokers, 10 partitions, 3 replicas, start index 0, shift 0. */
static void test_rack_unaware_matches_kafka(void **state)
{
	(void)state;
	int32_t brokers[] = { 0, 1, 2, 3, 4 };
	int32_t mem[10][3];
	int32_t *out[10];
	for (int i = 0; i < 10; i++)
		out[i] = mem[i];
	assert_int_equal(replica_assignment_rack_unaware(brokers, 5, 10, 3, 0, 0, 0, out), 0);
	const int32_t expect[10][3] = {
		{ 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 4 }, { 3, 4, 0 }, { 4, 0, 1 },
		{ 0, 2, 3 }, { 1, 3, 4 }, { 2, 4, 0 }, { 3, 0, 1 }, { 4, 1, 2 },
	};
	for (int p = 0; p < 10; p++)
		assert_memory_equal(mem[p], expect[p], sizeof expect[p]);
	assert_int_equal(replica_assignment_rack_unaware(brokers, 5, 1, 6, 0, 0, 0, out), -1);
}

/* KIP-455: a partition being reassigned lists its adding and removing replicas; so does Kafka's znode. */
static void test_reassigning_json(void **state)
{
	(void)state;
	const char *kafka = "{\"partitions\":{\"0\":[2,3,4,1],\"1\":[1,2]},\"topic_id\":\"kQ0pyn4ASp-hPMaxOiDTNA\","
			    "\"adding_replicas\":{\"0\":[4]},\"removing_replicas\":{\"0\":[1]},\"version\":3}";
	struct topic_assignment t;
	assert_int_equal(topic_zk_parse_assignment(kafka, (int)strlen(kafka), &t), 0);
	assert_int_equal(t.n_reassigning, 1);
	assert_int_equal(t.reassigning[0].partition, 0);
	assert_int_equal(t.reassigning[0].n_adding, 1);
	assert_int_equal(t.reassigning[0].adding[0], 4);
	assert_int_equal(t.reassigning[0].n_removing, 1);
	assert_int_equal(t.reassigning[0].removing[0], 1);
	struct wbuf w;
	wbuf_init(&w);
	topic_zk_assignment_json(&t, &w);
	assert_int_equal(w.len, strlen(kafka));
	assert_memory_equal(w.data, kafka, w.len);
	topic_assignment_free(&t);
	const char *bad = "{\"partitions\":{\"0\":[1]},\"adding_replicas\":{\"3\":[4]}}";
	assert_int_equal(topic_zk_parse_assignment(bad, (int)strlen(bad), &t), -1);

	wbuf_reset(&w);
	const char *req = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[2,3,4]}]}";
	struct reassign_request *r;
	int n;
	assert_int_equal(topic_zk_parse_reassign(req, (int)strlen(req), &r, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].topic, "t");
	assert_int_equal(r[0].n_replicas, 3);
	topic_zk_reassign_json(r, n, &w);
	assert_int_equal(w.len, strlen(req));
	assert_memory_equal(w.data, req, w.len);
	reassign_requests_free(r, n);
	wbuf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assignment_json_roundtrip),
		cmocka_unit_test(test_state_json),
		cmocka_unit_test(test_isr_change_json),
		cmocka_unit_test(test_config_json),
		cmocka_unit_test(test_reassigning_json),
		cmocka_unit_test(test_rack_unaware_matches_kafka),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
