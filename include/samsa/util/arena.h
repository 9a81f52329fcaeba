/*
 * Per-request arena: decoded request structs and response scratch live here
 * and are freed all at once when the response has been queued.
 */
#ifndef SAMSA_UTIL_ARENA_H
#define SAMSA_UTIL_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t total; /* bytes handed out, for limits */
};

void arena_init(struct arena *a);
/* Zeroed, 16-byte aligned memory valid until arena_reset/arena_free. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_reset(struct arena *a); /* keeps the first chunk for reuse */
void arena_free(struct arena *a);

#endif
