/* JSON for ZooKeeper payloads (see json.h). */
#include "samsa/util/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

struct parser {
	const char *p, *end;
	struct arena *a;
	int depth;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json *node(struct parser *ps, enum json_type t)
{
	struct json *j = arena_alloc(ps->a, sizeof *j);
	j->type = t;
	return j;
}

static bool lit(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(char *out, size_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | (cp >> 6));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xe0 | (cp >> 12));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | (cp >> 18));
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static bool hex4(struct parser *ps, uint32_t *out)
{
	if (ps->end - ps->p < 4)
		return false;
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(ps->p[i]);
		if (h < 0)
			return false;
		v = (v << 4) | (uint32_t)h;
	}
	ps->p += 4;
	*out = v;
	return true;
}

/* Parses a string literal (opening quote already checked); the result is never longer than the input. */
static char *parse_string(struct parser *ps, size_t *len)
{
	ps->p++; /* opening quote */
	const char *start = ps->p;
	char *out = arena_alloc(ps->a, (size_t)(ps->end - start) + 1);
	size_t o = 0;
	while (ps->p < ps->end) {
		char c = *ps->p++;
		if (c == '"') {
			out[o] = '\0';
			*len = o;
			return out;
		}
		if ((unsigned char)c < 0x20)
			return NULL;
		if (c != '\\') {
			out[o++] = c;
			continue;
		}
		if (ps->p >= ps->end)
			return NULL;
		char e = *ps->p++;
		switch (e) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case '/': out[o++] = '/'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			uint32_t cp;
			if (!hex4(ps, &cp))
				return NULL;
			if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
				const char *save = ps->p;
				ps->p += 2;
				uint32_t lo;
				if (hex4(ps, &lo) && lo >= 0xdc00 && lo < 0xe000)
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				else
					ps->p = save;
			}
			/* \uXXXX is 6 input bytes, at most 4 output bytes: stays within the buffer. */
			put_utf8(out, &o, cp);
			break;
		}
		default:
			return NULL;
		}
	}
	return NULL;
}

static struct json *parse_value(struct parser *ps);

static struct json *parse_number(struct parser *ps)
{
	const char *s = ps->p;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	bool digits = false, frac = false;
	while (ps->p < ps->end) {
		char c = *ps->p;
		if (c >= '0' && c <= '9') {
			digits = true;
		} else if (c == '.' || c == 'e' || c == 'E' || c == '+' || (c == '-' && ps->p != s)) {
			frac = true;
		} else {
			break;
		}
		ps->p++;
	}
	if (!digits || ps->p - s > 64)
		return NULL;
	char buf[65];
	memcpy(buf, s, (size_t)(ps->p - s));
	buf[ps->p - s] = '\0';
	struct json *j = node(ps, JSON_NUMBER);
	char *endp;
	j->num = strtod(buf, &endp);
	if (*endp)
		return NULL;
	if (!frac) {
		errno = 0;
		long long v = strtoll(buf, &endp, 10);
		if (!*endp && errno == 0) {
			j->i = v;
			j->is_int = true;
		}
	}
	return j;
}

static struct json *parse_container(struct parser *ps, bool object)
{
	if (++ps->depth > JSON_MAX_DEPTH)
		return NULL;
	ps->p++;
	struct json *j = node(ps, object ? JSON_OBJECT : JSON_ARRAY);
	size_t cap = 0;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
		ps->p++;
		ps->depth--;
		return j;
	}
	for (;;) {
		char *key = NULL;
		if (object) {
			skip_ws(ps);
			size_t klen;
			if (ps->p >= ps->end || *ps->p != '"' || !(key = parse_string(ps, &klen)))
				return NULL;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return NULL;
			ps->p++;
		}
		struct json *v = parse_value(ps);
		if (!v)
			return NULL;
		if (j->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct json **items = arena_alloc(ps->a, ncap * sizeof *items);
			char **keys = arena_alloc(ps->a, ncap * sizeof *keys);
			if (cap) {
				memcpy(items, j->items, cap * sizeof *items);
				memcpy(keys, j->keys, cap * sizeof *keys);
			}
			j->items = items;
			j->keys = keys;
			cap = ncap;
		}
		j->keys[j->n] = key;
		j->items[j->n++] = v;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return NULL;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == (object ? '}' : ']')) {
			ps->p++;
			ps->depth--;
			return j;
		}
		return NULL;
	}
}

static struct json *parse_value(struct parser *ps)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return NULL;
	char c = *ps->p;
	if (c == '{')
		return parse_container(ps, true);
	if (c == '[')
		return parse_container(ps, false);
	if (c == '"') {
		struct json *j = node(ps, JSON_STRING);
		j->str = parse_string(ps, &j->len);
		return j->str ? j : NULL;
	}
	if (lit(ps, "null"))
		return node(ps, JSON_NULL);
	if (lit(ps, "true")) {
		struct json *j = node(ps, JSON_BOOL);
		j->b = true;
		return j;
	}
	if (lit(ps, "false"))
		return node(ps, JSON_BOOL);
	return parse_number(ps);
}

struct json *json_parse(struct arena *a, const char *text, size_t len)
{
	if (!text)
		return NULL;
	struct parser ps = { text, text + len, a, 0 };
	struct json *j = parse_value(&ps);
	if (!j)
		return NULL;
	skip_ws(&ps);
	return ps.p == ps.end ? j : NULL;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

bool json_get_int(const struct json *obj, const char *key, int64_t *out)
{
	const struct json *v = json_get(obj, key);
	if (!v || v->type != JSON_NUMBER || !v->is_int)
		return false;
	*out = v->i;
	return true;
}

const char *json_get_string(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);
	return v && v->type == JSON_STRING ? v->str : NULL;
}

void json_write_raw(struct wbuf *w, const char *s) { wbuf_put(w, s, strlen(s)); }

void json_write_int(struct wbuf *w, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%" PRId64, v);
	wbuf_put(w, buf, (size_t)n);
}

void json_write_string(struct wbuf *w, const char *s)
{
	wbuf_put(w, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': json_write_raw(w, "\\\""); break;
		case '\\': json_write_raw(w, "\\\\"); break;
		case '\n': json_write_raw(w, "\\n"); break;
		case '\r': json_write_raw(w, "\\r"); break;
		case '\t': json_write_raw(w, "\\t"); break;
		default:
			if (*p < 0x20) {
				char buf[8];
				snprintf(buf, sizeof buf, "\\u%04x", *p);
				json_write_raw(w, buf);
			} else {
				wbuf_put(w, p, 1);
			}
		}
	}
	wbuf_put(w, "\"", 1);
}
