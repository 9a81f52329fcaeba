/* Kafka's UUIDs: 16 random bytes, shown in URL-safe base64 without padding (22 characters). */
#ifndef SAMSA_UTIL_UUID_H
#define SAMSA_UTIL_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define UUID_STR_LEN 22

/* A random id as Kafka's Uuid.randomUuid makes them: never the zero or the metadata-topic id,
 * and never one whose text starts with '-' (it would read as a command-line flag). */
void uuid_random(uint8_t out[16]);
void uuid_to_base64(const uint8_t id[16], char out[UUID_STR_LEN + 1]);
/* 0, or -1 when `s` is not 22 base64url characters. */
int uuid_from_base64(const char *s, uint8_t out[16]);
bool uuid_is_zero(const uint8_t id[16]);

#endif
