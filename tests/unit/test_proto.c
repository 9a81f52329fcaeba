/*
 * Codec tests: every message of every API, at every version, survives
 * fill -> encode -> decode -> encode byte for byte; every truncation of an
 * encoded message fails cleanly; and request headers pick the right version.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "samsa/proto.h"

static void test_every_message_roundtrips(void **state)
{
	(void)state;
	size_t checked = 0;
	for (size_t i = 0; i < proto_msgs_count; i++) {
		const struct proto_msg_ops *ops = &proto_msgs[i];
		for (int v = ops->min_version; v <= ops->max_version; v++) {
			struct arena a;
			arena_init(&a);
			void *m = arena_alloc(&a, ops->size);
			ops->fill(m, &a, (int16_t)v, (unsigned)(i * 31 + (size_t)v));
			struct wbuf w1, w2;
			wbuf_init(&w1);
			wbuf_init(&w2);
			ops->encode(&w1, (int16_t)v, m);

			/* Decode from an exact-size heap copy so ASan sees any over-read. */
			uint8_t *copy = malloc(w1.len ? w1.len : 1);
			if (w1.len)
				memcpy(copy, w1.data, w1.len);
			struct rd r;
			rd_init(&r, copy, w1.len);
			void *d = arena_alloc(&a, ops->size);
			int rc = ops->decode(&r, &a, (int16_t)v, d);
			if (rc != 0 || r.err || rd_remaining(&r) != 0)
				fail_msg("%s v%d: decode failed (rc %d, err %d, %zu bytes left)", ops->name, v, rc, r.err,
					 rd_remaining(&r));
			ops->encode(&w2, (int16_t)v, d);
			if (w1.len != w2.len || (w1.len && memcmp(w1.data, w2.data, w1.len) != 0))
				fail_msg("%s v%d: re-encoding differs (%zu vs %zu bytes)", ops->name, v, w1.len, w2.len);

			/* Every strict prefix must be rejected, never read past. */
			for (size_t cut = 0; cut < w1.len; cut++) {
				uint8_t *p = malloc(cut ? cut : 1);
				if (cut)
					memcpy(p, w1.data, cut);
				struct arena ta;
				arena_init(&ta);
				struct rd tr;
				rd_init(&tr, p, cut);
				void *t = arena_alloc(&ta, ops->size);
				int trc = ops->decode(&tr, &ta, (int16_t)v, t);
				if (trc == 0 && !tr.err)
					fail_msg("%s v%d: a %zu-byte prefix of %zu decoded", ops->name, v, cut, w1.len);
				arena_free(&ta);
				free(p);
			}
			free(copy);
			wbuf_free(&w1);
			wbuf_free(&w2);
			arena_free(&a);
			checked++;
		}
	}
	/* The 62 APIs of a ZK-mode 3.9 broker, request and response at every version
	 * (572, from APIS.md's ApiVersions list), plus 25 versions of data schemas. */
	assert_int_equal(checked, 572 + 25);
}

static void test_filled_values_survive(void **state)
{
	(void)state;
	/* Spot-check that values, not just bytes, come back: Metadata v12 request. */
	struct arena a;
	arena_init(&a);
	struct metadata_request m;
	metadata_request_fill(&m, &a, 12, 7);
	struct wbuf w;
	wbuf_init(&w);
	metadata_request_encode(&w, 12, &m);
	struct rd r;
	rd_init(&r, w.data, w.len);
	struct metadata_request d;
	assert_int_equal(metadata_request_decode(&r, &a, 12, &d), 0);
	assert_int_equal(d.topics_count, 2);
	assert_int_equal(d.topics[1].name.len, m.topics[1].name.len);
	assert_memory_equal(d.topics[1].name.ptr, m.topics[1].name.ptr, (size_t)m.topics[1].name.len);
	assert_memory_equal(d.topics[0].topic_id, m.topics[0].topic_id, 16);
	assert_int_equal(d.allow_auto_topic_creation, m.allow_auto_topic_creation);
	assert_int_equal(d.include_topic_authorized_operations, m.include_topic_authorized_operations);
	wbuf_free(&w);
	arena_free(&a);
}

static void test_defaults_for_absent_fields(void **state)
{
	(void)state;
	/* A Metadata v0 request has only topics; later fields keep their defaults. */
	const uint8_t v0[] = { 0, 0, 0, 1, 0, 3, 'f', 'o', 'o' };
	struct arena a;
	arena_init(&a);
	struct rd r;
	rd_init(&r, v0, sizeof v0);
	struct metadata_request d;
	assert_int_equal(metadata_request_decode(&r, &a, 0, &d), 0);
	assert_int_equal(d.topics_count, 1);
	assert_true(kstr_eq(d.topics[0].name, "foo"));
	assert_true(d.allow_auto_topic_creation); /* default true */
	arena_free(&a);
}

static void test_tagged_fields(void **state)
{
	(void)state;
	/* ApiVersions v3 response: FinalizedFeaturesEpoch is tagged (tag 1), written only when not -1. */
	struct api_versions_response m;
	api_versions_response_init(&m);
	assert_int_equal(m.finalized_features_epoch, -1);
	struct wbuf w;
	wbuf_init(&w);
	api_versions_response_encode(&w, 3, &m);
	/* error code, empty compact array, throttle time, no tags */
	const uint8_t expect[] = { 0, 0, 1, 0, 0, 0, 0, 0 };
	assert_int_equal(w.len, sizeof expect);
	assert_memory_equal(w.data, expect, sizeof expect);
	wbuf_reset(&w);
	m.finalized_features_epoch = 5;
	api_versions_response_encode(&w, 3, &m);
	const uint8_t expect2[] = { 0, 0, 1, 0, 0, 0, 0, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5 };
	assert_int_equal(w.len, sizeof expect2);
	assert_memory_equal(w.data, expect2, sizeof expect2);
	/* Unknown tags are skipped on decode. */
	const uint8_t unknown[] = { 0, 0, 1, 0, 0, 0, 0, 1, 9, 2, 0xaa, 0xbb };
	struct arena a;
	arena_init(&a);
	struct rd r;
	rd_init(&r, unknown, sizeof unknown);
	struct api_versions_response d;
	assert_int_equal(api_versions_response_decode(&r, &a, 3, &d), 0);
	assert_int_equal(d.finalized_features_epoch, -1);
	wbuf_free(&w);
	arena_free(&a);
}

static void test_header_versions(void **state)
{
	(void)state;
	assert_int_equal(request_header_version(18, 3), 2);  /* ApiVersions v3: flexible */
	assert_int_equal(request_header_version(18, 2), 1);
	assert_int_equal(response_header_version(18, 3), 0); /* always v0 */
	assert_int_equal(request_header_version(3, 9), 2);   /* Metadata v9+ flexible */
	assert_int_equal(response_header_version(3, 9), 1);
	assert_int_equal(response_header_version(3, 8), 0);
	assert_int_equal(request_header_version(7, 0), 0);   /* ControlledShutdown v0: no client id */
	assert_int_equal(request_header_version(999, 0), 1); /* unknown: read as v1 */
}

static void test_api_table(void **state)
{
	(void)state;
	size_t n, zk = 0;
	const struct proto_api *apis = proto_api_list(&n);
	for (size_t i = 0; i < n; i++)
		if (apis[i].listeners & PROTO_LISTENER_ZK_BROKER)
			zk++;
	assert_int_equal(zk, 62); /* the ZK-mode 3.9 broker's ApiVersions list */
	const struct proto_api *p = proto_api_get(API_PRODUCE);
	assert_non_null(p);
	assert_string_equal(p->name, "Produce");
	assert_int_equal(p->max_version, 11);
	assert_int_equal(p->flexible_from, 9);
	assert_null(proto_api_get(52)); /* Vote is KRaft-only: no schema here */
	assert_int_equal(proto_api_get(API_SASL_HANDSHAKE)->flexible_from, -1); /* never flexible */
}

/* The generated constants carry Kafka's numbers and names. */
static void test_constants(void **state)
{
	(void)state;
	assert_int_equal(API_PRODUCE, 0);
	assert_int_equal(API_LEADER_AND_ISR, 4);
	assert_int_equal(API_API_VERSIONS, 18);
	assert_int_equal(API_OFFSET_DELETE, 47);
	assert_int_equal(API_CONSUMER_GROUP_DESCRIBE, 69);
	assert_string_equal(api_key_name(API_API_VERSIONS), "ApiVersions");
	assert_null(api_key_name(52));
	size_t n;
	const struct proto_api *apis = proto_api_list(&n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(api_key_name(apis[i].key), apis[i].name);

	assert_int_equal(KERR_NONE, 0);
	assert_int_equal(KERR_UNKNOWN_SERVER_ERROR, -1);
	assert_int_equal(KERR_UNKNOWN_TOPIC_OR_PARTITION, 3);
	assert_int_equal(KERR_NOT_COORDINATOR, 16);
	assert_int_equal(KERR_KAFKA_STORAGE_ERROR, 56);
	assert_int_equal(KERR_UNKNOWN_TOPIC_ID, 100);
	assert_int_equal(KERR_VOTER_NOT_FOUND, 127);
	assert_string_equal(kafka_error_name(KERR_NOT_LEADER_OR_FOLLOWER), "NOT_LEADER_OR_FOLLOWER");
	assert_string_equal(kafka_error_name(99), "UNKNOWN_ERROR_CODE"); /* never assigned by Kafka */
	assert_string_equal(kafka_error_name(128), "UNKNOWN_ERROR_CODE");
	int named = 0;
	for (int c = -1; c <= 127; c++)
		named += strcmp(kafka_error_name((int16_t)c), "UNKNOWN_ERROR_CODE") != 0;
	assert_int_equal(named, 128);
	assert_true(kafka_error_retriable(KERR_NOT_LEADER_OR_FOLLOWER));
	assert_true(kafka_error_retriable(KERR_COORDINATOR_LOAD_IN_PROGRESS));
	assert_false(kafka_error_retriable(KERR_NONE));
	assert_false(kafka_error_retriable(KERR_UNKNOWN_SERVER_ERROR));
	assert_false(kafka_error_retriable(KERR_REBALANCE_IN_PROGRESS));
	assert_false(kafka_error_retriable(99));
	assert_string_equal(kafka_error_message(KERR_NON_EMPTY_GROUP), "The group is not empty.");
	assert_string_equal(kafka_error_message(KERR_NONE), "");
	assert_string_equal(kafka_error_message(99), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_roundtrips),
		cmocka_unit_test(test_filled_values_survive),
		cmocka_unit_test(test_defaults_for_absent_fields),
		cmocka_unit_test(test_tagged_fields),
		cmocka_unit_test(test_header_versions),
		cmocka_unit_test(test_api_table),
		cmocka_unit_test(test_constants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
