/*
 * Golden bytes: request frames captured from kcat, confluent-kafka and
 * kafka-python (tests/golden/requests) decode to exactly what those clients sent.
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

struct frame {
	uint8_t *data;
	size_t len;
};

static struct frame load(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/tests/golden/requests/%s", SRCDIR, name);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	struct frame fr = { malloc(65536), 0 };
	int hi, lo;
	while ((hi = fgetc(f)) != EOF && hi != '\n' && (lo = fgetc(f)) != EOF) {
		char hex[3] = { (char)hi, (char)lo, 0 };
		fr.data[fr.len++] = (uint8_t)strtoul(hex, NULL, 16);
	}
	fclose(f);
	/* Shrink to an exact-size block so ASan catches any read past the frame. */
	uint8_t *exact = malloc(fr.len);
	memcpy(exact, fr.data, fr.len);
	free(fr.data);
	fr.data = exact;
	return fr;
}

/* Decodes header and body; checks the body is consumed exactly and re-encodes identically. */
static void *decode(struct frame fr, struct arena *a, struct request_header *h)
{
	struct rd r;
	rd_init(&r, fr.data, fr.len);
	assert_int_equal(request_header_decode(&r, h), 0);
	size_t body_at = (size_t)(r.p - fr.data);
	void *body = NULL;
	assert_int_equal(proto_request_decode(h->api_key, h->api_version, &r, a, &body), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(rd_remaining(&r), 0);
	struct wbuf w;
	wbuf_init(&w);
	proto_request_encode(h->api_key, h->api_version, &w, body);
	assert_int_equal(w.len, fr.len - body_at);
	assert_memory_equal(w.data, fr.data + body_at, w.len);
	wbuf_free(&w);
	return body;
}

static void test_kcat_api_versions(void **state)
{
	(void)state;
	struct frame fr = load("kcat-00.hex");
	struct arena a;
	arena_init(&a);
	struct request_header h;
	struct api_versions_request *req = decode(fr, &a, &h);
	assert_int_equal(h.api_key, 18);
	assert_int_equal(h.api_version, 3);
	assert_int_equal(h.correlation_id, 1);
	assert_int_equal(h.header_version, 2);
	assert_true(kstr_eq(h.client_id, "rdkafka"));
	assert_true(kstr_eq(req->client_software_name, "librdkafka"));
	assert_true(kstr_eq(req->client_software_version, "2.0.2"));
	arena_free(&a);
	free(fr.data);
}

static void test_kcat_metadata(void **state)
{
	(void)state;
	struct frame fr = load("kcat-01.hex");
	struct arena a;
	arena_init(&a);
	struct request_header h;
	struct metadata_request *req = decode(fr, &a, &h);
	assert_int_equal(h.api_key, 3);
	assert_int_equal(h.api_version, 4);
	assert_int_equal(h.correlation_id, 2);
	assert_true(kstr_eq(h.client_id, "rdkafka"));
	assert_int_equal(req->topics_count, 1);
	assert_true(kstr_eq(req->topics[0].name, "golden-topic"));
	assert_true(req->allow_auto_topic_creation);
	arena_free(&a);
	free(fr.data);
}

static void test_confluent_requests(void **state)
{
	(void)state;
	struct frame fr = load("confluent-00.hex");
	struct arena a;
	arena_init(&a);
	struct request_header h;
	struct api_versions_request *av = decode(fr, &a, &h);
	assert_int_equal(h.api_key, 18);
	assert_true(kstr_eq(h.client_id, "golden-ck"));
	assert_true(kstr_eq(av->client_software_name, "confluent-kafka-python"));
	free(fr.data);

	fr = load("confluent-01.hex");
	struct metadata_request *md = decode(fr, &a, &h);
	assert_int_equal(h.api_key, 3);
	assert_int_equal(md->topics_count, 1);
	assert_true(kstr_eq(md->topics[0].name, "golden-topic"));
	arena_free(&a);
	free(fr.data);
}

static void test_kafka_python_requests(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	struct request_header h;

	struct frame fr = load("kafka-python-00.hex");
	decode(fr, &a, &h);
	assert_int_equal(h.api_key, 18);
	assert_int_equal(h.api_version, 0);
	assert_true(kstr_eq(h.client_id, "golden-kp"));
	free(fr.data);

	/* describe_cluster: Metadata v5 with null topics (all) and auto-create off. */
	fr = load("kafka-python-05.hex");
	struct metadata_request *md = decode(fr, &a, &h);
	assert_int_equal(h.api_key, 3);
	assert_int_equal(h.api_version, 5);
	assert_int_equal(h.correlation_id, 6);
	assert_int_equal(md->topics_count, -1);
	assert_false(md->allow_auto_topic_creation);
	arena_free(&a);
	free(fr.data);
}

static void test_all_captured_frames_decode(void **state)
{
	(void)state;
	const char *names[] = { "kcat-02.hex", "confluent-02.hex", "kafka-python-01.hex", "kafka-python-02.hex",
				"kafka-python-03.hex", "kafka-python-04.hex" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct frame fr = load(names[i]);
		struct arena a;
		arena_init(&a);
		struct request_header h;
		decode(fr, &a, &h);
		arena_free(&a);
		free(fr.data);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kcat_api_versions),
		cmocka_unit_test(test_kcat_metadata),
		cmocka_unit_test(test_confluent_requests),
		cmocka_unit_test(test_kafka_python_requests),
		cmocka_unit_test(test_all_captured_frames_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
