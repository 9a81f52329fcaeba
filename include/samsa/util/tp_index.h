/*
 * Sorted arrays keyed by (topic, partition) [the lookup behind Kafka's
 * Pool[TopicPartition, _] maps]: the log manager's logs, the replica manager's
 * partitions and the metadata cache's topics and partitions are each one array
 * kept in key order and binary-searched; this is the order and the search.
 *
 * An array holds elements of any size (structs, or pointers to them); the
 * caller says how to read the key of the element at a slot.  For an array of
 * pointers, `slot` points at the pointer:
 *
 *     static struct tp_key part_key(const void *slot)
 *     {
 *             const struct partition *p = *(struct partition *const *)slot;
 *             return tp_key(p->topic, p->topic_len, p->index);
 *     }
 *     bool found;
 *     int at = tp_index_search(rm->parts, rm->n, sizeof *rm->parts, part_key,
 *                              tp_key(topic, topic_len, index), &found);
 *
 * and to add an entry, grow the array by one, then
 * `*(struct partition **)tp_index_insert_at(rm->parts, rm->n++, sizeof *rm->parts, at) = p;`.
 * An index by topic alone uses partition 0 throughout; one by partition alone
 * (the partitions of one topic) uses an empty topic.
 */
#ifndef SAMSA_UTIL_TP_INDEX_H
#define SAMSA_UTIL_TP_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_key {
	const char *topic;   /* topic_len bytes, not NUL-terminated; may be NULL when topic_len is 0 */
	size_t topic_len;
	int32_t partition;
};

static inline struct tp_key tp_key(const char *topic, size_t topic_len, int32_t partition)
{
	return (struct tp_key){ topic, topic_len, partition };
}

/* The order: topic bytes as unsigned (a prefix before the longer name), then partition. */
int tp_key_cmp(struct tp_key a, struct tp_key b);

/* The key of the array element that `slot` points at. */
typedef struct tp_key (*tp_key_of_fn)(const void *slot);

/*
 * Binary search of base[0..n), elements of `size` bytes in tp_key_cmp order:
 * the position of `key` with *found set, or where it would be inserted with
 * *found clear.
 */
int tp_index_search(const void *base, int n, size_t size, tp_key_of_fn key_of, struct tp_key key, bool *found);

/*
 * Moves base[at..n) up one place (base must have room for n + 1 elements)
 * and returns the freed slot at `at`; the caller fills it and counts n + 1.
 */
void *tp_index_insert_at(void *base, int n, size_t size, int at);

/* Moves base[at + 1..n) down over element `at`; the caller counts n - 1. */
void tp_index_remove_at(void *base, int n, size_t size, int at);

#endif
