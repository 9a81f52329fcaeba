/*
 * A small JSON reader and writer for ZooKeeper payloads.  The reader builds a
 * tree in an arena, bounds-checks everything, limits nesting, and never trusts
 * a length it has not checked; the writer appends to a wbuf.
 */
#ifndef SAMSA_UTIL_JSON_H
#define SAMSA_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/arena.h"
#include "samsa/util/buf.h"

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	bool b;
	double num;
	int64_t i;        /* exact value when the number is an integer */
	bool is_int;
	char *str;        /* NUL-terminated (strings may hold NUL; len is the truth) */
	size_t len;
	struct json **items; /* array elements or object values */
	char **keys;         /* object keys */
	size_t n;
};

/* NULL on malformed input, trailing garbage or nesting deeper than 64. */
struct json *json_parse(struct arena *a, const char *text, size_t len);
const struct json *json_get(const struct json *obj, const char *key);
/* Typed lookups; return false when absent or of another type. */
bool json_get_int(const struct json *obj, const char *key, int64_t *out);
const char *json_get_string(const struct json *obj, const char *key);

/* Writer helpers: a JSON string literal with escapes. */
void json_write_string(struct wbuf *w, const char *s);
void json_write_raw(struct wbuf *w, const char *s);
void json_write_int(struct wbuf *w, int64_t v);

#endif
