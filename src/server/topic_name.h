/* Kafka's rules for topic names (Topic.validate): length, characters, "." and "..". */
#ifndef SAMSA_SERVER_TOPIC_NAME_H
#define SAMSA_SERVER_TOPIC_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define TOPIC_NAME_MAX_LEN 249

bool topic_name_valid(const char *name, size_t len);
/* Why a name is invalid, in Kafka's words-of-art; NULL when valid. */
const char *topic_name_problem(const char *name, size_t len);
/* '.' and '_' collide in metric names, so Kafka refuses topics that differ only there. */
bool topic_names_collide(const char *a, size_t alen, const char *b, size_t blen);

/* The topics Kafka's brokers own (Topic.isInternal): __consumer_offsets and __transaction_state. */
#define TRANSACTION_STATE_TOPIC "__transaction_state"
bool topic_is_internal(const char *name, size_t len);

#endif
