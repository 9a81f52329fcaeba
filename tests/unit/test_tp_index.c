/* The (topic, partition) order and the sorted-array helpers of util/tp_index. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "samsa/util/tp_index.h"

struct entry {
	const char *topic;
	int32_t partition;
};

static struct tp_key entry_key(const void *slot)
{
	const struct entry *e = *(struct entry *const *)slot;
	return tp_key(e->topic, strlen(e->topic), e->partition);
}

static void test_order(void **state)
{
	(void)state;
	assert_true(tp_key_cmp(tp_key("a", 1, 5), tp_key("b", 1, 0)) < 0);
	assert_true(tp_key_cmp(tp_key("ab", 2, 0), tp_key("a", 1, 9)) > 0);  /* a prefix first */
	assert_true(tp_key_cmp(tp_key("t", 1, 2), tp_key("t", 1, 10)) < 0);   /* partitions as numbers */
	assert_true(tp_key_cmp(tp_key("t", 1, -1), tp_key("t", 1, 0)) < 0);
	assert_int_equal(tp_key_cmp(tp_key("tx", 1, 3), tp_key("ty", 1, 3)), 0); /* only topic_len bytes */
	assert_int_equal(tp_key_cmp(tp_key(NULL, 0, 7), tp_key(NULL, 0, 7)), 0);
	assert_true(tp_key_cmp(tp_key("\xc3", 1, 0), tp_key("z", 1, 0)) > 0); /* bytes compare unsigned */
}

/* Inserting in scrambled order through search + insert_at keeps the array sorted and findable. */
static void test_insert_search_remove(void **state)
{
	(void)state;
	static struct entry all[] = {
		{ "orders", 2 }, { "orders", 0 }, { "a", 1 }, { "orders", 10 }, { "b", 0 },
		{ "order", 0 },  { "orders", 1 }, { "a", 0 }, { "zz", 3 },      { "orders-x", 0 },
	};
	enum { N = sizeof all / sizeof all[0] };
	struct entry *arr[N];
	int n = 0;
	bool found;
	for (int i = 0; i < N; i++) {
		struct tp_key k = tp_key(all[i].topic, strlen(all[i].topic), all[i].partition);
		int at = tp_index_search(arr, n, sizeof *arr, entry_key, k, &found);
		assert_false(found);
		*(struct entry **)tp_index_insert_at(arr, n++, sizeof *arr, at) = &all[i];
	}
	for (int i = 1; i < n; i++)
		assert_true(tp_key_cmp(entry_key(&arr[i - 1]), entry_key(&arr[i])) < 0);
	for (int i = 0; i < N; i++) {
		int at = tp_index_search(arr, n, sizeof *arr, entry_key,
					 tp_key(all[i].topic, strlen(all[i].topic), all[i].partition), &found);
		assert_true(found);
		assert_ptr_equal(arr[at], &all[i]);
	}
	/* A miss says where the key would go. */
	int at = tp_index_search(arr, n, sizeof *arr, entry_key, tp_key("orders", 6, 5), &found);
	assert_false(found);
	assert_int_equal(arr[at - 1]->partition, 2);
	assert_int_equal(arr[at]->partition, 10);

	at = tp_index_search(arr, n, sizeof *arr, entry_key, tp_key("b", 1, 0), &found);
	assert_true(found);
	tp_index_remove_at(arr, n--, sizeof *arr, at);
	assert_int_equal(n, N - 1);
	tp_index_search(arr, n, sizeof *arr, entry_key, tp_key("b", 1, 0), &found);
	assert_false(found);
	assert_int_equal(tp_index_search(arr, n, sizeof *arr, entry_key, tp_key("zz", 2, 3), &found), n - 1);
	assert_true(found);
	tp_index_remove_at(arr, n, sizeof *arr, n - 1); /* the last one */
	n--;
	assert_int_equal(tp_index_search(arr, n, sizeof *arr, entry_key, tp_key("zz", 2, 3), &found), n);
	assert_false(found);
	assert_int_equal(tp_index_search(NULL, 0, sizeof *arr, entry_key, tp_key("a", 1, 0), &found), 0);
	assert_false(found);
}

/* Struct elements keyed by partition alone, as a topic's partition list. */
static struct tp_key index_key(const void *slot) { return tp_key(NULL, 0, *(const int32_t *)slot); }

static void test_struct_elements(void **state)
{
	(void)state;
	int32_t parts[8] = { 0, 1, 2, 5, 7 };
	int n = 5;
	bool found;
	int at = tp_index_search(parts, n, sizeof *parts, index_key, tp_key(NULL, 0, 3), &found);
	assert_false(found);
	assert_int_equal(at, 3);
	*(int32_t *)tp_index_insert_at(parts, n++, sizeof *parts, at) = 3;
	static const int32_t want[] = { 0, 1, 2, 3, 5, 7 };
	assert_memory_equal(parts, want, sizeof want);
	tp_index_remove_at(parts, n--, sizeof *parts, 0);
	assert_memory_equal(parts, want + 1, sizeof want - sizeof *want);
	assert_int_equal(tp_index_search(parts, n, sizeof *parts, index_key, tp_key(NULL, 0, 7), &found), 4);
	assert_true(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_insert_search_remove),
		cmocka_unit_test(test_struct_elements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
