/*
 * Kafka's znode payloads without a ZooKeeper: the broker registration JSON,
 * reading registrations of every version, /controller, the JSON reader's
 * bounds, and Kafka-style UUIDs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "samsa/util/json.h"
#include "samsa/util/uuid.h"
#include "samsa/zk.h"

static void test_broker_json_exact(void **state)
{
	(void)state;
	struct kafka_endpoint eps[2] = {
		{ "PLAINTEXT", "kafka1", 9092, 0 },
		{ "SSL", "kafka1", 9093, 1 },
	};
	struct kafka_broker_registration reg = { 1, "r1", eps, 2, 1730000000000LL };
	struct wbuf w;
	wbuf_init(&w);
	kafka_zk_broker_json(&reg, &w);
	const char *expect = "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\","
			     "\"SSL\":\"SSL\"},\"endpoints\":[\"PLAINTEXT://kafka1:9092\",\"SSL://kafka1:9093\"],"
			     "\"jmx_port\":-1,\"port\":9092,\"host\":\"kafka1\",\"version\":5,"
			     "\"timestamp\":\"1730000000000\",\"rack\":\"r1\"}";
	assert_int_equal(w.len, strlen(expect));
	assert_memory_equal(w.data, expect, w.len);
	wbuf_free(&w);
}

static void test_broker_json_no_plaintext_ipv6(void **state)
{
	(void)state;
	struct kafka_endpoint eps[1] = { { "INTERNAL", "::1", 9094, 1 } };
	struct kafka_broker_registration reg = { 7, NULL, eps, 1, 5 };
	struct wbuf w;
	wbuf_init(&w);
	kafka_zk_broker_json(&reg, &w);
	const char *expect = "{\"features\":{},\"listener_security_protocol_map\":{\"INTERNAL\":\"SSL\"},"
			     "\"endpoints\":[\"INTERNAL://[::1]:9094\"],\"jmx_port\":-1,\"port\":-1,\"host\":null,"
			     "\"version\":5,\"timestamp\":\"5\"}";
	assert_int_equal(w.len, strlen(expect));
	assert_memory_equal(w.data, expect, w.len);

	/* ...and it reads back. */
	struct kafka_broker_info info;
	memset(&info, 0, sizeof info);
	assert_int_equal(kafka_zk_parse_broker_json((const char *)w.data, (int)w.len, &info), 0);
	assert_int_equal(info.n_endpoints, 1);
	assert_string_equal(info.endpoints[0].listener, "INTERNAL");
	assert_string_equal(info.endpoints[0].host, "::1");
	assert_int_equal(info.endpoints[0].port, 9094);
	assert_int_equal(info.endpoints[0].security_protocol, 1);
	assert_null(info.rack);
	kafka_broker_info_clear(&info);
	wbuf_free(&w);
}

static void test_parse_old_versions(void **state)
{
	(void)state;
	struct kafka_broker_info info;
	memset(&info, 0, sizeof info);
	const char *v1 = "{\"jmx_port\":-1,\"timestamp\":\"1\",\"host\":\"h\",\"version\":1,\"port\":9092}";
	assert_int_equal(kafka_zk_parse_broker_json(v1, (int)strlen(v1), &info), 0);
	assert_int_equal(info.n_endpoints, 1);
	assert_string_equal(info.endpoints[0].listener, "PLAINTEXT");
	assert_int_equal(info.endpoints[0].port, 9092);
	kafka_broker_info_clear(&info);

	/* v2/v3: no protocol map, listener names are protocol names. */
	const char *v3 = "{\"jmx_port\":-1,\"timestamp\":\"1\",\"endpoints\":[\"SASL_SSL://h:9095\"],\"host\":null,"
			 "\"version\":3,\"port\":-1,\"rack\":\"east\"}";
	assert_int_equal(kafka_zk_parse_broker_json(v3, (int)strlen(v3), &info), 0);
	assert_int_equal(info.endpoints[0].security_protocol, 3);
	assert_string_equal(info.rack, "east");
	kafka_broker_info_clear(&info);

	const char *bad[] = {
		"", "{", "{\"version\":0}", "{\"version\":5,\"endpoints\":[\"nope\"]}",
		"{\"version\":5,\"endpoints\":[\"X://h:1\"],\"listener_security_protocol_map\":{}}",
		"{\"version\":5,\"endpoints\":[\"PLAINTEXT://h:99999\"]}", "[1,2]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(kafka_zk_parse_broker_json(bad[i], (int)strlen(bad[i]), &info), -1);
}

static void test_controller_json(void **state)
{
	(void)state;
	int32_t id = -1;
	const char *v2 = "{\"version\":2,\"brokerid\":3,\"timestamp\":\"1730000000000\",\"kraftControllerEpoch\":-1}";
	assert_int_equal(kafka_zk_parse_controller_json(v2, (int)strlen(v2), &id), 0);
	assert_int_equal(id, 3);
	const char *v1 = "{\"version\":1,\"brokerid\":12,\"timestamp\":\"1\"}";
	assert_int_equal(kafka_zk_parse_controller_json(v1, (int)strlen(v1), &id), 0);
	assert_int_equal(id, 12);
	assert_int_equal(kafka_zk_parse_controller_json("{}", 2, &id), -1);
	assert_int_equal(kafka_zk_parse_controller_json(NULL, -1, &id), -1);
}

static void test_json_reader(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const char *doc = " {\"s\":\"a\\\"b\\u00e9\\ud83d\\ude00\",\"n\":-12,\"f\":1.5,\"l\":[true,false,null],\"o\":{}} ";
	struct json *j = json_parse(&a, doc, strlen(doc));
	assert_non_null(j);
	assert_string_equal(json_get_string(j, "s"), "a\"b\xc3\xa9\xf0\x9f\x98\x80");
	int64_t n;
	assert_true(json_get_int(j, "n", &n));
	assert_int_equal(n, -12);
	assert_false(json_get_int(j, "f", &n));
	assert_int_equal(json_get(j, "l")->n, 3);

	const char *bad[] = { "{", "{\"a\":}", "[1,]", "\"\\x\"", "tru", "{\"a\":1} x", "\"\\u12\"", "01a", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_null(json_parse(&a, bad[i], strlen(bad[i])));

	/* Nesting is bounded. */
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_null(json_parse(&a, deep, sizeof deep));
	memset(deep, '[', 30);
	memset(deep + 30, ']', 30);
	assert_non_null(json_parse(&a, deep, 60));

	/* Truncations of a valid document never parse and never over-read. */
	size_t len = strlen(doc);
	for (size_t cut = 1; cut < len - 1; cut++) {
		char *p = malloc(cut);
		memcpy(p, doc, cut);
		assert_null(json_parse(&a, p, cut));
		free(p);
	}
	arena_free(&a);
}

static void test_json_writer_escapes(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w);
	json_write_string(&w, "a\"b\\c\n\x01");
	const char *expect = "\"a\\\"b\\\\c\\n\\u0001\"";
	assert_int_equal(w.len, strlen(expect));
	assert_memory_equal(w.data, expect, w.len);
	wbuf_free(&w);
}

/* A v0 OffsetCommit's group id is one element of /consumers/<group>/offsets/... */
static void test_consumer_group_path_element(void **state)
{
	(void)state;
	assert_true(kafka_zk_consumer_group_valid("g1", 2));
	assert_true(kafka_zk_consumer_group_valid("...", 3));
	assert_false(kafka_zk_consumer_group_valid("", 0));
	assert_false(kafka_zk_consumer_group_valid(".", 1));
	assert_false(kafka_zk_consumer_group_valid("..", 2));
	assert_false(kafka_zk_consumer_group_valid("a/b", 3));
	assert_false(kafka_zk_consumer_group_valid("a\0b", 3));
}

static void test_uuid(void **state)
{
	(void)state;
	uint8_t id[16], back[16];
	char s[UUID_STR_LEN + 1];
	for (int i = 0; i < 1000; i++) {
		uuid_random(id);
		uuid_to_base64(id, s);
		assert_int_equal(strlen(s), 22);
		assert_int_not_equal(s[0], '-');
		assert_int_equal(id[6] >> 4, 4);       /* version 4 */
		assert_int_equal(id[8] & 0xc0, 0x80);  /* IETF variant */
		assert_int_equal(uuid_from_base64(s, back), 0);
		assert_memory_equal(id, back, 16);
	}
	/* A known id: the example cluster id from Kafka's docs round-trips. */
	assert_int_equal(uuid_from_base64("Wz2bqF9gT7-Q2y0cT3JbDw", back), 0);
	uuid_to_base64(back, s);
	assert_string_equal(s, "Wz2bqF9gT7-Q2y0cT3JbDw");
	assert_int_equal(uuid_from_base64("too-short", back), -1);
	assert_int_equal(uuid_from_base64("Wz2bqF9gT7+Q2y0cT3JbDw", back), -1); /* '+' is not base64url */
}

static void test_producer_id_block_json(void **state)
{
	(void)state;
	struct kafka_producer_id_block blk = { .broker = 2, .first = 3000, .last = 3999 }, back;
	struct wbuf w;
	wbuf_init(&w);
	kafka_zk_producer_id_block_json(&blk, &w);
	const char *want = "{\"version\":1,\"broker\":2,\"block_start\":\"3000\",\"block_end\":\"3999\"}";
	assert_int_equal(w.len, strlen(want));
	assert_memory_equal(w.data, want, w.len);
	assert_int_equal(kafka_zk_parse_producer_id_block((const char *)w.data, (int)w.len, &back), 0);
	assert_int_equal(back.broker, 2);
	assert_true(back.first == 3000 && back.last == 3999);
	wbuf_free(&w);
	/* Numbers instead of strings, a block that ends before it starts, garbage: refused. */
	const char *bad[] = { "{\"version\":1,\"broker\":2,\"block_start\":3000,\"block_end\":\"3999\"}",
			      "{\"version\":1,\"broker\":2,\"block_start\":\"5\",\"block_end\":\"4\"}",
			      "{\"version\":1,\"broker\":2,\"block_start\":\"5x\",\"block_end\":\"9\"}",
			      "{\"version\":1", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(kafka_zk_parse_producer_id_block(bad[i], (int)strlen(bad[i]), &back), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_json_exact),
		cmocka_unit_test(test_consumer_group_path_element),
		cmocka_unit_test(test_broker_json_no_plaintext_ipv6),
		cmocka_unit_test(test_parse_old_versions),
		cmocka_unit_test(test_controller_json),
		cmocka_unit_test(test_json_reader),
		cmocka_unit_test(test_json_writer_escapes),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_producer_id_block_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
